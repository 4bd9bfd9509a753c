// A network endpoint (IPv4 or IPv6 address and port), parsed from "HOST:PORT" or
// "[V6]:PORT". Used by datagram transports for roaming and source validation.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <charconv>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

namespace tapsec {

class Endpoint {
public:
    Endpoint() { std::memset(&storage_, 0, sizeof storage_); }

    static std::optional<Endpoint> from_sockaddr(const sockaddr* sa, socklen_t len) {
        Endpoint e;
        if (len > sizeof e.storage_ || (sa->sa_family != AF_INET && sa->sa_family != AF_INET6)) return std::nullopt;
        std::memcpy(&e.storage_, sa, len);
        e.length_ = len;
        return e;
    }

    /// Numeric address and port only: "127.0.0.1", "::1", "[::1]:443", "127.0.0.1:443".
    static std::optional<Endpoint> parse(std::string_view host, std::uint16_t port) {
        if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
        if (host == "localhost") host = "127.0.0.1";
        std::string h(host);
        Endpoint e;
        auto* v4 = reinterpret_cast<sockaddr_in*>(&e.storage_);
        auto* v6 = reinterpret_cast<sockaddr_in6*>(&e.storage_);
        if (inet_pton(AF_INET, h.c_str(), &v4->sin_addr) == 1) {
            v4->sin_family = AF_INET;
            v4->sin_port = htons(port);
            e.length_ = sizeof(sockaddr_in);
            return e;
        }
        std::memset(&e.storage_, 0, sizeof e.storage_);
        if (inet_pton(AF_INET6, h.c_str(), &v6->sin6_addr) == 1) {
            v6->sin6_family = AF_INET6;
            v6->sin6_port = htons(port);
            e.length_ = sizeof(sockaddr_in6);
            return e;
        }
        return std::nullopt;
    }

    /// "HOST:PORT" with HOST numeric or "localhost"; IPv6 in brackets.
    static std::optional<Endpoint> parse(std::string_view host_port) {
        auto colon = host_port.rfind(':');
        if (colon == std::string_view::npos) return std::nullopt;
        auto host = host_port.substr(0, colon);
        auto port_text = host_port.substr(colon + 1);
        unsigned port = 0;
        auto [ptr, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
        if (ec != std::errc{} || ptr != port_text.data() + port_text.size() || port > 65535) return std::nullopt;
        if (host.find(':') != std::string_view::npos && host.front() != '[') return std::nullopt;
        return parse(host, static_cast<std::uint16_t>(port));
    }

    bool valid() const noexcept { return length_ != 0; }
    int family() const noexcept { return storage_.ss_family; }
    const sockaddr* sockaddr_ptr() const noexcept { return reinterpret_cast<const sockaddr*>(&storage_); }
    socklen_t sockaddr_length() const noexcept { return length_; }

    std::uint16_t port() const noexcept {
        if (family() == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in*>(&storage_)->sin_port);
        if (family() == AF_INET6) return ntohs(reinterpret_cast<const sockaddr_in6*>(&storage_)->sin6_port);
        return 0;
    }

    std::string address() const {
        char text[INET6_ADDRSTRLEN] = {};
        if (family() == AF_INET)
            inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&storage_)->sin_addr, text, sizeof text);
        else if (family() == AF_INET6)
            inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&storage_)->sin6_addr, text, sizeof text);
        return text;
    }

    std::string to_string() const {
        if (!valid()) return "(none)";
        return family() == AF_INET6 ? "[" + address() + "]:" + std::to_string(port())
                                    : address() + ":" + std::to_string(port());
    }

    friend bool operator==(const Endpoint& a, const Endpoint& b) noexcept {
        return a.length_ == b.length_ && std::memcmp(&a.storage_, &b.storage_, a.length_) == 0;
    }

private:
    sockaddr_storage storage_;
    socklen_t length_ = 0;
};

}  // namespace tapsec
