// `tapsec connect tls13 HOST:PORT` and `tapsec listen tls13 [ADDR:]PORT`:
// Secure<Tls13Handshake, AeadRecord, Tcp> with options named as in openssl s_client /
// s_server, so a user of those finds them where expected.
#include <cstdio>
#include <fstream>
#include <sstream>
#include <thread>

#include <tapsec/tapsec.hpp>
#if TAPSEC_HAVE_OPENSSL_PROVIDER
#include <tapsec/crypto/openssl.hpp>
#endif

#include "address.hpp"
#include "concurrent_server.hpp"
#include "debug_options.hpp"
#include "provider_option.hpp"
#include "demo.hpp"
#include "registry.hpp"
#include "server_modes.hpp"
#include "stdio.hpp"

namespace tapsec::cli {
namespace {

template <class Crypto>
using Tls13 = Secure<Tls13Handshake, AeadRecord, Tcp, Crypto>;

template <class Crypto>
std::string composition_name() {
    return std::is_same_v<Crypto, crypto::Botan2> ? "Secure<Tls13Handshake, AeadRecord, Tcp>"
                                                  : "Secure<Tls13Handshake, AeadRecord, Tcp, crypto::OpenSsl3>";
}

const std::string usage =
    "common options:\n"
    "  --ciphersuites LIST     TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256\n"
    "  --groups LIST           X25519:P-256 (the client sends a key share for the first only)\n"
    "  --alpn LIST             comma-separated protocol names (e.g. h2,http/1.1)\n"
    "  --cert FILE --key FILE  our certificate chain (PEM, leaf first) and PKCS#8 key\n"
    "  --CAfile FILE           trust anchors (PEM) for the peer's certificate\n"
    "  --psk-identity ID --psk HEX   external PSK (RFC 8446 4.2.11; SHA-256 suites)\n"
    "  --psk-only              psk_ke: no (EC)DHE with the PSK (no forward secrecy)\n"
    "  --no-middlebox          no middlebox compatibility mode (no fake session id / CCS)\n"
    "  --keyupdate             after the handshake, send a KeyUpdate asking the peer to update too\n"
    "  --keyupdate-after N     KeyUpdate automatically after N records under one key\n"
    "  --record-size-limit N   advertise an RFC 8449 record_size_limit (64..16385)\n"
    "  --quiet                 no connection summary on stderr\n"
    "  --provider NAME         crypto provider: openssl (OpenSSL 3 libcrypto; the default where built\n"
    "                          with it) or botan (Botan 2); the summary line names the one used\n"
    "connect only:\n"
    "  --servername NAME       SNI and the name checked in the certificate (default: HOST)\n"
    "  --noverify              accept any server certificate (testing only)\n"
    "  --sess-out FILE         store the session ticket the server sends\n"
    "  --sess-in FILE          resume the session stored in FILE\n"
    "  --early-data FILE       send FILE as 0-RTT data as far as the --sess-in ticket allows; the rest\n"
    "                          (or all, without such a ticket) right after the handshake\n"
    "listen only:\n"
    "  --verify                request a client certificate (checked against --CAfile)\n"
    "  --require-client-cert   require one (mutual authentication)\n"
    "  --max-early-data N      accept up to N bytes of 0-RTT data (single-use tickets)\n"
    "  --hrr                   always answer the first ClientHello with a HelloRetryRequest\n"
    "  --naccept N             exit after N connections (default 1); one after another in the\n"
    "                          stdin/stdout mode, at once with --echo / --rev / --www\n"
    "  --ticket-key-file FILE  48-byte ticket key (else random per run)\n" +
    std::string(server_modes_usage) + concurrent_usage;

std::optional<std::string> slurp(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return std::nullopt;
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

/// A session cache backed by one file (openssl's -sess_out / -sess_in).
class FileSessionCache final : public SessionCache {
public:
    FileSessionCache(std::string in, std::string out) : in_(std::move(in)), out_(std::move(out)) {}
    void store(const std::string&, const Bytes& session) override {
        if (out_.empty()) return;
        std::ofstream f(out_, std::ios::binary | std::ios::trunc);
        f << to_hex(session) << "\n";
        stored_ = true;
    }
    std::optional<Bytes> load(const std::string&) override {
        if (in_.empty() || used_) return std::nullopt;
        auto text = slurp(in_);
        if (!text) return std::nullopt;
        bool ok = false;
        auto b = from_hex(*text, &ok);
        if (!ok || b.empty()) return std::nullopt;
        return b;
    }
    void remove(const std::string&) override { used_ = true; }
    bool stored() const { return stored_; }

private:
    std::string in_, out_;
    bool used_ = false, stored_ = false;
};

/// Options both roles share; returns an error message, or empty.
template <class Crypto>
std::string common_options(Arguments& args, tls13::Config& config) {
    if (auto v = args.take_list("--ciphersuites")) config.cipher_suites = *v;
    if (auto v = args.take_list("--groups")) config.groups = *v;
    for (const auto& s : config.cipher_suites)
        if (!tls13::find_cipher_suite(s)) return "unknown cipher suite '" + s + "'";
    for (const auto& g : config.groups)
        if (!tls13::group_from_name(g)) return "unknown group '" + g + "' (X25519, P-256, X448, ffdhe2048, ffdhe3072)";
        else if (!tls13::group_available<Crypto>(g)) return "group '" + g + "': " + make_error_code(tls13::Error::group_not_in_provider).message();
    if (auto v = args.take_list("--alpn")) config.alpn = *v;
    auto cert = args.take("--cert");
    auto key = args.take("--key");
    if (cert || key) {
        if (!cert || !key) return "--cert and --key go together";
        auto c = slurp(*cert);
        if (!c) return "--cert: cannot read " + *cert;
        auto k = slurp(*key);
        if (!k) return "--key: cannot read " + *key;
        if (!Crypto::Certificate::chain_from_pem(*c)) return "--cert: no PEM certificate in " + *cert;
        if (!Crypto::PrivateKey::from_pem(*k)) return "--key: no readable private key in " + *key;
        config.identity = Identity(*c, *k);
        // Refused at startup, not at every client: the key must be the certificate's.
        if (auto parsed = tls13::ParsedIdentity<Crypto>::get(config.identity, *config.parsed_identity); !parsed)
            return "--key " + *key + " does not fit --cert " + *cert + ": " + parsed.error().message();
    }
    if (auto ca = args.take("--CAfile")) {
        auto c = slurp(*ca);
        if (!c) return "--CAfile: cannot read " + *ca;
        if (!Crypto::Certificate::chain_from_pem(*c)) return "--CAfile: no PEM certificate in " + *ca;
        config.trust.ca_certificates_pem = {*c};
    }
    auto psk_id = args.take("--psk-identity");
    auto psk = args.take("--psk");
    if (psk && !psk_id) return "--psk needs --psk-identity ID";
    if (psk_id && !psk) return "--psk-identity needs --psk HEX";
    if (psk) {
        bool ok = false;
        auto key_bytes = from_hex(*psk, &ok);
        SecretBytes secret(key_bytes.begin(), key_bytes.end());
        secure_zero(key_bytes.data(), key_bytes.size());
        if (!ok || secret.empty()) return "--psk: not hex digits";
        if (psk_id->empty()) return "--psk-identity: empty";
        config.pre_shared_keys.push_back({*psk_id, std::move(secret)});
    }
    config.psk_only_key_exchange = args.flag("--psk-only");
    config.middlebox_compatibility = !args.flag("--no-middlebox");
    // The pump answers the peer's close_notify itself, after sending what stdin still holds.
    config.answer_close_notify = false;
    if (auto n = args.take_uint("--record-size-limit", 64, 16385)) config.record_size_limit = static_cast<std::uint16_t>(*n);
    if (auto n = args.take_uint("--keyupdate-after", 1)) config.key_update_after_records = *n;
    return debug_options().take(args, config);
}

template <class Crypto>
std::string summary_line(const SessionInfo& info) {
    std::string line = "tapsec: " + info.protocol + ", " + info.cipher_suite + ", " +
                       (info.group.empty() ? std::string("psk_ke") : info.group);
    if (!info.alpn.empty()) line += ", ALPN " + info.alpn;
    if (info.resumed) line += ", resumed";
    if (!info.peer.psk_identity.empty()) line += ", PSK " + info.peer.psk_identity;
    if (!info.peer.subject.empty()) line += ", peer " + info.peer.subject;
    line += ", provider " + std::string(Crypto::name);
    return line;
}

template <class Crypto>
void print_summary(const Tls13<Crypto>& connection, bool quiet) {
    if (!quiet) std::fprintf(stderr, "%s\n", summary_line<Crypto>(connection.info()).c_str());
}

template <class Connection>
void print_events(Connection& connection, bool quiet) {
    while (auto e = connection.next_event()) {
        if (quiet) continue;
        switch (e->kind) {
            // The client engine sends whatever did not go as 0-RTT right after the handshake.
            case EventKind::early_data_accepted:
                if (e->reason) std::fprintf(stderr, "tapsec: %s; the rest sent after the handshake\n", e->reason.message().c_str());
                else std::fprintf(stderr, "tapsec: early data accepted\n");
                break;
            case EventKind::early_data_rejected:
                std::fprintf(stderr, "tapsec: %s; sent after the handshake\n",
                             e->reason ? e->reason.message().c_str() : "early data rejected");
                break;
            case EventKind::session_ticket: std::fprintf(stderr, "tapsec: session ticket stored\n"); break;
            case EventKind::handshake_complete:
                if (e->reason == tls13::Error::completed_after_hello_retry)
                    std::fprintf(stderr, "tapsec: handshake needed a HelloRetryRequest\n");
                break;
            case EventKind::key_updated:
                std::fprintf(stderr, "tapsec: key update (%s)\n", e->reason == tls13::Error::read_key_updated ? "read" : "write");
                break;
            default: break;
        }
    }
}

template <class Crypto>
int connect_with(Arguments& args) {
    tls13::Config config;
    if (auto e = common_options<Crypto>(args, config); !e.empty()) return usage_fail(e);
    const HostPort target = parse_host_port(args.target);
    const std::string& host = target.host;
    const std::uint16_t port = target.port;
    config.server_name = args.take("--servername").value_or(host);
    const bool noverify = args.flag("--noverify");
    if (noverify) {
        config.delegate_authentication = true;
        config.validate_peer = [](const PeerIdentity&) { return std::error_code{}; };
    } else if (config.trust.empty() && config.pre_shared_keys.empty()) {
        config.trust.use_system_store = true;
    }
    auto sess_in = args.take("--sess-in").value_or("");
    auto sess_out = args.take("--sess-out").value_or("");
    auto cache = std::make_shared<FileSessionCache>(sess_in, sess_out);
    // Refused at startup: a garbage session file would otherwise mean a silent full handshake.
    if (!sess_in.empty()) (void)Arguments::hex_or_throw("--sess-in " + sess_in + " (not a --sess-out file)",
                                                        Arguments::read_file_or_throw("--sess-in", sess_in), 0);
    config.session_cache = cache;
    std::optional<std::string> early = args.take_file("--early-data");
    const bool keyupdate = args.flag("--keyupdate");
    const bool quiet = args.flag("--quiet");
    args.refuse_unknown_options();

    std::string resolve_error;
    if (!resolve(host, port, SOCK_STREAM, resolve_error)) return fail(resolve_error);
    auto tcp = Tcp::connect(host, static_cast<std::uint16_t>(port));
    if (!tcp) return fail("cannot connect to " + args.target + ": " + tcp.error().message());
    Tls13<Crypto> connection(Role::client, config, std::move(*tcp));
    if (early && !early->empty())
        if (auto ec = connection.send_early_data(as_bytes(*early))) return fail("early data: " + ec.message());
    debug_options().handshake_starting();
    if (auto ec = connection.handshake()) {
        print_events(connection, quiet);
        return fail("TLS 1.3 handshake failed: " + ec.message());
    }
    print_summary(connection, quiet);
    debug_options().handshake_done(connection.info());
    print_events(connection, quiet);
    if (keyupdate) {
        if (auto ec = connection.update_keys(true)) return fail("key update failed: " + ec.message());
        print_events(connection, quiet);
    }
    PumpOptions pump_options;
    pump_options.quiet = quiet;
    pump_options.on_progress = [&] { print_events(connection, quiet); };
    // Wait a little for a session ticket when asked to store one.
    pump_options.linger = sess_out.empty() ? std::chrono::seconds(2) : std::chrono::seconds(3);
    pump_options.count = debug_options().counter();
    const int code = pump(connection, pump_options);
    debug_options().connection_ended(connection.info(), quiet);
    return code;
}

int run_connect(Arguments& args) {
    return with_provider(args, [&]<class Crypto>() { return connect_with<Crypto>(args); });
}

template <class Crypto>
int listen_with(Arguments& args) {
    tls13::Config config;
    if (auto e = common_options<Crypto>(args, config); !e.empty()) return usage_fail(e);
    const HostPort bind_to = parse_listen_address(args.target);
    const std::string& address = bind_to.host;
    const std::uint16_t port = bind_to.port;
    ListenOptions listen_options;
    const bool timeout_given = args.options.count("--handshake-timeout") != 0;
    if (auto e = take_listen_options(args, listen_options); !e.empty()) return usage_fail(e);
    config.handshake_timeout = listen_options.handshake_timeout;
    const bool concurrent = listen_options.mode != ServerMode::stdio;
    ConcurrentOptions concurrent_options;
    if (concurrent) {
        if (auto e = take_concurrent_options(args, concurrent_options,
                                             timeout_given ? std::optional(listen_options.handshake_timeout) : std::nullopt);
            !e.empty())
            return usage_fail(e);
        config.handshake_timeout = concurrent_options.handshake_timeout;
    }
    config.verify_peer = args.flag("--verify");
    config.require_client_certificate = args.flag("--require-client-cert");
    if ((config.verify_peer || config.require_client_certificate) && config.trust.empty())
        return usage_fail("--verify / --require-client-cert need --CAfile");
    if (config.identity.empty() && config.pre_shared_keys.empty())
        return usage_fail("listen tls13 needs --cert and --key (or --psk-identity and --psk)");
    config.force_hello_retry = args.flag("--hrr");
    if (auto n = args.take_uint("--max-early-data", 0, 0xffffffff)) config.max_early_data = static_cast<std::uint32_t>(*n);
    config.anti_replay = std::make_shared<tls13::AntiReplay>();
    if (auto k = args.take_file("--ticket-key-file")) {
        if (k->size() != 48)
            return usage_fail("--ticket-key-file: " + std::to_string(k->size()) + " bytes, 48 expected (16-byte name, 32-byte key)");
        config.ticket_key = tls13::TicketKey::from_bytes(as_bytes(*k).first(16), as_bytes(*k).subspan(16, 32));
    } else {
        config.ticket_key = tls13::TicketKey::generate<Crypto>();
    }
    const int naccept = concurrent ? 0 : static_cast<int>(args.take_uint("--naccept", 1, 1000000).value_or(1));
    const bool keyupdate = args.flag("--keyupdate");
    const bool quiet = args.flag("--quiet");
    args.refuse_unknown_options();
    if (concurrent) {
        concurrent_options.quiet = quiet;
        using Stream = asio::stream<Tls13Handshake, AeadRecord, boost::asio::ip::tcp::socket, Crypto>;
        ConcurrentHooks<Stream> hooks{"TLS 1.3", composition_name<Crypto>(),
                                      [](Stream& s) { return summary_line<Crypto>(s.secure().info()).substr(8); }, keyupdate};
        return ConcurrentServer<Stream>(config, listen_options.mode, concurrent_options, std::move(hooks)).run(address, port);
    }

    auto listener = TcpListener::bind(address, port);
    if (!listener) return fail("cannot listen on " + args.target + ": " + listener.error().message());
    if (!quiet) std::fprintf(stderr, "tapsec: listening on %s:%u\n", address.c_str(), listener->port());
    int code = 0;
    for (int i = 0; i < naccept; ++i) {
        auto tcp = listener->accept();
        if (!tcp) return fail("accept failed: " + tcp.error().message());
        Tls13<Crypto> connection(Role::server, config, std::move(*tcp));
        debug_options().handshake_starting();
        if (auto ec = connection.handshake()) {
            print_events(connection, quiet);
            code = fail("TLS 1.3 with " + connection.transport().peer_endpoint().to_string() + ": " +
                        (connection.is_established() ? describe_handshake_failure(connection, ec, {})
                                                     : "handshake failed: " + ec.message()));
            continue;
        }
        print_summary(connection, quiet);
        debug_options().handshake_done(connection.info());
        if (connection.info().early_data_accepted && !quiet) std::fprintf(stderr, "tapsec: early data accepted\n");
        print_events(connection, quiet);
        if (keyupdate) {
            if (auto ec = connection.update_keys(true)) return fail("key update failed: " + ec.message());
            print_events(connection, quiet);
        }
        PumpOptions pump_options;
        pump_options.quiet = quiet;
        pump_options.on_progress = [&] { print_events(connection, quiet); };
        pump_options.count = debug_options().counter();
        code = serve_connection(connection, listen_options.mode, composition_name<Crypto>(), pump_options);
        debug_options().connection_ended(connection.info(), quiet);
    }
    return code;
}

int run_listen(Arguments& args) {
    return with_provider(args, [&]<class Crypto>() { return listen_with<Crypto>(args); });
}

#if TAPSEC_HAVE_OPENSSL_PROVIDER
using DemoProvider = crypto::OpenSsl3;  // the default provider, as for connect / listen
#else
using DemoProvider = crypto::Botan2;
#endif

DemoResult run_demo() {
    using Tls13 = cli::Tls13<DemoProvider>;
    // A certificate-free demo: an external PSK with X25519 (psk_dhe_ke) over loopback TCP.
    tls13::Config config;
    Bytes key(32);
    crypto::Botan2::random(key);
    config.pre_shared_keys.push_back({"tapsec-demo", SecretBytes(key.begin(), key.end())});
    config.server_name = "localhost";
    auto listener = TcpListener::bind("127.0.0.1", 0);
    if (!listener) return DemoResult{false, {}, 0, 0, listener.error().message()};
    const auto port = listener->port();
    return run_echo_demo<Tls13>(
        [&]() -> Result<Tls13> {
            auto tcp = listener->accept(std::chrono::seconds(10));
            if (!tcp) return tcp.error();
            return Tls13(Role::server, config, std::move(*tcp));
        },
        [&]() -> Result<Tls13> {
            auto tcp = Tcp::connect("127.0.0.1", port);
            if (!tcp) return tcp.error();
            return Tls13(Role::client, config, std::move(*tcp));
        },
        NoCheck{},
        [](Tls13& client) {
            const auto info = client.info();
            return info.protocol + ", " + info.cipher_suite + ", " + info.group + ", external PSK, provider " +
                   std::string(DemoProvider::name);
        });
}

const TakesProvider takes_provider{"tls13"};
const Registration registration{ProtocolEntry{
    "tls13",
    "Secure<Tls13Handshake, AeadRecord, Tcp>",
    "TLS",
    Tls13<crypto::Botan2>::features,
    std::string(usage) + debug_usage,
    run_connect,
    run_listen,
    run_demo,
    false,
    {},
}};

}  // namespace
}  // namespace tapsec::cli
