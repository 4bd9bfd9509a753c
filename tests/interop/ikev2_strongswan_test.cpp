// Interop with strongSwan's charon (Debian strongswan-charon + swanctl), ESP in user
// space through kernel-libipsec (the kernel here has no ESP). Two network namespaces
// of the test's own joined by a veth pair: charon in one (10.99.0.1, its inner address
// 10.200.1.1 on lo), tapsec's UDP socket in the other (10.99.0.2:4500, opened there by
// setns around socket creation). tapsec speaks on the NAT-T port: IKE with the non-ESP
// marker, ESP in UDP (RFC 3948).
//
// Both directions: tapsec initiates to a charon responder, and charon (swanctl
// --initiate) initiates to a tapsec responder that demands a cookie first. Each time
// the IKE SA and the Child SA come up, an inner UDP datagram crosses the tunnel both
// ways (tapsec -> charon -> a socket on 10.200.1.1, and a socket on 10.200.1.1 ->
// charon -> tapsec), and the IKE SA is deleted cleanly. charon logs its keys at
// `ike 4`: the test checks that SK_d and the ESP keys are the ones tapsec derived.
//
// With certificates (RFC 7427 signatures, AUTH method 14): a CA and leaves made by
// `openssl` at run time (ECDSA P-256, Ed25519, RSA for RSA-PSS), charon's from the same
// CA, in both directions; and the refusals against charon: a chain from another CA, an
// ID the certificate does not name, a signature that does not verify, each ending in
// AUTHENTICATION_FAILED on the wire.
//
// Virtual IPs (the configuration payload, RFC 7296 2.19): `tapsec connect
// --request-address` gets an address of charon's pool (swanctl `pools`) and sends from
// it, with ESP dummy packets (next header 59) in between that charon must discard; and
// charon (`vips = 0.0.0.0`) gets one from a tapsec responder's pool.
#include <doctest/doctest.h>

#include <fcntl.h>
#include <poll.h>
#include <sched.h>

#include <thread>

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

namespace ikev2_strongswan_test {

const std::string psk_text = "tapsec-interop-pre-shared-key-0123456789";

/// Certificate authentication for one test: charon's leaf and key, the CA it trusts
/// for tapsec, and tapsec's leaf, key and the CA it trusts for charon.
struct CertificateSetup {
    test::CertificateFiles charon, tapsec;
    std::string charon_trusts, tapsec_trusts;  // CA certificate paths
    std::string tapsec_id = "a@test", tapsec_remote_id = "b.test";
    std::string charon_id = "b.test", charon_remote_id = "a@test";  // swanctl's local.id / remote.id
    bool charon_rsa_pss = false;  // charon signs RSA keys with RSA-PSS (charon.rsa_pss)
    bool tapsec_sends_ca = false;  // tapsec's CERT payloads carry its CA after the leaf (a longer chain)
};

/// Virtual IPs (RFC 7296 2.19, CP): charon assigns from its pool 10.201.0.0/24 (DNS
/// 10.201.0.53) to an initiator that asks, or charon asks (vips = 0.0.0.0) of tapsec.
/// Either way the side with the virtual IP has the `dynamic` selector (swanctl's default).
enum class Vip { none, charon_pool, charon_asks };

/// charon in its namespace, configured for one connection `tapsec`.
struct Charon {
    test::TempDir dir;
    test::NetworkNamespace ns{"tapsec-ikc"}, tapsec_ns{"tapsec-ikt"};
    std::unique_ptr<test::Process> daemon;

    std::optional<CertificateSetup> certs;

    Charon(bool charon_initiates, const std::string& proposals, const std::string& esp_proposals = "aes128gcm16",
           std::optional<CertificateSetup> certificates = std::nullopt, Vip vip = Vip::none,
           const std::string& connection_extra = "")
        : certs(std::move(certificates)) {
        test::charon::join(ns, tapsec_ns, "vik");
        test::charon::write_conf(dir, "      default = 1\n      ike = 4\n      chd = 4\n      time_format = %T\n",
                                 certs && certs->charon_rsa_pss ? "  rsa_pss = yes\n" : "");
        test::write_file(dir.file("swanctl.conf"),
                         "connections {\n"
                         "  tapsec {\n"
                         "    version = 2\n"
                         "    local_addrs = 10.99.0.1\n"
                         "    remote_addrs = 10.99.0.2\n" +
                             std::string(charon_initiates ? "    remote_port = 4500\n" : "") +
                             "    encap = yes\n" + connection_extra +
                             (vip == Vip::charon_pool ? "    pools = vpool\n" : vip == Vip::charon_asks ? "    vips = 0.0.0.0\n" : "") +
                             "    proposals = " + proposals + "\n"
                             "    local {\n" +
                             (certs ? "      auth = pubkey\n      certs = charon.crt\n"
                                    : std::string("      auth = psk\n")) +
                             "      id = \"" + (certs ? certs->charon_id : "b.test") + "\"\n"
                             "    }\n"
                             "    remote {\n" +
                             (certs ? "      auth = pubkey\n      cacerts = ca.crt\n"
                                    : std::string("      auth = psk\n")) +
                             "      id = \"" + (certs ? certs->charon_remote_id : "a@test") + "\"\n"
                             "    }\n"
                             "    children {\n"
                             "      net {\n" +
                             (vip == Vip::charon_asks ? "" : "        local_ts = 10.200.1.1/32\n") +
                             (vip == Vip::charon_pool ? "" : "        remote_ts = 10.200.2.1/32\n") +
                             "        esp_proposals = " + esp_proposals + "\n"
                             "        mode = tunnel\n"
                             "      }\n"
                             "    }\n"
                             "  }\n"
                             "}\n" +
                             (vip == Vip::charon_pool ? "pools {\n  vpool {\n    addrs = 10.201.0.0/24\n    dns = 10.201.0.53\n  }\n}\n" : "") +
                             "secrets {\n" +
                             (certs ? std::string()  // the key is loaded from $SWANCTL_DIR/private
                                    : "  ike-1 {\n"
                                      "    id-a = a@test\n"
                                      "    id-b = b.test\n"
                                      "    secret = \"" + psk_text + "\"\n"
                                      "  }\n") +
                             "}\n");
        if (certs) {  // swanctl --file takes credentials from x509/, x509ca/, private/ beside the file
            for (const char* sub : {"x509", "x509ca", "private"}) std::filesystem::create_directories(dir.file(sub));
            std::filesystem::copy_file(certs->charon.certificate, dir.file("x509/charon.crt"));
            std::filesystem::copy_file(certs->charon_trusts, dir.file("x509ca/ca.crt"));
            std::filesystem::copy_file(certs->charon.key, dir.file("private/charon.key"));
        }
        daemon = test::charon::start(ns, dir);
    }

    int swanctl(const std::string& arguments) const { return test::charon::swanctl(ns, dir, arguments); }
    std::string log() const { return daemon ? daemon->output() : ""; }

    Ikev2::Config tapsec_config(Role role, bool rekey_pfs) const {
        Ikev2::Config config;
        config.local_id = *ikev2::Identification::parse(certs ? certs->tapsec_id : "a@test");
        config.remote_id = *ikev2::Identification::parse(certs ? certs->tapsec_remote_id : "b.test");
        if (certs) {
            config.identity = Identity(certs->tapsec.certificate_pem() + (certs->tapsec_sends_ca ? test::read_file(certs->charon_trusts) : ""),
                                       certs->tapsec.key_pem());
            config.trust.ca_certificates_pem.push_back(test::read_file(certs->tapsec_trusts));
        } else {
            config.pre_shared_keys.push_back({"b.test", SecretBytes(psk_text.begin(), psk_text.end())});
        }
        config.local_ts = *ikev2::parse_selector("10.200.2.1/32");
        config.remote_ts = *ikev2::parse_selector("10.200.1.0/24");
        config.handshake_timeout = 20s;
        if (role == Role::server) config.source_validation = CommonConfig::SourceValidation::always;
        config.rekey_pfs = rekey_pfs;  // as charon's esp_proposals say
        return config;
    }
    template <class Connection = Ikev2>
    Connection open_tapsec(Role role, bool rekey_pfs = false) {
        auto peer = role == Role::client ? *Endpoint::parse("10.99.0.1:4500") : Endpoint{};
        auto udp = test::inside(tapsec_ns, [&] { return Udp::bind("10.99.0.2", 4500, peer); });
        REQUIRE(udp.ok());
        return Connection(role, tapsec_config(role, rekey_pfs), std::move(*udp));
    }
};

/// The hex octets of charon's hex dump after `label` ("Sk_d secret => 32 bytes @ ...").
std::string charon_dump(const std::string& log, const std::string& label) { return test::charon::logged_hex(log, label); }

/// Waits for the next inner UDP datagram out of the tunnel.
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

/// Traffic both ways through the established tunnel, between tapsec's inner address and
/// a socket on charon's.
void exchange_datagrams(Charon& charon, Ikev2& conn, const char* tapsec_address = "10.200.2.1",
                        const char* charon_address = "10.200.1.1") {
    auto inner_socket = test::inside(charon.ns, [&] { return test::PlainUdp::bind(charon_address, 7777); });
    for (int i = 0; i < 3; ++i) {
        const std::string message = "tapsec to charon #" + std::to_string(i);
        REQUIRE(!conn.send(ikev2_test::udp_packet(ipv4(tapsec_address), ipv4(charon_address), 9999, 7777, as_bytes(message))));
        auto got = inner_socket.receive_text(5s);
        REQUIRE_MESSAGE(got, "charon did not deliver tapsec's inner datagram; charon log:\n" << charon.log());
        CHECK(*got == message);
    }
    for (int i = 0; i < 3; ++i) {
        const std::string message = "charon to tapsec #" + std::to_string(i);
        inner_socket.send_to(tapsec_address, 9999, message);
        auto got = next_udp(conn, 5s);
        REQUIRE_MESSAGE(got, "no inner datagram from charon; charon log:\n" << charon.log());
        CHECK(*got == message);
    }
}

/// Drives the engine (answering charon) until charon's log shows `text`.
bool pump_until(Charon& charon, Ikev2& conn, const std::string& text, std::chrono::seconds timeout) {
    const auto deadline = Clock::now() + timeout;
    while (Clock::now() < deadline) {
        if (charon.log().find(text) != std::string::npos) return true;
        auto packet = conn.receive_message(100ms);
        if (!packet && packet.error() != make_error_code(Errc::timed_out)) return false;
    }
    return charon.log().find(text) != std::string::npos;
}

/// charon rekeys the Child SA (CREATE_CHILD_SA with N(REKEY_SA)); tapsec answers, and
/// traffic flows on the new SAs both ways; charon deletes the old one.
void rekey_child_by_charon(Charon& charon, Ikev2& conn) {
    const std::uint32_t before = conn.engine().inbound_spi();
    REQUIRE(charon.swanctl("--rekey --child net") == 0);  // queues the rekey and returns
    REQUIRE_MESSAGE(pump_until(charon, conn, "CHILD_SA net{2} established", 15s), charon.log());
    REQUIRE_MESSAGE(pump_until(charon, conn, "CHILD_SA net{1} state change: DELETING => DELETED", 15s), charon.log());
    CHECK(conn.engine().child_rekeys() == 1);
    CHECK(conn.engine().inbound_spi() != before);
    exchange_datagrams(charon, conn);
}

/// tapsec rekeys the Child SA (Secure<>::update_keys: CREATE_CHILD_SA, then D(ESP) of
/// the old SA); charon answers both; traffic flows on the newest SAs.
void rekey_child_by_tapsec(Charon& charon, Ikev2& conn, int child_number) {
    const std::uint32_t before = conn.engine().inbound_spi();
    const auto rekeys = conn.engine().child_rekeys();
    REQUIRE(!conn.update_keys());
    const std::string established = "CHILD_SA net{" + std::to_string(child_number) + "} established";
    REQUIRE_MESSAGE(pump_until(charon, conn, established, 15s), charon.log());
    const std::string closed = "CHILD_SA net{" + std::to_string(child_number - 1) + "} state change: DELETING => DELETED";
    REQUIRE_MESSAGE(pump_until(charon, conn, closed, 15s), charon.log());
    CHECK(conn.engine().child_rekeys() == rekeys + 1);
    CHECK(conn.engine().inbound_spi() != before);
    exchange_datagrams(charon, conn);
}

/// Deletes the IKE SA from tapsec's side and waits for charon's answer.
void close_from_tapsec(Ikev2& conn) {
    auto& engine = conn.engine();
    REQUIRE(!engine.close(Clock::now()));
    Bytes buffer(max_transmit_size), in(65536);
    const auto deadline = Clock::now() + 10s;
    while (!engine.is_closed() && Clock::now() < deadline) {
        while (auto t = engine.poll_transmit(MutableByteView(buffer)))
            REQUIRE(!conn.transport().send_to(ByteView(buffer.data(), t->size), t->to ? *t->to : conn.transport().peer_endpoint()));
        Endpoint from;
        const Instant wake = std::min(engine.next_timeout().value_or(deadline), deadline);
        auto n = conn.transport().receive_from(in, wake, from);
        if (n) (void)engine.receive(ByteView(in.data(), *n), from, Clock::now());
        else (void)engine.on_timeout(Clock::now());
    }
    CHECK(engine.is_closed());
    CHECK(!engine.failure());
}

/// Sends what the engine queued outside Secure<>'s own calls (an exchange it was asked to start).
void flush(Ikev2& conn) {
    Bytes buffer(max_transmit_size);
    while (auto t = conn.engine().poll_transmit(MutableByteView(buffer)))
        REQUIRE(!conn.transport().send_to(ByteView(buffer.data(), t->size), t->to ? *t->to : conn.transport().peer_endpoint()));
}

void check_keys_match_charon(const Charon& charon, Ikev2& conn) {
    // charon prints the Child SA's keys at `chd 4`; tapsec's are in its record layer's
    // import, so compare what reaches the wire instead: both sides opened each other's
    // packets above. SK_d is compared directly.
    const std::string log = charon.log();
    const std::string sk_d = charon_dump(log, "Sk_d secret");
    REQUIRE_MESSAGE(!sk_d.empty(), "charon's `ike 4` log has no Sk_d:\n" << log);
    CHECK(sk_d == to_hex(conn.engine().sk_d_for_interop_tests()));
}


TEST_CASE("strongSwan interop: tapsec initiates to charon (X25519, AES-GCM-16-128), datagrams both ways, clean delete") {
    Charon charon(false, "aes128gcm16-prfsha256-x25519");
    Ikev2 conn = charon.open_tapsec(Role::client);
    auto ec = conn.handshake();
    REQUIRE_MESSAGE(!ec, ec.message() << "; charon log:\n" << charon.log());
    CHECK(conn.info().group == "curve25519");
    CHECK(conn.info().peer.psk_identity == "b.test");
    // charon narrowed our 10.200.1.0/24 to its one address.
    CHECK(ikev2::to_string(conn.engine().remote_selector()) == "10.200.1.1-10.200.1.1");
    exchange_datagrams(charon, conn);
    check_keys_match_charon(charon, conn);
    rekey_child_by_charon(charon, conn);
    rekey_child_by_tapsec(charon, conn, 3);
    CHECK(conn.engine().statistics().esp_received == 9);
    // tapsec rekeys the IKE SA and deletes the old one; traffic continues under the new one.
    REQUIRE(!conn.engine().rekey_ike(Clock::now()));
    flush(conn);
    REQUIRE_MESSAGE(pump_until(charon, conn, "received DELETE for IKE_SA tapsec[1]", 15s), charon.log());
    CHECK(conn.engine().ike_rekeys() == 1);
    exchange_datagrams(charon, conn);
    close_from_tapsec(conn);
    const bool charon_deleted = charon.daemon->wait_for_output("received DELETE for IKE_SA tapsec[2]", 5s);
    CHECK_MESSAGE(charon_deleted, charon.log());
}

TEST_CASE("strongSwan interop: tapsec initiates to charon with ChaCha20-Poly1305 (RFC 7634) for IKE and ESP") {
    Charon charon(false, "chacha20poly1305-prfsha256-x25519", "chacha20poly1305");
    Ikev2 conn = charon.open_tapsec(Role::client);
    auto ec = conn.handshake();
    REQUIRE_MESSAGE(!ec, ec.message() << "; charon log:\n" << charon.log());
    CHECK(conn.info().cipher_suite == "IKE CHACHA20_POLY1305/PRF_HMAC_SHA2_256, ESP CHACHA20_POLY1305/NO_ESN");
    exchange_datagrams(charon, conn);
    check_keys_match_charon(charon, conn);
    close_from_tapsec(conn);
}

TEST_CASE("strongSwan interop: AES-CBC + HMAC-SHA-2 and MODP-2048 (table), both roles, datagrams both ways, SK_d") {
    struct Row {
        bool charon_initiates;
        const char* proposals;  // charon's swanctl keywords
        const char* esp_proposals;
        std::vector<esp::Algorithm> ike, child;  // what tapsec offers / accepts
        std::vector<esp::Integrity> ike_integrity, child_integrity;
        std::vector<ikev2::Group> groups;
        const char* suite;  // what both sides then use, as tapsec names it
        const char* group;
    };
    const std::vector<Row> rows{
        {false, "aes256-sha256-modp2048", "aes128-sha256", {esp::Algorithm::aes_128_gcm_16, esp::Algorithm::aes_256_cbc},
         {esp::Algorithm::aes_128_cbc}, {esp::Integrity::hmac_sha2_256_128}, {esp::Integrity::hmac_sha2_256_128},
         {ikev2::Group::modp_2048}, "IKE AES_CBC_256/HMAC_SHA2_256_128/PRF_HMAC_SHA2_256, ESP AES_CBC_128/HMAC_SHA2_256_128/NO_ESN",
         "modp2048"},
        {true, "aes256-sha256-modp2048", "aes256-sha512", {esp::Algorithm::aes_256_cbc}, {esp::Algorithm::aes_256_cbc},
         {esp::Integrity::hmac_sha2_256_128}, {esp::Integrity::hmac_sha2_256_128, esp::Integrity::hmac_sha2_512_256},
         {ikev2::Group::curve25519, ikev2::Group::modp_2048},
         "IKE AES_CBC_256/HMAC_SHA2_256_128/PRF_HMAC_SHA2_256, ESP AES_CBC_256/HMAC_SHA2_512_256/NO_ESN", "modp2048"},
        {false, "aes128-sha256-x25519", "aes256-sha512", {esp::Algorithm::aes_128_cbc}, {esp::Algorithm::aes_256_cbc},
         {esp::Integrity::hmac_sha2_256_128}, {esp::Integrity::hmac_sha2_512_256}, {ikev2::Group::curve25519},
         "IKE AES_CBC_128/HMAC_SHA2_256_128/PRF_HMAC_SHA2_256, ESP AES_CBC_256/HMAC_SHA2_512_256/NO_ESN", "curve25519"},
        {true, "aes128-sha256-x25519", "aes128-sha256", {esp::Algorithm::aes_128_cbc}, {esp::Algorithm::aes_128_cbc},
         {esp::Integrity::hmac_sha2_256_128}, {esp::Integrity::hmac_sha2_256_128}, {ikev2::Group::curve25519},
         "IKE AES_CBC_128/HMAC_SHA2_256_128/PRF_HMAC_SHA2_256, ESP AES_CBC_128/HMAC_SHA2_256_128/NO_ESN", "curve25519"},
    };
    for (const Row& row : rows) {
        CAPTURE(row.proposals);
        CAPTURE(row.esp_proposals);
        CAPTURE(row.charon_initiates);
        Charon charon(row.charon_initiates, row.proposals, row.esp_proposals);
        const Role role = row.charon_initiates ? Role::server : Role::client;
        Ikev2::Config config = charon.tapsec_config(role, false);
        config.ike_ciphers = row.ike;
        config.esp_ciphers = row.child;
        config.ike_integrity = row.ike_integrity;
        config.esp_integrity = row.child_integrity;
        config.groups = row.groups;
        auto peer = role == Role::client ? *Endpoint::parse("10.99.0.1:4500") : Endpoint{};
        auto udp = test::inside(charon.tapsec_ns, [&] { return Udp::bind("10.99.0.2", 4500, peer); });
        REQUIRE(udp.ok());
        Ikev2 conn(role, config, std::move(*udp));
        std::optional<test::Process> initiate;
        if (row.charon_initiates)
            initiate.emplace(charon.ns.exec({"swanctl", "--initiate", "--child", "net", "--timeout", "20", "--uri",
                                             "unix://" + charon.dir.file("charon.vici")}),
                             charon.dir.file("initiate.log"));
        auto ec = conn.handshake();
        REQUIRE_MESSAGE(!ec, ec.message() << "; charon log:\n" << charon.log());
        if (initiate) CHECK(initiate->wait(15s) == 0);
        CHECK(conn.info().cipher_suite == row.suite);
        CHECK(conn.info().group == row.group);
        exchange_datagrams(charon, conn);
        check_keys_match_charon(charon, conn);
        close_from_tapsec(conn);
    }
}

TEST_CASE("strongSwan interop: charon initiates to tapsec (ECP-256, AES-GCM-16-256), cookie, datagrams both ways, delete") {
    Charon charon(true, "aes256gcm16-prfsha256-ecp256", "aes128gcm16-ecp256");  // PFS in rekeys
    Ikev2 conn = charon.open_tapsec(Role::server, true);
    test::Process initiate(charon.ns.exec({"swanctl", "--initiate", "--child", "net", "--timeout", "20", "--uri",
                                           "unix://" + charon.dir.file("charon.vici")}),
                           charon.dir.file("initiate.log"));
    auto ec = conn.handshake();
    REQUIRE_MESSAGE(!ec, ec.message() << "; charon log:\n" << charon.log());
    CHECK(conn.engine().statistics().cookies_sent == 1);
    CHECK(conn.info().group == "ecp256");
    CHECK(conn.info().peer.psk_identity == "b.test");
    CHECK(initiate.wait(15s) == 0);
    exchange_datagrams(charon, conn);
    check_keys_match_charon(charon, conn);
    rekey_child_by_charon(charon, conn);  // with a fresh ECP-256 exchange (PFS)
    rekey_child_by_tapsec(charon, conn, 3);  // the same, started by tapsec
    // charon rekeys the IKE SA: new SPIs and keys; the Child SA moves over; the old IKE SA
    // is deleted under its old keys and the tunnel stays up.
    REQUIRE(charon.swanctl("--rekey --ike tapsec") == 0);
    const auto deadline = Clock::now() + 15s;
    while (Clock::now() < deadline && test::count_of(charon.log(), "IKE_SA deleted") < 1) (void)conn.receive_message(100ms);
    REQUIRE_MESSAGE(test::count_of(charon.log(), "IKE_SA deleted") == 1, charon.log());
    CHECK(conn.engine().ike_rekeys() == 1);
    CHECK(conn.engine().is_established());
    exchange_datagrams(charon, conn);
    rekey_child_by_tapsec(charon, conn, 4);  // under the new IKE SA's SK_d
    // charon deletes: tapsec answers and reports a clean close.
    test::Process terminate(charon.ns.exec({"swanctl", "--terminate", "--ike", "tapsec", "--timeout", "10", "--uri",
                                            "unix://" + charon.dir.file("charon.vici")}),
                            charon.dir.file("terminate.log"));
    auto rest = conn.receive_message(10s);
    REQUIRE(rest);
    CHECK(rest->empty());  // end of stream: closed
    CHECK(conn.engine().is_closed());
    CHECK(!conn.engine().failure());
    bool peer_closed = false;
    while (auto e = conn.next_event()) peer_closed = peer_closed || e->kind == EventKind::peer_closed;
    CHECK(peer_closed);
    CHECK_MESSAGE(terminate.wait(10s) == 0, test::read_file(charon.dir.file("terminate.log")));
    const bool charon_deleted = charon.daemon->wait_for_count("IKE_SA deleted", 2, 5s);
    CHECK_MESSAGE(charon_deleted, charon.log());
}

TEST_CASE("strongSwan interop: `tapsec connect ikev2` to charon, stdin lines through the tunnel and back, exit 0 on delete") {
    Charon charon(false, "aes128gcm16-prfsha256-x25519");
    test::write_file(charon.dir.file("psk.txt"), psk_text + "\n");
    auto inner_socket = test::inside(charon.ns, [] { return test::PlainUdp::bind("10.200.1.1", 7777); });
    test::Process cli(charon.tapsec_ns.exec({TAPSEC_TOOL_PATH, "connect", "ikev2", "10.99.0.1:4500", "--psk-file",
                                             charon.dir.file("psk.txt"), "--local-id", "a@test", "--remote-id", "b.test",
                                             "--local-ts", "10.200.2.1", "--remote-ts", "10.200.1.1", "--udp-to",
                                             "10.200.1.1:7777", "--verbose"}),
                      charon.dir.file("cli.log"));
    REQUIRE_MESSAGE(cli.wait_for_output("IKE SA and Child SA established", 15s), cli.output() << "\ncharon log:\n" << charon.log());
    cli.write_stdin("line one from the tapsec command\n");
    auto got = inner_socket.receive_text(5s);
    REQUIRE_MESSAGE(got, cli.output() << "\ncharon log:\n" << charon.log());
    CHECK(*got == "line one from the tapsec command\n");
    // Back through charon: the CLI prints the UDP payload on stdout.
    inner_socket.send_to("10.200.2.1", 7777, "answer from charon's side\n");
    CHECK_MESSAGE(cli.wait_for_output("answer from charon's side", 5s), cli.output());
    cli.close_stdin();  // two quiet seconds later the CLI deletes the IKE SA and exits
    CHECK(cli.wait(15s) == 0);
    CHECK_MESSAGE(cli.output().find("IKE SA deleted") != std::string::npos, cli.output());
    const bool charon_deleted = charon.daemon->wait_for_output("received DELETE for IKE_SA tapsec[1]", 5s);
    CHECK_MESSAGE(charon_deleted, charon.log());
}

// ---- certificate authentication (RFC 7427) ------------------------------------------------


/// A CA and leaves for both sides: tapsec "a@test" (rfc822Name), charon "b.test" (dNSName).
struct InteropPki {
    ikev2_test::IkePki pki;
    CertificateSetup setup(test::KeyType tapsec_key, test::KeyType charon_key) {
        REQUIRE(pki.pki.ok());
        CertificateSetup s;
        s.tapsec = pki.initiator(tapsec_key, "tapsec");
        s.charon = pki.responder(charon_key, "charon");
        REQUIRE(!s.tapsec.certificate.empty());
        REQUIRE(!s.charon.certificate.empty());
        s.charon_trusts = s.tapsec_trusts = pki.pki.ca().certificate;
        return s;
    }
};

/// The handshake, then what every certificate case checks: charon's subject, the
/// scheme charon reports for tapsec's signature, datagrams both ways, SK_d, the delete.
void certificate_tunnel(Charon& charon, Ikev2& conn, const std::string& charon_verified,
                        const std::string& tapsec_id = "a@test") {
    CHECK(conn.info().peer.subject == "CN=b.test");
    CHECK(conn.info().peer.certificate_chain_der.size() == 1);
    CHECK(conn.info().peer.psk_identity.empty());
    // charon: "authentication of 'a@test' with <scheme> successful"
    CHECK_MESSAGE(charon.log().find("authentication of '" + tapsec_id + "' with " + charon_verified + " successful") !=
                      std::string::npos,
                  charon.log());
    exchange_datagrams(charon, conn);
    check_keys_match_charon(charon, conn);
}


TEST_CASE("strongSwan interop, certificates: tapsec (ECDSA P-256) initiates to charon (ECDSA P-256), datagrams, delete") {
    InteropPki pki;
    Charon charon(false, "aes128gcm16-prfsha256-x25519", "aes128gcm16",
                  pki.setup(test::KeyType::ecdsa_p256, test::KeyType::ecdsa_p256));
    Ikev2 conn = charon.open_tapsec(Role::client);
    auto ec = conn.handshake();
    REQUIRE_MESSAGE(!ec, ec.message() << "; charon log:\n" << charon.log());
    CHECK_MESSAGE(charon.log().find("received cert request") != std::string::npos, charon.log());
    certificate_tunnel(charon, conn, "ECDSA_WITH_SHA256_DER");
    close_from_tapsec(conn);
}

TEST_CASE("strongSwan interop, certificates: DER_ASN1_DN identities both ways (the certificates' subjects)") {
    InteropPki pki;
    auto setup = pki.setup(test::KeyType::ecdsa_p256, test::KeyType::ecdsa_p256);
    setup.tapsec_id = setup.charon_remote_id = "CN=alice";
    setup.tapsec_remote_id = setup.charon_id = "CN=b.test";
    Charon charon(false, "aes128gcm16-prfsha256-x25519", "aes128gcm16", setup);
    Ikev2 conn = charon.open_tapsec(Role::client);
    auto ec = conn.handshake();
    REQUIRE_MESSAGE(!ec, ec.message() << "; charon log:\n" << charon.log());
    certificate_tunnel(charon, conn, "ECDSA_WITH_SHA256_DER", "CN=alice");
    close_from_tapsec(conn);
}

TEST_CASE("strongSwan interop, certificates: charon (ECDSA P-256) initiates to tapsec (Ed25519), cookie, datagrams, delete") {
    InteropPki pki;
    Charon charon(true, "aes256gcm16-prfsha256-ecp256", "aes128gcm16",
                  pki.setup(test::KeyType::ed25519, test::KeyType::ecdsa_p256));
    Ikev2 conn = charon.open_tapsec(Role::server);
    test::Process initiate(charon.ns.exec({"swanctl", "--initiate", "--child", "net", "--timeout", "20", "--uri",
                                           "unix://" + charon.dir.file("charon.vici")}),
                           charon.dir.file("initiate.log"));
    auto ec = conn.handshake();
    REQUIRE_MESSAGE(!ec, ec.message() << "; charon log:\n" << charon.log());
    CHECK(conn.engine().statistics().cookies_sent == 1);
    CHECK(initiate.wait(15s) == 0);
    certificate_tunnel(charon, conn, "ED25519");
    close_from_tapsec(conn);
}

TEST_CASE("strongSwan interop, certificates: RSA-PSS both ways (tapsec initiates; charon with rsa_pss = yes)") {
    InteropPki pki;
    auto setup = pki.setup(test::KeyType::rsa2048, test::KeyType::rsa2048);
    setup.charon_rsa_pss = true;
    Charon charon(false, "aes128gcm16-prfsha256-x25519", "aes128gcm16", setup);
    Ikev2 conn = charon.open_tapsec(Role::client);
    auto ec = conn.handshake();
    REQUIRE_MESSAGE(!ec, ec.message() << "; charon log:\n" << charon.log());
    certificate_tunnel(charon, conn, "RSA_EMSA_PSS_SHA2_256_SALT_32");
    // charon signed with RSA-PSS too (it logs the scheme it used for its own AUTH).
    CHECK_MESSAGE(charon.log().find("authentication of 'b.test' (myself) with RSA_EMSA_PSS") != std::string::npos, charon.log());
    close_from_tapsec(conn);
}

TEST_CASE("strongSwan interop, certificates: refusals end in AUTHENTICATION_FAILED with a named cause") {
    InteropPki pki;
    ikev2_test::IkePki other_ca;
    REQUIRE(other_ca.pki.ok());
    struct Case {
        std::string what;
        std::function<void(CertificateSetup&)> adjust;
        bool tampered_signature;
        ikev2::Error tapsec_error;       // tapsec's failure
        const char* charon_logs;  // what charon says
    };
    const Case cases[] = {
        {"tapsec does not trust charon's CA",
         [&](CertificateSetup& s) { s.tapsec_trusts = other_ca.pki.ca().certificate; }, false, ikev2::Error::certificate_untrusted,
         "parsed INFORMATIONAL request 2 [ N(AUTH_FAILED) ]"},
        {"charon does not trust tapsec's CA",
         [&](CertificateSetup& s) { s.charon_trusts = other_ca.pki.ca().certificate; }, false, ikev2::Error::authentication_failed,
         "N(AUTH_FAILED)"},
        {"tapsec's ID is not in its certificate", [&](CertificateSetup& s) { s.tapsec_id = "mallory@test"; }, false,
         ikev2::Error::authentication_failed, "N(AUTH_FAILED)"},
        {"tapsec's signature does not verify (tampered AUTH)", [](CertificateSetup&) {}, true,
         ikev2::Error::authentication_failed, "N(AUTH_FAILED)"},
    };
    for (const auto& c : cases) {
        CAPTURE(c.what);
        auto setup = pki.setup(test::KeyType::ecdsa_p256, test::KeyType::ecdsa_p256);
        c.adjust(setup);
        Charon charon(false, "aes128gcm16-prfsha256-x25519", "aes128gcm16", setup);
        std::error_code ec;
        if (c.tampered_signature) {
            auto conn = charon.open_tapsec<Secure<Ikev2Handshake, EspRecord, Udp, ikev2_test::FlippingSigner>>(Role::client);
            ec = conn.handshake();
        } else {
            Ikev2 conn = charon.open_tapsec(Role::client);
            ec = conn.handshake();
        }
        CHECK_MESSAGE(ec == make_error_code(c.tapsec_error), ec.message() << "; charon log:\n" << charon.log());
        CHECK_MESSAGE(ec.message().find("AUTHENTICATION_FAILED") != std::string::npos, ec.message());
        const bool logged = charon.daemon->wait_for_output(c.charon_logs, 5s);
        CHECK_MESSAGE(logged, charon.log());
    }
}

TEST_CASE("strongSwan interop, certificates: `tapsec connect ikev2 --cert --key --CAfile` to charon, a line each way, exit 0") {
    InteropPki pki;
    auto setup = pki.setup(test::KeyType::ed25519, test::KeyType::ecdsa_p256);
    Charon charon(false, "aes128gcm16-prfsha256-x25519", "aes128gcm16", setup);
    auto inner_socket = test::inside(charon.ns, [] { return test::PlainUdp::bind("10.200.1.1", 7777); });
    test::Process cli(charon.tapsec_ns.exec({TAPSEC_TOOL_PATH, "connect", "ikev2", "10.99.0.1:4500", "--cert",
                                             setup.tapsec.certificate, "--key", setup.tapsec.key, "--CAfile",
                                             setup.tapsec_trusts, "--id", "a@test", "--remote-id", "b.test", "--local-ts",
                                             "10.200.2.1", "--remote-ts", "10.200.1.1", "--udp-to", "10.200.1.1:7777",
                                             "--verbose"}),
                      charon.dir.file("cli.log"));
    REQUIRE_MESSAGE(cli.wait_for_output("IKE SA and Child SA established", 15s), cli.output() << "\ncharon log:\n" << charon.log());
    CHECK_MESSAGE(cli.output().find("peer CN=b.test (certificate)") != std::string::npos, cli.output());
    cli.write_stdin("signed by Ed25519\n");
    auto got = inner_socket.receive_text(5s);
    REQUIRE_MESSAGE(got, cli.output() << "\ncharon log:\n" << charon.log());
    CHECK(*got == "signed by Ed25519\n");
    inner_socket.send_to("10.200.2.1", 7777, "verified by ECDSA\n");
    CHECK_MESSAGE(cli.wait_for_output("verified by ECDSA", 5s), cli.output());
    cli.close_stdin();
    CHECK(cli.wait(15s) == 0);
    const bool charon_deleted = charon.daemon->wait_for_output("received DELETE for IKE_SA tapsec[1]", 5s);
    CHECK_MESSAGE(charon_deleted, charon.log());
}

TEST_CASE("strongSwan interop, TFC padding: charon (kernel-libipsec) accepts padded ESP, inner datagrams intact (table)") {
    // RFC 4303 2.4: the receiver takes the inner packet's length from its IP header. The
    // first datagram of each row is sealed and sent by hand so the test sees its size on
    // the wire; the rest go through Secure<>::send, then charon answers (unpadded).
    struct Row {
        esp::TfcPadding mode;
        const char* esp_proposal;
        esp::Algorithm esp_cipher;  // the same, for tapsec
    };
    const Row rows[] = {
        {esp::TfcPadding::fixed(1200), "aes128gcm16", esp::Algorithm::aes_128_gcm_16},
        {esp::TfcPadding::bucket(256), "aes256-sha256", esp::Algorithm::aes_256_cbc},
    };
    for (const auto& row : rows) {
        CAPTURE(row.mode.to_string());
        Charon charon(false, "aes128gcm16-prfsha256-x25519", row.esp_proposal);
        auto config = charon.tapsec_config(Role::client, false);
        config.tfc_padding = row.mode;
        config.esp_ciphers = {row.esp_cipher};
        auto udp = test::inside(charon.tapsec_ns, [] { return Udp::bind("10.99.0.2", 4500, *Endpoint::parse("10.99.0.1:4500")); });
        REQUIRE(udp.ok());
        Ikev2 conn(Role::client, config, std::move(*udp));
        auto ec = conn.handshake();
        REQUIRE_MESSAGE(!ec, ec.message() << "; charon log:\n" << charon.log());
        REQUIRE(conn.engine().tfc_padding_active());  // charon sent no ESP_TFC_PADDING_NOT_SUPPORTED

        {  // (exchange_datagrams below binds the same inner port)
            auto inner_socket = test::inside(charon.ns, [] { return test::PlainUdp::bind("10.200.1.1", 7777); });
            const std::string first = "padded by tapsec";
            const Bytes inner = ikev2_test::udp_packet(ipv4("10.200.2.1"), ipv4("10.200.1.1"), 9999, 7777, as_bytes(first));
            REQUIRE(!conn.engine().send(inner, Clock::now()));
            Bytes buffer(max_transmit_size);
            auto t = conn.engine().poll_transmit(MutableByteView(buffer));
            REQUIRE(t);
            CHECK(t->size > row.mode.padded_length(inner.size()));  // 1200 / 256 octets and ESP's own
            REQUIRE(!conn.transport().send_to(ByteView(buffer.data(), t->size), conn.transport().peer_endpoint()));
            auto got = inner_socket.receive_text(5s);
            REQUIRE_MESSAGE(got, "charon did not deliver the TFC-padded datagram; charon log:\n" << charon.log());
            CHECK(*got == first);  // exactly the inner datagram: charon dropped the padding
        }
        exchange_datagrams(charon, conn);
        close_from_tapsec(conn);
    }
}

// ---- configuration payload (virtual IPs, RFC 7296 2.19) and ESP dummy packets ------------

TEST_CASE("strongSwan interop, CP: `tapsec connect ikev2 --request-address` gets charon's pool address, "
          "datagrams from it both ways; charon discards our ESP dummy packets") {
    Charon charon(false, "aes128gcm16-prfsha256-x25519", "aes128gcm16", std::nullopt, Vip::charon_pool);
    test::write_file(charon.dir.file("psk.txt"), psk_text + "\n");
    auto inner_socket = test::inside(charon.ns, [] { return test::PlainUdp::bind("10.200.1.1", 7777); });
    test::Process cli(charon.tapsec_ns.exec({TAPSEC_TOOL_PATH, "connect", "ikev2", "10.99.0.1:4500", "--psk-file",
                                             charon.dir.file("psk.txt"), "--local-id", "a@test", "--remote-id", "b.test",
                                             "--request-address", "--remote-ts", "10.200.1.1", "--dummy-packets", "50",
                                             "--udp-to", "10.200.1.1:7777", "--verbose"}),
                      charon.dir.file("cli.log"));
    REQUIRE_MESSAGE(cli.wait_for_output("IKE SA and Child SA established", 15s), cli.output() << "\ncharon log:\n" << charon.log());
    CHECK_MESSAGE(cli.wait_for_output("inner address assigned to us: 10.201.0.1", 2s), cli.output());
    CHECK_MESSAGE(cli.output().find("DNS server 10.201.0.53") != std::string::npos, cli.output());
    CHECK_MESSAGE(charon.log().find("assigning virtual IP 10.201.0.1 to peer 'a@test'") != std::string::npos, charon.log());
    // 50 dummy packets a second go to charon while the lines cross the tunnel.
    for (int i = 0; i < 3; ++i) {
        const std::string line = "line " + std::to_string(i) + " from the virtual IP\n";
        cli.write_stdin(line);
        auto got = inner_socket.receive_text(5s);  // sent from 10.201.0.1: the only source the selectors allow
        REQUIRE_MESSAGE(got, cli.output() << "\ncharon log:\n" << charon.log());
        CHECK(*got == line);
        std::this_thread::sleep_for(300ms);
    }
    inner_socket.send_to("10.201.0.1", 7777, "answer to the virtual IP\n");
    CHECK_MESSAGE(cli.wait_for_output("answer to the virtual IP", 5s), cli.output());
    cli.close_stdin();
    CHECK(cli.wait(15s) == 0);
    const std::string out = cli.output();
    CHECK_MESSAGE(out.find("IKE SA deleted") != std::string::npos, out);
    const auto at = out.find("dummy_sent=");
    REQUIRE_MESSAGE(at != std::string::npos, out);
    CHECK_MESSAGE(std::stoul(out.substr(at + 11)) >= 20, out);
    CHECK_MESSAGE(charon.log().find("received DELETE for IKE_SA tapsec[1]") != std::string::npos, charon.log());
    // kernel-libipsec (5.9.8) opens each dummy, finds no IP packet inside and drops it:
    // one "parsing ESP payload failed" line per dummy, and the tunnel carried on.
    CHECK_MESSAGE(test::count_of(charon.log(), "parsing ESP payload failed") >= 20, charon.log());
}

TEST_CASE("strongSwan interop, CP: charon (vips = 0.0.0.0) gets an address from tapsec's pool, datagrams both ways") {
    Charon charon(true, "aes128gcm16-prfsha256-x25519", "aes128gcm16", std::nullopt, Vip::charon_asks);
    Ikev2::Config config = charon.tapsec_config(Role::server, false);
    config.address_pool = ikev2::AddressPool::parse("10.202.0.0/30");
    config.pool_dns = {{10, 202, 0, 53}};
    auto udp = test::inside(charon.tapsec_ns, [&] { return Udp::bind("10.99.0.2", 4500, Endpoint{}); });
    REQUIRE(udp.ok());
    Ikev2 conn(Role::server, config, std::move(*udp));
    test::Process initiate(charon.ns.exec({"swanctl", "--initiate", "--child", "net", "--timeout", "20", "--uri",
                                           "unix://" + charon.dir.file("charon.vici")}),
                           charon.dir.file("initiate.log"));
    auto ec = conn.handshake();
    REQUIRE_MESSAGE(!ec, ec.message() << "; charon log:\n" << charon.log());
    CHECK_MESSAGE(initiate.wait(15s) == 0, test::read_file(charon.dir.file("initiate.log")) << charon.log());
    CHECK(ikev2::to_string(conn.engine().remote_selector()) == "10.202.0.1-10.202.0.1");
    CHECK(config.address_pool->in_use() == 1);
    CHECK_MESSAGE(charon.log().find("installing new virtual IP 10.202.0.1") != std::string::npos, charon.log());
    CHECK_MESSAGE(charon.log().find("installing DNS server 10.202.0.53") != std::string::npos, charon.log());
    exchange_datagrams(charon, conn, "10.200.2.1", "10.202.0.1");
    close_from_tapsec(conn);
}


TEST_CASE("strongSwan interop, IKE fragmentation (RFC 7383): RSA chains over 1280 octets, IKE_AUTH in fragments both ways, both roles") {
    // RSA-2048 leaves under an RSA CA, and tapsec sends its CA after its leaf: every
    // IKE_AUTH message exceeds charon's and tapsec's default fragment_size (1280 octets
    // of IP datagram), so each side sends SKF fragments and reassembles the other's.
    ikev2_test::IkePki rsa_ca(test::KeyType::rsa2048);
    REQUIRE(rsa_ca.pki.ok());
    struct Row {
        bool charon_initiates;
        const char* charon_fragmentation;  // swanctl's `fragmentation`
    };
    for (const Row row : {Row{false, "yes"}, Row{true, "force"}}) {
        CAPTURE(row.charon_initiates);
        CertificateSetup setup;
        setup.tapsec = rsa_ca.initiator(test::KeyType::rsa2048, "tapsec");
        setup.charon = rsa_ca.responder(test::KeyType::rsa2048, "charon");
        setup.charon_trusts = setup.tapsec_trusts = rsa_ca.pki.ca().certificate;
        setup.charon_rsa_pss = true;
        setup.tapsec_sends_ca = true;
        Charon charon(row.charon_initiates, "aes128gcm16-prfsha256-x25519", "aes128gcm16", setup, Vip::none,
                      std::string("    fragmentation = ") + row.charon_fragmentation + "\n");
        Ikev2 conn = charon.open_tapsec(row.charon_initiates ? Role::server : Role::client);
        std::optional<test::Process> initiate;
        if (row.charon_initiates)
            initiate.emplace(charon.ns.exec({"swanctl", "--initiate", "--child", "net", "--timeout", "20", "--uri",
                                             "unix://" + charon.dir.file("charon.vici")}),
                             charon.dir.file("initiate.log"));
        auto ec = conn.handshake();
        REQUIRE_MESSAGE(!ec, ec.message() << "; charon log:\n" << charon.log());
        if (initiate) CHECK(initiate->wait(15s) == 0);
        const auto& stats = conn.engine().statistics();
        CHECK(conn.engine().fragmentation());
        CHECK_MESSAGE(stats.messages_fragmented == 1, charon.log());   // our IKE_AUTH message
        CHECK_MESSAGE(stats.messages_reassembled == 1, charon.log());  // charon's
        CHECK(stats.fragments_sent >= 2);
        // charon's side of it: it split its IKE_AUTH message and put ours back together.
        CHECK_MESSAGE(charon.log().find("splitting IKE message") != std::string::npos, charon.log());
        CHECK_MESSAGE(charon.log().find("reassembled fragmented IKE message") != std::string::npos, charon.log());
        CHECK(conn.info().peer.subject == "CN=b.test");
        const std::string log = charon.log();
        const auto split = log.find("splitting IKE message");
        MESSAGE("tapsec: " << stats.fragments_sent << " fragments sent, " << stats.fragments_received
                           << " received; charon: " << log.substr(split, log.find('\n', split) - split));
        exchange_datagrams(charon, conn);
        close_from_tapsec(conn);
    }
}

}  // namespace ikev2_strongswan_test
