// RTP framing for the media commands (dtls-srtp, zrtp): each stdin chunk goes out as the
// payload of one RTP packet (version 2, payload type 96, one SSRC), and the payloads of
// RTP packets received are handed back, for pump_stdio. RTCP is not printed.
#pragma once

#include <chrono>
#include <random>

#include <tapsec/core/wire.hpp>
#include <tapsec/srtp/rtp.hpp>

namespace tapsec::cli {

template <class Connection>
class RtpStdio {
public:
    explicit RtpStdio(Connection& connection) : connection_(connection) {
        std::random_device entropy;  // stream identifiers, not secrets
        ssrc_ = entropy();
        sequence_ = static_cast<std::uint16_t>(entropy());
    }
    std::error_code send(ByteView payload) {
        Bytes packet;
        wire::Writer w(packet);
        w.u8(0x80);
        w.u8(96);
        w.u16(sequence_++);
        w.u32(timestamp_ += 160);
        w.u32(ssrc_);
        w.bytes(payload);
        return connection_.send(packet);
    }
    Result<Bytes> receive_message(std::chrono::milliseconds timeout) {
        auto packet = connection_.receive_message(timeout);
        if (!packet || packet->empty()) return packet;
        if (srtp::classify(*packet) != srtp::PacketKind::rtp) return Bytes{};  // RTCP: nothing to print
        auto header = srtp::parse_rtp_header(*packet);
        if (!header) return header.error();
        return Bytes(packet->begin() + static_cast<std::ptrdiff_t>(header->length), packet->end());
    }
    std::error_code close() { return connection_.close(); }

private:
    Connection& connection_;
    std::uint32_t ssrc_ = 0, timestamp_ = 0;
    std::uint16_t sequence_ = 0;
};

}  // namespace tapsec::cli
