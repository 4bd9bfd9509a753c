// The TLS 1.3 key schedule beyond the RFC 8448 traces: typed stages (compile-time),
// HKDF-Expand-Label against RFC 9001 Appendix A.1 (the same function, QUIC labels),
// KeyUpdate and the exporter (RFC 8446 7.2, 7.5) against an independent construction
// from HMAC with hand-written HkdfLabel bytes, Finished comparison, the transcript.
#include <doctest/doctest.h>

#include <type_traits>

#include <tapsec/crypto/botan.hpp>
#include <tapsec/tls13/key_schedule.hpp>

using namespace tapsec;
using namespace tapsec::tls13;

namespace tls13_record_key_schedule_test {

using Crypto = crypto::DefaultProvider;

// ---- typed stages: what each stage can derive is decided at compile time -----------

template <class S>
concept DerivesHandshakeTraffic = requires(const S& s, ByteView th) { s.client_handshake_traffic_secret(th); };
template <class S>
concept DerivesApplicationTraffic = requires(const S& s, ByteView th) { s.client_application_traffic_secret(th); };
template <class S>
concept DerivesEarlyTraffic = requires(const S& s, ByteView th) { s.client_early_traffic_secret(th); };
template <class S>
concept DerivesResumption = requires(const S& s, ByteView th) { s.resumption_master_secret(th); };
template <class S>
concept AdvancesFromLvalue = requires(S& s, ByteView ikm) { s.into_handshake(ikm); } || requires(S& s) { s.into_master(); };

static_assert(DerivesEarlyTraffic<EarlySecret<>> && !DerivesEarlyTraffic<HandshakeSecret<>> && !DerivesEarlyTraffic<MasterSecret<>>);
static_assert(!DerivesHandshakeTraffic<EarlySecret<>> && DerivesHandshakeTraffic<HandshakeSecret<>> &&
              !DerivesHandshakeTraffic<MasterSecret<>>);
static_assert(!DerivesApplicationTraffic<EarlySecret<>> && !DerivesApplicationTraffic<HandshakeSecret<>> &&
              DerivesApplicationTraffic<MasterSecret<>>);
static_assert(!DerivesResumption<EarlySecret<>> && !DerivesResumption<HandshakeSecret<>> && DerivesResumption<MasterSecret<>>);
// A stage is consumed by moving on: `early.into_handshake(x)` on an lvalue does not compile.
static_assert(!AdvancesFromLvalue<EarlySecret<>> && !AdvancesFromLvalue<HandshakeSecret<>>);
// Later stages cannot be forged from raw bytes.
static_assert(!std::is_constructible_v<HandshakeSecret<>, const CipherSuite&, SecretBytes>);
static_assert(!std::is_constructible_v<MasterSecret<>, const CipherSuite&, SecretBytes>);

/// HKDF-Expand for outputs up to one hash block, from HMAC alone: T(1) = HMAC(PRK, info || 0x01).
SecretBytes expand_one_block(crypto::HashAlgorithm h, ByteView prk, const Bytes& info, std::size_t length) {
    Bytes input = info;
    input.push_back(1);
    auto t1 = Crypto::hmac(h, prk, input);
    t1.resize(length);
    return t1;
}


TEST_CASE("tls13 key schedule: HKDF-Expand-Label matches RFC 9001 Appendix A.1") {
    const Bytes salt = from_hex("38762cf7f55934b34d179ae6a4c80cadccbb7f0a");
    const Bytes dcid = from_hex("8394c8f03e515708");
    const auto h = crypto::HashAlgorithm::sha256;
    const auto initial = Crypto::hkdf_extract(h, salt, dcid);
    CHECK(to_hex(initial) == "7db5df06e7a69e432496adedb00851923595221596ae2ae9fb8115c1e9ed0a44");
    const auto client = hkdf_expand_label<Crypto>(h, initial, "client in", {}, 32);
    CHECK(to_hex(client) == "c00cf151ca5be075ed0ebfb5c80323c42d6b7db67881289af4008f1f6c357aea");
    CHECK(to_hex(hkdf_expand_label<Crypto>(h, client, "quic key", {}, 16)) == "1f369613dd76d5467730efcbe3b1a22d");
    CHECK(to_hex(hkdf_expand_label<Crypto>(h, client, "quic iv", {}, 12)) == "fa044b2f42a3fd3b46fb255c");
    CHECK(to_hex(hkdf_expand_label<Crypto>(h, client, "quic hp", {}, 16)) == "9f50449e04a0e810283a1e9933adedd2");
    const auto server = hkdf_expand_label<Crypto>(h, initial, "server in", {}, 32);
    CHECK(to_hex(server) == "3c199828fd139efd216c155ad844cc81fb82fa8d7446fa7d78be803acdda951b");
    CHECK(to_hex(hkdf_expand_label<Crypto>(h, server, "quic key", {}, 16)) == "cf3a5331653c364c88f0f379b6067e37");
    CHECK(to_hex(hkdf_expand_label<Crypto>(h, server, "quic iv", {}, 12)) == "0ac1493ca1905853b0bba03e");
}

TEST_CASE("tls13 key schedule: KeyUpdate next-generation secret (7.2) for every suite") {
    for (const CipherSuite* suite : all_cipher_suites) {
        CAPTURE(suite->name);
        TrafficSecret current{suite, SecretBytes(suite->hash_length, 0x5c)};
        const auto next = next_traffic_secret<Crypto>(current);
        // HkdfLabel: length, "tls13 traffic upd" (17 bytes), empty context.
        Bytes info{0x00, static_cast<std::uint8_t>(suite->hash_length), 17};
        append(info, as_bytes("tls13 traffic upd"));
        info.push_back(0);
        CHECK(to_hex(next.secret) == to_hex(expand_one_block(suite->hash, current.secret, info, suite->hash_length)));
        CHECK(next.suite == suite);
        CHECK(next.secret.size() == suite->hash_length);
        CHECK(to_hex(next_traffic_secret<Crypto>(next).secret) != to_hex(next.secret));
    }
}

TEST_CASE("tls13 key schedule: exporter (7.5)") {
    const auto& suite = TLS_AES_256_GCM_SHA384;
    const ExporterMasterSecret ems{&suite, SecretBytes(48, 0x17)};
    const Bytes context = from_hex("0102030405");
    const auto out = export_keying_material<Crypto>(ems, "EXPERIMENTAL test", context, 42);
    CHECK(out.size() == 42);
    // Independent construction: Derive-Secret(ems, label, "") then HKDF-Expand-Label(...,
    // "exporter", Hash(context), 42), with the HkdfLabel bytes written out by hand.
    Bytes derive_info{0x00, 48, static_cast<std::uint8_t>(6 + 17)};
    append(derive_info, as_bytes("tls13 EXPERIMENTAL test"));
    derive_info.push_back(48);
    append(derive_info, Crypto::hash(suite.hash, {}));
    const auto per_label = expand_one_block(suite.hash, ems.secret, derive_info, 48);
    Bytes export_info{0x00, 42, 14};
    append(export_info, as_bytes("tls13 exporter"));
    export_info.push_back(48);
    append(export_info, Crypto::hash(suite.hash, context));
    CHECK(to_hex(out) == to_hex(expand_one_block(suite.hash, per_label, export_info, 42)));
    // Labels, contexts and lengths all matter; an absent context is the empty one.
    CHECK(to_hex(export_keying_material<Crypto>(ems, "EXPERIMENTAL other", context, 42)) != to_hex(out));
    CHECK(to_hex(export_keying_material<Crypto>(ems, "EXPERIMENTAL test", {}, 42)) != to_hex(out));
    CHECK(to_hex(export_keying_material<Crypto>(ems, "EXPERIMENTAL test", context, 16)) != to_hex(ByteView(out).first(16)));
    CHECK(export_keying_material<Crypto>(ems, "EXPERIMENTAL test", context, 200).size() == 200);
}

TEST_CASE("tls13 key schedule: Finished verification is exact") {
    const auto& suite = TLS_AES_128_GCM_SHA256;
    const TrafficSecret base{&suite, SecretBytes(32, 0x21)};
    const Bytes th = Crypto::hash(suite.hash, as_bytes("transcript"));
    auto good = finished_verify_data<Crypto>(base, th);
    CHECK(verify_finished<Crypto>(base, th, good));
    for (std::size_t i : {std::size_t{0}, std::size_t{31}}) {
        Bytes bad(good.begin(), good.end());
        bad[i] ^= 0x80;
        CHECK_FALSE(verify_finished<Crypto>(base, th, bad));
    }
    CHECK_FALSE(verify_finished<Crypto>(base, th, ByteView(good).first(31)));
    CHECK_FALSE(verify_finished<Crypto>(base, Crypto::hash(suite.hash, as_bytes("other")), good));
}

TEST_CASE("tls13 key schedule: SHA-384 suite sizes and distinct secrets per label") {
    const auto& suite = TLS_AES_256_GCM_SHA384;
    auto early = EarlySecret<Crypto>::without_psk(suite);
    CHECK(early.secret().size() == 48);
    const Bytes th = Crypto::hash(suite.hash, as_bytes("hello"));
    auto hs = std::move(early).into_handshake(Bytes(32, 9));
    const auto c = hs.client_handshake_traffic_secret(th);
    const auto s = hs.server_handshake_traffic_secret(th);
    CHECK(c.secret.size() == 48);
    CHECK(to_hex(c.secret) != to_hex(s.secret));
    const auto keys = traffic_keys<Crypto>(c);
    CHECK(keys.key.size() == 32);
    CHECK(keys.iv.size() == 12);
    auto master = std::move(hs).into_master();
    CHECK(to_hex(master.client_application_traffic_secret(th).secret) != to_hex(master.server_application_traffic_secret(th).secret));
    CHECK(to_hex(master.exporter_master_secret(th).secret) != to_hex(master.resumption_master_secret(th).secret));
}

TEST_CASE("tls13 key schedule: psk_ke (no (EC)DHE) uses a zero input") {
    const auto& suite = TLS_AES_128_GCM_SHA256;
    const Bytes psk(32, 0x33);
    auto a = EarlySecret<Crypto>::with_psk(suite, psk);
    auto b = EarlySecret<Crypto>::with_psk(suite, psk);
    auto ha = std::move(a).into_handshake({});
    auto hb = std::move(b).into_handshake(Bytes(32, 0));
    CHECK(to_hex(ha.secret()) == to_hex(hb.secret()));
    CHECK(to_hex(EarlySecret<Crypto>::with_psk(suite, psk).binder_key(PskKind::external)) !=
          to_hex(EarlySecret<Crypto>::with_psk(suite, psk).binder_key(PskKind::resumption)));
}

TEST_CASE("tls13 transcript: buffering before the hash is known changes nothing") {
    const Bytes m1 = from_hex("0100000401020304"), m2 = from_hex("0200000199");
    Transcript<Crypto> late;
    late.add(m1);
    late.set_hash(crypto::HashAlgorithm::sha384);
    late.add(m2);
    Transcript<Crypto> early(crypto::HashAlgorithm::sha384);
    early.add(m1);
    early.add(m2);
    Bytes all = m1;
    append(all, m2);
    CHECK(to_hex(late.current_hash()) == to_hex(Crypto::hash(crypto::HashAlgorithm::sha384, all)));
    CHECK(to_hex(early.current_hash()) == to_hex(late.current_hash()));
    CHECK(to_hex(early.hash_with(m1)) != to_hex(early.current_hash()));
    CHECK(to_hex(early.current_hash()) == to_hex(late.current_hash()));  // hash_with left it alone
}

TEST_CASE("tls13 key schedule: a consumed stage holds no secret; misuse of the transcript is loud") {
    auto early = EarlySecret<Crypto>::without_psk(TLS_AES_128_GCM_SHA256);
    auto hs = std::move(early).into_handshake(Bytes(32, 1));
    CHECK(early.secret().empty());  // NOLINT(bugprone-use-after-move): checking the wipe
    CHECK(early.secret().capacity() == 0);
    auto ms = std::move(hs).into_master();
    CHECK(hs.secret().empty());  // NOLINT(bugprone-use-after-move)
    CHECK(ms.secret().size() == 32);
    Transcript<Crypto> t;
    t.add(Bytes{1, 0, 0, 0});
    CHECK_THROWS_AS(t.current_hash(), std::logic_error);
}

}  // namespace tls13_record_key_schedule_test
