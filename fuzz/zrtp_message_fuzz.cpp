// Fuzzes ZRTP's packet and message parsers and the engine's receive path. The first
// input byte is a control byte:
//   bit 0  repairs the CRC-32C trailer, so inputs reach the message parsers behind it;
//   bit 1  feeds the bytes to a responder that has already seen a real Hello;
//   bit 2  runs a real exchange between two engines (deterministic randomness) and
//          replaces its datagram number input[1] % 12 by that datagram XOR the rest of
//          the input: Commit, DHPart, Confirm handling, hash chain, hvi and MAC checks
//          all see near-valid mutants.
// Any crash, sanitizer report or hang is a bug.
#include <cstddef>
#include <cstdint>

#include <tapsec/zrtp.hpp>

using namespace tapsec;
using namespace tapsec::zrtp;
using ZrtpEngine = zrtp::Engine<SrtpRecord, crypto::DefaultProvider>;

namespace {

void parse_everything(ByteView message) {
    (void)parse_hello(message);
    (void)parse_commit(message);
    (void)parse_dh_part(message);
    if (auto c = parse_confirm(message)) (void)parse_confirm_body(c->encrypted);
    (void)parse_error(message);
    (void)check_ack(message);
}

void repair_crc(Bytes& d) {
    if (d.size() >= crc_size) write_crc(MutableByteView(d).last(crc_size), crc32c(ByteView(d).first(d.size() - crc_size)));
}

/// Deterministic randomness: libFuzzer needs an input to behave the same on every run.
Config deterministic(std::uint8_t salt) {
    Config c;
    auto counter = std::make_shared<std::uint64_t>(salt);
    c.random = [counter](MutableByteView out) {
        for (auto& b : out) b = static_cast<std::uint8_t>((++*counter * 0x9E3779B97F4A7C15ull) >> 56);
    };
    return c;
}

void mutate_exchange(std::size_t victim, ByteView mask, bool fix_crc) {
    ZrtpEngine a(Role::client, deterministic(1)), b(Role::server, deterministic(2));
    const Endpoint ep = *Endpoint::parse("127.0.0.1:9");
    Instant now{};
    (void)a.start(now);
    (void)b.start(now);
    std::size_t index = 0;
    auto deliver = [&](ZrtpEngine& to, Bytes d) {
        if (index++ == victim) {
            for (std::size_t i = 0; i < mask.size() && i < d.size(); ++i) d[i] ^= mask[i];
            if (mask.size() > d.size()) d.insert(d.end(), mask.begin() + static_cast<std::ptrdiff_t>(d.size()), mask.end());
            if (fix_crc) repair_crc(d);
        }
        (void)to.receive(d, ep, now);
    };
    for (int round = 0; round < 30 && !(a.is_established() && b.is_established()); ++round) {
        while (auto t = a.poll_transmit()) deliver(b, std::move(t->data));
        while (auto t = b.poll_transmit()) deliver(a, std::move(t->data));
        now += std::chrono::milliseconds(200);  // let T1/T2 repeat what the mutant broke
        (void)a.on_timeout(now);
        (void)b.on_timeout(now);
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 2) return 0;
    const std::uint8_t control = data[0];
    if (control & 4) {
        mutate_exchange(data[1] % 12, ByteView(data + 2, size - 2), control & 1);
        return 0;
    }
    Bytes datagram(data + 1, data + size);
    if (control & 1) repair_crc(datagram);
    if (auto packet = parse_packet(datagram)) parse_everything(packet->message);
    parse_everything(datagram);

    const Endpoint from = *Endpoint::parse("127.0.0.1:9");
    ZrtpEngine responder(Role::server, deterministic(3));
    (void)responder.start({});
    if (control & 2) {
        // A real initiator's Hello first, so the fuzzed packet meets a responder mid-exchange.
        ZrtpEngine initiator(Role::client, deterministic(4));
        (void)initiator.start({});
        while (auto t = initiator.poll_transmit()) (void)responder.receive(t->data, from, {});
    }
    (void)responder.receive(datagram, from, {});
    while (responder.poll_transmit()) {
    }
    return 0;
}
