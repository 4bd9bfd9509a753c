// `tapsec listen|connect minimalt` on the shared pump (tools/cli/stdio.hpp): the server
// modes (--echo, --rev, --www) answer a client, and a clean close exits 0 on both sides
// whichever side's input ends first. Two processes on loopback UDP. And the concurrent
// listener (--echo --forever on datagram_server.hpp): three clients at once, each with its
// own echo, while junk and a forged tunnel request arrive; SIGTERM ends an open tunnel.
// With --threads 2: four clients roaming and rekeying at once keep their tunnels.
#include <doctest/doctest.h>

#include <csignal>

#include <tapsec/minimalt.hpp>

#include "support/process.hpp"

using namespace std::chrono_literals;

// Everything in this file's own namespace (the tests are built as one unity source).
namespace minimalt_cli_test {

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

TEST_CASE("tapsec listen minimalt --echo: three clients at once; junk and a forged request block none; SIGTERM closes an open tunnel") {
    tapsec::test::TempDir dir;
    Listener listener(dir, "--echo --forever", "/dev/null");
    REQUIRE_MESSAGE(!listener.key.empty(), listener.process->output());
    auto& server = *listener.process;
    REQUIRE_MESSAGE(server.wait_for_output("listening on"), server.output());

    // Junk, and a forged tunnel request (K flag, a random key, padded): the server spends a
    // key agreement on it, the box does not open, and it keeps nothing.
    const auto server_address = *tapsec::Endpoint::parse("127.0.0.1", static_cast<std::uint16_t>(std::stoi(listener.port)));
    auto stranger = tapsec::Udp::connect(server_address);
    REQUIRE(stranger);
    REQUIRE_FALSE(stranger->send_to(tapsec::as_bytes(std::string("junk")), server_address));
    tapsec::Bytes forged(300);
    tapsec::crypto::Botan2::random(tapsec::MutableByteView(forged));
    forged[0] = static_cast<std::uint8_t>((forged[0] & 0x3f) | 0x80);  // K set, P clear
    REQUIRE_FALSE(stranger->send_to(forged, server_address));

    constexpr int clients = 3;
    std::vector<std::unique_ptr<tapsec::test::Process>> open;
    auto args = listener.connect(dir);
    args.push_back("--verbose");
    for (int i = 0; i < clients; ++i) {
        open.push_back(std::make_unique<tapsec::test::Process>(args, dir.file("client" + std::to_string(i) + ".log")));
        REQUIRE_MESSAGE(open.back()->wait_for_output("tunnel established"), open.back()->output());
    }
    // All three tunnels are open before any data: each is answered on its own.
    for (int i = 0; i < clients; ++i) open[i]->write_stdin("line of client " + std::to_string(i) + "\n");
    for (int i = 0; i < clients; ++i) {
        CHECK_MESSAGE(open[i]->wait_for_output("line of client " + std::to_string(i) + "\n"), open[i]->output());
        for (int j = 0; j < clients; ++j)
            if (j != i) CHECK(open[i]->output().find("line of client " + std::to_string(j)) == std::string::npos);
    }
    // Clients 0 and 1 end their input: their close, then the tunnel's; both exit 0.
    for (int i = 0; i < 2; ++i) open[i]->close_stdin();
    for (int i = 0; i < 2; ++i) CHECK_MESSAGE(open[i]->wait(15s) == 0, open[i]->output());
    // SIGTERM with client 2's tunnel open: the server closes it (close_tunnel) and exits 0.
    ::kill(server.pid(), SIGTERM);
    CHECK_MESSAGE(server.wait(10s) == 0, server.output());
    CHECK_MESSAGE(open[2]->wait_for_output("tunnel closed by the peer"), open[2]->output());
    open[2]->close_stdin();
    open[2]->wait(10s);
    CHECK_MESSAGE(server.output().find("closing every connection") != std::string::npos, server.output());
    CHECK(tapsec::test::count_of(server.output(), "accepted: tunnel") == 3);
}

TEST_CASE("tapsec listen minimalt --echo: a client that moves and rekeys mid-transfer keeps its tunnel (routed by tunnel ID)") {
    tapsec::test::TempDir dir;
    Listener listener(dir, "--echo", "/dev/null");
    REQUIRE_MESSAGE(!listener.key.empty(), listener.process->output());
    std::string data;
    for (int i = 0; i < 300; ++i) data += "roaming line " + std::to_string(i) + "\n";
    tapsec::test::write_file(dir.file("up"), data);
    std::string command = "exec";
    for (const auto& word : listener.connect(dir)) command += " " + word;
    command += " --roam-after 1000 --verbose < " + dir.file("up") + " > " + dir.file("client.out");
    tapsec::test::Process client({"sh", "-c", command}, dir.file("client.log"));
    CHECK_MESSAGE(client.wait(20s) == 0, client.output());
    CHECK_MESSAGE(listener.process->wait(15s) == 0, listener.process->output());
    CHECK(client.output().find("moved from port") != std::string::npos);
    CHECK(tapsec::test::read_file(dir.file("client.out")) == data);
}

TEST_CASE("tapsec listen minimalt --echo --threads 2: four clients that move and rekey at once keep their tunnels; exit 0") {
    tapsec::test::TempDir dir;
    Listener listener(dir, "--echo --threads 2 --naccept 4", "/dev/null");
    REQUIRE_MESSAGE(!listener.key.empty(), listener.process->output());
    constexpr int clients = 4;
    std::vector<std::unique_ptr<tapsec::test::Process>> running;
    std::vector<std::string> data(clients);
    for (int c = 0; c < clients; ++c) {
        for (int i = 0; i < 100; ++i) data[c] += "client " + std::to_string(c) + " roaming line " + std::to_string(i) + "\n";
        tapsec::test::write_file(dir.file("up" + std::to_string(c)), data[c]);
        std::string command = "exec";
        for (const auto& word : listener.connect(dir)) command += " " + word;
        command += " --roam-after 1000 --verbose < " + dir.file("up" + std::to_string(c)) + " > " +
                   dir.file("client" + std::to_string(c) + ".out");
        running.push_back(std::make_unique<tapsec::test::Process>(std::vector<std::string>{"sh", "-c", command},
                                                                  dir.file("client" + std::to_string(c) + ".log")));
    }
    for (int c = 0; c < clients; ++c) {
        CHECK_MESSAGE(running[c]->wait(20s) == 0, running[c]->output());
        CHECK(running[c]->output().find("moved from port") != std::string::npos);
        CHECK(tapsec::test::read_file(dir.file("client" + std::to_string(c) + ".out")) == data[c]);
    }
    CHECK_MESSAGE(listener.process->wait(15s) == 0, listener.process->output());
    CHECK(tapsec::test::count_of(listener.process->output(), "accepted: tunnel") == clients);
    CHECK(listener.process->output().find("peers per thread:") != std::string::npos);
}

}  // namespace minimalt_cli_test
