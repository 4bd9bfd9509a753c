// A record is joined to a handshake only through the key interface it declares
// (survey 6.1: imported_keys and key_import). A record that declares none cannot be keyed.
// expect: tapsec: the record protocol declares no key interface (imported_keys and key_import, survey 6.1): no handshake can key it
#include "fixtures.hpp"

#ifdef TAPSEC_EXPECT_REJECTION
using Composition = tapsec::Secure<fixture::EnoHandshake, fixture::KeylessRecord, fixture::TcpWithEno>;
#else
using Composition = tapsec::Secure<fixture::EnoHandshake, fixture::EnoRecord, fixture::TcpWithEno>;
#endif
static_assert(Composition::has<tapsec::feature::record_protection>);
