// The inner side of the VPN-style commands (wireguard, ikev2): where the tunnel's IP
// packets come from and where the ones that come out of it go. One of three:
//   - a TUN device: one read is one packet, one write is one packet;
//   - --udp-to: each stdin line becomes one IPv4/UDP datagram, and the payload of each
//     UDP datagram that comes out is written to stdout;
//   - otherwise: packets framed by a 2-byte big-endian length on stdin and stdout.
// The protocol's own loop decides when to read; this decides what the bytes mean.
#pragma once

#include <poll.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <functional>
#include <optional>
#include <string>

#include <tapsec/core/bytes.hpp>
#include <tapsec/core/errors.hpp>

#include "registry.hpp"

namespace tapsec::cli {

/// Writes all of `data`, retrying short writes; false when the descriptor is closed.
inline bool write_all(int fd, ByteView data) {
    while (!data.empty()) {
        auto n = ::write(fd, data.data(), data.size());
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        data = data.subspan(static_cast<std::size_t>(n));
    }
    return true;
}

class TunnelPackets {
public:
    /// A stdin line as a whole IP packet (--udp-to), and a packet's UDP payload.
    using MakeUdpPacket = std::function<Bytes(ByteView line)>;
    using UdpPayload = std::function<std::optional<Bytes>(ByteView packet)>;

    /// `tun_fd` < 0: stdin/stdout; `make_udp_packet` set: the --udp-to line mode.
    TunnelPackets(int tun_fd, MakeUdpPacket make_udp_packet, UdpPayload udp_payload)
        : tun_fd_(tun_fd), make_udp_packet_(std::move(make_udp_packet)), udp_payload_(std::move(udp_payload)) {}

    int input_fd() const { return tun_fd_ >= 0 ? tun_fd_ : 0; }
    bool uses_tun() const { return tun_fd_ >= 0; }
    bool line_mode() const { return !uses_tun() && static_cast<bool>(make_udp_packet_); }

    /// Bytes read from input_fd(): each packet they complete goes to `send` (returning
    /// false stops here, and so does this). A partial line or frame waits for more.
    template <class Send>
    bool on_input(ByteView chunk, Send&& send) {
        if (uses_tun()) return send(chunk);
        if (make_udp_packet_) {
            lines_.append(reinterpret_cast<const char*>(chunk.data()), chunk.size());
            for (auto newline = lines_.find('\n'); newline != std::string::npos; newline = lines_.find('\n')) {
                const Bytes packet = make_udp_packet_(as_bytes(std::string_view(lines_).substr(0, newline + 1)));
                lines_.erase(0, newline + 1);
                if (!send(ByteView(packet))) return false;
            }
            return true;
        }
        frames_.insert(frames_.end(), chunk.begin(), chunk.end());
        while (frames_.size() >= 2) {
            const std::size_t length = std::size_t{frames_[0]} << 8 | frames_[1];
            if (frames_.size() < 2 + length) break;
            if (length && !send(ByteView(frames_).subspan(2, length))) return false;
            frames_.erase(frames_.begin(), frames_.begin() + static_cast<std::ptrdiff_t>(2 + length));
        }
        return true;
    }

    /// A packet out of the tunnel, written where it belongs (a non-UDP packet is not
    /// written in --udp-to mode). False when the output is closed.
    bool deliver(ByteView packet) {
        if (uses_tun()) return write_all(tun_fd_, packet);
        if (make_udp_packet_) {
            if (auto payload = udp_payload_(packet)) return write_all(1, ByteView(*payload));
            return true;
        }
        const std::uint8_t header[2] = {static_cast<std::uint8_t>(packet.size() >> 8),
                                        static_cast<std::uint8_t>(packet.size())};
        return write_all(1, ByteView(header, 2)) && write_all(1, packet);
    }

private:
    int tun_fd_;
    MakeUdpPacket make_udp_packet_;
    UdpPayload udp_payload_;
    Bytes frames_;      // framed stdin not yet complete
    std::string lines_; // --udp-to stdin not yet a full line
};

/// What the protocol's own check says after each round of run_tunnel().
struct TunnelStep {
    enum Kind { go_on, leave, exit_with } kind = go_on;
    int status = 0;
};

/// How far the inner side got, for the protocol's checks.
struct TunnelProgress {
    bool input_open = true;
    std::chrono::steady_clock::time_point quiet_since = std::chrono::steady_clock::now();  // last packet either way
};

/// The data path both tunnel commands run: inner packets into the tunnel, packets out of
/// it delivered, until `stop` is set, a check says to leave (returns nullopt: the
/// caller then closes the tunnel its own way) or to exit, or an error (one line, 1).
/// `intercept(packet)` sees each packet out first and may end the run with a status
/// (IKEv2's empty packet: the peer deleted the SA); `check(progress)` runs each round.
template <class Connection, class ReportEvents, class Intercept, class Check>
std::optional<int> run_tunnel(Connection& conn, TunnelPackets& packets, const std::atomic<bool>& stop,
                              ReportEvents&& report_events, Intercept&& intercept, Check&& check) {
    using namespace std::chrono_literals;
    TunnelProgress progress;
    std::array<std::uint8_t, 65536> buffer{};
    auto send_packet = [&](ByteView packet) -> bool {
        if (auto ec = conn.send(packet)) {
            fail("send failed: " + ec.message());
            return false;
        }
        return true;
    };
    while (!stop) {
        pollfd fds[2] = {{conn.transport().native_handle(), POLLIN, 0},
                         {progress.input_open ? packets.input_fd() : -1, POLLIN, 0}};
        ::poll(fds, 2, 20);
        if (fds[1].revents & (POLLIN | POLLHUP | POLLERR)) {
            auto n = ::read(packets.input_fd(), buffer.data(), buffer.size());
            if (n <= 0) {
                if (packets.uses_tun()) return fail("TUN device closed");
                progress.input_open = false;
                progress.quiet_since = std::chrono::steady_clock::now();
            } else if (!packets.on_input(ByteView(buffer.data(), static_cast<std::size_t>(n)), send_packet)) {
                return 1;
            }
        }
        // Drive the engine (datagrams and timers) and deliver what came out of the tunnel.
        for (;;) {
            auto packet = conn.receive_message(0ms);
            report_events();
            if (!packet) {
                if (packet.error() == make_error_code(Errc::timed_out)) break;
                return fail(packet.error().message());
            }
            if (std::optional<int> status = intercept(ByteView(*packet))) return status;
            progress.quiet_since = std::chrono::steady_clock::now();
            if (!packets.deliver(*packet) && !packets.uses_tun()) {
                if (packets.line_mode()) return fail(std::string("cannot write stdout: ") + std::strerror(errno));
                return 0;  // stdout closed: the reader is done
            }
        }
        const TunnelStep step = check(progress);
        if (step.kind == TunnelStep::leave) break;
        if (step.kind == TunnelStep::exit_with) return step.status;
    }
    return std::nullopt;
}

}  // namespace tapsec::cli
