// libFuzzer target: the TLS 1.3 session-ticket and HelloRetryRequest-cookie formats on
// raw bytes (tls13_handshake_fuzz reaches them only inside handshake messages).
// Invariants: parsing never reads out of bounds; whatever parses re-serializes to
// bytes that parse to the same serialization (the format round-trips); a value sealed
// under the server's key opens again under the same purpose and never under the other
// one (a cookie never opens as a ticket, nor a ticket as a cookie); the raw input,
// which this process never sealed, opens under neither purpose.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include <tapsec/tapsec.hpp>

using namespace tapsec;
using namespace tapsec::tls13;
using Provider = crypto::Botan2;

namespace {

const TicketKey& key() {
    static const auto k = [] {
        const Bytes name(16, 0x11), secret(32, 0x22);
        return TicketKey::from_bytes(name, secret);
    }();
    return *k;
}

const CommonConfig& nonce_source() {
    static const CommonConfig c = [] {
        CommonConfig config;
        config.random = [](MutableByteView out) { std::fill(out.begin(), out.end(), std::uint8_t{0x33}); };
        return config;
    }();
    return c;
}

template <class Format>
void round_trip(ByteView input, std::string_view purpose, std::string_view other_purpose) {
    auto parsed = Format::parse(input);
    if (!parsed) return;
    const Bytes once = parsed->serialize();
    auto again = Format::parse(once);
    if (!again || again->serialize() != once) std::abort();
    const Bytes sealed = key().seal_bytes<Provider>(once, purpose, nonce_source());
    auto opened = key().open_bytes<Provider>(sealed, purpose);
    if (!opened.plaintext || Bytes(opened.plaintext->begin(), opened.plaintext->end()) != once) std::abort();
    if (key().open_bytes<Provider>(sealed, other_purpose).plaintext) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const ByteView input(data, size);
    round_trip<SessionState>(input, "", HelloRetryCookie::purpose);
    round_trip<HelloRetryCookie>(input, HelloRetryCookie::purpose, "");
    if (key().open<Provider>(input)) std::abort();
    if (key().open_bytes<Provider>(input, HelloRetryCookie::purpose).plaintext) std::abort();
    return 0;
}
