// Fuzzes ESP (RFC 4303) packet opening: arbitrary bytes into an inbound SA (with and
// without ESN), and a round trip of the input as payload, which must come back equal,
// also TFC-padded (RFC 4303 2.4) to a bucket the input's first octet picks: the input,
// then only zero octets.
// Any crash, sanitizer report, hang or failed round trip is a bug.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include <tapsec/ikev2.hpp>

using namespace tapsec;
using Provider = crypto::Botan2;
using Sa = esp::SecurityAssociation<Provider>;

namespace {

std::pair<Sa, Sa> pair(bool esn) {
    esp::ChildSaKeys a;
    a.inbound_spi = 0x1001;
    a.outbound_spi = 0x2002;
    a.inbound_key = SecretBytes(20, 1);
    a.outbound_key = SecretBytes(20, 2);
    a.extended_sequence_numbers = esn;
    esp::ChildSaKeys b = a;
    std::swap(b.inbound_spi, b.outbound_spi);
    std::swap(b.inbound_key, b.outbound_key);
    return {Sa::import(a).value(), Sa::import(b).value()};
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static auto plain = pair(false);
    static auto extended = pair(true);
    const ByteView input(data, size);
    for (auto* sas : {&plain, &extended}) {
        Bytes packet(input.begin(), input.end());
        (void)sas->second.unprotect(packet);

        Bytes sealed(esp::sealed_size(input.size()));
        auto n = sas->first.protect(input, esp::next_header_ipv4, sealed);
        if (!n) std::abort();
        sealed.resize(*n);
        auto opened = sas->second.unprotect(sealed);
        if (!opened || !std::equal(opened->payload.begin(), opened->payload.end(), input.begin(), input.end())) std::abort();

        const auto tfc = esp::TfcPadding::bucket(size ? std::size_t{data[0]} + 1 : 1);
        const std::size_t padded = tfc.padded_length(input.size());
        Bytes padded_packet(esp::sealed_size(padded));
        n = sas->first.protect(input, esp::next_header_ipv4, padded_packet, padded);
        if (!n || *n != padded_packet.size()) std::abort();
        opened = sas->second.unprotect(padded_packet);
        if (!opened || opened->payload.size() != padded ||
            !std::equal(input.begin(), input.end(), opened->payload.begin()) ||
            !std::all_of(opened->payload.begin() + static_cast<std::ptrdiff_t>(input.size()), opened->payload.end(),
                         [](std::uint8_t b) { return b == 0; }))
            std::abort();
    }
    return 0;
}
