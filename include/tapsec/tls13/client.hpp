// The TLS 1.3 client handshake (RFC 8446 2, 4), as a state machine whose states are
// types (rustls style): each state struct handles only the messages legal in it, so an
// out-of-order message can only end in unexpected_message.
#pragma once

#include <variant>

#include "handshake.hpp"

namespace tapsec::tls13 {

template <class Crypto>
class ClientHandshake : public HandshakeCommon<Crypto> {
    using Base = HandshakeCommon<Crypto>;
    using Base::actions_;
    using Base::info_;
    using Base::suite_;

public:
    explicit ClientHandshake(const Config& config) : config_(config) {}

    /// Queues the ClientHello (and 0-RTT data, if a resumable session allows it).
    std::error_code start(Bytes early_data) {
        auto suites = configured_suites(config_);
        auto groups = configured_groups_for<Crypto>(config_);
        if (!groups && groups.error() == make_error_code(Error::group_not_in_provider)) return groups.error();
        if (!suites || !groups || groups->empty() || suites->empty()) return Errc::invalid_configuration;
        suites_ = *suites;
        groups_ = *groups;
        early_data_ = std::move(early_data);
        info_.protocol = "TLS 1.3";
        info_.server_name = config_.server_name;
        // Every random value, the ephemeral key included, from the injected source.
        draw_random<Crypto>(config_, hello_.random);
        if (config_.middlebox_compatibility) {
            hello_.legacy_session_id.resize(32);
            draw_random<Crypto>(config_, hello_.legacy_session_id);
        }
        for (auto s : suites_) hello_.cipher_suites.push_back(s->code());
        if (!config_.server_name.empty() && !is_ip_literal(config_.server_name)) hello_.server_name = config_.server_name;
        hello_.supported_versions = {tls13_version};
        hello_.supported_groups = groups_;
        hello_.signature_algorithms = Base::accepted_signature_schemes();
        hello_.alpn = config_.alpn;
        if (config_.record_size_limit) hello_.record_size_limit = config_.record_size_limit;
        hello_.custom_extensions = config_.custom_extensions;
        if (auto ec = make_key_share(groups_.front())) return ec;
        choose_psk();
        if (psk_) hello_.psk_modes = {config_.psk_only_key_exchange ? std::uint8_t{0} : std::uint8_t{1}};
        // Early data goes as 0-RTT as far as the ticket allows (4.2.10: at most its
        // max_early_data_size); what does not, goes after the handshake (the engine sends
        // take_unsent_early_data() then), and an event says which happened.
        if (!early_data_.empty() || config_.early_data_outside_records) {
            if (!psk_ || !resumption_) {
                early_not_offered_ = Error::early_data_no_session;
            } else if (psk_->max_early_data == 0) {
                early_not_offered_ = Error::early_data_not_allowed_by_ticket;
            } else {
                hello_.early_data = true;
                early_offered_ = true;
            }
        }
        if (auto ec = send_client_hello()) return ec;
        if (early_offered_) {
            // 0-RTT: keys from the PSK and ClientHello, data right behind the hello.
            auto key = early_->client_early_traffic_secret(Crypto::hash(psk_->suite->hash, client_hello1_));
            if (config_.middlebox_compatibility) send_ccs_once();
            this->install(true, Level::early_data, key);
            const std::size_t offered = std::min<std::size_t>(early_data_.size(), psk_->max_early_data);
            early_sent_.assign(early_data_.begin(), early_data_.begin() + static_cast<std::ptrdiff_t>(offered));
            early_data_.erase(early_data_.begin(), early_data_.begin() + static_cast<std::ptrdiff_t>(offered));
            if (!early_sent_.empty())
                actions_.push_back({Action::Kind::send_application_data, Level::early_data, early_sent_, {}, {}});
        }
        state_ = ExpectServerHello{};
        return {};
    }

    /// One complete handshake message from the server.
    std::error_code handle(const RawMessage& m) {
        return std::visit([&](auto& s) { return on(s, m); }, state_);
    }

    // ---- post-handshake (application level) ------------------------------------------------

    using Base::export_keying_material;
    using Base::update_keys;

    bool early_data_accepted() const { return early_accepted_; }
    /// Once the handshake is complete: the early data that did not arrive as 0-RTT, in
    /// order (what the server refused, then what the ticket's limit left over, or all of
    /// it when none was offered), to be sent under the application keys.
    Bytes take_unsent_early_data() {
        Bytes unsent = std::exchange(rejected_early_, {});
        append(unsent, early_data_);
        early_data_.clear();
        return unsent;
    }

private:
    // ---- states -----------------------------------------------------------------------------
    struct Idle {};
    struct ExpectServerHello {};
    struct ExpectEncryptedExtensions {};
    struct ExpectCertificateOrRequest {};
    struct ExpectCertificate {};
    struct ExpectCertificateVerify {};
    struct ExpectFinished {};
    struct Connected {};
    using State = std::variant<Idle, ExpectServerHello, ExpectEncryptedExtensions, ExpectCertificateOrRequest,
                               ExpectCertificate, ExpectCertificateVerify, ExpectFinished, Connected>;

    static std::error_code unexpected() { return make_error_code(Error::unexpected_handshake_message); }

    std::error_code on(Idle&, const RawMessage&) { return unexpected(); }

    std::error_code on(ExpectServerHello&, const RawMessage& m) {
        if (m.type != HandshakeType::server_hello) return unexpected();
        auto sh = decode_server_hello(m.body());
        if (!sh) return sh.error();
        if (sh->selected_version != tls13_version) {
            // A TLS 1.3 server that negotiates 1.2 or lower marks its random (4.1.3).
            if (std::equal(downgrade_sentinel_prefix.begin(), downgrade_sentinel_prefix.end(), sh->random.begin() + 24))
                return Error::downgrade_detected;
            return Error::protocol_version_mismatch;
        }
        if (sh->legacy_session_id_echo != hello_.legacy_session_id || sh->legacy_compression_method != 0)
            return Error::illegal_parameter;
        const CipherSuite* suite = find_cipher_suite(sh->cipher_suite);
        if (!suite || std::find(suites_.begin(), suites_.end(), suite) == suites_.end()) return Error::illegal_parameter;
        if (sh->is_hello_retry_request()) return on_hello_retry_request(*sh, suite, m);
        if (retried_ && suite != suite_) return Error::illegal_parameter;  // 4.1.4: same suite as the HRR

        this->start_transcript(suite);
        this->transcript_update(m.bytes);
        info_.cipher_suite = std::string(suite->name);

        SecretBytes shared;
        if (sh->key_share) {
            if (sh->key_share->group != share_group_) return Error::illegal_parameter;
            auto agreed = share_->agree(sh->key_share->key_exchange);
            if (!agreed) return Error::illegal_parameter;
            shared = std::move(*agreed);
            info_.group = group_name(share_group_);
        } else if (!(psk_ && sh->selected_psk && hello_.psk_modes == std::vector<std::uint8_t>{0})) {
            return Error::missing_extension;
        }
        if (sh->selected_psk) {
            if (!psk_ || *sh->selected_psk != 0 || psk_->suite->hash != suite->hash) return Error::illegal_parameter;
            psk_accepted_ = true;
            info_.resumed = resumption_;
            if (!resumption_) info_.peer.psk_identity = external_identity_;
        }
        // The early secret: from the PSK the binder used, or from zeros (7.1). The suite
        // may differ from the PSK's when both hash alike.
        auto early = psk_accepted_ ? EarlySecret<Crypto>::with_psk(*suite, psk_->psk)
                                   : EarlySecret<Crypto>::without_psk(*suite);
        early_.reset();
        hs_.emplace(std::move(early).into_handshake(shared));
        const Bytes h = this->transcript_hash();
        client_hs_ = hs_->client_handshake_traffic_secret(h);
        server_hs_ = hs_->server_handshake_traffic_secret(h);
        this->install(false, Level::handshake, server_hs_);
        // Our writes (alerts included) move to the handshake key now, unless 0-RTT data
        // may still be flowing under the early key.
        if (!early_offered_) switch_to_handshake_write();
        state_ = ExpectEncryptedExtensions{};
        return {};
    }

    std::error_code on_hello_retry_request(const ServerHello& hrr, const CipherSuite* suite, const RawMessage& m) {
        // 4.1.4: one retry at most, and it must change something: a new group we offered
        // but sent no share for, or a cookie.
        if (retried_ || (!hrr.selected_group && !hrr.cookie)) return Error::invalid_hello_retry_request;
        if (hrr.selected_group && (*hrr.selected_group == share_group_ ||
                                   std::find(groups_.begin(), groups_.end(), *hrr.selected_group) == groups_.end()))
            return Error::invalid_hello_retry_request;
        retried_ = true;
        // Transcript: message_hash(ClientHello1) || HelloRetryRequest (4.4.1).
        this->restart_for_hello_retry(suite);
        this->transcript_update(m.bytes);
        if (hrr.selected_group)
            if (auto ec = make_key_share(*hrr.selected_group)) return ec;
        hello_.cookie = hrr.cookie;
        if (early_offered_) {  // 4.2.10: no early data after a HelloRetryRequest
            hello_.early_data = false;
            early_offered_ = false;
            early_dropped_for_retry_ = true;
            rejected_early_ = std::move(early_sent_);
            // Our writes were under the 0-RTT key: the second ClientHello goes in plaintext.
            this->install(true, Level::initial, TrafficSecret{});
        }
        if (psk_ && psk_->suite->hash != suite->hash) {
            psk_.reset();
            hello_.psk_identities.clear();
            hello_.psk_binders.clear();
            hello_.psk_modes.clear();
        }
        if (config_.middlebox_compatibility) send_ccs_once();
        return send_client_hello();
    }

    std::error_code on(ExpectEncryptedExtensions&, const RawMessage& m) {
        if (m.type != HandshakeType::encrypted_extensions) return unexpected();
        auto ee = decode_encrypted_extensions(m.body());
        if (!ee) return ee.error();
        if (auto ec = accept_custom_extensions(config_, ee->extensions)) return ec;
        if (ee->alpn) {
            if (std::find(config_.alpn.begin(), config_.alpn.end(), *ee->alpn) == config_.alpn.end())
                return Error::illegal_parameter;
            info_.alpn = *ee->alpn;
        }
        if (ee->early_data && !early_offered_) return Error::unsupported_extension;
        if (ee->record_size_limit) {  // RFC 8449: limits apply once both sides sent the extension
            if (*ee->record_size_limit < 64 || !config_.record_size_limit) return Error::illegal_parameter;
            this->record_size_limit(true, *ee->record_size_limit);
            this->record_size_limit(false, config_.record_size_limit);
        }
        early_accepted_ = early_offered_ && ee->early_data;
        info_.early_data_accepted = early_accepted_;
        if (early_offered_ && !early_accepted_) {
            rejected_early_ = std::move(early_sent_);
            switch_to_handshake_write();
        }
        this->transcript_update(m.bytes);
        if (psk_accepted_) state_ = ExpectFinished{};
        else state_ = ExpectCertificateOrRequest{};
        return {};
    }

    std::error_code on(ExpectCertificateOrRequest&, const RawMessage& m) {
        if (m.type == HandshakeType::certificate_request) {
            auto cr = decode_certificate_request(m.body());
            if (!cr) return cr.error();
            if (!cr->request_context.empty()) return Error::illegal_parameter;
            certificate_request_ = std::move(*cr);
            this->transcript_update(m.bytes);
            state_ = ExpectCertificate{};
            return {};
        }
        ExpectCertificate next;
        return on(next, m);
    }

    std::error_code on(ExpectCertificate&, const RawMessage& m) {
        if (m.type != HandshakeType::certificate) return unexpected();
        auto cert = decode_certificate(m.body());
        if (!cert) return cert.error();
        if (!cert->request_context.empty()) return Error::illegal_parameter;
        if (cert->entries.empty()) return Error::bad_certificate;  // the server must authenticate
        server_chain_.clear();
        for (auto& e : cert->entries) server_chain_.push_back(std::move(e.data));
        if (auto ec = this->validate_peer(config_, server_chain_, config_.server_name)) return ec;
        this->transcript_update(m.bytes);
        state_ = ExpectCertificateVerify{};
        return {};
    }

    std::error_code on(ExpectCertificateVerify&, const RawMessage& m) {
        if (m.type != HandshakeType::certificate_verify) return unexpected();
        if (auto ec = this->accept_certificate_verify(true, m)) return ec;
        state_ = ExpectFinished{};
        return {};
    }

    std::error_code on(ExpectFinished&, const RawMessage& m) {
        if (m.type != HandshakeType::finished) return unexpected();
        if (auto ec = this->accept_finished(server_hs_, m)) return ec;
        this->transcript_update(m.bytes);
        if (psk_accepted_) {
            info_.peer.authenticated = true;
            if (!resumption_) info_.peer.psk_identity = external_identity_;
        }
        ms_.emplace(std::move(*hs_).into_master());
        hs_.reset();
        const Bytes h = this->transcript_hash();
        write_secret_ = ms_->client_application_traffic_secret(h);
        read_secret_ = ms_->server_application_traffic_secret(h);
        exporter_master_ = ms_->exporter_master_secret(h);
        this->install(false, Level::application, read_secret_);

        // Second flight.
        if (early_accepted_) {
            if (!config_.early_data_outside_records) this->send(Level::early_data, encode_end_of_early_data());
            switch_to_handshake_write();
        }
        if (certificate_request_) {
            if (!config_.identity.empty()) {
                auto parsed = ParsedIdentity<Crypto>::get(config_.identity, *config_.parsed_identity);
                if (!parsed) return parsed.error();
                if (auto ec = this->send_certificate_and_verify(config_, false, (*parsed)->key, (*parsed)->chain_der,
                                                                certificate_request_->request_context,
                                                                certificate_request_->signature_algorithms))
                    return ec;
            } else {
                this->send(Level::handshake, encode(CertificateMessage{certificate_request_->request_context, {}}));
            }
        }
        const auto mine = finished_verify_data<Crypto>(client_hs_, this->transcript_hash());
        this->send(Level::handshake, encode_finished(mine));
        this->install(true, Level::application, write_secret_);
        resumption_master_ = ms_->resumption_master_secret(this->transcript_hash());
        this->established_ = true;
        state_ = Connected{};
        if (early_offered_) {
            if (!early_accepted_) this->emit(EventKind::early_data_rejected, Error::early_data_refused_by_server);
            else if (!early_data_.empty()) this->emit(EventKind::early_data_accepted, Error::early_data_partly_sent);
            else this->emit(EventKind::early_data_accepted);
        } else if (early_dropped_for_retry_) {
            this->emit(EventKind::early_data_rejected, Error::early_data_after_hello_retry);
        } else if (early_not_offered_) {
            this->emit(EventKind::early_data_rejected, *early_not_offered_);
        }
        if (retried_) this->emit(EventKind::handshake_complete, Error::completed_after_hello_retry);
        else this->emit(EventKind::handshake_complete);
        return {};
    }

    std::error_code on(Connected&, const RawMessage& m) {
        switch (m.type) {
            case HandshakeType::new_session_ticket: {
                auto t = decode_new_session_ticket(m.body());
                if (!t) return t.error();
                if (config_.session_cache && t->lifetime > 0) {
                    SessionState s;
                    s.suite = suite_;
                    s.psk = resumption_psk<Crypto>(resumption_master_, t->nonce);
                    s.issued_us = unix_micros(wall_now(config_));
                    s.lifetime_s = t->lifetime;
                    s.age_add = t->age_add;
                    s.max_early_data = t->max_early_data_size.value_or(0);
                    s.alpn = info_.alpn;
                    s.server_name = config_.server_name;
                    s.ticket = std::move(t->ticket);
                    if (config_.session_application_data) s.application_data = config_.session_application_data();
                    config_.session_cache->store(cache_key(), s.serialize());
                    this->emit(EventKind::session_ticket);
                }
                return {};
            }
            case HandshakeType::key_update: {
                return this->on_peer_key_update(m);
            }
            case HandshakeType::certificate_request:  // post-handshake auth: we never offered it
            default: return unexpected();
        }
    }

    // ---- helpers -------------------------------------------------------------------------------

    static bool is_ip_literal(const std::string& name) {
        return name.find_first_not_of("0123456789.") == std::string::npos || name.find(':') != std::string::npos;
    }

    std::string cache_key() const { return config_.session_key.empty() ? config_.server_name : config_.session_key; }

    std::error_code make_key_share(std::uint16_t g) {
        auto share = ephemeral_key_share<Crypto>(config_, g);
        if (!share) return share.error();
        share_.emplace(std::move(*share));
        share_group_ = g;
        hello_.key_shares = std::vector<KeyShareEntry>{{g, share_->public_key()}};
        return {};
    }

    /// A resumable session from the cache, else the first external PSK.
    void choose_psk() {
        if (config_.session_cache) {
            if (auto stored = config_.session_cache->load(cache_key())) {
                auto s = SessionState::parse(*stored);
                const std::uint64_t now_us = unix_micros(wall_now(config_));
                if (s && !s->expired(now_us) &&
                    std::find(suites_.begin(), suites_.end(), s->suite) != suites_.end()) {
                    const auto age_ms = static_cast<std::uint32_t>(s->age_ms(now_us));
                    hello_.psk_identities = {{s->ticket, age_ms + s->age_add}};
                    psk_ = std::move(*s);
                    resumption_ = true;
                    // Single use (RFC 8446 C.4): forget it so it is not offered twice.
                    config_.session_cache->remove(cache_key());
                }
            }
        }
        if (!psk_ && !config_.pre_shared_keys.empty()) {
            const auto& p = config_.pre_shared_keys.front();
            SessionState s;
            s.suite = &TLS_AES_128_GCM_SHA256;  // external PSKs are SHA-256 (RFC 8446 4.2.11)
            s.psk.assign(p.key.begin(), p.key.end());
            hello_.psk_identities = {{Bytes(p.identity.begin(), p.identity.end()), 0}};
            external_identity_ = p.identity;
            psk_ = std::move(s);
        }
    }

    /// Encodes the hello; with a PSK, computes the binder over the truncated hello.
    std::error_code send_client_hello() {
        if (psk_) {
            const auto h = psk_->suite->hash;
            hello_.psk_binders = {Bytes(crypto::digest_size(h), 0)};
            std::size_t binders_length = 0;
            Bytes encoded = encode(hello_, &binders_length);
            early_.emplace(EarlySecret<Crypto>::with_psk(*psk_->suite, psk_->psk));
            // Transcript up to (not including) the binders (4.2.11.2).
            const ByteView truncated = ByteView(encoded).first(encoded.size() - binders_length);
            const Bytes partial = retried_ ? this->transcript_.hash_with(truncated) : Crypto::hash(h, truncated);
            auto binder = early_->psk_binder(resumption_ ? PskKind::resumption : PskKind::external, partial);
            hello_.psk_binders = {Bytes(binder.begin(), binder.end())};
        }
        Bytes encoded = encode(hello_);
        if (!retried_) {
            client_hello1_ = encoded;
        }
        this->send(Level::initial, std::move(encoded));
        return {};
    }

    void switch_to_handshake_write() {
        if (config_.middlebox_compatibility) send_ccs_once();
        this->install(true, Level::handshake, client_hs_);
    }

    void send_ccs_once() {
        if (ccs_sent_) return;
        ccs_sent_ = true;
        this->send_ccs();
    }

    const Config& config_;
    State state_ = Idle{};
    std::vector<const CipherSuite*> suites_;
    std::vector<std::uint16_t> groups_;
    ClientHello hello_;
    Bytes client_hello1_;
    std::optional<typename Crypto::KeyShare> share_;
    std::uint16_t share_group_ = 0;
    std::optional<SessionState> psk_;
    bool resumption_ = false;
    std::string external_identity_;
    bool psk_accepted_ = false;
    bool retried_ = false;
    bool ccs_sent_ = false;
    Bytes early_data_, early_sent_, rejected_early_;
    bool early_offered_ = false, early_accepted_ = false, early_dropped_for_retry_ = false;
    std::optional<Error> early_not_offered_;  // why early data waits for the handshake, when not offered
    std::optional<CertificateRequest> certificate_request_;
    std::vector<Bytes> server_chain_;
    std::optional<EarlySecret<Crypto>> early_;
    std::optional<HandshakeSecret<Crypto>> hs_;
    std::optional<MasterSecret<Crypto>> ms_;
    TrafficSecret client_hs_, server_hs_;
    using Base::exporter_master_;
    using Base::read_secret_;
    using Base::write_secret_;
    ResumptionMasterSecret resumption_master_;
};

}  // namespace tapsec::tls13
