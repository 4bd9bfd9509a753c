// ESP with AES-CBC + HMAC-SHA-2 (RFC 4303, RFC 3602, RFC 4868): the packet layout checked
// with the bare primitives, a random IV per packet, the truncated ICV verified before
// anything is decrypted, the shared anti-replay window and the ESN high half in the ICV.
#include "support/providers.hpp"

#include <tapsec/tapsec.hpp>

using namespace tapsec;
using namespace tapsec::crypto;

namespace esp_cbc_test {

struct Suite {
    esp::Algorithm algorithm;
    esp::Integrity integrity;
};
constexpr Suite cbc_suites[] = {{esp::Algorithm::aes_128_cbc, esp::Integrity::hmac_sha2_256_128},
                                {esp::Algorithm::aes_256_cbc, esp::Integrity::hmac_sha2_512_256},
                                {esp::Algorithm::aes_128_cbc, esp::Integrity::hmac_sha2_384_192}};

/// Keys for a pair of peers (a sends what b receives), each direction's key its own.
std::pair<esp::ChildSaKeys, esp::ChildSaKeys> key_pair(Suite s, bool esn = false) {
    const std::size_t n = esp::keymat_length(s.algorithm, s.integrity);
    esp::ChildSaKeys a;
    a.algorithm = s.algorithm;
    a.integrity = s.integrity;
    a.inbound_spi = 0x1001;
    a.outbound_spi = 0x2002;
    a.inbound_key = SecretBytes(n);
    a.outbound_key = SecretBytes(n);
    for (std::size_t i = 0; i < n; ++i) {
        a.inbound_key[i] = static_cast<std::uint8_t>(i);
        a.outbound_key[i] = static_cast<std::uint8_t>(0x80 + i);
    }
    a.extended_sequence_numbers = esn;
    esp::ChildSaKeys b = a;
    std::swap(b.inbound_spi, b.outbound_spi);
    std::swap(b.inbound_key, b.outbound_key);
    return {a, b};
}

template <class Seal, class Open = Seal>
auto sa_pair(Suite s, bool esn = false) {
    auto [ka, kb] = key_pair(s, esn);
    auto a = esp::SecurityAssociation<Seal>::import(ka);
    auto b = esp::SecurityAssociation<Open>::import(kb);
    REQUIRE(a.ok());
    REQUIRE(b.ok());
    return std::pair{std::move(*a), std::move(*b)};
}


TEST_CASE_TEMPLATE("esp cbc: the packet is SPI | seq | IV | AES-CBC(payload | padding | trailer) | truncated HMAC", P,
                   TAPSEC_TEST_PROVIDERS) {
    for (const Suite s : cbc_suites) {
        CAPTURE(esp::name(s.algorithm));
        CAPTURE(esp::name(s.integrity));
        auto [keys, unused] = key_pair(s);
        (void)unused;
        auto sa = esp::SecurityAssociation<P>::import(keys);
        REQUIRE(sa.ok());
        const std::size_t k = esp::key_length(s.algorithm), icv = esp::integrity_icv_length(s.integrity);
        for (std::size_t size : {0u, 1u, 13u, 14u, 15u, 16u, 100u, 1400u}) {
            CAPTURE(size);
            Bytes payload(size);
            for (std::size_t i = 0; i < size; ++i) payload[i] = static_cast<std::uint8_t>(3 * i + 1);
            Bytes packet(sa->sealed_size(size));
            auto n = sa->protect(payload, esp::next_header_ipv4, packet);
            REQUIRE(n.ok());
            REQUIRE(*n == packet.size());
            CHECK(packet.size() <= esp::max_sealed_size(size));
            CHECK((packet.size() - 8 - 16 - icv) % 16 == 0);
            CHECK(esp::spi_of(packet) == keys.outbound_spi);
            // The ICV by hand: HMAC over everything before it, cut to half the hash.
            const ByteView covered = ByteView(packet).first(packet.size() - icv);
            const SecretBytes mac =
                P::hmac(esp::integrity_hash(s.integrity), ByteView(keys.outbound_key).subspan(k), covered);
            CHECK(ByteView(mac).first(icv).size() == icv);
            CHECK(std::equal(mac.begin(), mac.begin() + static_cast<std::ptrdiff_t>(icv), packet.end() - static_cast<std::ptrdiff_t>(icv)));
            // The ciphertext by hand: CBC under the packet's IV gives payload, 1 2 3 ..., pad length, next header.
            auto cipher = P::CbcCipher::create(ByteView(keys.outbound_key).first(k));
            REQUIRE(cipher.ok());
            Bytes text(packet.begin() + 24, packet.end() - static_cast<std::ptrdiff_t>(icv));
            REQUIRE(cipher->decrypt(ByteView(packet).subspan(8, 16), text));
            CHECK(text.back() == esp::next_header_ipv4);
            const std::size_t pad = text[text.size() - 2];
            CHECK(pad < 16);
            CHECK(size + pad + 2 == text.size());
            CHECK(std::equal(payload.begin(), payload.end(), text.begin()));
            for (std::size_t i = 0; i < pad; ++i) CHECK(text[size + i] == i + 1);
        }
    }
}

TEST_CASE_TEMPLATE("esp cbc: round trip, a fresh IV per packet, and both providers read each other", P, TAPSEC_TEST_PROVIDERS) {
    for (const Suite s : cbc_suites) {
        CAPTURE(esp::name(s.algorithm));
        auto [a, b] = sa_pair<P, std::conditional_t<std::is_same_v<P, Botan2>, OpenSsl3, Botan2>>(s);
        const Bytes inner(1400, 0x5a);
        Bytes first(a.sealed_size(inner.size())), second(first.size());
        REQUIRE(a.protect(inner, esp::next_header_ipv4, first));
        REQUIRE(a.protect(inner, esp::next_header_ipv4, second));
        CHECK_FALSE(std::equal(first.begin() + 8, first.begin() + 24, second.begin() + 8));  // random IVs
        for (Bytes* packet : {&second, &first}) {  // out of order is fine inside the window
            auto opened = b.unprotect(*packet);
            REQUIRE(opened.ok());
            CHECK(Bytes(opened->payload.begin(), opened->payload.end()) == inner);
            CHECK(opened->next_header == esp::next_header_ipv4);
        }
        CHECK(b.unprotect(first).error() == esp::Error::replayed);
        // A dummy packet (next header 59) opens to nothing.
        Bytes dummy(a.sealed_size(0));
        REQUIRE(a.protect({}, esp::next_header_dummy, dummy));
        auto empty = b.unprotect(dummy);
        REQUIRE(empty.ok());
        CHECK(empty->payload.empty());
    }
}

TEST_CASE_TEMPLATE("esp cbc: any flipped bit fails the ICV and leaves the replay window untouched", P, TAPSEC_TEST_PROVIDERS) {
    auto [a, b] = sa_pair<P>(cbc_suites[1]);
    const Bytes inner(61, 7);
    Bytes packet(a.sealed_size(inner.size()));
    REQUIRE(a.protect(inner, esp::next_header_ipv4, packet));
    // The sequence number (4..7), the IV (8..23), the ciphertext, the ICV (last octet).
    for (std::size_t at : {std::size_t{7}, std::size_t{8}, std::size_t{23}, std::size_t{40}, packet.size() - 1}) {
        CAPTURE(at);
        Bytes tampered = packet;
        tampered[at] ^= 0x02;  // (sequence 1 -> 3: a fresh number, so the ICV decides)
        auto refused = b.unprotect(tampered);
        REQUIRE_FALSE(refused.ok());
        CHECK(refused.error() == esp::Error::authentication_failed);
    }
    Bytes original = packet;
    auto opened = b.unprotect(original);  // the genuine packet still opens: nothing was committed
    REQUIRE(opened.ok());
    CHECK(opened->sequence == 1);
    // Malformed: shorter than one block of ciphertext, or not block-aligned.
    Bytes short_packet(8 + 16 + 32 + 15, 0);
    CHECK(b.unprotect(short_packet).error() == esp::Error::malformed_packet);
    Bytes misaligned(packet.begin(), packet.end() - 1);
    CHECK(b.unprotect(misaligned).error() == esp::Error::malformed_packet);
    // A packet for another SPI is refused before any cryptography.
    Bytes other = packet;
    other[3] ^= 0xff;
    CHECK(b.unprotect(other).error() == esp::Error::unknown_spi);
}

TEST_CASE("esp cbc: the ESN high half is covered by the ICV across the 2^32 wrap") {
    const Suite s = cbc_suites[0];
    auto [a, b] = sa_pair<Botan2>(s, true);
    const Bytes inner{'p', 'a', 'y', 'l', 'o', 'a', 'd'};
    Bytes buffer(a.sealed_size(inner.size()));
    for (std::uint64_t seq : {0xfffffff0ull, 0xffffffffull, 0x100000000ull, 0x100000005ull}) {
        a.set_next_sequence(seq);
        auto n = a.protect(inner, 4, buffer);
        REQUIRE(n);
        auto opened = b.unprotect(MutableByteView(buffer).first(*n));
        REQUIRE(opened);
        CHECK(opened->sequence == seq);
    }
    // The same keys without ESN on the receiving side: the high half is missing from its
    // ICV input, so even sequence 1 fails to authenticate.
    auto [ka, kb] = key_pair(s, true);
    kb.extended_sequence_numbers = false;
    auto sender = esp::SecurityAssociation<Botan2>::import(ka).value();
    auto receiver = esp::SecurityAssociation<Botan2>::import(kb).value();
    auto n = sender.protect(inner, 4, buffer);
    REQUIRE(n);
    CHECK(receiver.unprotect(MutableByteView(buffer).first(*n)).error() == esp::Error::authentication_failed);
}

TEST_CASE("esp cbc: keys that do not fit the suite are refused at import") {
    auto [keys, unused] = key_pair(cbc_suites[0]);
    (void)unused;
    esp::ChildSaKeys no_integrity = keys;
    no_integrity.integrity = esp::Integrity::none;  // AES-CBC alone would be unauthenticated
    CHECK(esp::SecurityAssociation<Botan2>::import(no_integrity).error() == esp::Error::invalid_keys);
    esp::ChildSaKeys aead_with_mac = keys;
    aead_with_mac.algorithm = esp::Algorithm::aes_128_gcm_16;
    CHECK(esp::SecurityAssociation<Botan2>::import(aead_with_mac).error() == esp::Error::invalid_keys);
    esp::ChildSaKeys short_key = keys;
    short_key.inbound_key.pop_back();
    CHECK(esp::SecurityAssociation<Botan2>::import(short_key).error() == esp::Error::invalid_keys);
    // KEYMAT: encryption key first, then the integrity key, per direction (RFC 7296 2.17).
    CHECK(esp::keymat_length(esp::Algorithm::aes_256_cbc, esp::Integrity::hmac_sha2_512_256) == 32 + 64);
    CHECK(esp::keymat_length(esp::Algorithm::aes_128_gcm_16, esp::Integrity::none) == 20);
    const SecretBytes sk_d(32, 9);
    const Bytes ni(32, 1), nr(32, 2);
    const auto exported = ikev2::export_child_sa_keys<Botan2>(ikev2::Prf::hmac_sha2_256, sk_d, ni, nr, esp::Algorithm::aes_128_cbc, true, 1, 2, false, {},
                                                              esp::Integrity::hmac_sha2_256_128);
    CHECK(exported.integrity == esp::Integrity::hmac_sha2_256_128);
    CHECK(exported.outbound_key.size() == 16 + 32);
    const SecretBytes keymat = ikev2::prf_plus<Botan2>(ikev2::Prf::hmac_sha2_256, sk_d, [&] {
        Bytes seed = ni;
        append(seed, nr);
        return seed;
    }(), 2 * 48);
    CHECK(exported.outbound_key == SecretBytes(keymat.begin(), keymat.begin() + 48));
    CHECK(exported.inbound_key == SecretBytes(keymat.begin() + 48, keymat.end()));
    CHECK(esp::SecurityAssociation<Botan2>::import(exported).ok());
}

}  // namespace esp_cbc_test
