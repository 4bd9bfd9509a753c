// Two CurveCP engines wired back to back with a virtual clock: packets are delivered
// in order (or dropped, duplicated, tampered with by a hook), time advances only when
// nothing is in flight, straight to the next timer. Deterministic and fast.
#pragma once

#include <functional>
#include <string>

#include <tapsec/curvecp.hpp>

namespace curvecp_test {

using namespace tapsec;
using Composition = Secure<CurveCpHandshake, CurveCpRecord, Udp>;
using Engine = Composition::Engine;

inline curvecp::KeyPair fixed_key(std::uint8_t seed) {
    curvecp::KeyPair k;
    for (std::size_t i = 0; i < 32; ++i) k.secret_key[i] = static_cast<std::uint8_t>(seed + i);
    k.public_key = crypto::nacl::public_key_of(k.secret_key);
    return k;
}

struct Configs {
    curvecp::Config client, server;
};

inline Configs make_configs() {
    Configs c;
    auto server_key = fixed_key(1);
    c.server.long_term_key = server_key;
    c.server.server_name = "test.example";
    c.server.server_extension[0] = 0x5e;
    c.client.server_public_key = server_key.public_key;
    c.client.server_name = "test.example";
    c.client.server_extension[0] = 0x5e;
    c.client.client_extension[0] = 0xc1;
    c.client.long_term_key = fixed_key(99);
    c.client.first_hello_interval = std::chrono::milliseconds(100);
    c.client.hello_attempts = 3;
    return c;
}

/// A hook sees every packet in flight; return false to drop it. It may modify it.
using Hook = std::function<bool(bool from_client, Bytes& packet)>;

struct Pair {
    Engine client, server;
    Instant now = Instant{} + std::chrono::hours(1);
    Endpoint client_address = *Endpoint::parse("127.0.0.1:40000");
    Endpoint server_address = *Endpoint::parse("127.0.0.1:7788");
    Hook hook;
    std::vector<Bytes> client_sent, server_sent;  // every packet, for replay tests
    Bytes client_received, server_received;

    explicit Pair(const Configs& c) : client(Role::client, c.client), server(Role::server, c.server) {}

    /// Moves every queued packet across once; returns how many moved.
    std::size_t shuttle() {
        std::size_t moved = 0;
        Bytes buffer(max_transmit_size);
        while (auto t = client.poll_transmit(MutableByteView(buffer))) {
            Bytes p(buffer.begin(), buffer.begin() + static_cast<std::ptrdiff_t>(t->size));
            client_sent.push_back(p);
            ++moved;
            if (hook && !hook(true, p)) continue;
            (void)server.receive(p, client_address, now);
        }
        while (auto t = server.poll_transmit(MutableByteView(buffer))) {
            Bytes p(buffer.begin(), buffer.begin() + static_cast<std::ptrdiff_t>(t->size));
            server_sent.push_back(p);
            ++moved;
            if (hook && !hook(false, p)) continue;
            (void)client.receive(p, server_address, now);
        }
        while (auto v = client.poll_plaintext()) client_received.insert(client_received.end(), v->begin(), v->end());
        while (auto v = server.poll_plaintext()) server_received.insert(server_received.end(), v->begin(), v->end());
        return moved;
    }

    /// Runs until `done()` or the virtual clock passed `limit`.
    bool run_until(const std::function<bool()>& done, std::chrono::nanoseconds limit = std::chrono::seconds(120)) {
        const Instant end = now + limit;
        while (!done()) {
            if (shuttle() != 0) continue;
            std::optional<Instant> next;
            for (auto t : {client.next_timeout(), server.next_timeout()})
                if (t && (!next || *t < *next)) next = *t;
            if (!next) return done();
            if (*next > now) now = *next;
            if (now > end) return false;
            (void)client.on_timeout(now);
            (void)server.on_timeout(now);
        }
        return true;
    }

    bool handshake() {
        if (client.start(now)) return false;
        return run_until([&] { return client.is_established() && server.is_established(); });
    }
};

inline Bytes pattern(std::size_t n, std::uint8_t seed = 0) {
    Bytes b(n);
    for (std::size_t i = 0; i < n; ++i) b[i] = static_cast<std::uint8_t>(i * 31 + seed + (i >> 8));
    return b;
}

}  // namespace curvecp_test
