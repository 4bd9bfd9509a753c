// Secure<Handshake, Record, Transport>: a transport in the handshake's place is named as such.
// expect: H is not a handshake policy
#include "fixtures.hpp"

#ifdef TAPSEC_EXPECT_REJECTION
using Composition = tapsec::Secure<tapsec::Tcp, fixture::EnoRecord, fixture::TcpWithEno>;
#else
using Composition = tapsec::Secure<fixture::EnoHandshake, fixture::EnoRecord, fixture::TcpWithEno>;
#endif
static_assert(sizeof(Composition) > 0);
