// QUIC 0-RTT in memory (RFC 9001 4.6, RFC 9000 7.4.1): a client resumes with a stored
// session and the server limits it remembered, sends stream data in 0-RTT packets; the
// server accepts it, or refuses it (another ticket key, a replayed ticket, limits that
// shrank) and the data arrives in 1-RTT. 0-RTT packets tampered, truncated or arriving
// before the Initial are dropped, never a crash; a server whose limits are below what
// the client remembered, after accepting 0-RTT, is a PROTOCOL_VIOLATION.
#include <doctest/doctest.h>

#include "support/quic_pair.hpp"

using namespace tapsec;
using namespace tapsec::quic;

namespace quic_zero_rtt_test {

/// A server side that issues tickets and accepts 0-RTT, and a client cache to store them.
struct ZeroRttSetup {
    test::TestPki pki;
    test::QuicConfigs configs;
    std::shared_ptr<InMemorySessionCache> cache = std::make_shared<InMemorySessionCache>();
    Settings client_settings, server_settings;

    ZeroRttSetup() {
        REQUIRE(pki.ok());
        configs = test::quic_resumption_configs(pki, cache);
        client_settings.early_data = true;
        server_settings.early_data = true;
    }

    /// One full connection that leaves a session (with the server's limits) in the cache.
    Bytes first_connection() {
        test::QuicPair p(configs, client_settings, server_settings);
        REQUIRE_FALSE(p.client.start(p.now));
        CHECK_FALSE(p.client.early_data_offered());  // nothing stored yet
        REQUIRE(p.run([&] { return cache->load("localhost").has_value(); }));
        auto stored = cache->load("localhost");
        auto session = tls13::SessionState::parse(*stored);
        REQUIRE(session);
        CHECK(session->max_early_data == 0xffffffff);  // RFC 9001 4.6.1
        auto limits = RememberedLimits::decode(session->application_data);
        REQUIRE(limits);
        CHECK(limits->initial_max_data == server_settings.initial_max_data);
        CHECK(limits->initial_max_streams_bidi == server_settings.initial_max_streams_bidi);
        return *stored;
    }
};

/// Starts the client of `p` and writes `early` on stream 0 (with FIN) before any packet
/// went out, so it goes in 0-RTT when allowed; runs until the server has all of it.
std::string resume_and_send(test::QuicPair& p, const std::string& early) {
    REQUIRE_FALSE(p.client.start(p.now));
    REQUIRE_FALSE(p.client.stream_send(0, as_bytes(early), true, p.now));
    std::string got;
    bool fin = false;
    REQUIRE(p.run([&] {
        while (auto s = p.server.poll_stream()) {
            got.append(s->data.begin(), s->data.end());
            fin |= s->fin;
        }
        return fin && p.client.is_established();
    }));
    return got;
}

std::vector<Event> events_of(quic::Connection<>& c) {
    std::vector<Event> out;
    while (auto e = c.poll_event()) out.push_back(*e);
    return out;
}

bool has_event(const std::vector<Event>& events, EventKind kind, std::error_code reason = {}) {
    return std::any_of(events.begin(), events.end(),
                       [&](const Event& e) { return e.kind == kind && (!reason || e.reason == reason); });
}

/// Where the 0-RTT packets of a datagram are (offset, size).
std::vector<std::pair<std::size_t, std::size_t>> zero_rtt_packets(ByteView datagram) {
    std::vector<std::pair<std::size_t, std::size_t>> out;
    std::size_t at = 0;
    while (at < datagram.size()) {
        auto h = parse_header(datagram.subspan(at), 8);
        if (!h) break;
        if (h->type == PacketType::zero_rtt) out.push_back({at, h->packet_size});
        at += h->packet_size;
    }
    return out;
}

const std::string request = "GET /index.html, sent before the handshake completes";


TEST_CASE("QUIC 0-RTT: accepted, stream data in 0-RTT packets, no EndOfEarlyData") {
    ZeroRttSetup s;
    s.first_connection();
    test::QuicPair p(s.configs, s.client_settings, s.server_settings);
    std::size_t zero_rtt_datagrams = 0;
    p.tamper = [&](Bytes& d, bool to_server) {
        if (to_server && !zero_rtt_packets(d).empty()) ++zero_rtt_datagrams;
    };
    CHECK(resume_and_send(p, request) == request);
    CHECK(p.client.early_data_offered());
    CHECK(p.client.session_info().early_data_accepted);
    CHECK(p.server.session_info().early_data_accepted);
    CHECK(p.client.session_info().resumed);
    CHECK(zero_rtt_datagrams > 0);
    CHECK(p.server.stats().zero_rtt_packets_received > 0);
    CHECK(p.client.stats().zero_rtt_bytes_sent == request.size());
    CHECK(p.client.stats().zero_rtt_bytes_resent == 0);
    CHECK(has_event(events_of(p.client), EventKind::early_data_accepted));
    CHECK(has_event(events_of(p.server), EventKind::early_data_accepted));
    // The handshake completed without EndOfEarlyData (RFC 9001 8.3): a server that
    // expected one would still be waiting; and the connection goes on normally.
    REQUIRE_FALSE(p.server.send(as_bytes("answer"), p.now));
    std::string answer;
    REQUIRE(p.run([&] {
        while (auto v = p.client.poll_plaintext()) answer.append(v->begin(), v->end());
        return answer == "answer";
    }));
    CHECK_FALSE(p.client.error());
    CHECK_FALSE(p.server.error());
}

TEST_CASE("QUIC 0-RTT: refused by a server with another ticket key; the data arrives in 1-RTT") {
    ZeroRttSetup s;
    s.first_connection();
    s.configs.server.ticket_key = tls13::TicketKey::generate<crypto::DefaultProvider>();  // a restarted server
    test::QuicPair p(s.configs, s.client_settings, s.server_settings);
    CHECK(resume_and_send(p, request) == request);
    CHECK(p.client.early_data_offered());
    CHECK_FALSE(p.client.session_info().early_data_accepted);
    CHECK_FALSE(p.client.session_info().resumed);
    CHECK(p.client.stats().zero_rtt_bytes_sent == request.size());
    CHECK(p.client.stats().zero_rtt_bytes_resent == request.size());  // counted, sent again
    CHECK(p.server.stats().zero_rtt_packets_received == 0);
    CHECK(has_event(events_of(p.client), EventKind::early_data_rejected,
                    make_error_code(tls13::Error::early_data_refused_by_server)));
}

TEST_CASE("QUIC 0-RTT: a replayed ticket's early data is refused by anti-replay, the data still arrives") {
    ZeroRttSetup s;
    const Bytes stored = s.first_connection();
    {
        test::QuicPair p(s.configs, s.client_settings, s.server_settings);
        CHECK(resume_and_send(p, request) == request);
        CHECK(p.server.session_info().early_data_accepted);
    }
    // The same session again (as an attacker replaying the first flight would present it).
    s.cache->store("localhost", stored);
    test::QuicPair p(s.configs, s.client_settings, s.server_settings);
    CHECK(resume_and_send(p, request) == request);
    CHECK(p.client.session_info().resumed);  // the ticket still resumes: only 0-RTT is single-use
    CHECK_FALSE(p.server.session_info().early_data_accepted);
    CHECK_FALSE(p.client.session_info().early_data_accepted);
    CHECK(p.client.stats().zero_rtt_bytes_resent == request.size());
    CHECK(has_event(events_of(p.server), EventKind::early_data_rejected,
                    make_error_code(tls13::Error::early_data_replayed)));
}

TEST_CASE("QUIC 0-RTT: refused when the server's limits shrank below the ticket's") {
    ZeroRttSetup s;
    s.first_connection();
    Settings smaller = s.server_settings;
    smaller.initial_max_stream_data = s.server_settings.initial_max_stream_data / 2;
    test::QuicPair p(s.configs, s.client_settings, smaller);
    CHECK(resume_and_send(p, request) == request);
    CHECK(p.client.session_info().resumed);
    CHECK_FALSE(p.server.session_info().early_data_accepted);
    CHECK(p.client.stats().zero_rtt_bytes_resent == request.size());
    CHECK(has_event(events_of(p.server), EventKind::early_data_rejected,
                    make_error_code(tls13::Error::early_data_parameters_differ)));
}

TEST_CASE("QUIC 0-RTT: a client that remembered larger limits than the accepting server gives is closed (0x0a)") {
    ZeroRttSetup s;
    const Bytes stored = s.first_connection();
    // The client's record of the server's limits is its own (not sealed by the server):
    // claim more than the server gave, so its 0-RTT assumes more than it may.
    auto session = tls13::SessionState::parse(stored);
    REQUIRE(session);
    auto limits = RememberedLimits::decode(session->application_data);
    REQUIRE(limits);
    limits->initial_max_data *= 2;
    session->application_data = limits->encode();
    s.cache->store("localhost", session->serialize());
    test::QuicPair p(s.configs, s.client_settings, s.server_settings);
    REQUIRE_FALSE(p.client.start(p.now));
    REQUIRE_FALSE(p.client.stream_send(0, as_bytes(request), true, p.now));
    REQUIRE(p.run([&] { return p.client.is_closed(); }));
    CHECK(p.client.error() == make_error_code(Error::protocol_violation));
    std::string early_seen;  // what the server took as 0-RTT before the client closed
    REQUIRE(p.run([&] {
        while (auto c = p.server.poll_stream()) early_seen.append(c->data.begin(), c->data.end());
        return p.server.is_closed();
    }));
    REQUIRE(p.server.peer_close());
    CHECK(p.server.peer_close()->second == 0x0a);  // PROTOCOL_VIOLATION
}

TEST_CASE("QUIC 0-RTT: tampered and truncated 0-RTT packets are dropped, the data arrives in 1-RTT") {
    for (bool truncate : {false, true}) {
        CAPTURE(truncate);
        ZeroRttSetup s;
        s.first_connection();
        test::QuicPair p(s.configs, s.client_settings, s.server_settings);
        std::size_t damaged = 0;
        p.tamper = [&](Bytes& d, bool to_server) {
            if (!to_server) return;
            for (auto [at, size] : zero_rtt_packets(d)) {
                ++damaged;
                if (truncate) {
                    d.resize(at + size / 2);  // the length field now runs past the datagram
                    break;
                }
                d[at + size - 3] ^= 0x40;  // inside the AEAD tag
            }
        };
        CHECK(resume_and_send(p, request) == request);
        CHECK(damaged > 0);
        CHECK(p.server.stats().zero_rtt_packets_received == 0);
        CHECK(p.server.stats().packets_dropped >= damaged);
        // Accepted by TLS, but none of it arrived as 0-RTT: lost packets, sent again.
        CHECK(p.server.session_info().early_data_accepted);
        CHECK(p.client.stats().bytes_retransmitted >= request.size());
        CHECK_FALSE(p.client.error());
        CHECK_FALSE(p.server.error());
    }
}

TEST_CASE("QUIC 0-RTT: a 0-RTT packet before the Initial is dropped without state") {
    ZeroRttSetup s;
    s.first_connection();
    test::QuicPair p(s.configs, s.client_settings, s.server_settings);
    REQUIRE_FALSE(p.client.start(p.now));
    REQUIRE_FALSE(p.client.stream_send(0, as_bytes(request), true, p.now));
    Bytes buffer(max_transmit_size);
    std::vector<Bytes> datagrams;
    while (auto t = p.client.poll_transmit(MutableByteView(buffer)))
        datagrams.emplace_back(buffer.begin(), buffer.begin() + static_cast<std::ptrdiff_t>(t->size));
    REQUIRE_FALSE(datagrams.empty());
    // The first 0-RTT packet alone, ahead of everything (reordered on the path).
    std::optional<Bytes> early_alone;
    for (const auto& d : datagrams)
        if (auto spans = zero_rtt_packets(d); !spans.empty() && !early_alone)
            early_alone = Bytes(d.begin() + static_cast<std::ptrdiff_t>(spans[0].first),
                                d.begin() + static_cast<std::ptrdiff_t>(spans[0].first + spans[0].second));
    REQUIRE(early_alone);
    p.server.receive(*early_alone, p.client_ep, p.now);
    CHECK(p.server.stats().packets_dropped == 1);
    CHECK_FALSE(p.server.error());
    CHECK_FALSE(p.server.poll_transmit(MutableByteView(buffer)));  // no state, nothing to say
    for (const auto& d : datagrams) p.server.receive(d, p.client_ep, p.now);
    std::string got;
    bool fin = false;
    REQUIRE(p.run([&] {
        while (auto c = p.server.poll_stream()) {
            got.append(c->data.begin(), c->data.end());
            fin |= c->fin;
        }
        return fin && p.client.is_established();
    }));
    CHECK(got == request);
    CHECK(p.server.session_info().early_data_accepted);
    CHECK(p.server.stats().zero_rtt_packets_received > 0);  // the copy inside the datagram counted
}

TEST_CASE("QUIC 0-RTT: without Settings::early_data the client resumes in 1-RTT only") {
    ZeroRttSetup s;
    s.first_connection();
    Settings plain = s.client_settings;
    plain.early_data = false;
    test::QuicPair p(s.configs, plain, s.server_settings);
    CHECK(resume_and_send(p, request) == request);
    CHECK_FALSE(p.client.early_data_offered());
    CHECK(p.client.session_info().resumed);
    CHECK(p.client.stats().zero_rtt_bytes_sent == 0);
    CHECK(p.server.stats().zero_rtt_packets_received == 0);
}

}  // namespace quic_zero_rtt_test
