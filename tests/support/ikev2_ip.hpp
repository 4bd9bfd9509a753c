// Inner IPv4/UDP and IPv6/UDP packets for IKEv2/ESP tests: build one with correct
// checksums (a kernel on the far side of a tunnel checks them), and read a UDP payload
// back out.
#pragma once

#include <arpa/inet.h>

#include <array>
#include <optional>
#include <string>

#include <tapsec/core/bytes.hpp>

namespace ikev2_test {

inline std::uint32_t ipv4(const char* text) {
    in_addr a{};
    inet_pton(AF_INET, text, &a);
    return ntohl(a.s_addr);
}

/// An IPv4 header (20 octets, TTL 64, DF) and a UDP datagram with no checksum (allowed in IPv4).
inline tapsec::Bytes udp_packet(std::uint32_t src, std::uint32_t dst, std::uint16_t sport, std::uint16_t dport,
                                tapsec::ByteView payload) {
    const std::size_t total = 20 + 8 + payload.size();
    tapsec::Bytes p(total, 0);
    p[0] = 0x45;
    p[2] = static_cast<std::uint8_t>(total >> 8);
    p[3] = static_cast<std::uint8_t>(total);
    p[6] = 0x40;  // DF
    p[8] = 64;
    p[9] = 17;
    for (int i = 0; i < 4; ++i) {
        p[12 + i] = static_cast<std::uint8_t>(src >> (24 - 8 * i));
        p[16 + i] = static_cast<std::uint8_t>(dst >> (24 - 8 * i));
    }
    std::uint32_t sum = 0;
    for (int i = 0; i < 20; i += 2) sum += std::uint32_t{p[static_cast<std::size_t>(i)]} << 8 | p[static_cast<std::size_t>(i + 1)];
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    const std::uint16_t checksum = static_cast<std::uint16_t>(~sum);
    p[10] = static_cast<std::uint8_t>(checksum >> 8);
    p[11] = static_cast<std::uint8_t>(checksum);
    p[20] = static_cast<std::uint8_t>(sport >> 8);
    p[21] = static_cast<std::uint8_t>(sport);
    p[22] = static_cast<std::uint8_t>(dport >> 8);
    p[23] = static_cast<std::uint8_t>(dport);
    const std::size_t udp_length = 8 + payload.size();
    p[24] = static_cast<std::uint8_t>(udp_length >> 8);
    p[25] = static_cast<std::uint8_t>(udp_length);
    std::copy(payload.begin(), payload.end(), p.begin() + 28);
    return p;
}

/// The payload of an IPv4/UDP packet, if it is one.
inline std::optional<std::string> udp_payload(tapsec::ByteView p) {
    if (p.size() < 28 || (p[0] >> 4) != 4 || p[9] != 17) return std::nullopt;
    const std::size_t ihl = std::size_t{p[0] & 0xfu} * 4;
    if (p.size() < ihl + 8) return std::nullopt;
    const std::size_t udp_length = std::size_t{p[ihl + 4]} << 8 | p[ihl + 5];
    if (udp_length < 8 || ihl + udp_length > p.size()) return std::nullopt;
    return std::string(p.begin() + static_cast<std::ptrdiff_t>(ihl + 8), p.begin() + static_cast<std::ptrdiff_t>(ihl + udp_length));
}

/// An IPv6 address from its text.
inline std::array<std::uint8_t, 16> ipv6(const char* text) {
    std::array<std::uint8_t, 16> a{};
    inet_pton(AF_INET6, text, a.data());
    return a;
}

/// An IPv6 header (hop limit 64, no extension headers) and a UDP datagram with its
/// checksum over the pseudo-header (RFC 8200 8.1: mandatory in IPv6).
inline tapsec::Bytes udp6_packet(const std::array<std::uint8_t, 16>& src, const std::array<std::uint8_t, 16>& dst,
                                 std::uint16_t sport, std::uint16_t dport, tapsec::ByteView payload) {
    const std::size_t udp_length = 8 + payload.size();
    tapsec::Bytes p(40 + udp_length, 0);
    p[0] = 0x60;
    p[4] = static_cast<std::uint8_t>(udp_length >> 8);
    p[5] = static_cast<std::uint8_t>(udp_length);
    p[6] = 17;
    p[7] = 64;
    std::copy(src.begin(), src.end(), p.begin() + 8);
    std::copy(dst.begin(), dst.end(), p.begin() + 24);
    p[40] = static_cast<std::uint8_t>(sport >> 8);
    p[41] = static_cast<std::uint8_t>(sport);
    p[42] = static_cast<std::uint8_t>(dport >> 8);
    p[43] = static_cast<std::uint8_t>(dport);
    p[44] = static_cast<std::uint8_t>(udp_length >> 8);
    p[45] = static_cast<std::uint8_t>(udp_length);
    std::copy(payload.begin(), payload.end(), p.begin() + 48);
    std::uint32_t sum = 17 + static_cast<std::uint32_t>(udp_length);  // pseudo-header: next header, length ...
    for (std::size_t i = 8; i < 40; i += 2) sum += std::uint32_t{p[i]} << 8 | p[i + 1];  // ... and both addresses
    for (std::size_t i = 40; i < p.size(); i += 2) sum += std::uint32_t{p[i]} << 8 | (i + 1 < p.size() ? p[i + 1] : 0);
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    std::uint16_t checksum = static_cast<std::uint16_t>(~sum);
    if (checksum == 0) checksum = 0xffff;
    p[46] = static_cast<std::uint8_t>(checksum >> 8);
    p[47] = static_cast<std::uint8_t>(checksum);
    return p;
}

/// The payload of an IPv6/UDP packet without extension headers, if it is one.
inline std::optional<std::string> udp6_payload(tapsec::ByteView p) {
    if (p.size() < 48 || (p[0] >> 4) != 6 || p[6] != 17) return std::nullopt;
    const std::size_t udp_length = std::size_t{p[44]} << 8 | p[45];
    if (udp_length < 8 || 40 + udp_length > p.size()) return std::nullopt;
    return std::string(p.begin() + 48, p.begin() + static_cast<std::ptrdiff_t>(40 + udp_length));
}

}  // namespace ikev2_test
