// Fuzzes the curvecpmessage layer: message::parse, and a Stream fed a sequence of
// messages (the input cut into messages by a length byte each, as curvecpmessage's
// own pipe framing), interleaved with writes, polls for outgoing messages and time
// steps, so acknowledgment ranges, out-of-order data, stream ends and the
// retransmission timers all see hostile input. Any crash, sanitizer report, hang or
// broken invariant is a bug.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include <tapsec/curvecp/message.hpp>

using namespace tapsec;
namespace msg = tapsec::curvecp::message;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    msg::Stream stream(size % 2 == 0);
    Instant now = Instant{} + std::chrono::hours(1);
    Bytes out(msg::max_message_size);
    static const Bytes payload(5000, 0x61);
    std::size_t i = 0;
    while (i < size) {
        const std::size_t units = data[i++] % 70;  // up to 69 * 16 bytes
        const std::size_t n = std::min(units * 16, size - i);
        const ByteView m(data + i, n);
        i += n;
        if (auto b = msg::parse(m)) {
            if (b->data.size() > msg::max_block || msg::header_size + b->data.size() > m.size()) std::abort();
        }
        const auto readable_before = stream.readable().size();
        (void)stream.on_message(m, now);
        if (stream.readable().size() < readable_before) std::abort();  // in-order data never shrinks unread
        if (n % 3 == 0) (void)stream.write(ByteView(payload).first(n % payload.size()));
        if (n % 5 == 0) stream.finish(n % 7 == 0);
        if (n % 11 == 0) stream.consume_all();
        now += std::chrono::milliseconds(units * 37);
        for (int k = 0; k < 4; ++k) {
            const std::size_t produced = stream.poll_message(now, out);
            if (produced == 0) break;
            if (produced % 16 != 0 || produced < msg::header_size || produced > msg::max_message_size) std::abort();
            if (!msg::parse(ByteView(out.data(), produced))) std::abort();  // we only send what we accept
        }
    }
    return 0;
}
