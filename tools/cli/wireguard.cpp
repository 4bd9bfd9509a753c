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
#include <linux/if.h>
#include <linux/if_tun.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <thread>

#include <tapsec/tapsec.hpp>

#include "registry.hpp"

namespace tapsec::cli {
namespace {

using WireGuard = Secure<WireGuardHandshake, WireGuardRecord, Udp>;
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
    "  --handshake-timeout S connect: give up after S seconds (default 20)\n"
    "  --verbose             report handshakes, roaming and dropped packets on stderr\n"
    "\n"
    "The target is optional: connect HOST:PORT overrides the (only) peer's Endpoint,\n"
    "listen [ADDR:]PORT overrides ListenPort. Without --tun or --udp-to, stdin/stdout\n"
    "carry inner IP packets framed as a 2-byte big-endian length and the packet.\n";

std::atomic<bool> stop_requested{false};

struct Options {
    Config config;
    std::string tun;
    std::optional<std::pair<wireguard::IpAddress, std::uint16_t>> udp_to;
    bool verbose = false;
    std::string bind_address = "0.0.0.0";
};

/// Reads and checks the options; returns an error line for cli::fail, or nullopt.
std::optional<std::string> read_options(Arguments& args, bool is_connect, Options& out) {
    auto file = args.take("--config");
    auto tun = args.take("--tun");
    auto udp_to = args.take("--udp-to");
    auto timeout = args.take("--handshake-timeout");
    out.verbose = args.flag("--verbose");
    if (auto unknown = args.unknown()) return "unknown option " + *unknown + " (see `tapsec " + (is_connect ? "connect" : "listen") + " wireguard --help`)";
    if (!file) return std::string("--config FILE is required (a `wg`-format configuration)");
    std::ifstream in(*file, std::ios::binary);
    if (!in) return "cannot read configuration " + *file;
    std::stringstream text;
    text << in.rdbuf();
    auto parsed = wireguard::parse_config(text.str(), *file);
    if (!parsed.settings) return parsed.error;
    out.config = Config::from(std::move(*parsed.settings));
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
    if (timeout) {
        unsigned seconds = 0;
        auto [ptr, ec] = std::from_chars(timeout->data(), timeout->data() + timeout->size(), seconds);
        if (ec != std::errc{} || ptr != timeout->data() + timeout->size() || seconds == 0)
            return "--handshake-timeout: '" + *timeout + "' is not a number of seconds";
        out.config.handshake_timeout = std::chrono::seconds(seconds);
    } else {
        out.config.handshake_timeout = 20s;
    }
    auto& peers = out.config.interface.peers;
    if (!args.target.empty()) {
        if (is_connect) {
            auto ep = Endpoint::parse(args.target);
            if (!ep) return "'" + args.target + "' is not HOST:PORT (a numeric address or localhost)";
            if (peers.size() != 1) return std::string("HOST:PORT applies to a configuration with exactly one [Peer]");
            peers[0].endpoint = *ep;
        } else {
            std::string port_text = args.target;
            if (auto colon = port_text.rfind(':'); colon != std::string::npos) {
                out.bind_address = port_text.substr(0, colon);
                port_text = port_text.substr(colon + 1);
            }
            unsigned port = 0;
            auto [ptr, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
            if (ec != std::errc{} || ptr != port_text.data() + port_text.size() || port > 65535)
                return "'" + args.target + "' is not [ADDR:]PORT";
            out.config.interface.listen_port = static_cast<std::uint16_t>(port);
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

int open_tun(const std::string& name, const InterfaceSettings& settings, std::string& error) {
    const int fd = ::open("/dev/net/tun", O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        error = std::string("cannot open /dev/net/tun: ") + std::strerror(errno);
        return -1;
    }
    ifreq request{};
    request.ifr_flags = IFF_TUN | IFF_NO_PI;
    std::strncpy(request.ifr_name, name.c_str(), IFNAMSIZ - 1);
    if (::ioctl(fd, TUNSETIFF, &request) != 0) {
        error = "cannot create TUN device " + name + ": " + std::strerror(errno);
        ::close(fd);
        return -1;
    }
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
void report_events(WireGuard& conn, bool verbose) {
    while (auto e = conn.next_event()) {
        if (!verbose) continue;
        auto& engine = conn.engine();
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

bool write_all(int fd, ByteView data) {
    while (!data.empty()) {
        auto n = ::write(fd, data.data(), data.size());
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        data = data.subspan(static_cast<std::size_t>(n));
    }
    return true;
}

/// Moves packets between the tunnel and stdin/stdout or a TUN device until stdin ends
/// (then two quiet seconds), a signal arrives, or a fatal error.
int run_data_path(WireGuard& conn, const Options& options, int tun_fd) {
    const int udp_fd = conn.transport().native_handle();
    const int input_fd = tun_fd >= 0 ? tun_fd : 0;
    bool input_open = true;
    auto quiet_since = Clock::now();
    Bytes frames;                     // framed stdin not yet complete
    std::string lines;                // --udp-to stdin not yet a full line
    std::array<std::uint8_t, 65536> buffer{};
    auto send_packet = [&](ByteView packet) -> bool {
        if (auto ec = conn.send(packet)) {
            cli::fail("send failed: " + ec.message());
            return false;
        }
        return true;
    };
    while (!stop_requested) {
        pollfd fds[2] = {{udp_fd, POLLIN, 0}, {input_open ? input_fd : -1, POLLIN, 0}};
        ::poll(fds, 2, 20);
        if (fds[1].revents & (POLLIN | POLLHUP | POLLERR)) {
            auto n = ::read(input_fd, buffer.data(), buffer.size());
            if (n <= 0) {
                if (tun_fd >= 0) return cli::fail("TUN device closed");
                input_open = false;
                quiet_since = Clock::now();
            } else if (tun_fd >= 0) {
                if (!send_packet(ByteView(buffer.data(), static_cast<std::size_t>(n)))) return 1;
            } else if (options.udp_to) {
                lines.append(reinterpret_cast<const char*>(buffer.data()), static_cast<std::size_t>(n));
                for (auto newline = lines.find('\n'); newline != std::string::npos; newline = lines.find('\n')) {
                    const auto& [address, port] = *options.udp_to;
                    auto packet = wireguard::make_ipv4_udp_packet(conn.config().interface.addresses[0].address, address, port,
                                                                  port, as_bytes(std::string_view(lines).substr(0, newline + 1)));
                    lines.erase(0, newline + 1);
                    if (!send_packet(packet)) return 1;
                }
            } else {
                frames.insert(frames.end(), buffer.begin(), buffer.begin() + n);
                while (frames.size() >= 2) {
                    const std::size_t length = std::size_t{frames[0]} << 8 | frames[1];
                    if (frames.size() < 2 + length) break;
                    if (length && !send_packet(ByteView(frames).subspan(2, length))) return 1;
                    frames.erase(frames.begin(), frames.begin() + static_cast<std::ptrdiff_t>(2 + length));
                }
            }
        }
        // Drive the engine (datagrams and timers) and deliver what came out of the tunnel.
        for (;;) {
            auto packet = conn.receive_message(0ms);
            report_events(conn, options.verbose);
            if (!packet) {
                if (packet.error() == make_error_code(Errc::timed_out)) break;
                return cli::fail(packet.error().message());
            }
            quiet_since = Clock::now();
            if (tun_fd >= 0) {
                write_all(tun_fd, *packet);
            } else if (options.udp_to) {
                if (auto udp = wireguard::parse_ipv4_udp_packet(*packet)) {
                    write_all(1, udp->payload);
                }
            } else {
                const std::uint8_t header[2] = {static_cast<std::uint8_t>(packet->size() >> 8),
                                                static_cast<std::uint8_t>(packet->size())};
                if (!write_all(1, header) || !write_all(1, *packet)) return 0;  // stdout closed
            }
        }
        if (!input_open && Clock::now() - quiet_since > 2s) break;
    }
    conn.close();
    return 0;
}

int run(Arguments& args, bool is_connect) {
    Options options;
    if (auto error = read_options(args, is_connect, options)) return cli::fail(*error);
    ::signal(SIGINT, [](int) { stop_requested = true; });
    ::signal(SIGTERM, [](int) { stop_requested = true; });
    ::signal(SIGPIPE, SIG_IGN);
    auto udp = Udp::bind(options.bind_address, options.config.interface.listen_port);
    if (!udp) {
        return cli::fail("cannot bind UDP " + options.bind_address + ":" + std::to_string(options.config.interface.listen_port) +
                         ": " + udp.error().message());
    }
    int tun_fd = -1;
    if (!options.tun.empty()) {
        std::string error;
        tun_fd = open_tun(options.tun, options.config.interface, error);
        if (tun_fd < 0) return cli::fail(error);
    }
    WireGuard conn(is_connect ? Role::client : Role::server, options.config, std::move(*udp));
    if (is_connect) {
        if (auto ec = conn.handshake()) {
            report_events(conn, options.verbose);
            return cli::fail("handshake with " + conn.engine().endpoint(0).value_or(Endpoint{}).to_string() +
                             " failed: " + ec.message());
        }
        report_events(conn, options.verbose);
        if (options.verbose) std::fprintf(stderr, "tapsec: connected to %s\n", conn.info().peer.subject.c_str());
    }
    const int status = run_data_path(conn, options, tun_fd);
    if (tun_fd >= 0) ::close(tun_fd);
    return status;
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
        WireGuard conn(Role::server, server_config, std::move(*server_udp));
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
    WireGuard client(Role::client, client_config, std::move(*client_udp));
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
    result.negotiated = "Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s, 148+92-byte handshake, IPv4/UDP inner packet";
    return result;
}

const Registration registration{ProtocolEntry{
    "wireguard",
    "Secure<WireGuardHandshake, WireGuardRecord, Udp>",
    "WireGuard",
    WireGuard::features,
    usage,
    [](Arguments& a) { return run(a, true); },
    [](Arguments& a) { return run(a, false); },
    demo,
    /*target_optional=*/true,
    {{"CM", "roaming is part of WireGuard and implemented: a peer's endpoint follows the latest authenticated "
            "packet (docs/wireguard.md)"}},
}};

}  // namespace
}  // namespace tapsec::cli
