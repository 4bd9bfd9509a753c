// The IKEv2 key schedule and the ESP packet format checked against a second,
// independent implementation: OpenSSL's HMAC and AES-GCM through EVP (RFC 7296 has no
// published key-derivation vectors), for each PRF (PRF_HMAC_SHA2_256/384/512). The PRFs
// themselves are pinned to RFC 4868 2.7.1 in tests/unit/ikev2_suites_test.cpp.
// Every case runs on both providers (support/providers.hpp).
#include "support/providers.hpp"
#include <openssl/evp.h>

#include <tapsec/ikev2.hpp>

using namespace tapsec;
using namespace tapsec::ikev2;

namespace ikev2_key_schedule_vectors {

const char* openssl_digest(Prf f) {
    return f == Prf::hmac_sha2_384 ? "SHA384" : f == Prf::hmac_sha2_512 ? "SHA512" : "SHA256";
}

Bytes openssl_hmac(ByteView key, ByteView data, Prf f = Prf::hmac_sha2_256) {
    Bytes out(64);
    std::size_t length = 0;
    REQUIRE(EVP_Q_mac(nullptr, "HMAC", nullptr, openssl_digest(f), nullptr, key.data(), key.size(), data.data(), data.size(),
                      out.data(), out.size(), &length) != nullptr);
    out.resize(length);
    return out;
}

/// prf+ written from RFC 7296 2.13 over OpenSSL's HMAC.
Bytes openssl_prf_plus(ByteView key, ByteView seed, std::size_t length, Prf f = Prf::hmac_sha2_256) {
    Bytes out, t;
    for (std::uint8_t n = 1; out.size() < length; ++n) {
        Bytes input = t;
        append(input, seed);
        input.push_back(n);
        t = openssl_hmac(key, input, f);
        append(out, t);
    }
    out.resize(length);
    return out;
}

Bytes filled(std::size_t n, std::uint8_t start) {
    Bytes b(n);
    for (std::size_t i = 0; i < n; ++i) b[i] = static_cast<std::uint8_t>(start + i * 7);
    return b;
}

Bytes bytes_of(const SecretBytes& s) { return Bytes(s.begin(), s.end()); }

/// AES-GCM or ChaCha20-Poly1305 with OpenSSL: returns ciphertext | tag.
Bytes openssl_aead_seal(esp::Algorithm alg, ByteView key, ByteView nonce, ByteView aad, ByteView plain) {
    EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
    const EVP_CIPHER* cipher = alg == esp::Algorithm::aes_128_gcm_16   ? EVP_aes_128_gcm()
                               : alg == esp::Algorithm::aes_256_gcm_16 ? EVP_aes_256_gcm()
                                                                       : EVP_chacha20_poly1305();
    Bytes out(plain.size() + 16);
    int n = 0;
    REQUIRE(EVP_EncryptInit_ex(ctx, cipher, nullptr, key.data(), nonce.data()) == 1);
    REQUIRE(EVP_EncryptUpdate(ctx, nullptr, &n, aad.data(), static_cast<int>(aad.size())) == 1);
    REQUIRE(EVP_EncryptUpdate(ctx, out.data(), &n, plain.data(), static_cast<int>(plain.size())) == 1);
    REQUIRE(EVP_EncryptFinal_ex(ctx, out.data() + n, &n) == 1);
    REQUIRE(EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, 16, out.data() + plain.size()) == 1);
    EVP_CIPHER_CTX_free(ctx);
    return out;
}


TEST_CASE_TEMPLATE("ikev2: PRF_HMAC_SHA2_256 is RFC 4231 test case 2", P, TAPSEC_TEST_PROVIDERS) {
    const auto mac = prf<P>(Prf::hmac_sha2_256, as_bytes("Jefe"), as_bytes("what do ya want for nothing?"));
    CHECK(to_hex(mac) == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST_CASE_TEMPLATE("ikev2: prf+ agrees with an OpenSSL implementation for every length up to 8 blocks", P, TAPSEC_TEST_PROVIDERS) {
    const Bytes key = filled(32, 1), seed = filled(80, 9);
    for (Prf f : {Prf::hmac_sha2_256, Prf::hmac_sha2_384, Prf::hmac_sha2_512})
        for (std::size_t length : {1u, 31u, 32u, 33u, 47u, 48u, 49u, 64u, 65u, 100u, 255u, 256u, 512u}) {
            CAPTURE(name(f));
            CHECK(to_hex(prf_plus<P>(f, key, seed, length)) == to_hex(openssl_prf_plus(key, seed, length, f)));
        }
}

TEST_CASE_TEMPLATE("ikev2: SKEYSEED, the seven SA keys and KEYMAT against OpenSSL, for each PRF", P, TAPSEC_TEST_PROVIDERS) {
    for (Prf f : {Prf::hmac_sha2_256, Prf::hmac_sha2_384, Prf::hmac_sha2_512}) {
        CAPTURE(name(f));
        const std::size_t d = prf_size(f);  // SK_d, SK_pi, SK_pr: the PRF's output size
        CHECK(d == (f == Prf::hmac_sha2_256 ? 32u : f == Prf::hmac_sha2_384 ? 48u : 64u));
        const Bytes ni = filled(32, 3), nr = filled(32, 77), shared = filled(32, 200);
        const std::uint64_t spi_i = 0x0102030405060708, spi_r = 0x1112131415161718;
        const SecretBytes seed = skeyseed<P>(f, ni, nr, shared);
        Bytes ni_nr = ni;
        append(ni_nr, nr);
        CHECK(to_hex(seed) == to_hex(openssl_hmac(ni_nr, shared, f)));

        // AES-GCM-16-128: SK_e = 16-octet key | 4-octet salt; no SK_a.
        const IkeSaKeys k = derive_ike_sa_keys<P>(f, seed, ni, nr, spi_i, spi_r, 20);
        Bytes s = ni_nr;
        put64(s, spi_i);
        put64(s, spi_r);
        const Bytes stream = openssl_prf_plus(Bytes(seed.begin(), seed.end()), s, d + 20 + 20 + d + d, f);
        auto part = [&](std::size_t at, std::size_t n) { return to_hex(ByteView(stream).subspan(at, n)); };
        CHECK(to_hex(k.sk_d) == part(0, d));
        CHECK(k.sk_ai.empty());
        CHECK(k.sk_ar.empty());
        CHECK(to_hex(k.sk_ei) == part(d, 20));
        CHECK(to_hex(k.sk_er) == part(d + 20, 20));
        CHECK(to_hex(k.sk_pi) == part(d + 40, d));
        CHECK(to_hex(k.sk_pr) == part(2 * d + 40, d));

        // KEYMAT = prf+(SK_d, Ni | Nr): initiator-to-responder first (RFC 7296 2.17).
        const Bytes keymat = openssl_prf_plus(bytes_of(k.sk_d), ni_nr, 40, f);
        const auto initiator = export_child_sa_keys<P>(f, k.sk_d, ni, nr, esp::Algorithm::aes_128_gcm_16, true, 0x1000, 0x2000, false);
        const auto responder = export_child_sa_keys<P>(f, k.sk_d, ni, nr, esp::Algorithm::aes_128_gcm_16, false, 0x2000, 0x1000, false);
        CHECK(to_hex(initiator.outbound_key) == to_hex(ByteView(keymat).first(20)));
        CHECK(to_hex(initiator.inbound_key) == to_hex(ByteView(keymat).subspan(20, 20)));
        CHECK(initiator.outbound_key == responder.inbound_key);
        CHECK(initiator.inbound_key == responder.outbound_key);
    }
}

TEST_CASE_TEMPLATE("ikev2: the PSK AUTH value is RFC 7296 2.15's formula", P, TAPSEC_TEST_PROVIDERS) {
    const Bytes psk = filled(24, 5), message = filled(300, 11), nonce = filled(32, 13), sk_p = filled(32, 17);
    const IdPayload id{IdType::rfc822_addr, Bytes{'a', '@', 't', 'e', 's', 't'}};
    for (Prf f : {Prf::hmac_sha2_256, Prf::hmac_sha2_384, Prf::hmac_sha2_512}) {
        CAPTURE(name(f));
        const auto ours = psk_auth<P>(f, psk, message, nonce, sk_p, id.body());
        const Bytes pad = openssl_hmac(psk, as_bytes("Key Pad for IKEv2"), f);
        Bytes octets = message;
        append(octets, nonce);
        append(octets, openssl_hmac(sk_p, Bytes{3, 0, 0, 0, 'a', '@', 't', 'e', 's', 't'}, f));
        CHECK(to_hex(ours) == to_hex(openssl_hmac(pad, octets, f)));
    }
}

TEST_CASE_TEMPLATE("esp: a sealed packet is RFC 4303 / RFC 4106 / RFC 7634 byte for byte (OpenSSL AES-GCM, ChaCha20-Poly1305)", P, TAPSEC_TEST_PROVIDERS) {
    for (bool esn : {false, true})
        for (auto alg : {esp::Algorithm::aes_128_gcm_16, esp::Algorithm::aes_256_gcm_16, esp::Algorithm::chacha20_poly1305}) {
            CAPTURE(esn);
            const std::size_t klen = esp::key_length(alg);
            esp::ChildSaKeys keys;
            keys.algorithm = alg;
            keys.inbound_spi = 0xc0ffee01;
            keys.outbound_spi = 0xdecaf002;
            keys.outbound_key = SecretBytes(klen + 4, 0x42);
            keys.inbound_key = SecretBytes(klen + 4, 0x24);
            keys.extended_sequence_numbers = esn;
            auto sa = esp::SecurityAssociation<P>::import(keys);
            REQUIRE(sa);
            const std::uint64_t seq = esn ? 0x0000000500000007ull : 7;
            sa->set_next_sequence(seq);
            const Bytes inner = filled(33, 21);  // 33 + 2 trailer -> 1 octet of padding
            Bytes packet(esp::sealed_size(inner.size()));
            auto n = sa->protect(inner, esp::next_header_ipv4, packet);
            REQUIRE(n);
            REQUIRE(*n == 8 + 8 + 36 + 16);

            Bytes expected_plain = inner;
            append(expected_plain, Bytes{1, 1, 4});  // padding 1, pad length 1, next header 4
            Bytes aad{0xde, 0xca, 0xf0, 0x02};
            if (esn) append(aad, Bytes{0, 0, 0, 5});
            append(aad, Bytes{0, 0, 0, 7});
            const Bytes iv{static_cast<std::uint8_t>(seq >> 56), static_cast<std::uint8_t>(seq >> 48),
                           static_cast<std::uint8_t>(seq >> 40), static_cast<std::uint8_t>(seq >> 32), 0, 0, 0, 7};
            Bytes nonce(4, 0x42);
            append(nonce, iv);
            Bytes expected{0xde, 0xca, 0xf0, 0x02, 0, 0, 0, 7};
            append(expected, iv);
            append(expected, openssl_aead_seal(alg, Bytes(klen, 0x42), nonce, aad, expected_plain));
            CHECK(to_hex(packet) == to_hex(expected));
        }
}

}  // namespace ikev2_key_schedule_vectors
