// MinimaLT configuration: CommonConfig plus the directory record and keys.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "../core/config.hpp"
#include "../core/engine.hpp"  // Instant
#include "../crypto/nacl_box.hpp"
#include "directory.hpp"

namespace tapsec::minimalt {

/// What the server engines of one socket share (a concurrent server's): a puzzle issued by
/// one engine must check out in the engine that takes the solved request, and the load
/// that turns puzzles on is the socket's, not one engine's.
struct RequestLoad {
    Instant window_start{};
    std::uint32_t requests = 0;  // tunnel requests since window_start (one second)
};
struct SharedServerState {
    SecretArray<32> puzzle_key;  // drawn once by whoever makes the state
    RequestLoad load;
};

struct Config : CommonConfig {
    /// Puzzles only under load by default (CommonConfig's default demands proof always).
    Config() { source_validation = SourceValidation::under_load; }

    // ---- client ----
    /// The server's signed directory record, as the client looked it up.
    Bytes directory_record;
    /// The server's long-term Ed25519 public key the client trusts (32 bytes).
    Bytes trusted_server_key;
    /// The service the client's first connection (connection 1) is created for.
    std::string service = "tapsec";
    /// The user's long-term Curve25519 secret: when set, connections are created with
    /// createAuth, proving the user key U to the server (the paper's user
    /// authentication); empty, the client is anonymous.
    SecretBytes user_secret;

    // ---- server ----
    /// Ed25519 seed of the long-term key that signs the directory record.
    SecretBytes long_term_seed;
    /// Curve25519 secret of the ephemeral key S' the record publishes.
    SecretBytes ephemeral_secret;
    /// Puzzles: the difficulty demanded (bits) and the tunnel requests per second
    /// beyond which they are demanded (CommonConfig::source_validation: under_load uses
    /// the threshold, always demands them from every request, never turns them off).
    std::uint8_t puzzle_difficulty = 16;
    std::uint32_t puzzle_threshold = 100;
    std::chrono::seconds puzzle_lifetime{10};
    /// Services the server accepts connections for; empty accepts any name.
    std::vector<std::string> services;
    /// User keys (U) allowed to create connections; empty allows any proven user. With
    /// CommonConfig::require_client_certificate set, anonymous create() is refused (the
    /// name is the shared "mutual authentication" switch). CommonConfig::validate_peer is
    /// called with each proven user key and may refuse it.
    std::vector<PublicKey> authorized_users;
    /// Shared by every engine of one socket (see SharedServerState); none: the engine's own.
    std::shared_ptr<SharedServerState> shared_server_state;

    // ---- both ----
    /// Bytes the application may queue for sending beyond what the congestion window
    /// has in flight, and bytes of received data waiting for the application.
    std::size_t max_send_queue = 4u << 20;
    std::size_t max_receive_queue = 4u << 20;
    unsigned max_retransmissions = 12;
    /// A side with nothing to send sends a keepalive (a padding frame, which the peer
    /// acknowledges) after this long; a tunnel that hears nothing authentic for
    /// idle_timeout fails. Zero turns each off.
    std::chrono::milliseconds keepalive_interval{15'000};
    std::chrono::milliseconds idle_timeout{60'000};
};

/// What a server publishes: fresh keys where the configuration has none, and the
/// record signed with the long-term key. The record's ephemeral key expires after
/// `validity`; the server then publishes a new one (docs/minimalt.md).
template <class Crypto>
Result<Bytes> publish_record(Config& server, std::string name, std::string address, std::chrono::seconds validity) {
    if (server.long_term_seed.empty()) {
        server.long_term_seed.resize(32);
        draw_random<Crypto>(server, server.long_term_seed);
    }
    if (server.ephemeral_secret.empty()) {
        server.ephemeral_secret.resize(32);
        draw_random<Crypto>(server, server.ephemeral_secret);
    }
    if (server.long_term_seed.size() != 32 || server.ephemeral_secret.size() != 32)
        return make_error_code(Error::invalid_configuration);
    DirectoryRecord r;
    r.name = std::move(name);
    r.address = std::move(address);
    r.ephemeral_key = crypto::nacl::public_key_of(server.ephemeral_secret);
    r.not_after = static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::seconds>((wall_now(server) + validity).time_since_epoch()).count());
    r.puzzle_difficulty = server.puzzle_difficulty;
    r.puzzle_threshold = server.puzzle_threshold;
    auto bytes = sign_record<Crypto>(r, server.long_term_seed);
    if (bytes) server.directory_record = *bytes;
    return bytes;
}

}  // namespace tapsec::minimalt
