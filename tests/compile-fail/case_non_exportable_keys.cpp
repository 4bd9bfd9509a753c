// Survey 6.3: CurveCP's keys are non-exportable; no other record may use them.
// expect: tapsec: the handshake's keys are non-exportable (survey 6.3): only its own record protocol can use them
#include "fixtures.hpp"
#include <tapsec/transport/udp.hpp>

#ifdef TAPSEC_EXPECT_REJECTION
using Composition = tapsec::Secure<fixture::SealedHandshake, fixture::OpenRecord, tapsec::Udp>;
#else
using Composition = tapsec::Secure<fixture::SealedHandshake, fixture::SealedRecord, tapsec::Udp>;
#endif
static_assert(Composition::has<tapsec::feature::record_protection>);
