// TLS 1.3 record protection (RFC 8446 Sections 5.1-5.5, RFC 8449) and the `AeadRecord`
// record policy.
//
// HOW THE HANDSHAKE / ENGINE USES IT
//   RecordLayer<Crypto> records({.padding = PaddingPolicy::to_multiple_of(256)});
//   // sending: plaintext records until a write key is installed, protected records after
//   records.write(ContentType::handshake, client_hello, out, /*legacy_version=*/0x0301);
//   records.install_key(Epoch::handshake, Direction::write, traffic_secret);  // a TrafficSecret
//                                   // from key_schedule.hpp (install_write / install_read alike)
//   records.write(ContentType::application_data, data, out);   // fragments, pads, seals
//   // receiving: bytes from the transport in, opened records out
//   if (auto ec = records.feed(bytes)) fail(ec);
//   for (;;) { auto r = records.next(); if (!r) fail(r.error()); if (!*r) break;
//              (*r)->type, (*r)->data, (*r)->protected_record ... }
//   records.install_key(level, Direction::read, peer_secret);  // each epoch change (seq restarts at 0)
//   records.set_send_record_size_limit(peer_ext_value);      // RFC 8449, after EE
//   records.set_receive_record_size_limit(our_ext_value);    // what we advertised
//   if (records.take_key_expiring()) -> write a KeyUpdate, then records.update_write_key()
//   on receiving a KeyUpdate: records.update_read_key()   (both derive "traffic upd", 7.2)
//   Errors are tls13::Error codes; send tls13::alert_for(ec) before closing.
//   A change_cipher_spec record comes out of next() as {change_cipher_spec, unprotected}
//   after its one byte was checked; whether one is allowed *now* is the handshake's call.
//   Trial decryption for rejected 0-RTT (4.2.10): `open()` leaves the read sequence
//   number unchanged when authentication fails, so the engine may drop such records.
//
// tls13::Engine uses only what the TlsRecordLayer concept (below) names, so another
// record policy with that key interface is keyed by the same handshake.
//
// Zero copy: `RecordSealer::seal_in_place` protects a record where it lies (the caller
// leaves 5 bytes for the header in front of the content); `RecordOpener::open_in_place`
// decrypts inside the reassembler's buffer. Both go through Crypto::Aead::seal_in_place
// / open_in_place.
#pragma once

#include <algorithm>
#include <array>
#include <concepts>
#include <cstdint>
#include <optional>
#include <vector>

#include "../core/bytes.hpp"
#include "../core/dependencies.hpp"
#include "../core/errors.hpp"
#include "../core/features.hpp"
#include "../crypto/provider.hpp"
#include "cipher_suites.hpp"
#include "errors.hpp"
#include "key_schedule.hpp"

namespace tapsec::tls13 {

enum class ContentType : std::uint8_t {
    invalid = 0,
    change_cipher_spec = 20,
    alert = 21,
    handshake = 22,
    application_data = 23,
};

constexpr bool is_tls13_content_type(std::uint8_t t) noexcept { return t >= 20 && t <= 23; }

/// Which records a traffic secret protects: the peer's (read) or ours (write).
enum class Direction : std::uint8_t { read, write };

inline constexpr std::size_t record_header_size = 5;
inline constexpr std::size_t max_plaintext_length = std::size_t{1} << 14;               // 5.1
inline constexpr std::size_t max_inner_plaintext_length = max_plaintext_length + 1;     // 5.4
inline constexpr std::size_t max_ciphertext_length = max_plaintext_length + 256;        // 5.2
inline constexpr std::uint16_t min_record_size_limit = 64;                               // RFC 8449 4
inline constexpr std::uint16_t max_record_size_limit = max_inner_plaintext_length;       // RFC 8449 4: TLS 1.3
inline constexpr std::uint16_t legacy_record_version = 0x0303;

/// Length-hiding padding (5.4): how many zero bytes follow the content type.
struct PaddingPolicy {
    enum class Mode : std::uint8_t { none, to_multiple, full_record };
    Mode mode = Mode::none;
    std::size_t multiple = 0;

    static constexpr PaddingPolicy none() noexcept { return {}; }
    /// TLSInnerPlaintext (content + type + padding) rounded up to a multiple of n.
    static constexpr PaddingPolicy to_multiple_of(std::size_t n) noexcept {
        return n > 1 ? PaddingPolicy{Mode::to_multiple, n} : PaddingPolicy{};
    }
    /// Every record as large as the record size limit allows: hides lengths entirely.
    static constexpr PaddingPolicy full_record() noexcept { return {Mode::full_record, 0}; }

    /// Zero bytes to add to an inner plaintext of `inner_length` (content + type),
    /// never exceeding `max_inner`.
    constexpr std::size_t padding_for(std::size_t inner_length, std::size_t max_inner) const noexcept {
        if (inner_length >= max_inner) return 0;
        switch (mode) {
            case Mode::none: return 0;
            case Mode::to_multiple: {
                const std::size_t rounded = (inner_length + multiple - 1) / multiple * multiple;
                return std::min(rounded, max_inner) - inner_length;
            }
            case Mode::full_record: return max_inner - inner_length;
        }
        return 0;
    }
};

/// Key-usage limits (5.5, survey 6.3 key expiration). When a write key has protected
/// `records` records or `bytes` bytes of content, the layer raises a key-expiring event
/// (RecordLayer::take_key_expiring); `grace_records` records later it refuses to seal
/// (Error::key_usage_exhausted) until new keys are installed. 0 = the suite's limit
/// (records) / unlimited (bytes).
struct KeyUsageLimits {
    std::uint64_t records = 0;
    std::uint64_t bytes = 0;
    std::uint64_t grace_records = 64;
};

/// One record as framed on the wire, inside the reassembler's buffer.
struct RecordView {
    ContentType type = ContentType::invalid;  // the outer (TLSCiphertext / TLSPlaintext) type
    std::uint16_t legacy_version = 0;
    ByteView header;            // the 5 header bytes: the AEAD's additional data
    MutableByteView fragment;   // ciphertext (protected) or content (plaintext records)
};

/// One opened record: its true content type and content (padding and type removed).
struct Plaintext {
    ContentType type = ContentType::invalid;
    MutableByteView data;
    bool protected_record = false;
};

// ---- the stream reassembler ---------------------------------------------------------------

/// Bytes in, whole records out. Holds at most `max_buffered` unprocessed bytes; checks
/// each header as soon as its bytes arrive (unknown type, bad version, oversized length
/// are reported at once, before the body is read; records complete before the bad
/// header are still returned first).
///
/// Placement: the bytes are copied in once (a sans-I/O engine's input is borrowed), and
/// while copying, each record is placed so that its fragment starts on a 16-byte
/// boundary (a few junk bytes between records). Botan 2's AES-GCM runs 10-15% slower
/// on buffers at some misaligned addresses; decrypting in place at an aligned address
/// avoids that at no extra copy.
class RecordReassembler {
public:
    explicit RecordReassembler(std::size_t max_buffered = 4 * (record_header_size + max_ciphertext_length) + 65536)
        : max_buffered_(max_buffered) {}

    /// Appends transport bytes. Views returned by next() are invalidated.
    std::error_code feed(ByteView data) {
        compact();
        if (unread_ + data.size() > max_buffered_) return make_error_code(Error::reassembly_buffer_full);
        while (!data.empty() && !error_) {
            if (tail_start_ == none) begin_record();
            const std::size_t have = buffer_.size() - tail_start_;
            std::size_t take;
            if (have < record_header_size) {
                take = std::min(record_header_size - have, data.size());
            } else {
                take = std::min(tail_total_ - have, data.size());
            }
            buffer_.insert(buffer_.end(), data.begin(), data.begin() + static_cast<std::ptrdiff_t>(take));
            data = data.subspan(take);
            unread_ += take;
            if (tail_total_ == 0) check_header();
            if (!error_ && tail_total_ != 0 && buffer_.size() - tail_start_ == tail_total_) {
                complete_.push_back(tail_start_);
                tail_start_ = none;
            }
        }
        return {};
    }

    /// The next complete record, nothing if more bytes are needed, or the error of a
    /// malformed header. The view stays valid until the next feed().
    Result<std::optional<RecordView>> next() {
        if (complete_head_ == complete_.size()) {
            if (error_) return error_;
            return std::optional<RecordView>{};
        }
        const std::size_t at = complete_[complete_head_++];
        const std::uint8_t* h = buffer_.data() + at;
        const std::size_t length = std::size_t{h[3]} << 8 | h[4];
        RecordView r;
        r.type = static_cast<ContentType>(h[0]);
        r.legacy_version = static_cast<std::uint16_t>(h[1] << 8 | h[2]);
        r.header = ByteView(h, record_header_size);
        r.fragment = MutableByteView(buffer_.data() + at + record_header_size, length);
        unread_ -= record_header_size + length;
        return std::optional<RecordView>{r};
    }

    /// Bytes received but not yet returned as records (a partial record at end of stream
    /// means the stream was truncated).
    std::size_t buffered() const noexcept { return unread_; }

    /// Frees the buffer's memory when nothing is held (no partial record, every record
    /// returned). Views from next() end here, as with feed().
    void release_if_empty() {
        if (unread_ != 0 || tail_start_ != none) return;
        Bytes().swap(buffer_);
        std::vector<std::size_t>().swap(complete_);
        complete_head_ = 0;
    }

private:
    static constexpr std::size_t none = ~std::size_t{0};
    static constexpr std::size_t alignment = 16;

    /// Starts the next record where its fragment will be 16-byte aligned.
    void begin_record() {
        const auto address = reinterpret_cast<std::uintptr_t>(buffer_.data()) + buffer_.size() + record_header_size;
        const std::size_t gap = (alignment - address % alignment) % alignment;
        buffer_.resize(buffer_.size() + gap);
        tail_start_ = buffer_.size();
        tail_total_ = 0;
    }

    /// Checks what has arrived of the current header; sets tail_total_ once it is whole.
    void check_header() {
        const std::size_t have = buffer_.size() - tail_start_;
        const std::uint8_t* h = buffer_.data() + tail_start_;
        if (have >= 1 && !is_tls13_content_type(h[0])) error_ = make_error_code(Error::unknown_content_type);
        else if (have >= 2 && h[1] != 0x03) error_ = make_error_code(Error::malformed_record_header);
        else if (have == record_header_size) {
            const std::size_t length = std::size_t{h[3]} << 8 | h[4];
            if (length > max_ciphertext_length) error_ = make_error_code(Error::record_overflow);
            else tail_total_ = record_header_size + length;
        }
    }

    /// Drops what next() already returned, moving the rest by a multiple of the
    /// alignment so that placed records stay aligned (the allocator's blocks are).
    void compact() {
        complete_.erase(complete_.begin(), complete_.begin() + static_cast<std::ptrdiff_t>(complete_head_));
        complete_head_ = 0;
        std::size_t live = complete_.empty() ? (tail_start_ == none ? buffer_.size() : tail_start_) : complete_.front();
        live -= live % alignment;
        if (live == 0) return;
        buffer_.erase(buffer_.begin(), buffer_.begin() + static_cast<std::ptrdiff_t>(live));
        for (auto& at : complete_) at -= live;
        if (tail_start_ != none) tail_start_ -= live;
    }

    Bytes buffer_;
    // Header offsets of whole records; those before complete_head_ were returned. A
    // vector with a head index, not a deque: a deque allocates a node every 64 records.
    std::vector<std::size_t> complete_;
    std::size_t complete_head_ = 0;
    std::size_t tail_start_ = none;     // header offset of the record being received
    std::size_t tail_total_ = 0;        // its size once its header is whole
    std::size_t unread_ = 0;            // wire bytes held and not yet returned
    std::size_t max_buffered_;
    std::error_code error_;
};

// ---- per-direction protection ----------------------------------------------------------------

namespace detail {
/// per-record nonce = write_iv XOR (sequence number, left-padded to iv length) (5.3).
inline std::array<std::uint8_t, 12> record_nonce(const std::array<std::uint8_t, 12>& iv, std::uint64_t seq) noexcept {
    auto nonce = iv;
    for (std::size_t i = 0; i < 8; ++i) nonce[11 - i] ^= static_cast<std::uint8_t>(seq >> (8 * i));
    return nonce;
}
/// An AEAD keyed for one direction where the provider can (a record sealer never
/// opens, an opener never seals); both directions otherwise.
template <class Crypto>
auto create_aead(crypto::AeadAlgorithm alg, ByteView key, bool seal) {
    if constexpr (requires { Crypto::Aead::create(alg, key, Crypto::Aead::Use::seal_only); })
        return Crypto::Aead::create(alg, key, seal ? Crypto::Aead::Use::seal_only : Crypto::Aead::Use::open_only);
    else
        return Crypto::Aead::create(alg, key);
}

inline void write_header(std::uint8_t* at, ContentType type, std::uint16_t version, std::size_t length) noexcept {
    at[0] = static_cast<std::uint8_t>(type);
    at[1] = static_cast<std::uint8_t>(version >> 8);
    at[2] = static_cast<std::uint8_t>(version);
    at[3] = static_cast<std::uint8_t>(length >> 8);
    at[4] = static_cast<std::uint8_t>(length);
}
}  // namespace detail

/// The write side of one traffic key: sequence numbers, nonces, usage accounting.
template <class Crypto = crypto::DefaultProvider>
class RecordSealer {
public:
    static Result<RecordSealer> create(const TrafficSecret& secret, KeyUsageLimits limits = {}) {
        if (!secret) return make_error_code(Error::record_layer_not_keyed);
        const auto keys = traffic_keys<Crypto>(secret);
        return from_keys(*secret.suite, keys.key, keys.iv, limits);
    }
    static Result<RecordSealer> from_keys(const CipherSuite& suite, ByteView key, ByteView iv, KeyUsageLimits limits = {}) {
        if (iv.size() != 12) return Errc::invalid_configuration;
        auto aead = detail::create_aead<Crypto>(suite.aead, key, /*seal=*/true);
        if (!aead) return aead.error();
        RecordSealer s(suite, std::move(*aead), limits);
        std::copy(iv.begin(), iv.end(), s.iv_.begin());
        return s;
    }
    RecordSealer(RecordSealer&&) noexcept = default;
    RecordSealer& operator=(RecordSealer&&) noexcept = default;
    ~RecordSealer() { secure_zero(iv_.data(), iv_.size()); }

    const CipherSuite& suite() const noexcept { return *suite_; }
    std::uint64_t sequence() const noexcept { return seq_; }
    std::uint64_t bytes_protected() const noexcept { return bytes_; }
    /// The key has reached its usage limit: install a new one (KeyUpdate) soon.
    bool key_expiring() const noexcept { return seq_ >= soft_records_ || (soft_bytes_ && bytes_ >= soft_bytes_); }

    /// Protects one record in place. On entry buffer[record_start, +5) is reserved for
    /// the header and buffer[record_start + 5, end) is the content (at most 2^14 bytes).
    /// Appends the content type, `padding` zero bytes and the tag, writes the header and
    /// encrypts: on return buffer[record_start, end) is the TLSCiphertext.
    std::error_code seal_in_place(ContentType type, Bytes& buffer, std::size_t record_start, std::size_t padding = 0) {
        if (seq_ == ~std::uint64_t{0}) return make_error_code(Error::sequence_number_exhausted);
        if (seq_ >= hard_records_ || (soft_bytes_ && seq_ >= hard_records_after_bytes())) return make_error_code(Error::key_usage_exhausted);
        const std::size_t content_start = record_start + record_header_size;
        const std::size_t content_length = buffer.size() - content_start;
        const std::size_t inner_length = content_length + 1 + padding;
        if (content_length > max_plaintext_length || inner_length > max_inner_plaintext_length)
            return make_error_code(Error::record_overflow);
        buffer.resize(content_start + inner_length + suite_->tag_length, 0);
        buffer[content_start + content_length] = static_cast<std::uint8_t>(type);
        detail::write_header(buffer.data() + record_start, ContentType::application_data, legacy_record_version,
                             inner_length + suite_->tag_length);
        const auto nonce = detail::record_nonce(iv_, seq_);
        aead_.seal_in_place(nonce, ByteView(buffer.data() + record_start, record_header_size),
                            MutableByteView(buffer.data() + content_start, inner_length),
                            MutableByteView(buffer.data() + content_start + inner_length, suite_->tag_length));
        note_sealed(content_length);
        return {};
    }

private:
    RecordSealer(const CipherSuite& suite, typename Crypto::Aead aead, KeyUsageLimits limits)
        : suite_(&suite), aead_(std::move(aead)) {
        soft_records_ = limits.records ? std::min(limits.records, suite.confidentiality_limit) : suite.confidentiality_limit;
        soft_bytes_ = limits.bytes;
        grace_ = limits.grace_records;
        hard_records_ = soft_records_ > ~std::uint64_t{0} - grace_ ? ~std::uint64_t{0} : soft_records_ + grace_;
    }
    void note_sealed(std::size_t content_length) noexcept {
        ++seq_;
        bytes_ += content_length;
        if (soft_bytes_ && bytes_ >= soft_bytes_ && records_at_byte_limit_ == 0) records_at_byte_limit_ = seq_;
    }
    std::uint64_t hard_records_after_bytes() const noexcept {
        return records_at_byte_limit_ ? records_at_byte_limit_ + grace_ : ~std::uint64_t{0};
    }

    const CipherSuite* suite_;
    typename Crypto::Aead aead_;
    std::array<std::uint8_t, 12> iv_{};
    std::uint64_t seq_ = 0;
    std::uint64_t bytes_ = 0;
    std::uint64_t soft_records_ = 0, soft_bytes_ = 0, grace_ = 0, hard_records_ = 0;
    std::uint64_t records_at_byte_limit_ = 0;
};

/// The read side of one traffic key.
template <class Crypto = crypto::DefaultProvider>
class RecordOpener {
public:
    static Result<RecordOpener> create(const TrafficSecret& secret) {
        if (!secret) return make_error_code(Error::record_layer_not_keyed);
        const auto keys = traffic_keys<Crypto>(secret);
        return from_keys(*secret.suite, keys.key, keys.iv);
    }
    static Result<RecordOpener> from_keys(const CipherSuite& suite, ByteView key, ByteView iv) {
        if (iv.size() != 12) return Errc::invalid_configuration;
        auto aead = detail::create_aead<Crypto>(suite.aead, key, /*seal=*/false);
        if (!aead) return aead.error();
        RecordOpener o(suite, std::move(*aead));
        std::copy(iv.begin(), iv.end(), o.iv_.begin());
        return o;
    }
    RecordOpener(RecordOpener&&) noexcept = default;
    RecordOpener& operator=(RecordOpener&&) noexcept = default;
    ~RecordOpener() { secure_zero(iv_.data(), iv_.size()); }

    const CipherSuite& suite() const noexcept { return *suite_; }
    std::uint64_t sequence() const noexcept { return seq_; }

    /// Authenticates and decrypts one TLSCiphertext in place (5.2, 5.4). `max_inner` is
    /// the largest TLSInnerPlaintext accepted (2^14+1, or our record_size_limit). On an
    /// authentication failure the sequence number is not consumed.
    Result<Plaintext> open_in_place(ByteView header, MutableByteView fragment,
                                    std::size_t max_inner = max_inner_plaintext_length) {
        const std::size_t tag = suite_->tag_length;
        if (fragment.size() > max_ciphertext_length) return make_error_code(Error::record_overflow);
        if (fragment.size() > max_inner + tag)
            return make_error_code(max_inner < max_inner_plaintext_length ? Error::record_size_limit_exceeded : Error::record_overflow);
        if (fragment.size() < tag + 1) return make_error_code(Error::bad_record_mac);  // cannot hold a tag and a content type
        if (seq_ == ~std::uint64_t{0}) return make_error_code(Error::sequence_number_exhausted);
        const std::size_t inner_length = fragment.size() - tag;
        const auto nonce = detail::record_nonce(iv_, seq_);
        if (!aead_.open_in_place(nonce, header, fragment.first(inner_length), fragment.subspan(inner_length, tag)))
            return make_error_code(Error::bad_record_mac);
        ++seq_;
        // The content type is the last non-zero byte; everything after it is padding.
        std::size_t end = inner_length;
        while (end > 0 && fragment[end - 1] == 0) --end;
        if (end == 0) return make_error_code(Error::missing_content_type);
        const std::uint8_t type = fragment[end - 1];
        if (type != static_cast<std::uint8_t>(ContentType::alert) && type != static_cast<std::uint8_t>(ContentType::handshake) &&
            type != static_cast<std::uint8_t>(ContentType::application_data))
            return make_error_code(Error::unknown_content_type);
        return Plaintext{static_cast<ContentType>(type), fragment.first(end - 1), true};
    }

private:
    RecordOpener(const CipherSuite& suite, typename Crypto::Aead aead) : suite_(&suite), aead_(std::move(aead)) {}

    const CipherSuite* suite_;
    typename Crypto::Aead aead_;
    std::array<std::uint8_t, 12> iv_{};
    std::uint64_t seq_ = 0;
};

// ---- both directions, framing, padding and limits ----------------------------------------------

template <class Crypto = crypto::DefaultProvider>
class RecordLayer {
public:
    struct Options {
        PaddingPolicy padding{};
        KeyUsageLimits limits{};
        std::size_t max_buffered = 4 * (record_header_size + max_ciphertext_length) + 65536;
    };

    RecordLayer() : RecordLayer(Options{}) {}
    explicit RecordLayer(Options options) : options_(options), reassembler_(options.max_buffered) {}

    // ---- keys --------------------------------------------------------------------

    /// New write key (an epoch change): sequence number restarts at 0. The secret is
    /// kept (wiped when replaced) so that update_write_key can derive the next one.
    std::error_code install_write(const TrafficSecret& secret) {
        auto s = RecordSealer<Crypto>::create(secret, options_.limits);
        if (!s) return s.error();
        write_.emplace(std::move(*s));
        write_secret_ = {secret.suite, secret.secret};
        expiring_reported_ = false;
        return {};
    }
    std::error_code install_read(const TrafficSecret& secret) {
        auto o = RecordOpener<Crypto>::create(secret);
        if (!o) return o.error();
        read_.emplace(std::move(*o));
        read_secret_ = {secret.suite, secret.secret};
        return {};
    }
    /// The key interface the handshake drives (TlsRecordLayer): one traffic secret for one
    /// level and direction, as Action{install_read_key / install_write_key} carries it.
    /// On a TLS stream the level needs no state of its own: each key takes over at a
    /// record boundary and the sequence number restarts (5.1, 5.3); a QUIC-style layer
    /// would keep one packet-number space per level instead.
    std::error_code install_key(Epoch level, Direction direction, const TrafficSecret& secret) {
        // No secret at the initial level: the write side goes back to plaintext. Only a
        // client that moved to its 0-RTT key and then got a HelloRetryRequest does this:
        // its second ClientHello is never protected (4.1.2, 4.2.10).
        if (level == Epoch::initial && direction == Direction::write && !secret) {
            write_.reset();
            write_secret_ = {};
            return {};
        }
        return direction == Direction::write ? install_write(secret) : install_read(secret);
    }
    /// KeyUpdate (4.6.3, 7.2): after sending a KeyUpdate under the current key, switch
    /// the write side to application_traffic_secret_N+1.
    std::error_code update_write_key() {
        if (!write_secret_) return make_error_code(Error::record_layer_not_keyed);
        return install_write(next_traffic_secret<Crypto>(write_secret_));
    }
    /// KeyUpdate received: the peer's records from now on use its next secret.
    std::error_code update_read_key() {
        if (!read_secret_) return make_error_code(Error::record_layer_not_keyed);
        return install_read(next_traffic_secret<Crypto>(read_secret_));
    }
    bool write_protected() const noexcept { return write_.has_value(); }
    bool read_protected() const noexcept { return read_.has_value(); }
    const RecordSealer<Crypto>* write_state() const noexcept { return write_ ? &*write_ : nullptr; }
    const RecordOpener<Crypto>* read_state() const noexcept { return read_ ? &*read_ : nullptr; }

    // ---- RFC 8449 record_size_limit and padding ------------------------------------

    /// The peer's record_size_limit: our protected records' TLSInnerPlaintext stays
    /// within it. Values below 64 are illegal (illegal_parameter).
    std::error_code set_send_record_size_limit(std::uint16_t peer_limit) {
        if (peer_limit < min_record_size_limit) return make_error_code(Error::illegal_parameter);
        send_limit_ = std::min<std::size_t>(peer_limit, max_record_size_limit);
        return {};
    }
    /// The record_size_limit we advertised: larger protected records are refused.
    std::error_code set_receive_record_size_limit(std::uint16_t our_limit) {
        if (our_limit < min_record_size_limit) return Errc::invalid_configuration;
        receive_limit_ = std::min<std::size_t>(our_limit, max_record_size_limit);
        return {};
    }
    void set_padding(PaddingPolicy padding) noexcept { options_.padding = padding; }
    const PaddingPolicy& padding() const noexcept { return options_.padding; }

    /// Content bytes one record carries now.
    std::size_t max_fragment_length() const noexcept {
        return write_ ? send_limit_ - 1 : max_plaintext_length;
    }

    // ---- writing ---------------------------------------------------------------------

    /// Frames `data` as records of `type` and appends them to `out`: plaintext records
    /// before a write key is installed (`legacy_version` 0x0301 is allowed for a first
    /// ClientHello), protected and padded records after. change_cipher_spec (middlebox
    /// compatibility, D.4) is always a plaintext record.
    std::error_code write(ContentType type, ByteView data, Bytes& out, std::uint16_t legacy_version = legacy_record_version) {
        if (type == ContentType::invalid) return Errc::invalid_configuration;
        if (type == ContentType::change_cipher_spec) {
            if (data.size() != 1 || data[0] != 1) return Errc::invalid_configuration;
            const std::size_t at = out.size();
            out.resize(at + record_header_size);
            detail::write_header(out.data() + at, type, legacy_record_version, 1);
            out.push_back(1);
            return {};
        }
        const std::size_t fragment = max_fragment_length();
        const std::size_t records = data.empty() ? 1 : (data.size() + fragment - 1) / fragment;
        out.reserve(out.size() + data.size() +
                    records * (record_header_size + (write_ ? 1 + suite_tag() : 0)) + padding_budget(records));
        std::size_t offset = 0;
        do {
            const std::size_t n = std::min(fragment, data.size() - offset);
            const std::size_t record_start = out.size();
            if (!write_) {
                if (n == 0 && type != ContentType::application_data) return Errc::invalid_configuration;
                out.resize(record_start + record_header_size);
                detail::write_header(out.data() + record_start, type, legacy_version, n);
                out.insert(out.end(), data.begin() + static_cast<std::ptrdiff_t>(offset),
                           data.begin() + static_cast<std::ptrdiff_t>(offset + n));
            } else {
                out.resize(record_start + record_header_size);
                out.insert(out.end(), data.begin() + static_cast<std::ptrdiff_t>(offset),
                           data.begin() + static_cast<std::ptrdiff_t>(offset + n));
                if (auto ec = write_->seal_in_place(type, out, record_start, options_.padding.padding_for(n + 1, send_limit_))) {
                    out.resize(record_start);
                    return ec;
                }
            }
            offset += n;
        } while (offset < data.size());
        return {};
    }

    /// Protects one record whose content the caller already placed at
    /// buffer[record_start + 5, end) (zero copy). Needs a write key.
    std::error_code seal_in_place(ContentType type, Bytes& buffer, std::size_t record_start) {
        if (!write_) return make_error_code(Error::record_layer_not_keyed);
        const std::size_t n = buffer.size() - record_start - record_header_size;
        if (n + 1 > send_limit_) return make_error_code(Error::record_overflow);
        return write_->seal_in_place(type, buffer, record_start, options_.padding.padding_for(n + 1, send_limit_));
    }

    /// True once each time the write key crosses its usage limit: the engine should
    /// send a KeyUpdate and install the next write secret (survey 6.3 key expiration).
    bool take_key_expiring() noexcept {
        if (!write_ || expiring_reported_ || !write_->key_expiring()) return false;
        expiring_reported_ = true;
        return true;
    }

    // ---- reading -----------------------------------------------------------------------

    std::error_code feed(ByteView data) { return reassembler_.feed(data); }

    /// The next record opened: nothing when more bytes are needed. The data view stays
    /// valid until the next feed().
    Result<std::optional<Plaintext>> next() {
        auto framed = reassembler_.next();
        if (!framed) return framed.error();
        if (!*framed) return std::optional<Plaintext>{};
        auto opened = open(**framed);
        if (!opened) {
            last_rejected_size_ = (*framed)->fragment.size();
            return opened.error();
        }
        return std::optional<Plaintext>{*opened};
    }

    /// The protected length of the last record next() refused: a server skipping 0-RTT
    /// data it rejected counts bytes against max_early_data_size with it (4.2.10).
    std::size_t last_rejected_record_size() const noexcept { return last_rejected_size_; }

    /// Opens one framed record (5.1-5.4): plaintext before a read key, protected after.
    Result<Plaintext> open(const RecordView& r) {
        if (r.type == ContentType::change_cipher_spec) {
            // Middlebox compatibility (D.4, 5): an unprotected CCS of exactly 0x01.
            if (r.fragment.size() != 1 || r.fragment[0] != 0x01) return make_error_code(Error::invalid_change_cipher_spec);
            return Plaintext{ContentType::change_cipher_spec, r.fragment, false};
        }
        if (!read_) {
            if (r.type == ContentType::application_data) return make_error_code(Error::unexpected_record);
            if (r.fragment.size() > max_plaintext_length) return make_error_code(Error::record_overflow);
            if (r.fragment.empty()) return make_error_code(Error::malformed_record_header);  // zero-length handshake/alert (5.1)
            return Plaintext{r.type, r.fragment, false};
        }
        if (r.type != ContentType::application_data) return make_error_code(Error::unexpected_record);
        auto p = read_->open_in_place(r.header, r.fragment, receive_limit_);
        if (!p) return p.error();
        if (p->data.empty() && p->type != ContentType::application_data) return make_error_code(Error::malformed_record_header);
        return *p;
    }

    /// Unprocessed bytes (a partial record at end of stream means truncation).
    std::size_t buffered() const noexcept { return reassembler_.buffered(); }

    /// Frees the receive buffer when it holds nothing (the engine calls it once, after
    /// the handshake, when no plaintext view into it is lent): an idle connection holds
    /// no record buffer; the next record allocates one again.
    void release_input_buffer() { reassembler_.release_if_empty(); }

private:
    std::size_t suite_tag() const noexcept { return write_ ? write_->suite().tag_length : 0; }
    std::size_t padding_budget(std::size_t records) const noexcept {
        return options_.padding.mode == PaddingPolicy::Mode::none || !write_ ? 0 : records * send_limit_;
    }

    Options options_;
    RecordReassembler reassembler_;
    std::optional<RecordSealer<Crypto>> write_;
    std::optional<RecordOpener<Crypto>> read_;
    std::size_t send_limit_ = max_record_size_limit;
    std::size_t last_rejected_size_ = 0;
    std::size_t receive_limit_ = max_record_size_limit;
    TrafficSecret write_secret_, read_secret_;
    bool expiring_reported_ = false;
};

// ---- the record-layer contract --------------------------------------------------------------

/// What tls13::Engine needs from `Record::layer<Crypto>`, and all it uses: a record
/// policy whose layer meets this can be keyed by the TLS 1.3 handshake unchanged
/// (RecordLayer here; a test's logging layer; QUIC packet protection later).
///  - constructed from its `Options` (the engine sets `padding` and `limits`);
///  - install_key(level, direction, secret): the handshake's per-epoch key export;
///  - write(type, data, out, legacy_version): frame (and protect, once keyed) onto `out`;
///  - feed(bytes) / next(): bytes in, opened records out; a record's `data` view stays
///    valid until the next feed() (the engine lends it to the application until then);
///  - set_send/receive_record_size_limit (RFC 8449) and take_key_expiring (5.5).
template <class L>
concept TlsRecordLayer = requires(L layer, typename L::Options options, Epoch level, Direction direction,
                                  const TrafficSecret& secret, ContentType type, ByteView data, Bytes& out,
                                  std::uint16_t value) {
    requires std::constructible_from<L, typename L::Options>;
    options.padding = PaddingPolicy{};
    options.limits = KeyUsageLimits{};
    { layer.install_key(level, direction, secret) } -> std::same_as<std::error_code>;
    { layer.write(type, data, out, value) } -> std::same_as<std::error_code>;
    { layer.feed(data) } -> std::same_as<std::error_code>;
    { layer.next() } -> std::same_as<Result<std::optional<Plaintext>>>;
    { layer.set_send_record_size_limit(value) } -> std::same_as<std::error_code>;
    { layer.set_receive_record_size_limit(value) } -> std::same_as<std::error_code>;
    { layer.take_key_expiring() } -> std::same_as<bool>;
};

// RecordLayer<Crypto> meets TlsRecordLayer: checked by every tls13::Engine that uses it
// (engine.hpp), not here, so this header needs no provider definition.

// ---- the record policy -------------------------------------------------------------------

/// TLS 1.3 record protection as a tapsec record policy. Keys come only from the TLS 1.3
/// handshake (traffic secrets per epoch: KeyImport::direct). Replay protection is the
/// implicit kind a stream gives: every record's nonce carries its sequence number, so a
/// replayed, dropped or reordered record fails authentication (bad_record_mac).
struct AeadRecord {
    static constexpr std::string_view name = "TLS 1.3 record (AEAD)";
    using provides = features<feature::record_protection, feature::length_hiding_padding, feature::replay_protection,
                              feature::rekeying>;
    using needs = dependencies<dependency::reliable_byte_stream>;
    using imported_keys = TrafficSecrets;
    static constexpr KeyImport key_import = KeyImport::direct;
    template <class Crypto = crypto::DefaultProvider>
    using layer = RecordLayer<Crypto>;
};

}  // namespace tapsec::tls13

namespace tapsec {
using AeadRecord = tls13::AeadRecord;
}  // namespace tapsec
