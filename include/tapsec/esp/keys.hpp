// The key interface of EspRecord (survey 6.1, explicit import): one Child SA pair, as
// any key-management protocol hands it over. IKEv2 fills it from KEYMAT (RFC 7296
// 2.17); a test or another handshake may fill it just as well.
#pragma once

#include <cstdint>

#include "../core/bytes.hpp"
#include "../crypto/provider.hpp"

namespace tapsec::esp {

/// ESP encryption transforms this record implements: the AEADs AES-GCM with a 16-octet
/// ICV (RFC 4106) and ChaCha20-Poly1305 (RFC 7634), whose key is the cipher key followed
/// by the 4-octet salt, as KEYMAT delivers it (nonce: salt | 8-octet IV); and AES-CBC
/// (RFC 3602, 128 or 256-bit key, 16-octet random IV), which needs an Integrity.
enum class Algorithm { aes_128_gcm_16, aes_256_gcm_16, chacha20_poly1305, aes_128_cbc, aes_256_cbc };

/// Integrity transforms for a non-AEAD Algorithm (RFC 4868): HMAC-SHA-2 keyed with a key
/// as long as the hash output, truncated to half of it. `none` with an AEAD.
enum class Integrity { none, hmac_sha2_256_128, hmac_sha2_384_192, hmac_sha2_512_256 };

constexpr bool is_aead(Algorithm a) noexcept { return a != Algorithm::aes_128_cbc && a != Algorithm::aes_256_cbc; }
constexpr std::size_t key_length(Algorithm a) noexcept {
    return a == Algorithm::aes_128_gcm_16 || a == Algorithm::aes_128_cbc ? 16 : 32;
}
constexpr const char* name(Algorithm a) noexcept {
    switch (a) {
        case Algorithm::aes_128_gcm_16: return "AES_GCM_16_128";
        case Algorithm::aes_256_gcm_16: return "AES_GCM_16_256";
        case Algorithm::chacha20_poly1305: return "CHACHA20_POLY1305";
        case Algorithm::aes_128_cbc: return "AES_CBC_128";
        case Algorithm::aes_256_cbc: return "AES_CBC_256";
    }
    return "?";
}
/// The provider's AEAD for an AEAD algorithm (is_aead).
constexpr crypto::AeadAlgorithm aead_of(Algorithm a) noexcept {
    switch (a) {
        case Algorithm::aes_128_gcm_16: return crypto::AeadAlgorithm::aes_128_gcm;
        case Algorithm::aes_256_gcm_16: return crypto::AeadAlgorithm::aes_256_gcm;
        case Algorithm::chacha20_poly1305: return crypto::AeadAlgorithm::chacha20_poly1305;
        case Algorithm::aes_128_cbc:
        case Algorithm::aes_256_cbc: break;
    }
    return crypto::AeadAlgorithm::aes_128_gcm;
}
constexpr std::size_t salt_length = 4;
/// KEYMAT octets of the encryption key (with an AEAD's salt).
constexpr std::size_t keymat_length(Algorithm a) noexcept { return key_length(a) + (is_aead(a) ? salt_length : 0); }

constexpr crypto::HashAlgorithm integrity_hash(Integrity i) noexcept {
    return i == Integrity::hmac_sha2_384_192   ? crypto::HashAlgorithm::sha384
           : i == Integrity::hmac_sha2_512_256 ? crypto::HashAlgorithm::sha512
                                               : crypto::HashAlgorithm::sha256;
}
/// The HMAC key's length (RFC 4868 2.1.1: the hash's output length); 0 for none.
constexpr std::size_t integrity_key_length(Integrity i) noexcept {
    return i == Integrity::none ? 0 : crypto::digest_size(integrity_hash(i));
}
/// The ICV's length: the HMAC truncated to half (RFC 4868 2.3); 0 for none.
constexpr std::size_t integrity_icv_length(Integrity i) noexcept { return integrity_key_length(i) / 2; }
constexpr const char* name(Integrity i) noexcept {
    switch (i) {
        case Integrity::none: return "NONE";
        case Integrity::hmac_sha2_256_128: return "HMAC_SHA2_256_128";
        case Integrity::hmac_sha2_384_192: return "HMAC_SHA2_384_192";
        case Integrity::hmac_sha2_512_256: return "HMAC_SHA2_512_256";
    }
    return "?";
}
/// One direction's KEYMAT: the encryption key (| salt), then the integrity key
/// (RFC 7296 2.17: "encryption keys are taken first and integrity keys second").
constexpr std::size_t keymat_length(Algorithm a, Integrity i) noexcept { return keymat_length(a) + integrity_key_length(i); }
/// An algorithm and integrity that make a usable pair: an AEAD alone, AES-CBC with an HMAC.
constexpr bool valid_pair(Algorithm a, Integrity i) noexcept { return is_aead(a) == (i == Integrity::none); }

struct ChildSaKeys {
    Algorithm algorithm = Algorithm::aes_128_gcm_16;
    Integrity integrity = Integrity::none;  // an HMAC with AES-CBC, none with an AEAD
    std::uint32_t inbound_spi = 0;   // chosen by us: the peer writes it on packets to us
    std::uint32_t outbound_spi = 0;  // chosen by the peer: we write it on packets we send
    SecretBytes inbound_key;         // key || salt (AEAD) or key || integrity key, packets we receive
    SecretBytes outbound_key;        // the same for packets we send
    bool extended_sequence_numbers = false;  // ESN negotiated (RFC 4303 2.2.1)
};

}  // namespace tapsec::esp
