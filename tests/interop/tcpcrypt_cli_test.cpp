// `tapsec listen tcpcrypt` and `tapsec connect tcpcrypt` as two processes on loopback:
// the same session ID printed on both sides (for the users to authenticate), a line each
// way, exit 0 on both sides once their input has ended. Then the fallback: a client
// without TCP-ENO is refused by a default listener (exit 1, one line), and served with a
// printed warning by a listener started with --allow-plain. And the concurrent listener
// (--echo on concurrent_server.hpp): three clients at once while an idle peer that never
// starts TCP-ENO holds a connection, SIGTERM closing the open connections.
#include <doctest/doctest.h>

#include <csignal>
#include <regex>
#include <thread>

#include <tapsec/tcpcrypt.hpp>

#include "stress/concurrent_clients.hpp"
#include "support/process.hpp"

using namespace tapsec::test;

// Everything in this file's own namespace (the tests are built as one unity source).
namespace tcpcrypt_cli_test {

const std::string tapsec_tool = TAPSEC_TOOL_PATH;

std::string session_id_in(const std::string& output) {
    std::smatch m;
    if (std::regex_search(output, m, std::regex("session ID ([0-9a-f]{66})"))) return m[1];
    return {};
}

using Client = tapsec::Secure<tapsec::TcpcryptHandshake, tapsec::TcpcryptRecord, tapsec::TcpEno>;

/// An established tcpcrypt client of the listener on `port` (handshake bounded by 5 s).
tapsec::Result<Client> connect_client(std::uint16_t port) {
    tapsec::tcpcrypt::Config config;
    config.handshake_timeout = std::chrono::seconds(5);
    auto tcp = tapsec::TcpEno::connect("127.0.0.1", port);
    if (!tcp) return tcp.error();
    Client c(tapsec::Role::client, config, std::move(*tcp));
    if (auto ec = c.handshake()) return ec;
    return c;
}

TEST_CASE("tapsec tcpcrypt: listen and connect print the same session ID, carry data both ways, exit 0") {
    TempDir dir;
    const auto port = std::to_string(free_port(SOCK_STREAM));
    Process server({tapsec_tool, "listen", "tcpcrypt", "127.0.0.1:" + port}, dir.file("server.log"));
    REQUIRE(server.wait_for_output("listening for tcpcrypt"));
    Process client({tapsec_tool, "connect", "tcpcrypt", "127.0.0.1:" + port, "--teps", "p256", "--aeads", "aes256gcm"},
                   dir.file("client.log"));
    REQUIRE_MESSAGE(client.wait_for_output("session ID "), (client.output() + "\n--- server:\n" + server.output()));
    REQUIRE_MESSAGE(server.wait_for_output("session ID "), server.output());
    const std::string client_sid = session_id_in(client.output()), server_sid = session_id_in(server.output());
    CHECK(client_sid.substr(0, 2) == "21");  // TCPCRYPT_ECDHE_P256
    CHECK(client_sid == server_sid);
    CHECK(client.output().find("AEAD_AES_256_GCM") != std::string::npos);

    client.write_stdin("to the listener\n");
    CHECK_MESSAGE(server.wait_for_output("to the listener"), server.output());
    server.write_stdin("to the caller\n");
    CHECK_MESSAGE(client.wait_for_output("to the caller"), client.output());

    client.close_stdin();
    server.close_stdin();
    CHECK_MESSAGE(client.wait(std::chrono::seconds(10)) == 0, client.output());
    CHECK_MESSAGE(server.wait(std::chrono::seconds(10)) == 0, server.output());
}

TEST_CASE("tapsec tcpcrypt: a peer without TCP-ENO is refused by default, served with a warning when allowed") {
    for (bool allow : {false, true}) {
        CAPTURE(allow);
        TempDir dir;
        const auto port = std::to_string(free_port(SOCK_STREAM));
        std::vector<std::string> listen_args{tapsec_tool, "listen", "tcpcrypt", "127.0.0.1:" + port};
        if (allow) listen_args.push_back("--allow-plain");
        Process server(listen_args, dir.file("server.log"));
        REQUIRE(server.wait_for_output("listening for tcpcrypt"));
        Process client({tapsec_tool, "connect", "tcpcrypt", "127.0.0.1:" + port, "--no-eno"}, dir.file("client.log"));
        REQUIRE_MESSAGE(client.wait_for_output("NOT encrypted"), client.output());
        if (allow) {
            REQUIRE_MESSAGE(server.wait_for_output("NOT encrypted"), server.output());
            client.write_stdin("in the clear\n");
            CHECK_MESSAGE(server.wait_for_output("in the clear"), server.output());
            client.close_stdin();
            server.close_stdin();
            CHECK_MESSAGE(server.wait(std::chrono::seconds(10)) == 0, server.output());
        } else {
            CHECK(server.wait(std::chrono::seconds(10)) == 1);
            CHECK_MESSAGE(server.output().find("plain TCP is not allowed") != std::string::npos, server.output());
            client.close_stdin();
        }
        client.wait(std::chrono::seconds(10));
    }
}

TEST_CASE("tapsec listen tcpcrypt --echo: three clients at once, an idle peer blocks none, SIGTERM closes each") {
    TempDir dir;
    const auto port = free_port(SOCK_STREAM);
    Process server({tapsec_tool, "listen", "tcpcrypt", "127.0.0.1:" + std::to_string(port), "--echo", "--forever",
                    "--handshake-timeout", "20"},
                   dir.file("server.log"));
    REQUIRE_MESSAGE(server.wait_for_output("listening on"), server.output());
    // A peer that connects and never sends its ENO preamble: its handshake stays pending
    // (for 20 s), and no client below waits for it.
    RawConnection idle(port);
    REQUIRE(idle.ok());

    constexpr int clients = 3;
    std::vector<tapsec::Result<Client>> open;
    for (int i = 0; i < clients; ++i) {  // all three established before any sends: served at once
        open.push_back(connect_client(port));
        REQUIRE_MESSAGE(open.back(), (open.back().error().message() + "\n" + server.output()));
    }
    std::vector<std::string> failures(clients);
    std::vector<std::thread> threads;
    for (int id = 0; id < clients; ++id)
        threads.emplace_back([&, id] {
            for (int i = 0; i < 5; ++i) {
                const std::string line = "client " + std::to_string(id) + " line " + std::to_string(i);
                if (auto ec = open[id]->send(tapsec::as_bytes(line + "\n"))) return void(failures[id] = "send: " + ec.message());
                auto got = read_line(*open[id]);
                if (!got) return void(failures[id] = "receive: " + got.error().message());
                if (*got != line) return void(failures[id] = "got '" + *got + "', wanted '" + line + "'");
            }
        });
    for (auto& t : threads) t.join();
    for (int id = 0; id < clients; ++id) CHECK_MESSAGE(failures[id].empty(), "client " << id << ": " << failures[id]);
    // Each client's session ID is on the server's line for it (users compare them).
    for (auto& c : open) {
        const auto sid = tapsec::to_hex(c->engine().session_id());
        CHECK_MESSAGE(server.output().find("session ID " + sid) != std::string::npos, server.output());
    }

    // The first client leaves by itself; SIGTERM then closes the other two (tcpcrypt's
    // close is TCP's FIN: the client reads the end of the stream) and the server exits 0.
    (void)open[0]->close();
    ::kill(server.pid(), SIGTERM);
    for (int i = 1; i < clients; ++i) {
        std::array<std::uint8_t, 64> buffer;
        auto got = open[i]->receive(buffer, std::chrono::seconds(5));
        CHECK_MESSAGE(got, "client " << i << ": " << (got ? std::string() : got.error().message()));
        if (got) CHECK_MESSAGE(*got == 0, "client " << i << " read data instead of the close");
        (void)open[i]->close();
    }
    CHECK_MESSAGE(server.wait(std::chrono::seconds(10)) == 0, server.output());
    CHECK(idle.wait_closed(std::chrono::seconds(5)));
    CHECK_MESSAGE(server.output().find("closing every connection") != std::string::npos, server.output());
}

}  // namespace tcpcrypt_cli_test
