// What IKEv2's certificate authentication reads from X.509 and DER itself, without a
// crypto library: the subject Name, the SubjectPublicKeyInfo (CERTREQ's CA hash), the
// subjectAltNames and the subjectKeyIdentifier of a certificate (RFC 5280 4.1, 4.2.1.2,
// 4.2.1.6), distinguished names as strongSwan writes them ("C=CH, O=Org, CN=host"), and
// the RFC 7427 AlgorithmIdentifiers of the signature schemes AUTH method 14 carries.
// Chain validation and signatures stay with the crypto provider (PkiProvider). Every
// parser reads only inside its input and answers nullopt on anything malformed.
#pragma once

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "../core/bytes.hpp"
#include "../crypto/provider.hpp"
#include "wire.hpp"

namespace tapsec::ikev2::der {

/// One DER element: its tag octet, its content, and the whole encoding.
struct Element {
    std::uint8_t tag = 0;
    ByteView content, whole;
};

/// Reads the next element of `in` (definite lengths up to 2^24, single-octet tags) and
/// advances past it.
inline std::optional<Element> next(ByteView& in) {
    if (in.size() < 2 || (in[0] & 0x1f) == 0x1f) return std::nullopt;
    std::size_t length = in[1], header = 2;
    if (length & 0x80) {
        const std::size_t octets = length & 0x7f;
        if (octets == 0 || octets > 3 || in.size() < 2 + octets) return std::nullopt;
        length = 0;
        for (std::size_t i = 0; i < octets; ++i) length = length << 8 | in[2 + i];
        header += octets;
    }
    if (in.size() - header < length) return std::nullopt;
    Element e{in[0], in.subspan(header, length), in.first(header + length)};
    in = in.subspan(header + length);
    return e;
}
/// The next element, required to carry `tag`.
inline std::optional<Element> expect(ByteView& in, std::uint8_t tag) {
    auto e = next(in);
    if (!e || e->tag != tag) return std::nullopt;
    return e;
}

inline constexpr std::uint8_t sequence = 0x30, set = 0x31, oid = 0x06, octet_string = 0x04, boolean = 0x01,
                              integer = 0x02, null = 0x05, utf8_string = 0x0c, printable_string = 0x13,
                              ia5_string = 0x16;

inline Bytes tlv(std::uint8_t tag, ByteView content) {
    Bytes out{tag};
    const std::size_t n = content.size();
    if (n < 0x80) out.push_back(static_cast<std::uint8_t>(n));
    else if (n < 0x100) out.insert(out.end(), {0x81, static_cast<std::uint8_t>(n)});
    else out.insert(out.end(), {0x82, static_cast<std::uint8_t>(n >> 8), static_cast<std::uint8_t>(n)});
    append(out, content);
    return out;
}

}  // namespace tapsec::ikev2::der

namespace tapsec::ikev2 {

// ---- distinguished names ------------------------------------------------------------------

/// One attribute of a Name, as the OID's content octets and the string's value.
struct DnAttribute {
    Bytes oid;
    std::string value;
    friend bool operator==(const DnAttribute&, const DnAttribute&) = default;
};
using DistinguishedName = std::vector<DnAttribute>;

namespace detail {
struct DnKeyword {
    std::string_view name;
    Bytes oid;
};
inline const std::vector<DnKeyword>& dn_keywords() {
    static const std::vector<DnKeyword> table{
        {"C", {0x55, 0x04, 0x06}},
        {"ST", {0x55, 0x04, 0x08}},
        {"L", {0x55, 0x04, 0x07}},
        {"O", {0x55, 0x04, 0x0a}},
        {"OU", {0x55, 0x04, 0x0b}},
        {"CN", {0x55, 0x04, 0x03}},
        {"serialNumber", {0x55, 0x04, 0x05}},
        {"E", {0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x01}},
        {"DC", {0x09, 0x92, 0x26, 0x89, 0x93, 0xf2, 0x2c, 0x64, 0x01, 0x19}},
    };
    return table;
}
inline std::string trim(std::string_view s) {
    const auto first = s.find_first_not_of(" \t");
    if (first == std::string_view::npos) return {};
    return std::string(s.substr(first, s.find_last_not_of(" \t") - first + 1));
}
}  // namespace detail

/// Parses a DER Name (SEQUENCE OF SET OF AttributeTypeAndValue), one attribute per RDN
/// (multi-valued RDNs are refused), string values only.
inline std::optional<DistinguishedName> parse_dn(ByteView name_der) {
    auto name = der::expect(name_der, der::sequence);
    if (!name || !name_der.empty()) return std::nullopt;
    DistinguishedName dn;
    ByteView rdns = name->content;
    while (!rdns.empty()) {
        auto rdn = der::expect(rdns, der::set);
        if (!rdn) return std::nullopt;
        ByteView inside = rdn->content;
        auto atv = der::expect(inside, der::sequence);
        if (!atv || !inside.empty()) return std::nullopt;
        ByteView fields = atv->content;
        auto type = der::expect(fields, der::oid);
        auto value = der::next(fields);
        if (!type || !value || !fields.empty() || type->content.empty()) return std::nullopt;
        if (value->tag != der::utf8_string && value->tag != der::printable_string && value->tag != der::ia5_string &&
            value->tag != 0x14 /* T61 */)
            return std::nullopt;
        dn.push_back({Bytes(type->content.begin(), type->content.end()), std::string(value->content.begin(), value->content.end())});
        if (dn.size() > 32) return std::nullopt;
    }
    return dn;
}

/// Parses strongSwan's text form "C=CH, O=Org, CN=host" (keywords C, ST, L, O, OU, CN,
/// serialNumber, E, DC; ',' separates, so values cannot contain it).
inline std::optional<DistinguishedName> parse_dn_text(std::string_view text) {
    DistinguishedName dn;
    while (!text.empty()) {
        const auto comma = text.find(',');
        const std::string part = detail::trim(text.substr(0, comma));
        text = comma == std::string_view::npos ? std::string_view{} : text.substr(comma + 1);
        const auto eq = part.find('=');
        if (eq == std::string::npos) return std::nullopt;
        const std::string key = detail::trim(std::string_view(part).substr(0, eq));
        const std::string value = detail::trim(std::string_view(part).substr(eq + 1));
        if (value.empty()) return std::nullopt;
        const detail::DnKeyword* known = nullptr;
        for (const auto& k : detail::dn_keywords())
            if (k.name == key || (key == "emailAddress" && k.name == "E")) known = &k;
        if (!known) return std::nullopt;
        dn.push_back({known->oid, value});
    }
    if (dn.empty()) return std::nullopt;
    return dn;
}

inline std::string to_string(const DistinguishedName& dn) {
    std::string out;
    for (const auto& a : dn) {
        std::string key = "?";
        for (const auto& k : detail::dn_keywords())
            if (std::equal(k.oid.begin(), k.oid.end(), a.oid.begin(), a.oid.end())) key = std::string(k.name);
        if (!out.empty()) out += ", ";
        out += key + "=" + a.value;
    }
    return out;
}

/// DER for a Name: countryName as PrintableString, E as IA5String, the rest UTF8String.
inline Bytes encode_dn(const DistinguishedName& dn) {
    static const Bytes country{0x55, 0x04, 0x06}, email{0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x01};
    Bytes rdns;
    for (const auto& a : dn) {
        const std::uint8_t string_tag = a.oid == country ? der::printable_string : a.oid == email ? der::ia5_string : der::utf8_string;
        Bytes atv = der::tlv(der::oid, a.oid);
        append(atv, der::tlv(string_tag, as_bytes(a.value)));
        append(rdns, der::tlv(der::set, der::tlv(der::sequence, atv)));
    }
    return der::tlv(der::sequence, rdns);
}

// ---- certificates ---------------------------------------------------------------------------

/// The parts of an X.509 certificate IKEv2 checks identities and CA hashes against.
struct CertificateFacts {
    Bytes subject;  // the Name, DER
    Bytes spki;     // SubjectPublicKeyInfo, DER (CERTREQ hashes SHA-1 of it)
    Bytes subject_key_id;
    std::vector<std::string> dns_names, emails;
    std::vector<Bytes> ip_addresses;
};

/// Reads a DER certificate's tbsCertificate. Extensions other than subjectAltName and
/// subjectKeyIdentifier are skipped (validation is the provider's).
inline std::optional<CertificateFacts> parse_certificate(ByteView der_bytes) {
    auto cert = der::expect(der_bytes, der::sequence);
    if (!cert || !der_bytes.empty()) return std::nullopt;
    ByteView c = cert->content;
    auto tbs = der::expect(c, der::sequence);
    if (!tbs) return std::nullopt;
    ByteView t = tbs->content;
    ByteView peek = t;
    if (auto first = der::next(peek); first && first->tag == 0xa0) t = peek;  // [0] version
    auto serial = der::expect(t, der::integer);
    auto signature = der::expect(t, der::sequence);
    auto issuer = der::expect(t, der::sequence);
    auto validity = der::expect(t, der::sequence);
    auto subject = der::expect(t, der::sequence);
    auto spki = der::expect(t, der::sequence);
    if (!serial || !signature || !issuer || !validity || !subject || !spki) return std::nullopt;
    CertificateFacts facts;
    facts.subject.assign(subject->whole.begin(), subject->whole.end());
    facts.spki.assign(spki->whole.begin(), spki->whole.end());
    while (!t.empty()) {
        auto field = der::next(t);
        if (!field) return std::nullopt;
        if (field->tag != 0xa3) continue;  // issuer / subject unique IDs
        ByteView wrapper = field->content;
        auto extensions = der::expect(wrapper, der::sequence);
        if (!extensions) return std::nullopt;
        ByteView list = extensions->content;
        while (!list.empty()) {
            auto extension = der::expect(list, der::sequence);
            if (!extension) return std::nullopt;
            ByteView e = extension->content;
            auto id = der::expect(e, der::oid);
            if (!id) return std::nullopt;
            ByteView after_id = e;
            if (auto critical = der::next(after_id); critical && critical->tag == der::boolean) e = after_id;
            auto value = der::expect(e, der::octet_string);
            if (!value) return std::nullopt;
            static constexpr std::uint8_t san_oid[] = {0x55, 0x1d, 0x11}, ski_oid[] = {0x55, 0x1d, 0x0e};
            ByteView v = value->content;
            if (std::equal(id->content.begin(), id->content.end(), std::begin(san_oid), std::end(san_oid))) {
                auto names = der::expect(v, der::sequence);
                if (!names) return std::nullopt;
                ByteView n = names->content;
                while (!n.empty()) {
                    auto name = der::next(n);
                    if (!name) return std::nullopt;
                    const std::string text(name->content.begin(), name->content.end());
                    if (name->tag == 0x81) facts.emails.push_back(text);          // [1] rfc822Name
                    else if (name->tag == 0x82) facts.dns_names.push_back(text);  // [2] dNSName
                    else if (name->tag == 0x87) facts.ip_addresses.emplace_back(name->content.begin(), name->content.end());
                }
            } else if (std::equal(id->content.begin(), id->content.end(), std::begin(ski_oid), std::end(ski_oid))) {
                auto key_id = der::expect(v, der::octet_string);
                if (!key_id) return std::nullopt;
                facts.subject_key_id.assign(key_id->content.begin(), key_id->content.end());
            }
        }
    }
    return facts;
}

inline bool equal_ignoring_case(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
           });
}

/// Two ID payloads name the same identity: DNs by their attributes (string types may
/// differ), everything else octet for octet (FQDN and RFC822 ignoring case).
inline bool same_identity(const IdPayload& a, const IdPayload& b) {
    if (a.type != b.type) return false;
    if (a.type == IdType::der_asn1_dn) {
        auto x = parse_dn(a.data), y = parse_dn(b.data);
        return x && y && *x == *y;
    }
    if (a.type == IdType::fqdn || a.type == IdType::rfc822_addr)
        return equal_ignoring_case(std::string_view(reinterpret_cast<const char*>(a.data.data()), a.data.size()),
                                   std::string_view(reinterpret_cast<const char*>(b.data.data()), b.data.size()));
    return a.data == b.data;
}

/// RFC 7296 3.5 / RFC 4945 3.1: the ID the peer claims must be one its certificate
/// names: an FQDN a dNSName, an RFC822 address an rfc822Name, an IPv4 address an
/// iPAddress, a DN the subject, a KEY_ID the subjectKeyIdentifier (as strongSwan).
inline bool certificate_names(const CertificateFacts& cert, const IdPayload& id) {
    const std::string_view text(reinterpret_cast<const char*>(id.data.data()), id.data.size());
    switch (id.type) {
        case IdType::fqdn:
            return std::any_of(cert.dns_names.begin(), cert.dns_names.end(), [&](const auto& n) { return equal_ignoring_case(n, text); });
        case IdType::rfc822_addr:
            return std::any_of(cert.emails.begin(), cert.emails.end(), [&](const auto& n) { return equal_ignoring_case(n, text); });
        case IdType::ipv4_addr:
        case IdType::ipv6_addr:
            return std::find(cert.ip_addresses.begin(), cert.ip_addresses.end(), id.data) != cert.ip_addresses.end();
        case IdType::der_asn1_dn: {
            auto claimed = parse_dn(id.data), subject = parse_dn(cert.subject);
            return claimed && subject && *claimed == *subject;
        }
        case IdType::key_id: return !cert.subject_key_id.empty() && cert.subject_key_id == id.data;
    }
    return false;
}

// ---- RFC 7427 signature AlgorithmIdentifiers --------------------------------------------------

using crypto::SignatureScheme;

namespace detail {
inline const Bytes& sha_oid(int bits) {
    static const Bytes sha256{0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01},
        sha384{0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02}, sha512{0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03};
    return bits == 256 ? sha256 : bits == 384 ? sha384 : sha512;
}
inline const Bytes rsassa_pss_oid{0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0a};
inline const Bytes mgf1_oid{0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x08};
/// AlgorithmIdentifier { hash OID, NULL }.
inline Bytes hash_algorithm(int bits) {
    Bytes body = der::tlv(der::oid, sha_oid(bits));
    append(body, Bytes{der::null, 0});
    return der::tlv(der::sequence, body);
}
struct SchemeOid {
    SignatureScheme scheme;
    Bytes oid;
    bool null_parameters;  // RSA PKCS#1 v1.5 AlgorithmIdentifiers carry NULL
};
inline const std::vector<SchemeOid>& simple_schemes() {
    static const std::vector<SchemeOid> table{
        {SignatureScheme::ecdsa_secp256r1_sha256, {0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02}, false},
        {SignatureScheme::ecdsa_secp384r1_sha384, {0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x03}, false},
        {SignatureScheme::ecdsa_secp521r1_sha512, {0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x04}, false},
        {SignatureScheme::ed25519, {0x2b, 0x65, 0x70}, false},
        {SignatureScheme::rsa_pkcs1_sha256, {0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b}, true},
        {SignatureScheme::rsa_pkcs1_sha384, {0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0c}, true},
        {SignatureScheme::rsa_pkcs1_sha512, {0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0d}, true},
    };
    return table;
}
inline int pss_bits(SignatureScheme s) {
    return s == SignatureScheme::rsa_pss_rsae_sha256 ? 256 : s == SignatureScheme::rsa_pss_rsae_sha384 ? 384
           : s == SignatureScheme::rsa_pss_rsae_sha512                                            ? 512
                                                                                                   : 0;
}
}  // namespace detail

/// The AlgorithmIdentifier AUTH method 14 sends for a scheme (RFC 7427 Appendix A,
/// RFC 8420 for Ed25519). RSA-PSS names its hash, MGF1 with the same hash, and a salt
/// as long as the hash.
inline Bytes algorithm_identifier(SignatureScheme scheme) {
    for (const auto& s : detail::simple_schemes())
        if (s.scheme == scheme) {
            Bytes body = der::tlv(der::oid, s.oid);
            if (s.null_parameters) append(body, Bytes{der::null, 0});
            return der::tlv(der::sequence, body);
        }
    const int bits = detail::pss_bits(scheme);
    if (bits == 0) return {};
    Bytes mgf = der::tlv(der::oid, detail::mgf1_oid);
    append(mgf, detail::hash_algorithm(bits));
    Bytes params = der::tlv(0xa0, detail::hash_algorithm(bits));
    append(params, der::tlv(0xa1, der::tlv(der::sequence, mgf)));
    append(params, der::tlv(0xa2, der::tlv(der::integer, Bytes{static_cast<std::uint8_t>(bits / 8)})));
    Bytes body = der::tlv(der::oid, detail::rsassa_pss_oid);
    append(body, der::tlv(der::sequence, params));
    return der::tlv(der::sequence, body);
}

/// The scheme an AlgorithmIdentifier names, if tapsec verifies it. RSA-PSS must name
/// SHA-2, MGF1 with the same hash and a salt as long as the hash; absent or NULL
/// parameters are accepted where RFC 5754 / RFC 8410 allow either.
inline std::optional<SignatureScheme> scheme_of(ByteView algorithm) {
    auto seq = der::expect(algorithm, der::sequence);
    if (!seq || !algorithm.empty()) return std::nullopt;
    ByteView body = seq->content;
    auto id = der::expect(body, der::oid);
    if (!id) return std::nullopt;
    const ByteView params = body;
    for (const auto& s : detail::simple_schemes()) {
        if (!std::equal(s.oid.begin(), s.oid.end(), id->content.begin(), id->content.end())) continue;
        const bool null_params = params.size() == 2 && params[0] == der::null && params[1] == 0;
        if (!params.empty() && !(s.null_parameters && null_params)) return std::nullopt;
        return s.scheme;
    }
    if (!std::equal(detail::rsassa_pss_oid.begin(), detail::rsassa_pss_oid.end(), id->content.begin(), id->content.end()))
        return std::nullopt;
    ByteView p = params;
    auto pss = der::expect(p, der::sequence);
    if (!pss || !p.empty()) return std::nullopt;
    // The same bytes as we would send for one of the three hashes, after normalising NULLs:
    // compare against both spellings of each.
    for (auto scheme : {SignatureScheme::rsa_pss_rsae_sha256, SignatureScheme::rsa_pss_rsae_sha384, SignatureScheme::rsa_pss_rsae_sha512}) {
        const Bytes with_null = algorithm_identifier(scheme);
        if (std::equal(with_null.begin(), with_null.end(), seq->whole.begin(), seq->whole.end())) return scheme;
        // Without the NULL after each hash OID (RFC 4055 allows absent parameters).
        const int bits = detail::pss_bits(scheme);
        const Bytes hash = der::tlv(der::sequence, der::tlv(der::oid, detail::sha_oid(bits)));
        Bytes mgf = der::tlv(der::oid, detail::mgf1_oid);
        append(mgf, hash);
        Bytes pr = der::tlv(0xa0, hash);
        append(pr, der::tlv(0xa1, der::tlv(der::sequence, mgf)));
        append(pr, der::tlv(0xa2, der::tlv(der::integer, Bytes{static_cast<std::uint8_t>(bits / 8)})));
        Bytes b = der::tlv(der::oid, detail::rsassa_pss_oid);
        append(b, der::tlv(der::sequence, pr));
        const Bytes without_null = der::tlv(der::sequence, b);
        if (std::equal(without_null.begin(), without_null.end(), seq->whole.begin(), seq->whole.end())) return scheme;
    }
    return std::nullopt;
}

/// The SIGNATURE_HASH_ALGORITHMS identifier a scheme's hash is announced as.
inline std::uint16_t signature_hash_of(SignatureScheme s) {
    switch (s) {
        case SignatureScheme::ed25519: return signature_hash::identity;
        case SignatureScheme::ecdsa_secp384r1_sha384:
        case SignatureScheme::rsa_pkcs1_sha384:
        case SignatureScheme::rsa_pss_rsae_sha384: return signature_hash::sha2_384;
        case SignatureScheme::ecdsa_secp521r1_sha512:
        case SignatureScheme::rsa_pkcs1_sha512:
        case SignatureScheme::rsa_pss_rsae_sha512: return signature_hash::sha2_512;
        default: return signature_hash::sha2_256;
    }
}

/// The schemes tapsec signs with, in preference order (a key's own kind decides).
inline constexpr SignatureScheme signing_preference[] = {
    SignatureScheme::ecdsa_secp256r1_sha256, SignatureScheme::ed25519, SignatureScheme::rsa_pss_rsae_sha256,
    SignatureScheme::ecdsa_secp384r1_sha384, SignatureScheme::ecdsa_secp521r1_sha512};

// ---- this side's credentials, parsed once per configuration ---------------------------------

/// What IKE_AUTH needs of our certificate chain and key: parsed and checked (the key must
/// be the leaf's) once per configuration and shared, immutable, by every copy of it and
/// every engine made from it, as core/parsed_trust.hpp does for the trust anchors.
template <class Crypto>
struct LocalCredentials {
    std::vector<Bytes> chain_der;  // leaf first
    CertificateFacts leaf;
    typename Crypto::PrivateKey key;
    SignatureScheme scheme{};
};

/// Config::parsed_credentials: our credentials and the CERTREQ hashes of our CAs, each
/// parsed on first use and again only when its source (or the provider) changed. The
/// identity is recognised by a SHA-256 over its PEMs, so no copy of the key is kept.
struct ParsedCredentialsSlot {
    std::mutex mutex;
    std::string_view provider;
    Bytes identity_digest;
    std::shared_ptr<const void> credentials;  // a LocalCredentials<Crypto>
    std::string_view certreq_provider;
    std::vector<std::string> certreq_source;  // the CA PEMs the hashes were made from (public)
    std::optional<Bytes> certreq_hashes;      // SHA-1 of each CA's SubjectPublicKeyInfo
};

/// Our chain and key from `identity`, parsed at most once per slot; nullptr when they do
/// not parse, no scheme fits the key, or the key is not the leaf certificate's.
template <class Crypto>
std::shared_ptr<const LocalCredentials<Crypto>> parsed_local_credentials(ParsedCredentialsSlot& slot, const Identity& identity) {
    typename Crypto::Hash digest(crypto::HashAlgorithm::sha256);
    for (const std::string* pem : {&identity.certificate_chain_pem, &identity.private_key_pem}) {
        const std::uint64_t n = pem->size();
        digest.update(ByteView(reinterpret_cast<const std::uint8_t*>(&n), sizeof n));  // length-delimited
        digest.update(as_bytes(*pem));
    }
    const Bytes id = digest.final();
    std::lock_guard lock(slot.mutex);
    if (slot.credentials && slot.provider == Crypto::name && slot.identity_digest == id)
        return std::static_pointer_cast<const LocalCredentials<Crypto>>(slot.credentials);
    auto chain = Crypto::Certificate::chain_from_pem(identity.certificate_chain_pem);
    auto key = Crypto::PrivateKey::from_pem(identity.private_key_pem);
    if (!chain || !key || chain->empty()) return nullptr;
    std::vector<Bytes> der;
    for (const auto& c : *chain) der.push_back(c.der());
    auto facts = parse_certificate(der.front());
    if (!facts) return nullptr;
    const auto schemes = key->schemes();
    std::optional<SignatureScheme> scheme;
    for (auto s : signing_preference)
        if (!scheme && std::find(schemes.begin(), schemes.end(), s) != schemes.end()) scheme = s;
    if (!scheme) return nullptr;
    // The key must be the certificate's: a signature over a probe verifies.
    static constexpr std::string_view probe = "tapsec IKEv2 key check";
    auto signature = key->sign(*scheme, as_bytes(probe));
    if (!signature || !chain->front().verify(*scheme, as_bytes(probe), *signature)) return nullptr;
    auto parsed = std::make_shared<const LocalCredentials<Crypto>>(
        LocalCredentials<Crypto>{std::move(der), std::move(*facts), std::move(*key), *scheme});
    slot.provider = Crypto::name;
    slot.identity_digest = id;
    slot.credentials = parsed;
    return parsed;
}

/// The CERTREQ body for `trust`: SHA-1 of each CA's SubjectPublicKeyInfo (RFC 7296 3.7),
/// made at most once per slot; nullopt when a CA does not parse.
template <class Crypto>
std::optional<Bytes> parsed_certreq_hashes(ParsedCredentialsSlot& slot, const TrustStore& trust) {
    std::lock_guard lock(slot.mutex);
    if (slot.certreq_hashes && slot.certreq_provider == Crypto::name && slot.certreq_source == trust.ca_certificates_pem)
        return slot.certreq_hashes;
    Bytes hashes;
    for (const auto& pem : trust.ca_certificates_pem) {
        auto cas = Crypto::Certificate::chain_from_pem(pem);
        if (!cas) return std::nullopt;
        for (const auto& ca : *cas) {
            auto facts = parse_certificate(ca.der());
            if (!facts) return std::nullopt;
            append(hashes, Crypto::hash(crypto::HashAlgorithm::sha1, facts->spki));
        }
    }
    slot.certreq_provider = Crypto::name;
    slot.certreq_source = trust.ca_certificates_pem;
    slot.certreq_hashes = hashes;
    return hashes;
}

}  // namespace tapsec::ikev2
