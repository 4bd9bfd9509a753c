// The key log's purpose, end to end: Wireshark decrypts a tapsec connection with it.
// tcpdump captures on loopback (a port filter; -U writes each packet as it comes, so the
// file can be read while the capture runs) while `tapsec connect` sends a marker to
// `tapsec listen` with --keylogfile; the capture, read by tshark with
// `-o tls.keylog_file:FILE`, must show the marker in clear, and without the key log it
// must not (so the decryption is the key log's doing). TLS 1.3, TLS 1.2, DTLS 1.2, QUIC.
// Each run also checks the CLI's exit summary (bytes each way) on both ends.
#include <doctest/doctest.h>

#include <thread>

#include <tapsec/core/bytes.hpp>

#include "support/pki.hpp"
#include "support/process.hpp"

using namespace tapsec;
using namespace tapsec::test;
using namespace std::chrono_literals;

namespace keylog_tshark_test {

const std::string tool = TAPSEC_TOOL_PATH;

struct Fixture {
    TestPki pki;
    CertificateFiles server;
    TempDir dir;
    Fixture() {
        REQUIRE_MESSAGE(have_program("tshark"), "tshark is not installed (Debian package tshark)");
        REQUIRE_MESSAGE(have_program("tcpdump"), "tcpdump is not installed (Debian package tcpdump)");
        REQUIRE(pki.ok());
        server = pki.issue("server");
        REQUIRE(!server.certificate.empty());
    }
};

/// Runs a tshark command over a capture file, returning what it printed.
std::string tshark_read(const Fixture& f, const std::string& arguments) {
    const std::string out = f.dir.file("tshark-read.out");
    run("tshark " + arguments + " > " + out + " 2>&1");
    return read_file(out);
}

/// What a capture read with (or without) the key log shows: the followed stream for TLS,
/// the decrypted payload bytes (hex) for DTLS and QUIC.
std::string decoded(const Fixture& f, const std::string& protocol, const std::string& capture, const std::string& keys) {
    const std::string keylog = keys.empty() ? "" : " -o tls.keylog_file:" + keys;
    if (protocol == "tls13" || protocol == "tls12")
        return tshark_read(f, "-r " + capture + keylog + " -q -z follow,tls,ascii,0");
    if (protocol == "dtls12")
        return tshark_read(f, "-r " + capture + keylog + " -Y dtls -T fields -e data.data");
    return tshark_read(f, "-r " + capture + keylog + " -Y quic -T fields -e quic.stream_data");
}

bool shows(const std::string& protocol, const std::string& decoded, const std::string& marker) {
    if (protocol == "tls13" || protocol == "tls12") return decoded.find(marker) != std::string::npos;
    return decoded.find(to_hex(as_bytes(marker))) != std::string::npos;  // fields print payloads in hex
}

/// One connection of `protocol` between two tapsec processes under a tshark capture.
void check_decrypts(const std::string& protocol) {
    Fixture f;
    const bool udp = protocol == "dtls12" || protocol == "quic";
    const auto port = free_port(udp ? SOCK_DGRAM : SOCK_STREAM);
    const std::string p = std::to_string(port);
    const std::string capture = f.dir.file("capture.pcapng"), keys = f.dir.file("keys.log");
    const std::string marker = "tapsec-keylog-marker-" + protocol;

    // Not tshark's own capture: once, a QUIC capture written by it stayed unreadable for
    // the whole 10 s below (its writes are buffered); tcpdump -U writes each packet.
    // -Z root: tcpdump would otherwise drop to its own user, who cannot write in our
    // 0700 temporary directory.
    Process tcpdump({"tcpdump", "-i", "lo", "-U", "-Z", "root", "-w", capture, std::string(udp ? "udp" : "tcp") + " port " + p},
                    f.dir.file("tcpdump.log"));
    REQUIRE_MESSAGE(tcpdump.wait_for_output("listening on"), tcpdump.output());

    std::vector<std::string> listen{tool, "listen", protocol, "127.0.0.1:" + p, "--cert", f.server.certificate,
                                    "--key", f.server.key};
    std::vector<std::string> connect{tool, "connect", protocol, "127.0.0.1:" + p, "--CAfile", f.pki.ca().certificate,
                                     "--servername", "localhost", "--keylogfile", keys};
    // Wireshark 4.0 does not decrypt DTLS 1.2 with ChaCha20-Poly1305 (Botan's first
    // choice): with the same key log it reports an AEAD tag mismatch on every record while
    // AES-GCM decrypts (docs/debugging.md). So the DTLS run asks for AES-GCM.
    if (protocol == "dtls12") connect.insert(connect.end(), {"--ciphers", "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"});
    Process server(listen, f.dir.file("listen.log"));
    REQUIRE_MESSAGE(server.wait_for_output("listening"), server.output());
    Process client(connect, f.dir.file("connect.log"));
    client.write_stdin(marker + "\n");
    const bool delivered = server.wait_for_output(marker);
    client.close_stdin();
    server.close_stdin();
    const int client_code = client.wait(15s);
    server.wait(15s);
    REQUIRE_MESSAGE(delivered, (client.output() + "\n--- listen:\n" + server.output()));
    CHECK_MESSAGE(client_code == 0, client.output());
    // The exit summary counts the application bytes each way (the marker and its newline).
    const std::string bytes = std::to_string(marker.size() + 1) + " bytes";
    CHECK_MESSAGE(client.output().find("tapsec: summary: ") != std::string::npos, client.output());
    CHECK_MESSAGE(client.output().find("sent " + bytes + ", received 0 bytes, handshake ") != std::string::npos,
                  client.output());
    CHECK_MESSAGE(server.output().find("sent 0 bytes, received " + bytes) != std::string::npos, server.output());

    // The capture may lag the connection by a moment: read it until the marker shows
    // (bounded), then stop tcpdump by PID.
    std::string with_keys;
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    do {
        with_keys = decoded(f, protocol, capture, keys);
    } while (!shows(protocol, with_keys, marker) && std::chrono::steady_clock::now() < deadline);
    tcpdump.kill();
    CHECK_MESSAGE(shows(protocol, with_keys, marker),
                  protocol << ": tshark did not decrypt the marker with the key log:\n"
                           << with_keys << "\n--- key log:\n" << read_file(keys).size() << " bytes");
    const std::string without_keys = decoded(f, protocol, capture, "");
    CHECK_MESSAGE(!shows(protocol, without_keys, marker), protocol << ": the marker was visible without the key log");
}


TEST_CASE("keylog: tshark decrypts a TLS 1.3 connection with tapsec's key log") { check_decrypts("tls13"); }
TEST_CASE("keylog: tshark decrypts a TLS 1.2 connection with tapsec's key log") { check_decrypts("tls12"); }
TEST_CASE("keylog: tshark decrypts a DTLS 1.2 connection with tapsec's key log") { check_decrypts("dtls12"); }
TEST_CASE("keylog: tshark decrypts a QUIC connection with tapsec's key log") { check_decrypts("quic"); }

}  // namespace keylog_tshark_test
