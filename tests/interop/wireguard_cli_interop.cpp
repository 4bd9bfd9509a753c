// The `tapsec` command as a WireGuard peer of wireguard-go, used the way a new user
// would: keys from `wg genkey`, a configuration file in the `wg` format, and
// `tapsec connect|listen wireguard --config FILE`.
//  - --tun: wireguard-go in one namespace, tapsec with its own TUN device in another,
//    joined by a veth pair; `ping` crosses the tunnel both ways.
//  - the default data path: inner IP packets framed on stdin/stdout (2-byte length).
//  - one-line errors for a bad file, missing options and a failed handshake.
#include <doctest/doctest.h>

#include <tapsec/tapsec.hpp>

#include "support/netns.hpp"
#include "support/process.hpp"

using namespace tapsec;
using namespace tapsec::wireguard;
using namespace std::chrono_literals;

namespace wireguard_cli_interop {

const std::string tool = TAPSEC_TOOL_PATH;

std::string trim(std::string s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
    return s;
}

struct Keys {
    std::string go_private_file, go_public, tapsec_private, tapsec_public;
};

Keys make_keys(const test::TempDir& dir) {
    REQUIRE_MESSAGE(test::have_program("wg"), "wg is not installed (apt-get install wireguard-tools)");
    REQUIRE(test::run("umask 077; wg genkey > " + dir.file("go.key") + " && wg pubkey < " + dir.file("go.key") + " > " +
                      dir.file("go.pub") + " && wg genkey > " + dir.file("t.key") + " && wg pubkey < " + dir.file("t.key") +
                      " > " + dir.file("t.pub")) == 0);
    return {dir.file("go.key"), trim(test::read_file(dir.file("go.pub"))), trim(test::read_file(dir.file("t.key"))),
            trim(test::read_file(dir.file("t.pub")))};
}

std::unique_ptr<test::Process> start_wireguard_go(const test::NetworkNamespace& ns, const test::TempDir& dir) {
    REQUIRE_MESSAGE(test::have_program("wireguard-go"), "wireguard-go is not installed (apt-get install wireguard-go)");
    auto daemon = std::make_unique<test::Process>(
        ns.exec({"env", "WG_PROCESS_FOREGROUND=1", "LOG_LEVEL=debug", "wireguard-go", "-f", "wg0"}), dir.file("go.log"));
    bool up = false;
    for (int i = 0; i < 100 && !up; ++i) {
        up = test::run("ip netns exec " + ns.name() + " wg show wg0 >/dev/null 2>&1") == 0;
        if (!up) std::this_thread::sleep_for(50ms);
    }
    REQUIRE_MESSAGE(up, "wireguard-go did not create wg0: " << daemon->output());
    return daemon;
}

bool wait_until(const std::function<bool()>& condition, std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    while (Clock::now() < deadline) {
        if (condition()) return true;
        std::this_thread::sleep_for(50ms);
    }
    return condition();
}

/// tapsec (on `provider`) with its own TUN device in one namespace, wireguard-go in another.
void tun_ping_both_ways(const std::string& provider, const std::string& provider_name) {
    REQUIRE_MESSAGE(test::have_program("ping"), "ping is not installed (apt-get install iputils-ping)");
    test::TempDir dir;
    test::NetworkNamespace go_ns("tapsec-wgcli-go"), tapsec_ns("tapsec-wgcli-ts");
    REQUIRE(go_ns.ok());
    REQUIRE(tapsec_ns.ok());
    test::join_by_veth(go_ns, "vwg1", "192.168.77.1/24", tapsec_ns, "vwg2", "192.168.77.2/24");
    const Keys keys = make_keys(dir);
    auto daemon = start_wireguard_go(go_ns, dir);
    const std::string in_go = "ip netns exec " + go_ns.name() + " ";
    REQUIRE(test::run(in_go + "wg set wg0 private-key " + keys.go_private_file + " listen-port 51820 peer " +
                      keys.tapsec_public + " allowed-ips 10.77.0.2/32") == 0);
    REQUIRE(test::run(in_go + "ip addr add 10.77.0.1/24 dev wg0") == 0);
    REQUIRE(test::run(in_go + "ip link set wg0 up") == 0);
    test::write_file(dir.file("tapsec.conf"), "[Interface]\n"
                                              "PrivateKey = " + keys.tapsec_private + "\n"
                                              "ListenPort = 51821\n"
                                              "Address = 10.77.0.2/24\n"
                                              "\n[Peer]\n"
                                              "PublicKey = " + keys.go_public + "\n"
                                              "Endpoint = 192.168.77.1:51820\n"
                                              "AllowedIPs = 10.77.0.0/24\n"
                                              "PersistentKeepalive = 25\n");
    test::Process tapsec(tapsec_ns.exec({tool, "connect", "wireguard", "--config", dir.file("tapsec.conf"), "--tun", "wgts0",
                                         "--verbose", "--provider", provider}),
                         dir.file("tapsec.log"));
    CHECK_MESSAGE(tapsec.wait_for_output("tapsec: wireguard: provider " + provider_name, 5s), tapsec.output());
    REQUIRE_MESSAGE(tapsec.wait_for_output("connected to", 15s), "tapsec: " << tapsec.output() << "\nwireguard-go: " << daemon->output());
    // wireguard-go learned tapsec's endpoint from the handshake (it had none configured).
    CHECK(wait_until([&] {
        test::run(in_go + "wg show wg0 endpoints > " + dir.file("ep.txt"));
        return test::read_file(dir.file("ep.txt")).find("192.168.77.2:51821") != std::string::npos;
    }, 5s));
    // ping from the wireguard-go side to the tapsec side's TUN address, and back.
    test::Process ping_out(go_ns.exec({"ping", "-c", "3", "-i", "0.3", "-W", "3", "10.77.0.2"}), dir.file("ping1.log"));
    CHECK(ping_out.wait(15s) == 0);
    CHECK(ping_out.output().find("3 received") != std::string::npos);
    test::Process ping_back(tapsec_ns.exec({"ping", "-c", "3", "-i", "0.3", "-W", "3", "10.77.0.1"}), dir.file("ping2.log"));
    CHECK(ping_back.wait(15s) == 0);
    CHECK(ping_back.output().find("3 received") != std::string::npos);
    INFO("tapsec: " << tapsec.output());
    CHECK(tapsec.running());
    tapsec.kill();
}


TEST_CASE("tapsec CLI with --tun and wireguard-go across two namespaces: ping both ways, --provider botan|openssl") {
    const std::pair<std::string, std::string> rows[] = {{"botan", "Botan 2"}, {"openssl", "OpenSSL 3 libcrypto"}};
    for (const auto& [provider, name] : rows) {
        CAPTURE(provider);
        tun_ping_both_ways(provider, name);
    }
}

TEST_CASE("tapsec CLI listening, framed stdin/stdout, wireguard-go initiates") {
    test::TempDir dir;
    test::NetworkNamespace ns("tapsec-wgcli");
    REQUIRE(ns.ok());
    const Keys keys = make_keys(dir);
    auto daemon = start_wireguard_go(ns, dir);
    const std::string in = "ip netns exec " + ns.name() + " ";
    REQUIRE(test::run(in + "wg set wg0 private-key " + keys.go_private_file + " listen-port 51820 peer " + keys.tapsec_public +
                      " endpoint 127.0.0.1:51821 allowed-ips 10.77.0.2/32") == 0);
    REQUIRE(test::run(in + "ip addr add 10.77.0.1/24 dev wg0") == 0);
    REQUIRE(test::run(in + "ip link set wg0 up") == 0);
    test::write_file(dir.file("tapsec.conf"), "[Interface]\nPrivateKey = " + keys.tapsec_private +
                                                  "\n[Peer]\nPublicKey = " + keys.go_public +
                                                  "\nAllowedIPs = 10.77.0.0/24\n");
    // Listen on 51821 (the target overrides the file's missing ListenPort).
    test::Process tapsec(ns.exec({tool, "listen", "wireguard", "51821", "--config", dir.file("tapsec.conf")}),
                         dir.file("tapsec.out"));
    REQUIRE_MESSAGE(tapsec.wait_for_output("tapsec: wireguard: listening on 0.0.0.0:51821, public key ", 10s), tapsec.output());
    // Into wg0 from the namespace: the kernel routes 10.77.0.2 through wireguard-go.
    test::Process sender(ns.exec({"bash", "-c", "echo into-the-tunnel > /dev/udp/10.77.0.2/9999"}), dir.file("send.log"));
    CHECK(sender.wait(5s) == 0);
    // stdout and stderr share the log: the frames follow the listening line.
    auto framed = [&] {
        const std::string all = tapsec.output();
        return all.substr(all.find('\n', all.find("listening on")) + 1);
    };
    REQUIRE_MESSAGE(wait_until([&] { return framed().size() >= 2 + 28 + 16; }, 20s),
                    "nothing framed on tapsec's stdout; wireguard-go: " << daemon->output());
    const std::string out = framed();
    const std::size_t length = std::size_t{static_cast<std::uint8_t>(out[0])} << 8 | static_cast<std::uint8_t>(out[1]);
    REQUIRE(out.size() >= 2 + length);
    auto udp = parse_ipv4_udp_packet(as_bytes(std::string_view(out).substr(2, length)));
    REQUIRE(udp);
    CHECK(std::string(udp->payload.begin(), udp->payload.end()) == "into-the-tunnel\n");
    CHECK(udp->destination_port == 9999);

    // Out of the tunnel: a framed IPv4/UDP packet on stdin arrives at a socket on wg0.
    test::Process receiver(ns.exec({"python3", "-c",
                                    "import socket\n"
                                    "s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\n"
                                    "s.bind(('10.77.0.1',7777)); s.settimeout(8)\n"
                                    "print('ready', flush=True)\n"
                                    "print(s.recv(2000).decode(), flush=True)\n"}),
                           dir.file("receiver.log"));
    REQUIRE(receiver.wait_for_output("ready", 10s));
    Bytes packet = make_ipv4_udp_packet(*IpAddress::parse("10.77.0.2"), *IpAddress::parse("10.77.0.1"), 4000, 7777,
                                        as_bytes("out-of-the-tunnel"));
    std::string frame{static_cast<char>(packet.size() >> 8), static_cast<char>(packet.size() & 0xff)};
    frame.append(packet.begin(), packet.end());
    tapsec.write_stdin(frame);
    CHECK(receiver.wait_for_output("out-of-the-tunnel", 8s));
    tapsec.close_stdin();
    CHECK(tapsec.wait(10s) == 0);
}

TEST_CASE("tapsec CLI wireguard: one-line errors") {
    test::TempDir dir;
    auto run = [&](const std::string& args) {
        const int status = test::run(tool + " " + args + " > " + dir.file("out.txt") + " 2>&1");
        return std::pair{WEXITSTATUS(status), test::read_file(dir.file("out.txt"))};
    };
    auto one_line = [](const std::string& s) { return std::count(s.begin(), s.end(), '\n') == 1; };
    {
        auto [status, out] = run("connect wireguard");
        CHECK(status == 2);  // a command-line mistake
        CHECK(out.find("--config FILE is required") != std::string::npos);
        CHECK(one_line(out));
    }
    {
        auto [status, out] = run("connect wireguard --config " + dir.file("missing.conf"));
        CHECK(status == 2);
        CHECK(out.find("cannot read configuration") != std::string::npos);
    }
    {
        test::write_file(dir.file("bad.conf"), "[Interface]\nPrivateKey = dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo=\n\n[Peer]\nPublicKey = short\n");
        auto [status, out] = run("connect wireguard --config " + dir.file("bad.conf"));
        CHECK(status == 2);
        CHECK(out.find("bad.conf:5: PublicKey: not a base64 32-byte key") != std::string::npos);
        CHECK(one_line(out));
    }
    {
        test::write_file(dir.file("ok.conf"), "[Interface]\nPrivateKey = dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo=\n\n[Peer]\n"
                                              "PublicKey = hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo=\nAllowedIPs = 10.0.0.0/8\n");
        auto [status, out] = run("connect wireguard --config " + dir.file("ok.conf") + " --colour blue");
        CHECK(status == 2);
        CHECK(out.find("unknown option --colour") != std::string::npos);
        auto [status2, out2] = run("connect wireguard --config " + dir.file("ok.conf"));
        CHECK(status2 == 2);
        CHECK(out2.find("connect needs a peer Endpoint") != std::string::npos);
        // Nobody answers: the handshake gives up after the timeout, with one line.
        const auto port = test::free_port(SOCK_DGRAM);
        auto [status3, out3] = run("connect wireguard 127.0.0.1:" + std::to_string(port) + " --config " + dir.file("ok.conf") +
                                   " --handshake-timeout 2");
        CHECK(status3 == 1);
        CHECK(out3.find("handshake with 127.0.0.1:" + std::to_string(port) + " failed") != std::string::npos);
        CHECK(one_line(out3));
    }
}

}  // namespace wireguard_cli_interop
