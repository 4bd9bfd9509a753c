// The TLS 1.3 SansIoEngine: the client or server handshake joined to the record
// layer (record.hpp). Bytes in, records out; the handshake hands over traffic secrets
// per epoch, the record layer installs them. Alerts: every local failure sends the
// alert tls13::alert_for names, every fatal alert received becomes a distinct
// "tls13-peer-alert" error, and an end of stream without close_notify is
// Errc::truncated.
#pragma once

#include <deque>
#include <memory>
#include <variant>

#include "../core/engine.hpp"
#include "../crypto/botan.hpp"  // the default provider
#include "client.hpp"
#include "record.hpp"
#include "server.hpp"

namespace tapsec::tls13 {

template <class Record, class Crypto>
class Engine {
public:
    Engine(Role role, const Config& config)
        : role_(role),
          config_(std::make_shared<const Config>(config)),
          records_(typename RecordLayer<Crypto>::Options{
              config.padding, KeyUsageLimits{config.key_update_after_records, config.key_update_after_bytes, 64}}) {
        // Only a client's initial ClientHello may carry legacy_record_version 0x0301 (5.1).
        first_record_ = role == Role::client;
        if (role == Role::client) handshake_.template emplace<ClientHandshake<Crypto>>(*config_);
        else handshake_.template emplace<ServerHandshake<Crypto>>(*config_);
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
        if (failed_) return failed_;
        if (!started_ && role_ == Role::server)
            if (auto ec = start(now)) return ec;
        if (in.empty()) {  // end of stream
            if (peer_closed_) return {};
            eof_ = true;
            return failed_ = make_error_code(Errc::truncated);
        }
        if (peer_closed_) return {};  // nothing is read after close_notify
        if (auto ec = records_.feed(in)) return fail(ec);
        for (;;) {
            auto next = records_.next();
            if (!next) {
                if (next.error() == make_error_code(Error::bad_record_mac) && skip_rejected_early(0)) continue;
                if (next.error() == make_error_code(Error::unexpected_record) && server() &&
                    server()->skipping_after_retry())
                    continue;  // 0-RTT records behind a first ClientHello we retried
                return fail(next.error());
            }
            if (!*next) break;
            if (auto ec = on_record(**next)) return fail(ec);
            if (peer_closed_) break;
        }
        return {};
    }

    std::optional<Transmit> poll_transmit() {
        if (out_.empty()) return std::nullopt;
        Transmit t{std::move(out_), std::nullopt};
        out_.clear();
        return t;
    }
    std::optional<Bytes> poll_application_data() {
        if (received_.empty()) return std::nullopt;
        Bytes b = std::move(received_.front());
        received_.pop_front();
        return b;
    }
    std::optional<Event> poll_event() {
        if (events_.empty()) return std::nullopt;
        Event e = std::move(events_.front());
        events_.pop_front();
        return e;
    }

    std::error_code send(ByteView data, Instant) {
        if (failed_) return failed_;
        if (closed_locally_) return Errc::closed;
        if (!is_established()) return Errc::not_connected;
        if (auto ec = records_.write(ContentType::application_data, data, out_)) return fail(ec);
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
    bool is_closed() const { return peer_closed_ && received_.empty(); }
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
        if (const auto* c = std::get_if<ClientHandshake<Crypto>>(&handshake_))
            return c->export_keying_material(label, context, length);
        return std::get<ServerHandshake<Crypto>>(handshake_).export_keying_material(label, context, length);
    }

    /// Client: data to send as 0-RTT with the first flight, if a stored session allows;
    /// otherwise (or if the server refuses it) it is sent after the handshake.
    std::error_code send_early_data(ByteView data, Instant) {
        if (role_ != Role::client || started_) return Errc::already_connected;
        append(early_data_, data);
        return {};
    }

    /// The records layer, for tests that tamper with or inspect it.
    RecordLayer<Crypto>& record_layer() { return records_; }

private:
    ClientHandshake<Crypto>* client() { return std::get_if<ClientHandshake<Crypto>>(&handshake_); }
    ServerHandshake<Crypto>* server() { return std::get_if<ServerHandshake<Crypto>>(&handshake_); }
    const HandshakeCommon<Crypto>& common() const {
        return std::visit([](const auto& h) -> const HandshakeCommon<Crypto>& {
            if constexpr (std::is_same_v<std::decay_t<decltype(h)>, std::monostate>) std::abort();
            else return h;
        }, handshake_);
    }

    /// 0-RTT refused by the server (4.2.10): records it cannot open are skipped, up to
    /// max_early_data bytes.
    bool skip_rejected_early(std::size_t) {
        auto* s = server();
        if (!s || !s->skipping_rejected_early_data()) return false;
        if (++skipped_records_ > 1 + s->max_early_data() / 16) return false;
        return true;
    }

    std::error_code on_record(const Plaintext& record) {
        switch (record.type) {
            case ContentType::change_cipher_spec:
                // Middlebox compatibility: ignored while the handshake runs, never after.
                if (common().established()) return Error::unexpected_record;
                return {};
            case ContentType::alert: {
                auto alert = parse_alert(record.data);
                if (!alert) return alert.error();
                if (alert->description == AlertDescription::close_notify) {
                    peer_closed_ = true;
                    events_.push_back({EventKind::peer_closed, {}});
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
                if (!record.data.empty()) received_.emplace_back(record.data.begin(), record.data.end());
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
                    ec = records_.write(ContentType::handshake, a->message, out_,
                                        first_record_ ? std::uint16_t{0x0301} : legacy_record_version);
                    first_record_ = false;
                    break;
                case Action::Kind::send_application_data:
                    ec = records_.write(ContentType::application_data, a->message, out_);
                    break;
                case Action::Kind::send_change_cipher_spec: {
                    const std::uint8_t one = 1;
                    ec = records_.write(ContentType::change_cipher_spec, ByteView(&one, 1), out_);
                    break;
                }
                case Action::Kind::install_read_key:
                    // A handshake message may not span a key change (5.1).
                    if (!messages_.empty()) return Error::unexpected_handshake_message;
                    ec = records_.install_read(a->secret);
                    break;
                case Action::Kind::install_write_key: ec = records_.install_write(a->secret); break;
                case Action::Kind::limit_sent_records: ec = records_.set_send_record_size_limit(a->limit); break;
                case Action::Kind::limit_received_records:
                    ec = records_.set_receive_record_size_limit(a->limit);
                    break;
                case Action::Kind::event:
                    if (a->event.kind == EventKind::handshake_complete && c) {
                        // 0-RTT data the server refused goes again under 1-RTT keys.
                        Bytes again = c->take_rejected_early_data();
                        events_.push_back(std::move(a->event));
                        if (!again.empty()) ec = records_.write(ContentType::application_data, again, out_);
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
        records_.write(ContentType::alert, encode_alert(description), out_);
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
    RecordLayer<Crypto> records_;
    std::variant<std::monostate, ClientHandshake<Crypto>, ServerHandshake<Crypto>> handshake_;
    MessageBuffer messages_;
    Bytes out_;
    std::deque<Bytes> received_;
    std::deque<Event> events_;
    Bytes early_data_;
    std::error_code failed_;
    std::size_t early_received_ = 0, skipped_records_ = 0;
    bool started_ = false, first_record_ = true, peer_closed_ = false, peer_alert_ = false, closed_locally_ = false,
         eof_ = false;
};

}  // namespace tapsec::tls13
