// tcpcrypt's dependency (survey 4.6.3): TCP with option negotiation. Plain Tcp lacks it.
// expect: tapsec: this handshake needs TCP option negotiation (TCP-ENO, survey 4.6.3), which the transport does not offer
#include "fixtures.hpp"

#ifdef TAPSEC_EXPECT_REJECTION
using Composition = tapsec::Secure<fixture::EnoHandshake, fixture::EnoRecord, tapsec::Tcp>;
#else
using Composition = tapsec::Secure<fixture::EnoHandshake, fixture::EnoRecord, fixture::TcpWithEno>;
#endif
static_assert(Composition::has<tapsec::feature::forward_secrecy>);
