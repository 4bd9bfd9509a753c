// The stream-preamble carrier for TCP-ENO options: a documented deviation (see
// docs/tcpcrypt.md). Linux gives user space no way to put an option of kind 69 into its
// own SYN, so each host writes, at the very start of the ordinary TCP byte stream, the
// segments of the three-way handshake that would have carried options, and nothing else
// of them:
//
//   segment = "ENO" (3 bytes) | flags (1: 0x02 SYN, 0x12 SYN-ACK, 0x10 ACK) |
//             area length (1, at most 40) | TCP option area (kind/length options)
//
// The option area holds exactly the bytes a TCP header's options would: the ENO option
// (kind 69, length, suboptions), possibly padded with NOP/EOL. The active opener writes
// SYN, the passive opener answers SYN-ACK, the active opener then writes ACK (carrying
// the empty ENO option RFC 8547 asks role A to put on its first ACK). TCP itself has
// already done its handshake underneath, so no data rides on these "SYNs": the SYN-data
// rules of RFC 8547 4.7 do not arise here.
#pragma once

#include <optional>

#include "option.hpp"

namespace tapsec::tcp_eno::preamble {

inline constexpr std::uint8_t flag_syn = 0x02, flag_ack = 0x10, flag_syn_ack = 0x12;
inline constexpr std::uint8_t magic[3] = {'E', 'N', 'O'};
inline constexpr std::size_t header_size = 5;
inline constexpr std::size_t max_segment_size = header_size + max_option_area;

struct Segment {
    std::uint8_t flags = 0;
    Bytes option_area;
};

/// Appends one segment carrying `option_area` (for example encode_option(contents)).
inline std::error_code write(Bytes& out, std::uint8_t flags, ByteView option_area) {
    if (option_area.size() > max_option_area) return make_error_code(Error::oversized_option);
    out.insert(out.end(), std::begin(magic), std::end(magic));
    out.push_back(flags);
    out.push_back(static_cast<std::uint8_t>(option_area.size()));
    append(out, option_area);
    return {};
}

/// What the front of a stream holds.
enum class Peek {
    need_more,    // a prefix of a segment: wait for more bytes
    segment,      // one whole segment (its size in `size`)
    not_preamble  // the stream does not start with a segment: the peer speaks no ENO preamble
};
struct PeekResult {
    Peek kind;
    std::size_t size = 0;
};

/// Looks at the front of `stream` without consuming it. A byte that differs from the
/// magic means the peer is a plain TCP host: its bytes are application data.
inline Result<PeekResult> peek(ByteView stream) {
    for (std::size_t i = 0; i < 3 && i < stream.size(); ++i)
        if (stream[i] != magic[i]) return PeekResult{Peek::not_preamble};
    if (stream.size() < header_size) return PeekResult{Peek::need_more};
    const std::uint8_t flags = stream[3];
    if (flags != flag_syn && flags != flag_syn_ack && flags != flag_ack) return make_error_code(Error::malformed_preamble);
    const std::size_t area = stream[4];
    if (area > max_option_area) return make_error_code(Error::oversized_option);
    if (stream.size() < header_size + area) return PeekResult{Peek::need_more};
    return PeekResult{Peek::segment, header_size + area};
}

/// Decodes one whole segment (as peek() measured it).
inline Result<Segment> parse(ByteView segment) {
    auto p = peek(segment);
    if (!p) return p.error();
    if (p->kind != Peek::segment || p->size != segment.size()) return make_error_code(Error::malformed_preamble);
    return Segment{segment[3], Bytes(segment.begin() + header_size, segment.end())};
}

}  // namespace tapsec::tcp_eno::preamble
