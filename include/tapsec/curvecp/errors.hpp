// CurveCP's error category: each reason a packet is dropped or a connection fails is a
// distinct, named code. Drops are counted by the engine and reported as rate-limited
// dropped_packet events carrying one of these.
#pragma once

#include <system_error>

#include "../core/errors.hpp"

namespace tapsec::curvecp {

enum class Error {
    ok = 0,
    malformed_packet = 1,     // wrong length for its type, not a multiple of 16, unknown magic
    wrong_extension,          // the packet names another server or client extension
    box_failed,               // a crypto_box did not open: tampered, or the wrong key
    bad_cookie,               // the Initiate's cookie opened under neither minute key, or names another C'
    wrong_server_name,        // the Initiate names another server
    bad_vouch,                // the client's long-term key does not vouch for its short-term key
    replayed_packet,          // nonce already seen (or older than the replay window)
    unexpected_packet,        // a packet type this side does not expect in its state
    unknown_client,           // a Message from a short-term key that has no connection here
    malformed_message,        // the curvecpmessage block inside a packet is inconsistent
    receive_window_exceeded,  // data beyond what the receiver buffers
    peer_failed,              // the peer ended its stream with the failure flag
    rejected_by_application,  // the application's validator refused the client's long-term key
    nonce_exhausted,          // the 64-bit nonce counter would wrap
    no_answer,                // the server never answered a Hello (wrong key, name, extension, or down)
    initiate_unanswered,      // the server answered the Hello but never an Initiate (wrong name, refused, stale cookie)
    send_buffer_full,         // the application wrote faster than the stream drains
    invalid_configuration,    // missing or malformed keys, name or extension
};

inline const char* describe(Error e) {
    switch (e) {
        case Error::ok: return "success";
        case Error::malformed_packet: return "malformed CurveCP packet";
        case Error::wrong_extension: return "CurveCP packet for another extension";
        case Error::box_failed: return "CurveCP box failed authentication";
        case Error::bad_cookie: return "invalid or expired CurveCP cookie";
        case Error::wrong_server_name: return "CurveCP Initiate names another server";
        case Error::bad_vouch: return "client long-term key does not vouch for its short-term key";
        case Error::replayed_packet: return "replayed CurveCP packet";
        case Error::unexpected_packet: return "unexpected CurveCP packet";
        case Error::unknown_client: return "CurveCP message from an unknown client short-term key";
        case Error::malformed_message: return "malformed curvecpmessage block";
        case Error::receive_window_exceeded: return "curvecpmessage data beyond the receive window";
        case Error::peer_failed: return "peer ended its stream with failure";
        case Error::rejected_by_application: return "client key rejected by the application";
        case Error::nonce_exhausted: return "CurveCP nonce space exhausted";
        case Error::no_answer: return "no answer from the CurveCP server (wrong server key, name or extension, or not running)";
        case Error::initiate_unanswered:
            return "the CurveCP server answered the Hello but not the Initiate (wrong server name, client refused, or an expired cookie)";
        case Error::send_buffer_full: return "CurveCP send buffer full";
        case Error::invalid_configuration: return "invalid CurveCP configuration";
    }
    return "unknown CurveCP error";
}

/// The shared vocabulary (core/errors.hpp). No default: a new value must be mapped.
constexpr condition condition_of(Error e) noexcept {
    switch (e) {
        case Error::ok: return condition::internal;  // never in an error_code
        case Error::box_failed:
        case Error::bad_cookie:
        case Error::bad_vouch: return condition::authentication_failed;
        case Error::malformed_packet:
        case Error::wrong_extension:
        case Error::wrong_server_name:
        case Error::unexpected_packet:
        case Error::unknown_client:
        case Error::malformed_message: return condition::peer_misbehaved;
        case Error::replayed_packet: return condition::replayed;
        case Error::receive_window_exceeded:
        case Error::nonce_exhausted:
        case Error::send_buffer_full: return condition::resource_exhausted;
        case Error::peer_failed: return condition::peer_aborted;
        case Error::rejected_by_application: return condition::peer_not_trusted;
        case Error::no_answer:
        case Error::initiate_unanswered: return condition::timed_out;
        case Error::invalid_configuration: return condition::configuration;
    }
    return condition::internal;
}

inline const std::error_category& category() noexcept {
    static const ProtocolErrorCategory<Error> instance("curvecp");
    return instance;
}

inline std::error_code make_error_code(Error e) noexcept { return {static_cast<int>(e), category()}; }

}  // namespace tapsec::curvecp

template <>
struct std::is_error_code_enum<tapsec::curvecp::Error> : std::true_type {};
