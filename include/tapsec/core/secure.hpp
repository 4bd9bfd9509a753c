// Secure<Handshake, Record, Transport, Crypto>: one composition of the survey's
// three axes. It checks the composition at compile time against the one list of
// rules in composition.hpp (a broken rule is one static_assert line naming it),
// computes the composition's features, and drives the sans-I/O engine over the transport with the Section 6 interface.
#pragma once

#include <algorithm>
#include <deque>
#include <memory>
#include <optional>
#include <string_view>
#include <type_traits>
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
/// The engine's opt-in to being handed the shared configuration by pointer.
template <class E>
concept shares_config = requires {
    requires E::shares_config;
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
        : Secure(role, std::make_shared<const Config>(std::move(config)), std::move(transport)) {}

    /// One configuration shared by many connections (a server's): it is immutable, and an
    /// engine that can keep it by pointer does, so a connection holds no copy of it.
    /// (A template, so that `Secure(role, {}, transport)` still means a default Config.)
    template <class Shared>
        requires std::same_as<Shared, std::shared_ptr<const Config>>
    Secure(Role role, Shared config, T transport)
        : role_(role), config_(std::move(config)), engine_(make_engine(role, config_)), transport_(std::move(transport)) {}

    Secure(Secure&&) = default;

    // ---- connection (6.2) ------------------------------------------------------------

    /// Runs the handshake to completion (or failure, or the configured timeout).
    [[nodiscard]] std::error_code handshake() {
        if (auto ec = ensure_started()) return ec;
        const Instant deadline = Clock::now() + config_->handshake_timeout;
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
            if (engine_.is_closed()) {
                flush();  // an answer to the peer's close the engine queued as the last data was taken
                return Bytes{};
            }
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
                    if (engine_.is_closed()) {
                        flush();  // as in receive_message
                        return std::size_t{0};
                    }
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
        if (closed_locally_) return wants_write() ? flush() : std::error_code{};  // after begin_close()
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

    /// Unreliable datagrams beside the streams (RFC 9221 DATAGRAM frames), where the
    /// engine carries them. An error here (queue full, too large, not negotiated) does
    /// not end the connection.
    [[nodiscard]] std::error_code send_datagram(ByteView data)
        requires requires(Engine& e) { { e.send_datagram(data, Instant{}) } -> std::same_as<std::error_code>; }
    {
        if (failed_) return failed_;
        if (auto ec = engine_.send_datagram(data, Clock::now())) return ec;
        return flush();
    }
    /// The next datagram the peer sent; Errc::closed once the connection ended.
    Result<Bytes> receive_datagram(std::chrono::milliseconds timeout = std::chrono::hours(24))
        requires requires(Engine& e) { { e.poll_datagram() } -> std::same_as<std::optional<Bytes>>; }
    {
        const Instant deadline = Clock::now() + timeout;
        for (;;) {
            if (auto d = engine_.poll_datagram()) return std::move(*d);
            if (failed_) return failed_;
            if (engine_.is_closed()) return make_error_code(Errc::closed);
            if (auto ec = pump(deadline)) return ec;
        }
    }

    /// Session resumption (survey 3): whether this connection resumed an earlier session.
    bool resumed() const requires(features.template has<feature::session_resumption>()) {
        return engine_.session_info().resumed;
    }

    // ---- non-blocking use (6.2 asynchronous): an event loop polls native_handle() itself -----
    // The blocking operations above stay as they are; these never wait. Ciphertext the
    // transport cannot take now waits in an outbox (poll for writing while wants_write()),
    // so a loop never blocks in send while the peer is blocked sending to it.

    /// The transport's descriptor, for poll/epoll.
    int native_handle() const requires requires(const T& t) { { t.native_handle() } -> std::convertible_to<int>; }
    {
        return transport_.native_handle();
    }

    /// Whether protected bytes wait for the transport (poll it for writing).
    bool wants_write() const { return outbox_offset_ < outbox_.size(); }
    std::size_t pending_write_bytes() const { return outbox_.size() - outbox_offset_; }

    /// Protects `data` and writes what the transport takes now; the rest waits in the outbox.
    [[nodiscard]] std::error_code send_nonblocking(ByteView data) {
        if (failed_) return failed_;
        if (auto ec = engine_.send(data, Clock::now())) return fail(ec);
        return flush_nonblocking();
    }

    /// The transport is writable: writes what it takes from the outbox.
    [[nodiscard]] std::error_code on_writable() {
        if (failed_) return failed_;
        return write_outbox();
    }

    /// The transport is readable: reads what arrived (without waiting), feeds it to the
    /// engine and queues its answers. The plaintext is then in take_received().
    [[nodiscard]] std::error_code on_readable() {
        if (auto ec = ensure_started()) return ec;
        if (failed_) return failed_;
        Result<std::size_t> got = std::size_t{0};
        Endpoint from = transport_.peer_endpoint();
        if constexpr (DatagramTransport<T>)
            got = transport_.receive_from(read_scratch(), Clock::now(), from);
        else if constexpr (requires(T& t, MutableByteView out) { t.try_read_some(out); })
            got = transport_.try_read_some(read_scratch());
        else
            got = transport_.read_some(read_scratch(), Clock::now());
        if (!got) {
            if (got.error() == make_error_code(Errc::timed_out)) return {};  // nothing there after all
            return fail(got.error());
        }
        if (auto ec = engine_.receive(ByteView(read_scratch().data(), *got), from, Clock::now())) return fail(ec);
        return flush_nonblocking();
    }

    /// Application data received and not yet taken, without waiting; nullopt when none.
    std::optional<Bytes> take_received() {
        if (pending_offset_ < pending_.size()) {
            Bytes out(pending_.begin() + static_cast<std::ptrdiff_t>(pending_offset_), pending_.end());
            clear_pending();
            return out;
        }
        if constexpr (ViewReceiveEngine<Engine>) {
            while (auto view = engine_.poll_plaintext())
                if (!view->empty()) return Bytes(view->begin(), view->end());
        } else {
            if (auto data = engine_.poll_application_data()) return std::move(*data);
        }
        return std::nullopt;
    }

    /// The peer closed (cleanly, or the engine ended the connection): nothing more will arrive.
    bool peer_closed() const { return engine_.is_closed(); }

    /// When on_timer() should next run (retransmission and other engine timers).
    std::optional<Instant> next_timeout() { return engine_.next_timeout(); }
    [[nodiscard]] std::error_code on_timer() {
        if (failed_) return failed_;
        const Instant now = Clock::now();
        if (auto t = engine_.next_timeout(); t && *t <= now) {
            if (auto ec = engine_.on_timeout(now)) return fail(ec);
            return flush_nonblocking();
        }
        return {};
    }

    /// update_keys() without waiting: the KeyUpdate joins the outbox (poll for writing
    /// while wants_write()).
    [[nodiscard]] std::error_code update_keys_nonblocking(bool request_peer_update = true)
        requires(features.template has<feature::rekeying>()) &&
                requires(Engine& e) { { e.update_keys(true, Instant{}) } -> std::same_as<std::error_code>; }
    {
        if (failed_) return failed_;
        if (auto ec = engine_.update_keys(request_peer_update, Clock::now())) return fail(ec);
        return flush_nonblocking();
    }

    /// close() without waiting: queues the authenticated close; the write side of the
    /// transport is shut once the outbox has drained (keep polling while wants_write()).
    std::error_code begin_close() {
        if (closed_locally_) return {};
        closed_locally_ = true;
        auto ec = engine_.close(Clock::now());
        shutdown_when_flushed_ = true;
        auto flushed = flush_nonblocking();
        return ec ? ec : flushed;
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
    const Config& config() const { return *config_; }

private:
    // An engine keeps the shared configuration by pointer only when it says so
    // (`static constexpr bool shares_config = true`): asking is_constructible instead would
    // hand a shared_ptr to any engine whose constructor is an unconstrained template.
    static Engine make_engine(Role role, const std::shared_ptr<const Config>& config) {
        if constexpr (detail::shares_config<Engine>) return Engine(role, config);
        else return Engine(role, *config);
    }

    std::error_code ensure_started() {
        if (failed_) return failed_;
        if (started_) return {};
        started_ = true;
        if (auto ec = engine_.start(Clock::now())) return fail(ec);
        return flush();
    }

    std::error_code fail(std::error_code ec) {
        // An alert may be waiting; behind a full outbox it goes only if the socket takes it.
        if (wants_write())
            flush_nonblocking();
        else
            flush();
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
        if constexpr (!DatagramTransport<T>) {
            if (wants_write()) {  // what a non-blocking send left goes first, in order
                if (auto ec = transport_.write_all(ByteView(outbox_).subspan(outbox_offset_))) {
                    if (!failed_) failed_ = ec;
                    return ec;
                }
                outbox_drained();
            }
        }
        for (;;) {
            ByteView data;
            std::optional<Endpoint> to;
            std::optional<Transmit> owned;
            if (!next_transmit(data, to, owned)) break;
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

    /// The engine's next outgoing unit: in the reused transmit buffer (CallerBufferEngine)
    /// or in `owned`. False when nothing is queued.
    bool next_transmit(ByteView& data, std::optional<Endpoint>& to, std::optional<Transmit>& owned) {
        if constexpr (CallerBufferEngine<Engine>) {
            // Per thread, as read_scratch(): every caller uses `data` before the next call.
            thread_local Bytes transmit_buffer(max_transmit_size);
            auto t = engine_.poll_transmit(MutableByteView(transmit_buffer));
            if (!t) return false;
            data = ByteView(transmit_buffer.data(), t->size);
            to = std::move(t->to);
        } else {
            owned = engine_.poll_transmit();
            if (!owned) return false;
            data = owned->data;
            to = std::move(owned->to);
        }
        return true;
    }

    /// flush() for the non-blocking surface: on a stream, the engine's output joins the
    /// outbox and the socket takes what it can now. Datagrams are sent as they come (a
    /// datagram socket does not hold a send back behind the peer's reading).
    std::error_code flush_nonblocking() {
        if constexpr (DatagramTransport<T> || !requires(T& t, ByteView d) { t.try_write(d); }) {
            auto ec = flush();
            if (shutdown_when_flushed_) outbox_drained();
            return ec;
        } else {
            ByteView data;
            std::optional<Endpoint> to;
            std::optional<Transmit> owned;
            while (next_transmit(data, to, owned)) {
                // Straight to the socket while nothing waits before it: only what it does not
                // take now is copied into the outbox (an idle connection holds no outbox).
                if (!wants_write()) {
                    auto n = transport_.try_write(data);
                    if (!n) {
                        if (!failed_) failed_ = n.error();
                        return n.error();
                    }
                    data = data.subspan(*n);
                }
                outbox_.insert(outbox_.end(), data.begin(), data.end());
            }
            drain_events();
            return write_outbox();
        }
    }

    std::error_code write_outbox() {
        if constexpr (requires(T& t, ByteView d) { t.try_write(d); }) {
            while (wants_write()) {
                auto n = transport_.try_write(ByteView(outbox_).subspan(outbox_offset_));
                if (!n) {
                    if (!failed_) failed_ = n.error();
                    return n.error();
                }
                if (*n == 0) break;  // the socket is full: poll for writing
                outbox_offset_ += *n;
            }
            if (outbox_offset_ > 0 && outbox_offset_ * 2 >= outbox_.size()) {  // keep the outbox compact
                outbox_.erase(outbox_.begin(), outbox_.begin() + static_cast<std::ptrdiff_t>(outbox_offset_));
                outbox_offset_ = 0;
            }
        }
        if (!wants_write()) outbox_drained();
        return {};
    }

    /// The outbox is empty: reuse it, and shut the write side if begin_close() asked to.
    void outbox_drained() {
        outbox_.clear();
        outbox_offset_ = 0;
        if (shutdown_when_flushed_) {
            shutdown_when_flushed_ = false;
            transport_.close();
        }
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
            got = transport_.receive_from(read_scratch(), wake, from);
        else
            got = transport_.read_some(read_scratch(), wake);
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
        if (auto ec = engine_.receive(ByteView(read_scratch().data(), *got), from, now)) return fail(ec);
        return flush();
    }

    Role role_;
    std::shared_ptr<const Config> config_;
    Engine engine_;
    T transport_;
    /// One read: a full TLS record or the largest datagram. The engine consumes it before
    /// the call returns, so one buffer per thread serves every connection (a server holding
    /// 10,000 connections would otherwise hold 10,000 x 66 KiB of them).
    static Bytes& read_scratch() {
        thread_local Bytes scratch(65536 + 2048);
        return scratch;
    }
    Bytes pending_;          // received bytes that did not fit the caller's buffer
    std::size_t pending_offset_ = 0;
    Bytes outbox_;  // protected bytes the transport did not take yet (non-blocking surface)
    std::size_t outbox_offset_ = 0;
    bool shutdown_when_flushed_ = false;  // begin_close(): shut the write side once the outbox drains
    EventQueue events_{max_queued_events};
    std::error_code failed_;
    bool started_ = false;
    bool closed_locally_ = false;
};

}  // namespace tapsec
