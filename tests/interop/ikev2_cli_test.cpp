// `tapsec listen ikev2` and `tapsec connect ikev2` as processes on loopback, configured by
// swanctl-like files: the IKE SA and Child SA come up (with a cookie, ECP-256 and
// ChaCha20-Poly1305 with ESN), a stdin line crosses the tunnel as a UDP datagram, the
// initiator deletes the IKE SA when stdin ends and both exit 0. A bad file names its line
// (an IPv6 selector too), and selectors of two IP versions are refused.
// With certificates: listen takes them from the file (local.certs, local.key,
// remote.cacerts), connect from --cert/--key/--CAfile/--id; an --id the certificate does
// not name, and a peer from another CA, are each one clear line. Virtual IPs: `vips =
// 0.0.0.0` (connect) gets an address of `pools = NET` (listen), lines cross both ways
// from and to it, with dummy packets; the CP options in the wrong role are exit 2. The
// certificate case's listener has `fragment_size = 576`: its IKE_AUTH answer goes in
// RFC 7383 fragments, which the initiator reassembles.
#include <doctest/doctest.h>

#include "support/ikev2_certs.hpp"
#include "support/process.hpp"

using namespace tapsec;
using namespace std::chrono_literals;

namespace ikev2_cli_test {

std::string config(const std::string& first_line, const std::string& local, const std::string& remote,
                   const std::string& local_ts, const std::string& remote_ts) {
    return first_line + "\n"
           "local.id = " + local + "\n"
           "remote.id = " + remote + "\n"
           "secret = \"cli-test-pre-shared-key-0123456789\"   # quoted\n"
           "local_ts = " + local_ts + "\n"
           "remote_ts = " + remote_ts + "\n"
           "proposals = aes256gcm16-prfsha256-ecp256,aes128gcm16-prfsha256-x25519\n"
           "esp_proposals = chacha20poly1305-esn\n";
}


TEST_CASE("tapsec listen|connect ikev2 with --config files: a datagram through the tunnel, delete, both exit 0") {
    test::TempDir dir;
    const std::uint16_t port = test::free_port(SOCK_DGRAM);
    test::write_file(dir.file("listen.conf"),
                     config("local_addrs = 127.0.0.1:" + std::to_string(port), "gw.test", "a@test", "10.200.1.1/32",
                            "10.200.2.0/24") + "cookies = yes\n");
    test::write_file(dir.file("connect.conf"),
                     config("remote_addrs = 127.0.0.1:" + std::to_string(port), "a@test", "gw.test", "10.200.2.1",
                            "10.200.1.1"));
    test::Process listener({TAPSEC_TOOL_PATH, "listen", "ikev2", "--config", dir.file("listen.conf"), "--udp-to",
                            "10.200.2.1:9000", "--verbose"},
                           dir.file("listen.log"));
    test::Process initiator({TAPSEC_TOOL_PATH, "connect", "ikev2", "--config", dir.file("connect.conf"), "--udp-to",
                             "10.200.1.1:9000", "--verbose"},
                            dir.file("connect.log"));
    REQUIRE_MESSAGE(initiator.wait_for_output("IKE SA and Child SA established", 15s), initiator.output() << listener.output());
    CHECK(initiator.output().find("IKE AES_GCM_16_256/PRF_HMAC_SHA2_256, ESP CHACHA20_POLY1305/ESN, ecp256") != std::string::npos);
    initiator.write_stdin("a line through IKEv2 and ESP\n");
    CHECK_MESSAGE(listener.wait_for_output("a line through IKEv2 and ESP", 10s), listener.output());
    initiator.close_stdin();
    CHECK_MESSAGE(initiator.wait(15s) == 0, initiator.output());
    CHECK_MESSAGE(listener.wait(15s) == 0, listener.output());
    CHECK(initiator.output().find("IKE SA deleted") != std::string::npos);
    CHECK(listener.output().find("closed by the peer") != std::string::npos);
}

TEST_CASE("tapsec connect ikev2: a bad --config line is named, and the command fails") {
    test::TempDir dir;
    test::write_file(dir.file("bad.conf"), "local.id = a@test\n\n# a comment\nproposals = aes128ctr-sha256-modp2048\n");
    test::Process cli({TAPSEC_TOOL_PATH, "connect", "ikev2", "--config", dir.file("bad.conf")}, dir.file("cli.log"));
    CHECK(cli.wait(10s) == 2);  // a command-line mistake
    CHECK_MESSAGE(cli.output().find(dir.file("bad.conf") + ":4: proposals: 'aes128ctr' is not an algorithm") != std::string::npos,
                  cli.output());
    test::write_file(dir.file("small.conf"), "fragmentation = yes\nfragment_size = 100\n");
    test::Process small({TAPSEC_TOOL_PATH, "connect", "ikev2", "--config", dir.file("small.conf")}, dir.file("small.log"));
    CHECK(small.wait(10s) == 2);
    CHECK_MESSAGE(small.output().find(dir.file("small.conf") + ":2: fragment_size: '100' is not a number of octets from 576 to 65535") !=
                      std::string::npos,
                  small.output());
    // IPv6 selectors: a malformed one names its line; IPv4 on one side and IPv6 on the other is refused.
    test::write_file(dir.file("v6.conf"), "local.id = a@test\nremote.id = gw.test\nlocal_ts = fd00:2::/129\n");
    test::Process v6({TAPSEC_TOOL_PATH, "connect", "ikev2", "--config", dir.file("v6.conf")}, dir.file("v6.log"));
    CHECK(v6.wait(10s) == 2);
    CHECK_MESSAGE(v6.output().find(dir.file("v6.conf") + ":3: local_ts: 'fd00:2::/129' is not an IPv4 or IPv6 address, prefix or range") !=
                      std::string::npos,
                  v6.output());
    test::write_file(dir.file("mixed.conf"), "remote_addrs = 127.0.0.1\nlocal.id = a@test\nremote.id = gw.test\n"
                                             "secret = s3cret-s3cret-s3cret\nlocal_ts = fd00:2::1\nremote_ts = 10.200.1.0/24\n");
    test::Process mixed({TAPSEC_TOOL_PATH, "connect", "ikev2", "--config", dir.file("mixed.conf"), "--tun", "tx0"}, dir.file("mixed.log"));
    CHECK(mixed.wait(10s) == 2);
    CHECK_MESSAGE(mixed.output().find("local_ts 'fd00:2::1' and remote_ts '10.200.1.0/24' are of different IP versions") != std::string::npos,
                  mixed.output());
}

TEST_CASE("tapsec listen|connect ikev2 with certificates: a datagram through the tunnel, exit 0; mistakes are one line") {
    test::TempDir dir;
    ikev2_test::IkePki pki;
    REQUIRE(pki.pki.ok());
    auto initiator_files = pki.initiator(test::KeyType::ed25519), responder_files = pki.responder(test::KeyType::ecdsa_p256);
    const std::uint16_t port = test::free_port(SOCK_DGRAM);
    test::write_file(dir.file("listen.conf"), "local_addrs = 127.0.0.1:" + std::to_string(port) +
                                                  "\n"
                                                  "local.auth = pubkey\n"
                                                  "local.certs = " + responder_files.certificate + "\n"
                                                  "local.key = " + responder_files.key + "\n"
                                                  "remote.auth = pubkey\n"
                                                  "remote.cacerts = " + pki.pki.ca().certificate + "\n"
                                                  "local.id = b.test\n"
                                                  "remote.id = a@test\n"
                                                  "local_ts = 10.200.1.1/32\n"
                                                  "remote_ts = 10.200.2.0/24\n"
                                                  // RFC 7383: the listener's IKE_AUTH answer (its ECDSA
                                                  // certificate) exceeds 576 octets, so it goes in fragments.
                                                  "fragmentation = yes\n"
                                                  "fragment_size = 576\n");
    const std::vector<std::string> connect_args{TAPSEC_TOOL_PATH, "connect", "ikev2", "127.0.0.1:" + std::to_string(port),
                                                "--cert", initiator_files.certificate, "--key", initiator_files.key,
                                                "--CAfile", pki.pki.ca().certificate, "--remote-id", "b.test",
                                                "--local-ts", "10.200.2.1", "--remote-ts", "10.200.1.1", "--udp-to",
                                                "10.200.1.1:9000", "--verbose"};
    {
        // An ID the certificate does not name: refused before any packet.
        auto args = connect_args;
        args.insert(args.end(), {"--id", "mallory@test"});
        test::Process cli(args, dir.file("bad-id.log"));
        CHECK(cli.wait(10s) == 2);
        CHECK_MESSAGE(cli.output().find("--id: 'mallory@test' is not named in the certificate") != std::string::npos, cli.output());
    }
    test::Process listener({TAPSEC_TOOL_PATH, "listen", "ikev2", "--config", dir.file("listen.conf"), "--udp-to",
                            "10.200.2.1:9000", "--verbose"},
                           dir.file("listen.log"));
    auto args = connect_args;
    args.insert(args.end(), {"--id", "a@test"});
    test::Process initiator(args, dir.file("connect.log"));
    REQUIRE_MESSAGE(initiator.wait_for_output("IKE SA and Child SA established", 15s), initiator.output() << listener.output());
    CHECK_MESSAGE(initiator.output().find("peer CN=b.test (certificate)") != std::string::npos, initiator.output());
    initiator.write_stdin("a line authenticated by certificates\n");
    CHECK_MESSAGE(listener.wait_for_output("a line authenticated by certificates", 10s), listener.output());
    CHECK(listener.output().find("peer CN=alice (certificate)") != std::string::npos);
    initiator.close_stdin();
    CHECK_MESSAGE(initiator.wait(15s) == 0, initiator.output());
    CHECK_MESSAGE(listener.wait(15s) == 0, listener.output());
    CHECK_MESSAGE(listener.output().find("ike_fragments_sent=") != std::string::npos, listener.output());
    CHECK_MESSAGE(listener.output().find("ike_fragments_sent=0 ") == std::string::npos, listener.output());
    CHECK_MESSAGE(initiator.output().find("ike_messages_reassembled=1") != std::string::npos, initiator.output());

    // A responder whose certificate comes from a CA the initiator does not trust.
    ikev2_test::IkePki other;
    REQUIRE(other.pki.ok());
    auto stranger = other.responder(test::KeyType::ecdsa_p256, "stranger");
    const std::uint16_t port2 = test::free_port(SOCK_DGRAM);
    test::Process untrusted({TAPSEC_TOOL_PATH, "listen", "ikev2", "127.0.0.1:" + std::to_string(port2), "--cert",
                             stranger.certificate, "--key", stranger.key, "--CAfile", pki.pki.ca().certificate, "--id",
                             "b.test", "--local-ts", "10.200.1.1", "--remote-ts", "10.200.2.0/24", "--udp-to",
                             "10.200.2.1:9000", "--handshake-timeout", "10"},
                            dir.file("untrusted.log"));
    args = connect_args;
    args[3] = "127.0.0.1:" + std::to_string(port2);
    test::Process refused(args, dir.file("refused.log"));
    CHECK(refused.wait(15s) == 1);
    CHECK_MESSAGE(refused.output().find("peer certificate chain not trusted by the configured CA (AUTHENTICATION_FAILED)") !=
                      std::string::npos,
                  refused.output());
    CHECK(untrusted.wait(15s) == 1);
    CHECK_MESSAGE(untrusted.output().find("peer authentication failed (AUTHENTICATION_FAILED)") != std::string::npos,
                  untrusted.output());
}

TEST_CASE("tapsec listen|connect ikev2 --tfc-padding: both sides pad, the line arrives intact; a bad mode is exit 2") {
    test::TempDir dir;
    const std::uint16_t port = test::free_port(SOCK_DGRAM);
    test::write_file(dir.file("listen.conf"), config("local_addrs = 127.0.0.1:" + std::to_string(port), "gw.test", "a@test",
                                                     "10.200.1.1/32", "10.200.2.0/24"));
    test::write_file(dir.file("connect.conf"), config("remote_addrs = 127.0.0.1:" + std::to_string(port), "a@test", "gw.test",
                                                      "10.200.2.1", "10.200.1.1"));
    test::Process listener({TAPSEC_TOOL_PATH, "listen", "ikev2", "--config", dir.file("listen.conf"), "--udp-to",
                            "10.200.2.1:9000", "--tfc-padding", "fixed:600", "--verbose"},
                           dir.file("listen.log"));
    test::Process initiator({TAPSEC_TOOL_PATH, "connect", "ikev2", "--config", dir.file("connect.conf"), "--udp-to",
                             "10.200.1.1:9000", "--tfc-padding", "bucket:128", "--verbose"},
                            dir.file("connect.log"));
    REQUIRE_MESSAGE(initiator.wait_for_output("TFC padding bucket:128: sent", 15s), initiator.output() << listener.output());
    CHECK_MESSAGE(listener.wait_for_output("TFC padding fixed:600: sent", 10s), listener.output());
    initiator.write_stdin("a padded line\n");
    CHECK_MESSAGE(listener.wait_for_output("a padded line", 10s), listener.output());
    initiator.close_stdin();
    CHECK_MESSAGE(initiator.wait(15s) == 0, initiator.output());
    CHECK_MESSAGE(listener.wait(15s) == 0, listener.output());

    test::Process bad({TAPSEC_TOOL_PATH, "connect", "ikev2", "--config", dir.file("connect.conf"), "--tfc-padding", "fixed:0"},
                      dir.file("bad.log"));
    CHECK(bad.wait(10s) == 2);
    CHECK_MESSAGE(bad.output().find("--tfc-padding: 'fixed:0' is not off, bucket:N or fixed:N (1 <= N <= 65535)") !=
                      std::string::npos,
                  bad.output());
}

TEST_CASE("tapsec listen|connect ikev2 with pools / vips: the initiator's address comes from the pool, lines both ways; "
          "misplaced options are exit 2 (table)") {
    test::TempDir dir;
    const std::uint16_t port = test::free_port(SOCK_DGRAM);
    test::write_file(dir.file("listen.conf"), config("local_addrs = 127.0.0.1:" + std::to_string(port), "gw.test", "a@test",
                                                     "10.200.1.1/32", "10.9.0.0/30") + "pools = 10.9.0.0/30\n");
    test::write_file(dir.file("connect.conf"), config("remote_addrs = 127.0.0.1:" + std::to_string(port), "a@test", "gw.test",
                                                      "0.0.0.0/0", "10.200.1.1") + "vips = 0.0.0.0\n");
    test::Process listener({TAPSEC_TOOL_PATH, "listen", "ikev2", "--config", dir.file("listen.conf"), "--pool-dns", "10.200.1.53",
                            "--udp-to", "10.9.0.1:9000", "--verbose"},
                           dir.file("listen.log"));
    test::Process initiator({TAPSEC_TOOL_PATH, "connect", "ikev2", "--config", dir.file("connect.conf"), "--udp-to",
                             "10.200.1.1:9000", "--dummy-packets", "20", "--verbose"},
                            dir.file("connect.log"));
    REQUIRE_MESSAGE(initiator.wait_for_output("inner address assigned to us: 10.9.0.1", 15s), initiator.output() << listener.output());
    CHECK_MESSAGE(initiator.output().find("DNS server 10.200.1.53") != std::string::npos, initiator.output());
    CHECK_MESSAGE(initiator.output().find("10.9.0.1-10.9.0.1 === 10.200.1.1-10.200.1.1") != std::string::npos, initiator.output());
    CHECK_MESSAGE(listener.wait_for_output("inner address assigned to the peer: 10.9.0.1", 10s), listener.output());
    initiator.write_stdin("from the assigned address\n");
    CHECK_MESSAGE(listener.wait_for_output("from the assigned address", 10s), listener.output());
    listener.write_stdin("to the assigned address\n");
    CHECK_MESSAGE(initiator.wait_for_output("to the assigned address", 10s), initiator.output());
    initiator.close_stdin();
    CHECK_MESSAGE(initiator.wait(15s) == 0, initiator.output());
    CHECK_MESSAGE(listener.wait(15s) == 0, listener.output());
    const std::string received = listener.output();
    const auto at = received.find("dummy_received=");
    REQUIRE_MESSAGE(at != std::string::npos, received);
    CHECK_MESSAGE(std::stoul(received.substr(at + 15)) >= 20, received);  // 20 a second for 2 s and more

    struct Row {
        std::vector<std::string> args;
        const char* message;
    };
    const Row mistakes[] = {
        {{"connect", "ikev2", "--config", dir.file("connect.conf"), "--pool", "10.9.0.0/30"}, "--pool and --pool-dns (pools) are for listen"},
        {{"listen", "ikev2", "--config", dir.file("listen.conf"), "--request-address"}, "--request-address (vips) is for connect"},
        {{"listen", "ikev2", "127.0.0.1:1", "--psk", "x", "--local-id", "b", "--remote-id", "a", "--local-ts", "10.1.1.1", "--pool", "10.9.0.0/33"},
         "--pool: '10.9.0.0/33' is not an IPv4 prefix or range"},
        {{"connect", "ikev2", "--config", dir.file("connect.conf"), "--dummy-packets", "0"}, "--dummy-packets: '0' is not a rate of 1 to 1000 a second"},
    };
    for (const auto& row : mistakes) {
        CAPTURE(row.message);
        std::vector<std::string> argv{TAPSEC_TOOL_PATH};
        argv.insert(argv.end(), row.args.begin(), row.args.end());
        test::Process bad(argv, dir.file("bad.log"));
        CHECK(bad.wait(10s) == 2);
        CHECK_MESSAGE(bad.output().find(row.message) != std::string::npos, bad.output());
    }
}

TEST_CASE("tapsec connect ikev2 --ticket-out, then --resume: RFC 5723 resumption across listener runs; a refused ticket falls back") {
    test::TempDir dir;
    // Both listener runs seal and open tickets with one key (--ticket-key-file): 48 octets.
    std::string key(48, '\0');
    for (std::size_t n = 0; n < key.size(); ++n) key[n] = static_cast<char>(n * 37 + 11);
    test::write_file(dir.file("ticket.key"), key);
    auto run_pair = [&](const std::string& name, const std::vector<std::string>& listen_extra,
                        const std::vector<std::string>& connect_extra) {
        const std::uint16_t port = test::free_port(SOCK_DGRAM);
        test::write_file(dir.file(name + "-listen.conf"),
                         config("local_addrs = 127.0.0.1:" + std::to_string(port), "gw.test", "a@test", "10.200.1.1/32",
                                "10.200.2.0/24"));
        test::write_file(dir.file(name + "-connect.conf"),
                         config("remote_addrs = 127.0.0.1:" + std::to_string(port), "a@test", "gw.test", "10.200.2.1",
                                "10.200.1.1"));
        std::vector<std::string> listen_args{TAPSEC_TOOL_PATH, "listen", "ikev2", "--config", dir.file(name + "-listen.conf"),
                                             "--udp-to", "10.200.2.1:9000", "--verbose", "--handshake-timeout", "15"};
        listen_args.insert(listen_args.end(), listen_extra.begin(), listen_extra.end());
        std::vector<std::string> connect_args{TAPSEC_TOOL_PATH, "connect", "ikev2", "--config", dir.file(name + "-connect.conf"),
                                              "--udp-to", "10.200.1.1:9000", "--verbose"};
        connect_args.insert(connect_args.end(), connect_extra.begin(), connect_extra.end());
        auto listener = std::make_unique<test::Process>(listen_args, dir.file(name + "-listen.log"));
        auto initiator = std::make_unique<test::Process>(connect_args, dir.file(name + "-connect.log"));
        return std::make_pair(std::move(listener), std::move(initiator));
    };
    auto line_through = [](test::Process& listener, test::Process& initiator, const std::string& line) {
        REQUIRE_MESSAGE(initiator.wait_for_output("IKE SA and Child SA established", 10s), initiator.output() << listener.output());
        initiator.write_stdin(line + "\n");
        CHECK_MESSAGE(listener.wait_for_output(line, 10s), listener.output());
        initiator.close_stdin();
        CHECK_MESSAGE(initiator.wait(10s) == 0, initiator.output());
        CHECK_MESSAGE(listener.wait(10s) == 0, listener.output());
    };
    {  // A full IKE_SA_INIT + IKE_AUTH that keeps a ticket.
        auto processes = run_pair("full", {"--ticket-key-file", dir.file("ticket.key")},
                                              {"--ticket-out", dir.file("first.ticket")});
        test::Process* listener = processes.first.get();  // not a structured binding: clang 14 lambdas
        test::Process* initiator = processes.second.get();
        line_through(*listener, *initiator, "before resumption");
        CHECK(initiator->output().find("resumption ticket written to " + dir.file("first.ticket")) != std::string::npos);
        CHECK(initiator->output().find("resumed") == std::string::npos);
    }
    {  // Another listener run with the same key resumes it (IKE_SESSION_RESUME) and issues the next ticket.
        auto processes = run_pair("resumed", {"--ticket-key-file", dir.file("ticket.key")},
                                              {"--resume", dir.file("first.ticket"), "--ticket-out", dir.file("second.ticket")});
        test::Process* listener = processes.first.get();  // not a structured binding: clang 14 lambdas
        test::Process* initiator = processes.second.get();
        line_through(*listener, *initiator, "after resumption");
        CHECK_MESSAGE(initiator->output().find("resumed from a ticket, RFC 5723") != std::string::npos, initiator->output());
        CHECK_MESSAGE(listener->output().find("resumed from a ticket, RFC 5723") != std::string::npos, listener->output());
        CHECK(initiator->output().find("resumption ticket written to " + dir.file("second.ticket")) != std::string::npos);
    }
    {  // A listener with another key refuses the ticket (TICKET_NACK, keeping no state): the
       // initiator says so, naming the file, and falls back to IKE_SA_INIT (RFC 5723 4.3.1).
        auto processes = run_pair("refused", {}, {"--resume", dir.file("second.ticket")});
        test::Process* listener = processes.first.get();  // not a structured binding: clang 14 lambdas
        test::Process* initiator = processes.second.get();
        line_through(*listener, *initiator, "after the fall-back");
        CHECK_MESSAGE(initiator->output().find("refused the ticket in " + dir.file("second.ticket") +
                                               " (TICKET_NACK): falling back to IKE_SA_INIT") != std::string::npos,
                      initiator->output());
        CHECK(initiator->output().find("resumed from a ticket") == std::string::npos);
    }
    {  // A file that holds no ticket: a usage error naming it, nothing sent.
        test::write_file(dir.file("junk.ticket"), "not a ticket");
        test::Process cli({TAPSEC_TOOL_PATH, "connect", "ikev2", "127.0.0.1:9", "--psk", "x", "--local-id", "a@test",
                           "--remote-id", "gw.test", "--local-ts", "10.200.2.1", "--remote-ts", "10.200.1.1",
                           "--resume", dir.file("junk.ticket")},
                          dir.file("junk.log"));
        CHECK(cli.wait(10s) == 2);
        CHECK_MESSAGE(cli.output().find("--resume: " + dir.file("junk.ticket") + " holds no IKEv2 resumption ticket") !=
                          std::string::npos,
                      cli.output());
    }
}

}  // namespace ikev2_cli_test
