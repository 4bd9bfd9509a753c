// `tapsec select` and `tapsec connect auto` (tools/cli/select.hpp) as a user runs them:
// exit codes, the exclusion reasons, and a race against `tapsec listen tls13` / `listen quic`.
#include <doctest/doctest.h>

#include "support/pki.hpp"
#include "support/process.hpp"

using namespace tapsec;
using namespace tapsec::test;

namespace selection_cli_test {
const std::string tapsec_tool = TAPSEC_TOOL_PATH;

TEST_CASE("tapsec select: the ranking, each exclusion's reason, exit 1 when nothing is left") {
    TempDir dir;
    Process ranked({tapsec_tool, "select", "--require", "MA,stream", "--prefer", "OOO", "--avoid", "ED"}, dir.file("ranked.log"));
    CHECK(ranked.wait() == 0);
    const std::string out = ranked.output();
    // QUIC (OOO) leads; TLS 1.3 follows (both offer the avoided ED); WireGuard is a datagram service.
    const auto quic = out.find("\n1     quic "), tls13 = out.find(" tls13 ");
    CHECK(quic != std::string::npos);
    CHECK(tls13 != std::string::npos);
    CHECK(quic < tls13);
    CHECK(out.find("wireguard  lacks required stream") != std::string::npos);

    Process none({tapsec_tool, "select", "--require", "ED,datagram"}, dir.file("none.log"));
    CHECK(none.wait() == 1);
    CHECK(none.output().find("tapsec: no composition offers all the required properties") != std::string::npos);
    CHECK(none.output().find("lacks required ED (early data)") != std::string::npos);

    Process unknown({tapsec_tool, "select", "--require", "XYZ"}, dir.file("unknown.log"));
    CHECK(unknown.wait() == 2);
    CHECK(count_of(unknown.output(), "\n") == 1);  // one line
}

TEST_CASE("tapsec connect auto: no QUIC server, so TLS 1.3 wins and carries stdin both ways") {
    TestPki pki;
    REQUIRE(pki.ok());
    const auto leaf = pki.issue("server");
    TempDir dir;
    const std::string port = std::to_string(free_port());
    Process server({tapsec_tool, "listen", "tls13", "127.0.0.1:" + port, "--cert", leaf.certificate, "--key", leaf.key, "--echo"},
                   dir.file("server.log"));
    REQUIRE(server.wait_for_output("listening"));
    Process client({tapsec_tool, "connect", "auto", "127.0.0.1:" + port, "--require", "MA", "--prefer", "OOO", "--CAfile",
                    pki.ca().certificate},
                   dir.file("client.log"));
    client.write_stdin("hello over the winner\n");
    CHECK(client.wait_for_output("hello over the winner\n"));  // the echo came back
    client.close_stdin();
    CHECK(client.wait() == 0);
    CHECK(server.wait() == 0);
    CHECK(client.output().find("tls13: won") != std::string::npos);
    CHECK(client.output().find("quic: cancelled") != std::string::npos);
}

TEST_CASE("tapsec connect auto: QUIC ranks first and wins against `tapsec listen quic`") {
    TestPki pki;
    REQUIRE(pki.ok());
    const auto leaf = pki.issue("server");
    TempDir dir;
    const std::string port = std::to_string(free_port(SOCK_DGRAM));
    Process server({tapsec_tool, "listen", "quic", "127.0.0.1:" + port, "--cert", leaf.certificate, "--key", leaf.key},
                   dir.file("server.log"));
    REQUIRE(server.wait_for_output("listening"));
    Process client({tapsec_tool, "connect", "auto", "127.0.0.1:" + port, "--prefer", "OOO", "--CAfile", pki.ca().certificate},
                   dir.file("client.log"));
    client.write_stdin("over quic\n");
    CHECK(server.wait_for_output("over quic\n"));
    CHECK(client.output().find("quic: won") != std::string::npos);
    CHECK(client.output().find("tls13: not started") != std::string::npos);
    client.close_stdin();
    CHECK(client.wait() == 0);
    server.close_stdin();
    CHECK(server.wait() == 0);
}

TEST_CASE("tapsec connect auto: nothing listening is one line naming each candidate's failure, exit 1") {
    TempDir dir;
    const std::string port = std::to_string(free_port());
    Process client({tapsec_tool, "connect", "auto", "127.0.0.1:" + port, "--noverify", "--handshake-timeout", "0.6"},
                   dir.file("client.log"));
    CHECK(client.wait() == 1);
    const std::string out = client.output();
    CHECK(out.find("all candidates failed: quic: ") != std::string::npos);
    CHECK(out.find("tls13: ") != std::string::npos);
    CHECK(count_of(out, "\n") == 1);
}

}  // namespace selection_cli_test
