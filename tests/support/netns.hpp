// Network-namespace helpers shared by the interop tests that run a peer in a namespace
// of their own (wireguard-go, strongSwan charon): run code with this thread inside a
// namespace, and a plain UDP socket for the traffic that goes through the tunnel.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include <doctest/doctest.h>

#include <tapsec/tapsec.hpp>

#include "process.hpp"

namespace tapsec::test {

/// Runs `f` with this thread inside the namespace (sockets created there stay there).
template <class F>
auto inside(const NetworkNamespace& ns, F&& f) {
    const int self = ::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    const int target = ::open(("/run/netns/" + ns.name()).c_str(), O_RDONLY | O_CLOEXEC);
    REQUIRE(self >= 0);
    REQUIRE(target >= 0);
    REQUIRE(::setns(target, CLONE_NEWNET) == 0);
    auto result = f();
    ::setns(self, CLONE_NEWNET);
    ::close(self);
    ::close(target);
    return result;
}

/// Joins two namespaces by a veth pair: `a_if` in `a` with `a_address` (CIDR), `b_if` in
/// `b` with `b_address`, both up.
inline void join_by_veth(const NetworkNamespace& a, const std::string& a_if, const std::string& a_address,
                         const NetworkNamespace& b, const std::string& b_if, const std::string& b_address) {
    const std::string in_a = "ip netns exec " + a.name() + " ", in_b = "ip netns exec " + b.name() + " ";
    REQUIRE(run("ip link add " + a_if + " netns " + a.name() + " type veth peer name " + b_if + " netns " + b.name()) == 0);
    REQUIRE(run(in_a + "ip addr add " + a_address + " dev " + a_if) == 0);
    REQUIRE(run(in_b + "ip addr add " + b_address + " dev " + b_if) == 0);
    REQUIRE(run(in_a + "ip link set " + a_if + " up") == 0);
    REQUIRE(run(in_b + "ip link set " + b_if + " up") == 0);
}

/// A plain (unprotected) UDP socket, for the inner traffic a tunnel carries.
struct PlainUdp {
    transport_detail::FileDescriptor fd;

    static PlainUdp bind(const std::string& address, std::uint16_t port) {
        PlainUdp u;
        u.fd = transport_detail::FileDescriptor(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
        auto ep = Endpoint::parse(address, port);
        REQUIRE(ep);
        REQUIRE(::bind(u.fd.get(), ep->sockaddr_ptr(), ep->sockaddr_length()) == 0);
        return u;
    }
    void send_to(const std::string& address, std::uint16_t port, ByteView data) {
        auto ep = Endpoint::parse(address, port);
        REQUIRE(ep);
        ::sendto(fd.get(), data.data(), data.size(), 0, ep->sockaddr_ptr(), ep->sockaddr_length());
    }
    void send_to(const std::string& address, std::uint16_t port, std::string_view text) {
        send_to(address, port, ByteView(reinterpret_cast<const std::uint8_t*>(text.data()), text.size()));
    }
    /// The next datagram, or nullopt when none came within `timeout`.
    std::optional<Bytes> receive(std::chrono::milliseconds timeout) {
        if (transport_detail::wait_for(fd.get(), POLLIN, Clock::now() + timeout)) return std::nullopt;
        Bytes b(65536);
        auto n = ::recv(fd.get(), b.data(), b.size(), 0);
        if (n < 0) return std::nullopt;
        b.resize(static_cast<std::size_t>(n));
        return b;
    }
    std::optional<std::string> receive_text(std::chrono::milliseconds timeout) {
        auto b = receive(timeout);
        if (!b) return std::nullopt;
        return std::string(b->begin(), b->end());
    }
};

}  // namespace tapsec::test
