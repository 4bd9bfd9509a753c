// The crypto-provider seam. Protocol code names algorithms with these enums and
// reaches primitives only through a provider type that satisfies CryptoProvider;
// it never includes a crypto library's headers. The default provider is Botan 2
// (crypto/botan.hpp). A second provider (e.g. OpenSSL libcrypto) implements the same
// members and is passed as Secure<>'s fourth template argument.
#pragma once

#include <chrono>
#include <stdexcept>
#include <concepts>
#include <cstddef>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "../core/bytes.hpp"
#include "../core/config.hpp"
#include "../core/errors.hpp"

namespace tapsec::crypto {

/// The default provider, declared here so that core/ (Secure<>'s default template
/// argument) names it without including Botan; crypto/botan.hpp defines it.
struct Botan2;
using DefaultProvider = Botan2;

enum class AeadAlgorithm { aes_128_gcm, aes_256_gcm, chacha20_poly1305, xchacha20_poly1305 };
/// md5 is here only for EAP-MD5-Challenge's response value (RFC 3748 5.4), which is
/// defined over MD5; keyed uses refuse it (keyed_use_allowed).
enum class HashAlgorithm { sha1, sha256, sha384, sha512, md5 };
/// Whether a hash may key an HMAC, HKDF or PRF: MD5 may not. (Signature and TLS cipher
/// suite choices map to SHA-2 only, so no wire value can select MD5.)
constexpr bool keyed_use_allowed(HashAlgorithm h) noexcept { return h != HashAlgorithm::md5; }
/// Key-agreement groups. x448 (RFC 7748), the RFC 7919 finite-field groups
/// ffdhe2048/ffdhe3072 and the RFC 3526 group 14 (modp2048, IKEv2's D-H group 14) are
/// optional: a provider's KeyShare::supports(group) says whether it has them (Botan 2 has
/// no X448).
enum class KeyExchangeGroup { x25519, secp256r1, secp384r1, x448, ffdhe2048, ffdhe3072, modp2048 };

/// Bytes of a group's private key as KeyShare::from_private takes it: the X25519/X448
/// scalar, the NIST scalar, or the finite-field exponent (RFC 7919 5.2 asks for at least
/// 225 / 275 bits for ffdhe2048 / ffdhe3072; these are 256 / 384; RFC 3526 8 puts the
/// 2048-bit MODP group's strength at 110-160 bits, so 256 bits of exponent suffice).
constexpr std::size_t private_key_size(KeyExchangeGroup g) noexcept {
    switch (g) {
        case KeyExchangeGroup::x25519:
        case KeyExchangeGroup::secp256r1:
        case KeyExchangeGroup::ffdhe2048:
        case KeyExchangeGroup::modp2048: return 32;
        case KeyExchangeGroup::secp384r1:
        case KeyExchangeGroup::ffdhe3072: return 48;
        case KeyExchangeGroup::x448: return 56;
    }
    return 32;
}

/// Bytes of a finite-field group's prime: the public value and the shared secret are
/// padded to this length (RFC 8446 4.2.8.1, 7.4.1; RFC 7296 3.4 for IKEv2's MODP
/// groups); 0 for the elliptic-curve groups.
constexpr std::size_t ffdhe_prime_size(KeyExchangeGroup g) noexcept {
    return g == KeyExchangeGroup::ffdhe2048 || g == KeyExchangeGroup::modp2048 ? 256
           : g == KeyExchangeGroup::ffdhe3072                                 ? 384
                                                                              : 0;
}
/// TLS SignatureScheme code points (RFC 8446 4.2.3), also used by other protocols.
enum class SignatureScheme : std::uint16_t {
    rsa_pkcs1_sha256 = 0x0401,
    rsa_pkcs1_sha384 = 0x0501,
    rsa_pkcs1_sha512 = 0x0601,
    ecdsa_secp256r1_sha256 = 0x0403,
    ecdsa_secp384r1_sha384 = 0x0503,
    ecdsa_secp521r1_sha512 = 0x0603,
    rsa_pss_rsae_sha256 = 0x0804,
    rsa_pss_rsae_sha384 = 0x0805,
    rsa_pss_rsae_sha512 = 0x0806,
    ed25519 = 0x0807,
    rsa_pss_pss_sha256 = 0x0809,
};

constexpr std::size_t digest_size(HashAlgorithm h) noexcept {
    switch (h) {
        case HashAlgorithm::sha1: return 20;
        case HashAlgorithm::sha256: return 32;
        case HashAlgorithm::sha384: return 48;
        case HashAlgorithm::sha512: return 64;
        case HashAlgorithm::md5: return 16;
    }
    return 0;
}

constexpr std::size_t key_size(AeadAlgorithm a) noexcept {
    return a == AeadAlgorithm::aes_128_gcm ? 16 : 32;
}
constexpr std::size_t nonce_size(AeadAlgorithm a) noexcept {
    return a == AeadAlgorithm::xchacha20_poly1305 ? 24 : 12;
}
constexpr std::size_t tag_size(AeadAlgorithm) noexcept { return 16; }

/// What every provider offers. (Types are nested so one template argument carries all.)
template <class P>
concept CryptoProvider = requires(MutableByteView out, ByteView in, const typename P::Aead& aead) {
    { P::name } -> std::convertible_to<std::string_view>;
    { P::random(out) };
    // AEAD: P::Aead::create(alg, key) -> Result<Aead>; seal/open in place.
    { P::Aead::create(AeadAlgorithm::aes_128_gcm, in) } -> std::same_as<Result<typename P::Aead>>;
    // hashing, HMAC, HKDF (RFC 5869)
    { P::hash(HashAlgorithm::sha256, in) } -> std::same_as<Bytes>;
    { P::hmac(HashAlgorithm::sha256, in, in) } -> std::same_as<SecretBytes>;
    { P::hkdf_extract(HashAlgorithm::sha256, in, in) } -> std::same_as<SecretBytes>;
    { P::hkdf_expand(HashAlgorithm::sha256, in, in, std::size_t{}) } -> std::same_as<SecretBytes>;
    typename P::Hash;
    // key agreement
    { P::KeyShare::generate(KeyExchangeGroup::x25519) } -> std::same_as<Result<typename P::KeyShare>>;
    // raw block / stream ciphers (SRTP AES-CM, QUIC header protection)
    typename P::BlockCipher;
};

/// Providers that can validate X.509 certificate paths against a trust store
/// (the "PKI trust store" dependency of TLS, DTLS, QUIC and certificate-based IKEv2).
template <class P>
concept PkiProvider = CryptoProvider<P> && requires(const std::vector<Bytes>& chain, const TrustStore& trust) {
    typename P::Certificate;
    typename P::PrivateKey;
    { P::validate_chain(chain, trust, std::string_view{}, std::chrono::system_clock::now()) } -> std::same_as<std::error_code>;
};

/// PKIX path validation of DER certificates (leaf first) for a provider `P` whose
/// Certificate parses DER, whose TrustAnchors load a TrustStore, and whose
/// validate_chain takes them parsed: the shared front half of each provider's
/// validate_chain(chain_der, trust, ...). Parses the trust store on every call; a caller
/// validating many chains against one store loads TrustAnchors once (the overload taking
/// them; core/parsed_trust.hpp keeps them with a configuration).
template <class P>
std::error_code validate_der_chain(const std::vector<Bytes>& chain_der, const typename P::TrustAnchors& anchors,
                                   std::string_view hostname, std::chrono::system_clock::time_point now) {
    if (chain_der.empty()) return Errc::certificate_untrusted;
    std::vector<typename P::Certificate> chain;
    for (const auto& der : chain_der) {
        auto cert = P::Certificate::from_der(der);
        if (!cert) return Errc::invalid_certificate;
        chain.push_back(std::move(*cert));
    }
    return P::validate_chain(chain, anchors, hostname, now);
}

template <class P>
std::error_code validate_der_chain(const std::vector<Bytes>& chain_der, const TrustStore& trust,
                                   std::string_view hostname, std::chrono::system_clock::time_point now) {
    if (chain_der.empty()) return Errc::certificate_untrusted;
    auto anchors = P::TrustAnchors::load(trust);
    if (!anchors) return anchors.error();
    return validate_der_chain<P>(chain_der, *anchors, hostname, now);
}

/// One-shot HMAC over any provider's keyed `Hmac`.
/// A keyed use of a hash that keyed_use_allowed refuses is a programming error (no
/// protocol maps a wire value to MD5), so it throws rather than returning an error.
inline void require_keyed_use(HashAlgorithm alg) {
    if (!keyed_use_allowed(alg)) throw std::invalid_argument("MD5 is for EAP-MD5's challenge hash only, never HMAC/HKDF/PRF");
}

template <class P>
SecretBytes hmac_with(HashAlgorithm alg, ByteView key, ByteView data) {
    require_keyed_use(alg);
    auto mac = P::Hmac::create(alg, key);
    SecretBytes out(mac->output_length());
    mac->update(data);
    mac->final(out);
    return out;
}

/// RFC 5869 HKDF, written once over any provider's keyed `Hmac` (every provider's
/// hkdf_extract / hkdf_expand forward here).
template <class P>
SecretBytes hkdf_extract_with(HashAlgorithm alg, ByteView salt, ByteView ikm) {
    require_keyed_use(alg);
    const Bytes zeros(digest_size(alg), 0);
    if (salt.empty()) salt = zeros;  // "if not provided, [salt] is set to a string of HashLen zeros"
    auto mac = P::Hmac::create(alg, salt);
    SecretBytes prk(mac->output_length());
    mac->update(ikm);
    mac->final(prk);
    return prk;
}

template <class P>
SecretBytes hkdf_expand_with(HashAlgorithm alg, ByteView prk, ByteView info, std::size_t length) {
    require_keyed_use(alg);
    // A caller asking for more than 255 blocks is a programming error, not network input.
    if (length > 255 * digest_size(alg)) throw std::length_error("HKDF-Expand: length exceeds 255 * HashLen");
    auto mac = P::Hmac::create(alg, prk);
    SecretBytes out;
    out.reserve(length);
    SecretBytes block(mac->output_length());
    bool first = true;
    for (std::uint8_t counter = 1; out.size() < length; ++counter) {
        if (!first) mac->update(block);  // T(i) = HMAC(PRK, T(i-1) | info | i)
        first = false;
        mac->update(info);
        mac->update(ByteView(&counter, 1));
        mac->final(block);
        const std::size_t take = std::min(block.size(), length - out.size());
        out.insert(out.end(), block.begin(), block.begin() + static_cast<std::ptrdiff_t>(take));
    }
    return out;
}

}  // namespace tapsec::crypto
