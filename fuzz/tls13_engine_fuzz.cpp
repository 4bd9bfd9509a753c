// libFuzzer target: the whole TLS 1.3 engine (handshake, record layer, alerts, tickets,
// KeyUpdate, close) on a byte stream, client side and server side at once: a real
// client and a real server with the fuzzer as the network between them
// (engine_pair.hpp). The first input byte picks the configuration: PSK or certificates
// (a PKI made once at start-up), a forced HelloRetryRequest (cookie path), middlebox
// compatibility, client certificates, psk_ke, resumption with 0-RTT from a ticket the
// previous honest connection stored, automatic KeyUpdates, padding and
// record_size_limit. The rest of the input instructs the network.
#include <cstddef>
#include <cstdint>

#include <tapsec/tapsec.hpp>

#include "engine_pair.hpp"
#include "fuzz_pki.hpp"

using namespace tapsec;
using Engine = tls13::Engine<AeadRecord, crypto::Botan2>;

namespace {

void common(tls13::Config& c) {
    c.random = [](MutableByteView out) { fuzz::deterministic_random().fill(out); };
    c.wall_clock = fuzz::start_time;
}

}  // namespace

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
    fuzz::deterministic_random().reset(0x7a5ec + mode);

    tls13::Config client, server;
    common(client);
    common(server);
    client.server_name = "localhost";
    if (mode & 1) {
        const auto& creds = fuzz::credentials();
        server.identity = Identity(creds.server_pem, creds.server_key);
        client.trust.ca_certificates_pem = {creds.ca_pem};
        if (mode & 8) {
            server.require_client_certificate = true;
            server.trust.ca_certificates_pem = {creds.ca_pem};
            client.identity = Identity(creds.client_pem, creds.client_key);
        }
    } else {
        client.pre_shared_keys.push_back({"fuzz", SecretBytes(32, 7)});
        server.pre_shared_keys.push_back({"fuzz", SecretBytes(32, 7)});
        client.psk_only_key_exchange = server.psk_only_key_exchange = mode & 8;
    }
    server.force_hello_retry = mode & 2;
    client.middlebox_compatibility = server.middlebox_compatibility = !(mode & 4);
    if (mode & 0x40) {
        client.key_update_after_records = 2;
        server.key_update_after_records = 3;
    }
    if (mode & 0x80) {
        client.record_size_limit = 64;
        server.record_size_limit = 512;
        server.padding = tls13::PaddingPolicy::to_multiple_of(64);
    }
    if (mode & 0x10) {
        // Resumption: an honest first connection leaves a ticket in the client's cache;
        // the fuzzed connection resumes from it, with 0-RTT allowed.
        client.session_cache = std::make_shared<InMemorySessionCache>();
        server.ticket_key = tls13::TicketKey::generate<crypto::Botan2>(server);
        server.anti_replay = std::make_shared<tls13::AntiReplay>(64);
        server.max_early_data = 4096;
        Engine first_client(Role::client, client), first_server(Role::server, server);
        FuzzedDataProvider honest(nullptr, 0);
        fuzz::EnginePair(first_client, first_server, fuzz::Carrier::stream).run(honest);
    }
    if (mode & 0x20) server.cipher_suites = {"TLS_CHACHA20_POLY1305_SHA256"};

    Engine c(Role::client, client), s(Role::server, server);
    fuzz::EnginePair(c, s, fuzz::Carrier::stream).run(input);
    return 0;
}
