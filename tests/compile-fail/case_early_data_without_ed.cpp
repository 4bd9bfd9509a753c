// Early data (5.2 ED) exists only where the composition offers it; WireGuard has none.
// expect: features.has<tapsec::feature::early_data>()
#include <tapsec/tapsec.hpp>

using WireGuard = tapsec::Secure<tapsec::WireGuardHandshake, tapsec::WireGuardRecord, tapsec::Udp>;
static_assert(!WireGuard::has<tapsec::feature::ED>);

template <class Connection>
concept CanSendEarly = requires(Connection& c) { c.send_early_data(tapsec::ByteView{}); };

#ifdef TAPSEC_EXPECT_REJECTION
std::error_code early(WireGuard& connection) { return connection.send_early_data(tapsec::as_bytes("GET /")); }
#else
static_assert(!CanSendEarly<WireGuard>, "the member must be absent, not merely failing");
#endif
