// QUIC interop with ngtcp2's GnuTLS peers (gtlsserver, gtlsclient; ALPN h3 only):
// `tapsec connect quic --h3` fetches 10 MiB from gtlsserver, `tapsec listen quic --h3`
// serves 10 MiB to gtlsclient; SHA-256 of every transfer compared. Variants: a server
// that sends Retry (-V), ChaCha20-Poly1305, AES-256-GCM with P-256, and 1-RTT key
// updates initiated by either side. Then tapsec against tapsec over loopback on
// stdin/stdout, exiting 0 on both sides.
#include <doctest/doctest.h>

#include <tapsec/crypto/botan.hpp>

#include "support/process.hpp"

using namespace tapsec;
using namespace tapsec::test;

namespace quic_ngtcp2_test {

const std::string tapsec_tool = TAPSEC_TOOL_PATH;
const std::string gtlsserver = "/usr/sbin/gtlsserver";

std::string sha256_of(const std::string& path) {
    const std::string data = read_file(path);
    if (data.empty()) return "missing";
    return to_hex(crypto::Botan2::hash(crypto::HashAlgorithm::sha256, as_bytes(data)));
}

struct Files {
    TempDir dir;
    std::string key = dir.file("p256.key"), cert = dir.file("p256.crt"), htdocs = dir.file("htdocs");
    std::string digest;
    bool ok = false;
    Files() {
        ok = run("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout " + key + " -out " +
                 cert + " -days 30 -subj /CN=localhost -addext subjectAltName=DNS:localhost >/dev/null 2>&1") == 0 &&
             run("mkdir -p " + htdocs + " && head -c 10485760 /dev/urandom > " + htdocs + "/big.bin") == 0;
        digest = sha256_of(htdocs + "/big.bin");
    }
};

void fetch_from_gtlsserver(const std::vector<std::string>& server_options, const std::vector<std::string>& client_options,
                           const std::string& expect_in_summary) {
    REQUIRE_MESSAGE(have_program(gtlsserver), "ngtcp2-server (gtlsserver) is not installed");
    Files f;
    REQUIRE(f.ok);
    const auto port = std::to_string(free_port(SOCK_DGRAM));
    std::vector<std::string> server_argv{gtlsserver, "-q"};
    server_argv.insert(server_argv.end(), server_options.begin(), server_options.end());
    server_argv.insert(server_argv.end(), {"-d", f.htdocs, "127.0.0.1", port, f.key, f.cert});
    Process server(server_argv, f.dir.file("server.log"));
    const std::string out = f.dir.file("download.bin");
    std::vector<std::string> argv{tapsec_tool, "connect", "quic", "127.0.0.1:" + port, "--h3", "--path", "/big.bin",
                                  "--output", out, "--CAfile", f.cert, "--servername", "localhost"};
    argv.insert(argv.end(), client_options.begin(), client_options.end());
    Process client(argv, f.dir.file("client.log"));
    CHECK_MESSAGE(client.wait(std::chrono::seconds(60)) == 0, (client.output() + "\n--- server:\n" + server.output()));
    CHECK(client.output().find("HTTP/3 200, 10485760 body bytes") != std::string::npos);
    CHECK_MESSAGE(client.output().find(expect_in_summary) != std::string::npos, client.output());
    CHECK(sha256_of(out) == f.digest);
}

void serve_to_gtlsclient(const std::vector<std::string>& client_options, const std::string& expect_in_server,
                         const std::vector<std::string>& server_options = {}) {
    REQUIRE_MESSAGE(have_program("gtlsclient"), "ngtcp2-client (gtlsclient) is not installed");
    Files f;
    REQUIRE(f.ok);
    const auto port = std::to_string(free_port(SOCK_DGRAM));
    // gtlsclient sends its CONNECTION_CLOSE once, in one datagram; should that be lost, the
    // server ends by idle timeout once everything it sent was acknowledged (3 s here).
    std::vector<std::string> server_argv{tapsec_tool, "listen", "quic", "127.0.0.1:" + port, "--h3", "--htdocs", f.htdocs,
                                         "--cert", f.cert, "--key", f.key, "--idle-timeout", "3000"};
    server_argv.insert(server_argv.end(), server_options.begin(), server_options.end());
    Process server(server_argv, f.dir.file("server.log"));
    REQUIRE(server.wait_for_output("listening on"));
    const std::string download = f.dir.file("dl");
    REQUIRE(run("mkdir -p " + download) == 0);
    std::vector<std::string> argv{"gtlsclient", "-q", "--exit-on-all-streams-close", "--download", download};
    argv.insert(argv.end(), client_options.begin(), client_options.end());
    argv.insert(argv.end(), {"127.0.0.1", port, "https://127.0.0.1:" + port + "/big.bin"});
    Process client(argv, f.dir.file("client.log"));
    CHECK_MESSAGE(client.wait(std::chrono::seconds(60)) == 0, (client.output() + "\n--- server:\n" + server.output()));
    CHECK_MESSAGE(server.wait(std::chrono::seconds(10)) == 0, server.output());
    CHECK(server.output().find("GET /big.bin -> 200") != std::string::npos);
    CHECK_MESSAGE(server.output().find(expect_in_server) != std::string::npos, server.output());
    CHECK(sha256_of(download + "/big.bin") == f.digest);
}


TEST_CASE("QUIC interop: tapsec connect quic --h3 fetches 10 MiB from ngtcp2 gtlsserver") {
    fetch_from_gtlsserver({}, {}, "TLS_AES_128_GCM_SHA256, x25519, ALPN h3");
}

TEST_CASE("QUIC interop: gtlsserver -V sends a Retry; ChaCha20-Poly1305 and a client key update") {
    // Botan prints the subject as below; the OpenSSL provider (the default) as RFC 2253 text.
    fetch_from_gtlsserver({"-V"}, {"--ciphersuites", "TLS_CHACHA20_POLY1305_SHA256", "--keyupdate", "--provider", "botan"},
                          "TLS_CHACHA20_POLY1305_SHA256, x25519, ALPN h3, peer CN=\"localhost\", after a Retry");
}

TEST_CASE("QUIC interop: tapsec connect quic --provider botan|openssl against gtlsserver, 10 MiB each") {
    const struct {
        const char* provider;
        const char* summary;
    } rows[] = {
        {"botan", "TLS_AES_128_GCM_SHA256, x25519, ALPN h3, peer CN=\"localhost\", provider Botan 2"},
        {"openssl", "TLS_AES_128_GCM_SHA256, x25519, ALPN h3, peer CN=localhost, provider OpenSSL 3 libcrypto"},
    };
    for (const auto& row : rows) {
        CAPTURE(row.provider);
        fetch_from_gtlsserver({}, {"--provider", row.provider}, row.summary);
    }
}

TEST_CASE("QUIC interop: AES-256-GCM with P-256 against gtlsserver") {
    fetch_from_gtlsserver({}, {"--ciphersuites", "TLS_AES_256_GCM_SHA384", "--groups", "P-256"},
                          "TLS_AES_256_GCM_SHA384, secp256r1");
}

TEST_CASE("QUIC interop: tapsec listen quic --h3 serves 10 MiB to ngtcp2 gtlsclient") {
    serve_to_gtlsclient({}, "TLS_AES_128_GCM_SHA256, x25519, ALPN h3");
}

TEST_CASE("QUIC interop: gtlsclient with ChaCha20-Poly1305 and a key update it initiates") {
    serve_to_gtlsclient({"--key-update=20ms", "--ciphers=NORMAL:-VERS-ALL:+VERS-TLS1.3:-CIPHER-ALL:+CHACHA20-POLY1305"},
                        "1-RTT key update");
}

TEST_CASE("QUIC interop: tapsec connect quic --pad 256 (LHP): gtlsserver takes the padded packets, 10 MiB intact") {
    fetch_from_gtlsserver({}, {"--pad", "256"}, "TLS_AES_128_GCM_SHA256, x25519, ALPN h3");
}

TEST_CASE("QUIC interop: tapsec listen quic --pad 256 (LHP): gtlsclient takes the padded packets, 10 MiB intact") {
    serve_to_gtlsclient({}, "TLS_AES_128_GCM_SHA256, x25519, ALPN h3", {"--pad", "256"});
}

TEST_CASE("tapsec quic --datagram: stdin lines as DATAGRAM frames (RFC 9221) both ways, both exit 0") {
    Files f;
    REQUIRE(f.ok);
    const auto port = std::to_string(free_port(SOCK_DGRAM));
    Process server({tapsec_tool, "listen", "quic", "127.0.0.1:" + port, "--cert", f.cert, "--key", f.key, "--datagram",
                    "--pad", "128"},
                   f.dir.file("server.log"));
    REQUIRE(server.wait_for_output("listening on"));
    Process client({tapsec_tool, "connect", "quic", "127.0.0.1:" + port, "--CAfile", f.cert, "--servername", "localhost",
                    "--datagram"},
                   f.dir.file("client.log"));
    REQUIRE_MESSAGE(client.wait_for_output("ALPN tapsec"), (client.output() + "\n--- server:\n" + server.output()));
    client.write_stdin("first datagram to the listener\nsecond datagram to the listener\n");
    CHECK_MESSAGE(server.wait_for_output("second datagram to the listener"), server.output());
    CHECK(server.output().find("first datagram to the listener") != std::string::npos);
    server.write_stdin("datagram to the caller\n");
    CHECK_MESSAGE(client.wait_for_output("datagram to the caller"), client.output());
    client.close_stdin();
    server.close_stdin();
    CHECK_MESSAGE(client.wait(std::chrono::seconds(10)) == 0, client.output());
    CHECK_MESSAGE(server.wait(std::chrono::seconds(10)) == 0, server.output());
    CHECK_MESSAGE(client.output().find("2 datagram(s) sent, 1 received") != std::string::npos, client.output());
    CHECK_MESSAGE(server.output().find("1 datagram(s) sent, 2 received") != std::string::npos, server.output());
}

TEST_CASE("tapsec quic --datagram against a listener without it: exit 1 on both sides with a named error") {
    Files f;
    REQUIRE(f.ok);
    const auto port = std::to_string(free_port(SOCK_DGRAM));
    Process server({tapsec_tool, "listen", "quic", "127.0.0.1:" + port, "--cert", f.cert, "--key", f.key, "--datagram"},
                   f.dir.file("server.log"));
    REQUIRE(server.wait_for_output("listening on"));
    Process client({tapsec_tool, "connect", "quic", "127.0.0.1:" + port, "--CAfile", f.cert, "--servername", "localhost"},
                   f.dir.file("client.log"));
    // The listener wants datagrams, the client offers none: the listener refuses, and says
    // so with CONNECTION_CLOSE (application code 1), so the client ends at once.
    CHECK_MESSAGE(server.wait(std::chrono::seconds(10)) == 1, server.output());
    CHECK_MESSAGE(server.output().find("peer does not support DATAGRAM frames") != std::string::npos, server.output());
    CHECK_MESSAGE(client.wait(std::chrono::seconds(5)) == 1, client.output());
    CHECK_MESSAGE(client.output().find("application code 0x0000000000000001") != std::string::npos, client.output());
}

TEST_CASE("QUIC interop: ngtcp2 0.12.1's gtlsserver offers no DATAGRAM: connect quic --datagram exits 1, naming it") {
    REQUIRE_MESSAGE(have_program(gtlsserver), "ngtcp2-server (gtlsserver) is not installed");
    Files f;
    REQUIRE(f.ok);
    const auto port = std::to_string(free_port(SOCK_DGRAM));
    Process server({gtlsserver, "-q", "-d", f.htdocs, "127.0.0.1", port, f.key, f.cert}, f.dir.file("server.log"));
    // ALPN h3 (all gtlsserver speaks): the handshake succeeds, then the missing
    // max_datagram_frame_size transport parameter ends it.
    Process client({tapsec_tool, "connect", "quic", "127.0.0.1:" + port, "--CAfile", f.cert, "--servername", "localhost",
                    "--alpn", "h3", "--datagram"},
                   f.dir.file("client.log"));
    client.write_stdin("never sent\n");
    CHECK_MESSAGE(client.wait(std::chrono::seconds(20)) == 1, client.output());
    CHECK_MESSAGE(client.output().find("ALPN h3") != std::string::npos, client.output());
    CHECK_MESSAGE(client.output().find("--datagram: peer does not support DATAGRAM frames (no max_datagram_frame_size)") !=
                      std::string::npos,
                  client.output());
}

TEST_CASE("tapsec quic: listen and connect carry stdin/stdout both ways on one stream and exit 0") {
    Files f;
    REQUIRE(f.ok);
    const auto port = std::to_string(free_port(SOCK_DGRAM));
    Process server({tapsec_tool, "listen", "quic", "127.0.0.1:" + port, "--cert", f.cert, "--key", f.key},
                   f.dir.file("server.log"));
    REQUIRE(server.wait_for_output("listening on"));
    Process client({tapsec_tool, "connect", "quic", "127.0.0.1:" + port, "--CAfile", f.cert, "--servername", "localhost"},
                   f.dir.file("client.log"));
    REQUIRE_MESSAGE(client.wait_for_output("ALPN tapsec"), (client.output() + "\n--- server:\n" + server.output()));
    client.write_stdin("to the listener\n");
    CHECK_MESSAGE(server.wait_for_output("to the listener"), server.output());
    server.write_stdin("to the caller\n");
    CHECK_MESSAGE(client.wait_for_output("to the caller"), client.output());
    client.close_stdin();
    CHECK_MESSAGE(client.wait(std::chrono::seconds(10)) == 0, client.output());
    CHECK_MESSAGE(server.wait(std::chrono::seconds(10)) == 0, server.output());
}

TEST_CASE("tapsec listen quic --h3: a client that vanishes mid-response is an idle timeout, exit 1") {
    // The other side of the idle-timeout rule in EndpointSession::judge: only when every
    // byte of every response was acknowledged is a silent client a clean end.
    REQUIRE_MESSAGE(have_program("gtlsclient"), "ngtcp2-client (gtlsclient) is not installed");
    Files f;
    REQUIRE(f.ok);
    const auto port = std::to_string(free_port(SOCK_DGRAM));
    Process server({tapsec_tool, "listen", "quic", "127.0.0.1:" + port, "--h3", "--htdocs", f.htdocs, "--cert", f.cert,
                    "--key", f.key, "--idle-timeout", "1000"},
                   f.dir.file("server.log"));
    REQUIRE(server.wait_for_output("listening on"));
    const std::string download = f.dir.file("dl");
    REQUIRE(run("mkdir -p " + download) == 0);
    Process client({"gtlsclient", "-q", "--download", download, "127.0.0.1", port, "https://127.0.0.1:" + port + "/big.bin"},
                   f.dir.file("client.log"));
    REQUIRE(server.wait_for_output("GET /big.bin -> 200"));
    client.kill();  // SIGKILL-like end: no CONNECTION_CLOSE, most of the 10 MiB unacknowledged
    CHECK_MESSAGE(server.wait(std::chrono::seconds(10)) == 1, server.output());
    CHECK_MESSAGE(server.output().find("QUIC: idle timeout") != std::string::npos, server.output());
}

// ---- address validation and migration against gtlsclient (RFC 9000 8, 9) --------------------


/// `tapsec listen quic --h3 <listen_options>` serves 10 MiB to `gtlsclient <client_options>`
/// from `f`: both exit 0, the SHA-256 matches. Returns the listener's output.
std::string serve_big_file(Files& f, const std::vector<std::string>& listen_options,
                           const std::vector<std::string>& client_options, const std::string& tag) {
    const auto port = std::to_string(free_port(SOCK_DGRAM));
    std::vector<std::string> listen{tapsec_tool, "listen", "quic", "127.0.0.1:" + port, "--h3", "--htdocs", f.htdocs,
                                    "--cert", f.cert, "--key", f.key, "--idle-timeout", "3000"};  // as serve_to_gtlsclient
    listen.insert(listen.end(), listen_options.begin(), listen_options.end());
    Process server(listen, f.dir.file("server-" + tag + ".log"));
    REQUIRE(server.wait_for_output("listening on"));
    const std::string download = f.dir.file("dl-" + tag);
    REQUIRE(run("mkdir -p " + download) == 0);
    std::vector<std::string> argv{"gtlsclient", "-q", "--exit-on-all-streams-close", "--download", download};
    argv.insert(argv.end(), client_options.begin(), client_options.end());
    argv.insert(argv.end(), {"127.0.0.1", port, "https://127.0.0.1:" + port + "/big.bin"});
    Process client(argv, f.dir.file("client-" + tag + ".log"));
    CHECK_MESSAGE(client.wait(std::chrono::seconds(60)) == 0, (client.output() + "\n--- server:\n" + server.output()));
    CHECK_MESSAGE(server.wait(std::chrono::seconds(10)) == 0, server.output());
    CHECK(server.output().find("GET /big.bin -> 200") != std::string::npos);
    CHECK(sha256_of(download + "/big.bin") == f.digest);
    return server.output();
}


TEST_CASE("QUIC interop: tapsec listen quic --h3 --retry validates gtlsclient with a Retry, then serves 10 MiB") {
    REQUIRE_MESSAGE(have_program("gtlsclient"), "ngtcp2-client (gtlsclient) is not installed");
    Files f;
    REQUIRE(f.ok);
    const std::string out = serve_big_file(f, {"--retry"}, {}, "retry");
    CHECK_MESSAGE(out.find("ALPN h3, after a Retry") != std::string::npos, out);
}

TEST_CASE("QUIC interop: gtlsclient stores our NEW_TOKEN token; presented again, a restarted listener skips the Retry") {
    REQUIRE_MESSAGE(have_program("gtlsclient"), "ngtcp2-client (gtlsclient) is not installed");
    Files f;
    REQUIRE(f.ok);
    const std::string secret = f.dir.file("server.secret"), token = f.dir.file("token"), raw = f.dir.file("token.bin");
    const std::string first = serve_big_file(f, {"--retry", "--secret-file", secret}, {"--token-file=" + token}, "first");
    CHECK_MESSAGE(first.find("after a Retry") != std::string::npos, first);
    REQUIRE_MESSAGE(read_file(token).find("BEGIN QUIC TOKEN") != std::string::npos, "gtlsclient stored no NEW_TOKEN token");
    // gtlsclient 0.12.1 cannot read its own token file back ("Could not read token"), so
    // the token it received is presented by tapsec connect, to a new listener process.
    REQUIRE(run("grep -v -- ----- " + token + " | base64 -d > " + raw) == 0);
    const auto port = std::to_string(free_port(SOCK_DGRAM));
    Process server({tapsec_tool, "listen", "quic", "127.0.0.1:" + port, "--h3", "--htdocs", f.htdocs, "--cert", f.cert,
                    "--key", f.key, "--retry", "--secret-file", secret},
                   f.dir.file("server-second.log"));
    REQUIRE(server.wait_for_output("listening on"));
    const std::string out = f.dir.file("second.bin");
    Process client({tapsec_tool, "connect", "quic", "127.0.0.1:" + port, "--h3", "--path", "/big.bin", "--output", out,
                    "--CAfile", f.cert, "--servername", "localhost", "--token-file", raw},
                   f.dir.file("client-second.log"));
    CHECK_MESSAGE(client.wait(std::chrono::seconds(60)) == 0, (client.output() + "\n--- server:\n" + server.output()));
    CHECK_MESSAGE(server.wait(std::chrono::seconds(10)) == 0, server.output());
    CHECK_MESSAGE(server.output().find("address validated by a NEW_TOKEN token") != std::string::npos, server.output());
    CHECK(server.output().find("after a Retry") == std::string::npos);
    CHECK(sha256_of(out) == f.digest);
}

TEST_CASE("QUIC interop: gtlsclient migrates mid-download (--change-local-addr), the listener validates and follows") {
    REQUIRE_MESSAGE(have_program("gtlsclient"), "ngtcp2-client (gtlsclient) is not installed");
    Files f;
    REQUIRE(f.ok);
    const std::string out = serve_big_file(f, {}, {"--change-local-addr=5ms"}, "migrate");
    CHECK_MESSAGE(out.find("1 address change(s), 1 path(s) validated") != std::string::npos, out);
}

// --nat-rebinding moves the client's port without path validation, and ngtcp2 then drops
// what still arrives at the old port: a client that rebinds while it has nothing
// ack-eliciting in flight never speaks from its new port, against any server (docs/quic.md,
// "The nat-rebinding stall"). So the rebinding (5 ms after HANDSHAKE_DONE) comes before the
// request (--delay-stream 100 ms): the request arrives from a port the listener has not
// seen, and the listener must validate it and send the 10 MiB there.
TEST_CASE("QUIC interop: gtlsclient --nat-rebinding before its request, the listener validates the new port") {
    REQUIRE_MESSAGE(have_program("gtlsclient"), "ngtcp2-client (gtlsclient) is not installed");
    Files f;
    REQUIRE(f.ok);
    const std::string out =
        serve_big_file(f, {}, {"--change-local-addr=5ms", "--nat-rebinding", "--delay-stream=100ms"}, "rebind");
    CHECK_MESSAGE(out.find("1 address change(s), 1 path(s) validated") != std::string::npos, out);
}

TEST_CASE("tapsec quic: a listener restarted with the same --secret-file resets a stale client (stateless reset)") {
    Files f;
    REQUIRE(f.ok);
    const auto port = std::to_string(free_port(SOCK_DGRAM));
    const std::string secret = f.dir.file("server.secret");
    const std::vector<std::string> listen{tapsec_tool, "listen", "quic", "127.0.0.1:" + port, "--cert", f.cert,
                                          "--key", f.key, "--secret-file", secret};
    Process first(listen, f.dir.file("first.log"));
    REQUIRE(first.wait_for_output("listening on"));
    Process client({tapsec_tool, "connect", "quic", "127.0.0.1:" + port, "--CAfile", f.cert, "--servername", "localhost"},
                   f.dir.file("client.log"));
    REQUIRE_MESSAGE(client.wait_for_output("ALPN tapsec"), client.output());
    client.write_stdin("before the restart\n");
    REQUIRE_MESSAGE(first.wait_for_output("before the restart"), first.output());
    first.kill();  // the server loses the connection's state
    Process second(listen, f.dir.file("second.log"));
    REQUIRE(second.wait_for_output("listening on"));
    client.write_stdin("after the restart\n");
    CHECK_MESSAGE(client.wait(std::chrono::seconds(10)) == 1, client.output());
    CHECK_MESSAGE(client.output().find("connection reset by the peer (stateless reset)") != std::string::npos, client.output());
    // The new listener did not take the stray packet for a client: it still waits.
    CHECK(second.running());
    second.kill();
}

TEST_CASE("QUIC interop: tapsec connect quic --migrate-after moves to a new port mid-download from gtlsserver") {
    fetch_from_gtlsserver({}, {"--migrate-after", "5"}, "1 address change(s), 1 path(s) validated");
}

TEST_CASE("tapsec listen quic --echo / --rev / --www answer tapsec connect quic; both exit 0") {
    struct Mode {
        const char* option;
        std::string sent;
        std::vector<std::string> expected;  // in the client's output
        bool server_closes;                 // --www answers once, then closes
    };
    const Mode modes[] = {
        {"--echo", "echo over quic\n", {"echo over quic"}, false},
        {"--rev", "abc over quic\n", {"ciuq revo cba"}, false},
        {"--www", "GET / HTTP/1.0\r\n\r\n", {"HTTP/1.0 200 OK", "Protocol: QUIC v1 (TLS 1.3)"}, true},
    };
    Files f;
    REQUIRE(f.ok);
    for (const auto& mode : modes) {
        CAPTURE(mode.option);
        const auto port = std::to_string(free_port(SOCK_DGRAM));
        Process server({tapsec_tool, "listen", "quic", "127.0.0.1:" + port, "--cert", f.cert, "--key", f.key, mode.option},
                       f.dir.file(std::string("server") + mode.option + ".log"));
        REQUIRE(server.wait_for_output("listening on"));
        Process client({tapsec_tool, "connect", "quic", "127.0.0.1:" + port, "--CAfile", f.cert, "--servername", "localhost"},
                       f.dir.file(std::string("client") + mode.option + ".log"));
        REQUIRE_MESSAGE(client.wait_for_output("ALPN tapsec"), (client.output() + "\n--- server:\n" + server.output()));
        client.write_stdin(mode.sent);
        for (const auto& text : mode.expected) CHECK_MESSAGE(client.wait_for_output(text), client.output());
        if (!mode.server_closes) client.close_stdin();
        CHECK_MESSAGE(client.wait(std::chrono::seconds(10)) == 0, client.output());
        CHECK_MESSAGE(server.wait(std::chrono::seconds(10)) == 0, server.output());
    }
}

TEST_CASE("tapsec quic --quic-version 2: QUIC v2 (RFC 9369) tapsec to tapsec over UDP; a v1-only listener answers VN") {
    Files f;
    REQUIRE(f.ok);
    {
        const auto port = std::to_string(free_port(SOCK_DGRAM));
        Process server({tapsec_tool, "listen", "quic", "127.0.0.1:" + port, "--cert", f.cert, "--key", f.key, "--echo"},
                       f.dir.file("server-v2.log"));  // accepts v1 and v2
        REQUIRE(server.wait_for_output("listening on"));
        Process client({tapsec_tool, "connect", "quic", "127.0.0.1:" + port, "--quic-version", "2", "--CAfile", f.cert,
                        "--servername", "localhost"},
                       f.dir.file("client-v2.log"));
        REQUIRE_MESSAGE(client.wait_for_output("ALPN tapsec"), (client.output() + "\n--- server:\n" + server.output()));
        CHECK_MESSAGE(client.output().find("QUIC v2 (TLS 1.3)") != std::string::npos, client.output());
        client.write_stdin("echo over quic v2\n");
        CHECK_MESSAGE(client.wait_for_output("echo over quic v2"), client.output());
        client.close_stdin();
        CHECK_MESSAGE(client.wait(std::chrono::seconds(10)) == 0, client.output());
        CHECK_MESSAGE(server.wait(std::chrono::seconds(10)) == 0, server.output());
        CHECK_MESSAGE(server.output().find("QUIC v2 (TLS 1.3)") != std::string::npos, server.output());
    }
    {
        const auto port = std::to_string(free_port(SOCK_DGRAM));
        Process server({tapsec_tool, "listen", "quic", "127.0.0.1:" + port, "--cert", f.cert, "--key", f.key,
                        "--quic-version", "1", "--idle-timeout", "2000"},
                       f.dir.file("server-v1.log"));
        REQUIRE(server.wait_for_output("listening on"));
        Process client({tapsec_tool, "connect", "quic", "127.0.0.1:" + port, "--quic-version", "2", "--CAfile", f.cert,
                        "--servername", "localhost"},
                       f.dir.file("client-v1.log"));
        CHECK(client.wait(std::chrono::seconds(20)) == 1);
        CHECK_MESSAGE(client.output().find("unsupported QUIC version") != std::string::npos, client.output());
        server.kill();  // it still waits for a client it would accept
    }
}

TEST_CASE("tapsec quic: stdin's end is a FIN, not the end of the connection (half-close), 5 times each way") {
    // `echo abc | tapsec connect quic` against --rev used to close the connection as soon
    // as "abc" was acknowledged, before the reversed line came back: the client printed
    // nothing and exited 0. Now stdin's end finishes only our direction of stream 0.
    Files f;
    REQUIRE(f.ok);
    for (int i = 0; i < 5; ++i) {
        CAPTURE(i);
        const auto port = std::to_string(free_port(SOCK_DGRAM));
        const std::string tag = std::to_string(i);
        Process server({tapsec_tool, "listen", "quic", "127.0.0.1:" + port, "--cert", f.cert, "--key", f.key, "--rev"},
                       f.dir.file("rev-server-" + tag + ".log"));
        REQUIRE(server.wait_for_output("listening on"));
        Process client({tapsec_tool, "connect", "quic", "127.0.0.1:" + port, "--CAfile", f.cert, "--servername", "localhost"},
                       f.dir.file("rev-client-" + tag + ".log"));
        client.write_stdin("abc" + tag + "\n");
        client.close_stdin();
        CHECK_MESSAGE(client.wait(std::chrono::seconds(10)) == 0, client.output());
        CHECK_MESSAGE(server.wait(std::chrono::seconds(10)) == 0, server.output());
        CHECK_MESSAGE(client.output().find(tag + "cba") != std::string::npos, client.output());
    }
    for (int i = 0; i < 5; ++i) {  // both inputs already ended: each side's line still arrives
        CAPTURE(i);
        const auto port = std::to_string(free_port(SOCK_DGRAM));
        const std::string tag = std::to_string(i);
        Process server({tapsec_tool, "listen", "quic", "127.0.0.1:" + port, "--cert", f.cert, "--key", f.key},
                       f.dir.file("both-server-" + tag + ".log"));
        server.write_stdin("to client " + tag + "\n");
        server.close_stdin();
        REQUIRE(server.wait_for_output("listening on"));
        Process client({tapsec_tool, "connect", "quic", "127.0.0.1:" + port, "--CAfile", f.cert, "--servername", "localhost"},
                       f.dir.file("both-client-" + tag + ".log"));
        client.write_stdin("to server " + tag + "\n");
        client.close_stdin();
        CHECK_MESSAGE(client.wait(std::chrono::seconds(10)) == 0, client.output());
        CHECK_MESSAGE(server.wait(std::chrono::seconds(10)) == 0, server.output());
        CHECK_MESSAGE(client.output().find("to client " + tag) != std::string::npos, client.output());
        CHECK_MESSAGE(server.output().find("to server " + tag) != std::string::npos, server.output());
    }
}

// ---- 0-RTT (RFC 9001 4.6, RFC 9000 7.4.1) ------------------------------------------------------

TEST_CASE("QUIC interop: gtlsclient resumes with --session-file/--tp-file, its request in 0-RTT accepted by tapsec listen") {
    REQUIRE_MESSAGE(have_program("gtlsclient"), "ngtcp2-client (gtlsclient) is not installed");
    Files f;
    REQUIRE(f.ok);
    const auto port = std::to_string(free_port(SOCK_DGRAM));
    // Two connections on one listener: the second presents the ticket of the first.
    Process server({tapsec_tool, "listen", "quic", "127.0.0.1:" + port, "--h3", "--htdocs", f.htdocs, "--cert", f.cert,
                    "--key", f.key, "--idle-timeout", "3000", "--naccept", "2"},
                   f.dir.file("server.log"));
    REQUIRE(server.wait_for_output("listening on"));
    const std::string session = f.dir.file("session.pem"), tp = f.dir.file("tp.txt");
    // The second run needs gtlsclient's trace (to see its 0-RTT packet), and with the trace
    // on it hex-dumps every byte it receives and reads about 12 packets/s, from ngtcp2's own
    // gtlsserver too (measured 2026-12-01): it fetches a 64 KiB file; the first run, quiet,
    // fetches the 10 MiB one.
    REQUIRE(run("head -c 65536 /dev/urandom > " + f.htdocs + "/small.bin") == 0);
    const std::string small_digest = sha256_of(f.htdocs + "/small.bin");
    for (int run_no = 0; run_no < 2; ++run_no) {
        CAPTURE(run_no);
        const std::string download = f.dir.file("dl" + std::to_string(run_no));
        const std::string file = run_no == 0 ? "big.bin" : "small.bin";
        REQUIRE(run("mkdir -p " + download) == 0);
        std::vector<std::string> argv{"gtlsclient", "--exit-on-all-streams-close", "--download", download,
                                      "--session-file=" + session, "--tp-file=" + tp};
        if (run_no == 0) argv.push_back("-q");
        argv.insert(argv.end(), {"127.0.0.1", port, "https://127.0.0.1:" + port + "/" + file});
        Process client(argv, f.dir.file("client" + std::to_string(run_no) + ".log"));
        CHECK_MESSAGE(client.wait(std::chrono::seconds(60)) == 0, server.output());
        CHECK(sha256_of(download + "/" + file) == (run_no == 0 ? f.digest : small_digest));
        if (run_no == 0) {
            CHECK_MESSAGE(read_file(session).find("BEGIN GNUTLS SESSION PARAMETERS") != std::string::npos,
                          (std::string("gtlsclient stored no session: ") + read_file(session)));
        } else {
            // The request went in a 0-RTT packet (gtlsclient's trace) and we took it as early data.
            CHECK_MESSAGE(client.output().find("type=0RTT") != std::string::npos, client.output().substr(0, 4000));
            CHECK(client.output().find("Early data was rejected") == std::string::npos);
        }
    }
    CHECK_MESSAGE(server.wait(std::chrono::seconds(10)) == 0, server.output());
    CHECK_MESSAGE(server.output().find("0-RTT: early data accepted") != std::string::npos, server.output());
    CHECK_MESSAGE(server.output().find("packet(s) of early data received") != std::string::npos, server.output());
}


/// `tapsec connect quic --h3 --session-file` to 127.0.0.1:port; checks the download and
/// returns the client's stderr.
std::string fetch_with_session(Files& f, const std::string& port, const std::string& session, const std::string& tag) {
    const std::string out = f.dir.file("download-" + tag + ".bin");
    Process client({tapsec_tool, "connect", "quic", "127.0.0.1:" + port, "--h3", "--path", "/big.bin", "--output", out,
                    "--CAfile", f.cert, "--servername", "localhost", "--session-file", session},
                   f.dir.file("client-" + tag + ".log"));
    CHECK_MESSAGE(client.wait(std::chrono::seconds(60)) == 0, client.output());
    CHECK(client.output().find("HTTP/3 200, 10485760 body bytes") != std::string::npos);
    CHECK(sha256_of(out) == f.digest);
    return client.output();
}


TEST_CASE("QUIC interop: tapsec connect quic --h3 --session-file twice against gtlsserver, the second GET in 0-RTT") {
    REQUIRE_MESSAGE(have_program(gtlsserver), "ngtcp2-server (gtlsserver) is not installed");
    Files f;
    REQUIRE(f.ok);
    const auto port = std::to_string(free_port(SOCK_DGRAM));
    Process server({gtlsserver, "-q", "-d", f.htdocs, "127.0.0.1", port, f.key, f.cert}, f.dir.file("server.log"));
    const std::string session = f.dir.file("session.hex");
    const std::string first = fetch_with_session(f, port, session, "first");
    CHECK_MESSAGE(first.find("0-RTT") == std::string::npos, first);  // nothing stored yet: no 0-RTT
    REQUIRE_MESSAGE(!read_file(session).empty(), (std::string("no session ticket stored: ") + first));
    const std::string second = fetch_with_session(f, port, session, "second");
    CHECK_MESSAGE(second.find("0-RTT: early data accepted") != std::string::npos, second);
    CHECK_MESSAGE(second.find("0-RTT accepted: ") != std::string::npos, second);
    CHECK_MESSAGE(second.find(", 0 sent again in 1-RTT") != std::string::npos, second);
}

TEST_CASE("tapsec quic: 0-RTT tapsec to tapsec, accepted by the same listener, refused by a restarted one") {
    Files f;
    REQUIRE(f.ok);
    const std::string session = f.dir.file("session.hex");
    const auto port = std::to_string(free_port(SOCK_DGRAM));
    const std::vector<std::string> listen{tapsec_tool, "listen", "quic", "127.0.0.1:" + port, "--h3", "--htdocs",
                                          f.htdocs, "--cert", f.cert, "--key", f.key, "--naccept", "2"};
    {
        Process server(listen, f.dir.file("server-1.log"));
        REQUIRE(server.wait_for_output("listening on"));
        fetch_with_session(f, port, session, "full");
        const std::string early = fetch_with_session(f, port, session, "early");
        CHECK_MESSAGE(early.find("0-RTT accepted: ") != std::string::npos, early);
        CHECK_MESSAGE(server.wait(std::chrono::seconds(10)) == 0, server.output());
        CHECK_MESSAGE(server.output().find("packet(s) of early data received") != std::string::npos, server.output());
    }
    // A new process has a new ticket key: the ticket does not open, 0-RTT is refused and the
    // request goes again in 1-RTT; the download completes and both exit 0.
    Process server(listen, f.dir.file("server-2.log"));
    REQUIRE(server.wait_for_output("listening on"));
    const std::string refused = fetch_with_session(f, port, session, "refused");
    CHECK_MESSAGE(refused.find("0-RTT: early data rejected") != std::string::npos, refused);
    CHECK_MESSAGE(refused.find("0-RTT rejected: ") != std::string::npos, refused);
    CHECK_MESSAGE(refused.find(", 0 sent again") == std::string::npos, refused);  // the request was sent again
    server.kill();  // it waits for a second connection
}

// ---- the listener's endpoint: several clients at once (quic::ServerEndpoint) ---------------

TEST_CASE("QUIC interop: one tapsec listen quic --h3 serves 4 gtlsclients at once, 2 MiB each, SHA-256 checked") {
    REQUIRE_MESSAGE(have_program("gtlsclient"), "ngtcp2-client (gtlsclient) is not installed");
    Files f;
    REQUIRE(f.ok);
    REQUIRE(run("head -c 2097152 " + f.htdocs + "/big.bin > " + f.htdocs + "/mid.bin") == 0);
    const std::string digest = sha256_of(f.htdocs + "/mid.bin");
    const auto port = std::to_string(free_port(SOCK_DGRAM));
    Process server({tapsec_tool, "listen", "quic", "127.0.0.1:" + port, "--h3", "--htdocs", f.htdocs, "--cert", f.cert,
                    "--key", f.key, "--idle-timeout", "3000", "--naccept", "4"},
                   f.dir.file("server.log"));
    REQUIRE(server.wait_for_output("listening on"));
    std::vector<std::unique_ptr<Process>> clients;
    for (int i = 0; i < 4; ++i) {
        const std::string download = f.dir.file("dl" + std::to_string(i));
        REQUIRE(run("mkdir -p " + download) == 0);
        clients.push_back(std::make_unique<Process>(
            std::vector<std::string>{"gtlsclient", "-q", "--exit-on-all-streams-close", "--download", download, "127.0.0.1",
                                     port, "https://127.0.0.1:" + port + "/mid.bin"},
            f.dir.file("client" + std::to_string(i) + ".log")));
    }
    for (int i = 0; i < 4; ++i) {
        CAPTURE(i);
        CHECK_MESSAGE(clients[i]->wait(std::chrono::seconds(30)) == 0, (clients[i]->output() + "\n--- server:\n" + server.output()));
        CHECK(sha256_of(f.dir.file("dl" + std::to_string(i)) + "/mid.bin") == digest);
    }
    CHECK_MESSAGE(server.wait(std::chrono::seconds(10)) == 0, server.output());
    const std::string log = server.output();
    std::size_t gets = 0;
    for (auto at = log.find("GET /mid.bin -> 200"); at != std::string::npos; at = log.find("GET /mid.bin -> 200", at + 1)) ++gets;
    CHECK_MESSAGE(gets == 4, log);
    CHECK_MESSAGE(log.find("4 connection(s) served, 0 failed") != std::string::npos, log);
}

TEST_CASE("tapsec listen quic --echo --naccept 3: three tapsec clients at once, each its own echo, all exit 0") {
    Files f;
    REQUIRE(f.ok);
    const auto port = std::to_string(free_port(SOCK_DGRAM));
    Process server({tapsec_tool, "listen", "quic", "127.0.0.1:" + port, "--cert", f.cert, "--key", f.key, "--echo",
                    "--naccept", "3"},
                   f.dir.file("server.log"));
    REQUIRE(server.wait_for_output("listening on"));
    std::vector<std::unique_ptr<Process>> clients;
    for (int i = 0; i < 3; ++i)
        clients.push_back(std::make_unique<Process>(
            std::vector<std::string>{tapsec_tool, "connect", "quic", "127.0.0.1:" + port, "--CAfile", f.cert, "--servername",
                                     "localhost"},
            f.dir.file("client" + std::to_string(i) + ".log")));
    // All three are connected before any of them is done: the listener holds them at once.
    for (auto& c : clients) REQUIRE_MESSAGE(c->wait_for_output("ALPN tapsec"), (c->output() + "\n--- server:\n" + server.output()));
    for (int i = 0; i < 3; ++i) clients[i]->write_stdin("client " + std::to_string(i) + " over one endpoint\n");
    for (int i = 0; i < 3; ++i) {
        CAPTURE(i);
        CHECK_MESSAGE(clients[i]->wait_for_output("client " + std::to_string(i) + " over one endpoint"), clients[i]->output());
        clients[i]->close_stdin();
    }
    for (auto& c : clients) CHECK_MESSAGE(c->wait(std::chrono::seconds(10)) == 0, c->output());
    CHECK_MESSAGE(server.wait(std::chrono::seconds(10)) == 0, server.output());
    CHECK_MESSAGE(server.output().find("3 connection(s) served, 0 failed") != std::string::npos, server.output());
}

TEST_CASE("tapsec listen quic --echo --forever: SIGTERM closes every open connection with CONNECTION_CLOSE, exit 0") {
    Files f;
    REQUIRE(f.ok);
    const auto port = std::to_string(free_port(SOCK_DGRAM));
    Process server({tapsec_tool, "listen", "quic", "127.0.0.1:" + port, "--cert", f.cert, "--key", f.key, "--echo",
                    "--forever"},
                   f.dir.file("server.log"));
    REQUIRE(server.wait_for_output("listening on"));
    std::vector<std::unique_ptr<Process>> clients;
    for (int i = 0; i < 2; ++i)
        clients.push_back(std::make_unique<Process>(
            std::vector<std::string>{tapsec_tool, "connect", "quic", "127.0.0.1:" + port, "--CAfile", f.cert, "--servername",
                                     "localhost"},
            f.dir.file("client" + std::to_string(i) + ".log")));
    for (auto& c : clients) {
        REQUIRE(c->wait_for_output("ALPN tapsec"));
        c->write_stdin("still here\n");
        REQUIRE(c->wait_for_output("still here"));
    }
    ::kill(server.pid(), SIGTERM);
    CHECK_MESSAGE(server.wait(std::chrono::seconds(10)) == 0, server.output());
    CHECK_MESSAGE(server.output().find("CONNECTION_CLOSE sent to 2 connection(s)") != std::string::npos, server.output());
    // Each client learns of the close at once (no idle timeout) and ends cleanly, stdin still open.
    for (auto& c : clients) CHECK_MESSAGE(c->wait(std::chrono::seconds(5)) == 0, c->output());
}

}  // namespace quic_ngtcp2_test
