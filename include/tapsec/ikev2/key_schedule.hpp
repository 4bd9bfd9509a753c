// The IKEv2 key schedule (RFC 7296 2.13, 2.14, 2.15, 2.17) over the IKE SA's negotiated
// PRF, PRF_HMAC_SHA2_256/384/512 (RFC 4868): prf+, SKEYSEED, the seven SA keys, the PSK
// AUTH value, and the Child SA KEYMAT that is exported to the record (esp::ChildSaKeys).
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string_view>

#include "../core/bytes.hpp"
#include "../crypto/provider.hpp"
#include "../esp/keys.hpp"
#include "wire.hpp"

namespace tapsec::ikev2 {

/// The IKE SA's keys, in prf+ order.
struct IkeSaKeys {
    SecretBytes sk_d, sk_ai, sk_ar, sk_ei, sk_er, sk_pi, sk_pr;
};

/// The IKE SA's pseudo-random function: Transform Type 2 IDs (RFC 4868 2.1, IANA).
enum class Prf : std::uint16_t { hmac_sha2_256 = 5, hmac_sha2_384 = 6, hmac_sha2_512 = 7 };

constexpr crypto::HashAlgorithm prf_hash(Prf p) noexcept {
    switch (p) {
        case Prf::hmac_sha2_256: return crypto::HashAlgorithm::sha256;
        case Prf::hmac_sha2_384: return crypto::HashAlgorithm::sha384;
        case Prf::hmac_sha2_512: return crypto::HashAlgorithm::sha512;
    }
    return crypto::HashAlgorithm::sha256;
}
/// The output size, which is also SK_d's, SK_pi's and SK_pr's (RFC 7296 2.13: the PRF's
/// preferred key size, its output size for HMAC-SHA-2 per RFC 4868 2.2).
constexpr std::size_t prf_size(Prf p) noexcept { return crypto::digest_size(prf_hash(p)); }
constexpr const char* name(Prf p) noexcept {
    switch (p) {
        case Prf::hmac_sha2_256: return "PRF_HMAC_SHA2_256";
        case Prf::hmac_sha2_384: return "PRF_HMAC_SHA2_384";
        case Prf::hmac_sha2_512: return "PRF_HMAC_SHA2_512";
    }
    return "?";
}
/// The PRF a Transform Type 2 ID names, if we implement it.
constexpr std::optional<Prf> prf_named(std::uint16_t transform_id) noexcept {
    for (Prf p : {Prf::hmac_sha2_256, Prf::hmac_sha2_384, Prf::hmac_sha2_512})
        if (static_cast<std::uint16_t>(p) == transform_id) return p;
    return std::nullopt;
}

template <class Crypto>
SecretBytes prf(Prf f, ByteView key, ByteView data) {
    return Crypto::hmac(prf_hash(f), key, data);
}

/// prf+ (K, S) = T1 | T2 | ... with T1 = prf(K, S | 0x01), Tn = prf(K, Tn-1 | S | n).
/// At most 255 blocks (RFC 7296 2.13).
template <class Crypto>
SecretBytes prf_plus(Prf f, ByteView key, ByteView seed, std::size_t length) {
    if (length > 255 * prf_size(f)) throw std::length_error("IKEv2 prf+: more than 255 blocks");
    auto mac = Crypto::Hmac::create(prf_hash(f), key);
    SecretBytes out, block(prf_size(f));
    out.reserve(length);
    for (std::uint8_t n = 1; out.size() < length; ++n) {
        if (n > 1) mac->update(block);
        mac->update(seed);
        mac->update(ByteView(&n, 1));
        mac->final(block);
        const std::size_t take = std::min(block.size(), length - out.size());
        out.insert(out.end(), block.begin(), block.begin() + static_cast<std::ptrdiff_t>(take));
    }
    return out;
}

inline Bytes concat(ByteView a, ByteView b) {
    Bytes out(a.begin(), a.end());
    append(out, b);
    return out;
}

inline void put64(Bytes& out, std::uint64_t v) {
    for (int i = 7; i >= 0; --i) out.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}

/// SKEYSEED = prf(Ni | Nr, g^ir).
template <class Crypto>
SecretBytes skeyseed(Prf f, ByteView ni, ByteView nr, ByteView shared_secret) {
    return prf<Crypto>(f, concat(ni, nr), shared_secret);
}

/// A resumed IKE SA's SKEYSEED (RFC 5723 5.1): prf(SK_d (old), "Resumption" | Ni | Nr);
/// its seven keys then come from derive_ike_sa_keys with the new nonces and SPIs.
template <class Crypto>
SecretBytes resumption_skeyseed(Prf f, ByteView old_sk_d, ByteView ni, ByteView nr) {
    static constexpr std::string_view label = "Resumption";
    Bytes data(label.begin(), label.end());
    append(data, ni);
    append(data, nr);
    return prf<Crypto>(f, old_sk_d, data);
}

/// {SK_d | SK_ai | SK_ar | SK_ei | SK_er | SK_pi | SK_pr} = prf+(SKEYSEED, Ni | Nr | SPIi | SPIr).
/// `integrity_key_size` is 0 for an AEAD; `encryption_key_size` includes a GCM salt.
template <class Crypto>
IkeSaKeys derive_ike_sa_keys(Prf f, ByteView seed_key, ByteView ni, ByteView nr, std::uint64_t spi_i, std::uint64_t spi_r,
                             std::size_t encryption_key_size, std::size_t integrity_key_size = 0) {
    Bytes s = concat(ni, nr);
    put64(s, spi_i);
    put64(s, spi_r);
    const std::size_t total = 3 * prf_size(f) + 2 * integrity_key_size + 2 * encryption_key_size;
    const SecretBytes stream = prf_plus<Crypto>(f, seed_key, s, total);
    std::size_t at = 0;
    auto take = [&](std::size_t n) {
        SecretBytes k(stream.begin() + static_cast<std::ptrdiff_t>(at), stream.begin() + static_cast<std::ptrdiff_t>(at + n));
        at += n;
        return k;
    };
    IkeSaKeys k;
    k.sk_d = take(prf_size(f));
    k.sk_ai = take(integrity_key_size);
    k.sk_ar = take(integrity_key_size);
    k.sk_ei = take(encryption_key_size);
    k.sk_er = take(encryption_key_size);
    k.sk_pi = take(prf_size(f));
    k.sk_pr = take(prf_size(f));
    return k;
}

/// The octets a side authenticates (RFC 7296 2.15):
///   <message> | <peer's nonce> | prf(SK_p, ID body)
/// where <message> is the signer's whole IKE_SA_INIT message as sent. A signature
/// (AUTH method 14) covers them as they are; the PSK MIC is a prf over them.
template <class Crypto>
Bytes signed_octets(Prf f, ByteView init_message, ByteView peer_nonce, ByteView sk_p, ByteView id_body) {
    const SecretBytes maced_id = prf<Crypto>(f, sk_p, id_body);
    Bytes octets(init_message.begin(), init_message.end());
    append(octets, peer_nonce);
    append(octets, maced_id);
    return octets;
}

/// The PSK AUTH value (RFC 7296 2.15):
///   prf(prf(Shared Secret, "Key Pad for IKEv2"), <signed octets>)
template <class Crypto>
SecretBytes psk_auth(Prf f, ByteView psk, ByteView init_message, ByteView peer_nonce, ByteView sk_p, ByteView id_body) {
    static constexpr std::string_view key_pad = "Key Pad for IKEv2";
    const SecretBytes padded = prf<Crypto>(f, psk, as_bytes(key_pad));
    return prf<Crypto>(f, padded, signed_octets<Crypto>(f, init_message, peer_nonce, sk_p, id_body));
}

/// KEYMAT = prf+(SK_d, [g^ir (new) |] Ni | Nr) (RFC 7296 2.17; the new shared secret
/// only for a CREATE_CHILD_SA with PFS), split: the key for traffic from the
/// exchange's initiator first, then the other direction. This is the explicit export:
/// the result is EspRecord's imported key type.
template <class Crypto>
esp::ChildSaKeys export_child_sa_keys(Prf f, ByteView sk_d, ByteView ni, ByteView nr, esp::Algorithm algorithm, bool initiator,
                                      std::uint32_t inbound_spi, std::uint32_t outbound_spi, bool esn,
                                      ByteView new_shared_secret = {},
                                      esp::Integrity integrity = esp::Integrity::none) {
    const std::size_t n = esp::keymat_length(algorithm, integrity);  // encryption key (| salt) | integrity key
    Bytes seed(new_shared_secret.begin(), new_shared_secret.end());
    append(seed, ni);
    append(seed, nr);
    const SecretBytes keymat = prf_plus<Crypto>(f, sk_d, seed, 2 * n);
    secure_zero(seed.data(), seed.size());
    SecretBytes i_to_r(keymat.begin(), keymat.begin() + static_cast<std::ptrdiff_t>(n));
    SecretBytes r_to_i(keymat.begin() + static_cast<std::ptrdiff_t>(n), keymat.end());
    esp::ChildSaKeys keys;
    keys.algorithm = algorithm;
    keys.integrity = integrity;
    keys.inbound_spi = inbound_spi;
    keys.outbound_spi = outbound_spi;
    keys.outbound_key = initiator ? i_to_r : r_to_i;
    keys.inbound_key = initiator ? r_to_i : i_to_r;
    keys.extended_sequence_numbers = esn;
    return keys;
}

}  // namespace tapsec::ikev2
