// A QUIC v1 connection (RFC 9000, 9001, 9002) as a sans-I/O engine: datagrams in,
// datagrams out, time passed in. The TLS 1.3 handshake is tls13::Engine, unchanged,
// with QuicPacketProtection's layer as its record layer (record.hpp): TLS writes
// handshake bytes per encryption level and installs one secret per level and
// direction; this file turns them into CRYPTO frames and packet keys.
//
//   Connection<Crypto> c(Role::client, tls_config, settings);
//   c.start(now);                                   // client: first Initial
//   c.receive(datagram, from, now);                 // any number of coalesced packets
//   while (auto t = c.poll_transmit(buffer)) send(buffer.first(t->size), t->to);
//   auto id = c.open_stream(true); c.stream_send(*id, data, fin);
//   while (auto s = c.poll_stream()) use(s->id, s->data, s->fin);
//   timers: c.next_timeout() / c.on_timeout(now).
// The Secure<> contract (send / poll_plaintext) is one bidirectional stream: stream 0.
//
// What it does: Initial / Handshake / 1-RTT packet number spaces with coalescing,
// Retry (the client follows one; a server with Settings::retry sends one and keeps no
// state until the token returns), NEW_TOKEN, NEW/RETIRE_CONNECTION_ID, stateless reset
// (sent for unknown CIDs with Settings::reset_key, detected always), path validation:
// the server follows a client that moves, the client moves on migrate_local(),
// Version Negotiation (answered by the server, checked by the client),
// transport parameters both ways, ACK ranges, loss detection and PTO with
// retransmission of CRYPTO, STREAM and control frames, NewReno, the anti-amplification
// limit, bidirectional and unidirectional streams with stream and connection flow
// control, 1-RTT key update, CONNECTION_CLOSE and the idle timeout, and 0-RTT
// (Settings::early_data: the server's tickets carry its limits, the client sends stream
// data in 0-RTT packets and again in 1-RTT if refused). What it does not do is listed
// in docs/quic.md.
#pragma once

#include <algorithm>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <vector>

#include "../core/bounded_queue.hpp"
#include "../core/config.hpp"
#include "../core/engine.hpp"
#include "../crypto/botan.hpp"
#include "../tls13/engine.hpp"
#include "errors.hpp"
#include "frames.hpp"
#include "recovery.hpp"
#include "record.hpp"
#include "streams.hpp"
#include "tokens.hpp"
#include "transport_parameters.hpp"
#include "wire.hpp"

namespace tapsec::quic {

/// QUIC's own settings (the TLS ones are tls13::Config).
struct Settings {
    std::uint64_t max_idle_timeout_ms = 30'000;
    std::uint64_t initial_max_data = 32u << 20;
    std::uint64_t initial_max_stream_data = 8u << 20;  // each stream, each kind
    std::uint64_t initial_max_streams_bidi = 100;
    std::uint64_t initial_max_streams_uni = 100;
    std::size_t max_datagram_size = 1200;   // what we send (RFC 9000 14: 1200 is always safe)
    std::uint8_t connection_id_length = 8;
    std::uint64_t application_close_code = 0;  // sent by close() (HTTP/3: H3_NO_ERROR 0x100)
    std::size_t max_crypto_buffer = 65536;     // out-of-order handshake data per level
    // Address validation (RFC 9000 8.1). Server: answer an Initial that carries no valid
    // token with a Retry, and give the client a NEW_TOKEN token after the handshake.
    bool retry = false;
    SecretBytes token_key;      // server: seals Retry / NEW_TOKEN tokens (empty: random per connection)
    std::chrono::seconds retry_token_lifetime{10}, new_token_lifetime{24 * 3600};
    Bytes initial_token;        // client: a NEW_TOKEN token from an earlier connection to this server
    // Connection IDs and stateless reset (5.1, 10.3). Reset tokens are derived from the
    // CID under this key; set, a server also answers packets for unknown CIDs with a
    // Stateless Reset (empty: a random key, and no resets for unknown CIDs).
    SecretBytes reset_key;
    std::uint64_t active_connection_id_limit = 4;  // peer CIDs we keep; we issue as many as the peer keeps, up to this
    // 0-RTT (RFC 9001 4.6, RFC 9000 7.4.1). Server: tickets allow early data
    // (max_early_data_size 0xffffffff) and carry our limits; accepting it also needs
    // tls13::Config::anti_replay and tickets_to_send > 0. Client: with a stored session
    // (tls13::Config::session_cache) that remembered the server's limits, stream data
    // written before the handshake completes goes in 0-RTT packets; if the server
    // refuses it, it is sent again in 1-RTT.
    bool early_data = false;
    // Versions (RFC 9000 6, RFC 9369). Client: the version of its first Initial (v2 is
    // offered directly: a v1-only server answers with Version Negotiation). Server: the
    // versions it accepts (a client Initial of another version gets Version Negotiation
    // listing these); the connection runs in the version of the client's first Initial.
    std::uint32_t version = version_1;
    std::vector<std::uint32_t> accepted_versions{version_1, version_2};
    // DATAGRAM frames (RFC 9221): enabled, we advertise max_datagram_frame_size (the
    // largest DATAGRAM frame we take, type and length included) and may send them when
    // the peer advertised it too. Unreliable: a lost datagram is not sent again. Both
    // queues are bounded (a full receive queue drops the newest, counted in stats).
    bool datagrams = false;
    std::uint64_t max_datagram_frame_size = 65535;
    std::size_t datagram_queue = 256;  // datagrams waiting to be sent, and to be read
    // Length hiding (survey 5.2 LHP): each datagram carrying a 1-RTT packet is padded
    // with PADDING frames to a multiple of pad_to bytes (0: off), or to
    // max_datagram_size when the next multiple would not fit.
    std::size_t pad_to = 0;
    // Pacing (RFC 9002 7.7): after the first RTT sample, ack-eliciting datagrams go at
    // 1.25 * congestion window / smoothed RTT, with a burst of this many full datagrams
    // at once (10: the initial window) or what the rate sends in pacing_burst_time, the
    // larger (quic::Pacer says why); pacing_burst 0 turns pacing off. ACK-only packets
    // and probes are never held; the pacer's next instant is in next_timeout().
    std::size_t pacing_burst = 10;
    std::chrono::microseconds pacing_burst_time{1000};
};

enum class Space : std::uint8_t { initial, handshake, application };

constexpr Space space_of(Level l) noexcept {
    return l == Level::initial ? Space::initial : l == Level::handshake ? Space::handshake : Space::application;
}
constexpr Level level_of(Space s) noexcept {
    return s == Space::initial ? Level::initial : s == Space::handshake ? Level::handshake : Level::application;
}
constexpr PacketType packet_type_of(Space s) noexcept {
    return s == Space::initial ? PacketType::initial : s == Space::handshake ? PacketType::handshake : PacketType::one_rtt;
}

/// Data received on a stream, as a view valid until the next call on the connection.
struct StreamChunk {
    std::uint64_t id = 0;
    ByteView data;
    bool fin = false;
};

/// Counters for tests, the CLI and the benchmarks.
struct ConnectionStats {
    std::uint64_t packets_sent = 0, packets_received = 0, packets_lost = 0, packets_dropped = 0;
    std::uint64_t bytes_retransmitted = 0, pto_count = 0, key_updates = 0;
    std::uint64_t retries_sent = 0, stateless_resets_sent = 0, paths_validated = 0, migrations = 0;
    // 0-RTT: packets received, stream bytes sent in 0-RTT packets, and those sent
    // again in 1-RTT because the server refused them.
    std::uint64_t zero_rtt_packets_received = 0, zero_rtt_bytes_sent = 0, zero_rtt_bytes_resent = 0;
    // DATAGRAM frames: sent, received (queued for the application), dropped on receipt
    // (receive queue full), lost in flight (never sent again), sent in 0-RTT packets;
    // and PADDING bytes added for Settings::pad_to.
    std::uint64_t datagrams_sent = 0, datagrams_received = 0, datagrams_dropped = 0, datagrams_lost = 0;
    std::uint64_t zero_rtt_datagrams_sent = 0, padding_bytes = 0;
    // RFC 9002 7.6 / 7.7: persistent congestion declared (window to the minimum); how
    // often the pacer held back a datagram the window allowed.
    std::uint64_t persistent_congestion = 0, pacing_waits = 0;
};

template <class Crypto = crypto::DefaultProvider>
class Connection {
public:
    using Tls = tls13::Engine<QuicPacketProtection, Crypto>;

    Connection(Role role, const tls13::Config& config, const Settings& settings = {})
        : role_(role), tls_config_(config), settings_(settings), peer_params_(std::make_shared<PeerParams>()),
          datagrams_out_(settings.datagram_queue), datagrams_in_(settings.datagram_queue) {
        tls_config_.middlebox_compatibility = false;  // RFC 9001 8.4: no CCS, empty legacy_session_id
        cc_.max_datagram = settings_.max_datagram_size;
        cc_.window = 10 * settings_.max_datagram_size;
        pacer_ = Pacer(settings_.pacing_burst, settings_.max_datagram_size, settings_.pacing_burst_time);
        our_cid_ = random_cid();
        our_cids_[0] = our_cid_;
        token_key_ = secret_or_random(settings_.token_key, token_key_length);
        reset_key_ = secret_or_random(settings_.reset_key, 32);
    }

    // ---- the engine contract ------------------------------------------------------------------

    std::error_code start(Instant now) {
        if (started_) return {};
        started_ = true;
        now_ = now;
        last_activity_ = now;
        if (role_ == Role::server) return {};  // the server starts on the client's first Initial
        original_dcid_ = random_cid();
        peer_cid_ = original_dcid_;
        if (!is_supported_version(settings_.version)) return fail_local(make_error_code(Errc::invalid_configuration));
        version_ = settings_.version;
        retry_token_ = settings_.initial_token;  // a NEW_TOKEN token, if the application kept one
        load_remembered_limits();
        if (auto ec = begin_tls(original_dcid_)) return fail_local(ec);
        streams_.emplace(0, make_stream(0));  // the default stream (Secure<>'s send / receive)
        streams_.at(0).send.write(early_pending_);
        early_pending_.clear();
        next_bidi_ = 1;
        if (remembered_) {  // 7.4.1: 0-RTT is sent within the limits the server gave last time
            conn_send_limit_ = remembered_->initial_max_data;
            peer_max_streams_bidi_ = remembered_->initial_max_streams_bidi;
            peer_max_streams_uni_ = remembered_->initial_max_streams_uni;
        }
        if (auto ec = tls_->start(now)) return fail_tls(ec);
        return collect_tls();
    }

    std::error_code receive(ByteView datagram, const Endpoint& from, Instant now) {
        now_ = now;
        if (state_ == State::closed || datagram.empty()) return {};
        if (state_ == State::draining) return {};
        if (!started_) {
            if (role_ == Role::client) return {};
            started_ = true;
        }
        bytes_received_ += datagram.size();
        if (!peer_ || (role_ == Role::server && !tls_)) peer_ = from;
        from_ = from;
        datagram_size_ = datagram.size();
        if (path_ && from == path_->to) path_->received += datagram.size();
        const ByteView whole = datagram;
        while (!datagram.empty()) {
            auto h = parse_header(datagram, our_cid_.length);
            if (!h) {
                if (h.error() == make_error_code(Error::unknown_version)) answer_unknown_version(datagram);
                if (is_stateless_reset(whole)) return {};
                drop(h.error());
                return {};
            }
            MutableByteView packet(const_cast<std::uint8_t*>(datagram.data()), h->packet_size);
            // Open in a copy: the caller's datagram is borrowed, decryption is in place.
            scratch_.assign(packet.begin(), packet.end());
            datagram = datagram.subspan(h->packet_size);
            if (auto ec = on_packet(*h, scratch_)) {
                if (!is_drop(ec)) return fail_local(ec);
                if (h->type == PacketType::one_rtt && is_stateless_reset(whole)) return {};
                drop(ec);
            }
            if (state_ != State::open) break;
        }
        return {};
    }

    std::optional<TransmitInfo> poll_transmit(MutableByteView out) {
        if (state_ == State::closed || state_ == State::draining) return std::nullopt;
        if (stateless_reply_) {
            const auto [reply, to] = std::move(*stateless_reply_);
            stateless_reply_.reset();
            std::copy(reply.begin(), reply.end(), out.begin());
            return TransmitInfo{reply.size(), to};
        }
        if (!tls_) return std::nullopt;
        if (state_ == State::closing) return close_datagram(out);
        if (auto probe = path_response_datagram(out)) return probe;
        const std::size_t size = build_datagram(out);
        if (size == 0) return std::nullopt;
        return TransmitInfo{size, peer_};
    }
    std::optional<Transmit> poll_transmit() {
        Bytes buffer(max_transmit_size);
        auto info = poll_transmit(MutableByteView(buffer));
        if (!info) return std::nullopt;
        buffer.resize(info->size);
        return Transmit{std::move(buffer), info->to};
    }

    /// Data of the default stream (0), as a view valid until the next call.
    std::optional<ByteView> poll_plaintext() {
        release_lent();
        auto it = streams_.find(0);
        if (it == streams_.end()) return std::nullopt;
        auto view = it->second.recv.readable();
        if (view.empty()) return std::nullopt;
        lent_ = {0, view.size()};
        return view;
    }
    std::optional<Bytes> poll_application_data() {
        auto v = poll_plaintext();
        if (!v) return std::nullopt;
        return Bytes(v->begin(), v->end());
    }

    /// The next readable data on any stream (its FIN once all of it was read).
    std::optional<StreamChunk> poll_stream() {
        release_lent();
        for (auto& [id, s] : streams_) {
            auto view = s.recv.readable();
            const bool fin_now = s.recv.final_size() && s.recv.read_offset() + view.size() == *s.recv.final_size();
            if (view.empty() && !(fin_now && !s.fin_delivered)) continue;
            if (fin_now) s.fin_delivered = true;
            lent_ = {id, view.size()};
            return StreamChunk{id, view, fin_now};
        }
        return std::nullopt;
    }

    std::optional<Event> poll_event() { return events_.pop(); }

    /// Application data on the default stream.
    std::error_code send(ByteView data, Instant now) { return stream_send(0, data, false, now); }

    /// Client, before start(): data for the default stream that goes in 0-RTT packets when
    /// a stored session allows it (as Settings::early_data),
    /// in 1-RTT otherwise. The outcome: session_info().early_data_accepted and the
    /// early_data_accepted / early_data_rejected event.
    std::error_code send_early_data(ByteView data, Instant) {
        if (role_ != Role::client) return make_error_code(Errc::invalid_configuration);
        if (started_) return make_error_code(Errc::already_connected);
        settings_.early_data = true;
        early_pending_.insert(early_pending_.end(), data.begin(), data.end());
        return {};
    }

    /// RFC 9221: queues `data` for one DATAGRAM frame (sent once, never again if lost).
    /// Errors: datagrams_not_supported (not enabled here, or the peer's
    /// max_datagram_frame_size is absent), datagram_too_large (over the peer's limit or
    /// one packet), datagram_queue_full; not_connected while the peer's limit is unknown
    /// (a client with a stored session uses the remembered one, for 0-RTT).
    std::error_code send_datagram(ByteView data, Instant now) {
        now_ = now;
        if (failed_) return failed_;
        if (state_ != State::open || close_requested_) return make_error_code(Errc::closed);
        if (!settings_.datagrams) return make_error_code(Error::datagrams_not_supported);
        std::uint64_t limit = 0;
        if (peer_params_->params && handshake_complete_) limit = peer_params_->params->max_datagram_frame_size;
        else if (remembered_ && zero_rtt_writable()) limit = remembered_->max_datagram_frame_size;
        else return make_error_code(Errc::not_connected);
        if (limit == 0) return make_error_code(Error::datagrams_not_supported);
        const std::size_t frame = datagram_frame_size(data.size());
        if (frame > limit || frame > max_datagram_payload()) return make_error_code(Error::datagram_too_large);
        Bytes* slot = datagrams_out_.reserve_back();
        if (!slot) return make_error_code(Error::datagram_queue_full);
        slot->assign(data.begin(), data.end());
        datagrams_out_.commit_back();
        return {};
    }
    /// Before the connection starts: DATAGRAM frames on (Settings::datagrams with this
    /// max_datagram_frame_size), for a connection the application did not construct
    /// itself (`Secure<>::engine().enable_datagrams()` before handshake()).
    std::error_code enable_datagrams(std::uint64_t max_frame_size = 65535) {
        if (started_) return make_error_code(Errc::already_connected);
        settings_.datagrams = max_frame_size > 0;
        settings_.max_datagram_frame_size = max_frame_size;
        return {};
    }
    /// The next DATAGRAM the peer sent (RFC 9221), in the order received.
    std::optional<Bytes> poll_datagram() { return datagrams_in_.take_front(); }
    /// The same into the caller's buffer, without allocating once warm: `out` takes the
    /// datagram's bytes and its old storage goes back to the queue for a later datagram.
    /// False when none is waiting.
    bool poll_datagram(Bytes& out) {
        if (datagrams_in_.empty()) return false;
        std::swap(out, datagrams_in_.front());
        datagrams_in_.pop_front();
        return true;
    }
    /// Whether the peer accepts DATAGRAM frames (its max_datagram_frame_size), 0: no.
    std::uint64_t peer_max_datagram_frame_size() const {
        return peer_params_->params ? peer_params_->params->max_datagram_frame_size : 0;
    }

    Result<std::uint64_t> open_stream(bool bidi) {
        if (state_ != State::open) return make_error_code(Errc::closed);
        std::uint64_t& next = bidi ? next_bidi_ : next_uni_;
        const std::uint64_t limit = bidi ? peer_max_streams_bidi_ : peer_max_streams_uni_;
        if (next >= limit) return make_error_code(Error::stream_blocked);
        const std::uint64_t id = next++ * 4 + (role_ == Role::server ? 1 : 0) + (bidi ? 0 : 2);
        streams_.emplace(id, make_stream(id));
        return id;
    }

    std::error_code stream_send(std::uint64_t id, ByteView data, bool fin, Instant now) {
        now_ = now;
        if (failed_) return failed_;
        if (state_ != State::open || close_requested_) return make_error_code(Errc::closed);
        auto it = streams_.find(id);
        if (it == streams_.end()) {
            if (id == 0 && role_ == Role::server) it = streams_.emplace(0, make_stream(0)).first;
            else return make_error_code(Error::unknown_stream);
        }
        if (!can_send_on(id) || it->second.send.finished()) return make_error_code(Error::stream_state_violation);
        it->second.send.write(data);
        if (fin) it->second.send.finish();
        return {};
    }

    std::optional<Instant> next_timeout() const {
        if (state_ == State::closed || !started_) return std::nullopt;
        std::optional<Instant> t;
        auto consider = [&](std::optional<Instant> x) {
            if (x && (!t || *x < *t)) t = x;
        };
        consider(idle_deadline());
        if (state_ != State::open) return t;
        consider(loss_or_pto_time());
        if (path_) consider(path_->deadline);
        for (const auto& sp : spaces_)
            if (sp.ack_pending && !sp.ack_now) consider(sp.ack_deadline);  // a due ACK waits for a send, not a timer
        // The pacer held back data the window allowed: poll_transmit again at this instant.
        if (pacing_limited_) consider(pacer_.next_send_time(now_, cc_.window, rtt_.smoothed));
        return t;
    }

    std::error_code on_timeout(Instant now) {
        now_ = now;
        if (state_ == State::closed) return {};
        if (auto idle = idle_deadline(); idle && now >= *idle) {
            state_ = State::closed;
            if (!failed_ && !closed_cleanly_) failed_ = make_error_code(Error::idle_timeout);
            return failed_ == make_error_code(Error::idle_timeout) ? failed_ : std::error_code{};
        }
        if (state_ != State::open) return {};
        if (path_ && now >= path_->deadline) on_path_validation_timeout();
        if (state_ != State::open) return {};
        for (auto& sp : spaces_)
            if (sp.ack_pending && sp.ack_deadline && now >= *sp.ack_deadline) sp.ack_now = true;
        if (auto t = loss_or_pto_time(); t && now >= *t) on_loss_timer(now);
        return {};
    }

    /// Graceful close: CONNECTION_CLOSE (application, Settings::application_close_code)
    /// goes out as soon as everything sent on the streams was acknowledged — at once if
    /// it already was. Until then the connection keeps running (retransmissions).
    std::error_code close(Instant now) {
        now_ = now;
        if (state_ != State::open || close_requested_) return {};
        close_requested_ = true;
        maybe_start_closing();
        return {};
    }
    /// Whether close() is still waiting for acknowledgements.
    bool closing_pending() const noexcept { return close_requested_ && state_ == State::open; }
    /// Everything we sent on our streams (FIN included) was acknowledged by the peer.
    /// Bytes written to stream `id` and not acknowledged yet (0 for a stream we do not
    /// have): an application feeds a large body a window at a time instead of copying
    /// all of it into the send buffer at once.
    std::size_t stream_send_buffered(std::uint64_t id) const {
        auto it = streams_.find(id);
        return it == streams_.end() ? 0 : it->second.send.buffered();
    }
    bool all_stream_data_acknowledged() const {
        for (const auto& [id, s] : streams_)
            if (can_send_on(id) && !s.send.all_acked()) return false;
        return true;
    }
    /// Immediate close with an application error code.
    void abort(std::uint64_t application_code, Instant now) {
        now_ = now;
        if (state_ != State::open) return;
        enter_closing(true, application_code, 0);
    }

    bool is_established() const { return handshake_complete_ && state_ == State::open && !failed_; }
    bool is_closed() const {
        if (state_ != State::closed && state_ != State::draining) return false;
        auto it = streams_.find(0);
        return it == streams_.end() || it->second.recv.readable().empty();
    }
    SessionInfo session_info() const {
        SessionInfo info = tls_ ? tls_->session_info() : SessionInfo{};
        info.protocol = version_ == version_2 ? "QUIC v2 (TLS 1.3)" : "QUIC v1 (TLS 1.3)";
        return info;
    }
    /// Client: whether this connection offered 0-RTT (a stored session with remembered
    /// limits was found); after the handshake, session_info().early_data_accepted says
    /// whether the server took it.
    bool early_data_offered() const noexcept { return remembered_.has_value(); }
    /// The QUIC version the connection runs (version_1 or version_2).
    std::uint32_t version() const noexcept { return version_; }

    // ---- post-handshake ----------------------------------------------------------------------------

    /// 1-RTT key update (RFC 9001 6): our next write keys and key phase. Allowed once the
    /// handshake is confirmed and the previous update was acknowledged.
    std::error_code update_keys(bool, Instant now) {
        now_ = now;
        if (!handshake_confirmed_ || !app_write_) return make_error_code(Errc::not_connected);
        if (key_update_unacked_) return make_error_code(Errc::not_connected);
        auto next = app_write_->next_generation();
        if (!next) return next.error();
        app_write_.emplace(std::move(*next));
        write_phase_ ^= 1;
        key_update_unacked_ = true;
        key_update_first_pn_ = spaces_[2].next_pn;
        ++stats_.key_updates;
        events_.push(EventKind::key_updated);
        return {};
    }

    /// Client: the application moved its socket to a new local address (RFC 9000 9.2).
    /// The next packets use a fresh peer connection ID, carry a PATH_CHALLENGE and a PING
    /// (non-probing, so the server follows), with congestion and RTT state reset (9.4).
    std::error_code migrate_local(Instant now) {
        now_ = now;
        if (role_ != Role::client || !handshake_confirmed_ || state_ != State::open || !peer_)
            return make_error_code(Errc::not_connected);
        if (peer_params_->params && peer_params_->params->disable_active_migration)
            return make_error_code(Error::protocol_violation);  // 9: the server forbids it
        auto next = peer_cids_.upper_bound(active_peer_cid_seq_);
        if (next == peer_cids_.end()) return make_error_code(Error::connection_id_limit_exceeded);  // no spare CID
        const std::uint64_t old = active_peer_cid_seq_;
        active_peer_cid_seq_ = next->first;
        peer_cid_ = next->second;
        retire_peer_cid(old);
        PathState path;
        path.to = path.previous = *peer_;
        path.own_move = true;
        draw_random<Crypto>(tls_config_, path.challenge);
        path.challenge_pending = true;
        path.deadline = now_ + 3 * std::max(rtt_.pto(Duration(0)), RttEstimator{}.pto(Duration(0)));
        path_ = path;
        cc_.window = 10 * settings_.max_datagram_size;
        cc_.ssthresh = ~std::size_t{0};
        cc_.recovery_start = now_;
        rtt_ = RttEstimator{};
        first_rtt_sample_.reset();
        pacer_.reset();
        spaces_[2].probes = 1;  // a PING: the first packet on the new path is non-probing
        ++stats_.migrations;
        return {};
    }

    Result<SecretBytes> export_keying_material(std::string_view label, ByteView context, std::size_t length) const {
        if (!tls_) return make_error_code(Errc::not_connected);
        return tls_->export_keying_material(label, context, length);
    }

    // ---- introspection ------------------------------------------------------------------------------

    const ConnectionStats& stats() const noexcept { return stats_; }
    const std::optional<TransportParameters>& peer_transport_parameters() const { return peer_params_->params; }
    bool handshake_confirmed() const noexcept { return handshake_confirmed_; }
    /// Tests only: raw frame bytes to put in the next packet of `space` as they are (a
    /// peer that breaks the rules, for the negative tests).
    void inject_frames_for_testing(Space space, Bytes frames) {
        injected_[static_cast<std::size_t>(space)].push_back(std::move(frames));
        spaces_[static_cast<std::size_t>(space)].probes = 1;
    }
    /// Client: the server answered our first Initial with a Retry (RFC 9000 8.1.2).
    bool retried() const noexcept { return retried_; }
    /// Client: the last NEW_TOKEN token from the server (empty: none), for
    /// Settings::initial_token of a later connection to the same server.
    const Bytes& new_token() const noexcept { return new_token_; }
    /// Server: the client's address is validated (a Handshake packet, or a valid token).
    bool address_validated() const noexcept { return address_validated_; }
    /// Server: the client's Initial carried our Retry token (a Retry was sent first, by
    /// this connection object or, behind a ServerEndpoint, by another one).
    bool validated_by_retry() const noexcept { return retry_scid_.has_value(); }
    /// Server: the client's first Initial carried a valid NEW_TOKEN token (no Retry, no 3x limit).
    bool validated_by_token() const noexcept { return validated_by_new_token_; }
    /// Server: a new peer address is being validated (PATH_CHALLENGE sent, no answer yet).
    bool validating_path() const noexcept { return path_.has_value(); }
    /// Where we send: the peer's current address (unset before the first datagram).
    const std::optional<Endpoint>& peer_address() const noexcept { return peer_; }
    /// Our connection IDs the peer may use (sequence number -> ID), and the peer's current one.
    const std::map<std::uint64_t, ConnectionId>& local_cids() const noexcept { return our_cids_; }
    /// Changes whenever local_cids() does (a CID issued or retired): a server endpoint
    /// re-reads its routes only then, not after every datagram.
    std::uint64_t local_cids_generation() const noexcept { return local_cids_generation_; }
    const ConnectionId& peer_cid() const noexcept { return peer_cid_; }
    /// The peer's connection IDs we hold (the one in use included, once the peer issued more).
    std::size_t peer_cids_held() const noexcept { return peer_cids_.empty() ? 1 : peer_cids_.size(); }
    /// The Stateless Reset a server with Settings::reset_key would send for `cid`.
    std::array<std::uint8_t, stateless_reset_token_length> reset_token_for(const ConnectionId& cid) const {
        return stateless_reset_token<Crypto>(reset_key_, cid);
    }
    std::error_code error() const noexcept { return failed_; }
    /// What the peer's CONNECTION_CLOSE said (error code, application or transport).
    std::optional<std::pair<bool, std::uint64_t>> peer_close() const { return peer_close_; }
    /// What our CONNECTION_CLOSE said.
    std::optional<std::pair<bool, std::uint64_t>> local_close() const { return local_close_; }
    const ConnectionId& local_cid() const noexcept { return our_cid_; }
    std::size_t congestion_window() const noexcept { return cc_.window; }
    /// The RTT estimate (RFC 9002 5): smoothed, variation, min, latest, has_sample.
    const RttEstimator& rtt() const noexcept { return rtt_; }
    /// The pacer (RFC 9002 7.7), with the window and RTT it paces at: next_send_time(now,
    /// congestion_window(), rtt().smoothed).
    const Pacer& pacer() const noexcept { return pacer_; }
    bool stream_finished_sending(std::uint64_t id) const {
        auto it = streams_.find(id);
        return it != streams_.end() && it->second.send.all_acked();
    }

    // ---- for a server endpoint (endpoint.hpp) ----------------------------------------------------

    /// Server: a client's Initial created state here (false: nothing yet, or it was
    /// answered statelessly with a Retry / Version Negotiation and nothing was kept).
    bool handshake_started() const noexcept { return tls_.has_value(); }
    /// Nothing more to send or receive: our CONNECTION_CLOSE went out, the draining
    /// period after the peer's ended, the idle timeout fired, or it never began.
    bool terminated() const noexcept { return state_ == State::closed; }
    /// The current probe timeout (RFC 9002 6.2.1): an endpoint keeps a closed
    /// connection's IDs quiet for three of these (RFC 9000 10.2).
    Duration probe_timeout() const { return rtt_.pto(Duration(0)); }
    /// Server, instead of receive(): answers the client's first Initial `h` (already
    /// parsed, of an accepted version) with CONNECTION_CLOSE CONNECTION_REFUSED in an
    /// Initial packet (RFC 9000 5.2.2), without reading its ClientHello: a full
    /// endpoint stays cheap. poll_transmit() gives that one datagram, then terminated().
    std::error_code refuse(const Header& h, const Endpoint& from, Instant now) {
        if (role_ != Role::server || tls_ || h.type != PacketType::initial) return make_error_code(Errc::invalid_configuration);
        started_ = true;
        now_ = last_activity_ = now;
        from_ = from;
        peer_ = from;
        version_ = h.version;
        original_dcid_ = client_initial_dcid_ = h.dcid;
        peer_cid_ = h.scid;
        if (auto ec = begin_tls(h.dcid)) return fail_local(ec);
        failed_ = make_error_code(Error::connection_refused);
        enter_closing(false, static_cast<std::uint64_t>(TransportError::connection_refused), 0);
        return {};
    }

private:
    enum class State { open, closing, draining, closed };

    struct PeerParams {
        std::optional<TransportParameters> params;
        Bytes raw;
    };

    struct SentFrame {
        enum class Kind : std::uint8_t {
            crypto, stream, max_data, max_stream_data, max_streams_bidi, max_streams_uni, handshake_done, reset_stream,
            retire_connection_id, ping, new_token, new_connection_id, path_challenge, datagram
        };
        Kind kind;
        std::uint64_t id = 0, offset = 0;
        std::uint32_t length = 0;
        bool fin = false;
    };
    struct SentPacket {
        Instant time{};
        std::size_t bytes = 0;
        bool ack_eliciting = false, in_flight = false;
        std::vector<SentFrame> frames;
        std::optional<std::uint64_t> largest_ack;  // the largest we acknowledged in it
    };
    struct SpaceState {
        std::uint64_t next_pn = 0;
        std::optional<std::uint64_t> largest_acked;
        std::map<std::uint64_t, SentPacket> sent;
        RangeSet received;
        std::optional<std::uint64_t> largest_received;
        Instant largest_received_time{};
        bool ack_pending = false, ack_now = false;
        unsigned eliciting_since_ack = 0;
        std::optional<Instant> ack_deadline;
        SendBuffer crypto_send;
        RecvBuffer crypto_recv;
        std::optional<Instant> loss_time;
        Instant last_eliciting_sent{};
        unsigned probes = 0;
        bool discarded = false;
    };
    struct Stream {
        SendBuffer send;
        RecvBuffer recv;
        std::uint64_t send_limit = 0, recv_limit = 0, recv_window = 0;
        bool max_stream_data_pending = false, fin_delivered = false;
        std::optional<std::uint64_t> reset_code;  // RESET_STREAM to send
        bool reset_sent = false;
    };

    // ---- setup --------------------------------------------------------------------------------------

    ConnectionId random_cid() {
        Bytes b(settings_.connection_id_length);
        draw_random<Crypto>(tls_config_, b);
        return ConnectionId(b);
    }
    SecretBytes secret_or_random(const SecretBytes& given, std::size_t length) {
        if (!given.empty()) return given;
        SecretBytes k(length);
        draw_random<Crypto>(tls_config_, MutableByteView(k.data(), k.size()));
        return k;
    }
    std::uint64_t now_ms() const {
        return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(now_.time_since_epoch()).count());
    }

    TransportParameters our_parameters() const {
        TransportParameters p;
        p.max_idle_timeout_ms = settings_.max_idle_timeout_ms;
        p.max_udp_payload_size = 65527;
        p.initial_max_data = settings_.initial_max_data;
        p.initial_max_stream_data_bidi_local = settings_.initial_max_stream_data;
        p.initial_max_stream_data_bidi_remote = settings_.initial_max_stream_data;
        p.initial_max_stream_data_uni = settings_.initial_max_stream_data;
        p.initial_max_streams_bidi = settings_.initial_max_streams_bidi;
        p.initial_max_streams_uni = settings_.initial_max_streams_uni;
        p.active_connection_id_limit = std::max<std::uint64_t>(settings_.active_connection_id_limit, 2);
        p.initial_source_connection_id = our_cid_;
        if (settings_.datagrams) p.max_datagram_frame_size = settings_.max_datagram_frame_size;
        if (role_ == Role::server) {
            p.original_destination_connection_id = original_dcid_;
            if (retry_scid_) p.retry_source_connection_id = *retry_scid_;
            p.stateless_reset_token = stateless_reset_token<Crypto>(reset_key_, our_cid_);
        }
        return p;
    }

    /// The TLS engine with QUIC's extension: our transport parameters out, the peer's in.
    std::error_code begin_tls(const ConnectionId& initial_dcid) {
        tls13::Config config = tls_config_;
        config.custom_extensions = {{transport_parameters_extension, encode(our_parameters())}};
        auto slot = peer_params_;
        const bool from_server = role_ == Role::client;
        config.on_custom_extension = [slot, from_server](std::uint16_t, ByteView value) -> std::error_code {
            auto p = decode_transport_parameters(value, from_server);
            if (!p) return p.error();
            slot->params = std::move(*p);
            return {};
        };
        if (role_ == Role::client) {
            // Each session stored remembers the server's limits (7.4.1).
            config.session_application_data = [slot]() -> Bytes {
                return slot->params ? RememberedLimits::of(*slot->params).encode() : Bytes{};
            };
            config.early_data_outside_records = remembered_.has_value();
        } else if (settings_.early_data || tls_config_.max_early_data > 0) {
            // RFC 9001 4.6.1: 0xffffffff, the amount is up to QUIC's flow control.
            config.max_early_data = 0xffffffff;
            config.early_data_outside_records = true;
            const auto ours = RememberedLimits::of(our_parameters());
            config.session_application_data = [sealed = ours.encode()] { return sealed; };
            config.accept_early_data_with = [ours](ByteView stored) {
                auto then = RememberedLimits::decode(stored);
                return then && ours.at_least(*then);
            };
        }
        tls_.emplace(role_, config);
        tls_->record_layer().set_version(version_);
        return tls_->record_layer().install_initial(initial_dcid.view(), role_ == Role::client);
    }

    Stream make_stream(std::uint64_t id) const {
        Stream s;
        const bool local = (id & 1) == (role_ == Role::server ? 1u : 0u);
        const bool uni = id & 2;
        s.recv_limit = s.recv_window = settings_.initial_max_stream_data;
        const auto& p = peer_params_->params;
        if (p) {
            if (uni) s.send_limit = local ? p->initial_max_stream_data_uni : 0;
            else s.send_limit = local ? p->initial_max_stream_data_bidi_remote : p->initial_max_stream_data_bidi_local;
        } else if (remembered_ && local) {
            s.send_limit = uni ? remembered_->initial_max_stream_data_uni : remembered_->initial_max_stream_data_bidi_remote;
        }
        return s;
    }
    bool is_local(std::uint64_t id) const { return (id & 1) == (role_ == Role::server ? 1u : 0u); }
    bool can_send_on(std::uint64_t id) const { return !(id & 2) || is_local(id); }
    bool can_receive_on(std::uint64_t id) const { return !(id & 2) || !is_local(id); }

    // ---- receiving ----------------------------------------------------------------------------------

    static bool is_drop(std::error_code ec) {
        static const std::error_code drops[] = {
            make_error_code(Error::malformed_header),        make_error_code(Error::unknown_version),
            make_error_code(Error::packet_authentication_failed), make_error_code(Error::header_protection_failed),
            make_error_code(Error::no_keys_for_level),       make_error_code(Error::unknown_connection_id),
            make_error_code(Error::duplicate_packet),        make_error_code(Error::bad_retry_integrity),
            make_error_code(Error::invalid_token)};
        return std::find(std::begin(drops), std::end(drops), ec) != std::end(drops);
    }
    void drop(std::error_code reason) {
        ++stats_.packets_dropped;
        events_.note_drop(reason, now_);
    }

    /// A server answers a long header of an unknown version with Version Negotiation
    /// (RFC 9000 6.1) — only to a datagram large enough to be a client's first.
    void answer_unknown_version(ByteView datagram) {
        if (role_ != Role::server || tls_ || datagram_size_ < min_initial_datagram) return;
        wire::Reader r(datagram);
        r.u8();
        r.u32();
        auto dcid = r.prefixed(1);
        auto scid = r.prefixed(1);
        if (!r.ok() || dcid.size() > 255 || scid.size() > 255) return;
        std::uint8_t random = 0;
        draw_random<Crypto>(tls_config_, MutableByteView(&random, 1));
        stateless_reply_ = {
            version_negotiation(ConnectionId(scid), ConnectionId(dcid), random, settings_.accepted_versions), from_};
    }

    /// 10.3.1: a datagram we could not process that ends in one of the peer's reset
    /// tokens ends the connection (every token compared, each in constant time).
    bool is_stateless_reset(ByteView datagram) {
        if (datagram.size() < min_stateless_reset_size || peer_reset_tokens_.empty() || !tls_) return false;
        const ByteView tail = datagram.last(stateless_reset_token_length);
        bool match = false;
        for (const auto& [seq, token] : peer_reset_tokens_) match |= constant_time_equal(tail, token);
        if (!match) return false;
        if (!failed_) failed_ = make_error_code(Error::stateless_reset);
        state_ = State::draining;  // no more packets to this peer
        draining_since_ = now_;
        return true;
    }

    /// A short-header packet for a connection ID that is not ours: a listener with a
    /// reset key answers with a Stateless Reset, smaller than the packet (10.3.3).
    void maybe_send_stateless_reset(const Header& h) {
        if (settings_.reset_key.empty() || stateless_reply_ || stats_.stateless_resets_sent >= max_stateless_resets) return;
        const std::size_t size = stateless_reset_size(h.packet_size);
        if (size == 0) return;
        Bytes unpredictable(size - stateless_reset_token_length);
        draw_random<Crypto>(tls_config_, unpredictable);
        stateless_reply_ = {stateless_reset(unpredictable, stateless_reset_token<Crypto>(reset_key_, h.dcid)), from_};
        ++stats_.stateless_resets_sent;
    }

    /// Server, first Initial of a client: a token is checked (8.1.2, 8.1.3); without a
    /// valid one, a Retry server answers with Retry and keeps nothing. Returns whether
    /// the connection may begin (`invalid_token`: a Retry token that fails, dropped).
    Result<bool> admit_client(const Header& h) {
        ConnectionId original = h.dcid;
        std::optional<ConnectionId> retry_scid;
        bool validated = false;
        if (!h.token.empty()) {
            auto t = open_token<Crypto>(token_key_, h.token);
            if (t) {
                const auto lifetime = t->kind == TokenKind::retry ? settings_.retry_token_lifetime : settings_.new_token_lifetime;
                const std::uint64_t age_limit = static_cast<std::uint64_t>(std::chrono::milliseconds(lifetime).count());
                const bool fresh = t->issued_ms <= now_ms() && now_ms() - t->issued_ms <= age_limit;
                const bool ok = fresh && t->issued_to(from_);
                if (t->kind == TokenKind::retry) {
                    // 8.1.2: a Retry token that fails validation: the packet is discarded.
                    if (!ok || !(t->retry_scid == h.dcid)) return make_error_code(Error::invalid_token);
                    original = t->original_dcid;
                    retry_scid = h.dcid;
                    validated = true;
                } else {
                    validated = ok;  // 8.1.3: a stale NEW_TOKEN token counts as none
                    validated_by_new_token_ = ok;
                }
            }
        }
        if (!validated && settings_.retry) {
            const ConnectionId new_scid = random_cid();
            AddressToken token;
            token.kind = TokenKind::retry;
            token.issued_ms = now_ms();
            token.set_address(from_);
            token.original_dcid = h.dcid;
            token.retry_scid = new_scid;
            std::array<std::uint8_t, token_nonce_length> nonce{};
            draw_random<Crypto>(tls_config_, nonce);
            stateless_reply_ = {make_retry<Crypto>(h.scid, new_scid, h.dcid, seal_token<Crypto>(token_key_, token, nonce),
                                                   0, h.version),
                                from_};
            ++stats_.retries_sent;
            return false;
        }
        original_dcid_ = original;
        retry_scid_ = retry_scid;
        client_initial_dcid_ = h.dcid;
        address_validated_ = validated;
        return true;
    }

    std::error_code on_packet(const Header& h, Bytes& packet) {
        switch (h.type) {
            case PacketType::version_negotiation: return on_version_negotiation(h);
            case PacketType::retry: return on_retry(h, packet);
            case PacketType::zero_rtt:
                // Only a server reads 0-RTT, and only with the early key (a 0-RTT packet
                // before the Initial that creates the connection is dropped below).
                if (role_ == Role::client) return make_error_code(Error::no_keys_for_level);
                break;
            default: break;
        }
        if (role_ == Role::server && !tls_) {
            if (h.type == PacketType::one_rtt) {
                maybe_send_stateless_reset(h);
                return make_error_code(Error::unknown_connection_id);
            }
            // The first packet must be a client Initial in a full-size datagram (14.1).
            if (h.type != PacketType::initial || datagram_size_ < min_initial_datagram || h.dcid.length < 8)
                return make_error_code(Error::malformed_header);
            // A version we speak but do not accept here: Version Negotiation, no state (6.1).
            if (std::find(settings_.accepted_versions.begin(), settings_.accepted_versions.end(), h.version) ==
                settings_.accepted_versions.end()) {
                answer_unknown_version(packet);
                return make_error_code(Error::unknown_version);
            }
            version_ = h.version;
            auto admitted = admit_client(h);
            if (!admitted) return admitted.error();
            if (!*admitted) return {};  // answered with Retry, no state kept
            peer_cid_ = h.scid;
            if (auto ec = begin_tls(h.dcid)) return ec;
        }
        // A long header of another version than the connection's: its type bits and keys
        // are not ours (RFC 9369 3.2), so it is dropped before any key is tried.
        if (is_long(h.type) && h.version != version_) return make_error_code(Error::unknown_version);
        if (!is_our_cid(h.dcid) &&
            !(role_ == Role::server && h.dcid == client_initial_dcid_ &&
              (h.type == PacketType::initial || h.type == PacketType::zero_rtt))) {  // 0-RTT: the client's first DCID too
            if (h.type == PacketType::one_rtt && role_ == Role::server) maybe_send_stateless_reset(h);
            return make_error_code(Error::unknown_connection_id);
        }
        packet_dcid_ = h.dcid;
        const Space space = h.type == PacketType::initial     ? Space::initial
                            : h.type == PacketType::handshake ? Space::handshake
                                                              : Space::application;
        SpaceState& sp = spaces_[static_cast<std::size_t>(space)];
        if (sp.discarded) return make_error_code(Error::no_keys_for_level);
        auto& layer = tls_->record_layer();
        const bool zero_rtt = h.type == PacketType::zero_rtt;
        PacketKeys<Crypto>* keys = layer.read_keys(zero_rtt ? Level::early_data : level_of(space));
        if (!keys) return make_error_code(Error::no_keys_for_level);
        MutableByteView view(packet);
        auto u = unprotect_header(*keys->hp, view, h.pn_offset, sp.largest_received);
        if (!u) return u.error();
        const PacketKeys<Crypto>* open_with = keys;
        bool phase_change = false;
        if (space == Space::application && !zero_rtt) {
            if (!app_read_) return make_error_code(Error::no_keys_for_level);
            const unsigned phase = (u->first >> 2) & 1;
            open_with = &*app_read_;
            if (phase != read_phase_) {
                if (app_read_prev_ && u->packet_number < read_phase_first_pn_) {
                    open_with = &*app_read_prev_;
                } else {
                    if (!app_read_next_) {
                        auto next = app_read_->next_generation();
                        if (!next) return next.error();
                        app_read_next_.emplace(std::move(*next));
                    }
                    open_with = &*app_read_next_;
                    phase_change = true;
                }
            }
        }
        auto payload = open_payload(*open_with, view, u->header_length, u->packet_number);
        if (!payload) return payload.error();
        // Reserved bits must be zero once protection is removed (17.2, 17.3.1).
        if ((h.type == PacketType::one_rtt ? (u->first & 0x18) : (u->first & 0x0c)) != 0)
            return make_error_code(Error::protocol_violation);
        if (sp.received.contains(u->packet_number)) return make_error_code(Error::duplicate_packet);
        if (phase_change) {
            if (!handshake_confirmed_) return make_error_code(Error::protocol_violation);  // 6.1: not before
            app_read_prev_ = std::move(app_read_);
            app_read_ = std::move(app_read_next_);
            app_read_next_.reset();
            read_phase_ ^= 1;
            read_phase_first_pn_ = u->packet_number;
            if (write_phase_ != read_phase_) {  // the peer initiated: we follow (6.2)
                auto next = app_write_->next_generation();
                if (!next) return next.error();
                app_write_.emplace(std::move(*next));
                write_phase_ = read_phase_;
                ++stats_.key_updates;
            }
            key_update_unacked_ = false;
            events_.push(EventKind::key_updated);
        }
        ++stats_.packets_received;
        if (zero_rtt) ++stats_.zero_rtt_packets_received;
        last_activity_ = now_;
        if (role_ == Role::server && space == Space::handshake && !address_validated_) {
            address_validated_ = true;  // 8.1: a Handshake packet proves the address
            discard_space(Space::initial);
        }
        if (role_ == Role::client && space == Space::initial && !h.scid.empty() && !peer_cid_locked_) {
            peer_cid_ = h.scid;  // the server's chosen CID (7.2)
            peer_cid_locked_ = true;
            server_initial_scid_ = h.scid;
        }
        if (payload->empty()) return make_error_code(Error::protocol_violation);  // 12.4: at least one frame
        bool eliciting = false, probing_only = true;
        const bool newest = !sp.largest_received || u->packet_number > *sp.largest_received;
        FrameReader frames(*payload);
        while (auto f = frames.next()) {
            if (!*f) return f->error();
            if (!allowed_in(**f, h.type)) return make_error_code(Error::frame_not_allowed);
            eliciting |= ack_eliciting(**f);
            probing_only &= is_probing(**f);
            if (auto ec = on_frame(space, **f)) return ec;
            if (state_ != State::open) return {};
        }
        if (sp.discarded) return {};
        sp.received.insert(u->packet_number, u->packet_number + 1);
        sp.received.keep_highest(32);
        if (!sp.largest_received || u->packet_number > *sp.largest_received) {
            sp.largest_received = u->packet_number;
            sp.largest_received_time = now_;
        }
        if (eliciting) {
            if (!sp.ack_pending) sp.ack_deadline = now_ + ack_delay_for(space);
            sp.ack_pending = true;
            ++sp.eliciting_since_ack;
            if (space != Space::application || sp.eliciting_since_ack >= 2) sp.ack_now = true;
        }
        // 9.3: the peer moved when its newest non-probing packet comes from a new
        // address (only clients move, and not before the handshake is confirmed).
        if (space == Space::application && role_ == Role::server && handshake_confirmed_ && peer_ && !(from_ == *peer_) &&
            !probing_only && newest)
            migrate_to(from_);
        return {};
    }

    static bool is_probing(const Frame& f) {
        return std::holds_alternative<PathChallengeFrame>(f) || std::holds_alternative<PathResponseFrame>(f) ||
               std::holds_alternative<NewConnectionIdFrame>(f) || std::holds_alternative<PaddingFrame>(f);
    }

    bool is_our_cid(const ConnectionId& cid) const {
        for (const auto& [seq, id] : our_cids_)
            if (id == cid) return true;
        return false;
    }

    /// Our spare connection IDs: as many as the peer keeps (its limit), up to ours (5.1.1).
    void issue_connection_ids() {
        const auto& p = peer_params_->params;
        if (!p || !handshake_complete_) return;
        const std::uint64_t target = std::min(p->active_connection_id_limit, settings_.active_connection_id_limit);
        while (our_cids_.size() < target) {
            const std::uint64_t seq = next_our_cid_seq_++;
            our_cids_[seq] = random_cid();
            ++local_cids_generation_;
            new_cid_pending_.push_back(seq);
        }
    }

    /// 9.3: send to the new address at once, validate it with PATH_CHALLENGE (within 3x
    /// of what it sent us until then), a fresh peer CID (9.5) and, unless only the port
    /// changed (NAT rebinding), fresh congestion and RTT state (9.4).
    void migrate_to(const Endpoint& to) {
        const bool port_only = peer_->family() == to.family() && peer_->address() == to.address();
        PathState path;
        path.to = to;
        path.previous = path_ ? path_->previous : *peer_;
        path.received = datagram_size_;
        draw_random<Crypto>(tls_config_, path.challenge);
        path.challenge_pending = true;
        // 8.2.4: three times the larger of the current PTO and a fresh path's.
        path.deadline = now_ + 3 * std::max(rtt_.pto(Duration(0)), RttEstimator{}.pto(Duration(0)));
        path_ = path;
        peer_ = to;
        ++stats_.migrations;
        if (!port_only) {
            cc_.window = 10 * settings_.max_datagram_size;
            cc_.ssthresh = ~std::size_t{0};
            cc_.recovery_start = now_;  // acknowledgements from the old path do not grow the new window
            rtt_ = RttEstimator{};
            first_rtt_sample_.reset();
            pacer_.reset();
        }
        if (auto next = peer_cids_.upper_bound(active_peer_cid_seq_); next != peer_cids_.end()) {
            retire_peer_cid(active_peer_cid_seq_);
            active_peer_cid_seq_ = next->first;
            peer_cid_ = next->second;
        }
        events_.push(EventKind::peer_address_changed);
    }

    void on_path_validation_timeout() {
        // 9.3.2: back to the last validated address.
        const Endpoint previous = path_->previous;
        path_.reset();
        peer_ = previous;
        events_.push(EventKind::dropped_packet, make_error_code(Error::path_validation_failed));
    }

    void retire_peer_cid(std::uint64_t seq) {
        retire_queue_.push_back(seq);
        peer_cids_.erase(seq);
        peer_reset_tokens_.erase(seq);
    }

    Duration ack_delay_for(Space s) const {
        return s == Space::application ? std::chrono::milliseconds(25) : Duration(0);
    }

    std::error_code on_version_negotiation(const Header& h) {
        if (role_ != Role::client || got_server_packet_) return {};
        for (std::size_t i = 0; i + 4 <= h.versions.size(); i += 4) {
            const std::uint32_t v = std::uint32_t{h.versions[i]} << 24 | std::uint32_t{h.versions[i + 1]} << 16 |
                                    std::uint32_t{h.versions[i + 2]} << 8 | h.versions[i + 3];
            if (v == version_) return {};  // 6.2: a VN listing our version is ignored
        }
        failed_ = make_error_code(Error::unknown_version);
        state_ = State::closed;
        return {};
    }

    std::error_code on_retry(const Header& h, const Bytes& packet) {
        if (role_ != Role::client) return make_error_code(Error::malformed_header);  // a server never takes one
        // Another version's packet (its type bits read under ours may say Retry): not an answer to our Initial.
        if (h.version != version_) return make_error_code(Error::unknown_version);
        if (retried_ || got_server_packet_) return {};
        if (!verify_retry<Crypto>(original_dcid_.view(), packet)) return make_error_code(Error::bad_retry_integrity);
        if (h.token.empty() || h.scid == peer_cid_) return make_error_code(Error::malformed_header);
        retried_ = true;
        retry_scid_ = h.scid;
        retry_token_.assign(h.token.begin(), h.token.end());
        peer_cid_ = h.scid;
        // New Initial keys from the new DCID; the first flight goes again from offset 0.
        if (auto ec = tls_->record_layer().install_initial(peer_cid_.view(), true)) return ec;
        SpaceState& sp = spaces_[0];
        for (auto& [pn, p] : sp.sent)
            if (p.in_flight) cc_.on_removed(p.bytes);
        for (auto& [pn, p] : sp.sent) on_frames_lost(Space::initial, p, false);
        sp.sent.clear();
        return {};
    }

    std::error_code on_frame(Space space, const Frame& frame) {
        return std::visit([&](const auto& f) { return handle(space, f); }, frame);
    }
    std::error_code handle(Space, const PaddingFrame&) { return {}; }
    std::error_code handle(Space, const PingFrame&) { return {}; }
    std::error_code handle(Space space, const AckFrame& f) { return on_ack(space, f); }
    std::error_code handle(Space space, const CryptoFrame& f) {
        if (role_ == Role::client) got_server_packet_ = true;
        SpaceState& sp = spaces_[static_cast<std::size_t>(space)];
        const std::uint64_t limit = sp.crypto_recv.read_offset() + settings_.max_crypto_buffer;
        if (f.offset + f.data.size() > limit) return make_error_code(Error::crypto_buffer_exceeded);
        if (auto ec = sp.crypto_recv.insert(f.offset, f.data, false, limit)) return ec;
        auto ready = sp.crypto_recv.readable();
        if (ready.empty()) return {};
        // 4.1.3: handshake data must arrive at the level TLS is reading.
        if (level_of(space) != tls_->record_layer().read_level() &&
            !(space == Space::application && tls_->record_layer().read_level() == Level::application))
            return make_error_code(Error::protocol_violation);
        const Bytes bytes(ready.begin(), ready.end());
        sp.crypto_recv.consume(ready.size());
        if (auto ec = tls_->receive(bytes, peer_.value_or(Endpoint{}), now_)) return fail_tls(ec);
        return collect_tls();
    }
    std::error_code handle(Space, const NewTokenFrame& f) {
        if (role_ == Role::server) return make_error_code(Error::protocol_violation);
        new_token_.assign(f.token.begin(), f.token.end());  // the application keeps it for the next connection
        return {};
    }
    std::error_code handle(Space, const StreamFrame& f) {
        auto s = stream_for_peer_frame(f.stream_id, true);
        if (!s) return s.error();
        Stream& st = **s;
        const std::uint64_t before = st.recv.highest();
        if (auto ec = st.recv.insert(f.offset, f.data, f.fin, st.recv_limit)) return ec;
        conn_recv_highest_ += st.recv.highest() - before;
        if (conn_recv_highest_ > conn_recv_limit_) return make_error_code(Error::flow_control_violation);
        return {};
    }
    std::error_code handle(Space, const ResetStreamFrame& f) {
        auto s = stream_for_peer_frame(f.stream_id, true);
        if (!s) return s.error();
        Stream& st = **s;
        const std::uint64_t before = st.recv.highest();
        if (auto ec = st.recv.insert(f.final_size, {}, true, st.recv_limit)) return ec;
        conn_recv_highest_ += st.recv.highest() - before;
        if (conn_recv_highest_ > conn_recv_limit_) return make_error_code(Error::flow_control_violation);
        return {};
    }
    std::error_code handle(Space, const StopSendingFrame& f) {
        auto s = stream_for_peer_frame(f.stream_id, false);
        if (!s) return s.error();
        if (!(*s)->reset_code) (*s)->reset_code = f.error_code;  // answer with RESET_STREAM (3.5)
        return {};
    }
    std::error_code handle(Space, const MaxDataFrame& f) {
        conn_send_limit_ = std::max(conn_send_limit_, f.maximum);
        return {};
    }
    std::error_code handle(Space, const MaxStreamDataFrame& f) {
        auto s = stream_for_peer_frame(f.stream_id, false);
        if (!s) return s.error();
        (*s)->send_limit = std::max((*s)->send_limit, f.maximum);
        return {};
    }
    std::error_code handle(Space, const MaxStreamsFrame& f) {
        auto& limit = f.bidi ? peer_max_streams_bidi_ : peer_max_streams_uni_;
        limit = std::max(limit, f.maximum);
        return {};
    }
    std::error_code handle(Space, const DataBlockedFrame&) { return {}; }
    std::error_code handle(Space, const StreamDataBlockedFrame&) { return {}; }
    std::error_code handle(Space, const StreamsBlockedFrame&) { return {}; }
    std::error_code handle(Space, const NewConnectionIdFrame& f) {
        if (peer_cid_.empty()) return make_error_code(Error::protocol_violation);  // 19.15
        peer_cids_.try_emplace(active_peer_cid_seq_, peer_cid_);  // the one in use is held too
        if (auto known = peer_cids_.find(f.sequence); known != peer_cids_.end()) {
            if (!(known->second == f.id)) return make_error_code(Error::protocol_violation);  // same number, other CID
        } else if (f.sequence < peer_retired_below_) {
            retire_queue_.push_back(f.sequence);  // 19.15: arrived already retired
        } else {
            peer_cids_[f.sequence] = f.id;
            peer_reset_tokens_[f.sequence] = f.reset_token;
        }
        peer_retired_below_ = std::max(peer_retired_below_, f.retire_prior_to);
        if (active_peer_cid_seq_ < peer_retired_below_) {  // the one in use is retired: switch first
            auto next = peer_cids_.lower_bound(peer_retired_below_);
            if (next == peer_cids_.end()) return make_error_code(Error::protocol_violation);
            const std::uint64_t old = active_peer_cid_seq_;
            active_peer_cid_seq_ = next->first;
            peer_cid_ = next->second;
            retire_peer_cid(old);
        }
        while (!peer_cids_.empty() && peer_cids_.begin()->first < peer_retired_below_) retire_peer_cid(peer_cids_.begin()->first);
        if (peer_cids_.size() > std::max<std::uint64_t>(settings_.active_connection_id_limit, 2))
            return make_error_code(Error::connection_id_limit_exceeded);
        return {};
    }
    std::error_code handle(Space, const RetireConnectionIdFrame& f) {
        if (f.sequence >= next_our_cid_seq_) return make_error_code(Error::protocol_violation);  // 19.16: never issued
        auto it = our_cids_.find(f.sequence);
        if (it == our_cids_.end()) return {};  // retired already
        if (it->second == packet_dcid_) return make_error_code(Error::protocol_violation);  // 19.16: the one it came on
        our_cids_.erase(it);
        ++local_cids_generation_;
        issue_connection_ids();  // a replacement
        return {};
    }
    std::error_code handle(Space, const PathChallengeFrame& f) {
        // 8.2.2: the answer goes back on the path the challenge came on.
        path_responses_.push_back({f.data, from_, datagram_size_});
        if (path_responses_.size() > 4) path_responses_.pop_front();
        return {};
    }
    std::error_code handle(Space, const PathResponseFrame& f) {
        if (path_ && constant_time_equal(f.data, path_->challenge)) {  // 8.2.3: the new path is validated
            path_.reset();
            ++stats_.paths_validated;
        }
        return {};  // an unexpected one is ignored
    }
    std::error_code handle(Space, const ConnectionCloseFrame& f) {
        peer_close_ = {f.application, f.error_code};
        state_ = State::draining;  // 10.2.2: no more sending
        if (f.error_code == 0 || (f.application && f.error_code == settings_.application_close_code)) {
            closed_cleanly_ = true;
            events_.push(EventKind::peer_closed);
        } else {
            failed_ = make_error_code(Error::peer_closed_with_error);
        }
        draining_since_ = now_;
        return {};
    }
    /// RFC 9221 3: a DATAGRAM we did not advertise, or larger than advertised, is a
    /// PROTOCOL_VIOLATION. A full receive queue drops it (5: delivery is not promised).
    std::error_code handle(Space, const DatagramFrame& f) {
        if (!settings_.datagrams) return make_error_code(Error::unexpected_datagram);
        if (f.frame_size > settings_.max_datagram_frame_size) return make_error_code(Error::oversized_datagram);
        Bytes* slot = datagrams_in_.reserve_back();
        if (!slot) {
            ++stats_.datagrams_dropped;
            return {};
        }
        slot->assign(f.data.begin(), f.data.end());
        datagrams_in_.commit_back();
        ++stats_.datagrams_received;
        return {};
    }
    std::error_code handle(Space, const HandshakeDoneFrame&) {
        if (role_ == Role::server) return make_error_code(Error::protocol_violation);
        if (!handshake_confirmed_) confirm_handshake();
        return {};
    }

    /// The stream a frame from the peer names: created when the peer may open it
    /// (limits checked), an error when the frame cannot apply to it.
    Result<Stream*> stream_for_peer_frame(std::uint64_t id, bool receiving) {
        if (receiving ? !can_receive_on(id) : !can_send_on(id)) return make_error_code(Error::stream_state_violation);
        auto it = streams_.find(id);
        if (it != streams_.end()) return &it->second;
        const std::uint64_t index = id / 4;
        const bool bidi = !(id & 2);
        if (is_local(id)) {
            const std::uint64_t opened = bidi ? next_bidi_ : next_uni_;
            if (index >= opened) return make_error_code(Error::stream_state_violation);
            return make_error_code(Error::unknown_stream);  // closed and forgotten: ignore
        }
        std::uint64_t& seen = bidi ? peer_opened_bidi_ : peer_opened_uni_;
        const std::uint64_t limit = bidi ? our_max_streams_bidi_ : our_max_streams_uni_;
        if (index >= limit) return make_error_code(Error::stream_limit_violation);
        for (; seen <= index; ++seen) {
            const std::uint64_t sid = seen * 4 + (id & 3);
            streams_.emplace(sid, make_stream(sid));
        }
        return &streams_.find(id)->second;
    }

    // ---- TLS ---------------------------------------------------------------------------------------

    /// Handshake bytes TLS wrote go to the CRYPTO send buffer of their level; keys it
    /// installed become usable; completion is noticed here.
    std::error_code collect_tls() {
        auto& layer = tls_->record_layer();
        for (Level l : {Level::initial, Level::handshake, Level::application}) {
            Bytes out = layer.take_outgoing(l);
            if (!out.empty()) spaces_[static_cast<std::size_t>(space_of(l))].crypto_send.write(out);
        }
        if (!app_write_ && layer.write_keys(Level::application) && layer.read_keys(Level::application)) {
            auto w = PacketKeys<Crypto>::derive(*layer.suite(), layer.write_keys(Level::application)->secret, false, version_);
            auto r = PacketKeys<Crypto>::derive(*layer.suite(), layer.read_keys(Level::application)->secret, false, version_);
            if (!w) return w.error();
            if (!r) return r.error();
            app_write_.emplace(std::move(*w));
            app_read_.emplace(std::move(*r));
        }
        while (auto e = tls_->poll_event())
            if (e->kind == EventKind::early_data_accepted || e->kind == EventKind::early_data_rejected ||
                e->kind == EventKind::session_ticket)
                events_.push(e->kind, e->reason);
        if (!handshake_complete_ && tls_->is_established()) {
            handshake_complete_ = true;
            if (!tls_config_.alpn.empty() && tls_->session_info().alpn.empty())
                return close_crypto(120, Error::no_application_protocol);  // RFC 9001 8.1
            if (auto ec = validate_peer_parameters()) return ec;
            if (remembered_ && !tls_->session_info().early_data_accepted) resend_refused_zero_rtt();
            apply_peer_parameters();
            issue_connection_ids();
            events_.push(EventKind::handshake_complete);
            if (role_ == Role::server) {
                handshake_done_pending_ = true;
                new_token_pending_ = true;  // 8.1.3: a token for the client's next connection
                confirm_handshake();
            }
        }
        return {};
    }

    std::error_code validate_peer_parameters() {
        const auto& p = peer_params_->params;
        if (!p) return make_error_code(Error::malformed_transport_parameters);
        // 7.3: the connection IDs both sides used must be authenticated here.
        if (!p->initial_source_connection_id) return make_error_code(Error::invalid_transport_parameter);
        if (role_ == Role::server) {
            if (!(*p->initial_source_connection_id == peer_cid_)) return make_error_code(Error::invalid_transport_parameter);
            return {};
        }
        if (!p->original_destination_connection_id || !(*p->original_destination_connection_id == original_dcid_))
            return make_error_code(Error::invalid_transport_parameter);
        if (!server_initial_scid_ || !(*p->initial_source_connection_id == *server_initial_scid_))
            return make_error_code(Error::invalid_transport_parameter);
        if (retried_ != p->retry_source_connection_id.has_value() ||
            (retried_ && !(*p->retry_source_connection_id == *retry_scid_)))
            return make_error_code(Error::invalid_transport_parameter);
        // 7.4.1: a server that accepts 0-RTT must not reduce the limits it was sent under.
        if (remembered_ && tls_->session_info().early_data_accepted &&
            !RememberedLimits::of(*p).at_least(*remembered_))
            return make_error_code(Error::protocol_violation);
        return {};
    }

    /// Client: the stored session's limits, if 0-RTT may be tried (Settings::early_data,
    /// a session whose ticket allows early data and that remembered the server's limits).
    void load_remembered_limits() {
        if (!settings_.early_data || !tls_config_.session_cache) return;
        const std::string key = tls_config_.session_key.empty() ? tls_config_.server_name : tls_config_.session_key;
        auto stored = tls_config_.session_cache->load(key);
        if (!stored) return;
        auto session = tls13::SessionState::parse(*stored);
        if (!session || session->max_early_data != 0xffffffff) return;  // RFC 9001 4.6.1
        if (session->expired(tls13::unix_micros(wall_now(tls_config_)))) return;
        remembered_ = RememberedLimits::decode(session->application_data);
    }

    /// Client, 0-RTT refused: every 0-RTT packet counts as lost, its stream data goes
    /// again under 1-RTT keys (RFC 9001 4.6.2), counted in zero_rtt_bytes_resent.
    void resend_refused_zero_rtt() {
        SpaceState& sp = spaces_[static_cast<std::size_t>(Space::application)];
        for (auto& [pn, p] : sp.sent) {
            if (p.in_flight) cc_.on_removed(p.bytes);
            for (const auto& fr : p.frames)
                if (fr.kind == SentFrame::Kind::stream) stats_.zero_rtt_bytes_resent += fr.length;
            on_frames_lost(Space::application, p, false);
        }
        sp.sent.clear();
        sp.loss_time.reset();
    }

    void apply_peer_parameters() {
        const auto& p = *peer_params_->params;
        conn_send_limit_ = p.initial_max_data;
        peer_max_streams_bidi_ = p.initial_max_streams_bidi;
        peer_max_streams_uni_ = p.initial_max_streams_uni;
        peer_ack_delay_exponent_ = p.ack_delay_exponent;
        peer_max_ack_delay_ = std::chrono::milliseconds(p.max_ack_delay_ms);
        if (role_ == Role::client && p.stateless_reset_token) peer_reset_tokens_[0] = *p.stateless_reset_token;
        if (p.max_idle_timeout_ms && (!settings_.max_idle_timeout_ms || p.max_idle_timeout_ms < settings_.max_idle_timeout_ms))
            idle_timeout_ms_ = p.max_idle_timeout_ms;
        else
            idle_timeout_ms_ = settings_.max_idle_timeout_ms;
        // Limits only grow, except after refused 0-RTT: then the remembered ones go (7.4.1).
        const bool refused_zero_rtt = remembered_ && !tls_->session_info().early_data_accepted;
        for (auto& [id, s] : streams_) {
            const Stream fresh = make_stream(id);
            s.send_limit = refused_zero_rtt ? fresh.send_limit : std::max(s.send_limit, fresh.send_limit);
        }
    }

    void confirm_handshake() {
        handshake_confirmed_ = true;
        // 4.9.2: Handshake keys go once the handshake is confirmed.
        discard_space(Space::handshake);
        if (role_ == Role::client) discard_space(Space::initial);
    }

    void discard_space(Space s) {
        SpaceState& sp = spaces_[static_cast<std::size_t>(s)];
        if (sp.discarded) return;
        sp.discarded = true;
        for (auto& [pn, p] : sp.sent)
            if (p.in_flight) cc_.on_removed(p.bytes);
        sp.sent.clear();
        sp.loss_time.reset();
        sp.ack_pending = false;
        tls_->record_layer().discard(level_of(s));
        pto_count_ = 0;
    }

    // ---- acknowledgements and loss --------------------------------------------------------------------

    std::error_code on_ack(Space space, const AckFrame& f) {
        SpaceState& sp = spaces_[static_cast<std::size_t>(space)];
        if (f.largest() >= sp.next_pn) return make_error_code(Error::protocol_violation);  // 13.1
        if (!sp.largest_acked || f.largest() > *sp.largest_acked) sp.largest_acked = f.largest();
        bool newly_eliciting = false;
        std::optional<Instant> largest_time;
        for (const auto& range : f.ranges) {
            auto it = sp.sent.lower_bound(range.smallest);
            while (it != sp.sent.end() && it->first <= range.largest) {
                SentPacket& p = it->second;
                if (it->first == f.largest()) largest_time = p.time;
                newly_eliciting |= p.ack_eliciting;
                if (p.in_flight) cc_.on_acked(p.bytes, p.time);
                on_frames_acked(space, p);
                if (space == Space::application && key_update_unacked_ && it->first >= key_update_first_pn_)
                    key_update_unacked_ = false;
                it = sp.sent.erase(it);
            }
        }
        if (largest_time && newly_eliciting) {
            Duration ack_delay{0};
            if (space == Space::application)
                ack_delay = std::chrono::microseconds(f.ack_delay << peer_ack_delay_exponent_);
            rtt_.update(now_ - *largest_time, ack_delay, handshake_confirmed_, peer_max_ack_delay_);
            if (!first_rtt_sample_) first_rtt_sample_ = now_;
        }
        detect_lost(space);
        if (largest_time) pto_count_ = 0;
        maybe_start_closing();
        return {};
    }

    void on_frames_acked(Space space, const SentPacket& p) {
        SpaceState& sp = spaces_[static_cast<std::size_t>(space)];
        if (p.largest_ack) {
            // 13.2.4: what we acknowledged in an acknowledged packet need not be repeated.
            if (*p.largest_ack > 32) sp.received.erase(0, *p.largest_ack - 32);
        }
        for (const auto& fr : p.frames) {
            switch (fr.kind) {
                case SentFrame::Kind::crypto: sp.crypto_send.on_acked(fr.offset, fr.length, false); break;
                case SentFrame::Kind::stream:
                    if (auto it = streams_.find(fr.id); it != streams_.end())
                        it->second.send.on_acked(fr.offset, fr.length, fr.fin);
                    break;
                default: break;
            }
        }
    }

    /// Frames of a lost packet are queued again (13.3); `count` says whether the bytes
    /// count as retransmitted (not for a Retry's restart); `probe`: a PTO resends the
    /// data of packets not (yet) declared lost.
    void on_frames_lost(Space space, const SentPacket& p, bool count = true, bool probe = false) {
        SpaceState& sp = spaces_[static_cast<std::size_t>(space)];
        for (const auto& fr : p.frames) {
            switch (fr.kind) {
                case SentFrame::Kind::crypto:
                    sp.crypto_send.on_lost(fr.offset, fr.length, false);
                    if (count) stats_.bytes_retransmitted += fr.length;
                    break;
                case SentFrame::Kind::stream:
                    if (auto it = streams_.find(fr.id); it != streams_.end()) {
                        it->second.send.on_lost(fr.offset, fr.length, fr.fin);
                        if (count) stats_.bytes_retransmitted += fr.length;
                    }
                    break;
                case SentFrame::Kind::max_data: max_data_pending_ = true; break;
                case SentFrame::Kind::max_stream_data:
                    if (auto it = streams_.find(fr.id); it != streams_.end()) it->second.max_stream_data_pending = true;
                    break;
                case SentFrame::Kind::max_streams_bidi: max_streams_bidi_pending_ = true; break;
                case SentFrame::Kind::max_streams_uni: max_streams_uni_pending_ = true; break;
                case SentFrame::Kind::handshake_done: handshake_done_pending_ = true; break;
                case SentFrame::Kind::reset_stream:
                    if (auto it = streams_.find(fr.id); it != streams_.end()) it->second.reset_sent = false;
                    break;
                case SentFrame::Kind::retire_connection_id: retire_queue_.push_back(fr.id); break;
                case SentFrame::Kind::ping: break;
                case SentFrame::Kind::new_token: new_token_pending_ = true; break;
                case SentFrame::Kind::new_connection_id:
                    if (our_cids_.count(fr.id)) new_cid_pending_.push_back(fr.id);
                    break;
                case SentFrame::Kind::path_challenge:
                    if (path_) path_->challenge_pending = true;
                    break;
                case SentFrame::Kind::datagram:  // RFC 9221 5.2: not sent again; counted once, when declared lost
                    if (!probe) ++stats_.datagrams_lost;
                    break;
            }
        }
    }

    /// RFC 9002 6.1: packet and time thresholds.
    void detect_lost(Space space) {
        SpaceState& sp = spaces_[static_cast<std::size_t>(space)];
        sp.loss_time.reset();
        if (!sp.largest_acked) return;
        const Duration delay = rtt_.loss_delay();
        PersistentCongestionCheck persistent(persistent_congestion_duration(rtt_, peer_max_ack_delay_),
                                             first_rtt_sample_);
        for (auto it = sp.sent.begin(); it != sp.sent.end() && it->first < *sp.largest_acked;) {
            const SentPacket& p = it->second;
            if (p.time <= now_ - delay || *sp.largest_acked >= it->first + packet_threshold) {
                ++stats_.packets_lost;
                if (p.in_flight) cc_.on_lost(p.bytes, p.time, now_);
                persistent.on_lost(it->first, p.time, p.ack_eliciting);
                on_frames_lost(space, p);
                it = sp.sent.erase(it);
            } else {
                const Instant when = p.time + delay;
                if (!sp.loss_time || when < *sp.loss_time) sp.loss_time = when;
                ++it;
            }
        }
        if (persistent.found()) {
            // 7.6.2: the window collapses to the minimum; 5.2: min_rtt starts again from
            // the newest sample (the path may have changed).
            cc_.on_persistent_congestion();
            rtt_.min = rtt_.latest;
            ++stats_.persistent_congestion;
        }
    }

    bool eliciting_in_flight(const SpaceState& sp) const {
        for (const auto& [pn, p] : sp.sent)
            if (p.ack_eliciting) return true;
        return false;
    }

    std::optional<Instant> loss_or_pto_time() const {
        std::optional<Instant> t;
        for (const auto& sp : spaces_)
            if (sp.loss_time && (!t || *sp.loss_time < *t)) t = sp.loss_time;
        if (t) return t;
        // 6.2.1: the PTO of the earliest space with ack-eliciting data in flight.
        for (std::size_t i = 0; i < 3; ++i) {
            const SpaceState& sp = spaces_[i];
            if (sp.discarded || !eliciting_in_flight(sp)) continue;
            if (i == 2 && !handshake_complete_) continue;
            const Duration max_ack = i == 2 ? Duration(peer_max_ack_delay_) : Duration(0);
            const Instant when = sp.last_eliciting_sent + rtt_.pto(max_ack) * (1u << std::min(pto_count_, 16u));
            if (!t || when < *t) t = when;
        }
        // Anti-deadlock (6.2.2.1): a client with nothing in flight before the handshake
        // completes still probes, so the server can send more.
        if (!t && role_ == Role::client && !handshake_complete_ && tls_)
            t = last_activity_ + rtt_.pto(Duration(0)) * (1u << std::min(pto_count_, 16u));
        return t;
    }

    void on_loss_timer(Instant now) {
        for (std::size_t i = 0; i < 3; ++i)
            if (spaces_[i].loss_time && now >= *spaces_[i].loss_time) {
                detect_lost(static_cast<Space>(i));
                return;
            }
        // PTO: probe in each space with ack-eliciting data in flight; the unacknowledged
        // data goes again (6.2.4) and at least one ack-eliciting packet is sent.
        ++pto_count_;
        ++stats_.pto_count;
        bool probed = false;
        for (std::size_t i = 0; i < 3; ++i) {
            SpaceState& sp = spaces_[i];
            if (sp.discarded || !eliciting_in_flight(sp)) continue;
            if (i == 2 && !handshake_complete_) continue;
            for (auto& [pn, p] : sp.sent) on_frames_lost(static_cast<Space>(i), p, true, true);
            sp.probes = 1;
            probed = true;
        }
        if (!probed && role_ == Role::client && !handshake_complete_) {
            const std::size_t i = tls_->record_layer().write_keys(Level::handshake) ? 1 : 0;
            spaces_[i].probes = 1;
        }
        last_activity_ = std::max(last_activity_, now - std::chrono::milliseconds(0));
    }

    // ---- sending ---------------------------------------------------------------------------------

    std::uint64_t conn_send_used() const {
        std::uint64_t used = 0;
        for (const auto& [id, s] : streams_) used += s.send.sent_end();
        return used;
    }

    std::size_t amplification_budget() const {
        if (path_ && !path_->own_move) {  // 9.3.1 / 8.2: a new peer address is held to 3x until validated
            const std::size_t allowed = 3 * path_->received;
            return allowed > path_->sent ? allowed - path_->sent : 0;
        }
        if (role_ == Role::client || address_validated_) return ~std::size_t{0};
        const std::size_t allowed = 3 * bytes_received_;
        return allowed > bytes_sent_ ? allowed - bytes_sent_ : 0;
    }

    /// Frames for one packet of `space`, at most `room` bytes. Returns whether anything
    /// ack-eliciting was added; records what was sent in `sent`.
    bool fill_frames(Space space, Bytes& payload, std::size_t room, SentPacket& sent, bool congestion_limited) {
        SpaceState& sp = spaces_[static_cast<std::size_t>(space)];
        bool eliciting = false;
        // A 0-RTT packet (the application space before 1-RTT keys): stream data only.
        if (space == Space::application && !app_write_) {
            if (congestion_limited && sp.probes == 0) return false;
            eliciting = fill_datagram_frames(payload, room, sent);
            stats_.zero_rtt_datagrams_sent += sent.frames.size();
            eliciting |= fill_stream_frames(payload, room, sent);
            for (const auto& fr : sent.frames)
                if (fr.kind == SentFrame::Kind::stream) stats_.zero_rtt_bytes_sent += fr.length;
            return eliciting;
        }
        if (sp.ack_pending && !sp.received.empty()) {
            std::vector<AckRange> ranges;
            const auto& r = sp.received.ranges();
            for (auto it = r.rbegin(); it != r.rend() && ranges.size() < 32; ++it)
                ranges.push_back({it->first, it->second - 1});
            const std::uint64_t delay_us = static_cast<std::uint64_t>(
                std::chrono::duration_cast<std::chrono::microseconds>(now_ - sp.largest_received_time).count());
            Bytes ack;
            write_ack(ack, ranges, space == Space::application ? delay_us >> 3 : 0);
            if (ack.size() <= room) {
                append(payload, ack);
                sent.largest_ack = ranges.front().largest;
                sp.ack_pending = sp.ack_now = false;
                sp.eliciting_since_ack = 0;
                sp.ack_deadline.reset();
            }
        }
        auto left = [&] { return room > payload.size() ? room - payload.size() : 0; };
        if (congestion_limited && sp.probes == 0) return false;
        if (space == Space::application) {
            if (handshake_done_pending_ && left() >= 1) {
                write_varint(payload, frame_type::handshake_done);
                sent.frames.push_back({SentFrame::Kind::handshake_done});
                handshake_done_pending_ = false;
                eliciting = true;
            }
            eliciting |= fill_control_frames(payload, room, sent);
        }
        // CRYPTO data of this level.
        while (left() > 16 && sp.crypto_send.has_data_to_send()) {
            const std::size_t max = left() - 1 - 8 - 4;
            auto c = sp.crypto_send.next_chunk(max);
            if (!c) break;
            write_crypto(payload, c->offset, sp.crypto_send.view(c->offset, c->length));
            sent.frames.push_back({SentFrame::Kind::crypto, 0, c->offset, static_cast<std::uint32_t>(c->length)});
            eliciting = true;
        }
        if (space == Space::application && handshake_complete_) {
            eliciting |= fill_datagram_frames(payload, room, sent);  // before streams: they are the latency-sensitive ones
            eliciting |= fill_stream_frames(payload, room, sent);
        }
        // Injected frames (tests) stand in for the PING, so a packet can carry only them.
        const bool injecting = !injected_[static_cast<std::size_t>(space)].empty();
        if (sp.probes > 0 && !eliciting && !injecting && left() >= 1) {
            write_varint(payload, frame_type::ping);
            sent.frames.push_back({SentFrame::Kind::ping});
            eliciting = true;
        }
        if ((eliciting || injecting) && sp.probes > 0) --sp.probes;
        // Tests only: injected frames go last, so a truncated one stays truncated.
        for (auto& raw : injected_[static_cast<std::size_t>(space)])
            if (raw.size() <= left()) append(payload, raw);
        injected_[static_cast<std::size_t>(space)].clear();
        return eliciting;
    }

    bool fill_control_frames(Bytes& payload, std::size_t room, SentPacket& sent) {
        bool eliciting = false;
        auto fits = [&](std::size_t n) { return payload.size() + n <= room; };
        // Flow control credit: a new limit once half the window was consumed.
        std::uint64_t consumed = 0;
        for (const auto& [id, s] : streams_) consumed += s.recv.read_offset();
        if (conn_recv_limit_ - consumed < settings_.initial_max_data / 2) {
            conn_recv_limit_ = consumed + settings_.initial_max_data;
            max_data_pending_ = true;
        }
        if (max_data_pending_ && fits(9)) {
            write_varint_frame(payload, frame_type::max_data, conn_recv_limit_);
            sent.frames.push_back({SentFrame::Kind::max_data});
            max_data_pending_ = false;
            eliciting = true;
        }
        for (auto& [id, s] : streams_) {
            if (!can_receive_on(id) || s.recv.final_size()) continue;
            if (s.recv_limit - s.recv.read_offset() < s.recv_window / 2) {
                s.recv_limit = s.recv.read_offset() + s.recv_window;
                s.max_stream_data_pending = true;
            }
            if (s.max_stream_data_pending && fits(17)) {
                write_varint_frame(payload, frame_type::max_stream_data, id, s.recv_limit);
                sent.frames.push_back({SentFrame::Kind::max_stream_data, id});
                s.max_stream_data_pending = false;
                eliciting = true;
            }
        }
        for (auto& [id, s] : streams_) {
            if (s.reset_code && !s.reset_sent && fits(25)) {
                write_varint_frame(payload, frame_type::reset_stream, id, *s.reset_code, s.send.sent_end());
                sent.frames.push_back({SentFrame::Kind::reset_stream, id});
                s.reset_sent = true;
                eliciting = true;
            }
        }
        // Stream credit: peer streams that are done make room for new ones.
        if (peer_opened_bidi_ + settings_.initial_max_streams_bidi / 2 > our_max_streams_bidi_) {
            our_max_streams_bidi_ = peer_opened_bidi_ + settings_.initial_max_streams_bidi;
            max_streams_bidi_pending_ = true;
        }
        if (peer_opened_uni_ + settings_.initial_max_streams_uni / 2 > our_max_streams_uni_) {
            our_max_streams_uni_ = peer_opened_uni_ + settings_.initial_max_streams_uni;
            max_streams_uni_pending_ = true;
        }
        if (max_streams_bidi_pending_ && fits(9)) {
            write_varint_frame(payload, frame_type::max_streams_bidi, our_max_streams_bidi_);
            sent.frames.push_back({SentFrame::Kind::max_streams_bidi});
            max_streams_bidi_pending_ = false;
            eliciting = true;
        }
        if (max_streams_uni_pending_ && fits(9)) {
            write_varint_frame(payload, frame_type::max_streams_uni, our_max_streams_uni_);
            sent.frames.push_back({SentFrame::Kind::max_streams_uni});
            max_streams_uni_pending_ = false;
            eliciting = true;
        }
        while (!retire_queue_.empty() && fits(9)) {
            write_varint_frame(payload, frame_type::retire_connection_id, retire_queue_.front());
            sent.frames.push_back({SentFrame::Kind::retire_connection_id, retire_queue_.front()});
            retire_queue_.pop_front();
            eliciting = true;
        }
        for (auto it = path_responses_.begin(); it != path_responses_.end() && fits(9);) {
            if (peer_ && !(it->to == *peer_)) {  // another path: path_response_datagram()
                ++it;
                continue;
            }
            write_varint(payload, frame_type::path_response);
            append(payload, it->data);
            it = path_responses_.erase(it);
            eliciting = true;
        }
        if (path_ && path_->challenge_pending && fits(9)) {
            write_varint(payload, frame_type::path_challenge);
            append(payload, path_->challenge);
            sent.frames.push_back({SentFrame::Kind::path_challenge});
            path_->challenge_pending = false;
            eliciting = true;
        }
        if (new_token_pending_ && role_ == Role::server && peer_) {
            if (issued_token_.empty()) {
                AddressToken token;
                token.kind = TokenKind::new_token;
                token.issued_ms = now_ms();
                token.set_address(*peer_);
                std::array<std::uint8_t, token_nonce_length> nonce{};
                draw_random<Crypto>(tls_config_, nonce);
                issued_token_ = seal_token<Crypto>(token_key_, token, nonce);
            }
            if (fits(1 + 2 + issued_token_.size())) {
                write_varint(payload, frame_type::new_token);
                write_varint(payload, issued_token_.size());
                append(payload, issued_token_);
                sent.frames.push_back({SentFrame::Kind::new_token});
                new_token_pending_ = false;
                eliciting = true;
            }
        }
        while (!new_cid_pending_.empty() && fits(1 + 8 + 8 + 1 + max_connection_id_length + stateless_reset_token_length)) {
            const std::uint64_t seq = new_cid_pending_.front();
            new_cid_pending_.pop_front();
            auto it = our_cids_.find(seq);
            if (it == our_cids_.end()) continue;  // retired before it went out
            write_new_connection_id(payload, seq, 0, it->second, stateless_reset_token<Crypto>(reset_key_, it->second));
            sent.frames.push_back({SentFrame::Kind::new_connection_id, seq});
            eliciting = true;
        }
        return eliciting;
    }

    /// Queued DATAGRAM frames that fit (ack-eliciting and congestion controlled, RFC 9221
    /// 5.2 / 5.4, but recorded only to count losses: never retransmitted).
    bool fill_datagram_frames(Bytes& payload, std::size_t room, SentPacket& sent) {
        bool eliciting = false;
        while (!datagrams_out_.empty()) {
            const Bytes& d = datagrams_out_.front();
            const std::size_t size = datagram_frame_size(d.size());
            // send_datagram() admitted only what fits an empty 1-RTT packet: the rest of
            // this one too small, it waits for the next (order kept).
            if (payload.size() + size > room) break;
            write_datagram(payload, d);
            sent.frames.push_back({SentFrame::Kind::datagram, 0, 0, static_cast<std::uint32_t>(d.size())});
            datagrams_out_.pop_front();
            ++stats_.datagrams_sent;
            eliciting = true;
        }
        return eliciting;
    }
    /// The payload room of a 1-RTT packet in a datagram of max_datagram_size (the
    /// longest short header: 1 + 20-byte CID + 4-byte packet number, and the tag).
    std::size_t max_datagram_payload() const {
        const std::size_t overhead = 1 + max_connection_id_length + 4 + aead_tag_length;
        return settings_.max_datagram_size > overhead ? settings_.max_datagram_size - overhead : 0;
    }

    bool fill_stream_frames(Bytes& payload, std::size_t room, SentPacket& sent) {
        bool eliciting = false;
        std::uint64_t conn_used = conn_send_used();
        // Round robin: start after the stream served last.
        auto start = streams_.upper_bound(last_stream_served_);
        for (std::size_t pass = 0; pass < 2; ++pass) {
            auto begin = pass == 0 ? start : streams_.begin();
            auto end = pass == 0 ? streams_.end() : start;
            for (auto it = begin; it != end; ++it) {
                auto& [id, s] = *it;
                if (!can_send_on(id) || s.reset_code) continue;
                while (s.send.has_data_to_send()) {
                    const std::size_t left = room > payload.size() ? room - payload.size() : 0;
                    const std::size_t overhead = stream_frame_overhead(id, s.send.sent_end(), left);
                    if (left <= overhead + 1) return eliciting;
                    // New bytes are bounded by stream and connection credit; lost bytes are not.
                    const std::uint64_t conn_room = conn_send_limit_ > conn_used ? conn_send_limit_ - conn_used : 0;
                    const std::uint64_t limit = std::min(s.send_limit, s.send.sent_end() + conn_room);
                    const std::uint64_t before = s.send.sent_end();
                    auto c = s.send.next_chunk(left - overhead, limit);
                    if (!c) break;
                    write_stream(payload, id, c->offset, s.send.view(c->offset, c->length), c->fin);
                    sent.frames.push_back(
                        {SentFrame::Kind::stream, id, c->offset, static_cast<std::uint32_t>(c->length), c->fin});
                    conn_used += s.send.sent_end() - before;
                    last_stream_served_ = id;
                    eliciting = true;
                }
            }
        }
        return eliciting;
    }

    /// One datagram: the packets of each space with something to send, coalesced
    /// (12.2), padded to 1200 bytes when it carries an ack-eliciting Initial (14.1).
    std::size_t build_datagram(MutableByteView out) {
        pacing_limited_ = false;
        const std::size_t budget = std::min({out.size(), settings_.max_datagram_size, amplification_budget()});
        if (budget < 64) return 0;
        struct Built {
            Space space;
            Bytes payload;
            SentPacket sent;
            bool eliciting;
        };
        std::vector<Built> packets;
        std::size_t used = 0;
        // 7.7: the pacer holds ack-eliciting data as a full window does (ACKs and probes
        // still go); there is no rate before the first RTT sample.
        const bool window_full = !cc_.can_send(settings_.max_datagram_size);
        const bool paced = rtt_.has_sample && !pacer_.can_send(now_, cc_.window, rtt_.smoothed);
        const bool cwnd_full = window_full || paced;
        auto& layer = tls_->record_layer();
        for (Space s : {Space::initial, Space::handshake, Space::application}) {
            SpaceState& sp = spaces_[static_cast<std::size_t>(s)];
            if (sp.discarded) continue;
            if (s == Space::application ? !app_write_ && !zero_rtt_writable() : !layer.write_keys(level_of(s))) continue;
            const bool ack_due = sp.ack_pending && (sp.ack_now || s != Space::application);
            const bool has_data = sp.crypto_send.has_data_to_send() || sp.probes > 0 ||
                                  (s == Space::application && app_has_data());
            if (!ack_due && !has_data && !(sp.ack_pending && !packets.empty())) continue;
            if (paced && !window_full && has_data && sp.probes == 0) pacing_limited_ = true;
            const std::size_t overhead = header_overhead(s) + aead_tag_length;
            if (used + overhead + 8 > budget) break;
            Built b{s, {}, {}, false};
            b.eliciting = fill_frames(s, b.payload, budget - used - overhead, b.sent, cwnd_full);
            if (b.payload.empty()) continue;
            used += overhead + b.payload.size();
            packets.push_back(std::move(b));
        }
        if (pacing_limited_) ++stats_.pacing_waits;
        if (packets.empty()) return 0;
        // Padding: a datagram with an ack-eliciting Initial is at least 1200 bytes; every
        // packet has 4 bytes of packet number + payload for the header-protection sample.
        bool pad_datagram = false;
        for (const auto& b : packets) pad_datagram |= b.space == Space::initial && b.eliciting;
        if (role_ == Role::client)
            for (const auto& b : packets) pad_datagram |= b.space == Space::initial;
        std::size_t total = 0;
        for (auto& b : packets) {
            if (b.payload.size() < 4) b.payload.resize(4, 0);
            total += header_overhead(b.space) + aead_tag_length + b.payload.size();
        }
        if (pad_datagram && total < min_initial_datagram) {
            packets.back().payload.resize(packets.back().payload.size() + (min_initial_datagram - total), 0);
            total = min_initial_datagram;
        }
        // 8.2.1: a PATH_CHALLENGE goes in a datagram of 1200 bytes, as far as the
        // new path's anti-amplification allowance permits.
        bool challenge = false;
        for (const auto& b : packets)
            for (const auto& fr : b.sent.frames) challenge |= fr.kind == SentFrame::Kind::path_challenge;
        if (challenge) {
            const std::size_t target = std::min(min_initial_datagram, budget);
            if (total < target) {
                packets.back().payload.resize(packets.back().payload.size() + (target - total), 0);
                total = target;
            }
        }
        // LHP: a datagram with a 1-RTT packet (always the last one) is padded with
        // PADDING frames to a multiple of pad_to, bounded by what may be sent.
        if (settings_.pad_to > 0 && packets.back().space == Space::application && app_write_) {
            const std::size_t target = std::min(padded_size(total), budget);
            if (total < target) {
                packets.back().payload.resize(packets.back().payload.size() + (target - total), 0);
                stats_.padding_bytes += target - total;
                total = target;
            }
        }
        std::size_t at = 0, in_flight = 0;
        for (auto& b : packets) {
            const std::size_t n = seal_into(b.space, b.payload, out.subspan(at));
            SentPacket& p = b.sent;
            p.time = now_;
            p.bytes = n;
            p.ack_eliciting = b.eliciting;
            p.in_flight = b.eliciting;
            SpaceState& sp = spaces_[static_cast<std::size_t>(b.space)];
            const std::uint64_t pn = sp.next_pn++;
            if (p.in_flight) {
                cc_.on_sent(n);
                sp.last_eliciting_sent = now_;
                in_flight += n;
            }
            if (p.ack_eliciting || p.largest_ack) sp.sent.emplace(pn, std::move(p));
            ++stats_.packets_sent;
            at += n;
            // 4.9.1: a client discards Initial keys when it first sends a Handshake packet.
            if (b.space == Space::handshake && role_ == Role::client) discard_space(Space::initial);
        }
        if (in_flight > 0 && rtt_.has_sample) pacer_.on_sent(in_flight, now_, cc_.window, rtt_.smoothed);
        bytes_sent_ += at;
        if (path_) path_->sent += at;
        return at;
    }

    /// `size` rounded up to the next multiple of Settings::pad_to.
    std::size_t padded_size(std::size_t size) const {
        const std::size_t n = settings_.pad_to;
        return n == 0 ? size : (size + n - 1) / n * n;
    }

    /// A PATH_RESPONSE to a challenge that came from another address than the one we
    /// send to: its own datagram, back where the challenge came from (8.2.2), padded
    /// to 1200 bytes within 3x of the challenge's datagram.
    std::optional<TransmitInfo> path_response_datagram(MutableByteView out) {
        if (!app_write_ || !handshake_complete_ || !peer_) return std::nullopt;
        for (auto it = path_responses_.begin(); it != path_responses_.end(); ++it) {
            if (it->to == *peer_) continue;
            Bytes payload;
            write_varint(payload, frame_type::path_response);
            append(payload, it->data);
            const std::size_t target = std::min({min_initial_datagram, 3 * it->received, out.size()});
            const std::size_t overhead = header_overhead(Space::application) + aead_tag_length;
            if (target > overhead + payload.size()) payload.resize(target - overhead, 0);
            const Endpoint to = it->to;
            path_responses_.erase(it);
            const std::size_t n = seal_into(Space::application, payload, out);
            ++spaces_[2].next_pn;
            ++stats_.packets_sent;
            return TransmitInfo{n, to};
        }
        return std::nullopt;
    }

    /// Client: 0-RTT packets can be sent (early key installed, no 1-RTT key yet).
    bool zero_rtt_writable() const {
        return role_ == Role::client && remembered_ && !app_write_ && tls_ &&
               tls_->record_layer().has_write_keys(Level::early_data);
    }

    bool app_has_data() const {
        if (!handshake_complete_) {
            if (!zero_rtt_writable()) return false;
            if (!datagrams_out_.empty()) return true;
            for (const auto& [id, s] : streams_)
                if (can_send_on(id) && s.send.has_data_to_send() && !s.send.blocked_by(s.send_limit)) return true;
            return false;
        }
        if (!datagrams_out_.empty()) return true;
        if (handshake_done_pending_ || max_data_pending_ || max_streams_bidi_pending_ || max_streams_uni_pending_ ||
            !retire_queue_.empty() || !new_cid_pending_.empty() || new_token_pending_ ||
            (path_ && path_->challenge_pending))
            return true;
        for (const auto& r : path_responses_)
            if (!peer_ || r.to == *peer_) return true;
        std::uint64_t consumed = 0;
        for (const auto& [id, s] : streams_) {
            consumed += s.recv.read_offset();
            if (s.max_stream_data_pending || (s.reset_code && !s.reset_sent)) return true;
            if (can_receive_on(id) && !s.recv.final_size() && s.recv_limit - s.recv.read_offset() < s.recv_window / 2)
                return true;
            if (can_send_on(id) && !s.reset_code && s.send.has_data_to_send() && !s.send.blocked_by(s.send_limit))
                return true;
        }
        return conn_recv_limit_ - consumed < settings_.initial_max_data / 2;
    }

    std::size_t header_overhead(Space s) const {
        if (s == Space::application && app_write_) return 1 + peer_cid_.length + 4;
        std::size_t n = 1 + 4 + 1 + peer_cid_.length + 1 + our_cid_.length + 2 + 4;
        if (s == Space::initial) n += varint_size(retry_token_.size()) + retry_token_.size();
        return n;
    }

    /// Header + payload, protected, written at `out`. Returns the packet's size.
    std::size_t seal_into(Space s, const Bytes& payload, MutableByteView out) {
        SpaceState& sp = spaces_[static_cast<std::size_t>(s)];
        const std::uint64_t pn = sp.next_pn;
        const std::size_t pn_length = 4;  // always 4: simple, and never ambiguous
        Bytes& packet = packet_;
        packet.clear();
        std::size_t pn_offset;
        auto& layer = tls_->record_layer();
        const bool zero_rtt = s == Space::application && !app_write_;
        if (s == Space::application && !zero_rtt) {
            packet.push_back(static_cast<std::uint8_t>(0x40 | (write_phase_ << 2) | (pn_length - 1)));
            append(packet, peer_cid_.view());
            pn_offset = packet.size();
        } else {
            write_long_header_prefix(packet, zero_rtt ? PacketType::zero_rtt : packet_type_of(s), version_, peer_cid_,
                                     our_cid_, pn_length,
                                     s == Space::initial ? ByteView(retry_token_) : ByteView{});
            const std::size_t length_at = packet.size();
            packet.push_back(0);
            packet.push_back(0);
            patch_varint2(packet, length_at, pn_length + payload.size() + aead_tag_length);
            pn_offset = packet.size();
        }
        for (int i = static_cast<int>(pn_length) - 1; i >= 0; --i) packet.push_back(static_cast<std::uint8_t>(pn >> (8 * i)));
        append(packet, payload);
        if (s == Space::application && !zero_rtt) {
            seal_packet(*app_write_, *layer.write_keys(Level::application)->hp, packet, pn_offset, pn_length, pn);
        } else {
            auto* keys = layer.write_keys(zero_rtt ? Level::early_data : level_of(s));
            seal_packet(*keys, *keys->hp, packet, pn_offset, pn_length, pn);
        }
        std::copy(packet.begin(), packet.end(), out.begin());
        return packet.size();
    }

    // ---- closing ----------------------------------------------------------------------------------

    void maybe_start_closing() {
        if (!close_requested_ || state_ != State::open || !all_stream_data_acknowledged()) return;
        enter_closing(true, settings_.application_close_code, 0);
    }

    void enter_closing(bool application, std::uint64_t code, std::uint64_t frame) {
        if (state_ != State::open) return;
        state_ = State::closing;
        close_application_ = application;
        close_code_ = code;
        close_frame_type_ = frame;
        local_close_ = {application, code};
        if (!application && code == 0) closed_cleanly_ = true;
        if (application && code == settings_.application_close_code) closed_cleanly_ = true;
    }

    /// The CONNECTION_CLOSE datagram (10.2.3: at every level the peer might be reading;
    /// an application close becomes a transport one below 1-RTT).
    std::optional<TransmitInfo> close_datagram(MutableByteView out) {
        state_ = State::closed;
        auto& layer = tls_->record_layer();
        std::size_t at = 0;
        for (Space s : {Space::initial, Space::handshake, Space::application}) {
            SpaceState& sp = spaces_[static_cast<std::size_t>(s)];
            if (sp.discarded) continue;
            if (s == Space::application ? !app_write_ : !layer.write_keys(level_of(s))) continue;
            if (s == Space::application && !handshake_complete_) continue;
            Bytes payload;
            if (s == Space::application || !close_application_)
                write_connection_close(payload, close_application_, close_code_, close_frame_type_, {});
            else
                write_connection_close(payload, false, static_cast<std::uint64_t>(TransportError::application_error), 0, {});
            if (payload.size() < 4) payload.resize(4, 0);
            if (at + header_overhead(s) + payload.size() + aead_tag_length > out.size()) break;
            at += seal_into(s, payload, out.subspan(at));
            ++sp.next_pn;
        }
        if (at == 0) return std::nullopt;
        return TransmitInfo{at, peer_};
    }

    /// A local error: CONNECTION_CLOSE with the RFC's code for it.
    std::error_code fail_local(std::error_code ec) {
        if (!failed_) failed_ = ec;
        if (state_ == State::open && tls_) {
            TransportError code = TransportError::internal_error;
            if (ec.category() == make_error_code(Error::protocol_violation).category())
                code = transport_error_for(static_cast<Error>(ec.value()));
            enter_closing(false, static_cast<std::uint64_t>(code), 0);
        } else if (!tls_) {
            state_ = State::closed;
        }
        return failed_;
    }
    /// TLS failed: CRYPTO_ERROR with its alert (RFC 9001 4.8).
    std::error_code fail_tls(std::error_code ec) {
        if (!failed_) failed_ = ec;
        auto alert = tls_->record_layer().take_alert();
        const std::uint64_t code = static_cast<std::uint64_t>(TransportError::crypto_error_base) + alert.value_or(80);
        enter_closing(false, code, frame_type::crypto);
        return failed_;
    }
    std::error_code close_crypto(std::uint8_t alert, Error e) {
        failed_ = make_error_code(e);
        enter_closing(false, static_cast<std::uint64_t>(TransportError::crypto_error_base) + alert, frame_type::crypto);
        return failed_;
    }

    std::optional<Instant> idle_deadline() const {
        if (state_ == State::draining) return draining_since_ + 3 * rtt_.pto(Duration(0));
        if (role_ == Role::server && !tls_) return std::nullopt;  // no connection yet: nothing to time out
        const std::uint64_t ms = idle_timeout_ms_ ? idle_timeout_ms_ : settings_.max_idle_timeout_ms;
        if (!ms) return std::nullopt;
        const Duration idle = std::max<Duration>(std::chrono::milliseconds(ms), 3 * rtt_.pto(Duration(0)));
        return last_activity_ + idle;
    }

    void release_lent() {
        if (!lent_) return;
        if (auto it = streams_.find(lent_->first); it != streams_.end()) it->second.recv.consume(lent_->second);
        lent_.reset();
    }

    Role role_;
    tls13::Config tls_config_;
    Settings settings_;
    std::shared_ptr<PeerParams> peer_params_;
    std::optional<Tls> tls_;
    State state_ = State::open;
    bool started_ = false, handshake_complete_ = false, handshake_confirmed_ = false, address_validated_ = false;
    bool got_server_packet_ = false, retried_ = false, peer_cid_locked_ = false, closed_cleanly_ = false;
    std::uint32_t version_ = version_1;  // the client's choice; the server takes its client's first Initial's
    bool close_requested_ = false, handshake_done_pending_ = false, key_update_unacked_ = false;
    bool max_data_pending_ = false, max_streams_bidi_pending_ = false, max_streams_uni_pending_ = false;
    std::error_code failed_;
    Instant now_{}, last_activity_{}, draining_since_{};
    ConnectionId our_cid_, peer_cid_, original_dcid_;
    std::optional<ConnectionId> retry_scid_, server_initial_scid_;
    Bytes retry_token_;
    // The peer's connection IDs (sequence -> ID, the one in use included) and their reset tokens.
    std::map<std::uint64_t, ConnectionId> peer_cids_;
    std::map<std::uint64_t, std::array<std::uint8_t, stateless_reset_token_length>> peer_reset_tokens_;
    std::uint64_t active_peer_cid_seq_ = 0, peer_retired_below_ = 0;
    std::deque<std::uint64_t> retire_queue_;
    // Ours: sequence -> ID (0 = our_cid_), the NEW_CONNECTION_ID frames to send.
    std::map<std::uint64_t, ConnectionId> our_cids_;
    std::uint64_t local_cids_generation_ = 0;
    std::uint64_t next_our_cid_seq_ = 1;
    std::deque<std::uint64_t> new_cid_pending_;
    ConnectionId client_initial_dcid_, packet_dcid_;
    SecretBytes token_key_, reset_key_;
    Bytes new_token_, issued_token_;
    bool new_token_pending_ = false, validated_by_new_token_ = false;
    static constexpr std::uint64_t max_stateless_resets = 64;  // per connection object: no reflection engine
    struct PathResponse {
        std::array<std::uint8_t, 8> data;
        Endpoint to;
        std::size_t received = 0;
    };
    std::deque<PathResponse> path_responses_;
    /// A new peer address being validated (9.3); `previous` is the last validated one.
    struct PathState {
        Endpoint to, previous;
        std::array<std::uint8_t, 8> challenge{};
        bool challenge_pending = false;
        bool own_move = false;  // a client validating its own new local address (no 3x limit)
        std::size_t received = 0, sent = 0;
        Instant deadline{};
    };
    std::optional<PathState> path_;
    std::optional<std::pair<Bytes, Endpoint>> stateless_reply_;  // Version Negotiation, Retry, Stateless Reset
    std::optional<Endpoint> peer_;  // where we send (unset: the transport's default)
    Endpoint from_;                 // where the datagram being processed came from
    std::size_t datagram_size_ = 0;
    std::array<SpaceState, 3> spaces_;
    // 1-RTT keys by generation (header protection stays with the layer's first ones).
    std::optional<PacketKeys<Crypto>> app_write_, app_read_, app_read_prev_, app_read_next_;
    unsigned write_phase_ = 0, read_phase_ = 0;
    std::uint64_t read_phase_first_pn_ = 0, key_update_first_pn_ = 0;
    std::map<std::uint64_t, Stream> streams_;
    std::uint64_t next_bidi_ = 0, next_uni_ = 0, peer_opened_bidi_ = 0, peer_opened_uni_ = 0;
    std::uint64_t peer_max_streams_bidi_ = 0, peer_max_streams_uni_ = 0;
    std::uint64_t our_max_streams_bidi_ = settings_.initial_max_streams_bidi,
                  our_max_streams_uni_ = settings_.initial_max_streams_uni;
    std::uint64_t conn_send_limit_ = 0, conn_recv_limit_ = settings_.initial_max_data, conn_recv_highest_ = 0;
    std::uint64_t last_stream_served_ = 0;
    std::uint64_t peer_ack_delay_exponent_ = 3, idle_timeout_ms_ = 0;
    std::chrono::milliseconds peer_max_ack_delay_{25};
    std::size_t bytes_received_ = 0, bytes_sent_ = 0;
    unsigned pto_count_ = 0;
    bool close_application_ = false;
    std::uint64_t close_code_ = 0, close_frame_type_ = 0;
    std::optional<std::pair<bool, std::uint64_t>> peer_close_, local_close_;
    std::optional<std::pair<std::uint64_t, std::size_t>> lent_;
    RttEstimator rtt_;
    std::optional<Instant> first_rtt_sample_;  // 7.6.2: persistent congestion counts only packets sent after it
    NewReno cc_;
    Pacer pacer_;
    bool pacing_limited_ = false;  // the last build_datagram held data back for the pacer alone
    EventQueue events_;
    ConnectionStats stats_;
    Bytes scratch_, packet_;
    std::array<std::vector<Bytes>, 3> injected_;
    std::optional<RememberedLimits> remembered_;  // client: the server's limits 0-RTT is sent under
    BoundedQueue<Bytes> datagrams_out_, datagrams_in_;  // RFC 9221: to send, and received for the application
    Bytes early_pending_;                         // client: send_early_data() before start()
};

}  // namespace tapsec::quic
