// A WireGuard peer on tapsec::asio::datagram, written as one C++20 coroutine: it reads a
// `wg`-format configuration, completes a handshake with the (single) peer's Endpoint,
// sends each MESSAGE and a newline as one UDP datagram inside the tunnel to IP:PORT (as
// `tapsec ... wireguard --udp-to` sends each stdin line), and writes the payload of each
// UDP datagram that comes back to stdout as it is, until REPLIES arrived.
//   asio_wireguard_peer CONFIG IP:PORT REPLIES MESSAGE...
// Exits 0 when REPLIES datagrams arrived, 1 on a failed handshake or when none came
// within 10 s, 2 on bad arguments. The tunnel's inner source is the first `Address`.
// WireGuard has no close message: the peer ends by closing its socket, which also stops
// the keepalive and rekey timers.
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <tapsec/asio/datagram.hpp>
#include <tapsec/wireguard.hpp>

namespace net = boost::asio;
namespace wg = tapsec::wireguard;
using net::use_awaitable;
using udp = net::ip::udp;
using WireGuard = tapsec::asio::datagram<tapsec::WireGuardHandshake, tapsec::WireGuardRecord>;

// "IP:PORT" inside the tunnel (IPv4: the example builds IPv4/UDP packets).
static bool parse_inner_target(std::string_view text, wg::IpAddress& ip, std::uint16_t& port) {
    const auto colon = text.rfind(':');
    if (colon == std::string_view::npos) return false;
    auto parsed = wg::IpAddress::parse(text.substr(0, colon));
    const auto digits = text.substr(colon + 1);
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), port);
    if (!parsed || parsed->v6 || ec != std::errc{} || end != digits.data() + digits.size() || port == 0) return false;
    ip = *parsed;
    return true;
}

static udp::endpoint to_asio(const tapsec::Endpoint& e) {
    udp::endpoint out;
    std::memcpy(out.data(), e.sockaddr_ptr(), e.sockaddr_length());
    return out;
}

int main(int argc, char** argv) {
    if (argc < 5) return std::fprintf(stderr, "usage: asio_wireguard_peer CONFIG IP:PORT REPLIES MESSAGE...\n"), 2;
    std::ifstream file(argv[1]);
    if (!file) return std::fprintf(stderr, "cannot read %s\n", argv[1]), 2;
    std::stringstream text;
    text << file.rdbuf();
    auto parsed = wg::parse_config(text.str(), argv[1]);
    if (!parsed.settings) return std::fprintf(stderr, "%s\n", parsed.error.c_str()), 2;
    const wg::InterfaceSettings& settings = *parsed.settings;
    if (settings.peers.size() != 1 || !settings.peers[0].endpoint || settings.addresses.empty() ||
        settings.addresses[0].address.v6)
        return std::fprintf(stderr, "%s: needs one [Peer] with an Endpoint and an IPv4 Address\n", argv[1]), 2;
    wg::IpAddress target_ip;
    std::uint16_t target_port = 0;
    if (!parse_inner_target(argv[2], target_ip, target_port))
        return std::fprintf(stderr, "not an IPv4 IP:PORT inside the tunnel: %s\n", argv[2]), 2;
    const int replies_wanted = std::atoi(argv[3]);
    const std::vector<std::string> messages(argv + 4, argv + argc);

    net::io_context io;
    const udp::endpoint peer_at = to_asio(*settings.peers[0].endpoint);
    udp::socket socket(io, udp::endpoint(peer_at.protocol(), settings.listen_port));
    WireGuard::Config config;
    config.interface = settings;
    WireGuard tunnel(std::move(socket), peer_at, tapsec::Role::client, config);

    // The whole run is bounded: at 10 s the socket closes, which ends any pending operation.
    net::steady_timer deadline(io, std::chrono::seconds(10));
    deadline.async_wait([&](boost::system::error_code ec) {
        boost::system::error_code ignored;
        if (!ec) tunnel.next_layer().close(ignored);
    });
    int replies = 0;
    std::string failure;
    net::co_spawn(io, [&]() -> net::awaitable<void> {
        try {
            co_await tunnel.async_handshake(use_awaitable);
            const wg::IpAddress self = settings.addresses[0].address;
            for (const auto& message : messages) {
                const std::string line = message + "\n";
                auto packet = wg::make_ipv4_udp_packet(self, target_ip, target_port, target_port, tapsec::as_bytes(line));
                co_await tunnel.async_send(net::buffer(packet), use_awaitable);
            }
            std::vector<std::uint8_t> packet(65536);
            while (replies < replies_wanted) {
                const std::size_t n = co_await tunnel.async_receive(net::buffer(packet), use_awaitable);
                auto datagram = wg::parse_ipv4_udp_packet(tapsec::ByteView(packet.data(), n));
                if (!datagram) continue;  // not UDP (a keepalive carries no packet at all)
                std::cout << std::string(datagram->payload.begin(), datagram->payload.end()) << std::flush;
                ++replies;
            }
        } catch (const boost::system::system_error& e) {
            failure = e.code().message();
        }
        deadline.cancel();
        boost::system::error_code ignored;
        tunnel.next_layer().close(ignored);
    }, net::detached);
    io.run();
    if (replies < replies_wanted) {
        std::fprintf(stderr, "asio_wireguard_peer: %d of %d replies (%s)\n", replies, replies_wanted,
                     failure.empty() ? "timed out" : failure.c_str());
        return 1;
    }
    return 0;
}
