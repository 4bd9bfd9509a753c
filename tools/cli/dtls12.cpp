// `tapsec connect|listen dtls12` and the dtls12 demo: Secure<Dtls12Handshake, DtlsRecord, Udp>.
#include <tapsec/tapsec.hpp>

#include "botan_tls_common.hpp"
#include "registry.hpp"

namespace tapsec::cli {
namespace {

using Dtls12OverUdp = Secure<Dtls12Handshake, DtlsRecord, Udp>;

const botan_common::CommandSpec<Dtls12OverUdp> spec{"dtls12", "DTLS 1.2", {}, {}, {}};

int connect(Arguments& args) { return botan_common::run_connect<Dtls12OverUdp>(args, spec, botan_common::dial_udp); }

int listen(Arguments& args) {
    // --echo / --rev / --www: every peer at once on one socket (datagram_server.hpp).
    if (args.flags.count("--echo") || args.flags.count("--rev") || args.flags.count("--www"))
        return botan_common::run_datagram_listen<Dtls12OverUdp::Engine>(args, spec, "Secure<Dtls12Handshake, DtlsRecord, Udp>",
                                                                       botan_common::accepted_line<Dtls12OverUdp::Engine>,
                                                                       dtls::max_plaintext);
    return botan_common::run_listen<Dtls12OverUdp>(args, spec, botan_common::UdpAcceptor::bind);
}

DemoResult demo() {
    return botan_common::run_demo<Dtls12OverUdp>(
        "hello over DTLS 1.2", botan_common::UdpAcceptor::bind,
        [](std::uint16_t port) { return Udp::connect(*Endpoint::parse("127.0.0.1", port)); });
}

const Registration registration{ProtocolEntry{
    "dtls12",
    "Secure<Dtls12Handshake, DtlsRecord, Udp>",
    "DTLS",
    Dtls12OverUdp::features,
    std::string("DTLS 1.2 (RFC 6347) through Botan 2's DTLS stack, over UDP. Each chunk read from\n"
                "stdin (a line, when typed) goes out as one datagram.\n\nconnect options:\n") +
        botan_common::client_usage +
        "  --sess-out FILE / --sess-in FILE  save / offer a session for resumption\n"
        "\nlisten options:\n" + botan_common::server_usage + datagram_server_usage,
    connect,
    listen,
    demo,
    false,
    {{"CM", "DTLS 1.2 connection IDs (RFC 9146), which let a connection survive a new 5-tuple, are not in Botan 2"},
     {"CX", "Botan 2's DTLS stack offers no application-defined extensions through this composition"},
     {"LHP", "DTLS 1.2 records have no padding"}},
}};

}  // namespace
}  // namespace tapsec::cli
