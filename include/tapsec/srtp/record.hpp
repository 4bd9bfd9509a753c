// SrtpRecord: SRTP and SRTCP (RFC 3711, RFC 7714) as a tapsec record policy. It has
// no handshake of its own: it imports srtp::MasterKeys explicitly (survey 6.1) from
// the application or from any handshake that exports them (DTLS-SRTP, RFC 5764; ZRTP,
// RFC 6189), and it never learns which one did: its layer is keyed by
// `layer<Crypto>::import(MasterKeys, Role)` and by nothing else.
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

    /// The record protocol itself, which a handshake engine instantiates with its provider.
    template <class Crypto>
    using layer = srtp::Session<Crypto>;
};

namespace srtp {
/// What an engine keying SRTP may use of the record layer: import of the record's key
/// type, then protect/unprotect in place on caller buffers (RFC 5761 mux).
template <class L>
concept MediaLayer = std::movable<L> && requires(L l, const L cl, const MasterKeys& keys, MutableByteView buffer) {
    { L::import(keys, Role::client) } -> std::same_as<Result<L>>;
    { l.protect(buffer, std::size_t{}) } -> std::same_as<Result<std::size_t>>;
    { l.unprotect(buffer) } -> std::same_as<Result<std::size_t>>;
    { cl.profile() } -> std::same_as<Profile>;
};
}  // namespace srtp

}  // namespace tapsec
