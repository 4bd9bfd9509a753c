// DTLS 1.2 through Botan: the datagram engine driven in memory with time passed in.
// Cookie exchange (and its binding to the client's address), retransmission from
// the caller's clock, fragment reassembly with reordering, anti-replay, out-of-order
// records, unknown epochs and malformed datagrams counted, mutual authentication,
// close; and the whole composition over MemoryDatagram at 20% loss.
#include <doctest/doctest.h>

#include <malloc.h>

#include <random>
#include <set>
#include <thread>

#include <tapsec/tapsec.hpp>

#include "support/botan_tls_fixture.hpp"

using namespace tapsec;
using namespace std::chrono_literals;
using Engine = botan_tls::ChannelEngine<botan_tls::Carrier::datagram>;

namespace dtls12_engine_test {

using Pki = test::BotanTlsPki;
using test::drain;
using test::feed;

using test::client_address;
using test::server_address;

/// First handshake message type in a datagram of epoch-0 handshake records.
int handshake_type(const Bytes& datagram) {
    auto records = dtls::parse_datagram(datagram);
    if (!records || records->front().type != dtls::ContentType::handshake || records->front().fragment.empty()) return -1;
    return records->front().fragment[0];
}

/// Runs a handshake on a virtual clock: when neither side has anything to send, time
/// jumps to the earliest retransmission timer (the engines never read a clock).
std::error_code run_handshake(Engine& client, Engine& server, bool reverse_each_flight = false) {
    Instant now = Clock::now();
    if (auto ec = client.start(now)) return ec;
    if (auto ec = server.start(now)) return ec;
    for (int i = 0; i < 40 && !(client.is_established() && server.is_established()); ++i) {
        auto to_server = drain(client);
        if (reverse_each_flight) std::reverse(to_server.begin(), to_server.end());
        if (auto ec = feed(server, to_server, client_address, now)) return ec;
        auto to_client = drain(server);
        if (reverse_each_flight) std::reverse(to_client.begin(), to_client.end());
        if (auto ec = feed(client, to_client, server_address, now)) return ec;
        if (to_server.empty() && to_client.empty()) {
            std::optional<Instant> next = client.next_timeout();
            if (auto s = server.next_timeout(); s && (!next || *s < *next)) next = s;
            if (!next) break;
            now = *next;
            if (auto ec = client.on_timeout(now)) return ec;
            if (auto ec = server.on_timeout(now)) return ec;
        }
    }
    feed(server, drain(client), client_address, now);
    return client.is_established() && server.is_established() ? std::error_code{} : make_error_code(Errc::timed_out);
}

Bytes text(std::string_view s) { return Bytes(s.begin(), s.end()); }


TEST_CASE("dtls12: handshake with a cookie exchange, data both ways, close") {
    Pki p;
    REQUIRE(p.pki.ok());
    Engine client(Role::client, p.client_config()), server(Role::server, p.server_config());
    REQUIRE(!client.start(Clock::now()));
    REQUIRE(!server.start(Clock::now()));
    auto hello = drain(client);
    REQUIRE(hello.size() == 1);
    CHECK(handshake_type(hello[0]) == 1);  // ClientHello
    REQUIRE(!feed(server, hello, client_address));
    auto verify = drain(server);
    REQUIRE(verify.size() == 1);
    CHECK(handshake_type(verify[0]) == 3);  // HelloVerifyRequest: no state kept yet
    REQUIRE(!feed(client, verify, server_address));

    auto ec = run_handshake(client, server);
    REQUIRE_MESSAGE(!ec, ec.message());
    CHECK(client.session_info().protocol == "DTLS 1.2");
    CHECK(client.session_info().group == "x25519");
    CHECK(client.session_info().peer.authenticated);

    REQUIRE(!client.send(text("datagram one"), Clock::now()));
    REQUIRE(!feed(server, drain(client), client_address));
    auto got = server.poll_application_data();
    REQUIRE(got);
    CHECK(*got == text("datagram one"));
    REQUIRE(!server.send(text("reply"), Clock::now()));
    REQUIRE(!feed(client, drain(server), server_address));
    CHECK(client.poll_application_data() == text("reply"));

    auto a = client.export_keying_material("EXPERIMENTAL-dtls", {}, 32);
    auto b = server.export_keying_material("EXPERIMENTAL-dtls", {}, 32);
    REQUIRE(a);
    REQUIRE(b);
    CHECK(*a == *b);

    REQUIRE(!client.close(Clock::now()));
    REQUIRE(!feed(server, drain(client), client_address));
    CHECK(server.is_closed());
}

TEST_CASE("dtls12: cookies are bound to the client's address and checked") {
    Pki p;
    Engine client(Role::client, p.client_config()), server(Role::server, p.server_config());
    REQUIRE(!client.start(Clock::now()));
    REQUIRE(!server.start(Clock::now()));
    REQUIRE(!feed(server, drain(client), client_address));
    REQUIRE(!feed(client, drain(server), server_address));  // HelloVerifyRequest
    auto with_cookie = drain(client);
    REQUIRE(with_cookie.size() == 1);
    CHECK(handshake_type(with_cookie[0]) == 1);

    SUBCASE("the right cookie from the right address gets a ServerHello") {
        REQUIRE(!feed(server, with_cookie, client_address));
        auto reply = drain(server);
        REQUIRE(!reply.empty());
        CHECK(handshake_type(reply[0]) == 2);
    }
    SUBCASE("the same ClientHello from another address is sent back to verify") {
        REQUIRE(!feed(server, with_cookie, *Endpoint::parse("10.9.8.7:5000")));
        auto reply = drain(server);
        REQUIRE(reply.size() == 1);
        CHECK(handshake_type(reply[0]) == 3);
    }
    SUBCASE("a tampered cookie is sent back to verify") {
        // ClientHello body: version(2) random(32) session_id<1> cookie<1>; after the
        // 13-byte record header and the 12-byte handshake header.
        Bytes forged = with_cookie[0];
        const std::size_t body = 13 + 12;
        const std::size_t cookie_length_at = body + 2 + 32 + 1 + forged[body + 34];
        REQUIRE(forged[cookie_length_at] > 0);
        forged[cookie_length_at + 1] ^= 0xff;
        REQUIRE(!feed(server, {forged}, client_address));
        auto reply = drain(server);
        REQUIRE(reply.size() == 1);
        CHECK(handshake_type(reply[0]) == 3);
    }
}

TEST_CASE("dtls12: retransmission is driven by the time passed in") {
    Pki p;
    auto cc = p.client_config();
    cc.initial_retransmit_timeout = 1000ms;
    cc.maximum_retransmit_timeout = 4000ms;
    Engine client(Role::client, cc);
    const Instant t0 = Clock::now();
    REQUIRE(!client.start(t0));
    REQUIRE(drain(client).size() == 1);  // lost
    REQUIRE(client.next_timeout());
    CHECK(*client.next_timeout() == t0 + 1000ms);
    REQUIRE(!client.on_timeout(t0 + 999ms));
    CHECK(drain(client).empty());  // not yet
    // The caller's clock, not Botan's: this runs long before a real second has passed.
    REQUIRE(!client.on_timeout(t0 + 1000ms));
    auto again = drain(client);
    REQUIRE(again.size() == 1);
    CHECK(handshake_type(again[0]) == 1);
    CHECK(client.retransmissions() == 1);
    CHECK(*client.next_timeout() == t0 + 1000ms + 2000ms);  // doubled
    REQUIRE(!client.on_timeout(t0 + 3000ms));
    CHECK(drain(client).size() == 1);
    CHECK(*client.next_timeout() == t0 + 3000ms + 4000ms);  // capped at the maximum
    REQUIRE(!client.on_timeout(t0 + 7000ms));
    CHECK(*client.next_timeout() == t0 + 7000ms + 4000ms);
    CHECK(client.retransmissions() == 3);
}

TEST_CASE("dtls12: fragmented flights reassembled when every flight arrives reversed") {
    Pki p;
    auto rsa = p.pki.issue("rsa", test::KeyType::rsa2048);
    auto sc = p.server_config();
    sc.identity = {rsa.certificate_pem(), rsa.key_pem()};
    sc.mtu = 256;  // forces the certificate across several fragments
    auto cc = p.client_config();
    cc.mtu = 256;
    Engine client(Role::client, cc), server(Role::server, sc);
    auto ec = run_handshake(client, server, true);
    REQUIRE_MESSAGE(!ec, ec.message() << " / " << client.failure_detail() << " / " << server.failure_detail());
    CHECK(client.session_info().cipher_suite.find("ECDHE_RSA") != std::string::npos);
}

TEST_CASE("dtls12: records out of order, replayed, tampered, from an unknown epoch, or not DTLS") {
    Pki p;
    Engine client(Role::client, p.client_config()), server(Role::server, p.server_config());
    REQUIRE(!run_handshake(client, server));
    for (const char* m : {"first", "second", "third"}) REQUIRE(!client.send(text(m), Clock::now()));
    auto records = drain(client);
    REQUIRE(records.size() == 3);

    SUBCASE("out of order: each record stands alone") {
        std::reverse(records.begin(), records.end());
        REQUIRE(!feed(server, records, client_address));
        CHECK(server.poll_application_data() == text("third"));
        CHECK(server.poll_application_data() == text("second"));
        CHECK(server.poll_application_data() == text("first"));
    }
    SUBCASE("a replayed record is delivered once") {
        REQUIRE(!feed(server, {records[0], records[0], records[1], records[0]}, client_address));
        CHECK(server.poll_application_data() == text("first"));
        CHECK(server.poll_application_data() == text("second"));
        CHECK_FALSE(server.poll_application_data());
    }
    SUBCASE("a tampered record is discarded and the connection lives on") {
        Bytes bad = records[0];
        bad.back() ^= 1;
        REQUIRE(!feed(server, {bad}, client_address));
        CHECK_FALSE(server.poll_application_data());
        CHECK_FALSE(server.is_closed());
        REQUIRE(!feed(server, {records[1]}, client_address));
        CHECK(server.poll_application_data() == text("second"));
    }
    SUBCASE("a record from an epoch this connection never had is dropped and counted") {
        Bytes future = records[0];
        future[3] = 0;
        future[4] = 7;  // epoch 7
        REQUIRE(!feed(server, {future}, client_address));
        CHECK_FALSE(server.poll_application_data());
        CHECK(server.dropped() == 1);
        CHECK(server.last_drop() == dtls::DtlsErrc::unknown_epoch);
    }
    SUBCASE("a datagram that is not DTLS is dropped and counted") {
        REQUIRE(!feed(server, {text("\x80 plainly not DTLS")}, client_address));
        REQUIRE(!feed(server, {Bytes(records[0].begin(), records[0].begin() + 20)}, client_address));
        CHECK(server.dropped() == 2);
        CHECK(server.last_drop() == dtls::DtlsErrc::malformed_record);
        REQUIRE(!feed(server, {records[2]}, client_address));
        CHECK(server.poll_application_data() == text("third"));
    }
}

TEST_CASE("dtls12: mutual authentication and certificate failures") {
    Pki p;
    auto sc = p.server_config();
    sc.require_client_certificate = true;
    sc.trust.ca_certificates_pem = {p.pki.ca().certificate_pem()};
    SUBCASE("accepted") {
        auto cc = p.client_config();
        cc.identity = {p.client.certificate_pem(), p.client.key_pem()};
        Engine client(Role::client, cc), server(Role::server, sc);
        REQUIRE(!run_handshake(client, server));
        CHECK(server.session_info().peer.subject.find("alice") != std::string::npos);
    }
    SUBCASE("refused without a certificate") {
        Engine client(Role::client, p.client_config()), server(Role::server, sc);
        CHECK(run_handshake(client, server));
        CHECK_FALSE(server.is_established());
    }
    SUBCASE("wrong name") {
        auto cc = p.client_config();
        cc.server_name = "elsewhere.example";
        Engine client(Role::client, cc), server(Role::server, p.server_config());
        CHECK(run_handshake(client, server) == Errc::certificate_name_mismatch);
    }
}

TEST_CASE("dtls12: Secure<Dtls12Handshake, DtlsRecord, MemoryDatagram> at 20% loss with reordering and duplication") {
    using Conn = Secure<Dtls12Handshake, DtlsRecord, MemoryDatagram>;
    static_assert(Conn::has<feature::dos_mitigation>);
    static_assert(Conn::has<feature::out_of_order_receipt>);
    static_assert(!Conn::has<feature::connection_mobility>);
    Pki p;
    for (std::uint64_t seed : {1u, 2u, 3u, 4u, 5u}) {
        CAPTURE(seed);
        auto [a, b] = MemoryDatagram::pair({0.20, 0.20, 0.10, seed});
        Conn client(Role::client, p.client_config(), std::move(a));
        Conn server(Role::server, p.server_config(), std::move(b));
        std::error_code server_ec;
        std::set<std::string> server_got;
        std::atomic<bool> done{false};
        std::thread t([&] {
            server_ec = server.handshake();
            while (!server_ec && !done) {
                auto m = server.receive_message(50ms);
                if (!m) {
                    if (m.error() != Errc::timed_out) server_ec = m.error();
                    continue;
                }
                if (m->empty()) break;
                server_got.insert(std::string(m->begin(), m->end()));
                if (auto send_ec = server.send(*m)) server_ec = send_ec;
            }
        });
        const auto start = Clock::now();
        auto ec = client.handshake();
        CHECK_MESSAGE(!ec, ec.message());
        std::set<std::string> echoed;
        int duplicates = 0;
        if (!ec) {
            for (int i = 0; i < 40; ++i) {
                REQUIRE(!client.send(as_bytes("message " + std::to_string(i))));
                auto m = client.receive_message(30ms);
                if (m && !m->empty()) duplicates += !echoed.insert(std::string(m->begin(), m->end())).second;
            }
            for (int i = 0; i < 10; ++i) {
                auto m = client.receive_message(30ms);
                if (m && !m->empty()) duplicates += !echoed.insert(std::string(m->begin(), m->end())).second;
            }
        }
        done = true;
        t.join();
        CHECK_MESSAGE(!server_ec, server_ec.message() << ": " << server.engine().failure_detail());
        MESSAGE("seed " << seed << ": handshake+echo " << std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count()
                        << " ms, retransmissions client " << client.engine().retransmissions() << " server "
                        << server.engine().retransmissions() << ", echoed " << echoed.size() << "/40");
        CHECK(duplicates == 0);  // the network duplicated; the replay window did not let it through
        CHECK(echoed.size() >= 10);  // about 0.8 * 0.8 of 40 expected
        for (const auto& e : echoed) CHECK(server_got.count(e) == 1);
    }
}

TEST_CASE("dtls12: losses Botan 2 alone would not survive") {
    Pki p;
    Engine client(Role::client, p.client_config()), server(Role::server, p.server_config());
    const Instant t0 = Clock::now();
    REQUIRE(!client.start(t0));
    REQUIRE(!server.start(t0));
    auto first_hello = drain(client);
    REQUIRE(!feed(server, first_hello, client_address, t0));
    REQUIRE(drain(server).size() == 1);  // HelloVerifyRequest, lost

    // The client retransmits its ClientHello; the server must answer it again.
    REQUIRE(!client.on_timeout(t0 + 100ms));
    auto again = drain(client);
    REQUIRE(again.size() == 1);
    REQUIRE(!feed(server, again, client_address, t0 + 100ms));
    auto verify = drain(server);
    REQUIRE(verify.size() == 1);
    CHECK(handshake_type(verify[0]) == 3);

    REQUIRE(!feed(client, verify, server_address, t0 + 100ms));
    REQUIRE(!feed(server, drain(client), client_address, t0 + 100ms));  // ClientHello with cookie
    auto server_flight = drain(server);
    REQUIRE(!server_flight.empty());
    CHECK(handshake_type(server_flight[0]) == 2);
    // A ClientHello the network delayed or duplicated arrives after the ServerHello:
    // dropped, not fatal (Botan would fail on its record version).
    CHECK(!feed(server, first_hello, client_address, t0 + 100ms));
    CHECK_FALSE(server.is_closed());

    REQUIRE(!feed(client, server_flight, server_address, t0 + 100ms));
    REQUIRE(!feed(server, drain(client), client_address, t0 + 100ms));
    REQUIRE(server.is_established());
    drain(server);  // the server's final flight (CCS, Finished), lost
    CHECK_FALSE(client.is_established());
    // The client retransmits its last flight; the established server replays its own.
    REQUIRE(client.next_timeout());
    REQUIRE(!client.on_timeout(*client.next_timeout()));
    REQUIRE(!feed(server, drain(client), client_address, t0 + 300ms));
    auto replay = drain(server);
    REQUIRE(!replay.empty());
    REQUIRE(!feed(client, replay, server_address, t0 + 300ms));
    CHECK(client.is_established());
    CHECK_FALSE(server.is_closed());
}

TEST_CASE("dtls12: session resumption through the session cache") {
    Pki p;
    auto cc = p.client_config();
    auto sc = p.server_config();
    cc.session_cache = std::make_shared<InMemorySessionCache>();
    cc.server_port = 4444;
    sc.session_cache = std::make_shared<InMemorySessionCache>();
    {
        Engine client(Role::client, cc), server(Role::server, sc);
        REQUIRE(!run_handshake(client, server));
        CHECK_FALSE(client.session_info().resumed);
    }
    Engine client(Role::client, cc), server(Role::server, sc);
    REQUIRE(!run_handshake(client, server));
    CHECK(client.session_info().resumed);
    CHECK(server.session_info().resumed);
    REQUIRE(!client.send(text("after resumption"), Clock::now()));
    REQUIRE(!feed(server, drain(client), client_address));
    CHECK(server.poll_application_data() == text("after resumption"));
}

TEST_CASE("dtls12: a listener flooded with a million junk datagrams stays within a fixed memory bound") {
    Pki p;
    Engine server(Role::server, p.server_config());
    Instant now = Clock::now();
    REQUIRE(!server.start(now));

    // Junk of every kind the adapter recognises before Botan: random bytes, truncated
    // headers, unknown content types and versions, oversized lengths, epochs this
    // connection can never have. Each is dropped and counted, nothing is kept.
    std::mt19937_64 rng(20261130);
    auto junk = [&](std::uint64_t i) {
        Bytes d(13 + rng() % 64);
        for (auto& b : d) b = static_cast<std::uint8_t>(rng());
        switch (i % 5) {
            case 0: break;                                  // random bytes
            case 1: d.resize(1 + rng() % 12); d[0] = 22; break;  // a header cut short
            case 2: d[0] = 22; d[1] = 0xfe; d[2] = 0xfd; d[3] = 0x00; d[4] = static_cast<std::uint8_t>(2 + rng() % 250);
                    d[11] = 0; d[12] = static_cast<std::uint8_t>(d.size() - 13); break;  // an unknown epoch
            case 3: d[0] = 22; d[1] = 0x03; d[2] = 0x03; break;  // a TLS, not DTLS, version
            case 4: d[0] = 23; d[1] = 0xfe; d[2] = 0xfd; d[11] = 0xff; d[12] = 0xff; break;  // length past the datagram
        }
        return d;
    };

    constexpr std::uint64_t flood = 1'000'000;
    std::size_t heap_before = 0, largest_queue = 0;
    for (std::uint64_t i = 0; i < flood; ++i) {
        if (i == 10'000) heap_before = mallinfo2().uordblks;  // after warm-up
        const Bytes d = junk(i);
        REQUIRE_FALSE(server.receive(d, client_address, now));
        largest_queue = std::max(largest_queue, server.pending_events());
    }
    const std::size_t heap_after = mallinfo2().uordblks;

    CHECK(server.dropped() == flood);
    CHECK_FALSE(server.poll_transmit());  // junk is never answered
    // Coalesced (core/bounded_queue.hpp): one pending dropped_packet event at a time, at
    // most one a second; dropped() has every one.
    CHECK(largest_queue <= 1);
    CHECK(largest_queue <= Engine::max_pending_events);
    CHECK(server.discarded_events() == 0);
    std::set<std::error_code> reasons;
    while (auto e = server.poll_event()) {
        CHECK(e->kind == EventKind::dropped_packet);
        CHECK(e->detail.empty());  // reason codes, no strings
        reasons.insert(e->reason);
    }
    CHECK(reasons.size() == 1);  // the flood's first reason; the injected clock never advanced a second
    CHECK(server.last_drop());   // the latest reason stays readable
    // The heap in use after 990,000 more junk datagrams: within 64 KiB of where it was.
    const auto growth = heap_after > heap_before ? heap_after - heap_before : 0;
    CAPTURE(growth);
    CHECK(growth < 64 * 1024);

    // And the listener still serves a real client.
    Engine client(Role::client, p.client_config());
    CHECK_FALSE(run_handshake(client, server));
}

}  // namespace dtls12_engine_test
