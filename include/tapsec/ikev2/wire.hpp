// IKEv2 message formats (RFC 7296 section 3): the header, the generic payload chain,
// and one codec per payload this implementation speaks (SA, KE, Ni/Nr, IDi/IDr, AUTH,
// N, D, TSi/TSr, CP, SK). Parsing never reads past its input; every length is checked
// against its container and every failure is an error code, never an exception.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "../core/bytes.hpp"
#include "../core/errors.hpp"
#include "../core/wire.hpp"
#include "errors.hpp"

namespace tapsec::ikev2 {

inline constexpr std::size_t header_size = 28;
inline constexpr std::size_t generic_header_size = 4;
inline constexpr std::uint8_t version_2_0 = 0x20;
/// RFC 3948 / RFC 7296 2.23: on UDP 4500 an IKE message follows four zero octets.
inline constexpr std::size_t non_esp_marker_size = 4;
/// The largest IKE datagram accepted (RFC 7296 asks for at least 1280). A larger message
/// arrives in fragments (RFC 7383), each within this limit, reassembled within its own.
inline constexpr std::size_t max_message_size = 16384;

enum class ExchangeType : std::uint8_t {
    ike_sa_init = 34,
    ike_auth = 35,
    create_child_sa = 36,
    informational = 37,
    ike_session_resume = 38,  // RFC 5723 4.3.1
};

namespace flags {
inline constexpr std::uint8_t initiator = 0x08, version = 0x10, response = 0x20;
}

enum class PayloadType : std::uint8_t {
    none = 0,
    sa = 33,
    ke = 34,
    idi = 35,
    idr = 36,
    cert = 37,
    certreq = 38,
    auth = 39,
    nonce = 40,
    notify = 41,
    del = 42,
    vendor_id = 43,
    tsi = 44,
    tsr = 45,
    sk = 46,
    cp = 47,
    eap = 48,
    skf = 53,  // Encrypted Fragment (RFC 7383 2.5)
};

enum class ProtocolId : std::uint8_t { ike = 1, ah = 2, esp = 3 };

enum class TransformType : std::uint8_t { encr = 1, prf = 2, integ = 3, dh = 4, esn = 5 };
namespace encr { inline constexpr std::uint16_t aes_cbc = 12, aes_gcm_16 = 20, chacha20_poly1305 = 28; }
namespace prf_id { inline constexpr std::uint16_t hmac_sha2_256 = 5; }
namespace integ { inline constexpr std::uint16_t none = 0, hmac_sha2_256_128 = 12, hmac_sha2_384_192 = 13, hmac_sha2_512_256 = 14; }
namespace dh { inline constexpr std::uint16_t modp_2048 = 14, ecp_256 = 19, curve25519 = 31; }
namespace esn { inline constexpr std::uint16_t no = 0, yes = 1; }
inline constexpr std::uint16_t attribute_key_length = 14;  // TV format, with the AF bit: 0x800E

enum class NotifyType : std::uint16_t {
    unsupported_critical_payload = 1,
    invalid_ike_spi = 4,
    invalid_major_version = 5,
    invalid_syntax = 7,
    invalid_message_id = 9,
    invalid_spi = 11,
    no_proposal_chosen = 14,
    invalid_ke_payload = 17,
    authentication_failed = 24,
    single_pair_required = 34,
    no_additional_sas = 35,
    internal_address_failure = 36,
    failed_cp_required = 37,
    ts_unacceptable = 38,
    invalid_selectors = 39,
    temporary_failure = 43,
    child_sa_not_found = 44,
    initial_contact = 16384,
    set_window_size = 16385,
    additional_ts_possible = 16386,
    ipcomp_supported = 16387,
    nat_detection_source_ip = 16388,
    nat_detection_destination_ip = 16389,
    cookie = 16390,
    use_transport_mode = 16391,
    rekey_sa = 16393,
    esp_tfc_padding_not_supported = 16394,
    non_first_fragments_also = 16395,
    mobike_supported = 16396,     // RFC 4555 4.1
    ticket_request = 16406,       // RFC 5723 7: the initiator asks for a ticket
    ticket_ack = 16407,           // RFC 5723 7: a ticket will follow later (we never send it)
    ticket_nack = 16408,          // RFC 5723 7: no ticket, or a ticket refused
    ticket_lt_opaque = 16409,     // RFC 5723 7: Lifetime (4 octets, seconds) | ticket
    ticket_opaque = 16410,        // RFC 5723 7: the ticket, in IKE_SESSION_RESUME
    update_sa_addresses = 16400,  // RFC 4555 4.3
    cookie2 = 16401,              // RFC 4555 4.4: echoed in the response
    ikev2_fragmentation_supported = 16430,  // RFC 7383 2.3: in IKE_SA_INIT, both ways
    signature_hash_algorithms = 16431,  // RFC 7427 4
};
/// Notify types below 16384 report errors (RFC 7296 3.10.1).
constexpr bool is_error(NotifyType t) noexcept { return static_cast<std::uint16_t>(t) < 16384; }

enum class IdType : std::uint8_t { ipv4_addr = 1, fqdn = 2, rfc822_addr = 3, ipv6_addr = 5, der_asn1_dn = 9, key_id = 11 };
enum class AuthMethod : std::uint8_t { rsa_signature = 1, shared_key_mic = 2, dss_signature = 3, digital_signature = 14 };
inline constexpr std::uint8_t ts_ipv4_addr_range = 7, ts_ipv6_addr_range = 8;
/// CERT / CERTREQ encoding (RFC 7296 3.6): a DER X.509 certificate; for CERTREQ, the
/// concatenated SHA-1 hashes of trusted CAs' SubjectPublicKeyInfo.
inline constexpr std::uint8_t cert_x509_signature = 4;
inline constexpr std::size_t certreq_hash_size = 20;
/// Hash algorithm identifiers of SIGNATURE_HASH_ALGORITHMS (RFC 7427 7, RFC 8420 2).
namespace signature_hash { inline constexpr std::uint16_t sha1 = 1, sha2_256 = 2, sha2_384 = 3, sha2_512 = 4, identity = 5; }

struct Header {
    std::uint64_t spi_i = 0, spi_r = 0;
    PayloadType next_payload = PayloadType::none;
    std::uint8_t version = version_2_0;
    ExchangeType exchange = ExchangeType::ike_sa_init;
    std::uint8_t flags = 0;
    std::uint32_t message_id = 0;
    std::uint32_t length = 0;
    bool is_response() const noexcept { return flags & flags::response; }
    bool from_initiator() const noexcept { return flags & flags::initiator; }
};

struct Transform {
    TransformType type{};
    std::uint16_t id = 0;
    std::optional<std::uint16_t> key_length;  // bits (Key Length attribute)
    friend bool operator==(const Transform&, const Transform&) = default;
};

struct Proposal {
    std::uint8_t number = 1;
    ProtocolId protocol = ProtocolId::ike;
    Bytes spi;
    std::vector<Transform> transforms;
};

struct SaPayload { std::vector<Proposal> proposals; };
struct KePayload { std::uint16_t group = 0; Bytes data; };
struct IdPayload {
    IdType type = IdType::fqdn;
    Bytes data;
    /// IDType | RESERVED | data: the octets AUTH's MACedID covers (RFC 7296 2.15).
    Bytes body() const {
        Bytes b{static_cast<std::uint8_t>(type), 0, 0, 0};
        append(b, data);
        return b;
    }
    friend bool operator==(const IdPayload&, const IdPayload&) = default;
};
struct AuthPayload { AuthMethod method = AuthMethod::shared_key_mic; Bytes data; };
/// CERT and CERTREQ (RFC 7296 3.6, 3.7): an encoding octet and its data.
struct CertPayload { std::uint8_t encoding = cert_x509_signature; Bytes data; };
/// AUTH data of the Digital Signature method (RFC 7427 3): a length octet, the DER
/// AlgorithmIdentifier of the signature scheme, then the signature.
struct SignatureAuth { Bytes algorithm; Bytes signature; };
struct NotifyPayload {
    ProtocolId protocol{0};
    Bytes spi;
    NotifyType type{};
    Bytes data;
};
struct DeletePayload {
    ProtocolId protocol = ProtocolId::ike;
    std::uint8_t spi_size = 0;
    std::vector<Bytes> spis;
};
enum class IpFamily : std::uint8_t { ipv4 = 4, ipv6 = 6 };
/// An address range with a protocol and port range: TS_IPV4_ADDR_RANGE or
/// TS_IPV6_ADDR_RANGE (RFC 7296 3.13.1). The addresses are in network order; an IPv4
/// selector uses the first four octets and leaves the rest zero, so comparing the
/// arrays compares the addresses in either family.
struct TrafficSelector {
    IpFamily family = IpFamily::ipv4;
    std::uint8_t ip_protocol = 0;  // 0: any
    std::uint16_t start_port = 0, end_port = 65535;
    std::array<std::uint8_t, 16> start{}, end{};
    std::size_t address_size() const { return family == IpFamily::ipv6 ? 16 : 4; }
    friend bool operator==(const TrafficSelector&, const TrafficSelector&) = default;
};
struct TsPayload { std::vector<TrafficSelector> selectors; };

/// The configuration payload (RFC 7296 3.15): what an initiator asks of the responder
/// (CFG_REQUEST, attributes empty or carrying a preference) and what it gets (CFG_REPLY).
enum class CfgType : std::uint8_t { request = 1, reply = 2, set = 3, ack = 4 };
namespace cp_attribute {
inline constexpr std::uint16_t internal_ip4_address = 1, internal_ip4_netmask = 2, internal_ip4_dns = 3,
                               internal_ip6_address = 8, internal_ip6_dns = 10;
}
struct CpAttribute {
    std::uint16_t type = 0;  // 15 bits; the reserved top bit is dropped
    Bytes value;
    friend bool operator==(const CpAttribute&, const CpAttribute&) = default;
};
struct CpPayload {
    CfgType type = CfgType::request;
    std::vector<CpAttribute> attributes;
    friend bool operator==(const CpPayload&, const CpPayload&) = default;
    bool has(std::uint16_t attribute) const {
        for (const auto& a : attributes)
            if (a.type == attribute) return true;
        return false;
    }
    /// The first attribute of `attribute` type with a four-octet value (an IPv4 address).
    std::optional<std::array<std::uint8_t, 4>> ip4(std::uint16_t attribute) const {
        for (const auto& a : attributes)
            if (a.type == attribute && a.value.size() == 4) return std::array<std::uint8_t, 4>{a.value[0], a.value[1], a.value[2], a.value[3]};
        return std::nullopt;
    }
};

/// One payload of a chain, not yet decoded: its type, critical bit and body.
struct RawPayload {
    PayloadType type = PayloadType::none;
    bool critical = false;
    Bytes body;
};

/// A parsed message: the header and its payloads; when the last payload is SK, its
/// body (IV | ciphertext | ICV) and the first inner payload's type. When it is SKF
/// (RFC 7383), `encrypted` holds its body (Fragment Number | Total Fragments | IV |
/// ciphertext | ICV) and `first_inner` its Next Payload field (zero but in fragment 1).
struct Message {
    Header header;
    std::vector<RawPayload> payloads;
    std::optional<RawPayload> encrypted;  // SK or SKF, if present (always the last payload)
    PayloadType first_inner = PayloadType::none;
    bool fragment() const { return encrypted && encrypted->type == PayloadType::skf; }
};

/// The two numbers at the start of an SKF body (RFC 7383 2.5).
struct FragmentNumbers {
    std::uint16_t number = 0, total = 0;
};
inline constexpr std::size_t fragment_numbers_size = 4;
inline Result<FragmentNumbers> decode_fragment_numbers(ByteView skf_body) {
    if (skf_body.size() < fragment_numbers_size) return make_error_code(Error::malformed_message);
    return FragmentNumbers{static_cast<std::uint16_t>(skf_body[0] << 8 | skf_body[1]),
                           static_cast<std::uint16_t>(skf_body[2] << 8 | skf_body[3])};
}

// ---- header --------------------------------------------------------------------------

inline Result<Header> parse_header(ByteView data) {
    if (data.size() < header_size) return make_error_code(Error::malformed_message);
    wire::Reader r(data);
    Header h;
    h.spi_i = r.u64();
    h.spi_r = r.u64();
    h.next_payload = static_cast<PayloadType>(r.u8());
    h.version = r.u8();
    h.exchange = static_cast<ExchangeType>(r.u8());
    h.flags = r.u8();
    h.message_id = r.u32();
    h.length = r.u32();
    if (!r.ok() || (h.version >> 4) != 2) return make_error_code(Error::malformed_message);
    if (h.length != data.size() || h.length < header_size) return make_error_code(Error::malformed_message);
    return h;
}

inline void write_header(wire::Writer& w, const Header& h) {
    w.u64(h.spi_i);
    w.u64(h.spi_r);
    w.u8(static_cast<std::uint8_t>(h.next_payload));
    w.u8(h.version);
    w.u8(static_cast<std::uint8_t>(h.exchange));
    w.u8(h.flags);
    w.u32(h.message_id);
    w.u32(h.length);
}

// ---- the payload chain -----------------------------------------------------------------

inline bool known_payload(PayloadType t) noexcept {
    const auto v = static_cast<std::uint8_t>(t);
    return v >= 33 && v <= 48;
}

/// Walks a payload chain starting with `first`. An SK or SKF payload ends the chain (it
/// must be the last one); unknown non-critical payloads are skipped, unknown critical ones fail.
inline std::error_code parse_chain(ByteView data, PayloadType first, std::vector<RawPayload>& out,
                                   std::optional<RawPayload>* encrypted = nullptr, PayloadType* first_inner = nullptr) {
    wire::Reader r(data);
    PayloadType next = first;
    while (next != PayloadType::none) {
        if (r.remaining() < generic_header_size) return make_error_code(Error::malformed_message);
        const auto following = static_cast<PayloadType>(r.u8());
        const std::uint8_t critical = r.u8();
        const std::uint16_t length = r.u16();
        if (length < generic_header_size || length - generic_header_size > r.remaining())
            return make_error_code(Error::malformed_message);
        ByteView body = r.bytes(length - generic_header_size);
        RawPayload p{next, (critical & 0x80) != 0, Bytes(body.begin(), body.end())};
        if (next == PayloadType::sk || next == PayloadType::skf) {
            if (!encrypted || !r.at_end()) return make_error_code(Error::malformed_message);
            *encrypted = std::move(p);
            *first_inner = following;
            return {};
        }
        if (known_payload(next)) out.push_back(std::move(p));
        else if (p.critical) return make_error_code(Error::unsupported_critical_payload);
        next = following;
        if (out.size() > 64) return make_error_code(Error::malformed_message);  // bounded work per message
    }
    if (!r.at_end()) return make_error_code(Error::malformed_message);
    return {};
}

/// Parses a whole IKE message (no non-ESP marker).
inline Result<Message> parse_message(ByteView data) {
    if (data.size() > max_message_size) return make_error_code(Error::malformed_message);
    auto h = parse_header(data);
    if (!h) return h.error();
    Message m;
    m.header = *h;
    if (auto ec = parse_chain(data.subspan(header_size), h->next_payload, m.payloads, &m.encrypted, &m.first_inner))
        return ec;
    return m;
}

/// Writes a payload chain: each payload's generic header names the next one's type.
/// `last_next` is the type after the final payload (SK's inner chain ends with none).
inline void write_chain(wire::Writer& w, const std::vector<RawPayload>& payloads, PayloadType last_next = PayloadType::none) {
    for (std::size_t i = 0; i < payloads.size(); ++i) {
        const PayloadType following = i + 1 < payloads.size() ? payloads[i + 1].type : last_next;
        w.u8(static_cast<std::uint8_t>(following));
        w.u8(payloads[i].critical ? 0x80 : 0);
        w.u16(static_cast<std::uint16_t>(payloads[i].body.size() + generic_header_size));
        w.bytes(payloads[i].body);
    }
}

/// An unencrypted message (IKE_SA_INIT): header and chain, the length filled in.
inline Bytes serialize_message(Header h, const std::vector<RawPayload>& payloads) {
    Bytes out;
    wire::Writer w(out);
    h.next_payload = payloads.empty() ? PayloadType::none : payloads.front().type;
    h.length = 0;
    write_header(w, h);
    write_chain(w, payloads);
    const auto length = static_cast<std::uint32_t>(out.size());
    for (int i = 0; i < 4; ++i) out[24 + i] = static_cast<std::uint8_t>(length >> (24 - 8 * i));
    return out;
}

// ---- payload bodies ----------------------------------------------------------------------

inline Bytes encode(const SaPayload& sa) {
    Bytes out;
    wire::Writer w(out);
    for (std::size_t p = 0; p < sa.proposals.size(); ++p) {
        const Proposal& prop = sa.proposals[p];
        const std::size_t start = out.size();
        w.u8(p + 1 < sa.proposals.size() ? 2 : 0);
        w.u8(0);
        w.u16(0);  // the proposal's length, patched below
        w.u8(prop.number);
        w.u8(static_cast<std::uint8_t>(prop.protocol));
        w.u8(static_cast<std::uint8_t>(prop.spi.size()));
        w.u8(static_cast<std::uint8_t>(prop.transforms.size()));
        w.bytes(prop.spi);
        for (std::size_t t = 0; t < prop.transforms.size(); ++t) {
            const Transform& tr = prop.transforms[t];
            w.u8(t + 1 < prop.transforms.size() ? 3 : 0);
            w.u8(0);
            w.u16(tr.key_length ? 12 : 8);
            w.u8(static_cast<std::uint8_t>(tr.type));
            w.u8(0);
            w.u16(tr.id);
            if (tr.key_length) {
                w.u16(0x8000 | attribute_key_length);
                w.u16(*tr.key_length);
            }
        }
        const std::size_t length = out.size() - start;
        out[start + 2] = static_cast<std::uint8_t>(length >> 8);
        out[start + 3] = static_cast<std::uint8_t>(length);
    }
    return out;
}

inline Result<SaPayload> decode_sa(ByteView body) {
    SaPayload sa;
    wire::Reader r(body);
    for (bool more = !body.empty(); more;) {
        const std::uint8_t last = r.u8();
        r.u8();
        const std::uint16_t length = r.u16();
        if (!r.ok() || (last != 0 && last != 2) || length < 8 || length - 4u > r.remaining())
            return make_error_code(Error::malformed_message);
        wire::Reader p(r.bytes(length - 4u));
        Proposal prop;
        prop.number = p.u8();
        prop.protocol = static_cast<ProtocolId>(p.u8());
        const std::uint8_t spi_size = p.u8();
        const std::uint8_t count = p.u8();
        ByteView spi = p.bytes(spi_size);
        prop.spi.assign(spi.begin(), spi.end());
        for (std::uint8_t t = 0; t < count; ++t) {
            const std::uint8_t tlast = p.u8();
            p.u8();
            const std::uint16_t tlength = p.u16();
            if (!p.ok() || tlength < 8 || tlength - 4u > p.remaining() || (tlast != 0 && tlast != 3) ||
                (tlast == 0) != (t + 1 == count))
                return make_error_code(Error::malformed_message);
            wire::Reader tr(p.bytes(tlength - 4u));
            Transform transform;
            transform.type = static_cast<TransformType>(tr.u8());
            tr.u8();
            transform.id = tr.u16();
            while (tr.ok() && tr.remaining() > 0) {  // attributes
                const std::uint16_t type = tr.u16();
                if (type & 0x8000) {
                    const std::uint16_t value = tr.u16();
                    if ((type & 0x7fff) == attribute_key_length) transform.key_length = value;
                } else {
                    tr.prefixed(2);  // TLV attributes: none defined for IKEv2 transforms we use
                }
            }
            if (!tr.ok()) return make_error_code(Error::malformed_message);
            prop.transforms.push_back(transform);
        }
        if (!p.ok() || !p.at_end()) return make_error_code(Error::malformed_message);
        sa.proposals.push_back(std::move(prop));
        more = last == 2;
        if (sa.proposals.size() > 64) return make_error_code(Error::malformed_message);
    }
    if (!r.at_end() || sa.proposals.empty()) return make_error_code(Error::malformed_message);
    return sa;
}

inline Bytes encode(const KePayload& ke) {
    Bytes out;
    wire::Writer w(out);
    w.u16(ke.group);
    w.u16(0);
    w.bytes(ke.data);
    return out;
}
inline Result<KePayload> decode_ke(ByteView body) {
    if (body.size() < 4) return make_error_code(Error::malformed_message);
    wire::Reader r(body);
    KePayload ke;
    ke.group = r.u16();
    r.u16();
    ByteView d = r.rest();
    ke.data.assign(d.begin(), d.end());
    return ke;
}

inline Bytes encode(const IdPayload& id) { return id.body(); }
inline Result<IdPayload> decode_id(ByteView body) {
    if (body.size() < 5) return make_error_code(Error::malformed_message);
    IdPayload id;
    id.type = static_cast<IdType>(body[0]);
    id.data.assign(body.begin() + 4, body.end());
    return id;
}

inline Bytes encode(const AuthPayload& a) {
    Bytes out{static_cast<std::uint8_t>(a.method), 0, 0, 0};
    append(out, a.data);
    return out;
}
inline Result<AuthPayload> decode_auth(ByteView body) {
    if (body.size() < 5) return make_error_code(Error::malformed_message);
    return AuthPayload{static_cast<AuthMethod>(body[0]), Bytes(body.begin() + 4, body.end())};
}

inline Bytes encode(const CertPayload& c) {
    Bytes out{c.encoding};
    append(out, c.data);
    return out;
}
/// CERT and CERTREQ share the layout. An empty CERT is malformed; an empty CERTREQ
/// (no CA hashes: "any CA") is allowed.
inline Result<CertPayload> decode_cert(ByteView body, bool allow_empty = false) {
    if (body.empty() || (!allow_empty && body.size() < 2)) return make_error_code(Error::malformed_message);
    return CertPayload{body[0], Bytes(body.begin() + 1, body.end())};
}
inline Result<CertPayload> decode_certreq(ByteView body) {
    auto c = decode_cert(body, true);
    if (c && c->encoding == cert_x509_signature && c->data.size() % certreq_hash_size != 0)
        return make_error_code(Error::malformed_message);
    return c;
}

inline Bytes encode(const SignatureAuth& a) {
    Bytes out{static_cast<std::uint8_t>(a.algorithm.size())};
    append(out, a.algorithm);
    append(out, a.signature);
    return out;
}
/// The AUTH data of method 14. The AlgorithmIdentifier must be a DER SEQUENCE whose
/// own length matches the length octet; the signature must not be empty.
inline Result<SignatureAuth> decode_signature_auth(ByteView data) {
    if (data.empty()) return make_error_code(Error::malformed_message);
    const std::size_t n = data[0];
    if (n < 2 || data.size() < 1 + n + 1 || data[1] != 0x30 || data[2] >= 0x80 || std::size_t{data[2]} + 2 != n)
        return make_error_code(Error::malformed_message);
    return SignatureAuth{Bytes(data.begin() + 1, data.begin() + 1 + static_cast<std::ptrdiff_t>(n)),
                         Bytes(data.begin() + 1 + static_cast<std::ptrdiff_t>(n), data.end())};
}

/// SIGNATURE_HASH_ALGORITHMS data: 16-bit identifiers. Odd lengths are malformed.
inline Bytes encode_hash_algorithms(const std::vector<std::uint16_t>& ids) {
    Bytes out;
    for (auto id : ids) out.push_back(static_cast<std::uint8_t>(id >> 8)), out.push_back(static_cast<std::uint8_t>(id));
    return out;
}
inline Result<std::vector<std::uint16_t>> decode_hash_algorithms(ByteView data) {
    if (data.empty() || data.size() % 2) return make_error_code(Error::malformed_message);
    std::vector<std::uint16_t> ids;
    for (std::size_t i = 0; i < data.size(); i += 2) ids.push_back(static_cast<std::uint16_t>(data[i] << 8 | data[i + 1]));
    return ids;
}

inline Bytes encode(const NotifyPayload& n) {
    Bytes out;
    wire::Writer w(out);
    w.u8(static_cast<std::uint8_t>(n.protocol));
    w.u8(static_cast<std::uint8_t>(n.spi.size()));
    w.u16(static_cast<std::uint16_t>(n.type));
    w.bytes(n.spi);
    w.bytes(n.data);
    return out;
}
inline Result<NotifyPayload> decode_notify(ByteView body) {
    wire::Reader r(body);
    NotifyPayload n;
    n.protocol = static_cast<ProtocolId>(r.u8());
    const std::uint8_t spi_size = r.u8();
    n.type = static_cast<NotifyType>(r.u16());
    ByteView spi = r.bytes(spi_size);
    if (!r.ok()) return make_error_code(Error::malformed_message);
    n.spi.assign(spi.begin(), spi.end());
    ByteView d = r.rest();
    n.data.assign(d.begin(), d.end());
    return n;
}

inline Bytes encode(const DeletePayload& d) {
    Bytes out;
    wire::Writer w(out);
    w.u8(static_cast<std::uint8_t>(d.protocol));
    w.u8(d.spi_size);
    w.u16(static_cast<std::uint16_t>(d.spis.size()));
    for (const auto& s : d.spis) w.bytes(s);
    return out;
}
inline Result<DeletePayload> decode_delete(ByteView body) {
    wire::Reader r(body);
    DeletePayload d;
    d.protocol = static_cast<ProtocolId>(r.u8());
    d.spi_size = r.u8();
    const std::uint16_t count = r.u16();
    if (!r.ok() || (d.protocol == ProtocolId::ike && (d.spi_size != 0 || count != 0)) ||
        (d.protocol != ProtocolId::ike && d.spi_size != 4) || r.remaining() != std::size_t{count} * d.spi_size)
        return make_error_code(Error::malformed_message);
    for (std::uint16_t i = 0; i < count; ++i) {
        ByteView s = r.bytes(d.spi_size);
        d.spis.emplace_back(s.begin(), s.end());
    }
    return d;
}

inline Bytes encode(const TsPayload& ts) {
    Bytes out;
    wire::Writer w(out);
    w.u8(static_cast<std::uint8_t>(ts.selectors.size()));
    w.u24(0);
    for (const auto& s : ts.selectors) {
        const std::size_t size = s.address_size();
        w.u8(s.family == IpFamily::ipv6 ? ts_ipv6_addr_range : ts_ipv4_addr_range);
        w.u8(s.ip_protocol);
        w.u16(static_cast<std::uint16_t>(8 + 2 * size));
        w.u16(s.start_port);
        w.u16(s.end_port);
        w.bytes(ByteView(s.start.data(), size));
        w.bytes(ByteView(s.end.data(), size));
    }
    return out;
}
/// Decodes IPv4 and IPv6 ranges; other selector types (RFC 4595's Fibre Channel, RFC
/// 9478's security labels) are skipped and counted in `skipped`. A selector of a known
/// type with the wrong length is malformed_traffic_selector, one whose start address
/// lies above its end inverted_traffic_selector. Ports are not checked: start above end
/// is RFC 7296's OPAQUE, which narrows to nothing.
inline Result<TsPayload> decode_ts(ByteView body, std::size_t* skipped = nullptr) {
    wire::Reader r(body);
    TsPayload ts;
    const std::uint8_t count = r.u8();
    r.u24();
    if (!r.ok() || count == 0) return make_error_code(Error::malformed_message);
    for (std::uint8_t i = 0; i < count; ++i) {
        const std::uint8_t type = r.u8();
        const std::uint8_t protocol = r.u8();
        const std::uint16_t length = r.u16();
        if (!r.ok()) return make_error_code(Error::malformed_message);
        if (length < 8 || length - 4u > r.remaining())
            return make_error_code(type == ts_ipv4_addr_range || type == ts_ipv6_addr_range ? Error::malformed_traffic_selector
                                                                                              : Error::malformed_message);
        wire::Reader s(r.bytes(length - 4u));
        if (type != ts_ipv4_addr_range && type != ts_ipv6_addr_range) {
            if (skipped) ++*skipped;
            continue;
        }
        TrafficSelector sel;
        sel.family = type == ts_ipv6_addr_range ? IpFamily::ipv6 : IpFamily::ipv4;
        const std::size_t size = sel.address_size();
        if (length != 8 + 2 * size) return make_error_code(Error::malformed_traffic_selector);
        sel.ip_protocol = protocol;
        sel.start_port = s.u16();
        sel.end_port = s.u16();
        ByteView a = s.bytes(size), b = s.bytes(size);
        std::copy(a.begin(), a.end(), sel.start.begin());
        std::copy(b.begin(), b.end(), sel.end.begin());
        if (sel.end < sel.start) return make_error_code(Error::inverted_traffic_selector);
        ts.selectors.push_back(sel);
    }
    if (!r.at_end()) return make_error_code(Error::malformed_message);
    return ts;
}

inline Bytes encode(const CpPayload& cp) {
    Bytes out;
    wire::Writer w(out);
    w.u8(static_cast<std::uint8_t>(cp.type));
    w.u24(0);
    for (const auto& a : cp.attributes) {
        w.u16(a.type & 0x7fff);
        w.u16(static_cast<std::uint16_t>(a.value.size()));
        w.bytes(a.value);
    }
    return out;
}
/// The value lengths RFC 7296 3.15.1 allows for the attributes it defines (empty in a
/// request); other attribute types pass with any length (a peer's extension, ignored).
inline bool cp_value_length_ok(std::uint16_t type, std::size_t length) {
    switch (type) {
        case cp_attribute::internal_ip4_address:
        case cp_attribute::internal_ip4_netmask:
        case cp_attribute::internal_ip4_dns: return length == 0 || length == 4;
        case cp_attribute::internal_ip6_address: return length == 0 || length == 17;  // address | prefix length
        case cp_attribute::internal_ip6_dns: return length == 0 || length == 16;
        default: return true;
    }
}
inline Result<CpPayload> decode_cp(ByteView body) {
    wire::Reader r(body);
    CpPayload cp;
    const std::uint8_t type = r.u8();
    r.u24();
    if (!r.ok() || type < 1 || type > 4) return make_error_code(Error::malformed_message);
    cp.type = static_cast<CfgType>(type);
    while (r.remaining() > 0) {
        const std::uint16_t attribute = r.u16() & 0x7fff;  // the R bit is ignored on receipt
        const std::uint16_t length = r.u16();
        ByteView value = r.bytes(length);
        if (!r.ok() || !cp_value_length_ok(attribute, length)) return make_error_code(Error::malformed_message);
        if (attribute == cp_attribute::internal_ip6_address && length == 17 && value[16] > 128)
            return make_error_code(Error::malformed_message);
        cp.attributes.push_back(CpAttribute{attribute, Bytes(value.begin(), value.end())});
        if (cp.attributes.size() > 64) return make_error_code(Error::malformed_message);  // bounded work
    }
    return cp;
}

// ---- building payload lists ---------------------------------------------------------------

template <class Body>
RawPayload payload(PayloadType type, const Body& body) {
    return RawPayload{type, false, encode(body)};
}
inline RawPayload nonce_payload(ByteView nonce) { return RawPayload{PayloadType::nonce, false, Bytes(nonce.begin(), nonce.end())}; }
inline RawPayload notify(NotifyType type, ByteView data = {}, ProtocolId protocol = ProtocolId{0}, ByteView spi = {}) {
    return payload(PayloadType::notify, NotifyPayload{protocol, Bytes(spi.begin(), spi.end()), type, Bytes(data.begin(), data.end())});
}

/// The first payload of `type` in a list, if any.
inline const RawPayload* find(const std::vector<RawPayload>& payloads, PayloadType type) {
    for (const auto& p : payloads)
        if (p.type == type) return &p;
    return nullptr;
}
/// The first notify of `type`, decoded.
inline std::optional<NotifyPayload> find_notify(const std::vector<RawPayload>& payloads, NotifyType type) {
    for (const auto& p : payloads) {
        if (p.type != PayloadType::notify) continue;
        auto n = decode_notify(p.body);
        if (n && n->type == type) return std::move(*n);
    }
    return std::nullopt;
}
/// The first error notify, decoded.
inline std::optional<NotifyPayload> first_error_notify(const std::vector<RawPayload>& payloads) {
    for (const auto& p : payloads) {
        if (p.type != PayloadType::notify) continue;
        auto n = decode_notify(p.body);
        if (n && is_error(n->type)) return std::move(*n);
    }
    return std::nullopt;
}

}  // namespace tapsec::ikev2
