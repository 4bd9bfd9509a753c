// NaCl's crypto_box (curve25519xsalsa20poly1305) and crypto_secretbox
// (xsalsa20poly1305), shared by CurveCP and MinimalT.
//
//   crypto_box_beforenm(pk, sk) = HSalsa20(X25519(sk, pk), 0^16)
//   crypto_secretbox(k, n, m)   = Poly1305(r,s = XSalsa20(k, n)[0..32); c) || c,
//                                 c = m XOR XSalsa20(k, n)[32..)
//   crypto_box_afternm          = crypto_secretbox with the beforenm key.
//
// Built from Botan 2 primitives: X25519 (curve25519_donna), XSalsa20 (Botan's Salsa20
// given a 24-byte nonce) and Poly1305. HSalsa20 is not part of Botan's public API (its
// header is marked as becoming internal and warns when included), so it is written here
// from "Extending the Salsa20 nonce" (Bernstein, 2008): the twenty Salsa20 rounds over
// (sigma, key, 16-byte input) without the final feed-forward, output words
// 0, 5, 10, 15, 6, 7, 8, 9.
//
// Wire form: every function here takes and produces NaCl's *compact* layout — the
// 16-byte authenticator followed by the ciphertext (what NaCl's padded API writes after
// its 16 zero bytes, and what CurveCP and MinimalT put on the wire). Tags are compared in
// constant time and nothing is decrypted before the tag verifies.
//
// Botan only: OpenSSL 3 has no XSalsa20, so a policy built on this declares
// `runs_on<crypto::Botan2>`.
#pragma once

#include <botan/curve25519.h>
#include <botan/mac.h>
#include <botan/stream_cipher.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <stdexcept>

#include "../core/bytes.hpp"
#include "../core/errors.hpp"

namespace tapsec::crypto::nacl {

inline constexpr std::size_t public_key_bytes = 32;
inline constexpr std::size_t secret_key_bytes = 32;
inline constexpr std::size_t key_bytes = 32;    // crypto_box_BEFORENMBYTES = crypto_secretbox_KEYBYTES
inline constexpr std::size_t nonce_bytes = 24;  // crypto_box_NONCEBYTES
inline constexpr std::size_t mac_bytes = 16;    // crypto_box_MACBYTES (ZEROBYTES - BOXZEROBYTES)

using PublicKey = std::array<std::uint8_t, public_key_bytes>;
using Key = SecretArray<key_bytes>;
using Nonce = std::array<std::uint8_t, nonce_bytes>;

namespace detail {
inline std::uint32_t load_le32(const std::uint8_t* p) noexcept {
    return std::uint32_t{p[0]} | std::uint32_t{p[1]} << 8 | std::uint32_t{p[2]} << 16 | std::uint32_t{p[3]} << 24;
}
inline void store_le32(std::uint8_t* p, std::uint32_t v) noexcept {
    for (int i = 0; i < 4; ++i) p[i] = static_cast<std::uint8_t>(v >> (8 * i));
}
constexpr std::uint32_t rotl(std::uint32_t x, int n) noexcept { return (x << n) | (x >> (32 - n)); }
}  // namespace detail

/// HSalsa20 (the 32-byte key derivation behind XSalsa20 and crypto_box_beforenm):
/// 32-byte key, 16-byte input, 32-byte output.
inline void hsalsa20(std::uint8_t out[32], const std::uint8_t key[32], const std::uint8_t in[16]) noexcept {
    using detail::load_le32;
    using detail::rotl;
    // "expand 32-byte k" at words 0, 5, 10, 15; the key at 1..4 and 11..14; the input at 6..9.
    std::uint32_t x[16];
    x[0] = 0x61707865;
    x[5] = 0x3320646e;
    x[10] = 0x79622d32;
    x[15] = 0x6b206574;
    for (int i = 0; i < 4; ++i) {
        x[1 + i] = load_le32(key + 4 * i);
        x[11 + i] = load_le32(key + 16 + 4 * i);
        x[6 + i] = load_le32(in + 4 * i);
    }
    // quarterround(a, b, c, d): b ^= (a+d)<<<7; c ^= (b+a)<<<9; d ^= (c+b)<<<13; a ^= (d+c)<<<18.
    auto quarter = [&x](int a, int b, int c, int d) {
        x[b] ^= rotl(x[a] + x[d], 7);
        x[c] ^= rotl(x[b] + x[a], 9);
        x[d] ^= rotl(x[c] + x[b], 13);
        x[a] ^= rotl(x[d] + x[c], 18);
    };
    for (int round = 0; round < 20; round += 2) {
        // columnround
        quarter(0, 4, 8, 12);
        quarter(5, 9, 13, 1);
        quarter(10, 14, 2, 6);
        quarter(15, 3, 7, 11);
        // rowround
        quarter(0, 1, 2, 3);
        quarter(5, 6, 7, 4);
        quarter(10, 11, 8, 9);
        quarter(15, 12, 13, 14);
    }
    static constexpr int words[8] = {0, 5, 10, 15, 6, 7, 8, 9};
    for (int i = 0; i < 8; ++i) detail::store_le32(out + 4 * i, x[words[i]]);
    secure_zero(x, sizeof x);
}

/// X25519 (crypto_scalarmult_curve25519): the scalar is clamped by the function.
inline Key scalarmult(ByteView secret_key, ByteView public_key) {
    Key out;
    if (secret_key.size() != secret_key_bytes || public_key.size() != public_key_bytes) return out;
    Botan::curve25519_donna(out.data(), secret_key.data(), public_key.data());
    return out;
}

/// The public key of a secret key (crypto_scalarmult_curve25519_base).
inline PublicKey public_key_of(ByteView secret_key) {
    PublicKey out{};
    if (secret_key.size() != secret_key_bytes) return out;
    Botan::curve25519_basepoint(out.data(), secret_key.data());
    return out;
}

/// crypto_box_beforenm: the XSalsa20-Poly1305 key two parties share. A peer public key
/// of small order (shared secret all zero, as libsodium checks) is refused: its box key
/// would be a constant anyone can compute.
inline Result<Key> box_beforenm(ByteView peer_public_key, ByteView own_secret_key) {
    if (peer_public_key.size() != public_key_bytes || own_secret_key.size() != secret_key_bytes)
        return Errc::invalid_configuration;
    Key shared = scalarmult(own_secret_key, peer_public_key);
    if (constant_time_equal(shared, std::array<std::uint8_t, 32>{})) return Errc::handshake_failure;
    static constexpr std::uint8_t zero_input[16] = {};
    Key key;
    hsalsa20(key.data(), shared.data(), zero_input);
    return key;
}

/// crypto_secretbox keyed once (crypto_box_afternm with a beforenm key): the cipher and
/// MAC objects are reused for every packet of a session.
class SecretBox {
public:
    explicit SecretBox(ByteView key)
        : cipher_(Botan::StreamCipher::create_or_throw("Salsa20")),
          mac_(Botan::MessageAuthenticationCode::create_or_throw("Poly1305")) {
        if (key.size() != key_bytes) throw std::invalid_argument("crypto_secretbox: key must be 32 bytes");
        cipher_->set_key(key.data(), key.size());
    }

    /// Seals `plaintext` under `nonce` into `out`, which must hold plaintext.size() + 16
    /// bytes: authenticator, then ciphertext. `out + 16` may be `plaintext.data()` (in place).
    void seal(ByteView nonce, ByteView plaintext, std::uint8_t* out) {
        start(nonce);
        cipher_->cipher(plaintext.data(), out + mac_bytes, plaintext.size());
        mac_->update(out + mac_bytes, plaintext.size());
        mac_->final(out);
    }

    /// Opens `boxed` (authenticator || ciphertext) into `out` (boxed.size() - 16 bytes;
    /// may be `boxed.data() + 16`). False, with `out` untouched, if the box is shorter than
    /// an authenticator or the authenticator does not verify.
    [[nodiscard]] bool open(ByteView nonce, ByteView boxed, std::uint8_t* out) {
        if (boxed.size() < mac_bytes) return false;
        start(nonce);
        const ByteView ciphertext = boxed.subspan(mac_bytes);
        std::uint8_t tag[mac_bytes];
        mac_->update(ciphertext.data(), ciphertext.size());
        mac_->final(tag);
        if (!constant_time_equal(ByteView(tag, mac_bytes), boxed.first(mac_bytes))) return false;
        cipher_->cipher(ciphertext.data(), out, ciphertext.size());
        return true;
    }

    /// Convenience forms returning a fresh buffer.
    Bytes seal(ByteView nonce, ByteView plaintext) {
        Bytes out(plaintext.size() + mac_bytes);
        seal(nonce, plaintext, out.data());
        return out;
    }
    Result<Bytes> open(ByteView nonce, ByteView boxed) {
        if (boxed.size() < mac_bytes) return Errc::decode_error;
        Bytes out(boxed.size() - mac_bytes);
        if (!open(nonce, boxed, out.data())) return Errc::bad_record_mac;
        return out;
    }

private:
    // XSalsa20 at (key, nonce): the first 32 keystream bytes key Poly1305 (r, s); the
    // message is encrypted from keystream byte 32 on.
    void start(ByteView nonce) {
        if (nonce.size() != nonce_bytes) throw std::invalid_argument("crypto_secretbox: nonce must be 24 bytes");
        cipher_->set_iv(nonce.data(), nonce.size());
        SecretArray<32> one_time_key;
        cipher_->cipher1(one_time_key.data(), one_time_key.size());
        mac_->set_key(one_time_key.data(), one_time_key.size());
    }

    std::unique_ptr<Botan::StreamCipher> cipher_;
    std::unique_ptr<Botan::MessageAuthenticationCode> mac_;
};

/// One-shot crypto_secretbox / crypto_secretbox_open (compact layout).
inline Bytes secretbox(ByteView key, ByteView nonce, ByteView plaintext) {
    return SecretBox(key).seal(nonce, plaintext);
}
inline Result<Bytes> secretbox_open(ByteView key, ByteView nonce, ByteView boxed) {
    return SecretBox(key).open(nonce, boxed);
}

/// One-shot crypto_box / crypto_box_open (compact layout).
inline Result<Bytes> box(ByteView plaintext, ByteView nonce, ByteView peer_public_key, ByteView own_secret_key) {
    auto key = box_beforenm(peer_public_key, own_secret_key);
    if (!key) return key.error();
    return SecretBox(*key).seal(nonce, plaintext);
}
inline Result<Bytes> box_open(ByteView boxed, ByteView nonce, ByteView peer_public_key, ByteView own_secret_key) {
    auto key = box_beforenm(peer_public_key, own_secret_key);
    if (!key) return key.error();
    return SecretBox(*key).open(nonce, boxed);
}

}  // namespace tapsec::crypto::nacl
