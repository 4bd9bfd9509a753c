// TAPS-style protocol selection (RFC 9622 Section 6.2, "Selection Properties"), with the
// survey's security features (draft-ietf-taps-transport-security-03, Section 5) as the
// properties. An application states what it requires, prefers, avoids and prohibits;
// a candidate list of compositions is filtered and ranked from the compositions' own
// types (Secure<...>::features), so the ranking cannot drift from what the code offers.
//
//   using Choice = taps::Selection<
//       taps::properties<taps::require<feature::MA>, taps::prefer<feature::CM>, taps::require<taps::reliable_stream>>,
//       taps::candidates<taps::candidate<"quic", Secure<Tls13Handshake, QuicPacketProtection, Udp>>,
//                        taps::candidate<"tls13", Secure<Tls13Handshake, AeadRecord, Tcp>>>>;
//
// Semantics (RFC 9622 6.2): require and prohibit filter; the rest are ordered by the
// number of preferred properties they offer (more first), then by the number of avoided
// ones (fewer first); ties keep the candidate list's order. A required property that no
// candidate offers is a compile error naming it (one line).
//
// The ranking itself is constexpr over plain data (CandidateInfo, Criteria), so the
// `tapsec select` command ranks the same way from the same types at run time.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <type_traits>
#include <utility>

#include "../core/dependencies.hpp"
#include "../core/features.hpp"

namespace tapsec::taps {

// ---- properties ----------------------------------------------------------------------
// Every survey feature (core/features.hpp) is a property; so are the two transport
// services an application may ask for. They use bits no feature uses, so a candidate's
// properties are one 64-bit mask.

/// The composition gives the application a reliable, in-order byte stream: its transport
/// is one (TLS over TCP), or its record carries one over datagrams (QUIC's streams).
struct reliable_stream {
    static constexpr unsigned bit = 62;
    static constexpr std::string_view code = "stream";
    static constexpr std::string_view description = "reliable in-order byte stream";
};
/// The composition gives the application messages that may be lost or reordered.
struct datagrams {
    static constexpr unsigned bit = 63;
    static constexpr std::string_view code = "datagram";
    static constexpr std::string_view description = "unreliable datagrams";
};

template <class P>
concept Property = Feature<P> && P::bit < 64;

template <Property P>
inline constexpr std::uint64_t bit_of = std::uint64_t{1} << P::bit;

/// A property's name, for parsing and printing (`tapsec select --require MA`).
struct PropertyName {
    std::string_view code;
    unsigned bit;
    std::string_view description;
};
template <Property... Ps>
constexpr std::array<PropertyName, sizeof...(Ps)> names_of() noexcept {
    return {PropertyName{Ps::code, Ps::bit, Ps::description}...};
}
/// Every property an application can state: the survey's features and the two services.
inline constexpr auto property_names = names_of<
    feature::AN, feature::AD, feature::MA, feature::DM, feature::CM, feature::SV, feature::AFN, feature::CX,
    feature::SC, feature::LHP, feature::ED, feature::record_protection, feature::forward_secrecy,
    feature::public_key_authentication, feature::responder_authentication, feature::pre_shared_key,
    feature::session_resumption, feature::partial_record_confidentiality, feature::optional_record_integrity,
    feature::replay_protection, feature::out_of_order_receipt, feature::rekeying, reliable_stream, datagrams>();

/// The name of the property at `bit` ("MA"), or "?".
constexpr PropertyName property_name(unsigned bit) noexcept {
    for (const auto& p : property_names)
        if (p.bit == bit) return p;
    return {"?", bit, "unknown property"};
}

/// RFC 9622 7.1's preference levels, minus "No Preference" (leave the property out).
enum class Level { require, prefer, avoid, prohibit };

template <Property P>
struct require { using property = P; static constexpr Level level = Level::require; };
template <Property P>
struct prefer { using property = P; static constexpr Level level = Level::prefer; };
template <Property P>
struct avoid { using property = P; static constexpr Level level = Level::avoid; };
template <Property P>
struct prohibit { using property = P; static constexpr Level level = Level::prohibit; };

template <class S>
concept SelectionProperty = requires {
    typename S::property;
    { S::level } -> std::convertible_to<Level>;
};

/// The application's stated properties, as four masks (one bit per property).
struct Criteria {
    std::uint64_t required = 0, preferred = 0, avoided = 0, prohibited = 0;

    constexpr Criteria& add(Level level, std::uint64_t bits) noexcept {
        switch (level) {
            case Level::require: required |= bits; break;
            case Level::prefer: preferred |= bits; break;
            case Level::avoid: avoided |= bits; break;
            case Level::prohibit: prohibited |= bits; break;
        }
        return *this;
    }
};

template <SelectionProperty... Ps>
struct properties {
    static constexpr Criteria criteria = [] {
        Criteria c;
        (c.add(Ps::level, bit_of<typename Ps::property>), ...);
        return c;
    }();
};

// ---- candidates ----------------------------------------------------------------------

/// A compile-time string, so a candidate's name can be a template argument.
template <std::size_t N>
struct fixed_string {
    char text[N]{};
    constexpr fixed_string(const char (&s)[N]) { std::copy_n(s, N, text); }
    constexpr std::string_view view() const { return {text, N - 1}; }
};

/// The service bit a composition gives the application (reliable_stream or datagrams).
template <class S>
constexpr std::uint64_t service_of() noexcept {
    using T = typename S::transport_type;
    using R = typename S::record_type;
    if constexpr (offers<T, dependency::reliable_byte_stream>() || carries<R, dependency::reliable_byte_stream>())
        return bit_of<reliable_stream>;
    else if constexpr (offers<T, dependency::datagram>())
        return bit_of<datagrams>;
    else
        return 0;
}

/// Everything the ranking looks at, for one candidate.
struct CandidateInfo {
    std::string_view name;
    std::uint64_t properties = 0;  // available features | service bit
};

/// One named composition: `candidate<"tls13", Secure<Tls13Handshake, AeadRecord, Tcp>>`.
template <fixed_string Name, class S>
struct candidate {
    static constexpr std::string_view name = Name.view();
    using secure_type = S;
    static constexpr std::uint64_t properties = S::features.available | service_of<S>();
    static constexpr CandidateInfo info{name, properties};
};

template <class... Cs>
struct candidates {
    static constexpr std::size_t size = sizeof...(Cs);
    static constexpr std::array<CandidateInfo, sizeof...(Cs)> infos{Cs::info...};
};

// ---- the ranking (constexpr, plain data) ----------------------------------------------

/// Why a candidate was left out: the first property (lowest bit) that excluded it.
enum class Exclusion { none, lacks_required, has_prohibited };

struct Verdict {
    std::size_t candidate = 0;  // index in the candidate list
    Exclusion exclusion = Exclusion::none;
    unsigned property_bit = 0;  // with exclusion: the property that excluded it
    unsigned preferred_met = 0, avoided_met = 0;
};

inline constexpr unsigned lowest_bit(std::uint64_t bits) noexcept {
    unsigned i = 0;
    while (i < 63 && !((bits >> i) & 1u)) ++i;
    return i;
}
inline constexpr unsigned count_bits(std::uint64_t bits) noexcept {
    unsigned n = 0;
    for (; bits; bits &= bits - 1) ++n;
    return n;
}

/// The verdict on one candidate.
constexpr Verdict judge(std::size_t index, const CandidateInfo& c, const Criteria& wanted) noexcept {
    Verdict v;
    v.candidate = index;
    if (const auto missing = wanted.required & ~c.properties) {
        v.exclusion = Exclusion::lacks_required;
        v.property_bit = lowest_bit(missing);
    } else if (const auto forbidden = wanted.prohibited & c.properties) {
        v.exclusion = Exclusion::has_prohibited;
        v.property_bit = lowest_bit(forbidden);
    }
    v.preferred_met = count_bits(wanted.preferred & c.properties);
    v.avoided_met = count_bits(wanted.avoided & c.properties);
    return v;
}

/// True when `a` ranks before `b` (both admitted): more preferred, then fewer avoided.
/// Equal ones keep the list order (the sort below is stable).
constexpr bool ranks_before(const Verdict& a, const Verdict& b) noexcept {
    if (a.preferred_met != b.preferred_met) return a.preferred_met > b.preferred_met;
    return a.avoided_met < b.avoided_met;
}

/// Every candidate's verdict: the admitted ones first, in rank order, then the
/// excluded ones in list order. `admitted` says how many lead.
template <std::size_t N>
struct Ranking {
    std::array<Verdict, N> order{};
    std::size_t admitted = 0;
};

template <std::size_t N>
constexpr Ranking<N> rank(const std::array<CandidateInfo, N>& list, const Criteria& wanted) noexcept {
    Ranking<N> r;
    std::size_t next = 0;
    for (std::size_t i = 0; i < N; ++i)  // admitted, in list order
        if (auto v = judge(i, list[i], wanted); v.exclusion == Exclusion::none) r.order[next++] = v;
    r.admitted = next;
    for (std::size_t i = 0; i < N; ++i)
        if (auto v = judge(i, list[i], wanted); v.exclusion != Exclusion::none) r.order[next++] = v;
    // Insertion sort of the admitted prefix: stable, and constexpr without <algorithm>'s
    // stable_sort (which is not constexpr in C++20).
    for (std::size_t i = 1; i < r.admitted; ++i)
        for (std::size_t j = i; j > 0 && ranks_before(r.order[j], r.order[j - 1]); --j) std::swap(r.order[j], r.order[j - 1]);
    return r;
}

/// The first required property (lowest bit) that no candidate offers, or 64 when each
/// is offered by some candidate.
template <std::size_t N>
constexpr unsigned first_unoffered_requirement(const std::array<CandidateInfo, N>& list, const Criteria& wanted) noexcept {
    std::uint64_t offered = 0;
    for (const auto& c : list) offered |= c.properties;
    const auto missing = wanted.required & ~offered;
    return missing ? lowest_bit(missing) : 64;
}

// ---- the compile-time selection -------------------------------------------------------

namespace detail {
template <std::size_t I, class List>
struct nth;
template <std::size_t I, class C, class... Cs>
struct nth<I, candidates<C, Cs...>> : nth<I - 1, candidates<Cs...>> {};
template <class C, class... Cs>
struct nth<0, candidates<C, Cs...>> { using type = C; };
}  // namespace detail

/// A selection whose every required property some candidate offers, and which some
/// candidate meets as a whole.
template <class Props, class List>
concept Satisfiable = rank(List::infos, Props::criteria).admitted > 0;

// One static_assert per property, so the diagnostic is a literal naming it (C++20 has
// no computed static_assert messages); only the one for the unmet property can fire.
#define TAPSEC_TAPS_UNMET(Property)                                                              \
    static_assert(unmet_requirement != Property::bit,                                            \
                  "tapsec: selection: no candidate composition offers the required property " \
                  #Property);
#define TAPSEC_TAPS_ASSERT_REQUIREMENTS()                                                        \
    TAPSEC_TAPS_UNMET(feature::AN) TAPSEC_TAPS_UNMET(feature::AD) TAPSEC_TAPS_UNMET(feature::MA) \
    TAPSEC_TAPS_UNMET(feature::DM) TAPSEC_TAPS_UNMET(feature::CM) TAPSEC_TAPS_UNMET(feature::SV) \
    TAPSEC_TAPS_UNMET(feature::AFN) TAPSEC_TAPS_UNMET(feature::CX) TAPSEC_TAPS_UNMET(feature::SC) \
    TAPSEC_TAPS_UNMET(feature::LHP) TAPSEC_TAPS_UNMET(feature::ED)                                \
    TAPSEC_TAPS_UNMET(feature::record_protection) TAPSEC_TAPS_UNMET(feature::forward_secrecy)    \
    TAPSEC_TAPS_UNMET(feature::public_key_authentication)                                        \
    TAPSEC_TAPS_UNMET(feature::responder_authentication) TAPSEC_TAPS_UNMET(feature::pre_shared_key) \
    TAPSEC_TAPS_UNMET(feature::session_resumption)                                               \
    TAPSEC_TAPS_UNMET(feature::partial_record_confidentiality)                                   \
    TAPSEC_TAPS_UNMET(feature::optional_record_integrity)                                        \
    TAPSEC_TAPS_UNMET(feature::replay_protection) TAPSEC_TAPS_UNMET(feature::out_of_order_receipt) \
    TAPSEC_TAPS_UNMET(feature::rekeying) TAPSEC_TAPS_UNMET(reliable_stream) TAPSEC_TAPS_UNMET(datagrams)

/// The ranking of `List` (taps::candidates<...>) under `Props` (taps::properties<...>).
template <class Props, class List>
class Selection {
    static constexpr unsigned unmet_requirement = first_unoffered_requirement(List::infos, Props::criteria);
    TAPSEC_TAPS_ASSERT_REQUIREMENTS()
    // Each requirement alone is met somewhere, but no one candidate meets them all (or a
    // prohibition removes the ones that do).
    static_assert(unmet_requirement != 64 || Satisfiable<Props, List>,
                  "tapsec: selection: no single candidate composition meets all the required and prohibited properties together");

public:
    static constexpr Criteria criteria = Props::criteria;
    static constexpr auto ranking = rank(List::infos, Props::criteria);
    static constexpr std::size_t admitted = ranking.admitted;
    static constexpr std::size_t size = List::size;
    using candidate_list = List;

    /// The candidate at rank `Rank` (0 = the best; below `admitted`).
    template <std::size_t Rank>
    using ranked = typename detail::nth<ranking.order[Rank].candidate, List>::type;
};

/// The best candidate of a Selection.
template <class Sel>
using best = typename Sel::template ranked<0>;

#undef TAPSEC_TAPS_ASSERT_REQUIREMENTS
#undef TAPSEC_TAPS_UNMET

}  // namespace tapsec::taps
