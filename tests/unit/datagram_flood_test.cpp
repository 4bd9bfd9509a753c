// Attacker-driven paths are bounded (issue 8, item 6). Each datagram engine of the
// WireGuard, DTLS-SRTP and SRTP compositions takes 1,000,000 junk datagrams: random
// sizes and bytes, and well-formed-looking headers (right type, size, index, SSRC) with
// bad MACs. Every one must be dropped and counted, the heap must not grow beyond a
// fixed bound (glibc's mallinfo2, measured after a warm-up that lets the bounded
// queues reach their capacity), the queues must stay within their limits, and the
// engine must still work afterwards: real traffic (and, for WireGuard, a new
// handshake) goes through.
#include <doctest/doctest.h>

#include <malloc.h>

#include <random>

#include <tapsec/tapsec.hpp>

#include "support/botan_tls_fixture.hpp"
#include "support/rtp.hpp"

using namespace tapsec;
using test::rtp_packet;
using namespace std::chrono_literals;

namespace datagram_flood_test {

constexpr std::size_t flood_size = 1'000'000;
constexpr std::size_t warm_up_size = 20'000;
/// What the heap may grow by across the flood, once warmed up. Nothing the flood
/// does should keep memory; the slack is for allocator bookkeeping.
constexpr std::size_t heap_bound = 256 * 1024;

std::size_t heap_in_use() {
    const auto info = ::mallinfo2();
    return info.uordblks + info.hblkhd;
}

/// Random junk and header-shaped junk for one protocol; deterministic per seed.
class Junk {
public:
    explicit Junk(std::uint64_t seed) : rng_(seed) {}
    std::uint32_t u32() { return static_cast<std::uint32_t>(rng_()); }
    std::size_t below(std::size_t n) { return static_cast<std::size_t>(rng_() % n); }
    /// `size` random bytes.
    ByteView random(std::size_t size) {
        buffer_.resize(size);
        for (std::size_t i = 0; i < size; i += 8) {
            const std::uint64_t r = rng_();
            std::memcpy(buffer_.data() + i, &r, std::min<std::size_t>(8, size - i));
        }
        return buffer_;
    }
    Bytes& buffer() { return buffer_; }

private:
    std::mt19937_64 rng_;
    Bytes buffer_;
};

void put_le32(std::uint8_t* p, std::uint32_t v) {
    for (int i = 0; i < 4; ++i) p[i] = static_cast<std::uint8_t>(v >> (8 * i));
}

// ---- WireGuard -----------------------------------------------------------------------

using WgEngine = wireguard::Engine<crypto::Botan2>;

SecretArray<32> private_key() {
    SecretArray<32> k;
    crypto::Botan2::random(k);
    return k;
}

struct WgPair {
    SecretArray<32> a_key = private_key(), b_key = private_key();
    wireguard::Key b_public{};
    Endpoint a_ep = *Endpoint::parse("127.0.0.1:40001"), b_ep = *Endpoint::parse("127.0.0.1:40002");
    std::unique_ptr<WgEngine> a, b;
    Instant now = Instant{} + 1000s;
    std::chrono::system_clock::time_point wall = std::chrono::system_clock::now();

    WgPair() {
        wireguard::Config ac, bc;
        ac.interface.private_key = a_key;
        ac.interface.has_private_key = true;
        bc.interface.private_key = b_key;
        bc.interface.has_private_key = true;
        b_public = wireguard::StaticIdentity<crypto::Botan2>::from_private(b_key)->public_key;
        wireguard::PeerSettings to_b, to_a;
        to_b.public_key = b_public;
        to_b.endpoint = b_ep;
        to_b.allowed_ips = {*wireguard::IpPrefix::parse("10.0.0.2/32")};
        to_a.public_key = wireguard::StaticIdentity<crypto::Botan2>::from_private(a_key)->public_key;
        to_a.endpoint = a_ep;
        to_a.allowed_ips = {*wireguard::IpPrefix::parse("10.0.0.1/32")};
        ac.interface.peers.push_back(to_b);
        bc.interface.peers.push_back(to_a);
        ac.wall_clock = bc.wall_clock = [this] { return wall; };
        a = std::make_unique<WgEngine>(Role::client, ac);
        b = std::make_unique<WgEngine>(Role::server, bc);
    }
    void step(std::chrono::milliseconds d) {
        now += d;
        wall += d;
    }
    void exchange() {
        for (int round = 0; round < 20; ++round) {
            bool moved = false;
            while (auto t = a->poll_transmit()) moved = true, b->receive(t->data, a_ep, now);
            while (auto t = b->poll_transmit()) moved = true, a->receive(t->data, b_ep, now);
            if (!moved) break;
        }
    }
    /// A sends one inner packet; returns what B delivered.
    std::optional<Bytes> a_to_b(std::string_view text) {
        auto packet = wireguard::make_ipv4_udp_packet(*wireguard::IpAddress::parse("10.0.0.1"),
                                                      *wireguard::IpAddress::parse("10.0.0.2"), 1, 2, as_bytes(text));
        if (a->send(packet, now)) return std::nullopt;
        exchange();
        auto got = b->poll_application_data();
        if (!got || *got != packet) return std::nullopt;
        return got;
    }
};

/// One junk datagram for a WireGuard responder whose live session index is `index`.
ByteView wireguard_junk(Junk& junk, std::uint32_t index, wireguard::CookieJar<crypto::Botan2>& macs, std::size_t n, Instant now) {
    Bytes& b = junk.buffer();
    switch (n % 10) {
        case 0:
        case 1:
        case 2: return junk.random(junk.below(1500));  // anything at all
        case 3:
        case 4: {  // transport data for the live session: right index, random counter, bad tag
            junk.random(wireguard::transport_min_size + junk.below(1400));
            b[0] = 4, b[1] = b[2] = b[3] = 0;
            put_le32(&b[4], index);
            return b;
        }
        case 5: {  // transport data for an index nobody has
            junk.random(wireguard::transport_min_size + junk.below(200));
            b[0] = 4, b[1] = b[2] = b[3] = 0;
            return b;
        }
        case 6:
        case 7: {  // an initiation with a bad mac1
            junk.random(wireguard::initiation_size);
            b[0] = 1, b[1] = b[2] = b[3] = 0;
            return b;
        }
        case 8: {  // a response or cookie reply for no handshake of ours
            junk.random(n % 20 == 8 ? wireguard::response_size : wireguard::cookie_reply_size);
            b[0] = n % 20 == 8 ? 2 : 3, b[1] = b[2] = b[3] = 0;
            return b;
        }
        default: {
            // An initiation with a VALID mac1 (the responder's public key is public) and
            // garbage inside: it costs the responder a DH, so only one in 2000 of these.
            junk.random(wireguard::initiation_size);
            b[0] = 1, b[1] = b[2] = b[3] = 0;
            if (n % 2000 == 9)
                macs.add_macs(b, wireguard::Initiation::mac1_offset, wireguard::Initiation::mac2_offset, now);
            return b;
        }
    }
}

// ---- DTLS-SRTP and SRTP --------------------------------------------------------------

using DtlsSrtp = dtls_srtp::Engine<crypto::DefaultProvider>;

/// One junk datagram on an RTP/RTCP/DTLS flow whose live SSRC is `ssrc`.
ByteView media_junk(Junk& junk, std::uint32_t ssrc, std::size_t n, bool with_dtls) {
    Bytes& b = junk.buffer();
    switch (n % 8) {
        case 0:
        case 1: return junk.random(junk.below(1500));
        case 2:
        case 3:
        case 4: {  // SRTP of the live stream (or a new SSRC), random sequence, bad tag
            junk.random(12 + 10 + junk.below(1200));
            b[0] = 0x80, b[1] = 96;
            if (n % 16 < 12) b[8] = static_cast<std::uint8_t>(ssrc >> 24), b[9] = static_cast<std::uint8_t>(ssrc >> 16),
                             b[10] = static_cast<std::uint8_t>(ssrc >> 8), b[11] = static_cast<std::uint8_t>(ssrc);
            return b;
        }
        case 5: {  // SRTCP sender report with E flag and index, bad tag
            junk.random(8 + 4 + 10 + junk.below(200));
            b[0] = 0x80, b[1] = 200;
            return b;
        }
        default: {
            if (!with_dtls) return junk.random(junk.below(64));
            // A DTLS 1.2 record in epoch 1 (application data, bad MAC).
            junk.random(13 + 8 + 16 + junk.below(400));
            b[0] = 23, b[1] = 0xfe, b[2] = 0xfd, b[3] = 0, b[4] = 1;
            const std::size_t length = b.size() - 13;
            b[11] = static_cast<std::uint8_t>(length >> 8), b[12] = static_cast<std::uint8_t>(length);
            return b;
        }
    }
}


TEST_CASE("flood: WireGuard engine drops and counts 1,000,000 junk datagrams in bounded memory, then works") {
    WgPair p;
    REQUIRE_FALSE(p.a->start(p.now));
    REQUIRE_FALSE(p.b->start(p.now));
    p.exchange();
    REQUIRE(p.b->is_established());
    REQUIRE(p.a_to_b("before"));
    const std::uint32_t live_index = p.a->current_session(0)->remote_index();  // B's index for A's packets
    wireguard::CookieJar<crypto::Botan2> macs(wireguard::noise::hash(as_bytes(wireguard::label_mac1), p.b_public), wireguard::Key{});
    while (p.b->poll_event()) {
    }
    Junk junk(0x5eed);
    const Endpoint attacker = *Endpoint::parse("192.0.2.66:5555");
    const auto drops_before = p.b->total_drops();
    auto flood = [&](std::size_t from, std::size_t count) {
        for (std::size_t n = from; n < from + count; ++n) {
            p.now += 1us;  // a million datagrams a second
            p.b->receive(wireguard_junk(junk, live_index, macs, n, p.now), attacker, p.now);
        }
    };
    flood(0, warm_up_size);
    const std::size_t heap_before = heap_in_use();
    flood(warm_up_size, flood_size - warm_up_size);
    const std::size_t heap_after = heap_in_use();
    INFO("heap before " << heap_before << ", after " << heap_after);
    CHECK(heap_after <= heap_before + heap_bound);
    // Every datagram dropped and counted, none delivered, the queues within bounds.
    CHECK(p.b->total_drops() - drops_before == flood_size);
    CHECK(p.b->drops(wireguard::Error::transport_decrypt_failed) > 100'000);
    CHECK(p.b->drops(wireguard::Error::bad_mac1) > 100'000);
    CHECK(p.b->queued_plaintexts() == 0);
    CHECK(p.b->queued_events() == 1);  // one coalesced dropped_packet event, pending
    CHECK(p.b->coalesced_drop_events() == flood_size - 1);
    CHECK(p.b->queued_transmits() <= wireguard::queue_limit);
    auto e = p.b->poll_event();
    REQUIRE(e);
    CHECK(e->kind == EventKind::dropped_packet);
    CHECK(e->reason.category() == wireguard::category());
    CHECK(e->detail.empty());

    // Still working: the live session carries data, and a new handshake completes.
    p.step(3s);  // out of the under-load state the valid-mac1 junk may have caused
    while (p.b->poll_transmit()) {
    }
    CHECK(p.a_to_b("after the flood"));
    const auto handshakes = p.b->statistics(0).handshakes_completed;
    p.step(1s);
    p.a->initiate_handshake(0, p.now);
    p.exchange();
    CHECK(p.b->statistics(0).handshakes_completed == handshakes + 1);
    CHECK(p.a_to_b("on the new session"));
}

TEST_CASE("flood: DTLS-SRTP engine drops and counts 1,000,000 junk datagrams in bounded memory, then works") {
    test::BotanTlsPki pki;
    REQUIRE(pki.pki.ok());
    DtlsSrtp client(Role::client, pki.client_config()), server(Role::server, pki.server_config());
    REQUIRE_FALSE(client.start(Clock::now()));
    REQUIRE_FALSE(server.start(Clock::now()));
    for (int i = 0; i < 10 && !(client.is_established() && server.is_established()); ++i) {
        REQUIRE_FALSE(test::feed(server, test::drain(client), test::client_address));
        REQUIRE_FALSE(test::feed(client, test::drain(server), test::server_address));
    }
    REQUIRE(server.is_established());
    const std::uint32_t ssrc = 0x0badcafe;
    REQUIRE_FALSE(client.send(rtp_packet(1, "before", ssrc), Clock::now()));
    REQUIRE_FALSE(test::feed(server, test::drain(client), test::client_address));
    REQUIRE(server.poll_application_data() == rtp_packet(1, "before", ssrc));

    while (server.poll_event()) {
    }
    Junk junk(0xd715);
    Instant now = Clock::now();
    const auto dropped_before = server.dropped();
    std::size_t failures = 0;
    auto flood = [&](std::size_t from, std::size_t count) {
        for (std::size_t n = from; n < from + count; ++n) {
            now += 1us;
            if (server.receive(media_junk(junk, ssrc, n, true), test::client_address, now)) ++failures;
        }
    };
    flood(0, warm_up_size);
    const std::size_t heap_before = heap_in_use();
    flood(warm_up_size, flood_size - warm_up_size);
    const std::size_t heap_after = heap_in_use();
    INFO("heap before " << heap_before << ", after " << heap_after);
    CHECK(heap_after <= heap_before + heap_bound);
    CHECK(failures == 0);
    CHECK_FALSE(server.is_closed());
    // DTLS records with a bad MAC are discarded inside Botan without a count; every
    // other junk datagram is counted here or by the SRTP layer.
    CHECK(server.dropped() - dropped_before >= flood_size * 6 / 8);
    CHECK(server.srtp_statistics()->authentication_failures > 300'000);
    CHECK(server.queued_plaintexts() == 0);
    CHECK(server.queued_events() == 1);  // one coalesced dropped_packet event, pending
    auto e = server.poll_event();
    REQUIRE(e);
    CHECK(e->kind == EventKind::dropped_packet);
    CHECK(e->detail.empty());
    CHECK(server.queued_transmits() == 0);

    // Still working both ways.
    const Bytes voice = rtp_packet(2, "after the flood", ssrc);
    REQUIRE_FALSE(client.send(voice, Clock::now()));
    REQUIRE_FALSE(test::feed(server, test::drain(client), test::client_address));
    std::optional<Bytes> got;
    while (auto d = server.poll_application_data()) got = std::move(d);
    CHECK(got == voice);
    const Bytes reply = rtp_packet(9, "reply", 0x12345678);
    REQUIRE_FALSE(server.send(reply, Clock::now()));
    REQUIRE_FALSE(test::feed(client, test::drain(server), test::server_address));
    CHECK(client.poll_application_data() == reply);
}

TEST_CASE("flood: SRTP session refuses 1,000,000 junk packets in bounded memory, then works") {
    srtp::MasterKeys keys;
    keys.profile = srtp::Profile::aes_cm_128_hmac_sha1_80;
    keys.client_write = {SecretBytes(16, 0x11), SecretBytes(14, 0x22)};
    keys.server_write = {SecretBytes(16, 0x33), SecretBytes(14, 0x44)};
    auto sender = srtp::Session<>::import(keys, Role::client);
    auto receiver = srtp::Session<>::import(keys, Role::server);
    REQUIRE(sender);
    REQUIRE(receiver);
    const std::uint32_t ssrc = 0x51515151;
    Bytes first = rtp_packet(1, "before", ssrc);
    REQUIRE_FALSE(sender->protect(first));
    REQUIRE_FALSE(receiver->unprotect(first));

    Junk junk(0x5a7c);
    Bytes packet;
    auto flood = [&](std::size_t from, std::size_t count) {
        for (std::size_t n = from; n < from + count; ++n) {
            const ByteView j = media_junk(junk, ssrc, n, false);
            packet.assign(j.begin(), j.end());
            (void)receiver->unprotect(MutableByteView(packet));
        }
    };
    flood(0, warm_up_size);
    const std::size_t heap_before = heap_in_use();
    flood(warm_up_size, flood_size - warm_up_size);
    const std::size_t heap_after = heap_in_use();
    INFO("heap before " << heap_before << ", after " << heap_after);
    CHECK(heap_after <= heap_before + heap_bound);
    CHECK(receiver->statistics().refused() == flood_size);
    CHECK(receiver->statistics().rtp_unprotected == 1);

    Bytes next = rtp_packet(2, "after the flood", ssrc);
    const Bytes plain = next;
    REQUIRE_FALSE(sender->protect(next));
    REQUIRE_FALSE(receiver->unprotect(next));
    CHECK(next == plain);
}

// ---- DTLS listener: stateless until a cookie returns (issue 16) -----------------------
//
// A DTLS server engine answers every ClientHello from its own bytes and its sender's
// address (RFC 6347 4.2.1) and binds to a client only when a valid cookie comes back:
// no stray datagram, flood of cookie-less ClientHellos or second client can capture it,
// and every datagram it sends goes to the address it answers.


using DtlsEngine = botan_tls::ChannelEngine<botan_tls::Carrier::datagram>;

const Endpoint stray_sender = *Endpoint::parse("127.0.0.1:6001");
const Endpoint real_client = *Endpoint::parse("127.0.0.1:6002");

/// Drives `client` (at `client_at`) against `server` on a virtual clock until both are
/// established. Every server transmit must name its destination: the ones not for
/// `client_at` are counted in `misaddressed` (and not delivered). `between_flights`
/// runs before each exchange (an attacker's turn).
template <class Server, class Client, class Between>
bool handshake_from(Client& client, const Endpoint& client_at, Server& server, Instant& now, std::size_t& misaddressed,
                    Between between_flights) {
    if (client.start(now)) return false;
    for (int i = 0; i < 60 && !(client.is_established() && server.is_established()); ++i) {
        between_flights();
        bool moved = false;
        while (auto t = client.poll_transmit()) {
            moved = true;
            if (server.receive(t->data, client_at, now)) return false;
        }
        while (auto t = server.poll_transmit()) {
            moved = true;
            if (!t->to || !(*t->to == client_at)) {
                ++misaddressed;
                continue;
            }
            if (client.receive(t->data, test::server_address, now)) return false;
        }
        if (!moved) {
            auto next = client.next_timeout();
            if (!next) return false;
            now = *next;
            if (client.on_timeout(now)) return false;
        }
    }
    while (auto t = client.poll_transmit()) (void)server.receive(t->data, client_at, now);  // the client's Finished
    return client.is_established() && server.is_established();
}

/// A real cookie-less ClientHello, as a client's first flight.
Bytes first_client_hello(const test::BotanTlsPki& pki) {
    DtlsEngine client(Role::client, pki.client_config());
    REQUIRE_FALSE(client.start(Clock::now()));
    auto hello = client.poll_transmit();
    REQUIRE(hello);
    return hello->data;
}


TEST_CASE("flood: a stray datagram does not capture a DTLS listener; the client whose cookie returns does") {
    test::BotanTlsPki pki;
    REQUIRE(pki.pki.ok());
    DtlsEngine server(Role::server, pki.server_config());
    Instant now = Clock::now();
    REQUIRE_FALSE(server.start(now));

    // One stray byte from A, first: dropped, counted, unanswered, nothing bound.
    const Bytes stray{0x42};
    REQUIRE_FALSE(server.receive(stray, stray_sender, now));
    CHECK(server.dropped() == 1);
    CHECK(server.last_drop() == dtls::DtlsErrc::malformed_record);
    CHECK_FALSE(server.poll_transmit());
    CHECK_FALSE(server.bound_peer());

    // The real client on B gets its HelloVerifyRequest and everything after it.
    DtlsEngine client(Role::client, pki.client_config());
    std::size_t misaddressed = 0;
    REQUIRE(handshake_from(client, real_client, server, now, misaddressed, [] {}));
    CHECK(misaddressed == 0);
    CHECK(server.hello_verify_requests() == 1);
    REQUIRE(server.bound_peer());
    CHECK(*server.bound_peer() == real_client);

    // Once bound, A's datagrams (even a well-formed ClientHello) are dropped unanswered,
    // and the connection goes on with B.
    REQUIRE_FALSE(server.receive(first_client_hello(pki), stray_sender, now));
    CHECK(server.last_drop() == dtls::DtlsErrc::other_peer);
    CHECK_FALSE(server.poll_transmit());
    REQUIRE_FALSE(server.send(as_bytes("to B"), now));
    auto t = server.poll_transmit();
    REQUIRE(t);
    REQUIRE(t->to);
    CHECK(*t->to == real_client);
    REQUIRE_FALSE(client.receive(t->data, test::server_address, now));
    CHECK(client.poll_application_data() == Bytes{'t', 'o', ' ', 'B'});
}

TEST_CASE("flood: 100,000 cookie-less ClientHellos keep a DTLS listener stateless; a real client still gets through") {
    test::BotanTlsPki pki;
    REQUIRE(pki.pki.ok());
    DtlsEngine server(Role::server, pki.server_config());
    Instant now = Clock::now();
    REQUIRE_FALSE(server.start(now));
    const Bytes hello = first_client_hello(pki);

    // Each from its own address (10.a.b.c:port): each gets one HelloVerifyRequest, sent
    // back to that address, and nothing else; the heap does not grow with them.
    std::uint32_t next_source = 0;
    std::size_t answered_elsewhere = 0, answers = 0;
    auto flood = [&](std::size_t count) {
        for (std::size_t i = 0; i < count; ++i, ++next_source) {
            const Endpoint from = *Endpoint::parse("10." + std::to_string(next_source >> 16 & 0xff) + "." +
                                                   std::to_string(next_source >> 8 & 0xff) + "." +
                                                   std::to_string(next_source & 0xff), static_cast<std::uint16_t>(1024 + next_source % 60000));
            REQUIRE_FALSE(server.receive(hello, from, now));
            while (auto t = server.poll_transmit()) {
                ++answers;
                if (!t->to || !(*t->to == from)) ++answered_elsewhere;
            }
        }
    };
    constexpr std::size_t hellos = 100'000, warm_up = 5'000;
    flood(warm_up);
    const std::size_t heap_before = heap_in_use();
    flood(hellos - warm_up);
    const std::size_t heap_after = heap_in_use();
    INFO("heap before " << heap_before << ", after " << heap_after);
    CHECK(heap_after <= heap_before + heap_bound);
    CHECK(answers == hellos);
    CHECK(answered_elsewhere == 0);
    CHECK(server.hello_verify_requests() == hellos);
    CHECK_FALSE(server.bound_peer());
    CHECK(server.pending_events() <= DtlsEngine::max_pending_events);

    // The flood goes on while a real client connects: 200 more hellos between flights.
    DtlsEngine client(Role::client, pki.client_config());
    std::size_t misaddressed = 0;
    REQUIRE(handshake_from(client, real_client, server, now, misaddressed, [&] { flood(200); }));
    CHECK(misaddressed == 0);
    CHECK(*server.bound_peer() == real_client);
    CHECK(answered_elsewhere == 0);
}

TEST_CASE("flood: a DTLS client that returns a cookie and goes silent times out the listener's handshake") {
    test::BotanTlsPki pki;
    auto config = pki.server_config();
    CHECK(config.accept_handshake_timeout == std::chrono::seconds(30));  // the default
    config.accept_handshake_timeout = 5s;
    DtlsEngine server(Role::server, config), client(Role::client, pki.client_config());
    Instant now = Clock::now();
    REQUIRE_FALSE(server.start(now));
    REQUIRE_FALSE(client.start(now));
    REQUIRE_FALSE(test::feed(server, test::drain(client), real_client, now));  // -> HelloVerifyRequest
    REQUIRE_FALSE(test::feed(client, test::drain(server), test::server_address, now));
    REQUIRE_FALSE(test::feed(server, test::drain(client), real_client, now));  // the cookie: bound
    REQUIRE(server.bound_peer());
    CHECK_FALSE(test::drain(server).empty());  // ServerHello flight; the client never answers
    // Retransmissions until the deadline, then one clear error.
    std::error_code ec;
    for (int i = 0; i < 20 && !ec; ++i) {
        auto next = server.next_timeout();
        REQUIRE(next);
        CHECK(*next <= now + 5s + 1ms);
        now = std::max(now, *next);
        ec = server.on_timeout(now);
        test::drain(server);
    }
    CHECK(ec == Errc::timed_out);
    CHECK(server.failure_detail().find("did not finish the handshake within 5 s") != std::string::npos);
}

TEST_CASE("flood: a DTLS-SRTP listener answers the client whose cookie returned, not the first sender") {
    test::BotanTlsPki pki;
    REQUIRE(pki.pki.ok());
    DtlsSrtp server(Role::server, pki.server_config()), client(Role::client, pki.client_config());
    Instant now = Clock::now();
    REQUIRE_FALSE(server.start(now));
    REQUIRE_FALSE(server.receive(Bytes{0x16, 0xfe}, stray_sender, now));  // a stray, DTLS-looking byte pair
    CHECK_FALSE(server.poll_transmit());
    std::size_t misaddressed = 0;
    REQUIRE(handshake_from(client, real_client, server, now, misaddressed, [] {}));
    CHECK(misaddressed == 0);
    // SRTP media from the server goes to the bound client too.
    const Bytes voice = rtp_packet(7, "to B", 0x1234abcd);
    REQUIRE_FALSE(server.send(voice, now));
    auto t = server.poll_transmit();
    REQUIRE(t);
    REQUIRE(t->to);
    CHECK(*t->to == real_client);
    REQUIRE_FALSE(client.receive(t->data, test::server_address, now));
    CHECK(client.poll_application_data() == voice);
}

}  // namespace datagram_flood_test
