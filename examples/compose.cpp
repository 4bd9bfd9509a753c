// Compositions are types: what each offers is known at compile time, and code can
// branch on it. No network here: this is the survey's feature vocabulary at work.
#include <cstdio>

#include <tapsec/tapsec.hpp>

using Tls13 = tapsec::Secure<tapsec::Tls13Handshake, tapsec::AeadRecord, tapsec::Tcp>;
using Tls12 = tapsec::Secure<tapsec::Tls12Handshake, tapsec::Tls12Record, tapsec::Tcp>;
using WireGuard = tapsec::Secure<tapsec::WireGuardHandshake, tapsec::WireGuardRecord, tapsec::Udp>;

// Survey 5.1: every composition must have the mandatory baseline.
static_assert(Tls13::has<tapsec::feature::record_protection> && Tls13::has<tapsec::feature::forward_secrecy>);
static_assert(WireGuard::has<tapsec::feature::MA>);  // WireGuard always authenticates both peers
static_assert(!Tls12::has<tapsec::feature::ED>);     // no early data before TLS 1.3

template <class Composition>
void describe(const char* name) {
    std::printf("%-10s early data: %-3s  mutual auth: %-3s  mobility: %-3s  padding: %s\n", name,
                Composition::template has<tapsec::feature::ED> ? "yes" : "no",
                Composition::template has<tapsec::feature::MA> ? "yes" : "no",
                Composition::template has<tapsec::feature::CM> ? "yes" : "no",
                Composition::template has<tapsec::feature::LHP> ? "yes" : "no");
    // Members exist only where the feature does: this compiles for every composition.
    if constexpr (requires(Composition& c) { c.send_early_data(tapsec::ByteView{}); })
        std::printf("%-10s -> send_early_data() is available\n", name);
}

int main() {
    describe<Tls13>("TLS 1.3");
    describe<Tls12>("TLS 1.2");
    describe<WireGuard>("WireGuard");
    // Uncomment for a one-line compile error naming the missing dependency:
    // tapsec::Secure<tapsec::Tls13Handshake, tapsec::AeadRecord, tapsec::Udp> nope;
    return 0;
}
