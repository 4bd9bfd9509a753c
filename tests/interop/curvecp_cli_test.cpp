// `tapsec listen curvecp` and `tapsec connect curvecp` as two processes on loopback,
// keys written by tapsec itself in curvecpmakekey's layout: 1 MB each way at once,
// SHA-256 compared, exit 0 on both sides once both streams ended. The server modes
// (--echo, --rev, --www) on the shared pump, and the server's stream ending first. Then
// the usage errors a stranger meets first are one line each. And the concurrent listener
// (--echo --forever on datagram_server.hpp): three clients at once, each with its own echo,
// while a peer that got a Cookie stays silent; SIGTERM ends every client's stream. With
// --threads 2: clients that change their source port mid-stream keep their peer (handed
// between the threads' sockets).
#include <doctest/doctest.h>

#include <csignal>
#include <thread>

#include <tapsec/curvecp.hpp>

#include "support/process.hpp"

using namespace tapsec::test;
using namespace std::chrono_literals;

// Everything in this file's own namespace (the tests are built as one unity source).
namespace curvecp_cli_test {

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

using Client = tapsec::Secure<tapsec::CurveCpHandshake, tapsec::CurveCpRecord, tapsec::Udp>;

/// An established in-process client of the listener on `port` with server key `server`.
tapsec::Result<Client> connect_client(const std::string& port, const tapsec::curvecp::PublicKey& server) {
    tapsec::curvecp::Config config;
    config.server_public_key = server;
    config.server_name = "localhost";  // the listener's default --name
    config.first_hello_interval = 200ms;
    config.hello_attempts = 4;
    config.handshake_timeout = 10s;
    auto udp = tapsec::Udp::connect(*tapsec::Endpoint::parse("127.0.0.1", static_cast<std::uint16_t>(std::stoi(port))));
    if (!udp) return udp.error();
    Client c(tapsec::Role::client, config, std::move(*udp));
    if (auto ec = c.handshake()) return ec;
    return c;
}

/// The peer's stream until it ends (bounded by `limit`); an error text on failure.
std::string read_to_end(Client& c, std::string& got, std::chrono::milliseconds limit) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (!c.engine().stream().peer_finished()) {
        if (std::chrono::steady_clock::now() > deadline) return "no end of the server's stream";
        auto m = c.receive_message(50ms);
        if (m) got.append(m->begin(), m->end());
        else if (m.error() != tapsec::make_error_code(tapsec::Errc::timed_out)) return m.error().message();
    }
    return {};
}

/// A client still open when the server gets SIGTERM: a line is echoed, then SIGTERM ends
/// its stream with CurveCP's close (no more data) and the server exits 0.
void still_open_until_sigterm(Client& last, Process& server) {
    REQUIRE_FALSE(last.send(tapsec::as_bytes(std::string("still here\n"))));
    std::string echo;
    while (echo.size() < 11) {
        auto m = last.receive_message(5s);
        REQUIRE_MESSAGE(m, m.error().message());
        echo.append(m->begin(), m->end());
    }
    CHECK(echo == "still here\n");
    ::kill(server.pid(), SIGTERM);
    std::string rest;
    CHECK(read_to_end(last, rest, 5s).empty());
    CHECK(rest.empty());
    CHECK_MESSAGE(server.wait(10s) == 0, server.output());
}

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

TEST_CASE("tapsec listen curvecp --echo: three clients at once, a silent peer with a Cookie blocks none, SIGTERM ends each stream") {
    TempDir tmp;
    auto key = tapsec::curvecp::generate_key_pair([](tapsec::MutableByteView out) { tapsec::crypto::Botan2::random(out); });
    REQUIRE_FALSE(tapsec::curvecp::write_key_directory(tmp.file("server"), key));
    const auto port = std::to_string(free_port(SOCK_DGRAM));
    Process server({tapsec_tool, "listen", "curvecp", "127.0.0.1:" + port, "--key-dir", tmp.file("server"), "--echo",
                    "--forever"},
                   tmp.file("server.log"));
    REQUIRE_MESSAGE(server.wait_for_output("listening on"), server.output());

    // A peer that sends a Hello, gets its Cookie, and never sends an Initiate: the Cookie
    // holds its state, the server none.
    {
        tapsec::curvecp::Config silent_config;
        silent_config.server_public_key = key.public_key;
        tapsec::curvecp::Engine<tapsec::crypto::Botan2, tapsec::CurveCpRecord> silent(tapsec::Role::client, silent_config);
        REQUIRE_FALSE(silent.start(tapsec::Clock::now()));
        auto hello = silent.poll_transmit();
        REQUIRE(hello);
        const auto server_address = *tapsec::Endpoint::parse("127.0.0.1", static_cast<std::uint16_t>(std::stoi(port)));
        auto udp = tapsec::Udp::connect(server_address);
        REQUIRE(udp);
        REQUIRE_FALSE(udp->send_to(hello->data, server_address));
        std::array<std::uint8_t, 2048> cookie;
        tapsec::Endpoint from;
        auto got = udp->receive_from(cookie, tapsec::Clock::now() + 5s, from);
        REQUIRE_MESSAGE(got, got.error().message());
        CHECK(*got == tapsec::curvecp::wire::cookie_size);
    }

    constexpr int clients = 3;
    std::vector<tapsec::Result<Client>> open;
    for (int i = 0; i < clients; ++i) {  // all three established before any sends: served at once
        open.push_back(connect_client(port, key.public_key));
        REQUIRE_MESSAGE(open.back(), (open.back().error().message() + "\n" + server.output()));
    }
    // Clients 0 and 1 send, end their stream and read the echo to its end; client 2 stays open.
    std::vector<std::string> failures(clients);
    std::vector<std::thread> threads;
    for (int id = 0; id < 2; ++id)
        threads.emplace_back([&, id] {
            Client& c = *open[id];
            std::string sent;
            for (int i = 0; i < 5; ++i) sent += "client " + std::to_string(id) + " line " + std::to_string(i) + "\n";
            if (auto ec = c.send(tapsec::as_bytes(sent))) return void(failures[id] = "send: " + ec.message());
            (void)c.engine().close(tapsec::Clock::now());
            std::string echo;
            if (auto error = read_to_end(c, echo, 10s); !error.empty()) return void(failures[id] = error);
            if (echo != sent) failures[id] = "got '" + echo + "', wanted '" + sent + "'";
        });
    for (auto& t : threads) t.join();
    for (int id = 0; id < 2; ++id) CHECK_MESSAGE(failures[id].empty(), "client " << id << ": " << failures[id]);
    // SIGTERM: the server ends client 2's stream (CurveCP's close) and exits 0.
    still_open_until_sigterm(*open[2], server);
    CHECK_MESSAGE(server.output().find("closing every connection") != std::string::npos, server.output());
    CHECK(count_of(server.output(), "accepted: client") == 3);
}

TEST_CASE("tapsec listen curvecp --echo --threads 2: clients that change their source port mid-stream keep their peer; SIGTERM ends each") {
    TempDir tmp;
    auto key = tapsec::curvecp::generate_key_pair([](tapsec::MutableByteView out) { tapsec::crypto::Botan2::random(out); });
    REQUIRE_FALSE(tapsec::curvecp::write_key_directory(tmp.file("server"), key));
    const auto port = std::to_string(free_port(SOCK_DGRAM));
    const auto server_address = *tapsec::Endpoint::parse("127.0.0.1", static_cast<std::uint16_t>(std::stoi(port)));
    Process server({tapsec_tool, "listen", "curvecp", "127.0.0.1:" + port, "--key-dir", tmp.file("server"), "--echo",
                    "--forever", "--threads", "2"},
                   tmp.file("server.log"));
    REQUIRE_MESSAGE(server.wait_for_output("listening on"), server.output());

    // Clients 0-3 move to a new UDP port before each of 6 lines (a new 4-tuple: the kernel
    // hashes it to either socket, so a client's datagrams reach the other thread about
    // half the time and must be handed over); client 4 stays put and open until SIGTERM.
    constexpr int clients = 5, movers = 4, moves = 6;
    std::vector<tapsec::Result<Client>> open;
    for (int i = 0; i < clients; ++i) {
        open.push_back(connect_client(port, key.public_key));
        REQUIRE_MESSAGE(open.back(), (open.back().error().message() + "\n" + server.output()));
    }
    std::vector<std::string> failures(movers);
    std::vector<std::thread> threads;
    for (int id = 0; id < movers; ++id)
        threads.emplace_back([&, id] {
            Client& c = *open[id];
            std::string sent, echo;
            for (int move = 0; move < moves; ++move) {
                auto moved = tapsec::Udp::connect(server_address);
                if (!moved) return void(failures[id] = "a new socket: " + moved.error().message());
                c.transport() = std::move(*moved);
                const std::string text = "client " + std::to_string(id) + " from port number " + std::to_string(move) + "\n";
                sent += text;
                if (auto ec = c.send(tapsec::as_bytes(text))) return void(failures[id] = "send: " + ec.message());
                const auto deadline = std::chrono::steady_clock::now() + 10s;
                while (echo.size() < sent.size()) {  // the echo of this line, from the new port
                    if (std::chrono::steady_clock::now() > deadline) return void(failures[id] = "no echo after move " + std::to_string(move));
                    auto m = c.receive_message(50ms);
                    if (m) echo.append(m->begin(), m->end());
                    else if (m.error() != tapsec::make_error_code(tapsec::Errc::timed_out)) return void(failures[id] = m.error().message());
                }
            }
            (void)c.engine().close(tapsec::Clock::now());
            if (auto error = read_to_end(c, echo, 10s); !error.empty()) return void(failures[id] = error);
            if (echo != sent) failures[id] = "got '" + echo + "', wanted '" + sent + "'";
        });
    for (auto& t : threads) t.join();
    for (int id = 0; id < movers; ++id) CHECK_MESSAGE(failures[id].empty(), "client " << id << ": " << failures[id] << "\n" << server.output());

    still_open_until_sigterm(*open[movers], server);
    CHECK(count_of(server.output(), "accepted: client") == clients);
    // 24 moves, each to the other socket with probability 1/2: some datagrams were handed over.
    CHECK_MESSAGE(server.output().find("datagrams handed to the thread holding their peer (0 dropped") != std::string::npos,
                  server.output());
}

}  // namespace curvecp_cli_test
