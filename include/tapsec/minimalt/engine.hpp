// The MinimaLT engine: tunnel establishment from the directory's ephemeral key, the
// tunnel's reliable packet stream with one congestion state, its control connection
// and the connections multiplexed in it.
//
// Client: verifies the signed directory record, draws its ephemeral key C', and sends
// its first packet (TID with K set, C', the box) already carrying create(1, service)
// and any data: the tunnel costs no round trip before data, and the first packet that
// comes back (boxed under the same key) confirms it. A puzzle packet makes it solve the
// puzzle and send the request again with the solution.
//
// Server: one tunnel per engine. A tunnel request costs it a Curve25519 key agreement,
// so it counts requests per second; past the threshold (or always, per configuration)
// a request without a valid puzzle solution gets a puzzle packet, computed without
// state, and nothing else. The tunnel follows its ID, not an address: an authenticated
// packet from a new address moves the tunnel there (the client roamed).
//
// Packets carry a 32-bit sequence number (0: an unsequenced pure acknowledgement) and a
// cumulative acknowledgement. The sender keeps what is unacknowledged, retransmits after
// the retransmission timeout (RFC 6298 estimate) or three duplicate acknowledgements,
// resealed under a fresh nonce; the receiver accepts in order (go-back-N). The window is
// a packet-counting Reno: slow start, additive increase, halving on loss. All
// connections of the tunnel share this one state: one congestion state per host pair.
#pragma once

#include <algorithm>
#include <deque>
#include <map>
#include <optional>
#include <string>

#include "../core/bounded_queue.hpp"
#include "../core/config.hpp"
#include "../core/engine.hpp"
#include "../crypto/nacl_box.hpp"
#include "config.hpp"
#include "directory.hpp"
#include "errors.hpp"
#include "puzzle.hpp"
#include "wire.hpp"

namespace tapsec::minimalt {

/// What the engine counts (never a string on the drop path).
struct Counters {
    std::uint64_t dropped = 0;
    std::uint64_t puzzles_sent = 0;
    std::uint64_t puzzles_solved = 0;
    std::uint64_t key_agreements = 0;   // server: Curve25519 operations spent on requests
    std::uint64_t retransmissions = 0;
    std::uint64_t packets_sent = 0;
    std::uint64_t packets_received = 0;
    std::error_code last_drop;          // the reason of the latest drop
    std::uint64_t refused_users = 0;    // server: creates refused for a missing or bad user proof
    std::error_code last_refusal;       // server: why the latest of them was refused
};

/// The congestion state of a host pair (a packet-counting Reno).
struct CongestionState {
    /// 128 packets (about 180 KB) stay inside a default Linux UDP receive buffer, so the
    /// window never outgrows what a receiver on the same host can hold.
    static constexpr double max_window = 128;
    double window = 10;       // packets in flight allowed
    double slow_start_threshold = 1e9;
    std::optional<std::chrono::microseconds> smoothed_rtt;
    std::chrono::microseconds rtt_variance{0};
    std::chrono::microseconds timeout{1'000'000};

    void on_ack(std::size_t packets) {
        for (std::size_t i = 0; i < packets; ++i) window += window < slow_start_threshold ? 1.0 : 1.0 / window;
        window = std::min(window, max_window);
    }
    void on_loss() {
        slow_start_threshold = std::max(window / 2, 2.0);
        window = slow_start_threshold;
    }
    void on_timeout() {
        slow_start_threshold = std::max(window / 2, 2.0);
        window = 1;
        timeout = std::min<std::chrono::microseconds>(timeout * 2, std::chrono::seconds(10));
    }
    void on_rtt_sample(std::chrono::microseconds sample) {
        if (!smoothed_rtt) {
            smoothed_rtt = sample;
            rtt_variance = sample / 2;
        } else {
            const auto diff = *smoothed_rtt > sample ? *smoothed_rtt - sample : sample - *smoothed_rtt;
            rtt_variance = (rtt_variance * 3 + diff) / 4;
            smoothed_rtt = (*smoothed_rtt * 7 + sample) / 8;
        }
        timeout = std::clamp<std::chrono::microseconds>(*smoothed_rtt + 4 * rtt_variance, std::chrono::milliseconds(200),
                                                        std::chrono::seconds(10));
    }
};

/// A FIFO whose slots keep their storage (a popped Bytes keeps its capacity for the
/// next push), with indexed access for retransmission; grows by doubling up to its
/// capacity. After warm-up the data path pushes and pops without allocating.
template <class T>
class SlotRing {
public:
    explicit SlotRing(std::size_t capacity) : capacity_(capacity) {}
    std::size_t size() const noexcept { return size_; }
    bool empty() const noexcept { return size_ == 0; }
    bool full() const noexcept { return size_ == capacity_; }
    /// The next slot, appended (holding whatever its last use left); null when full.
    T* push_slot() {
        if (full()) return nullptr;
        if (size_ == slots_.size()) grow();
        return &slots_[(head_ + size_++) % slots_.size()];
    }
    T& front() noexcept { return slots_[head_]; }
    const T& front() const noexcept { return slots_[head_]; }
    T& operator[](std::size_t i) noexcept { return slots_[(head_ + i) % slots_.size()]; }
    void pop_front() noexcept {
        head_ = (head_ + 1) % slots_.size();
        --size_;
    }

private:
    void grow() {
        std::vector<T> bigger(std::min(capacity_, std::max<std::size_t>(8, slots_.size() * 2)));
        for (std::size_t i = 0; i < size_; ++i) bigger[i] = std::move((*this)[i]);
        slots_ = std::move(bigger);
        head_ = 0;
    }
    std::size_t capacity_;
    std::vector<T> slots_;
    std::size_t head_ = 0, size_ = 0;
};

template <class Crypto, class Record>
class Engine {
public:
    using Layer = typename Record::template layer<Crypto>;
    static constexpr std::uint32_t primary_connection = 1;

    Engine(Role role, const Config& config) : role_(role), config_(config) {
        if (role_ == Role::server) {
            if (config_.ephemeral_secret.size() != 32) {
                failure_ = make_error_code(Error::invalid_configuration);
                return;
            }
            if (config_.puzzle_difficulty == 0 || config_.puzzle_difficulty > 32) {
                failure_ = make_error_code(Error::invalid_configuration);
                return;
            }
            puzzles_ = config_.shared_server_state
                           ? PuzzleIssuer<Crypto>(config_.shared_server_state->puzzle_key, config_.puzzle_difficulty,
                                                  config_.puzzle_lifetime)
                           : PuzzleIssuer<Crypto>(config_, config_.puzzle_difficulty, config_.puzzle_lifetime);
        }
    }

    // ---- the sans-I/O contract --------------------------------------------------------

    std::error_code start(Instant now) {
        last_now_ = now;
        if (failure_) return failure_;
        if (role_ == Role::server || started_) return {};
        started_ = true;
        auto record = verify_record<Crypto>(config_.directory_record, config_.trusted_server_key, wall_now(config_));
        if (!record) return fail(record.error());
        directory_ = std::move(*record);
        client_secret_.resize(32);
        draw_random<Crypto>(config_, client_secret_);
        client_public_ = crypto::nacl::public_key_of(client_secret_);
        auto key = crypto::nacl::box_beforenm(directory_->ephemeral_key, client_secret_);
        if (!key) return fail(make_error_code(Error::invalid_configuration));
        std::uint64_t tid = 0;
        std::array<std::uint8_t, 8> random{};
        draw_random<Crypto>(config_, random);
        for (auto b : random) tid = tid << 8 | b;
        typename Record::imported_keys keys;
        keys.box_key = *key;
        keys.tid = tid & tid_mask;
        keys.client = true;
        if (auto ec = record_.import(keys)) return fail(ec);
        state_ = State::requesting;
        request_deadline_ = now + config_.handshake_timeout;
        // The first packet creates the application's connection; data may follow at once.
        if (!config_.user_secret.empty()) {
            if (config_.user_secret.size() != 32) return fail(make_error_code(Error::invalid_configuration));
            auto user_key = crypto::nacl::box_beforenm(directory_->ephemeral_key, config_.user_secret);
            if (!user_key) return fail(make_error_code(Error::invalid_configuration));
            user_public_ = crypto::nacl::public_key_of(config_.user_secret);
            crypto::nacl::Nonce n{};
            std::copy(user_proof_nonce.begin(), user_proof_nonce.end(), n.begin());
            crypto::nacl::SecretBox(*user_key).seal(n, client_public_, user_proof_.data());
        }
        connections_[primary_connection].service = config_.service;
        queue_create(primary_connection, config_.service);
        return {};
    }

    std::error_code receive(ByteView in, const Endpoint& from, Instant now) {
        last_now_ = now;
        if (failure_) return failure_;
        if (in.size() > max_packet_size) return drop(Error::oversized_packet, now);
        rx_.assign(in.begin(), in.end());
        if (is_puzzle_packet(rx_)) return on_puzzle(from, now);
        auto header = parse_packet_header(rx_);
        if (!header) return drop(header.error(), now);
        if (role_ == Role::client) {
            if (header->client_key) return drop(Error::malformed_packet, now);
            if (!record_.knows(header->tid)) return drop(Error::unknown_tunnel, now);
        } else if (state_ == State::idle || !record_.knows(header->tid)) {
            // No tunnel yet (a forged request may have keyed the layer: it is replaced),
            // or a request for another tunnel.
            if (!header->client_key) return drop(Error::unknown_tunnel, now);
            // Unpadded requests get nothing: a puzzle reply must never outweigh its request.
            if (rx_.size() < min_request_size) return drop(Error::malformed_packet, now);
            if (auto ec = accept_request(*header, from, now)) return drop(ec, now);
        }
        const bool newest = record_.is_newest(header->nonce);
        auto payload = record_.open(*header, rx_);
        if (!payload) {
            if (role_ == Role::server && state_ == State::requesting) state_ = State::idle;  // a forged request keyed nothing
            return drop(payload.error(), now);
        }
        ++counters_.packets_received;
        last_heard_ = now;
        if (role_ == Role::server) {
            if (state_ == State::requesting) {
                state_ = State::established;
                last_sent_ = now;
                events_.push(EventKind::handshake_complete);
                peer_ = from;
            } else if (newest && peer_ && !(from == *peer_)) {
                // The tunnel follows its ID: the client moved. Only the newest packet moves
                // it, so a late packet from the old address does not pull it back.
                peer_ = from;
                events_.push(EventKind::peer_address_changed);
            }
        } else if (state_ == State::requesting) {
            state_ = State::established;
            last_sent_ = now;
            events_.push(EventKind::handshake_complete);
        }
        return on_payload(*payload, now);
    }

    std::optional<TransmitInfo> poll_transmit(MutableByteView out) {
        if (failure_) return std::nullopt;  // a failed tunnel sends nothing more
        const Instant now = last_now_;
        if (auto* reply = puzzle_replies_.empty() ? nullptr : &puzzle_replies_.front()) {
            std::copy(reply->first.begin(), reply->first.end(), out.begin());
            TransmitInfo info{reply->first.size(), reply->second};
            puzzle_replies_.pop_front();
            return info;
        }
        if (!record_.keyed() || state_ == State::idle) return std::nullopt;
        // Retransmissions first, then new data within the window, then a pure ack.
        for (std::size_t i = 0; i < unacked_.size(); ++i) {
            Sent& s = unacked_[i];
            if (!s.resend) continue;
            s.resend = false;
            ++s.transmissions;
            ++counters_.retransmissions;
            s.sent = now;
            return seal_payload(s.payload, out);
        }
        if (!outbox_.empty() && unacked_.size() < static_cast<std::size_t>(congestion_.window) && state_ != State::closed) {
            Sent& s = *unacked_.push_slot();  // window <= max_window < capacity
            s.seq = next_seq_++;
            s.sent = now;
            s.transmissions = 1;
            s.resend = false;
            build_payload(s.seq, s.payload);
            return seal_payload(s.payload, out);
        }
        if (ack_pending_) {
            Bytes& p = pure_ack_;
            p.clear();
            wire::Writer w(p);
            w.u32(0);
            w.u32(expected_seq_ - 1);
            ack_pending_ = false;
            if (role_ == Role::client && state_ == State::requesting) return std::nullopt;  // requests carry data
            return seal_payload(p, out);
        }
        return std::nullopt;
    }

    std::optional<ByteView> poll_plaintext() { return poll_plaintext(primary_connection); }

    /// Data received on connection `id` (a view valid until the next call).
    std::optional<ByteView> poll_plaintext(std::uint32_t id) {
        auto it = connections_.find(id);
        if (it == connections_.end() || it->second.received.empty()) return std::nullopt;
        std::swap(delivered_, it->second.received.front());  // the slot keeps the old buffer
        it->second.received.pop_front();
        received_bytes_ -= delivered_.size();
        return ByteView(delivered_);
    }

    /// Data from any connection: (connection, view).
    std::optional<std::pair<std::uint32_t, ByteView>> poll_any() {
        for (auto& [id, c] : connections_)
            if (!c.received.empty())
                if (auto v = poll_plaintext(id)) return std::pair{id, *v};
        return std::nullopt;
    }

    std::optional<Transmit> poll_transmit() {
        Bytes buffer(max_transmit_size);
        auto info = poll_transmit(MutableByteView(buffer));
        if (!info) return std::nullopt;
        buffer.resize(info->size);
        return Transmit{std::move(buffer), info->to};
    }
    std::optional<Bytes> poll_application_data() {
        auto v = poll_plaintext();
        if (!v) return std::nullopt;
        return Bytes(v->begin(), v->end());
    }
    std::optional<Event> poll_event() { return events_.pop(); }

    std::error_code send(ByteView data, Instant now) { return send_on(primary_connection, data, now); }

    /// Queues `data` on connection `id` (split into frames that fit packets).
    std::error_code send_on(std::uint32_t id, ByteView data, Instant now) {
        last_now_ = now;
        if (failure_) return failure_;
        if (state_ == State::idle || state_ == State::closed || state_ == State::closing)
            return make_error_code(Error::not_established);
        if (peer_closed_) return make_error_code(Errc::closed);  // the peer ended the tunnel: nothing more is read
        auto it = connections_.find(id);
        if (it == connections_.end() || it->second.refused || it->second.local_closed)
            return make_error_code(Error::unknown_connection);
        if (queued_bytes_ + data.size() > config_.max_send_queue) return make_error_code(Error::send_window_full);
        const std::size_t chunk = max_frame_data();
        if (outbox_.size() + (data.size() + chunk - 1) / chunk > outbox_capacity) return make_error_code(Error::send_window_full);
        for (std::size_t at = 0; at < data.size(); at += chunk) {
            Bytes& frame = *outbox_.push_slot();
            frame.clear();
            write_frame(frame, id, FrameType::data, data.subspan(at, std::min(chunk, data.size() - at)));
            queued_bytes_ += frame.size();
        }
        return {};
    }

    /// Client: creates connection to `service` in the tunnel (create RPC on the control
    /// connection); returns its number. Data may be sent on it at once.
    Result<std::uint32_t> open_connection(std::string_view service, Instant now) {
        last_now_ = now;
        if (failure_) return failure_;
        if (role_ != Role::client || state_ == State::idle || state_ == State::closing || state_ == State::closed)
            return make_error_code(Error::not_established);
        if (service.empty() || service.size() > max_service_name) return make_error_code(Error::invalid_configuration);
        const std::uint32_t id = next_connection_++;
        connections_[id].service = std::string(service);
        queue_create(id, service);
        return id;
    }

    /// Ends our sending on connection `id` (close RPC).
    std::error_code close_connection(std::uint32_t id, Instant now) {
        last_now_ = now;
        auto it = connections_.find(id);
        if (it == connections_.end() || it->second.local_closed) return make_error_code(Error::unknown_connection);
        it->second.local_closed = true;
        Bytes frame;
        write_u32_frame(frame, FrameType::close, id);
        queue_frame(std::move(frame));
        return {};
    }

    /// The connections open in the tunnel (server: those the client created).
    std::vector<std::uint32_t> connection_ids() const {
        std::vector<std::uint32_t> out;
        for (auto& [id, c] : connections_)
            if (!c.refused) out.push_back(id);
        return out;
    }
    /// Server: the user key connection `id` was created with (createAuth), if any.
    std::optional<PublicKey> user_of(std::uint32_t id) const {
        auto it = connections_.find(id);
        return it == connections_.end() ? std::nullopt : it->second.user;
    }
    std::string service_of(std::uint32_t id) const {
        auto it = connections_.find(id);
        return it == connections_.end() ? std::string{} : it->second.service;
    }
    bool connection_closed_by_peer(std::uint32_t id) const {
        auto it = connections_.find(id);
        return it != connections_.end() && it->second.peer_closed;
    }

    std::optional<Instant> next_timeout() {
        std::optional<Instant> t;
        if (failure_) return t;
        auto earliest = [&t](Instant at) { t = t ? std::min(*t, at) : at; };
        if (!unacked_.empty()) earliest(unacked_.front().sent + congestion_.timeout);
        if (role_ == Role::client && state_ == State::requesting) earliest(request_deadline_);
        if (live()) {
            if (config_.idle_timeout.count() > 0) earliest(last_heard_ + config_.idle_timeout);
            if (config_.keepalive_interval.count() > 0 && unacked_.empty()) earliest(last_sent_ + config_.keepalive_interval);
        }
        return t;
    }

    std::error_code on_timeout(Instant now) {
        last_now_ = now;
        if (failure_) return failure_;
        if (role_ == Role::client && state_ == State::requesting && now >= request_deadline_)
            return fail(make_error_code(Error::handshake_timeout));
        if (live() && config_.idle_timeout.count() > 0 && now >= last_heard_ + config_.idle_timeout)
            return fail(make_error_code(Error::idle_timeout));
        if (live() && config_.keepalive_interval.count() > 0 && unacked_.empty() && outbox_.empty() &&
            now >= last_sent_ + config_.keepalive_interval) {
            Bytes ping;
            write_frame(ping, 0, FrameType::padding, {});
            queue_frame(ping);  // sequenced, so the peer answers with an acknowledgement
            last_sent_ = now;
        }
        if (!unacked_.empty() && now >= unacked_.front().sent + congestion_.timeout) {
            if (unacked_.front().transmissions >= config_.max_retransmissions)
                return fail(make_error_code(Error::retransmission_limit));
            congestion_.on_timeout();
            for (std::size_t i = 0; i < unacked_.size(); ++i) unacked_[i].resend = true;
        }
        return {};
    }

    /// Authenticated close of the whole tunnel (close_tunnel on the control connection).
    std::error_code close(Instant now) {
        last_now_ = now;
        if (failure_) return failure_;
        if (state_ == State::closing || state_ == State::closed || !record_.keyed()) return {};
        Bytes frame;
        write_frame(frame, 0, FrameType::close_tunnel, {});
        queue_frame(std::move(frame));
        state_ = State::closing;
        return {};
    }

    /// Rekey (the paper's hash chain): our packets move to the next key and tunnel ID;
    /// the peer follows on the first one. A rekey RPC on the control connection tells
    /// the peer's application. Used by a roaming client so its new address and its old
    /// tunnel ID cannot be linked.
    std::error_code update_keys(bool /*request_peer_update*/, Instant now) {
        last_now_ = now;
        if (failure_) return failure_;
        if (state_ != State::established) return make_error_code(Error::not_established);
        if (auto ec = record_.rekey()) return ec;
        Bytes frame;
        write_u32_frame(frame, FrameType::rekey, record_.generation());
        queue_frame(std::move(frame));
        events_.push(EventKind::key_updated);
        return {};
    }

    bool is_established() const { return state_ == State::established || state_ == State::closing || peer_closed_; }
    /// Closed: the peer's close arrived, or ours was acknowledged.
    bool is_closed() const {
        return peer_closed_ || (state_ == State::closing && outbox_.empty() && unacked_.empty());
    }
    /// Everything we sent has been acknowledged (a CLI drains before it exits).
    bool all_acknowledged() const { return outbox_.empty() && unacked_.empty(); }
    std::size_t queued_bytes() const { return queued_bytes_; }

    SessionInfo session_info() const {
        SessionInfo info;
        info.protocol = "MinimaLT";
        info.cipher_suite = "Curve25519-XSalsa20-Poly1305";
        info.group = "x25519";
        if (role_ == Role::client && directory_) {
            info.server_name = directory_->name;
            info.peer.raw_public_key.assign(directory_->long_term_key.begin(), directory_->long_term_key.end());
            info.peer.subject = directory_->name + " (Ed25519 " + to_hex(directory_->long_term_key).substr(0, 16) + "...)";
            info.peer.authenticated = state_ == State::established || state_ == State::closing;
        } else if (role_ == Role::server) {
            auto it = connections_.find(primary_connection);
            if (it != connections_.end() && it->second.user) {
                info.peer.raw_public_key.assign(it->second.user->begin(), it->second.user->end());
                info.peer.subject = "user " + to_hex(*it->second.user).substr(0, 16) + "...";
                info.peer.authenticated = true;
            } else {
                info.peer.raw_public_key.assign(client_public_.begin(), client_public_.end());
                info.peer.subject = "anonymous client (ephemeral key)";
            }
        }
        return info;
    }

    const Counters& counters() const noexcept { return counters_; }
    const CongestionState& congestion() const noexcept { return congestion_; }
    std::uint64_t tunnel_id() const noexcept { return record_.tid(); }
    /// The tunnel ID the peer's packets carry after its next rekey (a server routing by ID
    /// follows the tunnel with it).
    std::uint64_t next_tunnel_id() const noexcept { return record_.next_tid(); }
    std::uint32_t key_generation() const noexcept { return record_.generation(); }
    std::optional<Endpoint> peer_endpoint() const { return peer_; }
    /// Server: is it demanding puzzles right now?
    bool under_load(Instant now) const {
        if (config_.source_validation == CommonConfig::SourceValidation::always) return true;
        if (config_.source_validation == CommonConfig::SourceValidation::never) return false;
        const RequestLoad& l = load();
        return now - l.window_start < std::chrono::seconds(1) && l.requests > config_.puzzle_threshold;
    }

private:
    enum class State { idle, requesting, established, closing, closed };
    /// An established tunnel that has not ended: the idle and keepalive timers run.
    bool live() const noexcept { return (state_ == State::established || state_ == State::closing) && !peer_closed_; }

    static constexpr std::size_t receive_slots = 1u << 14;  // packets of data per connection
    struct Connection {
        std::string service;
        SlotRing<Bytes> received{receive_slots};
        bool peer_closed = false, local_closed = false, refused = false;
        std::optional<PublicKey> user;  // server: the user this connection's createAuth proved
    };
    struct Sent {
        std::uint32_t seq = 0;
        Bytes payload;
        Instant sent{};
        unsigned transmissions = 1;
        bool resend = false;
    };

    std::error_code fail(std::error_code ec) {
        if (!failure_) failure_ = ec;
        return failure_;
    }
    std::error_code drop(std::error_code reason, Instant now) {
        ++counters_.dropped;
        counters_.last_drop = reason;
        events_.note_drop(reason, now);
        return {};  // invalid datagrams never end the tunnel
    }
    std::error_code drop(Error e, Instant now) { return drop(make_error_code(e), now); }

    std::size_t max_frame_data() const {
        // Sized for a tunnel request (key and solution in the clear) so a frame fits any packet.
        return max_packet_size - Layer::overhead(true, true) - payload_header_size - frame_header_size;
    }
    /// create(c, service), or createAuth(c, service, U, proof) when the client has a user key.
    void queue_create(std::uint32_t id, std::string_view service) {
        Bytes body{static_cast<std::uint8_t>(id >> 24), static_cast<std::uint8_t>(id >> 16), static_cast<std::uint8_t>(id >> 8),
                   static_cast<std::uint8_t>(id)};
        const bool auth = !config_.user_secret.empty();
        if (auth) {
            append(body, user_public_);
            append(body, user_proof_);
        }
        append(body, as_bytes(service));
        Bytes frame;
        write_frame(frame, 0, auth ? FrameType::create_auth : FrameType::create, body);
        queue_frame(frame);
    }

    /// Server: checks a createAuth proof against this tunnel's C' and our S', then the
    /// configured users and the application's validator.
    std::error_code check_user(const PublicKey& user, ByteView proof) {
        auto key = crypto::nacl::box_beforenm(user, config_.ephemeral_secret);
        if (!key) return make_error_code(Error::user_proof_invalid);
        crypto::nacl::Nonce n{};
        std::copy(user_proof_nonce.begin(), user_proof_nonce.end(), n.begin());
        PublicKey opened{};
        if (!crypto::nacl::SecretBox(*key).open(n, proof, opened.data()) || !constant_time_equal(opened, client_public_))
            return make_error_code(Error::user_proof_invalid);
        const auto& allowed = config_.authorized_users;
        if (!allowed.empty() && std::find(allowed.begin(), allowed.end(), user) == allowed.end())
            return make_error_code(Error::user_not_authorized);
        if (config_.validate_peer) {
            PeerIdentity id;
            id.raw_public_key.assign(user.begin(), user.end());
            id.subject = "user " + to_hex(user).substr(0, 16);
            id.authenticated = true;
            if (auto ec = config_.validate_peer(id)) return ec;
        }
        return {};
    }

    /// Control frames: room is kept for them beyond what data may fill.
    void queue_frame(const Bytes& frame) {
        Bytes* slot = outbox_.push_slot();
        if (!slot) {
            fail(make_error_code(Error::send_window_full));
            return;
        }
        slot->assign(frame.begin(), frame.end());
        queued_bytes_ += frame.size();
    }

    /// seq | ack | as many whole frames as fit | padding (tunnel requests).
    void build_payload(std::uint32_t seq, Bytes& p) {
        const bool request = role_ == Role::client && state_ == State::requesting;
        const std::size_t limit = max_packet_size - Layer::overhead(true, true);
        p.clear();
        wire::Writer w(p);
        w.u32(seq);
        w.u32(expected_seq_ - 1);
        while (!outbox_.empty() && p.size() + outbox_.front().size() <= limit) {
            append(p, outbox_.front());
            queued_bytes_ -= outbox_.front().size();
            outbox_.pop_front();
        }
        if (request) pad_request(p);
        ack_pending_ = false;
    }
    void pad_request(Bytes& p) const {
        const std::size_t packet = p.size() + Layer::overhead(true, solution_.has_value());
        if (packet + frame_header_size < min_request_size) {
            const Bytes zeros(min_request_size - packet - frame_header_size, 0);
            write_frame(p, 0, FrameType::padding, zeros);
        }
    }

    std::optional<TransmitInfo> seal_payload(Bytes& payload, MutableByteView out) {
        const bool request = role_ == Role::client && state_ == State::requesting;
        if (request) {
            // Requests are resent with the key (and solution, once solved) in the clear;
            // the payload's ack field is refreshed.
            for (int i = 0; i < 4; ++i) payload[static_cast<std::size_t>(4 + i)] = static_cast<std::uint8_t>((expected_seq_ - 1) >> (24 - 8 * i));
            if (solution_ && payload.size() + Layer::overhead(true, true) < min_request_size) pad_request(payload);
        } else if (payload.size() >= 8) {
            for (int i = 0; i < 4; ++i) payload[static_cast<std::size_t>(4 + i)] = static_cast<std::uint8_t>((expected_seq_ - 1) >> (24 - 8 * i));
        }
        auto n = request ? record_.seal(payload, out, &client_public_, solution_ ? &*solution_ : nullptr)
                         : record_.seal(payload, out);
        if (!n) {
            fail(n.error());
            return std::nullopt;
        }
        ++counters_.packets_sent;
        last_sent_ = last_now_;
        return TransmitInfo{*n, role_ == Role::server ? peer_ : std::nullopt};
    }

    // ---- server: tunnel requests ----------------------------------------------------

    std::error_code accept_request(const PacketHeader& h, const Endpoint& from, Instant now) {
        if (state_ != State::idle) return make_error_code(Error::tunnel_busy);
        RequestLoad& l = load();
        if (now - l.window_start >= std::chrono::seconds(1)) {
            l.window_start = now;
            l.requests = 0;
        }
        ++l.requests;
        const std::string source = from.to_string();
        if (under_load(now)) {
            if (!h.solution) {
                // Answer with a puzzle (cheap, no key agreement, smaller than the request).
                auto p = puzzles_.issue(h.tid, *h.client_key, as_bytes(source), wall_now(config_), config_);
                if (!puzzle_replies_.full()) {
                    puzzle_replies_.push_back(std::pair{serialize(p), from});
                    ++counters_.puzzles_sent;
                }
                return make_error_code(Error::puzzle_required);
            }
            if (auto ec = puzzles_.verify(*h.solution, h.tid, *h.client_key, as_bytes(source), wall_now(config_))) return ec;
        }
        ++counters_.key_agreements;
        auto key = crypto::nacl::box_beforenm(*h.client_key, config_.ephemeral_secret);
        if (!key) return make_error_code(Error::box_failed);
        typename Record::imported_keys keys;
        keys.box_key = *key;
        keys.tid = h.tid;
        keys.client = false;
        if (auto ec = record_.import(keys)) return ec;
        client_public_ = *h.client_key;
        state_ = State::requesting;  // until the box opens
        return {};
    }

    // ---- client: puzzles ----------------------------------------------------------

    std::error_code on_puzzle(const Endpoint&, Instant now) {
        if (role_ != Role::client || state_ != State::requesting) return drop(Error::malformed_packet, now);
        auto p = parse_puzzle_packet(rx_);
        if (!p) return drop(p.error(), now);
        if (p->tid != record_.tid()) return drop(Error::unknown_tunnel, now);
        // The signed record bounds the work a forged puzzle can ask of us.
        if (p->difficulty > directory_->puzzle_difficulty) return drop(Error::puzzle_too_hard, now);
        auto r = solve_puzzle<Crypto>(*p);
        if (!r) return drop(Error::puzzle_wrong, now);
        PuzzleSolution s;
        s.ticket = p->ticket;
        s.solution = *r;
        solution_ = s;
        ++counters_.puzzles_solved;
        for (std::size_t i = 0; i < unacked_.size(); ++i) unacked_[i].resend = true;  // the request again, with the solution
        return {};
    }

    // ---- payloads -----------------------------------------------------------------

    std::error_code on_payload(ByteView payload, Instant now) {
        last_now_ = now;
        wire::Reader r(payload);
        const std::uint32_t seq = r.u32();
        const std::uint32_t ack = r.u32();
        const ByteView frames = r.rest();
        // Validate every frame before acting on any.
        if (auto ec = for_each_frame(frames, [](const Frame&) { return std::error_code{}; })) return drop(ec, now);
        on_ack(ack, now);
        if (seq == 0) {
            if (!frames.empty()) {
                bool only_padding = true;
                for_each_frame(frames, [&](const Frame& f) {
                    if (f.type != FrameType::padding) only_padding = false;
                    return std::error_code{};
                });
                if (!only_padding) return drop(Error::malformed_frame, now);
            }
            return {};
        }
        ack_pending_ = true;
        if (seq != expected_seq_) return {};  // duplicate or out of order: acknowledged, not delivered
        if (!room_for(frames)) return {};  // no room: not acknowledged, the peer resends later
        ++expected_seq_;
        return for_each_frame(frames, [&](const Frame& f) { return on_frame(f, now); });
    }

    /// Can the application's queues take this packet's data?
    bool room_for(ByteView frames) {
        if (received_bytes_ + frames.size() > config_.max_receive_queue) return false;
        std::size_t data_frames = 0;
        for_each_frame(frames, [&](const Frame& f) {
            data_frames += f.type == FrameType::data;
            return std::error_code{};
        });
        bool room = true;
        for_each_frame(frames, [&](const Frame& f) {
            if (f.type != FrameType::data) return std::error_code{};
            auto it = connections_.find(f.connection);
            if (it != connections_.end() && it->second.received.size() + data_frames > receive_slots) room = false;
            return std::error_code{};
        });
        return room;
    }

    void on_ack(std::uint32_t ack, Instant now) {
        std::size_t acked = 0;
        std::optional<std::chrono::microseconds> sample;
        while (!unacked_.empty() && static_cast<std::int32_t>(ack - unacked_.front().seq) >= 0) {
            const auto& s = unacked_.front();
            if (s.transmissions == 1) sample = std::chrono::duration_cast<std::chrono::microseconds>(now - s.sent);
            unacked_.pop_front();
            ++acked;
        }
        if (acked) {
            duplicate_acks_ = 0;
            congestion_.on_ack(acked);
            if (sample) congestion_.on_rtt_sample(*sample);
        } else if (!unacked_.empty() && ack == last_ack_ && ++duplicate_acks_ == 3) {
            congestion_.on_loss();  // fast retransmit: the receiver is missing what follows `ack`
            for (std::size_t i = 0; i < unacked_.size(); ++i) unacked_[i].resend = true;
            duplicate_acks_ = 0;
        }
        last_ack_ = ack;
    }

    std::error_code on_frame(const Frame& f, Instant now) {
        switch (f.type) {
            case FrameType::padding: return {};
            case FrameType::data: {
                auto it = connections_.find(f.connection);
                if (it == connections_.end() || it->second.refused || it->second.peer_closed)
                    return drop(Error::unknown_connection, now);
                if (f.body.empty()) return {};
                Bytes* slot = it->second.received.push_slot();
                if (!slot) return drop(Error::send_window_full, now);
                slot->assign(f.body.begin(), f.body.end());
                received_bytes_ += f.body.size();
                return {};
            }
            case FrameType::create:
            case FrameType::create_auth: {
                const std::uint32_t id = body_u32(f.body);
                if (role_ != Role::server || id == 0 || connections_.count(id)) return drop(Error::malformed_frame, now);
                const bool auth = f.type == FrameType::create_auth;
                const std::size_t name_at = auth ? create_auth_fixed : 4;
                const std::string service(f.body.begin() + static_cast<std::ptrdiff_t>(name_at), f.body.end());
                auto& c = connections_[id];
                c.service = service;
                const auto& allowed = config_.services;
                bool refuse = !allowed.empty() && std::find(allowed.begin(), allowed.end(), service) == allowed.end();
                if (auth) {
                    PublicKey user;
                    std::copy_n(f.body.begin() + 4, 32, user.begin());
                    if (auto ec = check_user(user, f.body.subspan(36, user_proof_size))) {
                        refuse = true;
                        counters_.last_refusal = ec;  // why, for the application and the tests
                        ++counters_.refused_users;
                    } else {
                        c.user = user;
                    }
                } else if (config_.require_client_certificate) {
                    refuse = true;  // anonymous connections not accepted
                    counters_.last_refusal = make_error_code(Error::user_not_authorized);
                    ++counters_.refused_users;
                }
                if (refuse) {
                    c.refused = true;
                    Bytes frame;
                    write_u32_frame(frame, FrameType::refuse, id);
                    queue_frame(std::move(frame));
                }
                return {};
            }
            case FrameType::refuse: {
                auto it = connections_.find(body_u32(f.body));
                if (role_ != Role::client || it == connections_.end()) return drop(Error::unknown_connection, now);
                it->second.refused = true;
                if (it->first == primary_connection) return fail(make_error_code(Error::connection_refused));
                return {};
            }
            case FrameType::close: {
                auto it = connections_.find(body_u32(f.body));
                if (it == connections_.end()) return drop(Error::unknown_connection, now);
                it->second.peer_closed = true;
                return {};
            }
            case FrameType::rekey:
                // The key generation already moved with the packet's tunnel ID (record layer).
                events_.push(EventKind::key_updated);
                return {};
            case FrameType::close_tunnel:
                peer_closed_ = true;
                events_.push(EventKind::peer_closed);
                return {};
        }
        return {};
    }

    Role role_;
    Config config_;
    Layer record_;
    State state_ = State::idle;
    std::error_code failure_;
    bool started_ = false;
    Instant last_now_{}, last_heard_{}, last_sent_{};
    // client
    std::optional<DirectoryRecord> directory_;
    SecretBytes client_secret_;
    PublicKey client_public_{};
    PublicKey user_public_{};
    std::array<std::uint8_t, user_proof_size> user_proof_{};
    std::optional<PuzzleSolution> solution_;
    Instant request_deadline_{};
    std::uint32_t next_connection_ = primary_connection + 1;
    // server
    PuzzleIssuer<Crypto> puzzles_;
    RequestLoad own_load_;
    /// The tunnel requests counted this second: the engine's own, or the socket's.
    RequestLoad& load() { return config_.shared_server_state ? config_.shared_server_state->load : own_load_; }
    const RequestLoad& load() const { return config_.shared_server_state ? config_.shared_server_state->load : own_load_; }
    BoundedQueue<std::pair<Bytes, Endpoint>> puzzle_replies_{16};
    std::optional<Endpoint> peer_;
    // the tunnel
    std::map<std::uint32_t, Connection> connections_;
    static constexpr std::size_t outbox_capacity = 1u << 16;  // frames; control frames may use the rest
    SlotRing<Bytes> outbox_{outbox_capacity + 1024};
    std::size_t queued_bytes_ = 0, received_bytes_ = 0;
    SlotRing<Sent> unacked_{static_cast<std::size_t>(CongestionState::max_window) + 1};
    std::uint32_t next_seq_ = 1, expected_seq_ = 1, last_ack_ = 0;
    unsigned duplicate_acks_ = 0;
    bool ack_pending_ = false, peer_closed_ = false;
    CongestionState congestion_;
    Bytes rx_, delivered_, pure_ack_;
    EventQueue events_;
    Counters counters_;
};

}  // namespace tapsec::minimalt
