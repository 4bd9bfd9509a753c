// `tapsec connect|listen wireguard --config FILE`: a WireGuard peer configured with the
// `wg` tool's INI file. Three data paths:
//   (default)          stdin/stdout carry inner IP packets, each framed as a 2-byte
//                      big-endian length followed by the packet (RFC 1035 TCP framing);
//   --tun NAME         a TUN device (Linux, root): the interface's Address and MTU from
//                      the file are applied, and the kernel routes through the tunnel;
//   --udp-to IP:PORT   each stdin line goes as one UDP datagram to IP:PORT inside the
//                      tunnel (from the file's first Address, same port); the payload of
//                      every UDP datagram coming out of the tunnel is written to stdout.
#include <fcntl.h>
#include <sys/stat.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <iterator>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <thread>

#include <tapsec/tapsec.hpp>

#include "address.hpp"
#include "provider_option.hpp"
#include "registry.hpp"
#include "tunnel_batch.hpp"
#include "tunnel_io.hpp"

namespace tapsec::cli {
namespace {

template <class Crypto = crypto::Botan2>
using WireGuard = Secure<WireGuardHandshake, WireGuardRecord, Udp, Crypto>;
using Config = wireguard::Config;
using wireguard::InterfaceSettings;
using namespace std::chrono_literals;

constexpr const char* usage =
    "options:\n"
    "  --config FILE         WireGuard configuration in the `wg` INI format (required):\n"
    "                        [Interface] PrivateKey, ListenPort, Address, MTU;\n"
    "                        [Peer] PublicKey, PresharedKey, Endpoint, AllowedIPs,\n"
    "                        PersistentKeepalive\n"
    "  --tun NAME            carry packets of a TUN device NAME (created; needs root)\n"
    "  --udp-to IP:PORT      stdin lines as UDP datagrams to IP:PORT inside the tunnel;\n"
    "                        UDP payloads from the tunnel to stdout\n"
    "  --handshake-timeout S connect: give up after S seconds (default 20); listen: give\n"
    "                        up when no peer completed a handshake after S seconds\n"
    "                        (default: wait until interrupted)\n"
    "  --status FILE         keep FILE (mode 0600) up to date, once a second and at exit,\n"
    "                        with what `wg show` prints: public key, listening port, per\n"
    "                        peer endpoint, allowed ips, latest handshake, transfer\n"
    "  --cookie-rate N       handshake messages a second (over the last second) above\n"
    "                        which the responder is under load and answers handshakes\n"
    "                        without a valid mac2 with a cookie reply (whitepaper 5.4.7;\n"
    "                        default 2000; 0: always under load)\n"
    "  --verbose             report handshakes, roaming and dropped packets on stderr\n"
    "  --provider NAME       crypto provider: openssl or botan (default: openssl where\n"
    "                        built with it); --verbose names the one used\n"
    "\n"
    "The target is optional: connect HOST:PORT overrides the (only) peer's Endpoint,\n"
    "listen [ADDR:]PORT overrides ListenPort. Endpoint (in the file or the target) may be\n"
    "a host name; it is resolved once, at start. Without --tun or --udp-to, stdin/stdout\n"
    "carry inner IP packets framed as a 2-byte big-endian length and the packet.\n"
    "Inbound datagrams lost before tapsec read them (the socket's receive buffer\n"
    "overflowed) or dropped for a full queue are counted; any such loss is reported at\n"
    "exit and the exit status is 1.\n"
    "`tapsec show wireguard --config FILE [--status FILE]` prints the interface and\n"
    "peers as `wg show` does (the live figures come from a running instance's --status).\n";

std::atomic<bool> stop_requested{false};
constexpr std::uint64_t default_cookie_rate = 2000;  // --cookie-rate

struct Options {
    Config config;
    std::string tun;
    std::optional<std::pair<wireguard::IpAddress, std::uint16_t>> udp_to;
    bool verbose = false;
    std::string bind_address = "0.0.0.0";
    std::string status_file;
    std::string interface_name = "tapsec";  // the config file's name without .conf, as wg-quick names it
    bool is_connect = false;
    std::optional<std::chrono::milliseconds> listen_timeout;  // listen: no peer within this long is a failure
};

/// `wg` resolves host names in Endpoint; the library's parser takes numeric addresses
/// only, so names are resolved here, once, and the line rewritten before parsing (line
/// numbers in its messages stay right).
std::string resolve_endpoints(const std::string& text, const std::string& source) {
    std::istringstream in(text);
    std::string out, line;
    int number = 0;
    while (std::getline(in, line)) {
        ++number;
        const auto equals = line.find('=');
        auto trim = [](std::string s) {
            const auto first = s.find_first_not_of(" \t\r");
            if (first == std::string::npos) return std::string();
            return s.substr(first, s.find_last_not_of(" \t\r") - first + 1);
        };
        if (equals != std::string::npos) {
            std::string key = trim(line.substr(0, equals));
            std::transform(key.begin(), key.end(), key.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
            const std::string value = trim(line.substr(equals + 1));
            if (key == "endpoint" && !Endpoint::parse(value)) {
                const HostPort target = parse_host_port(value, source + ":" + std::to_string(number) + ": Endpoint");
                std::string error;
                auto endpoint = resolve(target.host, target.port, SOCK_DGRAM, error);
                if (!endpoint) throw RuntimeFailure(source + ":" + std::to_string(number) + ": Endpoint: " + error);
                line = "Endpoint = " + endpoint->to_string();
            }
        }
        out += line + "\n";
    }
    return out;
}

/// Reads and checks the options; returns an error line for cli::fail, or nullopt.
std::optional<std::string> read_options(Arguments& args, bool is_connect, Options& out) {
    auto file = args.take("--config");
    auto tun = args.take("--tun");
    auto udp_to = args.take("--udp-to");
    auto timeout = args.take_seconds("--handshake-timeout");
    out.status_file = args.take("--status").value_or("");
    const auto cookie_rate = args.take_uint("--cookie-rate", 0, 10'000'000);
    out.verbose = args.flag("--verbose");
    args.refuse_unknown_options();
    if (!file) return std::string("--config FILE is required (a `wg`-format configuration)");
    out.is_connect = is_connect;
    out.interface_name = file->substr(file->rfind('/') == std::string::npos ? 0 : file->rfind('/') + 1);
    if (out.interface_name.size() > 5 && out.interface_name.ends_with(".conf")) out.interface_name.resize(out.interface_name.size() - 5);
    std::ifstream in(*file, std::ios::binary);
    if (!in) return "cannot read configuration " + *file;
    std::stringstream text;
    text << in.rdbuf();
    auto parsed = wireguard::parse_config(resolve_endpoints(text.str(), *file), *file);
    if (!parsed.settings) return parsed.error;
    out.config = Config::from(std::move(*parsed.settings));
    // About two thirds of what one core answers (docs/performance.md: 3,000-3,500
    // handshakes per CPU-second): cookies start before the listener falls behind, and
    // not for a crowd of 1,000 peers arriving at once.
    out.config.load.handshakes_per_second = cookie_rate.value_or(default_cookie_rate);
    out.config.load.always_under_load = cookie_rate == 0u;
    if (tun && udp_to) return std::string("--tun and --udp-to are alternatives; give one");
    if (tun) {
        if (tun->empty() || tun->size() >= IFNAMSIZ) return "--tun: '" + *tun + "' is not an interface name";
        out.tun = *tun;
    }
    if (udp_to) {
        auto ep = Endpoint::parse(*udp_to);
        auto addr = ep ? wireguard::IpAddress::parse(ep->address()) : std::nullopt;
        if (!ep || !addr || addr->v6) return "--udp-to: '" + *udp_to + "' is not IPv4:PORT";
        if (out.config.interface.addresses.empty() || out.config.interface.addresses[0].address.v6)
            return std::string("--udp-to needs an IPv4 Address = ... in [Interface] (the datagrams' source)");
        out.udp_to = {{*addr, ep->port()}};
    }
    out.config.handshake_timeout = timeout.value_or(20s);
    if (!is_connect) out.listen_timeout = timeout;
    auto& peers = out.config.interface.peers;
    if (!args.target.empty()) {
        if (is_connect) {
            const HostPort target = parse_host_port(args.target);
            if (peers.size() != 1) return std::string("HOST:PORT applies to a configuration with exactly one [Peer]");
            peers[0].endpoint = resolve_or_throw(target.host, target.port, SOCK_DGRAM);
        } else {
            const HostPort bind_to = parse_listen_address(args.target, out.bind_address);
            out.bind_address = bind_to.host;
            out.config.interface.listen_port = bind_to.port;
        }
    }
    if (peers.empty()) return std::string("the configuration has no [Peer]");
    if (out.tun.empty() && !out.udp_to && ::isatty(0))
        return std::string("stdin is a terminal, but the default data path is framed IP packets: "
                           "give --udp-to IP:PORT to type datagrams, or --tun NAME");
    if (is_connect && std::none_of(peers.begin(), peers.end(), [](const auto& p) { return p.endpoint.has_value(); }))
        return std::string("connect needs a peer Endpoint (in the file, or as HOST:PORT)");
    return std::nullopt;
}

/// Benchmark switches (docs/wireguard.md): TAPSEC_WG_UDP_OFFLOAD=0 turns UDP GSO/GRO off,
/// TAPSEC_WG_TUN_OFFLOAD=0 the TUN device's TSO/checksum offload, to measure each step.
bool switch_enabled(const char* name) {
    const char* value = std::getenv(name);
    return !value || std::string(value) != "0";
}
bool udp_offload_enabled() { return switch_enabled("TAPSEC_WG_UDP_OFFLOAD"); }
bool tun_offload_enabled() { return switch_enabled("TAPSEC_WG_TUN_OFFLOAD"); }

int open_tun(const std::string& name, const InterfaceSettings& settings, bool vnet_header, std::string& error) {
    const int fd = ::open("/dev/net/tun", O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        error = std::string("cannot open /dev/net/tun: ") + std::strerror(errno);
        return -1;
    }
    ifreq request{};
    // With a virtio-net header in front of each packet the kernel may hand over TCP
    // super-packets (TSO) and partial checksums, which the batched path finishes.
    request.ifr_flags = IFF_TUN | IFF_NO_PI | (vnet_header ? IFF_VNET_HDR : 0);
    std::strncpy(request.ifr_name, name.c_str(), IFNAMSIZ - 1);
    if (::ioctl(fd, TUNSETIFF, &request) != 0) {
        error = "cannot create TUN device " + name + ": " + std::strerror(errno);
        ::close(fd);
        return -1;
    }
    if (vnet_header && ::ioctl(fd, TUNSETOFFLOAD, TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN) != 0)
        (void)::ioctl(fd, TUNSETOFFLOAD, 0);  // no offloads: plain packets, still behind the header
    auto run = [&](const std::string& command) { return std::system((command + " >/dev/null 2>&1").c_str()) == 0; };
    for (const auto& address : settings.addresses)
        if (!run("ip addr add " + address.to_string() + " dev " + name)) {
            error = "cannot add address " + address.to_string() + " to " + name;
            ::close(fd);
            return -1;
        }
    if (!run("ip link set " + name + " mtu " + std::to_string(settings.mtu.value_or(1420)) + " up")) {
        error = "cannot bring " + name + " up";
        ::close(fd);
        return -1;
    }
    return fd;
}

/// Events carry codes, not text: the words are made here, and only with --verbose.
/// Dropped packets arrive coalesced (at most one event a second); the counts are the
/// engine's drop counters.
void report_event(auto& engine, const Event& event, bool verbose) {
    if (!verbose) return;
    const Event* e = &event;
    {
        switch (e->kind) {
            case EventKind::handshake_complete: std::fprintf(stderr, "tapsec: handshake complete\n"); break;
            case EventKind::key_updated: std::fprintf(stderr, "tapsec: new session\n"); break;
            case EventKind::peer_address_changed:
                for (std::size_t i = 0; i < engine.peer_count(); ++i)
                    if (auto ep = engine.endpoint(i)) std::fprintf(stderr, "tapsec: peer %zu at %s\n", i, ep->to_string().c_str());
                break;
            case EventKind::dropped_packet:
                std::fprintf(stderr, "tapsec: dropped packet: %s (%llu dropped in all)\n", e->reason.message().c_str(),
                             static_cast<unsigned long long>(engine.total_drops()));
                break;
            default: std::fprintf(stderr, "tapsec: event: %s\n", e->reason ? e->reason.message().c_str() : "-"); break;
        }
    }
}

void report_events(auto& conn, bool verbose) {
    while (auto e = conn.next_event()) report_event(conn.engine(), *e, verbose);
}

/// What a running peer knows about one configured peer, for the status text.
struct PeerLive {
    std::optional<Endpoint> endpoint;
    wireguard::PeerStatistics statistics;
};

std::string plural(std::uint64_t n, const char* unit) { return std::to_string(n) + " " + unit + (n == 1 ? "" : "s"); }

/// "1 minute, 5 seconds ago", as `wg show` words it.
std::string ago(std::chrono::seconds elapsed) {
    auto s = static_cast<std::uint64_t>(std::max<std::int64_t>(elapsed.count(), 0));
    if (s == 0) return "Now";
    std::string out;
    for (auto [size, unit] : {std::pair<std::uint64_t, const char*>{86400, "day"}, {3600, "hour"}, {60, "minute"}, {1, "second"}}) {
        if (s >= size) {
            out += (out.empty() ? "" : ", ") + plural(s / size, unit);
            s %= size;
        }
    }
    return out + " ago";
}

/// "1.23 KiB", as `wg show` prints transfer figures.
std::string bytes_text(std::uint64_t n) {
    char text[32];
    if (n < 1024) return std::to_string(n) + " B";
    const char* units[] = {"KiB", "MiB", "GiB", "TiB"};
    double value = static_cast<double>(n);
    int unit = -1;
    while (value >= 1024 && unit < 3) value /= 1024, ++unit;
    std::snprintf(text, sizeof text, "%.2f %s", value, units[unit]);
    return text;
}

/// The interface and its peers in `wg show`'s layout. `live(i)` gives the running
/// figures of configured peer i (nullopt when not running, as `wg show` omits them for
/// a peer that never completed a handshake).
std::string status_text(const std::string& name, const InterfaceSettings& settings, const wireguard::Key& public_key,
                        std::uint16_t listening_port, const std::function<std::optional<PeerLive>(std::size_t)>& live) {
    std::string out = "interface: " + name + "\n  public key: " + wireguard::encode_key(public_key) +
                      "\n  private key: (hidden)\n";
    if (listening_port) out += "  listening port: " + std::to_string(listening_port) + "\n";
    for (std::size_t i = 0; i < settings.peers.size(); ++i) {
        const auto& peer = settings.peers[i];
        const auto running = live(i);
        out += "\npeer: " + wireguard::encode_key(peer.public_key) + "\n";
        if (peer.preshared_key) out += "  preshared key: (hidden)\n";
        const auto endpoint = running && running->endpoint ? running->endpoint : peer.endpoint;
        if (endpoint) out += "  endpoint: " + endpoint->to_string() + "\n";
        std::string ips;
        for (const auto& prefix : peer.allowed_ips) ips += (ips.empty() ? "" : ", ") + prefix.to_string();
        out += "  allowed ips: " + (ips.empty() ? std::string("(none)") : ips) + "\n";
        if (running && running->statistics.last_handshake)
            out += "  latest handshake: " +
                   ago(std::chrono::duration_cast<std::chrono::seconds>(Clock::now() - *running->statistics.last_handshake)) + "\n";
        if (running && (running->statistics.received_bytes || running->statistics.sent_bytes))
            out += "  transfer: " + bytes_text(running->statistics.received_bytes) + " received, " +
                   bytes_text(running->statistics.sent_bytes) + " sent\n";
        if (peer.persistent_keepalive.count())
            out += "  persistent keepalive: every " + plural(static_cast<std::uint64_t>(peer.persistent_keepalive.count()), "second") + "\n";
    }
    return out;
}

std::string live_status(auto& conn, const Options& options) {
    const auto& engine = conn.engine();
    return status_text(options.interface_name, conn.config().interface, engine.public_key(), conn.transport().local_port(),
                       [&](std::size_t i) -> std::optional<PeerLive> {
                           auto index = engine.find_peer(conn.config().interface.peers[i].public_key);
                           if (!index) return std::nullopt;
                           return PeerLive{engine.endpoint(*index), engine.statistics(*index)};
                       });
}

/// Replaces `path` with `text` (mode 0600: it names the peers and their addresses).
void write_status_file(const std::string& path, const std::string& text) {
    const std::string temporary = path + ".tmp";
    const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) return;
    const bool written = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
    ::close(fd);
    if (written) ::rename(temporary.c_str(), path.c_str());
}

/// The kernel's count of datagrams it dropped on this socket because its receive buffer
/// was full: the "drops" column of the socket's line (found by inode) in /proc/net/udp*.
std::optional<std::uint64_t> socket_drops(int fd) {
    struct stat st {};
    if (::fstat(fd, &st) != 0) return std::nullopt;
    const std::string inode = std::to_string(st.st_ino);
    for (const char* table : {"/proc/net/udp", "/proc/net/udp6"}) {
        std::ifstream in(table);
        std::string line;
        std::getline(in, line);  // the header
        while (std::getline(in, line)) {
            std::istringstream words(line);
            std::vector<std::string> field{std::istream_iterator<std::string>(words), std::istream_iterator<std::string>()};
            // sl local rem st tx:rx tr:when retrnsmt uid timeout inode ref pointer drops
            if (field.size() >= 13 && field[9] == inode) return std::strtoull(field[12].c_str(), nullptr, 10);
        }
    }
    return std::nullopt;
}

bool any_handshake(auto& conn) {
    const auto& engine = conn.engine();
    for (std::size_t i = 0; i < engine.peer_count(); ++i)
        if (engine.statistics(i).handshakes_completed || engine.has_session(i)) return true;
    return false;
}

int run_data_path_loop(auto& conn, const Options& options, int tun_fd);

/// Moves packets between the tunnel and stdin/stdout or a TUN device until stdin ends
/// (then two quiet seconds; a listener first waits for a peer), a signal arrives, or a
/// fatal error. Inbound loss (socket overflow, full queues) makes the exit status 1.
int run_data_path(auto& conn, const Options& options, int tun_fd) {
    const int result = run_data_path_loop(conn, options, tun_fd);
    if (!options.status_file.empty()) write_status_file(options.status_file, live_status(conn, options));
    const std::uint64_t kernel_drops = socket_drops(conn.transport().native_handle()).value_or(0);
    const std::uint64_t queue_drops = conn.engine().queue_overflows();
    conn.close();
    if (result != 0) return result;
    if (kernel_drops || queue_drops)
        return cli::fail(std::to_string(kernel_drops + queue_drops) + " packets lost: " + std::to_string(kernel_drops) +
                         " inbound dropped by the kernel (socket receive buffer full), " + std::to_string(queue_drops) +
                         " by full queues");
    return 0;
}

int run_data_path_loop(auto& conn, const Options& options, int tun_fd) {
    const auto started = Clock::now();
    auto peer_came_at = started;
    auto status_written = Clock::now() - 1h;
    bool peer_came = options.is_connect;
    TunnelPackets packets(
        tun_fd,
        options.udp_to ? TunnelPackets::MakeUdpPacket([&](ByteView line) {
            const auto& [address, port] = *options.udp_to;
            return wireguard::make_ipv4_udp_packet(conn.config().interface.addresses[0].address, address, port, port, line);
        })
                       : TunnelPackets::MakeUdpPacket{},
        [](ByteView packet) -> std::optional<Bytes> {
            if (auto udp = wireguard::parse_ipv4_udp_packet(packet)) return std::move(udp->payload);
            return std::nullopt;
        });
    auto check = [&](const TunnelProgress& progress) -> TunnelStep {
        if (!peer_came && any_handshake(conn)) {
            peer_came = true;
            peer_came_at = Clock::now();
        }
        if (!options.status_file.empty() && Clock::now() - status_written >= 1s) {
            write_status_file(options.status_file, live_status(conn, options));
            status_written = Clock::now();
        }
        if (!peer_came && options.listen_timeout && Clock::now() - started > *options.listen_timeout)
            return {TunnelStep::exit_with,
                    cli::fail("no peer completed a handshake within " +
                              std::to_string(std::chrono::duration_cast<std::chrono::seconds>(*options.listen_timeout).count()) +
                              " s (--handshake-timeout)")};
        // Two quiet seconds after stdin ended, counted from the first handshake for a listener.
        const auto quiet_since = std::max(progress.quiet_since, peer_came_at);
        if (peer_came && !progress.input_open && Clock::now() - quiet_since > 2s) return {TunnelStep::leave};
        return {};
    };
    if (tun_fd >= 0) {
        // The batched path (tunnel_batch.hpp) drives the engine directly; a listener's
        // engine has not been started by a handshake() call.
        auto& engine = conn.engine();
        if (!options.is_connect)
            if (auto ec = engine.start(Clock::now())) return cli::fail(ec.message());
        TunBatchOptions batch;
        batch.udp_offload = udp_offload_enabled();
        batch.vnet_header = tun_offload_enabled();
        auto report = [&] {
            while (auto e = engine.poll_event()) report_event(engine, *e, options.verbose);
        };
        if (auto status = run_tun_batched(engine, conn.transport().native_handle(), tun_fd, stop_requested, report,
                                          check, batch))
            return *status;
        return 0;
    }
    auto no_intercept = [](ByteView) -> std::optional<int> { return std::nullopt; };
    if (auto status = run_tunnel(conn, packets, stop_requested, [&] { report_events(conn, options.verbose); },
                                 no_intercept, check))
        return *status;
    if (!peer_came) return cli::fail("interrupted before any peer completed a handshake");
    return 0;
}

template <class Crypto>
int run(Arguments& args, bool is_connect) {
    Options options;
    if (auto error = read_options(args, is_connect, options)) return cli::usage_fail(*error);
    if (!Endpoint::parse(options.bind_address, 0))
        options.bind_address = resolve_or_throw(options.bind_address, options.config.interface.listen_port, SOCK_DGRAM).address();
    ::signal(SIGINT, [](int) { stop_requested = true; });
    ::signal(SIGTERM, [](int) { stop_requested = true; });
    ::signal(SIGPIPE, SIG_IGN);
    auto udp = Udp::bind(options.bind_address, options.config.interface.listen_port);
    if (!udp) {
        return cli::fail("cannot bind UDP " + options.bind_address + ":" + std::to_string(options.config.interface.listen_port) +
                         ": " + udp.error().message());
    }
    // A burst from the peer (5,000 lines through --udp-to) must not overflow the socket
    // while tapsec decrypts.
    udp->set_receive_buffer(32 << 20);
    const std::uint16_t bound_port = udp->local_port();
    int tun_fd = -1;
    if (!options.tun.empty()) {
        std::string error;
        tun_fd = open_tun(options.tun, options.config.interface, tun_offload_enabled(), error);
        if (tun_fd < 0) return cli::fail(error);
    }
    WireGuard<Crypto> conn(is_connect ? Role::client : Role::server, options.config, std::move(*udp));
    if (is_connect) {
        if (auto ec = conn.handshake()) {
            report_events(conn, options.verbose);
            return cli::fail("handshake with " + conn.engine().endpoint(0).value_or(Endpoint{}).to_string() +
                             " failed: " + ec.message());
        }
        report_events(conn, options.verbose);
        if (options.verbose) std::fprintf(stderr, "tapsec: connected to %s\n", conn.info().peer.subject.c_str());
    } else {
        std::fprintf(stderr, "tapsec: wireguard: listening on %s:%u, public key %s\n", options.bind_address.c_str(), bound_port,
                     wireguard::encode_key(conn.engine().public_key()).c_str());
    }
    const int status = run_data_path(conn, options, tun_fd);
    if (tun_fd >= 0) ::close(tun_fd);
    return status;
}

/// `tapsec show wireguard CONFIG`: the configuration as `wg show` prints an interface;
/// with --status FILE, the live status a running `connect|listen --status FILE` keeps.
int show(Arguments& args) {
    auto config_path = args.take("--config");
    if (!config_path && !args.target.empty()) config_path = args.target;
    auto status = args.take("--status");
    args.refuse_unknown_options();
    if (status) {
        std::fputs(Arguments::read_file_or_throw("--status", *status).c_str(), stdout);
        return 0;
    }
    if (!config_path) throw UsageError("show wireguard needs CONFIG (or --status FILE written by a running instance)");
    const std::string text = Arguments::read_file_or_throw("--config", *config_path);
    auto parsed = wireguard::parse_config(resolve_endpoints(text, *config_path), *config_path);
    if (!parsed.settings) return usage_fail(parsed.error);
    const auto& settings = *parsed.settings;
    if (!settings.has_private_key) return usage_fail(*config_path + ": [Interface] has no PrivateKey");
    auto identity = wireguard::StaticIdentity<crypto::Botan2>::from_private(settings.private_key);
    if (!identity) return usage_fail(*config_path + ": PrivateKey is not usable");
    std::string name = config_path->substr(config_path->rfind('/') == std::string::npos ? 0 : config_path->rfind('/') + 1);
    if (name.size() > 5 && name.ends_with(".conf")) name.resize(name.size() - 5);
    std::fputs(status_text(name, settings, identity->public_key, settings.listen_port,
                           [](std::size_t) { return std::optional<PeerLive>(); })
                   .c_str(),
               stdout);
    return 0;
}

/// Two WireGuard peers over loopback UDP: handshake, then an IPv4/UDP packet echoed back.
DemoResult demo() {
    DemoResult result;
    auto make_key = [] {
        SecretArray<32> k;
        crypto::Botan2::random(k);
        return k;
    };
    auto a_key = make_key(), b_key = make_key();
    auto public_of = [](const SecretArray<32>& k) {
        return wireguard::StaticIdentity<crypto::Botan2>::from_private(k)->public_key;
    };
    auto server_udp = Udp::bind("127.0.0.1", 0);
    auto client_udp = Udp::bind("127.0.0.1", 0);
    if (!server_udp || !client_udp) return result.error = "cannot bind loopback UDP", result;
    const auto server_port = server_udp->local_port();
    Config server_config, client_config;
    server_config.interface.private_key = b_key;
    server_config.interface.has_private_key = true;
    client_config.interface.private_key = a_key;
    client_config.interface.has_private_key = true;
    wireguard::PeerSettings to_client, to_server;
    to_client.public_key = public_of(a_key);
    to_client.allowed_ips = {*wireguard::IpPrefix::parse("10.9.0.1/32")};
    to_server.public_key = public_of(b_key);
    to_server.endpoint = *Endpoint::parse("127.0.0.1", server_port);
    to_server.allowed_ips = {*wireguard::IpPrefix::parse("10.9.0.2/32")};
    server_config.interface.peers.push_back(to_client);
    client_config.interface.peers.push_back(to_server);
    client_config.handshake_timeout = server_config.handshake_timeout = 5s;

    std::thread server([&] {
        WireGuard<DefaultProvider> conn(Role::server, server_config, std::move(*server_udp));
        auto packet = conn.receive_message(5s);
        if (!packet) return;
        auto udp = wireguard::parse_ipv4_udp_packet(*packet);
        if (!udp) return;
        if (conn.send(wireguard::make_ipv4_udp_packet(*wireguard::IpAddress::parse("10.9.0.2"),
                                                      *wireguard::IpAddress::parse("10.9.0.1"), udp->destination_port,
                                                      udp->source_port, udp->payload)))
            return;
        (void)conn.receive_message(300ms);  // let the reply go out before closing
    });
    WireGuard<DefaultProvider> client(Role::client, client_config, std::move(*client_udp));
    const auto t0 = Clock::now();
    auto ec = client.handshake();
    const auto t1 = Clock::now();
    const std::string message = "hello through WireGuard";
    if (!ec)
        ec = client.send(wireguard::make_ipv4_udp_packet(*wireguard::IpAddress::parse("10.9.0.1"),
                                                         *wireguard::IpAddress::parse("10.9.0.2"), 5000, 7, as_bytes(message)));
    Result<Bytes> echo = ec ? Result<Bytes>(ec) : client.receive_message(5s);
    const auto t2 = Clock::now();
    server.join();
    if (!echo) return result.error = "WireGuard demo failed: " + echo.error().message(), result;
    auto udp = wireguard::parse_ipv4_udp_packet(*echo);
    if (!udp || std::string(udp->payload.begin(), udp->payload.end()) != message)
        return result.error = "WireGuard demo: echo did not match", result;
    result.ok = true;
    result.handshake_ms = std::chrono::duration<double, std::milli>(t1 - t0).count();
    result.echo_ms = std::chrono::duration<double, std::milli>(t2 - t1).count();
    result.negotiated = "Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s, 148+92-byte handshake, IPv4/UDP inner packet" +
                        provider_suffix<DefaultProvider>();
    return result;
}

const TakesProvider takes_provider{"wireguard"};
const Registration registration{ProtocolEntry{
    "wireguard",
    "Secure<WireGuardHandshake, WireGuardRecord, Udp>",
    "WireGuard",
    WireGuard<>::features,
    usage,
    [](Arguments& a) { return with_provider(a, [&]<class Crypto>() { return run<Crypto>(a, true); }); },
    [](Arguments& a) { return with_provider(a, [&]<class Crypto>() { return run<Crypto>(a, false); }); },
    demo,
    /*target_optional=*/true,
    {{"CM", "roaming is part of WireGuard and implemented: a peer's endpoint follows the latest authenticated "
            "packet (docs/wireguard.md)"}},
}};
const ShowRegistration show_registration{"wireguard", show};

}  // namespace
}  // namespace tapsec::cli
