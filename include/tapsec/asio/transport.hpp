// Transports over Asio sockets, for Secure<> driven by tapsec::asio::stream / datagram.
// They present an Asio socket as a tapsec transport (the same declarations as Tcp and
// Udp, so the composition rules see TCP or UDP) with the non-blocking operations the
// adapter's readiness loop uses. The blocking ones are bounded waits on the same
// descriptor, used only for the engine's first flight and a failure's alert.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/udp.hpp>

#include "../core/dependencies.hpp"
#include "../core/endpoint.hpp"
#include "../core/errors.hpp"
#include "../core/features.hpp"
#include "../transport/socket.hpp"
#include "error.hpp"

namespace tapsec::asio {

namespace detail {

/// What a failed socket call means to the engine: a reset is tapsec's own code (the
/// engines and the CLI test for it), anything else passes through.
inline std::error_code socket_error(const boost::system::error_code& ec) {
    if (ec == boost::asio::error::connection_reset || ec == boost::asio::error::broken_pipe)
        return make_error_code(Errc::connection_reset);
    return to_std(ec);
}

/// Bounded wait for a socket to take bytes: a blocking write must not hang forever.
inline constexpr std::chrono::seconds blocking_write_limit{10};

template <class Socket>
void make_nonblocking(Socket& socket) {
    if (!socket.non_blocking()) {
        boost::system::error_code ignored;
        socket.non_blocking(true, ignored);
    }
}

template <class Endpoint_>
Endpoint to_endpoint(const Endpoint_& e) {
    return Endpoint::from_sockaddr(e.data(), static_cast<socklen_t>(e.size())).value_or(Endpoint{});
}

}  // namespace detail

/// A connected stream socket (boost::asio::ip::tcp::socket) as a reliable byte stream.
template <class Socket = boost::asio::ip::tcp::socket>
class stream_socket_transport {
public:
    static constexpr std::string_view name = "TCP (Asio)";
    using offers = dependencies<dependency::reliable_byte_stream>;
    using provides = features<feature::SV>;  // as tapsec::Tcp: the three-way handshake
    using intrinsic = features<feature::SV>;

    explicit stream_socket_transport(Socket socket) : socket_(std::move(socket)) {}

    Result<std::size_t> read_some(MutableByteView out, Instant deadline) {
        for (;;) {
            auto got = try_read_some(out);
            if (got || got.error() != make_error_code(Errc::timed_out)) return got;
            if (auto ec = transport_detail::wait_for(socket_.native_handle(), POLLIN, deadline)) return ec;
        }
    }

    std::error_code write_all(ByteView data) {
        const Instant deadline = Clock::now() + detail::blocking_write_limit;
        while (!data.empty()) {
            auto n = try_write(data);
            if (!n) return n.error();
            data = data.subspan(*n);
            if (*n == 0)
                if (auto ec = transport_detail::wait_for(socket_.native_handle(), POLLOUT, deadline)) return ec;
        }
        return {};
    }

    /// The bytes waiting now (0 = end of stream), or Errc::timed_out when none are.
    Result<std::size_t> try_read_some(MutableByteView out) {
        detail::make_nonblocking(socket_);
        boost::system::error_code ec;
        const std::size_t n = socket_.read_some(boost::asio::buffer(out.data(), out.size()), ec);
        if (ec == boost::asio::error::would_block || ec == boost::asio::error::try_again) return Errc::timed_out;
        if (ec == boost::asio::error::eof) return std::size_t{0};
        if (ec) return detail::socket_error(ec);
        return n;
    }

    /// How many bytes the socket took now (0 when it is full).
    Result<std::size_t> try_write(ByteView data) {
        detail::make_nonblocking(socket_);
        boost::system::error_code ec;
        const std::size_t n = socket_.write_some(boost::asio::buffer(data.data(), data.size()), ec);
        if (ec == boost::asio::error::would_block || ec == boost::asio::error::try_again) return std::size_t{0};
        if (ec) return detail::socket_error(ec);
        return n;
    }

    /// Half-close: the peer sees end of stream; its close can still be read.
    void close() {
        boost::system::error_code ignored;
        if (socket_.is_open()) socket_.shutdown(Socket::shutdown_send, ignored);
    }

    Endpoint peer_endpoint() const {
        boost::system::error_code ec;
        auto remote = socket_.remote_endpoint(ec);
        return ec ? Endpoint{} : detail::to_endpoint(remote);
    }
    int native_handle() { return socket_.native_handle(); }
    Socket& socket() { return socket_; }
    const Socket& socket() const { return socket_; }

private:
    Socket socket_;
};

/// A UDP socket (boost::asio::ip::udp::socket) as a datagram service. Sends go to the
/// given peer; a server that was given none answers whoever spoke first (as tapsec::Udp).
template <class Socket = boost::asio::ip::udp::socket>
class datagram_socket_transport {
public:
    static constexpr std::string_view name = "UDP (Asio)";
    using offers = dependencies<dependency::datagram>;
    using provides = features<>;

    explicit datagram_socket_transport(Socket socket, Endpoint peer = {}) : socket_(std::move(socket)), peer_(peer) {}

    /// One datagram, waiting at most until `deadline` (the adapter passes "now": no wait).
    Result<std::size_t> receive_from(MutableByteView out, Instant deadline, Endpoint& from) {
        detail::make_nonblocking(socket_);
        for (;;) {
            typename Socket::endpoint_type sender;
            boost::system::error_code ec;
            const std::size_t n = socket_.receive_from(boost::asio::buffer(out.data(), out.size()), sender, 0, ec);
            if (ec == boost::asio::error::would_block || ec == boost::asio::error::try_again) {
                if (Clock::now() >= deadline) return Errc::timed_out;
                if (auto wait = transport_detail::wait_for(socket_.native_handle(), POLLIN, deadline)) return wait;
                continue;
            }
            if (ec == boost::asio::error::connection_refused) continue;  // ICMP from an earlier send: loss
            if (ec == boost::asio::error::message_size) continue;  // oversized: dropped, never truncated
            if (ec) return detail::socket_error(ec);
            from = detail::to_endpoint(sender);
            if (!peer_.valid()) peer_ = from;
            return n;
        }
    }

    std::error_code send_to(ByteView data, const Endpoint& to) {
        if (!to.valid()) return Errc::not_connected;
        typename Socket::endpoint_type target;
        std::memcpy(target.data(), to.sockaddr_ptr(), to.sockaddr_length());
        target.resize(to.sockaddr_length());
        for (;;) {
            boost::system::error_code ec;
            socket_.send_to(boost::asio::buffer(data.data(), data.size()), target, 0, ec);
            if (!ec || ec == boost::asio::error::connection_refused) return {};  // datagrams: loss, not failure
            if (ec == boost::asio::error::would_block || ec == boost::asio::error::try_again) {
                const Instant deadline = Clock::now() + detail::blocking_write_limit;
                if (auto wait = transport_detail::wait_for(socket_.native_handle(), POLLOUT, deadline)) return wait;
                continue;
            }
            return to_std(ec);
        }
    }

    void close() {
        boost::system::error_code ignored;
        socket_.close(ignored);
    }
    Endpoint peer_endpoint() const { return peer_; }
    void set_peer_endpoint(const Endpoint& e) { peer_ = e; }
    int native_handle() { return socket_.native_handle(); }
    Socket& socket() { return socket_; }
    const Socket& socket() const { return socket_; }

private:
    Socket socket_;
    Endpoint peer_;
};

}  // namespace tapsec::asio
