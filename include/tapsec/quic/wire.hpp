// QUIC wire formats (RFC 9000 Sections 16, 17, A.2-A.3): variable-length integers,
// connection IDs, long and short packet headers as they are before header protection
// is removed, Version Negotiation and Retry packets, packet number encoding.
//
//   wire::Reader r(bytes); std::uint64_t v = read_varint(r);   // !r.ok() = bad_varint
//   write_varint(out, v);                                     // shortest encoding
//   auto h = parse_header(datagram, short_dcid_length);        // one packet of a datagram
//   h->packet_size bytes of the datagram are this packet (coalescing, RFC 9000 12.2).
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <vector>

#include "../core/bytes.hpp"
#include "../core/errors.hpp"
#include "../core/wire.hpp"
#include "errors.hpp"

namespace tapsec::quic {

inline constexpr std::uint32_t version_1 = 0x00000001;
inline constexpr std::uint32_t version_2 = 0x6b3343cf;  // RFC 9369 3.1
inline constexpr std::uint64_t max_varint = (std::uint64_t{1} << 62) - 1;
inline constexpr std::size_t max_connection_id_length = 20;
inline constexpr std::size_t min_initial_datagram = 1200;  // RFC 9000 14.1

// ---- variable-length integers (RFC 9000 16) ----------------------------------------------

constexpr std::size_t varint_size(std::uint64_t v) noexcept {
    return v < 64 ? 1 : v < 16384 ? 2 : v < (std::uint64_t{1} << 30) ? 4 : 8;
}

/// Reads one varint; on a short input the reader is marked failed (and 0 returned).
inline std::uint64_t read_varint(wire::Reader& r) {
    const std::uint8_t first = r.u8();
    if (!r.ok()) return 0;
    const std::size_t length = std::size_t{1} << (first >> 6);
    std::uint64_t v = first & 0x3f;
    for (std::size_t i = 1; i < length; ++i) v = v << 8 | r.u8();
    return r.ok() ? v : 0;
}

/// Appends `v` in `length` bytes (1, 2, 4 or 8; 0 = the shortest). v must be <= max_varint.
inline void write_varint(Bytes& out, std::uint64_t v, std::size_t length = 0) {
    if (length == 0) length = varint_size(v);
    const std::uint8_t prefix = length == 1 ? 0x00 : length == 2 ? 0x40 : length == 4 ? 0x80 : 0xc0;
    for (std::size_t i = 0; i < length; ++i) {
        std::uint8_t b = static_cast<std::uint8_t>(v >> (8 * (length - 1 - i)));
        if (i == 0) b = static_cast<std::uint8_t>((b & 0x3f) | prefix);
        out.push_back(b);
    }
}

/// Writes `v` as a 2-byte varint at `at` (a length field reserved before its content).
inline void patch_varint2(Bytes& out, std::size_t at, std::uint64_t v) {
    out[at] = static_cast<std::uint8_t>(0x40 | ((v >> 8) & 0x3f));
    out[at + 1] = static_cast<std::uint8_t>(v);
}

// ---- connection IDs ------------------------------------------------------------------------

struct ConnectionId {
    std::array<std::uint8_t, max_connection_id_length> bytes{};
    std::uint8_t length = 0;

    ConnectionId() = default;
    explicit ConnectionId(ByteView b) : length(static_cast<std::uint8_t>(std::min(b.size(), bytes.size()))) {
        std::copy_n(b.begin(), length, bytes.begin());
    }
    ByteView view() const noexcept { return ByteView(bytes.data(), length); }
    bool empty() const noexcept { return length == 0; }
    bool operator==(const ConnectionId& o) const noexcept {
        return length == o.length && std::equal(bytes.begin(), bytes.begin() + length, o.bytes.begin());
    }
};

// ---- packet headers (RFC 9000 17) ----------------------------------------------------------

enum class PacketType : std::uint8_t { initial, zero_rtt, handshake, retry, version_negotiation, one_rtt };

constexpr bool is_long(PacketType t) noexcept { return t != PacketType::one_rtt; }

/// The versions this implementation speaks (v1, RFC 9000; v2, RFC 9369).
constexpr bool is_supported_version(std::uint32_t v) noexcept { return v == version_1 || v == version_2; }

/// The two Long Packet Type bits of a long header: v2 renumbers them (RFC 9369 3.2) so
/// a middlebox that learned v1's cannot read v2's.
constexpr std::uint8_t long_type_bits(PacketType t, std::uint32_t version) noexcept {
    const std::uint8_t v1 = t == PacketType::initial ? 0 : t == PacketType::zero_rtt ? 1 : t == PacketType::handshake ? 2 : 3;
    return version == version_2 ? static_cast<std::uint8_t>((v1 + 1) & 0x03) : v1;
}
constexpr PacketType long_type_of(std::uint8_t bits, std::uint32_t version) noexcept {
    constexpr PacketType v1_order[] = {PacketType::initial, PacketType::zero_rtt, PacketType::handshake, PacketType::retry};
    return v1_order[(version == version_2 ? bits + 3 : bits) & 0x03];
}

/// A packet's header as parsed before header protection is removed: the packet number
/// and the protected bits of the first byte are not known yet.
struct Header {
    PacketType type = PacketType::one_rtt;
    std::uint8_t first = 0;
    std::uint32_t version = 0;
    ConnectionId dcid, scid;
    ByteView token;             // Initial: the token; Retry: the retry token
    ByteView retry_tag;         // Retry: the integrity tag
    ByteView versions;          // Version Negotiation: the supported versions (4 bytes each)
    std::size_t pn_offset = 0;  // where the (protected) packet number starts
    std::size_t packet_size = 0;  // bytes of the datagram that belong to this packet
};

/// Parses the first packet of `datagram`. Short headers carry no DCID length: the
/// receiver knows its own (`short_dcid_length`).
inline Result<Header> parse_header(ByteView datagram, std::size_t short_dcid_length) {
    wire::Reader r(datagram);
    Header h;
    h.first = r.u8();
    if (!r.ok()) return make_error_code(Error::malformed_header);
    if (!(h.first & 0x80)) {  // short header (17.3)
        if (!(h.first & 0x40)) return make_error_code(Error::malformed_header);  // fixed bit
        auto dcid = r.bytes(short_dcid_length);
        if (!r.ok()) return make_error_code(Error::malformed_header);
        h.type = PacketType::one_rtt;
        h.dcid = ConnectionId(dcid);
        h.pn_offset = r.position();
        h.packet_size = datagram.size();
        if (h.packet_size < h.pn_offset + 4 + 16) return make_error_code(Error::malformed_header);  // room for a sample
        return h;
    }
    h.version = r.u32();
    const std::size_t dcid_length = r.u8();
    auto dcid = r.bytes(dcid_length);
    const std::size_t scid_length = r.u8();
    auto scid = r.bytes(scid_length);
    if (!r.ok()) return make_error_code(Error::malformed_header);
    if (h.version == 0) {  // Version Negotiation (17.2.1): any CID length, a list of versions
        if (dcid_length > 255 || scid_length > 255) return make_error_code(Error::malformed_header);
        h.type = PacketType::version_negotiation;
        h.dcid = ConnectionId(dcid);
        h.scid = ConnectionId(scid);
        h.versions = r.rest();
        if (h.versions.empty() || h.versions.size() % 4) return make_error_code(Error::malformed_header);
        h.packet_size = datagram.size();
        return h;
    }
    if (!is_supported_version(h.version)) {
        h.dcid = ConnectionId(dcid);  // for the Version Negotiation answer
        h.scid = ConnectionId(scid);
        return make_error_code(Error::unknown_version);
    }
    if (dcid_length > max_connection_id_length || scid_length > max_connection_id_length)
        return make_error_code(Error::malformed_header);
    if (!(h.first & 0x40)) return make_error_code(Error::malformed_header);  // fixed bit
    h.dcid = ConnectionId(dcid);
    h.scid = ConnectionId(scid);
    h.type = long_type_of((h.first >> 4) & 0x03, h.version);
    if (h.type == PacketType::retry) {
        auto rest = r.rest();
        if (rest.size() < 16) return make_error_code(Error::malformed_header);
        h.token = rest.first(rest.size() - 16);
        h.retry_tag = rest.last(16);
        h.packet_size = datagram.size();
        return h;
    }
    if (h.type == PacketType::initial) {
        const std::uint64_t token_length = read_varint(r);
        if (!r.ok() || token_length > r.remaining()) return make_error_code(Error::malformed_header);
        h.token = r.bytes(static_cast<std::size_t>(token_length));
    }
    const std::uint64_t length = read_varint(r);
    if (!r.ok() || length > r.remaining() || length < 4 + 16) return make_error_code(Error::malformed_header);
    h.pn_offset = r.position();
    h.packet_size = h.pn_offset + static_cast<std::size_t>(length);
    return h;
}

/// Appends the first bytes of a long header up to (not including) the Length field.
inline void write_long_header_prefix(Bytes& out, PacketType type, std::uint32_t version, const ConnectionId& dcid,
                                     const ConnectionId& scid, std::size_t pn_length, ByteView token = {}) {
    const std::uint8_t type_bits = long_type_bits(type, version);
    out.push_back(static_cast<std::uint8_t>(0xc0 | type_bits << 4 | (pn_length - 1)));
    for (int i = 3; i >= 0; --i) out.push_back(static_cast<std::uint8_t>(version >> (8 * i)));
    out.push_back(dcid.length);
    append(out, dcid.view());
    out.push_back(scid.length);
    append(out, scid.view());
    if (type == PacketType::initial) {
        write_varint(out, token.size());
        append(out, token);
    }
}

/// A Version Negotiation packet answering a long header of an unknown version (17.2.1):
/// the client's SCID becomes our DCID and vice versa.
inline Bytes version_negotiation(const ConnectionId& their_scid, const ConnectionId& their_dcid, std::uint8_t random,
                                 const std::vector<std::uint32_t>& supported) {
    Bytes out;
    out.push_back(static_cast<std::uint8_t>(0x80 | (random & 0x7f)));
    for (int i = 0; i < 4; ++i) out.push_back(0);
    out.push_back(their_scid.length);
    append(out, their_scid.view());
    out.push_back(their_dcid.length);
    append(out, their_dcid.view());
    for (auto v : supported)
        for (int i = 3; i >= 0; --i) out.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
    return out;
}
inline Bytes version_negotiation(const ConnectionId& their_scid, const ConnectionId& their_dcid, std::uint8_t random,
                                 std::initializer_list<std::uint32_t> supported = {version_1, version_2}) {
    return version_negotiation(their_scid, their_dcid, random, std::vector<std::uint32_t>(supported));
}

// ---- packet numbers (RFC 9000 17.1, A.2, A.3) ------------------------------------------------

/// Bytes needed to send `pn` so the peer, having acknowledged `largest_acked`, decodes it.
constexpr std::size_t packet_number_length(std::uint64_t pn, std::optional<std::uint64_t> largest_acked) noexcept {
    const std::uint64_t unacked = largest_acked ? pn - *largest_acked : pn + 1;
    if (unacked < (1u << 7)) return 1;
    if (unacked < (1u << 15)) return 2;
    if (unacked < (1u << 23)) return 3;
    return 4;
}

/// The full packet number closest to the next expected one (A.3).
constexpr std::uint64_t decode_packet_number(std::optional<std::uint64_t> largest, std::uint64_t truncated,
                                             std::size_t bits) noexcept {
    const std::uint64_t expected = largest ? *largest + 1 : 0;
    const std::uint64_t window = std::uint64_t{1} << bits;
    const std::uint64_t half = window / 2;
    const std::uint64_t mask = window - 1;
    const std::uint64_t candidate = (expected & ~mask) | truncated;
    if (candidate + half <= expected && candidate < (std::uint64_t{1} << 62) - window) return candidate + window;
    if (candidate > expected + half && candidate >= window) return candidate - window;
    return candidate;
}

}  // namespace tapsec::quic
