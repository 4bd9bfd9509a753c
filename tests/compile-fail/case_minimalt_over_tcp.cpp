// MinimaLT runs over UDP (survey 4.8): its tunnels follow tunnel IDs across addresses and
// its packets may be lost or reordered; a TCP stream cannot carry it.
// expect: tapsec: this handshake needs a datagram transport (survey 4.x.3), but the transport is a byte stream
#include <tapsec/tapsec.hpp>

#ifdef TAPSEC_EXPECT_REJECTION
using Composition = tapsec::Secure<tapsec::MinimaltHandshake, tapsec::MinimaltRecord, tapsec::Tcp>;
#else
using Composition = tapsec::Secure<tapsec::MinimaltHandshake, tapsec::MinimaltRecord, tapsec::Udp>;
#endif
static_assert(Composition::has<tapsec::feature::DM>);
