// MinimaltRecord imports MinimaLT tunnel keys (direct import, survey 6.1) from its own
// tunnel establishment only; WireGuard's handshake exports WireGuard session keys.
// expect: tapsec: the handshake exports a kind of key material that this record protocol does not import
#include <tapsec/tapsec.hpp>

#ifdef TAPSEC_EXPECT_REJECTION
using Composition = tapsec::Secure<tapsec::WireGuardHandshake, tapsec::MinimaltRecord, tapsec::Udp>;
#else
using Composition = tapsec::Secure<tapsec::MinimaltHandshake, tapsec::MinimaltRecord, tapsec::Udp>;
#endif
static_assert(Composition::has<tapsec::feature::record_protection>);
