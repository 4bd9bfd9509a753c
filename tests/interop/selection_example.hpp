// The example of docs/selection.md (the doc shows this file; a test checks they agree).
#pragma once

#include <chrono>
#include <string>
#include <type_traits>
#include <variant>

#include <tapsec/tapsec.hpp>
#include <tapsec/taps/race.hpp>

namespace example {
using namespace tapsec;

// Mutual authentication and a reliable stream are required; out-of-order receipt (no
// head-of-line blocking) is preferred, so QUIC ranks (and starts) first and TLS 1.3 over
// TCP follows 250 ms later (both may send early data; avoiding it would not separate them). Asking for `taps::require<feature::LHP>` together with
// `taps::require<taps::datagrams>` here would not compile: no candidate offers both.
using Choice = taps::Selection<
    taps::properties<taps::require<feature::MA>, taps::require<taps::reliable_stream>,
                     taps::prefer<feature::out_of_order_receipt>>,
    taps::candidates<taps::candidate<"tls13", Secure<Tls13Handshake, AeadRecord, Tcp>>,
                     taps::candidate<"quic", Secure<Tls13Handshake, QuicPacketProtection, Udp>>>>;
static_assert(taps::best<Choice>::name == "quic");

/// Connects to host:port over whichever candidate is established first, sends `request`
/// and returns the first reply. On failure: empty, and `error` says why.
inline std::string ask(const std::string& host, std::uint16_t port, const tls13::Config& config,
                       const std::string& request, std::string& error, std::string& protocol,
                       taps::RaceOptions options = {}) {
    // Both candidates take a tls13::Config; a callable taking std::type_identity<Secure<...>>
    // would give each composition its own.
    auto outcome = taps::initiate<Choice>(taps::Remote{host, port}, config, options);
    if (!outcome) {
        error = outcome.failure();
        return {};
    }
    protocol = std::string(outcome.name);
    return std::visit(
        [&](auto& connection) -> std::string {
            if constexpr (std::is_same_v<std::decay_t<decltype(connection)>, std::monostate>) {
                return {};
            } else {
                if (auto ec = connection->send(as_bytes(request))) {
                    error = ec.message();
                    return {};
                }
                auto reply = connection->receive_message(std::chrono::seconds(5));
                if (!reply) {
                    error = reply.error().message();
                    return {};
                }
                connection->close();
                return std::string(reply->begin(), reply->end());
            }
        },
        outcome.connection);
}

}  // namespace example
