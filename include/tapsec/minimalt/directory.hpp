// MinimaLT's directory service records (paper section 3, "directory service"): a
// server publishes, signed with its long-term key, where it is, its current ephemeral
// Curve25519 key and its puzzle parameters. A client that looked the record up (and
// trusts the long-term key) sends its first packet boxed to the ephemeral key: the
// tunnel needs no round trip before data.
//
// Record (big-endian):
//   magic "MLTD" (4) | version 1 (1)
//   name (1-byte length) | address "HOST:PORT" (1-byte length)
//   long-term Ed25519 public key (32) | ephemeral Curve25519 public key (32)
//   not_after, Unix seconds (8) | puzzle difficulty w (1) | puzzle threshold, requests/s (4)
//   Ed25519 signature (64) over "MinimaLT directory record" || everything before it
#pragma once

#include <chrono>
#include <string>

#include "../core/bytes.hpp"
#include "../core/wire.hpp"
#include "errors.hpp"
#include "wire.hpp"

namespace tapsec::minimalt {

inline constexpr std::string_view record_magic = "MLTD";
inline constexpr std::string_view record_signature_context = "MinimaLT directory record";
inline constexpr std::size_t signature_size = 64;
inline constexpr std::size_t max_record_size = 4 + 1 + 256 + 256 + 64 + 8 + 1 + 4 + signature_size;

struct DirectoryRecord {
    std::string name;      // the service host's name
    std::string address;   // where it listens, "HOST:PORT"
    PublicKey long_term_key{};   // Ed25519, signs this record
    PublicKey ephemeral_key{};   // Curve25519 S', what tunnel requests are boxed to
    std::uint64_t not_after = 0; // Unix seconds: the ephemeral key is retired after this
    std::uint8_t puzzle_difficulty = 0;   // the hardest puzzle the server will ask (bits)
    std::uint32_t puzzle_threshold = 0;   // tunnel requests per second before puzzles start
    std::array<std::uint8_t, signature_size> signature{};
};

/// The signed part: the context string and the fields before the signature.
inline Bytes record_to_be_signed(const DirectoryRecord& r) {
    Bytes out;
    wire::Writer w(out);
    w.bytes(as_bytes(record_signature_context));
    w.bytes(as_bytes(record_magic));
    w.u8(1);
    w.prefixed(1, as_bytes(r.name));
    w.prefixed(1, as_bytes(r.address));
    w.bytes(r.long_term_key);
    w.bytes(r.ephemeral_key);
    w.u64(r.not_after);
    w.u8(r.puzzle_difficulty);
    w.u32(r.puzzle_threshold);
    return out;
}

inline Bytes serialize(const DirectoryRecord& r) {
    Bytes out = record_to_be_signed(r);
    out.erase(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(record_signature_context.size()));
    append(out, r.signature);
    return out;
}

/// Signs `r` (its long_term_key is set from the seed) with the provider's Ed25519.
template <class Crypto>
Result<Bytes> sign_record(DirectoryRecord& r, ByteView long_term_seed) {
    if (r.name.size() > 255 || r.address.size() > 255) return make_error_code(Error::invalid_configuration);
    auto pub = Crypto::Ed25519::public_key(long_term_seed);
    if (!pub) return make_error_code(Error::invalid_configuration);
    std::copy(pub->begin(), pub->end(), r.long_term_key.begin());
    auto sig = Crypto::Ed25519::sign(long_term_seed, record_to_be_signed(r));
    if (!sig || sig->size() != signature_size) return make_error_code(Error::invalid_configuration);
    std::copy(sig->begin(), sig->end(), r.signature.begin());
    return serialize(r);
}

inline Result<DirectoryRecord> parse_record(ByteView bytes) {
    if (bytes.size() > max_record_size) return make_error_code(Error::malformed_record);
    wire::Reader rd(bytes);
    DirectoryRecord r;
    auto magic = rd.bytes(4);
    const auto version = rd.u8();
    auto name = rd.prefixed(1);
    auto address = rd.prefixed(1);
    auto lt = rd.bytes(32);
    auto eph = rd.bytes(32);
    r.not_after = rd.u64();
    r.puzzle_difficulty = rd.u8();
    r.puzzle_threshold = rd.u32();
    auto sig = rd.bytes(signature_size);
    if (!rd.ok() || !rd.at_end() || version != 1 || !std::equal(magic.begin(), magic.end(), record_magic.begin()) ||
        r.puzzle_difficulty > 32)
        return make_error_code(Error::malformed_record);
    r.name.assign(name.begin(), name.end());
    r.address.assign(address.begin(), address.end());
    std::copy(lt.begin(), lt.end(), r.long_term_key.begin());
    std::copy(eph.begin(), eph.end(), r.ephemeral_key.begin());
    std::copy(sig.begin(), sig.end(), r.signature.begin());
    return r;
}

/// Parses and checks a record: signed by `trusted_key`, signature valid, not expired.
template <class Crypto>
Result<DirectoryRecord> verify_record(ByteView bytes, ByteView trusted_key, std::chrono::system_clock::time_point now) {
    auto r = parse_record(bytes);
    if (!r) return r.error();
    if (!constant_time_equal(r->long_term_key, trusted_key)) return make_error_code(Error::record_untrusted);
    if (!Crypto::Ed25519::verify(r->long_term_key, record_to_be_signed(*r), r->signature))
        return make_error_code(Error::record_signature_invalid);
    const auto seconds = static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count());
    if (seconds > r->not_after) return make_error_code(Error::record_expired);
    return r;
}

}  // namespace tapsec::minimalt
