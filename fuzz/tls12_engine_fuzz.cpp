// libFuzzer target: the whole TLS 1.2 engine (Botan's TLS stack behind tapsec's
// ChannelEngine) on a byte stream, client and server side, alerts and close included.
// See botan_tls_engine_fuzz.hpp.
#include "botan_tls_engine_fuzz.hpp"

// The PKI is made here, before libFuzzer's per-input timer starts: making it runs openssl
// several times, which on a loaded machine took longer than the -timeout of one input.
extern "C" int LLVMFuzzerInitialize(int*, char***) {
    (void)tapsec::fuzz::credentials();
    (void)tapsec::fuzz::botan_client_credentials();
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    return tapsec::fuzz::run_botan_tls_pair<tapsec::botan_tls::Carrier::stream>(data, size);
}
