// crypto/nacl_box.hpp against NaCl's published test vectors, from the NaCl distribution
// (nacl-20110221, tests/): scalarmult.c / scalarmult2.c..6 (Alice's and Bob's keys),
// core1.c (HSalsa20 of the X25519 secret = "firstkey"), core2.c (HSalsa20 of firstkey
// under the nonce's first 16 bytes = "secondkey"), box.c / box.out (crypto_box),
// box2.c / box2.out (crypto_box_open), secretbox.c / secretbox.out and secretbox2.c
// (crypto_secretbox and its open). NaCl prints the ciphertext from byte 16 (after
// BOXZEROBYTES) and the plaintext from byte 32 (after ZEROBYTES): exactly the compact
// layout used here. The same arrays appear in libsodium's test/default/*.c.
#include <doctest/doctest.h>

#include <tapsec/crypto/nacl_box.hpp>

using namespace tapsec;
namespace nacl = tapsec::crypto::nacl;

namespace nacl_box_test {

const Bytes alice_sk = from_hex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a");
const Bytes alice_pk = from_hex("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a");
const Bytes bob_sk = from_hex("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb");
const Bytes bob_pk = from_hex("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f");
const Bytes shared = from_hex("4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742");
const Bytes firstkey = from_hex("1b27556473e985d462cd51197a9a46c76009549eac6474f206c4ee0844f68389");
const Bytes secondkey = from_hex("dc908dda0b9344a953629b733820778880f3ceb421bb61b91cbd4c3e66256ce4");
const Bytes nonce = from_hex("69696ee955b62b73cd62bda875fc73d68219e0036b7a0b37");

// box.c's m[32..163) and box.out's c[16..163).
const Bytes message = from_hex(
    "be075fc53c81f2d5cf141316ebeb0c7b5228c52a4c62cbd44b66849b64244ffc"
    "e5ecbaaf33bd751a1ac728d45e6c61296cdc3c01233561f41db66cce314adb31"
    "0e3be8250c46f06dceea3a7fa1348057e2f6556ad6b1318a024a838f21af1fde"
    "048977eb48f59ffd4924ca1c60902e52f0a089bc76897040e082f93776384864"
    "5e0705");
const Bytes boxed = from_hex(
    "f3ffc7703f9400e52a7dfb4b3d3305d98e993b9f48681273c29650ba32fc76ce"
    "48332ea7164d96a4476fb8c531a1186ac0dfc17c98dce87b4da7f011ec48c972"
    "71d2c20f9b928fe2270d6fb863d51738b48eeee314a7cc8ab932164548e526ae"
    "90224368517acfeabd6bb3732bc0e9da99832b61ca01b6de56244a9e88d5f9b3"
    "7973f622a43d14a6599b1f654cb45a74e355a5");


TEST_CASE("nacl: X25519 keys and shared secret (NaCl scalarmult.c, scalarmult2.c, scalarmult5.c)") {
    CHECK(to_hex(nacl::public_key_of(alice_sk)) == to_hex(alice_pk));
    CHECK(to_hex(nacl::public_key_of(bob_sk)) == to_hex(bob_pk));
    CHECK(to_hex(nacl::scalarmult(alice_sk, bob_pk)) == to_hex(shared));
    CHECK(to_hex(nacl::scalarmult(bob_sk, alice_pk)) == to_hex(shared));
}

TEST_CASE("nacl: HSalsa20 (NaCl core1.c firstkey, core2.c secondkey)") {
    static constexpr std::uint8_t zero[16] = {};
    std::uint8_t out[32];
    nacl::hsalsa20(out, shared.data(), zero);
    CHECK(to_hex(ByteView(out, 32)) == to_hex(firstkey));
    nacl::hsalsa20(out, firstkey.data(), nonce.data());
    CHECK(to_hex(ByteView(out, 32)) == to_hex(secondkey));
    // crypto_box_beforenm is HSalsa20 of the X25519 secret, from either side.
    auto k1 = nacl::box_beforenm(bob_pk, alice_sk);
    auto k2 = nacl::box_beforenm(alice_pk, bob_sk);
    REQUIRE(k1);
    REQUIRE(k2);
    CHECK(to_hex(*k1) == to_hex(firstkey));
    CHECK(to_hex(*k2) == to_hex(firstkey));
}

TEST_CASE("nacl: crypto_box reproduces box.out; crypto_box_open reproduces box2.out") {
    REQUIRE(message.size() == 131);
    REQUIRE(boxed.size() == 147);
    auto c = nacl::box(message, nonce, bob_pk, alice_sk);
    REQUIRE(c);
    CHECK(to_hex(*c) == to_hex(boxed));
    auto m = nacl::box_open(boxed, nonce, alice_pk, bob_sk);
    REQUIRE(m);
    CHECK(to_hex(*m) == to_hex(message));
    // beforenm + afternm / open_afternm give the same bytes (box.c's second half).
    auto k = nacl::box_beforenm(alice_pk, bob_sk);
    REQUIRE(k);
    nacl::SecretBox afternm(*k);
    CHECK(to_hex(afternm.seal(nonce, message)) == to_hex(boxed));
    auto opened = afternm.open(nonce, boxed);
    REQUIRE(opened);
    CHECK(*opened == message);
}

TEST_CASE("nacl: crypto_secretbox reproduces secretbox.out, in place too; secretbox2 opens it") {
    CHECK(to_hex(nacl::secretbox(firstkey, nonce, message)) == to_hex(boxed));
    // secretbox.c seals a second time with c == m: the in-place form.
    Bytes buffer(nacl::mac_bytes + message.size());
    std::copy(message.begin(), message.end(), buffer.begin() + nacl::mac_bytes);
    nacl::SecretBox sb(firstkey);
    sb.seal(nonce, ByteView(buffer).subspan(nacl::mac_bytes), buffer.data());
    CHECK(to_hex(buffer) == to_hex(boxed));
    // ...and open in place.
    REQUIRE(sb.open(nonce, buffer, buffer.data() + nacl::mac_bytes));
    CHECK(to_hex(ByteView(buffer).subspan(nacl::mac_bytes)) == to_hex(message));
    auto m = nacl::secretbox_open(firstkey, nonce, boxed);
    REQUIRE(m);
    CHECK(*m == message);
}

TEST_CASE("nacl: every flipped bit, a wrong nonce, a wrong key or a short box is refused") {
    nacl::SecretBox sb(firstkey);
    Bytes out(boxed.size());
    for (std::size_t i = 0; i < boxed.size(); ++i) {
        for (int bit : {0, 7}) {
            Bytes bad = boxed;
            bad[i] ^= static_cast<std::uint8_t>(1u << bit);
            std::fill(out.begin(), out.end(), 0xaa);
            CHECK_FALSE(sb.open(nonce, bad, out.data()));
            // Nothing is decrypted before the authenticator verifies.
            CHECK(std::all_of(out.begin(), out.end(), [](std::uint8_t b) { return b == 0xaa; }));
        }
    }
    Bytes other_nonce = nonce;
    other_nonce[23] ^= 1;
    CHECK(sb.open(other_nonce, boxed).error() == Errc::bad_record_mac);
    CHECK(nacl::secretbox_open(secondkey, nonce, boxed).error() == Errc::bad_record_mac);
    for (std::size_t n : {0u, 1u, 15u}) CHECK(sb.open(nonce, ByteView(boxed).first(n)).error() == Errc::decode_error);
    // Dropping the last ciphertext byte changes the MAC input.
    CHECK(sb.open(nonce, ByteView(boxed).first(boxed.size() - 1)).error() == Errc::bad_record_mac);
    // The empty message still carries (and checks) a 16-byte authenticator.
    const Bytes empty_box = sb.seal(nonce, ByteView{});
    CHECK(empty_box.size() == nacl::mac_bytes);
    CHECK(sb.open(nonce, empty_box));
}

TEST_CASE("nacl: crypto_box refuses a small-order public key (shared secret all zero)") {
    // A point of order 8 on Curve25519 (libsodium's box.c uses the same one).
    const Bytes small_order = from_hex("e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800");
    CHECK(nacl::box_beforenm(small_order, alice_sk).error() == Errc::handshake_failure);
    CHECK(nacl::box(message, nonce, small_order, alice_sk).error() == Errc::handshake_failure);
    CHECK(nacl::box_beforenm(ByteView(bob_pk).first(31), alice_sk).error() == Errc::invalid_configuration);
}

}  // namespace nacl_box_test
