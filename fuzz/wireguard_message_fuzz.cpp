// Fuzzes WireGuard's message parsing and the engine's receive path: the four message
// parsers, the inner IP header inspection, and a responder engine fed the datagram.
// The first input byte is a control byte: bit 0 fixes up a valid mac1 (so the fuzzer
// reaches the Noise decryption and cookie code behind it), bit 1 puts the engine under
// load (mac2/cookie path). Any crash, sanitizer report or hang is a bug.
#include <cstddef>
#include <cstdint>

#include <tapsec/tapsec.hpp>

using namespace tapsec;
using namespace tapsec::wireguard;
using Provider = crypto::Botan2;

namespace {

struct Fixture {
    Config config;
    Key own_public{};
    Key mac1_key{};
    Fixture() {
        SecretArray<32> own;
        for (std::size_t i = 0; i < 32; ++i) own[i] = static_cast<std::uint8_t>(i + 1);
        config.interface.private_key = own;
        config.interface.has_private_key = true;
        SecretArray<32> peer;
        for (std::size_t i = 0; i < 32; ++i) peer[i] = static_cast<std::uint8_t>(200 - i);
        PeerSettings p;
        p.public_key = StaticIdentity<Provider>::from_private(peer)->public_key;
        p.allowed_ips = {*IpPrefix::parse("10.0.0.0/8"), *IpPrefix::parse("fd00::/8")};
        config.interface.peers.push_back(p);
        own_public = StaticIdentity<Provider>::from_private(own)->public_key;
        mac1_key = noise::hash(as_bytes(label_mac1), own_public);
    }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static Fixture fixture;
    if (size == 0) return 0;
    const std::uint8_t control = data[0];
    Bytes datagram(data + 1, data + size);

    (void)message_type(datagram);
    (void)parse_initiation(datagram);
    (void)parse_response(datagram);
    (void)parse_cookie_reply(datagram);
    (void)parse_transport_header(datagram);
    (void)inspect_ip_packet(datagram);
    (void)parse_ipv4_udp_packet(datagram);

    if (control & 1) {
        std::size_t offset = 0;
        if (datagram.size() == initiation_size) offset = Initiation::mac1_offset;
        if (datagram.size() == response_size) offset = Response::mac1_offset;
        if (offset) {
            const Mac mac1 = compute_mac(fixture.mac1_key, ByteView(datagram).first(offset));
            std::copy(mac1.begin(), mac1.end(), datagram.begin() + static_cast<std::ptrdiff_t>(offset));
        }
    }
    Engine<Provider> engine(Role::server, fixture.config);
    engine.set_under_load(control & 2);
    const Instant now{};
    engine.receive(datagram, *Endpoint::parse("127.0.0.1:9"), now);
    engine.receive(datagram, *Endpoint::parse("127.0.0.1:9"), now);  // and again (replay paths)
    while (engine.poll_transmit()) {
    }
    while (engine.poll_application_data()) {
    }
    while (engine.poll_event()) {
    }
    engine.send(datagram, now);
    engine.on_timeout(now + std::chrono::seconds(600));
    return 0;
}
