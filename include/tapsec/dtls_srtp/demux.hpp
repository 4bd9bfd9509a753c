// RFC 7983 demultiplexing for DTLS-SRTP: DTLS records and SRTP/SRTCP packets share
// one UDP flow and are told apart by their first byte (20-63 DTLS, 128-191 RTP/RTCP,
// RFC 5761 payload types 64-95 RTCP; 0-3 STUN and 16-19 ZRTP are not ours).
#pragma once

#include "../core/bytes.hpp"
#include "../dtls/wire.hpp"
#include "../srtp/rtp.hpp"

namespace tapsec::dtls_srtp {

enum class Route { dtls, srtp, srtcp, drop };

/// Where a datagram received on a DTLS-SRTP flow goes. DTLS is routed only when its
/// record headers parse (so garbage in the 20-63 range is dropped here, counted by the
/// caller, rather than handed to the TLS stack).
inline Route route(ByteView datagram) {
    switch (srtp::classify(datagram)) {
        case srtp::PacketKind::dtls: return dtls::parse_datagram(datagram) ? Route::dtls : Route::drop;
        case srtp::PacketKind::rtp: return Route::srtp;
        case srtp::PacketKind::rtcp: return Route::srtcp;
        default: return Route::drop;
    }
}

}  // namespace tapsec::dtls_srtp
