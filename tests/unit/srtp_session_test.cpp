// SRTP/SRTCP sessions against each other: round trips for every profile, partial
// confidentiality, index estimation across the wrap, and every refusal (replayed,
// tampered tag, tampered header, truncated, malformed, wrong profile, too old, key
// reuse) as a distinct error code that is counted and changes no state.
#include <doctest/doctest.h>

#include <tapsec/tapsec.hpp>

#include "support/declared_engine.hpp"

using namespace tapsec;
using namespace tapsec::srtp;

namespace srtp_session_test {

MasterKeys keys_for(Profile p, std::uint8_t seed = 1) {
    const auto params = parameters(p);
    MasterKeys k;
    k.profile = p;
    k.client_write.key.assign(params.master_key_length, seed);
    k.client_write.salt.assign(params.master_salt_length, static_cast<std::uint8_t>(seed + 1));
    k.server_write.key.assign(params.master_key_length, static_cast<std::uint8_t>(seed + 2));
    k.server_write.salt.assign(params.master_salt_length, static_cast<std::uint8_t>(seed + 3));
    return k;
}

struct Pair {
    Session<> client, server;
};

Pair pair_for(Profile p, SessionOptions options = {}) {
    auto keys = keys_for(p);
    auto c = Session<>::create(keys, Role::client, options);
    auto s = Session<>::create(keys, Role::server, options);
    REQUIRE(c);
    REQUIRE(s);
    return {std::move(*c), std::move(*s)};
}

Bytes rtp(std::uint16_t seq, std::uint32_t ssrc = 0x11223344, std::size_t payload = 160) {
    Bytes p{0x80, 0x00, static_cast<std::uint8_t>(seq >> 8), static_cast<std::uint8_t>(seq), 0, 0, 0x10, 0x00};
    for (int i = 0; i < 4; ++i) p.push_back(static_cast<std::uint8_t>(ssrc >> (24 - 8 * i)));
    for (std::size_t i = 0; i < payload; ++i) p.push_back(static_cast<std::uint8_t>(i * 7 + seq));
    return p;
}

Bytes rtcp(std::uint32_t ssrc = 0x11223344) {
    Bytes p{0x80, 201, 0x00, 0x01};
    for (int i = 0; i < 4; ++i) p.push_back(static_cast<std::uint8_t>(ssrc >> (24 - 8 * i)));
    for (int i = 0; i < 24; ++i) p.push_back(static_cast<std::uint8_t>(i));
    p[3] = 7;  // length in 32-bit words minus one
    return p;
}

Bytes protect(Session<>& s, Bytes p) {
    REQUIRE(s.protect_rtp(p) == std::error_code{});
    return p;
}
Bytes protect_c(Session<>& s, Bytes p) {
    REQUIRE(s.protect_rtcp(p) == std::error_code{});
    return p;
}


TEST_CASE("SRTP round trip for every profile; RTP header authenticated but not encrypted") {
    for (Profile p : supported_profiles) {
        INFO(std::string(parameters(p).name));
        auto [client, server] = pair_for(p);
        const Bytes plain = rtp(1000);
        Bytes packet = protect(client, plain);
        CHECK(packet.size() == plain.size() + parameters(p).srtp_tag_length);
        // Partial confidentiality: the 12-byte header travels in the clear, the payload does not.
        CHECK(std::equal(plain.begin(), plain.begin() + 12, packet.begin()));
        CHECK_FALSE(std::equal(plain.begin() + 12, plain.end(), packet.begin() + 12));
        REQUIRE(server.unprotect_rtp(packet) == std::error_code{});
        CHECK(packet == plain);

        // Each direction has its own keys: the client cannot read its own packet back.
        Bytes own = protect(client, rtp(1001));
        CHECK(client.unprotect_rtp(own) == Error::authentication_failed);

        const Bytes control = rtcp();
        Bytes c = protect_c(server, control);
        CHECK(c.size() == control.size() + parameters(p).srtcp_tag_length + 4);
        CHECK(std::equal(control.begin(), control.begin() + 8, c.begin()));  // first 8 octets clear
        REQUIRE(client.unprotect_rtcp(c) == std::error_code{});
        CHECK(c == control);
    }
}

TEST_CASE("SRTP: CSRC list and header extension stay clear and authenticated") {
    auto [client, server] = pair_for(Profile::aes_cm_128_hmac_sha1_80);
    Bytes plain = rtp(7, 0x01020304, 40);
    plain[0] = 0x80 | 0x10 | 1;  // X bit, one CSRC
    const Bytes extra{0xAA, 0xBB, 0xCC, 0xDD, 0xBE, 0xDE, 0x00, 0x01, 0x22, 0x01, 0x02, 0x00};
    plain.insert(plain.begin() + 12, extra.begin(), extra.end());
    auto header = parse_rtp_header(plain);
    REQUIRE(header);
    CHECK(header->length == 24);
    CHECK(header->extension_profile == 0xBEDE);
    Bytes packet = protect(client, plain);
    CHECK(std::equal(plain.begin(), plain.begin() + 24, packet.begin()));
    Bytes tampered = packet;
    tampered[21] ^= 1;  // inside the extension
    CHECK(server.unprotect_rtp(tampered) == Error::authentication_failed);
    REQUIRE(server.unprotect_rtp(packet) == std::error_code{});
    CHECK(packet == plain);
}

TEST_CASE("SRTP negative: replayed, tampered tag, tampered header, tampered payload") {
    for (Profile p : supported_profiles) {
        INFO(std::string(parameters(p).name));
        auto [client, server] = pair_for(p);
        const Bytes packet = protect(client, rtp(500));
        Bytes first = packet;
        REQUIRE(server.unprotect_rtp(first) == std::error_code{});

        Bytes again = packet;
        CHECK(server.unprotect_rtp(again) == Error::replayed);
        CHECK(server.statistics().replayed == 1);

        Bytes next = protect(client, rtp(501));
        Bytes bad_tag = next;
        bad_tag.back() ^= 0x01;
        CHECK(server.unprotect_rtp(bad_tag) == Error::authentication_failed);
        Bytes bad_header = next;
        bad_header[1] ^= 0x80;  // marker bit
        CHECK(server.unprotect_rtp(bad_header) == Error::authentication_failed);
        Bytes bad_timestamp = next;
        bad_timestamp[7] ^= 0x01;
        CHECK(server.unprotect_rtp(bad_timestamp) == Error::authentication_failed);
        Bytes bad_payload = next;
        bad_payload[20] ^= 0x01;
        const Bytes as_sent = bad_payload;
        CHECK(server.unprotect_rtp(bad_payload) == Error::authentication_failed);
        // A refused packet never exposes unverified plaintext: AES-CM leaves the
        // ciphertext as it was, GCM zeroes the payload.
        if (parameters(p).aead)
            CHECK(std::all_of(bad_payload.begin() + 12, bad_payload.end() - 16, [](std::uint8_t b) { return b == 0; }));
        else
            CHECK(bad_payload == as_sent);
        CHECK(server.statistics().authentication_failures == 4);
        // None of the failures consumed index 501.
        REQUIRE(server.unprotect_rtp(next) == std::error_code{});
        CHECK(server.statistics().rtp_unprotected == 2);
    }
}

TEST_CASE("SRTCP negative: replayed, tampered tag, tampered E flag and index, tampered header") {
    for (Profile p : supported_profiles) {
        INFO(std::string(parameters(p).name));
        auto [client, server] = pair_for(p);
        const Bytes packet = protect_c(client, rtcp());
        Bytes first = packet;
        REQUIRE(server.unprotect_rtcp(first) == std::error_code{});
        Bytes again = packet;
        CHECK(server.unprotect_rtcp(again) == Error::replayed);

        const Bytes next = protect_c(client, rtcp());
        const std::size_t index_at = parameters(p).aead ? next.size() - 4 : next.size() - 4 - parameters(p).srtcp_tag_length;
        Bytes bad_e = next;
        bad_e[index_at] ^= 0x80;  // clear the E flag: authentication covers it
        CHECK(server.unprotect_rtcp(bad_e) == Error::authentication_failed);
        Bytes bad_index = next;
        bad_index[index_at + 3] ^= 0x04;
        CHECK(server.unprotect_rtcp(bad_index) == Error::authentication_failed);
        Bytes bad_header = next;
        bad_header[1] = 200;
        CHECK(server.unprotect_rtcp(bad_header) == Error::authentication_failed);
        Bytes bad_tag = next;
        bad_tag[parameters(p).aead ? next.size() - 5 : next.size() - 1] ^= 1;
        CHECK(server.unprotect_rtcp(bad_tag) == Error::authentication_failed);
        CHECK(server.statistics().authentication_failures == 4);
        CHECK(server.statistics().replayed == 1);
        Bytes ok = next;
        REQUIRE(server.unprotect_rtcp(ok) == std::error_code{});
    }
}

TEST_CASE("SRTP/SRTCP negative: truncated and malformed packets") {
    for (Profile p : supported_profiles) {
        INFO(std::string(parameters(p).name));
        auto [client, server] = pair_for(p);
        const Bytes packet = protect(client, rtp(9, 0x11223344, 0));  // header + tag only
        Bytes empty;
        CHECK(server.unprotect_rtp(empty) == Error::malformed_rtp_header);
        Bytes short_header(packet.begin(), packet.begin() + 11);
        CHECK(server.unprotect_rtp(short_header) == Error::malformed_rtp_header);
        Bytes no_tag(packet.begin(), packet.end() - 1);
        CHECK(server.unprotect_rtp(no_tag) == Error::truncated_packet);
        Bytes version1 = packet;
        version1[0] = 0x40;
        CHECK(server.unprotect_rtp(version1) == Error::malformed_rtp_header);
        Bytes csrc_overrun = packet;
        csrc_overrun[0] = 0x8f;  // 15 CSRCs claimed
        CHECK(server.unprotect_rtp(csrc_overrun) == Error::malformed_rtp_header);
        Bytes extension_overrun = packet;
        extension_overrun[0] = 0x90;
        extension_overrun[14] = 0xff;  // (the 4-byte extension header is the first payload bytes)
        CHECK(server.unprotect_rtp(extension_overrun) == Error::malformed_rtp_header);

        const Bytes control = protect_c(client, rtcp());
        Bytes tiny(control.begin(), control.begin() + 7);
        CHECK(server.unprotect_rtcp(tiny) == Error::malformed_rtcp_header);
        Bytes no_trailer(control.begin(), control.begin() + 8 + 4 + parameters(p).srtcp_tag_length - 1);
        CHECK(server.unprotect_rtcp(no_trailer) == Error::truncated_packet);
        Bytes cut(control.begin(), control.end() - 3);
        CHECK(server.unprotect_rtcp(cut) == Error::authentication_failed);
        CHECK(server.statistics().malformed == 6);
        CHECK(server.statistics().truncated == 2);
        CHECK(server.statistics().rtp_unprotected + server.statistics().rtcp_unprotected == 0);

        // Outbound: malformed input and a buffer without room for the tag.
        Bytes not_rtp{0x00, 0x01};
        CHECK(client.protect_rtp(not_rtp) == Error::malformed_rtp_header);
        Bytes full = rtp(10);
        CHECK(client.protect_rtp(MutableByteView(full), full.size()).error() == Error::buffer_too_small);
    }
}

TEST_CASE("SRTP negative: wrong profile and wrong key lengths") {
    auto keys = keys_for(Profile::aes_cm_128_hmac_sha1_80);
    auto sender = Session<>::create(keys, Role::client);
    REQUIRE(sender);
    keys.profile = Profile::aes_cm_128_hmac_sha1_32;  // same keys, the peer believes another profile
    auto receiver = Session<>::create(keys, Role::server);
    REQUIRE(receiver);
    Bytes packet = protect(*sender, rtp(1));
    CHECK(receiver->unprotect_rtp(packet) == Error::authentication_failed);
    Bytes control = protect_c(*sender, rtcp());
    Bytes control_copy = control;
    // SRTCP tags are 80 bits in both profiles, so SRTCP still verifies: the RFC's choice.
    CHECK(receiver->unprotect_rtcp(control_copy) == std::error_code{});

    auto gcm_keys = keys_for(Profile::aead_aes_128_gcm);
    auto gcm = Session<>::create(gcm_keys, Role::server);
    REQUIRE(gcm);
    Bytes cm_packet = protect(*sender, rtp(2));
    CHECK(gcm->unprotect_rtp(cm_packet) == Error::authentication_failed);

    auto mismatched = keys_for(Profile::aes_cm_128_hmac_sha1_80);
    mismatched.profile = Profile::aead_aes_256_gcm;  // 16-byte keys for a 32-byte-key profile
    CHECK(Session<>::create(mismatched, Role::client).error() == Error::invalid_key_length);
    auto unknown = keys_for(Profile::aes_cm_128_hmac_sha1_80);
    unknown.profile = static_cast<Profile>(0x0003);
    CHECK(Session<>::create(unknown, Role::client).error() == Error::unsupported_profile);
    CHECK_FALSE(profile_from_code(0x0005));
    CHECK(profile_from_code(0x0007) == Profile::aead_aes_128_gcm);
    CHECK(profile_from_name("SRTP_AES128_CM_SHA1_80") == Profile::aes_cm_128_hmac_sha1_80);
}

TEST_CASE("SRTP negative: index behind the replay window is too old; SRTCP too") {
    auto [client, server] = pair_for(Profile::aead_aes_128_gcm);
    std::vector<Bytes> packets;
    for (std::uint16_t seq = 100; seq < 1200; ++seq) packets.push_back(protect(client, rtp(seq)));
    Bytes newest = packets.back();
    REQUIRE(server.unprotect_rtp(newest) == std::error_code{});
    Bytes within = packets[packets.size() - 900];
    CHECK(server.unprotect_rtp(within) == std::error_code{});  // 900 behind: inside the window
    Bytes old = packets[0];                                     // 1099 behind
    CHECK(server.unprotect_rtp(old) == Error::too_old);
    CHECK(server.statistics().too_old == 1);

    std::vector<Bytes> controls;
    for (int i = 0; i < 1100; ++i) controls.push_back(protect_c(client, rtcp()));
    Bytes last = controls.back();
    REQUIRE(server.unprotect_rtcp(last) == std::error_code{});
    Bytes first = controls.front();
    CHECK(server.unprotect_rtcp(first) == Error::too_old);
    CHECK(server.statistics().too_old == 2);
}

TEST_CASE("SRTP: sender refuses to reuse an index (keystream reuse)") {
    auto [client, server] = pair_for(Profile::aes_cm_128_hmac_sha1_80);
    protect(client, rtp(42));
    Bytes again = rtp(42);
    CHECK(client.protect_rtp(again) == Error::key_reuse);
    CHECK(client.statistics().other_refusals == 1);
}

TEST_CASE("SRTP: index estimation across the wrap with reordering") {
    auto [client, server] = pair_for(Profile::aes_cm_128_hmac_sha1_32);
    std::vector<std::uint16_t> order{65533, 65534, 65535, 0, 1, 2};
    std::vector<Bytes> sent;
    for (auto seq : order) sent.push_back(protect(client, rtp(seq)));
    CHECK(client.rollover_counter(0x11223344, true) == 1u);
    // Arrival order: 65533, 0, 65535, 1, 65534, 2 (late packets from before the wrap).
    for (std::size_t i : {0u, 3u, 2u, 4u, 1u, 5u}) {
        Bytes p = sent[i];
        REQUIRE(server.unprotect_rtp(p) == std::error_code{});
        p.resize(p.size());
    }
    CHECK(server.rollover_counter(0x11223344, false) == 1u);

    // A forged packet far ahead must not move the replay window or s_l.
    Bytes forged = rtp(30000);
    forged.resize(forged.size() + 4, 0xEE);
    CHECK(server.unprotect_rtp(forged) == Error::authentication_failed);
    CHECK(server.rollover_counter(0x11223344, false) == 1u);
    Bytes later = protect(client, rtp(3));
    CHECK(server.unprotect_rtp(later) == std::error_code{});
}

TEST_CASE("SRTP: a forged packet guessing ROC+1 does not advance the rollover counter") {
    auto [client, server] = pair_for(Profile::aes_cm_128_hmac_sha1_80);
    Bytes first = protect(client, rtp(40000));
    REQUIRE(server.unprotect_rtp(first) == std::error_code{});
    Bytes forged = rtp(100);  // s_l = 40000, so SEQ 100 is guessed to be in ROC 1
    forged.resize(forged.size() + 10, 0x55);
    CHECK(server.unprotect_rtp(forged) == Error::authentication_failed);
    CHECK(server.rollover_counter(0x11223344, false) == 0u);
    Bytes next = protect(client, rtp(40001));
    CHECK(server.unprotect_rtp(next) == std::error_code{});
    CHECK(server.rollover_counter(0x11223344, false) == 0u);
}

TEST_CASE("RolloverTracker: RFC 3711 Appendix A guesses") {
    RolloverTracker t;
    CHECK(t.estimate(10).index == 10);
    t.update(t.estimate(10));
    CHECK(t.estimate(65000).valid == false);  // would be ROC -1: before the stream began
    t.update(t.estimate(40000));
    CHECK(t.highest_sequence() == 40000);
    auto e = t.estimate(100);  // s_l >= 32768 and 100 < s_l - 32768: next period
    CHECK(e.roc == 1);
    CHECK(e.index == 65536 + 100);
    t.update(e);
    CHECK(t.roc() == 1);
    auto late = t.estimate(65000);  // s_l < 32768, 65000 - 100 > 32768: previous period
    CHECK(late.roc == 0);
    CHECK(late.index == 65000);
    t.update(late);
    CHECK(t.roc() == 1);
    CHECK(t.highest_sequence() == 100);
}

TEST_CASE("SRTP: stream limit and independent SSRCs") {
    SessionOptions options;
    options.max_streams = 2;
    auto [client, server] = pair_for(Profile::aes_cm_128_hmac_sha1_80, options);
    Bytes a = protect(client, rtp(1, 1)), b = protect(client, rtp(1, 2));
    CHECK(server.unprotect_rtp(a) == std::error_code{});
    CHECK(server.unprotect_rtp(b) == std::error_code{});  // same seq, other SSRC: not a replay
    Bytes third = rtp(1, 3);
    CHECK(client.protect_rtp(third) == Error::too_many_streams);
}

TEST_CASE("RFC 7983 demultiplexing") {
    CHECK(classify(Bytes{0x16, 0xfe, 0xfd}) == PacketKind::dtls);
    CHECK(classify(Bytes{0x00, 0x01}) == PacketKind::stun);
    CHECK(classify(Bytes{0x80, 0x60}) == PacketKind::rtp);
    CHECK(classify(Bytes{0x80, 0xc8}) == PacketKind::rtcp);
    CHECK(classify(Bytes{0x81, 0xc9}) == PacketKind::rtcp);
    CHECK(classify(Bytes{}) == PacketKind::unknown);
}

TEST_CASE("SrtpRecord policy: explicit import of srtp::MasterKeys") {
    static_assert(RecordPolicy<SrtpRecord>);
    static_assert(std::is_same_v<SrtpRecord::imported_keys, srtp::MasterKeys>);
    static_assert(SrtpRecord::key_import == KeyImport::explicit_import);
    static_assert(needs<SrtpRecord, dependency::datagram>());
    constexpr auto f = declared_features<SrtpRecord>();
    static_assert(f.has<feature::partial_record_confidentiality>() && f.has<feature::replay_protection>());
    CHECK(make_error_code(Error::replayed).message() == "replayed SRTP/SRTCP packet");
    CHECK(std::string(make_error_code(Error::replayed).category().name()) == "tapsec.srtp");
}

TEST_CASE("SRTP negative: oversized packets; index space exhaustion") {
    auto [client, server] = pair_for(Profile::aes_cm_128_hmac_sha1_80);
    Bytes huge = rtp(1, 0x11223344, max_packet_size);  // header + 65535 bytes of payload
    CHECK(client.protect_rtp(huge) == Error::packet_too_large);
    CHECK(server.unprotect_rtp(huge) == Error::packet_too_large);
    Bytes huge_rtcp = rtcp();
    huge_rtcp.resize(max_packet_size + 1);
    CHECK(client.protect_rtcp(huge_rtcp) == Error::packet_too_large);
    CHECK(server.unprotect_rtcp(huge_rtcp) == Error::packet_too_large);
    CHECK(server.statistics().other_refusals == 2);

    RolloverTracker last(0xffffffffu);
    last.update(last.estimate(40000));
    const auto beyond = last.estimate(100);  // would be ROC 2^32: past the 2^48 index space
    CHECK_FALSE(beyond.valid);
    CHECK(beyond.exhausted);
    CHECK(last.estimate(40001).valid);
}

TEST_CASE("SRTP: protect()/unprotect() multiplex RTP and RTCP on one flow (RFC 5761)") {
    auto [client, server] = pair_for(Profile::aead_aes_256_gcm);
    const Bytes media = rtp(77), control = rtcp();
    Bytes a = media, b = control;
    REQUIRE(client.protect(a) == std::error_code{});
    REQUIRE(client.protect(b) == std::error_code{});
    REQUIRE(server.unprotect(b) == std::error_code{});
    REQUIRE(server.unprotect(a) == std::error_code{});
    CHECK(a == media);
    CHECK(b == control);
    Bytes dtls{0x16, 0xfe, 0xfd, 0, 0};
    CHECK(server.unprotect(dtls) == Error::not_rtp_or_rtcp);
    CHECK(client.protect(dtls) == Error::not_rtp_or_rtcp);
}

// Stands in for DtlsSrtpHandshake: a handshake that exports srtp::MasterKeys explicitly.
struct SrtpKeyingHandshake {
    static constexpr std::string_view name = "SRTP-keying handshake (test)";
    using provides = features<feature::mutual_authentication>;
    using needs = dependencies<dependency::datagram>;
    static constexpr KeyExport key_export = KeyExport::explicit_export;
    using exported_keys = srtp::MasterKeys;
    using Config = CommonConfig;
    template <class Record, class Crypto>
    using engine = test::DeclaredOnlyEngine;
};
struct DirectOnlyHandshake : SrtpKeyingHandshake {
    static constexpr KeyExport key_export = KeyExport::direct;
};
struct OtherKeysHandshake : SrtpKeyingHandshake {
    struct OtherKeys {};
    using exported_keys = OtherKeys;
};

TEST_CASE("SrtpRecord composes only with a handshake exporting srtp::MasterKeys explicitly, over datagrams") {
    static_assert(Composable<SrtpKeyingHandshake, SrtpRecord, MemoryDatagram>);
    static_assert(!Composable<SrtpKeyingHandshake, SrtpRecord, MemoryStream>);  // SRTP needs datagrams
    static_assert(!Composable<DirectOnlyHandshake, SrtpRecord, MemoryDatagram>);  // 6.3: direct export only
    static_assert(!Composable<OtherKeysHandshake, SrtpRecord, MemoryDatagram>);   // another kind of key
    using Composition = Secure<SrtpKeyingHandshake, SrtpRecord, MemoryDatagram>;
    static_assert(Composition::has<feature::partial_record_confidentiality>);
    static_assert(Composition::has<feature::replay_protection>);
    static_assert(Composition::has<feature::mutual_authentication>);
    CHECK(Composition::features.has<feature::out_of_order_receipt>());
}

}  // namespace srtp_session_test
