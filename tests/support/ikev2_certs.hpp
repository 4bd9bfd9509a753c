// Test support for IKEv2 certificate authentication: a throwaway PKI (tests' TestPki,
// `openssl` at run time) with leaves whose subjectAltNames carry IKE identities, the
// engine configurations that use them, and a provider that corrupts the signatures it
// makes for AUTH (fault injection through the provider seam: the "tampered AUTH" case,
// with an SK payload that still authenticates).
#pragma once

#include <string>

#include <tapsec/ikev2.hpp>

#include "pki.hpp"

namespace ikev2_test {

/// Botan 2, except that signatures drawn with the configuration's random source (the
/// engine's AUTH signatures) have their last octet flipped. The engine's own key check
/// at start-up signs without it and still passes.
struct FlippingSigner : tapsec::crypto::Botan2 {
    class PrivateKey {
    public:
        static tapsec::Result<PrivateKey> from_pem(std::string_view pem) {
            auto key = tapsec::crypto::Botan2::PrivateKey::from_pem(pem);
            if (!key) return key.error();
            PrivateKey k;
            k.inner_ = std::move(*key);
            return k;
        }
        std::vector<tapsec::crypto::SignatureScheme> schemes() const { return inner_->schemes(); }
        tapsec::Result<tapsec::Bytes> sign(tapsec::crypto::SignatureScheme s, tapsec::ByteView m) const { return inner_->sign(s, m); }
        tapsec::Result<tapsec::Bytes> sign(tapsec::crypto::SignatureScheme s, tapsec::ByteView m,
                                           const std::function<void(tapsec::MutableByteView)>& random) const {
            auto signature = inner_->sign(s, m, random);
            if (signature && !signature->empty()) signature->back() ^= 0x01;
            return signature;
        }

    private:
        std::optional<tapsec::crypto::Botan2::PrivateKey> inner_;
    };
};

/// A CA and leaves for the identities the tests use: the initiator "a@test" (an
/// rfc822Name), the responder "b.test" (a dNSName), each also naming its subject DN.
struct IkePki {
    tapsec::test::TestPki pki;
    explicit IkePki(tapsec::test::KeyType ca_type = tapsec::test::KeyType::ecdsa_p256) : pki(ca_type) {}
    tapsec::test::CertificateFiles initiator(tapsec::test::KeyType type, const std::string& stem = "initiator") {
        return pki.issue(stem, type, "alice", 30, "email:a@test");
    }
    tapsec::test::CertificateFiles responder(tapsec::test::KeyType type, const std::string& stem = "responder") {
        return pki.issue(stem, type, "b.test", 30, "DNS:b.test");
    }
    std::string ca_pem() const { return pki.ca().certificate_pem(); }
};

}  // namespace ikev2_test
