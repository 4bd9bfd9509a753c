// QUIC transport parameters (RFC 9000 Section 18), carried in the TLS extension
// quic_transport_parameters (0x39, RFC 9001 8.2): encoding, decoding and the checks of
// 18.2 (ranges, server-only parameters from a client, duplicates). Unknown parameters
// are skipped, as 18.1 requires (grease included).
#pragma once

#include <algorithm>
#include <array>
#include <optional>

#include "../core/bytes.hpp"
#include "../core/wire.hpp"
#include "errors.hpp"
#include "wire.hpp"

namespace tapsec::quic {

inline constexpr std::uint16_t transport_parameters_extension = 0x39;

struct TransportParameters {
    std::optional<ConnectionId> original_destination_connection_id;  // server only
    std::uint64_t max_idle_timeout_ms = 0;                            // 0 = none
    std::optional<std::array<std::uint8_t, 16>> stateless_reset_token;  // server only
    std::uint64_t max_udp_payload_size = 65527;
    std::uint64_t initial_max_data = 0;
    std::uint64_t initial_max_stream_data_bidi_local = 0;
    std::uint64_t initial_max_stream_data_bidi_remote = 0;
    std::uint64_t initial_max_stream_data_uni = 0;
    std::uint64_t initial_max_streams_bidi = 0;
    std::uint64_t initial_max_streams_uni = 0;
    std::uint64_t ack_delay_exponent = 3;
    std::uint64_t max_ack_delay_ms = 25;
    bool disable_active_migration = false;
    std::uint64_t active_connection_id_limit = 2;
    std::optional<ConnectionId> initial_source_connection_id;
    std::optional<ConnectionId> retry_source_connection_id;  // server only
    bool has_preferred_address = false;                      // server only; not acted on
    std::uint64_t max_datagram_frame_size = 0;  // RFC 9221 3: 0 / absent = no DATAGRAM frames
};

namespace tp {
inline constexpr std::uint64_t original_destination_connection_id = 0x00, max_idle_timeout = 0x01,
                               stateless_reset_token = 0x02, max_udp_payload_size = 0x03, initial_max_data = 0x04,
                               initial_max_stream_data_bidi_local = 0x05, initial_max_stream_data_bidi_remote = 0x06,
                               initial_max_stream_data_uni = 0x07, initial_max_streams_bidi = 0x08,
                               initial_max_streams_uni = 0x09, ack_delay_exponent = 0x0a, max_ack_delay = 0x0b,
                               disable_active_migration = 0x0c, preferred_address = 0x0d,
                               active_connection_id_limit = 0x0e, initial_source_connection_id = 0x0f,
                               retry_source_connection_id = 0x10, max_datagram_frame_size = 0x20;
}

inline Bytes encode(const TransportParameters& p) {
    Bytes out;
    auto integer = [&](std::uint64_t id, std::uint64_t value) {
        write_varint(out, id);
        write_varint(out, varint_size(value));
        write_varint(out, value);
    };
    auto bytes = [&](std::uint64_t id, ByteView value) {
        write_varint(out, id);
        write_varint(out, value.size());
        append(out, value);
    };
    if (p.original_destination_connection_id)
        bytes(tp::original_destination_connection_id, p.original_destination_connection_id->view());
    if (p.max_idle_timeout_ms) integer(tp::max_idle_timeout, p.max_idle_timeout_ms);
    if (p.stateless_reset_token) bytes(tp::stateless_reset_token, *p.stateless_reset_token);
    if (p.max_udp_payload_size != 65527) integer(tp::max_udp_payload_size, p.max_udp_payload_size);
    integer(tp::initial_max_data, p.initial_max_data);
    integer(tp::initial_max_stream_data_bidi_local, p.initial_max_stream_data_bidi_local);
    integer(tp::initial_max_stream_data_bidi_remote, p.initial_max_stream_data_bidi_remote);
    integer(tp::initial_max_stream_data_uni, p.initial_max_stream_data_uni);
    integer(tp::initial_max_streams_bidi, p.initial_max_streams_bidi);
    integer(tp::initial_max_streams_uni, p.initial_max_streams_uni);
    if (p.ack_delay_exponent != 3) integer(tp::ack_delay_exponent, p.ack_delay_exponent);
    if (p.max_ack_delay_ms != 25) integer(tp::max_ack_delay, p.max_ack_delay_ms);
    if (p.disable_active_migration) bytes(tp::disable_active_migration, {});
    if (p.active_connection_id_limit != 2) integer(tp::active_connection_id_limit, p.active_connection_id_limit);
    if (p.initial_source_connection_id)
        bytes(tp::initial_source_connection_id, p.initial_source_connection_id->view());
    if (p.retry_source_connection_id) bytes(tp::retry_source_connection_id, p.retry_source_connection_id->view());
    if (p.max_datagram_frame_size) integer(tp::max_datagram_frame_size, p.max_datagram_frame_size);
    return out;
}

/// Decodes and validates the peer's parameters. `from_server` says who sent them
/// (a client may not send the server-only ones, 18.2).
inline Result<TransportParameters> decode_transport_parameters(ByteView data, bool from_server) {
    TransportParameters p;
    wire::Reader r(data);
    std::uint32_t seen = 0;  // ids 0x00..0x10 received, for duplicate detection
    bool seen_datagram = false;
    auto bad = [] { return make_error_code(Error::malformed_transport_parameters); };
    auto invalid = [] { return make_error_code(Error::invalid_transport_parameter); };
    while (!r.at_end()) {
        const std::uint64_t id = read_varint(r);
        const std::uint64_t length = read_varint(r);
        if (!r.ok() || length > r.remaining()) return bad();
        ByteView value = r.bytes(static_cast<std::size_t>(length));
        if (id <= 0x10) {
            if (seen & (1u << id)) return bad();  // 7.4: duplicates are an error
            seen |= 1u << id;
        }
        wire::Reader v(value);
        auto integer = [&]() -> std::optional<std::uint64_t> {
            const std::uint64_t x = read_varint(v);
            if (!v.ok() || !v.at_end()) return std::nullopt;
            return x;
        };
        auto cid = [&]() -> std::optional<ConnectionId> {
            if (value.size() > max_connection_id_length) return std::nullopt;
            return ConnectionId(value);
        };
        const bool server_only = id == tp::original_destination_connection_id || id == tp::stateless_reset_token ||
                                 id == tp::preferred_address || id == tp::retry_source_connection_id;
        if (server_only && !from_server) return invalid();
        std::optional<std::uint64_t> n;
        switch (id) {
            case tp::original_destination_connection_id:
                if (!(p.original_destination_connection_id = cid())) return bad();
                break;
            case tp::initial_source_connection_id:
                if (!(p.initial_source_connection_id = cid())) return bad();
                break;
            case tp::retry_source_connection_id:
                if (!(p.retry_source_connection_id = cid())) return bad();
                break;
            case tp::stateless_reset_token: {
                if (value.size() != 16) return bad();
                std::array<std::uint8_t, 16> t{};
                std::copy(value.begin(), value.end(), t.begin());
                p.stateless_reset_token = t;
                break;
            }
            case tp::disable_active_migration:
                if (!value.empty()) return bad();
                p.disable_active_migration = true;
                break;
            case tp::preferred_address:
                if (value.size() < 4 + 2 + 16 + 2 + 1 + 16) return bad();
                p.has_preferred_address = true;
                break;
            case tp::max_idle_timeout:
            case tp::max_udp_payload_size:
            case tp::initial_max_data:
            case tp::initial_max_stream_data_bidi_local:
            case tp::initial_max_stream_data_bidi_remote:
            case tp::initial_max_stream_data_uni:
            case tp::initial_max_streams_bidi:
            case tp::initial_max_streams_uni:
            case tp::ack_delay_exponent:
            case tp::max_ack_delay:
            case tp::active_connection_id_limit:
                if (!(n = integer())) return bad();
                switch (id) {
                    case tp::max_idle_timeout: p.max_idle_timeout_ms = *n; break;
                    case tp::max_udp_payload_size:
                        if (*n < 1200) return invalid();
                        p.max_udp_payload_size = *n;
                        break;
                    case tp::initial_max_data: p.initial_max_data = *n; break;
                    case tp::initial_max_stream_data_bidi_local: p.initial_max_stream_data_bidi_local = *n; break;
                    case tp::initial_max_stream_data_bidi_remote: p.initial_max_stream_data_bidi_remote = *n; break;
                    case tp::initial_max_stream_data_uni: p.initial_max_stream_data_uni = *n; break;
                    case tp::initial_max_streams_bidi:
                        if (*n > (std::uint64_t{1} << 60)) return invalid();
                        p.initial_max_streams_bidi = *n;
                        break;
                    case tp::initial_max_streams_uni:
                        if (*n > (std::uint64_t{1} << 60)) return invalid();
                        p.initial_max_streams_uni = *n;
                        break;
                    case tp::ack_delay_exponent:
                        if (*n > 20) return invalid();
                        p.ack_delay_exponent = *n;
                        break;
                    case tp::max_ack_delay:
                        if (*n >= (1u << 14)) return invalid();
                        p.max_ack_delay_ms = *n;
                        break;
                    case tp::active_connection_id_limit:
                        if (*n < 2) return invalid();
                        p.active_connection_id_limit = *n;
                        break;
                }
                break;
            case tp::max_datagram_frame_size:
                if (seen_datagram || !(n = integer())) return bad();
                seen_datagram = true;
                p.max_datagram_frame_size = *n;
                break;
            default: break;  // unknown (and reserved grease) parameters are ignored (18.1)
        }
    }
    if (!r.ok()) return bad();
    return p;
}

/// What 0-RTT depends on (RFC 9000 7.4.1): a client remembers these limits of the
/// server with its session and sends early data within them; a server seals its own
/// into each ticket and refuses 0-RTT when its current limits are smaller than those.
struct RememberedLimits {
    std::uint64_t active_connection_id_limit = 2, initial_max_data = 0, initial_max_stream_data_bidi_local = 0,
                  initial_max_stream_data_bidi_remote = 0, initial_max_stream_data_uni = 0,
                  initial_max_streams_bidi = 0, initial_max_streams_uni = 0;
    std::uint64_t max_datagram_frame_size = 0;  // RFC 9221 3: remembered for DATAGRAM frames in 0-RTT

    static RememberedLimits of(const TransportParameters& p) {
        return {p.active_connection_id_limit,          p.initial_max_data,
                p.initial_max_stream_data_bidi_local,  p.initial_max_stream_data_bidi_remote,
                p.initial_max_stream_data_uni,         p.initial_max_streams_bidi,
                p.initial_max_streams_uni,             p.max_datagram_frame_size};
    }
    std::array<std::uint64_t, 8> values() const {
        return {active_connection_id_limit, initial_max_data, initial_max_stream_data_bidi_local,
                initial_max_stream_data_bidi_remote, initial_max_stream_data_uni, initial_max_streams_bidi,
                initial_max_streams_uni, max_datagram_frame_size};
    }
    /// A format byte (2), then the eight limits as varints. Format 1 (seven limits,
    /// before DATAGRAM) is still read, with no datagram limit.
    Bytes encode() const {
        Bytes out{2};
        for (auto v : values()) write_varint(out, std::min(v, max_varint));
        return out;
    }
    static std::optional<RememberedLimits> decode(ByteView data) {
        wire::Reader r(data);
        const std::uint8_t format = r.u8();
        if (!r.ok() || (format != 1 && format != 2)) return std::nullopt;
        std::array<std::uint64_t, 8> v{};
        for (std::size_t i = 0; i < (format == 2 ? 8u : 7u); ++i) v[i] = read_varint(r);
        if (!r.ok() || !r.at_end()) return std::nullopt;
        return RememberedLimits{v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7]};
    }
    /// Every limit at least the remembered one (what 0-RTT data was sent under).
    bool at_least(const RememberedLimits& remembered) const {
        const auto now = values(), then = remembered.values();
        for (std::size_t i = 0; i < now.size(); ++i)
            if (now[i] < then[i]) return false;
        return true;
    }
};

}  // namespace tapsec::quic
