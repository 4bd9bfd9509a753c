// Byte buffers, secret buffers that wipe themselves, constant-time comparison,
// and hex helpers. Everything here is provider-neutral.
#pragma once

#include <algorithm>
#include <atomic>
#include <memory>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace tapsec {

using Bytes = std::vector<std::uint8_t>;
using ByteView = std::span<const std::uint8_t>;
using MutableByteView = std::span<std::uint8_t>;

/// Overwrites memory in a way the optimiser may not elide (secrets must not linger).
inline void secure_zero(void* data, std::size_t size) noexcept {
    volatile auto* p = static_cast<volatile std::uint8_t*>(data);
    while (size--) *p++ = 0;
    std::atomic_signal_fence(std::memory_order_seq_cst);
}

/// Allocator that wipes every block before giving it back: key material held in a
/// SecretBytes never survives in freed heap memory.
template <class T>
struct ZeroizingAllocator {
    using value_type = T;
    ZeroizingAllocator() noexcept = default;
    template <class U>
    ZeroizingAllocator(const ZeroizingAllocator<U>&) noexcept {}
    T* allocate(std::size_t n) { return std::allocator<T>{}.allocate(n); }
    void deallocate(T* p, std::size_t n) noexcept {
        secure_zero(p, n * sizeof(T));
        std::allocator<T>{}.deallocate(p, n);
    }
    template <class U>
    bool operator==(const ZeroizingAllocator<U>&) const noexcept { return true; }
};

/// Key material: wiped when it is freed or resized away.
using SecretBytes = std::vector<std::uint8_t, ZeroizingAllocator<std::uint8_t>>;

/// A fixed-size secret (e.g. a 32-byte chaining key) that wipes itself on destruction.
template <std::size_t N>
struct SecretArray : std::array<std::uint8_t, N> {
    SecretArray() noexcept : std::array<std::uint8_t, N>{} {}
    SecretArray(const SecretArray&) = default;
    SecretArray& operator=(const SecretArray&) = default;
    ~SecretArray() { secure_zero(this->data(), N); }
};

/// Compares two byte strings in time that depends only on their lengths:
/// MACs, tags and Finished values are always compared with this.
inline bool constant_time_equal(ByteView a, ByteView b) noexcept {
    if (a.size() != b.size()) return false;
    volatile std::uint8_t diff = 0;
    for (std::size_t i = 0; i < a.size(); ++i) diff = diff | static_cast<std::uint8_t>(a[i] ^ b[i]);
    return diff == 0;
}

inline ByteView as_bytes(std::string_view s) noexcept {
    return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

/// A hash of raw bytes for unordered containers keyed by fixed-size byte arrays (keys,
/// addresses, connection IDs). Not keyed: use it only where the bytes were
/// authenticated first or an attacker gains nothing by colliding them.
inline std::size_t hash_bytes(ByteView data) noexcept {
    return std::hash<std::string_view>{}(std::string_view(reinterpret_cast<const char*>(data.data()), data.size()));
}

inline std::string to_hex(ByteView data) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string out;
    out.reserve(data.size() * 2);
    for (auto b : data) {
        out.push_back(digits[b >> 4]);
        out.push_back(digits[b & 0xf]);
    }
    return out;
}

/// Parses hex, ignoring whitespace (so RFC test vectors can be pasted as printed).
/// Returns an empty vector and sets ok=false on an odd digit count or a non-hex character.
inline Bytes from_hex(std::string_view hex, bool* ok = nullptr) {
    Bytes out;
    int high = -1;
    bool good = true;
    for (char c : hex) {
        int v;
        if (c >= '0' && c <= '9') v = c - '0';
        else if (c >= 'a' && c <= 'f') v = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F') v = c - 'A' + 10;
        else if (c == ' ' || c == '\n' || c == '\t' || c == '\r' || c == ':') continue;
        else { good = false; break; }
        if (high < 0) high = v;
        else { out.push_back(static_cast<std::uint8_t>(high << 4 | v)); high = -1; }
    }
    if (high >= 0) good = false;
    if (!good) out.clear();
    if (ok) *ok = good;
    return out;
}

inline void append(Bytes& out, ByteView data) { out.insert(out.end(), data.begin(), data.end()); }

}  // namespace tapsec
