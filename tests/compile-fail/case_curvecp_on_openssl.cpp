// CurveCP boxes with XSalsa20-Poly1305, which OpenSSL 3 does not have: its policies run
// only on Botan 2 (crypto/nacl_box.hpp), and naming another provider does not compile.
// expect: tapsec: this handshake does not run on the given crypto provider (its runs_on<Crypto> is false): name a provider it runs on
#include <tapsec/crypto/openssl.hpp>
#include <tapsec/curvecp.hpp>

#ifdef TAPSEC_EXPECT_REJECTION
using Composition = tapsec::Secure<tapsec::CurveCpHandshake, tapsec::CurveCpRecord, tapsec::Udp, tapsec::crypto::OpenSsl3>;
#else
using Composition = tapsec::Secure<tapsec::CurveCpHandshake, tapsec::CurveCpRecord, tapsec::Udp, tapsec::crypto::Botan2>;
#endif
static_assert(Composition::has<tapsec::feature::CM>);
