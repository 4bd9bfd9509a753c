// MinimaLT: packet seal+open at 1200-byte payloads as a ratio to the raw box (NaCl
// crypto_secretbox = XSalsa20-Poly1305, seal then open of the same 1200 bytes) in the
// same run, at the record layer (header, nonce, replay window, generation lookup) and
// through both engines (frames, sequence and acknowledgement, window, acks flowing
// back); heap allocations per packet; and tunnel establishments per second (the
// client's Ed25519 record check, two key generations and key agreements, the request,
// the server's box open and its acknowledgement).
#include <tapsec/crypto/botan.hpp>
#include <tapsec/minimalt.hpp>

#include "alloc_counter.hpp"
#include "harness.hpp"

namespace {
using tapsec::bench::allocations_per_call;
using tapsec::bench::best_of_interleaved;

using namespace tapsec;
using Engine = minimalt::Engine<crypto::Botan2, MinimaltRecord>;
constexpr std::size_t payload_size = 1200;

struct Keys {
    minimalt::Config server, client;
    Keys() {
        auto record = minimalt::publish_record<crypto::Botan2>(server, "bench", "127.0.0.1:1", std::chrono::hours(1));
        if (!record) std::abort();
        client.directory_record = *record;
        auto key = crypto::Botan2::Ed25519::public_key(server.long_term_seed);
        if (!key) std::abort();
        client.trusted_server_key = *key;
    }
};

void run(bench::Report& report) {
    // Reference: the raw box, seal then open in place.
    SecretArray<32> key;
    crypto::Botan2::random(key);
    crypto::nacl::SecretBox box(key);
    Bytes buffer(payload_size + crypto::nacl::mac_bytes, 0x42);
    crypto::nacl::Nonce nonce{};
    std::uint64_t counter = 0;
    auto raw_body = [&] {
        ++counter;
        std::memcpy(nonce.data() + 16, &counter, 8);
        box.seal(nonce, ByteView(buffer.data() + 16, payload_size), buffer.data());
        if (!box.open(nonce, buffer, buffer.data() + 16)) std::abort();
    };

    // Record level: one layer seals as the client, the other opens as the server.
    minimalt::TunnelKeys ck, sk;
    ck.box_key = key;
    ck.tid = 0x1234;
    ck.client = true;
    sk = ck;
    sk.client = false;
    minimalt::TunnelRecord<crypto::Botan2> sender, receiver;
    if (sender.import(ck) || receiver.import(sk)) std::abort();
    const Bytes payload(payload_size, 0x42);
    std::array<std::uint8_t, 2048> wire{};
    auto record_body = [&] {
        auto n = sender.seal(payload, MutableByteView(wire));
        auto header = minimalt::parse_packet_header(ByteView(wire.data(), *n));
        if (!receiver.open(*header, MutableByteView(wire.data(), *n))) std::abort();
    };

    // Engine level: client send -> datagram -> server receive -> plaintext; the server's
    // acknowledgements go back so the window stays open.
    Keys keys;
    Engine client(Role::client, keys.client), server(Role::server, keys.server);
    const Endpoint cep = *Endpoint::parse("127.0.0.1:2"), sep = *Endpoint::parse("127.0.0.1:1");
    Instant now = Clock::now();
    std::array<std::uint8_t, max_transmit_size> out{};
    if (client.start(now)) std::abort();
    for (int i = 0; i < 4; ++i) {
        while (auto t = client.poll_transmit(MutableByteView(out))) server.receive(ByteView(out.data(), t->size), cep, now);
        while (auto t = server.poll_transmit(MutableByteView(out))) client.receive(ByteView(out.data(), t->size), sep, now);
    }
    if (!client.is_established() || !server.is_established()) std::abort();
    const Bytes data(payload_size, 0x42);
    auto engine_body = [&] {
        client.send(data, now);
        auto t = client.poll_transmit(MutableByteView(out));
        server.receive(ByteView(out.data(), t->size), cep, now);
        if (!server.poll_plaintext()) std::abort();
        while (auto a = server.poll_transmit(MutableByteView(out))) client.receive(ByteView(out.data(), a->size), sep, now);
    };

    const auto [raw, record, engine] = best_of_interleaved(5, raw_body, record_body, engine_body);
    report.value("raw XSalsa20-Poly1305 box seal+open, 1200 B", raw, "packets/s", "crypto_secretbox, best of 5 interleaved rounds");
    report.value("MinimaLT record seal+open, 1200 B", record, "packets/s", "header, nonce, replay window");
    report.ratio("record / raw box", record, raw, "target >= 0.9");
    report.value("MinimaLT record allocations", allocations_per_call(record_body), "allocs/packet", "after warm-up; target 0");
    report.value("MinimaLT engine send+receive, 1200 B", engine, "packets/s", "frames, seq/ack, window, the ack back");
    report.ratio("engine / raw box", engine, raw, "each packet also costs an acknowledgement's box");
    report.value("MinimaLT engine allocations", allocations_per_call(engine_body), "allocs/packet", "after warm-up");

    // Tunnel establishments: a new client engine per tunnel (its record check and key
    // generation included), one request, the server's acknowledgement.
    Keys tk;
    auto establish = bench::measure([&] {
        Engine c(Role::client, tk.client), s(Role::server, tk.server);
        const Instant t = Clock::now();
        if (c.start(t)) std::abort();
        auto r = c.poll_transmit(MutableByteView(out));
        s.receive(ByteView(out.data(), r->size), cep, t);
        auto a = s.poll_transmit(MutableByteView(out));
        c.receive(ByteView(out.data(), a->size), sep, t);
        if (!c.is_established() || !s.is_established()) std::abort();
    });
    report.value("MinimaLT tunnel establishments (both sides)", establish.per_second(), "tunnels/s",
                 "client: Ed25519 record check, X25519 keygen + agreement; server: one agreement");
    // The server's share alone: what a flood of valid requests costs it per request.
    std::vector<Bytes> requests;
    for (int i = 0; i < 64; ++i) {
        Engine c(Role::client, tk.client);
        if (c.start(now)) std::abort();
        auto r = c.poll_transmit(MutableByteView(out));
        requests.emplace_back(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(r->size));
    }
    std::size_t next = 0;
    auto server_side = bench::measure([&] {
        Engine s(Role::server, tk.server);
        s.receive(requests[next++ % requests.size()], cep, now);
        if (!s.is_established()) std::abort();
    });
    report.value("MinimaLT server: tunnel requests accepted", server_side.per_second(), "requests/s", "one X25519 + box open each");
    minimalt::Config loaded = tk.server;
    loaded.source_validation = CommonConfig::SourceValidation::always;
    Engine puzzler(Role::server, loaded);
    auto puzzles = bench::measure([&] {
        puzzler.receive(requests[next++ % requests.size()], cep, now);
        if (!puzzler.poll_transmit(MutableByteView(out))) std::abort();
    });
    report.value("MinimaLT server under load: puzzles issued", puzzles.per_second(), "requests/s",
                 "HMAC + SHA-256, no key agreement");
    auto share = crypto::Botan2::KeyShare::generate(crypto::KeyExchangeGroup::x25519);
    auto peer = crypto::Botan2::KeyShare::generate(crypto::KeyExchangeGroup::x25519);
    const Bytes peer_public = peer->public_key();
    auto x25519 = bench::measure([&] {
        if (!share->agree(peer_public)) std::abort();
    });
    report.value("raw X25519 agreement", x25519.per_second(), "ops/s");
}

const bench::Registration registration{
    {"minimalt", "MinimaLT packet seal+open vs raw XSalsa20-Poly1305; tunnel establishments/s; puzzles/s", run}};

}  // namespace
