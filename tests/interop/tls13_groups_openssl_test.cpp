// TLS 1.3 optional groups and supported_groups in EncryptedExtensions against OpenSSL 3
// (issue 9 items 6 and 10): X448 over the OpenSSL 3 provider against `openssl s_server
// -groups X448`; ffdhe2048/ffdhe3072 over both providers, against s_server and from
// s_client to `tapsec listen`; the Botan 2 command refusing X448 in one line; and
// s_client's -trace showing our supported_groups when its share is not our favourite.
#include <doctest/doctest.h>


#include <tapsec/crypto/openssl.hpp>
#include <tapsec/tapsec.hpp>
#include <tapsec/transport/tcp.hpp>

#include "support/pki.hpp"
#include "support/process.hpp"

using namespace tapsec;

namespace tls13_groups_openssl_test {

const std::string tapsec_tool = TAPSEC_TOOL_PATH;

struct Fixture {
    test::TestPki pki;
    test::CertificateFiles cert;
    int logs = 0;
    Fixture() {
        REQUIRE_MESSAGE(test::have_program("openssl"), "openssl is not installed (Debian package openssl)");
        REQUIRE(pki.ok());
        cert = pki.issue("p256", test::KeyType::ecdsa_p256);
        REQUIRE(!cert.certificate.empty());
    }
    std::string log(const std::string& name) { return pki.directory() + "/" + name + "-" + std::to_string(++logs) + ".log"; }
};

/// A Secure<..., Crypto> client with `group` against `openssl s_server -groups <openssl_group> -rev`.
template <class Crypto>
void against_s_server(Fixture& f, const std::string& group, const std::string& openssl_group) {
    const auto port = test::free_port();
    test::Process server({"openssl", "s_server", "-accept", "127.0.0.1:" + std::to_string(port), "-cert",
                          f.cert.certificate, "-key", f.cert.key, "-tls1_3", "-groups", openssl_group, "-naccept", "1",
                          "-rev"},
                         f.log("s_server-" + group));
    REQUIRE_MESSAGE(server.wait_for_output("ACCEPT"), server.output());
    tls13::Config config;
    config.trust.ca_certificates_pem = {f.pki.ca().certificate_pem()};
    config.server_name = "localhost";
    config.groups = {group};
    auto tcp = Tcp::connect("127.0.0.1", port);
    REQUIRE(tcp.ok());
    Secure<Tls13Handshake, AeadRecord, Tcp, Crypto> client(Role::client, config, std::move(*tcp));
    const auto handshake = client.handshake();
    REQUIRE_MESSAGE(!handshake, (handshake.message() + "\n" + server.output()));
    CHECK(client.info().group == tls13::group_name(*tls13::group_from_name(group)));
    REQUIRE_FALSE(client.send(as_bytes("over " + group + "\n")));
    std::string reversed;
    for (char ch : "over " + group) reversed.insert(reversed.begin(), ch);
    std::string got;
    while (got.find(reversed) == std::string::npos) {
        auto m = client.receive_message(std::chrono::seconds(5));
        REQUIRE_MESSAGE(m.ok(), m.error().message());
        REQUIRE_FALSE(m->empty());
        got.append(m->begin(), m->end());
    }
    CHECK_FALSE(client.close());
    server.wait(std::chrono::seconds(5));
}


TEST_CASE("tls13 groups vs openssl s_server: X448 over the OpenSSL 3 provider") {
    Fixture f;
    against_s_server<crypto::OpenSsl3>(f, "X448", "X448");
}

TEST_CASE("tls13 groups vs openssl s_server: ffdhe2048 and ffdhe3072 over both providers") {
    Fixture f;
    for (const char* group : {"ffdhe2048", "ffdhe3072"}) {
        CAPTURE(group);
        against_s_server<crypto::OpenSsl3>(f, group, group);
        against_s_server<crypto::Botan2>(f, group, group);
    }
}

TEST_CASE("tls13 groups: openssl s_client -groups ffdhe2048 -> tapsec listen --groups ffdhe2048") {
    Fixture f;
    const auto port = test::free_port();
    test::Process server({tapsec_tool, "listen", "tls13", std::to_string(port), "--cert", f.cert.certificate, "--key",
                          f.cert.key, "--groups", "ffdhe2048"},
                         f.log("tapsec-listen"));
    REQUIRE_MESSAGE(server.wait_for_output("listening"), server.output());
    test::Process client({"openssl", "s_client", "-connect", "127.0.0.1:" + std::to_string(port), "-tls1_3", "-groups",
                          "ffdhe2048", "-servername", "localhost", "-CAfile", f.pki.ca().certificate,
                          "-verify_return_error"},
                         f.log("s_client"));
    client.write_stdin("ffdhe from openssl\n");
    const bool got = server.wait_for_output("ffdhe from openssl");
    client.close_stdin();
    const int code = server.wait(std::chrono::seconds(10));
    CHECK_MESSAGE(got, (server.output() + "\n--- s_client:\n" + client.output()));
    CHECK_MESSAGE(code == 0, server.output());
    CHECK_MESSAGE(server.output().find("ffdhe2048") != std::string::npos, server.output());
}

TEST_CASE("tls13 groups: the Botan 2 command refuses X448 in one line, before connecting") {
    Fixture f;
    // The command defaults to the OpenSSL provider when built with it, which has X448.
    test::Process client({tapsec_tool, "connect", "tls13", "127.0.0.1:9", "--groups", "X448", "--provider", "botan"},
                         f.log("tapsec"));
    const int code = client.wait(std::chrono::seconds(10));
    CHECK(code != 0);
    CHECK_MESSAGE(client.output().find("Botan 2 has no X448") != std::string::npos, client.output());
    CHECK_MESSAGE(client.output().find("cannot connect") == std::string::npos, client.output());
}

TEST_CASE("tls13 supported_groups in EncryptedExtensions, seen by openssl s_client -trace") {
    Fixture f;
    for (const bool favourite : {false, true}) {
        CAPTURE(favourite);
        const auto port = test::free_port();
        // We prefer P-256; s_client offers (and sends a share for) X25519 only.
        test::Process server({tapsec_tool, "listen", "tls13", std::to_string(port), "--cert", f.cert.certificate,
                              "--key", f.cert.key, "--groups", favourite ? "X25519:P-256" : "P-256:X25519"},
                             f.log("tapsec-listen"));
        REQUIRE_MESSAGE(server.wait_for_output("listening"), server.output());
        test::Process client({"openssl", "s_client", "-connect", "127.0.0.1:" + std::to_string(port), "-tls1_3",
                              "-groups", "X25519", "-servername", "localhost", "-CAfile", f.pki.ca().certificate,
                              "-verify_return_error", "-trace"},
                             f.log("s_client"));
        client.write_stdin("groups\n");
        REQUIRE_MESSAGE(server.wait_for_output("groups"), (server.output() + "\n--- s_client:\n" + client.output()));
        client.close_stdin();
        server.wait(std::chrono::seconds(10));
        client.wait(std::chrono::seconds(5));
        const std::string trace = client.output();
        const auto ee = trace.find("EncryptedExtensions");
        REQUIRE_MESSAGE(ee != std::string::npos, trace);
        const auto next = trace.find("Certificate", ee);
        const std::string ee_part = trace.substr(ee, next == std::string::npos ? std::string::npos : next - ee);
        if (favourite) {
            CHECK_MESSAGE(ee_part.find("supported_groups") == std::string::npos, ee_part);
        } else {
            CHECK_MESSAGE(ee_part.find("supported_groups") != std::string::npos, ee_part);
            CHECK_MESSAGE(ee_part.find("secp256r1") != std::string::npos, ee_part);
        }
    }
}

}  // namespace tls13_groups_openssl_test
