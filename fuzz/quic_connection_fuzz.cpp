// libFuzzer target: a QUIC client and server connection fed whole datagrams, with the
// fuzzer as the network (engine_pair.hpp): Initial/Handshake/1-RTT packet protection,
// coalesced packets, the TLS 1.3 handshake in CRYPTO frames, transport parameters,
// streams, flow control, ACKs, loss recovery timers, connection close. First input
// byte: certificates or PSK, zero-length server connection IDs, tight flow-control limits,
// 0x08 resumption with 0-RTT (an honest first connection leaves a ticket; the fuzzed
// client sends stream data in 0-RTT packets), 0x10 QUIC version 2 (RFC 9369).
#include <cstddef>
#include <cstdint>

#include <tapsec/tapsec.hpp>

#include "engine_pair.hpp"
#include "fuzz_pki.hpp"

using namespace tapsec;
using Connection = quic::Connection<>;

// The PKI is made here, before libFuzzer's per-input timer starts: making it runs openssl
// several times, which on a loaded machine took longer than the -timeout of one input.
extern "C" int LLVMFuzzerInitialize(int*, char***) {
    (void)fuzz::credentials();
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    FuzzedDataProvider input(data, size);
    const auto mode = input.ConsumeIntegral<std::uint8_t>();
    fuzz::deterministic_random().reset(0x9c + mode);
    tls13::Config client, server;
    client.random = server.random = [](MutableByteView out) { fuzz::deterministic_random().fill(out); };
    client.wall_clock = server.wall_clock = fuzz::start_time;
    client.server_name = "localhost";
    client.alpn = server.alpn = {"tapsec"};
    if (mode & 1) {
        client.pre_shared_keys.push_back({"fuzz", SecretBytes(32, 9)});
        server.pre_shared_keys.push_back({"fuzz", SecretBytes(32, 9)});
    } else {
        const auto& creds = fuzz::credentials();
        server.identity = Identity(creds.server_pem, creds.server_key);
        client.trust.ca_certificates_pem = {creds.ca_pem};
    }
    quic::Settings client_settings, server_settings;
    if (mode & 2) server_settings.connection_id_length = 0;  // a client's first DCID must have 8+ bytes
    if (mode & 4) {
        server_settings.initial_max_data = 64;
        server_settings.initial_max_stream_data = 16;
        server_settings.initial_max_streams_bidi = 1;
    }
    if (mode & 0x10) client_settings.version = quic::version_2;
    if (mode & 0x08) {
        client.session_cache = std::make_shared<InMemorySessionCache>();
        server.tickets_to_send = 1;
        server.ticket_key = tls13::TicketKey::generate<crypto::Botan2>(server);
        server.anti_replay = std::make_shared<tls13::AntiReplay>(64);
        client_settings.early_data = server_settings.early_data = true;
        Connection first_client(Role::client, client, client_settings), first_server(Role::server, server, server_settings);
        FuzzedDataProvider honest(nullptr, 0);
        fuzz::EnginePair(first_client, first_server, fuzz::Carrier::datagram).run(honest);
    }
    Connection c(Role::client, client, client_settings), s(Role::server, server, server_settings);
    if (mode & 0x08) (void)c.send_early_data(as_bytes("GET / in 0-RTT"), Instant{});
    fuzz::EnginePair(c, s, fuzz::Carrier::datagram).run(input);
    return 0;
}
