// `tapsec connect|listen tls12` and the tls12 demo: Secure<Tls12Handshake, Tls12Record, Tcp>.
#include <cstdio>
#include <thread>

#include <tapsec/tapsec.hpp>

#include "botan_tls_common.hpp"
#include "registry.hpp"
#include "stdio.hpp"

namespace tapsec::cli {
namespace {

using Tls12OverTcp = Secure<Tls12Handshake, Tls12Record, Tcp>;

std::string failure_line(std::error_code ec, const std::string& detail) {
    std::string line = ec.message();
    if (!detail.empty() && detail != line) line += " (" + detail + ")";
    return line;
}

/// "HOST:PORT", "[V6]:PORT" -> host (without brackets) and port.
bool split_target(const std::string& target, std::string& host, std::uint16_t& port) {
    const auto colon = target.rfind(':');
    if (colon == std::string::npos || colon == 0) return false;
    host = target.substr(0, colon);
    if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
    try {
        std::size_t used = 0;
        const unsigned long p = std::stoul(target.substr(colon + 1), &used);
        if (used != target.size() - colon - 1 || p == 0 || p > 65535) return false;
        port = static_cast<std::uint16_t>(p);
    } catch (const std::exception&) {
        return false;
    }
    return true;
}

std::string check_identity(const botan_tls::Config& config, Role role) {
    botan_tls::Credentials credentials(config, role);
    if (credentials.error() && !config.identity.empty()) return credentials.error_detail();
    return {};
}

int connect(Arguments& args) {
    std::string host;
    std::uint16_t port = 0;
    if (!split_target(args.target, host, port)) return fail("connect tls12: expected HOST:PORT, got '" + args.target + "'");
    botan_tls::Config config;
    if (auto error = botan_common::read_common(args, config, Role::client); !error.empty()) return fail(error);
    config.server_name = args.take("--servername").value_or(host);
    config.server_port = port;
    if (args.flag("--insecure")) config.verify_peer = false;
    const auto sess_in = args.take("--sess-in").value_or(""), sess_out = args.take("--sess-out").value_or("");
    if (!sess_in.empty() || !sess_out.empty()) config.session_cache = std::make_shared<botan_common::SessionFile>(sess_in, sess_out);
    const bool quiet = args.flag("--quiet");
    if (auto unknown = args.unknown()) return fail("connect tls12: unknown option " + *unknown + " (see --help)");
    if (config.verify_peer && config.trust.ca_certificates_pem.empty()) config.trust.use_system_store = true;
    if (auto error = check_identity(config, Role::client); !error.empty()) return fail(error);
    if (!config.verify_peer && !quiet) std::fprintf(stderr, "tapsec: warning: --insecure: the server is not authenticated\n");

    auto tcp = Tcp::connect(host, port);
    if (!tcp) return fail("cannot connect to " + args.target + ": " + tcp.error().message());
    const int fd = tcp->native_handle();
    Tls12OverTcp connection(Role::client, std::move(config), std::move(*tcp));
    if (auto ec = connection.handshake()) {
        std::string line = failure_line(ec, connection.engine().failure_detail());
        if (ec == Errc::certificate_name_mismatch) line += "; --servername NAME checks another name";
        return fail("TLS 1.2 handshake with " + args.target + " failed: " + line);
    }
    if (!quiet)
        std::fprintf(stderr, "tapsec: connected: %s; server %s\n", botan_common::describe(connection.info()).c_str(),
                     connection.peer().subject.empty() ? "(unverified)" : connection.peer().subject.c_str());
    return pump_stdio(connection, fd);
}

int listen(Arguments& args) {
    std::string address = "0.0.0.0";
    std::uint16_t port = 0;
    if (args.target.find(':') != std::string::npos) {
        if (!split_target(args.target, address, port)) return fail("listen tls12: expected [ADDR:]PORT, got '" + args.target + "'");
    } else if (!split_target("x:" + args.target, address, port)) {
        return fail("listen tls12: expected [ADDR:]PORT, got '" + args.target + "'");
    } else {
        address = "0.0.0.0";
    }
    botan_tls::Config config;
    if (auto error = botan_common::read_common(args, config, Role::server); !error.empty()) return fail(error);
    // openssl s_server spells these -verify N and -Verify N; the depth is accepted and ignored.
    const bool request = args.flag("--verify") || args.take("--verify").has_value();
    const bool require = args.flag("--require-client-cert") || args.flag("--Verify") || args.take("--Verify").has_value();
    config.verify_peer = request || require;
    config.require_client_certificate = require;
    if (config.verify_peer && config.trust.ca_certificates_pem.empty())
        return fail("--verify / --require-client-cert need --CAfile FILE to verify client certificates");
    int accepts = 1;
    if (auto n = args.take("--naccept")) {
        try {
            accepts = std::stoi(*n);
        } catch (const std::exception&) {
            accepts = 0;
        }
        if (accepts < 1) return fail("--naccept needs a positive number");
    }
    const bool quiet = args.flag("--quiet");
    if (auto unknown = args.unknown()) return fail("listen tls12: unknown option " + *unknown + " (see --help)");
    if (auto error = check_identity(config, Role::server); !error.empty()) return fail(error);
    config.session_cache = std::make_shared<InMemorySessionCache>();

    auto listener = TcpListener::bind(address, port);
    if (!listener) return fail("cannot listen on " + address + ":" + std::to_string(port) + ": " + listener.error().message());
    if (!quiet) std::fprintf(stderr, "tapsec: listening on %s:%u (TLS 1.2)\n", address.c_str(), listener->port());
    int status = 0;
    for (int i = 0; i < accepts; ++i) {
        auto tcp = listener->accept();
        if (!tcp) return fail("accept failed: " + tcp.error().message());
        const int fd = tcp->native_handle();
        const std::string peer = tcp->peer_endpoint().to_string();
        Tls12OverTcp connection(Role::server, config, std::move(*tcp));
        if (auto ec = connection.handshake()) {
            status = fail("TLS 1.2 handshake with " + peer + " failed: " + failure_line(ec, connection.engine().failure_detail()));
            continue;
        }
        if (!quiet)
            std::fprintf(stderr, "tapsec: accepted %s: %s; client %s\n", peer.c_str(),
                         botan_common::describe(connection.info()).c_str(),
                         connection.peer().subject.empty() ? "(no certificate)" : connection.peer().subject.c_str());
        if (int rc = pump_stdio(connection, fd)) status = rc;
    }
    return status;
}

DemoResult demo() {
    DemoResult result;
    try {
        const auto pki = botan_common::DemoPki::make();
        botan_tls::Config server_config;
        server_config.identity = Identity(pki.leaf_pem, pki.leaf_key_pem);
        server_config.verify_peer = false;
        botan_tls::Config client_config;
        client_config.trust.ca_certificates_pem = {pki.ca_pem};
        client_config.server_name = "localhost";
        client_config.alpn = {"tapsec-demo"};
        server_config.alpn = {"tapsec-demo"};

        auto listener = TcpListener::bind("127.0.0.1", 0);
        if (!listener) return {false, {}, 0, 0, "listen: " + listener.error().message()};
        std::string server_error;
        std::thread server_thread([&] {
            auto tcp = listener->accept(std::chrono::seconds(10));
            if (!tcp) return void(server_error = tcp.error().message());
            Tls12OverTcp server(Role::server, server_config, std::move(*tcp));
            if (auto ec = server.handshake()) return void(server_error = ec.message());
            auto message = server.receive_message(std::chrono::seconds(10));
            if (!message) return void(server_error = message.error().message());
            server.send(*message);
            server.close();
        });
        const auto t0 = Clock::now();
        auto tcp = Tcp::connect("127.0.0.1", listener->port());
        if (!tcp) {
            server_thread.join();
            return {false, {}, 0, 0, "connect: " + tcp.error().message()};
        }
        Tls12OverTcp client(Role::client, client_config, std::move(*tcp));
        auto ec = client.handshake();
        const auto t1 = Clock::now();
        Result<Bytes> echo = Errc::not_connected;
        if (!ec) {
            const std::string ping = "hello over TLS 1.2";
            ec = client.send(as_bytes(ping));
            if (!ec) echo = client.receive_message(std::chrono::seconds(10));
            if (!ec && echo && std::string(echo->begin(), echo->end()) != ping) ec = Errc::internal_error;
        }
        const auto t2 = Clock::now();
        client.close();
        server_thread.join();
        if (ec || !echo || !server_error.empty())
            return {false, {}, 0, 0, ec ? ec.message() : !echo ? echo.error().message() : "server: " + server_error};
        result.ok = true;
        result.negotiated = botan_common::describe(client.info());
        result.handshake_ms = std::chrono::duration<double, std::milli>(t1 - t0).count();
        result.echo_ms = std::chrono::duration<double, std::milli>(t2 - t1).count();
    } catch (const std::exception& e) {
        result.ok = false;
        result.error = e.what();
    }
    return result;
}

const Registration registration{ProtocolEntry{
    "tls12",
    "Secure<Tls12Handshake, Tls12Record, Tcp>",
    "TLS",
    Tls12OverTcp::features,
    std::string("TLS 1.2 (RFC 5246) through Botan 2's TLS stack, over TCP.\n\nconnect options:\n") +
        botan_common::client_usage +
        "  --sess-out FILE       save the session for resumption (file holds the master secret)\n"
        "  --sess-in FILE        offer the session saved in FILE\n"
        "\nlisten options:\n" + botan_common::server_usage,
    connect,
    listen,
    demo,
    false,
    {{"DM", "TLS 1.2 over TCP has no cookie or puzzle of its own (the survey's S is TLS 1.3's HelloRetryRequest cookie)"},
     {"CX", "Botan 2's TLS 1.2 stack offers no application-defined extensions through this composition"},
     {"LHP", "TLS 1.2 records have no padding (record padding is TLS 1.3's)"},
     {"ED", "early data exists only in TLS 1.3"}},
}};

}  // namespace
}  // namespace tapsec::cli
