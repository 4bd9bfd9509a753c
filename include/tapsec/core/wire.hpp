// Bounds-checked big-endian wire encoding, shared by every protocol's parser and
// serializer. A Reader never reads past its input: a short or malformed message
// sets a sticky failure flag that the parser turns into an error code.
#pragma once

#include <cstdint>
#include <optional>
#include <span>

#include "bytes.hpp"

namespace tapsec::wire {

class Reader {
public:
    explicit Reader(ByteView data) : data_(data) {}

    bool ok() const noexcept { return ok_; }
    std::size_t remaining() const noexcept { return ok_ ? data_.size() - pos_ : 0; }
    bool at_end() const noexcept { return ok_ && pos_ == data_.size(); }
    std::size_t position() const noexcept { return pos_; }

    std::uint64_t uint(std::size_t bytes) {
        if (!need(bytes)) return 0;
        std::uint64_t v = 0;
        for (std::size_t i = 0; i < bytes; ++i) v = v << 8 | data_[pos_++];
        return v;
    }
    std::uint8_t u8() { return static_cast<std::uint8_t>(uint(1)); }
    std::uint16_t u16() { return static_cast<std::uint16_t>(uint(2)); }
    std::uint32_t u24() { return static_cast<std::uint32_t>(uint(3)); }
    std::uint32_t u32() { return static_cast<std::uint32_t>(uint(4)); }
    std::uint64_t u64() { return uint(8); }

    /// Little-endian (WireGuard, CurveCP).
    std::uint64_t uint_le(std::size_t bytes) {
        if (!need(bytes)) return 0;
        std::uint64_t v = 0;
        for (std::size_t i = 0; i < bytes; ++i) v |= std::uint64_t{data_[pos_++]} << (8 * i);
        return v;
    }

    ByteView bytes(std::size_t n) {
        if (!need(n)) return {};
        auto v = data_.subspan(pos_, n);
        pos_ += n;
        return v;
    }
    /// A vector with a `prefix`-byte length (TLS's opaque<0..2^8-1> etc.).
    ByteView prefixed(std::size_t prefix) { return bytes(static_cast<std::size_t>(uint(prefix))); }
    ByteView rest() { return bytes(remaining()); }

    /// Marks the input malformed (e.g. a semantic check failed).
    void fail() noexcept { ok_ = false; }

private:
    bool need(std::size_t n) {
        if (!ok_ || data_.size() - pos_ < n) {
            ok_ = false;
            return false;
        }
        return true;
    }
    ByteView data_;
    std::size_t pos_ = 0;
    bool ok_ = true;
};

class Writer {
public:
    explicit Writer(Bytes& out) : out_(out) {}

    void uint(std::uint64_t v, std::size_t bytes) {
        for (std::size_t i = bytes; i-- > 0;) out_.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
    }
    void u8(std::uint8_t v) { out_.push_back(v); }
    void u16(std::uint16_t v) { uint(v, 2); }
    void u24(std::uint32_t v) { uint(v, 3); }
    void u32(std::uint32_t v) { uint(v, 4); }
    void u64(std::uint64_t v) { uint(v, 8); }
    void uint_le(std::uint64_t v, std::size_t bytes) {
        for (std::size_t i = 0; i < bytes; ++i) out_.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
    }
    void bytes(ByteView b) { out_.insert(out_.end(), b.begin(), b.end()); }
    void prefixed(std::size_t prefix, ByteView b) {
        uint(b.size(), prefix);
        bytes(b);
    }

    /// Writes a `prefix`-byte length placeholder; `end_prefixed` fills it in once the body
    /// is written. Nestable.
    std::size_t begin_prefixed(std::size_t prefix) {
        const std::size_t at = out_.size();
        uint(0, prefix);
        return at;
    }
    void end_prefixed(std::size_t at, std::size_t prefix) {
        const std::size_t length = out_.size() - at - prefix;
        for (std::size_t i = 0; i < prefix; ++i)
            out_[at + i] = static_cast<std::uint8_t>(length >> (8 * (prefix - 1 - i)));
    }
    Bytes& buffer() { return out_; }

private:
    Bytes& out_;
};

}  // namespace tapsec::wire
