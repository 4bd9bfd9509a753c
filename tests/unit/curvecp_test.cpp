// CurveCP: the composition's declarations, the packet formats and sizes on the wire,
// a full connection with the curvecpmessage stream both ways (loss included), minute
// keys, connection mobility and the clean end of both streams.
#include <doctest/doctest.h>

#include <thread>

#include "support/curvecp_pair.hpp"

using namespace curvecp_test;
namespace cwire = tapsec::curvecp::wire;

static_assert(Composition::has<feature::CM> && Composition::has<feature::SV> && Composition::has<feature::DM>);
static_assert(Composition::features.availability<feature::CM>() == Availability::mandatory);
static_assert(Composition::features.availability<feature::MA>() == Availability::supported);
static_assert(!Composition::has<feature::AN> && !Composition::has<feature::ED>);
static_assert(CurveCpHandshake::key_export == KeyExport::non_exportable);
static_assert(CurveCpRecord::key_import == KeyImport::non_importable);
static_assert(CallerBufferEngine<Engine> && ViewReceiveEngine<Engine>);
static_assert(tapsec::runs_on<CurveCpRecord, crypto::Botan2>());

TEST_CASE("curvecp: server name encoding (DNS labels, zero-padded to 256)") {
    auto n = cwire::encode_name("test.example");
    REQUIRE(n);
    CHECK((*n)[0] == 4);
    CHECK(std::string(n->begin() + 1, n->begin() + 5) == "test");
    CHECK((*n)[5] == 7);
    CHECK((*n)[13] == 0);
    CHECK(cwire::encode_name(std::string(64, 'a')) == std::nullopt);
    CHECK(cwire::encode_name(std::string(63, 'a')).has_value());
    CHECK(cwire::encode_name(".localhost.")->at(0) == 9);
}

TEST_CASE("curvecp: handshake, packet sizes and magics on the wire, data both ways") {
    Pair pair(make_configs());
    REQUIRE(pair.handshake());
    REQUIRE(pair.client_sent.size() >= 2);
    const Bytes& hello = pair.client_sent[0];
    CHECK(hello.size() == 224);
    CHECK(std::string(hello.begin(), hello.begin() + 8) == "QvnQ5XlH");
    CHECK(hello[8] == 0x5e);   // server extension
    CHECK(hello[24] == 0xc1);  // client extension
    const Bytes& cookie = pair.server_sent[0];
    CHECK(cookie.size() == 200);
    CHECK(std::string(cookie.begin(), cookie.begin() + 8) == "RL3aNMXK");
    const Bytes& initiate = pair.client_sent[1];
    CHECK(std::string(initiate.begin(), initiate.begin() + 8) == "QvnQ5XlI");
    CHECK(initiate.size() == 544 + 192);  // a ping block, padded as curvecpmessage pads
    const Bytes& answer = pair.server_sent[1];
    CHECK(std::string(answer.begin(), answer.begin() + 8) == "RL3aNMXM");
    CHECK(answer.size() % 16 == 0);
    // The client's long-term key reached the server, and the server's the client.
    const auto client_key = fixed_key(99).public_key;
    CHECK(pair.server.session_info().peer.raw_public_key == Bytes(client_key.begin(), client_key.end()));
    const auto server_key = fixed_key(1).public_key;
    CHECK(pair.client.session_info().peer.raw_public_key == Bytes(server_key.begin(), server_key.end()));

    const Bytes up = pattern(200'000, 1), down = pattern(150'000, 2);
    REQUIRE_FALSE(pair.client.send(up, pair.now));
    REQUIRE_FALSE(pair.server.send(down, pair.now));
    REQUIRE_FALSE(pair.client.close(pair.now));
    REQUIRE_FALSE(pair.server.close(pair.now));
    REQUIRE(pair.run_until([&] { return pair.client.is_closed() && pair.server.is_closed(); }));
    CHECK(pair.server_received == up);
    CHECK(pair.client_received == down);
    // Every Message packet after the Initiate is a multiple of 16 and at most 1184 bytes.
    for (std::size_t i = 2; i < pair.client_sent.size(); ++i) {
        const Bytes& p = pair.client_sent[i];
        CHECK(p.size() % 16 == 0);
        CHECK(p.size() <= 1184);
        CHECK(std::string(p.begin(), p.begin() + 7) == "QvnQ5Xl");
    }
}

TEST_CASE("curvecp: the stream survives 10% loss and duplicates (retransmission)") {
    Pair pair(make_configs());
    REQUIRE(pair.handshake());
    std::uint32_t counter = 0;
    pair.hook = [&](bool, Bytes&) { return ++counter % 10 != 3; };
    const Bytes up = pattern(60'000, 3);
    REQUIRE_FALSE(pair.client.send(up, pair.now));
    REQUIRE_FALSE(pair.client.close(pair.now));
    REQUIRE_FALSE(pair.server.close(pair.now));
    REQUIRE(pair.run_until([&] { return pair.client.is_closed() && pair.server.is_closed(); }, std::chrono::seconds(600)));
    CHECK(pair.server_received == up);
    CHECK(pair.client.stream().retransmissions() > 0);
}

TEST_CASE("curvecp: connection mobility: the client moves, the server follows C'") {
    Pair pair(make_configs());
    REQUIRE(pair.handshake());
    REQUIRE_FALSE(pair.client.send(pattern(5000), pair.now));
    REQUIRE(pair.run_until([&] { return pair.server_received.size() == 5000; }));
    // A new address and a new client extension (the client's own choice): the
    // connection continues, the server answers to the new place with the new extension.
    pair.client_address = *Endpoint::parse("127.0.0.1:40001");
    cwire::Extension moved{};
    moved[0] = 0xc2;
    pair.client.set_client_extension(moved);
    REQUIRE_FALSE(pair.client.send(pattern(3000, 9), pair.now));
    REQUIRE(pair.run_until([&] { return pair.server_received.size() == 8000; }));
    REQUIRE(pair.server.peer_endpoint());
    CHECK(*pair.server.peer_endpoint() == pair.client_address);
    bool moved_event = false;
    while (auto e = pair.server.poll_event()) moved_event |= e->kind == EventKind::peer_address_changed;
    CHECK(moved_event);
    const Bytes& last = pair.server_sent.back();
    CHECK(last[8] == 0xc2);  // server Messages carry the client's new extension
    // Data the other way reaches the client's new address.
    REQUIRE_FALSE(pair.server.send(pattern(2000, 4), pair.now));
    REQUIRE(pair.run_until([&] { return pair.client_received.size() == 2000; }));
}

TEST_CASE("curvecp: a wrong server key gets no answer and the client gives up (no_answer)") {
    auto c = make_configs();
    c.client.server_public_key = fixed_key(7).public_key;
    Pair pair(c);
    CHECK_FALSE(pair.handshake());
    CHECK(pair.client.failure() == curvecp::Error::no_answer);
    CHECK(pair.client.failure() == condition::timed_out);
    CHECK(pair.server_sent.empty());
    CHECK(pair.client_sent.size() == 3);  // hello_attempts Hellos
    CHECK(pair.server.dropped() == 3);
}

TEST_CASE("curvecp: a junk flood is dropped and counted, queues stay bounded, the connection lives on") {
    Pair pair(make_configs());
    REQUIRE(pair.handshake());
    std::uint64_t x = 88172645463325252ull;
    auto next = [&] {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        return x;
    };
    const Bytes& real_message = pair.client_sent.back();  // a client packet with our C'
    const std::size_t before = pair.server.dropped();
    constexpr std::size_t flood = 20000;
    for (std::size_t i = 0; i < flood; ++i) {
        Bytes junk;
        switch (i % 4) {
            case 0: junk.resize(next() % 1500); break;  // anything
            case 1: junk.assign(pair.client_sent[0].begin(), pair.client_sent[0].end()); break;  // Hellos after the connection
            case 2: junk = real_message; break;  // our C', replayed or with a bad box
            default: junk.resize(224); std::memcpy(junk.data(), "QvnQ5XlM", 8); break;
        }
        for (std::size_t k = (i % 4 == 1 ? junk.size() : 0); k < junk.size(); k += 7)
            if (i % 4 != 2 || k > 80) junk[k] ^= static_cast<std::uint8_t>(next());
        (void)pair.server.receive(junk, pair.client_address, pair.now);
    }
    CHECK(pair.server.dropped() - before == flood);
    std::size_t transmits = 0;
    Bytes out(max_transmit_size);
    while (pair.server.poll_transmit(MutableByteView(out))) ++transmits;
    CHECK(transmits == 0);  // nothing answered: no amplification, nothing queued
    std::size_t events = 0;
    while (pair.server.poll_event()) ++events;
    CHECK(events <= 2);  // drops are coalesced, the counter has the figures
    REQUIRE_FALSE(pair.client.send(pattern(4000), pair.now));
    REQUIRE(pair.run_until([&] { return pair.server_received.size() == 4000; }));
}

TEST_CASE("curvecp: a Hello flood to a listening server: Cookies only, no state, a bounded queue") {
    auto c = make_configs();
    Pair pair(c);
    REQUIRE_FALSE(pair.client.start(pair.now));
    Bytes out(max_transmit_size);
    auto hello = pair.client.poll_transmit(MutableByteView(out));
    REQUIRE(hello);
    const Bytes valid(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(hello->size));
    for (int i = 0; i < 1000; ++i) (void)pair.server.receive(valid, pair.client_address, pair.now);
    std::size_t cookies = 0;
    while (auto t = pair.server.poll_transmit(MutableByteView(out))) {
        CHECK(t->size == 200);
        ++cookies;
    }
    CHECK(cookies == Engine::max_queued_packets);  // the rest were dropped, not queued
    CHECK(pair.server.dropped() == 1000 - Engine::max_queued_packets);
    CHECK_FALSE(pair.server.is_established());  // a Hello creates no connection
}

TEST_CASE("curvecp: engines sharing Config::shared_minute_keys take each other's Cookies; an engine with its own keys does not") {
    // A concurrent server's responder answers the Hello; another engine takes the Initiate.
    for (bool shared : {true, false}) {
        CAPTURE(shared);
        auto c = make_configs();
        if (shared)
            c.server.shared_minute_keys = std::make_shared<curvecp::MinuteKeys>(
                c.server.minute_key_interval, [](MutableByteView out) { crypto::Botan2::random(out); });
        Engine client(Role::client, c.client), responder(Role::server, c.server), taker(Role::server, c.server);
        const Instant now = Instant{} + std::chrono::hours(1);
        const auto from = *Endpoint::parse("127.0.0.1:40000");
        Bytes out(max_transmit_size);
        REQUIRE_FALSE(client.start(now));
        auto hello = client.poll_transmit(MutableByteView(out));
        REQUIRE(hello);
        (void)responder.receive(ByteView(out.data(), hello->size), from, now);
        auto cookie = responder.poll_transmit(MutableByteView(out));
        REQUIRE(cookie);
        CHECK(cookie->size == cwire::cookie_size);
        (void)client.receive(ByteView(out.data(), cookie->size), from, now);
        auto initiate = client.poll_transmit(MutableByteView(out));
        REQUIRE(initiate);
        REQUIRE(cwire::has_magic(ByteView(out.data(), initiate->size), cwire::initiate_magic));
        (void)taker.receive(ByteView(out.data(), initiate->size), from, now);
        CHECK(taker.is_established() == shared);
        CHECK_FALSE(responder.is_established());  // the responder still holds no connection
        if (!shared) CHECK(taker.last_drop() == make_error_code(curvecp::Error::bad_cookie));
    }
}

TEST_CASE("curvecp: over real UDP the client changes its socket (address) mid-transfer; the server follows") {
    auto c = make_configs();
    c.client.handshake_timeout = c.server.handshake_timeout = std::chrono::seconds(10);
    auto server_udp = Udp::bind("127.0.0.1", 0);
    REQUIRE(server_udp);
    const auto server_ep = *Endpoint::parse("127.0.0.1", server_udp->local_port());
    const Bytes first = pattern(60'000, 5), second = pattern(60'000, 6);
    Bytes got;
    bool moved_seen = false;
    std::thread server([&] {
        Composition conn(Role::server, c.server, std::move(*server_udp));
        if (conn.handshake()) return;
        const auto deadline = Clock::now() + std::chrono::seconds(30);
        while (Clock::now() < deadline && !conn.engine().stream().peer_finished()) {
            auto m = conn.receive_message(std::chrono::milliseconds(50));
            if (m) got.insert(got.end(), m->begin(), m->end());
            while (auto e = conn.next_event()) moved_seen |= e->kind == EventKind::peer_address_changed;
        }
        (void)conn.send(as_bytes("done"));
        (void)conn.engine().close(Clock::now());
        while (Clock::now() < deadline && !conn.engine().is_closed()) (void)conn.receive_message(std::chrono::milliseconds(50));
    });
    auto client_udp = Udp::connect(server_ep);
    REQUIRE(client_udp);
    Composition client(Role::client, c.client, std::move(*client_udp));
    REQUIRE_FALSE(client.handshake());
    const auto old_port = client.transport().local_port();
    auto drain = [&](auto until) {
        const auto deadline = Clock::now() + std::chrono::seconds(30);
        Bytes reply;
        while (Clock::now() < deadline && !until()) {
            auto m = client.receive_message(std::chrono::milliseconds(20));
            if (m) reply.insert(reply.end(), m->begin(), m->end());
        }
        return reply;
    };
    REQUIRE_FALSE(client.send(first));
    drain([&] { return client.engine().stream().bytes_acknowledged() == first.size(); });
    // A new socket: a new source port, as after a NAT rebinding or a network change.
    auto moved_udp = Udp::connect(server_ep);
    REQUIRE(moved_udp);
    client.transport() = std::move(*moved_udp);
    CHECK(client.transport().local_port() != old_port);
    REQUIRE_FALSE(client.send(second));
    (void)client.engine().close(Clock::now());
    const Bytes reply = drain([&] { return client.engine().is_closed(); });
    server.join();
    CHECK(client.engine().is_closed());
    CHECK(std::string(reply.begin(), reply.end()) == "done");  // the server's answer found the new address
    Bytes both = first;
    both.insert(both.end(), second.begin(), second.end());
    CHECK(got == both);
    CHECK(moved_seen);
}

TEST_CASE("curvecp: a stream ended with the failure flag fails the peer's connection (peer_failed)") {
    Pair pair(make_configs());
    REQUIRE(pair.handshake());
    REQUIRE_FALSE(pair.client.send(pattern(2500), pair.now));
    REQUIRE_FALSE(pair.client.abort(pair.now));
    REQUIRE(pair.run_until([&] { return bool(pair.server.failure()); }));
    CHECK(pair.server.failure() == curvecp::Error::peer_failed);
    CHECK(pair.server.failure() == condition::peer_aborted);
    CHECK(pair.server_received == pattern(2500));  // the data before the end still arrived
    CHECK(pair.server.is_closed());
}
