// DTLS 1.2 record framing (RFC 6347 4.1): the 13-byte header in front of every
// record, and the split of one datagram into its records. Botan parses records
// itself; tapsec parses the headers first so that malformed datagrams and records
// from an epoch this connection can never have are dropped *and counted* (Botan
// drops them silently), and so that DTLS can share a socket with SRTP (RFC 7983).
#pragma once

#include <cstdint>
#include <string>
#include <system_error>
#include <vector>

#include "../core/errors.hpp"
#include "../core/wire.hpp"

namespace tapsec::dtls {

enum class DtlsErrc {
    malformed_record = 1,
    unknown_content_type,
    unsupported_version,
    record_too_large,
    unknown_epoch,
    no_client_hello,
    other_peer,
};

inline const char* describe(DtlsErrc e) {
    switch (e) {
        case DtlsErrc::malformed_record: return "malformed DTLS record (header or length runs past the datagram)";
        case DtlsErrc::unknown_content_type: return "DTLS record of an unknown content type";
        case DtlsErrc::unsupported_version: return "DTLS record with an unsupported version";
        case DtlsErrc::record_too_large: return "DTLS record longer than 2^14 + 2048 bytes";
        case DtlsErrc::unknown_epoch: return "DTLS record from an unknown epoch";
        case DtlsErrc::no_client_hello:
            return "DTLS datagram before the cookie exchange that is not one whole ClientHello";
        case DtlsErrc::other_peer: return "DTLS datagram from an address other than the connection's peer";
    }
    return "unknown DTLS error";
}

/// The shared vocabulary (core/errors.hpp); no default, so a new value must be mapped.
constexpr condition condition_of(DtlsErrc e) noexcept {
    switch (e) {
        case DtlsErrc::malformed_record:
        case DtlsErrc::unknown_content_type:
        case DtlsErrc::record_too_large:
        case DtlsErrc::unknown_epoch:
        case DtlsErrc::no_client_hello:
        case DtlsErrc::other_peer: return condition::peer_misbehaved;
        case DtlsErrc::unsupported_version: return condition::peer_incompatible;
    }
    return condition::internal;
}

inline const std::error_category& dtls_category() noexcept {
    static const ProtocolErrorCategory<DtlsErrc> category("dtls");
    return category;
}
inline std::error_code make_error_code(DtlsErrc e) noexcept { return {static_cast<int>(e), dtls_category()}; }

enum class ContentType : std::uint8_t { change_cipher_spec = 20, alert = 21, handshake = 22, application_data = 23 };

inline constexpr std::size_t record_header_size = 13;
inline constexpr std::size_t max_ciphertext = (1u << 14) + 2048;  // RFC 6347 4.1 / RFC 5246 6.2.3
/// The most application data one DTLS record, and so one datagram, carries (RFC 5246 6.2.1).
inline constexpr std::size_t max_plaintext = 1u << 14;
inline constexpr std::uint16_t version_dtls10 = 0xfeff, version_dtls12 = 0xfefd;

struct Record {
    ContentType type;
    std::uint16_t version;
    std::uint16_t epoch;
    std::uint64_t sequence;  // 48 bits
    ByteView header_and_fragment;  // the whole record as it came
    ByteView fragment;
};

/// The handshake message header inside a handshake record (RFC 6347 4.2.2).
struct HandshakeFragment {
    std::uint8_t msg_type;
    std::uint32_t length;
    std::uint16_t message_seq;
    std::uint32_t fragment_offset;
    ByteView body;  // fragment_length bytes
    bool whole() const { return fragment_offset == 0 && body.size() == length; }
};
inline constexpr std::size_t handshake_header_size = 12;
inline constexpr std::uint8_t client_hello_type = 1, hello_verify_request_type = 3;

/// The first handshake message of a handshake record's fragment.
inline Result<HandshakeFragment> parse_handshake_fragment(ByteView fragment) {
    wire::Reader r(fragment);
    HandshakeFragment h{};
    h.msg_type = r.u8();
    h.length = static_cast<std::uint32_t>(r.uint(3));
    h.message_seq = r.u16();
    h.fragment_offset = static_cast<std::uint32_t>(r.uint(3));
    const auto fragment_length = static_cast<std::size_t>(r.uint(3));
    h.body = r.bytes(fragment_length);
    if (!r.ok() || h.fragment_offset + fragment_length > h.length) return make_error_code(DtlsErrc::malformed_record);
    return h;
}

/// Splits a datagram into DTLS records; an error if any header is malformed.
inline Result<std::vector<Record>> parse_datagram(ByteView datagram) {
    std::vector<Record> out;
    wire::Reader r(datagram);
    while (r.remaining() > 0) {
        const std::size_t start = r.position();
        const auto type = r.u8();
        const auto version = r.u16();
        const auto epoch = r.u16();
        const auto sequence = r.uint(6);
        const auto length = r.u16();
        if (!r.ok()) return make_error_code(DtlsErrc::malformed_record);
        if (type < 20 || type > 23) return make_error_code(DtlsErrc::unknown_content_type);
        if (version != version_dtls10 && version != version_dtls12) return make_error_code(DtlsErrc::unsupported_version);
        if (length > max_ciphertext) return make_error_code(DtlsErrc::record_too_large);
        const auto fragment = r.bytes(length);
        if (!r.ok()) return make_error_code(DtlsErrc::malformed_record);
        out.push_back({static_cast<ContentType>(type), version, epoch, sequence,
                       datagram.subspan(start, record_header_size + length), fragment});
    }
    if (out.empty()) return make_error_code(DtlsErrc::malformed_record);
    return out;
}

}  // namespace tapsec::dtls

template <>
struct std::is_error_code_enum<tapsec::dtls::DtlsErrc> : std::true_type {};
