// IKEv2 + ESP: ESP seal+open of a 1400-byte inner packet against the raw AES-128-GCM
// seal+open of the same bytes (RFC 4106 nonce and associated data), at the record
// layer and through the engine (selectors, queues, caller buffers); allocations per
// packet; and complete IKE_SA_INIT + IKE_AUTH exchanges per second in-process.
#include <array>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include <tapsec/crypto/openssl.hpp>
#include <tapsec/ikev2.hpp>

#include "alloc_counter.hpp"
#include "harness.hpp"

namespace tapsec {
namespace {
using tapsec::bench::allocations_per_call;
using tapsec::bench::best_of_interleaved;

constexpr std::size_t payload_size = 1400;

ikev2::Config config(const char* local, const char* remote, const char* lts, const char* rts) {
    ikev2::Config c;
    c.local_id = *ikev2::Identification::parse(local);
    c.remote_id = *ikev2::Identification::parse(remote);
    c.pre_shared_keys.push_back({c.remote_id.value, SecretBytes(32, 0x33)});
    c.local_ts = *ikev2::parse_selector(lts);
    c.remote_ts = *ikev2::parse_selector(rts);
    return c;
}

Bytes inner_packet() {
    Bytes p(payload_size, 0x42);
    p[0] = 0x45;
    p[2] = static_cast<std::uint8_t>(payload_size >> 8);
    p[3] = static_cast<std::uint8_t>(payload_size);
    p[9] = 17;
    const std::uint8_t src[4] = {10, 1, 0, 1}, dst[4] = {10, 2, 0, 1};
    std::memcpy(p.data() + 12, src, 4);
    std::memcpy(p.data() + 16, dst, 4);
    return p;
}

template <class Engine>
bool establish(Engine& i, Engine& r, Instant now) {
    const Endpoint ie = *Endpoint::parse("192.0.2.1:4500"), re = *Endpoint::parse("192.0.2.2:4500");
    if (i.start(now)) return false;
    Bytes buffer(max_transmit_size);
    for (int round = 0; round < 8; ++round) {
        while (auto t = i.poll_transmit(MutableByteView(buffer))) (void)r.receive(ByteView(buffer.data(), t->size), ie, now);
        while (auto t = r.poll_transmit(MutableByteView(buffer))) (void)i.receive(ByteView(buffer.data(), t->size), re, now);
    }
    return i.is_established() && r.is_established();
}

template <class Provider>
void run_with(bench::Report& report, const std::string& prefix) {
    using Engine = ikev2::Engine<Provider>;
    auto label = [&](const std::string& text) { return prefix.empty() ? text : prefix + ": " + text; };

    // Reference: AES-128-GCM seal then open of the ESP plaintext (payload + 2-octet
    // trailer, 8 octets of AAD), in place, new nonce each time.
    auto aead = Provider::Aead::create(crypto::AeadAlgorithm::aes_128_gcm, Bytes(16, 7));
    Bytes text(payload_size + 2, 0x42);
    std::array<std::uint8_t, 16> tag{};
    std::array<std::uint8_t, 12> nonce{};
    std::array<std::uint8_t, 8> aad{};
    std::uint64_t counter = 0;
    auto raw_body = [&] {
        ++counter;
        std::memcpy(nonce.data() + 4, &counter, 8);
        std::memcpy(aad.data() + 4, &counter, 4);
        aead->seal_in_place(nonce, aad, text, tag);
        if (!aead->open_in_place(nonce, aad, text, tag)) std::abort();
    };

    // Record level: esp::SecurityAssociation protect on one side, unprotect on the other.
    esp::ChildSaKeys ka;
    ka.inbound_spi = 0x1001;
    ka.outbound_spi = 0x2002;
    ka.inbound_key = SecretBytes(20, 1);
    ka.outbound_key = SecretBytes(20, 2);
    esp::ChildSaKeys kb = ka;
    std::swap(kb.inbound_spi, kb.outbound_spi);
    std::swap(kb.inbound_key, kb.outbound_key);
    auto sender = esp::SecurityAssociation<Provider>::import(ka).value();
    auto receiver = esp::SecurityAssociation<Provider>::import(kb).value();
    const Bytes inner = inner_packet();
    Bytes wire(esp::sealed_size(payload_size));
    auto record_body = [&] {
        auto n = sender.protect(inner, esp::next_header_ipv4, wire);
        if (!n || !receiver.unprotect(MutableByteView(wire).first(*n))) std::abort();
    };

    // Engine level: send() an IPv4 packet, move the datagram, receive(), poll it out.
    Engine a(Role::client, config("a@test", "b.test", "10.1.0.1/32", "10.2.0.1/32"));
    Engine b(Role::server, config("b.test", "a@test", "10.2.0.1/32", "10.1.0.1/32"));
    const Instant now{};
    if (!establish(a, b, now)) std::abort();
    const Endpoint from = *Endpoint::parse("192.0.2.1:4500");
    Bytes out(max_transmit_size);
    auto engine_body = [&] {
        (void)a.send(inner, now);
        auto info = a.poll_transmit(MutableByteView(out));
        (void)b.receive(ByteView(out.data(), info->size), from, now);
        if (!b.poll_plaintext()) std::abort();
    };

    const auto [raw, record, engine] = best_of_interleaved(5, raw_body, record_body, engine_body);
    report.value(label("raw AES-128-GCM seal+open, 1402 B + 8 B AAD"), raw, "packets/s", std::string(Provider::name) + ", best of 5 interleaved rounds");
    report.value(label("ESP record protect+unprotect, 1400 B"), record, "packets/s");
    report.ratio(label("ESP record / raw AEAD"), record, raw, "target >= 0.9");
    report.value(label("ESP record allocations"), allocations_per_call(record_body), "allocs/packet", "after warm-up; target 0");
    report.value(label("IKEv2 engine send+receive, 1400 B IPv4 packet"), engine, "packets/s", "selectors, SPI demux, queues, caller buffers");
    report.ratio(label("engine / raw AEAD"), engine, raw, "target >= 0.9");
    report.value(label("IKEv2 engine allocations, caller buffers"), allocations_per_call(engine_body), "allocs/packet",
                 "after warm-up; target 0");

    // Complete exchanges: IKE_SA_INIT + IKE_AUTH with the Child SA, both sides, X25519.
    auto handshakes = bench::measure([&] {
        Engine i(Role::client, config("a@test", "b.test", "10.1.0.1/32", "10.2.0.1/32"));
        Engine r(Role::server, config("b.test", "a@test", "10.2.0.1/32", "10.1.0.1/32"));
        if (!establish(i, r, now)) std::abort();
    });
    report.value(label("IKE_SA_INIT + IKE_AUTH exchanges (both sides, X25519)"), handshakes.per_second(), "exchanges/s",
                 "in-process, 4 messages, 2 key generations + 2 agreements");
}

void run(bench::Report& report) {
    run_with<crypto::Botan2>(report, "");
    run_with<crypto::OpenSsl3>(report, "OpenSSL 3 provider");
}

const bench::Registration registration{{"ikev2", "ESP seal+open vs raw AES-GCM; IKEv2 exchanges/s", run}};

}  // namespace
}  // namespace tapsec
