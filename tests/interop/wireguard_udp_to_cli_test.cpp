// `tapsec connect|listen wireguard --udp-to` as a user drives it, two processes on
// loopback (issue 16: a burst of 5,000 lines through --udp-to lost up to 2,276 with exit
// status 0). Every line must arrive, or the loss must be counted, reported and make the
// exit status non-zero. Also: the listener says that it listens, gives up with status 1
// when no peer came, and `show wireguard` prints what `wg show` prints.
#include <doctest/doctest.h>

#include <tapsec/tapsec.hpp>

#include "support/process.hpp"

using namespace tapsec;
using namespace std::chrono_literals;

namespace wireguard_udp_to_cli_test {

const std::string tool = TAPSEC_TOOL_PATH;

struct Pair {
    std::string listener_conf, sender_conf, listener_public;
};

Pair write_configs(const test::TempDir& dir, std::uint16_t port) {
    auto key = [] {
        SecretArray<32> k;
        crypto::Botan2::random(k);
        return k;
    };
    const auto a = key(), b = key();
    auto public_of = [](const SecretArray<32>& k) {
        return wireguard::encode_key(wireguard::StaticIdentity<crypto::Botan2>::from_private(k)->public_key);
    };
    Pair p{dir.file("listener.conf"), dir.file("sender.conf"), public_of(a)};
    test::write_file(p.listener_conf, "[Interface]\nPrivateKey = " + wireguard::encode_key(a) + "\nAddress = 10.91.0.2/24\n\n[Peer]\n"
                                      "PublicKey = " + public_of(b) + "\nAllowedIPs = 10.91.0.1/32\nPersistentKeepalive = 25\n");
    // A host name in Endpoint (resolved with getaddrinfo), as `wg` accepts.
    test::write_file(p.sender_conf, "[Interface]\nPrivateKey = " + wireguard::encode_key(b) + "\nAddress = 10.91.0.1/24\n\n[Peer]\n"
                                    "PublicKey = " + public_of(a) + "\nEndpoint = localhost:" + std::to_string(port) +
                                    "\nAllowedIPs = 10.91.0.0/24\n");
    return p;
}

/// The number N in "tapsec: N packets lost: ...", or 0.
std::size_t reported_loss(const std::string& log) {
    const auto at = log.find(" packets lost:");
    if (at == std::string::npos) return 0;
    const auto start = log.rfind("tapsec: ", at);
    return start == std::string::npos ? 0 : std::strtoull(log.c_str() + start + 8, nullptr, 10);
}


TEST_CASE("wireguard --udp-to: a 5,000-line burst arrives whole, or every lost line is reported with exit 1") {
    test::TempDir dir;
    const auto port = test::free_port(SOCK_DGRAM);
    const Pair p = write_configs(dir, port);
    test::Process listener({tool, "listen", "wireguard", "127.0.0.1:" + std::to_string(port), "--config", p.listener_conf,
                            "--udp-to", "10.91.0.1:9000", "--status", dir.file("status")},
                           dir.file("listener.log"));
    REQUIRE_MESSAGE(listener.wait_for_output("listening on 127.0.0.1:" + std::to_string(port)), listener.output());

    constexpr int lines = 5000;
    std::string burst;
    for (int i = 0; i < lines; ++i) burst += "burst-" + std::to_string(100000 + i) + "\n";
    test::Process sender({tool, "connect", "wireguard", "--config", p.sender_conf, "--udp-to", "10.91.0.2:9000"},
                         dir.file("sender.log"));
    sender.write_stdin(burst);
    sender.close_stdin();
    CHECK_MESSAGE(sender.wait(30s) == 0, sender.output());

    // The listener's live status, as `wg show` prints it, while the peer is known.
    REQUIRE(listener.wait_until([&](const std::string&) { return test::read_file(dir.file("status")).find("transfer:") != std::string::npos; }, 5s));
    const std::string status = test::read_file(dir.file("status"));
    CHECK(status.find("interface: listener\n  public key: " + p.listener_public) != std::string::npos);
    CHECK(status.find("listening port: " + std::to_string(port)) != std::string::npos);
    CHECK(status.find("endpoint: 127.0.0.1:") != std::string::npos);
    CHECK(status.find("allowed ips: 10.91.0.1/32") != std::string::npos);
    CHECK(status.find("latest handshake: ") != std::string::npos);
    CHECK(status.find("persistent keepalive: every 25 seconds") != std::string::npos);

    listener.close_stdin();
    const int listener_status = listener.wait(20s);
    const std::string log = listener.output();
    const std::size_t received = test::count_of(log, "burst-");
    const std::size_t lost = reported_loss(log);
    MESSAGE("received " << received << " of " << lines << " lines; reported lost " << lost << "; exit " << listener_status);
    if (listener_status == 0) {
        CHECK(received == lines);
        CHECK(lost == 0);
    } else {
        CHECK(listener_status == 1);
        CHECK(lost > 0);
        CHECK(received + lost == lines);
    }
}

TEST_CASE("listen wireguard: no peer within --handshake-timeout is exit 1 with one line, after saying it listens") {
    test::TempDir dir;
    const auto port = test::free_port(SOCK_DGRAM);
    const Pair p = write_configs(dir, port);
    test::Process listener({tool, "listen", "wireguard", "127.0.0.1:" + std::to_string(port), "--config", p.listener_conf,
                            "--udp-to", "10.91.0.1:9000", "--handshake-timeout", "1"},
                           dir.file("listener.log"));
    listener.close_stdin();  // stdin at its end must not make a listener give up before a peer came
    CHECK(listener.wait(10s) == 1);
    const std::string log = listener.output();
    CHECK(log.find("tapsec: wireguard: listening on 127.0.0.1:" + std::to_string(port) + ", public key " + p.listener_public) !=
          std::string::npos);
    CHECK(log.find("tapsec: no peer completed a handshake within 1 s") != std::string::npos);
    CHECK(test::count_of(log, "\n") == 2);
}

TEST_CASE("show wireguard CONFIG prints the interface and peers as wg show does; a bad name is one line") {
    test::TempDir dir;
    const Pair p = write_configs(dir, 51999);
    const std::string out = dir.file("show.txt");
    REQUIRE(test::run(tool + " show wireguard " + p.sender_conf + " > " + out + " 2>&1") == 0);
    const std::string text = test::read_file(out);
    CHECK(text.find("interface: sender\n  public key: ") == 0);
    CHECK(text.find("  private key: (hidden)\n") != std::string::npos);
    CHECK(text.find("\npeer: " + p.listener_public + "\n  endpoint: 127.0.0.1:51999\n  allowed ips: 10.91.0.0/24\n") !=
          std::string::npos);

    test::write_file(dir.file("unresolvable.conf"), test::read_file(p.sender_conf).replace(
        test::read_file(p.sender_conf).find("localhost"), 9, "no-such-host.invalid"));
    const int status = test::run(tool + " show wireguard " + dir.file("unresolvable.conf") + " > " + out + " 2>&1");
    CHECK(WEXITSTATUS(status) == 1);
    const std::string error = test::read_file(out);
    CHECK(error.find("Endpoint: cannot resolve no-such-host.invalid: ") != std::string::npos);
    CHECK(test::count_of(error, "\n") == 1);
}

}  // namespace wireguard_udp_to_cli_test
