// libFuzzer target: the whole DTLS 1.2 engine beyond a server's first datagram: the
// cookie exchange, the fragmented and retransmitted flights (DTLS handshake framing),
// the epoch change, application data, alerts and close, client and server side, with
// datagrams lost, reordered, duplicated, cut, replayed and corrupted. See
// botan_tls_engine_fuzz.hpp.
#include "botan_tls_engine_fuzz.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    return tapsec::fuzz::run_botan_tls_pair<tapsec::botan_tls::Carrier::datagram>(data, size);
}
