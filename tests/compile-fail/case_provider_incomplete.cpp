// core/ names the default provider without including Botan; a composition whose
// provider was declared but never defined says which header is missing.
// expect: tapsec: Secure<H, R, T, C>: C is an incomplete type: include its header (the default, crypto::Botan2, is <tapsec/crypto/botan.hpp>)
#include "fixtures.hpp"

struct ProviderDeclaredElsewhere;

#ifdef TAPSEC_EXPECT_REJECTION
using Composition = tapsec::Secure<fixture::EnoHandshake, fixture::EnoRecord, fixture::TcpWithEno, ProviderDeclaredElsewhere>;
#else
using Composition = tapsec::Secure<fixture::EnoHandshake, fixture::EnoRecord, fixture::TcpWithEno, tapsec::crypto::DefaultProvider>;
#endif
static_assert(Composition::has<tapsec::feature::forward_secrecy>);
