// A QUIC server endpoint (RFC 9000 5.2, 5.1, 6, 10.2, 10.3) as a sans-I/O engine: one
// UDP socket's datagrams in, many server Connections, datagrams out. It routes each
// datagram by its destination connection ID:
//   - to the connection that issued it (its first CID and every NEW_CONNECTION_ID one;
//     routing never looks at addresses, so a client that migrates stays routed);
//   - to the connection created by a client's first Initial, for that client's Initial
//     and 0-RTT packets still sent to its original DCID (until the handshake is confirmed);
//   - an unknown DCID: a client Initial in a datagram of >= 1200 bytes makes a new
//     connection (within max_connections and max_pending_handshakes); a 0-RTT packet is
//     buffered (per DCID, a few packets for a short time) for an Initial that is still on
//     its way, then replayed into the connection it creates; a short header gets a
//     Stateless Reset (the reset key is the endpoint's, shared by every connection, rate
//     limited); anything else is dropped, counted.
// A long header of a version we do not accept (in a datagram of >= 1200 bytes) gets
// Version Negotiation; a full endpoint answers a new Initial with CONNECTION_CLOSE
// CONNECTION_REFUSED (Connection::refuse, no ClientHello read). The CIDs of a retired or
// closed connection stay reserved for three PTOs (10.2), their packets dropped quietly.
//
//   ServerEndpoint<Crypto> ep(tls_config, settings, limits);
//   ep.receive(datagram, from, now);
//   while (auto h = ep.poll_accepted()) sessions[*h] = ...;     // a new connection
//   ep.connection(h)->poll_stream() / stream_send(...)          // the application
//   while (auto t = ep.poll_transmit(buffer)) send(buffer.first(t->size), t->to);
//   while (auto f = ep.poll_finished()) ...;                     // a connection is over
//   timers: ep.next_timeout() / ep.on_timeout(now).
#pragma once

#include <algorithm>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "connection.hpp"

namespace tapsec::quic {

struct EndpointLimits {
    std::size_t max_connections = 1024;        // open at once; more are refused (CONNECTION_REFUSED)
    std::size_t max_pending_handshakes = 128;  // connections still in their handshake; more Initials are dropped
    std::chrono::milliseconds handshake_timeout{10'000};  // a handshake not done by then is dropped
    // 0-RTT packets that arrive before their Initial (reordering): kept per original DCID.
    std::size_t early_packets_per_cid = 4;
    std::size_t early_cids = 64;
    std::chrono::milliseconds early_lifetime{500};
    std::size_t stateless_replies_queued = 64;  // Version Negotiation, Retry, Stateless Reset, refusals waiting to go
    std::size_t stateless_resets_per_second = 100;
};

struct EndpointStats {
    std::uint64_t datagrams_received = 0, connections_accepted = 0, connections_finished = 0;
    std::uint64_t connections_refused = 0;    // max_connections reached: CONNECTION_REFUSED sent
    std::uint64_t initials_dropped_pending = 0;  // max_pending_handshakes reached
    std::uint64_t handshakes_timed_out = 0;
    std::uint64_t initials_too_small = 0, malformed = 0, unknown_cid_dropped = 0, draining_dropped = 0;
    std::uint64_t version_negotiations_sent = 0, retries_sent = 0, stateless_resets_sent = 0, replies_dropped = 0;
    std::uint64_t early_buffered = 0, early_replayed = 0, early_expired = 0, early_dropped = 0;
};

template <class Crypto = crypto::DefaultProvider>
class ServerEndpoint {
public:
    using Conn = Connection<Crypto>;
    using Handle = std::uint64_t;

    /// Where a datagram goes, and which connection sent it (0: the endpoint itself).
    struct Transmit {
        std::size_t size = 0;
        tapsec::Endpoint to;
        Handle from = 0;
    };
    /// A connection that is over, handed to the application to read its outcome.
    struct Finished {
        Handle handle = 0;
        std::unique_ptr<Conn> connection;
        std::error_code error;  // the connection's error, or handshake_timeout
    };

    ServerEndpoint(const tls13::Config& config, Settings settings, EndpointLimits limits = {})
        : tls_config_(config), settings_(std::move(settings)), limits_(limits) {
        // Every connection seals tokens and derives reset tokens with the endpoint's keys:
        // a Retry token from one connection object opens in the next, and the endpoint
        // can reset a CID whose connection it no longer has.
        if (settings_.token_key.empty()) settings_.token_key = random_secret(token_key_length);
        if (settings_.reset_key.empty()) settings_.reset_key = random_secret(32);
        if (settings_.connection_id_length < 8) settings_.connection_id_length = 8;  // routing needs unguessable CIDs
    }

    // ---- datagrams --------------------------------------------------------------------------------

    void receive(ByteView datagram, const tapsec::Endpoint& from, Instant now) {
        now_ = now;
        ++stats_.datagrams_received;
        if (datagram.empty()) return;
        auto h = parse_header(datagram, settings_.connection_id_length);
        if (!h) {
            if (h.error() == make_error_code(Error::unknown_version)) answer_version_negotiation(datagram, from);
            else ++stats_.malformed;
            return;
        }
        if (auto it = routes_.find(key_of(h->dcid)); it != routes_.end()) {
            deliver(it->second, datagram, from);
            return;
        }
        if (quiet_.count(key_of(h->dcid))) {  // a retired or closed connection's CID (10.2)
            ++stats_.draining_dropped;
            return;
        }
        switch (h->type) {
            case PacketType::initial: return accept(*h, datagram, from);
            case PacketType::zero_rtt: return buffer_early(*h, datagram, from);
            case PacketType::one_rtt: return answer_stateless_reset(*h, from);
            default: ++stats_.unknown_cid_dropped; return;
        }
    }

    /// The next datagram to send: stateless answers first, then the connections in turn.
    std::optional<Transmit> poll_transmit(MutableByteView out) {
        if (!replies_.empty()) {
            auto [bytes, to] = std::move(replies_.front());
            replies_.pop_front();
            std::copy(bytes.begin(), bytes.end(), out.begin());
            return Transmit{bytes.size(), to, 0};
        }
        while (!dirty_.empty()) {
            const Handle h = dirty_.front();
            auto it = connections_.find(h);
            if (it == connections_.end()) {
                dirty_.pop_front();
                dirty_set_.erase(h);
                continue;
            }
            auto t = it->second.conn->poll_transmit(out);
            if (!t) {
                dirty_.pop_front();
                dirty_set_.erase(h);
                after_call(h);
                continue;
            }
            dirty_.push_back(h);  // round robin: one datagram per connection per turn
            dirty_.pop_front();
            const auto to = t->to ? *t->to : *it->second.conn->peer_address();
            after_call(h);
            return Transmit{t->size, to, h};
        }
        return std::nullopt;
    }

    std::optional<Instant> next_timeout() const {
        std::optional<Instant> t;
        auto consider = [&](std::optional<Instant> x) {
            if (x && (!t || *x < *t)) t = x;
        };
        for (const auto& [h, e] : connections_) {
            consider(e.conn->next_timeout());
            if (!e.established) consider(e.created + limits_.handshake_timeout);
        }
        for (const auto& [k, until] : quiet_) consider(until);
        for (const auto& [k, early] : early_) consider(early.first + limits_.early_lifetime);
        return t;
    }

    void on_timeout(Instant now) {
        now_ = now;
        std::vector<Handle> due;
        for (auto& [h, e] : connections_) {
            if (auto t = e.conn->next_timeout(); t && *t <= now) due.push_back(h);
            else if (!e.established && now >= e.created + limits_.handshake_timeout) due.push_back(h);
        }
        for (Handle h : due) {
            auto it = connections_.find(h);
            if (it == connections_.end()) continue;
            Entry& e = it->second;
            if (!e.established && now >= e.created + limits_.handshake_timeout && !e.conn->terminated()) {
                ++stats_.handshakes_timed_out;  // dropped silently: the client never finished (or was never real)
                finish(h, make_error_code(Error::handshake_timeout));
                continue;
            }
            e.conn->on_timeout(now);
            mark_dirty(h);
            after_call(h);
        }
        for (auto it = quiet_.begin(); it != quiet_.end();) it = it->second <= now ? quiet_.erase(it) : std::next(it);
        for (auto it = early_.begin(); it != early_.end();) {
            if (now >= it->second.first + limits_.early_lifetime) {
                stats_.early_expired += it->second.packets.size();
                it = early_.erase(it);
            } else {
                ++it;
            }
        }
    }

    // ---- connections -------------------------------------------------------------------------------

    /// A connection created since the last call (its handshake is under way).
    std::optional<Handle> poll_accepted() {
        while (!accepted_.empty()) {
            const Handle h = accepted_.front();
            accepted_.pop_front();
            if (connections_.count(h)) return h;
        }
        return std::nullopt;
    }
    /// A connection that is over (closed, drained, timed out), with its object.
    std::optional<Finished> poll_finished() {
        if (finished_.empty()) return std::nullopt;
        Finished f = std::move(finished_.front());
        finished_.pop_front();
        return f;
    }
    /// The live connection `h` (nullptr once it finished). What the application does
    /// with it may produce datagrams: the endpoint polls it in the next poll_transmit.
    Conn* connection(Handle h) {
        auto it = connections_.find(h);
        if (it == connections_.end()) return nullptr;
        mark_dirty(h);
        return it->second.conn.get();
    }
    /// Call after the application used connection(h): routes follow its CIDs, and a
    /// connection that ended is finished.
    void update(Handle h) { after_call(h); }

    /// Every connection: CONNECTION_CLOSE with Settings::application_close_code (a clean
    /// close) at once, for a server that stops (SIGTERM). Send what poll_transmit gives.
    void close_all(Instant now) {
        now_ = now;
        for (auto& [h, e] : connections_) {
            e.conn->abort(settings_.application_close_code, now);
            mark_dirty(h);
        }
    }

    std::size_t connection_count() const noexcept { return connections_.size(); }
    std::size_t pending_handshakes() const noexcept {
        return static_cast<std::size_t>(
            std::count_if(connections_.begin(), connections_.end(), [](const auto& kv) { return !kv.second.established; }));
    }
    std::size_t routes() const noexcept { return routes_.size(); }
    /// Whether a datagram to `cid` would reach connection `h` (tests, diagnostics).
    bool routes_to(const ConnectionId& cid, Handle h) const {
        auto it = routes_.find(key_of(cid));
        return it != routes_.end() && it->second == h;
    }
    std::size_t early_buffered() const noexcept {
        std::size_t n = 0;
        for (const auto& [k, e] : early_) n += e.packets.size();
        return n;
    }
    const EndpointStats& stats() const noexcept { return stats_; }
    const Settings& settings() const noexcept { return settings_; }

private:
    struct Entry {
        std::unique_ptr<Conn> conn;
        std::vector<std::string> cids;  // routed to this connection (the original DCID first)
        std::string original_dcid;
        Instant created{};
        bool established = false;
        // What the routes were computed from: recomputed only when either changes.
        std::uint64_t routed_generation = ~std::uint64_t{0};
        bool routed_confirmed = false;
    };
    struct EarlyPackets {
        Instant first{};
        std::deque<std::pair<Bytes, tapsec::Endpoint>> packets;
    };

    static std::string key_of(const ConnectionId& cid) {
        return std::string(reinterpret_cast<const char*>(cid.bytes.data()), cid.length);
    }
    SecretBytes random_secret(std::size_t length) const {
        SecretBytes k(length);
        draw_random<Crypto>(tls_config_, MutableByteView(k.data(), k.size()));
        return k;
    }
    bool accepts_version(std::uint32_t v) const {
        return std::find(settings_.accepted_versions.begin(), settings_.accepted_versions.end(), v) !=
               settings_.accepted_versions.end();
    }
    void queue_reply(Bytes bytes, const tapsec::Endpoint& to) {
        if (replies_.size() >= limits_.stateless_replies_queued) {
            ++stats_.replies_dropped;
            return;
        }
        replies_.emplace_back(std::move(bytes), to);
    }
    void mark_dirty(Handle h) {
        if (dirty_set_.insert(h).second) dirty_.push_back(h);
    }

    void deliver(Handle h, ByteView datagram, const tapsec::Endpoint& from) {
        auto it = connections_.find(h);
        if (it == connections_.end()) return;
        it->second.conn->receive(datagram, from, now_);
        mark_dirty(h);
        after_call(h);
    }

    /// A client's first Initial (RFC 9000 14.1: in a datagram of at least 1200 bytes).
    void accept(const Header& h, ByteView datagram, const tapsec::Endpoint& from) {
        if (datagram.size() < min_initial_datagram) {
            ++stats_.initials_too_small;
            return;
        }
        if (h.dcid.length < 8) {  // 7.2: a client's first DCID has at least 8 bytes
            ++stats_.malformed;
            return;
        }
        if (!accepts_version(h.version)) {
            answer_version_negotiation(datagram, from);
            return;
        }
        if (connections_.size() >= limits_.max_connections) {
            refuse(h, from);
            return;
        }
        if (pending_handshakes() >= limits_.max_pending_handshakes) {
            ++stats_.initials_dropped_pending;  // the client retransmits; a pending slot may be free by then
            return;
        }
        auto conn = std::make_unique<Conn>(Role::server, tls_config_, settings_);
        conn->start(now_);
        conn->receive(datagram, from, now_);
        if (!conn->handshake_started()) {
            // Answered without state (Retry), or dropped (a bad token): pass the answer on.
            if (conn->stats().retries_sent) ++stats_.retries_sent;
            Bytes buffer(max_transmit_size);
            if (auto t = conn->poll_transmit(MutableByteView(buffer))) {
                buffer.resize(t->size);
                queue_reply(std::move(buffer), t->to ? *t->to : from);
            }
            return;
        }
        const Handle handle = next_handle_++;
        Entry e;
        e.conn = std::move(conn);
        e.original_dcid = key_of(h.dcid);
        e.created = now_;
        e.cids.push_back(e.original_dcid);
        routes_[e.original_dcid] = handle;
        connections_.emplace(handle, std::move(e));
        ++stats_.connections_accepted;
        accepted_.push_back(handle);
        mark_dirty(handle);
        after_call(handle);
        replay_early(handle, h.dcid);
    }

    /// 5.2.2: a server that cannot take the connection answers with CONNECTION_REFUSED.
    void refuse(const Header& h, const tapsec::Endpoint& from) {
        ++stats_.connections_refused;
        Conn conn(Role::server, tls_config_, settings_);
        conn.start(now_);
        if (conn.refuse(h, from, now_)) return;
        Bytes buffer(max_transmit_size);
        if (auto t = conn.poll_transmit(MutableByteView(buffer))) {
            buffer.resize(t->size);
            queue_reply(std::move(buffer), from);
        }
    }

    /// A 0-RTT packet before its Initial: kept briefly, bounded per DCID and overall.
    void buffer_early(const Header& h, ByteView datagram, const tapsec::Endpoint& from) {
        if (h.dcid.length < 8 || !accepts_version(h.version)) {
            ++stats_.unknown_cid_dropped;
            return;
        }
        const std::string key = key_of(h.dcid);
        auto it = early_.find(key);
        if (it == early_.end()) {
            if (early_.size() >= limits_.early_cids) {
                ++stats_.early_dropped;
                return;
            }
            it = early_.emplace(key, EarlyPackets{now_, {}}).first;
        }
        if (it->second.packets.size() >= limits_.early_packets_per_cid) {
            ++stats_.early_dropped;
            return;
        }
        it->second.packets.emplace_back(Bytes(datagram.begin(), datagram.end()), from);
        ++stats_.early_buffered;
    }
    void replay_early(Handle h, const ConnectionId& dcid) {
        auto it = early_.find(key_of(dcid));
        if (it == early_.end()) return;
        auto packets = std::move(it->second.packets);
        early_.erase(it);
        for (auto& [bytes, from] : packets) {
            if (!connections_.count(h)) return;
            ++stats_.early_replayed;
            deliver(h, bytes, from);
        }
    }

    /// 6.1: only to a datagram large enough to be a client's first.
    void answer_version_negotiation(ByteView datagram, const tapsec::Endpoint& from) {
        if (datagram.size() < min_initial_datagram) {
            ++stats_.malformed;
            return;
        }
        wire::Reader r(datagram);
        r.u8();
        r.u32();
        auto dcid = r.prefixed(1);
        auto scid = r.prefixed(1);
        if (!r.ok() || dcid.size() > max_connection_id_length || scid.size() > max_connection_id_length) {
            ++stats_.malformed;
            return;
        }
        std::uint8_t random = 0;
        draw_random<Crypto>(tls_config_, MutableByteView(&random, 1));
        ++stats_.version_negotiations_sent;
        queue_reply(version_negotiation(ConnectionId(scid), ConnectionId(dcid), random, settings_.accepted_versions), from);
    }

    /// 10.3: a short header for a CID we do not know; smaller than what triggered it
    /// (no loop between two endpoints), at most stateless_resets_per_second.
    void answer_stateless_reset(const Header& h, const tapsec::Endpoint& from) {
        ++stats_.unknown_cid_dropped;
        if (now_ >= reset_window_start_ + std::chrono::seconds(1)) {
            reset_window_start_ = now_;
            resets_in_window_ = 0;
        }
        if (resets_in_window_ >= limits_.stateless_resets_per_second) return;
        const std::size_t size = stateless_reset_size(h.packet_size);
        if (size == 0) return;
        Bytes unpredictable(size - stateless_reset_token_length);
        draw_random<Crypto>(tls_config_, unpredictable);
        ++resets_in_window_;
        ++stats_.stateless_resets_sent;
        queue_reply(stateless_reset(unpredictable, stateless_reset_token<Crypto>(settings_.reset_key, h.dcid)), from);
    }

    /// After any call into connection `h`: its routes follow the CIDs it has issued (and
    /// not had retired), the original DCID is let go once the handshake is confirmed,
    /// and a connection that ended is finished.
    void after_call(Handle h) {
        auto it = connections_.find(h);
        if (it == connections_.end()) return;
        Entry& e = it->second;
        Conn& c = *e.conn;
        if (c.terminated()) {
            finish(h, c.error());
            return;
        }
        if (!e.established && c.is_established()) e.established = true;
        if (c.local_cids_generation() == e.routed_generation && c.handshake_confirmed() == e.routed_confirmed) return;
        e.routed_generation = c.local_cids_generation();
        e.routed_confirmed = c.handshake_confirmed();
        std::vector<std::string> current;
        for (const auto& [seq, cid] : c.local_cids()) current.push_back(key_of(cid));
        if (!c.handshake_confirmed()) current.push_back(e.original_dcid);
        for (const auto& k : e.cids)
            if (std::find(current.begin(), current.end(), k) == current.end()) retire_route(k, c);
        for (const auto& k : current)
            if (std::find(e.cids.begin(), e.cids.end(), k) == e.cids.end()) routes_[k] = h;
        e.cids = std::move(current);
    }
    void retire_route(const std::string& key, const Conn& c) {
        routes_.erase(key);
        quiet_[key] = now_ + 3 * std::max<Duration>(c.probe_timeout(), std::chrono::milliseconds(100));
    }

    void finish(Handle h, std::error_code error) {
        auto it = connections_.find(h);
        if (it == connections_.end()) return;
        for (const auto& k : it->second.cids) retire_route(k, *it->second.conn);
        finished_.push_back(Finished{h, std::move(it->second.conn), error});
        connections_.erase(it);
        ++stats_.connections_finished;
    }

    tls13::Config tls_config_;
    Settings settings_;
    EndpointLimits limits_;
    Instant now_{};
    Handle next_handle_ = 1;
    std::map<Handle, Entry> connections_;
    std::unordered_map<std::string, Handle> routes_;
    std::unordered_map<std::string, Instant> quiet_;  // CIDs of retired / closed connections, until then
    std::unordered_map<std::string, EarlyPackets> early_;
    std::deque<std::pair<Bytes, tapsec::Endpoint>> replies_;
    std::deque<Handle> dirty_, accepted_;
    std::set<Handle> dirty_set_;
    std::deque<Finished> finished_;
    Instant reset_window_start_{};
    std::size_t resets_in_window_ = 0;
    EndpointStats stats_;
};

}  // namespace tapsec::quic
