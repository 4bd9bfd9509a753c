// WireGuard runs over datagrams (survey 4.7.3); a TCP stream cannot carry it.
// expect: tapsec: this handshake needs a datagram transport (survey 4.x.3), but the transport is a byte stream
#include <tapsec/tapsec.hpp>

#ifdef TAPSEC_EXPECT_REJECTION
using Composition = tapsec::Secure<tapsec::WireGuardHandshake, tapsec::WireGuardRecord, tapsec::Tcp>;
#else
using Composition = tapsec::Secure<tapsec::WireGuardHandshake, tapsec::WireGuardRecord, tapsec::Udp>;
#endif
static_assert(Composition::has<tapsec::feature::MA>);
