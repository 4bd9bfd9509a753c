// The Encrypted payload (SK, RFC 7296 3.14) with AES-GCM-16 (RFC 5282) or
// ChaCha20-Poly1305 (RFC 7634), both AEADs of the same shape:
//   IKE header | SK generic header | IV (8) | ciphertext | ICV (16)
// The associated data is the IKE header and the SK generic header (everything before
// the IV); the nonce is the 4-octet salt from SK_e followed by the IV. The plaintext is
// the inner payload chain, padding, and the pad length octet (no padding is needed for
// a stream mode; received padding is accepted whatever its content, as RFC 7296 asks).
//
// With AES-CBC (RFC 3602) and an HMAC-SHA-2 integrity transform (RFC 4868):
//   IKE header | SK generic header | IV (16, random) | AES-CBC(inner | padding | pad length) | ICV
// where the ICV is the truncated HMAC under SK_a over everything before it (RFC 7296
// 3.14), checked in constant time before anything is decrypted.
#pragma once

#include <array>
#include <cstring>
#include <optional>

#include "../core/bytes.hpp"
#include "../crypto/provider.hpp"
#include "../esp/keys.hpp"
#include "errors.hpp"
#include "wire.hpp"

namespace tapsec::ikev2 {

inline constexpr std::size_t sk_iv_size = 8, sk_icv_size = 16, sk_salt_size = 4;

/// One direction's SK payload cipher (SK_ei or SK_er: key | salt).
template <class Crypto>
class SkCipher {
public:
    /// AES-CBC with `integrity`: SK_e is the AES key, SK_a the HMAC key.
    static Result<SkCipher> create(esp::Algorithm algorithm, esp::Integrity integrity, ByteView sk_e, ByteView sk_a) {
        if (esp::is_aead(algorithm)) return create(algorithm, sk_e);
        if (!esp::valid_pair(algorithm, integrity) || sk_e.size() != esp::key_length(algorithm) ||
            sk_a.size() != esp::integrity_key_length(integrity))
            return make_error_code(Error::invalid_configuration);
        auto cbc = Crypto::CbcCipher::create(sk_e);
        auto mac = Crypto::Hmac::create(esp::integrity_hash(integrity), sk_a);
        if (!cbc || !mac) return make_error_code(Error::invalid_configuration);
        SkCipher c;
        c.cbc_.emplace(std::move(*cbc));
        c.mac_.emplace(std::move(*mac));
        c.icv_size_ = esp::integrity_icv_length(integrity);
        return c;
    }

    static Result<SkCipher> create(esp::Algorithm algorithm, ByteView key_and_salt) {
        if (!esp::is_aead(algorithm) || key_and_salt.size() != esp::keymat_length(algorithm))
            return make_error_code(Error::invalid_configuration);
        const std::size_t k = esp::key_length(algorithm);
        auto aead = Crypto::Aead::create(esp::aead_of(algorithm), key_and_salt.first(k));
        if (!aead) return aead.error();
        SkCipher c;
        c.aead_.emplace(std::move(*aead));
        std::memcpy(c.salt_.data(), key_and_salt.data() + k, sk_salt_size);
        return c;
    }

    /// A whole protected message: `h` (length and next payload filled in here) and the
    /// inner payloads sealed into one SK payload. The IV is a per-key counter.
    Bytes seal(Header h, const std::vector<RawPayload>& inner) {
        if (cbc_) return seal_cbc(h, inner);
        Bytes plain;
        wire::Writer pw(plain);
        write_chain(pw, inner);
        plain.push_back(0);  // pad length: no padding
        const std::size_t sk_length = generic_header_size + sk_iv_size + plain.size() + sk_icv_size;
        Bytes out = start_sk(h, inner, sk_length);
        const std::size_t aad_size = out.size();
        const std::uint64_t iv = ++iv_counter_;
        for (int i = 7; i >= 0; --i) out.push_back(static_cast<std::uint8_t>(iv >> (8 * i)));
        const std::size_t text_at = out.size();
        append(out, plain);
        out.resize(out.size() + sk_icv_size);
        const auto n = nonce(ByteView(out.data() + aad_size, sk_iv_size));
        aead_->seal_in_place(n, ByteView(out.data(), aad_size), MutableByteView(out.data() + text_at, plain.size()),
                            MutableByteView(out.data() + text_at + plain.size(), sk_icv_size));
        return out;
    }

    /// Opens the SK payload of `m` (parsed from `raw`) and parses the inner chain.
    Result<std::vector<RawPayload>> open(ByteView raw, const Message& m) const {
        if (!m.encrypted) return make_error_code(Error::invalid_syntax);
        if (cbc_) return open_cbc(raw, m);
        const Bytes& body = m.encrypted->body;
        if (body.size() < sk_iv_size + sk_icv_size + 1) return make_error_code(Error::malformed_message);
        const std::size_t aad_size = raw.size() - body.size();
        const std::size_t text_size = body.size() - sk_iv_size - sk_icv_size;
        Bytes text(body.begin() + sk_iv_size, body.begin() + static_cast<std::ptrdiff_t>(sk_iv_size + text_size));
        const auto n = nonce(ByteView(body.data(), sk_iv_size));
        if (!aead_->open_in_place(n, raw.first(aad_size), text, ByteView(body.data() + sk_iv_size + text_size, sk_icv_size)))
            return make_error_code(Error::integrity_check_failed);
        const std::size_t pad = text.back();
        if (pad + 1 > text.size()) return make_error_code(Error::malformed_message);
        std::vector<RawPayload> inner;
        if (auto ec = parse_chain(ByteView(text).first(text.size() - pad - 1), m.first_inner, inner)) return ec;
        return inner;
    }

private:
    SkCipher() = default;

    static constexpr std::size_t cbc_iv_size = 16, cbc_block = 16;

    /// The IKE header and the SK payload's generic header, for either cipher kind.
    static Bytes start_sk(Header& h, const std::vector<RawPayload>& inner, std::size_t sk_length) {
        h.next_payload = PayloadType::sk;
        h.length = static_cast<std::uint32_t>(header_size + sk_length);
        Bytes out;
        out.reserve(h.length);
        wire::Writer w(out);
        write_header(w, h);
        w.u8(static_cast<std::uint8_t>(inner.empty() ? PayloadType::none : inner.front().type));
        w.u8(0);
        w.u16(static_cast<std::uint16_t>(sk_length));
        return out;
    }

    /// The truncated HMAC over `covered` (RFC 4868 2.3).
    void icv(ByteView covered, MutableByteView out) const {
        std::array<std::uint8_t, 64> full;
        mac_->update(covered);
        mac_->final(MutableByteView(full.data(), mac_->output_length()));
        std::memcpy(out.data(), full.data(), out.size());
        secure_zero(full.data(), full.size());
    }

    Bytes seal_cbc(Header h, const std::vector<RawPayload>& inner) {
        Bytes plain;
        wire::Writer pw(plain);
        write_chain(pw, inner);
        const std::size_t pad = (cbc_block - (plain.size() + 1) % cbc_block) % cbc_block;
        plain.resize(plain.size() + pad, 0);
        plain.push_back(static_cast<std::uint8_t>(pad));
        const std::size_t sk_length = generic_header_size + cbc_iv_size + plain.size() + icv_size_;
        Bytes out = start_sk(h, inner, sk_length);
        const std::size_t iv_at = out.size();
        out.resize(iv_at + cbc_iv_size);
        Crypto::random(MutableByteView(out.data() + iv_at, cbc_iv_size));  // RFC 7296 3.14: unpredictable
        const std::size_t text_at = out.size();
        append(out, plain);
        secure_zero(plain.data(), plain.size());
        cbc_->encrypt(ByteView(out.data() + iv_at, cbc_iv_size), MutableByteView(out.data() + text_at, out.size() - text_at));
        const std::size_t covered = out.size();
        out.resize(covered + icv_size_);
        icv(ByteView(out.data(), covered), MutableByteView(out.data() + covered, icv_size_));
        return out;
    }

    Result<std::vector<RawPayload>> open_cbc(ByteView raw, const Message& m) const {
        const Bytes& body = m.encrypted->body;
        if (body.size() < cbc_iv_size + cbc_block + icv_size_ || (body.size() - cbc_iv_size - icv_size_) % cbc_block)
            return make_error_code(Error::malformed_message);
        const std::size_t covered = raw.size() - icv_size_;
        std::array<std::uint8_t, 32> expected;
        icv(raw.first(covered), MutableByteView(expected.data(), icv_size_));
        if (!constant_time_equal(ByteView(expected.data(), icv_size_), raw.subspan(covered)))
            return make_error_code(Error::integrity_check_failed);
        Bytes text(body.begin() + cbc_iv_size, body.end() - static_cast<std::ptrdiff_t>(icv_size_));
        if (!cbc_->decrypt(ByteView(body.data(), cbc_iv_size), text)) return make_error_code(Error::malformed_message);
        const std::size_t pad = text.back();
        if (pad + 1 > text.size()) return make_error_code(Error::malformed_message);
        std::vector<RawPayload> inner;
        auto ec = parse_chain(ByteView(text).first(text.size() - pad - 1), m.first_inner, inner);
        secure_zero(text.data(), text.size());
        if (ec) return ec;
        return inner;
    }

    std::array<std::uint8_t, 12> nonce(ByteView iv) const {
        std::array<std::uint8_t, 12> n;
        std::memcpy(n.data(), salt_.data(), sk_salt_size);
        std::memcpy(n.data() + sk_salt_size, iv.data(), sk_iv_size);
        return n;
    }
    std::optional<typename Crypto::Aead> aead_;        // an AEAD, or ...
    std::optional<typename Crypto::CbcCipher> cbc_;     // ... AES-CBC
    mutable std::optional<typename Crypto::Hmac> mac_;  // with its HMAC (keyed once, reset by final)
    std::size_t icv_size_ = sk_icv_size;
    std::array<std::uint8_t, 4> salt_{};
    std::uint64_t iv_counter_ = 0;
};

}  // namespace tapsec::ikev2
