// QUIC version 2 (RFC 9369) end to end in memory: a client that offers v2 directly and
// a server that accepts it run the whole connection in v2 (every long header says
// 0x6b3343cf, v2's type bits, v2's keys), with a Retry and with 0-RTT too. Negative: a
// v1-only server answers a v2 Initial with Version Negotiation and keeps no state;
// packets whose version field was rewritten (so the type bits are read under the
// other version's numbering and the other version's keys) are dropped, never a crash.
#include <doctest/doctest.h>

#include "support/quic_pair.hpp"

using namespace tapsec;
using namespace tapsec::quic;

namespace quic_version2_test {

struct LongHeaders {
    std::size_t v1 = 0, v2 = 0, other = 0;
    std::size_t retries = 0, zero_rtt = 0;
};

/// Counts the long headers of every datagram by version (and the v2 types seen).
std::function<void(Bytes&, bool)> count_versions(LongHeaders& seen) {
    return [&seen](Bytes& d, bool) {
        std::size_t at = 0;
        while (at < d.size()) {
            auto h = parse_header(ByteView(d).subspan(at), 8);
            if (!h || !is_long(h->type)) break;
            if (h->type == PacketType::version_negotiation) break;
            (h->version == version_2 ? seen.v2 : h->version == version_1 ? seen.v1 : seen.other)++;
            seen.retries += h->type == PacketType::retry;
            seen.zero_rtt += h->type == PacketType::zero_rtt;
            at += h->packet_size;
        }
    };
}

std::string exchange(test::QuicPair& p, const std::string& request, const std::string& answer) {
    REQUIRE_FALSE(p.client.start(p.now));
    REQUIRE(p.run([&] { return p.client.is_established() && p.server.is_established(); }));
    REQUIRE_FALSE(p.client.send(as_bytes(request), p.now));
    std::string got;
    REQUIRE(p.run([&] {
        while (auto v = p.server.poll_plaintext()) got.append(v->begin(), v->end());
        return got == request;
    }));
    REQUIRE_FALSE(p.server.send(as_bytes(answer), p.now));
    std::string back;
    REQUIRE(p.run([&] {
        while (auto v = p.client.poll_plaintext()) back.append(v->begin(), v->end());
        return back == answer;
    }));
    return back;
}

Bytes first_initial(quic::Connection<>& client) {
    Bytes buf(max_transmit_size);
    REQUIRE_FALSE(client.start(Instant{}));
    auto t = client.poll_transmit(MutableByteView(buf));
    REQUIRE(t);
    buf.resize(t->size);
    return buf;
}

void set_version(Bytes& packet, std::uint32_t v) {
    for (int i = 0; i < 4; ++i) packet[1 + static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(v >> (24 - 8 * i));
}


TEST_CASE("QUIC v2: a client offering v2 directly, a server accepting it: the whole connection in v2") {
    test::TestPki pki;
    REQUIRE(pki.ok());
    Settings v2;
    v2.version = version_2;
    test::QuicPair p(test::quic_configs(pki), v2, {});
    LongHeaders seen;
    p.tamper = count_versions(seen);
    CHECK(exchange(p, "hello in v2", "answer in v2") == "answer in v2");
    CHECK(p.client.version() == version_2);
    CHECK(p.server.version() == version_2);
    CHECK(p.client.session_info().protocol == "QUIC v2 (TLS 1.3)");
    CHECK(seen.v2 > 2);  // Initial and Handshake packets both ways
    CHECK(seen.v1 == 0);
    CHECK(seen.other == 0);
    // Key update derives with "quicv2 ku" on both sides.
    REQUIRE(p.run([&] { return p.client.update_keys(true, p.now) == std::error_code{}; }));
    REQUIRE_FALSE(p.client.send(as_bytes("after the key update"), p.now));
    std::string got;
    REQUIRE(p.run([&] {
        while (auto v = p.server.poll_plaintext()) got.append(v->begin(), v->end());
        return got == "after the key update";
    }));
    CHECK_FALSE(p.client.error());
    CHECK_FALSE(p.server.error());
}

TEST_CASE("QUIC v2: a Retry server answers in v2 (v2 Retry key), and the retried connection stays v2") {
    test::TestPki pki;
    REQUIRE(pki.ok());
    Settings client, server;
    client.version = version_2;
    server.retry = true;
    test::QuicPair p(test::quic_configs(pki), client, server);
    LongHeaders seen;
    p.tamper = count_versions(seen);
    CHECK(exchange(p, "retried", "ok") == "ok");
    CHECK(p.server.stats().retries_sent == 1);
    CHECK(seen.retries == 1);
    CHECK(seen.v1 == 0);
    CHECK(p.client.version() == version_2);
}

TEST_CASE("QUIC v2: 0-RTT resumption in v2") {
    test::TestPki pki;
    REQUIRE(pki.ok());
    auto cache = std::make_shared<InMemorySessionCache>();
    auto configs = test::quic_resumption_configs(pki, cache);
    Settings client, server;
    client.version = version_2;
    client.early_data = server.early_data = true;
    {
        test::QuicPair first(configs, client, server);
        REQUIRE_FALSE(first.client.start(first.now));
        REQUIRE(first.run([&] { return cache->load("localhost").has_value(); }));
    }
    test::QuicPair p(configs, client, server);
    LongHeaders seen;
    p.tamper = count_versions(seen);
    REQUIRE_FALSE(p.client.start(p.now));
    REQUIRE_FALSE(p.client.stream_send(0, as_bytes("early in v2"), true, p.now));
    std::string got;
    REQUIRE(p.run([&] {
        while (auto v = p.server.poll_plaintext()) got.append(v->begin(), v->end());
        return got == "early in v2" && p.client.is_established();
    }));
    CHECK(p.client.session_info().early_data_accepted);
    CHECK(seen.zero_rtt > 0);
    CHECK(seen.v1 == 0);
    CHECK(p.server.stats().zero_rtt_packets_received > 0);
}

TEST_CASE("QUIC v2 negative: a v1-only server answers a v2 Initial with Version Negotiation, keeps no state") {
    test::TestPki pki;
    REQUIRE(pki.ok());
    const auto configs = test::quic_configs(pki);
    Settings v2, v1_only;
    v2.version = version_2;
    v1_only.accepted_versions = {version_1};
    quic::Connection<> client(Role::client, configs.client, v2), server(Role::server, configs.server, v1_only);
    const Endpoint from = *Endpoint::parse("127.0.0.1", 4000);
    const Bytes initial = first_initial(client);
    REQUIRE_FALSE(server.receive(initial, from, Instant{}));
    Bytes buf(max_transmit_size);
    auto vn = server.poll_transmit(MutableByteView(buf));
    REQUIRE(vn);
    auto h = parse_header(ByteView(buf).first(vn->size), 0);
    REQUIRE(h);
    CHECK(h->type == PacketType::version_negotiation);
    CHECK(to_hex(h->versions) == "00000001");
    CHECK_FALSE(server.poll_transmit(MutableByteView(buf)));  // no connection state
    CHECK_FALSE(server.is_established());
    // The client (v2, RFC 9368 incompatible negotiation not attempted) gives up with a distinct error.
    REQUIRE_FALSE(client.receive(ByteView(buf).first(vn->size), from, Instant{}));
    CHECK(client.error() == make_error_code(Error::unknown_version));
}

TEST_CASE("QUIC v2 negative: type bits read under the other version's numbering and keys are dropped") {
    test::TestPki pki;
    REQUIRE(pki.ok());
    const auto configs = test::quic_configs(pki);
    const Endpoint from = *Endpoint::parse("127.0.0.1", 4000);
    struct Case {
        const char* name;
        std::uint32_t sent_in, rewritten_to;
    };
    // A v2 Initial (bits 01) labelled v1 reads as 0-RTT; a v1 Initial (bits 00) labelled v2 reads as Retry.
    for (const Case& c : {Case{"v2 Initial labelled v1", version_2, version_1}, Case{"v1 Initial labelled v2", version_1, version_2}}) {
        CAPTURE(c.name);
        Settings client_settings;
        client_settings.version = c.sent_in;
        quic::Connection<> client(Role::client, configs.client, client_settings), server(Role::server, configs.server);
        Bytes initial = first_initial(client);
        set_version(initial, c.rewritten_to);
        REQUIRE_FALSE(server.receive(initial, from, Instant{}));
        Bytes buf(max_transmit_size);
        CHECK_FALSE(server.poll_transmit(MutableByteView(buf)));  // no answer, no state
        CHECK(server.stats().packets_dropped >= 1);
        CHECK_FALSE(server.error());
    }
    // Inside a v2 connection: a server Handshake packet relabelled v1 is dropped, the connection goes on.
    Settings v2;
    v2.version = version_2;
    test::QuicPair p(configs, v2, {});
    std::size_t relabelled = 0;
    p.tamper = [&](Bytes& d, bool to_server) {
        for (std::size_t at = 0; !to_server && relabelled == 0 && at < d.size();) {
            auto h = parse_header(ByteView(d).subspan(at), 8);
            if (!h || !is_long(h->type)) return;
            if (h->type == PacketType::handshake) {
                Bytes packet(d.begin() + static_cast<std::ptrdiff_t>(at), d.end());
                set_version(packet, version_1);
                std::copy_n(packet.begin(), 5, d.begin() + static_cast<std::ptrdiff_t>(at));
                ++relabelled;
            }
            at += h->packet_size;
        }
    };
    CHECK(exchange(p, "despite a relabelled packet", "fine") == "fine");
    CHECK(relabelled == 1);
    CHECK(p.client.stats().packets_dropped >= 1);
    CHECK_FALSE(p.client.error());
}

TEST_CASE("QUIC v2: a client configured with a version it does not speak fails at start") {
    test::TestPki pki;
    REQUIRE(pki.ok());
    Settings bad;
    bad.version = 0x0a0a0a0a;
    quic::Connection<> client(Role::client, test::quic_configs(pki).client, bad);
    CHECK(client.start(Instant{}) == make_error_code(Errc::invalid_configuration));
}

}  // namespace quic_version2_test
