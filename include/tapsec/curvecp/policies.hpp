// The CurveCP composition's policies: Secure<CurveCpHandshake, CurveCpRecord, Udp>.
// One suite (Curve25519, XSalsa20, Poly1305), no negotiation. The keys never leave the
// protocol: the handshake's are non-exportable (survey 6.3) and the record is
// non-importable (6.1), so the composition rules let no other record or handshake in.
#pragma once

#include <type_traits>

#include "../core/dependencies.hpp"
#include "../core/features.hpp"
#include "engine.hpp"
#include "record.hpp"

namespace tapsec {

namespace crypto {
struct Botan2;
}

struct CurveCpRecord {
    static constexpr std::string_view name = "CurveCP Message packets (XSalsa20-Poly1305, curvecpmessage stream)";
    // LHP: packets are multiples of 16 and curvecpmessage pads each message to 192, 320,
    // 576 or 1088 bytes. OOO/RP: a replay window over the 64-bit nonces.
    using provides = features<feature::LHP, feature::record_protection, feature::replay_protection,
                              feature::out_of_order_receipt>;
    using intrinsic = features<feature::record_protection, feature::replay_protection>;
    using needs = dependencies<dependency::datagram>;
    static constexpr KeyImport key_import = KeyImport::non_importable;
    using imported_keys = curvecp::SessionKeys;
    template <class Crypto>
    using layer = curvecp::CurveCpRecordLayer<Crypto>;
    // XSalsa20 exists in Botan 2 and not in OpenSSL 3 (crypto/nacl_box.hpp).
    template <class C>
    static constexpr bool runs_on = std::is_same_v<C, crypto::Botan2>;
};

struct CurveCpHandshake {
    static constexpr std::string_view name = "CurveCP (Hello, Cookie, Initiate)";
    // MA (S): the client may vouch for its short-term key with a long-term key, which
    // the server checks and hands to validate_peer. DM: the server keeps no state until
    // an Initiate carries a valid cookie. SV, CM (M): the cookie proves the client's
    // address; after that the connection is its short-term key C', wherever packets
    // come from (the server follows an authenticated client to a new address).
    using provides = features<feature::MA, feature::DM, feature::CM, feature::SV, feature::forward_secrecy,
                              feature::public_key_authentication, feature::responder_authentication>;
    using intrinsic = features<feature::CM, feature::SV, feature::forward_secrecy, feature::public_key_authentication,
                               feature::responder_authentication>;
    using needs = dependencies<dependency::datagram>;
    static constexpr KeyExport key_export = KeyExport::non_exportable;
    using exported_keys = curvecp::SessionKeys;
    using Config = curvecp::Config;
    template <class Record, class Crypto>
    using engine = curvecp::Engine<Crypto, Record>;
    template <class C>
    static constexpr bool runs_on = std::is_same_v<C, crypto::Botan2>;
};

}  // namespace tapsec
