// ZRTP wire formats (RFC 6189 5): the packet (header, message, CRC-32C trailer) and
// each message as a plain struct with a strict parser and an encoder. Parsers take
// the message bytes (preamble through MAC) and never read past them; every malformed
// input is a distinct zrtp::Error. No crypto here: MACs are opaque fields, checked by
// the handshake once the key that verifies them (a later hash image) is revealed.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <optional>
#include <string_view>

#include "../core/bytes.hpp"
#include "../core/errors.hpp"
#include "../core/wire.hpp"
#include "errors.hpp"

namespace tapsec::zrtp {

inline constexpr std::uint32_t magic_cookie = 0x5a525450;        // "ZRTP"
inline constexpr std::uint16_t message_preamble = 0x505a;
inline constexpr std::size_t packet_header_size = 12;           // 0x10 0x00, sequence, cookie, SSRC
inline constexpr std::size_t crc_size = 4;
inline constexpr std::size_t message_header_size = 12;          // preamble, length, type block
inline constexpr std::size_t mac_size = 8;
inline constexpr std::size_t zid_size = 12;
inline constexpr std::size_t hash_image_size = 32;              // H0..H3 are always SHA-256 (RFC 6189 9)
inline constexpr std::size_t secret_id_size = 8;
inline constexpr std::size_t cfb_iv_size = 16;
/// The largest packet accepted: a DH3k DHPart (the biggest message of RFC 6189's DH
/// modes) is 484 bytes; anything past this bound is refused before it is parsed.
inline constexpr std::size_t max_packet_size = 1024;

using Zid = std::array<std::uint8_t, zid_size>;
using HashImage = std::array<std::uint8_t, hash_image_size>;
using Mac = std::array<std::uint8_t, mac_size>;
using SecretId = std::array<std::uint8_t, secret_id_size>;

// ---- CRC-32C (Castagnoli, as SCTP: RFC 3309), RFC 6189 5 --------------------------

namespace detail {
constexpr std::array<std::uint32_t, 256> crc32c_table() {
    std::array<std::uint32_t, 256> table{};
    for (std::uint32_t i = 0; i < 256; ++i) {
        std::uint32_t c = i;
        for (int k = 0; k < 8; ++k) c = (c >> 1) ^ ((c & 1u) ? 0x82F63B78u : 0u);
        table[i] = c;
    }
    return table;
}
inline constexpr auto crc32c_lookup = crc32c_table();
}  // namespace detail

/// CRC-32C of `data` (reflected, initial and final value ~0): crc32c("123456789") = 0xe3069283.
constexpr std::uint32_t crc32c(ByteView data) noexcept {
    std::uint32_t crc = 0xffffffffu;
    for (auto b : data) crc = (crc >> 8) ^ detail::crc32c_lookup[(crc ^ b) & 0xffu];
    return ~crc;
}

/// The trailer carries the CRC least significant octet first, as SCTP does (that is
/// what the deployed implementations put on the wire).
inline void write_crc(MutableByteView out, std::uint32_t crc) noexcept {
    for (std::size_t i = 0; i < crc_size; ++i) out[i] = static_cast<std::uint8_t>(crc >> (8 * i));
}
inline std::uint32_t read_crc(ByteView in) noexcept {
    std::uint32_t crc = 0;
    for (std::size_t i = 0; i < crc_size; ++i) crc |= std::uint32_t{in[i]} << (8 * i);
    return crc;
}

// ---- message types and algorithm names ----------------------------------------------

enum class MessageType : std::uint8_t {
    hello, hello_ack, commit, dh_part1, dh_part2, confirm1, confirm2, conf2_ack,
    error, error_ack, go_clear, clear_ack, sas_relay, relay_ack, ping, ping_ack,
};

inline constexpr std::array<std::string_view, 16> message_type_blocks = {
    "Hello   ", "HelloACK", "Commit  ", "DHPart1 ", "DHPart2 ", "Confirm1", "Confirm2", "Conf2ACK",
    "Error   ", "ErrorACK", "GoClear ", "ClearACK", "SASrelay", "RelayACK", "Ping    ", "PingACK ",
};

constexpr std::string_view type_block(MessageType t) noexcept { return message_type_blocks[static_cast<std::size_t>(t)]; }

inline std::optional<MessageType> message_type_from_block(ByteView block) noexcept {
    if (block.size() != 8) return std::nullopt;
    for (std::size_t i = 0; i < message_type_blocks.size(); ++i)
        if (std::equal(block.begin(), block.end(), message_type_blocks[i].begin())) return static_cast<MessageType>(i);
    return std::nullopt;
}

/// A 4-character algorithm name ("S256", "X255", "B32 ") as the 32-bit word on the wire.
using AlgorithmCode = std::uint32_t;
constexpr AlgorithmCode algorithm(const char (&name)[5]) noexcept {
    return AlgorithmCode(std::uint8_t(name[0])) << 24 | AlgorithmCode(std::uint8_t(name[1])) << 16 |
           AlgorithmCode(std::uint8_t(name[2])) << 8 | AlgorithmCode(std::uint8_t(name[3]));
}
inline std::string algorithm_name(AlgorithmCode code) {
    return {char(code >> 24), char(code >> 16), char(code >> 8), char(code)};
}

namespace algo {
inline constexpr AlgorithmCode s256 = algorithm("S256");
inline constexpr AlgorithmCode aes1 = algorithm("AES1");
inline constexpr AlgorithmCode hs32 = algorithm("HS32");
inline constexpr AlgorithmCode hs80 = algorithm("HS80");
inline constexpr AlgorithmCode x255 = algorithm("X255");  // X25519, as bzrtp and the ZRTP registry name it
inline constexpr AlgorithmCode ec25 = algorithm("EC25");  // ECDH P-256 (RFC 6189 5.1.5)
inline constexpr AlgorithmCode dh3k = algorithm("DH3k");
inline constexpr AlgorithmCode prsh = algorithm("Prsh");
inline constexpr AlgorithmCode mult = algorithm("Mult");
inline constexpr AlgorithmCode b32 = algorithm("B32 ");
inline constexpr AlgorithmCode b256 = algorithm("B256");
}  // namespace algo

/// One of a Hello's algorithm lists: at most 7 entries (RFC 6189 5.2).
struct AlgorithmList {
    static constexpr std::size_t capacity = 7;
    std::array<AlgorithmCode, capacity> codes{};
    std::uint8_t count = 0;

    bool contains(AlgorithmCode c) const noexcept { return std::find(codes.begin(), codes.begin() + count, c) != codes.begin() + count; }
    bool push(AlgorithmCode c) noexcept {
        if (count == capacity) return false;
        codes[count++] = c;
        return true;
    }
    const AlgorithmCode* begin() const noexcept { return codes.data(); }
    const AlgorithmCode* end() const noexcept { return codes.data() + count; }
    bool operator==(const AlgorithmList& o) const noexcept { return std::equal(begin(), end(), o.begin(), o.end()); }
};

// ---- the packet ----------------------------------------------------------------------

/// One ZRTP packet: header fields and a view of the message (preamble through MAC).
struct Packet {
    std::uint16_t sequence = 0;
    std::uint32_t ssrc = 0;
    MessageType type{};
    ByteView message;
};

/// RFC 7983 demultiplexing: ZRTP packets start with 0x10 and carry the magic cookie
/// at offset 4 (RTP/RTCP start with 128..191, DTLS with 20..63, STUN with 0..3).
inline bool looks_like_zrtp(ByteView datagram) noexcept {
    if (datagram.size() < 8 || (datagram[0] & 0xf0) != 0x10) return false;
    wire::Reader r(datagram.subspan(4, 4));
    return r.u32() == magic_cookie;
}

/// Parses and checks one datagram: header, CRC-32C, preamble, length, type block.
inline Result<Packet> parse_packet(ByteView datagram) {
    auto fail = [](Error e) { return Result<Packet>(std::error_code(make_error_code(e))); };
    if (datagram.size() > max_packet_size) return fail(Error::oversized_packet);
    if (datagram.size() < packet_header_size + message_header_size + crc_size) return fail(Error::truncated_packet);
    wire::Reader r(datagram);
    const std::uint8_t first = r.u8(), second = r.u8();
    Packet p;
    p.sequence = r.u16();
    const std::uint32_t cookie = r.u32();
    p.ssrc = r.u32();
    if (first != 0x10 || second != 0x00 || cookie != magic_cookie) return fail(Error::not_zrtp);
    const std::size_t body = datagram.size() - crc_size;
    if (crc32c(datagram.first(body)) != read_crc(datagram.subspan(body))) return fail(Error::bad_crc);
    const ByteView message = datagram.subspan(packet_header_size, body - packet_header_size);
    wire::Reader m(message);
    if (m.u16() != message_preamble) return fail(Error::bad_preamble);
    const std::size_t length = std::size_t{m.u16()} * 4;
    if (length != message.size()) return fail(length > message.size() ? Error::truncated_packet : Error::length_mismatch);
    auto type = message_type_from_block(m.bytes(8));
    if (!type) return fail(Error::unknown_message_type);
    p.type = *type;
    p.message = message;
    return p;
}

/// Frames `message` as a packet into `out` (header + message + CRC); returns its size.
inline std::size_t frame_packet_into(MutableByteView out, std::uint16_t sequence, std::uint32_t ssrc, ByteView message) {
    const std::size_t size = packet_header_size + message.size() + crc_size;
    if (out.size() < size) return 0;
    Bytes header;
    header.reserve(packet_header_size);
    wire::Writer w(header);
    w.u8(0x10);
    w.u8(0x00);
    w.u16(sequence);
    w.u32(magic_cookie);
    w.u32(ssrc);
    std::copy(header.begin(), header.end(), out.begin());
    std::copy(message.begin(), message.end(), out.begin() + packet_header_size);
    write_crc(out.subspan(size - crc_size), crc32c(out.first(size - crc_size)));
    return size;
}

inline Bytes frame_packet(std::uint16_t sequence, std::uint32_t ssrc, ByteView message) {
    Bytes out(packet_header_size + message.size() + crc_size);
    frame_packet_into(out, sequence, ssrc, message);
    return out;
}

// ---- messages ----------------------------------------------------------------------

struct Hello {
    std::array<std::uint8_t, 4> version{'1', '.', '1', '0'};
    std::array<std::uint8_t, 16> client_id{};
    HashImage h3{};
    Zid zid{};
    bool signature_capable = false, mitm = false, passive = false;
    AlgorithmList hashes, ciphers, auth_tags, key_agreements, sas_types;
    Mac mac{};
};

struct Commit {  // DH mode only (RFC 6189 5.4.1)
    HashImage h2{};
    Zid zid{};
    AlgorithmCode hash = 0, cipher = 0, auth_tag = 0, key_agreement = 0, sas = 0;
    std::array<std::uint8_t, 32> hvi{};
    Mac mac{};
};

struct DhPart {  // DHPart1 and DHPart2 (RFC 6189 5.5, 5.6)
    HashImage h1{};
    SecretId rs1_id{}, rs2_id{}, aux_secret_id{}, pbx_secret_id{};
    ByteView pv;  // a view into the parsed message
    Mac mac{};
};

struct Confirm {  // Confirm1 and Confirm2 (RFC 6189 5.7): the encrypted part stays opaque
    Mac confirm_mac{};
    std::array<std::uint8_t, cfb_iv_size> iv{};
    ByteView encrypted;
};

/// The plaintext of a Confirm's encrypted part.
struct ConfirmBody {
    static constexpr std::size_t size = 40;  // H0, pad/sig len/flags word, cache expiration
    HashImage h0{};
    std::uint16_t signature_length = 0;  // in words; signatures are not implemented
    bool enrollment = false, sas_verified = false, allow_clear = false, disclosure = false;
    std::uint32_t cache_expiration = 0;
};

inline constexpr std::size_t hello_fixed_size = 88;     // 22 words + 1 per algorithm
inline constexpr std::size_t ack_size = 12;             // HelloACK, Conf2ACK, ErrorACK
inline constexpr std::size_t commit_dh_size = 116;      // 29 words
inline constexpr std::size_t dhpart_fixed_size = 84;    // 21 words + pv
inline constexpr std::size_t confirm_fixed_size = 36;   // 9 words + encrypted part
inline constexpr std::size_t error_size = 16;

namespace detail {
inline std::error_code malformed() { return make_error_code(Error::malformed_message); }

inline void write_header(wire::Writer& w, std::size_t total, MessageType t) {
    w.u16(message_preamble);
    w.u16(static_cast<std::uint16_t>(total / 4));
    w.bytes(as_bytes(type_block(t)));
}
template <std::size_t N>
void read_array(wire::Reader& r, std::array<std::uint8_t, N>& out) {
    auto b = r.bytes(N);
    if (r.ok()) std::copy(b.begin(), b.end(), out.begin());
}
}  // namespace detail

// Hello --------------------------------------------------------------------------------

inline Result<Hello> parse_hello(ByteView message) {
    if (message.size() < hello_fixed_size) return detail::malformed();
    wire::Reader r(message.subspan(message_header_size));
    Hello h;
    detail::read_array(r, h.version);
    detail::read_array(r, h.client_id);
    detail::read_array(r, h.h3);
    detail::read_array(r, h.zid);
    const std::uint8_t flags = r.u8();
    const std::uint8_t hc = r.u8(), cc_ac = r.u8(), kc_sc = r.u8();
    if (flags & 0x80) return detail::malformed();  // the first bit is zero
    h.signature_capable = flags & 0x40;
    h.mitm = flags & 0x20;
    h.passive = flags & 0x10;
    const std::uint8_t counts[5] = {std::uint8_t(hc & 0x0f), std::uint8_t(cc_ac >> 4), std::uint8_t(cc_ac & 0x0f),
                                    std::uint8_t(kc_sc >> 4), std::uint8_t(kc_sc & 0x0f)};
    std::size_t total = 0;
    for (auto c : counts) {
        if (c > AlgorithmList::capacity) return detail::malformed();
        total += c;
    }
    if (message.size() != hello_fixed_size + 4 * total) return detail::malformed();
    AlgorithmList* lists[5] = {&h.hashes, &h.ciphers, &h.auth_tags, &h.key_agreements, &h.sas_types};
    for (int i = 0; i < 5; ++i)
        for (std::uint8_t k = 0; k < counts[i]; ++k) lists[i]->push(r.u32());
    detail::read_array(r, h.mac);
    if (!r.at_end()) return detail::malformed();
    return h;
}

inline Bytes encode_hello(const Hello& h) {
    const std::size_t total = hello_fixed_size + 4 * (std::size_t{h.hashes.count} + h.ciphers.count + h.auth_tags.count +
                                                      h.key_agreements.count + h.sas_types.count);
    Bytes out;
    out.reserve(total);
    wire::Writer w(out);
    detail::write_header(w, total, MessageType::hello);
    w.bytes(h.version);
    w.bytes(h.client_id);
    w.bytes(h.h3);
    w.bytes(h.zid);
    w.u8(static_cast<std::uint8_t>((h.signature_capable ? 0x40 : 0) | (h.mitm ? 0x20 : 0) | (h.passive ? 0x10 : 0)));
    w.u8(h.hashes.count);
    w.u8(static_cast<std::uint8_t>(h.ciphers.count << 4 | h.auth_tags.count));
    w.u8(static_cast<std::uint8_t>(h.key_agreements.count << 4 | h.sas_types.count));
    for (const AlgorithmList* l : {&h.hashes, &h.ciphers, &h.auth_tags, &h.key_agreements, &h.sas_types})
        for (auto c : *l) w.u32(c);
    w.bytes(h.mac);
    return out;
}

// Commit -------------------------------------------------------------------------------

inline Result<Commit> parse_commit(ByteView message) {
    // A Commit's length depends on its mode: read the key agreement type first.
    constexpr std::size_t key_agreement_offset = message_header_size + hash_image_size + zid_size + 12;
    if (message.size() < key_agreement_offset + 4) return detail::malformed();
    wire::Reader peek(message.subspan(key_agreement_offset, 4));
    const AlgorithmCode mode = peek.u32();
    if (mode == algo::prsh || mode == algo::mult) return std::error_code(make_error_code(Error::unsupported_mode));
    if (message.size() != commit_dh_size) return detail::malformed();
    wire::Reader r(message.subspan(message_header_size));
    Commit c;
    detail::read_array(r, c.h2);
    detail::read_array(r, c.zid);
    c.hash = r.u32();
    c.cipher = r.u32();
    c.auth_tag = r.u32();
    c.key_agreement = r.u32();
    c.sas = r.u32();
    detail::read_array(r, c.hvi);
    detail::read_array(r, c.mac);
    if (!r.at_end()) return detail::malformed();
    return c;
}

inline Bytes encode_commit(const Commit& c) {
    Bytes out;
    out.reserve(commit_dh_size);
    wire::Writer w(out);
    detail::write_header(w, commit_dh_size, MessageType::commit);
    w.bytes(c.h2);
    w.bytes(c.zid);
    for (auto a : {c.hash, c.cipher, c.auth_tag, c.key_agreement, c.sas}) w.u32(a);
    w.bytes(c.hvi);
    w.bytes(c.mac);
    return out;
}

// DHPart1 / DHPart2 ------------------------------------------------------------------

/// The pv's length is fixed by the negotiated key agreement; the handshake checks it.
inline Result<DhPart> parse_dh_part(ByteView message) {
    if (message.size() < dhpart_fixed_size + 4 || message.size() % 4 != 0) return detail::malformed();
    wire::Reader r(message.subspan(message_header_size));
    DhPart d;
    detail::read_array(r, d.h1);
    detail::read_array(r, d.rs1_id);
    detail::read_array(r, d.rs2_id);
    detail::read_array(r, d.aux_secret_id);
    detail::read_array(r, d.pbx_secret_id);
    d.pv = r.bytes(message.size() - dhpart_fixed_size);
    detail::read_array(r, d.mac);
    if (!r.at_end()) return detail::malformed();
    return d;
}

inline Bytes encode_dh_part(MessageType type, const DhPart& d) {
    const std::size_t total = dhpart_fixed_size + d.pv.size();
    Bytes out;
    out.reserve(total);
    wire::Writer w(out);
    detail::write_header(w, total, type);
    w.bytes(d.h1);
    w.bytes(d.rs1_id);
    w.bytes(d.rs2_id);
    w.bytes(d.aux_secret_id);
    w.bytes(d.pbx_secret_id);
    w.bytes(d.pv);
    w.bytes(d.mac);
    return out;
}

// Confirm1 / Confirm2 -----------------------------------------------------------------

inline Result<Confirm> parse_confirm(ByteView message) {
    if (message.size() < confirm_fixed_size + ConfirmBody::size || message.size() % 4 != 0) return detail::malformed();
    wire::Reader r(message.subspan(message_header_size));
    Confirm c;
    detail::read_array(r, c.confirm_mac);
    detail::read_array(r, c.iv);
    c.encrypted = r.rest();
    return c;
}

/// Parses the decrypted part; `plain` must be exactly what the Confirm carried.
inline Result<ConfirmBody> parse_confirm_body(ByteView plain) {
    if (plain.size() < ConfirmBody::size) return detail::malformed();
    wire::Reader r(plain);
    ConfirmBody b;
    detail::read_array(r, b.h0);
    const std::uint32_t word = r.u32();
    b.signature_length = static_cast<std::uint16_t>((word >> 8) & 0x1ff);
    const std::uint8_t flags = static_cast<std::uint8_t>(word);
    if ((word >> 17) != 0 || (flags & 0xf0)) return detail::malformed();  // pad and unused flag bits are zero
    b.enrollment = flags & 0x08;
    b.sas_verified = flags & 0x04;
    b.allow_clear = flags & 0x02;
    b.disclosure = flags & 0x01;
    b.cache_expiration = r.u32();
    // sig len counts the signature type block too (RFC 6189 5.7)
    if (plain.size() != ConfirmBody::size + 4 * std::size_t{b.signature_length}) return detail::malformed();
    return b;
}

inline Bytes encode_confirm_body(const ConfirmBody& b) {
    Bytes out;
    out.reserve(ConfirmBody::size);
    wire::Writer w(out);
    w.bytes(b.h0);
    w.u16(0);
    w.u8(0);  // signature length 0: no signature
    w.u8(static_cast<std::uint8_t>((b.enrollment ? 8 : 0) | (b.sas_verified ? 4 : 0) | (b.allow_clear ? 2 : 0) |
                                   (b.disclosure ? 1 : 0)));
    w.u32(b.cache_expiration);
    return out;
}

inline Bytes encode_confirm(MessageType type, const Confirm& c) {
    const std::size_t total = confirm_fixed_size + c.encrypted.size();
    Bytes out;
    out.reserve(total);
    wire::Writer w(out);
    detail::write_header(w, total, type);
    w.bytes(c.confirm_mac);
    w.bytes(c.iv);
    w.bytes(c.encrypted);
    return out;
}

// The short messages -----------------------------------------------------------------

/// HelloACK, Conf2ACK and ErrorACK are a bare header.
inline std::error_code check_ack(ByteView message) {
    return message.size() == ack_size ? std::error_code{} : detail::malformed();
}

inline Bytes encode_ack(MessageType type) {
    Bytes out;
    wire::Writer w(out);
    detail::write_header(w, ack_size, type);
    return out;
}

inline Result<std::uint32_t> parse_error(ByteView message) {
    if (message.size() != error_size) return detail::malformed();
    wire::Reader r(message.subspan(message_header_size));
    return r.u32();
}

inline Bytes encode_error(std::uint32_t code) {
    Bytes out;
    wire::Writer w(out);
    detail::write_header(w, error_size, MessageType::error);
    w.u32(code);
    return out;
}

}  // namespace tapsec::zrtp
