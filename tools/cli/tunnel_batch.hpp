// The batched TUN data path: per wakeup, every datagram the socket holds is taken with
// recvmmsg (GRO where the kernel offers it) and every packet the TUN device holds is read
// until EAGAIN, and what the engine seals leaves with sendmmsg (GSO runs). The engine
// stays sans-I/O: it is driven through receive / send / poll_transmit(buffer) /
// poll_plaintext, and nothing here allocates per packet.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <optional>
#include <string>

#include <tapsec/core/bytes.hpp>
#include <tapsec/core/engine.hpp>

#include "registry.hpp"
#include "tun_offload.hpp"
#include "tunnel_io.hpp"
#include "udp_batch.hpp"

namespace tapsec::cli {

struct TunBatchOptions {
    bool udp_offload = true;  // UDP GSO on send, GRO on receive, where the kernel has them
    bool vnet_header = false;  // the TUN device was opened with IFF_VNET_HDR (tun_offload.hpp)
};

/// Runs the tunnel between `tun_fd` and the engine's UDP socket `udp_fd` until `stop`,
/// a check says to leave (nullopt) or exit, or an error (one line, 1). A packet the
/// engine cannot take now (no session yet, its waiting queue full) is dropped, as a
/// kernel interface drops it. `report_events()` runs each round, `check(progress)` too.
template <class Engine, class ReportEvents, class Check>
std::optional<int> run_tun_batched(Engine& engine, int udp_fd, int tun_fd, const std::atomic<bool>& stop,
                                   ReportEvents&& report_events, Check&& check, TunBatchOptions options = {}) {
    using namespace std::chrono_literals;
    if (const int flags = ::fcntl(tun_fd, F_GETFL); flags < 0 || ::fcntl(tun_fd, F_SETFL, flags | O_NONBLOCK) != 0)
        return fail(std::string("cannot make the TUN device non-blocking: ") + std::strerror(errno));
    UdpReceiveBatch received(udp_fd, options.udp_offload);
    UdpSendBatch outgoing(options.udp_offload);
    Bytes packet(65536 + vnet_header_size);
    Bytes segment(65536);  // one TCP segment cut from a TSO super-packet
    TcpCoalescer coalescer(tun_fd);  // with the vnet header: segments out joined per batch
    Bytes oversized(max_transmit_size);  // a datagram larger than a batch slot (none in practice)
    TunnelProgress progress;
    constexpr std::size_t tun_reads_per_round = 256;  // then the other direction gets its turn

    // Everything the engine queued goes out: in batch slots, sendmmsg when full.
    auto send_queued = [&]() -> bool {
        for (;;) {
            if (outgoing.full() && !outgoing.send(udp_fd)) return false;
            auto sent = engine.poll_transmit(outgoing.slot());
            if (!sent) {
                if (engine.queued_transmits() == 0) break;
                if (!outgoing.send(udp_fd)) return false;
                auto big = engine.poll_transmit(MutableByteView(oversized));
                if (big && big->to && ::sendto(udp_fd, oversized.data(), big->size, 0, big->to->sockaddr_ptr(),
                                               big->to->sockaddr_length()) < 0 && errno != ECONNREFUSED)
                    return false;
                continue;
            }
            if (sent->to) outgoing.commit(sent->size, *sent->to);
        }
        return outgoing.send(udp_fd);
    };
    auto socket_failed = [] { return fail(std::string("UDP socket: ") + std::strerror(errno)); };

    while (!stop) {
        int wait_ms = 20;
        if (auto t = engine.next_timeout()) {
            const auto until = std::chrono::ceil<std::chrono::milliseconds>(*t - Clock::now()).count();
            wait_ms = static_cast<int>(std::clamp<long long>(until, 0, wait_ms));
        }
        pollfd fds[2] = {{udp_fd, POLLIN, 0}, {tun_fd, POLLIN, 0}};
        ::poll(fds, 2, wait_ms);
        if (fds[1].revents & (POLLHUP | POLLERR | POLLNVAL)) return fail("TUN device closed");
        Instant now = Clock::now();

        // Out of the tunnel: every datagram queued on the socket, decrypted into the
        // engine's reused slot and written to the TUN device at once.
        for (;;) {
            const int buffers = received.receive(udp_fd);
            if (buffers < 0) return socket_failed();
            for (int i = 0; i < buffers; ++i) {
                const Endpoint from = received.from(static_cast<std::size_t>(i));
                received.segments(static_cast<std::size_t>(i), [&](ByteView datagram) {
                    (void)engine.receive(datagram, from, now);
                    while (auto inner = engine.poll_plaintext()) {
                        progress.quiet_since = now;
                        // A write the kernel refuses (a malformed inner packet) is that packet's loss.
                        if (inner->empty()) continue;
                        if (options.vnet_header) {
                            coalescer.add(*inner);
                        } else {
                            (void)!::write(tun_fd, inner->data(), inner->size());
                        }
                    }
                });
            }
            coalescer.flush();
            if (!send_queued()) return socket_failed();  // handshake answers, keepalives
            if (static_cast<std::size_t>(buffers) < UdpReceiveBatch::capacity) break;
        }

        // Into the tunnel: the TUN device read until it is empty (or this round's share).
        for (std::size_t reads = 0; reads < tun_reads_per_round; ++reads) {
            const auto n = ::read(tun_fd, packet.data(), packet.size());
            if (n < 0) {
                if (errno == EINTR) continue;
                if (errno == EAGAIN || errno == EWOULDBLOCK) break;
                return fail(std::string("TUN device: ") + std::strerror(errno));
            }
            if (n == 0) return fail("TUN device closed");
            progress.quiet_since = now;
            std::error_code failed;
            auto seal = [&](ByteView inner) {
                if (auto ec = engine.send(inner, now); ec && ec != std::make_error_code(std::errc::no_buffer_space)) {
                    failed = ec;
                    return false;
                }
                if (engine.queued_transmits() >= UdpSendBatch::capacity && !send_queued()) {
                    failed = std::error_code(errno, std::system_category());
                    return false;
                }
                return true;
            };
            if (!options.vnet_header) {
                seal(ByteView(packet.data(), static_cast<std::size_t>(n)));
            } else if (static_cast<std::size_t>(n) > vnet_header_size) {
                VnetHeader header;
                std::memcpy(&header, packet.data(), sizeof header);
                MutableByteView inner(packet.data() + vnet_header_size, static_cast<std::size_t>(n) - vnet_header_size);
                const auto gso = header.gso_type & ~vnet_gso_ecn;
                if (gso == vnet_gso_tcpv4 || gso == vnet_gso_tcpv6) {
                    // A malformed super-packet is dropped, as a NIC would.
                    (void)segment_tcp(inner, header.gso_size, MutableByteView(segment), seal);
                } else if (gso == vnet_gso_none) {
                    if (!(header.flags & vnet_needs_checksum) ||
                        finish_partial_checksum(inner, header.csum_start, header.csum_offset))
                        seal(inner);
                }
            }
            if (failed) return fail("send failed: " + failed.message());
        }
        if (!send_queued()) return socket_failed();

        now = Clock::now();
        if (auto t = engine.next_timeout(); t && *t <= now) {
            if (auto ec = engine.on_timeout(now)) return fail(ec.message());
            if (!send_queued()) return socket_failed();
        }
        report_events();
        const TunnelStep step = check(progress);
        if (step.kind == TunnelStep::leave) break;
        if (step.kind == TunnelStep::exit_with) return step.status;
    }
    return std::nullopt;
}

}  // namespace tapsec::cli
