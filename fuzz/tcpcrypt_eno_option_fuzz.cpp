// Fuzzes the TCP-ENO option parsers: the option-area walk, the suboption decoder (with
// an encode/parse round trip of whatever decodes), negotiation against a fixed peer,
// and the stream-preamble segment reader. Any crash, sanitizer report or hang is a bug;
// a decoded option that does not survive re-encoding aborts.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include <tapsec/tcp_eno/option.hpp>
#include <tapsec/tcp_eno/preamble.hpp>

using namespace tapsec;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const ByteView input(data, size);
    (void)tcp_eno::find_in_option_area(input);
    if (auto option = tcp_eno::parse_contents(input)) {
        auto again = tcp_eno::parse_contents(tcp_eno::encode_contents(*option));
        if (!again || again->teps != option->teps || again->b() != option->b() || again->aa() != option->aa()) std::abort();
        const Bytes ours{0x23, 0x21};
        for (bool active : {false, true}) {
            auto outcome = tcp_eno::negotiate(ours, input, active, size % 2 == 1);
            if (outcome.encrypted && outcome.tep != 0x21 && outcome.tep != 0x23) std::abort();
        }
    }
    if (auto p = tcp_eno::preamble::peek(input); p && p->kind == tcp_eno::preamble::Peek::segment) {
        if (!tcp_eno::preamble::parse(input.first(p->size))) std::abort();
    }
    return 0;
}
