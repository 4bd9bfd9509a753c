// Traffic selectors at work (RFC 7296 2.9, RFC 4301 5.2): narrowing a proposal to the
// local policy, and checking that each inner IPv4 or IPv6 packet fits the negotiated
// selectors on the way in and on the way out.
#pragma once

#include <algorithm>
#include <optional>

#include "wire.hpp"

namespace tapsec::ikev2 {

inline std::uint32_t address_of(const std::array<std::uint8_t, 4>& a) {
    return std::uint32_t{a[0]} << 24 | std::uint32_t{a[1]} << 16 | std::uint32_t{a[2]} << 8 | a[3];
}
/// An IPv4 selector's address (its first four octets) as a number.
inline std::uint32_t address_of(const std::array<std::uint8_t, 16>& a) {
    return std::uint32_t{a[0]} << 24 | std::uint32_t{a[1]} << 16 | std::uint32_t{a[2]} << 8 | a[3];
}

/// What a tunnel needs of an inner IPv4 or IPv6 packet. Addresses as in TrafficSelector
/// (IPv4 in the first four octets); ports are 0 for protocols without them.
struct IpPacket {
    IpFamily family = IpFamily::ipv4;
    std::array<std::uint8_t, 16> source{}, destination{};
    std::uint8_t protocol = 0;  // IPv6: the upper-layer protocol after the extension headers
    std::uint16_t source_port = 0, destination_port = 0;
    std::size_t length = 0;  // from the header: trailing bytes (TFC padding) are not the packet
};

namespace selector_detail {
inline bool has_ports(std::uint8_t protocol) { return protocol == 6 || protocol == 17 || protocol == 132; }
}  // namespace selector_detail

inline std::optional<IpPacket> inspect_ipv4(ByteView p) {
    if (p.size() < 20 || (p[0] >> 4) != 4) return std::nullopt;
    const std::size_t ihl = std::size_t{p[0] & 0x0fu} * 4;
    const std::size_t total = std::size_t{p[2]} << 8 | p[3];
    if (ihl < 20 || total < ihl || total > p.size()) return std::nullopt;
    IpPacket info;
    info.length = total;
    info.protocol = p[9];
    std::copy_n(p.begin() + 12, 4, info.source.begin());
    std::copy_n(p.begin() + 16, 4, info.destination.begin());
    const bool first_fragment = (((std::size_t{p[6]} << 8) | p[7]) & 0x1fff) == 0;
    if (selector_detail::has_ports(info.protocol) && first_fragment && total >= ihl + 4) {
        info.source_port = static_cast<std::uint16_t>(p[ihl] << 8 | p[ihl + 1]);
        info.destination_port = static_cast<std::uint16_t>(p[ihl + 2] << 8 | p[ihl + 3]);
    }
    return info;
}

/// An IPv6 packet (RFC 8200): the fixed header, then the Hop-by-Hop, Routing,
/// Destination Options and Fragment headers walked to the upper-layer protocol, whose
/// ports are read from the first fragment only (RFC 4301 7: later ones carry none).
/// A jumbogram (Payload Length 0) is refused: a tunnel MTU never needs one.
inline std::optional<IpPacket> inspect_ipv6(ByteView p) {
    if (p.size() < 40 || (p[0] >> 4) != 6) return std::nullopt;
    const std::size_t payload = std::size_t{p[4]} << 8 | p[5];
    if (payload == 0 || 40 + payload > p.size()) return std::nullopt;
    IpPacket info;
    info.family = IpFamily::ipv6;
    info.length = 40 + payload;
    std::copy_n(p.begin() + 8, 16, info.source.begin());
    std::copy_n(p.begin() + 24, 16, info.destination.begin());
    std::uint8_t next = p[6];
    std::size_t at = 40;
    bool first_fragment = true;
    for (int headers = 0; headers < 8; ++headers) {  // bounded: a chain of options cannot loop us
        if (next == 0 || next == 43 || next == 60) {  // Hop-by-Hop, Routing, Destination Options
            if (at + 8 > info.length) return std::nullopt;
            const std::uint8_t following = p[at];
            at += (std::size_t{p[at + 1]} + 1) * 8;
            next = following;
        } else if (next == 44) {  // Fragment: 8 octets, offset in the top 13 bits of octets 2-3
            if (at + 8 > info.length) return std::nullopt;
            first_fragment = first_fragment && ((std::size_t{p[at + 2]} << 8 | p[at + 3]) >> 3) == 0;
            next = p[at];
            at += 8;
        } else {
            break;
        }
    }
    if (at > info.length) return std::nullopt;
    info.protocol = next;
    if (selector_detail::has_ports(next) && first_fragment && info.length >= at + 4) {
        info.source_port = static_cast<std::uint16_t>(p[at] << 8 | p[at + 1]);
        info.destination_port = static_cast<std::uint16_t>(p[at + 2] << 8 | p[at + 3]);
    }
    return info;
}

/// An inner packet of either version, by its first nibble.
inline std::optional<IpPacket> inspect_ip(ByteView p) {
    if (p.empty()) return std::nullopt;
    return (p[0] >> 4) == 6 ? inspect_ipv6(p) : inspect_ipv4(p);
}

/// Does the selector hold this (address, protocol, port) of a packet of `family`?
inline bool covers(const TrafficSelector& ts, IpFamily family, const std::array<std::uint8_t, 16>& address,
                   std::uint8_t protocol, std::uint16_t port) {
    if (ts.family != family || address < ts.start || ts.end < address) return false;
    if (ts.ip_protocol != 0 && ts.ip_protocol != protocol) return false;
    const bool any_port = ts.start_port == 0 && ts.end_port == 65535;
    return any_port || (port >= ts.start_port && port <= ts.end_port);
}
/// The same for an IPv4 address as a number.
inline bool covers(const TrafficSelector& ts, std::uint32_t address, std::uint8_t protocol, std::uint16_t port) {
    std::array<std::uint8_t, 16> a{};
    for (std::size_t i = 0; i < 4; ++i) a[i] = static_cast<std::uint8_t>(address >> (24 - 8 * i));
    return covers(ts, IpFamily::ipv4, a, protocol, port);
}

/// The intersection of two selectors (narrowing), or nullopt when they are disjoint
/// (selectors of different families never meet).
inline std::optional<TrafficSelector> intersect(const TrafficSelector& a, const TrafficSelector& b) {
    if (a.family != b.family) return std::nullopt;
    TrafficSelector r;
    r.family = a.family;
    if (a.ip_protocol && b.ip_protocol && a.ip_protocol != b.ip_protocol) return std::nullopt;
    r.ip_protocol = a.ip_protocol ? a.ip_protocol : b.ip_protocol;
    r.start_port = std::max(a.start_port, b.start_port);
    r.end_port = std::min(a.end_port, b.end_port);
    if (r.start_port > r.end_port) return std::nullopt;
    r.start = std::max(a.start, b.start);
    r.end = std::min(a.end, b.end);
    if (r.end < r.start) return std::nullopt;
    return r;
}

/// Is `inner` wholly inside `outer`?
inline bool within(const TrafficSelector& inner, const TrafficSelector& outer) {
    auto i = intersect(inner, outer);
    return i && *i == inner;
}

/// Narrows the peer's proposed selectors to the configured one: the first non-empty
/// intersection (RFC 7296 2.9: the responder may narrow to a subset). A proposal of the
/// other family (charon proposes both when its config names both) is passed over.
inline std::optional<TrafficSelector> narrow(const std::vector<TrafficSelector>& proposed, const TrafficSelector& policy) {
    for (const auto& p : proposed)
        if (auto r = intersect(p, policy)) return r;
    return std::nullopt;
}

}  // namespace tapsec::ikev2
