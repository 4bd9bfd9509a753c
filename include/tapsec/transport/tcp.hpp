// Tcp: a connected TCP socket (IPv4 or IPv6), the reliable in-order byte stream
// that TLS and tcpcrypt need. Blocking writes; reads bounded by a deadline; and
// non-blocking try_read_some / try_write for event loops.
#pragma once

#include <netdb.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <cstring>
#include <string>

#include "../core/dependencies.hpp"
#include "../core/features.hpp"
#include "socket.hpp"

namespace tapsec {

class Tcp {
public:
    static constexpr std::string_view name = "TCP";
    using offers = dependencies<dependency::reliable_byte_stream>;
    // TCP's three-way handshake proves the peer receives at its source address before
    // any secure handshake state exists: the survey's "M" for SV on TLS and tcpcrypt.
    using provides = features<feature::SV>;
    using intrinsic = features<feature::SV>;

    /// Connects to host:port (numeric address or a resolvable name), bounded by `timeout`.
    static Result<Tcp> connect(const std::string& host, std::uint16_t port,
                               std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
        addrinfo hints{};
        hints.ai_socktype = SOCK_STREAM;
        addrinfo* list = nullptr;
        std::string h = host;
        if (h.size() > 2 && h.front() == '[') h = h.substr(1, h.size() - 2);
        if (::getaddrinfo(h.c_str(), std::to_string(port).c_str(), &hints, &list) != 0 || !list)
            return Errc::address_invalid;
        std::error_code last = make_error_code(Errc::connection_refused);
        const Instant deadline = Clock::now() + timeout;
        for (auto* ai = list; ai; ai = ai->ai_next) {
            transport_detail::FileDescriptor fd(::socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
            if (!fd.valid()) continue;
            int r = ::connect(fd.get(), ai->ai_addr, ai->ai_addrlen);
            if (r != 0 && errno == EINPROGRESS) {
                if (auto ec = transport_detail::wait_for(fd.get(), POLLOUT, deadline)) {
                    last = ec;
                    continue;
                }
                int err = 0;
                socklen_t len = sizeof err;
                ::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &len);
                r = err ? -1 : 0;
                errno = err;
            }
            if (r != 0) {
                last = errno == ECONNREFUSED ? make_error_code(Errc::connection_refused) : transport_detail::last_error();
                continue;
            }
            ::freeaddrinfo(list);
            return Tcp(std::move(fd));
        }
        ::freeaddrinfo(list);
        return last;
    }

    /// Wraps an accepted or connected socket.
    explicit Tcp(transport_detail::FileDescriptor fd) : fd_(std::move(fd)) {
        int flags = ::fcntl(fd_.get(), F_GETFL);
        ::fcntl(fd_.get(), F_SETFL, flags & ~O_NONBLOCK);
        int one = 1;
        ::setsockopt(fd_.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }

    Result<std::size_t> read_some(MutableByteView out, Instant deadline) {
        if (auto ec = transport_detail::wait_for(fd_.get(), POLLIN, deadline)) return ec;
        for (;;) {
            ssize_t n = ::recv(fd_.get(), out.data(), out.size(), 0);
            if (n >= 0) return static_cast<std::size_t>(n);
            if (errno == EINTR) continue;
            if (errno == ECONNRESET) return Errc::connection_reset;
            return transport_detail::last_error();
        }
    }

    std::error_code write_all(ByteView data) {
        while (!data.empty()) {
            ssize_t n = ::send(fd_.get(), data.data(), data.size(), MSG_NOSIGNAL);
            if (n < 0) {
                if (errno == EINTR) continue;
                if (errno == EPIPE || errno == ECONNRESET) return Errc::connection_reset;
                return transport_detail::last_error();
            }
            data = data.subspan(static_cast<std::size_t>(n));
        }
        return {};
    }

    /// Non-blocking read for an event loop that polls native_handle(): the bytes that have
    /// arrived (0 = end of stream), or Errc::timed_out when none are waiting.
    Result<std::size_t> try_read_some(MutableByteView out) {
        for (;;) {
            ssize_t n = ::recv(fd_.get(), out.data(), out.size(), MSG_DONTWAIT);
            if (n >= 0) return static_cast<std::size_t>(n);
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) return Errc::timed_out;
            if (errno == ECONNRESET) return Errc::connection_reset;
            return transport_detail::last_error();
        }
    }

    /// Non-blocking write: how many bytes of `data` the socket took now (possibly 0).
    Result<std::size_t> try_write(ByteView data) {
        for (;;) {
            ssize_t n = ::send(fd_.get(), data.data(), data.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
            if (n >= 0) return static_cast<std::size_t>(n);
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) return std::size_t{0};
            if (errno == EPIPE || errno == ECONNRESET) return Errc::connection_reset;
            return transport_detail::last_error();
        }
    }

    /// Half-closes our side: the peer sees end of stream, and we can still read its
    /// reply (e.g. its close_notify). The socket is released on destruction.
    void close() {
        if (fd_.valid()) ::shutdown(fd_.get(), SHUT_WR);
    }

    Endpoint peer_endpoint() const {
        sockaddr_storage ss{};
        socklen_t len = sizeof ss;
        if (!fd_.valid() || ::getpeername(fd_.get(), reinterpret_cast<sockaddr*>(&ss), &len) != 0) return {};
        return Endpoint::from_sockaddr(reinterpret_cast<sockaddr*>(&ss), len).value_or(Endpoint{});
    }
    int native_handle() const { return fd_.get(); }

private:
    transport_detail::FileDescriptor fd_;
};

/// A listening TCP socket that accepts Tcp connections.
class TcpListener {
public:
    /// Binds `address` ("127.0.0.1", "::1", "0.0.0.0", "::") and `port` (0 = any free port).
    static Result<TcpListener> bind(const std::string& address, std::uint16_t port) {
        auto ep = Endpoint::parse(address, port);
        if (!ep) return Errc::address_invalid;
        transport_detail::FileDescriptor fd(::socket(ep->family(), SOCK_STREAM | SOCK_CLOEXEC, 0));
        if (!fd.valid()) return transport_detail::last_error();
        int one = 1;
        ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (::bind(fd.get(), ep->sockaddr_ptr(), ep->sockaddr_length()) != 0) return transport_detail::last_error();
        if (::listen(fd.get(), 64) != 0) return transport_detail::last_error();
        TcpListener l;
        l.fd_ = std::move(fd);
        return l;
    }

    Result<Tcp> accept(std::chrono::milliseconds timeout = std::chrono::hours(24)) {
        if (auto ec = transport_detail::wait_for(fd_.get(), POLLIN, Clock::now() + timeout)) return ec;
        int c = ::accept4(fd_.get(), nullptr, nullptr, SOCK_CLOEXEC);
        if (c < 0) return transport_detail::last_error();
        return Tcp(transport_detail::FileDescriptor(c));
    }

    std::uint16_t port() const {
        sockaddr_storage ss{};
        socklen_t len = sizeof ss;
        ::getsockname(fd_.get(), reinterpret_cast<sockaddr*>(&ss), &len);
        return Endpoint::from_sockaddr(reinterpret_cast<sockaddr*>(&ss), len).value_or(Endpoint{}).port();
    }

private:
    transport_detail::FileDescriptor fd_;
};

}  // namespace tapsec
