// CurveCP packet formats (curvecp.org/packets.html), byte for byte. All integers are
// little-endian; every packet but the Cookie is a multiple of 16 bytes. Boxes are NaCl crypto_box in
// its compact layout (16-byte authenticator, then ciphertext; crypto/nacl_box.hpp).
//
//   Hello    224  "QvnQ5XlH" | server ext 16 | client ext 16 | C' 32 | zero 64 | nonce 8
//                 | Box[zero 64](C'->S) 80                       nonce "CurveCP-client-H"+8
//   Cookie   200  "RL3aNMXK" | client ext 16 | server ext 16 | nonce 16
//                 | Box[S' 32, K 96](S->C') 144                  nonce "CurveCPK"+16
//                 K = nonce 16 | SecretBox[C' 32, s' 32](minute key) 80, nonce "minute-k"+16
//   Initiate 544+M "QvnQ5XlI" | server ext 16 | client ext 16 | C' 32 | K 96 | nonce 8
//                 | Box[C 32, V 64, N 256, M](C'->S') 368+M      nonce "CurveCP-client-I"+8
//                 V = nonce 16 | Box[C' 32](C->S) 48,            nonce "CurveCPV"+16
//                 N = the server's name, DNS labels, zero-padded to 256; M in 16..640
//   Server Message 64+M "RL3aNMXM" | client ext 16 | server ext 16 | nonce 8
//                 | Box[M](S'->C') 16+M                          nonce "CurveCP-server-M"+8
//   Client Message 96+M "QvnQ5XlM" | server ext 16 | client ext 16 | C' 32 | nonce 8
//                 | Box[M](C'->S') 16+M                          nonce "CurveCP-client-M"+8
//   M (Message): a multiple of 16 bytes, 16..1088.
#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string_view>

#include "../core/bytes.hpp"
#include "../crypto/nacl_box.hpp"
#include "errors.hpp"

namespace tapsec::curvecp::wire {

using Extension = std::array<std::uint8_t, 16>;
using ServerName = std::array<std::uint8_t, 256>;
using crypto::nacl::Nonce;

inline constexpr std::size_t hello_size = 224;
inline constexpr std::size_t cookie_size = 200;
inline constexpr std::size_t cookie_field_size = 96;       // K
inline constexpr std::size_t vouch_size = 64;              // V
inline constexpr std::size_t initiate_overhead = 544;      // Initiate = 544 + M
inline constexpr std::size_t initiate_inner_prefix = 352;  // C | V | N before M inside the box
inline constexpr std::size_t server_message_overhead = 64;
inline constexpr std::size_t client_message_overhead = 96;
inline constexpr std::size_t min_message = 16;
inline constexpr std::size_t max_initiate_message = 640;
inline constexpr std::size_t max_message = 1088;
inline constexpr std::size_t max_packet = client_message_overhead + max_message;  // 1184

inline constexpr std::string_view hello_magic = "QvnQ5XlH";
inline constexpr std::string_view initiate_magic = "QvnQ5XlI";
inline constexpr std::string_view client_message_magic = "QvnQ5XlM";
inline constexpr std::string_view cookie_magic = "RL3aNMXK";
inline constexpr std::string_view server_message_magic = "RL3aNMXM";

// Nonce prefixes: 16 bytes before an 8-byte counter, or 8 before 16 random bytes.
inline constexpr std::string_view hello_nonce = "CurveCP-client-H";
inline constexpr std::string_view initiate_nonce = "CurveCP-client-I";
inline constexpr std::string_view client_message_nonce = "CurveCP-client-M";
inline constexpr std::string_view server_message_nonce = "CurveCP-server-M";
inline constexpr std::string_view cookie_nonce = "CurveCPK";
inline constexpr std::string_view vouch_nonce = "CurveCPV";
inline constexpr std::string_view minute_nonce = "minute-k";

inline std::uint64_t load_le64(const std::uint8_t* p) noexcept {
    std::uint64_t v = 0;
    for (int i = 7; i >= 0; --i) v = v << 8 | p[i];
    return v;
}
inline void store_le64(std::uint8_t* p, std::uint64_t v) noexcept {
    for (int i = 0; i < 8; ++i) p[i] = static_cast<std::uint8_t>(v >> (8 * i));
}

/// A 24-byte nonce: a 16-byte prefix and a little-endian 64-bit counter.
inline Nonce counter_nonce(std::string_view prefix16, std::uint64_t counter) noexcept {
    Nonce n{};
    std::memcpy(n.data(), prefix16.data(), 16);
    store_le64(n.data() + 16, counter);
    return n;
}
/// A 24-byte nonce: an 8-byte prefix and 16 bytes (random, or a compressed nonce).
inline Nonce long_nonce(std::string_view prefix8, ByteView suffix16) noexcept {
    Nonce n{};
    std::memcpy(n.data(), prefix8.data(), 8);
    std::memcpy(n.data() + 8, suffix16.data(), 16);
    return n;
}

/// The server name field: DNS labels (length byte, label) and a terminating zero,
/// zero-padded to 256 bytes; empty labels are skipped. Nullopt for a label longer than
/// 63 bytes or a name that does not fit.
inline std::optional<ServerName> encode_name(std::string_view name) {
    ServerName out{};
    std::size_t pos = 0;
    std::size_t i = 0;
    while (i < name.size()) {
        if (name[i] == '.') {
            ++i;
            continue;
        }
        std::size_t end = name.find('.', i);
        if (end == std::string_view::npos) end = name.size();
        const std::size_t len = end - i;
        if (len > 63 || pos + 1 + len >= out.size()) return std::nullopt;
        out[pos++] = static_cast<std::uint8_t>(len);
        std::memcpy(out.data() + pos, name.data() + i, len);
        pos += len;
        i = end;
    }
    return out;  // the terminating zero and the padding are already there
}

enum class PacketType { hello, cookie, initiate, client_message, server_message };

inline bool has_magic(ByteView p, std::string_view magic) noexcept {
    return p.size() >= 8 && std::memcmp(p.data(), magic.data(), 8) == 0;
}

/// Classifies a packet by its magic and checks its length for that type (the checks
/// both reference programs make: the type's exact size or range and, except for the
/// 200-byte Cookie, a multiple of 16).
inline Result<PacketType> classify(ByteView p) {
    if (p.size() < 80 || p.size() > max_packet) return make_error_code(Error::malformed_packet);
    if (p.size() % 16 != 0) {
        if (p.size() == cookie_size && has_magic(p, cookie_magic)) return PacketType::cookie;
        return make_error_code(Error::malformed_packet);
    }
    if (has_magic(p, hello_magic)) {
        if (p.size() != hello_size) return make_error_code(Error::malformed_packet);
        return PacketType::hello;
    }
    if (has_magic(p, initiate_magic)) {
        if (p.size() < initiate_overhead + min_message || p.size() > initiate_overhead + max_initiate_message)
            return make_error_code(Error::malformed_packet);
        return PacketType::initiate;
    }
    if (has_magic(p, client_message_magic)) {
        if (p.size() < client_message_overhead + min_message) return make_error_code(Error::malformed_packet);
        return PacketType::client_message;
    }
    if (has_magic(p, server_message_magic)) {
        if (p.size() < server_message_overhead + min_message ||
            p.size() > server_message_overhead + max_message)
            return make_error_code(Error::malformed_packet);
        return PacketType::server_message;
    }
    return make_error_code(Error::malformed_packet);
}

// Views into a classified packet (valid while the packet's bytes are).
struct Hello {
    ByteView server_extension, client_extension, client_short_key;
    std::uint64_t nonce;
    ByteView box;  // 80
    explicit Hello(ByteView p)
        : server_extension(p.subspan(8, 16)), client_extension(p.subspan(24, 16)), client_short_key(p.subspan(40, 32)),
          nonce(load_le64(p.data() + 136)), box(p.subspan(144, 80)) {}
};
struct Cookie {
    ByteView client_extension, server_extension, nonce, box;  // nonce 16, box 144
    explicit Cookie(ByteView p)
        : client_extension(p.subspan(8, 16)), server_extension(p.subspan(24, 16)), nonce(p.subspan(40, 16)),
          box(p.subspan(56, 144)) {}
};
struct Initiate {
    ByteView server_extension, client_extension, client_short_key, cookie;
    std::uint64_t nonce;
    ByteView box;  // 368 + M
    explicit Initiate(ByteView p)
        : server_extension(p.subspan(8, 16)), client_extension(p.subspan(24, 16)), client_short_key(p.subspan(40, 32)),
          cookie(p.subspan(72, 96)), nonce(load_le64(p.data() + 168)), box(p.subspan(176)) {}
};
struct ClientMessage {
    ByteView server_extension, client_extension, client_short_key;
    std::uint64_t nonce;
    ByteView box;  // 16 + M
    explicit ClientMessage(ByteView p)
        : server_extension(p.subspan(8, 16)), client_extension(p.subspan(24, 16)), client_short_key(p.subspan(40, 32)),
          nonce(load_le64(p.data() + 72)), box(p.subspan(80)) {}
};
struct ServerMessage {
    ByteView client_extension, server_extension;
    std::uint64_t nonce;
    ByteView box;  // 16 + M
    explicit ServerMessage(ByteView p)
        : client_extension(p.subspan(8, 16)), server_extension(p.subspan(24, 16)), nonce(load_le64(p.data() + 40)),
          box(p.subspan(48)) {}
};

/// Writes `magic` and the two extensions (in the order the packet type puts them).
inline std::uint8_t* put_header(std::uint8_t* out, std::string_view magic, ByteView first_ext, ByteView second_ext) {
    std::memcpy(out, magic.data(), 8);
    std::memcpy(out + 8, first_ext.data(), 16);
    std::memcpy(out + 24, second_ext.data(), 16);
    return out + 40;
}

}  // namespace tapsec::curvecp::wire
