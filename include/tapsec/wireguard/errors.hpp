// WireGuard's error category: each reason a datagram is dropped or a handshake fails
// is a distinct, named code (and a drop counter in the engine, see DropReason).
#pragma once

#include <system_error>

#include "../core/errors.hpp"

namespace tapsec::wireguard {

enum class Error {
    ok = 0,
    malformed_message = 1,      // wrong length, reserved bytes set, unknown type
    bad_mac1,                   // mac1 does not match our public key
    cookie_required,            // under load and mac2 missing or invalid: a cookie reply was sent
    unknown_peer,               // initiation decrypted a static key that is not configured
    handshake_decrypt_failed,   // an AEAD in the handshake failed (wrong static key, tampering)
    replayed_initiation,        // TAI64N timestamp not newer than the last one seen
    initiation_flood,           // initiations from one peer faster than 50 per second
    unknown_receiver_index,     // receiver index names no handshake or session of ours
    unexpected_response,        // a response or cookie for a handshake not in progress
    bad_cookie_reply,           // cookie reply failed to decrypt
    transport_decrypt_failed,   // transport data failed authentication (tampered, wrong key)
    replayed_counter,           // transport counter already seen
    counter_too_old,            // transport counter left the replay window
    key_expired,                // session older than REJECT_AFTER_TIME or past REJECT_AFTER_MESSAGES
    disallowed_source_address,  // inner packet's source is not in the peer's allowed IPs
    not_an_ip_packet,           // inner packet is neither a well-formed IPv4 nor IPv6 packet
    no_route,                   // no peer's allowed IPs contain the destination
    rejected_by_application,    // the application's identity validator said no
    invalid_public_key,         // X25519 produced the all-zero output (low-order point)
    handshake_timeout,          // no response after REKEY_ATTEMPT_TIME
    handshake_rate_limited,     // under load: more than 20 handshakes/s (burst 5) from one address
    invalid_configuration,
};

inline const char* describe(Error e) {
    switch (e) {
        case Error::ok: return "success";
        case Error::malformed_message: return "malformed WireGuard message";
        case Error::bad_mac1: return "invalid mac1";
        case Error::cookie_required: return "under load: cookie required (mac2 missing or invalid)";
        case Error::unknown_peer: return "handshake from an unknown static public key";
        case Error::handshake_decrypt_failed: return "handshake message failed authentication";
        case Error::replayed_initiation: return "replayed handshake initiation (timestamp not newer)";
        case Error::initiation_flood: return "handshake initiations arriving too fast";
        case Error::unknown_receiver_index: return "unknown receiver index";
        case Error::unexpected_response: return "response or cookie for no handshake in progress";
        case Error::bad_cookie_reply: return "cookie reply failed authentication";
        case Error::transport_decrypt_failed: return "transport data failed authentication";
        case Error::replayed_counter: return "replayed transport counter";
        case Error::counter_too_old: return "transport counter older than the replay window";
        case Error::key_expired: return "session keys expired";
        case Error::disallowed_source_address: return "inner source address not in the peer's allowed IPs";
        case Error::not_an_ip_packet: return "inner packet is not a valid IPv4 or IPv6 packet";
        case Error::no_route: return "no peer's allowed IPs contain the destination";
        case Error::rejected_by_application: return "peer rejected by the application";
        case Error::invalid_public_key: return "invalid public key (all-zero shared secret)";
        case Error::handshake_timeout: return "handshake did not complete (REKEY_ATTEMPT_TIME)";
        case Error::handshake_rate_limited: return "under load: handshake rate from this address exceeded";
        case Error::invalid_configuration: return "invalid WireGuard configuration";
    }
    return "unknown WireGuard error";
}

/// The shared vocabulary (core/errors.hpp) for each reason. No default: a new reason
/// must be mapped (-Wswitch).
constexpr condition condition_of(Error e) noexcept {
    switch (e) {
        case Error::ok: return condition::internal;  // not an error; never in an error_code
        case Error::bad_mac1:
        case Error::handshake_decrypt_failed:
        case Error::bad_cookie_reply:
        case Error::transport_decrypt_failed: return condition::authentication_failed;
        case Error::malformed_message:
        case Error::unknown_receiver_index:
        case Error::unexpected_response:
        case Error::not_an_ip_packet:
        case Error::disallowed_source_address:
        case Error::invalid_public_key: return condition::peer_misbehaved;
        case Error::unknown_peer:
        case Error::rejected_by_application: return condition::peer_not_trusted;
        case Error::replayed_initiation:
        case Error::replayed_counter:
        case Error::counter_too_old: return condition::replayed;
        case Error::cookie_required:
        case Error::initiation_flood:
        case Error::handshake_rate_limited:
        case Error::key_expired: return condition::resource_exhausted;
        case Error::no_route: return condition::not_ready;
        case Error::handshake_timeout: return condition::timed_out;
        case Error::invalid_configuration: return condition::configuration;
    }
    return condition::internal;
}

inline const std::error_category& category() noexcept {
    static const ProtocolErrorCategory<Error> instance("wireguard");
    return instance;
}

inline std::error_code make_error_code(Error e) noexcept { return {static_cast<int>(e), category()}; }

}  // namespace tapsec::wireguard

template <>
struct std::is_error_code_enum<tapsec::wireguard::Error> : std::true_type {};
