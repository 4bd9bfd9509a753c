// `tapsec connect|listen zrtp` and its demo: Secure<ZrtpHandshake, SrtpRecord, Udp>.
// ZRTP (RFC 6189) agrees keys in the media path and keys the same SRTP record that
// DTLS-SRTP keys. Each chunk of stdin goes out as the payload of one SRTP packet (RTP
// payload type 96); received payloads go to stdout. The SAS is printed on stderr for
// the users to compare: only a matching SAS proves there was no man in the middle.
// ZRTP has no close message: each side ends when its stdin has ended and the peer has
// been quiet for a moment (as the DTLS-SRTP command does after close_notify).
// `listen --echo` serves every peer at once on one socket (datagram_server.hpp, ZrtpPeers
// below), reflecting each one's media under its own keys; the stdin/stdout mode serves one
// peer: it has one stdin.
#include <poll.h>
#include <sys/socket.h>

#include <chrono>
#include <limits>
#include <memory>
#include <random>
#include <string>
#include <thread>

#include <tapsec/tapsec.hpp>
#include <tapsec/zrtp.hpp>

#include "botan_tls_common.hpp"
#include "datagram_server.hpp"
#include "provider_option.hpp"
#include "registry.hpp"
#include "rtp_stdio.hpp"
#include "stdio.hpp"

namespace tapsec::cli {
namespace {

template <class Crypto = crypto::Botan2>
using ZrtpOverUdp = Secure<ZrtpHandshake, SrtpRecord, Udp, Crypto>;

/// Options both roles share; an error message, or empty.
std::string read_options(Arguments& args, zrtp::Config& config) {
    if (auto list = args.take_list("--groups")) config.groups = *list;
    if (auto list = args.take_list("--ciphersuites")) config.cipher_suites = *list;
    if (auto timeout = args.take_seconds("--handshake-timeout")) config.handshake_timeout = *timeout;
    config.on_sas = [](const zrtp::Sas& sas) { std::fprintf(stderr, "tapsec: SAS %s (compare it with the peer's)\n", sas.rendering.c_str()); };
    return {};
}

/// Both ZRTP endpoints send Hello from the start, so the responder must know its peer
/// before it starts: it waits for the first datagram and reads its source without
/// consuming it (the engine then reads it as the peer's Hello).
std::error_code learn_peer_from_first_datagram(Udp& socket) {
    pollfd fd{socket.native_handle(), POLLIN, 0};
    while (::poll(&fd, 1, -1) < 0)
        if (errno != EINTR) return std::error_code(errno, std::generic_category());
    sockaddr_storage from{};
    socklen_t length = sizeof from;
    std::uint8_t byte = 0;
    if (::recvfrom(socket.native_handle(), &byte, 1, MSG_PEEK, reinterpret_cast<sockaddr*>(&from), &length) < 0)
        return std::error_code(errno, std::generic_category());
    auto peer = Endpoint::from_sockaddr(reinterpret_cast<sockaddr*>(&from), length);
    if (!peer) return make_error_code(Errc::address_invalid);
    socket.set_peer_endpoint(*peer);
    return {};
}

/// ZRTP's part in the datagram server. ZRTP has no stateless exchange (RFC 6189: both
/// sides send Hello, the hash chain and the DH share live in the engine), so a Hello from
/// a new address gets an engine at once: --max-pending and --handshake-timeout bound what
/// unauthenticated peers hold, and anything but a Hello from a stranger gets no answer.
/// Peers are keyed by their address (ZRTP and its SRTP share the 5-tuple). ZRTP has no
/// close message: at SIGTERM or --idle-timeout the media to a peer simply stops.
template <class Crypto>
struct ZrtpPeers {
    using Engine = typename ZrtpOverUdp<Crypto>::Engine;
    using Key = Endpoint;
    using Note = bool;

    std::string label = "ZRTP";
    std::string composition = "Secure<ZrtpHandshake, SrtpRecord, Udp>";
    std::size_t max_send = std::numeric_limits<std::size_t>::max();  // one RTP packet per send
    zrtp::Config config;

    std::unique_ptr<Engine> make_engine() {
        auto engine = std::make_unique<Engine>(Role::server, config);
        (void)engine->start(Clock::now());  // its Hello leaves once it has a peer; a failure shows at its first receive
        return engine;
    }
    bool admits(ByteView datagram) const {
        auto packet = zrtp::parse_packet(datagram);
        return packet && packet->type == zrtp::MessageType::hello;
    }
    std::optional<Key> peer_key(ByteView, const Endpoint& from) const { return from; }
    Key key_of_new_peer(Engine&, ByteView, const Endpoint& from) const { return from; }
    Note note(ByteView) const { return {}; }
    bool starts_anew(ByteView, const Note&) const { return false; }
    std::string established_line(Engine& engine) const {
        const auto info = engine.session_info();
        const auto& sas = engine.sas();
        return "accepted: " + info.protocol + ", " + info.group + ", " + info.peer.subject +
               (sas ? ", SAS " + sas->rendering + " (compare it with the peer's)" : std::string());
    }
};

int run(auto& connection, const std::string& peer) {
    if (auto ec = connection.handshake()) return fail("ZRTP with " + peer + " failed: " + ec.message());
    const auto info = connection.info();
    std::fprintf(stderr, "tapsec: %s with %s%s\n", info.protocol.c_str(), peer.c_str(), provider_suffix(connection).c_str());
    const int fd = connection.transport().native_handle();
    RtpStdio<std::remove_cvref_t<decltype(connection)>> media(connection);
    return pump_stdio(media, fd);
}

template <class Crypto>
int connect(Arguments& args) {
    const HostPort target = parse_host_port(args.target);
    const std::string& host = target.host;
    const std::uint16_t port = target.port;
    zrtp::Config config;
    if (auto error = read_options(args, config); !error.empty()) return usage_fail(error);
    args.refuse_unknown_options();
    std::string resolve_error;
    if (!resolve(host, port, SOCK_DGRAM, resolve_error)) return fail(resolve_error);
    auto transport = botan_common::dial_udp(host, port);
    if (!transport) return fail("cannot reach " + args.target + ": " + transport.error().message());
    ZrtpOverUdp<Crypto> connection(Role::client, std::move(config), std::move(*transport));
    return run(connection, args.target);
}

template <class Crypto>
int listen(Arguments& args) {
    const HostPort bind_to = parse_listen_address(args.target);
    const std::string& address = bind_to.host;
    const std::uint16_t port = bind_to.port;
    zrtp::Config config;
    if (auto error = read_options(args, config); !error.empty()) return usage_fail(error);
    if (args.flags.count("--rev") || args.flags.count("--www"))
        return usage_fail("listen zrtp: --rev and --www need a byte stream; ZRTP carries media (--echo reflects it)");
    if (args.flag("--echo")) {
        DatagramServerOptions options;
        if (auto error = take_datagram_server_options(args, options, std::nullopt); !error.empty()) return usage_fail(error);
        options.handshake_timeout = config.handshake_timeout;  // --handshake-timeout, read above
        options.quiet = args.flag("--quiet");
        args.refuse_unknown_options();
        config.on_sas = nullptr;  // each peer's SAS is on its own line
        ZrtpPeers<Crypto> peers;
        peers.config = std::move(config);
        return DatagramServer<ZrtpPeers<Crypto>>(std::move(peers), ServerMode::echo, options).run(address, port);
    }
    args.refuse_unknown_options();
    auto transport = Udp::bind(address, port);
    if (!transport) return fail("cannot bind " + args.target + ": " + transport.error().message());
    std::fprintf(stderr, "tapsec: listening for ZRTP on %s:%u\n", address.c_str(), transport->local_port());
    if (auto ec = learn_peer_from_first_datagram(*transport)) return fail("listen zrtp: " + ec.message());
    const std::string peer = transport->peer_endpoint().to_string();
    ZrtpOverUdp<Crypto> connection(Role::server, std::move(config), std::move(*transport));
    return run(connection, peer);
}

DemoResult demo() {
    DemoResult result;
    // Both sides send Hello from the start: each socket knows its peer beforehand.
    auto client_socket = Udp::bind("127.0.0.1", 0);
    if (!client_socket) return result.error = "bind: " + client_socket.error().message(), result;
    auto server_socket = Udp::bind("127.0.0.1", 0, *Endpoint::parse("127.0.0.1", client_socket->local_port()));
    if (!server_socket) return result.error = "bind: " + server_socket.error().message(), result;
    client_socket->set_peer_endpoint(*Endpoint::parse("127.0.0.1", server_socket->local_port()));

    zrtp::Config config;
    std::string server_sas, client_sas;
    zrtp::Config server_config = config, client_config = config;
    server_config.on_sas = [&](const zrtp::Sas& s) { server_sas = s.rendering; };
    client_config.on_sas = [&](const zrtp::Sas& s) { client_sas = s.rendering; };
    Bytes rtp;
    wire::Writer w(rtp);
    w.u8(0x80);
    w.u8(96);
    w.u16(1);
    w.u32(160);
    w.u32(0x7a9c0002);
    w.bytes(as_bytes("hello over ZRTP-keyed SRTP"));

    std::error_code server_error;
    std::thread server([&, socket = std::move(*server_socket)]() mutable {
        ZrtpOverUdp<DefaultProvider> s(Role::server, server_config, std::move(socket));
        if ((server_error = s.handshake())) return;
        auto m = s.receive_message(std::chrono::seconds(5));
        if (!m) server_error = m.error();
        else server_error = s.send(*m);
    });
    const auto start = Clock::now();
    ZrtpOverUdp<DefaultProvider> client(Role::client, client_config, std::move(*client_socket));
    auto ec = client.handshake();
    const auto handshaken = Clock::now();
    Result<Bytes> echo = ec ? Result<Bytes>(ec) : Result<Bytes>(Bytes{});
    if (!ec) {
        if ((ec = client.send(rtp))) echo = ec;
        else echo = client.receive_message(std::chrono::seconds(5));
    }
    const auto done = Clock::now();
    server.join();
    if (!echo) return result.error = echo.error().message(), result;
    if (server_error) return result.error = "server: " + server_error.message(), result;
    if (*echo != rtp) return result.error = "the echo differs from what was sent", result;
    if (client_sas.empty() || client_sas != server_sas) return result.error = "the two SAS differ", result;
    result.ok = true;
    result.negotiated = client.info().protocol + ", SAS " + client_sas + " on both sides" + provider_suffix(client);
    result.handshake_ms = std::chrono::duration<double, std::milli>(handshaken - start).count();
    result.echo_ms = std::chrono::duration<double, std::milli>(done - handshaken).count();
    return result;
}

const TakesProvider takes_provider{"zrtp"};
const Registration registration{ProtocolEntry{
    "zrtp",
    "Secure<ZrtpHandshake, SrtpRecord, Udp>",
    "ZRTP",
    ZrtpOverUdp<>::features,
    "ZRTP (RFC 6189): DH mode (X25519 or P-256) in the media path, keying the same SRTP record\n"
    "DTLS-SRTP keys. The SAS is printed on stderr for the users to compare. Each stdin chunk is\n"
    "sent as one SRTP packet (RTP payload type 96); received payloads go to stdout.\n\n"
    "options (connect and listen):\n"
    "  --groups G1,G2       key agreements in preference order: X255 (x25519), EC25 (P-256)\n"
    "  --ciphersuites LIST  SRTP auth tags: HS80, HS32 (or the SRTP profile names); alias --ciphers\n"
    "  --handshake-timeout S  handshake timeout in seconds (default 30; alias --timeout)\n" +
        provider_usage(20) +
    "\nlisten options:\n"
    "  --echo                reflect each RTP/RTCP packet, protected with that peer's SRTP keys\n"
    "  --quiet               no line per peer\n" +
    datagram_server_usage,
    [](Arguments& a) { return with_provider(a, [&]<class Crypto>() { return connect<Crypto>(a); }); },
    [](Arguments& a) { return with_provider(a, [&]<class Crypto>() { return listen<Crypto>(a); }); },
    demo,
    false,
    {},
}};

}  // namespace
}  // namespace tapsec::cli
