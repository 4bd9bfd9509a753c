// Fuzzes the QUIC packet header parser (long, short, Retry, Version Negotiation) and
// header-protection removal on whatever it accepts, then a server connection fed the
// datagram: every input yields a header or an error, never a crash; a parsed packet
// never claims bytes beyond the datagram.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include <tapsec/crypto/botan.hpp>
#include <tapsec/quic.hpp>

using namespace tapsec;
using namespace tapsec::quic;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const ByteView datagram(data, size);
    ByteView rest = datagram;
    for (int i = 0; i < 8 && !rest.empty(); ++i) {  // coalesced packets, as a receiver walks them
        auto h = parse_header(rest, 8);
        if (!h) break;
        if (h->packet_size > rest.size() || h->pn_offset > h->packet_size) std::abort();
        if (h->type == PacketType::initial || h->type == PacketType::handshake || h->type == PacketType::one_rtt) {
            // Initial keys from the parsed DCID: header protection removal and AEAD open
            // must fail cleanly on junk.
            auto [client, server] = initial_secrets<crypto::Botan2>(h->dcid.view());
            auto keys = PacketKeys<crypto::Botan2>::derive(*client.suite, client.secret);
            Bytes packet(rest.begin(), rest.begin() + static_cast<std::ptrdiff_t>(h->packet_size));
            auto u = unprotect_header(*keys->hp, MutableByteView(packet), h->pn_offset, std::nullopt);
            if (u) {
                if (u->header_length > packet.size()) std::abort();
                (void)open_payload(*keys, MutableByteView(packet), u->header_length, u->packet_number);
            }
        }
        if (h->type == PacketType::retry) (void)verify_retry<crypto::Botan2>(h->dcid.view(), rest.first(h->packet_size));
        rest = rest.subspan(h->packet_size);
    }
    static tls13::Config config;  // no identity: a server never gets far enough to need one
    Connection<crypto::Botan2> server(Role::server, config);
    (void)server.receive(datagram, Endpoint{}, Instant{});
    Bytes out(max_transmit_size);
    while (server.poll_transmit(MutableByteView(out))) {
    }
    return 0;
}
