// WireGuard's timer constants (whitepaper section 6.1) and their jitter. The engine
// is driven by an Instant passed in, so tests step time instead of sleeping; the
// limits are settings so tests and benchmarks can make rekeying happen quickly.
#pragma once

#include <chrono>
#include <cstdint>

namespace tapsec::wireguard {

using namespace std::chrono_literals;

struct TimerSettings {
    std::uint64_t rekey_after_messages = std::uint64_t{1} << 60;                        // REKEY_AFTER_MESSAGES
    std::uint64_t reject_after_messages = ~std::uint64_t{0} - (std::uint64_t{1} << 13);  // REJECT_AFTER_MESSAGES (2^64 - 2^13 - 1)
    std::chrono::milliseconds rekey_after_time = 120s;                                  // REKEY_AFTER_TIME
    std::chrono::milliseconds reject_after_time = 180s;                                 // REJECT_AFTER_TIME
    std::chrono::milliseconds rekey_attempt_time = 90s;                                 // REKEY_ATTEMPT_TIME
    std::chrono::milliseconds rekey_timeout = 5s;                                       // REKEY_TIMEOUT
    std::chrono::milliseconds keepalive_timeout = 10s;                                  // KEEPALIVE_TIMEOUT
    std::chrono::milliseconds max_jitter = 333ms;  // added to REKEY_TIMEOUT on each retransmission

    /// The receiving side of a session the initiator created asks for a new handshake
    /// this long after the session started (REJECT_AFTER_TIME - KEEPALIVE - REKEY_TIMEOUT).
    std::chrono::milliseconds rekey_on_receive_age() const { return reject_after_time - keepalive_timeout - rekey_timeout; }
    /// Keys nobody renewed are erased after 3 * REJECT_AFTER_TIME.
    std::chrono::milliseconds zero_keys_after() const { return reject_after_time * 3; }
};

/// Under load, handshake messages must carry a valid mac2 (cookie). "Under load" is
/// more than `handshakes_per_second` handshake messages in the last second (and stays
/// on for a second after), or forced by the application.
struct LoadSettings {
    std::size_t handshakes_per_second = 64;
    bool always_under_load = false;
};

/// The fastest a responder accepts initiations from one peer (wireguard-go: 50/s).
inline constexpr std::chrono::milliseconds initiation_min_interval = 20ms;

}  // namespace tapsec::wireguard
