// Fuzzes the `wg` INI configuration parser, base64 key decoding and IP prefix parsing:
// every input must yield settings or a one-line error, never a crash.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include <tapsec/wireguard/config.hpp>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    auto result = tapsec::wireguard::parse_config(text, "fuzz.conf");
    if (!result.settings && (result.error.empty() || result.error.find('\n') != std::string::npos)) std::abort();
    (void)tapsec::wireguard::decode_key(text);
    (void)tapsec::wireguard::IpPrefix::parse(text);
    if (auto key = tapsec::wireguard::decode_key(text)) {
        if (tapsec::wireguard::encode_key(*key) != text) std::abort();  // canonical round trip
    }
    return 0;
}
