// tcpcrypt negotiated by TCP-ENO, client and server in one process over TCP loopback:
// Secure<TcpcryptHandshake, TcpcryptRecord, TcpEno>. The application does what tcpcrypt
// leaves to it: it authenticates the session ID (here by comparing both ends' IDs; two
// users would read them aloud, a password protocol would sign them). A second connection
// resumes the session from both sides' caches, with no key exchange.
#include <cstdio>
#include <future>

#include <tapsec/tcpcrypt.hpp>

using namespace tapsec;
using Tcpcrypt = Secure<TcpcryptHandshake, TcpcryptRecord, TcpEno>;

int main() {
    auto listener = TcpEnoListener::bind("127.0.0.1", 0);
    if (!listener) return std::fprintf(stderr, "bind: %s\n", listener.error().message().c_str()), 1;
    tcpcrypt::Config client_config, server_config;
    client_config.session_cache = std::make_shared<InMemorySessionCache>();
    client_config.resumption_peer = "127.0.0.1:" + std::to_string(listener->port());
    server_config.session_cache = std::make_shared<InMemorySessionCache>();

    for (int connection = 1; connection <= 2; ++connection) {
        auto server = std::async(std::launch::async, [&]() -> Bytes {
            auto socket = listener->accept(std::chrono::seconds(5));
            if (!socket) return {};
            Tcpcrypt s(Role::server, server_config, std::move(*socket));
            if (s.handshake()) return {};
            while (auto message = s.receive_message(std::chrono::seconds(5))) {
                if (message->empty() || s.send(*message)) break;  // echo until the client closes
            }
            s.close();
            return s.engine().session_id();
        });

        auto socket = TcpEno::connect("127.0.0.1", listener->port());
        if (!socket) return std::fprintf(stderr, "connect: %s\n", socket.error().message().c_str()), 1;
        Tcpcrypt client(Role::client, client_config, std::move(*socket));
        if (auto ec = client.handshake()) return std::fprintf(stderr, "handshake: %s\n", ec.message().c_str()), 1;
        const auto info = client.info();
        std::printf("connection %d: %s, %s, %s%s\n", connection, info.protocol.c_str(), info.group.c_str(),
                    info.cipher_suite.c_str(), client.resumed() ? " (resumed)" : "");
        if (auto ec = client.send(as_bytes("hello over tcpcrypt"))) return std::fprintf(stderr, "send: %s\n", ec.message().c_str()), 1;
        auto echo = client.receive_message(std::chrono::seconds(5));
        if (!echo) return std::fprintf(stderr, "receive: %s\n", echo.error().message().c_str()), 1;
        std::printf("echo: %.*s\n", int(echo->size()), reinterpret_cast<const char*>(echo->data()));
        client.close();
        const Bytes server_id = server.get();
        // Authentication delegation: the session IDs must match, or someone is in the middle.
        const bool same = constant_time_equal(server_id, client.engine().session_id());
        std::printf("session ID %s: %s\n", to_hex(client.engine().session_id()).c_str(), same ? "same on both ends" : "MISMATCH");
        if (!same) return 1;
    }
    return 0;
}
