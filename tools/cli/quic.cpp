// `tapsec connect quic HOST:PORT` and `tapsec listen quic [ADDR:]PORT`:
// Secure<Tls13Handshake, QuicPacketProtection, Udp> — QUIC v1 keyed by the same TLS 1.3
// handshake as `tls13`. Without --h3, stdin and stdout ride one bidirectional stream
// (ALPN "tapsec" unless --alpn); with --h3, a minimal HTTP/3 client (GET one path,
// body to --output or stdout) or server (files from --htdocs) for ngtcp2's peers.
#include <csignal>
#include <cstdio>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include <fcntl.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <tapsec/quic.hpp>
#include <tapsec/tapsec.hpp>

#include "debug_options.hpp"
#include "demo.hpp"
#include "quic_h3.hpp"
#include "address.hpp"
#include "provider_option.hpp"
#include "registry.hpp"
#include "server_modes.hpp"
#include "udp_batch.hpp"

namespace tapsec::cli {
namespace {

template <class Crypto = crypto::Botan2>
using Quic = Secure<Tls13Handshake, QuicPacketProtection, Udp, Crypto>;
template <class Crypto = crypto::Botan2>
using Connection = quic::Connection<Crypto>;

constexpr const char* usage =
    "common options:\n"
    "  --ciphersuites LIST     TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256\n"
    "  --groups LIST           X25519:P-256\n"
    "  --alpn LIST             comma-separated (default: tapsec; h3 with --h3)\n"
    "  --cert FILE --key FILE  our certificate chain (PEM) and PKCS#8 key\n"
    "  --CAfile FILE           trust anchors (PEM) for the peer's certificate\n"
    "  --h3                    minimal HTTP/3 (GET one file / serve files) instead of stdin/stdout\n"
    "  --idle-timeout MS       QUIC max_idle_timeout (default 30000)\n"
    "  --quic-version 1|2      connect: the version of the first Initial (default 1; 2 is RFC 9369);\n"
    "                          listen: accept only this version (default both; others get\n"
    "                          Version Negotiation)\n"
    "  --datagram              stdin lines go as QUIC DATAGRAM frames (RFC 9221), each received\n"
    "                          datagram is a line on stdout (stream 0 carries only the FINs); the\n"
    "                          peer must support DATAGRAM too, else exit 1\n"
    "  --pad N                 length hiding: pad each 1-RTT datagram to a multiple of N bytes\n"
    "                          (up to the 1200-byte datagram size)\n"
    "  --quiet                 no connection summary on stderr\n"
    "  --provider NAME         crypto provider: openssl or botan (default: openssl where built\n"
    "                          with it); the summary line names the one used\n"
    "connect only:\n"
    "  --servername NAME       SNI and the name checked in the certificate (default: HOST)\n"
    "  --noverify              accept any server certificate (testing only)\n"
    "  --path PATH             --h3: the path to GET (default /)\n"
    "  --output FILE           --h3: write the response body here (default stdout)\n"
    "  --keyupdate             initiate a 1-RTT key update once the handshake is confirmed\n"
    "  --migrate-after MS      move to a new local port MS after the handshake (connection migration)\n"
    "  --token-file FILE       send the address-validation token in FILE (if present) and store\n"
    "                          the server's NEW_TOKEN token there for the next connection\n"
    "  --session-file FILE     resume with the session in FILE (if present), sending the request\n"
    "                          (--h3) or what stdin already holds as 0-RTT; the server's new\n"
    "                          ticket and transport limits are stored there\n"
    "listen only:\n"
    "  --retry                 validate the client's address with a Retry first (RFC 9000 8.1.2)\n"
    "  --secret-file FILE      server secret for address tokens and stateless resets (32 random\n"
    "                          bytes, created if missing): a restarted listener accepts its\n"
    "                          NEW_TOKEN tokens and resets connections it no longer knows\n"
    "  --echo | --rev | --www  answer the client's stream instead of stdin/stdout (as the TLS\n"
    "                          listeners: echo, each line reversed, an HTTP/1.0 status page)\n"
    "  --tickets N             session tickets per connection (default 1; 0: no resumption); each\n"
    "                          allows 0-RTT, single use, refused when our limits shrank\n"
    "  --no-early-data         tickets without 0-RTT\n"
    "  --naccept N             exit after N connections finished (default 1), sharing the ticket\n"
    "                          key and the 0-RTT anti-replay record; with --h3, --echo, --rev or\n"
    "                          --www they are served at once by one endpoint (routed by connection\n"
    "                          ID), stdin/stdout and --datagram serve one after another\n"
    "  --forever               --h3/--echo/--rev/--www: serve until SIGTERM / SIGINT\n"
    "  --max-conns N           connections open at once (default 1024); more are refused with\n"
    "                          CONNECTION_CLOSE CONNECTION_REFUSED\n"
    "  --max-pending N         connections still in their handshake (default 128); more Initials\n"
    "                          are dropped (the client retransmits)\n"
    "                          SIGTERM / SIGINT: CONNECTION_CLOSE to every connection, exit 0\n"
    "  --htdocs DIR            --h3: serve files from DIR (default .)\n"
    "  --default-file NAME     --h3: served when the request path cannot be read (Huffman-coded)\n";

std::optional<std::string> slurp(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return std::nullopt;
    std::error_code ec;
    const auto size = std::filesystem::is_regular_file(path, ec) ? std::filesystem::file_size(path, ec) : 0;
    if (!ec && size > 0) {
        // A regular file in one read: through a stringstream, a 10 MiB file to serve cost
        // ~1300 reads and a dozen reallocations (the largest cost of a --h3 transfer).
        std::string s(static_cast<std::size_t>(size), '\0');
        in.read(s.data(), static_cast<std::streamsize>(s.size()));
        s.resize(static_cast<std::size_t>(in.gcount()));
        return s;
    }
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

/// The client's session in one file (hex): loaded if present, replaced by each new
/// ticket the server sends. The TLS session carries the server's transport limits
/// (quic::RememberedLimits) for 0-RTT.
class SessionFile final : public SessionCache {
public:
    explicit SessionFile(std::string path) : path_(std::move(path)) {}
    void store(const std::string&, const Bytes& session) override {
        std::ofstream f(path_, std::ios::binary | std::ios::trunc);
        f << to_hex(session) << "\n";
        if (f) ++stored_;
    }
    std::optional<Bytes> load(const std::string&) override {
        if (used_) return std::nullopt;
        auto text = slurp(path_);
        if (!text) return std::nullopt;
        bool ok = false;
        auto b = from_hex(*text, &ok);
        if (!ok || b.empty()) return std::nullopt;
        return b;
    }
    void remove(const std::string&) override { used_ = true; }  // single use; the next ticket replaces it
    unsigned stored() const { return stored_; }

private:
    std::string path_;
    bool used_ = false;
    unsigned stored_ = 0;
};

struct Options {
    tls13::Config tls;
    quic::Settings settings;
    bool h3 = false, quiet = false, datagram = false;
};

std::string common_options(Arguments& args, Options& o) {
    tls13::Config& config = o.tls;
    if (auto v = args.take_list("--ciphersuites")) config.cipher_suites = *v;
    if (auto v = args.take_list("--groups")) config.groups = *v;
    for (const auto& s : config.cipher_suites)
        if (!tls13::find_cipher_suite(s)) return "unknown cipher suite '" + s + "'";
    for (const auto& g : config.groups)
        if (!tls13::group_from_name(g)) return "unknown group '" + g + "' (X25519, P-256)";
    o.h3 = args.flag("--h3");
    if (auto v = args.take_list("--alpn")) config.alpn = *v;
    else config.alpn = {o.h3 ? "h3" : "tapsec"};
    auto cert = args.take("--cert");
    auto key = args.take("--key");
    if (cert || key) {
        if (!cert || !key) return "--cert and --key go together";
        auto c = slurp(*cert);
        if (!c) return "cannot read certificate file " + *cert;
        auto k = slurp(*key);
        if (!k) return "cannot read key file " + *key;
        if (!crypto::Botan2::Certificate::chain_from_pem(*c)) return "no certificate in " + *cert;
        if (!crypto::Botan2::PrivateKey::from_pem(*k)) return "cannot load private key " + *key;
        config.identity = Identity(*c, *k);
    }
    if (auto ca = args.take("--CAfile")) {
        auto c = slurp(*ca);
        if (!c) return "cannot read CA file " + *ca;
        config.trust.ca_certificates_pem = {*c};
    }
    if (auto v = args.take_uint("--idle-timeout", 1, 86400000)) o.settings.max_idle_timeout_ms = *v;
    if (auto v = args.take_uint("--quic-version", 1, 2)) {
        o.settings.version = *v == 2 ? quic::version_2 : quic::version_1;
        o.settings.accepted_versions = {o.settings.version};
    }
    if (o.h3) o.settings.application_close_code = h3::no_error;
    o.datagram = args.flag("--datagram");
    if (o.datagram && o.h3) return "--datagram and --h3 do not go together";
    o.settings.datagrams = o.datagram;
    if (auto v = args.take_uint("--pad", 1, o.settings.max_datagram_size)) o.settings.pad_to = *v;
    o.quiet = args.flag("--quiet");
    return debug_options().take(args, o.tls);
}

/// Batched datagram I/O for the QUIC loops (udp_batch.hpp): the datagrams one wakeup
/// produces go out in sendmmsg calls, runs to one peer as one UDP GSO send; what is
/// queued comes in by recvmmsg (GRO: a burst from one peer in one buffer). One
/// sendto/recvfrom per 1200-byte datagram was the sending side's largest cost.
class DatagramIo {
public:
    explicit DatagramIo(int fd) : receive_(std::make_unique<UdpReceiveBatch>(fd, true)), send_(true) {}
    /// A new socket (a client that moved): GRO asked for again on it.
    void rebind(int fd) { receive_ = std::make_unique<UdpReceiveBatch>(fd, true); }

    /// Sends what `produce(slot)` writes until it returns nothing; `produce` returns
    /// std::optional<std::pair<std::size_t, Endpoint>> (size written, destination).
    template <class Produce>
    std::error_code flush(int fd, Produce&& produce) {
        for (;;) {
            while (!send_.full()) {
                auto t = produce(send_.slot());
                if (!t) break;
                if (!t->second.valid()) return make_error_code(Errc::not_connected);
                send_.commit(t->first, t->second);
            }
            if (send_.empty()) return {};
            const bool more = send_.full();
            if (!send_.send(fd)) return {errno, std::generic_category()};
            if (!more) return {};
        }
    }

    /// Waits until `deadline` for a datagram, then calls `each(datagram, from)` for every
    /// datagram queued (a bounded number of recvmmsg calls, so sending is not starved).
    template <class Each>
    std::error_code receive(int fd, Instant deadline, Each&& each) {
        for (;;) {
            const auto ns = std::max<std::int64_t>(
                std::chrono::duration_cast<std::chrono::nanoseconds>(deadline - Clock::now()).count(), 0);
            timespec wait{static_cast<time_t>(ns / 1'000'000'000), static_cast<long>(ns % 1'000'000'000)};
            pollfd p{fd, POLLIN, 0};
            const int r = ::ppoll(&p, 1, &wait, nullptr);  // ppoll: a timer due in 0.4 ms is not a busy loop
            if (r == 0) return {};
            if (r > 0) break;
            if (errno != EINTR) return {errno, std::generic_category()};
        }
        for (int round = 0; round < 8; ++round) {
            const int n = receive_->receive(fd);
            if (n < 0) return {errno, std::generic_category()};
            for (int i = 0; i < n; ++i) {
                const Endpoint from = receive_->from(static_cast<std::size_t>(i));
                receive_->segments(static_cast<std::size_t>(i), [&](ByteView d) { each(d, from); });
            }
            if (static_cast<std::size_t>(n) < UdpReceiveBatch::capacity) break;
        }
        return {};
    }

private:
    std::unique_ptr<UdpReceiveBatch> receive_;  // 2 MiB of buffers: allocated once
    UdpSendBatch send_;
};

/// Moves datagrams between a connection and its UDP socket, running its timers.
template <class Connection>
class Driver {
public:
    // A datagram the kernel drops is recovered by QUIC, except the peer's last one: a
    // CONNECTION_CLOSE lost to a full buffer leaves this side waiting for the idle
    // timeout. While a 10 MiB transfer runs, the default buffer (~200 KiB) overflows
    // on a loaded machine, so ask for more.
    Driver(Udp& socket, Connection& c) : socket_(socket), c_(c), io_(socket.native_handle()) {
        socket_.set_receive_buffer(8 << 20);
    }

    /// Client: move to a new local port at `when` (connection migration, RFC 9000 9.2).
    void migrate_at(Instant when, bool quiet) {
        migrate_at_ = when;
        quiet_ = quiet;
    }

    std::error_code flush() {
        return io_.flush(socket_.native_handle(), [&](MutableByteView slot) -> std::optional<std::pair<std::size_t, Endpoint>> {
            auto t = c_.poll_transmit(slot);
            if (!t) return std::nullopt;
            return std::pair{t->size, t->to ? *t->to : socket_.peer_endpoint()};
        });
    }

    /// Waits up to `wait` for a datagram or the next timer, handles it, sends.
    std::error_code step(std::chrono::milliseconds wait) {
        if (migrate_at_ && Clock::now() >= *migrate_at_ && c_.handshake_confirmed()) {
            migrate_at_.reset();
            auto fresh = Udp::connect(socket_.peer_endpoint());
            if (!fresh) return fresh.error();
            socket_ = std::move(*fresh);  // the old port is closed: packets to it are lost
            io_.rebind(socket_.native_handle());
            if (auto ec = c_.migrate_local(Clock::now())) {
                std::fprintf(stderr, "tapsec: cannot migrate: %s\n", ec.message().c_str());
            } else if (!quiet_) {
                std::fprintf(stderr, "tapsec: moved to local port %u\n", socket_.local_port());
            }
        }
        if (auto ec = flush()) return ec;
        Instant deadline = Clock::now() + wait;
        if (auto t = c_.next_timeout()) deadline = std::min(deadline, std::max(*t, Clock::now()));
        // Everything already queued is taken before answering.
        auto ec = io_.receive(socket_.native_handle(), deadline, [&](ByteView datagram, const Endpoint& from) {
            if (!socket_.peer_endpoint().valid()) socket_.set_peer_endpoint(from);
            c_.receive(datagram, from, Clock::now());
        });
        if (ec) return ec;
        if (auto t = c_.next_timeout(); t && *t <= Clock::now()) c_.on_timeout(Clock::now());
        return flush();
    }

private:
    Udp& socket_;
    Connection& c_;
    DatagramIo io_;
    std::optional<Instant> migrate_at_;
    bool quiet_ = false;
};

/// The listener's token and reset keys from FILE (created with 32 random bytes if it
/// does not exist); an error message, or empty.
std::string load_secret(const std::string& path, quic::Settings& settings) {
    auto text = slurp(path);
    if (!text) {
        std::array<std::uint8_t, 32> fresh{};
        crypto::Botan2::random(fresh);
        std::ofstream out(path, std::ios::binary | std::ios::trunc);
        out.write(reinterpret_cast<const char*>(fresh.data()), fresh.size());
        if (!out) return "cannot create secret file " + path;
        ::chmod(path.c_str(), 0600);
        text = std::string(reinterpret_cast<const char*>(fresh.data()), fresh.size());
    }
    if (text->size() < 32) return "secret file " + path + " holds fewer than 32 bytes";
    const ByteView secret = as_bytes(*text);
    auto derive = [&](std::string_view label) {
        return crypto::Botan2::hmac(crypto::HashAlgorithm::sha256, secret, as_bytes(label));
    };
    settings.token_key = derive("tapsec quic token key");
    settings.reset_key = derive("tapsec quic reset key");
    return {};
}

template <class Crypto>
void print_summary(const Connection<Crypto>& c, bool quiet) {
    debug_options().handshake_done(c.session_info());  // --showcerts
    if (quiet) return;
    const auto info = c.session_info();
    std::string line = "tapsec: " + info.protocol + ", " + info.cipher_suite + ", " + info.group;
    if (!info.alpn.empty()) line += ", ALPN " + info.alpn;
    if (!info.peer.subject.empty()) line += ", peer " + info.peer.subject;
    if (c.retried() || c.stats().retries_sent || c.validated_by_retry()) line += ", after a Retry";
    if (c.validated_by_token()) line += ", address validated by a NEW_TOKEN token";
    line += provider_suffix<Crypto>();
    std::fprintf(stderr, "%s\n", line.c_str());
}

/// What 0-RTT carried, once the handshake is over (client: sent, sent again; server: received).
void print_early_summary(const auto& c, bool quiet) {
    const auto& s = c.stats();
    if (quiet) return;
    if (c.early_data_offered())
        std::fprintf(stderr, "tapsec: 0-RTT %s: %llu stream bytes sent as early data, %llu sent again in 1-RTT\n",
                     c.session_info().early_data_accepted ? "accepted" : "rejected",
                     static_cast<unsigned long long>(s.zero_rtt_bytes_sent),
                     static_cast<unsigned long long>(s.zero_rtt_bytes_resent));
    if (s.zero_rtt_packets_received)
        std::fprintf(stderr, "tapsec: 0-RTT: %llu packet(s) of early data received\n",
                     static_cast<unsigned long long>(s.zero_rtt_packets_received));
}

void print_path_summary(const auto& c, bool quiet) {
    const auto& s = c.stats();
    if (quiet || !s.migrations) return;
    std::fprintf(stderr, "tapsec: %llu address change(s), %llu path(s) validated\n",
                 static_cast<unsigned long long>(s.migrations), static_cast<unsigned long long>(s.paths_validated));
}

void print_events(auto& c, bool quiet) {
    while (auto e = c.poll_event()) {
        if (quiet) continue;
        if (e->kind == EventKind::key_updated) std::fprintf(stderr, "tapsec: 1-RTT key update\n");
        if (e->kind == EventKind::early_data_accepted) std::fprintf(stderr, "tapsec: 0-RTT: early data accepted\n");
        if (e->kind == EventKind::early_data_rejected)
            std::fprintf(stderr, "tapsec: 0-RTT: early data rejected (%s)\n", e->reason.message().c_str());
        if (e->kind == EventKind::peer_address_changed && c.peer_address())
            std::fprintf(stderr, "tapsec: peer moved to %s\n", c.peer_address()->to_string().c_str());
        if (e->kind == EventKind::dropped_packet && e->reason == make_error_code(quic::Error::path_validation_failed))
            std::fprintf(stderr, "tapsec: path validation failed, back to the previous address\n");
    }
}

std::string describe_close(const auto& c) {
    std::string s;
    if (auto p = c.peer_close())
        s += " (peer's CONNECTION_CLOSE: " + std::string(p->first ? "application" : "transport") + " code 0x" +
             to_hex(ByteView(std::array<std::uint8_t, 8>{static_cast<std::uint8_t>(p->second >> 56), static_cast<std::uint8_t>(p->second >> 48),
                                                          static_cast<std::uint8_t>(p->second >> 40), static_cast<std::uint8_t>(p->second >> 32),
                                                          static_cast<std::uint8_t>(p->second >> 24), static_cast<std::uint8_t>(p->second >> 16),
                                                          static_cast<std::uint8_t>(p->second >> 8), static_cast<std::uint8_t>(p->second)})) +
             ")";
    return s;
}

/// Runs the handshake; returns an error message or empty.
std::string handshake(auto& d, auto& c, std::chrono::seconds limit) {
    const Instant end = Clock::now() + limit;
    while (!c.is_established()) {
        if (c.error()) return "QUIC handshake failed: " + c.error().message() + describe_close(c);
        if (c.is_closed()) return "QUIC handshake failed: connection closed" + describe_close(c);
        if (Clock::now() > end) return "QUIC handshake timed out";
        if (auto ec = d.step(std::chrono::milliseconds(50))) return "network: " + ec.message();
    }
    return {};
}

/// Closes gracefully (CONNECTION_CLOSE once our data is acknowledged), bounded.
void close_and_drain(auto& d, auto& c) {
    c.close(Clock::now());
    const Instant end = Clock::now() + std::chrono::seconds(3);
    while (c.closing_pending() && Clock::now() < end) d.step(std::chrono::milliseconds(20));
    d.flush();
}

/// The end of a stdio session on stream 0: once our FIN is out and the peer's came (or
/// the peer was silent for 2 s after ours), CONNECTION_CLOSE, sent by the connection once
/// all we sent is acknowledged. `closing` keeps it to one call.
void close_when_finished(auto& c, bool our_fin, bool peer_fin, Clock::time_point heard_from, bool& closing) {
    const bool peer_silent = our_fin && Clock::now() - heard_from > std::chrono::seconds(2);
    if (!closing && our_fin && (peer_fin || peer_silent)) {
        closing = true;
        c.close(Clock::now());
    }
}

/// What stdin holds right now, without waiting: the byte count read into `buffer`, 0 at
/// its end (or on a read error), nullopt when nothing is ready.
template <class Buffer>
std::optional<std::size_t> read_stdin_now(Buffer& buffer) {
    for (;;) {
        pollfd fd{0, POLLIN, 0};
        if (::poll(&fd, 1, 0) <= 0 || !(fd.revents & (POLLIN | POLLHUP))) return std::nullopt;
        const ssize_t n = ::read(0, buffer.data(), buffer.size());
        if (n < 0 && errno == EINTR) continue;
        return n > 0 ? static_cast<std::size_t>(n) : 0;
    }
}

/// stdin to the default stream (0), that stream to stdout (listen --echo/--rev/--www
/// answer on the endpoint: EndpointSession). Each direction ends with the
/// stream's FIN, as a half-close: stdin's end sends our FIN and the peer's data keeps
/// coming until its FIN (or 2 s of silence); the peer's FIN first, and what stdin
/// already holds still goes out before ours. With both directions finished, our
/// CONNECTION_CLOSE follows once everything we sent was acknowledged.
int pump_stdio(auto& d, auto& c, bool quiet) {
    bool stdin_open = true;
    bool our_fin = false, peer_fin = false, closing = false;
    auto heard_from = Clock::now();
    std::array<std::uint8_t, 16384> buffer{};
    auto send = [&](ByteView data) -> std::error_code {
        if (auto ec = c.send(data, Clock::now())) return ec;
        debug_options().add_sent(data.size());
        return {};
    };
    auto finish_ours = [&]() -> std::error_code {
        if (our_fin) return {};
        our_fin = true;
        return c.stream_send(0, {}, true, Clock::now());
    };
    // Reads what stdin holds now (all of it when `drain`), sending it; at its end, our FIN.
    auto read_stdin = [&](bool drain) -> std::error_code {
        while (stdin_open) {
            const auto n = read_stdin_now(buffer);
            if (!n) break;
            if (*n == 0) {
                stdin_open = false;
                heard_from = Clock::now();
                return finish_ours();
            }
            if (auto ec = send(ByteView(buffer.data(), *n))) return ec;
            if (!drain) break;
        }
        return {};
    };
    for (;;) {
        if (!our_fin)
            if (auto ec = read_stdin(false)) return fail("send failed: " + ec.message());
        if (auto ec = d.step(std::chrono::milliseconds(stdin_open ? 10 : 50))) return fail("network: " + ec.message());
        print_events(c, quiet);
        while (auto chunk = c.poll_stream()) {
            if (chunk->id != 0) continue;  // stdin/stdout is stream 0 only
            heard_from = Clock::now();
            if (chunk->fin) peer_fin = true;
            if (chunk->data.empty()) continue;
            debug_options().add_received(chunk->data.size());
            std::fwrite(chunk->data.data(), 1, chunk->data.size(), stdout);
            std::fflush(stdout);
        }
        if (peer_fin && !our_fin) {  // the peer is done: what stdin holds now, then ours
            if (auto ec = read_stdin(true)) return fail("send failed: " + ec.message());
            if (auto ec = finish_ours()) return fail("send failed: " + ec.message());
        }
        close_when_finished(c, our_fin, peer_fin, heard_from, closing);
        if (c.is_closed()) {
            print_path_summary(c, quiet);
            if (c.error()) return fail("QUIC: " + c.error().message() + describe_close(c));
            debug_options().connection_ended(c.session_info(), quiet);
            return 0;
        }
    }
}

/// --datagram: each stdin line is one DATAGRAM frame (without its newline), each
/// DATAGRAM received is one stdout line. Datagrams are unreliable, so the end is told
/// on stream 0: stdin's end sends our FIN there; with both FINs (or the peer's FIN and
/// 2 s of silence after ours) the connection closes.
int pump_datagrams(auto& d, auto& c, bool quiet) {
    if (c.peer_max_datagram_frame_size() == 0) {
        // Said to the peer too (application code 1, not the clean 0), which otherwise
        // waits for its idle timeout.
        c.abort(1, Clock::now());
        d.flush();
        return fail("--datagram: " + make_error_code(quic::Error::datagrams_not_supported).message());
    }
    bool stdin_open = true, our_fin = false, peer_fin = false, closing = false;
    auto heard_from = Clock::now();
    std::string partial;  // a line not ended yet
    std::deque<std::string> lines;
    std::array<char, 16384> buffer{};
    std::uint64_t sent = 0, received = 0;
    Bytes datagram;
    for (;;) {
        while (stdin_open && lines.size() < 1024) {
            const auto n = read_stdin_now(buffer);
            if (!n) break;
            if (*n == 0) {
                stdin_open = false;
                if (!partial.empty()) lines.push_back(std::move(partial));
                break;
            }
            partial.append(buffer.data(), *n);
            for (std::size_t end; (end = partial.find('\n')) != std::string::npos; partial.erase(0, end + 1))
                lines.push_back(partial.substr(0, end));
        }
        while (!lines.empty()) {
            const auto ec = c.send_datagram(as_bytes(lines.front()), Clock::now());
            if (ec == make_error_code(quic::Error::datagram_queue_full)) break;  // the next step sends some
            if (ec) return fail("--datagram: " + ec.message());
            lines.pop_front();
            ++sent;
        }
        if (!stdin_open && lines.empty() && !our_fin) {
            our_fin = true;
            heard_from = Clock::now();
            if (auto ec = c.stream_send(0, {}, true, Clock::now())) return fail("send failed: " + ec.message());
        }
        if (auto ec = d.step(std::chrono::milliseconds(stdin_open ? 10 : 50))) return fail("network: " + ec.message());
        print_events(c, quiet);
        while (c.poll_datagram(datagram)) {  // into one buffer, reused
            heard_from = Clock::now();
            ++received;
            std::fwrite(datagram.data(), 1, datagram.size(), stdout);
            std::fputc('\n', stdout);
            std::fflush(stdout);
        }
        while (auto chunk = c.poll_stream()) {
            heard_from = Clock::now();
            if (chunk->id == 0 && chunk->fin) peer_fin = true;
        }
        close_when_finished(c, our_fin, peer_fin, heard_from, closing);
        if (c.is_closed()) {
            if (!quiet) {
                const auto& s = c.stats();
                std::fprintf(stderr, "tapsec: %llu datagram(s) sent, %llu received, %llu lost, %llu dropped (queue full)\n",
                             static_cast<unsigned long long>(sent), static_cast<unsigned long long>(received),
                             static_cast<unsigned long long>(s.datagrams_lost),
                             static_cast<unsigned long long>(s.datagrams_dropped));
            }
            if (c.error()) return fail("QUIC: " + c.error().message() + describe_close(c));
            return 0;
        }
    }
}

/// The HTTP/3 control stream and the GET on stream 0 (before the handshake completes,
/// with a resumed session: in 0-RTT). An error message, or empty.
std::string h3_request(auto& c, const std::string& authority, const std::string& path) {
    auto control = c.open_stream(false);
    if (!control) return "cannot open the HTTP/3 control stream: " + control.error().message();
    if (auto ec = c.stream_send(*control, h3::control_stream_preface(), false, Clock::now()))
        return "HTTP/3 control stream: " + ec.message();
    if (auto ec = c.stream_send(0, h3::request_headers(authority, path), true, Clock::now()))
        return "HTTP/3 request: " + ec.message();
    return {};
}

int h3_get(auto& d, auto& c, const std::string& output, bool quiet) {
    std::FILE* out = output.empty() ? stdout : std::fopen(output.c_str(), "wb");
    if (!out) return fail("cannot write " + output);
    h3::FrameParser response;
    std::string status;
    std::uint64_t body = 0;
    bool done = false;
    const Instant end = Clock::now() + std::chrono::seconds(60);
    while (!done) {
        if (Clock::now() > end) return fail("HTTP/3 response timed out");
        if (auto ec = d.step(std::chrono::milliseconds(20))) return fail("network: " + ec.message());
        print_events(c, quiet);
        while (auto s = c.poll_stream()) {
            if (s->id != 0) continue;  // the peer's control and QPACK streams: nothing we need
            response.add(s->data);
            while (auto f = response.next()) {
                if (f->type == h3::frame_headers && status.empty()) {
                    auto fields = h3::decode_field_section(f->payload);
                    if (!fields) return fail("HTTP/3: cannot decode the response headers");
                    for (const auto& field : *fields)
                        if (field.name == ":status") status = field.huffman ? "(huffman)" : field.value;
                } else if (f->type == h3::frame_data) {
                    std::fwrite(f->payload.data(), 1, f->payload.size(), out);
                    body += f->payload.size();
                }
            }
            if (s->fin) done = true;
        }
        if (c.is_closed()) return fail("QUIC: connection closed before the response ended" + describe_close(c));
    }
    if (out != stdout) std::fclose(out);
    else std::fflush(stdout);
    if (!quiet) std::fprintf(stderr, "tapsec: HTTP/3 %s, %llu body bytes\n", status.c_str(), static_cast<unsigned long long>(body));
    print_path_summary(c, quiet);
    close_and_drain(d, c);
    return status == "200" ? 0 : 1;
}

template <class Crypto>
int run_connect(Arguments& args) {
    Options o;
    if (auto e = common_options(args, o); !e.empty()) return usage_fail(e);
    const HostPort target = parse_host_port(args.target);
    const std::string& host = target.host;
    const std::uint16_t port = target.port;
    o.tls.server_name = args.take("--servername").value_or(host);
    if (args.flag("--noverify")) {
        o.tls.delegate_authentication = true;
        o.tls.validate_peer = [](const PeerIdentity&) { return std::error_code{}; };
    } else if (o.tls.trust.empty()) {
        o.tls.trust.use_system_store = true;
    }
    const std::string path = args.take("--path").value_or("/");
    const std::string output = args.take("--output").value_or("");
    const bool keyupdate = args.flag("--keyupdate");
    const std::string token_file = args.take("--token-file").value_or("");
    const auto migrate_after = args.take_uint("--migrate-after", 0, 3600000);
    std::shared_ptr<SessionFile> session_file;
    if (auto f = args.take("--session-file")) {
        session_file = std::make_shared<SessionFile>(*f);
        // Refused at startup: a garbage file would otherwise mean a silent full handshake.
        if (auto text = slurp(*f); text && !text->empty()) {
            bool ok = false;
            auto b = from_hex(*text, &ok);
            if (!ok || !tls13::SessionState::parse(b)) return usage_fail("--session-file " + *f + " does not hold a session");
        }
        o.tls.session_cache = session_file;
        o.settings.early_data = true;
    }
    args.refuse_unknown_options();
    if (!token_file.empty())
        if (auto token = slurp(token_file)) o.settings.initial_token.assign(token->begin(), token->end());
    std::string resolve_error;
    auto peer = resolve(host, port, SOCK_DGRAM, resolve_error);
    if (!peer) return fail(resolve_error);
    auto socket = Udp::connect(*peer);
    if (!socket) return fail("cannot open a UDP socket: " + socket.error().message());
    Connection<Crypto> c(Role::client, o.tls, o.settings);
    Driver d(*socket, c);
    debug_options().handshake_starting();
    if (auto ec = c.start(Clock::now())) return fail("QUIC: " + ec.message());
    const std::string authority = host + ":" + std::to_string(port);
    const bool early_request = o.h3 && c.early_data_offered();
    if (early_request)  // 0-RTT: the request goes with the first flight
        if (auto e = h3_request(c, authority, path); !e.empty()) return fail(e);
    if (!o.h3 && c.early_data_offered()) {
        // 0-RTT on stream 0: what stdin holds right now (one read; its end, if it has
        // ended, is read again by pump_stdio, as a pipe's end keeps reading as 0).
        std::array<std::uint8_t, 16384> early{};
        if (const auto n = read_stdin_now(early); n && *n > 0) {
            if (auto ec = c.send(ByteView(early.data(), *n), Clock::now())) return fail("send failed: " + ec.message());
            debug_options().add_sent(*n);
        }
    }
    if (auto e = handshake(d, c, std::chrono::seconds(10)); !e.empty()) return fail(e);
    print_summary(c, o.quiet);
    print_early_summary(c, o.quiet);
    if (migrate_after) d.migrate_at(Clock::now() + std::chrono::milliseconds(*migrate_after), o.quiet);
    if (keyupdate) {
        const Instant end = Clock::now() + std::chrono::seconds(5);
        while (!c.handshake_confirmed() && Clock::now() < end) d.step(std::chrono::milliseconds(10));
        if (auto ec = c.update_keys(true, Clock::now())) return fail("key update: " + ec.message());
        print_events(c, o.quiet);
    }
    // The server's NEW_TOKEN token, stored once the connection is over (it comes after the handshake).
    struct SaveToken {
        const std::string& file;
        const Connection<Crypto>& c;
        ~SaveToken() {
            if (file.empty() || c.new_token().empty()) return;
            std::ofstream out(file, std::ios::binary | std::ios::trunc);
            out.write(reinterpret_cast<const char*>(c.new_token().data()), static_cast<std::streamsize>(c.new_token().size()));
        }
    } save_token{token_file, c};
    if (o.h3) {
        if (!early_request)
            if (auto e = h3_request(c, authority, path); !e.empty()) return fail(e);
        const int rc = h3_get(d, c, output, o.quiet);
        if (session_file && !session_file->stored() && !o.quiet)
            std::fprintf(stderr, "tapsec: no session ticket received; nothing stored for resumption\n");
        return rc;
    }
    if (o.datagram) return pump_datagrams(d, c, o.quiet);
    return pump_stdio(d, c, o.quiet);
}

/// A file an --h3 listener serves: mapped read-only with MAP_POPULATE (the page cache's
/// own pages: no copy, no page fault per 4 KiB; reading a 10 MiB file into fresh memory
/// cost ~70 ms on this machine's VM), read into memory when it cannot be mapped (not a
/// regular file, or empty).
class ResponseBody {
public:
    static std::shared_ptr<const ResponseBody> open(const std::string& path) {
        auto body = std::make_shared<ResponseBody>();
        std::error_code ec;
        const bool regular = std::filesystem::is_regular_file(path, ec);
        const auto size = regular ? std::filesystem::file_size(path, ec) : 0;
        if (regular && !ec && size > 0) {
            const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
            if (fd >= 0) {
                void* map = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
                ::close(fd);
                if (map != MAP_FAILED) {
                    body->map_ = map;
                    body->size_ = static_cast<std::size_t>(size);
                    return body;
                }
            }
        }
        auto text = slurp(path);
        if (!text) return nullptr;
        body->copy_ = std::move(*text);
        return body;
    }
    ResponseBody() = default;
    ResponseBody(const ResponseBody&) = delete;
    ResponseBody& operator=(const ResponseBody&) = delete;
    ~ResponseBody() {
        if (map_) ::munmap(map_, size_);
    }
    ByteView view() const { return map_ ? ByteView(static_cast<const std::uint8_t*>(map_), size_) : as_bytes(copy_); }

private:
    void* map_ = nullptr;
    std::size_t size_ = 0;
    std::string copy_;
};

template <class Crypto>
int serve_one(Udp& socket, const Options& o);

/// One connection's application on the endpoint (--h3, --echo, --rev, --www): the HTTP/3
/// file server, or pump_stdio's responder, one step at a time.
template <class Conn>
class EndpointSession {
public:
    EndpointSession(const Options& o, ServerMode mode, const std::string& htdocs, const std::string& default_file)
        : o_(o), mode_(mode), htdocs_(htdocs), default_file_(default_file), heard_from_(Clock::now()) {}

    /// Runs what the connection has for us; an error message (the connection is aborted) or empty.
    std::string step(Conn& c) {
        print_events(c, o_.quiet);
        if (!c.is_established()) return {};
        if (!established_) {
            established_ = true;
            print_summary(c, o_.quiet);
            print_early_summary(c, o_.quiet);
            if (o_.h3) {
                auto control = c.open_stream(false);
                if (!control) return "cannot open the HTTP/3 control stream: " + control.error().message();
                c.stream_send(*control, h3::control_stream_preface(), false, Clock::now());
            } else {
                responder_ = make_responder(mode_, c.session_info(), "Secure<Tls13Handshake, QuicPacketProtection, Udp>");
            }
        }
        return o_.h3 ? step_h3(c) : step_responder(c);
    }

    /// The connection is over: whether it ended well (as serve_one judges it).
    bool judge(const Conn& c, std::error_code error) const {
        print_path_summary(c, o_.quiet);
        const std::string peer = c.peer_address() ? c.peer_address()->to_string() : std::string("(no address)");
        if (!established_) {
            std::fprintf(stderr, "tapsec: %s: QUIC handshake failed: %s%s\n", peer.c_str(),
                         error ? error.message().c_str() : "connection closed", describe_close(c).c_str());
            return false;
        }
        // RFC 9000 10.1: every answer acknowledged, then silence: the client has what it asked for.
        if (error == make_error_code(quic::Error::idle_timeout) && answered_ > 0 && responses_.empty() &&
            c.all_stream_data_acknowledged()) {
            if (!o_.quiet) std::fprintf(stderr, "tapsec: %s: every response acknowledged, then idle timeout\n", peer.c_str());
            return true;
        }
        if (error) {
            const auto& st = c.stats();
            auto n = [](std::uint64_t v) { return static_cast<unsigned long long>(v); };
            std::fprintf(stderr,
                         "tapsec: %s: QUIC: %s%s (packets: %llu received, %llu dropped, %llu sent, %llu lost; %llu PTOs; "
                         "window %zu)\n",
                         peer.c_str(), error.message().c_str(), describe_close(c).c_str(), n(st.packets_received),
                         n(st.packets_dropped), n(st.packets_sent), n(st.packets_lost), n(st.pto_count),
                         c.congestion_window());
            return false;
        }
        if (!o_.quiet) std::fprintf(stderr, "tapsec: %s: connection closed\n", peer.c_str());
        return true;
    }

private:
    std::string step_h3(Conn& c) {
        while (auto s = c.poll_stream()) {
            if (s->id & 2) continue;  // unidirectional: the client's control / QPACK streams
            auto& parser = requests_[s->id];
            parser.add(s->data);
            while (auto f = parser.next()) {
                if (f->type != h3::frame_headers || answered_streams_.count(s->id)) continue;
                answered_streams_.insert(s->id);
                ++answered_;
                std::string path = "/", note;
                if (auto fields = h3::decode_field_section(f->payload))
                    for (const auto& field : *fields)
                        if (field.name == ":path") {
                            if (field.huffman) note = " (Huffman-coded path: serving " + default_file_ + ")";
                            else path = field.value;
                        }
                if (!note.empty()) path = "/" + default_file_;
                if (path.find("..") != std::string::npos) path = "/";
                auto body = ResponseBody::open(htdocs_ + path);
                const int status = body ? 200 : 404;
                if (!o_.quiet) std::fprintf(stderr, "tapsec: HTTP/3 GET %s -> %d%s\n", path.c_str(), status, note.c_str());
                const std::size_t size = body ? body->view().size() : 0;
                Bytes head = h3::response_headers(status, size);
                if (body) {
                    quic::write_varint(head, h3::frame_data);
                    quic::write_varint(head, size);
                }
                if (auto ec = c.stream_send(s->id, head, size == 0, Clock::now())) return "HTTP/3 answer: " + ec.message();
                if (size > 0) responses_[s->id] = Response{std::move(body), 0};
            }
        }
        return feed_responses(c);
    }

    // A response body goes into its stream a window at a time, as the client acknowledges
    // it: the send buffer stays small and warm instead of holding (and first faulting
    // in) a copy of the whole file. One chunk per stream per step, so the first datagrams
    // leave before the buffer has grown to the window.
    static constexpr std::size_t response_window = 2 << 20, response_chunk = 128 << 10;
    std::string feed_responses(Conn& c) {
        for (auto it = responses_.begin(); it != responses_.end();) {
            Response& r = it->second;
            const ByteView all = r.body->view();
            if (r.sent < all.size() && c.stream_send_buffered(it->first) < response_window) {
                const std::size_t n = std::min(response_chunk, all.size() - r.sent);
                if (auto ec = c.stream_send(it->first, all.subspan(r.sent, n), r.sent + n == all.size(), Clock::now()))
                    return "HTTP/3 answer: " + ec.message();
                r.sent += n;
            }
            it = r.sent == all.size() ? responses_.erase(it) : std::next(it);
        }
        return {};
    }

    std::string step_responder(Conn& c) {
        while (auto chunk = c.poll_stream()) {
            if (chunk->id != 0) continue;
            heard_from_ = Clock::now();
            if (chunk->fin) peer_fin_ = true;
            if (chunk->data.empty() || our_fin_) continue;
            Bytes reply;
            const bool done = responder_->on_data(chunk->data, reply);
            if (!reply.empty()) {
                if (auto ec = c.send(reply, Clock::now())) return "send failed: " + ec.message();
                ++answered_;
            }
            if (done) finish_ours(c);
        }
        if (peer_fin_ && !our_fin_) finish_ours(c);
        close_when_finished(c, our_fin_, peer_fin_, heard_from_, closing_);
        return {};
    }
    void finish_ours(Conn& c) {
        our_fin_ = true;
        heard_from_ = Clock::now();
        c.stream_send(0, {}, true, Clock::now());
    }

    const Options& o_;
    ServerMode mode_;
    const std::string& htdocs_;
    const std::string& default_file_;
    bool established_ = false, our_fin_ = false, peer_fin_ = false, closing_ = false;
    Clock::time_point heard_from_;
    std::unique_ptr<Responder> responder_;
    std::map<std::uint64_t, h3::FrameParser> requests_;
    struct Response {
        std::shared_ptr<const ResponseBody> body;
        std::size_t sent = 0;  // of the body, written to the stream
    };
    std::map<std::uint64_t, Response> responses_;  // bodies still being fed
    std::set<std::uint64_t> answered_streams_;
    std::uint64_t answered_ = 0;
};

volatile std::sig_atomic_t endpoint_stop_signal = 0;

/// --h3 / --echo / --rev / --www: every client at once on one socket, a quic::ServerEndpoint
/// routing by connection ID. Exits after `accepts` connections finished (0: on a signal
/// only), 0 when all of them ended well; SIGTERM / SIGINT close every connection with
/// CONNECTION_CLOSE and exit 0.
template <class Crypto>
int serve_endpoint(Udp& socket, const Options& o, ServerMode mode, const std::string& htdocs,
                   const std::string& default_file, std::uint64_t accepts, const quic::EndpointLimits& limits) {
    using Endpoint_ = quic::ServerEndpoint<Crypto>;
    using Session = EndpointSession<typename Endpoint_::Conn>;
    Endpoint_ endpoint(o.tls, o.settings, limits);
    socket.set_receive_buffer(8 << 20);
    struct sigaction action {};
    action.sa_handler = [](int signal_number) { endpoint_stop_signal = signal_number; };
    ::sigemptyset(&action.sa_mask);
    ::sigaction(SIGTERM, &action, nullptr);
    ::sigaction(SIGINT, &action, nullptr);
    std::map<typename Endpoint_::Handle, Session> sessions;
    std::uint64_t finished = 0, failed = 0;
    DatagramIo io(socket.native_handle());
    auto flush = [&]() -> std::error_code {
        return io.flush(socket.native_handle(), [&](MutableByteView slot) -> std::optional<std::pair<std::size_t, tapsec::Endpoint>> {
            auto t = endpoint.poll_transmit(slot);
            if (!t) return std::nullopt;
            return std::pair{t->size, t->to};
        });
    };
    auto collect_finished = [&] {
        while (auto f = endpoint.poll_finished()) {
            auto it = sessions.find(f->handle);
            bool ok = false;
            if (it != sessions.end()) {
                print_events(*f->connection, o.quiet);
                ok = it->second.judge(*f->connection, f->error);
                sessions.erase(it);
            }
            ++finished;
            if (!ok) ++failed;
        }
    };
    for (;;) {
        if (endpoint_stop_signal) {
            const int signal_number = endpoint_stop_signal;
            const std::size_t open = endpoint.connection_count();
            endpoint.close_all(Clock::now());
            flush();
            collect_finished();
            if (!o.quiet)
                std::fprintf(stderr, "tapsec: %s: CONNECTION_CLOSE sent to %zu connection(s); %llu finished before\n",
                             ::strsignal(signal_number), open, static_cast<unsigned long long>(finished - open));
            return 0;
        }
        if (auto ec = flush()) return fail("network: " + ec.message());
        Instant deadline = Clock::now() + std::chrono::milliseconds(20);
        if (auto t = endpoint.next_timeout()) deadline = std::min(deadline, std::max(*t, Clock::now()));
        // Whatever is queued, before answering.
        if (auto ec = io.receive(socket.native_handle(), deadline, [&](ByteView datagram, const tapsec::Endpoint& from) {
                endpoint.receive(datagram, from, Clock::now());
            }))
            return fail("network: " + ec.message());
        const Instant now = Clock::now();
        if (auto t = endpoint.next_timeout(); t && *t <= now) endpoint.on_timeout(now);
        // What the connections answer by themselves (handshake flights, HANDSHAKE_DONE,
        // ACKs) goes out before the applications run: a response that takes a while to
        // start must not hold back the client's handshake confirmation.
        if (auto ec = flush()) return fail("network: " + ec.message());
        while (auto h = endpoint.poll_accepted()) {
            sessions.try_emplace(*h, o, mode, htdocs, default_file);
            debug_options().handshake_starting();
        }
        for (auto& [h, session] : sessions) {
            auto* c = endpoint.connection(h);
            if (!c) continue;
            if (auto e = session.step(*c); !e.empty()) {
                std::fprintf(stderr, "tapsec: %s\n", e.c_str());
                c->abort(o.settings.application_close_code, Clock::now());
            }
            endpoint.update(h);
        }
        collect_finished();
        if (accepts && finished >= accepts) {
            endpoint.close_all(Clock::now());  // any beyond the N: closed, not left hanging
            flush();
            if (!o.quiet) {
                const auto& st = endpoint.stats();
                auto n = [](std::uint64_t v) { return static_cast<unsigned long long>(v); };
                std::fprintf(stderr,
                             "tapsec: %llu connection(s) served, %llu failed; endpoint: %llu accepted, %llu refused, "
                             "%llu datagrams in (%llu malformed), "
                             "%llu to unknown CIDs (%llu stateless resets), %llu to retired CIDs, %llu 0-RTT buffered\n",
                             n(finished), n(failed), n(st.connections_accepted), n(st.connections_refused),
                             n(st.datagrams_received), n(st.malformed),
                             n(st.unknown_cid_dropped), n(st.stateless_resets_sent), n(st.draining_dropped),
                             n(st.early_buffered));
            }
            return failed ? 1 : 0;
        }
    }
}

template <class Crypto>
int run_listen(Arguments& args) {
    Options o;
    if (auto e = common_options(args, o); !e.empty()) return usage_fail(e);
    const HostPort bind_to = parse_listen_address(args.target);
    const std::string& address = bind_to.host;
    const std::uint16_t port = bind_to.port;
    const std::string port_text = std::to_string(port);
    if (o.tls.identity.empty()) return usage_fail("listen quic needs --cert and --key");
    o.tls.tickets_to_send = static_cast<unsigned>(args.take_uint("--tickets", 0, 16).value_or(1));
    o.settings.early_data = !args.flag("--no-early-data") && o.tls.tickets_to_send > 0;
    // One ticket key and one anti-replay record for every connection of this process;
    // a restarted listener has new ones, so its predecessor's tickets do not resume.
    o.tls.ticket_key = tls13::TicketKey::generate<crypto::DefaultProvider>();
    o.tls.anti_replay = std::make_shared<tls13::AntiReplay>();
    const bool forever = args.flag("--forever");
    const auto naccept = args.take_uint("--naccept", 1, 1000000);
    if (forever && naccept) return usage_fail("--forever and --naccept exclude each other");
    const std::uint64_t accepts = forever ? 0 : naccept.value_or(1);
    quic::EndpointLimits limits;
    if (auto n = args.take_uint("--max-conns", 1, 1000000)) limits.max_connections = *n;
    if (auto n = args.take_uint("--max-pending", 1, 1000000)) limits.max_pending_handshakes = *n;
    o.settings.retry = args.flag("--retry");
    if (auto file = args.take("--secret-file")) {
        if (auto e = load_secret(*file, o.settings); !e.empty()) return usage_fail(e);
    } else {
        std::array<std::uint8_t, 32> key{};  // a reset key makes the listener answer unknown CIDs with a Stateless Reset
        crypto::Botan2::random(key);
        o.settings.reset_key.assign(key.begin(), key.end());
    }
    const std::string htdocs = args.take("--htdocs").value_or(".");
    const std::string default_file = args.take("--default-file").value_or("index.html");
    ServerMode mode = ServerMode::stdio;
    if (auto e = take_server_mode(args, mode); !e.empty()) return usage_fail(e);
    if (mode != ServerMode::stdio && o.h3) return usage_fail("--h3 serves files; --echo, --rev and --www answer the stdin stream");
    if (mode != ServerMode::stdio && o.datagram) return usage_fail("--datagram carries stdin and stdout only");
    args.refuse_unknown_options();
    auto socket = Udp::bind(address, static_cast<std::uint16_t>(port));
    if (!socket) return fail("cannot listen on " + address + ":" + port_text + ": " + socket.error().message());
    if (!o.quiet) std::fprintf(stderr, "tapsec: listening on %s:%u (QUIC)\n", address.c_str(), socket->local_port());
    // --h3, --echo, --rev, --www: the endpoint, for one connection (--naccept 1, the
    // default) as for many. stdin/stdout and --datagram: one connection after another.
    if (o.h3 || mode != ServerMode::stdio)
        return serve_endpoint<Crypto>(*socket, o, mode, htdocs, default_file, accepts, limits);
    if (forever) return usage_fail("--forever needs --h3, --echo, --rev or --www (stdin/stdout serves one connection)");
    for (std::uint64_t served = 1; served < accepts; ++served)
        if (const int rc = serve_one<Crypto>(*socket, o); rc != 0) return rc;
    return serve_one<Crypto>(*socket, o);
}

/// One stdin/stdout (or --datagram) connection on the listening socket, from the client's
/// first datagram to its close.
template <class Crypto>
int serve_one(Udp& socket, const Options& o) {
    Connection<Crypto> c(Role::server, o.tls, o.settings);
    Driver d(socket, c);
    c.start(Clock::now());
    // Wait for a client as long as it takes; then the handshake has 10 s.
    while (!c.is_established()) {
        if (auto ec = d.step(std::chrono::milliseconds(100))) return fail("network: " + ec.message());
        if (c.error()) return fail("QUIC handshake failed: " + c.error().message() + describe_close(c));
        // A client has begun once a packet of it was processed: a Retry, a Version
        // Negotiation or a Stateless Reset answered a datagram without keeping state.
        if (c.stats().packets_received > 0) break;
    }
    debug_options().handshake_starting();  // from the client's first datagram
    if (auto e = handshake(d, c, std::chrono::seconds(10)); !e.empty()) return fail(e);
    print_summary(c, o.quiet);
    print_early_summary(c, o.quiet);
    if (o.datagram) return pump_datagrams(d, c, o.quiet);
    return pump_stdio(d, c, o.quiet);
}

DemoResult run_demo() {
    // Client and server in one process over UDP loopback, authenticated by an external
    // PSK with X25519 (psk_dhe_ke), as the tls13 demo: no certificate files needed.
    tls13::Config server_config, client_config;
    Bytes psk(32);
    crypto::Botan2::random(psk);
    for (auto* c : {&server_config, &client_config}) {
        c->pre_shared_keys.push_back({"tapsec-demo", SecretBytes(psk.begin(), psk.end())});
        c->alpn = {"tapsec"};
        c->server_name = "localhost";
    }
    server_config.tickets_to_send = 0;
    auto server_socket = Udp::bind("127.0.0.1", 0);
    if (!server_socket) return DemoResult{false, {}, 0, 0, server_socket.error().message()};
    const auto port = server_socket->local_port();
    return run_echo_demo<Quic<DefaultProvider>>(
        [&]() -> Result<Quic<DefaultProvider>> { return Quic<DefaultProvider>(Role::server, server_config, std::move(*server_socket)); },
        [&]() -> Result<Quic<DefaultProvider>> {
            auto socket = Udp::connect(*Endpoint::parse("127.0.0.1", port));
            if (!socket) return socket.error();
            return Quic<DefaultProvider>(Role::client, client_config, std::move(*socket));
        },
        NoCheck{},
        [](auto& client) {
            const auto info = client.info();
            return info.protocol + ", " + info.cipher_suite + ", " + info.group + ", ALPN " + info.alpn + provider_suffix(client);
        },
        std::chrono::seconds(5));
}

const TakesProvider takes_provider{"quic"};
const Registration registration{ProtocolEntry{
    "quic",
    "Secure<Tls13Handshake, QuicPacketProtection, Udp>",
    "IETF QUIC",
    Quic<>::features,
    std::string(usage) + debug_usage,
    [](Arguments& a) { return with_provider(a, [&]<class Crypto>() { return run_connect<Crypto>(a); }); },
    [](Arguments& a) { return with_provider(a, [&]<class Crypto>() { return run_listen<Crypto>(a); }); },
    run_demo,
    false,
    // DM (listen --retry), CM (the server follows a migrating client) and SV (the 3x limit,
    // Retry and NEW_TOKEN tokens) now match the survey: no note needed (docs/quic.md).
    // ED (0-RTT: connect --session-file, Secure<>::send_early_data) matches the survey too,
    // and LHP (1-RTT datagrams padded to a multiple of --pad N, Settings::pad_to).
    {},
}};

}  // namespace
}  // namespace tapsec::cli
