// `tapsec connect|listen tls12` and the tls12 demo: Secure<Tls12Handshake, Tls12Record, Tcp>.
#include <cstdio>

#include <tapsec/tapsec.hpp>

#include "botan_tls_common.hpp"
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

int listen(Arguments& args) { return botan_common::run_listen<Tls12OverTcp>(args, spec, botan_common::TcpAcceptor::bind); }

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
