// The DTLS listeners of the `tapsec` command are not captured by whoever speaks first
// (issue 16): one stray datagram from port A, then a real client on port B. Before the
// fix the HelloVerifyRequest for B went to A and the listener waited for a year. Now the
// listener answers every ClientHello statelessly and binds to B when B's cookie returns.
// Both with OpenSSL's client (DTLS 1.2) and with the tapsec client (DTLS-SRTP).
#include <doctest/doctest.h>

#include <tapsec/tapsec.hpp>

#include "support/botan_tls_fixture.hpp"
#include "support/process.hpp"

using namespace tapsec;
using namespace std::chrono_literals;

namespace dtls_listener_capture_test {

/// Sends one stray byte to the listener from a socket of its own; returns that socket's address.
std::string send_stray_byte(std::uint16_t port) {
    auto stray = Udp::bind("127.0.0.1", 0);
    REQUIRE(stray);
    REQUIRE_FALSE(stray->send_to(Bytes{0x42}, *Endpoint::parse("127.0.0.1", port)));
    return "127.0.0.1:" + std::to_string(stray->local_port());
}


TEST_CASE("dtls listener: a stray byte first, then openssl s_client -dtls1_2 is served by `tapsec listen dtls12`") {
    test::BotanTlsPki f;
    REQUIRE_MESSAGE(test::have_program("openssl"), "openssl is not installed (apt-get install openssl)");
    test::TempDir dir;
    const auto port = test::free_port(SOCK_DGRAM);
    test::Process listener(std::vector<std::string>({TAPSEC_TOOL_PATH, "listen", "dtls12", "127.0.0.1:" + std::to_string(port), "--cert",
                                           f.server.certificate, "--key", f.server.key}),
                           dir.file("l.log"));
    REQUIRE(listener.wait_for_output("listening", 10s));
    const std::string stray = send_stray_byte(port);

    test::Process client({"openssl", "s_client", "-dtls1_2", "-connect", "127.0.0.1:" + std::to_string(port), "-CAfile",
                          f.pki.ca().certificate, "-servername", "localhost", "-verify_return_error"},
                         dir.file("c.log"));
    REQUIRE_MESSAGE(listener.wait_for_output("tapsec: accepted", 15s), listener.output() << client.output());
    CHECK(listener.output().find("accepted " + stray) == std::string::npos);  // bound to B, not to A
    client.write_stdin("from s_client\n");
    CHECK_MESSAGE(listener.wait_for_output("from s_client", 10s), listener.output());
    listener.write_stdin("from tapsec\n");
    CHECK_MESSAGE(client.wait_for_output("from tapsec", 10s), client.output());
    client.close_stdin();  // s_client sends close_notify at end of input
    CHECK(listener.wait(15s) == 0);
    CHECK(client.output().find("Verify return code: 0 (ok)") != std::string::npos);
}

TEST_CASE("dtls listener: a stray byte first, then `tapsec connect dtls-srtp` is served by `tapsec listen dtls-srtp`") {
    test::BotanTlsPki f;
    test::TempDir dir;
    const auto port = test::free_port(SOCK_DGRAM);
    test::Process listener(std::vector<std::string>({TAPSEC_TOOL_PATH, "listen", "dtls-srtp", "127.0.0.1:" + std::to_string(port), "--cert",
                                           f.server.certificate, "--key", f.server.key}),
                           dir.file("l.log"));
    REQUIRE(listener.wait_for_output("listening", 10s));
    const std::string stray = send_stray_byte(port);

    test::Process client(std::vector<std::string>({TAPSEC_TOOL_PATH, "connect", "dtls-srtp", "127.0.0.1:" + std::to_string(port), "--CAfile",
                                         f.pki.ca().certificate, "--servername", "localhost", "--timeout", "10"}),
                         dir.file("c.log"));
    REQUIRE_MESSAGE(listener.wait_for_output("tapsec: accepted", 15s), listener.output() << client.output());
    CHECK(listener.output().find("accepted " + stray) == std::string::npos);
    client.write_stdin("media from B\n");
    CHECK_MESSAGE(listener.wait_for_output("media from B", 10s), listener.output());
    listener.write_stdin("media to B\n");  // SRTP to the bound client, not to the stray sender
    CHECK_MESSAGE(client.wait_for_output("media to B", 10s), client.output());
    client.close_stdin();
    CHECK(client.wait(15s) == 0);
    CHECK(listener.wait(15s) == 0);
}

}  // namespace dtls_listener_capture_test
