// DTLS-SRTP interop: OpenSSL (`-use_srtp SRTP_AES128_CM_SHA1_80 -keymatexport
// EXTRACTOR-dtls_srtp -keymatexportlen 60`) and GnuTLS (`--srtp-profiles
// --keymatexport --keymatexportsize 60`) print the 60 bytes of RFC 5764 keying
// material; tapsec must derive the same bytes, both as client and as server. Then
// two `tapsec` commands carry stdin over SRTP.
#include <doctest/doctest.h>

#include <tapsec/tapsec.hpp>

#include "support/botan_tls_fixture.hpp"
#include "support/process.hpp"

using namespace tapsec;
using namespace std::chrono_literals;
using DtlsSrtp = Secure<DtlsSrtpHandshake, SrtpRecord, Udp>;

namespace dtls_srtp_peers_test {

struct Fixture : test::BotanTlsPki {
    Fixture() {
        REQUIRE_MESSAGE(test::have_program("openssl"), "openssl is not installed (apt-get install openssl)");
        REQUIRE_MESSAGE(test::have_program("gnutls-cli"), "gnutls-cli is not installed (apt-get install gnutls-bin)");
    }
    test::TempDir dir;
};

using test::tapsec_command;
using test::upper_hex;


TEST_CASE("dtls-srtp interop: tapsec client -> openssl s_server -use_srtp, same 60 bytes") {
    Fixture f;
    const auto port = test::free_port(SOCK_DGRAM);
    test::Process server({"openssl", "s_server", "-dtls1_2", "-accept", "127.0.0.1:" + std::to_string(port), "-cert",
                          f.server.certificate, "-key", f.server.key, "-use_srtp", "SRTP_AES128_CM_SHA1_80",
                          "-keymatexport", "EXTRACTOR-dtls_srtp", "-keymatexportlen", "60", "-naccept", "1"},
                         f.dir.file("s.log"));
    REQUIRE(server.wait_for_output("ACCEPT", 10s));
    auto config = f.client_config();
    auto udp = Udp::connect(*Endpoint::parse("127.0.0.1", port));
    REQUIRE(udp);
    DtlsSrtp c(Role::client, config, std::move(*udp));
    auto ec = c.handshake();
    REQUIRE_MESSAGE(!ec, ec.message() << " " << c.engine().failure_detail() << "\n" << server.output());
    REQUIRE(c.engine().srtp_profile());
    CHECK(*c.engine().srtp_profile() == srtp::Profile::aes_cm_128_hmac_sha1_80);
    auto material = c.export_keying_material("EXTRACTOR-dtls_srtp", {}, 60);
    REQUIRE(material);
    CHECK(server.wait_for_output("Keying material: " + upper_hex(*material), 10s));
    CHECK(server.output().find("SRTP Extension negotiated, profile=SRTP_AES128_CM_SHA1_80") != std::string::npos);
    c.close();
}

TEST_CASE("dtls-srtp interop: openssl s_client -use_srtp -> tapsec server, same 60 bytes") {
    Fixture f;
    auto udp = Udp::bind("127.0.0.1", 0);
    REQUIRE(udp);
    const auto port = udp->local_port();
    auto config = f.server_config();
    DtlsSrtp server(Role::server, config, std::move(*udp));
    test::Process client({"openssl", "s_client", "-dtls1_2", "-connect", "127.0.0.1:" + std::to_string(port), "-CAfile",
                          f.pki.ca().certificate, "-servername", "localhost", "-verify_return_error", "-use_srtp",
                          "SRTP_AES128_CM_SHA1_80", "-keymatexport", "EXTRACTOR-dtls_srtp", "-keymatexportlen", "60"},
                         f.dir.file("c.log"));
    auto ec = server.handshake();
    REQUIRE_MESSAGE(!ec, ec.message() << "\n" << client.output());
    auto material = server.export_keying_material("EXTRACTOR-dtls_srtp", {}, 60);
    REQUIRE(material);
    CHECK_MESSAGE(client.wait_for_output("Keying material: " + upper_hex(*material), 10s), client.output());
    server.close();
}

TEST_CASE("dtls-srtp interop: GnuTLS in a network namespace against the tapsec command") {
    Fixture f;
    test::NetworkNamespace ns("tapsec-srtp");
    REQUIRE_MESSAGE(ns.ok(), "cannot create a network namespace (needs root and iproute2)");
    const std::string port = "5004";
    SUBCASE("gnutls-cli -u -> tapsec listen dtls-srtp: same 60 bytes") {
        test::Process server(ns.exec(tapsec_command({"listen", "dtls-srtp", "127.0.0.1:" + port, "--cert",
                                                     f.server.certificate, "--key", f.server.key, "--keymatexport",
                                                     "EXTRACTOR-dtls_srtp", "--keymatexportlen", "60"})),
                             f.dir.file("l.log"));
        REQUIRE(server.wait_for_output("listening", 10s));
        test::Process client(ns.exec({"gnutls-cli", "-u", "--x509cafile", f.pki.ca().certificate, "--port", port,
                                      "127.0.0.1", "--verify-hostname", "localhost",
                                      "--srtp-profiles=SRTP_AES128_CM_HMAC_SHA1_80", "--keymatexport",
                                      "EXTRACTOR-dtls_srtp", "--keymatexportsize", "60"}),
                             f.dir.file("g.log"));
        REQUIRE_MESSAGE(client.wait_for_output("- Key material: ", 15s), client.output() << server.output());
        REQUIRE(server.wait_for_output("Keying material (EXTRACTOR-dtls_srtp, 60 bytes): ", 10s));
        const auto theirs = client.output();
        const auto at = theirs.find("- Key material: ") + 16;
        const auto hex = test::upper(theirs.substr(at, 120));
        CHECK(hex.size() == 120);
        CHECK_MESSAGE(server.output().find(hex) != std::string::npos, server.output() << theirs);
        CHECK(theirs.find("SRTP profile: SRTP_AES128_CM_HMAC_SHA1_80") != std::string::npos);
        client.kill();
        server.kill();
    }
    SUBCASE("tapsec connect dtls-srtp -> gnutls-serv -u --srtp-profiles") {
        test::Process server(ns.exec({"gnutls-serv", "-u", "--echo", "-p", port, "--x509certfile", f.server.certificate,
                                      "--x509keyfile", f.server.key, "--disable-client-cert",
                                      "--srtp-profiles=SRTP_AES128_CM_HMAC_SHA1_80"}),
                             f.dir.file("gs.log"));
        REQUIRE(server.wait_for_output("listening", 10s));
        test::Process client(ns.exec(tapsec_command({"connect", "dtls-srtp", "127.0.0.1:" + port, "--CAfile",
                                                     f.pki.ca().certificate, "--servername", "localhost"})),
                             f.dir.file("c.log"));
        CHECK_MESSAGE(client.wait_for_output("SRTP profile SRTP_AES128_CM_HMAC_SHA1_80", 15s), client.output() << server.output());
        CHECK(server.wait_for_output("DTLS profile set to SRTP_AES128_CM_HMAC_SHA1_80", 10s));
        client.kill();
    }
}

TEST_CASE("dtls-srtp cli: two tapsec commands carry stdin over SRTP both ways") {
    Fixture f;
    const auto port = std::to_string(test::free_port(SOCK_DGRAM));
    test::Process server(tapsec_command({"listen", "dtls-srtp", "127.0.0.1:" + port, "--cert", f.server.certificate,
                                         "--key", f.server.key}),
                         f.dir.file("l.log"));
    REQUIRE(server.wait_for_output("listening", 10s));
    test::Process client(tapsec_command({"connect", "dtls-srtp", "127.0.0.1:" + port, "--CAfile", f.pki.ca().certificate,
                                         "--servername", "localhost", "--srtp-profiles", "SRTP_AEAD_AES_256_GCM"}),
                         f.dir.file("c.log"));
    REQUIRE_MESSAGE(client.wait_for_output("SRTP profile SRTP_AEAD_AES_256_GCM", 15s), client.output() << server.output());
    client.write_stdin("media from the client\n");
    CHECK_MESSAGE(server.wait_for_output("media from the client", 10s), server.output());
    server.write_stdin("media from the server\n");
    CHECK_MESSAGE(client.wait_for_output("media from the server", 10s), client.output());
    client.close_stdin();
    CHECK(client.wait(15s) == 0);
    server.kill();
}

TEST_CASE("dtls-srtp interop: openssl s_client resumes (-sess_out/-sess_in) with tapsec listen; use_srtp again, new keys") {
    Fixture f;
    const auto port = std::to_string(test::free_port(SOCK_DGRAM));
    test::Process server(tapsec_command({"listen", "dtls-srtp", "127.0.0.1:" + port, "--cert", f.server.certificate,
                                         "--key", f.server.key, "--naccept", "2", "--keymatexport",
                                         "EXTRACTOR-dtls_srtp", "--keymatexportlen", "60"}),
                         f.dir.file("l.log"));
    REQUIRE(server.wait_for_output("listening", 10s));
    const auto session = f.dir.file("openssl.sess");
    auto openssl_client = [&](const std::string& sess_option, const std::string& log) {
        return test::Process({"openssl", "s_client", "-dtls1_2", "-connect", "127.0.0.1:" + port, "-CAfile",
                              f.pki.ca().certificate, "-servername", "localhost", "-verify_return_error", "-use_srtp",
                              "SRTP_AES128_CM_SHA1_80", "-keymatexport", "EXTRACTOR-dtls_srtp", "-keymatexportlen",
                              "60", sess_option, session},
                             f.dir.file(log));
    };
    auto key_material = [](const std::string& output) {
        const auto at = output.find("Keying material: ");
        return at == std::string::npos ? std::string() : output.substr(at + 17, 120);
    };
    std::string first_keys;
    {
        auto client = openssl_client("-sess_out", "c1.log");
        REQUIRE_MESSAGE(client.wait_for_output("Keying material: ", 15s), client.output() << server.output());
        CHECK(client.wait_for_output("New, TLSv1.2", 5s));
        first_keys = key_material(client.output());
        // (s_client's stdin would travel as DTLS application data, which this
        // composition does not carry: its data plane is SRTP.)
        client.close_stdin();
        client.wait(10s);
    }
    auto client = openssl_client("-sess_in", "c2.log");
    REQUIRE_MESSAGE(client.wait_for_output("Keying material: ", 15s), client.output() << server.output());
    CHECK_MESSAGE(client.wait_for_output("Reused, TLSv1.2", 5s), client.output());
    CHECK(client.output().find("SRTP Extension negotiated, profile=SRTP_AES128_CM_SHA1_80") != std::string::npos);
    const auto second_keys = key_material(client.output());
    REQUIRE(second_keys.size() == 120);
    CHECK(second_keys != first_keys);  // same master secret, new randoms (RFC 5705)
    CHECK_MESSAGE(server.wait_for_output(second_keys, 10s), server.output());
    CHECK(server.output().find("resumed") != std::string::npos);
    client.close_stdin();
    client.wait(10s);
    server.kill();
}

}  // namespace dtls_srtp_peers_test
