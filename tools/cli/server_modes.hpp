// Server modes for every stream protocol's `listen`, as openssl s_server offers them:
// --echo sends back what arrives, --rev answers each line reversed (s_server -rev),
// --www answers an HTTP GET with a small status page and closes (s_server -www).
// One implementation: each listener picks the mode with take_listen_options() and hands
// the Responder to pump() (stdio.hpp); the modes see only plaintext, so they run the same
// over any Secure<> composition and on a concurrent server.
#pragma once

#include <algorithm>
#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include <tapsec/core/endpoint.hpp>
#include <tapsec/core/engine.hpp>

#include "registry.hpp"
#include "stdio.hpp"

namespace tapsec::cli {

enum class ServerMode { stdio, echo, rev, www };

inline constexpr const char* server_modes_usage =
    "  --echo                send back whatever the client sends\n"
    "  --rev                 answer each line with the line reversed (as openssl s_server -rev)\n"
    "  --www                 answer an HTTP GET with a status page (protocol, suite, group, ALPN,\n"
    "                        resumed), then close (as openssl s_server -www)\n"
    "  --timeout SECONDS     per-connection handshake timeout (default 10): an idle client\n"
    "                        cannot hold the listener\n"
    "  PORT alone listens on all interfaces (0.0.0.0); ADDR:PORT or [V6ADDR]:PORT on one\n";

/// The listener options every stream protocol shares.
struct ListenOptions {
    ServerMode mode = ServerMode::stdio;
    std::chrono::milliseconds handshake_timeout = std::chrono::seconds(10);
};

/// The mode options alone, for listeners whose handshake wait is their own (the UDP
/// listeners of MinimaLT and CurveCP wait for their one client).
inline constexpr const char* server_mode_flags_usage =
    "  --echo                send back whatever the client sends\n"
    "  --rev                 answer each line with the line reversed (as openssl s_server -rev)\n"
    "  --www                 answer an HTTP GET with a status page, then close (as s_server -www)\n";

/// Takes --echo / --rev / --www; returns an error line, or empty.
inline std::string take_server_mode(Arguments& args, ServerMode& out) {
    int modes = 0;
    if (args.flag("--echo")) out = ServerMode::echo, ++modes;
    if (args.flag("--rev")) out = ServerMode::rev, ++modes;
    if (args.flag("--www")) out = ServerMode::www, ++modes;
    if (modes > 1) return "--echo, --rev and --www exclude each other";
    return {};
}

/// Takes --echo / --rev / --www and --timeout; returns an error line, or empty.
inline std::string take_listen_options(Arguments& args, ListenOptions& out) {
    if (auto error = take_server_mode(args, out.mode); !error.empty()) return error;
    if (auto t = args.take("--timeout")) {
        double seconds = -1;
        try {
            std::size_t used = 0;
            seconds = std::stod(*t, &used);
            if (used != t->size()) seconds = -1;
        } catch (const std::exception&) {
        }
        if (!(seconds > 0) || seconds > 86400) return "--timeout needs a number of seconds (0 < SECONDS <= 86400)";
        out.handshake_timeout = std::chrono::milliseconds(static_cast<long long>(seconds * 1000));
    }
    return {};
}

/// The handshake failed: says what actually failed. A peer that resets right after
/// verifying our Finished (openssl s_time) completed the handshake; the failure is the
/// write that followed it (e.g. the session ticket).
template <class Connection>
std::string describe_handshake_failure(const Connection& connection, std::error_code ec, const std::string& detail) {
    if (connection.is_established())
        return "handshake completed, then the peer went away: " + ec.message() + " (sending what follows the handshake)";
    return detail.empty() ? ec.message() : detail;
}

class EchoResponder final : public Responder {
public:
    bool on_data(ByteView in, Bytes& reply) override {
        reply.assign(in.begin(), in.end());
        return false;
    }
};

/// Each complete line back reversed, its line ending kept as "\n"; a line longer than
/// max_line is answered in pieces, so memory stays bounded.
class RevResponder final : public Responder {
public:
    static constexpr std::size_t max_line = 64 * 1024;
    bool on_data(ByteView in, Bytes& reply) override {
        for (const auto byte : in) {
            if (byte == '\n') {
                if (!line_.empty() && line_.back() == '\r') line_.pop_back();
                answer(reply, true);
            } else {
                line_.push_back(byte);
                if (line_.size() == max_line) answer(reply, false);
            }
        }
        return false;
    }

private:
    void answer(Bytes& reply, bool newline) {
        reply.insert(reply.end(), line_.rbegin(), line_.rend());
        if (newline) reply.push_back('\n');
        line_.clear();
    }
    Bytes line_;
};

/// An HTTP/1.0 exchange: one request head (bounded), one answer, then our close.
class WwwResponder final : public Responder {
public:
    static constexpr std::size_t max_request = 16 * 1024;
    explicit WwwResponder(std::string page) : page_(std::move(page)) {}
    bool on_data(ByteView in, Bytes& reply) override {
        if (answered_) return true;
        request_.append(reinterpret_cast<const char*>(in.data()), in.size());
        const bool complete = request_.find("\r\n\r\n") != std::string::npos || request_.find("\n\n") != std::string::npos;
        if (!complete && request_.size() <= max_request) return false;
        answered_ = true;
        if (!complete)
            respond(reply, "431 Request Header Fields Too Large", "request head over 16 KiB\n");
        else if (request_.rfind("GET ", 0) == 0)
            respond(reply, "200 OK", page_);
        else
            respond(reply, "501 Not Implemented", "only GET is answered\n");
        return true;
    }

private:
    static void respond(Bytes& reply, const std::string& status, const std::string& body) {
        const std::string text = "HTTP/1.0 " + status + "\r\nContent-Type: text/plain\r\nContent-Length: " +
                                 std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
        reply.assign(text.begin(), text.end());
    }
    std::string page_;
    std::string request_;
    bool answered_ = false;
};

/// The --www page: what was negotiated on this connection.
inline std::string status_page(const SessionInfo& info, const std::string& composition) {
    std::string page = "tapsec " + composition + "\n";
    page += "Protocol: " + info.protocol + "\n";
    page += "Cipher suite: " + info.cipher_suite + "\n";
    page += "Group: " + (info.group.empty() ? std::string("(none)") : info.group) + "\n";
    page += "ALPN: " + (info.alpn.empty() ? std::string("(none)") : info.alpn) + "\n";
    page += std::string("Resumed: ") + (info.resumed ? "yes" : "no") + "\n";
    if (!info.peer.subject.empty()) page += "Client certificate: " + info.peer.subject + "\n";
    return page;
}

/// The Responder of `mode` (none for stdio); `info` and `composition` fill the --www page.
inline std::unique_ptr<Responder> make_responder(ServerMode mode, const SessionInfo& info, const std::string& composition) {
    switch (mode) {
        case ServerMode::stdio: break;
        case ServerMode::echo: return std::make_unique<EchoResponder>();
        case ServerMode::rev: return std::make_unique<RevResponder>();
        case ServerMode::www: return std::make_unique<WwwResponder>(status_page(info, composition));
    }
    return nullptr;
}

/// Serves one established connection in `mode`: stdin/stdout, or a Responder.
template <NonBlockingConnection C>
int serve_connection(C& connection, ServerMode mode, const std::string& composition, PumpOptions options) {
    const std::unique_ptr<Responder> responder = make_responder(mode, connection.info(), composition);
    options.responder = responder.get();
    return pump(connection, options);
}

}  // namespace tapsec::cli
