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

namespace {

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
void store_ticket(Fixture& f, std::uint16_t port, const std::string& sess) {
    Process c(tapsec_connect(f, port, {"--sess-out", sess}), f.log("tapsec-ticket"));
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

}  // namespace

TEST_CASE("tls13 early data vs openssl s_server: accepted whole as 0-RTT") {
    Fixture f;
    const std::string marker = "edl-accepted-";
    write_file(f.file("early.txt"), numbered_lines(marker, 40));
    const auto port = free_port();
    Process server(s_server(f, port, {"-early_data", "-naccept", "2"}), f.log("s_server"));
    REQUIRE_MESSAGE((server.wait_for_output("ACCEPT")), (server.output()));
    store_ticket(f, port, f.file("t.sess"));
    send_early(f, server, port, {"--sess-in", f.file("t.sess"), "--early-data", f.file("early.txt")}, marker, 40,
               "tapsec: early data accepted");
    CHECK_MESSAGE((server.output().find("Early data received") != std::string::npos), (server.output()));
}

TEST_CASE("tls13 early data vs openssl s_server: larger than the ticket's max_early_data_size") {
    Fixture f;
    const std::string marker = "edl-partly-";
    write_file(f.file("early.txt"), numbered_lines(marker, 300));  // 19200 bytes; the ticket allows 4096
    const auto port = free_port();
    Process server(s_server(f, port, {"-early_data", "-max_early_data", "4096", "-naccept", "2"}), f.log("s_server"));
    REQUIRE_MESSAGE((server.wait_for_output("ACCEPT")), (server.output()));
    store_ticket(f, port, f.file("t.sess"));
    send_early(f, server, port, {"--sess-in", f.file("t.sess"), "--early-data", f.file("early.txt")}, marker, 300,
               "only its first part went as 0-RTT; the rest sent after the handshake");
    CHECK_MESSAGE((server.output().find("Early data received") != std::string::npos), (server.output()));
}

TEST_CASE("tls13 early data vs openssl s_server: refused (the server restarted, its ticket key is new)") {
    Fixture f;
    const std::string marker = "edl-refused-";
    write_file(f.file("early.txt"), numbered_lines(marker, 50));
    const auto port = free_port();
    {
        Process first(s_server(f, port, {"-early_data", "-naccept", "1"}), f.log("s_server-first"));
        REQUIRE_MESSAGE((first.wait_for_output("ACCEPT")), (first.output()));
        store_ticket(f, port, f.file("t.sess"));
        first.wait(std::chrono::seconds(5));
    }
    Process server(s_server(f, port, {"-early_data", "-naccept", "1"}), f.log("s_server"));
    REQUIRE_MESSAGE((server.wait_for_output("ACCEPT")), (server.output()));
    send_early(f, server, port, {"--sess-in", f.file("t.sess"), "--early-data", f.file("early.txt")}, marker, 50,
               "early data refused by the server; sent after the handshake");
}

TEST_CASE("tls13 early data vs openssl s_server: the ticket allows no early data") {
    Fixture f;
    const std::string marker = "edl-noticket-";
    write_file(f.file("early.txt"), numbered_lines(marker, 30));
    const auto port = free_port();
    Process server(s_server(f, port, {"-naccept", "2"}), f.log("s_server"));  // no -early_data
    REQUIRE_MESSAGE((server.wait_for_output("ACCEPT")), (server.output()));
    store_ticket(f, port, f.file("t.sess"));
    send_early(f, server, port, {"--sess-in", f.file("t.sess"), "--early-data", f.file("early.txt")}, marker, 30,
               "the session's ticket does not allow early data; sent after the handshake");
}

TEST_CASE("tls13 early data vs openssl s_server: no session at all") {
    Fixture f;
    const std::string marker = "edl-nosession-";
    write_file(f.file("early.txt"), numbered_lines(marker, 400));  // 25600 bytes: two records after
    const auto port = free_port();
    Process server(s_server(f, port, {"-early_data", "-naccept", "1"}), f.log("s_server"));
    REQUIRE_MESSAGE((server.wait_for_output("ACCEPT")), (server.output()));
    send_early(f, server, port, {"--early-data", f.file("early.txt")}, marker, 400,
               "no resumable session; sent after the handshake");
}

TEST_CASE("tls13 early data vs openssl s_server: a HelloRetryRequest drops 0-RTT (4.2.10)") {
    // s_server takes X25519 only; we lead with a P-256 share, so both connections retry.
    Fixture f;
    const std::string marker = "edl-retry-";
    write_file(f.file("early.txt"), numbered_lines(marker, 60));
    const auto port = free_port();
    Process server(s_server(f, port, {"-early_data", "-groups", "X25519", "-naccept", "2"}), f.log("s_server"));
    REQUIRE_MESSAGE((server.wait_for_output("ACCEPT")), (server.output()));
    {
        Process c(tapsec_connect(f, port, {"--groups", "P-256:X25519", "--sess-out", f.file("t.sess")}),
                  f.log("tapsec-ticket"));
        CHECK_MESSAGE((c.wait_for_output("session ticket stored")), (c.output()));
        c.close_stdin();
        CHECK(c.wait() == 0);
    }
    send_early(f, server, port,
               {"--groups", "P-256:X25519", "--sess-in", f.file("t.sess"), "--early-data", f.file("early.txt")}, marker,
               60, "the server sent a HelloRetryRequest; sent after the handshake");
}
