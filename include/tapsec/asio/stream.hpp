// tapsec::asio::stream: a stream composition (TLS 1.3, TLS 1.2, tcpcrypt ...) over a
// Boost.Asio TCP socket, as an AsyncReadStream and AsyncWriteStream: asio::async_read,
// asio::async_write and Boost.Beast's HTTP algorithms run over it unchanged, with any
// completion token (callbacks, use_awaitable, use_future, ...).
//
//   tapsec::asio::stream<tapsec::Tls13Handshake, tapsec::AeadRecord> tls(std::move(socket), Role::client, config);
//   co_await tls.async_handshake(use_awaitable);
//   co_await boost::asio::async_write(tls, boost::asio::buffer(request), use_awaitable);
//
// The protocol engine is the same sans-I/O engine as the blocking Secure<>; the adapter
// only waits for socket readiness (async_wait) and for the engine's timer. Cancellation:
// Boost 1.74 has no per-operation cancellation slot; cancel through the socket
// (next_layer().cancel() or close()): pending operations complete with
// boost::asio::error::operation_aborted. Timeouts: a steady_timer of the application's
// that cancels the socket (see docs/async.md). One read and one write may be pending at
// once (as for any Asio stream); all calls on one stream come from one thread or strand.
#pragma once

#include <concepts>
#include <memory>

#include <boost/asio/ip/tcp.hpp>

#include "../core/secure.hpp"
#include "detail/adapter.hpp"
#include "transport.hpp"

namespace tapsec::asio {

/// `Transport` is the socket as the composition's transport: stream_socket_transport by
/// default; a class derived from it states other offers (tcpcrypt's TCP-ENO, tools/cli/tcpcrypt.cpp).
template <class Handshake, class Record, class Socket = boost::asio::ip::tcp::socket,
          class Crypto = crypto::DefaultProvider, class Transport = stream_socket_transport<Socket>>
    requires std::derived_from<Transport, stream_socket_transport<Socket>>
class stream : public detail::adapter<Secure<Handshake, Record, Transport, Crypto>, Socket> {
    using base = detail::adapter<Secure<Handshake, Record, Transport, Crypto>, Socket>;
    using base::driver_;

public:
    using transport_type = Transport;
    using typename base::secure_type;
    using Config = typename secure_type::Config;
    using lowest_layer_type = typename Socket::lowest_layer_type;

    /// Takes a connected socket (or one connected later through next_layer()).
    stream(Socket socket, Role role, Config config) : base(role, std::move(config), transport_type(std::move(socket))) {}

    /// With a configuration shared by many streams (a server's): no copy per connection.
    template <class Shared>
        requires std::same_as<Shared, std::shared_ptr<const Config>>
    stream(Socket socket, Role role, Shared config) : base(role, std::move(config), transport_type(std::move(socket))) {}

    /// An unconnected socket on `executor` (connect it with next_layer().async_connect).
    template <class Executor>
    stream(const Executor& executor, Role role, Config config) : stream(Socket(executor), role, std::move(config)) {}

    lowest_layer_type& lowest_layer() noexcept { return driver_.socket().lowest_layer(); }

    /// Key update (6.3), for compositions that re-key in band (TLS 1.3 KeyUpdate, asking
    /// the peer to update too unless `request_peer_update` is false); completes once the
    /// update has left. Completion: void(boost::system::error_code).
    template <class CompletionToken>
    auto async_update_keys(bool request_peer_update, CompletionToken&& token)
        requires requires(secure_type& s) { s.update_keys_nonblocking(true); }
    {
        return driver_.async_update_keys(request_peer_update, std::forward<CompletionToken>(token));
    }

    /// Some decrypted bytes; boost::asio::error::eof after the peer's authenticated close,
    /// a tapsec error (e.g. truncated) when the stream ended without it.
    /// Completion: void(boost::system::error_code, std::size_t).
    template <class MutableBufferSequence, class CompletionToken>
    auto async_read_some(const MutableBufferSequence& buffers, CompletionToken&& token) {
        return driver_.template async_read<false>(buffers, std::forward<CompletionToken>(token));
    }

    /// Protects up to 64 KiB of `buffers` and completes when the socket has taken them.
    /// Completion: void(boost::system::error_code, std::size_t).
    template <class ConstBufferSequence, class CompletionToken>
    auto async_write_some(const ConstBufferSequence& buffers, CompletionToken&& token) {
        return driver_.async_write(buffers, std::forward<CompletionToken>(token));
    }
};

}  // namespace tapsec::asio
