// TLS 1.3 interop with OpenSSL 3.0 on loopback, both directions: `tapsec connect tls13`
// against `openssl s_server`, and `tapsec listen tls13` against `openssl s_client`, for
// each cipher suite and group, the three certificate key types, HelloRetryRequest,
// mutual authentication, KeyUpdate, resumption, 0-RTT and a 100 MB transfer.
#include <doctest/doctest.h>

#include <thread>

#include "support/pki.hpp"
#include "support/process.hpp"

using namespace tapsec::test;

namespace tls13_openssl_test {

const std::string tapsec_tool = TAPSEC_TOOL_PATH;
const char* const suites[] = {"TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256"};
const char* const groups[] = {"X25519", "P-256"};

struct Fixture {
    TestPki pki;
    CertificateFiles p256, ed25519, rsa, client;
    Fixture() {
        REQUIRE_MESSAGE((have_program("openssl")), ("openssl is not installed (Debian package openssl)"));
        REQUIRE(pki.ok());
        p256 = pki.issue("p256", KeyType::ecdsa_p256);
        ed25519 = pki.issue("ed25519", KeyType::ed25519);
        rsa = pki.issue("rsa", KeyType::rsa2048);
        client = pki.issue("client", KeyType::ecdsa_p256, "client.example");
        REQUIRE(!p256.certificate.empty());
        REQUIRE(!ed25519.certificate.empty());
        REQUIRE(!rsa.certificate.empty());
        REQUIRE(!client.certificate.empty());
    }
    /// A fresh log file per process: a reused name could still show the last run's output
    /// before the new child truncates it.
    std::string log(const std::string& name) {
        return pki.directory() + "/" + name + "-" + std::to_string(++logs) + ".log";
    }
    int logs = 0;
};

std::vector<std::string> s_server(std::uint16_t port, const CertificateFiles& cert, std::vector<std::string> extra) {
    std::vector<std::string> argv{"openssl", "s_server", "-accept", "127.0.0.1:" + std::to_string(port), "-cert",
                                  cert.certificate, "-key", cert.key, "-tls1_3"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return argv;
}

std::vector<std::string> tapsec_connect(std::uint16_t port, Fixture& f, std::vector<std::string> extra) {
    std::vector<std::string> argv{tapsec_tool, "connect", "tls13", "localhost:" + std::to_string(port), "--CAfile",
                                  f.pki.ca().certificate};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return argv;
}

std::vector<std::string> s_client(std::uint16_t port, Fixture& f, std::vector<std::string> extra) {
    std::vector<std::string> argv{"openssl", "s_client", "-connect", "127.0.0.1:" + std::to_string(port), "-tls1_3",
                                  "-servername", "localhost", "-CAfile", f.pki.ca().certificate, "-verify_return_error"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return argv;
}

std::vector<std::string> tapsec_listen(std::uint16_t port, const CertificateFiles& cert, std::vector<std::string> extra) {
    std::vector<std::string> argv{tapsec_tool, "listen", "tls13", std::to_string(port), "--cert", cert.certificate,
                                  "--key", cert.key};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return argv;
}

/// tapsec connect -> s_server -rev: a line goes out and comes back reversed.
void connect_and_echo(Fixture& f, const CertificateFiles& cert, std::vector<std::string> server_extra,
                      std::vector<std::string> client_extra, const std::string& expect_in_client = {}) {
    const auto port = free_port();
    server_extra.insert(server_extra.end(), {"-rev", "-naccept", "1"});
    Process server(s_server(port, cert, server_extra), f.log("s_server"));
    REQUIRE_MESSAGE((server.wait_for_output("ACCEPT")), (server.output()));
    Process client(tapsec_connect(port, f, client_extra), f.log("tapsec"));
    client.write_stdin("interop line\n");
    const bool echoed = client.wait_for_output("enil poretni");
    client.close_stdin();
    const int code = client.wait(std::chrono::seconds(10));
    CHECK_MESSAGE((echoed), (client.output() + "\n--- s_server:\n" + server.output()));
    CHECK_MESSAGE((code == 0), (client.output()));
    if (!expect_in_client.empty()) CHECK_MESSAGE((client.output().find(expect_in_client) != std::string::npos), (client.output()));
}

/// s_client -> tapsec listen: a line each way.
void listen_and_exchange(Fixture& f, const CertificateFiles& cert, std::vector<std::string> server_extra,
                         std::vector<std::string> client_extra, const std::string& expect_in_server = {}) {
    const auto port = free_port();
    Process server(tapsec_listen(port, cert, server_extra), f.log("tapsec-listen"));
    REQUIRE_MESSAGE((server.wait_for_output("listening")), (server.output()));
    Process client(s_client(port, f, client_extra), f.log("s_client"));
    client.write_stdin("from openssl\n");
    const bool got = server.wait_for_output("from openssl");
    server.write_stdin("from tapsec\n");
    const bool back = client.wait_for_output("from tapsec");
    client.close_stdin();
    server.close_stdin();
    const int code = server.wait(std::chrono::seconds(10));
    CHECK_MESSAGE((got), (server.output() + "\n--- s_client:\n" + client.output()));
    CHECK_MESSAGE((code == 0), (server.output()));  // a clean close, whichever close_notify went first
    CHECK_MESSAGE((back), (client.output()));
    if (!expect_in_server.empty()) CHECK_MESSAGE((server.output().find(expect_in_server) != std::string::npos), (server.output()));
}


TEST_CASE("tls13 interop: tapsec connect -> openssl s_server, every suite and group") {
    Fixture f;
    for (const char* suite : suites)
        for (const char* group : groups) {
            CAPTURE(suite);
            CAPTURE(group);
            connect_and_echo(f, f.p256, {"-ciphersuites", suite, "-groups", group}, {"--groups", "X25519:P-256"},
                             std::string(suite));
        }
}

TEST_CASE("tls13 interop: openssl s_client -> tapsec listen, every suite and group") {
    Fixture f;
    for (const char* suite : suites)
        for (const char* group : groups) {
            CAPTURE(suite);
            CAPTURE(group);
            listen_and_exchange(f, f.p256, {}, {"-ciphersuites", suite, "-groups", group}, std::string(suite));
        }
}

TEST_CASE("tls13 interop: ECDSA P-256, Ed25519 and RSA-PSS certificates, both directions") {
    Fixture f;
    for (const auto* cert : {&f.p256, &f.ed25519, &f.rsa}) {
        CAPTURE(cert->certificate);
        connect_and_echo(f, *cert, {}, {});
        listen_and_exchange(f, *cert, {}, {});
    }
}

TEST_CASE("tls13 interop: HelloRetryRequest forced by group preference, both directions") {
    Fixture f;
    // We send an X25519 share; s_server wants P-256.
    connect_and_echo(f, f.p256, {"-groups", "P-256"}, {"--groups", "X25519:P-256"}, "HelloRetryRequest");
    // s_client sends a P-256 share; we prefer X25519, which it also supports.
    listen_and_exchange(f, f.p256, {"--groups", "X25519:P-256"}, {"-groups", "P-256:X25519"}, "HelloRetryRequest");
    // A cookie-only retry (tapsec listen --hrr): s_client echoes the cookie.
    listen_and_exchange(f, f.p256, {"--hrr"}, {}, "HelloRetryRequest");
}

TEST_CASE("tls13 interop: mutual authentication, both directions") {
    Fixture f;
    connect_and_echo(f, f.p256, {"-Verify", "1", "-CAfile", f.pki.ca().certificate},
                     {"--cert", f.client.certificate, "--key", f.client.key});
    listen_and_exchange(f, f.p256, {"--require-client-cert", "--CAfile", f.pki.ca().certificate},
                        {"-cert", f.client.certificate, "-key", f.client.key}, "client.example");
    // Required but not given: the handshake fails with certificate_required.
    const auto port = free_port();
    Process server(tapsec_listen(port, f.p256, {"--require-client-cert", "--CAfile", f.pki.ca().certificate}),
                   f.log("tapsec-listen"));
    REQUIRE(server.wait_for_output("listening"));
    Process client(s_client(port, f, {}), f.log("s_client"));
    CHECK(server.wait(std::chrono::seconds(10)) == 1);
    CHECK_MESSAGE((server.output().find("client certificate required") != std::string::npos), (server.output()));
}

TEST_CASE("tls13 interop: KeyUpdate from openssl s_client (k and K) and from tapsec") {
    Fixture f;
    const auto port = free_port();
    Process server(tapsec_listen(port, f.p256, {}), f.log("tapsec-listen"));
    REQUIRE(server.wait_for_output("listening"));
    Process client(s_client(port, f, {}), f.log("s_client"));
    client.write_stdin("before\n");
    REQUIRE_MESSAGE((server.wait_for_output("before")), (server.output() + client.output()));
    client.write_stdin("k\n");
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    client.write_stdin("after k\n");
    CHECK_MESSAGE((server.wait_for_output("after k")), (server.output()));
    client.write_stdin("K\n");
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    client.write_stdin("after K\n");
    CHECK_MESSAGE((server.wait_for_output("after K")), (server.output()));
    server.write_stdin("reply under updated keys\n");
    CHECK_MESSAGE((client.wait_for_output("reply under updated keys")), (client.output()));
    CHECK(server.output().find("key update (read)") != std::string::npos);
    CHECK(server.output().find("key update (write)") != std::string::npos);  // answered K
    client.close_stdin();
    server.close_stdin();
    server.wait(std::chrono::seconds(10));
    // tapsec asks s_server to update (update_requested) and keeps talking.
    connect_and_echo(f, f.p256, {}, {"--keyupdate"}, "key update (write)");
    // Automatic updates every 2 records under one key.
    connect_and_echo(f, f.p256, {}, {"--keyupdate-after", "2"});
}

TEST_CASE("tls13 interop: resumption with tickets, both directions") {
    Fixture f;
    {
        const auto port = free_port();
        Process server(s_server(port, f.p256, {"-rev", "-naccept", "2"}), f.log("s_server"));
        REQUIRE(server.wait_for_output("ACCEPT"));
        const std::string sess = f.pki.directory() + "/tapsec.sess";
        {
            Process c(tapsec_connect(port, f, {"--sess-out", sess}), f.log("tapsec1"));
            c.write_stdin("first\n");
            CHECK(c.wait_for_output("tsrif"));
            CHECK(c.wait_for_output("session ticket stored"));
            c.close_stdin();
            CHECK(c.wait() == 0);
        }
        Process c(tapsec_connect(port, f, {"--sess-in", sess}), f.log("tapsec2"));
        c.write_stdin("second\n");
        CHECK(c.wait_for_output("dnoces"));
        c.close_stdin();
        CHECK(c.wait() == 0);
        CHECK_MESSAGE((c.output().find("resumed") != std::string::npos), (c.output()));
    }
    {
        const auto port = free_port();
        Process server(tapsec_listen(port, f.p256, {"--naccept", "2"}), f.log("tapsec-listen"));
        REQUIRE(server.wait_for_output("listening"));
        const std::string sess = f.pki.directory() + "/openssl.sess";
        {
            Process c(s_client(port, f, {"-sess_out", sess}), f.log("s_client1"));
            c.write_stdin("one\n");
            CHECK(server.wait_for_output("one"));
            std::this_thread::sleep_for(std::chrono::milliseconds(500));
            c.close_stdin();
            c.wait(std::chrono::seconds(5));
        }
        Process c(s_client(port, f, {"-sess_in", sess}), f.log("s_client2"));
        c.write_stdin("two\n");
        CHECK(server.wait_for_output("two"));
        c.close_stdin();
        c.wait(std::chrono::seconds(5));
        CHECK_MESSAGE((c.output().find("Reused, TLSv1.3") != std::string::npos), (c.output()));
        server.close_stdin();
        server.wait(std::chrono::seconds(10));
        CHECK_MESSAGE((server.output().find("resumed") != std::string::npos), (server.output()));
    }
}

TEST_CASE("tls13 interop: 0-RTT early data, both directions") {
    Fixture f;
    const std::string early_file = f.pki.directory() + "/early.txt";
    write_file(early_file, "zero round trip data\n");
    {
        const auto port = free_port();
        Process server(s_server(port, f.p256, {"-early_data", "-naccept", "2"}), f.log("s_server"));
        REQUIRE(server.wait_for_output("ACCEPT"));
        const std::string sess = f.pki.directory() + "/tapsec-early.sess";
        {
            Process c(tapsec_connect(port, f, {"--sess-out", sess}), f.log("tapsec1"));
            CHECK(c.wait_for_output("session ticket stored"));
            c.close_stdin();
            c.wait();
        }
        Process c(tapsec_connect(port, f, {"--sess-in", sess, "--early-data", early_file}), f.log("tapsec2"));
        CHECK_MESSAGE((server.wait_for_output("zero round trip data")), (server.output()));
        c.close_stdin();
        c.wait();
        CHECK_MESSAGE((c.output().find("early data accepted") != std::string::npos), (c.output()));
        CHECK_MESSAGE((server.output().find("Early data received") != std::string::npos ||
                          server.output().find("EARLY DATA") != std::string::npos ||
                          server.output().find("zero round trip data") != std::string::npos), (server.output()));
    }
    {
        const auto port = free_port();
        Process server(tapsec_listen(port, f.p256, {"--naccept", "3", "--max-early-data", "16384"}), f.log("tapsec-listen"));
        REQUIRE(server.wait_for_output("listening"));
        const std::string sess = f.pki.directory() + "/openssl-early.sess";
        {
            Process c(s_client(port, f, {"-sess_out", sess}), f.log("s_client1"));
            std::this_thread::sleep_for(std::chrono::milliseconds(1500));
            c.close_stdin();
            c.wait(std::chrono::seconds(5));
        }
        {
            Process c(s_client(port, f, {"-sess_in", sess, "-early_data", early_file}), f.log("s_client2"));
            CHECK_MESSAGE((server.wait_for_output("zero round trip data")), (server.output()));
            std::this_thread::sleep_for(std::chrono::milliseconds(500));
            c.close_stdin();
            c.wait(std::chrono::seconds(5));
            CHECK_MESSAGE((c.output().find("Early data was accepted") != std::string::npos), (c.output()));
        }
        // The same ticket again: single use, so 0-RTT is refused (the handshake still succeeds).
        Process c(s_client(port, f, {"-sess_in", sess, "-early_data", early_file}), f.log("s_client3"));
        std::this_thread::sleep_for(std::chrono::milliseconds(1000));
        c.close_stdin();
        c.wait(std::chrono::seconds(5));
        CHECK_MESSAGE((c.output().find("Early data was rejected") != std::string::npos), (c.output()));
        server.close_stdin();
        server.wait(std::chrono::seconds(10));
    }
}

TEST_CASE("tls13 interop: 100 MB from openssl s_client to tapsec listen, hashes match") {
    Fixture f;
    const std::string data = f.pki.directory() + "/big.bin";
    REQUIRE(run("head -c 100000000 /dev/urandom > " + data) == 0);
    const auto port = free_port();
    const std::string received = f.pki.directory() + "/received.bin";
    Process server({"sh", "-c", tapsec_tool + " listen tls13 " + std::to_string(port) + " --cert " + f.p256.certificate +
                                    " --key " + f.p256.key + " --ciphersuites TLS_AES_256_GCM_SHA384 > " + received},
                   f.log("tapsec-big"));
    REQUIRE(server.wait_for_output("listening"));
    Process client({"sh", "-c", "openssl s_client -connect 127.0.0.1:" + std::to_string(port) +
                                    " -tls1_3 -nocommands -servername localhost -CAfile " +
                                    f.pki.ca().certificate + " < " + data},
                   f.log("s_client-big"));
    CHECK(server.wait(std::chrono::seconds(120)) == 0);
    client.wait(std::chrono::seconds(10));
    CHECK(run("cmp -s " + data + " " + received) == 0);
    CHECK(run("test $(sha256sum < " + data + " | cut -c1-64) = $(sha256sum < " + received + " | cut -c1-64)") == 0);
}

TEST_CASE("tls13 interop: ALPN and external PSK, both directions") {
    Fixture f;
    connect_and_echo(f, f.p256, {"-alpn", "h2,http/1.1"}, {"--alpn", "http/1.1"}, "ALPN http/1.1");
    listen_and_exchange(f, f.p256, {"--alpn", "h2"}, {"-alpn", "http/1.1,h2"}, "ALPN h2");
    // External PSK (openssl's -psk uses identity "Client_identity" and SHA-256 suites).
    const std::string key = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
    connect_and_echo(f, f.p256, {"-psk", key, "-ciphersuites", "TLS_AES_128_GCM_SHA256"},
                     {"--psk", key, "--psk-identity", "Client_identity"}, "PSK Client_identity");
    listen_and_exchange(f, f.p256, {"--psk", key, "--psk-identity", "Client_identity"},
                        {"-psk", key, "-ciphersuites", "TLS_AES_128_GCM_SHA256"}, "PSK Client_identity");
}

}  // namespace tls13_openssl_test
