// A TLS 1.3 client on tapsec::asio::stream written with std::future (asio::use_future):
// the io_context runs on its own thread and the main thread waits on each step.
//   asio_echo_client HOST PORT CA.pem MESSAGE
// Sends MESSAGE, reads until the same bytes came back, closes; exits 0 when they match.
#include <cstdio>
#include <fstream>
#include <future>
#include <iostream>
#include <sstream>
#include <string>
#include <thread>

#include <boost/asio/connect.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/asio/write.hpp>

#include <tapsec/asio/stream.hpp>
#include <tapsec/tls13.hpp>

namespace net = boost::asio;
using net::use_future;
using tcp = net::ip::tcp;
using Tls13 = tapsec::asio::stream<tapsec::Tls13Handshake, tapsec::AeadRecord>;

int main(int argc, char** argv) {
    if (argc < 5) return std::fprintf(stderr, "usage: asio_echo_client HOST PORT CA.pem MESSAGE\n"), 2;
    std::ifstream ca_file(argv[3]);
    if (!ca_file) return std::fprintf(stderr, "cannot read %s\n", argv[3]), 2;
    std::stringstream ca;
    ca << ca_file.rdbuf();
    Tls13::Config config;
    config.trust.ca_certificates_pem.push_back(ca.str());
    config.server_name = argv[1];
    const std::string message = argv[4];

    net::io_context io;
    auto work = net::make_work_guard(io);
    std::thread runner([&io] { io.run(); });
    int status = 1;
    try {
        tcp::resolver resolver(io);
        Tls13 tls(io.get_executor(), tapsec::Role::client, config);
        auto found = resolver.async_resolve(argv[1], argv[2], use_future).get();
        net::async_connect(tls.next_layer(), found, use_future).get();
        tls.async_handshake(use_future).get();
        net::async_write(tls, net::buffer(message), use_future).get();
        std::string echo(message.size(), '\0');
        net::async_read(tls, net::buffer(echo), use_future).get();
        tls.async_shutdown(use_future).get();
        // The server answers our close with its own: the stream then reads as end of file.
        char extra[64];
        try {
            tls.async_read_some(net::buffer(extra), use_future).get();
            std::cerr << "data after the echo\n";
        } catch (const boost::system::system_error& e) {
            if (e.code() != net::error::eof) throw;
            std::cout << echo << std::endl;
            status = echo == message ? 0 : 1;
        }
    } catch (const boost::system::system_error& e) {
        std::cerr << "asio_echo_client: " << e.code().message() << "\n";
    }
    work.reset();
    runner.join();
    return status;
}
