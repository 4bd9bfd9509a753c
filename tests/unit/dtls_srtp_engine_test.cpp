// DTLS-SRTP (RFC 5764): use_srtp negotiation, SRTP keyed from the exporter inside
// the engine, RFC 7983 demultiplexing, fingerprint binding (RFC 5763), negative
// cases; and libsrtp2 (linked by the test only) decrypting what the engine sent with
// keys split from the exporter as RFC 5764 4.2 says.
#include <doctest/doctest.h>

#include <tapsec/tapsec.hpp>

#include "support/botan_tls_fixture.hpp"
#include "support/rtp.hpp"

#ifdef TAPSEC_HAVE_LIBSRTP2
#include <srtp2/srtp.h>
#endif

using namespace tapsec;
using test::rtp_packet;
using namespace std::chrono_literals;
using Engine = dtls_srtp::Engine<crypto::DefaultProvider>;

namespace dtls_srtp_engine_test {

using Pki = test::BotanTlsPki;
using test::drain;
using test::feed;

using test::client_address;
using test::server_address;

std::error_code run_handshake(Engine& client, Engine& server) {
    if (auto ec = client.start(Clock::now())) return ec;
    if (auto ec = server.start(Clock::now())) return ec;
    for (int i = 0; i < 10 && !(client.is_established() && server.is_established()); ++i) {
        if (auto ec = feed(server, drain(client), client_address)) return ec;
        if (auto ec = feed(client, drain(server), server_address)) return ec;
    }
    return client.is_established() && server.is_established() ? std::error_code{} : make_error_code(Errc::timed_out);
}


TEST_CASE("dtls-srtp: handshake keys SRTP on both sides; media flows both ways") {
    Pki p;
    REQUIRE(p.pki.ok());
    Engine client(Role::client, p.client_config()), server(Role::server, p.server_config());
    CHECK(client.send(rtp_packet(1, "early"), Clock::now()) == dtls_srtp::DtlsSrtpErrc::not_keyed);
    auto ec = run_handshake(client, server);
    REQUIRE_MESSAGE(!ec, ec.message());
    REQUIRE(client.srtp_profile());
    CHECK(*client.srtp_profile() == srtp::Profile::aead_aes_128_gcm);  // the first of the offered defaults
    CHECK(server.srtp_profile() == client.srtp_profile());
    CHECK(client.session_info().protocol == "DTLS 1.2 + SRTP SRTP_AEAD_AES_128_GCM");

    const Bytes sent = rtp_packet(7, "voice frame");
    REQUIRE(!client.send(sent, Clock::now()));
    auto wire = drain(client);
    REQUIRE(wire.size() == 1);
    CHECK(wire[0].size() == sent.size() + 16);  // GCM tag
    CHECK(srtp::classify(wire[0]) == srtp::PacketKind::rtp);
    CHECK(std::search(wire[0].begin(), wire[0].end(), sent.begin() + 12, sent.end()) == wire[0].end());  // payload encrypted
    REQUIRE(!feed(server, wire, client_address));
    CHECK(server.poll_application_data() == sent);

    const Bytes back = rtp_packet(100, "reply", 0x55667788);
    REQUIRE(!server.send(back, Clock::now()));
    REQUIRE(!feed(client, drain(server), server_address));
    CHECK(client.poll_application_data() == back);

    SUBCASE("replayed and tampered SRTP are dropped and counted, never delivered") {
        REQUIRE(!feed(server, wire, client_address));  // the same packet again
        CHECK_FALSE(server.poll_application_data());
        CHECK(server.srtp_statistics()->replayed == 1);
        CHECK(server.last_drop() == srtp::Error::replayed);
        REQUIRE(!client.send(rtp_packet(8, "frame 8"), Clock::now()));
        auto next = drain(client);
        next[0][20] ^= 0x40;
        REQUIRE(!feed(server, next, client_address));
        CHECK_FALSE(server.poll_application_data());
        CHECK(server.last_drop() == srtp::Error::authentication_failed);
        CHECK_FALSE(server.is_closed());
    }
    SUBCASE("RFC 7983: STUN and garbage in the DTLS range are dropped, DTLS still works") {
        REQUIRE(!feed(server, {Bytes{0x00, 0x01, 0x00, 0x00}}, client_address));  // STUN binding request
        REQUIRE(!feed(server, {Bytes{23, 0xfe, 0xfd, 1}}, client_address));        // truncated DTLS header
        CHECK(server.dropped() == 2);
        CHECK_FALSE(server.poll_application_data());
        REQUIRE(!client.close(Clock::now()));
        REQUIRE(!feed(server, drain(client), client_address));
        CHECK(server.is_closed());
    }
    SUBCASE("only RTP or RTCP can be sent") {
        CHECK(client.send(as_bytes("plain text"), Clock::now()) == dtls_srtp::DtlsSrtpErrc::not_rtp_or_rtcp);
    }
}

TEST_CASE("dtls-srtp: use_srtp negotiation picks a common profile or fails clearly") {
    Pki p;
    SUBCASE("client offers only SRTP_AES128_CM_HMAC_SHA1_80") {
        auto cc = p.client_config();
        cc.srtp_profiles = {0x0001};
        Engine client(Role::client, cc), server(Role::server, p.server_config());
        REQUIRE(!run_handshake(client, server));
        CHECK(*client.srtp_profile() == srtp::Profile::aes_cm_128_hmac_sha1_80);
        CHECK(*server.srtp_profile() == srtp::Profile::aes_cm_128_hmac_sha1_80);
        const Bytes sent = rtp_packet(1, "cm");
        REQUIRE(!client.send(sent, Clock::now()));
        auto wire = drain(client);
        CHECK(wire[0].size() == sent.size() + 10);  // 80-bit tag
        REQUIRE(!feed(server, wire, client_address));
        CHECK(server.poll_application_data() == sent);
    }
    SUBCASE("no profile in common") {
        auto cc = p.client_config();
        cc.srtp_profiles = {0x0008};
        auto sc = p.server_config();
        sc.srtp_profiles = {0x0001};
        Engine client(Role::client, cc), server(Role::server, sc);
        CHECK(run_handshake(client, server) == dtls_srtp::DtlsSrtpErrc::no_srtp_profile_negotiated);
        CHECK_FALSE(client.is_established());
    }
}

TEST_CASE("dtls-srtp: RFC 5763 fingerprint binding through the identity-validation callback") {
    Pki p;
    auto leaf = botan_tls::parse_certificates(p.server.certificate_pem());
    REQUIRE(leaf);
    const auto fingerprint = dtls_srtp::fingerprint_sha256(leaf->front().BER_encode());
    CHECK(fingerprint.size() == 32 * 3 - 1);
    auto cc = p.client_config();
    cc.trust = {};  // no CA at all: the fingerprint from signalling is the authentication
    cc.delegate_authentication = true;
    SUBCASE("the expected certificate") {
        cc.validate_peer = dtls_srtp::expect_fingerprint_sha256(fingerprint);
        Engine client(Role::client, cc), server(Role::server, p.server_config());
        REQUIRE(!run_handshake(client, server));
        CHECK(client.session_info().peer.authenticated);
    }
    SUBCASE("any other certificate") {
        std::string wrong = fingerprint;
        wrong[0] = wrong[0] == 'A' ? 'B' : 'A';
        cc.validate_peer = dtls_srtp::expect_fingerprint_sha256(wrong);
        Engine client(Role::client, cc), server(Role::server, p.server_config());
        CHECK(run_handshake(client, server) == Errc::peer_rejected_by_application);
    }
}

#ifdef TAPSEC_HAVE_LIBSRTP2
TEST_CASE("dtls-srtp: libsrtp2 keyed with the RFC 5764 4.2 split unprotects what the engine sent") {
    Pki p;
    auto cc = p.client_config();
    cc.srtp_profiles = {0x0001};
    Engine client(Role::client, cc), server(Role::server, p.server_config());
    REQUIRE(!run_handshake(client, server));
    // The test plays the application doing an explicit export (6.3) to key a third party.
    auto material = client.export_keying_material("EXTRACTOR-dtls_srtp", {}, 60);
    REQUIRE(material);
    // client_write_key = material[0,16), client_write_salt = material[32,46)
    std::uint8_t key[30];
    std::copy_n(material->begin(), 16, key);
    std::copy_n(material->begin() + 32, 14, key + 16);
    REQUIRE(srtp_init() == srtp_err_status_ok);
    srtp_policy_t policy{};
    srtp_crypto_policy_set_rtp_default(&policy.rtp);
    srtp_crypto_policy_set_rtcp_default(&policy.rtcp);
    policy.ssrc.type = ssrc_any_inbound;
    policy.key = key;
    policy.window_size = 1024;
    srtp_t session = nullptr;
    REQUIRE(srtp_create(&session, &policy) == srtp_err_status_ok);
    for (std::uint16_t seq = 1; seq <= 5; ++seq) {
        const Bytes sent = rtp_packet(seq, "to libsrtp " + std::to_string(seq));
        REQUIRE(!client.send(sent, Clock::now()));
        auto wire = drain(client);
        REQUIRE(wire.size() == 1);
        Bytes buffer = wire[0];
        int length = static_cast<int>(buffer.size());
        CHECK(srtp_unprotect(session, buffer.data(), &length) == srtp_err_status_ok);
        buffer.resize(static_cast<std::size_t>(length));
        CHECK(buffer == sent);
    }
    srtp_dealloc(session);
    secure_zero(key, sizeof key);
}
#endif

TEST_CASE("dtls-srtp: a resumed session (session continuation) negotiates use_srtp again and keys SRTP afresh") {
    Pki p;
    auto cc = p.client_config();
    auto sc = p.server_config();
    cc.session_cache = std::make_shared<InMemorySessionCache>();
    cc.server_port = 4444;
    sc.session_cache = std::make_shared<InMemorySessionCache>();
    cc.srtp_profiles = {0x0001};  // SRTP_AES128_CM_HMAC_SHA1_80
    std::optional<SecretBytes> first_keys;
    {
        Engine client(Role::client, cc), server(Role::server, sc);
        REQUIRE(!run_handshake(client, server));
        CHECK_FALSE(client.session_info().resumed);
        auto material = client.export_keying_material("EXTRACTOR-dtls_srtp", {}, 60);
        REQUIRE(material);
        first_keys = std::move(*material);
    }
    Engine client(Role::client, cc), server(Role::server, sc);
    auto ec = run_handshake(client, server);
    REQUIRE_MESSAGE(!ec, ec.message());
    CHECK(client.session_info().resumed);
    CHECK(server.session_info().resumed);
    REQUIRE(client.srtp_profile());
    CHECK(*client.srtp_profile() == srtp::Profile::aes_cm_128_hmac_sha1_80);
    CHECK(server.srtp_profile() == client.srtp_profile());
    // Same master secret, new randoms: the exporter (RFC 5705) gives new SRTP keys.
    auto second_keys = client.export_keying_material("EXTRACTOR-dtls_srtp", {}, 60);
    REQUIRE(second_keys);
    CHECK_FALSE(constant_time_equal(*first_keys, *second_keys));
    auto server_keys = server.export_keying_material("EXTRACTOR-dtls_srtp", {}, 60);
    REQUIRE(server_keys);
    CHECK(constant_time_equal(*second_keys, *server_keys));

    const Bytes sent = rtp_packet(42, "after resumption");
    REQUIRE(!client.send(sent, Clock::now()));
    REQUIRE(!feed(server, drain(client), client_address));
    CHECK(server.poll_application_data() == sent);
    const Bytes back = rtp_packet(9, "reply", 0x55667788);
    REQUIRE(!server.send(back, Clock::now()));
    REQUIRE(!feed(client, drain(server), server_address));
    CHECK(client.poll_application_data() == back);
}

}  // namespace dtls_srtp_engine_test
