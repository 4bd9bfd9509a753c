// `tapsec connect tls13 HOST:PORT` and `tapsec listen tls13 [ADDR:]PORT`:
// Secure<Tls13Handshake, AeadRecord, Tcp> with options named as in openssl s_client /
// s_server, so a user of those finds them where expected.
#include <cstdio>
#include <fstream>
#include <sstream>
#include <thread>

#include <tapsec/tapsec.hpp>

#include "debug_options.hpp"
#include "registry.hpp"
#include "stdio.hpp"

namespace tapsec::cli {
namespace {

using Tls13 = Secure<Tls13Handshake, AeadRecord, Tcp>;

constexpr const char* usage =
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
    "connect only:\n"
    "  --servername NAME       SNI and the name checked in the certificate (default: HOST)\n"
    "  --noverify              accept any server certificate (testing only)\n"
    "  --sess-out FILE         store the session ticket the server sends\n"
    "  --sess-in FILE          resume the session stored in FILE\n"
    "  --early-data FILE       send FILE as 0-RTT data (needs --sess-in with an early-data ticket)\n"
    "listen only:\n"
    "  --verify                request a client certificate (checked against --CAfile)\n"
    "  --require-client-cert   require one (mutual authentication)\n"
    "  --max-early-data N      accept up to N bytes of 0-RTT data (single-use tickets)\n"
    "  --hrr                   always answer the first ClientHello with a HelloRetryRequest\n"
    "  --naccept N             serve N connections one after another (default 1)\n"
    "  --ticket-key-file FILE  48-byte ticket key (else random per run)\n";

std::optional<std::string> slurp(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return std::nullopt;
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

std::vector<std::string> split(const std::string& text, char separator) {
    std::vector<std::string> out;
    std::string item;
    std::istringstream in(text);
    while (std::getline(in, item, separator))
        if (!item.empty()) out.push_back(item);
    return out;
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
std::string common_options(Arguments& args, tls13::Config& config) {
    if (auto v = args.take("--ciphersuites")) config.cipher_suites = split(*v, ':');
    if (auto v = args.take("--groups")) config.groups = split(*v, ':');
    for (const auto& s : config.cipher_suites)
        if (!tls13::find_cipher_suite(s)) return "unknown cipher suite '" + s + "'";
    for (const auto& g : config.groups)
        if (!tls13::group_from_name(g)) return "unknown group '" + g + "' (X25519, P-256)";
    if (auto v = args.take("--alpn")) config.alpn = split(*v, ',');
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
        // Refused at startup, not at every client: the key must be the certificate's.
        if (auto parsed = tls13::ParsedIdentity<crypto::Botan2>::get(config.identity, *config.parsed_identity); !parsed)
            return "--key " + *key + " does not fit --cert " + *cert + ": " + parsed.error().message();
    }
    if (auto ca = args.take("--CAfile")) {
        auto c = slurp(*ca);
        if (!c) return "cannot read CA file " + *ca;
        if (!crypto::Botan2::Certificate::chain_from_pem(*c)) return "no certificate in " + *ca;
        config.trust.ca_certificates_pem = {*c};
    }
    auto psk_id = args.take("--psk-identity");
    auto psk = args.take("--psk");
    if (psk || psk_id) {
        bool ok = false;
        auto key_bytes = from_hex(psk.value_or(""), &ok);
        if (!ok || key_bytes.empty()) return "--psk needs a hex key";
        config.pre_shared_keys.push_back({psk_id.value_or("Client_identity"), SecretBytes(key_bytes.begin(), key_bytes.end())});
    }
    config.psk_only_key_exchange = args.flag("--psk-only");
    config.middlebox_compatibility = !args.flag("--no-middlebox");
    if (auto n = args.take("--record-size-limit")) {
        unsigned long v = 0;
        try {
            v = std::stoul(*n);
        } catch (...) {
        }
        if (v < 64 || v > 16385) return "--record-size-limit must be 64..16385";
        config.record_size_limit = static_cast<std::uint16_t>(v);
    }
    if (auto n = args.take("--keyupdate-after")) {
        try {
            config.key_update_after_records = std::stoull(*n);
        } catch (...) {
            return "--keyupdate-after needs a number";
        }
    }
    return debug_options().take(args, config);
}

void print_summary(const Tls13& connection, bool quiet) {
    if (quiet) return;
    const auto info = connection.info();
    std::string line = "tapsec: " + info.protocol + ", " + info.cipher_suite + ", " +
                       (info.group.empty() ? std::string("psk_ke") : info.group);
    if (!info.alpn.empty()) line += ", ALPN " + info.alpn;
    if (info.resumed) line += ", resumed";
    if (!info.peer.psk_identity.empty()) line += ", PSK " + info.peer.psk_identity;
    if (!info.peer.subject.empty()) line += ", peer " + info.peer.subject;
    std::fprintf(stderr, "%s\n", line.c_str());
}

void print_events(Tls13& connection, bool quiet) {
    while (auto e = connection.next_event()) {
        if (quiet) continue;
        switch (e->kind) {
            case EventKind::early_data_accepted: std::fprintf(stderr, "tapsec: early data accepted\n"); break;
            case EventKind::early_data_rejected: std::fprintf(stderr, "tapsec: early data rejected (sent again after the handshake)\n"); break;
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

/// pump_stdio, printing events as they come.
class Reporting {
public:
    Reporting(Tls13& c, bool quiet) : c_(c), quiet_(quiet) {}
    std::error_code send(ByteView data) {
        auto ec = c_.send(data);
        print_events(c_, quiet_);
        return ec;
    }
    Result<Bytes> receive_message(std::chrono::milliseconds timeout) {
        auto r = c_.receive_message(timeout);
        print_events(c_, quiet_);
        if (r) return r;
        // The peer's close_notify arrived and was answered (RFC 8446 6.1): a clean close,
        // even if the peer, done, already dropped the socket under our answer.
        if (peer_closed_cleanly()) return Bytes{};
        // We closed first (all our data went before our close_notify) and the peer then
        // ended the stream without answering, as gnutls-cli does: a close, but not an
        // authenticated one on its side, so say so.
        if (closed_ && r.error() == make_error_code(Errc::truncated)) {
            if (!quiet_) std::fprintf(stderr, "tapsec: the peer ended the stream without answering our close_notify\n");
            return Bytes{};
        }
        return r;
    }
    std::error_code close() {
        closed_ = true;
        auto ec = c_.close();
        return ec && peer_closed_cleanly() ? std::error_code{} : ec;
    }

private:
    bool peer_closed_cleanly() { return c_.engine().is_closed(); }

    Tls13& c_;
    bool quiet_;
    bool closed_ = false;  // our close_notify went out (stdin ended)
};

int run_connect(Arguments& args) {
    tls13::Config config;
    if (auto e = common_options(args, config); !e.empty()) return fail(e);
    const auto colon = args.target.rfind(':');
    if (colon == std::string::npos) return fail("connect tls13: target must be HOST:PORT");
    std::string host = args.target.substr(0, colon);
    if (host.size() > 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
    unsigned long port = 0;
    try {
        port = std::stoul(args.target.substr(colon + 1));
    } catch (...) {
    }
    if (port == 0 || port > 65535) return fail("connect tls13: bad port in '" + args.target + "'");
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
    if (!sess_in.empty() && !slurp(sess_in)) return fail("cannot read session file " + sess_in);
    config.session_cache = cache;
    std::optional<std::string> early;
    if (auto f = args.take("--early-data")) {
        early = slurp(*f);
        if (!early) return fail("cannot read early data file " + *f);
    }
    const bool keyupdate = args.flag("--keyupdate");
    const bool quiet = args.flag("--quiet");
    if (auto u = args.unknown()) return fail("connect tls13: unknown option " + *u);

    auto tcp = Tcp::connect(host, static_cast<std::uint16_t>(port));
    if (!tcp) return fail("cannot connect to " + args.target + ": " + tcp.error().message());
    const int fd = tcp->native_handle();
    Tls13 connection(Role::client, config, std::move(*tcp));
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
    Reporting r(connection, quiet);
    auto counted = debug_options().counted(r);
    // Wait a little for a session ticket when asked to store one.
    const int code = pump_stdio(counted, fd, sess_out.empty() ? std::chrono::seconds(2) : std::chrono::seconds(3));
    debug_options().connection_ended(connection.info(), quiet);
    return code;
}

int run_listen(Arguments& args) {
    tls13::Config config;
    if (auto e = common_options(args, config); !e.empty()) return fail(e);
    std::string address = "127.0.0.1";
    std::string port_text = args.target;
    if (auto colon = args.target.rfind(':'); colon != std::string::npos) {
        address = args.target.substr(0, colon);
        port_text = args.target.substr(colon + 1);
        if (address.size() > 2 && address.front() == '[') address = address.substr(1, address.size() - 2);
    }
    unsigned long port = 0;
    try {
        port = std::stoul(port_text);
    } catch (...) {
        return fail("listen tls13: bad port '" + port_text + "'");
    }
    if (port > 65535) return fail("listen tls13: bad port '" + port_text + "'");
    config.verify_peer = args.flag("--verify");
    config.require_client_certificate = args.flag("--require-client-cert");
    if ((config.verify_peer || config.require_client_certificate) && config.trust.empty())
        return fail("--verify / --require-client-cert need --CAfile");
    if (config.identity.empty() && config.pre_shared_keys.empty()) return fail("listen tls13 needs --cert and --key (or --psk)");
    config.force_hello_retry = args.flag("--hrr");
    if (auto n = args.take("--max-early-data")) {
        try {
            config.max_early_data = static_cast<std::uint32_t>(std::stoul(*n));
        } catch (...) {
            return fail("--max-early-data needs a number");
        }
    }
    config.anti_replay = std::make_shared<tls13::AntiReplay>();
    if (auto f = args.take("--ticket-key-file")) {
        auto k = slurp(*f);
        if (!k || k->size() < 48) return fail("ticket key file must hold 48 bytes");
        config.ticket_key = tls13::TicketKey::from_bytes(as_bytes(*k).first(16), as_bytes(*k).subspan(16, 32));
    } else {
        config.ticket_key = tls13::TicketKey::generate<crypto::Botan2>();
    }
    int naccept = 1;
    if (auto n = args.take("--naccept")) {
        try {
            naccept = std::stoi(*n);
        } catch (...) {
            return fail("--naccept needs a number");
        }
    }
    const bool keyupdate = args.flag("--keyupdate");
    const bool quiet = args.flag("--quiet");
    if (auto u = args.unknown()) return fail("listen tls13: unknown option " + *u);

    auto listener = TcpListener::bind(address, static_cast<std::uint16_t>(port));
    if (!listener) return fail("cannot listen on " + address + ":" + port_text + ": " + listener.error().message());
    if (!quiet) std::fprintf(stderr, "tapsec: listening on %s:%u\n", address.c_str(), listener->port());
    int code = 0;
    for (int i = 0; i < naccept; ++i) {
        auto tcp = listener->accept();
        if (!tcp) return fail("accept failed: " + tcp.error().message());
        const int fd = tcp->native_handle();
        Tls13 connection(Role::server, config, std::move(*tcp));
        debug_options().handshake_starting();
        if (auto ec = connection.handshake()) {
            print_events(connection, quiet);
            code = fail("TLS 1.3 handshake failed: " + ec.message());
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
        Reporting r(connection, quiet);
        auto counted = debug_options().counted(r);
        code = pump_stdio(counted, fd);
        debug_options().connection_ended(connection.info(), quiet);
    }
    return code;
}

DemoResult run_demo() {
    // A certificate-free demo: an external PSK with X25519 (psk_dhe_ke) over loopback TCP.
    DemoResult result;
    tls13::Config config;
    Bytes key(32);
    crypto::Botan2::random(key);
    config.pre_shared_keys.push_back({"tapsec-demo", SecretBytes(key.begin(), key.end())});
    config.server_name = "localhost";
    auto listener = TcpListener::bind("127.0.0.1", 0);
    if (!listener) {
        result.error = listener.error().message();
        return result;
    }
    const auto port = listener->port();
    std::thread server([&] {
        auto tcp = listener->accept(std::chrono::seconds(10));
        if (!tcp) return;
        Tls13 s(Role::server, config, std::move(*tcp));
        if (s.handshake()) return;
        auto m = s.receive_message(std::chrono::seconds(10));
        if (m && !m->empty() && s.send(*m)) return;
        auto end = s.receive_message(std::chrono::seconds(10));
        (void)end;
        s.close();
    });
    const auto t0 = Clock::now();
    auto tcp = Tcp::connect("127.0.0.1", port);
    if (!tcp) {
        server.join();
        result.error = tcp.error().message();
        return result;
    }
    Tls13 client(Role::client, config, std::move(*tcp));
    if (auto ec = client.handshake()) {
        result.error = ec.message();
        client.close();
        server.join();
        return result;
    }
    const auto t1 = Clock::now();
    const std::string ping = "tapsec demo ping";
    auto ec = client.send(as_bytes(ping));
    auto echo = client.receive_message(std::chrono::seconds(10));
    const auto t2 = Clock::now();
    client.close();
    server.join();
    if (ec || !echo || std::string(echo->begin(), echo->end()) != ping) {
        result.error = ec ? ec.message() : !echo ? echo.error().message() : "echo mismatch";
        return result;
    }
    const auto info = client.info();
    result.ok = true;
    result.negotiated = info.protocol + ", " + info.cipher_suite + ", " + info.group + ", external PSK";
    result.handshake_ms = std::chrono::duration<double, std::milli>(t1 - t0).count();
    result.echo_ms = std::chrono::duration<double, std::milli>(t2 - t1).count();
    return result;
}

const Registration registration{ProtocolEntry{
    "tls13",
    "Secure<Tls13Handshake, AeadRecord, Tcp>",
    "TLS",
    Tls13::features,
    std::string(usage) + debug_usage,
    run_connect,
    run_listen,
    run_demo,
    false,
    {},
}};

}  // namespace
}  // namespace tapsec::cli
