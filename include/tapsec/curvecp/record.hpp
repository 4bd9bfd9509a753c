// CurveCP's record: Message packets (and, until the server first answers, the client's
// Initiate packets, which carry messages too) boxed under the short-term key C'S'.
// Keyed only by CurveCP's own handshake: the key interface is non-importable (survey
// 6.1), and SessionKeys is a kind no other handshake exports.
#pragma once

#include <array>
#include <cstring>
#include <optional>

#include "../core/replay_window.hpp"
#include "../crypto/nacl_box.hpp"
#include "errors.hpp"
#include "wire.hpp"

namespace tapsec::curvecp {

/// What CurveCP's handshake hands its record: never leaves the protocol.
struct SessionKeys {
    bool client = true;
    crypto::nacl::Key key;  // crypto_box_beforenm(C', S') from either side
    PublicKey client_short_key{};
    wire::Extension server_extension{}, client_extension{};
    std::uint64_t last_nonce = 0;  // our counter's last value (each packet uses the next)
    std::optional<std::uint64_t> peer_nonce_seen;  // server: the Initiate's nonce
    // Client, until the server's first Message: the Initiate's cookie and the boxed
    // prefix C | V | N that precedes each message inside it.
    std::array<std::uint8_t, wire::cookie_field_size> cookie{};
    SecretBytes initiate_prefix;
};

template <class Crypto>
class CurveCpRecordLayer {
public:
    static constexpr std::size_t max_packet = wire::max_packet;

    std::error_code import(const SessionKeys& keys) {
        if (keys.client && keys.initiate_prefix.size() != wire::initiate_inner_prefix)
            return make_error_code(Error::invalid_configuration);
        keys_ = keys;
        box_.emplace(keys_.key);
        replay_.reset();
        if (keys.peer_nonce_seen) replay_.commit(*keys.peer_nonce_seen);
        confirmed_ = !keys.client;
        return {};
    }
    bool keyed() const noexcept { return box_.has_value(); }
    /// Client: the server has answered (Message packets from now on, not Initiates).
    bool confirmed() const noexcept { return confirmed_; }
    /// The largest message the next packet can carry.
    std::size_t max_message() const noexcept { return confirmed_ ? wire::max_message : wire::max_initiate_message; }
    const SessionKeys& keys() const noexcept { return keys_; }
    /// Client: a new client extension (the client moved); server: the extension to echo.
    void set_client_extension(ByteView ext) { std::memcpy(keys_.client_extension.data(), ext.data(), 16); }

    /// Seals message `m` (a multiple of 16, 16..max_message()) as the next packet into
    /// `out` (at least max_packet bytes); returns the packet's size.
    Result<std::size_t> seal(ByteView m, MutableByteView out) {
        if (!box_) return make_error_code(Errc::not_connected);
        if (m.size() < wire::min_message || m.size() > max_message() || m.size() % 16 != 0 || out.size() < max_packet)
            return make_error_code(Errc::invalid_configuration);
        if (keys_.last_nonce == ~std::uint64_t{0}) return make_error_code(Error::nonce_exhausted);
        const std::uint64_t nonce = ++keys_.last_nonce;
        std::uint8_t* p = out.data();
        if (!keys_.client) {
            std::uint8_t* at = wire::put_header(p, wire::server_message_magic, keys_.client_extension, keys_.server_extension);
            wire::store_le64(at, nonce);
            std::memmove(p + 64, m.data(), m.size());
            box_->seal(wire::counter_nonce(wire::server_message_nonce, nonce), ByteView(p + 64, m.size()), p + 48);
            return wire::server_message_overhead + m.size();
        }
        std::uint8_t* at = wire::put_header(p, confirmed_ ? wire::client_message_magic : wire::initiate_magic,
                                            keys_.server_extension, keys_.client_extension);
        std::memcpy(at, keys_.client_short_key.data(), 32);
        if (confirmed_) {
            wire::store_le64(p + 72, nonce);
            std::memmove(p + 96, m.data(), m.size());
            box_->seal(wire::counter_nonce(wire::client_message_nonce, nonce), ByteView(p + 96, m.size()), p + 80);
            return wire::client_message_overhead + m.size();
        }
        std::memcpy(p + 72, keys_.cookie.data(), keys_.cookie.size());
        wire::store_le64(p + 168, nonce);
        std::memmove(p + 192 + wire::initiate_inner_prefix, m.data(), m.size());
        std::memcpy(p + 192, keys_.initiate_prefix.data(), wire::initiate_inner_prefix);
        box_->seal(wire::counter_nonce(wire::initiate_nonce, nonce),
                   ByteView(p + 192, wire::initiate_inner_prefix + m.size()), p + 176);
        return wire::initiate_overhead + m.size();
    }

    /// Opens a packet from the peer in place and returns its message. The caller has
    /// classified it (wire::classify). Server: a client Message or a repeated Initiate
    /// from our client's C'; client: a server Message. Nothing changes unless it opens.
    Result<MutableByteView> open(MutableByteView packet, wire::PacketType type) {
        if (!box_) return make_error_code(Errc::not_connected);
        const ByteView p(packet);
        std::uint64_t nonce = 0;
        std::string_view prefix;
        std::size_t box_at = 0, skip = 0;
        if (keys_.client) {
            if (type != wire::PacketType::server_message) return make_error_code(Error::unexpected_packet);
            wire::ServerMessage m(p);
            if (!constant_time_equal(m.client_extension, keys_.client_extension) ||
                !constant_time_equal(m.server_extension, keys_.server_extension))
                return make_error_code(Error::wrong_extension);
            nonce = m.nonce;
            prefix = wire::server_message_nonce;
            box_at = 48;
        } else {
            if (type == wire::PacketType::client_message) {
                wire::ClientMessage m(p);
                if (!constant_time_equal(m.server_extension, keys_.server_extension)) return make_error_code(Error::wrong_extension);
                if (!constant_time_equal(m.client_short_key, keys_.client_short_key)) return make_error_code(Error::unknown_client);
                nonce = m.nonce;
                prefix = wire::client_message_nonce;
                box_at = 80;
            } else if (type == wire::PacketType::initiate) {
                wire::Initiate m(p);
                if (!constant_time_equal(m.server_extension, keys_.server_extension)) return make_error_code(Error::wrong_extension);
                if (!constant_time_equal(m.client_short_key, keys_.client_short_key)) return make_error_code(Error::unknown_client);
                nonce = m.nonce;
                prefix = wire::initiate_nonce;
                box_at = 176;
                skip = wire::initiate_inner_prefix;
            } else {
                return make_error_code(Error::unexpected_packet);
            }
        }
        if (replay_.check(nonce) != ReplayVerdict::fresh) return make_error_code(Error::replayed_packet);
        const ByteView boxed = p.subspan(box_at);
        if (!box_->open(wire::counter_nonce(prefix, nonce), boxed, packet.data() + box_at + 16))
            return make_error_code(Error::box_failed);
        replay_.commit(nonce);  // only after the packet authenticated
        if (keys_.client && !confirmed_) {
            confirmed_ = true;  // the server answered: the Initiate's parts are no longer needed
            keys_.initiate_prefix.clear();
            keys_.initiate_prefix.shrink_to_fit();
        }
        return packet.subspan(box_at + 16 + skip);
    }

private:
    SessionKeys keys_;
    std::optional<crypto::nacl::SecretBox> box_;
    ReplayWindow<> replay_;
    bool confirmed_ = false;
};

}  // namespace tapsec::curvecp
