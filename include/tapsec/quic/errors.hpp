// QUIC errors: our own causes (one std::error_code category, "quic"), mapped into the
// shared vocabulary, and the RFC 9000 20.1 transport error codes each cause is sent as
// in CONNECTION_CLOSE (or that a received CONNECTION_CLOSE carried).
#pragma once

#include <cstdint>
#include <system_error>

#include "../core/errors.hpp"

namespace tapsec::quic {

/// RFC 9000 Section 20.1 transport error codes (CRYPTO_ERROR is 0x0100 + TLS alert).
enum class TransportError : std::uint64_t {
    no_error = 0x00,
    internal_error = 0x01,
    connection_refused = 0x02,
    flow_control_error = 0x03,
    stream_limit_error = 0x04,
    stream_state_error = 0x05,
    final_size_error = 0x06,
    frame_encoding_error = 0x07,
    transport_parameter_error = 0x08,
    connection_id_limit_error = 0x09,
    protocol_violation = 0x0a,
    invalid_token = 0x0b,
    application_error = 0x0c,
    crypto_buffer_exceeded = 0x0d,
    key_update_error = 0x0e,
    aead_limit_reached = 0x0f,
    no_viable_path = 0x10,
    crypto_error_base = 0x0100,
};

enum class Error {
    // malformed input (decoders)
    bad_varint = 1,           // a variable-length integer runs past its input
    malformed_header,         // a packet header that cannot be parsed
    malformed_frame,          // a frame that cannot be parsed (FRAME_ENCODING_ERROR)
    unknown_frame_type,       // a frame type RFC 9000 does not define (FRAME_ENCODING_ERROR)
    frame_not_allowed,        // a frame in a packet type that may not carry it (PROTOCOL_VIOLATION)
    malformed_transport_parameters,  // (TRANSPORT_PARAMETER_ERROR)
    invalid_transport_parameter,     // a value out of range or a server-only one from a client
    // packets dropped without closing (RFC 9000 12.2 / RFC 9001 5.5)
    unknown_version,          // a long header with a version we do not speak
    packet_authentication_failed,  // AEAD open failed (tampered, or wrong keys)
    header_protection_failed,      // too short to sample / reserved bits set after removal
    no_keys_for_level,        // a packet at an encryption level we have no keys for (yet, or any more)
    unknown_connection_id,    // a short header packet for another connection
    duplicate_packet,         // a packet number already received
    bad_retry_integrity,      // a Retry whose integrity tag does not verify
    // connection errors
    flow_control_violation,   // the peer sent beyond a limit we advertised (FLOW_CONTROL_ERROR)
    stream_limit_violation,   // the peer opened more streams than allowed (STREAM_LIMIT_ERROR)
    stream_state_violation,   // a frame for a stream in a state that forbids it (STREAM_STATE_ERROR)
    final_size_violation,     // data beyond, or a change of, a stream's final size (FINAL_SIZE_ERROR)
    crypto_buffer_exceeded,   // too much out-of-order handshake data (CRYPTO_BUFFER_EXCEEDED)
    protocol_violation,       // anything else RFC 9000 calls PROTOCOL_VIOLATION
    no_application_protocol,  // no ALPN agreed (RFC 9001 8.1)
    peer_closed_with_error,   // the peer sent CONNECTION_CLOSE with a non-zero code
    idle_timeout,             // no packet from the peer within the idle timeout
    handshake_timeout,        // the handshake did not finish in time
    stream_blocked,           // send blocked by the peer's flow control (try again)
    unknown_stream,           // an application call for a stream that does not exist
    // address validation, connection IDs, paths (RFC 9000 8, 5.1, 10.3, 9)
    invalid_token,            // a token that does not open, is expired or names another address (dropped)
    connection_id_limit_exceeded,  // the peer gave more CIDs than our active_connection_id_limit
    stateless_reset,          // the peer ended the connection with a Stateless Reset (10.3)
    path_validation_failed,   // a new peer address did not answer PATH_CHALLENGE (9.3.2)
    // DATAGRAM frames (RFC 9221)
    unexpected_datagram,      // the peer sent DATAGRAM though we did not advertise max_datagram_frame_size (PROTOCOL_VIOLATION)
    oversized_datagram,       // the peer sent a DATAGRAM frame larger than we advertised (PROTOCOL_VIOLATION)
    datagrams_not_supported,  // send_datagram: the peer did not advertise max_datagram_frame_size (or we did not enable it)
    datagram_too_large,       // send_datagram: larger than the peer's limit or than fits in one packet
    datagram_queue_full,      // send_datagram: the bounded send queue is full (try again)
    // a server endpoint (endpoint.hpp)
    connection_refused,       // the endpoint is full: the client's Initial was answered with CONNECTION_REFUSED
};

inline const char* describe(Error e) {
    switch (e) {
        case Error::bad_varint: return "truncated variable-length integer";
        case Error::malformed_header: return "malformed packet header";
        case Error::malformed_frame: return "malformed frame";
        case Error::unknown_frame_type: return "unknown frame type";
        case Error::frame_not_allowed: return "frame not allowed in this packet type";
        case Error::malformed_transport_parameters: return "malformed transport parameters";
        case Error::invalid_transport_parameter: return "invalid transport parameter";
        case Error::unknown_version: return "unsupported QUIC version";
        case Error::packet_authentication_failed: return "packet failed authentication";
        case Error::header_protection_failed: return "header protection could not be removed";
        case Error::no_keys_for_level: return "no keys for the packet's encryption level";
        case Error::unknown_connection_id: return "unknown connection ID";
        case Error::duplicate_packet: return "duplicate packet number";
        case Error::bad_retry_integrity: return "Retry integrity tag does not verify";
        case Error::flow_control_violation: return "peer exceeded flow control limit";
        case Error::stream_limit_violation: return "peer exceeded stream limit";
        case Error::stream_state_violation: return "frame not allowed in the stream's state";
        case Error::final_size_violation: return "stream final size violated";
        case Error::crypto_buffer_exceeded: return "too much buffered handshake data";
        case Error::protocol_violation: return "QUIC protocol violation";
        case Error::no_application_protocol: return "no application protocol negotiated";
        case Error::peer_closed_with_error: return "peer closed the connection with an error";
        case Error::idle_timeout: return "idle timeout";
        case Error::handshake_timeout: return "handshake timeout";
        case Error::stream_blocked: return "stream blocked by flow control";
        case Error::unknown_stream: return "unknown stream";
        case Error::invalid_token: return "invalid address validation token";
        case Error::connection_id_limit_exceeded: return "peer exceeded active_connection_id_limit";
        case Error::stateless_reset: return "connection reset by the peer (stateless reset)";
        case Error::path_validation_failed: return "path validation failed";
        case Error::unexpected_datagram: return "DATAGRAM frame received but not negotiated";
        case Error::oversized_datagram: return "DATAGRAM frame larger than our max_datagram_frame_size";
        case Error::datagrams_not_supported: return "peer does not support DATAGRAM frames (no max_datagram_frame_size)";
        case Error::datagram_too_large: return "datagram too large for the peer's limit or the path MTU";
        case Error::datagram_queue_full: return "datagram send queue full";
        case Error::connection_refused: return "connection refused (the server endpoint is at its connection limit)";
    }
    return "unknown QUIC error";
}

constexpr condition condition_of(Error e) noexcept {
    switch (e) {
        case Error::bad_varint:
        case Error::malformed_header:
        case Error::malformed_frame:
        case Error::unknown_frame_type:
        case Error::frame_not_allowed:
        case Error::malformed_transport_parameters:
        case Error::invalid_transport_parameter:
        case Error::unknown_connection_id:
        case Error::flow_control_violation:
        case Error::stream_limit_violation:
        case Error::stream_state_violation:
        case Error::final_size_violation:
        case Error::crypto_buffer_exceeded:
        case Error::protocol_violation:
        case Error::connection_id_limit_exceeded:
        case Error::no_keys_for_level: return condition::peer_misbehaved;
        case Error::invalid_token: return condition::authentication_failed;
        case Error::stateless_reset: return condition::peer_aborted;
        case Error::path_validation_failed: return condition::timed_out;
        case Error::unexpected_datagram:
        case Error::oversized_datagram: return condition::peer_misbehaved;
        case Error::datagrams_not_supported: return condition::peer_incompatible;
        case Error::datagram_too_large: return condition::invalid_argument;
        case Error::datagram_queue_full:
        case Error::connection_refused: return condition::resource_exhausted;
        case Error::unknown_version:
        case Error::no_application_protocol: return condition::peer_incompatible;
        case Error::packet_authentication_failed:
        case Error::header_protection_failed:
        case Error::bad_retry_integrity: return condition::authentication_failed;
        case Error::duplicate_packet: return condition::replayed;
        case Error::peer_closed_with_error: return condition::peer_aborted;
        case Error::idle_timeout:
        case Error::handshake_timeout: return condition::timed_out;
        case Error::stream_blocked: return condition::resource_exhausted;
        case Error::unknown_stream: return condition::invalid_argument;
    }
    return condition::internal;
}

inline std::error_code make_error_code(Error e) {
    static const ProtocolErrorCategory<Error> category("quic");
    return {static_cast<int>(e), category};
}

/// The RFC 9000 code a local failure is reported to the peer with.
constexpr TransportError transport_error_for(Error e) noexcept {
    switch (e) {
        case Error::bad_varint:
        case Error::malformed_frame:
        case Error::unknown_frame_type: return TransportError::frame_encoding_error;
        case Error::malformed_transport_parameters:
        case Error::invalid_transport_parameter: return TransportError::transport_parameter_error;
        case Error::flow_control_violation: return TransportError::flow_control_error;
        case Error::stream_limit_violation: return TransportError::stream_limit_error;
        case Error::stream_state_violation: return TransportError::stream_state_error;
        case Error::final_size_violation: return TransportError::final_size_error;
        case Error::crypto_buffer_exceeded: return TransportError::crypto_buffer_exceeded;
        case Error::connection_id_limit_exceeded: return TransportError::connection_id_limit_error;
        case Error::invalid_token: return TransportError::invalid_token;
        case Error::no_application_protocol: return TransportError::crypto_error_base;  // + alert 120, set by the caller
        case Error::malformed_header:
        case Error::frame_not_allowed:
        case Error::unexpected_datagram:
        case Error::oversized_datagram:
        case Error::protocol_violation:
        case Error::unknown_connection_id:
        case Error::no_keys_for_level: return TransportError::protocol_violation;
        case Error::unknown_version:
        case Error::packet_authentication_failed:
        case Error::header_protection_failed:
        case Error::duplicate_packet:
        case Error::bad_retry_integrity:
        case Error::peer_closed_with_error:
        case Error::idle_timeout:
        case Error::handshake_timeout:
        case Error::stream_blocked:
        case Error::stateless_reset:
        case Error::path_validation_failed:
        case Error::datagrams_not_supported:
        case Error::datagram_too_large:
        case Error::datagram_queue_full:
        case Error::unknown_stream: return TransportError::internal_error;
        case Error::connection_refused: return TransportError::connection_refused;
    }
    return TransportError::internal_error;
}

}  // namespace tapsec::quic

template <>
struct std::is_error_code_enum<tapsec::quic::Error> : std::true_type {};
