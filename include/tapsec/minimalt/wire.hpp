// MinimaLT packet formats (Petullo et al., CCS 2013, section 3; choices where the paper
// is silent are in docs/minimalt.md). All integers big-endian.
//
// Tunnel packet (every packet but the puzzle):
//   TID (8)       bit 63 K: carries the client's ephemeral key (tunnel request)
//                 bit 62 P: carries a puzzle solution (only with K)
//                 bits 61..0: the tunnel ID
//   nonce (8)     per-direction counter: client odd, server even
//   [K] C' (32)   the client's ephemeral Curve25519 public key
//   [P] ticket (24) and solution (32)
//   box (16 + n)  Poly1305 tag, then XSalsa20 ciphertext of the payload
// Payload (inside the box):
//   seq (4) | ack (4) | frames...
//   frame: connection (4) | type (1) | length (2) | body
// Puzzle packet (server to client, in the clear: the server has not spent a key
// agreement on the request): TID with P set and K clear | nonce 0 (8) | difficulty (1) |
// ticket (24) | SHA-256(r) (32) | r with its low `difficulty` bits cleared (32).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>

#include "../core/bytes.hpp"
#include "../core/errors.hpp"
#include "../core/wire.hpp"
#include "errors.hpp"

namespace tapsec::minimalt {

inline constexpr std::uint64_t key_flag = std::uint64_t{1} << 63;
inline constexpr std::uint64_t puzzle_flag = std::uint64_t{1} << 62;
inline constexpr std::uint64_t tid_mask = puzzle_flag - 1;

inline constexpr std::size_t header_size = 16;            // TID + nonce
inline constexpr std::size_t public_key_size = 32;
inline constexpr std::size_t ticket_size = 24;            // expiry (8) + random (16)
inline constexpr std::size_t solution_size = 32;
inline constexpr std::size_t tag_size = 16;
inline constexpr std::size_t payload_header_size = 8;     // seq + ack
inline constexpr std::size_t frame_header_size = 7;       // connection + type + length
inline constexpr std::size_t max_packet_size = 1400;      // fits a 1500-byte path with IPv6 + UDP
/// Tunnel requests are padded to at least this size, so that the puzzle reply (105
/// bytes) is smaller than what provoked it: the server is no amplifier.
inline constexpr std::size_t min_request_size = 256;
inline constexpr std::size_t puzzle_packet_size = header_size + 1 + ticket_size + 32 + 32;

using PublicKey = std::array<std::uint8_t, public_key_size>;
using Ticket = std::array<std::uint8_t, ticket_size>;
using Solution = std::array<std::uint8_t, solution_size>;

struct PuzzleSolution {
    Ticket ticket{};
    Solution solution{};
};

/// The cleartext part of a tunnel packet, and where its box starts.
struct PacketHeader {
    std::uint64_t tid = 0;  // 62 bits, flags removed
    std::uint64_t nonce = 0;
    std::optional<PublicKey> client_key;       // K
    std::optional<PuzzleSolution> solution;    // P
    std::size_t box_offset = 0;
};

inline std::size_t header_length(bool with_key, bool with_solution) {
    return header_size + (with_key ? public_key_size : 0) + (with_solution ? ticket_size + solution_size : 0);
}

/// Parses a tunnel packet's cleartext header. The box must hold at least the tag and
/// the payload header.
inline Result<PacketHeader> parse_packet_header(ByteView packet) {
    if (packet.size() > max_packet_size) return make_error_code(Error::oversized_packet);
    wire::Reader r(packet);
    PacketHeader h;
    const std::uint64_t tid = r.u64();
    h.nonce = r.u64();
    if (!r.ok()) return make_error_code(Error::malformed_packet);
    h.tid = tid & tid_mask;
    const bool k = tid & key_flag, p = tid & puzzle_flag;
    if (p && !k) return make_error_code(Error::malformed_packet);  // a puzzle packet, not a tunnel packet
    if (k) {
        PublicKey key;
        auto b = r.bytes(public_key_size);
        if (!r.ok()) return make_error_code(Error::malformed_packet);
        std::copy(b.begin(), b.end(), key.begin());
        h.client_key = key;
    }
    if (p) {
        PuzzleSolution s;
        auto t = r.bytes(ticket_size);
        auto x = r.bytes(solution_size);
        if (!r.ok()) return make_error_code(Error::malformed_packet);
        std::copy(t.begin(), t.end(), s.ticket.begin());
        std::copy(x.begin(), x.end(), s.solution.begin());
        h.solution = s;
    }
    if (r.remaining() < tag_size + payload_header_size) return make_error_code(Error::malformed_packet);
    h.box_offset = r.position();
    return h;
}

/// Writes a tunnel packet's header at the front of `out`; returns its length.
inline std::size_t write_packet_header(MutableByteView out, std::uint64_t tid, std::uint64_t nonce,
                                       const PublicKey* client_key, const PuzzleSolution* solution) {
    std::uint64_t word = tid & tid_mask;
    if (client_key) word |= key_flag;
    if (solution) word |= puzzle_flag;
    std::size_t at = 0;
    for (int i = 7; i >= 0; --i) out[at++] = static_cast<std::uint8_t>(word >> (8 * i));
    for (int i = 7; i >= 0; --i) out[at++] = static_cast<std::uint8_t>(nonce >> (8 * i));
    if (client_key) at = static_cast<std::size_t>(std::copy(client_key->begin(), client_key->end(), out.begin() + static_cast<std::ptrdiff_t>(at)) - out.begin());
    if (solution) {
        at = static_cast<std::size_t>(std::copy(solution->ticket.begin(), solution->ticket.end(), out.begin() + static_cast<std::ptrdiff_t>(at)) - out.begin());
        at = static_cast<std::size_t>(std::copy(solution->solution.begin(), solution->solution.end(), out.begin() + static_cast<std::ptrdiff_t>(at)) - out.begin());
    }
    return at;
}

/// True when the datagram is a puzzle packet (P set, K clear).
inline bool is_puzzle_packet(ByteView packet) {
    return packet.size() >= 8 && (packet[0] & 0xc0) == 0x40;
}

struct PuzzlePacket {
    std::uint64_t tid = 0;
    std::uint8_t difficulty = 0;
    Ticket ticket{};
    std::array<std::uint8_t, 32> hash{};     // SHA-256(r)
    std::array<std::uint8_t, 32> partial{};  // r with the low `difficulty` bits cleared
};

inline Result<PuzzlePacket> parse_puzzle_packet(ByteView packet) {
    if (packet.size() != puzzle_packet_size) return make_error_code(packet.size() > puzzle_packet_size ? Error::oversized_packet : Error::malformed_packet);
    wire::Reader r(packet);
    PuzzlePacket p;
    const std::uint64_t tid = r.u64();
    if ((tid & (key_flag | puzzle_flag)) != puzzle_flag) return make_error_code(Error::malformed_packet);
    p.tid = tid & tid_mask;
    if (r.u64() != 0) return make_error_code(Error::malformed_packet);
    p.difficulty = r.u8();
    auto t = r.bytes(ticket_size);
    auto h = r.bytes(32);
    auto x = r.bytes(32);
    if (!r.ok() || p.difficulty == 0 || p.difficulty > 64) return make_error_code(Error::malformed_packet);
    std::copy(t.begin(), t.end(), p.ticket.begin());
    std::copy(h.begin(), h.end(), p.hash.begin());
    std::copy(x.begin(), x.end(), p.partial.begin());
    return p;
}

inline Bytes serialize(const PuzzlePacket& p) {
    Bytes out;
    out.reserve(puzzle_packet_size);
    wire::Writer w(out);
    w.u64((p.tid & tid_mask) | puzzle_flag);
    w.u64(0);
    w.u8(p.difficulty);
    w.bytes(p.ticket);
    w.bytes(p.hash);
    w.bytes(p.partial);
    return out;
}

// ---- payload frames -------------------------------------------------------------------

/// Frame types. Connection 0 is the tunnel's control connection: its frames are the
/// paper's RPCs. Data frames go to connections the client created.
enum class FrameType : std::uint8_t {
    padding = 0,       // any connection number 0; body all zeros (length hiding, request padding)
    data = 1,          // connection >= 1: application bytes
    create = 2,        // control: body = connection (4) | service name
    refuse = 3,        // control: body = connection (4): the service does not exist
    close = 4,         // control: body = connection (4): no more data on it
    rekey = 5,         // control: body = generation (4): the sender moved to this key generation
    close_tunnel = 6,  // control: empty: the tunnel ends (authenticated close)
    create_auth = 7,   // control: body = connection (4) | user key U (32) | proof (48) | service name
};

/// createAuth's proof: crypto_box from the user's key U to the server's ephemeral key
/// S' of the tunnel's client key C' (authenticator 16 + 32), under a fixed nonce. Only
/// the holder of U's secret can make it, and it is bound to this tunnel (C') and this
/// server key (S'); it travels inside the tunnel's box, so observers never see U.
inline constexpr std::size_t user_proof_size = 16 + 32;
inline constexpr std::string_view user_proof_nonce = "minimaLT user auth nonce";
static_assert(user_proof_nonce.size() == 24);
inline constexpr std::size_t create_auth_fixed = 4 + 32 + user_proof_size;

struct Frame {
    std::uint32_t connection = 0;
    FrameType type = FrameType::padding;
    ByteView body;
};

inline constexpr std::size_t max_service_name = 255;

/// Parses the next frame; checks each type's body and that control RPCs arrive on
/// connection 0 and data on a connection >= 1.
inline Result<Frame> parse_frame(wire::Reader& r) {
    Frame f;
    f.connection = r.u32();
    const std::uint8_t type = r.u8();
    f.body = r.prefixed(2);
    if (!r.ok()) return make_error_code(Error::malformed_frame);
    if (type > static_cast<std::uint8_t>(FrameType::create_auth)) return make_error_code(Error::malformed_frame);
    f.type = static_cast<FrameType>(type);
    const bool control = f.connection == 0;
    switch (f.type) {
        case FrameType::padding:
            if (!control) return make_error_code(Error::malformed_frame);
            for (auto b : f.body)
                if (b) return make_error_code(Error::malformed_frame);
            break;
        case FrameType::data:
            if (control) return make_error_code(Error::malformed_frame);
            break;
        case FrameType::create:
            if (!control || f.body.size() < 5 || f.body.size() > 4 + max_service_name) return make_error_code(Error::malformed_frame);
            break;
        case FrameType::create_auth:
            if (!control || f.body.size() < create_auth_fixed + 1 || f.body.size() > create_auth_fixed + max_service_name)
                return make_error_code(Error::malformed_frame);
            break;
        case FrameType::refuse:
        case FrameType::close:
        case FrameType::rekey:
            if (!control || f.body.size() != 4) return make_error_code(Error::malformed_frame);
            break;
        case FrameType::close_tunnel:
            if (!control || !f.body.empty()) return make_error_code(Error::malformed_frame);
            break;
    }
    return f;
}

inline std::uint32_t body_u32(ByteView body) {
    return std::uint32_t{body[0]} << 24 | std::uint32_t{body[1]} << 16 | std::uint32_t{body[2]} << 8 | body[3];
}

/// Appends a frame to `out` (which the caller sized for it).
inline void write_frame(Bytes& out, std::uint32_t connection, FrameType type, ByteView body) {
    wire::Writer w(out);
    w.u32(connection);
    w.u8(static_cast<std::uint8_t>(type));
    w.prefixed(2, body);
}

inline void write_u32_frame(Bytes& out, FrameType type, std::uint32_t value) {
    const std::array<std::uint8_t, 4> body{static_cast<std::uint8_t>(value >> 24), static_cast<std::uint8_t>(value >> 16),
                                           static_cast<std::uint8_t>(value >> 8), static_cast<std::uint8_t>(value)};
    write_frame(out, 0, type, body);
}

/// Parses a whole payload's frames, calling `on_frame` for each; stops at the first error.
template <class F>
std::error_code for_each_frame(ByteView frames, F&& on_frame) {
    wire::Reader r(frames);
    while (r.remaining() > 0) {
        auto f = parse_frame(r);
        if (!f) return f.error();
        if (auto ec = on_frame(*f)) return ec;
    }
    return {};
}

}  // namespace tapsec::minimalt
