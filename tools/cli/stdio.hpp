// Moves stdin to a secure connection and the connection to stdout, like
// `openssl s_client -quiet`, or lets a Responder (tools/cli/server_modes.hpp: --echo,
// --rev, --www) answer the peer instead. Driven by readiness: one poll() over stdin,
// the socket for reading, and the socket for writing while ciphertext waits, so the
// loop never blocks in send while the peer is blocked sending to us.
//
// stdin EOF, the same for every protocol: our side of the stream is done, the peer's
// data keeps coming to stdout until the peer closes; then the close is answered and the
// exit status is 0. Where the protocol can still receive after sending its close
// (TLS 1.3, tcpcrypt: half_close) the close goes out at once, so the peer learns the
// input ended; where it cannot (TLS 1.2 and DTLS through Botan, whose state ends with our
// close_notify), the close goes out when the peer closes or has sent nothing for `linger`.
#pragma once

#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <concepts>
#include <cstdio>
#include <cstring>
#include <functional>
#include <optional>
#include <string>

#include <tapsec/core/errors.hpp>

#include "registry.hpp"

namespace tapsec::cli {

/// What answers the peer instead of stdin/stdout (the server modes).
class Responder {
public:
    virtual ~Responder() = default;
    /// Plaintext from the peer; appends what to send back to `reply`. Returns true when
    /// the connection should close once `reply` is sent.
    virtual bool on_data(ByteView in, Bytes& reply) = 0;
};

/// Application bytes each way through a connection (for the exit summary).
struct TrafficCount {
    std::uint64_t sent = 0, received = 0;
};

struct PumpOptions {
    /// After stdin ended (or after our close): how long the peer may stay silent before
    /// we close and exit 0.
    std::chrono::milliseconds linger = std::chrono::seconds(2);
    /// The protocol still receives after sending its close (see the top of this file).
    bool half_close = true;
    bool quiet = false;
    /// Called after each round of I/O (e.g. to print the connection's events).
    std::function<void()> on_progress;
    /// Answers the peer instead of stdin/stdout when set.
    Responder* responder = nullptr;
    /// Counts the application bytes moved, when set.
    TrafficCount* count = nullptr;
};

/// The non-blocking surface of Secure<> (core/secure.hpp).
template <class C>
concept NonBlockingConnection = requires(C& c, ByteView data) {
    { c.native_handle() } -> std::convertible_to<int>;
    { c.wants_write() } -> std::same_as<bool>;
    { c.pending_write_bytes() } -> std::same_as<std::size_t>;
    { c.send_nonblocking(data) } -> std::same_as<std::error_code>;
    { c.on_writable() } -> std::same_as<std::error_code>;
    { c.on_readable() } -> std::same_as<std::error_code>;
    { c.take_received() } -> std::same_as<std::optional<Bytes>>;
    { c.peer_closed() } -> std::same_as<bool>;
    { c.next_timeout() } -> std::same_as<std::optional<Instant>>;
    { c.on_timer() } -> std::same_as<std::error_code>;
    { c.begin_close() } -> std::same_as<std::error_code>;
};

namespace stdio_detail {

/// stdin is read only while less than this waits for the socket: memory stays bounded
/// when the peer reads slowly.
inline constexpr std::size_t max_unsent = 256 * 1024;

inline bool is_reset(std::error_code ec) {
    return ec == make_error_code(Errc::connection_reset) || ec == std::errc::broken_pipe;
}

inline int poll_timeout_ms(std::optional<Instant> wake) {
    if (!wake) return -1;
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(*wake - Clock::now()).count() + 1;
    return static_cast<int>(std::clamp<long long>(ms, 0, 1'000'000'000));
}

/// A connection whose close is a handshake of its own (MinimaLT, CurveCP over UDP: the
/// engine retransmits until the peer acknowledges): finish() starts the final close,
/// finished() says it was acknowledged (or the peer ended the session first).
template <class C>
concept AcknowledgedClose = requires(C& c) {
    { c.finish() } -> std::same_as<std::error_code>;
    { c.finished() } -> std::same_as<bool>;
};

/// A connection whose peer acknowledges what we sent: unacknowledged_bytes() falling is
/// progress, so the linger clock and the final close wait while a long send drains.
template <class C>
concept AcknowledgedSend = requires(C& c) {
    { c.unacknowledged_bytes() } -> std::same_as<std::size_t>;
};

/// Tracks AcknowledgedSend progress: true when unacknowledged bytes fell since last asked.
struct AcknowledgementProgress {
    std::size_t last = static_cast<std::size_t>(-1);
    template <class C>
    bool advanced(C& c) {
        if constexpr (AcknowledgedSend<C>) {
            const std::size_t now = c.unacknowledged_bytes();
            const bool fell = now < last;
            last = now;
            return fell;
        } else {
            (void)c;
            return false;
        }
    }
};

/// A connection that bounds what it takes from stdin itself (a reliable datagram
/// engine's send window): input_room() bytes now, 0 to stop reading.
template <class C>
concept BoundedInput = requires(C& c) {
    { c.input_room() } -> std::same_as<std::size_t>;
};

/// After the peer's clean close: our answer (already queued by the engine) and the
/// shutdown of our write side go out, bounded by `deadline`; best effort, since the
/// peer may already have dropped the socket. With an AcknowledgedClose, the final close
/// runs until the peer acknowledges it; an error when it does not by `deadline`, since
/// what we sent may not have arrived.
template <NonBlockingConnection C>
std::error_code finish_close(C& c, Instant deadline) {
    if constexpr (AcknowledgedClose<C>) {
        if (auto ec = c.finish()) return ec;
        const auto window = deadline - Clock::now();
        AcknowledgementProgress progress;
        while (!c.finished()) {
            if (progress.advanced(c)) deadline = Clock::now() + window;  // still draining
            std::optional<Instant> wake = c.next_timeout();
            wake = wake ? std::min(*wake, deadline) : deadline;
            pollfd p{c.native_handle(), POLLIN, 0};
            const int timeout = poll_timeout_ms(wake);
            if (timeout == 0 && Clock::now() >= deadline) return make_error_code(Errc::timed_out);
            if (::poll(&p, 1, timeout) < 0 && errno != EINTR) return std::error_code(errno, std::system_category());
            if (p.revents & (POLLIN | POLLERR))
                if (auto ec = c.on_readable()) return c.finished() ? std::error_code{} : ec;
            if (auto ec = c.on_timer()) return ec;
        }
        return {};
    }
    c.begin_close();
    while (c.wants_write()) {
        pollfd p{c.native_handle(), POLLOUT, 0};
        const int timeout = poll_timeout_ms(deadline);
        if (timeout == 0 || ::poll(&p, 1, timeout) == 0) return {};
        if (c.on_writable()) return {};
    }
    return {};
}

/// finish_close() as the end of pump(): exit 0, or 1 with one line when a close that
/// needs the peer's acknowledgement did not get it.
template <NonBlockingConnection C>
int end_session(C& c, Instant deadline) {
    if (auto ec = finish_close(c, deadline))
        return fail("the peer did not acknowledge the end of the connection (" + ec.message() +
                    "): what we sent may not all have arrived");
    return 0;
}

/// How many stdin bytes to read now (0: leave stdin unread until the connection takes more).
template <NonBlockingConnection C>
std::size_t stdin_room(C& c, std::size_t buffer) {
    if constexpr (BoundedInput<C>)
        return std::min(buffer, c.input_room());
    else
        return c.pending_write_bytes() < max_unsent ? buffer : 0;
}

/// After the peer's close (TLS 1.3 6.1: its close ends only its own write side): what
/// stdin already holds still goes out before ours, written as the socket takes it, so
/// `echo y | tapsec listen` sends "y" even when the client's close came first. Only what
/// is readable now: a terminal left open is not waited for. An error when the
/// connection can no longer send (the engine answered the close itself), so input is
/// never dropped silently.
template <NonBlockingConnection C>
std::error_code send_remaining_stdin(C& c, MutableByteView buffer, TrafficCount* count, Instant deadline) {
    for (;;) {
        pollfd in{0, POLLIN, 0};
        if (::poll(&in, 1, 0) <= 0 || !(in.revents & (POLLIN | POLLHUP))) return {};
        std::size_t room = 0;
        while ((room = stdin_room(c, buffer.size())) == 0) {  // bounded: let the peer take some first
            std::optional<Instant> wake = c.next_timeout();
            wake = wake ? std::min(*wake, deadline) : deadline;
            const int timeout = poll_timeout_ms(wake);
            if (timeout == 0 && Clock::now() >= deadline) return make_error_code(Errc::timed_out);
            pollfd net{c.native_handle(), static_cast<short>(POLLIN | (c.wants_write() ? POLLOUT : 0)), 0};
            if (::poll(&net, 1, timeout) < 0 && errno != EINTR) return std::error_code(errno, std::system_category());
            if (net.revents & POLLOUT)
                if (auto ec = c.on_writable()) return ec;
            if (net.revents & (POLLIN | POLLERR))
                if (auto ec = c.on_readable()) return ec;
            if (auto ec = c.on_timer()) return ec;
        }
        const ssize_t n = ::read(0, buffer.data(), room);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return {};
        if (auto ec = c.send_nonblocking(ByteView(buffer.data(), static_cast<std::size_t>(n)))) return ec;
        if (count) count->sent += static_cast<std::size_t>(n);
    }
}

}  // namespace stdio_detail

/// Runs until the peer closes (exit 0), stdin ends and the peer then closes or stays
/// silent for `linger` (exit 0), or an error (one line on stderr, exit 1).
template <NonBlockingConnection C>
int pump(C& c, const PumpOptions& options) {
    using namespace stdio_detail;
    bool stdin_open = options.responder == nullptr;
    bool closing = false;  // our close is queued or sent
    auto heard_from = Clock::now();  // the last progress: data in, data out, stdin ending, acknowledgements
    AcknowledgementProgress acknowledged;
    std::array<std::uint8_t, 16384> buffer{};

    auto deliver = [&]() -> std::error_code {
        bool wrote = false;
        while (auto data = c.take_received()) {
            heard_from = Clock::now();
            if (options.count) options.count->received += data->size();
            if (!options.responder) {
                std::fwrite(data->data(), 1, data->size(), stdout);
                wrote = true;
                continue;
            }
            Bytes reply;
            const bool done = options.responder->on_data(*data, reply);
            if (closing) continue;
            if (!reply.empty()) {
                if (auto ec = c.send_nonblocking(reply)) return ec;
                if (options.count) options.count->sent += reply.size();
            }
            if (done) {
                closing = true;
                if (auto ec = c.begin_close()) return ec;
            }
        }
        if (wrote) std::fflush(stdout);
        return {};
    };
    // An error from the connection: some are how a close looks from here.
    auto ended = [&](std::error_code ec, const char* what) -> int {
        deliver();  // what was decrypted before the error still goes out
        if (options.on_progress) options.on_progress();
        // The peer's close arrived and was answered; it dropped the socket under the answer.
        if (c.peer_closed() && is_reset(ec)) return 0;
        if (closing && (ec == make_error_code(Errc::truncated) || is_reset(ec))) {
            // We closed first and the peer then ended the stream without answering (as
            // gnutls-cli and openssl s_server do): a close, but not an authenticated one.
            if (!options.quiet && ec == make_error_code(Errc::truncated))
                std::fprintf(stderr, "tapsec: the peer ended the stream without answering our close\n");
            return 0;
        }
        return fail(std::string(what) + ec.message());
    };

    for (;;) {
        // Everything already decrypted is delivered before waiting again: a data record
        // and the close after it, read together, end the loop now, not after a timeout.
        if (auto ec = deliver()) return ended(ec, "send failed: ");
        if (options.on_progress) options.on_progress();
        if (c.peer_closed()) {
            if (stdin_open && !options.responder && !closing)
                if (auto ec = send_remaining_stdin(c, MutableByteView(buffer), options.count, Clock::now() + options.linger))
                    return fail("the peer closed the connection before our input was all sent (" + ec.message() + ")");
            return end_session(c, Clock::now() + options.linger);
        }
        if (acknowledged.advanced(c)) heard_from = Clock::now();
        // The linger clock runs once our side is done.
        const bool lingering = closing || (!stdin_open && !options.responder);
        std::optional<Instant> wake = c.next_timeout();
        if (lingering) {
            const Instant give_up = heard_from + options.linger;
            if (Clock::now() >= give_up) {
                if (!closing || AcknowledgedClose<C>) return end_session(c, Clock::now() + options.linger);
                return 0;
            }
            wake = wake ? std::min(*wake, give_up) : give_up;
        }
        const std::size_t room = stdin_open ? stdin_room(c, buffer.size()) : 0;
        const bool read_stdin = room > 0;
        // Asked each round: a connection may move to a new socket (MinimaLT's roaming).
        pollfd fds[2] = {{c.native_handle(), static_cast<short>(POLLIN | (c.wants_write() ? POLLOUT : 0)), 0},
                         {read_stdin ? 0 : -1, POLLIN, 0}};
        if (::poll(fds, 2, poll_timeout_ms(wake)) < 0) {
            if (errno == EINTR) continue;
            return fail(std::string("poll failed: ") + std::strerror(errno));
        }
        // Reading first: a close that arrived explains a write error that follows.
        if (fds[0].revents & (POLLIN | POLLHUP | POLLERR))
            if (auto ec = c.on_readable()) return ended(ec, "");
        if (fds[0].revents & POLLOUT) {
            const auto before = c.pending_write_bytes();
            if (auto ec = c.on_writable()) return ended(ec, "send failed: ");
            if (c.pending_write_bytes() != before) heard_from = Clock::now();
        }
        if (fds[1].revents & (POLLIN | POLLHUP | POLLERR)) {
            const ssize_t n = ::read(0, buffer.data(), room);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) {
                stdin_open = false;
                heard_from = Clock::now();
                if (options.half_close) {
                    closing = true;
                    if (auto ec = c.begin_close()) return ended(ec, "close failed: ");
                }
            } else if (auto ec = c.send_nonblocking(ByteView(buffer.data(), static_cast<std::size_t>(n)))) {
                return ended(ec, "send failed: ");
            } else if (options.count) {
                options.count->sent += static_cast<std::size_t>(n);
            }
        }
        if (auto ec = c.on_timer()) return ended(ec, "");
    }
}

/// The readiness-driven pump for Secure<> connections; the polling loop below for the
/// datagram media adapters (rtp_stdio.hpp), which have no non-blocking surface and
/// whose sends never wait on the peer.
template <class Connection>
int pump_stdio(Connection& connection, int transport_fd, std::chrono::milliseconds linger = std::chrono::seconds(2)) {
    if constexpr (NonBlockingConnection<Connection>) {
        (void)transport_fd;
        PumpOptions options;
        options.linger = linger;
        return pump(connection, options);
    } else {
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
}

}  // namespace tapsec::cli
