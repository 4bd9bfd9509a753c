// The concurrent datagram server behind `tapsec listen dtls12 --echo|--rev|--www` and
// `tapsec listen dtls-srtp --echo`: every peer at once on ONE UDP socket, in one thread.
// It drives the sans-I/O engines directly from a ppoll() loop (the engine contract:
// receive / poll_transmit / next_timeout), so nothing in it blocks on one peer:
//   - datagrams are routed by the peer's address (the 5-tuple: one local socket) to that
//     peer's engine;
//   - a new source gets no state: one stateless responder engine answers its ClientHello
//     with a HelloVerifyRequest cookie (RFC 6347 4.2.1). Every engine of the server shares
//     one cookie key (botan_tls::Config::dtls_cookie_secret), so a cookie stays valid
//     whichever engine checks it. When a cookie returns, the responder has bound itself
//     to that address: it becomes the peer's engine and a fresh responder takes its place;
//   - at most --max-pending peers in their handshake (the oldest is dropped at the cap,
//     with a counted line), at most --max-conns peers (more are refused, counted line),
//     a handshake deadline (--handshake-timeout) and an idle timeout (--idle-timeout,
//     close_notify then forget);
//   - a peer's failure is one line on stderr with its address; it never stops the server;
//   - SIGTERM / SIGINT: close_notify to every established peer, exit 0.
// One thread: datagrams need no accept(), and one socket keeps the routing exact (with
// SO_REUSEPORT the kernel could hash a peer's datagrams to another thread's socket only
// if its 5-tuple changed, which DTLS 1.2 without connection IDs does not survive anyway).
// Timers are found by a scan of the peers at each wake-up: fine for thousands of peers.
#pragma once

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <functional>
#include <list>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <tapsec/botan_tls/config.hpp>
#include <tapsec/core/endpoint.hpp>
#include <tapsec/core/engine.hpp>
#include <tapsec/crypto/botan.hpp>
#include <tapsec/dtls/wire.hpp>

#include "registry.hpp"
#include "server_limits.hpp"
#include "server_modes.hpp"

namespace tapsec::cli {

/// The options of the datagram server.
struct DatagramServerOptions : ServerLimits {
    std::chrono::milliseconds idle_timeout = std::chrono::seconds(120);
};

inline constexpr const char* datagram_server_usage =
    "concurrent datagram server (--echo, --rev, --www; stdin/stdout mode serves one peer, it has one stdin):\n"
    "  every peer at once on one UDP socket, one thread; a new address is answered statelessly\n"
    "  (HelloVerifyRequest cookie) and gets state only when its cookie returns\n"
    "  --forever             serve until SIGTERM / SIGINT (then close_notify to every peer, exit 0)\n"
    "                        instead of exiting after --naccept N peers (default 1) have been served\n"
    "  --handshake-timeout S seconds a peer whose cookie returned may take to finish (default 5)\n"
    "  --idle-timeout S      an established peer silent for S seconds is closed (default 120)\n"
    "  --max-pending N       peers in their handshake (default 1024); at the cap the oldest is\n"
    "                        dropped, with a counted line\n"
    "  --max-conns N         peers at once (default 10000); more are refused, with a counted line\n";

/// Takes the datagram server's options; `timeout_option` is --handshake-timeout when given.
inline std::string take_datagram_server_options(Arguments& args, DatagramServerOptions& out,
                                                std::optional<std::chrono::milliseconds> timeout_option) {
    if (args.take("--threads")) return "--threads: a datagram listener serves every peer from one thread and one socket";
    if (auto idle = args.take_seconds("--idle-timeout")) out.idle_timeout = *idle;
    return take_server_limits(args, out, timeout_option);
}

/// What the protocol's command adds to the generic server.
template <class Engine>
struct DatagramServerHooks {
    std::string label;        // "DTLS 1.2": error lines name it
    std::string composition;  // the --www page's first line
    /// The line printed after a handshake (unless --quiet); empty: none.
    std::function<std::string(Engine&)> established_line;
    /// Largest plaintext one send() takes (a longer reply goes out in pieces).
    std::size_t max_send = 16384;
};

namespace datagram_server_detail {

inline volatile std::sig_atomic_t stop_signal = 0;
inline void on_stop_signal(int number) { stop_signal = number; }

inline std::string format_seconds(std::chrono::milliseconds ms) {
    char text[32];
    std::snprintf(text, sizeof text, "%g", std::chrono::duration<double>(ms).count());
    return text;
}

}  // namespace datagram_server_detail

/// Serves `mode` on [address]:port until --naccept peers ended or a signal came. Returns
/// the exit status: 0 after a signal, or when every peer ended cleanly.
template <class Engine>
class DatagramServer {
public:
    DatagramServer(botan_tls::Config config, ServerMode mode, DatagramServerOptions options, DatagramServerHooks<Engine> hooks)
        : config_(std::move(config)), mode_(mode), options_(options), hooks_(std::move(hooks)) {
        // One cookie key for every engine of this socket (see the top of this file).
        SecretBytes secret(32);
        crypto::Botan2::random(MutableByteView(secret));
        config_.dtls_cookie_secret = std::make_shared<const SecretBytes>(std::move(secret));
        config_.handshake_timeout = options_.handshake_timeout;
        config_.accept_handshake_timeout = options_.handshake_timeout;
    }

    ~DatagramServer() {
        if (socket_ >= 0) ::close(socket_);
    }
    DatagramServer(const DatagramServer&) = delete;
    DatagramServer& operator=(const DatagramServer&) = delete;

    int run(const std::string& address, std::uint16_t port) {
        const auto local = Endpoint::parse(address == "localhost" ? "127.0.0.1" : address, port);
        if (!local) return fail("cannot listen on " + address + ": not a numeric address");
        if (auto error = open_socket(*local); !error.empty())
            return fail("cannot listen on " + address + ":" + std::to_string(port) + ": " + error);
        sockaddr_storage bound{};
        socklen_t bound_length = sizeof bound;
        ::getsockname(socket_, reinterpret_cast<sockaddr*>(&bound), &bound_length);
        const auto bound_endpoint = Endpoint::from_sockaddr(reinterpret_cast<sockaddr*>(&bound), bound_length);
        if (!options_.quiet)
            std::fprintf(stderr, "tapsec: listening on %s:%u (%s, datagrams, one thread)\n", address.c_str(),
                         bound_endpoint ? bound_endpoint->port() : port, hooks_.label.c_str());
        std::fflush(stderr);
        responder_storage_.emplace(fresh_engine());

        // SIGTERM / SIGINT are blocked except inside ppoll(), so that a signal is seen at
        // the next wait and never between a check and the wait.
        sigset_t stop_set, wait_mask;
        sigemptyset(&stop_set);
        sigaddset(&stop_set, SIGTERM);
        sigaddset(&stop_set, SIGINT);
        sigprocmask(SIG_BLOCK, &stop_set, &wait_mask);
        sigdelset(&wait_mask, SIGTERM);
        sigdelset(&wait_mask, SIGINT);
        struct sigaction action{};
        action.sa_handler = datagram_server_detail::on_stop_signal;
        sigemptyset(&action.sa_mask);
        ::sigaction(SIGTERM, &action, nullptr);
        ::sigaction(SIGINT, &action, nullptr);

        for (;;) {
            if (datagram_server_detail::stop_signal) {
                stop_gracefully(datagram_server_detail::stop_signal);
                break;
            }
            if (!accepting_ && peers_.empty()) break;
            pollfd fd{socket_, POLLIN, 0};
            const auto wait = time_to_next_deadline(Clock::now());
            timespec ts{};
            if (wait) {
                const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(*wait).count();
                ts.tv_sec = static_cast<time_t>(ns / 1'000'000'000);
                ts.tv_nsec = static_cast<long>(ns % 1'000'000'000);
            }
            const int ready = ::ppoll(&fd, 1, wait ? &ts : nullptr, &wait_mask);
            if (ready < 0 && errno != EINTR) return fail(std::string("poll failed: ") + std::strerror(errno));
            if (ready > 0) receive_datagrams();
            run_timers(Clock::now());
        }
        if (!options_.quiet && (dropped_pending_ || refused_))
            std::fprintf(stderr, "tapsec: %llu peers dropped in their handshake (--max-pending), %llu refused (--max-conns)\n",
                         static_cast<unsigned long long>(dropped_pending_), static_cast<unsigned long long>(refused_));
        if (signalled_) return 0;
        return failed_ == 0 ? 0 : 1;
    }

    // For tests and the summary: what the server did.
    std::uint64_t failed() const { return failed_; }

private:
    struct Peer {
        Peer(Endpoint a, Engine e, Instant now) : address(std::move(a)), engine(std::move(e)), last_heard(now) {}
        Endpoint address;
        Engine engine;
        Instant handshake_deadline{};
        Instant last_heard;
        bool established = false;
        bool done = false;  // to be forgotten after this round
        std::unique_ptr<Responder> responder;  // made at the first plaintext: an idle peer holds none
        typename std::list<Peer*>::iterator pending_at;
        std::array<std::uint8_t, 32> client_random{};  // of the ClientHello that bound it (RFC 6347 4.2.8)
    };

    Engine fresh_engine() { return Engine(Role::server, config_); }

    std::string open_socket(const Endpoint& local) {
        socket_ = ::socket(local.sockaddr_ptr()->sa_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (socket_ < 0) return std::strerror(errno);
        // A larger receive buffer: a burst of handshakes arrives at once.
        const int size = 4 << 20;
        ::setsockopt(socket_, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
        if (::bind(socket_, local.sockaddr_ptr(), local.sockaddr_length()) != 0) return std::strerror(errno);
        return {};
    }

    void line(const std::string& text) { std::fprintf(stderr, "tapsec: %s\n", text.c_str()); }

    void receive_datagrams() {
        // A bounded batch per wake-up, so that timers run even under a flood.
        for (int i = 0; i < 512; ++i) {
            sockaddr_storage from{};
            socklen_t from_length = sizeof from;
            const ssize_t n = ::recvfrom(socket_, buffer_.data(), buffer_.size(), 0, reinterpret_cast<sockaddr*>(&from), &from_length);
            if (n < 0) return;  // EAGAIN: drained (errors on UDP are per datagram: nothing to do)
            const auto source = Endpoint::from_sockaddr(reinterpret_cast<sockaddr*>(&from), from_length);
            if (!source) continue;
            on_datagram(*source, ByteView(buffer_.data(), static_cast<std::size_t>(n)), Clock::now());
        }
    }

    void on_datagram(const Endpoint& from, ByteView datagram, Instant now) {
        auto known = peers_.find(from);
        // RFC 6347 4.2.8: a ClientHello from a known peer's address with another random is
        // a new client there (a restarted one, or another on a reused port; the peer's own
        // retransmissions repeat its random, RFC 6347 4.2.1): it goes through the cookie
        // exchange, and the old association gives way only when the new cookie returns.
        const auto random = client_hello_random(datagram);
        const bool restarts = known != peers_.end() && accepting_ && random && *random != known->second->client_random;
        if (known != peers_.end() && !restarts) {
            Peer& peer = *known->second;
            peer.last_heard = now;
            after_engine_call(peer, peer.engine.receive(datagram, from, now), now);
            forget_if_done(known);
            return;
        }
        if (!accepting_) return;  // --naccept reached: new addresses are not answered
        Engine& responder = *responder_storage_;
        const auto ec = responder.receive(datagram, from, now);
        if (!responder.bound_peer()) {
            // Not a returned cookie: a HelloVerifyRequest to send, or a drop. No state kept.
            send_transmits(responder, from);
            while (responder.poll_event()) {
            }
            if (ec || responder.is_closed()) responder_storage_.emplace(fresh_engine());
            return;
        }
        // The cookie came back: the responder is now this peer's engine.
        Engine engine = std::move(responder);
        responder_storage_.emplace(fresh_engine());
        if (restarts) {
            if (!options_.quiet) line(from.to_string() + ": a new handshake from this address: the previous connection is forgotten");
            erase(known);
        }
        if (peers_.size() >= options_.max_conns) {
            ++refused_;
            line(from.to_string() + ": refused: " + std::to_string(options_.max_conns) + " peers open (--max-conns); " +
                 std::to_string(refused_) + " refused so far");
            return;
        }
        if (options_.naccept && ++accepted_ >= options_.naccept) accepting_ = false;
        if (pending_.size() >= options_.max_pending) drop_oldest_pending();
        auto inserted = peers_.emplace(from, std::make_unique<Peer>(from, std::move(engine), now)).first;
        Peer& peer = *inserted->second;
        if (random) peer.client_random = *random;
        peer.handshake_deadline = now + options_.handshake_timeout;
        peer.pending_at = pending_.insert(pending_.end(), &peer);
        after_engine_call(peer, ec, now);
        forget_if_done(inserted);
    }

    using Random = std::array<std::uint8_t, 32>;

    /// The client random of a datagram that opens with an epoch-0 record holding the start
    /// of a ClientHello (RFC 6347 4.1 and 4.2.2: record header, handshake header, then
    /// client_version and random); none for anything else.
    static std::optional<Random> client_hello_random(ByteView datagram) {
        constexpr std::size_t at = dtls::record_header_size + dtls::handshake_header_size + 2;
        if (datagram.size() < at + 32 || datagram[0] != static_cast<std::uint8_t>(dtls::ContentType::handshake) ||
            datagram[3] != 0 || datagram[4] != 0 || datagram[dtls::record_header_size] != dtls::client_hello_type)
            return std::nullopt;
        const std::size_t offset = dtls::record_header_size + 6;  // fragment_offset: the start of the message only
        if (datagram[offset] != 0 || datagram[offset + 1] != 0 || datagram[offset + 2] != 0) return std::nullopt;
        Random random;
        std::copy_n(datagram.begin() + at, random.size(), random.begin());
        return random;
    }

    void drop_oldest_pending() {
        Peer* oldest = pending_.front();
        ++dropped_pending_;
        line(oldest->address.to_string() + ": dropped in its handshake: " + std::to_string(options_.max_pending) +
             " peers pending (--max-pending); " + std::to_string(dropped_pending_) + " dropped so far");
        forget(*oldest);
    }

    /// What follows every call into a peer's engine: a failure is the peer's one line;
    /// else the handshake's end, the plaintexts through the server mode, the datagrams out.
    void after_engine_call(Peer& peer, std::error_code ec, Instant now) {
        if (!ec && !peer.established && peer.engine.is_established()) {
            peer.established = true;
            pending_.erase(peer.pending_at);
            if (!options_.quiet && hooks_.established_line)
                if (auto text = hooks_.established_line(peer.engine); !text.empty()) line(peer.address.to_string() + ": " + text);
        }
        if (!ec && peer.established) ec = answer_plaintexts(peer, now);
        send_transmits(peer.engine, peer.address);
        while (peer.engine.poll_event()) {
        }
        if (ec) {
            ++failed_;
            const std::string detail = peer.engine.failure_detail();
            line(peer.address.to_string() + ": " + hooks_.label + (peer.established ? ": " : " handshake failed: ") +
                 ec.message() + (detail.empty() || detail == ec.message() ? "" : " (" + detail + ")"));
            peer.done = true;
        } else if (peer.engine.is_closed()) {
            peer.done = true;  // the peer's close_notify (answered by the engine), or ours
        }
    }

    std::error_code answer_plaintexts(Peer& peer, Instant now) {
        while (auto plaintext = peer.engine.poll_plaintext()) {
            if (!peer.responder) peer.responder = make_responder(mode_, peer.engine.session_info(), hooks_.composition);
            reply_.clear();
            const bool we_close = peer.responder->on_data(*plaintext, reply_);
            for (std::size_t at = 0; at < reply_.size(); at += hooks_.max_send) {
                const std::size_t n = std::min(hooks_.max_send, reply_.size() - at);
                if (auto ec = peer.engine.send(ByteView(reply_.data() + at, n), now)) return ec;
            }
            if (we_close) {
                peer.engine.close(now);
                return {};
            }
        }
        return {};
    }

    /// Every datagram the engine has queued, to its address (a HelloVerifyRequest names
    /// its own) or the peer's. A full socket buffer drops the datagram, as the network
    /// may: DTLS retransmits its flights, and no peer waits for another.
    void send_transmits(Engine& engine, const Endpoint& peer) {
        while (auto out = engine.poll_transmit(MutableByteView(buffer_.data(), buffer_.size()))) {
            const Endpoint& to = out->to ? *out->to : peer;
            if (::sendto(socket_, buffer_.data(), out->size, 0, to.sockaddr_ptr(), to.sockaddr_length()) < 0) ++send_drops_;
        }
    }

    /// The time until the nearest deadline of any peer (none: wait for datagrams only).
    std::optional<std::chrono::nanoseconds> time_to_next_deadline(Instant now) const {
        std::optional<Instant> next;
        auto consider = [&](std::optional<Instant> t) {
            if (t && (!next || *t < *next)) next = t;
        };
        for (const auto& [key, peer] : peers_) {
            consider(peer->engine.next_timeout());
            consider(peer->established ? peer->last_heard + options_.idle_timeout : peer->handshake_deadline);
        }
        if (!next) return std::nullopt;
        if (*next <= now) return std::chrono::nanoseconds(0);
        return *next - now + std::chrono::milliseconds(1);  // ppoll rounds down: wake after it, not before
    }

    void run_timers(Instant now) {
        for (auto it = peers_.begin(); it != peers_.end();) {
            Peer& peer = *it->second;
            if (!peer.established && peer.handshake_deadline <= now) {
                ++failed_;
                line(peer.address.to_string() + ": " + hooks_.label + " handshake timed out after " +
                     datagram_server_detail::format_seconds(options_.handshake_timeout) + " s (--handshake-timeout)");
                peer.done = true;
            } else if (peer.established && peer.last_heard + options_.idle_timeout <= now) {
                if (!options_.quiet)
                    line(peer.address.to_string() + ": idle for " + datagram_server_detail::format_seconds(options_.idle_timeout) +
                         " s: closed (--idle-timeout)");
                peer.engine.close(now);
                send_transmits(peer.engine, peer.address);
                peer.done = true;
            } else if (auto t = peer.engine.next_timeout(); t && *t <= now) {
                after_engine_call(peer, peer.engine.on_timeout(now), now);
            }
            it = peer.done ? erase(it) : std::next(it);
        }
    }

    void stop_gracefully(int signal_number) {
        signalled_ = true;
        accepting_ = false;
        if (!options_.quiet) std::fprintf(stderr, "tapsec: %s: closing every connection\n", ::strsignal(signal_number));
        const Instant now = Clock::now();
        for (auto& [key, peer] : peers_) {
            if (!peer->established) continue;  // a pending handshake is simply dropped
            peer->engine.close(now);
            send_transmits(peer->engine, peer->address);
        }
        while (!peers_.empty()) erase(peers_.begin());
    }

    // Keyed by the address itself (its sockaddr bytes), so routing a datagram formats no string.
    struct AddressHash {
        std::size_t operator()(const Endpoint& e) const noexcept {
            return hash_bytes(ByteView(reinterpret_cast<const std::uint8_t*>(e.sockaddr_ptr()), e.sockaddr_length()));
        }
    };
    using PeerMap = std::unordered_map<Endpoint, std::unique_ptr<Peer>, AddressHash>;

    void forget_if_done(typename PeerMap::iterator it) {
        if (it->second->done) erase(it);
    }
    void forget(Peer& peer) { erase(peers_.find(peer.address)); }
    typename PeerMap::iterator erase(typename PeerMap::iterator it) {
        if (!it->second->established) pending_.erase(it->second->pending_at);
        return peers_.erase(it);
    }

    botan_tls::Config config_;
    ServerMode mode_;
    DatagramServerOptions options_;
    DatagramServerHooks<Engine> hooks_;
    int socket_ = -1;
    std::optional<Engine> responder_storage_;  // made in run(), with the server's config
    PeerMap peers_;
    std::list<Peer*> pending_;  // in their handshake, oldest first
    bool accepting_ = true;
    bool signalled_ = false;
    std::uint64_t accepted_ = 0, failed_ = 0, dropped_pending_ = 0, refused_ = 0, send_drops_ = 0;
    std::array<std::uint8_t, max_transmit_size> buffer_{};
    Bytes reply_;
};

}  // namespace tapsec::cli
