// TLS 1.3 handshake: client and server of this project against each other over
// MemoryStream (the in-process transport), for each suite, group and certificate type.
#include <doctest/doctest.h>

#include <future>
#include <thread>

#include <tapsec/tapsec.hpp>
#include <tapsec/transport/memory.hpp>

#include "support/pki.hpp"

using namespace tapsec;
using Tls = Secure<Tls13Handshake, AeadRecord, MemoryStream>;

namespace {

struct Pair {
    tls13::Config client, server;
};

Pair configs(test::TestPki& pki, test::KeyType type) {
    auto leaf = pki.issue("server" + std::to_string(static_cast<int>(type)), type);
    Pair p;
    p.server.identity = Identity(leaf.certificate_pem(), leaf.key_pem());
    p.client.trust.ca_certificates_pem = {pki.ca().certificate_pem()};
    p.client.server_name = "localhost";
    return p;
}

/// Runs both ends; returns {client error, server error}.
std::pair<std::error_code, std::error_code> connect(Tls& client, Tls& server) {
    auto server_done = std::async(std::launch::async, [&] { return server.handshake(); });
    auto c = client.handshake();
    auto s = server_done.get();
    return {c, s};
}

void echo_round_trip(Tls& client, Tls& server) {
    const std::string text = "hello over TLS 1.3";
    REQUIRE_FALSE(client.send(as_bytes(text)));
    auto got = server.receive_message(std::chrono::seconds(5));
    REQUIRE(got.ok());
    CHECK(std::string(got->begin(), got->end()) == text);
    REQUIRE_FALSE(server.send(as_bytes(text + "!")));
    auto back = client.receive_message(std::chrono::seconds(5));
    REQUIRE(back.ok());
    CHECK(std::string(back->begin(), back->end()) == text + "!");
}

}  // namespace

TEST_CASE("TLS 1.3 1-RTT over MemoryStream: every suite, both groups, three key types") {
    test::TestPki pki;
    REQUIRE(pki.ok());
    for (auto type : {test::KeyType::ecdsa_p256, test::KeyType::ed25519, test::KeyType::rsa2048}) {
        auto p = configs(pki, type);
        for (const char* suite : {"TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256"}) {
            for (const char* group : {"x25519", "secp256r1"}) {
                CAPTURE(suite);
                CAPTURE(group);
                CAPTURE(static_cast<int>(type));
                auto [a, b] = MemoryStream::pair();
                p.client.cipher_suites = {suite};
                p.client.groups = {group};
                Tls client(Role::client, p.client, std::move(a));
                Tls server(Role::server, p.server, std::move(b));
                auto [c, s] = connect(client, server);
                REQUIRE_MESSAGE(!c, c.message());
                REQUIRE_MESSAGE(!s, s.message());
                CHECK(client.info().cipher_suite == suite);
                CHECK(client.info().group == group);
                CHECK(server.info().cipher_suite == suite);
                CHECK(client.peer().authenticated);
                echo_round_trip(client, server);
                // Exporters agree (RFC 8446 7.5).
                auto ec_ = client.export_keying_material("EXPORTER-test", as_bytes("ctx"), 32);
                auto es = server.export_keying_material("EXPORTER-test", as_bytes("ctx"), 32);
                REQUIRE(ec_.ok());
                REQUIRE(es.ok());
                CHECK(*ec_ == *es);
                // close_notify: the reader sees a clean end.
                CHECK_FALSE(client.close());
                auto end = server.receive_message(std::chrono::seconds(5));
                REQUIRE(end.ok());
                CHECK(end->empty());
            }
        }
    }
}
