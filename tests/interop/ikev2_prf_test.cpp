// PRF_HMAC_SHA2_384 and PRF_HMAC_SHA2_512 (RFC 4868) for the IKE SA against strongSwan's
// charon (PSK, kernel-libipsec, two network namespaces of the test's own as in
// ikev2_strongswan_test.cpp; support/charon.hpp). For each: the PRF charon selects, SK_d
// equal to the one charon logs at `ike 4` (48 / 64 octets: SKEYSEED and prf+ with that
// PRF), the AUTH values accepted both ways, a datagram each way through the Child SA
// (KEYMAT from that PRF), an IKE SA rekey keeping the PRF with SK_d equal again, and a
// Child SA rekey under the new SK_d. `tapsec connect ikev2 --config` with charon's own
// keywords (aes256-sha384-prfsha384-ecp256). A proposal whose only PRF tapsec lacks
// (prfsha1) ends in NO_PROPOSAL_CHOSEN on the wire.
#include <doctest/doctest.h>

#include <tapsec/ikev2.hpp>

#include "support/charon.hpp"
#include "support/ikev2_ip.hpp"
#include "support/netns.hpp"
#include "support/process.hpp"

using namespace tapsec;
using namespace std::chrono_literals;
using Ikev2 = Secure<Ikev2Handshake, EspRecord, Udp>;
using ikev2_test::ipv4;

namespace ikev2_prf_test {

const std::string prf_psk = "tapsec-prf-interop-pre-shared-key-42";

/// charon with one PSK connection `prf` (b.test, its inner address 10.200.1.1) whose IKE
/// proposals are `proposals`; `ike 4` logs its keys.
struct PrfCharon {
    test::TempDir dir;
    test::NetworkNamespace ns{"tapsec-prfc"}, tapsec_ns{"tapsec-prft"};
    std::unique_ptr<test::Process> daemon;

    PrfCharon(bool charon_initiates, const std::string& proposals) {
        test::charon::join(ns, tapsec_ns, "vprf");
        test::charon::write_conf(dir, "      default = 1\n      ike = 4\n");
        test::write_file(dir.file("swanctl.conf"),
                         "connections {\n  prf {\n    version = 2\n    local_addrs = 10.99.0.1\n"
                         "    remote_addrs = 10.99.0.2\n" +
                             std::string(charon_initiates ? "    remote_port = 4500\n" : "") +
                             "    encap = yes\n    proposals = " + proposals + "\n"
                             "    local {\n      auth = psk\n      id = b.test\n    }\n"
                             "    remote {\n      auth = psk\n      id = a@test\n    }\n"
                             "    children {\n      net {\n        local_ts = 10.200.1.1/32\n"
                             "        remote_ts = 10.200.2.1/32\n        esp_proposals = aes256gcm16\n"
                             "      }\n    }\n  }\n}\n"
                             "secrets {\n  ike-prf {\n    id-a = a@test\n    id-b = b.test\n    secret = \"" + prf_psk +
                             "\"\n  }\n}\n");
        daemon = test::charon::start(ns, dir);
    }
    std::string log() const { return daemon ? daemon->output() : ""; }
    std::unique_ptr<test::Process> initiate() const {
        return std::make_unique<test::Process>(ns.exec({"swanctl", "--initiate", "--child", "net", "--timeout", "20", "--uri",
                                                        "unix://" + dir.file("charon.vici")}),
                                               dir.file("initiate.log"));
    }

    /// charon initiates (swanctl --initiate) to a tapsec responder; the handshake completes.
    Ikev2 accept_initiation() const {
        Ikev2 conn = open_tapsec(Role::server);
        auto initiation = initiate();
        auto ec = conn.handshake();
        REQUIRE_MESSAGE(!ec, ec.message() << "; charon log:\n" << log());
        CHECK(initiation->wait(15s) == 0);
        return conn;
    }

    Ikev2 open_tapsec(Role role) const {
        Ikev2::Config config;
        config.local_id = *ikev2::Identification::parse("a@test");
        config.remote_id = *ikev2::Identification::parse("b.test");
        config.pre_shared_keys.push_back({"b.test", SecretBytes(prf_psk.begin(), prf_psk.end())});
        config.local_ts = *ikev2::parse_selector("10.200.2.1/32");
        config.remote_ts = *ikev2::parse_selector("10.200.1.0/24");
        config.ike_ciphers = {esp::Algorithm::aes_128_gcm_16, esp::Algorithm::aes_256_gcm_16, esp::Algorithm::aes_256_cbc};
        config.ike_integrity = {esp::Integrity::hmac_sha2_384_192};
        config.groups = {ikev2::Group::curve25519, ikev2::Group::ecp_256};
        config.esp_ciphers = {esp::Algorithm::aes_256_gcm_16};
        config.rekey_pfs = false;  // charon's esp_proposals name no group
        config.handshake_timeout = 20s;
        auto peer = role == Role::client ? *Endpoint::parse("10.99.0.1:4500") : Endpoint{};
        auto udp = test::inside(tapsec_ns, [&] { return Udp::bind("10.99.0.2", 4500, peer); });
        REQUIRE(udp.ok());
        return Ikev2(role, config, std::move(*udp));
    }
};

/// One inner datagram each way through the Child SA.
void datagram_each_way(const PrfCharon& charon, Ikev2& conn, const std::string& tag) {
    auto inner = test::inside(charon.ns, [] { return test::PlainUdp::bind("10.200.1.1", 7788); });
    const std::string out = "to charon, " + tag;
    REQUIRE(!conn.send(ikev2_test::udp_packet(ipv4("10.200.2.1"), ipv4("10.200.1.1"), 9988, 7788, as_bytes(out))));
    auto got = inner.receive_text(5s);
    REQUIRE_MESSAGE(got, "charon delivered nothing; its log:\n" << charon.log());
    CHECK(*got == out);
    const std::string back = "to tapsec, " + tag;
    inner.send_to("10.200.2.1", 9988, back);
    const auto deadline = Clock::now() + 5s;
    std::optional<std::string> answer;
    while (!answer && Clock::now() < deadline) {
        auto packet = conn.receive_message(500ms);
        if (packet && !packet->empty()) answer = ikev2_test::udp_payload(*packet);
    }
    REQUIRE_MESSAGE(answer, "no datagram from charon; its log:\n" << charon.log());
    CHECK(*answer == back);
}

/// Runs tapsec's engine (answering charon, retransmitting) until `done` or `timeout`.
template <class Done>
bool drive_until(Ikev2& conn, Done done, std::chrono::seconds timeout) {
    Bytes buffer(max_transmit_size);
    const auto deadline = Clock::now() + timeout;
    while (!done() && Clock::now() < deadline) {
        while (auto t = conn.engine().poll_transmit(MutableByteView(buffer)))
            REQUIRE(!conn.transport().send_to(ByteView(buffer.data(), t->size), t->to ? *t->to : conn.transport().peer_endpoint()));
        (void)conn.receive_message(100ms);
    }
    return done();
}

std::string our_sk_d(Ikev2& conn) { return to_hex(conn.engine().sk_d_for_interop_tests()); }

/// After IKE_AUTH: charon's selection, SK_d against charon's, traffic.
void check_established(const PrfCharon& charon, Ikev2& conn, const std::string& prf_name, std::size_t sk_d_size) {
    CHECK(conn.info().cipher_suite.find("/" + prf_name + ",") != std::string::npos);
    CHECK_MESSAGE(charon.log().find(prf_name) != std::string::npos, charon.log());  // "selected proposal: IKE:.../PRF_..."
    CHECK(conn.engine().sk_d_for_interop_tests().size() == sk_d_size);
    CHECK(test::charon::logged_hex(charon.log(), "Sk_d secret") == our_sk_d(conn));
    datagram_each_way(charon, conn, "first");
}

/// An IKE SA rekey (started by `charon_rekeys` ? charon : tapsec): same PRF, SK_d equal to
/// charon's newest; then a Child SA rekey by tapsec (KEYMAT from the new SK_d) and traffic.
void rekey_both(const PrfCharon& charon, Ikev2& conn, bool charon_rekeys, std::size_t sk_d_size) {
    const std::string before = our_sk_d(conn);
    if (charon_rekeys)
        REQUIRE(test::charon::swanctl(charon.ns, charon.dir, "--rekey --ike prf") == 0);
    else
        REQUIRE(!conn.engine().rekey_ike(Clock::now()));
    REQUIRE_MESSAGE(drive_until(conn, [&] { return test::count_of(charon.log(), "IKE_SA deleted") >= 1; }, 15s), charon.log());
    CHECK(conn.engine().ike_rekeys() == 1);
    CHECK(conn.engine().sk_d_for_interop_tests().size() == sk_d_size);
    CHECK(our_sk_d(conn) != before);
    CHECK(test::charon::logged_hex(charon.log(), "Sk_d secret", true) == our_sk_d(conn));
    datagram_each_way(charon, conn, "after the IKE SA rekey");
    const std::uint32_t inbound = conn.engine().inbound_spi();
    REQUIRE(!conn.update_keys());
    REQUIRE_MESSAGE(drive_until(conn, [&] { return conn.engine().child_rekeys() == 1 && conn.engine().inbound_spi() != inbound; }, 15s),
                    charon.log());
    datagram_each_way(charon, conn, "after the Child SA rekey");
}


TEST_CASE("strongSwan interop, PRF: tapsec initiates, charon takes prfsha384 (aes128gcm16-prfsha384-x25519); rekeys keep it") {
    PrfCharon charon(false, "aes128gcm16-prfsha384-x25519");
    Ikev2 conn = charon.open_tapsec(Role::client);  // offers PRF_HMAC_SHA2_256, _384, _512
    auto ec = conn.handshake();
    REQUIRE_MESSAGE(!ec, ec.message() << "; charon log:\n" << charon.log());
    check_established(charon, conn, "PRF_HMAC_SHA2_384", 48);
    rekey_both(charon, conn, false, 48);
}

TEST_CASE("strongSwan interop, PRF: charon initiates with prfsha512 (aes256gcm16-prfsha512-x25519); charon rekeys the IKE SA") {
    PrfCharon charon(true, "aes256gcm16-prfsha512-x25519");
    Ikev2 conn = charon.accept_initiation();
    check_established(charon, conn, "PRF_HMAC_SHA2_512", 64);
    rekey_both(charon, conn, true, 64);
}

TEST_CASE("strongSwan interop, PRF: AES-CBC + HMAC-SHA2-384 with prfsha384 (aes256-sha384-prfsha384-ecp256), charon initiates") {
    PrfCharon charon(true, "aes256-sha384-prfsha384-ecp256");
    Ikev2 conn = charon.accept_initiation();
    CHECK(conn.info().cipher_suite.find("IKE AES_CBC_256/HMAC_SHA2_384_192/PRF_HMAC_SHA2_384,") == 0);
    CHECK(conn.info().group == "ecp256");
    check_established(charon, conn, "PRF_HMAC_SHA2_384", 48);
}

TEST_CASE("strongSwan interop, PRF: charon offering only prfsha1 gets NO_PROPOSAL_CHOSEN") {
    PrfCharon charon(true, "aes128gcm16-prfsha1-x25519");
    Ikev2 conn = charon.open_tapsec(Role::server);
    auto initiation = charon.initiate();
    // The responder refuses the offer (a dropped_packet event) and keeps listening.
    CHECK_MESSAGE(drive_until(conn, [&] { return charon.log().find("received NO_PROPOSAL_CHOSEN notify error") != std::string::npos; },
                              15s),
                  charon.log());
    CHECK(!conn.is_established());
    bool refused = false;
    while (auto e = conn.next_event())
        refused = refused || (e->kind == EventKind::dropped_packet && e->reason == ikev2::Error::no_proposal_chosen);
    CHECK(refused);
    CHECK(initiation->wait(15s) != 0);
}

TEST_CASE("strongSwan interop, PRF: `tapsec connect ikev2 --config` with proposals = aes256-sha384-prfsha384-ecp256") {
    PrfCharon charon(false, "aes256-sha384-prfsha384-ecp256");
    test::write_file(charon.dir.file("connect.conf"),
                     "remote_addrs = 10.99.0.1:4500\nlocal.id = a@test\nremote.id = b.test\nsecret = \"" + prf_psk +
                         "\"\nlocal_ts = 10.200.2.1\nremote_ts = 10.200.1.1\nproposals = aes256-sha384-prfsha384-ecp256\n"
                         "esp_proposals = aes256gcm16\n");
    auto inner = test::inside(charon.ns, [] { return test::PlainUdp::bind("10.200.1.1", 7788); });
    test::Process cli(charon.tapsec_ns.exec({TAPSEC_TOOL_PATH, "connect", "ikev2", "--config", charon.dir.file("connect.conf"),
                                             "--udp-to", "10.200.1.1:7788", "--verbose"}),
                      charon.dir.file("cli.log"));
    REQUIRE_MESSAGE(cli.wait_for_output("IKE SA and Child SA established", 15s), cli.output() << "\ncharon log:\n" << charon.log());
    CHECK_MESSAGE(cli.output().find("IKE AES_CBC_256/HMAC_SHA2_384_192/PRF_HMAC_SHA2_384, ESP AES_GCM_16_256") != std::string::npos,
                  cli.output());
    cli.write_stdin("a line under PRF_HMAC_SHA2_384\n");
    auto got = inner.receive_text(5s);
    REQUIRE_MESSAGE(got, cli.output() << "\ncharon log:\n" << charon.log());
    CHECK(*got == "a line under PRF_HMAC_SHA2_384\n");
    inner.send_to("10.200.2.1", 7788, "the answer\n");
    CHECK_MESSAGE(cli.wait_for_output("the answer", 5s), cli.output());
    cli.close_stdin();
    CHECK_MESSAGE(cli.wait(15s) == 0, cli.output());
}

}  // namespace ikev2_prf_test
