// Cryptokey routing (whitepaper section 2): each peer owns a set of IP prefixes.
// Sending, the destination address picks the peer by longest-prefix match; receiving,
// the inner source address must map back to the peer whose session decrypted it.
// IPv4 and IPv6 live in one table, as 16-byte addresses tagged with their family.
#pragma once

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <bit>
#include <charconv>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "../core/bytes.hpp"

namespace tapsec::wireguard {

struct IpAddress {
    bool v6 = false;
    std::array<std::uint8_t, 16> bytes{};  // IPv4 uses the first 4

    std::size_t bits() const noexcept { return v6 ? 128 : 32; }

    static std::optional<IpAddress> parse(std::string_view text) {
        IpAddress a;
        std::string s(text);
        if (inet_pton(AF_INET, s.c_str(), a.bytes.data()) == 1) return a;
        a.v6 = true;
        if (inet_pton(AF_INET6, s.c_str(), a.bytes.data()) == 1) return a;
        return std::nullopt;
    }
    static IpAddress v4(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d) {
        IpAddress ip;
        ip.bytes = {a, b, c, d};
        return ip;
    }
    std::string to_string() const {
        char text[INET6_ADDRSTRLEN] = {};
        inet_ntop(v6 ? AF_INET6 : AF_INET, bytes.data(), text, sizeof text);
        return text;
    }
    friend bool operator==(const IpAddress&, const IpAddress&) = default;
};

struct IpPrefix {
    IpAddress address;
    std::uint8_t length = 0;

    /// "10.0.0.0/24", "fd00::/64", or a bare address (a host route).
    static std::optional<IpPrefix> parse(std::string_view text) {
        IpPrefix p;
        auto slash = text.find('/');
        auto addr = IpAddress::parse(text.substr(0, slash));
        if (!addr) return std::nullopt;
        p.address = *addr;
        unsigned length = static_cast<unsigned>(addr->bits());
        if (slash != std::string_view::npos) {
            auto digits = text.substr(slash + 1);
            auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), length);
            if (digits.empty() || ec != std::errc{} || ptr != digits.data() + digits.size() || length > addr->bits())
                return std::nullopt;
        }
        p.length = static_cast<std::uint8_t>(length);
        p.address = masked(p.address, p.length);  // like `wg`, store the network address
        return p;
    }

    static IpAddress masked(IpAddress a, std::size_t length) {
        for (std::size_t i = 0; i < 16; ++i) {
            const std::size_t bit = i * 8;
            if (bit >= length) a.bytes[i] = 0;
            else if (length - bit < 8) a.bytes[i] &= static_cast<std::uint8_t>(0xff << (8 - (length - bit)));
        }
        return a;
    }

    bool contains(const IpAddress& a) const noexcept {
        return a.v6 == address.v6 && masked(a, length) == address;
    }
    std::string to_string() const { return address.to_string() + "/" + std::to_string(length); }
    friend bool operator==(const IpPrefix&, const IpPrefix&) = default;
};

/// Prefix -> peer index, by longest-prefix match. One hash table per prefix length
/// present (host routes, /24s, ...), probed longest first: a lookup costs one probe per
/// distinct length (a handful), not a scan of every peer's prefixes, so a listener with
/// thousands of peers routes each packet in O(1). Inserting a prefix that exists moves
/// it to the new peer, as `wg set ... allowed-ips` does.
class AllowedIps {
public:
    void insert(const IpPrefix& prefix, std::size_t peer) {
        const IpAddress network = IpPrefix::masked(prefix.address, prefix.length);
        auto table = std::find_if(tables_.begin(), tables_.end(), [&](const Table& t) {
            return t.v6 == prefix.address.v6 && t.length == prefix.length;
        });
        if (table == tables_.end()) {
            // Longest first (per family), so the first hit of a lookup is the longest match.
            auto at = std::find_if(tables_.begin(), tables_.end(), [&](const Table& t) { return t.length < prefix.length; });
            table = tables_.insert(at, Table{prefix.address.v6, prefix.length, {}});
        }
        table->routes.insert_or_assign(network, peer);
    }
    void remove_peer(std::size_t peer) {
        for (auto& table : tables_)
            std::erase_if(table.routes, [&](const auto& route) { return route.second == peer; });
        std::erase_if(tables_, [](const Table& t) { return t.routes.empty(); });
    }
    std::optional<std::size_t> lookup(const IpAddress& address) const {
        for (const auto& table : tables_) {
            if (table.v6 != address.v6) continue;
            auto it = table.routes.find(IpPrefix::masked(address, table.length));
            if (it != table.routes.end()) return it->second;
        }
        return std::nullopt;
    }
    /// The number of prefixes routed (a sum over the few per-length tables).
    std::size_t size() const noexcept {
        std::size_t n = 0;
        for (const auto& table : tables_) n += table.routes.size();
        return n;
    }

private:
    struct AddressHash {
        std::size_t operator()(const IpAddress& a) const noexcept {
            return hash_bytes(a.bytes) ^ static_cast<std::size_t>(a.v6);
        }
    };
    struct Table {
        bool v6;
        std::uint8_t length;
        std::unordered_map<IpAddress, std::size_t, AddressHash> routes;  // network address -> peer
    };
    std::vector<Table> tables_;
};

/// The addresses and true length of an IP packet, read from its header. nullopt when
/// the bytes are not a plausible IPv4/IPv6 packet (too short, bad version, length field
/// beyond the data). The length lets the receiver strip WireGuard's zero padding.
struct IpPacketInfo {
    IpAddress source, destination;
    std::size_t length = 0;
};

inline std::optional<IpPacketInfo> inspect_ip_packet(ByteView p) {
    if (p.empty()) return std::nullopt;
    IpPacketInfo info;
    const unsigned version = p[0] >> 4;
    if (version == 4) {
        if (p.size() < 20 || (p[0] & 0x0f) < 5) return std::nullopt;
        info.length = std::size_t{p[2]} << 8 | p[3];
        if (info.length < 20 || info.length > p.size()) return std::nullopt;
        std::copy_n(p.begin() + 12, 4, info.source.bytes.begin());
        std::copy_n(p.begin() + 16, 4, info.destination.bytes.begin());
        return info;
    }
    if (version == 6) {
        if (p.size() < 40) return std::nullopt;
        info.length = 40 + (std::size_t{p[4]} << 8 | p[5]);
        if (info.length > p.size()) return std::nullopt;
        info.source.v6 = info.destination.v6 = true;
        std::copy_n(p.begin() + 8, 16, info.source.bytes.begin());
        std::copy_n(p.begin() + 24, 16, info.destination.bytes.begin());
        return info;
    }
    return std::nullopt;
}

/// The one's-complement sum of RFC 1071 over `data` (as big-endian 16-bit words), added
/// to `sum` (not folded). Summed in native order, 8 bytes a step, and swapped once at the
/// end: the sum is independent of byte order (RFC 1071 section 2 B).
inline std::uint64_t checksum_add(std::uint64_t sum, ByteView data) {
    std::uint64_t native = 0;
    const std::uint8_t* p = data.data();
    std::size_t i = 0;
    for (; i + 8 <= data.size(); i += 8) {
        std::uint64_t word;
        std::memcpy(&word, p + i, 8);
        native += (word & 0xffffffffu) + (word >> 32);
    }
    for (; i + 2 <= data.size(); i += 2) {
        std::uint16_t word;
        std::memcpy(&word, p + i, 2);
        native += word;
    }
    if (i < data.size()) {
        std::uint8_t last[2] = {p[i], 0};  // an odd length: padded with a zero byte
        std::uint16_t word;
        std::memcpy(&word, last, 2);
        native += word;
    }
    while (native >> 16) native = (native & 0xffff) + (native >> 16);
    if constexpr (std::endian::native == std::endian::little) native = (native & 0xff) << 8 | native >> 8;
    return sum + native;
}

/// Folds a sum to 16 bits and complements it: the value of a checksum field.
inline std::uint16_t checksum_fold(std::uint64_t sum) {
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    return static_cast<std::uint16_t>(~sum & 0xffff);
}

/// Builds an IPv4/UDP packet (checksums filled in): what `tapsec demo`, the tests and the
/// CLI's convenience mode put into the tunnel.
inline Bytes make_ipv4_udp_packet(const IpAddress& source, const IpAddress& destination, std::uint16_t source_port,
                                  std::uint16_t destination_port, ByteView payload) {
    const std::size_t udp_length = 8 + payload.size();
    const std::size_t total = 20 + udp_length;
    Bytes p(total, 0);
    p[0] = 0x45;
    p[2] = static_cast<std::uint8_t>(total >> 8);
    p[3] = static_cast<std::uint8_t>(total);
    p[8] = 64;  // TTL
    p[9] = 17;  // UDP
    std::copy_n(source.bytes.begin(), 4, p.begin() + 12);
    std::copy_n(destination.bytes.begin(), 4, p.begin() + 16);
    const std::uint16_t header_checksum = checksum_fold(checksum_add(0, ByteView(p.data(), 20)));
    p[10] = static_cast<std::uint8_t>(header_checksum >> 8);
    p[11] = static_cast<std::uint8_t>(header_checksum);
    std::uint8_t* udp = p.data() + 20;
    udp[0] = static_cast<std::uint8_t>(source_port >> 8);
    udp[1] = static_cast<std::uint8_t>(source_port);
    udp[2] = static_cast<std::uint8_t>(destination_port >> 8);
    udp[3] = static_cast<std::uint8_t>(destination_port);
    udp[4] = static_cast<std::uint8_t>(udp_length >> 8);
    udp[5] = static_cast<std::uint8_t>(udp_length);
    std::copy(payload.begin(), payload.end(), udp + 8);
    // UDP checksum over the pseudo-header, header and payload.
    std::uint16_t udp_checksum =
        checksum_fold(checksum_add(17 + udp_length, ByteView(p.data() + 12, 8)) + checksum_add(0, ByteView(udp, udp_length)));
    if (udp_checksum == 0) udp_checksum = 0xffff;
    udp[6] = static_cast<std::uint8_t>(udp_checksum >> 8);
    udp[7] = static_cast<std::uint8_t>(udp_checksum);
    return p;
}

/// The payload and ports of an IPv4/UDP packet, if it is one.
struct UdpDatagram {
    std::uint16_t source_port = 0, destination_port = 0;
    Bytes payload;
};
inline std::optional<UdpDatagram> parse_ipv4_udp_packet(ByteView p) {
    auto info = inspect_ip_packet(p);
    if (!info || info->source.v6 || p[9] != 17) return std::nullopt;
    const std::size_t header = std::size_t{p[0] & 0x0fu} * 4;
    if (info->length < header + 8) return std::nullopt;
    const std::uint8_t* udp = p.data() + header;
    const std::size_t udp_length = std::size_t{udp[4]} << 8 | udp[5];
    if (udp_length < 8 || header + udp_length > info->length) return std::nullopt;
    UdpDatagram d;
    d.source_port = static_cast<std::uint16_t>(udp[0] << 8 | udp[1]);
    d.destination_port = static_cast<std::uint16_t>(udp[2] << 8 | udp[3]);
    d.payload.assign(udp + 8, udp + udp_length);
    return d;
}

}  // namespace tapsec::wireguard
