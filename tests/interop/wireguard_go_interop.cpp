// Interop with wireguard-go (Debian `wireguard-go`, configured with `wg` from
// `wireguard-tools`). wireguard-go runs in the foreground with its TUN device wg0
// inside a network namespace this test creates; tapsec is the other peer, a
// Secure<WireGuardHandshake, WireGuardRecord, Udp> whose UDP socket is opened inside
// the same namespace (setns around socket creation), on 127.0.0.1.
//
// Traffic into the tunnel is a plain UDP datagram sent from a socket in the namespace
// to the tapsec peer's tunnel address (the kernel routes it into wg0, wireguard-go
// encrypts it to tapsec); traffic out of tapsec is an IPv4/UDP packet that wireguard-go
// writes to wg0 and the kernel delivers to a socket bound to wg0's address. Also: ping
// (ICMP echo) answered by tapsec, both handshake directions, rekeying while traffic
// flows, and cookies in both directions.
#include <doctest/doctest.h>

#include <fcntl.h>
#include <sched.h>

#include <atomic>
#include <thread>

#include <tapsec/tapsec.hpp>

#include "support/netns.hpp"
#include "support/process.hpp"

using namespace tapsec;
using namespace tapsec::wireguard;
using namespace std::chrono_literals;
using WireGuard = Secure<WireGuardHandshake, WireGuardRecord, Udp>;

namespace wireguard_go_interop {

std::string trim(std::string s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
    return s;
}

/// One wireguard-go instance in its own namespace, peered with a tapsec key.
struct WireGuardGoPeer {
    test::TempDir dir;
    test::NetworkNamespace ns{"tapsec-wg"};
    std::unique_ptr<test::Process> daemon;
    std::string go_private, go_public, tapsec_private_b64, tapsec_public, psk;
    std::uint16_t go_port = 0, tapsec_port = 0;

    explicit WireGuardGoPeer(bool with_psk = false) {
        REQUIRE_MESSAGE(test::have_program("wireguard-go"), "wireguard-go is not installed (apt-get install wireguard-go)");
        REQUIRE_MESSAGE(test::have_program("wg"), "wg is not installed (apt-get install wireguard-tools)");
        REQUIRE_MESSAGE(ns.ok(), "could not create a network namespace (needs root)");
        go_port = test::free_port(SOCK_DGRAM);
        tapsec_port = test::free_port(SOCK_DGRAM);
        REQUIRE(test::run("umask 077; wg genkey > " + dir.file("go.key") + " && wg pubkey < " + dir.file("go.key") + " > " +
                          dir.file("go.pub")) == 0);
        REQUIRE(test::run("umask 077; wg genkey > " + dir.file("tapsec.key") + " && wg pubkey < " + dir.file("tapsec.key") + " > " +
                          dir.file("tapsec.pub")) == 0);
        go_private = trim(test::read_file(dir.file("go.key")));
        go_public = trim(test::read_file(dir.file("go.pub")));
        tapsec_private_b64 = trim(test::read_file(dir.file("tapsec.key")));
        tapsec_public = trim(test::read_file(dir.file("tapsec.pub")));
        if (with_psk) {
            REQUIRE(test::run("umask 077; wg genpsk > " + dir.file("psk")) == 0);
            psk = trim(test::read_file(dir.file("psk")));
        }
        daemon = std::make_unique<test::Process>(
            ns.exec({"env", "WG_PROCESS_FOREGROUND=1", "LOG_LEVEL=debug", "wireguard-go", "-f", "wg0"}), dir.file("go.log"));
        bool up = false;
        for (int i = 0; i < 100 && !up; ++i) {
            up = test::run("ip netns exec " + ns.name() + " wg show wg0 >/dev/null 2>&1") == 0;
            if (!up) std::this_thread::sleep_for(50ms);
        }
        REQUIRE_MESSAGE(up, "wireguard-go did not create wg0: " << daemon->output());
        const std::string in = "ip netns exec " + ns.name() + " ";
        std::string set = in + "wg set wg0 private-key " + dir.file("go.key") + " listen-port " + std::to_string(go_port) +
                          " peer " + tapsec_public + " endpoint 127.0.0.1:" + std::to_string(tapsec_port) +
                          " allowed-ips 10.77.0.2/32";
        if (with_psk) set += " preshared-key " + dir.file("psk");
        REQUIRE(test::run(set) == 0);
        REQUIRE(test::run(in + "ip addr add 10.77.0.1/24 dev wg0") == 0);
        REQUIRE(test::run(in + "ip link set wg0 up") == 0);
    }

    /// tapsec's configuration, in the wg INI format (parsed by tapsec's own parser).
    Config tapsec_config(const std::string& extra_peer_lines = "", const std::string& go_host = "127.0.0.1") const {
        std::string ini = "[Interface]\nPrivateKey = " + tapsec_private_b64 + "\nListenPort = " + std::to_string(tapsec_port) +
                          "\n\n[Peer]\nPublicKey = " + go_public + "\nEndpoint = " + go_host + ":" + std::to_string(go_port) +
                          "\nAllowedIPs = 10.77.0.0/24\n" + extra_peer_lines;
        if (!psk.empty()) ini += "PresharedKey = " + psk + "\n";
        auto parsed = parse_config(ini, "tapsec.conf");
        REQUIRE_MESSAGE(parsed.settings, parsed.error);
        return Config::from(std::move(*parsed.settings));
    }

    WireGuard open_tapsec(Role role, Config config, const std::string& address = "127.0.0.1") {
        auto udp = test::inside(ns, [&] { return Udp::bind(address, tapsec_port); });
        REQUIRE(udp.ok());
        return WireGuard(role, std::move(config), std::move(*udp));
    }

    std::string wg_show(const std::string& what) const {
        const std::string file = dir.file("show.txt");
        test::run("ip netns exec " + ns.name() + " wg show wg0 " + what + " > " + file + " 2>&1");
        return test::read_file(file);
    }

    std::string log() const { return daemon ? daemon->output() : ""; }
};

/// Waits for the next inner packet that is a UDP datagram (skips anything else, e.g.
/// IPv6 router solicitations the kernel may send on wg0).
std::optional<UdpDatagram> next_udp(WireGuard& conn, std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    while (Clock::now() < deadline) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
        auto packet = conn.receive_message(std::max(left, 1ms));
        if (!packet) return std::nullopt;
        if (auto udp = parse_ipv4_udp_packet(*packet)) return udp;
    }
    return std::nullopt;
}

Bytes text(std::string_view s) { return Bytes(s.begin(), s.end()); }


TEST_CASE("wireguard-go interop: wireguard-go initiates, packets both ways, ping answered by tapsec") {
    WireGuardGoPeer go;
    // tapsec's public key, derived by tapsec from the private key, is what `wg pubkey` printed.
    auto identity = StaticIdentity<crypto::Botan2>::from_private(*decode_key(go.tapsec_private_b64));
    CHECK(encode_key(identity->public_key) == go.tapsec_public);

    WireGuard conn = go.open_tapsec(Role::server, go.tapsec_config());
    auto tun_side = test::inside(go.ns, [] { return test::PlainUdp::bind("10.77.0.1", 7777); });
    // A datagram into wg0: wireguard-go starts the handshake and sends it through the tunnel.
    tun_side.send_to("10.77.0.2", 9999, text("hello from the wireguard-go side"));
    auto in = next_udp(conn, 15s);
    REQUIRE_MESSAGE(in, "no packet from wireguard-go; its log:\n" << go.log());
    CHECK(in->payload == text("hello from the wireguard-go side"));
    CHECK(in->destination_port == 9999);
    CHECK(conn.is_established());
    CHECK(conn.info().peer.subject == go.go_public);

    // tapsec -> wg0 -> a socket bound to 10.77.0.1:7777.
    for (int i = 0; i < 5; ++i) {
        const std::string message = "from tapsec #" + std::to_string(i);
        REQUIRE_FALSE(conn.send(make_ipv4_udp_packet(*IpAddress::parse("10.77.0.2"), *IpAddress::parse("10.77.0.1"), 4000,
                                                     7777, text(message))));
        auto out = tun_side.receive(5s);
        REQUIRE_MESSAGE(out, "wireguard-go did not deliver tapsec's packet on wg0; its log:\n" << go.log());
        CHECK(*out == text(message));
    }

    // ping 10.77.0.2: tapsec answers each ICMP echo request with an echo reply.
    test::Process ping(go.ns.exec({"ping", "-c", "3", "-i", "0.2", "-W", "3", "10.77.0.2"}), go.dir.file("ping.log"));
    int replies = 0;
    const auto deadline = Clock::now() + 10s;
    while (ping.running() && Clock::now() < deadline) {
        auto packet = conn.receive_message(200ms);
        if (!packet || packet->size() < 28 || ((*packet)[0] >> 4) != 4 || (*packet)[9] != 1 || (*packet)[20] != 8) continue;
        Bytes reply = *packet;
        std::swap_ranges(reply.begin() + 12, reply.begin() + 16, reply.begin() + 16);  // swap addresses
        reply[20] = 0;                                                                   // echo reply
        reply[22] = reply[23] = 0;
        std::uint32_t sum = 0;
        for (std::size_t i = 20; i < reply.size(); i += 2)
            sum += std::uint32_t{reply[i]} << 8 | (i + 1 < reply.size() ? reply[i + 1] : 0);
        while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
        reply[22] = static_cast<std::uint8_t>(~sum >> 8);
        reply[23] = static_cast<std::uint8_t>(~sum);
        REQUIRE_FALSE(conn.send(reply));
        ++replies;
    }
    CHECK(ping.wait(5s) == 0);
    CHECK(replies == 3);
    CHECK(ping.output().find("3 received") != std::string::npos);
    CHECK(conn.engine().total_drops() == 0);
    CHECK(go.wg_show("latest-handshakes").find(go.tapsec_public) != std::string::npos);
}

TEST_CASE("wireguard-go interop: tapsec initiates (with a pre-shared key)") {
    WireGuardGoPeer go(/*with_psk=*/true);
    WireGuard conn = go.open_tapsec(Role::client, go.tapsec_config());
    REQUIRE_FALSE(conn.handshake());
    CHECK(conn.engine().statistics(0).handshakes_completed == 1);
    auto tun_side = test::inside(go.ns, [] { return test::PlainUdp::bind("10.77.0.1", 7777); });
    REQUIRE_FALSE(conn.send(make_ipv4_udp_packet(*IpAddress::parse("10.77.0.2"), *IpAddress::parse("10.77.0.1"), 4000, 7777,
                                                 text("initiated by tapsec"))));
    auto out = tun_side.receive(5s);
    REQUIRE_MESSAGE(out, "nothing delivered on wg0; wireguard-go log:\n" << go.log());
    CHECK(*out == text("initiated by tapsec"));
    tun_side.send_to("10.77.0.2", 9999, text("answer"));
    auto in = next_udp(conn, 5s);
    REQUIRE(in);
    CHECK(in->payload == text("answer"));
    // wireguard-go's own view: transfer counters moved in both directions.
    const std::string transfer = go.wg_show("transfer");
    CHECK(transfer.find(go.tapsec_public) != std::string::npos);
    CHECK(transfer.find("\t0\t") == std::string::npos);
}

TEST_CASE("wireguard-go interop: over IPv6 loopback, tapsec initiates") {
    WireGuardGoPeer go;
    WireGuard conn = go.open_tapsec(Role::client, go.tapsec_config("", "[::1]"), "::1");
    REQUIRE_FALSE(conn.handshake());
    auto tun_side = test::inside(go.ns, [] { return test::PlainUdp::bind("10.77.0.1", 7777); });
    REQUIRE_FALSE(conn.send(make_ipv4_udp_packet(*IpAddress::parse("10.77.0.2"), *IpAddress::parse("10.77.0.1"), 4000, 7777,
                                                 text("over ::1"))));
    auto out = tun_side.receive(5s);
    REQUIRE_MESSAGE(out, "nothing delivered on wg0; wireguard-go log:\n" << go.log());
    CHECK(*out == text("over ::1"));
    CHECK(go.wg_show("endpoints").find("[::1]:" + std::to_string(go.tapsec_port)) != std::string::npos);
}

TEST_CASE("wireguard-go interop: roaming: wireguard-go moves to a new port, tapsec follows") {
    WireGuardGoPeer go;
    WireGuard conn = go.open_tapsec(Role::client, go.tapsec_config());
    REQUIRE_FALSE(conn.handshake());
    auto tun_side = test::inside(go.ns, [] { return test::PlainUdp::bind("10.77.0.1", 7777); });
    tun_side.send_to("10.77.0.2", 9999, text("before"));
    REQUIRE(next_udp(conn, 5s));
    CHECK(conn.engine().endpoint(0)->port() == go.go_port);
    // wireguard-go rebinds to another port: its next packet comes from there.
    std::uint16_t new_port = test::free_port(SOCK_DGRAM);
    while (new_port == go.go_port || new_port == go.tapsec_port) new_port = test::free_port(SOCK_DGRAM);
    REQUIRE(test::run("ip netns exec " + go.ns.name() + " wg set wg0 listen-port " + std::to_string(new_port)) == 0);
    tun_side.send_to("10.77.0.2", 9999, text("after the move"));
    auto in = next_udp(conn, 5s);
    REQUIRE(in);
    CHECK(in->payload == text("after the move"));
    CHECK(conn.engine().endpoint(0)->port() == new_port);
    bool roamed = false;
    while (auto e = conn.next_event()) roamed |= e->kind == EventKind::peer_address_changed;
    CHECK(roamed);
    // tapsec's packets now go to the new port (the old one has nobody listening).
    REQUIRE_FALSE(conn.send(make_ipv4_udp_packet(*IpAddress::parse("10.77.0.2"), *IpAddress::parse("10.77.0.1"), 4000, 7777,
                                                 text("followed"))));
    auto out = tun_side.receive(5s);
    REQUIRE_MESSAGE(out, "wireguard-go log:\n" << go.log());
    CHECK(*out == text("followed"));
}

TEST_CASE("wireguard-go interop: rekeying while traffic flows (tapsec limits: 3 s, 40 messages)") {
    WireGuardGoPeer go;
    Config config = go.tapsec_config();
    config.timers.rekey_after_time = 3s;
    WireGuard conn = go.open_tapsec(Role::client, config);
    REQUIRE_FALSE(conn.handshake());
    auto tun_side = test::inside(go.ns, [] { return test::PlainUdp::bind("10.77.0.1", 7777); });
    int sent = 0, delivered_out = 0, delivered_in = 0;
    const auto until = Clock::now() + 10s;
    while (Clock::now() < until) {
        const std::string n = std::to_string(sent++);
        REQUIRE_FALSE(conn.send(make_ipv4_udp_packet(*IpAddress::parse("10.77.0.2"), *IpAddress::parse("10.77.0.1"), 4000,
                                                     7777, text("out " + n))));
        if (auto out = tun_side.receive(500ms); out && *out == text("out " + n)) ++delivered_out;
        tun_side.send_to("10.77.0.2", 9999, text("in " + n));
        if (auto in = next_udp(conn, 500ms); in && in->payload == text("in " + n)) ++delivered_in;
        std::this_thread::sleep_for(50ms);
    }
    const auto handshakes_by_time = conn.engine().statistics(0).handshakes_completed;
    CHECK(handshakes_by_time >= 3);  // 10 s of traffic with REKEY_AFTER_TIME = 3 s
    CHECK(sent > 20);
    // Rekeys must not lose packets (a lost one would break the exact sequence above).
    CHECK(delivered_out == sent);
    CHECK(delivered_in == sent);
    CHECK(conn.engine().total_drops() == 0);
    INFO("wireguard-go log:\n" << go.log());
}

TEST_CASE("wireguard-go interop: rekey after REKEY_AFTER_MESSAGES on the tapsec side") {
    WireGuardGoPeer go;
    Config config = go.tapsec_config();
    config.timers.rekey_after_messages = 40;
    WireGuard conn = go.open_tapsec(Role::client, config);
    REQUIRE_FALSE(conn.handshake());
    auto tun_side = test::inside(go.ns, [] { return test::PlainUdp::bind("10.77.0.1", 7777); });
    int delivered = 0;
    for (int i = 0; i < 130; ++i) {
        REQUIRE_FALSE(conn.send(make_ipv4_udp_packet(*IpAddress::parse("10.77.0.2"), *IpAddress::parse("10.77.0.1"), 4000,
                                                     7777, text("m" + std::to_string(i)))));
        if (auto out = tun_side.receive(1s); out && *out == text("m" + std::to_string(i))) ++delivered;
        // Let responses arrive (the engine only runs when called).
        (void)conn.receive_message(5ms);
    }
    CHECK(conn.engine().statistics(0).handshakes_completed >= 3);
    CHECK(delivered == 130);
}

TEST_CASE("wireguard-go interop: cookie reply from tapsec under load; wireguard-go retries with mac2") {
    WireGuardGoPeer go;
    WireGuard conn = go.open_tapsec(Role::server, go.tapsec_config());
    conn.engine().set_under_load(true);
    auto tun_side = test::inside(go.ns, [] { return test::PlainUdp::bind("10.77.0.1", 7777); });
    tun_side.send_to("10.77.0.2", 9999, text("under load"));
    // wireguard-go's retry comes after REKEY_TIMEOUT (5 s) with the cookie's mac2.
    auto in = next_udp(conn, 15s);
    REQUIRE_MESSAGE(in, "handshake did not complete under load; wireguard-go log:\n" << go.log());
    CHECK(in->payload == text("under load"));
    CHECK(conn.engine().cookie_replies_sent() >= 1);
    CHECK(conn.engine().drops(Error::cookie_required) >= 1);
    CHECK(conn.engine().drops(Error::cookie_required) == conn.engine().cookie_replies_sent());
    CHECK(conn.engine().drops(Error::bad_mac1) == 0);
}

TEST_CASE("wireguard-go interop: wireguard-go under load sends tapsec a cookie; tapsec retries with mac2") {
    WireGuardGoPeer go;
    // Put wireguard-go under load: a burst of initiations with a valid mac1 (so each costs
    // it a DH before it fails) fills its handshake queue past 1/8 of its size, its load
    // threshold; load then lasts a second. tapsec's initiation right behind the burst is
    // answered with a cookie reply; tapsec's retransmission carries mac2 and is accepted.
    auto flood = test::inside(go.ns, [] { return test::PlainUdp::bind("127.0.0.1", 0); });
    const Key go_public = *decode_key(go.go_public);
    const Key mac1_key = noise::hash(as_bytes(label_mac1), go_public);
    Bytes junk(initiation_size);
    WireGuard conn = go.open_tapsec(Role::client, go.tapsec_config());
    // Bursts every 30 ms keep it loaded (load lasts a second after each) while tapsec
    // runs its handshake on this thread.
    std::atomic<bool> stop{false};
    std::thread flooder([&] {
        while (!stop) {
            for (int i = 0; i < 300; ++i) {
                crypto::Botan2::random(junk);
                junk[0] = 1;
                junk[1] = junk[2] = junk[3] = 0;
                const Mac mac1 = compute_mac(mac1_key, ByteView(junk).first(Initiation::mac1_offset));
                std::copy(mac1.begin(), mac1.end(), junk.begin() + Initiation::mac1_offset);
                std::fill(junk.begin() + Initiation::mac2_offset, junk.end(), 0);
                flood.send_to("127.0.0.1", go.go_port, junk);
            }
            std::this_thread::sleep_for(30ms);
        }
    });
    std::this_thread::sleep_for(100ms);
    const auto handshake_result = conn.handshake();
    stop = true;
    flooder.join();
    REQUIRE_FALSE(handshake_result);
    INFO("wireguard-go log:\n" << go.log());
    CHECK(conn.engine().statistics(0).cookie_replies_received >= 1);
    CHECK(conn.engine().statistics(0).handshake_initiations_sent >= 2);
    CHECK(go.log().find("Sending cookie response") != std::string::npos);
}

}  // namespace wireguard_go_interop
