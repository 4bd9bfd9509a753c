// `tapsec connect|listen tcpcrypt` and its demo: Secure<TcpcryptHandshake, TcpcryptRecord, TcpEno>.
// stdin goes out in tcpcrypt frames, received data goes to stdout (like the TLS modes).
// The session ID is printed on stderr: tcpcrypt authenticates no one, the application
// (or the users, comparing it) does (authentication delegation). When TCP-ENO does not
// negotiate, the command refuses plain TCP unless --allow-plain is given, and then warns.
// `listen --echo|--rev|--www` serves every connection at once (concurrent_server.hpp, on
// the Asio adapter); the stdin/stdout mode serves one connection: it has one stdin.
#include <chrono>
#include <future>
#include <string>
#include <thread>

#include <tapsec/tapsec.hpp>
#include <tapsec/tcpcrypt.hpp>

#include <tapsec/asio/stream.hpp>

#include "botan_tls_common.hpp"
#include "concurrent_server.hpp"
#include "demo.hpp"
#include "provider_option.hpp"
#include "registry.hpp"
#include "server_modes.hpp"
#include "stdio.hpp"

namespace tapsec::cli {
namespace {

template <class Crypto = crypto::Botan2>
using TcpcryptOverEno = Secure<TcpcryptHandshake, TcpcryptRecord, TcpEno, Crypto>;

std::optional<std::uint8_t> tep_named(const std::string& name) {
    if (name == "curve25519" || name == "x25519" || name == "TCPCRYPT_ECDHE_Curve25519") return tcp_eno::tep::tcpcrypt_ecdhe_curve25519;
    if (name == "p256" || name == "P-256" || name == "TCPCRYPT_ECDHE_P256") return tcp_eno::tep::tcpcrypt_ecdhe_p256;
    return std::nullopt;
}
std::optional<std::uint8_t> aead_named(const std::string& name) {
    if (name == "aes128gcm" || name == "AEAD_AES_128_GCM") return tcpcrypt::aead_id::aes_128_gcm;
    if (name == "aes256gcm" || name == "AEAD_AES_256_GCM") return tcpcrypt::aead_id::aes_256_gcm;
    if (name == "chacha20poly1305" || name == "AEAD_CHACHA20_POLY1305") return tcpcrypt::aead_id::chacha20_poly1305;
    return std::nullopt;
}

/// An Asio TCP socket whose stream starts with the TCP-ENO preamble, as TcpEno's does: the
/// transport (offering TCP option negotiation) that lets the concurrent server run tcpcrypt.
class EnoSocketTransport : public asio::stream_socket_transport<boost::asio::ip::tcp::socket> {
public:
    [[maybe_unused]] static constexpr std::string_view name = "TCP with TCP-ENO (Asio; options in a stream preamble)";
    using offers = TcpEno::offers;
    using stream_socket_transport::stream_socket_transport;
};

/// tcpcrypt over an Asio socket as an AsyncReadStream / AsyncWriteStream: asio::stream
/// over EnoSocketTransport instead of plain TCP.
template <class Crypto>
using TcpcryptStream = asio::stream<TcpcryptHandshake, TcpcryptRecord, boost::asio::ip::tcp::socket, Crypto, EnoSocketTransport>;

/// The concurrent server's line for a connection: what was negotiated and the session ID
/// (the users authenticate it by comparing), or the warning that it is plain TCP.
template <class Crypto>
std::string established_line(TcpcryptStream<Crypto>& stream) {
    const auto& engine = stream.secure().engine();
    const auto info = stream.secure().info();
    if (!engine.is_encrypted()) return "WARNING: " + info.protocol + ": data is NOT encrypted";
    return info.protocol + ", " + info.group + ", " + info.cipher_suite + ", session ID " + to_hex(engine.session_id()) +
           " (authenticate it: compare it with the peer's)";
}

/// Options both roles share; an error message, or empty.
std::string read_options(Arguments& args, tcpcrypt::Config& config) {
    if (auto list = args.take_list("--teps")) {
        config.teps.clear();
        for (auto& n : *list) {
            auto id = tep_named(n);
            if (!id) return "unknown TEP '" + n + "' (curve25519, p256)";
            config.teps.push_back(*id);
        }
    }
    if (auto list = args.take_list("--aeads")) {
        config.aeads.clear();
        for (auto& n : *list) {
            auto id = aead_named(n);
            if (!id) return "unknown AEAD '" + n + "' (aes128gcm, aes256gcm, chacha20poly1305)";
            config.aeads.push_back(*id);
        }
    }
    config.allow_plain_fallback = args.flag("--allow-plain");
    config.enable_eno = !args.flag("--no-eno");
    if (!config.enable_eno) config.allow_plain_fallback = true;  // a host without ENO is plain TCP by definition
    if (auto timeout = args.take_seconds("--handshake-timeout")) config.handshake_timeout = *timeout;
    return {};
}

int run(auto& connection, const std::string& peer, ServerMode mode = ServerMode::stdio) {
    if (auto ec = connection.handshake())
        return fail("tcpcrypt with " + peer + (connection.is_established() ? ": " + describe_handshake_failure(connection, ec, {})
                                                                          : " failed: " + ec.message()));
    const auto& engine = connection.engine();
    if (!engine.is_encrypted()) {
        std::fprintf(stderr, "tapsec: WARNING: %s with %s: data is NOT encrypted\n", connection.info().protocol.c_str(),
                     peer.c_str());
    } else {
        const auto info = connection.info();
        std::fprintf(stderr, "tapsec: %s with %s, %s, %s%s\n", info.protocol.c_str(), peer.c_str(), info.group.c_str(),
                     info.cipher_suite.c_str(), provider_suffix(connection).c_str());
        std::fprintf(stderr, "tapsec: session ID %s (authenticate it: compare it with the peer's)\n",
                     to_hex(engine.session_id()).c_str());
    }
    return serve_connection(connection, mode, "Secure<TcpcryptHandshake, TcpcryptRecord, TcpEno>", PumpOptions{});
}

template <class Crypto>
int connect(Arguments& args) {
    const HostPort target = parse_host_port(args.target);
    const std::string& host = target.host;
    const std::uint16_t port = target.port;
    tcpcrypt::Config config;
    if (auto error = read_options(args, config); !error.empty()) return usage_fail(error);
    args.refuse_unknown_options();
    std::string resolve_error;
    if (!resolve(host, port, SOCK_STREAM, resolve_error)) return fail(resolve_error);
    auto transport = TcpEno::connect(host, port);
    if (!transport) return fail("cannot reach " + args.target + ": " + transport.error().message());
    TcpcryptOverEno<Crypto> connection(Role::client, std::move(config), std::move(*transport));
    return run(connection, args.target);
}

template <class Crypto>
int listen(Arguments& args) {
    const HostPort bind_to = parse_listen_address(args.target);
    const std::string& address = bind_to.host;
    const std::uint16_t port = bind_to.port;
    ListenOptions listen_options;
    const bool timeout_given = args.options.count("--handshake-timeout") != 0;
    if (auto error = take_listen_options(args, listen_options); !error.empty()) return usage_fail(error);
    tcpcrypt::Config config;
    config.handshake_timeout = listen_options.handshake_timeout;  // read_options may say the same again
    if (auto error = read_options(args, config); !error.empty()) return usage_fail(error);
    if (listen_options.mode != ServerMode::stdio) {
        ConcurrentOptions options;
        if (auto error = take_concurrent_options(args, options, timeout_given ? std::optional(config.handshake_timeout) : std::nullopt);
            !error.empty())
            return usage_fail(error);
        options.quiet = args.flag("--quiet");
        args.refuse_unknown_options();
        config.handshake_timeout = options.handshake_timeout;
        using Stream = TcpcryptStream<Crypto>;
        ConcurrentHooks<Stream> hooks{"tcpcrypt", "Secure<TcpcryptHandshake, TcpcryptRecord, TcpEno>", established_line<Crypto>};
        return ConcurrentServer<Stream>(std::move(config), listen_options.mode, options, std::move(hooks)).run(address, port);
    }
    args.refuse_unknown_options();
    auto listener = TcpEnoListener::bind(address, port);
    if (!listener) return fail("cannot bind " + args.target + ": " + listener.error().message());
    std::fprintf(stderr, "tapsec: listening for tcpcrypt (TCP-ENO) on %s:%u\n", address.c_str(), listener->port());
    auto transport = listener->accept();
    if (!transport) return fail("accept: " + transport.error().message());
    const std::string peer = transport->peer_endpoint().to_string();
    TcpcryptOverEno<Crypto> connection(Role::server, std::move(config), std::move(*transport));
    return run(connection, peer, listen_options.mode);
}

DemoResult demo() {
    auto listener = TcpEnoListener::bind("127.0.0.1", 0);
    if (!listener) return DemoResult{false, {}, 0, 0, "bind: " + listener.error().message()};
    const auto port = listener->port();
    return run_echo_demo<TcpcryptOverEno<DefaultProvider>>(
        [&]() -> Result<TcpcryptOverEno<DefaultProvider>> {
            auto socket = listener->accept(std::chrono::seconds(5));
            if (!socket) return socket.error();
            return TcpcryptOverEno<DefaultProvider>(Role::server, tcpcrypt::Config{}, std::move(*socket));
        },
        [&]() -> Result<TcpcryptOverEno<DefaultProvider>> {
            auto socket = TcpEno::connect("127.0.0.1", port);
            if (!socket) return socket.error();
            return TcpcryptOverEno<DefaultProvider>(Role::client, tcpcrypt::Config{}, std::move(*socket));
        },
        [](auto& server, auto& client) {
            return server.engine().session_id() == client.engine().session_id() ? std::string{} : "the session IDs differ";
        },
        [](auto& client) {
            const auto info = client.info();
            return info.protocol + ", " + info.group + ", " + info.cipher_suite + ", session ID " +
                   to_hex(client.engine().session_id()).substr(0, 16) + "... on both sides" + provider_suffix(client);
        },
        std::chrono::seconds(5));
}

const TakesProvider takes_provider{"tcpcrypt"};
const Registration registration{ProtocolEntry{
    "tcpcrypt",
    "Secure<TcpcryptHandshake, TcpcryptRecord, TcpEno>",
    "tcpcrypt",
    TcpcryptOverEno<>::features,
    "tcpcrypt (RFC 8548) negotiated by TCP-ENO (RFC 8547). The ENO options travel in a framed\n"
    "preamble at the start of the TCP stream (Linux keeps TCP options to the kernel; see\n"
    "docs/tcpcrypt.md). The session ID is printed on stderr: compare it with the peer's to\n"
    "authenticate the connection. stdin goes out in frames; received data goes to stdout.\n\n"
    "options (connect and listen):\n"
    "  --teps T1,T2         TEPs in preference order: curve25519, p256 (default both)\n"
    "  --aeads A1,A2        aes128gcm, aes256gcm, chacha20poly1305 (default all three)\n"
    "  --allow-plain        if TCP-ENO does not negotiate, continue as plain TCP (with a warning)\n"
    "  --no-eno             behave as a host without TCP-ENO (plain TCP; for trying the fallback)\n"
    "  --handshake-timeout S  handshake timeout in seconds (default 30; 10 for listen; alias --timeout)\n" +
    provider_usage(20) +
    "\nlisten options:\n" + std::string(server_modes_usage) + concurrent_usage +
    "  --quiet               no line per connection\n",
    [](Arguments& a) { return with_provider(a, [&]<class Crypto>() { return connect<Crypto>(a); }); },
    [](Arguments& a) { return with_provider(a, [&]<class Crypto>() { return listen<Crypto>(a); }); },
    demo,
    false,
    {},
}};

}  // namespace
}  // namespace tapsec::cli
