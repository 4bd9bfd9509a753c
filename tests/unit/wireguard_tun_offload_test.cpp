// The TUN offload helpers of the batched WireGuard data path (tools/cli/tun_offload.hpp):
// TSO super-packets cut into segments with valid IP and TCP checksums, and segments
// joined back (user-space GRO) into one packet the kernel can finish.
#include <doctest/doctest.h>

#include <sys/socket.h>
#include <unistd.h>

#include <vector>

#include "../../tools/cli/tun_offload.hpp"

using namespace tapsec;
using namespace tapsec::cli;

namespace wireguard_tun_offload_test {

constexpr std::size_t tcp_header_length = 32;  // 20 + NOP, NOP, timestamps (10)

/// An IPv4 or IPv6 TCP packet from 10.0.0.1:40000 to 10.0.0.2:5201 (or fd00::1 -> fd00::2).
Bytes tcp_packet(bool v4, std::uint32_t sequence, std::size_t payload, std::uint8_t flags, std::uint8_t fill = 0) {
    const std::size_t ip = v4 ? 20 : 40;
    Bytes p(ip + tcp_header_length + payload);
    if (v4) {
        p[0] = 0x45;
        put16(p.data() + 2, static_cast<std::uint16_t>(p.size()));
        put16(p.data() + 4, 0x1234);
        p[6] = 0x40;  // DF
        p[8] = 64;
        p[9] = 6;
        p[12] = 10, p[15] = 1, p[16] = 10, p[19] = 2;
        put16(p.data() + 10, checksum_fold(checksum_add(0, ByteView(p.data(), 20))));
    } else {
        p[0] = 0x60;
        put16(p.data() + 4, static_cast<std::uint16_t>(tcp_header_length + payload));
        p[6] = 6;
        p[7] = 64;
        p[8] = 0xfd, p[23] = 1, p[24] = 0xfd, p[39] = 2;
    }
    std::uint8_t* tcp = p.data() + ip;
    put16(tcp, 40000);
    put16(tcp + 2, 5201);
    tcp[4] = static_cast<std::uint8_t>(sequence >> 24), tcp[5] = static_cast<std::uint8_t>(sequence >> 16);
    tcp[6] = static_cast<std::uint8_t>(sequence >> 8), tcp[7] = static_cast<std::uint8_t>(sequence);
    tcp[11] = 7;  // acknowledgment 7
    tcp[12] = (tcp_header_length / 4) << 4;
    tcp[13] = flags;
    put16(tcp + 14, 512);
    tcp[20] = 1, tcp[21] = 1, tcp[22] = 8, tcp[23] = 10, tcp[27] = 9;  // NOP NOP TS 9
    for (std::size_t i = 0; i < payload; ++i) tcp[tcp_header_length + i] = static_cast<std::uint8_t>(fill + i * 7);
    return p;
}

std::uint64_t pseudo_header_sum(ByteView p) {
    const bool v4 = (p[0] >> 4) == 4;
    const std::size_t ip = v4 ? 20 : 40;
    return checksum_add(0, v4 ? p.subspan(12, 8) : p.subspan(8, 32)) + 6 + (p.size() - ip);
}

/// Whether the packet's IPv4 header checksum (if any) and TCP checksum verify.
bool checksums_valid(ByteView p) {
    const bool v4 = (p[0] >> 4) == 4;
    const std::size_t ip = v4 ? 20 : 40;
    if (v4 && checksum_fold(checksum_add(0, p.first(20))) != 0) return false;
    return checksum_fold(checksum_add(pseudo_header_sum(p), p.subspan(ip))) == 0;
}

void set_tcp_checksum(Bytes& p) {
    const std::size_t ip = (p[0] >> 4) == 4 ? 20 : 40;
    put16(p.data() + ip + 16, 0);
    put16(p.data() + ip + 16, checksum_fold(checksum_add(pseudo_header_sum(p), ByteView(p).subspan(ip))));
}

std::uint32_t sequence_of(ByteView p) {
    const std::uint8_t* tcp = p.data() + ((p[0] >> 4) == 4 ? 20 : 40);
    return std::uint32_t{tcp[4]} << 24 | std::uint32_t{tcp[5]} << 16 | std::uint32_t{tcp[6]} << 8 | tcp[7];
}

/// A socket pair standing in for the TUN device: one message per write.
struct FakeTun {
    int fds[2] = {-1, -1};
    FakeTun() {
        REQUIRE(::socketpair(AF_UNIX, SOCK_SEQPACKET, 0, fds) == 0);
        int size = 4 << 20;
        ::setsockopt(fds[0], SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
        ::setsockopt(fds[1], SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
    }
    ~FakeTun() {
        ::close(fds[0]);
        ::close(fds[1]);
    }
    std::vector<Bytes> written() {
        std::vector<Bytes> out;
        Bytes buffer(70000);
        for (;;) {
            const auto n = ::recv(fds[1], buffer.data(), buffer.size(), MSG_DONTWAIT);
            if (n <= 0) break;
            out.emplace_back(buffer.begin(), buffer.begin() + n);
        }
        return out;
    }
};


TEST_CASE("a TSO super-packet is cut into MSS segments with valid checksums, IPv4 and IPv6") {
    for (const bool v4 : {true, false}) {
        CAPTURE(v4);
        const Bytes super = tcp_packet(v4, 1000, 5000, 0x18);  // ACK|PSH
        const std::size_t headers = (v4 ? 20 : 40) + tcp_header_length;
        Bytes scratch(65536);
        std::vector<Bytes> segments;
        REQUIRE(segment_tcp(super, 1380, scratch, [&](ByteView s) {
            segments.emplace_back(s.begin(), s.end());
            return true;
        }));
        REQUIRE(segments.size() == 4);  // 3 x 1380 + 860
        Bytes joined;
        for (std::size_t i = 0; i < segments.size(); ++i) {
            const Bytes& s = segments[i];
            CHECK(s.size() == headers + (i < 3 ? 1380 : 860));
            CHECK(checksums_valid(s));
            CHECK(sequence_of(s) == 1000 + i * 1380);
            CHECK(((s[headers - tcp_header_length + 13] & 0x08) != 0) == (i == 3));  // PSH only on the last
            if (v4) CHECK(get16(s.data() + 4) == 0x1234 + i);
            joined.insert(joined.end(), s.begin() + static_cast<std::ptrdiff_t>(headers), s.end());
        }
        CHECK(joined == Bytes(super.begin() + static_cast<std::ptrdiff_t>(headers), super.end()));
    }
}

TEST_CASE("segment_tcp refuses what TSO does not produce") {
    Bytes scratch(65536);
    Bytes udp = tcp_packet(true, 1, 100, 0x10);
    udp[9] = 17;
    Bytes bad_offset = tcp_packet(true, 1, 100, 0x10);
    bad_offset[20 + 12] = 0x40;  // 16-byte TCP header
    Bytes short_v6 = tcp_packet(false, 1, 0, 0x10);
    short_v6.resize(50);
    struct Case {
        const char* name;
        Bytes packet;
        std::size_t segment;
        std::size_t scratch;
    } cases[] = {
        {"too short", Bytes(10), 1380, 65536},
        {"UDP", udp, 1380, 65536},
        {"TCP header under 20 bytes", bad_offset, 1380, 65536},
        {"IPv6 shorter than its headers", short_v6, 1380, 65536},
        {"segment size 0", tcp_packet(true, 1, 100, 0x10), 0, 65536},
        {"scratch too small", tcp_packet(true, 1, 3000, 0x10), 1380, 1000},
    };
    for (const auto& c : cases) {
        CAPTURE(c.name);
        CHECK_FALSE(segment_tcp(c.packet, c.segment, MutableByteView(scratch).first(c.scratch), [](ByteView) { return true; }));
    }
}

TEST_CASE("consecutive segments are joined into one GSO packet the kernel can finish") {
    for (const bool v4 : {true, false}) {
        CAPTURE(v4);
        FakeTun tun;
        TcpCoalescer coalescer(tun.fds[0]);
        std::vector<Bytes> sent;
        for (std::uint32_t i = 0; i < 5; ++i) {
            sent.push_back(tcp_packet(v4, 1000 + i * 1380, i < 4 ? 1380 : 500, i < 4 ? 0x10 : 0x18, static_cast<std::uint8_t>(i)));
            set_tcp_checksum(sent.back());
            coalescer.add(sent.back());
        }
        coalescer.flush();
        auto out = tun.written();
        REQUIRE(out.size() == 1);
        VnetHeader header;
        std::memcpy(&header, out[0].data(), sizeof header);
        const std::size_t ip = v4 ? 20 : 40;
        CHECK(header.gso_type == (v4 ? vnet_gso_tcpv4 : vnet_gso_tcpv6));
        CHECK(header.gso_size == 1380);
        CHECK(header.flags == vnet_needs_checksum);
        CHECK(header.csum_start == ip);
        CHECK(header.csum_offset == 16);
        Bytes packet(out[0].begin() + vnet_header_size, out[0].end());
        CHECK(packet.size() == ip + tcp_header_length + 4 * 1380 + 500);
        CHECK((packet[ip + 13] & 0x08) != 0);  // the last segment's PSH kept
        REQUIRE(finish_partial_checksum(packet, header.csum_start, header.csum_offset));
        CHECK(checksums_valid(packet));
        Bytes payload;
        for (const auto& s : sent) payload.insert(payload.end(), s.begin() + static_cast<std::ptrdiff_t>(ip + tcp_header_length), s.end());
        CHECK(Bytes(packet.begin() + static_cast<std::ptrdiff_t>(ip + tcp_header_length), packet.end()) == payload);
    }
}

TEST_CASE("segments that do not continue the run are written as they came") {
    auto plus = [](Bytes p, auto change) {
        change(p);
        return p;
    };
    const Bytes first = tcp_packet(true, 1000, 1380, 0x10);
    struct Case {
        const char* name;
        Bytes second;
    } cases[] = {
        {"a gap in the sequence", tcp_packet(true, 1000 + 1381, 1380, 0x10)},
        {"another port", plus(tcp_packet(true, 2380, 1380, 0x10), [](Bytes& p) { p[20] ^= 1; })},
        {"another acknowledgment", plus(tcp_packet(true, 2380, 1380, 0x10), [](Bytes& p) { p[20 + 11] = 8; })},
        {"a FIN", tcp_packet(true, 2380, 1380, 0x11)},
        {"a longer segment", tcp_packet(true, 2380, 1400, 0x10)},
        {"UDP", plus(tcp_packet(true, 2380, 1380, 0x10), [](Bytes& p) { p[9] = 17; })},
        {"another TTL", plus(tcp_packet(true, 2380, 1380, 0x10), [](Bytes& p) { p[8] = 63; })},
    };
    for (const auto& c : cases) {
        CAPTURE(c.name);
        FakeTun tun;
        TcpCoalescer coalescer(tun.fds[0]);
        coalescer.add(first);
        coalescer.add(c.second);
        coalescer.flush();
        auto out = tun.written();
        REQUIRE(out.size() == 2);
        for (std::size_t i = 0; i < 2; ++i) {
            VnetHeader header;
            std::memcpy(&header, out[i].data(), sizeof header);
            CHECK(header.gso_type == vnet_gso_none);
            CHECK(Bytes(out[i].begin() + vnet_header_size, out[i].end()) == (i == 0 ? first : c.second));
        }
    }
}

}  // namespace wireguard_tun_offload_test
