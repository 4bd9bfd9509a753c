// WireGuard engine tests: two (or more) engines joined in memory with a clock the test
// steps. Covers the handshake in both directions, transport data, every drop reason
// (each counted), cookies under load, rekeying by time and by message count, timers,
// roaming, cryptokey routing and the configuration format.
#include <doctest/doctest.h>

#include <tapsec/crypto/openssl.hpp>
#include <tapsec/tapsec.hpp>

#include "support/wireguard_keys.hpp"

using namespace tapsec;
using namespace tapsec::wireguard;
using namespace std::chrono_literals;
using WgEngine = wireguard::Engine<crypto::Botan2>;

namespace wireguard_test {

using test::public_of;
using test::random_private_key;

IpAddress ip(const char* text) { return *IpAddress::parse(text); }
IpPrefix prefix(const char* text) { return *IpPrefix::parse(text); }

/// Two peers, A (10.0.0.1) and B (10.0.0.2), wired together in memory.
struct Pair {
    SecretArray<32> a_key = random_private_key(), b_key = random_private_key();
    Endpoint a_ep = *Endpoint::parse("127.0.0.1:40001"), b_ep = *Endpoint::parse("127.0.0.1:40002");
    Config a_config, b_config;
    std::unique_ptr<WgEngine> a, b;
    Instant now = Instant{} + 1000s;
    std::chrono::system_clock::time_point wall = std::chrono::system_clock::now();

    explicit Pair(std::function<void(Config&, Config&)> adjust = {}) {
        a_config.interface.private_key = a_key;
        a_config.interface.has_private_key = true;
        b_config.interface.private_key = b_key;
        b_config.interface.has_private_key = true;
        PeerSettings to_b;
        to_b.public_key = public_of(b_key);
        to_b.endpoint = b_ep;
        to_b.allowed_ips = {prefix("10.0.0.2/32")};
        a_config.interface.peers.push_back(to_b);
        PeerSettings to_a;
        to_a.public_key = public_of(a_key);
        to_a.endpoint = a_ep;
        to_a.allowed_ips = {prefix("10.0.0.1/32")};
        b_config.interface.peers.push_back(to_a);
        a_config.wall_clock = b_config.wall_clock = [this] { return wall; };
        if (adjust) adjust(a_config, b_config);
        a = std::make_unique<WgEngine>(Role::client, a_config);
        b = std::make_unique<WgEngine>(Role::server, b_config);
    }

    /// Advances both clocks (the wall clock too, so timestamps move).
    void step(std::chrono::milliseconds d) {
        now += d;
        wall += d;
    }

    /// Moves every queued datagram to its destination until both sides are quiet.
    /// `filter` may change or drop (return false) a datagram in flight.
    std::vector<Bytes> exchange(std::function<bool(Bytes&, bool from_a)> filter = {}) {
        std::vector<Bytes> seen;
        for (int round = 0; round < 50; ++round) {
            bool moved = false;
            while (auto t = a->poll_transmit()) {
                moved = true;
                seen.push_back(t->data);
                CHECK(t->to == b_ep);
                if (!filter || filter(t->data, true)) b->receive(t->data, a_ep, now);
            }
            while (auto t = b->poll_transmit()) {
                moved = true;
                seen.push_back(t->data);
                if (!filter || filter(t->data, false)) a->receive(t->data, b_ep, now);
            }
            if (!moved) break;
        }
        return seen;
    }

    void handshake() {
        REQUIRE_FALSE(a->start(now));
        REQUIRE_FALSE(b->start(now));
        exchange();
        REQUIRE(a->is_established());
        REQUIRE(b->is_established());
    }

    static Bytes packet(const char* src, const char* dst, std::string_view text) {
        return make_ipv4_udp_packet(ip(src), ip(dst), 1111, 2222, as_bytes(text));
    }
    Bytes a_to_b(std::string_view text) { return packet("10.0.0.1", "10.0.0.2", text); }
    Bytes b_to_a(std::string_view text) { return packet("10.0.0.2", "10.0.0.1", text); }
};

std::size_t count_events(WgEngine& e, EventKind kind) {
    std::size_t n = 0;
    while (auto ev = e.poll_event())
        if (ev->kind == kind) ++n;
    return n;
}


TEST_CASE("wireguard: handshake sizes, transport both ways, padding") {
    Pair p;
    REQUIRE_FALSE(p.a->start(p.now));
    auto initiation = p.a->poll_transmit();
    REQUIRE(initiation);
    CHECK(initiation->data.size() == initiation_size);
    CHECK(to_hex(ByteView(initiation->data).first(4)) == "01000000");
    p.b->receive(initiation->data, p.a_ep, p.now);
    auto response = p.b->poll_transmit();
    REQUIRE(response);
    CHECK(response->data.size() == response_size);
    CHECK(to_hex(ByteView(response->data).first(4)) == "02000000");
    p.a->receive(response->data, p.b_ep, p.now);
    CHECK(p.a->is_established());
    // A confirms with a keepalive (32 bytes: header, empty padded plaintext, tag).
    auto keepalive = p.a->poll_transmit();
    REQUIRE(keepalive);
    CHECK(keepalive->data.size() == transport_min_size);
    CHECK_FALSE(p.b->is_established());
    p.b->receive(keepalive->data, p.a_ep, p.now);
    CHECK(p.b->is_established());

    const Bytes forward = p.a_to_b("hello from A");
    REQUIRE_FALSE(p.a->send(forward, p.now));
    auto data = p.a->poll_transmit();
    REQUIRE(data);
    CHECK((data->data.size() - transport_min_size) % 16 == 0);
    CHECK(data->data.size() == transport_min_size + (forward.size() + 15) / 16 * 16);
    p.b->receive(data->data, p.a_ep, p.now);
    auto got = p.b->poll_application_data();
    REQUIRE(got);
    CHECK(*got == forward);  // padding stripped by the IP length
    REQUIRE_FALSE(p.b->send(p.b_to_a("reply from B"), p.now));
    p.exchange();
    auto back = p.a->poll_application_data();
    REQUIRE(back);
    CHECK(parse_ipv4_udp_packet(*back)->payload == Bytes(as_bytes("reply from B").begin(), as_bytes("reply from B").end()));
    CHECK(p.a->total_drops() == 0);
    CHECK(p.b->total_drops() == 0);
    const Key a_public = public_of(p.a_key);
    CHECK(p.b->session_info().peer.raw_public_key == Bytes(a_public.begin(), a_public.end()));
}

TEST_CASE("wireguard: padding never exceeds the MTU") {
    Pair p([](Config& a, Config&) { a.interface.mtu = 1000; });
    p.handshake();
    REQUIRE_FALSE(p.a->send(p.a_to_b(std::string(1000 - 28 - 2, 'x')), p.now));  // 998 bytes
    auto t = p.a->poll_transmit();
    REQUIRE(t);
    CHECK(t->data.size() == transport_min_size + 1000);  // padded to the MTU, not to 1008
    p.b->receive(t->data, p.a_ep, p.now);
    CHECK(p.b->poll_application_data()->size() == 998);
}

TEST_CASE("wireguard: either side initiates; data sent before a session is staged") {
    Pair p;
    // B (the "server") has data for A first: it stages it and initiates.
    REQUIRE_FALSE(p.b->send(p.b_to_a("staged"), p.now));
    auto first = p.b->poll_transmit();
    REQUIRE(first);
    CHECK(first->data.size() == initiation_size);
    p.a->receive(first->data, p.b_ep, p.now);
    p.exchange();
    auto got = p.a->poll_application_data();
    REQUIRE(got);
    CHECK(parse_ipv4_udp_packet(*got)->payload.size() == 6);
    CHECK(p.a->is_established());
    CHECK(p.b->is_established());
}

TEST_CASE("wireguard: simultaneous initiations settle and deliver the staged packets") {
    Pair p;
    REQUIRE_FALSE(p.a->send(p.a_to_b("from A"), p.now));
    REQUIRE_FALSE(p.b->send(p.b_to_a("from B"), p.now));
    p.exchange();
    // Both responses were to abandoned initiations; the retransmissions (REKEY_TIMEOUT
    // plus independent jitter) settle it.
    for (int i = 0; i < 600 && !(p.a->is_established() && p.b->is_established()); ++i) {
        p.step(50ms);
        p.a->on_timeout(p.now);
        p.b->on_timeout(p.now);
        p.exchange();
    }
    CHECK(p.a->is_established());
    CHECK(p.b->is_established());
    CHECK(p.a->poll_application_data());
    CHECK(p.b->poll_application_data());
}

TEST_CASE("wireguard: pre-shared key, and a mismatched one fails the response") {
    SecretArray<32> psk;
    crypto::Botan2::random(psk);
    Pair good([&](Config& a, Config& b) {
        a.interface.peers[0].preshared_key = psk;
        b.interface.peers[0].preshared_key = psk;
    });
    good.handshake();

    SecretArray<32> other;
    crypto::Botan2::random(other);
    Pair bad([&](Config& a, Config& b) {
        a.interface.peers[0].preshared_key = psk;
        b.interface.peers[0].preshared_key = other;
    });
    REQUIRE_FALSE(bad.a->start(bad.now));
    bad.exchange();
    CHECK_FALSE(bad.a->is_established());
    CHECK(bad.a->drops(Error::handshake_decrypt_failed) == 1);
}

TEST_CASE("wireguard: wrong static key is dropped with a counted reason") {
    SUBCASE("initiator has the wrong responder key: mac1 fails") {
        Pair p([](Config& a, Config&) { a.interface.peers[0].public_key = public_of(random_private_key()); });
        REQUIRE_FALSE(p.a->start(p.now));
        p.exchange();
        CHECK(p.b->drops(Error::bad_mac1) == 1);
        CHECK_FALSE(p.a->is_established());
    }
    SUBCASE("responder does not know the initiator: unknown peer") {
        Pair p([](Config&, Config& b) { b.interface.peers[0].public_key = public_of(random_private_key()); });
        REQUIRE_FALSE(p.a->start(p.now));
        p.exchange();
        CHECK(p.b->drops(Error::unknown_peer) == 1);
        CHECK_FALSE(p.b->is_established());
    }
}

TEST_CASE("wireguard: bad mac1, truncated and malformed messages, unknown index") {
    Pair p;
    REQUIRE_FALSE(p.a->start(p.now));
    Bytes initiation = p.a->poll_transmit()->data;
    Bytes bad = initiation;
    bad[Initiation::mac1_offset] ^= 1;
    p.b->receive(bad, p.a_ep, p.now);
    CHECK(p.b->drops(Error::bad_mac1) == 1);
    // Tampering with a covered byte also breaks mac1.
    bad = initiation;
    bad[40] ^= 0x80;
    p.b->receive(bad, p.a_ep, p.now);
    CHECK(p.b->drops(Error::bad_mac1) == 2);
    // Truncated / extended / unknown type / nonzero reserved bytes.
    p.b->receive(ByteView(initiation).first(147), p.a_ep, p.now);
    Bytes longer = initiation;
    longer.push_back(0);
    p.b->receive(longer, p.a_ep, p.now);
    Bytes reserved = initiation;
    reserved[2] = 1;
    p.b->receive(reserved, p.a_ep, p.now);
    p.b->receive(Bytes{9, 0, 0, 0, 1, 2, 3}, p.a_ep, p.now);
    p.b->receive(Bytes{}, p.a_ep, p.now);
    CHECK(p.b->drops(Error::malformed_message) == 5);
    CHECK_FALSE(p.b->is_established());

    p.b->receive(initiation, p.a_ep, p.now);
    p.exchange();
    REQUIRE(p.b->is_established());
    REQUIRE_FALSE(p.a->send(p.a_to_b("x"), p.now));
    Bytes data = p.a->poll_transmit()->data;
    p.b->receive(ByteView(data).first(transport_min_size - 1), p.a_ep, p.now);
    CHECK(p.b->drops(Error::malformed_message) == 6);
    Bytes unknown = data;
    unknown[4] ^= 0xff;
    p.b->receive(unknown, p.a_ep, p.now);
    CHECK(p.b->drops(Error::unknown_receiver_index) == 1);
    Bytes cookie(cookie_reply_size, 0);
    cookie[0] = 3;
    p.a->receive(cookie, p.b_ep, p.now);
    CHECK(p.a->drops(Error::unknown_receiver_index) == 1);
}

TEST_CASE("wireguard: replayed initiation is rejected by its timestamp") {
    Pair p;
    REQUIRE_FALSE(p.a->start(p.now));
    Bytes initiation = p.a->poll_transmit()->data;
    p.b->receive(initiation, p.a_ep, p.now);
    CHECK(p.b->poll_transmit());  // response
    p.step(1s);
    p.b->receive(initiation, p.a_ep, p.now);
    CHECK(p.b->drops(Error::replayed_initiation) == 1);
    CHECK_FALSE(p.b->poll_transmit());
}

TEST_CASE("wireguard: initiations faster than 50/s are dropped as a flood") {
    Pair p;
    REQUIRE_FALSE(p.a->start(p.now));
    p.b->receive(p.a->poll_transmit()->data, p.a_ep, p.now);
    p.wall += 1s;  // a newer timestamp, but only 5 ms later on the engine clock
    p.now += 5ms;
    p.a->initiate_handshake(0, p.now + 10s);
    auto second = p.a->poll_transmit();
    REQUIRE(second);
    p.b->receive(second->data, p.a_ep, p.now);
    CHECK(p.b->drops(Error::initiation_flood) == 1);
}

TEST_CASE("wireguard: transport replay, too-old counters, tampering, reordering") {
    Pair p;
    p.handshake();
    std::vector<Bytes> sent;
    for (int i = 0; i < 3000; ++i) {
        REQUIRE_FALSE(p.a->send(p.a_to_b("n" + std::to_string(i)), p.now));
        sent.push_back(p.a->poll_transmit()->data);
    }
    // Deliver out of order: the second half first, then the window's worth of the first.
    for (std::size_t i = 1500; i < 3000; ++i) p.b->receive(sent[i], p.a_ep, p.now);
    for (std::size_t i = 1100; i < 1500; ++i) p.b->receive(sent[i], p.a_ep, p.now);
    std::size_t delivered = 0;
    while (p.b->poll_application_data()) ++delivered;
    CHECK(delivered == 1900);
    CHECK(p.b->total_drops() == 0);
    // Old: more than the window (2048) behind the highest counter.
    p.b->receive(sent[10], p.a_ep, p.now);
    CHECK(p.b->drops(Error::counter_too_old) == 1);
    // Exactly the newest 2048 counters (2999 - 2047 = 952) are inside the window.
    p.b->receive(sent[951], p.a_ep, p.now);
    CHECK(p.b->drops(Error::counter_too_old) == 2);
    p.b->receive(sent[952], p.a_ep, p.now);
    CHECK(p.b->poll_application_data());
    // Replayed.
    p.b->receive(sent[2999], p.a_ep, p.now);
    p.b->receive(sent[1200], p.a_ep, p.now);
    CHECK(p.b->drops(Error::replayed_counter) == 2);
    // Tampered ciphertext and tag, a forged counter: authentication fails, window unmoved.
    REQUIRE_FALSE(p.a->send(p.a_to_b("fresh"), p.now));
    Bytes fresh = p.a->poll_transmit()->data;
    Bytes tampered = fresh;
    tampered[20] ^= 1;
    p.b->receive(tampered, p.a_ep, p.now);
    tampered = fresh;
    tampered.back() ^= 1;
    p.b->receive(tampered, p.a_ep, p.now);
    tampered = fresh;
    tampered[8] ^= 0x40;  // counter
    p.b->receive(tampered, p.a_ep, p.now);
    CHECK(p.b->drops(Error::transport_decrypt_failed) == 3);
    p.b->receive(fresh, p.a_ep, p.now);
    CHECK(p.b->poll_application_data());
}

TEST_CASE("wireguard: inner IPv6 packets are routed and checked like IPv4") {
    Pair p([](Config& a, Config& b) {
        a.interface.peers[0].allowed_ips.push_back(prefix("fd00::2/128"));
        b.interface.peers[0].allowed_ips.push_back(prefix("fd00::1/128"));
    });
    p.handshake();
    auto ipv6 = [](const char* src, const char* dst, std::size_t payload) {
        Bytes packet(40 + payload, 0xab);
        packet[0] = 0x60;
        packet[1] = packet[2] = packet[3] = 0;
        packet[4] = static_cast<std::uint8_t>(payload >> 8);
        packet[5] = static_cast<std::uint8_t>(payload);
        packet[6] = 59;  // no next header
        packet[7] = 64;
        auto s = ip(src), d = ip(dst);
        std::copy(s.bytes.begin(), s.bytes.end(), packet.begin() + 8);
        std::copy(d.bytes.begin(), d.bytes.end(), packet.begin() + 24);
        return packet;
    };
    const Bytes packet = ipv6("fd00::1", "fd00::2", 21);
    REQUIRE_FALSE(p.a->send(packet, p.now));
    p.exchange();
    auto got = p.b->poll_application_data();
    REQUIRE(got);
    CHECK(*got == packet);
    REQUIRE_FALSE(p.a->send(ipv6("fd00::77", "fd00::2", 3), p.now));
    p.exchange();
    CHECK(p.b->drops(Error::disallowed_source_address) == 1);
}

TEST_CASE("wireguard: inner source outside the peer's allowed IPs is dropped") {
    Pair p;
    p.handshake();
    // A sends a packet claiming to come from 10.0.0.99: B's table says that is not A.
    p.a_config.interface.peers[0].allowed_ips.push_back(prefix("0.0.0.0/0"));
    REQUIRE_FALSE(p.a->send(Pair::packet("10.0.0.99", "10.0.0.2", "spoof"), p.now));
    p.exchange();
    CHECK(p.b->drops(Error::disallowed_source_address) == 1);
    CHECK_FALSE(p.b->poll_application_data());
    // Sending to an address no peer owns, or something that is not IP, is dropped locally.
    REQUIRE_FALSE(p.a->send(Pair::packet("10.0.0.1", "192.168.1.1", "x"), p.now));
    CHECK(p.a->drops(Error::no_route) == 1);
    REQUIRE_FALSE(p.a->send(as_bytes("not an IP packet"), p.now));
    CHECK(p.a->drops(Error::not_an_ip_packet) == 1);
}

TEST_CASE("wireguard: under load the responder sends a cookie and the retry carries mac2") {
    Pair p;
    p.b->set_under_load(true);
    REQUIRE_FALSE(p.a->start(p.now));
    auto seen = p.exchange();
    REQUIRE(seen.size() == 2);
    CHECK(seen[1].size() == cookie_reply_size);
    CHECK(p.b->drops(Error::cookie_required) == 1);
    CHECK(p.b->cookie_replies_sent() == 1);
    CHECK(p.a->statistics(0).cookie_replies_received == 1);
    CHECK_FALSE(p.a->is_established());
    // The retransmission after REKEY_TIMEOUT (+ jitter) has a valid mac2.
    p.step(5400ms);
    p.a->on_timeout(p.now);
    seen = p.exchange();
    CHECK(p.a->is_established());
    CHECK(p.b->is_established());
    CHECK(p.b->drops(Error::cookie_required) == 1);
    // Still under load, an address that proved itself is rate-limited: 20/s, burst 5.
    // (The retransmission with mac2 is replayed; the limiter runs before decryption.)
    Bytes with_mac2 = seen.front();
    REQUIRE(with_mac2.size() == initiation_size);
    for (int i = 0; i < 10; ++i) p.b->receive(with_mac2, p.a_ep, p.now);
    CHECK(p.b->drops(Error::replayed_initiation) == 4);
    CHECK(p.b->drops(Error::handshake_rate_limited) == 6);
    // A tampered cookie reply does not decrypt: counted, and no cookie is stored.
    Pair q;
    q.b->set_under_load(true);
    REQUIRE_FALSE(q.a->start(q.now));
    q.b->receive(q.a->poll_transmit()->data, q.a_ep, q.now);
    Bytes reply = q.b->poll_transmit()->data;
    REQUIRE(reply.size() == cookie_reply_size);
    reply[40] ^= 1;
    q.a->receive(reply, q.b_ep, q.now);
    CHECK(q.a->drops(Error::bad_cookie_reply) == 1);
    CHECK(q.a->statistics(0).cookie_replies_received == 0);
}

TEST_CASE("wireguard: load is detected from the handshake rate") {
    Pair p([](Config&, Config& b) { b.load.handshakes_per_second = 2; });
    REQUIRE_FALSE(p.a->start(p.now));
    Bytes initiation = p.a->poll_transmit()->data;
    for (int i = 0; i < 3; ++i) p.b->receive(initiation, p.a_ep, p.now);
    // The third message within a second tipped the responder into load: a cookie reply.
    CHECK(p.b->cookie_replies_sent() >= 1);
}

TEST_CASE("wireguard: rekey after REKEY_AFTER_TIME while traffic flows") {
    Pair p([](Config& a, Config& b) {
        a.timers.rekey_after_time = b.timers.rekey_after_time = 30s;
    });
    p.handshake();
    const auto first_index = p.a->current_session(0)->local_index();
    int delivered = 0;
    for (int second = 0; second < 60; ++second) {
        p.step(1s);
        REQUIRE_FALSE(p.a->send(p.a_to_b("tick"), p.now));
        REQUIRE_FALSE(p.b->send(p.b_to_a("tock"), p.now));
        p.a->on_timeout(p.now);
        p.b->on_timeout(p.now);
        p.exchange();
        while (p.b->poll_application_data()) ++delivered;
        while (p.a->poll_application_data()) ++delivered;
    }
    CHECK(delivered == 120);  // nothing lost across the rekeys
    CHECK(p.a->statistics(0).handshakes_completed >= 2);
    CHECK(p.a->current_session(0)->local_index() != first_index);
    CHECK(count_events(*p.a, EventKind::key_updated) >= 1);
    CHECK(p.a->total_drops() == 0);
    CHECK(p.b->total_drops() == 0);
}

TEST_CASE("wireguard: rekey after REKEY_AFTER_MESSAGES, refusal at REJECT_AFTER_MESSAGES") {
    Pair p([](Config& a, Config& b) {
        a.timers.rekey_after_messages = b.timers.rekey_after_messages = 100;
        a.timers.reject_after_messages = b.timers.reject_after_messages = 150;
    });
    p.handshake();  // A's confirming keepalive used counter 0
    p.step(1s);     // (a later TAI64N timestamp for the next initiation)
    for (int i = 0; i < 98; ++i) REQUIRE_FALSE(p.a->send(p.a_to_b("m"), p.now));
    CHECK(p.a->statistics(0).handshake_initiations_sent == 1);
    REQUIRE_FALSE(p.a->send(p.a_to_b("m"), p.now));  // counter 99 sent: 100 used, a new handshake starts
    CHECK(p.a->statistics(0).handshake_initiations_sent == 2);
    p.exchange();
    CHECK(p.a->current_session(0)->send_counter() <= 1);
    // The old session, pushed to its hard limit, refuses to send.
    auto* session = p.a->current_session(0);
    session->set_send_counter(150);
    CHECK_FALSE(session->can_send(p.now, p.a_config.timers));
}

TEST_CASE("wireguard: keys expire after REJECT_AFTER_TIME and are erased after 3x") {
    Pair p;
    p.handshake();
    p.step(181s);
    // A packet now finds no usable session: staged, and a new handshake starts.
    REQUIRE_FALSE(p.a->send(p.a_to_b("late"), p.now));
    auto t = p.a->poll_transmit();
    REQUIRE(t);
    CHECK(t->data.size() == initiation_size);
    p.b->receive(t->data, p.a_ep, p.now);
    p.exchange();
    CHECK(p.b->poll_application_data());
    // Silence for 3 * REJECT_AFTER_TIME: everything is erased.
    for (int i = 0; i < 60; ++i) {
        p.step(10s);
        p.a->on_timeout(p.now);
        p.b->on_timeout(p.now);
        p.exchange();
    }
    CHECK_FALSE(p.a->is_established());
    CHECK_FALSE(p.b->is_established());
}

TEST_CASE("wireguard: retransmission with jitter, then giving up after REKEY_ATTEMPT_TIME") {
    Pair p;
    REQUIRE_FALSE(p.a->start(p.now));
    p.a->poll_transmit();  // lost
    auto deadline = p.a->next_timeout();
    REQUIRE(deadline);
    CHECK(*deadline - p.now >= 5s);
    CHECK(*deadline - p.now <= 5333ms);
    int initiations = 1;
    for (int i = 0; i < 40; ++i) {
        auto next = p.a->next_timeout();
        if (!next) break;
        p.now = *next;
        p.a->on_timeout(p.now);
        while (auto t = p.a->poll_transmit()) initiations += t->data.size() == initiation_size;
    }
    CHECK(initiations >= 17);  // every ~5 s for 90 s
    CHECK(initiations <= 19);
    CHECK(p.a->drops(Error::handshake_timeout) == 1);
}

TEST_CASE("wireguard: passive keepalive and persistent keepalive") {
    Pair p([](Config& a, Config&) { a.interface.peers[0].persistent_keepalive = 25s; });
    p.handshake();
    REQUIRE_FALSE(p.a->send(p.a_to_b("ping"), p.now));
    p.exchange();
    // B received data and sends nothing: after KEEPALIVE_TIMEOUT it sends a keepalive.
    p.step(10s);
    p.b->on_timeout(p.now);
    auto keepalive = p.b->poll_transmit();
    REQUIRE(keepalive);
    CHECK(keepalive->data.size() == transport_min_size);
    p.a->receive(keepalive->data, p.b_ep, p.now);
    // A's persistent keepalive fires 25 s after the last packet either way.
    p.step(24s);
    p.a->on_timeout(p.now);
    CHECK_FALSE(p.a->poll_transmit());
    p.step(1s);
    p.a->on_timeout(p.now);
    auto persistent = p.a->poll_transmit();
    REQUIRE(persistent);
    CHECK(persistent->data.size() == transport_min_size);
}

TEST_CASE("wireguard: roaming follows the latest authenticated packet only") {
    Pair p;
    p.handshake();
    const Endpoint moved = *Endpoint::parse("127.0.0.1:40999");
    REQUIRE_FALSE(p.a->send(p.a_to_b("from a new address"), p.now));
    Bytes data = p.a->poll_transmit()->data;
    // A forged packet from elsewhere does not move the endpoint.
    Bytes forged = data;
    forged[30] ^= 1;
    p.b->receive(forged, *Endpoint::parse("127.0.0.1:666"), p.now);
    CHECK(p.b->endpoint(0) == p.a_ep);
    p.b->receive(data, moved, p.now);
    CHECK(p.b->endpoint(0) == moved);
    CHECK(count_events(*p.b, EventKind::peer_address_changed) == 1);
    REQUIRE_FALSE(p.b->send(p.b_to_a("follow"), p.now));
    CHECK(p.b->poll_transmit()->to == moved);
}

TEST_CASE("wireguard: several peers, longest-prefix routing, IPv4 and IPv6") {
    AllowedIps table;
    table.insert(prefix("10.0.0.0/8"), 0);
    table.insert(prefix("10.1.0.0/16"), 1);
    table.insert(prefix("10.1.2.3/32"), 2);
    table.insert(prefix("fd00::/64"), 1);
    table.insert(prefix("::/0"), 0);
    CHECK(table.lookup(ip("10.9.9.9")) == 0u);
    CHECK(table.lookup(ip("10.1.9.9")) == 1u);
    CHECK(table.lookup(ip("10.1.2.3")) == 2u);
    CHECK_FALSE(table.lookup(ip("11.0.0.1")));
    CHECK(table.lookup(ip("fd00::1")) == 1u);
    CHECK(table.lookup(ip("2001:db8::1")) == 0u);
    table.insert(prefix("10.1.0.0/16"), 2);  // moves to the new owner
    CHECK(table.lookup(ip("10.1.9.9")) == 2u);
    CHECK(prefix("10.1.2.3/8").to_string() == "10.0.0.0/8");
    CHECK_FALSE(IpPrefix::parse("10.0.0.0/33"));
    CHECK_FALSE(IpPrefix::parse("fd00::/129"));
    CHECK_FALSE(IpPrefix::parse("10.0.0/8"));

    // A hub with two spokes: traffic goes to the right one.
    auto hub = random_private_key(), s1 = random_private_key(), s2 = random_private_key();
    Config hub_config;
    hub_config.interface.private_key = hub;
    hub_config.interface.has_private_key = true;
    for (auto* spoke : {&s1, &s2}) {
        PeerSettings ps;
        ps.public_key = public_of(*spoke);
        ps.endpoint = *Endpoint::parse(spoke == &s1 ? "127.0.0.1:1" : "127.0.0.1:2");
        ps.allowed_ips = {prefix(spoke == &s1 ? "10.1.0.0/16" : "10.2.0.0/16")};
        hub_config.interface.peers.push_back(ps);
    }
    WgEngine engine(Role::server, hub_config);
    const Instant now{};
    REQUIRE_FALSE(engine.send(Pair::packet("10.0.0.1", "10.2.3.4", "to spoke 2"), now));
    auto t = engine.poll_transmit();
    REQUIRE(t);
    CHECK(t->to == *Endpoint::parse("127.0.0.1:2"));
    REQUIRE_FALSE(engine.send(Pair::packet("10.0.0.1", "10.1.3.4", "to spoke 1"), now));
    CHECK(engine.poll_transmit()->to == *Endpoint::parse("127.0.0.1:1"));
}

TEST_CASE("wireguard: authentication delegated to the application admits an unknown key") {
    Key admitted{};
    Pair p([&](Config&, Config& b) {
        b.interface.peers.clear();
        b.delegate_authentication = true;
        b.authorize_unknown_peer = [&](const Key& key) -> std::optional<PeerSettings> {
            admitted = key;
            PeerSettings s;
            s.allowed_ips = {prefix("10.0.0.1/32")};
            return s;
        };
    });
    p.handshake();
    CHECK(admitted == public_of(p.a_key));
    REQUIRE_FALSE(p.a->send(p.a_to_b("admitted"), p.now));
    p.exchange();
    CHECK(p.b->poll_application_data());

    Pair refused([](Config&, Config& b) {
        b.interface.peers.clear();
        b.delegate_authentication = true;
        b.authorize_unknown_peer = [](const Key&) -> std::optional<PeerSettings> { return std::nullopt; };
    });
    REQUIRE_FALSE(refused.a->start(refused.now));
    refused.exchange();
    CHECK(refused.b->drops(Error::unknown_peer) == 1);
}

TEST_CASE("wireguard: identity validator can reject an authenticated peer") {
    Pair p([](Config&, Config& b) {
        b.validate_peer = [](const PeerIdentity&) { return make_error_code(Errc::peer_rejected_by_application); };
    });
    REQUIRE_FALSE(p.a->start(p.now));
    p.exchange();
    CHECK(p.b->drops(Error::rejected_by_application) == 1);
    CHECK_FALSE(p.a->is_established());
}

TEST_CASE("wireguard: base64 keys as wg prints them") {
    // RFC 7748 section 6.1 Alice's key pair, base64-encoded.
    auto priv = decode_key("dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo=");
    REQUIRE(priv);
    CHECK(to_hex(*priv) == "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a");
    SecretArray<32> secret;
    std::copy(priv->begin(), priv->end(), secret.begin());
    CHECK(encode_key(public_of(secret)) == "hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo=");
    CHECK_FALSE(decode_key("dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo"));    // 43 characters
    CHECK_FALSE(decode_key("dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LC*="));  // bad character
    CHECK_FALSE(decode_key("dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCp="));  // non-canonical last digit
}

TEST_CASE("wireguard: the wg configuration format, with one-line errors naming the line") {
    const std::string good =
        "# a comment\n"
        "[Interface]\n"
        "PrivateKey = dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo=\n"
        "ListenPort = 51820\n"
        "Address = 10.77.0.2/24, fd77::2/64\n"
        "\n"
        "[Peer]\n"
        "PublicKey = hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo=\n"
        "PresharedKey = dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo=\n"
        "Endpoint = 127.0.0.1:5555\n"
        "AllowedIPs = 10.77.0.1/32, fd77::/64\n"
        "PersistentKeepalive = 25\n";
    auto parsed = parse_config(good, "wg0.conf");
    REQUIRE_MESSAGE(parsed.settings, parsed.error);
    CHECK(parsed.settings->listen_port == 51820);
    CHECK(parsed.settings->addresses.size() == 2);
    CHECK(parsed.settings->addresses[0].address.to_string() == "10.77.0.2");
    REQUIRE(parsed.settings->peers.size() == 1);
    const auto& peer = parsed.settings->peers[0];
    CHECK(peer.endpoint->to_string() == "127.0.0.1:5555");
    CHECK(peer.allowed_ips.size() == 2);
    CHECK(peer.persistent_keepalive == 25s);
    CHECK(peer.preshared_key.has_value());

    struct Bad {
        std::string text;
        std::string error;
    };
    const Bad bad[] = {
        {"[Interface]\nPrivateKey = nope\n", "wg0.conf:2: PrivateKey: not a base64 32-byte key"},
        {"[Interface]\nPrivateKey = dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo=\nListenPort = 70000\n", "wg0.conf:3: ListenPort"},
        {"[Interface]\nPrivateKey = dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo=\n[Peer]\nEndpoint = 1.2.3.4:5\n", "wg0.conf:5: the last [Peer] section has no PublicKey"},
        {"[Interface]\nPrivateKey = dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo=\n[Peer]\nPublicKey = hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo=\nAllowedIPs = 10.0.0.1/40\n", "wg0.conf:5: AllowedIPs: '10.0.0.1/40'"},
        {"[Interface]\nPrivateKey = dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo=\n[Peer]\nPublicKey = hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo=\nEndpoint = example\n", "wg0.conf:5: Endpoint"},
        {"[Interface]\nPrivateKey = dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo=\nColour = blue\n", "wg0.conf:3: unknown [Interface] key 'Colour'"},
        {"PrivateKey = x\n", "wg0.conf:1: PrivateKey outside a section"},
        {"[Interface]\nListenPort = 1\n", "wg0.conf:3: [Interface] has no PrivateKey"},
        {"[Interfaces]\n", "wg0.conf:1: unknown section"},
        {"[Interface]\njunk\n", "wg0.conf:2: expected 'Key = Value'"},
        {"[Interface]\nPrivateKey = dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo=\n[Peer]\nPublicKey = hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo=\nPersistentKeepalive = soon\n", "wg0.conf:5: PersistentKeepalive"},
    };
    for (const auto& b : bad) {
        auto r = parse_config(b.text, "wg0.conf");
        CAPTURE(b.text);
        CHECK_FALSE(r.settings);
        CHECK(r.error.rfind(b.error, 0) == 0);
        CHECK(r.error.find('\n') == std::string::npos);
    }
}

TEST_CASE("wireguard: composition features and compile-time checks") {
    using Wg = Secure<WireGuardHandshake, WireGuardRecord, Udp>;
    static_assert(Wg::features.availability<feature::MA>() == Availability::mandatory);
    static_assert(Wg::features.availability<feature::SV>() == Availability::mandatory);
    static_assert(Wg::features.availability<feature::DM>() == Availability::supported);
    static_assert(Wg::features.availability<feature::AD>() == Availability::supported);
    static_assert(Wg::features.availability<feature::LHP>() == Availability::supported);
    static_assert(Wg::features.availability<feature::CM>() == Availability::supported);
    static_assert(Wg::features.availability<feature::AN>() == Availability::unsupported);
    static_assert(Wg::features.availability<feature::ED>() == Availability::unsupported);
    static_assert(SansIoEngine<Wg::Engine>);
    static_assert(!Composable<WireGuardHandshake, WireGuardRecord, Tcp, crypto::Botan2>);
    CHECK(true);
}

TEST_CASE("wireguard: the OpenSSL 3 provider drops in, and interoperates with the Botan 2 one") {
    // A: Engine<OpenSsl3>, B: Engine<Botan2>; same configuration types, no protocol change.
    auto a_key = random_private_key(), b_key = random_private_key();
    Config a_config, b_config;
    a_config.interface.private_key = a_key;
    a_config.interface.has_private_key = true;
    b_config.interface.private_key = b_key;
    b_config.interface.has_private_key = true;
    const Endpoint a_ep = *Endpoint::parse("127.0.0.1:1"), b_ep = *Endpoint::parse("127.0.0.1:2");
    PeerSettings to_b, to_a;
    to_b.public_key = public_of(b_key);
    to_b.endpoint = b_ep;
    to_b.allowed_ips = {prefix("10.0.0.2/32")};
    to_a.public_key = public_of(a_key);
    to_a.endpoint = a_ep;
    to_a.allowed_ips = {prefix("10.0.0.1/32")};
    a_config.interface.peers.push_back(to_b);
    b_config.interface.peers.push_back(to_a);
    wireguard::Engine<crypto::OpenSsl3> a(Role::client, a_config);
    WgEngine b(Role::server, b_config);
    const Instant now{};
    REQUIRE_FALSE(a.start(now));
    auto pump = [&] {
        for (int i = 0; i < 5; ++i) {
            while (auto t = a.poll_transmit()) b.receive(t->data, a_ep, now);
            while (auto t = b.poll_transmit()) a.receive(t->data, b_ep, now);
        }
    };
    pump();
    REQUIRE(a.is_established());
    REQUIRE(b.is_established());
    REQUIRE_FALSE(a.send(Pair::packet("10.0.0.1", "10.0.0.2", "openssl to botan"), now));
    REQUIRE_FALSE(b.send(Pair::packet("10.0.0.2", "10.0.0.1", "botan to openssl"), now));
    pump();
    auto at_b = b.poll_application_data();
    auto at_a = a.poll_application_data();
    REQUIRE(at_b);
    REQUIRE(at_a);
    CHECK(parse_ipv4_udp_packet(*at_b)->payload.size() == 16);
    CHECK(parse_ipv4_udp_packet(*at_a)->payload.size() == 16);
    // Cookies (XChaCha20-Poly1305, Botan's inside the OpenSSL provider) work across too.
    b.set_under_load(true);
    a.initiate_handshake(0, now + std::chrono::seconds(10));
    pump();
    CHECK(a.statistics(0).cookie_replies_received == 1);
    CHECK(a.total_drops() == 0);
}

TEST_CASE("wireguard: randomness and wall-clock time come only from the configuration") {
    // A counting random source and a fixed wall clock (CommonConfig::random / wall_clock):
    // the initiation is then a pure function of the configuration.
    const auto fixed_key = [](std::uint8_t first) {
        SecretArray<32> k;
        for (std::size_t i = 0; i < k.size(); ++i) k[i] = static_cast<std::uint8_t>(first + i);
        return k;
    };
    const Instant now = Instant{} + 1000s;
    auto config = [&](std::uint8_t random_start) {
        Config c;
        c.interface.private_key = fixed_key(1);
        c.interface.has_private_key = true;
        PeerSettings peer;
        peer.public_key = public_of(fixed_key(101));
        peer.endpoint = *Endpoint::parse("127.0.0.1:40002");
        peer.allowed_ips = {prefix("10.0.0.2/32")};
        c.interface.peers.push_back(peer);
        auto next = std::make_shared<std::uint8_t>(random_start);
        c.random = [next](MutableByteView out) {
            for (auto& b : out) b = (*next)++;
        };
        c.wall_clock = [] { return std::chrono::system_clock::time_point{} + std::chrono::seconds(1'700'000'000); };
        return c;
    };
    WgEngine first(Role::client, config(0)), second(Role::client, config(0)), other(Role::client, config(7));
    for (auto* e : {&first, &second, &other}) REQUIRE_FALSE(e->start(now));
    auto a = first.poll_transmit(), b = second.poll_transmit(), c = other.poll_transmit();
    REQUIRE(a);
    REQUIRE(b);
    REQUIRE(c);
    CHECK(a->data == b->data);  // ephemeral key, sender index, timestamp, macs: all injected
    CHECK(a->data != c->data);
    CHECK(first.next_timeout() == second.next_timeout());  // the retransmission jitter too
    // The draws in order: the sender index (bytes 0-3), then the ephemeral private key (4-35).
    CHECK(to_hex(ByteView(a->data).subspan(4, 4)) == "00010203");
    SecretArray<32> ephemeral;
    for (std::size_t i = 0; i < ephemeral.size(); ++i) ephemeral[i] = static_cast<std::uint8_t>(4 + i);
    const Key ephemeral_public = public_of(ephemeral);
    CHECK(to_hex(ByteView(a->data).subspan(8, 32)) == to_hex(ephemeral_public));
}

}  // namespace wireguard_test
