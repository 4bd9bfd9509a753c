// TLS 1.2 through Botan (tapsec's Tls12Handshake engine) against OpenSSL libssl in
// the same run, both in memory (no sockets): full and resumed handshakes per second
// (ECDHE x25519, ECDSA P-256, AES-128-GCM on both), and 16 KiB record throughput.
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>

#include <botan/ec_group.h>
#include <botan/ecdsa.h>
#include <botan/pkcs8.h>
#include <botan/system_rng.h>
#include <botan/x509_ca.h>
#include <botan/x509self.h>

#include <tapsec/tapsec.hpp>

#include "harness.hpp"

namespace {

using namespace tapsec;
using Engine = botan_tls::ChannelEngine<botan_tls::Carrier::stream>;

struct Pem {
    std::string ca, leaf, key;
};

Pem make_pki() {
    auto& rng = Botan::system_rng();
    const Botan::EC_Group group("secp256r1");
    Botan::ECDSA_PrivateKey ca_key(rng, group);
    Botan::X509_Cert_Options ca_options("bench CA");
    ca_options.CA_key();
    const auto ca_cert = Botan::X509::create_self_signed_cert(ca_options, ca_key, "SHA-256", rng);
    Botan::X509_CA ca(ca_cert, ca_key, "SHA-256", rng);
    Botan::ECDSA_PrivateKey leaf_key(rng, group);
    Botan::X509_Cert_Options options("localhost");
    options.dns = "localhost";
    const auto now = std::chrono::system_clock::now();
    const auto leaf = ca.sign_request(Botan::X509::create_cert_req(options, leaf_key, "SHA-256", rng), rng,
                                      Botan::X509_Time(now - std::chrono::hours(1)), Botan::X509_Time(now + std::chrono::hours(24)));
    return {ca_cert.PEM_encode(), leaf.PEM_encode(), Botan::PKCS8::PEM_encode(leaf_key)};
}

// ---- tapsec / Botan ---------------------------------------------------------------

[[noreturn]] void die(const char* what) {
    std::fprintf(stderr, "tls12 bench: %s\n", what);
    std::abort();
}

void pump(Engine& from, Engine& to) {
    while (auto t = from.poll_transmit())
        if (to.receive(t->data, Endpoint{}, Clock::now())) die("tapsec engine failed");
}

bool handshake(Engine& client, Engine& server) {
    if (client.start(Clock::now()) || server.start(Clock::now())) return false;
    for (int i = 0; i < 10 && !(client.is_established() && server.is_established()); ++i) {
        pump(client, server);
        pump(server, client);
    }
    return client.is_established() && server.is_established();
}

struct BotanSide {
    botan_tls::Config client, server;
    explicit BotanSide(const Pem& pem) {
        client.trust.ca_certificates_pem = {pem.ca};
        client.server_name = "localhost";
        client.groups = {"x25519"};
        client.cipher_suites = {"TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"};
        server.identity = Identity(pem.leaf, pem.key);
        server.verify_peer = false;
        server.groups = client.groups;
        server.cipher_suites = client.cipher_suites;
    }
};

// ---- OpenSSL ----------------------------------------------------------------------

struct OpenSsl {
    SSL_CTX* client_ctx = nullptr;
    SSL_CTX* server_ctx = nullptr;
    explicit OpenSsl(const Pem& pem, bool cache) {
        client_ctx = SSL_CTX_new(TLS_client_method());
        server_ctx = SSL_CTX_new(TLS_server_method());
        for (auto* ctx : {client_ctx, server_ctx}) {
            SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
            SSL_CTX_set_max_proto_version(ctx, TLS1_2_VERSION);
            SSL_CTX_set_cipher_list(ctx, "ECDHE-ECDSA-AES128-GCM-SHA256");
            SSL_CTX_set1_groups_list(ctx, "X25519:P-256");  // the certificate's curve must be listed for TLS 1.2
            SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
        }
        SSL_CTX_set_session_cache_mode(server_ctx, cache ? SSL_SESS_CACHE_SERVER : SSL_SESS_CACHE_OFF);
        BIO* b = BIO_new_mem_buf(pem.leaf.data(), static_cast<int>(pem.leaf.size()));
        X509* leaf = PEM_read_bio_X509(b, nullptr, nullptr, nullptr);
        BIO_free(b);
        b = BIO_new_mem_buf(pem.key.data(), static_cast<int>(pem.key.size()));
        EVP_PKEY* key = PEM_read_bio_PrivateKey(b, nullptr, nullptr, nullptr);
        BIO_free(b);
        SSL_CTX_use_certificate(server_ctx, leaf);
        SSL_CTX_use_PrivateKey(server_ctx, key);
        X509_free(leaf);
        EVP_PKEY_free(key);
        b = BIO_new_mem_buf(pem.ca.data(), static_cast<int>(pem.ca.size()));
        X509* ca = PEM_read_bio_X509(b, nullptr, nullptr, nullptr);
        BIO_free(b);
        X509_STORE_add_cert(SSL_CTX_get_cert_store(client_ctx), ca);
        X509_free(ca);
        SSL_CTX_set_verify(client_ctx, SSL_VERIFY_PEER, nullptr);
    }
    ~OpenSsl() {
        SSL_CTX_free(client_ctx);
        SSL_CTX_free(server_ctx);
    }
};

struct OpenSslPair {
    SSL* client;
    SSL* server;
    OpenSslPair(OpenSsl& o, SSL_SESSION* resume = nullptr) {
        client = SSL_new(o.client_ctx);
        server = SSL_new(o.server_ctx);
        BIO* c2s = BIO_new(BIO_s_mem());
        BIO* s2c = BIO_new(BIO_s_mem());
        BIO_set_mem_eof_return(c2s, -1);
        BIO_set_mem_eof_return(s2c, -1);
        BIO_up_ref(c2s);
        BIO_up_ref(s2c);
        SSL_set_bio(client, s2c, c2s);
        SSL_set_bio(server, c2s, s2c);
        SSL_set_tlsext_host_name(client, "localhost");
        SSL_set1_host(client, "localhost");
        if (resume) SSL_set_session(client, resume);
        SSL_set_connect_state(client);
        SSL_set_accept_state(server);
    }
    bool handshake() {
        int c = 0, s = 0;
        for (int i = 0; i < 20; ++i) {
            if (c != 1) c = SSL_do_handshake(client);
            if (s != 1) s = SSL_do_handshake(server);
            if (c == 1 && s == 1) return true;
        }
        std::fprintf(stderr, "OpenSSL handshake failed: verify %ld, %s\n", SSL_get_verify_result(client),
                     ERR_error_string(ERR_get_error(), nullptr));
        return false;
    }
    ~OpenSslPair() {
        SSL_free(client);
        SSL_free(server);
    }
};

void run(bench::Report& report) {
    const Pem pem = make_pki();
    BotanSide botan(pem);

    // full handshakes
    auto tapsec_full = bench::measure([&] {
        Engine c(Role::client, botan.client), s(Role::server, botan.server);
        if (!handshake(c, s)) die("tapsec full handshake failed");
    });
    OpenSsl openssl(pem, false);
    auto openssl_full = bench::measure([&] {
        OpenSslPair p(openssl);
        if (!p.handshake()) die("OpenSSL full handshake failed");
    });
    report.value("full handshake (tapsec/Botan)", tapsec_full.per_second(), "handshakes/s", "ECDHE x25519, ECDSA P-256 (client verifies)");
    report.value("full handshake (OpenSSL libssl)", openssl_full.per_second(), "handshakes/s");
    report.ratio("full handshake tapsec/OpenSSL", tapsec_full.per_second(), openssl_full.per_second());

    // resumed handshakes (session id)
    auto client_cache = std::make_shared<InMemorySessionCache>();
    auto server_cache = std::make_shared<InMemorySessionCache>();
    botan.client.session_cache = client_cache;
    botan.server.session_cache = server_cache;
    {
        Engine c(Role::client, botan.client), s(Role::server, botan.server);
        handshake(c, s);
    }
    auto tapsec_resumed = bench::measure([&] {
        Engine c(Role::client, botan.client), s(Role::server, botan.server);
        if (!handshake(c, s) || !c.session_info().resumed) die("tapsec resumption failed");
    });
    OpenSsl openssl_cached(pem, true);
    SSL_SESSION* session = nullptr;
    {
        OpenSslPair p(openssl_cached);
        p.handshake();
        session = SSL_get1_session(p.client);
    }
    bool reused = false;
    {
        OpenSslPair p(openssl_cached, session);
        reused = p.handshake() && SSL_session_reused(p.client);
    }
    report.value("resumed handshake (tapsec/Botan)", tapsec_resumed.per_second(), "handshakes/s", "session id");
    if (reused) {
        auto openssl_resumed = bench::measure([&] {
            OpenSslPair p(openssl_cached, session);
            if (!p.handshake() || !SSL_session_reused(p.client)) die("OpenSSL resumption failed");
        });
        report.value("resumed handshake (OpenSSL libssl)", openssl_resumed.per_second(), "handshakes/s");
        report.ratio("resumed handshake tapsec/OpenSSL", tapsec_resumed.per_second(), openssl_resumed.per_second());
    } else {
        report.value("resumed handshake (OpenSSL libssl)", 0, "handshakes/s", "OpenSSL did not resume in this in-memory setup: not compared");
    }
    SSL_SESSION_free(session);

    // 16 KiB records, sealed by the client and opened by the server
    botan.client.session_cache = botan.server.session_cache = nullptr;
    Engine c(Role::client, botan.client), s(Role::server, botan.server);
    handshake(c, s);
    Bytes record(16384, 0x5a);
    auto tapsec_bulk = bench::measure([&] {
        if (c.send(record, Clock::now())) die("tapsec send failed");
        pump(c, s);
        if (!s.poll_application_data()) die("tapsec record lost");
    });
    OpenSslPair p(openssl);
    p.handshake();
    Bytes out(16384);
    auto openssl_bulk = bench::measure([&] {
        if (SSL_write(p.client, record.data(), static_cast<int>(record.size())) != 16384) die("SSL_write");
        std::size_t got = 0;
        while (got < out.size()) {
            const int n = SSL_read(p.server, out.data() + got, static_cast<int>(out.size() - got));
            if (n <= 0) die("SSL_read");
            got += static_cast<std::size_t>(n);
        }
    });
    const double mb = 16384.0 / 1e6;
    report.value("16 KiB records (tapsec/Botan)", tapsec_bulk.per_second() * mb, "MB/s", "AES-128-GCM seal + open");
    report.value("16 KiB records (OpenSSL libssl)", openssl_bulk.per_second() * mb, "MB/s");
    report.ratio("16 KiB records tapsec/OpenSSL", tapsec_bulk.per_second(), openssl_bulk.per_second());
}

const bench::Registration registration{{"tls12", "TLS 1.2 via Botan vs OpenSSL libssl, in memory", run}};

}  // namespace
