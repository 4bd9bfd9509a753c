// Configuration of a Botan TLS 1.2 / DTLS 1.2 channel: the common Section 6 fields
// plus the few knobs only these protocols have.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <type_traits>
#include <vector>

#include "../core/config.hpp"
#include "../crypto/provider.hpp"

namespace tapsec::botan_tls {

/// Key kind (survey Section 6): the traffic keys Botan's handshake installs in
/// its own record layer. They never leave Botan; the record policy that "imports"
/// them directly is the record layer inside the same Botan channel.
struct ChannelKeys {};

/// The only provider these compositions run on: Botan's TLS stack does all of their
/// cryptography. Another provider (even one built on Botan, as crypto::OpenSsl3 is)
/// would be ignored, so the policies refuse it (a composition rule, core/composition.hpp).
template <class Crypto>
inline constexpr bool runs_on_botan = std::is_same_v<Crypto, crypto::Botan2>;

struct Config : CommonConfig {
    /// Client: the server's port, part of the session-cache key (host:port).
    std::uint16_t server_port = 0;
    // ---- DTLS only ----
    /// Largest datagram Botan builds handshake fragments for (IPv6 minimum minus headers).
    std::size_t mtu = 1232;
    /// RFC 6347 4.2.4.1: first retransmission after 1 s, doubling up to 60 s.
    std::chrono::milliseconds initial_retransmit_timeout{1000};
    std::chrono::milliseconds maximum_retransmit_timeout{60'000};
    /// DTLS server: a client that returned a valid cookie has this long to finish the
    /// handshake; until then the server keeps no state (a listener may wait for its
    /// first client as long as it likes, handshake_timeout, without being captured).
    std::chrono::milliseconds accept_handshake_timeout{30'000};
    /// DTLS server: the cookie's HMAC key. Unset, each engine makes its own at random;
    /// engines serving one socket share one, so that a cookie sent by the socket's
    /// stateless responder is valid in the engine made when it returns (RFC 6347 4.2.1:
    /// the cookie binds the client's address, not an engine).
    std::shared_ptr<const SecretBytes> dtls_cookie_secret;
    /// RFC 5764 4.1.2 SRTP protection profile ids to offer / accept (DTLS-SRTP).
    std::vector<std::uint16_t> srtp_profiles;
};

}  // namespace tapsec::botan_tls
