// TLS 1.2 through Botan: --trace shows the alerts Botan sends itself, not only those it
// receives. Botan 2 has no callback for them; the engine sees them as alert records
// (plaintext before the ChangeCipherSpec, encrypted after it) and names them.
#include <doctest/doctest.h>

#include <algorithm>

#include <tapsec/tapsec.hpp>

#include "support/botan_tls_fixture.hpp"

using namespace tapsec;
using Engine = botan_tls::ChannelEngine<botan_tls::Carrier::stream>;

namespace tls12_alert_trace_test {

/// Everything one engine wants to send, into the other; `tamper` may change it.
std::error_code deliver(Engine& from, Engine& to, const std::function<void(Bytes&)>& tamper = {}) {
    while (auto t = from.poll_transmit()) {
        if (tamper) tamper(t->data);
        if (auto ec = to.receive(t->data, Endpoint{}, Clock::now())) return ec;
    }
    return {};
}

/// The trace lines, as `--trace` prints them.
struct TraceLog {
    std::vector<std::string> lines;
    TraceCallback callback() {
        return [this](const TraceRecord& r) { lines.push_back(format_trace(r)); };
    }
    bool has(const std::string& line) const { return std::find(lines.begin(), lines.end(), line) != lines.end(); }
    std::string all() const {
        std::string out;
        for (const auto& l : lines) out += l + "\n";
        return out;
    }
};

/// A handshake until both are established or either fails.
void handshake(Engine& client, Engine& server) {
    REQUIRE(!client.start(Clock::now()));
    REQUIRE(!server.start(Clock::now()));
    for (int round = 0; round < 20 && !(client.is_established() && server.is_established()); ++round) {
        if (deliver(client, server)) {
            (void)deliver(server, client);
            return;
        }
        if (deliver(server, client)) {
            (void)deliver(client, server);
            return;
        }
    }
}


TEST_CASE("tls12 trace: the alerts Botan sends are traced, plaintext and encrypted") {
    test::BotanTlsPki p;
    REQUIRE(p.pki.ok());
    TraceLog client_trace, server_trace;
    auto cc = p.client_config();
    auto sc = p.server_config();
    cc.trace = client_trace.callback();
    sc.trace = server_trace.callback();

    SUBCASE("a fatal alert after the handshake (encrypted): bad_record_mac") {
        Engine client(Role::client, cc), server(Role::server, sc);
        handshake(client, server);
        REQUIRE(client.is_established());
        REQUIRE(!client.send(Bytes{'x'}, Clock::now()));
        CHECK(deliver(client, server, [](Bytes& record) { record.back() ^= 0x01; }) == Errc::bad_record_mac);
        (void)deliver(server, client);
        CHECK_MESSAGE(server_trace.has("> alert fatal bad_record_mac (20)"), server_trace.all());
        CHECK_MESSAGE(client_trace.has("< alert fatal bad_record_mac (20)"), client_trace.all());
    }
    SUBCASE("a fatal alert during the handshake (plaintext): no common ALPN protocol") {
        cc.alpn = {"h2"};
        sc.alpn = {"imap"};
        Engine client(Role::client, cc), server(Role::server, sc);
        handshake(client, server);
        CHECK_MESSAGE(server_trace.has("> alert fatal no_application_protocol (120)"), server_trace.all());
        CHECK_MESSAGE(client_trace.has("< alert fatal no_application_protocol (120)"), client_trace.all());
    }
    SUBCASE("close_notify: ours, and the peer's answer to it") {
        Engine client(Role::client, cc), server(Role::server, sc);
        handshake(client, server);
        REQUIRE(server.is_established());
        REQUIRE(!client.close(Clock::now()));
        REQUIRE(!deliver(client, server));
        CHECK_MESSAGE(client_trace.has("> alert warning close_notify (0)"), client_trace.all());
        CHECK_MESSAGE(server_trace.has("< alert warning close_notify (0)"), server_trace.all());
        CHECK_MESSAGE(server_trace.has("> alert warning close_notify (0)"), server_trace.all());
        // No alert traced that was not sent: exactly one each way.
        CHECK(std::count(client_trace.lines.begin(), client_trace.lines.end(), "> alert warning close_notify (0)") == 1);
    }
}

}  // namespace tls12_alert_trace_test
