// Shared by tls12_engine_fuzz and dtls12_engine_fuzz: the Botan-based TLS 1.2 / DTLS 1.2
// engine (botan_tls::ChannelEngine) as client and server at once, the fuzzer being the
// network between them (engine_pair.hpp). The first input byte picks the configuration:
// client certificates, ALPN, a small MTU (DTLS fragmentation), a session cache
// (resumption after an honest first connection). Botan draws its own randomness, so a
// finding may need a few runs to reproduce.
#pragma once

#include <cstddef>
#include <cstdint>

#include <tapsec/tapsec.hpp>

#include "engine_pair.hpp"
#include "fuzz_pki.hpp"

namespace tapsec::fuzz {

/// A client certificate Botan's TLS 1.2 accepts (ECDSA P-256; it has no Ed25519 client
/// authentication, which the shared credentials use), from a CA of its own.
struct BotanClientCredentials {
    test::TestPki pki;
    test::CertificateFiles files = pki.issue("client", test::KeyType::ecdsa_p256, "alice");
    std::string ca_pem = pki.ca().certificate_pem();
    std::string certificate_pem = files.certificate_pem(), key_pem = files.key_pem();
};

inline const BotanClientCredentials& botan_client_credentials() {
    static const BotanClientCredentials c;
    return c;
}

template <botan_tls::Carrier carrier>
int run_botan_tls_pair(const std::uint8_t* data, std::size_t size) {
    using Engine = botan_tls::ChannelEngine<carrier>;
    if (size == 0) return 0;
    FuzzedDataProvider input(data, size);
    const auto mode = input.ConsumeIntegral<std::uint8_t>();
    const auto& creds = credentials();
    botan_tls::Config client, server;
    client.trust.ca_certificates_pem = {creds.ca_pem};
    client.server_name = "localhost";
    client.wall_clock = server.wall_clock = start_time;
    server.identity = {creds.server_pem, creds.server_key};
    server.verify_peer = false;
    client.initial_retransmit_timeout = server.initial_retransmit_timeout = std::chrono::milliseconds(100);
    if (mode & 1) {
        server.verify_peer = true;
        server.require_client_certificate = true;
        const auto& client_creds = botan_client_credentials();
        server.trust.ca_certificates_pem = {client_creds.ca_pem};
        client.identity = {client_creds.certificate_pem, client_creds.key_pem};
    }
    if (mode & 2) {
        client.alpn = {"h2", "http/1.1"};
        server.alpn = {"http/1.1"};
    }
    if (mode & 4) client.mtu = server.mtu = 256;
    if (mode & 8) {
        client.session_cache = std::make_shared<InMemorySessionCache>();
        server.session_cache = std::make_shared<InMemorySessionCache>();  // the server remembers it too
        Engine first_client(Role::client, client), first_server(Role::server, server);
        FuzzedDataProvider honest(nullptr, 0);
        EnginePair(first_client, first_server, Carrier::stream).run(honest);
    }
    Engine c(Role::client, client), s(Role::server, server);
    EnginePair(c, s, carrier == botan_tls::Carrier::stream ? Carrier::stream : Carrier::datagram).run(input);
    return 0;
}

}  // namespace tapsec::fuzz
