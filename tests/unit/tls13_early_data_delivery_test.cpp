// TLS 1.3 early data is never lost (issue 9 item 8): whatever the client was given as
// early data and did not go as accepted 0-RTT arrives right after the handshake, in
// order, and an event says which path it took. One case per path, through the engine
// (Secure over MemoryStream): accepted, accepted in part (beyond the ticket's
// max_early_data_size), refused by the server, dropped for a HelloRetryRequest, not
// offered (no session, an external PSK, a ticket that allows no early data).
#include <doctest/doctest.h>

#include <future>

#include <tapsec/tapsec.hpp>
#include <tapsec/transport/memory.hpp>

#include "support/pki.hpp"

using namespace tapsec;
using Tls = Secure<Tls13Handshake, AeadRecord, MemoryStream>;

namespace tls13_early_data_delivery_test {

struct Setup {
    test::TestPki pki;
    tls13::Config client, server;
    std::shared_ptr<InMemorySessionCache> cache = std::make_shared<InMemorySessionCache>();
    Setup() {
        REQUIRE(pki.ok());
        auto leaf = pki.issue("early", test::KeyType::ed25519);
        server.identity = Identity(leaf.certificate_pem(), leaf.key_pem());
        server.anti_replay = std::make_shared<tls13::AntiReplay>();
        server.ticket_key = tls13::TicketKey::generate<crypto::Botan2>();
        client.trust.ca_certificates_pem = {pki.ca().certificate_pem()};
        client.server_name = "localhost";
        client.session_cache = cache;
    }
    /// One full handshake whose ticket allows `max_early` bytes; leaves it in the cache.
    void store_ticket(std::uint32_t max_early) {
        tls13::Config issuing = server;
        issuing.max_early_data = max_early;
        auto [a, b] = MemoryStream::pair();
        Tls c(Role::client, client, std::move(a));
        Tls s(Role::server, issuing, std::move(b));
        auto server_done = std::async(std::launch::async, [&] { return s.handshake(); });
        REQUIRE_FALSE(c.handshake());
        REQUIRE_FALSE(server_done.get());
        REQUIRE_FALSE(s.send(as_bytes("ticket follows")));
        REQUIRE(c.receive_message(std::chrono::seconds(5)).ok());  // the ticket came first
        REQUIRE(cache->size() == 1);
    }
};

struct Outcome {
    std::string received;             // everything the server read, in order
    std::vector<Event> client_events;  // early_data_* events only
    bool server_accepted_early = false;
};

/// A connection whose client is given `early` before the handshake; the server reads
/// until it has early.size() bytes (or five seconds pass).
Outcome run(const tls13::Config& client, const tls13::Config& server, const std::string& early) {
    auto [a, b] = MemoryStream::pair();
    Tls c(Role::client, client, std::move(a));
    Tls s(Role::server, server, std::move(b));
    REQUIRE_FALSE(c.send_early_data(as_bytes(early)));
    auto server_done = std::async(std::launch::async, [&] { return s.handshake(); });
    auto ce = c.handshake();
    auto se = server_done.get();
    REQUIRE_MESSAGE(!ce, ce.message());
    REQUIRE_MESSAGE(!se, se.message());
    Outcome out;
    out.server_accepted_early = s.info().early_data_accepted;
    while (out.received.size() < early.size()) {
        auto got = s.receive_message(std::chrono::seconds(5));
        REQUIRE_MESSAGE(got.ok(), got.error().message());
        out.received.append(got->begin(), got->end());
    }
    while (auto e = c.next_event())
        if (e->kind == EventKind::early_data_accepted || e->kind == EventKind::early_data_rejected)
            out.client_events.push_back(*e);
    return out;
}

std::string pattern(std::size_t n) {
    std::string s(n, '\0');
    for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>('a' + i % 26 + (i / 26 % 2) * ('A' - 'a'));
    return s;
}

void check_single_event(const Outcome& o, EventKind kind, std::error_code reason) {
    REQUIRE(o.client_events.size() == 1);
    CHECK(o.client_events[0].kind == kind);
    CHECK(o.client_events[0].reason == reason);
}


TEST_CASE("TLS 1.3 early data delivery: every path delivers every byte, once, in order") {
    Setup setup;
    tls13::Config server = setup.server;
    server.max_early_data = 16384;

    SUBCASE("accepted whole as 0-RTT") {
        setup.store_ticket(16384);
        const auto early = pattern(5000);
        auto o = run(setup.client, server, early);
        CHECK(o.received == early);
        CHECK(o.server_accepted_early);
        check_single_event(o, EventKind::early_data_accepted, {});
    }
    SUBCASE("larger than the ticket's max_early_data_size: a prefix as 0-RTT, the rest after") {
        setup.store_ticket(1000);
        server.max_early_data = 1000;
        const auto early = pattern(40000);  // several records after the handshake too
        auto o = run(setup.client, server, early);
        CHECK(o.received == early);
        CHECK(o.server_accepted_early);
        check_single_event(o, EventKind::early_data_accepted, make_error_code(tls13::Error::early_data_partly_sent));
    }
    SUBCASE("refused by the server (it has no anti-replay store now): all of it after the handshake") {
        setup.store_ticket(16384);
        server.anti_replay = nullptr;
        const auto early = pattern(3000);
        auto o = run(setup.client, server, early);
        CHECK(o.received == early);
        CHECK_FALSE(o.server_accepted_early);
        check_single_event(o, EventKind::early_data_rejected,
                           make_error_code(tls13::Error::early_data_refused_by_server));
    }
    SUBCASE("partly offered and refused: the offered prefix and the rest, in order") {
        setup.store_ticket(700);
        server.anti_replay = nullptr;
        const auto early = pattern(2000);
        auto o = run(setup.client, server, early);
        CHECK(o.received == early);
        check_single_event(o, EventKind::early_data_rejected,
                           make_error_code(tls13::Error::early_data_refused_by_server));
    }
    SUBCASE("a HelloRetryRequest drops 0-RTT: all of it after the handshake") {
        setup.store_ticket(16384);
        server.groups = {"secp256r1", "x25519"};  // the client's share is X25519: a retry
        const auto early = pattern(2500);
        auto o = run(setup.client, server, early);
        CHECK(o.received == early);
        check_single_event(o, EventKind::early_data_rejected,
                           make_error_code(tls13::Error::early_data_after_hello_retry));
    }
    SUBCASE("the ticket allows no early data: not offered, sent after the handshake") {
        setup.store_ticket(0);
        const auto early = pattern(1200);
        auto o = run(setup.client, server, early);
        CHECK(o.received == early);
        CHECK_FALSE(o.server_accepted_early);
        check_single_event(o, EventKind::early_data_rejected,
                           make_error_code(tls13::Error::early_data_not_allowed_by_ticket));
    }
    SUBCASE("no session at all: not offered, sent after the handshake") {
        const auto early = pattern(20000);
        auto o = run(setup.client, server, early);
        CHECK(o.received == early);
        CHECK_FALSE(o.server_accepted_early);
        check_single_event(o, EventKind::early_data_rejected, make_error_code(tls13::Error::early_data_no_session));
    }
    SUBCASE("an external PSK carries no early data permission: not offered, sent after") {
        tls13::Config client, psk_server;
        const Bytes key(32, 0x42);
        client.pre_shared_keys.push_back({"ed-client", SecretBytes(key.begin(), key.end())});
        psk_server.pre_shared_keys = client.pre_shared_keys;
        psk_server.max_early_data = 16384;
        const auto early = pattern(100);
        auto o = run(client, psk_server, early);
        CHECK(o.received == early);
        check_single_event(o, EventKind::early_data_rejected, make_error_code(tls13::Error::early_data_no_session));
    }
}

TEST_CASE("TLS 1.3 early data delivery: the events' reasons read as one clear line each") {
    using tls13::Error;
    for (auto e : {Error::early_data_no_session, Error::early_data_not_allowed_by_ticket, Error::early_data_partly_sent,
                   Error::early_data_refused_by_server, Error::early_data_after_hello_retry}) {
        const auto ec = make_error_code(e);
        CHECK(ec.message().find("early data") != std::string::npos);
        CHECK(ec.message().find('\n') == std::string::npos);
        CHECK(tls13::alert_for(e) == tls13::AlertDescription::internal_error);  // never sent: not a failure
    }
}

}  // namespace tls13_early_data_delivery_test
