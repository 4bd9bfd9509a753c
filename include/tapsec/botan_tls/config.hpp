// Configuration of a Botan TLS 1.2 / DTLS 1.2 channel: the common Section 6 fields
// plus the few knobs only these protocols have.
#pragma once

#include <chrono>
#include <cstdint>
#include <vector>

#include "../core/config.hpp"

namespace tapsec::botan_tls {

/// Key kind (survey Section 6): the traffic keys Botan's handshake installs in
/// its own record layer. They never leave Botan; the record policy that "imports"
/// them directly is the record layer inside the same Botan channel.
struct ChannelKeys {};

struct Config : CommonConfig {
    /// Client: the server's port, part of the session-cache key (host:port).
    std::uint16_t server_port = 0;
    // ---- DTLS only ----
    /// Largest datagram Botan builds handshake fragments for (IPv6 minimum minus headers).
    std::size_t mtu = 1232;
    /// RFC 6347 4.2.4.1: first retransmission after 1 s, doubling up to 60 s.
    std::chrono::milliseconds initial_retransmit_timeout{1000};
    std::chrono::milliseconds maximum_retransmit_timeout{60'000};
    /// RFC 5764 4.1.2 SRTP protection profile ids to offer / accept (DTLS-SRTP).
    std::vector<std::uint16_t> srtp_profiles;
};

}  // namespace tapsec::botan_tls
