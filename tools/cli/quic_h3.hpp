// A minimal HTTP/3 (RFC 9114) for `tapsec connect|listen quic --h3`, enough to fetch a
// file from ngtcp2's gtlsserver and to serve one to gtlsclient (both speak ALPN h3
// only). Not part of the library: the CLI's own glue.
//
// What it speaks: the control stream with an empty SETTINGS frame (so the peer's QPACK
// encoder may use no dynamic table, RFC 9204 3.2.3), HEADERS and DATA frames on request
// streams, and QPACK field sections with static-table references and literals only
// (RFC 9204 4.5). Huffman-coded literals (RFC 7541 5.2) are decoded when they hold
// printable ASCII only; anything else is reported as undecoded (a server then answers
// with its default file).
#pragma once

#include <optional>
#include <utility>
#include <string>
#include <vector>

#include <tapsec/core/bytes.hpp>
#include <tapsec/core/wire.hpp>
#include <tapsec/quic/wire.hpp>

namespace tapsec::cli::h3 {

inline constexpr std::uint64_t frame_data = 0x00, frame_headers = 0x01, frame_settings = 0x04;
inline constexpr std::uint64_t stream_control = 0x00;
inline constexpr std::uint64_t no_error = 0x100;  // H3_NO_ERROR

/// The control stream's first bytes: its type and an empty SETTINGS frame.
inline Bytes control_stream_preface() {
    Bytes out;
    quic::write_varint(out, stream_control);
    quic::write_varint(out, frame_settings);
    quic::write_varint(out, 0);
    return out;
}

/// RFC 9204 4.1.1 prefixed integer with an N-bit prefix; `first` holds the high bits.
inline void write_prefixed_int(Bytes& out, std::uint8_t first, unsigned bits, std::uint64_t v) {
    const std::uint64_t max = (1u << bits) - 1;
    if (v < max) {
        out.push_back(static_cast<std::uint8_t>(first | v));
        return;
    }
    out.push_back(static_cast<std::uint8_t>(first | max));
    v -= max;
    while (v >= 128) {
        out.push_back(static_cast<std::uint8_t>(0x80 | (v & 0x7f)));
        v >>= 7;
    }
    out.push_back(static_cast<std::uint8_t>(v));
}

inline std::optional<std::uint64_t> read_prefixed_int(wire::Reader& r, std::uint8_t first, unsigned bits) {
    const std::uint64_t max = (1u << bits) - 1;
    std::uint64_t v = first & max;
    if (v < max) return v;
    for (unsigned shift = 0; shift < 56; shift += 7) {
        const std::uint8_t b = r.u8();
        if (!r.ok()) return std::nullopt;
        v += std::uint64_t{b & 0x7fu} << shift;
        if (!(b & 0x80)) return v;
    }
    return std::nullopt;
}

/// A string literal without Huffman coding (H = 0), 7-bit length prefix.
inline void write_literal(Bytes& out, std::string_view s) {
    write_prefixed_int(out, 0x00, 7, s.size());
    append(out, as_bytes(s));
}

/// RFC 7541 Appendix B Huffman codes of the printable ASCII symbols 32..126 (code, bits),
/// the only ones request paths and status values use here.
inline constexpr std::pair<std::uint32_t, std::uint8_t> huffman_ascii[95] = {
    {0x14, 6}, {0x3f8, 10}, {0x3f9, 10}, {0xffa, 12}, {0x1ff9, 13}, {0x15, 6}, {0xf8, 8}, {0x7fa, 11},
    {0x3fa, 10}, {0x3fb, 10}, {0xf9, 8}, {0x7fb, 11}, {0xfa, 8}, {0x16, 6}, {0x17, 6}, {0x18, 6},
    {0x0, 5}, {0x1, 5}, {0x2, 5}, {0x19, 6}, {0x1a, 6}, {0x1b, 6}, {0x1c, 6}, {0x1d, 6},
    {0x1e, 6}, {0x1f, 6}, {0x5c, 7}, {0xfb, 8}, {0x7ffc, 15}, {0x20, 6}, {0xffb, 12}, {0x3fc, 10},
    {0x1ffa, 13}, {0x21, 6}, {0x5d, 7}, {0x5e, 7}, {0x5f, 7}, {0x60, 7}, {0x61, 7}, {0x62, 7},
    {0x63, 7}, {0x64, 7}, {0x65, 7}, {0x66, 7}, {0x67, 7}, {0x68, 7}, {0x69, 7}, {0x6a, 7},
    {0x6b, 7}, {0x6c, 7}, {0x6d, 7}, {0x6e, 7}, {0x6f, 7}, {0x70, 7}, {0x71, 7}, {0x72, 7},
    {0xfc, 8}, {0x73, 7}, {0xfd, 8}, {0x1ffb, 13}, {0x7fff0, 19}, {0x1ffc, 13}, {0x3ffc, 14}, {0x22, 6},
    {0x7ffd, 15}, {0x3, 5}, {0x23, 6}, {0x4, 5}, {0x24, 6}, {0x5, 5}, {0x25, 6}, {0x26, 6},
    {0x27, 6}, {0x6, 5}, {0x74, 7}, {0x75, 7}, {0x28, 6}, {0x29, 6}, {0x2a, 6}, {0x7, 5},
    {0x2b, 6}, {0x76, 7}, {0x2c, 6}, {0x8, 5}, {0x9, 5}, {0x2d, 6}, {0x77, 7}, {0x78, 7},
    {0x79, 7}, {0x7a, 7}, {0x7b, 7}, {0x7ffe, 15}, {0x7fc, 11}, {0x3ffd, 14}, {0x1ffd, 13},
};

/// Decodes a Huffman-coded string of printable ASCII (RFC 7541 5.2); nothing when it holds
/// another symbol or its padding is not a prefix of EOS (all ones, under 8 bits).
inline std::optional<std::string> huffman_decode_ascii(ByteView in) {
    std::string out;
    std::uint32_t code = 0;
    unsigned bits = 0;
    for (std::uint8_t byte : in) {
        for (int i = 7; i >= 0; --i) {
            code = code << 1 | ((byte >> i) & 1u);
            if (++bits > 19) return std::nullopt;  // longer than any printable symbol's code
            for (std::size_t s = 0; s < 95; ++s)
                if (huffman_ascii[s].second == bits && huffman_ascii[s].first == code) {
                    out.push_back(static_cast<char>(32 + s));
                    code = 0;
                    bits = 0;
                    break;
                }
        }
    }
    if (bits >= 8 || code != (1u << bits) - 1) return std::nullopt;
    return out;
}

/// One field: `name` is set only for names we know from the static table (or literal).
struct Field {
    std::string name, value;
    bool huffman = false;  // the value was Huffman-coded and is not decoded
};

// The static-table entries (RFC 9204 Appendix A) this tool refers to or reads.
inline std::optional<std::pair<std::string_view, std::string_view>> static_entry(std::uint64_t i) {
    switch (i) {
        case 0: return {{":authority", ""}};
        case 1: return {{":path", "/"}};
        case 4: return {{"content-length", "0"}};
        case 17: return {{":method", "GET"}};
        case 23: return {{":scheme", "https"}};
        case 24: return {{":status", "103"}};
        case 25: return {{":status", "200"}};
        case 26: return {{":status", "304"}};
        case 27: return {{":status", "404"}};
        case 28: return {{":status", "503"}};
        case 63: return {{":status", "100"}};
        case 64: return {{":status", "204"}};
        case 65: return {{":status", "206"}};
        case 66: return {{":status", "302"}};
        case 67: return {{":status", "400"}};
        case 68: return {{":status", "403"}};
        case 69: return {{":status", "421"}};
        case 70: return {{":status", "425"}};
        case 71: return {{":status", "500"}};
        default: return std::nullopt;
    }
}

/// A QPACK field section (RFC 9204 4.5) with static references and literals only.
inline std::optional<std::vector<Field>> decode_field_section(ByteView block) {
    wire::Reader r(block);
    const std::uint8_t ric = r.u8();
    auto insert_count = read_prefixed_int(r, ric, 8);
    const std::uint8_t base = r.u8();
    auto delta = read_prefixed_int(r, base, 7);
    if (!r.ok() || !insert_count || !delta || *insert_count != 0) return std::nullopt;  // no dynamic table
    std::vector<Field> fields;
    auto read_string = [&](std::uint8_t first, unsigned bits, bool& huffman) -> std::optional<std::string> {
        huffman = first & (1u << bits);
        auto length = read_prefixed_int(r, first, bits);
        if (!length || *length > r.remaining()) return std::nullopt;
        auto b = r.bytes(static_cast<std::size_t>(*length));
        if (huffman)
            if (auto text = huffman_decode_ascii(b)) {
                huffman = false;
                return *text;
            }
        return std::string(b.begin(), b.end());
    };
    while (!r.at_end()) {
        const std::uint8_t b = r.u8();
        Field f;
        if (b & 0x80) {  // indexed field line
            if (!(b & 0x40)) return std::nullopt;  // dynamic
            auto i = read_prefixed_int(r, b, 6);
            if (!i) return std::nullopt;
            if (auto e = static_entry(*i)) f = {std::string(e->first), std::string(e->second)};
        } else if (b & 0x40) {  // literal with name reference
            if (!(b & 0x10)) return std::nullopt;  // dynamic
            auto i = read_prefixed_int(r, b, 4);
            if (!i) return std::nullopt;
            const std::uint8_t v = r.u8();
            auto value = read_string(v, 7, f.huffman);
            if (!value) return std::nullopt;
            if (auto e = static_entry(*i)) f.name = std::string(e->first);
            f.value = *value;
        } else if (b & 0x20) {  // literal with literal name
            bool name_huffman = false;
            auto name = read_string(b, 3, name_huffman);
            if (!name) return std::nullopt;
            const std::uint8_t v = r.u8();
            auto value = read_string(v, 7, f.huffman);
            if (!value) return std::nullopt;
            if (!name_huffman) f.name = *name;
            f.value = *value;
        } else {
            return std::nullopt;  // post-base (dynamic) references
        }
        if (!r.ok()) return std::nullopt;
        fields.push_back(std::move(f));
    }
    return fields;
}

inline void write_frame(Bytes& out, std::uint64_t type, ByteView payload) {
    quic::write_varint(out, type);
    quic::write_varint(out, payload.size());
    append(out, payload);
}

/// A GET request's HEADERS frame.
inline Bytes request_headers(std::string_view authority, std::string_view path) {
    Bytes block{0x00, 0x00};  // Required Insert Count 0, Base 0
    block.push_back(0xc0 | 17);  // :method GET
    block.push_back(0xc0 | 23);  // :scheme https
    block.push_back(0x50 | 0);   // :authority, literal value
    write_literal(block, authority);
    if (path == "/") {
        block.push_back(0xc0 | 1);
    } else {
        block.push_back(0x50 | 1);  // :path, literal value
        write_literal(block, path);
    }
    Bytes out;
    write_frame(out, frame_headers, block);
    return out;
}

/// A response's HEADERS frame: :status and content-length.
inline Bytes response_headers(int status, std::size_t length) {
    Bytes block{0x00, 0x00};
    if (status == 200) {
        block.push_back(0xc0 | 25);
    } else {
        write_prefixed_int(block, 0x50, 4, 24);  // :status (static 24), literal value
        write_literal(block, std::to_string(status));
    }
    block.push_back(0x50 | 4);  // content-length, literal value
    write_literal(block, std::to_string(length));
    Bytes out;
    write_frame(out, frame_headers, block);
    return out;
}

/// Splits a request or response stream's bytes into frames as they arrive.
class FrameParser {
public:
    struct Frame {
        std::uint64_t type = 0;
        Bytes payload;
    };
    void add(ByteView data) { append(buffer_, data); }
    /// The next complete frame, or nothing yet. DATA payloads can be large: they are
    /// handed out in pieces as they arrive (type DATA, partial payloads).
    std::optional<Frame> next() {
        wire::Reader r(buffer_);
        if (data_left_ > 0) {
            const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(data_left_, buffer_.size()));
            if (n == 0) return std::nullopt;
            Frame f{frame_data, Bytes(buffer_.begin(), buffer_.begin() + static_cast<std::ptrdiff_t>(n))};
            buffer_.erase(buffer_.begin(), buffer_.begin() + static_cast<std::ptrdiff_t>(n));
            data_left_ -= n;
            return f;
        }
        const std::uint64_t type = quic::read_varint(r);
        const std::uint64_t length = quic::read_varint(r);
        if (!r.ok()) return std::nullopt;
        const std::size_t header = r.position();
        if (type == frame_data) {
            buffer_.erase(buffer_.begin(), buffer_.begin() + static_cast<std::ptrdiff_t>(header));
            data_left_ = length;
            if (length == 0) return Frame{frame_data, {}};
            return next();
        }
        if (length > r.remaining()) return std::nullopt;
        Frame f{type, Bytes(buffer_.begin() + static_cast<std::ptrdiff_t>(header),
                            buffer_.begin() + static_cast<std::ptrdiff_t>(header + length))};
        buffer_.erase(buffer_.begin(), buffer_.begin() + static_cast<std::ptrdiff_t>(header + length));
        return f;
    }
    bool empty() const { return buffer_.empty() && data_left_ == 0; }

private:
    Bytes buffer_;
    std::uint64_t data_left_ = 0;
};

}  // namespace tapsec::cli::h3
