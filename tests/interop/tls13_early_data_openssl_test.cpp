// `tapsec connect tls13 --early-data FILE` against `openssl s_server` (plain mode: it
// prints what it receives, 0-RTT and 1-RTT): on every path the whole FILE reaches the
// server, once, and the client says which path it took (issue 9 item 8). Paths: accepted
// as 0-RTT, larger than the ticket's max_early_data_size (a prefix as 0-RTT, the rest
// after the handshake), refused by the server (its ticket key changed: a restart), not
// offered because the ticket allows no early data, not offered because there is no
// session. FILE is made of 64-byte lines so each path's count of lines is exact.
#include <doctest/doctest.h>

#include <csignal>
#include <cstdio>

#include "support/command_fixture.hpp"
#include "support/process.hpp"

using namespace tapsec::test;

namespace tls13_early_data_openssl_test {

const std::string tapsec_tool = TAPSEC_TOOL_PATH;

struct Fixture : CommandPki {
    Fixture() : CommandPki("p256") {
        REQUIRE_MESSAGE((have_program("openssl")), ("openssl is not installed (Debian package openssl)"));
    }
};

std::vector<std::string> s_server(Fixture& f, std::uint16_t port, std::vector<std::string> extra) {
    std::vector<std::string> argv{"openssl", "s_server", "-accept", "127.0.0.1:" + std::to_string(port), "-cert",
                                  f.cert.certificate, "-key", f.cert.key, "-tls1_3"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return argv;
}

std::vector<std::string> tapsec_connect(Fixture& f, std::uint16_t port, std::vector<std::string> extra) {
    std::vector<std::string> argv{tapsec_tool, "connect", "tls13", "localhost:" + std::to_string(port), "--CAfile",
                                  f.pki.ca().certificate};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return argv;
}

/// A first connection to `port` that stores the server's ticket in `sess`.
void store_ticket(Fixture& f, std::uint16_t port, const std::string& sess, std::vector<std::string> extra) {
    extra.insert(extra.end(), {"--sess-out", sess});
    Process c(tapsec_connect(f, port, extra), f.log("tapsec-ticket"));
    CHECK_MESSAGE((c.wait_for_output("session ticket stored")), (c.output()));
    c.close_stdin();
    CHECK(c.wait() == 0);
}

/// The early-data connection: waits until the server printed every line of the file,
/// then ends it (stdin EOF) and checks a clean exit and the client's line about the path.
void send_early(Fixture& f, Process& server, std::uint16_t port, std::vector<std::string> extra,
                const std::string& marker, int lines, const std::string& expected_line) {
    Process c(tapsec_connect(f, port, extra), f.log("tapsec-early"));
    const bool all = server.wait_for_count(marker, static_cast<std::size_t>(lines));
    c.close_stdin();
    const int code = c.wait();
    CHECK_MESSAGE((all), ("server:\n" + server.output() + "\n--- client:\n" + c.output()));
    CHECK_MESSAGE((count_of(server.output(), marker) == static_cast<std::size_t>(lines)), (server.output()));
    CHECK_MESSAGE((code == 0), (c.output()));
    CHECK_MESSAGE((c.output().find(expected_line) != std::string::npos), (c.output()));
}

/// One early-data path: how the server runs, whether a ticket is stored first (and
/// whether the server restarts in between, so its ticket key is new), what the client
/// sends and the line it must print about the path it took. On every path the server
/// prints every line of the file exactly once.
struct EarlyDataPath {
    const char* name;
    int lines;                              // 64-byte lines in the early-data file
    std::vector<std::string> server;        // s_server options beside -early_data etc.
    enum Session { none, stored, stored_before_restart } session;
    std::vector<std::string> client;        // tapsec connect options beside --sess-in/--early-data
    const char* expected_line;
    bool server_says_early_data_received;
};

const EarlyDataPath early_data_paths[] = {
    {"accepted whole as 0-RTT", 40, {"-early_data"}, EarlyDataPath::stored, {}, "tapsec: early data accepted", true},
    // 19200 bytes; the ticket allows 4096: a prefix as 0-RTT, the rest after the handshake
    {"larger than the ticket's max_early_data_size", 300, {"-early_data", "-max_early_data", "4096"},
     EarlyDataPath::stored, {}, "only its first part went as 0-RTT; the rest sent after the handshake", true},
    {"refused (the server restarted, its ticket key is new)", 50, {"-early_data"},
     EarlyDataPath::stored_before_restart, {}, "early data refused by the server; sent after the handshake", false},
    {"the ticket allows no early data", 30, {}, EarlyDataPath::stored, {},
     "the session's ticket does not allow early data; sent after the handshake", false},
    // 25600 bytes: two records after the handshake
    {"no session at all", 400, {"-early_data"}, EarlyDataPath::none, {},
     "no resumable session; sent after the handshake", false},
    // s_server takes X25519 only; we lead with a P-256 share, so both connections retry (4.2.10)
    {"a HelloRetryRequest drops 0-RTT", 60, {"-early_data", "-groups", "X25519"}, EarlyDataPath::stored,
     {"--groups", "P-256:X25519"}, "the server sent a HelloRetryRequest; sent after the handshake", false},
};


TEST_CASE("tls13 early data vs openssl s_server: every path delivers the whole file once") {
    for (const auto& path : early_data_paths) {
        CAPTURE(path.name);
        Fixture f;
        const std::string marker = "edl-" + std::to_string(&path - early_data_paths) + "-";
        write_file(f.file("early.txt"), numbered_lines(marker, path.lines));
        const auto port = free_port();
        std::vector<std::string> client = path.client;
        const std::string sess = f.file("t.sess");
        if (path.session == EarlyDataPath::stored_before_restart) {
            auto options = path.server;
            options.insert(options.end(), {"-naccept", "1"});
            Process first(s_server(f, port, options), f.log("s_server-first"));
            REQUIRE_MESSAGE((first.wait_for_output("ACCEPT")), (first.output()));
            store_ticket(f, port, sess, client);
            first.wait(std::chrono::seconds(5));
        }
        auto options = path.server;
        options.insert(options.end(), {"-naccept", path.session == EarlyDataPath::stored ? "2" : "1"});
        Process server(s_server(f, port, options), f.log("s_server"));
        REQUIRE_MESSAGE((server.wait_for_output("ACCEPT")), (server.output()));
        if (path.session == EarlyDataPath::stored) store_ticket(f, port, sess, client);
        if (path.session != EarlyDataPath::none) client.insert(client.end(), {"--sess-in", sess});
        client.insert(client.end(), {"--early-data", f.file("early.txt")});
        send_early(f, server, port, client, marker, path.lines, path.expected_line);
        CHECK_MESSAGE((server.output().find("Early data received") != std::string::npos) ==
                          path.server_says_early_data_received,
                      (server.output()));
    }
}

}  // namespace tls13_early_data_openssl_test
