// Secure<Tls12Handshake, Tls12Record, Tcp>: TLS 1.2 (RFC 5246) through Botan 2's
// TLS stack. The handshake and the record layer are both Botan's; these two policy
// types state, as compile-time data, what that stack offers (survey 4.1) and let the
// composition be checked like any other.
#pragma once

#include "../botan_tls/channel.hpp"
#include "../core/dependencies.hpp"
#include "../core/features.hpp"

namespace tapsec {

struct Tls12Handshake {
    static constexpr std::string_view name = "TLS 1.2 handshake (Botan)";
    // What works here, each with a test (tests/unit/tls12_*.cpp, tests/interop/tls12_*.cpp):
    // AN suites/groups negotiated from Config; AD validate_peer with delegate_authentication;
    // MA client certificates; AFN ALPN (RFC 7301); SC session cache (6.1) with
    // resumption by session id or ticket. SV is the TCP handshake's, which TLS needs.
    using provides = features<feature::AN, feature::AD, feature::MA, feature::AFN, feature::SC,
                              feature::forward_secrecy, feature::public_key_authentication,
                              feature::responder_authentication, feature::session_resumption>;
    using intrinsic = features<feature::SV>;
    using needs = dependencies<dependency::reliable_byte_stream, dependency::pki_trust_store>;
    // RFC 5705 exporters make TLS keys explicitly exportable (survey 6.3).
    static constexpr KeyExport key_export = KeyExport::explicit_export;
    using exported_keys = botan_tls::ChannelKeys;
    using Config = botan_tls::Config;
    template <class Record, class Crypto>
    using engine = botan_tls::ChannelEngine<botan_tls::Carrier::stream>;
    // Botan's TLS stack does the handshake, key schedule and record protection itself:
    // no other provider can stand in for it, and a composition naming one must not
    // compile (it would silently run Botan).
    template <class Crypto>
    static constexpr bool runs_on = botan_tls::runs_on_botan<Crypto>;
};

/// The TLS 1.2 record layer (RFC 5246 6.2): AEAD (or encrypt-then-MAC CBC) records
/// with implicit sequence numbers, inside Botan's channel.
struct Tls12Record {
    static constexpr std::string_view name = "TLS 1.2 record (Botan)";
    using provides = features<feature::record_protection, feature::replay_protection>;
    using intrinsic = features<feature::record_protection>;
    using needs = dependencies<dependency::reliable_byte_stream>;
    using imported_keys = botan_tls::ChannelKeys;
    static constexpr KeyImport key_import = KeyImport::direct;
    template <class Crypto>
    static constexpr bool runs_on = botan_tls::runs_on_botan<Crypto>;  // Botan's record layer
};

}  // namespace tapsec
