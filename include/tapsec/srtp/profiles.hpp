// SRTP protection profiles (RFC 3711, RFC 7714) and the master keys that key them.
//
// The code points are the DTLS-SRTP protection-profile values (RFC 5764 4.1.2,
// RFC 7714 14.2), so a DTLS-SRTP handshake can name a profile with the number it
// negotiated.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace tapsec::srtp {

enum class Profile : std::uint16_t {
    aes_cm_128_hmac_sha1_80 = 0x0001,  // SRTP_AES128_CM_HMAC_SHA1_80
    aes_cm_128_hmac_sha1_32 = 0x0002,  // SRTP_AES128_CM_HMAC_SHA1_32
    aead_aes_128_gcm = 0x0007,         // SRTP_AEAD_AES_128_GCM
    aead_aes_256_gcm = 0x0008,         // SRTP_AEAD_AES_256_GCM
};

/// The transform parameters of a profile (RFC 5764 4.1.2, RFC 7714 14.2).
struct ProfileParameters {
    std::string_view name;           // the DTLS-SRTP registry name
    std::size_t master_key_length;   // = session cipher key length
    std::size_t master_salt_length;  // = session salt length
    std::size_t session_auth_key_length;  // HMAC-SHA1 key (0 for AEAD)
    std::size_t srtp_tag_length;     // bytes appended to each SRTP packet
    std::size_t srtcp_tag_length;    // bytes of tag on each SRTCP packet
    bool aead;                       // AES-GCM (RFC 7714) rather than AES-CM + HMAC-SHA1
};

constexpr ProfileParameters parameters(Profile p) noexcept {
    switch (p) {
        case Profile::aes_cm_128_hmac_sha1_80: return {"SRTP_AES128_CM_HMAC_SHA1_80", 16, 14, 20, 10, 10, false};
        // The _32 profile shortens only the SRTP tag; SRTCP keeps 80 bits (RFC 5764 4.1.2).
        case Profile::aes_cm_128_hmac_sha1_32: return {"SRTP_AES128_CM_HMAC_SHA1_32", 16, 14, 20, 4, 10, false};
        case Profile::aead_aes_128_gcm: return {"SRTP_AEAD_AES_128_GCM", 16, 12, 0, 16, 16, true};
        case Profile::aead_aes_256_gcm: return {"SRTP_AEAD_AES_256_GCM", 32, 12, 0, 16, 16, true};
    }
    return {"", 0, 0, 0, 0, 0, false};
}

/// Every profile this implementation supports, in a sensible preference order
/// (AEAD first) for a DTLS-SRTP use_srtp extension.
inline constexpr Profile supported_profiles[] = {Profile::aead_aes_128_gcm, Profile::aead_aes_256_gcm,
                                                 Profile::aes_cm_128_hmac_sha1_80, Profile::aes_cm_128_hmac_sha1_32};

/// The profile with DTLS-SRTP code point `code`, if this implementation supports it.
constexpr std::optional<Profile> profile_from_code(std::uint16_t code) noexcept {
    for (Profile p : supported_profiles)
        if (static_cast<std::uint16_t>(p) == code) return p;
    return std::nullopt;
}

/// The profile with DTLS-SRTP registry name `name` ("SRTP_AES128_CM_HMAC_SHA1_80", ...).
/// OpenSSL's spelling "SRTP_AES128_CM_SHA1_80" is accepted too.
constexpr std::optional<Profile> profile_from_name(std::string_view name) noexcept {
    for (Profile p : supported_profiles)
        if (parameters(p).name == name) return p;
    if (name == "SRTP_AES128_CM_SHA1_80") return Profile::aes_cm_128_hmac_sha1_80;
    if (name == "SRTP_AES128_CM_SHA1_32") return Profile::aes_cm_128_hmac_sha1_32;
    return std::nullopt;
}

/// Upper bound on the bytes protect_* adds to any packet of any profile
/// (tag + 4-byte SRTCP index): size buffers with this much headroom.
inline constexpr std::size_t max_overhead = 16 + 4;

/// The largest packet protect_* / unprotect_* accept: a UDP datagram's limit. (It also
/// keeps every AES-CM keystream below its 2^16-block counter.)
inline constexpr std::size_t max_packet_size = 65535;

}  // namespace tapsec::srtp
