// The part of tapsec::asio::stream and ::datagram that does not depend on the kind of
// socket: it owns the Secure<> composition, runs its non-blocking surface (on_readable,
// on_writable, send_nonblocking, begin_close) from socket readiness (async_wait), and
// keeps one steady_timer on the engine's next_timeout(). Nothing here knows a protocol.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <utility>

#include <boost/asio/async_result.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/compose.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include "../../core/errors.hpp"
#include "../error.hpp"

namespace tapsec::asio::detail {

namespace net = boost::asio;
using boost::system::error_code;

template <class SecureT, class Socket>
class driver {
public:
    using secure_type = SecureT;
    using executor_type = typename Socket::executor_type;

    /// `config`: a Config, or a std::shared_ptr<const Config> shared by many connections.
    template <class ConfigOrShared, class Transport>
    driver(Role role, ConfigOrShared config, Transport transport)
        : secure_(role, std::move(config), std::move(transport)), timer_(secure_.transport().socket().get_executor()) {}

    // The ops and the timer hold `this`: a driver never moves (the user keeps the
    // stream alive, and in place, until its operations complete, as for any Asio object).
    driver(const driver&) = delete;
    driver& operator=(const driver&) = delete;

    SecureT& secure() { return secure_; }
    const SecureT& secure() const { return secure_; }
    Socket& socket() { return secure_.transport().socket(); }
    executor_type get_executor() { return socket().get_executor(); }

    /// The first failure (from the engine, the socket or the engine's timer); sticky.
    const std::error_code& failure() const { return failure_; }

    /// Runs one call of the non-blocking surface, keeps its failure and re-arms the timer.
    void call(std::error_code ec) {
        if (ec && !failure_) failure_ = ec;
        arm_timer();
    }

    /// A readiness wait ended with `ec`: operation_aborted stands for the engine's
    /// timer failure when there is one (the timer cancels the socket to deliver it).
    error_code wait_error(const error_code& ec) const {
        if (ec == net::error::operation_aborted && failure_) return to_boost(failure_);
        return ec;
    }

    /// The engine's timer (retransmissions, keepalives, handshake and idle limits). One
    /// wait is pending at most; a stale wait is recognised by its generation and ignored.
    /// While it is armed the io_context has work: close the socket to end it.
    void arm_timer() {
        // A closed socket ends the connection: its timers (keepalives, rekeys) stop too.
        const auto next = socket().is_open() ? secure_.next_timeout() : std::nullopt;
        if (next == armed_for_) return;
        armed_for_ = next;
        ++generation_;
        if (!next) {
            timer_.cancel();
            return;
        }
        timer_.expires_at(*next);
        timer_.async_wait([this, generation = generation_, alive = std::weak_ptr<int>(alive_)](const error_code& ec) {
            if (ec || alive.expired() || generation != generation_) return;
            armed_for_.reset();
            if (auto failed = secure_.on_timer()) {
                if (!failure_) failure_ = failed;
                error_code ignored;
                socket().cancel(ignored);  // wakes the waiting operations with the failure
                return;
            }
            arm_timer();
        });
    }

    // ---- the operations (async_compose bodies) -----------------------------------------

    /// Completes now if the operation never waited, else posts first: a handler never runs
    /// inside the initiating function (Asio's rule).
    template <class Self, class... Results>
    static void finish(Self& self, bool waited, Results... results) {
        if (waited) return self.complete(results...);
        auto executor = self.get_executor();  // before `self` moves into the handler
        net::post(net::bind_executor(executor, [self = std::move(self), results...]() mutable { self.complete(results...); }));
    }

    /// The handshake: start the engine, then feed it whatever arrives and write what it
    /// answers, until it is established and its flight has left.
    struct handshake_op {
        driver* d;
        bool started = false;
        bool waited = false;
        typename Socket::wait_type waiting_for = Socket::wait_read;

        template <class Self>
        void operator()(Self& self, error_code ec = {}) {
            if (!started) {
                started = true;
                d->call(d->secure_.on_readable());  // starts the engine; reads nothing yet
            } else {
                waited = true;
                if (ec) return self.complete(d->wait_error(ec));
                d->call(waiting_for == Socket::wait_write ? d->secure_.on_writable() : d->secure_.on_readable());
            }
            if (d->failure_) return finish(self, waited, to_boost(d->failure_));
            if (d->secure_.wants_write()) {
                waiting_for = Socket::wait_write;
                return d->socket().async_wait(Socket::wait_write, std::move(self));
            }
            if (d->secure_.is_established()) return finish(self, waited, error_code{});
            if (d->secure_.peer_closed()) return finish(self, waited, error_code(net::error::eof));
            waiting_for = Socket::wait_read;
            d->socket().async_wait(Socket::wait_read, std::move(self));
        }
    };

    /// Queues something on the composition (`start`: the protocol's close, a key update)
    /// and completes once the socket has taken everything queued.
    template <class Start>
    struct queue_and_flush_op {
        driver* d;
        Start start;
        bool started = false;
        bool waited = false;

        template <class Self>
        void operator()(Self& self, error_code ec = {}) {
            if (!started) {
                started = true;
                if (!d->failure_) d->call(start(d->secure_));
            } else {
                waited = true;
                if (ec) return self.complete(d->wait_error(ec));
                d->call(d->secure_.on_writable());
            }
            if (d->failure_) return finish(self, waited, to_boost(d->failure_));
            if (d->secure_.wants_write()) return d->socket().async_wait(Socket::wait_write, std::move(self));
            finish(self, waited, error_code{});
        }
    };

    /// Received plaintext into `buffers`: what is already decrypted, or waits for more.
    /// `Datagram` keeps message boundaries (one datagram per read, the rest is an error).
    /// The bytes are copied into `buffers` only as the handler is called (an immediate
    /// result is posted first, then copied): buffers shared by the connections of one
    /// thread (a server's per-thread read buffer) hold what their handler is given until
    /// that handler next suspends.
    template <class MutableBuffers, bool Datagram>
    struct read_op {
        driver* d;
        MutableBuffers buffers;
        bool started = false;
        bool waited = false;
        bool posted = false;

        template <class Self>
        void operator()(Self& self, error_code ec = {}) {
            if (!started) {
                started = true;
                if (net::buffer_size(buffers) == 0 && !Datagram) return finish(self, false, error_code{}, std::size_t{0});
                if (d->has_received()) {  // completes at once: post, and copy when it runs
                    posted = true;
                    auto executor = self.get_executor();
                    return net::post(net::bind_executor(executor, [self = std::move(self)]() mutable { self(); }));
                }
            } else if (posted) {
                posted = false;
                waited = true;  // the post was the wait: complete directly
            } else {
                waited = true;
                if (ec) return self.complete(d->wait_error(ec), std::size_t{0});
                d->call(d->secure_.on_readable());
            }
            if (d->take_into(buffers, self, waited)) return;
            // A failure first: a stream that ended without the protocol's close is
            // truncated (an error), not end of file.
            if (d->failure_ && d->failure_ != make_error_code(Errc::closed))
                return finish(self, waited, to_boost(d->failure_), std::size_t{0});
            if (d->secure_.peer_closed() || d->failure_)
                return finish(self, waited, error_code(net::error::eof), std::size_t{0});
            if (!d->secure_.is_established())
                return finish(self, waited, to_boost(make_error_code(Errc::not_connected)), std::size_t{0});
            d->socket().async_wait(Socket::wait_read, std::move(self));
        }
    };

    /// Protects `buffers` (up to max_write_size bytes per call) and completes once the
    /// socket has taken every protected byte, so the outbox never grows past one write.
    template <class ConstBuffers>
    struct write_op {
        driver* d;
        ConstBuffers buffers;
        bool started = false;
        bool waited = false;
        std::optional<std::size_t> accepted = std::nullopt;

        template <class Self>
        void operator()(Self& self, error_code ec = {}) {
            if (!started) {
                started = true;
                if (d->failure_) return finish(self, false, to_boost(d->failure_), std::size_t{0});
                if (!d->secure_.is_established())
                    return finish(self, false, to_boost(make_error_code(Errc::not_connected)), std::size_t{0});
                if (net::buffer_size(buffers) == 0) return finish(self, false, error_code{}, std::size_t{0});
            } else {
                waited = true;
                if (ec) return self.complete(d->wait_error(ec), accepted.value_or(0));
                d->call(d->secure_.on_writable());
            }
            if (!accepted && !d->failure_ && !d->secure_.wants_write()) {  // earlier bytes first
                accepted = d->protect(buffers);
            }
            if (d->failure_) return finish(self, waited, to_boost(d->failure_), accepted.value_or(0));
            if (d->secure_.wants_write() || !accepted) return d->socket().async_wait(Socket::wait_write, std::move(self));
            finish(self, waited, error_code{}, *accepted);
        }
    };

    /// Bytes per write call (the engine splits them into records or datagrams).
    static constexpr std::size_t max_write_size = 64 * 1024;

    template <class Token>
    auto async_handshake(Token&& token) {
        return net::async_compose<Token, void(error_code)>(handshake_op{this}, token, socket());
    }
    /// The protocol's close (close_notify ...).
    template <class Token>
    auto async_shutdown(Token&& token) {
        const auto close = [](SecureT& s) { return s.begin_close(); };
        return net::async_compose<Token, void(error_code)>(queue_and_flush_op<decltype(close)>{this, close}, token,
                                                           socket());
    }
    /// Key update (6.3) where the composition re-keys in band.
    template <class Token>
    auto async_update_keys(bool request_peer_update, Token&& token) {
        const auto update = [request_peer_update](SecureT& s) { return s.update_keys_nonblocking(request_peer_update); };
        return net::async_compose<Token, void(error_code)>(queue_and_flush_op<decltype(update)>{this, update}, token,
                                                           socket());
    }
    template <bool Datagram, class MutableBuffers, class Token>
    auto async_read(const MutableBuffers& buffers, Token&& token) {
        return net::async_compose<Token, void(error_code, std::size_t)>(
            read_op<MutableBuffers, Datagram>{this, buffers}, token, socket());
    }
    template <class ConstBuffers, class Token>
    auto async_write(const ConstBuffers& buffers, Token&& token) {
        return net::async_compose<Token, void(error_code, std::size_t)>(write_op<ConstBuffers>{this, buffers}, token,
                                                                        socket());
    }

    bool datagram_mode = false;  // set by tapsec::asio::datagram: one message per send

private:
    /// Whether decrypted bytes wait to be read (taken from the engine into received_).
    bool has_received() {
        if (received_offset_ < received_.size()) return true;
        auto next = secure_.take_received();
        if (!next) return false;
        received_ = std::move(*next);
        received_offset_ = 0;
        return !received_.empty();
    }

    /// Moves decrypted bytes into `buffers`; true when the operation completed.
    template <class MutableBuffers, class Self>
    bool take_into(const MutableBuffers& buffers, Self& self, bool waited) {
        if (received_offset_ == received_.size()) {
            auto next = secure_.take_received();
            if (!next) return false;
            received_ = std::move(*next);
            received_offset_ = 0;
        }
        const std::size_t available = received_.size() - received_offset_;
        const std::size_t n =
            net::buffer_copy(buffers, net::buffer(received_.data() + received_offset_, available));
        error_code ec;
        if (datagram_mode) {
            if (n < available) ec = net::error::message_size;  // the rest of the datagram is dropped
            received_offset_ = received_.size();
        } else {
            received_offset_ += n;
        }
        if (received_offset_ == received_.size()) {
            received_.clear();
            received_offset_ = 0;
        }
        finish(self, waited, ec, n);
        return true;
    }

    /// Hands the buffers' bytes to the engine: a stream takes up to max_write_size, a
    /// datagram composition exactly one message.
    template <class ConstBuffers>
    std::size_t protect(const ConstBuffers& buffers) {
        const std::size_t total = net::buffer_size(buffers);
        const std::size_t n = datagram_mode ? total : std::min(total, max_write_size);
        auto first = net::buffer_sequence_begin(buffers);
        if (first != net::buffer_sequence_end(buffers) && net::const_buffer(*first).size() >= n) {
            const net::const_buffer b(*first);
            call(secure_.send_nonblocking(ByteView(static_cast<const std::uint8_t*>(b.data()), n)));
        } else {
            scratch_.resize(n);
            net::buffer_copy(net::buffer(scratch_), buffers, n);
            call(secure_.send_nonblocking(ByteView(scratch_)));
        }
        return n;
    }

    SecureT secure_;
    net::steady_timer timer_;
    std::optional<Instant> armed_for_;
    std::uint64_t generation_ = 0;
    std::shared_ptr<int> alive_ = std::make_shared<int>(0);  // the timer's handler checks it
    std::error_code failure_;
    Bytes received_;  // plaintext taken from the engine that the caller's buffers did not hold
    std::size_t received_offset_ = 0;
    Bytes scratch_;   // a gathered write, reused
};

}  // namespace tapsec::asio::detail
