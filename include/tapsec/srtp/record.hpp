// SrtpRecord: SRTP and SRTCP (RFC 3711, RFC 7714) as a tapsec record policy. It has
// no handshake of its own: it imports srtp::MasterKeys explicitly (survey 6.1) from
// the application or from a handshake that exports them (DTLS-SRTP, RFC 5764).
#pragma once

#include <string_view>

#include "../core/dependencies.hpp"
#include "../core/features.hpp"
#include "context.hpp"
#include "errors.hpp"
#include "keys.hpp"
#include "profiles.hpp"
#include "rtp.hpp"
#include "session.hpp"

namespace tapsec {

struct SrtpRecord {
    static constexpr std::string_view name = "SRTP";
    // RTP headers are authenticated but not encrypted (partial confidentiality);
    // replay list per SSRC; packets are accepted in any order within the window.
    using provides = features<feature::record_protection, feature::partial_record_confidentiality,
                              feature::replay_protection, feature::out_of_order_receipt>;
    using needs = dependencies<dependency::datagram, dependency::external_key_management>;
    using imported_keys = srtp::MasterKeys;
    static constexpr KeyImport key_import = KeyImport::explicit_import;

    /// The per-session protector a handshake engine instantiates with its provider.
    template <class Crypto>
    using session = srtp::Session<Crypto>;
};

}  // namespace tapsec
