// `tapsec listen tcpcrypt` and `tapsec connect tcpcrypt` as two processes on loopback:
// the same session ID printed on both sides (for the users to authenticate), a line each
// way, exit 0 on both sides once their input has ended. Then the fallback: a client
// without TCP-ENO is refused by a default listener (exit 1, one line), and served with a
// printed warning by a listener started with --allow-plain.
#include <doctest/doctest.h>

#include <regex>

#include "support/process.hpp"

using namespace tapsec::test;

namespace {

const std::string tapsec_tool = TAPSEC_TOOL_PATH;

std::string session_id_in(const std::string& output) {
    std::smatch m;
    if (std::regex_search(output, m, std::regex("session ID ([0-9a-f]{66})"))) return m[1];
    return {};
}

}  // namespace

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
