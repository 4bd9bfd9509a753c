// Fuzzes ZRTP's packet and message parsers and an engine's receive path. The first
// input byte is a control byte: bit 0 repairs the CRC-32C trailer (so inputs reach the
// message parsers behind it), bit 1 routes the bytes to a responder engine that has
// already seen a valid Hello (so Commit/DHPart/Confirm handling runs). Any crash,
// sanitizer report or hang is a bug.
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

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 1) return 0;
    const std::uint8_t control = data[0];
    Bytes datagram(data + 1, data + size);
    if ((control & 1) && datagram.size() >= crc_size)
        write_crc(MutableByteView(datagram).last(crc_size), crc32c(ByteView(datagram).first(datagram.size() - crc_size)));
    if (auto packet = parse_packet(datagram)) parse_everything(packet->message);
    parse_everything(datagram);

    const Endpoint from = *Endpoint::parse("127.0.0.1:9");
    Config config;
    ZrtpEngine responder(Role::server, config);
    (void)responder.start({});
    if (control & 2) {
        // A real initiator's Hello first, so the fuzzed packet meets a responder mid-exchange.
        ZrtpEngine initiator(Role::client, config);
        (void)initiator.start({});
        while (auto t = initiator.poll_transmit()) (void)responder.receive(t->data, from, {});
    }
    (void)responder.receive(datagram, from, {});
    while (responder.poll_transmit()) {
    }
    return 0;
}
