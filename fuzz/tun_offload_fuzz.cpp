// The TUN offload parsers of the batched WireGuard path (tools/cli/tun_offload.hpp): a
// super-packet from the kernel cut into segments, and packets out of the tunnel joined.
// Input: 2 bytes of segment size, then the packet; the joiner sees the packet and its
// halves.
#include <fcntl.h>

#include <cstddef>
#include <cstdint>

#include "../tools/cli/tun_offload.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace tapsec;
    static const int null_fd = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
    static Bytes scratch(65536);
    if (size < 2 || size > 65535 + 2) return 0;
    const std::size_t segment = std::size_t{data[0]} << 8 | data[1];
    const ByteView packet(data + 2, size - 2);
    (void)cli::segment_tcp(packet, segment, MutableByteView(scratch).first(std::min<std::size_t>(scratch.size(), segment + 120)),
                           [](ByteView s) { return s.size() <= 65535; });
    Bytes copy(packet.begin(), packet.end());
    (void)cli::finish_partial_checksum(copy, segment % 64, segment % 20);
    cli::TcpCoalescer coalescer(null_fd);
    coalescer.add(packet);
    coalescer.add(packet.first(packet.size() / 2));
    coalescer.add(packet);
    coalescer.flush();
    return 0;
}
