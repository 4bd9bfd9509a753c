// QUIC connections, tapsec client against tapsec server in memory: the handshake over
// the unchanged TLS 1.3 engine, streams both ways, flow control, key update, close,
// idle timeout, and a lossy path with reordering and duplication.
#include <doctest/doctest.h>

#include <future>

#include <tapsec/core/secure.hpp>
#include <tapsec/transport/tcp.hpp>
#include <tapsec/transport/udp.hpp>

#include "support/quic_pair.hpp"

// Everything file-local in one namespace named after the file (the tests' unity build).
namespace quic_connection_test {

using namespace tapsec;
using namespace tapsec::quic;

Bytes pattern(std::size_t n, std::uint8_t seed) {
    Bytes b(n);
    for (std::size_t i = 0; i < n; ++i) b[i] = static_cast<std::uint8_t>(seed + i * 31 + (i >> 8));
    return b;
}

/// Reads everything that arrived on each stream of `c` into `into`.
void drain(quic::Connection<>& c, std::map<std::uint64_t, Bytes>& into, std::map<std::uint64_t, bool>* fins = nullptr) {
    while (auto s = c.poll_stream()) {
        append(into[s->id], s->data);
        if (s->fin && fins) (*fins)[s->id] = true;
    }
}

TEST_CASE("QUIC: handshake in memory, both ends agree, data both ways on the default stream") {
    test::TestPki pki;
    REQUIRE(pki.ok());
    test::QuicPair p(test::quic_configs(pki));
    REQUIRE_FALSE(p.client.start(p.now));
    REQUIRE(p.run([&] { return p.client.is_established() && p.server.is_established(); }));
    CHECK(p.client.session_info().alpn == "tapsec");
    CHECK(p.server.session_info().alpn == "tapsec");
    CHECK(p.client.session_info().peer.authenticated);
    REQUIRE(p.client.peer_transport_parameters());
    CHECK(p.client.peer_transport_parameters()->initial_max_data == quic::Settings{}.initial_max_data);
    REQUIRE(p.run([&] { return p.client.handshake_confirmed(); }));

    REQUIRE_FALSE(p.client.send(as_bytes("hello server"), p.now));
    Bytes got;
    REQUIRE(p.run([&] {
        while (auto v = p.server.poll_plaintext()) append(got, *v);
        return got.size() == 12;
    }));
    CHECK(std::string(got.begin(), got.end()) == "hello server");
    REQUIRE_FALSE(p.server.send(as_bytes("hello client"), p.now));
    got.clear();
    REQUIRE(p.run([&] {
        while (auto v = p.client.poll_plaintext()) append(got, *v);
        return got.size() == 12;
    }));
    CHECK(std::string(got.begin(), got.end()) == "hello client");

    // A clean close: both ends see it, no error.
    REQUIRE_FALSE(p.client.close(p.now));
    REQUIRE(p.run([&] { return p.client.is_closed() && p.server.is_closed(); }));
    CHECK_FALSE(p.client.error());
    CHECK_FALSE(p.server.error());
    REQUIRE(p.server.peer_close());
    CHECK(p.server.peer_close()->second == 0);
}

/// Four client streams and four server streams of `size` bytes each over `path`;
/// checks every byte and returns the retransmitted byte count.
std::uint64_t transfer(test::TestPki& pki, std::size_t size, test::PathModel path) {
    test::QuicPair p(test::quic_configs(pki), {}, {}, path);
    REQUIRE_FALSE(p.client.start(p.now));
    REQUIRE(p.run([&] { return p.client.is_established() && p.server.is_established(); }));
    std::vector<std::uint64_t> ids;
    for (int i = 0; i < 4; ++i) {
        auto id = p.client.open_stream(true);
        REQUIRE(id);
        ids.push_back(*id);
        REQUIRE_FALSE(p.client.stream_send(*id, pattern(size, static_cast<std::uint8_t>(i)), true, p.now));
    }
    std::map<std::uint64_t, Bytes> at_server, at_client;
    std::map<std::uint64_t, bool> server_fins, client_fins;
    bool answered = false;
    REQUIRE(p.run(
        [&] {
            drain(p.server, at_server, &server_fins);
            drain(p.client, at_client, &client_fins);
            if (!answered && server_fins.size() == 4) {
                // The server answers on the same streams: data in both directions.
                for (auto id : ids)
                    REQUIRE_FALSE(p.server.stream_send(id, pattern(size, static_cast<std::uint8_t>(id + 100)), true, p.now));
                answered = true;
            }
            return client_fins.size() == 4;
        },
        std::chrono::minutes(10)));
    for (std::size_t i = 0; i < ids.size(); ++i) {
        CHECK(at_server[ids[i]] == pattern(size, static_cast<std::uint8_t>(i)));
        CHECK(at_client[ids[i]] == pattern(size, static_cast<std::uint8_t>(ids[i] + 100)));
    }
    MESSAGE("retransmitted bytes: client " << p.client.stats().bytes_retransmitted << ", server "
                                           << p.server.stats().bytes_retransmitted << "; lost packets: "
                                           << p.client.stats().packets_lost + p.server.stats().packets_lost
                                           << "; pacing waits: " << p.client.stats().pacing_waits + p.server.stats().pacing_waits
                                           << "; persistent congestion: "
                                           << p.client.stats().persistent_congestion + p.server.stats().persistent_congestion);
    return p.client.stats().bytes_retransmitted + p.server.stats().bytes_retransmitted;
}

TEST_CASE("QUIC: 4 concurrent streams both ways on a clean path") {
    test::TestPki pki;
    REQUIRE(pki.ok());
    CHECK(transfer(pki, 200'000, {}) == 0);
}

TEST_CASE("QUIC: 4 concurrent streams both ways with 5% loss, reordering and duplication") {
    test::TestPki pki;
    REQUIRE(pki.ok());
    test::PathModel path;
    path.loss = 0.05;
    path.reorder = 0.05;
    path.duplicate = 0.05;
    path.seed = 7;
    CHECK(transfer(pki, 300'000, path) > 0);  // losses were repaired by retransmission
}

// ---- RFC 9002 7.7 pacing and 7.6 persistent congestion --------------------------------------------

TEST_CASE("QUIC pacer: a burst of 10 datagrams, then one per 1200 B * srtt / (1.25 * cwnd), refilled when idle") {
    const Instant t0 = Instant{} + std::chrono::seconds(100);
    const std::size_t window = 120'000;
    const Duration srtt = std::chrono::milliseconds(10);
    // 1200 * 10 ms / (1.25 * 120000) = 80 us.
    CHECK(Pacer::interval(1200, window, srtt) == std::chrono::microseconds(80));
    CHECK(Pacer::interval(1200, 2 * window, srtt) == std::chrono::microseconds(40));  // the rate follows the window
    CHECK(Pacer::interval(1200, window, Duration(0)) == Duration(0));                 // no RTT: no rate

    Pacer pacer(10, 1200, Duration(0));  // a burst of 10 datagrams, whatever the rate
    int burst = 0;
    while (pacer.can_send(t0, window, srtt) && burst < 100) {
        pacer.on_sent(1200, t0, window, srtt);
        ++burst;
    }
    CHECK(burst == 10);
    // After the burst: one datagram per interval, each gap exactly the rate's.
    Instant now = t0;
    for (int i = 0; i < 50; ++i) {
        const Instant next = pacer.next_send_time(now, window, srtt);
        CHECK(next - now == std::chrono::microseconds(80));
        CHECK_FALSE(pacer.can_send(next - Duration(1), window, srtt));
        now = next;
        REQUIRE(pacer.can_send(now, window, srtt));
        pacer.on_sent(1200, now, window, srtt);
    }
    // Idle for longer than a burst takes: the bucket is full again, and no fuller.
    now += std::chrono::seconds(1);
    burst = 0;
    while (pacer.can_send(now, window, srtt) && burst < 100) {
        pacer.on_sent(1200, now, window, srtt);
        ++burst;
    }
    CHECK(burst == 10);
    // With a burst time of 1 ms (the default), a fast rate bursts 1 ms worth: at 8 us per
    // datagram, 125 datagrams; a slow one still its 10.
    for (const auto& [w, expected] : {std::pair{std::size_t{1'200'000}, 125}, std::pair{window, 12}, std::pair{std::size_t{12'000}, 10}}) {
        Pacer timed(10, 1200);
        int n = 0;
        while (timed.can_send(t0, w, srtt) && n < 1000) {
            timed.on_sent(1200, t0, w, srtt);
            ++n;
        }
        CHECK(n == expected);
    }
    // Burst 0 is pacing off.
    Pacer off(0, 1200);
    for (int i = 0; i < 100; ++i) off.on_sent(1200, t0, window, srtt);
    CHECK(off.can_send(t0, window, srtt));
}

TEST_CASE("QUIC persistent congestion: the lost span against 3 * (srtt + max(4 rttvar, 1 ms) + max_ack_delay)") {
    RttEstimator rtt;
    rtt.update(std::chrono::milliseconds(100), Duration(0), true, std::chrono::milliseconds(25));
    rtt.variation = std::chrono::milliseconds(10);
    // 3 * (100 + 40 + 25) ms.
    const Duration duration = persistent_congestion_duration(rtt, std::chrono::milliseconds(25));
    CHECK(duration == std::chrono::milliseconds(495));

    const Instant t0 = Instant{} + std::chrono::seconds(100);
    const Instant sample = t0 - std::chrono::milliseconds(50);
    struct Lost {
        std::uint64_t pn;
        int sent_ms;
        bool eliciting;
    };
    struct Row {
        const char* name;
        std::vector<Lost> lost;
        std::optional<Instant> first_rtt_sample;
        bool persistent;
    };
    const std::vector<Row> rows = {
        {"span below the duration", {{10, 0, true}, {11, 494, true}}, sample, false},
        {"span at the duration", {{10, 0, true}, {11, 495, true}}, sample, true},
        {"span above the duration", {{10, 0, true}, {11, 200, true}, {12, 900, true}}, sample, true},
        {"no RTT sample yet", {{10, 0, true}, {11, 900, true}}, std::nullopt, false},
        {"first end sent before the first RTT sample", {{10, 0, true}, {11, 900, true}}, t0 + std::chrono::milliseconds(1),
         false},
        {"last end not ack-eliciting", {{10, 0, true}, {11, 300, true}, {12, 900, false}}, sample, false},
        {"first end not ack-eliciting", {{10, 0, false}, {11, 300, true}, {12, 700, true}}, sample, false},
        {"non-ack-eliciting packet between two ends", {{10, 0, true}, {11, 300, false}, {12, 600, true}}, sample, true},
        {"an acknowledged packet between (a gap)", {{10, 0, true}, {12, 900, true}}, sample, false},
        {"a single lost packet", {{10, 0, true}}, sample, false},
    };
    for (const auto& row : rows) {
        CAPTURE(row.name);
        PersistentCongestionCheck check(duration, row.first_rtt_sample);
        for (const auto& l : row.lost) check.on_lost(l.pn, t0 + std::chrono::milliseconds(l.sent_ms), l.eliciting);
        CHECK(check.found() == row.persistent);
    }
}

/// A pair past its handshake that moved `warm_up` bytes client -> server (the window has
/// grown in slow start, the RTT is known: 10 ms on this path).
std::unique_ptr<test::QuicPair> warmed_pair(test::TestPki& pki, std::size_t warm_up, quic::Settings client = {}) {
    auto p = std::make_unique<test::QuicPair>(test::quic_configs(pki), client);
    REQUIRE_FALSE(p->client.start(p->now));
    REQUIRE(p->run([&] { return p->client.handshake_confirmed() && p->server.handshake_confirmed(); }));
    REQUIRE_FALSE(p->client.send(pattern(warm_up, 1), p->now));
    std::size_t got = 0;
    REQUIRE(p->run([&] {
        while (auto v = p->server.poll_plaintext()) got += v->size();
        return got == warm_up && p->client.stream_finished_sending(0);
    }));
    return p;
}

TEST_CASE("QUIC pacing in a connection: the burst, then the paced gap on next_timeout; ACK-only packets are not held") {
    test::TestPki pki;
    REQUIRE(pki.ok());
    quic::Settings exact_burst;
    exact_burst.pacing_burst_time = std::chrono::microseconds(0);  // a burst of 10, not 1 ms worth
    auto p = warmed_pair(pki, 300'000, exact_burst);
    auto& c = p->client;
    REQUIRE(c.rtt().has_sample);
    const std::size_t window = c.congestion_window();
    REQUIRE(window > 20 * 1200);  // the window alone would allow far more than the burst
    // 2 ms later (less than the ACK delay and the PTO): the bucket the warm-up drew on is full again.
    Instant now = p->now + std::chrono::milliseconds(2);
    REQUIRE_FALSE(c.send(pattern(400'000, 2), now));
    Bytes buf(max_transmit_size);
    std::size_t burst = 0;
    while (auto t = c.poll_transmit(MutableByteView(buf))) {
        CHECK(t->size == 1200);
        ++burst;
    }
    CHECK(burst == 10);
    // Then one datagram each time next_timeout() says; the gap is 1200 B at 1.25 * cwnd / srtt.
    const double expected_ns = 1200.0 * static_cast<double>(c.rtt().smoothed.count()) / (1.25 * static_cast<double>(window));
    for (int i = 0; i < 20; ++i) {
        auto next = c.next_timeout();
        REQUIRE(next);
        const double gap = static_cast<double>((*next - now).count());
        CHECK(gap == doctest::Approx(expected_ns).epsilon(0.01));
        CHECK_FALSE(c.poll_transmit(MutableByteView(buf)));  // not before its time
        now = *next;
        c.on_timeout(now);
        std::size_t sent = 0;
        while (c.poll_transmit(MutableByteView(buf))) ++sent;
        CHECK(sent == 1);
    }
    CHECK(c.stats().pacing_waits > 0);
    // Two ack-eliciting packets from the server make an ACK due at once: it goes out
    // while the pacer still holds the data (an ACK-only packet, small).
    const auto held_until = c.next_timeout();
    for (std::string_view word : {"first", "second"}) {
        REQUIRE_FALSE(p->server.send(as_bytes(word), now));
        auto t = p->server.poll_transmit(MutableByteView(buf));
        REQUIRE(t);
        REQUIRE_FALSE(c.receive(ByteView(buf.data(), t->size), p->server_ep, now));
    }
    auto ack = c.poll_transmit(MutableByteView(buf));
    REQUIRE(ack);
    CHECK(ack->size < 100);
    CHECK_FALSE(c.poll_transmit(MutableByteView(buf)));  // the data still waits
    CHECK(c.next_timeout() == held_until);
}

TEST_CASE("QUIC persistent congestion in a connection: a 1 s blackout collapses the window, a 3 ms one does not") {
    test::TestPki pki;
    REQUIRE(pki.ok());
    for (const auto blackout : {std::chrono::milliseconds(3), std::chrono::milliseconds(1000)}) {
        CAPTURE(blackout.count());
        auto p = warmed_pair(pki, 300'000);
        const std::size_t window_before = p->client.congestion_window();
        // Every datagram either way is damaged (so dropped by its AEAD) for `blackout`.
        const Instant end = p->now + blackout;
        p->tamper = [&](Bytes& d, bool) {
            if (p->now < end) d[d.size() / 2] ^= 0x01;
        };
        REQUIRE_FALSE(p->client.send(pattern(200'000, 3), p->now));
        std::optional<std::size_t> window_at_detection;
        std::size_t got = 0;
        REQUIRE(p->run([&] {
            if (!window_at_detection && p->client.stats().persistent_congestion > 0)
                window_at_detection = p->client.congestion_window();
            while (auto v = p->server.poll_plaintext()) got += v->size();
            return got == 200'000;
        }));
        if (blackout < std::chrono::milliseconds(100)) {
            CHECK(p->client.stats().persistent_congestion == 0);
            CHECK(p->client.stats().packets_lost > 0);
        } else {
            CHECK(p->client.stats().pto_count >= 3);
            CHECK(p->client.stats().persistent_congestion == 1);
            REQUIRE(window_at_detection);
            CHECK(*window_at_detection == 2 * 1200);  // the minimum window
            CHECK(window_before > 10 * *window_at_detection);
        }
        MESSAGE("blackout " << blackout.count() << " ms: lost " << p->client.stats().packets_lost << ", PTOs "
                            << p->client.stats().pto_count << ", persistent congestion "
                            << p->client.stats().persistent_congestion << ", window before " << window_before
                            << ", at detection " << window_at_detection.value_or(0) << ", now "
                            << p->client.congestion_window());
    }
}

// ---- the composition: Secure<Tls13Handshake, QuicPacketProtection, Udp> --------------------------

using QuicOverUdp = Secure<Tls13Handshake, QuicPacketProtection, Udp>;
static_assert(std::is_same_v<QuicOverUdp::Engine, quic::Connection<crypto::Botan2>>,
              "the TLS 1.3 handshake policy runs inside the QUIC connection its record names");
static_assert(CallerBufferEngine<QuicOverUdp::Engine> && ViewReceiveEngine<QuicOverUdp::Engine>);
static_assert(!Composable<Tls13Handshake, QuicPacketProtection, Tcp>,
              "QUIC packet protection needs a datagram transport");

TEST_CASE("QUIC: Secure<Tls13Handshake, QuicPacketProtection, Udp> over UDP loopback, echo and clean close") {
    test::TestPki pki;
    REQUIRE(pki.ok());
    auto configs = test::quic_configs(pki);
    auto server_socket = Udp::bind("127.0.0.1", 0);
    REQUIRE(server_socket);
    const auto port = server_socket->local_port();
    auto server_done = std::async(std::launch::async, [&]() -> std::string {
        QuicOverUdp server(Role::server, configs.server, std::move(*server_socket));
        if (auto ec = server.handshake()) return "server handshake: " + ec.message();
        auto m = server.receive_message(std::chrono::seconds(10));
        if (!m) return "server receive: " + m.error().message();
        if (auto ec = server.send(*m)) return "server send: " + ec.message();
        auto end = server.receive_message(std::chrono::seconds(10));  // the client's close
        if (!end) return "server close: " + end.error().message();
        return end->empty() ? "" : "data after the echo";
    });
    auto client_socket = Udp::connect(*Endpoint::parse("127.0.0.1", port));
    REQUIRE(client_socket);
    QuicOverUdp client(Role::client, configs.client, std::move(*client_socket));
    REQUIRE_FALSE(client.handshake());
    CHECK(client.info().alpn == "tapsec");
    REQUIRE_FALSE(client.send(as_bytes("ping over QUIC")));
    auto echo = client.receive_message(std::chrono::seconds(10));
    REQUIRE(echo);
    CHECK(std::string(echo->begin(), echo->end()) == "ping over QUIC");
    client.close();
    CHECK(server_done.get() == "");
}

}  // namespace quic_connection_test
