// `tapsec connect|listen tls12` and the tls12 demo: Secure<Tls12Handshake, Tls12Record, Tcp>.
#include <cstdio>

#include <tapsec/tapsec.hpp>

#include "botan_tls_common.hpp"
#include "concurrent_server.hpp"
#include "registry.hpp"
#include "stdio.hpp"

namespace tapsec::cli {
namespace {

using Tls12OverTcp = Secure<Tls12Handshake, Tls12Record, Tcp>;

const botan_common::CommandSpec<Tls12OverTcp> spec{"tls12", "TLS 1.2", {}, {}, {}};

int connect(Arguments& args) {
    return botan_common::run_connect<Tls12OverTcp>(args, spec, [](const std::string& host, std::uint16_t port) {
        return Tcp::connect(host, port);
    });
}

/// --echo / --rev / --www: every connection at once on the Asio adapter (concurrent_server.hpp).
int listen_concurrently(Arguments& args) {
    const HostPort bind_to = parse_listen_address(args.target);
    ListenOptions listen_options;
    const bool timeout_given = args.options.count("--handshake-timeout") != 0;
    if (auto error = take_listen_options(args, listen_options); !error.empty()) return usage_fail(error);
    ConcurrentOptions options;
    if (auto error = take_concurrent_options(args, options,
                                             timeout_given ? std::optional(listen_options.handshake_timeout) : std::nullopt);
        !error.empty())
        return usage_fail(error);
    botan_tls::Config config;
    if (auto error = botan_common::read_common(args, config, Role::server); !error.empty()) return usage_fail(error);
    if (auto error = botan_common::read_client_verification(args, config); !error.empty()) return usage_fail(error);
    options.quiet = args.flag("--quiet");
    if (auto error = debug_options().take(args, config); !error.empty()) return usage_fail(error);
    args.refuse_unknown_options();
    if (auto error = botan_common::check_identity(config, Role::server); !error.empty()) return fail(error);
    config.session_cache = std::make_shared<InMemorySessionCache>();  // shared by the threads (it locks)
    config.handshake_timeout = options.handshake_timeout;
    using Stream = asio::stream<Tls12Handshake, Tls12Record>;
    ConcurrentHooks<Stream> hooks{"TLS 1.2", "Secure<Tls12Handshake, Tls12Record, Tcp>", [](Stream& s) {
                                      const auto& subject = s.secure().peer().subject;
                                      return "accepted: " + botan_common::describe(s.secure().info()) + "; client " +
                                             (subject.empty() ? std::string("(no certificate)") : subject);
                                  }};
    return ConcurrentServer<Stream>(config, listen_options.mode, options, std::move(hooks)).run(bind_to.host, bind_to.port);
}

int listen(Arguments& args) {
    if (args.flags.count("--echo") || args.flags.count("--rev") || args.flags.count("--www")) return listen_concurrently(args);
    return botan_common::run_listen<Tls12OverTcp>(args, spec, botan_common::TcpAcceptor::bind);
}

DemoResult demo() {
    return botan_common::run_demo<Tls12OverTcp>(
        "hello over TLS 1.2", botan_common::TcpAcceptor::bind,
        [](std::uint16_t port) { return Tcp::connect("127.0.0.1", port); },
        [](botan_tls::Config& client, botan_tls::Config& server) { client.alpn = server.alpn = {"tapsec-demo"}; });
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
        "\nlisten options:\n" + botan_common::server_usage + concurrent_usage,
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
