// One direction's SRTP or SRTCP cryptographic transform (RFC 3711 4.1, 4.2;
// RFC 7714 8, 9): session keys derived once, keyed AES / HMAC / AEAD objects reused
// for every packet, everything in place in the caller's buffer. It knows nothing of
// rollover counters or replay: srtp::Session supplies the packet index.
#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <optional>

#include "../core/bytes.hpp"
#include "../core/errors.hpp"
#include "../crypto/provider.hpp"
#include "aes_cm.hpp"
#include "errors.hpp"
#include "kdf.hpp"
#include "profiles.hpp"

namespace tapsec::srtp {

enum class Stream { rtp, rtcp };

/// Session keys for one direction and one of SRTP/SRTCP (RFC 3711 4.3).
struct SessionKeys {
    SecretBytes cipher_key;
    SecretBytes salt;
    SecretBytes auth_key;  // empty for AEAD profiles
};

/// Derives one direction's SRTP or SRTCP session keys from its master key and salt.
template <class Crypto>
Result<SessionKeys> derive_session_keys(Profile profile, Stream stream, ByteView master_key, ByteView master_salt) {
    const auto p = parameters(profile);
    if (p.master_key_length == 0) return std::error_code(make_error_code(Error::unsupported_profile));
    if (master_key.size() != p.master_key_length || master_salt.size() != p.master_salt_length)
        return std::error_code(make_error_code(Error::invalid_key_length));
    auto kdf = KeyDerivation<Crypto>::create(master_key, master_salt);
    if (!kdf) return kdf.error();
    const bool rtp = stream == Stream::rtp;
    SessionKeys keys;
    keys.cipher_key = kdf->derive(rtp ? KdfLabel::rtp_encryption : KdfLabel::rtcp_encryption, p.master_key_length);
    keys.salt = kdf->derive(rtp ? KdfLabel::rtp_salt : KdfLabel::rtcp_salt, p.master_salt_length);
    if (p.session_auth_key_length)
        keys.auth_key = kdf->derive(rtp ? KdfLabel::rtp_authentication : KdfLabel::rtcp_authentication,
                                    p.session_auth_key_length);
    return keys;
}

/// Where the SRTCP trailer put things (RFC 3711 3.4; RFC 7714 9: the AEAD tag comes
/// before the E flag + index, HMAC's after).
struct SrtcpTrailer {
    std::size_t body_length = 0;  // the RTCP compound packet (encrypted part included)
    std::uint32_t index = 0;      // 31-bit SRTCP index
    bool encrypted = false;       // the E flag
};

template <class Crypto>
class CryptoContext {
public:
    /// From session keys directly (what RFC 7714's examples give).
    static Result<CryptoContext> from_session_keys(Profile profile, Stream stream, const SessionKeys& keys) {
        const auto p = parameters(profile);
        if (p.master_key_length == 0) return std::error_code(make_error_code(Error::unsupported_profile));
        if (keys.cipher_key.size() != p.master_key_length || keys.salt.size() != p.master_salt_length ||
            keys.auth_key.size() != p.session_auth_key_length)
            return std::error_code(make_error_code(Error::invalid_key_length));
        CryptoContext c;
        c.profile_ = profile;
        c.aead_mode_ = p.aead;
        c.tag_length_ = stream == Stream::rtp ? p.srtp_tag_length : p.srtcp_tag_length;
        std::memcpy(c.salt_.data(), keys.salt.data(), keys.salt.size());
        if (p.aead) {
            auto aead = Crypto::Aead::create(p.master_key_length == 16 ? crypto::AeadAlgorithm::aes_128_gcm
                                                                       : crypto::AeadAlgorithm::aes_256_gcm,
                                             keys.cipher_key);
            if (!aead) return aead.error();
            c.aead_.emplace(std::move(*aead));
        } else {
            auto aes = Crypto::BlockCipher::aes(keys.cipher_key);
            if (!aes) return aes.error();
            c.aes_.emplace(std::move(*aes));
            auto mac = Crypto::Hmac::create(crypto::HashAlgorithm::sha1, keys.auth_key);
            if (!mac) return mac.error();
            c.hmac_.emplace(std::move(*mac));
        }
        return c;
    }

    /// Derives the session keys from a master key with the SRTP KDF.
    static Result<CryptoContext> derive(Profile profile, Stream stream, ByteView master_key, ByteView master_salt) {
        auto keys = derive_session_keys<Crypto>(profile, stream, master_key, master_salt);
        if (!keys) return keys.error();
        return from_session_keys(profile, stream, *keys);
    }

    Profile profile() const noexcept { return profile_; }
    std::size_t tag_length() const noexcept { return tag_length_; }
    /// Bytes protect_rtcp adds: tag and the 4-byte E flag + index.
    std::size_t rtcp_overhead() const noexcept { return tag_length_ + 4; }

    // ---- SRTP ----------------------------------------------------------------------

    /// Protects packet[0, length) (header of `header_length` bytes, then payload) in
    /// place and writes the tag after it; the caller guarantees tag_length() bytes of
    /// room. Returns the protected length.
    std::size_t protect_rtp(std::uint8_t* packet, std::size_t header_length, std::size_t length, std::uint32_t ssrc,
                            std::uint32_t roc, std::uint16_t seq) {
        MutableByteView payload(packet + header_length, length - header_length);
        if (aead_mode_) {
            const auto nonce = gcm_nonce(ssrc, roc, seq);
            aead_->seal_in_place(nonce, ByteView(packet, header_length), payload, MutableByteView(packet + length, tag_length_));
        } else {
            const std::uint64_t index = std::uint64_t{roc} << 16 | seq;
            const auto iv = cm_iv(ssrc, index);
            aes_cm_apply(*aes_, iv.data(), payload);
            write_hmac_tag(ByteView(packet, length), roc, packet + length);
        }
        return length + tag_length_;
    }

    /// Verifies and decrypts packet[0, length) (which ends with the tag) in place.
    /// Returns false if the tag is wrong; the payload is then unchanged (AES-CM verifies
    /// before decrypting) or zeroed (GCM decrypts while verifying): never unverified plaintext.
    bool unprotect_rtp(std::uint8_t* packet, std::size_t header_length, std::size_t length, std::uint32_t ssrc,
                       std::uint32_t roc, std::uint16_t seq) {
        const std::size_t body = length - tag_length_;
        MutableByteView payload(packet + header_length, body - header_length);
        if (aead_mode_) {
            const auto nonce = gcm_nonce(ssrc, roc, seq);
            if (aead_->open_in_place(nonce, ByteView(packet, header_length), payload, ByteView(packet + body, tag_length_)))
                return true;
            secure_zero(payload.data(), payload.size());
            return false;
        }
        std::uint8_t expected[20];
        write_hmac_tag(ByteView(packet, body), roc, expected);
        if (!constant_time_equal(ByteView(expected, tag_length_), ByteView(packet + body, tag_length_))) return false;
        const std::uint64_t index = std::uint64_t{roc} << 16 | seq;
        const auto iv = cm_iv(ssrc, index);
        aes_cm_apply(*aes_, iv.data(), payload);
        return true;
    }

    // ---- SRTCP ---------------------------------------------------------------------

    /// Protects the RTCP compound packet[0, length) in place: encrypts after the first
    /// 8 octets when `encrypt` (the E flag), appends E||index and the tag. Needs
    /// rtcp_overhead() bytes of room. Returns the protected length.
    std::size_t protect_rtcp(std::uint8_t* packet, std::size_t length, std::uint32_t ssrc, std::uint32_t index, bool encrypt) {
        const std::uint32_t e_index = (encrypt ? 0x80000000u : 0u) | (index & 0x7fffffffu);
        std::uint8_t e_index_bytes[4];
        store32(e_index_bytes, e_index);
        if (aead_mode_) {
            // RFC 7714 9.2: AAD = first 8 octets || E||index (encrypted), or the whole
            // packet || E||index (authentication only, empty plaintext).
            const auto nonce = gcm_rtcp_nonce(ssrc, index);
            std::uint8_t* trailer = packet + length + tag_length_;
            std::memcpy(trailer, e_index_bytes, 4);
            // The AAD must be contiguous: build it on the stack when it is only 12 bytes,
            // otherwise (E = 0) the packet and index are not adjacent, so copy.
            if (encrypt) {
                std::uint8_t aad[12];
                std::memcpy(aad, packet, 8);
                std::memcpy(aad + 8, e_index_bytes, 4);
                aead_->seal_in_place(nonce, ByteView(aad, 12), MutableByteView(packet + 8, length - 8),
                                     MutableByteView(packet + length, tag_length_));
            } else {
                aad_scratch_.assign(packet, packet + length);
                aad_scratch_.insert(aad_scratch_.end(), e_index_bytes, e_index_bytes + 4);
                aead_->seal_in_place(nonce, aad_scratch_, MutableByteView(), MutableByteView(packet + length, tag_length_));
            }
            return length + tag_length_ + 4;
        }
        if (encrypt) {
            const auto iv = cm_iv(ssrc, index);
            aes_cm_apply(*aes_, iv.data(), MutableByteView(packet + 8, length - 8));
        }
        std::memcpy(packet + length, e_index_bytes, 4);
        std::uint8_t mac[20];
        hmac_->update(ByteView(packet, length + 4));
        hmac_->final(mac);
        std::memcpy(packet + length + 4, mac, tag_length_);
        return length + 4 + tag_length_;
    }

    /// Locates the trailer of an SRTCP packet of `length` bytes, or fails if the
    /// packet cannot hold an RTCP header, the index and the tag.
    std::optional<SrtcpTrailer> parse_rtcp_trailer(const std::uint8_t* packet, std::size_t length) const {
        if (length < 8 + 4 + tag_length_) return std::nullopt;
        const std::size_t index_at = aead_mode_ ? length - 4 : length - tag_length_ - 4;
        const std::uint32_t e_index = load32(packet + index_at);
        SrtcpTrailer t;
        t.encrypted = (e_index & 0x80000000u) != 0;
        t.index = e_index & 0x7fffffffu;
        t.body_length = length - tag_length_ - 4;
        return t;
    }

    /// Verifies (and if E is set decrypts) the SRTCP packet in place. On success the
    /// RTCP compound packet is packet[0, trailer.body_length).
    bool unprotect_rtcp(std::uint8_t* packet, std::size_t length, const SrtcpTrailer& t, std::uint32_t ssrc) {
        const std::size_t body = t.body_length;
        if (aead_mode_) {
            const auto nonce = gcm_rtcp_nonce(ssrc, t.index);
            const std::uint8_t* e_index = packet + length - 4;
            const ByteView tag(packet + body, tag_length_);
            if (t.encrypted) {
                std::uint8_t aad[12];
                std::memcpy(aad, packet, 8);
                std::memcpy(aad + 8, e_index, 4);
                if (aead_->open_in_place(nonce, ByteView(aad, 12), MutableByteView(packet + 8, body - 8), tag)) return true;
                secure_zero(packet + 8, body - 8);  // no unverified plaintext left behind
                return false;
            }
            aad_scratch_.assign(packet, packet + body);
            aad_scratch_.insert(aad_scratch_.end(), e_index, e_index + 4);
            return aead_->open_in_place(nonce, aad_scratch_, MutableByteView(), tag);
        }
        std::uint8_t mac[20];
        hmac_->update(ByteView(packet, body + 4));
        hmac_->final(mac);
        if (!constant_time_equal(ByteView(mac, tag_length_), ByteView(packet + body + 4, tag_length_))) return false;
        if (t.encrypted) {
            const auto iv = cm_iv(ssrc, t.index);
            aes_cm_apply(*aes_, iv.data(), MutableByteView(packet + 8, body - 8));
        }
        return true;
    }

    // ---- IVs (public for the RFC 7714 vectors) -------------------------------------

    /// RFC 3711 4.1.1: IV = (k_s * 2^16) XOR (SSRC * 2^64) XOR (i * 2^16).
    std::array<std::uint8_t, 16> cm_iv(std::uint32_t ssrc, std::uint64_t index) const {
        std::array<std::uint8_t, 16> iv{};
        std::memcpy(iv.data(), salt_.data(), 14);
        for (int i = 0; i < 4; ++i) iv[4 + i] ^= static_cast<std::uint8_t>(ssrc >> (24 - 8 * i));
        for (int i = 0; i < 6; ++i) iv[8 + i] ^= static_cast<std::uint8_t>(index >> (40 - 8 * i));
        return iv;
    }
    /// RFC 7714 8.1: IV = (0x0000 || SSRC || ROC || SEQ) XOR salt.
    std::array<std::uint8_t, 12> gcm_nonce(std::uint32_t ssrc, std::uint32_t roc, std::uint16_t seq) const {
        std::array<std::uint8_t, 12> iv{};
        store32(iv.data() + 2, ssrc);
        store32(iv.data() + 6, roc);
        iv[10] = static_cast<std::uint8_t>(seq >> 8);
        iv[11] = static_cast<std::uint8_t>(seq);
        for (int i = 0; i < 12; ++i) iv[i] ^= salt_[i];
        return iv;
    }
    /// RFC 7714 9.1: IV = (0x0000 || SSRC || 0x0000 || 0 || SRTCP index) XOR salt.
    std::array<std::uint8_t, 12> gcm_rtcp_nonce(std::uint32_t ssrc, std::uint32_t index) const {
        std::array<std::uint8_t, 12> iv{};
        store32(iv.data() + 2, ssrc);
        store32(iv.data() + 8, index & 0x7fffffffu);
        for (int i = 0; i < 12; ++i) iv[i] ^= salt_[i];
        return iv;
    }

private:
    CryptoContext() = default;

    static void store32(std::uint8_t* p, std::uint32_t v) {
        p[0] = static_cast<std::uint8_t>(v >> 24);
        p[1] = static_cast<std::uint8_t>(v >> 16);
        p[2] = static_cast<std::uint8_t>(v >> 8);
        p[3] = static_cast<std::uint8_t>(v);
    }
    static std::uint32_t load32(const std::uint8_t* p) {
        return std::uint32_t{p[0]} << 24 | std::uint32_t{p[1]} << 16 | std::uint32_t{p[2]} << 8 | p[3];
    }

    /// RFC 3711 4.2: HMAC-SHA1 over the authenticated portion || ROC, truncated.
    void write_hmac_tag(ByteView authenticated, std::uint32_t roc, std::uint8_t* out) {
        std::uint8_t roc_bytes[4];
        store32(roc_bytes, roc);
        std::uint8_t mac[20];
        hmac_->update(authenticated);
        hmac_->update(ByteView(roc_bytes, 4));
        hmac_->final(mac);
        std::memcpy(out, mac, tag_length_);
    }

    Profile profile_{};
    bool aead_mode_ = false;
    std::size_t tag_length_ = 0;
    SecretArray<14> salt_;
    std::optional<typename Crypto::BlockCipher> aes_;
    std::optional<typename Crypto::Hmac> hmac_;
    std::optional<typename Crypto::Aead> aead_;
    Bytes aad_scratch_;  // only for SRTCP-GCM without encryption (E = 0)
};

}  // namespace tapsec::srtp
