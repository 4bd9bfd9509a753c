// QUIC connections, tapsec client against tapsec server in memory: the handshake over
// the unchanged TLS 1.3 engine, streams both ways, flow control, key update, close,
// idle timeout, and a lossy path with reordering and duplication.
#include <doctest/doctest.h>

#include "support/quic_pair.hpp"

using namespace tapsec;
using namespace tapsec::quic;

namespace {

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

}  // namespace

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

namespace {

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
                                           << p.client.stats().packets_lost + p.server.stats().packets_lost);
    return p.client.stats().bytes_retransmitted + p.server.stats().bytes_retransmitted;
}

}  // namespace

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

// ---- the composition: Secure<Tls13Handshake, QuicPacketProtection, Udp> --------------------------

#include <future>

#include <tapsec/core/secure.hpp>
#include <tapsec/transport/udp.hpp>
#include <tapsec/transport/tcp.hpp>

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
