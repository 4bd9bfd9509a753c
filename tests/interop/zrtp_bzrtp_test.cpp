// Interop with bzrtp (Debian libbzrtp-dev, linked by this test only): a bzrtp context
// and a tapsec ZRTP engine exchange packets in memory, with tapsec as initiator and as
// responder, over X25519 ("X255", the key agreement the packaged bzrtp offers besides
// DH3k). Both must report the same SAS and the same SRTP master keys and salts (bzrtp's
// from its srtpSecretsAvailable callback), and SRTP packets protected by tapsec's
// SrtpRecord session must be unprotected by libsrtp2 keyed with bzrtp's secrets, and
// the reverse. Also: bzrtp's exported key equals ours, and packet loss on the link is
// recovered on both sides.
#include <doctest/doctest.h>

#include <cstring>
#include <random>

#include "unit/zrtp_pair.hpp"

#ifdef TAPSEC_HAVE_BZRTP
#include <bzrtp/bzrtp.h>
#include <sqlite3.h>
#endif
#ifdef TAPSEC_HAVE_LIBSRTP2
#include <srtp2/srtp.h>
#endif

using namespace tapsec;
using namespace tapsec::zrtp;
using tapsec::test::rtp_packet;
using tapsec::test::ZrtpEngine;

#if !defined(TAPSEC_HAVE_BZRTP) || !defined(TAPSEC_HAVE_LIBSRTP2)
TEST_CASE("ZRTP interop with bzrtp") {
    FAIL("libbzrtp or libsrtp2 not found at configure time: install libbzrtp-dev, libbctoolbox-dev, libsrtp2-dev and re-run cmake");
}
#else

namespace zrtp_bzrtp_test {

/// One bzrtp endpoint: a context with one channel, its outgoing packets queued.
struct BzrtpPeer {
    static constexpr std::uint32_t ssrc = 0x0b2e7e9u;
    bzrtpContext_t* context = nullptr;
    std::deque<Bytes> outgoing;
    // from srtpSecretsAvailable / startSrtpSession
    Bytes self_key, self_salt, peer_key, peer_salt;
    std::string sas;
    std::uint8_t auth_tag = 0, key_agreement = 0;
    bool secure = false;
    static constexpr std::string_view export_label = "interop label";
    Bytes exported;  // bzrtp_exportKey(export_label), taken while bzrtp still holds s0

    bool cache_mismatch = false;

    /// `zid_cache`: an sqlite database bzrtp keeps its ZID and retained secrets in.
    explicit BzrtpPeer(sqlite3* zid_cache = nullptr) {
        context = bzrtp_createBzrtpContext();
        REQUIRE(context);
        if (zid_cache) {
            const int r = bzrtp_setZIDCache(context, zid_cache, "sip:bzrtp@example.org", "sip:tapsec@example.org");
            REQUIRE((r == 0 || r == BZRTP_CACHE_SETUP));
        }
        bzrtpCallbacks_t callbacks{};
        callbacks.bzrtp_sendData = &BzrtpPeer::send;
        callbacks.bzrtp_srtpSecretsAvailable = &BzrtpPeer::secrets;
        callbacks.bzrtp_startSrtpSession = &BzrtpPeer::started;
        callbacks.bzrtp_contextReadyForExportedKeys = &BzrtpPeer::export_ready;
        REQUIRE(bzrtp_setCallbacks(context, &callbacks) == 0);
        REQUIRE(bzrtp_initBzrtpContext(context, ssrc) == 0);
        REQUIRE(bzrtp_setClientData(context, ssrc, this) == 0);
        REQUIRE(bzrtp_startChannelEngine(context, ssrc) == 0);
    }
    ~BzrtpPeer() { bzrtp_destroyBzrtpContext(context, ssrc); }
    BzrtpPeer(const BzrtpPeer&) = delete;
    BzrtpPeer& operator=(const BzrtpPeer&) = delete;

    static int send(void* self, const std::uint8_t* packet, std::uint16_t length) {
        static_cast<BzrtpPeer*>(self)->outgoing.emplace_back(packet, packet + length);
        return 0;
    }
    static void copy_secrets(BzrtpPeer& p, const bzrtpSrtpSecrets_t* s) {
        if (s->selfSrtpKey) {
            p.self_key.assign(s->selfSrtpKey, s->selfSrtpKey + s->selfSrtpKeyLength);
            p.self_salt.assign(s->selfSrtpSalt, s->selfSrtpSalt + s->selfSrtpSaltLength);
        }
        if (s->peerSrtpKey) {
            p.peer_key.assign(s->peerSrtpKey, s->peerSrtpKey + s->peerSrtpKeyLength);
            p.peer_salt.assign(s->peerSrtpSalt, s->peerSrtpSalt + s->peerSrtpSaltLength);
        }
        if (s->sas) p.sas = s->sas;
        p.auth_tag = s->authTagAlgo;
        p.cache_mismatch = s->cacheMismatch != 0;
        p.key_agreement = s->keyAgreementAlgo;
    }
    static int secrets(void* self, const bzrtpSrtpSecrets_t* s, std::uint8_t) {
        copy_secrets(*static_cast<BzrtpPeer*>(self), s);
        return 0;
    }
    /// bzrtp wipes s0 right after this callback: exports are only possible inside it.
    static int export_ready(void* self, int, std::uint8_t) {
        auto& p = *static_cast<BzrtpPeer*>(self);
        std::string label(export_label);
        p.exported.resize(32);
        std::size_t length = p.exported.size();
        if (bzrtp_exportKey(p.context, label.data(), label.size(), p.exported.data(), &length) != 0) p.exported.clear();
        else p.exported.resize(length);
        return 0;
    }
    static int started(void* self, const bzrtpSrtpSecrets_t* s, std::int32_t) {
        auto& p = *static_cast<BzrtpPeer*>(self);
        copy_secrets(p, s);
        p.secure = true;
        return 0;
    }
};

/// Runs tapsec and bzrtp against each other on simulated time (10 ms steps).
struct Call {
    ZrtpEngine ours;
    BzrtpPeer bz;
    std::uint64_t ms = 1000;
    std::mt19937 rng{11};
    double loss = 0.0;
    const Endpoint peer_ep = *Endpoint::parse("127.0.0.1:7078");

    explicit Call(Config c, sqlite3* zid_cache = nullptr) : ours(Role::client, c), bz(zid_cache) {}

    Instant now() const { return Instant{} + std::chrono::milliseconds(ms); }
    bool lost() { return loss > 0 && std::uniform_real_distribution<double>(0, 1)(rng) < loss; }

    bool run(std::uint64_t limit_ms = 30000) {
        REQUIRE_FALSE(ours.start(now()));
        const std::uint64_t end = ms + limit_ms;
        while (ms < end && !(ours.is_established() && bz.secure)) {
            bzrtp_iterate(bz.context, BzrtpPeer::ssrc, ms);
            if (auto t = ours.next_timeout(); t && *t <= now()) (void)ours.on_timeout(now());
            for (int round = 0; round < 4; ++round) {
                while (auto t = ours.poll_transmit())
                    if (!lost()) bzrtp_processMessage(bz.context, BzrtpPeer::ssrc, t->data.data(), static_cast<std::uint16_t>(t->data.size()));
                while (!bz.outgoing.empty()) {
                    Bytes d = std::move(bz.outgoing.front());
                    bz.outgoing.pop_front();
                    if (!lost()) (void)ours.receive(d, peer_ep, now());
                }
            }
            if (ours.is_closed()) break;
            ms += 10;
        }
        return ours.is_established() && bz.secure;
    }
};

struct LibSrtp {
    srtp_t session = nullptr;
    LibSrtp(const Bytes& key, const Bytes& salt, bool sha1_32, srtp_ssrc_type_t direction) {
        // Once per process; another test in the same process may have done it already
        // (a second srtp_init reports failure), so srtp_create below is the real check.
        static const srtp_err_status_t initialised = srtp_init();
        (void)initialised;
        srtp_policy_t policy;
        std::memset(&policy, 0, sizeof policy);
        if (sha1_32) srtp_crypto_policy_set_aes_cm_128_hmac_sha1_32(&policy.rtp);
        else srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&policy.rtp);
        srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&policy.rtcp);
        policy.ssrc.type = direction;
        Bytes material = key;
        material.insert(material.end(), salt.begin(), salt.end());
        policy.key = material.data();
        policy.window_size = 1024;
        REQUIRE(srtp_create(&session, &policy) == srtp_err_status_ok);
        secure_zero(material.data(), material.size());
    }
    ~LibSrtp() { srtp_dealloc(session); }
};

/// `bzrtp_exports`: bzrtp offers its export callback only when it updates its cache,
/// which it delays after a cache mismatch until the users confirm the SAS.
void check_agreement(Call& call, bool bzrtp_exports = true) {
    ZrtpEngine& ours = call.ours;
    BzrtpPeer& bz = call.bz;
    const std::size_t drops_before = ours.dropped();
    REQUIRE(ours.sas());
    CHECK(ours.sas()->rendering == bz.sas);
    CHECK(bz.key_agreement == ZRTP_KEYAGREEMENT_X255);
    const auto keys = ours.exported_keys();
    REQUIRE(keys);
    const bool initiator = ours.zrtp_role() == ZrtpRole::initiator;
    const srtp::MasterKey& our_send = initiator ? keys->client_write : keys->server_write;
    const srtp::MasterKey& our_receive = initiator ? keys->server_write : keys->client_write;
    CHECK(Bytes(our_send.key.begin(), our_send.key.end()) == bz.peer_key);
    CHECK(Bytes(our_send.salt.begin(), our_send.salt.end()) == bz.peer_salt);
    CHECK(Bytes(our_receive.key.begin(), our_receive.key.end()) == bz.self_key);
    CHECK(Bytes(our_receive.salt.begin(), our_receive.salt.end()) == bz.self_salt);
    const bool sha1_32 = bz.auth_tag == ZRTP_AUTHTAG_HS32;
    CHECK(keys->profile == (sha1_32 ? srtp::Profile::aes_cm_128_hmac_sha1_32 : srtp::Profile::aes_cm_128_hmac_sha1_80));

    // tapsec's SrtpRecord protects, libsrtp2 with bzrtp's receive keys unprotects.
    LibSrtp receiver(bz.peer_key, bz.peer_salt, sha1_32, ssrc_any_inbound);
    for (std::uint16_t seq = 100; seq < 110; ++seq) {
        const Bytes rtp = rtp_packet(0x5eed, seq, "tapsec to bzrtp/libsrtp2");
        REQUIRE_FALSE(ours.send(rtp, call.now()));
        auto out = ours.poll_transmit();
        REQUIRE(out);
        int length = static_cast<int>(out->data.size());
        REQUIRE(srtp_unprotect(receiver.session, out->data.data(), &length) == srtp_err_status_ok);
        CHECK(Bytes(out->data.begin(), out->data.begin() + length) == rtp);
    }
    // libsrtp2 with bzrtp's send keys protects, tapsec unprotects.
    LibSrtp sender(bz.self_key, bz.self_salt, sha1_32, ssrc_any_outbound);
    for (std::uint16_t seq = 7; seq < 17; ++seq) {
        const Bytes rtp = rtp_packet(0xb2, seq, "bzrtp/libsrtp2 to tapsec");
        Bytes buffer = rtp;
        buffer.resize(rtp.size() + SRTP_MAX_TRAILER_LEN);
        int length = static_cast<int>(rtp.size());
        REQUIRE(srtp_protect(sender.session, buffer.data(), &length) == srtp_err_status_ok);
        buffer.resize(static_cast<std::size_t>(length));
        REQUIRE_FALSE(ours.receive(buffer, call.peer_ep, call.now()));
        auto in = ours.poll_application_data();
        REQUIRE(in);
        CHECK(*in == rtp);
    }
    CHECK(ours.dropped() == drops_before);

    // Exported keys (RFC 6189 4.5.2): bzrtp_exportKey and ours agree.
    if (!bzrtp_exports) {
        CHECK(bz.exported.empty());
        return;
    }
    REQUIRE(bz.exported.size() == 32);
    auto mine = ours.export_keying_material(BzrtpPeer::export_label, {}, bz.exported.size());
    REQUIRE(mine);
    CHECK(Bytes(mine->begin(), mine->end()) == bz.exported);
}


TEST_CASE("ZRTP interop: tapsec initiator, bzrtp responder") {
    for (AlgorithmCode tag : {algo::hs80, algo::hs32}) {
        CAPTURE(algorithm_name(tag));
        Config c;
        c.commit = true;
        c.auth_tags = {tag};
        Call call(c);
        REQUIRE(call.run());
        CHECK(call.ours.zrtp_role() == ZrtpRole::initiator);
        CHECK(call.bz.auth_tag == (tag == algo::hs32 ? ZRTP_AUTHTAG_HS32 : ZRTP_AUTHTAG_HS80));
        check_agreement(call);
    }
}

TEST_CASE("ZRTP interop: bzrtp initiator, tapsec responder") {
    Config c;
    c.commit = false;
    Call call(c);
    REQUIRE(call.run());
    CHECK(call.ours.zrtp_role() == ZrtpRole::responder);
    check_agreement(call);
}

TEST_CASE("ZRTP interop: 20% loss on the link, recovered by both sides' retransmissions") {
    for (int seed = 1; seed <= 6; ++seed) {
        CAPTURE(seed);
        Config c;
        c.commit = true;
        Call call(c);
        call.rng.seed(static_cast<unsigned>(seed));
        call.loss = 0.2;
        REQUIRE(call.run(60000));
        CHECK(call.ours.sas()->rendering == call.bz.sas);
        call.loss = 0;
        check_agreement(call);
    }
}

TEST_CASE("ZRTP interop: later calls reuse retained secrets (bzrtp's sqlite cache, tapsec's SessionCache)") {
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open(":memory:", &db) == SQLITE_OK);
    const int init = bzrtp_initCache_lock(db, nullptr);
    REQUIRE((init == 0 || init == BZRTP_CACHE_SETUP || init == BZRTP_CACHE_UPDATE));
    auto cache = std::make_shared<InMemorySessionCache>();
    Config c;
    c.session_cache = cache;
    c.zid = Zid{0x74, 0x61, 0x70, 0x73, 0x65, 0x63, 1, 2, 3, 4, 5, 6};
    std::optional<Zid> bzrtp_zid;
    for (int n = 0; n < 3; ++n) {
        CAPTURE(n);
        c.commit = n != 1;  // tapsec initiator, then responder, then initiator again
        Call call(c, db);
        REQUIRE(call.run());
        CHECK(call.ours.zrtp_role() == (n == 1 ? ZrtpRole::responder : ZrtpRole::initiator));
        CHECK(call.ours.retained_secret_matched() == (n > 0));  // s1 = rs1 on both sides, or the keys would differ
        CHECK_FALSE(call.ours.cache_mismatch());
        CHECK_FALSE(call.bz.cache_mismatch);
        check_agreement(call);
        if (bzrtp_zid) CHECK(*call.ours.peer_zid() == *bzrtp_zid);  // bzrtp keeps its ZID in its cache
        bzrtp_zid = call.ours.peer_zid();
    }
    // tapsec forgets the peer: bzrtp still has rs1, finds no match and reports the mismatch.
    cache->remove(retained_cache_key(*c.zid, *bzrtp_zid));
    {
        Call call(c, db);
        REQUIRE(call.run());
        CHECK_FALSE(call.ours.retained_secret_matched());
        CHECK(call.bz.cache_mismatch);
        check_agreement(call, false);
    }
    sqlite3_close(db);
}

#endif

}  // namespace zrtp_bzrtp_test
