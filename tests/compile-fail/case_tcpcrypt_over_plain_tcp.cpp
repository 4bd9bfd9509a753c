// The real tcpcrypt composition (survey 4.6.3) over plain TCP: Tcp offers no TCP option
// negotiation, only TcpEno does. The fixtures' rule, now met by the shipped types.
// expect: tapsec: this handshake needs TCP option negotiation (TCP-ENO, survey 4.6.3), which the transport does not offer
#include <tapsec/tapsec.hpp>

#ifdef TAPSEC_EXPECT_REJECTION
using Composition = tapsec::Secure<tapsec::TcpcryptHandshake, tapsec::TcpcryptRecord, tapsec::Tcp>;
#else
using Composition = tapsec::Secure<tapsec::TcpcryptHandshake, tapsec::TcpcryptRecord, tapsec::TcpEno>;
#endif
static_assert(Composition::has<tapsec::feature::AD>);
