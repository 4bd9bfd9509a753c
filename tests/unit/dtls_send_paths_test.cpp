// Nothing silently lost on the DTLS send paths (issue 16, item 5): every way the DTLS
// 1.2 and DTLS-SRTP engines accept data to send either delivers it (one send, one
// datagram, one message at the peer) or returns an error the caller cannot ignore
// ([[nodiscard]]) and sends nothing: data before the handshake, data larger than one
// record, data after our close and after the peer's, media before SRTP is keyed, media
// that is not RTP/RTCP, and media into a full queue.
#include <doctest/doctest.h>

#include <tapsec/tapsec.hpp>

#include "support/botan_tls_fixture.hpp"
#include "support/rtp.hpp"

using namespace tapsec;
using namespace std::chrono_literals;
using test::drain;
using test::feed;

namespace dtls_send_paths_test {

using Dtls = botan_tls::ChannelEngine<botan_tls::Carrier::datagram>;
using DtlsSrtp = dtls_srtp::Engine<crypto::DefaultProvider>;

template <class Engine>
void connect(Engine& client, Engine& server) {
    const Instant now = Clock::now();
    REQUIRE_FALSE(client.start(now));
    REQUIRE_FALSE(server.start(now));
    for (int i = 0; i < 10 && !(client.is_established() && server.is_established()); ++i) {
        REQUIRE_FALSE(feed(server, drain(client), test::client_address, now));
        REQUIRE_FALSE(feed(client, drain(server), test::server_address, now));
    }
    REQUIRE(client.is_established());
    REQUIRE(server.is_established());
}


TEST_CASE("dtls12 send paths: before the handshake, too large, after either close") {
    test::BotanTlsPki pki;
    REQUIRE(pki.pki.ok());
    Dtls client(Role::client, pki.client_config()), server(Role::server, pki.server_config());
    const Instant now = Clock::now();

    SUBCASE("before the handshake: not_connected, nothing queued") {
        CHECK(client.send(as_bytes("early"), now) == Errc::not_connected);  // not even started
        REQUIRE_FALSE(client.start(now));
        drain(client);  // the ClientHello
        CHECK(client.send(as_bytes("early"), now) == Errc::not_connected);
        CHECK(drain(client).empty());
    }
    SUBCASE("one record's worth is one datagram and one message; one byte more is refused") {
        connect(client, server);
        const Bytes largest(dtls::max_plaintext, 0x5a);
        REQUIRE_FALSE(client.send(largest, now));
        auto datagrams = drain(client);
        CHECK(datagrams.size() == 1);
        REQUIRE_FALSE(feed(server, datagrams, test::client_address, now));
        CHECK(server.poll_application_data() == largest);
        CHECK_FALSE(server.poll_application_data());

        const Bytes too_large(dtls::max_plaintext + 1, 0xa5);
        CHECK(client.send(too_large, now) == Errc::record_overflow);
        CHECK(drain(client).empty());
        CHECK(client.is_established());  // the connection goes on
        REQUIRE_FALSE(client.send(as_bytes("after"), now));
        REQUIRE_FALSE(feed(server, drain(client), test::client_address, now));
        CHECK(server.poll_application_data() == Bytes{'a', 'f', 't', 'e', 'r'});
    }
    SUBCASE("after our close, and after the peer's: refused") {
        connect(client, server);
        REQUIRE_FALSE(client.close(now));
        CHECK(client.send(as_bytes("late"), now) == Errc::not_connected);
        REQUIRE_FALSE(feed(server, drain(client), test::client_address, now));  // close_notify
        CHECK(server.is_closed());
        CHECK(server.send(as_bytes("late"), now));
    }
}

TEST_CASE("dtls12 send paths through Secure<>: errors reach the caller") {
    test::BotanTlsPki pki;
    using Conn = Secure<Dtls12Handshake, DtlsRecord, MemoryDatagram>;
    auto [a, b] = MemoryDatagram::pair();
    auto client_config = pki.client_config(), server_config = pki.server_config();
    client_config.handshake_timeout = server_config.handshake_timeout = 10s;
    Conn client(Role::client, client_config, std::move(a)), server(Role::server, server_config, std::move(b));
    CHECK(client.send(as_bytes("before the handshake")) == Errc::not_connected);
}

TEST_CASE("dtls-srtp send paths: before keying, not RTP, a full queue, after close") {
    test::BotanTlsPki pki;
    REQUIRE(pki.pki.ok());
    DtlsSrtp client(Role::client, pki.client_config()), server(Role::server, pki.server_config());
    const Instant now = Clock::now();
    const Bytes voice = test::rtp_packet(1, "voice", 0x01020304);
    CHECK(client.send(voice, now) == dtls_srtp::DtlsSrtpErrc::not_keyed);
    connect(client, server);
    CHECK(client.send(as_bytes("not an RTP packet"), now) == dtls_srtp::DtlsSrtpErrc::not_rtp_or_rtcp);
    // An application that never polls transmits: the queue fills, then every further
    // packet is refused with an error (and counted), none silently dropped.
    std::size_t accepted = 0;
    std::error_code refused;
    for (std::uint16_t seq = 0; seq < dtls_srtp::queue_limit + 10 && !refused; ++seq) {
        refused = client.send(test::rtp_packet(seq, "voice", 0x01020304), now);
        if (!refused) ++accepted;
    }
    CHECK(accepted == dtls_srtp::queue_limit);
    CHECK(refused == std::errc::no_buffer_space);
    CHECK(client.queue_overflows() == 1);
    // Everything accepted is delivered.
    std::size_t delivered = 0;
    while (auto t = client.poll_transmit()) {
        REQUIRE_FALSE(server.receive(t->data, test::client_address, now));
        while (server.poll_application_data()) ++delivered;
    }
    CHECK(delivered == accepted);
    REQUIRE_FALSE(client.close(now));
    CHECK(client.send(voice, now));
}

}  // namespace dtls_send_paths_test
