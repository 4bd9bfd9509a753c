// TLS 1.2 through Botan: the engine driven in memory (no sockets, no threads), with
// a PKI made at run time. Positive paths (suite, group, ALPN, SNI, mutual auth,
// resumption, exporter) and each failure as its own error code.
#include <doctest/doctest.h>

#include <tapsec/tapsec.hpp>

#include "support/botan_tls_fixture.hpp"

using namespace tapsec;
using Engine = botan_tls::ChannelEngine<botan_tls::Carrier::stream>;

namespace tls12_engine_test {

using Pki = test::BotanTlsPki;

/// Moves everything one engine wants to send into the other; `tamper` may change it.
std::error_code deliver(Engine& from, Engine& to, const std::function<void(Bytes&)>& tamper = {}) {
    while (auto t = from.poll_transmit()) {
        if (tamper) tamper(t->data);
        if (auto ec = to.receive(t->data, Endpoint{}, Clock::now())) return ec;
    }
    return {};
}

struct Outcome {
    std::error_code client, server;
};

/// Runs a handshake to completion or the first error on either side.
Outcome handshake(Engine& client, Engine& server) {
    Outcome o;
    o.client = client.start(Clock::now());
    if (!o.client) o.server = server.start(Clock::now());
    for (int round = 0; round < 20 && !o.client && !o.server; ++round) {
        o.server = deliver(client, server);
        if (o.server) {
            o.client = deliver(server, client);  // the alert
            break;
        }
        o.client = deliver(server, client);
        if (o.client) {
            o.server = deliver(client, server);
            break;
        }
        if (client.is_established() && server.is_established()) break;
    }
    return o;
}

Bytes text(std::string_view s) { return Bytes(s.begin(), s.end()); }


TEST_CASE("tls12: handshake, echo, negotiated suite, group, ALPN and SNI") {
    Pki p;
    REQUIRE(p.pki.ok());
    auto cc = p.client_config();
    cc.alpn = {"h2", "http/1.1"};
    auto sc = p.server_config();
    sc.alpn = {"http/1.1"};
    Engine client(Role::client, cc), server(Role::server, sc);
    auto o = handshake(client, server);
    REQUIRE_MESSAGE(!o.client, o.client.message());
    REQUIRE_MESSAGE(!o.server, o.server.message());
    REQUIRE(client.is_established());
    REQUIRE(server.is_established());
    CHECK(client.session_info().protocol == "TLS 1.2");
    CHECK(client.session_info().cipher_suite.find("ECDHE_ECDSA") != std::string::npos);
    CHECK(client.session_info().group == "x25519");
    CHECK(server.session_info().group == "x25519");
    CHECK(client.session_info().alpn == "http/1.1");
    CHECK(server.session_info().alpn == "http/1.1");
    CHECK(server.session_info().server_name == "localhost");
    CHECK(client.session_info().peer.authenticated);
    CHECK(client.session_info().peer.subject.find("localhost") != std::string::npos);

    REQUIRE(!client.send(text("ping"), Clock::now()));
    REQUIRE(!deliver(client, server));
    auto got = server.poll_application_data();
    REQUIRE(got);
    CHECK(*got == text("ping"));

    // clean close: close_notify, then end of stream is not a truncation
    REQUIRE(!client.close(Clock::now()));
    REQUIRE(!deliver(client, server));
    CHECK(server.is_closed());
    CHECK(!server.receive({}, Endpoint{}, Clock::now()));
}

TEST_CASE("tls12: configured groups and suites are what gets negotiated") {
    Pki p;
    auto cc = p.client_config();
    cc.groups = {"secp256r1"};
    cc.cipher_suites = {"TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256"};
    Engine client(Role::client, cc), server(Role::server, p.server_config());
    auto o = handshake(client, server);
    REQUIRE_MESSAGE(!o.client, o.client.message());
    CHECK(client.session_info().group == "secp256r1");
    CHECK(client.session_info().cipher_suite == "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256");

    auto bad = p.client_config();
    bad.groups = {"curve9000"};
    Engine rejected(Role::client, bad);
    CHECK(rejected.start(Clock::now()) == Errc::unsupported_algorithm);
}

TEST_CASE("tls12: keying-material export (RFC 5705) agrees on both sides") {
    Pki p;
    Engine client(Role::client, p.client_config()), server(Role::server, p.server_config());
    CHECK(client.export_keying_material("EXPERIMENTAL-x", {}, 32).error() == Errc::not_connected);
    REQUIRE(!handshake(client, server).client);
    auto a = client.export_keying_material("EXPERIMENTAL-tapsec", {}, 48);
    auto b = server.export_keying_material("EXPERIMENTAL-tapsec", {}, 48);
    REQUIRE(a);
    REQUIRE(b);
    CHECK(a->size() == 48);
    CHECK(*a == *b);
    const Bytes context{1, 2, 3};
    auto c = client.export_keying_material("EXPERIMENTAL-tapsec", context, 48);
    REQUIRE(c);
    CHECK(*c != *a);
}

TEST_CASE("tls12: mutual authentication") {
    Pki p;
    auto sc = p.server_config();
    sc.require_client_certificate = true;
    sc.trust.ca_certificates_pem = {p.pki.ca().certificate_pem()};

    SUBCASE("client without a certificate is refused") {
        Engine client(Role::client, p.client_config()), server(Role::server, sc);
        auto o = handshake(client, server);
        CHECK(o.server);
        CHECK(o.client);  // the server's alert
        CHECK_FALSE(server.is_established());
    }
    SUBCASE("client certificate from the trusted CA is accepted and reported") {
        auto cc = p.client_config();
        cc.identity = {p.client.certificate_pem(), p.client.key_pem()};
        Engine client(Role::client, cc), server(Role::server, sc);
        auto o = handshake(client, server);
        REQUIRE_MESSAGE(!o.server, o.server.message());
        REQUIRE(server.is_established());
        CHECK(server.session_info().peer.authenticated);
        CHECK(server.session_info().peer.subject.find("alice") != std::string::npos);
        CHECK(server.session_info().peer.certificate_chain_der.size() == 1);
    }
    SUBCASE("client certificate from another CA is untrusted") {
        test::TestPki other;
        auto stranger = other.issue("stranger");
        auto cc = p.client_config();
        cc.identity = {stranger.certificate_pem(), stranger.key_pem()};
        Engine client(Role::client, cc), server(Role::server, sc);
        auto o = handshake(client, server);
        CHECK(o.server == Errc::certificate_untrusted);
        // Botan's server rewraps any client-chain failure as bad_certificate on the wire
        CHECK(o.client == botan_tls::peer_alert_error(Botan::TLS::Alert::BAD_CERTIFICATE));
    }
}

TEST_CASE("tls12: certificate failures are distinct errors") {
    Pki p;
    SUBCASE("untrusted CA") {
        test::TestPki other;
        auto cc = p.client_config();
        cc.trust.ca_certificates_pem = {other.ca().certificate_pem()};
        Engine client(Role::client, cc), server(Role::server, p.server_config());
        auto o = handshake(client, server);
        CHECK(o.client == Errc::certificate_untrusted);
        CHECK(o.server == botan_tls::peer_alert_error(Botan::TLS::Alert::UNKNOWN_CA));
    }
    SUBCASE("wrong host name") {
        auto cc = p.client_config();
        cc.server_name = "example.org";
        Engine client(Role::client, cc), server(Role::server, p.server_config());
        auto o = handshake(client, server);
        CHECK(o.client == Errc::certificate_name_mismatch);
        CHECK(o.client != Errc::certificate_untrusted);
    }
    SUBCASE("IP address checked against the certificate's IP SAN") {
        auto cc = p.client_config();
        cc.server_name = "127.0.0.1";
        Engine client(Role::client, cc), server(Role::server, p.server_config());
        CHECK(!handshake(client, server).client);
        cc.server_name = "127.0.0.2";
        Engine client2(Role::client, cc), server2(Role::server, p.server_config());
        CHECK(handshake(client2, server2).client == Errc::certificate_name_mismatch);
    }
    SUBCASE("expired certificate") {
        auto old = p.pki.issue("old", test::KeyType::ecdsa_p256, "localhost", -1);
        REQUIRE(!old.certificate.empty());
        auto sc = p.server_config();
        sc.identity = {old.certificate_pem(), old.key_pem()};
        Engine client(Role::client, p.client_config()), server(Role::server, sc);
        CHECK(handshake(client, server).client == Errc::certificate_expired);
    }
    SUBCASE("no trust anchors is a configuration error, not a silent accept") {
        auto cc = p.client_config();
        cc.trust = {};
        Engine client(Role::client, cc);
        CHECK(client.start(Clock::now()) == Errc::invalid_configuration);
    }
}

TEST_CASE("tls12: identity validation callback and authentication delegation") {
    Pki p;
    SUBCASE("the application vetoes a valid certificate") {
        auto cc = p.client_config();
        std::string seen;
        cc.validate_peer = [&](const PeerIdentity& peer) -> std::error_code {
            seen = peer.subject;
            return Errc::peer_rejected_by_application;
        };
        Engine client(Role::client, cc), server(Role::server, p.server_config());
        CHECK(handshake(client, server).client == Errc::peer_rejected_by_application);
        CHECK(seen.find("localhost") != std::string::npos);
    }
    SUBCASE("delegated: no CA, the callback alone decides (pinning the leaf)") {
        const auto pinned = p.server.certificate_pem();
        auto cc = p.client_config();
        cc.trust = {};
        cc.delegate_authentication = true;
        int calls = 0;
        cc.validate_peer = [&](const PeerIdentity& peer) -> std::error_code {
            ++calls;
            auto leaf = botan_tls::parse_certificates(pinned);
            if (!leaf || peer.certificate_chain_der.empty() || leaf->front().BER_encode() != peer.certificate_chain_der[0])
                return Errc::peer_rejected_by_application;
            return {};
        };
        Engine client(Role::client, cc), server(Role::server, p.server_config());
        auto o = handshake(client, server);
        CHECK_MESSAGE(!o.client, o.client.message());
        CHECK(calls == 1);
        CHECK(client.session_info().peer.authenticated);
    }
    SUBCASE("delegation without a callback is refused") {
        auto cc = p.client_config();
        cc.delegate_authentication = true;
        Engine client(Role::client, cc);
        CHECK(client.start(Clock::now()) == Errc::invalid_configuration);
    }
}

TEST_CASE("tls12: session resumption through the application's session cache") {
    Pki p;
    auto client_cache = std::make_shared<InMemorySessionCache>();
    auto server_cache = std::make_shared<InMemorySessionCache>();
    auto cc = p.client_config();
    cc.session_cache = client_cache;
    cc.server_port = 443;
    auto sc = p.server_config();
    sc.session_cache = server_cache;
    {
        Engine client(Role::client, cc), server(Role::server, sc);
        REQUIRE(!handshake(client, server).client);
        CHECK_FALSE(client.session_info().resumed);
        bool stored = false;
        while (auto e = client.poll_event()) stored |= e->kind == EventKind::session_ticket;
        CHECK(stored);
    }
    CHECK(client_cache->size() == 1);
    {
        Engine client(Role::client, cc), server(Role::server, sc);
        auto o = handshake(client, server);
        REQUIRE_MESSAGE(!o.client, o.client.message());
        CHECK(client.session_info().resumed);
        CHECK(server.session_info().resumed);
        // the resumed session still knows who the peer is
        CHECK(client.session_info().peer.subject.find("localhost") != std::string::npos);
        auto a = client.export_keying_material("EXPERIMENTAL-r", {}, 16);
        auto b = server.export_keying_material("EXPERIMENTAL-r", {}, 16);
        REQUIRE(a);
        CHECK(*a == *b);
    }
    // a different server port is a different cache entry: full handshake
    cc.server_port = 444;
    Engine client(Role::client, cc), server(Role::server, sc);
    REQUIRE(!handshake(client, server).client);
    CHECK_FALSE(client.session_info().resumed);
}

TEST_CASE("tls12: tampered record, truncation, ALPN mismatch and bad configuration") {
    Pki p;
    SUBCASE("a flipped ciphertext bit is a bad record MAC") {
        Engine client(Role::client, p.client_config()), server(Role::server, p.server_config());
        REQUIRE(!handshake(client, server).client);
        REQUIRE(!client.send(text("secret"), Clock::now()));
        auto ec = deliver(client, server, [](Bytes& record) { record.back() ^= 0x01; });
        CHECK(ec == Errc::bad_record_mac);
        CHECK(server.is_closed());
        CHECK_FALSE(server.poll_application_data());
        // the server told the client why
        CHECK(deliver(server, client) == botan_tls::peer_alert_error(Botan::TLS::Alert::BAD_RECORD_MAC));
    }
    SUBCASE("end of stream without close_notify is a truncation") {
        Engine client(Role::client, p.client_config()), server(Role::server, p.server_config());
        REQUIRE(!handshake(client, server).client);
        CHECK(server.receive({}, Endpoint{}, Clock::now()) == Errc::truncated);
    }
    SUBCASE("end of stream during the handshake") {
        Engine client(Role::client, p.client_config());
        REQUIRE(!client.start(Clock::now()));
        CHECK(client.receive({}, Endpoint{}, Clock::now()) == Errc::handshake_failure);
    }
    SUBCASE("garbage instead of a TLS record") {
        Engine server(Role::server, p.server_config());
        REQUIRE(!server.start(Clock::now()));
        const Bytes junk = text("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
        auto ec = server.receive(junk, Endpoint{}, Clock::now());
        CHECK(ec);
        CHECK(ec != Errc::bad_record_mac);
    }
    SUBCASE("no common ALPN protocol") {
        auto cc = p.client_config();
        cc.alpn = {"h2"};
        auto sc = p.server_config();
        sc.alpn = {"imap"};
        Engine client(Role::client, cc), server(Role::server, sc);
        auto o = handshake(client, server);
        CHECK(o.server);
        CHECK(o.client == botan_tls::peer_alert_error(Botan::TLS::Alert::NO_APPLICATION_PROTOCOL));
    }
    SUBCASE("unreadable certificate or key") {
        auto sc = p.server_config();
        sc.identity.certificate_chain_pem = "not a certificate";
        CHECK(Engine(Role::server, sc).start(Clock::now()) == Errc::invalid_certificate);
        sc = p.server_config();
        sc.identity.private_key_pem = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
        CHECK(Engine(Role::server, sc).start(Clock::now()) == Errc::invalid_private_key);
        sc = p.server_config();
        sc.identity.private_key_pem = p.client.key_pem();  // someone else's key
        CHECK(Engine(Role::server, sc).start(Clock::now()) == Errc::invalid_private_key);
    }
}

TEST_CASE("tls12: Secure<Tls12Handshake, Tls12Record, MemoryStream> end to end") {
    using Conn = Secure<Tls12Handshake, Tls12Record, MemoryStream>;
    static_assert(Conn::has<feature::mutual_authentication>);
    static_assert(Conn::has<feature::session_caching>);
    static_assert(!Conn::has<feature::early_data>);
    static_assert(!Conn::has<feature::connection_mobility>);
    Pki p;
    auto [a, b] = MemoryStream::pair();
    Conn client(Role::client, p.client_config(), std::move(a));
    Conn server(Role::server, p.server_config(), std::move(b));
    std::error_code server_ec;
    std::thread t([&] {
        server_ec = server.handshake();
        if (server_ec) return;
        auto m = server.receive_message(std::chrono::seconds(10));
        if (m) server_ec = server.send(*m);
        server.close();
    });
    REQUIRE(!client.handshake());
    REQUIRE(!client.send(text("echo me")));
    auto reply = client.receive_message(std::chrono::seconds(10));
    t.join();
    REQUIRE(!server_ec);
    REQUIRE(reply);
    CHECK(*reply == text("echo me"));
    auto key = client.export_keying_material("EXPERIMENTAL-s", {}, 16);
    CHECK(key);
    auto end = client.receive_message(std::chrono::seconds(10));
    REQUIRE(end);
    CHECK(end->empty());  // close_notify: clean end
}

TEST_CASE("tls12: a self-signed server certificate given as its own CA file") {
    test::TempDir dir;
    const auto key = dir.file("self.key"), crt = dir.file("self.crt");
    REQUIRE(test::run("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout " + key + " -out " +
                      crt + " -days 30 -subj /CN=localhost >/dev/null 2>&1") == 0);
    botan_tls::Config sc;
    sc.identity = {test::read_file(crt), test::read_file(key)};
    sc.verify_peer = false;
    botan_tls::Config cc;
    cc.server_name = "localhost";
    SUBCASE("trusted when it is the anchor itself") {
        cc.trust.ca_certificates_pem = {test::read_file(crt)};
        Engine client(Role::client, cc), server(Role::server, sc);
        auto o = handshake(client, server);
        CHECK_MESSAGE(!o.client, o.client.message());
        CHECK(client.session_info().peer.authenticated);
    }
    SUBCASE("still checked for the name") {
        cc.trust.ca_certificates_pem = {test::read_file(crt)};
        cc.server_name = "other.example";
        Engine client(Role::client, cc), server(Role::server, sc);
        CHECK(handshake(client, server).client == Errc::certificate_name_mismatch);
    }
    SUBCASE("untrusted when another certificate is the anchor") {
        Pki p;
        cc.trust.ca_certificates_pem = {p.pki.ca().certificate_pem()};
        Engine client(Role::client, cc), server(Role::server, sc);
        CHECK(handshake(client, server).client == Errc::certificate_untrusted);
    }
}

}  // namespace tls12_engine_test
