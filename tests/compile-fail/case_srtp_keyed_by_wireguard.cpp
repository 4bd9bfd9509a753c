// SRTP imports SRTP master keys (from DTLS-SRTP or the application); WireGuard's handshake
// exports none: its session keys go to its own transport-data record only.
// expect: tapsec: the handshake exports a kind of key material that this record protocol does not import
#include <tapsec/tapsec.hpp>

#ifdef TAPSEC_EXPECT_REJECTION
using Composition = tapsec::Secure<tapsec::WireGuardHandshake, tapsec::SrtpRecord, tapsec::Udp>;
#else
using Composition = tapsec::Secure<tapsec::WireGuardHandshake, tapsec::WireGuardRecord, tapsec::Udp>;
#endif
static_assert(Composition::has<tapsec::feature::record_protection>);
