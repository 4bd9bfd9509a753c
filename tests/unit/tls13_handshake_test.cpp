// TLS 1.3 handshake: client and server of this project against each other over
// MemoryStream (the in-process transport), for each suite, group and certificate type.
#include "support/providers.hpp"

#include <future>
#include <thread>

#include <tapsec/tapsec.hpp>
#include <tapsec/transport/memory.hpp>

#include "support/pki.hpp"

using namespace tapsec;
using Tls = Secure<Tls13Handshake, AeadRecord, MemoryStream>;
/// The test cases written TEST_CASE_TEMPLATE run once per crypto provider (support/providers.hpp).
template <class P>
using TlsOn = Secure<Tls13Handshake, AeadRecord, MemoryStream, P>;

namespace tls13_handshake_test {

struct Pair {
    tls13::Config client, server;
};

Pair configs(test::TestPki& pki, test::KeyType type) {
    auto leaf = pki.issue("server" + std::to_string(static_cast<int>(type)), type);
    Pair p;
    p.server.identity = Identity(leaf.certificate_pem(), leaf.key_pem());
    p.client.trust.ca_certificates_pem = {pki.ca().certificate_pem()};
    p.client.server_name = "localhost";
    return p;
}

/// Runs both ends; returns {client error, server error}.
template <class Client, class Server>
std::pair<std::error_code, std::error_code> connect(Client& client, Server& server) {
    auto server_done = std::async(std::launch::async, [&] { return server.handshake(); });
    auto c = client.handshake();
    auto s = server_done.get();
    return {c, s};
}

template <class Client, class Server>
void echo_round_trip(Client& client, Server& server) {
    const std::string text = "hello over TLS 1.3";
    REQUIRE_FALSE(client.send(as_bytes(text)));
    auto got = server.receive_message(std::chrono::seconds(5));
    REQUIRE(got.ok());
    CHECK(std::string(got->begin(), got->end()) == text);
    REQUIRE_FALSE(server.send(as_bytes(text + "!")));
    auto back = client.receive_message(std::chrono::seconds(5));
    REQUIRE(back.ok());
    CHECK(std::string(back->begin(), back->end()) == text + "!");
}


TEST_CASE_TEMPLATE("TLS 1.3 1-RTT over MemoryStream: every suite, both groups, three key types", P, TAPSEC_TEST_PROVIDERS) {
    using Tls = TlsOn<P>;
    test::TestPki pki;
    REQUIRE(pki.ok());
    for (auto type : {test::KeyType::ecdsa_p256, test::KeyType::ed25519, test::KeyType::rsa2048}) {
        auto p = configs(pki, type);
        for (const char* suite : {"TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256"}) {
            for (const char* group : {"x25519", "secp256r1"}) {
                CAPTURE(suite);
                CAPTURE(group);
                CAPTURE(static_cast<int>(type));
                auto [a, b] = MemoryStream::pair();
                p.client.cipher_suites = {suite};
                p.client.groups = {group};
                Tls client(Role::client, p.client, std::move(a));
                Tls server(Role::server, p.server, std::move(b));
                std::error_code c, s;  // not a structured binding: clang 14 cannot capture one in CHECK_MESSAGE's lambda
                std::tie(c, s) = connect(client, server);
                REQUIRE_MESSAGE(!c, c.message());
                REQUIRE_MESSAGE(!s, s.message());
                CHECK(client.info().cipher_suite == suite);
                CHECK(client.info().group == group);
                CHECK(server.info().cipher_suite == suite);
                CHECK(client.peer().authenticated);
                echo_round_trip(client, server);
                // Exporters agree (RFC 8446 7.5).
                auto ec_ = client.export_keying_material("EXPORTER-test", as_bytes("ctx"), 32);
                auto es = server.export_keying_material("EXPORTER-test", as_bytes("ctx"), 32);
                REQUIRE(ec_.ok());
                REQUIRE(es.ok());
                CHECK(*ec_ == *es);
                // close_notify: the reader sees a clean end.
                CHECK_FALSE(client.close());
                auto end = server.receive_message(std::chrono::seconds(5));
                REQUIRE(end.ok());
                CHECK(end->empty());
            }
        }
    }
}

TEST_CASE_TEMPLATE("TLS 1.3 resumption with a stateless ticket, then 0-RTT accepted once and refused on replay", P, TAPSEC_TEST_PROVIDERS) {
    using Tls = TlsOn<P>;
    test::TestPki pki;
    REQUIRE(pki.ok());
    auto p = configs(pki, test::KeyType::ed25519);
    auto cache = std::make_shared<InMemorySessionCache>();
    p.client.session_cache = cache;
    p.server.max_early_data = 16384;
    p.server.anti_replay = std::make_shared<tls13::AntiReplay>();
    p.server.ticket_key = tls13::TicketKey::generate<P>();
    Bytes stored;
    {
        auto [a, b] = MemoryStream::pair();
        Tls client(Role::client, p.client, std::move(a));
        Tls server(Role::server, p.server, std::move(b));
        std::error_code c, s;
        std::tie(c, s) = connect(client, server);
        REQUIRE_MESSAGE(!c, c.message());
        REQUIRE_MESSAGE(!s, s.message());
        CHECK_FALSE(client.info().resumed);
        echo_round_trip(client, server);  // the ticket arrives with the server's data
        REQUIRE(cache->size() == 1);
        stored = *cache->load("localhost");
    }
    // Resumption with 0-RTT.
    {
        auto [a, b] = MemoryStream::pair();
        Tls client(Role::client, p.client, std::move(a));
        Tls server(Role::server, p.server, std::move(b));
        const std::string early = "early bird";
        REQUIRE_FALSE(client.send_early_data(as_bytes(early)));
        std::error_code c, s;
        std::tie(c, s) = connect(client, server);
        REQUIRE_MESSAGE(!c, c.message());
        REQUIRE_MESSAGE(!s, s.message());
        CHECK(client.info().resumed);
        CHECK(server.info().resumed);
        CHECK(client.early_data_accepted());
        CHECK(server.info().early_data_accepted);
        auto got = server.receive_message(std::chrono::seconds(5));
        REQUIRE(got.ok());
        CHECK(std::string(got->begin(), got->end()) == early);
        bool accepted_event = false;
        while (auto e = client.next_event()) accepted_event |= e->kind == EventKind::early_data_accepted;
        CHECK(accepted_event);
        echo_round_trip(client, server);
    }
    // Replay the same ticket: resumption works, 0-RTT is refused, data comes after the handshake.
    {
        cache->store("localhost", stored);
        auto [a, b] = MemoryStream::pair();
        Tls client(Role::client, p.client, std::move(a));
        Tls server(Role::server, p.server, std::move(b));
        const std::string early = "replayed early data";
        REQUIRE_FALSE(client.send_early_data(as_bytes(early)));
        std::error_code c, s;
        std::tie(c, s) = connect(client, server);
        REQUIRE_MESSAGE(!c, c.message());
        REQUIRE_MESSAGE(!s, s.message());
        CHECK(client.info().resumed);
        CHECK_FALSE(client.early_data_accepted());
        CHECK_FALSE(server.info().early_data_accepted);
        bool rejected_event = false;
        while (auto e = client.next_event()) rejected_event |= e->kind == EventKind::early_data_rejected;
        CHECK(rejected_event);
        auto got = server.receive_message(std::chrono::seconds(5));
        REQUIRE(got.ok());
        CHECK(std::string(got->begin(), got->end()) == early);  // sent again under 1-RTT keys
    }
}

TEST_CASE_TEMPLATE("TLS 1.3 external PSK: psk_dhe_ke and psk_ke", P, TAPSEC_TEST_PROVIDERS) {
    using Tls = TlsOn<P>;
    for (bool psk_only : {false, true}) {
        tls13::Config client, server;
        Bytes key(32, 0x42);
        client.pre_shared_keys.push_back({"client1", SecretBytes(key.begin(), key.end())});
        server.pre_shared_keys = client.pre_shared_keys;
        client.psk_only_key_exchange = psk_only;
        server.psk_only_key_exchange = psk_only;
        auto [a, b] = MemoryStream::pair();
        Tls c(Role::client, client, std::move(a));
        Tls s(Role::server, server, std::move(b));
        std::error_code ce, se;
        std::tie(ce, se) = connect(c, s);
        REQUIRE_MESSAGE(!ce, ce.message());
        REQUIRE_MESSAGE(!se, se.message());
        CHECK(s.peer().psk_identity == "client1");
        CHECK(c.info().group == (psk_only ? "" : "x25519"));
        echo_round_trip(c, s);
    }
}

TEST_CASE_TEMPLATE("TLS 1.3 HelloRetryRequest (group mismatch, forced cookie) and mutual authentication", P, TAPSEC_TEST_PROVIDERS) {
    using Tls = TlsOn<P>;
    test::TestPki pki;
    REQUIRE(pki.ok());
    auto p = configs(pki, test::KeyType::ecdsa_p256);
    auto client_leaf = pki.issue("client", test::KeyType::ed25519, "client.example");
    p.client.groups = {"x25519", "secp256r1"};
    p.server.groups = {"secp256r1"};
    p.client.identity = Identity(client_leaf.certificate_pem(), client_leaf.key_pem());
    p.server.require_client_certificate = true;
    p.server.trust.ca_certificates_pem = {pki.ca().certificate_pem()};
    std::string seen_subject;
    p.server.validate_peer = [&](const PeerIdentity& peer) {
        seen_subject = peer.subject;
        return std::error_code{};
    };
    {
        auto [a, b] = MemoryStream::pair();
        Tls client(Role::client, p.client, std::move(a));
        Tls server(Role::server, p.server, std::move(b));
        std::error_code c, s;
        std::tie(c, s) = connect(client, server);
        REQUIRE_MESSAGE(!c, c.message());
        REQUIRE_MESSAGE(!s, s.message());
        CHECK(client.info().group == "secp256r1");
        CHECK(server.peer().authenticated);
        CHECK(seen_subject.find("client.example") != std::string::npos);
        echo_round_trip(client, server);
    }
    p.server.groups = {};
    p.server.force_hello_retry = true;
    {
        auto [a, b] = MemoryStream::pair();
        Tls client(Role::client, p.client, std::move(a));
        Tls server(Role::server, p.server, std::move(b));
        std::error_code c, s;
        std::tie(c, s) = connect(client, server);
        REQUIRE_MESSAGE(!c, c.message());
        REQUIRE_MESSAGE(!s, s.message());
        echo_round_trip(client, server);
    }
    // The application's validator says no: access_denied at the client.
    p.server.force_hello_retry = false;
    p.server.validate_peer = [](const PeerIdentity&) { return make_error_code(Errc::peer_rejected_by_application); };
    {
        auto [a, b] = MemoryStream::pair();
        Tls client(Role::client, p.client, std::move(a));
        Tls server(Role::server, p.server, std::move(b));
        std::error_code c, s;
        std::tie(c, s) = connect(client, server);
        CHECK(s == make_error_code(Errc::peer_rejected_by_application));
        auto r = client.receive_message(std::chrono::seconds(5));
        REQUIRE_FALSE(r.ok());
        CHECK(r.error() == tls13::peer_alert_error(tls13::AlertDescription::access_denied));
    }
}

TEST_CASE_TEMPLATE("TLS 1.3 KeyUpdate on request and after a record limit", P, TAPSEC_TEST_PROVIDERS) {
    using Tls = TlsOn<P>;
    test::TestPki pki;
    REQUIRE(pki.ok());
    auto p = configs(pki, test::KeyType::ed25519);
    p.client.key_update_after_records = 5;
    auto [a, b] = MemoryStream::pair();
    Tls client(Role::client, p.client, std::move(a));
    Tls server(Role::server, p.server, std::move(b));
    std::error_code c, s;
    std::tie(c, s) = connect(client, server);
    REQUIRE_MESSAGE(!c, c.message());
    REQUIRE_MESSAGE(!s, s.message());
    REQUIRE_FALSE(client.update_keys(true));
    echo_round_trip(client, server);  // server updated its read key, answered with its own update
    for (int i = 0; i < 20; ++i) echo_round_trip(client, server);
    int client_updates = 0, server_updates = 0;
    while (auto e = client.next_event()) client_updates += e->kind == EventKind::key_updated;
    while (auto e = server.next_event()) server_updates += e->kind == EventKind::key_updated;
    CHECK(client_updates >= 5);  // 1 requested + automatic ones every 5 records + reads
    CHECK(server_updates >= 5);
}

TEST_CASE_TEMPLATE("TLS 1.3 ALPN, SNI, padding, and delegated authentication", P, TAPSEC_TEST_PROVIDERS) {
    using Tls = TlsOn<P>;
    test::TestPki pki;
    REQUIRE(pki.ok());
    auto p = configs(pki, test::KeyType::ed25519);
    p.client.alpn = {"h2", "http/1.1"};
    p.server.alpn = {"http/1.1", "h2"};
    p.client.padding = tls13::PaddingPolicy::to_multiple_of(256);
    p.server.padding = tls13::PaddingPolicy::full_record();
    {
        auto [a, b] = MemoryStream::pair();
        Tls client(Role::client, p.client, std::move(a));
        Tls server(Role::server, p.server, std::move(b));
        std::error_code c, s;
        std::tie(c, s) = connect(client, server);
        REQUIRE_MESSAGE(!c, c.message());
        REQUIRE_MESSAGE(!s, s.message());
        CHECK(client.info().alpn == "http/1.1");  // the server's preference
        CHECK(server.info().alpn == "http/1.1");
        CHECK(server.info().server_name == "localhost");
        echo_round_trip(client, server);
    }
    // No protocol in common: no_application_protocol at the server, alert at the client.
    p.server.alpn = {"imap"};
    {
        auto [a, b] = MemoryStream::pair();
        Tls client(Role::client, p.client, std::move(a));
        Tls server(Role::server, p.server, std::move(b));
        std::error_code c, s;
        std::tie(c, s) = connect(client, server);
        CHECK(s == make_error_code(tls13::Error::no_application_protocol));
        CHECK(c == tls13::peer_alert_error(tls13::AlertDescription::no_application_protocol));
    }
    // Delegated authentication (survey AD): no trust store, the application decides.
    p.server.alpn = {};
    p.client.trust = {};
    p.client.delegate_authentication = true;
    int calls = 0;
    p.client.validate_peer = [&](const PeerIdentity& peer) {
        ++calls;
        return peer.certificate_chain_der.empty() ? make_error_code(Errc::certificate_untrusted) : std::error_code{};
    };
    {
        auto [a, b] = MemoryStream::pair();
        Tls client(Role::client, p.client, std::move(a));
        Tls server(Role::server, p.server, std::move(b));
        std::error_code c, s;
        std::tie(c, s) = connect(client, server);
        REQUIRE_MESSAGE(!c, c.message());
        REQUIRE_MESSAGE(!s, s.message());
        CHECK(calls == 1);
        CHECK(client.peer().authenticated);
    }
}

TEST_CASE("TLS 1.3 record_size_limit (RFC 8449) is negotiated and honoured") {
    test::TestPki pki;
    REQUIRE(pki.ok());
    auto p = configs(pki, test::KeyType::ed25519);
    p.client.record_size_limit = 512;
    p.server.record_size_limit = 1024;
    using E = tls13::Engine<AeadRecord, crypto::Botan2>;
    E client(Role::client, p.client), server(Role::server, p.server);
    const Endpoint none;
    const auto now = Clock::now();
    REQUIRE_FALSE(client.start(now));
    for (int i = 0; i < 6; ++i) {
        while (auto t = client.poll_transmit()) REQUIRE_FALSE(server.receive(t->data, none, now));
        while (auto t = server.poll_transmit()) REQUIRE_FALSE(client.receive(t->data, none, now));
    }
    REQUIRE(client.is_established());
    REQUIRE(server.is_established());
    // Largest TLSCiphertext each side may now send: limit (inner plaintext) + 16-byte tag.
    auto largest_record = [](const Bytes& wire) {
        std::size_t largest = 0;
        for (std::size_t at = 0; at + 5 <= wire.size();) {
            const std::size_t length = std::size_t{wire[at + 3]} << 8 | wire[at + 4];
            largest = std::max(largest, length);
            at += 5 + length;
        }
        return largest;
    };
    const Bytes big(20000, 0x5a);
    REQUIRE_FALSE(server.send(big, now));
    auto to_client = server.poll_transmit();
    REQUIRE(to_client);
    CHECK(largest_record(to_client->data) <= 512 + 16);
    REQUIRE_FALSE(client.receive(to_client->data, none, now));
    std::size_t received = 0;
    while (auto d = client.poll_application_data()) received += d->size();
    CHECK(received == big.size());
    REQUIRE_FALSE(client.send(big, now));
    auto to_server = client.poll_transmit();
    REQUIRE(to_server);
    CHECK(largest_record(to_server->data) <= 1024 + 16);
    CHECK(largest_record(to_server->data) > 512 + 16);
    REQUIRE_FALSE(server.receive(to_server->data, none, now));
}


/// MemoryStream whose first write (the client's ClientHello and 0-RTT flight) is
/// followed by records of junk the server cannot open, as a client's rejected early
/// data looks to a server that cannot decrypt it.
class JunkAfterFirstFlight {
public:
    [[maybe_unused]] static constexpr std::string_view name = "MemoryStream (junk after the first flight)";
    using offers = MemoryStream::offers;
    using provides = features<>;

    JunkAfterFirstFlight(MemoryStream inner, std::vector<std::size_t> junk_sizes)
        : inner_(std::move(inner)), junk_sizes_(std::move(junk_sizes)) {}
    Result<std::size_t> read_some(MutableByteView out, Instant deadline) { return inner_.read_some(out, deadline); }
    std::error_code write_all(ByteView data) {
        if (auto ec = inner_.write_all(data)) return ec;
        if (writes_++ != 0) return {};
        for (const std::size_t size : junk_sizes_) {
            Bytes record{23, 3, 3, static_cast<std::uint8_t>(size >> 8), static_cast<std::uint8_t>(size)};
            record.resize(5 + size, 0xa5);
            if (auto ec = inner_.write_all(record)) return ec;
        }
        return {};
    }
    void close() { inner_.close(); }
    Endpoint peer_endpoint() const { return inner_.peer_endpoint(); }

private:
    MemoryStream inner_;
    std::vector<std::size_t> junk_sizes_;
    int writes_ = 0;
};


TEST_CASE("TLS 1.3 rejected 0-RTT: the server skips undecryptable records up to max_early_data_size bytes (4.2.10)") {
    test::TestPki pki;
    REQUIRE(pki.ok());
    auto p = configs(pki, test::KeyType::ed25519);
    auto cache = std::make_shared<InMemorySessionCache>();
    p.client.session_cache = cache;
    p.server.max_early_data = 1000;
    p.server.anti_replay = std::make_shared<tls13::AntiReplay>();
    p.server.ticket_key = tls13::TicketKey::generate<crypto::Botan2>();
    {  // a first connection leaves a ticket that allows 0-RTT
        auto [a, b] = MemoryStream::pair();
        Tls client(Role::client, p.client, std::move(a));
        Tls server(Role::server, p.server, std::move(b));
        std::error_code c, s;
        std::tie(c, s) = connect(client, server);
        REQUIRE_FALSE(c);
        REQUIRE_FALSE(s);
        echo_round_trip(client, server);
    }
    REQUIRE(cache->size() == 1);
    const Bytes ticket = *cache->load("localhost");
    p.server.anti_replay.reset();  // no anti-replay store: every 0-RTT offer is refused

    // Sizes are protected lengths; each counts its length less 17 (tag and content type),
    // added to the client's own 19 bytes of early data, against the server's 1000.
    struct Case {
        const char* name;
        std::vector<std::size_t> junk;
        bool completes;
    };
    const std::vector<Case> cases = {
        {"no junk", {}, true},
        {"two small records", {40, 40}, true},
        {"thirty small records, 90 bytes in all", std::vector<std::size_t>(30, 20), true},
        {"one record larger than the whole budget", {2000}, false},
        {"ten records, together over the budget", std::vector<std::size_t>(10, 120), false},
    };
    using JunkTls = Secure<Tls13Handshake, AeadRecord, JunkAfterFirstFlight>;
    for (const auto& c : cases) {
        CAPTURE(c.name);
        cache->store("localhost", ticket);
        auto [a, b] = MemoryStream::pair();
        JunkTls client(Role::client, p.client, JunkAfterFirstFlight(std::move(a), c.junk));
        Tls server(Role::server, p.server, std::move(b));
        const std::string early = "rejected early data";
        REQUIRE_FALSE(client.send_early_data(as_bytes(early)));
        auto server_done = std::async(std::launch::async, [&] { return server.handshake(); });
        const auto client_result = client.handshake();
        const auto server_result = server_done.get();
        if (c.completes) {
            REQUIRE_MESSAGE(!server_result, server_result.message());
            REQUIRE_MESSAGE(!client_result, client_result.message());
            CHECK_FALSE(server.info().early_data_accepted);
            auto got = server.receive_message(std::chrono::seconds(5));
            REQUIRE(got.ok());
            CHECK(std::string(got->begin(), got->end()) == early);  // delivered again under 1-RTT keys
        } else {
            CHECK(server_result == make_error_code(tls13::Error::bad_record_mac));
        }
    }
}

TEST_CASE("TLS 1.3 with the client on one provider and the server on the other, both ways") {
    test::TestPki pki;
    REQUIRE(pki.ok());
    for (auto type : {test::KeyType::ecdsa_p256, test::KeyType::ed25519, test::KeyType::rsa2048}) {
        auto p = configs(pki, type);
        p.client.groups = {"secp256r1", "x25519"};
        p.server.groups = {"x25519"};  // a HelloRetryRequest too: the key share is made twice
        const auto run_across = [&]<class ClientProvider, class ServerProvider>() {
            auto [a, b] = MemoryStream::pair();
            TlsOn<ClientProvider> client(Role::client, p.client, std::move(a));
            TlsOn<ServerProvider> server(Role::server, p.server, std::move(b));
            std::error_code c, s;
            std::tie(c, s) = connect(client, server);
            REQUIRE_MESSAGE(!c, c.message());
            REQUIRE_MESSAGE(!s, s.message());
            CHECK(client.peer().authenticated);
            echo_round_trip(client, server);
        };
        CAPTURE(static_cast<int>(type));
        run_across.template operator()<crypto::OpenSsl3, crypto::Botan2>();
        run_across.template operator()<crypto::Botan2, crypto::OpenSsl3>();
    }
}

}  // namespace tls13_handshake_test
