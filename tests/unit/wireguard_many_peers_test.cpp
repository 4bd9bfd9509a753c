// One WireGuard responder with 1,000 peers, all in memory with a clock the test steps
// (issue 14, serving at scale): every peer handshakes and exchanges data both ways; the
// responder finds peers by static key (hash map), by receiver index and by inner
// address (per-length hash tables), and fires timers from a min-heap; all of it stays
// right after peers are removed, re-added and rekeyed. A crowd that arrives at once
// against the default load threshold goes through cookie replies and still gets in.
#include <doctest/doctest.h>

#include <set>
#include <unordered_map>

#include <tapsec/tapsec.hpp>

#include "support/wireguard_keys.hpp"

using namespace tapsec;
using namespace tapsec::wireguard;
using namespace std::chrono_literals;
using WgEngine = wireguard::Engine<crypto::Botan2>;

namespace wireguard_many_peers_test {

using test::public_of;
using test::random_private_key;

/// Peer i: inner address 10.1.H.L, outer endpoint 127.1.H.L:40000 (a distinct source
/// address each, as a real crowd has), H.L = i + 1 in two bytes.
IpAddress inner_address(std::size_t i) {
    return IpAddress::v4(10, 1, static_cast<std::uint8_t>((i + 1) >> 8), static_cast<std::uint8_t>(i + 1));
}
Endpoint outer_endpoint(std::size_t i) {
    return *Endpoint::parse("127.1." + std::to_string((i + 1) >> 8) + "." + std::to_string((i + 1) & 255), 40000);
}
const IpAddress responder_inner = IpAddress::v4(10, 1, 0, 0);

/// The responder and its crowd of initiators, wired together in memory.
struct Crowd {
    std::size_t size;
    Endpoint responder_ep = *Endpoint::parse("127.0.0.1:51820");
    SecretArray<32> responder_key = random_private_key();
    std::vector<SecretArray<32>> keys;
    Config responder_config;
    std::unique_ptr<WgEngine> responder;
    std::vector<std::unique_ptr<WgEngine>> peers;
    std::unordered_map<std::string, std::size_t> by_endpoint;
    Instant now = Instant{} + 1000s;
    std::chrono::system_clock::time_point wall = std::chrono::system_clock::now();

    Crowd(std::size_t n, std::size_t handshakes_per_second) : size(n) {
        responder_config.interface.private_key = responder_key;
        responder_config.interface.has_private_key = true;
        responder_config.load.handshakes_per_second = handshakes_per_second;
        responder_config.wall_clock = [this] { return wall; };
        for (std::size_t i = 0; i < n; ++i) {
            keys.push_back(random_private_key());
            responder_config.interface.peers.push_back(settings_for(i));
        }
        responder = std::make_unique<WgEngine>(Role::server, responder_config);
        for (std::size_t i = 0; i < n; ++i) peers.push_back(make_initiator(i));
    }

    PeerSettings settings_for(std::size_t i) const {
        PeerSettings s;
        s.public_key = public_of(keys[i]);
        s.allowed_ips = {IpPrefix{inner_address(i), 32}};
        return s;
    }
    std::unique_ptr<WgEngine> make_initiator(std::size_t i) {
        Config c;
        c.interface.private_key = keys[i];
        c.interface.has_private_key = true;
        c.wall_clock = [this] { return wall; };
        PeerSettings to_responder;
        to_responder.public_key = public_of(responder_key);
        to_responder.endpoint = responder_ep;
        to_responder.allowed_ips = {*IpPrefix::parse("10.1.0.0/32")};
        c.interface.peers.push_back(to_responder);
        by_endpoint[outer_endpoint(i).to_string()] = i;
        return std::make_unique<WgEngine>(Role::client, c);
    }

    void step(std::chrono::milliseconds d) {
        now += d;
        wall += d;
    }

    /// Moves datagrams until every engine is quiet; returns how many moved.
    std::size_t pump() {
        std::size_t moved = 0;
        for (int round = 0; round < 20; ++round) {
            std::size_t before = moved;
            for (std::size_t i = 0; i < peers.size(); ++i)
                while (auto t = peers[i]->poll_transmit()) {
                    ++moved;
                    responder->receive(t->data, outer_endpoint(i), now);
                }
            while (auto t = responder->poll_transmit()) {
                ++moved;
                REQUIRE(t->to);
                auto it = by_endpoint.find(t->to->to_string());
                REQUIRE_MESSAGE(it != by_endpoint.end(), "a datagram to an endpoint nobody has: " << t->to->to_string());
                peers[it->second]->receive(t->data, *t->to, now);
            }
            if (moved == before) break;
        }
        return moved;
    }

    void start_all() {
        REQUIRE_FALSE(responder->start(now));
        for (auto& p : peers) REQUIRE_FALSE(p->start(now));
    }

    /// Every peer sends "up N" to the responder, which answers "down N" to the peer's
    /// inner address; returns how many of each arrived intact at the right place.
    std::pair<std::size_t, std::size_t> exchange_data(const std::vector<std::size_t>& who, const std::string& tag) {
        for (std::size_t i : who) {
            const std::string text = tag + " up " + std::to_string(i);
            REQUIRE_FALSE(peers[i]->send(make_ipv4_udp_packet(inner_address(i), responder_inner, 1000, 2000, as_bytes(text)), now));
        }
        pump();
        std::size_t up = 0;
        std::set<std::size_t> answered;
        while (auto plaintext = responder->poll_plaintext()) {
            auto info = inspect_ip_packet(*plaintext);
            auto udp = parse_ipv4_udp_packet(*plaintext);
            REQUIRE(info);
            REQUIRE(udp);
            const std::string text(udp->payload.begin(), udp->payload.end());
            const std::string prefix = tag + " up ";
            if (text.rfind(prefix, 0) != 0) continue;
            const std::size_t i = std::stoul(text.substr(prefix.size()));
            CHECK(info->source == inner_address(i));  // the route check let only peer i's address through
            ++up;
            answered.insert(i);
        }
        for (std::size_t i : answered) {
            const std::string text = tag + " down " + std::to_string(i);
            REQUIRE_FALSE(responder->send(make_ipv4_udp_packet(responder_inner, inner_address(i), 2000, 1000, as_bytes(text)), now));
        }
        pump();
        std::size_t down = 0;
        for (std::size_t i : who)
            while (auto plaintext = peers[i]->poll_plaintext()) {
                auto udp = parse_ipv4_udp_packet(*plaintext);
                REQUIRE(udp);
                if (std::string(udp->payload.begin(), udp->payload.end()) == tag + " down " + std::to_string(i)) ++down;
            }
        return {up, down};
    }

    std::vector<std::size_t> everyone() const {
        std::vector<std::size_t> all(size);
        for (std::size_t i = 0; i < size; ++i) all[i] = i;
        return all;
    }
};


TEST_CASE("wireguard: 1,000 peers on one responder: every peer handshakes and exchanges data; lookups by key, index "
          "and route") {
    constexpr std::size_t n = 1000;
    Crowd crowd(n, 1'000'000);  // no cookies here: the crowd test below has them
    WgEngine& responder = *crowd.responder;
    REQUIRE(responder.peer_count() == n);
    REQUIRE(responder.active_peer_count() == n);
    for (std::size_t i = 0; i < n; ++i) REQUIRE(responder.find_peer(public_of(crowd.keys[i])) == i);
    CHECK_FALSE(responder.find_peer(public_of(random_private_key())));

    const auto started = Clock::now();
    crowd.start_all();
    crowd.pump();
    const auto took = Clock::now() - started;
    std::size_t established = 0;
    for (std::size_t i = 0; i < n; ++i) established += crowd.peers[i]->has_session(0) && responder.has_session(i);
    MESSAGE(n << " handshakes in memory in " << std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms");
    CHECK(established == n);
    CHECK(responder.total_drops() == 0);
    CHECK(responder.cookie_replies_sent() == 0);

    const auto [up, down] = crowd.exchange_data(crowd.everyone(), "first");
    CHECK(up == n);
    CHECK(down == n);
    for (std::size_t i = 0; i < n; ++i) CHECK(responder.statistics(i).handshakes_completed == 1);

    // The timer heap holds each peer about once (bounded: stale entries are rebuilt away),
    // and its top is the earliest deadline: the passive keepalives the peers armed when
    // the answers arrived, KEEPALIVE_TIMEOUT from now.
    CHECK(responder.timer_heap_size() <= 2 * n + 64);
    for (auto& p : crowd.peers) {
        REQUIRE(p->next_timeout());
        CHECK(*p->next_timeout() == crowd.now + crowd.responder_config.timers.keepalive_timeout);
    }
    REQUIRE(responder.next_timeout());
    CHECK(*responder.next_timeout() > crowd.now);

    // Keys nobody renewed are erased after 3 * REJECT_AFTER_TIME: one tick fires all
    // 1,000 peers' timers and leaves the heap empty of live deadlines.
    crowd.step(std::chrono::duration_cast<std::chrono::milliseconds>(crowd.responder_config.timers.zero_keys_after()) + 1s);
    REQUIRE_FALSE(responder.on_timeout(crowd.now));
    std::size_t left = 0;
    for (std::size_t i = 0; i < n; ++i) left += responder.has_session(i);
    CHECK(left == 0);
    CHECK_FALSE(responder.next_timeout());
}

TEST_CASE("wireguard: 1,000 peers: lookups stay right after removal, re-adding and rekeying") {
    constexpr std::size_t n = 1000;
    Crowd crowd(n, 1'000'000);
    WgEngine& responder = *crowd.responder;
    crowd.start_all();
    crowd.pump();

    // Remove every tenth peer.
    std::vector<std::size_t> removed, kept;
    for (std::size_t i = 0; i < n; ++i) (i % 10 == 3 ? removed : kept).push_back(i);
    for (std::size_t i : removed) REQUIRE(responder.remove_peer(public_of(crowd.keys[i])));
    CHECK_FALSE(responder.remove_peer(public_of(crowd.keys[removed.front()])));  // already gone
    CHECK(responder.active_peer_count() == kept.size());
    for (std::size_t i : removed) {
        CHECK_FALSE(responder.find_peer(public_of(crowd.keys[i])));
        CHECK_FALSE(responder.has_session(i));
    }
    for (std::size_t i : kept) CHECK(responder.find_peer(public_of(crowd.keys[i])) == i);

    // The removed peers' sessions and routes are gone: their packets are dropped, each
    // counted under its reason; everyone else's still flow.
    const auto unknown_before = responder.drops(Error::unknown_receiver_index);
    const auto [up_removed, down_removed] = crowd.exchange_data(removed, "removed");
    CHECK(up_removed == 0);
    CHECK(down_removed == 0);
    CHECK(responder.drops(Error::unknown_receiver_index) - unknown_before == removed.size());
    const auto no_route_before = responder.drops(Error::no_route);
    REQUIRE_FALSE(responder.send(make_ipv4_udp_packet(responder_inner, inner_address(removed[0]), 1, 2, as_bytes("x")), crowd.now));
    CHECK(responder.drops(Error::no_route) == no_route_before + 1);
    const auto [up_kept, down_kept] = crowd.exchange_data(kept, "kept");
    CHECK(up_kept == kept.size());
    CHECK(down_kept == kept.size());

    // New keys for the removed peers' addresses: they take the free slots, handshake and
    // route; the old keys stay unknown (their fresh handshakes are refused).
    for (std::size_t i : removed) {
        crowd.keys[i] = random_private_key();
        const std::size_t slot = responder.add_peer(crowd.settings_for(i));
        CHECK(slot < n);  // a reused slot, not a new one
        crowd.peers[i] = crowd.make_initiator(i);
        REQUIRE_FALSE(crowd.peers[i]->start(crowd.now));
    }
    CHECK(responder.peer_count() == n);
    CHECK(responder.active_peer_count() == n);
    crowd.pump();
    for (std::size_t i : removed) {
        auto slot = responder.find_peer(public_of(crowd.keys[i]));
        REQUIRE(slot);
        CHECK(responder.has_session(*slot));
        CHECK(crowd.peers[i]->has_session(0));
    }
    const auto [up_new, down_new] = crowd.exchange_data(removed, "readded");
    CHECK(up_new == removed.size());
    CHECK(down_new == removed.size());

    // Rekey half the crowd (new handshakes, new receiver indices); 6 s later, past
    // REKEY_TIMEOUT, so each peer's initiation is accepted.
    crowd.step(6s);
    std::vector<std::size_t> rekeyed;
    for (std::size_t i = 0; i < n; i += 2) {
        rekeyed.push_back(i);
        crowd.peers[i]->initiate_handshake(0, crowd.now);
    }
    crowd.pump();
    std::size_t renewed = 0;
    for (std::size_t i : rekeyed) {
        auto slot = responder.find_peer(public_of(crowd.keys[i]));
        REQUIRE(slot);
        renewed += crowd.peers[i]->statistics(0).handshakes_completed == 2;
    }
    CHECK(renewed == rekeyed.size());
    const auto [up_all, down_all] = crowd.exchange_data(crowd.everyone(), "after-rekey");
    CHECK(up_all == n);
    CHECK(down_all == n);
    CHECK(responder.drops(Error::disallowed_source_address) == 0);
    CHECK(responder.timer_heap_size() <= 2 * n + 64);
}

TEST_CASE("wireguard: a crowd of 300 arriving at once is answered with cookie replies past the load threshold, and "
          "every peer still gets in") {
    constexpr std::size_t n = 300;
    Crowd crowd(n, 64);  // the library's default threshold
    WgEngine& responder = *crowd.responder;
    crowd.start_all();
    crowd.pump();
    std::size_t first_round = 0, cookies = 0;
    for (std::size_t i = 0; i < n; ++i) {
        first_round += crowd.peers[i]->has_session(0);
        cookies += crowd.peers[i]->statistics(0).cookie_replies_received;
    }
    MESSAGE("first round: " << first_round << " of " << n << " got in; " << responder.cookie_replies_sent() << " cookie replies");
    CHECK(first_round >= 64);
    CHECK(first_round < n);
    CHECK(responder.cookie_replies_sent() == n - first_round);
    CHECK(cookies == n - first_round);
    CHECK(responder.drops(Error::cookie_required) == n - first_round);

    // REKEY_TIMEOUT (+ jitter) later the others retransmit with mac2 from their cookie;
    // one tick of each initiator's timer heap, in rounds until all are in.
    for (int round = 0; round < 10; ++round) {
        crowd.step(5400ms);
        for (auto& p : crowd.peers) REQUIRE_FALSE(p->on_timeout(crowd.now));
        crowd.pump();
    }
    std::size_t in = 0;
    for (std::size_t i = 0; i < n; ++i) in += crowd.peers[i]->has_session(0) && responder.has_session(i);
    CHECK(in == n);
    const auto [up, down] = crowd.exchange_data(crowd.everyone(), "after-cookies");
    CHECK(up == n);
    CHECK(down == n);
}

}  // namespace wireguard_many_peers_test
