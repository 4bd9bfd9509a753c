// RFC 5763 / RFC 8122 certificate fingerprints: the signalling channel (SDP
// "a=fingerprint:sha-256 AB:CD:...") says which certificate the peer will show; the
// application binds the DTLS handshake to it through the identity-validation
// callback (6.2), with authentication delegated (no CA involved).
#pragma once

#include <string>
#include <string_view>

#include "../core/config.hpp"
#include "../core/errors.hpp"
#include "../crypto/botan.hpp"

namespace tapsec::dtls_srtp {

/// "AB:CD:..." (upper-case hex pairs separated by colons, as SDP writes it).
template <class Crypto = crypto::DefaultProvider>
std::string fingerprint_sha256(ByteView certificate_der) {
    const auto digest = Crypto::hash(crypto::HashAlgorithm::sha256, certificate_der);
    std::string out;
    for (std::size_t i = 0; i < digest.size(); ++i) {
        static constexpr char hex[] = "0123456789ABCDEF";
        if (i) out.push_back(':');
        out.push_back(hex[digest[i] >> 4]);
        out.push_back(hex[digest[i] & 15]);
    }
    return out;
}

/// A validator accepting exactly the certificate whose SHA-256 fingerprint is
/// `expected` (case and colons ignored). Use with delegate_authentication = true.
template <class Crypto = crypto::DefaultProvider>
IdentityValidator expect_fingerprint_sha256(std::string_view expected) {
    bool ok = false;
    Bytes want = from_hex(expected, &ok);
    return [want, ok](const PeerIdentity& peer) -> std::error_code {
        if (!ok || want.size() != 32 || peer.certificate_chain_der.empty()) return Errc::peer_rejected_by_application;
        const auto digest = Crypto::hash(crypto::HashAlgorithm::sha256, peer.certificate_chain_der.front());
        return constant_time_equal(digest, want) ? std::error_code{} : make_error_code(Errc::peer_rejected_by_application);
    };
}

}  // namespace tapsec::dtls_srtp
