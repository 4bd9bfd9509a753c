// taps::initiate() over loopback: QUIC and TLS 1.3 over TCP raced with staggered starts
// (include/tapsec/taps/race.hpp), with real servers of each composition on one port
// number (TCP and UDP). Every server is bounded by its own timeouts; nothing sleeps.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <future>
#include <iterator>

#include "interop/selection_example.hpp"
#include "support/quic_pair.hpp"
#include "support/doc_example.hpp"

using namespace tapsec;

namespace selection_race_test {

using Tls13 = Secure<Tls13Handshake, AeadRecord, Tcp>;
using Quic = Secure<Tls13Handshake, QuicPacketProtection, Udp>;

constexpr auto server_wait = std::chrono::seconds(3);

/// Serves one connection: echoes the first message prefixed with `tag`, then waits for
/// the close. Returns "served", "idle" (nobody came), or what went wrong.
template <class S>
std::string serve_one(S& server, const std::string& tag) {
    if (auto ec = server.handshake()) return tag + " handshake: " + ec.message();
    auto m = server.receive_message(server_wait);
    if (!m) return tag + " receive: " + m.error().message();
    const std::string prefix = tag + ":";
    Bytes reply(prefix.begin(), prefix.end());
    reply.insert(reply.end(), m->begin(), m->end());
    if (auto ec = server.send(reply)) return tag + " send: " + ec.message();
    auto end = server.receive_message(server_wait);
    if (!end) return tag + " close: " + end.error().message();
    return "served";
}

std::future<std::string> tls_server(TcpListener& listener, tls13::Config config) {
    return std::async(std::launch::async, [&listener, config]() -> std::string {
        auto tcp = listener.accept(server_wait);
        if (!tcp) return "idle";
        Tls13 server(Role::server, config, std::move(*tcp));
        return serve_one(server, "tls13");
    });
}

std::future<std::string> quic_server(Udp socket, tls13::Config config) {
    return std::async(std::launch::async, [socket = std::move(socket), config]() mutable -> std::string {
        // Nobody came: the first read times out without a datagram.
        pollfd p{socket.native_handle(), POLLIN, 0};
        if (::poll(&p, 1, static_cast<int>(std::chrono::milliseconds(server_wait).count())) <= 0) return "idle";
        Quic server(Role::server, config, std::move(socket));
        return serve_one(server, "quic");
    });
}

struct Fixture {
    test::TestPki pki;
    test::QuicConfigs configs = test::quic_configs(pki);
    Fixture() {
        configs.server.handshake_timeout = server_wait;
        configs.client.handshake_timeout = server_wait;
    }
};


TEST_CASE("selection race: the UDP candidate has no server, so TLS over TCP (started 250 ms later) wins") {
    Fixture f;
    REQUIRE(f.pki.ok());
    auto listener = TcpListener::bind("127.0.0.1", 0);
    REQUIRE(listener);
    auto tls = tls_server(*listener, f.configs.server);
    std::string error, protocol;
    const auto began = Clock::now();
    const std::string reply = example::ask("127.0.0.1", listener->port(), f.configs.client, "hello", error, protocol);
    const auto took = Clock::now() - began;
    CHECK(error == "");
    CHECK(protocol == "tls13");
    CHECK(reply == "tls13:hello");
    CHECK(took >= std::chrono::milliseconds(250));  // QUIC ran alone for the stagger
    CHECK(tls.get() == "served");
}

TEST_CASE("selection race: both can connect, the first-ranked (QUIC) wins and TLS is never started") {
    Fixture f;
    REQUIRE(f.pki.ok());
    auto listener = TcpListener::bind("127.0.0.1", 0);
    REQUIRE(listener);
    auto udp = Udp::bind("127.0.0.1", listener->port());
    REQUIRE(udp);
    auto tls = tls_server(*listener, f.configs.server);
    auto quic = quic_server(std::move(*udp), f.configs.server);

    auto outcome = taps::initiate<example::Choice>(taps::Remote{"127.0.0.1", listener->port()}, f.configs.client);
    REQUIRE(outcome);
    CHECK(outcome.name == "quic");
    CHECK(outcome.winner == 1);  // the candidate list's index
    REQUIRE(outcome.attempts.size() == 2);
    CHECK(outcome.attempts[0].won);
    CHECK_FALSE(outcome.attempts[1].started);
    auto* connection = outcome.get<1>();
    REQUIRE(connection != nullptr);
    REQUIRE_FALSE(connection->send(as_bytes("over quic")));
    auto reply = connection->receive_message(std::chrono::seconds(5));
    REQUIRE(reply);
    CHECK(std::string(reply->begin(), reply->end()) == "quic:over quic");
    connection->close();
    CHECK(quic.get() == "served");
    CHECK(tls.get() == "idle");
}

TEST_CASE("selection race: started together, the first established wins and the other is cancelled") {
    Fixture f;
    REQUIRE(f.pki.ok());
    auto listener = TcpListener::bind("127.0.0.1", 0);
    REQUIRE(listener);
    auto udp = Udp::bind("127.0.0.1", listener->port());
    REQUIRE(udp);
    auto tls = tls_server(*listener, f.configs.server);
    auto quic = quic_server(std::move(*udp), f.configs.server);

    taps::RaceOptions options;
    options.stagger = std::chrono::milliseconds(0);
    std::string error, protocol;
    const std::string reply = example::ask("127.0.0.1", listener->port(), f.configs.client, "both", error, protocol, options);
    CHECK(error == "");
    REQUIRE((protocol == "quic" || protocol == "tls13"));
    CHECK(reply == protocol + ":both");
    // The winner's server served; the loser's saw its client go away (never "served").
    const std::string quic_result = quic.get(), tls_result = tls.get();
    CHECK((protocol == "quic" ? quic_result : tls_result) == "served");
    CHECK((protocol == "quic" ? tls_result : quic_result) != "served");
}

TEST_CASE("selection race: when the running attempt fails (TCP refused), the next starts at once, not after the stagger") {
    Fixture f;
    REQUIRE(f.pki.ok());
    // Avoiding connection mobility ranks TLS 1.3 over TCP first (both pad and both carry
    // early data, so neither LHP nor ED separates them; CM needs QUIC's datagrams).
    static_assert(!Tls13::has<feature::CM> && Quic::has<feature::CM>);
    using TlsFirst = taps::Selection<taps::properties<taps::require<taps::reliable_stream>, taps::avoid<feature::CM>>,
                                     taps::candidates<taps::candidate<"quic", Quic>, taps::candidate<"tls13", Tls13>>>;
    static_assert(taps::best<TlsFirst>::name == "tls13");
    auto udp = Udp::bind("127.0.0.1", 0);  // a QUIC server; nothing listens on this TCP port
    REQUIRE(udp);
    const auto port = udp->local_port();
    auto quic = quic_server(std::move(*udp), f.configs.server);
    taps::RaceOptions options;
    options.stagger = std::chrono::seconds(2);  // long: a start after it would show
    // Each composition's config from a callable (here the same one, counted per type).
    int tls_configs = 0, quic_configs = 0;
    auto config_for = [&](auto composition) -> tls13::Config {
        if constexpr (std::is_same_v<typename decltype(composition)::type, Tls13>) ++tls_configs;
        else ++quic_configs;
        return f.configs.client;
    };
    auto outcome = taps::initiate<TlsFirst>(taps::Remote{"127.0.0.1", port}, config_for, options);
    CHECK(tls_configs == 1);
    CHECK(quic_configs == 1);
    REQUIRE(outcome);
    CHECK(outcome.name == "quic");
    REQUIRE(outcome.attempts.size() == 2);
    CHECK(outcome.attempts[0].name == "tls13");
    CHECK(outcome.attempts[0].error == make_error_code(Errc::connection_refused));
    CHECK(outcome.attempts[1].started_after < std::chrono::milliseconds(500));
    auto* connection = outcome.get<0>();
    REQUIRE(connection != nullptr);
    REQUIRE_FALSE(connection->send(as_bytes("x")));
    auto reply = connection->receive_message(std::chrono::seconds(5));
    REQUIRE(reply);
    CHECK(std::string(reply->begin(), reply->end()) == "quic:x");
    connection->close();
    CHECK(quic.get() == "served");
}

TEST_CASE("selection race: nothing answers: one failure line per candidate, within the race's bound") {
    Fixture f;
    REQUIRE(f.pki.ok());
    std::uint16_t closed_port = 0;
    {  // a port nothing listens on (TCP refuses at once; UDP just stays silent)
        auto probe = TcpListener::bind("127.0.0.1", 0);
        REQUIRE(probe);
        closed_port = probe->port();
    }
    taps::RaceOptions options;
    options.timeout = std::chrono::milliseconds(800);
    const auto began = Clock::now();
    auto outcome = taps::initiate<example::Choice>(taps::Remote{"127.0.0.1", closed_port}, f.configs.client, options);
    const auto took = Clock::now() - began;
    CHECK_FALSE(outcome);
    CHECK(took < std::chrono::seconds(3));
    REQUIRE(outcome.attempts.size() == 2);
    CHECK(outcome.attempts[0].error == make_error_code(Errc::timed_out));          // quic
    CHECK(outcome.attempts[1].error == make_error_code(Errc::connection_refused));  // tls13
    const std::string line = outcome.failure();
    CHECK(line.find("quic: ") != std::string::npos);
    CHECK(line.find("tls13: ") != std::string::npos);
    CHECK(line.find('\n') == std::string::npos);
}

TEST_CASE("docs/selection.md shows exactly the example the tests run") {
    tapsec::test::check_doc_shows_file("docs/selection.md", "tests/interop/selection_example.hpp");
}

}  // namespace selection_race_test
