// The TLS 1.3 server handshake (RFC 8446 2, 4): negotiation by server preference,
// stateless HelloRetryRequest (the cookie carries all the server needs to continue, so
// a fresh server holding the cookie key can take the second ClientHello), certificate
// or PSK authentication, optional client certificates, stateless tickets, and 0-RTT
// that is single-use and bounded by ticket age. States are types, as in the client:
// each accepts only the messages legal in it.
#pragma once

#include <variant>

#include "handshake.hpp"

namespace tapsec::tls13 {

template <class Crypto>
class ServerHandshake : public HandshakeCommon<Crypto> {
    using Base = HandshakeCommon<Crypto>;
    using Base::actions_;
    using Base::info_;
    using Base::suite_;

public:
    explicit ServerHandshake(const Config& config) : config_(config) {}

    std::error_code start() {
        auto suites = configured_suites(config_);
        auto groups = configured_groups_for<Crypto>(config_);
        if (!groups && groups.error() == make_error_code(Error::group_not_in_provider)) return groups.error();
        if (!suites || !groups || groups->empty() || suites->empty()) return Errc::invalid_configuration;
        suites_ = *suites;
        groups_ = *groups;
        info_.protocol = "TLS 1.3";
        if (!config_.identity.empty()) {
            auto parsed = ParsedIdentity<Crypto>::get(config_.identity, *config_.parsed_identity);
            if (!parsed) return parsed.error();
            identity_ = std::move(*parsed);
        } else if (config_.pre_shared_keys.empty()) {
            return Errc::invalid_configuration;  // nothing to authenticate with
        }
        ticket_key_ = config_.ticket_key;
        if (!ticket_key_ && config_.tickets_to_send > 0) ticket_key_ = TicketKey::generate<Crypto>(config_);
        cookie_key_ = config_.cookie_key ? config_.cookie_key : ticket_key_;
        if (!cookie_key_) cookie_key_ = TicketKey::generate<Crypto>(config_);
        state_ = ExpectClientHello{};
        return {};
    }

    std::error_code handle(const RawMessage& m) {
        return std::visit([&](auto& s) { return on(s, m); }, state_);
    }

    using Base::export_keying_material;
    using Base::update_keys;

    /// True while 0-RTT records that fail to decrypt must be skipped (early data was
    /// offered and refused, RFC 8446 4.2.10), up to max_early_data bytes.
    bool skipping_rejected_early_data() const { return early_offered_ && !early_accepted_ && !this->established_; }
    bool receiving_early_data() const { return std::holds_alternative<ExpectEndOfEarlyData>(state_); }
    std::uint32_t max_early_data() const { return config_.max_early_data; }

private:
    struct Idle {};
    struct ExpectClientHello {};
    struct ExpectEndOfEarlyData {};
    struct ExpectCertificate {};
    struct ExpectCertificateVerify {};
    struct ExpectFinished {};
    struct Connected {};
    using State = std::variant<Idle, ExpectClientHello, ExpectEndOfEarlyData, ExpectCertificate, ExpectCertificateVerify,
                               ExpectFinished, Connected>;

    static std::error_code unexpected() { return make_error_code(Error::unexpected_handshake_message); }
    std::error_code on(Idle&, const RawMessage&) { return unexpected(); }

    // ---- ClientHello: one named step per decision, in the order RFC 8446 4.1.1 takes them ----

    /// What the server settled on for the key exchange (4.1.1): (EC)DHE with the client's
    /// share of `group`, or psk_ke alone.
    struct KeyExchangeChoice {
        bool use_dhe = false;
        std::uint16_t group = 0;
        const KeyShareEntry* client_share = nullptr;  // into the ClientHello being handled
        bool needs_retry = false;                     // answer with a HelloRetryRequest instead
        bool name_group_in_retry = false;             // the retry must ask for `group`'s share
    };

    std::error_code on(ExpectClientHello&, const RawMessage& m) {
        if (m.type != HandshakeType::client_hello) return unexpected();
        auto decoded = decode_client_hello(m.body());
        if (!decoded) return decoded.error();
        const ClientHello& ch = *decoded;
        if (!offers_tls13(ch)) return Error::protocol_version_mismatch;
        auto suite = choose_cipher_suite(ch);
        if (!suite) return suite.error();
        if (auto ec = resume_retry_from_cookie(ch, *suite)) return ec;
        session_id_ = ch.legacy_session_id;

        // PSK (resumption ticket or external), before the group: psk_ke needs no share.
        std::optional<SessionState> psk;
        if (!ch.psk_identities.empty() && !ch.psk_modes.empty())
            if (auto ec = select_psk(ch, m, *suite, psk)) return ec;
        auto exchange = choose_key_exchange(ch, psk);
        if (!exchange) return exchange.error();
        if (exchange->needs_retry)
            return send_hello_retry_request(*suite, exchange->group, exchange->name_group_in_retry, m);
        if (auto ec = accept_custom_extensions(config_, ch.extensions)) return ec;

        this->start_transcript(*suite);
        this->transcript_update(m.bytes);
        info_.cipher_suite = std::string((*suite)->name);
        if (ch.server_name) info_.server_name = *ch.server_name;
        auto alpn = choose_application_protocol(ch);
        if (!alpn) return alpn.error();

        auto early = psk ? EarlySecret<Crypto>::with_psk(**suite, psk->psk) : EarlySecret<Crypto>::without_psk(**suite);
        decide_early_data(ch, psk, *suite, early);
        auto shared = send_server_hello(*suite, *exchange, psk.has_value());
        if (!shared) return shared.error();
        auto hs = std::move(early).into_handshake(*shared);
        derive_handshake_traffic_secrets(hs);
        if (auto ec = send_encrypted_extensions(ch, *alpn, psk.has_value(), *exchange)) return ec;
        if (auto ec = authenticate_server(ch, psk.has_value())) return ec;
        send_finished_and_derive_application_secrets(std::move(hs));
        if (early_accepted_ && !config_.early_data_outside_records) {
            state_ = ExpectEndOfEarlyData{};
        } else {
            this->install(false, Level::handshake, client_hs_);
            state_ = request_client_certificate_ ? State{ExpectCertificate{}} : State{ExpectFinished{}};
        }
        return {};
    }

    static bool offers_tls13(const ClientHello& ch) {
        return std::find(ch.supported_versions.begin(), ch.supported_versions.end(), tls13_version) !=
               ch.supported_versions.end();
    }

    /// Ours in preference order among the client's.
    Result<const CipherSuite*> choose_cipher_suite(const ClientHello& ch) const {
        for (auto s : suites_)
            if (std::find(ch.cipher_suites.begin(), ch.cipher_suites.end(), s->code()) != ch.cipher_suites.end())
                return s;
        return make_error_code(Error::no_common_cipher_suite);
    }

    /// A cookie makes this the second ClientHello of a retry, whoever sent the
    /// HelloRetryRequest: what to continue with (suite, transcript) comes from the cookie
    /// alone, and `suite` becomes the retry's.
    std::error_code resume_retry_from_cookie(const ClientHello& ch, const CipherSuite*& suite) {
        if (!ch.cookie) return retry_sent_ ? make_error_code(Error::hello_retry_cookie_missing) : std::error_code{};
        auto opened = open_cookie(*ch.cookie);
        if (!opened) return opened.error();
        retry_cookie_ = std::move(*opened);
        const HelloRetryCookie& cookie = *retry_cookie_;
        const CipherSuite* retry_suite = find_cipher_suite(cookie.cipher_suite);
        if (!retry_suite || std::find(suites_.begin(), suites_.end(), retry_suite) == suites_.end() ||
            std::find(ch.cipher_suites.begin(), ch.cipher_suites.end(), cookie.cipher_suite) == ch.cipher_suites.end() ||
            !std::equal(ch.legacy_session_id.begin(), ch.legacy_session_id.end(), cookie.session_id.begin(),
                        cookie.session_id.end()))
            return Error::hello_retry_cookie_mismatch;
        if (cookie.client_hello1_hash.size() != crypto::digest_size(retry_suite->hash))
            return Error::hello_retry_cookie_invalid;
        if (ch.early_data) return Error::illegal_parameter;  // 4.2.10: no early data after a retry
        suite = retry_suite;
        retried_ = true;
        if (cookie.change_cipher_spec_sent) ccs_sent_ = true;
        restore_transcript_after_retry(cookie, *ch.cookie, suite);
        return {};
    }

    /// psk_dhe_ke or psk_ke (4.2.9), then the group: ours in preference order among
    /// those the client supports, or the retry's; a retry is needed when the client sent
    /// no share for it (or when every first hello must be retried).
    Result<KeyExchangeChoice> choose_key_exchange(const ClientHello& ch, const std::optional<SessionState>& psk) const {
        const auto offers_mode = [&](std::uint8_t mode) {
            return std::find(ch.psk_modes.begin(), ch.psk_modes.end(), mode) != ch.psk_modes.end();
        };
        const bool dhe_allowed = !psk || offers_mode(1);
        const bool psk_ke_allowed = psk && offers_mode(0);
        KeyExchangeChoice choice;
        choice.use_dhe = dhe_allowed && !(psk_ke_allowed && (config_.psk_only_key_exchange || !dhe_allowed));
        if (!choice.use_dhe) {
            if (!psk) return make_error_code(Error::missing_extension);
            return choice;
        }
        if (!ch.key_shares || ch.supported_groups.empty()) return make_error_code(Error::missing_extension);
        const auto client_supports = [&](std::uint16_t g) {
            return std::find(ch.supported_groups.begin(), ch.supported_groups.end(), g) != ch.supported_groups.end();
        };
        std::optional<std::uint16_t> chosen;
        for (auto g : groups_)
            if (client_supports(g)) {
                chosen = g;
                break;
            }
        if (retry_cookie_) {  // the group of the retry, which the client must now offer a share for
            if (std::find(groups_.begin(), groups_.end(), retry_cookie_->group) == groups_.end() ||
                !client_supports(retry_cookie_->group))
                return make_error_code(Error::hello_retry_cookie_mismatch);
            chosen = retry_cookie_->group;
        }
        if (!chosen) return make_error_code(Error::no_common_group);
        choice.group = *chosen;
        for (const auto& k : *ch.key_shares)
            if (k.group == *chosen) choice.client_share = &k;
        if (!choice.client_share || (config_.force_hello_retry && !retried_)) {
            // 4.1.4: the second hello must carry a share for the group of the retry.
            if (retried_) return make_error_code(Error::hello_retry_cookie_mismatch);
            // A forced retry when the share fits carries only the cookie (4.1.4).
            choice.needs_retry = true;
            choice.name_group_in_retry = choice.client_share == nullptr;
        }
        return choice;
    }

    /// ALPN (RFC 7301): our preference among what the client offers; none in common is fatal.
    Result<std::optional<std::string>> choose_application_protocol(const ClientHello& ch) {
        if (ch.alpn.empty() || config_.alpn.empty()) return std::optional<std::string>{};
        for (const auto& p : config_.alpn)
            if (std::find(ch.alpn.begin(), ch.alpn.end(), p) != ch.alpn.end()) {
                info_.alpn = p;
                return std::optional<std::string>{p};
            }
        return make_error_code(Error::no_application_protocol);
    }

    /// 0-RTT: accepted (its read key installed) or refused with the reason (4.2.10).
    void decide_early_data(const ClientHello& ch, const std::optional<SessionState>& psk, const CipherSuite* suite,
                           const EarlySecret<Crypto>& early) {
        early_offered_ = ch.early_data;
        if (!early_offered_) return;
        if (auto refused = early_data_refusal(ch, psk, suite)) {
            this->emit(EventKind::early_data_rejected, *refused);
            return;
        }
        early_accepted_ = true;
        info_.early_data_accepted = true;
        this->install(false, Level::early_data, early.client_early_traffic_secret(this->transcript_hash()));
        this->emit(EventKind::early_data_accepted);
    }

    /// ServerHello (and the middlebox-compatibility CCS, D.4); returns the (EC)DHE shared
    /// secret, empty for psk_ke.
    Result<SecretBytes> send_server_hello(const CipherSuite* suite, const KeyExchangeChoice& exchange, bool with_psk) {
        ServerHello sh;
        draw_random<Crypto>(config_, sh.random);
        sh.legacy_session_id_echo = session_id_;
        sh.cipher_suite = suite->code();
        sh.selected_version = tls13_version;
        SecretBytes shared;
        if (exchange.use_dhe) {
            auto share = ephemeral_key_share<Crypto>(config_, exchange.group);
            if (!share) return share.error();
            auto agreed = share->agree(exchange.client_share->key_exchange);
            if (!agreed) return make_error_code(Error::illegal_parameter);
            shared = std::move(*agreed);
            sh.key_share = KeyShareEntry{exchange.group, share->public_key()};
            info_.group = group_name(exchange.group);
        }
        if (with_psk) sh.selected_psk = static_cast<std::uint16_t>(psk_index_);
        this->send(Level::initial, encode(sh));
        if (!session_id_.empty() && !ccs_sent_) {  // middlebox compatibility (D.4)
            ccs_sent_ = true;
            this->send_ccs();
        }
        return shared;
    }

    void derive_handshake_traffic_secrets(const HandshakeSecret<Crypto>& hs) {
        const Bytes h = this->transcript_hash();
        client_hs_ = hs.client_handshake_traffic_secret(h);
        server_hs_ = hs.server_handshake_traffic_secret(h);
        this->install(true, Level::handshake, server_hs_);
    }

    /// EncryptedExtensions: ALPN, RFC 8449 record_size_limit (honoured from here on),
    /// early_data acceptance, the server_name acknowledgement (RFC 6066 3), and our
    /// supported_groups when the group used is not the one we prefer (4.2.7 SHOULD: all
    /// our groups, so the client can lead with our favourite next time).
    std::error_code send_encrypted_extensions(const ClientHello& ch, const std::optional<std::string>& alpn,
                                              bool with_psk, const KeyExchangeChoice& exchange) {
        EncryptedExtensions ee;
        if (exchange.use_dhe && exchange.group != groups_.front()) ee.supported_groups = groups_;
        ee.extensions = config_.custom_extensions;
        ee.alpn = alpn;
        if (ch.record_size_limit) {
            if (*ch.record_size_limit < 64) return Error::illegal_parameter;
            this->record_size_limit(true, *ch.record_size_limit);
            if (config_.record_size_limit) {
                ee.record_size_limit = config_.record_size_limit;
                this->record_size_limit(false, config_.record_size_limit);
            }
        }
        ee.early_data = early_accepted_;
        ee.server_name_acknowledged = ch.server_name.has_value() && !with_psk;
        this->send(Level::handshake, encode(ee));
        return {};
    }

    /// Certificate authentication (with an optional CertificateRequest first), or what a
    /// PSK handshake records about the peer instead.
    std::error_code authenticate_server(const ClientHello& ch, bool with_psk) {
        if (with_psk) {
            info_.resumed = !psk_is_external_;
            info_.peer.authenticated = true;
            if (psk_is_external_) {
                const auto& identity = ch.psk_identities[psk_index_].identity;
                info_.peer.psk_identity = std::string(identity.begin(), identity.end());
            }
            return {};
        }
        if (!identity_) return Error::no_common_signature_scheme;
        request_client_certificate_ =
            config_.require_client_certificate || (config_.verify_peer && !config_.trust.empty());
        if (request_client_certificate_) {
            CertificateRequest cr;
            cr.signature_algorithms = Base::accepted_signature_schemes();
            this->send(Level::handshake, encode(cr));
        }
        return this->send_certificate_and_verify(config_, true, identity_->key, identity_->chain_der, {},
                                                 ch.signature_algorithms);
    }

    void send_finished_and_derive_application_secrets(HandshakeSecret<Crypto> hs) {
        this->send(Level::handshake, encode_finished(finished_verify_data<Crypto>(server_hs_, this->transcript_hash())));
        ms_.emplace(std::move(hs).into_master());
        const Bytes h = this->transcript_hash();
        write_secret_ = ms_->server_application_traffic_secret(h);
        read_secret_ = ms_->client_application_traffic_secret(h);
        exporter_master_ = ms_->exporter_master_secret(h);
        this->install(true, Level::application, write_secret_);
    }

    /// Why 0-RTT is refused (the handshake goes on in 1-RTT, 4.2.10), or nothing to accept it.
    std::optional<Error> early_data_refusal(const ClientHello& ch, const std::optional<SessionState>& psk,
                                            const CipherSuite* suite) const {
        if (!psk || psk_index_ != 0 || psk_is_external_ || psk->unique_id.empty())
            return Error::early_data_not_with_ticket;
        if (config_.max_early_data == 0 || psk->max_early_data == 0) return Error::early_data_disabled;
        if (psk->suite != suite || psk->alpn != info_.alpn) return Error::early_data_parameters_differ;
        if (config_.accept_early_data_with && !config_.accept_early_data_with(psk->application_data))
            return Error::early_data_parameters_differ;
        if (!config_.anti_replay) return Error::early_data_no_anti_replay;
        // Freshness (8.3) before single use, so a stale replay does not spend the ticket.
        const std::uint32_t client_age =
            client_ticket_age_ms(ch.psk_identities[psk_index_].obfuscated_ticket_age, psk->age_add);
        const std::uint64_t now = now_us();
        if (!ticket_age_fresh(psk->issued_us, client_age, now, config_.early_data_age_window))
            return Error::early_data_stale;
        switch (config_.anti_replay->check(psk->unique_id, psk->expires_ms(), now / 1000)) {
            case AntiReplay::Verdict::first_use: return std::nullopt;
            case AntiReplay::Verdict::replayed: return Error::early_data_replayed;
            case AntiReplay::Verdict::store_full: return Error::early_data_anti_replay_full;
        }
        return Error::early_data_replayed;
    }

    std::uint64_t now_us() const { return unix_micros(wall_now(config_)); }

    /// The HelloRetryRequest a cookie stands for, byte for byte (the cookie is its own
    /// extension, so the bytes are rebuilt from it and the cookie the client echoes).
    static ServerHello hello_retry_request(const HelloRetryCookie& c, ByteView cookie) {
        ServerHello hrr;
        std::copy(hello_retry_request_random.begin(), hello_retry_request_random.end(), hrr.random.begin());
        hrr.legacy_session_id_echo = c.session_id;
        hrr.cipher_suite = c.cipher_suite;
        hrr.selected_version = tls13_version;
        if (c.group_in_retry) hrr.selected_group = c.group;
        hrr.cookie = Bytes(cookie.begin(), cookie.end());
        return hrr;
    }

    /// Answers ClientHello1 with a HelloRetryRequest whose cookie carries all that is
    /// needed to continue; nothing of ClientHello1 is kept here (4.2.2 stateless retry).
    std::error_code send_hello_retry_request(const CipherSuite* suite, std::uint16_t group, bool name_group,
                                             const RawMessage& client_hello1) {
        HelloRetryCookie c;
        c.issued_us = now_us();
        c.cipher_suite = suite->code();
        c.group = group;
        c.group_in_retry = name_group;
        c.session_id = session_id_;
        c.change_cipher_spec_sent = !session_id_.empty();  // middlebox compatibility (D.4)
        c.client_hello1_hash = Crypto::hash(suite->hash, client_hello1.bytes);
        Bytes plain = c.serialize();
        const Bytes cookie = cookie_key_->template seal_bytes<Crypto>(plain, HelloRetryCookie::purpose, config_);
        secure_zero(plain.data(), plain.size());
        this->send_untranscribed(Level::initial, encode(hello_retry_request(c, cookie)));
        if (c.change_cipher_spec_sent) {
            ccs_sent_ = true;
            this->send_ccs();
        }
        retry_sent_ = true;
        hrr_early_skip_ = true;  // 0-RTT records from the first flight must be skipped
        return {};
    }

    /// Opens and checks a cookie: ours (key name), authentic (AEAD), and within its lifetime.
    Result<HelloRetryCookie> open_cookie(ByteView sealed) const {
        auto opened = cookie_key_->template open_bytes<Crypto>(sealed, HelloRetryCookie::purpose);
        if (!opened.our_key) return make_error_code(Error::hello_retry_cookie_unknown_key);
        if (!opened.plaintext) return make_error_code(Error::hello_retry_cookie_invalid);
        auto c = HelloRetryCookie::parse(*opened.plaintext);
        if (!c) return make_error_code(Error::hello_retry_cookie_invalid);
        const std::uint64_t now = now_us();
        const auto lifetime_us = static_cast<std::uint64_t>(config_.hello_retry_cookie_lifetime.count()) * 1'000'000;
        constexpr std::uint64_t skew_us = 1'000'000;  // servers sharing the key may disagree a little
        if (c->issued_us > now + skew_us || (now > c->issued_us && now - c->issued_us > lifetime_us))
            return make_error_code(Error::hello_retry_cookie_expired);
        return std::move(*c);
    }

    /// Transcript after a retry (4.4.1): message_hash(Hash(ClientHello1)) || HelloRetryRequest.
    void restore_transcript_after_retry(const HelloRetryCookie& c, ByteView cookie, const CipherSuite* suite) {
        this->transcript_ = Transcript<Crypto>();
        this->start_transcript(suite);
        Bytes synthetic{static_cast<std::uint8_t>(HandshakeType::message_hash), 0, 0,
                        static_cast<std::uint8_t>(c.client_hello1_hash.size())};
        append(synthetic, c.client_hello1_hash);
        this->transcript_update(synthetic);
        this->transcript_update(encode(hello_retry_request(c, cookie)));
    }

    /// Finds the first usable PSK identity and verifies its binder (4.2.11).
    std::error_code select_psk(const ClientHello& ch, const RawMessage& m, const CipherSuite* suite,
                               std::optional<SessionState>& out) {
        for (std::size_t i = 0; i < ch.psk_identities.size(); ++i) {
            const auto& id = ch.psk_identities[i];
            std::optional<SessionState> s;
            bool external = false;
            if (ticket_key_) s = ticket_key_->open<Crypto>(id.identity);
            if (s) {
                if (s->expired(now_us())) s.reset();
            } else {
                for (const auto& p : config_.pre_shared_keys)
                    if (as_bytes(p.identity).size() == id.identity.size() &&
                        std::equal(id.identity.begin(), id.identity.end(), p.identity.begin())) {
                        s.emplace();
                        s->suite = &TLS_AES_128_GCM_SHA256;
                        s->psk.assign(p.key.begin(), p.key.end());
                        external = true;
                    }
            }
            if (!s || s->suite->hash != suite->hash) continue;
            // Binder over the hello truncated before the binders list (4.2.11.2).
            const ByteView truncated = ByteView(m.bytes).first(m.bytes.size() - binders_length(ch));
            const Bytes partial = retried_ ? this->transcript_.hash_with(truncated) : Crypto::hash(suite->hash, truncated);
            const auto early = EarlySecret<Crypto>::with_psk(*suite, s->psk);
            if (!early.verify_psk_binder(external ? PskKind::external : PskKind::resumption, partial, ch.psk_binders[i]))
                return Error::bad_psk_binder;
            psk_index_ = i;
            psk_is_external_ = external;
            out = std::move(s);
            return {};
        }
        return {};  // none usable: full handshake
    }

    std::error_code on(ExpectEndOfEarlyData&, const RawMessage& m) {
        if (m.type != HandshakeType::end_of_early_data || !m.body().empty()) return unexpected();
        this->transcript_update(m.bytes);
        this->install(false, Level::handshake, client_hs_);
        state_ = request_client_certificate_ ? State{ExpectCertificate{}} : State{ExpectFinished{}};
        return {};
    }

    std::error_code on(ExpectCertificate&, const RawMessage& m) {
        if (m.type != HandshakeType::certificate) return unexpected();
        auto cert = decode_certificate(m.body());
        if (!cert) return cert.error();
        if (!cert->request_context.empty()) return Error::illegal_parameter;
        this->transcript_update(m.bytes);
        if (cert->entries.empty()) {
            if (config_.require_client_certificate) return Error::certificate_required;
            state_ = ExpectFinished{};
            return {};
        }
        client_chain_.clear();
        for (auto& e : cert->entries) client_chain_.push_back(std::move(e.data));
        if (auto ec = this->validate_peer(config_, client_chain_, {})) return ec;
        state_ = ExpectCertificateVerify{};
        return {};
    }

    std::error_code on(ExpectCertificateVerify&, const RawMessage& m) {
        if (m.type != HandshakeType::certificate_verify) return unexpected();
        if (auto ec = this->accept_certificate_verify(false, m)) return ec;
        state_ = ExpectFinished{};
        return {};
    }

    std::error_code on(ExpectFinished&, const RawMessage& m) {
        if (m.type != HandshakeType::finished) return unexpected();
        if (auto ec = this->accept_finished(client_hs_, m)) return ec;
        this->transcript_update(m.bytes);
        this->install(false, Level::application, read_secret_);
        resumption_master_ = ms_->resumption_master_secret(this->transcript_hash());
        this->established_ = true;
        state_ = Connected{};
        send_tickets();
        if (retried_) this->emit(EventKind::handshake_complete, Error::completed_after_hello_retry);
        else this->emit(EventKind::handshake_complete);
        release_handshake_state();
        return {};
    }

    /// After the Finished and the tickets: the handshake's secrets are wiped and its
    /// buffers freed. What stays is what a KeyUpdate, the exporter and SessionInfo need.
    void release_handshake_state() {
        this->release_common_handshake_state();
        ms_.reset();
        client_hs_ = {};
        server_hs_ = {};
        resumption_master_ = {};
        std::vector<const CipherSuite*>().swap(suites_);
        std::vector<std::uint16_t>().swap(groups_);
        identity_.reset();
        ticket_key_.reset();
        cookie_key_.reset();
        retry_cookie_.reset();
        Bytes().swap(session_id_);
        std::vector<Bytes>().swap(client_chain_);
    }

    void send_tickets() {
        if (!ticket_key_) return;
        for (unsigned i = 0; i < config_.tickets_to_send; ++i) {
            NewSessionTicket t;
            t.lifetime = static_cast<std::uint32_t>(config_.ticket_lifetime.count());
            std::array<std::uint8_t, 4> add{};
            draw_random<Crypto>(config_, add);
            t.age_add = std::uint32_t{add[0]} << 24 | std::uint32_t{add[1]} << 16 | std::uint32_t{add[2]} << 8 | add[3];
            t.nonce = {static_cast<std::uint8_t>(i)};
            SessionState s;
            s.suite = suite_;
            s.psk = resumption_psk<Crypto>(resumption_master_, t.nonce);
            s.issued_us = now_us();
            s.lifetime_s = t.lifetime;
            s.age_add = t.age_add;
            s.max_early_data = config_.max_early_data;
            s.alpn = info_.alpn;
            s.unique_id.resize(16);
            draw_random<Crypto>(config_, s.unique_id);
            if (config_.session_application_data) s.application_data = config_.session_application_data();
            t.ticket = ticket_key_->seal<Crypto>(s, config_);
            if (config_.max_early_data > 0) t.max_early_data_size = config_.max_early_data;
            this->send_untranscribed(Level::application, encode(t));
        }
    }

    std::error_code on(Connected&, const RawMessage& m) {
        if (m.type != HandshakeType::key_update) return unexpected();
        return this->on_peer_key_update(m);
    }

public:
    bool skipping_after_retry() const { return hrr_early_skip_ && !this->established_; }

private:
    const Config& config_;
    State state_ = Idle{};
    std::vector<const CipherSuite*> suites_;
    std::vector<std::uint16_t> groups_;
    std::shared_ptr<const ParsedIdentity<Crypto>> identity_;
    std::shared_ptr<TicketKey> ticket_key_, cookie_key_;
    std::optional<HelloRetryCookie> retry_cookie_;  // the cookie a second ClientHello brought back
    Bytes session_id_;
    bool retry_sent_ = false;  // we answered with a HelloRetryRequest: the next hello must carry its cookie
    bool retried_ = false;     // this handshake continues a retry (a valid cookie came back)
    bool ccs_sent_ = false;
    bool early_offered_ = false, early_accepted_ = false, hrr_early_skip_ = false;
    bool request_client_certificate_ = false;
    std::size_t psk_index_ = 0;
    bool psk_is_external_ = false;
    std::vector<Bytes> client_chain_;
    std::optional<MasterSecret<Crypto>> ms_;
    TrafficSecret client_hs_, server_hs_;
    using Base::exporter_master_;
    using Base::read_secret_;
    using Base::write_secret_;
    ResumptionMasterSecret resumption_master_;
};

}  // namespace tapsec::tls13
