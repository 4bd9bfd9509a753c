// ZRTP (RFC 6189) against itself: wire format, KDF checked against OpenSSL's HMAC,
// full exchanges for every key agreement and auth tag, Commit contention, loss with
// T1/T2 retransmission, and Secure<ZrtpHandshake, SrtpRecord, MemoryDatagram> carrying
// RTP both ways.
#include "support/providers.hpp"

#include <future>
#include <random>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <tapsec/crypto/openssl.hpp>
#include <tapsec/dtls_srtp/dtls_srtp.hpp>

#include "unit/zrtp_pair.hpp"

using namespace tapsec;
using namespace tapsec::zrtp;
using tapsec::test::rtp_packet;
using tapsec::test::ZrtpPair;

namespace zrtp_engine_test {

Bytes openssl_hmac_sha256(ByteView key, ByteView data) {
    Bytes out(32);
    unsigned len = 0;
    HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), data.data(), data.size(), out.data(), &len);
    return out;
}

/// The exchange's keys as both sides must see them: the initiator's view.
void check_same_keys(const test::ZrtpEngine& x, const test::ZrtpEngine& y) {
    REQUIRE(x.sas());
    REQUIRE(y.sas());
    CHECK(x.sas()->rendering == y.sas()->rendering);
    CHECK(x.sas()->value == y.sas()->value);
    CHECK(x.sas()->rendering.size() == 4);
    auto kx = x.exported_keys(), ky = y.exported_keys();
    REQUIRE(kx);
    REQUIRE(ky);
    CHECK(kx->profile == ky->profile);
    CHECK(kx->client_write.key == ky->client_write.key);
    CHECK(kx->client_write.salt == ky->client_write.salt);
    CHECK(kx->server_write.key == ky->server_write.key);
    CHECK(kx->server_write.salt == ky->server_write.salt);
    CHECK(kx->client_write.key != kx->server_write.key);
    CHECK(kx->client_write.salt.size() == 14);
}

/// RTP both ways through the engines' SRTP.
void check_media(ZrtpPair& p) {
    REQUIRE_FALSE(p.a.send(rtp_packet(0x1111, 1, "from a"), p.now));
    REQUIRE_FALSE(p.b.send(rtp_packet(0x2222, 7, "from b"), p.now));
    p.pump();
    auto at_b = p.b.poll_application_data();
    auto at_a = p.a.poll_plaintext();  // the view form
    REQUIRE(at_b);
    REQUIRE(at_a);
    CHECK(*at_b == rtp_packet(0x1111, 1, "from a"));
    CHECK(Bytes(at_a->begin(), at_a->end()) == rtp_packet(0x2222, 7, "from b"));
    CHECK_FALSE(p.a.poll_plaintext());
    // The caller-buffer form of poll_transmit writes the SRTP datagram into our buffer.
    REQUIRE_FALSE(p.a.send(rtp_packet(0x1111, 2, "caller buffer"), p.now));
    Bytes buffer(max_transmit_size);
    auto info = p.a.poll_transmit(MutableByteView(buffer));
    REQUIRE(info);
    REQUIRE_FALSE(p.b.receive(ByteView(buffer).first(info->size), p.a_ep, p.now));
    auto again = p.b.poll_application_data();
    REQUIRE(again);
    CHECK(*again == rtp_packet(0x1111, 2, "caller buffer"));
}


TEST_CASE("zrtp: CRC-32C and packet framing") {
    CHECK(crc32c(as_bytes("123456789")) == 0xe3069283u);
    const Bytes message = encode_ack(MessageType::hello_ack);
    const Bytes packet = frame_packet(0x1234, 0xdeadbeef, message);
    REQUIRE(packet.size() == 12 + 12 + 4);
    CHECK(packet[0] == 0x10);
    CHECK(packet[1] == 0x00);
    CHECK(looks_like_zrtp(packet));
    auto parsed = parse_packet(packet);
    REQUIRE(parsed);
    CHECK(parsed->sequence == 0x1234);
    CHECK(parsed->ssrc == 0xdeadbeefu);
    CHECK(parsed->type == MessageType::hello_ack);
    CHECK(Bytes(parsed->message.begin(), parsed->message.end()) == message);
    // The trailer is the CRC of everything before it, least significant octet first.
    const std::uint32_t crc = crc32c(ByteView(packet).first(packet.size() - 4));
    CHECK(packet[packet.size() - 4] == static_cast<std::uint8_t>(crc));
    CHECK(packet[packet.size() - 1] == static_cast<std::uint8_t>(crc >> 24));
    CHECK_FALSE(looks_like_zrtp(rtp_packet(1, 1, "x")));
}

TEST_CASE("zrtp: Hello round trip keeps every field") {
    Hello h;
    h.client_id.fill('c');
    h.h3.fill(3);
    h.zid.fill(9);
    h.passive = true;
    h.hashes.push(algo::s256);
    h.ciphers.push(algo::aes1);
    h.auth_tags.push(algo::hs32);
    h.auth_tags.push(algo::hs80);
    h.key_agreements.push(algo::x255);
    h.sas_types.push(algo::b32);
    h.mac.fill(0xaa);
    const Bytes m = encode_hello(h);
    CHECK(m.size() == hello_fixed_size + 6 * 4);
    auto back = parse_hello(m);
    REQUIRE(back);
    CHECK(back->h3 == h.h3);
    CHECK(back->zid == h.zid);
    CHECK(back->passive);
    CHECK_FALSE(back->mitm);
    CHECK(back->auth_tags == h.auth_tags);
    CHECK(back->key_agreements.contains(algo::x255));
    CHECK(back->mac == h.mac);
    CHECK(algorithm_name(algo::b32) == "B32 ");
}

TEST_CASE_TEMPLATE("zrtp: KDF is HMAC(KI, 1 || Label || 0 || Context || L), checked with OpenSSL", Crypto, TAPSEC_TEST_PROVIDERS) {
    const Bytes key(32, 0x42), context = from_hex("000102030405060708090a0b0c0d0e0f101112131415161718191a1b");
    const auto ours = kdf<Crypto>(key, "Initiator SRTP master salt", context, 14);
    Bytes input = {0, 0, 0, 1};
    const auto label = as_bytes("Initiator SRTP master salt");
    input.insert(input.end(), label.begin(), label.end());
    input.push_back(0);
    input.insert(input.end(), context.begin(), context.end());
    for (std::uint8_t b : {0, 0, 0, 112}) input.push_back(b);
    const Bytes reference = openssl_hmac_sha256(key, input);
    REQUIRE(ours.size() == 14);
    CHECK(Bytes(ours.begin(), ours.end()) == Bytes(reference.begin(), reference.begin() + 14));
    // B32 renders the leftmost 20 bits with the z-base-32 alphabet.
    CHECK(render_sas_b32(0x00000000u) == "yyyy");
    CHECK(render_sas_b32(0xffffffffu) == "9999");
    CHECK(render_sas_b32(0x08000000u) == "byyy");
}

TEST_CASE_TEMPLATE("zrtp: AES-CFB built on the provider's block cipher matches OpenSSL's AES-128-CFB128", Crypto,
                   TAPSEC_TEST_PROVIDERS) {
    const Bytes key(16, 0x11), iv(16, 0x22);
    Bytes data(40);
    for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<std::uint8_t>(i);
    Bytes ours = data;
    REQUIRE(aes_cfb<Crypto>(key, iv, ours, true));
    Bytes reference(data.size());
    int len = 0;
    EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
    EVP_EncryptInit_ex(ctx, EVP_aes_128_cfb128(), nullptr, key.data(), iv.data());
    EVP_EncryptUpdate(ctx, reference.data(), &len, data.data(), static_cast<int>(data.size()));
    EVP_CIPHER_CTX_free(ctx);
    CHECK(ours == reference);
    REQUIRE(aes_cfb<Crypto>(key, iv, ours, false));
    CHECK(ours == data);
}

TEST_CASE("zrtp: full exchange for each key agreement and SRTP auth tag") {
    for (AlgorithmCode ka : {algo::x255, algo::ec25}) {
        for (AlgorithmCode tag : {algo::hs80, algo::hs32}) {
            CAPTURE(algorithm_name(ka));
            CAPTURE(algorithm_name(tag));
            Config ca, cb;
            ca.key_agreements = cb.key_agreements = {ka};
            ca.auth_tags = cb.auth_tags = {tag};
            std::optional<Sas> shown;
            cb.on_sas = [&](const Sas& s) { shown = s; };
            ZrtpPair p(ca, cb);
            p.start();
            REQUIRE(p.run());
            CHECK(p.a.zrtp_role() == ZrtpRole::initiator);
            CHECK(p.b.zrtp_role() == ZrtpRole::responder);
            CHECK(p.a.suite().key_agreement == ka);
            CHECK(p.b.suite().auth_tag == tag);
            check_same_keys(p.a, p.b);
            REQUIRE(shown);
            CHECK(shown->rendering == p.a.sas()->rendering);
            CHECK(p.a.exported_keys()->profile == srtp_profile_for(tag));
            check_media(p);
            CHECK(p.a.dropped() == 0);
            CHECK(p.b.dropped() == 0);
            CHECK(p.a.session_info().group == algorithm_name(ka));
        }
    }
}

TEST_CASE("zrtp: negotiation prefers the faster common key agreement and honours groups names") {
    Config ca, cb;
    ca.key_agreements = {algo::ec25, algo::x255};
    cb.groups = {"x25519", "secp256r1"};
    ZrtpPair p(ca, cb);
    p.start();
    REQUIRE(p.run());
    CHECK(p.a.suite().key_agreement == algo::x255);  // first choices differ: the faster one
    Config bad;
    bad.groups = {"ffdhe2048"};
    test::ZrtpEngine refused(Role::client, bad);
    CHECK(refused.start({}) == make_error_code(Error::invalid_configuration));
    Config with_cert;
    with_cert.identity = Identity("-----BEGIN CERTIFICATE-----", "key");  // the SAS authenticates, not certificates
    test::ZrtpEngine refused_cert(Role::client, with_cert);
    CHECK(refused_cert.start({}) == make_error_code(Error::invalid_configuration));
}

TEST_CASE("zrtp: SAS verification, exported keys and the hash chain are per exchange") {
    ZrtpPair p;
    p.start();
    REQUIRE(p.run());
    CHECK_FALSE(p.a.is_sas_verified());
    CHECK_FALSE(p.a.session_info().peer.authenticated);
    p.a.sas_verified();
    CHECK(p.a.is_sas_verified());
    CHECK(p.a.session_info().peer.authenticated);
    CHECK(p.a.session_info().peer.subject == "ZID " + to_hex(p.b.zid()));
    auto ea = p.a.export_keying_material("test label", {}, 32);
    auto eb = p.b.export_keying_material("test label", {}, 32);
    REQUIRE(ea);
    REQUIRE(eb);
    CHECK(*ea == *eb);
    CHECK_FALSE(p.a.export_keying_material("x", as_bytes("ctx"), 16));
    ZrtpPair q;
    q.start();
    REQUIRE(q.run());
    CHECK(q.a.exported_keys()->client_write.key != p.a.exported_keys()->client_write.key);
}

TEST_CASE("zrtp: Commit contention, the larger hvi becomes the initiator") {
    for (int trial = 0; trial < 4; ++trial) {
        Config ca, cb;
        ca.commit = cb.commit = true;
        ZrtpPair p(ca, cb);
        int commits = 0;
        p.hook = [&](bool, Bytes& d) {
            auto packet = parse_packet(d);
            if (packet && packet->type == MessageType::commit) ++commits;
            return true;
        };
        p.start();
        REQUIRE(p.run());
        CHECK(commits >= 2);  // both committed
        CHECK(p.a.zrtp_role() != p.b.zrtp_role());
        check_same_keys(p.a, p.b);
        check_media(p);
    }
}

TEST_CASE("zrtp: lost packets are recovered by T1/T2 retransmission") {
    for (std::uint64_t seed : {1u, 2u, 3u, 4u, 5u, 6u}) {
        CAPTURE(seed);
        std::mt19937_64 rng(seed);
        ZrtpPair p;
        p.hook = [&](bool, Bytes&) { return std::uniform_real_distribution<double>(0, 1)(rng) >= 0.3; };
        p.start();
        REQUIRE(p.run(400));
        check_same_keys(p.a, p.b);
        CHECK(p.a.statistics().retransmissions + p.b.statistics().retransmissions > 0);
    }
}

TEST_CASE("zrtp: a silent peer exhausts T1 and the engine reports a timeout") {
    ZrtpPair p;
    p.hook = [](bool, Bytes&) { return false; };
    p.start();
    CHECK_FALSE(p.run(100));
    CHECK(p.a.failure() == make_error_code(Error::handshake_timeout));
    // 20 retransmissions on T1, doubling from 50 ms to the 200 ms cap.
    CHECK(p.a.statistics().retransmissions == 20);
    CHECK(p.now - Instant{} >= std::chrono::milliseconds(50 + 100 + 200 * 18));
}

TEST_CASE("zrtp: Secure<ZrtpHandshake, SrtpRecord, MemoryDatagram> runs ZRTP then RTP both ways") {
    using Zrtp = Secure<ZrtpHandshake, SrtpRecord, MemoryDatagram>;
    static_assert(std::is_same_v<ZrtpHandshake::exported_keys, SrtpRecord::imported_keys>);
    static_assert(std::is_same_v<ZrtpHandshake::exported_keys, DtlsSrtpHandshake::exported_keys>);
    static_assert(Zrtp::features.availability<feature::MA>() == Availability::supported);
    static_assert(Zrtp::features.availability<feature::AN>() == Availability::supported);
    static_assert(Zrtp::features.availability<feature::forward_secrecy>() == Availability::mandatory);
    static_assert(Zrtp::features.has<feature::replay_protection>());
    static_assert(Composable<ZrtpHandshake, SrtpRecord, Udp>);
    static_assert(!Composable<ZrtpHandshake, SrtpRecord, MemoryStream>);
    static_assert(SansIoEngine<Zrtp::Engine> && CallerBufferEngine<Zrtp::Engine> && ViewReceiveEngine<Zrtp::Engine>);

    auto [ta, tb] = MemoryDatagram::pair({.loss = 0.1, .seed = 7});
    Config ca, cb;
    ca.handshake_timeout = cb.handshake_timeout = std::chrono::seconds(20);
    Zrtp alice(Role::client, ca, std::move(ta));
    Zrtp bob(Role::server, cb, std::move(tb));
    auto bob_done = std::async(std::launch::async, [&] {
        if (auto ec = bob.handshake()) return ec;
        auto got = bob.receive_message(std::chrono::seconds(20));
        if (!got) return got.error();
        const Bytes expected = rtp_packet(0xa11ce, 1, "hello bob");  // whichever packet survived the loss
        if (got->size() != expected.size() || !std::equal(expected.begin() + 12, expected.end(), got->begin() + 12))
            return make_error_code(Errc::decode_error);
        // Several packets: the link drops some.
        for (std::uint16_t i = 0; i < 40; ++i)
            if (auto ec = bob.send(rtp_packet(0xb0b, i, "hello alice"))) return ec;
        return std::error_code{};
    });
    REQUIRE_FALSE(alice.handshake());
    std::error_code sent;
    for (std::uint16_t i = 1; i < 40 && !sent; ++i) sent = alice.send(rtp_packet(0xa11ce, i, "hello bob"));
    REQUIRE_FALSE(sent);
    auto got = alice.receive_message(std::chrono::seconds(20));
    REQUIRE_FALSE(bob_done.get());
    REQUIRE(got);
    Bytes expected = rtp_packet(0xb0b, 0, "hello alice");
    CHECK(Bytes(got->begin() + 12, got->end()) == Bytes(expected.begin() + 12, expected.end()));
    CHECK(alice.engine().sas()->rendering == bob.engine().sas()->rendering);
    CHECK(alice.info().protocol == "ZRTP + SRTP SRTP_AES128_CM_HMAC_SHA1_80");
}

TEST_CASE("zrtp: retained secrets carry key continuity from one exchange to the next") {
    auto cache_a = std::make_shared<InMemorySessionCache>(), cache_b = std::make_shared<InMemorySessionCache>();
    Config ca, cb;
    ca.session_cache = cache_a;
    cb.session_cache = cache_b;
    ca.zid = Zid{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
    cb.zid = Zid{12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1};
    std::vector<std::uint32_t> sas_values;
    auto call = [&](bool verify) {
        ZrtpPair p(ca, cb);
        p.start();
        REQUIRE(p.run());
        check_same_keys(p.a, p.b);
        sas_values.push_back(p.a.sas()->value);
        if (verify) {
            p.a.sas_verified();
            p.b.sas_verified();
        }
        return std::array<bool, 6>{p.a.retained_secret_matched(), p.b.retained_secret_matched(), p.a.cache_mismatch(),
                                   p.b.cache_mismatch(), p.a.sas_previously_verified(), p.b.sas_previously_verified()};
    };
    // First call: nothing cached yet.
    CHECK(call(false) == std::array<bool, 6>{false, false, false, false, false, false});
    CHECK(cache_a->size() == 1);
    CHECK(cache_b->size() == 1);
    // Second call: rs1 matches on both sides; the users verify the SAS this time.
    CHECK(call(true) == std::array<bool, 6>{true, true, false, false, false, false});
    // Third call: both Confirms carry V, so the SAS was verified before.
    CHECK(call(false) == std::array<bool, 6>{true, true, false, false, true, true});
    // B loses its cache: A notices the mismatch (and V is gone), the exchange still completes.
    cache_b->remove(retained_cache_key(*cb.zid, *ca.zid));
    CHECK(call(false) == std::array<bool, 6>{false, false, true, false, false, false});
    CHECK(sas_values.size() == 4);
    // A cache without a stable ZID cannot give continuity: refused.
    Config no_zid;
    no_zid.session_cache = cache_a;
    test::ZrtpEngine refused(Role::client, no_zid);
    CHECK(refused.start({}) == make_error_code(Error::invalid_configuration));
}

TEST_CASE("zrtp: the OpenSSL 3 provider drops in, and interoperates with the Botan 2 one") {
    for (AlgorithmCode ka : {algo::x255, algo::ec25}) {
        CAPTURE(algorithm_name(ka));
        Config config;
        config.key_agreements = {ka};
        zrtp::Engine<SrtpRecord, crypto::OpenSsl3> a(Role::client, config);
        test::ZrtpEngine b(Role::server, config);
        const Endpoint ep = *Endpoint::parse("127.0.0.1:1");
        REQUIRE_FALSE(a.start({}));
        REQUIRE_FALSE(b.start({}));
        for (int i = 0; i < 10; ++i) {
            while (auto t = a.poll_transmit()) (void)b.receive(t->data, ep, {});
            while (auto t = b.poll_transmit()) (void)a.receive(t->data, ep, {});
        }
        REQUIRE(a.is_established());
        REQUIRE(b.is_established());
        CHECK(a.sas()->rendering == b.sas()->rendering);
        CHECK(a.exported_keys()->server_write.key == b.exported_keys()->server_write.key);
        REQUIRE_FALSE(a.send(rtp_packet(9, 9, "openssl to botan"), {}));
        auto t = a.poll_transmit();
        REQUIRE(t);
        REQUIRE_FALSE(b.receive(t->data, ep, {}));
        auto got = b.poll_application_data();
        REQUIRE(got);
        CHECK(*got == rtp_packet(9, 9, "openssl to botan"));
    }
}

TEST_CASE("zrtp: Secure<ZrtpHandshake, SrtpRecord, Udp> over loopback sockets, ZRTP and SRTP on one port") {
    using Zrtp = Secure<ZrtpHandshake, SrtpRecord, Udp>;
    auto ua = Udp::bind("127.0.0.1", 0);
    auto ub = Udp::bind("127.0.0.1", 0);
    REQUIRE(ua.ok());
    REQUIRE(ub.ok());
    ua->set_peer_endpoint(*Endpoint::parse("127.0.0.1", ub->local_port()));
    ub->set_peer_endpoint(*Endpoint::parse("127.0.0.1", ua->local_port()));
    Config ca, cb;
    ca.handshake_timeout = cb.handshake_timeout = std::chrono::seconds(10);
    std::optional<Sas> bob_sas;
    cb.on_sas = [&](const Sas& s) { bob_sas = s; };
    Zrtp alice(Role::client, ca, std::move(*ua));
    Zrtp bob(Role::server, cb, std::move(*ub));
    auto bob_done = std::async(std::launch::async, [&]() -> Result<Bytes> {
        if (auto ec = bob.handshake()) return ec;
        auto got = bob.receive_message(std::chrono::seconds(10));
        if (!got) return got;
        if (auto ec = bob.send(rtp_packet(0xb0b, 1, "over UDP"))) return ec;
        return got;
    });
    REQUIRE_FALSE(alice.handshake());
    REQUIRE_FALSE(alice.send(rtp_packet(0xa11ce, 1, "over UDP")));
    auto from_bob = alice.receive_message(std::chrono::seconds(10));
    auto at_bob = bob_done.get();
    REQUIRE(at_bob);
    REQUIRE(from_bob);
    CHECK(*at_bob == rtp_packet(0xa11ce, 1, "over UDP"));
    CHECK(*from_bob == rtp_packet(0xb0b, 1, "over UDP"));
    REQUIRE(bob_sas);
    CHECK(alice.engine().sas()->rendering == bob_sas->rendering);
    CHECK(alice.engine().zrtp_role() == ZrtpRole::initiator);
}

}  // namespace zrtp_engine_test
