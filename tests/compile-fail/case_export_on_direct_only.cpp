// Keying-material export (survey 6.3 explicit export) exists only where the handshake
// exports explicitly. WireGuard's keys go directly to its record: no such member.
// expect: requires (H::key_export) == tapsec::KeyExport::explicit_export
#include <tapsec/tapsec.hpp>

using WireGuard = tapsec::Secure<tapsec::WireGuardHandshake, tapsec::WireGuardRecord, tapsec::Udp>;

template <class Connection>
concept CanExport = requires(const Connection& c) { c.export_keying_material("label", tapsec::ByteView{}, 32); };

#ifdef TAPSEC_EXPECT_REJECTION
tapsec::Result<tapsec::SecretBytes> exporter(const WireGuard& connection) {
    return connection.export_keying_material("EXPORTER-test", {}, 32);
}
#else
static_assert(!CanExport<WireGuard>, "the member must be absent, not merely failing");
#endif
