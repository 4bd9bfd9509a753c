// A MinimaLT client and server engine joined in memory, with a clock the test steps and
// addresses it chooses (so a client can move), plus helpers to build a directory.
#pragma once

#include <doctest/doctest.h>

#include <functional>
#include <memory>

#include <tapsec/crypto/botan.hpp>
#include <tapsec/minimalt.hpp>

namespace minimalt_test {

using namespace tapsec;
using namespace std::chrono_literals;
using MltEngine = minimalt::Engine<crypto::Botan2, MinimaltRecord>;

/// A server configuration with fresh keys and its signed directory record, and a
/// client configuration that trusts it.
struct Directory {
    minimalt::Config server, client;
    std::chrono::system_clock::time_point wall = std::chrono::system_clock::now();

    explicit Directory(std::function<void(minimalt::Config&, minimalt::Config&)> adjust = {}) {
        server.wall_clock = client.wall_clock = [this] { return wall; };
        if (adjust) adjust(server, client);
        auto record = minimalt::publish_record<crypto::Botan2>(server, "server.test", "127.0.0.1:4500", 3600s);
        REQUIRE(record);
        client.directory_record = *record;
        auto pub = crypto::Botan2::Ed25519::public_key(server.long_term_seed);
        REQUIRE(pub);
        client.trusted_server_key = *pub;
    }
};

/// Datagrams between the two engines, with the client's source address under test control.
struct Pair {
    Directory directory;
    Endpoint client_ep = *Endpoint::parse("127.0.0.1:40001"), server_ep = *Endpoint::parse("127.0.0.1:4500");
    std::unique_ptr<MltEngine> client, server;
    Instant now = Instant{} + 1000s;
    std::array<std::uint8_t, max_transmit_size> buffer{};
    std::vector<Bytes> wire_to_server, wire_to_client;  // every packet sent, for replay tests
    std::function<bool(Bytes&)> client_to_server_filter;  // false: lose the packet
    bool client_may_fail = false;  // the client's receive may end the tunnel (a refusal)

    explicit Pair(std::function<void(minimalt::Config&, minimalt::Config&)> adjust = {}) : directory(std::move(adjust)) {
        client = std::make_unique<MltEngine>(Role::client, directory.client);
        server = std::make_unique<MltEngine>(Role::server, directory.server);
    }

    /// Moves packets both ways until nothing is left to send. Returns the number moved.
    std::size_t pump(int rounds = 10000) {
        std::size_t moved = 0;
        for (int i = 0; i < rounds; ++i) {
            bool any = false;
            while (auto t = client->poll_transmit(MutableByteView(buffer))) {
                Bytes packet(buffer.begin(), buffer.begin() + static_cast<std::ptrdiff_t>(t->size));
                wire_to_server.push_back(packet);
                any = true;
                ++moved;
                if (client_to_server_filter && !client_to_server_filter(packet)) continue;
                CHECK_FALSE(server->receive(packet, client_ep, now));
            }
            while (auto t = server->poll_transmit(MutableByteView(buffer))) {
                Bytes packet(buffer.begin(), buffer.begin() + static_cast<std::ptrdiff_t>(t->size));
                wire_to_client.push_back(packet);
                any = true;
                ++moved;
                const auto ec = client->receive(packet, server_ep, now);
                if (client_may_fail) continue;
                CHECK_FALSE(ec);
            }
            if (!any) break;
            now += 1ms;
        }
        return moved;
    }

    void establish() {
        REQUIRE_FALSE(client->start(now));
        REQUIRE_FALSE(server->start(now));
        pump();
        REQUIRE(client->is_established());
        REQUIRE(server->is_established());
    }

    /// Seals `payload` as the client would (the test knows the server's ephemeral secret
    /// and reads C' from the client's first request): an authentic box around any payload.
    Bytes forge_client_packet(ByteView payload) {
        REQUIRE_FALSE(wire_to_server.empty());
        const Bytes& request = wire_to_server.front();
        auto key = crypto::nacl::box_beforenm(ByteView(request).subspan(16, 32), directory.server.ephemeral_secret);
        REQUIRE(key);
        minimalt::TunnelRecord<crypto::Botan2> forger;
        minimalt::TunnelKeys keys;
        keys.box_key = *key;
        keys.tid = client->tunnel_id();
        keys.client = true;
        REQUIRE_FALSE(forger.import(keys));
        std::array<std::uint8_t, 2048> out{};
        for (int i = 0; i < 500; ++i) REQUIRE(forger.seal(payload, MutableByteView(out)));  // nonces past the client's
        auto n = forger.seal(payload, MutableByteView(out));
        REQUIRE(n);
        return Bytes(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(*n));
    }

    /// Runs timers: steps the clock past the next timeout and pumps.
    void tick() {
        std::optional<Instant> t = client->next_timeout();
        if (auto s = server->next_timeout()) t = t ? std::min(*t, *s) : s;
        if (t && *t > now) now = *t;
        client->on_timeout(now);
        server->on_timeout(now);
        pump();
    }
};

inline Bytes text(std::string_view s) { return Bytes(s.begin(), s.end()); }

inline std::string drain(MltEngine& e, std::uint32_t connection = 1) {
    std::string out;
    while (auto v = e.poll_plaintext(connection)) out.append(v->begin(), v->end());
    return out;
}

}  // namespace minimalt_test
