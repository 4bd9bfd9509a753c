// `tapsec listen zrtp` and `tapsec connect zrtp` as two processes on loopback: the ZRTP
// exchange, the same SAS printed on both sides, a line of media each way through the
// ZRTP-keyed SRTP record, and exit 0 on both sides once their input has ended. Then a
// wrong usage: an unknown key agreement is a one-line configuration error.
#include <doctest/doctest.h>

#include <regex>

#include "support/process.hpp"

using namespace tapsec::test;

namespace {

const std::string tapsec_tool = TAPSEC_TOOL_PATH;

std::string sas_in(const std::string& output) {
    std::smatch m;
    if (std::regex_search(output, m, std::regex("SAS ([a-z0-9]{4})"))) return m[1];
    return {};
}

}  // namespace

TEST_CASE("tapsec zrtp: listen and connect agree on the SAS, carry media both ways, exit 0") {
    TempDir dir;
    const auto port = std::to_string(free_port(SOCK_DGRAM));
    Process server({tapsec_tool, "listen", "zrtp", "127.0.0.1:" + port}, dir.file("server.log"));
    REQUIRE(server.wait_for_output("listening for ZRTP"));
    Process client({tapsec_tool, "connect", "zrtp", "127.0.0.1:" + port, "--groups", "X255"}, dir.file("client.log"));
    REQUIRE_MESSAGE(client.wait_for_output("SAS "), (client.output() + "\n--- server:\n" + server.output()));
    REQUIRE_MESSAGE(server.wait_for_output("SAS "), server.output());
    const std::string client_sas = sas_in(client.output()), server_sas = sas_in(server.output());
    CHECK(!client_sas.empty());
    CHECK(client_sas == server_sas);

    client.write_stdin("media to the listener\n");
    CHECK_MESSAGE(server.wait_for_output("media to the listener"), server.output());
    server.write_stdin("media to the caller\n");
    CHECK_MESSAGE(client.wait_for_output("media to the caller"), client.output());

    client.close_stdin();
    server.close_stdin();
    CHECK_MESSAGE(client.wait(std::chrono::seconds(10)) == 0, client.output());
    CHECK_MESSAGE(server.wait(std::chrono::seconds(10)) == 0, server.output());
}

TEST_CASE("tapsec zrtp: an unknown key agreement is refused with one line and a non-zero exit") {
    TempDir dir;
    const auto port = std::to_string(free_port(SOCK_DGRAM));
    Process client({tapsec_tool, "connect", "zrtp", "127.0.0.1:" + port, "--groups", "DH3k", "--timeout", "2"},
                   dir.file("client.log"));
    const int status = client.wait(std::chrono::seconds(10));
    CHECK(status != 0);
    CHECK_MESSAGE(client.output().find("invalid ZRTP configuration") != std::string::npos, client.output());
}
