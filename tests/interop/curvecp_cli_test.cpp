// `tapsec listen curvecp` and `tapsec connect curvecp` as two processes on loopback,
// keys written by tapsec itself in curvecpmakekey's layout: 1 MB each way at once,
// SHA-256 compared, exit 0 on both sides once both streams ended. The server modes
// (--echo, --rev, --www) on the shared pump, and the server's stream ending first. Then
// the usage errors a stranger meets first are one line each.
#include <doctest/doctest.h>

#include <tapsec/curvecp.hpp>

#include "support/process.hpp"

using namespace tapsec::test;
using namespace std::chrono_literals;

namespace {

const std::string tapsec_tool = TAPSEC_TOOL_PATH;

/// A listener with a fresh key directory, its stdin from `server_stdin`.
struct Listener {
    std::string port = std::to_string(free_port(SOCK_DGRAM));
    std::unique_ptr<Process> process;
    TempDir& dir;

    Listener(TempDir& d, const std::string& listen_args, const std::string& server_stdin) : dir(d) {
        auto key = tapsec::curvecp::generate_key_pair([](tapsec::MutableByteView out) { tapsec::crypto::Botan2::random(out); });
        REQUIRE_FALSE(tapsec::curvecp::write_key_directory(dir.file("server"), key));
        process = std::make_unique<Process>(
            std::vector<std::string>{"sh", "-c",
                                     "exec " + tapsec_tool + " listen curvecp 127.0.0.1:" + port + " --key-dir " +
                                         dir.file("server") + " " + listen_args + " < " + server_stdin + " > " +
                                         dir.file("server.out")},
            dir.file("server.log"));
        REQUIRE_MESSAGE(process->wait_for_output("listening on"), process->output());
    }
    std::vector<std::string> connect() const {
        return {tapsec_tool, "connect", "curvecp", "127.0.0.1:" + port, "--server-key-dir", dir.file("server")};
    }
};

std::string random_bytes(std::size_t n, std::uint8_t seed) {
    std::string s(n, '\0');
    for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>((i * 131 + seed) ^ (i >> 9));
    return s;
}

}  // namespace

TEST_CASE("tapsec curvecp: listen and connect move 1 MB each way and exit 0") {
    TempDir tmp;
    auto key = tapsec::curvecp::generate_key_pair([](tapsec::MutableByteView out) { tapsec::crypto::Botan2::random(out); });
    REQUIRE_FALSE(tapsec::curvecp::write_key_directory(tmp.file("server"), key));
    REQUIRE(tapsec::curvecp::load_key_directory(tmp.file("server")));
    const auto up = random_bytes(1'000'000, 1), down = random_bytes(1'000'000, 2);
    write_file(tmp.file("up"), up);
    write_file(tmp.file("down"), down);
    const auto port = std::to_string(free_port(SOCK_DGRAM));
    Process listener({"sh", "-c",
                      "exec " + tapsec_tool + " listen curvecp 127.0.0.1:" + port + " --key-dir " + tmp.file("server") +
                          " --name test.example < " + tmp.file("down") + " > " + tmp.file("listener.out")},
                     tmp.file("listener.log"));
    REQUIRE_MESSAGE(listener.wait_for_output("listening on"), listener.output());
    Process client({"sh", "-c",
                    "exec " + tapsec_tool + " connect curvecp 127.0.0.1:" + port + " --server-key-dir " +
                        tmp.file("server") + " --name test.example < " + tmp.file("up") + " > " + tmp.file("client.out")},
                   tmp.file("client.log"));
    CHECK_MESSAGE(client.wait(std::chrono::seconds(60)) == 0, client.output());
    CHECK_MESSAGE(listener.wait(std::chrono::seconds(20)) == 0, listener.output());
    CHECK(read_file(tmp.file("listener.out")) == up);
    CHECK(read_file(tmp.file("client.out")) == down);
}

TEST_CASE("tapsec curvecp: listen --echo and --rev answer the client; both exit 0") {
    struct Mode {
        std::string option, sent, expected;
    };
    const Mode modes[] = {
        {"--echo", "one\ntwo\nthree\n", "one\ntwo\nthree\n"},
        {"--rev", "hello\r\nworld\n", "olleh\ndlrow\n"},
    };
    for (const auto& mode : modes) {
        CAPTURE(mode.option);
        TempDir tmp;
        Listener listener(tmp, mode.option, "/dev/null");
        Process client(listener.connect(), tmp.file("client.log"));
        client.write_stdin(mode.sent);
        CHECK_MESSAGE(client.wait_for_output(mode.expected), client.output());
        client.close_stdin();  // our stream ends; the answering server then ends its own
        CHECK_MESSAGE(client.wait(20s) == 0, client.output());
        CHECK_MESSAGE(listener.process->wait(20s) == 0, listener.process->output());
        CHECK(client.output() == mode.expected);  // nothing else on stdout or stderr
    }
}

TEST_CASE("tapsec curvecp: listen --www answers a GET with the status page and closes") {
    TempDir tmp;
    Listener listener(tmp, "--www", "/dev/null");
    Process client(listener.connect(), tmp.file("client.log"));
    client.write_stdin("GET / HTTP/1.0\r\n\r\n");
    CHECK_MESSAGE(client.wait_for_output("Protocol: CurveCP"), client.output());
    client.close_stdin();
    CHECK_MESSAGE(client.wait(20s) == 0, client.output());
    CHECK_MESSAGE(listener.process->wait(20s) == 0, listener.process->output());
    CHECK(client.output().rfind("HTTP/1.0 200 OK\r\n", 0) == 0);
}

TEST_CASE("tapsec curvecp: the server's stream ends first; the client's still arrives, both exit 0") {
    TempDir tmp;
    write_file(tmp.file("server.in"), "from the server\n");
    Listener listener(tmp, "", tmp.file("server.in"));
    Process client(listener.connect(), tmp.file("client.log"));
    CHECK_MESSAGE(client.wait_for_output("from the server\n"), client.output());
    client.write_stdin("from the client\n");
    client.close_stdin();
    CHECK_MESSAGE(client.wait(20s) == 0, client.output());
    CHECK_MESSAGE(listener.process->wait(20s) == 0, listener.process->output());
    CHECK(read_file(tmp.file("server.out")) == "from the client\n");
    CHECK(client.output() == "from the server\n");
}

TEST_CASE("tapsec curvecp: usage errors are one line and exit 1") {
    TempDir tmp;
    struct Usage {
        std::vector<std::string> args;
        std::string says;
    };
    const Usage cases[] = {
        {{"connect", "curvecp", "127.0.0.1:9"}, "needs the server's key"},
        {{"connect", "curvecp", "127.0.0.1:9", "--server-key", "00"}, "64 hex digits"},
        {{"connect", "curvecp", "127.0.0.1:9", "--server-key", std::string(64, 'a'), "--extension", "12"}, "32 hex digits"},
        {{"listen", "curvecp", "9"}, "needs the server's key directory"},
        {{"listen", "curvecp", "9", "--key-dir", tmp.file("missing")}, "cannot read a key directory"},
        {{"connect", "curvecp", "127.0.0.1:9", "--bogus"}, "unknown option --bogus"},
    };
    for (const auto& u : cases) {
        std::vector<std::string> argv{tapsec_tool};
        argv.insert(argv.end(), u.args.begin(), u.args.end());
        Process p(argv, tmp.file("usage.log"));
        CHECK(p.wait(std::chrono::seconds(10)) == 2);  // command-line mistakes: exit status 2
        const auto out = p.output();
        CHECK_MESSAGE(out.find(u.says) != std::string::npos, out);
        CHECK(count_of(out, "\n") == 1);
    }
}
