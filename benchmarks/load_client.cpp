// tapsec_load: the load generator of benchmarks/load_tls13.sh (issue 14 item 4). Loopback
// only, bounded in time and count. TLS 1.3 clients (tapsec's own, OpenSSL 3 provider) that
// verify the server's certificate against CAFILE for the name "localhost".
//   tapsec_load handshakes PORT CAFILE CLIENTS SECONDS
//       CLIENTS threads, each: connect, full handshake, close_notify, again, for SECONDS.
//       Prints: handshakes=N seconds=S rate=R p50_ms=A p99_ms=B failures=F
//   tapsec_load idle PORT CAFILE CONNECTIONS
//       Opens CONNECTIONS connections (handshake done, then idle), prints "held N", keeps
//       them until stdin ends, then closes each with close_notify.
//   tapsec_load dtls12-handshakes PORT CAFILE CLIENTS SECONDS
//       The same with DTLS 1.2 clients (Botan 2's stack: full handshake with the cookie
//       round trip, close_notify), each from a fresh UDP port, against `tapsec listen
//       dtls12 --echo --forever` (the datagram server; benchmarks/load_dtls.sh).
// The first failure's message goes to stderr (once); failures count, never stop the run.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <tapsec/crypto/openssl.hpp>
#include <tapsec/tapsec.hpp>

namespace {

using Client = tapsec::Secure<tapsec::Tls13Handshake, tapsec::AeadRecord, tapsec::Tcp, tapsec::crypto::OpenSsl3>;
using Clock = std::chrono::steady_clock;

std::string read_all(const std::string& path) {
    std::ifstream in(path);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

tapsec::tls13::Config client_config(const std::string& ca_pem) {
    tapsec::tls13::Config config;
    config.server_name = "localhost";
    config.trust.ca_certificates_pem = {ca_pem};
    config.handshake_timeout = std::chrono::seconds(10);
    return config;
}

std::once_flag first_failure;
void report_failure(const std::string& what) {
    std::call_once(first_failure, [&] { std::fprintf(stderr, "tapsec_load: first failure: %s\n", what.c_str()); });
}

using DtlsClient = tapsec::Secure<tapsec::Dtls12Handshake, tapsec::DtlsRecord, tapsec::Udp>;

tapsec::botan_tls::Config dtls_client_config(const std::string& ca_pem) {
    tapsec::botan_tls::Config config;
    config.server_name = "localhost";
    config.trust.ca_certificates_pem = {ca_pem};
    config.handshake_timeout = std::chrono::seconds(10);
    return config;
}

/// One connection with its handshake done, or nullopt (reported).
std::optional<Client> open_connection(std::uint16_t port, const tapsec::tls13::Config& config) {
    auto tcp = tapsec::Tcp::connect("127.0.0.1", port);
    if (!tcp) return report_failure("connect: " + tcp.error().message()), std::nullopt;
    Client client(tapsec::Role::client, config, std::move(*tcp));
    if (auto ec = client.handshake()) return report_failure("handshake: " + ec.message()), std::nullopt;
    return client;
}

/// One DTLS 1.2 handshake from a fresh port, then close_notify; false (reported) on failure.
bool dtls_handshake(std::uint16_t port, const tapsec::botan_tls::Config& config) {
    auto udp = tapsec::Udp::connect(*tapsec::Endpoint::parse("127.0.0.1", port));
    if (!udp) return report_failure("socket: " + udp.error().message()), false;
    DtlsClient client(tapsec::Role::client, config, std::move(*udp));
    if (auto ec = client.handshake()) return report_failure("DTLS handshake: " + ec.message()), false;
    (void)client.close();
    return true;
}

/// CLIENTS threads doing `one_handshake()` back to back for SECONDS; prints the summary.
template <class OneHandshake>
int handshakes(OneHandshake one_handshake, int clients, double seconds) {
    const auto end = Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
    std::vector<std::vector<double>> latencies(static_cast<std::size_t>(clients));
    std::atomic<std::uint64_t> failures{0}, late{0};
    const auto start = Clock::now();
    std::vector<std::thread> threads;
    for (int i = 0; i < clients; ++i)
        threads.emplace_back([&, i] {
            auto& mine = latencies[static_cast<std::size_t>(i)];
            while (Clock::now() < end) {
                const auto t0 = Clock::now();
                if (!one_handshake()) {
                    ++failures;
                    continue;
                }
                const auto t1 = Clock::now();
                if (t1 <= end) mine.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
                else ++late;  // finished after the window: not in the rate (a DTLS retransmission tail)
            }
        });
    for (auto& t : threads) t.join();
    // The rate counts the handshakes done within the window, over the window.
    const double took = std::chrono::duration<double>(end - start).count();
    std::vector<double> all;
    for (auto& l : latencies) all.insert(all.end(), l.begin(), l.end());
    std::sort(all.begin(), all.end());
    auto percentile = [&](double p) { return all.empty() ? 0.0 : all[std::min(all.size() - 1, static_cast<std::size_t>(p * all.size()))]; };
    std::printf("handshakes=%zu seconds=%.3f rate=%.1f p50_ms=%.2f p99_ms=%.2f failures=%llu late=%llu\n", all.size(), took,
                all.size() / took, percentile(0.50), percentile(0.99), static_cast<unsigned long long>(failures.load()),
                static_cast<unsigned long long>(late.load()));
    return all.empty() ? 1 : 0;
}

int idle(std::uint16_t port, const tapsec::tls13::Config& config, int connections) {
    std::vector<Client> held;
    held.reserve(static_cast<std::size_t>(connections));
    int failures = 0;
    for (int i = 0; i < connections; ++i) {
        auto client = open_connection(port, config);
        if (client) held.push_back(std::move(*client));
        else ++failures;
    }
    std::printf("held %zu failures=%d\n", held.size(), failures);
    std::fflush(stdout);
    std::string ignored;
    while (std::getline(std::cin, ignored)) {
    }
    for (auto& c : held) (void)c.close();
    return failures == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
    const std::string mode = argc > 1 ? argv[1] : "";
    if (!(((mode == "handshakes" || mode == "dtls12-handshakes") && argc == 6) || (mode == "idle" && argc == 5))) {
        std::fprintf(stderr, "usage: tapsec_load handshakes PORT CAFILE CLIENTS SECONDS\n"
                             "       tapsec_load dtls12-handshakes PORT CAFILE CLIENTS SECONDS\n"
                             "       tapsec_load idle PORT CAFILE CONNECTIONS\n");
        return 2;
    }
    try {
        const auto port = static_cast<std::uint16_t>(std::stoi(argv[2]));
        const std::string ca = read_all(argv[3]);
        if (ca.empty()) return std::fprintf(stderr, "tapsec_load: cannot read %s\n", argv[3]), 2;
        const auto config = client_config(ca);
        const int count = std::clamp(std::stoi(argv[4]), 1, 100000);
        if (mode == "dtls12-handshakes") {
            const auto dtls_config = dtls_client_config(ca);
            return handshakes([&] { return dtls_handshake(port, dtls_config); }, std::min(count, 1024),
                              std::clamp(std::stod(argv[5]), 0.1, 600.0));
        }
        if (mode == "handshakes")
            return handshakes(
                [&] {
                    auto client = open_connection(port, config);
                    if (client) (void)client->close();
                    return client.has_value();
                },
                std::min(count, 1024), std::clamp(std::stod(argv[5]), 0.1, 600.0));
        return idle(port, config, count);
    } catch (const std::logic_error&) {
        return std::fprintf(stderr, "tapsec_load: PORT, CLIENTS, CONNECTIONS and SECONDS are numbers\n"), 2;
    }
}
