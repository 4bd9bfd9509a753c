// ZRTP's key schedule pieces (RFC 6189 4.4-4.5, 5.7, 9), all over the crypto provider:
// the hash chain H0..H3, the 64-bit message MACs, the KDF, s0, the keys derived from
// it, AES-CFB for the Confirm messages (built here from the provider's block cipher)
// and the SAS renderings. Only the mandatory hash S256 is implemented, so every hash
// and HMAC here is SHA-256.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "../core/bytes.hpp"
#include "../core/errors.hpp"
#include "../crypto/provider.hpp"
#include "wire.hpp"

namespace tapsec::zrtp {

inline constexpr crypto::HashAlgorithm negotiated_hash = crypto::HashAlgorithm::sha256;  // "S256"
inline constexpr std::size_t hash_length = 32;
inline constexpr std::size_t aes1_key_length = 16;   // "AES1": AES-128
inline constexpr std::size_t srtp_salt_length = 14;  // 112 bits (RFC 6189 4.5.3)

template <class Crypto>
HashImage sha256_image(ByteView data) {
    const Bytes digest = Crypto::hash(negotiated_hash, data);
    HashImage out{};
    std::copy_n(digest.begin(), out.size(), out.begin());
    return out;
}

/// H0 is random; H1 = hash(H0), H2 = hash(H1), H3 = hash(H2). Each message reveals
/// the next image down the chain, which keys the MAC of the message before.
struct HashChain {
    SecretArray<32> h0;
    HashImage h1{}, h2{}, h3{};

    template <class Crypto>
    static HashChain from(ByteView random_h0) {
        HashChain c;
        std::copy_n(random_h0.begin(), 32, c.h0.begin());
        c.h1 = sha256_image<Crypto>(c.h0);
        c.h2 = sha256_image<Crypto>(c.h1);
        c.h3 = sha256_image<Crypto>(c.h2);
        return c;
    }
};

/// The MAC of Hello, Commit and DHPart: HMAC-SHA256 keyed with a hash image over the
/// message without its MAC field, truncated to 64 bits (RFC 6189 5.2, 5.4, 5.5).
template <class Crypto>
Mac message_mac(ByteView key, ByteView message) {
    const auto full = crypto::hmac_with<Crypto>(negotiated_hash, key, message.first(message.size() - mac_size));
    Mac out{};
    std::copy_n(full.begin(), mac_size, out.begin());
    return out;
}

/// Writes the MAC into the last 8 bytes of an encoded message.
template <class Crypto>
void seal_message_mac(Bytes& message, ByteView key) {
    const Mac mac = message_mac<Crypto>(key, message);
    std::copy(mac.begin(), mac.end(), message.end() - static_cast<std::ptrdiff_t>(mac_size));
}

/// Checks an encoded message's MAC field in constant time.
template <class Crypto>
bool verify_message_mac(ByteView key, ByteView message) {
    if (message.size() < mac_size) return false;
    const Mac mac = message_mac<Crypto>(key, message);
    return constant_time_equal(mac, message.last(mac_size));
}

/// KDF(KI, Label, Context, L) = HMAC(KI, i || Label || 0x00 || Context || L) truncated
/// to L bits, with i = 1 (RFC 6189 4.5.1). L is at most one HMAC block here.
template <class Crypto>
SecretBytes kdf(ByteView ki, std::string_view label, ByteView context, std::size_t length_bytes) {
    Bytes input;
    input.reserve(4 + label.size() + 1 + context.size() + 4);
    wire::Writer w(input);
    w.u32(1);
    w.bytes(as_bytes(label));
    w.u8(0);
    w.bytes(context);
    w.u32(static_cast<std::uint32_t>(length_bytes * 8));
    SecretBytes out = crypto::hmac_with<Crypto>(negotiated_hash, ki, input);
    out.resize(std::min(out.size(), length_bytes));
    return out;
}

/// Everything ZRTP derives from s0 (RFC 6189 4.5.2, 4.5.3) for one DH-mode exchange.
struct DerivedKeys {
    SecretBytes zrtp_session;                 // ZRTPSess
    SecretBytes exported_key;                 // ExportedKey
    std::uint32_t sas_value = 0;              // leftmost 32 bits of sashash
    SecretBytes srtp_key_i, srtp_salt_i, srtp_key_r, srtp_salt_r;
    SecretBytes mac_key_i, mac_key_r;         // Confirm MACs
    SecretBytes zrtp_key_i, zrtp_key_r;       // Confirm encryption (AES1)
    SecretBytes kdf_context;                  // ZIDi || ZIDr || total_hash
    SecretBytes new_rs1;                      // the next retained secret (RFC 6189 4.6.1)
};

/// s0 = hash(counter || DHResult || "ZRTP-HMAC-KDF" || ZIDi || ZIDr || total_hash ||
///           len(s1) || s1 || len(s2) || s2 || len(s3) || s3), where s1 is the matched
/// retained secret (or null) and s2, s3 (auxiliary and PBX secrets) are always null,
/// then every key derived from it.
template <class Crypto>
DerivedKeys derive_keys(ByteView dh_result, const Zid& zid_i, const Zid& zid_r, ByteView total_hash, ByteView s1 = {}) {
    DerivedKeys k;
    k.kdf_context.assign(zid_i.begin(), zid_i.end());
    k.kdf_context.insert(k.kdf_context.end(), zid_r.begin(), zid_r.end());
    k.kdf_context.insert(k.kdf_context.end(), total_hash.begin(), total_hash.end());

    SecretBytes s0_input;
    s0_input.reserve(4 + dh_result.size() + 13 + k.kdf_context.size() + 12 + s1.size());
    const std::uint8_t counter[4] = {0, 0, 0, 1};
    s0_input.insert(s0_input.end(), counter, counter + 4);
    s0_input.insert(s0_input.end(), dh_result.begin(), dh_result.end());
    const auto label = as_bytes("ZRTP-HMAC-KDF");
    s0_input.insert(s0_input.end(), label.begin(), label.end());
    s0_input.insert(s0_input.end(), k.kdf_context.begin(), k.kdf_context.end());
    const std::uint32_t s1_length = static_cast<std::uint32_t>(s1.size());
    for (int shift = 24; shift >= 0; shift -= 8) s0_input.push_back(static_cast<std::uint8_t>(s1_length >> shift));
    s0_input.insert(s0_input.end(), s1.begin(), s1.end());
    s0_input.insert(s0_input.end(), 8, 0);  // len(s2) = len(s3) = 0
    Bytes s0_digest = Crypto::hash(negotiated_hash, s0_input);
    SecretBytes s0(s0_digest.begin(), s0_digest.end());
    secure_zero(s0_digest.data(), s0_digest.size());

    const ByteView ctx = k.kdf_context;
    k.zrtp_session = kdf<Crypto>(s0, "ZRTP Session Key", ctx, hash_length);
    k.exported_key = kdf<Crypto>(s0, "Exported key", ctx, hash_length);
    const auto sas_hash = kdf<Crypto>(s0, "SAS", ctx, 32);
    k.sas_value = std::uint32_t{sas_hash[0]} << 24 | std::uint32_t{sas_hash[1]} << 16 | std::uint32_t{sas_hash[2]} << 8 |
                  std::uint32_t{sas_hash[3]};
    k.srtp_key_i = kdf<Crypto>(s0, "Initiator SRTP master key", ctx, aes1_key_length);
    k.srtp_salt_i = kdf<Crypto>(s0, "Initiator SRTP master salt", ctx, srtp_salt_length);
    k.srtp_key_r = kdf<Crypto>(s0, "Responder SRTP master key", ctx, aes1_key_length);
    k.srtp_salt_r = kdf<Crypto>(s0, "Responder SRTP master salt", ctx, srtp_salt_length);
    k.mac_key_i = kdf<Crypto>(s0, "Initiator HMAC key", ctx, hash_length);
    k.mac_key_r = kdf<Crypto>(s0, "Responder HMAC key", ctx, hash_length);
    k.zrtp_key_i = kdf<Crypto>(s0, "Initiator ZRTP key", ctx, aes1_key_length);
    k.zrtp_key_r = kdf<Crypto>(s0, "Responder ZRTP key", ctx, aes1_key_length);
    k.new_rs1 = kdf<Crypto>(s0, "retained secret", ctx, 32);
    return k;  // s0 is wiped by its allocator here
}

/// A retained secret's ID as one role sends it: HMAC(rs, "Initiator" or "Responder")
/// truncated to 64 bits (RFC 6189 4.3.1).
template <class Crypto>
SecretId retained_secret_id(ByteView rs, std::string_view role_label) {
    const auto full = crypto::hmac_with<Crypto>(negotiated_hash, rs, as_bytes(role_label));
    SecretId out{};
    std::copy_n(full.begin(), out.size(), out.begin());
    return out;
}

/// The Confirm MAC: HMAC-SHA256(mackey, encrypted part) truncated to 64 bits.
template <class Crypto>
Mac confirm_mac(ByteView mac_key, ByteView encrypted) {
    const auto full = crypto::hmac_with<Crypto>(negotiated_hash, mac_key, encrypted);
    Mac out{};
    std::copy_n(full.begin(), mac_size, out.begin());
    return out;
}

/// AES in 128-bit CFB mode (NIST SP 800-38A 6.3), the Confirm cipher of "AES1": built
/// from the provider's raw block cipher, which every provider has for SRTP's AES-CM.
template <class Crypto>
Result<bool> aes_cfb(ByteView key, ByteView iv, MutableByteView data, bool encrypt) {
    auto cipher = Crypto::BlockCipher::aes(key);
    if (!cipher) return cipher.error();
    std::array<std::uint8_t, 16> feedback{};
    std::copy_n(iv.begin(), 16, feedback.begin());
    std::array<std::uint8_t, 16> stream{};
    for (std::size_t offset = 0; offset < data.size(); offset += 16) {
        cipher->encrypt_blocks(feedback.data(), stream.data(), 1);
        const std::size_t n = std::min<std::size_t>(16, data.size() - offset);
        for (std::size_t i = 0; i < n; ++i) {
            const std::uint8_t in = data[offset + i];
            data[offset + i] = static_cast<std::uint8_t>(in ^ stream[i]);
            feedback[i] = encrypt ? data[offset + i] : in;  // the ciphertext feeds back
        }
    }
    secure_zero(stream.data(), stream.size());
    return true;
}

// ---- SAS renderings (RFC 6189 5.1.6) -----------------------------------------------

/// "B32 ": the leftmost 20 bits of the SAS value as 4 characters of the z-base-32 alphabet.
inline std::string render_sas_b32(std::uint32_t sas_value) {
    static constexpr char alphabet[] = "ybndrfg8ejkmcpqxot1uwisza345h769";
    std::string out(4, ' ');
    for (int i = 0, shift = 27; i < 4; ++i, shift -= 5) out[static_cast<std::size_t>(i)] = alphabet[(sas_value >> shift) & 31];
    return out;
}

}  // namespace tapsec::zrtp
