// QUIC DATAGRAM frames (RFC 9221) and length-hiding padding (Settings::pad_to), tapsec
// client against tapsec server in memory: negotiation both ways, the frame and
// transport-parameter codecs, PROTOCOL_VIOLATION for an unnegotiated or oversized
// DATAGRAM, bounded queues, a lost datagram that is not sent again, acknowledgement,
// the limit remembered for 0-RTT, and padded 1-RTT datagram sizes.
#include <doctest/doctest.h>

#include <future>
#include <string>

#include <tapsec/tapsec.hpp>
#include <tapsec/transport/memory.hpp>

#include "support/quic_pair.hpp"

using namespace tapsec;
using namespace tapsec::quic;

namespace quic_datagram_test {

Bytes hex_bytes(std::string_view h) {
    Bytes out;
    for (std::size_t i = 0; i + 1 < h.size(); i += 2) out.push_back(static_cast<std::uint8_t>(std::stoi(std::string(h.substr(i, 2)), nullptr, 16)));
    return out;
}
Bytes filled(std::size_t n, std::uint8_t v) { return Bytes(n, v); }

Settings with_datagrams(std::uint64_t limit = 65535, std::size_t queue = 256) {
    Settings s;
    s.datagrams = true;
    s.max_datagram_frame_size = limit;
    s.datagram_queue = queue;
    return s;
}

/// A pair past the handshake (confirmed on both sides).
void establish(test::QuicPair& p) {
    REQUIRE_FALSE(p.client.start(p.now));
    REQUIRE(p.run([&] { return p.client.handshake_confirmed() && p.server.is_established(); }));
}

std::vector<Bytes> take_datagrams(quic::Connection<>& c) {
    std::vector<Bytes> out;
    while (auto d = c.poll_datagram()) out.push_back(std::move(*d));
    return out;
}

// Secure<> offers send_datagram / receive_datagram only where the engine carries them.
using QuicSecure = Secure<Tls13Handshake, QuicPacketProtection, Udp>;
using TlsSecure = Secure<Tls13Handshake, AeadRecord, Tcp>;
template <class S>
concept offers_datagrams = requires(S& s, ByteView d) {
    s.send_datagram(d);
    s.receive_datagram();
};
static_assert(offers_datagrams<QuicSecure>);
static_assert(!offers_datagrams<TlsSecure>);


TEST_CASE("QUIC DATAGRAM: frame parsing, with and without length, and where it may appear") {
    struct Case {
        const char* name;
        const char* hex;
        std::optional<Error> error;
        std::string data;
        std::size_t frame_size;
    };
    const Case cases[] = {
        {"0x30 runs to the end of the packet", "306869", {}, "hi", 3},
        {"0x31 carries its length", "31026869", {}, "hi", 4},
        {"empty 0x30", "30", {}, "", 1},
        {"0x31 with a two-byte type encoding", "40310161", {}, "a", 4},
        {"0x31 length past the end", "310561", Error::malformed_frame, "", 0},
        {"0x31 without its length", "31", Error::bad_varint, "", 0},
    };
    for (const auto& c : cases) {
        CAPTURE(std::string(c.name));
        const Bytes payload = hex_bytes(c.hex);
        FrameReader reader(payload);
        auto f = reader.next();
        REQUIRE(f);
        if (c.error) {
            REQUIRE_FALSE(*f);
            CHECK(f->error() == make_error_code(*c.error));
            continue;
        }
        REQUIRE(*f);
        const auto* d = std::get_if<DatagramFrame>(&**f);
        REQUIRE(d);
        CHECK(std::string(d->data.begin(), d->data.end()) == c.data);
        CHECK(d->frame_size == c.frame_size);
        CHECK_FALSE(reader.next());
    }
    // A length-carrying DATAGRAM lets another frame follow; our encoder writes that form.
    Bytes two;
    write_datagram(two, as_bytes("abc"));
    write_varint(two, frame_type::ping);
    CHECK(two.size() == datagram_frame_size(3) + 1);
    FrameReader reader(two);
    auto first = reader.next();
    REQUIRE((first && *first));
    CHECK(std::holds_alternative<DatagramFrame>(**first));
    auto second = reader.next();
    REQUIRE((second && *second));
    CHECK(std::holds_alternative<PingFrame>(**second));
    // Ack-eliciting (RFC 9221 5.2); 0-RTT and 1-RTT only (RFC 9221 4).
    const Frame frame = DatagramFrame{};
    CHECK(ack_eliciting(frame));
    CHECK(allowed_in(frame, PacketType::one_rtt));
    CHECK(allowed_in(frame, PacketType::zero_rtt));
    CHECK_FALSE(allowed_in(frame, PacketType::initial));
    CHECK_FALSE(allowed_in(frame, PacketType::handshake));
}

TEST_CASE("QUIC DATAGRAM: max_datagram_frame_size (0x20) encodes, decodes, is absent by default, not twice") {
    TransportParameters p;
    p.initial_source_connection_id = ConnectionId(hex_bytes("0102030405060708"));
    auto plain = decode_transport_parameters(encode(p), true);
    REQUIRE(plain);
    CHECK(plain->max_datagram_frame_size == 0);
    p.max_datagram_frame_size = 1200;
    Bytes encoded = encode(p);
    auto back = decode_transport_parameters(encoded, false);
    REQUIRE(back);
    CHECK(back->max_datagram_frame_size == 1200);
    append(encoded, hex_bytes("2001" "10"));  // a second max_datagram_frame_size
    auto twice = decode_transport_parameters(encoded, false);
    REQUIRE_FALSE(twice);
    CHECK(twice.error() == make_error_code(Error::malformed_transport_parameters));
    // Remembered with the session (RFC 9221 3); a format-1 record (before DATAGRAM) still reads.
    RememberedLimits limits = RememberedLimits::of(*back);
    auto again = RememberedLimits::decode(limits.encode());
    REQUIRE(again);
    CHECK(again->max_datagram_frame_size == 1200);
    Bytes old{1};
    for (int i = 0; i < 7; ++i) write_varint(old, 5);
    auto legacy = RememberedLimits::decode(old);
    REQUIRE(legacy);
    CHECK(legacy->initial_max_data == 5);
    CHECK(legacy->max_datagram_frame_size == 0);
    RememberedLimits smaller = *again;
    smaller.max_datagram_frame_size = 1000;
    CHECK_FALSE(smaller.at_least(*again));  // a server that lowered it refuses 0-RTT
}

TEST_CASE("QUIC DATAGRAM: negotiated only when both ends enable it; round trip both ways") {
    test::TestPki pki;
    REQUIRE(pki.ok());
    struct Case {
        const char* name;
        bool client, server;
        std::optional<Error> client_send_error;
    };
    const Case cases[] = {
        {"both", true, true, {}},
        {"client only", true, false, Error::datagrams_not_supported},
        {"server only", false, true, Error::datagrams_not_supported},
        {"neither", false, false, Error::datagrams_not_supported},
    };
    for (const auto& c : cases) {
        CAPTURE(std::string(c.name));
        test::QuicPair p(test::quic_configs(pki), c.client ? with_datagrams() : Settings{},
                         c.server ? with_datagrams() : Settings{});
        establish(p);
        CHECK(p.client.peer_max_datagram_frame_size() == (c.server ? 65535u : 0u));
        CHECK(p.server.peer_max_datagram_frame_size() == (c.client ? 65535u : 0u));
        const auto ec = p.client.send_datagram(as_bytes("ping"), p.now);
        if (c.client_send_error) {
            CHECK(ec == make_error_code(*c.client_send_error));
            CHECK(p.server.send_datagram(as_bytes("pong"), p.now) == make_error_code(Error::datagrams_not_supported));
            CHECK_FALSE(p.client.error());  // a refused send does not end the connection
            continue;
        }
        REQUIRE_FALSE(ec);
        std::vector<Bytes> got;
        REQUIRE(p.run([&] {
            for (auto& d : take_datagrams(p.server)) got.push_back(d);
            return !got.empty();
        }));
        CHECK(std::string(got[0].begin(), got[0].end()) == "ping");
        REQUIRE_FALSE(p.server.send_datagram(as_bytes("pong"), p.now));
        got.clear();
        REQUIRE(p.run([&] {
            for (auto& d : take_datagrams(p.client)) got.push_back(d);
            return !got.empty();
        }));
        CHECK(std::string(got[0].begin(), got[0].end()) == "pong");
        CHECK(p.client.stats().datagrams_sent == 1);
        CHECK(p.server.stats().datagrams_received == 1);
    }
}

TEST_CASE("QUIC DATAGRAM: poll_datagram into the caller's buffer: in order, one buffer reused, false when empty") {
    test::TestPki pki;
    REQUIRE(pki.ok());
    test::QuicPair p(test::quic_configs(pki), with_datagrams(), with_datagrams());
    establish(p);
    for (const char* d : {"a", "bb", "ccc"}) REQUIRE_FALSE(p.client.send_datagram(as_bytes(d), p.now));
    REQUIRE(p.run([&] { return p.server.stats().datagrams_received == 3; }));
    Bytes buffer;
    std::vector<std::string> got;
    while (p.server.poll_datagram(buffer)) got.emplace_back(buffer.begin(), buffer.end());
    CHECK(got == std::vector<std::string>{"a", "bb", "ccc"});
    CHECK_FALSE(p.server.poll_datagram(buffer));
    CHECK(std::string(buffer.begin(), buffer.end()) == "ccc");  // untouched when none is waiting
    REQUIRE_FALSE(p.client.send_datagram(as_bytes("dddd"), p.now));
    REQUIRE(p.run([&] { return p.server.stats().datagrams_received == 4; }));
    REQUIRE(p.server.poll_datagram(buffer));
    CHECK(std::string(buffer.begin(), buffer.end()) == "dddd");
}

TEST_CASE("QUIC DATAGRAM: size limits: the peer's max_datagram_frame_size, one packet, and what we receive") {
    test::TestPki pki;
    REQUIRE(pki.ok());
    // The server takes frames of at most 100 bytes: 97 bytes of data is 1 + 2 + 97 = 100.
    test::QuicPair p(test::quic_configs(pki), with_datagrams(), with_datagrams(100));
    establish(p);
    CHECK_FALSE(p.client.send_datagram(filled(97, 1), p.now));
    CHECK(p.client.send_datagram(filled(98, 2), p.now) == make_error_code(Error::datagram_too_large));
    // The server's peer (the client) takes 65535, but a datagram must fit one packet of 1200.
    CHECK(p.server.send_datagram(filled(1200, 3), p.now) == make_error_code(Error::datagram_too_large));
    CHECK_FALSE(p.server.send_datagram(filled(1100, 4), p.now));
    std::vector<Bytes> at_server, at_client;
    REQUIRE(p.run([&] {
        for (auto& d : take_datagrams(p.server)) at_server.push_back(d);
        for (auto& d : take_datagrams(p.client)) at_client.push_back(d);
        return at_server.size() == 1 && at_client.size() == 1;
    }));
    CHECK(at_server[0] == filled(97, 1));
    CHECK(at_client[0] == filled(1100, 4));
}

TEST_CASE("QUIC DATAGRAM: PROTOCOL_VIOLATION for a DATAGRAM not negotiated, or larger than advertised") {
    test::TestPki pki;
    REQUIRE(pki.ok());
    struct Case {
        const char* name;
        Settings server;
        const char* frames;
        Error server_error;
    };
    const Case cases[] = {
        {"not negotiated (0x31)", Settings{}, "31026869", Error::unexpected_datagram},
        {"not negotiated (0x30)", Settings{}, "30", Error::unexpected_datagram},
        // 1 + 1 + 50 = 52 bytes against a limit of 40.
        {"larger than advertised", with_datagrams(40),
         "3132"
         "0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000",
         Error::oversized_datagram},
    };
    for (const auto& c : cases) {
        CAPTURE(std::string(c.name));
        test::QuicPair p(test::quic_configs(pki), with_datagrams(), c.server);
        establish(p);
        p.client.inject_frames_for_testing(Space::application, hex_bytes(c.frames));
        REQUIRE(p.run([&] { return p.server.is_closed() && p.client.is_closed(); }, std::chrono::seconds(10)));
        CHECK_MESSAGE(p.server.error() == make_error_code(c.server_error), p.server.error().message());
        REQUIRE(p.server.local_close());
        CHECK(p.server.local_close()->second == static_cast<std::uint64_t>(TransportError::protocol_violation));
        REQUIRE(p.client.peer_close());
        CHECK(p.client.peer_close()->second == static_cast<std::uint64_t>(TransportError::protocol_violation));
    }
    // A frame exactly at the limit is taken: 1 + 1 + 38 = 40.
    test::QuicPair p(test::quic_configs(pki), with_datagrams(), with_datagrams(40));
    establish(p);
    Bytes frame;
    write_datagram(frame, filled(38, 7));
    CHECK(frame.size() == 40);
    p.client.inject_frames_for_testing(Space::application, frame);
    std::vector<Bytes> got;
    REQUIRE(p.run([&] {
        for (auto& d : take_datagrams(p.server)) got.push_back(d);
        return !got.empty();
    }));
    CHECK(got[0] == filled(38, 7));
    CHECK_FALSE(p.server.error());
}

TEST_CASE("QUIC DATAGRAM: bounded queues: a full send queue refuses, a full receive queue drops the newest") {
    test::TestPki pki;
    REQUIRE(pki.ok());
    test::QuicPair p(test::quic_configs(pki), with_datagrams(65535, 4), with_datagrams(65535, 3));
    establish(p);
    for (std::uint8_t i = 0; i < 4; ++i) REQUIRE_FALSE(p.client.send_datagram(filled(10, i), p.now));
    CHECK(p.client.send_datagram(filled(10, 9), p.now) == make_error_code(Error::datagram_queue_full));
    // Sent: the queue empties and takes more.
    REQUIRE(p.run([&] { return p.server.stats().datagrams_received + p.server.stats().datagrams_dropped == 4; }));
    for (std::uint8_t i = 4; i < 8; ++i) REQUIRE_FALSE(p.client.send_datagram(filled(10, i), p.now));
    REQUIRE(p.run([&] { return p.server.stats().datagrams_received + p.server.stats().datagrams_dropped == 8; }));
    // The server's application read nothing: it holds 3, the other 5 were dropped.
    CHECK(p.server.stats().datagrams_received == 3);
    CHECK(p.server.stats().datagrams_dropped == 5);
    const auto got = take_datagrams(p.server);
    REQUIRE(got.size() == 3);
    for (std::uint8_t i = 0; i < 3; ++i) CHECK(got[i] == filled(10, i));  // the oldest kept, in order
    CHECK_FALSE(p.server.error());
    CHECK(p.server.is_established());
}

TEST_CASE("QUIC DATAGRAM: ack-eliciting, and a lost one is counted lost and never sent again") {
    test::TestPki pki;
    REQUIRE(pki.ok());
    // No idle timeout: run() can then go until nothing is left to do.
    Settings settings = with_datagrams();
    settings.max_idle_timeout_ms = 0;
    test::QuicPair p(test::quic_configs(pki), settings, settings);
    establish(p);
    // Let every pending ACK settle, then a lone datagram: the server answers with an ACK
    // (an unacknowledged one would make the client probe: PTO).
    p.run([] { return false; }, std::chrono::milliseconds(300));
    const auto server_sent = p.server.stats().packets_sent;
    const auto client_ptos = p.client.stats().pto_count;
    REQUIRE_FALSE(p.client.send_datagram(as_bytes("acked"), p.now));
    p.run([] { return false; }, std::chrono::milliseconds(300));
    CHECK(take_datagrams(p.server).size() == 1);
    CHECK(p.server.stats().packets_sent == server_sent + 1);
    CHECK(p.client.stats().pto_count == client_ptos);
    CHECK(p.client.stats().datagrams_lost == 0);

    // The next datagram to the server is lost on the path.
    bool drop_next = true;
    p.tamper = [&](Bytes& d, bool to_server) {
        if (to_server && drop_next && (d[0] & 0x80) == 0) {
            drop_next = false;
            d.back() ^= 0xff;  // fails authentication: dropped, as if lost
        }
    };
    REQUIRE_FALSE(p.client.send_datagram(as_bytes("lost"), p.now));
    REQUIRE(p.run([&] { return p.client.stats().datagrams_lost == 1; }));
    REQUIRE_FALSE(p.client.send_datagram(as_bytes("after"), p.now));
    std::vector<std::string> got;
    p.run([&] {
        for (auto& d : take_datagrams(p.server)) got.emplace_back(d.begin(), d.end());
        return false;
    }, std::chrono::seconds(2));
    CHECK(got == std::vector<std::string>{"after"});
    CHECK(p.client.stats().datagrams_sent == 3);
    CHECK(p.client.stats().datagrams_lost == 1);  // declared lost once (a PTO probe does not count)
    CHECK(p.client.stats().bytes_retransmitted == 0);  // datagrams are not stream data: nothing resent
    CHECK_FALSE(p.client.error());
}

TEST_CASE("QUIC DATAGRAM: the server's limit is remembered with the session and used for 0-RTT") {
    test::TestPki pki;
    REQUIRE(pki.ok());
    auto cache = std::make_shared<InMemorySessionCache>();
    auto configs = test::quic_resumption_configs(pki, cache);
    Settings client = with_datagrams(), server = with_datagrams(5000);
    client.early_data = server.early_data = true;
    {
        test::QuicPair p(configs, client, server);
        REQUIRE_FALSE(p.client.start(p.now));
        REQUIRE(p.run([&] { return cache->load("localhost").has_value(); }));
    }
    const Bytes stored = *cache->load("localhost");
    auto session = tls13::SessionState::parse(stored);
    REQUIRE(session);
    auto limits = RememberedLimits::decode(session->application_data);
    REQUIRE(limits);
    CHECK(limits->max_datagram_frame_size == 5000);

    test::QuicPair p(configs, client, server);
    CHECK(p.client.send_datagram(as_bytes("x"), p.now) == make_error_code(Errc::not_connected));
    REQUIRE_FALSE(p.client.start(p.now));
    REQUIRE(p.client.early_data_offered());
    CHECK(p.client.send_datagram(filled(5000, 1), p.now) == make_error_code(Error::datagram_too_large));
    REQUIRE_FALSE(p.client.send_datagram(as_bytes("early datagram"), p.now));
    std::vector<std::string> got;
    REQUIRE(p.run([&] {
        for (auto& d : take_datagrams(p.server)) got.emplace_back(d.begin(), d.end());
        return !got.empty() && p.client.is_established();
    }));
    CHECK(got == std::vector<std::string>{"early datagram"});
    CHECK(p.client.stats().zero_rtt_datagrams_sent == 1);
    CHECK(p.server.stats().zero_rtt_packets_received >= 1);
    CHECK(p.client.session_info().early_data_accepted);

    // A server that lowered its limit refuses the 0-RTT (the datagram sent in it is lost,
    // not resent); the connection itself goes on under the new limit.
    Settings lowered = server;
    lowered.max_datagram_frame_size = 1000;
    cache->store("localhost", stored);
    configs.server.anti_replay = std::make_shared<tls13::AntiReplay>();  // not refused as a replay
    test::QuicPair q(configs, client, lowered);
    REQUIRE_FALSE(q.client.start(q.now));
    REQUIRE(q.client.early_data_offered());
    REQUIRE_FALSE(q.client.send_datagram(as_bytes("refused"), q.now));
    REQUIRE(q.run([&] { return q.client.is_established() && q.server.is_established(); }));
    CHECK_FALSE(q.client.session_info().early_data_accepted);
    CHECK(q.client.peer_max_datagram_frame_size() == 1000);
    CHECK(q.client.stats().datagrams_lost == 1);
    CHECK(take_datagrams(q.server).empty());
}

TEST_CASE("QUIC padding (LHP): 1-RTT datagrams are a multiple of pad_to, or the path MTU") {
    test::TestPki pki;
    REQUIRE(pki.ok());
    for (std::size_t pad_to : {std::size_t{0}, std::size_t{64}, std::size_t{100}, std::size_t{256}}) {
        CAPTURE(pad_to);
        Settings padded;
        padded.pad_to = pad_to;
        test::QuicPair p(test::quic_configs(pki), padded, padded);
        std::vector<std::size_t> one_rtt_sizes;
        p.tamper = [&](Bytes& d, bool) {
            if ((d[0] & 0x80) == 0) one_rtt_sizes.push_back(d.size());  // a short header first: 1-RTT only
        };
        establish(p);
        // Messages of many lengths both ways.
        std::size_t to_server = 0, to_client = 0, at_server = 0, at_client = 0;
        for (std::size_t n = 1; n < 3000; n = n * 2 + 1) {
            REQUIRE_FALSE(p.client.send(filled(n, 1), p.now));
            REQUIRE_FALSE(p.server.send(filled(n + 7, 2), p.now));
            to_server += n;
            to_client += n + 7;
            REQUIRE(p.run([&] {
                while (auto v = p.server.poll_plaintext()) at_server += v->size();
                while (auto v = p.client.poll_plaintext()) at_client += v->size();
                return at_server == to_server && at_client == to_client;
            }));
        }
        REQUIRE(one_rtt_sizes.size() > 10);
        std::size_t off_multiple = 0;
        for (std::size_t size : one_rtt_sizes) {
            CHECK(size <= 1200);
            if (pad_to && size % pad_to != 0) {
                CHECK(size == 1200);  // the next multiple would not fit
            }
            if (size % 64 != 0 && size != 1200) ++off_multiple;
        }
        if (pad_to == 0) {
            CHECK(off_multiple > 0);  // unpadded sizes vary: the check above can fail
            CHECK(p.client.stats().padding_bytes == 0);
        } else {
            CHECK(p.client.stats().padding_bytes > 0);
            CHECK(p.server.stats().padding_bytes > 0);
        }
    }
}

TEST_CASE("QUIC DATAGRAM through the composition: Secure<>::send_datagram / receive_datagram both ways") {
    using namespace std::chrono_literals;
    using QuicInMemory = Secure<Tls13Handshake, QuicPacketProtection, MemoryDatagram>;
    static_assert(offers_datagrams<QuicInMemory>);
    test::TestPki pki;
    REQUIRE(pki.ok());
    const auto configs = test::quic_configs(pki);
    auto [a, b] = MemoryDatagram::pair();
    auto server_done = std::async(std::launch::async, [config = configs.server, t = std::move(b)]() mutable -> std::string {
        QuicInMemory server(Role::server, config, std::move(t));
        if (auto ec = server.engine().enable_datagrams()) return "enable: " + ec.message();
        if (auto ec = server.handshake()) return "server handshake: " + ec.message();
        auto d = server.receive_datagram(10s);
        if (!d) return "server receive: " + d.error().message();
        const std::string got(d->begin(), d->end());
        if (auto ec = server.send_datagram(as_bytes("re:" + got))) return "server send: " + ec.message();
        (void)server.receive_message(5s);  // the client's close
        return got;
    });
    QuicInMemory client(Role::client, configs.client, std::move(a));
    REQUIRE_FALSE(client.engine().enable_datagrams());
    REQUIRE_FALSE(client.handshake());
    CHECK(client.engine().enable_datagrams() == make_error_code(Errc::already_connected));
    REQUIRE_FALSE(client.send_datagram(as_bytes("over Secure<>")));
    auto reply = client.receive_datagram(10s);
    REQUIRE_MESSAGE(reply, reply.error().message());
    CHECK(std::string(reply->begin(), reply->end()) == "re:over Secure<>");
    CHECK(client.send_datagram(Bytes(70000, 1)) == make_error_code(quic::Error::datagram_too_large));
    client.close();
    CHECK(server_done.get() == "over Secure<>");
}

}  // namespace quic_datagram_test
