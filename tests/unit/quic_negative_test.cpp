// QUIC negative tests, table-driven: malformed varints, headers, frames and transport
// parameters give their distinct error; frames in the wrong packet type, flow-control,
// stream-limit, stream-state and final-size violations close the connection with the
// RFC 9000 20.1 code; tampered packets, bad Retry tags and unknown versions are
// dropped (or answered with Version Negotiation) as RFC 9000 prescribes.
#include <doctest/doctest.h>

#include "support/quic_pair.hpp"

using namespace tapsec;
using namespace tapsec::quic;

namespace quic_negative_test {

Bytes hex(std::string_view h) {
    bool ok = false;
    Bytes b = from_hex(h, &ok);
    REQUIRE(ok);
    return b;
}

struct DecodeCase {
    const char* name;
    const char* bytes;
    Error expected;
};


TEST_CASE("QUIC negative: truncated variable-length integers") {
    for (const char* h : {"", "40", "80", "800000", "c0", "c0000000000000"}) {
        const Bytes b = hex(h);
        wire::Reader r(b);
        read_varint(r);
        CHECK_MESSAGE(!r.ok(), h);
    }
    // And the four lengths decode where complete (RFC 9000 A.1 examples).
    for (auto [h, v] : std::initializer_list<std::pair<const char*, std::uint64_t>>{
             {"25", 37}, {"7bbd", 15293}, {"9d7f3e7d", 494878333}, {"c2197c5eff14e88c", 151288809941952652}}) {
        const Bytes b = hex(h);
        wire::Reader r(b);
        CHECK(read_varint(r) == v);
        CHECK(r.at_end());
        Bytes out;
        write_varint(out, v);
        CHECK(to_hex(out) == h);
    }
}

TEST_CASE("QUIC negative: malformed frames, one per frame type") {
    const DecodeCase cases[] = {
        {"ACK truncated", "02", Error::bad_varint},
        {"ACK first range beyond largest", "0205000006", Error::malformed_frame},
        {"ACK gap below zero", "02050001000500", Error::malformed_frame},
        {"ACK range count beyond payload", "0205003f00", Error::malformed_frame},
        {"RESET_STREAM truncated", "0400", Error::bad_varint},
        {"STOP_SENDING truncated", "0500", Error::bad_varint},
        {"CRYPTO length beyond payload", "06000aaabb", Error::malformed_frame},
        {"NEW_TOKEN empty", "0700", Error::malformed_frame},
        {"STREAM length beyond payload", "0a0005aa", Error::malformed_frame},
        {"STREAM offset + length beyond 2^62", "0e00ffffffffffffffff01aa", Error::malformed_frame},
        {"MAX_DATA truncated varint", "1040", Error::bad_varint},
        {"MAX_STREAM_DATA truncated", "1100", Error::bad_varint},
        {"MAX_STREAMS beyond 2^60", "12d000000000000001", Error::malformed_frame},
        {"STREAMS_BLOCKED beyond 2^60", "17d000000000000001", Error::malformed_frame},
        {"NEW_CONNECTION_ID zero length", "18010000", Error::malformed_frame},
        {"NEW_CONNECTION_ID retire_prior_to > sequence", "1801020401020304", Error::malformed_frame},
        {"NEW_CONNECTION_ID length 21", "18010015", Error::malformed_frame},
        {"NEW_CONNECTION_ID without reset token", "1801000401020304aabb", Error::malformed_frame},
        {"PATH_CHALLENGE short", "1a01020304", Error::malformed_frame},
        {"CONNECTION_CLOSE reason beyond payload", "1c0a0005ab", Error::malformed_frame},
        {"unknown frame type 0x21", "21", Error::unknown_frame_type},
        {"unknown frame type in two bytes", "4021", Error::unknown_frame_type},
    };
    for (const auto& c : cases) {
        const Bytes b = hex(c.bytes);
        FrameReader frames(b);
        std::error_code got;
        while (auto f = frames.next())
            if (!*f) {
                got = f->error();
                break;
            }
        CHECK_MESSAGE(got == make_error_code(c.expected), c.name << ": " << got.message());
        CHECK_MESSAGE(transport_error_for(c.expected) == TransportError::frame_encoding_error, c.name);
    }
}

TEST_CASE("QUIC negative: frames in packet types that may not carry them (RFC 9000 12.4, Table 3)") {
    struct Case {
        const char* name;
        Frame frame;
        PacketType type;
        bool allowed;
    };
    const Case cases[] = {
        {"STREAM in Initial", StreamFrame{}, PacketType::initial, false},
        {"STREAM in Handshake", StreamFrame{}, PacketType::handshake, false},
        {"HANDSHAKE_DONE in Handshake", HandshakeDoneFrame{}, PacketType::handshake, false},
        {"MAX_DATA in Initial", MaxDataFrame{}, PacketType::initial, false},
        {"NEW_CONNECTION_ID in Handshake", NewConnectionIdFrame{}, PacketType::handshake, false},
        {"application CONNECTION_CLOSE in Initial", ConnectionCloseFrame{true, 0, 0, {}}, PacketType::initial, false},
        {"ACK in 0-RTT", AckFrame{}, PacketType::zero_rtt, false},
        {"CRYPTO in 0-RTT", CryptoFrame{}, PacketType::zero_rtt, false},
        {"HANDSHAKE_DONE in 0-RTT", HandshakeDoneFrame{}, PacketType::zero_rtt, false},
        {"NEW_TOKEN in 0-RTT", NewTokenFrame{}, PacketType::zero_rtt, false},
        {"transport CONNECTION_CLOSE in Initial", ConnectionCloseFrame{false, 0, 0, {}}, PacketType::initial, true},
        {"CRYPTO in Handshake", CryptoFrame{}, PacketType::handshake, true},
        {"PING in Initial", PingFrame{}, PacketType::initial, true},
        {"STREAM in 1-RTT", StreamFrame{}, PacketType::one_rtt, true},
        {"STREAM in 0-RTT", StreamFrame{}, PacketType::zero_rtt, true},
    };
    for (const auto& c : cases) CHECK_MESSAGE(allowed_in(c.frame, c.type) == c.allowed, c.name);
}

TEST_CASE("QUIC negative: malformed and invalid transport parameters (RFC 9000 18.2)") {
    const DecodeCase cases[] = {
        {"truncated id", "40", Error::malformed_transport_parameters},
        {"length beyond input", "0405aa", Error::malformed_transport_parameters},
        {"integer with trailing bytes", "04020100", Error::malformed_transport_parameters},
        {"duplicate initial_max_data", "040101" "040101", Error::malformed_transport_parameters},
        {"max_udp_payload_size 1199", "030244af", Error::invalid_transport_parameter},
        {"ack_delay_exponent 21", "0a0115", Error::invalid_transport_parameter},
        {"max_ack_delay 2^14", "0b0480004000", Error::invalid_transport_parameter},
        {"active_connection_id_limit 1", "0e0101", Error::invalid_transport_parameter},
        {"initial_max_streams_bidi beyond 2^60", "0808d000000000000001", Error::invalid_transport_parameter},
        {"stateless_reset_token of 15 bytes", "020f000102030405060708090a0b0c0d0e", Error::malformed_transport_parameters},
        {"connection ID of 21 bytes", "0f15000102030405060708090a0b0c0d0e0f1011121314", Error::malformed_transport_parameters},
        {"disable_active_migration with a value", "0c0100", Error::malformed_transport_parameters},
    };
    for (const auto& c : cases) {
        auto p = decode_transport_parameters(hex(c.bytes), true);
        CHECK_MESSAGE(!p, c.name);
        if (!p) CHECK_MESSAGE(p.error() == make_error_code(c.expected), c.name << ": " << p.error().message());
    }
    // Server-only parameters from a client.
    for (const char* h : {"0000", "021000000000000000000000000000000000", "1000"}) {
        auto p = decode_transport_parameters(hex(h), false);
        REQUIRE(!p);
        CHECK(p.error() == make_error_code(Error::invalid_transport_parameter));
    }
    // Unknown (grease) parameters are skipped; a round trip keeps every value.
    TransportParameters tp;
    tp.initial_max_data = 123456;
    tp.max_idle_timeout_ms = 30000;
    tp.initial_source_connection_id = ConnectionId(hex("0102030405060708"));
    tp.original_destination_connection_id = ConnectionId(hex("aabbccdd"));
    Bytes encoded = hex("3a03aabbcc");  // reserved id 31*N+27, 3 bytes
    append(encoded, encode(tp));
    auto back = decode_transport_parameters(encoded, true);
    REQUIRE(back);
    CHECK(back->initial_max_data == 123456);
    CHECK(back->max_idle_timeout_ms == 30000);
    CHECK(*back->initial_source_connection_id == *tp.initial_source_connection_id);
}

TEST_CASE("QUIC negative: packet headers that cannot be parsed") {
    const DecodeCase cases[] = {
        {"empty", "", Error::malformed_header},
        {"short header without the fixed bit", "00" "0102030405060708" "00000000000000000000000000000000000000000000", Error::malformed_header},
        {"short header too short to sample", "40" "0102030405060708" "000000", Error::malformed_header},
        {"long header truncated", "c00000", Error::malformed_header},
        {"long header DCID length 21", "c000000001150000", Error::malformed_header},
        {"unknown version", "c01a2a3a4a0401020304000000", Error::unknown_version},
        {"Initial length beyond the datagram", "c00000000104010203040000407f00000000", Error::malformed_header},
        {"Initial token length beyond the datagram", "c0000000010401020304000500", Error::malformed_header},
        {"long header without the fixed bit", "800000000104010203040000", Error::malformed_header},
        {"Retry shorter than its tag", "f000000001000401020304aabb", Error::malformed_header},
        {"Version Negotiation with a partial version", "80000000000000aabb", Error::malformed_header},
    };
    for (const auto& c : cases) {
        auto h = parse_header(hex(c.bytes), 8);
        CHECK_MESSAGE(!h, c.name);
        if (!h) CHECK_MESSAGE(h.error() == make_error_code(c.expected), c.name << ": " << h.error().message());
    }
}

// ---- connection-level violations: the peer closes with the RFC's code -----------------------------------


struct Violation {
    const char* name;
    const char* frames;  // hex, sent by the client in a 1-RTT packet
    Error server_error;
    TransportError code;
};


TEST_CASE("QUIC negative: violations close the connection with the RFC 9000 error code") {
    test::TestPki pki;
    REQUIRE(pki.ok());
    const auto configs = test::quic_configs(pki);
    const Violation cases[] = {
        // STREAM on stream 0 reaching past the 8 MiB stream limit the server advertised.
        {"stream flow control", "0e00c0000000008000000100", Error::flow_control_violation, TransportError::flow_control_error},
        // Stream 4*100 (the 101st client bidi stream) beyond initial_max_streams_bidi = 100.
        {"stream limit", "0a4190" "0100", Error::stream_limit_violation, TransportError::stream_limit_error},
        // STREAM on stream 3, a server-initiated unidirectional stream: the client cannot send on it.
        {"stream state (send on the peer's uni stream)", "0a03" "0100", Error::stream_state_violation, TransportError::stream_state_error},
        // MAX_STREAM_DATA for stream 2, the client's own uni stream: the server never sends on it.
        {"stream state (MAX_STREAM_DATA for a receive-only stream)", "110210", Error::stream_state_violation, TransportError::stream_state_error},
        // STREAM with FIN at 2, then data at offset 2..4.
        {"final size", "0f00000201020e0002020304", Error::final_size_violation, TransportError::final_size_error},
        // HANDSHAKE_DONE from a client.
        {"HANDSHAKE_DONE from the client", "1e", Error::protocol_violation, TransportError::protocol_violation},
        // ACK of a packet number the server never sent.
        {"ACK of an unsent packet", "024064000000", Error::protocol_violation, TransportError::protocol_violation},
        // A truncated frame and an unknown frame type.
        {"truncated MAX_DATA", "10c000000000", Error::bad_varint, TransportError::frame_encoding_error},
        {"unknown frame type", "21", Error::unknown_frame_type, TransportError::frame_encoding_error},
        // NEW_TOKEN from a client.
        {"NEW_TOKEN from the client", "0701aa", Error::protocol_violation, TransportError::protocol_violation},
    };
    for (const auto& c : cases) {
        const std::string name = c.name;
        CAPTURE(name);
        test::QuicPair p(configs);
        REQUIRE_FALSE(p.client.start(p.now));
        REQUIRE(p.run([&] { return p.client.handshake_confirmed() && p.server.is_established(); }));
        p.client.inject_frames_for_testing(Space::application, hex(c.frames));
        const bool closed = p.run(
            [&] {
                while (p.server.poll_stream()) {
                }
                return p.server.is_closed() && p.client.is_closed();
            },
            std::chrono::seconds(10));
        REQUIRE_MESSAGE(closed, "server: " << p.server.error().message() << " client: " << p.client.error().message()
                                          << " server closed " << p.server.is_closed() << " client closed " << p.client.is_closed());
        CHECK_MESSAGE(p.server.error() == make_error_code(c.server_error), p.server.error().message());
        REQUIRE(p.server.local_close());
        CHECK(p.server.local_close()->first == false);
        CHECK(p.server.local_close()->second == static_cast<std::uint64_t>(c.code));
        REQUIRE(p.client.peer_close());
        CHECK(p.client.peer_close()->second == static_cast<std::uint64_t>(c.code));
        CHECK(p.client.error() == make_error_code(Error::peer_closed_with_error));
    }
}

TEST_CASE("QUIC negative: a STREAM frame in the client's first Initial is a PROTOCOL_VIOLATION") {
    test::TestPki pki;
    REQUIRE(pki.ok());
    test::QuicPair p(test::quic_configs(pki));
    p.client.inject_frames_for_testing(Space::initial, hex("0a000100"));
    REQUIRE_FALSE(p.client.start(p.now));
    REQUIRE(p.run([&] { return p.server.is_closed(); }, std::chrono::seconds(10)));
    CHECK(p.server.error() == make_error_code(Error::frame_not_allowed));
    REQUIRE(p.server.local_close());
    CHECK(p.server.local_close()->second == static_cast<std::uint64_t>(TransportError::protocol_violation));
}

TEST_CASE("QUIC negative: tampered packets are dropped, counted, and the data still arrives") {
    test::TestPki pki;
    REQUIRE(pki.ok());
    test::QuicPair p(test::quic_configs(pki));
    REQUIRE_FALSE(p.client.start(p.now));
    REQUIRE(p.run([&] { return p.client.handshake_confirmed() && p.server.is_established(); }));
    int tampered = 0;
    // Flip one bit in the protected packet number, then one in the payload.
    p.tamper = [&](Bytes& d, bool to_server) {
        if (!to_server || tampered >= 2 || d.size() < 40 || (d[0] & 0x80)) return;
        d[tampered == 0 ? 1 + 8 : d.size() - 20] ^= 0x01;
        ++tampered;
    };
    REQUIRE_FALSE(p.client.send(as_bytes("survives tampering"), p.now));
    Bytes got;
    REQUIRE(p.run([&] {
        while (auto v = p.server.poll_plaintext()) append(got, *v);
        return got.size() == 18;
    }));
    CHECK(std::string(got.begin(), got.end()) == "survives tampering");
    CHECK(tampered == 2);
    CHECK(p.server.stats().packets_dropped >= 2);
    CHECK(p.server.is_established());
    bool saw_drop = false;
    while (auto e = p.server.poll_event())
        if (e->kind == EventKind::dropped_packet) {
            saw_drop = true;
            CHECK(e->reason == make_error_code(Error::packet_authentication_failed));
        }
    CHECK(saw_drop);
}

TEST_CASE("QUIC negative: unknown version -> Version Negotiation; a client offered none it speaks gives up") {
    test::TestPki pki;
    REQUIRE(pki.ok());
    const auto configs = test::quic_configs(pki);
    quic::Connection<> client(Role::client, configs.client), server(Role::server, configs.server);
    const Instant now{};
    const Endpoint from = *Endpoint::parse("127.0.0.1", 4000);
    REQUIRE_FALSE(client.start(now));
    Bytes buf(max_transmit_size);
    auto t = client.poll_transmit(MutableByteView(buf));
    REQUIRE(t);
    Bytes first(buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(t->size));
    first[1] = 0x1a, first[2] = 0x2a, first[3] = 0x3a, first[4] = 0x4a;  // a version we do not speak
    REQUIRE_FALSE(server.receive(first, from, now));
    auto vn = server.poll_transmit(MutableByteView(buf));
    REQUIRE(vn);
    auto h = parse_header(ByteView(buf).first(vn->size), 0);
    REQUIRE(h);
    CHECK(h->type == PacketType::version_negotiation);
    CHECK(to_hex(h->versions) == "000000016b3343cf");  // v1 and v2 (RFC 9369), Settings::accepted_versions
    CHECK(h->dcid == ConnectionId(ByteView(first).subspan(6 + first[5] + 1, first[6 + first[5]])));
    CHECK_FALSE(server.poll_transmit(MutableByteView(buf)));  // nothing else: no state kept

    // The client: a Version Negotiation listing v1 is ignored; one without v1 ends it.
    const ConnectionId client_scid(ByteView(first).subspan(6 + first[5] + 1, first[6 + first[5]]));
    const ConnectionId client_dcid(ByteView(first).subspan(6, first[5]));
    REQUIRE_FALSE(client.receive(version_negotiation(client_scid, client_dcid, 0x11, {0x0a0a0a0a, version_1}), from, now));
    CHECK_FALSE(client.error());
    REQUIRE_FALSE(client.receive(version_negotiation(client_scid, client_dcid, 0x11, {0x0a0a0a0a}), from, now));
    CHECK(client.error() == make_error_code(Error::unknown_version));
}

TEST_CASE("QUIC negative: a Retry with a bad integrity tag is dropped; a good one is followed") {
    test::TestPki pki;
    REQUIRE(pki.ok());
    const auto configs = test::quic_configs(pki);
    quic::Connection<> client(Role::client, configs.client);
    const Instant now{};
    const Endpoint from = *Endpoint::parse("127.0.0.1", 4000);
    REQUIRE_FALSE(client.start(now));
    Bytes buf(max_transmit_size);
    auto t = client.poll_transmit(MutableByteView(buf));
    REQUIRE(t);
    const ConnectionId odcid(ByteView(buf).subspan(6, buf[5]));
    const ConnectionId client_scid(ByteView(buf).subspan(6 + buf[5] + 1, buf[6 + buf[5]]));
    const ConnectionId new_scid(hex("0102030405060708"));
    Bytes retry = make_retry<crypto::Botan2>(client_scid, new_scid, odcid, as_bytes("token-1"));
    Bytes bad = retry;
    bad.back() ^= 0x80;
    REQUIRE_FALSE(client.receive(bad, from, now));
    CHECK_FALSE(client.retried());
    CHECK(client.stats().packets_dropped == 1);
    REQUIRE_FALSE(client.receive(retry, from, now));
    CHECK(client.retried());
    // The next Initial goes to the new CID and carries the token.
    auto again = client.poll_transmit(MutableByteView(buf));
    REQUIRE(again);
    auto h = parse_header(ByteView(buf).first(again->size), 0);
    REQUIRE(h);
    CHECK(h->type == PacketType::initial);
    CHECK(h->dcid == new_scid);
    CHECK(to_hex(h->token) == to_hex(as_bytes("token-1")));
}

TEST_CASE("QUIC negative: the server keeps no state for junk, and answers nothing to short Initials") {
    test::TestPki pki;
    REQUIRE(pki.ok());
    quic::Connection<> server(Role::server, test::quic_configs(pki).server);
    const Endpoint from = *Endpoint::parse("127.0.0.1", 4000);
    Bytes buf(max_transmit_size);
    // A client Initial shorter than 1200 bytes, junk, and a short header: all dropped.
    Bytes small = hex("c30000000108aabbccddeeff001100004400");
    small.resize(600, 0);
    for (const Bytes& d : {small, hex("ffffffff"), Bytes(1300, 0x41)}) {
        REQUIRE_FALSE(server.receive(d, from, Instant{}));
        CHECK_FALSE(server.poll_transmit(MutableByteView(buf)));
    }
    CHECK(server.stats().packets_dropped == 3);
    CHECK_FALSE(server.is_established());
}

}  // namespace quic_negative_test
