// The provider rule holds for records too: a record bound to one library's stack
// refuses a composition that names another provider.
// expect: tapsec: this record protocol does not run on the given crypto provider (its runs_on<Crypto> is false): name a provider it runs on
#include "fixtures.hpp"

#ifdef TAPSEC_EXPECT_REJECTION
using Provider = fixture::PrimitivesOnlyProvider;
#else
using Provider = tapsec::crypto::Botan2;
#endif
using Composition = tapsec::Secure<fixture::EnoHandshake, fixture::BotanBoundRecord, fixture::TcpWithEno, Provider>;
static_assert(Composition::has<tapsec::feature::record_protection>);
