// A certificate-based handshake needs X.509 path validation from the crypto provider.
// expect: tapsec: this handshake needs a PKI trust store (X.509 path validation), which the crypto provider does not offer
#include "fixtures.hpp"

#ifdef TAPSEC_EXPECT_REJECTION
using Provider = fixture::PrimitivesOnlyProvider;
#else
using Provider = tapsec::crypto::Botan2;
#endif
using Composition = tapsec::Secure<fixture::PkiHandshake, fixture::EnoRecord, tapsec::Tcp, Provider>;
static_assert(Composition::has<tapsec::feature::public_key_authentication>);
