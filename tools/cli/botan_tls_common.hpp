// Command-line pieces shared by the Botan-based protocols (tls12, dtls12,
// dtls-srtp): openssl-like options turned into a botan_tls::Config, a session file
// for --sess-out / --sess-in, and a throwaway PKI for `tapsec demo`.
#pragma once

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <botan/base64.h>
#include <botan/ec_group.h>
#include <botan/ecdsa.h>
#include <botan/pkcs8.h>
#include <botan/system_rng.h>
#include <botan/x509_ca.h>
#include <botan/x509self.h>

#include <tapsec/botan_tls/config.hpp>
#include <tapsec/botan_tls/credentials.hpp>

#include <netdb.h>

#include <functional>
#include <thread>

#include <tapsec/transport/tcp.hpp>
#include <tapsec/transport/udp.hpp>

#include "address.hpp"
#include "datagram_server.hpp"
#include "dtls_peers.hpp"
#include "debug_options.hpp"
#include "provider_option.hpp"
#include "registry.hpp"
#include "server_modes.hpp"
#include "stdio.hpp"

namespace tapsec::cli::botan_common {

inline constexpr const char* client_usage =
    "  --CAfile FILE         trust the CA certificate(s) in FILE (PEM); a self-signed server\n"
    "                        certificate may be its own CA file\n"
    "  --cert FILE --key FILE  client certificate and key (PEM) for mutual authentication\n"
    "  --servername NAME     name to send (SNI) and to check in the certificate (default: HOST)\n"
    "  --alpn LIST           offer these application protocols (ALPN), e.g. h2,http/1.1\n"
    "  --groups LIST         key-exchange groups (x25519, secp256r1, secp384r1, secp521r1)\n"
    "  --ciphersuites LIST   cipher suites by IANA name (TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256);\n"
    "                        alias --ciphers\n"
    "  --handshake-timeout S give up the handshake after S seconds (default 30; alias --timeout)\n"
    "  --noverify            do not verify the server's certificate (testing only; alias --insecure)\n"
    "  --sess-out FILE / --sess-in FILE  store / resume a session\n"
    "  --quiet               do not print the negotiated parameters on stderr\n"
    "  --keylogfile FILE     append the master secret to FILE (NSS key log; default $SSLKEYLOGFILE)\n"
    "  --trace               print each handshake message and alert on stderr\n"
    "  --showcerts           print the peer's certificate chain (PEM) on stderr\n"
    "  --provider botan      the only provider: Botan's TLS stack does all of the cryptography\n";

inline const std::string server_usage =
    "  --cert FILE --key FILE  server certificate chain and private key (PEM; ECDSA or RSA)\n"
    "  --CAfile FILE         CA certificate(s) for verifying client certificates\n"
    "  --verify [DEPTH]      ask for a client certificate, verify it if one is sent\n"
    "  --require-client-cert (or --Verify [DEPTH]) insist on a valid client certificate\n"
    "  --alpn LIST           accept these application protocols, in order of preference\n"
    "  --groups LIST, --ciphersuites LIST  as for connect (LIST: ':' or ',' separated)\n"
    "  --naccept N           serve N connections one after another (default 1), sharing a\n"
    "                        session cache so that clients can resume\n"
    "  --quiet               do not print the negotiated parameters on stderr\n"
    "  --keylogfile FILE     append the master secret to FILE (NSS key log; default $SSLKEYLOGFILE)\n"
    "  --trace               print each handshake message and alert on stderr\n"
    "  --showcerts           print the peer's certificate chain (PEM) on stderr\n"
    "  --provider botan      the only provider: Botan's TLS stack does all of the cryptography\n" +
    std::string(server_modes_usage);

inline bool read_text_file(const std::string& path, std::string& out) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return false;
    std::stringstream s;
    s << in.rdbuf();
    out = s.str();
    return true;
}

/// Reads the options common to client and server into `config`. Returns an error
/// line (empty on success) naming the option and the file.
inline std::string read_common(Arguments& args, botan_tls::Config& config, Role role) {
    if (auto alpn = args.take_list("--alpn")) config.alpn = *alpn;
    if (auto groups = args.take_list("--groups")) config.groups = *groups;
    if (auto ciphers = args.take_list("--ciphersuites")) config.cipher_suites = *ciphers;
    if (auto ca = args.take("--CAfile")) {
        std::string pem;
        if (!read_text_file(*ca, pem)) return "--CAfile: cannot read " + *ca;
        if (!botan_tls::parse_certificates(pem)) return "--CAfile " + *ca + ": no valid PEM certificate in it";
        config.trust.ca_certificates_pem.push_back(pem);
    }
    auto cert = args.take("--cert");
    auto key = args.take("--key");
    const bool key_in_cert = cert && !key;
    if (key_in_cert) key = cert;  // like openssl: the key may sit in the certificate file
    if (key && !cert) return "--key given without --cert";
    if (cert) {
        std::string chain, key_pem;
        if (!read_text_file(*cert, chain)) return "--cert: cannot read " + *cert;
        if (!read_text_file(*key, key_pem)) return "--key: cannot read " + *key;
        if (!botan_tls::parse_certificates(chain)) return "--cert " + *cert + ": not a PEM certificate";
        if (!botan_tls::parse_private_key(key_pem))
            return key_in_cert ? "no --key given, and --cert " + *cert + " holds no private key" : "--key " + *key + ": not a readable private key (unencrypted PEM PKCS#8 expected)";
        config.identity = Identity(std::move(chain), std::move(key_pem));
    } else if (role == Role::server) {
        return "a server needs --cert FILE and --key FILE";
    }
    return {};
}

/// A single-session file for --sess-out / --sess-in: the cache key on the first
/// line, then the Botan session (which holds the master secret) in PEM armour.
/// Written with mode 0600.
class SessionFile final : public SessionCache {
public:
    SessionFile(std::string in_path, std::string out_path) : in_(std::move(in_path)), out_(std::move(out_path)) {}
    void store(const std::string& key, const Bytes& session) override {
        if (out_.empty()) return;
        const std::string text = key + "\n-----BEGIN TAPSEC TLS SESSION-----\n" +
                                 Botan::base64_encode(session.data(), session.size()) + "\n-----END TAPSEC TLS SESSION-----\n";
        const int fd = ::open(out_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0) return;
        ::fchmod(fd, 0600);  // an existing file keeps its mode otherwise
        [[maybe_unused]] auto written = ::write(fd, text.data(), text.size());
        ::close(fd);
    }
    std::optional<Bytes> load(const std::string& key) override {
        if (in_.empty()) return std::nullopt;
        std::string text;
        if (!read_text_file(in_, text)) return std::nullopt;
        std::stringstream s(text);
        std::string stored_key, begin, body, end;
        std::getline(s, stored_key);
        std::getline(s, begin);
        std::getline(s, body);
        if (stored_key != key) return std::nullopt;
        try {
            auto decoded = Botan::base64_decode(body);
            return Bytes(decoded.begin(), decoded.end());
        } catch (const std::exception&) {
            return std::nullopt;
        }
    }
    void remove(const std::string&) override {}

private:
    std::string in_, out_;
};

/// A CA and a "localhost" leaf (ECDSA P-256), made in memory for `tapsec demo`.
struct DemoPki {
    std::string ca_pem, leaf_pem, leaf_key_pem;

    static DemoPki make() {
        auto& rng = Botan::system_rng();
        const Botan::EC_Group group("secp256r1");
        Botan::ECDSA_PrivateKey ca_key(rng, group);
        Botan::X509_Cert_Options ca_options("tapsec demo CA");
        ca_options.CA_key();
        const auto ca_cert = Botan::X509::create_self_signed_cert(ca_options, ca_key, "SHA-256", rng);
        Botan::X509_CA ca(ca_cert, ca_key, "SHA-256", rng);
        Botan::ECDSA_PrivateKey leaf_key(rng, group);
        Botan::X509_Cert_Options leaf_options("localhost");
        leaf_options.dns = "localhost";
        const auto request = Botan::X509::create_cert_req(leaf_options, leaf_key, "SHA-256", rng);
        const auto now = std::chrono::system_clock::now();
        const auto leaf = ca.sign_request(request, rng, Botan::X509_Time(now - std::chrono::hours(1)),
                                          Botan::X509_Time(now + std::chrono::hours(24)));
        return {ca_cert.PEM_encode(), leaf.PEM_encode(), Botan::PKCS8::PEM_encode(leaf_key)};
    }
};

/// A server's client-certificate options: openssl s_server spells them -verify N and
/// -Verify N (the depth is accepted and ignored). An error line, or empty.
inline std::string read_client_verification(Arguments& args, botan_tls::Config& config) {
    const bool request = args.flag("--verify") || args.take("--verify").has_value();
    const bool require = args.flag("--require-client-cert") || args.flag("--Verify") || args.take("--Verify").has_value();
    config.verify_peer = request || require;
    config.require_client_certificate = require;
    if (config.verify_peer && config.trust.ca_certificates_pem.empty())
        return "--verify / --require-client-cert need --CAfile FILE to verify client certificates";
    return {};
}

inline std::string failure_line(std::error_code ec, const std::string& detail) {
    std::string line = ec.message();
    if (!detail.empty() && detail != line) line += " (" + detail + ")";
    return line;
}

inline std::string check_identity(const botan_tls::Config& config, Role role) {
    botan_tls::Credentials credentials(config, role);
    if (credentials.error() && !config.identity.empty()) return credentials.error_detail();
    return {};
}

inline std::string describe(const SessionInfo& info) {
    std::string out = info.protocol + ", " + info.cipher_suite;
    if (!info.group.empty()) out += ", " + info.group;
    if (!info.alpn.empty()) out += ", ALPN " + info.alpn;
    if (info.resumed) out += ", resumed";
    return out;
}

/// What differs between the Botan-based protocols on the command line.
template <class Conn>
struct CommandSpec {
    std::string name;   // "tls12"
    std::string label;  // "TLS 1.2"
    /// Extra options (e.g. DTLS-SRTP profiles); returns an error line or "".
    std::function<std::string(Arguments&, botan_tls::Config&, Role)> extra_options;
    /// Called once the handshake is done (e.g. to print exported keys on stderr).
    std::function<void(Conn&)> after_handshake;
    /// Moves stdin/stdout over the connection; pump_stdio when empty.
    std::function<int(Conn&, int)> pump;
};

/// `tapsec connect <name> HOST:PORT`: dial(host, port) gives the transport.
template <class Conn, class Dial>
int run_connect(Arguments& args, const CommandSpec<Conn>& spec, Dial dial) {
    refuse_provider_option(args, botan_tls_stack_reason);
    const HostPort target = parse_host_port(args.target);
    const std::string& host = target.host;
    const std::uint16_t port = target.port;
    botan_tls::Config config;
    if (auto error = read_common(args, config, Role::client); !error.empty()) return usage_fail(error);
    config.server_name = args.take("--servername").value_or(host);
    config.server_port = port;
    if (args.flag("--noverify")) config.verify_peer = false;
    const auto sess_in = args.take("--sess-in").value_or(""), sess_out = args.take("--sess-out").value_or("");
    if (!sess_in.empty() && Arguments::read_file_or_throw("--sess-in", sess_in).find("-----BEGIN TAPSEC TLS SESSION-----") == std::string::npos)
        return usage_fail("--sess-in " + sess_in + ": not a session file written by --sess-out");
    if (!sess_in.empty() || !sess_out.empty()) config.session_cache = std::make_shared<SessionFile>(sess_in, sess_out);
    if (auto timeout = args.take_seconds("--handshake-timeout")) config.handshake_timeout = *timeout;
    if (spec.extra_options)
        if (auto error = spec.extra_options(args, config, Role::client); !error.empty()) return usage_fail(error);
    const bool quiet = args.flag("--quiet");
    if (auto error = debug_options().take(args, config); !error.empty()) return usage_fail(error);
    args.refuse_unknown_options();
    if (config.verify_peer && config.trust.ca_certificates_pem.empty()) config.trust.use_system_store = true;
    if (auto error = check_identity(config, Role::client); !error.empty()) return usage_fail(error);
    if (!config.verify_peer && !quiet) std::fprintf(stderr, "tapsec: warning: --noverify: the server is not authenticated\n");

    std::string resolve_error;
    if (!resolve(host, port, SOCK_STREAM, resolve_error)) return fail(resolve_error);
    auto transport = dial(host, port);
    if (!transport) return fail("cannot connect to " + args.target + ": " + transport.error().message());
    Conn connection(Role::client, std::move(config), std::move(*transport));
    debug_options().handshake_starting();
    if (auto ec = connection.handshake()) {
        std::string line = failure_line(ec, connection.engine().failure_detail());
        if (ec == Errc::certificate_name_mismatch) line += "; --servername NAME checks another name";
        if (ec == Errc::timed_out) line = "no answer (timed out)";
        return fail(spec.label + " handshake with " + args.target + " failed: " + line);
    }
    if (!quiet)
        std::fprintf(stderr, "tapsec: connected: %s; server %s\n", describe(connection.info()).c_str(),
                     connection.peer().subject.empty() ? "(unverified)" : connection.peer().subject.c_str());
    debug_options().handshake_done(connection.info());
    if (spec.after_handshake) spec.after_handshake(connection);
    if (spec.pump) return spec.pump(connection, connection.transport().native_handle());
    PumpOptions pump_options;
    pump_options.quiet = quiet;
    pump_options.half_close = false;  // Botan's state ends with our close_notify: close when the peer is done
    pump_options.count = debug_options().counter();
    const int status = pump(connection, pump_options);
    debug_options().connection_ended(connection.info(), quiet);
    return status;
}

/// Who a server talks to: for DTLS the client whose cookie bound the connection (the
/// socket's first sender may have been anyone), else the transport's peer.
template <class Conn>
std::string client_address(Conn& connection) {
    if constexpr (requires { connection.engine().bound_peer(); })
        if (auto bound = connection.engine().bound_peer()) return bound->to_string();
    return connection.transport().peer_endpoint().to_string();
}

/// `tapsec listen <name> [ADDR:]PORT`: bind(address, port) gives an acceptor whose
/// next() yields one transport per connection, and port() the bound port.
template <class Conn, class Bind>
int run_listen(Arguments& args, const CommandSpec<Conn>& spec, Bind bind) {
    refuse_provider_option(args, botan_tls_stack_reason);
    const HostPort bind_to = parse_listen_address(args.target);
    const std::string& address = bind_to.host;
    const std::uint16_t port = bind_to.port;
    ListenOptions listen_options;
    if (auto error = take_listen_options(args, listen_options); !error.empty()) return usage_fail(error);
    if (spec.pump && listen_options.mode != ServerMode::stdio)
        return usage_fail("listen " + spec.name + ": --echo, --rev and --www need a byte stream; " + spec.name + " carries media");
    botan_tls::Config config;
    if (auto error = read_common(args, config, Role::server); !error.empty()) return usage_fail(error);
    if (auto error = read_client_verification(args, config); !error.empty()) return usage_fail(error);
    const int accepts = static_cast<int>(args.take_uint("--naccept", 1, 1000000).value_or(1));
    if (spec.extra_options)
        if (auto error = spec.extra_options(args, config, Role::server); !error.empty()) return usage_fail(error);
    const bool quiet = args.flag("--quiet");
    if (auto error = debug_options().take(args, config); !error.empty()) return usage_fail(error);
    args.refuse_unknown_options();
    if (auto error = check_identity(config, Role::server); !error.empty()) return fail(error);
    config.session_cache = std::make_shared<InMemorySessionCache>();
    config.handshake_timeout = listen_options.handshake_timeout;  // per connection: an idle client cannot hold the listener

    auto acceptor = bind(address, port);
    if (!acceptor) return fail("cannot listen on " + address + ":" + std::to_string(port) + ": " + acceptor.error().message());
    if (!quiet) std::fprintf(stderr, "tapsec: listening on %s:%u (%s)\n", address.c_str(), acceptor->port(), spec.label.c_str());
    int status = 0;
    for (int i = 0; i < accepts; ++i) {
        auto transport = acceptor->next();
        if (!transport) return fail("accept failed: " + transport.error().message());
        Conn connection(Role::server, config, std::move(*transport));
        debug_options().handshake_starting();
        if (auto ec = connection.handshake()) {
            const std::string peer = client_address(connection);
            status = fail(connection.is_established()
                              ? spec.label + " with " + peer + ": " + describe_handshake_failure(connection, ec, {})
                              : spec.label + " handshake with " + peer + " failed: " +
                                    failure_line(ec, connection.engine().failure_detail()));
            continue;
        }
        if (!quiet)
            std::fprintf(stderr, "tapsec: accepted %s: %s; client %s\n", client_address(connection).c_str(),
                         describe(connection.info()).c_str(),
                         connection.peer().subject.empty() ? "(no certificate)" : connection.peer().subject.c_str());
        debug_options().handshake_done(connection.info());
        if (spec.after_handshake) spec.after_handshake(connection);
        PumpOptions pump_options;
        pump_options.quiet = quiet;
        pump_options.half_close = false;
        pump_options.count = debug_options().counter();
        const int rc = spec.pump ? spec.pump(connection, connection.transport().native_handle())
                                 : serve_connection(connection, listen_options.mode, spec.label, pump_options);
        if (rc) status = rc;
        if (!spec.pump) debug_options().connection_ended(connection.info(), quiet);
    }
    return status;
}

/// `tapsec listen dtls12|dtls-srtp --echo|--rev|--www`: every peer at once on one UDP
/// socket (datagram_server.hpp). `Engine` is the composition's sans-I/O engine;
/// `established_line` describes a peer once its handshake is done.
template <class Engine, class Conn>
int run_datagram_listen(Arguments& args, const CommandSpec<Conn>& spec, const std::string& composition,
                        std::function<std::string(Engine&)> established_line, std::size_t max_send) {
    refuse_provider_option(args, botan_tls_stack_reason);
    const HostPort bind_to = parse_listen_address(args.target);
    ListenOptions listen_options;
    const bool timeout_given = args.options.count("--handshake-timeout") != 0;
    if (auto error = take_listen_options(args, listen_options); !error.empty()) return usage_fail(error);
    DatagramServerOptions options;
    if (auto error = take_datagram_server_options(args, options,
                                                  timeout_given ? std::optional(listen_options.handshake_timeout) : std::nullopt);
        !error.empty())
        return usage_fail(error);
    botan_tls::Config config;
    if (auto error = read_common(args, config, Role::server); !error.empty()) return usage_fail(error);
    if (auto error = read_client_verification(args, config); !error.empty()) return usage_fail(error);
    if (spec.extra_options)
        if (auto error = spec.extra_options(args, config, Role::server); !error.empty()) return usage_fail(error);
    options.quiet = args.flag("--quiet");
    if (auto error = debug_options().take(args, config); !error.empty()) return usage_fail(error);
    args.refuse_unknown_options();
    if (auto error = check_identity(config, Role::server); !error.empty()) return fail(error);
    config.session_cache = std::make_shared<InMemorySessionCache>();  // shared by the peers: resumption works
    DtlsPeers<Engine> peers(spec.label, composition, std::move(established_line), max_send, std::move(config),
                            options.handshake_timeout);
    return DatagramServer<DtlsPeers<Engine>>(std::move(peers), listen_options.mode, options).run(bind_to.host, bind_to.port);
}

/// The line after a peer's handshake: what was negotiated, and the client's certificate.
template <class Engine>
std::string accepted_line(Engine& engine) {
    const SessionInfo info = engine.session_info();
    return "accepted: " + describe(info) + "; client " + (info.peer.subject.empty() ? std::string("(no certificate)") : info.peer.subject);
}

/// A TCP listening socket as an acceptor.
struct TcpAcceptor {
    TcpListener listener;
    Result<Tcp> next() { return listener.accept(); }
    std::uint16_t port() const { return listener.port(); }
    static Result<TcpAcceptor> bind(const std::string& address, std::uint16_t port) {
        auto l = TcpListener::bind(address, port);
        if (!l) return l.error();
        return TcpAcceptor{std::move(*l)};
    }
};

/// A UDP socket per connection: the first bound at once (so errors show before any
/// client comes), the next ones bound again on the same port after the previous
/// connection ended. The socket answers whichever client speaks first.
struct UdpAcceptor {
    std::string address;
    std::uint16_t bound_port = 0;
    std::optional<Udp> first;
    Result<Udp> next() {
        if (first) {
            Udp u = std::move(*first);
            first.reset();
            return u;
        }
        return Udp::bind(address, bound_port);
    }
    std::uint16_t port() const { return bound_port; }
    static Result<UdpAcceptor> bind(const std::string& address, std::uint16_t port) {
        auto u = Udp::bind(address, port);
        if (!u) return u.error();
        UdpAcceptor a{address, u->local_port(), std::move(*u)};
        return a;
    }
};

/// Resolves HOST (numeric, "localhost", or a name; address.hpp) to an endpoint for UDP.
inline Result<Udp> dial_udp(const std::string& host, std::uint16_t port) {
    std::string error;
    auto endpoint = resolve(host, port, SOCK_DGRAM, error);
    if (!endpoint) return Errc::address_invalid;  // run_connect resolved it first and said why
    return Udp::connect(*endpoint);
}

/// `tapsec demo` for one Botan-based composition: a server thread and a client on
/// loopback, certificates made in memory, one echo; times the handshake and echo.
template <class Conn, class Bind, class Dial>
DemoResult run_demo(const std::string& ping, Bind bind, Dial dial,
                    std::function<void(botan_tls::Config&, botan_tls::Config&)> adjust = {},
                    std::function<std::string(Conn&)> extra_description = {}) {
    DemoResult result;
    try {
        const auto pki = DemoPki::make();
        botan_tls::Config server_config;
        server_config.identity = Identity(pki.leaf_pem, pki.leaf_key_pem);
        server_config.verify_peer = false;
        botan_tls::Config client_config;
        client_config.trust.ca_certificates_pem = {pki.ca_pem};
        client_config.server_name = "localhost";
        client_config.handshake_timeout = server_config.handshake_timeout = std::chrono::seconds(10);
        if (adjust) adjust(client_config, server_config);

        auto acceptor = bind("127.0.0.1", 0);
        if (!acceptor) return {false, {}, 0, 0, "listen: " + acceptor.error().message()};
        const auto port = acceptor->port();
        std::string server_error;
        std::thread server_thread([&] {
            auto transport = acceptor->next();
            if (!transport) return void(server_error = "accept: " + transport.error().message());
            Conn server(Role::server, server_config, std::move(*transport));
            if (auto ec = server.handshake()) return void(server_error = ec.message());
            auto message = server.receive_message(std::chrono::seconds(10));
            if (!message) return void(server_error = message.error().message());
            if (auto ec = server.send(*message)) return void(server_error = ec.message());
            // Stay a moment for a lost final flight or the client's close_notify.
            auto end = server.receive_message(std::chrono::seconds(2));
            (void)end;
            server.close();
        });
        const auto t0 = Clock::now();
        auto transport = dial(port);
        if (!transport) {
            server_thread.join();
            return {false, {}, 0, 0, "connect: " + transport.error().message()};
        }
        Conn client(Role::client, client_config, std::move(*transport));
        auto ec = client.handshake();
        const auto t1 = Clock::now();
        Result<Bytes> echo = Errc::not_connected;
        if (!ec) {
            ec = client.send(as_bytes(ping));
            if (!ec) echo = client.receive_message(std::chrono::seconds(10));
            if (!ec && echo && std::string(echo->begin(), echo->end()) != ping) ec = Errc::internal_error;
        }
        const auto t2 = Clock::now();
        std::string extra;
        if (!ec && extra_description) extra = extra_description(client);
        client.close();
        server_thread.join();
        if (ec || !echo || !server_error.empty())
            return {false, {}, 0, 0, ec ? ec.message() : !echo ? echo.error().message() : "server: " + server_error};
        result.ok = true;
        result.negotiated = describe(client.info()) + extra;
        result.handshake_ms = std::chrono::duration<double, std::milli>(t1 - t0).count();
        result.echo_ms = std::chrono::duration<double, std::milli>(t2 - t1).count();
    } catch (const std::exception& e) {
        result.ok = false;
        result.error = e.what();
    }
    return result;
}

}  // namespace tapsec::cli::botan_common
