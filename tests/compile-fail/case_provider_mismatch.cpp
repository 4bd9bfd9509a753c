// Crypto is a real policy: TLS 1.2 runs on Botan's TLS stack, which does all of its
// cryptography, so a composition naming another provider would silently run Botan.
// It does not compile (crypto::OpenSsl3 even derives from Botan2: no loophole).
// expect: tapsec: this handshake does not run on the given crypto provider (its runs_on<Crypto> is false): name a provider it runs on
#include <tapsec/crypto/openssl.hpp>
#include <tapsec/tapsec.hpp>

#ifdef TAPSEC_EXPECT_REJECTION
using Composition = tapsec::Secure<tapsec::Tls12Handshake, tapsec::Tls12Record, tapsec::Tcp, tapsec::crypto::OpenSsl3>;
#else
using Composition = tapsec::Secure<tapsec::Tls12Handshake, tapsec::Tls12Record, tapsec::Tcp, tapsec::crypto::Botan2>;
static_assert(std::is_same_v<Composition, tapsec::Secure<tapsec::Tls12Handshake, tapsec::Tls12Record, tapsec::Tcp>>);
#endif
static_assert(Composition::has<tapsec::feature::SC>);
