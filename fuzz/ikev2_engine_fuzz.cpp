// libFuzzer target: IKEv2 initiator and responder engines (IKE_SA_INIT, IKE_AUTH with
// PSK, Child SA, INFORMATIONAL, ESP) with the fuzzer as the network (engine_pair.hpp):
// every IKE payload the responder and the initiator parse, in every exchange state,
// plus the ESP data path once the Child SA exists. First input byte: the group and the
// IKE cipher each side prefers, and (bit 4) a 200-octet fragment_size on both sides, so
// that IKE_AUTH travels in SKF fragments (RFC 7383) the fuzzer loses, reorders,
// duplicates and damages: the reassembly behind a real integrity check.
#include <cstddef>
#include <cstdint>

#include <tapsec/tapsec.hpp>

#include "engine_pair.hpp"
#include "support/ikev2_ip.hpp"

using namespace tapsec;
using namespace tapsec::ikev2;
using Pair = fuzz::EnginePair<Engine<crypto::Botan2>, Engine<crypto::Botan2>>;

namespace {

Config side(const char* local, const char* remote, const char* local_ts, const char* remote_ts) {
    Config c;
    c.local_id = *Identification::parse(local);
    c.remote_id = *Identification::parse(remote);
    const std::string secret = "a pre-shared key for the fuzzer";
    c.pre_shared_keys.push_back({remote, SecretBytes(secret.begin(), secret.end())});
    c.local_ts = *parse_selector(local_ts);
    c.remote_ts = *parse_selector(remote_ts);
    c.random = [](MutableByteView out) { fuzz::deterministic_random().fill(out); };
    c.wall_clock = fuzz::fixed_wall_clock;
    return c;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    FuzzedDataProvider input(data, size);
    const auto mode = input.ConsumeIntegral<std::uint8_t>();
    fuzz::deterministic_random().reset(0x1e + mode);
    Config initiator = side("a@test", "b.test", "10.200.2.1/32", "10.200.1.0/24");
    Config responder = side("b.test", "a@test", "10.200.1.1/32", "10.200.2.0/24");
    // The initiator's first KE may not be the responder's choice: INVALID_KE_PAYLOAD.
    if (mode & 1) initiator.groups = {Group::ecp_256, Group::curve25519};
    if (mode & 2) responder.groups = {Group::ecp_256};
    if (mode & 4) initiator.ike_ciphers = {IkeCipher::chacha20_poly1305};
    if (mode & 8) responder.ike_ciphers = {IkeCipher::aes_256_gcm_16, IkeCipher::chacha20_poly1305};
    if (mode & 16) initiator.fragment_size = responder.fragment_size = 200;

    Engine<crypto::Botan2> i(Role::client, initiator), r(Role::server, responder);
    Pair pair(i, r, fuzz::Carrier::datagram);
    const std::uint8_t payload[] = {'e', 's', 'p'};
    pair.set_probes(ikev2_test::udp_packet(ikev2_test::ipv4("10.200.2.1"), ikev2_test::ipv4("10.200.1.1"), 5000, 6000,
                                           ByteView(payload, sizeof payload)),
                    ikev2_test::udp_packet(ikev2_test::ipv4("10.200.1.1"), ikev2_test::ipv4("10.200.2.1"), 6000, 5000,
                                           ByteView(payload, sizeof payload)));
    pair.run(input);
    return 0;
}
