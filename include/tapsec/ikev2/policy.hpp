// The IKEv2 composition's policies: Secure<Ikev2Handshake, EspRecord, Udp>.
// IKEv2 negotiates and authenticates; the Child SA's keys leave it through an explicit
// export (KEYMAT, RFC 7296 2.17) as esp::ChildSaKeys, which EspRecord imports: another
// key-management protocol could key ESP the same way, and this handshake could key any
// record that imports esp::ChildSaKeys.
#pragma once

#include "../core/dependencies.hpp"
#include "../core/features.hpp"
#include "../esp/record.hpp"
#include "engine.hpp"

namespace tapsec {

struct Ikev2Handshake {
    static constexpr std::string_view name = "IKEv2 (RFC 7296, PSK or certificates)";
    // AN: SA proposals; MA: both peers prove the PSK or sign with a certificate the other
    // validates (AUTH; RFC 7427 — the PKI part needs a PkiProvider, checked when the
    // engine is configured with certificates, so PSK-only use runs on any provider); FS: ephemeral Curve25519 /
    // ECP-256 per IKE SA; DM and SV: N(COOKIE) before any state when source validation
    // is demanded (Config::source_validation = always). Rekeying: Child SA rekeys, started
    // (Secure<>::update_keys) or answered, with PFS. AD (survey 6.1: "the application
    // provides access to a separate module that will provide authentication, using EAP for
    // example"): Config::eap_peer / eap_server take the application's EAP method, either
    // role, with or without an MSK (eap.hpp; docs/ikev2.md argues it). LHP comes with
    // EspRecord (TFC padding). SC: session resumption (RFC 5723, resumption.hpp): the
    // responder issues tickets by value (Config::tickets), the initiator resumes with one
    // (Config::resume_ticket) without a key exchange.
    using provides = features<feature::AN, feature::AD, feature::MA, feature::DM, feature::SV, feature::SC,
                              feature::forward_secrecy, feature::pre_shared_key, feature::rekeying>;
    using intrinsic = features<feature::MA, feature::forward_secrecy>;
    using needs = dependencies<dependency::datagram>;
    static constexpr KeyExport key_export = KeyExport::explicit_export;
    using exported_keys = esp::ChildSaKeys;
    using Config = ikev2::Config;
    template <class Record, class Crypto>
    using engine = ikev2::Engine<Crypto, Record>;
};

}  // namespace tapsec
