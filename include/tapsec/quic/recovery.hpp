// Loss detection and congestion control (RFC 9002): the RTT estimator (5), the probe
// timeout (6.2), packet- and time-threshold loss (6.1), and NewReno (7) with its
// recovery period. The connection owns the sent-packet records; this file holds the
// arithmetic, so the rules can be read beside the RFC.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>

#include "../core/engine.hpp"

namespace tapsec::quic {

using Duration = std::chrono::nanoseconds;

inline constexpr std::uint64_t packet_threshold = 3;                    // 6.1.1
inline constexpr Duration granularity = std::chrono::milliseconds(1);   // 6.1.2
inline constexpr Duration initial_rtt = std::chrono::milliseconds(333);  // 6.2.2

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

}  // namespace tapsec::quic
