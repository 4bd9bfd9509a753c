// IKEv2 + ESP: ESP seal+open of a 1400-byte inner packet against the raw AES-128-GCM
// seal+open of the same bytes (RFC 4106 nonce and associated data), at the record
// layer and through the engine (selectors, queues, caller buffers); allocations per
// packet; and complete IKE_SA_INIT + IKE_AUTH exchanges per second in-process. Also ESP
// with AES-CBC + HMAC-SHA-256-128 against its raw primitives, and certificate exchanges
// (Ed25519) with the CA file and our own chain and key parsed once per configuration
// against once per engine.
#include <array>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include <tapsec/crypto/openssl.hpp>
#include <tapsec/ikev2.hpp>

#include "alloc_counter.hpp"
#include "harness.hpp"
#include "support/pki.hpp"

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

    // AES-CBC + HMAC-SHA-256-128: the raw primitives on the same bytes (CBC encrypt, HMAC,
    // HMAC, CBC decrypt; 1400 B payload + 2 trailer padded to 1408) against the record.
    auto cbc = Provider::CbcCipher::create(Bytes(16, 7));
    auto mac = Provider::Hmac::create(crypto::HashAlgorithm::sha256, Bytes(32, 9));
    Bytes cbc_text(1408, 0x42), cbc_iv(16, 1);
    std::array<std::uint8_t, 32> cbc_icv{};
    auto raw_cbc_body = [&] {
        ++counter;
        std::memcpy(cbc_iv.data(), &counter, 8);
        cbc->encrypt(cbc_iv, cbc_text);
        mac->update(cbc_iv);
        mac->update(cbc_text);
        mac->final(cbc_icv);
        mac->update(cbc_iv);
        mac->update(cbc_text);
        mac->final(cbc_icv);
        if (!cbc->decrypt(cbc_iv, cbc_text)) std::abort();
    };
    esp::ChildSaKeys ca = ka;
    ca.algorithm = esp::Algorithm::aes_128_cbc;
    ca.integrity = esp::Integrity::hmac_sha2_256_128;
    ca.inbound_key = SecretBytes(48, 1);
    ca.outbound_key = SecretBytes(48, 2);
    esp::ChildSaKeys cb = ca;
    std::swap(cb.inbound_spi, cb.outbound_spi);
    std::swap(cb.inbound_key, cb.outbound_key);
    auto cbc_sender = esp::SecurityAssociation<Provider>::import(ca).value();
    auto cbc_receiver = esp::SecurityAssociation<Provider>::import(cb).value();
    Bytes cbc_wire(cbc_sender.sealed_size(payload_size));
    auto cbc_record_body = [&] {
        auto n = cbc_sender.protect(inner, esp::next_header_ipv4, cbc_wire);
        if (!n || !cbc_receiver.unprotect(MutableByteView(cbc_wire).first(*n))) std::abort();
    };

    const auto [raw, record, engine, raw_cbc, cbc_record] =
        best_of_interleaved(5, raw_body, record_body, engine_body, raw_cbc_body, cbc_record_body);
    report.value(label("raw AES-128-GCM seal+open, 1402 B + 8 B AAD"), raw, "packets/s", std::string(Provider::name) + ", best of 5 interleaved rounds");
    report.value(label("ESP record protect+unprotect, 1400 B"), record, "packets/s");
    report.ratio(label("ESP record / raw AEAD"), record, raw, "target >= 0.9");
    report.value(label("ESP record allocations"), allocations_per_call(record_body), "allocs/packet", "after warm-up; target 0");
    report.value(label("IKEv2 engine send+receive, 1400 B IPv4 packet"), engine, "packets/s", "selectors, SPI demux, queues, caller buffers");
    report.ratio(label("engine / raw AEAD"), engine, raw, "target >= 0.9");
    report.value(label("IKEv2 engine allocations, caller buffers"), allocations_per_call(engine_body), "allocs/packet",
                 "after warm-up; target 0");
    report.value(label("raw AES-128-CBC enc+dec + 2x HMAC-SHA-256, 1408 B"), raw_cbc, "packets/s");
    report.value(label("ESP AES-128-CBC + HMAC-SHA-256-128 protect+unprotect, 1400 B"), cbc_record, "packets/s",
                 "random IV per packet");
    report.ratio(label("ESP CBC record / raw CBC + HMAC"), cbc_record, raw_cbc, "target >= 0.9");
    report.value(label("ESP CBC record allocations"), allocations_per_call(cbc_record_body), "allocs/packet");

    // Complete exchanges: IKE_SA_INIT + IKE_AUTH with the Child SA, both sides, X25519.
    auto handshakes = bench::measure([&] {
        Engine i(Role::client, config("a@test", "b.test", "10.1.0.1/32", "10.2.0.1/32"));
        Engine r(Role::server, config("b.test", "a@test", "10.2.0.1/32", "10.1.0.1/32"));
        if (!establish(i, r, now)) std::abort();
    });
    report.value(label("IKE_SA_INIT + IKE_AUTH exchanges (both sides, X25519)"), handshakes.per_second(), "exchanges/s",
                 "in-process, 4 messages, 2 key generations + 2 agreements");

    // RFC 5723: IKE_SESSION_RESUME + IKE_AUTH (no key exchange) against IKE_SA_INIT +
    // IKE_AUTH, both asking for the next ticket (so each resumption has a fresh one:
    // tickets are single use). The wall clock moves 1 s per exchange and tickets live
    // 60 s, so the used-ticket store stays small.
    auto clock_s = std::make_shared<std::int64_t>(1'800'000'000);
    auto ticketed = [&](ikev2::Config c) {
        c.wall_clock = [clock_s] { return std::chrono::system_clock::time_point(std::chrono::seconds(*clock_s)); };
        return c;
    };
    ikev2::Config ti = ticketed(config("a@test", "b.test", "10.1.0.1/32", "10.2.0.1/32"));
    ikev2::Config tr = ticketed(config("b.test", "a@test", "10.2.0.1/32", "10.1.0.1/32"));
    ti.request_ticket = true;
    tr.tickets = std::make_shared<ikev2::TicketIssuer>(tls13::TicketKey::generate<Provider>(), std::chrono::seconds(60));
    std::optional<ikev2::Ticket> ticket;
    auto full_with_ticket = [&] {
        ++*clock_s;
        Engine i(Role::client, ti), r(Role::server, tr);
        if (!establish(i, r, now) || !i.ticket()) std::abort();
        ticket = *i.ticket();
    };
    full_with_ticket();
    auto resumed = [&] {
        ++*clock_s;
        ikev2::Config c = ti;
        c.resume_ticket = std::move(ticket);
        Engine i(Role::client, c), r(Role::server, tr);
        if (!establish(i, r, now) || !i.resumed() || !i.ticket()) std::abort();
        ticket = *i.ticket();
    };
    const auto [full_rate, resumed_rate] = best_of_interleaved(3, full_with_ticket, resumed);
    report.value(label("IKE_SA_INIT + IKE_AUTH with a ticket issued (RFC 5723)"), full_rate, "exchanges/s",
                 "both sides, X25519, N(TICKET_REQUEST) answered");
    report.value(label("IKE_SESSION_RESUME + IKE_AUTH resumed from a ticket (RFC 5723)"), resumed_rate, "exchanges/s",
                 "both sides, no key exchange, the next ticket issued");
    report.ratio(label("resumption / full exchange"), resumed_rate, full_rate);

    // Certificates (Ed25519 both ways): each engine built from one Config (the CA file and
    // our chain and key parsed once, shared through Config::parsed_trust and
    // parsed_credentials) against a fresh credentials slot per engine (our chain and key
    // parsed and checked for every handshake, as before that slot) and fresh slots for both.
    test::TestPki pki(test::KeyType::ed25519);
    const auto i_files = pki.issue("initiator", test::KeyType::ed25519, "alice", 30, "email:a@test");
    const auto r_files = pki.issue("responder", test::KeyType::ed25519, "b.test", 30, "DNS:b.test");
    auto signing = [&](const test::CertificateFiles& own, const char* local, const char* remote, const char* lts,
                       const char* rts) {
        ikev2::Config c = config(local, remote, lts, rts);
        c.pre_shared_keys.clear();
        c.identity = Identity(own.certificate_pem(), own.key_pem());
        c.trust.ca_certificates_pem.push_back(pki.ca().certificate_pem());
        return c;
    };
    const ikev2::Config ci = signing(i_files, "a@test", "b.test", "10.1.0.1/32", "10.2.0.1/32");
    const ikev2::Config cr = signing(r_files, "b.test", "a@test", "10.2.0.1/32", "10.1.0.1/32");
    auto shared_trust = [&] {
        Engine i(Role::client, ci), r(Role::server, cr);
        if (!establish(i, r, now)) std::abort();
    };
    auto credentials_per_engine = [&] {
        ikev2::Config fi = ci, fr = cr;
        fi.parsed_credentials = std::make_shared<ikev2::ParsedCredentialsSlot>();
        fr.parsed_credentials = std::make_shared<ikev2::ParsedCredentialsSlot>();
        Engine i(Role::client, fi), r(Role::server, fr);
        if (!establish(i, r, now)) std::abort();
    };
    auto all_per_engine = [&] {
        ikev2::Config fi = ci, fr = cr;
        fi.parsed_trust = std::make_shared<ParsedTrustSlot>();
        fr.parsed_trust = std::make_shared<ParsedTrustSlot>();
        fi.parsed_credentials = std::make_shared<ikev2::ParsedCredentialsSlot>();
        fr.parsed_credentials = std::make_shared<ikev2::ParsedCredentialsSlot>();
        Engine i(Role::client, fi), r(Role::server, fr);
        if (!establish(i, r, now)) std::abort();
    };
    const auto [shared, own_per_engine, per_engine] =
        best_of_interleaved(3, shared_trust, credentials_per_engine, all_per_engine);
    report.value(label("IKE_SA_INIT + IKE_AUTH, Ed25519 certificates, CA and own chain+key parsed once per Config"), shared,
                 "exchanges/s", "both sides, X25519");
    report.value(label("IKE_SA_INIT + IKE_AUTH, Ed25519 certificates, own chain+key parsed per engine"), own_per_engine,
                 "exchanges/s", "the cost before Config::parsed_credentials");
    report.ratio(label("certificate exchanges, parsed once / own chain+key per engine"), shared, own_per_engine);
    report.value(label("IKE_SA_INIT + IKE_AUTH, Ed25519 certificates, CA and own chain+key parsed per engine"), per_engine,
                 "exchanges/s", "the cost before Config::parsed_trust and parsed_credentials");
}

void run(bench::Report& report) {
    run_with<crypto::Botan2>(report, "");
    run_with<crypto::OpenSsl3>(report, "OpenSSL 3 provider");
}

const bench::Registration registration{{"ikev2", "ESP seal+open vs raw AES-GCM; IKEv2 exchanges/s", run}};

}  // namespace
}  // namespace tapsec
