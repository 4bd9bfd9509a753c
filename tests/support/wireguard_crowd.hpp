// A crowd of WireGuard initiators on real loopback UDP, for load and scale runs against
// one listener (tests/stress/wireguard_peers_test.cpp, benchmarks/wireguard_load.cpp).
// Each peer is this library's sans-I/O engine with its own socket bound to its own
// loopback address (127.1.H.L: a crowd comes from many addresses, which is what the
// listener's per-address limits see); one thread drives them all with epoll. Bounded:
// every run_until has a deadline; sockets close with the crowd.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <tapsec/tapsec.hpp>

namespace tapsec::test {

template <class Crypto>
class WireGuardCrowd {
public:
    using Engine = wireguard::Engine<Crypto>;
    using SteadyClock = std::chrono::steady_clock;

    struct Member {
        SecretArray<32> key;
        wireguard::Key public_key{};
        wireguard::IpAddress inner;
        std::unique_ptr<Engine> engine;
        int fd = -1;
        std::uint64_t handshakes_seen = 0;
        std::optional<SteadyClock::time_point> handshake_started;
    };

    /// Peer i's inner address: 10.1.H.L (H.L = i + 1); the listener's is 10.0.0.1.
    static wireguard::IpAddress inner_address(std::size_t i) {
        return wireguard::IpAddress::v4(10, 1, static_cast<std::uint8_t>((i + 1) >> 8), static_cast<std::uint8_t>(i + 1));
    }
    static wireguard::IpAddress listener_inner() { return wireguard::IpAddress::v4(10, 0, 0, 1); }

    WireGuardCrowd(std::size_t size, const wireguard::Key& listener_public, const Endpoint& listener)
        : epoll_(::epoll_create1(EPOLL_CLOEXEC)) {
        if (epoll_ < 0) throw std::runtime_error("epoll_create1 failed");
        members_.resize(size);
        for (std::size_t i = 0; i < size; ++i) {
            Member& m = members_[i];
            Crypto::random(m.key);
            m.public_key = wireguard::StaticIdentity<Crypto>::from_private(m.key)->public_key;
            m.inner = inner_address(i);
            wireguard::Config config;
            config.interface.private_key = m.key;
            config.interface.has_private_key = true;
            wireguard::PeerSettings to_listener;
            to_listener.public_key = listener_public;
            to_listener.endpoint = listener;
            to_listener.allowed_ips = {wireguard::IpPrefix{listener_inner(), 32}};
            config.interface.peers.push_back(to_listener);
            m.engine = std::make_unique<Engine>(Role::client, config);
            m.fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
            if (m.fd < 0) throw std::runtime_error("socket failed (raise the descriptor limit for this many peers)");
            sockaddr_in address{};
            address.sin_family = AF_INET;
            address.sin_addr.s_addr = htonl(0x7f010000u | static_cast<std::uint32_t>(i + 1));
            if (::bind(m.fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0)
                throw std::runtime_error("cannot bind 127.1.x.y");
            epoll_event event{};
            event.events = EPOLLIN;
            event.data.u64 = i;
            ::epoll_ctl(epoll_, EPOLL_CTL_ADD, m.fd, &event);
        }
    }
    ~WireGuardCrowd() {
        for (auto& m : members_)
            if (m.fd >= 0) ::close(m.fd);
        ::close(epoll_);
    }
    WireGuardCrowd(const WireGuardCrowd&) = delete;
    WireGuardCrowd& operator=(const WireGuardCrowd&) = delete;

    std::size_t size() const { return members_.size(); }
    Member& member(std::size_t i) { return members_[i]; }

    /// Called with each completed handshake's latency (initiation to session).
    std::function<void(std::size_t peer, std::chrono::nanoseconds latency)> on_handshake;
    /// Called with each inner packet a peer receives.
    std::function<void(std::size_t peer, ByteView packet)> on_packet;

    /// Starts peer i's first handshake (or a new one: a rekey) now.
    void initiate(std::size_t i) {
        Member& m = members_[i];
        const auto now = SteadyClock::now();
        m.handshake_started = now;
        if (m.handshakes_seen == 0 && !m.engine->has_session(0) && m.engine->statistics(0).handshake_initiations_sent == 0)
            (void)m.engine->start(now);
        else
            m.engine->initiate_handshake(0, now);
        flush(i);
    }

    /// Sends one inner packet from peer i (staged by the engine until its session exists).
    std::error_code send(std::size_t i, ByteView packet) {
        auto ec = members_[i].engine->send(packet, SteadyClock::now());
        flush(i);
        return ec;
    }

    /// Drives every peer until `done()` or the deadline; true when done.
    bool run_until(const std::function<bool()>& done, SteadyClock::time_point deadline) {
        std::vector<epoll_event> events(256);
        std::array<std::uint8_t, 2048> buffer{};
        auto next_sweep = SteadyClock::now();
        while (!done()) {
            const auto now = SteadyClock::now();
            if (now >= deadline) return false;
            if (now >= next_sweep) {
                // Timers (retransmissions after a lost or cookie-answered initiation,
                // keepalives): a sweep every 5 ms is plenty for seconds-long timers.
                for (std::size_t i = 0; i < members_.size(); ++i) {
                    auto t = members_[i].engine->next_timeout();
                    if (t && *t <= now) {
                        (void)members_[i].engine->on_timeout(now);
                        flush(i);
                    }
                }
                next_sweep = now + std::chrono::milliseconds(5);
            }
            const int n = ::epoll_wait(epoll_, events.data(), static_cast<int>(events.size()), 5);
            for (int e = 0; e < n; ++e) {
                const std::size_t i = events[static_cast<std::size_t>(e)].data.u64;
                Member& m = members_[i];
                for (;;) {
                    sockaddr_storage from{};
                    socklen_t from_size = sizeof from;
                    const ssize_t got = ::recvfrom(m.fd, buffer.data(), buffer.size(), 0, reinterpret_cast<sockaddr*>(&from), &from_size);
                    if (got < 0) break;
                    auto source = Endpoint::from_sockaddr(reinterpret_cast<sockaddr*>(&from), from_size);
                    if (!source) continue;
                    (void)m.engine->receive(ByteView(buffer.data(), static_cast<std::size_t>(got)), *source, SteadyClock::now());
                    after_receive(i);
                }
            }
        }
        return true;
    }

    /// Handshakes completed by all peers together.
    std::uint64_t handshakes() const {
        std::uint64_t n = 0;
        for (const auto& m : members_) n += m.handshakes_seen;
        return n;
    }
    std::uint64_t cookie_replies_received() const {
        std::uint64_t n = 0;
        for (const auto& m : members_) n += m.engine->statistics(0).cookie_replies_received;
        return n;
    }

private:
    void after_receive(std::size_t i) {
        Member& m = members_[i];
        const auto completed = m.engine->statistics(0).handshakes_completed;
        if (completed > m.handshakes_seen) {
            m.handshakes_seen = completed;
            const auto started = m.handshake_started;
            m.handshake_started.reset();  // (on_handshake may start the next one)
            if (started && on_handshake) on_handshake(i, SteadyClock::now() - *started);
        }
        while (auto packet = m.engine->poll_plaintext())
            if (on_packet) on_packet(i, *packet);
        while (m.engine->poll_event()) {
        }
        flush(i);
    }
    void flush(std::size_t i) {
        Member& m = members_[i];
        while (auto t = m.engine->poll_transmit(MutableByteView(out_))) {
            if (!t->to) continue;
            (void)::sendto(m.fd, out_.data(), t->size, 0, t->to->sockaddr_ptr(), t->to->sockaddr_length());
        }
    }

    int epoll_;
    std::vector<Member> members_;
    std::vector<std::uint8_t> out_ = std::vector<std::uint8_t>(max_transmit_size);
};

}  // namespace tapsec::test
