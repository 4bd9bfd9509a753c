// tcpcrypt's messages (RFC 8548 4): the key-exchange messages Init1 and Init2, the
// frame layout, and the identifiers of the TEPs and AEAD algorithms.
//
//   Init1 = INIT1_MAGIC (4) | message_len (4) | nciphers (1) | sym_cipher[nciphers] |
//           N_A (32) | PK_A (K) | ignored[message_len - 9 - nciphers - 32 - K]
//   Init2 = INIT2_MAGIC (4) | message_len (4) | sym_cipher (1) | N_B (32) | PK_B (K) |
//           ignored[message_len - 9 - 32 - K]
//   Frame = length (2) | AEAD(k, FrameNonce, associated data = length, control (1) | data) | tag
//   FrameNonce = FRAME_NONCE_MAGIC (4) | offset (8)
//
// message_len counts the whole message; K is the TEP's public-key size (65 for the
// uncompressed P-256 point, 32 for X25519).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>

#include "../core/bytes.hpp"
#include "../core/wire.hpp"
#include "../crypto/provider.hpp"
#include "../tcp_eno/option.hpp"
#include "errors.hpp"

namespace tapsec::tcpcrypt {

inline constexpr std::uint32_t init1_magic = 0x15101a0e;
inline constexpr std::uint32_t init2_magic = 0x097105e0;
inline constexpr std::uint32_t frame_nonce_magic = 0x44415441;
inline constexpr std::size_t nonce_length = 32;  // N_A_LEN = N_B_LEN
inline constexpr std::size_t k_len = 32;         // session secrets, session IDs, master keys
inline constexpr std::size_t init_header_size = 8;
/// This implementation's bound on message_len: a peer's length field never makes it
/// buffer more (the largest real Init1 here is 9 + 3 + 32 + 65 bytes).
inline constexpr std::size_t max_init_size = 2048;

/// The AEAD algorithms' registry values (RFC 8548 7, "tcpcrypt AEAD Algorithms").
namespace aead_id {
inline constexpr std::uint8_t aes_128_gcm = 0x01;
inline constexpr std::uint8_t aes_256_gcm = 0x02;
inline constexpr std::uint8_t chacha20_poly1305 = 0x10;
}  // namespace aead_id

inline std::optional<crypto::AeadAlgorithm> aead_algorithm(std::uint8_t id) {
    switch (id) {
        case aead_id::aes_128_gcm: return crypto::AeadAlgorithm::aes_128_gcm;
        case aead_id::aes_256_gcm: return crypto::AeadAlgorithm::aes_256_gcm;
        case aead_id::chacha20_poly1305: return crypto::AeadAlgorithm::chacha20_poly1305;
        default: return std::nullopt;
    }
}
inline std::string_view aead_name(std::uint8_t id) {
    switch (id) {
        case aead_id::aes_128_gcm: return "AEAD_AES_128_GCM";
        case aead_id::aes_256_gcm: return "AEAD_AES_256_GCM";
        case aead_id::chacha20_poly1305: return "AEAD_CHACHA20_POLY1305";
        default: return "unknown AEAD";
    }
}

/// A TEP this implementation runs: its ENO identifier, group and public-key size.
struct Tep {
    std::uint8_t id;
    std::string_view name;
    crypto::KeyExchangeGroup group;
    std::size_t public_key_size;
};
inline constexpr Tep supported_teps[] = {
    {tcp_eno::tep::tcpcrypt_ecdhe_p256, "TCPCRYPT_ECDHE_P256", crypto::KeyExchangeGroup::secp256r1, 65},
    {tcp_eno::tep::tcpcrypt_ecdhe_curve25519, "TCPCRYPT_ECDHE_Curve25519", crypto::KeyExchangeGroup::x25519, 32},
};
inline const Tep* find_tep(std::uint8_t id) {
    for (auto& t : supported_teps)
        if (t.id == id) return &t;
    return nullptr;
}

struct Init1 {
    std::vector<std::uint8_t> sym_ciphers;
    std::array<std::uint8_t, nonce_length> nonce{};  // N_A
    Bytes public_key;                                // PK_A
    std::size_t ignored = 0;                         // trailing bytes a sender may add
};
struct Init2 {
    std::uint8_t sym_cipher = 0;
    std::array<std::uint8_t, nonce_length> nonce{};  // N_B
    Bytes public_key;                                // PK_B
    std::size_t ignored = 0;
};

inline Bytes encode(const Init1& m) {
    Bytes out;
    wire::Writer w(out);
    w.u32(init1_magic);
    w.u32(static_cast<std::uint32_t>(9 + m.sym_ciphers.size() + nonce_length + m.public_key.size() + m.ignored));
    w.u8(static_cast<std::uint8_t>(m.sym_ciphers.size()));
    w.bytes(m.sym_ciphers);
    w.bytes(m.nonce);
    w.bytes(m.public_key);
    out.resize(out.size() + m.ignored, 0);
    return out;
}
inline Bytes encode(const Init2& m) {
    Bytes out;
    wire::Writer w(out);
    w.u32(init2_magic);
    w.u32(static_cast<std::uint32_t>(9 + nonce_length + m.public_key.size() + m.ignored));
    w.u8(m.sym_cipher);
    w.bytes(m.nonce);
    w.bytes(m.public_key);
    out.resize(out.size() + m.ignored, 0);
    return out;
}

/// How much of `stream` the key-exchange message at its front takes: nullopt while the
/// 8-byte header is incomplete; an error for a wrong magic or an impossible length.
inline Result<std::optional<std::size_t>> init_message_size(ByteView stream, std::uint32_t magic) {
    if (stream.size() < init_header_size) {
        // A wrong magic is visible before the whole header is: fail early.
        for (std::size_t i = 0; i < stream.size() && i < 4; ++i)
            if (stream[i] != static_cast<std::uint8_t>(magic >> (24 - 8 * i))) return make_error_code(Error::bad_magic);
        return std::optional<std::size_t>{};
    }
    wire::Reader r(stream);
    if (r.u32() != magic) return make_error_code(Error::bad_magic);
    const std::uint32_t length = r.u32();
    if (length > max_init_size) return make_error_code(Error::init_too_large);
    if (length < 9) return make_error_code(magic == init1_magic ? Error::malformed_init1 : Error::malformed_init2);
    return std::optional<std::size_t>{length};
}

/// Parses a whole Init1 whose PK_A has `public_key_size` bytes (the TEP says how many).
inline Result<Init1> parse_init1(ByteView message, std::size_t public_key_size) {
    auto size = init_message_size(message, init1_magic);
    if (!size) return size.error();
    if (!*size || **size != message.size()) return make_error_code(Error::malformed_init1);
    wire::Reader r(message.subspan(init_header_size));
    Init1 m;
    const std::size_t n = r.u8();
    if (n == 0) return make_error_code(Error::malformed_init1);
    auto ciphers = r.bytes(n);
    auto nonce = r.bytes(nonce_length);
    auto pk = r.bytes(public_key_size);
    if (!r.ok()) return make_error_code(Error::malformed_init1);
    m.sym_ciphers.assign(ciphers.begin(), ciphers.end());
    std::copy(nonce.begin(), nonce.end(), m.nonce.begin());
    m.public_key.assign(pk.begin(), pk.end());
    m.ignored = r.remaining();
    return m;
}

inline Result<Init2> parse_init2(ByteView message, std::size_t public_key_size) {
    auto size = init_message_size(message, init2_magic);
    if (!size) return size.error();
    if (!*size || **size != message.size()) return make_error_code(Error::malformed_init2);
    wire::Reader r(message.subspan(init_header_size));
    Init2 m;
    m.sym_cipher = r.u8();
    auto nonce = r.bytes(nonce_length);
    auto pk = r.bytes(public_key_size);
    if (!r.ok()) return make_error_code(Error::malformed_init2);
    std::copy(nonce.begin(), nonce.end(), m.nonce.begin());
    m.public_key.assign(pk.begin(), pk.end());
    m.ignored = r.remaining();
    return m;
}

// ---- frames -------------------------------------------------------------------------

inline constexpr std::size_t frame_length_size = 2;
inline constexpr std::size_t tag_size = 16;
inline constexpr std::size_t frame_overhead = frame_length_size + 1 + tag_size;
inline constexpr std::size_t max_frame_size = frame_length_size + 0xffff;
inline constexpr std::size_t max_frame_payload = 0xffff - 1 - tag_size;
inline constexpr std::uint8_t control_rekey = 0x01;  // bit 0; the other seven are reserved

/// The 12-byte AEAD nonce of the frame that starts `offset` bytes into this direction's
/// frames.
inline std::array<std::uint8_t, 12> frame_nonce(std::uint64_t offset) {
    std::array<std::uint8_t, 12> n{};
    for (int i = 0; i < 4; ++i) n[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(frame_nonce_magic >> (24 - 8 * i));
    for (int i = 0; i < 8; ++i) n[static_cast<std::size_t>(4 + i)] = static_cast<std::uint8_t>(offset >> (56 - 8 * i));
    return n;
}

/// The size of the frame at the front of `stream`: nullopt while its length field is
/// incomplete; an error when the length cannot hold a control byte and a tag.
inline Result<std::optional<std::size_t>> frame_size(ByteView stream) {
    if (stream.size() < frame_length_size) return std::optional<std::size_t>{};
    const std::size_t length = std::size_t{stream[0]} << 8 | stream[1];
    if (length < 1 + tag_size) return make_error_code(Error::malformed_frame);
    return std::optional<std::size_t>{frame_length_size + length};
}

}  // namespace tapsec::tcpcrypt
