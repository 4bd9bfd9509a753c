// AES in counter mode as SRTP defines it (RFC 3711 4.1.1): keystream block j is
// AES_k(IV + j), the block counter living in the IV's low 16 bits. Used for packet
// encryption and for the key derivation function (4.3.3).
//
// Counter blocks are built on the stack and encrypted in batches through the
// provider's BlockCipher, so AES-NI pipelines several blocks and nothing is allocated.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "../core/bytes.hpp"

namespace tapsec::srtp {

/// XORs the AES-CM keystream for `iv` (16 bytes; low 16 bits the block counter)
/// into `data`. `data` may be at most 2^16 blocks (1 MiB), far above any datagram.
/// `wipe` clears the stack copy of the keystream afterwards (the KDF's keystream is a key).
template <class BlockCipher>
inline void aes_cm_apply(const BlockCipher& cipher, const std::uint8_t* iv, MutableByteView data, bool wipe = false) {
    constexpr std::size_t batch_blocks = 32;
    alignas(16) std::uint8_t keystream[batch_blocks * 16];
    std::uint32_t counter = static_cast<std::uint32_t>(iv[14]) << 8 | iv[15];
    std::uint8_t* out = data.data();
    std::size_t remaining = data.size();
    while (remaining > 0) {
        const std::size_t blocks = std::min(batch_blocks, (remaining + 15) / 16);
        for (std::size_t b = 0; b < blocks; ++b, ++counter) {
            std::memcpy(keystream + 16 * b, iv, 14);
            keystream[16 * b + 14] = static_cast<std::uint8_t>(counter >> 8);
            keystream[16 * b + 15] = static_cast<std::uint8_t>(counter);
        }
        cipher.encrypt_blocks(keystream, keystream, blocks);
        const std::size_t n = std::min(remaining, blocks * 16);
        std::size_t i = 0;
        for (; i + 8 <= n; i += 8) {
            std::uint64_t a, k;
            std::memcpy(&a, out + i, 8);
            std::memcpy(&k, keystream + i, 8);
            a ^= k;
            std::memcpy(out + i, &a, 8);
        }
        for (; i < n; ++i) out[i] ^= keystream[i];
        out += n;
        remaining -= n;
    }
    if (wipe) secure_zero(keystream, sizeof keystream);
}

}  // namespace tapsec::srtp
