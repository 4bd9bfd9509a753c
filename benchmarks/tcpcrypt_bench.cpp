// tcpcrypt: frame seal+open per second at 16 KiB payloads for each AEAD, as a ratio to the
// provider's raw AEAD seal+open of the same 16 KiB in the same run; the engine's whole
// data path (send, poll_transmit into a caller buffer, receive, poll_plaintext) at the
// same size; heap allocations per frame; and complete key exchanges per second (ENO
// preamble, Init1/Init2, both TEPs, two engines in memory).
#include <cstring>

#include <tapsec/tcpcrypt.hpp>

#include "alloc_counter.hpp"
#include "harness.hpp"

namespace {
using tapsec::bench::allocations_per_call;
using tapsec::bench::best_of_interleaved;

using namespace tapsec;
using Provider = crypto::Botan2;
using Engine = tcpcrypt::Engine<TcpcryptRecord, Provider>;
constexpr std::size_t payload_size = 16384;

bool exchange(Engine& a, Engine& b, Instant now) {
    Bytes buffer(max_transmit_size);
    if (a.start(now)) return false;
    for (int round = 0; round < 8; ++round) {
        while (auto t = a.poll_transmit(MutableByteView(buffer)))
            if (b.receive(ByteView(buffer.data(), t->size), {}, now)) return false;
        while (auto t = b.poll_transmit(MutableByteView(buffer)))
            if (a.receive(ByteView(buffer.data(), t->size), {}, now)) return false;
    }
    return a.is_encrypted() && b.is_encrypted();
}

void run(bench::Report& report) {
    for (std::uint8_t aead : {tcpcrypt::aead_id::aes_128_gcm, tcpcrypt::aead_id::aes_256_gcm, tcpcrypt::aead_id::chacha20_poly1305}) {
        const std::string name(tcpcrypt::aead_name(aead));
        const auto alg = *tcpcrypt::aead_algorithm(aead);
        // Reference: the provider's AEAD, seal then open, 16 KiB in place, 2-byte AD.
        Bytes key(crypto::key_size(alg), 7);
        auto raw = Provider::Aead::create(alg, key);
        Bytes text(payload_size, 0x42);
        std::array<std::uint8_t, 16> tag{};
        std::array<std::uint8_t, 2> ad{0x40, 0x11};
        std::uint64_t counter = 0;
        auto raw_body = [&] {
            const auto nonce = tcpcrypt::frame_nonce(++counter);
            raw->seal_in_place(nonce, ad, text, tag);
            if (!raw->open_in_place(nonce, ad, text, tag)) std::abort();
        };

        // Record level: the layer seals a frame into a buffer, the peer's layer opens it in place.
        TcpcryptRecord::layer<Provider> a, b;
        if (a.import({aead, SecretBytes(32, 9), true}) || b.import({aead, SecretBytes(32, 9), false})) std::abort();
        const Bytes payload(payload_size, 0x42);
        Bytes frame(payload_size + tcpcrypt::frame_overhead);
        auto record_body = [&] {
            auto n = a.seal(payload, false, frame);
            if (!n || !b.open(MutableByteView(frame.data(), *n))) std::abort();
        };

        // Engine level through the caller-buffer forms.
        tcpcrypt::Config config;
        config.aeads = {aead};
        Engine ea(Role::client, config), eb(Role::server, config);
        if (!exchange(ea, eb, Clock::now())) std::abort();
        Bytes out(max_transmit_size);
        const Instant now = Clock::now();
        auto engine_body = [&] {
            if (ea.send(payload, now)) std::abort();
            auto t = ea.poll_transmit(MutableByteView(out));
            if (!t || eb.receive(ByteView(out.data(), t->size), {}, now)) std::abort();
            auto v = eb.poll_plaintext();
            if (!v || v->size() != payload_size) std::abort();
        };

        const auto [raw_rate, record_rate, engine_rate] = best_of_interleaved(5, raw_body, record_body, engine_body);
        const double mib = static_cast<double>(payload_size) / (1024.0 * 1024.0);
        report.value("raw " + name + " seal+open, 16 KiB", raw_rate * mib, "MiB/s", "Botan 2, best of 5 interleaved rounds");
        report.value("tcpcrypt frame seal+open, " + name + ", 16 KiB", record_rate * mib, "MiB/s");
        report.ratio("frame / raw AEAD, " + name, record_rate, raw_rate, "target >= 0.9");
        report.value("tcpcrypt engine send+receive, " + name + ", 16 KiB", engine_rate * mib, "MiB/s", "caller buffers");
        report.ratio("engine / raw AEAD, " + name, engine_rate, raw_rate);
        report.value("tcpcrypt frame allocations, " + name, allocations_per_call(record_body), "allocs/frame", "after warm-up; target 0");
        report.value("tcpcrypt engine allocations, " + name, allocations_per_call(engine_body), "allocs/frame",
                     "after warm-up; target 0");
    }
    for (std::uint8_t tep : {tcp_eno::tep::tcpcrypt_ecdhe_curve25519, tcp_eno::tep::tcpcrypt_ecdhe_p256}) {
        tcpcrypt::Config config;
        config.teps = {tep};
        auto rate = bench::measure([&] {
            Engine a(Role::client, config), b(Role::server, config);
            if (!exchange(a, b, Clock::now())) std::abort();
        });
        report.value(std::string("tcpcrypt key exchanges, ") + std::string(tcpcrypt::find_tep(tep)->name), rate.per_second(),
                     "exchanges/s", "both sides: ENO preamble, Init1, Init2, key schedule");
    }
}

const bench::Registration registration{{"tcpcrypt", "tcpcrypt frame seal+open at 16 KiB vs raw AEAD; key exchanges/s", run}};

}  // namespace
