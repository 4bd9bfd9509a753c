// The Asio adapter's examples (examples/asio_*.cpp), run against real peers: the Beast
// GET against `openssl s_server -www`, and the coroutine echo server under ten clients
// at once (TLS 1.3 and TLS 1.2 `openssl s_client`, and the use_future client), and the
// WireGuard peer on Asio against `tapsec listen wireguard --udp-to`.
#include <doctest/doctest.h>

#include <memory>

#include <tapsec/wireguard.hpp>

#include "support/pki.hpp"
#include "support/process.hpp"
#include "support/wireguard_keys.hpp"

using namespace tapsec::test;

namespace asio_examples_test {

const std::string examples_dir = TAPSEC_EXAMPLES_DIR;

struct Fixture {
    TestPki pki;
    CertificateFiles server;
    Fixture() {
        REQUIRE_MESSAGE((have_program("openssl")), ("openssl is not installed (Debian package openssl)"));
        REQUIRE(pki.ok());
        server = pki.issue("server");
        REQUIRE(!server.certificate.empty());
    }
    std::string log(const std::string& name) { return pki.directory() + "/" + name + ".log"; }
};


TEST_CASE("asio example: Boost.Beast HTTP/1.1 GET over TLS 1.3 against openssl s_server -www") {
    Fixture f;
    const auto port = std::to_string(free_port());
    Process server({"openssl", "s_server", "-accept", "127.0.0.1:" + port, "-cert", f.server.certificate, "-key",
                    f.server.key, "-tls1_3", "-www", "-naccept", "1"},
                   f.log("s_server"));
    REQUIRE_MESSAGE((server.wait_for_output("ACCEPT")), (server.output()));
    Process get({examples_dir + "/asio_https_get", "localhost", port, f.pki.ca().certificate, "/"}, f.log("get"));
    CHECK(get.wait() == 0);
    const auto out = get.output();
    CHECK_MESSAGE((out.find("HTTP/1.0 200 ok") != std::string::npos), (out));
    CHECK_MESSAGE((out.find("New, TLSv1.3, Cipher is TLS_") != std::string::npos), (out));  // the page s_server wrote
    CHECK_MESSAGE((out.find("</BODY></HTML>") != std::string::npos), (out));                // read to its end
}

TEST_CASE("asio example: the Beast GET reports an untrusted server in one line and exits 1") {
    Fixture f;
    TestPki stranger;
    REQUIRE(stranger.ok());
    const auto port = std::to_string(free_port());
    Process server({"openssl", "s_server", "-accept", "127.0.0.1:" + port, "-cert", f.server.certificate, "-key",
                    f.server.key, "-tls1_3", "-www", "-naccept", "1"},
                   f.log("s_server-untrusted"));
    REQUIRE_MESSAGE((server.wait_for_output("ACCEPT")), (server.output()));
    Process get({examples_dir + "/asio_https_get", "localhost", port, stranger.ca().certificate, "/"}, f.log("get-untrusted"));
    CHECK(get.wait() == 1);
    const auto out = get.output();
    CHECK_MESSAGE((out.rfind("handshake: ", 0) == 0), (out));
    CHECK(count_of(out, "\n") == 1);
    CHECK(out.find("HTTP/") == std::string::npos);
}

TEST_CASE("asio example: the coroutine echo server serves ten TLS 1.3 and TLS 1.2 clients at once") {
    Fixture f;
    const auto port13 = std::to_string(free_port()), port12 = std::to_string(free_port());
    constexpr int s_clients13 = 6, s_clients12 = 2, future_clients = 2;
    Process server({examples_dir + "/asio_echo_server", port13, port12, f.server.certificate, f.server.key,
                    std::to_string(s_clients13 + s_clients12 + future_clients)},
                   f.log("echo-server"));
    REQUIRE_MESSAGE((server.wait_for_output("listening")), (server.output()));

    // Every s_client connects and gets its own line back while all of them stay connected:
    // a server taking one connection after another would answer only the first.
    std::vector<std::unique_ptr<Process>> clients;
    for (int i = 0; i < s_clients13 + s_clients12; ++i) {
        const bool tls13 = i < s_clients13;
        clients.push_back(std::make_unique<Process>(
            std::vector<std::string>{"openssl", "s_client", "-connect", "127.0.0.1:" + (tls13 ? port13 : port12),
                                     tls13 ? "-tls1_3" : "-tls1_2", "-servername", "localhost", "-CAfile",
                                     f.pki.ca().certificate, "-verify_return_error"},
            f.log("s_client-" + std::to_string(i))));
    }
    for (int i = 0; i < s_clients13 + s_clients12; ++i) {
        auto& c = *clients[i];
        REQUIRE_MESSAGE((c.wait_for_output("Verify return code: 0")), (c.output()));
        c.write_stdin("echo line from client " + std::to_string(i) + "\n");
    }
    for (int i = 0; i < s_clients13 + s_clients12; ++i) {
        auto& c = *clients[i];
        const std::string line = "echo line from client " + std::to_string(i) + "\n";
        CHECK_MESSAGE((c.wait_for_output(line)), (c.output()));
        CHECK(c.running());
    }
    // The use_future clients, while the s_clients are still connected.
    std::vector<std::unique_ptr<Process>> futures;
    for (int i = 0; i < future_clients; ++i)
        futures.push_back(std::make_unique<Process>(
            std::vector<std::string>{examples_dir + "/asio_echo_client", "localhost", port13, f.pki.ca().certificate,
                                     "future client " + std::to_string(i)},
            f.log("future-client-" + std::to_string(i))));
    for (int i = 0; i < future_clients; ++i) {
        CHECK(futures[i]->wait() == 0);
        CHECK_MESSAGE((futures[i]->output().find("future client " + std::to_string(i)) != std::string::npos),
                      (futures[i]->output()));
    }
    // Each s_client sends close_notify at the end of its input; the server answers with its own.
    for (auto& c : clients) c->close_stdin();
    for (auto& c : clients) CHECK(c->wait() == 0);
    CHECK_MESSAGE((server.wait() == 0), (server.output()));
    const auto out = server.output();
    CHECK_MESSAGE((count_of(out, "TLS 1.3: echoed") == s_clients13 + future_clients), (out));
    CHECK_MESSAGE((count_of(out, "TLS 1.2: echoed") == s_clients12), (out));
    CHECK_MESSAGE((out.find("10 of 10 connections closed cleanly") != std::string::npos), (out));
}

TEST_CASE("asio example: the WireGuard peer on Asio talks through the tunnel to `tapsec listen wireguard --udp-to`") {
    namespace wg = tapsec::wireguard;
    TempDir dir;
    const auto port = std::to_string(free_port(SOCK_DGRAM));
    const auto listener_key = random_private_key(), peer_key = random_private_key();
    const std::string listener_conf = dir.file("listener.conf"), peer_conf = dir.file("peer.conf");
    write_file(listener_conf, "[Interface]\nPrivateKey = " + wg::encode_key(listener_key) + "\nAddress = 10.92.0.2/24\n\n"
                              "[Peer]\nPublicKey = " + wg::encode_key(public_of(peer_key)) + "\nAllowedIPs = 10.92.0.1/32\n");
    write_file(peer_conf, "[Interface]\nPrivateKey = " + wg::encode_key(peer_key) + "\nAddress = 10.92.0.1/24\n\n"
                          "[Peer]\nPublicKey = " + wg::encode_key(public_of(listener_key)) + "\nEndpoint = 127.0.0.1:" + port +
                          "\nAllowedIPs = 10.92.0.0/24\n");
    Process listener({TAPSEC_TOOL_PATH, "listen", "wireguard", "127.0.0.1:" + port, "--config", listener_conf, "--udp-to",
                      "10.92.0.1:7000"},
                     dir.file("listener.log"));
    REQUIRE_MESSAGE((listener.wait_for_output("listening on 127.0.0.1:" + port)), (listener.output()));
    Process peer({examples_dir + "/asio_wireguard_peer", peer_conf, "10.92.0.2:7000", "2", "hello from asio", "second datagram"},
                 dir.file("peer.log"));
    // The listener writes each datagram's payload that came out of the tunnel; then its
    // stdin lines go back in, as datagrams to the example's inner address.
    REQUIRE_MESSAGE((listener.wait_for_output("hello from asio\nsecond datagram\n")), (listener.output() + peer.output()));
    listener.write_stdin("reply one\nreply two\n");
    CHECK_MESSAGE((peer.wait() == 0), (peer.output()));
    CHECK_MESSAGE((peer.output() == "reply one\nreply two\n"), (peer.output()));
    listener.close_stdin();
    CHECK_MESSAGE((listener.wait() == 0), (listener.output()));
}

}  // namespace asio_examples_test
