// The TLS 1.3 SansIoEngine: the client or server handshake joined to the record layer
// of the `Record` policy (`Record::layer<Crypto>`, e.g. AeadRecord's RecordLayer). Bytes
// in, records out; the handshake hands over one traffic secret per (level, direction)
// and the engine passes it to the layer's install_key: the engine reaches the layer
// only through tls13::TlsRecordLayer (record.hpp), so another record policy with that
// key interface is keyed by the same handshake code.
//
// Alerts: every local failure sends the alert tls13::alert_for names, every fatal alert
// received becomes a distinct "tls13-peer-alert" error, and an end of stream without
// close_notify is Errc::truncated. A close_notify received is answered with our own
// before our write side closes (6.1), so both ends see a clean close: at once, or, with
// Config::answer_close_notify off, when the application calls close() (half-close).
//
// Data path without allocation once warmed up: records are sealed into one reused
// buffer and copied out by poll_transmit(out); received application data is handed out
// by poll_plaintext() as a view into the record layer's buffer, where it was decrypted.
// The owning poll_transmit() / poll_application_data() remain for Secure<>.
#pragma once

#include <algorithm>
#include <cstring>
#include <deque>
#include <memory>
#include <type_traits>
#include <variant>
#include <vector>

#include "../core/engine.hpp"
#include "../crypto/botan.hpp"  // the default provider
#include "client.hpp"
#include "record.hpp"
#include "server.hpp"

namespace tapsec::tls13 {

template <class Record, class Crypto>
class Engine {
public:
    using Layer = typename Record::template layer<Crypto>;
    static_assert(std::is_same_v<typename Record::imported_keys, TrafficSecrets>,
                  "tapsec: tls13::Engine: the record policy does not import TLS 1.3 traffic secrets");
    static_assert(TlsRecordLayer<Layer>,
                  "tapsec: tls13::Engine: Record::layer<Crypto> does not meet tls13::TlsRecordLayer "
                  "(install_key, write, feed/next, record size limits, take_key_expiring)");

    /// Secure<> hands this engine its shared configuration by pointer (core/secure.hpp).
    static constexpr bool shares_config = true;

    Engine(Role role, const Config& config) : Engine(role, std::make_shared<const Config>(config)) {}
    /// Keeps `config` by pointer: a server's connections share one (it is never changed).
    /// (A template, so that `Engine(role, {})` still means a default Config.)
    template <class Shared>
        requires std::same_as<Shared, std::shared_ptr<const Config>>
    Engine(Role role, Shared config)
        : role_(role),
          config_(std::move(config)),
          records_(layer_options(*config_)),
          messages_(config_->max_handshake_message_size) {
        // Only a client's initial ClientHello may carry legacy_record_version 0x0301 (5.1).
        first_record_ = role == Role::client;
        // Only the role's own state machine is allocated (a server never pays for a client's).
        if (role == Role::client) client_ = std::make_unique<ClientHandshake<Crypto>>(*config_);
        else server_ = std::make_unique<ServerHandshake<Crypto>>(*config_);
    }
    Engine(Engine&&) = default;

    std::error_code start(Instant) {
        if (started_) return {};
        started_ = true;
        std::error_code ec;
        if (auto* c = client()) ec = c->start(std::move(early_data_));
        else ec = server()->start();
        if (ec) return fail(ec, false);
        return run_actions();
    }

    std::error_code receive(ByteView in, const Endpoint&, Instant now) {
        reclaim_lent_plaintext();
        if (failed_) return failed_;
        if (!started_ && role_ == Role::server)
            if (auto ec = start(now)) return ec;
        if (in.empty()) {  // end of stream
            if (peer_closed_) return {};
            eof_ = true;
            return failed_ = make_error_code(Errc::truncated);
        }
        if (peer_closed_) return {};  // nothing is read after close_notify
        // feed() moves the layer's buffer: plaintext not yet polled is copied out first.
        carry_unpolled_plaintext();
        if (auto ec = records_.feed(in)) return fail(ec);
        for (;;) {
            auto next = records_.next();
            if (!next) {
                if (next.error() == make_error_code(Error::bad_record_mac) && skip_rejected_early()) continue;
                if (next.error() == make_error_code(Error::unexpected_record) && server() &&
                    server()->skipping_after_retry())
                    continue;  // 0-RTT records behind a first ClientHello we retried
                return fail(next.error());
            }
            if (!*next) break;
            // 4.2.10: once a record opens under the handshake key, the client's 0-RTT is
            // over; a record failing after that is an attack or a fault, not early data.
            if ((*next)->protected_record) rejected_early_over_ = true;
            if (auto ec = on_record(**next)) return fail(ec);
            if (peer_closed_) break;
        }
        release_handshake_input();
        return {};
    }

    /// Everything queued for the wire, as bytes the caller takes over.
    std::optional<Transmit> poll_transmit() {
        if (out_sent_ == out_.size()) return std::nullopt;
        Transmit t;
        if (out_sent_ == 0) t.data = std::move(out_);
        else t.data.assign(out_.begin() + static_cast<std::ptrdiff_t>(out_sent_), out_.end());
        out_.clear();
        out_sent_ = 0;
        return t;
    }
    /// The next run of queued wire bytes, copied into the caller's buffer (up to its
    /// size; the rest comes with the next call). The engine's own buffer keeps its
    /// capacity, so steady-state sending allocates nothing.
    std::optional<TransmitInfo> poll_transmit(MutableByteView out) {
        const std::size_t n = std::min(out.size(), out_.size() - out_sent_);
        if (n == 0) return std::nullopt;
        std::memcpy(out.data(), out_.data() + out_sent_, n);
        out_sent_ += n;
        if (out_sent_ == out_.size()) {
            out_.clear();
            out_sent_ = 0;
            // The handshake's flights (certificate chain ...) grew it: free that once,
            // when the last of them has left; data records warm it up again.
            if (!output_released_ && common().established()) {
                output_released_ = true;
                Bytes().swap(out_);
            }
        }
        return TransmitInfo{n, std::nullopt};
    }
    /// The next record's application data as a view, valid until the next call on the
    /// engine: decrypted in place in the record layer's buffer, not copied.
    std::optional<ByteView> poll_plaintext() {
        reclaim_lent_plaintext();
        if (carried_next_ < carried_sizes_.size()) {
            const ByteView view(carried_.data() + carried_offset_, carried_sizes_[carried_next_++]);
            carried_offset_ += view.size();
            return view;
        }
        if (fresh_next_ < fresh_.size()) return fresh_[fresh_next_++];
        if (close_answer_due_) {  // the peer's close_notify, after the data now all taken
            close_answer_due_ = false;
            if (!closed_locally_ && !failed_) {
                closed_locally_ = true;
                send_alert(AlertDescription::close_notify);
            }
        }
        return std::nullopt;
    }
    /// The next record's application data, copied (for callers that keep it).
    std::optional<Bytes> poll_application_data() {
        auto view = poll_plaintext();
        if (!view) return std::nullopt;
        return Bytes(view->begin(), view->end());
    }
    std::optional<Event> poll_event() {
        if (next_event_ == events_.size()) {
            std::vector<Event>().swap(events_);  // events are rare: an idle connection holds none
            next_event_ = 0;
            return std::nullopt;
        }
        return std::move(events_[next_event_++]);
    }

    [[nodiscard]] std::error_code send(ByteView data, Instant) {
        if (failed_) return failed_;
        if (closed_locally_) return Errc::closed;
        if (!is_established()) return Errc::not_connected;
        if (auto ec = records_.write(ContentType::application_data, data, out_, legacy_record_version)) return fail(ec);
        return maybe_rotate_keys();
    }

    std::optional<Instant> next_timeout() const { return std::nullopt; }
    std::error_code on_timeout(Instant) { return {}; }

    std::error_code close(Instant) {
        if (closed_locally_ || failed_) return {};
        closed_locally_ = true;
        send_alert(AlertDescription::close_notify);
        return {};
    }

    bool is_established() const { return !failed_ && common().established(); }
    bool is_closed() const { return peer_closed_ && !plaintext_pending(); }
    SessionInfo session_info() const { return common().info(); }

    // ---- optional members Secure<> exposes -----------------------------------------------

    std::error_code update_keys(bool request_peer_update, Instant) {
        if (failed_) return failed_;
        std::error_code ec = client() ? client()->update_keys(request_peer_update)
                                      : server()->update_keys(request_peer_update);
        if (ec) return ec;
        return run_actions();
    }

    Result<SecretBytes> export_keying_material(std::string_view label, ByteView context, std::size_t length) const {
        return common().export_keying_material(label, context, length);
    }

    /// Client: data to send as 0-RTT with the first flight, as far as a stored session's
    /// ticket allows (max_early_data_size); the rest, or all of it when there is no such
    /// session or the server refuses it, is sent right after the handshake. Either way an
    /// early_data_accepted / early_data_rejected event says which (its reason: partly
    /// sent, refused by the server, after a HelloRetryRequest, no session, ticket forbids).
    [[nodiscard]] std::error_code send_early_data(ByteView data, Instant) {
        if (role_ != Role::client || started_) return Errc::already_connected;
        append(early_data_, data);
        return {};
    }

    /// The record layer, for tests that tamper with or inspect it.
    Layer& record_layer() { return records_; }
    const Layer& record_layer() const { return records_; }

private:
    static typename Layer::Options layer_options(const Config& config) {
        typename Layer::Options options;
        options.padding = config.padding;
        options.limits = KeyUsageLimits{config.key_update_after_records, config.key_update_after_bytes, 64};
        return options;
    }

    /// Once, when the handshake is over and no plaintext view into the record layer is
    /// lent: the handshake's input buffers (ClientHello and the rest) are freed.
    void release_handshake_input() {
        if (input_released_ || !common().established() || plaintext_pending() || !messages_.empty()) return;
        input_released_ = true;
        messages_.release_if_empty();
        if constexpr (requires(Layer& l) { l.release_input_buffer(); }) records_.release_input_buffer();
    }

    bool plaintext_pending() const noexcept {
        return carried_next_ < carried_sizes_.size() || fresh_next_ < fresh_.size();
    }
    /// A view handed out by the previous call is no longer in use: drop what was
    /// delivered (clear() keeps the capacity).
    void reclaim_lent_plaintext() noexcept {
        if (carried_next_ == carried_sizes_.size() && !carried_sizes_.empty()) {
            carried_.clear();
            carried_sizes_.clear();
            carried_next_ = carried_offset_ = 0;
        }
        if (fresh_next_ == fresh_.size() && !fresh_.empty()) {
            fresh_.clear();
            fresh_next_ = 0;
        }
    }
    /// Before the layer's buffer moves (feed), plaintext the application has not polled
    /// yet is copied into a buffer of the engine's own, in order. Only a caller that
    /// feeds again without polling pays this copy.
    void carry_unpolled_plaintext() {
        for (; fresh_next_ < fresh_.size(); ++fresh_next_) {
            append(carried_, fresh_[fresh_next_]);
            carried_sizes_.push_back(fresh_[fresh_next_].size());
        }
        fresh_.clear();
        fresh_next_ = 0;
    }

    ClientHandshake<Crypto>* client() { return client_.get(); }
    ServerHandshake<Crypto>* server() { return server_.get(); }
    const HandshakeCommon<Crypto>& common() const {
        if (client_) return *client_;
        return *server_;
    }

    /// 0-RTT refused by the server (4.2.10): records it cannot open are skipped, up to
    /// max_early_data bytes.
    /// A server that rejected 0-RTT skips the records it cannot open, up to
    /// max_early_data_size bytes (4.2.10). Each record counts its protected length less
    /// the tag and content type: an upper bound on the early data it held. A layer that
    /// cannot tell a refused record's size has each count as a full record.
    bool skip_rejected_early() {
        auto* s = server();
        if (!s || !s->skipping_rejected_early_data() || rejected_early_over_) return false;
        std::size_t size = max_ciphertext_length;
        if constexpr (requires(const Layer& l) { { l.last_rejected_record_size() } -> std::convertible_to<std::size_t>; })
            size = records_.last_rejected_record_size();
        constexpr std::size_t tag_and_type = 16 + 1;  // every TLS 1.3 suite's tag, the inner content type
        skipped_early_bytes_ += size > tag_and_type ? size - tag_and_type : 0;
        return skipped_early_bytes_ <= s->max_early_data();
    }

    std::error_code on_record(const Plaintext& record) {
        // 5.1: once a handshake message has begun, only handshake records may follow
        // until it is complete (no data, alert or CCS between its fragments).
        if (record.type != ContentType::handshake && !messages_.empty()) return Error::interleaved_record;
        switch (record.type) {
            case ContentType::change_cipher_spec:
                // Middlebox compatibility: ignored while the handshake runs, never after.
                if (common().established()) return Error::unexpected_record;
                return {};
            case ContentType::alert: {
                auto alert = parse_alert(record.data);
                if (!alert) return alert.error();
                trace_alert(TraceRecord::Direction::received, record.data);
                if (alert->description == AlertDescription::close_notify) {
                    peer_closed_ = true;
                    events_.push_back({EventKind::peer_closed, {}});
                    // 6.1: each party sends close_notify before closing its write side;
                    // answering here lets the peer, too, see a clean close. Data that came
                    // before the close is taken first, so the application can still answer
                    // it (a half-closed peer reads on): then poll_plaintext() sends the answer.
                    if (!closed_locally_ && config_->answer_close_notify) {
                        if (plaintext_pending()) {
                            close_answer_due_ = true;
                        } else {
                            closed_locally_ = true;
                            send_alert(AlertDescription::close_notify);
                        }
                    }
                    return {};
                }
                if (alert->description == AlertDescription::user_canceled) return {};
                peer_alert_ = true;
                return peer_alert_error(alert->description);
            }
            case ContentType::handshake: {
                messages_.add(record.data);
                for (;;) {
                    auto m = messages_.next();
                    if (!m) return m.error();
                    if (!*m) break;
                    note_handshake_message(TraceRecord::Direction::received, (*m)->bytes);
                    std::error_code ec = client() ? client()->handle(**m) : server()->handle(**m);
                    if (ec) return ec;
                    if (auto run = run_actions()) return run;
                }
                return {};
            }
            case ContentType::application_data: {
                auto* s = server();
                const bool early = s && s->receiving_early_data();
                if (!common().established() && !early) return Error::unexpected_record;
                if (early) {
                    early_received_ += record.data.size();
                    if (early_received_ > s->max_early_data()) return Error::early_data_too_large;
                }
                if (!record.data.empty()) fresh_.push_back(record.data);
                return {};
            }
            default: return Error::unknown_content_type;
        }
    }

    /// Carries out what the handshake asked for, in order.
    std::error_code run_actions() {
        auto* c = client();
        HandshakeCommon<Crypto>& hs = c ? static_cast<HandshakeCommon<Crypto>&>(*c)
                                        : static_cast<HandshakeCommon<Crypto>&>(*server());
        while (auto a = hs.poll_action()) {
            std::error_code ec;
            switch (a->kind) {
                case Action::Kind::send:
                    note_handshake_message(TraceRecord::Direction::sent, a->message);
                    ec = records_.write(ContentType::handshake, a->message, out_,
                                        first_record_ ? std::uint16_t{0x0301} : legacy_record_version);
                    first_record_ = false;
                    break;
                case Action::Kind::send_application_data:
                    ec = records_.write(ContentType::application_data, a->message, out_, legacy_record_version);
                    break;
                case Action::Kind::send_change_cipher_spec: {
                    const std::uint8_t one = 1;
                    ec = records_.write(ContentType::change_cipher_spec, ByteView(&one, 1), out_, legacy_record_version);
                    break;
                }
                case Action::Kind::install_read_key:
                    // A handshake message may not span a key change (5.1).
                    if (!messages_.empty()) return Error::unexpected_handshake_message;
                    log_secret(a->level, Direction::read, a->secret);
                    ec = records_.install_key(a->level, Direction::read, a->secret);
                    break;
                case Action::Kind::install_write_key:
                    log_secret(a->level, Direction::write, a->secret);
                    ec = records_.install_key(a->level, Direction::write, a->secret);
                    break;
                case Action::Kind::limit_sent_records: ec = records_.set_send_record_size_limit(a->limit); break;
                case Action::Kind::limit_received_records:
                    ec = records_.set_receive_record_size_limit(a->limit);
                    break;
                case Action::Kind::event:
                    if (a->event.kind == EventKind::handshake_complete && c) {
                        // Early data that did not arrive as 0-RTT (refused, beyond the
                        // ticket's limit, or never offered) goes now under 1-RTT keys.
                        Bytes unsent = c->take_unsent_early_data();
                        events_.push_back(std::move(a->event));
                        if (!unsent.empty()) ec = records_.write(ContentType::application_data, unsent, out_, legacy_record_version);
                        break;
                    }
                    events_.push_back(std::move(a->event));
                    break;
            }
            if (ec) return ec;
        }
        return {};
    }

    /// Key expiration (6.3): past the configured record/byte count, a KeyUpdate.
    std::error_code maybe_rotate_keys() {
        if (!records_.take_key_expiring()) return {};
        events_.push_back({EventKind::key_expiring, {}});
        return update_keys(false, Instant{});
    }

    void send_alert(AlertDescription description) {
        // Before any write key (a failed ClientHello), alerts go in plaintext (6).
        const Bytes alert = encode_alert(description);
        trace_alert(TraceRecord::Direction::sent, alert);
        records_.write(ContentType::alert, alert, out_, legacy_record_version);
    }

    // ---- debugging hooks (CommonConfig::key_log / trace, docs/debugging.md) ---------------

    /// Traces each handshake message in `messages` (whole messages, header included) and
    /// keeps the ClientHello random, which names the connection in the key log.
    void note_handshake_message(TraceRecord::Direction direction, ByteView messages) {
        for (std::size_t at = 0; at + 4 <= messages.size();) {
            const std::size_t length =
                std::size_t{messages[at + 1]} << 16 | std::size_t{messages[at + 2]} << 8 | messages[at + 3];
            const auto type = messages[at];
            if (type == static_cast<std::uint8_t>(HandshakeType::client_hello) && length >= 2 + 32 &&
                at + 4 + length <= messages.size())
                client_random_.assign(messages.begin() + static_cast<std::ptrdiff_t>(at + 6),
                                      messages.begin() + static_cast<std::ptrdiff_t>(at + 6 + 32));
            if (config_->trace) config_->trace({direction, TraceRecord::Kind::handshake_message, type, 0, length, true});
            at += 4 + length;
        }
    }
    void trace_alert(TraceRecord::Direction direction, ByteView alert) {
        if (config_->trace && alert.size() == 2)
            config_->trace({direction, TraceRecord::Kind::alert, alert[1], alert[0], 0, false});
    }

    /// Each traffic secret is logged as it is installed, under the NSS label of the side
    /// that sends with it; the exporter secret with the first application secret (both
    /// come from the master secret at the same point of the handshake).
    void log_secret(Level level, Direction direction, const TrafficSecret& secret) {
        if (!config_->key_log || !secret) return;
        const bool client_sends = (direction == Direction::write) == (role_ == Role::client);
        switch (level) {
            case Level::early_data:
                config_->key_log(keylog_label::client_early_traffic, client_random_, secret.secret);
                break;
            case Level::handshake:
                config_->key_log(client_sends ? keylog_label::client_handshake_traffic
                                              : keylog_label::server_handshake_traffic,
                                 client_random_, secret.secret);
                break;
            case Level::application: {
                unsigned& generation = client_sends ? client_traffic_generation_ : server_traffic_generation_;
                config_->key_log(traffic_secret_label(client_sends, generation++), client_random_, secret.secret);
                const auto& exporter = common().exporter_master_;
                if (!exporter_logged_ && exporter.suite) {
                    exporter_logged_ = true;
                    config_->key_log(keylog_label::exporter, client_random_, exporter.secret);
                }
                break;
            }
            case Level::initial: break;
        }
    }

    /// Records the first error; sends the matching alert unless the peer sent one.
    std::error_code fail(std::error_code ec, bool alert = true) {
        if (failed_) return failed_;
        failed_ = ec;
        if (alert && !peer_alert_ && ec != make_error_code(Errc::truncated)) send_alert(alert_for(ec));
        return ec;
    }

    Role role_;
    std::shared_ptr<const Config> config_;
    Layer records_;
    std::unique_ptr<ClientHandshake<Crypto>> client_;  // exactly one of the two
    std::unique_ptr<ServerHandshake<Crypto>> server_;
    MessageBuffer messages_;
    Bytes out_;                  // sealed records not yet polled; reused, never shrunk
    std::size_t out_sent_ = 0;   // how much of out_ poll_transmit(out) already copied out
    // Received application data, oldest first: views into the record layer's buffer
    // (fresh_, valid until its next feed) after what had to be carried out of it.
    std::vector<ByteView> fresh_;
    std::size_t fresh_next_ = 0;
    Bytes carried_;
    std::vector<std::size_t> carried_sizes_;
    std::size_t carried_next_ = 0, carried_offset_ = 0;
    std::vector<Event> events_;  // not a deque: an empty deque still holds a 512-byte node
    std::size_t next_event_ = 0;
    Bytes early_data_;
    std::error_code failed_;
    std::size_t early_received_ = 0, skipped_early_bytes_ = 0;
    bool rejected_early_over_ = false;  // a record opened after 0-RTT was rejected: skipping ends
    bool close_answer_due_ = false;  // a close_notify to answer once the plaintext before it is taken
    Bytes client_random_;  // names the connection in the key log
    unsigned client_traffic_generation_ = 0, server_traffic_generation_ = 0;
    bool exporter_logged_ = false;
    bool input_released_ = false, output_released_ = false;  // the handshake's buffers, freed once
    bool started_ = false, first_record_ = true, peer_closed_ = false, peer_alert_ = false, closed_locally_ = false,
         eof_ = false;
};

}  // namespace tapsec::tls13
