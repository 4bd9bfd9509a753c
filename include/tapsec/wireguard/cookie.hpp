// mac1, mac2 and the cookie reply (whitepaper section 5.4.4 and 5.4.7): WireGuard's
// DoS mitigation and source validation. mac1 (keyed BLAKE2s-128 under
// HASH(LABEL_MAC1 || receiver's public key)) lets a responder discard junk before any
// DH. Under load, a responder answers a handshake message whose mac2 is missing with
// a cookie reply: an XChaCha20-Poly1305-encrypted MAC of the sender's address under a
// secret that changes every two minutes; the initiator retries with mac2 = MAC(cookie,
// message), proving it can receive at that address.
#pragma once

#include <chrono>
#include <optional>

#include "../core/bytes.hpp"
#include "../core/config.hpp"
#include "../core/endpoint.hpp"
#include "../core/engine.hpp"
#include "../crypto/blake2s.hpp"
#include "../crypto/provider.hpp"
#include "errors.hpp"
#include "noise.hpp"
#include "wire.hpp"

namespace tapsec::wireguard {

inline constexpr std::chrono::seconds cookie_secret_lifetime{120};  // COOKIE_REFRESH_TIME
inline constexpr std::chrono::seconds cookie_lifetime{120 - 5};      // minus latency margin, as wireguard-go

inline Mac compute_mac(ByteView key, ByteView covered) { return crypto::Blake2s::mac128(key, covered); }

/// The bytes that identify a source for cookies: address then port.
inline Bytes source_bytes(const Endpoint& from) {
    Bytes out;
    const auto* sa = from.sockaddr_ptr();
    if (from.family() == AF_INET) {
        const auto* v4 = reinterpret_cast<const sockaddr_in*>(sa);
        const auto* a = reinterpret_cast<const std::uint8_t*>(&v4->sin_addr);
        out.assign(a, a + 4);
    } else if (from.family() == AF_INET6) {
        const auto* v6 = reinterpret_cast<const sockaddr_in6*>(sa);
        const auto* a = reinterpret_cast<const std::uint8_t*>(&v6->sin6_addr);
        out.assign(a, a + 16);
    }
    out.push_back(static_cast<std::uint8_t>(from.port() >> 8));
    out.push_back(static_cast<std::uint8_t>(from.port()));
    return out;
}

/// Responder side: checks mac1/mac2 of messages to us and makes cookie replies.
template <class Crypto>
class CookieChecker {
public:
    CookieChecker(const Key& mac1_key, const Key& cookie_key) : mac1_key_(mac1_key), cookie_key_(cookie_key) {}

    bool mac1_valid(ByteView message, std::size_t mac1_offset) const {
        const Mac expected = compute_mac(mac1_key_, message.first(mac1_offset));
        return constant_time_equal(expected, message.subspan(mac1_offset, 16));
    }

    /// `config` supplies the random source (the cookie secret is drawn from it).
    bool mac2_valid(ByteView message, std::size_t mac2_offset, const Endpoint& from, Instant now, const CommonConfig& config) {
        const auto cookie = current_cookie(from, now, config);
        const Mac expected = compute_mac(cookie, message.first(mac2_offset));
        return constant_time_equal(expected, message.subspan(mac2_offset, 16));
    }

    /// A cookie reply to `message` (an initiation or response) from `from`.
    Bytes make_reply(ByteView message, std::size_t mac1_offset, std::uint32_t sender_index, const Endpoint& from,
                     Instant now, const CommonConfig& config) {
        const auto cookie = current_cookie(from, now, config);
        CookieReply reply;
        reply.receiver_index = sender_index;
        draw_random<Crypto>(config, reply.nonce);
        auto aead = Crypto::Aead::create(crypto::AeadAlgorithm::xchacha20_poly1305, cookie_key_);
        Bytes sealed(cookie.begin(), cookie.end());
        aead->seal(reply.nonce, message.subspan(mac1_offset, 16), sealed);
        std::copy(sealed.begin(), sealed.end(), reply.encrypted_cookie.begin());
        return serialize(reply);
    }

private:
    std::array<std::uint8_t, 16> current_cookie(const Endpoint& from, Instant now, const CommonConfig& config) {
        if (!secret_born_ || now - *secret_born_ >= cookie_secret_lifetime) {
            draw_random<Crypto>(config, secret_);
            secret_born_ = now;
        }
        return compute_mac(secret_, source_bytes(from));
    }

    Key mac1_key_, cookie_key_;
    Secret secret_;
    std::optional<Instant> secret_born_;
};

/// Initiator side (per peer): adds mac1 and mac2 to our handshake messages and keeps
/// the latest cookie the peer sent.
template <class Crypto>
class CookieJar {
public:
    CookieJar() = default;
    CookieJar(const Key& peer_mac1_key, const Key& peer_cookie_key) : mac1_key_(peer_mac1_key), cookie_key_(peer_cookie_key) {}

    /// Fills mac1 and mac2 (zeros without a fresh cookie) of a serialized message.
    void add_macs(Bytes& message, std::size_t mac1_offset, std::size_t mac2_offset, Instant now) {
        const Mac mac1 = compute_mac(mac1_key_, ByteView(message).first(mac1_offset));
        std::copy(mac1.begin(), mac1.end(), message.begin() + static_cast<std::ptrdiff_t>(mac1_offset));
        last_mac1_ = mac1;
        Mac mac2{};
        if (cookie_ && now - cookie_received_ < cookie_lifetime)
            mac2 = compute_mac(*cookie_, ByteView(message).first(mac2_offset));
        std::copy(mac2.begin(), mac2.end(), message.begin() + static_cast<std::ptrdiff_t>(mac2_offset));
    }

    /// Decrypts a cookie reply to our last message; the cookie is then used for mac2.
    std::error_code consume_reply(const CookieReply& reply, Instant now) {
        if (!last_mac1_) return make_error_code(Error::unexpected_response);
        auto aead = Crypto::Aead::create(crypto::AeadAlgorithm::xchacha20_poly1305, cookie_key_);
        Bytes buffer(reply.encrypted_cookie.begin(), reply.encrypted_cookie.end());
        if (!aead->open(reply.nonce, *last_mac1_, buffer) || buffer.size() != 16)
            return make_error_code(Error::bad_cookie_reply);
        std::array<std::uint8_t, 16> cookie{};
        std::copy(buffer.begin(), buffer.end(), cookie.begin());
        cookie_ = cookie;
        cookie_received_ = now;
        return {};
    }

    bool has_fresh_cookie(Instant now) const { return cookie_ && now - cookie_received_ < cookie_lifetime; }

private:
    Key mac1_key_{}, cookie_key_{};
    std::optional<Mac> last_mac1_;
    std::optional<std::array<std::uint8_t, 16>> cookie_;
    Instant cookie_received_{};
};

}  // namespace tapsec::wireguard
