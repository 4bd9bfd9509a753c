// tapsec_wg_load: the WireGuard load generator of benchmarks/load_wireguard.sh (issue 14,
// serving at scale). Loopback only, bounded in count and time.
//   tapsec_wg_load TAPSEC PEERS SECONDS COOKIE_RATE
// starts `TAPSEC listen wireguard --cookie-rate COOKIE_RATE` with PEERS [Peer] sections
// (framed IP packets on its stdin/stdout; a thread here reflects each packet that comes
// out back in, addresses and ports swapped, so it returns through the tunnel), then
// drives PEERS initiators (tests/support/wireguard_crowd.hpp: this library's engines,
// OpenSSL provider, one loopback address each):
//   1. first contact: every peer starts its handshake at once and stages 10 datagrams;
//      all handshakes must complete, and every datagram must come back (reflected);
//   2. sustained: for SECONDS, each peer starts a new handshake as soon as its last one
//      completed (at most one per 60 ms per peer, under the listener's per-address
//      limit of 20/s), measuring handshakes/s and the latency of each.
// Prints one line: key=value figures (the script makes the table).
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>

#include <cinttypes>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <tapsec/crypto/openssl.hpp>
#include <tapsec/tapsec.hpp>

#include "support/wireguard_crowd.hpp"

namespace {

using namespace tapsec;
using namespace std::chrono_literals;
using Crowd = test::WireGuardCrowd<crypto::OpenSsl3>;
using SteadyClock = std::chrono::steady_clock;

constexpr std::size_t datagrams_per_peer = 10;
constexpr auto per_peer_interval = 60ms;

double percentile(std::vector<double> values, double p) {
    if (values.empty()) return 0;
    std::sort(values.begin(), values.end());
    return values[std::min(values.size() - 1, static_cast<std::size_t>(p * static_cast<double>(values.size())))];
}

/// Reads framed packets from the listener's stdout and writes each back to its stdin
/// with source and destination (address and port) swapped: both checksums stay valid
/// (one's-complement sums do not depend on the order of their terms). Reading never
/// waits for writing (the stdin side is non-blocking, with a buffer here): the listener
/// blocks on a full stdout, and must never wait on us while we wait on it.
void reflect(int from_listener, int to_listener, std::atomic<std::uint64_t>& reflected) {
    ::fcntl(to_listener, F_SETFL, ::fcntl(to_listener, F_GETFL) | O_NONBLOCK);
    std::vector<std::uint8_t> in, out;
    std::array<std::uint8_t, 65536> chunk{};
    bool reading = true;
    while (reading || !out.empty()) {
        pollfd fds[2] = {{from_listener, static_cast<short>(reading ? POLLIN : 0), 0},
                         {to_listener, static_cast<short>(out.empty() ? 0 : POLLOUT), 0}};
        if (::poll(fds, 2, 1000) < 0) return;
        if (fds[1].revents & (POLLERR | POLLHUP)) return;
        if (fds[1].revents & POLLOUT) {
            const ssize_t n = ::write(to_listener, out.data(), out.size());
            if (n > 0) out.erase(out.begin(), out.begin() + n);
        }
        if (!(fds[0].revents & (POLLIN | POLLHUP))) continue;
        const ssize_t n = ::read(from_listener, chunk.data(), chunk.size());
        if (n <= 0) {
            reading = false;
            out.clear();  // the listener is gone
            continue;
        }
        in.insert(in.end(), chunk.begin(), chunk.begin() + n);
        std::size_t at = 0;
        while (in.size() - at >= 2) {
            const std::size_t length = std::size_t{in[at]} << 8 | in[at + 1];
            if (in.size() - at < 2 + length) break;
            std::uint8_t* packet = in.data() + at + 2;
            if (length >= 28 && (packet[0] >> 4) == 4) {
                std::swap_ranges(packet + 12, packet + 16, packet + 16);
                std::swap_ranges(packet + 20, packet + 22, packet + 22);
                out.insert(out.end(), in.begin() + static_cast<std::ptrdiff_t>(at),
                           in.begin() + static_cast<std::ptrdiff_t>(at + 2 + length));
                ++reflected;
            }
            at += 2 + length;
        }
        in.erase(in.begin(), in.begin() + static_cast<std::ptrdiff_t>(at));
    }
}

double cpu_seconds(pid_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const auto close = text.rfind(')');
    if (close == std::string::npos) return 0;
    std::istringstream fields(text.substr(close + 2));
    std::string field;
    double ticks = 0;
    for (int i = 3; fields >> field; ++i)
        if (i == 14 || i == 15) ticks += std::stod(field);  // utime, stime
    return ticks / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

std::uint16_t free_udp_port() {
    auto udp = Udp::bind("127.0.0.1", 0);
    return udp ? udp->local_port() : 0;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 5) {
        std::fprintf(stderr, "usage: tapsec_wg_load TAPSEC PEERS SECONDS COOKIE_RATE\n");
        return 2;
    }
    const std::string tapsec_path = argv[1];
    const std::size_t peers = std::stoul(argv[2]);
    const double seconds = std::stod(argv[3]);
    const std::string cookie_rate = argv[4];
    if (peers < 1 || peers > 20000 || seconds <= 0 || seconds > 120) {
        std::fprintf(stderr, "tapsec_wg_load: PEERS 1..20000, SECONDS up to 120\n");
        return 2;
    }
    ::signal(SIGPIPE, SIG_IGN);
    char dir_template[] = "/tmp/tapsec-wg-load-XXXXXX";
    const std::filesystem::path dir = ::mkdtemp(dir_template);

    SecretArray<32> listener_key;
    crypto::OpenSsl3::random(listener_key);
    const auto listener_public = wireguard::StaticIdentity<crypto::OpenSsl3>::from_private(listener_key)->public_key;
    const std::uint16_t port = free_udp_port();
    Crowd crowd(peers, listener_public, *Endpoint::parse("127.0.0.1", port));
    {
        std::ofstream config(dir / "listen.conf");
        config << "[Interface]\nPrivateKey = " << wireguard::encode_key(listener_key) << "\n";
        for (std::size_t i = 0; i < peers; ++i)
            config << "\n[Peer]\nPublicKey = " << wireguard::encode_key(crowd.member(i).public_key)
                   << "\nAllowedIPs = " << Crowd::inner_address(i).to_string() << "/32\n";
    }
    std::filesystem::permissions(dir / "listen.conf", std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);

    int to_listener[2], from_listener[2];
    if (::pipe2(to_listener, O_CLOEXEC) != 0 || ::pipe2(from_listener, O_CLOEXEC) != 0) return 1;
    const std::string log_path = (dir / "listen.log").string();
    const std::string config_path = (dir / "listen.conf").string();
    const std::string listen_at = "127.0.0.1:" + std::to_string(port);
    const pid_t listener = ::fork();
    if (listener == 0) {
        ::dup2(to_listener[0], 0);
        ::dup2(from_listener[1], 1);
        const int log = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
        ::dup2(log, 2);
        ::execl(tapsec_path.c_str(), tapsec_path.c_str(), "listen", "wireguard", listen_at.c_str(), "--config",
                config_path.c_str(), "--cookie-rate", cookie_rate.c_str(), static_cast<char*>(nullptr));
        ::_exit(127);
    }
    ::close(to_listener[0]);
    ::close(from_listener[1]);
    std::atomic<std::uint64_t> reflected{0};
    std::thread reflector(reflect, from_listener[0], to_listener[1], std::ref(reflected));
    auto log_text = [&] {
        std::ifstream in(log_path);
        return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    };
    for (int i = 0; i < 1000 && log_text().find("listening on") == std::string::npos; ++i) std::this_thread::sleep_for(10ms);

    // ---- 1. first contact -----------------------------------------------------------
    std::vector<double> first_latencies, sustained_latencies;
    std::vector<double>* latencies = &first_latencies;
    crowd.on_handshake = [&](std::size_t, std::chrono::nanoseconds latency) {
        latencies->push_back(std::chrono::duration<double, std::milli>(latency).count());
    };
    std::uint64_t returned = 0, misdelivered = 0;
    crowd.on_packet = [&](std::size_t peer, ByteView packet) {
        auto udp = wireguard::parse_ipv4_udp_packet(packet);
        if (!udp) return;
        const std::string text(udp->payload.begin(), udp->payload.end());
        if (text.rfind("peer " + std::to_string(peer) + " ", 0) == 0) ++returned;
        else ++misdelivered;
    };
    const auto first_started = SteadyClock::now();
    for (std::size_t i = 0; i < peers; ++i) {
        crowd.initiate(i);
        for (std::size_t k = 0; k < datagrams_per_peer; ++k) {
            const std::string text = "peer " + std::to_string(i) + " datagram " + std::to_string(k);
            (void)crowd.send(i, wireguard::make_ipv4_udp_packet(Crowd::inner_address(i), Crowd::listener_inner(), 5000, 6000,
                                                                 as_bytes(text)));
        }
    }
    const bool all_in = crowd.run_until([&] { return crowd.handshakes() >= peers; }, first_started + 60s);
    const double first_seconds = std::chrono::duration<double>(SteadyClock::now() - first_started).count();
    const std::uint64_t first_handshakes = crowd.handshakes();
    const std::uint64_t first_cookies = crowd.cookie_replies_received();
    crowd.run_until([&] { return returned + misdelivered >= peers * datagrams_per_peer; }, SteadyClock::now() + 10s);

    // ---- 2. sustained handshakes ------------------------------------------------------
    latencies = &sustained_latencies;
    std::vector<SteadyClock::time_point> next_start(peers, SteadyClock::now());
    std::vector<bool> waiting(peers, false);
    crowd.on_handshake = [&](std::size_t i, std::chrono::nanoseconds latency) {
        sustained_latencies.push_back(std::chrono::duration<double, std::milli>(latency).count());
        waiting[i] = false;
    };
    const double cpu_before = cpu_seconds(listener);
    const auto sustained_started = SteadyClock::now();
    const auto sustained_end = sustained_started + std::chrono::duration_cast<SteadyClock::duration>(std::chrono::duration<double>(seconds));
    const std::uint64_t handshakes_before = crowd.handshakes();
    crowd.run_until([&] {
        const auto now = SteadyClock::now();
        if (now >= sustained_end) return true;
        for (std::size_t i = 0; i < peers; ++i)
            if (!waiting[i] && now >= next_start[i]) {
                waiting[i] = true;
                next_start[i] = now + per_peer_interval;
                crowd.initiate(i);
            }
        return false;
    }, sustained_end + 1s);
    const double sustained_seconds = std::chrono::duration<double>(SteadyClock::now() - sustained_started).count();
    const std::uint64_t sustained_handshakes = crowd.handshakes() - handshakes_before;
    const double listener_cpu = cpu_seconds(listener) - cpu_before;

    ::kill(listener, SIGTERM);
    int status = 0;
    for (int i = 0; i < 500 && ::waitpid(listener, &status, WNOHANG) == 0; ++i) std::this_thread::sleep_for(10ms);
    if (::waitpid(listener, &status, WNOHANG) == 0) {
        ::kill(listener, SIGKILL);
        ::waitpid(listener, &status, 0);
    }
    reflector.join();  // the listener's stdout is closed: the reflector ends
    ::close(to_listener[1]);
    ::close(from_listener[0]);
    const std::string log = log_text();
    const bool lost = log.find("packets lost") != std::string::npos;
    if (std::getenv("TAPSEC_WG_LOAD_LOG")) std::fprintf(stderr, "listener exit status %d; its log:\n%s", status, log.c_str());
    std::filesystem::remove_all(dir);

    std::printf("peers=%zu cookie_rate=%s first_all_in=%d first_seconds=%.3f first_rate=%.0f first_p50_ms=%.1f "
                "first_p99_ms=%.1f first_cookie_replies=%" PRIu64 " datagrams=%zu returned=%" PRIu64 " misdelivered=%" PRIu64
                " reflected=%" PRIu64 " sustained_handshakes=%" PRIu64 " sustained_seconds=%.2f sustained_rate=%.0f "
                "sustained_p50_ms=%.2f sustained_p99_ms=%.2f listener_cpu_s=%.2f handshakes_per_cpu_s=%.0f "
                "cookie_replies=%" PRIu64 " listener_reported_loss=%d\n",
                peers, cookie_rate.c_str(), all_in ? 1 : 0, first_seconds, static_cast<double>(first_handshakes) / first_seconds,
                percentile(first_latencies, 0.5), percentile(first_latencies, 0.99), first_cookies,
                peers * datagrams_per_peer, returned, misdelivered, reflected.load(), sustained_handshakes, sustained_seconds,
                static_cast<double>(sustained_handshakes) / sustained_seconds, percentile(sustained_latencies, 0.5),
                percentile(sustained_latencies, 0.99), listener_cpu,
                listener_cpu > 0 ? static_cast<double>(sustained_handshakes) / listener_cpu : 0.0,
                crowd.cookie_replies_received(), lost ? 1 : 0);
    return all_in && returned == peers * datagrams_per_peer && misdelivered == 0 ? 0 : 1;
}
