// Moves stdin to a secure connection and the connection to stdout, like
// `openssl s_client -quiet`. Streams forward bytes as they come; datagram
// compositions send each chunk read from stdin (a line, when typed) as one datagram.
#pragma once

#include <poll.h>
#include <unistd.h>

#include <cstdio>
#include <string>

#include <tapsec/core/errors.hpp>

#include "registry.hpp"

namespace tapsec::cli {

/// Runs until the peer closes (exit 0), stdin ends and the peer then closes or goes
/// quiet for `linger` (exit 0), or an error (one line on stderr, exit 1).
template <class Connection>
int pump_stdio(Connection& connection, int transport_fd, std::chrono::milliseconds linger = std::chrono::seconds(2)) {
    bool stdin_open = true;
    auto quiet_since = Clock::now();
    std::array<std::uint8_t, 16384> buffer{};
    for (;;) {
        pollfd fds[2] = {{transport_fd, POLLIN, 0}, {stdin_open ? 0 : -1, POLLIN, 0}};
        ::poll(fds, 2, 20);
        if (fds[1].revents & (POLLIN | POLLHUP)) {
            ssize_t n = ::read(0, buffer.data(), buffer.size());
            if (n <= 0) {
                stdin_open = false;
                quiet_since = Clock::now();
                if (auto ec = connection.close()) return fail("close failed: " + ec.message());
            } else if (auto ec = connection.send(ByteView(buffer.data(), static_cast<std::size_t>(n)))) {
                return fail("send failed: " + ec.message());
            }
        }
        // Also called without input, so retransmission and other timers run.
        auto message = connection.receive_message(std::chrono::milliseconds(0));
        if (!message) {
            if (message.error() == make_error_code(Errc::timed_out)) {
                if (!stdin_open && Clock::now() - quiet_since > linger) return 0;
                continue;
            }
            if (!stdin_open && message.error() == make_error_code(Errc::connection_reset)) return 0;
            return fail(message.error().message());
        }
        if (message->empty()) return 0;  // clean, authenticated close by the peer
        quiet_since = Clock::now();
        std::fwrite(message->data(), 1, message->size(), stdout);
        std::fflush(stdout);
    }
}

}  // namespace tapsec::cli
