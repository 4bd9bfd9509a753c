// The concurrent `tapsec listen tls13` (tools/cli/concurrent_server.hpp, issue 14 item 3):
// 32 clients at once each get their own --rev answers; SIGTERM with connections open sends
// each its close_notify and exits 0; --max-pending drops the oldest handshake; an idle
// client is cut at --handshake-timeout. The clients are tapsec's blocking TLS 1.3 over
// TCP in threads (loopback only); every wait is for an event, bounded.
#include <doctest/doctest.h>

#include <csignal>
#include <thread>

#include "stress/concurrent_clients.hpp"

using namespace tapsec;
using namespace tapsec::test;

TEST_CASE("concurrent listen tls13: 32 clients at once, each gets its own --rev answers") {
    ListenFixture f;
    auto server = f.listen({"--rev", "--forever"});
    REQUIRE_MESSAGE(server->wait_for_output("listening"), server->output());
    constexpr int clients = 32, lines = 20;
    std::atomic<int> ready{0}, answered{0};
    std::vector<std::string> failures(clients);
    std::vector<std::thread> threads;
    for (int id = 0; id < clients; ++id)
        threads.emplace_back([&, id] {
            auto client = f.client();
            if (!client) return void(failures[id] = "handshake: " + client.error().message());
            // Every client holds its connection open before any sends: they are served at once.
            ++ready;
            while (ready.load() < clients) std::this_thread::yield();
            for (int i = 0; i < lines; ++i) {
                const std::string line = "client " + std::to_string(id) + " line " + std::to_string(i);
                if (auto ec = client->send(as_bytes(line + "\n"))) return void(failures[id] = "send: " + ec.message());
                const std::string want(line.rbegin(), line.rend());
                auto got = read_line(*client);
                if (!got) return void(failures[id] = "receive: " + got.error().message());
                if (*got != want) return void(failures[id] = "got '" + *got + "', wanted '" + want + "'");
            }
            (void)client->close();
            ++answered;
        });
    for (auto& t : threads) t.join();
    for (int id = 0; id < clients; ++id) CHECK_MESSAGE(failures[id].empty(), "client " << id << ": " << failures[id]);
    CHECK(answered.load() == clients);
    ::kill(server->pid(), SIGTERM);
    CHECK_MESSAGE(server->wait(std::chrono::seconds(10)) == 0, server->output());
}

TEST_CASE("concurrent listen tls13: SIGTERM sends every open connection its close_notify, then exit 0") {
    ListenFixture f;
    auto server = f.listen({"--echo", "--forever"});
    REQUIRE_MESSAGE(server->wait_for_output("listening"), server->output());
    constexpr int clients = 8;
    std::vector<Result<ListenFixture::Client>> open;
    for (int i = 0; i < clients; ++i) {
        open.push_back(f.client());
        REQUIRE_MESSAGE(open.back(), open.back().error().message());
        REQUIRE(!open.back()->send(as_bytes(std::string("ping\n"))));
        auto echo = read_line(*open.back());
        REQUIRE_MESSAGE(echo, echo.error().message());
        CHECK(*echo == "ping");
    }
    // One more connection still in its handshake (a bare TCP connection): dropped at the stop.
    RawConnection idle(f.port);
    REQUIRE(idle.ok());
    ::kill(server->pid(), SIGTERM);
    for (int i = 0; i < clients; ++i) {
        std::array<std::uint8_t, 64> buffer;
        // 0 bytes is the peer's close_notify (an error would be a truncation or a timeout).
        auto got = open[i]->receive(buffer, std::chrono::seconds(5));
        CHECK_MESSAGE(got, "client " << i << ": " << (got ? std::string() : got.error().message()));
        if (got) CHECK_MESSAGE(*got == 0, "client " << i << " read data instead of the close");
        (void)open[i]->close();  // answers the close: the server stops waiting for it
    }
    CHECK_MESSAGE(server->wait(std::chrono::seconds(10)) == 0, server->output());
    CHECK(idle.wait_closed(std::chrono::seconds(5)));
    CHECK_MESSAGE(server->output().find("closing every connection") != std::string::npos, server->output());
}

TEST_CASE("concurrent listen tls13: at --max-pending the oldest handshake is dropped, a real client is served") {
    ListenFixture f;
    auto server = f.listen({"--echo", "--forever", "--threads", "1", "--max-pending", "4", "--handshake-timeout", "30"});
    REQUIRE_MESSAGE(server->wait_for_output("listening"), server->output());
    std::vector<std::unique_ptr<RawConnection>> idle;
    for (int i = 0; i < 10; ++i) idle.push_back(std::make_unique<RawConnection>(f.port));
    auto client = f.client();
    REQUIRE_MESSAGE(client, (client.error().message() + "\n" + server->output()));
    REQUIRE(!client->send(as_bytes(std::string("still served\n"))));
    auto echo = read_line(*client);
    REQUIRE_MESSAGE(echo, echo.error().message());
    CHECK(*echo == "still served");
    // 11 connections, at most 4 pending: the 7 oldest idle ones were dropped, each counted.
    CHECK_MESSAGE(server->wait_for_output("7 dropped so far"), server->output());
    CHECK(idle.front()->wait_closed(std::chrono::seconds(5)));
    (void)client->close();
    ::kill(server->pid(), SIGTERM);
    CHECK_MESSAGE(server->wait(std::chrono::seconds(10)) == 0, server->output());
}

TEST_CASE("concurrent listen tls13: an idle connection is closed at --handshake-timeout with one line") {
    ListenFixture f;
    auto server = f.listen({"--www", "--forever", "--handshake-timeout", "0.5"});
    REQUIRE_MESSAGE(server->wait_for_output("listening"), server->output());
    const auto start = std::chrono::steady_clock::now();
    RawConnection idle(f.port);
    REQUIRE(idle.ok());
    CHECK(idle.wait_closed(std::chrono::seconds(5)));
    const auto took = std::chrono::steady_clock::now() - start;
    CHECK(took >= std::chrono::milliseconds(400));
    CHECK(took < std::chrono::seconds(3));
    CHECK_MESSAGE(server->wait_for_output("handshake timed out after 0.5 s"), server->output());
    CHECK(server->running());  // one connection's failure never stops the server
    ::kill(server->pid(), SIGTERM);
    CHECK_MESSAGE(server->wait(std::chrono::seconds(10)) == 0, server->output());
}

TEST_CASE("concurrent listen tls13 --keyupdate: every client gets a KeyUpdate, answers it, and the echo goes on") {
    ListenFixture f;
    auto server = f.listen({"--echo", "--forever", "--keyupdate"});
    REQUIRE_MESSAGE(server->wait_for_output("listening"), server->output());
    constexpr int clients = 8;
    std::vector<Result<ListenFixture::Client>> open;
    for (int i = 0; i < clients; ++i) {  // all open at once: each on its own coroutine
        open.push_back(f.client());
        REQUIRE_MESSAGE(open.back(), open.back().error().message());
    }
    for (int i = 0; i < clients; ++i) {
        auto& client = *open[i];
        const std::string first = "before " + std::to_string(i);
        REQUIRE(!client.send(as_bytes(first + "\n")));
        auto echo = read_line(client);  // the KeyUpdate came first: read under the new key
        REQUIRE_MESSAGE(echo, echo.error().message());
        CHECK(*echo == first);
        bool read_updated = false, write_updated = false;
        while (auto e = client.next_event()) {
            if (e->kind != EventKind::key_updated) continue;
            read_updated |= e->reason == tls13::Error::read_key_updated;
            write_updated |= e->reason == tls13::Error::write_key_updated;  // update_requested was answered
        }
        CHECK_MESSAGE(read_updated, "client " << i << ": no KeyUpdate from the server");
        CHECK_MESSAGE(write_updated, "client " << i << ": the server did not ask for our update");
        // The server reads this under our new key, and answers under its own.
        const std::string second = "after " + std::to_string(i);
        REQUIRE(!client.send(as_bytes(second + "\n")));
        auto again = read_line(client);
        REQUIRE_MESSAGE(again, again.error().message());
        CHECK(*again == second);
    }
    for (auto& c : open) (void)c->close();
    ::kill(server->pid(), SIGTERM);
    CHECK_MESSAGE(server->wait(std::chrono::seconds(10)) == 0, server->output());
    CHECK_MESSAGE(server->output().find("key update sent") != std::string::npos, server->output());
}
