// The separately compiled mode (core/compiled_engine.hpp): this program links
// tapsec::compiled, which defines TAPSEC_SEPARATE_COMPILATION, and includes only
// <tapsec/tls13.hpp>; the TLS 1.3 engine comes from the library, so this file compiles
// without Botan's headers. Client and server in one process over an in-memory stream,
// keyed by an external PSK: handshake, echo, KeyUpdate, exporter, authenticated close.
// Exits 0 only when every step worked.
#include <cstdio>
#include <random>
#include <thread>

#include <tapsec/tls13.hpp>

#if !defined(TAPSEC_SEPARATE_COMPILATION)
#error "build this example against tapsec::compiled"
#endif

using Tls13 = tapsec::Secure<tapsec::Tls13Handshake, tapsec::AeadRecord, tapsec::MemoryStream>;
static_assert(std::is_same_v<Tls13::Engine,
                             tapsec::CompiledEngine<tapsec::Tls13Handshake, tapsec::AeadRecord, tapsec::crypto::DefaultProvider>>,
              "the engine must come from tapsec::compiled");

int main() {
    using namespace tapsec;
    Tls13::Config config;
    // A fresh example key (getrandom behind std::random_device on Linux); a real
    // deployment imports its PSK from its key management (survey 6.1).
    SecretBytes key(32);
    std::random_device entropy;
    for (auto& b : key) b = static_cast<std::uint8_t>(entropy());
    config.pre_shared_keys.push_back({"compiled-example", key});
    config.server_name = "localhost";

    auto [client_end, server_end] = MemoryStream::pair();
    int server_status = 1;
    std::thread server_thread([&, end = std::move(server_end)]() mutable {
        Tls13 server(Role::server, config, std::move(end));
        if (auto ec = server.handshake()) return (void)std::fprintf(stderr, "server: %s\n", ec.message().c_str());
        for (;;) {
            auto message = server.receive_message(std::chrono::seconds(10));
            if (!message) return (void)std::fprintf(stderr, "server: %s\n", message.error().message().c_str());
            if (message->empty()) break;  // the client closed
            if (server.send(*message)) return;
        }
        server_status = server.close() ? 1 : 0;
    });

    Tls13 client(Role::client, config, std::move(client_end));
    int status = 1;
    if (auto ec = client.handshake()) {
        std::fprintf(stderr, "client: %s\n", ec.message().c_str());
    } else {
        const auto info = client.info();
        std::printf("negotiated %s, %s\n", info.protocol.c_str(), info.cipher_suite.c_str());
        bool ok = !client.send(as_bytes("hello"));
        auto echo = client.receive_message(std::chrono::seconds(10));
        ok = ok && echo && std::string_view(reinterpret_cast<const char*>(echo->data()), echo->size()) == "hello";
        ok = ok && !client.update_keys(/*request_peer_update=*/true);
        ok = ok && !client.send(as_bytes("after KeyUpdate"));
        echo = client.receive_message(std::chrono::seconds(10));
        ok = ok && echo && echo->size() == 15;
        auto exported = client.export_keying_material("EXPORTER-example", {}, 32);
        ok = ok && exported && exported->size() == 32;
        std::printf("echo, KeyUpdate and exporter: %s\n", ok ? "ok" : "FAILED");
        status = ok ? 0 : 1;
    }
    if (client.close()) status = 1;
    server_thread.join();
    return status | server_status;
}
