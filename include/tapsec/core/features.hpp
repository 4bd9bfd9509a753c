// The survey's security features (draft-ietf-taps-transport-security-03,
// Sections 3, 5.1 and 5.2) as tag types.
//
// Policies declare what they provide as a Boost.Hana set of these tags (readable,
// composable metadata). Compositions fold those sets once into a 64-bit mask
// (`FeatureSet`), because set algebra on masks is free at compile time while Hana set
// intersections cost ~77 ms of compile time each (see benchmarks/instantiation).
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

#include <boost/hana/basic_tuple.hpp>
#include <boost/hana/for_each.hpp>
#include <boost/hana/set.hpp>
#include <boost/hana/type.hpp>
#include <boost/hana/unpack.hpp>

namespace tapsec {

namespace hana = boost::hana;

/// Where the survey lists a feature.
enum class FeatureGroup { mandatory_5_1, optional_5_2, other_3 };

namespace feature {

#define TAPSEC_FEATURE(Type, Bit, Code, Group, Text)                            \
    struct Type {                                                               \
        static constexpr unsigned bit = Bit;                                    \
        static constexpr std::string_view code = Code;                          \
        static constexpr FeatureGroup group = FeatureGroup::Group;              \
        static constexpr std::string_view description = Text;                   \
    }

// Section 5.2: the optional features, in the order of the 5.3 table's columns.
TAPSEC_FEATURE(algorithm_negotiation, 0, "AN", optional_5_2, "cryptographic algorithm negotiation");
TAPSEC_FEATURE(authentication_delegation, 1, "AD", optional_5_2, "application authentication delegation");
TAPSEC_FEATURE(mutual_authentication, 2, "MA", optional_5_2, "mutual authentication");
TAPSEC_FEATURE(dos_mitigation, 3, "DM", optional_5_2, "DoS mitigation");
TAPSEC_FEATURE(connection_mobility, 4, "CM", optional_5_2, "connection mobility");
TAPSEC_FEATURE(source_validation, 5, "SV", optional_5_2, "source validation");
TAPSEC_FEATURE(application_feature_negotiation, 6, "AFN", optional_5_2, "application-layer feature negotiation");
TAPSEC_FEATURE(configuration_extensions, 7, "CX", optional_5_2, "configuration extensions");
TAPSEC_FEATURE(session_caching, 8, "SC", optional_5_2, "session caching and management");
TAPSEC_FEATURE(length_hiding_padding, 9, "LHP", optional_5_2, "length-hiding padding");
TAPSEC_FEATURE(early_data, 10, "ED", optional_5_2, "early data");

// Section 5.1: the mandatory baseline.
TAPSEC_FEATURE(record_protection, 16, "ENC", mandatory_5_1, "segment or datagram encryption and authentication");
TAPSEC_FEATURE(forward_secrecy, 17, "FS", mandatory_5_1, "forward-secure key establishment");
TAPSEC_FEATURE(public_key_authentication, 18, "PK", mandatory_5_1, "public-key (raw or certificate) authentication");
TAPSEC_FEATURE(responder_authentication, 19, "UA", mandatory_5_1, "unilateral responder authentication");
TAPSEC_FEATURE(pre_shared_key, 20, "PSK", mandatory_5_1, "pre-shared key support");

// Section 3 features not listed in 5.1 or 5.2.
TAPSEC_FEATURE(session_resumption, 32, "RES", other_3, "stateful and stateless session resumption");
TAPSEC_FEATURE(partial_record_confidentiality, 33, "PRC", other_3, "partial record confidentiality");
TAPSEC_FEATURE(optional_record_integrity, 34, "ORI", other_3, "optional record integrity");
TAPSEC_FEATURE(replay_protection, 35, "RP", other_3, "record replay prevention");
TAPSEC_FEATURE(out_of_order_receipt, 36, "OOO", other_3, "out-of-order record receipt");
TAPSEC_FEATURE(rekeying, 37, "RK", other_3, "connection re-keying");

#undef TAPSEC_FEATURE

// Survey abbreviations, for code that reads like the table.
using AN = algorithm_negotiation;
using AD = authentication_delegation;
using MA = mutual_authentication;
using DM = dos_mitigation;
using CM = connection_mobility;
using SV = source_validation;
using AFN = application_feature_negotiation;
using CX = configuration_extensions;
using SC = session_caching;
using LHP = length_hiding_padding;
using ED = early_data;

/// The 5.3 table's columns, in order.
inline constexpr auto optional_columns = hana::make_basic_tuple(
    hana::type_c<AN>, hana::type_c<AD>, hana::type_c<MA>, hana::type_c<DM>, hana::type_c<CM>, hana::type_c<SV>,
    hana::type_c<AFN>, hana::type_c<CX>, hana::type_c<SC>, hana::type_c<LHP>, hana::type_c<ED>);

}  // namespace feature

template <class T>
concept Feature = requires {
    { T::bit } -> std::convertible_to<unsigned>;
    { T::code } -> std::convertible_to<std::string_view>;
};

/// The survey's availability levels (5.3): Mandatory, Supported, Unsupported.
enum class Availability : char { unsupported = 'U', supported = 'S', mandatory = 'M' };

/// A set of features as two bitmasks: everything available, and the subset that is
/// intrinsic (cannot be disabled). Constexpr throughout, so it works in static_assert
/// and if constexpr.
struct FeatureSet {
    std::uint64_t available = 0;
    std::uint64_t mandatory = 0;

    template <Feature F>
    constexpr bool has() const noexcept { return (available >> F::bit) & 1u; }
    template <Feature F>
    constexpr Availability availability() const noexcept {
        if ((mandatory >> F::bit) & 1u) return Availability::mandatory;
        return has<F>() ? Availability::supported : Availability::unsupported;
    }
    constexpr bool has_bit(unsigned bit) const noexcept { return (available >> bit) & 1u; }
    constexpr Availability availability_of_bit(unsigned bit) const noexcept {
        if ((mandatory >> bit) & 1u) return Availability::mandatory;
        return has_bit(bit) ? Availability::supported : Availability::unsupported;
    }
    constexpr FeatureSet operator|(FeatureSet o) const noexcept {
        return {available | o.available, mandatory | o.mandatory};
    }
    constexpr FeatureSet without(std::uint64_t bits) const noexcept {
        return {available & ~bits, mandatory & ~bits};
    }
    constexpr bool operator==(const FeatureSet&) const = default;
};

/// Folds a Hana set (or tuple) of feature tags into a bitmask.
template <class HanaSet>
constexpr std::uint64_t feature_mask() noexcept {
    return hana::unpack(HanaSet{}, [](auto... tags) {
        return (std::uint64_t{0} | ... | (std::uint64_t{1} << decltype(tags)::type::bit));
    });
}

template <Feature... Fs>
constexpr std::uint64_t feature_mask_of() noexcept {
    return (std::uint64_t{0} | ... | (std::uint64_t{1} << Fs::bit));
}

/// A policy's declared features: `provides` (a Hana set) and optionally `intrinsic`
/// (the subset the protocol cannot switch off, "M" in the survey's table).
template <class Policy>
constexpr FeatureSet declared_features() noexcept {
    FeatureSet set{};
    if constexpr (requires { typename Policy::provides; }) set.available = feature_mask<typename Policy::provides>();
    if constexpr (requires { typename Policy::intrinsic; }) set.mandatory = feature_mask<typename Policy::intrinsic>();
    set.available |= set.mandatory;
    return set;
}

/// Spelling helper for policies: `using provides = tapsec::features<feature::AN, ...>;`
template <Feature... Fs>
using features = decltype(hana::make_set(hana::type_c<Fs>...));

}  // namespace tapsec
