// TLS 1.3 client and server in one process over an in-memory stream, keyed by an
// external pre-shared key (survey 6.1 PSK import): handshake, echo, KeyUpdate (6.3),
// keying-material export (6.3), authenticated close.
#include <cstdio>
#include <thread>

#include <tapsec/tapsec.hpp>

using Tls13 = tapsec::Secure<tapsec::Tls13Handshake, tapsec::AeadRecord, tapsec::MemoryStream>;

int main() {
    using namespace tapsec;
    Tls13::Config config;
    SecretBytes key(32);
    crypto::DefaultProvider::random(key);
    config.pre_shared_keys.push_back({"example-psk", key});
    config.server_name = "localhost";

    auto [client_end, server_end] = MemoryStream::pair();
    std::thread server_thread([&, end = std::move(server_end)]() mutable {
        Tls13 server(Role::server, config, std::move(end));
        if (auto ec = server.handshake()) return (void)std::fprintf(stderr, "server: %s\n", ec.message().c_str());
        while (auto message = server.receive_message()) {
            if (message->empty()) break;  // the client closed
            if (server.send(*message)) break;
        }
        server.close();
    });

    Tls13 client(Role::client, config, std::move(client_end));
    if (auto ec = client.handshake()) {
        std::fprintf(stderr, "client: %s\n", ec.message().c_str());
        return 1;
    }
    auto info = client.info();
    std::printf("negotiated %s, %s, %s\n", info.protocol.c_str(), info.cipher_suite.c_str(), info.group.c_str());

    if (auto ec = client.send(as_bytes("hello"))) return std::fprintf(stderr, "send: %s\n", ec.message().c_str()), 1;
    auto echo = client.receive_message();
    std::printf("echo: %.*s\n", int(echo->size()), reinterpret_cast<const char*>(echo->data()));

    if (auto ec = client.update_keys(/*request_peer_update=*/true))  // both directions re-key
        return std::fprintf(stderr, "key update: %s\n", ec.message().c_str()), 1;
    if (auto ec = client.send(as_bytes("after KeyUpdate"))) return std::fprintf(stderr, "send: %s\n", ec.message().c_str()), 1;
    echo = client.receive_message();
    std::printf("echo: %.*s\n", int(echo->size()), reinterpret_cast<const char*>(echo->data()));

    auto exported = client.export_keying_material("EXPORTER-example", {}, 32);
    std::printf("exported 32 bytes of keying material: %s\n", exported ? "yes" : exported.error().message().c_str());

    client.close();
    server_thread.join();
    return 0;
}
