// The last rule: the handshake's engine for this record and provider must satisfy the
// sans-I/O contract (core/engine.hpp) that Secure<> drives.
// expect: tapsec: H::engine<R, Crypto> is missing, or is not a SansIoEngine constructible from (Role, const H::Config&) (core/engine.hpp)
#include "fixtures.hpp"

#ifdef TAPSEC_EXPECT_REJECTION
using Composition = tapsec::Secure<fixture::HandshakeWithoutEngine, fixture::EnoRecord, fixture::TcpWithEno>;
#else
using Composition = tapsec::Secure<fixture::EnoHandshake, fixture::EnoRecord, fixture::TcpWithEno>;
#endif
static_assert(Composition::has<tapsec::feature::forward_secrecy>);
