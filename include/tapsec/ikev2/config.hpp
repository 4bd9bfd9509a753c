// IKEv2's configuration: identities, the pre-shared key, algorithm preferences, the
// traffic selectors of the one Child SA, and retransmission timing. It derives from
// CommonConfig: pre_shared_keys (the PSK, matched by the peer's identity),
// source_validation (always: the responder demands N(COOKIE) before keeping state),
// random (SPIs, nonces, key shares) and handshake_timeout mean what they mean elsewhere.
#pragma once

#include <arpa/inet.h>

#include <array>
#include <charconv>
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "../core/config.hpp"
#include "../core/parsed_trust.hpp"
#include "../esp/keys.hpp"
#include "../esp/tfc.hpp"
#include "certificates.hpp"
#include "configuration.hpp"
#include "eap.hpp"
#include "fragments.hpp"
#include "key_schedule.hpp"
#include "resumption.hpp"
#include "selectors.hpp"
#include "wire.hpp"

namespace tapsec::ikev2 {

/// An IKE identity (RFC 7296 3.5) as strongSwan writes it: "a@example.org" is an
/// RFC822 address, "@host.example" or "host.example" an FQDN, "192.0.2.1" an IPv4
/// address, "C=CH, O=Org, CN=host" a DER_ASN1_DN, "@#0a1b2c" a KEY_ID (hex). The
/// prefixes "fqdn:", "email:", "asn1dn:" and "keyid:" (hex after an optional '#') force
/// a type. `value` keeps the text; payload() gives the ID payload's octets.
struct Identification {
    IdType type = IdType::fqdn;
    std::string value;

    static std::optional<Identification> parse(std::string_view text) {
        if (text.empty()) return std::nullopt;
        auto starts = [&](std::string_view prefix) {
            if (text.size() <= prefix.size() || text.substr(0, prefix.size()) != prefix) return false;
            text.remove_prefix(prefix.size());
            return true;
        };
        if (starts("fqdn:")) return Identification{IdType::fqdn, std::string(text)};
        if (starts("email:") || starts("rfc822:")) return Identification{IdType::rfc822_addr, std::string(text)};
        if (starts("asn1dn:")) return dn(text);
        if (starts("keyid:") || starts("@#")) return key_id(text);
        in_addr v4{};
        if (inet_pton(AF_INET, std::string(text).c_str(), &v4) == 1) return Identification{IdType::ipv4_addr, std::string(text)};
        if (text.front() == '@') {
            if (text.size() == 1) return std::nullopt;
            return Identification{IdType::fqdn, std::string(text.substr(1))};
        }
        if (text.find('=') != std::string_view::npos) return dn(text);
        if (text.find('@') != std::string_view::npos) return Identification{IdType::rfc822_addr, std::string(text)};
        return Identification{IdType::fqdn, std::string(text)};
    }
    /// The identity an ID payload carries, in the text form parse() reads back.
    static std::optional<Identification> from_payload(const IdPayload& p) {
        switch (p.type) {
            case IdType::fqdn:
            case IdType::rfc822_addr: return Identification{p.type, std::string(p.data.begin(), p.data.end())};
            case IdType::ipv4_addr: {
                if (p.data.size() != 4) return std::nullopt;
                char text[INET_ADDRSTRLEN];
                inet_ntop(AF_INET, p.data.data(), text, sizeof text);
                return Identification{p.type, text};
            }
            case IdType::der_asn1_dn: {
                auto parsed = parse_dn(p.data);
                if (!parsed) return std::nullopt;
                return Identification{p.type, ikev2::to_string(*parsed)};
            }
            case IdType::key_id: return Identification{p.type, "#" + to_hex(p.data)};
            default: return std::nullopt;
        }
    }
    IdPayload payload() const {
        IdPayload p;
        p.type = type;
        if (type == IdType::ipv4_addr) {
            in_addr v4{};
            inet_pton(AF_INET, value.c_str(), &v4);
            const auto* b = reinterpret_cast<const std::uint8_t*>(&v4);
            p.data.assign(b, b + 4);
        } else if (type == IdType::der_asn1_dn) {
            if (auto parsed = parse_dn_text(value)) p.data = encode_dn(*parsed);
        } else if (type == IdType::key_id) {
            p.data = hex_octets(value).value_or(Bytes{});
        } else {
            p.data.assign(value.begin(), value.end());
        }
        return p;
    }
    bool empty() const { return value.empty(); }

private:
    static std::optional<Identification> dn(std::string_view text) {
        auto parsed = parse_dn_text(text);
        if (!parsed) return std::nullopt;
        return Identification{IdType::der_asn1_dn, ikev2::to_string(*parsed)};
    }
    static std::optional<Identification> key_id(std::string_view text) {
        if (!text.empty() && text.front() == '#') text.remove_prefix(1);
        auto octets = hex_octets(text);
        if (!octets || octets->empty()) return std::nullopt;
        return Identification{IdType::key_id, "#" + to_hex(*octets)};
    }
    static std::optional<Bytes> hex_octets(std::string_view text) {
        if (!text.empty() && text.front() == '#') text.remove_prefix(1);
        if (text.size() % 2) return std::nullopt;
        Bytes out;
        for (std::size_t i = 0; i < text.size(); i += 2) {
            std::uint8_t v = 0;
            auto [ptr, ec] = std::from_chars(text.data() + i, text.data() + i + 2, v, 16);
            if (ec != std::errc{} || ptr != text.data() + i + 2) return std::nullopt;
            out.push_back(v);
        }
        return out;
    }
};

/// Parses "10.0.0.0/24", "10.0.0.1" or "10.0.0.1-10.0.0.9" into an IPv4 selector, or
/// "fd00:1::/64", "fd00:1::5" or "fd00:1::5-fd00:1::9" into an IPv6 one (any protocol,
/// any port). A prefix keeps its network's addresses whatever host bits it was written
/// with; a range mixing the families, or running backwards, is refused.
inline std::optional<TrafficSelector> parse_selector(std::string_view text) {
    auto address = [](std::string_view s, TrafficSelector& ts, std::array<std::uint8_t, 16>& out) {
        const std::string z(s);
        if (inet_pton(AF_INET, z.c_str(), out.data()) == 1) return ts.family = IpFamily::ipv4, true;
        if (inet_pton(AF_INET6, z.c_str(), out.data()) == 1) return ts.family = IpFamily::ipv6, true;
        return false;
    };
    TrafficSelector ts;
    if (auto slash = text.find('/'); slash != std::string_view::npos) {
        if (!address(text.substr(0, slash), ts, ts.start)) return std::nullopt;
        unsigned bits = 0;
        auto digits = text.substr(slash + 1);
        auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), bits);
        if (ec != std::errc{} || ptr != digits.data() + digits.size() || digits.empty() || bits > 8 * ts.address_size())
            return std::nullopt;
        for (std::size_t i = 0; i < ts.address_size(); ++i) {
            const unsigned kept = bits >= 8 * (i + 1) ? 8 : bits > 8 * i ? bits - 8 * static_cast<unsigned>(i) : 0;
            const auto mask = static_cast<std::uint8_t>(0xff00u >> kept);
            ts.start[i] &= mask;
            ts.end[i] = static_cast<std::uint8_t>(ts.start[i] | ~mask);
        }
    } else if (auto dash = text.find('-'); dash != std::string_view::npos) {
        TrafficSelector last;
        if (!address(text.substr(0, dash), ts, ts.start) || !address(text.substr(dash + 1), last, ts.end) ||
            last.family != ts.family || ts.end < ts.start)
            return std::nullopt;
    } else {
        if (!address(text, ts, ts.start)) return std::nullopt;
        ts.end = ts.start;
    }
    return ts;
}

inline std::string to_string(const TrafficSelector& ts) {
    char a[INET6_ADDRSTRLEN], b[INET6_ADDRSTRLEN];
    const int family = ts.family == IpFamily::ipv6 ? AF_INET6 : AF_INET;
    inet_ntop(family, ts.start.data(), a, sizeof a);
    inet_ntop(family, ts.end.data(), b, sizeof b);
    std::string s = std::string(a) + "-" + b;
    if (ts.ip_protocol) s += " proto " + std::to_string(ts.ip_protocol);
    if (ts.start_port != 0 || ts.end_port != 65535)
        s += " ports " + std::to_string(ts.start_port) + "-" + std::to_string(ts.end_port);
    return s;
}

/// A responder's pool of inner IPv4 addresses for initiators that ask for one (CP,
/// RFC 7296 2.19): "10.3.0.0/24" (network and broadcast addresses left out, as a
/// router would) or "10.3.0.10-10.3.0.20" (every address). Shared by every engine made
/// from one Config (a listener's connections); each IKE SA holds its address until
/// the engine is destroyed.
class AddressPool {
public:
    static std::shared_ptr<AddressPool> parse(std::string_view text) {
        auto range = parse_selector(text);
        if (!range || range->family != IpFamily::ipv4) return nullptr;  // CP hands out IPv4 addresses only
        std::uint32_t first = address_of(range->start), last = address_of(range->end);
        if (text.find('/') != std::string_view::npos && last - first >= 3) ++first, --last;
        return std::shared_ptr<AddressPool>(new AddressPool(first, last));
    }
    /// A free address, or nullopt when every one is leased.
    std::optional<std::uint32_t> acquire() {
        std::lock_guard lock(mutex_);
        for (std::uint64_t a = first_; a <= last_; ++a)
            if (!leased_.count(static_cast<std::uint32_t>(a))) {
                leased_.insert(static_cast<std::uint32_t>(a));
                return static_cast<std::uint32_t>(a);
            }
        return std::nullopt;
    }
    void release(std::uint32_t address) {
        std::lock_guard lock(mutex_);
        leased_.erase(address);
    }
    std::uint64_t size() const noexcept { return std::uint64_t{last_} - first_ + 1; }
    std::size_t in_use() const {
        std::lock_guard lock(mutex_);
        return leased_.size();
    }

private:
    AddressPool(std::uint32_t first, std::uint32_t last) : first_(first), last_(last) {}
    std::uint32_t first_, last_;
    mutable std::mutex mutex_;
    std::set<std::uint32_t> leased_;
};

/// One address held from a pool, returned when the last holder goes: copies of an
/// engine (a fuzzer's snapshot) share it rather than each returning it.
class AddressLease {
public:
    static std::optional<AddressLease> take(const std::shared_ptr<AddressPool>& pool) {
        auto a = pool ? pool->acquire() : std::nullopt;
        if (!a) return std::nullopt;
        AddressLease lease;
        lease.held_ = std::make_shared<const Held>(pool, *a);
        return lease;
    }
    void reset() { held_.reset(); }
    bool held() const noexcept { return held_ != nullptr; }
    std::uint32_t address() const noexcept { return held_ ? held_->address : 0; }

private:
    struct Held {
        Held(std::shared_ptr<AddressPool> p, std::uint32_t a) : pool(std::move(p)), address(a) {}
        Held(const Held&) = delete;
        Held& operator=(const Held&) = delete;
        ~Held() { pool->release(address); }
        std::shared_ptr<AddressPool> pool;
        std::uint32_t address;
    };
    std::shared_ptr<const Held> held_;
};

/// IKE SA encryption: the same transforms as ESP (AES-GCM-16, RFC 5282;
/// ChaCha20-Poly1305, RFC 7634; AES-CBC, RFC 3602, with an integrity transform), with
/// the same key layout.
using IkeCipher = esp::Algorithm;

/// The ENCR transform that names an algorithm (a Key Length attribute for AES only).
inline Transform encr_transform(esp::Algorithm a) {
    switch (a) {
        case esp::Algorithm::aes_128_gcm_16: return {TransformType::encr, encr::aes_gcm_16, std::uint16_t{128}};
        case esp::Algorithm::aes_256_gcm_16: return {TransformType::encr, encr::aes_gcm_16, std::uint16_t{256}};
        case esp::Algorithm::chacha20_poly1305: return {TransformType::encr, encr::chacha20_poly1305, std::nullopt};
        case esp::Algorithm::aes_128_cbc: return {TransformType::encr, encr::aes_cbc, std::uint16_t{128}};
        case esp::Algorithm::aes_256_cbc: return {TransformType::encr, encr::aes_cbc, std::uint16_t{256}};
    }
    return {};
}
/// The INTEG transform of an integrity algorithm (RFC 4868 2.4); none for an AEAD.
inline Transform integ_transform(esp::Integrity i) {
    switch (i) {
        case esp::Integrity::none: return {TransformType::integ, integ::none, std::nullopt};
        case esp::Integrity::hmac_sha2_256_128: return {TransformType::integ, integ::hmac_sha2_256_128, std::nullopt};
        case esp::Integrity::hmac_sha2_384_192: return {TransformType::integ, integ::hmac_sha2_384_192, std::nullopt};
        case esp::Integrity::hmac_sha2_512_256: return {TransformType::integ, integ::hmac_sha2_512_256, std::nullopt};
    }
    return {};
}
/// The first of `preferences` that transform `t` names.
inline std::optional<esp::Integrity> integrity_named(const Transform& t, const std::vector<esp::Integrity>& preferences) {
    for (auto i : preferences)
        if (integ_transform(i) == t) return i;
    return std::nullopt;
}
/// Splits `ciphers` into proposals (RFC 7296 3.3: one proposal never mixes AEAD and
/// non-AEAD encryption): the AEADs and the others, in the order their first member comes.
inline std::vector<std::vector<esp::Algorithm>> proposal_groups(const std::vector<esp::Algorithm>& ciphers) {
    std::vector<esp::Algorithm> aeads, others;
    for (auto c : ciphers) (esp::is_aead(c) ? aeads : others).push_back(c);
    std::vector<std::vector<esp::Algorithm>> out;
    const bool aead_first = !ciphers.empty() && esp::is_aead(ciphers.front());
    for (auto* g : aead_first ? std::array{&aeads, &others} : std::array{&others, &aeads})
        if (!g->empty()) out.push_back(*g);
    return out;
}
/// The first of `preferences` that transform `t` names (an AEAD or AES-CBC).
inline std::optional<esp::Algorithm> aead_named(const Transform& t, const std::vector<esp::Algorithm>& preferences) {
    for (auto a : preferences)
        if (encr_transform(a) == t) return a;
    return std::nullopt;
}
/// What a proposal's ENCR and INTEG transforms select: the first ENCR transform we
/// support that is usable with its INTEG transforms (an AEAD with none or no INTEG
/// transform, AES-CBC with an HMAC of `integrities`; RFC 7296 3.3.3).
struct CipherChoice {
    esp::Algorithm cipher;
    esp::Integrity integrity = esp::Integrity::none;
};
inline std::optional<CipherChoice> choose_cipher(const Proposal& p, const std::vector<esp::Algorithm>& ciphers,
                                                 const std::vector<esp::Integrity>& integrities) {
    std::optional<esp::Integrity> integrity;
    bool integ_offered = false;
    for (const auto& t : p.transforms) {
        if (t.type != TransformType::integ || t.id == integ::none) continue;
        integ_offered = true;
        if (!integrity) integrity = integrity_named(t, integrities);
    }
    for (const auto& t : p.transforms) {
        if (t.type != TransformType::encr) continue;
        const auto c = aead_named(t, ciphers);
        if (!c) continue;
        if (esp::is_aead(*c) && !integ_offered) return CipherChoice{*c, esp::Integrity::none};
        if (!esp::is_aead(*c) && integrity) return CipherChoice{*c, *integrity};
    }
    return std::nullopt;
}

/// Key-exchange groups: D-H group 14 (RFC 3526 MODP-2048, KE data the 256-octet
/// public value), ECP-256 (RFC 5903) and Curve25519 (RFC 8031).
enum class Group : std::uint16_t { modp_2048 = dh::modp_2048, ecp_256 = dh::ecp_256, curve25519 = dh::curve25519 };
constexpr const char* name(Group g) noexcept {
    switch (g) {
        case Group::modp_2048: return "modp2048";
        case Group::ecp_256: return "ecp256";
        case Group::curve25519: return "curve25519";
    }
    return "?";
}

/// Authentication (RFC 7296 2.15, RFC 7427): a side signs when CommonConfig::identity
/// holds a certificate chain and key, else it proves the PSK. The peer must sign (AUTH
/// method 14, its chain validated against CommonConfig::trust) when trust anchors are
/// configured, else it must prove the PSK: one method each way, no fallback.
struct Config : CommonConfig {
    Identification local_id, remote_id;  // local_id empty with a certificate: its subject DN;
                                         // remote_id empty: any identity (its PSK, or named in its certificate)
    std::vector<Group> groups{Group::curve25519, Group::ecp_256};       // preference order; the first is sent in KE
    std::vector<IkeCipher> ike_ciphers{IkeCipher::aes_128_gcm_16, IkeCipher::aes_256_gcm_16, IkeCipher::chacha20_poly1305};
    std::vector<esp::Algorithm> esp_ciphers{esp::Algorithm::aes_128_gcm_16, esp::Algorithm::aes_256_gcm_16,
                                            esp::Algorithm::chacha20_poly1305};
    // Integrity for the AES-CBC entries of ike_ciphers / esp_ciphers (RFC 4868), in
    // preference order; unused while only AEADs are configured.
    // The IKE SA's PRF (RFC 4868), in preference order: offered as initiator, the first
    // one offered taken as responder. An IKE SA rekey keeps the SA's PRF.
    std::vector<Prf> ike_prfs{Prf::hmac_sha2_256, Prf::hmac_sha2_384, Prf::hmac_sha2_512};
    std::vector<esp::Integrity> ike_integrity{esp::Integrity::hmac_sha2_256_128, esp::Integrity::hmac_sha2_512_256,
                                              esp::Integrity::hmac_sha2_384_192};
    std::vector<esp::Integrity> esp_integrity{esp::Integrity::hmac_sha2_256_128, esp::Integrity::hmac_sha2_512_256,
                                              esp::Integrity::hmac_sha2_384_192};
    bool allow_esn = true;     // offer / accept extended sequence numbers
    bool prefer_esn = false;   // responder: pick ESN when the initiator offers both
    bool rekey_pfs = true;     // Child SA rekeys we start run a fresh key exchange (the IKE SA's group)
    std::chrono::seconds child_rekey_after{0};  // rekey the Child SA this long after it was keyed (0: never)
    std::chrono::seconds nat_keepalive{0};      // send a NAT-T keepalive (0xFF, RFC 3948 2.3) after this long
                                                // without sending anything (0: never)
    std::chrono::seconds dpd_interval{0};       // after this long without an authenticated packet from the
                                                // peer, send an empty INFORMATIONAL (0: never); unanswered,
                                                // the exchange fails with retransmission_timeout (peer dead)
    bool mobike = false;  // RFC 4555: announce MOBIKE_SUPPORTED; the initiator may then move (update_addresses())
    TrafficSelector local_ts, remote_ts;  // this side's and the peer's inner addresses
    // TFC padding of the ESP packets we send (RFC 4303 2.4, esp/tfc.hpp): off, bucket:N or
    // fixed:N. Not sent on a Child SA whose creation carried the peer's
    // N(ESP_TFC_PADDING_NOT_SUPPORTED) (RFC 7296 3.10.1). Received TFC padding is always
    // removed (by the inner IP header's length), whatever this says.
    esp::TfcPadding tfc_padding;
    // Announce N(ESP_TFC_PADDING_NOT_SUPPORTED) with every Child SA we create or accept:
    // the peer is asked to send no TFC padding (saves bandwidth; we strip it either way).
    bool refuse_tfc_padding = false;
    // Configuration payload (RFC 7296 2.19, 3.15). Initiator: request_address sends
    // CP(CFG_REQUEST) for INTERNAL_IP4_ADDRESS, INTERNAL_IP6_ADDRESS and INTERNAL_IP4_DNS
    // in IKE_AUTH; the assigned IPv4 address becomes our inner address (local_ts, usually
    // 0.0.0.0/0 then, is narrowed to it). No address assigned ends the IKE SA with
    // internal_address_failure. Responder: address_pool assigns one address per IKE SA to
    // an initiator that asks (CP(CFG_REPLY)), the initiator's TSi narrowed to it instead of
    // remote_ts; pool_dns is sent when asked for. An exhausted pool answers
    // N(INTERNAL_ADDRESS_FAILURE). Without a pool, a CFG_REQUEST goes unanswered.
    bool request_address = false;
    std::shared_ptr<AddressPool> address_pool;
    std::vector<std::array<std::uint8_t, 4>> pool_dns;
    // ESP dummy packets (RFC 4303 2.6: next header 59, discarded by the receiver): one every
    // dummy_interval while the Child SA is up (0: never), dummy_size random octets each
    // (TFC padding applies as to any packet). They hide when real traffic flows.
    std::chrono::milliseconds dummy_interval{0};
    std::size_t dummy_size = 64;
    /// CommonConfig::trust parsed once, shared by every copy of this Config (every engine
    /// made from it, the CLI listener's connections), freed with the last copy.
    std::shared_ptr<ParsedTrustSlot> parsed_trust = std::make_shared<ParsedTrustSlot>();
    /// CommonConfig::identity (our chain and key, checked to match) and the CERTREQ hashes
    /// of our CAs, parsed once and shared the same way (certificates.hpp).
    std::shared_ptr<ParsedCredentialsSlot> parsed_credentials = std::make_shared<ParsedCredentialsSlot>();
    // IKE fragmentation (RFC 7383): announce IKEV2_FRAGMENTATION_SUPPORTED in IKE_SA_INIT;
    // when both did, a protected message whose IP datagram would exceed fragment_size
    // octets (IP and UDP headers and the non-ESP marker included: charon's
    // `fragment_size`, 1280 by default) goes out as SKF fragments of at most that size.
    // Received fragments are reassembled within fragment_limits.
    bool fragmentation = true;
    std::size_t fragment_size = 1280;
    FragmentLimits fragment_limits;
    std::chrono::milliseconds retransmit_initial{500};  // doubled after each retransmission
    unsigned retransmit_tries = 5;                      // then the exchange fails (timed out)
    // EAP (RFC 7296 2.16, eap.hpp): an initiator with eap_peer authenticates with that method
    // instead of AUTH; a responder with eap_server demands EAP of the initiator. Either way
    // the responder signs (identity) and the initiator validates it (trust). One method
    // instance per IKE SA, made by the factory.
    std::function<std::unique_ptr<eap::PeerMethod>()> eap_peer;
    std::function<std::unique_ptr<eap::ServerMethod>()> eap_server;

    // Session resumption (RFC 5723, resumption.hpp), ticket by value. Initiator:
    // request_ticket sends N(TICKET_REQUEST) in IKE_AUTH, and the ticket the responder
    // answers is then Engine::ticket(); resume_ticket makes start() resume with it
    // (IKE_SESSION_RESUME, then IKE_AUTH with the AUTH of RFC 5723 5.1) instead of
    // IKE_SA_INIT. Responder: with `tickets` it issues tickets to initiators that ask and
    // accepts them (once each); without it, it answers N(TICKET_NACK).
    bool request_ticket = false;
    std::optional<Ticket> resume_ticket;
    std::shared_ptr<TicketIssuer> tickets;

    Config() { source_validation = SourceValidation::never; }  // one SA per engine: no load to measure

    bool signs() const { return !identity.empty(); }
    bool peer_signs() const { return !trust.empty(); }

    /// The PSK for a peer identity: the entry whose identity names it, else the only one.
    const SecretBytes* psk_for(const std::string& peer) const {
        for (const auto& k : pre_shared_keys)
            if (k.identity == peer) return &k.key;
        if (pre_shared_keys.size() == 1 && pre_shared_keys.front().identity.empty()) return &pre_shared_keys.front().key;
        return nullptr;
    }
};

}  // namespace tapsec::ikev2
