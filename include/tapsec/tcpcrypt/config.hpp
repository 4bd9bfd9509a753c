// tcpcrypt's configuration: CommonConfig plus the TEPs and AEADs it offers, what to do
// when TCP-ENO does not negotiate, and session resumption.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "../core/config.hpp"
#include "../tcp_eno/option.hpp"
#include "wire.hpp"

namespace tapsec::tcpcrypt {

struct Config : CommonConfig {
    /// TEPs in preference order. Role A lists them all in its SYN; role B picks its most
    /// preferred one that A listed.
    std::vector<std::uint8_t> teps{tcp_eno::tep::tcpcrypt_ecdhe_curve25519, tcp_eno::tep::tcpcrypt_ecdhe_p256};
    /// AEAD algorithms in preference order (Init1's sym_cipher list; B picks the first of
    /// A's it enables).
    std::vector<std::uint8_t> aeads{aead_id::aes_128_gcm, aead_id::aes_256_gcm, aead_id::chacha20_poly1305};
    /// false: this host speaks no TCP-ENO (its SYN / SYN-ACK carry no ENO option).
    bool enable_eno = true;
    /// When ENO fails (the peer does not speak it, no TEP in common, a missing ACK
    /// option), continue as plain TCP. Never silent: session_info() and is_encrypted()
    /// say so. Off by default: the handshake then fails with eno_not_negotiated.
    bool allow_plain_fallback = false;
    /// Session resumption (RFC 8548 3.5) through CommonConfig::session_cache: role A
    /// keeps the next session secret under "tcpcrypt-peer:" + resumption_peer, role B
    /// under "tcpcrypt-resume:" + hex(role A's resumption identifier).
    bool resumption = true;
    std::string resumption_peer;  // role A: names the peer (defaults to server_name)
    /// RFC 8547's application-aware bits for the global suboption (0: not sent).
    std::uint8_t application_aware = 0;
    /// Bytes appended to Init1 / Init2 as RFC 8548's "ignored" field (tests).
    std::size_t init_padding = 0;
};

}  // namespace tapsec::tcpcrypt
