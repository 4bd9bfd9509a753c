// `tapsec listen zrtp` and `tapsec connect zrtp` as two processes on loopback: the ZRTP
// exchange, the same SAS printed on both sides, a line of media each way through the
// ZRTP-keyed SRTP record, and exit 0 on both sides once their input has ended. Then a
// wrong usage: an unknown key agreement is a one-line configuration error. And the
// concurrent listener (--echo on datagram_server.hpp): three clients at once, each with its
// own SAS and its own media reflected, while a peer stuck after its Hello and a junk
// sender are around; SIGTERM ends the server with 0.
#include <doctest/doctest.h>

#include <csignal>
#include <regex>
#include <thread>

#include <tapsec/tapsec.hpp>
#include <tapsec/zrtp.hpp>

#include "support/process.hpp"

using namespace tapsec::test;

// Everything in this file's own namespace (the tests are built as one unity source).
namespace zrtp_cli_test {

const std::string tapsec_tool = TAPSEC_TOOL_PATH;

std::string sas_in(const std::string& output) {
    std::smatch m;
    if (std::regex_search(output, m, std::regex("SAS ([a-z0-9]{4})"))) return m[1];
    return {};
}

using Client = tapsec::Secure<tapsec::ZrtpHandshake, tapsec::SrtpRecord, tapsec::Udp>;

/// An RTP packet (version 2, payload type 96) number `sequence` carrying `payload`.
tapsec::Bytes rtp_packet(std::uint32_t ssrc, std::uint16_t sequence, const std::string& payload) {
    tapsec::Bytes rtp;
    tapsec::wire::Writer w(rtp);
    w.u8(0x80);
    w.u8(96);
    w.u16(sequence);
    w.u32(160u * sequence);
    w.u32(ssrc);
    w.bytes(tapsec::as_bytes(payload));
    return rtp;
}

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

TEST_CASE("tapsec listen zrtp --echo: three clients at once with their own SAS and media; a stuck peer blocks none; SIGTERM exits 0") {
    TempDir dir;
    const auto port = free_port(SOCK_DGRAM);
    const auto server_address = *tapsec::Endpoint::parse("127.0.0.1", port);
    Process server({tapsec_tool, "listen", "zrtp", "127.0.0.1:" + std::to_string(port), "--echo", "--forever",
                    "--handshake-timeout", "20"},
                   dir.file("server.log"));
    REQUIRE_MESSAGE(server.wait_for_output("listening on"), server.output());

    // A junk sender, then a peer that sends its Hello and nothing more: the server holds an
    // engine for it (ZRTP has no cookie) until --handshake-timeout, and no client waits for it.
    auto stuck = tapsec::Udp::connect(server_address);
    REQUIRE(stuck);
    REQUIRE_FALSE(stuck->send_to(tapsec::as_bytes(std::string("not zrtp at all")), server_address));
    {
        tapsec::zrtp::Config stuck_config;
        tapsec::zrtp::Engine<tapsec::SrtpRecord, tapsec::crypto::Botan2> engine(tapsec::Role::client, stuck_config);
        REQUIRE_FALSE(engine.start(tapsec::Clock::now()));
        auto hello = engine.poll_transmit();
        REQUIRE(hello);
        REQUIRE_FALSE(stuck->send_to(hello->data, server_address));
        std::array<std::uint8_t, 2048> answer;
        tapsec::Endpoint from;
        auto got = stuck->receive_from(answer, tapsec::Clock::now() + std::chrono::seconds(5), from);
        REQUIRE_MESSAGE(got, got.error().message());  // the server's Hello: it holds state for us
    }

    constexpr int clients = 3;
    std::vector<std::string> sas(clients);
    std::vector<std::unique_ptr<Client>> open;
    for (int i = 0; i < clients; ++i) {  // all three keyed before any media: served at once
        tapsec::zrtp::Config config;
        config.on_sas = [&sas, i](const tapsec::zrtp::Sas& s) { sas[i] = s.rendering; };
        config.handshake_timeout = std::chrono::seconds(10);
        auto udp = tapsec::Udp::connect(server_address);
        REQUIRE(udp);
        open.push_back(std::make_unique<Client>(tapsec::Role::client, config, std::move(*udp)));
        auto ec = open.back()->handshake();
        REQUIRE_MESSAGE(!ec, (ec.message() + "\n" + server.output()));
    }
    std::vector<std::string> failures(clients);
    std::vector<std::thread> threads;
    for (int id = 0; id < clients; ++id)
        threads.emplace_back([&, id] {
            for (int i = 0; i < 3; ++i) {
                const auto packet = rtp_packet(0x7a9c0100u + static_cast<std::uint32_t>(id), static_cast<std::uint16_t>(i + 1),
                                               "media of client " + std::to_string(id) + " #" + std::to_string(i));
                if (auto ec = open[id]->send(packet)) return void(failures[id] = "send: " + ec.message());
                auto echo = open[id]->receive_message(std::chrono::seconds(5));
                if (!echo) return void(failures[id] = "receive: " + echo.error().message());
                if (*echo != packet) return void(failures[id] = "the echo differs from what was sent");
            }
        });
    for (auto& t : threads) t.join();
    for (int id = 0; id < clients; ++id) {
        CHECK_MESSAGE(failures[id].empty(), "client " << id << ": " << failures[id]);
        CHECK_MESSAGE(server.output().find("SAS " + sas[id]) != std::string::npos, "client " << id << " SAS " << sas[id]);
    }
    ::kill(server.pid(), SIGTERM);
    CHECK_MESSAGE(server.wait(std::chrono::seconds(10)) == 0, server.output());
    CHECK_MESSAGE(server.output().find("closing every connection") != std::string::npos, server.output());
    CHECK(count_of(server.output(), "accepted: ZRTP") == 3);
}

}  // namespace zrtp_cli_test
