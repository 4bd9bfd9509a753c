// Batched UDP I/O for the tunnel data paths: many datagrams per system call, in buffers
// allocated once. Receiving uses recvmmsg (and UDP_GRO where the kernel coalesces a
// burst from one sender into one buffer); sending uses sendmmsg, and UDP_SEGMENT (GSO)
// for runs of equal-size datagrams to one destination, so the kernel segments them.
// Either offload is dropped for good the first time the kernel refuses it.
#pragma once

#include <netinet/in.h>
#include <netinet/udp.h>
#include <poll.h>
#include <sys/socket.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <memory>
#include <vector>

#include <tapsec/core/bytes.hpp>
#include <tapsec/core/endpoint.hpp>

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif
#ifndef UDP_GRO
#define UDP_GRO 104
#endif

namespace tapsec::cli {

/// Datagrams received by one recvmmsg call. With GRO on, one buffer may hold several
/// datagrams of `segment_size` bytes (the last may be shorter): segments() splits them.
class UdpReceiveBatch {
public:
    static constexpr std::size_t capacity = 32;
    static constexpr std::size_t buffer_size = 65536;  // a GRO super-datagram fits

    // The buffers are left uninitialised: a page is touched only when a datagram lands in
    // it (zeroing 2 MiB up front cost every process ~500 page faults at start).
    explicit UdpReceiveBatch(int fd, bool try_gro) : storage_(new std::uint8_t[capacity * buffer_size]) {
        int one = 1;
        gro_ = try_gro && ::setsockopt(fd, IPPROTO_UDP, UDP_GRO, &one, sizeof one) == 0;
        for (std::size_t i = 0; i < capacity; ++i) {
            iov_[i] = {storage_.get() + i * buffer_size, buffer_size};
            headers_[i].msg_hdr.msg_iov = &iov_[i];
            headers_[i].msg_hdr.msg_iovlen = 1;
            headers_[i].msg_hdr.msg_name = &from_[i];
        }
    }

    bool gro() const { return gro_; }

    /// Receives what is queued now, without waiting: how many buffers; 0 when none;
    /// -1 on a socket error (errno).
    int receive(int fd) {
        for (std::size_t i = 0; i < capacity; ++i) {
            auto& h = headers_[i].msg_hdr;
            h.msg_namelen = sizeof(sockaddr_storage);
            h.msg_control = gro_ ? control_[i].data() : nullptr;
            h.msg_controllen = gro_ ? control_[i].size() : 0;
            h.msg_flags = 0;
        }
        for (;;) {
            const int n = ::recvmmsg(fd, headers_.data(), capacity, MSG_DONTWAIT, nullptr);
            if (n >= 0) return n;
            if (errno == EINTR || errno == ECONNREFUSED) continue;  // ICMP from an earlier send
            if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
            return -1;
        }
    }

    Endpoint from(std::size_t i) const {
        return Endpoint::from_sockaddr(reinterpret_cast<const sockaddr*>(&from_[i]), headers_[i].msg_hdr.msg_namelen)
            .value_or(Endpoint{});
    }

    /// Calls `each(datagram)` for every datagram in buffer `i` (a truncated one is dropped).
    template <class Each>
    void segments(std::size_t i, Each&& each) const {
        const auto& h = headers_[i].msg_hdr;
        if (h.msg_flags & MSG_TRUNC) return;
        ByteView all(storage_.get() + i * buffer_size, headers_[i].msg_len);
        std::size_t segment = all.size();
        if (gro_)
            for (cmsghdr* c = CMSG_FIRSTHDR(&h); c; c = CMSG_NXTHDR(const_cast<msghdr*>(&h), c))
                if (c->cmsg_level == IPPROTO_UDP && c->cmsg_type == UDP_GRO) {
                    int size = 0;
                    std::memcpy(&size, CMSG_DATA(c), sizeof size);
                    if (size > 0) segment = static_cast<std::size_t>(size);
                }
        if (segment == 0) segment = 1;  // an empty datagram
        for (std::size_t offset = 0; offset < all.size() || offset == 0; offset += segment) {
            each(all.subspan(offset, std::min(segment, all.size() - offset)));
            if (all.empty()) break;
        }
    }

private:
    std::unique_ptr<std::uint8_t[]> storage_;
    std::array<iovec, capacity> iov_{};
    std::array<mmsghdr, capacity> headers_{};
    std::array<sockaddr_storage, capacity> from_{};
    std::array<std::array<char, CMSG_SPACE(sizeof(int))>, capacity> control_{};
    bool gro_ = false;
};

/// Datagrams gathered for one sendmmsg call: slot() is where the next one is written,
/// commit() keeps it, send() hands them all to the kernel (GSO groups where it can).
class UdpSendBatch {
public:
    static constexpr std::size_t capacity = 64;
    static constexpr std::size_t slot_size = 2048;  // a 1500-byte-MTU datagram and more
    static constexpr std::size_t max_gso_bytes = 65000;  // below the 64 KiB IP datagram limit

    explicit UdpSendBatch(bool try_gso) : storage_(capacity * slot_size), gso_(try_gso) {}

    bool full() const { return count_ == capacity; }
    bool empty() const { return count_ == 0; }
    bool gso() const { return gso_; }
    MutableByteView slot() { return MutableByteView(storage_.data() + count_ * slot_size, slot_size); }
    void commit(std::size_t size, const Endpoint& to) {
        sizes_[count_] = size;
        to_[count_] = to;
        ++count_;
    }

    /// Sends every gathered datagram; a datagram the network refuses (ICMP unreachable)
    /// is lost, as UDP allows. Returns false on another socket error (errno).
    bool send(int fd) { return send_from(fd, 0); }

private:
    bool send_from(int fd, std::size_t start) {
        std::size_t groups = 0;
        for (std::size_t first = start; first < count_;) {
            // A GSO group: equal sizes to one destination, the last one may be shorter.
            std::size_t last = first + 1, bytes = sizes_[first];
            if (gso_)
                while (last < count_ && sizes_[last] <= sizes_[first] && to_[last] == to_[first] &&
                       bytes + sizes_[last] <= max_gso_bytes) {
                    bytes += sizes_[last];
                    ++last;
                    if (sizes_[last - 1] < sizes_[first]) break;
                }
            group_first_[groups] = first;
            auto& h = headers_[groups].msg_hdr;
            h = msghdr{};
            h.msg_name = const_cast<sockaddr*>(to_[first].sockaddr_ptr());
            h.msg_namelen = to_[first].sockaddr_length();
            h.msg_iov = &iov_[first];
            h.msg_iovlen = last - first;
            for (std::size_t i = first; i < last; ++i) iov_[i] = {storage_.data() + i * slot_size, sizes_[i]};
            if (last - first > 1) {
                h.msg_control = control_[groups].data();
                h.msg_controllen = control_[groups].size();
                cmsghdr* c = CMSG_FIRSTHDR(&h);
                c->cmsg_level = IPPROTO_UDP;
                c->cmsg_type = UDP_SEGMENT;
                c->cmsg_len = CMSG_LEN(sizeof(std::uint16_t));
                const auto segment = static_cast<std::uint16_t>(sizes_[first]);
                std::memcpy(CMSG_DATA(c), &segment, sizeof segment);
            }
            ++groups;
            first = last;
        }
        std::size_t sent = 0;
        while (sent < groups) {
            const int n = ::sendmmsg(fd, headers_.data() + sent, static_cast<unsigned>(groups - sent), 0);
            if (n > 0) {
                sent += static_cast<std::size_t>(n);
                continue;
            }
            if (errno == EINTR) continue;
            if (errno == ECONNREFUSED) {  // datagram semantics: loss, not failure
                ++sent;
                continue;
            }
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS) {
                pollfd p{fd, POLLOUT, 0};
                ::poll(&p, 1, 100);
                continue;
            }
            if (gso_ && (errno == EIO || errno == EINVAL || errno == EOPNOTSUPP)) {
                // The kernel or the device cannot segment: send one by one from now on.
                gso_ = false;
                return send_from(fd, group_first_[sent]);
            }
            return false;
        }
        count_ = 0;
        return true;
    }

    Bytes storage_;
    std::array<std::size_t, capacity> sizes_{};
    std::array<Endpoint, capacity> to_{};
    std::array<iovec, capacity> iov_{};
    std::array<mmsghdr, capacity> headers_{};
    std::array<std::size_t, capacity> group_first_{};  // the first datagram of each group
    std::array<std::array<char, CMSG_SPACE(sizeof(std::uint16_t))>, capacity> control_{};
    std::size_t count_ = 0;
    bool gso_ = true;
};

}  // namespace tapsec::cli
