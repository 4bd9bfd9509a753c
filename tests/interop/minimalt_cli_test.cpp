// `tapsec listen|connect minimalt` on the shared pump (tools/cli/stdio.hpp): the server
// modes (--echo, --rev, --www) answer a client, and a clean close exits 0 on both sides
// whichever side's input ends first. Two processes on loopback UDP.
#include <doctest/doctest.h>

#include "support/process.hpp"

using namespace std::chrono_literals;

namespace {

const std::string tapsec_tool = TAPSEC_TOOL_PATH;

/// A listener started with `listen_args`, its stdin from `server_stdin`; returns the
/// --server-key it prints (empty when it did not start).
struct Listener {
    std::string port = std::to_string(tapsec::test::free_port(SOCK_DGRAM));
    std::string key;
    std::unique_ptr<tapsec::test::Process> process;

    Listener(tapsec::test::TempDir& dir, const std::string& listen_args, const std::string& server_stdin) {
        process = std::make_unique<tapsec::test::Process>(
            std::vector<std::string>{"sh", "-c",
                                     "exec " + tapsec_tool + " listen minimalt 127.0.0.1:" + port + " --directory " +
                                         dir.file("dir.hex") + " " + listen_args + " < " + server_stdin + " > " +
                                         dir.file("server.out")},
            dir.file("server.log"));
        if (!process->wait_for_output("connect with")) return;
        const std::string log = process->output();
        const auto at = log.find("--server-key ");
        if (at != std::string::npos) key = log.substr(at + 13, 64);
    }
    std::vector<std::string> connect(tapsec::test::TempDir& dir) const {
        return {tapsec_tool, "connect", "minimalt", "127.0.0.1:" + port, "--directory", dir.file("dir.hex"), "--server-key", key};
    }
};

}  // namespace

TEST_CASE("tapsec minimalt: listen --echo and --rev answer the client; both exit 0") {
    struct Mode {
        std::string option, sent, expected;
    };
    const Mode modes[] = {
        {"--echo", "one\ntwo\nthree\n", "one\ntwo\nthree\n"},
        {"--rev", "hello\r\nworld\n", "olleh\ndlrow\n"},
    };
    for (const auto& mode : modes) {
        CAPTURE(mode.option);
        tapsec::test::TempDir dir;
        Listener listener(dir, mode.option, "/dev/null");
        REQUIRE_MESSAGE(!listener.key.empty(), listener.process->output());
        tapsec::test::Process client(listener.connect(dir), dir.file("client.log"));
        client.write_stdin(mode.sent);
        CHECK_MESSAGE(client.wait_for_output(mode.expected), client.output());
        client.close_stdin();  // the client's input ends first: its close, then the tunnel's
        CHECK_MESSAGE(client.wait(15s) == 0, client.output());
        CHECK_MESSAGE(listener.process->wait(15s) == 0, listener.process->output());
        CHECK(client.output() == mode.expected);  // nothing else on stdout or stderr
    }
}

TEST_CASE("tapsec minimalt: listen --www answers a GET with the status page and closes") {
    tapsec::test::TempDir dir;
    Listener listener(dir, "--www", "/dev/null");
    REQUIRE_MESSAGE(!listener.key.empty(), listener.process->output());
    tapsec::test::Process client(listener.connect(dir), dir.file("client.log"));
    client.write_stdin("GET / HTTP/1.0\r\n\r\n");
    CHECK_MESSAGE(client.wait_for_output("Protocol: MinimaLT"), client.output());
    client.close_stdin();
    CHECK_MESSAGE(client.wait(15s) == 0, client.output());
    CHECK_MESSAGE(listener.process->wait(15s) == 0, listener.process->output());
    CHECK(client.output().rfind("HTTP/1.0 200 OK\r\n", 0) == 0);
}

TEST_CASE("tapsec minimalt: the server's input ends first; the client's data still arrives, both exit 0") {
    tapsec::test::TempDir dir;
    tapsec::test::write_file(dir.file("server.in"), "from the server\n");
    Listener listener(dir, "", dir.file("server.in"));
    REQUIRE_MESSAGE(!listener.key.empty(), listener.process->output());
    tapsec::test::Process client(listener.connect(dir), dir.file("client.log"));
    // The server's whole input arrives (and its close) while ours is still open.
    CHECK_MESSAGE(client.wait_for_output("from the server\n"), client.output());
    client.write_stdin("from the client\n");
    client.close_stdin();
    CHECK_MESSAGE(client.wait(15s) == 0, client.output());
    CHECK_MESSAGE(listener.process->wait(15s) == 0, listener.process->output());
    CHECK(tapsec::test::read_file(dir.file("server.out")) == "from the client\n");
    CHECK(client.output() == "from the server\n");
}
