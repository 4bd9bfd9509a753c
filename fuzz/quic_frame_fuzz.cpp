// Fuzzes the QUIC frame parser: every frame of the input is decoded or the first
// malformed one reported with a frame error, never a crash; decoded lengths stay
// inside the payload; ACK ranges are descending and non-overlapping; re-encoding the
// frames the connection writes (ACK, CRYPTO, STREAM, DATAGRAM) parses back to the same values.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include <tapsec/quic/frames.hpp>

using namespace tapsec;
using namespace tapsec::quic;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const ByteView payload(data, size);
    FrameReader frames(payload);
    int count = 0;
    while (auto f = frames.next()) {
        if (!*f) {
            const auto e = static_cast<Error>(f->error().value());
            if (transport_error_for(e) != TransportError::frame_encoding_error) std::abort();
            break;
        }
        if (++count > 100000) std::abort();
        const Frame& frame = **f;
        if (const auto* a = std::get_if<AckFrame>(&frame)) {
            for (std::size_t i = 0; i < a->ranges.size(); ++i) {
                if (a->ranges[i].smallest > a->ranges[i].largest) std::abort();
                if (i > 0 && a->ranges[i].largest + 2 > a->ranges[i - 1].smallest) std::abort();
            }
            Bytes again;
            write_ack(again, a->ranges, a->ack_delay);
            FrameReader back(again);
            auto g = back.next();
            if (!g || !*g || std::get<AckFrame>(**g).ranges.size() != a->ranges.size()) std::abort();
        }
        auto inside = [&](ByteView v) {
            return v.empty() || (v.data() >= payload.data() && v.data() + v.size() <= payload.data() + payload.size());
        };
        if (const auto* c = std::get_if<CryptoFrame>(&frame)) {
            if (!inside(c->data)) std::abort();
            Bytes again;
            write_crypto(again, c->offset, c->data);
            FrameReader back(again);
            auto g = back.next();
            if (!g || !*g || std::get<CryptoFrame>(**g).offset != c->offset) std::abort();
        }
        if (const auto* s = std::get_if<StreamFrame>(&frame)) {
            if (!inside(s->data)) std::abort();
            Bytes again;
            write_stream(again, s->stream_id, s->offset, s->data, s->fin);
            FrameReader back(again);
            auto g = back.next();
            if (!g || !*g || std::get<StreamFrame>(**g).fin != s->fin) std::abort();
        }
        if (const auto* d = std::get_if<DatagramFrame>(&frame)) {
            // RFC 9221: the data lies in the payload; frame_size (what max_datagram_frame_size
            // bounds) covers type, length and data; our 0x31 encoding parses back the same.
            if (!inside(d->data) || d->frame_size < d->data.size() + 1 || d->frame_size > payload.size()) std::abort();
            if (d->frame_size > 1 + 8 + 8 + d->data.size()) std::abort();
            Bytes again;
            write_datagram(again, d->data);
            FrameReader back(again);
            auto g = back.next();
            if (!g || !*g) std::abort();
            const auto& e = std::get<DatagramFrame>(**g);
            if (!std::equal(e.data.begin(), e.data.end(), d->data.begin(), d->data.end()) ||
                e.frame_size != datagram_frame_size(d->data.size()))
                std::abort();
        }
        if (const auto* c = std::get_if<ConnectionCloseFrame>(&frame); c && !inside(c->reason)) std::abort();
        for (auto type : {PacketType::initial, PacketType::handshake, PacketType::zero_rtt, PacketType::one_rtt})
            (void)allowed_in(frame, type);
    }
    return 0;
}
