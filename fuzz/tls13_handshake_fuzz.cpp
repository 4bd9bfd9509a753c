// libFuzzer target: the TLS 1.3 handshake message parser (messages.hpp) and the state
// machines behind it (a ClientHello's cookie goes through the server's stateless-retry
// check). Input = handshake bytes as they would arrive in records; every
// decoder runs on every complete message, then the message goes to a fresh server
// (expects ClientHello) and a started client (expects ServerHello). Nothing may crash,
// read out of bounds or throw.
#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>

#include <tapsec/tls13/engine.hpp>

using namespace tapsec;
using namespace tapsec::tls13;

namespace {
const Config& psk_config() {
    static const Config config = [] {
        Config c;
        c.pre_shared_keys.push_back({"fuzz", SecretBytes(32, 7)});
        c.server_name = "localhost";
        // Injected sources: the same input takes the same path on every run (keys, randoms,
        // cookie and ticket times), so a finding reproduces exactly.
        c.random = [](MutableByteView out) { std::fill(out.begin(), out.end(), std::uint8_t{0x5a}); };
        c.wall_clock = [] { return std::chrono::system_clock::time_point(std::chrono::seconds(1'700'000'000)); };
        return c;
    }();
    return config;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const ByteView input(data, size);
    MessageBuffer buffer;
    buffer.add(input);
    ServerHandshake<crypto::Botan2> server(psk_config());
    ClientHandshake<crypto::Botan2> client(psk_config());
    if (server.start() || client.start({})) return 0;
    for (int i = 0; i < 64; ++i) {
        auto next = buffer.next();
        if (!next || !*next) break;
        const RawMessage& m = **next;
        const ByteView body = m.body();
        (void)decode_client_hello(body);
        (void)decode_server_hello(body);
        (void)decode_encrypted_extensions(body);
        (void)decode_certificate(body);
        (void)decode_certificate_request(body);
        (void)decode_certificate_verify(body);
        (void)decode_new_session_ticket(body);
        (void)decode_key_update(body);
        // What a ticket or a HelloRetryRequest cookie holds once unsealed (only authentic
        // data reaches these, but they must hold up on any bytes).
        (void)SessionState::parse(body);
        (void)HelloRetryCookie::parse(body);
        if (auto ch = decode_client_hello(body)) (void)encode(*ch);
        (void)server.handle(m);
        (void)client.handle(m);
        while (server.poll_action()) {
        }
        while (client.poll_action()) {
        }
    }
    return 0;
}
