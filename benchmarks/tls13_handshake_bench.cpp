// Full TLS 1.3 handshakes per second, client and server in one process, bytes moved
// directly between the two sans-I/O engines (no threads, no sockets), against OpenSSL
// libssl doing the same work in the same run (two SSL objects joined by memory BIOs).
// Equal work on both sides: one full 1-RTT handshake, certificate chain validated
// against a CA with host-name check, no session tickets, TLS_AES_128_GCM_SHA256.
// tapsec runs on each crypto provider (OpenSSL 3 libcrypto, Botan 2); the three are
// measured in interleaved pairs and each ratio is reported as median and range.
#include <cstdio>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <tapsec/crypto/openssl.hpp>
#include <tapsec/tapsec.hpp>

#include "harness.hpp"
#include "support/pki.hpp"

namespace {

using namespace tapsec;

/// One tapsec handshake on provider P: engines pumped until both are established.
template <class P>
bool tapsec_handshake(const tls13::Config& client_config, const tls13::Config& server_config) {
    tls13::Engine<AeadRecord, P> client(Role::client, client_config);
    tls13::Engine<AeadRecord, P> server(Role::server, server_config);
    const Endpoint nowhere;
    const auto now = Clock::now();
    if (client.start(now)) return false;
    for (int round = 0; round < 10 && !(client.is_established() && server.is_established()); ++round) {
        while (auto t = client.poll_transmit())
            if (server.receive(t->data, nowhere, now)) return false;
        while (auto t = server.poll_transmit())
            if (client.receive(t->data, nowhere, now)) return false;
    }
    return client.is_established() && server.is_established();
}

struct OpensslContexts {
    SSL_CTX* client = nullptr;
    SSL_CTX* server = nullptr;
    ~OpensslContexts() {
        SSL_CTX_free(client);
        SSL_CTX_free(server);
    }
};

bool openssl_setup(OpensslContexts& c, const test::CertificateFiles& leaf, const std::string& ca, const char* group) {
    c.client = SSL_CTX_new(TLS_client_method());
    c.server = SSL_CTX_new(TLS_server_method());
    for (SSL_CTX* ctx : {c.client, c.server}) {
        SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
        SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION);
        SSL_CTX_set_ciphersuites(ctx, "TLS_AES_128_GCM_SHA256");
        SSL_CTX_set1_groups_list(ctx, group);
        SSL_CTX_set_num_tickets(ctx, 0);
        SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    }
    if (SSL_CTX_use_certificate_chain_file(c.server, leaf.certificate.c_str()) != 1) return false;
    if (SSL_CTX_use_PrivateKey_file(c.server, leaf.key.c_str(), SSL_FILETYPE_PEM) != 1) return false;
    if (SSL_CTX_load_verify_locations(c.client, ca.c_str(), nullptr) != 1) return false;
    SSL_CTX_set_verify(c.client, SSL_VERIFY_PEER, nullptr);
    return true;
}

bool openssl_handshake(const OpensslContexts& c) {
    SSL* client = SSL_new(c.client);
    SSL* server = SSL_new(c.server);
    SSL_set1_host(client, "localhost");
    SSL_set_tlsext_host_name(client, "localhost");
    BIO *c_in = BIO_new(BIO_s_mem()), *c_out = BIO_new(BIO_s_mem());
    BIO *s_in = BIO_new(BIO_s_mem()), *s_out = BIO_new(BIO_s_mem());
    SSL_set_bio(client, c_in, c_out);
    SSL_set_bio(server, s_in, s_out);
    SSL_set_connect_state(client);
    SSL_set_accept_state(server);
    char buffer[16384];
    bool done = false;
    for (int round = 0; round < 10 && !done; ++round) {
        SSL_do_handshake(client);
        for (int n; (n = BIO_read(c_out, buffer, sizeof buffer)) > 0;) BIO_write(s_in, buffer, n);
        SSL_do_handshake(server);
        for (int n; (n = BIO_read(s_out, buffer, sizeof buffer)) > 0;) BIO_write(c_in, buffer, n);
        done = SSL_is_init_finished(client) && SSL_is_init_finished(server);
    }
    const bool ok = done && SSL_get_verify_result(client) == X509_V_OK;
    SSL_free(client);
    SSL_free(server);
    return ok;
}

void run(bench::Report& report) {
    test::TestPki ed_pki(test::KeyType::ed25519);
    test::TestPki ec_pki(test::KeyType::ecdsa_p256);
    if (!ed_pki.ok() || !ec_pki.ok()) {
        report.value("setup", 0, "", "openssl command failed: cannot make certificates");
        return;
    }
    const auto ed_leaf = ed_pki.issue("ed", test::KeyType::ed25519);
    const auto ec_leaf = ec_pki.issue("ec", test::KeyType::ecdsa_p256);

    struct Case {
        const char* name;
        const test::TestPki* pki;
        const test::CertificateFiles* leaf;
        const char* group_ours;
        const char* group_openssl;
    };
    const Case cases[] = {
        {"Ed25519 cert, X25519", &ed_pki, &ed_leaf, "x25519", "X25519"},
        {"ECDSA P-256 cert, X25519", &ec_pki, &ec_leaf, "x25519", "X25519"},
        {"ECDSA P-256 cert, secp256r1", &ec_pki, &ec_leaf, "secp256r1", "P-256"},
    };
    for (const auto& c : cases) {
        tls13::Config client, server;
        client.trust.ca_certificates_pem = {c.pki->ca().certificate_pem()};
        client.server_name = "localhost";
        client.cipher_suites = server.cipher_suites = {"TLS_AES_128_GCM_SHA256"};
        client.groups = server.groups = {c.group_ours};
        server.identity = Identity(c.leaf->certificate_pem(), c.leaf->key_pem());
        server.tickets_to_send = 0;
        if (!tapsec_handshake<crypto::OpenSsl3>(client, server) || !tapsec_handshake<crypto::Botan2>(client, server)) {
            report.value(std::string("tapsec handshake, ") + c.name, 0, "", "FAILED");
            continue;
        }
        OpensslContexts ctx;
        if (!openssl_setup(ctx, *c.leaf, c.pki->ca().certificate, c.group_openssl) || !openssl_handshake(ctx)) {
            report.value(std::string("OpenSSL handshake, ") + c.name, 0, "", "FAILED");
            continue;
        }
        auto on_openssl = [&] { tapsec_handshake<crypto::OpenSsl3>(client, server); };
        auto on_botan = [&] { tapsec_handshake<crypto::Botan2>(client, server); };
        auto libssl = [&] { openssl_handshake(ctx); };
        const auto rates = bench::interleaved_pairs(on_openssl, libssl, on_botan);
        const auto ours = bench::spread(rates[0]), theirs = bench::spread(rates[1]), botan = bench::spread(rates[2]);
        report.value(std::string("tapsec (OpenSSL provider) full handshakes, ") + c.name, ours.median, "handshakes/s",
                     bench::range_note(ours, "/s; client+server in one process, chain validated, no tickets"));
        report.value(std::string("OpenSSL libssl full handshakes, ") + c.name, theirs.median, "handshakes/s",
                     bench::range_note(theirs, "/s; memory BIOs, same work"));
        report.value(std::string("tapsec (Botan provider) full handshakes, ") + c.name, botan.median, "handshakes/s",
                     bench::range_note(botan, "/s"));
        const auto ratio = bench::ratio_spread(rates[0], rates[1]);
        report.value(std::string("tapsec (OpenSSL provider) / OpenSSL, ") + c.name, ratio.median, "x", bench::range_note(ratio, ""));
        const auto botan_ratio = bench::ratio_spread(rates[2], rates[1]);
        report.value(std::string("tapsec (Botan provider) / OpenSSL, ") + c.name, botan_ratio.median, "x",
                     bench::range_note(botan_ratio, ""));
    }
}

const bench::Registration registration{bench::Suite{
    "tls13-handshake", "TLS 1.3 full handshakes/s (client+server, one process) vs OpenSSL libssl", run}};

}  // namespace
