// A second crypto provider: OpenSSL 3 libcrypto for everything it has: the AEADs,
// hashes, HMAC and HKDF, AES blocks, key agreement (X25519, X448, P-256, P-384,
// ffdhe2048/3072), signatures (Ed25519, ECDSA P-256/P-384/P-521, RSA-PSS rsae and pss,
// RSA PKCS#1 v1.5), PEM private keys and certificates, X.509 path validation
// (X509_verify_cert with time, purpose and key-strength checks) and host-name checks
// (X509_check_host / X509_check_ip_asc). What stays with Botan 2, this provider's base:
// XChaCha20-Poly1305 (absent from OpenSSL 3.0), the raw stream ciphers of CurveCP and
// MinimaLT (Salsa20/XSalsa20), and computing the ffdhe public value of a key share built
// from caller-drawn private bytes.
//
// Opt-in: include this header, link OpenSSL's libcrypto (pkg-config libcrypto), and
// pass `tapsec::crypto::OpenSsl3` as Secure<>'s fourth argument. No protocol changes:
// that is the point of the provider seam.
#pragma once

#include <arpa/inet.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/dh.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <bit>
#include <chrono>
#include <ctime>
#include <functional>
#include <memory>
#include <variant>

#include "botan.hpp"

namespace tapsec::crypto {

struct OpenSsl3 : Botan2 {
    static constexpr std::string_view name = "OpenSSL 3 libcrypto";

    static void random(MutableByteView out) {
        if (RAND_bytes(out.data(), static_cast<int>(out.size())) != 1) Botan2::random(out);
    }

    struct CipherContextDeleter {
        void operator()(EVP_CIPHER_CTX* c) const { EVP_CIPHER_CTX_free(c); }
    };
    using CipherContext = std::shared_ptr<EVP_CIPHER_CTX>;

    class Aead {
    public:
        static constexpr std::size_t tag_size = 16;
        /// As Botan2::Aead::Use: a one-way key (a TLS record sealer or opener) gets one
        /// cipher context, not two (each AES-GCM context is ~650 bytes per connection).
        using Use = Botan2::Aead::Use;

        static Result<Aead> create(AeadAlgorithm alg, ByteView key, Use use = Use::seal_and_open) {
            if (key.size() != key_size(alg)) return Errc::invalid_configuration;
            Aead a;
            a.alg_ = alg;
            if (alg == AeadAlgorithm::xchacha20_poly1305) {  // not in OpenSSL 3.0: Botan's
                auto fallback = Botan2::Aead::create(alg, key, use);
                if (!fallback) return fallback.error();
                a.fallback_ = std::make_shared<Botan2::Aead>(std::move(*fallback));
                return a;
            }
            const EVP_CIPHER* cipher = alg == AeadAlgorithm::aes_128_gcm   ? EVP_aes_128_gcm()
                                       : alg == AeadAlgorithm::aes_256_gcm ? EVP_aes_256_gcm()
                                                                           : EVP_chacha20_poly1305();
            if (use != Use::open_only) {
                a.enc_ = CipherContext(EVP_CIPHER_CTX_new(), CipherContextDeleter{});
                if (!a.enc_ || EVP_EncryptInit_ex(a.enc_.get(), cipher, nullptr, key.data(), nullptr) != 1)
                    return Errc::internal_error;
            }
            if (use != Use::seal_only) {
                a.dec_ = CipherContext(EVP_CIPHER_CTX_new(), CipherContextDeleter{});
                if (!a.dec_ || EVP_DecryptInit_ex(a.dec_.get(), cipher, nullptr, key.data(), nullptr) != 1)
                    return Errc::internal_error;
            }
            return a;
        }
        AeadAlgorithm algorithm() const noexcept { return alg_; }

        void seal(ByteView nonce, ByteView aad, Bytes& buffer, std::size_t offset = 0) const {
            const std::size_t length = buffer.size() - offset;
            buffer.resize(buffer.size() + tag_size);
            seal_in_place(nonce, aad, MutableByteView(buffer.data() + offset, length),
                          MutableByteView(buffer.data() + offset + length, tag_size));
        }

        void seal_in_place(ByteView nonce, ByteView aad, MutableByteView text, MutableByteView tag) const {
            if (fallback_) return fallback_->seal_in_place(nonce, aad, text, tag);
            if (!enc_) throw std::logic_error("Aead: created open_only, asked to seal");
            int n = 0;
            EVP_CIPHER_CTX* c = enc_.get();
            EVP_EncryptInit_ex(c, nullptr, nullptr, nullptr, nonce.data());
            if (!aad.empty()) EVP_EncryptUpdate(c, nullptr, &n, aad.data(), static_cast<int>(aad.size()));
            if (!text.empty()) EVP_EncryptUpdate(c, text.data(), &n, text.data(), static_cast<int>(text.size()));
            EVP_EncryptFinal_ex(c, text.data() + text.size(), &n);
            EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_GET_TAG, static_cast<int>(tag_size), tag.data());
        }

        bool open(ByteView nonce, ByteView aad, Bytes& buffer, std::size_t offset = 0) const {
            if (buffer.size() < offset + tag_size) return false;
            const std::size_t length = buffer.size() - offset - tag_size;
            if (!open_in_place(nonce, aad, MutableByteView(buffer.data() + offset, length),
                               ByteView(buffer.data() + offset + length, tag_size)))
                return false;
            buffer.resize(offset + length);
            return true;
        }

        bool open_in_place(ByteView nonce, ByteView aad, MutableByteView text, ByteView tag) const {
            if (fallback_) return fallback_->open_in_place(nonce, aad, text, tag);
            if (!dec_) throw std::logic_error("Aead: created seal_only, asked to open");
            int n = 0;
            EVP_CIPHER_CTX* c = dec_.get();
            EVP_DecryptInit_ex(c, nullptr, nullptr, nullptr, nonce.data());
            if (!aad.empty()) EVP_DecryptUpdate(c, nullptr, &n, aad.data(), static_cast<int>(aad.size()));
            if (!text.empty()) EVP_DecryptUpdate(c, text.data(), &n, text.data(), static_cast<int>(text.size()));
            // OpenSSL reads the expected tag from a non-const pointer but does not modify it.
            EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_TAG, static_cast<int>(tag_size), const_cast<std::uint8_t*>(tag.data()));
            return EVP_DecryptFinal_ex(c, text.data() + text.size(), &n) == 1;
        }

    private:
        AeadAlgorithm alg_{};
        CipherContext enc_, dec_;
        std::shared_ptr<Botan2::Aead> fallback_;
    };

    static const EVP_MD* digest(HashAlgorithm h) {
        switch (h) {
            case HashAlgorithm::sha1: return EVP_sha1();
            case HashAlgorithm::sha256: return EVP_sha256();
            case HashAlgorithm::sha384: return EVP_sha384();
            case HashAlgorithm::sha512: return EVP_sha512();
            case HashAlgorithm::md5: return EVP_md5();
        }
        return nullptr;
    }

    class Hash {
    public:
        explicit Hash(HashAlgorithm alg) : alg_(alg), ctx_(EVP_MD_CTX_new(), EVP_MD_CTX_free) {
            EVP_DigestInit_ex(ctx_.get(), digest(alg), nullptr);
        }
        Hash(const Hash& o) : alg_(o.alg_), ctx_(EVP_MD_CTX_new(), EVP_MD_CTX_free) {
            EVP_MD_CTX_copy_ex(ctx_.get(), o.ctx_.get());
        }
        Hash& operator=(const Hash& o) {
            alg_ = o.alg_;
            EVP_MD_CTX_copy_ex(ctx_.get(), o.ctx_.get());
            return *this;
        }
        Hash(Hash&&) = default;
        Hash& operator=(Hash&&) = default;
        void update(ByteView data) { EVP_DigestUpdate(ctx_.get(), data.data(), data.size()); }
        Bytes peek() const {
            Hash copy(*this);
            return copy.final();
        }
        Bytes final() {
            Bytes out(digest_size(alg_));
            unsigned int n = 0;
            EVP_DigestFinal_ex(ctx_.get(), out.data(), &n);
            EVP_DigestInit_ex(ctx_.get(), digest(alg_), nullptr);
            return out;
        }
        HashAlgorithm algorithm() const noexcept { return alg_; }

    private:
        HashAlgorithm alg_;
        std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx_;
    };

    static Bytes hash(HashAlgorithm alg, ByteView data) {
        Hash h(alg);
        h.update(data);
        return h.final();
    }

    class Hmac {
    public:
        static Result<Hmac> create(HashAlgorithm alg, ByteView key) {
            if (!keyed_use_allowed(alg)) return Errc::unsupported_algorithm;
            // Fetched once: a fetch searches the provider tables under a lock, and a TLS
            // handshake creates a few dozen HMACs. (Never freed: it lives as long as libcrypto.)
            static EVP_MAC* const mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
            if (!mac) return Errc::unsupported_algorithm;
            Hmac h;
            h.alg_ = alg;
            h.ctx_ = std::shared_ptr<EVP_MAC_CTX>(EVP_MAC_CTX_new(mac), EVP_MAC_CTX_free);
            if (!h.ctx_) return Errc::internal_error;
            const char* name = EVP_MD_get0_name(digest(alg));
            OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, const_cast<char*>(name), 0),
                                   OSSL_PARAM_construct_end()};
            // An empty key is legal for HMAC; OpenSSL wants a non-null pointer for it.
            static const std::uint8_t empty = 0;
            if (EVP_MAC_init(h.ctx_.get(), key.empty() ? &empty : key.data(), key.size(), params) != 1)
                return Errc::internal_error;
            return h;
        }
        std::size_t output_length() const { return digest_size(alg_); }
        void update(ByteView data) { EVP_MAC_update(ctx_.get(), data.data(), data.size()); }
        void final(MutableByteView out) {
            std::size_t n = 0;
            EVP_MAC_final(ctx_.get(), out.data(), &n, out.size());
            EVP_MAC_init(ctx_.get(), nullptr, 0, nullptr);  // same key, ready for the next message
        }

    private:
        HashAlgorithm alg_{};
        std::shared_ptr<EVP_MAC_CTX> ctx_;
    };

    static SecretBytes hmac(HashAlgorithm alg, ByteView key, ByteView data) { return hmac_with<OpenSsl3>(alg, key, data); }
    /// RFC 5869 through libcrypto's HKDF (EVP_KDF, extract-only / expand-only modes).
    static SecretBytes hkdf_extract(HashAlgorithm alg, ByteView salt, ByteView ikm) {
        require_keyed_use(alg);
        const Bytes zeros(digest_size(alg), 0);
        if (salt.empty()) salt = zeros;  // "if not provided, [salt] is set to a string of HashLen zeros"
        SecretBytes prk(digest_size(alg));
        if (!run_hkdf(EVP_KDF_HKDF_MODE_EXTRACT_ONLY, alg, ikm, salt, {}, prk)) return hkdf_extract_with<OpenSsl3>(alg, salt, ikm);
        return prk;
    }
    static SecretBytes hkdf_expand(HashAlgorithm alg, ByteView prk, ByteView info, std::size_t length) {
        require_keyed_use(alg);
        // A caller asking for more than 255 blocks is a programming error, not network input.
        if (length > 255 * digest_size(alg)) throw std::length_error("HKDF-Expand: length exceeds 255 * HashLen");
        SecretBytes out(length);
        if (length == 0) return out;
        if (!run_hkdf(EVP_KDF_HKDF_MODE_EXPAND_ONLY, alg, prk, {}, info, out)) return hkdf_expand_with<OpenSsl3>(alg, prk, info, length);
        return out;
    }

    /// One EVP_KDF HKDF derivation into `out`; false where libcrypto refuses the input
    /// (an empty key: its HKDF wants one), and the caller then runs RFC 5869 over Hmac.
    static bool run_hkdf(int mode, HashAlgorithm alg, ByteView key, ByteView salt, ByteView info, MutableByteView out) {
        static EVP_KDF* const kdf = EVP_KDF_fetch(nullptr, "HKDF", nullptr);  // fetched once, as for HMAC
        if (!kdf || key.empty()) return false;
        std::unique_ptr<EVP_KDF_CTX, decltype(&EVP_KDF_CTX_free)> ctx(EVP_KDF_CTX_new(kdf), EVP_KDF_CTX_free);
        if (!ctx) return false;
        OSSL_PARAM params[6];
        std::size_t n = 0;
        params[n++] = OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &mode);
        params[n++] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, const_cast<char*>(EVP_MD_get0_name(digest(alg))), 0);
        params[n++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, const_cast<std::uint8_t*>(key.data()), key.size());
        if (!salt.empty())
            params[n++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, const_cast<std::uint8_t*>(salt.data()), salt.size());
        if (!info.empty())
            params[n++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, const_cast<std::uint8_t*>(info.data()), info.size());
        params[n] = OSSL_PARAM_construct_end();
        return EVP_KDF_derive(ctx.get(), out.data(), out.size(), params) == 1;
    }

    using Key = std::shared_ptr<EVP_PKEY>;
    static Key own(EVP_PKEY* k) { return Key(k, EVP_PKEY_free); }

    /// Every KeyExchangeGroup: X25519 and X448 (raw public keys), P-256/P-384
    /// (uncompressed points), ffdhe2048/ffdhe3072 (padded big-endian, RFC 8446 4.2.8.1).
    class KeyShare {
    public:
        static constexpr bool supports(KeyExchangeGroup) noexcept { return true; }

        static Result<KeyShare> generate(KeyExchangeGroup group) {
            KeyShare k;
            k.group_ = group;
            switch (group) {
                case KeyExchangeGroup::x25519: k.key_ = own(EVP_PKEY_Q_keygen(nullptr, nullptr, "X25519")); break;
                case KeyExchangeGroup::x448: k.key_ = own(EVP_PKEY_Q_keygen(nullptr, nullptr, "X448")); break;
                case KeyExchangeGroup::secp256r1: k.key_ = own(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256")); break;
                case KeyExchangeGroup::secp384r1: k.key_ = own(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-384")); break;
                case KeyExchangeGroup::ffdhe2048:
                case KeyExchangeGroup::ffdhe3072:
                case KeyExchangeGroup::modp2048: {
                    SecretBytes x(private_key_size(group));  // the exponent, as TLS draws it
                    random(x);
                    return from_ffdhe_private(group, x);
                }
            }
            if (!k.key_) return Errc::internal_error;
            return k;
        }
        /// X448 from a fixed 56-byte scalar (clamped by X448 itself).
        static Result<KeyShare> from_x448_private(ByteView scalar) {
            if (scalar.size() != 56) return Errc::invalid_private_key;
            KeyShare k;
            k.group_ = KeyExchangeGroup::x448;
            k.key_ = own(EVP_PKEY_new_raw_private_key(EVP_PKEY_X448, nullptr, scalar.data(), scalar.size()));
            if (!k.key_) return Errc::invalid_private_key;
            return k;
        }
        /// The RFC 7919 key for exponent `private_key`: the public value is computed by
        /// Botan (this provider's base, as for the NIST scalars); OpenSSL holds the pair.
        static Result<KeyShare> from_ffdhe_private(KeyExchangeGroup group, ByteView private_key) {
            auto reference = Botan2::KeyShare::from_private(group, private_key);  // checks the range
            if (!reference) return reference.error();
            const Bytes y = reference->public_key();
            // OSSL_PARAM BIGNUMs are native-endian.
            SecretBytes x(private_key.rbegin(), private_key.rend());
            Bytes y_native(y.rbegin(), y.rend());
            if constexpr (std::endian::native == std::endian::big) {
                std::reverse(x.begin(), x.end());
                std::reverse(y_native.begin(), y_native.end());
            }
            char name2048[] = "ffdhe2048";
            char name3072[] = "ffdhe3072";
            char modp2048[] = "modp_2048";  // RFC 3526 group 14
            const OSSL_PARAM params[] = {
                OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME,
                                                 group == KeyExchangeGroup::ffdhe2048  ? name2048
                                                 : group == KeyExchangeGroup::modp2048 ? modp2048
                                                                                       : name3072,
                                                 0),
                OSSL_PARAM_construct_BN(OSSL_PKEY_PARAM_PRIV_KEY, x.data(), x.size()),
                OSSL_PARAM_construct_BN(OSSL_PKEY_PARAM_PUB_KEY, y_native.data(), y_native.size()),
                OSSL_PARAM_construct_end()};
            std::unique_ptr<EVP_PKEY_CTX, decltype(&EVP_PKEY_CTX_free)> ctx(EVP_PKEY_CTX_new_from_name(nullptr, "DH", nullptr),
                                                                           EVP_PKEY_CTX_free);
            EVP_PKEY* raw = nullptr;
            const bool made = ctx && EVP_PKEY_fromdata_init(ctx.get()) == 1 &&
                              EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_KEYPAIR, const_cast<OSSL_PARAM*>(params)) == 1;
            secure_zero(x.data(), x.size());
            if (!made) return Errc::invalid_private_key;
            KeyShare k;
            k.group_ = group;
            k.key_ = own(raw);
            return k;
        }
        static Result<KeyShare> from_x25519_private(ByteView scalar) {
            if (scalar.size() != 32) return Errc::invalid_private_key;
            KeyShare k;
            k.group_ = KeyExchangeGroup::x25519;
            k.key_ = own(EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, nullptr, scalar.data(), scalar.size()));
            if (!k.key_) return Errc::invalid_private_key;
            return k;
        }
        /// The uncompressed public point k*G for a NIST scalar k (big-endian), which must
        /// lie in [1, n-1]. libcrypto's fixed-base multiplication, constant-time in k.
        static Result<Bytes> nist_public_point(KeyExchangeGroup group, ByteView scalar) {
            // Built once per curve and only read afterwards (never freed: they live as long as libcrypto).
            static EC_GROUP* const p256 = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1);
            static EC_GROUP* const p384 = EC_GROUP_new_by_curve_name(NID_secp384r1);
            const EC_GROUP* curve = group == KeyExchangeGroup::secp256r1 ? p256 : p384;
            if (!curve || scalar.size() != (group == KeyExchangeGroup::secp256r1 ? 32u : 48u)) return Errc::invalid_private_key;
            std::unique_ptr<BIGNUM, decltype(&BN_clear_free)> k(BN_secure_new(), BN_clear_free);
            std::unique_ptr<EC_POINT, decltype(&EC_POINT_free)> point(EC_POINT_new(curve), EC_POINT_free);
            if (!k || !point || !BN_bin2bn(scalar.data(), static_cast<int>(scalar.size()), k.get())) return Errc::internal_error;
            BN_set_flags(k.get(), BN_FLG_CONSTTIME);
            if (BN_is_zero(k.get()) || BN_cmp(k.get(), EC_GROUP_get0_order(curve)) >= 0) return Errc::invalid_private_key;
            Bytes out(group == KeyExchangeGroup::secp256r1 ? 65 : 97);
            if (EC_POINT_mul(curve, point.get(), k.get(), nullptr, nullptr, nullptr) != 1 ||
                EC_POINT_point2oct(curve, point.get(), POINT_CONVERSION_UNCOMPRESSED, out.data(), out.size(), nullptr) != out.size()) {
                ERR_clear_error();
                return Errc::internal_error;
            }
            return out;
        }
        /// A key share from private-key bytes the caller drew (see Botan2::KeyShare::
        /// from_private). The NIST public point is computed here (nist_public_point);
        /// OpenSSL then holds the pair for the agreement.
        static Result<KeyShare> from_private(KeyExchangeGroup group, ByteView private_key) {
            if (group == KeyExchangeGroup::x25519) return from_x25519_private(private_key);
            if (group == KeyExchangeGroup::x448) return from_x448_private(private_key);
            if (ffdhe_prime_size(group)) return from_ffdhe_private(group, private_key);
            auto computed = nist_public_point(group, private_key);  // checks the range
            if (!computed) return computed.error();
            Bytes point = std::move(*computed);
            // OSSL_PARAM BIGNUMs are native-endian.
            SecretBytes scalar(private_key.rbegin(), private_key.rend());
            if constexpr (std::endian::native == std::endian::big) std::reverse(scalar.begin(), scalar.end());
            char curve[] = "P-256";
            char curve384[] = "P-384";
            const OSSL_PARAM params[] = {
                OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME,
                                                 group == KeyExchangeGroup::secp256r1 ? curve : curve384, 0),
                OSSL_PARAM_construct_BN(OSSL_PKEY_PARAM_PRIV_KEY, scalar.data(), scalar.size()),
                OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size()),
                OSSL_PARAM_construct_end()};
            std::unique_ptr<EVP_PKEY_CTX, decltype(&EVP_PKEY_CTX_free)> ctx(EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr),
                                                                           EVP_PKEY_CTX_free);
            EVP_PKEY* raw = nullptr;
            const bool made = ctx && EVP_PKEY_fromdata_init(ctx.get()) == 1 &&
                              EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_KEYPAIR, const_cast<OSSL_PARAM*>(params)) == 1;
            secure_zero(scalar.data(), scalar.size());
            if (!made) return Errc::invalid_private_key;
            KeyShare k;
            k.group_ = group;
            k.key_ = own(raw);
            return k;
        }
        KeyExchangeGroup group() const noexcept { return group_; }
        Bytes public_key() const {
            if (group_ == KeyExchangeGroup::x25519 || group_ == KeyExchangeGroup::x448) {
                Bytes out(group_ == KeyExchangeGroup::x25519 ? 32 : 56);
                std::size_t n = out.size();
                EVP_PKEY_get_raw_public_key(key_.get(), out.data(), &n);
                return out;
            }
            unsigned char* encoded = nullptr;
            // An uncompressed point; for DH, the value padded to the prime's length.
            const std::size_t n = EVP_PKEY_get1_encoded_public_key(key_.get(), &encoded);
            Bytes out(encoded, encoded + n);
            OPENSSL_free(encoded);
            return out;
        }
        Result<SecretBytes> agree(ByteView peer_public) const {
            Key peer;
            const std::size_t prime_size = ffdhe_prime_size(group_);
            if (group_ == KeyExchangeGroup::x25519 || group_ == KeyExchangeGroup::x448) {
                const bool x25519 = group_ == KeyExchangeGroup::x25519;
                if (peer_public.size() != (x25519 ? 32u : 56u)) return Errc::decode_error;
                peer = own(EVP_PKEY_new_raw_public_key(x25519 ? EVP_PKEY_X25519 : EVP_PKEY_X448, nullptr,
                                                       peer_public.data(), peer_public.size()));
            } else if (prime_size) {
                // 1 < Y < p-1 is checked by OpenSSL's derive (DH_check_pub_key).
                if (peer_public.size() != prime_size) return Errc::decode_error;
                peer = own(EVP_PKEY_new());
                if (!peer || EVP_PKEY_copy_parameters(peer.get(), key_.get()) != 1 ||
                    EVP_PKEY_set1_encoded_public_key(peer.get(), peer_public.data(), peer_public.size()) != 1)
                    return Errc::decode_error;
            } else {
                const std::size_t expected = group_ == KeyExchangeGroup::secp256r1 ? 65 : 97;
                if (peer_public.size() != expected || peer_public[0] != 4) return Errc::decode_error;
                peer = own(EVP_PKEY_new());
                if (!peer || EVP_PKEY_copy_parameters(peer.get(), key_.get()) != 1 ||
                    EVP_PKEY_set1_encoded_public_key(peer.get(), peer_public.data(), peer_public.size()) != 1)
                    return Errc::decode_error;  // includes points not on the curve
            }
            if (!peer) return Errc::decode_error;
            std::unique_ptr<EVP_PKEY_CTX, decltype(&EVP_PKEY_CTX_free)> ctx(EVP_PKEY_CTX_new(key_.get(), nullptr),
                                                                           EVP_PKEY_CTX_free);
            std::size_t n = 0;
            if (!ctx || EVP_PKEY_derive_init(ctx.get()) != 1 ||
                (prime_size && EVP_PKEY_CTX_set_dh_pad(ctx.get(), 1) != 1) ||  // RFC 8446 7.4.1: padded
                EVP_PKEY_derive_set_peer(ctx.get(), peer.get()) != 1 || EVP_PKEY_derive(ctx.get(), nullptr, &n) != 1)
                return Errc::decode_error;
            SecretBytes out(n);
            // OpenSSL refuses an all-zero X25519 result itself (RFC 7748 6.1).
            if (EVP_PKEY_derive(ctx.get(), out.data(), &n) != 1) return Errc::handshake_failure;
            out.resize(n);
            return out;
        }

    private:
        KeyExchangeGroup group_{};
        Key key_;
    };

    class BlockCipher {
    public:
        static Result<BlockCipher> aes(ByteView key) {
            const EVP_CIPHER* cipher = key.size() == 16   ? EVP_aes_128_ecb()
                                       : key.size() == 24 ? EVP_aes_192_ecb()
                                       : key.size() == 32 ? EVP_aes_256_ecb()
                                                          : nullptr;
            if (!cipher) return Errc::invalid_configuration;
            BlockCipher b;
            b.ctx_ = CipherContext(EVP_CIPHER_CTX_new(), CipherContextDeleter{});
            if (EVP_EncryptInit_ex(b.ctx_.get(), cipher, nullptr, key.data(), nullptr) != 1) return Errc::internal_error;
            EVP_CIPHER_CTX_set_padding(b.ctx_.get(), 0);
            return b;
        }
        void encrypt_blocks(const std::uint8_t* in, std::uint8_t* out, std::size_t blocks) const {
            int n = 0;
            EVP_EncryptUpdate(ctx_.get(), out, &n, in, static_cast<int>(blocks * 16));
        }

    private:
        CipherContext ctx_;
    };

    /// AES-CBC (RFC 3602) over whole 16-byte blocks, without padding (see
    /// Botan2::CbcCipher). One context per direction; the IV is set per message.
    class CbcCipher {
    public:
        static constexpr std::size_t block_size = 16;
        static Result<CbcCipher> create(ByteView key) {
            const EVP_CIPHER* cipher = key.size() == 16   ? EVP_aes_128_cbc()
                                       : key.size() == 24 ? EVP_aes_192_cbc()
                                       : key.size() == 32 ? EVP_aes_256_cbc()
                                                          : nullptr;
            if (!cipher) return Errc::invalid_configuration;
            CbcCipher c;
            c.enc_ = CipherContext(EVP_CIPHER_CTX_new(), CipherContextDeleter{});
            c.dec_ = CipherContext(EVP_CIPHER_CTX_new(), CipherContextDeleter{});
            if (!c.enc_ || !c.dec_ || EVP_EncryptInit_ex(c.enc_.get(), cipher, nullptr, key.data(), nullptr) != 1 ||
                EVP_DecryptInit_ex(c.dec_.get(), cipher, nullptr, key.data(), nullptr) != 1)
                return Errc::internal_error;
            EVP_CIPHER_CTX_set_padding(c.enc_.get(), 0);
            EVP_CIPHER_CTX_set_padding(c.dec_.get(), 0);
            return c;
        }
        bool encrypt(ByteView iv, MutableByteView data) const { return run(enc_.get(), iv, data); }
        bool decrypt(ByteView iv, MutableByteView data) const { return run(dec_.get(), iv, data); }

    private:
        static bool run(EVP_CIPHER_CTX* c, ByteView iv, MutableByteView data) {
            if (iv.size() != block_size || data.size() % block_size) return false;
            int n = 0;
            // A null cipher and key keep the keyed context; only the IV is new (-1: keep direction).
            return EVP_CipherInit_ex(c, nullptr, nullptr, nullptr, iv.data(), -1) == 1 &&
                   (data.empty() || EVP_CipherUpdate(c, data.data(), &n, data.data(), static_cast<int>(data.size())) == 1);
        }
        CipherContext enc_, dec_;
    };

    // ---- signatures, private keys, certificates, path validation ---------------------

    struct MdContextDeleter {
        void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
    };
    using MdContext = std::unique_ptr<EVP_MD_CTX, MdContextDeleter>;

    /// The message digest a scheme signs with; nullptr for Ed25519 (it hashes itself).
    static const EVP_MD* scheme_digest(SignatureScheme s) {
        switch (s) {
            case SignatureScheme::rsa_pkcs1_sha256:
            case SignatureScheme::ecdsa_secp256r1_sha256:
            case SignatureScheme::rsa_pss_rsae_sha256:
            case SignatureScheme::rsa_pss_pss_sha256: return EVP_sha256();
            case SignatureScheme::rsa_pkcs1_sha384:
            case SignatureScheme::ecdsa_secp384r1_sha384:
            case SignatureScheme::rsa_pss_rsae_sha384: return EVP_sha384();
            case SignatureScheme::rsa_pkcs1_sha512:
            case SignatureScheme::ecdsa_secp521r1_sha512:
            case SignatureScheme::rsa_pss_rsae_sha512: return EVP_sha512();
            case SignatureScheme::ed25519: return nullptr;
        }
        return nullptr;
    }
    static HashAlgorithm scheme_hash(SignatureScheme s) {
        const EVP_MD* md = scheme_digest(s);
        return md == EVP_sha384() ? HashAlgorithm::sha384 : md == EVP_sha512() ? HashAlgorithm::sha512 : HashAlgorithm::sha256;
    }
    static bool is_pss(SignatureScheme s) {
        return s == SignatureScheme::rsa_pss_rsae_sha256 || s == SignatureScheme::rsa_pss_rsae_sha384 ||
               s == SignatureScheme::rsa_pss_rsae_sha512 || s == SignatureScheme::rsa_pss_pss_sha256;
    }

    /// Whether `key` can make or check signatures of scheme `s` (RFC 8446 4.2.3: an ECDSA
    /// scheme names its curve; rsae schemes take rsaEncryption keys, pss schemes
    /// RSASSA-PSS keys).
    static bool scheme_fits_key(SignatureScheme s, const EVP_PKEY* key) {
        switch (s) {
            case SignatureScheme::ed25519: return EVP_PKEY_is_a(key, "ED25519");
            case SignatureScheme::ecdsa_secp256r1_sha256:
            case SignatureScheme::ecdsa_secp384r1_sha384:
            case SignatureScheme::ecdsa_secp521r1_sha512: {
                if (!EVP_PKEY_is_a(key, "EC")) return false;
                char group[64] = {};
                std::size_t length = 0;
                if (EVP_PKEY_get_group_name(key, group, sizeof group, &length) != 1) return false;
                const int nid = OBJ_sn2nid(group) != NID_undef ? OBJ_sn2nid(group) : EC_curve_nist2nid(group);
                return (s == SignatureScheme::ecdsa_secp256r1_sha256 && nid == NID_X9_62_prime256v1) ||
                       (s == SignatureScheme::ecdsa_secp384r1_sha384 && nid == NID_secp384r1) ||
                       (s == SignatureScheme::ecdsa_secp521r1_sha512 && nid == NID_secp521r1);
            }
            case SignatureScheme::rsa_pkcs1_sha256:
            case SignatureScheme::rsa_pkcs1_sha384:
            case SignatureScheme::rsa_pkcs1_sha512:
            case SignatureScheme::rsa_pss_rsae_sha256:
            case SignatureScheme::rsa_pss_rsae_sha384:
            case SignatureScheme::rsa_pss_rsae_sha512: return EVP_PKEY_get_base_id(key) == EVP_PKEY_RSA;
            case SignatureScheme::rsa_pss_pss_sha256: return EVP_PKEY_get_base_id(key) == EVP_PKEY_RSA_PSS;
        }
        return false;
    }

    /// A signing or verifying digest context for `scheme` over `key` (PSS: MGF1 with the
    /// same hash, salt as long as the hash, as RFC 8446 4.2.3 requires).
    static MdContext signature_context(SignatureScheme scheme, EVP_PKEY* key, bool signing) {
        MdContext ctx(EVP_MD_CTX_new());
        EVP_PKEY_CTX* pctx = nullptr;
        if (!ctx) return nullptr;
        const EVP_MD* md = scheme_digest(scheme);
        const int ok = signing ? EVP_DigestSignInit(ctx.get(), &pctx, md, nullptr, key)
                               : EVP_DigestVerifyInit(ctx.get(), &pctx, md, nullptr, key);
        if (ok != 1) return nullptr;
        if (is_pss(scheme) &&
            (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
             EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) != 1 || EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, md) != 1))
            return nullptr;
        return ctx;
    }

    static bool verify_with(EVP_PKEY* key, SignatureScheme scheme, ByteView message, ByteView signature) {
        if (!key || !scheme_fits_key(scheme, key)) return false;
        auto ctx = signature_context(scheme, key, false);
        const bool ok = ctx && EVP_DigestVerify(ctx.get(), signature.data(), signature.size(), message.data(), message.size()) == 1;
        ERR_clear_error();  // a refused signature leaves an error on the thread's queue
        return ok;
    }

    struct BioDeleter {
        void operator()(BIO* b) const { BIO_free(b); }
    };
    static std::unique_ptr<BIO, BioDeleter> memory_bio(std::string_view text) {
        return std::unique_ptr<BIO, BioDeleter>(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
    }
    /// PEM password callback that never prompts: an encrypted key is refused, not asked for.
    static int no_password(char*, int, int, void*) { return -1; }

    class PrivateKey {
    public:
        /// A PEM private key: PKCS#8 ("PRIVATE KEY") or the traditional RSA / EC forms.
        /// Encrypted keys are refused (no passphrase prompt).
        static Result<PrivateKey> from_pem(std::string_view pem) {
            auto bio = memory_bio(pem);
            PrivateKey k;
            if (bio) k.key_ = own(PEM_read_bio_PrivateKey(bio.get(), nullptr, no_password, nullptr));
            ERR_clear_error();
            if (!k.key_) return Errc::invalid_private_key;
            return k;
        }
        /// Schemes this key can produce, in preference order (as Botan2's, plus
        /// rsa_pss_pss_sha256 for RSASSA-PSS keys, which Botan 2 cannot load).
        std::vector<SignatureScheme> schemes() const {
            std::vector<SignatureScheme> out;
            for (auto s : {SignatureScheme::ed25519, SignatureScheme::ecdsa_secp256r1_sha256,
                           SignatureScheme::ecdsa_secp384r1_sha384, SignatureScheme::ecdsa_secp521r1_sha512,
                           SignatureScheme::rsa_pss_rsae_sha256, SignatureScheme::rsa_pss_rsae_sha384,
                           SignatureScheme::rsa_pss_rsae_sha512, SignatureScheme::rsa_pss_pss_sha256})
                if (scheme_fits_key(s, key_.get())) out.push_back(s);
            return out;
        }
        Result<Bytes> sign(SignatureScheme scheme, ByteView message) const {
            if (!scheme_fits_key(scheme, key_.get())) return Errc::unsupported_algorithm;
            auto ctx = signature_context(scheme, key_.get(), true);
            std::size_t length = 0;
            if (!ctx || EVP_DigestSign(ctx.get(), nullptr, &length, message.data(), message.size()) != 1) {
                ERR_clear_error();
                return Errc::internal_error;
            }
            Bytes out(length);
            if (EVP_DigestSign(ctx.get(), out.data(), &length, message.data(), message.size()) != 1) {
                ERR_clear_error();
                return Errc::internal_error;
            }
            out.resize(length);
            return out;
        }
        /// Signs with the signature's own randomness from `random` (an injected source
        /// such as CommonConfig::random) where libcrypto lets it come from outside: the
        /// RSA-PSS salt (EMSA-PSS encoded here, then the raw RSA private operation, which
        /// libcrypto blinds with its own DRBG). Ed25519 is deterministic. ECDSA's nonce
        /// comes from libcrypto's DRBG: OpenSSL 3.0 has no RFC 6979 and no per-call
        /// random source, so ECDSA signatures are not reproducible from `random`.
        Result<Bytes> sign(SignatureScheme scheme, ByteView message, const std::function<void(MutableByteView)>& random) const {
            if (!random || !is_pss(scheme)) return sign(scheme, message);
            if (!scheme_fits_key(scheme, key_.get())) return Errc::unsupported_algorithm;
            const HashAlgorithm h = scheme_hash(scheme);
            Bytes salt(digest_size(h));
            random(salt);
            const int modulus_bits = EVP_PKEY_get_bits(key_.get());
            if (modulus_bits < 1024) return Errc::unsupported_algorithm;
            auto encoded = emsa_pss_encode(h, OpenSsl3::hash(h, message), salt, static_cast<std::size_t>(modulus_bits - 1));
            if (!encoded) return encoded.error();
            // RSA's input is as long as the modulus; EM is one byte shorter when modBits - 1 is a multiple of 8.
            const std::size_t modulus_bytes = static_cast<std::size_t>(EVP_PKEY_get_size(key_.get()));
            Bytes input(modulus_bytes - encoded->size(), 0);
            append(input, *encoded);
            std::unique_ptr<EVP_PKEY_CTX, decltype(&EVP_PKEY_CTX_free)> ctx(EVP_PKEY_CTX_new(key_.get(), nullptr), EVP_PKEY_CTX_free);
            Bytes out(modulus_bytes);
            std::size_t length = out.size();
            if (!ctx || EVP_PKEY_sign_init(ctx.get()) != 1 || EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_NO_PADDING) != 1 ||
                EVP_PKEY_sign(ctx.get(), out.data(), &length, input.data(), input.size()) != 1) {
                ERR_clear_error();
                return Errc::internal_error;
            }
            out.resize(length);
            return out;
        }
        EVP_PKEY* openssl_key() const { return key_.get(); }

    private:
        /// RFC 8017 9.1.1 EMSA-PSS-ENCODE with MGF1 over the same hash.
        static Result<Bytes> emsa_pss_encode(HashAlgorithm h, ByteView message_hash, ByteView salt, std::size_t em_bits) {
            const std::size_t h_len = digest_size(h), em_len = (em_bits + 7) / 8;
            if (em_len < h_len + salt.size() + 2) return Errc::unsupported_algorithm;
            Bytes prefixed(8, 0);  // M' = 0x00 * 8 || mHash || salt
            append(prefixed, message_hash);
            append(prefixed, salt);
            const Bytes digest_of_prefixed = OpenSsl3::hash(h, prefixed);
            Bytes db(em_len - salt.size() - h_len - 2, 0);  // DB = PS || 0x01 || salt
            db.push_back(0x01);
            append(db, salt);
            const Bytes mask = mgf1(h, digest_of_prefixed, db.size());
            for (std::size_t i = 0; i < db.size(); ++i) db[i] ^= mask[i];
            db[0] &= static_cast<std::uint8_t>(0xff >> (8 * em_len - em_bits));
            append(db, digest_of_prefixed);
            db.push_back(0xbc);
            return db;
        }
        static Bytes mgf1(HashAlgorithm h, ByteView seed, std::size_t length) {
            Bytes out;
            for (std::uint32_t counter = 0; out.size() < length; ++counter) {
                Hash block(h);
                block.update(seed);
                const std::uint8_t c[4] = {static_cast<std::uint8_t>(counter >> 24), static_cast<std::uint8_t>(counter >> 16),
                                           static_cast<std::uint8_t>(counter >> 8), static_cast<std::uint8_t>(counter)};
                block.update(ByteView(c, 4));
                append(out, block.final());
            }
            out.resize(length);
            return out;
        }

        Key key_;
    };

    struct X509Deleter {
        void operator()(X509* c) const { X509_free(c); }
    };

    class Certificate {
    public:
        /// One DER certificate; trailing bytes are refused.
        static Result<Certificate> from_der(ByteView der) {
            const unsigned char* p = der.data();
            X509* raw = d2i_X509(nullptr, &p, static_cast<long>(der.size()));
            ERR_clear_error();
            if (!raw) return Errc::invalid_certificate;
            Certificate c;
            c.cert_ = std::shared_ptr<X509>(raw, X509Deleter{});
            if (p != der.data() + der.size()) return Errc::invalid_certificate;
            return c;
        }
        /// Every certificate in a PEM bundle, in order. Errors if there are none.
        static Result<std::vector<Certificate>> chain_from_pem(std::string_view pem) {
            std::vector<Certificate> chain;
            auto bio = memory_bio(pem);
            while (bio) {
                X509* raw = PEM_read_bio_X509(bio.get(), nullptr, no_password, nullptr);
                if (!raw) break;
                Certificate c;
                c.cert_ = std::shared_ptr<X509>(raw, X509Deleter{});
                chain.push_back(std::move(c));
            }
            ERR_clear_error();  // the end of the bundle reads as "no start line"
            if (chain.empty()) return Errc::invalid_certificate;
            return chain;
        }
        Bytes der() const {
            unsigned char* encoded = nullptr;
            const int n = i2d_X509(cert_.get(), &encoded);
            if (n <= 0) return {};
            Bytes out(encoded, encoded + n);
            OPENSSL_free(encoded);
            return out;
        }
        /// The subject DN as RFC 2253 text ("CN=server.example,O=...").
        std::string subject() const {
            std::unique_ptr<BIO, BioDeleter> bio(BIO_new(BIO_s_mem()));
            if (!bio || X509_NAME_print_ex(bio.get(), X509_get_subject_name(cert_.get()), 0, XN_FLAG_RFC2253) < 0) return {};
            char* data = nullptr;
            const long n = BIO_get_mem_data(bio.get(), &data);
            return std::string(data, static_cast<std::size_t>(n));
        }
        /// Verifies a signature made by this certificate's key.
        bool verify(SignatureScheme scheme, ByteView message, ByteView signature) const {
            return verify_with(X509_get0_pubkey(cert_.get()), scheme, message, signature);
        }
        X509* openssl_certificate() const { return cert_.get(); }

    private:
        std::shared_ptr<X509> cert_;
    };

    struct StoreDeleter {
        void operator()(X509_STORE* s) const { X509_STORE_free(s); }
    };

    /// A TrustStore loaded once into an X509_STORE (the configured CAs and, when asked
    /// for, the system's default paths). Copies share the store; X509_verify_cert only
    /// reads it, so connections on several threads may share one.
    class TrustAnchors {
    public:
        static Result<TrustAnchors> load(const TrustStore& trust) {
            TrustAnchors anchors;
            anchors.store_ = std::shared_ptr<X509_STORE>(X509_STORE_new(), StoreDeleter{});
            if (!anchors.store_) return Errc::internal_error;
            for (const auto& pem : trust.ca_certificates_pem) {
                auto cas = Certificate::chain_from_pem(pem);
                if (!cas) return Errc::invalid_certificate;
                for (const auto& ca : *cas) X509_STORE_add_cert(anchors.store_.get(), ca.openssl_certificate());
            }
            if (trust.use_system_store) X509_STORE_set_default_paths(anchors.store_.get());
            ERR_clear_error();  // a duplicate anchor is reported as an error; it is harmless
            return anchors;
        }
        X509_STORE* store() const { return store_.get(); }

    private:
        std::shared_ptr<X509_STORE> store_;
    };

    /// What the leaf certificate is checked for (its extendedKeyUsage and, for a CA,
    /// nsCertType): `any` is what the protocols ask through PkiProvider, as Botan2 does.
    enum class CertificatePurpose { any, tls_server, tls_client };

    /// PKIX path validation of `chain_der` (leaf first) against `trust`, checking
    /// `hostname` when it is not empty. Parses the trust store on every call; a caller
    /// validating many chains against one store loads TrustAnchors once (overload below).
    static std::error_code validate_chain(const std::vector<Bytes>& chain_der, const TrustStore& trust,
                                          std::string_view hostname, std::chrono::system_clock::time_point now) {
        return validate_der_chain<OpenSsl3>(chain_der, trust, hostname, now);
    }

    /// X509_verify_cert at `now` (validity periods), with auth level 2 (keys of at least
    /// 112-bit strength, no SHA-1 signatures: Botan2's restriction); the path must end at a
    /// configured self-signed certificate (a configured intermediate is no anchor, as with
    /// Botan2 and libssl's default), which may be the leaf itself; then the reference identity: X509_check_ip_asc for an IPv4/IPv6 literal,
    /// X509_check_host otherwise (SAN dNSName, wildcards, CN only without SANs).
    static std::error_code validate_chain(const std::vector<Certificate>& chain, const TrustAnchors& anchors,
                                          std::string_view hostname, std::chrono::system_clock::time_point now,
                                          CertificatePurpose purpose = CertificatePurpose::any) {
        if (chain.empty() || !anchors.store()) return Errc::certificate_untrusted;
        std::unique_ptr<STACK_OF(X509), decltype(&sk_X509_free_untrusted)> untrusted(sk_X509_new_null(), sk_X509_free_untrusted);
        for (std::size_t i = 1; i < chain.size(); ++i) sk_X509_push(untrusted.get(), chain[i].openssl_certificate());
        std::unique_ptr<X509_STORE_CTX, decltype(&X509_STORE_CTX_free)> ctx(X509_STORE_CTX_new(), X509_STORE_CTX_free);
        if (!ctx || !untrusted ||
            X509_STORE_CTX_init(ctx.get(), anchors.store(), chain.front().openssl_certificate(), untrusted.get()) != 1)
            return Errc::internal_error;
        X509_VERIFY_PARAM* param = X509_STORE_CTX_get0_param(ctx.get());
        X509_VERIFY_PARAM_set_time(param, std::chrono::system_clock::to_time_t(now));
        X509_VERIFY_PARAM_set_auth_level(param, 2);
        if (purpose != CertificatePurpose::any)
            X509_STORE_CTX_set_purpose(ctx.get(), purpose == CertificatePurpose::tls_server ? X509_PURPOSE_SSL_SERVER : X509_PURPOSE_SSL_CLIENT);
        const int verified = X509_verify_cert(ctx.get());
        const int error = X509_STORE_CTX_get_error(ctx.get());
        ERR_clear_error();
        if (verified != 1) return map_verify_error(error);
        if (!hostname.empty() && !certificate_matches_name(chain.front(), hostname)) return Errc::certificate_name_mismatch;
        return {};
    }

    /// RFC 6125 reference identity check through libcrypto: an address literal (however
    /// written: "::1" and "0:0:0:0:0:0:0:1" are one address) against iPAddress SANs,
    /// anything else against dNSName SANs (no partial-label wildcards).
    static bool certificate_matches_name(const Certificate& leaf, std::string_view name) {
        const std::string text(name);
        std::uint8_t address[16];
        int matched = 0;
        if (::inet_pton(AF_INET, text.c_str(), address) == 1 || ::inet_pton(AF_INET6, text.c_str(), address) == 1)
            matched = X509_check_ip_asc(leaf.openssl_certificate(), text.c_str(), 0);
        else
            matched = X509_check_host(leaf.openssl_certificate(), text.data(), text.size(), X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS,
                                      nullptr);
        ERR_clear_error();
        return matched == 1;
    }

    static std::error_code map_verify_error(int error) {
        switch (error) {
            case X509_V_OK: return {};
            case X509_V_ERR_CERT_HAS_EXPIRED:
            case X509_V_ERR_CERT_NOT_YET_VALID:
            case X509_V_ERR_ERROR_IN_CERT_NOT_BEFORE_FIELD:
            case X509_V_ERR_ERROR_IN_CERT_NOT_AFTER_FIELD: return Errc::certificate_expired;
            case X509_V_ERR_HOSTNAME_MISMATCH:
            case X509_V_ERR_IP_ADDRESS_MISMATCH: return Errc::certificate_name_mismatch;
            default: return Errc::certificate_untrusted;
        }
    }

    /// Raw Ed25519 (RFC 8032) through libcrypto: 32-byte seeds and public keys, for
    /// protocols that sign without certificates (MinimaLT's directory records).
    struct Ed25519 {
        static constexpr std::size_t seed_size = 32, public_key_size = 32, signature_size = 64;
        static Result<Bytes> public_key(ByteView seed) {
            if (seed.size() != seed_size) return Errc::invalid_private_key;
            const Key key = own(EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr, seed.data(), seed.size()));
            Bytes out(public_key_size);
            std::size_t n = out.size();
            if (!key || EVP_PKEY_get_raw_public_key(key.get(), out.data(), &n) != 1) return Errc::invalid_private_key;
            return out;
        }
        static Result<Bytes> sign(ByteView seed, ByteView message) {
            if (seed.size() != seed_size) return Errc::invalid_private_key;
            const Key key = own(EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr, seed.data(), seed.size()));
            if (!key) return Errc::invalid_private_key;
            MdContext ctx(EVP_MD_CTX_new());
            Bytes out(signature_size);
            std::size_t n = out.size();
            if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, key.get()) != 1 ||
                EVP_DigestSign(ctx.get(), out.data(), &n, message.data(), message.size()) != 1)
                return Errc::internal_error;
            return out;
        }
        static bool verify(ByteView public_key, ByteView message, ByteView signature) {
            if (public_key.size() != public_key_size || signature.size() != signature_size) return false;
            const Key key = own(EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, public_key.data(), public_key.size()));
            MdContext ctx(EVP_MD_CTX_new());
            const bool ok = key && ctx && EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, key.get()) == 1 &&
                            EVP_DigestVerify(ctx.get(), signature.data(), signature.size(), message.data(), message.size()) == 1;
            ERR_clear_error();
            return ok;
        }
    };

private:
    /// The untrusted stack holds certificates owned by Certificate objects: free the stack only.
    static void sk_X509_free_untrusted(STACK_OF(X509)* s) { sk_X509_free(s); }
};

static_assert(PkiProvider<OpenSsl3>);

}  // namespace tapsec::crypto
