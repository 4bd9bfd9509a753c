// The CurveCP message layer: the protocol `curvecpmessage` speaks inside CurveCP
// Message packets (curvecp.org/messages.html). One byte stream each way, cut into
// blocks with 64-bit stream positions; the receiver acknowledges byte ranges; the
// sender retransmits what stays unacknowledged and paces blocks by its "decongestion"
// timing (a per-block interval adapted from round-trip-time samples); a stream ends
// with a success (2048) or failure (4096) flag on its last block.
//
// One message (little-endian; a multiple of 16 bytes, 48..1088):
//    0  4  message ID (0: a pure acknowledgment, which is never acknowledged)
//    4  4  the ID of the message this one acknowledges
//    8  8  range 1: bytes 0..n are received
//   16  4  gap 1    20 2 range 2    22 2 gap 2    24 2 range 3   26 2 gap 3
//   28  2  range 4  30 2 gap 4      32 2 range 5  34 2 gap 5     36 2 range 6
//   38  2  D (data length, <= 1024) | 2048 (success end) | 4096 (failure end)
//   40  8  stream position of the data
//   48  .. zero padding, then the D data bytes at the very end
// Acknowledging the end of a stream: range 1 reaches one byte past the stream's length.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <map>
#include <optional>
#include <system_error>
#include <vector>

#include "../core/bytes.hpp"
#include "../core/engine.hpp"
#include "errors.hpp"

namespace tapsec::curvecp::message {

inline constexpr std::size_t header_size = 48;
inline constexpr std::size_t max_block = 1024;
inline constexpr std::size_t max_message_size = 1088;
inline constexpr std::uint16_t end_success = 2048;
inline constexpr std::uint16_t end_failure = 4096;
inline constexpr std::size_t ack_message_size = 192;

inline std::uint64_t load_le(const std::uint8_t* p, int bytes) noexcept {
    std::uint64_t v = 0;
    for (int i = bytes - 1; i >= 0; --i) v = v << 8 | p[i];
    return v;
}
inline void store_le(std::uint8_t* p, std::uint64_t v, int bytes) noexcept {
    for (int i = 0; i < bytes; ++i) p[i] = static_cast<std::uint8_t>(v >> (8 * i));
}

/// One parsed message (views into the caller's bytes).
struct Block {
    std::uint32_t id = 0;
    std::uint32_t acknowledging = 0;
    // Acknowledged byte ranges [start, stop), already decoded from the range/gap fields.
    std::array<std::pair<std::uint64_t, std::uint64_t>, 6> acked{};
    std::uint16_t end = 0;  // 0, end_success or end_failure
    std::uint64_t position = 0;
    ByteView data;
};

/// Parses and checks one message: a multiple of 16 in 48..1088, D <= 1024 fitting after
/// the header, at most one end flag, positions and ranges that do not wrap 2^64.
inline Result<Block> parse(ByteView m) {
    if (m.size() < header_size || m.size() > max_message_size || m.size() % 16 != 0)
        return make_error_code(Error::malformed_message);
    Block b;
    b.id = static_cast<std::uint32_t>(load_le(m.data(), 4));
    b.acknowledging = static_cast<std::uint32_t>(load_le(m.data() + 4, 4));
    std::uint64_t stop = load_le(m.data() + 8, 8);
    b.acked[0] = {0, stop};
    std::uint64_t gap = load_le(m.data() + 16, 4);
    for (int r = 1; r < 6; ++r) {
        const std::uint64_t length = load_le(m.data() + 20 + 4 * (r - 1), 2);
        if (r > 1) gap = load_le(m.data() + 18 + 4 * (r - 1), 2);
        const std::uint64_t start = stop + gap;
        if (start < stop || start + length < start) return make_error_code(Error::malformed_message);
        stop = start + length;
        b.acked[static_cast<std::size_t>(r)] = {start, stop};
    }
    const std::uint16_t size_flags = static_cast<std::uint16_t>(load_le(m.data() + 38, 2));
    b.end = size_flags & (end_success | end_failure);
    const std::size_t d = size_flags & ~(end_success | end_failure);
    if (b.end == (end_success | end_failure) || d > max_block || header_size + d > m.size())
        return make_error_code(Error::malformed_message);
    b.position = load_le(m.data() + 40, 8);
    if (b.position + d < b.position || b.position + d >= (std::uint64_t{1} << 60))
        return make_error_code(Error::malformed_message);
    b.data = m.subspan(m.size() - d);
    return b;
}

/// The padded size of a message carrying `data` bytes: the buckets curvecpmessage uses
/// (length hiding: 192, 320, 576 or 1088 bytes).
constexpr std::size_t padded_size(std::size_t data) noexcept {
    const std::size_t u = 64 + data;
    return u <= 192 ? 192 : u <= 320 ? 320 : u <= 576 ? 576 : 1088;
}

/// Both directions of one connection's stream, with curvecpmessage's timing.
/// Sans-I/O: time comes in as `now`; messages go out through poll_message().
class Stream {
public:
    static constexpr std::size_t send_capacity = std::size_t{1} << 18;     // bytes not yet acknowledged
    static constexpr std::size_t receive_window = std::size_t{1} << 17;    // bytes beyond what the app read
    static constexpr std::size_t max_blocks = 128;                         // blocks in flight

    /// `initiator`: the client, whose first blocks must fit an Initiate packet (<= 512
    /// bytes of data) until the server has answered.
    explicit Stream(bool initiator) : max_block_len_(initiator ? 512 : max_block) {}

    // ---- application side -------------------------------------------------------------
    std::size_t send_space() const noexcept { return send_capacity - send_bytes_; }
    std::error_code write(ByteView data) {
        if (send_end_) return make_error_code(Errc::closed);
        if (data.size() > send_space()) return make_error_code(Error::send_buffer_full);
        if (data.empty()) return {};
        if (send_ring_.empty()) send_ring_.resize(send_capacity);  // on first use: a handshake needs none
        for (std::size_t i = 0; i < data.size();) {
            const std::size_t at = (send_acked_ + send_bytes_) % send_capacity;
            const std::size_t n = std::min(data.size() - i, send_capacity - at);
            std::memcpy(send_ring_.data() + at, data.data() + i, n);
            send_bytes_ += n;
            i += n;
        }
        return {};
    }
    /// Ends our stream (success, or failure) after the bytes written so far.
    void finish(bool failure = false) {
        if (!send_end_) send_end_ = failure ? end_failure : end_success;
    }
    /// Sends a block even with nothing to say (the client's first packet must carry one).
    void want_ping() { want_ping_ = true; }

    /// In-order received bytes the application has not taken yet.
    ByteView readable() const noexcept { return ByteView(delivered_).subspan(delivered_offset_); }
    void consume_all() {
        delivered_.clear();
        delivered_offset_ = 0;
    }
    bool peer_finished() const noexcept { return receive_end_ != 0 && receive_bytes_ == receive_total_; }
    bool peer_failed() const noexcept { return receive_end_ == end_failure && peer_finished(); }
    bool our_end_acknowledged() const noexcept { return send_end_acked_; }
    bool done() const noexcept { return send_end_acked_ && peer_finished() && readable().empty(); }
    bool has_unsent_or_unacked() const noexcept { return block_count_ != 0 || unsent() != 0; }
    std::uint64_t bytes_received() const noexcept { return receive_bytes_; }
    std::uint64_t bytes_acknowledged() const noexcept { return send_acked_; }
    std::uint64_t retransmissions() const noexcept { return retransmissions_; }

    // ---- wire side --------------------------------------------------------------------
    /// Processes one message from the peer (after its packet authenticated).
    std::error_code on_message(ByteView m, Instant now) {
        auto parsed = parse(m);
        if (!parsed) return parsed.error();
        const Block& b = *parsed;
        const std::int64_t t = ns(now);
        max_block_len_ = max_block;  // the peer has answered: full-size blocks from now on
        if (b.acknowledging != 0) sample_rtt(b.acknowledging, t);
        for (auto [start, stop] : b.acked) acknowledge(start, stop);
        if (auto ec = absorb(b)) return ec;
        if (b.id != 0) {  // acknowledge every message that is not itself a pure acknowledgment
            if (pending_acks_.size() < max_blocks) pending_acks_.push_back(b.id);
            else pending_acks_.back() = b.id;  // the latest ID still carries the cumulative range
        }
        return {};
    }

    /// When poll_message() next has something to send (nullopt: nothing until input).
    std::optional<Instant> next_timeout() const {
        if (!pending_acks_.empty()) return Instant{};
        std::optional<std::int64_t> next;
        if (block_count_ < max_blocks && (want_ping_ || has_new_block())) next = last_block_time_ + ns_per_block_;
        if (auto e = earliest_unacked()) {
            std::int64_t retry = std::max(*e + rtt_timeout_, last_block_time_ + ns_per_block_);
            if (!next || retry < *next) next = retry;
        }
        if (!next) return std::nullopt;
        return Instant(std::chrono::nanoseconds(*next));
    }

    /// Writes the next due message into `out` (at least 1088 bytes) and returns its size,
    /// or 0 when nothing is due at `now`: acknowledgments first, then the oldest block
    /// whose retransmission timer expired, then a new block, paced by ns_per_block.
    std::size_t poll_message(Instant now, MutableByteView out) {
        const std::int64_t t = ns(now);
        if (!pending_acks_.empty()) {
            const std::uint32_t id = pending_acks_.front();
            pending_acks_.erase(pending_acks_.begin());
            std::memset(out.data(), 0, ack_message_size);
            store_le(out.data() + 4, id, 4);
            write_ack_ranges(out.data());
            return ack_message_size;
        }
        if (t < last_block_time_ + ns_per_block_) return 0;
        // A retransmission: the block sent longest ago, once its timer expired.
        if (auto e = earliest_unacked(); e && t >= *e + rtt_timeout_) {
            for (std::size_t i = 0; i < block_count_; ++i) {
                Outgoing& o = blocks_[(first_block_ + i) % max_blocks];
                if (o.sent && o.time == *e) {
                    if (t > last_panic_ + 4 * rtt_timeout_) {  // repeated loss: halve the rate
                        ns_per_block_ *= 2;
                        last_panic_ = t;
                        last_edge_ = t;
                    }
                    ++retransmissions_;
                    return emit(o, t, out);
                }
            }
        }
        if (block_count_ >= max_blocks || (!want_ping_ && !has_new_block())) return 0;
        Outgoing& o = blocks_[(first_block_ + block_count_) % max_blocks];
        ++block_count_;
        o = Outgoing{};
        o.position = send_acked_ + send_processed_;
        o.length = std::min<std::uint64_t>(unsent(), max_block_len_);
        // A block never wraps the ring (curvecpmessage cuts it at the ring's end as well).
        const std::uint64_t at = o.position % send_capacity;
        o.length = std::min<std::uint64_t>(o.length, send_capacity - at);
        send_processed_ += o.length;
        if (send_processed_ == send_bytes_ && send_end_) {
            o.end = send_end_;
            send_end_processed_ = true;
        }
        want_ping_ = false;
        return emit(o, t, out);
    }

private:
    struct Outgoing {
        std::uint64_t position = 0, length = 0;
        std::uint16_t end = 0;
        std::uint32_t id = 0;
        std::int64_t time = 0;  // last transmission
        bool sent = false;      // in flight and not yet acknowledged
        std::uint32_t transmissions = 0;
    };

    static std::int64_t ns(Instant t) {
        return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
    }
    std::uint64_t unsent() const noexcept { return send_bytes_ - send_processed_; }
    bool has_new_block() const noexcept { return unsent() != 0 || (send_end_ && !send_end_processed_); }

    std::optional<std::int64_t> earliest_unacked() const {
        std::optional<std::int64_t> e;
        for (std::size_t i = 0; i < block_count_; ++i) {
            const Outgoing& o = blocks_[(first_block_ + i) % max_blocks];
            if (o.sent && (!e || o.time < *e)) e = o.time;
        }
        return e;
    }

    std::size_t emit(Outgoing& o, std::int64_t t, MutableByteView out) {
        o.sent = true;
        o.time = t;
        ++o.transmissions;
        o.id = next_id_++;
        if (next_id_ == 0) next_id_ = 1;  // 0 marks a pure acknowledgment
        const std::size_t u = padded_size(o.length);
        std::memset(out.data(), 0, u);
        store_le(out.data(), o.id, 4);
        // Every block also carries our cumulative acknowledgment (curvecpmessage reads
        // the ranges of every message).
        write_ack_ranges(out.data());
        store_le(out.data() + 38, o.end | static_cast<std::uint16_t>(o.length), 2);
        store_le(out.data() + 40, o.position, 8);
        for (std::uint64_t i = 0; i < o.length; ++i)
            out[u - o.length + i] = send_ring_[(o.position + i) % send_capacity];
        last_block_time_ = t;
        return u;
    }

    void write_ack_ranges(std::uint8_t* m) const {
        // Range 1 covers everything received in order; one byte more once the peer's
        // whole stream, end included, has arrived.
        store_le(m + 8, receive_bytes_ + (peer_finished() ? 1 : 0), 8);
    }

    void acknowledge(std::uint64_t start, std::uint64_t stop) {
        if (start == stop) return;
        for (std::size_t i = 0; i < block_count_; ++i) {
            Outgoing& o = blocks_[(first_block_ + i) % max_blocks];
            if (o.sent && o.position >= start && o.position + o.length <= stop) o.sent = false;
        }
        while (block_count_ != 0) {
            Outgoing& o = blocks_[first_block_ % max_blocks];
            if (o.sent) break;
            send_acked_ += o.length;
            send_bytes_ -= o.length;
            send_processed_ -= o.length;
            first_block_ = (first_block_ + 1) % max_blocks;
            --block_count_;
        }
        if (send_end_ && send_end_processed_ && start == 0 && stop > send_acked_ + send_bytes_) send_end_acked_ = true;
    }

    /// Round-trip sample from the acknowledgment of block `id`, and the decongestion
    /// rules that follow from it (curvecpmessage's: Jacobson/Karels timeout; additive
    /// increase of the block rate every 16 blocks; recognising the top and bottom of a
    /// congestion cycle from RTT high and low water marks; doubling when quiet).
    void sample_rtt(std::uint32_t id, std::int64_t t) {
        const Outgoing* block = nullptr;
        for (std::size_t i = 0; i < block_count_; ++i) {
            const Outgoing& o = blocks_[(first_block_ + i) % max_blocks];
            if (o.sent && o.id == id) block = &o;
        }
        if (!block) return;
        const std::int64_t rtt = std::max<std::int64_t>(t - block->time, 1);
        if (rtt_average_ == 0) {
            ns_per_block_ = rtt;
            rtt_average_ = rtt;
            rtt_deviation_ = rtt / 2;
            rtt_highwater_ = rtt;
            rtt_lowwater_ = rtt;
        }
        std::int64_t delta = rtt - rtt_average_;
        rtt_average_ += delta / 8;
        if (delta < 0) delta = -delta;
        delta -= rtt_deviation_;
        rtt_deviation_ += delta / 4;
        rtt_timeout_ = rtt_average_ + 4 * rtt_deviation_ + 8 * ns_per_block_;  // delayed acks

        rtt_highwater_ += (rtt - rtt_highwater_) / 1024;
        const std::int64_t low = rtt - rtt_lowwater_;
        rtt_lowwater_ += low > 0 ? low / 8192 : low / 256;
        if (rtt_average_ > rtt_highwater_ + 5'000'000) seen_recent_high_ = true;
        else if (rtt_average_ < rtt_lowwater_) seen_recent_low_ = true;

        if (t >= last_speed_adjustment_ + 16 * ns_per_block_) {
            if (t - last_speed_adjustment_ > 10'000'000'000LL) ns_per_block_ = 1'000'000'000;  // slow restart
            last_speed_adjustment_ = t;
            if (ns_per_block_ >= 131072) {
                // Additive increase of the rate 1/N: N <- N / (1 + c N^2).
                if (ns_per_block_ < 16777216) {
                    const std::int64_t u = ns_per_block_ / 131072;
                    ns_per_block_ -= u * u * u;
                } else {
                    const double d = static_cast<double>(ns_per_block_);
                    ns_per_block_ = static_cast<std::int64_t>(d / (1 + d * d / 2251799813685248.0));
                }
            }
            if (rtt_phase_ == 0) {
                if (seen_older_high_) {
                    rtt_phase_ = 1;
                    last_edge_ = t;
                    ns_per_block_ += ns_per_block_ / 8;  // back off at the top of the cycle
                }
            } else if (seen_older_low_) {
                rtt_phase_ = 0;
            }
            seen_older_high_ = seen_recent_high_;
            seen_older_low_ = seen_recent_low_;
            seen_recent_high_ = seen_recent_low_ = false;
        }
        // Doubling the rate when no congestion edge was seen for a while.
        const bool recent_edge = t - last_edge_ < 60'000'000'000LL;
        const std::int64_t wait = recent_edge ? 4 * ns_per_block_ + 64 * rtt_timeout_ + 5'000'000'000LL
                                              : 4 * ns_per_block_ + 2 * rtt_timeout_;
        if (t >= last_doubling_ + wait && ns_per_block_ > 65535) {
            ns_per_block_ /= 2;
            last_doubling_ = t;
            if (last_edge_ != 0) last_edge_ = t;
        }
    }

    /// Takes a block's data into the receive side.
    std::error_code absorb(const Block& b) {
        const std::uint64_t stop = b.position + b.data.size();
        if (stop > receive_read_limit() + receive_window) return make_error_code(Error::receive_window_exceeded);
        if (b.end) {
            if (receive_end_ && receive_total_ != stop) return make_error_code(Error::malformed_message);
            if (stop < receive_bytes_) return make_error_code(Error::malformed_message);
            receive_end_ = b.end;
            receive_total_ = stop;
        }
        if (receive_end_ && stop > receive_total_) return make_error_code(Error::malformed_message);
        if (stop <= receive_bytes_ || b.data.empty()) return {};  // a duplicate, or a ping
        // Keep only the part beyond what is already in order; out-of-order parts wait.
        std::uint64_t start = std::max(b.position, receive_bytes_);
        ByteView part = b.data.subspan(start - b.position);
        if (start > receive_bytes_) {
            // Bounded: an authenticated peer still cannot make us hold more than
            // max_blocks pieces (the rest is dropped and will be retransmitted).
            if (out_of_order_.size() >= max_blocks && !out_of_order_.count(start)) return {};
            auto& slot = out_of_order_[start];
            if (slot.size() < part.size()) slot.assign(part.begin(), part.end());
            return {};
        }
        append_in_order(part);
        // Pull in whatever out-of-order data now continues the stream.
        while (!out_of_order_.empty() && out_of_order_.begin()->first <= receive_bytes_) {
            auto node = out_of_order_.extract(out_of_order_.begin());
            const std::uint64_t s = node.key();
            const Bytes& d = node.mapped();
            if (s + d.size() > receive_bytes_) append_in_order(ByteView(d).subspan(receive_bytes_ - s));
        }
        return {};
    }
    void append_in_order(ByteView part) {
        if (delivered_offset_ != 0 && delivered_offset_ == delivered_.size()) consume_all();
        delivered_.insert(delivered_.end(), part.begin(), part.end());
        receive_bytes_ += part.size();
    }
    std::uint64_t receive_read_limit() const noexcept { return receive_bytes_ - (delivered_.size() - delivered_offset_); }

    // send side
    Bytes send_ring_;  // send_capacity bytes once anything was written
    std::uint64_t send_acked_ = 0;      // stream bytes acknowledged (and dropped from the ring)
    std::uint64_t send_bytes_ = 0;      // bytes in the ring after send_acked_
    std::uint64_t send_processed_ = 0;  // of those, bytes already cut into blocks
    std::uint16_t send_end_ = 0;
    bool send_end_processed_ = false, send_end_acked_ = false, want_ping_ = false;
    std::array<Outgoing, max_blocks> blocks_{};
    std::size_t first_block_ = 0, block_count_ = 0;
    std::uint32_t next_id_ = 1;
    std::uint64_t max_block_len_;
    std::uint64_t retransmissions_ = 0;
    std::vector<std::uint32_t> pending_acks_;

    // decongestion state (nanoseconds)
    std::int64_t last_block_time_ = 0, ns_per_block_ = 1'000'000'000, last_speed_adjustment_ = 0;
    std::int64_t last_edge_ = 0, last_doubling_ = 0, last_panic_ = 0;
    std::int64_t rtt_average_ = 0, rtt_deviation_ = 0, rtt_lowwater_ = 0, rtt_highwater_ = 0;
    std::int64_t rtt_timeout_ = 1'000'000'000;
    bool seen_recent_high_ = false, seen_recent_low_ = false, seen_older_high_ = false, seen_older_low_ = false;
    int rtt_phase_ = 0;

    // receive side
    std::uint64_t receive_bytes_ = 0;  // in-order bytes received
    std::uint16_t receive_end_ = 0;
    std::uint64_t receive_total_ = 0;
    Bytes delivered_;                  // in order, not yet taken by the application
    std::size_t delivered_offset_ = 0;
    std::map<std::uint64_t, Bytes> out_of_order_;
};

}  // namespace tapsec::curvecp::message
