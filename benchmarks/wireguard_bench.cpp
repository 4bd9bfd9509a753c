// WireGuard: transport-data seal+open packets per second at 1420-byte payloads, as a
// ratio to the provider's raw ChaCha20-Poly1305 seal+open of the same 1420 bytes in
// the same run; at two levels (the session alone, and the whole engine with routing,
// replay window and queues); and complete handshakes per second (two engines in memory).
// Next to the rates: heap allocations per packet (global operator new hook), for the
// session, the engine's owning forms and its caller-buffer forms (poll_transmit(out),
// poll_plaintext()), the last being the allocation-free data path.
#include <tapsec/crypto/openssl.hpp>
#include <tapsec/tapsec.hpp>

#include "alloc_counter.hpp"
#include "harness.hpp"

namespace {
using tapsec::bench::allocations_per_call;
using tapsec::bench::best_of_interleaved;

using namespace tapsec;
using namespace tapsec::wireguard;
constexpr std::size_t payload_size = 1420;

SecretArray<32> random_key() {
    SecretArray<32> k;
    crypto::Botan2::random(k);
    return k;
}

struct Peers {
    Config a, b;
    Endpoint a_ep = *Endpoint::parse("127.0.0.1:1"), b_ep = *Endpoint::parse("127.0.0.1:2");
    Peers() {
        auto ak = random_key(), bk = random_key();
        a.interface.private_key = ak;
        a.interface.has_private_key = true;
        b.interface.private_key = bk;
        b.interface.has_private_key = true;
        PeerSettings to_b, to_a;
        to_b.public_key = StaticIdentity<crypto::Botan2>::from_private(bk)->public_key;
        to_b.endpoint = b_ep;
        to_b.allowed_ips = {*IpPrefix::parse("10.0.0.2/32")};
        to_a.public_key = StaticIdentity<crypto::Botan2>::from_private(ak)->public_key;
        to_a.endpoint = a_ep;
        to_a.allowed_ips = {*IpPrefix::parse("10.0.0.1/32")};
        a.interface.peers.push_back(to_b);
        b.interface.peers.push_back(to_a);
        // Each handshake in the loop needs a newer TAI64N timestamp than the last.
        auto clock = std::make_shared<std::chrono::system_clock::time_point>(std::chrono::system_clock::now());
        a.wall_clock = [clock] { return *clock += std::chrono::milliseconds(20); };
    }
};

/// One full handshake: initiation, response, confirming keepalive.
template <class WgEngine>
bool handshake(WgEngine& a, WgEngine& b, const Peers& p, Instant now) {
    const auto before_a = a.statistics(0).handshakes_completed, before_b = b.statistics(0).handshakes_completed;
    a.initiate_handshake(0, now);
    for (int i = 0; i < 4; ++i) {
        while (auto t = a.poll_transmit()) b.receive(t->data, p.a_ep, now);
        while (auto t = b.poll_transmit()) a.receive(t->data, p.b_ep, now);
    }
    // Both sides must have completed a new handshake (not merely kept an old session).
    return a.statistics(0).handshakes_completed == before_a + 1 && b.statistics(0).handshakes_completed == before_b + 1;
}

/// The suite for one provider; rows are prefixed with `tag` when it is not empty.
template <class Provider>
void run_with(bench::Report& report, const std::string& prefix) {
    using WgEngine = wireguard::Engine<Provider>;
    auto label = [&](const std::string& text) { return prefix.empty() ? text : prefix + ": " + text; };
    // Reference: the provider's ChaCha20-Poly1305, seal then open, 1420 bytes in place.
    Bytes key(32, 7);
    auto aead = Provider::Aead::create(crypto::AeadAlgorithm::chacha20_poly1305, key);
    Bytes text(payload_size, 0x42);
    std::array<std::uint8_t, 16> tag{};
    std::array<std::uint8_t, 12> nonce{};
    std::uint64_t counter = 0;
    auto raw_body = [&] {
        ++counter;
        std::memcpy(nonce.data() + 4, &counter, 8);
        aead->seal_in_place(nonce, {}, text, tag);
        if (!aead->open_in_place(nonce, {}, text, tag)) std::abort();
    };

    // Session level: Session::seal on one side, Session::open on the other.
    TransportKeys ka, kb;
    Provider::random(ka.send);
    Provider::random(ka.receive);
    kb.send = ka.receive;
    kb.receive = ka.send;
    TimerSettings limits;
    const Instant t0{};
    auto sender = Session<Provider>::create(ka, true, 1, 2, t0);
    auto receiver = Session<Provider>::create(kb, false, 2, 1, t0);
    Bytes wire, plain;
    const Bytes packet(payload_size, 0x42);
    auto session_body = [&] {
        if (sender->seal(packet, wire, t0, limits)) std::abort();
        auto header = parse_transport_header(wire);
        if (receiver->open(wire, header->counter, plain, t0, limits)) std::abort();
    };

    // Engine level: send() an IPv4 packet, move the datagram, receive(), poll it out.
    Peers peers;
    WgEngine a(Role::client, peers.a), b(Role::server, peers.b);
    const Instant now = Clock::now();
    if (!handshake(a, b, peers, now)) std::abort();
    const Bytes inner = make_ipv4_udp_packet(*IpAddress::parse("10.0.0.1"), *IpAddress::parse("10.0.0.2"), 1, 2,
                                             Bytes(payload_size - 28, 0x42));
    auto engine_body = [&] {
        a.send(inner, now);
        auto t = a.poll_transmit();
        b.receive(t->data, peers.a_ep, now);
        if (!b.poll_application_data()) std::abort();
    };

    // The same through the caller-buffer forms: nothing allocated per packet.
    Bytes out(max_transmit_size);
    auto engine_views_body = [&] {
        a.send(inner, now);
        auto info = a.poll_transmit(MutableByteView(out));
        b.receive(ByteView(out.data(), info->size), peers.a_ep, now);
        if (!b.poll_plaintext()) std::abort();
    };

    const auto [raw, session, engine, engine_views] =
        best_of_interleaved(5, raw_body, session_body, engine_body, engine_views_body);
    report.value(label("raw ChaCha20-Poly1305 seal+open, 1420 B"), raw, "packets/s", std::string(Provider::name) + ", best of 5 interleaved rounds");
    report.value(label("WireGuard session seal+open, 1420 B"), session, "packets/s");
    report.value(label("WireGuard session allocations"), allocations_per_call(session_body), "allocs/packet", "after warm-up; target 0");
    report.ratio(label("session / raw AEAD"), session, raw, "target >= 0.9");
    report.value(label("WireGuard engine send+receive, 1420 B IP packet"), engine, "packets/s", "routing, replay window, queues");
    report.value(label("WireGuard engine allocations, owning forms"), allocations_per_call(engine_body), "allocs/packet",
                 "poll_transmit(), poll_application_data()");
    report.ratio(label("engine / raw AEAD"), engine, raw, "target >= 0.9");
    report.value(label("WireGuard engine send+receive, caller buffers"), engine_views, "packets/s",
                 "poll_transmit(out), poll_plaintext()");
    report.value(label("WireGuard engine allocations, caller buffers"), allocations_per_call(engine_views_body),
                 "allocs/packet", "after warm-up; target 0");
    report.ratio(label("engine (caller buffers) / raw AEAD"), engine_views, raw, "target >= 0.9");

    // Handshakes per second: 148-byte initiation, 92-byte response, keepalive; four
    // X25519 per side plus BLAKE2s/HKDF.
    Peers hp;
    WgEngine ha(Role::client, hp.a), hb(Role::server, hp.b);
    Instant hnow = Clock::now();
    auto handshakes = bench::measure([&] {
        hnow += std::chrono::milliseconds(25);  // the responder's 50/s flood limit
        if (!handshake(ha, hb, hp, hnow)) {
            std::fprintf(stderr, "handshake failed: %llu drops\n", static_cast<unsigned long long>(ha.total_drops() + hb.total_drops()));
            while (auto e = ha.poll_event()) std::fprintf(stderr, "a: %s\n", e->reason.message().c_str());
            while (auto e = hb.poll_event()) std::fprintf(stderr, "b: %s\n", e->reason.message().c_str());
            std::abort();
        }
    });
    report.value(label("WireGuard handshakes (both sides)"), handshakes.per_second(), "handshakes/s");
    auto share = Provider::KeyShare::generate(crypto::KeyExchangeGroup::x25519);
    auto peer_share = Provider::KeyShare::generate(crypto::KeyExchangeGroup::x25519);
    const Bytes peer_public = peer_share->public_key();
    auto x25519 = bench::measure([&] {
        if (!share->agree(peer_public)) std::abort();
    });
    report.value(label("raw X25519 agreement"), x25519.per_second(), "ops/s", "a handshake: 6 agreements + 2 key generations");
}

void run(bench::Report& report) {
    run_with<crypto::Botan2>(report, "");
    run_with<crypto::OpenSsl3>(report, "OpenSSL 3 provider");
}

const bench::Registration registration{{"wireguard", "WireGuard transport seal+open vs raw AEAD; handshakes/s", run}};

}  // namespace
