// DTLS 1.2 and DTLS-SRTP on the Botan adapter, in memory: handshakes per second
// (cookie exchange included) and per-datagram cost, against references measured in
// the same run: the TLS 1.2 handshake on the same adapter, and srtp::Session alone
// (what DTLS-SRTP adds around SRTP: the RFC 7983 demux and queueing).
#include <botan/ec_group.h>
#include <botan/ecdsa.h>
#include <botan/pkcs8.h>
#include <botan/system_rng.h>
#include <botan/x509self.h>

#include <tapsec/tapsec.hpp>

#include "harness.hpp"

namespace {

using namespace tapsec;

template <class E>
void pump(E& from, E& to, const Endpoint& source) {
    while (auto t = from.poll_transmit())
        if (to.receive(t->data, source, Clock::now())) std::abort();
}

template <class E>
bool handshake(E& client, E& server) {
    const Endpoint a = *Endpoint::parse("127.0.0.1:1"), b = *Endpoint::parse("127.0.0.1:2");
    if (client.start(Clock::now()) || server.start(Clock::now())) return false;
    for (int i = 0; i < 10 && !(client.is_established() && server.is_established()); ++i) {
        pump(client, server, a);
        pump(server, client, b);
    }
    return client.is_established() && server.is_established();
}

Bytes rtp(std::uint16_t seq, std::size_t size) {
    Bytes p;
    wire::Writer w(p);
    w.u8(0x80);
    w.u8(96);
    w.u16(seq);
    w.u32(seq * 160u);
    w.u32(0xabcdef01);
    p.resize(size, 0x33);
    return p;
}

void run(bench::Report& report) {
    auto& rng = Botan::system_rng();
    Botan::ECDSA_PrivateKey key(rng, Botan::EC_Group("secp256r1"));
    Botan::X509_Cert_Options options("localhost");
    const auto cert = Botan::X509::create_self_signed_cert(options, key, "SHA-256", rng);
    botan_tls::Config client, server;
    client.trust.ca_certificates_pem = {cert.PEM_encode()};
    client.server_name = "localhost";
    server.identity = Identity(cert.PEM_encode(), Botan::PKCS8::PEM_encode(key));
    server.verify_peer = false;

    using Tls = botan_tls::ChannelEngine<botan_tls::Carrier::stream>;
    using Dtls = botan_tls::ChannelEngine<botan_tls::Carrier::datagram>;
    using DtlsSrtp = dtls_srtp::Engine<crypto::DefaultProvider>;
    auto tls = bench::measure([&] {
        Tls c(Role::client, client), s(Role::server, server);
        if (!handshake(c, s)) std::abort();
    });
    auto dtls = bench::measure([&] {
        Dtls c(Role::client, client), s(Role::server, server);
        if (!handshake(c, s)) std::abort();
    });
    auto dtls_srtp_hs = bench::measure([&] {
        DtlsSrtp c(Role::client, client), s(Role::server, server);
        if (!handshake(c, s)) std::abort();
    });
    report.value("DTLS 1.2 handshake", dtls.per_second(), "handshakes/s", "cookie exchange included");
    report.ratio("DTLS 1.2 / TLS 1.2 handshake rate", dtls.per_second(), tls.per_second(), "same adapter, same suites");
    report.value("DTLS-SRTP handshake + SRTP keying", dtls_srtp_hs.per_second(), "handshakes/s");

    for (std::size_t size : {160u, 1200u}) {
        // DTLS application records, client -> server
        Dtls c(Role::client, client), s(Role::server, server);
        handshake(c, s);
        const Bytes payload(size, 0x44);
        const Endpoint from = *Endpoint::parse("127.0.0.1:1");
        auto dtls_records = bench::measure([&] {
            if (c.send(payload, Clock::now())) std::abort();
            pump(c, s, from);
            if (!s.poll_application_data()) std::abort();
        });
        report.value("DTLS record seal+open " + std::to_string(size) + " B", dtls_records.per_second(), "datagrams/s");

        // DTLS-SRTP media through the engine vs srtp::Session alone, same profile (GCM-128)
        DtlsSrtp mc(Role::client, client), ms(Role::server, server);
        handshake(mc, ms);
        std::uint16_t seq = 0;
        auto engine_media = bench::measure([&] {
            mc.send(rtp(++seq, size), Clock::now());
            pump(mc, ms, from);
            if (!ms.poll_application_data()) std::abort();
        });
        srtp::MasterKeys keys;
        keys.profile = srtp::Profile::aead_aes_128_gcm;
        keys.client_write = {SecretBytes(16, 1), SecretBytes(12, 2)};
        keys.server_write = {SecretBytes(16, 3), SecretBytes(12, 4)};
        auto sender = srtp::Session<>::create(keys, Role::client);
        auto receiver = srtp::Session<>::create(keys, Role::server);
        std::uint16_t seq2 = 0;
        auto bare = bench::measure([&] {
            Bytes p = rtp(++seq2, size);
            if (sender->protect(p) || receiver->unprotect(p)) std::abort();
        });
        report.value("DTLS-SRTP media protect+unprotect " + std::to_string(size) + " B", engine_media.per_second(), "packets/s");
        report.ratio("DTLS-SRTP engine / bare srtp::Session " + std::to_string(size) + " B", engine_media.per_second(),
                     bare.per_second(), "cost of demux + queues");
    }
}

const bench::Registration registration{{"dtls", "DTLS 1.2 and DTLS-SRTP on the Botan adapter, in memory", run}};

}  // namespace
