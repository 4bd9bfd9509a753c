// IKEv2's key schedule against strongSwan's own values: SKEYSEED, SK_d, SK_ai/ar, SK_ei/er,
// SK_pi/pr and the first Child SA's ESP keys (KEYMAT, RFC 7296 2.17), as charon logged them
// at `ike 4` / `chd 4`, recomputed byte for byte through tapsec's key schedule
// (ikev2/key_schedule.hpp) from the inputs charon used: the nonces and SPIs of its
// IKE_SA_INIT exchange and the Diffie-Hellman shared secret g^ir.
//
// Source: strongSwan 5.9.8 (Debian bookworm package strongswan-charon 5.9.8-5+deb12u6),
// two charons (initiator and responder, PSK, kernel-libipsec) in network namespaces,
// captured on 2026-12-01 by tests/vectors/ikev2_charon_capture.sh, which re-captures them
// (its output pastes into `captures` below). Three IKE proposals: an AEAD with PRF SHA-256
// over Curve25519, AES-CBC + HMAC-SHA-384 with PRF SHA-384 over ECP-256 (the one with
// SK_ai/SK_ar and ESP integrity keys), AES-256-GCM with PRF SHA-512 over MODP-2048.
// Every case runs on both providers (support/providers.hpp).
#include "support/providers.hpp"

#include <tapsec/ikev2.hpp>

using namespace tapsec;
using namespace tapsec::ikev2;

namespace ikev2_charon_capture_vectors {

/// One exchange as charon's initiator logged it (hex strings; "" where charon had no such key).
struct CharonCapture {
    const char* proposal;      // swanctl `proposals`
    const char* esp_proposal;  // swanctl `esp_proposals`
    const char *spi_i, *spi_r, *ni, *nr, *g_ir, *skeyseed;
    const char *sk_d, *sk_ai, *sk_ar, *sk_ei, *sk_er, *sk_pi, *sk_pr;
    const char *esp_encr_i, *esp_encr_r, *esp_integ_i, *esp_integ_r;
};

// strongSwan 5.9.8-5+deb12u6 on Debian GNU/Linux 12 (bookworm), captured 2026-12-01
const CharonCapture captures[] = {
    {"aes128gcm16-prfsha256-x25519", "aes128gcm16",
     "697d0c418032af45",  // spi_i
     "997f0bb12c343351",  // spi_r
     "9d3bce29b3d093b62621f39afbaa65bc64c9692f38d21d38884c7fec6c29b277",  // ni
     "8ff98edf3bb5407c94773984e06b67cf0391890fb54b879d915c1eb6d5018d97",  // nr
     "cf21b73646e458b84a88eefe35a77e9851f99c4a9ba04b32e20dd390ba237870",  // g_ir
     "e53b4e99d3e7bfb255203454358c6c98cf9df0d7948e0cd9db4338a6f32d13bc",  // skeyseed
     "c96547d8a1df2b9c709172cf69ee459013c0dac22096f35af723612fba4168ac",  // sk_d
     "",  // sk_ai
     "",  // sk_ar
     "2615547b951d881a7974befba8d5bdfb46dacb2e",  // sk_ei
     "2d3ad838170d03ccf5c44ac26a334672512e9f89",  // sk_er
     "b441f5d6aefbd6905cb6fb9f444d4262c70337035670b128842d542b239928ff",  // sk_pi
     "5f77b3ca3ab6efee737da1e52c0a102e72a47f77889d632d1af4b9133d37244a",  // sk_pr
     "735a291c81f89cebf3345878af88eaaf1e1d2063",  // esp_encr_i
     "72b83face919b52089d7701975672f92230ede18",  // esp_encr_r
     "",  // esp_integ_i
     "",  // esp_integ_r
    },
    {"aes256-sha384-prfsha384-ecp256", "aes256-sha256",
     "84e36f8c5071babc",  // spi_i
     "8c3ded90813f3acb",  // spi_r
     "283194a7771aec0bfcec9694c7aafe4c212c11eb45458b0e5b092caa4695288a",  // ni
     "d8fadc7320607bd8ed0d1166242a7d1884433f4b9c1412a0ebd50dd025ce48c3",  // nr
     "460d3c0b356a530b33b203d14a68679ffe0a861fc4c45aac960e8bfe74c68a40",  // g_ir
     "078dc6c395db5a605437837a786ed2154fb1a0e3b39482a4a0796db2195f6c771e4ea0bcdc93fd88543b95c96f074530",  // skeyseed
     "2d66745495a23e0c0fa8bce6c51aab9fcafdb8408e495dcf46ff89a435166c34b18902ed4e289854ca44c4c21b925efb",  // sk_d
     "9eb278422e481dc4e3e37c0ac63746ee5e6e49b3f96f4aa8cf4c46d1e960f5f31cf9c502382f10456e860b4193e09065",  // sk_ai
     "b4e3923ce2f53aa0fabc8a6a9bc41d91dd8f9e17026e8ff9023957ee5eae8a19c51b007fa34dab135b37892b07eec48c",  // sk_ar
     "1142b290aa252908b720d9f60ec1bfc969d70312089cf55f4f74d7984088ef6d",  // sk_ei
     "72022425864b02dbd6338a0da15318efa51eb6bdba8f2ec10be4945c341935ea",  // sk_er
     "af5ed448aee9b62b1462151017e61517747d4d543839f9d89361d2194a7919a2d66645d580bab773bf9b125db4b1930f",  // sk_pi
     "601cbd69196d8ef6bb4176469128f629fa33cf9631a4a95d997e7e6eda8f71e11bf2ebc7b0bbd70099162b4cfa639de3",  // sk_pr
     "13384dc671e1190e9488dd6309d769ad9b64e998f8d0ff7bc28e7c918d64b0c0",  // esp_encr_i
     "47ea647ae1d333f47d94b323d7667e27fb2e339271c49826af60a32cf96522ba",  // esp_encr_r
     "5527494da390d491c6a2ffea94bb6a3bcd80a2ee50a2e7c6d6891f0b64eb744e",  // esp_integ_i
     "626d408d253a397a4cbcdecd30d23f2df083d6e8857c5b6f69089be549679587",  // esp_integ_r
    },
    {"aes256gcm16-prfsha512-modp2048", "aes256gcm16",
     "5f707a6d8fdc571c",  // spi_i
     "04cc9c8ba59a1c90",  // spi_r
     "ae351bbfc61b731c5a3be2780ffc991e12e0e7ee1d8c6ec047bff0c623fef858",  // ni
     "dc2d02c00ac1d4460c8f1bacb85ca4b3b21bc940ef227c617efa4f637d6236fb",  // nr
     "0d041efd059669b301a78053d221d1b51d1c823f574e32a3b6ff6497b23c6b8db26f00b46e536c4405237c8c1c14161d69440385931fccd2224b383ce8f396595078a60c6a8e50ec02a6780de420a4a1a330de965935d26dfc1843dae0062d4bc8255d1a6affc9ce1b2f4c722de06a6d390b991b02eed9c807608c2120ac044415fee75469c60fd9b5ca450a313e46e8ea61c8732c628453b85fc2595272fb66e24ad831cc4d06724e8b64926403eac8b707dbbcec7b1d900968d23d512429800a2b5af2420fb08c7183ac0b2c9fa8cfe874f1b2d1af64d8c5eb5b59df74490ed8bf0bb34e41d78223b46edec493bdc693fd9e808ee0def878ddb751eef72429",  // g_ir
     "490ec20e19f72162c9f4b9880305734dd8f8f7e416ef0e350f1073d0e9008e34163ffd88bb2dd546056e24a57f433fdea3c61ee57384cb2d33905869d917d56e",  // skeyseed
     "3e14944b8ad386c86f6b028a603129c932296c1167298a7ab64866a99cc73d0fdb513065a276fb25f7dc19b1808dd2f5fb05cf8ffb021ff543abd68c411031a3",  // sk_d
     "",  // sk_ai
     "",  // sk_ar
     "10677cb0ddf29ce0a50f93aac8fee44a50a141cae6a896daf513e4bc8e7e149ba7a7041c",  // sk_ei
     "9716e5e7d6e298710f3bece8620e7585e821a6c90d50b0179b4ec7e29540695148e8072a",  // sk_er
     "665188a715f49fca37519c0366cd07d11f1bac8d139750969c35fd1063a566e7e5ef805fab3076b25c70df3cd3028fcba8d342003065962aeb666d0ac92bf8e6",  // sk_pi
     "0321a1a937f9a8ba243350d6cbb886133af2c8c304a35bb6e678da5fcdb37221726dac15665da61849a9f6fa6f15c830447900d4a4846d21af2f5e4cee80a141",  // sk_pr
     "5e55eff27eca8d741adb991c3b31b43adef56d6b1373dc1aabda2218f7b270f04dd8159c",  // esp_encr_i
     "1546b918258fd0075b14751ec704ce47200d0e0717763c4757c9bfc7f68679dc90dc65b5",  // esp_encr_r
     "",  // esp_integ_i
     "",  // esp_integ_r
    },
};

/// The negotiated algorithms a proposal string names (only those the captures use).
struct Suite {
    Prf prf;
    esp::Algorithm ike_cipher;
    esp::Integrity ike_integrity;
    esp::Algorithm esp_cipher;
    esp::Integrity esp_integrity;
};
Suite suite_of(std::string_view proposal, std::string_view esp_proposal) {
    auto has = [](std::string_view s, std::string_view part) { return s.find(part) != std::string_view::npos; };
    auto cipher = [&](std::string_view s) {
        return has(s, "aes128gcm16") ? esp::Algorithm::aes_128_gcm_16
               : has(s, "aes256gcm16") ? esp::Algorithm::aes_256_gcm_16
               : has(s, "aes256")      ? esp::Algorithm::aes_256_cbc
                                       : esp::Algorithm::aes_128_cbc;
    };
    auto integrity = [&](std::string_view s) {
        if (has(s, "gcm16")) return esp::Integrity::none;
        // the integrity name follows the cipher: "aes256-sha384-prf..." / "aes256-sha256"
        return has(s, "-sha384") ? esp::Integrity::hmac_sha2_384_192
               : has(s, "-sha512") ? esp::Integrity::hmac_sha2_512_256
                                   : esp::Integrity::hmac_sha2_256_128;
    };
    const Prf prf = has(proposal, "prfsha512") ? Prf::hmac_sha2_512 : has(proposal, "prfsha384") ? Prf::hmac_sha2_384 : Prf::hmac_sha2_256;
    return {prf, cipher(proposal), integrity(proposal), cipher(esp_proposal), integrity(esp_proposal)};
}

Bytes hex(const char* text) {
    bool ok = false;
    Bytes out = from_hex(text, &ok);
    REQUIRE_MESSAGE(ok, "not hex: " << text);
    return out;
}
std::uint64_t spi(const char* text) {
    std::uint64_t v = 0;
    for (auto b : hex(text)) v = v << 8 | b;
    return v;
}


TEST_CASE_TEMPLATE("ikev2 vs charon 5.9.8: SKEYSEED and the seven IKE SA keys byte for byte", P, TAPSEC_TEST_PROVIDERS) {
    for (const auto& c : captures) {
        CAPTURE(c.proposal);
        const Suite s = suite_of(c.proposal, c.esp_proposal);
        const Bytes ni = hex(c.ni), nr = hex(c.nr), g_ir = hex(c.g_ir);
        const SecretBytes seed = skeyseed<P>(s.prf, ni, nr, g_ir);
        CHECK(to_hex(seed) == c.skeyseed);
        const IkeSaKeys k = derive_ike_sa_keys<P>(s.prf, seed, ni, nr, spi(c.spi_i), spi(c.spi_r),
                                                  esp::keymat_length(s.ike_cipher),
                                                  esp::integrity_key_length(s.ike_integrity));
        CHECK(to_hex(k.sk_d) == c.sk_d);
        CHECK(to_hex(k.sk_ai) == c.sk_ai);
        CHECK(to_hex(k.sk_ar) == c.sk_ar);
        CHECK(to_hex(k.sk_ei) == c.sk_ei);
        CHECK(to_hex(k.sk_er) == c.sk_er);
        CHECK(to_hex(k.sk_pi) == c.sk_pi);
        CHECK(to_hex(k.sk_pr) == c.sk_pr);
    }
}

TEST_CASE_TEMPLATE("ikev2 vs charon 5.9.8: the first Child SA's KEYMAT, exported as esp::ChildSaKeys", P, TAPSEC_TEST_PROVIDERS) {
    for (const auto& c : captures) {
        CAPTURE(c.proposal);
        const Suite s = suite_of(c.proposal, c.esp_proposal);
        const Bytes ni = hex(c.ni), nr = hex(c.nr);
        // From charon's SK_d (checked above), as the engine exports it for IKE_AUTH's Child SA.
        const esp::ChildSaKeys initiator = export_child_sa_keys<P>(s.prf, hex(c.sk_d), ni, nr, s.esp_cipher, true, 0x1111,
                                                                   0x2222, false, {}, s.esp_integrity);
        CHECK(to_hex(initiator.outbound_key) == std::string(c.esp_encr_i) + c.esp_integ_i);
        CHECK(to_hex(initiator.inbound_key) == std::string(c.esp_encr_r) + c.esp_integ_r);
        const esp::ChildSaKeys responder = export_child_sa_keys<P>(s.prf, hex(c.sk_d), ni, nr, s.esp_cipher, false, 0x2222,
                                                                   0x1111, false, {}, s.esp_integrity);
        CHECK(to_hex(responder.outbound_key) == to_hex(initiator.inbound_key));
        CHECK(to_hex(responder.inbound_key) == to_hex(initiator.outbound_key));
        // The keys import into ESP (lengths fit the algorithm).
        CHECK(bool(EspRecord::layer<P>::import(initiator)));
    }
}

TEST_CASE_TEMPLATE("ikev2 vs charon 5.9.8: each input matters (one flipped bit of a nonce, an SPI, g^ir)", P, TAPSEC_TEST_PROVIDERS) {
    const CharonCapture& c = captures[0];
    const Suite s = suite_of(c.proposal, c.esp_proposal);
    Bytes ni = hex(c.ni), nr = hex(c.nr), g_ir = hex(c.g_ir);
    g_ir[0] ^= 1;
    CHECK(to_hex(skeyseed<P>(s.prf, ni, nr, g_ir)) != c.skeyseed);
    g_ir[0] ^= 1;
    nr.back() ^= 0x80;
    CHECK(to_hex(skeyseed<P>(s.prf, ni, nr, g_ir)) != c.skeyseed);
    nr.back() ^= 0x80;
    const SecretBytes seed = skeyseed<P>(s.prf, ni, nr, g_ir);
    REQUIRE(to_hex(seed) == c.skeyseed);
    const IkeSaKeys swapped = derive_ike_sa_keys<P>(s.prf, seed, ni, nr, spi(c.spi_r), spi(c.spi_i),
                                                    esp::keymat_length(s.ike_cipher));
    CHECK(to_hex(swapped.sk_d) != c.sk_d);
}

}  // namespace ikev2_charon_capture_vectors
