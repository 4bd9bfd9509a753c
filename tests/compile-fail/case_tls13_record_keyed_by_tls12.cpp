// The TLS 1.3 record imports TLS 1.3 traffic secrets (per epoch); TLS 1.2's Botan channel
// exports its own kind of session keys, so the two cannot be joined.
// expect: tapsec: the handshake exports a kind of key material that this record protocol does not import
#include <tapsec/tapsec.hpp>

#ifdef TAPSEC_EXPECT_REJECTION
using Composition = tapsec::Secure<tapsec::Tls12Handshake, tapsec::AeadRecord, tapsec::Tcp>;
#else
using Composition = tapsec::Secure<tapsec::Tls13Handshake, tapsec::AeadRecord, tapsec::Tcp>;
#endif
static_assert(Composition::has<tapsec::feature::AFN>);
