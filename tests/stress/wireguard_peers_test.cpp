// 200 WireGuard peers against one `tapsec listen wireguard` on loopback (issue 14,
// serving at scale): every peer completes a handshake and its datagrams come out of the
// listener (--udp-to mode: each inner UDP payload is a line on its stdout), and a line
// written to the listener goes back through the tunnel to a peer. Once with the default
// --cookie-rate (the crowd is under it: no cookies), once with --cookie-rate 50 (the
// listener answers most of the crowd with cookie replies; they retry with mac2 after
// REKEY_TIMEOUT and still all get in). Peers are this library's engines (one thread,
// one socket and loopback address each: tests/support/wireguard_crowd.hpp). Bounded:
// each phase has a deadline, the whole test well under 60 s; the listener is killed by
// its PID.
#include <doctest/doctest.h>

#include <set>

#include <tapsec/tapsec.hpp>

#include "stress/listener_probe.hpp"
#include "support/process.hpp"
#include "support/wireguard_crowd.hpp"

using namespace tapsec;
using namespace std::chrono_literals;

namespace wireguard_peers_test {

constexpr std::size_t peer_count = 200;
constexpr std::size_t datagrams_per_peer = 5;
using Crowd = test::WireGuardCrowd<crypto::Botan2>;

std::string payload(std::size_t peer, std::size_t k) { return "peer-" + std::to_string(peer) + "-" + std::to_string(k) + "\n"; }

/// The distinct "peer-I-K" lines the listener wrote.
std::set<std::string> delivered_lines(const std::string& log) {
    std::set<std::string> lines;
    for (std::size_t at = log.find("peer-"); at != std::string::npos; at = log.find("peer-", at + 1)) {
        const auto end = log.find('\n', at);
        if (end == std::string::npos) break;
        lines.insert(log.substr(at, end - at + 1));
    }
    return lines;
}

double percentile(std::vector<double> values, double p) {
    if (values.empty()) return 0;
    std::sort(values.begin(), values.end());
    return values[std::min(values.size() - 1, static_cast<std::size_t>(p * static_cast<double>(values.size())))];
}


TEST_CASE("tapsec listen wireguard: 200 peers on loopback handshake and deliver every datagram, with and without "
          "cookie replies") {
    for (const std::optional<unsigned> cookie_rate : {std::optional<unsigned>{}, std::optional<unsigned>{50}}) {
        CAPTURE(cookie_rate.value_or(0));
        test::TempDir dir;
        SecretArray<32> listener_key;
        crypto::Botan2::random(listener_key);
        const auto listener_public = wireguard::StaticIdentity<crypto::Botan2>::from_private(listener_key)->public_key;
        const auto port = test::free_port(SOCK_DGRAM);
        const Endpoint listener_ep = *Endpoint::parse("127.0.0.1", port);
        Crowd crowd(peer_count, listener_public, listener_ep);

        std::string config = "[Interface]\nPrivateKey = " + wireguard::encode_key(listener_key) + "\nAddress = 10.0.0.1/32\n";
        for (std::size_t i = 0; i < peer_count; ++i)
            config += "\n[Peer]\nPublicKey = " + wireguard::encode_key(crowd.member(i).public_key) +
                      "\nAllowedIPs = " + Crowd::inner_address(i).to_string() + "/32\n";
        test::write_file(dir.file("listen.conf"), config);
        std::vector<std::string> argv{TAPSEC_TOOL_PATH, "listen", "wireguard", "127.0.0.1:" + std::to_string(port),
                                      "--config", dir.file("listen.conf"), "--udp-to", "10.1.0.1:7000"};
        if (cookie_rate) argv.insert(argv.end(), {"--cookie-rate", std::to_string(*cookie_rate)});
        test::Process listener(argv, dir.file("listen.out"));
        REQUIRE_MESSAGE(test::wait_for_udp_listener(port), listener.output());

        std::vector<double> latencies_ms;
        crowd.on_handshake = [&](std::size_t, std::chrono::nanoseconds latency) {
            latencies_ms.push_back(std::chrono::duration<double, std::milli>(latency).count());
        };
        std::string back_to_peer0;
        crowd.on_packet = [&](std::size_t peer, ByteView packet) {
            if (auto udp = wireguard::parse_ipv4_udp_packet(packet); udp && peer == 0)
                back_to_peer0.append(udp->payload.begin(), udp->payload.end());
        };
        // All at once: each peer starts its handshake and stages its datagrams (sent as
        // soon as its session exists).
        const auto started = Clock::now();
        for (std::size_t i = 0; i < peer_count; ++i) {
            crowd.initiate(i);
            for (std::size_t k = 0; k < datagrams_per_peer; ++k)
                REQUIRE_FALSE(crowd.send(i, wireguard::make_ipv4_udp_packet(Crowd::inner_address(i), Crowd::listener_inner(),
                                                                              7000, 7000, as_bytes(payload(i, k)))));
        }
        const bool all_in = crowd.run_until([&] { return crowd.handshakes() >= peer_count; }, Clock::now() + 20s);
        const auto handshakes_took = Clock::now() - started;
        // The datagrams follow the handshakes; the crowd keeps running to answer keepalives.
        bool all_delivered = false;
        crowd.run_until([&] {
            all_delivered = delivered_lines(listener.output()).size() == peer_count * datagrams_per_peer;
            return all_delivered;
        }, Clock::now() + 10s);
        // The other direction: a line to the listener reaches peer 0 (10.1.0.1) through its session.
        listener.write_stdin("from-the-listener\n");
        const bool came_back =
            crowd.run_until([&] { return back_to_peer0.find("from-the-listener\n") != std::string::npos; }, Clock::now() + 10s);

        MESSAGE((cookie_rate ? "--cookie-rate " + std::to_string(*cookie_rate) : std::string("default --cookie-rate"))
                << ": " << crowd.handshakes() << " of " << peer_count << " handshakes in "
                << std::chrono::duration_cast<std::chrono::milliseconds>(handshakes_took).count() << " ms, p50 "
                << percentile(latencies_ms, 0.5) << " ms, p99 " << percentile(latencies_ms, 0.99) << " ms; "
                << crowd.cookie_replies_received() << " cookie replies; "
                << delivered_lines(listener.output()).size() << " of " << peer_count * datagrams_per_peer
                << " datagrams delivered");
        CHECK(all_in);
        CHECK(all_delivered);
        CHECK(came_back);
        if (cookie_rate) CHECK(crowd.cookie_replies_received() >= peer_count - 2 * *cookie_rate);  // most went through cookies
        else CHECK(crowd.cookie_replies_received() == 0);
        CHECK_MESSAGE(listener.running(), listener.output());
        listener.kill();
    }
}

}  // namespace wireguard_peers_test
