// ESP's error category (RFC 4303): each reason an ESP packet is refused is its own code.
#pragma once

#include <system_error>

#include "../core/errors.hpp"

namespace tapsec::esp {

enum class Error {
    malformed_packet = 1,   // shorter than SPI | sequence | IV | ICV, or ciphertext too short for the trailer
    unknown_spi,            // the SPI names no inbound SA of ours
    authentication_failed,  // the ICV (AEAD tag or truncated HMAC) did not verify (tampered, wrong key)
    replayed,               // sequence number already received
    too_old,                // sequence number left the anti-replay window
    bad_padding,            // pad length beyond the payload or padding bytes not 1, 2, 3, ...
    sequence_exhausted,     // no more sequence numbers under this SA (2^32 - 1 without ESN): rekey needed
    not_keyed,              // no SA imported yet
    invalid_keys,           // imported keys of the wrong length or an unsupported algorithm
    payload_too_large,      // the inner packet does not fit the caller's buffer
};

inline const char* describe(Error e) {
    switch (e) {
        case Error::malformed_packet: return "malformed ESP packet";
        case Error::unknown_spi: return "ESP packet for an unknown SPI";
        case Error::authentication_failed: return "ESP packet failed authentication (ICV)";
        case Error::replayed: return "replayed ESP sequence number";
        case Error::too_old: return "ESP sequence number older than the replay window";
        case Error::bad_padding: return "ESP padding is malformed";
        case Error::sequence_exhausted: return "ESP sequence numbers exhausted (rekey required)";
        case Error::not_keyed: return "no ESP security association installed";
        case Error::invalid_keys: return "ESP keys do not fit the algorithm";
        case Error::payload_too_large: return "ESP payload too large for the buffer";
    }
    return "unknown ESP error";
}

constexpr condition condition_of(Error e) noexcept {
    switch (e) {
        case Error::malformed_packet:
        case Error::unknown_spi:
        case Error::bad_padding: return condition::peer_misbehaved;
        case Error::authentication_failed: return condition::authentication_failed;
        case Error::replayed:
        case Error::too_old: return condition::replayed;
        case Error::sequence_exhausted: return condition::resource_exhausted;
        case Error::not_keyed: return condition::not_ready;
        case Error::invalid_keys: return condition::configuration;
        case Error::payload_too_large: return condition::invalid_argument;
    }
    return condition::internal;
}

inline std::error_code make_error_code(Error e) {
    static const ProtocolErrorCategory<Error> category("esp");
    return {static_cast<int>(e), category};
}

}  // namespace tapsec::esp

template <>
struct std::is_error_code_enum<tapsec::esp::Error> : std::true_type {};
