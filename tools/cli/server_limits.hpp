// What every concurrent listener bounds, whatever its transport: the TCP server
// (concurrent_server.hpp) and the datagram server (datagram_server.hpp) take the same
// options with the same meaning, parsed in one place.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "registry.hpp"

namespace tapsec::cli {

struct ServerLimits {
    std::chrono::milliseconds handshake_timeout = std::chrono::seconds(5);
    std::size_t max_pending = 1024;  // peers still in their handshake; at the cap the oldest is dropped
    std::size_t max_conns = 10000;   // peers at once; more are refused
    std::uint64_t naccept = 1;       // 0: until SIGTERM / SIGINT (--forever)
    bool quiet = false;
};

/// Takes --max-pending, --max-conns, --naccept and --forever; `timeout_option` is
/// --handshake-timeout when the command took it. An error message, or empty.
inline std::string take_server_limits(Arguments& args, ServerLimits& out,
                                      std::optional<std::chrono::milliseconds> timeout_option) {
    if (timeout_option) out.handshake_timeout = *timeout_option;
    if (auto n = args.take_uint("--max-pending", 1, 1000000)) out.max_pending = *n;
    if (auto n = args.take_uint("--max-conns", 1, 1000000)) out.max_conns = *n;
    const bool forever = args.flag("--forever");
    if (auto n = args.take_uint("--naccept", 1, 1000000)) {
        if (forever) return "--forever and --naccept exclude each other";
        out.naccept = *n;
    }
    if (forever) out.naccept = 0;
    return {};
}

}  // namespace tapsec::cli
