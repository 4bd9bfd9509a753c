// Secure<Handshake, Record, Transport, Crypto>: one composition of the survey's
// three axes. It checks the composition at compile time against the one list of
// rules in composition.hpp (a broken rule is one static_assert line naming it),
// computes the composition's features, and drives the sans-I/O engine over the transport with the Section 6 interface.
#pragma once

#include <algorithm>
#include <deque>
#include <optional>
#include <string_view>
#include <utility>

#include "../crypto/provider.hpp"
#include "bounded_queue.hpp"
#include "compiled_engine.hpp"
#include "composition.hpp"
#include "dependencies.hpp"
#include "engine.hpp"
#include "errors.hpp"
#include "features.hpp"

namespace tapsec {

/// The composition's features: what the handshake, record and transport declare,
/// minus what the transport makes impossible. Connection mobility (5.2 CM) needs a
/// transport whose 5-tuple may change under a live connection, i.e. datagrams
/// (the survey marks TLS "U*: on TCP"). A record that carries its handshake may
/// withhold handshake features it does not carry (`using withholds = features<...>`).
template <class H, class R, class T>
constexpr FeatureSet composition_features() noexcept {
    FeatureSet set = declared_features<H>() | declared_features<R>() | declared_features<T>();
    if constexpr (!offers<T, dependency::datagram>())
        set = set.without(std::uint64_t{1} << feature::connection_mobility::bit);
    if constexpr (requires { typename R::withholds; })
        set = set.without(feature_mask<typename R::withholds>());
    return set;
}

namespace detail {
struct InvalidEngine {
    template <class... A>
    explicit InvalidEngine(A&&...) {}
};
template <bool Valid, class H, class R, class C>
struct engine_for { using type = InvalidEngine; };
template <class H, class R, class C>
struct engine_for<true, H, R, C> {
    // Separate compilation: a shipped composition's engine comes from tapsec::compiled.
    using type = std::conditional_t<compiled_composition<H, R, C>, CompiledEngine<H, R, C>,
                                    typename H::template engine<R, C>>;
};
struct InvalidConfig {};
template <bool Valid, class H>
struct config_for { using type = InvalidConfig; };
template <class H>
struct config_for<true, H> { using type = typename H::Config; };
}  // namespace detail

template <class H, class R, class T, class Crypto = crypto::DefaultProvider>
class Secure {
    // ---- the composition rules (core/composition.hpp): the first broken one, if any,
    // fails with its one-line diagnostic ----------------------------------------------
    static constexpr rules::Id broken_rule = rules::first_broken<H, R, T, Crypto>();
    TAPSEC_COMPOSITION_ASSERTS()
    static constexpr bool valid = broken_rule == rules::Id::none;

public:
    using handshake_type = H;
    using record_type = R;
    using transport_type = T;
    using crypto_type = Crypto;
    using Engine = typename detail::engine_for<valid, H, R, Crypto>::type;
    using Config = typename detail::config_for<valid, H>::type;

    /// What this composition offers, computed from the three policies' declarations.
    static constexpr FeatureSet features = composition_features<H, R, T>();
    template <Feature F>
    static constexpr bool has = features.template has<F>();

    Secure(Role role, Config config, T transport)
        : role_(role), config_(std::move(config)), engine_(role, config_), transport_(std::move(transport)) {}

    Secure(Secure&&) = default;

    // ---- connection (6.2) ------------------------------------------------------------

    /// Runs the handshake to completion (or failure, or the configured timeout).
    [[nodiscard]] std::error_code handshake() {
        if (auto ec = ensure_started()) return ec;
        const Instant deadline = Clock::now() + config_.handshake_timeout;
        while (!engine_.is_established()) {
            if (auto ec = pump(deadline)) return ec;
        }
        return {};
    }

    bool is_established() const { return engine_.is_established(); }

    // ---- data --------------------------------------------------------------------------

    /// Protects and sends application data (one datagram per call on datagram compositions).
    [[nodiscard]] std::error_code send(ByteView data) {
        if (failed_) return failed_;
        if (auto ec = engine_.send(data, Clock::now())) return fail(ec);
        return flush();
    }

    /// The next unit of application data: a datagram, or the next decrypted chunk of a
    /// stream. An empty result with no error means the peer closed cleanly.
    Result<Bytes> receive_message(std::chrono::milliseconds timeout = std::chrono::hours(24)) {
        if (pending_offset_ < pending_.size()) {
            Bytes out(pending_.begin() + static_cast<std::ptrdiff_t>(pending_offset_), pending_.end());
            clear_pending();
            return out;
        }
        const Instant deadline = Clock::now() + timeout;
        for (;;) {
            if constexpr (ViewReceiveEngine<Engine>) {
                if (auto view = engine_.poll_plaintext()) {
                    if (view->empty()) continue;
                    return Bytes(view->begin(), view->end());
                }
            } else {
                if (auto data = engine_.poll_application_data()) return std::move(*data);
            }
            if (engine_.is_closed()) return Bytes{};
            if (failed_) return failed_;
            if (auto ec = pump(deadline)) return ec;
        }
    }

    /// Stream-style read into `out`; returns 0 at a clean close. With an engine that
    /// lends its plaintext (ViewReceiveEngine) the bytes are copied once, from the
    /// engine's buffer into `out`; only what does not fit is kept here for the next call.
    Result<std::size_t> receive(MutableByteView out, std::chrono::milliseconds timeout = std::chrono::hours(24)) {
        if (pending_offset_ == pending_.size()) {
            if constexpr (ViewReceiveEngine<Engine>) {
                const Instant deadline = Clock::now() + timeout;
                for (;;) {
                    if (auto view = engine_.poll_plaintext()) {
                        if (view->empty()) continue;
                        const std::size_t n = std::min(out.size(), view->size());
                        std::copy_n(view->begin(), n, out.begin());
                        // The view ends at the next engine call: keep the rest (the
                        // buffer's capacity is reused, so no allocation after warm-up).
                        pending_.assign(view->begin() + static_cast<std::ptrdiff_t>(n), view->end());
                        pending_offset_ = 0;
                        return n;
                    }
                    if (engine_.is_closed()) return std::size_t{0};
                    if (failed_) return failed_;
                    if (auto ec = pump(deadline)) return ec;
                }
            } else {
                auto message = receive_message(timeout);
                if (!message) return message.error();
                pending_ = std::move(*message);
                pending_offset_ = 0;
                if (pending_.empty()) return std::size_t{0};
            }
        }
        const std::size_t n = std::min(out.size(), pending_.size() - pending_offset_);
        std::copy_n(pending_.begin() + static_cast<std::ptrdiff_t>(pending_offset_), n, out.begin());
        pending_offset_ += n;
        if (pending_offset_ == pending_.size()) clear_pending();
        return n;
    }

    // ---- post-connection (6.3) ---------------------------------------------------------

    /// Connection termination: sends the protocol's authenticated close. Not
    /// [[nodiscard]], unlike the other operations: closing is best effort on teardown
    /// paths, where the connection is abandoned whatever the result.
    std::error_code close() {
        if (closed_locally_) return {};
        closed_locally_ = true;
        auto ec = engine_.close(Clock::now());
        auto flushed = flush();
        transport_.close();
        return ec ? ec : flushed;
    }

    /// Key update (6.3), where the composition re-keys in band.
    [[nodiscard]] std::error_code update_keys(bool request_peer_update = true)
        requires(features.template has<feature::rekeying>()) &&
                requires(Engine& e) { { e.update_keys(true, Instant{}) } -> std::same_as<std::error_code>; }
    {
        if (auto ec = engine_.update_keys(request_peer_update, Clock::now())) return fail(ec);
        return flush();
    }

    /// Keying-material export (6.3 explicit export), e.g. RFC 5705 / RFC 8446 7.5.
    Result<SecretBytes> export_keying_material(std::string_view label, ByteView context, std::size_t length) const
        requires(H::key_export == KeyExport::explicit_export) &&
                requires(const Engine& e) {
                    { e.export_keying_material(label, context, length) } -> std::same_as<Result<SecretBytes>>;
                }
    {
        return engine_.export_keying_material(label, context, length);
    }

    /// Early data (5.2 ED): queue data to go with the first flight.
    [[nodiscard]] std::error_code send_early_data(ByteView data)
        requires(features.template has<feature::early_data>()) &&
                requires(Engine& e) { { e.send_early_data(data, Instant{}) } -> std::same_as<std::error_code>; }
    {
        return engine_.send_early_data(data, Clock::now());
    }

    bool early_data_accepted() const requires(features.template has<feature::early_data>()) {
        return engine_.session_info().early_data_accepted;
    }

    /// Connection mobility (5.2 CM): continue the connection from/to a new address.
    [[nodiscard]] std::error_code migrate(const Endpoint& new_peer)
        requires(features.template has<feature::connection_mobility>()) &&
                requires(T& t) { t.set_peer_endpoint(new_peer); }
    {
        transport_.set_peer_endpoint(new_peer);
        return {};
    }

    /// Session resumption (survey 3): whether this connection resumed an earlier session.
    bool resumed() const requires(features.template has<feature::session_resumption>()) {
        return engine_.session_info().resumed;
    }

    // ---- introspection -----------------------------------------------------------------

    SessionInfo info() const { return engine_.session_info(); }
    PeerIdentity peer() const { return engine_.session_info().peer; }
    std::optional<Event> next_event() {
        drain_events();
        return events_.pop();
    }
    /// Events pushed out because max_queued_events were waiting unread (core/bounded_queue.hpp).
    std::size_t discarded_events() const { return static_cast<std::size_t>(events_.discarded()); }
    static constexpr std::size_t max_queued_events = 256;
    Role role() const { return role_; }
    Engine& engine() { return engine_; }
    T& transport() { return transport_; }
    const Config& config() const { return config_; }

private:
    std::error_code ensure_started() {
        if (failed_) return failed_;
        if (started_) return {};
        started_ = true;
        if (auto ec = engine_.start(Clock::now())) return fail(ec);
        return flush();
    }

    std::error_code fail(std::error_code ec) {
        flush();  // an alert may be waiting
        drain_events();
        if (!failed_) failed_ = ec;
        return failed_;
    }

    void drain_events() {
        // The same bounded, coalescing queue the engines use: a flood of drops costs one
        // pending event, and an application that never reads events cannot grow it.
        const Instant now = Clock::now();
        while (auto e = engine_.poll_event()) events_.absorb(std::move(*e), now);
    }

    void clear_pending() {
        pending_.clear();  // keeps the capacity for the next partial read
        pending_offset_ = 0;
    }

    /// Sends everything the engine has queued: through the reused transmit buffer
    /// when the engine writes into a caller's buffer (CallerBufferEngine), else as
    /// the engine's own Transmit values.
    std::error_code flush() {
        for (;;) {
            ByteView data;
            std::optional<Endpoint> to;
            std::optional<Transmit> owned;
            if constexpr (CallerBufferEngine<Engine>) {
                if (transmit_buffer_.size() < max_transmit_size) transmit_buffer_.resize(max_transmit_size);
                auto t = engine_.poll_transmit(MutableByteView(transmit_buffer_));
                if (!t) break;
                data = ByteView(transmit_buffer_.data(), t->size);
                to = std::move(t->to);
            } else {
                owned = engine_.poll_transmit();
                if (!owned) break;
                data = owned->data;
                to = std::move(owned->to);
            }
            std::error_code ec;
            if constexpr (DatagramTransport<T>)
                ec = transport_.send_to(data, to ? *to : transport_.peer_endpoint());
            else
                ec = transport_.write_all(data);
            if (ec) {
                if (!failed_) failed_ = ec;
                return ec;
            }
        }
        drain_events();
        return {};
    }

    /// Waits for input or the engine's next timer (whichever is first, capped by
    /// `deadline`), feeds it to the engine and sends whatever it produces.
    std::error_code pump(Instant deadline) {
        if (auto ec = ensure_started()) return ec;
        Instant wake = deadline;
        if (auto t = engine_.next_timeout()) wake = std::min(wake, *t);
        Result<std::size_t> got = std::size_t{0};
        Endpoint from = transport_.peer_endpoint();
        if constexpr (DatagramTransport<T>)
            got = transport_.receive_from(buffer_, wake, from);
        else
            got = transport_.read_some(buffer_, wake);
        const Instant now = Clock::now();
        if (!got) {
            if (got.error() != make_error_code(Errc::timed_out)) return fail(got.error());
            if (auto t = engine_.next_timeout(); t && *t <= now) {
                if (auto ec = engine_.on_timeout(now)) return fail(ec);
                if (auto ec = flush()) return ec;
            }
            if (now >= deadline) return make_error_code(Errc::timed_out);
            return {};
        }
        // For streams, zero bytes means end of stream; the engine decides whether that
        // was a clean close or a truncation.
        if (auto ec = engine_.receive(ByteView(buffer_.data(), *got), from, now)) return fail(ec);
        return flush();
    }

    Role role_;
    Config config_;
    Engine engine_;
    T transport_;
    Bytes buffer_ = Bytes(65536 + 2048);  // one read: a full TLS record or the largest datagram
    Bytes transmit_buffer_;  // CallerBufferEngine: every outgoing unit, reused
    Bytes pending_;          // received bytes that did not fit the caller's buffer
    std::size_t pending_offset_ = 0;
    EventQueue events_{max_queued_events};
    std::error_code failed_;
    bool started_ = false;
    bool closed_locally_ = false;
};

}  // namespace tapsec
