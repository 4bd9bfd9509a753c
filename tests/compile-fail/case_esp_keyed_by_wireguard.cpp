// ESP imports Child SA keys (esp::ChildSaKeys) that IKEv2 exports through KEYMAT;
// WireGuard's handshake exports none: its session keys go to its own record only.
// expect: tapsec: the handshake exports a kind of key material that this record protocol does not import
#include <tapsec/tapsec.hpp>

#ifdef TAPSEC_EXPECT_REJECTION
using Composition = tapsec::Secure<tapsec::WireGuardHandshake, tapsec::EspRecord, tapsec::Udp>;
#else
using Composition = tapsec::Secure<tapsec::Ikev2Handshake, tapsec::EspRecord, tapsec::Udp>;
#endif
static_assert(Composition::has<tapsec::feature::record_protection>);
