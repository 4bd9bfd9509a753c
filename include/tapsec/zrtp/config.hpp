// ZRTP's configuration: the common fields it honours plus its own (algorithm lists,
// who commits, timers, the SAS callback). Fields it cannot honour are refused by
// validate() rather than ignored.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "../core/config.hpp"
#include "wire.hpp"

namespace tapsec::zrtp {

/// Retransmission timers (RFC 6189 6): T1 for Hello, T2 for Commit, DHPart2, Confirm2
/// (the initiator's messages; the responder only answers). Each doubles up to its cap.
struct TimerSettings {
    std::chrono::milliseconds t1_initial{50}, t1_cap{200};
    unsigned t1_max_retransmissions = 20;
    std::chrono::milliseconds t2_initial{150}, t2_cap{1200};
    unsigned t2_max_retransmissions = 10;
};

/// The Short Authentication String of a finished exchange (RFC 6189 7): the users read
/// `rendering` to each other; a match proves there was no man in the middle.
struct Sas {
    std::string rendering;      // "B32 ": four z-base-32 characters
    std::uint32_t value = 0;    // the leftmost 32 bits of sashash
    AlgorithmCode type = algo::b32;
};

struct Config : CommonConfig {
    /// Whether this endpoint sends Commit (becoming the initiator) once it has the peer's
    /// Hello. Unset: Role::client commits and Role::server waits. When both commit, the
    /// Commit with the larger hvi wins (RFC 6189 4.2).
    std::optional<bool> commit;
    /// In preference order. Hash (S256) and cipher (AES1) are fixed: only the mandatory
    /// ones are implemented. Key agreements: X255 (X25519) and EC25 (P-256); SRTP auth
    /// tags HS80 / HS32 (AES_CM_128_HMAC_SHA1_80 / _32); SAS: B32.
    /// CommonConfig::groups ("X255"/"x25519", "EC25"/"secp256r1") and cipher_suites
    /// ("HS80", "HS32" or the SRTP profile names) override these when set.
    std::vector<AlgorithmCode> key_agreements{algo::x255, algo::ec25};
    std::vector<AlgorithmCode> auth_tags{algo::hs80, algo::hs32};
    std::vector<AlgorithmCode> sas_types{algo::b32};
    std::string client_id = "tapsec";  // up to 16 characters, sent in Hello
    std::optional<Zid> zid;            // random per engine when unset
    std::optional<std::uint32_t> ssrc; // the ZRTP packets' source identifier; random when unset
    TimerSettings timers;
    /// Called once the SAS is known (the initiator on Confirm1, the responder on Confirm2).
    std::function<void(const Sas&)> on_sas;
    // Retained secrets (RFC 6189 4.3, 4.6.1, key continuity) live in CommonConfig::
    // session_cache, one entry per (our ZID, peer ZID). Continuity needs a stable `zid`:
    // with a cache and no zid, the engine refuses the configuration.
};

inline bool is_supported_key_agreement(AlgorithmCode c) { return c == algo::x255 || c == algo::ec25; }
inline bool is_supported_auth_tag(AlgorithmCode c) { return c == algo::hs80 || c == algo::hs32; }
inline bool is_supported_sas(AlgorithmCode c) { return c == algo::b32; }

/// Applies CommonConfig's algorithm names and refuses what ZRTP cannot honour.
inline std::error_code resolve(Config& c) {
    auto invalid = [] { return make_error_code(Error::invalid_configuration); };
    if (!c.identity.empty() || !c.trust.empty() || !c.pre_shared_keys.empty() || !c.alpn.empty() ||
        c.require_client_certificate || !c.signature_schemes.empty())
        return invalid();  // certificates, PSKs, ALPN: not ZRTP's (the SAS authenticates)
    if (!c.groups.empty()) {
        c.key_agreements.clear();
        for (const auto& g : c.groups) {
            if (g == "X255" || g == "x25519") c.key_agreements.push_back(algo::x255);
            else if (g == "EC25" || g == "secp256r1" || g == "P-256") c.key_agreements.push_back(algo::ec25);
            else return invalid();
        }
    }
    if (!c.cipher_suites.empty()) {
        c.auth_tags.clear();
        for (const auto& s : c.cipher_suites) {
            if (s == "HS80" || s == "SRTP_AES128_CM_HMAC_SHA1_80") c.auth_tags.push_back(algo::hs80);
            else if (s == "HS32" || s == "SRTP_AES128_CM_HMAC_SHA1_32") c.auth_tags.push_back(algo::hs32);
            else return invalid();
        }
    }
    auto all = [](const std::vector<AlgorithmCode>& v, bool (*ok)(AlgorithmCode)) {
        return !v.empty() && v.size() <= AlgorithmList::capacity && std::all_of(v.begin(), v.end(), ok);
    };
    if (!all(c.key_agreements, is_supported_key_agreement) || !all(c.auth_tags, is_supported_auth_tag) ||
        !all(c.sas_types, is_supported_sas) || c.client_id.size() > 16 || (c.session_cache && !c.zid))
        return invalid();
    return {};
}

}  // namespace tapsec::zrtp
