// SRTP packet index estimation (RFC 3711 3.3.1 and Appendix A): the 48-bit index
// ROC * 2^16 + SEQ is recovered from the 16-bit sequence number by guessing whether
// the packet belongs to the current rollover period, the previous or the next one,
// relative to the highest sequence number seen. The state moves only after the
// packet authenticated, so a forged packet cannot advance the rollover counter.
#pragma once

#include <cstdint>

namespace tapsec::srtp {

struct IndexEstimate {
    std::uint64_t index = 0;  // ROC * 65536 + SEQ
    std::uint32_t roc = 0;
    bool valid = true;        // false: the guess lies outside ROC 0 .. 2^32-1
    bool exhausted = false;   // (invalid because) the index would pass 2^48: the key is used up
};

class RolloverTracker {
public:
    explicit RolloverTracker(std::uint32_t initial_roc = 0) : roc_(initial_roc) {}

    bool started() const noexcept { return started_; }
    std::uint32_t roc() const noexcept { return roc_; }
    std::uint16_t highest_sequence() const noexcept { return s_l_; }
    std::uint64_t highest_index() const noexcept { return std::uint64_t{roc_} << 16 | s_l_; }

    /// Appendix A: v = ROC-1, ROC or ROC+1, whichever puts SEQ closest to s_l.
    IndexEstimate estimate(std::uint16_t seq) const noexcept {
        if (!started_) return make(roc_, seq);
        std::int64_t v = roc_;
        if (s_l_ < 32768) {
            if (seq > s_l_ && seq - s_l_ > 32768) v = std::int64_t{roc_} - 1;
        } else {
            if (s_l_ - 32768 > seq) v = std::int64_t{roc_} + 1;
        }
        if (v < 0 || v > 0xffffffffLL) {
            IndexEstimate e = make(0, seq);
            e.valid = false;
            e.exhausted = v > 0;
            return e;
        }
        return make(static_cast<std::uint32_t>(v), seq);
    }

    /// Records an authenticated packet's index (3.3.1: update ROC and s_l).
    void update(const IndexEstimate& e) noexcept {
        const std::uint16_t seq = static_cast<std::uint16_t>(e.index & 0xffff);
        if (!started_) {
            started_ = true;
            roc_ = e.roc;
            s_l_ = seq;
            return;
        }
        if (e.roc > roc_) {
            roc_ = e.roc;
            s_l_ = seq;
        } else if (e.roc == roc_ && seq > s_l_) {
            s_l_ = seq;
        }
    }

private:
    static IndexEstimate make(std::uint32_t roc, std::uint16_t seq) noexcept {
        return {std::uint64_t{roc} << 16 | seq, roc, true};
    }
    std::uint32_t roc_;
    std::uint16_t s_l_ = 0;
    bool started_ = false;
};

}  // namespace tapsec::srtp
