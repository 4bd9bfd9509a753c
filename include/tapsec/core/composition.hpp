// The composition rules of Secure<H, R, T, Crypto>, written once.
//
// TAPSEC_COMPOSITION_RULES is the one list: each entry names a rule (a predicate in
// namespace rules, defined once below) and its one-line diagnostic. From that list
// come both the `Composable` concept and the static_asserts in Secure<>, so the two
// cannot disagree. Rules are checked in list order and each may assume that every
// rule before it holds (the concept and the diagnostics stop at the first broken
// rule), so a predicate never needs to guard against what an earlier rule reports,
// and a broken composition produces exactly one error line.
//
// Rules that concern a policy are written for the handshake (H) and the record (R)
// alike wherever a policy of either kind may declare the property.
#pragma once

#include <concepts>
#include <cstddef>
#include <iterator>
#include <type_traits>

#include "../crypto/provider.hpp"
#include "dependencies.hpp"
#include "compiled_engine.hpp"
#include "engine.hpp"

namespace tapsec {

/// The list: RULE(name, "diagnostic"). Order matters (see above); the diagnostic is
/// what a user reads, so it names the survey section the rule comes from.
#define TAPSEC_COMPOSITION_RULES(RULE)                                                                                \
    RULE(handshake_is_policy,                                                                                          \
         "Secure<H, R, T>: H is not a handshake policy (needs name, provides, Config derived from CommonConfig)")     \
    RULE(record_is_policy, "Secure<H, R, T>: R is not a record policy (needs name and provides)")                     \
    RULE(transport_is_transport,                                                                                       \
         "Secure<H, R, T>: T is not a transport (neither a reliable byte stream nor a datagram service)")             \
    RULE(provider_is_complete,                                                                                         \
         "Secure<H, R, T, C>: C is an incomplete type: include its header (the default, crypto::Botan2, is "          \
         "<tapsec/crypto/botan.hpp>)")                                                                                 \
    RULE(provider_is_provider, "Secure<H, R, T, C>: C is not a crypto provider")                                       \
    RULE(handshake_has_key_interface,                                                                                  \
         "the handshake declares no key interface (exported_keys and key_export, survey 6.3): no record can use its " \
         "keys")                                                                                                       \
    RULE(record_has_key_interface,                                                                                     \
         "the record protocol declares no key interface (imported_keys and key_import, survey 6.1): no handshake "    \
         "can key it")                                                                                                 \
    RULE(handshake_stream_met,                                                                                         \
         "this handshake needs a reliable, in-order byte stream (survey 4.x.3), but the transport is a datagram "     \
         "service")                                                                                                    \
    RULE(record_stream_met,                                                                                            \
         "this record protocol needs a reliable, in-order byte stream (survey 4.x.3), but the transport is a "        \
         "datagram service")                                                                                           \
    RULE(handshake_datagram_met,                                                                                       \
         "this handshake needs a datagram transport (survey 4.x.3), but the transport is a byte stream")              \
    RULE(record_datagram_met,                                                                                          \
         "this record protocol needs a datagram transport (survey 4.x.3), but the transport is a byte stream")        \
    RULE(handshake_option_negotiation_met,                                                                             \
         "this handshake needs TCP option negotiation (TCP-ENO, survey 4.6.3), which the transport does not offer")   \
    RULE(record_option_negotiation_met,                                                                                \
         "this record protocol needs TCP option negotiation (TCP-ENO, survey 4.6.3), which the transport does not "   \
         "offer")                                                                                                      \
    RULE(handshake_pki_met,                                                                                            \
         "this handshake needs a PKI trust store (X.509 path validation), which the crypto provider does not offer")  \
    RULE(record_pki_met,                                                                                               \
         "this record protocol needs a PKI trust store (X.509 path validation), which the crypto provider does not "  \
         "offer")                                                                                                      \
    RULE(handshake_runs_on_provider,                                                                                   \
         "this handshake does not run on the given crypto provider (its runs_on<Crypto> is false): name a provider "  \
         "it runs on")                                                                                                 \
    RULE(record_runs_on_provider,                                                                                      \
         "this record protocol does not run on the given crypto provider (its runs_on<Crypto> is false): name a "     \
         "provider it runs on")                                                                                        \
    RULE(keys_same_kind,                                                                                               \
         "the handshake exports a kind of key material that this record protocol does not import")                    \
    RULE(non_exportable_stays_inside,                                                                                  \
         "the handshake's keys are non-exportable (survey 6.3): only its own record protocol can use them")           \
    RULE(non_importable_stays_inside,                                                                                  \
         "the record protocol's keys are non-importable (survey 6.1): only its own handshake can key it")             \
    RULE(explicit_import_needs_explicit_export,                                                                        \
         "the record protocol imports keys explicitly, but the handshake only exports directly to its own record "    \
         "(survey 6.3)")                                                                                               \
    RULE(engine_is_sans_io,                                                                                            \
         "H::engine<R, Crypto> is missing, or is not a SansIoEngine constructible from (Role, const H::Config&) "     \
         "(core/engine.hpp)")

/// The rule's predicates, one per entry of the list, same names. Each may assume that
/// every rule listed before it holds.
namespace rules {

/// Separate compilation (core/compiled_engine.hpp): in a program's translation unit the
/// provider of a composition that tapsec::compiled ships is an incomplete type, so the
/// rules about it (and about the engine built on it) are checked by the library, where
/// the provider is complete (InLibrary = true, compiled_engine_impl.hpp).
template <class H, class R, class C, bool InLibrary>
constexpr bool checked_in_library() {
    return compiled_composition<H, R, C> && !InLibrary;
}

template <class H, class R, class T, class C, bool InLibrary = false>
constexpr bool handshake_is_policy() {
    return HandshakeDescription<H>;
}
template <class H, class R, class T, class C, bool InLibrary = false>
constexpr bool record_is_policy() {
    return RecordDescription<R>;
}
template <class H, class R, class T, class C, bool InLibrary = false>
constexpr bool transport_is_transport() {
    return Transport<T>;
}
template <class H, class R, class T, class C, bool InLibrary = false>
constexpr bool provider_is_complete() {
    if constexpr (checked_in_library<H, R, C, InLibrary>()) return true;
    else {
        return requires { sizeof(C); };
    }
}
template <class H, class R, class T, class C, bool InLibrary = false>
constexpr bool provider_is_provider() {
    if constexpr (checked_in_library<H, R, C, InLibrary>()) return true;
    else {
        return crypto::CryptoProvider<C>;
    }
}
template <class H, class R, class T, class C, bool InLibrary = false>
constexpr bool handshake_has_key_interface() {
    return HandshakeKeyInterface<H>;
}
template <class H, class R, class T, class C, bool InLibrary = false>
constexpr bool record_has_key_interface() {
    return RecordKeyInterface<R>;
}

template <class H, class R, class T, class C, bool InLibrary = false>
constexpr bool handshake_stream_met() {
    return !needs<H, dependency::reliable_byte_stream>() || ReliableByteStream<T> ||
           carries<R, dependency::reliable_byte_stream>();
}
template <class H, class R, class T, class C, bool InLibrary = false>
constexpr bool record_stream_met() {
    return !needs<R, dependency::reliable_byte_stream>() || ReliableByteStream<T>;
}
template <class H, class R, class T, class C, bool InLibrary = false>
constexpr bool handshake_datagram_met() {
    return !needs<H, dependency::datagram>() || DatagramTransport<T>;
}
template <class H, class R, class T, class C, bool InLibrary = false>
constexpr bool record_datagram_met() {
    return !needs<R, dependency::datagram>() || DatagramTransport<T>;
}
template <class H, class R, class T, class C, bool InLibrary = false>
constexpr bool handshake_option_negotiation_met() {
    return !needs<H, dependency::tcp_option_negotiation>() || TcpWithOptionNegotiation<T>;
}
template <class H, class R, class T, class C, bool InLibrary = false>
constexpr bool record_option_negotiation_met() {
    return !needs<R, dependency::tcp_option_negotiation>() || TcpWithOptionNegotiation<T>;
}
template <class H, class R, class T, class C, bool InLibrary = false>
constexpr bool handshake_pki_met() {
    if constexpr (checked_in_library<H, R, C, InLibrary>()) return true;
    else {
        return !needs<H, dependency::pki_trust_store>() || crypto::PkiProvider<C>;
    }
}
template <class H, class R, class T, class C, bool InLibrary = false>
constexpr bool record_pki_met() {
    if constexpr (checked_in_library<H, R, C, InLibrary>()) return true;
    else {
        return !needs<R, dependency::pki_trust_store>() || crypto::PkiProvider<C>;
    }
}
template <class H, class R, class T, class C, bool InLibrary = false>
constexpr bool handshake_runs_on_provider() {
    if constexpr (checked_in_library<H, R, C, InLibrary>()) return true;
    else {
        return runs_on<H, C>();
    }
}
template <class H, class R, class T, class C, bool InLibrary = false>
constexpr bool record_runs_on_provider() {
    if constexpr (checked_in_library<H, R, C, InLibrary>()) return true;
    else {
        return runs_on<R, C>();
    }
}

template <class H, class R, class T, class C, bool InLibrary = false>
constexpr bool keys_same_kind() {
    return std::is_same_v<typename H::exported_keys, typename R::imported_keys>;
}
template <class H, class R, class T, class C, bool InLibrary = false>
constexpr bool non_exportable_stays_inside() {
    return H::key_export != KeyExport::non_exportable || R::key_import == KeyImport::non_importable;
}
template <class H, class R, class T, class C, bool InLibrary = false>
constexpr bool non_importable_stays_inside() {
    return R::key_import != KeyImport::non_importable || H::key_export == KeyExport::non_exportable;
}
template <class H, class R, class T, class C, bool InLibrary = false>
constexpr bool explicit_import_needs_explicit_export() {
    return R::key_import != KeyImport::explicit_import || H::key_export == KeyExport::explicit_export;
}

template <class H, class R, class T, class C, bool InLibrary = false>
constexpr bool engine_is_sans_io() {
    if constexpr (checked_in_library<H, R, C, InLibrary>()) return true;
    else {
        if constexpr (requires { typename H::template engine<R, C>; }) {
            using E = typename H::template engine<R, C>;
            return SansIoEngine<E> && std::constructible_from<E, Role, const typename H::Config&>;
        } else {
            return false;
        }
    }
}

/// Rule identifiers, in list order; `none` when every rule holds.
enum class Id {
#define TAPSEC_RULE_ID(rule, message) rule,
    TAPSEC_COMPOSITION_RULES(TAPSEC_RULE_ID)
#undef TAPSEC_RULE_ID
    none
};

/// The first rule the composition breaks. The else-chain instantiates a predicate
/// only when all earlier ones hold, which is what lets each predicate assume them.
template <class H, class R, class T, class C, bool InLibrary = false>
constexpr Id first_broken() {
#define TAPSEC_RULE_CHECK(rule, message) \
    if constexpr (!rules::rule<H, R, T, C, InLibrary>()) return Id::rule; else
    TAPSEC_COMPOSITION_RULES(TAPSEC_RULE_CHECK)
#undef TAPSEC_RULE_CHECK
    return Id::none;
}

/// Every rule's one-line diagnostic, by id (for tests and tools that list the rules).
inline constexpr const char* diagnostics[] = {
#define TAPSEC_RULE_TEXT(rule, message) "tapsec: " message,
    TAPSEC_COMPOSITION_RULES(TAPSEC_RULE_TEXT)
#undef TAPSEC_RULE_TEXT
};
inline constexpr std::size_t count = static_cast<std::size_t>(Id::none);
static_assert(std::size(diagnostics) == count);

}  // namespace rules

/// Whether H, R, T and Crypto fit together: every rule of the list holds. Usable in
/// requires-clauses; Secure<> reports the first broken rule by its diagnostic.
template <class H, class R, class T, class Crypto = crypto::DefaultProvider>
concept Composable = rules::first_broken<H, R, T, Crypto>() == rules::Id::none;

/// Keys can flow from H to R: both declare their key interface, speak of the same kind
/// of key, and the 6.1 / 6.3 interfaces allow it (the key rules of the list).
template <class H, class R>
concept KeysFlowFromHandshakeToRecord =
    HandshakePolicy<H> && RecordPolicy<R> && rules::keys_same_kind<H, R, void, void>() &&
    rules::non_exportable_stays_inside<H, R, void, void>() && rules::non_importable_stays_inside<H, R, void, void>() &&
    rules::explicit_import_needs_explicit_export<H, R, void, void>();

/// One static_assert per rule, each firing only for the first broken rule, with the
/// rule's diagnostic. Expands inside a class template with H, R, T and `broken_rule`.
#define TAPSEC_COMPOSITION_ASSERTS()                                                   \
    TAPSEC_COMPOSITION_RULES(TAPSEC_COMPOSITION_ASSERT_ONE)
#define TAPSEC_COMPOSITION_ASSERT_ONE(rule, message) \
    static_assert(broken_rule != ::tapsec::rules::Id::rule, "tapsec: " message);

}  // namespace tapsec
