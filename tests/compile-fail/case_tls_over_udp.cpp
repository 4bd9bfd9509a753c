// TLS needs a reliable, in-order byte stream (survey 4.1.3); over UDP it would be DTLS.
// expect: tapsec: this handshake needs a reliable, in-order byte stream (survey 4.x.3), but the transport is a datagram service
#include <tapsec/tapsec.hpp>

#ifdef TAPSEC_EXPECT_REJECTION
using Composition = tapsec::Secure<tapsec::Tls13Handshake, tapsec::AeadRecord, tapsec::Udp>;
#else
using Composition = tapsec::Secure<tapsec::Tls13Handshake, tapsec::AeadRecord, tapsec::Tcp>;
#endif
static_assert(Composition::has<tapsec::feature::ED>);
