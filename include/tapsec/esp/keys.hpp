// The key interface of EspRecord (survey 6.1, explicit import): one Child SA pair, as
// any key-management protocol hands it over. IKEv2 fills it from KEYMAT (RFC 7296
// 2.17); a test or another handshake may fill it just as well.
#pragma once

#include <cstdint>

#include "../core/bytes.hpp"

namespace tapsec::esp {

/// ESP transforms this record implements. AES-GCM with a 16-octet ICV (RFC 4106);
/// each key is the AES key followed by the 4-octet salt, as KEYMAT delivers it.
enum class Algorithm { aes_128_gcm_16, aes_256_gcm_16 };

constexpr std::size_t key_length(Algorithm a) noexcept { return a == Algorithm::aes_128_gcm_16 ? 16 : 32; }
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
