// TLS 1.2 interop on loopback with OpenSSL's s_server and s_client, both
// directions: the library (Secure<Tls12Handshake, Tls12Record, Tcp>) and the
// `tapsec` command, with a CA made at run time and with `openssl req` self-signed
// certificates as a new user would make them.
#include <doctest/doctest.h>

#include <thread>

#include <tapsec/tapsec.hpp>

#include "support/botan_tls_fixture.hpp"
#include "support/process.hpp"

using namespace tapsec;
using namespace std::chrono_literals;
using Tls12OverTcp = Secure<Tls12Handshake, Tls12Record, Tcp>;

namespace tls12_openssl_test {

struct Fixture : test::BotanTlsPki {
    Fixture() { REQUIRE_MESSAGE(test::have_program("openssl"), "openssl is not installed (apt-get install openssl)"); }
    test::TempDir dir;

    /// For the session cache, which keys sessions by server name and port.
    botan_tls::Config client_config(std::uint16_t port) const {
        auto c = BotanTlsPki::client_config();
        c.server_port = port;
        return c;
    }
};

/// Starts `openssl s_server` on 127.0.0.1:port (echoing lines reversed with -rev) and
/// waits until it accepts.
std::unique_ptr<test::Process> s_server(const std::string& log, std::uint16_t port, std::vector<std::string> extra) {
    std::vector<std::string> argv{"openssl", "s_server", "-accept", "127.0.0.1:" + std::to_string(port), "-tls1_2"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    auto p = std::make_unique<test::Process>(argv, log);
    p->wait_for_output("ACCEPT", 10s);
    return p;
}

Result<Tls12OverTcp> connect(const botan_tls::Config& config, std::uint16_t port) {
    auto tcp = Tcp::connect("127.0.0.1", port);
    if (!tcp) return tcp.error();
    Tls12OverTcp c(Role::client, config, std::move(*tcp));
    if (auto ec = c.handshake()) return ec;
    return c;
}

std::string reversed_echo(Tls12OverTcp& c, const std::string& line) {
    if (c.send(as_bytes(line + "\n"))) return {};
    std::string got;
    while (got.find('\n') == std::string::npos) {
        auto m = c.receive_message(10s);
        if (!m || m->empty()) break;
        got.append(m->begin(), m->end());
    }
    return got;
}


TEST_CASE("tls12 interop: tapsec client -> openssl s_server (ALPN, exporter, data)") {
    Fixture f;
    const auto port = test::free_port();
    auto server = s_server(f.dir.file("s.log"), port,
                           {"-cert", f.server.certificate, "-key", f.server.key, "-naccept", "1", "-alpn", "h2",
                            "-keymatexport", "EXPERIMENTAL-tapsec", "-keymatexportlen", "32"});
    auto config = f.client_config(port);
    config.alpn = {"h2", "http/1.1"};
    auto c = connect(config, port);
    REQUIRE_MESSAGE(c, c.error().message() << "\n" << server->output());
    CHECK(c->info().protocol == "TLS 1.2");
    CHECK(c->info().alpn == "h2");
    CHECK(c->info().cipher_suite.rfind("TLS_ECDHE_ECDSA_WITH_", 0) == 0);
    CHECK(c->peer().authenticated);
    REQUIRE(!c->send(as_bytes("hello openssl\n")));
    CHECK(server->wait_for_output("hello openssl", 10s));
    server->write_stdin("hello tapsec\n");  // s_server sends its stdin to the client
    auto reply = c->receive_message(10s);
    REQUIRE(reply);
    CHECK(std::string(reply->begin(), reply->end()) == "hello tapsec\n");
    auto key = c->export_keying_material("EXPERIMENTAL-tapsec", {}, 32);
    REQUIRE(key);
    c->close();
    server->wait(10s);
    const auto log = server->output();
    CHECK(log.find("ALPN protocols selected: h2") != std::string::npos);
    std::string upper;
    for (char ch : to_hex(*key)) upper.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(ch))));
    CHECK_MESSAGE(log.find(upper) != std::string::npos, "exporter mismatch: ours " << upper << "\n" << log);
}

TEST_CASE("tls12 interop: SNI reaches openssl s_server") {
    Fixture f;
    const auto port = test::free_port();
    // s_server switches to its second context only when the SNI is "localhost"; with
    // -servername_fatal a different name is refused.
    auto server = s_server(f.dir.file("s.log"), port,
                           {"-cert", f.server.certificate, "-key", f.server.key, "-naccept", "1", "-rev", "-servername",
                            "localhost", "-cert2", f.server.certificate, "-key2", f.server.key, "-servername_fatal"});
    auto c = connect(f.client_config(port), port);
    REQUIRE_MESSAGE(c, c.error().message() << "\n" << server->output());
    CHECK(reversed_echo(*c, "hello openssl") == "lssnepo olleh\n");
    c->close();
    server->wait(10s);
    CHECK(server->output().find("Switching server context") != std::string::npos);
}

TEST_CASE("tls12 interop: session resumption and mutual authentication with openssl s_server") {
    Fixture f;
    SUBCASE("resumption") {
        const auto port = test::free_port();
        auto server = s_server(f.dir.file("r.log"), port,
                               {"-cert", f.server.certificate, "-key", f.server.key, "-naccept", "2", "-rev"});
        auto config = f.client_config(port);
        config.session_cache = std::make_shared<InMemorySessionCache>();
        {
            auto first = connect(config, port);
            REQUIRE(first);
            CHECK_FALSE(first->info().resumed);
            CHECK(reversed_echo(*first, "one") == "eno\n");
            first->close();
        }
        auto second = connect(config, port);
        REQUIRE_MESSAGE(second, second.error().message());
        CHECK(second->info().resumed);
        CHECK(reversed_echo(*second, "two") == "owt\n");
        second->close();
    }
    SUBCASE("mutual authentication required by s_server") {
        const auto port = test::free_port();
        auto server = s_server(f.dir.file("m.log"), port,
                               {"-cert", f.server.certificate, "-key", f.server.key, "-naccept", "2", "-rev", "-Verify",
                                "1", "-CAfile", f.pki.ca().certificate, "-verify_return_error"});
        auto config = f.client_config(port);
        auto refused = connect(config, port);  // no client certificate
        CHECK_FALSE(refused);
        config.identity = {f.client.certificate_pem(), f.client.key_pem()};
        auto c = connect(config, port);
        REQUIRE_MESSAGE(c, c.error().message() << "\n" << server->output());
        CHECK(reversed_echo(*c, "mutual") == "lautum\n");
        c->close();
        server->wait(10s);
        CHECK(server->output().find("CN = alice") != std::string::npos);
    }
    SUBCASE("untrusted CA and wrong host name against a real server") {
        const auto port = test::free_port();
        auto server = s_server(f.dir.file("n.log"), port, {"-cert", f.server.certificate, "-key", f.server.key, "-naccept", "2"});
        auto config = f.client_config(port);
        config.server_name = "not-localhost.example";
        auto wrong_name = connect(config, port);
        REQUIRE_FALSE(wrong_name);
        CHECK(wrong_name.error() == Errc::certificate_name_mismatch);
        test::TestPki other;
        config = f.client_config(port);
        config.trust.ca_certificates_pem = {other.ca().certificate_pem()};
        auto untrusted = connect(config, port);
        REQUIRE_FALSE(untrusted);
        CHECK(untrusted.error() == Errc::certificate_untrusted);
    }
}

TEST_CASE("tls12 interop: openssl s_client -> tapsec server (mutual auth, ALPN, exporter, resumption, truncation)") {
    Fixture f;
    auto listener = TcpListener::bind("127.0.0.1", 0);
    REQUIRE(listener);
    const auto port = listener->port();
    auto config = f.server_config();
    config.alpn = {"http/1.1"};
    config.require_client_certificate = true;
    config.trust.ca_certificates_pem = {f.pki.ca().certificate_pem()};
    config.session_cache = std::make_shared<InMemorySessionCache>();

    struct Served {
        std::error_code handshake, end;
        SessionInfo info;
        std::string received, exported;
    };
    // Serves one connection: echo what arrives in upper case until the client ends.
    auto serve = [&](Served& out) {
        auto tcp = listener->accept(20s);
        if (!tcp) return void(out.handshake = tcp.error());
        Tls12OverTcp s(Role::server, config, std::move(*tcp));
        if ((out.handshake = s.handshake())) return;
        out.info = s.info();
        if (auto k = s.export_keying_material("EXPERIMENTAL-tapsec", {}, 20)) out.exported = to_hex(*k);
        for (;;) {
            auto m = s.receive_message(20s);
            if (!m) return void(out.end = m.error());
            if (m->empty()) return;  // close_notify
            out.received.append(m->begin(), m->end());
            std::string up(m->begin(), m->end());
            for (auto& ch : up) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
            if (auto ec = s.send(as_bytes(up))) return void(out.end = ec);
        }
    };
    const auto sess = f.dir.file("sess.pem");
    auto s_client = [&](const std::string& log, std::vector<std::string> extra) {
        std::vector<std::string> argv{"openssl", "s_client", "-connect", "127.0.0.1:" + std::to_string(port),
                                      "-CAfile", f.pki.ca().certificate, "-servername", "localhost",
                                      "-verify_return_error", "-cert", f.client.certificate, "-key", f.client.key,
                                      "-alpn", "http/1.1", "-keymatexport", "EXPERIMENTAL-tapsec", "-keymatexportlen", "20"};
        argv.insert(argv.end(), extra.begin(), extra.end());
        return std::make_unique<test::Process>(argv, log);
    };

    Served first;
    std::thread t1([&] { serve(first); });
    {
        auto client = s_client(f.dir.file("c1.log"), {"-sess_out", sess});
        client->write_stdin("ping\n");
        CHECK(client->wait_for_output("PING", 15s));
        client->close_stdin();  // s_client sends close_notify and exits
        client->wait(10s);
        t1.join();
        REQUIRE_MESSAGE(!first.handshake, first.handshake.message());
        CHECK(!first.end);
        CHECK(first.received == "ping\n");
        CHECK(first.info.alpn == "http/1.1");
        CHECK(first.info.server_name == "localhost");
        CHECK(first.info.peer.subject.find("alice") != std::string::npos);
        std::string upper;
        for (char ch : first.exported) upper.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(ch))));
        CHECK_MESSAGE(client->output().find(upper) != std::string::npos, "exporter: " << upper << "\n" << client->output());
        CHECK(client->output().find("Verify return code: 0 (ok)") != std::string::npos);
    }
    Served resumed;
    std::thread t2([&] { serve(resumed); });
    {
        auto client = s_client(f.dir.file("c2.log"), {"-sess_in", sess});
        client->write_stdin("again\n");
        CHECK(client->wait_for_output("AGAIN", 15s));
        client->close_stdin();
        client->wait(10s);
        t2.join();
        REQUIRE(!resumed.handshake);
        CHECK(resumed.info.resumed);
        CHECK(client->output().find("Reused, TLSv1.2") != std::string::npos);
    }
    Served cut;
    std::thread t3([&] { serve(cut); });
    {
        auto client = s_client(f.dir.file("c3.log"), {});
        client->write_stdin("cut\n");
        CHECK(client->wait_for_output("CUT", 15s));
        ::kill(-client->pid(), SIGKILL);  // the kernel closes TCP: no close_notify
        t3.join();
        CHECK(!cut.handshake);
        CHECK(cut.end == Errc::truncated);
    }
}

// ---- the `tapsec` command, as a new user would try it --------------------------------


struct SelfSigned {
    test::TempDir dir;
    std::string crt = dir.file("server.crt"), key = dir.file("server.key");
    SelfSigned(const std::string& algorithm = "ec -pkeyopt ec_paramgen_curve:P-256") {
        REQUIRE(test::run("openssl req -x509 -newkey " + algorithm + " -nodes -keyout " + key + " -out " + crt +
                          " -days 30 -subj /CN=localhost >/dev/null 2>&1") == 0);
    }
};

std::vector<std::string> tapsec_command(std::vector<std::string> args) {
    args.insert(args.begin(), TAPSEC_TOOL_PATH);
    return args;
}

std::size_t line_count(const std::string& s) { return static_cast<std::size_t>(std::count(s.begin(), s.end(), '\n')); }


TEST_CASE("tls12 cli: tapsec connect -> openssl s_server with an `openssl req` certificate (P-256 and RSA)") {
    for (const std::string algorithm : {"ec -pkeyopt ec_paramgen_curve:P-256", "rsa:2048"}) {
        CAPTURE(algorithm);
        SelfSigned certs(algorithm);
        const auto port = test::free_port();
        auto server = s_server(certs.dir.file("s.log"), port, {"-cert", certs.crt, "-key", certs.key, "-naccept", "1", "-rev"});
        test::Process client(tapsec_command({"connect", "tls12", "127.0.0.1:" + std::to_string(port), "--CAfile",
                                             certs.crt, "--servername", "localhost"}),
                             certs.dir.file("c.log"));
        client.write_stdin("from the tapsec command\n");
        CHECK_MESSAGE(client.wait_for_output("dnammoc cespat eht morf", 15s), client.output() << server->output());
        client.close_stdin();
        CHECK(client.wait(15s) == 0);
        CHECK(client.output().find("tapsec: connected: TLS 1.2") != std::string::npos);
    }
}

TEST_CASE("tls12 cli: openssl s_client -> tapsec listen, and session resumption through --naccept") {
    SelfSigned certs;
    const auto port = test::free_port();
    test::Process server(tapsec_command({"listen", "tls12", "127.0.0.1:" + std::to_string(port), "--cert", certs.crt,
                                         "--key", certs.key, "--naccept", "2"}),
                         certs.dir.file("l.log"));
    REQUIRE(server.wait_for_output("listening", 10s));
    const auto sess = certs.dir.file("sess.pem");
    for (int round = 0; round < 2; ++round) {
        test::Process client({"openssl", "s_client", "-connect", "127.0.0.1:" + std::to_string(port), "-CAfile", certs.crt,
                              "-servername", "localhost", "-verify_return_error", round == 0 ? "-sess_out" : "-sess_in", sess},
                             certs.dir.file("c" + std::to_string(round) + ".log"));
        client.write_stdin("line " + std::to_string(round) + "\n");
        CHECK(server.wait_for_output("line " + std::to_string(round), 15s));
        client.close_stdin();
        client.wait(10s);
        CHECK(client.output().find("Verify return code: 0 (ok)") != std::string::npos);
        if (round == 1) CHECK(client.output().find("Reused, TLSv1.2") != std::string::npos);
    }
    CHECK(server.wait(15s) == 0);
}

TEST_CASE("tls12 cli: --sess-out / --sess-in resume against openssl s_server; mutual auth with --cert") {
    Fixture f;
    const auto port = test::free_port();
    auto server = s_server(f.dir.file("s.log"), port,
                           {"-cert", f.server.certificate, "-key", f.server.key, "-naccept", "2", "-rev", "-Verify", "1",
                            "-CAfile", f.pki.ca().certificate, "-verify_return_error"});
    const auto sess = f.dir.file("tapsec.sess");
    for (int round = 0; round < 2; ++round) {
        test::Process client(tapsec_command({"connect", "tls12", "localhost:" + std::to_string(port), "--CAfile",
                                             f.pki.ca().certificate, "--cert", f.client.certificate, "--key", f.client.key,
                                             round == 0 ? "--sess-out" : "--sess-in", sess}),
                             f.dir.file("c" + std::to_string(round) + ".log"));
        client.write_stdin("abc\n");
        CHECK_MESSAGE(client.wait_for_output("cba", 15s), client.output());
        client.close_stdin();
        CHECK(client.wait(15s) == 0);
        if (round == 1) CHECK(client.output().find("resumed") != std::string::npos);
    }
}

TEST_CASE("tls12 cli: each failure is one line; exit status 2 for command-line mistakes, 1 at run time") {
    SelfSigned certs;
    test::TempDir dir;
    test::write_file(dir.file("garbage.pem"), "-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n");
    const auto closed_port = std::to_string(test::free_port());
    struct Case {
        std::vector<std::string> args;
        std::string expected;
        int status = 2;  // a command-line mistake, unless a run-time failure (1)
    };
    std::vector<Case> cases{
        {{"connect", "tls12", "127.0.0.1:" + closed_port, "--CAfile", certs.crt}, "connection refused", 1},
        {{"connect", "tls12", "127.0.0.1:" + closed_port, "--CAfile", dir.file("missing.pem")}, "--CAfile: cannot read"},
        {{"connect", "tls12", "127.0.0.1:" + closed_port, "--CAfile", dir.file("garbage.pem")}, "no valid PEM certificate"},
        {{"listen", "tls12", "127.0.0.1:" + closed_port, "--cert", dir.file("garbage.pem"), "--key", certs.key}, "not a PEM certificate"},
        {{"listen", "tls12", "127.0.0.1:" + closed_port, "--cert", certs.crt, "--key", certs.crt}, "not a readable private key"},
        {{"listen", "tls12", "127.0.0.1:" + closed_port, "--cert", certs.crt, "--key", dir.file("missing.key")}, "--key: cannot read"},
        {{"listen", "tls12", "127.0.0.1:" + closed_port}, "needs --cert"},
        {{"connect", "tls12", "127.0.0.1:" + closed_port, "--frobnicate", "1"}, "unknown option --frobnicate"},
        {{"connect", "tls12", "nonsense"}, "is not HOST:PORT"},
    };
    for (auto& c : cases) {
        CAPTURE(c.expected);
        test::Process p(tapsec_command(c.args), dir.file("out.log"));
        CHECK(p.wait(15s) == c.status);
        const auto out = p.output();
        CHECK_MESSAGE(out.find(c.expected) != std::string::npos, out);
        CHECK(line_count(out) == 1);
    }
    SUBCASE("failed handshake: the server's certificate is not from the trusted CA") {
        test::TestPki other;
        const auto port = test::free_port();
        auto server = s_server(dir.file("s.log"), port, {"-cert", certs.crt, "-key", certs.key, "-naccept", "1"});
        test::Process p(tapsec_command({"connect", "tls12", "127.0.0.1:" + std::to_string(port), "--CAfile",
                                        other.ca().certificate, "--servername", "localhost"}),
                        dir.file("hs.log"));
        CHECK(p.wait(15s) == 1);
        CHECK_MESSAGE(p.output().find("certificate not trusted") != std::string::npos, p.output());
        CHECK(line_count(p.output()) == 1);
    }
    SUBCASE("failed handshake: wrong name") {
        const auto port = test::free_port();
        auto server = s_server(dir.file("s.log"), port, {"-cert", certs.crt, "-key", certs.key, "-naccept", "1"});
        test::Process p(tapsec_command({"connect", "tls12", "127.0.0.1:" + std::to_string(port), "--CAfile", certs.crt}),
                        dir.file("hs.log"));
        CHECK(p.wait(15s) == 1);
        CHECK_MESSAGE(p.output().find("name mismatch") != std::string::npos, p.output());
        CHECK(line_count(p.output()) == 1);
    }
}

}  // namespace tls12_openssl_test
