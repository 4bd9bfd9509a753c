// Botan::TLS::Policy built from a tapsec Config: versions, suites, groups, client
// authentication, ALPN-independent knobs, DTLS timers and SRTP profiles.
#pragma once

#include <algorithm>
#include <optional>
#include <string>
#include <system_error>

#include <botan/tls_algos.h>
#include <botan/tls_ciphersuite.h>
#include <botan/tls_policy.h>

#include "../core/errors.hpp"
#include "config.hpp"

namespace tapsec::botan_tls {

/// Maps the group names tapsec uses everywhere ("x25519", "secp256r1" / "P-256", ...)
/// to Botan's TLS group parameters.
inline std::optional<Botan::TLS::Group_Params> group_from_name(std::string name) {
    std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    using G = Botan::TLS::Group_Params;
    if (name == "x25519") return G::X25519;
    if (name == "secp256r1" || name == "p-256" || name == "prime256v1") return G::SECP256R1;
    if (name == "secp384r1" || name == "p-384") return G::SECP384R1;
    if (name == "secp521r1" || name == "p-521") return G::SECP521R1;
    if (name == "ffdhe2048" || name == "ffdhe/ietf/2048") return G::FFDHE_2048;
    if (name == "ffdhe3072" || name == "ffdhe/ietf/3072") return G::FFDHE_3072;
    return std::nullopt;
}

/// Botan names suites by the IANA name without its "TLS_" prefix; tapsec uses the
/// full IANA name ("TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256") and accepts either.
inline std::vector<std::string> iana_suffixes(const std::vector<std::string>& names) {
    std::vector<std::string> out;
    for (const auto& n : names) out.push_back(n.rfind("TLS_", 0) == 0 ? n.substr(4) : n);
    return out;
}

class ConfiguredPolicy final : public Botan::TLS::Policy {
public:
    ConfiguredPolicy(const Config& config, Role role, bool datagram)
        : datagram_(datagram),
          require_client_cert_(role == Role::server && config.require_client_certificate),
          request_client_cert_(role == Role::server && (config.verify_peer || config.require_client_certificate)),
          mtu_(config.mtu),
          max_timeout_ms_(static_cast<std::size_t>(config.maximum_retransmit_timeout.count())),
          srtp_profiles_(config.srtp_profiles),
          suite_names_(iana_suffixes(config.cipher_suites)) {
        for (const auto& name : config.groups) {
            auto group = group_from_name(name);
            if (!group) {
                error_ = make_error_code(Errc::unsupported_algorithm);
                error_detail_ = "unknown group '" + name + "'";
                continue;
            }
            groups_.push_back(*group);
        }
        for (const auto& suite : suite_names_) {
            if (std::none_of(Botan::TLS::Ciphersuite::all_known_ciphersuites().begin(),
                             Botan::TLS::Ciphersuite::all_known_ciphersuites().end(),
                             [&](const Botan::TLS::Ciphersuite& c) { return c.to_string() == suite; })) {
                error_ = make_error_code(Errc::unsupported_algorithm);
                error_detail_ = "unknown cipher suite '" + suite + "'";
            }
        }
    }

    /// Set when the configuration names something Botan cannot do.
    std::error_code error() const { return error_; }
    const std::string& error_detail() const { return error_detail_; }

    // ---- versions: exactly TLS 1.2 or DTLS 1.2 -------------------------------------
    bool allow_tls10() const override { return false; }
    bool allow_tls11() const override { return false; }
    bool allow_tls12() const override { return !datagram_; }
    bool allow_dtls10() const override { return false; }
    bool allow_dtls12() const override { return datagram_; }
    bool acceptable_protocol_version(Botan::TLS::Protocol_Version v) const override {
        return datagram_ ? v == Botan::TLS::Protocol_Version::DTLS_V12 : v == Botan::TLS::Protocol_Version::TLS_V12;
    }

    // ---- algorithms (6.1 supported algorithms): forward secrecy only ----------------
    std::vector<std::string> allowed_key_exchange_methods() const override { return {"ECDH"}; }
    std::vector<Botan::TLS::Group_Params> key_exchange_groups() const override {
        return groups_.empty() ? Botan::TLS::Policy::key_exchange_groups() : groups_;
    }
    bool acceptable_ciphersuite(const Botan::TLS::Ciphersuite& suite) const override {
        if (!Botan::TLS::Policy::acceptable_ciphersuite(suite)) return false;
        return suite_names_.empty() ||
               std::find(suite_names_.begin(), suite_names_.end(), suite.to_string()) != suite_names_.end();
    }
    std::vector<std::uint16_t> ciphersuite_list(Botan::TLS::Protocol_Version version, bool have_srp) const override {
        auto all = Botan::TLS::Policy::ciphersuite_list(version, have_srp);
        if (suite_names_.empty()) return all;
        std::vector<std::uint16_t> out;
        for (auto id : all)
            if (acceptable_ciphersuite(Botan::TLS::Ciphersuite::by_id(id))) out.push_back(id);
        return out;
    }

    // ---- authentication -----------------------------------------------------------
    bool require_client_certificate_authentication() const override { return require_client_cert_; }
    bool request_client_certificate_authentication() const override { return request_client_cert_; }

    // ---- no renegotiation: one handshake per connection ----------------------------
    bool allow_client_initiated_renegotiation() const override { return false; }
    bool allow_server_initiated_renegotiation() const override { return false; }
    bool allow_insecure_renegotiation() const override { return false; }

    // ---- DTLS ----------------------------------------------------------------------
    std::size_t dtls_default_mtu() const override { return mtu_; }
    /// Zero: Botan's own retransmission clock is switched off. Botan reads
    /// std::chrono::steady_clock inside timeout_check() and waits initial_timeout
    /// (doubling) since its last write; with zero it retransmits whenever asked, and
    /// the engine decides *when* to ask from the time passed in (see channel.hpp).
    std::size_t dtls_initial_timeout() const override { return 0; }
    std::size_t dtls_maximum_timeout() const override { return max_timeout_ms_; }
    bool allow_dtls_epoch0_restart() const override { return false; }
    std::vector<std::uint16_t> srtp_profiles() const override { return srtp_profiles_; }

private:
    bool datagram_;
    bool require_client_cert_;
    bool request_client_cert_;
    std::size_t mtu_;
    std::size_t max_timeout_ms_;
    std::vector<std::uint16_t> srtp_profiles_;
    std::vector<std::string> suite_names_;
    std::vector<Botan::TLS::Group_Params> groups_;
    std::error_code error_;
    std::string error_detail_;
};

}  // namespace tapsec::botan_tls
