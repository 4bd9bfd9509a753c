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
//
// IKE fragmentation (RFC 7383 2.5): a message too large for the path is sent as SKF
// messages, each an IKE header (the message's own exchange, flags and ID) and one
// Encrypted Fragment payload: the SK layout with Fragment Number and Total Fragments
// after the generic header (both covered by the AAD / ICV). The inner chain is cut into
// pieces, each padded and sealed on its own; fragments.hpp puts them back together.
#pragma once

#include <array>
#include <cstring>
#include <algorithm>
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
    /// inner payloads sealed into one SK payload. The IV is a per-key counter (AEAD) or
    /// random (AES-CBC).
    Bytes seal(Header h, const std::vector<RawPayload>& inner) {
        Bytes plain;
        wire::Writer pw(plain);
        write_chain(pw, inner);
        return seal_written(h, inner.empty() ? PayloadType::none : inner.front().type, plain);
    }

    /// The message as one SK payload when it fits in `max_size` octets (or `fragment` is
    /// false), else as SKF fragments of at most `max_size` octets each (RFC 7383 2.5):
    /// the inner chain cut into pieces, each sealed on its own under a copy of `h`.
    std::vector<Bytes> seal_message(const Header& h, const std::vector<RawPayload>& inner, bool fragment, std::size_t max_size) {
        Bytes chain;
        wire::Writer cw(chain);
        write_chain(cw, inner);
        const std::size_t whole = header_size + generic_header_size + sealed_size(chain.size());
        const std::size_t piece = fragment_capacity(max_size);
        if (!fragment || inner.empty() || whole <= max_size || piece == 0 || (chain.size() + piece - 1) / piece > 0xffff)
            return {seal_written(h, inner.empty() ? PayloadType::none : inner.front().type, chain)};
        const auto total = static_cast<std::uint16_t>((chain.size() + piece - 1) / piece);
        std::vector<Bytes> out;
        for (std::uint16_t n = 1; n <= total; ++n) {
            const std::size_t at = std::size_t{n - 1u} * piece;
            const ByteView part = ByteView(chain).subspan(at, std::min(piece, chain.size() - at));
            out.push_back(seal_fragment(h, n, total, n == 1 ? inner.front().type : PayloadType::none, part));
        }
        secure_zero(chain.data(), chain.size());
        return out;
    }

    /// One SKF message (RFC 7383 2.5): `h` with an Encrypted Fragment payload holding
    /// fragment `number` of `total`, `next` (the first inner payload's type in fragment 1,
    /// none in the others) and `part` of the inner chain. The associated data (AEAD) or
    /// the ICV (AES-CBC) covers the IKE header and the SKF header with both numbers.
    Bytes seal_fragment(Header h, std::uint16_t number, std::uint16_t total, PayloadType next, ByteView part) {
        Bytes plain(part.begin(), part.end());
        return seal_payload(h, PayloadType::skf, next, FragmentNumbers{number, total}, plain);
    }

    /// The largest piece of an inner chain an SKF message of `max_size` octets carries
    /// (0: none fits).
    std::size_t fragment_capacity(std::size_t max_size) const {
        const std::size_t fixed = header_size + generic_header_size + fragment_numbers_size;
        if (max_size <= fixed + 64) return 0;
        const std::size_t room = max_size - fixed;
        if (!cbc_) return room - sk_iv_size - sk_icv_size - 1;  // one pad-length octet, no padding
        if (room < cbc_iv_size + icv_size_ + cbc_block) return 0;
        return (room - cbc_iv_size - icv_size_) / cbc_block * cbc_block - 1;
    }

    /// Opens the SK payload of `m` (parsed from `raw`) and parses the inner chain.
    Result<std::vector<RawPayload>> open(ByteView raw, const Message& m) const {
        if (!m.encrypted || m.fragment()) return make_error_code(Error::invalid_syntax);
        auto text = decrypt(raw, m.encrypted->body);
        if (!text) return text.error();
        std::vector<RawPayload> inner;
        auto ec = parse_chain(*text, m.first_inner, inner);
        secure_zero(text->data(), text->size());
        if (ec) return ec;
        return inner;
    }

    /// An authenticated fragment's numbers and its piece of the inner chain.
    struct OpenedFragment {
        FragmentNumbers numbers;
        PayloadType next = PayloadType::none;
        Bytes part;
    };
    /// Checks and decrypts the SKF payload of `m` (parsed from `raw`). A fragment that
    /// fails its integrity check is integrity_check_failed (RFC 7383 2.6: the caller
    /// drops it and keeps the others).
    Result<OpenedFragment> open_fragment(ByteView raw, const Message& m) const {
        if (!m.fragment()) return make_error_code(Error::invalid_syntax);
        const Bytes& body = m.encrypted->body;
        auto numbers = decode_fragment_numbers(body);
        if (!numbers) return numbers.error();
        auto text = decrypt(raw, ByteView(body).subspan(fragment_numbers_size));
        if (!text) return text.error();
        return OpenedFragment{*numbers, m.first_inner, std::move(*text)};
    }

private:
    SkCipher() = default;

    static constexpr std::size_t cbc_iv_size = 16, cbc_block = 16;

    /// The SK message around an inner chain already written to `plain` (whose first
    /// payload is `first`): the one sealing step of seal() and seal_message(), so the
    /// chain is written once. `plain` is wiped.
    Bytes seal_written(Header h, PayloadType first, Bytes& plain) { return seal_payload(h, PayloadType::sk, first, std::nullopt, plain); }

    /// `h`, then one SK (no numbers) or SKF (`numbers`) payload whose body seals `plain`:
    /// the header writing both seal_written() and seal_fragment() share. `plain` is wiped.
    Bytes seal_payload(Header h, PayloadType payload, PayloadType next, std::optional<FragmentNumbers> numbers, Bytes& plain) {
        const std::size_t payload_length =
            generic_header_size + (numbers ? fragment_numbers_size : 0) + sealed_size(plain.size());
        h.next_payload = payload;
        h.length = static_cast<std::uint32_t>(header_size + payload_length);
        Bytes out;
        out.reserve(h.length);
        wire::Writer w(out);
        write_header(w, h);
        w.u8(static_cast<std::uint8_t>(next));
        w.u8(0);
        w.u16(static_cast<std::uint16_t>(payload_length));
        if (numbers) {
            w.u16(numbers->number);
            w.u16(numbers->total);
        }
        seal_after(out, plain);
        return out;
    }

    /// IV | ciphertext | ICV for `plain` octets of inner chain (padding and pad length included).
    std::size_t sealed_size(std::size_t plain) const {
        if (!cbc_) return sk_iv_size + plain + 1 + sk_icv_size;
        return cbc_iv_size + (plain + 1 + cbc_block - 1) / cbc_block * cbc_block + icv_size_;
    }

    /// Appends IV | ciphertext | ICV of `plain` to `out`, which holds everything before
    /// the IV (the associated data). `plain` is padded here and wiped.
    void seal_after(Bytes& out, Bytes& plain) {
        if (cbc_) {
            const std::size_t pad = (cbc_block - (plain.size() + 1) % cbc_block) % cbc_block;
            plain.resize(plain.size() + pad, 0);
            plain.push_back(static_cast<std::uint8_t>(pad));
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
            return;
        }
        plain.push_back(0);  // pad length: no padding
        const std::size_t aad_size = out.size();
        const std::uint64_t iv = ++iv_counter_;
        for (int i = 7; i >= 0; --i) out.push_back(static_cast<std::uint8_t>(iv >> (8 * i)));
        const std::size_t text_at = out.size();
        append(out, plain);
        secure_zero(plain.data(), plain.size());
        out.resize(out.size() + sk_icv_size);
        const auto n = nonce(ByteView(out.data() + aad_size, sk_iv_size));
        aead_->seal_in_place(n, ByteView(out.data(), aad_size), MutableByteView(out.data() + text_at, out.size() - text_at - sk_icv_size),
                            MutableByteView(out.data() + out.size() - sk_icv_size, sk_icv_size));
    }

    /// Checks and decrypts `sealed` (IV | ciphertext | ICV: the end of `raw`, everything
    /// before it the associated data) and strips the padding.
    Result<Bytes> decrypt(ByteView raw, ByteView sealed) const {
        if (sealed.size() > raw.size()) return make_error_code(Error::malformed_message);
        const std::size_t aad_size = raw.size() - sealed.size();
        if (cbc_) {
            if (sealed.size() < cbc_iv_size + cbc_block + icv_size_ || (sealed.size() - cbc_iv_size - icv_size_) % cbc_block)
                return make_error_code(Error::malformed_message);
            const std::size_t covered = raw.size() - icv_size_;
            std::array<std::uint8_t, 32> expected;
            icv(raw.first(covered), MutableByteView(expected.data(), icv_size_));
            if (!constant_time_equal(ByteView(expected.data(), icv_size_), raw.subspan(covered)))
                return make_error_code(Error::integrity_check_failed);
            Bytes text(sealed.begin() + cbc_iv_size, sealed.end() - static_cast<std::ptrdiff_t>(icv_size_));
            if (!cbc_->decrypt(sealed.first(cbc_iv_size), text)) return make_error_code(Error::malformed_message);
            return strip_padding(std::move(text));
        }
        if (sealed.size() < sk_iv_size + sk_icv_size + 1) return make_error_code(Error::malformed_message);
        const std::size_t text_size = sealed.size() - sk_iv_size - sk_icv_size;
        Bytes text(sealed.begin() + sk_iv_size, sealed.begin() + static_cast<std::ptrdiff_t>(sk_iv_size + text_size));
        const auto n = nonce(sealed.first(sk_iv_size));
        if (!aead_->open_in_place(n, raw.first(aad_size), text, sealed.subspan(sk_iv_size + text_size, sk_icv_size)))
            return make_error_code(Error::integrity_check_failed);
        return strip_padding(std::move(text));
    }
    static Result<Bytes> strip_padding(Bytes text) {
        const std::size_t pad = text.back();
        if (pad + 1 > text.size()) {
            secure_zero(text.data(), text.size());
            return make_error_code(Error::malformed_message);
        }
        text.resize(text.size() - pad - 1);
        return text;
    }

    /// The truncated HMAC over `covered` (RFC 4868 2.3).
    void icv(ByteView covered, MutableByteView out) const {
        std::array<std::uint8_t, 64> full;
        mac_->update(covered);
        mac_->final(MutableByteView(full.data(), mac_->output_length()));
        std::memcpy(out.data(), full.data(), out.size());
        secure_zero(full.data(), full.size());
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
