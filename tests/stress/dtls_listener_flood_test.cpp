// A running `tapsec listen dtls12` flooded with cookie-less ClientHellos and junk
// (issue 16, items 1 and 2), on loopback: 100,000 real ClientHellos from 16 source
// ports, each answered statelessly with a HelloVerifyRequest, plus 100,000 junk
// datagrams; the listener's RSS is read from /proc/PID/status before and after and
// must stay flat, and a real client (`tapsec connect dtls12`) started while a second
// flood runs must be served, and both ends exit 0 after a clean close.
// Bounded in count and time; no fixed sleeps; processes are ended by their PID.
#include <doctest/doctest.h>

#include <atomic>
#include <random>
#include <thread>

#include <tapsec/tapsec.hpp>

#include "stress/listener_probe.hpp"
#include "support/botan_tls_fixture.hpp"
#include "support/process.hpp"

using namespace tapsec;
using namespace std::chrono_literals;

namespace {

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

}  // namespace

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
    const Endpoint target = *Endpoint::parse("127.0.0.1", port);
    const Bytes hello = client_hello(f);

    std::vector<Udp> senders;
    for (std::size_t i = 0; i < sources; ++i) {
        auto udp = Udp::bind("127.0.0.1", 0);
        REQUIRE(udp);
        senders.push_back(std::move(*udp));
    }
    std::mt19937_64 rng(0xd7150);
    Bytes junk;
    auto datagram = [&](std::size_t n) -> const Bytes& {
        if (n % 2 == 0) return hello;
        junk.resize(1 + rng() % 200);
        for (auto& b : junk) b = static_cast<std::uint8_t>(rng());
        if (n % 4 == 1) junk[0] = 22;  // a handshake content type in front of junk
        return junk;
    };
    // Paced to the listener's speed (what overflows the socket would never reach it).
    auto flood = [&](std::size_t from, std::size_t count) {
        for (std::size_t n = from; n < from + count; ++n) {
            (void)senders[n % sources].send_to(datagram(n), target);
            if (n % 128 == 127) test::wait_for_drained(port, 5s);
        }
    };

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
