// DTLS 1.2 interop, both directions: OpenSSL (`s_server -dtls1_2` / `s_client
// -dtls1_2`) on loopback against the library, and GnuTLS (`gnutls-serv -u` /
// `gnutls-cli -u`, which binds the wildcard address) inside a network namespace
// of the test's own against the `tapsec` command.
#include <doctest/doctest.h>

#include <thread>

#include <tapsec/tapsec.hpp>

#include "support/botan_tls_fixture.hpp"
#include "support/process.hpp"

using namespace tapsec;
using namespace std::chrono_literals;
using Dtls = Secure<Dtls12Handshake, DtlsRecord, Udp>;

namespace dtls12_peers_test {

struct Fixture : test::BotanTlsPki {
    Fixture() {
        REQUIRE_MESSAGE(test::have_program("openssl"), "openssl is not installed (apt-get install openssl)");
        REQUIRE_MESSAGE(test::have_program("gnutls-serv"), "gnutls-serv is not installed (apt-get install gnutls-bin)");
    }
    test::TempDir dir;

    /// With the client certificate, for servers that ask for one.
    botan_tls::Config mutual_client_config() const {
        auto c = client_config();
        c.identity = {client.certificate_pem(), client.key_pem()};
        c.handshake_timeout = 15s;
        return c;
    }
};

using test::tapsec_command;
using test::upper_hex;


TEST_CASE("dtls12 interop: tapsec client -> openssl s_server -dtls1_2 (mutual auth, exporter, data both ways)") {
    Fixture f;
    const auto port = test::free_port(SOCK_DGRAM);
    test::Process server({"openssl", "s_server", "-dtls1_2", "-accept", "127.0.0.1:" + std::to_string(port), "-cert",
                          f.server.certificate, "-key", f.server.key, "-Verify", "1", "-CAfile", f.pki.ca().certificate,
                          "-verify_return_error", "-naccept", "1", "-keymatexport", "EXPERIMENTAL-tapsec",
                          "-keymatexportlen", "24"},
                         f.dir.file("s.log"));
    REQUIRE(server.wait_for_output("ACCEPT", 10s));
    auto udp = Udp::connect(*Endpoint::parse("127.0.0.1", port));
    REQUIRE(udp);
    Dtls c(Role::client, f.mutual_client_config(), std::move(*udp));
    auto ec = c.handshake();
    REQUIRE_MESSAGE(!ec, ec.message() << " " << c.engine().failure_detail() << "\n" << server.output());
    CHECK(c.info().protocol == "DTLS 1.2");
    REQUIRE(!c.send(as_bytes("datagram to openssl\n")));
    CHECK(server.wait_for_output("datagram to openssl", 10s));
    server.write_stdin("datagram to tapsec\n");
    auto reply = c.receive_message(10s);
    REQUIRE(reply);
    CHECK(std::string(reply->begin(), reply->end()) == "datagram to tapsec\n");
    auto key = c.export_keying_material("EXPERIMENTAL-tapsec", {}, 24);
    REQUIRE(key);
    CHECK_MESSAGE(server.output().find(upper_hex(*key)) != std::string::npos, server.output());
    CHECK(server.output().find("CN = alice") != std::string::npos);
    c.close();
}

TEST_CASE("dtls12 interop: openssl s_client -dtls1_2 -> tapsec server (cookie exchange, client certificate, exporter)") {
    Fixture f;
    auto udp = Udp::bind("127.0.0.1", 0);
    REQUIRE(udp);
    const auto port = udp->local_port();
    botan_tls::Config config;
    config.identity = {f.server.certificate_pem(), f.server.key_pem()};
    config.require_client_certificate = true;
    config.trust.ca_certificates_pem = {f.pki.ca().certificate_pem()};
    Dtls server(Role::server, config, std::move(*udp));
    test::Process client({"openssl", "s_client", "-dtls1_2", "-connect", "127.0.0.1:" + std::to_string(port), "-CAfile",
                          f.pki.ca().certificate, "-servername", "localhost", "-verify_return_error", "-cert",
                          f.client.certificate, "-key", f.client.key, "-keymatexport", "EXPERIMENTAL-tapsec",
                          "-keymatexportlen", "24"},
                         f.dir.file("c.log"));
    auto ec = server.handshake();
    REQUIRE_MESSAGE(!ec, ec.message() << " " << server.engine().failure_detail() << "\n" << client.output());
    CHECK(server.peer().subject.find("alice") != std::string::npos);
    client.write_stdin("from s_client\n");
    auto m = server.receive_message(10s);
    REQUIRE(m);
    CHECK(std::string(m->begin(), m->end()) == "from s_client\n");
    REQUIRE(!server.send(as_bytes("from tapsec\n")));
    CHECK(client.wait_for_output("from tapsec", 10s));
    auto key = server.export_keying_material("EXPERIMENTAL-tapsec", {}, 24);
    REQUIRE(key);
    CHECK_MESSAGE(client.output().find(upper_hex(*key)) != std::string::npos, client.output());
    CHECK(client.output().find("Verify return code: 0 (ok)") != std::string::npos);
    server.close();
}

TEST_CASE("dtls12 interop: the tapsec command with GnuTLS in a network namespace, both directions") {
    Fixture f;
    test::NetworkNamespace ns("tapsec-dtls");
    REQUIRE_MESSAGE(ns.ok(), "cannot create a network namespace (needs root and iproute2)");
    const std::string port = "5684";

    SUBCASE("tapsec connect -> gnutls-serv -u --echo, with a client certificate required") {
        test::Process server(ns.exec({"gnutls-serv", "-u", "--echo", "-p", port, "--x509certfile", f.server.certificate,
                                      "--x509keyfile", f.server.key, "--x509cafile", f.pki.ca().certificate,
                                      "--require-client-cert", "--verify-client-cert"}),
                             f.dir.file("gs.log"));
        REQUIRE(server.wait_for_output("listening", 10s));
        test::Process client(ns.exec(tapsec_command({"connect", "dtls12", "127.0.0.1:" + port, "--CAfile",
                                                     f.pki.ca().certificate, "--servername", "localhost", "--cert",
                                                     f.client.certificate, "--key", f.client.key})),
                             f.dir.file("c.log"));
        client.write_stdin("echo me, gnutls\n");
        CHECK_MESSAGE(client.wait_for_output("echo me, gnutls", 15s), client.output() << server.output());
        client.close_stdin();
        CHECK(client.wait(15s) == 0);
        CHECK(client.output().find("tapsec: connected: DTLS 1.2") != std::string::npos);
    }
    SUBCASE("gnutls-cli -u -> tapsec listen") {
        test::Process server(ns.exec(tapsec_command({"listen", "dtls12", "127.0.0.1:" + port, "--cert",
                                                     f.server.certificate, "--key", f.server.key})),
                             f.dir.file("l.log"));
        REQUIRE(server.wait_for_output("listening", 10s));
        test::Process client(ns.exec({"gnutls-cli", "-u", "--x509cafile", f.pki.ca().certificate, "--port", port,
                                      "127.0.0.1", "--verify-hostname", "localhost"}),
                             f.dir.file("gc.log"));
        client.write_stdin("hello from gnutls-cli\n");
        CHECK_MESSAGE(server.wait_for_output("hello from gnutls-cli", 15s), server.output() << client.output());
        server.write_stdin("hello from tapsec\n");
        CHECK_MESSAGE(client.wait_for_output("hello from tapsec", 15s), client.output());
        CHECK(client.output().find("Handshake was completed") != std::string::npos);
        client.kill();
        server.kill();
    }
}

TEST_CASE("dtls12 cli: no server answering is one line and exit 1") {
    test::TempDir dir;
    const auto port = test::free_port(SOCK_DGRAM);
    test::Process p(tapsec_command({"connect", "dtls12", "127.0.0.1:" + std::to_string(port), "--insecure", "--quiet",
                                    "--timeout", "1.5"}),
                    dir.file("out.log"));
    CHECK(p.wait(15s) == 1);
    const auto out = p.output();
    CHECK_MESSAGE(out.find("timed out") != std::string::npos, out);
    CHECK(std::count(out.begin(), out.end(), '\n') == 1);
}

}  // namespace dtls12_peers_test
