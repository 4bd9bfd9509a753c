// SRTP / SRTCP published test vectors, byte for byte:
//  - RFC 3711 Appendix B.2 (AES-CM keystream) and B.3 (key derivation);
//  - RFC 7714 Sections 16 and 17 (AEAD_AES_128_GCM / AEAD_AES_256_GCM SRTP and SRTCP);
//  - libsrtp's own reference packets (test/srtp_driver.c), which go through the KDF.
// Each case runs on both providers (support/providers.hpp).
#include "support/providers.hpp"

#include <tapsec/tapsec.hpp>

using namespace tapsec;
using namespace tapsec::srtp;

namespace srtp_vectors {
Bytes hex(std::string_view h) {
    bool ok = false;
    Bytes b = from_hex(h, &ok);
    REQUIRE(ok);
    return b;
}
SecretBytes secret(std::string_view h) {
    Bytes b = hex(h);
    return SecretBytes(b.begin(), b.end());
}

TEST_CASE_TEMPLATE("RFC 3711 B.2: AES-CM keystream", Crypto, TAPSEC_TEST_PROVIDERS) {
    // Session key 2B7E151628AED2A6ABF7158809CF4F3C, session salt F0F1F2F3F4F5F6F7F8F9FAFBFCFD,
    // ROC 0, SEQ 0, SSRC 0: the keystream blocks the RFC lists.
    auto aes = Crypto::BlockCipher::aes(hex("2B7E151628AED2A6ABF7158809CF4F3C"));
    REQUIRE(aes);
    SessionKeys keys{secret("2B7E151628AED2A6ABF7158809CF4F3C"), secret("F0F1F2F3F4F5F6F7F8F9FAFBFCFD"),
                     secret("0000000000000000000000000000000000000000")};
    auto ctx = CryptoContext<Crypto>::from_session_keys(Profile::aes_cm_128_hmac_sha1_80, Stream::rtp, keys);
    REQUIRE(ctx);
    const auto iv = ctx->cm_iv(0, 0);
    CHECK(to_hex(iv) == "f0f1f2f3f4f5f6f7f8f9fafbfcfd0000");  // the RFC's "Offset"
    Bytes stream(0xff02 * 16, 0);
    aes_cm_apply(*aes, iv.data(), stream);
    auto block = [&](std::size_t n) { return to_hex(ByteView(stream).subspan(16 * n, 16)); };
    CHECK(block(0x0000) == "e03ead0935c95e80e166b16dd92b4eb4");
    CHECK(block(0x0001) == "d23513162b02d0f72a43a2fe4a5f97ab");
    CHECK(block(0x0002) == "41e95b3bb0a2e8dd477901e4fca894c0");
    CHECK(block(0xfeff) == "ec8cdf7398607cb0f2d21675ea9ea1e4");
    CHECK(block(0xff00) == "362b7c3c6773516318a077d7fc5073ae");
    CHECK(block(0xff01) == "6a2cc3787889374fbeb4c81b17ba6c44");
}

TEST_CASE_TEMPLATE("RFC 3711 B.3: key derivation", Crypto, TAPSEC_TEST_PROVIDERS) {
    // master key E1F97A0D3E018BE0D64FA32C06DE4139, master salt 0EC675AD498AFEEBB6960B3AABE6,
    // key derivation rate 0, index 0.
    auto kdf = KeyDerivation<Crypto>::create(hex("E1F97A0D3E018BE0D64FA32C06DE4139"),
                                             hex("0EC675AD498AFEEBB6960B3AABE6"));
    REQUIRE(kdf);
    CHECK(to_hex(kdf->derive(KdfLabel::rtp_encryption, 16)) == "c61e7a93744f39ee10734afe3ff7a087");
    CHECK(to_hex(kdf->derive(KdfLabel::rtp_salt, 14)) == "30cbbc08863d8c85d49db34a9ae1");
    CHECK(to_hex(kdf->derive(KdfLabel::rtp_authentication, 20)) == "cebe321f6ff7716b6fd4ab49af256a156d38baa4");
    // B.3 also prints the full AES-CM output blocks behind the salt and the auth key.
    CHECK(to_hex(kdf->derive(KdfLabel::rtp_salt, 16)) == "30cbbc08863d8c85d49db34a9ae17ac6");
    CHECK(to_hex(kdf->derive(KdfLabel::rtp_authentication, 96)) ==
          "cebe321f6ff7716b6fd4ab49af256a156d38baa48f0a0acf3c34e2359e6cdbce"
          "e049646c43d9327ad175578ef72270986371c10c9a369ac2f94a8c5fbcdddc25"
          "6d6e919a48b610ef17c2041e474035766b68642c59bbfc2f34db60dbdfb2dc68");

    // The same through the session-key API the record uses.
    auto keys = derive_session_keys<Crypto>(Profile::aes_cm_128_hmac_sha1_80, Stream::rtp,
                                            hex("E1F97A0D3E018BE0D64FA32C06DE4139"), hex("0EC675AD498AFEEBB6960B3AABE6"));
    REQUIRE(keys);
    CHECK(to_hex(keys->cipher_key) == "c61e7a93744f39ee10734afe3ff7a087");
    CHECK(to_hex(keys->salt) == "30cbbc08863d8c85d49db34a9ae1");
    CHECK(to_hex(keys->auth_key) == "cebe321f6ff7716b6fd4ab49af256a156d38baa4");
}

// RFC 7714 Sections 16 and 17 use these session keys directly (no KDF).
constexpr std::string_view k128 = "000102030405060708090a0b0c0d0e0f";
constexpr std::string_view k256 = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
constexpr std::string_view salt = "517569642070726f2071756f";  // "Quid pro quo"
// 16.1: RTP header 8040f17b 8041f8d3 5501a0b2, payload "Gallia est omnis divisa in partes tres".
constexpr std::string_view rtp_plain =
    "8040f17b8041f8d35501a0b247616c6c696120657374206f6d6e69732064697669736120696e207061727465732074726573";
// 17.1: an RTCP sender report from SSRC "Mars".
constexpr std::string_view rtcp_plain =
    "81c8000d4d6172734e5450314e545032525450200000042a0000e9304c756e61deadbeefdeadbeefdeadbeefdeadbeefdeadbeef";

template <class Crypto>
CryptoContext<Crypto> gcm(Profile p, Stream s, std::string_view key) {
    auto c = CryptoContext<Crypto>::from_session_keys(p, s, SessionKeys{secret(key), secret(salt), {}});
    REQUIRE(c);
    return std::move(*c);
}

template <class Crypto>
void check_rtp(Profile p, std::string_view key, std::string_view expected) {
    auto ctx = gcm<Crypto>(p, Stream::rtp, key);
    CHECK(to_hex(ctx.gcm_nonce(0x5501a0b2, 0, 0xf17b)) == "51753c6580c2726f20718414");  // 16.1 IV
    Bytes packet = hex(rtp_plain);
    const std::size_t length = packet.size();
    packet.resize(length + 16);
    CHECK(ctx.protect_rtp(packet.data(), 12, length, 0x5501a0b2, 0, 0xf17b) == packet.size());
    CHECK(to_hex(packet) == expected);
    auto rx = gcm<Crypto>(p, Stream::rtp, key);
    CHECK(rx.unprotect_rtp(packet.data(), 12, packet.size(), 0x5501a0b2, 0, 0xf17b));
    packet.resize(length);
    CHECK(to_hex(packet) == rtp_plain);
}

template <class Crypto>
void check_rtcp(Profile p, std::string_view key, std::string_view expected) {
    auto ctx = gcm<Crypto>(p, Stream::rtcp, key);
    CHECK(to_hex(ctx.gcm_rtcp_nonce(0x4d617273, 0x5d4)) == "517524055203726f207170bb");  // 17.1 IV
    Bytes packet = hex(rtcp_plain);
    const std::size_t length = packet.size();
    packet.resize(length + 20);
    CHECK(ctx.protect_rtcp(packet.data(), length, 0x4d617273, 0x5d4, true) == packet.size());
    CHECK(to_hex(packet) == expected);
    auto rx = gcm<Crypto>(p, Stream::rtcp, key);
    auto trailer = rx.parse_rtcp_trailer(packet.data(), packet.size());
    REQUIRE(trailer);
    CHECK(trailer->index == 0x5d4);
    CHECK(trailer->encrypted);
    CHECK(rx.unprotect_rtcp(packet.data(), packet.size(), *trailer, 0x4d617273));
    packet.resize(trailer->body_length);
    CHECK(to_hex(packet) == rtcp_plain);
}

TEST_CASE_TEMPLATE("RFC 7714 16.1.1 / 16.2.1: SRTP AEAD_AES_128_GCM and AEAD_AES_256_GCM", Crypto, TAPSEC_TEST_PROVIDERS) {
    check_rtp<Crypto>(Profile::aead_aes_128_gcm, k128,
              "8040f17b8041f8d35501a0b2f24de3a3fb34de6cacba861c9d7e4bcabe633bd50d294e6f42a5f47a51c7d19b36de3adf"
              "8833899d7f27beb16a9152cf765ee4390cce");
    check_rtp<Crypto>(Profile::aead_aes_256_gcm, k256,
              "8040f17b8041f8d35501a0b232b1de78a822fe12ef9f78fa332e33aab18012389a58e2f3b50b2a0276ffae0f1ba63799"
              "b87b7aa3db36dfffd6b0f9bb7878d7a76c13");
}

TEST_CASE_TEMPLATE("RFC 7714 17.1.1 / 17.2.1: SRTCP AEAD_AES_128_GCM and AEAD_AES_256_GCM, encrypted", Crypto, TAPSEC_TEST_PROVIDERS) {
    check_rtcp<Crypto>(Profile::aead_aes_128_gcm, k128,
               "81c8000d4d61727363e94885dcdab67ca727d7662f6b7e997ff5c0f76c06f32dc676a5f1730d6fda4ce09b4686303ded"
               "0bb9275bc84aa45896cf4d2fc5abf87245d9eade800005d4");
    check_rtcp<Crypto>(Profile::aead_aes_256_gcm, k256,
               "81c8000d4d617273d50ae4d1f5ce5d304ba297e47d470c282c3ece5dbffe0a50a2eaa5c1110555be8415f658c61de047"
               "6f1b6fad1d1eb30c4446839f57ff6f6cb26ac3be800005d4");
}

TEST_CASE("RFC 5764 4.2: exporter output splits into client/server key and salt") {
    Bytes material(60);
    for (std::size_t i = 0; i < material.size(); ++i) material[i] = static_cast<std::uint8_t>(i);
    auto keys = MasterKeys::from_dtls_srtp_exporter(Profile::aes_cm_128_hmac_sha1_80, material);
    REQUIRE(keys);
    CHECK(to_hex(keys->client_write.key) == "000102030405060708090a0b0c0d0e0f");
    CHECK(to_hex(keys->server_write.key) == "101112131415161718191a1b1c1d1e1f");
    CHECK(to_hex(keys->client_write.salt) == "202122232425262728292a2b2c2d");
    CHECK(to_hex(keys->server_write.salt) == "2e2f303132333435363738393a3b");
    CHECK(MasterKeys::exporter_length(Profile::aead_aes_128_gcm) == 56);
    CHECK(MasterKeys::exporter_length(Profile::aead_aes_256_gcm) == 88);
    CHECK(MasterKeys::from_dtls_srtp_exporter(Profile::aead_aes_128_gcm, material).error() == Error::invalid_key_length);
}

// libsrtp's reference packets (test/srtp_driver.c, srtp_validate and srtp_validate_gcm):
// master keys through the KDF, SSRC 0xcafebabe, SEQ 0x1234, SRTCP index 1.
constexpr std::string_view ref_rtp = "800f1234decafbadcafebabeabababababababababababababababab";
constexpr std::string_view ref_rtcp = "81c8000bcafebabeabababababababababababababababab";

template <class Crypto>
void check_reference(Profile p, std::string_view key, std::string_view master_salt, std::string_view srtp,
                     std::string_view srtcp) {
    MasterKeys keys;
    keys.profile = p;
    keys.client_write = {secret(key), secret(master_salt)};
    keys.server_write = keys.client_write;
    auto sender = Session<Crypto>::create(keys, Role::client);
    auto receiver = Session<Crypto>::create(keys, Role::server);
    REQUIRE(sender);
    REQUIRE(receiver);
    Bytes packet = hex(ref_rtp);
    REQUIRE(sender->protect_rtp(packet) == std::error_code{});
    CHECK(to_hex(packet) == srtp);
    REQUIRE(receiver->unprotect_rtp(packet) == std::error_code{});
    CHECK(to_hex(packet) == ref_rtp);

    // libsrtp numbers SRTCP from 1; the context takes the index explicitly.
    auto ctx = CryptoContext<Crypto>::derive(p, Stream::rtcp, hex(key), hex(master_salt));
    REQUIRE(ctx);
    Bytes control = hex(ref_rtcp);
    const std::size_t length = control.size();
    control.resize(length + ctx->rtcp_overhead());
    CHECK(ctx->protect_rtcp(control.data(), length, 0xcafebabe, 1, true) == control.size());
    CHECK(to_hex(control) == srtcp);
    Bytes received = hex(srtcp);
    REQUIRE(receiver->unprotect_rtcp(received) == std::error_code{});
    CHECK(to_hex(received) == ref_rtcp);
}

TEST_CASE_TEMPLATE("libsrtp reference packets: AES_CM_128_HMAC_SHA1_80 and AEAD_AES_128_GCM through the KDF", Crypto, TAPSEC_TEST_PROVIDERS) {
    // master key/salt as RFC 3711 B.3
    check_reference<Crypto>(Profile::aes_cm_128_hmac_sha1_80, "e1f97a0d3e018be0d64fa32c06de4139", "0ec675ad498afeebb6960b3aabe6",
                    "800f1234decafbadcafebabe4e55dc4ce79978d88ca4d215949d2402b78d6acc99ea179b8dbb",
                    "81c8000bcafebabe7128035be487b9bdbef89041f977a5a880000001993e08cd54d6c1230798");
    check_reference<Crypto>(Profile::aead_aes_128_gcm, "000102030405060708090a0b0c0d0e0f", "a0a1a2a3a4a5a6a7a8a9aaab",
                    "800f1234decafbadcafebabec5002ede04cfdd2eb91159e0880aa06ed2976826f796b201df3131a127e8a392",
                    "81c8000bcafebabec98b8b5df0392a55852b6c21ac8e7025c52c6fbea2b3b446ea31123ba88ce61e80000001");
}

}  // namespace srtp_vectors
