// QUIC address validation, connection IDs, stateless reset and path migration, tapsec
// client against tapsec server in memory (RFC 9000 8, 5.1, 10.3, 9): a Retry server and
// its tokens (bound to the address, expiring, sealed under the server's key), NEW_TOKEN
// reuse, the original_destination_connection_id check after a forged Retry,
// NEW_CONNECTION_ID / RETIRE_CONNECTION_ID and their limits, Stateless Reset sent by a
// restarted server and detected by the client, and a client that moves (NAT rebinding,
// a new address, a spoofed one held to 3x and abandoned when it does not answer).
#include <doctest/doctest.h>

#include "support/quic_pair.hpp"

using namespace tapsec;
using namespace tapsec::quic;

namespace quic_paths_test {

using Conn = quic::Connection<>;

Endpoint ep(const char* host, std::uint16_t port) { return *Endpoint::parse(host, port); }

SecretBytes key_of(std::uint8_t fill) { return SecretBytes(32, fill); }

/// A client and a server with zero-latency delivery and addresses: the client sends
/// from `client_ep`; the server's datagrams reach the client only when addressed to
/// one of `client_owns` (a spoofed address gets nothing back).
struct Net {
    Conn client, server;
    Endpoint server_ep = ep("127.0.0.1", 4433), client_ep = ep("127.0.0.1", 50000);
    std::vector<Endpoint> client_owns{ep("127.0.0.1", 50000)};
    Instant now = Instant{} + std::chrono::hours(1000);
    std::map<std::string, std::size_t> sent_to;  // bytes the server addressed to each endpoint
    bool deliver_to_server = true;

    Net(const test::QuicConfigs& c, Settings client_settings = {}, Settings server_settings = {})
        : client(Role::client, c.client, client_settings), server(Role::server, c.server, server_settings) {}

    bool owns(const Endpoint& e) const { return std::find(client_owns.begin(), client_owns.end(), e) != client_owns.end(); }

    bool step() {
        bool moved = false;
        while (auto t = client.poll_transmit()) {
            moved = true;
            if (deliver_to_server) server.receive(t->data, client_ep, now);
        }
        while (auto t = server.poll_transmit()) {
            moved = true;
            const Endpoint to = t->to ? *t->to : client_ep;
            sent_to[to.to_string()] += t->data.size();
            if (owns(to)) client.receive(t->data, server_ep, now);
        }
        return moved;
    }

    template <class Done>
    bool run(Done done, std::chrono::milliseconds limit = std::chrono::seconds(30)) {
        const Instant end = now + limit;
        while (now < end) {
            if (done()) return true;
            if (step()) continue;
            std::optional<Instant> next;
            for (auto t : {client.next_timeout(), server.next_timeout()})
                if (t && (!next || *t < *next)) next = t;
            if (!next) return done();
            if (*next > end) {  // nothing before the limit: stop there, no timer fires early
                now = end;
                break;
            }
            now = std::max(now, *next);
            if (auto t = client.next_timeout(); t && *t <= now) client.on_timeout(now);
            if (auto t = server.next_timeout(); t && *t <= now) server.on_timeout(now);
        }
        return done();
    }

    bool handshake() {
        if (client.start(now)) return false;
        return run([&] { return client.handshake_confirmed() && server.handshake_confirmed(); });
    }
};

/// Sends `size` bytes server -> client on stream 0 (after the client opened it) and
/// returns whether all arrived intact.
bool server_to_client(Net& n, std::size_t size) {
    if (n.client.send(as_bytes("GET"), n.now)) return false;
    if (!n.run([&] { return n.server.poll_plaintext().has_value(); })) return false;
    Bytes body(size);
    for (std::size_t i = 0; i < size; ++i) body[i] = static_cast<std::uint8_t>(i * 7 + (i >> 10));
    if (n.server.stream_send(0, body, false, n.now)) return false;
    Bytes got;
    n.run([&] {
        while (auto v = n.client.poll_plaintext()) append(got, *v);
        return got.size() >= size;
    });
    return got == body;
}

std::optional<Header> header_of(const Bytes& datagram) {
    auto h = parse_header(datagram, 8);
    if (!h) return std::nullopt;
    return *h;
}

/// The first datagram a client sends, with `token` (NEW_TOKEN) if given.
Bytes first_initial(const test::QuicConfigs& c, Bytes token, Instant now) {
    Settings s;
    s.initial_token = std::move(token);
    Conn client(Role::client, c.client, s);
    REQUIRE_FALSE(client.start(now));
    auto t = client.poll_transmit();
    REQUIRE(t);
    return t->data;
}

enum class Answer { retry, handshake, dropped };

Answer answer_of(Conn& server) {
    auto t = server.poll_transmit();
    if (!t) return Answer::dropped;
    auto h = header_of(t->data);
    REQUIRE(h);
    return h->type == PacketType::retry ? Answer::retry : Answer::handshake;
}


TEST_CASE("QUIC Retry: the server answers without state, the client follows, the address counts as validated") {
    test::TestPki pki;
    REQUIRE(pki.ok());
    const auto configs = test::quic_configs(pki);
    Settings server_settings;
    server_settings.retry = true;
    Net n(configs, {}, server_settings);
    REQUIRE_FALSE(n.client.start(n.now));
    // The first Initial: a Retry comes back and the server keeps no connection state.
    auto first = n.client.poll_transmit();
    REQUIRE(first);
    n.server.receive(first->data, n.client_ep, n.now);
    CHECK_FALSE(n.server.address_validated());
    auto retry = n.server.poll_transmit();
    REQUIRE(retry);
    REQUIRE(header_of(retry->data));
    CHECK(header_of(retry->data)->type == PacketType::retry);
    CHECK(n.server.stats().retries_sent == 1);
    CHECK_FALSE(n.server.poll_transmit());
    n.client.receive(retry->data, n.server_ep, n.now);
    CHECK(n.client.retried());
    // The second Initial carries the token: validated at once, before any Handshake packet.
    auto second = n.client.poll_transmit();
    REQUIRE(second);
    const auto h = header_of(second->data);
    REQUIRE(h);
    CHECK_FALSE(h->token.empty());
    n.server.receive(second->data, n.client_ep, n.now);
    CHECK(n.server.address_validated());
    REQUIRE(n.run([&] { return n.client.handshake_confirmed() && n.server.handshake_confirmed(); }));
    // The client checked both CIDs the Retry involved (RFC 9000 7.3).
    const auto& tp = n.client.peer_transport_parameters();
    REQUIRE(tp);
    REQUIRE(tp->retry_source_connection_id);
    CHECK(*tp->retry_source_connection_id == h->dcid);
    CHECK(server_to_client(n, 100000));
}

TEST_CASE("QUIC NEW_TOKEN: issued after the handshake; a later connection with it skips Retry and the 3x limit") {
    test::TestPki pki;
    REQUIRE(pki.ok());
    const auto configs = test::quic_configs(pki);
    Settings server_settings;
    server_settings.retry = true;
    server_settings.token_key = key_of(0x51);
    Net first(configs, {}, server_settings);
    REQUIRE(first.handshake());
    REQUIRE(first.run([&] { return !first.client.new_token().empty(); }));
    const Bytes token = first.client.new_token();

    // A new connection from another port of the same host, to a server with the same key.
    Settings client_settings;
    client_settings.initial_token = token;
    Net second(configs, client_settings, server_settings);
    second.client_ep = second.client_owns[0] = ep("127.0.0.1", 50001);
    REQUIRE_FALSE(second.client.start(second.now));
    auto initial = second.client.poll_transmit();
    REQUIRE(initial);
    second.server.receive(initial->data, second.client_ep, second.now);
    CHECK(second.server.address_validated());
    CHECK(second.server.validated_by_token());
    CHECK(answer_of(second.server) == Answer::handshake);
    REQUIRE(second.run([&] { return second.client.handshake_confirmed() && second.server.handshake_confirmed(); }));
    CHECK(second.server.stats().retries_sent == 0);
    CHECK_FALSE(second.client.retried());

    // Without a token the same kind of server holds a client to 3x until validated.
    Settings plain;
    plain.token_key = key_of(0x51);
    Conn server(Role::server, configs.server, plain);
    server.receive(first_initial(configs, {}, second.now), second.client_ep, second.now);
    CHECK_FALSE(server.address_validated());
    CHECK_FALSE(server.validated_by_token());
}

TEST_CASE("QUIC negative: address-validation tokens that must not validate (RFC 9000 8.1)") {
    test::TestPki pki;
    REQUIRE(pki.ok());
    const auto configs = test::quic_configs(pki);
    Settings retry_server;
    retry_server.retry = true;
    retry_server.token_key = key_of(0x42);
    const Instant t0 = Instant{} + std::chrono::hours(1000);
    const Endpoint home = ep("127.0.0.1", 50000);

    // A genuine second Initial (with a Retry token) from `home`.
    Conn client(Role::client, configs.client);
    REQUIRE_FALSE(client.start(t0));
    auto first = client.poll_transmit();
    REQUIRE(first);
    Conn issuer(Role::server, configs.server, retry_server);
    issuer.receive(first->data, home, t0);
    auto retry = issuer.poll_transmit();
    REQUIRE(retry);
    client.receive(retry->data, ep("127.0.0.1", 4433), t0);
    auto second = client.poll_transmit();
    REQUIRE(second);
    const Bytes retried_initial = second->data;
    const auto retried_header = header_of(retried_initial);
    REQUIRE(retried_header);
    const Bytes retry_token(retried_header->token.begin(), retried_header->token.end());

    // A NEW_TOKEN token for 127.0.0.1.
    Net issued(configs, {}, retry_server);
    REQUIRE(issued.handshake());
    REQUIRE(issued.run([&] { return !issued.client.new_token().empty(); }));
    const Bytes new_token = issued.client.new_token();

    struct Case {
        const char* name;
        Bytes datagram;
        Endpoint from;
        Instant at;
        SecretBytes key;
        bool retry;
        Answer expected;
        bool validated;
    };
    const auto lifetime = Settings{}.retry_token_lifetime;
    const auto new_token_lifetime = Settings{}.new_token_lifetime;
    const Case cases[] = {
        {"Retry token, same address", retried_initial, home, t0, key_of(0x42), true, Answer::handshake, true},
        {"Retry token from another port", retried_initial, ep("127.0.0.1", 50002), t0, key_of(0x42), true, Answer::dropped, false},
        {"Retry token from another host", retried_initial, ep("127.0.0.2", 50000), t0, key_of(0x42), true, Answer::dropped, false},
        {"Retry token expired", retried_initial, home, t0 + lifetime + std::chrono::seconds(1), key_of(0x42), true,
         Answer::dropped, false},
        {"Retry token from the future", retried_initial, home, t0 - std::chrono::seconds(5), key_of(0x42), true,
         Answer::dropped, false},
        {"Retry token sealed by another server", retried_initial, home, t0, key_of(0x43), true, Answer::retry, false},
        {"Retry token in a connection with another DCID", first_initial(configs, retry_token, t0), home, t0,
         key_of(0x42), true, Answer::dropped, false},
        {"garbage token", first_initial(configs, Bytes(40, 0xab), t0), home, t0, key_of(0x42), true, Answer::retry, false},
        {"garbage token, no Retry server", first_initial(configs, Bytes(40, 0xab), t0), home, t0, key_of(0x42), false,
         Answer::handshake, false},
        {"NEW_TOKEN token, new port", first_initial(configs, new_token, t0), ep("127.0.0.1", 50003), t0, key_of(0x42),
         true, Answer::handshake, true},
        {"NEW_TOKEN token from another host", first_initial(configs, new_token, t0), ep("127.0.0.2", 50000), t0,
         key_of(0x42), true, Answer::retry, false},
        {"NEW_TOKEN token expired", first_initial(configs, new_token, t0), home,
         t0 + new_token_lifetime + std::chrono::hours(1), key_of(0x42), true, Answer::retry, false},
        {"NEW_TOKEN token sealed by another server", first_initial(configs, new_token, t0), home, t0, key_of(0x44), true,
         Answer::retry, false},
    };
    for (const auto& c : cases) {
        const std::string name = c.name;
        CAPTURE(name);
        Settings s;
        s.retry = c.retry;
        s.token_key = c.key;
        Conn server(Role::server, configs.server, s);
        server.receive(c.datagram, c.from, c.at);
        CHECK(server.address_validated() == c.validated);
        CHECK(answer_of(server) == c.expected);
        if (c.expected == Answer::dropped) {
            CHECK(server.stats().packets_dropped == 1);
            auto e = server.poll_event();
            REQUIRE(e);
            CHECK(e->reason == make_error_code(Error::invalid_token));
        }
    }
}

TEST_CASE("QUIC negative: after a forged Retry the server's original_destination_connection_id does not match") {
    test::TestPki pki;
    REQUIRE(pki.ok());
    const auto configs = test::quic_configs(pki);
    Net n(configs);
    REQUIRE_FALSE(n.client.start(n.now));
    auto first = n.client.poll_transmit();
    REQUIRE(first);
    const auto h = header_of(first->data);
    REQUIRE(h);
    // An on-path attacker answers with a Retry of its own (it saw the ODCID, so the tag verifies).
    const ConnectionId forged_scid(as_bytes("forged!!"));
    n.client.receive(make_retry<crypto::DefaultProvider>(h->scid, forged_scid, h->dcid, as_bytes("not a real token")),
                     n.server_ep, n.now);
    REQUIRE(n.client.retried());
    // The real server sees an Initial to the forged CID with a token it cannot open: a new
    // connection whose original DCID is the forged one, and no retry_source_connection_id.
    REQUIRE(n.run([&] { return n.client.is_closed(); }, std::chrono::seconds(10)));
    CHECK(n.client.error() == make_error_code(Error::invalid_transport_parameter));
    REQUIRE(n.client.local_close());
    CHECK(n.client.local_close()->second == static_cast<std::uint64_t>(TransportError::transport_parameter_error));
    CHECK_FALSE(n.client.is_established());
}

TEST_CASE("QUIC connection IDs: NEW_CONNECTION_ID up to the peer's limit, RETIRE_CONNECTION_ID replaced") {
    test::TestPki pki;
    REQUIRE(pki.ok());
    const auto configs = test::quic_configs(pki);
    // The server keeps 3 of the client's CIDs, the client 4 (the default): each side issues
    // 3 (the smaller of the two limits), and the client has room for the replacement
    // below (it cannot forget the CID whose retirement the test injects for it).
    Settings server_settings;
    server_settings.active_connection_id_limit = 3;
    Net n(configs, {}, server_settings);
    REQUIRE(n.handshake());
    REQUIRE(n.run([&] { return n.client.peer_cids_held() == 3 && n.server.peer_cids_held() == 3; }));
    CHECK(n.server.local_cids().size() == 3);
    CHECK(n.client.local_cids().size() == 3);  // no more than the server keeps
    // The client retires the server's sequence 1: the server issues sequence 3 instead.
    Bytes retire;
    write_varint_frame(retire, frame_type::retire_connection_id, 1);
    n.client.inject_frames_for_testing(Space::application, retire);
    REQUIRE(n.run([&] { return n.server.local_cids().count(3) == 1; }));
    CHECK(n.server.local_cids().count(1) == 0);
    CHECK(n.server.local_cids().size() == 3);
    CHECK(server_to_client(n, 20000));
    CHECK_FALSE(n.client.error());
}

TEST_CASE("QUIC negative: connection ID violations close with the RFC 9000 code") {
    test::TestPki pki;
    REQUIRE(pki.ok());
    const auto configs = test::quic_configs(pki);
    auto new_cid = [](std::uint64_t seq, std::uint64_t retire_prior_to, std::uint8_t fill) {
        Bytes f;
        const Bytes id(8, fill);
        write_new_connection_id(f, seq, retire_prior_to, ConnectionId(id), Bytes(16, fill));
        return f;
    };
    struct Case {
        const char* name;
        bool from_server;
        Bytes frames;
        Error error;
        TransportError code;
    };
    Bytes too_many;
    for (std::uint64_t seq = 10; seq < 15; ++seq) append(too_many, new_cid(seq, 0, static_cast<std::uint8_t>(seq)));
    Bytes retire_unissued;
    write_varint_frame(retire_unissued, frame_type::retire_connection_id, 99);
    Bytes same_seq_other_cid = new_cid(20, 17, 0x20);  // retires 0..16 first: room under the limit
    append(same_seq_other_cid, new_cid(20, 0, 0x21));
    const Case cases[] = {
        {"more CIDs than active_connection_id_limit", true, too_many, Error::connection_id_limit_exceeded,
         TransportError::connection_id_limit_error},
        {"RETIRE_CONNECTION_ID of a sequence never issued", false, retire_unissued, Error::protocol_violation,
         TransportError::protocol_violation},
        {"one sequence number, two CIDs", true, same_seq_other_cid, Error::protocol_violation,
         TransportError::protocol_violation},
    };
    for (const auto& c : cases) {
        const std::string name = c.name;
        CAPTURE(name);
        Net n(configs);
        REQUIRE(n.handshake());
        Conn& sender = c.from_server ? n.server : n.client;
        Conn& receiver = c.from_server ? n.client : n.server;
        sender.inject_frames_for_testing(Space::application, c.frames);
        REQUIRE(n.run([&] { return receiver.is_closed(); }, std::chrono::seconds(10)));
        CHECK_MESSAGE(receiver.error() == make_error_code(c.error), receiver.error().message());
        REQUIRE(receiver.local_close());
        CHECK(receiver.local_close()->second == static_cast<std::uint64_t>(c.code));
    }
}

TEST_CASE("QUIC stateless reset: a restarted server resets, the client ends with a distinct error") {
    test::TestPki pki;
    REQUIRE(pki.ok());
    const auto configs = test::quic_configs(pki);
    Settings server_settings;
    server_settings.reset_key = key_of(0x77);
    Net n(configs, {}, server_settings);
    REQUIRE(n.handshake());
    CHECK(server_to_client(n, 5000));

    // The server process is gone; a new one with the same reset key gets the client's next packet.
    Conn restarted(Role::server, configs.server, server_settings);
    REQUIRE_FALSE(n.client.send(as_bytes("still there?"), n.now));
    auto packet = n.client.poll_transmit();
    REQUIRE(packet);
    restarted.receive(packet->data, n.client_ep, n.now);
    auto reset = restarted.poll_transmit();
    REQUIRE(reset);
    CHECK(restarted.stats().stateless_resets_sent == 1);
    CHECK(reset->data.size() < packet->data.size());  // 10.3.3: smaller than the trigger
    CHECK(reset->data.size() >= min_stateless_reset_size);
    CHECK((reset->data[0] & 0xc0) == 0x40);  // looks like a short header

    // A datagram ending in a token that differs in one bit is only dropped.
    Bytes near = reset->data;
    near.back() ^= 0x01;
    n.client.receive(near, n.server_ep, n.now);
    CHECK_FALSE(n.client.error());
    CHECK_FALSE(n.client.is_closed());

    n.client.receive(reset->data, n.server_ep, n.now);
    CHECK(n.client.error() == make_error_code(Error::stateless_reset));
    CHECK(n.client.is_closed());
    CHECK_FALSE(n.client.poll_transmit());  // 10.3.1: nothing more to that peer

    // A server without a reset key does not answer unknown connection IDs.
    Conn keyless(Role::server, configs.server);
    keyless.receive(packet->data, n.client_ep, n.now);
    CHECK_FALSE(keyless.poll_transmit());
}

TEST_CASE("QUIC stateless reset: sizes follow RFC 9000 10.3 (smaller than the trigger, at least 21 bytes)") {
    const std::pair<std::size_t, std::size_t> cases[] = {{20, 0}, {21, 0}, {22, 21}, {30, 29}, {43, 42}, {44, 42}, {1200, 42}};
    for (const auto& row : cases) {
        const std::size_t trigger = row.first, expected = row.second;  // plain: CAPTURE's lambda reads them
        CAPTURE(trigger);
        CHECK(stateless_reset_size(trigger) == expected);
    }
}

TEST_CASE("QUIC migration: NAT rebinding keeps congestion state, a new address resets it, both validated") {
    test::TestPki pki;
    REQUIRE(pki.ok());
    const auto configs = test::quic_configs(pki);
    for (const bool new_host : {false, true}) {
        CAPTURE(new_host);
        Net n(configs);
        REQUIRE(n.handshake());
        CHECK(server_to_client(n, 300000));  // grows the congestion window
        const std::size_t window = n.server.congestion_window();
        REQUIRE(window > 10 * 1200);
        const ConnectionId cid_before = n.server.peer_cid();
        const Endpoint moved = new_host ? ep("127.0.0.5", 50000) : ep("127.0.0.1", 61000);
        n.client_ep = moved;
        n.client_owns.push_back(moved);
        REQUIRE_FALSE(n.client.send(as_bytes("from elsewhere"), n.now));
        n.step();
        CHECK(n.server.stats().migrations == 1);
        CHECK(n.server.peer_address() == moved);
        CHECK(n.server.peer_cid().view().size() == cid_before.view().size());
        CHECK_FALSE(n.server.peer_cid() == cid_before);  // 9.5: a fresh CID for the new path
        if (new_host) CHECK(n.server.congestion_window() == 10 * 1200);
        else CHECK(n.server.congestion_window() >= window);  // kept (an ACK in the same packet may grow it)
        REQUIRE(n.run([&] { return !n.server.validating_path(); }));
        CHECK(n.server.stats().paths_validated == 1);
        CHECK(n.server.peer_address() == moved);
        CHECK(server_to_client(n, 200000));
    }
}

TEST_CASE("QUIC migration: a spoofed source gets at most 3x what it sent, and is abandoned when silent") {
    test::TestPki pki;
    REQUIRE(pki.ok());
    const auto configs = test::quic_configs(pki);
    Net n(configs);
    REQUIRE(n.handshake());
    CHECK(server_to_client(n, 50000));
    const Endpoint home = n.client_ep;
    const Endpoint spoofed = ep("10.9.9.9", 4000);
    // An attacker replays the client's newest packet from a spoofed source, first.
    REQUIRE_FALSE(n.client.send(as_bytes("x"), n.now));
    auto packet = n.client.poll_transmit();
    REQUIRE(packet);
    n.server.receive(packet->data, spoofed, n.now);
    REQUIRE(n.server.peer_address() == spoofed);
    REQUIRE(n.server.validating_path());
    // The server has data for the client; the spoofed path gets only 3x of one datagram.
    REQUIRE_FALSE(n.server.stream_send(0, Bytes(100000, 0x5a), false, n.now));
    n.deliver_to_server = false;  // the real client stays silent
    n.run([&] { return !n.server.validating_path(); }, std::chrono::seconds(20));
    CHECK(n.sent_to[spoofed.to_string()] <= 3 * packet->data.size());
    CHECK(n.sent_to[spoofed.to_string()] > 0);  // the PATH_CHALLENGE went out
    CHECK_FALSE(n.server.validating_path());
    CHECK(n.server.peer_address() == home);  // 9.3.2: back to the validated address
    CHECK(n.server.stats().paths_validated == 0);
    bool failure_reported = false;
    while (auto e = n.server.poll_event())
        failure_reported |= e->reason == make_error_code(Error::path_validation_failed);
    CHECK(failure_reported);
    // And the connection carries on on the old path.
    n.deliver_to_server = true;
    Bytes got;
    REQUIRE(n.run([&] {
        while (auto v = n.client.poll_plaintext()) append(got, *v);
        return got.size() >= 100000;
    }));
    CHECK_FALSE(n.client.error());
    CHECK_FALSE(n.server.error());
}

TEST_CASE("QUIC tokens: sealed tokens round-trip, any flipped bit or other key fails to open") {
    AddressToken t;
    t.kind = TokenKind::retry;
    t.issued_ms = 123456789;
    REQUIRE(t.set_address(ep("192.0.2.7", 4321)));
    t.original_dcid = ConnectionId(Bytes(8, 1));
    t.retry_scid = ConnectionId(Bytes(8, 2));
    const SecretBytes key = key_of(9);
    const std::array<std::uint8_t, token_nonce_length> nonce{1, 2, 3};
    const Bytes sealed = seal_token<crypto::DefaultProvider>(key, t, nonce);
    auto opened = open_token<crypto::DefaultProvider>(key, sealed);
    REQUIRE(opened);
    CHECK(opened->issued_ms == t.issued_ms);
    CHECK(opened->issued_to(ep("192.0.2.7", 4321)));
    CHECK_FALSE(opened->issued_to(ep("192.0.2.7", 4322)));
    CHECK(opened->original_dcid == t.original_dcid);
    CHECK(opened->retry_scid == t.retry_scid);
    CHECK_FALSE(open_token<crypto::DefaultProvider>(key_of(10), sealed));
    for (std::size_t i = 0; i < sealed.size(); ++i) {
        Bytes bad = sealed;
        bad[i] ^= 0x10;
        CHECK_FALSE(open_token<crypto::DefaultProvider>(key, bad));
    }
    CHECK_FALSE(open_token<crypto::DefaultProvider>(key, ByteView(sealed).first(20)));
    // Plaintexts that do not follow the layout.
    const char* bad_plaintexts[] = {"", "03", "01" "0000000000000000" "05", "02" "0000000000000000" "04" "7f000001" "0000" "0100",
                                    "01" "0000000000000000" "04" "7f000001" "0000" "00" "00"};
    for (const char* h : bad_plaintexts) {
        bool ok = false;
        const Bytes b = from_hex(h, &ok);
        REQUIRE(ok);
        CHECK_MESSAGE(parse_token_plaintext(b).error() == make_error_code(Error::invalid_token), h);
    }
}

TEST_CASE("QUIC migration: a probing packet from a new address is answered there, the connection stays") {
    test::TestPki pki;
    REQUIRE(pki.ok());
    const auto configs = test::quic_configs(pki);
    Net n(configs);
    REQUIRE(n.handshake());
    CHECK(server_to_client(n, 20000));
    n.run([] { return false; }, std::chrono::milliseconds(200));  // delayed ACKs go out: none pending below
    const Endpoint home = n.client_ep;
    const Endpoint probe = ep("127.0.0.1", 61001);
    n.client_ep = probe;
    n.client_owns.push_back(probe);
    // A packet with only PATH_CHALLENGE (a probing frame, RFC 9000 9.1).
    n.client.inject_frames_for_testing(Space::application, Bytes{0x1a, 1, 2, 3, 4, 5, 6, 7, 8});
    auto packet = n.client.poll_transmit();
    REQUIRE(packet);
    n.server.receive(packet->data, probe, n.now);
    CHECK(n.server.stats().migrations == 0);
    CHECK(n.server.peer_address() == home);
    // The PATH_RESPONSE goes to the probing address, in a datagram within 3x of the probe's.
    auto answer = n.server.poll_transmit();
    REQUIRE(answer);
    REQUIRE(answer->to);
    CHECK(*answer->to == probe);
    CHECK(answer->data.size() <= std::min<std::size_t>(1200, 3 * packet->data.size()));
    CHECK(answer->data.size() > 20);
}

TEST_CASE("QUIC migration: the client moves on its own, both sides validate the new path, the transfer goes on") {
    test::TestPki pki;
    REQUIRE(pki.ok());
    const auto configs = test::quic_configs(pki);
    Net n(configs);
    // Before the handshake is confirmed there is nothing to move.
    CHECK(n.client.migrate_local(n.now) == make_error_code(Errc::not_connected));
    REQUIRE(n.handshake());
    CHECK(server_to_client(n, 50000));
    const ConnectionId cid_before = n.client.peer_cid();
    REQUIRE_FALSE(n.client.migrate_local(n.now));
    CHECK_FALSE(n.client.peer_cid() == cid_before);  // 9.5: a fresh CID on the new path
    n.client_ep = ep("127.0.0.1", 61003);
    n.client_owns.push_back(n.client_ep);
    REQUIRE(n.run([&] { return n.client.stats().paths_validated == 1 && n.server.stats().paths_validated == 1; }));
    CHECK(n.server.peer_address() == n.client_ep);
    CHECK(n.server.stats().migrations == 1);
    CHECK(server_to_client(n, 200000));
    CHECK_FALSE(n.client.error());
    CHECK_FALSE(n.server.error());
}

TEST_CASE("QUIC migration: a client without a spare connection ID cannot move") {
    test::TestPki pki;
    REQUIRE(pki.ok());
    const auto configs = test::quic_configs(pki);
    Settings one_cid;
    one_cid.active_connection_id_limit = 2;  // the server issues one spare: the first move uses it
    Net n(configs, one_cid);
    REQUIRE(n.handshake());
    REQUIRE(n.run([&] { return n.client.peer_cids_held() == 2; }));
    REQUIRE_FALSE(n.client.migrate_local(n.now));
    // Until the server replaces the retired CID, a second move has none to use.
    CHECK(n.client.migrate_local(n.now) == make_error_code(Error::connection_id_limit_exceeded));
}

}  // namespace quic_paths_test
