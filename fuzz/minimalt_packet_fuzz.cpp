// Fuzzes MinimaLT's packet parsers and both engines' receive paths: the tunnel packet
// header, the puzzle packet, the frames inside a box, a server fed the datagram (as a
// tunnel request or as a packet of an established tunnel) and a client waiting for
// its tunnel (puzzle packets). The first input byte is a control byte:
//   bit 0: seal the rest as an authentic payload of the client (reaches the frame
//          parser and the connection logic behind the box);
//   bit 1: establish the tunnel first (otherwise the server sees a first request);
//   bit 2: put the server under load (puzzles demanded).
// Any crash, sanitizer report or hang is a bug.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include <tapsec/minimalt.hpp>

using namespace tapsec;
using Engine = minimalt::Engine<crypto::Botan2, MinimaltRecord>;

namespace {

struct Fixture {
    minimalt::Config server, client;
    Endpoint from = *Endpoint::parse("127.0.0.1:4000");
    Fixture() {
        auto record = minimalt::publish_record<crypto::Botan2>(server, "fuzz.test", "127.0.0.1:1", std::chrono::hours(1));
        client.directory_record = *record;
        client.trusted_server_key = crypto::Botan2::Ed25519::public_key(server.long_term_seed).value();
        server.puzzle_difficulty = 4;
    }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static Fixture f;
    if (size == 0) return 0;
    const std::uint8_t control = data[0];
    const ByteView input(data + 1, size - 1);
    const Instant now = Instant{} + std::chrono::seconds(100);

    // The parsers on their own.
    (void)minimalt::parse_packet_header(input);
    (void)minimalt::parse_puzzle_packet(input);
    (void)minimalt::for_each_frame(input, [](const minimalt::Frame&) { return std::error_code{}; });

    auto server_config = f.server;
    if (control & 4) server_config.source_validation = CommonConfig::SourceValidation::always;
    Engine server(Role::server, server_config), client(Role::client, f.client);
    if (client.start(now)) std::abort();
    std::array<std::uint8_t, max_transmit_size> out{};
    auto request = client.poll_transmit(MutableByteView(out));
    if (!request) std::abort();
    const Bytes request_packet(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(request->size));

    // A client waiting for its tunnel: puzzle packets and anything else.
    client.receive(input, f.from, now);

    if ((control & 2) && !(control & 4)) {
        server.receive(request_packet, f.from, now);
        if (!server.is_established()) std::abort();
    }
    if (control & 1) {
        // An authentic box around the fuzzer's payload, as the client would seal it.
        auto key = crypto::nacl::box_beforenm(ByteView(request_packet).subspan(16, 32), f.server.ephemeral_secret);
        if (!key) std::abort();
        minimalt::TunnelRecord<crypto::Botan2> forger;
        minimalt::TunnelKeys keys;
        keys.box_key = *key;
        keys.tid = client.tunnel_id();
        keys.client = true;
        if (forger.import(keys)) std::abort();
        auto header = minimalt::parse_packet_header(request_packet);
        if (!header || !header->client_key) std::abort();
        const minimalt::PublicKey* with_key = (control & 2) ? nullptr : &*header->client_key;
        auto n = forger.seal(input, MutableByteView(out), with_key);
        if (n) server.receive(ByteView(out.data(), *n), f.from, now);
    } else {
        server.receive(input, f.from, now);
    }
    while (server.poll_transmit(MutableByteView(out))) {}
    while (server.poll_plaintext()) {}
    return 0;
}
