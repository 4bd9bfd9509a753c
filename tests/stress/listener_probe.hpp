// What the stress tests read about a listener from outside: its resident memory
// (/proc/PID/status) and its UDP socket (/proc/net/udp): bound yet, and how many bytes
// wait unread in its receive queue. Waiting on these instead of sleeping keeps the
// tests bounded by events, not by guesses about the machine's speed.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <sstream>
#include <string>
#include <thread>

#include "support/process.hpp"

namespace tapsec::test {

/// VmRSS of a process in KiB (0 if unreadable).
inline std::size_t rss_kib(pid_t pid) {
    const std::string status = read_file("/proc/" + std::to_string(pid) + "/status");
    const auto at = status.find("VmRSS:");
    if (at == std::string::npos) return 0;
    return std::strtoull(status.c_str() + at + 6, nullptr, 10);
}

/// The IPv4 UDP socket bound to `port` as /proc/net/udp shows it.
struct UdpSocketState {
    std::size_t receive_queue = 0;  // bytes queued unread
    std::size_t drops = 0;          // datagrams the kernel dropped (receive buffer full)
};

inline std::optional<UdpSocketState> udp_socket(std::uint16_t port) {
    std::istringstream table(read_file("/proc/net/udp"));
    std::string line;
    std::getline(table, line);  // header
    char wanted[8];
    std::snprintf(wanted, sizeof wanted, ":%04X", static_cast<unsigned>(port));
    while (std::getline(table, line)) {
        std::istringstream fields(line);
        std::string slot, local, remote, state, queues, field, last;
        fields >> slot >> local >> remote >> state >> queues;
        if (local.size() < 5 || local.compare(local.size() - 5, 5, wanted) != 0) continue;
        const auto colon = queues.find(':');
        if (colon == std::string::npos) continue;
        while (fields >> field) last = field;  // the last column counts the drops
        return UdpSocketState{std::strtoull(queues.c_str() + colon + 1, nullptr, 16), std::strtoull(last.c_str(), nullptr, 10)};
    }
    return std::nullopt;
}

/// Bytes queued unread on the IPv4 UDP socket bound to `port`; nullopt while none is bound.
inline std::optional<std::size_t> udp_receive_queue(std::uint16_t port) {
    auto socket = udp_socket(port);
    if (!socket) return std::nullopt;
    return socket->receive_queue;
}

/// Polls `condition` every `interval` until it holds or `timeout` passes.
template <class Condition>
bool wait_until(Condition condition, std::chrono::milliseconds timeout,
                std::chrono::microseconds interval = std::chrono::milliseconds(10)) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!condition()) {
        if (std::chrono::steady_clock::now() >= deadline) return false;
        std::this_thread::sleep_for(interval);
    }
    return true;
}

/// Waits until a UDP socket is bound to `port` (the listener is up).
inline bool wait_for_udp_listener(std::uint16_t port, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    return wait_until([&] { return udp_receive_queue(port).has_value(); }, timeout);
}

/// Waits until the listener has read everything queued on its socket (it kept up).
inline bool wait_for_drained(std::uint16_t port, std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
    // Polled often: senders pace themselves on this between short bursts.
    return wait_until([&] { return udp_receive_queue(port).value_or(0) == 0; }, timeout, std::chrono::microseconds(500));
}

}  // namespace tapsec::test
