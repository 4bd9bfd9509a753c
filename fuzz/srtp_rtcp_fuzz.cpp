// libFuzzer target: SRTCP packet parsing and unprotection. The first input byte picks
// the profile (and bit 7 the E flag for the round trip); the rest is a datagram. It is
// parsed as RTCP, offered to unprotect_rtcp, and, if it has an RTCP header, protected
// and unprotected by the peer, which must give back exactly the input. Sessions are
// fresh per input, so every crash reproduces from its input alone.
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
    const Profile profile = supported_profiles[(data[0] & 0x7f) % std::size(supported_profiles)];
    SessionOptions options;
    options.encrypt_rtcp = (data[0] & 0x80) != 0;
    const MasterKeys keys = fuzz::srtp_fuzz_keys(profile, 0x05);
    auto sender = Session<>::create(keys, Role::client, options);
    auto receiver = Session<>::create(keys, Role::server);
    if (!sender || !receiver) std::abort();
    const ByteView packet(data + 1, size - 1);
    const auto header = parse_rtcp_header(packet);

    Bytes received(packet.begin(), packet.end());
    auto n = receiver->unprotect_rtcp(MutableByteView(received));
    if (n && *n > received.size()) std::abort();

    if (header) {
        Bytes buffer(packet.begin(), packet.end());
        buffer.resize(packet.size() + max_overhead);
        auto protected_length = sender->protect_rtcp(MutableByteView(buffer), packet.size());
        if (!protected_length) std::abort();
        auto back = receiver->unprotect_rtcp(MutableByteView(buffer.data(), *protected_length));
        if (back) {
            if (*back != packet.size() || !std::equal(packet.begin(), packet.end(), buffer.begin())) std::abort();
        } else if (!(n && back.error() == Error::replayed)) {
            std::abort();
        }
    }
    return 0;
}
