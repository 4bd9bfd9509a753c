// Botan::TLS::Credentials_Manager over tapsec's Identity and TrustStore (6.1):
// our certificate chain and key, the CAs we trust, and the DTLS cookie secret.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <botan/certstor.h>
#include <botan/certstor_system.h>
#include <botan/credentials_manager.h>
#include <botan/data_src.h>
#include <botan/pkcs8.h>
#include <botan/pk_keys.h>
#include <botan/system_rng.h>
#include <botan/x509cert.h>

#include "../core/config.hpp"
#include "../core/errors.hpp"

namespace tapsec::botan_tls {

/// Every "-----BEGIN CERTIFICATE-----" block of a PEM text, parsed; an error when
/// the text holds none or one does not parse.
inline Result<std::vector<Botan::X509_Certificate>> parse_certificates(std::string_view pem) {
    static constexpr std::string_view begin = "-----BEGIN CERTIFICATE-----", end = "-----END CERTIFICATE-----";
    std::vector<Botan::X509_Certificate> out;
    std::size_t at = 0;
    while ((at = pem.find(begin, at)) != std::string_view::npos) {
        const auto stop = pem.find(end, at);
        if (stop == std::string_view::npos) return Errc::invalid_certificate;
        const std::string block(pem.substr(at, stop + end.size() - at));
        try {
            Botan::DataSource_Memory source(block);
            out.emplace_back(source);
        } catch (const std::exception&) {
            return Errc::invalid_certificate;
        }
        at = stop + end.size();
    }
    if (out.empty()) return Errc::invalid_certificate;
    return out;
}

inline Result<std::unique_ptr<Botan::Private_Key>> parse_private_key(const std::string& pem) {
    try {
        Botan::DataSource_Memory source(pem);
        auto key = Botan::PKCS8::load_key(source);
        if (!key) return Errc::invalid_private_key;
        return key;
    } catch (const std::exception&) {
        return Errc::invalid_private_key;
    }
}

class Credentials final : public Botan::Credentials_Manager {
public:
    /// Loads and checks the identity and trust anchors; error() says what failed.
    Credentials(const CommonConfig& config, Role role) : role_(role), verify_peer_(config.verify_peer) {
        if (!config.identity.empty()) {
            auto chain = parse_certificates(config.identity.certificate_chain_pem);
            if (!chain) {
                fail(chain.error(), "cannot parse the certificate chain");
                return;
            }
            chain_ = std::move(*chain);
            auto key = parse_private_key(config.identity.private_key_pem);
            if (!key) {
                fail(key.error(), "cannot parse the private key (PEM PKCS#8 expected)");
                return;
            }
            key_ = std::move(*key);
            // The key must belong to the leaf, or every handshake would fail later.
            bool matches = false;
            try {
                matches = chain_.front().load_subject_public_key()->public_key_bits() == key_->public_key_bits();
            } catch (const std::exception&) {
            }
            if (!matches) {
                fail(make_error_code(Errc::invalid_private_key), "the private key does not match the certificate");
                return;
            }
        } else if (role == Role::server) {
            fail(make_error_code(Errc::invalid_configuration), "a server needs a certificate and key");
            return;
        }
        for (const auto& pem : config.trust.ca_certificates_pem) {
            auto cas = parse_certificates(pem);
            if (!cas) {
                fail(cas.error(), "cannot parse a trusted CA certificate");
                return;
            }
            for (auto& ca : *cas) trusted_.add_certificate(ca);
        }
        if (config.trust.use_system_store) system_ = std::make_unique<Botan::System_Certificate_Store>();
        // DTLS cookies (RFC 6347 4.2.1): an HMAC key of this server's own; Botan binds
        // the cookie to the client's address through Callbacks::tls_peer_network_identity.
        cookie_secret_ = Botan::SymmetricKey(Botan::system_rng(), 32);
    }

    /// A cookie key shared with other engines of the same server (Config::dtls_cookie_secret).
    void use_cookie_secret(const SecretBytes& secret) { cookie_secret_ = Botan::SymmetricKey(secret.data(), secret.size()); }

    std::error_code error() const { return error_; }
    const std::string& error_detail() const { return error_detail_; }

    /// Trust anchors for validating the peer (and, on a server, whose presence makes
    /// Botan send a CertificateRequest).
    std::vector<Botan::Certificate_Store*> trusted_certificate_authorities(const std::string& type,
                                                                           const std::string&) override {
        if (type == "tls-server" && !verify_peer_) return {};
        return anchors();
    }

    std::vector<Botan::Certificate_Store*> anchors() {
        std::vector<Botan::Certificate_Store*> out{&trusted_};
        if (system_) out.push_back(system_.get());
        return out;
    }

    std::vector<Botan::X509_Certificate> cert_chain(const std::vector<std::string>& key_types, const std::string&,
                                                    const std::string&) override {
        if (!key_) return {};
        for (const auto& type : key_types)
            if (type == key_->algo_name()) return chain_;
        return {};
    }

    Botan::Private_Key* private_key_for(const Botan::X509_Certificate& cert, const std::string&,
                                        const std::string&) override {
        if (key_ && !chain_.empty() && cert == chain_.front()) return key_.get();
        return nullptr;
    }

    Botan::SymmetricKey psk(const std::string& type, const std::string& context, const std::string& identity) override {
        if (type == "tls-server" && context == "dtls-cookie-secret") return cookie_secret_;
        return Botan::Credentials_Manager::psk(type, context, identity);
    }

    const std::vector<Botan::X509_Certificate>& chain() const { return chain_; }

private:
    void fail(std::error_code ec, std::string detail) {
        error_ = ec;
        error_detail_ = std::move(detail);
    }

    Role role_;
    bool verify_peer_;
    std::vector<Botan::X509_Certificate> chain_;
    std::unique_ptr<Botan::Private_Key> key_;
    Botan::Certificate_Store_In_Memory trusted_;
    std::unique_ptr<Botan::System_Certificate_Store> system_;
    Botan::SymmetricKey cookie_secret_;
    std::error_code error_;
    std::string error_detail_;
};

}  // namespace tapsec::botan_tls
