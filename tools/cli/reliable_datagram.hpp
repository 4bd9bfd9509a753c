// Puts a composition whose engine makes UDP reliable itself (MinimaLT, CurveCP: it
// acknowledges, retransmits and bounds its send window) under pump() (stdio.hpp).
// The NonBlockingConnection surface is taken from the engine directly: Secure<>'s own
// begin_close() shuts the socket once its outbox is empty, which on these compositions
// would drop the retransmissions of what the peer has not acknowledged yet.
//
// A protocol supplies, in the derived class: advance(now) (what the protocol does after
// each round: deferred closes, roaming), session_over() (nothing more will arrive), and
// finished() (our final close was acknowledged); input_room() bounds stdin.
#pragma once

#include <array>
#include <optional>

#include <tapsec/core/engine.hpp>

#include "stdio.hpp"

namespace tapsec::cli {

template <class Derived, class Connection>
class ReliableDatagramSession {
public:
    explicit ReliableDatagramSession(Connection& connection) : connection_(connection) {}

    int native_handle() const { return connection_.transport().native_handle(); }
    bool wants_write() const { return false; }  // datagrams go out as the engine makes them
    std::size_t pending_write_bytes() const { return 0; }

    std::error_code send_nonblocking(ByteView data) {
        if (auto ec = engine().send(data, Clock::now())) return ec;
        sent_ += data.size();
        return progress();
    }
    std::error_code on_writable() { return {}; }

    /// Every datagram that arrived, without waiting, then the engine's answers.
    std::error_code on_readable() {
        for (;;) {
            Endpoint from;
            auto got = connection_.transport().receive_from(buffer_, Clock::now(), from);
            if (!got) {
                if (got.error() == make_error_code(Errc::timed_out)) break;
                return got.error();
            }
            if (auto ec = engine().receive(ByteView(buffer_.data(), *got), from, Clock::now())) return ec;
        }
        return progress();
    }

    std::optional<Bytes> take_received() {
        if (auto view = engine().poll_plaintext()) return Bytes(view->begin(), view->end());
        return std::nullopt;
    }

    std::optional<Instant> next_timeout() { return engine().next_timeout(); }
    std::error_code on_timer() {
        const Instant now = Clock::now();
        if (auto t = engine().next_timeout(); t && *t <= now)
            if (auto ec = engine().on_timeout(now)) return ec;
        return progress();
    }

    /// Our input ended: the protocol ends our sending once the peer has everything.
    std::error_code begin_close() {
        closing_ = true;
        return progress();
    }
    /// The session is over for us: the protocol's final close, acknowledged (finished()).
    std::error_code finish() {
        closing_ = finishing_ = true;
        return progress();
    }
    bool peer_closed() { return self().session_over(); }

    SessionInfo info() const { return connection_.info(); }
    /// A Responder answers the peer (--echo/--rev/--www): our side ends when the peer's does.
    bool answers_only = false;

protected:
    auto& engine() { return connection_.engine(); }
    Derived& self() { return static_cast<Derived&>(*this); }

    /// The protocol's step, then everything the engine queued goes out.
    std::error_code progress() {
        if (auto ec = self().advance(Clock::now())) return ec;
        while (auto t = engine().poll_transmit(MutableByteView(transmit_))) {
            const Endpoint to = t->to ? *t->to : connection_.transport().peer_endpoint();
            if (auto ec = connection_.transport().send_to(ByteView(transmit_.data(), t->size), to)) return ec;
        }
        return {};
    }

    Connection& connection_;
    bool closing_ = false, finishing_ = false;
    std::uint64_t sent_ = 0;  // application bytes accepted (MinimaLT roams after a number of them)

private:
    std::array<std::uint8_t, 65536> buffer_{};
    std::array<std::uint8_t, max_transmit_size> transmit_{};
};

}  // namespace tapsec::cli
