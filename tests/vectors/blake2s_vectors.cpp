// BLAKE2s test vectors:
//  - RFC 7693 Appendix B: BLAKE2s-256("abc").
//  - RFC 7693 Appendix E: the self-test "grand hash" over digest lengths 16/20/28/32 and
//    input lengths 0/3/64/65/255/1024, keyed and unkeyed.
//  - The BLAKE2 reference repository's keyed-hash known answers
//    (github.com/BLAKE2/BLAKE2, testvectors/blake2s-test.txt, commit a976a0ab):
//    key = 00 01 .. 1f, input = 00 01 .. (n-1), 32-byte output; a representative subset.
#include <doctest/doctest.h>

#include <tapsec/crypto/blake2s.hpp>

using namespace tapsec;
using tapsec::crypto::Blake2s;

namespace blake2s_vectors {

Bytes counting(std::size_t n) {
    Bytes b(n);
    for (std::size_t i = 0; i < n; ++i) b[i] = static_cast<std::uint8_t>(i);
    return b;
}

std::string blake2s_hex(std::size_t outlen, ByteView key, ByteView in) {
    Blake2s h(outlen, key);
    h.update(in);
    Bytes out(outlen);
    h.final(out.data());
    return to_hex(out);
}

// RFC 7693 Appendix E's deterministic input generator (a Fibonacci-like sequence).
Bytes selftest_sequence(std::size_t length, std::uint32_t seed) {
    Bytes out(length);
    std::uint32_t a = 0xDEAD4BAD * seed, b = 1;
    for (std::size_t i = 0; i < length; ++i) {
        const std::uint32_t t = a + b;
        a = b;
        b = t;
        out[i] = static_cast<std::uint8_t>(t >> 24);
    }
    return out;
}


TEST_CASE("BLAKE2s-256(\"abc\") (RFC 7693 Appendix B)") {
    CHECK(blake2s_hex(32, {}, as_bytes("abc")) ==
          "508c5e8c327c14e2e1a72ba34eeb452f37458b209ed63a294d999b4c86675982");
}

TEST_CASE("BLAKE2s self-test grand hash (RFC 7693 Appendix E)") {
    const std::size_t digest_lengths[] = {16, 20, 28, 32};
    const std::size_t input_lengths[] = {0, 3, 64, 65, 255, 1024};
    Blake2s grand(32);
    for (auto outlen : digest_lengths) {
        for (auto inlen : input_lengths) {
            Bytes in = selftest_sequence(inlen, static_cast<std::uint32_t>(inlen));
            Bytes md(outlen);
            Blake2s plain(outlen);
            plain.update(in);
            plain.final(md.data());
            grand.update(md);
            Bytes key = selftest_sequence(outlen, static_cast<std::uint32_t>(outlen));
            Blake2s keyed(outlen, key);
            keyed.update(in);
            keyed.final(md.data());
            grand.update(md);
        }
    }
    Bytes result(32);
    grand.final(result.data());
    CHECK(to_hex(result) == "6a411f08ce25adcdfb02aba641451cec53c598b24f4fc787fbdc88797f4c1dfe");
}

TEST_CASE("keyed BLAKE2s known answers (BLAKE2 reference testvectors/blake2s-test.txt)") {
    const Bytes key = counting(32);
    struct Vector {
        std::size_t length;
        const char* hash;
    };
    const Vector vectors[] = {
        {0, "48a8997da407876b3d79c0d92325ad3b89cbb754d86ab71aee047ad345fd2c49"},
        {1, "40d15fee7c328830166ac3f918650f807e7e01e177258cdc0a39b11f598066f1"},
        {3, "1d220dbe2ee134661fdf6d9e74b41704710556f2f6e5a091b227697445dbea6b"},
        {32, "c03bc642b20959cbe133a0303e0c1abff3e31ec8e1a328ec8565c36decff5265"},
        {63, "c65382513f07460da39833cb666c5ed82e61b9e998f4b0c4287cee56c3cc9bcd"},
        {64, "8975b0577fd35566d750b362b0897a26c399136df07bababbde6203ff2954ed4"},
        {65, "21fe0ceb0052be7fb0f004187cacd7de67fa6eb0938d927677f2398c132317a8"},
        {128, "0c311f38c35a4fb90d651c289d486856cd1413df9b0677f53ece2cd9e477c60a"},
        {129, "46a73a8dd3e70f59d3942c01df599def783c9da82fd83222cd662b53dce7dbdf"},
        {255, "3fb735061abc519dfe979e54c1ee5bfad0a9d858b3315bad34bde999efd724dd"},
    };
    for (const auto& v : vectors) {
        CAPTURE(v.length);
        const Bytes in = counting(v.length);
        CHECK(blake2s_hex(32, key, in) == v.hash);
        // Fed in uneven pieces, the digest must not change (block-boundary handling).
        Blake2s pieces(32, key);
        std::size_t at = 0, step = 1;
        while (at < in.size()) {
            const std::size_t n = std::min(step, in.size() - at);
            pieces.update(ByteView(in).subspan(at, n));
            at += n;
            step = step * 2 + 1;
        }
        Bytes out(32);
        pieces.final(out.data());
        CHECK(to_hex(out) == v.hash);
    }
}

TEST_CASE("HMAC-BLAKE2s and HKDF follow RFC 2104 / RFC 5869 over BLAKE2s") {
    // HMAC(K, m) = H((K ^ opad) || H((K ^ ipad) || m)), computed here from the hash alone.
    const Bytes key = counting(20), message{'m', 'e', 's', 's', 'a', 'g', 'e'};
    Bytes ipad(64, 0x36), opad(64, 0x5c);
    for (std::size_t i = 0; i < key.size(); ++i) {
        ipad[i] ^= key[i];
        opad[i] ^= key[i];
    }
    auto inner = Blake2s::hash(ipad, message);
    auto expected = Blake2s::hash(opad, inner);
    auto mac = crypto::hmac_blake2s(key, message);
    CHECK(to_hex(mac) == to_hex(expected));
    // A key longer than the block is hashed first.
    const Bytes long_key = counting(100);
    auto hashed = Blake2s::hash(long_key);
    CHECK(to_hex(crypto::hmac_blake2s(long_key, message)) == to_hex(crypto::hmac_blake2s(hashed, message)));
    // HKDF-Expand: T(1) = HMAC(PRK, info || 0x01), T(2) = HMAC(PRK, T(1) || info || 0x02).
    auto prk = crypto::hkdf_blake2s_extract(as_bytes("salt"), as_bytes("ikm"));
    auto okm = crypto::hkdf_blake2s_expand(prk, {}, 64);
    auto t1 = crypto::hmac_blake2s(prk, Bytes{1});
    Bytes t2_input(t1.begin(), t1.end());
    t2_input.push_back(2);
    auto t2 = crypto::hmac_blake2s(prk, t2_input);
    CHECK(to_hex(ByteView(okm).first(32)) == to_hex(t1));
    CHECK(to_hex(ByteView(okm).subspan(32)) == to_hex(t2));
}

}  // namespace blake2s_vectors
