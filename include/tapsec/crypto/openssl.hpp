// A second crypto provider: OpenSSL 3 libcrypto for the symmetric primitives, hashing,
// HMAC/HKDF and key agreement, which is where OpenSSL is faster on these machines
// (AES-GCM about 2x, ChaCha20-Poly1305 about 3x Botan's at 16 KiB). X.509 path
// validation, signatures and XChaCha20-Poly1305 (which OpenSSL 3.0 lacks) stay with
// Botan: this provider derives from Botan2 and replaces only what it names.
//
// Opt-in: include this header, link OpenSSL's libcrypto (pkg-config libcrypto), and
// pass `tapsec::crypto::OpenSsl3` as Secure<>'s fourth argument. No protocol changes:
// that is the point of the provider seam.
#pragma once

#include <openssl/core_names.h>
#include <openssl/dh.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include <algorithm>
#include <bit>
#include <memory>
#include <variant>

#include "botan.hpp"

namespace tapsec::crypto {

struct OpenSsl3 : Botan2 {
    static constexpr std::string_view name = "OpenSSL 3 (symmetric, key agreement) + Botan 2 (X.509, signatures)";

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

        static Result<Aead> create(AeadAlgorithm alg, ByteView key) {
            if (key.size() != key_size(alg)) return Errc::invalid_configuration;
            Aead a;
            a.alg_ = alg;
            if (alg == AeadAlgorithm::xchacha20_poly1305) {  // not in OpenSSL 3.0: Botan's
                auto fallback = Botan2::Aead::create(alg, key);
                if (!fallback) return fallback.error();
                a.fallback_ = std::make_shared<Botan2::Aead>(std::move(*fallback));
                return a;
            }
            const EVP_CIPHER* cipher = alg == AeadAlgorithm::aes_128_gcm   ? EVP_aes_128_gcm()
                                       : alg == AeadAlgorithm::aes_256_gcm ? EVP_aes_256_gcm()
                                                                           : EVP_chacha20_poly1305();
            a.enc_ = CipherContext(EVP_CIPHER_CTX_new(), CipherContextDeleter{});
            a.dec_ = CipherContext(EVP_CIPHER_CTX_new(), CipherContextDeleter{});
            if (!a.enc_ || !a.dec_ || EVP_EncryptInit_ex(a.enc_.get(), cipher, nullptr, key.data(), nullptr) != 1 ||
                EVP_DecryptInit_ex(a.dec_.get(), cipher, nullptr, key.data(), nullptr) != 1)
                return Errc::internal_error;
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
            std::unique_ptr<EVP_MAC, decltype(&EVP_MAC_free)> mac(EVP_MAC_fetch(nullptr, "HMAC", nullptr), EVP_MAC_free);
            if (!mac) return Errc::unsupported_algorithm;
            Hmac h;
            h.alg_ = alg;
            h.ctx_ = std::shared_ptr<EVP_MAC_CTX>(EVP_MAC_CTX_new(mac.get()), EVP_MAC_CTX_free);
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
    static SecretBytes hkdf_extract(HashAlgorithm alg, ByteView salt, ByteView ikm) {
        return hkdf_extract_with<OpenSsl3>(alg, salt, ikm);
    }
    static SecretBytes hkdf_expand(HashAlgorithm alg, ByteView prk, ByteView info, std::size_t length) {
        return hkdf_expand_with<OpenSsl3>(alg, prk, info, length);
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
                case KeyExchangeGroup::ffdhe3072: {
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
            const OSSL_PARAM params[] = {
                OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME,
                                                 group == KeyExchangeGroup::ffdhe2048 ? name2048 : name3072, 0),
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
        /// A key share from private-key bytes the caller drew (see Botan2::KeyShare::
        /// from_private). The NIST public point is computed by Botan (this provider's
        /// base); OpenSSL then holds the pair for the agreement.
        static Result<KeyShare> from_private(KeyExchangeGroup group, ByteView private_key) {
            if (group == KeyExchangeGroup::x25519) return from_x25519_private(private_key);
            if (group == KeyExchangeGroup::x448) return from_x448_private(private_key);
            if (ffdhe_prime_size(group)) return from_ffdhe_private(group, private_key);
            auto reference = Botan2::KeyShare::from_private(group, private_key);  // checks the range
            if (!reference) return reference.error();
            Bytes point = reference->public_key();
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
};

static_assert(PkiProvider<OpenSsl3>);

}  // namespace tapsec::crypto
