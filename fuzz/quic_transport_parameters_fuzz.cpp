// Fuzzes the QUIC transport-parameter decoder (RFC 9000 18) from both roles: every
// input yields validated parameters or a transport-parameter error, never a crash;
// what decodes re-encodes to parameters that decode to the same values.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include <tapsec/quic/transport_parameters.hpp>

using namespace tapsec;
using namespace tapsec::quic;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const ByteView input(data, size);
    for (bool from_server : {true, false}) {
        auto p = decode_transport_parameters(input, from_server);
        if (!p) {
            const auto e = static_cast<Error>(p.error().value());
            if (transport_error_for(e) != TransportError::transport_parameter_error) std::abort();
            continue;
        }
        if (p->ack_delay_exponent > 20 || p->max_ack_delay_ms >= (1u << 14) || p->active_connection_id_limit < 2 ||
            p->max_udp_payload_size < 1200)
            std::abort();
        if (!from_server && (p->original_destination_connection_id || p->stateless_reset_token)) std::abort();
        auto again = decode_transport_parameters(encode(*p), from_server);
        if (!again || again->initial_max_data != p->initial_max_data ||
            again->initial_max_streams_bidi != p->initial_max_streams_bidi ||
            again->max_idle_timeout_ms != p->max_idle_timeout_ms)
            std::abort();
        // What a 0-RTT ticket / session remembers of them (RFC 9000 7.4.1): round trip,
        // and a set of limits is always at least itself.
        const auto limits = RememberedLimits::of(*p);
        auto back = RememberedLimits::decode(limits.encode());
        if (!back || back->values() != limits.values() || !limits.at_least(*back)) std::abort();
    }
    // The remembered-limits parser on raw input (a session file is the client's own data).
    if (auto limits = RememberedLimits::decode(input)) {
        auto back = RememberedLimits::decode(limits->encode());
        if (!back || back->values() != limits->values()) std::abort();
    }
    return 0;
}
