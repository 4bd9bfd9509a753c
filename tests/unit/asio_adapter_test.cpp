// tapsec::asio::stream and ::datagram in one process on loopback: TLS 1.3 echo with a
// multi-record payload and clean closes, cancellation through the socket, truncation as
// an error, the error mapping, DTLS 1.2 datagrams with a retransmission driven by the
// adapter's timer, a WireGuard pair, DTLS-SRTP media and QUIC (stream 0) on the same
// datagram adapter.
#include <doctest/doctest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <tapsec/asio/datagram.hpp>
#include <tapsec/asio/stream.hpp>
#include <tapsec/dtls12.hpp>
#include <tapsec/dtls_srtp.hpp>
#include <tapsec/quic.hpp>
#include <tapsec/tls13.hpp>
#include <tapsec/wireguard.hpp>

#include "support/pki.hpp"
#include "support/process.hpp"
#include "support/botan_tls_fixture.hpp"
#include "support/doc_example.hpp"
#include "support/quic_pair.hpp"
#include "support/rtp.hpp"

namespace net = boost::asio;
using net::use_awaitable;
using tcp = net::ip::tcp;
using udp = net::ip::udp;
using boost::system::error_code;
using Tls13 = tapsec::asio::stream<tapsec::Tls13Handshake, tapsec::AeadRecord>;
using Dtls12 = tapsec::asio::datagram<tapsec::Dtls12Handshake, tapsec::DtlsRecord>;

namespace asio_adapter_test {

struct Pki {
    tapsec::test::TestPki pki;
    tapsec::test::CertificateFiles server = pki.issue("server");
    template <class Config>
    Config server_config() {
        Config c;
        c.identity = {server.certificate_pem(), server.key_pem()};
        return c;
    }
    template <class Config>
    Config client_config() {
        Config c;
        c.trust.ca_certificates_pem.push_back(pki.ca().certificate_pem());
        c.server_name = "localhost";
        return c;
    }
};

/// A connected TCP pair on loopback.
std::pair<tcp::socket, tcp::socket> tcp_pair(net::io_context& io) {
    tcp::acceptor acceptor(io, {net::ip::make_address("127.0.0.1"), 0});
    tcp::socket client(io);
    client.connect(acceptor.local_endpoint());
    tcp::socket server = acceptor.accept();
    return {std::move(server), std::move(client)};
}

/// Runs `io` until it has no work or `limit` passes (a hung operation fails the test).
bool run_bounded(net::io_context& io, std::chrono::seconds limit = std::chrono::seconds(20)) {
    io.run_for(limit);
    return io.stopped();
}


TEST_CASE("asio stream: TLS 1.3 echo of a multi-record payload, clean close on both sides") {
    Pki p;
    REQUIRE(p.pki.ok());
    net::io_context io;
    auto [server_socket, client_socket] = tcp_pair(io);
    Tls13 server(std::move(server_socket), tapsec::Role::server, p.server_config<Tls13::Config>());
    Tls13 client(std::move(client_socket), tapsec::Role::client, p.client_config<Tls13::Config>());

    std::string payload(200 * 1024, '\0');
    for (std::size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<char>('a' + i % 26);
    std::string echoed(payload.size(), '\0');
    error_code server_end, client_end;
    bool server_done = false, client_done = false;

    net::co_spawn(io, [&]() -> net::awaitable<void> {
        co_await server.async_handshake(use_awaitable);
        char data[4096];
        for (;;) {
            error_code ec;
            auto n = co_await server.async_read_some(net::buffer(data), net::redirect_error(use_awaitable, ec));
            if (ec) { server_end = ec; break; }
            co_await net::async_write(server, net::buffer(data, n), use_awaitable);
        }
        co_await server.async_shutdown(use_awaitable);
        server_done = true;
    }, net::detached);
    net::co_spawn(io, [&]() -> net::awaitable<void> {
        co_await client.async_handshake(use_awaitable);
        // Write and read at once: the payload is larger than the socket buffers hold.
        net::co_spawn(io, [&]() -> net::awaitable<void> {
            co_await net::async_write(client, net::buffer(payload), use_awaitable);
        }, net::detached);
        co_await net::async_read(client, net::buffer(echoed), use_awaitable);
        co_await client.async_shutdown(use_awaitable);
        char extra[16];
        co_await client.async_read_some(net::buffer(extra), net::redirect_error(use_awaitable, client_end));
        client_done = true;
    }, net::detached);

    REQUIRE(run_bounded(io));
    CHECK(server_done);
    CHECK(client_done);
    CHECK(server_end == net::error::eof);
    CHECK(client_end == net::error::eof);
    CHECK(echoed == payload);
    CHECK(client.secure().info().protocol == server.secure().info().protocol);
}

TEST_CASE("asio stream: a read cancelled through the socket ends with operation_aborted and loses nothing") {
    Pki p;
    REQUIRE(p.pki.ok());
    net::io_context io;
    auto [server_socket, client_socket] = tcp_pair(io);
    Tls13 server(std::move(server_socket), tapsec::Role::server, p.server_config<Tls13::Config>());
    Tls13 client(std::move(client_socket), tapsec::Role::client, p.client_config<Tls13::Config>());
    error_code cancelled;
    std::string after_cancel;
    net::co_spawn(io, [&]() -> net::awaitable<void> {
        co_await server.async_handshake(use_awaitable);
        char data[64];
        net::steady_timer soon(io, std::chrono::milliseconds(50));
        soon.async_wait([&](error_code) { server.next_layer().cancel(); });
        co_await server.async_read_some(net::buffer(data), net::redirect_error(use_awaitable, cancelled));
        // The stream is still usable: the client's data, sent after the cancel, arrives.
        co_await net::async_write(server, net::buffer("go", 2), use_awaitable);
        auto n = co_await server.async_read_some(net::buffer(data), use_awaitable);
        after_cancel.assign(data, n);
    }, net::detached);
    net::co_spawn(io, [&]() -> net::awaitable<void> {
        co_await client.async_handshake(use_awaitable);
        char go[2];
        co_await net::async_read(client, net::buffer(go), use_awaitable);
        co_await net::async_write(client, net::buffer("still here", 10), use_awaitable);
    }, net::detached);
    REQUIRE(run_bounded(io));
    CHECK(cancelled == net::error::operation_aborted);
    CHECK(after_cancel == "still here");
}

TEST_CASE("asio stream: a stream ending without the protocol's close reads as truncated, not end of file") {
    Pki p;
    REQUIRE(p.pki.ok());
    net::io_context io;
    auto [server_socket, client_socket] = tcp_pair(io);
    Tls13 server(std::move(server_socket), tapsec::Role::server, p.server_config<Tls13::Config>());
    Tls13 client(std::move(client_socket), tapsec::Role::client, p.client_config<Tls13::Config>());
    error_code ended;
    net::co_spawn(io, [&]() -> net::awaitable<void> {
        co_await server.async_handshake(use_awaitable);
        char data[64];
        co_await server.async_read_some(net::buffer(data), net::redirect_error(use_awaitable, ended));
    }, net::detached);
    client.async_handshake([&](error_code ec) {
        REQUIRE_FALSE(ec);
        // End of stream without close_notify (the socket stays open for the server's tickets).
        client.next_layer().shutdown(tcp::socket::shutdown_send);
    });
    REQUIRE(run_bounded(io));
    REQUIRE(ended);
    CHECK(ended != net::error::eof);
    CHECK(tapsec::asio::to_std(ended) == tapsec::condition::truncated);
}

TEST_CASE("asio stream: a handshake against an untrusted certificate fails with tapsec's code and message") {
    Pki p;
    tapsec::test::TestPki other;
    REQUIRE(p.pki.ok());
    REQUIRE(other.ok());
    net::io_context io;
    auto [server_socket, client_socket] = tcp_pair(io);
    Tls13 server(std::move(server_socket), tapsec::Role::server, p.server_config<Tls13::Config>());
    auto config = p.client_config<Tls13::Config>();
    config.trust.ca_certificates_pem = {other.ca().certificate_pem()};
    Tls13 client(std::move(client_socket), tapsec::Role::client, config);
    error_code server_result, client_result;
    server.async_handshake([&](error_code ec) { server_result = ec; });
    client.async_handshake([&](error_code ec) { client_result = ec; });
    REQUIRE(run_bounded(io));
    REQUIRE(client_result);
    REQUIRE(server_result);
    CHECK(tapsec::asio::to_std(client_result) == tapsec::condition::peer_not_trusted);
    CHECK(client_result.message() == tapsec::asio::to_std(client_result).message());
}

TEST_CASE("asio errors: tapsec and system codes cross to Boost and back unchanged") {
    const auto tapsec_code = make_error_code(tapsec::Errc::bad_record_mac);
    const auto boosted = tapsec::asio::to_boost(tapsec_code);
    CHECK(boosted.value() == tapsec_code.value());
    CHECK(std::string(boosted.category().name()) == tapsec_code.category().name());
    CHECK(boosted.message() == tapsec_code.message());
    CHECK(tapsec::asio::to_std(boosted) == tapsec_code);
    CHECK(&tapsec::asio::to_boost(tapsec_code).category() == &boosted.category());  // one category each
    const std::error_code reset(ECONNRESET, std::generic_category());
    CHECK(tapsec::asio::to_boost(reset) == net::error::connection_reset);
    CHECK(tapsec::asio::to_std(tapsec::asio::to_boost(reset)) == std::errc::connection_reset);
    CHECK_FALSE(tapsec::asio::to_boost(std::error_code{}));
}

TEST_CASE("asio datagram: DTLS 1.2 keeps message boundaries, and the timer retransmits to a late server") {
    Pki p;
    REQUIRE(p.pki.ok());
    net::io_context io;
    const auto loopback = net::ip::make_address("127.0.0.1");
    // The server's port is chosen now and bound only later: the client's first flight is
    // lost (nobody listens), and only the adapter's timer can send it again.
    const udp::endpoint server_at(loopback, tapsec::test::free_port(SOCK_DGRAM));
    udp::socket client_socket(io, udp::endpoint(loopback, 0));
    Dtls12 client(std::move(client_socket), server_at, tapsec::Role::client, p.client_config<Dtls12::Config>());
    std::optional<Dtls12> server;

    const std::vector<std::string> messages{"one", std::string(1000, 'x'), "three"};
    std::vector<std::string> server_got, client_got;
    error_code server_end;
    bool client_done = false;
    net::co_spawn(io, [&]() -> net::awaitable<void> {
        co_await client.async_handshake(use_awaitable);
        char data[2048];
        for (const auto& m : messages) {
            co_await client.async_send(net::buffer(m), use_awaitable);
            auto n = co_await client.async_receive(net::buffer(data), use_awaitable);
            client_got.emplace_back(data, n);
        }
        co_await client.async_shutdown(use_awaitable);
        client_done = true;
    }, net::detached);
    net::steady_timer late(io, std::chrono::milliseconds(300));
    late.async_wait([&](error_code) {
        server.emplace(udp::socket(io, server_at), tapsec::Role::server, p.server_config<Dtls12::Config>());
        net::co_spawn(io, [&]() -> net::awaitable<void> {
            co_await server->async_handshake(use_awaitable);
            char data[2048];
            for (;;) {
                error_code ec;
                auto n = co_await server->async_receive(net::buffer(data), net::redirect_error(use_awaitable, ec));
                if (ec) { server_end = ec; break; }
                server_got.emplace_back(data, n);
                co_await server->async_send(net::buffer(data, n), use_awaitable);
            }
        }, net::detached);
    });
    REQUIRE(run_bounded(io));
    CHECK(client_done);
    CHECK(server_got == messages);
    CHECK(client_got == messages);
    CHECK(server_end == net::error::eof);
}

TEST_CASE("docs/async.md shows exactly the example the tests build and run") {
    tapsec::test::check_doc_shows_file("docs/async.md", "examples/asio_echo_server.cpp");
}

TEST_CASE("asio datagram: a WireGuard peer pair exchanges tunnelled packets, and the closed sockets stop the timers") {
    using Wg = tapsec::asio::datagram<tapsec::WireGuardHandshake, tapsec::WireGuardRecord>;
    namespace wg = tapsec::wireguard;
    auto private_key = [] {
        tapsec::SecretArray<32> k;
        tapsec::crypto::Botan2::random(k);
        return k;
    };
    auto public_of = [](const tapsec::SecretArray<32>& k) {
        return wg::StaticIdentity<tapsec::crypto::Botan2>::from_private(k)->public_key;
    };
    auto ip = [](const char* text) { return *wg::IpAddress::parse(text); };
    net::io_context io;
    const auto loopback = net::ip::make_address("127.0.0.1");
    udp::socket a_socket(io, udp::endpoint(loopback, 0)), b_socket(io, udp::endpoint(loopback, 0));
    const auto a_at = a_socket.local_endpoint(), b_at = b_socket.local_endpoint();
    const auto a_key = private_key(), b_key = private_key();
    auto config = [&](const tapsec::SecretArray<32>& own, const tapsec::SecretArray<32>& peer, const udp::endpoint& peer_at,
                      const char* peer_ip) {
        Wg::Config c;
        c.interface.private_key = own;
        c.interface.has_private_key = true;
        wg::PeerSettings p;
        p.public_key = public_of(peer);
        p.endpoint = tapsec::asio::detail::to_endpoint(peer_at);
        p.allowed_ips = {*wg::IpPrefix::parse(std::string(peer_ip) + "/32")};
        c.interface.peers.push_back(p);
        return c;
    };
    Wg a(std::move(a_socket), b_at, tapsec::Role::client, config(a_key, b_key, b_at, "10.0.0.2"));
    Wg b(std::move(b_socket), a_at, tapsec::Role::server, config(b_key, a_key, a_at, "10.0.0.1"));
    std::string b_got, a_got;
    net::co_spawn(io, [&]() -> net::awaitable<void> {
        co_await b.async_handshake(use_awaitable);
        char data[2048];
        auto n = co_await b.async_receive(net::buffer(data), use_awaitable);
        b_got.assign(data, n);
        auto reply = wg::make_ipv4_udp_packet(ip("10.0.0.2"), ip("10.0.0.1"), 2222, 1111, tapsec::as_bytes("pong"));
        co_await b.async_send(net::buffer(reply), use_awaitable);
    }, net::detached);
    net::co_spawn(io, [&]() -> net::awaitable<void> {
        co_await a.async_handshake(use_awaitable);
        auto packet = wg::make_ipv4_udp_packet(ip("10.0.0.1"), ip("10.0.0.2"), 1111, 2222, tapsec::as_bytes("ping"));
        co_await a.async_send(net::buffer(packet), use_awaitable);
        char data[2048];
        auto n = co_await a.async_receive(net::buffer(data), use_awaitable);
        a_got.assign(data, n);
        co_await a.async_shutdown(use_awaitable);
        co_await b.async_shutdown(use_awaitable);
    }, net::detached);
    // WireGuard's keepalive and rekey timers run while a socket is open; both are closed
    // at the end, so the io_context runs out of work.
    REQUIRE(run_bounded(io));
    auto payload = [](const std::string& packet) {
        auto parsed = wg::parse_ipv4_udp_packet(tapsec::as_bytes(packet));
        return parsed ? std::string(parsed->payload.begin(), parsed->payload.end()) : std::string("(not a packet)");
    };
    CHECK(payload(b_got) == "ping");
    CHECK(payload(a_got) == "pong");
    CHECK_FALSE(a.next_layer().is_open());
}

TEST_CASE("asio datagram: QUIC (TLS 1.3 keying QUIC packet protection) echoes stream data and closes cleanly") {
    // The same adapter as DTLS and WireGuard: nothing QUIC-specific in it. QUIC's Secure<>
    // carries stream 0, a byte stream, so a receive returns what has arrived, not one
    // message: each side reads until it has the bytes it expects.
    using Quic = tapsec::asio::datagram<tapsec::Tls13Handshake, tapsec::QuicPacketProtection>;
    tapsec::test::TestPki pki;
    REQUIRE(pki.ok());
    auto configs = tapsec::test::quic_configs(pki);
    net::io_context io;
    const auto loopback = net::ip::make_address("127.0.0.1");
    udp::socket server_socket(io, udp::endpoint(loopback, 0));
    const auto server_at = server_socket.local_endpoint();
    Quic server(std::move(server_socket), tapsec::Role::server, configs.server);
    Quic client(udp::socket(io, udp::endpoint(loopback, 0)), server_at, tapsec::Role::client, configs.client);

    const std::vector<std::string> messages{"one", std::string(5000, 'q'), "three"};
    std::size_t total = 0;
    for (const auto& m : messages) total += m.size();
    std::string server_got, client_got;
    error_code server_end;
    bool client_done = false;
    net::co_spawn(io, [&]() -> net::awaitable<void> {
        co_await server.async_handshake(use_awaitable);
        char data[4096];
        for (;;) {
            error_code ec;
            auto n = co_await server.async_receive(net::buffer(data), net::redirect_error(use_awaitable, ec));
            if (ec) { server_end = ec; break; }
            server_got.append(data, n);
            co_await server.async_send(net::buffer(data, n), use_awaitable);
        }
    }, net::detached);
    net::co_spawn(io, [&]() -> net::awaitable<void> {
        co_await client.async_handshake(use_awaitable);
        char data[4096];
        std::size_t expected = 0;
        for (const auto& m : messages) {
            co_await client.async_send(net::buffer(m), use_awaitable);
            expected += m.size();
            while (client_got.size() < expected) {
                auto n = co_await client.async_receive(net::buffer(data), use_awaitable);
                client_got.append(data, n);
            }
        }
        co_await client.async_shutdown(use_awaitable);
        client_done = true;
    }, net::detached);
    REQUIRE(run_bounded(io));
    std::string all;
    for (const auto& m : messages) all += m;
    CHECK(client_done);
    CHECK(client_got.size() == total);
    CHECK(client_got == all);
    CHECK(server_got == all);
    CHECK(server_end == net::error::eof);
}

TEST_CASE("asio datagram: DTLS-SRTP keys SRTP, RTP packets cross both ways and the DTLS close ends the server") {
    using DtlsSrtp = tapsec::asio::datagram<tapsec::DtlsSrtpHandshake, tapsec::SrtpRecord>;
    tapsec::test::BotanTlsPki pki;
    REQUIRE(pki.pki.ok());
    net::io_context io;
    const auto loopback = net::ip::make_address("127.0.0.1");
    udp::socket server_socket(io, udp::endpoint(loopback, 0));
    const auto server_at = server_socket.local_endpoint();
    DtlsSrtp server(std::move(server_socket), tapsec::Role::server, pki.server_config());
    DtlsSrtp client(udp::socket(io, udp::endpoint(loopback, 0)), server_at, tapsec::Role::client, pki.client_config());

    std::vector<tapsec::Bytes> sent, server_got, client_got, replies;
    for (std::uint16_t i = 0; i < 3; ++i) {
        sent.push_back(tapsec::test::rtp_packet(100 + i, "media " + std::to_string(i), 0x01020304));
        replies.push_back(tapsec::test::rtp_packet(500 + i, "back " + std::to_string(i), 0x0a0b0c0d));
    }
    error_code server_end;
    bool client_done = false;
    net::co_spawn(io, [&]() -> net::awaitable<void> {
        co_await server.async_handshake(use_awaitable);
        std::uint8_t data[2048];
        for (std::size_t i = 0;; ++i) {
            error_code ec;
            auto n = co_await server.async_receive(net::buffer(data), net::redirect_error(use_awaitable, ec));
            if (ec) { server_end = ec; break; }
            server_got.emplace_back(data, data + n);
            if (i < replies.size()) co_await server.async_send(net::buffer(replies[i]), use_awaitable);
        }
    }, net::detached);
    net::co_spawn(io, [&]() -> net::awaitable<void> {
        co_await client.async_handshake(use_awaitable);
        std::uint8_t data[2048];
        for (const auto& packet : sent) {
            co_await client.async_send(net::buffer(packet), use_awaitable);
            auto n = co_await client.async_receive(net::buffer(data), use_awaitable);
            client_got.emplace_back(data, data + n);
        }
        co_await client.async_shutdown(use_awaitable);
        client_done = true;
    }, net::detached);
    REQUIRE(run_bounded(io));
    CHECK(client_done);
    CHECK(server_got == sent);     // SRTP-protected on the wire, the RTP packets as sent here
    CHECK(client_got == replies);
    CHECK(server_end == net::error::eof);
}

}  // namespace asio_adapter_test
