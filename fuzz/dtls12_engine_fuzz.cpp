// libFuzzer target: the whole DTLS 1.2 engine beyond a server's first datagram: the
// cookie exchange, the fragmented and retransmitted flights (DTLS handshake framing),
// the epoch change, application data, alerts and close, client and server side, with
// datagrams lost, reordered, duplicated, cut, replayed and corrupted. See
// botan_tls_engine_fuzz.hpp.
#include "botan_tls_engine_fuzz.hpp"

// The PKI is made here, before libFuzzer's per-input timer starts: making it runs openssl
// several times, which on a loaded machine took longer than the -timeout of one input.
extern "C" int LLVMFuzzerInitialize(int*, char***) {
    (void)tapsec::fuzz::credentials();
    (void)tapsec::fuzz::botan_client_credentials();
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    return tapsec::fuzz::run_botan_tls_pair<tapsec::botan_tls::Carrier::datagram>(data, size);
}
