// The QUIC server endpoint (quic/endpoint.hpp) in memory: many clients on one "socket",
// datagrams routed by destination connection ID. Table-driven routing cases (a new
// Initial, a short header routed, an unknown CID reset, a too-small Initial, an unknown
// version, max connections refused with CONNECTION_REFUSED, max pending handshakes),
// NEW_CONNECTION_ID CIDs routed and retired ones quiet, a migrating client still routed,
// 0-RTT packets that arrive before their Initial buffered and replayed (or expired),
// Retry through the endpoint, and close_all.
#include <doctest/doctest.h>

#include "support/quic_pair.hpp"

using namespace tapsec;
using namespace tapsec::quic;

namespace quic_endpoint_test {

using Server = ServerEndpoint<>;
using Client = Connection<>;

/// One ServerEndpoint and any number of clients, joined in memory with a simulated clock.
/// The server's application echoes each stream back (with FIN once the client's FIN came).
struct Net {
    test::TestPki pki;
    test::QuicConfigs configs;
    Instant now = Instant{} + std::chrono::seconds(1000);
    Endpoint server_ep = *Endpoint::parse("127.0.0.1", 4433);
    std::unique_ptr<Server> server;
    struct Peer {
        std::unique_ptr<Client> conn;
        Endpoint ep;
    };
    std::vector<Peer> clients;
    struct Flight {
        Bytes data;
        Endpoint from;
        std::optional<std::size_t> to_client;  // nullopt: to the server
    };
    std::deque<Flight> in_flight;
    // Sees each datagram before it is delivered: false drops it (the test may keep a copy).
    std::function<bool(const Flight&)> filter;
    std::set<Server::Handle> accepted;
    std::vector<Server::Finished> finished;
    std::map<std::pair<Server::Handle, std::uint64_t>, std::string> served;  // what the server got

    explicit Net(Settings server_settings = {}, EndpointLimits limits = {}, tls13::Config* server_tls = nullptr) {
        REQUIRE(pki.ok());
        configs = test::quic_configs(pki);
        server = std::make_unique<Server>(server_tls ? *server_tls : configs.server, server_settings, limits);
    }

    std::size_t add_client(Settings s = {}, const tls13::Config* tls = nullptr) {
        Peer p;
        p.conn = std::make_unique<Client>(Role::client, tls ? *tls : configs.client, s);
        p.ep = *Endpoint::parse("127.0.0.1", static_cast<std::uint16_t>(50000 + clients.size()));
        clients.push_back(std::move(p));
        return clients.size() - 1;
    }

    bool pump() {
        bool moved = false;
        Bytes buf(max_transmit_size);
        for (std::size_t i = 0; i < clients.size(); ++i)
            while (auto t = clients[i].conn->poll_transmit(MutableByteView(buf))) {
                in_flight.push_back({Bytes(buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(t->size)), clients[i].ep, {}});
                moved = true;
            }
        while (auto t = server->poll_transmit(MutableByteView(buf))) {
            moved = true;
            for (std::size_t i = 0; i < clients.size(); ++i)
                if (clients[i].ep == t->to)
                    in_flight.push_back({Bytes(buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(t->size)), server_ep, i});
        }
        return moved;
    }
    bool deliver() {
        bool moved = false;
        while (!in_flight.empty()) {
            Flight f = std::move(in_flight.front());
            in_flight.pop_front();
            moved = true;
            if (filter && !filter(f)) continue;
            if (f.to_client) clients[*f.to_client].conn->receive(f.data, f.from, now);
            else server->receive(f.data, f.from, now);
        }
        return moved;
    }
    /// The server's application: an echo on every bidirectional stream.
    void serve() {
        while (auto h = server->poll_accepted()) accepted.insert(*h);
        for (auto h : accepted) {
            auto* c = server->connection(h);
            if (!c) continue;
            while (auto s = c->poll_stream()) {
                served[{h, s->id}].append(s->data.begin(), s->data.end());
                if (!s->data.empty() || s->fin) c->stream_send(s->id, s->data, s->fin, now);
            }
            server->update(h);
        }
        while (auto f = server->poll_finished()) finished.push_back(std::move(*f));
    }

    template <class Done>
    bool run(Done done, std::chrono::milliseconds limit = std::chrono::seconds(20)) {
        const Instant end = now + limit;
        while (now < end) {
            serve();
            if (done()) return true;
            bool moved = pump();
            moved |= deliver();
            serve();
            if (done()) return true;
            if (moved) continue;
            std::optional<Instant> next;
            auto consider = [&](std::optional<Instant> t) {
                if (t && (!next || *t < *next)) next = t;
            };
            for (auto& p : clients) consider(p.conn->next_timeout());
            consider(server->next_timeout());
            if (!next) return done();
            now = std::max(now + std::chrono::milliseconds(1), *next);
            for (auto& p : clients)
                if (auto t = p.conn->next_timeout(); t && *t <= now) p.conn->on_timeout(now);
            if (auto t = server->next_timeout(); t && *t <= now) server->on_timeout(now);
        }
        return done();
    }

    /// Starts client `i`, sends `text` with FIN on stream 0 and runs until it is echoed.
    std::string echo(std::size_t i, const std::string& text) {
        Client& c = *clients[i].conn;
        REQUIRE_FALSE(c.stream_send(0, as_bytes(text), true, now));
        std::string got;
        bool fin = false;
        REQUIRE(run([&] {
            while (auto s = c.poll_stream()) {
                got.append(s->data.begin(), s->data.end());
                fin |= s->fin;
            }
            return fin;
        }));
        return got;
    }
};

/// A datagram of `size` bytes: one long header of `type` bits, version `version`, DCID `dcid`.
Bytes long_header_datagram(std::uint8_t first, std::uint32_t version, ByteView dcid, std::size_t size) {
    Bytes d;
    d.push_back(first);
    for (int i = 3; i >= 0; --i) d.push_back(static_cast<std::uint8_t>(version >> (8 * i)));
    d.push_back(static_cast<std::uint8_t>(dcid.size()));
    append(d, dcid);
    d.push_back(8);
    for (int i = 0; i < 8; ++i) d.push_back(0x11);
    if ((first & 0x30) == 0) d.push_back(0);  // Initial: empty token
    const std::size_t length = size - d.size() - 2;
    write_varint(d, length, 2);
    d.resize(size, 0x5a);
    return d;
}


TEST_CASE("QUIC endpoint: several clients at once, each routed to its own connection") {
    Net net;
    for (int i = 0; i < 4; ++i) net.add_client();
    for (std::size_t i = 0; i < net.clients.size(); ++i) {
        REQUIRE_FALSE(net.clients[i].conn->start(net.now));
        const std::string text = "client " + std::to_string(i) + " says hello";
        REQUIRE_FALSE(net.clients[i].conn->stream_send(0, as_bytes(text), true, net.now));
    }
    // All four handshakes run interleaved: the endpoint holds four connections.
    std::vector<std::string> got(net.clients.size());
    std::vector<bool> fin(net.clients.size());
    REQUIRE(net.run([&] {
        for (std::size_t i = 0; i < net.clients.size(); ++i)
            while (auto s = net.clients[i].conn->poll_stream()) {
                got[i].append(s->data.begin(), s->data.end());
                fin[i] = fin[i] || s->fin;
            }
        return std::all_of(fin.begin(), fin.end(), [](bool b) { return b; });
    }));
    for (std::size_t i = 0; i < net.clients.size(); ++i) CHECK(got[i] == "client " + std::to_string(i) + " says hello");
    CHECK(net.server->connection_count() == 4);
    CHECK(net.server->stats().connections_accepted == 4);
    CHECK(net.server->pending_handshakes() == 0);
    // Every CID a server connection issued (its first and the NEW_CONNECTION_ID ones) routes to it.
    REQUIRE(net.run([&] {
        for (auto h : net.accepted)
            if (net.server->connection(h)->local_cids().size() < 2) return false;
        return true;
    }));
    std::size_t cids = 0;
    for (auto h : net.accepted) {
        for (const auto& [seq, cid] : net.server->connection(h)->local_cids()) {
            CHECK(net.server->routes_to(cid, h));
            ++cids;
        }
    }
    CHECK(cids >= 8);
    // Confirmed handshakes: the original DCIDs are no longer routed.
    CHECK(net.server->routes() == cids);
}

TEST_CASE("QUIC endpoint: routing, table-driven") {
    Net net;
    const Bytes dcid8(8, 0x42);
    struct Case {
        const char* name;
        Bytes datagram;
        std::uint64_t EndpointStats::*counter;
        bool answered;  // a datagram goes back (VN / Stateless Reset)
    };
    Bytes short_header(60, 0x33);
    short_header[0] = 0x40;  // short header, fixed bit
    Bytes tiny_short(20, 0x33);
    tiny_short[0] = 0x40;
    const Case cases[] = {
        {"Initial in a 1199-byte datagram", long_header_datagram(0xc0, version_1, dcid8, 1199),
         &EndpointStats::initials_too_small, false},
        {"Initial with a 4-byte DCID", long_header_datagram(0xc0, version_1, Bytes(4, 1), 1200), &EndpointStats::malformed,
         false},
        {"unknown version, 1200 bytes", long_header_datagram(0xc0, 0x1a2a3a4a, dcid8, 1200),
         &EndpointStats::version_negotiations_sent, true},
        {"unknown version, 200 bytes", long_header_datagram(0xc0, 0x1a2a3a4a, dcid8, 200), &EndpointStats::malformed, false},
        {"Handshake packet, unknown CID", long_header_datagram(0xe0, version_1, dcid8, 1200),
         &EndpointStats::unknown_cid_dropped, false},
        {"short header, unknown CID", short_header, &EndpointStats::stateless_resets_sent, true},
        {"short header shorter than any packet", tiny_short, &EndpointStats::malformed, false},
        {"garbage", Bytes{0x00, 0x01}, &EndpointStats::malformed, false},
    };
    const Endpoint from = *Endpoint::parse("127.0.0.1", 40000);
    for (const auto& c : cases) {
        CAPTURE(c.name);
        const std::uint64_t before = net.server->stats().*c.counter;
        net.server->receive(c.datagram, from, net.now);
        CHECK(net.server->stats().*c.counter == before + 1);
        Bytes out(max_transmit_size);
        auto t = net.server->poll_transmit(MutableByteView(out));
        CHECK(t.has_value() == c.answered);
        if (t) {
            CHECK(t->to == from);
            CHECK(t->size < c.datagram.size());  // never amplifies
        }
        CHECK(net.server->connection_count() == 0);
    }
    // The Stateless Reset carries the token of the CID under the endpoint's reset key.
    net.server->receive(short_header, from, net.now);
    Bytes out(max_transmit_size);
    auto t = net.server->poll_transmit(MutableByteView(out));
    REQUIRE(t);
    const auto token = stateless_reset_token<crypto::DefaultProvider>(net.server->settings().reset_key,
                                                                      ConnectionId(ByteView(short_header).subspan(1, 8)));
    CHECK(std::equal(token.begin(), token.end(), out.begin() + static_cast<std::ptrdiff_t>(t->size - token.size())));
}

TEST_CASE("QUIC endpoint: a full endpoint refuses with CONNECTION_REFUSED; pending handshakes are bounded") {
    SUBCASE("max_connections") {
        EndpointLimits limits;
        limits.max_connections = 1;
        Net net({}, limits);
        net.add_client();
        net.add_client();
        REQUIRE_FALSE(net.clients[0].conn->start(net.now));
        REQUIRE(net.run([&] { return net.clients[0].conn->is_established(); }));
        REQUIRE_FALSE(net.clients[1].conn->start(net.now));
        REQUIRE(net.run([&] { return net.clients[1].conn->is_closed(); }));
        auto close = net.clients[1].conn->peer_close();
        REQUIRE(close);
        CHECK_FALSE(close->first);  // transport
        CHECK(close->second == static_cast<std::uint64_t>(TransportError::connection_refused));
        CHECK(net.clients[1].conn->error());
        CHECK(net.server->stats().connections_refused >= 1);
        CHECK(net.server->connection_count() == 1);
        CHECK(net.clients[0].conn->is_established());  // the first is untouched
    }
    SUBCASE("max_pending_handshakes") {
        EndpointLimits limits;
        limits.max_pending_handshakes = 1;
        Net net({}, limits);
        net.add_client();
        net.add_client();
        // Client 0's flight is held back from the server after its first Initial: it stays pending.
        bool hold = true;
        net.filter = [&](const Net::Flight& f) { return !(hold && f.to_client && *f.to_client == 0); };
        REQUIRE_FALSE(net.clients[0].conn->start(net.now));
        net.pump();
        net.deliver();
        CHECK(net.server->pending_handshakes() == 1);
        REQUIRE_FALSE(net.clients[1].conn->start(net.now));
        net.pump();
        net.deliver();
        CHECK(net.server->stats().initials_dropped_pending == 1);
        CHECK(net.server->connection_count() == 1);
        // Once client 0 is through, client 1's retransmitted Initial is taken.
        hold = false;
        REQUIRE(net.run([&] { return net.clients[0].conn->is_established() && net.clients[1].conn->is_established(); }));
        CHECK(net.server->connection_count() == 2);
    }
}

TEST_CASE("QUIC endpoint: a pending handshake that stalls is dropped after handshake_timeout") {
    EndpointLimits limits;
    limits.handshake_timeout = std::chrono::milliseconds(2000);
    Net net({}, limits);
    net.add_client();
    net.filter = [](const Net::Flight& f) { return !f.to_client; };  // the client never hears back
    REQUIRE_FALSE(net.clients[0].conn->start(net.now));
    REQUIRE(net.run([&] { return !net.finished.empty(); }, std::chrono::seconds(5)));
    CHECK(net.finished[0].error == make_error_code(Error::handshake_timeout));
    CHECK(net.server->stats().handshakes_timed_out == 1);
    CHECK(net.server->connection_count() == 0);
}

TEST_CASE("QUIC endpoint: a migrating client keeps being routed by CID; retired CIDs stay quiet") {
    Net net;
    net.add_client();
    Client& client = *net.clients[0].conn;
    REQUIRE_FALSE(client.start(net.now));
    REQUIRE(net.run([&] { return client.handshake_confirmed() && client.peer_cids_held() >= 2; }));
    const ConnectionId old_cid = client.peer_cid();
    // The client's socket moves: a new local port (and address), a fresh CID of the server's.
    net.clients[0].ep = *Endpoint::parse("127.0.0.2", 50999);
    REQUIRE_FALSE(client.migrate_local(net.now));
    REQUIRE_FALSE(client.stream_send(0, as_bytes(std::string("after the move")), true, net.now));
    std::string got;
    bool fin = false;
    REQUIRE(net.run([&] {
        while (auto s = client.poll_stream()) {
            got.append(s->data.begin(), s->data.end());
            fin |= s->fin;
        }
        return fin;
    }));
    CHECK(got == "after the move");
    CHECK_FALSE(client.peer_cid() == old_cid);
    REQUIRE(net.accepted.size() == 1);
    const auto h = *net.accepted.begin();
    auto* conn = net.server->connection(h);
    REQUIRE(conn);
    CHECK(conn->peer_address() == net.clients[0].ep);
    CHECK(net.server->routes_to(client.peer_cid(), h));
    // The old CID was retired (RETIRE_CONNECTION_ID): no longer routed, and a packet to it
    // is dropped quietly (no Stateless Reset) during the draining period.
    REQUIRE(net.run([&] { return !net.server->routes_to(old_cid, h); }));
    Bytes stray(60, 0x33);
    stray[0] = 0x40;
    std::copy(old_cid.view().begin(), old_cid.view().end(), stray.begin() + 1);
    const auto quiet_before = net.server->stats().draining_dropped;
    net.server->receive(stray, net.clients[0].ep, net.now);
    CHECK(net.server->stats().draining_dropped == quiet_before + 1);
}

TEST_CASE("QUIC endpoint: Retry through the endpoint (the token key is the endpoint's)") {
    Settings s;
    s.retry = true;
    Net net(s);
    net.add_client();
    REQUIRE_FALSE(net.clients[0].conn->start(net.now));
    CHECK(net.echo(0, "validated first") == "validated first");
    CHECK(net.clients[0].conn->retried());
    CHECK(net.server->stats().retries_sent == 1);
    CHECK(net.server->stats().connections_accepted == 1);
}

TEST_CASE("QUIC endpoint: 0-RTT packets that arrive before their Initial are buffered and replayed") {
    test::TestPki pki;
    REQUIRE(pki.ok());
    auto cache = std::make_shared<InMemorySessionCache>();
    auto configs = test::quic_resumption_configs(pki, cache);
    Settings early;
    early.early_data = true;
    Net net(early, {}, &configs.server);
    // A first connection leaves a session with 0-RTT allowed.
    net.add_client(early, &configs.client);
    REQUIRE_FALSE(net.clients[0].conn->start(net.now));
    REQUIRE(net.run([&] { return cache->load("localhost").has_value(); }));

    // Early data in several datagrams: the first carries the Initial (and some 0-RTT),
    // the next ones only 0-RTT packets.
    std::string early_text;
    for (int k = 0; early_text.size() < 3000; ++k) early_text += "early line " + std::to_string(k) + "\n";

    SUBCASE("reordered: 0-RTT first, then the Initial") {
        const auto i = net.add_client(early, &configs.client);
        Client& c = *net.clients[i].conn;
        REQUIRE_FALSE(c.start(net.now));
        REQUIRE(c.early_data_offered());
        REQUIRE_FALSE(c.stream_send(0, as_bytes(early_text), true, net.now));
        net.pump();
        // The client's first flight: the Initial datagram, then 0-RTT ones. Deliver the 0-RTT ones first.
        std::vector<Net::Flight> initials, zero_rtt;
        for (auto& f : net.in_flight) {
            if (f.to_client || f.from != net.clients[i].ep) continue;
            auto h = parse_header(f.data, 8);
            REQUIRE(h);
            (h->type == PacketType::zero_rtt ? zero_rtt : initials).push_back(f);
        }
        net.in_flight.clear();
        REQUIRE_FALSE(zero_rtt.empty());
        REQUIRE_FALSE(initials.empty());
        for (auto& f : zero_rtt) net.server->receive(f.data, f.from, net.now);
        CHECK(net.server->early_buffered() == zero_rtt.size());
        CHECK(net.server->connection_count() == 1);  // nothing created by 0-RTT
        for (auto& f : initials) net.server->receive(f.data, f.from, net.now);
        CHECK(net.server->early_buffered() == 0);
        CHECK(net.server->stats().early_replayed == zero_rtt.size());
        std::string got;
        bool fin = false;
        REQUIRE(net.run([&] {
            while (auto s = c.poll_stream()) {
                got.append(s->data.begin(), s->data.end());
                fin |= s->fin;
            }
            return fin;
        }));
        CHECK(got == early_text);
        CHECK(c.session_info().early_data_accepted);
        CHECK(c.stats().zero_rtt_bytes_resent == 0);  // taken from 0-RTT, not sent again
        std::uint64_t zero_rtt_received = 0;
        for (auto h : net.accepted)
            if (auto* sc = net.server->connection(h)) zero_rtt_received += sc->stats().zero_rtt_packets_received;
        CHECK(zero_rtt_received >= zero_rtt.size());
    }
    SUBCASE("bounded, and dropped after early_lifetime") {
        const auto i = net.add_client(early, &configs.client);
        Client& c = *net.clients[i].conn;
        REQUIRE_FALSE(c.start(net.now));
        REQUIRE_FALSE(c.stream_send(0, as_bytes(early_text), true, net.now));
        net.pump();
        Bytes zero_rtt;
        for (auto& f : net.in_flight)
            if (!f.to_client)
                if (auto h = parse_header(f.data, 8); h && h->type == PacketType::zero_rtt) zero_rtt = f.data;
        net.in_flight.clear();
        REQUIRE_FALSE(zero_rtt.empty());
        for (int k = 0; k < 6; ++k) net.server->receive(zero_rtt, net.clients[i].ep, net.now);
        CHECK(net.server->early_buffered() == EndpointLimits{}.early_packets_per_cid);
        CHECK(net.server->stats().early_dropped == 2);
        net.now += EndpointLimits{}.early_lifetime;
        net.server->on_timeout(net.now);
        CHECK(net.server->early_buffered() == 0);
        CHECK(net.server->stats().early_expired == EndpointLimits{}.early_packets_per_cid);
    }
}

TEST_CASE("QUIC endpoint: close_all closes every connection with CONNECTION_CLOSE") {
    Settings s;
    s.application_close_code = 0x100;
    Net net(s);
    for (int i = 0; i < 3; ++i) {
        Settings cs;
        cs.application_close_code = 0x100;
        net.add_client(cs);
        REQUIRE_FALSE(net.clients.back().conn->start(net.now));
    }
    // Handshakes confirmed on both sides: the close goes in 1-RTT (below it, RFC 9000
    // 10.2.3 turns an application close into a transport APPLICATION_ERROR).
    REQUIRE(net.run([&] {
        return net.server->pending_handshakes() == 0 &&
               std::all_of(net.clients.begin(), net.clients.end(), [](auto& p) { return p.conn->handshake_confirmed(); });
    }));
    net.server->close_all(net.now);
    REQUIRE(net.run([&] {
        return std::all_of(net.clients.begin(), net.clients.end(), [](auto& p) { return p.conn->is_closed(); });
    }));
    for (auto& p : net.clients) {
        auto close = p.conn->peer_close();
        REQUIRE(close);
        CHECK(close->first);
        CHECK(close->second == 0x100);
        CHECK_FALSE(p.conn->error());  // a clean close
    }
    CHECK(net.server->connection_count() == 0);
    CHECK(net.finished.size() == 3);
    CHECK(net.server->routes() == 0);
}

}  // namespace quic_endpoint_test
