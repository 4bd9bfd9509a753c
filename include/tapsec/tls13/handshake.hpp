// The Tls13Handshake policy, its Config, and what the client and server state
// machines share: the actions they hand to the engine (messages to send at an
// encryption level, traffic secrets to install, events), the transcript, and the
// certificate signing/verification rules of RFC 8446 4.4.
//
// The handshake never touches records: it exports one traffic secret per epoch and
// direction, and the record layer (AeadRecord, or QUIC packet protection later)
// imports them. Include <tapsec/tls13/engine.hpp> (or <tapsec/protocols.hpp>) to use it
// in Secure<>.
#pragma once

#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "../core/config.hpp"
#include "../core/dependencies.hpp"
#include "../core/parsed_trust.hpp"
#include "../core/engine.hpp"
#include "../core/features.hpp"
#include "../crypto/provider.hpp"
#include "cipher_suites.hpp"
#include "errors.hpp"
#include "key_schedule.hpp"
#include "messages.hpp"
#include "record.hpp"
#include "session.hpp"

namespace tapsec::tls13 {

/// Where a configuration keeps its identity once parsed: shared by every copy of that
/// Config (and so by every connection made from it), freed with the last copy, so the
/// private key lives no longer than the configuration that holds it.
struct ParsedIdentitySlot {
    std::mutex mutex;
    Bytes fingerprint;                 // SHA-256 over provider name and both PEMs
    std::shared_ptr<const void> parsed;  // a ParsedIdentity<Crypto>
};

/// Where a configuration keeps its trust anchors once parsed (core/parsed_trust.hpp,
/// shared with IKEv2). Shared and freed like ParsedIdentitySlot; never process-wide.
using ParsedTrustSlot = tapsec::ParsedTrustSlot;

/// TLS 1.3 configuration (6.1): CommonConfig plus what only TLS 1.3 has.
/// cipher_suites use IANA names ("TLS_AES_128_GCM_SHA256"); groups "x25519"/"X25519",
/// "secp256r1"/"P-256"; the client sends a key share for the first group only, so a
/// server preferring another group answers with a HelloRetryRequest.
struct Config : CommonConfig {
    /// Middlebox compatibility mode (RFC 8446 D.4): a fake session id and a
    /// ChangeCipherSpec record after the first flight.
    bool middlebox_compatibility = true;
    /// Server: always answer the first ClientHello with a HelloRetryRequest carrying a
    /// cookie (a stateless-retry / source-validation check), even when a share fits.
    bool force_hello_retry = false;
    /// Server: the key sealing HelloRetryRequest cookies (RFC 8446 4.2.2). A cookie
    /// carries everything needed to continue (Hash(ClientHello1), suite, group, issue
    /// time), so any server holding this key takes the second ClientHello, on this
    /// connection or another. When null, `ticket_key` seals cookies (under a different
    /// associated data, so a cookie never opens as a ticket); when that is null too, a
    /// key made per connection (the retry then works only on the same connection).
    std::shared_ptr<TicketKey> cookie_key;
    /// Server: how long a HelloRetryRequest cookie is accepted after it was issued.
    std::chrono::seconds hello_retry_cookie_lifetime{60};
    /// Server: 0-RTT freshness (RFC 8446 8.3). Early data is refused (the handshake goes
    /// on in 1-RTT) when the client's ticket age and the server's differ by more than this.
    std::chrono::milliseconds early_data_age_window{10'000};
    // The wall clock (ticket, cookie and 0-RTT times, certificate validity) and the random
    // source (hello randoms, session ids, ephemeral keys, signature salts, ticket and cookie
    // keys and nonces) are CommonConfig::wall_clock and CommonConfig::random: every read
    // goes through wall_now(config) / draw_random<Crypto>(config, out).
    /// Server: how many NewSessionTickets to send after the handshake (0 disables
    /// resumption). Tickets are AEAD-sealed with `ticket_key`.
    unsigned tickets_to_send = 1;
    std::chrono::seconds ticket_lifetime{7200};
    std::shared_ptr<TicketKey> ticket_key;  // made at random when null
    /// Server: largest 0-RTT payload accepted (0 refuses early data). Tickets used with
    /// early data are single-use through `anti_replay`, shared by all connections.
    std::uint32_t max_early_data = 0;
    std::shared_ptr<AntiReplay> anti_replay;
    /// Early data carried by the protocol above TLS rather than in TLS records (QUIC,
    /// RFC 9001 4.6): a client with a resumable session that allows early data offers it
    /// without early data given to the engine and installs the early key for that
    /// protocol; neither side sends or expects EndOfEarlyData (RFC 9001 8.3).
    bool early_data_outside_records = false;
    /// Data bound to a session: a server seals it into each ticket it issues, a client
    /// stores it with each session it receives (e.g. the transport limits early data is
    /// sent under, RFC 9000 7.4.1). Empty when null.
    std::function<Bytes()> session_application_data;
    /// Server: whether 0-RTT may be accepted under a ticket that carries `stored` (what
    /// session_application_data gave when it was issued). false refuses the early data
    /// (early_data_parameters_differ) before the ticket is spent; the handshake goes on.
    std::function<bool(ByteView stored)> accept_early_data_with;
    /// Client: key for the session cache (defaults to server_name).
    std::string session_key;
    /// Client: psk_ke (no (EC)DHE, no forward secrecy) instead of psk_dhe_ke when resuming
    /// or using an external PSK. Server: accept psk_ke when the client offers only that.
    bool psk_only_key_exchange = false;
    /// Automatic KeyUpdate after this many records / bytes sent under one key (key
    /// expiration, survey 6.3). 0 disables a limit.
    std::uint64_t key_update_after_records = 0;
    std::uint64_t key_update_after_bytes = 0;
    /// Length-hiding padding of protected records (RFC 8446 5.4), e.g.
    /// PaddingPolicy::to_multiple_of(256) or PaddingPolicy::full_record().
    PaddingPolicy padding{};
    /// RFC 8449 record_size_limit to advertise (64..16385; 0 = do not send the extension).
    /// The peer's limit is always honoured.
    std::uint16_t record_size_limit = 0;
    /// Extensions a protocol carried over this handshake defines (e.g. a transport's own
    /// parameters): the client sends them in ClientHello, the server in
    /// EncryptedExtensions. The peer must send each of these types back (else
    /// missing_extension); its value goes to `on_custom_extension`, whose error aborts
    /// the handshake.
    std::vector<Extension> custom_extensions;
    std::function<std::error_code(std::uint16_t type, ByteView value)> on_custom_extension;
    /// Largest handshake message body accepted (RFC 8446 4: the length field is 24 bits,
    /// so up to 16 MiB - 1 may be configured). The default, 131396 bytes, is the largest
    /// ClientHello the encoding allows, and twice the old 64 KiB for certificate chains.
    /// Beyond it the handshake aborts with decode_error (handshake_message_too_large)
    /// as soon as the message header arrives; at most this plus one record is buffered.
    std::size_t max_handshake_message_size = largest_client_hello;
    /// What a received close_notify does to our write side (RFC 8446 6.1). true: it is
    /// answered with our close_notify once the application has taken the data before
    /// it (the application may still answer that data first). false: our side stays
    /// open (a half-closed connection) until the application calls close(), so what it
    /// still has to send is not discarded, the 6.1 behaviour TLS 1.3 introduced.
    bool answer_close_notify = true;
    /// Our identity once parsed, shared by the copies of this Config (see ParsedIdentity).
    std::shared_ptr<ParsedIdentitySlot> parsed_identity = std::make_shared<ParsedIdentitySlot>();
    /// The trust store once parsed, shared by the copies of this Config (see ParsedTrustSlot).
    std::shared_ptr<ParsedTrustSlot> parsed_trust = std::make_shared<ParsedTrustSlot>();
};

/// The peer's values of the configured custom extensions (Config::custom_extensions),
/// handed to Config::on_custom_extension; a configured type the peer left out is
/// missing_extension.
inline std::error_code accept_custom_extensions(const Config& config, const std::vector<Extension>& received) {
    for (const auto& ours : config.custom_extensions) {
        const Extension* theirs = find_extension(received, ours.type);
        if (!theirs) return make_error_code(Error::missing_extension);
        if (config.on_custom_extension)
            if (auto ec = config.on_custom_extension(theirs->type, theirs->data)) return ec;
    }
    return {};
}

/// Encryption levels of a TLS 1.3 connection (key_schedule.hpp's epochs).
using Level = Epoch;

/// What a handshake state machine asks the engine to do, in order.
struct Action {
    enum class Kind {
        send,
        send_application_data,
        send_change_cipher_spec,
        install_read_key,
        install_write_key,
        event,
        limit_sent_records,      // RFC 8449: the peer's record_size_limit (in `limit`)
        limit_received_records,  // RFC 8449: the limit we advertised and the peer accepted
    };
    Kind kind;
    Level level = Level::initial;
    Bytes message;        // send: a handshake message; send_application_data: 0-RTT data
    TrafficSecret secret;  // install_*
    Event event{};         // event
    std::uint16_t limit = 0;  // limit_*
};

/// Our identity, parsed once per configuration rather than per connection (parsing a
/// PKCS#8 key and a chain costs more than a signature).
template <class Crypto>
struct ParsedIdentity {
    std::vector<Bytes> chain_der;
    typename Crypto::PrivateKey key;

    static Result<std::shared_ptr<const ParsedIdentity>> get(const Identity& identity, ParsedIdentitySlot& slot) {
        typename Crypto::Hash h(crypto::HashAlgorithm::sha256);  // identifies the PEMs without keeping a copy
        h.update(as_bytes(Crypto::name));
        h.update(as_bytes(identity.certificate_chain_pem));
        h.update(as_bytes(identity.private_key_pem));
        const Bytes fingerprint = h.final();
        std::lock_guard lock(slot.mutex);
        if (slot.parsed && slot.fingerprint == fingerprint)
            return std::static_pointer_cast<const ParsedIdentity>(slot.parsed);
        auto chain = Crypto::Certificate::chain_from_pem(identity.certificate_chain_pem);
        if (!chain) return Errc::invalid_certificate;
        auto key = Crypto::PrivateKey::from_pem(identity.private_key_pem);
        if (!key) return Errc::invalid_private_key;
        // A key that is not the leaf's would fail every handshake with a misleading
        // error at the peer: refuse it here, once per configuration.
        if (auto ec = check_key_matches(chain->front(), *key)) return ec;
        std::vector<Bytes> der;
        for (const auto& c : *chain) der.push_back(c.der());
        auto parsed = std::make_shared<const ParsedIdentity>(ParsedIdentity{std::move(der), std::move(*key)});
        slot.fingerprint = fingerprint;
        slot.parsed = parsed;
        return std::shared_ptr<const ParsedIdentity>(parsed);
    }

    /// Signs a fixed message with `key` and verifies it with the leaf's public key.
    static std::error_code check_key_matches(const typename Crypto::Certificate& leaf,
                                             const typename Crypto::PrivateKey& key) {
        const auto schemes = key.schemes();
        if (schemes.empty()) return Errc::unsupported_algorithm;
        static constexpr std::string_view probe = "tapsec: does this key belong to this certificate?";
        auto signature = key.sign(schemes.front(), as_bytes(probe));
        if (!signature) return signature.error();
        if (!leaf.verify(schemes.front(), as_bytes(probe), *signature)) return Errc::private_key_mismatch;
        return {};
    }
};

/// Shared machinery for the two roles: transcript, action queue, signature content.
template <class Crypto>
class HandshakeCommon {
public:
    std::optional<Action> poll_action() {
        if (next_action_ == actions_.size()) {
            // Drained: once established the queue's memory goes too (an idle connection
            // keeps none); during the handshake the capacity is reused.
            if (established_) std::vector<Action>().swap(actions_);
            else actions_.clear();
            next_action_ = 0;
            return std::nullopt;
        }
        return std::move(actions_[next_action_++]);
    }
    const SessionInfo& info() const { return info_; }
    bool established() const { return established_; }
    std::error_code alert_error() const { return alert_error_; }

    // ---- post-handshake: the same for both roles ----------------------------------------

    /// Sends a KeyUpdate and switches our write key (6.3 key update on request).
    std::error_code update_keys(bool request_peer) {
        if (!established_) return Errc::not_connected;
        send_untranscribed(Level::application, encode_key_update(request_peer ? KeyUpdateRequest::update_requested
                                                                             : KeyUpdateRequest::update_not_requested));
        write_secret_ = next_traffic_secret<Crypto>(write_secret_);
        install(true, Level::application, write_secret_);
        emit(EventKind::key_updated, Error::write_key_updated);
        return {};
    }

    /// RFC 8446 7.5 exporter (6.3 explicit key export).
    Result<SecretBytes> export_keying_material(std::string_view label, ByteView context, std::size_t length) const {
        if (!established_) return Errc::not_connected;
        return tls13::export_keying_material<Crypto>(exporter_master_, label, context, length);
    }

protected:
    template <class, class>
    friend class Engine;  // reads exporter_master_ for the key log (CommonConfig::key_log)

    /// The peer's KeyUpdate: its next read key, and ours too when it asks.
    std::error_code on_peer_key_update(const RawMessage& m) {
        auto request = decode_key_update(m.body());
        if (!request) return request.error();
        read_secret_ = next_traffic_secret<Crypto>(read_secret_);
        install(false, Level::application, read_secret_);
        emit(EventKind::key_updated, Error::read_key_updated);
        if (*request == KeyUpdateRequest::update_requested) return update_keys(false);
        return {};
    }

    TrafficSecret write_secret_, read_secret_;  // application traffic, current generation
    ExporterMasterSecret exporter_master_;

    void send(Level level, Bytes message) {
        transcript_update(message);
        actions_.push_back({Action::Kind::send, level, std::move(message), {}, {}});
    }
    void send_untranscribed(Level level, Bytes message) {
        actions_.push_back({Action::Kind::send, level, std::move(message), {}, {}});
    }
    void send_ccs() { actions_.push_back({Action::Kind::send_change_cipher_spec, Level::initial, {}, {}, {}}); }
    void install(bool write, Level level, const TrafficSecret& secret) {
        actions_.push_back({write ? Action::Kind::install_write_key : Action::Kind::install_read_key, level, {},
                            secret, {}});
    }
    void record_size_limit(bool sent_records, std::uint16_t limit) {
        Action a{sent_records ? Action::Kind::limit_sent_records : Action::Kind::limit_received_records,
                 Level::initial, {}, {}, {}};
        a.limit = limit;
        actions_.push_back(std::move(a));
    }
    /// Events carry an enum and a reason code, never a formatted string.
    void emit(EventKind kind, std::error_code reason = {}) {
        actions_.push_back({Action::Kind::event, Level::initial, {}, {}, Event{kind, {}, reason}});
    }
    void emit(EventKind kind, Error reason) { emit(kind, make_error_code(reason)); }

    /// Once established: what only the handshake needed (the transcript, the peer's parsed
    /// leaf) is freed; an idle connection keeps its traffic secrets and SessionInfo.
    void release_common_handshake_state() {
        transcript_ = Transcript<Crypto>();
        peer_leaf_.reset();
    }

    // ---- transcript ----------------------------------------------------------------------
    void transcript_update(ByteView message) { transcript_.add(message); }
    void start_transcript(const CipherSuite* suite) {
        suite_ = suite;
        transcript_.set_hash(suite->hash);
    }
    Bytes transcript_hash() const { return transcript_.current_hash(); }
    /// RFC 8446 4.4.1: after a HelloRetryRequest, ClientHello1 (already in the
    /// transcript) is replaced by message_hash(Hash(ClientHello1)).
    void restart_for_hello_retry(const CipherSuite* suite) {
        start_transcript(suite);
        transcript_.restart_for_hello_retry();
    }

    /// RFC 8446 4.4.3: the content a CertificateVerify signs.
    static Bytes signed_content(bool server, ByteView transcript_hash) {
        Bytes content(64, 0x20);
        append(content, as_bytes(server ? "TLS 1.3, server CertificateVerify" : "TLS 1.3, client CertificateVerify"));
        content.push_back(0);
        append(content, transcript_hash);
        return content;
    }

    /// Signature schemes we accept in TLS 1.3 CertificateVerify (no PKCS#1 v1.5, 4.2.3).
    static std::vector<std::uint16_t> accepted_signature_schemes() {
        return {0x0403, 0x0804, 0x0805, 0x0806, 0x0807, 0x0503};
    }

    /// Builds a Certificate + CertificateVerify pair for our identity, choosing a scheme
    /// the peer listed. Returns an error when none fits.
    std::error_code send_certificate_and_verify(const CommonConfig& config, bool server,
                                                const typename Crypto::PrivateKey& key,
                                                const std::vector<Bytes>& chain, ByteView context,
                                                const std::vector<std::uint16_t>& peer_schemes) {
        CertificateMessage cert;
        cert.request_context.assign(context.begin(), context.end());
        for (const auto& der : chain) cert.entries.push_back({der, {}});
        send(Level::handshake, encode(cert));
        if (chain.empty()) return {};
        std::optional<crypto::SignatureScheme> scheme;
        for (auto s : key.schemes())
            if (std::find(peer_schemes.begin(), peer_schemes.end(), static_cast<std::uint16_t>(s)) != peer_schemes.end() &&
                s != crypto::SignatureScheme::rsa_pkcs1_sha256 && s != crypto::SignatureScheme::rsa_pkcs1_sha384 &&
                s != crypto::SignatureScheme::rsa_pkcs1_sha512) {
                scheme = s;
                break;
            }
        if (!scheme) return Error::no_common_signature_scheme;
        // The signature's own randomness (the RSA-PSS salt) comes from the injected source.
        auto signature = key.sign(*scheme, signed_content(server, transcript_hash()),
                                  [&config](MutableByteView out) { draw_random<Crypto>(config, out); });
        if (!signature) return signature.error();
        send(Level::handshake, encode(CertificateVerify{static_cast<std::uint16_t>(*scheme), std::move(*signature)}));
        return {};
    }

    /// The peer's CertificateVerify: decoded, verified with its leaf certificate (parsed by
    /// validate_peer) over the transcript so far, then added to the transcript.
    /// The peer's Finished (4.4.4): a verify_data that is not Hash.length bytes cannot be
    /// parsed (decode_error); one of the right length that does not match is decrypt_error.
    std::error_code accept_finished(const TrafficSecret& peer_handshake_secret, const RawMessage& m) {
        if (m.body().size() != peer_handshake_secret.suite->hash_length) return Error::malformed_handshake_message;
        if (!verify_finished<Crypto>(peer_handshake_secret, transcript_hash(), m.body())) return Error::bad_finished;
        return {};
    }

    std::error_code accept_certificate_verify(bool peer_is_server, const RawMessage& m) {
        auto cv = decode_certificate_verify(m.body());
        if (!cv) return cv.error();
        const auto accepted = accepted_signature_schemes();
        if (std::find(accepted.begin(), accepted.end(), cv->algorithm) == accepted.end())
            return Error::bad_certificate_verify;
        if (!peer_leaf_) return Errc::invalid_certificate;
        if (!peer_leaf_->verify(static_cast<crypto::SignatureScheme>(cv->algorithm),
                                signed_content(peer_is_server, transcript_hash()), cv->signature))
            return Error::bad_certificate_verify;
        transcript_update(m.bytes);
        return {};
    }

    /// Path validation + host name, then the application's validator (6.2).
    std::error_code validate_peer(const Config& config, const std::vector<Bytes>& chain, std::string_view host) {
        PeerIdentity& peer = info_.peer;
        peer.certificate_chain_der = chain;
        // Each certificate parsed once (the leaf is also the CertificateVerify key).
        std::vector<typename Crypto::Certificate> parsed;
        parsed.reserve(chain.size());
        for (const auto& der : chain) {
            auto cert = Crypto::Certificate::from_der(der);
            if (!cert) return Errc::invalid_certificate;
            parsed.push_back(std::move(*cert));
        }
        peer.subject = parsed.front().subject();
        peer_leaf_.emplace(parsed.front());
        if (!config.delegate_authentication)
            if (auto ec = validate_path(config, chain, parsed, host)) return ec;
        if (config.validate_peer) {
            if (auto ec = config.validate_peer(peer)) return Errc::peer_rejected_by_application;
        } else if (config.delegate_authentication) {
            return Errc::invalid_configuration;  // delegation without a validator would accept anyone
        }
        peer.authenticated = true;
        return {};
    }

    /// PKIX path validation against the configured trust store: parsed once per
    /// configuration where the provider can keep parsed anchors, per call otherwise.
    static std::error_code validate_path(const Config& config, const std::vector<Bytes>& chain,
                                         const std::vector<typename Crypto::Certificate>& parsed, std::string_view host) {
        const auto now = wall_now(config);
        if constexpr (requires { typename Crypto::TrustAnchors; }) {
            auto anchors = trust_anchors(config);
            if (!anchors) return anchors.error();
            return Crypto::validate_chain(parsed, **anchors, host, now);
        } else {
            return Crypto::validate_chain(chain, config.trust, host, now);
        }
    }

    /// The configuration's trust anchors, parsed on first use and again only when the
    /// configured trust store (or the provider) changed since.
    template <class P = Crypto>
    static Result<std::shared_ptr<const typename P::TrustAnchors>> trust_anchors(const Config& config) {
        return parsed_trust_anchors<P>(*config.parsed_trust, config.trust);
    }

    static std::vector<Bytes> der_chain(const std::string& pem) {
        std::vector<Bytes> out;
        if (auto chain = Crypto::Certificate::chain_from_pem(pem))
            for (const auto& c : *chain) out.push_back(c.der());
        return out;
    }

    // Actions not yet polled: a vector and a read index, not a deque (an empty deque
    // still holds a 512-byte node, for the life of the connection).
    std::vector<Action> actions_;
    std::size_t next_action_ = 0;
    Transcript<Crypto> transcript_;
    std::optional<typename Crypto::Certificate> peer_leaf_;
    const CipherSuite* suite_ = nullptr;
    SessionInfo info_;
    bool established_ = false;
    std::error_code alert_error_;
};

/// Parses the configured suites / groups (empty = all, in our preference order).
inline Result<std::vector<const CipherSuite*>> configured_suites(const CommonConfig& config) {
    if (config.cipher_suites.empty())
        return std::vector<const CipherSuite*>(all_cipher_suites.begin(), all_cipher_suites.end());
    std::vector<const CipherSuite*> out;
    for (const auto& name : config.cipher_suites) {
        auto s = find_cipher_suite(name);
        if (!s) return Errc::unsupported_algorithm;
        out.push_back(s);
    }
    return out;
}

inline std::optional<std::uint16_t> group_from_name(std::string_view name) {
    if (name == "x25519" || name == "X25519") return group::x25519;
    if (name == "secp256r1" || name == "P-256" || name == "prime256v1" || name == "p256") return group::secp256r1;
    if (name == "x448" || name == "X448") return group::x448;
    if (name == "ffdhe2048") return group::ffdhe2048;
    if (name == "ffdhe3072") return group::ffdhe3072;
    return std::nullopt;
}

inline const char* group_name(std::uint16_t g) {
    switch (g) {
        case group::x25519: return "x25519";
        case group::secp256r1: return "secp256r1";
        case group::x448: return "x448";
        case group::ffdhe2048: return "ffdhe2048";
        case group::ffdhe3072: return "ffdhe3072";
        default: return "unknown";
    }
}

inline std::optional<crypto::KeyExchangeGroup> provider_group(std::uint16_t g) {
    if (g == group::x25519) return crypto::KeyExchangeGroup::x25519;
    if (g == group::secp256r1) return crypto::KeyExchangeGroup::secp256r1;
    if (g == group::x448) return crypto::KeyExchangeGroup::x448;
    if (g == group::ffdhe2048) return crypto::KeyExchangeGroup::ffdhe2048;
    if (g == group::ffdhe3072) return crypto::KeyExchangeGroup::ffdhe3072;
    return std::nullopt;
}

/// Whether `Crypto` can do the named group (Botan 2 has no X448).
template <class Crypto>
bool group_available(std::string_view name) {
    const auto code = group_from_name(name);
    return code && Crypto::KeyShare::supports(*provider_group(*code));
}

/// An ephemeral key share whose private key is drawn from the configuration's random
/// source, so a replay with a fixed source (a published trace) makes the same share.
/// NIST scalars are drawn whole and redrawn when outside [1, n-1] (odds below 2^-32).
template <class Crypto>
Result<typename Crypto::KeyShare> ephemeral_key_share(const CommonConfig& config, std::uint16_t group_code) {
    const auto group = provider_group(group_code);
    if (!group) return Errc::unsupported_algorithm;
    SecretBytes private_key(crypto::private_key_size(*group));
    for (int attempt = 0; attempt < 4; ++attempt) {
        draw_random<Crypto>(config, private_key);
        auto share = Crypto::KeyShare::from_private(*group, private_key);
        if (share) return share;
    }
    return Errc::internal_error;  // a random source that keeps returning out-of-range scalars
}

inline Result<std::vector<std::uint16_t>> configured_groups(const CommonConfig& config) {
    if (config.groups.empty()) return std::vector<std::uint16_t>{group::x25519, group::secp256r1};
    std::vector<std::uint16_t> out;
    for (const auto& name : config.groups) {
        auto g = group_from_name(name);
        if (!g) return Errc::unsupported_algorithm;
        out.push_back(*g);
    }
    return out;
}

/// configured_groups, refusing a group the provider cannot do with its own error
/// (Error::group_not_in_provider) rather than failing at the first handshake using it.
template <class Crypto>
Result<std::vector<std::uint16_t>> configured_groups_for(const CommonConfig& config) {
    auto groups = configured_groups(config);
    if (!groups) return groups.error();
    for (auto g : *groups)
        if (!Crypto::KeyShare::supports(*provider_group(g))) return make_error_code(Error::group_not_in_provider);
    return groups;
}

template <class Record, class Crypto>
class Engine;

struct Tls13Handshake;

/// The engine of a composition: tls13::Engine over a record layer, unless the record
/// carries the handshake inside a connection of its own (it names that engine as
/// `carrier_engine<Handshake, Crypto>`, which drives tls13::Engine itself).
template <class Record, class Crypto>
struct EngineFor {
    using type = Engine<Record, Crypto>;
};
template <class Record, class Crypto>
    requires requires { typename Record::template carrier_engine<Tls13Handshake, Crypto>; }
struct EngineFor<Record, Crypto> {
    using type = typename Record::template carrier_engine<Tls13Handshake, Crypto>;
};

struct Tls13Handshake {
    static constexpr std::string_view name = "TLS 1.3 (RFC 8446)";
    // DM: a server under load answers with a stateless HelloRetryRequest cookie
    // (force_hello_retry + cookie_key): the retry's state travels sealed in the cookie.
    using provides = features<feature::AN, feature::AD, feature::MA, feature::DM, feature::AFN, feature::CX, feature::SC,
                              feature::ED, feature::forward_secrecy, feature::public_key_authentication,
                              feature::responder_authentication, feature::pre_shared_key,
                              feature::session_resumption, feature::rekeying>;
    using intrinsic = features<feature::forward_secrecy, feature::responder_authentication>;
    using needs = dependencies<dependency::reliable_byte_stream, dependency::pki_trust_store>;
    static constexpr KeyExport key_export = KeyExport::explicit_export;
    using exported_keys = TrafficSecrets;
    using Config = tls13::Config;
    template <class Record, class Crypto>
    using engine = typename EngineFor<Record, Crypto>::type;
};

}  // namespace tapsec::tls13

namespace tapsec {
using tls13::Tls13Handshake;
}
