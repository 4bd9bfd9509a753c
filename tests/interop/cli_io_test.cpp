// The `tapsec` stream commands' I/O (tools/cli/stdio.hpp, server_modes.hpp): no deadlock
// when the peer answers every line with its own record (20 MB through `openssl s_server
// -rev`), every byte back; connect/close cycles between two tapsec processes, both
// exiting 0; the server modes --echo, --rev and --www; the stdin-EOF rule (the peer's
// data still arrives after stdin ends, also on TLS 1.2); and the listener's per-connection
// handshake timeout.
#include <doctest/doctest.h>

#include <algorithm>
#include <csignal>
#include <thread>

#include "support/command_fixture.hpp"
#include "support/process.hpp"

using namespace tapsec::test;

namespace cli_io_test {

const std::string tapsec_tool = TAPSEC_TOOL_PATH;

struct Fixture : CommandPki {
    std::vector<std::string> listen(const std::string& protocol, std::uint16_t port, std::vector<std::string> extra = {}) {
        std::vector<std::string> argv = {tapsec_tool, "listen", protocol, "127.0.0.1:" + std::to_string(port),
                                         "--cert", cert.certificate, "--key", cert.key};
        argv.insert(argv.end(), extra.begin(), extra.end());
        return argv;
    }
    std::vector<std::string> connect(const std::string& protocol, std::uint16_t port) {
        return {tapsec_tool, "connect", protocol, "127.0.0.1:" + std::to_string(port), "--servername", "localhost",
                "--CAfile", pki.ca().certificate, "--quiet"};
    }
};

std::string shell_quote(const std::string& s) {
    std::string out = "'";
    for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return out + "'";
}

/// `argv < in > out` through sh, so the test never writes a pipe the child may not read.
std::vector<std::string> redirected(const std::vector<std::string>& argv, const std::string& in, const std::string& out) {
    std::string command = "exec";
    for (const auto& a : argv) command += " " + shell_quote(a);
    return {"sh", "-c", command + " < " + shell_quote(in) + " > " + shell_quote(out)};
}

/// About `size` bytes of lines of 1..200 printable characters, reproducibly.
std::string make_lines(std::size_t size) {
    std::string text;
    text.reserve(size + 256);
    std::uint64_t state = 0x9e3779b97f4a7c15u;
    auto next = [&] {
        state ^= state << 13, state ^= state >> 7, state ^= state << 17;
        return state;
    };
    while (text.size() < size) {
        const auto length = 1 + next() % 200;
        for (std::uint64_t i = 0; i < length; ++i) text += static_cast<char>('!' + next() % 94);
        text += '\n';
    }
    return text;
}

/// Each line reversed, as s_server -rev and tapsec --rev answer.
std::string reversed_lines(const std::string& text) {
    std::string out;
    out.reserve(text.size());
    std::size_t start = 0;
    for (auto end = text.find('\n'); end != std::string::npos; start = end + 1, end = text.find('\n', start)) {
        out.append(text.rbegin() + static_cast<std::ptrdiff_t>(text.size() - end),
                   text.rbegin() + static_cast<std::ptrdiff_t>(text.size() - start));
        out += '\n';
    }
    return out;
}

/// Where two large strings first differ (for a readable failure).
std::string first_difference(const std::string& a, const std::string& b) {
    const auto mismatch = std::mismatch(a.begin(), a.end(), b.begin(), b.end());
    const auto at = static_cast<std::size_t>(mismatch.first - a.begin());
    return "sizes " + std::to_string(a.size()) + " and " + std::to_string(b.size()) + ", first difference at byte " +
           std::to_string(at);
}


TEST_CASE("cli io: 20 MB through openssl s_server -rev, one record back per line, every byte back (tls13, tls12)") {
    Fixture f;
    REQUIRE_MESSAGE(have_program("openssl"), "openssl is not installed");
    const std::string input = make_lines(20 * 1024 * 1024);
    const std::string in_path = f.numbered("input");
    write_file(in_path, input);
    const std::string expected = reversed_lines(input);
    for (const std::string protocol : {"tls13", "tls12"}) {
        CAPTURE(protocol);
        const auto port = free_port();
        Process server({"openssl", "s_server", "-accept", "127.0.0.1:" + std::to_string(port), "-cert", f.cert.certificate,
                        "-key", f.cert.key, protocol == "tls13" ? "-tls1_3" : "-tls1_2", "-groups", "X25519:P-256",
                        "-naccept", "1", "-rev"},
                       f.numbered("s_server"));
        REQUIRE_MESSAGE(server.wait_for_output("ACCEPT"), server.output());
        const std::string out_path = f.numbered("output");
        const auto start = std::chrono::steady_clock::now();
        Process client(redirected(f.connect(protocol, port), in_path, out_path), f.numbered("connect"));
        // Before the readiness-driven loop both sides blocked in send after about 34 KB.
        const int status = client.wait(std::chrono::seconds(90));
        const auto took = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        MESSAGE(protocol << ": " << input.size() << " bytes through s_server -rev and back in " << took << " s");
        CHECK_MESSAGE(status == 0, client.output());
        const std::string output = read_file(out_path);
        CHECK_MESSAGE(output == expected, first_difference(output, expected));
    }
}

TEST_CASE("cli io: tapsec connect <-> tapsec listen --echo, 100 connect/send/close cycles, both exit 0") {
    Fixture f;
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < 100; ++i) {
        CAPTURE(i);
        const auto port = free_port();
        Process server(f.listen("tls13", port, {"--echo"}), f.numbered("listen"));
        REQUIRE_MESSAGE(server.wait_for_output("listening"), server.output());
        Process client(f.connect("tls13", port), f.numbered("connect"));
        const std::string line = "cycle " + std::to_string(i) + "\n";
        // The line and the end of stdin (our close_notify) may reach the server in one
        // read: the echo must still come back before the close is answered.
        client.write_stdin(line);
        client.close_stdin();
        const int client_status = client.wait(std::chrono::seconds(10));
        const int server_status = server.wait(std::chrono::seconds(10));
        REQUIRE_MESSAGE(client_status == 0, client.output());
        REQUIRE_MESSAGE(server_status == 0, server.output());
        REQUIRE_MESSAGE(client.output() == line, client.output());
    }
    const auto took = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    MESSAGE("100 tapsec <-> tapsec cycles (two process starts, handshake, echo, close each) in " << took << " s");
    CHECK(took < 60);  // no cycle waits out the 2 s linger (that alone would be 200 s)
}

TEST_CASE("cli io: server modes --rev and --www (tls13, tls12)") {
    Fixture f;
    REQUIRE_MESSAGE(have_program("openssl"), "openssl is not installed");
    for (const std::string protocol : {"tls13", "tls12"}) {
        CAPTURE(protocol);
        {  // --rev: each line reversed, "\r\n" answered as "\n"
            const auto port = free_port();
            Process server(f.listen(protocol, port, {"--rev"}), f.numbered("listen"));
            REQUIRE_MESSAGE(server.wait_for_output("listening"), server.output());
            Process client(f.connect(protocol, port), f.numbered("connect"));
            client.write_stdin("abc\nhello world\r\n\nx\n");
            CHECK_MESSAGE(client.wait_for_output("cba\ndlrow olleh\n\nx\n"), client.output());
            client.close_stdin();
            CHECK_MESSAGE(client.wait() == 0, client.output());
            CHECK_MESSAGE(server.wait() == 0, server.output());
        }
        {  // --www against openssl s_client: a status page, then the server closes
            const auto port = free_port();
            Process server(f.listen(protocol, port, {"--www", "--alpn", "http/1.1"}), f.numbered("listen"));
            REQUIRE_MESSAGE(server.wait_for_output("listening"), server.output());
            Process client({"openssl", "s_client", "-connect", "127.0.0.1:" + std::to_string(port), "-servername",
                            "localhost", "-CAfile", f.pki.ca().certificate, "-alpn", "http/1.1", "-quiet"},
                           f.numbered("s_client"));
            client.write_stdin("GET / HTTP/1.0\r\nHost: localhost\r\n\r\n");
            // -quiet reads until the server closes: --www must close by itself.
            CHECK_MESSAGE(client.wait(std::chrono::seconds(10)) == 0, client.output());
            const auto page = client.output();
            CHECK_MESSAGE(page.find("HTTP/1.0 200 OK") != std::string::npos, page);
            CHECK_MESSAGE(page.find(protocol == "tls13" ? "Protocol: TLS 1.3" : "Protocol: TLS 1.2") != std::string::npos, page);
            CHECK_MESSAGE(page.find("ALPN: http/1.1") != std::string::npos, page);
            CHECK_MESSAGE(page.find("Resumed: no") != std::string::npos, page);
            CHECK_MESSAGE(server.wait() == 0, server.output());
        }
        {  // --www: anything but GET is refused with a status line, not a hang
            const auto port = free_port();
            Process server(f.listen(protocol, port, {"--www"}), f.numbered("listen"));
            REQUIRE_MESSAGE(server.wait_for_output("listening"), server.output());
            Process client(f.connect(protocol, port), f.numbered("connect"));
            client.write_stdin("POST / HTTP/1.0\r\n\r\n");
            CHECK_MESSAGE(client.wait_for_output("HTTP/1.0 501"), client.output());
            client.close_stdin();
            CHECK_MESSAGE(client.wait() == 0, client.output());
            CHECK_MESSAGE(server.wait() == 0, server.output());
        }
    }
}

TEST_CASE("cli io: stdin ending at once still prints the peer's answer and exits 0 (tls13, tls12 against s_server -www)") {
    Fixture f;
    REQUIRE_MESSAGE(have_program("openssl"), "openssl is not installed");
    const std::string request_path = f.numbered("request");
    write_file(request_path, "GET / HTTP/1.0\r\n\r\n");
    for (const std::string protocol : {"tls13", "tls12"}) {
        CAPTURE(protocol);
        const auto port = free_port();
        Process server({"openssl", "s_server", "-accept", "127.0.0.1:" + std::to_string(port), "-cert", f.cert.certificate,
                        "-key", f.cert.key, protocol == "tls13" ? "-tls1_3" : "-tls1_2", "-groups", "X25519:P-256",
                        "-naccept", "1", "-www"},
                       f.numbered("s_server"));
        REQUIRE_MESSAGE(server.wait_for_output("ACCEPT"), server.output());
        const std::string out_path = f.numbered("page");
        Process client(redirected(f.connect(protocol, port), request_path, out_path), f.numbered("connect"));
        CHECK_MESSAGE(client.wait(std::chrono::seconds(10)) == 0, client.output());
        const std::string page = read_file(out_path);
        CHECK_MESSAGE(page.find("HTTP/1.0 200 ok") != std::string::npos, (page + client.output()));
        CHECK_MESSAGE(page.find("</HTML>") != std::string::npos, page);  // the whole page, to the end
    }
}

TEST_CASE("cli io: an idle client cannot hold the listener (--timeout; --echo serves the others meanwhile)") {
    Fixture f;
    for (const std::string protocol : {"tls13", "tls12"}) {
        CAPTURE(protocol);
        const auto port = free_port();
        Process server(f.listen(protocol, port, {"--echo", "--timeout", "1", "--naccept", "2"}), f.numbered("listen"));
        REQUIRE_MESSAGE(server.wait_for_output("listening"), server.output());
        // A TCP connection that never says anything.
        const int idle = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in address{};
        address.sin_family = AF_INET;
        address.sin_port = htons(port);
        address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        REQUIRE(::connect(idle, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
        const auto start = std::chrono::steady_clock::now();
        Process client(f.connect(protocol, port), f.numbered("connect"));
        client.write_stdin("after the idle one\n");
        CHECK_MESSAGE(client.wait_for_output("after the idle one", std::chrono::seconds(8)), (client.output() + server.output()));
        const auto waited = std::chrono::steady_clock::now() - start;
        // --echo runs the concurrent server: the client is served beside the idle one,
        // which is cut at its timeout.
        CHECK(waited < std::chrono::milliseconds(900));
        CHECK_MESSAGE(server.wait_for_output("timed out"), server.output());
        client.close_stdin();
        CHECK_MESSAGE(client.wait() == 0, client.output());
        server.wait();
        ::close(idle);
    }
}

TEST_CASE("cli io: tapsec listen --rev answers 5 MB from tapsec connect, every line (tls13, tcpcrypt)") {
    Fixture f;
    const std::string input = make_lines(5 * 1024 * 1024);
    const std::string in_path = f.numbered("input");
    write_file(in_path, input);
    const std::string expected = reversed_lines(input);
    for (const std::string protocol : {"tls13", "tcpcrypt"}) {
        CAPTURE(protocol);
        const auto port = free_port();
        auto listen = protocol == "tls13" ? f.listen(protocol, port, {"--rev"})
                                          : std::vector<std::string>{tapsec_tool, "listen", "tcpcrypt",
                                                                     "127.0.0.1:" + std::to_string(port), "--rev"};
        Process server(listen, f.numbered("listen"));
        REQUIRE_MESSAGE(server.wait_for_output("listening"), server.output());
        auto connect = protocol == "tls13" ? f.connect(protocol, port)
                                           : std::vector<std::string>{tapsec_tool, "connect", "tcpcrypt",
                                                                      "127.0.0.1:" + std::to_string(port)};
        const std::string out_path = f.numbered("output");
        Process client(redirected(connect, in_path, out_path), f.numbered("connect"));
        CHECK_MESSAGE(client.wait(std::chrono::seconds(60)) == 0, client.output());
        CHECK_MESSAGE(server.wait(std::chrono::seconds(10)) == 0, server.output());
        const std::string output = read_file(out_path);
        CHECK_MESSAGE(output == expected, first_difference(output, expected));
    }
}

}  // namespace cli_io_test
