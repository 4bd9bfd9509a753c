// MinimaLT over real UDP sockets on loopback (no third-party peer exists: ours against
// ours). A client that moves to a new socket mid-transfer and rekeys; a server flooded
// with tunnel requests that demands puzzles and still serves a client that solves them;
// and `tapsec listen|connect minimalt` as two processes: 2 MB each way with a roam in the
// middle, sha-identical, both exiting 0; a wrong server key refused with one line.
#include <doctest/doctest.h>

#include <atomic>
#include <thread>

#include <tapsec/minimalt.hpp>

#include "support/process.hpp"

using namespace tapsec;
using namespace std::chrono_literals;
using Minimalt = Secure<MinimaltHandshake, MinimaltRecord, Udp>;

namespace minimalt_udp_test {

const std::string tapsec_tool = TAPSEC_TOOL_PATH;

struct Keys {
    minimalt::Config server, client;
    Keys(std::uint16_t port, std::function<void(minimalt::Config&)> adjust = {}) {
        if (adjust) adjust(server);
        auto record = minimalt::publish_record<crypto::Botan2>(server, "localhost", "127.0.0.1:" + std::to_string(port), 600s);
        REQUIRE(record);
        client.directory_record = *record;
        auto key = crypto::Botan2::Ed25519::public_key(server.long_term_seed);
        REQUIRE(key);
        client.trusted_server_key = *key;
        client.handshake_timeout = server.handshake_timeout = 10s;
    }
};

/// Runs a server engine on its socket until `stop`: delivers connection 1's data into
/// `received` and echoes nothing. Counts what the engine counted.
struct ServerLoop {
    Minimalt conn;
    std::string received;
    std::atomic<bool> stop{false};
    std::atomic<bool> established{false};
    std::thread thread;

    ServerLoop(minimalt::Config config, Udp udp) : conn(Role::server, std::move(config), std::move(udp)) {
        thread = std::thread([this] { run(); });
    }
    ~ServerLoop() {
        stop = true;
        if (thread.joinable()) thread.join();
    }
    void run() {
        auto& e = conn.engine();
        std::array<std::uint8_t, max_transmit_size> in{}, out{};
        while (!stop) {
            Endpoint from;
            auto got = conn.transport().receive_from(in, Clock::now() + 20ms, from);
            const Instant now = Clock::now();
            if (got) e.receive(ByteView(in.data(), *got), from, now);
            if (auto t = e.next_timeout(); t && *t <= now) e.on_timeout(now);
            while (auto v = e.poll_plaintext()) received.append(v->begin(), v->end());
            while (auto t = e.poll_transmit(MutableByteView(out))) conn.transport().send_to(ByteView(out.data(), t->size), *t->to);
            if (e.is_established()) established = true;
        }
    }
};

/// Pumps a client until `done()` or the deadline.
template <class Done>
bool pump_client(Minimalt& client, Done done, std::chrono::milliseconds limit = 20s) {
    auto& e = client.engine();
    std::array<std::uint8_t, max_transmit_size> in{}, out{};
    const Instant deadline = Clock::now() + limit;
    while (!done() && Clock::now() < deadline) {
        while (auto t = e.poll_transmit(MutableByteView(out)))
            client.transport().send_to(ByteView(out.data(), t->size), client.transport().peer_endpoint());
        Endpoint from;
        auto got = client.transport().receive_from(in, Clock::now() + 10ms, from);
        const Instant now = Clock::now();
        if (got) e.receive(ByteView(in.data(), *got), from, now);
        if (auto t = e.next_timeout(); t && *t <= now) e.on_timeout(now);
    }
    return done();
}

std::string pattern(std::size_t n, char seed) {
    std::string s(n, '\0');
    for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>(seed + (i * 131 + i / 7) % 61);
    return s;
}


TEST_CASE("minimalt over UDP: a client moves to a new socket mid-transfer; the tunnel follows its ID") {
    auto server_udp = Udp::bind("127.0.0.1", 0);
    REQUIRE(server_udp);
    const auto port = server_udp->local_port();
    Keys keys(port);
    ServerLoop server(keys.server, std::move(*server_udp));
    auto client_udp = Udp::connect(*Endpoint::parse("127.0.0.1", port));
    REQUIRE(client_udp);
    Minimalt client(Role::client, keys.client, std::move(*client_udp));
    REQUIRE_FALSE(client.handshake());
    const std::string first = pattern(600'000, 'A'), second = pattern(600'000, 'a');
    REQUIRE_FALSE(client.engine().send(as_bytes(first), Clock::now()));
    // Move while part of the first half is still in flight.
    REQUIRE(pump_client(client, [&] { return client.engine().queued_bytes() < first.size() / 2; }));
    const auto old_port = client.transport().local_port();
    const auto old_tid = client.engine().tunnel_id();
    auto moved = Udp::connect(*Endpoint::parse("127.0.0.1", port));
    REQUIRE(moved);
    client.transport() = std::move(*moved);
    REQUIRE(client.transport().local_port() != old_port);
    REQUIRE_FALSE(client.engine().update_keys(true, Clock::now()));
    CHECK(client.engine().tunnel_id() != old_tid);
    REQUIRE_FALSE(client.engine().send(as_bytes(second), Clock::now()));
    CHECK(pump_client(client, [&] { return client.engine().all_acknowledged(); }));
    server.stop = true;
    server.thread.join();
    CHECK(server.received.size() == first.size() + second.size());
    CHECK(server.received == first + second);
    REQUIRE(server.conn.engine().peer_endpoint());
    CHECK(server.conn.engine().peer_endpoint()->port() == client.transport().local_port());
    CHECK(server.conn.engine().key_generation() == 1);
}

TEST_CASE("minimalt over UDP: a flooded server demands puzzles and still serves a client that solves them") {
    auto server_udp = Udp::bind("127.0.0.1", 0);
    REQUIRE(server_udp);
    const auto port = server_udp->local_port();
    Keys keys(port, [](minimalt::Config& c) {
        c.puzzle_threshold = 20;
        c.puzzle_difficulty = 14;
    });
    ServerLoop server(keys.server, std::move(*server_udp));
    // The flood: tunnel requests (K set, fresh key, junk box) from 8 sockets, until told to stop.
    std::atomic<bool> flooding{true};
    std::atomic<std::uint64_t> flood_sent{0};
    std::thread flood([&] {
        std::vector<Udp> sockets;
        for (int i = 0; i < 8; ++i) {
            auto s = Udp::connect(*Endpoint::parse("127.0.0.1", port));
            if (s) sockets.push_back(std::move(*s));
        }
        std::array<std::uint8_t, 300> junk{};
        while (flooding) {
            for (auto& s : sockets) {
                crypto::Botan2::random(junk);
                junk[0] = static_cast<std::uint8_t>((junk[0] | 0x80) & 0xbf);
                s.send_to(junk, s.peer_endpoint());
                ++flood_sent;
            }
            std::this_thread::sleep_for(1ms);  // ~8000 requests/s: far past the threshold
        }
    });
    while (flood_sent < 2000) std::this_thread::sleep_for(5ms);
    auto client_udp = Udp::connect(*Endpoint::parse("127.0.0.1", port));
    REQUIRE(client_udp);
    Minimalt client(Role::client, keys.client, std::move(*client_udp));
    REQUIRE_FALSE(client.handshake());
    const std::string data = pattern(100'000, '0');
    REQUIRE_FALSE(client.engine().send(as_bytes(data), Clock::now()));
    CHECK(pump_client(client, [&] { return client.engine().all_acknowledged(); }));
    flooding = false;
    flood.join();
    server.stop = true;
    server.thread.join();
    const auto& counted = server.conn.engine().counters();
    MESSAGE("flood requests sent: ", flood_sent.load(), ", puzzles sent: ", counted.puzzles_sent,
            ", key agreements: ", counted.key_agreements, ", dropped: ", counted.dropped);
    CHECK(client.engine().counters().puzzles_solved == 1);
    CHECK(counted.puzzles_sent > 100);
    CHECK(counted.key_agreements < flood_sent / 10);  // the flood did not buy key agreements
    CHECK(server.received == data);
}

TEST_CASE("tapsec listen|connect minimalt: 2 MB each way with a roam in the middle, both exit 0") {
    test::TempDir dir;
    const std::string a = pattern(2'000'000, 'A'), b = pattern(2'000'000, 'b');
    test::write_file(dir.file("a.bin"), a);
    test::write_file(dir.file("b.bin"), b);
    const auto port = std::to_string(test::free_port(SOCK_DGRAM));
    test::Process server({"sh", "-c",
                          tapsec_tool + " listen minimalt 127.0.0.1:" + port + " --directory " + dir.file("dir.hex") +
                              " --verbose < " + dir.file("b.bin") + " > " + dir.file("server.out")},
                         dir.file("server.log"));
    REQUIRE_MESSAGE(server.wait_for_output("connect with"), server.output());
    const std::string log = server.output();
    const auto at = log.find("--server-key ");
    REQUIRE(at != std::string::npos);
    const std::string key = log.substr(at + 13, 64);
    test::Process client({"sh", "-c",
                          tapsec_tool + " connect minimalt 127.0.0.1:" + port + " --directory " + dir.file("dir.hex") +
                              " --server-key " + key + " --roam-after 1000000 --verbose < " + dir.file("a.bin") + " > " +
                              dir.file("client.out")},
                         dir.file("client.log"));
    CHECK_MESSAGE(client.wait(30s) == 0, client.output());
    CHECK_MESSAGE(server.wait(30s) == 0, server.output());
    CHECK(test::read_file(dir.file("server.out")) == a);
    CHECK(test::read_file(dir.file("client.out")) == b);
    CHECK_MESSAGE(client.output().find("rekeyed") != std::string::npos, client.output());
    CHECK_MESSAGE(server.output().find("peer moved to") != std::string::npos, server.output());
}

TEST_CASE("tapsec connect minimalt: a record signed by another key is refused with one line") {
    test::TempDir dir;
    const auto port = test::free_port(SOCK_DGRAM);
    Keys keys(port);
    test::write_file(dir.file("dir.hex"), to_hex(keys.client.directory_record));
    test::Process client({tapsec_tool, "connect", "minimalt", "127.0.0.1:" + std::to_string(port), "--directory",
                          dir.file("dir.hex"), "--server-key", std::string(64, 'a')},
                         dir.file("client.log"));
    CHECK(client.wait(10s) == 1);
    CHECK_MESSAGE(client.output().find("directory record signed by an untrusted key") != std::string::npos, client.output());
}

TEST_CASE("tapsec listen --require-user: the user proven by --user-key is served, another is refused") {
    test::TempDir dir;
    // The user's key file is created on first use and its public key printed.
    test::Process keygen({tapsec_tool, "connect", "minimalt", "127.0.0.1:9", "--user-key", dir.file("alice.key")},
                         dir.file("keygen.log"));
    keygen.wait(10s);
    const std::string keygen_log = keygen.output();
    const auto at = keygen_log.find("user key ");
    REQUIRE_MESSAGE(at != std::string::npos, keygen_log);
    const std::string alice = keygen_log.substr(at + 9, 64);
    for (const bool as_alice : {true, false}) {
        CAPTURE(as_alice);
        const std::string run = as_alice ? "alice" : "mallory";  // fresh files per run: no stale log is read
        const auto port = std::to_string(test::free_port(SOCK_DGRAM));
        test::Process server({"sh", "-c",
                              tapsec_tool + " listen minimalt 127.0.0.1:" + port + " --directory " + dir.file(run + ".hex") +
                                  " --require-user " + alice + " --verbose < /dev/null"},
                             dir.file(run + "-server.log"));
        REQUIRE_MESSAGE(server.wait_for_output("connect with"), server.output());
        const std::string log = server.output();
        const std::string key = log.substr(log.find("--server-key ") + 13, 64);
        test::Process client({"sh", "-c",
                              tapsec_tool + " connect minimalt 127.0.0.1:" + port + " --directory " + dir.file(run + ".hex") +
                                  " --server-key " + key + " --user-key " + dir.file(run + ".key") + " < /dev/null"},
                             dir.file(run + "-client.log"));
        if (as_alice) {
            CHECK_MESSAGE(client.wait(20s) == 0, client.output());
            CHECK_MESSAGE(server.wait(20s) == 0, server.output());
            CHECK_MESSAGE(server.output().find("user " + alice.substr(0, 16)) != std::string::npos, server.output());
        } else {
            CHECK_MESSAGE(client.wait(20s) == 1, client.output());
            CHECK_MESSAGE(server.wait(20s) == 1, server.output());
            CHECK_MESSAGE(client.output().find("connection refused by the server") != std::string::npos, client.output());
            CHECK_MESSAGE(server.output().find("user not authorized") != std::string::npos, server.output());
        }
    }
}

}  // namespace minimalt_udp_test
