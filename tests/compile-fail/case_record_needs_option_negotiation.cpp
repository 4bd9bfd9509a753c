// Transport dependencies are checked for the record as for the handshake: a record
// that needs TCP-ENO (survey 4.6.3) is refused over plain TCP.
// expect: tapsec: this record protocol needs TCP option negotiation (TCP-ENO, survey 4.6.3), which the transport does not offer
#include "fixtures.hpp"

#ifdef TAPSEC_EXPECT_REJECTION
using Composition = tapsec::Secure<fixture::StreamHandshake, fixture::EnoOnlyRecord, tapsec::Tcp>;
#else
using Composition = tapsec::Secure<fixture::StreamHandshake, fixture::EnoOnlyRecord, fixture::TcpWithEno>;
#endif
static_assert(Composition::has<tapsec::feature::record_protection>);
