// TAPS-style selection (include/tapsec/taps/selection.hpp): the rankings are computed
// from the compositions' real types; the expectations below are derived from those
// types' features (each premise is a static_assert), not written down from memory.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include <tapsec/tapsec.hpp>
#include <tapsec/taps/selection.hpp>

using namespace tapsec;
namespace fe = tapsec::feature;

namespace selection_test {

using Tls13 = Secure<Tls13Handshake, AeadRecord, Tcp>;
using Quic = Secure<Tls13Handshake, QuicPacketProtection, Udp>;
using Tls12 = Secure<Tls12Handshake, Tls12Record, Tcp>;
using Dtls12 = Secure<Dtls12Handshake, DtlsRecord, Udp>;
using WireGuard = Secure<WireGuardHandshake, WireGuardRecord, Udp>;

using Shipped = taps::candidates<taps::candidate<"quic", Quic>, taps::candidate<"tls13", Tls13>,
                                 taps::candidate<"tls12", Tls12>, taps::candidate<"dtls12", Dtls12>,
                                 taps::candidate<"wireguard", WireGuard>>;

// The premises the expectations rest on, read from the types.
static_assert(!Tls13::has<fe::CM> && !Tls12::has<fe::CM>,
              "CM needs a datagram transport (core/secure.hpp composition_features)");
static_assert(Quic::has<fe::out_of_order_receipt> && !Tls13::has<fe::out_of_order_receipt> &&
                  !Tls12::has<fe::out_of_order_receipt>,
              "QUIC's packets may arrive out of order; a TLS record stream may not");
static_assert(Tls13::has<fe::MA> && Quic::has<fe::MA> && Tls12::has<fe::MA>);
static_assert(taps::candidate<"q", Quic>::properties & taps::bit_of<taps::reliable_stream>,
              "QUIC's record carries a reliable stream over UDP");
static_assert(taps::candidate<"d", Dtls12>::properties & taps::bit_of<taps::datagrams>);
static_assert(taps::candidate<"w", WireGuard>::properties & taps::bit_of<taps::datagrams>);

std::vector<std::string> ranked_names(const auto& ranking, const auto& infos) {
    std::vector<std::string> out;
    for (std::size_t i = 0; i < ranking.admitted; ++i) out.emplace_back(infos[ranking.order[i].candidate].name);
    return out;
}


TEST_CASE("selection: require MA and a stream, prefer OOO: QUIC ranks first, the datagram ones are excluded") {
    using Choice = taps::Selection<
        taps::properties<taps::require<fe::MA>, taps::require<taps::reliable_stream>, taps::prefer<fe::out_of_order_receipt>>,
        Shipped>;
    // Streams with MA: quic, tls13, tls12. Of those only quic has OOO; the others tie and keep list order.
    static_assert(Choice::admitted == 3);
    static_assert(taps::best<Choice>::name == "quic");
    static_assert(std::is_same_v<taps::best<Choice>::secure_type, Quic>);
    CHECK(ranked_names(Choice::ranking, Shipped::infos) == std::vector<std::string>{"quic", "tls13", "tls12"});
    for (std::size_t i = Choice::admitted; i < Choice::size; ++i) {
        const auto& v = Choice::ranking.order[i];
        CHECK(v.exclusion == taps::Exclusion::lacks_required);
        // dtls12 and wireguard have MA or not, but they are datagram services.
        const bool has_ma = (Shipped::infos[v.candidate].properties >> fe::MA::bit) & 1u;
        CHECK(v.property_bit == (has_ma ? taps::reliable_stream::bit : fe::MA::bit));
    }
}

TEST_CASE("selection: prefer orders by how many preferred properties, avoid breaks ties, the list order breaks the rest") {
    // Every candidate admitted (no requirement); preferred count first.
    using ByCm = taps::Selection<taps::properties<taps::prefer<fe::CM>>, Shipped>;
    static_assert(ByCm::admitted == Shipped::size);
    // Check the order against the definition, from the features themselves.
    for (std::size_t i = 1; i < ByCm::admitted; ++i) {
        const auto& a = ByCm::ranking.order[i - 1];
        const auto& b = ByCm::ranking.order[i];
        CHECK(a.preferred_met >= b.preferred_met);
        if (a.preferred_met == b.preferred_met && a.avoided_met == b.avoided_met) CHECK(a.candidate < b.candidate);
    }
    // The candidates with CM are exactly those ranked ahead of the ones without.
    for (std::size_t i = 0; i < ByCm::admitted; ++i) {
        const auto& v = ByCm::ranking.order[i];
        const bool has_cm = (Shipped::infos[v.candidate].properties >> fe::CM::bit) & 1u;
        CHECK(v.preferred_met == (has_cm ? 1u : 0u));
    }
    // Avoiding OOO turns the first test round: among equals (nothing preferred) the ones without it lead.
    using AvoidOoo = taps::Selection<
        taps::properties<taps::avoid<fe::out_of_order_receipt>, taps::require<taps::reliable_stream>>, Shipped>;
    CHECK(ranked_names(AvoidOoo::ranking, Shipped::infos) == std::vector<std::string>{"tls13", "tls12", "quic"});
}

TEST_CASE("selection: prohibit filters, and names the property that excluded each candidate") {
    // Both pad (LHP: TLS 1.3 records, QUIC 1-RTT datagrams with Settings::pad_to), so
    // padding does not tell them apart; connection mobility does (QUIC over UDP only).
    static_assert(Tls13::has<fe::LHP> && Quic::has<fe::LHP>);
    static_assert(Quic::has<fe::CM> && !Tls13::has<fe::CM>);
    using Pinned = taps::Selection<taps::properties<taps::prohibit<fe::CM>, taps::require<taps::reliable_stream>>,
                                   taps::candidates<taps::candidate<"quic", Quic>, taps::candidate<"tls13", Tls13>>>;
    static_assert(Pinned::admitted == 1);
    static_assert(taps::best<Pinned>::name == "tls13");
    const auto& excluded = Pinned::ranking.order[1];
    CHECK(excluded.candidate == 0);
    CHECK(excluded.exclusion == taps::Exclusion::has_prohibited);
    CHECK(excluded.property_bit == fe::CM::bit);
    // Prohibiting padding now leaves neither.
    static_assert(!taps::Satisfiable<taps::properties<taps::prohibit<fe::LHP>, taps::require<taps::reliable_stream>>,
                                     taps::candidates<taps::candidate<"tls13", Tls13>, taps::candidate<"quic", Quic>>>);
    // Both carry 0-RTT (QUIC's in 0-RTT packets): prohibiting early data leaves neither
    // (a Selection of it would not compile; the concept asks without failing).
    static_assert(Tls13::has<fe::ED> && Quic::has<fe::ED>);
    static_assert(!taps::Satisfiable<taps::properties<taps::prohibit<fe::ED>, taps::require<taps::reliable_stream>>,
                                     taps::candidates<taps::candidate<"tls13", Tls13>, taps::candidate<"quic", Quic>>>);
}

TEST_CASE("selection: the constexpr ranking on plain data agrees with the compile-time one (as `tapsec select` uses it)") {
    taps::Criteria criteria;
    criteria.add(taps::Level::require, taps::bit_of<fe::MA>).add(taps::Level::prefer, taps::bit_of<fe::CM>);
    const auto runtime = taps::rank(Shipped::infos, criteria);
    using Same = taps::Selection<taps::properties<taps::require<fe::MA>, taps::prefer<fe::CM>>, Shipped>;
    REQUIRE(runtime.admitted == Same::admitted);
    for (std::size_t i = 0; i < Shipped::size; ++i) {
        CHECK(runtime.order[i].candidate == Same::ranking.order[i].candidate);
        CHECK(runtime.order[i].exclusion == Same::ranking.order[i].exclusion);
    }
    CHECK(taps::first_unoffered_requirement(Shipped::infos, criteria) == 64);
    criteria.add(taps::Level::require, taps::bit_of<fe::LHP>).add(taps::Level::require, taps::bit_of<taps::datagrams>);
    // Some datagram candidate may pad; the unmet one is then the combination, not one property.
    const auto offered = [&](unsigned bit) {
        for (const auto& c : Shipped::infos)
            if ((c.properties >> bit) & 1u) return true;
        return false;
    };
    const unsigned unmet = taps::first_unoffered_requirement(Shipped::infos, criteria);
    CHECK(unmet == (offered(fe::LHP::bit) ? 64u : fe::LHP::bit));
}

}  // namespace selection_test
