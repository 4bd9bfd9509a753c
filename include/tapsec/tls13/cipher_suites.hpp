// The TLS 1.3 cipher suites this implementation supports (RFC 8446 B.4): code point,
// AEAD, HKDF hash, traffic key and IV lengths, and the key-usage limit of 5.5.
//
//   const CipherSuite* s = tls13::find_cipher_suite(0x1301);        // from the wire
//   const CipherSuite* s = tls13::find_cipher_suite("TLS_AES_128_GCM_SHA256");  // from config
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

#include "../crypto/provider.hpp"

namespace tapsec::tls13 {

enum class CipherSuiteId : std::uint16_t {
    aes_128_gcm_sha256 = 0x1301,
    aes_256_gcm_sha384 = 0x1302,
    chacha20_poly1305_sha256 = 0x1303,
};

struct CipherSuite {
    CipherSuiteId id;
    std::string_view name;  // IANA name, also what CommonConfig::cipher_suites holds
    crypto::AeadAlgorithm aead;
    crypto::HashAlgorithm hash;
    std::size_t key_length;   // traffic key ("key" label)
    std::size_t iv_length;    // per-record nonce base ("iv" label), 12 for every TLS 1.3 AEAD
    std::size_t hash_length;  // HKDF hash output, size of every secret of the key schedule
    std::size_t tag_length;
    /// Records one key may protect before it must be updated (RFC 8446 5.5: AES-GCM
    /// 2^24.5 full-size records; ChaCha20-Poly1305 is bounded by the sequence number,
    /// kept 2^16 below its wrap so there is always room for the KeyUpdate).
    std::uint64_t confidentiality_limit;

    constexpr std::uint16_t code() const noexcept { return static_cast<std::uint16_t>(id); }
    constexpr bool operator==(const CipherSuite& o) const noexcept { return id == o.id; }
};

inline constexpr std::uint64_t aes_gcm_record_limit = 23'726'566;  // floor(2^24.5)
inline constexpr std::uint64_t sequence_soft_limit = ~std::uint64_t{0} - 0xffff;

inline constexpr CipherSuite TLS_AES_128_GCM_SHA256{
    CipherSuiteId::aes_128_gcm_sha256, "TLS_AES_128_GCM_SHA256", crypto::AeadAlgorithm::aes_128_gcm,
    crypto::HashAlgorithm::sha256, 16, 12, 32, 16, aes_gcm_record_limit};
inline constexpr CipherSuite TLS_AES_256_GCM_SHA384{
    CipherSuiteId::aes_256_gcm_sha384, "TLS_AES_256_GCM_SHA384", crypto::AeadAlgorithm::aes_256_gcm,
    crypto::HashAlgorithm::sha384, 32, 12, 48, 16, aes_gcm_record_limit};
inline constexpr CipherSuite TLS_CHACHA20_POLY1305_SHA256{
    CipherSuiteId::chacha20_poly1305_sha256, "TLS_CHACHA20_POLY1305_SHA256", crypto::AeadAlgorithm::chacha20_poly1305,
    crypto::HashAlgorithm::sha256, 32, 12, 32, 16, sequence_soft_limit};

/// Every supported suite, in the default preference order.
inline constexpr std::array<const CipherSuite*, 3> all_cipher_suites{
    &TLS_AES_128_GCM_SHA256, &TLS_AES_256_GCM_SHA384, &TLS_CHACHA20_POLY1305_SHA256};

/// The suite with this wire code point, or nullptr (unknown suites are skipped, not errors).
constexpr const CipherSuite* find_cipher_suite(std::uint16_t code) noexcept {
    for (const CipherSuite* s : all_cipher_suites)
        if (s->code() == code) return s;
    return nullptr;
}

/// The suite with this IANA name (as in CommonConfig::cipher_suites), or nullptr.
constexpr const CipherSuite* find_cipher_suite(std::string_view name) noexcept {
    for (const CipherSuite* s : all_cipher_suites)
        if (s->name == name) return s;
    return nullptr;
}

constexpr const CipherSuite& cipher_suite(CipherSuiteId id) noexcept {
    switch (id) {
        case CipherSuiteId::aes_128_gcm_sha256: return TLS_AES_128_GCM_SHA256;
        case CipherSuiteId::aes_256_gcm_sha384: return TLS_AES_256_GCM_SHA384;
        case CipherSuiteId::chacha20_poly1305_sha256: return TLS_CHACHA20_POLY1305_SHA256;
    }
    return TLS_AES_128_GCM_SHA256;
}

static_assert(find_cipher_suite(0x1302) == &TLS_AES_256_GCM_SHA384);
static_assert(find_cipher_suite("TLS_CHACHA20_POLY1305_SHA256") == &TLS_CHACHA20_POLY1305_SHA256);

}  // namespace tapsec::tls13
