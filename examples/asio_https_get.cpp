// Boost.Beast over tapsec: an HTTP/1.1 GET over TLS 1.3, written with plain callbacks.
//   asio_https_get HOST PORT CA.pem [TARGET] [SERVER-NAME]
// Prints the response (status line, headers, body) and exits 0 on a complete response.
// Beast's algorithms run unchanged on tapsec::asio::stream: it is an AsyncReadStream and
// an AsyncWriteStream like asio::ssl::stream.
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

#include <tapsec/asio/stream.hpp>
#include <tapsec/tls13.hpp>

namespace net = boost::asio;
namespace http = boost::beast::http;
using tcp = net::ip::tcp;
using Tls13Stream = tapsec::asio::stream<tapsec::Tls13Handshake, tapsec::AeadRecord>;

namespace {

/// One request, one response; every step's failure ends it with a message.
class Fetch {
public:
    Fetch(net::io_context& io, Tls13Stream::Config config, std::string host, std::string target)
        : resolver_(io), stream_(io.get_executor(), tapsec::Role::client, std::move(config)),
          host_(std::move(host)), target_(std::move(target)) {}

    void start(const std::string& port) {
        resolver_.async_resolve(host_, port, [this](boost::system::error_code ec, tcp::resolver::results_type found) {
            if (ec) return fail("resolve", ec);
            net::async_connect(stream_.next_layer(), found, [this](boost::system::error_code ec, const tcp::endpoint&) {
                if (ec) return fail("connect", ec);
                stream_.async_handshake([this](boost::system::error_code ec) {
                    if (ec) return fail("handshake", ec);
                    std::cerr << stream_.secure().info().protocol << " " << stream_.secure().info().cipher_suite << "\n";
                    send_request();
                });
            });
        });
    }

    int exit_code() const { return exit_code_; }

private:
    void send_request() {
        request_ = {http::verb::get, target_, 11};
        request_.set(http::field::host, host_);
        request_.set(http::field::user_agent, "tapsec-asio-example");
        http::async_write(stream_, request_, [this](boost::system::error_code ec, std::size_t) {
            if (ec) return fail("write", ec);
            http::async_read(stream_, buffer_, response_, [this](boost::system::error_code ec, std::size_t) {
                if (ec) return fail("read", ec);
                std::cout << response_ << std::flush;
                stream_.async_shutdown([this](boost::system::error_code ec) {
                    if (ec) return fail("shutdown", ec);
                    exit_code_ = response_.result() == http::status::ok ? 0 : 1;
                });
            });
        });
    }

    void fail(const char* what, const boost::system::error_code& ec) {
        std::cerr << what << ": " << ec.message() << "\n";
        exit_code_ = 1;
    }

    tcp::resolver resolver_;
    Tls13Stream stream_;
    std::string host_, target_;
    http::request<http::empty_body> request_;
    boost::beast::flat_buffer buffer_;
    http::response<http::string_body> response_;
    int exit_code_ = 1;
};

}  // namespace

int main(int argc, char** argv) {
    if (argc < 4) return std::fprintf(stderr, "usage: asio_https_get HOST PORT CA.pem [TARGET] [SERVER-NAME]\n"), 2;
    std::ifstream ca_file(argv[3]);
    if (!ca_file) return std::fprintf(stderr, "cannot read %s\n", argv[3]), 2;
    std::stringstream ca;
    ca << ca_file.rdbuf();
    Tls13Stream::Config config;
    config.trust.ca_certificates_pem.push_back(ca.str());
    config.server_name = argc > 5 ? argv[5] : argv[1];

    net::io_context io;
    Fetch fetch(io, std::move(config), argv[1], argc > 4 ? argv[4] : "/");
    fetch.start(argv[2]);
    io.run();
    return fetch.exit_code();
}
