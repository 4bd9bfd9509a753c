// Ordered byte streams over packets that may be lost, duplicated or reordered: the
// send side keeps bytes until acknowledged and hands out what to (re)transmit; the
// receive side reassembles by offset and enforces a limit. Used for CRYPTO data (one
// pair per encryption level, RFC 9000 19.6) and for STREAM data (2.2, 3, 4).
#pragma once

#include <algorithm>
#include <cstdint>
#include <iterator>
#include <map>
#include <optional>

#include "../core/bytes.hpp"
#include "errors.hpp"

namespace tapsec::quic {

/// A set of disjoint half-open ranges [start, end), merged on insert.
class RangeSet {
public:
    void insert(std::uint64_t start, std::uint64_t end) {
        if (start >= end) return;
        auto it = ranges_.upper_bound(start);
        if (it != ranges_.begin()) {
            auto prev = std::prev(it);
            if (prev->second >= start) {
                start = prev->first;
                end = std::max(end, prev->second);
                it = ranges_.erase(prev);
            }
        }
        while (it != ranges_.end() && it->first <= end) {
            end = std::max(end, it->second);
            it = ranges_.erase(it);
        }
        ranges_.emplace(start, end);
    }
    void erase(std::uint64_t start, std::uint64_t end) {
        if (start >= end) return;
        auto it = ranges_.upper_bound(start);
        if (it != ranges_.begin()) --it;
        while (it != ranges_.end() && it->first < end) {
            const auto [s, e] = *it;
            if (e <= start) {
                ++it;
                continue;
            }
            it = ranges_.erase(it);
            if (s < start) ranges_.emplace(s, start);
            if (e > end) {
                ranges_.emplace(end, e);
                break;
            }
        }
    }
    bool contains(std::uint64_t x) const {
        auto it = ranges_.upper_bound(x);
        if (it == ranges_.begin()) return false;
        return std::prev(it)->second > x;
    }
    bool empty() const noexcept { return ranges_.empty(); }
    std::size_t size() const noexcept { return ranges_.size(); }
    const std::map<std::uint64_t, std::uint64_t>& ranges() const noexcept { return ranges_; }
    std::optional<std::pair<std::uint64_t, std::uint64_t>> first() const {
        if (ranges_.empty()) return std::nullopt;
        return *ranges_.begin();
    }
    std::uint64_t max() const { return ranges_.empty() ? 0 : std::prev(ranges_.end())->second; }
    /// Drops the lowest ranges until at most `n` remain (bounded ACK state).
    void keep_highest(std::size_t n) {
        while (ranges_.size() > n) ranges_.erase(ranges_.begin());
    }

private:
    std::map<std::uint64_t, std::uint64_t> ranges_;
};

/// The send half: bytes from the application (or TLS), kept until acknowledged.
class SendBuffer {
public:
    struct Chunk {
        std::uint64_t offset = 0;
        std::size_t length = 0;
        bool fin = false;
    };

    void write(ByteView data) { append(data_, data); }
    void finish() { fin_ = true; }
    bool finished() const noexcept { return fin_; }
    std::uint64_t end() const noexcept { return base_ + (data_.size() - head_); }
    std::uint64_t sent_end() const noexcept { return next_; }
    /// Bytes written but not yet sent for the first time.
    std::uint64_t unsent() const noexcept { return end() - next_; }

    bool has_data_to_send() const noexcept {
        return !lost_.empty() || next_ < end() || (fin_ && !fin_sent_) || fin_lost_;
    }

    /// The next range to send: lost bytes first, then new bytes below `limit` (a flow
    /// control offset). Marks it sent.
    std::optional<Chunk> next_chunk(std::size_t max_length, std::uint64_t limit = ~std::uint64_t{0}) {
        if (auto f = lost_.first()) {
            Chunk c{f->first, static_cast<std::size_t>(std::min<std::uint64_t>(f->second - f->first, max_length)), false};
            lost_.erase(c.offset, c.offset + c.length);
            c.fin = fin_ && c.offset + c.length == end();
            if (c.fin) fin_lost_ = false;
            return c;
        }
        const std::uint64_t stop = std::min(end(), std::max(limit, next_));
        if (next_ < stop || (fin_ && !fin_sent_ && next_ == end()) || (fin_lost_ && next_ == end())) {
            Chunk c{next_, static_cast<std::size_t>(std::min<std::uint64_t>(stop - next_, max_length)), false};
            next_ += c.length;
            if (fin_ && next_ == end()) {
                c.fin = true;
                fin_sent_ = true;
                fin_lost_ = false;
            }
            return c;
        }
        return std::nullopt;
    }
    /// Blocked on flow control with bytes waiting.
    bool blocked_by(std::uint64_t limit) const noexcept { return lost_.empty() && next_ < end() && next_ >= limit; }

    ByteView view(std::uint64_t offset, std::size_t length) const {
        return ByteView(data_.data() + head_ + (offset - base_), length);
    }

    void on_acked(std::uint64_t offset, std::size_t length, bool fin) {
        acked_.insert(offset, offset + length);
        lost_.erase(offset, offset + length);
        if (fin) fin_acked_ = true;
        // Release the acknowledged prefix; the bytes move only when the released part
        // is the larger half (amortised constant cost per byte, memory bounded).
        if (auto f = acked_.first(); f && f->first <= base_ && f->second > base_) {
            const std::uint64_t drop = std::min<std::uint64_t>(f->second, end()) - base_;
            head_ += static_cast<std::size_t>(drop);
            base_ += drop;
            if (head_ > 65536 && head_ * 2 > data_.size()) {
                data_.erase(data_.begin(), data_.begin() + static_cast<std::ptrdiff_t>(head_));
                head_ = 0;
            }
        }
    }
    void on_lost(std::uint64_t offset, std::size_t length, bool fin) {
        // Only what is not acknowledged yet goes out again.
        RangeSet again;
        again.insert(std::max(offset, base_), offset + length);
        for (const auto& [s, e] : acked_.ranges()) again.erase(s, e);
        for (const auto& [s, e] : again.ranges()) lost_.insert(s, e);
        if (fin && !fin_acked_) fin_lost_ = true;
    }
    bool all_acked() const noexcept { return data_.size() == head_ && (!fin_ || fin_acked_); }
    /// Bytes written and not yet acknowledged (sent or not).
    std::size_t buffered() const noexcept { return data_.size() - head_; }

private:
    Bytes data_;
    std::size_t head_ = 0;  // data_[head_] is the byte at stream offset base_
    std::uint64_t base_ = 0, next_ = 0;
    RangeSet acked_, lost_;
    bool fin_ = false, fin_sent_ = false, fin_acked_ = false, fin_lost_ = false;
};

/// The receive half: reassembly by offset, contiguous bytes out.
class RecvBuffer {
public:
    /// Adds data at `offset`; `limit` is the highest offset the peer may reach.
    std::error_code insert(std::uint64_t offset, ByteView data, bool fin, std::uint64_t limit) {
        const std::uint64_t end = offset + data.size();
        if (final_size_ && (end > *final_size_ || (fin && end != *final_size_)))
            return make_error_code(Error::final_size_violation);
        if (fin) {
            if (end < highest_) return make_error_code(Error::final_size_violation);
            final_size_ = end;
        }
        if (end > limit) return make_error_code(Error::flow_control_violation);
        highest_ = std::max(highest_, end);
        if (end <= read_) return {};  // a duplicate
        if (offset < read_) {
            data = data.subspan(static_cast<std::size_t>(read_ - offset));
            offset = read_;
        }
        const std::uint64_t ready_end = read_ + ready_.size() - consumed_;
        if (offset <= ready_end) {
            if (end <= ready_end) return {};
            append(ready_, data.subspan(static_cast<std::size_t>(ready_end - offset)));
            // Pull in what was waiting behind this.
            for (auto it = pending_.begin(); it != pending_.end();) {
                const std::uint64_t at = read_ + ready_.size() - consumed_;
                if (it->first > at) break;
                const std::uint64_t e = it->first + it->second.size();
                if (e > at) append(ready_, ByteView(it->second).subspan(static_cast<std::size_t>(at - it->first)));
                pending_bytes_ -= it->second.size();
                it = pending_.erase(it);
            }
        } else {
            auto& slot = pending_[offset];
            if (slot.size() < data.size()) {
                pending_bytes_ += data.size() - slot.size();
                slot.assign(data.begin(), data.end());
            }
        }
        return {};
    }
    /// Contiguous bytes not yet read (valid until the next insert/consume).
    ByteView readable() const { return ByteView(ready_).subspan(consumed_); }
    void consume(std::size_t n) {
        consumed_ += n;
        read_ += n;
        if (consumed_ == ready_.size()) {
            ready_.clear();
            consumed_ = 0;
        } else if (consumed_ > 65536) {
            ready_.erase(ready_.begin(), ready_.begin() + static_cast<std::ptrdiff_t>(consumed_));
            consumed_ = 0;
        }
    }
    std::uint64_t read_offset() const noexcept { return read_; }
    std::uint64_t highest() const noexcept { return highest_; }
    std::size_t buffered() const noexcept { return ready_.size() - consumed_ + pending_bytes_; }
    bool finished() const noexcept { return final_size_ && read_ == *final_size_; }
    std::optional<std::uint64_t> final_size() const noexcept { return final_size_; }

private:
    Bytes ready_;
    std::size_t consumed_ = 0;
    std::map<std::uint64_t, Bytes> pending_;
    std::size_t pending_bytes_ = 0;
    std::uint64_t read_ = 0, highest_ = 0;
    std::optional<std::uint64_t> final_size_;
};

}  // namespace tapsec::quic
