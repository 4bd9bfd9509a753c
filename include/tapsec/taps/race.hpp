// taps::initiate(): races a Selection's admitted candidates (RFC 9622 7.1 Initiate with
// RFC 8305-style staggered starts) and returns the first connection whose secure
// handshake completes; the others are cancelled (their protocol's close, then the socket).
//
// Attempts start in rank order, `stagger` apart (RFC 8305's Connection Attempt Delay,
// 250 ms by default): QUIC first, TLS over TCP 250 ms later, for example. When every
// started attempt has failed, the next one starts at once instead of waiting. The whole
// race is bounded by `timeout`; when all attempts fail the outcome lists each one's reason.
//
// Driven by the non-blocking surface of Secure<> (core/secure.hpp): one poll() over every
// attempt's socket, on_readable / on_writable / on_timer, next_timeout for the wake-up.
// Host names are resolved (getaddrinfo, blocking) when each attempt starts.
#pragma once

#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "../core/errors.hpp"
#include "../core/secure.hpp"
#include "../transport/tcp.hpp"
#include "../transport/udp.hpp"
#include "selection.hpp"

namespace tapsec::taps {

/// Where to connect: a name or numeric address (IPv6 without brackets), and a port.
struct Remote {
    std::string host;
    std::uint16_t port = 0;
};

struct RaceOptions {
    /// RFC 8305's Connection Attempt Delay: how long an attempt runs alone before the next starts.
    std::chrono::milliseconds stagger{250};
    /// The whole race, from the first start to the last handshake.
    std::chrono::milliseconds timeout{10'000};
};

/// What became of one candidate in the race.
struct AttemptReport {
    std::string_view name;
    bool started = false;
    bool won = false;
    std::error_code error;  // why it failed (timed_out: still handshaking at the deadline)
    std::chrono::milliseconds started_after{0};  // since the race began
    /// One line: "quic: connection refused", "tls13: not started (quic won first)".
    std::string describe() const {
        std::string line(name);
        if (won) return line + ": won (started at +" + std::to_string(started_after.count()) + " ms)";
        if (!started) return line + ": not started";
        if (!error) return line + ": cancelled (another candidate won)";
        return line + ": " + error.message();
    }
};

namespace race_detail {

/// The first address of `remote` for a socket type (numeric addresses need no lookup).
inline Result<Endpoint> resolve(const Remote& remote, int socket_type) {
    if (auto numeric = Endpoint::parse(remote.host, remote.port)) return *numeric;
    addrinfo hints{};
    hints.ai_socktype = socket_type;
    addrinfo* list = nullptr;
    if (::getaddrinfo(remote.host.c_str(), std::to_string(remote.port).c_str(), &hints, &list) != 0 || !list)
        return Errc::address_invalid;
    auto endpoint = Endpoint::from_sockaddr(list->ai_addr, list->ai_addrlen);
    ::freeaddrinfo(list);
    if (!endpoint) return Errc::address_invalid;
    return *endpoint;
}

/// One candidate's connection attempt, whatever its composition.
class Attempt {
public:
    virtual ~Attempt() = default;
    /// Opens the socket and begins: a TCP connect in progress, or the first flight on UDP.
    virtual std::error_code start(const Remote& remote) = 0;
    virtual int fd() const = 0;
    virtual short events() const = 0;
    virtual std::error_code on_events(short revents) = 0;
    virtual std::optional<Instant> next_timeout() = 0;
    virtual std::error_code on_timer() = 0;
    virtual bool established() const = 0;
    /// Lost the race: sends the protocol's close without waiting (best effort), then drops the socket.
    virtual void cancel() = 0;
};

template <class S>
class SecureAttempt final : public Attempt {
    using T = typename S::transport_type;
    static_assert(std::is_same_v<T, Tcp> || std::is_same_v<T, Udp>,
                  "tapsec: selection: initiate() races compositions over Tcp or Udp");

public:
    explicit SecureAttempt(typename S::Config config) : config_(std::move(config)) {}

    std::error_code start(const Remote& remote) override {
        auto peer = resolve(remote, std::is_same_v<T, Tcp> ? SOCK_STREAM : SOCK_DGRAM);
        if (!peer) return peer.error();
        if constexpr (std::is_same_v<T, Udp>) {
            auto socket = Udp::connect(*peer);
            if (!socket) return socket.error();
            return begin_handshake(std::move(*socket));
        } else {
            transport_detail::FileDescriptor fd(::socket(peer->family(), SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
            if (!fd.valid()) return transport_detail::last_error();
            if (::connect(fd.get(), peer->sockaddr_ptr(), peer->sockaddr_length()) == 0)
                return begin_handshake(Tcp(std::move(fd)));
            if (errno != EINPROGRESS) return connect_error(errno);
            connecting_ = std::move(fd);
            return {};
        }
    }

    int fd() const override { return connection_ ? connection_->native_handle() : connecting_.get(); }
    short events() const override {
        if (!connection_) return POLLOUT;  // TCP connect in progress
        return static_cast<short>(POLLIN | (connection_->wants_write() ? POLLOUT : 0));
    }

    std::error_code on_events(short revents) override {
        if constexpr (std::is_same_v<T, Tcp>) {
            if (!connection_) {
                int error = 0;
                socklen_t length = sizeof error;
                ::getsockopt(connecting_.get(), SOL_SOCKET, SO_ERROR, &error, &length);
                if (error) return connect_error(error);
                return begin_handshake(Tcp(std::move(connecting_)));
            }
        }
        if (revents & (POLLIN | POLLERR | POLLHUP))
            if (auto ec = connection_->on_readable()) return ec;
        if (revents & POLLOUT)
            if (auto ec = connection_->on_writable()) return ec;
        return {};
    }

    std::optional<Instant> next_timeout() override { return connection_ ? connection_->next_timeout() : std::nullopt; }
    std::error_code on_timer() override { return connection_ ? connection_->on_timer() : std::error_code{}; }
    bool established() const override { return connection_ && connection_->is_established(); }

    void cancel() override {
        if (connection_) (void)connection_->begin_close();  // the loser's close is best effort
        connection_.reset();
        connecting_.reset();
    }

    std::unique_ptr<S> take() { return std::move(connection_); }

private:
    static std::error_code connect_error(int error) {
        if (error == ECONNREFUSED) return make_error_code(Errc::connection_refused);
        return {error, std::generic_category()};
    }

    std::error_code begin_handshake(T transport) {
        connection_ = std::make_unique<S>(Role::client, config_, std::move(transport));
        // on_readable() starts the engine (its first flight goes out) and reads nothing
        // yet without waiting: the non-blocking way to begin a handshake.
        return connection_->on_readable();
    }

    typename S::Config config_;
    transport_detail::FileDescriptor connecting_;
    std::unique_ptr<S> connection_;
};

template <class List>
struct connection_variant;
template <class... Cs>
struct connection_variant<candidates<Cs...>> {
    using type = std::variant<std::monostate, std::unique_ptr<typename Cs::secure_type>...>;
};

/// The config for composition S: `source(std::type_identity<S>{})` when the source is
/// callable that way, else the source itself (one config every candidate takes).
template <class S, class Source>
typename S::Config config_for(Source& source) {
    if constexpr (std::is_invocable_v<Source&, std::type_identity<S>>)
        return source(std::type_identity<S>{});
    else
        return typename S::Config(source);
}

}  // namespace race_detail

/// The race's result: the winning connection (as the variant alternative of its
/// candidate's index + 1), and what became of every candidate.
template <class List>
struct RaceOutcome {
    static constexpr std::size_t none = static_cast<std::size_t>(-1);
    typename race_detail::connection_variant<List>::type connection;
    std::size_t winner = none;  // index in the candidate list
    std::string_view name;      // the winner's
    std::vector<AttemptReport> attempts;  // in the order they were (or would have been) started

    explicit operator bool() const { return winner != none; }
    /// "all candidates failed: quic: timed out; tls13: connection refused".
    std::string failure() const {
        std::string out = attempts.empty() ? "no candidate to race" : "all candidates failed: ";
        for (std::size_t i = 0; i < attempts.size(); ++i) out += (i ? "; " : "") + attempts[i].describe();
        return out;
    }
    /// The winning connection if it is candidate `I`'s composition.
    template <std::size_t I>
    auto* get() {
        auto* p = std::get_if<I + 1>(&connection);
        return p ? p->get() : nullptr;
    }
};

namespace race_detail {

/// The attempt for list index `i`, if bit i of `Raceable` allows that composition here
/// (only those are instantiated: a candidate that is never raced needs no attempt code).
template <class List, std::uint64_t Raceable, class ConfigSource>
std::unique_ptr<Attempt> make_attempt(std::size_t i, ConfigSource& configs) {
    std::unique_ptr<Attempt> attempt;
    [&]<std::size_t... I>(std::index_sequence<I...>) {
        (
            [&] {
                if constexpr ((Raceable >> I) & 1u) {
                    using S = typename detail::nth<I, List>::type::secure_type;
                    if (i == I) attempt = std::make_unique<SecureAttempt<S>>(config_for<S>(configs));
                }
            }(),
            ...);
    }(std::make_index_sequence<List::size>{});
    return attempt;
}

/// Moves attempt `i`'s connection into the outcome's variant.
template <class List, std::uint64_t Raceable, class Variant>
void take_connection(std::size_t i, Attempt& attempt, Variant& into) {
    [&]<std::size_t... I>(std::index_sequence<I...>) {
        (
            [&] {
                if constexpr ((Raceable >> I) & 1u) {
                    using S = typename detail::nth<I, List>::type::secure_type;
                    if (i == I) into.template emplace<I + 1>(static_cast<SecureAttempt<S>&>(attempt).take());
                }
            }(),
            ...);
    }(std::make_index_sequence<List::size>{});
}

}  // namespace race_detail

/// Races the candidates of `List` whose indices `order` names, in that order (the
/// ranking's; `tapsec connect auto` ranks at run time). Bit i of `Raceable` must be set
/// for every index in `order`. `configs`: as for initiate() below.
template <class List, std::uint64_t Raceable, class ConfigSource>
RaceOutcome<List> race_in_order(const std::vector<std::size_t>& order, const Remote& remote, ConfigSource&& configs,
                                RaceOptions options = {}) {
    static_assert(List::size <= 64, "tapsec: selection: at most 64 candidates");
    RaceOutcome<List> outcome;
    std::vector<std::unique_ptr<race_detail::Attempt>> attempts;
    std::vector<std::size_t> list_index;  // each attempt's candidate
    for (std::size_t index : order) {
        auto attempt = index < List::size ? race_detail::make_attempt<List, Raceable>(index, configs) : nullptr;
        if (!attempt) continue;  // not raceable here: the caller's order named it anyway
        attempts.push_back(std::move(attempt));
        list_index.push_back(index);
        outcome.attempts.emplace_back();
        outcome.attempts.back().name = List::infos[index].name;
    }

    const std::size_t n = attempts.size();
    std::vector<bool> active(n, false);
    const Instant began = Clock::now();
    const Instant deadline = began + options.timeout;
    std::size_t next = 0;
    Instant next_start = began;
    std::optional<std::size_t> won;

    auto fail = [&](std::size_t i, std::error_code ec) {
        active[i] = false;
        outcome.attempts[i].error = ec;
        attempts[i]->cancel();
    };
    auto any_active = [&] {
        for (bool a : active)
            if (a) return true;
        return false;
    };

    while (!won) {
        Instant now = Clock::now();
        // Start what is due; when nothing is running any more, the next one need not wait.
        while (next < n && (now >= next_start || !any_active()) && now < deadline) {
            const std::size_t i = next++;
            outcome.attempts[i].started = true;
            outcome.attempts[i].started_after = std::chrono::duration_cast<std::chrono::milliseconds>(now - began);
            active[i] = true;
            if (auto ec = attempts[i]->start(remote)) fail(i, ec);
            next_start = now + options.stagger;
        }
        for (std::size_t i = 0; i < n && !won; ++i)
            if (active[i] && attempts[i]->established()) won = i;
        if (won) break;
        if (!any_active() && next >= n) break;  // every candidate failed
        if (now >= deadline) {
            for (std::size_t i = 0; i < n; ++i)
                if (active[i]) fail(i, make_error_code(Errc::timed_out));
            break;
        }
        // Wait for a socket, an engine timer, the next start or the deadline.
        Instant wake = deadline;
        if (next < n) wake = std::min(wake, next_start);
        std::vector<pollfd> fds;
        std::vector<std::size_t> owner;
        for (std::size_t i = 0; i < n; ++i) {
            if (!active[i]) continue;
            if (auto t = attempts[i]->next_timeout()) wake = std::min(wake, *t);
            fds.push_back({attempts[i]->fd(), attempts[i]->events(), 0});
            owner.push_back(i);
        }
        const auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(wake - Clock::now()).count() + 1;
        if (::poll(fds.data(), fds.size(), static_cast<int>(std::clamp<long long>(wait, 0, 1'000'000))) < 0 &&
            errno != EINTR) {
            for (std::size_t i = 0; i < n; ++i)
                if (active[i]) fail(i, transport_detail::last_error());
            break;
        }
        for (std::size_t k = 0; k < fds.size(); ++k)
            if (fds[k].revents && active[owner[k]])
                if (auto ec = attempts[owner[k]]->on_events(fds[k].revents)) fail(owner[k], ec);
        now = Clock::now();
        for (std::size_t i = 0; i < n; ++i)
            if (active[i])
                if (auto t = attempts[i]->next_timeout(); t && *t <= now)
                    if (auto ec = attempts[i]->on_timer()) fail(i, ec);
    }

    if (!won) return outcome;
    // The winner's connection moves into the outcome; every other running attempt is cancelled.
    for (std::size_t i = 0; i < n; ++i)
        if (i != *won && active[i]) attempts[i]->cancel();
    outcome.attempts[*won].won = true;
    outcome.winner = list_index[*won];
    outcome.name = outcome.attempts[*won].name;
    race_detail::take_connection<List, Raceable>(list_index[*won], *attempts[*won], outcome.connection);
    return outcome;
}

/// Races `Sel`'s admitted candidates in rank order to `remote`. `configs` is one config
/// every candidate's Secure<>::Config is built from, or a callable taking
/// std::type_identity<Secure<...>> and returning that composition's config.
template <class Sel, class ConfigSource>
RaceOutcome<typename Sel::candidate_list> initiate(const Remote& remote, ConfigSource&& configs, RaceOptions options = {}) {
    constexpr std::uint64_t admitted_mask = [] {
        std::uint64_t mask = 0;
        for (std::size_t r = 0; r < Sel::admitted; ++r) mask |= std::uint64_t{1} << Sel::ranking.order[r].candidate;
        return mask;
    }();
    std::vector<std::size_t> order;
    for (std::size_t r = 0; r < Sel::admitted; ++r) order.push_back(Sel::ranking.order[r].candidate);
    return race_in_order<typename Sel::candidate_list, admitted_mask>(order, remote, configs, options);
}

}  // namespace tapsec::taps
