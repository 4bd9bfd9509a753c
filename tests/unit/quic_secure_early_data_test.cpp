// 0-RTT through the composition's own API: Secure<Tls13Handshake, QuicPacketProtection,
// MemoryDatagram>::send_early_data, the same call an application makes for TLS 1.3 over
// TCP. Accepted: the data goes in 0-RTT packets and the server reads it; refused (a
// restarted server: another ticket key): it is sent again in 1-RTT, counted, and
// reported (early_data_accepted() false, an early_data_rejected event).
#include <doctest/doctest.h>

#include <future>

#include <tapsec/core/secure.hpp>
#include <tapsec/transport/memory.hpp>

#include "support/quic_pair.hpp"

using namespace tapsec;
using namespace std::chrono_literals;

namespace quic_secure_early_data_test {

using QuicInMemory = Secure<Tls13Handshake, QuicPacketProtection, MemoryDatagram>;
static_assert(QuicInMemory::has<feature::ED>, "QUIC carries 0-RTT: the composition offers early data");
static_assert(requires(QuicInMemory& q, ByteView d) { { q.send_early_data(d) } -> std::same_as<std::error_code>; });

struct Setup {
    test::TestPki pki;
    test::QuicConfigs configs;
    std::shared_ptr<InMemorySessionCache> cache = std::make_shared<InMemorySessionCache>();

    Setup() {
        REQUIRE(pki.ok());
        configs = test::quic_configs(pki);
        configs.server.tickets_to_send = 1;
        configs.server.max_early_data = 0xffffffff;  // the QUIC server accepts 0-RTT (RFC 9001 4.6.1)
        configs.server.ticket_key = tls13::TicketKey::generate<crypto::DefaultProvider>();
        configs.server.anti_replay = std::make_shared<tls13::AntiReplay>();
        configs.client.session_cache = cache;
    }
};

/// A server on `transport`: reads `expected` bytes, answers "got:" + them, waits for the
/// client to go. Returns what it read, or what went wrong.
std::future<std::string> serve(const tls13::Config& config, MemoryDatagram transport, std::size_t expected,
                               std::shared_ptr<bool> accepted) {
    return std::async(std::launch::async, [config, t = std::move(transport), expected, accepted]() mutable -> std::string {
        QuicInMemory server(Role::server, config, std::move(t));
        if (auto ec = server.handshake()) return "server handshake: " + ec.message();
        std::string got;
        while (got.size() < expected) {
            auto m = server.receive_message(10s);
            if (!m) return "server receive: " + m.error().message();
            if (m->empty()) return "closed early after " + got;
            got.append(m->begin(), m->end());
        }
        *accepted = server.early_data_accepted();
        if (auto ec = server.send(as_bytes("got:" + got))) return "server send: " + ec.message();
        (void)server.receive_message(5s);  // the client's close (or its socket going away)
        return got;
    });
}

/// One full connection so the client's cache holds a ticket with the server's limits.
void first_connection(Setup& s) {
    auto [a, b] = MemoryDatagram::pair();
    auto accepted = std::make_shared<bool>(false);
    auto server = serve(s.configs.server, std::move(b), 5, accepted);
    QuicInMemory client(Role::client, s.configs.client, std::move(a));
    REQUIRE_FALSE(client.handshake());
    REQUIRE_FALSE(client.send(as_bytes("first")));
    auto reply = client.receive_message(10s);
    REQUIRE(reply);
    CHECK(std::string(reply->begin(), reply->end()) == "got:first");
    for (int i = 0; i < 50 && !s.cache->load("localhost"); ++i) (void)client.receive_message(100ms);
    REQUIRE(s.cache->load("localhost").has_value());
    client.close();
    CHECK(server.get() == "first");
}

const std::string request = "GET /index.html through Secure<>::send_early_data";

/// What a resumed connection that sent `request` with send_early_data saw.
struct Outcome {
    bool client_accepted = false, server_accepted = false, resumed = false;
    bool accepted_event = false, rejected_event = false;
    std::uint64_t sent_early = 0, sent_again = 0;
    std::string reply, server_read;
};

Outcome resume_with_early_data(Setup& s) {
    Outcome o;
    auto [a, b] = MemoryDatagram::pair();
    auto server_accepted = std::make_shared<bool>(false);
    auto server = serve(s.configs.server, std::move(b), request.size(), server_accepted);
    QuicInMemory client(Role::client, s.configs.client, std::move(a));
    REQUIRE_FALSE(client.send_early_data(as_bytes(request)));
    REQUIRE_FALSE(client.handshake());
    o.client_accepted = client.early_data_accepted();
    o.resumed = client.resumed();
    auto reply = client.receive_message(10s);
    REQUIRE(reply);
    o.reply.assign(reply->begin(), reply->end());
    o.sent_early = client.engine().stats().zero_rtt_bytes_sent;
    o.sent_again = client.engine().stats().zero_rtt_bytes_resent;
    while (auto e = client.next_event()) {
        o.accepted_event |= e->kind == EventKind::early_data_accepted;
        o.rejected_event |= e->kind == EventKind::early_data_rejected;
    }
    client.close();
    o.server_read = server.get();
    o.server_accepted = *server_accepted;
    return o;
}


TEST_CASE("QUIC Secure<>::send_early_data: accepted, the data goes in 0-RTT packets") {
    Setup s;
    first_connection(s);
    const Outcome o = resume_with_early_data(s);
    CHECK(o.client_accepted);
    CHECK(o.server_accepted);
    CHECK(o.resumed);
    CHECK(o.reply == "got:" + request);
    CHECK(o.server_read == request);
    CHECK(o.sent_early == request.size());
    CHECK(o.sent_again == 0);
    CHECK(o.accepted_event);
}

TEST_CASE("QUIC Secure<>::send_early_data: refused by a restarted server, sent again in 1-RTT and reported") {
    Setup s;
    first_connection(s);
    s.configs.server.ticket_key = tls13::TicketKey::generate<crypto::DefaultProvider>();  // the ticket no longer opens
    const Outcome o = resume_with_early_data(s);
    CHECK_FALSE(o.client_accepted);
    CHECK_FALSE(o.server_accepted);
    CHECK(o.reply == "got:" + request);  // nothing lost
    CHECK(o.server_read == request);
    CHECK(o.sent_early == request.size());
    CHECK(o.sent_again == request.size());
    CHECK(o.rejected_event);
}

TEST_CASE("QUIC Secure<>::send_early_data: a server cannot send early data, nor a client after starting") {
    Setup s;
    auto [a, b] = MemoryDatagram::pair();
    QuicInMemory server(Role::server, s.configs.server, std::move(b));
    CHECK(server.send_early_data(as_bytes("x")) == make_error_code(Errc::invalid_configuration));
    QuicInMemory client(Role::client, s.configs.client, std::move(a));
    REQUIRE_FALSE(client.engine().start(Clock::now()));
    CHECK(client.send_early_data(as_bytes("x")) == make_error_code(Errc::already_connected));
}

}  // namespace quic_secure_early_data_test
