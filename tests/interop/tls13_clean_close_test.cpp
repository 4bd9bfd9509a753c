// Clean close (RFC 8446 6.1) between processes: whichever side closes first sends
// close_notify, the other answers with its own before its write side closes, and both
// `tapsec connect tls13` and `tapsec listen tls13` exit 0 — every time, so the tapsec
// pair runs in a loop, each side closing first in turn. Then the same against OpenSSL
// (`s_server` / `s_client`) and GnuTLS (`gnutls-serv` / `gnutls-cli`), both directions.
#include <doctest/doctest.h>

#include <csignal>

#include "support/command_fixture.hpp"
#include "support/process.hpp"

using namespace tapsec::test;

namespace tls13_clean_close_test {

const std::string tapsec_tool = TAPSEC_TOOL_PATH;

struct Fixture : CommandPki {};

std::vector<std::string> tapsec_listen(Fixture& f, std::uint16_t port) {
    return {tapsec_tool, "listen", "tls13", std::to_string(port), "--cert", f.cert.certificate, "--key", f.cert.key};
}
std::vector<std::string> tapsec_connect(Fixture& f, std::uint16_t port) {
    return {tapsec_tool, "connect", "tls13", "127.0.0.1:" + std::to_string(port), "--servername", "localhost",
            "--CAfile", f.pki.ca().certificate};
}

struct Exit {
    int client = -1, server = -1;
    std::chrono::steady_clock::duration took{};
};

/// A line each way, then one side ends its input (that side sends close_notify first).
/// Returns both exit codes and how long the close took after the input ended.
Exit exchange_and_close(Process& server, Process& client, bool client_closes, const std::string& tag) {
    client.write_stdin("to server " + tag + "\n");
    const bool got = server.wait_for_output("to server " + tag);
    server.write_stdin("to client " + tag + "\n");
    const bool back = client.wait_for_output("to client " + tag);
    CHECK_MESSAGE(got, (server.output() + "\n--- client:\n" + client.output()));
    CHECK_MESSAGE(back, (client.output() + "\n--- server:\n" + server.output()));
    Process& closer = client_closes ? client : server;
    Process& other = client_closes ? server : client;
    const auto start = std::chrono::steady_clock::now();
    closer.close_stdin();
    const int first = closer.wait(std::chrono::seconds(10));
    const int second = other.wait(std::chrono::seconds(10));
    Exit ended;
    ended.took = std::chrono::steady_clock::now() - start;
    ended.client = client_closes ? first : second;
    ended.server = client_closes ? second : first;
    return ended;
}

/// tapsec waits 2 s (its linger) for a peer that never answers close_notify; a close
/// well under that was ended by the peer's close_notify.
constexpr auto prompt = std::chrono::milliseconds(1500);


TEST_CASE("tls13 clean close: tapsec listen <-> tapsec connect, 20 times, each side closing first in turn") {
    Fixture f;
    for (int i = 0; i < 20; ++i) {
        CAPTURE(i);
        const bool client_closes = i % 2 == 0;
        const auto port = free_port();
        Process server(tapsec_listen(f, port), f.log("listen"));
        REQUIRE_MESSAGE(server.wait_for_output("listening"), server.output());
        Process client(tapsec_connect(f, port), f.log("connect"));
        const auto ended = exchange_and_close(server, client, client_closes, std::to_string(i));
        CHECK_MESSAGE(ended.client == 0, client.output());
        CHECK_MESSAGE(ended.server == 0, server.output());
        CHECK(ended.took < prompt);
        CHECK(server.output().find("truncated") == std::string::npos);
        CHECK(client.output().find("truncated") == std::string::npos);
    }
}

TEST_CASE("tls13 half-close: both inputs already ended (echo x | ...), each line still arrives, 20 times") {
    // Whichever close_notify arrives first ends only its sender's write side (6.1): the
    // other side still sends what its stdin held before answering, never drops it.
    Fixture f;
    for (int i = 0; i < 20; ++i) {
        CAPTURE(i);
        const auto port = free_port();
        const std::string tag = std::to_string(i);
        Process server(tapsec_listen(f, port), f.log("listen"));
        server.write_stdin("to client " + tag + "\n");
        server.close_stdin();
        REQUIRE_MESSAGE(server.wait_for_output("listening"), server.output());
        Process client(tapsec_connect(f, port), f.log("connect"));
        client.write_stdin("to server " + tag + "\n");
        client.close_stdin();
        CHECK_MESSAGE(client.wait(std::chrono::seconds(10)) == 0, client.output());
        CHECK_MESSAGE(server.wait(std::chrono::seconds(10)) == 0, server.output());
        CHECK_MESSAGE(client.output().find("to client " + tag) != std::string::npos, client.output());
        CHECK_MESSAGE(server.output().find("to server " + tag) != std::string::npos, server.output());
    }
}

TEST_CASE("tls13 clean close against OpenSSL: s_server and s_client, each side closing first") {
    Fixture f;
    REQUIRE_MESSAGE(have_program("openssl"), "openssl is not installed");
    {  // tapsec connect closes -> openssl s_server answers close_notify. (s_server closes
       // its socket before its close_notify when its own stdin ends: no clean close to test.)
        const auto port = free_port();
        Process server({"openssl", "s_server", "-accept", "127.0.0.1:" + std::to_string(port), "-cert",
                        f.cert.certificate, "-key", f.cert.key, "-tls1_3", "-naccept", "1"},
                       f.log("s_server"));
        REQUIRE_MESSAGE(server.wait_for_output("ACCEPT"), server.output());
        Process client(tapsec_connect(f, port), f.log("connect"));
        const auto ended = exchange_and_close(server, client, true, "s_server");
        CHECK_MESSAGE(ended.client == 0, client.output());
        CHECK(ended.took < prompt);
    }
    for (const bool tapsec_closes : {true, false}) {  // openssl s_client <-> tapsec listen
        CAPTURE(tapsec_closes);
        const auto port = free_port();
        Process server(tapsec_listen(f, port), f.log("listen"));
        REQUIRE_MESSAGE(server.wait_for_output("listening"), server.output());
        // Not -quiet: it implies -ign_eof, and the end of stdin is how s_client closes.
        Process client({"openssl", "s_client", "-connect", "127.0.0.1:" + std::to_string(port), "-tls1_3",
                        "-servername", "localhost", "-CAfile", f.pki.ca().certificate, "-verify_return_error"},
                       f.log("s_client"));
        const auto ended = exchange_and_close(server, client, !tapsec_closes, "s_client");
        CHECK_MESSAGE(ended.server == 0, server.output());
        CHECK_MESSAGE(ended.client == 0, client.output());
        CHECK(ended.took < prompt);
    }
}

TEST_CASE("tls13 clean close against GnuTLS: gnutls-serv and gnutls-cli, each side closing first") {
    Fixture f;
    REQUIRE_MESSAGE(have_program("gnutls-serv"), "gnutls-bin is not installed");
    NetworkNamespace ns("tapsec-close");  // gnutls-serv binds the wildcard address
    REQUIRE_MESSAGE(ns.ok(), "cannot create a network namespace (needs root)");
    const std::string priority = "NORMAL:-VERS-ALL:+VERS-TLS1.3";
    {  // tapsec connect -> gnutls-serv --echo; tapsec closes, gnutls-serv answers
        const auto port = free_port();
        Process server(ns.exec({"gnutls-serv", "--echo", "-p", std::to_string(port), "--x509certfile",
                                f.cert.certificate, "--x509keyfile", f.cert.key, "--priority", priority,
                                "--disable-client-cert"}),
                       f.log("gnutls-serv"));
        REQUIRE_MESSAGE(server.wait_for_output("listening"), server.output());
        Process client(ns.exec(tapsec_connect(f, port)), f.log("connect"));
        client.write_stdin("through gnutls-serv\n");
        CHECK_MESSAGE(client.wait_for_output("through gnutls-serv"), (client.output() + server.output()));
        const auto start = std::chrono::steady_clock::now();
        client.close_stdin();
        CHECK_MESSAGE(client.wait(std::chrono::seconds(10)) == 0, client.output());
        CHECK_MESSAGE(std::chrono::steady_clock::now() - start < prompt,
                      "tapsec waited out its linger: no close_notify came back from gnutls-serv");
        server.kill();
    }
    // gnutls-cli -> tapsec listen. When tapsec closes first, gnutls-cli exits on its
    // close_notify without answering; tapsec listen, whose data all went out, exits 0.
    for (const bool tapsec_closes : {true, false}) {
        CAPTURE(tapsec_closes);
        const auto port = free_port();
        auto listen = tapsec_listen(f, port);
        Process server(ns.exec(listen), f.log("listen"));
        REQUIRE_MESSAGE(server.wait_for_output("listening"), server.output());
        Process client(ns.exec({"gnutls-cli", "--x509cafile", f.pki.ca().certificate, "--port", std::to_string(port),
                                "127.0.0.1", "--priority", priority, "--verify-hostname", "localhost"}),
                       f.log("gnutls-cli"));
        const auto ended = exchange_and_close(server, client, !tapsec_closes, "gnutls-cli");
        CHECK_MESSAGE(ended.server == 0, server.output());
        CHECK_MESSAGE(ended.client == 0, client.output());
        CHECK(ended.took < prompt);
    }
}

}  // namespace tls13_clean_close_test
