// Address-validation tokens (RFC 9000 8.1.2 Retry, 8.1.3 NEW_TOKEN) and stateless
// reset (10.3). Both are stateless on the server: a token is its own record, sealed
// under the server's token key; a reset token is derived from the connection ID under
// the server's reset key, so a restarted server with the same key can still reset.
//
//   Bytes t = seal_token<Crypto>(key, AddressToken{...}, random);   // opaque to the client
//   auto a = open_token<Crypto>(key, t);                            // error: forged / other key
//   auto r = stateless_reset_token<Crypto>(reset_key, cid);         // 16 bytes
//
// Token plaintext (all big endian):
//   kind (1: retry, 2: new_token) | issued, ms of the server's clock (8) |
//   address family (4 or 6) | address (4 or 16) | port (2; 0 in a NEW_TOKEN token) |
//   original DCID (1 + n) | Retry source CID (1 + n)   — both empty in a NEW_TOKEN token
// Sealed token: nonce (12) | AES-256-GCM(plaintext) | tag (16), associated data the
// label below, so a token cannot be mistaken for anything else sealed under the key.
#pragma once

#include <algorithm>
#include <array>
#include <cstring>

#include "../core/bytes.hpp"
#include "../core/endpoint.hpp"
#include "../core/wire.hpp"
#include "../crypto/provider.hpp"
#include "errors.hpp"
#include "wire.hpp"

namespace tapsec::quic {

inline constexpr std::size_t token_key_length = 32;
inline constexpr std::size_t token_nonce_length = 12;
inline constexpr std::size_t token_tag_length = 16;
inline constexpr std::size_t stateless_reset_token_length = 16;
/// RFC 9000 10.3: 1 byte of fixed bits + 4 unpredictable bytes (38 bits) + the token.
inline constexpr std::size_t min_stateless_reset_size = 5 + stateless_reset_token_length;

enum class TokenKind : std::uint8_t { retry = 1, new_token = 2 };

struct AddressToken {
    TokenKind kind = TokenKind::retry;
    std::uint64_t issued_ms = 0;
    std::uint8_t family = 4;                 // 4 or 6
    std::array<std::uint8_t, 16> address{};  // the first 4 bytes for IPv4
    std::uint16_t port = 0;
    ConnectionId original_dcid, retry_scid;

    /// Whether `peer` is the address the token was issued to (the port only for Retry:
    /// a NEW_TOKEN token is used by a later connection, from a new port).
    bool issued_to(const Endpoint& peer) const {
        AddressToken other;
        if (!other.set_address(peer)) return false;
        const std::size_t n = family == 4 ? 4 : 16;
        if (other.family != family || std::memcmp(other.address.data(), address.data(), n) != 0) return false;
        return kind != TokenKind::retry || other.port == port;
    }

    bool set_address(const Endpoint& peer) {
        if (peer.family() == AF_INET) {
            const auto* v4 = reinterpret_cast<const sockaddr_in*>(peer.sockaddr_ptr());
            family = 4;
            std::memcpy(address.data(), &v4->sin_addr, 4);
        } else if (peer.family() == AF_INET6) {
            const auto* v6 = reinterpret_cast<const sockaddr_in6*>(peer.sockaddr_ptr());
            family = 6;
            std::memcpy(address.data(), &v6->sin6_addr, 16);
        } else {
            return false;
        }
        port = kind == TokenKind::retry ? peer.port() : 0;
        return true;
    }
};

inline Bytes encode_token_plaintext(const AddressToken& t) {
    Bytes out;
    out.push_back(static_cast<std::uint8_t>(t.kind));
    for (int i = 7; i >= 0; --i) out.push_back(static_cast<std::uint8_t>(t.issued_ms >> (8 * i)));
    out.push_back(t.family);
    append(out, ByteView(t.address.data(), t.family == 4 ? 4 : 16));
    out.push_back(static_cast<std::uint8_t>(t.port >> 8));
    out.push_back(static_cast<std::uint8_t>(t.port));
    out.push_back(t.original_dcid.length);
    append(out, t.original_dcid.view());
    out.push_back(t.retry_scid.length);
    append(out, t.retry_scid.view());
    return out;
}

/// Parses an opened token; anything not exactly the layout above is `invalid_token`.
inline Result<AddressToken> parse_token_plaintext(ByteView plain) {
    wire::Reader r(plain);
    AddressToken t;
    const std::uint8_t kind = r.u8();
    if (kind != 1 && kind != 2) return make_error_code(Error::invalid_token);
    t.kind = static_cast<TokenKind>(kind);
    for (int i = 0; i < 8; ++i) t.issued_ms = t.issued_ms << 8 | r.u8();
    t.family = r.u8();
    if (t.family != 4 && t.family != 6) return make_error_code(Error::invalid_token);
    auto address = r.bytes(t.family == 4 ? 4 : 16);
    if (!r.ok()) return make_error_code(Error::invalid_token);
    std::copy(address.begin(), address.end(), t.address.begin());
    t.port = static_cast<std::uint16_t>(r.u8() << 8);
    t.port = static_cast<std::uint16_t>(t.port | r.u8());
    const std::size_t odcid_length = r.u8();
    auto odcid = r.bytes(odcid_length);
    const std::size_t rscid_length = r.u8();
    auto rscid = r.bytes(rscid_length);
    if (!r.ok() || !r.at_end() || odcid_length > max_connection_id_length || rscid_length > max_connection_id_length)
        return make_error_code(Error::invalid_token);
    // A Retry token names both connection IDs; a NEW_TOKEN token neither.
    if ((t.kind == TokenKind::retry) != (odcid_length > 0 && rscid_length > 0) ||
        (t.kind == TokenKind::new_token && (odcid_length || rscid_length || t.port)))
        return make_error_code(Error::invalid_token);
    t.original_dcid = ConnectionId(odcid);
    t.retry_scid = ConnectionId(rscid);
    return t;
}

inline constexpr std::string_view token_label = "tapsec QUIC address token v1";

template <class Crypto>
Bytes seal_token(ByteView key, const AddressToken& token, ByteView nonce) {
    Bytes out(nonce.begin(), nonce.end());
    Bytes text = encode_token_plaintext(token);
    const std::size_t at = out.size();
    append(out, text);
    out.resize(out.size() + token_tag_length);
    auto aead = Crypto::Aead::create(crypto::AeadAlgorithm::aes_256_gcm, key);
    if (!aead) return {};
    aead->seal_in_place(nonce, as_bytes(token_label), MutableByteView(out.data() + at, text.size()),
                        MutableByteView(out.data() + at + text.size(), token_tag_length));
    return out;
}

/// Opens and parses a token sealed under `key`; `invalid_token` for anything else.
template <class Crypto>
Result<AddressToken> open_token(ByteView key, ByteView sealed) {
    if (sealed.size() < token_nonce_length + token_tag_length + 1) return make_error_code(Error::invalid_token);
    Bytes text(sealed.begin() + token_nonce_length, sealed.end() - token_tag_length);
    auto aead = Crypto::Aead::create(crypto::AeadAlgorithm::aes_256_gcm, key);
    if (!aead) return make_error_code(Error::invalid_token);
    if (!aead->open_in_place(sealed.first(token_nonce_length), as_bytes(token_label), MutableByteView(text),
                             sealed.last(token_tag_length)))
        return make_error_code(Error::invalid_token);
    return parse_token_plaintext(text);
}

/// The stateless reset token of one of our connection IDs (10.3.2: a keyed function
/// of the CID, so the server need not remember it).
template <class Crypto>
std::array<std::uint8_t, stateless_reset_token_length> stateless_reset_token(ByteView reset_key, const ConnectionId& cid) {
    Bytes input(as_bytes(std::string_view("tapsec QUIC stateless reset")).begin(),
                as_bytes(std::string_view("tapsec QUIC stateless reset")).end());
    append(input, cid.view());
    const SecretBytes mac = Crypto::hmac(crypto::HashAlgorithm::sha256, reset_key, input);
    std::array<std::uint8_t, stateless_reset_token_length> token{};
    std::copy_n(mac.begin(), token.size(), token.begin());
    return token;
}

/// How large a Stateless Reset answering a `trigger_size`-byte packet may be (10.3,
/// 10.3.3): smaller than the trigger (no loops), at least 21 bytes; 0 = send none.
constexpr std::size_t stateless_reset_size(std::size_t trigger_size) noexcept {
    if (trigger_size <= min_stateless_reset_size) return 0;
    return std::min<std::size_t>(trigger_size - 1, 42);  // 42 looks like a short packet with a 20-byte CID
}

/// A Stateless Reset datagram: fixed bits 01, `unpredictable` bytes, then the token.
inline Bytes stateless_reset(ByteView unpredictable, const std::array<std::uint8_t, stateless_reset_token_length>& token) {
    Bytes out(unpredictable.begin(), unpredictable.end());
    out[0] = static_cast<std::uint8_t>(0x40 | (out[0] & 0x3f));
    append(out, token);
    return out;
}

}  // namespace tapsec::quic
