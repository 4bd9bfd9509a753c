// Test support for the QUIC packet-protection vectors (RFC 9001 and RFC 9369 Appendix A):
// hex input, and a seal that is checked byte for byte and then opened again as a
// receiver would (header parse, header protection removal, AEAD open).
#pragma once

#include <doctest/doctest.h>

#include <tapsec/quic/packet_protection.hpp>

namespace tapsec::test {

// The same in RFC 9001 and RFC 9369 Appendix A: the client's CRYPTO frame (A.2, before
// PADDING to 1162 bytes) and the server Initial's payload (A.3).
inline constexpr const char* a2_crypto_frame =
    "060040f1010000ed0303ebf8fa56f12939b9584a3896472ec40bb863cfd3e868"
    "04fe3a47f06a2b69484c00000413011302010000c000000010000e00000b6578"
    "616d706c652e636f6dff01000100000a00080006001d00170018001000070005"
    "04616c706e000500050100000000003300260024001d00209370b2c9caa47fba"
    "baf4559fedba753de171fa71f50f1ce15d43e994ec74d748002b000302030400"
    "0d0010000e0403050306030203080408050806002d00020101001c0002400100"
    "3900320408ffffffffffffffff05048000ffff07048000ffff08011001048000"
    "75300901100f088394c8f03e51570806048000ffff";

inline constexpr const char* a3_payload =
    "02000000000600405a020000560303eefce7f7b37ba1d1632e96677825ddf739"
    "88cfc79825df566dc5430b9a045a1200130100002e00330024001d00209d3c94"
    "0d89690b84d08a60993c144eca684d1081287c834d5311bcf32bb9da1a002b00"
    "020304";
inline Bytes hex(std::string_view h) {
    bool ok = false;
    Bytes b = from_hex(h, &ok);
    REQUIRE(ok);
    return b;
}

/// Seals `header || payload` under `secret` with `version`'s labels and checks the
/// result against `expected`; then opens it again and checks header and plaintext.
template <class Crypto>
void seal_and_open(const tls13::TrafficSecret& secret, ByteView header, std::size_t pn_offset, std::uint64_t pn,
                   ByteView payload, std::string_view expected, std::size_t short_dcid_length = 0,
                   std::uint32_t version = quic::version_1) {
    using namespace quic;
    auto keys = PacketKeys<Crypto>::derive(*secret.suite, secret.secret, true, version);
    REQUIRE(keys);
    Bytes packet(header.begin(), header.end());
    append(packet, payload);
    seal_packet(*keys, *keys->hp, packet, pn_offset, header.size() - pn_offset, pn);
    CHECK(to_hex(packet) == expected);

    auto receiver = PacketKeys<Crypto>::derive(*secret.suite, secret.secret, true, version);
    REQUIRE(receiver);
    auto h = parse_header(packet, short_dcid_length);
    REQUIRE(h);
    CHECK(h->pn_offset == pn_offset);
    CHECK(h->packet_size == packet.size());
    if (h->type != PacketType::one_rtt) CHECK(h->version == version);
    auto u = unprotect_header(*receiver->hp, MutableByteView(packet).first(h->packet_size), h->pn_offset,
                              pn > 0 ? std::optional<std::uint64_t>(pn - 1) : std::nullopt);
    REQUIRE(u);
    CHECK(u->packet_number == pn);
    CHECK(to_hex(ByteView(packet).first(u->header_length)) == to_hex(header));
    auto text = open_payload(*receiver, MutableByteView(packet).first(h->packet_size), u->header_length, pn);
    REQUIRE(text);
    CHECK(to_hex(*text) == to_hex(payload));
}

}  // namespace tapsec::test
