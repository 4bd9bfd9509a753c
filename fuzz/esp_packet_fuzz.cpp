// Fuzzes ESP (RFC 4303) packet opening: arbitrary bytes into an inbound SA (with and
// without ESN), and a round trip of the input as payload, which must come back equal.
// Any crash, sanitizer report, hang or failed round trip is a bug.
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
    }
    return 0;
}
