// Secure<Dtls12Handshake, DtlsRecord, Udp>: DTLS 1.2 (RFC 6347) through Botan 2's
// DTLS stack, on the same adapter as TLS 1.2 (botan_tls::ChannelEngine, datagram
// carrier). Botan does the cookie exchange, handshake fragmentation/reassembly and
// the 64-record anti-replay window; the adapter drives retransmission from the
// time passed in and drops (and counts) datagrams that are not DTLS.
#pragma once

#include "../botan_tls/channel.hpp"
#include "../core/dependencies.hpp"
#include "../core/features.hpp"
#include "wire.hpp"

namespace tapsec {

struct Dtls12Handshake {
    static constexpr std::string_view name = "DTLS 1.2 handshake (Botan)";
    // DM and SV: the stateless HelloVerifyRequest cookie (RFC 6347 4.2.1), bound to
    // the client's address. CM is not offered: DTLS 1.2 without connection IDs
    // (RFC 9146, which Botan 2 lacks) is tied to its 5-tuple.
    using provides = features<feature::AN, feature::AD, feature::MA, feature::DM, feature::SV, feature::AFN, feature::SC,
                              feature::forward_secrecy, feature::public_key_authentication,
                              feature::responder_authentication, feature::session_resumption>;
    // This engine always runs the cookie exchange (the server always has a cookie key).
    using intrinsic = features<feature::SV>;
    using needs = dependencies<dependency::datagram, dependency::pki_trust_store>;
    static constexpr KeyExport key_export = KeyExport::explicit_export;  // RFC 5705 exporters
    using exported_keys = botan_tls::ChannelKeys;
    using Config = botan_tls::Config;
    template <class Record, class Crypto>
    using engine = botan_tls::ChannelEngine<botan_tls::Carrier::datagram>;
    // Botan's TLS stack does the handshake, key schedule and record protection itself:
    // no other provider can stand in for it, and a composition naming one must not
    // compile (it would silently run Botan).
    template <class Crypto>
    static constexpr bool runs_on = botan_tls::runs_on_botan<Crypto>;
};

/// DTLS 1.2 records (RFC 6347 4.1): explicit epoch and sequence number, each record
/// decryptable on its own (out-of-order receipt), sliding-window replay detection.
struct DtlsRecord {
    static constexpr std::string_view name = "DTLS 1.2 record (Botan)";
    using provides = features<feature::record_protection, feature::replay_protection, feature::out_of_order_receipt>;
    using intrinsic = features<feature::record_protection>;
    using needs = dependencies<dependency::datagram>;
    using imported_keys = botan_tls::ChannelKeys;
    static constexpr KeyImport key_import = KeyImport::direct;
    template <class Crypto>
    static constexpr bool runs_on = botan_tls::runs_on_botan<Crypto>;  // Botan's record layer
};

}  // namespace tapsec
