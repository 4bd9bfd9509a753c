// The default crypto provider: Botan 2 (Debian libbotan-2-dev). The only file of the
// protocol-independent library that names Botan; protocols see the CryptoProvider
// interface. (The TLS 1.2 / DTLS 1.2 compositions use Botan's own TLS stack and so
// necessarily name Botan in their folders; they say so.)
#pragma once

#include <arpa/inet.h>

#include <botan/aead.h>
#include <botan/ber_dec.h>
#include <botan/auto_rng.h>
#include <botan/block_cipher.h>
#include <botan/certstor.h>
#include <botan/cipher_mode.h>
#include <botan/certstor_system.h>
#include <botan/curve25519.h>
#include <botan/data_src.h>
#include <botan/dh.h>
#include <botan/dl_group.h>
#include <botan/ec_group.h>
#include <botan/ecdh.h>
#include <botan/ecdsa.h>
#include <botan/ed25519.h>
#include <botan/hash.h>
#include <botan/mac.h>
#include <botan/pk_keys.h>
#include <botan/pkcs8.h>
#include <botan/pubkey.h>
#include <botan/stream_cipher.h>
#include <botan/system_rng.h>
#include <botan/x509cert.h>
#include <botan/x509path.h>

#include <functional>
#include <memory>
#include <mutex>

#include "provider.hpp"

namespace tapsec::crypto {

struct Botan2 {
    static constexpr std::string_view name = "Botan 2";

    static Botan::RandomNumberGenerator& rng() {
        // The system RNG is thread-safe and needs no seeding.
        return Botan::system_rng();
    }
    static void random(MutableByteView out) { rng().randomize(out.data(), out.size()); }

    static const char* botan_name(AeadAlgorithm a) {
        switch (a) {
            case AeadAlgorithm::aes_128_gcm: return "AES-128/GCM";
            case AeadAlgorithm::aes_256_gcm: return "AES-256/GCM";
            case AeadAlgorithm::chacha20_poly1305:
            case AeadAlgorithm::xchacha20_poly1305: return "ChaCha20Poly1305";  // 24-byte nonce = XChaCha
        }
        return "";
    }
    static const char* botan_name(HashAlgorithm h) {
        switch (h) {
            case HashAlgorithm::sha1: return "SHA-1";
            case HashAlgorithm::sha256: return "SHA-256";
            case HashAlgorithm::sha384: return "SHA-384";
            case HashAlgorithm::sha512: return "SHA-512";
            case HashAlgorithm::md5: return "MD5";
        }
        return "";
    }

    /// An AEAD keyed once, used for many records. seal/open work in place on the
    /// caller's buffer: no copy of the payload beyond the sub-block tail.
    class Aead {
    public:
        /// Which directions a key is used for. A TLS record sealer never opens and an
        /// opener never seals: keying only the one needed halves the per-epoch setup
        /// (GCM's GHASH table, the AES key schedule) that every handshake pays.
        enum class Use { seal_and_open, seal_only, open_only };

        static Result<Aead> create(AeadAlgorithm alg, ByteView key, Use use = Use::seal_and_open) {
            if (key.size() != key_size(alg)) return Errc::invalid_configuration;
            Aead a;
            a.alg_ = alg;
            if (use != Use::open_only) {
                a.enc_ = Botan::AEAD_Mode::create_or_throw(botan_name(alg), Botan::ENCRYPTION);
                a.enc_->set_key(key.data(), key.size());
            }
            if (use != Use::seal_only) {
                a.dec_ = Botan::AEAD_Mode::create_or_throw(botan_name(alg), Botan::DECRYPTION);
                a.dec_->set_key(key.data(), key.size());
            }
            return a;
        }
        AeadAlgorithm algorithm() const noexcept { return alg_; }
        static constexpr std::size_t tag_size = 16;

        /// Encrypts buffer[offset, end) in place and appends the 16-byte tag.
        void seal(ByteView nonce, ByteView aad, Bytes& buffer, std::size_t offset = 0) const {
            const std::size_t length = buffer.size() - offset;
            buffer.resize(buffer.size() + tag_size);
            seal_in_place(nonce, aad, MutableByteView(buffer.data() + offset, length),
                          MutableByteView(buffer.data() + offset + length, tag_size));
        }

        /// Encrypts `text` in place and writes the tag to `tag` (16 bytes).
        void seal_in_place(ByteView nonce, ByteView aad, MutableByteView text, MutableByteView tag) const {
            if (!enc_) throw std::logic_error("Aead: created open_only, asked to seal");
            enc_->set_associated_data(aad.data(), aad.size());
            enc_->start(nonce.data(), nonce.size());
            const std::size_t granularity = enc_->update_granularity();
            const std::size_t bulk = text.size() - text.size() % granularity;
            if (bulk) enc_->process(text.data(), bulk);
            // The sub-granularity tail goes through a buffer kept across calls: a fresh
            // secure_vector per record costs a locked pool allocation (SRTP: per packet).
            auto& tail = scratch_;
            tail.assign(text.begin() + bulk, text.end());
            enc_->finish(tail);
            std::copy_n(tail.begin(), text.size() - bulk, text.begin() + bulk);
            std::copy_n(tail.end() - tag_size, tag_size, tag.begin());
        }

        /// Verifies and decrypts buffer[offset, end) (ciphertext || tag) in place; on
        /// success the tag is removed. On failure returns false; the buffer is then garbage.
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
            if (!dec_) throw std::logic_error("Aead: created seal_only, asked to open");
            try {
                dec_->set_associated_data(aad.data(), aad.size());
                dec_->start(nonce.data(), nonce.size());
                const std::size_t granularity = dec_->update_granularity();
                std::size_t bulk = text.size() - text.size() % granularity;
                if (bulk) dec_->process(text.data(), bulk);
                auto& tail = scratch_;
                tail.assign(text.begin() + bulk, text.end());
                tail.insert(tail.end(), tag.begin(), tag.end());
                dec_->finish(tail);  // throws Invalid_Authentication_Tag on a bad tag
                std::copy(tail.begin(), tail.end(), text.begin() + bulk);
                return true;
            } catch (const Botan::Exception&) {
                return false;
            }
        }

    private:
        AeadAlgorithm alg_{};
        std::shared_ptr<Botan::AEAD_Mode> enc_, dec_;
        mutable Botan::secure_vector<std::uint8_t> scratch_;  // reused tail buffer (see seal_in_place)
    };

    /// Incremental hash with a cheap snapshot (TLS transcript hashes need both).
    class Hash {
    public:
        explicit Hash(HashAlgorithm alg) : alg_(alg), h_(Botan::HashFunction::create_or_throw(botan_name(alg))) {}
        Hash(const Hash& o) : alg_(o.alg_), h_(o.h_->copy_state()) {}
        Hash& operator=(const Hash& o) {
            alg_ = o.alg_;
            h_ = o.h_->copy_state();
            return *this;
        }
        Hash(Hash&&) = default;
        Hash& operator=(Hash&&) = default;
        void update(ByteView data) { h_->update(data.data(), data.size()); }
        /// The digest of everything so far, without disturbing the running state.
        Bytes peek() const {
            auto copy = h_->copy_state();
            Bytes out(copy->output_length());
            copy->final(out.data());
            return out;
        }
        Bytes final() {
            Bytes out(h_->output_length());
            h_->final(out.data());
            return out;
        }
        HashAlgorithm algorithm() const noexcept { return alg_; }

    private:
        HashAlgorithm alg_;
        std::unique_ptr<Botan::HashFunction> h_;
    };

    static Bytes hash(HashAlgorithm alg, ByteView data) {
        Hash h(alg);
        h.update(data);
        return h.final();
    }

    static SecretBytes hmac(HashAlgorithm alg, ByteView key, ByteView data) { return hmac_with<Botan2>(alg, key, data); }

    /// A MAC keyed once and reused for many messages (SRTP's per-packet HMAC-SHA1):
    /// the key schedule runs once; after final() it is ready for the next message.
    class Hmac {
    public:
        static Result<Hmac> create(HashAlgorithm alg, ByteView key) {
            if (!keyed_use_allowed(alg)) return Errc::unsupported_algorithm;
            Hmac h;
            h.mac_ = Botan::MessageAuthenticationCode::create_or_throw(std::string("HMAC(") + botan_name(alg) + ")");
            h.mac_->set_key(key.data(), key.size());
            return h;
        }
        std::size_t output_length() const { return mac_->output_length(); }
        void update(ByteView data) { mac_->update(data.data(), data.size()); }
        /// Writes the whole MAC to out[0, output_length()) and resets to the keyed state.
        void final(MutableByteView out) { mac_->final(out.data()); }

    private:
        std::shared_ptr<Botan::MessageAuthenticationCode> mac_;
    };

    static SecretBytes hkdf_extract(HashAlgorithm alg, ByteView salt, ByteView ikm) {
        return hkdf_extract_with<Botan2>(alg, salt, ikm);
    }
    static SecretBytes hkdf_expand(HashAlgorithm alg, ByteView prk, ByteView info, std::size_t length) {
        return hkdf_expand_with<Botan2>(alg, prk, info, length);
    }

    /// An ephemeral key-agreement key: X25519 (32-byte public), NIST P-256/P-384
    /// (uncompressed point, as TLS sends it), or RFC 7919 ffdhe2048/ffdhe3072 (the public
    /// value big-endian, padded to the prime's length). Botan 2 has no X448.
    class KeyShare {
    public:
        static constexpr bool supports(KeyExchangeGroup group) noexcept { return group != KeyExchangeGroup::x448; }

        static Result<KeyShare> generate(KeyExchangeGroup group) {
            if (!supports(group)) return Errc::unsupported_algorithm;
            KeyShare k;
            k.group_ = group;
            if (group == KeyExchangeGroup::x25519)
                k.key_ = std::make_shared<Botan::Curve25519_PrivateKey>(rng());
            else if (ffdhe_prime_size(group))
                k.key_ = std::make_shared<Botan::DH_PrivateKey>(rng(), Botan::DL_Group(ffdhe_name(group)));
            else
                k.key_ = std::make_shared<Botan::ECDH_PrivateKey>(
                    rng(), Botan::EC_Group(group == KeyExchangeGroup::secp256r1 ? "secp256r1" : "secp384r1"));
            return k;
        }
        static const char* ffdhe_name(KeyExchangeGroup group) noexcept {
            return group == KeyExchangeGroup::ffdhe2048   ? "ffdhe/ietf/2048"
                   : group == KeyExchangeGroup::modp2048 ? "modp/ietf/2048"
                                                          : "ffdhe/ietf/3072";
        }
        /// The finite-field key for exponent `private_key` (big-endian, >= 2; far below q).
        static Result<KeyShare> from_ffdhe_private(KeyExchangeGroup group, ByteView private_key) {
            if (private_key.size() != private_key_size(group)) return Errc::invalid_private_key;
            try {
                Botan::DL_Group dl(ffdhe_name(group));
                const Botan::BigInt x(private_key.data(), private_key.size());
                if (x < 2) return Errc::invalid_private_key;
                KeyShare k;
                k.group_ = group;
                k.key_ = std::make_shared<Botan::DH_PrivateKey>(rng(), dl, x);
                return k;
            } catch (const std::exception&) {
                return Errc::invalid_private_key;
            }
        }
        /// X25519 from a fixed private scalar (test vectors, WireGuard static keys).
        static Result<KeyShare> from_x25519_private(ByteView scalar) {
            if (scalar.size() != 32) return Errc::invalid_private_key;
            KeyShare k;
            k.group_ = KeyExchangeGroup::x25519;
            Botan::secure_vector<std::uint8_t> s(scalar.begin(), scalar.end());
            k.key_ = std::make_shared<Botan::Curve25519_PrivateKey>(s);
            return k;
        }
        /// A key share from private-key bytes the caller drew (an injected random source,
        /// or a published trace): the X25519 scalar (32 bytes, clamped by X25519 itself), or
        /// the big-endian NIST scalar (32 / 48 bytes), which must lie in [1, n-1].
        static Result<KeyShare> from_private(KeyExchangeGroup group, ByteView private_key) {
            if (!supports(group)) return Errc::unsupported_algorithm;
            if (group == KeyExchangeGroup::x25519) return from_x25519_private(private_key);
            if (ffdhe_prime_size(group)) return from_ffdhe_private(group, private_key);
            const bool p256 = group == KeyExchangeGroup::secp256r1;
            if (private_key.size() != (p256 ? 32u : 48u)) return Errc::invalid_private_key;
            try {
                Botan::EC_Group curve(p256 ? "secp256r1" : "secp384r1");
                const Botan::BigInt x(private_key.data(), private_key.size());
                if (x.is_zero() || x >= curve.get_order()) return Errc::invalid_private_key;
                KeyShare k;
                k.group_ = group;
                k.key_ = std::make_shared<Botan::ECDH_PrivateKey>(rng(), curve, x);
                return k;
            } catch (const std::exception&) {
                return Errc::invalid_private_key;
            }
        }
        KeyExchangeGroup group() const noexcept { return group_; }
        Bytes public_key() const {
            auto v = dynamic_cast<const Botan::PK_Key_Agreement_Key&>(*key_).public_value();
            Bytes out(v.begin(), v.end());
            if (const std::size_t n = ffdhe_prime_size(group_); n > out.size()) out.insert(out.begin(), n - out.size(), 0);
            return out;
        }
        /// Shared secret with the peer's public value; errors on a malformed or
        /// low-order point (an all-zero X25519 output is rejected, RFC 7748 6.1), or a
        /// finite-field value outside 1 < Y < p-1 (RFC 7919 5.1); a finite-field secret
        /// is padded to the prime's length (RFC 8446 7.4.1).
        Result<SecretBytes> agree(ByteView peer_public) const {
            try {
                if (const std::size_t n = ffdhe_prime_size(group_)) {
                    if (peer_public.size() != n) return Errc::decode_error;
                    const Botan::BigInt y(peer_public.data(), peer_public.size());
                    const Botan::BigInt& p = dynamic_cast<const Botan::DH_PrivateKey&>(*key_).group_p();
                    if (y <= 1 || y >= p - 1) return Errc::decode_error;
                    Botan::PK_Key_Agreement ka(*key_, rng(), "Raw");
                    auto secret = ka.derive_key(0, peer_public.data(), peer_public.size()).bits_of();
                    SecretBytes out(n - std::min(n, secret.size()), 0);
                    out.insert(out.end(), secret.begin(), secret.end());
                    Botan::secure_scrub_memory(secret.data(), secret.size());
                    return out;
                }
                if (group_ == KeyExchangeGroup::x25519 && peer_public.size() != 32) return Errc::decode_error;
                if (group_ == KeyExchangeGroup::secp256r1 && (peer_public.size() != 65 || peer_public[0] != 4))
                    return Errc::decode_error;
                if (group_ == KeyExchangeGroup::secp384r1 && (peer_public.size() != 97 || peer_public[0] != 4))
                    return Errc::decode_error;
                Botan::PK_Key_Agreement ka(*key_, rng(), "Raw");
                auto secret = ka.derive_key(0, peer_public.data(), peer_public.size()).bits_of();
                SecretBytes out(secret.begin(), secret.end());
                std::uint8_t any = 0;
                for (auto b : out) any |= b;
                if (any == 0) return Errc::handshake_failure;
                return out;
            } catch (const Botan::Exception&) {
                return Errc::decode_error;
            }
        }

    private:
        KeyExchangeGroup group_{};
        std::shared_ptr<Botan::Private_Key> key_;
    };

    /// A raw block cipher (AES-128/192/256 by key length): SRTP's AES-CM keystream
    /// and QUIC header protection are built on single-block encryption.
    class BlockCipher {
    public:
        static Result<BlockCipher> aes(ByteView key) {
            const char* n = key.size() == 16 ? "AES-128" : key.size() == 24 ? "AES-192" : key.size() == 32 ? "AES-256" : nullptr;
            if (!n) return Errc::invalid_configuration;
            BlockCipher c;
            c.cipher_ = Botan::BlockCipher::create_or_throw(n);
            c.cipher_->set_key(key.data(), key.size());
            return c;
        }
        /// Encrypts `blocks` consecutive 16-byte blocks from `in` to `out` (may alias).
        void encrypt_blocks(const std::uint8_t* in, std::uint8_t* out, std::size_t blocks) const {
            cipher_->encrypt_n(in, out, blocks);
        }

    private:
        std::shared_ptr<Botan::BlockCipher> cipher_;
    };

    /// AES-CBC (RFC 3602) over whole 16-byte blocks, without padding: IKEv2's SK payload
    /// and ESP pad themselves. The IV is the caller's (one per message).
    class CbcCipher {
    public:
        static constexpr std::size_t block_size = 16;
        static Result<CbcCipher> create(ByteView key) {
            const char* n = key.size() == 16   ? "AES-128/CBC/NoPadding"
                            : key.size() == 24 ? "AES-192/CBC/NoPadding"
                            : key.size() == 32 ? "AES-256/CBC/NoPadding"
                                               : nullptr;
            if (!n) return Errc::invalid_configuration;
            CbcCipher c;
            c.enc_ = Botan::Cipher_Mode::create_or_throw(n, Botan::ENCRYPTION);
            c.dec_ = Botan::Cipher_Mode::create_or_throw(n, Botan::DECRYPTION);
            c.enc_->set_key(key.data(), key.size());
            c.dec_->set_key(key.data(), key.size());
            return c;
        }
        /// Encrypts `data` (a multiple of 16 bytes) in place under the 16-byte `iv`.
        bool encrypt(ByteView iv, MutableByteView data) const { return run(*enc_, iv, data); }
        bool decrypt(ByteView iv, MutableByteView data) const { return run(*dec_, iv, data); }

    private:
        static bool run(Botan::Cipher_Mode& mode, ByteView iv, MutableByteView data) {
            if (iv.size() != block_size || data.size() % block_size) return false;
            mode.start(iv.data(), iv.size());
            if (!data.empty()) mode.process(data.data(), data.size());
            return true;
        }
        std::shared_ptr<Botan::Cipher_Mode> enc_, dec_;
    };

    /// A keyed stream cipher: "CTR(AES-128)" etc. or "ChaCha(20)". XORs keystream in place.
    class StreamCipher {
    public:
        static Result<StreamCipher> create(std::string_view botan_algorithm, ByteView key) {
            StreamCipher c;
            c.cipher_ = Botan::StreamCipher::create(std::string(botan_algorithm));
            if (!c.cipher_ || !c.cipher_->valid_keylength(key.size())) return Errc::unsupported_algorithm;
            c.cipher_->set_key(key.data(), key.size());
            return c;
        }
        void set_iv(ByteView iv) { cipher_->set_iv(iv.data(), iv.size()); }
        void seek(std::uint64_t offset) { cipher_->seek(offset); }
        void apply(MutableByteView data) { cipher_->cipher1(data.data(), data.size()); }

    private:
        std::shared_ptr<Botan::StreamCipher> cipher_;
    };

    /// Raw Ed25519 (RFC 8032): 32-byte seeds and public keys, for protocols that sign
    /// without certificates (MinimaLT's directory records).
    struct Ed25519 {
        static constexpr std::size_t seed_size = 32, public_key_size = 32, signature_size = 64;
        static Result<Bytes> public_key(ByteView seed) {
            if (seed.size() != seed_size) return Errc::invalid_private_key;
            Botan::Ed25519_PrivateKey key(Botan::secure_vector<std::uint8_t>(seed.begin(), seed.end()));
            auto pub = key.get_public_key();
            return Bytes(pub.begin(), pub.end());
        }
        static Result<Bytes> sign(ByteView seed, ByteView message) {
            if (seed.size() != seed_size) return Errc::invalid_private_key;
            try {
                Botan::Ed25519_PrivateKey key(Botan::secure_vector<std::uint8_t>(seed.begin(), seed.end()));
                Botan::PK_Signer signer(key, rng(), "Pure");
                auto sig = signer.sign_message(message.data(), message.size(), rng());
                return Bytes(sig.begin(), sig.end());
            } catch (const Botan::Exception&) {
                return Errc::internal_error;
            }
        }
        static bool verify(ByteView public_key, ByteView message, ByteView signature) {
            if (public_key.size() != public_key_size || signature.size() != signature_size) return false;
            try {
                Botan::Ed25519_PublicKey key(std::vector<std::uint8_t>(public_key.begin(), public_key.end()));
                Botan::PK_Verifier verifier(key, "Pure");
                return verifier.verify_message(message.data(), message.size(), signature.data(), signature.size());
            } catch (const Botan::Exception&) {
                return false;
            }
        }
    };

    // ---- certificates, private keys, signatures -------------------------------------

    static std::string emsa_for(SignatureScheme s) {
        switch (s) {
            case SignatureScheme::rsa_pkcs1_sha256: return "EMSA3(SHA-256)";
            case SignatureScheme::rsa_pkcs1_sha384: return "EMSA3(SHA-384)";
            case SignatureScheme::rsa_pkcs1_sha512: return "EMSA3(SHA-512)";
            case SignatureScheme::ecdsa_secp256r1_sha256: return "EMSA1(SHA-256)";
            case SignatureScheme::ecdsa_secp384r1_sha384: return "EMSA1(SHA-384)";
            case SignatureScheme::ecdsa_secp521r1_sha512: return "EMSA1(SHA-512)";
            case SignatureScheme::rsa_pss_rsae_sha256:
            case SignatureScheme::rsa_pss_pss_sha256: return "PSSR(SHA-256,MGF1,32)";
            case SignatureScheme::rsa_pss_rsae_sha384: return "PSSR(SHA-384,MGF1,48)";
            case SignatureScheme::rsa_pss_rsae_sha512: return "PSSR(SHA-512,MGF1,64)";
            case SignatureScheme::ed25519: return "Pure";
        }
        return "";
    }

    static bool scheme_fits_key(SignatureScheme s, const Botan::Public_Key& key) {
        const auto algo = key.algo_name();
        switch (s) {
            case SignatureScheme::ed25519: return algo == "Ed25519";
            case SignatureScheme::ecdsa_secp256r1_sha256:
            case SignatureScheme::ecdsa_secp384r1_sha384:
            case SignatureScheme::ecdsa_secp521r1_sha512: {
                if (algo != "ECDSA") return false;
                const auto& ec = dynamic_cast<const Botan::EC_PublicKey&>(key);
                const auto oid = ec.domain().get_curve_oid().to_formatted_string();
                return (s == SignatureScheme::ecdsa_secp256r1_sha256 && oid == "secp256r1") ||
                       (s == SignatureScheme::ecdsa_secp384r1_sha384 && oid == "secp384r1") ||
                       (s == SignatureScheme::ecdsa_secp521r1_sha512 && oid == "secp521r1");
            }
            case SignatureScheme::rsa_pkcs1_sha256:
            case SignatureScheme::rsa_pkcs1_sha384:
            case SignatureScheme::rsa_pkcs1_sha512:
            case SignatureScheme::rsa_pss_rsae_sha256:
            case SignatureScheme::rsa_pss_rsae_sha384:
            case SignatureScheme::rsa_pss_rsae_sha512: return algo == "RSA";
            case SignatureScheme::rsa_pss_pss_sha256: return false;
        }
        return false;
    }

    class PrivateKey {
    public:
        static Result<PrivateKey> from_pem(std::string_view pem) {
            try {
                Botan::DataSource_Memory source(reinterpret_cast<const std::uint8_t*>(pem.data()), pem.size());
                PrivateKey k;
                k.key_ = std::shared_ptr<Botan::Private_Key>(Botan::PKCS8::load_key(source));
                return k;
            } catch (const std::exception&) {
                return Errc::invalid_private_key;
            }
        }
        /// Schemes this key can produce, in preference order.
        std::vector<SignatureScheme> schemes() const {
            std::vector<SignatureScheme> out;
            for (auto s : {SignatureScheme::ed25519, SignatureScheme::ecdsa_secp256r1_sha256,
                           SignatureScheme::ecdsa_secp384r1_sha384, SignatureScheme::ecdsa_secp521r1_sha512,
                           SignatureScheme::rsa_pss_rsae_sha256, SignatureScheme::rsa_pss_rsae_sha384,
                           SignatureScheme::rsa_pss_rsae_sha512})
                if (scheme_fits_key(s, *key_)) out.push_back(s);
            return out;
        }
        Result<Bytes> sign(SignatureScheme scheme, ByteView message) const { return sign(scheme, message, rng()); }
        /// Signs with the randomness of the signature itself (the RSA-PSS salt, ECDSA's
        /// per-signature blinding) drawn from `random`, an injected source such as
        /// CommonConfig::random. RSA's private-key blinding stays on the system RNG: it
        /// never reaches the wire, and a fixed injected source must not weaken it.
        Result<Bytes> sign(SignatureScheme scheme, ByteView message,
                           const std::function<void(MutableByteView)>& random) const {
            if (!random) return sign(scheme, message);
            CallbackRng source(random);
            return sign(scheme, message, source);
        }
        const Botan::Private_Key& botan_key() const { return *key_; }
        std::shared_ptr<Botan::Private_Key> shared_botan_key() const { return key_; }

    private:
        /// A Botan RNG that reads from a caller's random source.
        class CallbackRng final : public Botan::RandomNumberGenerator {
        public:
            explicit CallbackRng(const std::function<void(MutableByteView)>& random) : random_(random) {}
            void randomize(std::uint8_t out[], std::size_t length) override { random_(MutableByteView(out, length)); }
            bool accepts_input() const override { return false; }
            void add_entropy(const std::uint8_t[], std::size_t) override {}
            std::string name() const override { return "tapsec injected random"; }
            void clear() override {}
            bool is_seeded() const override { return true; }

        private:
            const std::function<void(MutableByteView)>& random_;
        };

        Result<Bytes> sign(SignatureScheme scheme, ByteView message, Botan::RandomNumberGenerator& signature_rng) const {
            if (!scheme_fits_key(scheme, *key_)) return Errc::unsupported_algorithm;
            try {
                Botan::PK_Signer signer(*key_, rng(), emsa_for(scheme),
                                        key_->algo_name() == "ECDSA" ? Botan::DER_SEQUENCE : Botan::IEEE_1363);
                auto sig = signer.sign_message(message.data(), message.size(), signature_rng);
                return Bytes(sig.begin(), sig.end());
            } catch (const Botan::Exception&) {
                return Errc::internal_error;
            }
        }

        std::shared_ptr<Botan::Private_Key> key_;
    };

    class Certificate {
    public:
        static Result<Certificate> from_der(ByteView der) {
            try {
                Certificate c;
                c.cert_ = std::make_shared<Botan::X509_Certificate>(der.data(), der.size());
                return c;
            } catch (const std::exception&) {
                return Errc::invalid_certificate;
            }
        }
        /// Every certificate in a PEM bundle, in order. Errors if there are none.
        static Result<std::vector<Certificate>> chain_from_pem(std::string_view pem) {
            std::vector<Certificate> chain;
            try {
                Botan::DataSource_Memory source(reinterpret_cast<const std::uint8_t*>(pem.data()), pem.size());
                while (!source.end_of_data()) {
                    try {
                        Certificate c;
                        c.cert_ = std::make_shared<Botan::X509_Certificate>(source);
                        chain.push_back(std::move(c));
                    } catch (const Botan::Decoding_Error&) {
                        break;
                    }
                }
            } catch (const std::exception&) {
                return Errc::invalid_certificate;
            }
            if (chain.empty()) return Errc::invalid_certificate;
            return chain;
        }
        Bytes der() const {
            auto v = cert_->BER_encode();
            return Bytes(v.begin(), v.end());
        }
        std::string subject() const { return cert_->subject_dn().to_string(); }
        /// Verifies a signature made by this certificate's key.
        bool verify(SignatureScheme scheme, ByteView message, ByteView signature) const {
            try {
                auto key = cert_->load_subject_public_key();
                if (!scheme_fits_key(scheme, *key)) return false;
                Botan::PK_Verifier verifier(*key, emsa_for(scheme),
                                            key->algo_name() == "ECDSA" ? Botan::DER_SEQUENCE : Botan::IEEE_1363);
                return verifier.verify_message(message.data(), message.size(), signature.data(), signature.size());
            } catch (const std::exception&) {
                return false;
            }
        }
        const Botan::X509_Certificate& botan_certificate() const { return *cert_; }

    private:
        std::shared_ptr<Botan::X509_Certificate> cert_;
    };

    /// A TrustStore parsed once: the configured CA certificates in an in-memory store and,
    /// when asked for, the system store. Copies share the parsed stores (read-only during
    /// validation, so connections on several threads may share them). Keep it in a
    /// configuration, never in a process-wide static: Botan objects must not outlive
    /// Botan's allocator at exit.
    class TrustAnchors {
    public:
        static Result<TrustAnchors> load(const TrustStore& trust) {
            TrustAnchors anchors;
            auto configured = std::make_shared<Botan::Certificate_Store_In_Memory>();
            for (const auto& pem : trust.ca_certificates_pem) {
                auto cas = Certificate::chain_from_pem(pem);
                if (!cas) return Errc::invalid_certificate;
                for (const auto& ca : *cas) configured->add_certificate(ca.botan_certificate());
            }
            anchors.configured_ = std::move(configured);
            if (trust.use_system_store) {
                try {
                    anchors.system_ = std::make_shared<Botan::System_Certificate_Store>();
                } catch (const std::exception&) {
                }
            }
            return anchors;
        }
        /// The stores in the order path validation consults them.
        std::vector<Botan::Certificate_Store*> stores() const {
            std::vector<Botan::Certificate_Store*> out;
            if (configured_) out.push_back(configured_.get());
            if (system_) out.push_back(system_.get());
            return out;
        }

    private:
        std::shared_ptr<Botan::Certificate_Store_In_Memory> configured_;
        std::shared_ptr<Botan::Certificate_Store> system_;
    };

    /// PKIX path validation of `chain_der` (leaf first) against `trust`, checking
    /// `hostname` when it is not empty. Maps Botan's verdicts to distinct error codes.
    /// Parses the trust store on every call: a caller validating many chains against one
    /// store should load TrustAnchors once and use the overload below.
    static std::error_code validate_chain(const std::vector<Bytes>& chain_der, const TrustStore& trust,
                                          std::string_view hostname, std::chrono::system_clock::time_point now) {
        return validate_der_chain<Botan2>(chain_der, trust, hostname, now);
    }

    /// The same validation over certificates already parsed and anchors already loaded.
    static std::error_code validate_chain(const std::vector<Certificate>& parsed_chain, const TrustAnchors& anchors,
                                          std::string_view hostname, std::chrono::system_clock::time_point now) {
        if (parsed_chain.empty()) return Errc::certificate_untrusted;
        // Botan's X509_Certificate shares its decoded data between copies: no re-parse.
        std::vector<Botan::X509_Certificate> chain;
        chain.reserve(parsed_chain.size());
        for (const auto& c : parsed_chain) chain.push_back(c.botan_certificate());
        const auto stores = anchors.stores();
        Botan::Path_Validation_Restrictions restrictions(false, 110);
        // The name is checked here, not by Botan: Botan 2 ignores IPv6 iPAddress SANs.
        auto result = Botan::x509_path_validate(chain, restrictions, stores, "", Botan::Usage_Type::UNSPECIFIED, now);
        auto verdict = map_validation(result.result());
        if (verdict == make_error_code(Errc::certificate_untrusted) && is_trust_anchor_itself(chain.front(), stores))
            return check_anchor_leaf(chain.front(), hostname, now);
        if (verdict) return verdict;
        if (!hostname.empty() && !certificate_matches_name(chain.front(), hostname)) return Errc::certificate_name_mismatch;
        return {};
    }

    /// RFC 6125 / RFC 5280 reference identity check: an IPv4 or IPv6 literal matches an
    /// iPAddress subjectAltName of the same bytes (however the literal is written: "::1"
    /// and "0:0:0:0:0:0:0:1" are one address); any other name goes to Botan's DNS-name
    /// match (SAN dNSName, wildcards, CN only without SANs).
    static bool certificate_matches_name(const Botan::X509_Certificate& leaf, std::string_view name) {
        const std::string text(name);
        std::uint8_t address[16];
        std::size_t address_length = 0;
        if (::inet_pton(AF_INET, text.c_str(), address) == 1) address_length = 4;
        else if (::inet_pton(AF_INET6, text.c_str(), address) == 1) address_length = 16;
        if (address_length == 0) return leaf.matches_dns_name(text);
        try {
            const auto raw = leaf.v3_extensions().extensions_raw();
            const auto san = raw.find(Botan::OID("2.5.29.17"));
            if (san == raw.end()) return false;
            Botan::BER_Decoder extension(san->second.first);
            Botan::BER_Decoder names = extension.start_cons(Botan::SEQUENCE);
            while (names.more_items()) {
                const Botan::BER_Object entry = names.get_next_object();
                if (entry.is_a(7, Botan::CONTEXT_SPECIFIC) && entry.length() == address_length &&
                    std::equal(address, address + address_length, entry.bits()))
                    return true;
            }
        } catch (const std::exception&) {
            return false;  // an undecodable SAN matches nothing
        }
        return false;
    }

    /// A self-signed leaf that is exactly one of the configured anchors (the usual
    /// `openssl req -x509` certificate given as its own CA file). Botan's path validation
    /// refuses it; OpenSSL and GnuTLS accept an exact match with an anchor, and so do we.
    static bool is_trust_anchor_itself(const Botan::X509_Certificate& leaf,
                                       const std::vector<Botan::Certificate_Store*>& anchors) {
        if (!leaf.is_self_signed()) return false;
        for (const auto* store : anchors)
            for (const auto& candidate : store->find_all_certs(leaf.subject_dn(), leaf.subject_key_id()))
                if (candidate && *candidate == leaf) return true;
        return false;
    }

    /// What still applies to such a leaf: its own signature, its validity period, the name.
    static std::error_code check_anchor_leaf(const Botan::X509_Certificate& leaf, std::string_view hostname,
                                             std::chrono::system_clock::time_point now) {
        try {
            if (!leaf.check_signature(*leaf.load_subject_public_key())) return Errc::certificate_untrusted;
        } catch (const std::exception&) {
            return Errc::certificate_untrusted;
        }
        const Botan::X509_Time at(now);
        if (at < leaf.not_before() || at > leaf.not_after()) return Errc::certificate_expired;
        if (!hostname.empty() && !certificate_matches_name(leaf, hostname)) return Errc::certificate_name_mismatch;
        return {};
    }

    static std::error_code map_validation(Botan::Certificate_Status_Code code) {
        using C = Botan::Certificate_Status_Code;
        if (code == C::OK || code == C::VERIFIED) return {};
        switch (code) {
            case C::CERT_NAME_NOMATCH: return Errc::certificate_name_mismatch;
            case C::CERT_HAS_EXPIRED:
            case C::CERT_NOT_YET_VALID:
            case C::CA_CERT_NOT_FOR_CERT_ISSUER:
                return code == C::CA_CERT_NOT_FOR_CERT_ISSUER ? Errc::certificate_untrusted : Errc::certificate_expired;
            default: return Errc::certificate_untrusted;
        }
    }
};

static_assert(PkiProvider<Botan2>);

/// The provider a composition uses unless told otherwise.
using DefaultProvider = Botan2;

}  // namespace tapsec::crypto
