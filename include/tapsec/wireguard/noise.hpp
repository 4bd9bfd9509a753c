// The Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s handshake exactly as the WireGuard
// whitepaper (section 5.4) specifies it: the initiator knows the responder's static
// key; the initiation carries the initiator's static key and a TAI64N timestamp
// encrypted; the response completes the DH set (ee, se) and mixes in the optional
// pre-shared key. Hash = BLAKE2s-256, HMAC/KDF = HMAC-BLAKE2s HKDF, AEAD =
// ChaCha20-Poly1305 with a zero counter nonce, DH = X25519 through the provider.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string_view>

#include "../core/bytes.hpp"
#include "../core/errors.hpp"
#include "../crypto/blake2s.hpp"
#include "../crypto/provider.hpp"
#include "errors.hpp"
#include "wire.hpp"

namespace tapsec::wireguard {

inline constexpr std::string_view construction = "Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s";
inline constexpr std::string_view identifier = "WireGuard v1 zx2c4 Jason@zx2c4.com";
inline constexpr std::string_view label_mac1 = "mac1----";
inline constexpr std::string_view label_cookie = "cookie--";

using Secret = SecretArray<32>;
using Timestamp = std::array<std::uint8_t, timestamp_size>;

namespace noise {

inline Key hash(ByteView a, ByteView b = {}) { return crypto::Blake2s::hash(a, b); }

/// Kdf_n(key, input) = HKDF over HMAC-BLAKE2s with empty info, n outputs of 32 bytes.
template <std::size_t N>
std::array<Secret, N> kdf(ByteView key, ByteView input) {
    auto prk = crypto::hkdf_blake2s_extract(key, input);
    std::array<Secret, N> out;
    Secret previous;
    for (std::size_t i = 0; i < N; ++i) {
        std::uint8_t block[33];
        std::size_t length = 0;
        if (i > 0) {
            std::copy(previous.begin(), previous.end(), block);
            length = 32;
        }
        block[length++] = static_cast<std::uint8_t>(i + 1);
        previous = crypto::hmac_blake2s(prk, ByteView(block, length));
        secure_zero(block, sizeof block);
        out[i] = previous;
    }
    return out;
}

/// TAI64N (https://cr.yp.to/libtai/tai64.html) of a wall-clock time, with the
/// nanoseconds rounded down to 2^24 ns as wireguard-go does (so the timestamp does
/// not leak a precise clock).
inline Timestamp tai64n(std::chrono::system_clock::time_point when) {
    const auto since_epoch = when.time_since_epoch();
    const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(since_epoch);
    const auto nanos = std::chrono::duration_cast<std::chrono::nanoseconds>(since_epoch - seconds).count();
    const std::uint64_t label = 0x400000000000000aull + static_cast<std::uint64_t>(seconds.count());
    const std::uint32_t n = static_cast<std::uint32_t>(nanos) & ~0xffffffu;
    Timestamp t{};
    for (int i = 0; i < 8; ++i) t[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(label >> (56 - 8 * i));
    for (int i = 0; i < 4; ++i) t[static_cast<std::size_t>(8 + i)] = static_cast<std::uint8_t>(n >> (24 - 8 * i));
    return t;
}

/// The state both sides start from, for responder static key `responder_public`.
struct SymmetricState {
    Secret chaining_key;
    Key hash{};

    static SymmetricState initial(const Key& responder_public) {
        static const Key ck0 = noise::hash(as_bytes(construction));
        static const Key h0 = noise::hash(ck0, as_bytes(identifier));
        SymmetricState s;
        std::copy(ck0.begin(), ck0.end(), s.chaining_key.begin());
        s.hash = noise::hash(h0, responder_public);
        return s;
    }
    void mix_hash(ByteView data) { hash = noise::hash(hash, data); }
    void mix_key(ByteView input) { chaining_key = kdf<1>(chaining_key, input)[0]; }
    /// (ck, k) = Kdf2(ck, input): returns k.
    Secret mix_key_and_get(ByteView input) {
        auto out = kdf<2>(chaining_key, input);
        chaining_key = out[0];
        return out[1];
    }
};

template <class Crypto>
Bytes aead_seal(const Secret& key, ByteView plaintext, ByteView aad) {
    auto aead = Crypto::Aead::create(crypto::AeadAlgorithm::chacha20_poly1305, key);
    const std::array<std::uint8_t, 12> nonce{};
    Bytes out(plaintext.begin(), plaintext.end());
    aead->seal(nonce, aad, out);
    return out;
}

template <class Crypto>
std::optional<SecretBytes> aead_open(const Secret& key, ByteView ciphertext, ByteView aad) {
    auto aead = Crypto::Aead::create(crypto::AeadAlgorithm::chacha20_poly1305, key);
    const std::array<std::uint8_t, 12> nonce{};
    Bytes buffer(ciphertext.begin(), ciphertext.end());
    if (!aead->open(nonce, aad, buffer)) return std::nullopt;
    SecretBytes out(buffer.begin(), buffer.end());
    secure_zero(buffer.data(), buffer.size());
    return out;
}

/// X25519 through the provider; an all-zero result (low-order point) is an error.
template <class Crypto>
Result<Secret> dh(const typename Crypto::KeyShare& own, ByteView peer_public) {
    auto shared = own.agree(peer_public);
    if (!shared) return make_error_code(Error::invalid_public_key);
    Secret s;
    if (shared->size() != 32) return make_error_code(Error::invalid_public_key);
    std::copy(shared->begin(), shared->end(), s.begin());
    return s;
}

}  // namespace noise

/// Our long-term identity: the static key pair and the MAC keys derived from it.
template <class Crypto>
struct StaticIdentity {
    typename Crypto::KeyShare private_key;
    Key public_key{};
    Key mac1_key{};    // HASH(LABEL_MAC1 || our public): checks mac1 of messages to us
    Key cookie_key{};  // HASH(LABEL_COOKIE || our public): encrypts our cookie replies

    static Result<StaticIdentity> from_private(ByteView private_key) {
        auto share = Crypto::KeyShare::from_x25519_private(private_key);
        if (!share) return share.error();
        StaticIdentity id{std::move(*share), {}, {}, {}};
        auto pub = id.private_key.public_key();
        if (pub.size() != 32) return make_error_code(Error::invalid_configuration);
        std::copy(pub.begin(), pub.end(), id.public_key.begin());
        id.mac1_key = noise::hash(as_bytes(label_mac1), id.public_key);
        id.cookie_key = noise::hash(as_bytes(label_cookie), id.public_key);
        return id;
    }
};

/// What we know of one peer's keys, precomputed once.
struct PeerKeys {
    Key public_key{};
    Secret preshared_key;    // zeros when none is configured (whitepaper: Q = 0^32)
    Secret static_static;    // DH(our static, their static)
    bool static_static_valid = false;
    Key mac1_key{};          // HASH(LABEL_MAC1 || their public): mac1 of messages to them
    Key cookie_key{};        // HASH(LABEL_COOKIE || their public): decrypts their cookie replies
};

/// One handshake in flight (either role).
template <class Crypto>
struct HandshakeState {
    noise::SymmetricState symmetric;
    std::optional<typename Crypto::KeyShare> ephemeral;
    Key remote_ephemeral{};
    std::uint32_t local_index = 0;
    std::uint32_t remote_index = 0;
};

/// Transport keys from the final chaining key: (T_send, T_recv) for the initiator.
struct TransportKeys {
    Secret send, receive;
};

inline TransportKeys derive_transport_keys(const Secret& chaining_key, bool initiator) {
    auto out = noise::kdf<2>(chaining_key, {});
    return initiator ? TransportKeys{out[0], out[1]} : TransportKeys{out[1], out[0]};
}

/// Initiator: builds the initiation (without macs) and leaves the state in `hs`.
/// `ephemeral_private` is 32 fresh random bytes (the caller draws them, from the
/// configuration's random source).
template <class Crypto>
Result<Initiation> create_initiation(const StaticIdentity<Crypto>& self, const PeerKeys& peer, std::uint32_t local_index,
                                     const Timestamp& timestamp, ByteView ephemeral_private, HandshakeState<Crypto>& hs) {
    if (!peer.static_static_valid) return make_error_code(Error::invalid_public_key);
    hs = HandshakeState<Crypto>{};
    hs.symmetric = noise::SymmetricState::initial(peer.public_key);
    hs.local_index = local_index;
    auto ephemeral = Crypto::KeyShare::from_x25519_private(ephemeral_private);
    if (!ephemeral) return ephemeral.error();
    Initiation msg;
    msg.sender_index = local_index;
    auto epub = ephemeral->public_key();
    std::copy(epub.begin(), epub.end(), msg.ephemeral.begin());
    hs.symmetric.mix_key(msg.ephemeral);
    hs.symmetric.mix_hash(msg.ephemeral);
    auto es = noise::dh<Crypto>(*ephemeral, peer.public_key);
    if (!es) return es.error();
    auto key = hs.symmetric.mix_key_and_get(*es);
    auto encrypted_static = noise::aead_seal<Crypto>(key, self.public_key, hs.symmetric.hash);
    std::copy(encrypted_static.begin(), encrypted_static.end(), msg.encrypted_static.begin());
    hs.symmetric.mix_hash(msg.encrypted_static);
    key = hs.symmetric.mix_key_and_get(peer.static_static);
    auto encrypted_timestamp = noise::aead_seal<Crypto>(key, timestamp, hs.symmetric.hash);
    std::copy(encrypted_timestamp.begin(), encrypted_timestamp.end(), msg.encrypted_timestamp.begin());
    hs.symmetric.mix_hash(msg.encrypted_timestamp);
    hs.ephemeral = std::move(*ephemeral);
    return msg;
}

/// Responder: what a valid initiation revealed.
struct ConsumedInitiation {
    std::size_t peer = 0;
    Timestamp timestamp{};
};

/// Responder: authenticates an initiation. `find_peer` maps a decrypted static key to
/// a configured peer (nullopt: unknown peer). On success `hs` holds the state for the
/// response.
template <class Crypto, class FindPeer>
Result<ConsumedInitiation> consume_initiation(const StaticIdentity<Crypto>& self, const Initiation& msg, FindPeer&& find_peer,
                                              HandshakeState<Crypto>& hs) {
    hs = HandshakeState<Crypto>{};
    hs.symmetric = noise::SymmetricState::initial(self.public_key);
    hs.remote_ephemeral = msg.ephemeral;
    hs.remote_index = msg.sender_index;
    hs.symmetric.mix_key(msg.ephemeral);
    hs.symmetric.mix_hash(msg.ephemeral);
    auto es = noise::dh<Crypto>(self.private_key, msg.ephemeral);
    if (!es) return es.error();
    auto key = hs.symmetric.mix_key_and_get(*es);
    auto peer_static = noise::aead_open<Crypto>(key, msg.encrypted_static, hs.symmetric.hash);
    if (!peer_static) return make_error_code(Error::handshake_decrypt_failed);
    Key peer_public{};
    std::copy(peer_static->begin(), peer_static->end(), peer_public.begin());
    hs.symmetric.mix_hash(msg.encrypted_static);
    const std::optional<std::pair<std::size_t, const PeerKeys*>> found = find_peer(peer_public);
    if (!found) return make_error_code(Error::unknown_peer);
    const PeerKeys& peer = *found->second;
    if (!peer.static_static_valid) return make_error_code(Error::invalid_public_key);
    key = hs.symmetric.mix_key_and_get(peer.static_static);
    auto timestamp = noise::aead_open<Crypto>(key, msg.encrypted_timestamp, hs.symmetric.hash);
    if (!timestamp) return make_error_code(Error::handshake_decrypt_failed);
    hs.symmetric.mix_hash(msg.encrypted_timestamp);
    ConsumedInitiation out;
    out.peer = found->first;
    std::copy(timestamp->begin(), timestamp->end(), out.timestamp.begin());
    return out;
}

/// Responder: builds the response (without macs) and derives the transport keys.
/// `ephemeral_private` as for create_initiation.
template <class Crypto>
Result<Response> create_response(const PeerKeys& peer, std::uint32_t local_index, ByteView ephemeral_private,
                                  HandshakeState<Crypto>& hs, TransportKeys& keys) {
    auto ephemeral = Crypto::KeyShare::from_x25519_private(ephemeral_private);
    if (!ephemeral) return ephemeral.error();
    hs.local_index = local_index;
    Response msg;
    msg.sender_index = local_index;
    msg.receiver_index = hs.remote_index;
    auto epub = ephemeral->public_key();
    std::copy(epub.begin(), epub.end(), msg.ephemeral.begin());
    hs.symmetric.mix_key(msg.ephemeral);
    hs.symmetric.mix_hash(msg.ephemeral);
    auto ee = noise::dh<Crypto>(*ephemeral, hs.remote_ephemeral);
    if (!ee) return ee.error();
    hs.symmetric.mix_key(*ee);
    auto se = noise::dh<Crypto>(*ephemeral, peer.public_key);
    if (!se) return se.error();
    hs.symmetric.mix_key(*se);
    auto out = noise::kdf<3>(hs.symmetric.chaining_key, peer.preshared_key);
    hs.symmetric.chaining_key = out[0];
    hs.symmetric.mix_hash(out[1]);
    auto empty = noise::aead_seal<Crypto>(out[2], {}, hs.symmetric.hash);
    std::copy(empty.begin(), empty.end(), msg.encrypted_nothing.begin());
    hs.symmetric.mix_hash(msg.encrypted_nothing);
    keys = derive_transport_keys(hs.symmetric.chaining_key, false);
    return msg;
}

/// Initiator: authenticates the response to the initiation in `hs`, derives keys.
template <class Crypto>
std::error_code consume_response(const StaticIdentity<Crypto>& self, const PeerKeys& peer, const Response& msg,
                                 HandshakeState<Crypto>& hs, TransportKeys& keys) {
    if (!hs.ephemeral) return make_error_code(Error::unexpected_response);
    auto state = hs.symmetric;  // only commit on success
    state.mix_key(msg.ephemeral);
    state.mix_hash(msg.ephemeral);
    auto ee = noise::dh<Crypto>(*hs.ephemeral, msg.ephemeral);
    if (!ee) return ee.error();
    state.mix_key(*ee);
    auto se = noise::dh<Crypto>(self.private_key, msg.ephemeral);
    if (!se) return se.error();
    state.mix_key(*se);
    auto out = noise::kdf<3>(state.chaining_key, peer.preshared_key);
    state.chaining_key = out[0];
    state.mix_hash(out[1]);
    if (!noise::aead_open<Crypto>(out[2], msg.encrypted_nothing, state.hash))
        return make_error_code(Error::handshake_decrypt_failed);
    state.mix_hash(msg.encrypted_nothing);
    hs.symmetric = state;
    hs.remote_index = msg.sender_index;
    keys = derive_transport_keys(hs.symmetric.chaining_key, true);
    return {};
}

}  // namespace tapsec::wireguard
