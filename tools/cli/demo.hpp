// `tapsec demo` for one composition: an echo server on a thread and a client in this
// one, over loopback; times the handshake and one echo. The compositions differ only in
// how each side gets its connection and how the result is described, so those are the
// parameters; the exchange, the timing and the checks are here once.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <thread>

#include <tapsec/core/engine.hpp>
#include <tapsec/core/errors.hpp>

#include "registry.hpp"

namespace tapsec::cli {

/// make_server() -> Result<Conn> runs on the server thread (it may accept there);
/// make_client() -> Result<Conn> dials. check(server, client) may veto the result with
/// an error line (e.g. both sides must derive the same session ID); describe(client)
/// gives the "negotiated" text.
template <class Conn, class MakeServer, class MakeClient, class Check, class Describe>
DemoResult run_echo_demo(MakeServer make_server, MakeClient make_client, Check check, Describe describe,
                         std::chrono::milliseconds wait = std::chrono::seconds(10)) {
    DemoResult result;
    std::optional<Conn> server_side;
    std::string server_error;
    std::thread server([&] {
        auto conn = make_server();
        if (!conn) return void(server_error = conn.error().message());
        server_side.emplace(std::move(*conn));
        if (auto ec = server_side->handshake()) return void(server_error = ec.message());
        auto message = server_side->receive_message(wait);
        if (!message) return void(server_error = message.error().message());
        if (auto ec = server_side->send(*message)) return void(server_error = ec.message());
        // Stay for the client's close (or a lost final flight), then close.
        auto end = server_side->receive_message(std::chrono::seconds(2));
        (void)end;
        server_side->close();
    });
    const auto t0 = Clock::now();
    auto client = make_client();
    if (!client) {
        server.join();
        result.error = "connect: " + client.error().message();
        return result;
    }
    auto ec = client->handshake();
    const auto t1 = Clock::now();
    const std::string ping = "tapsec demo ping";
    Result<Bytes> echo = ec ? Result<Bytes>(ec) : Result<Bytes>(Bytes{});
    if (!ec) {
        if ((ec = client->send(as_bytes(ping))))
            echo = ec;
        else
            echo = client->receive_message(wait);
    }
    const auto t2 = Clock::now();
    client->close();
    server.join();
    if (!echo) {
        result.error = echo.error().message();
        return result;
    }
    if (!server_error.empty()) {
        result.error = "server: " + server_error;
        return result;
    }
    if (std::string(echo->begin(), echo->end()) != ping) {
        result.error = "the echo differs from what was sent";
        return result;
    }
    if (std::string veto = check(*server_side, *client); !veto.empty()) {
        result.error = veto;
        return result;
    }
    result.ok = true;
    result.negotiated = describe(*client);
    result.handshake_ms = std::chrono::duration<double, std::milli>(t1 - t0).count();
    result.echo_ms = std::chrono::duration<double, std::milli>(t2 - t1).count();
    return result;
}

/// For demos without a cross-check.
struct NoCheck {
    template <class Conn>
    std::string operator()(Conn&, Conn&) const {
        return {};
    }
};

}  // namespace tapsec::cli
