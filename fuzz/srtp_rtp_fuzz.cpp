// libFuzzer target: SRTP packet parsing and unprotection. The first input byte picks
// the profile; the rest is a datagram. It is (1) parsed as an RTP header, (2) offered
// to unprotect_rtp (any outcome but a crash is fine), and (3) if it is valid RTP,
// protected and unprotected by the peer, which must give back exactly the input.
// Sessions are fresh per input, so every crash reproduces from its input alone.
#include <algorithm>
#include <cstdint>
#include <cstdlib>

#include <tapsec/crypto/botan.hpp>
#include <tapsec/srtp/record.hpp>

#include "srtp_fuzz_keys.hpp"

using namespace tapsec;
using namespace tapsec::srtp;


extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 1) return 0;
    const Profile profile = supported_profiles[data[0] % std::size(supported_profiles)];
    const MasterKeys keys = fuzz::srtp_fuzz_keys(profile, 0x01);
    auto sender = Session<>::create(keys, Role::client);
    auto receiver = Session<>::create(keys, Role::server);
    if (!sender || !receiver) std::abort();
    const ByteView packet(data + 1, size - 1);
    (void)classify(packet);
    const auto header = parse_rtp_header(packet);
    if (header && header->length > packet.size()) std::abort();

    Bytes received(packet.begin(), packet.end());
    auto n = receiver->unprotect_rtp(MutableByteView(received));
    if (n && *n > received.size()) std::abort();

    if (header) {
        Bytes buffer(packet.begin(), packet.end());
        buffer.resize(packet.size() + max_overhead);
        auto protected_length = sender->protect_rtp(MutableByteView(buffer), packet.size());
        if (!protected_length) std::abort();  // valid RTP with room for the tag must protect
        auto back = receiver->unprotect_rtp(MutableByteView(buffer.data(), *protected_length));
        if (back) {
            if (*back != packet.size() || !std::equal(packet.begin(), packet.end(), buffer.begin())) std::abort();
        } else if (!(n && back.error() == Error::replayed)) {
            std::abort();  // only a replay of the packet accepted in step 2 may be refused
        }
    }
    return 0;
}
