// A C++20 coroutine echo server on tapsec::asio::stream: TLS 1.3 on one port, TLS 1.2 on
// another, every connection in its own coroutine on one io_context, so all are served at
// once. Each connection gets 10 s to finish its handshake (a timer that cancels the
// socket: Boost 1.74 has no per-operation cancellation).
//   asio_echo_server TLS13-PORT TLS12-PORT CERT.pem KEY.pem CONNECTIONS
// Prints "listening" when both ports accept, one line per connection when it ends, and
// exits after CONNECTIONS connections: 0 when every one ended with a clean close.
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <stdexcept>
#include <string>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <tapsec/asio/stream.hpp>
#include <tapsec/tls12.hpp>
#include <tapsec/tls13.hpp>

namespace net = boost::asio;
using net::use_awaitable;
using tcp = net::ip::tcp;

namespace {

struct Totals {
    int wanted = 0;
    int ended = 0;
    int clean = 0;
    net::io_context* io = nullptr;
    void one_ended(bool was_clean) {
        ++ended;
        clean += was_clean ? 1 : 0;
        if (ended == wanted) io->stop();
    }
};

/// Echoes until the client's authenticated close, then answers it with ours.
template <class Stream>
net::awaitable<void> serve(tcp::socket socket, typename Stream::Config config, Totals& totals, int id) {
    Stream tls(std::move(socket), tapsec::Role::server, std::move(config));
    const char* step = "handshake";
    try {
        net::steady_timer deadline(co_await net::this_coro::executor, std::chrono::seconds(10));
        deadline.async_wait([&tls](boost::system::error_code ec) {
            if (!ec) tls.next_layer().cancel();  // the handshake took too long
        });
        co_await tls.async_handshake(use_awaitable);
        deadline.cancel();
        step = "echo";
        std::size_t echoed = 0;
        char data[16384];
        for (;;) {
            boost::system::error_code ec;
            std::size_t n = co_await tls.async_read_some(net::buffer(data), net::redirect_error(use_awaitable, ec));
            if (ec == net::error::eof) break;  // the client's close_notify
            if (ec) throw boost::system::system_error(ec);
            co_await net::async_write(tls, net::buffer(data, n), use_awaitable);
            echoed += n;
        }
        step = "shutdown";
        co_await tls.async_shutdown(use_awaitable);
        std::cout << "connection " << id << " " << tls.secure().info().protocol << ": echoed " << echoed
                  << " bytes, clean close" << std::endl;
        totals.one_ended(true);
    } catch (const boost::system::system_error& e) {
        std::cout << "connection " << id << " " << step << ": " << e.code().message() << std::endl;
        totals.one_ended(false);
    }
}

template <class Stream>
net::awaitable<void> accept_loop(tcp::acceptor& acceptor, typename Stream::Config config, Totals& totals, int& next_id) {
    for (;;) {
        tcp::socket socket = co_await acceptor.async_accept(use_awaitable);
        net::co_spawn(acceptor.get_executor(), serve<Stream>(std::move(socket), config, totals, ++next_id), net::detached);
    }
}

std::string read_all(const char* path) {
    std::ifstream in(path);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

}  // namespace

int run(char** argv) {
    using Tls13 = tapsec::asio::stream<tapsec::Tls13Handshake, tapsec::AeadRecord>;
    using Tls12 = tapsec::asio::stream<tapsec::Tls12Handshake, tapsec::Tls12Record>;
    const tapsec::Identity identity(read_all(argv[3]), read_all(argv[4]));
    if (identity.empty() || identity.private_key_pem.empty()) return std::fprintf(stderr, "cannot read the certificate or key\n"), 2;
    Tls13::Config config13;
    config13.identity = identity;
    Tls12::Config config12;
    config12.identity = identity;

    net::io_context io;
    Totals totals{std::stoi(argv[5]), 0, 0, &io};
    const auto loopback = net::ip::make_address("127.0.0.1");
    tcp::acceptor acceptor13(io, {loopback, static_cast<unsigned short>(std::stoi(argv[1]))});
    tcp::acceptor acceptor12(io, {loopback, static_cast<unsigned short>(std::stoi(argv[2]))});
    int next_id = 0;
    net::co_spawn(io, accept_loop<Tls13>(acceptor13, config13, totals, next_id), net::detached);
    net::co_spawn(io, accept_loop<Tls12>(acceptor12, config12, totals, next_id), net::detached);
    std::cout << "listening" << std::endl;
    io.run();
    std::cout << totals.clean << " of " << totals.ended << " connections closed cleanly" << std::endl;
    return totals.clean == totals.wanted ? 0 : 1;
}

int main(int argc, char** argv) {
    if (argc < 6)
        return std::fprintf(stderr, "usage: asio_echo_server TLS13-PORT TLS12-PORT CERT.pem KEY.pem CONNECTIONS\n"), 2;
    try {
        return run(argv);
    } catch (const boost::system::system_error& e) {  // e.g. a port in use
        return std::fprintf(stderr, "asio_echo_server: %s\n", e.code().message().c_str()), 1;
    } catch (const std::logic_error&) {  // std::stoi: not a number
        return std::fprintf(stderr, "asio_echo_server: ports and CONNECTIONS must be numbers\n"), 2;
    }
}
