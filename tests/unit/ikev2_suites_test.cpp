// The primitives behind IKEv2's and ESP's non-AEAD suites, through each provider:
// AES-CBC without padding (RFC 3602 section 4 cases, NIST SP 800-38A F.2.5), HMAC-SHA-2
// (RFC 4231 case 2) and its RFC 4868 truncations, and D-H group 14 (RFC 3526 MODP-2048)
// with the public-value checks 1 < y < p-1. The IKE SA's PRF: PRF_HMAC_SHA2_256/384/512
// against RFC 4868 2.7.1's test cases, negotiated (preference, rekeys keep it), and
// refused: a proposal with only a PRF we lack or do not allow is NO_PROPOSAL_CHOSEN.
#include "support/providers.hpp"

#include <botan/dl_group.h>

#include <functional>

#include <tapsec/ikev2.hpp>
#include <tapsec/tapsec.hpp>

#include "support/ikev2_ip.hpp"
#include "support/ikev2_pair.hpp"

using namespace tapsec;
using namespace tapsec::crypto;
using namespace std::chrono_literals;

namespace ikev2_suites_test {

template <class P>
Bytes cbc(bool encrypt, std::string_view key, std::string_view iv, Bytes data) {
    auto cipher = P::CbcCipher::create(from_hex(key));
    REQUIRE(cipher.ok());
    REQUIRE((encrypt ? cipher->encrypt(from_hex(iv), data) : cipher->decrypt(from_hex(iv), data)));
    return data;
}

/// RFC 3526 section 3's prime, from Botan's table (a third source beside both providers).
Bytes modp2048_prime_minus(unsigned k) {
    const Botan::BigInt p = Botan::DL_Group("modp/ietf/2048").get_p() - k;
    Bytes out(256);
    p.binary_encode(out.data(), out.size());
    return out;
}

using ikev2_test::ipv4;
using ikev2_test::udp_packet;
using ikev2_test::udp_payload;

/// An initiator and a responder joined in memory (PSK), each with its own configuration.
template <class P = Botan2>
struct Tunnel : ikev2_test::EnginePair<P> {
    ikev2::Config i_config = ikev2_test::psk_config("a@test", "b.test", "10.200.2.1/32", "10.200.1.0/24");
    ikev2::Config r_config = ikev2_test::psk_config("b.test", "a@test", "10.200.1.1/32", "10.200.2.0/24");

    explicit Tunnel(const std::function<void(ikev2::Config&, ikev2::Config&)>& adjust) {
        adjust(i_config, r_config);
        this->make(i_config, r_config);
    }
    /// A datagram's IKE message (after the non-ESP marker), parsed.
    static Result<ikev2::Message> message(const Bytes& d) { return ikev2::parse_message(ByteView(d).subspan(4)); }
    /// An on_wire hook that runs `edit` over each payload of the IKE_SA_INIT messages one
    /// side sends, and re-serializes them.
    static std::function<bool(Bytes&, bool)> edit_init(bool from_initiator, std::function<void(ikev2::RawPayload&)> edit) {
        return [=](Bytes& d, bool from_i) {
            auto m = message(d);
            if (from_i != from_initiator || !m || m->header.exchange != ikev2::ExchangeType::ike_sa_init) return true;
            for (auto& payload : m->payloads) edit(payload);
            Bytes rewritten(4, 0);  // the non-ESP marker
            append(rewritten, ikev2::serialize_message(m->header, m->payloads));
            d = rewritten;
            return true;
        };
    }
    /// edit_init's edit that writes `id` over every PRF transform of an SA payload.
    static std::function<void(ikev2::RawPayload&)> prf_becomes(std::uint16_t id) {
        return [id](ikev2::RawPayload& payload) {
            if (payload.type != ikev2::PayloadType::sa) return;
            auto sa = ikev2::decode_sa(payload.body);
            REQUIRE(sa);
            for (auto& proposal : sa->proposals)
                for (auto& transform : proposal.transforms)
                    if (transform.type == ikev2::TransformType::prf) transform.id = id;
            payload.body = ikev2::encode(*sa);
        };
    }
    /// The reason the responder refused something: receive()'s error or a dropped packet.
    std::error_code responder_refusal() {
        if (this->r_refusal) return this->r_refusal;
        while (auto ev = this->r->poll_event())
            if (ev->kind == EventKind::dropped_packet) return ev->reason;
        return {};
    }
};


TEST_CASE_TEMPLATE("ikev2 suites: AES-CBC without padding matches RFC 3602 and SP 800-38A", P, TAPSEC_TEST_PROVIDERS) {
    // RFC 3602 section 4, case #1 and case #2 (AES-128).
    const std::string single = "Single block msg";
    CHECK(to_hex(cbc<P>(true, "06a9214036b8a15b512e03d534120006", "3dafba429d9eb430b422da802c9fac41",
                        Bytes(single.begin(), single.end()))) == "e353779c1079aeb82708942dbe77181a");
    const Bytes two_blocks = from_hex("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");
    const std::string two_sealed = "d296cd94c2cccf8a3a863028b5e1dc0a7586602d253cfff91b8266bea6d61ab1";
    CHECK(to_hex(cbc<P>(true, "c286696d887c9aa0611bbb3e2025a45a", "562e17996d093d28ddb3ba695a2e6f58", two_blocks)) ==
          two_sealed);
    CHECK(cbc<P>(false, "c286696d887c9aa0611bbb3e2025a45a", "562e17996d093d28ddb3ba695a2e6f58", from_hex(two_sealed)) ==
          two_blocks);
    // NIST SP 800-38A F.2.5 (CBC-AES256.Encrypt), all four blocks, and back (F.2.6).
    const std::string key256 = "603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4";
    const Bytes plain = from_hex(
        "6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e5130c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710");
    const std::string sealed =
        "f58c4c04d6e5f1ba779eabfb5f7bfbd69cfc4e967edb808d679f777bc6702c7d39f23369a9d9bacfa530e26304231461b2eb05e2c39be9fcda6c19078c6a9d1b";
    CHECK(to_hex(cbc<P>(true, key256, "000102030405060708090a0b0c0d0e0f", plain)) == sealed);
    CHECK(cbc<P>(false, key256, "000102030405060708090a0b0c0d0e0f", from_hex(sealed)) == plain);
    // One keyed cipher, many messages: each starts from its own IV (no chaining across calls).
    auto cipher = P::CbcCipher::create(from_hex("06a9214036b8a15b512e03d534120006"));
    REQUIRE(cipher.ok());
    for (int i = 0; i < 2; ++i) {
        Bytes block(single.begin(), single.end());
        REQUIRE(cipher->encrypt(from_hex("3dafba429d9eb430b422da802c9fac41"), block));
        CHECK(to_hex(block) == "e353779c1079aeb82708942dbe77181a");
    }
    // No padding in the primitive: a partial block or a wrong IV is refused, not padded.
    Bytes partial(15, 0);
    CHECK_FALSE(cipher->encrypt(from_hex("3dafba429d9eb430b422da802c9fac41"), partial));
    Bytes whole(16, 0);
    CHECK_FALSE(cipher->decrypt(from_hex("3dafba42"), whole));
    CHECK_FALSE(P::CbcCipher::create(Bytes(20, 1)).ok());
}

TEST_CASE_TEMPLATE("ikev2 suites: HMAC-SHA-2 (RFC 4231) and the RFC 4868 truncated integrity", P, TAPSEC_TEST_PROVIDERS) {
    // RFC 4231 test case 2 for SHA-384 and SHA-512 (SHA-256 is in provider_test.cpp).
    CHECK(to_hex(P::hmac(HashAlgorithm::sha384, as_bytes("Jefe"), as_bytes("what do ya want for nothing?"))) ==
          "af45d2e376484031617f78d2b58a6b1b9c7ef464f5a01b47e42ec3736322445e8e2240ca5e69e2c78b3239ecfab21649");
    CHECK(to_hex(P::hmac(HashAlgorithm::sha512, as_bytes("Jefe"), as_bytes("what do ya want for nothing?"))) ==
          "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea2505549758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737");
    // RFC 4868 2.7.2, test case 1 of each AUTH_HMAC_SHA2_*: a key as long as the hash
    // output, the ICV its first half.
    struct Case {
        esp::Integrity integrity;
        const char* icv;
    };
    for (const Case& c : {Case{esp::Integrity::hmac_sha2_256_128, "198a607eb44bfbc69903a0f1cf2bbdc5"},
                          Case{esp::Integrity::hmac_sha2_384_192, "b6a8d5636f5c6a7224f9977dcf7ee6c7fb6d0c48cbdee973"},
                          Case{esp::Integrity::hmac_sha2_512_256,
                               "637edc6e01dce7e6742a99451aae82df23da3e92439e590e43e761b33e910fb8"}}) {
        CAPTURE(esp::name(c.integrity));
        const SecretBytes key(esp::integrity_key_length(c.integrity), 0x0b);
        const SecretBytes mac = P::hmac(esp::integrity_hash(c.integrity), key, as_bytes("Hi There"));
        CHECK(to_hex(ByteView(mac).first(esp::integrity_icv_length(c.integrity))) == c.icv);
    }
}

TEST_CASE_TEMPLATE("ikev2 suites: PRF_HMAC_SHA2_256/384/512 are RFC 4868 2.7.1's PRF test cases", P, TAPSEC_TEST_PROVIDERS) {
    // RFC 4868 2.7.1, test cases 1-6; each row: key, data, then the PRF output for
    // SHA-256, SHA-384 and SHA-512.
    const Bytes key_aa_131(131, 0xaa);
    struct Case {
        Bytes key, data;
        const char* sha256;
        const char* sha384;
        const char* sha512;
    };
    const std::string large_key = "Test Using Larger Than Block-Size Key - Hash Key First";
    const std::string large_both =
        "This is a test using a larger than block-size key and a larger than block-size data. The key needs to be hashed "
        "before being used by the HMAC algorithm.";
    const Case cases[] = {
        {Bytes(20, 0x0b), Bytes{'H', 'i', ' ', 'T', 'h', 'e', 'r', 'e'},
         "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
         "afd03944d84895626b0825f4ab46907f15f9dadbe4101ec682aa034c7cebc59cfaea9ea9076ede7f4af152e8b2fa9cb6",
         "87aa7cdea5ef619d4ff0b4241a1d6cb02379f4e2ce4ec2787ad0b30545e17cdedaa833b7d6b8a702038b274eaea3f4e4be9d914eeb61f1702e696c203a126854"},
        {Bytes{'J', 'e', 'f', 'e'}, [] { const std::string d = "what do ya want for nothing?"; return Bytes(d.begin(), d.end()); }(),
         "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
         "af45d2e376484031617f78d2b58a6b1b9c7ef464f5a01b47e42ec3736322445e8e2240ca5e69e2c78b3239ecfab21649",
         "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea2505549758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737"},
        {Bytes(20, 0xaa), Bytes(50, 0xdd), "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe",
         "88062608d3e6ad8a0aa2ace014c8a86f0aa635d947ac9febe83ef4e55966144b2a5ab39dc13814b94e3ab6e101a34f27",
         "fa73b0089d56a284efb0f0756c890be9b1b5dbdd8ee81a3655f83e33b2279d39bf3e848279a722c806b485a47e67c807b946a337bee8942674278859e13292fb"},
        {from_hex("0102030405060708090a0b0c0d0e0f10111213141516171819"), Bytes(50, 0xcd),
         "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b",
         "3e8a69b7783c25851933ab6290af6ca77a9981480850009cc5577c6e1f573b4e6801dd23c4a7d679ccf8a386c674cffb",
         "b0ba465637458c6990e5a8c5f61d4af7e576d97ff94b872de76f8050361ee3dba91ca5c11aa25eb4d679275cc5788063a5f19741120c4f2de2adebeb10a298dd"},
        {key_aa_131, Bytes(large_key.begin(), large_key.end()),
         "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
         "4ece084485813e9088d2c63a041bc5b44f9ef1012a2b588f3cd11f05033ac4c60c2ef6ab4030fe8296248df163f44952",
         "80b24263c7c1a3ebb71493c1dd7be8b49b46d1f41b4aeec1121b013783f8f3526b56d037e05f2598bd0fd2215d6a1e5295e64f73f63f0aec8b915a985d786598"},
        {key_aa_131, Bytes(large_both.begin(), large_both.end()),
         "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2",
         "6617178e941f020d351e2f254e8fd32c602420feb0b8fb9adccebb82461e99c5a678cc31e799176d3860e6110c46523e",
         "e37b6a775dc87dbaa4dfa9f96e5e3ffddebd71f8867289865df5a32d20cdc944b6022cac3c4982b10d5eeb55c3e4de15134676fb6de0446065c97440fa8c6a58"},
    };
    int number = 1;
    for (const Case& c : cases) {
        CAPTURE(number++);
        CHECK(to_hex(ikev2::prf<P>(ikev2::Prf::hmac_sha2_256, c.key, c.data)) == c.sha256);
        CHECK(to_hex(ikev2::prf<P>(ikev2::Prf::hmac_sha2_384, c.key, c.data)) == c.sha384);
        CHECK(to_hex(ikev2::prf<P>(ikev2::Prf::hmac_sha2_512, c.key, c.data)) == c.sha512);
    }
    // Transform Type 2 IDs (RFC 4868 2.1): 5, 6, 7; others are not ours.
    CHECK(ikev2::prf_named(6) == ikev2::Prf::hmac_sha2_384);
    CHECK(ikev2::prf_named(7) == ikev2::Prf::hmac_sha2_512);
    CHECK_FALSE(ikev2::prf_named(2));  // PRF_HMAC_SHA1
    CHECK_FALSE(ikev2::prf_named(1));  // PRF_HMAC_MD5
}

TEST_CASE_TEMPLATE("ikev2 suites: the IKE SA's PRF is negotiated; SK_d is its size; AUTH, KEYMAT and both rekeys use it", P,
                   TAPSEC_TEST_PROVIDERS) {
    using ikev2::Prf;
    struct Row {
        std::vector<Prf> initiator, responder;
        esp::Algorithm ike;
        Prf expected;
        const char* suite;
    };
    for (const Row& row : {
             Row{{Prf::hmac_sha2_384}, {Prf::hmac_sha2_256, Prf::hmac_sha2_384, Prf::hmac_sha2_512}, esp::Algorithm::aes_256_cbc,
                 Prf::hmac_sha2_384, "IKE AES_CBC_256/HMAC_SHA2_384_192/PRF_HMAC_SHA2_384, ESP AES_GCM_16_256/NO_ESN"},
             // the responder's preference wins among those offered
             Row{{Prf::hmac_sha2_256, Prf::hmac_sha2_384, Prf::hmac_sha2_512}, {Prf::hmac_sha2_512, Prf::hmac_sha2_256},
                 esp::Algorithm::aes_256_gcm_16, Prf::hmac_sha2_512, "IKE AES_GCM_16_256/PRF_HMAC_SHA2_512, ESP AES_GCM_16_256/NO_ESN"},
             Row{{Prf::hmac_sha2_512, Prf::hmac_sha2_384}, {Prf::hmac_sha2_384}, esp::Algorithm::aes_256_gcm_16,
                 Prf::hmac_sha2_384, "IKE AES_GCM_16_256/PRF_HMAC_SHA2_384, ESP AES_GCM_16_256/NO_ESN"},
         }) {
        CAPTURE(row.suite);
        Tunnel<P> t([&](ikev2::Config& i, ikev2::Config& r) {
            i.ike_ciphers = r.ike_ciphers = {row.ike};
            i.ike_integrity = r.ike_integrity = {esp::Integrity::hmac_sha2_384_192};
            i.esp_ciphers = r.esp_ciphers = {esp::Algorithm::aes_256_gcm_16};
            i.ike_prfs = row.initiator;
            r.ike_prfs = row.responder;
            i.allow_esn = false;
        });
        REQUIRE(t.connect());
        CHECK(t.i->session_info().cipher_suite == row.suite);
        CHECK(t.r->session_info().cipher_suite == row.suite);
        CHECK(t.i->sk_d_for_interop_tests().size() == ikev2::prf_size(row.expected));
        CHECK(Bytes(t.i->sk_d_for_interop_tests().begin(), t.i->sk_d_for_interop_tests().end()) ==
              Bytes(t.r->sk_d_for_interop_tests().begin(), t.r->sk_d_for_interop_tests().end()));
        t.ping_pong();
        REQUIRE(!t.i->update_keys(true, t.now));  // Child SA rekey: KEYMAT from SK_d with this PRF
        t.pump();
        t.ping_pong();
        for (bool responder_rekeys : {true, false}) {  // IKE SA rekeys, each side: the PRF stays
            REQUIRE(!(responder_rekeys ? t.r->rekey_ike(t.now) : t.i->rekey_ike(t.now)));
            t.pump();
            t.ping_pong();
        }
        CHECK(t.i->ike_rekeys() == 2);
        CHECK(t.r->ike_rekeys() == 2);
        CHECK(t.i->session_info().cipher_suite == row.suite);
        CHECK(t.i->sk_d_for_interop_tests().size() == ikev2::prf_size(row.expected));
        REQUIRE(!t.i->close(t.now));
        t.pump();
        CHECK(t.i->is_closed());
        CHECK(!t.i->failure());
        CHECK(!t.r->failure());
    }
}

TEST_CASE("ikev2 suites: a proposal whose only PRF we lack or do not allow is NO_PROPOSAL_CHOSEN") {
    struct Row {
        const char* what;
        std::uint16_t offered_prf;  // written over every PRF transform the initiator sends
    };
    for (const Row& row : {Row{"PRF_HMAC_MD5", 1}, Row{"PRF_HMAC_SHA1", 2}, Row{"PRF_AES128_XCBC", 4},
                           Row{"PRF_AES128_CMAC", 8}, Row{"PRF_HMAC_SHA2_512, not configured", 7}}) {
        CAPTURE(row.what);
        Tunnel<> t([](ikev2::Config&, ikev2::Config& r) {
            r.ike_prfs = {ikev2::Prf::hmac_sha2_256, ikev2::Prf::hmac_sha2_384};
        });
        t.on_wire = Tunnel<>::edit_init(true, Tunnel<>::prf_becomes(row.offered_prf));
        REQUIRE(!t.i->start(t.now));
        t.pump();
        CHECK(!t.r->is_established());
        CHECK(t.responder_refusal() == ikev2::Error::no_proposal_chosen);
        CHECK(t.i->failure() == ikev2::Error::no_proposal_chosen);
    }
    // Configured apart: the initiator offers only SHA-512, the responder takes only SHA-256.
    Tunnel<> apart([](ikev2::Config& i, ikev2::Config& r) {
        i.ike_prfs = {ikev2::Prf::hmac_sha2_512};
        r.ike_prfs = {ikev2::Prf::hmac_sha2_256};
    });
    CHECK_FALSE(apart.connect());
    CHECK(apart.i->failure() == ikev2::Error::no_proposal_chosen);
}

TEST_CASE("ikev2 suites: an answer choosing a PRF the initiator did not offer is refused") {
    Tunnel<> t([](ikev2::Config& i, ikev2::Config&) { i.ike_prfs = {ikev2::Prf::hmac_sha2_256}; });
    t.on_wire = Tunnel<>::edit_init(false, Tunnel<>::prf_becomes(static_cast<std::uint16_t>(ikev2::Prf::hmac_sha2_512)));
    CHECK_FALSE(t.connect());
    CHECK(t.i->failure() == ikev2::Error::no_proposal_chosen);
}

TEST_CASE_TEMPLATE("ikev2 suites: MODP-2048 (D-H group 14) agrees and refuses y outside 1 < y < p-1", P, TAPSEC_TEST_PROVIDERS) {
    REQUIRE(P::KeyShare::supports(KeyExchangeGroup::modp2048));
    CHECK(ffdhe_prime_size(KeyExchangeGroup::modp2048) == 256);
    // g = 2: the exponent 2 gives the public value 4, padded to the prime's 256 octets.
    Bytes two(private_key_size(KeyExchangeGroup::modp2048), 0);
    two.back() = 2;
    auto fixed = P::KeyShare::from_private(KeyExchangeGroup::modp2048, two);
    REQUIRE(fixed.ok());
    Bytes four(256, 0);
    four.back() = 4;
    CHECK(fixed->public_key() == four);
    // Two random shares agree, with a 256-octet secret, across providers too.
    auto a = P::KeyShare::generate(KeyExchangeGroup::modp2048);
    auto b = Botan2::KeyShare::generate(KeyExchangeGroup::modp2048);
    auto c = OpenSsl3::KeyShare::generate(KeyExchangeGroup::modp2048);
    REQUIRE(a.ok());
    REQUIRE(b.ok());
    REQUIRE(c.ok());
    CHECK(a->public_key().size() == 256);
    for (const auto& peer_public : {b->public_key(), c->public_key()}) {
        auto ours = a->agree(peer_public);
        REQUIRE(ours.ok());
        CHECK(ours->size() == 256);
        auto theirs = peer_public == b->public_key() ? b->agree(a->public_key()) : c->agree(a->public_key());
        REQUIRE(theirs.ok());
        CHECK(*ours == *theirs);
    }
    // The public-value range check (NIST SP 800-56A 5.6.2.3.1): 1 < y < p-1.
    Bytes one(256, 0);
    one.back() = 1;
    Bytes zero(256, 0);
    CHECK_FALSE(a->agree(one).ok());
    CHECK_FALSE(a->agree(zero).ok());
    CHECK_FALSE(a->agree(modp2048_prime_minus(1)).ok());  // y = p-1, order 2
    CHECK_FALSE(a->agree(modp2048_prime_minus(0)).ok());  // y = p
    CHECK_FALSE(a->agree(Bytes(256, 0xff)).ok());          // y > p
    CHECK_FALSE(a->agree(ByteView(four).first(255)).ok());  // a KE of the wrong length
    Bytes longer(257, 0);
    longer.back() = 4;
    CHECK_FALSE(a->agree(longer).ok());
}

TEST_CASE_TEMPLATE("ikev2 suites: AES-CBC + HMAC-SHA-2 and MODP-2048 for the IKE SA and ESP, with both rekeys", P,
                   TAPSEC_TEST_PROVIDERS) {
    struct Row {
        esp::Algorithm ike;
        esp::Integrity ike_integrity;
        ikev2::Group group;
        esp::Algorithm child;
        esp::Integrity child_integrity;
        const char* suite;
    };
    for (const Row& row : {
             Row{esp::Algorithm::aes_256_cbc, esp::Integrity::hmac_sha2_256_128, ikev2::Group::modp_2048,
                 esp::Algorithm::aes_128_cbc, esp::Integrity::hmac_sha2_256_128,
                 "IKE AES_CBC_256/HMAC_SHA2_256_128/PRF_HMAC_SHA2_256, ESP AES_CBC_128/HMAC_SHA2_256_128/NO_ESN"},
             Row{esp::Algorithm::aes_128_cbc, esp::Integrity::hmac_sha2_384_192, ikev2::Group::curve25519,
                 esp::Algorithm::aes_256_cbc, esp::Integrity::hmac_sha2_512_256,
                 "IKE AES_CBC_128/HMAC_SHA2_384_192/PRF_HMAC_SHA2_256, ESP AES_CBC_256/HMAC_SHA2_512_256/NO_ESN"},
             Row{esp::Algorithm::aes_128_gcm_16, esp::Integrity::none, ikev2::Group::modp_2048, esp::Algorithm::aes_256_cbc,
                 esp::Integrity::hmac_sha2_512_256,
                 "IKE AES_GCM_16_128/PRF_HMAC_SHA2_256, ESP AES_CBC_256/HMAC_SHA2_512_256/NO_ESN"},
         }) {
        CAPTURE(row.suite);
        Tunnel<P> t([&](ikev2::Config& i, ikev2::Config& r) {
            // The initiator offers an AEAD first as well: the responder picks the proposal it can use.
            i.ike_ciphers = {esp::Algorithm::chacha20_poly1305, row.ike};
            i.esp_ciphers = {esp::Algorithm::chacha20_poly1305, row.child};
            r.ike_ciphers = {row.ike};
            r.esp_ciphers = {row.child};
            i.groups = r.groups = {row.group};
            r.ike_integrity = {row.ike_integrity};
            r.esp_integrity = {row.child_integrity};
            i.allow_esn = false;
        });
        REQUIRE(t.connect());
        CHECK(t.i->session_info().cipher_suite == row.suite);
        CHECK(t.r->session_info().cipher_suite == row.suite);
        CHECK(t.i->session_info().group == ikev2::name(row.group));
        t.ping_pong();
        REQUIRE(!t.i->update_keys(true, t.now));  // Child SA rekey, PFS in the same group
        t.pump();
        t.ping_pong();
        REQUIRE(!t.r->rekey_ike(t.now));  // IKE SA rekey: new SK keys for the same suite
        t.pump();
        CHECK(t.i->ike_rekeys() == 1);
        t.ping_pong();
        CHECK(t.i->session_info().cipher_suite == row.suite);
        REQUIRE(!t.i->close(t.now));
        t.pump();
        CHECK(t.i->is_closed());
        CHECK(t.r->is_closed());
        CHECK(!t.i->failure());
        CHECK(!t.r->failure());
    }
}

TEST_CASE("ikev2 suites: INVALID_KE_PAYLOAD names group 14 and the initiator retries with it") {
    Tunnel<> t([](ikev2::Config& i, ikev2::Config& r) {
        i.groups = {ikev2::Group::curve25519, ikev2::Group::modp_2048};
        r.groups = {ikev2::Group::modp_2048};
    });
    REQUIRE(t.connect());
    CHECK(t.i->session_info().group == "modp2048");
    auto answer = Tunnel<>::message(t.r_to_i.front());
    REQUIRE(answer);
    auto hint = ikev2::find_notify(answer->payloads, ikev2::NotifyType::invalid_ke_payload);
    REQUIRE(hint);
    CHECK(hint->data == Bytes{0, 14});
}

TEST_CASE("ikev2 suites: a group 14 KE of the wrong length, y = 1 or y = p-1 is refused") {
    const Bytes p_minus_1 = modp2048_prime_minus(1);
    Bytes one(256, 0);
    one.back() = 1;
    for (const Bytes& bad : {Bytes(255, 7), Bytes(257, 7), one, p_minus_1}) {
        CAPTURE(bad.size());
        Tunnel<> t([](ikev2::Config& i, ikev2::Config& r) { i.groups = r.groups = {ikev2::Group::modp_2048}; });
        t.on_wire = Tunnel<>::edit_init(true, [&](ikev2::RawPayload& payload) {
            if (payload.type == ikev2::PayloadType::ke) payload.body = ikev2::encode(ikev2::KePayload{14, bad});
        });
        REQUIRE(!t.i->start(t.now));
        t.pump();
        CHECK(!t.r->is_established());
        CHECK(t.responder_refusal() == ikev2::Error::invalid_key_exchange_data);
    }
}

TEST_CASE("ikev2 suites: a flipped ICV bit in a CBC SK payload is refused before decryption") {
    Tunnel<> t([](ikev2::Config& i, ikev2::Config& r) {
        i.ike_ciphers = r.ike_ciphers = {esp::Algorithm::aes_256_cbc};
        i.groups = r.groups = {ikev2::Group::modp_2048};
    });
    bool tampered = false;
    t.on_wire = [&](Bytes& d, bool from_i) {
        auto m = Tunnel<>::message(d);
        if (from_i && m && m->header.exchange == ikev2::ExchangeType::ike_auth && !tampered) {
            d.back() ^= 0x80;  // the last octet of the ICV
            tampered = true;
        }
        return true;
    };
    REQUIRE(!t.i->start(t.now));
    t.pump();
    REQUIRE(tampered);
    CHECK(!t.r->is_established());
    CHECK(t.responder_refusal() == ikev2::Error::integrity_check_failed);
}

}  // namespace ikev2_suites_test
