// Loss detection and congestion control (RFC 9002): the RTT estimator (5), the probe
// timeout (6.2), packet- and time-threshold loss (6.1), NewReno (7) with its recovery
// period, persistent congestion (7.6) and the pacer (7.7). The connection owns the
// sent-packet records; this file holds the arithmetic, so the rules can be read beside
// the RFC.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <optional>

#include "../core/engine.hpp"

namespace tapsec::quic {

using Duration = std::chrono::nanoseconds;

inline constexpr std::uint64_t packet_threshold = 3;                    // 6.1.1
inline constexpr Duration granularity = std::chrono::milliseconds(1);   // 6.1.2
inline constexpr Duration initial_rtt = std::chrono::milliseconds(333);  // 6.2.2
inline constexpr unsigned persistent_congestion_threshold = 3;          // 7.6.1

/// RFC 9002 5: latest, min, smoothed RTT and its variation.
struct RttEstimator {
    Duration latest{0}, min{0}, smoothed = initial_rtt, variation = initial_rtt / 2;
    bool has_sample = false;

    void update(Duration sample, Duration ack_delay, bool handshake_confirmed, Duration max_ack_delay) {
        latest = sample;
        if (!has_sample) {
            has_sample = true;
            min = sample;
            smoothed = sample;
            variation = sample / 2;
            return;
        }
        min = std::min(min, sample);
        if (handshake_confirmed) ack_delay = std::min(ack_delay, max_ack_delay);
        Duration adjusted = sample;
        if (sample >= min + ack_delay) adjusted = sample - ack_delay;
        const Duration diff = smoothed > adjusted ? smoothed - adjusted : adjusted - smoothed;
        variation = (3 * variation + diff) / 4;
        smoothed = (7 * smoothed + adjusted) / 8;
    }
    /// 6.1.2: time threshold for declaring a packet lost.
    Duration loss_delay() const {
        return std::max<Duration>(9 * std::max(smoothed, latest) / 8, granularity);
    }
    /// 6.2.1: the probe timeout before backoff (max_ack_delay added for 1-RTT only).
    Duration pto(Duration max_ack_delay) const {
        return smoothed + std::max<Duration>(4 * variation, granularity) + max_ack_delay;
    }
};

/// NewReno (RFC 9002 7, B): a congestion window in bytes and one recovery period.
struct NewReno {
    std::size_t max_datagram = 1200;
    std::size_t window = 10 * 1200;
    std::size_t ssthresh = ~std::size_t{0};
    std::size_t in_flight = 0;
    std::optional<Instant> recovery_start;
    std::uint64_t congestion_events = 0;

    void on_sent(std::size_t bytes) { in_flight += bytes; }
    bool can_send(std::size_t bytes) const { return in_flight + bytes <= window; }

    void on_acked(std::size_t bytes, Instant sent_time) {
        in_flight -= std::min(in_flight, bytes);
        if (recovery_start && sent_time <= *recovery_start) return;  // no growth in recovery
        if (window < ssthresh) window += bytes;                       // slow start
        else window += max_datagram * bytes / window;                 // congestion avoidance
    }
    void on_removed(std::size_t bytes) { in_flight -= std::min(in_flight, bytes); }

    void on_lost(std::size_t bytes, Instant sent_time, Instant now) {
        in_flight -= std::min(in_flight, bytes);
        if (recovery_start && sent_time <= *recovery_start) return;  // one reduction per round trip
        recovery_start = now;
        ++congestion_events;
        ssthresh = std::max(window / 2, 2 * max_datagram);
        window = ssthresh;
    }
    /// 7.6.2: persistent congestion collapses the window to the minimum.
    void on_persistent_congestion() {
        window = 2 * max_datagram;
        recovery_start.reset();
    }
};

/// 7.6.1: how long a span of loss must last to count as persistent congestion. Unlike
/// the PTO, max_ack_delay is included whatever the packet number space.
inline Duration persistent_congestion_duration(const RttEstimator& rtt, Duration max_ack_delay) {
    return persistent_congestion_threshold * rtt.pto(max_ack_delay);
}

/// 7.6.2: fed the packets one acknowledgement (or loss timer) declares lost, in packet
/// number order; finds two ack-eliciting ones, both sent after the first RTT sample,
/// at least `duration` apart, with nothing acknowledged between them. Acknowledged
/// packets are gone from the sender's records, so a gap in the packet numbers counts as
/// "acknowledged between" (conservative: a number the sender never recorded, e.g. a
/// PATH_RESPONSE packet, also ends the run).
class PersistentCongestionCheck {
public:
    PersistentCongestionCheck(Duration duration, std::optional<Instant> first_rtt_sample)
        : duration_(duration), first_rtt_sample_(first_rtt_sample) {}

    void on_lost(std::uint64_t packet_number, Instant sent, bool ack_eliciting) {
        if (any_lost_ && packet_number != previous_ + 1) in_run_ = false;
        any_lost_ = true;
        previous_ = packet_number;
        // A period starts only after an RTT sample (before it, the PTO ran on the
        // initial 333 ms and says nothing about this path).
        if (!first_rtt_sample_ || sent <= *first_rtt_sample_) {
            in_run_ = false;
            return;
        }
        if (!ack_eliciting) return;  // an end must be ack-eliciting: only those must be acknowledged in time
        if (!in_run_) {
            in_run_ = true;
            run_start_ = sent;
        } else if (sent - run_start_ >= duration_) {
            found_ = true;
        }
    }
    bool found() const noexcept { return found_; }

private:
    Duration duration_;
    std::optional<Instant> first_rtt_sample_;
    // Plain fields with flags, not std::optional: GCC 12 -O2 warns maybe-uninitialized on these.
    Instant run_start_{};            // the first ack-eliciting packet of the current run, when in_run_
    std::uint64_t previous_ = 0;     // the last packet number fed, when any_lost_
    bool in_run_ = false, any_lost_ = false, found_ = false;
};

/// 7.7: the pacer. A token bucket kept as one instant (the "theoretical arrival time"
/// of the bucket running empty), so repeated small steps lose nothing to rounding:
/// the bucket fills at rate = gain * window / smoothed_rtt (gain 5/4, the RFC's N =
/// 1.25, so that pacing does not itself hold the sender below its window) and holds a
/// burst of `burst_datagrams` full datagrams. Sans-I/O: it only says when the next
/// datagram may go; the connection reports that through next_timeout().
/// Not paced (the connection's rules): packets that carry only ACKs, probes, and
/// everything before the first RTT sample (there is no rate yet).
class Pacer {
public:
    static constexpr std::uint64_t gain_numerator = 5, gain_denominator = 4;

    /// The burst is the larger of `burst_datagrams` and what the rate sends in
    /// `burst_time`: a host wakes a sleeping sender only every few tens of microseconds,
    /// so a burst smaller than the rate's worth of a timer tick would let the pacer, not
    /// the window, set the speed (on loopback the paced gap is a few microseconds). 1 ms
    /// is what Linux TCP's pacing sends per burst as well (its TSO autosizing).
    explicit Pacer(std::size_t burst_datagrams = 10, std::size_t max_datagram = 1200,
                   Duration burst_time = std::chrono::milliseconds(1))
        : burst_datagrams_(burst_datagrams), max_datagram_(max_datagram), burst_time_(burst_time) {}

    /// The time `bytes` take at the paced rate (0 when there is no rate: an RTT of 0).
    static Duration interval(std::size_t bytes, std::size_t window, Duration smoothed_rtt) {
        if (window == 0 || smoothed_rtt <= Duration(0)) return Duration(0);
        // bytes * srtt stays far below 2^64 ns·bytes (1e5 bytes * 1e11 ns = 1e16).
        const auto ns = static_cast<std::uint64_t>(smoothed_rtt.count());
        const std::uint64_t num = static_cast<std::uint64_t>(bytes) * ns * gain_denominator;
        const std::uint64_t den = static_cast<std::uint64_t>(window) * gain_numerator;
        return Duration(static_cast<Duration::rep>((num + den - 1) / den));  // rounded up: never faster than the rate
    }

    /// When a full datagram may next go; at or before `now` means now.
    Instant next_send_time(Instant now, std::size_t window, Duration smoothed_rtt) const {
        if (!started_ || burst_datagrams_ == 0) return now;
        // The burst allowance: the bucket holds `burst` datagrams, so a datagram may start
        // while the bucket's "empty" instant is less than burst-1 datagrams ahead.
        // (burst-1) times one datagram's interval, rounded as on_sent rounds each one;
        // or the burst time's worth, when that is more.
        const Duration one = interval(max_datagram_, window, smoothed_rtt);
        const Duration tolerance =
            std::max(static_cast<Duration::rep>(burst_datagrams_ - 1) * one, burst_time_ - one);
        return empty_at_ - tolerance;
    }
    bool can_send(Instant now, std::size_t window, Duration smoothed_rtt) const {
        return next_send_time(now, window, smoothed_rtt) <= now;
    }
    /// `bytes` went out at `now` (in-flight packets only).
    void on_sent(std::size_t bytes, Instant now, std::size_t window, Duration smoothed_rtt) {
        if (burst_datagrams_ == 0) return;
        const Instant from = started_ && empty_at_ > now ? empty_at_ : now;  // an idle bucket is full again
        empty_at_ = from + interval(bytes, window, smoothed_rtt);
        started_ = true;
    }
    /// A new path or a reset congestion state: the next flight starts with a full bucket.
    void reset() { started_ = false; }
    std::size_t burst_datagrams() const noexcept { return burst_datagrams_; }

private:
    std::size_t burst_datagrams_, max_datagram_;
    Duration burst_time_;
    Instant empty_at_{};    // when the bucket runs empty at the current rate, once started_
    bool started_ = false;  // (not std::optional: GCC 12 -O2 warns maybe-uninitialized on it)
};

}  // namespace tapsec::quic
