// The handshake's side of the key interface (survey 6.3: exported_keys and key_export):
// a handshake that declares none has no keys any record could take.
// expect: tapsec: the handshake declares no key interface (exported_keys and key_export, survey 6.3): no record can use its keys
#include "fixtures.hpp"

#ifdef TAPSEC_EXPECT_REJECTION
using Composition = tapsec::Secure<fixture::KeylessHandshake, fixture::EnoRecord, fixture::TcpWithEno>;
#else
using Composition = tapsec::Secure<fixture::EnoHandshake, fixture::EnoRecord, fixture::TcpWithEno>;
#endif
static_assert(Composition::has<tapsec::feature::forward_secrecy>);
