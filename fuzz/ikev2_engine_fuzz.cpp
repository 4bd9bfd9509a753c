// libFuzzer target: IKEv2 initiator and responder engines (IKE_SA_INIT, IKE_AUTH with
// PSK, Child SA, INFORMATIONAL, ESP) with the fuzzer as the network (engine_pair.hpp):
// every IKE payload the responder and the initiator parse, in every exchange state,
// plus the ESP data path once the Child SA exists. First input byte: the group and the
// IKE cipher each side prefers, and (bit 4) a 200-octet fragment_size on both sides, so
// that IKE_AUTH travels in SKF fragments (RFC 7383) the fuzzer loses, reorders,
// duplicates and damages: the reassembly behind a real integrity check. Bit 5: RFC 5723
// session resumption: the initiator starts with IKE_SESSION_RESUME and a ticket the
// responder's issuer sealed (then the resumed IKE_AUTH, with N(TICKET_REQUEST) answered
// by N(TICKET_LT_OPAQUE)). Bit 6: the rest of the input is a ticket, given to the
// responder's opener and to the initiator's ticket-file parser.
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

/// The responder's ticket issuer, keyed the same on every run.
std::shared_ptr<TicketIssuer> fixed_issuer() {
    std::array<std::uint8_t, 48> key{};
    for (std::size_t n = 0; n < key.size(); ++n) key[n] = static_cast<std::uint8_t>(n * 7 + 1);
    return std::make_shared<TicketIssuer>(tls13::TicketKey::from_bytes(ByteView(key).first(16), ByteView(key).subspan(16)),
                                          std::chrono::hours(1));
}

/// A ticket for a@test at b.test, as a previous IKE SA's IKE_AUTH would have issued it.
Ticket resumable_ticket(TicketIssuer& issuer, const Config& initiator, const Config& responder) {
    TicketState state;
    state.id.assign(TicketState::id_size, 0x42);
    state.initiator_id = initiator.local_id.payload();
    state.responder_id = responder.local_id.payload();
    state.sk_d.assign(prf_size(state.suite.prf), 0x5d);
    state.spi_i = 1;
    state.spi_r = 2;
    state.expires_unix_s = unix_seconds(initiator) + 3600;
    Ticket ticket;
    ticket.opaque = issuer.seal<crypto::Botan2>(state, initiator);
    ticket.expires_unix_s = state.expires_unix_s;
    ticket.suite = state.suite;
    ticket.sk_d = state.sk_d;
    ticket.local_id = state.initiator_id;
    ticket.remote_id = state.responder_id;
    return ticket;
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
    auto issuer = fixed_issuer();
    if (mode & 64) {  // the ticket opener and the ticket file parser on raw input
        const auto raw = input.ConsumeRemainingBytes<std::uint8_t>();
        (void)issuer->open<crypto::Botan2>(raw, unix_seconds(responder));
        (void)Ticket::parse(raw);
        return 0;
    }
    if (mode & 32) {
        responder.tickets = issuer;
        initiator.request_ticket = true;
        initiator.resume_ticket = resumable_ticket(*issuer, initiator, responder);
    }

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
