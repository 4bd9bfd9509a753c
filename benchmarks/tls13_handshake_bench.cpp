// Full TLS 1.3 handshakes per second, client and server in one process, bytes moved
// directly between the two sans-I/O engines (no threads, no sockets), against OpenSSL
// libssl doing the same work in the same run (two SSL objects joined by memory BIOs).
// Equal work on both sides: one full 1-RTT handshake, certificate chain validated
// against a CA with host-name check, no session tickets, TLS_AES_128_GCM_SHA256.
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <tapsec/tapsec.hpp>

#include "harness.hpp"
#include "support/pki.hpp"

namespace {

using namespace tapsec;
using TapsecEngine = tls13::Engine<AeadRecord, crypto::Botan2>;

/// One tapsec handshake: engines pumped until both are established.
bool tapsec_handshake(const tls13::Config& client_config, const tls13::Config& server_config) {
    TapsecEngine client(Role::client, client_config);
    TapsecEngine server(Role::server, server_config);
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

/// Both sides timed in alternating slices (8 of about 250 ms each, 2 s per side in all)
/// rather than one 2 s run after the other: on a shared machine a change of load then
/// hits both sides alike instead of skewing the ratio.
template <class Ours, class Theirs>
std::pair<bench::Measurement, bench::Measurement> measure_interleaved(Ours&& ours, Theirs&& theirs) {
    bench::Measurement a, b;
    for (int slice = 0; slice < 8; ++slice) {
        const auto x = bench::measure(ours, std::chrono::milliseconds(250));
        const auto y = bench::measure(theirs, std::chrono::milliseconds(250));
        a.iterations += x.iterations;
        a.seconds += x.seconds;
        b.iterations += y.iterations;
        b.seconds += y.seconds;
    }
    return {a, b};
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
        if (!tapsec_handshake(client, server)) {
            report.value(std::string("tapsec handshake, ") + c.name, 0, "", "FAILED");
            continue;
        }
        OpensslContexts ctx;
        if (!openssl_setup(ctx, *c.leaf, c.pki->ca().certificate, c.group_openssl) || !openssl_handshake(ctx)) {
            report.value(std::string("OpenSSL handshake, ") + c.name, 0, "", "FAILED");
            continue;
        }
        const auto [ours, theirs] = measure_interleaved([&] { tapsec_handshake(client, server); },
                                                        [&] { openssl_handshake(ctx); });
        report.value(std::string("tapsec full handshakes, ") + c.name, ours.per_second(), "handshakes/s",
                     "client+server in one process, chain validated, no tickets");
        report.value(std::string("OpenSSL full handshakes, ") + c.name, theirs.per_second(), "handshakes/s",
                     "libssl, memory BIOs, same work");
        report.ratio(std::string("tapsec / OpenSSL, ") + c.name, ours.per_second(), theirs.per_second());
    }
}

const bench::Registration registration{bench::Suite{
    "tls13-handshake", "TLS 1.3 full handshakes/s (client+server, one process) vs OpenSSL libssl", run}};

}  // namespace
