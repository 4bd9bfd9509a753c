// The crypto-provider seam: both providers (Botan 2, the default, and OpenSSL 3 +
// Botan) give the same answers for published vectors, interoperate with each other,
// and run a protocol's record layer unchanged.
#include "support/providers.hpp"

#include <tapsec/crypto/openssl.hpp>
#include <tapsec/tapsec.hpp>

using namespace tapsec;
using namespace tapsec::crypto;

TEST_CASE_TEMPLATE("published vectors through each provider", P, Botan2, OpenSsl3) {
    // FIPS 180-2: SHA-256("abc"); SHA-384("abc")
    CHECK(to_hex(P::hash(HashAlgorithm::sha256, as_bytes("abc"))) ==
          "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    CHECK(to_hex(P::hash(HashAlgorithm::sha384, as_bytes("abc"))) ==
          "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed8086072ba1e7cc2358baeca134c825a7");
    // RFC 4231 test case 2: HMAC-SHA-256 with key "Jefe"
    CHECK(to_hex(P::hmac(HashAlgorithm::sha256, as_bytes("Jefe"), as_bytes("what do ya want for nothing?"))) ==
          "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    // RFC 5869 A.1: HKDF-SHA-256 basic test case
    const auto ikm = from_hex("0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b");
    const auto salt = from_hex("000102030405060708090a0b0c");
    const auto info = from_hex("f0f1f2f3f4f5f6f7f8f9");
    const auto prk = P::hkdf_extract(HashAlgorithm::sha256, salt, ikm);
    CHECK(to_hex(prk) == "077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5");
    CHECK(to_hex(P::hkdf_expand(HashAlgorithm::sha256, prk, info, 42)) ==
          "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865");
    // RFC 5869 A.3: zero-length salt and info
    const auto prk3 = P::hkdf_extract(HashAlgorithm::sha256, {}, ikm);
    CHECK(to_hex(prk3) == "19ef24a32c717b167f33a91d6f648bdf96596776afdb6377ac434c1c293ccb04");
    CHECK(to_hex(P::hkdf_expand(HashAlgorithm::sha256, prk3, {}, 42)) ==
          "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8");
    // FIPS-197 C.1: AES-128 single block
    auto aes = P::BlockCipher::aes(from_hex("000102030405060708090a0b0c0d0e0f"));
    REQUIRE(aes.ok());
    auto block = from_hex("00112233445566778899aabbccddeeff");
    aes->encrypt_blocks(block.data(), block.data(), 1);
    CHECK(to_hex(block) == "69c4e0d86a7b0430d8cdb78070b4c55a");
    // RFC 7748 6.1: X25519 Diffie-Hellman
    auto alice = P::KeyShare::from_x25519_private(from_hex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"));
    REQUIRE(alice.ok());
    CHECK(to_hex(alice->public_key()) == "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a");
    auto shared = alice->agree(from_hex("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f"));
    REQUIRE(shared.ok());
    CHECK(to_hex(*shared) == "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742");
    // RFC 8439 2.8.2: ChaCha20-Poly1305 AEAD
    auto chacha = P::Aead::create(AeadAlgorithm::chacha20_poly1305,
                                  from_hex("808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f"));
    REQUIRE(chacha.ok());
    const std::string sunscreen =
        "Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.";
    Bytes text(sunscreen.begin(), sunscreen.end());
    const auto nonce = from_hex("070000004041424344454647");
    const auto aad = from_hex("50515253c0c1c2c3c4c5c6c7");
    chacha->seal(nonce, aad, text);
    CHECK(to_hex(ByteView(text).last(16)) == "1ae10b594f09e26a7e902ecbd0600691");
    CHECK(chacha->open(nonce, aad, text));
    CHECK(std::string(text.begin(), text.end()) == sunscreen);
}

TEST_CASE("the two providers interoperate: AEAD, key agreement, hashing state") {
    for (auto alg : {AeadAlgorithm::aes_128_gcm, AeadAlgorithm::aes_256_gcm, AeadAlgorithm::chacha20_poly1305,
                     AeadAlgorithm::xchacha20_poly1305}) {
        Bytes key(key_size(alg), 0x42), nonce(nonce_size(alg), 0x07), aad{1, 2, 3};
        auto sealer = Botan2::Aead::create(alg, key);
        auto opener = OpenSsl3::Aead::create(alg, key);
        REQUIRE(sealer.ok());
        REQUIRE(opener.ok());
        for (std::size_t size : {0u, 1u, 15u, 16u, 63u, 64u, 1420u, 16384u}) {
            CAPTURE(size);
            Bytes plain(size, 0x5a), a = plain, b = plain;
            sealer->seal(nonce, aad, a);
            opener->seal(nonce, aad, b);
            CHECK(a == b);  // same key and nonce: byte-identical ciphertext and tag
            CHECK(opener->open(nonce, aad, a));
            CHECK(a == plain);
            b.back() ^= 1;  // tampered tag
            CHECK_FALSE(sealer->open(nonce, aad, b));
            CHECK_FALSE(opener->open(nonce, aad, b));
        }
    }
    for (auto group : {KeyExchangeGroup::x25519, KeyExchangeGroup::secp256r1, KeyExchangeGroup::secp384r1}) {
        auto a = Botan2::KeyShare::generate(group);
        auto b = OpenSsl3::KeyShare::generate(group);
        REQUIRE(a.ok());
        REQUIRE(b.ok());
        auto ab = a->agree(b->public_key());
        auto ba = b->agree(a->public_key());
        REQUIRE(ab.ok());
        REQUIRE(ba.ok());
        CHECK(*ab == *ba);
        // malformed peer values are errors, never crashes
        CHECK_FALSE(b->agree(Bytes(3, 1)).ok());
        Bytes off_curve = a->public_key();
        if (group != KeyExchangeGroup::x25519) {
            off_curve.back() ^= 1;
            CHECK_FALSE(b->agree(off_curve).ok());
            CHECK_FALSE(a->agree(off_curve).ok());
        }
    }
    // X25519 low-order point (all zero): the shared secret would be zero, refused
    auto x = OpenSsl3::KeyShare::generate(KeyExchangeGroup::x25519);
    CHECK_FALSE(x->agree(Bytes(32, 0)).ok());
    auto y = Botan2::KeyShare::generate(KeyExchangeGroup::x25519);
    CHECK_FALSE(y->agree(Bytes(32, 0)).ok());

    OpenSsl3::Hash h(HashAlgorithm::sha256);
    h.update(as_bytes("ab"));
    const auto peeked = h.peek();
    h.update(as_bytes("c"));
    CHECK(peeked == Botan2::hash(HashAlgorithm::sha256, as_bytes("ab")));
    CHECK(h.final() == Botan2::hash(HashAlgorithm::sha256, as_bytes("abc")));
}

TEST_CASE("a protocol's record layer runs unchanged on either provider (TLS 1.3 records across providers)") {
    for (const tls13::CipherSuite* suite : tls13::all_cipher_suites) {
        CAPTURE(suite->name);
        tls13::TrafficSecret secret{suite, SecretBytes(crypto::digest_size(suite->hash), 0x11)};
        tls13::RecordLayer<Botan2> botan_side;
        tls13::RecordLayer<OpenSsl3> openssl_side;
        REQUIRE_FALSE(botan_side.install_write(secret));
        REQUIRE_FALSE(openssl_side.install_read(secret));
        Bytes wire;
        const Bytes message(40000, 0x61);  // three records
        REQUIRE_FALSE(botan_side.write(tls13::ContentType::application_data, message, wire));
        REQUIRE_FALSE(openssl_side.feed(wire));
        Bytes received;
        for (;;) {
            auto r = openssl_side.next();
            REQUIRE(r.ok());
            if (!*r) break;
            append(received, (*r)->data);
        }
        CHECK(received == message);
    }
}

#include "support/pki.hpp"

TEST_CASE_TEMPLATE("certificate validation verdicts are distinct", P, Botan2, OpenSsl3) {
    test::TestPki pki;
    REQUIRE(pki.ok());
    auto leaf = pki.issue("server");
    auto expired = pki.issue("old", test::KeyType::ecdsa_p256, "localhost", -1);
    REQUIRE(!leaf.certificate.empty());
    REQUIRE(!expired.certificate.empty());
    auto der = [](const std::string& pem) {
        std::vector<Bytes> out;
        auto certificates = P::Certificate::chain_from_pem(pem);
        for (const auto& c : certificates.value()) out.push_back(c.der());
        return out;
    };
    TrustStore trust{{pki.ca().certificate_pem()}};
    const auto now = std::chrono::system_clock::now();
    CHECK_FALSE(P::validate_chain(der(leaf.certificate_pem()), trust, "localhost", now));
    CHECK(P::validate_chain(der(leaf.certificate_pem()), trust, "example.org", now) == make_error_code(Errc::certificate_name_mismatch));
    CHECK(P::validate_chain(der(expired.certificate_pem()), trust, "localhost", now) == make_error_code(Errc::certificate_expired));
    CHECK(P::validate_chain(der(leaf.certificate_pem()), TrustStore{}, "localhost", now) == make_error_code(Errc::certificate_untrusted));

    // A self-signed certificate trusted as itself (`openssl req -x509 ...` used as its own CA file).
    test::TempDir dir;
    REQUIRE(test::run("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout " + dir.file("k.pem") +
                      " -out " + dir.file("c.pem") + " -days 30 -subj /CN=localhost -addext subjectAltName=DNS:localhost >/dev/null 2>&1") == 0);
    const auto self = test::read_file(dir.file("c.pem"));
    // Its notBefore is the second openssl made it, after `now` above: on a slow run (under
    // ASan) that is seconds later, and checked at `now` it would be "not yet valid".
    const auto made = std::chrono::system_clock::now();
    CHECK_FALSE(P::validate_chain(der(self), TrustStore{{self}}, "localhost", made));
    CHECK(P::validate_chain(der(self), TrustStore{{self}}, "other.example", made) == make_error_code(Errc::certificate_name_mismatch));
    CHECK(P::validate_chain(der(self), TrustStore{{pki.ca().certificate_pem()}}, "localhost", made) ==
          make_error_code(Errc::certificate_untrusted));
    CHECK(P::validate_chain(der(self), TrustStore{{self}}, "localhost", made + std::chrono::hours(24 * 400)) ==
          make_error_code(Errc::certificate_expired));
}

// ---- the OpenSSL provider's own PKI: signatures, keys, chains, names, HKDF -------------

namespace provider_test {

/// A key of each kind both providers sign with, from the test PKI (PKCS#8 PEM).
struct SigningCase {
    const char* name;
    test::KeyType type;
};
constexpr SigningCase signing_cases[] = {
    {"Ed25519", test::KeyType::ed25519},
    {"ECDSA P-256", test::KeyType::ecdsa_p256},
    {"RSA 2048", test::KeyType::rsa2048},
};

template <class Signer, class Verifier>
void sign_and_verify_across(const test::CertificateFiles& leaf, SignatureScheme scheme) {
    auto key = Signer::PrivateKey::from_pem(leaf.key_pem());
    REQUIRE(key.ok());
    auto chain = Verifier::Certificate::chain_from_pem(leaf.certificate_pem());
    REQUIRE(chain.ok());
    const std::string_view text("TLS 1.3, server CertificateVerify\0transcript", 44);
    const Bytes message(text.begin(), text.end());
    auto signature = key->sign(scheme, message);
    REQUIRE(signature.ok());
    CHECK(chain->front().verify(scheme, message, *signature));
    Bytes altered = message;
    altered.back() ^= 1;
    CHECK_FALSE(chain->front().verify(scheme, altered, *signature));
    Bytes broken = *signature;
    broken[broken.size() / 2] ^= 0x40;
    CHECK_FALSE(chain->front().verify(scheme, message, broken));
}


TEST_CASE("a signature made by one provider is verified by the other (Ed25519, ECDSA, RSA-PSS, RSA PKCS#1 v1.5)") {
    test::TestPki pki;
    REQUIRE(pki.ok());
    for (const auto& c : signing_cases) {
        CAPTURE(c.name);
        const auto leaf = pki.issue(std::string("sig-") + std::to_string(static_cast<int>(c.type)), c.type);
        REQUIRE(!leaf.certificate.empty());
        auto botan_key = Botan2::PrivateKey::from_pem(leaf.key_pem());
        auto openssl_key = OpenSsl3::PrivateKey::from_pem(leaf.key_pem());
        REQUIRE(botan_key.ok());
        REQUIRE(openssl_key.ok());
        // The same schemes, in the same preference order, from either provider.
        CHECK(botan_key->schemes() == openssl_key->schemes());
        std::vector<SignatureScheme> schemes = openssl_key->schemes();
        REQUIRE(!schemes.empty());
        if (c.type == test::KeyType::rsa2048)
            schemes.insert(schemes.end(), {SignatureScheme::rsa_pkcs1_sha256, SignatureScheme::rsa_pkcs1_sha384,
                                           SignatureScheme::rsa_pkcs1_sha512});
        for (auto scheme : schemes) {
            CAPTURE(static_cast<int>(scheme));
            sign_and_verify_across<OpenSsl3, Botan2>(leaf, scheme);
            sign_and_verify_across<Botan2, OpenSsl3>(leaf, scheme);
            sign_and_verify_across<OpenSsl3, OpenSsl3>(leaf, scheme);
        }
        // A scheme that does not fit the key is refused, not silently substituted.
        const auto wrong = c.type == test::KeyType::ed25519 ? SignatureScheme::ecdsa_secp256r1_sha256 : SignatureScheme::ed25519;
        CHECK(openssl_key->sign(wrong, as_bytes(std::string_view("x"))).error() == make_error_code(Errc::unsupported_algorithm));
    }
}

TEST_CASE("ECDSA P-384 and RSASSA-PSS keys through the OpenSSL provider") {
    test::TempDir dir;
    REQUIRE(test::run("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-384 -nodes -keyout " + dir.file("p384.key") +
                      " -out " + dir.file("p384.crt") + " -days 30 -subj /CN=p384 >/dev/null 2>&1") == 0);
    test::CertificateFiles p384{dir.file("p384.crt"), dir.file("p384.key")};
    auto key = OpenSsl3::PrivateKey::from_pem(p384.key_pem());
    REQUIRE(key.ok());
    CHECK(key->schemes() == std::vector<SignatureScheme>{SignatureScheme::ecdsa_secp384r1_sha384});
    sign_and_verify_across<OpenSsl3, Botan2>(p384, SignatureScheme::ecdsa_secp384r1_sha384);
    sign_and_verify_across<Botan2, OpenSsl3>(p384, SignatureScheme::ecdsa_secp384r1_sha384);
    // The curve is part of the scheme (RFC 8446 4.2.3): a P-384 key never signs as P-256.
    CHECK_FALSE(key->sign(SignatureScheme::ecdsa_secp256r1_sha256, as_bytes(std::string_view("x"))).ok());

    // rsa_pss_pss_sha256 with an RSASSA-PSS (id-RSASSA-PSS) key, which Botan 2 cannot load.
    REQUIRE(test::run("openssl req -x509 -newkey rsa-pss -pkeyopt rsa_keygen_bits:2048 -nodes -keyout " + dir.file("pss.key") +
                      " -out " + dir.file("pss.crt") + " -days 30 -subj /CN=pss >/dev/null 2>&1") == 0);
    test::CertificateFiles pss{dir.file("pss.crt"), dir.file("pss.key")};
    auto pss_key = OpenSsl3::PrivateKey::from_pem(pss.key_pem());
    REQUIRE(pss_key.ok());
    CHECK(pss_key->schemes() == std::vector<SignatureScheme>{SignatureScheme::rsa_pss_pss_sha256});
    sign_and_verify_across<OpenSsl3, OpenSsl3>(pss, SignatureScheme::rsa_pss_pss_sha256);
    CHECK_FALSE(pss_key->sign(SignatureScheme::rsa_pss_rsae_sha256, as_bytes(std::string_view("x"))).ok());
}

TEST_CASE("RSA-PSS with an injected salt: the OpenSSL provider's signature is Botan's byte for byte") {
    test::TestPki pki;
    REQUIRE(pki.ok());
    const auto leaf = pki.issue("pss", test::KeyType::rsa2048);
    auto botan_key = Botan2::PrivateKey::from_pem(leaf.key_pem());
    auto openssl_key = OpenSsl3::PrivateKey::from_pem(leaf.key_pem());
    REQUIRE(botan_key.ok());
    REQUIRE(openssl_key.ok());
    const Bytes message(300, 0x5a);
    for (auto scheme : {SignatureScheme::rsa_pss_rsae_sha256, SignatureScheme::rsa_pss_rsae_sha384, SignatureScheme::rsa_pss_rsae_sha512}) {
        CAPTURE(static_cast<int>(scheme));
        std::uint8_t next = 1;
        const auto counting = [&next](MutableByteView out) {
            for (auto& b : out) b = next++;
        };
        next = 1;
        auto ours = openssl_key->sign(scheme, message, counting);
        next = 1;
        auto theirs = botan_key->sign(scheme, message, counting);
        REQUIRE(ours.ok());
        REQUIRE(theirs.ok());
        CHECK(to_hex(*ours) == to_hex(*theirs));
        auto chain = Botan2::Certificate::chain_from_pem(leaf.certificate_pem());
        CHECK(chain->front().verify(scheme, message, *ours));
    }
}

TEST_CASE("one certificate chain (leaf, intermediate, root) judged alike by both providers") {
    test::TempDir dir;
    const auto sh = [&](const std::string& command) { return test::run(command + " >/dev/null 2>&1") == 0; };
    const std::string root = dir.file("root"), mid = dir.file("mid"), leaf = dir.file("leaf");
    test::write_file(dir.file("ca.ext"), "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n");
    test::write_file(dir.file("leaf.ext"), "subjectAltName=DNS:www.example.test,DNS:*.wild.example.test,IP:192.0.2.7,IP:2001:db8::7\n"
                                     "basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n");
    REQUIRE(sh("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout " + root + ".key -out " + root +
               ".crt -days 30 -subj /CN=root -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign"));
    REQUIRE(sh("openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout " + mid + ".key -out " + mid +
               ".csr -subj /CN=intermediate"));
    REQUIRE(sh("openssl x509 -req -in " + mid + ".csr -CA " + root + ".crt -CAkey " + root + ".key -CAcreateserial -days 30 -out " +
               mid + ".crt -extfile " + dir.file("ca.ext")));
    REQUIRE(sh("openssl req -new -newkey ed25519 -nodes -keyout " + leaf + ".key -out " + leaf + ".csr -subj /CN=www.example.test"));
    REQUIRE(sh("openssl x509 -req -in " + leaf + ".csr -CA " + mid + ".crt -CAkey " + mid + ".key -CAcreateserial -days 30 -out " +
               leaf + ".crt -extfile " + dir.file("leaf.ext")));
    const auto der = [](const std::string& pem) {
        std::vector<Bytes> out;
        const auto parsed = OpenSsl3::Certificate::chain_from_pem(pem);  // kept: the loop below borrows from it
        for (const auto& c : parsed.value()) out.push_back(c.der());
        return out;
    };
    std::vector<Bytes> chain = der(test::read_file(leaf + ".crt"));
    for (auto& d : der(test::read_file(mid + ".crt"))) chain.push_back(std::move(d));
    const TrustStore roots{{test::read_file(root + ".crt")}};
    const auto now = std::chrono::system_clock::now();
    struct Probe {
        std::vector<Bytes> chain;
        TrustStore trust;
        const char* host;
        std::chrono::system_clock::time_point at;
        std::error_code expected;
    };
    const std::error_code ok{};
    const std::vector<Probe> probes = {
        {chain, roots, "www.example.test", now, ok},
        {chain, roots, "", now, ok},
        {chain, roots, "a.wild.example.test", now, ok},
        {chain, roots, "a.b.wild.example.test", now, Errc::certificate_name_mismatch},
        {chain, roots, "example.test", now, Errc::certificate_name_mismatch},
        {chain, roots, "192.0.2.7", now, ok},
        {chain, roots, "192.0.2.8", now, Errc::certificate_name_mismatch},
        {chain, roots, "2001:db8:0:0:0:0:0:7", now, ok},
        {chain, roots, "2001:db8::8", now, Errc::certificate_name_mismatch},
        {chain, roots, "www.example.test", now + std::chrono::hours(24 * 40), Errc::certificate_expired},
        {chain, roots, "www.example.test", now - std::chrono::hours(24 * 2), Errc::certificate_expired},
        {{chain.front()}, roots, "www.example.test", now, Errc::certificate_untrusted},  // intermediate missing
        // An anchor is a self-signed certificate: a configured leaf or intermediate issued by
        // another CA is not one (both providers, as libssl by default).
        {chain, TrustStore{{test::read_file(leaf + ".crt")}}, "www.example.test", now, Errc::certificate_untrusted},
        {chain, TrustStore{{test::read_file(mid + ".crt")}}, "www.example.test", now, Errc::certificate_untrusted},
        {chain, TrustStore{}, "www.example.test", now, Errc::certificate_untrusted},
    };
    for (std::size_t i = 0; i < probes.size(); ++i) {
        const auto& p = probes[i];
        const std::string host = p.host;
        CAPTURE(i);
        CAPTURE(host);
        CHECK(Botan2::validate_chain(p.chain, p.trust, p.host, p.at) == p.expected);
        CHECK(OpenSsl3::validate_chain(p.chain, p.trust, p.host, p.at) == p.expected);
    }
    // Purpose, which only the OpenSSL provider's overload takes: a serverAuth-only leaf is no client.
    std::vector<OpenSsl3::Certificate> parsed;
    for (const auto& d : chain) parsed.push_back(OpenSsl3::Certificate::from_der(d).value());
    auto anchors = OpenSsl3::TrustAnchors::load(roots);
    REQUIRE(anchors.ok());
    CHECK_FALSE(OpenSsl3::validate_chain(parsed, *anchors, "www.example.test", now, OpenSsl3::CertificatePurpose::tls_server));
    CHECK(OpenSsl3::validate_chain(parsed, *anchors, "www.example.test", now, OpenSsl3::CertificatePurpose::tls_client) ==
          make_error_code(Errc::certificate_untrusted));
}

TEST_CASE("malformed keys and certificates are clear errors in the OpenSSL provider, never a prompt") {
    CHECK(OpenSsl3::PrivateKey::from_pem("not a key").error() == make_error_code(Errc::invalid_private_key));
    CHECK(OpenSsl3::Certificate::chain_from_pem("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n").error() ==
          make_error_code(Errc::invalid_certificate));
    CHECK(OpenSsl3::Certificate::from_der(Bytes{0x30, 0x03, 0x02, 0x01, 0x01}).error() == make_error_code(Errc::invalid_certificate));
    test::TestPki pki;
    REQUIRE(pki.ok());
    auto der = OpenSsl3::Certificate::chain_from_pem(pki.ca().certificate_pem()).value().front().der();
    der.push_back(0);  // trailing garbage after the certificate
    CHECK_FALSE(OpenSsl3::Certificate::from_der(der).ok());
    // An encrypted key: refused at once (a passphrase prompt would hang a server).
    test::TempDir dir;
    REQUIRE(test::run("openssl genpkey -algorithm ed25519 -aes256 -pass pass:secret -out " + dir.file("enc.key") + " >/dev/null 2>&1") == 0);
    CHECK(OpenSsl3::PrivateKey::from_pem(test::read_file(dir.file("enc.key"))).error() == make_error_code(Errc::invalid_private_key));
}

TEST_CASE("raw Ed25519 and HKDF edge cases: the OpenSSL provider answers as Botan does") {
    const Bytes seed(32, 0x42);
    const Bytes message = {1, 2, 3};
    CHECK(OpenSsl3::Ed25519::public_key(seed).value() == Botan2::Ed25519::public_key(seed).value());
    const Bytes signature = OpenSsl3::Ed25519::sign(seed, message).value();
    CHECK(signature == Botan2::Ed25519::sign(seed, message).value());  // deterministic (RFC 8032)
    CHECK(Botan2::Ed25519::verify(Botan2::Ed25519::public_key(seed).value(), message, signature));
    Bytes forged = signature;
    forged[0] ^= 1;
    CHECK_FALSE(OpenSsl3::Ed25519::verify(OpenSsl3::Ed25519::public_key(seed).value(), message, forged));
    CHECK_FALSE(OpenSsl3::Ed25519::sign(Bytes(31, 1), message).ok());

    for (auto h : {HashAlgorithm::sha256, HashAlgorithm::sha384}) {
        for (std::size_t ikm_size : std::vector<std::size_t>{0, 1, 48}) {
            const Bytes ikm(ikm_size, 0x0b), salt(13, 0x01);
            CHECK(OpenSsl3::hkdf_extract(h, salt, ikm) == hkdf_extract_with<Botan2>(h, salt, ikm));
            CHECK(OpenSsl3::hkdf_extract(h, {}, ikm) == hkdf_extract_with<Botan2>(h, {}, ikm));
        }
        const auto prk = hkdf_extract_with<Botan2>(h, {}, Bytes(32, 7));
        for (std::size_t length : std::vector<std::size_t>{0, 1, 32, 100, 255 * digest_size(h)})
            CHECK(OpenSsl3::hkdf_expand(h, prk, as_bytes(std::string_view("tls13 c hs traffic")), length) ==
                  hkdf_expand_with<Botan2>(h, prk, as_bytes(std::string_view("tls13 c hs traffic")), length));
        CHECK_THROWS_AS(OpenSsl3::hkdf_expand(h, prk, {}, 255 * digest_size(h) + 1), std::length_error);
    }
}

TEST_CASE("tapsec tls13 --provider: the default is OpenSSL where built with it, named in demo; unknown names exit 2") {
    const auto tapsec = [](const std::string& args) {
        test::TempDir dir;
        const std::string log = dir.file("out");
        std::string command = TAPSEC_TOOL_PATH;  // appended piecewise: GCC 12 warns falsely on a + chain here
        command.append(" ").append(args).append(" </dev/null >").append(log).append(" 2>&1");
        const int raw = test::run(command);
        return std::pair<int, std::string>{WEXITSTATUS(raw), test::read_file(log)};
    };
    const auto demo_run = tapsec("demo");  // not a structured binding: CAPTURE's lambda reads it
    const int demo_status = demo_run.first;
    const std::string& demo = demo_run.second;
    CAPTURE(demo);
    CHECK(demo_status == 0);
    CHECK(demo.find("external PSK, provider OpenSSL 3 libcrypto") != std::string::npos);
    const auto [unknown_status, unknown] = tapsec("connect tls13 127.0.0.1:1 --provider wolfssl");
    CHECK(unknown_status == 2);
    CHECK(unknown.find("--provider: 'wolfssl' is not built into this tapsec (openssl, botan)") != std::string::npos);
    // Both names are accepted: the run gets as far as the (refused) connection, exit 1.
    for (const char* name : {"botan", "openssl"}) {
        CAPTURE(name);
        CHECK(tapsec(std::string("connect tls13 127.0.0.1:1 --provider ") + name).first == 1);
    }
}

}  // namespace provider_test
