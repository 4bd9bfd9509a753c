// Secure<ZrtpHandshake, SrtpRecord, Udp>: ZRTP (RFC 6189) keys the same SrtpRecord
// that DTLS-SRTP keys, through the same explicit srtp::MasterKeys interface (survey
// 6.1/6.3). Nothing in srtp/ knows ZRTP exists.
#pragma once

#include "../core/dependencies.hpp"
#include "../core/features.hpp"
#include "../srtp/keys.hpp"
#include "config.hpp"
#include "engine.hpp"

namespace tapsec {

struct ZrtpHandshake {
    static constexpr std::string_view name = "ZRTP (RFC 6189, DH mode)";
    // AN: hash/cipher/auth tag/key agreement/SAS lists in Hello, chosen in Commit.
    // MA: both ends are authenticated by the SAS the users compare (survey 4.5.4), not by
    // certificates, so neither PK nor UA; forward secrecy from the ephemeral DH, always on.
    using provides = features<feature::AN, feature::MA, feature::forward_secrecy>;
    using intrinsic = features<feature::forward_secrecy>;
    using needs = dependencies<dependency::datagram>;
    static constexpr KeyExport key_export = KeyExport::explicit_export;
    using exported_keys = srtp::MasterKeys;
    using Config = zrtp::Config;
    template <class Record, class Crypto>
    using engine = zrtp::Engine<Record, Crypto>;
};

}  // namespace tapsec
