// Nothing silently lost (issue 16, item 5): one row per composition and per way data is
// accepted to send (before or during the handshake, larger than one record or packet,
// beyond the send window, after our close, after the peer's, early data). Each row
// either delivers exactly what it sent or gets an error back from the send call (and
// then nothing of it arrives). DTLS 1.2 and DTLS-SRTP: dtls_send_paths_test.cpp (SRTP's
// queue and keying as well); QUIC and IKEv2/ESP have their own.
#include <doctest/doctest.h>

#include <functional>
#include <future>

#include <tapsec/tapsec.hpp>
#include <tapsec/transport/memory.hpp>

#include "support/botan_tls_fixture.hpp"
#include "support/curvecp_pair.hpp"
#include "support/minimalt_pair.hpp"
#include "support/pki.hpp"
#include "support/tcpcrypt_pair.hpp"
#include "zrtp_pair.hpp"

using namespace tapsec;
using namespace std::chrono_literals;

namespace send_paths_test {

/// What one send path did: refused (the error the send call returned), or the bytes
/// the caller handed over and the bytes the peer received.
struct Outcome {
    std::error_code refused;
    Bytes sent, delivered;
};

struct Row {
    const char* composition;
    const char* path;
    std::function<Outcome()> run;
    /// Data after our own close can never be delivered (it would follow the close): it
    /// must be refused, not accepted into a queue nobody sends.
    bool must_refuse = false;
};
constexpr bool after_our_close = true;

Bytes pattern(std::size_t n, std::uint8_t seed) {
    Bytes b(n);
    for (std::size_t i = 0; i < n; ++i) b[i] = static_cast<std::uint8_t>(i * 7 + seed + (i >> 10));
    return b;
}

// ---- TLS 1.2 (Botan's stream engine) ----------------------------------------------------

using Tls12Engine = botan_tls::ChannelEngine<botan_tls::Carrier::stream>;

/// Everything `from` queued, into `to`; the first error `to` reports.
std::error_code move_tls12(Tls12Engine& from, Tls12Engine& to) {
    while (auto t = from.poll_transmit())
        if (auto ec = to.receive(t->data, Endpoint{}, Clock::now())) return ec;
    return {};
}

struct Tls12Pair {
    tapsec::test::BotanTlsPki pki;
    Tls12Engine client{Role::client, pki.client_config()}, server{Role::server, pki.server_config()};
    void shuttle() {
        for (int i = 0; i < 20; ++i) {
            (void)move_tls12(client, server);
            (void)move_tls12(server, client);
        }
    }
    void connect() {
        REQUIRE_FALSE(client.start(Clock::now()));
        REQUIRE_FALSE(server.start(Clock::now()));
        shuttle();
        REQUIRE(client.is_established());
        REQUIRE(server.is_established());
    }
    Bytes received() {
        Bytes out;
        while (auto d = server.poll_application_data()) out.insert(out.end(), d->begin(), d->end());
        return out;
    }
    /// Sends `data` from the client; on success moves it and reports what the server got.
    Outcome send(const Bytes& data) {
        Outcome o{client.send(data, Clock::now()), data, {}};
        shuttle();
        o.delivered = received();
        return o;
    }
};

std::vector<Row> tls12_rows() {
    return {
        {"tls12", "before the handshake started", [] {
             Tls12Pair p;
             Outcome o{p.client.send(as_bytes("early"), Clock::now()), Bytes{'e', 'a', 'r', 'l', 'y'}, {}};
             if (!o.refused) {  // then it must arrive once connected
                 p.connect();
                 o.delivered = p.received();
             }
             return o;
         }},
        {"tls12", "during the handshake", [] {
             Tls12Pair p;
             REQUIRE_FALSE(p.client.start(Clock::now()));
             Outcome o{p.client.send(as_bytes("early"), Clock::now()), Bytes{'e', 'a', 'r', 'l', 'y'}, {}};
             REQUIRE_FALSE(p.server.start(Clock::now()));
             p.shuttle();
             o.delivered = p.received();
             return o;
         }},
        {"tls12", "larger than a record (100 KB)", [] {
             Tls12Pair p;
             p.connect();
             return p.send(pattern(100'000, 1));
         }},
        {"tls12", "after our close", [] {
             Tls12Pair p;
             p.connect();
             (void)p.client.close(Clock::now());
             return p.send(Bytes{'l', 'a', 't', 'e'});
         }, after_our_close},
        {"tls12", "after the peer's close", [] {
             Tls12Pair p;
             p.connect();
             (void)p.server.close(Clock::now());
             p.shuttle();
             return p.send(Bytes{'l', 'a', 't', 'e'});
         }},
    };
}

// ---- TLS 1.3 through Secure<> over MemoryStream -------------------------------------------

using Tls13 = Secure<Tls13Handshake, AeadRecord, MemoryStream>;

struct Tls13Configs {
    tapsec::test::TestPki pki;
    tls13::Config client, server;
    Tls13Configs() {
        REQUIRE(pki.ok());
        auto leaf = pki.issue("send-paths", tapsec::test::KeyType::ed25519);
        server.identity = Identity(leaf.certificate_pem(), leaf.key_pem());
        client.trust.ca_certificates_pem = {pki.ca().certificate_pem()};
        client.server_name = "localhost";
        client.handshake_timeout = server.handshake_timeout = 5s;
    }
};

/// Reads from `s` until `want` bytes arrived, the peer closed, or 5 s passed.
Bytes read_up_to(Tls13& s, std::size_t want) {
    Bytes out;
    const auto deadline = Clock::now() + 5s;
    while (out.size() < want && Clock::now() < deadline) {
        auto m = s.receive_message(200ms);
        if (!m) {
            if (m.error() == make_error_code(Errc::timed_out)) continue;
            break;
        }
        if (m->empty()) break;
        out.insert(out.end(), m->begin(), m->end());
    }
    return out;
}

/// A connected pair; `before` runs on the client before its handshake.
template <class Before, class After>
Outcome tls13_run(Before before, After after) {
    Tls13Configs c;
    auto [a, b] = MemoryStream::pair();
    Tls13 client(Role::client, c.client, std::move(a)), server(Role::server, c.server, std::move(b));
    Outcome o = before(client);
    auto server_done = std::async(std::launch::async, [&] { return server.handshake(); });
    const auto client_ec = client.handshake();
    REQUIRE_FALSE(server_done.get());
    REQUIRE_FALSE(client_ec);
    after(client, server, o);
    if (!o.refused) o.delivered = read_up_to(server, o.sent.size());
    return o;
}

std::vector<Row> tls13_rows() {
    auto nothing = [](Tls13&) { return Outcome{}; };
    return {
        {"tls13 Secure<>", "before the handshake", [] {
             Tls13Configs c;
             auto [a, b] = MemoryStream::pair();
             Tls13 client(Role::client, c.client, std::move(a));
             return Outcome{client.send(as_bytes("early")), Bytes{'e', 'a', 'r', 'l', 'y'}, {}};
         }},
        {"tls13 Secure<>", "early data without a session (sent after the handshake)", [] {
             return tls13_run(
                 [](Tls13& client) {
                     Outcome o{{}, pattern(3000, 2), {}};
                     o.refused = client.send_early_data(o.sent);
                     return o;
                 },
                 [](Tls13&, Tls13&, Outcome&) {});
         }},
        {"tls13 Secure<>", "larger than a record (100 KB)", [nothing] {
             return tls13_run(nothing, [](Tls13& client, Tls13&, Outcome& o) {
                 o.sent = pattern(100'000, 3);
                 o.refused = client.send(o.sent);
             });
         }},
        {"tls13 Secure<>", "after our close", [nothing] {
             return tls13_run(nothing, [](Tls13& client, Tls13&, Outcome& o) {
                 (void)client.close();
                 o.sent = Bytes{'l', 'a', 't', 'e'};
                 o.refused = client.send(o.sent);
             });
         }, after_our_close},
    };
}

// ---- MinimaLT (engine pair) ----------------------------------------------------------------

Outcome minimalt_send(minimalt_test::Pair& p, const Bytes& data) {
    Outcome o{p.client->send(data, p.now), data, {}};
    p.pump();  // first: a tick before the request went out would jump to its deadline
    for (int i = 0; i < 200 && !p.client->all_acknowledged(); ++i) p.tick();
    p.pump();
    const auto got = minimalt_test::drain(*p.server);
    o.delivered.assign(got.begin(), got.end());
    return o;
}

std::vector<Row> minimalt_rows() {
    return {
        {"minimalt", "before the tunnel is requested", [] {
             minimalt_test::Pair p;
             return Outcome{p.client->send(as_bytes("early"), p.now), Bytes{'e', 'a', 'r', 'l', 'y'}, {}};
         }},
        {"minimalt", "with the tunnel request", [] {
             minimalt_test::Pair p;
             REQUIRE_FALSE(p.client->start(p.now));
             REQUIRE_FALSE(p.server->start(p.now));
             return minimalt_send(p, pattern(3000, 4));
         }},
        {"minimalt", "larger than a packet (200 KB)", [] {
             minimalt_test::Pair p;
             p.establish();
             return minimalt_send(p, pattern(200'000, 5));
         }},
        {"minimalt", "beyond the send queue (5 MB at once)", [] {
             minimalt_test::Pair p;
             p.establish();
             return minimalt_send(p, pattern(5u << 20, 6));
         }},
        {"minimalt", "after our close of connection 1", [] {
             minimalt_test::Pair p;
             p.establish();
             REQUIRE_FALSE(p.client->close_connection(1, p.now));
             return minimalt_send(p, Bytes{'l', 'a', 't', 'e'});
         }, after_our_close},
        {"minimalt", "after our close of the tunnel", [] {
             minimalt_test::Pair p;
             p.establish();
             REQUIRE_FALSE(p.client->close(p.now));
             return minimalt_send(p, Bytes{'l', 'a', 't', 'e'});
         }, after_our_close},
        {"minimalt", "after the peer closed the tunnel", [] {
             minimalt_test::Pair p;
             p.establish();
             REQUIRE_FALSE(p.server->close(p.now));
             p.pump();
             return minimalt_send(p, Bytes{'l', 'a', 't', 'e'});
         }},
    };
}

// ---- CurveCP (engine pair) -----------------------------------------------------------------

Outcome curvecp_send(curvecp_test::Pair& p, const Bytes& data) {
    Outcome o{p.client.send(data, p.now), data, {}};
    p.run_until([&] { return p.server_received.size() >= data.size(); }, 60s);
    o.delivered = p.server_received;
    return o;
}

std::vector<Row> curvecp_rows() {
    return {
        {"curvecp", "before the handshake", [] {
             curvecp_test::Pair p(curvecp_test::make_configs());
             Outcome o{p.client.send(as_bytes("early"), p.now), Bytes{'e', 'a', 'r', 'l', 'y'}, {}};
             if (!o.refused) {
                 REQUIRE(p.handshake());
                 p.run_until([&] { return p.server_received.size() >= 5; }, 10s);
                 o.delivered = p.server_received;
             }
             return o;
         }},
        {"curvecp", "larger than a packet (200 KB)", [] {
             curvecp_test::Pair p(curvecp_test::make_configs());
             REQUIRE(p.handshake());
             return curvecp_send(p, curvecp_test::pattern(200'000, 7));
         }},
        {"curvecp", "beyond the send buffer", [] {
             curvecp_test::Pair p(curvecp_test::make_configs());
             REQUIRE(p.handshake());
             return curvecp_send(p, curvecp_test::pattern(p.client.send_space() + 1, 8));
         }},
        {"curvecp", "after our close", [] {
             curvecp_test::Pair p(curvecp_test::make_configs());
             REQUIRE(p.handshake());
             REQUIRE_FALSE(p.client.close(p.now));
             return curvecp_send(p, Bytes{'l', 'a', 't', 'e'});
         }, after_our_close},
    };
}

// ---- tcpcrypt (engine pair) ----------------------------------------------------------------

Outcome tcpcrypt_send(::test::TcpcryptPair& p, const Bytes& data) {
    Outcome o{p.client.send(data, Clock::now()), data, {}};
    p.pump();
    o.delivered = ::test::TcpcryptPair::drain_plaintext(p.server);
    return o;
}

std::vector<Row> tcpcrypt_rows() {
    return {
        {"tcpcrypt", "before the handshake", [] {
             ::test::TcpcryptPair p({}, {});
             return tcpcrypt_send(p, Bytes{'e', 'a', 'r', 'l', 'y'});
         }},
        {"tcpcrypt", "larger than a frame (200 KB)", [] {
             ::test::TcpcryptPair p({}, {});
             REQUIRE(p.start());
             return tcpcrypt_send(p, pattern(200'000, 9));
         }},
        {"tcpcrypt", "after our close", [] {
             ::test::TcpcryptPair p({}, {});
             REQUIRE(p.start());
             (void)p.client.close(Clock::now());
             return tcpcrypt_send(p, Bytes{'l', 'a', 't', 'e'});
         }, after_our_close},
    };
}

// ---- WireGuard (engine pair): inner IP packets ------------------------------------------------

struct WireGuardPair {
    using WgEngine = wireguard::Engine<crypto::Botan2>;
    Endpoint a_ep = *Endpoint::parse("127.0.0.1:40001"), b_ep = *Endpoint::parse("127.0.0.1:40002");
    std::unique_ptr<WgEngine> a, b;
    Instant now = Instant{} + 1000s;
    WireGuardPair() {
        SecretArray<32> a_key, b_key;
        crypto::Botan2::random(a_key);
        crypto::Botan2::random(b_key);
        auto config_for = [](const SecretArray<32>& own, const SecretArray<32>& peer, Endpoint at, const char* allowed) {
            wireguard::Config c;
            c.interface.private_key = own;
            c.interface.has_private_key = true;
            wireguard::PeerSettings to;
            to.public_key = wireguard::StaticIdentity<crypto::Botan2>::from_private(peer)->public_key;
            to.endpoint = at;
            to.allowed_ips = {*wireguard::IpPrefix::parse(allowed)};
            c.interface.peers.push_back(to);
            return c;
        };
        a = std::make_unique<WgEngine>(Role::client, config_for(a_key, b_key, b_ep, "10.0.0.2/32"));
        b = std::make_unique<WgEngine>(Role::server, config_for(b_key, a_key, a_ep, "10.0.0.1/32"));
        REQUIRE_FALSE(b->start(now));
    }
    static Bytes packet(std::size_t i) {
        return wireguard::make_ipv4_udp_packet(*wireguard::IpAddress::parse("10.0.0.1"), *wireguard::IpAddress::parse("10.0.0.2"),
                                               1111, 2222, as_bytes("packet " + std::to_string(i)));
    }
    /// Moves datagrams both ways until quiet; returns the inner packets B received.
    Bytes exchange() {
        Bytes got;
        for (int round = 0; round < 50; ++round) {
            bool moved = false;
            while (auto t = a->poll_transmit()) moved = true, (void)b->receive(t->data, a_ep, now);
            while (auto t = b->poll_transmit()) moved = true, (void)a->receive(t->data, b_ep, now);
            while (auto d = b->poll_application_data()) got.insert(got.end(), d->begin(), d->end());
            if (!moved) break;
        }
        return got;
    }
};

std::vector<Row> wireguard_rows() {
    return {
        {"wireguard", "before a session (staged until the handshake)", [] {
             WireGuardPair p;
             Outcome o;
             for (std::size_t i = 0; i < 3 && !o.refused; ++i) {
                 const Bytes packet = WireGuardPair::packet(i);
                 o.refused = p.a->send(packet, p.now);
                 o.sent.insert(o.sent.end(), packet.begin(), packet.end());
             }
             REQUIRE_FALSE(p.a->start(p.now));
             o.delivered = p.exchange();
             return o;
         }},
        {"wireguard", "before a session, more than the stage holds", [] {
             WireGuardPair p;
             Outcome o;  // what was accepted must all arrive; the rest is refused, one by one
             std::size_t refused = 0;
             for (std::size_t i = 0; i < 200; ++i) {
                 const Bytes packet = WireGuardPair::packet(i);
                 if (auto ec = p.a->send(packet, p.now)) {
                     CHECK(ec == std::errc::no_buffer_space);
                     ++refused;
                 } else {
                     o.sent.insert(o.sent.end(), packet.begin(), packet.end());
                 }
             }
             CHECK(refused > 0);
             REQUIRE_FALSE(p.a->start(p.now));
             o.delivered = p.exchange();
             return o;
         }},
        {"wireguard", "after our close", [] {
             WireGuardPair p;
             REQUIRE_FALSE(p.a->start(p.now));
             p.exchange();
             (void)p.a->close(p.now);
             const Bytes packet = WireGuardPair::packet(1);
             Outcome o{p.a->send(packet, p.now), packet, {}};
             o.delivered = p.exchange();
             return o;
         }, after_our_close},
    };
}

// ---- ZRTP-keyed SRTP (engine pair): RTP packets -----------------------------------------------

Outcome zrtp_send(tapsec::test::ZrtpPair& p, const Bytes& packet) {
    Outcome o{p.a.send(packet, p.now), packet, {}};
    p.pump();
    while (auto d = p.b.poll_application_data()) o.delivered.insert(o.delivered.end(), d->begin(), d->end());
    return o;
}

std::vector<Row> zrtp_rows() {
    const Bytes voice = tapsec::test::rtp_packet(0x01020304, 1, "voice");
    return {
        {"zrtp/srtp", "media before SRTP is keyed", [voice] {
             tapsec::test::ZrtpPair p;
             p.start();
             return zrtp_send(p, voice);
         }},
        {"zrtp/srtp", "media once keyed", [voice] {
             tapsec::test::ZrtpPair p;
             p.start();
             REQUIRE(p.run());
             return zrtp_send(p, voice);
         }},
        {"zrtp/srtp", "not an RTP or RTCP packet", [] {
             tapsec::test::ZrtpPair p;
             p.start();
             REQUIRE(p.run());
             return zrtp_send(p, Bytes{'n', 'o', 't', ' ', 'r', 't', 'p'});
         }},
        {"zrtp/srtp", "after our close", [voice] {
             tapsec::test::ZrtpPair p;
             p.start();
             REQUIRE(p.run());
             (void)p.a.close(p.now);
             return zrtp_send(p, voice);
         }, after_our_close},
    };
}

void check_rows(const std::vector<Row>& rows) {
    for (const auto& row : rows) {
        const std::string name = std::string(row.composition) + ", " + row.path;
        CAPTURE(name);
        const Outcome o = row.run();
        if (row.must_refuse) CHECK_MESSAGE(o.refused, "accepted after our close");
        if (o.refused) {
            MESSAGE(name, ": refused (", o.refused.message(), ")");
            CHECK(o.delivered.empty());  // refused means none of it went
        } else {
            CHECK_MESSAGE(o.delivered.size() == o.sent.size(), "accepted ", o.sent.size(), " bytes, delivered ", o.delivered.size());
            CHECK(o.delivered == o.sent);
        }
    }
}


TEST_CASE("send paths: tls12") { check_rows(tls12_rows()); }
TEST_CASE("send paths: tls13 through Secure<>") { check_rows(tls13_rows()); }
TEST_CASE("send paths: minimalt") { check_rows(minimalt_rows()); }
TEST_CASE("send paths: curvecp") { check_rows(curvecp_rows()); }
TEST_CASE("send paths: tcpcrypt") { check_rows(tcpcrypt_rows()); }
TEST_CASE("send paths: wireguard") { check_rows(wireguard_rows()); }
TEST_CASE("send paths: zrtp/srtp") { check_rows(zrtp_rows()); }

}  // namespace send_paths_test
