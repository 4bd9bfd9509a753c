// Interop with libsrtp2 (Debian libsrtp2-dev, linked by this test only): for every
// profile, packets protected by tapsec are unprotected by libsrtp2 and the reverse,
// over 70,000 RTP packets per direction (the sequence number wraps, ROC reaches 1)
// with reordering, CSRC lists and header extensions, a second SSRC sharing the keys,
// plus SRTCP both ways (with and without the E flag).
#include <doctest/doctest.h>

#include <algorithm>
#include <cstring>
#include <random>

#include <tapsec/tapsec.hpp>

#ifdef TAPSEC_HAVE_LIBSRTP2
#include <srtp2/srtp.h>
#endif

using namespace tapsec;
using namespace tapsec::srtp;

#ifndef TAPSEC_HAVE_LIBSRTP2
TEST_CASE("SRTP interop with libsrtp2") {
    FAIL("libsrtp2 not found at configure time: install libsrtp2-dev (Debian) and re-run cmake");
}
#else

namespace srtp_libsrtp_test {

struct LibSrtp {
    srtp_t session = nullptr;
    ~LibSrtp() {
        if (session) srtp_dealloc(session);
    }
};

void set_policy(Profile p, srtp_crypto_policy_t& rtp, srtp_crypto_policy_t& rtcp) {
    switch (p) {
        case Profile::aes_cm_128_hmac_sha1_80:
            srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&rtp);
            srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&rtcp);
            break;
        case Profile::aes_cm_128_hmac_sha1_32:
            srtp_crypto_policy_set_aes_cm_128_hmac_sha1_32(&rtp);
            srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&rtcp);  // SRTCP keeps 80 bits (RFC 5764 4.1.2)
            break;
        case Profile::aead_aes_128_gcm:
            srtp_crypto_policy_set_aes_gcm_128_16_auth(&rtp);
            srtp_crypto_policy_set_aes_gcm_128_16_auth(&rtcp);
            break;
        case Profile::aead_aes_256_gcm:
            srtp_crypto_policy_set_aes_gcm_256_16_auth(&rtp);
            srtp_crypto_policy_set_aes_gcm_256_16_auth(&rtcp);
            break;
    }
}

/// A libsrtp2 session for one direction keyed with one master key || salt.
void make_libsrtp(LibSrtp& lib, Profile p, const MasterKey& key, srtp_ssrc_type_t direction, bool encrypt_rtcp) {
    srtp_policy_t policy;
    std::memset(&policy, 0, sizeof policy);
    set_policy(p, policy.rtp, policy.rtcp);
    if (!encrypt_rtcp) policy.rtcp.sec_serv = sec_serv_auth;
    policy.ssrc.type = direction;
    std::vector<unsigned char> material(key.key.begin(), key.key.end());
    material.insert(material.end(), key.salt.begin(), key.salt.end());
    policy.key = material.data();
    policy.window_size = 1024;
    policy.next = nullptr;
    REQUIRE(srtp_create(&lib.session, &policy) == srtp_err_status_ok);
    secure_zero(material.data(), material.size());
}

MasterKeys random_keys(Profile p) {
    const auto params = parameters(p);
    MasterKeys keys;
    keys.profile = p;
    for (MasterKey* m : {&keys.client_write, &keys.server_write}) {
        m->key.resize(params.master_key_length);
        m->salt.resize(params.master_salt_length);
        crypto::DefaultProvider::random(m->key);
        crypto::DefaultProvider::random(m->salt);
    }
    return keys;
}

/// An RTP packet: sometimes with CSRCs and an RFC 8285 one-byte header extension.
Bytes make_rtp(std::uint16_t seq, std::uint32_t ssrc, std::mt19937& rng) {
    const std::size_t csrcs = seq % 5 == 0 ? 2 : 0;
    const bool extension = seq % 3 == 0;
    const std::size_t payload = 20 + rng() % 1200;
    Bytes p;
    p.push_back(static_cast<std::uint8_t>(0x80 | (extension ? 0x10 : 0) | csrcs));
    p.push_back(96);
    p.push_back(static_cast<std::uint8_t>(seq >> 8));
    p.push_back(static_cast<std::uint8_t>(seq));
    for (int i = 0; i < 4; ++i) p.push_back(static_cast<std::uint8_t>((seq * 160u) >> (24 - 8 * i)));
    for (int i = 0; i < 4; ++i) p.push_back(static_cast<std::uint8_t>(ssrc >> (24 - 8 * i)));
    for (std::size_t c = 0; c < csrcs; ++c)
        for (int i = 0; i < 4; ++i) p.push_back(static_cast<std::uint8_t>(0x11 * (c + 1) + i));
    if (extension) {
        for (auto b : {0xBE, 0xDE, 0x00, 0x01, 0x10, 0xAA, 0x00, 0x00}) p.push_back(static_cast<std::uint8_t>(b));
    }
    for (std::size_t i = 0; i < payload; ++i) p.push_back(static_cast<std::uint8_t>(rng()));
    return p;
}

/// An RTCP receiver report (with one report block) followed by an SDES CNAME.
Bytes make_rtcp(std::uint32_t ssrc, std::uint32_t n) {
    Bytes p;
    wire::Writer w(p);
    w.u8(0x81); w.u8(201); w.u16(7); w.u32(ssrc);
    w.u32(0x12345678); w.u32(n); w.u32(n * 3); w.u32(n * 7); w.u32(0); w.u32(0);
    w.u8(0x81); w.u8(202); w.u16(3); w.u32(ssrc);
    w.u8(1); w.u8(6);
    for (char c : std::string("tapsec")) w.u8(static_cast<std::uint8_t>(c));
    w.u16(0);  // end of items + padding to 32 bits
    return p;
}

constexpr std::size_t rtp_packets = 70'000;
constexpr std::uint16_t first_seq = 30'000;  // wraps after 35,536 packets

void run_profile(Profile profile, bool encrypt_rtcp) {
    INFO("profile " << std::string(parameters(profile).name) << (encrypt_rtcp ? "" : " (SRTCP E=0)"));
    static const srtp_err_status_t initialised = srtp_init();  // once per process
    REQUIRE(initialised == srtp_err_status_ok);
    const MasterKeys keys = random_keys(profile);
    SessionOptions options;
    options.encrypt_rtcp = encrypt_rtcp;
    // tapsec is the DTLS client: it sends with client_write, libsrtp2 (the server) with server_write.
    auto ours = Session<>::create(keys, Role::client, options);
    REQUIRE(ours);
    LibSrtp lib_rx, lib_tx;
    make_libsrtp(lib_rx, profile, keys.client_write, ssrc_any_inbound, encrypt_rtcp);
    make_libsrtp(lib_tx, profile, keys.server_write, ssrc_any_outbound, encrypt_rtcp);

    std::mt19937 rng(static_cast<unsigned>(profile) * 7919u + (encrypt_rtcp ? 1 : 0));
    const std::uint32_t our_ssrc = 0xCAFEBABE, our_second_ssrc = 0x5EC0DD55, their_ssrc = 0x0BADF00D;
    std::size_t rtcp_count = 0;

    // tapsec -> libsrtp2: protect in order, deliver with adjacent swaps (reordering).
    {
        std::vector<Bytes> sent, originals;
        std::size_t delivered = 0;
        auto deliver = [&](Bytes& srtp_packet, const Bytes& original) {
            Bytes buffer = srtp_packet;
            buffer.resize(buffer.size() + SRTP_MAX_TRAILER_LEN);
            int len = static_cast<int>(srtp_packet.size());
            REQUIRE(srtp_unprotect(lib_rx.session, buffer.data(), &len) == srtp_err_status_ok);
            buffer.resize(static_cast<std::size_t>(len));
            REQUIRE(buffer == original);
            ++delivered;
        };
        for (std::size_t i = 0; i < rtp_packets; ++i) {
            const auto seq = static_cast<std::uint16_t>(first_seq + i);
            Bytes plain = make_rtp(seq, our_ssrc, rng);
            Bytes packet = plain;
            REQUIRE(ours->protect_rtp(packet) == std::error_code{});
            REQUIRE(packet.size() == plain.size() + parameters(profile).srtp_tag_length);
            sent.push_back(std::move(packet));
            originals.push_back(std::move(plain));
            if (sent.size() == 2) {
                const bool swap = i % 7 == 1;
                deliver(sent[swap ? 1 : 0], originals[swap ? 1 : 0]);
                deliver(sent[swap ? 0 : 1], originals[swap ? 0 : 1]);
                sent.clear();
                originals.clear();
            }
            if (i % 10 == 0) {  // a second SSRC, starting just before its own wrap
                const auto seq2 = static_cast<std::uint16_t>(65'000 + i / 10);
                Bytes plain2 = make_rtp(seq2, our_second_ssrc, rng);
                Bytes packet2 = plain2;
                REQUIRE(ours->protect_rtp(packet2) == std::error_code{});
                deliver(packet2, plain2);
            }
            if (i % 37 == 0) {  // SRTCP tapsec -> libsrtp2
                Bytes rtcp = make_rtcp(our_ssrc, static_cast<std::uint32_t>(i));
                Bytes p = rtcp;
                REQUIRE(ours->protect_rtcp(p) == std::error_code{});
                CHECK(((p[p.size() - (parameters(profile).aead ? 4 : 4 + parameters(profile).srtcp_tag_length)] & 0x80) != 0) ==
                      encrypt_rtcp);
                p.resize(p.size() + SRTP_MAX_TRAILER_LEN + 4);
                int len = static_cast<int>(p.size() - SRTP_MAX_TRAILER_LEN - 4);
                REQUIRE(srtp_unprotect_rtcp(lib_rx.session, p.data(), &len) == srtp_err_status_ok);
                p.resize(static_cast<std::size_t>(len));
                REQUIRE(p == rtcp);
                ++rtcp_count;
            }
        }
        CHECK(delivered == rtp_packets + rtp_packets / 10);
        CHECK(ours->rollover_counter(our_ssrc, true) == 1u);
        CHECK(ours->rollover_counter(our_second_ssrc, true) == 1u);
    }

    // libsrtp2 -> tapsec: libsrtp2 protects in order; tapsec receives with adjacent swaps.
    {
        std::vector<Bytes> pending, originals;
        std::size_t received = 0;
        auto receive = [&](Bytes& packet, const Bytes& original) {
            REQUIRE(ours->unprotect_rtp(packet) == std::error_code{});
            REQUIRE(packet == original);
            ++received;
        };
        for (std::size_t i = 0; i < rtp_packets; ++i) {
            const auto seq = static_cast<std::uint16_t>(first_seq + 5'000 + i);
            Bytes plain = make_rtp(seq, their_ssrc, rng);
            Bytes buffer = plain;
            buffer.resize(buffer.size() + SRTP_MAX_TRAILER_LEN);
            int len = static_cast<int>(plain.size());
            REQUIRE(srtp_protect(lib_tx.session, buffer.data(), &len) == srtp_err_status_ok);
            buffer.resize(static_cast<std::size_t>(len));
            pending.push_back(std::move(buffer));
            originals.push_back(std::move(plain));
            if (pending.size() == 2) {
                const bool swap = i % 5 == 1;
                receive(pending[swap ? 1 : 0], originals[swap ? 1 : 0]);
                receive(pending[swap ? 0 : 1], originals[swap ? 0 : 1]);
                pending.clear();
                originals.clear();
            }
            if (i % 41 == 0) {  // SRTCP libsrtp2 -> tapsec
                Bytes rtcp = make_rtcp(their_ssrc, static_cast<std::uint32_t>(i));
                Bytes p = rtcp;
                p.resize(p.size() + SRTP_MAX_TRAILER_LEN + 4);
                int l = static_cast<int>(rtcp.size());
                REQUIRE(srtp_protect_rtcp(lib_tx.session, p.data(), &l) == srtp_err_status_ok);
                p.resize(static_cast<std::size_t>(l));
                REQUIRE(ours->unprotect_rtcp(p) == std::error_code{});
                REQUIRE(p == rtcp);
                ++rtcp_count;
            }
        }
        CHECK(received == rtp_packets);
        CHECK(ours->rollover_counter(their_ssrc, false) == 1u);
    }
    const auto& stats = ours->statistics();
    CHECK(stats.rtp_protected == rtp_packets + rtp_packets / 10);
    CHECK(stats.rtp_unprotected == rtp_packets);
    CHECK(stats.rtcp_protected + stats.rtcp_unprotected == rtcp_count);
    CHECK(stats.refused() == 0);
}


TEST_CASE("SRTP interop with libsrtp2: AES_CM_128_HMAC_SHA1_80") { run_profile(Profile::aes_cm_128_hmac_sha1_80, true); }
TEST_CASE("SRTP interop with libsrtp2: AES_CM_128_HMAC_SHA1_32") { run_profile(Profile::aes_cm_128_hmac_sha1_32, true); }
TEST_CASE("SRTP interop with libsrtp2: AEAD_AES_128_GCM") { run_profile(Profile::aead_aes_128_gcm, true); }
TEST_CASE("SRTP interop with libsrtp2: AEAD_AES_256_GCM") { run_profile(Profile::aead_aes_256_gcm, true); }
TEST_CASE("SRTP interop with libsrtp2: unencrypted SRTCP (E=0), AES-CM and GCM") {
    run_profile(Profile::aes_cm_128_hmac_sha1_80, false);
    run_profile(Profile::aead_aes_128_gcm, false);
}

#endif

}  // namespace srtp_libsrtp_test
