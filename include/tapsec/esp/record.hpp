// EspRecord: ESP (RFC 4303) with AES-GCM-16 (RFC 4106), ChaCha20-Poly1305 (RFC 7634) or
// AES-CBC (RFC 3602) + HMAC-SHA-256/384/512 (RFC 4868) as a tapsec record policy.
// It has no handshake of its own: it imports esp::ChildSaKeys explicitly (survey 6.1)
// and never learns who produced them (IKEv2 through KEYMAT, a test, another protocol).
//
// One packet on the wire (tunnel mode carries a whole inner IP packet as payload):
//   SPI (4) | sequence number, low 32 bits (4) | IV (8) | ciphertext | ICV (16)
// where the ciphertext is payload | padding 1, 2, 3, ... | pad length | next header,
// aligned to 4 octets. The nonce is salt (4) | IV (8); the IV is the 64-bit sequence
// number, unique per key. The associated data is SPI | sequence (8 octets), or
// SPI | high 32 bits | low 32 bits with extended sequence numbers (RFC 4106 5, RFC 7634 2.1).
// The receiver infers the high half (RFC 4303 Appendix A2) from the shared anti-replay
// window, checks before decrypting and commits only after the ICV verified.
//
// With AES-CBC + HMAC (not an AEAD) the packet is
//   SPI (4) | sequence (4) | IV (16, random per packet) | ciphertext | ICV (16/24/32)
// where the ciphertext is aligned to the 16-octet block; the ICV is the truncated HMAC
// over SPI | sequence | IV | ciphertext, followed (for the computation only) by the
// sequence number's high 32 bits with ESN (RFC 4303 3.3.2.2). It is verified, in
// constant time, before anything is decrypted.
#pragma once

#include <array>
#include <cstring>
#include <optional>
#include <string_view>

#include "../core/bytes.hpp"
#include "../core/config.hpp"
#include "../core/dependencies.hpp"
#include "../core/errors.hpp"
#include "../core/features.hpp"
#include "../core/replay_window.hpp"
#include "../crypto/provider.hpp"
#include "errors.hpp"
#include "keys.hpp"
#include "tfc.hpp"

namespace tapsec::esp {

inline constexpr std::size_t header_size = 8;   // SPI | sequence
inline constexpr std::size_t iv_size = 8;
inline constexpr std::size_t icv_size = 16;
inline constexpr std::size_t trailer_size = 2;  // pad length | next header
/// The smallest valid packet: header, IV, an empty padded payload's trailer, ICV.
inline constexpr std::size_t min_packet_size = header_size + iv_size + 4 + icv_size;

inline constexpr std::uint8_t next_header_ipv4 = 4;
inline constexpr std::uint8_t next_header_ipv6 = 41;
inline constexpr std::uint8_t next_header_dummy = 59;  // RFC 4303 2.6: a dummy packet, discarded

/// Bytes of padding so that payload | padding | trailer ends on a 4-octet boundary.
constexpr std::size_t padding_for(std::size_t payload) noexcept { return (4 - (payload + trailer_size) % 4) % 4; }
constexpr std::size_t sealed_size(std::size_t payload) noexcept {
    return header_size + iv_size + payload + padding_for(payload) + trailer_size + icv_size;
}

inline constexpr std::size_t cbc_iv_size = 16, cbc_block_size = 16;
/// The largest packet any algorithm makes of `payload` (AES-CBC with HMAC-SHA-512-256:
/// 16-octet IV, up to 15 octets more padding, 32-octet ICV); SecurityAssociation::
/// sealed_size gives the exact size for its algorithm.
constexpr std::size_t max_sealed_size(std::size_t payload) noexcept {
    return header_size + cbc_iv_size + payload + trailer_size + cbc_block_size - 1 + 32;
}

/// The SPI of an ESP packet (for demultiplexing before any SA is chosen).
inline std::optional<std::uint32_t> spi_of(ByteView packet) noexcept {
    if (packet.size() < 4) return std::nullopt;
    return std::uint32_t{packet[0]} << 24 | std::uint32_t{packet[1]} << 16 | std::uint32_t{packet[2]} << 8 | packet[3];
}

/// What unprotect found: the inner payload (a view into the caller's packet buffer)
/// and its next header (4: IPv4, 41: IPv6; 59: a dummy packet, payload empty).
struct Opened {
    ByteView payload;
    std::uint8_t next_header = 0;
    std::uint64_t sequence = 0;
};

/// One pair of ESP SAs (inbound and outbound), the record layer EspRecord names.
template <class Crypto>
class SecurityAssociation {
public:
    using Window = ReplayWindow<2048>;
    static constexpr std::uint64_t window_size = Window::size;

    /// The only way keys get in (EspRecord::imported_keys).
    static Result<SecurityAssociation> import(const ChildSaKeys& keys) {
        const std::size_t expected = keymat_length(keys.algorithm, keys.integrity);
        if (!valid_pair(keys.algorithm, keys.integrity) || keys.inbound_key.size() != expected ||
            keys.outbound_key.size() != expected || keys.inbound_spi == 0 || keys.outbound_spi == 0)
            return make_error_code(Error::invalid_keys);
        const std::size_t k = key_length(keys.algorithm);
        SecurityAssociation sa;
        if (is_aead(keys.algorithm)) {
            const auto alg = aead_of(keys.algorithm);
            auto seal = Crypto::Aead::create(alg, ByteView(keys.outbound_key).first(k));
            auto open = Crypto::Aead::create(alg, ByteView(keys.inbound_key).first(k));
            if (!seal || !open) return make_error_code(Error::invalid_keys);
            sa.seal_.emplace(std::move(*seal));
            sa.open_.emplace(std::move(*open));
            std::memcpy(sa.out_salt_.data(), keys.outbound_key.data() + k, salt_length);
            std::memcpy(sa.in_salt_.data(), keys.inbound_key.data() + k, salt_length);
        } else {
            const auto hash = integrity_hash(keys.integrity);
            auto cbc_out = Crypto::CbcCipher::create(ByteView(keys.outbound_key).first(k));
            auto cbc_in = Crypto::CbcCipher::create(ByteView(keys.inbound_key).first(k));
            auto mac_out = Crypto::Hmac::create(hash, ByteView(keys.outbound_key).subspan(k));
            auto mac_in = Crypto::Hmac::create(hash, ByteView(keys.inbound_key).subspan(k));
            if (!cbc_out || !cbc_in || !mac_out || !mac_in) return make_error_code(Error::invalid_keys);
            sa.cbc_out_.emplace(std::move(*cbc_out));
            sa.cbc_in_.emplace(std::move(*cbc_in));
            sa.mac_out_.emplace(std::move(*mac_out));
            sa.mac_in_.emplace(std::move(*mac_in));
            sa.icv_size_ = integrity_icv_length(keys.integrity);
        }
        sa.inbound_spi_ = keys.inbound_spi;
        sa.outbound_spi_ = keys.outbound_spi;
        sa.esn_ = keys.extended_sequence_numbers;
        sa.algorithm_ = keys.algorithm;
        sa.integrity_ = keys.integrity;
        return sa;
    }

    /// The exact size of the packet protect() makes of `payload`.
    std::size_t sealed_size(std::size_t payload) const noexcept {
        if (!cbc_out_) return esp::sealed_size(payload);
        return header_size + cbc_iv_size + cbc_text_size(payload) + icv_size_;
    }

    /// Seals `payload` (an inner IP packet in tunnel mode) into `out` (at least
    /// sealed_size(max(payload.size(), padded_size)) bytes); returns the packet's size.
    /// `padded_size` beyond the payload's adds TFC padding (RFC 4303 2.4, tfc.hpp): zero
    /// octets after the payload, inside the ciphertext, which the receiver drops by the
    /// inner IP header's length.
    Result<std::size_t> protect(ByteView payload, std::uint8_t next_header, MutableByteView out, std::size_t padded_size = 0) {
        const std::size_t tfc = padded_size > payload.size() ? padded_size - payload.size() : 0;
        if (cbc_out_) return protect_cbc(payload, tfc, next_header, out);
        const std::size_t total = esp::sealed_size(payload.size() + tfc);
        if (out.size() < total) return make_error_code(Error::payload_too_large);
        const std::uint64_t limit = esn_ ? ~std::uint64_t{0} : std::uint64_t{0xffffffff};
        if (next_sequence_ > limit || next_sequence_ == 0) return make_error_code(Error::sequence_exhausted);
        const std::uint64_t seq = next_sequence_++;
        std::uint8_t* p = out.data();
        put32(p, outbound_spi_);
        put32(p + 4, static_cast<std::uint32_t>(seq));
        for (int i = 0; i < 8; ++i) p[header_size + i] = static_cast<std::uint8_t>(seq >> (56 - 8 * i));  // IV
        std::uint8_t* text = p + header_size + iv_size;
        if (!payload.empty()) std::memmove(text, payload.data(), payload.size());
        const std::size_t padded = payload.size() + tfc;
        if (tfc) std::memset(text + payload.size(), 0, tfc);
        const std::size_t pad = padding_for(padded);
        for (std::size_t i = 0; i < pad; ++i) text[padded + i] = static_cast<std::uint8_t>(i + 1);
        text[padded + pad] = static_cast<std::uint8_t>(pad);
        text[padded + pad + 1] = next_header;
        const std::size_t text_size = padded + pad + trailer_size;
        std::array<std::uint8_t, 12> aad_bytes;
        const ByteView aad = associated_data(outbound_spi_, seq, aad_bytes);
        const auto n = nonce(out_salt_, ByteView(p + header_size, iv_size));
        seal_->seal_in_place(n, aad, MutableByteView(text, text_size), MutableByteView(text + text_size, icv_size));
        return total;
    }

    /// Opens `packet` in place. Nothing changes (replay window included) unless the
    /// packet authenticates. The payload is a view into `packet`.
    Result<Opened> unprotect(MutableByteView packet) {
        if (cbc_in_) return unprotect_cbc(packet);
        if (packet.size() < min_packet_size || (packet.size() - header_size - iv_size - icv_size) % 4 != 0)
            return make_error_code(Error::malformed_packet);
        std::uint64_t seq = 0;
        if (auto refused = admit(packet, seq)) return *refused;
        std::array<std::uint8_t, 12> aad_bytes;
        const ByteView aad = associated_data(inbound_spi_, seq, aad_bytes);
        const auto n = nonce(in_salt_, ByteView(packet.data() + header_size, iv_size));
        const std::size_t text_size = packet.size() - header_size - iv_size - icv_size;
        MutableByteView text(packet.data() + header_size + iv_size, text_size);
        if (!open_->open_in_place(n, aad, text, ByteView(text.data() + text_size, icv_size)))
            return make_error_code(Error::authentication_failed);
        return finish_open(text, seq);
    }

    std::uint32_t inbound_spi() const noexcept { return inbound_spi_; }
    std::uint32_t outbound_spi() const noexcept { return outbound_spi_; }
    bool extended_sequence_numbers() const noexcept { return esn_; }
    Algorithm algorithm() const noexcept { return algorithm_; }
    Integrity integrity() const noexcept { return integrity_; }
    std::uint64_t next_sequence() const noexcept { return next_sequence_; }
    /// For tests: jump the outbound counter (exercises exhaustion and the ESN wrap).
    void set_next_sequence(std::uint64_t seq) noexcept { next_sequence_ = seq; }

private:
    using Aead = typename Crypto::Aead;
    SecurityAssociation() = default;

    /// The SPI, sequence and window checks before any cryptography, shared by both packet
    /// shapes: an error, or nothing with `seq` set to the full sequence number.
    std::optional<std::error_code> admit(ByteView packet, std::uint64_t& seq) const {
        const std::uint32_t spi = *spi_of(packet);
        if (spi != inbound_spi_) return make_error_code(Error::unknown_spi);
        const auto inferred = infer_sequence(get32(packet.data() + 4));
        if (!inferred) return make_error_code(Error::too_old);
        switch (replay_.check(*inferred)) {
            case ReplayVerdict::replayed: return make_error_code(Error::replayed);
            case ReplayVerdict::too_old: return make_error_code(Error::too_old);
            case ReplayVerdict::fresh: break;
        }
        seq = *inferred;
        return std::nullopt;
    }

    /// The decrypted payload | padding | pad length | next header: checks the padding,
    /// commits the sequence number to the window.
    Result<Opened> finish_open(MutableByteView text, std::uint64_t seq) {
        const std::size_t text_size = text.size();
        const std::uint8_t pad = text[text_size - 2];
        const std::uint8_t next_header = text[text_size - 1];
        if (std::size_t{pad} + trailer_size > text_size) return make_error_code(Error::bad_padding);
        const std::size_t payload_size = text_size - trailer_size - pad;
        for (std::size_t i = 0; i < pad; ++i)
            if (text[payload_size + i] != static_cast<std::uint8_t>(i + 1)) return make_error_code(Error::bad_padding);
        if (!replay_.commit(seq)) return make_error_code(Error::replayed);
        if (next_header == next_header_dummy) return Opened{ByteView{}, next_header, seq};
        return Opened{ByteView(text.data(), payload_size), next_header, seq};
    }

    static constexpr std::size_t cbc_text_size(std::size_t payload) noexcept {
        return (payload + trailer_size + cbc_block_size - 1) / cbc_block_size * cbc_block_size;
    }

    /// The full HMAC over `covered` (and the ESN high half), truncated into `icv`.
    void compute_icv(typename Crypto::Hmac& mac, ByteView covered, std::uint64_t seq, MutableByteView icv) {
        mac.update(covered);
        if (esn_) {
            std::uint8_t high[4];
            put32(high, static_cast<std::uint32_t>(seq >> 32));
            mac.update(ByteView(high, 4));
        }
        std::array<std::uint8_t, 64> full;
        mac.final(MutableByteView(full.data(), mac.output_length()));
        std::memcpy(icv.data(), full.data(), icv.size());
        secure_zero(full.data(), full.size());
    }

    Result<std::size_t> protect_cbc(ByteView payload, std::size_t tfc, std::uint8_t next_header, MutableByteView out) {
        const std::size_t total = sealed_size(payload.size() + tfc);
        if (out.size() < total) return make_error_code(Error::payload_too_large);
        const std::uint64_t limit = esn_ ? ~std::uint64_t{0} : std::uint64_t{0xffffffff};
        if (next_sequence_ > limit || next_sequence_ == 0) return make_error_code(Error::sequence_exhausted);
        const std::uint64_t seq = next_sequence_++;
        std::uint8_t* p = out.data();
        std::uint8_t* text = p + header_size + cbc_iv_size;
        if (!payload.empty()) std::memmove(text, payload.data(), payload.size());  // before the header: may alias
        put32(p, outbound_spi_);
        put32(p + 4, static_cast<std::uint32_t>(seq));
        Crypto::random(MutableByteView(p + header_size, cbc_iv_size));  // RFC 3602 2.4: unpredictable
        const std::size_t padded = payload.size() + tfc;
        if (tfc) std::memset(text + payload.size(), 0, tfc);
        const std::size_t text_size = cbc_text_size(padded);
        const std::size_t pad = text_size - padded - trailer_size;
        for (std::size_t i = 0; i < pad; ++i) text[padded + i] = static_cast<std::uint8_t>(i + 1);
        text[text_size - 2] = static_cast<std::uint8_t>(pad);
        text[text_size - 1] = next_header;
        if (!cbc_out_->encrypt(ByteView(p + header_size, cbc_iv_size), MutableByteView(text, text_size)))
            return make_error_code(Errc::internal_error);
        compute_icv(*mac_out_, ByteView(p, header_size + cbc_iv_size + text_size), seq,
                    MutableByteView(text + text_size, icv_size_));
        return total;
    }

    Result<Opened> unprotect_cbc(MutableByteView packet) {
        const std::size_t overhead = header_size + cbc_iv_size + icv_size_;
        if (packet.size() < overhead + cbc_block_size || (packet.size() - overhead) % cbc_block_size != 0)
            return make_error_code(Error::malformed_packet);
        std::uint64_t seq = 0;
        if (auto refused = admit(packet, seq)) return *refused;
        const std::size_t covered = packet.size() - icv_size_;
        std::array<std::uint8_t, 32> expected;
        compute_icv(*mac_in_, ByteView(packet.data(), covered), seq, MutableByteView(expected.data(), icv_size_));
        if (!constant_time_equal(ByteView(expected.data(), icv_size_), ByteView(packet.data() + covered, icv_size_)))
            return make_error_code(Error::authentication_failed);
        MutableByteView text(packet.data() + header_size + cbc_iv_size, covered - header_size - cbc_iv_size);
        if (!cbc_in_->decrypt(ByteView(packet.data() + header_size, cbc_iv_size), text))
            return make_error_code(Error::malformed_packet);
        return finish_open(text, seq);
    }

    static void put32(std::uint8_t* p, std::uint32_t v) {
        p[0] = static_cast<std::uint8_t>(v >> 24);
        p[1] = static_cast<std::uint8_t>(v >> 16);
        p[2] = static_cast<std::uint8_t>(v >> 8);
        p[3] = static_cast<std::uint8_t>(v);
    }
    static std::uint32_t get32(const std::uint8_t* p) {
        return std::uint32_t{p[0]} << 24 | std::uint32_t{p[1]} << 16 | std::uint32_t{p[2]} << 8 | p[3];
    }
    static std::array<std::uint8_t, 12> nonce(const std::array<std::uint8_t, 4>& salt, ByteView iv) {
        std::array<std::uint8_t, 12> n;
        std::memcpy(n.data(), salt.data(), 4);
        std::memcpy(n.data() + 4, iv.data(), 8);
        return n;
    }
    ByteView associated_data(std::uint32_t spi, std::uint64_t seq, std::array<std::uint8_t, 12>& buffer) const {
        put32(buffer.data(), spi);
        if (!esn_) {
            put32(buffer.data() + 4, static_cast<std::uint32_t>(seq));
            return ByteView(buffer.data(), 8);
        }
        put32(buffer.data() + 4, static_cast<std::uint32_t>(seq >> 32));
        put32(buffer.data() + 8, static_cast<std::uint32_t>(seq));
        return ByteView(buffer.data(), 12);
    }
    /// The full sequence number from its low 32 bits (RFC 4303 Appendix A2.2), or
    /// nullopt for a number that would lie before the first one.
    std::optional<std::uint64_t> infer_sequence(std::uint32_t low) const {
        if (!esn_) {
            if (low == 0) return std::nullopt;  // sequence numbers start at 1
            return low;
        }
        if (replay_.empty()) {  // nothing received yet: the first subspace
            if (low == 0) return std::nullopt;
            return low;
        }
        const std::uint64_t top = replay_.highest();
        const std::uint32_t th = static_cast<std::uint32_t>(top >> 32), tl = static_cast<std::uint32_t>(top);
        const std::uint32_t bottom = tl - static_cast<std::uint32_t>(window_size) + 1;  // mod 2^32
        std::uint64_t high = th;
        if (tl >= window_size - 1) {  // case A: the window lies within one 2^32 subspace
            if (low < bottom) high = std::uint64_t{th} + 1;
        } else if (low >= bottom) {  // case B: the window spans two subspaces
            if (th == 0) return std::nullopt;
            high = th - 1;
        }
        const std::uint64_t seq = high << 32 | low;
        if (seq == 0) return std::nullopt;
        return seq;
    }

    std::optional<Aead> seal_, open_;                              // an AEAD algorithm
    std::optional<typename Crypto::CbcCipher> cbc_out_, cbc_in_;    // AES-CBC ...
    std::optional<typename Crypto::Hmac> mac_out_, mac_in_;          // ... with its HMAC
    std::size_t icv_size_ = icv_size;
    Integrity integrity_ = Integrity::none;
    std::array<std::uint8_t, 4> out_salt_{}, in_salt_{};
    std::uint32_t inbound_spi_ = 0, outbound_spi_ = 0;
    bool esn_ = false;
    Algorithm algorithm_ = Algorithm::aes_128_gcm_16;
    std::uint64_t next_sequence_ = 1;
    Window replay_;
};

/// What an engine keying ESP may use of the record layer: import of ChildSaKeys, then
/// protect/unprotect on caller buffers.
template <class L>
concept PacketLayer = std::movable<L> && requires(L l, const L cl, const ChildSaKeys& keys, ByteView in, MutableByteView buffer) {
    { L::import(keys) } -> std::same_as<Result<L>>;
    { l.protect(in, std::uint8_t{}, buffer) } -> std::same_as<Result<std::size_t>>;
    { l.protect(in, std::uint8_t{}, buffer, std::size_t{}) } -> std::same_as<Result<std::size_t>>;  // TFC padded
    { l.unprotect(buffer) } -> std::same_as<Result<Opened>>;
    { cl.inbound_spi() } -> std::same_as<std::uint32_t>;
};

}  // namespace tapsec::esp

namespace tapsec {

struct EspRecord {
    static constexpr std::string_view name = "ESP (AES-GCM-16, ChaCha20-Poly1305, AES-CBC + HMAC-SHA-2; tunnel mode)";
    // Every packet is authenticated and encrypted; the anti-replay window accepts each
    // sequence number once in any order within 1984 packets.
    // LHP: TFC padding (RFC 4303 2.4) hides inner packet lengths in buckets or behind one
    // fixed size (esp/tfc.hpp, ikev2::Config::tfc_padding).
    using provides = features<feature::LHP, feature::record_protection, feature::replay_protection,
                              feature::out_of_order_receipt>;
    using intrinsic = features<feature::record_protection>;
    using needs = dependencies<dependency::datagram, dependency::external_key_management>;
    static constexpr KeyImport key_import = KeyImport::explicit_import;
    using imported_keys = esp::ChildSaKeys;
    template <class Crypto>
    using layer = esp::SecurityAssociation<Crypto>;
};

}  // namespace tapsec
