// IKEv2's error category (RFC 7296): each reason a message is refused or an exchange
// fails is its own code. The notify-derived ones name the error notification the
// peer sent us (or we sent it).
#pragma once

#include <system_error>

#include "../core/errors.hpp"

namespace tapsec::ikev2 {

enum class Error {
    malformed_message = 1,      // header or payload chain does not parse (lengths, version, reserved)
    unsupported_critical_payload,  // an unknown payload with the critical bit (RFC 7296 2.5)
    invalid_syntax,             // a required payload missing or one that does not belong in this exchange
    unknown_spi,                // the IKE SPIs name no SA of ours
    unexpected_message,         // a response to no request, a message ID out of window, a wrong exchange
    integrity_check_failed,     // the SK payload failed authentication (tampered, wrong keys)
    no_proposal_chosen,         // no offered proposal is acceptable (sent or received NO_PROPOSAL_CHOSEN)
    invalid_ke_payload,         // the KE group is not the one selected (sent or received INVALID_KE_PAYLOAD)
    authentication_failed,      // the AUTH payload did not verify (sent or received AUTHENTICATION_FAILED)
    identity_mismatch,          // the peer's ID is not the configured remote identity
    ts_unacceptable,            // traffic selectors do not fit the policy (sent or received TS_UNACCEPTABLE)
    invalid_key_exchange_data,  // the peer's public value is not a point of the group
    cookie_required,            // the responder asked for a cookie (handled internally)
    invalid_cookie,             // an IKE_SA_INIT carried a cookie we did not issue
    peer_error_notify,          // the peer answered with another error notification
    retransmission_timeout,     // no response after the last retransmission
    child_sa_not_established,   // the IKE SA is up but the Child SA was refused
    inner_packet_rejected,      // an inner packet outside the negotiated traffic selectors
    not_an_ip_packet,           // an inner packet that is not a well-formed IPv4 / IPv6 packet, or not the next header's
    deleted,                    // the peer deleted the IKE SA (clean close)
    invalid_configuration,      // identities, PSK or traffic selectors missing or unusable
    certificate_untrusted,      // the peer's certificate chain does not validate against the configured CA
    certificate_identity_mismatch,  // the peer's ID is not one its certificate names
    signature_scheme_unsupported,   // the peer's AUTH names a signature scheme we do not verify or announce
    eap_failed,                 // EAP ended in EAP-Failure (wrong EAP secret, unknown user, method refused)
    eap_malformed,              // an EAP message that does not parse (length, code) or a method request we cannot answer
    eap_unexpected,             // an EAP message out of place (wrong code or identifier, Success before the method ran)
    eap_required,               // the responder demands EAP and the initiator sent AUTH instead (or the reverse)
    internal_address_failure,   // no inner address assigned: the pool is exhausted, or no CFG_REPLY answered our request
    unexpected_configuration_payload,  // a CP of the wrong type or that answers no request (CFG_REPLY unasked)
    invalid_fragment,           // an SKF whose numbers or Next Payload break RFC 7383 2.5, or one not negotiated
    fragment_limit_exceeded,    // more fragments, or more reassembled octets, than the configured limits
    fragment_superseded,        // an SKF with fewer Total Fragments than those already held (RFC 7383 2.6)
    malformed_traffic_selector, // a selector whose Selector Length does not fit its type (16: IPv4, 40: IPv6) or is cut short
    inverted_traffic_selector,  // a selector whose starting address lies above its ending address
    ticket_invalid,             // RFC 5723: a ticket no key of ours opens (another issuer's, altered, truncated)
    ticket_expired,             // RFC 5723: a ticket past its lifetime (responder), or one we hold (initiator)
    ticket_replayed,            // RFC 5723: a ticket presented a second time (tickets are single use)
    ticket_identity_mismatch,   // RFC 5723: a ticket for other identities than this IKE SA's
    ticket_refused,             // RFC 5723: the responder answered IKE_SESSION_RESUME with N(TICKET_NACK)
    resumption_unavailable,     // RFC 5723: resumption not configured here, or the used-ticket store is full
};

inline const char* describe(Error e) {
    switch (e) {
        case Error::malformed_message: return "malformed IKEv2 message";
        case Error::unsupported_critical_payload: return "unsupported critical payload";
        case Error::invalid_syntax: return "IKEv2 message lacks a required payload or has one out of place";
        case Error::unknown_spi: return "IKEv2 message for an unknown IKE SA";
        case Error::unexpected_message: return "unexpected IKEv2 message (message ID or exchange)";
        case Error::integrity_check_failed: return "IKEv2 encrypted payload failed authentication";
        case Error::no_proposal_chosen: return "no acceptable proposal (NO_PROPOSAL_CHOSEN)";
        case Error::invalid_ke_payload: return "key exchange group not accepted (INVALID_KE_PAYLOAD)";
        case Error::authentication_failed: return "peer authentication failed (AUTHENTICATION_FAILED)";
        case Error::identity_mismatch: return "peer identity is not the configured remote identity";
        case Error::ts_unacceptable: return "traffic selectors unacceptable (TS_UNACCEPTABLE)";
        case Error::invalid_key_exchange_data: return "invalid key exchange public value";
        case Error::cookie_required: return "responder requires a cookie";
        case Error::invalid_cookie: return "invalid or stale IKEv2 cookie";
        case Error::peer_error_notify: return "peer sent an error notification";
        case Error::retransmission_timeout: return "no IKEv2 response after all retransmissions";
        case Error::child_sa_not_established: return "IKE SA established but the Child SA was refused";
        case Error::inner_packet_rejected: return "inner packet outside the negotiated traffic selectors";
        case Error::not_an_ip_packet: return "inner packet is not a valid IPv4 or IPv6 packet (or not the one its ESP next header names)";
        case Error::deleted: return "IKE SA deleted by the peer";
        case Error::invalid_configuration: return "invalid IKEv2 configuration";
        case Error::certificate_untrusted:
            return "peer certificate chain not trusted by the configured CA (AUTHENTICATION_FAILED)";
        case Error::certificate_identity_mismatch:
            return "peer identity is not named in its certificate (AUTHENTICATION_FAILED)";
        case Error::signature_scheme_unsupported:
            return "peer signature scheme not supported or not announced (AUTHENTICATION_FAILED)";
        case Error::eap_failed: return "EAP authentication failed: EAP-Failure (AUTHENTICATION_FAILED)";
        case Error::eap_malformed: return "malformed EAP message (AUTHENTICATION_FAILED)";
        case Error::eap_unexpected: return "unexpected EAP message (code or identifier) (AUTHENTICATION_FAILED)";
        case Error::eap_required:
            return "EAP and AUTH mismatch: one side expects EAP, the other authenticated without it (AUTHENTICATION_FAILED)";
        case Error::internal_address_failure:
            return "no inner address assigned: pool exhausted or no CFG_REPLY to our CFG_REQUEST (INTERNAL_ADDRESS_FAILURE)";
        case Error::unexpected_configuration_payload:
            return "configuration payload out of place (a CFG_REPLY that answers no request, or the wrong CFG type)";
        case Error::invalid_fragment:
            return "invalid IKE fragment (Fragment Number 0 or above Total Fragments, wrong Next Payload, or not negotiated)";
        case Error::fragment_limit_exceeded: return "IKE fragments beyond the limits (fragment count or reassembled size)";
        case Error::fragment_superseded:
            return "IKE fragment with fewer Total Fragments than those held: discarded (RFC 7383 2.6)";
        case Error::malformed_traffic_selector:
            return "malformed traffic selector (Selector Length not 16 for TS_IPV4_ADDR_RANGE or 40 for TS_IPV6_ADDR_RANGE)";
        case Error::inverted_traffic_selector: return "traffic selector whose starting address is above its ending address";
        case Error::ticket_invalid:
            return "IKEv2 resumption ticket not sealed by a key of ours, altered or malformed (TICKET_NACK)";
        case Error::ticket_expired: return "IKEv2 resumption ticket expired (TICKET_NACK)";
        case Error::ticket_replayed: return "IKEv2 resumption ticket already used: tickets are single use (TICKET_NACK)";
        case Error::ticket_identity_mismatch: return "IKEv2 resumption ticket issued for other identities";
        case Error::ticket_refused: return "the responder refused our resumption ticket (TICKET_NACK)";
        case Error::resumption_unavailable:
            return "IKEv2 session resumption not available (no ticket issuer, or the used-ticket store is full)";
    }
    return "unknown IKEv2 error";
}

constexpr condition condition_of(Error e) noexcept {
    switch (e) {
        case Error::malformed_message:
        case Error::invalid_syntax:
        case Error::unknown_spi:
        case Error::unexpected_message:
        case Error::invalid_key_exchange_data:
        case Error::invalid_cookie:
        case Error::inner_packet_rejected:
        case Error::not_an_ip_packet: return condition::peer_misbehaved;
        case Error::unsupported_critical_payload:
        case Error::no_proposal_chosen:
        case Error::invalid_ke_payload:
        case Error::ts_unacceptable:
        case Error::child_sa_not_established: return condition::peer_incompatible;
        case Error::integrity_check_failed:
        case Error::authentication_failed: return condition::authentication_failed;
        case Error::identity_mismatch:
        case Error::certificate_untrusted:
        case Error::certificate_identity_mismatch: return condition::peer_not_trusted;
        case Error::signature_scheme_unsupported: return condition::peer_incompatible;
        case Error::eap_failed: return condition::authentication_failed;
        case Error::eap_malformed:
        case Error::eap_unexpected: return condition::peer_misbehaved;
        case Error::eap_required: return condition::peer_incompatible;
        case Error::internal_address_failure: return condition::resource_exhausted;
        case Error::unexpected_configuration_payload: return condition::peer_misbehaved;
        case Error::invalid_fragment:
        case Error::fragment_superseded: return condition::peer_misbehaved;
        case Error::fragment_limit_exceeded: return condition::resource_exhausted;
        case Error::malformed_traffic_selector:
        case Error::inverted_traffic_selector: return condition::peer_misbehaved;
        case Error::ticket_invalid:
        case Error::ticket_replayed: return condition::peer_misbehaved;
        case Error::ticket_expired: return condition::timed_out;
        case Error::ticket_identity_mismatch: return condition::peer_not_trusted;
        case Error::ticket_refused: return condition::peer_incompatible;
        case Error::resumption_unavailable: return condition::resource_exhausted;
        case Error::cookie_required: return condition::not_ready;
        case Error::peer_error_notify: return condition::peer_aborted;
        case Error::retransmission_timeout: return condition::timed_out;
        case Error::deleted: return condition::closed;
        case Error::invalid_configuration: return condition::configuration;
    }
    return condition::internal;
}

inline std::error_code make_error_code(Error e) {
    static const ProtocolErrorCategory<Error> category("ikev2");
    return {static_cast<int>(e), category};
}

}  // namespace tapsec::ikev2

template <>
struct std::is_error_code_enum<tapsec::ikev2::Error> : std::true_type {};
