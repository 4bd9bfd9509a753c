// `tapsec connect|listen dtls-srtp` and its demo: Secure<DtlsSrtpHandshake, SrtpRecord, Udp>.
// Each chunk of stdin goes out as the payload of one RTP packet (version 2, payload
// type 96, one SSRC), protected with SRTP; the payloads of SRTP packets received are
// written to stdout. DTLS and SRTP share the UDP socket (RFC 7983).
#include <limits>

#include <tapsec/tapsec.hpp>

#include "botan_tls_common.hpp"
#include "registry.hpp"
#include "rtp_stdio.hpp"

namespace tapsec::cli {
namespace {

using DtlsSrtpOverUdp = Secure<DtlsSrtpHandshake, SrtpRecord, Udp>;

struct Export {
    std::string label;
    std::size_t length = 0;
};
Export requested_export;

std::string srtp_options(Arguments& args, botan_tls::Config& config, Role) {
    if (auto list = args.take_list("--srtp-profiles")) {
        for (const auto& name : *list) {
            auto profile = srtp::profile_from_name(name);
            if (!profile) return "--srtp-profiles: unknown profile '" + name + "' (SRTP_AES128_CM_HMAC_SHA1_80, SRTP_AES128_CM_HMAC_SHA1_32, SRTP_AEAD_AES_128_GCM, SRTP_AEAD_AES_256_GCM)";
            config.srtp_profiles.push_back(static_cast<std::uint16_t>(*profile));
        }
    }
    if (auto label = args.take("--keymatexport")) {
        requested_export.label = *label;
        requested_export.length = 20;
    }
    if (auto length = args.take_uint("--keymatexportlen", 1, 4096)) {
        requested_export.length = static_cast<std::size_t>(*length);
        if (requested_export.label.empty()) return "--keymatexportlen needs --keymatexport LABEL";
    }
    return {};
}

void report(DtlsSrtpOverUdp& connection) {
    const auto profile = connection.engine().srtp_profile();
    std::fprintf(stderr, "tapsec: SRTP profile %s\n", profile ? std::string(srtp::parameters(*profile).name).c_str() : "(none)");
    if (requested_export.label.empty()) return;
    // An explicit export the user asked for (like openssl -keymatexport); the SRTP
    // session inside the engine was keyed without this.
    auto material = connection.export_keying_material(requested_export.label, {}, requested_export.length);
    if (!material) return void(std::fprintf(stderr, "tapsec: keying-material export failed: %s\n", material.error().message().c_str()));
    std::string hex = to_hex(*material);
    for (auto& ch : hex) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    std::fprintf(stderr, "tapsec: Keying material (%s, %zu bytes): %s\n", requested_export.label.c_str(), material->size(), hex.c_str());
}

int pump(DtlsSrtpOverUdp& connection, int fd) {
    RtpStdio<DtlsSrtpOverUdp> media(connection);
    return pump_stdio(media, fd);
}

const botan_common::CommandSpec<DtlsSrtpOverUdp> spec{"dtls-srtp", "DTLS-SRTP", srtp_options, report, pump};

int connect(Arguments& args) { return botan_common::run_connect<DtlsSrtpOverUdp>(args, spec, botan_common::dial_udp); }

/// The concurrent server's line for a peer: what was negotiated (the SRTP profile
/// included), and the keying material the user asked for with --keymatexport.
std::string accepted_peer(DtlsSrtpOverUdp::Engine& engine) {
    std::string text = botan_common::accepted_line(engine);
    if (requested_export.label.empty()) return text;
    auto material = engine.export_keying_material(requested_export.label, {}, requested_export.length);
    if (!material) return text + "; keying-material export failed: " + material.error().message();
    std::string hex = to_hex(*material);
    for (auto& ch : hex) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    return text + "; Keying material (" + requested_export.label + ", " + std::to_string(material->size()) + " bytes): " + hex;
}

int listen(Arguments& args) {
    if (args.flags.count("--rev") || args.flags.count("--www"))
        return usage_fail("listen dtls-srtp: --rev and --www need a byte stream; dtls-srtp carries media (--echo reflects it)");
    // --echo: every peer at once on one socket (datagram_server.hpp), each RTP/RTCP packet
    // sent back protected with that peer's SRTP keys.
    if (args.flags.count("--echo"))
        return botan_common::run_datagram_listen<DtlsSrtpOverUdp::Engine>(
            args, spec, "Secure<DtlsSrtpHandshake, SrtpRecord, Udp>", accepted_peer, std::numeric_limits<std::size_t>::max());
    return botan_common::run_listen<DtlsSrtpOverUdp>(args, spec, botan_common::UdpAcceptor::bind);
}

DemoResult demo() {
    Bytes rtp;
    wire::Writer w(rtp);
    w.u8(0x80);
    w.u8(96);
    w.u16(1);
    w.u32(160);
    w.u32(0x7a9c0001);
    w.bytes(as_bytes("hello over SRTP"));
    return botan_common::run_demo<DtlsSrtpOverUdp>(
        std::string(rtp.begin(), rtp.end()), botan_common::UdpAcceptor::bind,
        [](std::uint16_t port) { return Udp::connect(*Endpoint::parse("127.0.0.1", port)); }, {},
        [](DtlsSrtpOverUdp& c) {
            auto p = c.engine().srtp_profile();
            return p ? std::string(", keys from EXTRACTOR-dtls_srtp") : std::string{};
        });
}

const Registration registration{ProtocolEntry{
    "dtls-srtp",
    "Secure<DtlsSrtpHandshake, SrtpRecord, Udp>",
    "SRTP+DTLS",
    DtlsSrtpOverUdp::features,
    std::string("DTLS-SRTP (RFC 5764): DTLS 1.2 through Botan 2 negotiates use_srtp and keys tapsec's SRTP\n"
                "from the EXTRACTOR-dtls_srtp exporter. Each stdin chunk is sent as one SRTP packet (RTP\n"
                "payload type 96); received payloads go to stdout.\n\nconnect options:\n") +
        botan_common::client_usage +
        "  --srtp-profiles P1:P2 SRTP profiles to offer (default: all four; OpenSSL names accepted)\n"
        "  --keymatexport LABEL --keymatexportlen N  print N bytes exported with LABEL on stderr\n"
        "\nlisten options:\n" + botan_common::server_usage +
        "  --srtp-profiles, --keymatexport, --keymatexportlen  as for connect (with --echo: on each\n"
        "                        peer's line)\n"
        "  --echo                reflect each RTP/RTCP packet, protected with that peer's SRTP keys\n" +
        datagram_server_usage,
    connect,
    listen,
    demo,
    false,
    {{"CX", "Botan 2's DTLS stack offers no application-defined extensions through this composition"}},
}};

}  // namespace
}  // namespace tapsec::cli
