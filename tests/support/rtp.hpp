// A plain RTP packet for SRTP tests: version 2, dynamic payload type 96, a fixed
// timestamp, the given sequence number, SSRC and payload.
#pragma once

#include <cstdint>
#include <string_view>

#include <tapsec/core/bytes.hpp>
#include <tapsec/core/wire.hpp>

namespace tapsec::test {

inline Bytes rtp_packet(std::uint16_t sequence, std::string_view payload, std::uint32_t ssrc = 0x11223344) {
    Bytes p;
    p.reserve(12 + payload.size());
    wire::Writer w(p);
    w.u8(0x80);  // version 2
    w.u8(96);    // dynamic payload type
    w.u16(sequence);
    w.u32(0x1000);  // timestamp
    w.u32(ssrc);
    w.bytes(as_bytes(payload));
    return p;
}

}  // namespace tapsec::test
