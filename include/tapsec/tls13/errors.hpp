// TLS 1.3 errors and alerts (RFC 8446 Section 6), shared by the record layer and the
// handshake.
//
// - `tls13::Error`: every distinct failure cause this implementation detects, in the
//   "tls13" std::error_code category. Each maps to the alert RFC 8446 prescribes
//   (`alert_for`), so the engine sends the right alert and the application still sees
//   the precise cause.
// - Alerts *received* from the peer are error codes in a second category,
//   "tls13-peer-alert", whose value is the alert description (`peer_alert_error`):
//   "peer sent alert bad_certificate" is distinct from "peer sent alert decode_error".
// - `encode_alert` / `parse_alert`: the two-byte Alert structure (6.).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <system_error>

#include "../core/bytes.hpp"
#include "../core/errors.hpp"

namespace tapsec::tls13 {

enum class AlertLevel : std::uint8_t { warning = 1, fatal = 2 };

/// RFC 8446 6, plus RFC 8449 / 7301 values that TLS 1.3 uses.
enum class AlertDescription : std::uint8_t {
    close_notify = 0,
    unexpected_message = 10,
    bad_record_mac = 20,
    record_overflow = 22,
    handshake_failure = 40,
    bad_certificate = 42,
    unsupported_certificate = 43,
    certificate_revoked = 44,
    certificate_expired = 45,
    certificate_unknown = 46,
    illegal_parameter = 47,
    unknown_ca = 48,
    access_denied = 49,
    decode_error = 50,
    decrypt_error = 51,
    protocol_version = 70,
    insufficient_security = 71,
    internal_error = 80,
    inappropriate_fallback = 86,
    user_canceled = 90,
    missing_extension = 109,
    unsupported_extension = 110,
    unrecognized_name = 112,
    bad_certificate_status_response = 113,
    unknown_psk_identity = 115,
    certificate_required = 116,
    no_application_protocol = 120,
};

inline const char* to_string(AlertDescription a) noexcept {
    switch (a) {
        case AlertDescription::close_notify: return "close_notify";
        case AlertDescription::unexpected_message: return "unexpected_message";
        case AlertDescription::bad_record_mac: return "bad_record_mac";
        case AlertDescription::record_overflow: return "record_overflow";
        case AlertDescription::handshake_failure: return "handshake_failure";
        case AlertDescription::bad_certificate: return "bad_certificate";
        case AlertDescription::unsupported_certificate: return "unsupported_certificate";
        case AlertDescription::certificate_revoked: return "certificate_revoked";
        case AlertDescription::certificate_expired: return "certificate_expired";
        case AlertDescription::certificate_unknown: return "certificate_unknown";
        case AlertDescription::illegal_parameter: return "illegal_parameter";
        case AlertDescription::unknown_ca: return "unknown_ca";
        case AlertDescription::access_denied: return "access_denied";
        case AlertDescription::decode_error: return "decode_error";
        case AlertDescription::decrypt_error: return "decrypt_error";
        case AlertDescription::protocol_version: return "protocol_version";
        case AlertDescription::insufficient_security: return "insufficient_security";
        case AlertDescription::internal_error: return "internal_error";
        case AlertDescription::inappropriate_fallback: return "inappropriate_fallback";
        case AlertDescription::user_canceled: return "user_canceled";
        case AlertDescription::missing_extension: return "missing_extension";
        case AlertDescription::unsupported_extension: return "unsupported_extension";
        case AlertDescription::unrecognized_name: return "unrecognized_name";
        case AlertDescription::bad_certificate_status_response: return "bad_certificate_status_response";
        case AlertDescription::unknown_psk_identity: return "unknown_psk_identity";
        case AlertDescription::certificate_required: return "certificate_required";
        case AlertDescription::no_application_protocol: return "no_application_protocol";
    }
    return "unknown alert";
}

/// Every failure cause, record layer first, then handshake. Values are stable.
enum class Error {
    // ---- record layer (RFC 8446 5) ----
    bad_record_mac = 1,           // AEAD open failed: tampered, reordered, replayed or wrong key
    record_overflow,              // TLSCiphertext > 2^14+256 or TLSInnerPlaintext > 2^14+1
    record_size_limit_exceeded,   // record larger than the record_size_limit we advertised (RFC 8449)
    malformed_record_header,      // legacy_record_version not 0x03xx, or zero-length fragment
    unknown_content_type,         // outer or inner content type not defined by TLS 1.3
    missing_content_type,         // TLSInnerPlaintext all zeros: no content type (5.4)
    unexpected_record,            // a record of a type not allowed now (plaintext after keys, data before keys)
    invalid_change_cipher_spec,   // a change_cipher_spec record other than the single byte 0x01
    sequence_number_exhausted,    // 2^64-1 records under one key: must rekey (5.3)
    key_usage_exhausted,          // key-usage limit plus grace reached without a KeyUpdate (5.5)
    reassembly_buffer_full,       // more unprocessed bytes buffered than the configured bound
    record_layer_not_keyed,       // a protected operation before keys were installed
    // ---- handshake (RFC 8446 4) ----
    malformed_handshake_message = 100,  // decode_error
    unexpected_handshake_message,       // unexpected_message
    handshake_message_too_large,        // longer than the local bound on one message (decode_error)
    illegal_parameter,
    missing_extension,
    unsupported_extension,
    duplicate_extension,
    no_common_cipher_suite,
    no_common_group,
    no_common_signature_scheme,
    protocol_version_mismatch,
    downgrade_detected,               // ServerHello.random carries a TLS 1.2/1.1 sentinel (4.1.3)
    invalid_hello_retry_request,      // second HRR, HRR changing nothing, or offering a group already sent
    bad_finished,                     // Finished verify_data mismatch (decrypt_error)
    bad_certificate_verify,           // CertificateVerify signature invalid (decrypt_error)
    bad_psk_binder,                   // PSK binder mismatch (decrypt_error)
    unknown_psk_identity,
    bad_certificate,
    unsupported_certificate,
    certificate_expired,
    certificate_untrusted,            // unknown_ca
    certificate_name_mismatch,        // bad_certificate
    certificate_required,             // client sent no certificate but one is required
    peer_rejected_by_application,     // the application's identity validator said no
    no_application_protocol,          // ALPN: no overlap
    unrecognized_name,                // SNI not served
    early_data_too_large,             // more 0-RTT data than max_early_data_size (unexpected_message)
    early_data_replayed,              // 0-RTT ClientHello seen before / single-use ticket reused (data refused, not fatal)
    invalid_key_update,               // KeyUpdate with a bad request_update value (illegal_parameter)
    insufficient_security,
    internal_error,
    // ---- stateless HelloRetryRequest cookie (RFC 8446 4.2.2), appended: values are stable ----
    hello_retry_cookie_missing,       // a second ClientHello after our HRR without the cookie (missing_extension)
    hello_retry_cookie_unknown_key,   // cookie sealed under a key we do not hold (illegal_parameter)
    hello_retry_cookie_invalid,       // cookie fails authentication: altered (decrypt_error)
    hello_retry_cookie_expired,       // cookie older than its lifetime, or from the future (illegal_parameter)
    hello_retry_cookie_mismatch,      // ClientHello2's suite, group or session id differ from the cookie's (illegal_parameter)
    early_data_stale,                 // 0-RTT refused: ticket age outside the freshness window (not fatal)
    // ---- why 0-RTT was refused (Event::reason of early_data_rejected; never fatal), appended ----
    early_data_not_with_ticket,       // not offered with one of our tickets as the first PSK
    early_data_disabled,              // max_early_data is 0 here or in the ticket
    early_data_parameters_differ,     // suite, ALPN or application data differs from the ticket's
    early_data_no_anti_replay,        // no anti-replay store configured: refused rather than replayable
    early_data_anti_replay_full,      // the anti-replay store is full: refused rather than forget a ticket
    early_data_refused_by_server,     // client: the server did not accept our 0-RTT data
    early_data_after_hello_retry,     // client: a HelloRetryRequest came, so no 0-RTT (4.2.10)
    // ---- informational Event::reason values (not failures), appended ----
    completed_after_hello_retry,      // handshake_complete: the server asked for a HelloRetryRequest
    write_key_updated,                // key_updated: our sending key changed
    read_key_updated,                 // key_updated: the peer's sending key changed
    // ---- record layer, appended ----
    interleaved_record,               // another record type between the fragments of one handshake message (5.1)
    // ---- client: why early data went (partly) after the handshake (event reasons, never fatal), appended ----
    early_data_no_session,            // early_data_rejected: no resumable session, so no 0-RTT was offered
    early_data_not_allowed_by_ticket, // early_data_rejected: the session's ticket allows no early data
    early_data_partly_sent,           // early_data_accepted: the ticket's max_early_data_size took only a prefix
    // ---- configuration, appended ----
    group_not_in_provider,            // a configured group the crypto provider cannot do (Botan 2: X448)
};

}  // namespace tapsec::tls13

template <>
struct std::is_error_code_enum<tapsec::tls13::Error> : std::true_type {};

namespace tapsec::tls13 {

inline const char* describe(Error e) noexcept {
    switch (e) {
        case Error::bad_record_mac: return "bad record MAC: record failed authentication (tampered, reordered, replayed or wrong key)";
        case Error::record_overflow: return "record overflow: record longer than TLS 1.3 allows";
        case Error::record_size_limit_exceeded: return "record larger than the advertised record_size_limit (RFC 8449)";
        case Error::malformed_record_header: return "malformed record header";
        case Error::unknown_content_type: return "unknown record content type";
        case Error::missing_content_type: return "record plaintext has no content type (all zero padding)";
        case Error::unexpected_record: return "unexpected record type in this state";
        case Error::invalid_change_cipher_spec: return "invalid change_cipher_spec record";
        case Error::sequence_number_exhausted: return "record sequence number exhausted: keys must be updated";
        case Error::key_usage_exhausted: return "key usage limit exceeded without a key update";
        case Error::reassembly_buffer_full: return "too much unprocessed record data buffered";
        case Error::record_layer_not_keyed: return "record layer has no keys for this operation";
        case Error::malformed_handshake_message: return "malformed handshake message";
        case Error::unexpected_handshake_message: return "unexpected handshake message";
        case Error::handshake_message_too_large: return "handshake message too large";
        case Error::illegal_parameter: return "illegal parameter in handshake message";
        case Error::missing_extension: return "required extension missing";
        case Error::unsupported_extension: return "extension not allowed here";
        case Error::duplicate_extension: return "duplicate extension";
        case Error::no_common_cipher_suite: return "no cipher suite in common";
        case Error::no_common_group: return "no key exchange group in common";
        case Error::no_common_signature_scheme: return "no signature scheme in common";
        case Error::protocol_version_mismatch: return "peer does not support TLS 1.3";
        case Error::downgrade_detected: return "downgrade detected (TLS 1.2 sentinel in ServerHello.random)";
        case Error::invalid_hello_retry_request: return "invalid HelloRetryRequest";
        case Error::bad_finished: return "Finished verification failed";
        case Error::bad_certificate_verify: return "CertificateVerify signature invalid";
        case Error::bad_psk_binder: return "PSK binder verification failed";
        case Error::unknown_psk_identity: return "unknown PSK identity";
        case Error::bad_certificate: return "bad certificate";
        case Error::unsupported_certificate: return "unsupported certificate type or key";
        case Error::certificate_expired: return "certificate expired or not yet valid";
        case Error::certificate_untrusted: return "certificate not trusted (unknown CA)";
        case Error::certificate_name_mismatch: return "certificate does not match the server name";
        case Error::certificate_required: return "client certificate required";
        case Error::peer_rejected_by_application: return "peer identity rejected by the application";
        case Error::no_application_protocol: return "no application protocol (ALPN) in common";
        case Error::unrecognized_name: return "server name not recognized";
        case Error::early_data_too_large: return "early data exceeds max_early_data_size";
        case Error::early_data_replayed: return "early data refused: replayed ClientHello or reused ticket";
        case Error::invalid_key_update: return "invalid KeyUpdate message";
        case Error::insufficient_security: return "insufficient security";
        case Error::internal_error: return "internal error";
        case Error::hello_retry_cookie_missing: return "second ClientHello without the HelloRetryRequest cookie";
        case Error::hello_retry_cookie_unknown_key: return "HelloRetryRequest cookie sealed under an unknown key";
        case Error::hello_retry_cookie_invalid: return "HelloRetryRequest cookie failed authentication (altered)";
        case Error::hello_retry_cookie_expired: return "HelloRetryRequest cookie expired";
        case Error::hello_retry_cookie_mismatch:
            return "second ClientHello does not match the HelloRetryRequest cookie (suite, group or session id)";
        case Error::early_data_stale: return "early data refused: ticket age outside the freshness window";
        case Error::early_data_not_with_ticket: return "early data refused: not offered with a ticket of ours as the first PSK";
        case Error::early_data_disabled: return "early data refused: not enabled";
        case Error::early_data_parameters_differ: return "early data refused: cipher suite, ALPN or the ticket's application data (e.g. transport limits) differs";
        case Error::early_data_no_anti_replay: return "early data refused: no anti-replay store configured";
        case Error::early_data_anti_replay_full: return "early data refused: anti-replay store full";
        case Error::early_data_refused_by_server: return "early data refused by the server";
        case Error::early_data_after_hello_retry: return "early data dropped: the server sent a HelloRetryRequest";
        case Error::completed_after_hello_retry: return "handshake completed after a HelloRetryRequest";
        case Error::write_key_updated: return "sending key updated";
        case Error::read_key_updated: return "receiving key updated";
        case Error::interleaved_record:
            return "record of another type between the fragments of a handshake message (RFC 8446 5.1)";
        case Error::early_data_no_session: return "early data not sent as 0-RTT: no resumable session";
        case Error::early_data_not_allowed_by_ticket:
            return "early data not sent as 0-RTT: the session's ticket does not allow early data";
        case Error::early_data_partly_sent:
            return "early data larger than the ticket's max_early_data_size: only its first part went as 0-RTT";
        case Error::group_not_in_provider:
            return "configured group not available with this crypto provider (Botan 2 has no X448; the OpenSSL 3 "
                   "provider has it)";
    }
    return "unknown TLS 1.3 error";
}

/// The shared vocabulary (core/errors.hpp) for each cause. No default: a new cause
/// must be mapped (-Wswitch).
constexpr condition condition_of(Error e) noexcept {
    switch (e) {
        case Error::bad_record_mac:
        case Error::bad_finished:
        case Error::bad_certificate_verify:
        case Error::bad_psk_binder:
        case Error::hello_retry_cookie_invalid: return condition::authentication_failed;
        case Error::record_overflow:
        case Error::record_size_limit_exceeded:
        case Error::malformed_record_header:
        case Error::unknown_content_type:
        case Error::missing_content_type:
        case Error::unexpected_record:
        case Error::interleaved_record:
        case Error::invalid_change_cipher_spec:
        case Error::malformed_handshake_message:
        case Error::unexpected_handshake_message:
        case Error::handshake_message_too_large:
        case Error::illegal_parameter:
        case Error::missing_extension:
        case Error::unsupported_extension:
        case Error::duplicate_extension:
        case Error::downgrade_detected:
        case Error::invalid_hello_retry_request:
        case Error::early_data_too_large:
        case Error::invalid_key_update:
        case Error::hello_retry_cookie_missing:
        case Error::hello_retry_cookie_unknown_key:
        case Error::hello_retry_cookie_mismatch: return condition::peer_misbehaved;
        case Error::no_common_cipher_suite:
        case Error::no_common_group:
        case Error::no_common_signature_scheme:
        case Error::protocol_version_mismatch:
        case Error::unsupported_certificate:
        case Error::no_application_protocol:
        case Error::unrecognized_name:
        case Error::insufficient_security: return condition::peer_incompatible;
        case Error::unknown_psk_identity:
        case Error::bad_certificate:
        case Error::certificate_expired:
        case Error::certificate_untrusted:
        case Error::certificate_name_mismatch:
        case Error::certificate_required:
        case Error::peer_rejected_by_application: return condition::peer_not_trusted;
        case Error::early_data_replayed:
        case Error::early_data_stale:
        case Error::hello_retry_cookie_expired: return condition::replayed;
        case Error::sequence_number_exhausted:
        case Error::key_usage_exhausted:
        case Error::reassembly_buffer_full: return condition::resource_exhausted;
        case Error::record_layer_not_keyed: return condition::not_ready;
        case Error::internal_error: return condition::internal;
        // why 0-RTT was refused (event reasons; the handshake goes on in 1-RTT)
        case Error::early_data_not_with_ticket:
        case Error::early_data_parameters_differ:
        case Error::early_data_refused_by_server:
        case Error::early_data_after_hello_retry: return condition::peer_incompatible;
        case Error::early_data_disabled:
        case Error::early_data_no_anti_replay:
        case Error::early_data_no_session:
        case Error::early_data_not_allowed_by_ticket:
        case Error::early_data_partly_sent:
        case Error::group_not_in_provider: return condition::configuration;
        case Error::early_data_anti_replay_full: return condition::resource_exhausted;
        // informational event reasons, never carried by a failure: no condition fits
        // (the switch must return one; internal is never tested against an event reason).
        case Error::completed_after_hello_retry:
        case Error::write_key_updated:
        case Error::read_key_updated: return condition::internal;
    }
    return condition::internal;
}

/// The alert RFC 8446 prescribes for each cause.
inline AlertDescription alert_for(Error e) noexcept {
    using A = AlertDescription;
    switch (e) {
        case Error::bad_record_mac: return A::bad_record_mac;
        case Error::record_overflow:
        case Error::record_size_limit_exceeded: return A::record_overflow;
        case Error::malformed_record_header: return A::decode_error;
        case Error::unknown_content_type:
        case Error::missing_content_type:
        case Error::unexpected_record:
        case Error::interleaved_record:
        case Error::invalid_change_cipher_spec: return A::unexpected_message;
        case Error::sequence_number_exhausted:
        case Error::key_usage_exhausted:
        case Error::reassembly_buffer_full:
        case Error::record_layer_not_keyed: return A::internal_error;
        case Error::malformed_handshake_message: return A::decode_error;
        case Error::unexpected_handshake_message: return A::unexpected_message;
        case Error::handshake_message_too_large: return A::decode_error;
        case Error::illegal_parameter: return A::illegal_parameter;
        case Error::missing_extension: return A::missing_extension;
        case Error::unsupported_extension: return A::unsupported_extension;
        case Error::duplicate_extension: return A::illegal_parameter;
        case Error::no_common_cipher_suite:
        case Error::no_common_group:
        case Error::no_common_signature_scheme: return A::handshake_failure;
        case Error::protocol_version_mismatch: return A::protocol_version;
        case Error::downgrade_detected: return A::illegal_parameter;
        case Error::invalid_hello_retry_request: return A::illegal_parameter;
        case Error::bad_finished:
        case Error::bad_certificate_verify:
        case Error::bad_psk_binder: return A::decrypt_error;
        case Error::unknown_psk_identity: return A::unknown_psk_identity;
        case Error::bad_certificate: return A::bad_certificate;
        case Error::unsupported_certificate: return A::unsupported_certificate;
        case Error::certificate_expired: return A::certificate_expired;
        case Error::certificate_untrusted: return A::unknown_ca;
        case Error::certificate_name_mismatch: return A::bad_certificate;
        case Error::certificate_required: return A::certificate_required;
        case Error::peer_rejected_by_application: return A::access_denied;
        case Error::no_application_protocol: return A::no_application_protocol;
        case Error::unrecognized_name: return A::unrecognized_name;
        case Error::early_data_too_large: return A::unexpected_message;
        case Error::early_data_replayed: return A::internal_error;  // not fatal: data is refused, handshake goes on
        case Error::invalid_key_update: return A::illegal_parameter;
        case Error::insufficient_security: return A::insufficient_security;
        case Error::internal_error: return A::internal_error;
        case Error::hello_retry_cookie_missing: return A::missing_extension;
        case Error::hello_retry_cookie_unknown_key: return A::illegal_parameter;
        case Error::hello_retry_cookie_invalid: return A::decrypt_error;
        case Error::hello_retry_cookie_expired:
        case Error::hello_retry_cookie_mismatch: return A::illegal_parameter;
        case Error::early_data_stale:  // not fatal: data is refused, handshake goes on
        case Error::early_data_not_with_ticket:
        case Error::early_data_disabled:
        case Error::early_data_parameters_differ:
        case Error::early_data_no_anti_replay:
        case Error::early_data_anti_replay_full:
        case Error::early_data_refused_by_server:
        case Error::early_data_after_hello_retry:
        case Error::early_data_no_session:
        case Error::early_data_not_allowed_by_ticket:
        case Error::early_data_partly_sent:
        case Error::group_not_in_provider:  // refused at start, before any peer
        case Error::completed_after_hello_retry:  // informational: never sent as an alert
        case Error::write_key_updated:
        case Error::read_key_updated: return A::internal_error;
    }
    return A::internal_error;
}

inline const std::error_category& error_category() noexcept {
    static const ProtocolErrorCategory<Error> category("tls13");
    return category;
}

inline std::error_code make_error_code(Error e) noexcept { return {static_cast<int>(e), error_category()}; }

// ---- alerts received from the peer --------------------------------------------------

class PeerAlertCategory final : public std::error_category {
public:
    const char* name() const noexcept override { return "tls13-peer-alert"; }
    std::string message(int value) const override {
        return std::string("peer sent alert ") + to_string(static_cast<AlertDescription>(value));
    }
    /// A received close_notify is a clean close; any other alert the peer's abort.
    std::error_condition default_error_condition(int value) const noexcept override {
        return make_error_condition(static_cast<AlertDescription>(value) == AlertDescription::close_notify
                                        ? condition::closed
                                        : condition::peer_aborted);
    }
};

inline const std::error_category& peer_alert_category() noexcept {
    static const PeerAlertCategory category;
    return category;
}

/// The error an engine reports when the peer's fatal alert arrives.
inline std::error_code peer_alert_error(AlertDescription a) noexcept {
    return {static_cast<int>(a), peer_alert_category()};
}

/// The alert to send for any error this engine may raise: tls13 errors map by
/// `alert_for`, the core's shared codes by their names, anything else is internal.
inline AlertDescription alert_for(const std::error_code& ec) noexcept {
    if (ec.category() == error_category()) return alert_for(static_cast<Error>(ec.value()));
    if (ec.category() == core_category()) {
        switch (static_cast<Errc>(ec.value())) {
            case Errc::decode_error: return AlertDescription::decode_error;
            case Errc::unexpected_message: return AlertDescription::unexpected_message;
            case Errc::bad_record_mac: return AlertDescription::bad_record_mac;
            case Errc::record_overflow: return AlertDescription::record_overflow;
            case Errc::handshake_failure: return AlertDescription::handshake_failure;
            case Errc::certificate_untrusted: return AlertDescription::unknown_ca;
            case Errc::certificate_name_mismatch: return AlertDescription::bad_certificate;
            case Errc::certificate_expired: return AlertDescription::certificate_expired;
            case Errc::invalid_certificate: return AlertDescription::bad_certificate;
            case Errc::peer_rejected_by_application: return AlertDescription::access_denied;
            case Errc::protocol_version: return AlertDescription::protocol_version;
            case Errc::unsupported_algorithm: return AlertDescription::handshake_failure;
            default: break;
        }
    }
    return AlertDescription::internal_error;
}

// ---- the Alert structure (6.) ---------------------------------------------------------

struct Alert {
    AlertLevel level = AlertLevel::fatal;
    AlertDescription description = AlertDescription::internal_error;
};

/// The two alert bytes (the record layer adds the content type and protection).
/// TLS 1.3: every alert but close_notify and user_canceled is fatal (6.2).
inline Bytes encode_alert(AlertDescription description) {
    const bool warning = description == AlertDescription::close_notify || description == AlertDescription::user_canceled;
    return Bytes{static_cast<std::uint8_t>(warning ? AlertLevel::warning : AlertLevel::fatal),
                 static_cast<std::uint8_t>(description)};
}

/// Parses one alert; a fragment that is not exactly two bytes or has an unknown level
/// is a decode_error (Errc::decode_error).
inline Result<Alert> parse_alert(ByteView fragment) {
    if (fragment.size() != 2) return Errc::decode_error;
    if (fragment[0] != 1 && fragment[0] != 2) return Errc::decode_error;
    return Alert{static_cast<AlertLevel>(fragment[0]), static_cast<AlertDescription>(fragment[1])};
}

}  // namespace tapsec::tls13
