// The key interface of EspRecord (survey 6.1, explicit import): one Child SA pair, as
// any key-management protocol hands it over. IKEv2 fills it from KEYMAT (RFC 7296
// 2.17); a test or another handshake may fill it just as well.
#pragma once

#include <cstdint>

#include "../core/bytes.hpp"
#include "../crypto/provider.hpp"

namespace tapsec::esp {

/// ESP transforms this record implements: AES-GCM with a 16-octet ICV (RFC 4106) and
/// ChaCha20-Poly1305 (RFC 7634). Each key is the cipher key followed by the 4-octet
/// salt, as KEYMAT delivers it; the nonce is salt | 8-octet IV for all three.
enum class Algorithm { aes_128_gcm_16, aes_256_gcm_16, chacha20_poly1305 };

constexpr std::size_t key_length(Algorithm a) noexcept { return a == Algorithm::aes_128_gcm_16 ? 16 : 32; }
constexpr const char* name(Algorithm a) noexcept {
    switch (a) {
        case Algorithm::aes_128_gcm_16: return "AES_GCM_16_128";
        case Algorithm::aes_256_gcm_16: return "AES_GCM_16_256";
        case Algorithm::chacha20_poly1305: return "CHACHA20_POLY1305";
    }
    return "?";
}
/// The provider's AEAD for an algorithm.
constexpr crypto::AeadAlgorithm aead_of(Algorithm a) noexcept {
    switch (a) {
        case Algorithm::aes_128_gcm_16: return crypto::AeadAlgorithm::aes_128_gcm;
        case Algorithm::aes_256_gcm_16: return crypto::AeadAlgorithm::aes_256_gcm;
        case Algorithm::chacha20_poly1305: return crypto::AeadAlgorithm::chacha20_poly1305;
    }
    return crypto::AeadAlgorithm::aes_128_gcm;
}
constexpr std::size_t salt_length = 4;
constexpr std::size_t keymat_length(Algorithm a) noexcept { return key_length(a) + salt_length; }

struct ChildSaKeys {
    Algorithm algorithm = Algorithm::aes_128_gcm_16;
    std::uint32_t inbound_spi = 0;   // chosen by us: the peer writes it on packets to us
    std::uint32_t outbound_spi = 0;  // chosen by the peer: we write it on packets we send
    SecretBytes inbound_key;         // key || salt for packets we receive
    SecretBytes outbound_key;        // key || salt for packets we send
    bool extended_sequence_numbers = false;  // ESN negotiated (RFC 4303 2.2.1)
};

}  // namespace tapsec::esp
