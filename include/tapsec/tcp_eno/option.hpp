// TCP-ENO (RFC 8547): the ENO option (TCP option kind 69), its suboptions, role
// negotiation (A/B), TEP selection and the negotiation transcript. Transport-agnostic:
// nothing here knows how the option bytes travel (real SYN segments, or the stream
// preamble of tcp_eno/preamble.hpp); a carrier hands this code the option contents each
// side sent and gets back the outcome.
//
// Suboption encoding (RFC 8547 4.1), one byte `v | cs`:
//   cs 0x00-0x1f, v=0   the global suboption  0 0 0 z z a a b  (b: role B wanted, aa: application-aware)
//   cs 0x00-0x1f, v=1   a length byte 100nnnnn: the next suboption has nnnnn bytes of data
//   cs 0x20-0x7f        a TEP identifier; v=1 means it carries data (to the end of the
//                       option, or as many bytes as a preceding length byte says)
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <system_error>
#include <vector>

#include "../core/bytes.hpp"
#include "../core/errors.hpp"
#include "../core/wire.hpp"

namespace tapsec::tcp_eno {

inline constexpr std::uint8_t option_kind = 69;     // IANA TCP option kind for ENO
inline constexpr std::size_t max_option_area = 40;  // TCP's option space in one segment
inline constexpr std::uint8_t v_bit = 0x80;

/// TEP identifiers (RFC 8547 IANA registry, as RFC 8548 registers them).
namespace tep {
inline constexpr std::uint8_t tcpcrypt_ecdhe_p256 = 0x21;
inline constexpr std::uint8_t tcpcrypt_ecdhe_p521 = 0x22;
inline constexpr std::uint8_t tcpcrypt_ecdhe_curve25519 = 0x23;
inline constexpr std::uint8_t tcpcrypt_ecdhe_curve448 = 0x24;
}  // namespace tep

enum class Error {
    malformed_option = 1,   // a suboption runs past the option, a length byte is not followed by data
    oversized_option,       // more than the 38 content bytes an ENO option can have in a TCP header
    no_common_tep,          // the two SYNs name no TEP in common: ENO fails, the connection is plain TCP
    role_conflict,          // simultaneous open with equal b bits: ENO fails (RFC 8547 4.4)
    missing_ack_option,     // role A's first ACK carried no ENO option: ENO fails for B
    malformed_preamble,     // the stream preamble carrier broke its own framing
    unexpected_tep_data,    // the peer attached data to a TEP whose SYN form has none here
};
inline const char* describe(Error e) {
    switch (e) {
        case Error::malformed_option: return "malformed TCP-ENO option";
        case Error::oversized_option: return "TCP-ENO option larger than TCP's option space";
        case Error::no_common_tep: return "TCP-ENO: no encryption protocol in common (plain TCP)";
        case Error::role_conflict: return "TCP-ENO: both hosts asked for the same role (plain TCP)";
        case Error::missing_ack_option: return "TCP-ENO: the first ACK carried no ENO option (plain TCP)";
        case Error::malformed_preamble: return "malformed TCP-ENO preamble segment";
        case Error::unexpected_tep_data: return "TCP-ENO suboption carries data this TEP does not accept";
    }
    return "unknown TCP-ENO error";
}
constexpr condition condition_of(Error e) noexcept {
    switch (e) {
        case Error::malformed_option:
        case Error::oversized_option:
        case Error::malformed_preamble:
        case Error::unexpected_tep_data: return condition::peer_misbehaved;
        case Error::no_common_tep:
        case Error::role_conflict:
        case Error::missing_ack_option: return condition::peer_incompatible;
    }
    return condition::internal;
}
inline const std::error_category& error_category() {
    static const ProtocolErrorCategory<Error> category("tcp-eno");
    return category;
}
inline std::error_code make_error_code(Error e) { return {static_cast<int>(e), error_category()}; }

}  // namespace tapsec::tcp_eno

template <>
struct std::is_error_code_enum<tapsec::tcp_eno::Error> : std::true_type {};

namespace tapsec::tcp_eno {

/// One TEP suboption: its identifier (cs, without the v bit) and its data, if any.
struct TepSuboption {
    std::uint8_t id = 0;
    Bytes data;  // empty unless the suboption had v=1
    bool has_data = false;
    bool operator==(const TepSuboption&) const = default;
};

/// The contents of one ENO option (what follows kind and length), decoded.
struct Option {
    std::optional<std::uint8_t> global;  // the global suboption byte, when present
    std::vector<TepSuboption> teps;      // in the order they appear

    bool b() const { return global && (*global & 0x01); }
    std::uint8_t aa() const { return global ? static_cast<std::uint8_t>((*global >> 1) & 0x03) : 0; }
    const TepSuboption* find(std::uint8_t id) const {
        for (auto& t : teps)
            if (t.id == id) return &t;
        return nullptr;
    }
};

/// The global suboption byte for role bit `b` and application-aware bits `aa`.
constexpr std::uint8_t global_suboption(bool b, std::uint8_t aa = 0) {
    return static_cast<std::uint8_t>((aa & 0x03) << 1 | (b ? 1 : 0));
}

/// Encodes the option contents (suboptions only, no kind/length). Data on a TEP that is
/// not last gets a length byte; the last one runs to the end of the option.
inline Bytes encode_contents(const Option& option) {
    Bytes out;
    if (option.global) out.push_back(*option.global & 0x1f);
    for (std::size_t i = 0; i < option.teps.size(); ++i) {
        const auto& t = option.teps[i];
        const bool last = i + 1 == option.teps.size();
        if (t.has_data && !last) out.push_back(static_cast<std::uint8_t>(v_bit | (t.data.size() & 0x1f)));
        out.push_back(static_cast<std::uint8_t>((t.id & 0x7f) | (t.has_data ? v_bit : 0)));
        if (t.has_data) append(out, t.data);
    }
    return out;
}

/// The whole TCP option: kind 69, length, contents.
inline Bytes encode_option(ByteView contents) {
    Bytes out{option_kind, static_cast<std::uint8_t>(contents.size() + 2)};
    append(out, contents);
    return out;
}

/// Decodes option contents. Unknown global bits (z) are ignored as RFC 8547 asks;
/// a second global suboption, a length byte not followed by a v=1 TEP, or data
/// running past the option are malformed.
inline Result<Option> parse_contents(ByteView contents) {
    if (contents.size() + 2 > max_option_area) return make_error_code(Error::oversized_option);
    Option option;
    std::size_t i = 0;
    while (i < contents.size()) {
        const std::uint8_t byte = contents[i++];
        const std::uint8_t cs = byte & 0x7f;
        const bool v = byte & v_bit;
        if (cs < 0x20 && !v) {  // global suboption: only the first one counts, only first position
            if (option.global || !option.teps.empty()) return make_error_code(Error::malformed_option);
            option.global = byte;
            continue;
        }
        std::optional<std::size_t> length;
        std::uint8_t id_byte = byte;
        if (cs < 0x20 && v) {  // length byte: the next suboption must be a TEP with v=1
            length = byte & 0x1f;
            if (i >= contents.size()) return make_error_code(Error::malformed_option);
            id_byte = contents[i++];
            if ((id_byte & 0x7f) < 0x20 || !(id_byte & v_bit)) return make_error_code(Error::malformed_option);
        }
        TepSuboption t;
        t.id = id_byte & 0x7f;
        t.has_data = id_byte & v_bit;
        if (t.has_data) {
            const std::size_t n = length ? *length : contents.size() - i;
            if (n > contents.size() - i) return make_error_code(Error::malformed_option);
            t.data.assign(contents.begin() + static_cast<std::ptrdiff_t>(i), contents.begin() + static_cast<std::ptrdiff_t>(i + n));
            i += n;
        }
        option.teps.push_back(std::move(t));
    }
    return option;
}

/// Finds the ENO option in a TCP option area (kind/length list, RFC 9293 3.1) and
/// returns its contents; nullopt when there is none. Several ENO options are
/// concatenated, as RFC 8547 allows a SYN to split its suboptions.
inline Result<std::optional<Bytes>> find_in_option_area(ByteView area) {
    if (area.size() > max_option_area) return make_error_code(Error::oversized_option);
    std::optional<Bytes> found;
    std::size_t i = 0;
    while (i < area.size()) {
        const std::uint8_t kind = area[i];
        if (kind == 0) break;  // end of option list
        if (kind == 1) {
            ++i;
            continue;
        }
        if (i + 1 >= area.size()) return make_error_code(Error::malformed_option);
        const std::size_t length = area[i + 1];
        if (length < 2 || i + length > area.size()) return make_error_code(Error::malformed_option);
        if (kind == option_kind) {
            if (!found) found.emplace();
            found->insert(found->end(), area.begin() + static_cast<std::ptrdiff_t>(i + 2),
                          area.begin() + static_cast<std::ptrdiff_t>(i + length));
        }
        i += length;
    }
    return found;
}

/// RFC 8547's negotiation transcript: "TCP-ENO", then each SYN's ENO option contents
/// preceded by a two-byte big-endian length, role A's SYN first, role B's SYN (or
/// SYN-ACK) second. A TEP mixes it into its keys so that a tampered negotiation breaks
/// the session instead of downgrading it.
inline Bytes transcript(ByteView a_contents, ByteView b_contents) {
    Bytes out;
    wire::Writer w(out);
    w.bytes(as_bytes("TCP-ENO"));
    w.prefixed(2, a_contents);
    w.prefixed(2, b_contents);
    return out;
}

/// What ENO decided for this connection.
struct Outcome {
    bool encrypted = false;          // false: ENO failed, the connection is plain TCP (why: `failure`)
    std::error_code failure;
    bool role_a = false;             // this host plays role A
    std::uint8_t tep = 0;            // the negotiated TEP identifier
    TepSuboption local_tep, peer_tep;  // the negotiated TEP's suboption as each side sent it
    std::uint8_t peer_aa = 0;        // the peer's application-aware bits
    Bytes transcript;
};

/// The ENO state machine's decision (RFC 8547 4.4-4.6), given the option contents both
/// hosts put in their SYN (or SYN-ACK). `active` says whether this host sent the first
/// SYN; `simultaneous` whether both did. The role: in an ordinary open the active opener
/// is A; in a simultaneous open the host with b=1 is B and equal b bits fail ENO. The
/// TEP: the last one in B's option that A's option also names.
inline Outcome negotiate(ByteView local_contents, ByteView peer_contents, bool active, bool simultaneous = false) {
    Outcome out;
    auto local = parse_contents(local_contents);
    auto peer = parse_contents(peer_contents);
    if (!local) return out.failure = local.error(), out;
    if (!peer) return out.failure = peer.error(), out;
    if (simultaneous) {
        if (local->b() == peer->b()) return out.failure = make_error_code(Error::role_conflict), out;
        out.role_a = !local->b();
    } else {
        out.role_a = active;
    }
    const Option& a = out.role_a ? *local : *peer;
    const Option& b = out.role_a ? *peer : *local;
    const TepSuboption* chosen = nullptr;
    for (auto it = b.teps.rbegin(); it != b.teps.rend() && !chosen; ++it)
        if (a.find(it->id)) chosen = &*it;
    if (!chosen) return out.failure = make_error_code(Error::no_common_tep), out;
    out.encrypted = true;
    out.tep = chosen->id;
    out.local_tep = *(out.role_a ? a.find(out.tep) : chosen);
    out.peer_tep = *(out.role_a ? chosen : a.find(out.tep));
    out.peer_aa = peer->aa();
    out.transcript = out.role_a ? transcript(local_contents, peer_contents) : transcript(peer_contents, local_contents);
    return out;
}

}  // namespace tapsec::tcp_eno
