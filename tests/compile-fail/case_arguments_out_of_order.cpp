// Secure<Handshake, Record, Transport>: a transport in the handshake's place is named as such.
// expect: tapsec: Secure<H, R, T>: H is not a handshake policy (needs name, provides, Config derived from CommonConfig)
#include "fixtures.hpp"

#ifdef TAPSEC_EXPECT_REJECTION
using Composition = tapsec::Secure<tapsec::Tcp, fixture::EnoRecord, fixture::TcpWithEno>;
#else
using Composition = tapsec::Secure<fixture::EnoHandshake, fixture::EnoRecord, fixture::TcpWithEno>;
#endif
static_assert(sizeof(Composition) > 0);
