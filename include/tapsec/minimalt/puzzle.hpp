// MinimaLT's client puzzles (paper section 4, "puzzles"): when the server is loaded it
// answers a tunnel request with a puzzle instead of spending a Curve25519 key agreement.
// The puzzle is hash-based: the server hands out H(r) and r with its low w bits cleared;
// the client finds the missing bits by trying up to 2^w candidates and returns r with
// its next request. The server keeps no state per puzzle: r is a keyed hash of a
// ticket (expiry and randomness, sent along), the client's ephemeral key, the tunnel
// ID and the request's source address, so it is recomputed to check a solution, is
// bound to that request and address (source validation), and expires.
#pragma once

#include <chrono>
#include <optional>

#include "../core/bytes.hpp"
#include "../core/config.hpp"
#include "../crypto/provider.hpp"
#include "errors.hpp"
#include "wire.hpp"

namespace tapsec::minimalt {

/// Clears the low `bits` bits of a big-endian 256-bit value.
inline void clear_low_bits(std::array<std::uint8_t, 32>& value, unsigned bits) {
    for (std::size_t i = 32; i-- > 0 && bits > 0;) {
        if (bits >= 8) {
            value[i] = 0;
            bits -= 8;
        } else {
            value[i] = static_cast<std::uint8_t>(value[i] & (0xffu << bits));
            bits = 0;
        }
    }
}

template <class Crypto>
class PuzzleIssuer {
public:
    PuzzleIssuer() = default;
    PuzzleIssuer(const CommonConfig& config, std::uint8_t difficulty, std::chrono::seconds lifetime)
        : difficulty_(difficulty), lifetime_(lifetime) {
        draw_random<Crypto>(config, key_);
    }
    /// With a key shared by several issuers (the engines of one socket).
    PuzzleIssuer(const SecretArray<32>& key, std::uint8_t difficulty, std::chrono::seconds lifetime)
        : key_(key), difficulty_(difficulty), lifetime_(lifetime) {}

    std::uint8_t difficulty() const noexcept { return difficulty_; }

    /// A puzzle for the request (tid, client_key), valid for the configured lifetime.
    PuzzlePacket issue(std::uint64_t tid, const PublicKey& client_key, ByteView source,
                       std::chrono::system_clock::time_point now, const CommonConfig& config) const {
        PuzzlePacket p;
        p.tid = tid;
        p.difficulty = difficulty_;
        const auto expiry = static_cast<std::uint64_t>(
            std::chrono::duration_cast<std::chrono::milliseconds>((now + lifetime_).time_since_epoch()).count());
        for (int i = 0; i < 8; ++i) p.ticket[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(expiry >> (56 - 8 * i));
        draw_random<Crypto>(config, MutableByteView(p.ticket.data() + 8, 16));
        const auto r = secret(p.ticket, tid, client_key, source);
        const auto h = Crypto::hash(crypto::HashAlgorithm::sha256, r);
        std::copy(h.begin(), h.end(), p.hash.begin());
        std::copy(r.begin(), r.end(), p.partial.begin());
        clear_low_bits(p.partial, difficulty_);
        return p;
    }

    /// Checks a solution carried by a tunnel request: one keyed hash, no stored state.
    std::error_code verify(const PuzzleSolution& s, std::uint64_t tid, const PublicKey& client_key, ByteView source,
                           std::chrono::system_clock::time_point now) const {
        std::uint64_t expiry = 0;
        for (int i = 0; i < 8; ++i) expiry = expiry << 8 | s.ticket[static_cast<std::size_t>(i)];
        const auto now_ms = static_cast<std::uint64_t>(
            std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count());
        const auto max_ms = static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(lifetime_).count());
        if (expiry < now_ms || expiry - now_ms > max_ms) return make_error_code(Error::puzzle_expired);
        const auto r = secret(s.ticket, tid, client_key, source);
        if (!constant_time_equal(r, s.solution)) return make_error_code(Error::puzzle_wrong);
        return {};
    }

private:
    SecretArray<32> secret(const Ticket& ticket, std::uint64_t tid, const PublicKey& client_key, ByteView source) const {
        Bytes input;
        input.reserve(ticket_size + public_key_size + 8);
        append(input, ticket);
        append(input, client_key);
        for (int i = 7; i >= 0; --i) input.push_back(static_cast<std::uint8_t>(tid >> (8 * i)));
        append(input, source);
        auto mac = Crypto::hmac(crypto::HashAlgorithm::sha256, key_, input);
        SecretArray<32> r;
        std::copy_n(mac.begin(), 32, r.begin());
        return r;
    }

    SecretArray<32> key_;
    std::uint8_t difficulty_ = 0;
    std::chrono::seconds lifetime_{10};
};

/// Solves a puzzle by trying every value of its low bits: 2^difficulty hashes at most.
/// Returns nullopt when none matches (a forged or corrupted puzzle).
template <class Crypto>
std::optional<Solution> solve_puzzle(const PuzzlePacket& p) {
    if (p.difficulty > 32) return std::nullopt;  // callers bound it by the directory record first
    const std::uint64_t candidates = std::uint64_t{1} << p.difficulty;
    Solution r;
    std::copy(p.partial.begin(), p.partial.end(), r.begin());
    for (std::uint64_t x = 0; x < candidates; ++x) {
        // Write x into the low bits (they are clear in `partial`).
        std::uint64_t v = x;
        for (std::size_t i = 32; i-- > 28;) {
            r[i] = static_cast<std::uint8_t>(p.partial[i] | (v & 0xff));
            v >>= 8;
        }
        auto h = Crypto::hash(crypto::HashAlgorithm::sha256, r);
        if (std::equal(h.begin(), h.end(), p.hash.begin())) return r;
    }
    return std::nullopt;
}

}  // namespace tapsec::minimalt
