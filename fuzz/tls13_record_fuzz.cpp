// libFuzzer target for the TLS 1.3 record layer: the stream reassembler and the open
// path (header checks, AEAD open, inner-plaintext parsing, record_size_limit).
//
// The first input byte picks a mode:
//  - raw stream: the rest is fed as transport bytes (in chunks the input decides) to a
//    layer that is unkeyed or keyed with a fixed secret; every record is opened until
//    the input is used up or an error stops it. Must never crash, hang or read past a
//    buffer.
//  - seal/mutate/open: the rest is application data sealed by a keyed writer (padding
//    and record_size_limit from the input), then optionally one byte of the wire image
//    is flipped. Unmutated, the reader must return exactly the data; mutated, it must
//    fail (bad_record_mac or a header error), never return other data.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include <tapsec/crypto/botan.hpp>  // the default provider the record layer is instantiated with
#include <tapsec/tls13/record.hpp>

using namespace tapsec;
using namespace tapsec::tls13;

namespace {

const CipherSuite& suite_from(std::uint8_t b) { return *all_cipher_suites[b % all_cipher_suites.size()]; }

TrafficSecret fixed_secret(const CipherSuite& suite) { return {&suite, SecretBytes(suite.hash_length, 0x42)}; }

void drain(RecordLayer<>& layer) {
    for (int guard = 0; guard < 100000; ++guard) {
        auto r = layer.next();
        if (!r || !*r) return;
        volatile std::uint8_t sink = 0;
        for (auto b : (*r)->data) sink = sink ^ b;
        (void)sink;
    }
}

void raw_stream(std::uint8_t control, const std::uint8_t* data, std::size_t size) {
    RecordLayer<> layer;
    if (control & 0x10) (void)layer.install_read(fixed_secret(suite_from(control)));
    if (control & 0x20) (void)layer.set_receive_record_size_limit(static_cast<std::uint16_t>(64 + (control & 0x0f) * 97));
    const std::size_t chunk = 1 + (control >> 6) * 700;
    for (std::size_t offset = 0; offset < size; offset += chunk) {
        const std::size_t n = std::min(chunk, size - offset);
        if (layer.feed(ByteView(data + offset, n))) return;
        auto r = layer.next();
        while (r && *r) r = layer.next();
        if (!r) return;
    }
    drain(layer);
}

void seal_mutate_open(std::uint8_t control, const std::uint8_t* data, std::size_t size) {
    if (size < 3) return;
    const auto& suite = suite_from(control);
    RecordLayer<>::Options options;
    switch (data[0] % 3) {
        case 0: options.padding = PaddingPolicy::none(); break;
        case 1: options.padding = PaddingPolicy::to_multiple_of(1 + data[1]); break;
        default: options.padding = PaddingPolicy::full_record(); break;
    }
    RecordLayer<> writer(options), reader;
    if (writer.install_write(fixed_secret(suite)) || reader.install_read(fixed_secret(suite))) std::abort();
    const std::uint16_t limit = static_cast<std::uint16_t>(64 + data[1] * 64);
    if (writer.set_send_record_size_limit(limit) || reader.set_receive_record_size_limit(limit)) std::abort();
    const ByteView message(data + 3, size - 3);
    Bytes wire;
    if (writer.write(ContentType::application_data, message, wire)) std::abort();
    const bool mutate = control & 0x40;
    if (mutate && !wire.empty()) wire[(std::size_t{data[2]} * 131) % wire.size()] ^= static_cast<std::uint8_t>(1 + (data[1] & 0x7f));
    if (reader.feed(wire)) std::abort();
    Bytes received;
    bool failed = false;
    for (;;) {
        auto r = reader.next();
        if (!r) { failed = true; break; }
        if (!*r) break;
        if ((*r)->type != ContentType::application_data) std::abort();
        received.insert(received.end(), (*r)->data.begin(), (*r)->data.end());
    }
    if (!mutate && (failed || received != Bytes(message.begin(), message.end()))) std::abort();  // round trip broken
    if (mutate && !failed && reader.buffered() == 0) std::abort();  // a flipped byte was accepted
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 1) return 0;
    const std::uint8_t control = data[0];
    if (control & 0x80) seal_mutate_open(control, data + 1, size - 1);
    else raw_stream(control, data + 1, size - 1);
    return 0;
}
