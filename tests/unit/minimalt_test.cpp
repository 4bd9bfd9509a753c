// MinimaLT, ours against ours: the directory record signed and checked, 1-RTT tunnels
// from the directory's ephemeral key, several connections in one tunnel, a client that
// changes address mid-transfer, a server under a flood that demands puzzles and still
// serves a client that solves them, the hash-chain rekey, loss recovery, and table-driven
// negative tests per packet type.
#include "../support/minimalt_pair.hpp"

#include <thread>

#include <tapsec/core/secure.hpp>

using namespace minimalt_test;
using tapsec::minimalt::Error;

namespace minimalt_test {

std::string random_text(std::size_t n, std::uint32_t seed) {
    std::string s(n, '\0');
    for (auto& c : s) {
        seed = seed * 1103515245 + 12345;
        c = static_cast<char>('a' + (seed >> 16) % 26);
    }
    return s;
}


TEST_CASE("minimalt: every error maps into the shared vocabulary") {
    int named = 0;
    for (int v = 1; v < 64; ++v) {
        const std::error_code ec(v, minimalt::category());
        if (ec.message() == "unknown MinimaLT error") continue;
        ++named;
        const auto c = ec.default_error_condition();
        CHECK(c.category() == tapsec::condition_category());
        CHECK(ec == static_cast<tapsec::condition>(c.value()));
    }
    CHECK(named == static_cast<int>(Error::invalid_configuration));
    CHECK(make_error_code(Error::box_failed) == tapsec::condition::authentication_failed);
    CHECK(make_error_code(Error::replayed_packet) == tapsec::condition::replayed);
    CHECK(make_error_code(Error::puzzle_required) == tapsec::condition::resource_exhausted);
    CHECK(make_error_code(Error::record_untrusted) == tapsec::condition::peer_not_trusted);
}

TEST_CASE("minimalt: the directory record is signed, checked, and a tampered one is rejected") {
    Directory d;
    const auto now = d.wall;
    auto ok = minimalt::verify_record<crypto::Botan2>(d.client.directory_record, d.client.trusted_server_key, now);
    REQUIRE(ok);
    CHECK(ok->name == "server.test");
    CHECK(ok->address == "127.0.0.1:4500");
    CHECK(ok->puzzle_difficulty == d.server.puzzle_difficulty);
    CHECK(ok->ephemeral_key == crypto::nacl::public_key_of(d.server.ephemeral_secret));

    // Every byte of the record is covered: flipping any one fails (parse or signature).
    for (std::size_t i = 0; i < d.client.directory_record.size(); ++i) {
        Bytes bad = d.client.directory_record;
        bad[i] ^= 0x01;
        auto r = minimalt::verify_record<crypto::Botan2>(bad, d.client.trusted_server_key, now);
        REQUIRE_FALSE(r);
        const bool expected = r.error() == Error::record_signature_invalid || r.error() == Error::malformed_record ||
                              r.error() == Error::record_untrusted;
        CHECK_MESSAGE(expected, "byte ", i, ": ", r.error().message());
    }
    // The ephemeral key swapped by an attacker: the signature no longer verifies.
    {
        auto parsed = minimalt::parse_record(d.client.directory_record);
        REQUIRE(parsed);
        parsed->ephemeral_key[0] ^= 0x80;
        auto r = minimalt::verify_record<crypto::Botan2>(minimalt::serialize(*parsed), d.client.trusted_server_key, now);
        REQUIRE_FALSE(r);
        CHECK(r.error() == Error::record_signature_invalid);
        CHECK(r.error() == tapsec::condition::authentication_failed);
    }
    // Signed by another key: untrusted. Expired: refused.
    Bytes other(32, 7);
    auto untrusted = minimalt::verify_record<crypto::Botan2>(d.client.directory_record, other, now);
    REQUIRE_FALSE(untrusted);
    CHECK(untrusted.error() == Error::record_untrusted);
    auto expired = minimalt::verify_record<crypto::Botan2>(d.client.directory_record, d.client.trusted_server_key, now + 3601s);
    REQUIRE_FALSE(expired);
    CHECK(expired.error() == Error::record_expired);
    // Truncated and oversized.
    for (std::size_t n : {std::size_t{0}, std::size_t{4}, d.client.directory_record.size() - 1}) {
        auto r = minimalt::parse_record(ByteView(d.client.directory_record).first(n));
        REQUIRE_FALSE(r);
        CHECK(r.error() == Error::malformed_record);
    }
    Bytes longer = d.client.directory_record;
    longer.push_back(0);
    CHECK(minimalt::parse_record(longer).error() == Error::malformed_record);
}

TEST_CASE("minimalt: a client with a tampered record never sends a packet") {
    Pair p;
    p.directory.client.directory_record[40] ^= 1;
    MltEngine client(Role::client, p.directory.client);
    auto ec = client.start(p.now);
    REQUIRE(ec);
    std::array<std::uint8_t, 2048> out{};
    CHECK_FALSE(client.poll_transmit(MutableByteView(out)));
}

TEST_CASE("minimalt: 1-RTT tunnel from the directory's ephemeral key; data both ways") {
    Pair p;
    REQUIRE_FALSE(p.client->start(p.now));
    REQUIRE_FALSE(p.client->send(text("hello in the first packet"), p.now));
    // The first packet is a tunnel request: K set, C' in the clear, padded, data inside.
    std::array<std::uint8_t, 2048> out{};
    auto first = p.client->poll_transmit(MutableByteView(out));
    REQUIRE(first);
    CHECK(first->size >= minimalt::min_request_size);
    CHECK((out[0] & 0x80) != 0);
    CHECK_FALSE(p.server->receive(ByteView(out.data(), first->size), p.client_ep, p.now));
    CHECK(p.server->is_established());
    CHECK(drain(*p.server) == "hello in the first packet");  // data before any reply
    CHECK(p.server->counters().key_agreements == 1);
    p.pump();
    CHECK(p.client->is_established());
    REQUIRE_FALSE(p.server->send(text("and back"), p.now));
    p.pump();
    CHECK(drain(*p.client) == "and back");
    CHECK(p.client->session_info().peer.authenticated);
    CHECK(p.client->tunnel_id() == p.server->tunnel_id());
    CHECK(p.server->service_of(1) == "tapsec");
}

TEST_CASE("minimalt: several connections multiplexed in one tunnel share one congestion state") {
    Pair p([](minimalt::Config& server, minimalt::Config&) { server.services = {"tapsec", "echo", "files"}; });
    p.establish();
    auto echo = p.client->open_connection("echo", p.now);
    auto files = p.client->open_connection("files", p.now);
    auto nope = p.client->open_connection("no-such-service", p.now);
    REQUIRE(echo);
    REQUIRE(files);
    REQUIRE(nope);
    CHECK(*echo != *files);
    const std::string big = random_text(50'000, 1);
    REQUIRE_FALSE(p.client->send_on(*echo, text("to echo"), p.now));
    REQUIRE_FALSE(p.client->send_on(*files, text(big), p.now));
    REQUIRE_FALSE(p.client->send(text("to the first"), p.now));
    p.pump();
    CHECK(p.server->service_of(*echo) == "echo");
    CHECK(p.server->service_of(*files) == "files");
    CHECK(drain(*p.server, *echo) == "to echo");
    CHECK(drain(*p.server, *files) == big);
    CHECK(drain(*p.server) == "to the first");
    // The unknown service was refused over the control connection.
    const auto ids = p.client->connection_ids();
    CHECK(std::find(ids.begin(), ids.end(), *nope) == ids.end());
    CHECK(p.client->send_on(*nope, text("x"), p.now) == Error::unknown_connection);
    // Replies on each connection; then one connection closes, the others go on.
    REQUIRE_FALSE(p.server->send_on(*echo, text("echo reply"), p.now));
    REQUIRE_FALSE(p.server->send_on(*files, text("files reply"), p.now));
    p.pump();
    CHECK(drain(*p.client, *echo) == "echo reply");
    CHECK(drain(*p.client, *files) == "files reply");
    REQUIRE_FALSE(p.client->close_connection(*files, p.now));
    p.pump();
    CHECK(p.server->connection_closed_by_peer(*files));
    REQUIRE_FALSE(p.client->send_on(*echo, text("still open"), p.now));
    p.pump();
    CHECK(drain(*p.server, *echo) == "still open");
    // One window for all of them: it grew with the acknowledgements of every connection.
    CHECK(p.client->congestion().window > 10);
}

TEST_CASE("minimalt: a client changes address mid-transfer and the tunnel continues under a new tunnel ID") {
    Pair p;
    p.establish();
    const std::string first_half = random_text(40'000, 2), second_half = random_text(40'000, 3);
    REQUIRE_FALSE(p.client->send(text(first_half), p.now));
    // Part of the first half goes from the old address...
    int sent = 0;
    p.client_to_server_filter = [&](Bytes&) { return ++sent <= 10; };
    p.pump();
    p.client_to_server_filter = nullptr;
    const auto old_tid = p.client->tunnel_id();
    // ...then the client moves (new address and port) and rekeys, so its packets cannot
    // be linked to the old tunnel ID.
    p.client_ep = *Endpoint::parse("127.0.0.2:50505");
    REQUIRE_FALSE(p.client->update_keys(true, p.now));
    CHECK(p.client->tunnel_id() != old_tid);
    for (int i = 0; i < 50 && drain(*p.server).size() == 0; ++i) p.tick();
    REQUIRE_FALSE(p.client->send(text(second_half), p.now));
    std::string received;
    for (int i = 0; i < 100 && received.size() < first_half.size() + second_half.size(); ++i) {
        p.tick();
        received += drain(*p.server);
    }
    // (what was drained in the wait loop above is the start of the stream)
    CHECK(p.server->peer_endpoint() == p.client_ep);
    CHECK(p.server->tunnel_id() == p.client->tunnel_id());
    CHECK(p.server->key_generation() == 1);
    bool moved_event = false;
    while (auto e = p.server->poll_event())
        if (e->kind == EventKind::peer_address_changed) moved_event = true;
    CHECK(moved_event);
    // A late packet from the old address (delayed in the network) does not pull the
    // tunnel back: only the newest packet moves it.
    {
        REQUIRE_FALSE(p.client->send(text("late"), p.now));
        REQUIRE_FALSE(p.client->send(text(random_text(3000, 9)), p.now));
        std::array<std::uint8_t, 2048> out{};
        auto late = p.client->poll_transmit(MutableByteView(out));
        REQUIRE(late);
        const Bytes late_packet(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(late->size));
        auto newer = p.client->poll_transmit(MutableByteView(out));
        REQUIRE(newer);
        CHECK_FALSE(p.server->receive(ByteView(out.data(), newer->size), p.client_ep, p.now));
        CHECK_FALSE(p.server->receive(late_packet, *Endpoint::parse("127.0.0.1:40001"), p.now));
        CHECK(p.server->peer_endpoint() == p.client_ep);
        for (int i = 0; i < 20; ++i) p.tick();
        drain(*p.server);
    }
    // Replies go to the new address.
    REQUIRE_FALSE(p.server->send(text("found you"), p.now));
    p.pump();
    CHECK(drain(*p.client) == "found you");
}

TEST_CASE("minimalt: the whole stream arrives intact across an address change") {
    Pair p;
    p.establish();
    const std::string data = random_text(120'000, 4);
    REQUIRE_FALSE(p.client->send(text(data), p.now));
    std::string received;
    int packets = 0;
    bool moved = false;
    p.client_to_server_filter = [&](Bytes&) {
        if (++packets == 30 && !moved) {
            moved = true;
            p.client_ep = *Endpoint::parse("[::1]:6000");  // mid-transfer, new family too
        }
        return true;
    };
    for (int i = 0; i < 200 && received.size() < data.size(); ++i) {
        p.pump();
        received += drain(*p.server);
        if (received.size() < data.size()) p.tick();
    }
    CHECK(moved);
    CHECK(received == data);
    CHECK(p.server->peer_endpoint() == p.client_ep);
}

TEST_CASE("minimalt: a server under a flood demands puzzles and still serves a client that solves them") {
    Pair p([](minimalt::Config& server, minimalt::Config&) {
        server.puzzle_threshold = 50;
        server.puzzle_difficulty = 12;
    });
    REQUIRE_FALSE(p.server->start(p.now));
    // The flood: tunnel requests with fresh keys and junk boxes, from many addresses.
    std::array<std::uint8_t, 512> junk{};
    std::array<std::uint8_t, 2048> out{};
    std::size_t puzzles = 0;
    for (int i = 0; i < 5000; ++i) {
        crypto::Botan2::random(junk);
        junk[0] |= 0x80;
        junk[0] &= 0xbf;  // K set, P clear
        const Endpoint from = *Endpoint::parse("10.0.0." + std::to_string(i % 250 + 1) + ":" + std::to_string(1024 + i));
        CHECK_FALSE(p.server->receive(junk, from, p.now));
        while (auto t = p.server->poll_transmit(MutableByteView(out))) {
            ++puzzles;
            CHECK(t->size == minimalt::puzzle_packet_size);
            CHECK(t->size < junk.size());  // no amplification
            CHECK(t->to == from);
        }
    }
    // Key agreements stopped at the threshold; everything else got a puzzle.
    CHECK(p.server->counters().key_agreements <= 51);
    CHECK(puzzles >= 4900);
    CHECK(p.server->under_load(p.now));
    CHECK_FALSE(p.server->is_established());
    // The real client: its request draws a puzzle, it solves it, and gets its tunnel.
    REQUIRE_FALSE(p.client->start(p.now));
    REQUIRE_FALSE(p.client->send(text("made it"), p.now));
    p.pump();
    CHECK(p.client->counters().puzzles_solved == 1);
    CHECK(p.client->is_established());
    CHECK(p.server->is_established());
    CHECK(drain(*p.server) == "made it");
    // Flood packets after it are dropped without a key agreement (one tunnel per engine).
    const auto agreements = p.server->counters().key_agreements;
    for (int i = 0; i < 100; ++i) {
        crypto::Botan2::random(junk);
        junk[0] = static_cast<std::uint8_t>((junk[0] | 0x80) & 0xbf);
        p.server->receive(junk, p.client_ep, p.now);
    }
    CHECK(p.server->counters().key_agreements == agreements);
}

TEST_CASE("minimalt: puzzles: wrong, expired, replayed from another address, harder than the record allows") {
    Pair p([](minimalt::Config& server, minimalt::Config&) {
        server.source_validation = CommonConfig::SourceValidation::always;
        server.puzzle_difficulty = 8;
    });
    REQUIRE_FALSE(p.client->start(p.now));
    std::array<std::uint8_t, 2048> out{};
    auto request = p.client->poll_transmit(MutableByteView(out));
    REQUIRE(request);
    Bytes req(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(request->size));
    CHECK_FALSE(p.server->receive(req, p.client_ep, p.now));
    auto puzzle_tx = p.server->poll_transmit(MutableByteView(out));
    REQUIRE(puzzle_tx);
    Bytes puzzle_packet(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(puzzle_tx->size));
    auto puzzle = minimalt::parse_puzzle_packet(puzzle_packet);
    REQUIRE(puzzle);
    CHECK(puzzle->difficulty == 8);
    auto solution = minimalt::solve_puzzle<crypto::Botan2>(*puzzle);
    REQUIRE(solution);
    auto header = minimalt::parse_packet_header(req);
    REQUIRE(header);

    minimalt::PuzzleIssuer<crypto::Botan2> issuer(p.directory.server, 8, 10s);
    const std::string source_text = p.client_ep.to_string();
    const auto source = as_bytes(source_text);
    auto fresh = issuer.issue(header->tid, *header->client_key, source, p.directory.wall, p.directory.server);
    auto r = minimalt::solve_puzzle<crypto::Botan2>(fresh);
    REQUIRE(r);
    minimalt::PuzzleSolution good{fresh.ticket, *r};
    CHECK_FALSE(issuer.verify(good, header->tid, *header->client_key, source, p.directory.wall));
    minimalt::PuzzleSolution wrong = good;
    wrong.solution[31] ^= 1;
    CHECK(issuer.verify(wrong, header->tid, *header->client_key, source, p.directory.wall) == Error::puzzle_wrong);
    CHECK(issuer.verify(good, header->tid, *header->client_key, source, p.directory.wall + 11s) == Error::puzzle_expired);
    CHECK(issuer.verify(good, header->tid, *header->client_key, as_bytes("10.9.9.9:1"), p.directory.wall) == Error::puzzle_wrong);
    CHECK(issuer.verify(good, header->tid ^ 1, *header->client_key, source, p.directory.wall) == Error::puzzle_wrong);
    minimalt::PuzzleSolution forged_expiry = good;
    forged_expiry.ticket[0] = 0x7f;  // far future: refused, not trusted
    CHECK(issuer.verify(forged_expiry, header->tid, *header->client_key, source, p.directory.wall) == Error::puzzle_expired);

    // A forged puzzle harder than the signed record allows is not attempted.
    auto hard = *puzzle;
    hard.difficulty = 30;
    CHECK_FALSE(p.client->receive(minimalt::serialize(hard), p.server_ep, p.now));
    CHECK(p.client->counters().puzzles_solved == 0);
    CHECK(p.client->counters().dropped == 1);
    // The real one is solved and the tunnel comes up.
    CHECK_FALSE(p.client->receive(puzzle_packet, p.server_ep, p.now));
    CHECK(p.client->counters().puzzles_solved == 1);
    p.pump();
    CHECK(p.server->is_established());
    CHECK(p.client->is_established());
}

TEST_CASE("minimalt: engines sharing Config::shared_server_state take each other's puzzles; an engine with its own key does not") {
    // A concurrent server's responder issues the puzzle; another engine takes the solved request.
    for (bool shared : {true, false}) {
        CAPTURE(shared);
        Pair p([shared](minimalt::Config& server, minimalt::Config&) {
            server.source_validation = CommonConfig::SourceValidation::always;
            server.puzzle_difficulty = 8;
            if (shared) {
                server.shared_server_state = std::make_shared<minimalt::SharedServerState>();
                crypto::Botan2::random(MutableByteView(server.shared_server_state->puzzle_key));
            }
        });
        MltEngine taker(Role::server, p.directory.server);
        REQUIRE_FALSE(p.client->start(p.now));
        std::array<std::uint8_t, 2048> out{};
        auto request = p.client->poll_transmit(MutableByteView(out));
        REQUIRE(request);
        CHECK_FALSE(p.server->receive(ByteView(out.data(), request->size), p.client_ep, p.now));
        auto puzzle = p.server->poll_transmit(MutableByteView(out));
        REQUIRE(puzzle);
        REQUIRE_FALSE(p.client->receive(ByteView(out.data(), puzzle->size), p.server_ep, p.now));
        REQUIRE(p.client->counters().puzzles_solved == 1);
        auto solved = p.client->poll_transmit(MutableByteView(out));
        REQUIRE(solved);
        CHECK_FALSE(taker.receive(ByteView(out.data(), solved->size), p.client_ep, p.now));
        CHECK(taker.is_established() == shared);
        CHECK_FALSE(p.server->is_established());  // the issuer holds no tunnel
        if (!shared) CHECK(taker.counters().last_drop == make_error_code(Error::puzzle_wrong));
        if (shared) CHECK(taker.next_tunnel_id() != taker.tunnel_id());  // what a router registers for the rekey
    }
}

TEST_CASE("minimalt: user authentication (createAuth): proven, listed, vetoed, required, forged") {
    auto user_secret = [] {
        SecretBytes k(32);
        crypto::Botan2::random(k);
        return k;
    };
    const SecretBytes alice = user_secret(), mallory = user_secret();
    const auto alice_public = crypto::nacl::public_key_of(alice);
    SUBCASE("a proven user is the server's peer identity, per connection") {
        Pair p([&](minimalt::Config& server, minimalt::Config& client) {
            client.user_secret = alice;
            server.authorized_users = {alice_public};
            server.require_client_certificate = true;
        });
        p.establish();
        CHECK(p.server->user_of(1) == alice_public);
        const auto info = p.server->session_info();
        CHECK(info.peer.authenticated);
        CHECK(info.peer.raw_public_key == Bytes(alice_public.begin(), alice_public.end()));
        auto second = p.client->open_connection("tapsec", p.now);
        REQUIRE(second);
        REQUIRE_FALSE(p.client->send_on(*second, text("as alice"), p.now));
        p.pump();
        CHECK(p.server->user_of(*second) == alice_public);
        CHECK(drain(*p.server, *second) == "as alice");
        CHECK(p.server->counters().refused_users == 0);
    }
    SUBCASE("a user not on the list is refused; the client fails with connection_refused") {
        Pair p([&](minimalt::Config& server, minimalt::Config& client) {
            client.user_secret = mallory;
            server.authorized_users = {alice_public};
        });
        REQUIRE_FALSE(p.client->start(p.now));
        p.client_may_fail = true;
        p.pump();
        CHECK(p.server->counters().refused_users == 1);
        CHECK(p.server->counters().last_refusal == Error::user_not_authorized);
        CHECK(p.client->send(text("x"), p.now) == Error::connection_refused);
    }
    SUBCASE("the application's validator may veto a proven user") {
        Pair p([&](minimalt::Config& server, minimalt::Config& client) {
            client.user_secret = alice;
            server.validate_peer = [](const PeerIdentity& id) -> std::error_code {
                CHECK(id.authenticated);
                return make_error_code(Errc::certificate_untrusted);
            };
        });
        REQUIRE_FALSE(p.client->start(p.now));
        p.client_may_fail = true;
        p.pump();
        CHECK(p.server->counters().last_refusal == tapsec::condition::peer_not_trusted);
        CHECK(p.client->send(text("x"), p.now) == Error::connection_refused);
    }
    SUBCASE("anonymous clients refused when users are required") {
        Pair p([&](minimalt::Config& server, minimalt::Config&) { server.require_client_certificate = true; });
        REQUIRE_FALSE(p.client->start(p.now));
        p.client_may_fail = true;
        p.pump();
        CHECK(p.server->counters().refused_users == 1);
        CHECK(p.server->counters().last_refusal == Error::user_not_authorized);
        CHECK(p.client->send(text("x"), p.now) == Error::connection_refused);
    }
    SUBCASE("a proof from another tunnel, or for another user key, is refused") {
        Pair first([&](minimalt::Config&, minimalt::Config& client) { client.user_secret = alice; });
        first.establish();
        // Alice's createAuth frame of the first tunnel, replayed by a keyed peer in a second one.
        const Bytes& request = first.wire_to_server.front();
        auto key = crypto::nacl::box_beforenm(ByteView(request).subspan(16, 32), first.directory.server.ephemeral_secret);
        REQUIRE(key);
        minimalt::TunnelRecord<crypto::Botan2> opener;
        minimalt::TunnelKeys keys;
        keys.box_key = *key;
        keys.tid = first.client->tunnel_id();
        keys.client = false;
        REQUIRE_FALSE(opener.import(keys));
        Bytes copy = request;
        auto header = minimalt::parse_packet_header(copy);
        REQUIRE(header);
        auto payload = opener.open(*header, copy);
        REQUIRE(payload);
        Bytes create_auth_frame(payload->begin() + 8, payload->end());  // seq/ack stripped; frames follow
        Pair second;  // anonymous client, so the test can inject the stolen frame
        second.directory.server.ephemeral_secret = first.directory.server.ephemeral_secret;
        second.server = std::make_unique<MltEngine>(Role::server, first.directory.server);
        second.client = std::make_unique<MltEngine>(Role::client, [&] {
            auto c = second.directory.client;
            c.directory_record = first.directory.client.directory_record;
            c.trusted_server_key = first.directory.client.trusted_server_key;
            return c;
        }());
        second.directory.server = first.directory.server;
        second.establish();
        Bytes forged{0, 0, 0, 2, 0, 0, 0, 1};
        // Renumber the stolen create_auth to connection 9 so it is new in this tunnel.
        wire::Reader r(create_auth_frame);
        bool injected = false;
        while (r.remaining() > 0) {
            auto f = minimalt::parse_frame(r);
            REQUIRE(f);
            if (f->type == minimalt::FrameType::create_auth) {
                Bytes body(f->body.begin(), f->body.end());
                body[3] = 9;
                minimalt::write_frame(forged, 0, minimalt::FrameType::create_auth, body);
                injected = true;
            }
        }
        REQUIRE(injected);
        CHECK_FALSE(second.server->receive(second.forge_client_packet(forged), second.client_ep, second.now));
        CHECK(second.server->counters().refused_users == 1);
        CHECK(second.server->counters().last_refusal == Error::user_proof_invalid);
        CHECK_FALSE(second.server->user_of(9));
    }
}

TEST_CASE("minimalt: rekey walks the hash chain; old keys are gone") {
    Pair p;
    p.establish();
    for (std::uint32_t g = 1; g <= 5; ++g) {
        const auto tid = p.client->tunnel_id();
        REQUIRE_FALSE((g % 2 ? p.client : p.server)->update_keys(true, p.now));
        // Twice in a row before the peer followed: refused.
        CHECK((g % 2 ? p.client : p.server)->update_keys(true, p.now) == Error::rekey_in_progress);
        REQUIRE_FALSE(p.client->send(text("gen " + std::to_string(g)), p.now));
        p.pump();
        CHECK(drain(*p.server) == "gen " + std::to_string(g));
        CHECK(p.client->key_generation() == g);
        CHECK(p.server->key_generation() == g);
        CHECK(p.client->tunnel_id() != tid);
    }
    // A packet from generation 0 no longer opens: its key was erased.
    const Bytes old = p.wire_to_server.front();
    auto before = p.server->counters().dropped;
    CHECK_FALSE(p.server->receive(old, p.client_ep, p.now));
    CHECK(p.server->counters().dropped == before + 1);
}

TEST_CASE("minimalt: loss and reordering are repaired; one window backs off") {
    Pair p;
    p.establish();
    const std::string data = random_text(200'000, 5);
    REQUIRE_FALSE(p.client->send(text(data), p.now));
    int n = 0;
    p.client_to_server_filter = [&](Bytes&) { return ++n % 7 != 0; };  // lose every 7th packet
    std::string received;
    for (int i = 0; i < 2000 && received.size() < data.size(); ++i) {
        p.pump();
        received += drain(*p.server);
        if (received.size() < data.size()) p.tick();
    }
    CHECK(received == data);
    CHECK(p.client->counters().retransmissions > 0);
}

TEST_CASE("minimalt: clean close both ways") {
    Pair p;
    p.establish();
    REQUIRE_FALSE(p.client->send(text("last words"), p.now));
    REQUIRE_FALSE(p.client->close(p.now));
    p.pump();
    CHECK(drain(*p.server) == "last words");
    CHECK(p.server->is_closed());
    CHECK(p.client->is_closed());
    CHECK(p.client->all_acknowledged());
    bool closed_event = false;
    while (auto e = p.server->poll_event())
        if (e->kind == EventKind::peer_closed) closed_event = true;
    CHECK(closed_event);
}

TEST_CASE("minimalt: keepalives hold an idle tunnel; a silent peer ends it") {
    Pair p;
    p.establish();
    // Five minutes of silence from the application: keepalives keep the tunnel.
    const auto start = p.now;
    while (p.now - start < std::chrono::minutes(5)) p.tick();
    CHECK(p.client->is_established());
    CHECK_FALSE(p.client->send(text("still here"), p.now));
    p.pump();
    CHECK(drain(*p.server) == "still here");
    // The server vanishes: the client fails after the idle timeout, with timed_out.
    std::array<std::uint8_t, 2048> out{};
    std::error_code ec;
    const auto silent_from = p.now;
    for (int i = 0; i < 1000 && !ec; ++i) {
        while (p.client->poll_transmit(MutableByteView(out))) {}
        auto t = p.client->next_timeout();
        REQUIRE(t);
        p.now = std::max(p.now, *t);
        ec = p.client->on_timeout(p.now);
    }
    CHECK((ec == Error::idle_timeout || ec == Error::retransmission_limit));
    CHECK(ec == tapsec::condition::timed_out);
    CHECK(p.now - silent_from <= p.directory.client.idle_timeout + 1s);
}

TEST_CASE("minimalt: the client gives up when nobody answers") {
    Pair p;
    REQUIRE_FALSE(p.client->start(p.now));
    std::array<std::uint8_t, 2048> out{};
    while (p.client->poll_transmit(MutableByteView(out))) {}
    std::error_code ec;
    for (int i = 0; i < 100 && !ec; ++i) {
        auto t = p.client->next_timeout();
        REQUIRE(t);
        p.now = *t;
        ec = p.client->on_timeout(p.now);
        while (p.client->poll_transmit(MutableByteView(out))) {}
    }
    CHECK(ec == Error::handshake_timeout);
    CHECK(ec == tapsec::condition::timed_out);
}

// ---- negative tests, table-driven per packet type ---------------------------------------


struct Mutation {
    const char* name;
    std::function<void(Bytes&)> mutate;
    Error expected;
};

/// Feeds a mutated copy of `packet` and checks the drop reason and that nothing changed.
void expect_drop(MltEngine& engine, const Bytes& packet, const Mutation& m, const Endpoint& from, Instant now) {
    Bytes bad = packet;
    m.mutate(bad);
    const auto dropped = engine.counters().dropped;
    CHECK_FALSE(engine.receive(bad, from, now));
    CHECK_MESSAGE(engine.counters().dropped == dropped + 1, m.name);
    const auto reason = engine.counters().last_drop;
    CHECK_MESSAGE(reason == m.expected, m.name, ": got ", reason.message());
}


TEST_CASE("minimalt: negative: tunnel data packets") {
    Pair p;
    p.establish();
    REQUIRE_FALSE(p.client->send(text("a data packet"), p.now));
    std::array<std::uint8_t, 2048> out{};
    auto t = p.client->poll_transmit(MutableByteView(out));
    REQUIRE(t);
    const Bytes packet(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(t->size));
    const std::vector<Mutation> table = {
        {"tampered box", [](Bytes& b) { b.back() ^= 1; }, Error::box_failed},
        {"tampered tag", [](Bytes& b) { b[minimalt::header_size] ^= 1; }, Error::box_failed},
        {"tampered nonce", [](Bytes& b) { b[14] ^= 0x10; }, Error::box_failed},
        {"nonce of our own direction", [](Bytes& b) { b[15] ^= 1; }, Error::wrong_nonce_parity},
        {"unknown tunnel ID", [](Bytes& b) { b[7] ^= 1; }, Error::unknown_tunnel},
        {"puzzle flag without key flag", [](Bytes& b) { b[0] |= 0x40; }, Error::malformed_packet},
        {"truncated to the header", [](Bytes& b) { b.resize(minimalt::header_size); }, Error::malformed_packet},
        {"truncated below tag and payload header", [](Bytes& b) { b.resize(minimalt::header_size + 20); }, Error::malformed_packet},
        {"truncated box", [](Bytes& b) { b.pop_back(); }, Error::box_failed},
        {"empty", [](Bytes& b) { b.clear(); }, Error::malformed_packet},
        {"oversized", [](Bytes& b) { b.resize(minimalt::max_packet_size + 1); }, Error::oversized_packet},
    };
    for (const auto& m : table) expect_drop(*p.server, packet, m, p.client_ep, p.now);
    // The genuine packet still opens after all that, once; its replay is refused.
    CHECK_FALSE(p.server->receive(packet, p.client_ep, p.now));
    CHECK(drain(*p.server) == "a data packet");
    expect_drop(*p.server, packet, {"replayed packet", [](Bytes&) {}, Error::replayed_packet}, p.client_ep, p.now);
}

TEST_CASE("minimalt: negative: tunnel requests") {
    Pair p([](minimalt::Config& server, minimalt::Config&) { server.puzzle_difficulty = 4; });
    REQUIRE_FALSE(p.client->start(p.now));
    std::array<std::uint8_t, 2048> out{};
    auto t = p.client->poll_transmit(MutableByteView(out));
    REQUIRE(t);
    const Bytes request(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(t->size));
    const std::vector<Mutation> table = {
        {"tampered client key", [](Bytes& b) { b[20] ^= 1; }, Error::box_failed},
        {"tampered box", [](Bytes& b) { b.back() ^= 1; }, Error::box_failed},
        {"truncated client key", [](Bytes& b) { b.resize(minimalt::header_size + 20); }, Error::malformed_packet},
        {"solution flag without a solution", [](Bytes& b) { b[0] |= 0x40; b.resize(minimalt::header_size + 32 + 30); }, Error::malformed_packet},
        {"unpadded (smaller than a puzzle reply)", [](Bytes& b) { b.resize(minimalt::puzzle_packet_size - 1); }, Error::malformed_packet},
        {"one byte short of the minimum request", [](Bytes& b) { b.resize(minimalt::min_request_size - 1); }, Error::malformed_packet},
        {"oversized", [](Bytes& b) { b.resize(minimalt::max_packet_size + 100); }, Error::oversized_packet},
    };
    for (const auto& m : table) expect_drop(*p.server, request, m, p.client_ep, p.now);
    CHECK_FALSE(p.server->is_established());
    // The genuine request still works after all the junk.
    CHECK_FALSE(p.server->receive(request, p.client_ep, p.now));
    CHECK(p.server->is_established());
    // Another request once the tunnel exists: refused before any key agreement.
    MltEngine other(Role::client, p.directory.client);
    REQUIRE_FALSE(other.start(p.now));
    auto t2 = other.poll_transmit(MutableByteView(out));
    REQUIRE(t2);
    const Bytes second(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(t2->size));
    expect_drop(*p.server, second, {"second tunnel", [](Bytes&) {}, Error::tunnel_busy}, p.client_ep, p.now);
    CHECK(p.server->counters().key_agreements == 3);  // the two tampered boxes and the genuine one
}

TEST_CASE("minimalt: negative: puzzle packets") {
    Pair p([](minimalt::Config& server, minimalt::Config&) {
        server.source_validation = CommonConfig::SourceValidation::always;
        server.puzzle_difficulty = 6;
    });
    REQUIRE_FALSE(p.client->start(p.now));
    std::array<std::uint8_t, 2048> out{};
    auto t = p.client->poll_transmit(MutableByteView(out));
    REQUIRE(t);
    CHECK_FALSE(p.server->receive(ByteView(out.data(), t->size), p.client_ep, p.now));
    auto pt = p.server->poll_transmit(MutableByteView(out));
    REQUIRE(pt);
    const Bytes puzzle(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(pt->size));
    const std::vector<Mutation> table = {
        {"truncated", [](Bytes& b) { b.pop_back(); }, Error::malformed_packet},
        {"oversized", [](Bytes& b) { b.push_back(0); }, Error::oversized_packet},
        {"nonzero nonce", [](Bytes& b) { b[15] = 1; }, Error::malformed_packet},
        {"zero difficulty", [](Bytes& b) { b[16] = 0; }, Error::malformed_packet},
        {"harder than the record", [](Bytes& b) { b[16] = 7; }, Error::puzzle_too_hard},
        {"for another tunnel", [](Bytes& b) { b[7] ^= 1; }, Error::unknown_tunnel},
        {"hash of nothing we can find", [](Bytes& b) { b[16 + 1 + 24] ^= 1; }, Error::puzzle_wrong},
    };
    for (const auto& m : table) expect_drop(*p.client, puzzle, m, p.server_ep, p.now);
    // The server never accepts a puzzle packet.
    expect_drop(*p.server, puzzle, {"puzzle sent to a server", [](Bytes&) {}, Error::malformed_packet}, p.client_ep, p.now);
    // Wrong and expired solutions, sent by a client that mangles its own.
    CHECK_FALSE(p.client->receive(puzzle, p.server_ep, p.now));
    auto solved = p.client->poll_transmit(MutableByteView(out));
    REQUIRE(solved);
    const Bytes with_solution(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(solved->size));
    const std::size_t solution_at = minimalt::header_size + 32 + minimalt::ticket_size;
    expect_drop(*p.server, with_solution, {"wrong solution", [&](Bytes& b) { b[solution_at] ^= 1; }, Error::puzzle_wrong}, p.client_ep, p.now);
    expect_drop(*p.server, with_solution, {"solution from another address", [](Bytes&) {}, Error::puzzle_wrong},
                *Endpoint::parse("10.1.1.1:999"), p.now);
    p.directory.wall += 60s;
    expect_drop(*p.server, with_solution, {"expired puzzle", [](Bytes&) {}, Error::puzzle_expired}, p.client_ep, p.now);
    p.directory.wall -= 60s;
    CHECK_FALSE(p.server->receive(with_solution, p.client_ep, p.now));
    CHECK(p.server->is_established());
}

TEST_CASE("minimalt: negative: frames inside an authentic box") {
    // Frames are parsed only after the box opens; a peer holding the key that sends
    // malformed RPCs gets its packet dropped (not delivered, not acknowledged).
    using minimalt::FrameType;
    struct Case {
        const char* name;
        Bytes frames;
        Error expected;
    };
    auto frame = [](std::uint32_t conn, std::uint8_t type, Bytes body) {
        Bytes out;
        wire::Writer w(out);
        w.u32(conn);
        w.u8(type);
        w.prefixed(2, body);
        return out;
    };
    const std::vector<Case> table = {
        {"unknown frame type", frame(0, 9, {}), Error::malformed_frame},
        {"data on the control connection", frame(0, 1, {1, 2}), Error::malformed_frame},
        {"create off the control connection", frame(3, 2, {0, 0, 0, 3, 'x'}), Error::malformed_frame},
        {"create without a service", frame(0, 2, {0, 0, 0, 3}), Error::malformed_frame},
        {"close with a short body", frame(0, 4, {0, 0, 1}), Error::malformed_frame},
        {"close_tunnel with a body", frame(0, 6, {0}), Error::malformed_frame},
        {"nonzero padding", frame(0, 0, {0, 1}), Error::malformed_frame},
        {"length past the end", Bytes{0, 0, 0, 1, 1, 0, 9, 'a'}, Error::malformed_frame},
        {"truncated frame header", Bytes{0, 0, 0}, Error::malformed_frame},
    };
    for (const auto& c : table) {
        INFO(c.name);
        Pair p;
        p.establish();
        Bytes payload{0, 0, 0, 2, 0, 0, 0, 0};  // seq 2, ack 0
        append(payload, c.frames);
        const auto dropped = p.server->counters().dropped;
        while (p.server->poll_event()) {}
        CHECK_FALSE(p.server->receive(p.forge_client_packet(payload), p.client_ep, p.now));
        CHECK(p.server->counters().dropped == dropped + 1);
        CHECK(p.server->counters().last_drop == c.expected);
        auto e = p.server->poll_event();  // the first drop is also reported as an event
        REQUIRE(e);
        CHECK(e->kind == EventKind::dropped_packet);
        CHECK(e->reason == c.expected);
    }
}

TEST_CASE("minimalt: through Secure<> over MemoryDatagram") {
    using Mlt = Secure<MinimaltHandshake, MinimaltRecord, MemoryDatagram>;
    static_assert(CallerBufferEngine<Mlt::Engine> && ViewReceiveEngine<Mlt::Engine>);
    static_assert(Mlt::has<feature::CM> && Mlt::has<feature::DM> && Mlt::has<feature::rekeying>);
    static_assert(Mlt::has<feature::MA> && Mlt::features.availability<feature::MA>() == Availability::supported);
    Directory d;
    auto [a, b] = MemoryDatagram::pair();
    Mlt client(Role::client, d.client, std::move(a)), server(Role::server, d.server, std::move(b));
    std::error_code server_ec;
    std::thread t([&] { server_ec = server.handshake(); });
    REQUIRE_FALSE(client.handshake());
    t.join();
    REQUIRE_FALSE(server_ec);
    REQUIRE_FALSE(client.send(as_bytes("ping")));
    auto m = server.receive_message(std::chrono::seconds(2));
    REQUIRE(m);
    CHECK(std::string(m->begin(), m->end()) == "ping");
    REQUIRE_FALSE(client.update_keys());
    REQUIRE_FALSE(server.send(as_bytes("pong")));
    auto r = client.receive_message(std::chrono::seconds(2));
    REQUIRE(r);
    CHECK(std::string(r->begin(), r->end()) == "pong");
}

}  // namespace minimalt_test
