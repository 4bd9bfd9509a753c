// The MinimaLT composition's policies: Secure<MinimaltHandshake, MinimaltRecord, Udp>.
#pragma once

#include "../core/dependencies.hpp"
#include "../core/features.hpp"
#include "engine.hpp"
#include "record.hpp"

namespace tapsec {

struct MinimaltHandshake {
    static constexpr std::string_view name = "MinimaLT tunnel establishment (directory ephemeral key, Curve25519)";
    // DM: puzzles under load. CM: the tunnel follows its ID across addresses, and is
    // intrinsic (no address is part of a tunnel). SV: a puzzle solution is bound to the
    // request's source address (under load, or always per configuration).
    // MA: the paper's user authentication (createAuth: the user's long-term key proven
    // per connection); optional, so S where the survey says M (docs/minimalt.md).
    using provides = features<feature::MA, feature::DM, feature::CM, feature::SV, feature::forward_secrecy,
                              feature::public_key_authentication, feature::responder_authentication,
                              feature::rekeying>;
    using intrinsic = features<feature::CM, feature::forward_secrecy, feature::public_key_authentication,
                               feature::responder_authentication>;
    using needs = dependencies<dependency::datagram>;
    static constexpr KeyExport key_export = KeyExport::direct;
    using exported_keys = minimalt::TunnelKeys;
    using Config = minimalt::Config;
    template <class C>
    static constexpr bool runs_on = std::is_base_of_v<crypto::Botan2, C>;
    template <class Record, class Crypto>
    using engine = minimalt::Engine<Crypto, Record>;
};

}  // namespace tapsec
