// libFuzzer target: the whole TLS 1.2 engine (Botan's TLS stack behind tapsec's
// ChannelEngine) on a byte stream, client and server side, alerts and close included.
// See botan_tls_engine_fuzz.hpp.
#include "botan_tls_engine_fuzz.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    return tapsec::fuzz::run_botan_tls_pair<tapsec::botan_tls::Carrier::stream>(data, size);
}
