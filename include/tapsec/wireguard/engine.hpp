// The WireGuard engine: one interface (our static key) and several peers, the
// cryptokey routing table between them, the handshake, sessions, cookies and timers.
// Sans-I/O: datagrams and the time come in; datagrams (each addressed to a peer's
// current endpoint) and inner IP packets go out. Bad input never fails the engine:
// every dropped datagram is counted under its reason (drops(Error)); dropped_packet
// events are coalesced (core/bounded_queue.hpp), and every queue is bounded.
//
// The record is a policy: sessions are `Record::layer<Crypto>`, keyed only through
// the record's key interface (import of Record::imported_keys, SessionKeyMaterial).
// The data path (send, receive, poll_transmit(out), poll_plaintext) allocates nothing
// once warmed up: queue slots keep their buffers.
#pragma once

#include <algorithm>
#include <array>
#include <chrono>
#include <cstring>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <unordered_map>
#include <vector>

#include "../core/bounded_queue.hpp"
#include "../core/config.hpp"
#include "../core/datagram_outbox.hpp"
#include "../core/engine.hpp"
#include "../core/errors.hpp"
#include "allowed_ips.hpp"
#include "config.hpp"
#include "cookie.hpp"
#include "errors.hpp"
#include "noise.hpp"
#include "record.hpp"
#include "timers.hpp"
#include "wire.hpp"

namespace tapsec::wireguard {

/// The handshake's configuration: WireGuard's own interface/peer settings plus the
/// common fields it honours (validate_peer: called with each peer's static key after
/// its handshake authenticated; handshake_timeout for Secure<>::handshake()).
struct Config : CommonConfig {
    InterfaceSettings interface;
    TimerSettings timers;
    LoadSettings load;
    // Time and randomness: CommonConfig::wall_clock (TAI64N timestamps, the only use of
    // real time) and CommonConfig::random (ephemeral keys, indices, jitter, cookies).
    /// Authentication delegation (5.2 AD), used when `delegate_authentication` is set:
    /// an initiation that authenticates a static key no [Peer] names is offered to this
    /// module, which may admit the key as a new peer (returning its settings: allowed
    /// IPs, PSK) or refuse it (nullopt). Without delegation unknown keys are dropped.
    std::function<std::optional<PeerSettings>(const Key& public_key)> authorize_unknown_peer;

    static Config from(InterfaceSettings settings) {
        Config c;
        c.interface = std::move(settings);
        return c;
    }
};

/// Counters an operator can read (like `wg show` transfer and handshake figures).
struct PeerStatistics {
    std::uint64_t received_bytes = 0, sent_bytes = 0;
    std::uint64_t handshakes_completed = 0;
    std::uint64_t handshake_initiations_sent = 0;
    std::uint64_t cookie_replies_received = 0;
    std::optional<Instant> last_handshake;
};

/// How many datagrams, inner packets and events an engine holds for the application
/// at most; beyond that the newest is dropped and counted (queue_overflows()).
inline constexpr std::size_t queue_limit = 4096;

template <class Crypto, class Record = WireGuardRecord>
class Engine {
    using Session = typename Record::template layer<Crypto>;
    static_assert(std::is_same_v<typename Record::imported_keys, SessionKeyMaterial>,
                  "tapsec: the WireGuard engine keys records that import wireguard::SessionKeyMaterial");
    static_assert(TransportLayer<Session>, "tapsec: Record::layer<Crypto> lacks the WireGuard record interface");
    static constexpr std::size_t error_count = static_cast<std::size_t>(Error::invalid_configuration) + 1;  // the last

    struct Peer {
        PeerKeys keys;
        CookieJar<Crypto> cookies;
        std::optional<Endpoint> endpoint;
        std::chrono::seconds persistent_keepalive{0};
        // handshake
        enum class Stage { none, initiation_sent } stage = Stage::none;
        HandshakeState<Crypto> handshake;
        std::optional<Timestamp> latest_timestamp;
        std::optional<Instant> last_initiation_consumed;
        // sessions: current (sending), previous (still receiving), next (responder's,
        // unconfirmed until the initiator's first transport message arrives)
        std::unique_ptr<Session> current, previous, next;
        std::deque<Bytes> staged;  // inner packets waiting for a session
        // timers
        std::optional<Instant> last_initiation_sent, attempt_started;
        std::optional<Instant> retransmit_at, keepalive_at, new_handshake_at, zero_keys_at, persistent_at;
        bool rekey_requested_by_receive = false;
        mutable std::optional<Instant> scheduled_at;  // this peer's live entry in the timer heap
        bool removed = false;                 // a free slot (remove_peer), reused by add_peer
        PeerStatistics stats;
    };
    /// Public keys hash by their bytes (keys are admitted only after a handshake
    /// authenticated them, so nobody grinds them for collisions cheaply).
    struct KeyHash {
        std::size_t operator()(const Key& k) const noexcept {
            return hash_bytes(k);
        }
    };
    struct TimerEntry {
        Instant at;
        std::size_t peer;
        bool operator>(const TimerEntry& other) const { return at > other.at; }
    };

public:
    Engine(Role role, const Config& config) : role_(role), config_(config) {
        auto identity = StaticIdentity<Crypto>::from_private(config.interface.private_key);
        if (!config.interface.has_private_key || !identity) {
            setup_error_ = make_error_code(Error::invalid_configuration);
            return;
        }
        identity_.emplace(std::move(*identity));
        checker_.emplace(identity_->mac1_key, identity_->cookie_key);
        for (const auto& settings : config.interface.peers) insert_peer(settings);
    }

    // ---- SansIoEngine ---------------------------------------------------------------

    std::error_code start(Instant now) {
        if (setup_error_) return setup_error_;
        if (role_ == Role::client) {
            bool any = false;
            for (std::size_t i = 0; i < peers_.size(); ++i)
                if (!peers_[i].removed && peers_[i].endpoint) {
                    initiate(i, now, false);
                    any = true;
                }
            if (!any) return make_error_code(Error::invalid_configuration);  // nobody to connect to
        }
        return {};
    }

    std::error_code receive(ByteView datagram, const Endpoint& from, Instant now) {
        if (setup_error_) return setup_error_;
        if (closed_) return {};
        std::error_code ec;
        switch (message_type(datagram).value_or(MessageType{0})) {
            case MessageType::initiation: ec = on_initiation(datagram, from, now); break;
            case MessageType::response: ec = on_response(datagram, from, now); break;
            case MessageType::cookie_reply: ec = on_cookie_reply(datagram, now); break;
            case MessageType::transport: ec = on_transport(datagram, from, now); break;
            default: ec = make_error_code(Error::malformed_message);
        }
        if (ec) drop(ec, now);
        return {};
    }

    std::optional<Transmit> poll_transmit() { return transmits_.poll(); }
    /// The next datagram, copied into the caller's buffer (which must hold
    /// max_transmit_size bytes; a smaller one receives nothing).
    std::optional<TransmitInfo> poll_transmit(MutableByteView out) { return transmits_.poll_into(out); }
    std::optional<Bytes> poll_application_data() { return inbound_.poll_copy(); }
    /// The next inner IP packet as a view valid until the next call on the engine.
    std::optional<ByteView> poll_plaintext() { return inbound_.poll_view(); }
    std::optional<Event> poll_event() { return events_.pop(); }

    /// Sends one inner IP packet to the peer whose allowed IPs hold its destination.
    /// A packet that is not IP, or has no route, is dropped and counted (as a kernel
    /// interface would), not a failure of the tunnel.
    std::error_code send(ByteView packet, Instant now) {
        if (setup_error_) return setup_error_;
        if (closed_) return make_error_code(Errc::closed);
        auto info = inspect_ip_packet(packet);
        if (!info) return drop(make_error_code(Error::not_an_ip_packet), now), std::error_code{};
        auto peer = routes_.lookup(info->destination);
        if (!peer) return drop(make_error_code(Error::no_route), now), std::error_code{};
        // Without a session the packet waits; when max_staged already wait it is refused
        // (the caller learns it) rather than pushing the oldest staged packet out unseen.
        const Peer& p = peers_[*peer];
        if ((!p.current || !p.current->can_send(now, config_.timers)) && p.staged.size() >= max_staged)
            return make_error_code(std::errc::no_buffer_space);
        send_to_peer(*peer, packet.first(info->length), now);
        return {};
    }

    /// The earliest timer of any peer: the top of a min-heap (O(1); a tick that fires
    /// timers costs O(log N) per due peer, never a scan of all N peers).
    std::optional<Instant> next_timeout() const {
        drop_stale_timers();
        if (timer_heap_.empty()) return std::nullopt;
        return timer_heap_.front().at;
    }

    std::error_code on_timeout(Instant now) {
        if (setup_error_ || closed_) return {};
        // Each due peer runs once per call (a timer armed at `now` again waits for the next).
        std::size_t budget = peers_.size();
        for (drop_stale_timers(); budget-- && !timer_heap_.empty() && timer_heap_.front().at <= now; drop_stale_timers()) {
            const std::size_t index = timer_heap_.front().peer;
            std::pop_heap(timer_heap_.begin(), timer_heap_.end(), std::greater<>{});
            timer_heap_.pop_back();
            peers_[index].scheduled_at.reset();
            run_timers(index, now);
            reschedule(index);
        }
        return {};
    }

    /// WireGuard has no close message: closing erases every key locally.
    std::error_code close(Instant) {
        for (auto& p : peers_) erase_keys(p);
        timer_heap_.clear();
        closed_ = true;
        return {};
    }

    bool is_established() const {
        return std::any_of(peers_.begin(), peers_.end(), [](const Peer& p) { return p.current != nullptr; });
    }
    bool is_closed() const { return closed_; }

    SessionInfo session_info() const {
        SessionInfo info;
        info.protocol = "WireGuard";
        info.cipher_suite = std::string(construction);
        info.group = "x25519";
        if (last_peer_) {
            info.peer.raw_public_key.assign(peers_[*last_peer_].keys.public_key.begin(), peers_[*last_peer_].keys.public_key.end());
            info.peer.subject = encode_key(peers_[*last_peer_].keys.public_key);
            info.peer.authenticated = true;
        }
        return info;
    }

    // ---- WireGuard-specific ------------------------------------------------------------

    /// Datagrams dropped for `reason` since the engine started.
    std::uint64_t drops(Error reason) const { return drop_counts_[static_cast<std::size_t>(reason)]; }
    std::uint64_t total_drops() const {
        std::uint64_t n = 0;
        for (auto c : drop_counts_) n += c;
        return n;
    }
    std::uint64_t cookie_replies_sent() const { return cookie_replies_sent_; }
    /// Datagrams or inner packets dropped because the application left a queue full.
    std::uint64_t queue_overflows() const { return queue_overflows_ + transmits_.overflows(); }
    /// What the engine holds for the application now (bounded by queue_limit each).
    std::size_t queued_transmits() const { return transmits_.size(); }
    std::size_t queued_plaintexts() const { return inbound_.size(); }
    std::size_t queued_events() const { return events_.size(); }
    /// Drops folded into an earlier dropped_packet event.
    std::uint64_t coalesced_drop_events() const { return events_.coalesced_drops(); }
    /// Peer slots: indices run from 0 to peer_count() - 1 and stay stable; a removed
    /// peer's slot reads as empty (no session, no endpoint) until add_peer reuses it.
    std::size_t peer_count() const { return peers_.size(); }
    std::size_t active_peer_count() const { return by_key_.size(); }
    /// The peer with this static public key: a hash lookup, O(1) whatever the count.
    std::optional<std::size_t> find_peer(const Key& public_key) const {
        auto it = by_key_.find(public_key);
        if (it == by_key_.end()) return std::nullopt;
        return it->second;
    }
    /// Adds a peer while running (like `wg set IFACE peer KEY ...`); a key already
    /// present keeps its slot and gets the new settings' routes. Returns its index.
    std::size_t add_peer(const PeerSettings& settings) {
        if (auto existing = find_peer(settings.public_key)) {
            for (const auto& prefix : settings.allowed_ips) routes_.insert(prefix, *existing);
            return *existing;
        }
        return insert_peer(settings);
    }
    /// Removes a peer (like `wg set IFACE peer KEY remove`): its sessions, indices,
    /// routes, staged packets and timers go; its slot is reused by a later add_peer.
    bool remove_peer(const Key& public_key) {
        auto found = find_peer(public_key);
        if (!found) return false;
        const std::size_t index = *found;
        Peer& p = peers_[index];
        erase_keys(p);
        routes_.remove_peer(index);
        by_key_.erase(public_key);
        p = Peer{};  // the old peer's keys and state are overwritten
        p.removed = true;
        free_slots_.push_back(index);
        if (last_peer_ == index) last_peer_.reset();
        return true;
    }
    const PeerStatistics& statistics(std::size_t peer) const { return peers_.at(peer).stats; }
    std::optional<Endpoint> endpoint(std::size_t peer) const { return peers_.at(peer).endpoint; }
    bool has_session(std::size_t peer) const { return peers_.at(peer).current != nullptr; }
    /// The current sending session of a peer (tests inspect counters and indices).
    Session* current_session(std::size_t peer) { return peers_.at(peer).current.get(); }
    const Key& public_key() const { return identity_->public_key; }
    /// Points a peer at a new endpoint (like `wg set ... peer K endpoint E`); the peer's
    /// own roaming still moves it to wherever its authenticated packets come from.
    void set_endpoint(std::size_t peer, const Endpoint& endpoint) { peers_.at(peer).endpoint = endpoint; }
    /// Forces (or stops forcing) the under-load state in which handshakes need a cookie.
    void set_under_load(bool on) { forced_load_ = on; }
    /// Starts a handshake with a peer now (an application-requested rekey).
    void initiate_handshake(std::size_t peer, Instant now) { initiate(peer, now, false); }
    /// Key update in Secure<> terms: a new handshake with every peer that has a session.
    std::error_code update_keys(bool, Instant now) {
        for (std::size_t i = 0; i < peers_.size(); ++i)
            if (peers_[i].current) initiate(i, now, false);
        return {};
    }
    /// Entries in the timer heap (live ones plus stale ones not yet surfaced; bounded).
    std::size_t timer_heap_size() const { return timer_heap_.size(); }

private:
    static bool due(const std::optional<Instant>& t, Instant now) { return t && *t <= now; }

    std::size_t insert_peer(const PeerSettings& s) {
        Peer p;
        p.keys.public_key = s.public_key;
        if (s.preshared_key) p.keys.preshared_key = *s.preshared_key;
        if (auto ss = noise::dh<Crypto>(identity_->private_key, s.public_key)) {
            p.keys.static_static = *ss;
            p.keys.static_static_valid = true;
        }
        p.keys.mac1_key = noise::hash(as_bytes(label_mac1), s.public_key);
        p.keys.cookie_key = noise::hash(as_bytes(label_cookie), s.public_key);
        p.cookies = CookieJar<Crypto>(p.keys.mac1_key, p.keys.cookie_key);
        p.endpoint = s.endpoint;
        p.persistent_keepalive = s.persistent_keepalive;
        std::size_t index = peers_.size();
        if (!free_slots_.empty()) {
            index = free_slots_.back();
            free_slots_.pop_back();
            peers_[index] = std::move(p);
        } else {
            peers_.push_back(std::move(p));
        }
        by_key_[s.public_key] = index;
        for (const auto& prefix : s.allowed_ips) routes_.insert(prefix, index);
        return index;
    }

    // ---- timers: a min-heap holding each peer once, at its earliest deadline ----------

    static void consider(std::optional<Instant>& earliest, const std::optional<Instant>& t) {
        if (t && (!earliest || *t < *earliest)) earliest = t;
    }
    static std::optional<Instant> earliest_timer(const Peer& p) {
        std::optional<Instant> earliest;
        for (const auto* t : {&p.retransmit_at, &p.keepalive_at, &p.new_handshake_at, &p.zero_keys_at, &p.persistent_at})
            consider(earliest, *t);
        return earliest;
    }
    /// Sets one of a peer's timers. An entry already in the heap at or before `at` covers
    /// it (when it fires the peer is rescheduled); an earlier deadline pushes a new entry
    /// and leaves the old one stale (recognised and dropped when it surfaces).
    void arm(Peer& p, std::optional<Instant>& timer, Instant at) {
        timer = at;
        if (p.scheduled_at && *p.scheduled_at <= at) return;
        push_timer(static_cast<std::size_t>(&p - peers_.data()), at);
    }
    void reschedule(std::size_t index) {
        Peer& p = peers_[index];
        auto earliest = earliest_timer(p);
        if (earliest && (!p.scheduled_at || *earliest < *p.scheduled_at)) push_timer(index, *earliest);
    }
    void push_timer(std::size_t index, Instant at) {
        peers_[index].scheduled_at = at;
        timer_heap_.push_back({at, index});
        std::push_heap(timer_heap_.begin(), timer_heap_.end(), std::greater<>{});
        // Stale entries are bounded: past twice the peer count, rebuild from the peers.
        if (timer_heap_.size() > 2 * peers_.size() + 64) {
            timer_heap_.clear();
            for (std::size_t i = 0; i < peers_.size(); ++i) {
                peers_[i].scheduled_at = earliest_timer(peers_[i]);
                if (peers_[i].scheduled_at) timer_heap_.push_back({*peers_[i].scheduled_at, i});
            }
            std::make_heap(timer_heap_.begin(), timer_heap_.end(), std::greater<>{});
        }
    }
    /// Makes the top entry exact: pops entries whose peer has since been scheduled
    /// elsewhere (or removed), and moves a peer whose earliest timer was reset (not
    /// re-armed) to its real next deadline. O(log N) per entry fixed.
    void drop_stale_timers() const {
        while (!timer_heap_.empty()) {
            const TimerEntry top = timer_heap_.front();
            const Peer& p = peers_[top.peer];
            if (p.scheduled_at != top.at) {
                std::pop_heap(timer_heap_.begin(), timer_heap_.end(), std::greater<>{});
                timer_heap_.pop_back();
                continue;
            }
            const auto earliest = earliest_timer(p);
            if (earliest == top.at) return;
            std::pop_heap(timer_heap_.begin(), timer_heap_.end(), std::greater<>{});
            timer_heap_.pop_back();
            p.scheduled_at = earliest;
            if (earliest) {
                timer_heap_.push_back({*earliest, top.peer});
                std::push_heap(timer_heap_.begin(), timer_heap_.end(), std::greater<>{});
            }
        }
    }

    void run_timers(std::size_t i, Instant now) {
        Peer& p = peers_[i];
        if (due(p.retransmit_at, now)) {
            p.retransmit_at.reset();
            if (p.attempt_started && now - *p.attempt_started >= config_.timers.rekey_attempt_time) {
                // Give up: REKEY_ATTEMPT_TIME passed without a response.
                p.stage = Peer::Stage::none;
                forget_index(p.handshake.local_index);
                p.attempt_started.reset();
                p.staged.clear();
                drop(make_error_code(Error::handshake_timeout), now);
            } else {
                initiate(i, now, true);
            }
        }
        if (due(p.keepalive_at, now)) {
            p.keepalive_at.reset();
            send_to_peer(i, {}, now);
        }
        if (due(p.new_handshake_at, now)) {
            // We sent data and heard nothing for KEEPALIVE + REKEY_TIMEOUT.
            p.new_handshake_at.reset();
            initiate(i, now, false);
        }
        if (due(p.persistent_at, now)) {
            p.persistent_at.reset();
            send_to_peer(i, {}, now);
        }
        if (due(p.zero_keys_at, now)) {
            p.zero_keys_at.reset();
            erase_keys(p);
            events_.push(EventKind::key_expiring, make_error_code(Error::key_expired));
        }
    }

    void drop(std::error_code ec, Instant now) {
        if (ec.category() == category()) ++drop_counts_[static_cast<std::size_t>(ec.value())];
        else ++drop_counts_[static_cast<std::size_t>(Error::malformed_message)];
        events_.note_drop(ec, now);
    }

    std::uint32_t new_index(std::size_t peer) {
        for (;;) {
            std::uint32_t index = 0;
            draw_random<Crypto>(config_, MutableByteView(reinterpret_cast<std::uint8_t*>(&index), sizeof index));
            if (index != 0 && !indices_.count(index)) {
                indices_[index] = peer;
                return index;
            }
        }
    }
    void forget_index(std::uint32_t index) {
        if (index) indices_.erase(index);
    }
    void forget_session(std::unique_ptr<Session>& s) {
        if (!s) return;
        forget_index(s->local_index());
        s.reset();
    }
    void erase_keys(Peer& p) {
        forget_session(p.current);
        forget_session(p.previous);
        forget_session(p.next);
        if (p.stage != Peer::Stage::none) forget_index(p.handshake.local_index);
        p.stage = Peer::Stage::none;
        p.handshake = HandshakeState<Crypto>{};
        p.staged.clear();
        p.retransmit_at.reset();
        p.keepalive_at.reset();
        p.new_handshake_at.reset();
        p.attempt_started.reset();
    }

    /// Queues a handshake message (or cookie reply) for `to`.
    void queue_datagram(ByteView data, const Endpoint& to) {
        transmits_.push(data, to);
    }

    void transmitted(Peer& p, Instant now) {
        // Any authenticated packet sent: the passive keepalive is no longer needed.
        p.keepalive_at.reset();
        if (p.persistent_keepalive.count()) arm(p, p.persistent_at, now + p.persistent_keepalive);
    }

    void transmit(Peer& p, ByteView data, Instant now) {
        if (!p.endpoint) return;
        queue_datagram(data, *p.endpoint);
        transmitted(p, now);
    }

    std::chrono::milliseconds jitter() const {
        std::uint16_t r = 0;
        draw_random<Crypto>(config_, MutableByteView(reinterpret_cast<std::uint8_t*>(&r), sizeof r));
        const auto max = config_.timers.max_jitter.count();
        return std::chrono::milliseconds(max > 0 ? r % (max + 1) : 0);
    }

    /// An ephemeral private key from the configuration's random source (X25519 clamps it).
    SecretArray<32> fresh_ephemeral() const {
        SecretArray<32> key;
        draw_random<Crypto>(config_, key);
        return key;
    }

    Timestamp timestamp_now() const {
        return noise::tai64n(wall_now(config_));
    }

    /// Sends a handshake initiation (`retry`: a retransmission of the same attempt).
    void initiate(std::size_t index, Instant now, bool retry) {
        Peer& p = peers_[index];
        if (!p.endpoint) return;
        if (!retry) {
            // Not more than one initiation per REKEY_TIMEOUT unless retransmitting.
            if (p.stage == Peer::Stage::initiation_sent && p.last_initiation_sent &&
                now - *p.last_initiation_sent < config_.timers.rekey_timeout)
                return;
            if (!p.attempt_started || p.stage == Peer::Stage::none) p.attempt_started = now;
        }
        if (p.stage != Peer::Stage::none) forget_index(p.handshake.local_index);
        const std::uint32_t local = new_index(index);
        auto msg = create_initiation(*identity_, p.keys, local, timestamp_now(), fresh_ephemeral(), p.handshake);
        if (!msg) {
            forget_index(local);
            p.stage = Peer::Stage::none;
            drop(msg.error(), now);
            return;
        }
        p.stage = Peer::Stage::initiation_sent;
        Bytes wire = serialize(*msg);
        p.cookies.add_macs(wire, Initiation::mac1_offset, Initiation::mac2_offset, now);
        p.last_initiation_sent = now;
        arm(p, p.retransmit_at, now + config_.timers.rekey_timeout + jitter());
        ++p.stats.handshake_initiations_sent;
        transmit(p, wire, now);
    }

    bool under_load(Instant now) {
        if (forced_load_ || config_.load.always_under_load) return true;
        recent_handshakes_.push_back(now);
        while (!recent_handshakes_.empty() && now - recent_handshakes_.front() > std::chrono::seconds(1))
            recent_handshakes_.pop_front();
        // Knowing that the limit was passed is enough: a flood does not grow the list.
        while (recent_handshakes_.size() > config_.load.handshakes_per_second + 1) recent_handshakes_.pop_front();
        if (recent_handshakes_.size() > config_.load.handshakes_per_second) load_until_ = now + std::chrono::seconds(1);
        return load_until_ && now < *load_until_;
    }

    /// mac1 always; mac2 when under load (else a cookie reply goes back and the message
    /// is dropped with cookie_required).
    std::error_code check_macs(ByteView d, std::size_t mac1_offset, std::size_t mac2_offset, std::uint32_t sender_index,
                               const Endpoint& from, Instant now) {
        if (!checker_->mac1_valid(d, mac1_offset)) return make_error_code(Error::bad_mac1);
        const bool loaded = under_load(now);  // (counts this message once)
        if (loaded && !checker_->mac2_valid(d, mac2_offset, from, now, config_)) {
            queue_datagram(checker_->make_reply(d, mac1_offset, sender_index, from, now, config_), from);
            ++cookie_replies_sent_;
            return make_error_code(Error::cookie_required);
        }
        if (loaded && !allow_from(from, now)) return make_error_code(Error::handshake_rate_limited);
        return {};
    }

    /// Under load, a proven address (valid mac2) still gets at most 20 handshake
    /// messages per second with a burst of 5 (a token bucket per address, as wireguard-go).
    bool allow_from(const Endpoint& from, Instant now) {
        constexpr double rate = 20, burst = 5;
        constexpr std::size_t max_buckets = 4096;
        if (rate_buckets_.size() >= max_buckets) {
            std::erase_if(rate_buckets_, [&](const auto& entry) { return now - entry.second.last > std::chrono::seconds(1); });
        }
        auto known = rate_buckets_.find(from.address());
        // A table full of addresses seen in the last second admits no new one: a flood
        // from many sources cannot grow it.
        if (known == rate_buckets_.end() && rate_buckets_.size() >= max_buckets) return false;
        auto [it, inserted] = rate_buckets_.try_emplace(from.address(), RateBucket{burst, now});
        RateBucket& bucket = it->second;
        if (!inserted) {
            bucket.tokens = std::min(burst, bucket.tokens + std::chrono::duration<double>(now - bucket.last).count() * rate);
            bucket.last = now;
        }
        if (bucket.tokens < 1) return false;
        bucket.tokens -= 1;
        return true;
    }

    std::error_code on_initiation(ByteView d, const Endpoint& from, Instant now) {
        auto msg = parse_initiation(d);
        if (!msg) return make_error_code(Error::malformed_message);
        if (auto ec = check_macs(d, Initiation::mac1_offset, Initiation::mac2_offset, msg->sender_index, from, now)) return ec;
        HandshakeState<Crypto> hs;
        auto consumed = consume_initiation(
            *identity_, *msg,
            [this](const Key& key) -> std::optional<std::pair<std::size_t, const PeerKeys*>> {
                auto i = find_peer(key);
                if (!i && config_.delegate_authentication && config_.authorize_unknown_peer) {
                    if (auto admitted = config_.authorize_unknown_peer(key)) {
                        admitted->public_key = key;
                        i = insert_peer(*admitted);
                    }
                }
                if (!i) return std::nullopt;
                return std::pair<std::size_t, const PeerKeys*>{*i, &peers_[*i].keys};
            },
            hs);
        if (!consumed) return consumed.error();
        const std::size_t index = consumed->peer;
        Peer& p = peers_[index];
        // Replay: the timestamp must be newer than any accepted before (big-endian bytes).
        if (p.latest_timestamp && !std::lexicographical_compare(p.latest_timestamp->begin(), p.latest_timestamp->end(),
                                                                consumed->timestamp.begin(), consumed->timestamp.end()))
            return make_error_code(Error::replayed_initiation);
        if (p.last_initiation_consumed && now - *p.last_initiation_consumed < initiation_min_interval)
            return make_error_code(Error::initiation_flood);
        if (config_.validate_peer) {
            PeerIdentity id;
            id.raw_public_key.assign(p.keys.public_key.begin(), p.keys.public_key.end());
            id.subject = encode_key(p.keys.public_key);
            id.authenticated = true;
            if (config_.validate_peer(id)) return make_error_code(Error::rejected_by_application);
        }
        p.latest_timestamp = consumed->timestamp;
        p.last_initiation_consumed = now;
        // Respond. Our own initiation in flight (if any) is abandoned: the peer's wins.
        // If packets wait for a session, the retransmission timer stays: after
        // simultaneous initiations neither response matches, and a later initiation
        // (REKEY_TIMEOUT) settles it, as in the kernel implementation.
        if (p.stage != Peer::Stage::none) forget_index(p.handshake.local_index);
        p.stage = Peer::Stage::none;
        if (p.staged.empty()) p.retransmit_at.reset();
        const std::uint32_t local = new_index(index);
        TransportKeys keys;
        auto response = create_response(p.keys, local, fresh_ephemeral(), hs, keys);
        if (!response) {
            forget_index(local);
            return response.error();
        }
        auto session = Session::import(SessionKeyMaterial{keys, false, local, hs.remote_index}, now);
        if (!session) {
            forget_index(local);
            return session.error();
        }
        forget_session(p.next);
        p.next = std::make_unique<Session>(std::move(*session));
        roam(p, from);
        Bytes wire = serialize(*response);
        p.cookies.add_macs(wire, Response::mac1_offset, Response::mac2_offset, now);
        authenticated_received(p, now);
        arm(p, p.zero_keys_at, now + config_.timers.zero_keys_after());
        transmit(p, wire, now);
        return {};
    }

    std::error_code on_response(ByteView d, const Endpoint& from, Instant now) {
        auto msg = parse_response(d);
        if (!msg) return make_error_code(Error::malformed_message);
        if (auto ec = check_macs(d, Response::mac1_offset, Response::mac2_offset, msg->sender_index, from, now)) return ec;
        auto it = indices_.find(msg->receiver_index);
        if (it == indices_.end()) return make_error_code(Error::unknown_receiver_index);
        const std::size_t index = it->second;
        Peer& p = peers_[index];
        if (p.stage != Peer::Stage::initiation_sent || p.handshake.local_index != msg->receiver_index)
            return make_error_code(Error::unexpected_response);
        TransportKeys keys;
        if (auto ec = consume_response(*identity_, p.keys, *msg, p.handshake, keys)) return ec;
        if (config_.validate_peer) {
            PeerIdentity id;
            id.raw_public_key.assign(p.keys.public_key.begin(), p.keys.public_key.end());
            id.subject = encode_key(p.keys.public_key);
            id.authenticated = true;
            if (config_.validate_peer(id)) return make_error_code(Error::rejected_by_application);
        }
        auto session = Session::import(SessionKeyMaterial{keys, true, p.handshake.local_index, msg->sender_index}, now);
        if (!session) return session.error();
        p.stage = Peer::Stage::none;
        p.handshake.ephemeral.reset();
        p.retransmit_at.reset();
        p.attempt_started.reset();
        forget_session(p.next);
        forget_session(p.previous);
        p.previous = std::move(p.current);
        p.current = std::make_unique<Session>(std::move(*session));
        roam(p, from);
        authenticated_received(p, now);
        handshake_completed(index, now);
        // Confirm the session to the responder: queued packets, or a keepalive.
        if (p.staged.empty()) send_to_peer(index, {}, now);
        flush_staged(index, now);
        return {};
    }

    std::error_code on_cookie_reply(ByteView d, Instant now) {
        auto msg = parse_cookie_reply(d);
        if (!msg) return make_error_code(Error::malformed_message);
        auto it = indices_.find(msg->receiver_index);
        if (it == indices_.end()) return make_error_code(Error::unknown_receiver_index);
        Peer& p = peers_[it->second];
        if (auto ec = p.cookies.consume_reply(*msg, now)) return ec;
        ++p.stats.cookie_replies_received;
        // The next retransmission (REKEY_TIMEOUT) carries mac2, as the whitepaper says.
        return {};
    }

    std::error_code on_transport(ByteView d, const Endpoint& from, Instant now) {
        auto header = parse_transport_header(d);
        if (!header) return make_error_code(Error::malformed_message);
        auto it = indices_.find(header->receiver_index);
        if (it == indices_.end()) return make_error_code(Error::unknown_receiver_index);
        const std::size_t index = it->second;
        Peer& p = peers_[index];
        std::unique_ptr<Session>* slot = nullptr;
        for (auto* s : {&p.current, &p.previous, &p.next})
            if (*s && (*s)->local_index() == header->receiver_index) slot = s;
        if (!slot) return make_error_code(Error::unknown_receiver_index);
        // Decrypted straight into the queue slot handed to the application (its storage
        // is reused); a full queue still authenticates, into scratch, then drops.
        Bytes& plaintext = inbound_.target();
        plaintext.resize(d.size() - transport_min_size);
        auto opened = (*slot)->open(d, header->counter, MutableByteView(plaintext), now, config_.timers);
        if (!opened) return opened.error();
        plaintext.resize(*opened);
        // Authenticated: roaming and timers follow this packet.
        roam(p, from);
        authenticated_received(p, now);
        if (slot == &p.next) {
            // The initiator confirmed the session: it becomes current.
            forget_session(p.previous);
            p.previous = std::move(p.current);
            p.current = std::move(p.next);
            handshake_completed(index, now);
            flush_staged(index, now);
        }
        // Keep keys fresh on the receive side (initiator only, once per session).
        if (p.current && p.current->initiator() && now - p.current->created() >= config_.timers.rekey_on_receive_age() &&
            !p.rekey_requested_by_receive) {
            p.rekey_requested_by_receive = true;
            initiate(index, now, false);
        }
        p.stats.received_bytes += d.size();
        if (plaintext.empty()) return {};  // keepalive
        auto info = inspect_ip_packet(plaintext);
        if (!info) return make_error_code(Error::not_an_ip_packet);
        auto owner = routes_.lookup(info->source);
        if (!owner || *owner != index) return make_error_code(Error::disallowed_source_address);
        // Data received: answer with a keepalive if we send nothing for KEEPALIVE_TIMEOUT.
        if (!p.keepalive_at) arm(p, p.keepalive_at, now + config_.timers.keepalive_timeout);
        plaintext.resize(info->length);  // strip the padding
        if (!inbound_.commit()) ++queue_overflows_;
        return {};
    }

    void roam(Peer& p, const Endpoint& from) {
        if (!from.valid()) return;
        if (p.endpoint && *p.endpoint == from) return;
        const bool changed = p.endpoint.has_value();
        p.endpoint = from;
        if (changed) events_.push(EventKind::peer_address_changed);  // the endpoint: endpoint(peer)
    }

    void authenticated_received(Peer& p, Instant now) {
        p.new_handshake_at.reset();
        if (p.persistent_keepalive.count()) arm(p, p.persistent_at, now + p.persistent_keepalive);
    }

    void handshake_completed(std::size_t index, Instant now) {
        Peer& p = peers_[index];
        ++p.stats.handshakes_completed;
        p.stats.last_handshake = now;
        p.retransmit_at.reset();
        p.attempt_started.reset();
        arm(p, p.zero_keys_at, now + config_.timers.zero_keys_after());
        p.rekey_requested_by_receive = false;
        last_peer_ = index;
        events_.push(p.stats.handshakes_completed == 1 ? EventKind::handshake_complete : EventKind::key_updated);
    }

    void flush_staged(std::size_t index, Instant now) {
        Peer& p = peers_[index];
        while (p.current && !p.staged.empty()) {
            Bytes packet = std::move(p.staged.front());
            p.staged.pop_front();
            send_to_peer(index, packet, now);
        }
    }

    /// Seals `packet` (empty: a keepalive) for a peer, or stages it and starts a handshake.
    void send_to_peer(std::size_t index, ByteView packet, Instant now) {
        Peer& p = peers_[index];
        if (!p.current || !p.current->can_send(now, config_.timers)) {
            if (!packet.empty()) {
                if (p.staged.size() >= max_staged) p.staged.pop_front();  // bounded, like wireguard-go's queue
                p.staged.emplace_back(packet.begin(), packet.end());
            }
            initiate(index, now, false);
            return;
        }
        if (!p.endpoint) return;
        // Sealed straight into the transmit queue's slot (its buffer is reused).
        DatagramOutbox::Slot* slot = transmits_.reserve();
        if (!slot) return;
        slot->data.resize(Session::sealed_size(packet.size()));
        auto sealed = p.current->seal(packet, MutableByteView(slot->data), now, config_.timers, config_.interface.mtu.value_or(0));
        if (!sealed) return;
        slot->data.resize(*sealed);
        slot->to = *p.endpoint;
        transmits_.commit();
        transmitted(p, now);
        p.stats.sent_bytes += *sealed;
        if (!packet.empty() && !p.new_handshake_at)
            arm(p, p.new_handshake_at, now + config_.timers.keepalive_timeout + config_.timers.rekey_timeout);
        if (p.current->wants_rekey(now, config_.timers)) initiate(index, now, false);
    }

    Role role_;
    Config config_;
    std::error_code setup_error_;
    std::optional<StaticIdentity<Crypto>> identity_;
    std::optional<CookieChecker<Crypto>> checker_;
    std::vector<Peer> peers_;
    AllowedIps routes_;
    std::unordered_map<std::uint32_t, std::size_t> indices_;  // our sender index -> peer
    std::unordered_map<Key, std::size_t, KeyHash> by_key_;     // static public key -> peer
    std::vector<std::size_t> free_slots_;                      // slots of removed peers
    mutable std::vector<TimerEntry> timer_heap_;               // min-heap (std::greater); see arm()
    DatagramOutbox transmits_{queue_limit};
    static constexpr std::size_t max_staged = 128;  // inner packets waiting for a session, per peer
    PlaintextInbox inbound_{queue_limit};
    EventQueue events_;
    std::uint64_t queue_overflows_ = 0;
    std::array<std::uint64_t, error_count> drop_counts_{};
    std::uint64_t cookie_replies_sent_ = 0;
    std::deque<Instant> recent_handshakes_;
    struct RateBucket {
        double tokens;
        Instant last;
    };
    std::unordered_map<std::string, RateBucket> rate_buckets_;
    std::optional<Instant> load_until_;
    bool forced_load_ = false;
    std::optional<std::size_t> last_peer_;
    bool closed_ = false;
};

}  // namespace tapsec::wireguard
