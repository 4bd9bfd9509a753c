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
#include <doctest/doctest.h>

#include <signal.h>

#include <filesystem>
#include <string>

#include "support/charon.hpp"
#include "support/netns.hpp"
#include "support/process.hpp"

using namespace std::chrono_literals;
namespace test = tapsec::test;

namespace {

const std::string psk_text = "tapsec-tunnel-pre-shared-key-0123456789";
constexpr std::size_t transfer_bytes = 20 * 1024 * 1024;

/// charon in its namespace with one connection `tapsec` to the tapsec CLI's namespace.
struct TunnelLab {
    test::TempDir dir;
    test::NetworkNamespace charon_ns{"tapsec-itc"}, tapsec_ns{"tapsec-itt"};
    std::unique_ptr<test::Process> charon;

    explicit TunnelLab(bool charon_initiates) {
        REQUIRE_MESSAGE(test::have_program("socat"), "socat is not installed (scripts/install-deps.sh)");
        test::charon::join(charon_ns, tapsec_ns, "vit");
        test::charon::write_conf(dir, "      default = 1\n      ike = 1\n      time_format = %T\n");
        test::write_file(dir.file("swanctl.conf"),
                         "connections {\n"
                         "  tapsec {\n"
                         "    version = 2\n"
                         "    local_addrs = 10.99.0.1\n"
                         "    remote_addrs = 10.99.0.2\n" +
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
                             "        local_ts = 10.200.1.1/32\n"
                             "        remote_ts = 10.200.2.1/32\n"
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
        REQUIRE(test::run("head -c " + std::to_string(transfer_bytes) + " /dev/urandom > " + dir.file("sent.bin")) == 0);
    }

    int swanctl(const std::string& arguments) const { return test::charon::swanctl(charon_ns, dir, arguments); }

    /// `tapsec connect` (to charon) or `tapsec listen` (charon initiates), on TUN tit0.
    std::unique_ptr<test::Process> start_tapsec(bool connect) {
        std::vector<std::string> argv{TAPSEC_TOOL_PATH, connect ? "connect" : "listen", "ikev2",
                                      connect ? "10.99.0.1:4500" : "10.99.0.2:4500", "--psk-file", dir.file("psk.txt"),
                                      "--local-id", "a@test", "--remote-id", "b.test", "--local-ts", "10.200.2.1",
                                      "--remote-ts", "10.200.1.1", "--tun", "tit0", "--verbose"};
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
        return test::run("for i in $(seq 200); do ip netns exec " + ns.name() + " ss -ltn | grep -q '" + address_port +
                         " ' && exit 0; sleep 0.05; done; exit 1") == 0;
    }

    /// TcpRetransSegs of a namespace's TCP stack (/proc/net/snmp as seen inside it).
    static long tcp_retransmissions(const test::NetworkNamespace& ns) {
        test::TempDir scratch;
        test::run("ip netns exec " + ns.name() + " awk '/^Tcp:/ {n++; if (n == 2) print $13}' /proc/net/snmp > " +
                  scratch.file("r"));
        const std::string text = test::read_file(scratch.file("r"));
        return text.empty() ? -1 : std::stol(text);
    }

    /// 20 MB by TCP from `from` to a receiver in `to` on `to_address`; `while_flowing`
    /// runs once a first megabyte has arrived. True when the received sha256 equals
    /// the sent one; the seconds taken go to `seconds`.
    template <class WhileFlowing>
    bool transfer(const test::NetworkNamespace& from, const std::string& from_address, const test::NetworkNamespace& to,
                  const std::string& to_address, WhileFlowing&& while_flowing, double& seconds) {
        std::filesystem::remove(dir.file("received.bin"));
        test::Process receiver(to.exec({"socat", "-u", "TCP-LISTEN:5201,bind=" + to_address + ",reuseaddr",
                                        "CREATE:" + dir.file("received.bin")}),
                               dir.file("receiver.log"));
        REQUIRE_MESSAGE(listening(to, to_address + ":5201"), test::read_file(dir.file("receiver.log")));
        const auto start = std::chrono::steady_clock::now();
        test::Process sender(from.exec({"socat", "-u", "OPEN:" + dir.file("sent.bin"),
                                        "TCP:" + to_address + ":5201,bind=" + from_address}),
                             dir.file("sender.log"));
        const bool flowing = receiver.wait_until(
            [&](const std::string&) {
                std::error_code ec;
                return std::filesystem::file_size(dir.file("received.bin"), ec) >= 1024 * 1024;
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

void transfers_both_ways(TunnelLab& lab) {
    double up = 0, down = 0;
    CHECK(lab.transfer(lab.tapsec_ns, "10.200.2.1", lab.charon_ns, "10.200.1.1", [] {}, up));
    CHECK(lab.transfer(lab.charon_ns, "10.200.1.1", lab.tapsec_ns, "10.200.2.1", [] {}, down));
    MESSAGE("20 MB tapsec -> charon in " << up << " s (" << 8 * 20.97152 / up << " Mbit/s), charon -> tapsec in " << down
                                         << " s (" << 8 * 20.97152 / down << " Mbit/s)");
}

}  // namespace

TEST_CASE("IKEv2 tunnel: `tapsec connect ikev2 --tun` to charon, 20 MB by TCP each way, sha256 equal") {
    TunnelLab lab(false);
    auto cli = lab.start_tapsec(true);
    transfers_both_ways(lab);
    const std::string counters = lab.stop_tapsec(*cli);
    MESSAGE(counters);
    CHECK(counter(counters, "esp_dropped") == 0);
    CHECK(lab.charon->wait_for_output("received DELETE for IKE_SA tapsec[1]", 5s));
}

TEST_CASE("IKEv2 tunnel: charon initiates to `tapsec listen ikev2 --tun`, 20 MB by TCP each way, sha256 equal") {
    TunnelLab lab(true);
    auto cli = lab.start_tapsec(false);
    transfers_both_ways(lab);
    const std::string counters = lab.stop_tapsec(*cli);
    MESSAGE(counters);
    CHECK(counter(counters, "esp_dropped") == 0);
}
