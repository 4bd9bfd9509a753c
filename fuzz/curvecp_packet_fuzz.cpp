// Fuzzes CurveCP's packet parsing and the engines' receive paths: wire::classify and
// the packet views, a server engine (Hello, Initiate, Message handling before and
// after a connection exists) and a client engine in each of its states. The first
// input byte picks the receiver and may stamp a valid magic and the configured
// extensions on the packet, so the fuzzer gets past the cheap checks into the boxes,
// the cookie and the replay window. Any crash, sanitizer report or hang is a bug.
#include <cstddef>
#include <cstdint>
#include <cstring>

#include <tapsec/curvecp.hpp>

using namespace tapsec;
using Engine = Secure<CurveCpHandshake, CurveCpRecord, Udp>::Engine;

namespace {

curvecp::KeyPair key(std::uint8_t seed) {
    curvecp::KeyPair k;
    for (std::size_t i = 0; i < 32; ++i) k.secret_key[i] = static_cast<std::uint8_t>(seed + i);
    k.public_key = crypto::nacl::public_key_of(k.secret_key);
    return k;
}

struct Fixture {
    curvecp::Config client_config, server_config;
    Endpoint address = *Endpoint::parse("127.0.0.1:1");
    Instant now = Instant{} + std::chrono::hours(1);
    Fixture() {
        server_config.long_term_key = key(1);
        server_config.server_name = client_config.server_name = "fuzz";
        client_config.server_public_key = server_config.long_term_key->public_key;
        server_config.server_extension[0] = client_config.server_extension[0] = 7;
        client_config.client_extension[0] = 9;
    }
    /// A connected pair: the Hello, Cookie and Initiate exchanged.
    void connect(Engine& client, Engine& server) {
        (void)client.start(now);
        Bytes buffer(max_transmit_size);
        for (int round = 0; round < 4; ++round) {
            while (auto t = client.poll_transmit(MutableByteView(buffer)))
                (void)server.receive(ByteView(buffer.data(), t->size), address, now);
            while (auto t = server.poll_transmit(MutableByteView(buffer)))
                (void)client.receive(ByteView(buffer.data(), t->size), address, now);
        }
    }
};

const char* const magics[] = {"QvnQ5XlH", "RL3aNMXK", "QvnQ5XlI", "QvnQ5XlM", "RL3aNMXM"};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static Fixture f;
    if (size < 1) return 0;
    const std::uint8_t control = data[0];
    Bytes packet(data + 1, data + size);
    if ((control & 0x08) && packet.size() >= 40) {  // a valid magic and the right extensions
        std::memcpy(packet.data(), magics[(control >> 4) % 5], 8);
        const bool from_server = packet[0] == 'R';
        packet[from_server ? 8 : 24] = 9;
        packet[from_server ? 24 : 8] = 7;
        for (int i = 1; i < 16; ++i) packet[8 + i] = packet[24 + i] = 0;
    }
    if (auto type = curvecp::wire::classify(packet)) {
        switch (*type) {
            case curvecp::wire::PacketType::hello: (void)curvecp::wire::Hello(packet).nonce; break;
            case curvecp::wire::PacketType::cookie: (void)curvecp::wire::Cookie(packet).box.size(); break;
            case curvecp::wire::PacketType::initiate: (void)curvecp::wire::Initiate(packet).nonce; break;
            case curvecp::wire::PacketType::client_message: (void)curvecp::wire::ClientMessage(packet).nonce; break;
            case curvecp::wire::PacketType::server_message: (void)curvecp::wire::ServerMessage(packet).nonce; break;
        }
    }
    Engine client(Role::client, f.client_config), server(Role::server, f.server_config);
    switch (control & 0x03) {
        case 0: (void)server.receive(packet, f.address, f.now); break;  // a fresh server
        case 1: (void)client.start(f.now); (void)client.receive(packet, f.address, f.now); break;  // awaiting a Cookie
        default:                                                       // both connected
            f.connect(client, server);
            if (control & 0x04) (void)client.receive(packet, f.address, f.now);
            else (void)server.receive(packet, f.address, f.now);
            break;
    }
    Bytes out(max_transmit_size);
    while (client.poll_transmit(MutableByteView(out))) {}
    while (server.poll_transmit(MutableByteView(out))) {}
    while (client.poll_plaintext()) {}
    while (server.poll_plaintext()) {}
    return 0;
}
