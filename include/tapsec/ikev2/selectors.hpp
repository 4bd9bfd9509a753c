// Traffic selectors at work (RFC 7296 2.9, RFC 4301 5.2): narrowing a proposal to the
// local policy, and checking that each inner IPv4 packet fits the negotiated selectors
// on the way in and on the way out.
#pragma once

#include <algorithm>
#include <optional>

#include "wire.hpp"

namespace tapsec::ikev2 {

inline std::uint32_t address_of(const std::array<std::uint8_t, 4>& a) {
    return std::uint32_t{a[0]} << 24 | std::uint32_t{a[1]} << 16 | std::uint32_t{a[2]} << 8 | a[3];
}

/// What a tunnel needs of an inner IPv4 packet. Ports are 0 for protocols without them.
struct Ipv4Packet {
    std::uint32_t source = 0, destination = 0;
    std::uint8_t protocol = 0;
    std::uint16_t source_port = 0, destination_port = 0;
    std::size_t length = 0;  // the total length field: trailing bytes (TFC padding) are not the packet
};

inline std::optional<Ipv4Packet> inspect_ipv4(ByteView p) {
    if (p.size() < 20 || (p[0] >> 4) != 4) return std::nullopt;
    const std::size_t ihl = std::size_t{p[0] & 0x0fu} * 4;
    const std::size_t total = std::size_t{p[2]} << 8 | p[3];
    if (ihl < 20 || total < ihl || total > p.size()) return std::nullopt;
    Ipv4Packet info;
    info.length = total;
    info.protocol = p[9];
    info.source = std::uint32_t{p[12]} << 24 | std::uint32_t{p[13]} << 16 | std::uint32_t{p[14]} << 8 | p[15];
    info.destination = std::uint32_t{p[16]} << 24 | std::uint32_t{p[17]} << 16 | std::uint32_t{p[18]} << 8 | p[19];
    const bool first_fragment = (((std::size_t{p[6]} << 8) | p[7]) & 0x1fff) == 0;
    if ((info.protocol == 6 || info.protocol == 17) && first_fragment && total >= ihl + 4) {
        info.source_port = static_cast<std::uint16_t>(p[ihl] << 8 | p[ihl + 1]);
        info.destination_port = static_cast<std::uint16_t>(p[ihl + 2] << 8 | p[ihl + 3]);
    }
    return info;
}

/// Does the selector hold this (address, protocol, port)?
inline bool covers(const TrafficSelector& ts, std::uint32_t address, std::uint8_t protocol, std::uint16_t port) {
    if (address < address_of(ts.start) || address > address_of(ts.end)) return false;
    if (ts.ip_protocol != 0 && ts.ip_protocol != protocol) return false;
    const bool any_port = ts.start_port == 0 && ts.end_port == 65535;
    return any_port || (port >= ts.start_port && port <= ts.end_port);
}

/// The intersection of two selectors (narrowing), or nullopt when they are disjoint.
inline std::optional<TrafficSelector> intersect(const TrafficSelector& a, const TrafficSelector& b) {
    TrafficSelector r;
    if (a.ip_protocol && b.ip_protocol && a.ip_protocol != b.ip_protocol) return std::nullopt;
    r.ip_protocol = a.ip_protocol ? a.ip_protocol : b.ip_protocol;
    r.start_port = std::max(a.start_port, b.start_port);
    r.end_port = std::min(a.end_port, b.end_port);
    if (r.start_port > r.end_port) return std::nullopt;
    const std::uint32_t lo = std::max(address_of(a.start), address_of(b.start));
    const std::uint32_t hi = std::min(address_of(a.end), address_of(b.end));
    if (lo > hi) return std::nullopt;
    for (int i = 0; i < 4; ++i) {
        r.start[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(lo >> (24 - 8 * i));
        r.end[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(hi >> (24 - 8 * i));
    }
    return r;
}

/// Is `inner` wholly inside `outer`?
inline bool within(const TrafficSelector& inner, const TrafficSelector& outer) {
    auto i = intersect(inner, outer);
    return i && *i == inner;
}

/// Narrows the peer's proposed selectors to the configured one: the first non-empty
/// intersection (RFC 7296 2.9: the responder may narrow to a subset).
inline std::optional<TrafficSelector> narrow(const std::vector<TrafficSelector>& proposed, const TrafficSelector& policy) {
    for (const auto& p : proposed)
        if (auto r = intersect(p, policy)) return r;
    return std::nullopt;
}

}  // namespace tapsec::ikev2
