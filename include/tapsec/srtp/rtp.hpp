// RTP and RTCP header parsing (RFC 3550 5.1, 6.4; RFC 8285 header extensions) as
// much as SRTP needs: where the header ends (fixed header, CSRC list, extension),
// the sequence number and SSRC. Plus the RFC 7983 / RFC 5761 demultiplexing of
// packets arriving on one port (DTLS, RTP, RTCP, STUN).
#pragma once

#include <cstdint>

#include "../core/bytes.hpp"
#include "../core/errors.hpp"
#include "errors.hpp"

namespace tapsec::srtp {

struct RtpHeader {
    std::size_t length = 0;  // fixed header + CSRCs + extension: where the payload starts
    std::uint16_t sequence = 0;
    std::uint32_t timestamp = 0;
    std::uint32_t ssrc = 0;
    std::uint8_t payload_type = 0;
    std::uint8_t csrc_count = 0;
    bool marker = false;
    bool padding = false;
    bool extension = false;
    std::uint16_t extension_profile = 0;  // 0xBEDE one-byte, 0x100x two-byte (RFC 8285), else other
    std::size_t extension_length = 0;     // bytes of extension data after its 4-byte header
};

/// Parses the RTP header at the start of `packet`; never reads past it.
inline Result<RtpHeader> parse_rtp_header(ByteView packet) {
    auto malformed = [] { return std::error_code(make_error_code(Error::malformed_rtp_header)); };
    if (packet.size() < 12) return malformed();
    const std::uint8_t b0 = packet[0], b1 = packet[1];
    if ((b0 >> 6) != 2) return malformed();
    RtpHeader h;
    h.padding = (b0 & 0x20) != 0;
    h.extension = (b0 & 0x10) != 0;
    h.csrc_count = b0 & 0x0f;
    h.marker = (b1 & 0x80) != 0;
    h.payload_type = b1 & 0x7f;
    h.sequence = static_cast<std::uint16_t>(packet[2] << 8 | packet[3]);
    h.timestamp = std::uint32_t{packet[4]} << 24 | std::uint32_t{packet[5]} << 16 | std::uint32_t{packet[6]} << 8 | packet[7];
    h.ssrc = std::uint32_t{packet[8]} << 24 | std::uint32_t{packet[9]} << 16 | std::uint32_t{packet[10]} << 8 | packet[11];
    std::size_t length = 12 + 4 * std::size_t{h.csrc_count};
    if (packet.size() < length) return malformed();
    if (h.extension) {
        if (packet.size() < length + 4) return malformed();
        h.extension_profile = static_cast<std::uint16_t>(packet[length] << 8 | packet[length + 1]);
        h.extension_length = 4 * std::size_t(packet[length + 2] << 8 | packet[length + 3]);
        length += 4 + h.extension_length;
        if (packet.size() < length) return malformed();
    }
    h.length = length;
    return h;
}

struct RtcpHeader {
    std::uint8_t packet_type = 0;  // 200 SR, 201 RR, 202 SDES, 203 BYE, 204 APP, ...
    std::uint8_t count = 0;
    std::uint32_t ssrc = 0;        // sender SSRC of the first packet in the compound
    std::size_t first_length = 0;  // bytes of the first RTCP packet ((length + 1) * 4)
};

/// Parses the first RTCP header of a (compound) packet: the 8 octets SRTCP leaves clear.
inline Result<RtcpHeader> parse_rtcp_header(ByteView packet) {
    if (packet.size() < 8 || (packet[0] >> 6) != 2) return std::error_code(make_error_code(Error::malformed_rtcp_header));
    RtcpHeader h;
    h.count = packet[0] & 0x1f;
    h.packet_type = packet[1];
    h.first_length = 4 * (std::size_t(packet[2] << 8 | packet[3]) + 1);
    h.ssrc = std::uint32_t{packet[4]} << 24 | std::uint32_t{packet[5]} << 16 | std::uint32_t{packet[6]} << 8 | packet[7];
    return h;
}

enum class PacketKind { rtp, rtcp, dtls, stun, zrtp, unknown };

/// RFC 7983 first-byte demultiplexing, then RFC 5761 4: payload types 64-95 (marker
/// bit clear, i.e. RTCP packet types 192-223) are RTCP.
inline PacketKind classify(ByteView packet) {
    if (packet.empty()) return PacketKind::unknown;
    const std::uint8_t b = packet[0];
    if (b <= 3) return PacketKind::stun;
    if (b >= 16 && b <= 19) return PacketKind::zrtp;
    if (b >= 20 && b <= 63) return PacketKind::dtls;
    if (b >= 128 && b <= 191) {
        if (packet.size() < 2) return PacketKind::unknown;
        const std::uint8_t pt = packet[1] & 0x7f;
        return (pt >= 64 && pt <= 95) ? PacketKind::rtcp : PacketKind::rtp;
    }
    return PacketKind::unknown;
}

}  // namespace tapsec::srtp
