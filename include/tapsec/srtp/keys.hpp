// srtp::MasterKeys: the kind of key material SrtpRecord imports (survey 6.1 explicit
// import). A DTLS-SRTP handshake (RFC 5764 4.2) or the application fills it; the
// record derives every session key from it with the SRTP KDF.
#pragma once

#include <system_error>

#include "../core/bytes.hpp"
#include "../core/errors.hpp"
#include "errors.hpp"
#include "profiles.hpp"

namespace tapsec::srtp {

/// One direction's master key and master salt.
struct MasterKey {
    SecretBytes key;
    SecretBytes salt;
};

/// The key-kind tag for SRTP and its value: a profile and one master key + salt per
/// direction, named as RFC 5764 4.2 names them (the DTLS client's write keys protect
/// what the client sends).
struct MasterKeys {
    Profile profile = Profile::aes_cm_128_hmac_sha1_80;
    MasterKey client_write;
    MasterKey server_write;

    /// Bytes of keying material a DTLS-SRTP exporter must produce for `p`
    /// (label "EXTRACTOR-dtls_srtp", no context): 2 * (key + salt), e.g. 60 for AES-CM-128.
    static constexpr std::size_t exporter_length(Profile p) noexcept {
        return 2 * (parameters(p).master_key_length + parameters(p).master_salt_length);
    }

    /// Splits exporter output in RFC 5764 4.2 order: client_write_key, server_write_key,
    /// client_write_salt, server_write_salt.
    static Result<MasterKeys> from_dtls_srtp_exporter(Profile p, ByteView material) {
        const auto params = parameters(p);
        if (params.master_key_length == 0) return std::error_code(make_error_code(Error::unsupported_profile));
        if (material.size() != exporter_length(p)) return std::error_code(make_error_code(Error::invalid_key_length));
        const std::size_t k = params.master_key_length, s = params.master_salt_length;
        MasterKeys keys;
        keys.profile = p;
        keys.client_write.key.assign(material.begin(), material.begin() + k);
        keys.server_write.key.assign(material.begin() + k, material.begin() + 2 * k);
        keys.client_write.salt.assign(material.begin() + 2 * k, material.begin() + 2 * k + s);
        keys.server_write.salt.assign(material.begin() + 2 * k + s, material.end());
        return keys;
    }

    /// Both directions' lengths fit the profile.
    std::error_code validate() const {
        const auto params = parameters(profile);
        if (params.master_key_length == 0) return make_error_code(Error::unsupported_profile);
        for (const MasterKey* m : {&client_write, &server_write})
            if (m->key.size() != params.master_key_length || m->salt.size() != params.master_salt_length)
                return make_error_code(Error::invalid_key_length);
        return {};
    }
};

}  // namespace tapsec::srtp
