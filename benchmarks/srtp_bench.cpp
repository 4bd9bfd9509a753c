// SRTP protect + unprotect packets per second at 160 and 1200 bytes of payload, every
// profile tapsec supports: tapsec on the OpenSSL 3 provider and on Botan 2, the same
// per-packet cryptography as a bare OpenSSL EVP loop (the floor a libcrypto-based SRTP
// stack could reach), and Debian's libsrtp2, measured in interleaved pairs (median and
// range of the per-pair ratios). One iteration = the sender protects one RTP packet in
// place and the receiver verifies and decrypts it (replay list and rollover counter
// included on both sides).
// Next to each rate: heap allocations per packet (global operator new hook), for the
// session and for the DTLS-SRTP engine's media path, owning and caller-buffer forms.
#include <cstring>
#include <string>

#include <botan/ec_group.h>
#include <botan/ecdsa.h>
#include <botan/pkcs8.h>
#include <botan/system_rng.h>
#include <botan/x509self.h>

#include <tapsec/crypto/openssl.hpp>
#include <tapsec/tapsec.hpp>

#include "alloc_counter.hpp"
#include "harness.hpp"

#include <openssl/core_names.h>
#include <openssl/evp.h>

#ifdef TAPSEC_HAVE_LIBSRTP2
#include <srtp2/srtp.h>
#endif

namespace {
using tapsec::bench::allocations_per_call;

using namespace tapsec;
using namespace tapsec::srtp;

MasterKeys bench_keys(Profile p) {
    const auto params = parameters(p);
    MasterKeys k;
    k.profile = p;
    for (MasterKey* m : {&k.client_write, &k.server_write}) {
        m->key.assign(params.master_key_length, 0x42);
        m->salt.assign(params.master_salt_length, 0x17);
    }
    return k;
}

Bytes rtp_template(std::size_t payload) {
    Bytes p{0x80, 0x60, 0, 0, 0, 0, 0, 0, 0xde, 0xad, 0xbe, 0xef};
    p.resize(12 + payload, 0xab);
    return p;
}

struct Rate {
    double per_second = 0;
    double allocations = 0;  // per packet
};

/// tapsec's srtp::Session on provider `Crypto`: one protect + unprotect per call.
template <class Crypto>
struct TapsecSrtp {
    TapsecSrtp(Profile profile, std::size_t payload)
        : tx(Session<Crypto>::create(bench_keys(profile), Role::client)),
          rx(Session<Crypto>::create(bench_keys(profile), Role::server)),
          plain(rtp_template(payload)),
          buffer(plain.size() + max_overhead) {
        ok = tx.ok() && rx.ok();
    }
    void operator()() {
        if (!ok) return;
        std::memcpy(buffer.data(), plain.data(), plain.size());
        buffer[2] = static_cast<std::uint8_t>(seq >> 8);
        buffer[3] = static_cast<std::uint8_t>(seq);
        ++seq;
        auto n = tx->protect_rtp(buffer, plain.size());
        ok = n.ok() && rx->unprotect_rtp(MutableByteView(buffer.data(), *n)).ok();
    }
    Result<Session<Crypto>> tx, rx;
    Bytes plain, buffer;
    std::uint16_t seq = 0;
    bool ok = false;
};

/// Rate of the default provider's session, for the engine comparison below.
Rate tapsec_rate(Profile profile, std::size_t payload) {
    TapsecSrtp<crypto::DefaultProvider> body(profile, payload);
    auto m = bench::measure(body);
    const double allocations = allocations_per_call(body);
    return body.ok ? Rate{m.per_second(), allocations} : Rate{};
}

/// The DTLS-SRTP engine's media path after an in-memory handshake (AEAD_AES_128_GCM):
/// send, move the datagram, receive, take the plaintext. `caller_buffers` uses
/// poll_transmit(out) and poll_plaintext(); otherwise the owning forms.
Rate dtls_srtp_rate(std::size_t payload, bool caller_buffers) {
    using DtlsSrtp = dtls_srtp::Engine<crypto::DefaultProvider>;
    auto& rng = Botan::system_rng();
    Botan::ECDSA_PrivateKey key(rng, Botan::EC_Group("secp256r1"));
    const auto cert = Botan::X509::create_self_signed_cert(Botan::X509_Cert_Options("localhost"), key, "SHA-256", rng);
    botan_tls::Config client, server;
    client.trust.ca_certificates_pem = {cert.PEM_encode()};
    client.server_name = "localhost";
    client.srtp_profiles = {static_cast<std::uint16_t>(Profile::aead_aes_128_gcm)};
    server.identity = Identity(cert.PEM_encode(), Botan::PKCS8::PEM_encode(key));
    server.verify_peer = false;
    DtlsSrtp c(Role::client, client), s(Role::server, server);
    const Endpoint from = *Endpoint::parse("127.0.0.1:1"), to = *Endpoint::parse("127.0.0.1:2");
    c.start(Clock::now());
    s.start(Clock::now());
    for (int i = 0; i < 10 && !(c.is_established() && s.is_established()); ++i) {
        while (auto t = c.poll_transmit()) s.receive(t->data, from, Clock::now());
        while (auto t = s.poll_transmit()) c.receive(t->data, to, Clock::now());
    }
    if (!c.is_established() || !s.is_established()) return {};
    Bytes packet = rtp_template(payload);
    Bytes out(max_transmit_size);
    std::uint16_t seq = 0;
    const Instant now = Clock::now();
    bool ok = true;
    auto body = [&] {
        ++seq;
        packet[2] = static_cast<std::uint8_t>(seq >> 8);
        packet[3] = static_cast<std::uint8_t>(seq);
        ok = ok && !c.send(packet, now);
        if (caller_buffers) {
            auto info = c.poll_transmit(MutableByteView(out));
            ok = ok && info && !s.receive(ByteView(out.data(), info->size), from, now);
            ok = ok && s.poll_plaintext().has_value();
        } else {
            auto t = c.poll_transmit();
            ok = ok && t && !s.receive(t->data, from, now);
            ok = ok && s.poll_application_data().has_value();
        }
    };
    auto m = bench::measure(body);
    const double allocations = allocations_per_call(body);
    return ok ? Rate{m.per_second(), allocations} : Rate{};
}

#ifdef TAPSEC_HAVE_LIBSRTP2
/// Debian's libsrtp2 (NSS crypto): one srtp_protect + srtp_unprotect per call.
struct LibSrtp {
    LibSrtp(Profile profile, std::size_t payload) : plain(rtp_template(payload)), buffer(plain.size() + SRTP_MAX_TRAILER_LEN) {
        static const srtp_err_status_t initialised = srtp_init();
        if (initialised != srtp_err_status_ok) return;
        const auto keys = bench_keys(profile);
        std::vector<unsigned char> material(keys.client_write.key.begin(), keys.client_write.key.end());
        material.insert(material.end(), keys.client_write.salt.begin(), keys.client_write.salt.end());
        ok = true;
        for (auto [session, type] : {std::pair{&tx, ssrc_any_outbound}, std::pair{&rx, ssrc_any_inbound}}) {
            srtp_policy_t policy;
            std::memset(&policy, 0, sizeof policy);
            switch (profile) {
            case Profile::aead_aes_128_gcm: srtp_crypto_policy_set_aes_gcm_128_16_auth(&policy.rtp); break;
            case Profile::aead_aes_256_gcm: srtp_crypto_policy_set_aes_gcm_256_16_auth(&policy.rtp); break;
            case Profile::aes_cm_128_hmac_sha1_32: srtp_crypto_policy_set_aes_cm_128_hmac_sha1_32(&policy.rtp); break;
            default: srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&policy.rtp); break;
            }
            policy.rtcp = policy.rtp;
            policy.ssrc.type = type;
            policy.key = material.data();
            policy.window_size = 1024;
            ok = ok && srtp_create(session, &policy) == srtp_err_status_ok;
        }
    }
    ~LibSrtp() {
        if (tx) srtp_dealloc(tx);
        if (rx) srtp_dealloc(rx);
    }
    LibSrtp(const LibSrtp&) = delete;
    LibSrtp& operator=(const LibSrtp&) = delete;
    void operator()() {
        if (!ok) return;
        std::memcpy(buffer.data(), plain.data(), plain.size());
        buffer[2] = static_cast<std::uint8_t>(seq >> 8);
        buffer[3] = static_cast<std::uint8_t>(seq);
        ++seq;
        int len = static_cast<int>(plain.size());
        ok = srtp_protect(tx, buffer.data(), &len) == srtp_err_status_ok;
        ok = ok && srtp_unprotect(rx, buffer.data(), &len) == srtp_err_status_ok;
    }
    srtp_t tx = nullptr, rx = nullptr;
    Bytes plain, buffer;
    std::uint16_t seq = 0;
    bool ok = false;
};
#endif

/// The same per-packet cryptography done with OpenSSL 3's EVP primitives and nothing
/// else (no header parsing, no ROC, no replay list, no key derivation of the IV from a
/// salt): a floor for what any SRTP stack built on libcrypto would cost, e.g. libsrtp2
/// built with OpenSSL instead of NSS. Contexts are keyed once and reused.
struct OpensslFloor {
    OpensslFloor(Profile profile, std::size_t payload_size) : packet(rtp_template(payload_size)), payload(payload_size) {
        const auto params = parameters(profile);
        gcm = profile == Profile::aead_aes_128_gcm || profile == Profile::aead_aes_256_gcm;
        tag_length = params.srtp_tag_length;
        std::memset(key, 0x42, sizeof key);
        std::memset(auth_key, 0x17, sizeof auth_key);
        enc = EVP_CIPHER_CTX_new();
        dec = EVP_CIPHER_CTX_new();
        mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
        hmac = EVP_MAC_CTX_new(mac);
        OSSL_PARAM digest[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, const_cast<char*>("SHA1"), 0),
                               OSSL_PARAM_construct_end()};
        ok = enc && dec && hmac && EVP_MAC_init(hmac, auth_key, sizeof auth_key, digest) == 1;
        const EVP_CIPHER* cipher = !gcm ? EVP_aes_128_ctr()
                                   : params.master_key_length == 32 ? EVP_aes_256_gcm()
                                                                    : EVP_aes_128_gcm();
        ok = ok && EVP_EncryptInit_ex(enc, cipher, nullptr, key, nullptr) == 1;
        ok = ok && EVP_DecryptInit_ex(dec, cipher, nullptr, key, nullptr) == 1;
    }
    ~OpensslFloor() {
        EVP_MAC_CTX_free(hmac);
        EVP_MAC_free(mac);
        EVP_CIPHER_CTX_free(enc);
        EVP_CIPHER_CTX_free(dec);
    }
    OpensslFloor(const OpensslFloor&) = delete;
    OpensslFloor& operator=(const OpensslFloor&) = delete;
    void operator()() {
        if (!ok) return;
        ++counter;
        std::memcpy(iv + 8, &counter, 4);
        unsigned char* body = packet.data() + 12;
        const int n = static_cast<int>(payload);
        int len = 0;
        if (gcm) {
            ok = ok && EVP_EncryptInit_ex(enc, nullptr, nullptr, nullptr, iv) == 1;
            ok = ok && EVP_EncryptUpdate(enc, nullptr, &len, packet.data(), 12) == 1;
            ok = ok && EVP_EncryptUpdate(enc, body, &len, body, n) == 1;
            ok = ok && EVP_EncryptFinal_ex(enc, body + len, &len) == 1;
            ok = ok && EVP_CIPHER_CTX_ctrl(enc, EVP_CTRL_GCM_GET_TAG, 16, tag) == 1;
            ok = ok && EVP_DecryptInit_ex(dec, nullptr, nullptr, nullptr, iv) == 1;
            ok = ok && EVP_DecryptUpdate(dec, nullptr, &len, packet.data(), 12) == 1;
            ok = ok && EVP_DecryptUpdate(dec, body, &len, body, n) == 1;
            ok = ok && EVP_CIPHER_CTX_ctrl(dec, EVP_CTRL_GCM_SET_TAG, 16, tag) == 1;
            ok = ok && EVP_DecryptFinal_ex(dec, body + len, &len) == 1;
        } else {
            std::size_t out = 0;
            const unsigned char roc[4] = {0, 0, 0, 0};
            ok = ok && EVP_EncryptInit_ex(enc, nullptr, nullptr, nullptr, iv) == 1;
            ok = ok && EVP_EncryptUpdate(enc, body, &len, body, n) == 1;
            ok = ok && EVP_MAC_init(hmac, nullptr, 0, nullptr) == 1;
            ok = ok && EVP_MAC_update(hmac, packet.data(), packet.size()) == 1;
            ok = ok && EVP_MAC_update(hmac, roc, 4) == 1;
            ok = ok && EVP_MAC_final(hmac, tag, &out, sizeof tag) == 1;
            ok = ok && EVP_MAC_init(hmac, nullptr, 0, nullptr) == 1;
            ok = ok && EVP_MAC_update(hmac, packet.data(), packet.size()) == 1;
            ok = ok && EVP_MAC_update(hmac, roc, 4) == 1;
            ok = ok && EVP_MAC_final(hmac, check, &out, sizeof check) == 1;
            ok = ok && CRYPTO_memcmp(tag, check, tag_length) == 0;
            ok = ok && EVP_DecryptInit_ex(dec, nullptr, nullptr, nullptr, iv) == 1;
            ok = ok && EVP_DecryptUpdate(dec, body, &len, body, n) == 1;
        }
    }
    Bytes packet;
    std::size_t payload;
    bool gcm = false, ok = false;
    std::size_t tag_length = 0;
    unsigned char key[32], iv[16] = {0}, auth_key[20], tag[20], check[20];
    std::uint32_t counter = 0;
    EVP_CIPHER_CTX* enc = nullptr;
    EVP_CIPHER_CTX* dec = nullptr;
    EVP_MAC* mac = nullptr;
    EVP_MAC_CTX* hmac = nullptr;
};

void run(bench::Report& r) {
    for (Profile profile : supported_profiles) {
        for (std::size_t payload : {std::size_t{160}, std::size_t{1200}}) {
            const std::string label = std::string(parameters(profile).name) + " " + std::to_string(payload) + " B";
            TapsecSrtp<crypto::OpenSsl3> on_openssl(profile, payload);
            TapsecSrtp<crypto::Botan2> on_botan(profile, payload);
            OpensslFloor floor(profile, payload);
#ifdef TAPSEC_HAVE_LIBSRTP2
            LibSrtp libsrtp(profile, payload);
            const auto rates = bench::interleaved_pairs(on_openssl, floor, on_botan, libsrtp);
            const bool all_ok = on_openssl.ok && floor.ok && on_botan.ok && libsrtp.ok;
#else
            const auto rates = bench::interleaved_pairs(on_openssl, floor, on_botan);
            const bool all_ok = on_openssl.ok && floor.ok && on_botan.ok;
#endif
            if (!all_ok) {
                r.value(label, 0, "", "FAILED: a protect or unprotect was refused");
                continue;
            }
            const auto ours = bench::spread(rates[0]);
            r.value("tapsec (OpenSSL provider) " + label, ours.median, "packets/s", bench::range_note(ours, "/s; protect + unprotect"));
            r.value("tapsec (OpenSSL provider) " + label + " allocations", allocations_per_call(on_openssl), "allocs/packet",
                    "after warm-up; target 0");
            const auto versus_floor = bench::ratio_spread(rates[0], rates[1]);
            r.value("tapsec (OpenSSL provider) / OpenSSL-crypto-only " + label, versus_floor.median, "x",
                    bench::range_note(versus_floor, "; target >= 1.0"));
            const auto botan_versus_floor = bench::ratio_spread(rates[2], rates[1]);
            r.value("tapsec (Botan provider) / OpenSSL-crypto-only " + label, botan_versus_floor.median, "x",
                    bench::range_note(botan_versus_floor, ""));
#ifdef TAPSEC_HAVE_LIBSRTP2
            const auto versus_libsrtp = bench::ratio_spread(rates[0], rates[3]);
            r.value("tapsec (OpenSSL provider) / libsrtp2 " + label, versus_libsrtp.median, "x",
                    bench::range_note(versus_libsrtp, "; Debian's build, NSS crypto; target >= 4"));
#endif
        }
    }
    for (std::size_t payload : {std::size_t{160}, std::size_t{1200}}) {
        const std::string size = std::to_string(payload) + " B";
        const Rate owning = dtls_srtp_rate(payload, false), views = dtls_srtp_rate(payload, true);
        const Rate bare = tapsec_rate(Profile::aead_aes_128_gcm, payload);
        r.value("DTLS-SRTP engine media, owning forms, " + size, owning.per_second, "packets/s", "send, poll_transmit(), receive, poll_application_data()");
        r.value("DTLS-SRTP engine media, owning forms, " + size + " allocations", owning.allocations, "allocs/packet");
        r.value("DTLS-SRTP engine media, caller buffers, " + size, views.per_second, "packets/s", "send, poll_transmit(out), receive, poll_plaintext()");
        r.value("DTLS-SRTP engine media, caller buffers, " + size + " allocations", views.allocations, "allocs/packet", "after warm-up; target 0");
        r.ratio("DTLS-SRTP engine (caller buffers) / srtp::Session " + size, views.per_second, bare.per_second, "GCM-128; demux, queues, copies");
    }
}

const bench::Registration registration{bench::Suite{"srtp", "SRTP protect+unprotect vs libsrtp2", run}};

}  // namespace
