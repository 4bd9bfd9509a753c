// Connection mobility (5.2 CM) needs a transport whose 5-tuple may change under a live
// connection; over TCP the member does not exist (the survey's "U*: on TCP").
// expect: features.has<tapsec::feature::connection_mobility>()
#include <tapsec/tapsec.hpp>

using Tls = tapsec::Secure<tapsec::Tls12Handshake, tapsec::Tls12Record, tapsec::Tcp>;
using WireGuard = tapsec::Secure<tapsec::WireGuardHandshake, tapsec::WireGuardRecord, tapsec::Udp>;

#ifdef TAPSEC_EXPECT_REJECTION
std::error_code move_to(Tls& connection, const tapsec::Endpoint& e) { return connection.migrate(e); }
#else
std::error_code move_to(WireGuard& connection, const tapsec::Endpoint& e) { return connection.migrate(e); }
static_assert(!Tls::has<tapsec::feature::CM>);
#endif
