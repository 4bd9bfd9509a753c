// Fuzzes the QUIC packet header parser (long, short, Retry, Version Negotiation) and
// header-protection removal on whatever it accepts, then a server connection fed the
// datagram (and a Retry server with a reset key), the Initial's token opened and the token
// plaintext parser: every input yields a header or an error, never a crash; a parsed
// packet never claims bytes beyond the datagram; an accepted token re-encodes exactly.
#include <cstddef>
#include <cstdint>
#include <algorithm>
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
            const std::uint32_t version = h->type == PacketType::one_rtt ? version_1 : h->version;  // v2: RFC 9369 keys
            auto [client, server] = initial_secrets<crypto::Botan2>(h->dcid.view(), version);
            auto keys = PacketKeys<crypto::Botan2>::derive(*client.suite, client.secret, true, version);
            Bytes packet(rest.begin(), rest.begin() + static_cast<std::ptrdiff_t>(h->packet_size));
            auto u = unprotect_header(*keys->hp, MutableByteView(packet), h->pn_offset, std::nullopt);
            if (u) {
                if (u->header_length > packet.size()) std::abort();
                (void)open_payload(*keys, MutableByteView(packet), u->header_length, u->packet_number);
            }
        }
        if (h->type == PacketType::retry) (void)verify_retry<crypto::Botan2>(h->dcid.view(), rest.first(h->packet_size));
        if (h->type == PacketType::initial && !h->token.empty())
            (void)open_token<crypto::Botan2>(SecretBytes(token_key_length, 0x42), h->token);
        rest = rest.subspan(h->packet_size);
    }
    // The token plaintext parser on the raw input (a sealed token reaches it only once it
    // opens): whatever it accepts re-encodes to the same bytes.
    if (auto t = parse_token_plaintext(datagram)) {
        const Bytes again = encode_token_plaintext(*t);
        if (!std::equal(again.begin(), again.end(), datagram.begin(), datagram.end())) std::abort();
    }
    static tls13::Config config;  // no identity: a server never gets far enough to need one
    Connection<crypto::Botan2> server(Role::server, config);
    (void)server.receive(datagram, Endpoint{}, Instant{});
    Bytes out(max_transmit_size);
    while (server.poll_transmit(MutableByteView(out))) {
    }
    // A Retry server with a reset key: token checks, Retry and Stateless Reset answers.
    Settings settings;
    settings.retry = true;
    settings.token_key = SecretBytes(token_key_length, 0x42);
    settings.reset_key = SecretBytes(32, 0x24);
    Connection<crypto::Botan2> retry_server(Role::server, config, settings);
    (void)retry_server.receive(datagram, *Endpoint::parse("127.0.0.1", 4433), Instant{});
    while (retry_server.poll_transmit(MutableByteView(out))) {
    }
    return 0;
}
