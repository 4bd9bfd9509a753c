// tapsec::asio::datagram: a datagram composition (DTLS 1.2, DTLS-SRTP, WireGuard, QUIC
// ...) over a Boost.Asio UDP socket, with async_send / async_receive keeping message
// boundaries and taking any completion token. The engine's retransmission timers run on
// a steady_timer from its next_timeout(), whether or not an operation is pending.
//
//   tapsec::asio::datagram<tapsec::Dtls12Handshake, tapsec::DtlsRecord> dtls(std::move(udp), peer, Role::client, config);
//   co_await dtls.async_handshake(use_awaitable);
//   co_await dtls.async_send(boost::asio::buffer(message), use_awaitable);
//
// Cancellation as for tapsec::asio::stream: through the socket (next_layer().cancel()).
#pragma once

#include <boost/asio/ip/udp.hpp>

#include "../core/secure.hpp"
#include "detail/adapter.hpp"
#include "transport.hpp"

namespace tapsec::asio {

template <class Handshake, class Record, class Socket = boost::asio::ip::udp::socket,
          class Crypto = crypto::DefaultProvider>
class datagram : public detail::adapter<Secure<Handshake, Record, datagram_socket_transport<Socket>, Crypto>, Socket> {
    using base = detail::adapter<Secure<Handshake, Record, datagram_socket_transport<Socket>, Crypto>, Socket>;
    using base::driver_;

public:
    using transport_type = datagram_socket_transport<Socket>;
    using typename base::secure_type;
    using Config = typename secure_type::Config;

    /// An open (bound) socket and the peer to talk to; a server passes no peer and answers
    /// whoever speaks first.
    datagram(Socket socket, typename Socket::endpoint_type peer, Role role, Config config)
        : base(role, std::move(config), transport_type(std::move(socket), detail::to_endpoint(peer))) {
        driver_.datagram_mode = true;
    }
    datagram(Socket socket, Role role, Config config) : base(role, std::move(config), transport_type(std::move(socket))) {
        driver_.datagram_mode = true;
    }

    /// Protects and sends `buffers` as one datagram.
    /// Completion: void(boost::system::error_code, std::size_t).
    template <class ConstBufferSequence, class CompletionToken>
    auto async_send(const ConstBufferSequence& buffers, CompletionToken&& token) {
        return driver_.async_write(buffers, std::forward<CompletionToken>(token));
    }

    /// The next decrypted datagram. One that does not fit `buffers` is cut and reported
    /// with boost::asio::error::message_size; eof after the peer's authenticated close.
    /// Completion: void(boost::system::error_code, std::size_t).
    template <class MutableBufferSequence, class CompletionToken>
    auto async_receive(const MutableBufferSequence& buffers, CompletionToken&& token) {
        return driver_.template async_read<true>(buffers, std::forward<CompletionToken>(token));
    }
};

}  // namespace tapsec::asio
