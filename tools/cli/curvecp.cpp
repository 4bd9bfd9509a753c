// `tapsec connect|listen curvecp` and its demo: Secure<CurveCpHandshake, CurveCpRecord, Udp>.
// stdin is sent as the connection's stream, the peer's stream is written to stdout,
// through the shared pump (stdio.hpp); `listen` also answers with --echo, --rev or
// --www. The end of stdin ends our stream (curvecpmessage's success end), and the
// command exits 0 once both streams have ended and ours was acknowledged. Keys use curvecpmakekey's
// directory format; the server key on the command line is curvecpprintkey's hex.
// `listen --echo|--rev|--www` serves every client at once on one socket (datagram_server.hpp,
// CurvecpPeers below); the stdin/stdout mode serves one client: it has one stdin.
#include <poll.h>
#include <unistd.h>

#include <cstdio>
#include <thread>

#include <tapsec/curvecp.hpp>

#include "address.hpp"
#include "datagram_server.hpp"
#include "provider_option.hpp"
#include "registry.hpp"
#include "reliable_datagram.hpp"
#include "server_modes.hpp"

namespace tapsec::cli {
namespace {

using CurveCp = Secure<CurveCpHandshake, CurveCpRecord, Udp>;
using namespace std::chrono_literals;

const std::string usage = std::string(
    "options:\n"
    "  connect HOST:PORT --server-key HEX64 | --server-key-dir DIR\n"
    "                         the server's long-term public key (curvecpprintkey's hex, or a\n"
    "                         curvecpmakekey directory)\n"
    "  listen [ADDR:]PORT --key-dir DIR\n"
    "                         the server's key directory (curvecpmakekey DIR)\n"
    "  --key-dir DIR          connect: the client's long-term key, vouched for in the Initiate\n"
    "                         (default: a fresh key per connection)\n"
    "  --name NAME            the server's name (default localhost)\n"
    "  --extension HEX32      the server extension (default 32 zeros)\n"
    "  --client-extension HEX32  connect: the client extension (default 32 zeros)\n"
    "  --hellos N             connect: Hellos sent before giving up (default 5: about 8 to 16 s)\n"
    "  --verbose              report the handshake and the transfer on stderr\n"
    "  --provider botan       the only provider (CurveCP's XSalsa20 is Botan's here)\n"
    "listen, instead of stdin/stdout:\n") + server_mode_flags_usage + datagram_server_usage + std::string(
    "  --quiet               no line per client\n"
    "\n"
    "stdin goes to the peer as one stream, the peer's stream to stdout. Interoperates with\n"
    "curvecpclient/curvecpserver running curvecpmessage. At the end of stdin our stream\n"
    "ends; the command exits 0 once both streams ended and ours was acknowledged.\n");

bool parse_hex(const std::string& text, MutableByteView out) {
    bool ok = false;
    Bytes b = from_hex(text, &ok);
    if (!ok || b.size() != out.size()) return false;
    std::copy(b.begin(), b.end(), out.begin());
    return true;
}

/// The connection's stream under pump() (stdio.hpp). Our input ending ends our stream
/// (the success flag); the session is over when both streams have ended and ours was
/// acknowledged. An answering server (--echo, --rev, --www) ends its stream when the
/// client has ended its own.
class CurveCpSession final : public ReliableDatagramSession<CurveCpSession, CurveCp> {
public:
    using ReliableDatagramSession::ReliableDatagramSession;

    /// stdin is read while the stream's send buffer has room (a write beyond it is refused).
    std::size_t input_room() {
        const std::size_t space = engine().send_space();
        return space >= 4096 ? space : 0;
    }

    /// The stream's bytes the peer has not acknowledged.
    std::size_t unacknowledged_bytes() { return curvecp::message::Stream::send_capacity - engine().send_space(); }

    std::error_code advance(Instant now) {
        if (auto ec = engine().failure()) return ec;
        if (closing_ && !ended_) {
            ended_ = true;
            return engine().close(now);
        }
        return {};
    }

    bool session_over() {
        // Delivered before this is asked: our answers to the whole stream are queued.
        if (answers_only && !closing_ && engine().stream().peer_finished()) {
            closing_ = true;
            (void)progress();  // a failure here shows in the next on_timer()
        }
        return engine().is_closed();
    }
    /// Everything we sent arrived: the peer acknowledged the end of our stream.
    bool finished() { return engine().stream().our_end_acknowledged() || engine().is_closed(); }

private:
    bool ended_ = false;
};

/// CurveCP's part in the datagram server. A Hello is answered by the responder with a
/// Cookie and no state (the Cookie box holds the client's state under the minute key);
/// a valid Initiate makes the responder that client's engine. From then on the client is
/// named by its short-term key C' (in every Initiate and client Message), not by its
/// address: a client that moves is still routed to its engine (connection mobility).
/// Every engine shares the minute keys, so a Cookie opens whichever engine takes the
/// Initiate. A peer with state is an authenticated one: nothing is ever pending.
struct CurvecpPeers {
    using Engine = CurveCp::Engine;
    using Key = std::array<std::uint8_t, 32>;  // C'
    using Note = bool;                         // nothing kept of the Initiate

    std::string label = "CurveCP";
    std::string composition = "Secure<CurveCpHandshake, CurveCpRecord, Udp>";
    std::size_t max_send = 16384;
    curvecp::Config config;

    explicit CurvecpPeers(curvecp::Config c) : config(std::move(c)) {
        config.shared_minute_keys = std::make_shared<curvecp::MinuteKeys>(
            config.minute_key_interval, [](MutableByteView out) { crypto::Botan2::random(out); });
    }

    /// --threads: each worker its own minute keys (MinuteKeys rotates in place: it is not
    /// shared across threads). A client's Hello and Initiate come from one 4-tuple, which the
    /// kernel's SO_REUSEPORT hash keeps on one worker, so its Cookie opens where it returns.
    void separate_for_worker(unsigned) {
        config.shared_minute_keys = std::make_shared<curvecp::MinuteKeys>(
            config.minute_key_interval, [](MutableByteView out) { crypto::Botan2::random(out); });
    }
    std::unique_ptr<Engine> make_engine() { return std::make_unique<Engine>(Role::server, config); }
    std::optional<Key> peer_key(ByteView datagram, const Endpoint&) const {
        constexpr std::size_t at = 40;  // C' in an Initiate and in a client Message
        if (datagram.size() < at + 32 || !(curvecp::wire::has_magic(datagram, curvecp::wire::initiate_magic) ||
                                           curvecp::wire::has_magic(datagram, curvecp::wire::client_message_magic)))
            return std::nullopt;
        Key key;
        std::copy_n(datagram.begin() + at, key.size(), key.begin());
        return key;
    }
    /// The client's packet counter: its nonce (little-endian, Initiate bytes 168-175, client
    /// Message 72-79), one more each packet; lets the server tell a late packet from a new one.
    std::optional<std::uint64_t> sequence(ByteView datagram) const {
        std::size_t at = 0;
        if (curvecp::wire::has_magic(datagram, curvecp::wire::client_message_magic)) at = 72;
        else if (curvecp::wire::has_magic(datagram, curvecp::wire::initiate_magic)) at = 168;
        if (at == 0 || datagram.size() < at + 8) return std::nullopt;
        std::uint64_t nonce = 0;
        for (std::size_t i = 0; i < 8; ++i) nonce |= std::uint64_t{datagram[at + i]} << (8 * i);
        return nonce;
    }
    std::uint64_t dropped(Engine& engine) const { return engine.dropped(); }
    bool holds_peer(Engine& responder) const { return responder.is_established(); }
    Key key_of_new_peer(Engine&, ByteView datagram, const Endpoint& from) const { return *peer_key(datagram, from); }
    Note note(ByteView) const { return {}; }
    bool starts_anew(ByteView, const Note&) const { return false; }
    std::string established_line(Engine& engine) const { return "accepted: client " + engine.session_info().peer.subject; }
    /// The client ended its stream: every answer is queued, ours ends too.
    bool peer_finished(Engine& engine) const { return engine.stream().peer_finished(); }
    /// After a signal: our end acknowledged is enough (the client need not end its own).
    bool close_delivered(Engine& engine) const { return engine.stream().our_end_acknowledged() || engine.is_closed(); }
};

/// Moves stdin to the stream and the stream to stdout (or answers in a server mode)
/// until both ends are done.
int run_stream(CurveCp& conn, bool verbose, ServerMode mode) {
    CurveCpSession session(conn);
    session.answers_only = mode != ServerMode::stdio;
    TrafficCount count;
    PumpOptions options;
    options.count = &count;
    const auto t0 = Clock::now();
    const int status = serve_connection(session, mode, "Secure<CurveCpHandshake, CurveCpRecord, Udp>", options);
    std::fflush(stdout);
    if (verbose) {
        const double s = std::chrono::duration<double>(Clock::now() - t0).count();
        std::fprintf(stderr, "tapsec: curvecp: sent %llu bytes, received %llu bytes in %.2f s; %llu retransmissions\n",
                     static_cast<unsigned long long>(count.sent), static_cast<unsigned long long>(count.received), s,
                     static_cast<unsigned long long>(conn.engine().stream().retransmissions()));
    }
    return status;
}

int run(Arguments& args, bool is_connect) {
    curvecp::Config config;
    auto key_dir = args.take("--key-dir");
    auto server_key = args.take("--server-key");
    auto server_key_dir = args.take("--server-key-dir");
    auto name = args.take("--name");
    auto ext = args.take("--extension");
    auto client_ext = args.take("--client-extension");
    auto hellos = args.take_uint("--hellos", 1, 8);
    const bool verbose = args.flag("--verbose");
    refuse_provider_option(args, "needs XSalsa20, which only Botan provides here");
    ServerMode mode = ServerMode::stdio;
    DatagramServerOptions server_options;
    if (!is_connect) {
        if (auto error = take_server_mode(args, mode); !error.empty()) return usage_fail(error);
        if (mode != ServerMode::stdio) {
            if (auto error = take_datagram_server_options(args, server_options, args.take_seconds("--handshake-timeout"));
                !error.empty())
                return usage_fail(error);
            server_options.quiet = args.flag("--quiet");
        }
    }
    args.refuse_unknown_options();
    config.server_name = name.value_or("localhost");
    if (!curvecp::wire::encode_name(config.server_name)) return usage_fail("--name: labels of at most 63 bytes, 255 in all");
    if (ext && !parse_hex(*ext, config.server_extension)) return usage_fail("--extension: 32 hex digits expected");
    if (client_ext && !parse_hex(*client_ext, config.client_extension)) return usage_fail("--client-extension: 32 hex digits expected");
    if (key_dir) {
        auto k = curvecp::load_key_directory(*key_dir);
        if (!k) return usage_fail("--key-dir: cannot read a key directory (publickey, .expertsonly/secretkey) from " + *key_dir);
        config.long_term_key = *k;
    }
    if (is_connect) {
        const HostPort target = parse_host_port(args.target);
        std::string resolve_error;
        auto server = resolve(target.host, target.port, SOCK_DGRAM, resolve_error);
        if (!server) return fail(resolve_error);
        if (server_key) {
            curvecp::PublicKey pk{};
            if (!parse_hex(*server_key, pk)) return usage_fail("--server-key: 64 hex digits expected (curvecpprintkey DIR)");
            config.server_public_key = pk;
        } else if (server_key_dir) {
            auto k = curvecp::load_key_directory(*server_key_dir);
            if (!k) {
                std::FILE* f = std::fopen((*server_key_dir + "/publickey").c_str(), "rb");
                curvecp::PublicKey pk{};
                const bool ok = f && std::fread(pk.data(), 1, 32, f) == 32;
                if (f) std::fclose(f);
                if (!ok) return usage_fail("--server-key-dir: cannot read " + *server_key_dir + "/publickey");
                config.server_public_key = pk;
            } else {
                config.server_public_key = k->public_key;
            }
        } else {
            return usage_fail("connect needs the server's key: --server-key HEX64 or --server-key-dir DIR");
        }
        config.hello_attempts = static_cast<unsigned>(hellos.value_or(5));
        config.handshake_timeout = 120s;  // the Hello schedule decides; its end is a clear no_answer
        auto udp = Udp::connect(*server);
        if (!udp) return fail("cannot open a UDP socket: " + udp.error().message());
        CurveCp conn(Role::client, config, std::move(*udp));
        if (auto ec = conn.handshake())
            return fail("handshake with " + server->to_string() + " failed: " + ec.message());
        if (verbose) std::fprintf(stderr, "tapsec: curvecp: connected to %s\n", server->to_string().c_str());
        return run_stream(conn, verbose, ServerMode::stdio);
    }
    if (!config.long_term_key) return usage_fail("listen needs the server's key directory: --key-dir DIR (curvecpmakekey DIR)");
    const HostPort bind_to = parse_listen_address(args.target);
    const std::string& address = bind_to.host;
    const std::uint16_t port = bind_to.port;
    if (mode != ServerMode::stdio) {
        if (!server_options.quiet)
            std::fprintf(stderr, "tapsec: curvecp: server key %s\n", to_hex(config.long_term_key->public_key).c_str());
        return DatagramServer<CurvecpPeers>(CurvecpPeers(std::move(config)), mode, server_options).run(address, port);
    }
    auto udp = Udp::bind(address, static_cast<std::uint16_t>(port));
    if (!udp) return fail("cannot bind " + args.target + ": " + udp.error().message());
    config.handshake_timeout = 24h;
    std::fprintf(stderr, "tapsec: curvecp: listening on %s:%u as %s\n", address.c_str(), udp->local_port(),
                 to_hex(config.long_term_key->public_key).c_str());
    CurveCp conn(Role::server, config, std::move(*udp));
    if (auto ec = conn.handshake()) return fail("no connection: " + ec.message());
    if (verbose) std::fprintf(stderr, "tapsec: curvecp: client %s connected\n", conn.info().peer.subject.c_str());
    return run_stream(conn, verbose, mode);
}

/// Two CurveCP endpoints over loopback UDP: handshake, a message echoed, both streams ended.
DemoResult demo() {
    DemoResult result;
    curvecp::Config server_config, client_config;
    auto key = curvecp::generate_key_pair([](MutableByteView out) { crypto::Botan2::random(out); });
    server_config.long_term_key = key;
    server_config.server_name = client_config.server_name = "demo.tapsec";
    client_config.server_public_key = key.public_key;
    client_config.first_hello_interval = 200ms;
    client_config.hello_attempts = 3;
    server_config.handshake_timeout = client_config.handshake_timeout = 5s;
    auto server_udp = Udp::bind("127.0.0.1", 0);
    if (!server_udp) return result.error = "cannot bind loopback UDP", result;
    auto client_udp = Udp::connect(*Endpoint::parse("127.0.0.1", server_udp->local_port()));
    if (!client_udp) return result.error = "cannot open UDP", result;
    std::thread server([&] {
        CurveCp conn(Role::server, server_config, std::move(*server_udp));
        if (conn.handshake()) return;
        Bytes got;
        const auto deadline = Clock::now() + 3s;
        while (Clock::now() < deadline && !conn.engine().stream().peer_finished()) {
            auto m = conn.receive_message(50ms);
            if (m) got.insert(got.end(), m->begin(), m->end());
        }
        if (conn.send(got)) return;
        (void)conn.engine().close(Clock::now());
        while (Clock::now() < deadline && !conn.engine().is_closed()) (void)conn.receive_message(50ms);
    });
    CurveCp client(Role::client, client_config, std::move(*client_udp));
    const auto t0 = Clock::now();
    auto ec = client.handshake();
    const auto t1 = Clock::now();
    const std::string message = "hello through CurveCP";
    Bytes echo;
    if (!ec) ec = client.send(as_bytes(message));
    if (!ec) (void)client.engine().close(Clock::now());
    const auto deadline = Clock::now() + 3s;
    while (!ec && Clock::now() < deadline && !client.engine().is_closed()) {
        auto m = client.receive_message(50ms);
        if (m) echo.insert(echo.end(), m->begin(), m->end());
        else if (m.error() != make_error_code(Errc::timed_out)) ec = m.error();
    }
    const auto t2 = Clock::now();
    server.join();
    if (ec) return result.error = "CurveCP demo failed: " + ec.message(), result;
    if (std::string(echo.begin(), echo.end()) != message) return result.error = "CurveCP demo: echo did not match", result;
    if (!client.engine().is_closed()) return result.error = "CurveCP demo: the streams did not end cleanly", result;
    result.ok = true;
    result.handshake_ms = std::chrono::duration<double, std::milli>(t1 - t0).count();
    result.echo_ms = std::chrono::duration<double, std::milli>(t2 - t1).count();
    result.negotiated = "Curve25519 XSalsa20-Poly1305, Hello 224 / Cookie 200 / Initiate 736, curvecpmessage stream";
    return result;
}

const Registration registration{ProtocolEntry{
    "curvecp",
    "Secure<CurveCpHandshake, CurveCpRecord, Udp>",
    "CurveCP",
    CurveCp::features,
    usage,
    [](Arguments& a) { return run(a, true); },
    [](Arguments& a) { return run(a, false); },
    demo,
    /*target_optional=*/false,
    {},
}};

}  // namespace
}  // namespace tapsec::cli
