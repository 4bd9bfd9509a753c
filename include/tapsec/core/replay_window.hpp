// The anti-replay sliding window shared by every datagram record protocol
// (DTLS, ESP, SRTP, WireGuard, QUIC): accepts each sequence number at most once,
// tolerates reordering within `WindowBits` packets, and rejects anything older.
//
// Check before authenticating, commit only after the packet authenticated, so a
// forged packet cannot move the window (RFC 6479 style bitmap of 64-bit words).
#pragma once

#include <array>
#include <cstdint>

namespace tapsec {

enum class ReplayVerdict { fresh, replayed, too_old };

template <std::size_t WindowBits = 2048>
class ReplayWindow {
    static_assert(WindowBits % 64 == 0 && WindowBits >= 128);
    static constexpr std::size_t words = WindowBits / 64;

public:
    static constexpr std::size_t size = WindowBits - 64;  // guaranteed tolerance

    /// Would `seq` be accepted? Does not change the window.
    ReplayVerdict check(std::uint64_t seq) const noexcept {
        if (!any_ || seq > highest_) return ReplayVerdict::fresh;
        if (highest_ - seq >= size) return ReplayVerdict::too_old;
        return bit(seq) ? ReplayVerdict::replayed : ReplayVerdict::fresh;
    }

    /// Records `seq` as seen (after the packet authenticated). Returns false if it was
    /// not fresh after all (a race between check and commit is thereby harmless).
    bool commit(std::uint64_t seq) noexcept {
        if (check(seq) != ReplayVerdict::fresh) return false;
        if (!any_ || seq > highest_) {
            // Clear the words between the old highest and the new one.
            const std::uint64_t old_word = any_ ? highest_ / 64 : seq / 64 - words;
            const std::uint64_t new_word = seq / 64;
            const std::uint64_t gap = new_word - old_word;
            for (std::uint64_t i = 1; i <= gap && i <= words; ++i) bitmap_[(old_word + i) % words] = 0;
            highest_ = seq;
            any_ = true;
        }
        bitmap_[(seq / 64) % words] |= std::uint64_t{1} << (seq % 64);
        return true;
    }

    std::uint64_t highest() const noexcept { return highest_; }
    bool empty() const noexcept { return !any_; }
    void reset() noexcept {
        bitmap_ = {};
        highest_ = 0;
        any_ = false;
    }

private:
    bool bit(std::uint64_t seq) const noexcept { return (bitmap_[(seq / 64) % words] >> (seq % 64)) & 1u; }

    std::array<std::uint64_t, words> bitmap_{};
    std::uint64_t highest_ = 0;
    bool any_ = false;
};

}  // namespace tapsec
