// The WireGuard composition's policies: Secure<WireGuardHandshake, WireGuardRecord, Udp>.
// WireGuard has no negotiation and no agility (survey 4.7): one suite, keys that go
// straight from its handshake to its record layer.
#pragma once

#include "../core/dependencies.hpp"
#include "../core/features.hpp"
#include "engine.hpp"
#include "record.hpp"

namespace tapsec {

struct WireGuardHandshake {
    static constexpr std::string_view name = "WireGuard (Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s)";
    // MA and SV cannot be switched off: both sides always prove their static keys, and
    // every handshake message carries mac1 with mac2/cookies ready under load.
    // CM: the survey marks it U, but roaming (the endpoint follows the latest
    // authenticated packet) is part of the protocol and implemented: see docs/wireguard.md.
    // AD: an unknown static key may be admitted by the application's module
    // (Config::authorize_unknown_peer with delegate_authentication).
    using provides = features<feature::AD, feature::MA, feature::DM, feature::CM, feature::SV,
                              feature::forward_secrecy, feature::public_key_authentication,
                              feature::responder_authentication, feature::pre_shared_key, feature::rekeying>;
    using intrinsic = features<feature::MA, feature::SV, feature::forward_secrecy, feature::public_key_authentication,
                               feature::responder_authentication>;
    using needs = dependencies<dependency::datagram>;
    static constexpr KeyExport key_export = KeyExport::direct;
    using exported_keys = wireguard::SessionKeyMaterial;
    using Config = wireguard::Config;
    // The engine runs this handshake and keys the record's layer (Record::layer<Crypto>)
    // through Record::imported_keys: a record with WireGuard's key interface plugs in.
    template <class Record, class Crypto>
    using engine = wireguard::Engine<Crypto, Record>;
};

}  // namespace tapsec
