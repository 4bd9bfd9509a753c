// libFuzzer target: two WireGuard engines, initiator and responder, with the fuzzer as
// the network (engine_pair.hpp): the initiator's side of the handshake (responses,
// cookie replies, retries, rekeying), keepalives, transport data both ways, replays and
// roaming, which wireguard_message_fuzz (one responder, one datagram) cannot reach.
// First input byte: bit 0 puts the responder under load (cookie replies and mac2),
// bit 1 sets a persistent keepalive, bit 2 a preshared key on both sides.
#include <cstddef>
#include <cstdint>

#include <tapsec/tapsec.hpp>

#include "engine_pair.hpp"

using namespace tapsec;
using namespace tapsec::wireguard;
using Provider = crypto::Botan2;
using Pair = fuzz::EnginePair<Engine<Provider>, Engine<Provider>>;

namespace {

SecretArray<32> key_from(std::uint8_t seed) {
    SecretArray<32> k;
    for (std::size_t i = 0; i < k.size(); ++i) k[i] = static_cast<std::uint8_t>(seed + 3 * i);
    return k;
}

/// An IPv4/UDP packet from `src` to `dst` (the checksum is not checked on the way in).
Bytes ip_packet(std::uint8_t src, std::uint8_t dst) {
    Bytes p(28 + 4, 0);
    p[0] = 0x45;
    p[3] = static_cast<std::uint8_t>(p.size());
    p[8] = 64;
    p[9] = 17;
    p[12] = 10, p[15] = src;
    p[16] = 10, p[19] = dst;
    p[25] = 12;
    return p;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    FuzzedDataProvider input(data, size);
    const auto mode = input.ConsumeIntegral<std::uint8_t>();
    fuzz::deterministic_random().reset(0x3c + mode);
    static const SecretArray<32> initiator_key = key_from(1), responder_key = key_from(77);
    static const Key initiator_public = StaticIdentity<Provider>::from_private(initiator_key)->public_key;
    static const Key responder_public = StaticIdentity<Provider>::from_private(responder_key)->public_key;

    Config initiator, responder;
    initiator.interface.private_key = initiator_key;
    initiator.interface.has_private_key = true;
    responder.interface.private_key = responder_key;
    responder.interface.has_private_key = true;
    PeerSettings to_responder, to_initiator;
    to_responder.public_key = responder_public;
    to_responder.endpoint = Pair::server_address();
    to_responder.allowed_ips = {*IpPrefix::parse("10.0.0.2/32")};
    to_initiator.public_key = initiator_public;
    to_initiator.endpoint = Pair::client_address();
    to_initiator.allowed_ips = {*IpPrefix::parse("10.0.0.1/32")};
    if (mode & 2) to_responder.persistent_keepalive = std::chrono::seconds(25);
    if (mode & 4) {
        to_responder.preshared_key = key_from(9);
        to_initiator.preshared_key = key_from(9);
    }
    initiator.interface.peers.push_back(to_responder);
    responder.interface.peers.push_back(to_initiator);
    initiator.random = responder.random = [](MutableByteView out) { fuzz::deterministic_random().fill(out); };
    initiator.wall_clock = responder.wall_clock = fuzz::fixed_wall_clock;

    Engine<Provider> a(Role::client, initiator), b(Role::server, responder);
    b.set_under_load(mode & 1);
    Pair pair(a, b, fuzz::Carrier::datagram);
    pair.set_probes(ip_packet(1, 2), ip_packet(2, 1));
    pair.run(input);
    return 0;
}
