// QUIC: 1-RTT packet seal+open (AEAD, nonce from the packet number, header protection
// applied and removed, the packet number decoded) at 1200-byte payloads, as a ratio to
// the provider's raw AEAD seal+open of the same 1200 bytes in the same run, for
// AES-128-GCM and ChaCha20-Poly1305; a connection moving stream data in memory (both
// engines in one thread: frames, ACKs, flow control, recovery); and handshakes per
// second (client and server in one process; TLS 1.3 with an external PSK and X25519,
// so no certificate files are needed).
#include <tapsec/quic.hpp>

#include "alloc_counter.hpp"
#include "harness.hpp"

namespace {

using namespace tapsec;
using namespace tapsec::quic;
using Provider = crypto::Botan2;
constexpr std::size_t payload_size = 1200;

using tapsec::bench::best_of_interleaved;

void packet_protection(bench::Report& report, const tls13::CipherSuite& suite, const std::string& name) {
    SecretBytes secret(suite.hash_length);
    Provider::random(secret);
    Bytes key(suite.key_length, 7);
    auto aead = Provider::Aead::create(suite.aead, key);
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

    auto sender = PacketKeys<Provider>::derive(suite, secret);
    auto receiver = PacketKeys<Provider>::derive(suite, secret);
    const ConnectionId dcid(Bytes(8, 0x11));
    Bytes packet;
    packet.reserve(1 + 8 + 4 + payload_size + 16);
    std::uint64_t pn = 0;
    std::optional<std::uint64_t> largest;
    auto quic_body = [&] {
        // A 1-RTT packet: short header, 8-byte DCID, 4-byte packet number, 1200 bytes.
        packet.resize(1 + 8 + 4 + payload_size);
        packet[0] = 0x43;
        std::memcpy(packet.data() + 1, dcid.bytes.data(), 8);
        for (int i = 0; i < 4; ++i) packet[9 + i] = static_cast<std::uint8_t>(pn >> (24 - 8 * i));
        seal_packet(*sender, *sender->hp, packet, 9, 4, pn);
        auto u = unprotect_header(*receiver->hp, MutableByteView(packet), 9, largest);
        if (!u || u->packet_number != pn) std::abort();
        if (!open_payload(*receiver, MutableByteView(packet), u->header_length, u->packet_number)) std::abort();
        largest = pn++;
    };
    const auto [raw, protected_] = best_of_interleaved(5, raw_body, quic_body);
    report.value("raw " + name + " seal+open, 1200 B", raw, "packets/s", "Botan 2, best of 5 interleaved rounds");
    report.value("QUIC 1-RTT packet seal+open, " + name + ", 1200 B", protected_, "packets/s",
                 "AEAD + header protection + packet number");
    report.ratio("QUIC packet protection / raw AEAD, " + name, protected_, raw, "target >= 0.9");
    for (int i = 0; i < 16; ++i) quic_body();
    bench::AllocationScope scope;
    for (int i = 0; i < 10000; ++i) quic_body();
    report.value("QUIC packet protection allocations, " + name, static_cast<double>(scope.count()) / 10000, "allocs/packet",
                 "after warm-up; target 0");
}

tls13::Config psk_config() {
    static const SecretBytes psk(32, 0x5a);
    tls13::Config c;
    c.pre_shared_keys.push_back({"bench", psk});
    c.alpn = {"bench"};
    c.server_name = "localhost";
    c.tickets_to_send = 0;
    return c;
}

/// Moves every datagram between two engines until neither has anything to send.
void exchange(Connection<Provider>& a, Connection<Provider>& b, Bytes& buf, Instant now) {
    const Endpoint ep;
    for (bool moved = true; moved;) {
        moved = false;
        while (auto t = a.poll_transmit(MutableByteView(buf))) {
            b.receive(ByteView(buf.data(), t->size), ep, now);
            moved = true;
        }
        while (auto t = b.poll_transmit(MutableByteView(buf))) {
            a.receive(ByteView(buf.data(), t->size), ep, now);
            moved = true;
        }
    }
}

void run(bench::Report& report) {
    packet_protection(report, tls13::TLS_AES_128_GCM_SHA256, "AES-128-GCM");
    packet_protection(report, tls13::TLS_CHACHA20_POLY1305_SHA256, "ChaCha20-Poly1305");

    // Stream data through two connections in memory (no loss): MB/s of application data.
    const auto config = psk_config();
    Bytes buf(max_transmit_size);
    Instant now = Clock::now();
    Connection<Provider> client(Role::client, config), server(Role::server, config);
    client.start(now);
    exchange(client, server, buf, now);
    if (!client.is_established() || !server.is_established()) std::abort();
    const Bytes chunk(64 * 1024, 0x42);
    std::size_t received = 0;
    auto stream_body = [&] {
        now += std::chrono::microseconds(100);
        client.send(chunk, now);
        exchange(client, server, buf, now);
        while (auto v = server.poll_plaintext()) received += v->size();
    };
    auto m = bench::measure(stream_body, std::chrono::milliseconds(1500));
    report.value("QUIC stream transfer in memory, client -> server", m.per_second() * chunk.size() / 1e6, "MB/s",
                 "both engines in one thread; 1200-byte datagrams; AES-128-GCM");
    if (received == 0) std::abort();

    // Handshakes per second, both sides in one process (external PSK + X25519).
    auto handshakes = bench::measure([&] {
        Connection<Provider> c(Role::client, config), s(Role::server, config);
        const Instant t = Clock::now();
        c.start(t);
        exchange(c, s, buf, t);
        if (!c.is_established() || !s.is_established()) std::abort();
    });
    report.value("QUIC handshakes (client + server, PSK + X25519)", handshakes.per_second(), "handshakes/s");
}

const bench::Registration registration{{"quic", "QUIC 1-RTT packet protection vs raw AEAD; stream MB/s; handshakes/s", run}};

}  // namespace
