// Secure<TcpcryptHandshake, TcpcryptRecord, TcpEno>, our client against our server over
// real TCP on loopback (no tcpcrypt peer is packaged: PEERS.md): every TEP with every
// AEAD, resumption across connections, rekeying, a clean close on both sides, and the
// fallback to plain TCP with a client that speaks no ENO, refused by default.
#include <doctest/doctest.h>

#include <future>
#include <thread>

#include <tapsec/tcpcrypt.hpp>

using namespace tapsec;
using namespace std::chrono_literals;
using TcpcryptOverEno = Secure<TcpcryptHandshake, TcpcryptRecord, TcpEno>;

namespace tcpcrypt_loopback_test {

struct ServerResult {
    std::error_code error;
    Bytes session_id;
    bool encrypted = false, resumed = false, clean_close = false;
    std::string received;
};

/// Accepts one connection, echoes everything back, and reports what it saw.
std::future<ServerResult> serve_once(TcpEnoListener& listener, tcpcrypt::Config config) {
    return std::async(std::launch::async, [&listener, config]() mutable {
        ServerResult r;
        auto socket = listener.accept(10s);
        if (!socket) return r.error = socket.error(), r;
        config.handshake_timeout = 10s;
        TcpcryptOverEno server(Role::server, config, std::move(*socket));
        if ((r.error = server.handshake())) return r;
        r.session_id = server.engine().session_id();
        r.encrypted = server.engine().is_encrypted();
        r.resumed = server.engine().resumed();
        std::array<std::uint8_t, 4096> buffer{};
        for (;;) {
            auto n = server.receive(buffer, 10s);
            if (!n) return r.error = n.error(), r;
            if (*n == 0) break;  // the client closed
            r.received.append(buffer.begin(), buffer.begin() + static_cast<std::ptrdiff_t>(*n));
            if (auto ec = server.send(ByteView(buffer.data(), *n))) return r.error = ec, r;
        }
        r.clean_close = true;
        server.close();
        return r;
    });
}

/// Connects, sends `text` (after a rekey when asked), reads the echo, closes, and checks
/// the server's end of stream.
struct ClientResult {
    std::error_code error;
    Bytes session_id;
    bool encrypted = false, resumed = false, clean_close = false;
    std::string echo;
};
ClientResult run_client(std::uint16_t port, tcpcrypt::Config config, std::string_view text, bool rekey = false) {
    ClientResult r;
    auto socket = TcpEno::connect("127.0.0.1", port, 5s);
    if (!socket) return r.error = socket.error(), r;
    config.handshake_timeout = 10s;
    TcpcryptOverEno client(Role::client, config, std::move(*socket));
    if ((r.error = client.handshake())) return r;
    r.session_id = client.engine().session_id();
    r.encrypted = client.engine().is_encrypted();
    r.resumed = client.resumed();
    if (rekey) {
        if ((r.error = client.update_keys())) return r;
    }
    if ((r.error = client.send(as_bytes(text)))) return r;
    std::array<std::uint8_t, 4096> buffer{};
    while (r.echo.size() < text.size()) {
        auto n = client.receive(buffer, 10s);
        if (!n) return r.error = n.error(), r;
        if (*n == 0) break;
        r.echo.append(buffer.begin(), buffer.begin() + static_cast<std::ptrdiff_t>(*n));
    }
    client.close();
    auto end = client.receive(buffer, 10s);  // the server closes after our close
    r.clean_close = end && *end == 0;
    return r;
}


TEST_CASE("tcpcrypt over TCP loopback: every TEP with every AEAD, echo, rekey, clean close") {
    for (std::uint8_t tep : {tcp_eno::tep::tcpcrypt_ecdhe_p256, tcp_eno::tep::tcpcrypt_ecdhe_curve25519}) {
        for (std::uint8_t aead : {tcpcrypt::aead_id::aes_128_gcm, tcpcrypt::aead_id::aes_256_gcm,
                                  tcpcrypt::aead_id::chacha20_poly1305}) {
            CAPTURE(int(tep));
            CAPTURE(int(aead));
            tcpcrypt::Config config;
            config.teps = {tep};
            config.aeads = {aead};
            auto listener = TcpEnoListener::bind("127.0.0.1", 0);
            REQUIRE(listener);
            auto server = serve_once(*listener, config);
            const std::string text(5000, 'x');
            auto client = run_client(listener->port(), config, text, /*rekey=*/aead == tcpcrypt::aead_id::aes_256_gcm);
            auto s = server.get();
            CHECK_FALSE(client.error);
            CHECK_FALSE(s.error);
            CHECK(client.encrypted);
            CHECK(s.encrypted);
            CHECK(client.session_id.size() == 33);
            CHECK(client.session_id.front() == tep);
            CHECK(client.session_id == s.session_id);
            CHECK(client.echo == text);
            CHECK(s.received == text);
            CHECK(client.clean_close);
            CHECK(s.clean_close);
        }
    }
}

TEST_CASE("tcpcrypt over TCP loopback: the second and third connections resume") {
    tcpcrypt::Config client_config, server_config;
    client_config.session_cache = std::make_shared<InMemorySessionCache>();
    client_config.resumption_peer = "127.0.0.1";
    server_config.session_cache = std::make_shared<InMemorySessionCache>();
    auto listener = TcpEnoListener::bind("127.0.0.1", 0);
    REQUIRE(listener);
    Bytes previous;
    for (int i = 0; i < 3; ++i) {
        CAPTURE(i);
        auto server = serve_once(*listener, server_config);
        auto client = run_client(listener->port(), client_config, "again");
        auto s = server.get();
        REQUIRE_FALSE(client.error);
        REQUIRE_FALSE(s.error);
        CHECK(client.resumed == (i > 0));
        CHECK(s.resumed == (i > 0));
        CHECK(client.session_id == s.session_id);
        CHECK(client.session_id != previous);
        CHECK(client.echo == "again");
        previous = client.session_id;
    }
}

TEST_CASE("a client that speaks no TCP-ENO: refused by default, plain TCP (reported) when allowed") {
    for (bool allow : {false, true}) {
        CAPTURE(allow);
        tcpcrypt::Config config;
        config.allow_plain_fallback = allow;
        auto listener = TcpEnoListener::bind("127.0.0.1", 0);
        REQUIRE(listener);
        auto server = serve_once(*listener, config);
        auto plain = Tcp::connect("127.0.0.1", listener->port(), 5s);
        REQUIRE(plain);
        REQUIRE_FALSE(plain->write_all(as_bytes("plain hello")));
        std::array<std::uint8_t, 64> buffer{};
        std::string echo;
        while (allow && echo.size() < 11) {
            auto n = plain->read_some(buffer, Clock::now() + 10s);
            REQUIRE(n);
            if (*n == 0) break;
            echo.append(buffer.begin(), buffer.begin() + static_cast<std::ptrdiff_t>(*n));
        }
        plain->close();
        auto s = server.get();
        if (allow) {
            CHECK_FALSE(s.error);
            CHECK_FALSE(s.encrypted);
            CHECK(s.session_id.empty());
            CHECK(s.received == "plain hello");
            CHECK(echo == "plain hello");
        } else {
            CHECK(s.error == make_error_code(tcpcrypt::Error::eno_not_negotiated));
        }
    }
}

}  // namespace tcpcrypt_loopback_test
