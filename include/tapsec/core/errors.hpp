// Errors: one std::error_code category for the core (transports, framework,
// generic protocol failures) and a helper to define one category per protocol.
// Parsers return errors; nothing here throws on bad input from the network.
#pragma once

#include <string>
#include <system_error>
#include <utility>
#include <variant>

namespace tapsec {

enum class Errc {
    ok = 0,
    // transport
    connection_refused = 1,
    connection_reset,
    timed_out,
    address_invalid,
    socket_failure,
    // framework / configuration
    invalid_configuration = 20,
    invalid_certificate,
    invalid_private_key,
    unsupported_algorithm,
    not_connected,
    already_connected,
    // generic protocol outcomes shared by every protocol
    handshake_failure = 40,
    decode_error,
    unexpected_message,
    bad_record_mac,
    record_overflow,
    replayed,
    truncated,            // the peer's stream ended without an authenticated close
    closed,               // clean, authenticated close
    certificate_untrusted,
    certificate_name_mismatch,
    certificate_expired,
    peer_rejected_by_application,
    peer_alert,
    protocol_version,
    key_exhausted,
    internal_error,
};

class CoreErrorCategory final : public std::error_category {
public:
    const char* name() const noexcept override { return "tapsec"; }
    std::string message(int value) const override {
        switch (static_cast<Errc>(value)) {
            case Errc::ok: return "success";
            case Errc::connection_refused: return "connection refused";
            case Errc::connection_reset: return "connection reset by peer";
            case Errc::timed_out: return "timed out";
            case Errc::address_invalid: return "invalid address";
            case Errc::socket_failure: return "socket failure";
            case Errc::invalid_configuration: return "invalid configuration";
            case Errc::invalid_certificate: return "invalid or unreadable certificate";
            case Errc::invalid_private_key: return "invalid or unreadable private key";
            case Errc::unsupported_algorithm: return "unsupported algorithm";
            case Errc::not_connected: return "not connected";
            case Errc::already_connected: return "already connected";
            case Errc::handshake_failure: return "handshake failure";
            case Errc::decode_error: return "malformed message";
            case Errc::unexpected_message: return "unexpected message";
            case Errc::bad_record_mac: return "bad record MAC (record failed authentication)";
            case Errc::record_overflow: return "record too large";
            case Errc::replayed: return "replayed packet";
            case Errc::truncated: return "connection truncated: stream ended without close_notify";
            case Errc::closed: return "connection closed by peer";
            case Errc::certificate_untrusted: return "certificate not trusted (no path to a trusted CA)";
            case Errc::certificate_name_mismatch: return "certificate name mismatch";
            case Errc::certificate_expired: return "certificate expired or not yet valid";
            case Errc::peer_rejected_by_application: return "peer identity rejected by the application";
            case Errc::peer_alert: return "peer sent a fatal alert";
            case Errc::protocol_version: return "protocol version not supported";
            case Errc::key_exhausted: return "key usage limit reached";
            case Errc::internal_error: return "internal error";
        }
        return "unknown tapsec error";
    }
};

inline const std::error_category& core_category() noexcept {
    static const CoreErrorCategory category;
    return category;
}

inline std::error_code make_error_code(Errc e) noexcept { return {static_cast<int>(e), core_category()}; }

/// A value or an error code: what every fallible operation returns.
template <class T>
class Result {
public:
    Result(T value) : state_(std::move(value)) {}
    Result(std::error_code error) : state_(error) {}
    Result(Errc error) : state_(make_error_code(error)) {}

    bool ok() const noexcept { return state_.index() == 0; }
    explicit operator bool() const noexcept { return ok(); }
    T& value() & { return std::get<0>(state_); }
    const T& value() const& { return std::get<0>(state_); }
    T&& value() && { return std::get<0>(std::move(state_)); }
    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }
    T& operator*() & { return value(); }
    std::error_code error() const noexcept { return ok() ? std::error_code{} : std::get<1>(state_); }

private:
    std::variant<T, std::error_code> state_;
};

/// Shorthand for a protocol's own error category: an enum E with a function
/// `const char* describe(E)` found by ADL, and a category name.
template <class E>
class ProtocolErrorCategory final : public std::error_category {
public:
    explicit ProtocolErrorCategory(const char* name) : name_(name) {}
    const char* name() const noexcept override { return name_; }
    std::string message(int value) const override { return describe(static_cast<E>(value)); }

private:
    const char* name_;
};

}  // namespace tapsec

template <>
struct std::is_error_code_enum<tapsec::Errc> : std::true_type {};
