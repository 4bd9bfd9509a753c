// TLS 1.3 server: stateless HelloRetryRequest cookies (RFC 8446 4.2.2, 4.4.1) and 0-RTT
// freshness by ticket age (RFC 8446 8.3).
//
// The retry tests hand ClientHello2 to a server that never saw ClientHello1 (a fresh
// handshake object, or a fresh engine), given only the same Config: it must finish
// with the transcript the client computed (Finished verifies, exporters agree). Each
// way a cookie can be wrong has its own error and the alert RFC 8446 names.
#include <doctest/doctest.h>

#include <future>

#include <tapsec/tapsec.hpp>
#include <tapsec/transport/memory.hpp>

#include "support/pki.hpp"

using namespace tapsec;
using namespace tapsec::tls13;
using Crypto = crypto::Botan2;
using Tls = Secure<Tls13Handshake, AeadRecord, MemoryStream>;
using TlsEngine = tls13::Engine<AeadRecord, Crypto>;

namespace tls13_stateless_retry_test {

struct Setup {
    test::TestPki pki;
    Config client, server;
    Setup() {
        REQUIRE(pki.ok());
        auto leaf = pki.issue("retry", test::KeyType::ed25519);
        server.identity = Identity(leaf.certificate_pem(), leaf.key_pem());
        client.trust.ca_certificates_pem = {pki.ca().certificate_pem()};
        client.server_name = "localhost";
        // The client offers an x25519 share first; the server only takes P-256: a retry.
        client.groups = {"x25519", "secp256r1"};
        client.cipher_suites = {"TLS_AES_128_GCM_SHA256"};
        server.groups = {"secp256r1"};
        server.cookie_key = TicketKey::generate<Crypto>();
    }
};

std::chrono::system_clock::time_point shifted(std::chrono::seconds by) { return std::chrono::system_clock::now() + by; }

/// Drives a client and a server handshake message by message. After the server's
/// HelloRetryRequest, ClientHello2 goes to a FRESH server made from `second_server`
/// (when given), or to the same one. `tamper` may rewrite ClientHello2.
struct RetryRun {
    std::error_code client, server;
    bool retried = false, client_established = false, server_established = false;
    bool exporters_agree = false;
};
using Tamper = std::function<void(Bytes& client_hello2, ByteView cookie, const Bytes& client_hello1)>;

RetryRun run_retry(const Config& client_config, const Config& first_server, const Config* second_server,
                   const Tamper& tamper = {}) {
    RetryRun out;
    ClientHandshake<Crypto> client(client_config);
    auto server = std::make_unique<ServerHandshake<Crypto>>(first_server);
    if ((out.server = server->start())) return out;
    if ((out.client = client.start({}))) return out;
    Bytes cookie, client_hello1;
    bool swap_pending = false, tampered = false;
    auto deliver = [&](bool to_server, const Bytes& m) -> std::error_code {
        MessageBuffer buffer;
        buffer.add(m);
        auto raw = buffer.next();
        if (!raw) return raw.error();
        if (!*raw) return Error::malformed_handshake_message;
        return to_server ? server->handle(**raw) : client.handle(**raw);
    };
    for (int round = 0; round < 20; ++round) {
        bool moved = false;
        while (auto a = client.poll_action()) {
            if (a->kind != Action::Kind::send) continue;
            moved = true;
            Bytes m = a->message;
            if (m[0] == static_cast<std::uint8_t>(HandshakeType::client_hello)) {
                if (!out.retried) client_hello1 = m;
                else if (tamper && !tampered) {
                    tamper(m, cookie, client_hello1);
                    tampered = true;
                }
            }
            if (auto ec = deliver(true, m)) {
                out.server = ec;
                return out;
            }
        }
        while (auto a = server->poll_action()) {
            if (a->kind != Action::Kind::send) continue;
            moved = true;
            const Bytes& m = a->message;
            if (m[0] == static_cast<std::uint8_t>(HandshakeType::server_hello)) {
                auto sh = decode_server_hello(ByteView(m).subspan(4));
                REQUIRE(sh.ok());
                if (sh->is_hello_retry_request()) {
                    REQUIRE(sh->cookie);
                    cookie = *sh->cookie;
                    out.retried = true;
                    swap_pending = second_server != nullptr;
                }
            }
            if (auto ec = deliver(false, m)) {
                out.client = ec;
                return out;
            }
        }
        if (swap_pending) {  // the first server is gone: only its Config's key remains
            server = std::make_unique<ServerHandshake<Crypto>>(*second_server);
            if ((out.server = server->start())) return out;
            swap_pending = false;
        }
        if (!moved) break;
    }
    out.client_established = client.established();
    out.server_established = server->established();
    if (out.client_established && out.server_established) {
        auto a = client.export_keying_material("EXPORTER-retry", as_bytes("ctx"), 32);
        auto b = server->export_keying_material("EXPORTER-retry", as_bytes("ctx"), 32);
        out.exporters_agree = a.ok() && b.ok() && *a == *b;
    }
    return out;
}

std::size_t find(const Bytes& haystack, ByteView needle) {
    auto it = std::search(haystack.begin(), haystack.end(), needle.begin(), needle.end());
    REQUIRE(it != haystack.end());
    return static_cast<std::size_t>(it - haystack.begin());
}

/// Pumps two engines until neither has anything to send.
void pump(TlsEngine& client, TlsEngine& server, Instant now) {
    const Endpoint none;
    for (int i = 0; i < 10; ++i) {
        bool moved = false;
        while (auto t = client.poll_transmit()) {
            moved = true;
            REQUIRE_FALSE(server.receive(t->data, none, now));
        }
        while (auto t = server.poll_transmit()) {
            moved = true;
            REQUIRE_FALSE(client.receive(t->data, none, now));
        }
        if (!moved) break;
    }
}

/// One handshake whose retry is finished by a fresh engine, then a message across it.
void handshake_across_engines(const Config& client_config, const Config& server_config, bool expect_resumed) {
    const Endpoint none;
    const auto now = Clock::now();
    TlsEngine client(Role::client, client_config);
    auto first = std::make_unique<TlsEngine>(Role::server, server_config);
    REQUIRE_FALSE(client.start(now));
    auto hello1 = client.poll_transmit();
    REQUIRE(hello1);
    REQUIRE_FALSE(first->receive(hello1->data, none, now));
    auto retry = first->poll_transmit();
    REQUIRE(retry);
    CHECK_FALSE(first->is_established());
    first.reset();  // nothing of the first server survives but the cookie it sent
    REQUIRE_FALSE(client.receive(retry->data, none, now));

    TlsEngine second(Role::server, server_config);
    pump(client, second, now);
    REQUIRE(client.is_established());
    REQUIRE(second.is_established());
    CHECK(client.session_info().resumed == expect_resumed);
    CHECK(second.session_info().resumed == expect_resumed);
    auto a = client.export_keying_material("EXPORTER-retry", {}, 32);
    auto b = second.export_keying_material("EXPORTER-retry", {}, 32);
    REQUIRE(a.ok());
    REQUIRE(b.ok());
    CHECK(*a == *b);
    const std::string text = "after a stateless retry";
    REQUIRE_FALSE(client.send(as_bytes(text), now));
    pump(client, second, now);  // also brings the NewSessionTicket to the client
    auto got = second.poll_application_data();
    REQUIRE(got);
    CHECK(std::string(got->begin(), got->end()) == text);
}


TEST_CASE("TLS 1.3 stateless retry: a fresh server handshake finishes from the cookie alone") {
    Setup s;
    SUBCASE("group mismatch: the retry names the group") {
        auto r = run_retry(s.client, s.server, &s.server);
        CHECK(r.retried);
        REQUIRE_MESSAGE(!r.client, r.client.message());
        REQUIRE_MESSAGE(!r.server, r.server.message());
        CHECK(r.client_established);
        CHECK(r.server_established);
        CHECK(r.exporters_agree);
    }
    SUBCASE("forced cookie-only retry, SHA-384 suite, middlebox compatibility off") {
        s.server.groups = {};
        s.server.force_hello_retry = true;
        s.client.cipher_suites = {"TLS_AES_256_GCM_SHA384"};
        s.client.middlebox_compatibility = false;
        auto r = run_retry(s.client, s.server, &s.server);
        CHECK(r.retried);
        REQUIRE_MESSAGE(!r.client, r.client.message());
        REQUIRE_MESSAGE(!r.server, r.server.message());
        CHECK(r.exporters_agree);
    }
    SUBCASE("the ticket key seals cookies when no cookie key is set") {
        s.server.cookie_key = nullptr;
        s.server.ticket_key = TicketKey::generate<Crypto>();
        auto r = run_retry(s.client, s.server, &s.server);
        REQUIRE_MESSAGE(!r.server, r.server.message());
        CHECK(r.exporters_agree);
    }
    SUBCASE("the same server continues through the same cookie path") {
        auto r = run_retry(s.client, s.server, nullptr);
        REQUIRE_MESSAGE(!r.server, r.server.message());
        CHECK(r.exporters_agree);
    }
    SUBCASE("with no key configured, another server cannot open the cookie (documented limit)") {
        s.server.cookie_key = nullptr;
        s.server.ticket_key = nullptr;
        auto r = run_retry(s.client, s.server, &s.server);
        CHECK(r.server == make_error_code(Error::hello_retry_cookie_unknown_key));
    }
}

TEST_CASE("TLS 1.3 stateless retry through the engine: a fresh Engine takes ClientHello2, also when resuming") {
    Setup s;
    auto cache = std::make_shared<InMemorySessionCache>();
    s.client.session_cache = cache;
    s.server.ticket_key = TicketKey::generate<Crypto>();
    handshake_across_engines(s.client, s.server, false);
    REQUIRE(cache->size() == 1);
    // Resumption: the PSK binder of ClientHello2 hashes over the restored transcript.
    handshake_across_engines(s.client, s.server, true);
}

TEST_CASE("TLS 1.3 stateless retry negative: each bad cookie has its own error and alert") {
    Setup s;
    SUBCASE("an altered cookie: decrypt_error") {
        auto r = run_retry(s.client, s.server, &s.server, [](Bytes& ch2, ByteView cookie, const Bytes&) {
            ch2[find(ch2, cookie) + 30] ^= 0x01;
        });
        CHECK(r.server == make_error_code(Error::hello_retry_cookie_invalid));
        CHECK(alert_for(r.server) == AlertDescription::decrypt_error);
    }
    SUBCASE("a cookie sealed under another server's key: illegal_parameter") {
        Config other = s.server;
        other.cookie_key = TicketKey::generate<Crypto>();
        auto r = run_retry(s.client, s.server, &other);
        CHECK(r.server == make_error_code(Error::hello_retry_cookie_unknown_key));
        CHECK(alert_for(r.server) == AlertDescription::illegal_parameter);
    }
    SUBCASE("a cookie a ticket key sealed as a ticket does not open as a cookie (and back)") {
        auto key = TicketKey::generate<Crypto>();
        const Bytes plain = {1, 2, 3, 4};
        const Bytes as_cookie = key->seal_bytes<Crypto>(plain, HelloRetryCookie::purpose, CommonConfig{});
        CHECK_FALSE(key->open<Crypto>(as_cookie));
        auto opened = key->open_bytes<Crypto>(as_cookie, HelloRetryCookie::purpose);
        REQUIRE(opened.plaintext);
        CHECK(Bytes(opened.plaintext->begin(), opened.plaintext->end()) == plain);
        SessionState state;
        state.suite = &TLS_AES_128_GCM_SHA256;
        state.psk = SecretBytes(32, 7);
        const Bytes ticket = key->seal<Crypto>(state, CommonConfig{});
        auto as_ticket = key->open_bytes<Crypto>(ticket, HelloRetryCookie::purpose);
        CHECK(as_ticket.our_key);
        CHECK_FALSE(as_ticket.plaintext);
    }
    SUBCASE("an expired cookie, and one from the future: illegal_parameter") {
        for (auto offset : {std::chrono::seconds(61), std::chrono::seconds(-120)}) {
            Config later = s.server;
            later.wall_clock = [offset] { return shifted(offset); };
            auto r = run_retry(s.client, s.server, &later);
            CHECK(r.server == make_error_code(Error::hello_retry_cookie_expired));
            CHECK(alert_for(r.server) == AlertDescription::illegal_parameter);
        }
        Config within = s.server;  // inside the lifetime it still works
        within.wall_clock = [] { return shifted(std::chrono::seconds(50)); };
        auto ok = run_retry(s.client, s.server, &within);
        CHECK_MESSAGE(!ok.server, ok.server.message());
        CHECK(ok.exporters_agree);
    }
    SUBCASE("ClientHello2 no longer offers the cookie's suite: illegal_parameter") {
        auto r = run_retry(s.client, s.server, &s.server, [](Bytes& ch2, ByteView, const Bytes&) {
            // header(4) version(2) random(32) session_id<1> cipher_suites<2>: one suite, 0x1301.
            const std::size_t suites = 4 + 2 + 32 + 1 + ch2[38] + 2;
            REQUIRE(ch2[suites] == 0x13);
            REQUIRE(ch2[suites + 1] == 0x01);
            ch2[suites + 1] = 0x03;  // TLS_CHACHA20_POLY1305_SHA256
        });
        CHECK(r.server == make_error_code(Error::hello_retry_cookie_mismatch));
        CHECK(alert_for(r.server) == AlertDescription::illegal_parameter);
    }
    SUBCASE("ClientHello2 has no share for the cookie's group: illegal_parameter") {
        auto r = run_retry(s.client, s.server, &s.server, [](Bytes& ch2, ByteView, const Bytes&) {
            // KeyShareEntry(secp256r1, 65-byte uncompressed point) relabelled as x25519.
            const Bytes p256_share = {0x00, 0x17, 0x00, 0x41, 0x04};
            ch2[find(ch2, p256_share) + 1] = 0x1d;
        });
        CHECK(r.server == make_error_code(Error::hello_retry_cookie_mismatch));
        CHECK(alert_for(r.server) == AlertDescription::illegal_parameter);
    }
    SUBCASE("ClientHello2 with another legacy_session_id: illegal_parameter") {
        auto r = run_retry(s.client, s.server, &s.server, [](Bytes& ch2, ByteView, const Bytes&) {
            REQUIRE(ch2[38] == 32);  // middlebox compatibility: a 32-byte session id
            ch2[39] ^= 0xff;
        });
        CHECK(r.server == make_error_code(Error::hello_retry_cookie_mismatch));
    }
    SUBCASE("a second ClientHello without the cookie after our retry: missing_extension") {
        auto r = run_retry(s.client, s.server, nullptr, [](Bytes& ch2, ByteView, const Bytes& ch1) { ch2 = ch1; });
        CHECK(r.server == make_error_code(Error::hello_retry_cookie_missing));
        CHECK(alert_for(r.server) == AlertDescription::missing_extension);
    }
    SUBCASE("a cookie that is garbage (too short to be sealed): never a crash") {
        auto r = run_retry(s.client, s.server, &s.server, [](Bytes& ch2, ByteView cookie, const Bytes&) {
            const std::size_t at = find(ch2, cookie);
            for (std::size_t i = 16; i < cookie.size(); ++i) ch2[at + i] = 0;  // key name kept
        });
        CHECK(r.server == make_error_code(Error::hello_retry_cookie_invalid));
    }
}

TEST_CASE("TLS 1.3 retry over a real connection: the alert for a refused cookie reaches the client") {
    Setup s;
    Config other = s.server;
    other.cookie_key = TicketKey::generate<Crypto>();
    const Endpoint none;
    const auto now = Clock::now();
    TlsEngine client(Role::client, s.client), first(Role::server, s.server), second(Role::server, other);
    REQUIRE_FALSE(client.start(now));
    auto hello1 = client.poll_transmit();
    REQUIRE(hello1);
    REQUIRE_FALSE(first.receive(hello1->data, none, now));
    auto retry = first.poll_transmit();
    REQUIRE(retry);
    REQUIRE_FALSE(client.receive(retry->data, none, now));
    auto hello2 = client.poll_transmit();
    REQUIRE(hello2);
    CHECK(second.receive(hello2->data, none, now) == make_error_code(Error::hello_retry_cookie_unknown_key));
    auto alert = second.poll_transmit();
    REQUIRE(alert);
    CHECK(client.receive(alert->data, none, now) == peer_alert_error(AlertDescription::illegal_parameter));
}

TEST_CASE("TLS 1.3 0-RTT freshness window (RFC 8446 8.3): the pure check") {
    using std::chrono::milliseconds;
    const std::uint64_t issued = 1'700'000'000'000'000;  // microseconds
    const milliseconds window(10'000);
    // Same view, or the client's age rounded down (never above the server's).
    CHECK(ticket_age_fresh(issued, 5'000, issued + 5'000'999, window));
    CHECK(ticket_age_fresh(issued, 0, issued, window));
    // Exactly at the window edge, both ways, and just past it.
    CHECK(ticket_age_fresh(issued, 0, issued + 10'000'000, window));
    CHECK_FALSE(ticket_age_fresh(issued, 0, issued + 10'000'001, window));
    CHECK(ticket_age_fresh(issued, 20'000, issued + 10'000'000, window));
    CHECK_FALSE(ticket_age_fresh(issued, 20'001, issued + 10'000'000, window));
    // A replay captured an hour ago reports the age it had then.
    CHECK_FALSE(ticket_age_fresh(issued, 1'000, issued + 3'600'000'000, window));
    // A ticket "issued" after now (clock stepped back) is never fresh.
    CHECK_FALSE(ticket_age_fresh(issued, 0, issued - 1, window));
    // De-obfuscation wraps modulo 2^32 (4.2.11.1).
    CHECK(client_ticket_age_ms(5u, 0xffff'fffeu) == 7u);
    CHECK(client_ticket_age_ms(0x1000u + 1234u, 0x1000u) == 1234u);
}

TEST_CASE("TLS 1.3 0-RTT freshness over connections: a stale ticket age falls back to 1-RTT") {
    Setup s;
    s.server.groups = {};  // no retry here: 0-RTT is only for a first ClientHello
    auto cache = std::make_shared<InMemorySessionCache>();
    s.client.session_cache = cache;
    s.server.max_early_data = 16384;
    s.server.anti_replay = std::make_shared<AntiReplay>();
    s.server.ticket_key = TicketKey::generate<Crypto>();
    auto connect = [](Tls& client, Tls& server) {
        auto server_done = std::async(std::launch::async, [&] { return server.handshake(); });
        auto c = client.handshake();
        return std::pair{c, server_done.get()};
    };
    Bytes stored;
    {
        auto [a, b] = MemoryStream::pair();
        Tls client(Role::client, s.client, std::move(a));
        Tls server(Role::server, s.server, std::move(b));
        std::error_code c, e;  // not a structured binding: clang 14 cannot capture one in CHECK_MESSAGE's lambda
        std::tie(c, e) = connect(client, server);
        REQUIRE_MESSAGE(!c, c.message());
        REQUIRE_MESSAGE(!e, e.message());
        REQUIRE_FALSE(server.send(as_bytes("ticket follows")));
        REQUIRE(client.receive_message(std::chrono::seconds(5)).ok());
        REQUIRE(cache->size() == 1);
        stored = *cache->load("localhost");
    }
    struct Attempt {
        bool accepted = false, client_saw_rejection = false;
        std::error_code server_reason;  // early_data_rejected's reason; empty when accepted
    };
    auto resume_with_early_data = [&](const Config& server_config) {
        cache->store("localhost", stored);
        auto [a, b] = MemoryStream::pair();
        Tls client(Role::client, s.client, std::move(a));
        Tls server(Role::server, server_config, std::move(b));
        const std::string early = "early and maybe stale";
        REQUIRE_FALSE(client.send_early_data(as_bytes(early)));
        std::error_code c, e;
        std::tie(c, e) = connect(client, server);
        REQUIRE_MESSAGE(!c, c.message());  // never a failed handshake
        REQUIRE_MESSAGE(!e, e.message());
        CHECK(client.info().resumed);
        Attempt out;
        out.accepted = server.info().early_data_accepted;
        CHECK(client.early_data_accepted() == out.accepted);
        while (auto ev = client.next_event()) out.client_saw_rejection |= ev->kind == EventKind::early_data_rejected;
        while (auto ev = server.next_event())
            if (ev->kind == EventKind::early_data_rejected || ev->kind == EventKind::early_data_accepted)
                out.server_reason = ev->kind == EventKind::early_data_accepted ? std::error_code{} : ev->reason;
        auto got = server.receive_message(std::chrono::seconds(5));  // 0-RTT, or again under 1-RTT keys
        REQUIRE(got.ok());
        CHECK(std::string(got->begin(), got->end()) == early);
        return out;
    };
    // The server's clock is 30 s ahead of the client's report: stale, refused, not fatal.
    Config ahead = s.server;
    ahead.wall_clock = [] { return shifted(std::chrono::seconds(30)); };
    auto stale = resume_with_early_data(ahead);
    CHECK_FALSE(stale.accepted);
    CHECK(stale.client_saw_rejection);
    CHECK(stale.server_reason == tls13::Error::early_data_stale);
    // A wider window admits the same gap (and the stale try did not spend the ticket's single use).
    Config wide = ahead;
    wide.early_data_age_window = std::chrono::seconds(60);
    auto admitted = resume_with_early_data(wide);
    CHECK(admitted.accepted);
    CHECK_FALSE(admitted.server_reason);
    // Single use still holds after that.
    auto replay = resume_with_early_data(s.server);
    CHECK_FALSE(replay.accepted);
    CHECK(replay.server_reason == tls13::Error::early_data_replayed);
}

}  // namespace tls13_stateless_retry_test
