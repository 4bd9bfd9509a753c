// What tapsec::asio::stream and tapsec::asio::datagram share: the driver that runs the
// sans-I/O engine on the socket, the accessors, the handshake and the close. Each adds
// only the operations of its kind (read_some/write_some, or send/receive).
#pragma once

#include <utility>

#include "driver.hpp"

namespace tapsec::asio::detail {

template <class SecureType, class Socket>
class adapter {
public:
    using secure_type = SecureType;
    using next_layer_type = Socket;
    using executor_type = typename Socket::executor_type;

    executor_type get_executor() noexcept { return driver_.get_executor(); }
    Socket& next_layer() noexcept { return driver_.socket(); }

    /// The composition itself: info(), peer(), export_keying_material(), events ...
    secure_type& secure() noexcept { return driver_.secure(); }
    const secure_type& secure() const noexcept { return driver_.secure(); }

    /// Runs the handshake. Completion: void(boost::system::error_code).
    template <class CompletionToken>
    auto async_handshake(CompletionToken&& token) {
        return driver_.async_handshake(std::forward<CompletionToken>(token));
    }

    /// Sends the protocol's authenticated close (where it has one). A stream then shuts the
    /// socket's sending side once the close has left, and reads the peer's close as end of
    /// file (boost::asio::error::eof); a datagram closes its socket.
    /// Completion: void(boost::system::error_code).
    template <class CompletionToken>
    auto async_shutdown(CompletionToken&& token) {
        return driver_.async_shutdown(std::forward<CompletionToken>(token));
    }

protected:
    template <class... Args>
    explicit adapter(Args&&... args) : driver_(std::forward<Args>(args)...) {}

    driver<secure_type, Socket> driver_;
};

}  // namespace tapsec::asio::detail
