// The concurrent datagram listener (tools/cli/datagram_server.hpp, issue 14 item 3):
// `tapsec listen dtls12 --echo` serves 8 openssl s_client -dtls1_2 and 4 tapsec clients at
// once on one UDP socket while a junk sender and a peer stuck in its handshake are around;
// SIGTERM sends every peer its close_notify and exits 0; --max-pending, --handshake-timeout
// and --idle-timeout each act with one counted line; a new client on a stuck peer's address
// replaces it (RFC 6347 4.2.8); `listen dtls-srtp --echo` keys two
// concurrent peers with distinct SRTP keys; with --threads 2, ten clients over two
// SO_REUSEPORT sockets. Loopback only; every wait is for an event, bounded.
#include <doctest/doctest.h>

#include <csignal>
#include <memory>
#include <string>
#include <vector>

#include <tapsec/tapsec.hpp>

#include "support/botan_tls_fixture.hpp"
#include "support/process.hpp"

namespace dtls_concurrent_test {

using namespace tapsec;
using namespace std::chrono_literals;

using Dtls12Engine = Secure<Dtls12Handshake, DtlsRecord, Udp>::Engine;

std::string address(std::uint16_t port) { return "127.0.0.1:" + std::to_string(port); }

/// A DTLS client that returns the server's cookie, so that the server keeps state for it,
/// and then sends nothing more: a peer stuck in its handshake. `ok` once the server's
/// whole ServerHello flight arrived (the proof that the server holds state for it).
struct HalfOpenPeer {
    Udp socket;
    bool ok = false;

    static Udp bound() {
        auto u = Udp::bind("127.0.0.1", 0);
        REQUIRE(u);
        return std::move(*u);
    }

    HalfOpenPeer(std::uint16_t port, const test::BotanTlsPki& f) : socket(bound()) {
        const Endpoint server = *Endpoint::parse("127.0.0.1", port);
        Dtls12Engine engine(Role::client, f.client_config());
        if (engine.start(Clock::now())) return;
        // ClientHello, then ClientHello with the cookie; then the server's whole flight is
        // read (so that none of it is left in flight to whoever takes this port next).
        for (const auto& datagram : test::drain(engine))
            if (socket.send_to(datagram, server)) return;
        for (bool cookie_sent = false;;) {
            std::array<std::uint8_t, 4096> in;
            Endpoint from;
            auto n = socket.receive_from(in, Clock::now() + 5s, from);
            if (!n || engine.receive(ByteView(in.data(), *n), from, Clock::now())) return;
            auto next = test::drain(engine);
            if (next.empty()) continue;
            if (cookie_sent) {
                ok = true;  // the server's flight is complete: it holds state, and we stop here
                return;
            }
            for (const auto& datagram : next)
                if (socket.send_to(datagram, server)) return;
            cookie_sent = true;
        }
    }
};

/// Keying material a `tapsec` DTLS-SRTP end printed (--keymatexport), or empty.
std::string keying_material(const std::string& output, std::size_t from = 0) {
    const std::string marker = "bytes): ";
    const auto at = output.find(marker, output.find("Keying material", from));
    if (at == std::string::npos) return {};
    const auto end = output.find_first_of("\r\n;", at);
    return output.substr(at + marker.size(), end - at - marker.size());
}


TEST_CASE("dtls concurrent: 8 openssl s_client -dtls1_2 and 4 tapsec clients at once on one socket; junk and a stuck peer delay no one; SIGTERM closes all") {
    test::BotanTlsPki f;
    REQUIRE_MESSAGE(test::have_program("openssl"), "openssl is not installed (apt-get install openssl)");
    test::TempDir dir;
    const auto port = test::free_port(SOCK_DGRAM);
    test::Process server(test::tapsec_command({"listen", "dtls12", address(port), "--cert", f.server.certificate, "--key",
                                               f.server.key, "--echo", "--forever", "--handshake-timeout", "30"}),
                         dir.file("server.log"));
    REQUIRE_MESSAGE(server.wait_for_output("listening"), server.output());

    // Junk from one address, and a peer that returned its cookie and went silent: neither
    // may hold up the real clients (the stuck one would for 30 s on a one-peer listener).
    auto junk = Udp::bind("127.0.0.1", 0);
    REQUIRE(junk);
    for (int i = 0; i < 200; ++i) {
        Bytes noise(40 + i % 60, static_cast<std::uint8_t>(i));
        noise[0] = 22;  // looks like a handshake record, is not one
        REQUIRE_FALSE(junk->send_to(noise, *Endpoint::parse("127.0.0.1", port)));
    }
    HalfOpenPeer stuck(port, f);
    REQUIRE_MESSAGE(stuck.ok, server.output());

    const auto start = std::chrono::steady_clock::now();
    constexpr int openssl_clients = 8, tapsec_clients = 4, clients = openssl_clients + tapsec_clients;
    std::vector<std::unique_ptr<test::Process>> peers;
    for (int i = 0; i < openssl_clients; ++i)
        peers.push_back(std::make_unique<test::Process>(
            std::vector<std::string>{"openssl", "s_client", "-dtls1_2", "-connect", address(port), "-CAfile",
                                     f.pki.ca().certificate, "-servername", "localhost", "-verify_return_error"},
            dir.file("openssl" + std::to_string(i) + ".log")));
    for (int i = 0; i < tapsec_clients; ++i)
        peers.push_back(std::make_unique<test::Process>(
            test::tapsec_command({"connect", "dtls12", address(port), "--CAfile", f.pki.ca().certificate, "--servername",
                                  "localhost", "--timeout", "10"}),
            dir.file("tapsec" + std::to_string(i) + ".log")));
    REQUIRE_MESSAGE(server.wait_for_count("accepted:", clients, 20s), server.output());
    const auto served_in = std::chrono::steady_clock::now() - start;
    MESSAGE("12 DTLS 1.2 handshakes at once: " << std::chrono::duration<double>(served_in).count() << " s");
    CHECK(served_in < 15s);  // far below the stuck peer's 30 s handshake timeout

    for (int i = 0; i < clients; ++i) peers[i]->write_stdin("echo for client " + std::to_string(i) + "\n");
    for (int i = 0; i < clients; ++i)
        CHECK_MESSAGE(peers[i]->wait_for_output("echo for client " + std::to_string(i), 10s),
                      "client " << i << ":\n" << peers[i]->output());
    for (int i = 0; i < openssl_clients; ++i)
        CHECK_MESSAGE(peers[i]->output().find("Verify return code: 0 (ok)") != std::string::npos, peers[i]->output());

    ::kill(server.pid(), SIGTERM);
    CHECK_MESSAGE(server.wait(10s) == 0, server.output());
    CHECK(server.output().find("closing every connection") != std::string::npos);
    CHECK(server.output().find("failed") == std::string::npos);  // the junk was dropped silently
    // Each client saw the server's close_notify: openssl says so, tapsec ends cleanly.
    for (int i = 0; i < openssl_clients; ++i)
        CHECK_MESSAGE(peers[i]->wait_for_output("closed", 10s), "openssl client " << i << ":\n" << peers[i]->output());
    for (int i = openssl_clients; i < clients; ++i)
        CHECK_MESSAGE(peers[i]->wait(10s) == 0, "tapsec client " << i << ":\n" << peers[i]->output());
}

TEST_CASE("dtls concurrent: --max-pending drops the oldest stuck peer, --handshake-timeout and --idle-timeout close with one line each") {
    test::BotanTlsPki f;
    test::TempDir dir;
    const auto port = test::free_port(SOCK_DGRAM);
    test::Process server(test::tapsec_command({"listen", "dtls12", address(port), "--cert", f.server.certificate, "--key",
                                               f.server.key, "--rev", "--forever", "--max-pending", "2", "--handshake-timeout",
                                               "1", "--idle-timeout", "1.5"}),
                         dir.file("server.log"));
    REQUIRE_MESSAGE(server.wait_for_output("listening"), server.output());
    std::vector<std::unique_ptr<HalfOpenPeer>> stuck;
    for (int i = 0; i < 4; ++i) {
        stuck.push_back(std::make_unique<HalfOpenPeer>(port, f));
        REQUIRE_MESSAGE(stuck.back()->ok, server.output());
    }
    // Four peers with state, at most two pending: the two oldest were dropped, each counted.
    CHECK_MESSAGE(server.wait_for_output("2 dropped so far", 5s), server.output());
    CHECK(server.output().find("3 dropped so far") == std::string::npos);
    // The other two reach their handshake deadline.
    CHECK_MESSAGE(server.wait_for_count("handshake timed out after 1 s (--handshake-timeout)", 2, 5s), server.output());

    // A real client is served, then closed with close_notify once idle for 1.5 s.
    test::Process client(test::tapsec_command({"connect", "dtls12", address(port), "--CAfile", f.pki.ca().certificate,
                                               "--servername", "localhost", "--timeout", "10"}),
                         dir.file("client.log"));
    client.write_stdin("stressed\n");
    CHECK_MESSAGE(client.wait_for_output("desserts", 10s), client.output() << server.output());
    const auto quiet_since = std::chrono::steady_clock::now();
    CHECK_MESSAGE(client.wait(10s) == 0, client.output());  // the server's close_notify ended it
    const auto idle = std::chrono::steady_clock::now() - quiet_since;
    CHECK(idle >= 1s);
    CHECK(idle < 6s);
    CHECK_MESSAGE(server.output().find("idle for 1.5 s: closed (--idle-timeout)") != std::string::npos, server.output());
    CHECK(server.running());  // none of this stopped the server
    ::kill(server.pid(), SIGTERM);
    CHECK_MESSAGE(server.wait(10s) == 0, server.output());
}

TEST_CASE("dtls concurrent: a new client on the address of a stuck one is served (RFC 6347 4.2.8), the old association forgotten") {
    test::BotanTlsPki f;
    test::TempDir dir;
    const auto port = test::free_port(SOCK_DGRAM);
    test::Process server(test::tapsec_command({"listen", "dtls12", address(port), "--cert", f.server.certificate, "--key",
                                               f.server.key, "--echo", "--forever", "--handshake-timeout", "30"}),
                         dir.file("server.log"));
    REQUIRE_MESSAGE(server.wait_for_output("listening"), server.output());
    std::uint16_t reused = 0;
    {
        HalfOpenPeer stuck(port, f);  // the server holds state for this address for 30 s
        REQUIRE_MESSAGE(stuck.ok, server.output());
        reused = stuck.socket.local_port();
    }  // its socket closes: the port is free for the next client
    auto udp = Udp::bind("127.0.0.1", reused, *Endpoint::parse("127.0.0.1", port));
    REQUIRE_MESSAGE(udp, "cannot bind the reused port " << reused);
    auto config = f.client_config();
    config.handshake_timeout = 10s;  // the stuck peer's state would hold it 30 s
    Secure<Dtls12Handshake, DtlsRecord, Udp> client(Role::client, config, std::move(*udp));
    const auto started = std::chrono::steady_clock::now();
    const auto ec = client.handshake();
    REQUIRE_MESSAGE(!ec, ec.message() << ": " << client.engine().failure_detail() << "\n" << server.output());
    CHECK(std::chrono::steady_clock::now() - started < 10s);  // not after the stuck peer's 30 s
    REQUIRE_FALSE(client.send(as_bytes(std::string("same address, new client"))));
    auto echo = client.receive_message(5s);
    REQUIRE_MESSAGE(echo, echo.error().message());
    CHECK(std::string(echo->begin(), echo->end()) == "same address, new client");
    CHECK_MESSAGE(server.output().find(address(reused) + ": a new handshake from this address") != std::string::npos, server.output());
    (void)client.close();
    ::kill(server.pid(), SIGTERM);
    CHECK_MESSAGE(server.wait(10s) == 0, server.output());
}

TEST_CASE("dtls concurrent: `listen dtls-srtp --echo` keys two concurrent peers with distinct SRTP keys and reflects each one's media") {
    test::BotanTlsPki f;
    test::TempDir dir;
    const auto port = test::free_port(SOCK_DGRAM);
    const std::vector<std::string> keymat = {"--keymatexport", "EXTRACTOR-dtls_srtp", "--keymatexportlen", "60"};
    auto server_args = test::tapsec_command({"listen", "dtls-srtp", address(port), "--cert", f.server.certificate, "--key",
                                             f.server.key, "--echo", "--naccept", "2"});
    server_args.insert(server_args.end(), keymat.begin(), keymat.end());
    test::Process server(server_args, dir.file("server.log"));
    REQUIRE_MESSAGE(server.wait_for_output("listening"), server.output());

    std::vector<std::unique_ptr<test::Process>> peers;
    for (int i = 0; i < 2; ++i) {
        auto args = test::tapsec_command({"connect", "dtls-srtp", address(port), "--CAfile", f.pki.ca().certificate,
                                          "--servername", "localhost", "--timeout", "10"});
        args.insert(args.end(), keymat.begin(), keymat.end());
        peers.push_back(std::make_unique<test::Process>(args, dir.file("client" + std::to_string(i) + ".log")));
    }
    REQUIRE_MESSAGE(server.wait_for_count("accepted:", 2, 15s), server.output());
    std::vector<std::string> keys;
    for (auto& peer : peers) {
        REQUIRE_MESSAGE(peer->wait_for_output("Keying material", 10s), peer->output());
        keys.push_back(keying_material(peer->output()));
        CHECK(keys.back().size() == 120);  // the 60 bytes asked for, in hex
        // The server derived the same keys for this peer.
        CHECK_MESSAGE(server.output().find(keys.back()) != std::string::npos, server.output());
    }
    CHECK(keys[0] != keys[1]);
    CHECK(server.output().find("SRTP") != std::string::npos);

    // Both peers are up at once; each one's RTP comes back under its own keys.
    for (int i = 0; i < 2; ++i) peers[i]->write_stdin("media of peer " + std::to_string(i) + "\n");
    for (int i = 0; i < 2; ++i)
        CHECK_MESSAGE(peers[i]->wait_for_output("media of peer " + std::to_string(i), 10s), peers[i]->output());
    // --naccept 2: the server exits 0 once both peers have closed.
    for (auto& peer : peers) peer->close_stdin();  // both at once: each lingers a moment after its close_notify
    for (auto& peer : peers) CHECK_MESSAGE(peer->wait(10s) == 0, peer->output());
    CHECK_MESSAGE(server.wait(10s) == 0, server.output());
}

TEST_CASE("dtls concurrent: engines sharing Config::dtls_cookie_secret accept each other's cookies; another key does not") {
    test::BotanTlsPki f;
    auto shared = f.server_config();
    SecretBytes key(32, 0x5a);
    shared.dtls_cookie_secret = std::make_shared<const SecretBytes>(key);
    Dtls12Engine responder(Role::server, shared), same_key(Role::server, shared), own_key(Role::server, f.server_config());
    Dtls12Engine client(Role::client, f.client_config());
    const Instant now = Clock::now();
    REQUIRE_FALSE(client.start(now));
    REQUIRE_FALSE(test::feed(responder, test::drain(client), test::client_address, now));
    const auto verify = test::drain(responder);  // the HelloVerifyRequest, nothing kept
    REQUIRE(verify.size() == 1);
    CHECK_FALSE(responder.bound_peer());
    REQUIRE_FALSE(test::feed(client, verify, test::server_address, now));
    const auto with_cookie = test::drain(client);
    // An engine with its own random key does not know the cookie: another HelloVerifyRequest.
    REQUIRE_FALSE(test::feed(own_key, with_cookie, test::client_address, now));
    CHECK_FALSE(own_key.bound_peer());
    CHECK(own_key.hello_verify_requests() == 1);
    // The same key: bound to the client, and the handshake goes on.
    REQUIRE_FALSE(test::feed(same_key, with_cookie, test::client_address, now));
    REQUIRE(same_key.bound_peer());
    CHECK(*same_key.bound_peer() == test::client_address);
    CHECK_FALSE(test::drain(same_key).empty());  // its ServerHello flight
}

TEST_CASE("dtls concurrent: --threads 2: 10 tapsec clients over two SO_REUSEPORT sockets, each echo exact, SIGTERM closes all, exit 0") {
    test::BotanTlsPki f;
    test::TempDir dir;
    const auto port = test::free_port(SOCK_DGRAM);
    test::Process server(test::tapsec_command({"listen", "dtls12", address(port), "--cert", f.server.certificate, "--key",
                                               f.server.key, "--echo", "--forever", "--threads", "2"}),
                         dir.file("server.log"));
    REQUIRE_MESSAGE(server.wait_for_output("listening"), server.output());
    CHECK(server.output().find("2 threads") != std::string::npos);
    constexpr int clients = 10;
    std::vector<std::unique_ptr<test::Process>> peers;
    for (int i = 0; i < clients; ++i)
        peers.push_back(std::make_unique<test::Process>(
            test::tapsec_command({"connect", "dtls12", address(port), "--CAfile", f.pki.ca().certificate, "--servername",
                                  "localhost", "--timeout", "10"}),
            dir.file("tapsec" + std::to_string(i) + ".log")));
    REQUIRE_MESSAGE(server.wait_for_count("accepted:", clients, 20s), server.output());
    // Each client's own line comes back to it, and no other client's.
    for (int i = 0; i < clients; ++i) peers[i]->write_stdin("threaded echo " + std::to_string(i) + ";\n");
    for (int i = 0; i < clients; ++i) {
        CHECK_MESSAGE(peers[i]->wait_for_output("threaded echo " + std::to_string(i) + ";\n", 10s), peers[i]->output());
        CHECK(test::count_of(peers[i]->output(), "threaded echo ") == 1);
    }
    ::kill(server.pid(), SIGTERM);
    CHECK_MESSAGE(server.wait(10s) == 0, server.output());
    CHECK(test::count_of(server.output(), "closing every connection") == 1);  // one line, whichever thread took the signal
    CHECK(server.output().find("failed") == std::string::npos);
    CHECK(server.output().find("did not acknowledge") == std::string::npos);
    for (int i = 0; i < clients; ++i) CHECK_MESSAGE(peers[i]->wait(10s) == 0, "tapsec client " << i << ":\n" << peers[i]->output());
    const auto at = server.output().find("peers per thread:");
    REQUIRE_MESSAGE(at != std::string::npos, server.output());
    MESSAGE(server.output().substr(at, server.output().find('\n', at) - at));  // the kernel's spread (random ports)
}

}  // namespace dtls_concurrent_test
