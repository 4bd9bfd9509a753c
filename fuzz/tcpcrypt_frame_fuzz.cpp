// Fuzzes tcpcrypt's stream parsers: Init1 and Init2 (both public-key sizes), the frame
// length reader, a keyed record layer opening whatever frames the input holds, and a
// responder engine fed the input as its whole stream (preamble, Init1, frames). Any
// crash, sanitizer report or hang is a bug; an input that opens as a frame without the
// key aborts (a forgery).
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include <tapsec/tcpcrypt.hpp>

using namespace tapsec;
using Provider = crypto::Botan2;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const ByteView input(data, size);
    for (std::size_t pk : {32u, 65u}) {
        (void)tcpcrypt::parse_init1(input, pk);
        (void)tcpcrypt::parse_init2(input, pk);
    }
    (void)tcpcrypt::init_message_size(input, tcpcrypt::init1_magic);

    static TcpcryptRecord::layer<Provider> layer = [] {
        TcpcryptRecord::layer<Provider> l;
        (void)l.import({tcpcrypt::aead_id::aes_128_gcm, SecretBytes(32, 0x42), false});
        return l;
    }();
    Bytes copy(input.begin(), input.end());
    ByteView rest(copy);
    while (auto frame = tcpcrypt::frame_size(rest)) {
        if (!*frame || **frame > rest.size()) break;
        MutableByteView f(copy.data() + (rest.data() - copy.data()), **frame);
        if (layer.open(f)) std::abort();  // nobody without the key can make a frame that opens
        rest = rest.subspan(**frame);
    }

    tcpcrypt::Config config;
    config.allow_plain_fallback = size % 2 == 0;
    tcpcrypt::Engine<TcpcryptRecord, Provider> server(Role::server, config);
    const Instant now{};
    // Fed in two pieces, so that the incremental paths (partial headers) run too.
    const std::size_t cut = size ? data[0] % (size + 1) : 0;
    if (!server.receive(input.first(cut), {}, now)) (void)server.receive(input.subspan(cut), {}, now);
    Bytes out(max_transmit_size);
    while (server.poll_transmit(MutableByteView(out))) {
    }
    while (server.poll_plaintext()) {
    }
    return 0;
}
