// libFuzzer target: the DTLS record-header parser (dtls/wire.hpp) that screens every
// datagram before Botan sees it. Invariants: never reads past the input; on success
// the records tile the datagram exactly, each within the RFC 6347 length limit.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include <tapsec/dtls/wire.hpp>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const tapsec::ByteView input(data, size);
    auto records = tapsec::dtls::parse_datagram(input);
    if (!records) return 0;
    std::size_t covered = 0;
    for (const auto& r : *records) {
        if (r.header_and_fragment.data() != data + covered) std::abort();
        if (r.header_and_fragment.size() != tapsec::dtls::record_header_size + r.fragment.size()) std::abort();
        if (r.fragment.size() > tapsec::dtls::max_ciphertext) std::abort();
        if (r.sequence >> 48) std::abort();
        covered += r.header_and_fragment.size();
    }
    if (covered != size) std::abort();
    return 0;
}
