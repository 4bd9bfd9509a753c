// QUIC carries TLS 1.3 in CRYPTO frames over datagrams (the record's `carries` meets the
// handshake's byte-stream need); over TCP the record's own datagram need is not met.
// expect: tapsec: this record protocol needs a datagram transport (survey 4.x.3), but the transport is a byte stream
#include <tapsec/tapsec.hpp>

#ifdef TAPSEC_EXPECT_REJECTION
using Composition = tapsec::Secure<tapsec::Tls13Handshake, tapsec::QuicPacketProtection, tapsec::Tcp>;
#else
using Composition = tapsec::Secure<tapsec::Tls13Handshake, tapsec::QuicPacketProtection, tapsec::Udp>;
#endif
// QUIC carries 0-RTT in its own packets: the composition offers early data.
static_assert(Composition::has<tapsec::feature::ED>);
