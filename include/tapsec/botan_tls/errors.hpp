// Errors from Botan's TLS/DTLS stack, mapped to tapsec error codes.
//
// Locally detected failures use the core Errc where it names the cause (bad record
// MAC, certificate untrusted / name mismatch / expired, truncation, ...). A fatal
// alert *received from the peer* is reported in its own category, "tls-alert", whose
// value is the alert's wire code (RFC 5246 7.2), so "the peer said unknown_ca" and
// "we found the CA unknown" stay distinct.
#pragma once

#include <string>
#include <system_error>

#include <botan/tls_alert.h>

#include "../core/errors.hpp"

namespace tapsec::botan_tls {

class PeerAlertCategory final : public std::error_category {
public:
    const char* name() const noexcept override { return "tls-alert"; }
    std::string message(int value) const override {
        Botan::TLS::Alert alert(static_cast<Botan::TLS::Alert::Type>(value), true);
        return "peer sent fatal alert: " + alert.type_string();
    }
    /// A received close_notify is a clean close; any other alert the peer's abort.
    std::error_condition default_error_condition(int value) const noexcept override {
        return make_error_condition(value == Botan::TLS::Alert::CLOSE_NOTIFY ? condition::closed : condition::peer_aborted);
    }
};

inline const std::error_category& peer_alert_category() noexcept {
    static const PeerAlertCategory category;
    return category;
}

/// A fatal alert that the peer sent us.
[[nodiscard]] inline std::error_code peer_alert_error(Botan::TLS::Alert::Type type) noexcept {
    return {static_cast<int>(type), peer_alert_category()};
}

/// The alert Botan sends (or would send) for a local failure, as a tapsec error.
[[nodiscard]] inline std::error_code local_alert_error(Botan::TLS::Alert::Type type) noexcept {
    using A = Botan::TLS::Alert;
    switch (type) {
        case A::BAD_RECORD_MAC: return Errc::bad_record_mac;
        case A::DECODE_ERROR:
        case A::ILLEGAL_PARAMETER: return Errc::decode_error;
        case A::UNEXPECTED_MESSAGE: return Errc::unexpected_message;
        case A::RECORD_OVERFLOW: return Errc::record_overflow;
        case A::PROTOCOL_VERSION:
        case A::INAPPROPRIATE_FALLBACK: return Errc::protocol_version;
        case A::UNKNOWN_CA: return Errc::certificate_untrusted;
        case A::CERTIFICATE_EXPIRED: return Errc::certificate_expired;
        case A::INTERNAL_ERROR: return Errc::internal_error;
        default: return Errc::handshake_failure;
    }
}

}  // namespace tapsec::botan_tls
