// Errors: one std::error_code category for the core (transports, framework,
// generic protocol failures) and a helper to define one category per protocol.
// Parsers return errors; nothing here throws on bad input from the network.
#pragma once

#include <concepts>
#include <string>
#include <system_error>
#include <utility>
#include <variant>

namespace tapsec {

enum class Errc {
    // transport
    connection_refused = 1,
    connection_reset,
    timed_out,
    address_invalid,
    // framework / configuration
    invalid_configuration = 20,
    invalid_certificate,
    invalid_private_key,
    unsupported_algorithm,
    not_connected,
    already_connected,
    private_key_mismatch,  // the private key is not the one the (leaf) certificate certifies
    // generic protocol outcomes shared by every protocol
    handshake_failure = 40,
    decode_error,
    unexpected_message,
    bad_record_mac,
    record_overflow,
    truncated = 46,       // the peer's stream ended without an authenticated close
    closed,               // clean, authenticated close
    certificate_untrusted,
    certificate_name_mismatch,
    certificate_expired,
    peer_rejected_by_application,
    protocol_version = 53,
    internal_error = 55,
};

/// One vocabulary over every protocol's precise codes (as Boost.Beast's conditions):
/// each protocol keeps its own enum and category, and every category maps each of its
/// values to one of these, so `ec == tapsec::condition::authentication_failed` holds
/// for a TLS 1.3 bad Finished, a WireGuard bad MAC and an SRTP tag failure alike.
enum class condition {
    authentication_failed = 1,  // a MAC, AEAD tag, Finished, signature or PSK binder did not verify
    peer_not_trusted,           // the peer's identity is not accepted: unknown CA, wrong name, expired, unknown key, vetoed
    peer_misbehaved,            // malformed or unexpected message: the peer (or the network) broke the protocol
    peer_incompatible,          // no version, algorithm, profile or application protocol in common
    peer_aborted,               // the peer ended the connection with a fatal alert
    truncated,                  // the connection ended without an authenticated close
    replayed,                   // a message seen before, or too old for the replay window
    timed_out,
    closed,                     // clean, authenticated close
    configuration,              // the local configuration (keys, certificates, names, options) is unusable
    resource_exhausted,         // a limit was reached: key usage, sequence numbers, buffers, rates, streams
    not_ready,                  // the operation is not valid in this state (not connected, not keyed)
    invalid_argument,           // the application passed what the protocol cannot carry (or no room for it)
    network,                    // the transport failed: refused, reset, unreachable, bad address
    internal,                   // a bug, or a failure in a library underneath
};

inline const char* describe(condition c) noexcept {
    switch (c) {
        case condition::authentication_failed: return "authentication failed";
        case condition::peer_not_trusted: return "peer not trusted";
        case condition::peer_misbehaved: return "peer violated the protocol";
        case condition::peer_incompatible: return "nothing in common with the peer";
        case condition::peer_aborted: return "peer aborted the connection";
        case condition::truncated: return "connection truncated";
        case condition::replayed: return "replayed";
        case condition::timed_out: return "timed out";
        case condition::closed: return "connection closed";
        case condition::configuration: return "invalid configuration";
        case condition::resource_exhausted: return "limit reached";
        case condition::not_ready: return "not valid in this state";
        case condition::invalid_argument: return "invalid argument";
        case condition::network: return "network failure";
        case condition::internal: return "internal error";
    }
    return "unknown tapsec condition";
}

class ConditionCategory final : public std::error_category {
public:
    const char* name() const noexcept override { return "tapsec.condition"; }
    std::string message(int value) const override { return describe(static_cast<condition>(value)); }
    /// Protocol categories map themselves (default_error_condition); the operating
    /// system's codes, which the transports pass through, are mapped here.
    bool equivalent(const std::error_code& code, int value) const noexcept override {
        if (code.category().default_error_condition(code.value()) == std::error_condition(value, *this)) return true;
        if (code.category() == std::generic_category() || code.category() == std::system_category()) {
            if (!code) return false;
            const auto c = static_cast<condition>(value);
            if (code == std::errc::timed_out) return c == condition::timed_out;
            if (code == std::errc::not_enough_memory || code == std::errc::too_many_files_open ||
                code == std::errc::no_buffer_space)
                return c == condition::resource_exhausted;
            return c == condition::network;
        }
        return false;
    }
};

inline const std::error_category& condition_category() noexcept {
    static const ConditionCategory category;
    return category;
}

inline std::error_condition make_error_condition(condition c) noexcept {
    return {static_cast<int>(c), condition_category()};
}

/// The core codes' conditions. No default: a new enumerator must be mapped (-Wswitch).
constexpr condition condition_of(Errc e) noexcept {
    switch (e) {
        case Errc::connection_refused:
        case Errc::connection_reset:
        case Errc::address_invalid: return condition::network;
        case Errc::timed_out: return condition::timed_out;
        case Errc::invalid_configuration:
        case Errc::invalid_certificate:
        case Errc::invalid_private_key:
        case Errc::private_key_mismatch:
        case Errc::unsupported_algorithm: return condition::configuration;
        case Errc::not_connected:
        case Errc::already_connected: return condition::not_ready;
        case Errc::handshake_failure:
        case Errc::protocol_version: return condition::peer_incompatible;
        case Errc::decode_error:
        case Errc::unexpected_message:
        case Errc::record_overflow: return condition::peer_misbehaved;
        case Errc::bad_record_mac: return condition::authentication_failed;
        case Errc::truncated: return condition::truncated;
        case Errc::closed: return condition::closed;
        case Errc::certificate_untrusted:
        case Errc::certificate_name_mismatch:
        case Errc::certificate_expired:
        case Errc::peer_rejected_by_application: return condition::peer_not_trusted;
        case Errc::internal_error: return condition::internal;
    }
    return condition::internal;
}

class CoreErrorCategory final : public std::error_category {
public:
    const char* name() const noexcept override { return "tapsec"; }
    std::string message(int value) const override {
        switch (static_cast<Errc>(value)) {
            case Errc::connection_refused: return "connection refused";
            case Errc::connection_reset: return "connection reset by peer";
            case Errc::timed_out: return "timed out";
            case Errc::address_invalid: return "invalid address";
            case Errc::invalid_configuration: return "invalid configuration";
            case Errc::invalid_certificate: return "invalid or unreadable certificate";
            case Errc::invalid_private_key: return "invalid or unreadable private key";
            case Errc::unsupported_algorithm: return "unsupported algorithm";
            case Errc::not_connected: return "not connected";
            case Errc::already_connected: return "already connected";
            case Errc::private_key_mismatch: return "the private key does not match the certificate";
            case Errc::handshake_failure: return "handshake failure";
            case Errc::decode_error: return "malformed message";
            case Errc::unexpected_message: return "unexpected message";
            case Errc::bad_record_mac: return "bad record MAC (record failed authentication)";
            case Errc::record_overflow: return "record too large";
            case Errc::truncated: return "connection truncated: stream ended without close_notify";
            case Errc::closed: return "connection closed by peer";
            case Errc::certificate_untrusted: return "certificate not trusted (no path to a trusted CA)";
            case Errc::certificate_name_mismatch: return "certificate name mismatch";
            case Errc::certificate_expired: return "certificate expired or not yet valid";
            case Errc::peer_rejected_by_application: return "peer identity rejected by the application";
            case Errc::protocol_version: return "protocol version not supported";
            case Errc::internal_error: return "internal error";
        }
        return "unknown tapsec error";
    }
    std::error_condition default_error_condition(int value) const noexcept override {
        return make_error_condition(condition_of(static_cast<Errc>(value)));
    }
};

inline const std::error_category& core_category() noexcept {
    static const CoreErrorCategory category;
    return category;
}

inline std::error_code make_error_code(Errc e) noexcept { return {static_cast<int>(e), core_category()}; }

/// A value or an error code: what every fallible operation returns. Ignoring one
/// ignores an error, hence [[nodiscard]].
template <class T>
class [[nodiscard]] Result {
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

/// A protocol enum that maps each of its values to a tapsec::condition: a function
/// `condition condition_of(E)` found by ADL, declared before the category is used.
template <class E>
concept MapsToCondition = requires(E e) {
    { condition_of(e) } -> std::same_as<condition>;
};

/// Shorthand for a protocol's own error category: an enum E with functions
/// `const char* describe(E)` and `condition condition_of(E)` found by ADL, and a
/// category name. The conditions make `ec == tapsec::condition::...` work.
template <class E>
    requires MapsToCondition<E>
class ProtocolErrorCategory final : public std::error_category {
public:
    explicit ProtocolErrorCategory(const char* name) : name_(name) {}
    const char* name() const noexcept override { return name_; }
    std::string message(int value) const override { return describe(static_cast<E>(value)); }
    std::error_condition default_error_condition(int value) const noexcept override {
        return make_error_condition(condition_of(static_cast<E>(value)));
    }

private:
    const char* name_;
};

}  // namespace tapsec

template <>
struct std::is_error_code_enum<tapsec::Errc> : std::true_type {};
template <>
struct std::is_error_condition_enum<tapsec::condition> : std::true_type {};
