// A running `tapsec listen dtls12` flooded with cookie-less ClientHellos and junk
// (issue 16, items 1 and 2), on loopback: 100,000 real ClientHellos from 16 source
// ports, each answered statelessly with a HelloVerifyRequest, plus 100,000 junk
// datagrams; the listener's RSS is read from /proc/PID/status before and after and
// must stay flat, and a real client (`tapsec connect dtls12`) started while a second
// flood runs must be served, and both ends exit 0 after a clean close.
// The concurrent server (`listen dtls12 --echo --forever`, tools/cli/datagram_server.hpp)
// gets the same kind of flood, smaller: flat memory, and four real clients served at once
// while it goes on.
// Bounded in count and time; no fixed sleeps; processes are ended by their PID.
#include <doctest/doctest.h>

#include <atomic>
#include <csignal>
#include <memory>
#include <random>
#include <thread>

#include <tapsec/tapsec.hpp>

#include "stress/listener_probe.hpp"
#include "support/botan_tls_fixture.hpp"
#include "support/process.hpp"

namespace dtls_listener_flood_test {

using namespace tapsec;
using namespace std::chrono_literals;

constexpr std::size_t hello_count = 100'000, junk_count = 100'000, sources = 16;
constexpr std::size_t rss_bound_kib = 2 * 1024;

/// A real cookie-less ClientHello (a client's first flight).
Bytes client_hello(const test::BotanTlsPki& pki) {
    botan_tls::ChannelEngine<botan_tls::Carrier::datagram> client(Role::client, pki.client_config());
    REQUIRE_FALSE(client.start(Clock::now()));
    auto hello = client.poll_transmit();
    REQUIRE(hello);
    return hello->data;
}

/// Sources that send real cookie-less ClientHellos and junk, alternately, to one port,
/// paced to the listener's speed (what overflows the socket would never reach it).
struct Flood {
    Endpoint target;
    Bytes hello;
    std::vector<Udp> senders;
    std::mt19937_64 rng{0xd7150};
    Bytes junk;

    Flood(std::uint16_t port, const test::BotanTlsPki& f) : target(*Endpoint::parse("127.0.0.1", port)), hello(client_hello(f)) {
        for (std::size_t i = 0; i < sources; ++i) {
            auto udp = Udp::bind("127.0.0.1", 0);
            REQUIRE(udp);
            senders.push_back(std::move(*udp));
        }
    }
    const Bytes& datagram(std::size_t n) {
        if (n % 2 == 0) return hello;
        junk.resize(1 + rng() % 200);
        for (auto& b : junk) b = static_cast<std::uint8_t>(rng());
        if (n % 4 == 1) junk[0] = 22;  // a handshake content type in front of junk
        return junk;
    }
    void send(std::size_t from, std::size_t count) {
        for (std::size_t n = from; n < from + count; ++n) {
            (void)senders[n % sources].send_to(datagram(n), target);
            if (n % 128 == 127) test::wait_for_drained(target.port(), 5s);
        }
    }
};


TEST_CASE("tapsec listen dtls12: 100k cookie-less ClientHellos and 100k junk datagrams keep it flat; a real client "
          "gets through during a flood") {
    test::BotanTlsPki f;
    REQUIRE(f.pki.ok());
    test::TempDir dir;
    const auto port = test::free_port(SOCK_DGRAM);
    test::Process listener(std::vector<std::string>({TAPSEC_TOOL_PATH, "listen", "dtls12", "127.0.0.1:" + std::to_string(port), "--cert",
                                           f.server.certificate, "--key", f.server.key}),
                           dir.file("l.log"));
    REQUIRE(listener.wait_for_output("listening", 10s));
    REQUIRE(test::wait_for_udp_listener(port));
    Flood flood_source(port, f);
    const Endpoint target = flood_source.target;
    const Bytes& hello = flood_source.hello;
    auto& senders = flood_source.senders;
    auto flood = [&](std::size_t from, std::size_t count) { flood_source.send(from, count); };

    flood(0, 10'000);  // warm-up
    REQUIRE(test::wait_for_drained(port));
    const std::size_t before = test::rss_kib(listener.pid());
    REQUIRE(before > 0);
    const auto started = Clock::now();
    flood(10'000, hello_count + junk_count);
    REQUIRE(test::wait_for_drained(port));
    const auto elapsed = Clock::now() - started;
    REQUIRE_MESSAGE(listener.running(), listener.output());
    const std::size_t after = test::rss_kib(listener.pid());
    MESSAGE("listener RSS " << before << " KiB before, " << after << " KiB after " << hello_count
                            << " cookie-less ClientHellos and " << junk_count << " junk datagrams in "
                            << std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count() << " ms");
    CHECK(after <= before + rss_bound_kib);
    // Every ClientHello was answered (statelessly) to its own sender: the sockets that
    // sent hellos (the even-numbered ones) hold HelloVerifyRequests, as many as fit.
    Bytes reply(2048);
    Endpoint from;
    auto answered = senders[2].receive_from(reply, Clock::now() + 2s, from);
    REQUIRE(answered);
    auto records = dtls::parse_datagram(ByteView(reply.data(), *answered));
    REQUIRE(records);
    CHECK(records->front().fragment[0] == dtls::hello_verify_request_type);
    CHECK(listener.output().find("accepted") == std::string::npos);  // nothing bound the listener

    // A real client while a second flood runs.
    std::atomic<bool> stop{false};
    std::atomic<std::size_t> sent{0};
    std::thread attacker([&] {
        const auto give_up = Clock::now() + 30s;
        for (std::size_t n = 0; !stop && Clock::now() < give_up; ++n) {
            (void)senders[n % sources].send_to(hello, target);
            ++sent;
            if (n % 16 == 15) std::this_thread::sleep_for(1ms);  // pacing (at most ~16k/s), not synchronisation
        }
    });
    REQUIRE(test::wait_until([&] { return sent >= 2000; }, 10s));  // the flood is on before the client starts
    test::Process client(std::vector<std::string>({TAPSEC_TOOL_PATH, "connect", "dtls12", "127.0.0.1:" + std::to_string(port), "--CAfile",
                                         f.pki.ca().certificate, "--servername", "localhost", "--timeout", "20"}),
                         dir.file("c.log"));
    const bool accepted = listener.wait_for_output("tapsec: accepted", 25s);
    bool through = false;
    if (accepted) {
        client.write_stdin("through the flood\n");
        through = listener.wait_for_output("through the flood", 10s);
    }
    stop = true;
    attacker.join();
    MESSAGE("second flood: " << sent.load() << " ClientHellos while the client connected");
    REQUIRE_MESSAGE(accepted, listener.output() << client.output());
    CHECK(through);
    client.close_stdin();
    CHECK(client.wait(15s) == 0);
    CHECK(listener.wait(15s) == 0);
}

TEST_CASE("tapsec listen dtls12 --echo (concurrent): a flood of cookie-less ClientHellos and junk keeps it flat; four "
          "real clients are served at once during a flood") {
    test::BotanTlsPki f;
    REQUIRE(f.pki.ok());
    test::TempDir dir;
    const auto port = test::free_port(SOCK_DGRAM);
    test::Process listener(test::tapsec_command({"listen", "dtls12", "127.0.0.1:" + std::to_string(port), "--cert",
                                                 f.server.certificate, "--key", f.server.key, "--echo", "--forever"}),
                           dir.file("l.log"));
    REQUIRE(listener.wait_for_output("listening", 10s));
    REQUIRE(test::wait_for_udp_listener(port));
    Flood flood(port, f);
    constexpr std::size_t flood_count = 40'000;
    flood.send(0, 5'000);  // warm-up
    REQUIRE(test::wait_for_drained(port));
    const std::size_t before = test::rss_kib(listener.pid());
    REQUIRE(before > 0);
    const auto started = Clock::now();
    flood.send(5'000, flood_count);
    REQUIRE(test::wait_for_drained(port));
    const auto elapsed = Clock::now() - started;
    REQUIRE_MESSAGE(listener.running(), listener.output());
    const std::size_t after = test::rss_kib(listener.pid());
    MESSAGE("concurrent listener RSS " << before << " KiB before, " << after << " KiB after " << flood_count
                                       << " datagrams (half cookie-less ClientHellos, half junk) in "
                                       << std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count() << " ms");
    CHECK(after <= before + rss_bound_kib);
    CHECK(listener.output().find("accepted") == std::string::npos);  // no state for anyone

    std::atomic<bool> stop{false};
    std::thread attacker([&] {
        const auto give_up = Clock::now() + 30s;
        for (std::size_t n = 0; !stop && Clock::now() < give_up; ++n) {
            (void)flood.senders[n % sources].send_to(flood.datagram(n), flood.target);
            if (n % 16 == 15) std::this_thread::sleep_for(1ms);  // pacing (at most ~16k/s), not synchronisation
        }
    });
    constexpr int clients = 4;
    std::vector<std::unique_ptr<test::Process>> peers;
    for (int i = 0; i < clients; ++i)
        peers.push_back(std::make_unique<test::Process>(
            test::tapsec_command({"connect", "dtls12", "127.0.0.1:" + std::to_string(port), "--CAfile", f.pki.ca().certificate,
                                  "--servername", "localhost", "--timeout", "20"}),
            dir.file("c" + std::to_string(i) + ".log")));
    const bool accepted = listener.wait_for_count("accepted:", clients, 25s);
    for (int i = 0; accepted && i < clients; ++i) peers[i]->write_stdin("through the flood " + std::to_string(i) + "\n");
    for (int i = 0; accepted && i < clients; ++i)
        CHECK_MESSAGE(peers[i]->wait_for_output("through the flood " + std::to_string(i), 10s), peers[i]->output());
    stop = true;
    attacker.join();
    REQUIRE_MESSAGE(accepted, listener.output());
    for (auto& peer : peers) peer->close_stdin();  // all at once: each lingers a moment after its close_notify
    for (auto& peer : peers) CHECK_MESSAGE(peer->wait(15s) == 0, peer->output());
    ::kill(listener.pid(), SIGTERM);
    CHECK_MESSAGE(listener.wait(10s) == 0, listener.output());
}

}  // namespace dtls_listener_flood_test
