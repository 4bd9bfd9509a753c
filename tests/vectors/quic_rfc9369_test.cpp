// RFC 9369 (QUIC version 2) Appendix A, byte for byte: the Initial secrets and the keys
// derived with the "quicv2" labels (A.1), the client Initial (A.2), the server Initial
// (A.3), the Retry with its v2 integrity tag (A.4) and the ChaCha20-Poly1305 short
// header packet with its "quicv2 ku" secret (A.5). Values from RFC 9369 Appendix A
// (the CRYPTO frame and the server payload are RFC 9001's, support/quic_vectors.hpp).
// Each case runs on both providers (support/providers.hpp).
#include "support/providers.hpp"

#include <tapsec/crypto/botan.hpp>
#include <tapsec/quic/packet_protection.hpp>

#include "support/quic_vectors.hpp"

using namespace tapsec;
using namespace tapsec::quic;
using test::hex;

namespace quic_rfc9369_test {

const char* const v2_a2_protected =
    "d76b3343cf088394c8f03e5157080000449ea0c95e82ffe67b6abcdb4298b485"
    "dd04de806071bf03dceebfa162e75d6c96058bdbfb127cdfcbf903388e99ad04"
    "9f9a3dd4425ae4d0992cfff18ecf0fdb5a842d09747052f17ac2053d21f57c5d"
    "250f2c4f0e0202b70785b7946e992e58a59ac52dea6774d4f03b55545243cf1a"
    "12834e3f249a78d395e0d18f4d766004f1a2674802a747eaa901c3f10cda5500"
    "cb9122faa9f1df66c392079a1b40f0de1c6054196a11cbea40afb6ef5253cd68"
    "18f6625efce3b6def6ba7e4b37a40f7732e093daa7d52190935b8da58976ff33"
    "12ae50b187c1433c0f028edcc4c2838b6a9bfc226ca4b4530e7a4ccee1bfa2a3"
    "d396ae5a3fb512384b2fdd851f784a65e03f2c4fbe11a53c7777c023462239dd"
    "6f7521a3f6c7d5dd3ec9b3f233773d4b46d23cc375eb198c63301c21801f6520"
    "bcfb7966fc49b393f0061d974a2706df8c4a9449f11d7f3d2dcbb90c6b877045"
    "636e7c0c0fe4eb0f697545460c806910d2c355f1d253bc9d2452aaa549e27a1f"
    "ac7cf4ed77f322e8fa894b6a83810a34b361901751a6f5eb65a0326e07de7c12"
    "16ccce2d0193f958bb3850a833f7ae432b65bc5a53975c155aa4bcb4f7b2c4e5"
    "4df16efaf6ddea94e2c50b4cd1dfe06017e0e9d02900cffe1935e0491d77ffb4"
    "fdf85290fdd893d577b1131a610ef6a5c32b2ee0293617a37cbb08b847741c3b"
    "8017c25ca9052ca1079d8b78aebd47876d330a30f6a8c6d61dd1ab5589329de7"
    "14d19d61370f8149748c72f132f0fc99f34d766c6938597040d8f9e2bb522ff9"
    "9c63a344d6a2ae8aa8e51b7b90a4a806105fcbca31506c446151adfeceb51b91"
    "abfe43960977c87471cf9ad4074d30e10d6a7f03c63bd5d4317f68ff325ba3bd"
    "80bf4dc8b52a0ba031758022eb025cdd770b44d6d6cf0670f4e990b22347a7db"
    "848265e3e5eb72dfe8299ad7481a408322cac55786e52f633b2fb6b614eaed18"
    "d703dd84045a274ae8bfa73379661388d6991fe39b0d93debb41700b41f90a15"
    "c4d526250235ddcd6776fc77bc97e7a417ebcb31600d01e57f32162a8560cacc"
    "7e27a096d37a1a86952ec71bd89a3e9a30a2a26162984d7740f81193e8238e61"
    "f6b5b984d4d3dfa033c1bb7e4f0037febf406d91c0dccf32acf423cfa1e70710"
    "10d3f270121b493ce85054ef58bada42310138fe081adb04e2bd901f2f13458b"
    "3d6758158197107c14ebb193230cd1157380aa79cae1374a7c1e5bbcb80ee23e"
    "06ebfde206bfb0fcbc0edc4ebec309661bdd908d532eb0c6adc38b7ca7331dce"
    "8dfce39ab71e7c32d318d136b6100671a1ae6a6600e3899f31f0eed19e3417d1"
    "34b90c9058f8632c798d4490da4987307cba922d61c39805d072b589bd52fdf1"
    "e86215c2d54e6670e07383a27bbffb5addf47d66aa85a0c6f9f32e59d85a44dd"
    "5d3b22dc2be80919b490437ae4f36a0ae55edf1d0b5cb4e9a3ecabee93dfc6e3"
    "8d209d0fa6536d27a5d6fbb17641cde27525d61093f1b28072d111b2b4ae5f89"
    "d5974ee12e5cf7d5da4d6a31123041f33e61407e76cffcdcfd7e19ba58cf4b53"
    "6f4c4938ae79324dc402894b44faf8afbab35282ab659d13c93f70412e85cb19"
    "9a37ddec600545473cfb5a05e08d0b209973b2172b4d21fb69745a262ccde96b"
    "a18b2faa745b6fe189cf772a9f84cbfc";

const char* const v2_a3_protected =
    "dc6b3343cf0008f067a5502a4262b5004075d92faaf16f05d8a4398c47089698"
    "baeea26b91eb761d9b89237bbf87263017915358230035f7fd3945d88965cf17"
    "f9af6e16886c61bfc703106fbaf3cb4cfa52382dd16a393e42757507698075b2"
    "c984c707f0a0812d8cd5a6881eaf21ceda98f4bd23f6fe1a3e2c43edd9ce7ca8"
    "4bed8521e2e140";

template <class Crypto>
std::string expand(ByteView secret, std::string_view label, std::size_t length) {
    return to_hex(tls13::hkdf_expand_label<Crypto>(crypto::HashAlgorithm::sha256, secret, label, {}, length));
}


TEST_CASE_TEMPLATE("RFC 9369 A.1: v2 Initial secrets and the quicv2 key / iv / hp", Crypto, TAPSEC_TEST_PROVIDERS) {
    const auto [client, server] = initial_secrets<Crypto>(hex("8394c8f03e515708"), version_2);
    CHECK(to_hex(client.secret) == "14ec9d6eb9fd7af83bf5a668bc17a7e283766aade7ecd0891f70f9ff7f4bf47b");
    CHECK(to_hex(server.secret) == "0263db1782731bf4588e7e4d93b7463907cb8cd8200b5da55a8bd488eafc37c1");
    const auto& v2 = constants_of(version_2);
    CHECK(expand<Crypto>(client.secret, v2.key_label, 16) == "8b1a0bc121284290a29e0971b5cd045d");
    CHECK(expand<Crypto>(client.secret, v2.iv_label, 12) == "91f73e2351d8fa91660e909f");
    CHECK(expand<Crypto>(client.secret, v2.hp_label, 16) == "45b95e15235d6f45a6b19cbcb0294ba9");
    CHECK(expand<Crypto>(server.secret, v2.key_label, 16) == "82db637861d55e1d011f19ea71d5d2a7");
    CHECK(expand<Crypto>(server.secret, v2.iv_label, 12) == "dd13c276499c0249d3310652");
    CHECK(expand<Crypto>(server.secret, v2.hp_label, 16) == "edf6d05c83121201b436e16877593c3a");
    // The v1 salt gives other secrets: the versions' Initials do not open each other.
    CHECK(to_hex(initial_secrets<Crypto>(hex("8394c8f03e515708")).first.secret) != to_hex(client.secret));
}

TEST_CASE_TEMPLATE("RFC 9369 A.2: v2 client Initial, byte for byte", Crypto, TAPSEC_TEST_PROVIDERS) {
    const auto [client, server] = initial_secrets<Crypto>(hex("8394c8f03e515708"), version_2);
    Bytes payload = hex(test::a2_crypto_frame);
    payload.resize(1162, 0);  // PADDING frames to a 1200-byte datagram
    const Bytes header = hex("d36b3343cf088394c8f03e5157080000449e00000002");
    test::seal_and_open<Crypto>(client, header, 18, 2, payload, v2_a2_protected, 0, version_2);
    auto h = parse_header(hex(v2_a2_protected), 0);
    REQUIRE(h);
    CHECK(h->type == PacketType::initial);  // type bits 01 in v2 (RFC 9369 3.2)
}

TEST_CASE_TEMPLATE("RFC 9369 A.3: v2 server Initial, byte for byte", Crypto, TAPSEC_TEST_PROVIDERS) {
    const auto [client, server] = initial_secrets<Crypto>(hex("8394c8f03e515708"), version_2);
    test::seal_and_open<Crypto>(server, hex("d16b3343cf0008f067a5502a4262b50040750001"), 18, 1, hex(test::a3_payload),
                                v2_a3_protected, 0, version_2);
}

TEST_CASE_TEMPLATE("RFC 9369 A.4: v2 Retry and its integrity tag", Crypto, TAPSEC_TEST_PROVIDERS) {
    const ConnectionId odcid(hex("8394c8f03e515708"));
    const Bytes retry = make_retry<Crypto>(ConnectionId{}, ConnectionId(hex("f067a5502a4262b5")), odcid,
                                           as_bytes("token"), 0x0f, version_2);
    CHECK(to_hex(retry) == "cf6b3343cf0008f067a5502a4262b5746f6b656ec8646ce8bfe33952d955543665dcc7b6");
    CHECK(verify_retry<Crypto>(odcid.view(), retry));
    auto h = parse_header(retry, 0);
    REQUIRE(h);
    CHECK(h->type == PacketType::retry);  // type bits 00 in v2
    CHECK(h->version == version_2);
    for (std::size_t i = 0; i < retry.size(); ++i) {
        Bytes bad = retry;
        bad[i] ^= 0x01;
        CHECK_FALSE(verify_retry<Crypto>(odcid.view(), bad));
    }
    // The same Retry under v1's version number and key is another packet.
    const Bytes v1 = make_retry<Crypto>(ConnectionId{}, ConnectionId(hex("f067a5502a4262b5")), odcid, as_bytes("token"), 0x0f);
    CHECK(to_hex(v1) != to_hex(retry));
}

TEST_CASE_TEMPLATE("RFC 9369 A.5: v2 ChaCha20-Poly1305 short header packet and quicv2 ku", Crypto, TAPSEC_TEST_PROVIDERS) {
    const Bytes raw = hex("9ac312a7f877468ebe69422748ad00a15443f18203a07d6060f688f30f21632b");
    const tls13::TrafficSecret secret{&tls13::TLS_CHACHA20_POLY1305_SHA256, SecretBytes(raw.begin(), raw.end())};
    const auto& v2 = constants_of(version_2);
    CHECK(expand<Crypto>(raw, v2.key_label, 32) == "3bfcddd72bcf02541d7fa0dd1f5f9eeea817e09a6963a0e6c7df0f9a1bab90f2");
    CHECK(expand<Crypto>(raw, v2.iv_label, 12) == "a6b5bc6ab7dafce30ffff5dd");
    CHECK(expand<Crypto>(raw, v2.hp_label, 32) == "d659760d2ba434a226fd37b35c69e2da8211d10c4f12538787d65645d5d1b8e2");
    test::seal_and_open<Crypto>(secret, hex("4200bff4"), 1, 654360564, hex("01"), "5558b1c60ae7b6b932bc27d786f4bc2bb20f2162ba",
                                0, version_2);
    auto keys = PacketKeys<Crypto>::derive(*secret.suite, secret.secret, true, version_2);
    REQUIRE(keys);
    CHECK(to_hex(keys->nonce(654360564)) == "a6b5bc6ab7dafce328ff4a29");
    auto next = keys->next_generation();
    REQUIRE(next);
    CHECK(to_hex(next->secret) == "c69374c49e3d2a9466fa689e49d476db5d0dfbc87d32ceeaa6343fd0ae4c7d88");
    CHECK(next->version == version_2);
}

TEST_CASE("RFC 9369 3.2: long header type bits, v1 and v2") {
    for (auto t : {PacketType::initial, PacketType::zero_rtt, PacketType::handshake, PacketType::retry}) {
        CHECK(long_type_of(long_type_bits(t, version_1), version_1) == t);
        CHECK(long_type_of(long_type_bits(t, version_2), version_2) == t);
    }
    CHECK(long_type_bits(PacketType::initial, version_2) == 1);
    CHECK(long_type_bits(PacketType::zero_rtt, version_2) == 2);
    CHECK(long_type_bits(PacketType::handshake, version_2) == 3);
    CHECK(long_type_bits(PacketType::retry, version_2) == 0);
    // The same bits mean another type under the other version (a v2 Initial read as v1 is 0-RTT).
    CHECK(long_type_of(long_type_bits(PacketType::initial, version_2), version_1) == PacketType::zero_rtt);
}

}  // namespace quic_rfc9369_test
