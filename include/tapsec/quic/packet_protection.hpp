// QUIC packet protection (RFC 9001 Section 5): keys from a TLS 1.3 traffic secret
// ("quic key" / "quic iv" / "quic hp"), Initial secrets from the client's first
// Destination Connection ID, AEAD payload protection with the packet number in the
// nonce, header protection (AES-ECB or ChaCha20 mask over a ciphertext sample), key
// update ("quic ku", 6.1) and the Retry integrity tag (5.8). QUIC v2 (RFC 9369 3.3)
// changes only constants: the Initial salt, the labels ("quicv2 key" ...) and the
// Retry key and nonce; VersionConstants holds each version's.
//
//   auto keys = PacketKeys<Crypto>::derive(suite, secret);          // one level, one direction (v1)
//   seal_packet(*keys, packet, pn_offset, pn_length, pn);            // header + plaintext -> protected
//   auto u = unprotect_header(keys->hp, packet, pn_offset, long_header, largest_received);
//   auto payload = open_payload(*keys, packet, u->header_length, u->packet_number);
//
// All primitives come from the provider: AEAD, HKDF (through tls13::hkdf_expand_label,
// the same labelled expansion TLS uses) and the raw AES block cipher. The ChaCha20
// header-protection mask is one ChaCha20 block (crypto/chacha20_block.hpp): a stream
// cipher API would prepare many blocks per packet for 5 bytes of mask.
#pragma once

#include <array>
#include <optional>
#include <span>
#include <string_view>

#include "../core/bytes.hpp"
#include "../crypto/chacha20_block.hpp"
#include "../crypto/provider.hpp"
#include "../tls13/cipher_suites.hpp"
#include "../tls13/key_schedule.hpp"
#include "errors.hpp"
#include "wire.hpp"

namespace tapsec::quic {

using tls13::CipherSuite;

/// RFC 9001 5.2: the QUIC v1 Initial salt.
inline constexpr std::array<std::uint8_t, 20> initial_salt_v1{0x38, 0x76, 0x2c, 0xf7, 0xf5, 0x59, 0x34, 0xb3, 0x4d, 0x17,
                                                             0x9a, 0xe6, 0xa4, 0xc8, 0x0c, 0xad, 0xcc, 0xbb, 0x7f, 0x0a};
/// RFC 9001 5.8: the fixed AES-128-GCM key and nonce of the Retry integrity tag (v1).
inline constexpr std::array<std::uint8_t, 16> retry_key_v1{0xbe, 0x0c, 0x69, 0x0b, 0x9f, 0x66, 0x57, 0x5a,
                                                          0x1d, 0x76, 0x6b, 0x54, 0xe3, 0x68, 0xc8, 0x4e};
inline constexpr std::array<std::uint8_t, 12> retry_nonce_v1{0x46, 0x15, 0x99, 0xd3, 0x5d, 0x63,
                                                            0x2b, 0xf2, 0x23, 0x98, 0x25, 0xbb};

/// RFC 9369 3.3.1 / 3.3.3: the QUIC v2 Initial salt, Retry key and nonce.
inline constexpr std::array<std::uint8_t, 20> initial_salt_v2{0x0d, 0xed, 0xe3, 0xde, 0xf7, 0x00, 0xa6, 0xdb, 0x81, 0x93,
                                                             0x81, 0xbe, 0x6e, 0x26, 0x9d, 0xcb, 0xf9, 0xbd, 0x2e, 0xd9};
inline constexpr std::array<std::uint8_t, 16> retry_key_v2{0x8f, 0xb4, 0xb0, 0x1b, 0x56, 0xac, 0x48, 0xe2,
                                                          0x60, 0xfb, 0xcb, 0xce, 0xad, 0x7c, 0xcc, 0x92};
inline constexpr std::array<std::uint8_t, 12> retry_nonce_v2{0xd8, 0x69, 0x69, 0xbc, 0x2d, 0x7c,
                                                            0x6d, 0x99, 0x90, 0xef, 0xb0, 0x4a};

/// What differs between QUIC versions in packet protection; everything else is shared.
struct VersionConstants {
    std::span<const std::uint8_t> initial_salt, retry_key, retry_nonce;
    std::string_view key_label, iv_label, hp_label, ku_label;
};
inline constexpr VersionConstants version_1_constants{initial_salt_v1, retry_key_v1, retry_nonce_v1,
                                                      "quic key", "quic iv", "quic hp", "quic ku"};
inline constexpr VersionConstants version_2_constants{initial_salt_v2, retry_key_v2, retry_nonce_v2,
                                                      "quicv2 key", "quicv2 iv", "quicv2 hp", "quicv2 ku"};
/// The constants of `version` (v1's for any version this library does not speak: the
/// caller checked is_supported_version first).
constexpr const VersionConstants& constants_of(std::uint32_t version) noexcept {
    return version == version_2 ? version_2_constants : version_1_constants;
}

inline constexpr std::size_t aead_tag_length = 16;
inline constexpr std::size_t sample_length = 16;

/// The client and server Initial secrets (5.2), as TLS traffic secrets of
/// TLS_AES_128_GCM_SHA256 so they go through the same key derivation as the others.
template <class Crypto>
std::pair<tls13::TrafficSecret, tls13::TrafficSecret> initial_secrets(ByteView client_dcid,
                                                                      std::uint32_t version = version_1) {
    const auto hash = crypto::HashAlgorithm::sha256;
    const SecretBytes initial = Crypto::hkdf_extract(hash, constants_of(version).initial_salt, client_dcid);
    return {tls13::TrafficSecret{&tls13::TLS_AES_128_GCM_SHA256,
                                 tls13::hkdf_expand_label<Crypto>(hash, initial, "client in", {}, 32)},
            tls13::TrafficSecret{&tls13::TLS_AES_128_GCM_SHA256,
                                 tls13::hkdf_expand_label<Crypto>(hash, initial, "server in", {}, 32)}};
}

/// The 5-byte header-protection mask for a 16-byte ciphertext sample (5.4.3 / 5.4.4).
template <class Crypto>
class HeaderProtector {
public:
    static Result<HeaderProtector> create(const CipherSuite& suite, ByteView hp_key) {
        HeaderProtector h;
        if (suite.aead == crypto::AeadAlgorithm::chacha20_poly1305) {
            if (hp_key.size() != 32) return make_error_code(Errc::invalid_configuration);
            h.chacha_key_.assign(hp_key.begin(), hp_key.end());
            return h;
        }
        auto aes = Crypto::BlockCipher::aes(hp_key);
        if (!aes) return aes.error();
        h.aes_.emplace(std::move(*aes));
        return h;
    }

    std::array<std::uint8_t, 5> mask(ByteView sample) {
        std::array<std::uint8_t, 16> block{};
        if (aes_) {
            aes_->encrypt_blocks(sample.data(), block.data(), 1);
            return {block[0], block[1], block[2], block[3], block[4]};
        }
        // ChaCha20 with counter = sample[0..4] (little endian), nonce = sample[4..16]:
        // the first 5 bytes of that one keystream block.
        const std::uint32_t counter = std::uint32_t{sample[0]} | std::uint32_t{sample[1]} << 8 |
                                      std::uint32_t{sample[2]} << 16 | std::uint32_t{sample[3]} << 24;
        const auto keystream = crypto::chacha20_block(chacha_key_, counter, sample.subspan(4, 12));
        return {keystream[0], keystream[1], keystream[2], keystream[3], keystream[4]};
    }

private:
    std::optional<typename Crypto::BlockCipher> aes_;
    SecretBytes chacha_key_;
};

/// The packet protection keys of one encryption level and direction (5.1).
template <class Crypto>
struct PacketKeys {
    const CipherSuite* suite = nullptr;
    std::uint32_t version = version_1;  // whose labels derive the keys and the next generation
    SecretBytes secret;  // kept for key update (6.1)
    std::optional<typename Crypto::Aead> aead;
    std::array<std::uint8_t, 12> iv{};
    std::optional<HeaderProtector<Crypto>> hp;

    static Result<PacketKeys> derive(const CipherSuite& suite, ByteView secret, bool with_header_protection = true,
                                     std::uint32_t version = version_1) {
        PacketKeys k;
        k.suite = &suite;
        k.version = version;
        k.secret.assign(secret.begin(), secret.end());
        const VersionConstants& c = constants_of(version);
        const SecretBytes key = tls13::hkdf_expand_label<Crypto>(suite.hash, secret, c.key_label, {}, suite.key_length);
        const SecretBytes iv = tls13::hkdf_expand_label<Crypto>(suite.hash, secret, c.iv_label, {}, 12);
        std::copy(iv.begin(), iv.end(), k.iv.begin());
        auto aead = Crypto::Aead::create(suite.aead, key);
        if (!aead) return aead.error();
        k.aead.emplace(std::move(*aead));
        if (with_header_protection) {
            const SecretBytes hp = tls13::hkdf_expand_label<Crypto>(suite.hash, secret, c.hp_label, {}, suite.key_length);
            auto h = HeaderProtector<Crypto>::create(suite, hp);
            if (!h) return h.error();
            k.hp.emplace(std::move(*h));
        }
        return k;
    }

    /// The next generation's keys (6.1): a new secret by "quic ku"; header protection
    /// keys do not change, so the caller keeps using this generation's `hp`.
    Result<PacketKeys> next_generation() const {
        const SecretBytes next =
            tls13::hkdf_expand_label<Crypto>(suite->hash, secret, constants_of(version).ku_label, {}, suite->hash_length);
        return derive(*suite, next, false, version);
    }

    std::array<std::uint8_t, 12> nonce(std::uint64_t pn) const noexcept {
        auto n = iv;
        for (int i = 0; i < 8; ++i) n[4 + i] ^= static_cast<std::uint8_t>(pn >> (56 - 8 * i));
        return n;
    }
};

/// Protects one packet in place. `packet` holds the header (with the packet number in
/// `pn_length` bytes at `pn_offset`) followed by the plaintext payload; the tag is
/// appended, then header protection applied with `hp`.
template <class Crypto>
void seal_packet(const PacketKeys<Crypto>& keys, HeaderProtector<Crypto>& hp, Bytes& packet, std::size_t pn_offset,
                 std::size_t pn_length, std::uint64_t pn) {
    const std::size_t header_length = pn_offset + pn_length;
    const std::size_t payload_length = packet.size() - header_length;
    packet.resize(packet.size() + aead_tag_length);
    const auto nonce = keys.nonce(pn);
    keys.aead->seal_in_place(nonce, ByteView(packet.data(), header_length),
                             MutableByteView(packet.data() + header_length, payload_length),
                             MutableByteView(packet.data() + header_length + payload_length, aead_tag_length));
    const auto mask = hp.mask(ByteView(packet.data() + pn_offset + 4, sample_length));
    packet[0] ^= mask[0] & ((packet[0] & 0x80) ? 0x0f : 0x1f);
    for (std::size_t i = 0; i < pn_length; ++i) packet[pn_offset + i] ^= mask[1 + i];
}

struct UnprotectedHeader {
    std::uint8_t first = 0;
    std::size_t header_length = 0;  // through the packet number
    std::uint64_t packet_number = 0;
};

/// Removes header protection in place (5.4.2): the first byte's low bits and the
/// packet number, decoded against the largest received so far.
template <class Crypto>
Result<UnprotectedHeader> unprotect_header(HeaderProtector<Crypto>& hp, MutableByteView packet, std::size_t pn_offset,
                                           std::optional<std::uint64_t> largest_received) {
    if (packet.size() < pn_offset + 4 + sample_length) return make_error_code(Error::header_protection_failed);
    const auto mask = hp.mask(ByteView(packet.data() + pn_offset + 4, sample_length));
    const bool long_header = packet[0] & 0x80;
    packet[0] ^= mask[0] & (long_header ? 0x0f : 0x1f);
    UnprotectedHeader u;
    u.first = packet[0];
    const std::size_t pn_length = (u.first & 0x03) + 1;
    std::uint64_t truncated = 0;
    for (std::size_t i = 0; i < pn_length; ++i) {
        packet[pn_offset + i] ^= mask[1 + i];
        truncated = truncated << 8 | packet[pn_offset + i];
    }
    u.header_length = pn_offset + pn_length;
    if (packet.size() < u.header_length + aead_tag_length) return make_error_code(Error::header_protection_failed);
    u.packet_number = decode_packet_number(largest_received, truncated, 8 * pn_length);
    return u;
}

/// Opens the payload of a packet whose header protection was removed; the plaintext is
/// a view into `packet` (decrypted in place).
template <class Crypto>
Result<MutableByteView> open_payload(const PacketKeys<Crypto>& keys, MutableByteView packet, std::size_t header_length,
                                     std::uint64_t pn) {
    const std::size_t text_length = packet.size() - header_length - aead_tag_length;
    const auto nonce = keys.nonce(pn);
    MutableByteView text(packet.data() + header_length, text_length);
    if (!keys.aead->open_in_place(nonce, ByteView(packet.data(), header_length), text,
                                  ByteView(packet.data() + header_length + text_length, aead_tag_length)))
        return make_error_code(Error::packet_authentication_failed);
    return text;
}

/// The Retry integrity tag (5.8): AES-128-GCM over the Retry pseudo-packet (the
/// original DCID, length-prefixed, then the Retry packet without its tag), under the
/// fixed key and nonce of the Retry's version (its bytes 1-4).
template <class Crypto>
std::array<std::uint8_t, 16> retry_integrity_tag(ByteView original_dcid, ByteView retry_without_tag) {
    std::uint32_t version = 0;
    for (std::size_t i = 1; i < 5 && i < retry_without_tag.size(); ++i) version = version << 8 | retry_without_tag[i];
    const VersionConstants& c = constants_of(version);
    Bytes pseudo;
    pseudo.reserve(1 + original_dcid.size() + retry_without_tag.size());
    pseudo.push_back(static_cast<std::uint8_t>(original_dcid.size()));
    append(pseudo, original_dcid);
    append(pseudo, retry_without_tag);
    auto aead = Crypto::Aead::create(crypto::AeadAlgorithm::aes_128_gcm, c.retry_key);
    std::array<std::uint8_t, 16> tag{};
    aead->seal_in_place(c.retry_nonce, pseudo, MutableByteView{}, tag);
    return tag;
}

template <class Crypto>
bool verify_retry(ByteView original_dcid, ByteView retry_packet) {
    if (retry_packet.size() < 16) return false;
    const auto tag = retry_integrity_tag<Crypto>(original_dcid, retry_packet.first(retry_packet.size() - 16));
    return constant_time_equal(tag, retry_packet.last(16));
}

/// A Retry packet (17.2.5) with its integrity tag.
template <class Crypto>
Bytes make_retry(const ConnectionId& client_scid, const ConnectionId& new_scid, const ConnectionId& original_dcid,
                 ByteView token, std::uint8_t unused_bits = 0, std::uint32_t version = version_1) {
    Bytes out;
    out.push_back(static_cast<std::uint8_t>(0xc0 | long_type_bits(PacketType::retry, version) << 4 | (unused_bits & 0x0f)));
    for (int i = 3; i >= 0; --i) out.push_back(static_cast<std::uint8_t>(version >> (8 * i)));
    out.push_back(client_scid.length);
    append(out, client_scid.view());
    out.push_back(new_scid.length);
    append(out, new_scid.view());
    append(out, token);
    const auto tag = retry_integrity_tag<Crypto>(original_dcid.view(), out);
    append(out, tag);
    return out;
}

}  // namespace tapsec::quic
