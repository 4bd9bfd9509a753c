// DTLS 1.2's part in the datagram server (datagram_server.hpp), for `listen dtls12` and
// `listen dtls-srtp`: peers are keyed by their address (the 5-tuple: one local socket);
// a new address is answered by the responder with a HelloVerifyRequest cookie and no
// state (RFC 6347 4.2.1); it holds a peer once a cookie came back (bound_peer()). Every
// engine of the server shares one cookie key (botan_tls::Config::dtls_cookie_secret), so a
// cookie stays valid whichever engine checks it.
#pragma once

#include <array>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include <tapsec/botan_tls/config.hpp>
#include <tapsec/core/endpoint.hpp>
#include <tapsec/crypto/botan.hpp>
#include <tapsec/dtls/wire.hpp>

#include "datagram_server.hpp"

namespace tapsec::cli {

template <class EngineT>
struct DtlsPeers {
    using Engine = EngineT;
    using Key = Endpoint;
    using Note = std::array<std::uint8_t, 32>;  // the client random of the ClientHello that bound it (RFC 6347 4.2.8)

    std::string label;        // "DTLS 1.2"
    std::string composition;  // the --www page's first line
    std::function<std::string(Engine&)> describe;  // the line after a handshake
    std::size_t max_send = 16384;
    std::shared_ptr<const botan_tls::Config> config;

    DtlsPeers(std::string label_, std::string composition_, std::function<std::string(Engine&)> describe_,
              std::size_t max_send_, botan_tls::Config config_, std::chrono::milliseconds handshake_timeout)
        : label(std::move(label_)), composition(std::move(composition_)), describe(std::move(describe_)), max_send(max_send_) {
        // One cookie key for every engine of this socket (see the top of this file).
        SecretBytes secret(32);
        crypto::Botan2::random(MutableByteView(secret));
        config_.dtls_cookie_secret = std::make_shared<const SecretBytes>(std::move(secret));
        config_.handshake_timeout = handshake_timeout;
        config_.accept_handshake_timeout = handshake_timeout;
        config = std::make_shared<const botan_tls::Config>(std::move(config_));
    }

    std::unique_ptr<Engine> make_engine() { return std::make_unique<Engine>(Role::server, *config); }
    std::optional<Key> peer_key(ByteView, const Endpoint& from) const { return from; }
    bool holds_peer(Engine& responder) const { return responder.bound_peer().has_value(); }
    Key key_of_new_peer(Engine&, ByteView, const Endpoint& from) const { return from; }
    Note note(ByteView datagram) const { return client_hello_random(datagram).value_or(Note{}); }

    /// RFC 6347 4.2.8: a ClientHello from a known peer's address with another random is a
    /// new client there (a restarted one, or another on a reused port; the peer's own
    /// retransmissions repeat its random, RFC 6347 4.2.1).
    bool starts_anew(ByteView datagram, const Note& bound_by) const {
        const auto random = client_hello_random(datagram);
        return random && *random != bound_by;
    }
    std::string established_line(Engine& engine) const { return describe ? describe(engine) : std::string(); }

    /// The client random of a datagram that opens with an epoch-0 record holding the start
    /// of a ClientHello (RFC 6347 4.1 and 4.2.2: record header, handshake header, then
    /// client_version and random); none for anything else.
    static std::optional<Note> client_hello_random(ByteView datagram) {
        constexpr std::size_t at = dtls::record_header_size + dtls::handshake_header_size + 2;
        if (datagram.size() < at + 32 || datagram[0] != static_cast<std::uint8_t>(dtls::ContentType::handshake) ||
            datagram[3] != 0 || datagram[4] != 0 || datagram[dtls::record_header_size] != dtls::client_hello_type)
            return std::nullopt;
        const std::size_t offset = dtls::record_header_size + 6;  // fragment_offset: the start of the message only
        if (datagram[offset] != 0 || datagram[offset + 1] != 0 || datagram[offset + 2] != 0) return std::nullopt;
        Note random;
        std::copy_n(datagram.begin() + at, random.size(), random.begin());
        return random;
    }
};

}  // namespace tapsec::cli
