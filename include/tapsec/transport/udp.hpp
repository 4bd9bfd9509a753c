// Udp: a UDP socket (IPv4 or IPv6), the datagram service of DTLS, QUIC, SRTP,
// WireGuard and CurveCP. Unconnected, so a peer may roam: every receive reports
// the source, and the default destination can be changed (connection mobility).
#pragma once

#include <sys/socket.h>

#include "../core/dependencies.hpp"
#include "../core/features.hpp"
#include "socket.hpp"

namespace tapsec {

class Udp {
public:
    static constexpr std::string_view name = "UDP";
    using offers = dependencies<dependency::datagram>;
    using provides = features<>;

    /// Binds `local` ("127.0.0.1", "::1"; port 0 = any) and sends to `peer` by default
    /// (an invalid peer means "reply to whoever spoke last", for servers).
    static Result<Udp> bind(const std::string& local, std::uint16_t port, Endpoint peer = {}) {
        auto ep = Endpoint::parse(local, port);
        if (!ep) return Errc::address_invalid;
        transport_detail::FileDescriptor fd(::socket(ep->family(), SOCK_DGRAM | SOCK_CLOEXEC, 0));
        if (!fd.valid()) return transport_detail::last_error();
        int one = 1;
        ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (::bind(fd.get(), ep->sockaddr_ptr(), ep->sockaddr_length()) != 0) return transport_detail::last_error();
        Udp u;
        u.fd_ = std::move(fd);
        u.peer_ = peer;
        return u;
    }

    /// A client socket on an ephemeral port of the right family, sending to `peer`.
    static Result<Udp> connect(const Endpoint& peer) {
        return bind(peer.family() == AF_INET6 ? "::" : "0.0.0.0", 0, peer);
    }

    Result<std::size_t> receive_from(MutableByteView out, Instant deadline, Endpoint& from) {
        for (;;) {
            if (auto ec = transport_detail::wait_for(fd_.get(), POLLIN, deadline)) return ec;
            sockaddr_storage ss{};
            socklen_t len = sizeof ss;
            ssize_t n = ::recvfrom(fd_.get(), out.data(), out.size(), MSG_TRUNC, reinterpret_cast<sockaddr*>(&ss), &len);
            if (n < 0) {
                if (errno == EINTR || errno == ECONNREFUSED) continue;  // ICMP port unreachable from an earlier send
                return transport_detail::last_error();
            }
            if (static_cast<std::size_t>(n) > out.size()) continue;  // oversized datagram: dropped, never truncated
            if (auto ep = Endpoint::from_sockaddr(reinterpret_cast<sockaddr*>(&ss), len)) from = *ep;
            if (!peer_.valid()) peer_ = from;  // a server answers whoever spoke first
            return static_cast<std::size_t>(n);
        }
    }

    std::error_code send_to(ByteView data, const Endpoint& to) {
        if (!to.valid()) return Errc::not_connected;
        for (;;) {
            ssize_t n = ::sendto(fd_.get(), data.data(), data.size(), 0, to.sockaddr_ptr(), to.sockaddr_length());
            if (n >= 0) return {};
            if (errno == EINTR) continue;
            if (errno == ECONNREFUSED) return {};  // datagram semantics: loss, not failure
            return transport_detail::last_error();
        }
    }

    /// Asks the kernel for a receive buffer of `bytes` (beyond net.core.rmem_max when the
    /// process may, as root can), so a burst from the peer is queued rather than dropped
    /// while this side is busy; returns the size the kernel granted (it counts its own
    /// bookkeeping, so about twice what was asked), 0 when it cannot tell.
    int set_receive_buffer(int bytes) {
        if (::setsockopt(fd_.get(), SOL_SOCKET, SO_RCVBUFFORCE, &bytes, sizeof bytes) != 0)
            ::setsockopt(fd_.get(), SOL_SOCKET, SO_RCVBUF, &bytes, sizeof bytes);
        int granted = 0;
        socklen_t length = sizeof granted;
        if (::getsockopt(fd_.get(), SOL_SOCKET, SO_RCVBUF, &granted, &length) != 0) return 0;
        return granted;
    }

    void close() { fd_.reset(); }
    Endpoint peer_endpoint() const { return peer_; }
    void set_peer_endpoint(const Endpoint& e) { peer_ = e; }
    std::uint16_t local_port() const {
        sockaddr_storage ss{};
        socklen_t len = sizeof ss;
        ::getsockname(fd_.get(), reinterpret_cast<sockaddr*>(&ss), &len);
        return Endpoint::from_sockaddr(reinterpret_cast<sockaddr*>(&ss), len).value_or(Endpoint{}).port();
    }
    int native_handle() const { return fd_.get(); }

private:
    transport_detail::FileDescriptor fd_;
    Endpoint peer_;
};

}  // namespace tapsec
