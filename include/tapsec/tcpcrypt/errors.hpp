// tcpcrypt's error category: each reason a key exchange or a frame fails is a named code.
#pragma once

#include <system_error>

#include "../core/errors.hpp"

namespace tapsec::tcpcrypt {

enum class Error {
    malformed_init1 = 1,       // Init1 shorter than its fields, bad counts, or message_len inconsistent
    malformed_init2,           // the same for Init2
    bad_magic,                 // the key-exchange message does not start with INIT1_MAGIC / INIT2_MAGIC
    init_too_large,            // message_len beyond this implementation's limit (an attacker's length)
    no_common_aead,            // Init1 lists no AEAD algorithm this host enables
    aead_not_offered,          // Init2 picks an AEAD algorithm that Init1 did not offer
    bad_public_key,            // PK_A / PK_B is not a valid point for the TEP's group
    unsupported_tep,           // ENO negotiated a TEP this host does not run
    malformed_frame,           // a frame's length cannot hold the control byte and the tag
    frame_authentication_failed,  // a frame's tag does not verify (tampered, replayed, reordered)
    reserved_control_bits,     // a frame's control byte sets bits RFC 8548 reserves
    truncated_stream,          // the stream ended inside a key-exchange message or a frame
    bad_resumption_identifier, // role B's resumption identifier does not match ours
    unexpected_resumption,     // role B resumed a session this host did not offer to resume
    eno_not_negotiated,        // TCP-ENO failed and the configuration does not allow plain TCP
    not_established,           // application data before the key exchange finished
    invalid_configuration,
};

inline const char* describe(Error e) {
    switch (e) {
        case Error::malformed_init1: return "malformed tcpcrypt Init1";
        case Error::malformed_init2: return "malformed tcpcrypt Init2";
        case Error::bad_magic: return "tcpcrypt key-exchange message with the wrong magic number";
        case Error::init_too_large: return "tcpcrypt key-exchange message larger than accepted";
        case Error::no_common_aead: return "tcpcrypt: no AEAD algorithm in common";
        case Error::aead_not_offered: return "tcpcrypt Init2 chose an AEAD algorithm Init1 did not offer";
        case Error::bad_public_key: return "tcpcrypt: invalid ECDHE public key";
        case Error::unsupported_tep: return "tcpcrypt: TCP-ENO negotiated a TEP this host does not run";
        case Error::malformed_frame: return "malformed tcpcrypt frame";
        case Error::frame_authentication_failed: return "tcpcrypt frame failed authentication";
        case Error::reserved_control_bits: return "tcpcrypt frame sets reserved control bits";
        case Error::truncated_stream: return "tcpcrypt stream ended inside a message or frame";
        case Error::bad_resumption_identifier: return "tcpcrypt: the peer's resumption identifier does not match";
        case Error::unexpected_resumption: return "tcpcrypt: the peer resumed a session that was not offered";
        case Error::eno_not_negotiated: return "TCP-ENO did not negotiate tcpcrypt and plain TCP is not allowed";
        case Error::not_established: return "tcpcrypt: no keys yet";
        case Error::invalid_configuration: return "invalid tcpcrypt configuration";
    }
    return "unknown tcpcrypt error";
}

constexpr condition condition_of(Error e) noexcept {
    switch (e) {
        case Error::malformed_init1:
        case Error::malformed_init2:
        case Error::bad_magic:
        case Error::aead_not_offered:
        case Error::bad_public_key:
        case Error::malformed_frame:
        case Error::reserved_control_bits:
        case Error::unexpected_resumption: return condition::peer_misbehaved;
        case Error::init_too_large: return condition::resource_exhausted;
        case Error::no_common_aead:
        case Error::unsupported_tep:
        case Error::eno_not_negotiated: return condition::peer_incompatible;
        case Error::frame_authentication_failed:
        case Error::bad_resumption_identifier: return condition::authentication_failed;
        case Error::truncated_stream: return condition::truncated;
        case Error::not_established: return condition::not_ready;
        case Error::invalid_configuration: return condition::configuration;
    }
    return condition::internal;
}

inline const std::error_category& error_category() {
    static const ProtocolErrorCategory<Error> category("tcpcrypt");
    return category;
}
inline std::error_code make_error_code(Error e) { return {static_cast<int>(e), error_category()}; }

}  // namespace tapsec::tcpcrypt

template <>
struct std::is_error_code_enum<tapsec::tcpcrypt::Error> : std::true_type {};
