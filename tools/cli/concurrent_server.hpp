// The concurrent server behind `tapsec listen tls13|tls12 --echo|--rev|--www`: every
// connection at once on the Asio adapter (include/tapsec/asio/stream.hpp), one io_context
// and one SO_REUSEPORT listening socket per thread (the kernel spreads the connections),
// so a thread never waits for another. Limits that keep unauthenticated peers cheap:
//   - a handshake deadline per connection (--handshake-timeout);
//   - at most --max-pending connections still in their handshake: when a new one arrives
//     at the cap, the OLDEST pending one is dropped (an idle flood ages out, a real client
//     that completes its handshake promptly is never the oldest), with a counted line;
//   - at most --max-conns connections open: new ones are refused with a counted line.
// SIGTERM / SIGINT stop it gracefully: no new connections, pending handshakes are dropped,
// every established connection gets its protocol's close (close_notify) and a short wait
// for the peer's, then the process exits 0. A connection's failure is one line on stderr
// with the peer's address; it never stops the server. All of a connection's work runs on
// its thread's io_context, so the per-thread lists need no lock.
#pragma once

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <functional>
#include <list>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <sys/resource.h>
#include <sys/socket.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <tapsec/asio/stream.hpp>

#include "registry.hpp"
#include "server_limits.hpp"
#include "server_modes.hpp"

namespace tapsec::cli {

/// The concurrency options of a stream listener's server modes.
struct ConcurrentOptions : ServerLimits {
    unsigned threads = 0;  // 0: one per core
};

inline constexpr const char* concurrent_usage =
    "concurrent server (--echo, --rev, --www; stdin/stdout mode serves one connection, it has one stdin):\n"
    "  --forever             serve until SIGTERM / SIGINT (then close_notify to every connection, exit 0)\n"
    "                        instead of exiting after --naccept N connections (default 1)\n"
    "  --threads N           threads, each with its own io_context and SO_REUSEPORT socket (default: cores)\n"
    "  --handshake-timeout S seconds a connection may take to finish its handshake (default 5;\n"
    "                        --timeout is the same option)\n"
    "  --max-pending N       connections still in their handshake (default 1024, split over the threads);\n"
    "                        at the cap the oldest is dropped, with a counted line\n"
    "  --max-conns N         connections open at once (default 10000); more are refused, with a counted line\n";

/// Takes the concurrency options; `timeout_option` is --handshake-timeout (alias --timeout)
/// when the user gave it (take_listen_options took it). Returns an error line, or empty.
inline std::string take_concurrent_options(Arguments& args, ConcurrentOptions& out,
                                           std::optional<std::chrono::milliseconds> timeout_option) {
    if (auto n = args.take_uint("--threads", 1, 256)) out.threads = static_cast<unsigned>(*n);
    if (out.threads == 0) out.threads = std::max(1u, std::thread::hardware_concurrency());
    return take_server_limits(args, out, timeout_option);
}

namespace concurrent_detail {

namespace net = boost::asio;
using tcp = net::ip::tcp;
using boost::system::error_code;

/// Raises the soft open-files limit to the hard one: each connection is a descriptor.
inline void raise_open_files_limit() {
    rlimit limit{};
    if (::getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
        limit.rlim_cur = limit.rlim_max;
        ::setrlimit(RLIMIT_NOFILE, &limit);
    }
}

inline std::string endpoint_text(const tcp::socket& socket) {
    error_code ec;
    const auto remote = socket.remote_endpoint(ec);
    if (ec) return "(unknown peer)";
    const auto address = remote.address();
    return (address.is_v6() ? "[" + address.to_string() + "]" : address.to_string()) + ":" + std::to_string(remote.port());
}

}  // namespace concurrent_detail

/// What the protocol's command adds to the generic server.
template <class Stream>
struct ConcurrentHooks {
    std::string label;        // "TLS 1.3": error lines name it
    std::string composition;  // the --www page's first line
    /// The line printed after a handshake (unless --quiet); empty: none.
    std::function<std::string(Stream&)> established_line;
    /// --keyupdate: right after each handshake, a KeyUpdate asking the peer to update too.
    bool key_update = false;
};

// GCC 12 reports the coroutine frames' sized operator delete (Boost 1.74's awaitable_frame,
// which allocates with its own operator new) as mismatched: a false positive of its
// -Wmismatched-new-delete on coroutine frames, silenced for this class only.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

/// Serves `mode` on [address]:port until --naccept connections ended or a signal came.
/// Returns the exit status: 0 after a signal, or when every connection ended cleanly.
template <class Stream>
class ConcurrentServer {
    using tcp = concurrent_detail::tcp;
    using error_code = concurrent_detail::error_code;

public:
    using Config = typename Stream::Config;

    ConcurrentServer(Config config, ServerMode mode, ConcurrentOptions options, ConcurrentHooks<Stream> hooks)
        : config_(std::make_shared<const Config>(std::move(config))), mode_(mode), options_(options), hooks_(std::move(hooks)) {}

    int run(const std::string& address, std::uint16_t port) {
        namespace net = boost::asio;
        concurrent_detail::raise_open_files_limit();
        std::signal(SIGPIPE, SIG_IGN);
        error_code ec;
        const auto ip = net::ip::make_address(address == "localhost" ? "127.0.0.1" : address, ec);
        if (ec) return fail("cannot listen on " + address + ": not a numeric address");
        net::io_context control(1);
        net::signal_set signals(control, SIGINT, SIGTERM);  // before the threads: they inherit the mask
        workers_.reserve(options_.threads);
        for (unsigned i = 0; i < options_.threads; ++i) workers_.push_back(std::make_unique<Worker>());
        for (auto& worker : workers_) {
            if (auto error = open_listener(*worker, tcp::endpoint(ip, port)); !error.empty())
                return fail("cannot listen on " + address + ":" + std::to_string(port) + ": " + error);
            port = worker->acceptor.local_endpoint().port();  // the next threads share the port
        }
        if (!options_.quiet)
            std::fprintf(stderr, "tapsec: listening on %s:%u (%s, %u threads)\n", address.c_str(), port, hooks_.label.c_str(),
                         options_.threads);
        std::fflush(stderr);
        signals.async_wait([this](const error_code& error, int signal_number) {
            if (error) return;
            if (!options_.quiet) std::fprintf(stderr, "tapsec: %s: closing every connection\n", ::strsignal(signal_number));
            signalled_ = true;
            for (auto& worker : workers_) net::post(worker->io, [this, w = worker.get()] { stop(*w, true); });
        });
        std::atomic<unsigned> running{options_.threads};
        std::vector<std::thread> threads;
        for (auto& worker : workers_) {
            net::co_spawn(worker->io, accept_loop(*worker), net::detached);
            threads.emplace_back([this, w = worker.get(), &running, &control] {
                run_worker(*w);
                if (--running == 0) net::post(control, [&control] { control.stop(); });
            });
        }
        control.run();
        for (auto& t : threads) t.join();
        const auto refused = refused_pending_.load() + refused_open_.load();
        if (!options_.quiet && refused)
            std::fprintf(stderr, "tapsec: %llu connections dropped in their handshake (--max-pending), %llu refused (--max-conns)\n",
                         static_cast<unsigned long long>(refused_pending_.load()),
                         static_cast<unsigned long long>(refused_open_.load()));
        if (signalled_) return 0;
        return failed_.load() == 0 ? 0 : 1;
    }

private:
    struct Session {
        tcp::socket* socket = nullptr;
        bool established = false;
        bool dropped = false;  // by --max-pending
        std::string peer;
    };
    struct Worker {
        boost::asio::io_context io{1};
        tcp::acceptor acceptor{io};
        std::list<Session*> pending;  // in their handshake, oldest first
        std::list<Session*> open;     // established
        bool stopping = false;
        // The one read buffer of the thread's connections: a read's bytes are copied in
        // only as its handler runs (tapsec::asio::stream), and each connection is done
        // with them before it next waits, so an idle connection holds no buffer.
        std::array<std::uint8_t, 16384> read_buffer;
    };

    /// Keeps a session in its worker's lists for the lifetime of its coroutine.
    class Registration {
    public:
        Registration(Worker& worker, Session& session) : worker_(worker), session_(session) {
            where_ = worker_.pending.insert(worker_.pending.end(), &session_);
        }
        void established() {
            worker_.pending.erase(where_);
            where_ = worker_.open.insert(worker_.open.end(), &session_);
            session_.established = true;
        }
        ~Registration() { (session_.established ? worker_.open : worker_.pending).erase(where_); }
        Registration(const Registration&) = delete;
        Registration& operator=(const Registration&) = delete;

    private:
        Worker& worker_;
        Session& session_;
        typename std::list<Session*>::iterator where_;
    };

    std::string open_listener(Worker& worker, const tcp::endpoint& endpoint) {
        error_code ec;
        auto& a = worker.acceptor;
        a.open(endpoint.protocol(), ec);
        if (!ec) a.set_option(tcp::acceptor::reuse_address(true), ec);
        if (!ec) a.set_option(boost::asio::detail::socket_option::boolean<SOL_SOCKET, SO_REUSEPORT>(true), ec);
        if (!ec) a.bind(endpoint, ec);
        if (!ec) a.listen(4096, ec);
        return ec ? ec.message() : std::string();
    }

    void run_worker(Worker& worker) {
        for (;;) {
            try {
                worker.io.run();
                return;
            } catch (const std::exception& e) {  // a bug in one connection must not end the others
                std::fprintf(stderr, "tapsec: internal error in a connection: %s\n", e.what());
            }
        }
    }

    /// Stops accepting; with `graceful`, also drops the pending handshakes and wakes every
    /// established connection, which then sends its close (see serve()).
    void stop(Worker& worker, bool graceful) {
        error_code ignored;
        worker.acceptor.close(ignored);
        if (!graceful) return;
        worker.stopping = true;
        for (auto* s : worker.pending) s->socket->close(ignored);
        for (auto* s : worker.open) s->socket->cancel(ignored);
    }

    void stop_accepting_everywhere() {
        for (auto& worker : workers_) boost::asio::post(worker->io, [this, w = worker.get()] { stop(*w, false); });
    }

    void line(const std::string& text) {
        std::fprintf(stderr, "tapsec: %s\n", text.c_str());
    }

    boost::asio::awaitable<void> accept_loop(Worker& worker) {
        namespace net = boost::asio;
        const std::size_t pending_cap = std::max<std::size_t>(1, options_.max_pending / workers_.size());
        for (;;) {
            error_code ec;
            tcp::socket socket = co_await worker.acceptor.async_accept(net::redirect_error(net::use_awaitable, ec));
            if (!worker.acceptor.is_open() || ec == net::error::operation_aborted) co_return;
            if (ec) {  // out of descriptors, or the peer gone before accept: wait a moment, go on
                line("accept failed: " + ec.message());
                net::steady_timer pause(worker.io, std::chrono::milliseconds(100));
                co_await pause.async_wait(net::redirect_error(net::use_awaitable, ec));
                continue;
            }
            if (options_.naccept) {
                const auto number = accepted_.fetch_add(1) + 1;
                if (number > options_.naccept) co_return;  // another thread took the last one
                if (number == options_.naccept) stop_accepting_everywhere();
            }
            if (open_.load() >= options_.max_conns) {
                const auto n = ++refused_open_;
                line(concurrent_detail::endpoint_text(socket) + ": refused: " + std::to_string(options_.max_conns) +
                     " connections open (--max-conns); " + std::to_string(n) + " refused so far");
                continue;  // the socket closes here
            }
            if (worker.pending.size() >= pending_cap) {
                Session* oldest = worker.pending.front();
                oldest->dropped = true;
                // To the back (splice keeps its Registration's iterator valid); it leaves soon.
                worker.pending.splice(worker.pending.end(), worker.pending, worker.pending.begin());
                error_code ignored;
                oldest->socket->close(ignored);
            }
            ++open_;
            net::co_spawn(worker.io, serve(worker, std::move(socket)), net::detached);
        }
    }

    /// One connection: handshake under its deadline, the server mode, the close.
    boost::asio::awaitable<void> serve(Worker& worker, tcp::socket socket) {
        namespace net = boost::asio;
        using net::use_awaitable;
        Session session;
        session.peer = concurrent_detail::endpoint_text(socket);
        struct OpenCount {
            std::atomic<std::size_t>& open;
            ~OpenCount() { --open; }
        } open_count{open_};
        Stream stream(std::move(socket), Role::server, config_);
        session.socket = &stream.next_layer();
        Registration registration(worker, session);
        if (worker.stopping) co_return;

        error_code ec;
        bool timed_out = false;
        // A timer handler already queued when the frame ends must not touch it.
        const auto frame_alive = std::make_shared<int>(0);
        net::steady_timer deadline(worker.io, options_.handshake_timeout);
        deadline.async_wait([&timed_out, &stream, alive = std::weak_ptr<int>(frame_alive)](const error_code& error) {
            if (error || alive.expired()) return;
            timed_out = true;
            error_code ignored;
            stream.next_layer().close(ignored);
        });
        co_await stream.async_handshake(net::redirect_error(use_awaitable, ec));
        deadline.cancel();
        if (session.dropped) {
            const auto n = ++refused_pending_;
            line(session.peer + ": dropped in its handshake: " + std::to_string(options_.max_pending) +
                 " connections pending (--max-pending); " + std::to_string(n) + " dropped so far");
            co_return;
        }
        if (worker.stopping) co_return;  // a pending handshake is simply dropped at a stop
        if (timed_out || ec) {
            ++failed_;
            const auto seconds = std::chrono::duration<double>(options_.handshake_timeout).count();
            line(session.peer + ": " + hooks_.label + " handshake " +
                 (timed_out ? "timed out after " + format_seconds(seconds) + " s (--handshake-timeout)"
                            : "failed: " + ec.message()));
            co_return;
        }
        registration.established();
        if (!options_.quiet && hooks_.established_line)
            if (auto text = hooks_.established_line(stream); !text.empty()) line(session.peer + ": " + text);
        if constexpr (requires { stream.async_update_keys(true, net::use_awaitable); }) {
            if (hooks_.key_update) {
                co_await stream.async_update_keys(true, net::redirect_error(use_awaitable, ec));
                if (ec) {
                    ++failed_;
                    line(session.peer + ": " + hooks_.label + ": key update failed: " + ec.message());
                    co_return;
                }
                if (!options_.quiet) line(session.peer + ": key update sent (the peer was asked to update too)");
            }
        }

        // The server mode: the peer's bytes through the Responder, its answer back. The
        // Responder (and the --www page) is made when the first bytes arrive, so an idle
        // connection does not hold it.
        std::unique_ptr<Responder> responder;
        bool we_close = false;
        bool failed = false;
        Bytes reply;
        while (!worker.stopping) {
            const std::size_t n =
                co_await stream.async_read_some(net::buffer(worker.read_buffer), net::redirect_error(use_awaitable, ec));
            if (worker.stopping) break;
            if (ec == net::error::eof) break;  // the peer's close: answered below
            if (ec) {
                line(session.peer + ": " + hooks_.label + ": " + ec.message());
                failed = true;
                break;
            }
            if (!responder) responder = make_responder(mode_, stream.secure().info(), hooks_.composition);
            reply.clear();
            we_close = responder->on_data(ByteView(worker.read_buffer.data(), n), reply);
            if (!reply.empty()) {
                co_await net::async_write(stream, net::buffer(reply), net::redirect_error(use_awaitable, ec));
                if (ec && !worker.stopping) {
                    line(session.peer + ": " + hooks_.label + ": sending failed: " + ec.message());
                    failed = true;
                    break;
                }
            }
            if (we_close) break;
        }
        if (failed) {
            ++failed_;
            co_return;
        }
        co_await stream.async_shutdown(net::redirect_error(use_awaitable, ec));
        if (ec) {
            if (!worker.stopping) ++failed_;
            line(session.peer + ": " + hooks_.label + ": sending the close failed: " + ec.message());
            co_return;
        }
        // We closed first (--www, a stop): wait a little for the peer's close, so that
        // closing the socket with its bytes unread does not reset what we sent.
        if (we_close || worker.stopping) co_await drain(worker, stream.next_layer());
    }

    boost::asio::awaitable<void> drain(Worker& worker, tcp::socket& socket) {
        namespace net = boost::asio;
        const auto frame_alive = std::make_shared<int>(0);
        net::steady_timer limit(worker.io, std::chrono::seconds(2));
        limit.async_wait([&socket, alive = std::weak_ptr<int>(frame_alive)](const error_code& error) {
            error_code ignored;
            if (!error && !alive.expired()) socket.cancel(ignored);
        });
        std::array<std::uint8_t, 512> sink;
        for (;;) {
            error_code ec;
            co_await socket.async_read_some(net::buffer(sink), net::redirect_error(net::use_awaitable, ec));
            if (ec) break;
        }
        limit.cancel();
    }

    static std::string format_seconds(double seconds) {
        char text[32];
        std::snprintf(text, sizeof text, "%g", seconds);
        return text;
    }

    std::shared_ptr<const Config> config_;  // one for every connection: none holds a copy
    ServerMode mode_;
    ConcurrentOptions options_;
    ConcurrentHooks<Stream> hooks_;
    std::vector<std::unique_ptr<Worker>> workers_;
    std::atomic<std::uint64_t> accepted_{0};
    std::atomic<std::size_t> open_{0};
    std::atomic<std::uint64_t> refused_pending_{0}, refused_open_{0}, failed_{0};
    std::atomic<bool> signalled_{false};
};

#pragma GCC diagnostic pop

}  // namespace tapsec::cli
