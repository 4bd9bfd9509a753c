// The CurveCP engine: handshake (handshake.hpp), record (record.hpp, keyed only
// through SessionKeys) and the curvecpmessage stream (message.hpp) joined, sans-I/O.
//
// Client: start() sends a Hello and repeats it on the curvecpclient schedule; a Cookie
// keys the record, and the stream's first block (a ping when the application has not
// written yet) leaves in an Initiate; the first server Message completes the handshake.
// Server: Hellos are answered with Cookies and no state; the first valid Initiate
// creates the connection. From then on the client is known by its short-term key C'
// alone: an authenticated packet from a new address (or with a new client extension)
// moves the connection there (connection mobility).
#pragma once

#include <array>
#include <optional>

#include "../core/bounded_queue.hpp"
#include "../core/config.hpp"
#include "../core/engine.hpp"
#include "errors.hpp"
#include "handshake.hpp"
#include "message.hpp"
#include "record.hpp"
#include "wire.hpp"

namespace tapsec::curvecp {

template <class Crypto, class Record>
class Engine {
    using Layer = typename Record::template layer<Crypto>;

public:
    static constexpr std::size_t max_queued_packets = 256;

    Engine(Role role, const Config& config)
        : role_(role), config_(config), stream_(role == Role::client) {
        RandomSource random = [this](MutableByteView out) { draw_random<Crypto>(config_, out); };
        if (role == Role::client) {
            client_.emplace(config_, random);
            failure_ = client_->error();
        } else {
            server_.emplace(config_, random);
            failure_ = server_->error();
        }
        scratch_.resize(message::max_message_size);
    }

    // ---- the SansIoEngine contract -------------------------------------------------------
    std::error_code start(Instant now) {
        if (failure_) return failure_;
        if (role_ == Role::client && !hello_sent_) {
            hello_sent_ = true;
            send_hello(now);
        }
        return {};
    }

    std::error_code receive(ByteView in, const Endpoint& from, Instant now) {
        settle();
        if (failure_) return failure_;
        if (in.size() > wire::max_packet) {
            drop(Error::malformed_packet, now);
            return run(now);
        }
        std::copy(in.begin(), in.end(), rx_.begin());
        const MutableByteView packet(rx_.data(), in.size());
        auto type = wire::classify(packet);
        if (!type) {
            drop(type.error(), now);
            return run(now);
        }
        if (role_ == Role::client) client_packet(*type, packet, now);
        else server_packet(*type, packet, from, now);
        return run(now);
    }

    [[nodiscard]] std::error_code send(ByteView data, Instant now) {
        settle();
        if (failure_) return failure_;
        if (auto ec = stream_.write(data)) return ec;
        return run(now);
    }

    std::error_code close(Instant now) {
        settle();
        stream_.finish();
        if (failure_) return {};
        return run(now);
    }

    /// Ends our stream with the failure flag (4096) instead of success: the peer learns
    /// that what it received is incomplete on purpose (curvecpmessage sends it when its
    /// child's output fails).
    std::error_code abort(Instant now) {
        settle();
        stream_.finish(/*failure=*/true);
        if (failure_) return {};
        return run(now);
    }

    std::optional<TransmitInfo> poll_transmit(MutableByteView out) {
        if (outgoing_.empty()) return std::nullopt;
        Outgoing& packet = outgoing_.front();
        TransmitInfo info{std::min(packet.data.size(), out.size()), packet.to ? packet.to : peer_};
        std::copy_n(packet.data.begin(), info.size, out.begin());
        outgoing_.pop_front();
        return info;
    }
    std::optional<Transmit> poll_transmit() {
        Bytes buffer(wire::max_packet);
        auto info = poll_transmit(MutableByteView(buffer));
        if (!info) return std::nullopt;
        buffer.resize(info->size);
        return Transmit{std::move(buffer), info->to};
    }

    /// Received stream bytes, lent until the next call on the engine.
    std::optional<ByteView> poll_plaintext() {
        settle();
        ByteView r = stream_.readable();
        if (r.empty()) return std::nullopt;
        lent_ = true;
        return r;
    }
    std::optional<Bytes> poll_application_data() {
        auto view = poll_plaintext();
        if (!view) return std::nullopt;
        Bytes out(view->begin(), view->end());
        settle();
        return out;
    }

    std::optional<Event> poll_event() { return events_.pop(); }

    std::optional<Instant> next_timeout() const {
        if (!outgoing_.empty()) return Instant{};  // queued packets: flush them now
        if (failure_ || done_) return std::nullopt;
        if (role_ == Role::client && !record_.keyed()) return hello_sent_ ? std::optional<Instant>(next_hello_) : std::nullopt;
        if (!record_.keyed()) return std::nullopt;
        auto t = stream_.next_timeout();
        if (role_ == Role::client && !established_ && (!t || initiate_deadline_ < *t)) return initiate_deadline_;
        return t;
    }

    std::error_code on_timeout(Instant now) {
        settle();
        if (failure_) return failure_;
        return run(now);
    }

    bool is_established() const { return established_; }
    bool is_closed() const {
        // Data lent by poll_plaintext() counts as handed out.
        const bool all_read = stream_.readable().empty() || lent_;
        return done_ || (stream_.our_end_acknowledged() && stream_.peer_finished() && all_read) || (failure_ && established_);
    }
    SessionInfo session_info() const {
        SessionInfo s;
        s.protocol = "CurveCP";
        s.cipher_suite = "Curve25519 XSalsa20 Poly1305";
        s.group = "x25519";
        s.server_name = config_.server_name;
        s.peer.raw_public_key.assign(peer_key_.begin(), peer_key_.end());
        s.peer.subject = to_hex(peer_key_);
        // Both keys are proven: the server's by the boxes under S, the client's by its vouch.
        s.peer.authenticated = established_;
        return s;
    }

    // ---- CurveCP specifics -----------------------------------------------------------------
    /// Room in the send buffer (the stream's unacknowledged bytes are bounded).
    std::size_t send_space() const noexcept { return stream_.send_space(); }
    /// Client: a new client extension for the packets from now on (the server follows).
    void set_client_extension(const wire::Extension& ext) {
        if (role_ == Role::client && record_.keyed()) record_.set_client_extension(ext);
    }
    /// The connection's failure, if it failed (the peer's failure flag, a nonce space
    /// exhausted, no answer to the Hellos).
    std::error_code failure() const noexcept { return failure_; }
    std::uint64_t dropped() const noexcept { return dropped_; }
    /// Why the latest packet was dropped (the counter and this, not a message per drop).
    std::error_code last_drop() const noexcept { return last_drop_; }
    const message::Stream& stream() const noexcept { return stream_; }
    const std::optional<Endpoint>& peer_endpoint() const noexcept { return peer_; }

private:
    void settle() {
        if (lent_) {
            stream_.consume_all();
            lent_ = false;
            check_done();
        }
    }
    /// Both streams ended, ours acknowledged, the peer's all handed out.
    void check_done() {
        if (!done_ && stream_.done()) {
            done_ = true;
            events_.push(EventKind::peer_closed);
        }
    }

    void drop(std::error_code reason, Instant now) {
        ++dropped_;
        last_drop_ = reason;
        events_.note_drop(reason, now);
    }
    void drop(Error e, Instant now) { drop(make_error_code(e), now); }

    // Client --------------------------------------------------------------------------------
    void send_hello(Instant now) {
        if (Outgoing* slot = outgoing_.reserve_back()) {
            slot->data.resize(wire::hello_size);
            slot->to.reset();
            client_->hello(MutableByteView(slot->data));
            outgoing_.commit_back();
        }
        // curvecpclient's schedule: the nth wait is first * 1.5^n plus up to as much again.
        auto wait = config_.first_hello_interval;
        for (unsigned i = 0; i < hellos_; ++i) wait = wait * 3 / 2;
        std::array<std::uint8_t, 4> r{};
        draw_random<Crypto>(config_, r);
        const auto jitter = wait.count() > 0 ? (std::int64_t(r[0] | r[1] << 8 | r[2] << 16) % wait.count()) : 0;
        next_hello_ = now + wait + std::chrono::nanoseconds(jitter);
        ++hellos_;
    }

    void client_packet(wire::PacketType type, MutableByteView packet, Instant now) {
        if (type == wire::PacketType::cookie) {
            if (record_.keyed()) return drop(Error::unexpected_packet, now);  // a duplicate Cookie
            auto keys = client_->on_cookie(packet);
            if (!keys) return drop(keys.error(), now);
            peer_key_ = *config_.server_public_key;
            if (auto ec = record_.import(*keys)) {
                failure_ = ec;
                return;
            }
            if (!stream_.has_unsent_or_unacked()) stream_.want_ping();  // the Initiate carries a block
            initiate_deadline_ = now + config_.initiate_timeout;
            return;
        }
        if (type != wire::PacketType::server_message || !record_.keyed()) return drop(Error::unexpected_packet, now);
        auto m = record_.open(packet, type);
        if (!m) return drop(m.error(), now);
        if (!established_) {
            established_ = true;
            events_.push(EventKind::handshake_complete);
        }
        deliver(*m, now);
    }

    // Server --------------------------------------------------------------------------------
    void server_packet(wire::PacketType type, MutableByteView packet, const Endpoint& from, Instant now) {
        switch (type) {
            case wire::PacketType::hello: {
                if (established_) return drop(Error::unexpected_packet, now);  // one connection per engine
                Outgoing* slot = outgoing_.reserve_back();
                if (!slot) return drop(Errc::record_overflow, now);
                slot->data.resize(wire::cookie_size);
                auto n = server_->on_hello(packet, MutableByteView(slot->data), now);
                if (!n) return drop(n.error(), now);
                slot->to = from;  // the Cookie goes back where the Hello came from
                outgoing_.commit_back();
                return;
            }
            case wire::PacketType::initiate:
                if (!established_) {
                    auto accepted = server_->on_initiate(packet, now);
                    if (!accepted) return drop(accepted.error(), now);
                    PeerIdentity who;
                    who.raw_public_key.assign(accepted->client_long_term_key.begin(), accepted->client_long_term_key.end());
                    who.subject = to_hex(accepted->client_long_term_key);
                    who.authenticated = true;
                    if (config_.validate_peer) {
                        if (auto ec = config_.validate_peer(who)) return drop(Error::rejected_by_application, now);
                    }
                    if (auto ec = record_.import(accepted->keys)) {
                        failure_ = ec;
                        return;
                    }
                    peer_key_ = accepted->client_long_term_key;
                    peer_ = from;
                    established_ = true;
                    events_.push(EventKind::handshake_complete);
                    // The message sits in rx_, which nothing overwrites before deliver().
                    deliver(accepted->message, now);
                    return;
                }
                [[fallthrough]];  // a repeated Initiate: the client has not heard from us yet
            case wire::PacketType::client_message: {
                if (!record_.keyed()) return drop(Error::unknown_client, now);
                auto m = record_.open(packet, type);
                if (!m) return drop(m.error(), now);
                // Authenticated: follow the client to its current address and extension.
                record_.set_client_extension(ByteView(packet).subspan(24, 16));
                if (peer_ && !(*peer_ == from)) events_.push(EventKind::peer_address_changed);
                peer_ = from;
                deliver(*m, now);
                return;
            }
            default: return drop(Error::unexpected_packet, now);
        }
    }

    void deliver(ByteView m, Instant now) {
        if (auto ec = stream_.on_message(m, now)) {
            drop(ec, now);
            return;
        }
        if (stream_.peer_failed()) failure_ = make_error_code(Error::peer_failed);
    }

    /// After every input: timers that are due, then every message the stream has ready.
    std::error_code run(Instant now) {
        if (failure_) return {};
        if (role_ == Role::client && !record_.keyed()) {
            if (hello_sent_ && now >= next_hello_) {
                if (hellos_ >= config_.hello_attempts) {
                    failure_ = make_error_code(Error::no_answer);
                    return failure_;
                }
                send_hello(now);
            }
            return {};
        }
        if (!record_.keyed()) return {};
        if (role_ == Role::client && !established_ && now >= initiate_deadline_) {
            failure_ = make_error_code(Error::initiate_unanswered);
            return failure_;
        }
        while (!outgoing_.full()) {
            const std::size_t n = stream_.poll_message(now, MutableByteView(scratch_));
            if (n == 0) break;
            Outgoing* slot = outgoing_.reserve_back();
            slot->data.resize(wire::max_packet);
            slot->to.reset();
            auto sealed = record_.seal(ByteView(scratch_.data(), n), MutableByteView(slot->data));
            if (!sealed) {
                failure_ = sealed.error();
                return failure_;
            }
            slot->data.resize(*sealed);
            outgoing_.commit_back();
        }
        check_done();
        return {};
    }

    Role role_;
    Config config_;
    std::optional<ClientHandshake> client_;
    std::optional<ServerHandshake> server_;
    Layer record_;
    message::Stream stream_;
    struct Outgoing {
        Bytes data;
        std::optional<Endpoint> to;  // a Cookie goes where its Hello came from; the rest to the peer
    };
    BoundedQueue<Outgoing> outgoing_{max_queued_packets};
    std::optional<Endpoint> peer_;
    PublicKey peer_key_{};
    Bytes rx_ = Bytes(wire::max_packet);
    Bytes scratch_;
    EventQueue events_;
    std::error_code failure_, last_drop_;
    Instant next_hello_{}, initiate_deadline_{};
    unsigned hellos_ = 0;
    bool hello_sent_ = false, established_ = false, done_ = false, lent_ = false;
    std::uint64_t dropped_ = 0;
};

}  // namespace tapsec::curvecp
