// One ChaCha20 block (RFC 8439 2.3) with a caller-chosen 32-bit counter and 96-bit
// nonce. Stream-cipher APIs (Botan 2's included) prepare several blocks of keystream
// on every IV change, which makes a single 64-byte block — QUIC's ChaCha20 header
// protection mask (RFC 9001 5.4.4), one per packet — cost as much as the packet's
// payload; this computes exactly one block. Written from RFC 8439; provider-independent.
#pragma once

#include <array>
#include <cstdint>

#include "../core/bytes.hpp"

namespace tapsec::crypto {

/// The 64-byte ChaCha20 block for `key` (32 bytes), `counter` and `nonce` (12 bytes).
inline std::array<std::uint8_t, 64> chacha20_block(ByteView key, std::uint32_t counter, ByteView nonce) noexcept {
    auto load = [](const std::uint8_t* p) {
        return std::uint32_t{p[0]} | std::uint32_t{p[1]} << 8 | std::uint32_t{p[2]} << 16 | std::uint32_t{p[3]} << 24;
    };
    std::array<std::uint32_t, 16> s{0x61707865, 0x3320646e, 0x79622d32, 0x6b206574};
    for (int i = 0; i < 8; ++i) s[4 + i] = load(key.data() + 4 * i);
    s[12] = counter;
    for (int i = 0; i < 3; ++i) s[13 + i] = load(nonce.data() + 4 * i);
    std::array<std::uint32_t, 16> x = s;
    auto rotl = [](std::uint32_t v, int n) { return (v << n) | (v >> (32 - n)); };
    auto quarter = [&](int a, int b, int c, int d) {
        x[a] += x[b], x[d] = rotl(x[d] ^ x[a], 16);
        x[c] += x[d], x[b] = rotl(x[b] ^ x[c], 12);
        x[a] += x[b], x[d] = rotl(x[d] ^ x[a], 8);
        x[c] += x[d], x[b] = rotl(x[b] ^ x[c], 7);
    };
    for (int round = 0; round < 10; ++round) {  // 20 rounds: 10 column + 10 diagonal
        quarter(0, 4, 8, 12), quarter(1, 5, 9, 13), quarter(2, 6, 10, 14), quarter(3, 7, 11, 15);
        quarter(0, 5, 10, 15), quarter(1, 6, 11, 12), quarter(2, 7, 8, 13), quarter(3, 4, 9, 14);
    }
    std::array<std::uint8_t, 64> out{};
    for (int i = 0; i < 16; ++i) {
        const std::uint32_t v = x[i] + s[i];
        for (int b = 0; b < 4; ++b) out[4 * i + b] = static_cast<std::uint8_t>(v >> (8 * b));
    }
    return out;
}

}  // namespace tapsec::crypto
