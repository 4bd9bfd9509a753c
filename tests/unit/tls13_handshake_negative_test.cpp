// TLS 1.3 handshake negative tests: each failure gives a distinct error and the alert
// RFC 8446 prescribes, never a crash or a hang. Two levels: the handshake state
// machines driven message by message (so a Finished or CertificateVerify can be
// altered after it was computed), and whole connections over MemoryStream (so the alert
// really crosses the wire and the peer reports it).
#include <doctest/doctest.h>

#include <future>

#include <tapsec/tapsec.hpp>
#include <tapsec/transport/memory.hpp>

#include "support/pki.hpp"

using namespace tapsec;
using namespace tapsec::tls13;
using Tls = Secure<Tls13Handshake, AeadRecord, MemoryStream>;
using Crypto = crypto::Botan2;

namespace tls13_handshake_negative_test {

struct Pki {
    test::TestPki pki;
    test::CertificateFiles good, wrong_name, expired;
    test::TestPki other;  // an unrelated CA: its leaves are untrusted
    test::CertificateFiles untrusted;
    Pki() {
        REQUIRE(pki.ok());
        REQUIRE(other.ok());
        good = pki.issue("good", test::KeyType::ecdsa_p256);
        wrong_name = pki.issue("wrong", test::KeyType::ecdsa_p256, "elsewhere.example");
        expired = pki.issue("expired", test::KeyType::ecdsa_p256, "localhost", -1);
        untrusted = other.issue("untrusted", test::KeyType::ecdsa_p256);
        REQUIRE(!good.certificate.empty());
        REQUIRE(!wrong_name.certificate.empty());
        REQUIRE(!expired.certificate.empty());
        REQUIRE(!untrusted.certificate.empty());
    }
    Config client() const {
        Config c;
        c.trust.ca_certificates_pem = {pki.ca().certificate_pem()};
        c.server_name = "localhost";
        return c;
    }
    static Config server(const test::CertificateFiles& leaf) {
        Config s;
        s.identity = Identity(leaf.certificate_pem(), leaf.key_pem());
        return s;
    }
};

/// Drives the two handshake state machines directly, message by message. `tamper` may
/// change (or drop, by clearing) each message on its way; returns the first error.
struct Outcome {
    std::error_code client, server;
};
using Tamper = std::function<void(bool from_server, Bytes& message)>;

Outcome run_messages(const Config& client_config, const Config& server_config, const Tamper& tamper = {}) {
    ClientHandshake<Crypto> client(client_config);
    ServerHandshake<Crypto> server(server_config);
    Outcome out;
    if ((out.server = server.start())) return out;
    if ((out.client = client.start({}))) return out;
    for (int round = 0; round < 20; ++round) {
        bool moved = false;
        for (bool from_server : {false, true}) {
            HandshakeCommon<Crypto>& sender = from_server ? static_cast<HandshakeCommon<Crypto>&>(server)
                                                          : static_cast<HandshakeCommon<Crypto>&>(client);
            while (auto a = sender.poll_action()) {
                if (a->kind != Action::Kind::send) continue;
                moved = true;
                Bytes m = a->message;
                if (tamper) tamper(from_server, m);
                if (m.empty()) continue;
                MessageBuffer buffer;
                buffer.add(m);
                auto raw = buffer.next();
                std::error_code ec = !raw ? raw.error() : !*raw ? make_error_code(Error::malformed_handshake_message)
                                          : from_server ? client.handle(**raw) : server.handle(**raw);
                if (ec) {
                    (from_server ? out.client : out.server) = ec;
                    return out;
                }
            }
        }
        if (!moved) break;
    }
    return out;
}

std::pair<std::error_code, std::error_code> connect(Tls& client, Tls& server) {
    auto server_done = std::async(std::launch::async, [&] { return server.handshake(); });
    auto c = client.handshake();
    return {c, server_done.get()};
}

/// A connection whose client fails: returns {client error, what the server saw}.
std::pair<std::error_code, std::error_code> failing_connection(const Config& client_config, const Config& server_config) {
    auto [a, b] = MemoryStream::pair();
    Tls client(Role::client, client_config, std::move(a));
    Tls server(Role::server, server_config, std::move(b));
    return connect(client, server);
}


TEST_CASE("TLS 1.3 negative: altered Finished and CertificateVerify give decrypt_error-class errors") {
    Pki p;
    const auto client = p.client();
    const auto server = Pki::server(p.good);
    SUBCASE("a clean run completes") {
        auto o = run_messages(client, server);
        CHECK_FALSE(o.client);
        CHECK_FALSE(o.server);
    }
    SUBCASE("server Finished altered") {
        auto o = run_messages(client, server, [](bool from_server, Bytes& m) {
            if (from_server && m[0] == static_cast<std::uint8_t>(HandshakeType::finished)) m.back() ^= 1;
        });
        CHECK(o.client == make_error_code(Error::bad_finished));
        CHECK(alert_for(o.client) == AlertDescription::decrypt_error);
    }
    SUBCASE("client Finished altered") {
        auto o = run_messages(client, server, [](bool from_server, Bytes& m) {
            if (!from_server && m[0] == static_cast<std::uint8_t>(HandshakeType::finished)) m[5] ^= 0x80;
        });
        CHECK(o.server == make_error_code(Error::bad_finished));
    }
    SUBCASE("CertificateVerify signature altered") {
        auto o = run_messages(client, server, [](bool from_server, Bytes& m) {
            if (from_server && m[0] == static_cast<std::uint8_t>(HandshakeType::certificate_verify)) m.back() ^= 1;
        });
        CHECK(o.client == make_error_code(Error::bad_certificate_verify));
        CHECK(alert_for(o.client) == AlertDescription::decrypt_error);
    }
    SUBCASE("CertificateVerify with a scheme we never offered (PKCS#1 v1.5)") {
        auto o = run_messages(client, server, [](bool from_server, Bytes& m) {
            if (from_server && m[0] == static_cast<std::uint8_t>(HandshakeType::certificate_verify)) {
                m[4] = 0x04;
                m[5] = 0x01;
            }
        });
        CHECK(o.client == make_error_code(Error::bad_certificate_verify));
    }
}

TEST_CASE("TLS 1.3 negative: messages out of order, malformed, oversized") {
    Pki p;
    const auto client = p.client();
    const auto server = Pki::server(p.good);
    SUBCASE("EncryptedExtensions dropped: Certificate arrives first") {
        auto o = run_messages(client, server, [](bool from_server, Bytes& m) {
            if (from_server && m[0] == static_cast<std::uint8_t>(HandshakeType::encrypted_extensions)) m.clear();
        });
        CHECK(o.client == make_error_code(Error::unexpected_handshake_message));
        CHECK(alert_for(o.client) == AlertDescription::unexpected_message);
    }
    SUBCASE("CertificateVerify dropped: Finished arrives first") {
        auto o = run_messages(client, server, [](bool from_server, Bytes& m) {
            if (from_server && m[0] == static_cast<std::uint8_t>(HandshakeType::certificate_verify)) m.clear();
        });
        CHECK(o.client == make_error_code(Error::unexpected_handshake_message));
    }
    SUBCASE("a second ClientHello-type message to the client") {
        auto o = run_messages(client, server, [](bool from_server, Bytes& m) {
            if (from_server && m[0] == static_cast<std::uint8_t>(HandshakeType::encrypted_extensions))
                m[0] = static_cast<std::uint8_t>(HandshakeType::client_hello);
        });
        CHECK(o.client == make_error_code(Error::unexpected_handshake_message));
    }
    SUBCASE("a truncated ServerHello body") {
        auto o = run_messages(client, server, [](bool from_server, Bytes& m) {
            if (from_server && m[0] == static_cast<std::uint8_t>(HandshakeType::server_hello)) {
                m.resize(40);
                m[1] = 0;
                m[2] = 0;
                m[3] = 36;
            }
        });
        CHECK(o.client == make_error_code(Error::malformed_handshake_message));
        CHECK(alert_for(o.client) == AlertDescription::decode_error);
    }
    SUBCASE("a handshake message declaring more than the default ceiling (the largest ClientHello)") {
        MessageBuffer buffer;
        static_assert(largest_client_hello + 1 == 0x020145);
        const Bytes header{static_cast<std::uint8_t>(HandshakeType::certificate), 0x02, 0x01, 0x45};
        buffer.add(header);
        auto r = buffer.next();
        REQUIRE_FALSE(r.ok());
        CHECK(r.error() == make_error_code(Error::handshake_message_too_large));
    }
    SUBCASE("duplicate extensions are refused") {
        ClientHello ch;
        ch.supported_versions = {tls13_version};
        ch.cipher_suites = {0x1301};
        Bytes m = encode(ch);
        // Append a second supported_versions extension by hand.
        const Bytes dup{0x00, 0x2b, 0x00, 0x03, 0x02, 0x03, 0x04};
        m.insert(m.end(), dup.begin(), dup.end());
        const std::size_t ext_len_at = 4 + 2 + 32 + 1 + 2 + 2 + 2;
        const std::size_t ext_len = (std::size_t{m[ext_len_at]} << 8 | m[ext_len_at + 1]) + dup.size();
        m[ext_len_at] = static_cast<std::uint8_t>(ext_len >> 8);
        m[ext_len_at + 1] = static_cast<std::uint8_t>(ext_len);
        CHECK_FALSE(decode_client_hello(ByteView(m).subspan(4)).ok());
    }
}

TEST_CASE("TLS 1.3 negative: downgrade sentinel and non-TLS 1.3 servers") {
    Pki p;
    const auto client = p.client();
    const auto server = Pki::server(p.good);
    for (std::uint8_t last : {std::uint8_t{1}, std::uint8_t{0}}) {
        auto o = run_messages(client, server, [last](bool from_server, Bytes& m) {
            if (!from_server || m[0] != static_cast<std::uint8_t>(HandshakeType::server_hello)) return;
            // Rewrite as a TLS 1.2 ServerHello (no supported_versions) with the sentinel.
            auto sh = decode_server_hello(ByteView(m).subspan(4));
            REQUIRE(sh.ok());
            Bytes body;
            wire::Writer w(body);
            w.u16(0x0303);
            std::copy(downgrade_sentinel_prefix.begin(), downgrade_sentinel_prefix.end(), sh->random.begin() + 24);
            sh->random[31] = last;
            w.bytes(sh->random);
            w.prefixed(1, sh->legacy_session_id_echo);
            w.u16(0xc02f);
            w.u8(0);
            m = frame(HandshakeType::server_hello, body);
        });
        CHECK(o.client == make_error_code(Error::downgrade_detected));
        CHECK(alert_for(o.client) == AlertDescription::illegal_parameter);
    }
    // Without the sentinel: plainly a server without TLS 1.3.
    auto o = run_messages(client, server, [](bool from_server, Bytes& m) {
        if (!from_server || m[0] != static_cast<std::uint8_t>(HandshakeType::server_hello)) return;
        auto sh = decode_server_hello(ByteView(m).subspan(4));
        Bytes body;
        wire::Writer w(body);
        w.u16(0x0303);
        w.bytes(sh->random);
        w.prefixed(1, sh->legacy_session_id_echo);
        w.u16(0xc02f);
        w.u8(0);
        m = frame(HandshakeType::server_hello, body);
    });
    CHECK(o.client == make_error_code(Error::protocol_version_mismatch));
}

TEST_CASE("TLS 1.3 negative: certificate failures reach both ends as distinct errors and alerts") {
    Pki p;
    struct Case {
        const test::CertificateFiles* leaf;
        std::error_code client_error;
        AlertDescription alert;
    };
    const Case cases[] = {
        {&p.wrong_name, make_error_code(Errc::certificate_name_mismatch), AlertDescription::bad_certificate},
        {&p.expired, make_error_code(Errc::certificate_expired), AlertDescription::certificate_expired},
        {&p.untrusted, make_error_code(Errc::certificate_untrusted), AlertDescription::unknown_ca},
    };
    for (const auto& c : cases) {
        CAPTURE(c.leaf->certificate);
        std::error_code client_error, server_error;  // not a structured binding: clang 14 cannot capture one in CHECK_MESSAGE's lambda
        std::tie(client_error, server_error) = failing_connection(p.client(), Pki::server(*c.leaf));
        CHECK(client_error == c.client_error);
        CHECK(server_error == peer_alert_error(c.alert));
    }
    // The application's validator rejecting a valid certificate: access_denied.
    auto client = p.client();
    client.validate_peer = [](const PeerIdentity&) { return make_error_code(Errc::peer_rejected_by_application); };
    std::error_code client_error, server_error;
    std::tie(client_error, server_error) = failing_connection(client, Pki::server(p.good));
    CHECK(client_error == make_error_code(Errc::peer_rejected_by_application));
    CHECK(server_error == peer_alert_error(AlertDescription::access_denied));
    // Mutual authentication required, no client certificate: certificate_required.
    auto server = Pki::server(p.good);
    server.require_client_certificate = true;
    server.trust.ca_certificates_pem = {p.pki.ca().certificate_pem()};
    std::error_code c2, s2;
    std::tie(c2, s2) = failing_connection(p.client(), server);
    CHECK(s2 == make_error_code(Error::certificate_required));
    (void)c2;  // the client finished its flight; it learns of the alert on its next read
}

TEST_CASE("TLS 1.3 negative: the parsed trust store follows the configuration it was parsed from") {
    // The anchors are parsed once and shared by copies of a Config (handshake speed);
    // a copy given another CA must not validate against the cached one, and back.
    Pki p;
    const auto server = Pki::server(p.good);
    auto client = p.client();
    std::error_code ok_client, ok_server;
    std::tie(ok_client, ok_server) = failing_connection(client, server);
    CHECK_FALSE(ok_client);
    CHECK_FALSE(ok_server);
    auto other_ca = client;  // shares the parsed-trust slot
    other_ca.trust.ca_certificates_pem = {p.other.ca().certificate_pem()};
    std::error_code untrusted_client, untrusted_server;
    std::tie(untrusted_client, untrusted_server) = failing_connection(other_ca, server);
    CHECK(untrusted_client == make_error_code(Errc::certificate_untrusted));
    CHECK(untrusted_server == peer_alert_error(AlertDescription::unknown_ca));
    std::error_code again_client, again_server;
    std::tie(again_client, again_server) = failing_connection(client, server);
    CHECK_FALSE(again_client);
    CHECK_FALSE(again_server);
    auto wrong_name = client;
    wrong_name.server_name = "elsewhere.example";
    std::error_code name_client, name_server;
    std::tie(name_client, name_server) = failing_connection(wrong_name, server);
    CHECK(name_client == make_error_code(Errc::certificate_name_mismatch));
    (void)name_server;
}

TEST_CASE("TLS 1.3: a self-signed server certificate given as its own CA file (openssl req -x509)") {
    test::TempDir dir;
    const auto key = dir.file("self.key"), crt = dir.file("self.crt");
    REQUIRE(test::run("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout " + key + " -out " +
                      crt + " -days 30 -subj /CN=localhost >/dev/null 2>&1") == 0);
    Config server;
    server.identity = Identity(test::read_file(crt), test::read_file(key));
    Config client;
    client.server_name = "localhost";
    client.trust.ca_certificates_pem = {test::read_file(crt)};
    std::error_code trusted_client, trusted_server;
    std::tie(trusted_client, trusted_server) = failing_connection(client, server);
    CHECK_MESSAGE(!trusted_client, trusted_client.message());
    CHECK_FALSE(trusted_server);
    client.server_name = "other.example";  // the name is still checked
    std::error_code name_client, name_server;
    std::tie(name_client, name_server) = failing_connection(client, server);
    CHECK(name_client == make_error_code(Errc::certificate_name_mismatch));
    (void)name_server;
    Pki p;  // another certificate as the anchor: untrusted
    auto other = p.client();
    std::error_code untrusted_client, untrusted_server;
    std::tie(untrusted_client, untrusted_server) = failing_connection(other, server);
    CHECK(untrusted_client == make_error_code(Errc::certificate_untrusted));
    (void)untrusted_server;
}

TEST_CASE("TLS 1.3 negative: tampered record, truncation, data after close") {
    Pki p;
    SUBCASE("a flipped bit in an application record: bad_record_mac, alert to the peer") {
        auto [a, b] = MemoryStream::pair();
        // A relay between client and server that flips one ciphertext bit of the first
        // application record the client sends after the handshake.
        auto [c_end, relay_in] = MemoryStream::pair();
        Tls client(Role::client, p.client(), std::move(c_end));
        Tls server(Role::server, Pki::server(p.good), std::move(b));
        std::atomic<bool> tamper{false};
        std::atomic<bool> stop{false};
        auto relay = std::async(std::launch::async, [&, in = std::move(relay_in), out = std::move(a)]() mutable {
            Bytes buffer(70000);
            while (!stop) {
                auto n = in.read_some(buffer, Clock::now() + std::chrono::milliseconds(20));
                if (n && *n > 0) {
                    if (tamper.exchange(false)) buffer[*n - 3] ^= 1;
                    out.write_all(ByteView(buffer.data(), *n));
                }
                auto m = out.read_some(buffer, Clock::now() + std::chrono::milliseconds(20));
                if (m && *m > 0) in.write_all(ByteView(buffer.data(), *m));
            }
        });
        std::error_code ce, se;
        std::tie(ce, se) = connect(client, server);
        REQUIRE_FALSE(ce);
        REQUIRE_FALSE(se);
        tamper = true;
        REQUIRE_FALSE(client.send(as_bytes("this record will be altered")));
        auto got = server.receive_message(std::chrono::seconds(5));
        REQUIRE_FALSE(got.ok());
        CHECK(got.error() == make_error_code(Error::bad_record_mac));
        auto seen = client.receive_message(std::chrono::seconds(5));
        REQUIRE_FALSE(seen.ok());
        CHECK(seen.error() == peer_alert_error(AlertDescription::bad_record_mac));
        stop = true;
        relay.get();
    }
    SUBCASE("the stream ends without close_notify: Errc::truncated") {
        auto [a, b] = MemoryStream::pair();
        Tls client(Role::client, p.client(), std::move(a));
        Tls server(Role::server, Pki::server(p.good), std::move(b));
        std::error_code ce, se;
        std::tie(ce, se) = connect(client, server);
        REQUIRE_FALSE(ce);
        REQUIRE_FALSE(se);
        server.transport().close();  // no close_notify
        auto r = client.receive_message(std::chrono::seconds(5));
        REQUIRE_FALSE(r.ok());
        CHECK(r.error() == make_error_code(Errc::truncated));
    }
    SUBCASE("the stream ends in the middle of the handshake: Errc::truncated") {
        auto [a, b] = MemoryStream::pair();
        Tls client(Role::client, p.client(), std::move(a));
        b.close();
        CHECK(client.handshake() == make_error_code(Errc::truncated));
    }
    SUBCASE("clean close: the reader sees the end, sending after close is refused") {
        auto [a, b] = MemoryStream::pair();
        Tls client(Role::client, p.client(), std::move(a));
        Tls server(Role::server, Pki::server(p.good), std::move(b));
        std::error_code ce, se;
        std::tie(ce, se) = connect(client, server);
        REQUIRE_FALSE(ce);
        REQUIRE_FALSE(se);
        CHECK_FALSE(client.close());
        auto r = server.receive_message(std::chrono::seconds(5));
        REQUIRE(r.ok());
        CHECK(r->empty());
        CHECK(client.send(as_bytes("late")));
    }
}

TEST_CASE("TLS 1.3 negative: garbage instead of a ClientHello, never a crash or a hang") {
    for (std::uint8_t first : {std::uint8_t{0x16}, std::uint8_t{0x17}, std::uint8_t{0x15}, std::uint8_t{0x47}}) {
        auto [a, b] = MemoryStream::pair();
        Config server;
        server.pre_shared_keys.push_back({"id", SecretBytes(32, 1)});
        Tls s(Role::server, server, std::move(b));
        Bytes junk{first, 0x03, 0x01, 0x00, 0x08, 1, 0, 0, 4, 0xde, 0xad, 0xbe, 0xef};
        a.write_all(junk);
        a.close();
        auto ec = s.handshake();
        CHECK(ec);
        CHECK(ec != make_error_code(Errc::timed_out));
    }
}

TEST_CASE("TLS 1.3 0-RTT anti-replay: single use, forgotten in expiry order, bounded") {
    AntiReplay store(3);
    const Bytes a{1}, b{2}, c{3}, d{4};
    // Expiry times out of insertion order: b expires first, then a, then c.
    CHECK(store.check(a, 2000, 0) == AntiReplay::Verdict::first_use);
    CHECK(store.check(b, 1000, 0) == AntiReplay::Verdict::first_use);
    CHECK(store.check(c, 3000, 0) == AntiReplay::Verdict::first_use);
    CHECK(store.check(a, 2000, 10) == AntiReplay::Verdict::replayed);
    // Full: a fourth live ticket is refused rather than a live one forgotten.
    CHECK(store.check(d, 4000, 10) == AntiReplay::Verdict::store_full);
    CHECK(store.size() == 3);
    // Past b's expiry only b goes; a and c are still single-use.
    CHECK(store.check(d, 4000, 1500) == AntiReplay::Verdict::first_use);
    CHECK(store.size() == 3);
    CHECK(store.check(a, 2000, 1500) == AntiReplay::Verdict::replayed);
    CHECK(store.check(c, 3000, 1500) == AntiReplay::Verdict::replayed);
    // Past a's and c's expiry both go, d stays.
    CHECK(store.check(b, 5000, 3500) == AntiReplay::Verdict::first_use);
    CHECK(store.size() == 2);
    CHECK_FALSE(store.first_use(d, 4000, 3500));
    // Many tickets expiring in turn keep the store at the live ones only.
    AntiReplay big;
    for (std::uint64_t i = 0; i < 20000; ++i) {
        const Bytes id{static_cast<std::uint8_t>(i >> 8), static_cast<std::uint8_t>(i), 0x55};
        REQUIRE(big.first_use(id, i + 100, i));
    }
    CHECK(big.size() <= 101);
}

TEST_CASE("TLS 1.3 negative: duplicate extensions found however far apart, in O(n log n)") {
    // A ClientHello whose extension block holds 16000 distinct unknown extensions (the
    // most a 64 KiB block allows), then the same with its first type repeated at the end.
    auto hello_with = [](std::size_t count, bool repeat_first) {
        ClientHello ch;
        ch.cipher_suites = {0x1301};
        ch.supported_versions = {tls13_version};
        Bytes body;
        wire::Writer w(body);
        w.u16(legacy_tls12_version);
        w.bytes(ch.random);
        w.prefixed(1, {});
        w.prefixed(2, Bytes{0x13, 0x01});
        w.u8(1);
        w.u8(0);
        const auto at = w.begin_prefixed(2);
        for (std::size_t i = 0; i < count; ++i) {
            w.u16(static_cast<std::uint16_t>(0x1000 + i));
            w.u16(0);
        }
        if (repeat_first) {
            w.u16(0x1000);
            w.u16(0);
        }
        w.end_prefixed(at, 2);
        return body;
    };
    const auto distinct = hello_with(16000, false);
    const auto started = std::chrono::steady_clock::now();
    auto ok = decode_client_hello(distinct);
    const auto took = std::chrono::steady_clock::now() - started;
    REQUIRE(ok.ok());
    CHECK(ok->extensions.size() == 16000);
    MESSAGE("16000 extensions decoded in " << std::chrono::duration_cast<std::chrono::microseconds>(took).count() << " us");
    auto dup = decode_client_hello(hello_with(15999, true));
    REQUIRE_FALSE(dup.ok());
    CHECK(dup.error() == Error::malformed_handshake_message);
    // The same rule in every extension list: EncryptedExtensions, and key_share groups.
    CHECK_FALSE(decode_encrypted_extensions(Bytes{0x00, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00}).ok());
    ClientHello two_shares;
    two_shares.cipher_suites = {0x1301};
    two_shares.supported_versions = {tls13_version};
    two_shares.key_shares = std::vector<KeyShareEntry>{{group::x25519, Bytes(32, 1)}, {group::secp256r1, Bytes(65, 4)},
                                                       {group::x25519, Bytes(32, 2)}};
    const Bytes encoded = encode(two_shares);
    CHECK_FALSE(decode_client_hello(ByteView(encoded).subspan(4)).ok());
}

TEST_CASE("TLS 1.3: a server whose key is not its certificate's refuses to start (Errc::private_key_mismatch)") {
    test::TestPki pki;
    REQUIRE(pki.ok());
    for (auto type : {test::KeyType::ecdsa_p256, test::KeyType::ed25519, test::KeyType::rsa2048}) {
        CAPTURE(static_cast<int>(type));
        const auto leaf = pki.issue("leaf" + std::to_string(static_cast<int>(type)), type);
        const auto other = pki.issue("other" + std::to_string(static_cast<int>(type)), type);
        Config good, bad;
        good.identity = Identity(leaf.certificate_pem(), leaf.key_pem());
        bad.identity = Identity(leaf.certificate_pem(), other.key_pem());
        CHECK_FALSE(ServerHandshake<Crypto>(good).start());
        const auto ec = ServerHandshake<Crypto>(bad).start();
        CHECK(ec == make_error_code(Errc::private_key_mismatch));
        CHECK(ec == condition::configuration);
    }
}

TEST_CASE("certificate names: IPv4 and IPv6 iPAddress SANs, DNS names and wildcards (RFC 6125)") {
    test::TestPki pki;
    REQUIRE(pki.ok());
    const std::string sans = "IP:127.0.0.1,IP:::1,IP:2001:db8::7,DNS:localhost,DNS:*.example.test";
    const auto issued = pki.issue("names", test::KeyType::ecdsa_p256, "localhost", 30, sans);
    REQUIRE_FALSE(issued.certificate.empty());
    // The same names on a self-signed certificate given as its own trust anchor (a
    // different code path: Botan refuses such a leaf, tapsec checks it itself).
    test::TempDir dir;
    const std::string self_key = dir.file("self.key"), self_crt = dir.file("self.crt");
    REQUIRE(test::run("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout " + self_key +
                      " -out " + self_crt + " -days 3 -subj /CN=self -addext 'subjectAltName=" + sans + "'" +
                      " >/dev/null 2>&1") == 0);
    struct Case {
        const char* name;
        bool matches;
    };
    const std::vector<Case> cases = {
        {"127.0.0.1", true},     {"127.0.0.2", false},          {"::1", true},
        {"0:0:0:0:0:0:0:1", true}, {"::2", false},              {"2001:db8::7", true},
        {"2001:DB8:0::7", true},   {"2001:db8::8", false},      {"::ffff:127.0.0.1", false},  // v4-mapped is another address
        {"localhost", true},       {"host.example.test", true}, {"example.test", false},
        {"a.b.example.test", false},                            // one label per wildcard
    };
    for (const auto& [leaf_pem, anchor_pem] : {std::pair{issued.certificate_pem(), pki.ca().certificate_pem()},
                                               std::pair{test::read_file(self_crt), test::read_file(self_crt)}}) {
        auto chain = Crypto::Certificate::chain_from_pem(leaf_pem);
        REQUIRE(chain);
        TrustStore trust;
        trust.ca_certificates_pem = {anchor_pem};
        for (const auto& c : cases) {
            CAPTURE(c.name);
            const auto ec = Crypto::validate_chain({chain->front().der()}, trust, c.name, std::chrono::system_clock::now());
            if (c.matches) CHECK_FALSE(ec);
            else CHECK(ec == make_error_code(Errc::certificate_name_mismatch));
        }
    }
}

}  // namespace tls13_handshake_negative_test
