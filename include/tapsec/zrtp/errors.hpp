// ZRTP's error category: every reason a packet is dropped or a handshake fails is a
// distinct, named code. `ErrorCode` is the other thing: the numeric codes of the ZRTP
// Error message itself (RFC 6189 5.9), which travel on the wire.
#pragma once

#include <cstdint>
#include <system_error>

#include "../core/errors.hpp"

namespace tapsec::zrtp {

enum class Error {
    ok = 0,
    // framing (RFC 6189 5: packet header, message preamble, CRC)
    truncated_packet = 1,       // shorter than header + message header + CRC, or than its length field says
    oversized_packet,           // larger than any message this implementation accepts
    not_zrtp,                   // first octet or magic cookie are not ZRTP's
    bad_crc,                    // CRC-32C trailer does not match
    bad_preamble,               // message does not start with 0x505a
    length_mismatch,            // length field disagrees with the datagram
    unknown_message_type,       // type block names no ZRTP message
    malformed_message,          // a message's fixed layout or counts are wrong
    // sequencing and flow
    replayed_packet,            // sequence number not newer than the last accepted one
    ssrc_changed,               // the peer's ZRTP source identifier changed mid-handshake
    unexpected_message,         // legal message, wrong state
    hello_changed,              // a retransmitted Hello differs from the first one
    commit_changed,             // a retransmitted Commit differs from the first one
    // negotiation (RFC 6189 4.1.2, 5.1)
    unsupported_version,        // Hello version is not 1.1x
    equal_zids,                 // the peer's Hello carries our ZID (Error 0x90)
    no_common_algorithm,        // no key agreement / auth tag / SAS type in common
    unsupported_hash,           // Commit picks a hash we did not offer (Error 0x51)
    unsupported_cipher,         // (Error 0x52)
    unsupported_key_agreement,  // (Error 0x53)
    unsupported_auth_tag,       // (Error 0x54)
    unsupported_sas,            // (Error 0x55)
    unsupported_mode,           // Preshared or Multistream Commit (not implemented)
    // authentication of the exchange (RFC 6189 4.4, 9)
    bad_hash_chain,             // a revealed hash image does not hash to the earlier one
    bad_hello_mac,              // the Hello MAC fails under the later-revealed H2
    bad_commit_mac,             // the Commit MAC fails under the later-revealed H1
    bad_dhpart_mac,             // the DHPart MAC fails under the later-revealed H0
    hvi_mismatch,               // hvi != hash(DHPart2 || responder's Hello) (Error 0x62)
    bad_public_value,           // pv of the wrong size or not a valid point (Error 0x61)
    bad_confirm_mac,            // Confirm MAC fails (Error 0x70)
    // outcomes
    peer_error,                 // the peer sent an Error message
    handshake_timeout,          // retransmissions exhausted (Error 0xb0)
    not_keyed,                  // media before SRTP is keyed
    not_rtp_or_rtcp,            // only RTP/RTCP can be sent once keyed
    invalid_configuration,
};

inline const char* describe(Error e) {
    switch (e) {
        case Error::ok: return "success";
        case Error::truncated_packet: return "truncated ZRTP packet";
        case Error::oversized_packet: return "ZRTP packet larger than any accepted message";
        case Error::not_zrtp: return "not a ZRTP packet (first octet or magic cookie)";
        case Error::bad_crc: return "ZRTP packet CRC-32C mismatch";
        case Error::bad_preamble: return "ZRTP message preamble is not 0x505a";
        case Error::length_mismatch: return "ZRTP message length field disagrees with the packet";
        case Error::unknown_message_type: return "unknown ZRTP message type";
        case Error::malformed_message: return "malformed ZRTP message";
        case Error::replayed_packet: return "replayed or stale ZRTP packet (sequence number)";
        case Error::ssrc_changed: return "the peer's ZRTP source identifier changed";
        case Error::unexpected_message: return "ZRTP message not expected in this state";
        case Error::hello_changed: return "retransmitted Hello differs from the first";
        case Error::commit_changed: return "retransmitted Commit differs from the first";
        case Error::unsupported_version: return "unsupported ZRTP protocol version";
        case Error::equal_zids: return "the peer uses our ZID";
        case Error::no_common_algorithm: return "no ZRTP algorithm in common with the peer";
        case Error::unsupported_hash: return "Commit selects a hash type that was not offered";
        case Error::unsupported_cipher: return "Commit selects a cipher type that was not offered";
        case Error::unsupported_key_agreement: return "Commit selects a key agreement type that was not offered";
        case Error::unsupported_auth_tag: return "Commit selects an SRTP auth tag type that was not offered";
        case Error::unsupported_sas: return "Commit selects a SAS type that was not offered";
        case Error::unsupported_mode: return "Preshared and Multistream modes are not implemented";
        case Error::bad_hash_chain: return "revealed hash image does not match the hash chain";
        case Error::bad_hello_mac: return "Hello MAC does not verify under the revealed H2";
        case Error::bad_commit_mac: return "Commit MAC does not verify under the revealed H1";
        case Error::bad_dhpart_mac: return "DHPart MAC does not verify under the revealed H0";
        case Error::hvi_mismatch: return "hvi does not match hash(DHPart2 || responder Hello)";
        case Error::bad_public_value: return "invalid Diffie-Hellman public value";
        case Error::bad_confirm_mac: return "Confirm MAC does not verify";
        case Error::peer_error: return "the peer sent a ZRTP Error message";
        case Error::handshake_timeout: return "ZRTP retransmissions exhausted";
        case Error::not_keyed: return "SRTP is not keyed yet: the ZRTP exchange has not finished";
        case Error::not_rtp_or_rtcp: return "only RTP or RTCP packets can be sent over ZRTP-keyed SRTP";
        case Error::invalid_configuration: return "invalid ZRTP configuration";
    }
    return "unknown ZRTP error";
}

/// Each cause's place in tapsec's one error vocabulary (core/errors.hpp). No default:
/// a new enumerator must be mapped.
constexpr condition condition_of(Error e) noexcept {
    switch (e) {
        case Error::ok: return condition::internal;  // not an error; never in an error_code
        case Error::truncated_packet:
        case Error::oversized_packet:
        case Error::not_zrtp:
        case Error::bad_crc:
        case Error::bad_preamble:
        case Error::length_mismatch:
        case Error::unknown_message_type:
        case Error::malformed_message:
        case Error::ssrc_changed:
        case Error::unexpected_message:
        case Error::hello_changed:
        case Error::commit_changed:
        case Error::equal_zids:
        case Error::bad_public_value: return condition::peer_misbehaved;
        case Error::replayed_packet: return condition::replayed;
        case Error::unsupported_version:
        case Error::no_common_algorithm:
        case Error::unsupported_hash:
        case Error::unsupported_cipher:
        case Error::unsupported_key_agreement:
        case Error::unsupported_auth_tag:
        case Error::unsupported_sas:
        case Error::unsupported_mode: return condition::peer_incompatible;
        case Error::bad_hash_chain:
        case Error::bad_hello_mac:
        case Error::bad_commit_mac:
        case Error::bad_dhpart_mac:
        case Error::hvi_mismatch:
        case Error::bad_confirm_mac: return condition::authentication_failed;
        case Error::peer_error: return condition::peer_aborted;
        case Error::handshake_timeout: return condition::timed_out;
        case Error::not_keyed: return condition::not_ready;
        case Error::not_rtp_or_rtcp: return condition::invalid_argument;
        case Error::invalid_configuration: return condition::configuration;
    }
    return condition::internal;
}

inline const std::error_category& category() noexcept {
    static const ProtocolErrorCategory<Error> instance("zrtp");
    return instance;
}

inline std::error_code make_error_code(Error e) noexcept { return {static_cast<int>(e), category()}; }

/// The Error message's codes (RFC 6189 5.9), as sent and received on the wire.
enum class ErrorCode : std::uint32_t {
    malformed_packet = 0x10,
    critical_software_error = 0x20,
    unsupported_version = 0x30,
    hello_components_mismatch = 0x40,
    hash_type_not_supported = 0x51,
    cipher_type_not_supported = 0x52,
    key_exchange_not_supported = 0x53,
    auth_tag_not_supported = 0x54,
    sas_scheme_not_supported = 0x55,
    no_shared_secret = 0x56,
    bad_public_value = 0x61,
    hvi_mismatch = 0x62,
    untrusted_mitm = 0x63,
    bad_confirm_mac = 0x70,
    nonce_reuse = 0x80,
    equal_zids = 0x90,
    ssrc_collision = 0x91,
    service_unavailable = 0xa0,
    protocol_timeout = 0xb0,
    goclear_not_allowed = 0x100,
};

}  // namespace tapsec::zrtp

template <>
struct std::is_error_code_enum<tapsec::zrtp::Error> : std::true_type {};
