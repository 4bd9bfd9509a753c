// TCP through the IKEv2/ESP tunnel between `tapsec connect|listen ikev2 --tun` and
// strongSwan's charon (kernel-libipsec: ESP in user space, the kernel here has none).
// Two namespaces of the test's own joined by a veth pair: charon in one (outer
// 10.99.0.1, inner 10.200.1.1 on lo, its ipsec0 TUN), the tapsec CLI in the other
// (outer 10.99.0.2:4500, inner 10.200.2.1 on its TUN, a route to 10.200.1.0/24 into it).
//
// 20 MB of random bytes cross the tunnel by TCP (socat) in both directions, with tapsec
// as initiator and as responder; the sha256 of what arrived is compared with what was
// sent. Under such transfers both sides rekey the Child SA and the IKE SA (tapsec on
// SIGUSR1/SIGUSR2, charon by `swanctl --rekey`); the transfer must stay intact and
// the test reports tapsec's ESP counters (esp_dropped: ESP datagrams not delivered,
// e.g. on an SA already deleted at the overlap) and the TCP retransmissions.
// IPv6 inside the tunnel (issue 11): the same lab with IPv6 selectors (charon
// fd00:200:1::1 on lo, tapsec fd00:200:2::1 on its TUN, the outer path still IPv4):
// ping6 both ways and 4 MB by TCP over IPv6 each way, sha256 compared, with tapsec as
// initiator and as responder, and once with charon proposing IPv4 and IPv6 selectors.
#include <doctest/doctest.h>

#include <signal.h>

#include <filesystem>
#include <string>

#include "support/charon.hpp"
#include "support/netns.hpp"
#include "support/process.hpp"

using namespace std::chrono_literals;
namespace test = tapsec::test;

namespace ikev2_tunnel_test {

const std::string psk_text = "tapsec-tunnel-pre-shared-key-0123456789";
constexpr std::size_t transfer_bytes = 20 * 1024 * 1024;

/// The tunnel's inner side: each end's address (its selector, one address), the socat
/// address family, and the size of the transfers.
struct Inner {
    std::string charon = "10.200.1.1", tapsec = "10.200.2.1";
    bool ipv6 = false;
    std::size_t bytes = transfer_bytes;
    bool charon_dual_stack = false;  // charon's selectors name 10.200.1.1 / 10.200.2.1 too

    /// An address as socat and ss write it: IPv6 in brackets.
    static std::string socket_form(const std::string& a) { return a.find(':') != std::string::npos ? "[" + a + "]" : a; }
};
const Inner ipv6_inner{"fd00:200:1::1", "fd00:200:2::1", true, 4 * 1024 * 1024};

/// charon in its namespace with one connection `tapsec` to the tapsec CLI's namespace.
struct TunnelLab {
    test::TempDir dir;
    test::NetworkNamespace charon_ns{"tapsec-itc"}, tapsec_ns{"tapsec-itt"};
    std::unique_ptr<test::Process> charon;
    Inner inner;

    /// `remote_addrs` / `local_addrs`: tapsec's and charon's outer addresses as charon
    /// accepts them (prefixes, for the MOBIKE moves).
    explicit TunnelLab(bool charon_initiates, const std::string& remote_addrs = "10.99.0.2",
                       const std::string& local_addrs = "10.99.0.1", const Inner& inner_side = {})
        : inner(inner_side) {
        REQUIRE_MESSAGE(test::have_program("socat"), "socat is not installed (scripts/install-deps.sh)");
        test::charon::join(charon_ns, tapsec_ns, "vit");
        // charon's local selector must be one of its addresses (else TS_UNACCEPTABLE).
        if (inner.ipv6)
            REQUIRE(test::run("ip netns exec " + charon_ns.name() + " sh -c 'ip link set lo up && ip -6 addr add " + inner.charon +
                              "/128 dev lo'") == 0);
        test::charon::write_conf(dir, "      default = 1\n      ike = 1\n      time_format = %T\n");
        test::write_file(dir.file("swanctl.conf"),
                         "connections {\n"
                         "  tapsec {\n"
                         "    version = 2\n"
                         "    local_addrs = " + local_addrs + "\n"
                         "    remote_addrs = " + remote_addrs + "\n" +
                             std::string(charon_initiates ? "    remote_port = 4500\n" : "") +
                             "    encap = yes\n"
                             "    proposals = aes128gcm16-prfsha256-x25519\n"
                             "    local {\n"
                             "      auth = psk\n"
                             "      id = b.test\n"
                             "    }\n"
                             "    remote {\n"
                             "      auth = psk\n"
                             "      id = a@test\n"
                             "    }\n"
                             "    children {\n"
                             "      net {\n"
                             "        local_ts = " + inner.charon + (inner.ipv6 ? "/128" : "/32") +
                             (inner.charon_dual_stack ? ", 10.200.1.1/32" : "") + "\n"
                             "        remote_ts = " + inner.tapsec + (inner.ipv6 ? "/128" : "/32") +
                             (inner.charon_dual_stack ? ", 10.200.2.1/32" : "") + "\n"
                             "        esp_proposals = aes128gcm16\n"
                             "        mode = tunnel\n"
                             "      }\n"
                             "    }\n"
                             "  }\n"
                             "}\n"
                             "secrets {\n"
                             "  ike-1 {\n"
                             "    id-a = a@test\n"
                             "    id-b = b.test\n"
                             "    secret = \"" + psk_text + "\"\n"
                             "  }\n"
                             "}\n");
        test::write_file(dir.file("psk.txt"), psk_text + "\n");
        charon = test::charon::start(charon_ns, dir);
        // 20 MB of random bytes to send, made once per lab.
        REQUIRE(test::run("head -c " + std::to_string(inner.bytes) + " /dev/urandom > " + dir.file("sent.bin")) == 0);
    }

    int swanctl(const std::string& arguments) const { return test::charon::swanctl(charon_ns, dir, arguments); }

    /// `tapsec connect` (to charon) or `tapsec listen` (charon initiates), on TUN tit0.
    std::unique_ptr<test::Process> start_tapsec(bool connect, const std::vector<std::string>& extra = {}) {
        std::vector<std::string> argv{TAPSEC_TOOL_PATH, connect ? "connect" : "listen", "ikev2",
                                      connect ? "10.99.0.1:4500" : "10.99.0.2:4500", "--psk-file", dir.file("psk.txt"),
                                      "--local-id", "a@test", "--remote-id", "b.test", "--local-ts", inner.tapsec,
                                      "--remote-ts", inner.charon, "--tun", "tit0", "--verbose"};
        argv.insert(argv.end(), extra.begin(), extra.end());
        auto cli = std::make_unique<test::Process>(tapsec_ns.exec(argv), dir.file("cli.log"));
        if (!connect) {  // listening before charon initiates
            REQUIRE_MESSAGE(test::run("for i in $(seq 100); do ip netns exec " + tapsec_ns.name() +
                                      " ss -lun | grep -q 10.99.0.2:4500 && exit 0; sleep 0.05; done; exit 1") == 0,
                            cli->output());
            test::Process initiate(charon_ns.exec({"swanctl", "--initiate", "--child", "net", "--timeout", "20", "--uri",
                                                   "unix://" + dir.file("charon.vici")}),
                                   dir.file("initiate.log"));
            CHECK_MESSAGE(initiate.wait(25s) == 0, test::read_file(dir.file("initiate.log")) << charon->output());
        }
        REQUIRE_MESSAGE(cli->wait_for_output("IKE SA and Child SA established", 20s),
                        cli->output() << "\ncharon log:\n" << charon->output());
        return cli;
    }

    /// Waits until a TCP listener on `address:port` shows in `ns` (an event, bounded).
    static bool listening(const test::NetworkNamespace& ns, const std::string& address_port) {
        return test::run("for i in $(seq 200); do ip netns exec " + ns.name() + " ss -ltn | grep -qF '" + address_port +
                         " ' && exit 0; sleep 0.05; done; exit 1") == 0;
    }

    /// A counter of a namespace's /proc/net/snmp ("Tcp:", "RetransSegs"), as seen inside it.
    static long snmp(const test::NetworkNamespace& ns, const std::string& protocol, const std::string& field) {
        test::TempDir scratch;
        test::run("ip netns exec " + ns.name() + " awk -v p=" + protocol + ": -v f=" + field +
                  " '$1 == p { if (!c) { for (i = 1; i <= NF; i++) if ($i == f) c = i } else print $c }' /proc/net/snmp > " +
                  scratch.file("r"));
        const std::string text = test::read_file(scratch.file("r"));
        return text.empty() ? -1 : std::stol(text);
    }

    /// TCP segments retransmitted and UDP datagrams dropped for a full receive buffer,
    /// both namespaces: where packets were lost, if not in the tunnel.
    std::string losses() const {
        return "TCP retransmitted segments: tapsec side " + std::to_string(snmp(tapsec_ns, "Tcp", "RetransSegs")) +
               ", charon side " + std::to_string(snmp(charon_ns, "Tcp", "RetransSegs")) +
               "; UDP receive-buffer drops: tapsec side " + std::to_string(snmp(tapsec_ns, "Udp", "RcvbufErrors")) +
               ", charon side " + std::to_string(snmp(charon_ns, "Udp", "RcvbufErrors"));
    }

    /// 20 MB by TCP from `from` to a receiver in `to` on `to_address`; `while_flowing`
    /// runs once a first megabyte has arrived. True when the received sha256 equals
    /// the sent one; the seconds taken go to `seconds`. `paced`: the sender writes about
    /// 4 MB/s (about 5 s in all), so that rekeys complete while the bytes still flow.
    template <class WhileFlowing>
    bool transfer(const test::NetworkNamespace& from, const std::string& from_address, const test::NetworkNamespace& to,
                  const std::string& to_address, WhileFlowing&& while_flowing, double& seconds, bool paced = false) {
        std::filesystem::remove(dir.file("received.bin"));
        const std::string tcp = inner.ipv6 ? "TCP6" : "TCP";
        const std::string to_socket = Inner::socket_form(to_address);
        test::Process receiver(to.exec({"socat", "-u", tcp + "-LISTEN:5201,bind=" + to_socket + ",reuseaddr",
                                        "CREATE:" + dir.file("received.bin")}),
                               dir.file("receiver.log"));
        REQUIRE_MESSAGE(listening(to, to_socket + ":5201"), test::read_file(dir.file("receiver.log")));
        const auto start = std::chrono::steady_clock::now();
        const std::string connect = tcp + ":" + to_socket + ":5201,bind=" + Inner::socket_form(from_address);
        // Pacing is rate, not synchronization: 256 KiB every 60 ms.
        const std::string pace = "import sys, time\n"
                                 "while True:\n"
                                 "    b = sys.stdin.buffer.read(262144)\n"
                                 "    if not b: break\n"
                                 "    sys.stdout.buffer.write(b); sys.stdout.buffer.flush(); time.sleep(0.06)\n";
        if (paced) test::write_file(dir.file("pace.py"), pace);
        test::Process sender(paced ? from.exec({"sh", "-c", "python3 " + dir.file("pace.py") + " < " + dir.file("sent.bin") +
                                                                " | socat -u STDIN " + connect})
                                   : from.exec({"socat", "-u", "OPEN:" + dir.file("sent.bin"), connect}),
                             dir.file("sender.log"));
        const bool flowing = receiver.wait_until(
            [&](const std::string&) {
                std::error_code ec;
                return std::filesystem::file_size(dir.file("received.bin"), ec) >= std::min<std::size_t>(inner.bytes, 1024 * 1024);
            },
            30s);
        CHECK_MESSAGE(flowing, test::read_file(dir.file("sender.log")));
        if (flowing) while_flowing();
        CHECK_MESSAGE(sender.wait(120s) == 0, test::read_file(dir.file("sender.log")));
        CHECK_MESSAGE(receiver.wait(30s) == 0, test::read_file(dir.file("receiver.log")));
        seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        auto sha256 = [&](const std::string& file) {
            test::run("sha256sum " + dir.file(file) + " | cut -d' ' -f1 > " + dir.file(file + ".sha256"));
            return test::read_file(dir.file(file + ".sha256"));
        };
        const std::string sent = sha256("sent.bin"), received = sha256("received.bin");
        CHECK(sent.size() == 65);
        CHECK_MESSAGE(sent == received, "sent " << sent << " received " << received);
        return sent.size() == 65 && sent == received;
    }

    /// Ends the CLI by SIGTERM (it deletes the IKE SA first) and returns its counter line.
    std::string stop_tapsec(test::Process& cli) {
        ::kill(cli.pid(), SIGTERM);
        CHECK_MESSAGE(cli.wait(15s) == 0, cli.output());
        const std::string out = cli.output();
        const auto at = out.find("tapsec: counters:");
        REQUIRE_MESSAGE(at != std::string::npos, out);
        return out.substr(at, out.find('\n', at) - at);
    }
};

/// A counter from the CLI's "tapsec: counters: name=value ..." line.
long counter(const std::string& line, const std::string& name) {
    const auto at = line.find(" " + name + "=");
    REQUIRE_MESSAGE(at != std::string::npos, line);
    return std::stol(line.substr(at + name.size() + 2));
}

/// Bytes received so far by the running transfer.
std::uintmax_t received_so_far(const TunnelLab& lab) {
    std::error_code ec;
    const auto n = std::filesystem::file_size(lab.dir.file("received.bin"), ec);
    return ec ? 0 : n;
}

/// Rekeys the Child SA and then the IKE SA during a paced transfer each way, started
/// by `rekey_child` / `rekey_ike` (the n-th time: n = 1, 2); checks that each completed
/// (tapsec's counters) while bytes still flowed, that both transfers arrived intact,
/// and reports the ESP datagrams tapsec dropped and TCP's retransmissions.
template <class RekeyChild, class RekeyIke>
void rekeys_under_traffic(TunnelLab& lab, test::Process& cli, RekeyChild&& rekey_child, RekeyIke&& rekey_ike) {
    int round = 0;
    auto rekey_both = [&] {
        ++round;
        rekey_child(round);
        CHECK_MESSAGE(cli.wait_for_output("Child SA rekeyed (" + std::to_string(round) + " in all)", 15s),
                      cli.output() << "\ncharon:\n" << lab.charon->output());
        rekey_ike(round);
        CHECK_MESSAGE(cli.wait_for_output("IKE SA rekeyed (" + std::to_string(round) + " in all)", 15s),
                      cli.output() << "\ncharon:\n" << lab.charon->output());
        // Both done before the last byte: the rekeys happened under traffic.
        CHECK_MESSAGE(received_so_far(lab) < transfer_bytes, "the transfer ended before the rekeys did");
    };
    double up = 0, down = 0;
    CHECK(lab.transfer(lab.tapsec_ns, "10.200.2.1", lab.charon_ns, "10.200.1.1", rekey_both, up, true));
    CHECK(lab.transfer(lab.charon_ns, "10.200.1.1", lab.tapsec_ns, "10.200.2.1", rekey_both, down, true));
    const std::string counters = lab.stop_tapsec(cli);
    MESSAGE("paced 20 MB each way with a Child and an IKE rekey in each: " << counters
                                                                           << "; " << lab.losses());
    CHECK(counter(counters, "child_rekeys") == 2);
    CHECK(counter(counters, "ike_rekeys") == 2);
    // The overlap keeps the old inbound SA until it is deleted: nothing is lost to a rekey.
    CHECK(counter(counters, "esp_dropped") == 0);
}

void transfers_both_ways(TunnelLab& lab) {
    double up = 0, down = 0;
    CHECK(lab.transfer(lab.tapsec_ns, "10.200.2.1", lab.charon_ns, "10.200.1.1", [] {}, up));
    CHECK(lab.transfer(lab.charon_ns, "10.200.1.1", lab.tapsec_ns, "10.200.2.1", [] {}, down));
    MESSAGE("20 MB tapsec -> charon in " << up << " s (" << 8 * 20.97152 / up << " Mbit/s), charon -> tapsec in " << down
                                         << " s (" << 8 * 20.97152 / down << " Mbit/s)");
}


TEST_CASE("IKEv2 tunnel: 20 MB by TCP each way, `tapsec connect ikev2 --tun` to charon and charon to `tapsec listen ikev2 --tun`") {
    for (const bool charon_initiates : {false, true}) {
        CAPTURE(charon_initiates);
        TunnelLab lab(charon_initiates);
        auto cli = lab.start_tapsec(!charon_initiates);
        transfers_both_ways(lab);
        const std::string counters = lab.stop_tapsec(*cli);
        MESSAGE(counters << "; " << lab.losses());
        CHECK(counter(counters, "esp_dropped") == 0);
        if (!charon_initiates) CHECK(lab.charon->wait_for_output("received DELETE for IKE_SA tapsec[1]", 5s));
    }
}

TEST_CASE("IKEv2 tunnel: tapsec rekeys the Child SA and the IKE SA (SIGUSR1, SIGUSR2) under TCP traffic to charon") {
    TunnelLab lab(false);
    auto cli = lab.start_tapsec(true);
    rekeys_under_traffic(
        lab, *cli, [&](int) { ::kill(cli->pid(), SIGUSR1); }, [&](int) { ::kill(cli->pid(), SIGUSR2); });
    // charon saw them as the peer's rekeys, and deleted nothing it should not have.
    CHECK_MESSAGE(test::count_of(lab.charon->output(), "rekeyed") >= 2, lab.charon->output());
}

TEST_CASE("IKEv2 tunnel: charon rekeys the Child SA and the IKE SA (swanctl --rekey) under TCP traffic to `tapsec listen`") {
    TunnelLab lab(true);
    auto cli = lab.start_tapsec(false);
    rekeys_under_traffic(
        lab, *cli, [&](int) { CHECK(lab.swanctl("--rekey --child net") == 0); },
        [&](int) { CHECK(lab.swanctl("--rekey --ike tapsec") == 0); });
}

TEST_CASE("IKEv2 tunnel, MOBIKE: tapsec's address moves mid-transfer, UPDATE_SA_ADDRESSES, charon follows, sha256 equal") {
    TunnelLab lab(false, "10.99.0.0/24");
    auto cli = lab.start_tapsec(true, {"--mobike"});
    CHECK_MESSAGE(lab.charon->output().find("peer supports MOBIKE") != std::string::npos, lab.charon->output());
    // The new address is a secondary one until the old one goes; then it is promoted
    // and the route to charon leaves from it.
    const std::string in_tapsec_ns = "ip netns exec " + lab.tapsec_ns.name() + " ";
    REQUIRE(test::run(in_tapsec_ns + "sysctl -qw net.ipv4.conf.vitt.promote_secondaries=1") == 0);
    double seconds = 0;
    CHECK(lab.transfer(lab.tapsec_ns, "10.200.2.1", lab.charon_ns, "10.200.1.1",
                       [&] {
                           REQUIRE(test::run(in_tapsec_ns + "ip addr add 10.99.0.3/24 dev vitt") == 0);
                           REQUIRE(test::run(in_tapsec_ns + "ip addr del 10.99.0.2/24 dev vitt") == 0);
                           CHECK_MESSAGE(cli->wait_for_output("UPDATE_SA_ADDRESSES sent (1 in all)", 10s), cli->output());
                           const bool moved = lab.charon->wait_for_output("[ N(UPD_SA_ADDR)", 10s);
                           CHECK_MESSAGE(moved, lab.charon->output());
                           CHECK_MESSAGE(received_so_far(lab) < transfer_bytes, "the transfer ended before the move");
                       },
                       seconds, true));
    CHECK_MESSAGE(cli->output().find("our address moved from 10.99.0.2 to 10.99.0.3") != std::string::npos, cli->output());
    // charon now sends to the new address: the reverse transfer arrives there too.
    CHECK(lab.transfer(lab.charon_ns, "10.200.1.1", lab.tapsec_ns, "10.200.2.1", [] {}, seconds));
    CHECK_MESSAGE(lab.charon->output().find("to 10.99.0.3[") != std::string::npos, lab.charon->output());
    const std::string counters = lab.stop_tapsec(*cli);
    MESSAGE(counters << "; " << lab.losses());
}

TEST_CASE("IKEv2 tunnel, MOBIKE: charon initiates to `tapsec listen --mobike` and moves mid-transfer, tapsec follows") {
    TunnelLab lab(true, "10.99.0.2", "10.99.0.0/24");
    auto cli = lab.start_tapsec(false, {"--mobike"});
    CHECK_MESSAGE(lab.charon->output().find("peer supports MOBIKE") != std::string::npos, lab.charon->output());
    const std::string in_charon_ns = "ip netns exec " + lab.charon_ns.name() + " ";
    REQUIRE(test::run(in_charon_ns + "sysctl -qw net.ipv4.conf.vitc.promote_secondaries=1") == 0);
    double seconds = 0;
    CHECK(lab.transfer(lab.charon_ns, "10.200.1.1", lab.tapsec_ns, "10.200.2.1",
                       [&] {
                           REQUIRE(test::run(in_charon_ns + "ip addr add 10.99.0.5/24 dev vitc") == 0);
                           REQUIRE(test::run(in_charon_ns + "ip addr del 10.99.0.1/24 dev vitc") == 0);
                           const bool moved = lab.charon->wait_for_output("[ N(UPD_SA_ADDR)", 15s);
                           CHECK_MESSAGE(moved, lab.charon->output());
                           CHECK_MESSAGE(received_so_far(lab) < transfer_bytes, "the transfer ended before the move");
                       },
                       seconds, true));
    // tapsec sends to charon's new address: the reverse transfer arrives.
    CHECK(lab.transfer(lab.tapsec_ns, "10.200.2.1", lab.charon_ns, "10.200.1.1", [] {}, seconds));
    CHECK_MESSAGE(lab.charon->output().find("received packet: from 10.99.0.2[4500] to 10.99.0.5[4500]") != std::string::npos,
                  lab.charon->output());
    const std::string counters = lab.stop_tapsec(*cli);
    MESSAGE(counters << "; " << lab.losses());
    CHECK(counter(counters, "esp_dropped") == 0);
}

TEST_CASE("IKEv2 tunnel, IPv6 inside: ping6 and 4 MB by TCP over IPv6 each way, tapsec initiating to charon and charon to tapsec") {
    // The third round: charon proposes an IPv6 and an IPv4 selector each way; tapsec
    // narrows to its own family, and charon installs the IPv6 pair alone.
    for (const auto& round : {std::pair{false, false}, std::pair{true, false}, std::pair{true, true}}) {
        // Plain variables, not structured bindings: CAPTURE's lambda reads them.
        const bool charon_initiates = round.first, dual_stack = round.second;
        CAPTURE(charon_initiates);
        CAPTURE(dual_stack);
        Inner inner = ipv6_inner;
        inner.charon_dual_stack = dual_stack;
        TunnelLab lab(charon_initiates, "10.99.0.2", "10.99.0.1", inner);
        auto cli = lab.start_tapsec(!charon_initiates);
        // Both ends negotiated TS_IPV6_ADDR_RANGE selectors.
        CHECK_MESSAGE(cli->output().find("fd00:200:2::1-fd00:200:2::1 === fd00:200:1::1-fd00:200:1::1") != std::string::npos,
                      cli->output());
        CHECK_MESSAGE(lab.charon->wait_for_output("TS fd00:200:1::1/128 === fd00:200:2::1/128\n", 5s), lab.charon->output());
        // ICMPv6 each way: the echo requests and replies cross the tunnel as IPv6 in ESP.
        const std::string ping = " ping -6 -n -c 3 -i 0.2 -W 3 -I ";
        CHECK_MESSAGE(test::run("ip netns exec " + lab.tapsec_ns.name() + ping + ipv6_inner.tapsec + " " + ipv6_inner.charon +
                                " > " + lab.dir.file("ping.log") + " 2>&1") == 0,
                      test::read_file(lab.dir.file("ping.log")) << cli->output() << "\ncharon:\n" << lab.charon->output());
        CHECK_MESSAGE(test::run("ip netns exec " + lab.charon_ns.name() + ping + ipv6_inner.charon + " " + ipv6_inner.tapsec +
                                " > " + lab.dir.file("ping.log") + " 2>&1") == 0,
                      test::read_file(lab.dir.file("ping.log")));
        double up = 0, down = 0;
        CHECK(lab.transfer(lab.tapsec_ns, ipv6_inner.tapsec, lab.charon_ns, ipv6_inner.charon, [] {}, up));
        CHECK(lab.transfer(lab.charon_ns, ipv6_inner.charon, lab.tapsec_ns, ipv6_inner.tapsec, [] {}, down));
        const std::string counters = lab.stop_tapsec(*cli);
        MESSAGE("IPv6 inside: 4 MB tapsec -> charon in " << up << " s, charon -> tapsec in " << down << " s; " << counters
                                                         << "; " << lab.losses());
        CHECK(counter(counters, "esp_dropped") == 0);
        CHECK(counter(counters, "esp_received") > 1000);  // 4 MB of TCP came in as ESP
        if (!charon_initiates) CHECK(lab.charon->wait_for_output("received DELETE for IKE_SA tapsec[1]", 5s));
    }
}

}  // namespace ikev2_tunnel_test
