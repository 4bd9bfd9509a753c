// `tapsec connect|listen minimalt`: stdin/stdout over connection 1 of a MinimaLT tunnel.
//
// The directory service is a file: the listener signs a directory record (its address,
// its ephemeral Curve25519 key, its puzzle parameters) with its long-term Ed25519 key
// and writes it, in hex, to --directory FILE; it prints its long-term public key and
// the connect command. The client reads the record and accepts it only if it is signed
// by the key given with --server-key and has not expired.
//
// Data moves through the shared pump (stdio.hpp, reliable_datagram.hpp); `listen`
// also answers with --echo, --rev or --www (server_modes.hpp). Closing: at the end of
// its stdin a side closes connection 1 (close RPC) once all its data is acknowledged;
// an answering server closes it when the client has. The client ends the tunnel
// (close_tunnel, acknowledged) when connection 1 is closed both ways, or when the
// server has been quiet for two seconds after our close; the server's session ends with
// the tunnel. Both exit 0 on a clean close, 1 when our final close goes unacknowledged.
// `listen --echo|--rev|--www` serves every client at once on one socket (datagram_server.hpp,
// MinimaltPeers below); the stdin/stdout mode serves one client: it has one stdin.
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <charconv>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <thread>

#include <tapsec/minimalt.hpp>

#include "address.hpp"
#include "datagram_server.hpp"
#include "provider_option.hpp"
#include "registry.hpp"
#include "reliable_datagram.hpp"
#include "server_modes.hpp"

namespace tapsec::cli {
namespace {

template <class Crypto = crypto::Botan2>
using Minimalt = Secure<MinimaltHandshake, MinimaltRecord, Udp, Crypto>;
using Config = minimalt::Config;
using namespace std::chrono_literals;

const std::string usage = std::string(
    "listen options:\n") +
    server_mode_flags_usage + std::string(
    "  --directory FILE        write the signed directory record here (hex; required)\n"
    "  --key FILE              long-term Ed25519 seed (hex); created if missing.\n"
    "                          Without it a new long-term key is drawn for this run\n"
    "  --name NAME             the server name in the record (default: localhost)\n"
    "  --puzzles MODE          under-load (default), always or never\n"
    "  --puzzle-difficulty N   bits a puzzle hides (1-28, default 16)\n"
    "  --puzzle-threshold N    tunnel requests per second before puzzles (default 100)\n"
    "  --require-user HEX      accept only connections proven (createAuth) by this user's\n"
    "                          Curve25519 public key (the client prints it)\n"
    "  --quiet                 with a server mode: no line per client\n" + std::string(datagram_server_usage) +
    "connect options:\n"
    "  --directory FILE        the server's signed directory record (required)\n"
    "  --server-key HEX        the server's long-term Ed25519 public key (required;\n"
    "                          the listener prints it)\n"
    "  --service NAME          the service connection 1 asks for (default: tapsec)\n"
    "  --user-key FILE         authenticate as the user whose Curve25519 secret (hex) is\n"
    "                          in FILE (created if missing); prints the public key\n"
    "  --roam-after BYTES      after sending BYTES, move to a new UDP port and rekey\n"
    "                          (connection mobility by tunnel ID)\n"
    "both:\n"
    "  --handshake-timeout S   give up after S seconds (default 10)\n"
    "  --verbose               report the tunnel, puzzles, roaming and drops on stderr\n"
    "  --provider NAME         crypto provider: openssl or botan (default: openssl where built\n"
    "                          with it; the NaCl box stays on Botan); --verbose names the one used\n");

struct Options {
    Config config;
    std::string directory_file, key_file, name = "localhost", bind_address = "0.0.0.0";
    std::uint16_t port = 0;
    Endpoint server;
    std::uint64_t roam_after = 0;
    bool verbose = false;
    ServerMode mode = ServerMode::stdio;  // listen: --echo, --rev, --www
    DatagramServerOptions limits;         // listen with a server mode: the concurrent server's limits
};

std::optional<std::string> read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return std::nullopt;
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

std::optional<std::uint64_t> number(const std::string& text) {
    std::uint64_t v = 0;
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc{} || ptr != text.data() + text.size()) return std::nullopt;
    return v;
}

std::optional<std::string> read_options(Arguments& args, bool is_connect, Options& out) {
    auto directory = args.take("--directory");
    auto timeout = args.take_seconds("--handshake-timeout");
    out.verbose = args.flag("--verbose");
    std::optional<std::string> key, name, puzzles, difficulty, threshold, server_key, service, roam, user_key, require_user;
    if (is_connect) {
        server_key = args.take("--server-key");
        service = args.take("--service");
        roam = args.take("--roam-after");
        user_key = args.take("--user-key");
    } else {
        if (auto error = take_server_mode(args, out.mode); !error.empty()) return error;
        require_user = args.take("--require-user");
        key = args.take("--key");
        name = args.take("--name");
        puzzles = args.take("--puzzles");
        difficulty = args.take("--puzzle-difficulty");
        threshold = args.take("--puzzle-threshold");
        if (out.mode != ServerMode::stdio) {
            if (auto error = take_datagram_server_options(args, out.limits, timeout); !error.empty()) return error;
            out.limits.quiet = args.flag("--quiet");
        }
    }
    args.refuse_unknown_options();
    if (user_key) {
        if (auto text = read_file(*user_key)) {
            bool ok = false;
            auto secret = from_hex(*text, &ok);
            if (!ok || secret.size() != 32) return "--user-key " + *user_key + ": not a 32-byte hex Curve25519 secret";
            out.config.user_secret.assign(secret.begin(), secret.end());
            secure_zero(secret.data(), secret.size());
        } else {
            out.config.user_secret.resize(32);
            crypto::Botan2::random(out.config.user_secret);
            std::ofstream file(*user_key, std::ios::binary | std::ios::trunc);
            ::chmod(user_key->c_str(), 0600);
            file << to_hex(out.config.user_secret) << "\n";
            if (!file) return "cannot write --user-key " + *user_key;
        }
        std::fprintf(stderr, "minimalt: user key %s\n", to_hex(crypto::nacl::public_key_of(out.config.user_secret)).c_str());
    }
    if (!directory) return std::string("--directory FILE is required (the signed directory record)");
    out.directory_file = *directory;
    out.config.handshake_timeout = timeout ? std::chrono::ceil<std::chrono::seconds>(*timeout) : 10s;
    if (is_connect) {
        bool ok = false;
        const HostPort server = parse_host_port(args.target);
        out.server = resolve_or_throw(server.host, server.port, SOCK_DGRAM);
        if (!server_key) return std::string("--server-key HEX is required (the listener prints it)");
        out.config.trusted_server_key = from_hex(*server_key, &ok);
        if (!ok || out.config.trusted_server_key.size() != 32) return std::string("--server-key: not 32 bytes of hex");
        auto record = read_file(*directory);
        if (!record) return "cannot read directory record " + *directory;
        out.config.directory_record = from_hex(*record, &ok);
        if (!ok || out.config.directory_record.empty()) return "directory record " + *directory + " is not hex";
        if (service) out.config.service = *service;
        if (roam) {
            auto n = number(*roam);
            if (!n || *n == 0) return "--roam-after: '" + *roam + "' is not a number of bytes";
            out.roam_after = *n;
        }
        return std::nullopt;
    }
    const HostPort bind_to = parse_listen_address(args.target, out.bind_address);
    out.bind_address = bind_to.host;
    out.port = bind_to.port;
    if (name) out.name = *name;
    if (require_user) {
        bool ok = false;
        auto user = from_hex(*require_user, &ok);
        if (!ok || user.size() != 32) return std::string("--require-user: not 32 bytes of hex");
        minimalt::PublicKey u{};
        std::copy(user.begin(), user.end(), u.begin());
        out.config.authorized_users.push_back(u);
        out.config.require_client_certificate = true;
    }
    if (puzzles) {
        if (*puzzles == "under-load") out.config.source_validation = CommonConfig::SourceValidation::under_load;
        else if (*puzzles == "always") out.config.source_validation = CommonConfig::SourceValidation::always;
        else if (*puzzles == "never") out.config.source_validation = CommonConfig::SourceValidation::never;
        else return "--puzzles: '" + *puzzles + "' is not under-load, always or never";
    }
    if (difficulty) {
        auto d = number(*difficulty);
        if (!d || *d < 1 || *d > 28) return "--puzzle-difficulty: '" + *difficulty + "' is not 1-28";
        out.config.puzzle_difficulty = static_cast<std::uint8_t>(*d);
    }
    if (threshold) {
        auto t = number(*threshold);
        if (!t || *t > 0xffffffffu) return "--puzzle-threshold: '" + *threshold + "' is not a number";
        out.config.puzzle_threshold = static_cast<std::uint32_t>(*t);
    }
    if (key) {
        out.key_file = *key;
        if (auto text = read_file(*key)) {
            bool ok = false;
            auto seed = from_hex(*text, &ok);
            if (!ok || seed.size() != 32) return "--key " + *key + ": not a 32-byte hex Ed25519 seed";
            out.config.long_term_seed.assign(seed.begin(), seed.end());
            secure_zero(seed.data(), seed.size());
        }
    }
    return std::nullopt;
}

void report_events(auto& conn, bool verbose) {
    while (auto e = conn.next_event()) {
        if (!verbose) continue;
        switch (e->kind) {
            case EventKind::handshake_complete: std::fprintf(stderr, "minimalt: tunnel established\n"); break;
            case EventKind::peer_address_changed:
                std::fprintf(stderr, "minimalt: peer moved to %s\n",
                             conn.engine().peer_endpoint().value_or(Endpoint{}).to_string().c_str());
                break;
            case EventKind::key_updated:
                std::fprintf(stderr, "minimalt: key generation %u\n", conn.engine().key_generation());
                break;
            case EventKind::peer_closed: std::fprintf(stderr, "minimalt: tunnel closed by the peer\n"); break;
            case EventKind::dropped_packet:
                std::fprintf(stderr, "minimalt: dropped a packet: %s\n", e->reason.message().c_str());
                break;
            default: break;
        }
    }
}

/// Connection 1 of the tunnel under pump() (stdio.hpp). Our input ending closes our
/// sending on connection 1 (close RPC) once the peer has acknowledged everything; when
/// both directions of connection 1 are closed the client ends the tunnel (close_tunnel,
/// acknowledged), and the server's session is over when the tunnel ends.
template <class Conn>
class MinimaltSession final : public ReliableDatagramSession<MinimaltSession<Conn>, Conn> {
    using Base = ReliableDatagramSession<MinimaltSession<Conn>, Conn>;
    using Base::closing_, Base::connection_, Base::engine, Base::finishing_, Base::progress, Base::sent_;

public:
    using Base::answers_only;
    MinimaltSession(Conn& conn, const Options& options, bool is_client)
        : Base(conn), options_(options), is_client_(is_client) {}

    /// stdin is read while less than 1 MiB waits for acknowledgement (the engine's queue
    /// holds 4 MiB; a send beyond it would be refused).
    std::size_t input_room() { return engine().queued_bytes() < (1u << 20) ? std::size_t{65536} : 0; }
    /// Bytes not yet sent, plus one while a sent packet waits for its acknowledgement.
    std::size_t unacknowledged_bytes() { return engine().queued_bytes() + (engine().all_acknowledged() ? 0 : 1); }

    std::error_code advance(Instant now) {
        if (is_client_ && options_.roam_after && !roamed_ && sent_ >= options_.roam_after)
            if (auto ec = roam(now)) return ec;
        auto& e = engine();
        if (closing_ && !half_closed_ && e.all_acknowledged()) {
            half_closed_ = true;
            if (auto ec = e.close_connection(1, now)) return ec;
        }
        if (finishing_ && half_closed_ && !tunnel_close_sent_ && e.all_acknowledged()) {
            tunnel_close_sent_ = true;
            return e.close(now);
        }
        return {};
    }

    bool session_over() {
        auto& e = engine();
        // Answering only: the peer's close of connection 1 ends ours, once our answers
        // to everything it sent (delivered before this is asked) are acknowledged.
        if (answers_only && !closing_ && e.connection_closed_by_peer(1)) {
            closing_ = true;
            (void)progress();  // a failure here shows in the next on_timer()
        }
        if (e.is_closed()) return true;
        // The client ends the tunnel once connection 1 is closed both ways.
        return is_client_ && half_closed_ && e.connection_closed_by_peer(1) && e.all_acknowledged();
    }
    bool finished() { return engine().is_closed(); }

private:
    /// Connection mobility: a new socket (new source port), then a rekey so the packets
    /// from the new address carry a tunnel ID unlinkable to the old one.
    std::error_code roam(Instant now) {
        auto moved = Udp::connect(options_.server);
        if (!moved) return moved.error();
        const auto old_port = connection_.transport().local_port();
        connection_.transport() = std::move(*moved);
        roamed_ = true;
        auto ec = engine().update_keys(true, now);
        if (options_.verbose)
            std::fprintf(stderr, "minimalt: moved from port %u to %u after %llu bytes%s\n", old_port,
                         connection_.transport().local_port(), static_cast<unsigned long long>(sent_),
                         ec ? " (rekey deferred)" : ", rekeyed");
        return {};
    }

    const Options& options_;
    bool is_client_;
    bool roamed_ = false, half_closed_ = false, tunnel_close_sent_ = false;
};

/// MinimaLT's part in the datagram server. A tunnel request (TID with the K flag, the
/// client's ephemeral key) for no known tunnel goes to the responder: under load it answers
/// with a puzzle and keeps nothing; otherwise (or with a valid solution) one key agreement,
/// and if the box opens the responder holds the tunnel and becomes its engine. Tunnels are
/// routed by their ID, never by address (a client that roams and rekeys keeps its tunnel:
/// the next generation's ID is registered as it is derived). Every engine shares the
/// puzzle key and the request count (SharedServerState), so a puzzle checks out whichever
/// engine takes the solution, and the load is the socket's.
template <class Crypto>
struct MinimaltPeers {
    using Engine = typename Minimalt<Crypto>::Engine;
    using Key = std::uint64_t;  // the tunnel ID
    using Note = bool;

    std::string label = "MinimaLT";
    std::string composition = "Secure<MinimaltHandshake, MinimaltRecord, Udp>";
    std::size_t max_send = 65536;
    Config config;

    explicit MinimaltPeers(Config c) : config(std::move(c)) {
        auto shared = std::make_shared<minimalt::SharedServerState>();
        crypto::Botan2::random(MutableByteView(shared->puzzle_key));
        config.shared_server_state = std::move(shared);
    }

    /// --threads: the request count that turns puzzles on is mutated by every request, so
    /// each worker counts its own, against its share of the threshold (the kernel spreads
    /// the clients evenly over the sockets); the puzzle key stays one, so a solution checks
    /// out on any worker.
    void separate_for_worker(unsigned workers) {
        auto own = std::make_shared<minimalt::SharedServerState>();
        own->puzzle_key = config.shared_server_state->puzzle_key;
        config.shared_server_state = std::move(own);
        config.puzzle_threshold = std::max<std::uint32_t>(1, config.puzzle_threshold / workers);
    }
    std::unique_ptr<Engine> make_engine() { return std::make_unique<Engine>(Role::server, config); }
    std::optional<Key> peer_key(ByteView datagram, const Endpoint&) const {
        if (datagram.size() < minimalt::header_size) return std::nullopt;
        std::uint64_t word = 0;
        for (std::size_t i = 0; i < 8; ++i) word = word << 8 | datagram[i];
        return word & minimalt::tid_mask;
    }
    bool holds_peer(Engine& responder) const { return responder.is_established(); }
    Key key_of_new_peer(Engine& engine, ByteView, const Endpoint&) const { return engine.tunnel_id(); }
    std::optional<Key> next_key(Engine& engine) const { return engine.next_tunnel_id(); }
    Note note(ByteView) const { return {}; }
    bool starts_anew(ByteView, const Note&) const { return false; }
    std::string established_line(Engine& engine) const {
        const auto ids = engine.connection_ids();
        if (std::find(ids.begin(), ids.end(), 1u) == ids.end())
            return "refused the client's connection: " + engine.counters().last_refusal.message();
        return "accepted: tunnel " + engine.session_info().peer.subject;
    }
    /// The client closed connection 1: our answers are queued before our close of it; the
    /// client then ends the tunnel.
    bool peer_finished(Engine& engine) const { return engine.connection_closed_by_peer(1); }
    std::error_code end_stream(Engine& engine, Instant now) const { return engine.close_connection(1, now); }
};

/// Moves stdin to connection 1 and connection 1 to stdout (or answers in a server
/// mode) until a clean close.
int run_data_path(auto& conn, const Options& options, bool is_client) {
    MinimaltSession session(conn, options, is_client);
    session.answers_only = options.mode != ServerMode::stdio;
    PumpOptions pump_options;
    pump_options.on_progress = [&] { report_events(conn, options.verbose); };
    return serve_connection(session, options.mode, "Secure<MinimaltHandshake, MinimaltRecord, Udp>", pump_options);
}

template <class Crypto>
int run(Arguments& args, bool is_connect) {
    Options options;
    if (auto error = read_options(args, is_connect, options)) return usage_fail(*error);
    ::signal(SIGPIPE, SIG_IGN);
    if (is_connect) {
        auto udp = Udp::connect(options.server);
        if (!udp) return fail("cannot open UDP: " + udp.error().message());
        Minimalt<Crypto> conn(Role::client, options.config, std::move(*udp));
        if (auto ec = conn.handshake()) {
            report_events(conn, options.verbose);
            return fail("tunnel to " + options.server.to_string() + " failed: " + ec.message());
        }
        report_events(conn, options.verbose);
        if (options.verbose)
            std::fprintf(stderr, "minimalt: connected to %s%s\n", conn.info().peer.subject.c_str(),
                         conn.engine().counters().puzzles_solved ? " (after solving its puzzle)" : "");
        return run_data_path(conn, options, true);
    }
    auto udp = Udp::bind(options.bind_address, options.port);
    if (!udp) return fail("cannot bind UDP " + options.bind_address + ":" + std::to_string(options.port) + ": " + udp.error().message());
    const bool new_key = options.config.long_term_seed.empty();
    const std::string address = (options.bind_address == "0.0.0.0" ? std::string("127.0.0.1") : options.bind_address) + ":" +
                                std::to_string(udp->local_port());
    auto record = minimalt::publish_record<crypto::Botan2>(options.config, options.name, address, std::chrono::hours(24));
    if (!record) return fail("cannot sign the directory record: " + record.error().message());
    if (new_key && !options.key_file.empty()) {
        std::ofstream key(options.key_file, std::ios::binary | std::ios::trunc);
        ::chmod(options.key_file.c_str(), 0600);
        key << to_hex(options.config.long_term_seed) << "\n";
        if (!key) return fail("cannot write --key " + options.key_file);
    }
    {
        std::ofstream dir(options.directory_file, std::ios::binary | std::ios::trunc);
        dir << to_hex(*record) << "\n";
        if (!dir) return fail("cannot write --directory " + options.directory_file);
    }
    auto server_key = crypto::Botan2::Ed25519::public_key(options.config.long_term_seed);
    std::fprintf(stderr,
                 "minimalt: directory record for %s written to %s\n"
                 "minimalt: connect with: tapsec connect minimalt %s --directory %s --server-key %s\n",
                 address.c_str(), options.directory_file.c_str(), address.c_str(), options.directory_file.c_str(),
                 to_hex(*server_key).c_str());
    if (options.mode != ServerMode::stdio) {
        const std::uint16_t bound_port = udp->local_port();  // the port the record publishes
        { Udp released = std::move(*udp); }                   // the datagram server binds it again
        return DatagramServer<MinimaltPeers<Crypto>>(MinimaltPeers<Crypto>(std::move(options.config)), options.mode, options.limits)
            .run(options.bind_address, bound_port);
    }
    options.config.handshake_timeout = std::chrono::hours(24 * 365);  // a listener waits for its client
    Minimalt<Crypto> conn(Role::server, options.config, std::move(*udp));
    if (auto ec = conn.handshake()) return fail("accepting a tunnel failed: " + ec.message());
    report_events(conn, options.verbose);
    if (options.verbose) {
        const auto& c = conn.engine().counters();
        std::fprintf(stderr, "minimalt: %s\n", conn.info().peer.subject.c_str());
        std::fprintf(stderr, "minimalt: tunnel from %s (before it: %llu puzzles sent, %llu key agreements, %llu packets dropped)\n",
                     conn.engine().peer_endpoint().value_or(Endpoint{}).to_string().c_str(),
                     static_cast<unsigned long long>(c.puzzles_sent), static_cast<unsigned long long>(c.key_agreements),
                     static_cast<unsigned long long>(c.dropped));
    }
    const auto ids = conn.engine().connection_ids();
    if (std::find(ids.begin(), ids.end(), 1u) == ids.end()) {
        // Connection 1 was refused (user proof, user list, service): tell the client, then say why.
        std::array<std::uint8_t, max_transmit_size> out{};
        while (auto t = conn.engine().poll_transmit(MutableByteView(out)))
            (void)conn.transport().send_to(ByteView(out.data(), t->size), t->to.value_or(Endpoint{}));
        return fail("refused the client's connection: " + conn.engine().counters().last_refusal.message());
    }
    const int status = run_data_path(conn, options, false);
    if (options.verbose) {
        const auto& c = conn.engine().counters();
        std::fprintf(stderr, "minimalt: %llu puzzles sent, %llu key agreements, %llu packets dropped, %llu retransmissions\n",
                     static_cast<unsigned long long>(c.puzzles_sent), static_cast<unsigned long long>(c.key_agreements),
                     static_cast<unsigned long long>(c.dropped), static_cast<unsigned long long>(c.retransmissions));
    }
    return status;
}

/// A server and a client over loopback UDP: the record signed and checked, a tunnel,
/// a second connection in it, an echo on each.
DemoResult demo() {
    DemoResult result;
    Config server_config, client_config;
    auto server_udp = Udp::bind("127.0.0.1", 0);
    if (!server_udp) return result.error = "cannot bind loopback UDP", result;
    const auto port = server_udp->local_port();
    server_config.puzzle_difficulty = 12;
    auto record = minimalt::publish_record<crypto::Botan2>(server_config, "localhost", "127.0.0.1:" + std::to_string(port), 60s);
    if (!record) return result.error = "cannot sign the directory record", result;
    client_config.directory_record = *record;
    auto server_key = crypto::Botan2::Ed25519::public_key(server_config.long_term_seed);
    if (!server_key) return result.error = "cannot derive the server key", result;
    client_config.trusted_server_key = *server_key;
    client_config.handshake_timeout = server_config.handshake_timeout = 5s;
    auto client_udp = Udp::connect(*Endpoint::parse("127.0.0.1", port));
    if (!client_udp) return result.error = "cannot open loopback UDP", result;

    std::thread server([&] {
        Minimalt<DefaultProvider> conn(Role::server, server_config, std::move(*server_udp));
        if (conn.handshake()) return;
        auto& e = conn.engine();
        std::array<std::uint8_t, max_transmit_size> out{}, in{};
        const Instant deadline = Clock::now() + 5s;
        int echoed = 0;
        while (echoed < 2 && Clock::now() < deadline) {
            Endpoint from;
            auto got = conn.transport().receive_from(in, Clock::now() + 50ms, from);
            if (got) e.receive(ByteView(in.data(), *got), from, Clock::now());
            while (auto data = e.poll_any()) {
                const Bytes copy(data->second.begin(), data->second.end());
                if (!e.send_on(data->first, copy, Clock::now())) ++echoed;
            }
            while (auto t = e.poll_transmit(MutableByteView(out))) conn.transport().send_to(ByteView(out.data(), t->size), *t->to);
        }
        for (int i = 0; i < 10 && !e.is_closed(); ++i) {  // until the client's close
            Endpoint from;
            auto got = conn.transport().receive_from(in, Clock::now() + 50ms, from);
            if (got) e.receive(ByteView(in.data(), *got), from, Clock::now());
            while (auto t = e.poll_transmit(MutableByteView(out))) conn.transport().send_to(ByteView(out.data(), t->size), *t->to);
        }
    });
    Minimalt<DefaultProvider> client(Role::client, client_config, std::move(*client_udp));
    const auto t0 = Clock::now();
    auto ec = client.handshake();
    const auto t1 = Clock::now();
    const std::string first = "hello through MinimaLT", second = "and on a second connection";
    std::string got_first, got_second;
    if (!ec) {
        auto& e = client.engine();
        auto other = e.open_connection("tapsec-demo", Clock::now());
        ec = e.send(as_bytes(first), Clock::now());
        if (!ec && other) ec = e.send_on(*other, as_bytes(second), Clock::now());
        std::array<std::uint8_t, max_transmit_size> out{}, in{};
        const Instant deadline = Clock::now() + 5s;
        while (!ec && (got_first.size() < first.size() || got_second.size() < second.size()) && Clock::now() < deadline) {
            while (auto t = e.poll_transmit(MutableByteView(out))) client.transport().send_to(ByteView(out.data(), t->size), client.transport().peer_endpoint());
            Endpoint from;
            auto got = client.transport().receive_from(in, Clock::now() + 50ms, from);
            if (got) e.receive(ByteView(in.data(), *got), from, Clock::now());
            if (auto t = e.next_timeout(); t && *t <= Clock::now()) e.on_timeout(Clock::now());
            while (auto v = e.poll_plaintext()) got_first.append(v->begin(), v->end());
            if (other)
                while (auto v = e.poll_plaintext(*other)) got_second.append(v->begin(), v->end());
        }
        e.close(Clock::now());
        for (int i = 0; i < 10 && !e.is_closed(); ++i) {
            while (auto t = e.poll_transmit(MutableByteView(out))) client.transport().send_to(ByteView(out.data(), t->size), client.transport().peer_endpoint());
            Endpoint from;
            auto got = client.transport().receive_from(in, Clock::now() + 50ms, from);
            if (got) e.receive(ByteView(in.data(), *got), from, Clock::now());
        }
    }
    const auto t2 = Clock::now();
    server.join();
    if (ec) return result.error = "MinimaLT demo failed: " + ec.message(), result;
    if (got_first != first || got_second != second) return result.error = "MinimaLT demo: echo did not match", result;
    result.ok = true;
    result.handshake_ms = std::chrono::duration<double, std::milli>(t1 - t0).count();
    result.echo_ms = std::chrono::duration<double, std::milli>(t2 - t1).count();
    result.negotiated = "Ed25519-signed directory record, Curve25519 + XSalsa20-Poly1305 tunnel, 2 connections" +
                        provider_suffix(client);
    return result;
}

const TakesProvider takes_provider{"minimalt"};
const Registration registration{ProtocolEntry{
    "minimalt",
    "Secure<MinimaltHandshake, MinimaltRecord, Udp>",
    "MinimalT",
    Minimalt<>::features,
    usage,
    [](Arguments& a) { return with_provider(a, [&]<class Crypto>() { return run<Crypto>(a, true); }); },
    [](Arguments& a) { return with_provider(a, [&]<class Crypto>() { return run<Crypto>(a, false); }); },
    demo,
    /*target_optional=*/false,
    {{"MA", "the paper's user authentication (createAuth: the user's long-term key proven per connection) is "
            "implemented but optional: anonymous clients are served unless the server requires users"},
     {"SV", "a puzzle solution is bound to the request's source address; puzzles are demanded under load "
            "(or always, by configuration), so SV is Supported rather than Mandatory"}},
}};

}  // namespace
}  // namespace tapsec::cli
