// SRTP's own error category: each value one named reason a packet was refused.
#pragma once

#include <system_error>

#include "../core/errors.hpp"

namespace tapsec::srtp {

enum class Error {
    ok = 0,
    malformed_rtp_header = 1,  // not version 2, or header/CSRC list/extension runs past the packet
    malformed_rtcp_header,     // not version 2, or shorter than the 8-byte RTCP header
    truncated_packet,          // too short to hold the header, the tag (and the SRTCP index)
    authentication_failed,     // the tag did not verify: tampered, wrong key or wrong profile
    replayed,                  // this packet index was already received
    too_old,                   // the index is behind the replay window
    key_reuse,                 // protect called twice for the same packet index (keystream reuse)
    key_exhausted,             // the 2^48 SRTP / 2^31 SRTCP index space is used up: re-key
    invalid_key_length,        // master key or salt length does not fit the profile
    unsupported_profile,       // a protection profile this implementation does not implement
    buffer_too_small,          // no room after the packet for the tag (see srtp::max_overhead)
    too_many_streams,          // more SSRCs than SessionOptions::max_streams
    packet_too_large,          // larger than any datagram (and than AES-CM's 2^16-block keystream)
    not_rtp_or_rtcp,           // protect()/unprotect(): the first bytes are neither RTP nor RTCP (RFC 7983)
};

inline const char* describe(Error e) {
    switch (e) {
        case Error::ok: return "success";
        case Error::malformed_rtp_header: return "malformed RTP header";
        case Error::malformed_rtcp_header: return "malformed RTCP header";
        case Error::truncated_packet: return "packet too short for its header, tag and index";
        case Error::authentication_failed: return "SRTP/SRTCP authentication failed (tampered packet, wrong key or wrong profile)";
        case Error::replayed: return "replayed SRTP/SRTCP packet";
        case Error::too_old: return "packet index is behind the replay window";
        case Error::key_reuse: return "packet index already protected once (refusing keystream reuse)";
        case Error::key_exhausted: return "SRTP/SRTCP index space exhausted: re-key";
        case Error::invalid_key_length: return "master key or salt length does not match the protection profile";
        case Error::unsupported_profile: return "unsupported SRTP protection profile";
        case Error::buffer_too_small: return "no room in the buffer for the SRTP/SRTCP trailer";
        case Error::too_many_streams: return "too many SSRCs in one SRTP session";
        case Error::packet_too_large: return "packet larger than the largest datagram";
        case Error::not_rtp_or_rtcp: return "not an RTP or RTCP packet";
    }
    return "unknown SRTP error";
}

/// The shared vocabulary (core/errors.hpp) for each reason. No default: a new reason
/// must be mapped (-Wswitch).
constexpr condition condition_of(Error e) noexcept {
    switch (e) {
        case Error::ok: return condition::internal;  // not an error; never in an error_code
        case Error::authentication_failed: return condition::authentication_failed;
        case Error::malformed_rtp_header:
        case Error::malformed_rtcp_header:
        case Error::truncated_packet:
        case Error::packet_too_large:
        case Error::not_rtp_or_rtcp: return condition::peer_misbehaved;
        case Error::replayed:
        case Error::too_old: return condition::replayed;
        case Error::key_reuse:
        case Error::key_exhausted:
        case Error::too_many_streams: return condition::resource_exhausted;
        case Error::buffer_too_small: return condition::invalid_argument;
        case Error::invalid_key_length:
        case Error::unsupported_profile: return condition::configuration;
    }
    return condition::internal;
}

inline const std::error_category& error_category() noexcept {
    static const ProtocolErrorCategory<Error> category("tapsec.srtp");
    return category;
}

inline std::error_code make_error_code(Error e) noexcept { return {static_cast<int>(e), error_category()}; }

}  // namespace tapsec::srtp

template <>
struct std::is_error_code_enum<tapsec::srtp::Error> : std::true_type {};
