// The SRTP key derivation function (RFC 3711 4.3) with key derivation rate 0: each
// session key is the AES-CM keystream under the master key, with IV
// (master_salt XOR (label << 48)) * 2^16. RFC 7714's 96-bit salts are used
// left-aligned in the 112-bit field (zero-padded), as RFC 7714 Section 11 and
// libsrtp do; AES-256 master keys (AEAD_AES_256_GCM) use AES-256 in the PRF.
#pragma once

#include <cstdint>

#include "../core/bytes.hpp"
#include "../core/errors.hpp"
#include "aes_cm.hpp"
#include "errors.hpp"

namespace tapsec::srtp {

/// RFC 3711 4.3.2 labels.
enum class KdfLabel : std::uint8_t {
    rtp_encryption = 0x00,
    rtp_authentication = 0x01,
    rtp_salt = 0x02,
    rtcp_encryption = 0x03,
    rtcp_authentication = 0x04,
    rtcp_salt = 0x05,
};

/// The SRTP PRF keyed with one master key: derive() as often as needed.
template <class Crypto>
class KeyDerivation {
public:
    static Result<KeyDerivation> create(ByteView master_key, ByteView master_salt) {
        if (master_salt.size() > 14 || (master_key.size() != 16 && master_key.size() != 32))
            return std::error_code(make_error_code(Error::invalid_key_length));
        auto aes = Crypto::BlockCipher::aes(master_key);
        if (!aes) return aes.error();
        KeyDerivation kdf(std::move(*aes));
        std::memcpy(kdf.salt_.data(), master_salt.data(), master_salt.size());
        return kdf;
    }

    /// `length` bytes of the session key with `label` (index DIV kdr = 0).
    SecretBytes derive(KdfLabel label, std::size_t length) const {
        SecretArray<16> iv;
        std::memcpy(iv.data(), salt_.data(), 14);
        iv[7] ^= static_cast<std::uint8_t>(label);  // key_id = label || 48 zero bits, right-aligned in 112
        SecretBytes out(length, 0);
        aes_cm_apply(aes_, iv.data(), out, /*wipe=*/true);
        return out;
    }

private:
    explicit KeyDerivation(typename Crypto::BlockCipher aes) : aes_(std::move(aes)) {}
    typename Crypto::BlockCipher aes_;
    SecretArray<14> salt_;
};

}  // namespace tapsec::srtp
