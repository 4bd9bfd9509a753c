// TLS 1.3 handshake messages and extensions (RFC 8446 Section 4), encoded and
// decoded with core/wire.hpp. Pure codec: no state, no crypto. Every decoder
// checks lengths, rejects trailing bytes and duplicate extensions, and returns an
// error code instead of throwing on bad input (fuzz/tls13_handshake_fuzz.cpp).
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "../core/bytes.hpp"
#include "../core/errors.hpp"
#include "../core/wire.hpp"
#include "errors.hpp"

namespace tapsec::tls13 {

enum class HandshakeType : std::uint8_t {
    client_hello = 1,
    server_hello = 2,
    new_session_ticket = 4,
    end_of_early_data = 5,
    encrypted_extensions = 8,
    certificate = 11,
    certificate_request = 13,
    certificate_verify = 15,
    finished = 20,
    key_update = 24,
    message_hash = 254,
};

inline const char* to_string(HandshakeType t) {
    switch (t) {
        case HandshakeType::client_hello: return "ClientHello";
        case HandshakeType::server_hello: return "ServerHello";
        case HandshakeType::new_session_ticket: return "NewSessionTicket";
        case HandshakeType::end_of_early_data: return "EndOfEarlyData";
        case HandshakeType::encrypted_extensions: return "EncryptedExtensions";
        case HandshakeType::certificate: return "Certificate";
        case HandshakeType::certificate_request: return "CertificateRequest";
        case HandshakeType::certificate_verify: return "CertificateVerify";
        case HandshakeType::finished: return "Finished";
        case HandshakeType::key_update: return "KeyUpdate";
        case HandshakeType::message_hash: return "message_hash";
    }
    return "unknown";
}

/// Extension code points (RFC 8446 4.2, RFC 6066, RFC 7301, RFC 8449).
namespace ext {
inline constexpr std::uint16_t server_name = 0;
inline constexpr std::uint16_t supported_groups = 10;
inline constexpr std::uint16_t signature_algorithms = 13;
inline constexpr std::uint16_t alpn = 16;
inline constexpr std::uint16_t record_size_limit = 28;
inline constexpr std::uint16_t pre_shared_key = 41;
inline constexpr std::uint16_t early_data = 42;
inline constexpr std::uint16_t supported_versions = 43;
inline constexpr std::uint16_t cookie = 44;
inline constexpr std::uint16_t psk_key_exchange_modes = 45;
inline constexpr std::uint16_t certificate_authorities = 47;
inline constexpr std::uint16_t signature_algorithms_cert = 50;
inline constexpr std::uint16_t key_share = 51;
}  // namespace ext

/// Named groups (RFC 8446 4.2.7).
namespace group {
inline constexpr std::uint16_t secp256r1 = 0x0017;
inline constexpr std::uint16_t secp384r1 = 0x0018;
inline constexpr std::uint16_t x25519 = 0x001d;
inline constexpr std::uint16_t x448 = 0x001e;
inline constexpr std::uint16_t ffdhe2048 = 0x0100;  // RFC 7919
inline constexpr std::uint16_t ffdhe3072 = 0x0101;
}  // namespace group

inline constexpr std::uint16_t tls13_version = 0x0304;
inline constexpr std::uint16_t legacy_tls12_version = 0x0303;

/// The largest ClientHello body the encoding allows (4.1.2): version 2, random 32,
/// session id 1+32, cipher suites 2+65534, compression methods 1+255, extensions
/// 2+65535. The default ceiling on one handshake message (Config::max_handshake_message_size),
/// so every well-formed ClientHello is accepted.
inline constexpr std::size_t largest_client_hello = 2 + 32 + (1 + 32) + (2 + 65534) + (1 + 255) + (2 + 65535);
static_assert(largest_client_hello == 131396);

/// A handshake message's length field is 24 bits (4): no ceiling can exceed this.
inline constexpr std::size_t largest_handshake_message = (std::size_t{1} << 24) - 1;

/// The default ceiling on one handshake message's body (kept for callers that build a
/// MessageBuffer without a Config).
inline constexpr std::size_t max_handshake_message = largest_client_hello;

/// RFC 8446 4.1.3: the ServerHello.random of a HelloRetryRequest.
inline constexpr std::array<std::uint8_t, 32> hello_retry_request_random = {
    0xCF, 0x21, 0xAD, 0x74, 0xE5, 0x9A, 0x61, 0x11, 0xBE, 0x1D, 0x8C, 0x02, 0x1E, 0x65, 0xB8, 0x91,
    0xC2, 0xA2, 0x11, 0x16, 0x7A, 0xBB, 0x8C, 0x5E, 0x07, 0x9E, 0x09, 0xE2, 0xC8, 0xA8, 0x33, 0x9C};

/// RFC 8446 4.1.3: the last 8 bytes of ServerHello.random when a TLS 1.3 server
/// negotiates TLS 1.2 ("DOWNGRD\x01") or below ("DOWNGRD\x00").
inline constexpr std::array<std::uint8_t, 7> downgrade_sentinel_prefix = {0x44, 0x4F, 0x57, 0x4E, 0x47, 0x52, 0x44};

/// Shorthands for the decoders' error results.
inline std::error_code malformed() noexcept { return make_error_code(Error::malformed_handshake_message); }

struct Extension {
    std::uint16_t type = 0;
    Bytes data;
};

struct KeyShareEntry {
    std::uint16_t group = 0;
    Bytes key_exchange;
};

struct PskIdentity {
    Bytes identity;
    std::uint32_t obfuscated_ticket_age = 0;
};

/// Fields of ClientHello that TLS 1.3 uses, decoded from its extensions.
struct ClientHello {
    std::array<std::uint8_t, 32> random{};
    Bytes legacy_session_id;
    std::vector<std::uint16_t> cipher_suites;
    std::vector<Extension> extensions;  // as received, in order (pre_shared_key last)

    // decoded views of the extensions we act on
    std::optional<std::string> server_name;
    std::vector<std::uint16_t> supported_versions;
    std::vector<std::uint16_t> supported_groups;
    std::vector<std::uint16_t> signature_algorithms;
    std::optional<std::vector<KeyShareEntry>> key_shares;
    std::vector<std::string> alpn;
    std::optional<Bytes> cookie;
    std::vector<std::uint8_t> psk_modes;
    bool early_data = false;
    std::vector<PskIdentity> psk_identities;
    std::vector<Bytes> psk_binders;
    std::optional<std::uint16_t> record_size_limit;
    /// Extensions of a protocol carried over this handshake (Config::custom_extensions),
    /// sent as they are, before pre_shared_key.
    std::vector<Extension> custom_extensions;
};

/// ServerHello and HelloRetryRequest (same wire shape, told apart by the random).
struct ServerHello {
    std::array<std::uint8_t, 32> random{};
    Bytes legacy_session_id_echo;
    std::uint16_t cipher_suite = 0;
    std::uint8_t legacy_compression_method = 0;
    std::vector<Extension> extensions;

    std::optional<std::uint16_t> selected_version;
    std::optional<KeyShareEntry> key_share;        // ServerHello
    std::optional<std::uint16_t> selected_group;   // HelloRetryRequest
    std::optional<Bytes> cookie;                    // HelloRetryRequest
    std::optional<std::uint16_t> selected_psk;
    bool is_hello_retry_request() const {
        return std::equal(random.begin(), random.end(), hello_retry_request_random.begin());
    }
};

struct EncryptedExtensions {
    std::vector<Extension> extensions;
    std::optional<std::string> alpn;
    bool early_data = false;
    bool server_name_acknowledged = false;
    std::optional<std::uint16_t> record_size_limit;
    /// The server's groups in its preference order (4.2.7); informational to the client.
    std::vector<std::uint16_t> supported_groups;
};

struct CertificateEntry {
    Bytes data;  // DER X.509
    std::vector<Extension> extensions;
};

struct CertificateMessage {
    Bytes request_context;
    std::vector<CertificateEntry> entries;
};

struct CertificateRequest {
    Bytes request_context;
    std::vector<std::uint16_t> signature_algorithms;
    std::vector<Extension> extensions;
};

struct CertificateVerify {
    std::uint16_t algorithm = 0;
    Bytes signature;
};

struct NewSessionTicket {
    std::uint32_t lifetime = 0;
    std::uint32_t age_add = 0;
    Bytes nonce;
    Bytes ticket;
    std::optional<std::uint32_t> max_early_data_size;
    std::vector<Extension> extensions;
};

enum class KeyUpdateRequest : std::uint8_t { update_not_requested = 0, update_requested = 1 };

// ---- framing --------------------------------------------------------------------------

/// Wraps a body in the 4-byte handshake header (type, uint24 length).
inline Bytes frame(HandshakeType type, ByteView body) {
    Bytes out;
    out.reserve(body.size() + 4);
    wire::Writer w(out);
    w.u8(static_cast<std::uint8_t>(type));
    w.prefixed(3, body);
    return out;
}

/// A complete handshake message cut from the byte stream.
struct RawMessage {
    HandshakeType type;
    Bytes bytes;  // header + body, exactly as on the wire (what the transcript hashes)
    ByteView body() const { return ByteView(bytes).subspan(4); }
};

/// Collects handshake bytes from records (messages may span or share records) and
/// cuts whole messages. Refuses a declared length beyond the ceiling as soon as the
/// 4-byte header is in, before buffering the body: with next() called after each
/// add(), at most the ceiling plus one record's bytes are ever held.
class MessageBuffer {
public:
    /// `ceiling`: the largest body accepted (clamped to what 24 bits can say).
    explicit MessageBuffer(std::size_t ceiling = max_handshake_message)
        : ceiling_(std::min(ceiling, largest_handshake_message)) {}

    void add(ByteView data) { append(buffer_, data); }
    std::size_t ceiling() const noexcept { return ceiling_; }
    /// Bytes held: a message still incomplete and whatever follows it.
    std::size_t buffered() const noexcept { return buffer_.size(); }
    bool empty() const { return buffer_.empty(); }
    /// Frees the buffer's memory when it holds nothing (after the handshake).
    void release_if_empty() {
        if (buffer_.empty()) Bytes().swap(buffer_);
    }

    /// The next complete message, std::nullopt if more bytes are needed, or an error.
    Result<std::optional<RawMessage>> next() {
        if (buffer_.size() < 4) return std::optional<RawMessage>{};
        const std::size_t length = std::size_t{buffer_[1]} << 16 | std::size_t{buffer_[2]} << 8 | buffer_[3];
        if (length > ceiling_) return make_error_code(Error::handshake_message_too_large);
        if (buffer_.size() < 4 + length) return std::optional<RawMessage>{};
        RawMessage m{static_cast<HandshakeType>(buffer_[0]), Bytes(buffer_.begin(), buffer_.begin() + 4 + length)};
        buffer_.erase(buffer_.begin(), buffer_.begin() + 4 + static_cast<std::ptrdiff_t>(length));
        return std::optional<RawMessage>{std::move(m)};
    }

private:
    std::size_t ceiling_;
    Bytes buffer_;
};

// ---- extension helpers ---------------------------------------------------------------

namespace detail {

/// True when two extensions share a type (RFC 8446 4.2: "MUST NOT" appear twice). Sorts
/// a copy of the types: O(n log n) for the up to 16383 extensions a 64 KiB block holds,
/// where comparing each with all before it would let a peer buy a quadratic scan.
inline bool has_duplicate_extension(std::span<const Extension> extensions) {
    std::vector<std::uint16_t> types;
    types.reserve(extensions.size());
    for (const auto& x : extensions) types.push_back(x.type);
    std::sort(types.begin(), types.end());
    return std::adjacent_find(types.begin(), types.end()) != types.end();
}

inline bool parse_extensions(wire::Reader& r, std::vector<Extension>& out) {
    auto block = r.prefixed(2);
    if (!r.ok()) return false;
    wire::Reader e(block);
    const std::size_t first = out.size();
    while (e.ok() && !e.at_end()) {
        Extension x;
        x.type = e.u16();
        auto data = e.prefixed(2);
        if (!e.ok()) return false;
        x.data.assign(data.begin(), data.end());
        out.push_back(std::move(x));
    }
    return e.ok() && !has_duplicate_extension(std::span<const Extension>(out).subspan(first));
}

inline void write_extensions(wire::Writer& w, const std::vector<Extension>& extensions) {
    const auto at = w.begin_prefixed(2);
    for (const auto& x : extensions) {
        w.u16(x.type);
        w.prefixed(2, x.data);
    }
    w.end_prefixed(at, 2);
}

inline bool read_u16_list(ByteView data, std::size_t prefix, std::vector<std::uint16_t>& out, bool allow_empty = false) {
    wire::Reader r(data);
    auto list = r.prefixed(prefix);
    if (!r.at_end() || list.size() % 2 || (!allow_empty && list.empty())) return false;
    wire::Reader l(list);
    while (!l.at_end()) out.push_back(l.u16());
    return true;
}

inline Bytes u16_list(const std::vector<std::uint16_t>& values, std::size_t prefix) {
    Bytes out;
    wire::Writer w(out);
    const auto at = w.begin_prefixed(prefix);
    for (auto v : values) w.u16(v);
    w.end_prefixed(at, prefix);
    return out;
}

inline bool read_alpn(ByteView data, std::vector<std::string>& out) {
    wire::Reader r(data);
    auto list = r.prefixed(2);
    if (!r.at_end() || list.empty()) return false;
    wire::Reader l(list);
    while (l.ok() && !l.at_end()) {
        auto name = l.prefixed(1);
        if (!l.ok() || name.empty()) return false;
        out.emplace_back(name.begin(), name.end());
    }
    return l.ok();
}

inline Bytes alpn_list(const std::vector<std::string>& names) {
    Bytes out;
    wire::Writer w(out);
    const auto at = w.begin_prefixed(2);
    for (const auto& n : names) w.prefixed(1, as_bytes(n));
    w.end_prefixed(at, 2);
    return out;
}

}  // namespace detail

inline const Extension* find_extension(const std::vector<Extension>& list, std::uint16_t type) {
    for (const auto& x : list)
        if (x.type == type) return &x;
    return nullptr;
}

// ---- ClientHello ------------------------------------------------------------------------

/// Serialises a ClientHello from its decoded fields. `binders_length_out`, when given,
/// receives the size of the trailing binders list (for the PSK binder transcript).
inline Bytes encode(const ClientHello& ch, std::size_t* binders_length_out = nullptr) {
    std::vector<Extension> x;
    if (ch.server_name) {
        Bytes d;
        wire::Writer w(d);
        const auto at = w.begin_prefixed(2);
        w.u8(0);  // host_name
        w.prefixed(2, as_bytes(*ch.server_name));
        w.end_prefixed(at, 2);
        x.push_back({ext::server_name, std::move(d)});
    }
    if (!ch.supported_groups.empty()) x.push_back({ext::supported_groups, detail::u16_list(ch.supported_groups, 2)});
    if (!ch.signature_algorithms.empty())
        x.push_back({ext::signature_algorithms, detail::u16_list(ch.signature_algorithms, 2)});
    if (!ch.alpn.empty()) x.push_back({ext::alpn, detail::alpn_list(ch.alpn)});
    if (ch.record_size_limit) {
        Bytes d;
        wire::Writer(d).u16(*ch.record_size_limit);
        x.push_back({ext::record_size_limit, std::move(d)});
    }
    x.push_back({ext::supported_versions, [&] {
                     Bytes d;
                     wire::Writer w(d);
                     w.u8(static_cast<std::uint8_t>(ch.supported_versions.size() * 2));
                     for (auto v : ch.supported_versions) w.u16(v);
                     return d;
                 }()});
    if (ch.cookie) {
        Bytes d;
        wire::Writer(d).prefixed(2, *ch.cookie);
        x.push_back({ext::cookie, std::move(d)});
    }
    if (ch.key_shares) {
        Bytes d;
        wire::Writer w(d);
        const auto at = w.begin_prefixed(2);
        for (const auto& k : *ch.key_shares) {
            w.u16(k.group);
            w.prefixed(2, k.key_exchange);
        }
        w.end_prefixed(at, 2);
        x.push_back({ext::key_share, std::move(d)});
    }
    if (!ch.psk_modes.empty()) {
        Bytes d;
        wire::Writer(d).prefixed(1, ch.psk_modes);
        x.push_back({ext::psk_key_exchange_modes, std::move(d)});
    }
    if (ch.early_data) x.push_back({ext::early_data, {}});
    x.insert(x.end(), ch.custom_extensions.begin(), ch.custom_extensions.end());
    std::size_t binders_length = 0;
    if (!ch.psk_identities.empty()) {  // must be last (RFC 8446 4.2.11)
        Bytes d;
        wire::Writer w(d);
        auto at = w.begin_prefixed(2);
        for (const auto& id : ch.psk_identities) {
            w.prefixed(2, id.identity);
            w.u32(id.obfuscated_ticket_age);
        }
        w.end_prefixed(at, 2);
        const std::size_t before = d.size();
        at = w.begin_prefixed(2);
        for (const auto& b : ch.psk_binders) w.prefixed(1, b);
        w.end_prefixed(at, 2);
        binders_length = d.size() - before;
        x.push_back({ext::pre_shared_key, std::move(d)});
    }
    Bytes body;
    wire::Writer w(body);
    w.u16(legacy_tls12_version);
    w.bytes(ch.random);
    w.prefixed(1, ch.legacy_session_id);
    w.prefixed(2, detail::u16_list(ch.cipher_suites, 0));
    w.u8(1);
    w.u8(0);  // legacy_compression_methods = { null }
    detail::write_extensions(w, x);
    if (binders_length_out) *binders_length_out = binders_length;
    return frame(HandshakeType::client_hello, body);
}

// ClientHello decoding, one named step per part: the fixed fields, then each extension
// we act on. Every step checks its own lengths and returns false on malformed input.
namespace detail {

/// legacy_version .. legacy_compression_methods (4.1.2).
inline bool read_client_hello_fixed_fields(wire::Reader& r, ClientHello& ch) {
    r.u16();  // legacy_version: ignored in TLS 1.3 (supported_versions decides)
    auto random = r.bytes(32);
    auto session = r.prefixed(1);
    auto suites = r.prefixed(2);
    auto compression = r.prefixed(1);
    if (!r.ok() || session.size() > 32 || suites.size() % 2 || suites.empty()) return false;
    std::copy(random.begin(), random.end(), ch.random.begin());
    ch.legacy_session_id.assign(session.begin(), session.end());
    for (wire::Reader s(suites); !s.at_end();) ch.cipher_suites.push_back(s.u16());
    return std::find(compression.begin(), compression.end(), 0) != compression.end();  // "null" must be offered
}

/// RFC 6066 3: the first host_name entry; other name types are skipped.
inline bool read_server_name(ByteView data, std::optional<std::string>& out) {
    wire::Reader e(data);
    auto list = e.prefixed(2);
    if (!e.at_end()) return false;
    wire::Reader l(list);
    while (l.ok() && !l.at_end()) {
        const auto type = l.u8();
        auto name = l.prefixed(2);
        if (!l.ok() || name.empty()) return false;
        if (type == 0 && !out) out = std::string(name.begin(), name.end());
    }
    return l.ok();
}

inline bool read_record_size_limit(ByteView data, std::optional<std::uint16_t>& out) {
    wire::Reader e(data);
    out = e.u16();
    return e.at_end();
}

inline bool read_cookie(ByteView data, std::optional<Bytes>& out) {
    wire::Reader e(data);
    auto c = e.prefixed(2);
    if (!e.at_end() || c.empty()) return false;
    out = Bytes(c.begin(), c.end());
    return true;
}

/// 4.2.8: KeyShareEntry list, at most one share per group (checked by sorting, not by
/// comparing each share with every other).
inline bool read_client_key_shares(ByteView data, std::optional<std::vector<KeyShareEntry>>& out) {
    wire::Reader e(data);
    auto list = e.prefixed(2);
    if (!e.at_end()) return false;
    std::vector<KeyShareEntry> shares;
    wire::Reader l(list);
    while (l.ok() && !l.at_end()) {
        KeyShareEntry k;
        k.group = l.u16();
        auto key = l.prefixed(2);
        if (!l.ok() || key.empty()) return false;
        k.key_exchange.assign(key.begin(), key.end());
        shares.push_back(std::move(k));
    }
    if (!l.ok()) return false;
    std::vector<std::uint16_t> groups;
    groups.reserve(shares.size());
    for (const auto& k : shares) groups.push_back(k.group);
    std::sort(groups.begin(), groups.end());
    if (std::adjacent_find(groups.begin(), groups.end()) != groups.end()) return false;
    out = std::move(shares);
    return true;
}

inline bool read_psk_modes(ByteView data, std::vector<std::uint8_t>& out) {
    wire::Reader e(data);
    auto modes = e.prefixed(1);
    if (!e.at_end() || modes.empty()) return false;
    out.assign(modes.begin(), modes.end());
    return true;
}

/// 4.2.11: identities and binders, one binder per identity, each at least 32 bytes.
inline bool read_pre_shared_key(ByteView data, ClientHello& ch) {
    wire::Reader e(data);
    auto ids = e.prefixed(2);
    auto binders = e.prefixed(2);
    if (!e.at_end() || ids.empty() || binders.empty()) return false;
    wire::Reader l(ids);
    while (l.ok() && !l.at_end()) {
        PskIdentity id;
        auto identity = l.prefixed(2);
        id.obfuscated_ticket_age = l.u32();
        if (!l.ok() || identity.empty()) return false;
        id.identity.assign(identity.begin(), identity.end());
        ch.psk_identities.push_back(std::move(id));
    }
    wire::Reader b(binders);
    while (l.ok() && b.ok() && !b.at_end()) {
        auto binder = b.prefixed(1);
        if (!b.ok() || binder.size() < 32) return false;
        ch.psk_binders.emplace_back(binder.begin(), binder.end());
    }
    return l.ok() && b.ok() && ch.psk_binders.size() == ch.psk_identities.size();
}

/// One ClientHello extension into its decoded field; `last` says whether it ends the
/// list (pre_shared_key must). Unknown extensions are kept in ch.extensions, ignored here.
inline bool read_client_hello_extension(const Extension& x, bool last, ClientHello& ch) {
    switch (x.type) {
        case ext::server_name: return read_server_name(x.data, ch.server_name);
        case ext::supported_groups: return read_u16_list(x.data, 2, ch.supported_groups);
        case ext::signature_algorithms: return read_u16_list(x.data, 2, ch.signature_algorithms);
        case ext::alpn: return read_alpn(x.data, ch.alpn);
        case ext::record_size_limit: return read_record_size_limit(x.data, ch.record_size_limit);
        case ext::supported_versions: return read_u16_list(x.data, 1, ch.supported_versions);
        case ext::cookie: return read_cookie(x.data, ch.cookie);
        case ext::key_share: return read_client_key_shares(x.data, ch.key_shares);
        case ext::psk_key_exchange_modes: return read_psk_modes(x.data, ch.psk_modes);
        case ext::early_data:
            ch.early_data = true;
            return x.data.empty();
        case ext::pre_shared_key: return last && read_pre_shared_key(x.data, ch);
        default: return true;
    }
}

}  // namespace detail

/// Decodes a ClientHello body. Unknown extensions are kept but ignored.
inline Result<ClientHello> decode_client_hello(ByteView body) {
    ClientHello ch;
    wire::Reader r(body);
    if (!detail::read_client_hello_fixed_fields(r, ch)) return malformed();
    if (r.at_end()) return ch;  // a TLS 1.2-style hello without extensions
    if (!detail::parse_extensions(r, ch.extensions) || !r.at_end()) return malformed();
    for (std::size_t i = 0; i < ch.extensions.size(); ++i)
        if (!detail::read_client_hello_extension(ch.extensions[i], i + 1 == ch.extensions.size(), ch))
            return malformed();
    return ch;
}

/// Size of the binders list at the end of an encoded ClientHello (for the truncated
/// transcript the binders are computed over, RFC 8446 4.2.11.2).
inline std::size_t binders_length(const ClientHello& ch) {
    std::size_t n = 2;
    for (const auto& b : ch.psk_binders) n += 1 + b.size();
    return n;
}

// ---- ServerHello / HelloRetryRequest ---------------------------------------------------

inline Bytes encode(const ServerHello& sh) {
    // Extension order is free (RFC 8446 4.2); this is NSS's, so RFC 8448's traces come
    // out byte for byte.
    std::vector<Extension> x;
    if (sh.selected_psk) {
        Bytes d;
        wire::Writer(d).u16(*sh.selected_psk);
        x.push_back({ext::pre_shared_key, std::move(d)});
    }
    if (sh.key_share) {
        Bytes d;
        wire::Writer w(d);
        w.u16(sh.key_share->group);
        w.prefixed(2, sh.key_share->key_exchange);
        x.push_back({ext::key_share, std::move(d)});
    } else if (sh.selected_group) {
        Bytes d;
        wire::Writer(d).u16(*sh.selected_group);
        x.push_back({ext::key_share, std::move(d)});
    }
    if (sh.cookie) {
        Bytes d;
        wire::Writer(d).prefixed(2, *sh.cookie);
        x.push_back({ext::cookie, std::move(d)});
    }
    {
        Bytes d;
        wire::Writer(d).u16(sh.selected_version.value_or(tls13_version));
        x.push_back({ext::supported_versions, std::move(d)});
    }
    Bytes body;
    wire::Writer w(body);
    w.u16(legacy_tls12_version);
    w.bytes(sh.random);
    w.prefixed(1, sh.legacy_session_id_echo);
    w.u16(sh.cipher_suite);
    w.u8(0);
    detail::write_extensions(w, x);
    return frame(HandshakeType::server_hello, body);
}

inline Result<ServerHello> decode_server_hello(ByteView body) {
    ServerHello sh;
    wire::Reader r(body);
    const auto legacy_version = r.u16();
    auto random = r.bytes(32);
    auto session = r.prefixed(1);
    sh.cipher_suite = r.u16();
    sh.legacy_compression_method = r.u8();
    if (!r.ok() || session.size() > 32) return malformed();
    std::copy(random.begin(), random.end(), sh.random.begin());
    sh.legacy_session_id_echo.assign(session.begin(), session.end());
    if (r.at_end()) {  // no extensions at all: a TLS 1.2 (or older) server
        if (legacy_version < legacy_tls12_version || legacy_version == legacy_tls12_version) return sh;
        return malformed();
    }
    if (!detail::parse_extensions(r, sh.extensions) || !r.at_end()) return malformed();
    const bool hrr = sh.is_hello_retry_request();
    for (const auto& x : sh.extensions) {
        wire::Reader e(x.data);
        switch (x.type) {
            case ext::supported_versions:
                sh.selected_version = e.u16();
                break;
            case ext::key_share:
                if (hrr) {
                    sh.selected_group = e.u16();
                } else {
                    KeyShareEntry k;
                    k.group = e.u16();
                    auto key = e.prefixed(2);
                    if (key.empty()) return malformed();
                    k.key_exchange.assign(key.begin(), key.end());
                    sh.key_share = std::move(k);
                }
                break;
            case ext::cookie: {
                auto c = e.prefixed(2);
                if (c.empty()) return malformed();
                sh.cookie = Bytes(c.begin(), c.end());
                break;
            }
            case ext::pre_shared_key:
                sh.selected_psk = e.u16();
                break;
            default: return make_error_code(Error::unsupported_extension);  // 4.1.4/4.2: only what we offered may come back
        }
        if (!e.at_end()) return malformed();
    }
    return sh;
}

// ---- EncryptedExtensions ------------------------------------------------------------------

inline Bytes encode(const EncryptedExtensions& ee) {
    std::vector<Extension> x = ee.extensions;
    if (ee.record_size_limit) {  // NSS's order (see encode(ServerHello))
        Bytes d;
        wire::Writer(d).u16(*ee.record_size_limit);
        x.push_back({ext::record_size_limit, std::move(d)});
    }
    if (ee.server_name_acknowledged) x.push_back({ext::server_name, {}});
    if (ee.alpn) x.push_back({ext::alpn, detail::alpn_list({*ee.alpn})});
    if (ee.early_data) x.push_back({ext::early_data, {}});
    if (!ee.supported_groups.empty()) x.push_back({ext::supported_groups, detail::u16_list(ee.supported_groups, 2)});
    Bytes body;
    wire::Writer w(body);
    detail::write_extensions(w, x);
    return frame(HandshakeType::encrypted_extensions, body);
}

inline Result<EncryptedExtensions> decode_encrypted_extensions(ByteView body) {
    EncryptedExtensions ee;
    wire::Reader r(body);
    if (!detail::parse_extensions(r, ee.extensions) || !r.at_end()) return malformed();
    for (const auto& x : ee.extensions) {
        wire::Reader e(x.data);
        switch (x.type) {
            case ext::server_name:
                if (!x.data.empty()) return malformed();
                ee.server_name_acknowledged = true;
                break;
            case ext::alpn: {
                std::vector<std::string> names;
                if (!detail::read_alpn(x.data, names) || names.size() != 1) return malformed();
                ee.alpn = names.front();
                break;
            }
            case ext::record_size_limit:
                ee.record_size_limit = e.u16();
                if (!e.at_end()) return malformed();
                break;
            case ext::early_data:
                if (!x.data.empty()) return malformed();
                ee.early_data = true;
                break;
            case ext::supported_groups:  // informational (4.2.7): kept, never acted on
                if (!detail::read_u16_list(x.data, 2, ee.supported_groups) || ee.supported_groups.empty())
                    return malformed();
                break;
            case ext::key_share:
            case ext::supported_versions:
            case ext::pre_shared_key:
            case ext::cookie:
            case ext::psk_key_exchange_modes:
            case ext::signature_algorithms: return make_error_code(Error::unsupported_extension);  // not allowed in EE
            default: break;
        }
    }
    return ee;
}

// ---- Certificate ---------------------------------------------------------------------------

inline Bytes encode(const CertificateMessage& c) {
    Bytes body;
    wire::Writer w(body);
    w.prefixed(1, c.request_context);
    const auto at = w.begin_prefixed(3);
    for (const auto& e : c.entries) {
        w.prefixed(3, e.data);
        detail::write_extensions(w, e.extensions);
    }
    w.end_prefixed(at, 3);
    return frame(HandshakeType::certificate, body);
}

inline Result<CertificateMessage> decode_certificate(ByteView body) {
    CertificateMessage c;
    wire::Reader r(body);
    auto context = r.prefixed(1);
    auto list = r.prefixed(3);
    if (!r.at_end()) return malformed();
    c.request_context.assign(context.begin(), context.end());
    wire::Reader l(list);
    while (l.ok() && !l.at_end()) {
        CertificateEntry e;
        auto data = l.prefixed(3);
        if (!l.ok() || data.empty()) return malformed();
        e.data.assign(data.begin(), data.end());
        if (!detail::parse_extensions(l, e.extensions)) return malformed();
        c.entries.push_back(std::move(e));
    }
    if (!l.ok()) return malformed();
    return c;
}

// ---- CertificateRequest ------------------------------------------------------------------

inline Bytes encode(const CertificateRequest& cr) {
    std::vector<Extension> x = cr.extensions;
    x.push_back({ext::signature_algorithms, detail::u16_list(cr.signature_algorithms, 2)});
    Bytes body;
    wire::Writer w(body);
    w.prefixed(1, cr.request_context);
    detail::write_extensions(w, x);
    return frame(HandshakeType::certificate_request, body);
}

inline Result<CertificateRequest> decode_certificate_request(ByteView body) {
    CertificateRequest cr;
    wire::Reader r(body);
    auto context = r.prefixed(1);
    if (!r.ok() || !detail::parse_extensions(r, cr.extensions) || !r.at_end()) return malformed();
    cr.request_context.assign(context.begin(), context.end());
    const auto* sa = find_extension(cr.extensions, ext::signature_algorithms);
    if (!sa || !detail::read_u16_list(sa->data, 2, cr.signature_algorithms)) return malformed();  // mandatory
    return cr;
}

// ---- CertificateVerify, Finished, KeyUpdate, EndOfEarlyData ----------------------------------

inline Bytes encode(const CertificateVerify& cv) {
    Bytes body;
    wire::Writer w(body);
    w.u16(cv.algorithm);
    w.prefixed(2, cv.signature);
    return frame(HandshakeType::certificate_verify, body);
}

inline Result<CertificateVerify> decode_certificate_verify(ByteView body) {
    CertificateVerify cv;
    wire::Reader r(body);
    cv.algorithm = r.u16();
    auto sig = r.prefixed(2);
    if (!r.at_end() || sig.empty()) return malformed();
    cv.signature.assign(sig.begin(), sig.end());
    return cv;
}

inline Bytes encode_finished(ByteView verify_data) { return frame(HandshakeType::finished, verify_data); }

inline Bytes encode_key_update(KeyUpdateRequest request) {
    const std::uint8_t b = static_cast<std::uint8_t>(request);
    return frame(HandshakeType::key_update, ByteView(&b, 1));
}

/// 6.2's classes: a body that is not one byte cannot be parsed (decode_error); a byte
/// that is neither defined value is a parsed but illegal value (illegal_parameter).
inline Result<KeyUpdateRequest> decode_key_update(ByteView body) {
    if (body.size() != 1) return malformed();
    if (body[0] > 1) return make_error_code(Error::invalid_key_update);
    return static_cast<KeyUpdateRequest>(body[0]);
}

inline Bytes encode_end_of_early_data() { return frame(HandshakeType::end_of_early_data, {}); }

// ---- NewSessionTicket ----------------------------------------------------------------------

inline Bytes encode(const NewSessionTicket& t) {
    std::vector<Extension> x = t.extensions;
    if (t.max_early_data_size) {
        Bytes d;
        wire::Writer(d).u32(*t.max_early_data_size);
        x.push_back({ext::early_data, std::move(d)});
    }
    Bytes body;
    wire::Writer w(body);
    w.u32(t.lifetime);
    w.u32(t.age_add);
    w.prefixed(1, t.nonce);
    w.prefixed(2, t.ticket);
    detail::write_extensions(w, x);
    return frame(HandshakeType::new_session_ticket, body);
}

inline Result<NewSessionTicket> decode_new_session_ticket(ByteView body) {
    NewSessionTicket t;
    wire::Reader r(body);
    t.lifetime = r.u32();
    t.age_add = r.u32();
    auto nonce = r.prefixed(1);
    auto ticket = r.prefixed(2);
    if (!r.ok() || ticket.empty() || !detail::parse_extensions(r, t.extensions) || !r.at_end())
        return malformed();
    if (t.lifetime > 604800) return malformed();  // 4.6.1: at most seven days
    t.nonce.assign(nonce.begin(), nonce.end());
    t.ticket.assign(ticket.begin(), ticket.end());
    if (const auto* ed = find_extension(t.extensions, ext::early_data)) {
        wire::Reader e(ed->data);
        t.max_early_data_size = e.u32();
        if (!e.at_end()) return malformed();
    }
    return t;
}

}  // namespace tapsec::tls13
