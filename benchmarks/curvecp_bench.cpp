// CurveCP: Message packets sealed and opened per second against the raw primitive
// (NaCl crypto_secretbox = XSalsa20-Poly1305 over the same message) in the same run;
// heap allocations per packet; complete handshakes per second (Hello, Cookie, Initiate
// and the server's first Message, two engines in memory). The largest message a packet
// carries is 1088 bytes (a 1152/1184-byte packet), the size used here.
#include <tapsec/curvecp.hpp>

#include "alloc_counter.hpp"
#include "harness.hpp"

namespace {
using tapsec::bench::allocations_per_call;

using namespace tapsec;
using Composition = Secure<CurveCpHandshake, CurveCpRecord, Udp>;
using Layer = curvecp::CurveCpRecordLayer<crypto::Botan2>;
constexpr std::size_t message_size = 1088;

curvecp::KeyPair random_pair() {
    return curvecp::generate_key_pair([](MutableByteView out) { crypto::Botan2::random(out); });
}

void run(bench::Report& report) {
    // Raw: crypto_secretbox seal then open of 1088 bytes under one key.
    SecretArray<32> key;
    crypto::Botan2::random(key);
    crypto::nacl::SecretBox box(key);
    Bytes text(message_size, 0x42), boxed(message_size + 16), opened(message_size);
    std::uint64_t counter = 0;
    auto raw_body = [&] {
        const auto nonce = curvecp::wire::counter_nonce(curvecp::wire::server_message_nonce, ++counter);
        box.seal(nonce, text, boxed.data());
        if (!box.open(nonce, boxed, opened.data())) std::abort();
    };

    // Record: the server's layer seals a Message packet, the client's opens it (replay
    // window, extension and nonce checks included).
    curvecp::SessionKeys server_keys, client_keys;
    server_keys.client = false;
    server_keys.key = key;
    client_keys = server_keys;
    client_keys.client = true;
    client_keys.initiate_prefix.assign(curvecp::wire::initiate_inner_prefix, 0);
    Layer sender, receiver;
    if (sender.import(server_keys) || receiver.import(client_keys)) std::abort();
    Bytes packet(curvecp::wire::max_packet);
    const Bytes message(message_size, 0x42);
    auto record_body = [&] {
        auto n = sender.seal(message, packet);
        if (!n) std::abort();
        auto m = receiver.open(MutableByteView(packet.data(), *n), curvecp::wire::PacketType::server_message);
        if (!m || m->size() != message_size) std::abort();
    };

    std::array<double, 2> best{};
    for (int r = 0; r < 5; ++r) {
        best[0] = std::max(best[0], bench::measure(raw_body, std::chrono::milliseconds(300)).per_second());
        best[1] = std::max(best[1], bench::measure(record_body, std::chrono::milliseconds(300)).per_second());
    }
    report.value("raw XSalsa20-Poly1305 seal+open, 1088 B", best[0], "packets/s", "crypto/nacl_box.hpp over Botan 2, best of 5 interleaved rounds");
    report.value("CurveCP Message packet seal+open, 1088 B (1152 B packet)", best[1], "packets/s");
    report.ratio("Message packet / raw XSalsa20-Poly1305", best[1], best[0], "target >= 0.9");
    report.value("CurveCP record allocations", allocations_per_call(record_body), "allocs/packet", "after warm-up; target 0");

    // Handshakes: new engines each time (the client draws its short-term key, the
    // server its S'), Hello -> Cookie -> Initiate (with a ping block) -> server Message.
    curvecp::Config client_config, server_config;
    server_config.long_term_key = random_pair();
    client_config.server_public_key = server_config.long_term_key->public_key;
    client_config.long_term_key = random_pair();
    server_config.server_name = client_config.server_name = "bench";
    const Endpoint address = *Endpoint::parse("127.0.0.1:1");
    Bytes buffer(max_transmit_size);
    Instant now = Clock::now();
    auto handshake = bench::measure([&] {
        Composition::Engine client(Role::client, client_config), server(Role::server, server_config);
        if (client.start(now)) std::abort();
        for (int round = 0; round < 3 && !client.is_established(); ++round) {
            while (auto t = client.poll_transmit(MutableByteView(buffer)))
                (void)server.receive(ByteView(buffer.data(), t->size), address, now);
            while (auto t = server.poll_transmit(MutableByteView(buffer)))
                (void)client.receive(ByteView(buffer.data(), t->size), address, now);
        }
        if (!client.is_established() || !server.is_established()) std::abort();
    });
    report.value("CurveCP handshakes (both sides)", handshake.per_second(), "handshakes/s",
                 "client: 2 key generations + 3 X25519; server: 1 + 4 X25519 (Hello, cookie S', vouch)");
    auto a = random_pair(), b = random_pair();
    auto x25519 = bench::measure([&] { (void)crypto::nacl::scalarmult(a.secret_key, b.public_key); });
    report.value("raw X25519 (curve25519_donna)", x25519.per_second(), "ops/s");
}

const bench::Registration registration{{"curvecp", "CurveCP Message seal+open vs raw XSalsa20-Poly1305; handshakes/s", run}};

}  // namespace
