// The tcpcrypt engine: TCP-ENO negotiation (through the stream-preamble carrier), the
// tcpcrypt key exchange (Init1/Init2) or a session resumption, then frames through the
// record layer it keys via the record's key interface. Sans-I/O, as every engine here.
//
// The sequence on the stream (active opener = client = role A):
//   A -> B  preamble SYN      ENO option: A's TEP suboptions (one with a resumption identifier)
//   B -> A  preamble SYN-ACK  ENO option: the TEP B chose (with B's identifier when resuming)
//   A -> B  preamble ACK      the empty ENO option RFC 8547 asks of A's first ACK
//   A -> B  Init1             (not when resuming)
//   B -> A  Init2
//   frames both ways
// When ENO fails the connection continues as plain TCP only if the configuration allows
// it, and says so (is_encrypted(), eno_failure(), session_info()).
#pragma once

#include <algorithm>
#include <cstring>
#include <optional>

#include "../core/bounded_queue.hpp"
#include "../core/config.hpp"
#include "../core/engine.hpp"
#include "../core/errors.hpp"
#include "../crypto/provider.hpp"
#include "../tcp_eno/option.hpp"
#include "../tcp_eno/preamble.hpp"
#include "config.hpp"
#include "errors.hpp"
#include "key_schedule.hpp"
#include "record.hpp"
#include "wire.hpp"

namespace tapsec::tcpcrypt {

template <class Record, class Crypto>
class Engine {
public:
    using Layer = typename Record::template layer<Crypto>;
    using Schedule = KeySchedule<Crypto>;
    enum class State { idle, wait_syn, wait_syn_ack, wait_ack, wait_init1, wait_init2, established, plain, failed };

    Engine(Role role, const Config& config) : role_(role), config_(config) {
        bool ok = !config_.teps.empty() && !config_.aeads.empty();
        for (auto t : config_.teps) ok = ok && find_tep(t);
        for (auto a : config_.aeads) ok = ok && aead_algorithm(a);
        if (!ok) failure_ = make_error_code(Error::invalid_configuration);
        state_ = role == Role::client ? State::idle : State::wait_syn;
    }

    // ---- the sans-I/O contract -----------------------------------------------------

    std::error_code start(Instant) {
        if (failure_) return failure_;
        if (role_ != Role::client || state_ != State::idle) return {};
        tcp_eno::Option syn;
        if (config_.application_aware) syn.global = tcp_eno::global_suboption(false, config_.application_aware);
        for (auto id : config_.teps) syn.teps.push_back({id, {}, false});
        offer_resumption(syn);
        local_contents_ = tcp_eno::encode_contents(syn);
        write_segment(tcp_eno::preamble::flag_syn, config_.enable_eno);
        state_ = State::wait_syn_ack;
        return {};
    }

    std::error_code receive(ByteView in, const Endpoint&, Instant) {
        if (failure_) return failure_;
        if (plain_taken_) {  // the application has the last plaintext: drop it and what was read
            inbox_.erase(inbox_.begin(), inbox_.begin() + static_cast<std::ptrdiff_t>(read_));
            read_ = plain_end_ = 0;
            plain_taken_ = false;
        }
        if (in.empty()) {  // end of stream: clean only between frames of a finished exchange
            const bool between = read_ == inbox_.size();
            if ((state_ == State::established || state_ == State::plain) && between) {
                peer_closed_ = true;
                events_.push(EventKind::peer_closed);
                return {};
            }
            return fail(make_error_code(Error::truncated_stream));
        }
        inbox_.insert(inbox_.end(), in.begin(), in.end());
        return process();
    }

    [[nodiscard]] std::error_code send(ByteView data, Instant) {
        if (failure_) return failure_;
        if (closed_locally_) return make_error_code(Errc::closed);  // nothing follows our FIN
        if (state_ != State::established && state_ != State::plain) return make_error_code(Error::not_established);
        send_queue_.insert(send_queue_.end(), data.begin(), data.end());
        return {};
    }

    /// Handshake bytes first, then frames of queued data (or the raw bytes on plain TCP).
    std::optional<TransmitInfo> poll_transmit(MutableByteView out) {
        if (outbox_sent_ < outbox_.size()) {
            const std::size_t n = std::min(out.size(), outbox_.size() - outbox_sent_);
            std::memcpy(out.data(), outbox_.data() + outbox_sent_, n);
            outbox_sent_ += n;
            if (outbox_sent_ == outbox_.size()) outbox_sent_ = 0, outbox_.clear();
            return TransmitInfo{n, std::nullopt};
        }
        const std::size_t queued = send_queue_.size() - send_sent_;
        if (state_ == State::established && (queued || rekey_pending_)) {
            const std::size_t n = std::min(queued, max_frame_payload);
            const bool rekey = std::exchange(rekey_pending_, false);
            auto size = record_.seal(ByteView(send_queue_.data() + send_sent_, n), rekey, out);
            if (!size) {
                fail(size.error());
                return std::nullopt;
            }
            if (rekey) events_.push(EventKind::key_updated);
            consume_send(n);
            return TransmitInfo{*size, std::nullopt};
        }
        if (state_ == State::plain && queued) {
            const std::size_t n = std::min(queued, out.size());
            std::memcpy(out.data(), send_queue_.data() + send_sent_, n);
            consume_send(n);
            return TransmitInfo{n, std::nullopt};
        }
        return std::nullopt;
    }

    /// The plaintext received so far, as a view valid until the next call on the engine.
    std::optional<ByteView> poll_plaintext() {
        if (plain_taken_ || plain_end_ == 0) return std::nullopt;
        plain_taken_ = true;
        return ByteView(inbox_.data(), plain_end_);
    }

    std::optional<Transmit> poll_transmit() {
        Bytes buffer(max_transmit_size);
        auto info = poll_transmit(MutableByteView(buffer));
        if (!info) return std::nullopt;
        buffer.resize(info->size);
        return Transmit{std::move(buffer), std::nullopt};
    }
    std::optional<Bytes> poll_application_data() {
        auto view = poll_plaintext();
        if (!view) return std::nullopt;
        return Bytes(view->begin(), view->end());
    }
    std::optional<Event> poll_event() { return events_.pop(); }
    std::optional<Instant> next_timeout() { return std::nullopt; }  // TCP retransmits, not us
    std::error_code on_timeout(Instant) { return {}; }
    /// tcpcrypt has no close message (RFC 8548 leaves FIN to TCP): closing is the
    /// transport's half-close.
    /// Data sent after it is refused: it would follow the FIN, and never arrive.
    std::error_code close(Instant) {
        closed_locally_ = true;
        return {};
    }

    /// Key update (RFC 8548 4.5): the next frame carries the rekey bit and the frames
    /// after it use the next generation. The peer answers with its own rekey when its
    /// sending direction falls behind ours (so `request_peer_update` always holds).
    std::error_code update_keys(bool /*request_peer_update*/, Instant) {
        if (failure_) return failure_;
        if (state_ != State::established) return make_error_code(Error::not_established);
        rekey_pending_ = true;
        return {};
    }

    bool is_established() const { return state_ == State::established || state_ == State::plain; }
    bool is_closed() const { return peer_closed_; }

    SessionInfo session_info() const {
        SessionInfo info;
        if (state_ == State::plain) {
            info.protocol = std::string("plain TCP, NOT encrypted (TCP-ENO not negotiated: ") + eno_failure_.message() + ")";
            return info;
        }
        info.protocol = resumed_ ? "tcpcrypt (RFC 8548, resumed session) over TCP-ENO" : "tcpcrypt (RFC 8548) over TCP-ENO";
        info.cipher_suite = std::string(aead_name(aead_));
        if (auto* t = find_tep(tep_)) info.group = std::string(t->name);
        info.resumed = resumed_;
        info.peer.subject = session_id_.empty() ? std::string() : "tcpcrypt session ID " + to_hex(session_id_);
        return info;
    }

    // ---- what tcpcrypt exports to the application ----------------------------------

    /// The session ID (RFC 8547 4.9 / RFC 8548 3.4): the negotiated TEP identifier byte
    /// then SID. Applications authenticate it (survey 4.6: authentication delegation).
    const Bytes& session_id() const noexcept { return session_id_; }
    bool is_encrypted() const noexcept { return state_ == State::established; }
    /// Why ENO did not negotiate (empty when it did).
    std::error_code eno_failure() const noexcept { return eno_failure_; }
    const tcp_eno::Outcome& eno_outcome() const noexcept { return outcome_; }
    bool resumed() const noexcept { return resumed_; }
    State state() const noexcept { return state_; }
    const Layer& record() const noexcept { return record_; }

private:
    std::error_code fail(std::error_code ec) {
        if (!failure_) failure_ = ec;
        state_ = State::failed;
        return failure_;
    }

    void write_segment(std::uint8_t flags, bool with_option) {
        const Bytes option = with_option ? tcp_eno::encode_option(local_contents_) : Bytes{};
        tcp_eno::preamble::write(outbox_, flags, option);
    }
    void queue(ByteView bytes) { outbox_.insert(outbox_.end(), bytes.begin(), bytes.end()); }
    void consume_send(std::size_t n) {
        send_sent_ += n;
        if (send_sent_ == send_queue_.size()) send_sent_ = 0, send_queue_.clear();
    }
    ByteView unread() const { return ByteView(inbox_.data() + read_, inbox_.size() - read_); }

    // ---- session cache (resumption) --------------------------------------------------

    struct CachedSession {
        std::uint8_t tep = 0, aead = 0;
        SecretBytes secret;  // ss[i]
    };
    std::string peer_key() const {
        const std::string& peer = config_.resumption_peer.empty() ? config_.server_name : config_.resumption_peer;
        return peer.empty() ? std::string() : "tcpcrypt-peer:" + peer;
    }
    static std::string resume_key(ByteView id_a) { return "tcpcrypt-resume:" + to_hex(id_a); }
    std::optional<CachedSession> load(const std::string& key) const {
        if (!config_.resumption || !config_.session_cache || key.empty()) return std::nullopt;
        auto bytes = config_.session_cache->load(key);
        if (!bytes || bytes->size() != 2 + k_len) return std::nullopt;
        CachedSession s{(*bytes)[0], (*bytes)[1], SecretBytes(bytes->begin() + 2, bytes->end())};
        secure_zero(bytes->data(), bytes->size());
        return s;
    }
    void store(const std::string& key, ByteView secret) {
        if (!config_.resumption || !config_.session_cache || key.empty()) return;
        Bytes value{tep_, aead_};
        value.insert(value.end(), secret.begin(), secret.end());
        config_.session_cache->store(key, value);
        secure_zero(value.data(), value.size());
    }

    /// Role A: a cached session with this peer goes into its TEP's suboption as role A's
    /// resumption identifier.
    void offer_resumption(tcp_eno::Option& syn) {
        auto cached = load(peer_key());
        if (!cached) return;
        for (auto& t : syn.teps) {
            if (t.id != cached->tep) continue;
            const auto ids = Schedule::resume_ids(cached->secret);
            t.has_data = true;
            t.data.assign(ids.first.begin(), ids.first.end());
            offered_ = std::move(cached);
            expected_b_id_ = ids.second;
            // Role B checks the last TEP first: the one to resume goes last.
            std::rotate(syn.teps.begin(), syn.teps.begin() + (&t - syn.teps.data()) + 1, syn.teps.end());
            return;
        }
    }

    // ---- the state machine -------------------------------------------------------------

    std::error_code process() {
        for (;;) {
            switch (state_) {
                case State::idle:
                case State::failed: return failure_;
                case State::wait_syn:
                case State::wait_syn_ack:
                case State::wait_ack: {
                    auto peeked = tcp_eno::preamble::peek(unread());
                    if (!peeked) return fail(peeked.error());
                    if (peeked->kind == tcp_eno::preamble::Peek::need_more) return {};
                    if (peeked->kind == tcp_eno::preamble::Peek::not_preamble) {
                        // The peer wrote application bytes, not an option segment: it speaks
                        // no ENO (or, for B, A's first ACK lacks the option).
                        if (auto ec = eno_failed(state_ == State::wait_ack ? tcp_eno::Error::missing_ack_option
                                                                           : tcp_eno::Error::no_common_tep))
                            return ec;
                        continue;
                    }
                    auto segment = tcp_eno::preamble::parse(unread().first(peeked->size));
                    if (!segment) return fail(segment.error());
                    read_ += peeked->size;
                    std::error_code ec;
                    if (state_ == State::wait_syn) ec = on_syn(*segment);
                    else if (state_ == State::wait_syn_ack) ec = on_syn_ack(*segment);
                    else ec = on_ack(*segment);
                    if (ec) return ec;
                    continue;
                }
                case State::wait_init1:
                case State::wait_init2: {
                    const bool b = state_ == State::wait_init1;
                    auto size = init_message_size(unread(), b ? init1_magic : init2_magic);
                    if (!size) return fail(size.error());
                    if (!*size || unread().size() < **size) return {};
                    const ByteView message = unread().first(**size);
                    auto ec = b ? on_init1(message) : on_init2(message);
                    if (ec) return ec;
                    read_ += **size;
                    continue;
                }
                case State::established: {
                    auto size = frame_size(unread());
                    if (!size) return fail(size.error());
                    if (!*size || unread().size() < **size) return {};
                    auto opened = record_.open(MutableByteView(inbox_.data() + read_, **size));
                    if (!opened) return fail(opened.error());
                    if (!opened->data.empty()) std::memmove(inbox_.data() + plain_end_, opened->data.data(), opened->data.size());
                    plain_end_ += opened->data.size();
                    read_ += **size;
                    if (opened->rekey()) {
                        events_.push(EventKind::key_updated);
                        if (record_.send_generation() < record_.receive_generation()) rekey_pending_ = true;
                    }
                    continue;
                }
                case State::plain: {
                    const std::size_t n = inbox_.size() - read_;
                    if (n) std::memmove(inbox_.data() + plain_end_, inbox_.data() + read_, n);
                    plain_end_ += n;
                    inbox_.resize(plain_end_);
                    read_ = plain_end_;
                    return {};
                }
            }
        }
    }

    /// ENO did not negotiate: plain TCP if allowed (and said), else the handshake fails.
    std::error_code eno_failed(std::error_code why) {
        eno_failure_ = why;
        outcome_.encrypted = false;
        outcome_.failure = why;
        if (!config_.allow_plain_fallback) return fail(make_error_code(Error::eno_not_negotiated));
        state_ = State::plain;
        return {};
    }
    std::error_code eno_failed(tcp_eno::Error why) { return eno_failed(make_error_code(why)); }

    std::optional<Bytes> eno_contents(const tcp_eno::preamble::Segment& segment) {
        auto contents = tcp_eno::find_in_option_area(segment.option_area);
        if (!contents) return std::nullopt;  // a malformed option disables ENO (RFC 8547 4.3)
        return *contents;
    }

    // Role B
    std::error_code on_syn(const tcp_eno::preamble::Segment& segment) {
        if (segment.flags != tcp_eno::preamble::flag_syn) return fail(make_error_code(tcp_eno::Error::malformed_preamble));
        auto contents = eno_contents(segment);
        std::optional<tcp_eno::Option> peer;
        if (contents) {
            if (auto p = tcp_eno::parse_contents(*contents)) peer = std::move(*p);
        }
        std::optional<std::uint8_t> chosen;
        tcp_eno::TepSuboption reply;
        if (config_.enable_eno && peer) {
            // Resumption first: a TEP carrying an identifier whose session this host cached.
            for (auto it = peer->teps.rbegin(); it != peer->teps.rend() && !chosen; ++it) {
                if (!it->has_data || it->data.size() != resume_id_size) continue;
                const std::string key = resume_key(it->data);
                auto cached = load(key);
                if (!cached || cached->tep != it->id || !allowed_tep(it->id)) continue;
                config_.session_cache->remove(key);  // one use per session secret (RFC 8548 3.5)
                const auto ids = Schedule::resume_ids(cached->secret);
                if (!constant_time_equal(ids.first, it->data)) continue;
                chosen = it->id;
                reply = {it->id, Bytes(ids.second.begin(), ids.second.end()), true};
                offered_ = std::move(cached);
            }
            for (auto id : config_.teps) {
                if (chosen) break;
                if (peer->find(id)) {
                    chosen = id;
                    reply = {id, {}, false};
                }
            }
        }
        if (!chosen) {
            local_contents_.clear();
            write_segment(tcp_eno::preamble::flag_syn_ack, false);
            return eno_failed(contents && !peer ? tcp_eno::Error::malformed_option : tcp_eno::Error::no_common_tep);
        }
        tcp_eno::Option syn_ack;
        if (config_.application_aware) syn_ack.global = tcp_eno::global_suboption(true, config_.application_aware);
        syn_ack.teps.push_back(reply);
        local_contents_ = tcp_eno::encode_contents(syn_ack);
        write_segment(tcp_eno::preamble::flag_syn_ack, true);
        outcome_ = tcp_eno::negotiate(local_contents_, *contents, false);
        if (!outcome_.encrypted) return eno_failed(outcome_.failure);
        tep_ = outcome_.tep;
        state_ = State::wait_ack;
        return {};
    }

    std::error_code on_ack(const tcp_eno::preamble::Segment& segment) {
        if (segment.flags != tcp_eno::preamble::flag_ack) return fail(make_error_code(tcp_eno::Error::malformed_preamble));
        auto contents = tcp_eno::find_in_option_area(segment.option_area);
        if (!contents || !*contents) return eno_failed(tcp_eno::Error::missing_ack_option);
        if (offered_) {  // resumed: keys come straight from the cached session secret
            resumed_ = true;
            aead_ = offered_->aead;
            return establish(offered_->secret);
        }
        state_ = State::wait_init1;
        return {};
    }

    // Role A
    std::error_code on_syn_ack(const tcp_eno::preamble::Segment& segment) {
        if (segment.flags != tcp_eno::preamble::flag_syn_ack) return fail(make_error_code(tcp_eno::Error::malformed_preamble));
        auto contents = config_.enable_eno ? eno_contents(segment) : std::optional<Bytes>{};
        if (!contents) return eno_failed(tcp_eno::Error::no_common_tep);  // B's SYN-ACK has no ENO: B knows it failed
        outcome_ = tcp_eno::negotiate(local_contents_, *contents, true);
        if (!outcome_.encrypted) {
            write_segment(tcp_eno::preamble::flag_ack, false);  // no option: B learns ENO failed
            return eno_failed(outcome_.failure);
        }
        if (!allowed_tep(outcome_.tep)) return fail(make_error_code(Error::unsupported_tep));
        tep_ = outcome_.tep;
        // The ACK's ENO option: empty contents (RFC 8547 asks for an ENO option on A's first ACK).
        const Bytes empty_option = tcp_eno::encode_option({});
        tcp_eno::preamble::write(outbox_, tcp_eno::preamble::flag_ack, empty_option);
        if (outcome_.peer_tep.has_data) {
            if (!offered_ || !outcome_.local_tep.has_data) return fail(make_error_code(Error::unexpected_resumption));
            if (!constant_time_equal(outcome_.peer_tep.data, expected_b_id_))
                return fail(make_error_code(Error::bad_resumption_identifier));
            resumed_ = true;
            aead_ = offered_->aead;
            return establish(offered_->secret);
        }
        if (offered_) {  // B did not know the session: it is gone, a full exchange follows
            if (config_.session_cache) config_.session_cache->remove(peer_key());
            offered_.reset();
        }
        return send_init1();
    }

    bool allowed_tep(std::uint8_t id) const {
        return find_tep(id) && std::find(config_.teps.begin(), config_.teps.end(), id) != config_.teps.end();
    }

    std::error_code new_key_share() {
        const Tep* t = find_tep(tep_);
        for (int attempt = 0; attempt < 4; ++attempt) {
            SecretBytes scalar(32);  // an X25519 scalar, or a P-256 scalar (retried if >= n)
            draw_random<Crypto>(config_, scalar);
            auto share = Crypto::KeyShare::from_private(t->group, scalar);
            if (share) {
                share_.emplace(std::move(*share));
                return {};
            }
        }
        return fail(make_error_code(Errc::internal_error));
    }

    std::error_code send_init1() {
        if (auto ec = new_key_share()) return ec;
        Init1 m;
        m.sym_ciphers = config_.aeads;
        draw_random<Crypto>(config_, m.nonce);
        m.public_key = share_->public_key();
        m.ignored = config_.init_padding;
        n_a_.assign(m.nonce.begin(), m.nonce.end());
        init1_ = encode(m);
        queue(init1_);
        state_ = State::wait_init2;
        return {};
    }

    std::error_code on_init1(ByteView message) {
        auto m = parse_init1(message, find_tep(tep_)->public_key_size);
        if (!m) return fail(m.error());
        std::optional<std::uint8_t> chosen;
        for (auto a : m->sym_ciphers)
            if (!chosen && aead_algorithm(a) && std::find(config_.aeads.begin(), config_.aeads.end(), a) != config_.aeads.end())
                chosen = a;
        if (!chosen) return fail(make_error_code(Error::no_common_aead));
        if (auto ec = new_key_share()) return ec;
        auto es = share_->agree(m->public_key);
        if (!es) return fail(make_error_code(Error::bad_public_key));
        Init2 reply;
        reply.sym_cipher = *chosen;
        draw_random<Crypto>(config_, reply.nonce);
        reply.public_key = share_->public_key();
        reply.ignored = config_.init_padding;
        const Bytes init2 = encode(reply);
        queue(init2);
        aead_ = *chosen;
        const auto prk = Schedule::prk(m->nonce, outcome_.transcript, message, init2, *es);
        share_.reset();
        return establish(prk);
    }

    std::error_code on_init2(ByteView message) {
        auto m = parse_init2(message, find_tep(tep_)->public_key_size);
        if (!m) return fail(m.error());
        if (std::find(config_.aeads.begin(), config_.aeads.end(), m->sym_cipher) == config_.aeads.end())
            return fail(make_error_code(Error::aead_not_offered));
        auto es = share_->agree(m->public_key);
        if (!es) return fail(make_error_code(Error::bad_public_key));
        aead_ = m->sym_cipher;
        const auto prk = Schedule::prk(n_a_, outcome_.transcript, init1_, message, *es);
        share_.reset();
        return establish(prk);
    }

    /// Keys the record from session secret ss (ss[0] = PRK, or a cached ss[i]), exports
    /// the session ID, and caches ss[i+1] for the next resumption.
    std::error_code establish(ByteView ss) {
        session_id_.assign(1, tep_);
        const Bytes sid = Schedule::session_id(ss);
        append(session_id_, sid);
        TrafficKeys keys{aead_, Schedule::first_master_key(ss), outcome_.role_a};
        if (auto ec = record_.import(keys)) return fail(ec);
        const SecretBytes next = Schedule::next_session_secret(ss);
        const auto ids = Schedule::resume_ids(next);
        if (outcome_.role_a) store(peer_key(), next);
        else store(resume_key(ids.first), next);
        offered_.reset();
        if (config_.validate_peer) {  // authentication delegation: the application judges the session ID
            PeerIdentity identity;
            identity.subject = "tcpcrypt session ID " + to_hex(session_id_);
            if (auto ec = config_.validate_peer(identity)) return fail(make_error_code(Errc::peer_rejected_by_application));
        }
        state_ = State::established;
        events_.push(EventKind::handshake_complete);
        if (resumed_) events_.push(EventKind::session_ticket);
        return {};
    }

    Role role_;
    Config config_;
    State state_;
    std::error_code failure_, eno_failure_;
    Layer record_;
    EventQueue events_;
    tcp_eno::Outcome outcome_;
    Bytes local_contents_;  // the ENO option contents this host sent in its SYN / SYN-ACK
    std::uint8_t tep_ = 0, aead_ = 0;
    std::optional<typename Crypto::KeyShare> share_;
    Bytes n_a_, init1_;
    std::optional<CachedSession> offered_;  // A: the session offered for resumption; B: the one accepted
    ResumeId expected_b_id_{};
    bool resumed_ = false;
    Bytes session_id_;
    // stream in: [0, plain_end_) plaintext for the application, [read_, end) not yet read
    Bytes inbox_;
    std::size_t read_ = 0, plain_end_ = 0;
    bool plain_taken_ = false, peer_closed_ = false;
    // stream out
    Bytes outbox_, send_queue_;
    std::size_t outbox_sent_ = 0, send_sent_ = 0;
    bool rekey_pending_ = false;
    bool closed_locally_ = false;  // close() was called
};

}  // namespace tapsec::tcpcrypt
