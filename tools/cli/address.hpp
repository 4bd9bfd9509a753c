// The one parser for the command line's addresses, shared by every protocol:
//   connect targets  HOST:PORT, [V6]:PORT          (HOST: a name, IPv4 or [IPv6])
//   listen targets   PORT, ADDR:PORT, [V6]:PORT    (ADDR defaults to 0.0.0.0, as openssl s_server)
// Malformed text is a usage error (exit 2); a name that does not resolve is a runtime
// failure that says "cannot resolve HOST: <resolver's reason>".
#pragma once

#include <netdb.h>
#include <sys/socket.h>

#include <charconv>
#include <optional>
#include <string>

#include <tapsec/core/endpoint.hpp>

#include "registry.hpp"

namespace tapsec::cli {

struct HostPort {
    std::string host;  // without brackets
    std::uint16_t port = 0;
    std::string to_string() const { return (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" + std::to_string(port); }
};

namespace address_detail {
inline std::optional<std::uint16_t> port_number(std::string_view text) {
    unsigned value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (text.empty() || ec != std::errc{} || end != text.data() + text.size() || value > 65535) return std::nullopt;
    return static_cast<std::uint16_t>(value);
}
/// Splits "HOST:PORT" / "[V6]:PORT"; an unbracketed IPv6 address is accepted when the
/// last colon clearly ends it ("::1:443" is ::1 port 443).
inline std::optional<HostPort> split(std::string_view text) {
    const auto colon = text.rfind(':');
    if (colon == std::string_view::npos || colon == 0) return std::nullopt;
    std::string_view host = text.substr(0, colon);
    if (host.front() == '[') {
        if (host.size() < 3 || host.back() != ']') return std::nullopt;
        host = host.substr(1, host.size() - 2);
    } else if (host.find_first_of("[]") != std::string_view::npos) {
        return std::nullopt;
    }
    auto port = port_number(text.substr(colon + 1));
    if (!port) return std::nullopt;
    return HostPort{std::string(host), *port};
}
}  // namespace address_detail

/// A connect target: HOST:PORT with a port from 1 to 65535.
inline HostPort parse_host_port(const std::string& text, const std::string& what = "target") {
    auto parsed = address_detail::split(text);
    if (!parsed || parsed->port == 0)
        throw UsageError(what + " '" + text + "' is not HOST:PORT (a name, an IPv4 address or [IPv6], and a port 1-65535)");
    return *parsed;
}

/// A listen target: PORT or ADDR:PORT (port 0 picks a free one).
inline HostPort parse_listen_address(const std::string& text, const std::string& default_address = "0.0.0.0") {
    if (auto port = address_detail::port_number(text)) return {default_address, *port};
    auto parsed = address_detail::split(text);
    if (!parsed) throw UsageError("'" + text + "' is not [ADDR:]PORT (a port 0-65535, optionally after an address or [IPv6]:)");
    return *parsed;
}

/// Resolves a host name or numeric address (getaddrinfo) to its first address of the
/// socket type; on failure `error` says "cannot resolve HOST: <reason>".
inline std::optional<Endpoint> resolve(const std::string& host, std::uint16_t port, int socket_type, std::string& error) {
    if (auto numeric = Endpoint::parse(host, port)) return numeric;
    addrinfo hints{};
    hints.ai_socktype = socket_type;
    hints.ai_family = AF_UNSPEC;
    addrinfo* list = nullptr;
    const int status = ::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &list);
    if (status != 0 || !list) {
        error = "cannot resolve " + host + ": " + (status == EAI_SYSTEM ? std::string(std::strerror(errno)) : ::gai_strerror(status));
        if (list) ::freeaddrinfo(list);
        return std::nullopt;
    }
    std::optional<Endpoint> endpoint;
    for (auto* ai = list; ai && !endpoint; ai = ai->ai_next) endpoint = Endpoint::from_sockaddr(ai->ai_addr, ai->ai_addrlen);
    ::freeaddrinfo(list);
    if (!endpoint) error = "cannot resolve " + host + ": no IPv4 or IPv6 address";
    return endpoint;
}

/// resolve(), a failure thrown as RuntimeFailure (exit 1) for option-reading code.
inline Endpoint resolve_or_throw(const std::string& host, std::uint16_t port, int socket_type) {
    std::string error;
    auto endpoint = resolve(host, port, socket_type, error);
    if (!endpoint) throw RuntimeFailure(error);
    return *endpoint;
}

/// HOST:PORT text resolved for UDP: a usage error if malformed; nullopt and `error` if the
/// name does not resolve.
inline std::optional<Endpoint> resolve_target(const std::string& text, int socket_type, std::string& error,
                                              const std::string& what = "target") {
    const HostPort target = parse_host_port(text, what);
    return resolve(target.host, target.port, socket_type, error);
}

}  // namespace tapsec::cli
