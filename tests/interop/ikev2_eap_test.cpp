// EAP-MD5 in IKE_AUTH against strongSwan's charon (eap-md5 plugin of
// libcharon-extra-plugins), ESP through kernel-libipsec, in two network namespaces of the
// test's own joined by a veth pair (as ikev2_strongswan_test.cpp). The side that runs
// EAP-MD5 as peer is the initiator; the responder signs with its certificate (RFC 7296
// 2.16). Both directions, an inner datagram each way through the tunnel; a wrong EAP
// password either way (EAP-Failure, AUTHENTICATION_FAILED, a named error on our side and
// the failure in charon's log); and `tapsec connect ikev2 --eap-md5-identity` with its
// exit codes.
#include <doctest/doctest.h>

#include <filesystem>

#include <tapsec/ikev2.hpp>

#include "support/ikev2_certs.hpp"
#include "support/ikev2_ip.hpp"
#include "support/charon.hpp"
#include "support/netns.hpp"
#include "support/process.hpp"

using namespace tapsec;
using namespace std::chrono_literals;
using Ikev2 = Secure<Ikev2Handshake, EspRecord, Udp>;
using ikev2_test::ipv4;

namespace ikev2_eap_test {

const std::string eap_password = "eap-md5 password of a@test";

/// charon in its namespace with one connection `eap`: as responder it signs (b.test) and
/// demands EAP-MD5 of a@test; as initiator it runs EAP-MD5 as a@test and expects b.test's
/// signature.
struct EapCharon {
    test::TempDir dir;
    test::NetworkNamespace ns{"tapsec-eapc"}, tapsec_ns{"tapsec-eapt"};
    ikev2_test::IkePki pki;
    test::CertificateFiles responder_files;
    std::unique_ptr<test::Process> daemon;
    bool charon_initiates;

    EapCharon(bool initiates, const std::string& charon_password) : charon_initiates(initiates) {
        REQUIRE_MESSAGE(std::filesystem::exists("/usr/lib/ipsec/plugins/libstrongswan-eap-md5.so"),
                        "charon's eap-md5 plugin is not installed (libcharon-extra-plugins)");
        REQUIRE(pki.pki.ok());
        responder_files = pki.responder(test::KeyType::ecdsa_p256, "responder");
        REQUIRE(!responder_files.certificate.empty());
        test::charon::join(ns, tapsec_ns, "veap");
        test::charon::write_conf(dir, "      default = 1\n      ike = 2\n      cfg = 2\n");
        const std::string local = initiates ? "      auth = eap-md5\n      id = a@test\n"
                                            : "      auth = pubkey\n      certs = charon.crt\n      id = b.test\n";
        const std::string remote = initiates ? "      auth = pubkey\n      cacerts = ca.crt\n      id = b.test\n"
                                             : "      auth = eap-md5\n      id = a@test\n";
        test::write_file(dir.file("swanctl.conf"),
                         "connections {\n"
                         "  eap {\n"
                         "    version = 2\n"
                         "    local_addrs = 10.99.0.1\n"
                         "    remote_addrs = 10.99.0.2\n" +
                             std::string(initiates ? "    remote_port = 4500\n" : "") +
                             "    encap = yes\n"
                             "    proposals = aes128gcm16-prfsha256-x25519\n"
                             "    local {\n" + local + "    }\n"
                             "    remote {\n" + remote + "    }\n"
                             "    children {\n"
                             "      net {\n"
                             "        local_ts = 10.200.1.1/32\n"
                             "        remote_ts = 10.200.2.1/32\n"
                             "        esp_proposals = aes128gcm16\n"
                             "      }\n"
                             "    }\n"
                             "  }\n"
                             "}\n"
                             "secrets {\n"
                             "  eap-a {\n"
                             "    id = a@test\n"
                             "    secret = \"" + charon_password + "\"\n"
                             "  }\n"
                             "}\n");
        for (const char* sub : {"x509", "x509ca", "private"}) std::filesystem::create_directories(dir.file(sub));
        std::filesystem::copy_file(pki.pki.ca().certificate, dir.file("x509ca/ca.crt"));
        if (!initiates) {
            std::filesystem::copy_file(responder_files.certificate, dir.file("x509/charon.crt"));
            std::filesystem::copy_file(responder_files.key, dir.file("private/charon.key"));
        }
        daemon = test::charon::start(ns, dir);
    }

    int swanctl(const std::string& arguments) const { return test::charon::swanctl(ns, dir, arguments); }
    std::string log() const { return daemon ? daemon->output() : ""; }

    /// tapsec as the other side: the EAP-MD5 peer when charon responds, else the signing
    /// EAP-MD5 server knowing a@test's password.
    Ikev2 open_tapsec(const std::string& password) {
        Ikev2::Config config;
        config.local_ts = *ikev2::parse_selector("10.200.2.1/32");
        config.remote_ts = *ikev2::parse_selector("10.200.1.0/24");
        config.handshake_timeout = 20s;
        if (!charon_initiates) {
            config.local_id = *ikev2::Identification::parse("a@test");
            config.remote_id = *ikev2::Identification::parse("b.test");
            config.trust.ca_certificates_pem.push_back(pki.ca_pem());
            config.eap_peer = [password] {
                return std::make_unique<ikev2::eap::Md5Peer<crypto::Botan2>>("a@test", SecretBytes(password.begin(), password.end()));
            };
        } else {
            config.local_id = *ikev2::Identification::parse("b.test");
            config.identity = Identity(responder_files.certificate_pem(), responder_files.key_pem());
            auto users = std::make_shared<const ikev2::eap::Md5Users>(
                ikev2::eap::Md5Users{{"a@test", SecretBytes(password.begin(), password.end())}});
            config.eap_server = [users] { return std::make_unique<ikev2::eap::Md5Server<crypto::Botan2>>(users); };
        }
        const Role role = charon_initiates ? Role::server : Role::client;
        auto peer = role == Role::client ? *Endpoint::parse("10.99.0.1:4500") : Endpoint{};
        auto udp = test::inside(tapsec_ns, [&] { return Udp::bind("10.99.0.2", 4500, peer); });
        REQUIRE(udp.ok());
        return Ikev2(role, config, std::move(*udp));
    }
    std::unique_ptr<test::Process> initiate() {
        return std::make_unique<test::Process>(ns.exec({"swanctl", "--initiate", "--child", "net", "--timeout", "20", "--uri",
                                                         "unix://" + dir.file("charon.vici")}),
                                               dir.file("initiate.log"));
    }
};

std::optional<std::string> next_udp(Ikev2& conn, std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    while (Clock::now() < deadline) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
        auto packet = conn.receive_message(std::max(left, 1ms));
        if (!packet) return std::nullopt;
        if (auto payload = ikev2_test::udp_payload(*packet)) return payload;
    }
    return std::nullopt;
}

void datagram_each_way(EapCharon& charon, Ikev2& conn) {
    auto inner_socket = test::inside(charon.ns, [] { return test::PlainUdp::bind("10.200.1.1", 7777); });
    REQUIRE(!conn.send(ikev2_test::udp_packet(ipv4("10.200.2.1"), ipv4("10.200.1.1"), 9999, 7777, as_bytes("to charon"))));
    auto got = inner_socket.receive_text(5s);
    REQUIRE_MESSAGE(got, "charon did not deliver tapsec's inner datagram; charon log:\n" << charon.log());
    CHECK(*got == "to charon");
    inner_socket.send_to("10.200.2.1", 9999, "to tapsec");
    auto back = next_udp(conn, 5s);
    REQUIRE_MESSAGE(back, "no inner datagram from charon; charon log:\n" << charon.log());
    CHECK(*back == "to tapsec");
}


TEST_CASE("strongSwan interop, EAP-MD5: tapsec initiator (EAP peer) to charon responder (signs), datagrams both ways") {
    EapCharon charon(false, eap_password);
    Ikev2 conn = charon.open_tapsec(eap_password);
    auto ec = conn.handshake();
    REQUIRE_MESSAGE(!ec, ec.message() << "; charon log:\n" << charon.log());
    CHECK(conn.info().peer.subject == "CN=b.test");
    CHECK_MESSAGE(charon.log().find("EAP method EAP_MD5 succeeded, no MSK established") != std::string::npos, charon.log());
    CHECK_MESSAGE(charon.log().find("authentication of 'a@test' with EAP successful") != std::string::npos, charon.log());
    datagram_each_way(charon, conn);
}

TEST_CASE("strongSwan interop, EAP-MD5: charon initiator (EAP peer) to tapsec responder (signs), datagrams both ways") {
    EapCharon charon(true, eap_password);
    Ikev2 conn = charon.open_tapsec(eap_password);
    auto initiate = charon.initiate();
    auto ec = conn.handshake();
    REQUIRE_MESSAGE(!ec, ec.message() << "; charon log:\n" << charon.log());
    CHECK(conn.info().peer.psk_identity == "a@test");
    CHECK(conn.info().peer.authenticated);
    CHECK_MESSAGE(initiate->wait(15s) == 0, test::read_file(charon.dir.file("initiate.log")) << charon.log());
    CHECK_MESSAGE(charon.log().find("authentication of 'b.test' with EAP successful") != std::string::npos, charon.log());
    datagram_each_way(charon, conn);
}

TEST_CASE("strongSwan interop, EAP-MD5: a wrong password fails on both sides, either direction") {
    SUBCASE("tapsec initiator with the wrong password") {
        EapCharon charon(false, eap_password);
        Ikev2 conn = charon.open_tapsec("not the password");
        auto ec = conn.handshake();
        CHECK(ec == ikev2::Error::eap_failed);
        CHECK_MESSAGE(charon.daemon->wait_for_output("EAP method EAP_MD5 failed for peer a@test", 5s), charon.log());
    }
    SUBCASE("charon initiator with the wrong password") {
        EapCharon charon(true, "not the password");
        Ikev2 conn = charon.open_tapsec(eap_password);
        auto initiate = charon.initiate();
        auto ec = conn.handshake();
        CHECK(ec == ikev2::Error::eap_failed);
        CHECK(initiate->wait(15s) != 0);
        // our response carries EAP-Failure and N(AUTHENTICATION_FAILED); charon reports the notify
        CHECK_MESSAGE(charon.daemon->wait_for_output("parsed IKE_AUTH response 2 [ EAP/FAIL N(AUTH_FAILED) ]", 5s), charon.log());
        CHECK_MESSAGE(charon.daemon->wait_for_output("received AUTHENTICATION_FAILED notify error", 5s), charon.log());
    }
}

TEST_CASE("strongSwan interop, EAP-MD5: `tapsec connect ikev2 --eap-md5-identity`, a line each way, exit 0; wrong password exits 1") {
    EapCharon charon(false, eap_password);
    test::write_file(charon.dir.file("eap.txt"), eap_password + "\n");
    test::write_file(charon.dir.file("wrong.txt"), "wrong\n");
    test::write_file(charon.dir.file("ca.pem"), charon.pki.ca_pem());
    auto command = [&](const std::string& secret_file) {
        return charon.tapsec_ns.exec({TAPSEC_TOOL_PATH, "connect", "ikev2", "10.99.0.1:4500", "--eap-md5-identity", "a@test",
                                      "--eap-secret-file", secret_file, "--CAfile", charon.dir.file("ca.pem"), "--remote-id",
                                      "b.test", "--local-ts", "10.200.2.1", "--remote-ts", "10.200.1.1", "--udp-to",
                                      "10.200.1.1:7777", "--verbose"});
    };
    {
        test::Process wrong(command(charon.dir.file("wrong.txt")), charon.dir.file("wrong.log"));
        CHECK(wrong.wait(20s) == 1);
        CHECK_MESSAGE(wrong.output().find("EAP-Failure") != std::string::npos, wrong.output());
    }
    auto inner_socket = test::inside(charon.ns, [] { return test::PlainUdp::bind("10.200.1.1", 7777); });
    test::Process cli(command(charon.dir.file("eap.txt")), charon.dir.file("cli.log"));
    REQUIRE_MESSAGE(cli.wait_for_output("IKE SA and Child SA established", 15s), cli.output() << "\ncharon log:\n" << charon.log());
    cli.write_stdin("a line through EAP\n");
    auto got = inner_socket.receive_text(5s);
    REQUIRE_MESSAGE(got, cli.output() << "\ncharon log:\n" << charon.log());
    CHECK(*got == "a line through EAP\n");
    inner_socket.send_to("10.200.2.1", 7777, "answer through EAP\n");
    CHECK_MESSAGE(cli.wait_for_output("answer through EAP", 5s), cli.output());
    cli.close_stdin();
    CHECK(cli.wait(15s) == 0);
}

TEST_CASE("tapsec listen ikev2 --eap-md5-users and connect --eap-md5-identity on loopback: a line, exit 0; wrong password: both exit 1") {
    test::TempDir dir;
    ikev2_test::IkePki pki;
    REQUIRE(pki.pki.ok());
    const auto gateway = pki.responder(test::KeyType::ecdsa_p256, "gateway");
    REQUIRE(!gateway.certificate.empty());
    test::write_file(dir.file("ca.pem"), pki.ca_pem());
    test::write_file(dir.file("users.txt"), "# identity = secret\na@test = " + eap_password + "\n");
    test::write_file(dir.file("eap.txt"), eap_password + "\n");
    test::write_file(dir.file("wrong.txt"), "wrong\n");
    auto run = [&](const std::string& secret_file, const std::string& stem) {
        const std::string port = std::to_string(test::free_port(SOCK_DGRAM));
        auto listener = std::make_unique<test::Process>(
            std::vector<std::string>{TAPSEC_TOOL_PATH, "listen", "ikev2", "127.0.0.1:" + port, "--cert", gateway.certificate,
                                     "--key", gateway.key, "--id", "b.test", "--eap-md5-users", dir.file("users.txt"),
                                     "--local-ts", "10.200.1.1", "--remote-ts", "10.200.2.1", "--udp-to", "10.200.2.1:9000",
                                     "--verbose"},
            dir.file(stem + "-listen.log"));
        auto initiator = std::make_unique<test::Process>(
            std::vector<std::string>{TAPSEC_TOOL_PATH, "connect", "ikev2", "127.0.0.1:" + port, "--eap-md5-identity", "a@test",
                                     "--eap-secret-file", secret_file, "--CAfile", dir.file("ca.pem"), "--remote-id", "b.test",
                                     "--local-ts", "10.200.2.1", "--remote-ts", "10.200.1.1", "--udp-to", "10.200.1.1:9000",
                                     "--verbose"},
            dir.file(stem + "-connect.log"));
        return std::make_pair(std::move(listener), std::move(initiator));
    };
    {
        auto processes = run(dir.file("wrong.txt"), "wrong");
        test::Process& listener = *processes.first;
        test::Process& initiator = *processes.second;
        CHECK_MESSAGE(initiator.wait(15s) == 1, initiator.output());
        CHECK_MESSAGE(listener.wait(15s) == 1, listener.output());
        CHECK(initiator.output().find("failed: EAP authentication failed: EAP-Failure") != std::string::npos);
        CHECK(listener.output().find("failed: EAP authentication failed: EAP-Failure") != std::string::npos);
    }
    auto processes = run(dir.file("eap.txt"), "right");
    test::Process& listener = *processes.first;
    test::Process& initiator = *processes.second;
    REQUIRE_MESSAGE(initiator.wait_for_output("IKE SA and Child SA established", 15s), initiator.output() << listener.output());
    CHECK_MESSAGE(listener.wait_for_output("peer a@test (EAP-MD5)", 5s), listener.output());
    initiator.write_stdin("a line after EAP-MD5\n");
    CHECK_MESSAGE(listener.wait_for_output("a line after EAP-MD5", 10s), listener.output());
    initiator.close_stdin();
    CHECK_MESSAGE(initiator.wait(15s) == 0, initiator.output());
    CHECK_MESSAGE(listener.wait(15s) == 0, listener.output());
}

}  // namespace ikev2_eap_test
