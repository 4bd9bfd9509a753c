// WireGuard's four message formats (whitepaper section 5.4), all fields little-endian.
// The first four bytes are the message type as a 32-bit little-endian integer (one type
// byte and three reserved zero bytes).
#pragma once

#include <array>
#include <cstdint>
#include <optional>

#include "../core/bytes.hpp"
#include "../core/wire.hpp"

namespace tapsec::wireguard {

using Key = std::array<std::uint8_t, 32>;
using Mac = std::array<std::uint8_t, 16>;

enum class MessageType : std::uint32_t { initiation = 1, response = 2, cookie_reply = 3, transport = 4 };

inline constexpr std::size_t initiation_size = 148;
inline constexpr std::size_t response_size = 92;
inline constexpr std::size_t cookie_reply_size = 64;
inline constexpr std::size_t transport_header_size = 16;
inline constexpr std::size_t aead_tag_size = 16;
inline constexpr std::size_t transport_min_size = transport_header_size + aead_tag_size;  // a keepalive
inline constexpr std::size_t timestamp_size = 12;                                       // TAI64N
inline constexpr std::size_t padding_multiple = 16;

struct Initiation {
    static constexpr std::size_t mac1_offset = 116;  // everything before mac1 is covered by it
    static constexpr std::size_t mac2_offset = 132;
    std::uint32_t sender_index = 0;
    Key ephemeral{};
    std::array<std::uint8_t, 32 + aead_tag_size> encrypted_static{};
    std::array<std::uint8_t, timestamp_size + aead_tag_size> encrypted_timestamp{};
    Mac mac1{}, mac2{};
};

struct Response {
    static constexpr std::size_t mac1_offset = 60;
    static constexpr std::size_t mac2_offset = 76;
    std::uint32_t sender_index = 0;
    std::uint32_t receiver_index = 0;
    Key ephemeral{};
    std::array<std::uint8_t, aead_tag_size> encrypted_nothing{};
    Mac mac1{}, mac2{};
};

struct CookieReply {
    std::uint32_t receiver_index = 0;
    std::array<std::uint8_t, 24> nonce{};
    std::array<std::uint8_t, 16 + aead_tag_size> encrypted_cookie{};
};

struct TransportHeader {
    std::uint32_t receiver_index = 0;
    std::uint64_t counter = 0;
};

/// The type of a datagram, or nullopt if the first four bytes name none.
inline std::optional<MessageType> message_type(ByteView datagram) {
    if (datagram.size() < 4) return std::nullopt;
    wire::Reader r(datagram);
    const auto type = r.uint_le(4);
    if (type < 1 || type > 4) return std::nullopt;
    return static_cast<MessageType>(type);
}

namespace detail {
template <std::size_t N>
void read_into(wire::Reader& r, std::array<std::uint8_t, N>& out) {
    auto v = r.bytes(N);
    if (v.size() == N) std::copy(v.begin(), v.end(), out.begin());
}
}  // namespace detail

/// Parsers accept exactly one length per message type: anything else is malformed.
inline std::optional<Initiation> parse_initiation(ByteView d) {
    if (d.size() != initiation_size || message_type(d) != MessageType::initiation) return std::nullopt;
    wire::Reader r(d);
    r.uint_le(4);
    Initiation m;
    m.sender_index = static_cast<std::uint32_t>(r.uint_le(4));
    detail::read_into(r, m.ephemeral);
    detail::read_into(r, m.encrypted_static);
    detail::read_into(r, m.encrypted_timestamp);
    detail::read_into(r, m.mac1);
    detail::read_into(r, m.mac2);
    if (!r.at_end()) return std::nullopt;
    return m;
}

inline std::optional<Response> parse_response(ByteView d) {
    if (d.size() != response_size || message_type(d) != MessageType::response) return std::nullopt;
    wire::Reader r(d);
    r.uint_le(4);
    Response m;
    m.sender_index = static_cast<std::uint32_t>(r.uint_le(4));
    m.receiver_index = static_cast<std::uint32_t>(r.uint_le(4));
    detail::read_into(r, m.ephemeral);
    detail::read_into(r, m.encrypted_nothing);
    detail::read_into(r, m.mac1);
    detail::read_into(r, m.mac2);
    if (!r.at_end()) return std::nullopt;
    return m;
}

inline std::optional<CookieReply> parse_cookie_reply(ByteView d) {
    if (d.size() != cookie_reply_size || message_type(d) != MessageType::cookie_reply) return std::nullopt;
    wire::Reader r(d);
    r.uint_le(4);
    CookieReply m;
    m.receiver_index = static_cast<std::uint32_t>(r.uint_le(4));
    detail::read_into(r, m.nonce);
    detail::read_into(r, m.encrypted_cookie);
    if (!r.at_end()) return std::nullopt;
    return m;
}

inline std::optional<TransportHeader> parse_transport_header(ByteView d) {
    if (d.size() < transport_min_size || message_type(d) != MessageType::transport) return std::nullopt;
    wire::Reader r(d);
    r.uint_le(4);
    TransportHeader h;
    h.receiver_index = static_cast<std::uint32_t>(r.uint_le(4));
    h.counter = r.uint_le(8);
    return h;
}

inline Bytes serialize(const Initiation& m) {
    Bytes out;
    out.reserve(initiation_size);
    wire::Writer w(out);
    w.uint_le(static_cast<std::uint32_t>(MessageType::initiation), 4);
    w.uint_le(m.sender_index, 4);
    w.bytes(m.ephemeral);
    w.bytes(m.encrypted_static);
    w.bytes(m.encrypted_timestamp);
    w.bytes(m.mac1);
    w.bytes(m.mac2);
    return out;
}

inline Bytes serialize(const Response& m) {
    Bytes out;
    out.reserve(response_size);
    wire::Writer w(out);
    w.uint_le(static_cast<std::uint32_t>(MessageType::response), 4);
    w.uint_le(m.sender_index, 4);
    w.uint_le(m.receiver_index, 4);
    w.bytes(m.ephemeral);
    w.bytes(m.encrypted_nothing);
    w.bytes(m.mac1);
    w.bytes(m.mac2);
    return out;
}

inline Bytes serialize(const CookieReply& m) {
    Bytes out;
    out.reserve(cookie_reply_size);
    wire::Writer w(out);
    w.uint_le(static_cast<std::uint32_t>(MessageType::cookie_reply), 4);
    w.uint_le(m.receiver_index, 4);
    w.bytes(m.nonce);
    w.bytes(m.encrypted_cookie);
    return out;
}

inline void write_transport_header(std::uint8_t* out, const TransportHeader& h) {
    out[0] = static_cast<std::uint8_t>(MessageType::transport);
    out[1] = out[2] = out[3] = 0;
    for (int i = 0; i < 4; ++i) out[4 + i] = static_cast<std::uint8_t>(h.receiver_index >> (8 * i));
    for (int i = 0; i < 8; ++i) out[8 + i] = static_cast<std::uint8_t>(h.counter >> (8 * i));
}

}  // namespace tapsec::wireguard
