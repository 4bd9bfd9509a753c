// MinimaLT's error category: every reason a packet is dropped, a directory record is
// refused or a tunnel fails is its own code, mapped into the shared vocabulary.
#pragma once

#include <system_error>

#include "../core/errors.hpp"

namespace tapsec::minimalt {

enum class Error {
    malformed_packet = 1,       // shorter than its header, or a field out of range
    oversized_packet,           // larger than the largest packet this tunnel sends
    box_failed,                 // the XSalsa20-Poly1305 box did not open (tampered, wrong key)
    replayed_packet,            // packet nonce already seen
    nonce_too_old,              // packet nonce left the replay window
    wrong_nonce_parity,         // a nonce of our own direction (client odd, server even)
    unknown_tunnel,             // tunnel ID names no tunnel of ours
    puzzle_required,            // under load: a tunnel request without a puzzle solution
    puzzle_wrong,               // the solution is not the server's secret
    puzzle_expired,             // the puzzle's validity ended (or it is from another server key)
    puzzle_too_hard,            // a puzzle harder than the signed directory record allows
    malformed_frame,            // an RPC inside an opened box does not parse
    unknown_connection,         // a frame for a connection that is not open
    connection_refused,         // the server refused a create() for a service (or the user)
    user_proof_invalid,         // a createAuth proof did not open to this tunnel's key
    user_not_authorized,        // a proven user the server does not accept (list, or anonymous when users are required)
    malformed_record,           // a directory record does not parse
    record_signature_invalid,   // the Ed25519 signature over a directory record failed
    record_expired,             // the record's ephemeral key is past its expiry
    record_untrusted,           // the record is signed by a key the client does not trust
    wrong_ephemeral_key,        // a tunnel request for a server ephemeral key that is not current
    tunnel_busy,                // this engine serves one tunnel and has one
    send_window_full,           // congestion window and send queue full: try after acks arrive
    handshake_timeout,          // no answer to the tunnel request
    retransmission_limit,       // a packet went unacknowledged too many times
    idle_timeout,               // nothing authentic from the peer for the idle timeout
    not_established,            // data before the tunnel exists
    rekey_in_progress,          // a rekey before the peer followed the previous one
    invalid_configuration,
};

inline const char* describe(Error e) {
    switch (e) {
        case Error::malformed_packet: return "malformed MinimaLT packet";
        case Error::oversized_packet: return "oversized MinimaLT packet";
        case Error::box_failed: return "packet box failed authentication";
        case Error::replayed_packet: return "replayed packet nonce";
        case Error::nonce_too_old: return "packet nonce older than the replay window";
        case Error::wrong_nonce_parity: return "packet nonce of the wrong direction";
        case Error::unknown_tunnel: return "unknown tunnel ID";
        case Error::puzzle_required: return "under load: tunnel request without a puzzle solution";
        case Error::puzzle_wrong: return "wrong puzzle solution";
        case Error::puzzle_expired: return "puzzle expired";
        case Error::puzzle_too_hard: return "puzzle harder than the directory record allows";
        case Error::malformed_frame: return "malformed RPC frame";
        case Error::unknown_connection: return "frame for a connection that is not open";
        case Error::connection_refused: return "connection refused by the server";
        case Error::user_proof_invalid: return "user authentication proof invalid";
        case Error::user_not_authorized: return "user not authorized by the server";
        case Error::malformed_record: return "malformed directory record";
        case Error::record_signature_invalid: return "directory record signature invalid";
        case Error::record_expired: return "directory record expired";
        case Error::record_untrusted: return "directory record signed by an untrusted key";
        case Error::wrong_ephemeral_key: return "tunnel request for a server ephemeral key that is not current";
        case Error::tunnel_busy: return "tunnel request while a tunnel is established";
        case Error::send_window_full: return "send window full";
        case Error::handshake_timeout: return "no answer to the tunnel request";
        case Error::retransmission_limit: return "packet unacknowledged after the retransmission limit";
        case Error::idle_timeout: return "nothing heard from the peer for the idle timeout";
        case Error::not_established: return "tunnel not established";
        case Error::rekey_in_progress: return "previous rekey not yet followed by the peer";
        case Error::invalid_configuration: return "invalid MinimaLT configuration";
    }
    return "unknown MinimaLT error";
}

constexpr condition condition_of(Error e) noexcept {
    switch (e) {
        case Error::box_failed:
        case Error::user_proof_invalid:
        case Error::record_signature_invalid: return condition::authentication_failed;
        case Error::malformed_packet:
        case Error::oversized_packet:
        case Error::wrong_nonce_parity:
        case Error::unknown_tunnel:
        case Error::malformed_frame:
        case Error::unknown_connection:
        case Error::malformed_record:
        case Error::wrong_ephemeral_key:
        case Error::puzzle_wrong:
        case Error::puzzle_too_hard: return condition::peer_misbehaved;
        case Error::replayed_packet:
        case Error::nonce_too_old:
        case Error::puzzle_expired: return condition::replayed;
        case Error::record_expired:
        case Error::user_not_authorized:
        case Error::record_untrusted: return condition::peer_not_trusted;
        case Error::puzzle_required:
        case Error::tunnel_busy:
        case Error::send_window_full: return condition::resource_exhausted;
        case Error::connection_refused: return condition::peer_aborted;
        case Error::handshake_timeout:
        case Error::idle_timeout:
        case Error::retransmission_limit: return condition::timed_out;
        case Error::not_established:
        case Error::rekey_in_progress: return condition::not_ready;
        case Error::invalid_configuration: return condition::configuration;
    }
    return condition::internal;
}

inline const std::error_category& category() noexcept {
    static const ProtocolErrorCategory<Error> instance("minimalt");
    return instance;
}

inline std::error_code make_error_code(Error e) noexcept { return {static_cast<int>(e), category()}; }

}  // namespace tapsec::minimalt

template <>
struct std::is_error_code_enum<tapsec::minimalt::Error> : std::true_type {};
