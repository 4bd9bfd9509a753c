// A junk flood against a running `tapsec listen wireguard` (issue 8, item 6): 200,000
// datagrams from a test sender on loopback (random bytes, transport headers with bad
// tags, initiations with bad and, rarely, valid mac1), with the listener's resident
// memory read from /proc/<pid>/status before and after. The RSS must stay within a
// fixed bound, the listener's own drop count (its --verbose report) must show that
// the flood reached its engine, and it must still accept a real handshake and deliver
// a packet afterwards. Bounded in time; the listener is killed by its PID.
#include <doctest/doctest.h>

#include <random>

#include <tapsec/tapsec.hpp>

#include "support/process.hpp"

using namespace tapsec;
using namespace std::chrono_literals;

namespace {

constexpr std::size_t flood_size = 200'000;
constexpr std::size_t rss_bound_kib = 4 * 1024;

/// VmRSS of a process in KiB (0 if unreadable).
std::size_t rss_kib(pid_t pid) {
    const std::string status = test::read_file("/proc/" + std::to_string(pid) + "/status");
    const auto at = status.find("VmRSS:");
    if (at == std::string::npos) return 0;
    return std::strtoull(status.c_str() + at + 6, nullptr, 10);
}

SecretArray<32> private_key() {
    SecretArray<32> k;
    crypto::Botan2::random(k);
    return k;
}

}  // namespace

TEST_CASE("tapsec listen wireguard under a 200k-datagram junk flood: bounded RSS, still serves a real peer") {
    test::TempDir dir;
    const auto listener_key = private_key(), peer_key = private_key();
    const auto listener_public = wireguard::StaticIdentity<crypto::Botan2>::from_private(listener_key)->public_key;
    const auto peer_public = wireguard::StaticIdentity<crypto::Botan2>::from_private(peer_key)->public_key;
    test::write_file(dir.file("listen.conf"), "[Interface]\nPrivateKey = " + wireguard::encode_key(listener_key) +
                                                  "\n\n[Peer]\nPublicKey = " + wireguard::encode_key(peer_public) +
                                                  "\nAllowedIPs = 10.66.0.1/32\n");
    const auto port = test::free_port(SOCK_DGRAM);
    test::Process listener({TAPSEC_TOOL_PATH, "listen", "wireguard", "127.0.0.1:" + std::to_string(port), "--config",
                            dir.file("listen.conf"), "--verbose"},
                           dir.file("listen.out"));
    std::this_thread::sleep_for(400ms);
    REQUIRE_MESSAGE(listener.running(), listener.output());

    auto sender = Udp::bind("127.0.0.1", 0);
    REQUIRE(sender);
    const Endpoint target = *Endpoint::parse("127.0.0.1", port);
    std::mt19937_64 rng(0xf100d);
    Bytes datagram;
    wireguard::CookieJar<crypto::Botan2> macs(wireguard::noise::hash(as_bytes(wireguard::label_mac1), listener_public),
                                              wireguard::Key{});
    auto send_junk = [&](std::size_t from, std::size_t count) {
        for (std::size_t n = from; n < from + count; ++n) {
            switch (n % 4) {
                case 0: datagram.resize(rng() % 1500); break;
                case 1: datagram.resize(wireguard::transport_min_size + rng() % 1400); break;
                default: datagram.resize(wireguard::initiation_size); break;
            }
            for (auto& b : datagram) b = static_cast<std::uint8_t>(rng());
            if (n % 4 != 0 && !datagram.empty()) {
                datagram[0] = n % 4 == 1 ? 4 : 1;
                datagram[1] = datagram[2] = datagram[3] = 0;
            }
            if (n % 2000 == 2)
                macs.add_macs(datagram, wireguard::Initiation::mac1_offset, wireguard::Initiation::mac2_offset, Clock::now());
            (void)sender->send_to(datagram, target);
            if (n % 256 == 255) std::this_thread::yield();  // let the listener keep up a little
        }
    };

    send_junk(0, 10'000);  // warm-up: queues and buffers reach their working size
    std::this_thread::sleep_for(500ms);
    const std::size_t before = rss_kib(listener.pid());
    REQUIRE(before > 0);
    const auto started = Clock::now();
    send_junk(10'000, flood_size);
    const auto flood_time = Clock::now() - started;
    std::this_thread::sleep_for(1500ms);  // the listener drains its socket; under-load ends
    REQUIRE_MESSAGE(listener.running(), listener.output());
    const std::size_t after = rss_kib(listener.pid());
    MESSAGE("listener RSS " << before << " KiB before, " << after << " KiB after " << flood_size << " junk datagrams in "
                            << std::chrono::duration_cast<std::chrono::milliseconds>(flood_time).count() << " ms");
    CHECK(after <= before + rss_bound_kib);
    // The flood reached the engine: --verbose reports the (coalesced) drops with the
    // engine's running total, at most once a second.
    std::size_t reported = 0;
    const std::string log = listener.output();
    for (auto at = log.find(" dropped in all)"); at != std::string::npos; at = log.find(" dropped in all)", at + 1)) {
        const auto open = log.rfind('(', at);
        if (open != std::string::npos) reported = std::max<std::size_t>(reported, std::strtoull(log.c_str() + open + 1, nullptr, 10));
    }
    MESSAGE("listener reported " << reported << " drops");
    CHECK(reported >= flood_size / 4);

    // A real peer still gets through: handshake, then one inner packet out on stdout.
    wireguard::Config config;
    config.interface.private_key = peer_key;
    config.interface.has_private_key = true;
    wireguard::PeerSettings to_listener;
    to_listener.public_key = listener_public;
    to_listener.endpoint = target;
    to_listener.allowed_ips = {*wireguard::IpPrefix::parse("10.66.0.0/24")};
    config.interface.peers.push_back(to_listener);
    config.handshake_timeout = 15s;
    auto udp = Udp::bind("127.0.0.1", 0);
    REQUIRE(udp);
    Secure<WireGuardHandshake, WireGuardRecord, Udp> peer(Role::client, config, std::move(*udp));
    auto ec = peer.handshake();
    REQUIRE_MESSAGE(!ec, ec.message() << "\n" << listener.output());
    REQUIRE_FALSE(peer.send(wireguard::make_ipv4_udp_packet(*wireguard::IpAddress::parse("10.66.0.1"),
                                                            *wireguard::IpAddress::parse("10.66.0.2"), 1000, 2000,
                                                            as_bytes("after-the-flood"))));
    CHECK(listener.wait_for_output("after-the-flood", 10s));
    listener.kill();
}
