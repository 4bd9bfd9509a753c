// The concurrent datagram server behind `tapsec listen dtls12|dtls-srtp|curvecp|minimalt|zrtp
// --echo ...`: every peer at once, on one UDP socket per thread (--threads N, SO_REUSEPORT
// on one port). Each worker drives the sans-I/O engines directly from its own ppoll() loop
// (the engine contract: receive / poll_transmit / next_timeout), so nothing in it blocks on
// one peer. The loop, the peer table, the limits, the timers and the signals are here once;
// each protocol supplies a small policy (see "The protocol's part" below): its engine
// factory, how a datagram names its peer, and whether a datagram may create state.
//   - datagrams are routed by the key the protocol reads from them (DTLS and ZRTP: the
//     source address; CurveCP: the client's short-term key; MinimaLT: the tunnel ID) to
//     that peer's engine;
//   - with several threads the kernel hashes a datagram's 4-tuple to one of the sockets, so
//     an address-routed peer always reaches its worker; a key-routed peer whose address
//     changed may land on another worker, which hands the datagram to the owner (a routing
//     table key -> worker under a mutex, a bounded queue and an eventfd per worker);
//   - a datagram for no known peer goes to ONE responder engine of its worker. Where the
//     protocol has a stateless cookie (DTLS's HelloVerifyRequest, CurveCP's Cookie,
//     MinimaLT's puzzle), the responder answers it and keeps nothing; only when the
//     protocol says the responder now holds a peer (a returned cookie) does it become that
//     peer's engine, and a fresh responder takes its place. The engines of a worker share
//     the cookie key (the policy's factory sees to it), so a cookie stays valid whichever
//     engine checks it; the cookie's return comes from the same 4-tuple, hence the same worker
//     (a policy whose shared cookie state is not thread-safe separates it per worker);
//   - at most --max-pending peers in their handshake (split over the workers; the oldest is
//     dropped at the cap, with a counted line), at most --max-conns peers (over all workers;
//     more are refused, counted line), a handshake deadline (--handshake-timeout) and an idle
//     timeout (--idle-timeout, the protocol's close, then forget);
//   - a peer's failure is one line on stderr with its address; it never stops the server;
//   - SIGTERM / SIGINT: every worker sends the protocol's close to each of its established
//     peers; the loops go on (no new peers) until each close is delivered or stop_linger
//     passed, so a close that is paced or lost is retransmitted; a second signal ends at
//     once; exit 0.
// Timers are found by a scan of the worker's peers at each wake-up: fine for thousands.
#pragma once

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <deque>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <type_traits>
#include <unordered_map>
#include <vector>

#include <poll.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <tapsec/core/endpoint.hpp>
#include <tapsec/core/engine.hpp>

#include "registry.hpp"
#include "server_limits.hpp"
#include "server_modes.hpp"

namespace tapsec::cli {

/// The options of the datagram server.
struct DatagramServerOptions : ServerLimits {
    std::chrono::milliseconds idle_timeout = std::chrono::seconds(120);
    // One by default: a datagram worker is cheap per peer, one thread keeps --max-pending
    // exact, and on a machine whose cores the clients share a second one gains little (see
    // docs/async.md for the numbers); --threads N for a server with cores to spare.
    unsigned threads = 1;
};

inline constexpr const char* datagram_server_usage =
    "concurrent datagram server (--echo, --rev, --www; stdin/stdout mode serves one peer, it has one stdin):\n"
    "  every peer at once; a new peer is answered statelessly (the protocol's cookie, where it\n"
    "  has one) and gets state only when its cookie returns\n"
    "  --threads N           threads, each with its own SO_REUSEPORT socket on the port (default 1);\n"
    "                        a CurveCP / MinimaLT peer that moves is handed to its thread\n"
    "  --forever             serve until SIGTERM / SIGINT (then the protocol's close to every peer,\n"
    "                        delivered or given up after 2 s; a second signal ends at once; exit 0)\n"
    "                        instead of exiting after --naccept N peers (default 1) were served\n"
    "  --handshake-timeout S seconds a peer with state may take to finish its handshake (default 5)\n"
    "  --idle-timeout S      an established peer silent for S seconds is closed (default 120)\n"
    "  --max-pending N       peers in their handshake (default 1024, split over the threads); at the\n"
    "                        cap the oldest is dropped, with a counted line\n"
    "  --max-conns N         peers at once (default 10000); more are refused, with a counted line\n";

/// Takes the datagram server's options; `timeout_option` is --handshake-timeout when given.
inline std::string take_datagram_server_options(Arguments& args, DatagramServerOptions& out,
                                                std::optional<std::chrono::milliseconds> timeout_option) {
    if (auto n = args.take_uint("--threads", 1, 256)) out.threads = static_cast<unsigned>(*n);
    if (auto idle = args.take_seconds("--idle-timeout")) out.idle_timeout = *idle;
    return take_server_limits(args, out, timeout_option);
}

// The protocol's part: a policy class P with
//   using Engine;                 the server's sans-I/O engine (never moved: held by pointer)
//   using Key;                    what names a peer (an Endpoint, or a byte array), with
//                                 operator== and a hash_peer_key() overload
//   using Note;                   what the server keeps of the datagram that created a peer
//   std::string label;            "DTLS 1.2": error lines name it
//   std::string composition;      the --www page's first line
//   std::size_t max_send;         largest plaintext one send() takes
//   std::unique_ptr<Engine> make_engine();              a fresh server engine
//   std::optional<Key> peer_key(ByteView, const Endpoint& from);
//                                 the peer a datagram names (none: only the responder
//                                 can take it, e.g. a CurveCP Hello)
//   bool holds_peer(Engine& responder);
//                                 "may this datagram create state?": after the responder
//                                 took a datagram, whether it now holds a peer
//   (or, for a protocol with no stateless exchange, bool admits(ByteView datagram): whether
//    a datagram from a stranger opens the protocol and gets an engine at once; no responder)
//   Key key_of_new_peer(Engine& responder, ByteView, const Endpoint& from);
//   Note note(ByteView datagram);
//   bool starts_anew(ByteView datagram, const Note& note);
//                                 a datagram for a known peer that opens a new handshake
//                                 there (DTLS: a ClientHello with another random): it goes
//                                 to the responder, and replaces the peer if it completes
//   std::string established_line(Engine&);   after a handshake (empty: no line)
// and, where the protocol needs them:
//   bool peer_finished(Engine&);  the peer ended its stream: an answering server ends its
//                                 own (CurveCP, MinimaLT's connection)
//   std::error_code end_stream(Engine&, Instant);  how it does (default: the protocol's close)
//   std::error_code close(Engine&, Instant);   the protocol's close (default engine.close)
//   std::optional<std::uint64_t> sequence(ByteView);  and  std::uint64_t dropped(Engine&);
//                                 the peer's packet counter in a datagram, and the engine's
//                                 drop count: a late authenticated datagram from an address
//                                 the peer has left does not move it back (CurveCP's nonce)
//   std::optional<Key> next_key(Engine&);      a further key the peer's datagrams may carry
//                                 from now on (MinimaLT: the tunnel ID after its rekey)
//   bool close_delivered(Engine&);  after a signal, when our close has reached the peer
//                                 (CurveCP: our end acknowledged; default engine.is_closed())

inline std::size_t hash_peer_key(const Endpoint& e) noexcept {
    // The address itself (its sockaddr bytes): routing a datagram formats no string.
    return hash_bytes(ByteView(reinterpret_cast<const std::uint8_t*>(e.sockaddr_ptr()), e.sockaddr_length()));
}
template <std::size_t N>
std::size_t hash_peer_key(const std::array<std::uint8_t, N>& key) noexcept {
    return hash_bytes(ByteView(key.data(), key.size()));
}
inline std::size_t hash_peer_key(std::uint64_t id) noexcept { return std::hash<std::uint64_t>{}(id); }

namespace datagram_server_detail {

inline constexpr unsigned max_threads = 256;
inline volatile std::sig_atomic_t stop_signal = 0;
inline volatile std::sig_atomic_t stop_signals = 0;  // a second one ends at once
// The workers' eventfds: a signal runs its handler on one thread, every worker must wake.
inline int wake_fds[max_threads];
inline volatile std::sig_atomic_t wake_count = 0;
inline void wake(int fd) {
    const std::uint64_t one = 1;
    const ssize_t written = ::write(fd, &one, sizeof one);  // async-signal-safe; a full counter is awake anyway
    (void)written;
}
inline void on_stop_signal(int number) {
    stop_signal = number;
    stop_signals = stop_signals + 1;
    for (int i = 0; i < wake_count; ++i) wake(wake_fds[i]);
}

inline std::string format_seconds(std::chrono::milliseconds ms) {
    char text[32];
    std::snprintf(text, sizeof text, "%g", std::chrono::duration<double>(ms).count());
    return text;
}

}  // namespace datagram_server_detail

/// Serves `mode` on [address]:port until --naccept peers ended or a signal came. Returns
/// the exit status: 0 after a signal, or when every peer ended cleanly.
template <class Protocol>
class DatagramServer {
    using Engine = typename Protocol::Engine;
    using Key = typename Protocol::Key;
    using Note = typename Protocol::Note;
    // Address-routed protocols (DTLS, DTLS-SRTP, ZRTP) get every datagram of a peer on the
    // peer's worker from the kernel (SO_REUSEPORT hashes the 4-tuple to one socket);
    // key-routed ones (CurveCP's C', MinimaLT's tunnel ID) keep their peer when the
    // address changes, so a datagram may land on another worker: the routing table.
    static constexpr bool routes_by_key = !std::is_same_v<Key, Endpoint>;
    struct KeyHash {
        std::size_t operator()(const Key& key) const noexcept { return hash_peer_key(key); }
    };
    class Worker;

public:
    DatagramServer(Protocol protocol, ServerMode mode, DatagramServerOptions options)
        : protocol_(std::move(protocol)), mode_(mode), options_(options) {
        options_.threads = std::clamp(options_.threads, 1u, datagram_server_detail::max_threads);
    }
    DatagramServer(const DatagramServer&) = delete;
    DatagramServer& operator=(const DatagramServer&) = delete;

    int run(const std::string& address, std::uint16_t port) {
        const auto local = Endpoint::parse(address == "localhost" ? "127.0.0.1" : address, port);
        if (!local) return fail("cannot listen on " + address + ": not a numeric address");
        const unsigned threads = options_.threads;
        workers_.reserve(threads);
        Endpoint bind_to = *local;
        for (unsigned i = 0; i < threads; ++i) {
            Protocol copy = protocol_;
            // Per-worker state a protocol cannot share across threads (see its policy).
            if constexpr (requires { copy.separate_for_worker(threads); })
                if (threads > 1) copy.separate_for_worker(threads);
            workers_.push_back(std::make_unique<Worker>(*this, std::move(copy)));
            if (auto error = workers_.back()->open(bind_to, threads > 1); !error.empty())
                return fail("cannot listen on " + address + ":" + std::to_string(port) + ": " + error);
            bind_to = workers_.back()->bound();  // the next workers share the port (0: the one given)
        }
        if (!options_.quiet) {
            const std::string how = threads == 1 ? "one thread" : std::to_string(threads) + " threads";
            std::fprintf(stderr, "tapsec: listening on %s:%u (%s, datagrams, %s)\n", address.c_str(), bind_to.port(),
                         protocol_.label.c_str(), how.c_str());
        }
        std::fflush(stderr);

        // SIGTERM / SIGINT are blocked except inside ppoll() (every thread inherits the
        // mask), so that a signal is seen at the next wait and never between a check and
        // the wait; the handler wakes every worker, whichever thread it ran on.
        sigset_t stop_set, wait_mask;
        sigemptyset(&stop_set);
        sigaddset(&stop_set, SIGTERM);
        sigaddset(&stop_set, SIGINT);
        pthread_sigmask(SIG_BLOCK, &stop_set, &wait_mask);
        sigdelset(&wait_mask, SIGTERM);
        sigdelset(&wait_mask, SIGINT);
        for (unsigned i = 0; i < threads; ++i) datagram_server_detail::wake_fds[i] = workers_[i]->wake_fd();
        datagram_server_detail::wake_count = static_cast<int>(threads);
        struct sigaction action{};
        action.sa_handler = datagram_server_detail::on_stop_signal;
        sigemptyset(&action.sa_mask);
        ::sigaction(SIGTERM, &action, nullptr);
        ::sigaction(SIGINT, &action, nullptr);

        std::vector<int> statuses(threads, 0);
        std::vector<std::thread> others;
        for (unsigned i = 1; i < threads; ++i)
            others.emplace_back([this, i, &statuses, &wait_mask] { statuses[i] = workers_[i]->run(wait_mask); });
        statuses[0] = workers_[0]->run(wait_mask);
        for (auto& t : others) t.join();
        if (!options_.quiet && threads > 1) {
            std::string counts;
            for (auto& worker : workers_) counts += " " + std::to_string(worker->peers_made());
            std::fprintf(stderr, "tapsec: peers per thread:%s\n", counts.c_str());
        }
        // The sockets close only now: one closed early would change the kernel's reuseport
        // hash and move the other workers' peers. A late signal writes no closed eventfd.
        datagram_server_detail::wake_count = 0;
        workers_.clear();

        if (!options_.quiet && (dropped_pending_ || refused_))
            std::fprintf(stderr, "tapsec: %llu peers dropped in their handshake (--max-pending), %llu refused (--max-conns)\n",
                         static_cast<unsigned long long>(dropped_pending_.load()), static_cast<unsigned long long>(refused_.load()));
        if (!options_.quiet && (handed_off_ || handoff_drops_))
            std::fprintf(stderr, "tapsec: %llu datagrams handed to the thread holding their peer (%llu dropped: its queue was full)\n",
                         static_cast<unsigned long long>(handed_off_.load()), static_cast<unsigned long long>(handoff_drops_.load()));
        for (int status : statuses)
            if (status) return status;
        if (signalled_) return 0;
        return failed_ == 0 ? 0 : 1;
    }

    // For tests and the summary: what the server did.
    std::uint64_t failed() const { return failed_.load(); }

private:
    /// One thread's share: its own socket on the shared port, its peers, its responder,
    /// its timers. Nothing here is touched by another thread except hand() (under a mutex).
    class Worker {
    public:
        Worker(DatagramServer& server, Protocol protocol) : server_(server), protocol_(std::move(protocol)) {
            options_ = server.options_;
            // --max-pending is split over the workers (as the TCP server does): each drops
            // its own oldest, with no lock on the handshake path.
            options_.max_pending = std::max<std::size_t>(1, options_.max_pending / options_.threads);
        }
        ~Worker() {
            if (socket_ >= 0) ::close(socket_);
            if (wake_fd_ >= 0) ::close(wake_fd_);
        }
        Worker(const Worker&) = delete;
        Worker& operator=(const Worker&) = delete;

        std::string open(const Endpoint& local, bool reuse_port) {
            wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
            if (wake_fd_ < 0) return std::strerror(errno);
            socket_ = ::socket(local.sockaddr_ptr()->sa_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
            if (socket_ < 0) return std::strerror(errno);
            // A larger receive buffer: a burst of handshakes arrives at once.
            const int size = 4 << 20;
            ::setsockopt(socket_, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
            const int on = 1;
            if (reuse_port && ::setsockopt(socket_, SOL_SOCKET, SO_REUSEPORT, &on, sizeof on) != 0) return std::strerror(errno);
            if (::bind(socket_, local.sockaddr_ptr(), local.sockaddr_length()) != 0) return std::strerror(errno);
            return {};
        }
        Endpoint bound() const {
            sockaddr_storage address{};
            socklen_t length = sizeof address;
            ::getsockname(socket_, reinterpret_cast<sockaddr*>(&address), &length);
            return Endpoint::from_sockaddr(reinterpret_cast<sockaddr*>(&address), length).value_or(Endpoint{});
        }
        int wake_fd() const { return wake_fd_; }
        std::uint64_t peers_made() const { return peers_made_; }

        /// Wakes the worker's ppoll() (from any thread, or the signal handler's own write).
        void wake() { datagram_server_detail::wake(wake_fd_); }

        /// From another worker: a datagram for a peer this one holds. Bounded: a full
        /// queue drops it, as the network may (the protocols retransmit).
        void hand(const Endpoint& from, ByteView datagram) {
            {
                std::lock_guard lock(inbox_mutex_);
                if (inbox_.size() >= inbox_limit) {
                    ++server_.handoff_drops_;
                    return;
                }
                inbox_.push_back(Handed{from, Bytes(datagram.begin(), datagram.end())});
            }
            ++server_.handed_off_;
            wake();
        }

        int run(const sigset_t& wait_mask) {
            responder_ = protocol_.make_engine();
            for (;;) {
                if (datagram_server_detail::stop_signal && !signalled_) stop_gracefully(datagram_server_detail::stop_signal);
                if (signalled_ && (datagram_server_detail::stop_signals > 1 || Clock::now() >= stop_deadline_)) {
                    if (!options_.quiet && !peers_.empty())
                        line(std::to_string(peers_.size()) + " peers did not acknowledge the close: forgotten");
                    while (!peers_.empty()) erase(peers_.begin());
                    break;
                }
                // Every worker ends together (the sockets stay open until then, see run()).
                if (!accepting() && server_.open_.load() == 0) break;
                std::array<pollfd, 2> fds{pollfd{socket_, POLLIN, 0}, pollfd{wake_fd_, POLLIN, 0}};
                const auto wait = time_to_next_deadline(Clock::now());
                timespec ts{};
                if (wait) {
                    const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(*wait).count();
                    ts.tv_sec = static_cast<time_t>(ns / 1'000'000'000);
                    ts.tv_nsec = static_cast<long>(ns % 1'000'000'000);
                }
                const int ready = ::ppoll(fds.data(), fds.size(), wait ? &ts : nullptr, &wait_mask);
                if (ready < 0 && errno != EINTR) return fail(std::string("poll failed: ") + std::strerror(errno));
                if (ready > 0 && (fds[1].revents & POLLIN)) take_handed();
                if (ready > 0 && (fds[0].revents & POLLIN)) receive_datagrams();
                run_timers(Clock::now());
            }
            return 0;
        }

    private:
        struct Peer {
            Peer(Key k, Endpoint a, std::unique_ptr<Engine> e, Instant now)
                : key(std::move(k)), address(std::move(a)), engine(std::move(e)), last_heard(now) {}
            Key key;
            Endpoint address;  // where it was last heard from (a peer may move, where the protocol allows)
            std::unique_ptr<Engine> engine;
            Instant handshake_deadline{};
            Instant last_heard;
            bool established = false;
            bool closing = false;  // our close is under way (the peer ended its stream, or --idle-timeout)
            bool done = false;     // to be forgotten after this round
            std::unique_ptr<Responder> responder;  // made at the first plaintext: an idle peer holds none
            typename std::list<Peer*>::iterator pending_at;
            Note note{};
            std::vector<Key> aliases;  // further keys it is known by (next_key)
            std::optional<std::uint64_t> newest_sequence;  // where the protocol numbers its datagrams (sequence())
        };
        struct Handed {
            Endpoint from;
            Bytes datagram;
        };
        static constexpr std::size_t inbox_limit = 1024;

        bool accepting() const { return !signalled_ && server_.accepting_.load(); }
        bool shares_routes() const { return routes_by_key && server_.options_.threads > 1; }

        void line(const std::string& text) { std::fprintf(stderr, "tapsec: %s\n", text.c_str()); }

        void take_handed() {
            std::uint64_t count = 0;
            while (::read(wake_fd_, &count, sizeof count) > 0) {
            }
            std::deque<Handed> batch;
            {
                std::lock_guard lock(inbox_mutex_);
                batch.swap(inbox_);
            }
            for (const Handed& handed : batch)
                on_datagram(handed.from, ByteView(handed.datagram.data(), handed.datagram.size()), Clock::now(), true);
        }

        void receive_datagrams() {
            // A bounded batch per wake-up, so that timers run even under a flood.
            for (int i = 0; i < 512; ++i) {
                sockaddr_storage from{};
                socklen_t from_length = sizeof from;
                const ssize_t n =
                    ::recvfrom(socket_, buffer_.data(), buffer_.size(), 0, reinterpret_cast<sockaddr*>(&from), &from_length);
                if (n < 0) return;  // EAGAIN: drained (errors on UDP are per datagram: nothing to do)
                const auto source = Endpoint::from_sockaddr(reinterpret_cast<sockaddr*>(&from), from_length);
                if (!source) continue;
                on_datagram(*source, ByteView(buffer_.data(), static_cast<std::size_t>(n)), Clock::now(), false);
            }
        }

        /// `handed`: it came from another worker's socket (never handed on again).
        void on_datagram(const Endpoint& from, ByteView datagram, Instant now, bool handed) {
            const auto key = protocol_.peer_key(datagram, from);
            auto known = key ? find_peer(*key) : peers_.end();
            if (known == peers_.end() && key && !handed && shares_routes()) {
                // A key-routed peer that moved (a new address hashes to another socket):
                // its datagram goes to the worker that holds it.
                if (Worker* owner = server_.route(*key); owner && owner != this) {
                    owner->hand(from, datagram);
                    return;
                }
            }
            // A new handshake on a known peer's key goes through the stateless exchange; the
            // old peer gives way only when the new one gets state (see starts_anew above).
            const bool restarts = known != peers_.end() && accepting() && protocol_.starts_anew(datagram, known->second->note);
            if (known != peers_.end() && !restarts) {
                Peer& peer = *known->second;
                peer.last_heard = now;
                Endpoint heard_from = from;
                std::optional<std::uint64_t> sequence;
                if constexpr (requires { protocol_.sequence(datagram); }) {
                    // A late datagram (reordered behind a newer one: with several sockets, the
                    // one queued on another worker) from an address the peer has since left is
                    // read, but does not move the peer back there.
                    sequence = protocol_.sequence(datagram);
                    if (sequence && peer.newest_sequence && *sequence < *peer.newest_sequence && !(from == peer.address))
                        heard_from = peer.address;
                }
                std::uint64_t drops_before = 0;
                if constexpr (requires { protocol_.dropped(*peer.engine); }) drops_before = protocol_.dropped(*peer.engine);
                const auto ec = peer.engine->receive(datagram, heard_from, now);
                if constexpr (requires { protocol_.dropped(*peer.engine); }) {
                    // Only an authenticated datagram (the engine kept it) advances the newest.
                    if (sequence && !ec && protocol_.dropped(*peer.engine) == drops_before &&
                        (!peer.newest_sequence || *sequence > *peer.newest_sequence))
                        peer.newest_sequence = sequence;
                }
                peer.address = heard_from;
                after_engine_call(peer, ec, now);
                forget_if_done(known);
                return;
            }
            if (!accepting()) return;  // --naccept reached: new peers are not answered
            std::unique_ptr<Engine> engine;
            std::error_code ec;
            if constexpr (requires { protocol_.admits(datagram); }) {
                // A protocol without a stateless exchange (ZRTP): a datagram that opens it gets
                // an engine at once, bounded by --max-pending and --handshake-timeout below.
                if (!protocol_.admits(datagram)) return;  // anything else from a stranger: no answer
                engine = protocol_.make_engine();
                ec = engine->receive(datagram, from, now);
            } else {
                Engine& responder = *responder_;
                ec = responder.receive(datagram, from, now);
                if (!protocol_.holds_peer(responder)) {
                    // A cookie to send, or a drop. No state kept.
                    send_transmits(responder, from);
                    while (responder.poll_event()) {
                    }
                    if (ec || responder.is_closed()) responder_ = protocol_.make_engine();
                    return;
                }
                // The datagram created state: the responder is now this peer's engine.
                engine = std::move(responder_);
                responder_ = protocol_.make_engine();
            }
            const Key new_key = protocol_.key_of_new_peer(*engine, datagram, from);
            if (restarts) {
                if (!options_.quiet) line(from.to_string() + ": a new handshake from this address: the previous connection is forgotten");
                erase(known);
            } else if (auto old = peers_.find(new_key); old != peers_.end()) {
                erase(old);  // its key taken again (a replayed opening): the newer one holds it
            }
            // The peer's place is counted before --naccept may end the accepting, so that no
            // worker sees "nothing open, not accepting" while this peer is being made.
            if (++server_.open_ > options_.max_conns) {
                server_.forget_one();
                const auto n = ++server_.refused_;
                line(from.to_string() + ": refused: " + std::to_string(options_.max_conns) + " peers open (--max-conns); " +
                     std::to_string(n) + " refused so far");
                return;
            }
            if (options_.naccept) {
                const auto number = ++server_.accepted_;
                if (number > options_.naccept) {  // another worker took the last one
                    server_.forget_one();
                    return;
                }
                if (number == options_.naccept) server_.stop_accepting();
            }
            if (pending_.size() >= options_.max_pending) drop_oldest_pending();
            auto inserted = peers_.emplace(new_key, std::make_unique<Peer>(new_key, from, std::move(engine), now)).first;
            ++peers_made_;
            if (shares_routes()) server_.add_route(new_key, this);
            Peer& peer = *inserted->second;
            peer.note = protocol_.note(datagram);
            peer.handshake_deadline = now + options_.handshake_timeout;
            peer.pending_at = pending_.insert(pending_.end(), &peer);
            after_engine_call(peer, ec, now);
            forget_if_done(inserted);
        }

        void drop_oldest_pending() {
            Peer* oldest = pending_.front();
            const auto n = ++server_.dropped_pending_;
            line(oldest->address.to_string() + ": dropped in its handshake: " + std::to_string(server_.options_.max_pending) +
                 " peers pending (--max-pending); " + std::to_string(n) + " dropped so far");
            erase(peers_.find(oldest->key));
        }

        std::error_code close_engine(Engine& engine, Instant now) {
            if constexpr (requires { protocol_.close(engine, now); }) return protocol_.close(engine, now);
            else return engine.close(now);
        }
        std::error_code end_stream(Engine& engine, Instant now) {
            if constexpr (requires { protocol_.end_stream(engine, now); }) return protocol_.end_stream(engine, now);
            else return close_engine(engine, now);
        }

        /// What follows every call into a peer's engine: a failure is the peer's one line;
        /// else the handshake's end, the plaintexts through the server mode, the datagrams out.
        void after_engine_call(Peer& peer, std::error_code ec, Instant now) {
            Engine& engine = *peer.engine;
            if (!ec && !peer.established && engine.is_established()) {
                peer.established = true;
                pending_.erase(peer.pending_at);
                if (!options_.quiet)
                    if (auto text = protocol_.established_line(engine); !text.empty()) line(peer.address.to_string() + ": " + text);
            }
            if (!ec && peer.established) ec = answer_plaintexts(peer, now);
            if constexpr (requires { protocol_.next_key(engine); }) {
                if (auto next = protocol_.next_key(engine); next && !(*next == peer.key) &&
                    std::find(peer.aliases.begin(), peer.aliases.end(), *next) == peer.aliases.end() && !peers_.count(*next)) {
                    peer.aliases.push_back(*next);
                    aliases_.insert_or_assign(*next, peer.key);
                    if (shares_routes()) server_.add_route(*next, this);
                }
            }
            send_transmits(engine, peer.address);
            while (engine.poll_event()) {
            }
            if (ec) {
                ++server_.failed_;
                std::string detail;
                if constexpr (requires { engine.failure_detail(); }) detail = engine.failure_detail();
                line(peer.address.to_string() + ": " + protocol_.label + (peer.established ? ": " : " handshake failed: ") +
                     ec.message() + (detail.empty() || detail == ec.message() ? "" : " (" + detail + ")"));
                peer.done = true;
            } else if (engine.is_closed() || (signalled_ && close_delivered(engine))) {
                peer.done = true;  // the peer's close (answered by the engine), or ours completed
            }
        }

        bool close_delivered(Engine& engine) {
            if constexpr (requires { protocol_.close_delivered(engine); }) return protocol_.close_delivered(engine);
            else return engine.is_closed();
        }

        std::error_code answer_plaintexts(Peer& peer, Instant now) {
            Engine& engine = *peer.engine;
            while (auto plaintext = engine.poll_plaintext()) {
                if (!peer.responder) peer.responder = make_responder(server_.mode_, engine.session_info(), protocol_.composition);
                reply_.clear();
                // The plaintext is lent by the engine until its next call: used before send().
                const bool we_close = peer.responder->on_data(*plaintext, reply_);
                for (std::size_t at = 0; at < reply_.size(); at += protocol_.max_send) {
                    const std::size_t n = std::min(protocol_.max_send, reply_.size() - at);
                    if (auto ec = engine.send(ByteView(reply_.data() + at, n), now)) return ec;
                }
                if (we_close && !peer.closing) {
                    peer.closing = true;
                    return end_stream(engine, now);
                }
            }
            // A stream protocol's peer that ended its stream has had every answer: ours ends too.
            if constexpr (requires { protocol_.peer_finished(engine); }) {
                if (!peer.closing && protocol_.peer_finished(engine)) {
                    peer.closing = true;
                    return end_stream(engine, now);
                }
            }
            return {};
        }

        /// Every datagram the engine has queued, to its address (a cookie names its own) or
        /// the peer's. A full socket buffer drops the datagram, as the network may: the
        /// protocols retransmit, and no peer waits for another. (A peer handed over from
        /// another worker is answered from this worker's socket: the same local address
        /// and port, so the peer sees no difference.)
        void send_transmits(Engine& engine, const Endpoint& peer) {
            while (auto out = engine.poll_transmit(MutableByteView(buffer_.data(), buffer_.size()))) {
                const Endpoint& to = out->to ? *out->to : peer;
                (void)::sendto(socket_, buffer_.data(), out->size, 0, to.sockaddr_ptr(), to.sockaddr_length());
            }
        }

        /// The time until the nearest deadline of any peer (none: wait for datagrams only).
        std::optional<std::chrono::nanoseconds> time_to_next_deadline(Instant now) const {
            std::optional<Instant> next;
            auto consider = [&](std::optional<Instant> t) {
                if (t && (!next || *t < *next)) next = t;
            };
            for (const auto& [key, peer] : peers_) {
                consider(peer->engine->next_timeout());
                consider(peer->established ? peer->last_heard + options_.idle_timeout : peer->handshake_deadline);
            }
            if (signalled_) consider(stop_deadline_);
            if (!next) return std::nullopt;
            if (*next <= now) return std::chrono::nanoseconds(0);
            return *next - now + std::chrono::milliseconds(1);  // ppoll rounds down: wake after it, not before
        }

        void run_timers(Instant now) {
            for (auto it = peers_.begin(); it != peers_.end();) {
                Peer& peer = *it->second;
                Engine& engine = *peer.engine;
                if (!peer.established && peer.handshake_deadline <= now) {
                    ++server_.failed_;
                    line(peer.address.to_string() + ": " + protocol_.label + " handshake timed out after " +
                         datagram_server_detail::format_seconds(options_.handshake_timeout) + " s (--handshake-timeout)");
                    peer.done = true;
                } else if (peer.established && peer.last_heard + options_.idle_timeout <= now) {
                    if (!options_.quiet)
                        line(peer.address.to_string() + ": idle for " +
                             datagram_server_detail::format_seconds(options_.idle_timeout) + " s: closed (--idle-timeout)");
                    (void)close_engine(engine, now);
                    send_transmits(engine, peer.address);
                    peer.done = true;
                } else if (auto t = engine.next_timeout(); t && *t <= now) {
                    after_engine_call(peer, engine.on_timeout(now), now);
                }
                it = peer.done ? erase(it) : std::next(it);
            }
        }

        /// The protocol's close to every established peer; the loop then runs on (answering
        /// acknowledgements, retransmitting the close) until each is delivered or stop_linger.
        void stop_gracefully(int signal_number) {
            signalled_ = true;
            if (!options_.quiet && !server_.stop_announced_.exchange(true))
                std::fprintf(stderr, "tapsec: %s: closing every connection\n", ::strsignal(signal_number));
            server_.signalled_ = true;
            server_.accepting_ = false;  // so that the last peer closed anywhere wakes every worker to end
            const Instant now = Clock::now();
            stop_deadline_ = now + stop_linger;
            for (auto it = peers_.begin(); it != peers_.end();) {
                Peer& peer = *it->second;
                if (peer.established) {  // a pending handshake is simply dropped
                    if (!peer.closing) {
                        peer.closing = true;
                        after_engine_call(peer, close_engine(*peer.engine, now), now);
                    }
                    if (close_delivered(*peer.engine)) peer.done = true;
                }
                it = (!peer.established || peer.done) ? erase(it) : std::next(it);
            }
        }

        using PeerMap = std::unordered_map<Key, std::unique_ptr<Peer>, KeyHash>;

        typename PeerMap::iterator find_peer(const Key& key) {
            auto it = peers_.find(key);
            if (it != peers_.end() || aliases_.empty()) return it;
            auto alias = aliases_.find(key);
            return alias == aliases_.end() ? peers_.end() : peers_.find(alias->second);
        }
        void forget_if_done(typename PeerMap::iterator it) {
            if (it->second->done) erase(it);
        }
        typename PeerMap::iterator erase(typename PeerMap::iterator it) {
            Peer& peer = *it->second;
            if (!peer.established) pending_.erase(peer.pending_at);
            for (const Key& alias : peer.aliases) aliases_.erase(alias);
            if (shares_routes()) server_.remove_routes(peer.key, peer.aliases, this);
            auto next = peers_.erase(it);
            server_.forget_one();
            return next;
        }

        DatagramServer& server_;
        Protocol protocol_;  // this worker's copy (the engines it makes share its cookie state)
        DatagramServerOptions options_;
        int socket_ = -1;
        int wake_fd_ = -1;  // eventfd: a hand-off, a signal, the last peer of the server gone
        std::unique_ptr<Engine> responder_;  // made in run()
        PeerMap peers_;
        std::unordered_map<Key, Key, KeyHash> aliases_;  // a further key -> the peer's own (next_key)
        std::list<Peer*> pending_;  // in their handshake, oldest first
        bool signalled_ = false;
        std::uint64_t peers_made_ = 0;
        // After a signal: how long closes may take to be acknowledged (a few retransmissions).
        static constexpr std::chrono::seconds stop_linger{2};
        Instant stop_deadline_{};
        std::array<std::uint8_t, max_transmit_size> buffer_{};
        Bytes reply_;
        std::mutex inbox_mutex_;
        std::deque<Handed> inbox_;  // datagrams handed over by other workers
    };

    /// --naccept reached: no worker takes new peers; each ends when nothing is open.
    void stop_accepting() {
        accepting_ = false;
        for (auto& worker : workers_) worker->wake();
    }
    /// A peer forgotten (or a place given back): the last one lets every worker end.
    void forget_one() {
        if (--open_ == 0 && !accepting_)
            for (auto& worker : workers_) worker->wake();
    }

    Worker* route(const Key& key) {
        std::lock_guard lock(routes_mutex_);
        auto it = routes_.find(key);
        return it == routes_.end() ? nullptr : it->second;
    }
    void add_route(const Key& key, Worker* owner) {
        std::lock_guard lock(routes_mutex_);
        routes_.insert_or_assign(key, owner);
    }
    void remove_routes(const Key& key, const std::vector<Key>& aliases, Worker* owner) {
        std::lock_guard lock(routes_mutex_);
        auto remove = [&](const Key& k) {
            if (auto it = routes_.find(k); it != routes_.end() && it->second == owner) routes_.erase(it);
        };
        remove(key);
        for (const Key& alias : aliases) remove(alias);
    }

    Protocol protocol_;  // the prototype: each worker works on its own copy
    ServerMode mode_;
    DatagramServerOptions options_;
    std::vector<std::unique_ptr<Worker>> workers_;
    std::atomic<bool> accepting_{true};
    std::atomic<bool> signalled_{false};
    std::atomic<bool> stop_announced_{false};
    std::atomic<std::size_t> open_{0};  // peers with state, over every worker
    std::atomic<std::uint64_t> accepted_{0}, failed_{0}, dropped_pending_{0}, refused_{0}, handed_off_{0}, handoff_drops_{0};
    std::mutex routes_mutex_;
    std::unordered_map<Key, Worker*, KeyHash> routes_;  // key-routed protocols with --threads > 1
};

}  // namespace tapsec::cli
