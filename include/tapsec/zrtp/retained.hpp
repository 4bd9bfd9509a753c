// Retained secrets (RFC 6189 4.3, 4.6.1, 4.9): the key-continuity cache entry for one
// peer, kept in the application's SessionCache (survey 6.1 session cache management)
// under "zrtp/<our ZID>/<peer ZID>". rs1 is the newest retained secret, rs2 the one
// before; `verified` remembers that the users compared the SAS of an exchange that used
// this chain of secrets (the Confirm's V flag).
#pragma once

#include <chrono>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>

#include "../core/bytes.hpp"
#include "../core/wire.hpp"
#include "wire.hpp"

namespace tapsec::zrtp {

struct RetainedSecrets {
    static constexpr std::uint64_t never = std::numeric_limits<std::uint64_t>::max();
    SecretBytes rs1, rs2;        // empty when absent
    bool verified = false;
    std::uint64_t expires = never;  // seconds since the Unix epoch

    Bytes encode() const {
        Bytes out;
        wire::Writer w(out);
        w.u8(1);  // format version
        w.u8(verified ? 1 : 0);
        w.u64(expires);
        w.u8(static_cast<std::uint8_t>(rs1.size()));
        w.bytes(rs1);
        w.u8(static_cast<std::uint8_t>(rs2.size()));
        w.bytes(rs2);
        return out;
    }

    static std::optional<RetainedSecrets> decode(ByteView in) {
        wire::Reader r(in);
        if (r.u8() != 1) return std::nullopt;
        RetainedSecrets s;
        const std::uint8_t flags = r.u8();
        s.verified = flags & 1;
        s.expires = r.u64();
        const ByteView a = r.prefixed(1);
        const ByteView b = r.prefixed(1);
        if (!r.at_end() || (a.size() != 0 && a.size() != 32) || (b.size() != 0 && b.size() != 32)) return std::nullopt;
        s.rs1.assign(a.begin(), a.end());
        s.rs2.assign(b.begin(), b.end());
        return s;
    }
};

inline std::string retained_cache_key(const Zid& ours, const Zid& peer) { return "zrtp/" + to_hex(ours) + "/" + to_hex(peer); }

}  // namespace tapsec::zrtp
