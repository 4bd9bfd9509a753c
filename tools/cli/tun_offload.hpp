// TUN offloads (IFF_VNET_HDR + TUNSETOFFLOAD): the kernel hands the TUN reader TCP
// super-packets of up to 64 KiB (TSO) and leaves checksums to it (CSUM), so one read
// replaces dozens. Every packet read or written carries a 10-byte virtio_net_hdr in
// front. The reader segments a super-packet into MSS-sized TCP packets here, in user
// space, each with its own IP and TCP header and a full checksum, exactly as the NIC
// would; and it finishes the checksum of a plain packet the kernel left partial.
#pragma once

#include <linux/if_tun.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>

#include <tapsec/core/bytes.hpp>
#include <tapsec/wireguard/allowed_ips.hpp>

namespace tapsec::cli {

/// struct virtio_net_hdr, in the host's byte order (a TUN device's default). Spelled out
/// here: <linux/virtio_net.h> does not compile as C++ (a member named `class`).
struct VnetHeader {
    std::uint8_t flags = 0;
    std::uint8_t gso_type = 0;
    std::uint16_t header_length = 0;
    std::uint16_t gso_size = 0;
    std::uint16_t csum_start = 0;
    std::uint16_t csum_offset = 0;
};
static_assert(sizeof(VnetHeader) == 10);
inline constexpr std::size_t vnet_header_size = sizeof(VnetHeader);
inline constexpr std::uint8_t vnet_needs_checksum = 1;  // VIRTIO_NET_HDR_F_NEEDS_CSUM
inline constexpr std::uint8_t vnet_gso_none = 0, vnet_gso_tcpv4 = 1, vnet_gso_tcpv6 = 4, vnet_gso_ecn = 0x80;

using wireguard::checksum_add;
using wireguard::checksum_fold;

inline void put16(std::uint8_t* p, std::uint16_t v) {
    p[0] = static_cast<std::uint8_t>(v >> 8);
    p[1] = static_cast<std::uint8_t>(v);
}
inline std::uint16_t get16(const std::uint8_t* p) { return static_cast<std::uint16_t>(p[0] << 8 | p[1]); }

/// A packet whose checksum the kernel left partial (VIRTIO_NET_HDR_F_NEEDS_CSUM): the
/// field at start + offset holds the pseudo-header sum; the sum from `start` on completes it.
inline bool finish_partial_checksum(MutableByteView packet, std::size_t start, std::size_t offset) {
    if (start + offset + 2 > packet.size()) return false;
    const std::uint16_t sum = checksum_fold(checksum_add(0, ByteView(packet).subspan(start)));
    put16(packet.data() + start + offset, sum == 0 && offset == 6 ? 0xffff : sum);  // UDP: 0 means "none"
    return true;
}

/// Splits a TSO super-packet (IPv4 or IPv6 without extension headers, then TCP) into
/// packets of at most `segment_size` payload bytes, built one at a time in `scratch`
/// (which must hold the headers plus segment_size) and handed to `each(packet)`; each
/// gets its IP length and identification, sequence number, flags and full checksums.
/// False when the packet is not what TSO produces (the caller drops it).
template <class Each>
bool segment_tcp(ByteView packet, std::size_t segment_size, MutableByteView scratch, Each&& each) {
    if (packet.size() < 20 || segment_size == 0) return false;
    const bool v4 = (packet[0] >> 4) == 4;
    const std::size_t ip_length = v4 ? std::size_t{packet[0] & 0x0fu} * 4 : 40;
    if ((!v4 && (packet[0] >> 4) != 6) || ip_length < 20) return false;
    if (packet.size() < ip_length + 20 || (v4 ? packet[9] : packet[6]) != 6) return false;  // TCP only
    const std::size_t tcp_length = static_cast<std::size_t>(packet[ip_length + 12] >> 4) * 4;
    const std::size_t headers = ip_length + tcp_length;
    if (tcp_length < 20 || packet.size() < headers || scratch.size() < headers + segment_size) return false;
    const ByteView payload = packet.subspan(headers);
    const std::uint8_t* tcp_in = packet.data() + ip_length;
    const std::uint32_t first_sequence = std::uint32_t{tcp_in[4]} << 24 | std::uint32_t{tcp_in[5]} << 16 |
                                         std::uint32_t{tcp_in[6]} << 8 | tcp_in[7];
    const std::uint16_t first_id = v4 ? get16(packet.data() + 4) : 0;
    // The pseudo-header's addresses and protocol, summed once.
    const std::uint64_t address_sum =
        checksum_add(0, v4 ? packet.subspan(12, 8) : packet.subspan(8, 32)) + 6;
    std::size_t index = 0;
    for (std::size_t offset = 0; offset < payload.size() || (payload.empty() && index == 0); offset += segment_size, ++index) {
        const std::size_t length = std::min(segment_size, payload.size() - offset);
        const bool last = offset + length >= payload.size();
        std::uint8_t* out = scratch.data();
        std::memcpy(out, packet.data(), headers);
        std::memcpy(out + headers, payload.data() + offset, length);
        if (v4) {
            put16(out + 2, static_cast<std::uint16_t>(headers + length));
            put16(out + 4, static_cast<std::uint16_t>(first_id + index));
            put16(out + 10, 0);
            put16(out + 10, checksum_fold(checksum_add(0, ByteView(out, ip_length))));
        } else {
            put16(out + 4, static_cast<std::uint16_t>(tcp_length + length));
        }
        std::uint8_t* tcp = out + ip_length;
        const std::uint32_t sequence = first_sequence + static_cast<std::uint32_t>(offset);
        tcp[4] = static_cast<std::uint8_t>(sequence >> 24);
        tcp[5] = static_cast<std::uint8_t>(sequence >> 16);
        tcp[6] = static_cast<std::uint8_t>(sequence >> 8);
        tcp[7] = static_cast<std::uint8_t>(sequence);
        if (!last) tcp[13] &= static_cast<std::uint8_t>(~0x09u);  // FIN and PSH only on the last
        if (index > 0) tcp[13] &= static_cast<std::uint8_t>(~0x80u);  // CWR only on the first
        put16(tcp + 16, 0);
        const std::size_t segment_bytes = tcp_length + length;
        put16(tcp + 16, checksum_fold(checksum_add(address_sum + segment_bytes, ByteView(tcp, segment_bytes))));
        if (!each(ByteView(out, headers + length))) return true;
        if (last) break;
    }
    return true;
}

/// The receive side's counterpart (GRO in user space): consecutive in-order TCP segments
/// of one flow that came out of the tunnel are joined into one super-packet, written to
/// the TUN device with a GSO header, so the kernel takes dozens of segments in one write.
/// Anything else (other protocols, flags beyond ACK/PSH, a gap) is written as it came.
/// The segments were authenticated by the tunnel; the joined packet's TCP checksum is
/// left for the kernel to finish (NEEDS_CSUM), as a NIC's GRO would.
class TcpCoalescer {
public:
    explicit TcpCoalescer(int tun_fd) : fd_(tun_fd), buffer_(max_length) {}

    /// Takes one inner packet (copied: the caller's view may go away).
    void add(ByteView packet) {
        Segment s;
        if (!parse(packet, s)) {
            flush();
            write_plain(packet);
            return;
        }
        if (length_ && joins(packet, s)) {
            std::memcpy(buffer_.data() + length_, packet.data() + s.headers, s.payload);
            length_ += s.payload;
            next_sequence_ += static_cast<std::uint32_t>(s.payload);
            ++count_;
            if (s.payload < segment_size_ || (s.flags & 0x08)) {
                buffer_[ip_length_ + 13] |= s.flags & 0x08;
                closed_ = true;  // a short or pushed segment ends the run
            }
            return;
        }
        flush();
        std::memcpy(buffer_.data(), packet.data(), packet.size());
        length_ = packet.size();
        headers_ = s.headers;
        ip_length_ = s.ip_length;
        v4_ = s.v4;
        segment_size_ = s.payload;
        next_sequence_ = s.sequence + static_cast<std::uint32_t>(s.payload);
        count_ = 1;
        closed_ = (s.flags & 0x08) != 0;
    }

    /// Writes what is being joined (at the end of each batch of datagrams).
    void flush() {
        if (!length_) return;
        if (count_ == 1) {
            write_plain(ByteView(buffer_.data(), length_));
        } else {
            std::uint8_t* ip = buffer_.data();
            VnetHeader header;
            if (v4_) {
                put16(ip + 2, static_cast<std::uint16_t>(length_));
                put16(ip + 10, 0);
                put16(ip + 10, checksum_fold(checksum_add(0, ByteView(ip, ip_length_))));
            } else {
                put16(ip + 4, static_cast<std::uint16_t>(length_ - ip_length_));
            }
            // The pseudo-header sum, not complemented: the kernel adds the segment's own.
            const std::uint64_t pseudo = checksum_add(0, v4_ ? ByteView(ip + 12, 8) : ByteView(ip + 8, 32)) + 6 +
                                         (length_ - ip_length_);
            put16(ip + ip_length_ + 16, static_cast<std::uint16_t>(~checksum_fold(pseudo)));
            header.flags = vnet_needs_checksum;
            header.gso_type = v4_ ? vnet_gso_tcpv4 : vnet_gso_tcpv6;
            header.header_length = static_cast<std::uint16_t>(headers_);
            header.gso_size = static_cast<std::uint16_t>(segment_size_);
            header.csum_start = static_cast<std::uint16_t>(ip_length_);
            header.csum_offset = 16;
            write(header, ByteView(ip, length_));
        }
        length_ = 0;
    }

private:
    static constexpr std::size_t max_length = 65535;
    struct Segment {
        bool v4;
        std::size_t ip_length, headers, payload;
        std::uint32_t sequence;
        std::uint8_t flags;
    };

    static bool parse(ByteView p, Segment& s) {
        if (p.size() < 40 || p.size() > max_length) return false;
        s.v4 = (p[0] >> 4) == 4;
        if (s.v4) {
            s.ip_length = static_cast<std::size_t>(p[0] & 0x0f) * 4;
            if (s.ip_length < 20 || p[9] != 6 || get16(p.data() + 2) != p.size()) return false;
            if ((get16(p.data() + 6) & 0x3fff) != 0) return false;  // a fragment
        } else {
            if ((p[0] >> 4) != 6 || p[6] != 6 || std::size_t{get16(p.data() + 4)} + 40 != p.size()) return false;
            s.ip_length = 40;
        }
        if (p.size() < s.ip_length + 20) return false;
        const std::uint8_t* tcp = p.data() + s.ip_length;
        s.headers = s.ip_length + static_cast<std::size_t>(tcp[12] >> 4) * 4;
        if (s.headers < s.ip_length + 20 || s.headers >= p.size()) return false;  // no payload: written as it is
        s.flags = tcp[13];
        if ((s.flags & ~0x08) != 0x10) return false;  // ACK, maybe PSH; nothing else joins
        s.payload = p.size() - s.headers;
        s.sequence = std::uint32_t{tcp[4]} << 24 | std::uint32_t{tcp[5]} << 16 | std::uint32_t{tcp[6]} << 8 | tcp[7];
        return true;
    }

    /// Whether `p` continues the run: same flow and headers, next in sequence, room left.
    bool joins(ByteView p, const Segment& s) const {
        if (closed_ || s.v4 != v4_ || s.headers != headers_ || s.payload > segment_size_ ||
            s.sequence != next_sequence_ || length_ + s.payload > max_length)
            return false;
        const std::uint8_t* a = buffer_.data();
        const std::uint8_t* b = p.data();
        if (v4_) {
            // version/IHL/TOS, TTL/protocol, the addresses, options: equal; length, id, checksum differ.
            if (std::memcmp(a, b, 2) != 0 || std::memcmp(a + 8, b + 8, 2) != 0 ||
                std::memcmp(a + 12, b + 12, ip_length_ - 12) != 0 || (a[6] & 0x40) != (b[6] & 0x40))
                return false;
        } else if (std::memcmp(a, b, 4) != 0 || std::memcmp(a + 6, b + 6, 34) != 0) {
            return false;
        }
        const std::uint8_t* ta = a + ip_length_;
        const std::uint8_t* tb = b + ip_length_;
        // Ports, acknowledgment, offset, window, urgent pointer and options equal.
        return std::memcmp(ta, tb, 4) == 0 && std::memcmp(ta + 8, tb + 8, 5) == 0 && std::memcmp(ta + 14, tb + 14, 2) == 0 &&
               std::memcmp(ta + 18, tb + 18, headers_ - ip_length_ - 18) == 0;
    }

    void write_plain(ByteView packet) { write(VnetHeader{}, packet); }
    void write(const VnetHeader& header, ByteView packet) {
        iovec parts[2] = {{const_cast<VnetHeader*>(&header), vnet_header_size},
                          {const_cast<std::uint8_t*>(packet.data()), packet.size()}};
        // A write the kernel refuses (a malformed inner packet) is that packet's loss.
        (void)!::writev(fd_, parts, 2);
    }

    int fd_;
    Bytes buffer_;
    std::size_t length_ = 0, headers_ = 0, ip_length_ = 0, segment_size_ = 0, count_ = 0;
    std::uint32_t next_sequence_ = 0;
    bool v4_ = true, closed_ = false;
};

}  // namespace tapsec::cli
