// BLAKE2s (RFC 7693), keyed BLAKE2s, HMAC-BLAKE2s (RFC 2104 over BLAKE2s-256) and the
// HKDF (RFC 5869) built on it. Botan 2 has BLAKE2b only; WireGuard's Noise handshake
// needs BLAKE2s, so this is the project's own implementation, written from RFC 7693.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "../core/bytes.hpp"

namespace tapsec::crypto {

class Blake2s {
public:
    static constexpr std::size_t block_size = 64;
    static constexpr std::size_t max_digest_size = 32;
    static constexpr std::size_t max_key_size = 32;

    /// Unkeyed BLAKE2s with `digest_size` bytes of output (1..32).
    explicit Blake2s(std::size_t digest_size = 32) { init(digest_size, {}); }
    /// Keyed BLAKE2s (RFC 7693 section 3.3: the key, zero-padded, is the first block).
    Blake2s(std::size_t digest_size, ByteView key) { init(digest_size, key); }
    ~Blake2s() {
        secure_zero(buffer_.data(), buffer_.size());
        secure_zero(h_.data(), sizeof h_);
    }
    Blake2s(const Blake2s&) = default;
    Blake2s& operator=(const Blake2s&) = default;

    void update(ByteView data) {
        std::size_t i = 0;
        while (i < data.size()) {
            // The last block is compressed only in final(), so a full buffer waits
            // until more input proves it is not the last.
            if (buffered_ == block_size) {
                add_to_counter(block_size);
                compress(buffer_.data(), false);
                buffered_ = 0;
            }
            const std::size_t take = std::min(block_size - buffered_, data.size() - i);
            std::memcpy(buffer_.data() + buffered_, data.data() + i, take);
            buffered_ += take;
            i += take;
        }
    }

    /// Writes the digest (digest_size bytes) to `out`.
    void final(std::uint8_t* out) {
        add_to_counter(buffered_);
        std::memset(buffer_.data() + buffered_, 0, block_size - buffered_);
        compress(buffer_.data(), true);
        std::uint8_t full[32];
        for (std::size_t i = 0; i < 8; ++i)
            for (std::size_t b = 0; b < 4; ++b) full[4 * i + b] = static_cast<std::uint8_t>(h_[i] >> (8 * b));
        std::memcpy(out, full, digest_size_);
        secure_zero(full, sizeof full);
    }

    std::size_t digest_size() const noexcept { return digest_size_; }

    /// One-shot helpers.
    static std::array<std::uint8_t, 32> hash(ByteView data) {
        Blake2s h(32);
        h.update(data);
        std::array<std::uint8_t, 32> out{};
        h.final(out.data());
        return out;
    }
    static std::array<std::uint8_t, 32> hash(ByteView a, ByteView b) {
        Blake2s h(32);
        h.update(a);
        h.update(b);
        std::array<std::uint8_t, 32> out{};
        h.final(out.data());
        return out;
    }
    /// Keyed BLAKE2s with a 16-byte output: WireGuard's MAC (mac1, mac2, cookie).
    static std::array<std::uint8_t, 16> mac128(ByteView key, ByteView data) {
        Blake2s h(16, key);
        h.update(data);
        std::array<std::uint8_t, 16> out{};
        h.final(out.data());
        return out;
    }

private:
    static constexpr std::array<std::uint32_t, 8> iv{0x6A09E667, 0xBB67AE85, 0x3C6EF372, 0xA54FF53A,
                                                     0x510E527F, 0x9B05688C, 0x1F83D9AB, 0x5BE0CD19};
    static constexpr std::uint8_t sigma[10][16] = {
        {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}, {14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3},
        {11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4}, {7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8},
        {9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13}, {2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9},
        {12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11}, {13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10},
        {6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5}, {10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0},
    };

    static constexpr std::uint32_t rotr(std::uint32_t x, int n) noexcept { return (x >> n) | (x << (32 - n)); }
    static std::uint32_t load32(const std::uint8_t* p) noexcept {
        return std::uint32_t{p[0]} | std::uint32_t{p[1]} << 8 | std::uint32_t{p[2]} << 16 | std::uint32_t{p[3]} << 24;
    }

    void init(std::size_t digest_size, ByteView key) {
        if (digest_size == 0 || digest_size > max_digest_size) digest_size = max_digest_size;
        if (key.size() > max_key_size) key = key.first(max_key_size);
        digest_size_ = digest_size;
        h_ = iv;
        // Parameter block: digest length, key length, fanout 1, depth 1.
        h_[0] ^= 0x01010000u ^ static_cast<std::uint32_t>(key.size() << 8) ^ static_cast<std::uint32_t>(digest_size);
        t_ = 0;
        buffered_ = 0;
        buffer_.fill(0);
        if (!key.empty()) {
            std::memcpy(buffer_.data(), key.data(), key.size());
            buffered_ = block_size;
        }
    }

    void add_to_counter(std::size_t n) noexcept { t_ += n; }

    void compress(const std::uint8_t* block, bool last) noexcept {
        std::uint32_t m[16];
        for (int i = 0; i < 16; ++i) m[i] = load32(block + 4 * i);
        std::uint32_t v[16];
        for (int i = 0; i < 8; ++i) {
            v[i] = h_[static_cast<std::size_t>(i)];
            v[i + 8] = iv[static_cast<std::size_t>(i)];
        }
        v[12] ^= static_cast<std::uint32_t>(t_);
        v[13] ^= static_cast<std::uint32_t>(t_ >> 32);
        if (last) v[14] = ~v[14];
        auto g = [&v](int a, int b, int c, int d, std::uint32_t x, std::uint32_t y) {
            v[a] = v[a] + v[b] + x;
            v[d] = rotr(v[d] ^ v[a], 16);
            v[c] = v[c] + v[d];
            v[b] = rotr(v[b] ^ v[c], 12);
            v[a] = v[a] + v[b] + y;
            v[d] = rotr(v[d] ^ v[a], 8);
            v[c] = v[c] + v[d];
            v[b] = rotr(v[b] ^ v[c], 7);
        };
        for (int round = 0; round < 10; ++round) {
            const std::uint8_t* s = sigma[round];
            g(0, 4, 8, 12, m[s[0]], m[s[1]]);
            g(1, 5, 9, 13, m[s[2]], m[s[3]]);
            g(2, 6, 10, 14, m[s[4]], m[s[5]]);
            g(3, 7, 11, 15, m[s[6]], m[s[7]]);
            g(0, 5, 10, 15, m[s[8]], m[s[9]]);
            g(1, 6, 11, 12, m[s[10]], m[s[11]]);
            g(2, 7, 8, 13, m[s[12]], m[s[13]]);
            g(3, 4, 9, 14, m[s[14]], m[s[15]]);
        }
        for (int i = 0; i < 8; ++i) h_[static_cast<std::size_t>(i)] ^= v[i] ^ v[i + 8];
        secure_zero(m, sizeof m);
        secure_zero(v, sizeof v);
    }

    std::array<std::uint32_t, 8> h_{};
    std::array<std::uint8_t, block_size> buffer_{};
    std::uint64_t t_ = 0;
    std::size_t buffered_ = 0;
    std::size_t digest_size_ = 32;
};

/// HMAC (RFC 2104) over BLAKE2s-256, block size 64: WireGuard's HMAC.
inline SecretArray<32> hmac_blake2s(ByteView key, ByteView data) {
    SecretArray<64> block;
    if (key.size() > Blake2s::block_size) {
        auto hashed = Blake2s::hash(key);
        std::memcpy(block.data(), hashed.data(), hashed.size());
        secure_zero(hashed.data(), hashed.size());
    } else {
        std::memcpy(block.data(), key.data(), key.size());
    }
    SecretArray<64> pad;
    for (std::size_t i = 0; i < 64; ++i) pad[i] = block[i] ^ 0x36;
    Blake2s inner(32);
    inner.update(pad);
    inner.update(data);
    SecretArray<32> inner_digest;
    inner.final(inner_digest.data());
    for (std::size_t i = 0; i < 64; ++i) pad[i] = block[i] ^ 0x5c;
    Blake2s outer(32);
    outer.update(pad);
    outer.update(inner_digest);
    SecretArray<32> out;
    outer.final(out.data());
    return out;
}

/// RFC 5869 HKDF-Extract with HMAC-BLAKE2s (an empty salt means 32 zero bytes).
inline SecretArray<32> hkdf_blake2s_extract(ByteView salt, ByteView ikm) {
    static constexpr std::array<std::uint8_t, 32> zeros{};
    return hmac_blake2s(salt.empty() ? ByteView(zeros) : salt, ikm);
}

/// RFC 5869 HKDF-Expand with HMAC-BLAKE2s; at most 255 * 32 bytes.
inline SecretBytes hkdf_blake2s_expand(ByteView prk, ByteView info, std::size_t length) {
    SecretBytes out;
    out.reserve(length);
    SecretBytes input;
    SecretArray<32> previous;
    for (std::size_t counter = 1; out.size() < length && counter <= 255; ++counter) {
        input.clear();
        if (counter > 1) input.insert(input.end(), previous.begin(), previous.end());
        input.insert(input.end(), info.begin(), info.end());
        input.push_back(static_cast<std::uint8_t>(counter));
        previous = hmac_blake2s(prk, input);
        const std::size_t take = std::min<std::size_t>(32, length - out.size());
        out.insert(out.end(), previous.begin(), previous.begin() + static_cast<std::ptrdiff_t>(take));
    }
    return out;
}

}  // namespace tapsec::crypto
