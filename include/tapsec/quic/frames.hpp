// QUIC frames (RFC 9000 Section 19): one parser that yields each frame of a packet
// payload as a value, the encoders the connection needs, and the rule of Table 3
// (12.4) on which packet types may carry which frame.
//
//   FrameReader frames(payload);
//   while (auto f = frames.next()) { if (!*f) fail((*f).error()); visit(**f); }
//   Stream data and CRYPTO data are views into the payload (no copy).
#pragma once

#include <optional>
#include <variant>
#include <vector>

#include "../core/bytes.hpp"
#include "../core/wire.hpp"
#include "errors.hpp"
#include "wire.hpp"

namespace tapsec::quic {

namespace frame_type {
inline constexpr std::uint64_t padding = 0x00, ping = 0x01, ack = 0x02, ack_ecn = 0x03, reset_stream = 0x04,
                               stop_sending = 0x05, crypto = 0x06, new_token = 0x07, stream = 0x08,  // 0x08..0x0f
    max_data = 0x10, max_stream_data = 0x11, max_streams_bidi = 0x12, max_streams_uni = 0x13, data_blocked = 0x14,
                               stream_data_blocked = 0x15, streams_blocked_bidi = 0x16, streams_blocked_uni = 0x17,
                               new_connection_id = 0x18, retire_connection_id = 0x19, path_challenge = 0x1a,
                               path_response = 0x1b, connection_close = 0x1c, connection_close_app = 0x1d,
                               handshake_done = 0x1e,
                               datagram = 0x30, datagram_with_length = 0x31;  // RFC 9221 4
}

struct PaddingFrame { std::size_t length = 0; };
struct PingFrame {};
struct AckRange { std::uint64_t smallest = 0, largest = 0; };
struct AckFrame {
    std::vector<AckRange> ranges;  // descending: ranges[0] holds the largest acknowledged
    std::uint64_t ack_delay = 0;   // encoded (scaled by ack_delay_exponent)
    std::optional<std::array<std::uint64_t, 3>> ecn;
    std::uint64_t largest() const { return ranges.front().largest; }
};
struct ResetStreamFrame { std::uint64_t stream_id = 0, error_code = 0, final_size = 0; };
struct StopSendingFrame { std::uint64_t stream_id = 0, error_code = 0; };
struct CryptoFrame { std::uint64_t offset = 0; ByteView data; };
struct NewTokenFrame { ByteView token; };
struct StreamFrame { std::uint64_t stream_id = 0, offset = 0; ByteView data; bool fin = false; };
struct MaxDataFrame { std::uint64_t maximum = 0; };
struct MaxStreamDataFrame { std::uint64_t stream_id = 0, maximum = 0; };
struct MaxStreamsFrame { bool bidi = true; std::uint64_t maximum = 0; };
struct DataBlockedFrame { std::uint64_t limit = 0; };
struct StreamDataBlockedFrame { std::uint64_t stream_id = 0, limit = 0; };
struct StreamsBlockedFrame { bool bidi = true; std::uint64_t limit = 0; };
struct NewConnectionIdFrame {
    std::uint64_t sequence = 0, retire_prior_to = 0;
    ConnectionId id;
    std::array<std::uint8_t, 16> reset_token{};
};
struct RetireConnectionIdFrame { std::uint64_t sequence = 0; };
struct PathChallengeFrame { std::array<std::uint8_t, 8> data{}; };
struct PathResponseFrame { std::array<std::uint8_t, 8> data{}; };
struct ConnectionCloseFrame {
    bool application = false;
    std::uint64_t error_code = 0, frame_type = 0;
    ByteView reason;
};
struct HandshakeDoneFrame {};
/// RFC 9221: unreliable application data (never retransmitted).
struct DatagramFrame {
    ByteView data;
    std::size_t frame_size = 0;  // type, length and data: what max_datagram_frame_size bounds
};

using Frame = std::variant<PaddingFrame, PingFrame, AckFrame, ResetStreamFrame, StopSendingFrame, CryptoFrame,
                           NewTokenFrame, StreamFrame, MaxDataFrame, MaxStreamDataFrame, MaxStreamsFrame,
                           DataBlockedFrame, StreamDataBlockedFrame, StreamsBlockedFrame, NewConnectionIdFrame,
                           RetireConnectionIdFrame, PathChallengeFrame, PathResponseFrame, ConnectionCloseFrame,
                           HandshakeDoneFrame, DatagramFrame>;

/// Whether a frame elicits an acknowledgement (RFC 9002 2: all but ACK, PADDING, CONNECTION_CLOSE).
inline bool ack_eliciting(const Frame& f) {
    return !std::holds_alternative<AckFrame>(f) && !std::holds_alternative<PaddingFrame>(f) &&
           !std::holds_alternative<ConnectionCloseFrame>(f);
}

/// RFC 9000 Table 3 (12.4): Initial and Handshake packets carry only PADDING, PING,
/// ACK, CRYPTO and a transport CONNECTION_CLOSE; 0-RTT carries no ACK, CRYPTO,
/// HANDSHAKE_DONE, NEW_TOKEN, PATH_RESPONSE or RETIRE_CONNECTION_ID.
inline bool allowed_in(const Frame& f, PacketType type) {
    if (type == PacketType::initial || type == PacketType::handshake) {
        if (const auto* c = std::get_if<ConnectionCloseFrame>(&f)) return !c->application;
        return std::holds_alternative<PaddingFrame>(f) || std::holds_alternative<PingFrame>(f) ||
               std::holds_alternative<AckFrame>(f) || std::holds_alternative<CryptoFrame>(f);
    }
    if (type == PacketType::zero_rtt)  // DATAGRAM is allowed in 0-RTT (RFC 9221 4)
        return !std::holds_alternative<AckFrame>(f) && !std::holds_alternative<CryptoFrame>(f) &&
               !std::holds_alternative<HandshakeDoneFrame>(f) && !std::holds_alternative<NewTokenFrame>(f) &&
               !std::holds_alternative<PathResponseFrame>(f) && !std::holds_alternative<RetireConnectionIdFrame>(f);
    return true;
}

/// Parses the frames of one packet payload, in order.
class FrameReader {
public:
    explicit FrameReader(ByteView payload) : payload_(payload), r_(payload) {}

    /// The next frame, nothing at the end, or the decoding error.
    std::optional<Result<Frame>> next() {
        if (r_.at_end() || failed_) return std::nullopt;
        auto f = parse();
        if (!f) failed_ = true;
        return f;
    }
    /// The type of the frame last started (for CONNECTION_CLOSE's frame_type field).
    std::uint64_t last_type() const noexcept { return type_; }

private:
    Result<Frame> bad(Error e = Error::malformed_frame) { return make_error_code(e); }
    std::uint64_t v() { return read_varint(r_); }

    Result<Frame> parse() {
        const std::size_t type_at = r_.position();
        type_ = v();
        if (!r_.ok()) return bad(Error::bad_varint);
        using namespace frame_type;
        if (type_ == padding) {
            // A run of PADDING is one frame (a padded Initial holds hundreds of them).
            std::size_t run = 0;
            const std::size_t at = r_.position();
            while (at + run < payload_.size() && payload_[at + run] == 0) ++run;
            r_.bytes(run);
            return Frame{PaddingFrame{1 + run}};
        }
        if (type_ == ping) return Frame{PingFrame{}};
        if (type_ == ack || type_ == ack_ecn) {
            AckFrame a;
            const std::uint64_t largest = v(), delay = v(), count = v(), first = v();
            if (!r_.ok()) return bad(Error::bad_varint);
            if (first > largest) return bad();
            a.ack_delay = delay;
            a.ranges.push_back({largest - first, largest});
            std::uint64_t smallest = largest - first;
            if (count > r_.remaining()) return bad();  // each range needs at least 2 bytes
            for (std::uint64_t i = 0; i < count; ++i) {
                const std::uint64_t gap = v(), length = v();
                if (!r_.ok()) return bad(Error::bad_varint);
                if (smallest < gap + 2) return bad();
                const std::uint64_t hi = smallest - gap - 2;
                if (length > hi) return bad();
                a.ranges.push_back({hi - length, hi});
                smallest = hi - length;
            }
            if (type_ == ack_ecn) {
                std::array<std::uint64_t, 3> e{v(), v(), v()};
                if (!r_.ok()) return bad(Error::bad_varint);
                a.ecn = e;
            }
            return Frame{std::move(a)};
        }
        if (type_ == reset_stream) {
            ResetStreamFrame f{v(), v(), v()};
            return ok(f);
        }
        if (type_ == stop_sending) {
            StopSendingFrame f{v(), v()};
            return ok(f);
        }
        if (type_ == crypto) {
            CryptoFrame f;
            f.offset = v();
            const std::uint64_t length = v();
            if (!r_.ok()) return bad(Error::bad_varint);
            if (length > r_.remaining() || f.offset + length > max_varint) return bad();
            f.data = r_.bytes(static_cast<std::size_t>(length));
            return Frame{f};
        }
        if (type_ == new_token) {
            const std::uint64_t length = v();
            if (!r_.ok()) return bad(Error::bad_varint);
            if (length == 0 || length > r_.remaining()) return bad();
            return Frame{NewTokenFrame{r_.bytes(static_cast<std::size_t>(length))}};
        }
        if (type_ >= 0x08 && type_ <= 0x0f) {
            StreamFrame f;
            f.stream_id = v();
            if (type_ & 0x04) f.offset = v();
            std::uint64_t length = 0;
            if (type_ & 0x02) length = v();
            if (!r_.ok()) return bad(Error::bad_varint);
            if (!(type_ & 0x02)) length = r_.remaining();
            if (length > r_.remaining() || f.offset + length > max_varint) return bad();
            f.data = r_.bytes(static_cast<std::size_t>(length));
            f.fin = type_ & 0x01;
            return Frame{f};
        }
        if (type_ == max_data) return ok(MaxDataFrame{v()});
        if (type_ == max_stream_data) {
            MaxStreamDataFrame f{v(), v()};
            return ok(f);
        }
        if (type_ == max_streams_bidi || type_ == max_streams_uni) {
            MaxStreamsFrame f{type_ == max_streams_bidi, v()};
            if (r_.ok() && f.maximum > (std::uint64_t{1} << 60)) return bad();
            return ok(f);
        }
        if (type_ == data_blocked) return ok(DataBlockedFrame{v()});
        if (type_ == stream_data_blocked) {
            StreamDataBlockedFrame f{v(), v()};
            return ok(f);
        }
        if (type_ == streams_blocked_bidi || type_ == streams_blocked_uni) {
            StreamsBlockedFrame f{type_ == streams_blocked_bidi, v()};
            if (r_.ok() && f.limit > (std::uint64_t{1} << 60)) return bad();
            return ok(f);
        }
        if (type_ == new_connection_id) {
            NewConnectionIdFrame f;
            f.sequence = v();
            f.retire_prior_to = v();
            const std::size_t length = r_.u8();
            if (!r_.ok()) return bad(Error::bad_varint);
            if (length < 1 || length > max_connection_id_length || f.retire_prior_to > f.sequence) return bad();
            f.id = ConnectionId(r_.bytes(length));
            auto token = r_.bytes(16);
            if (!r_.ok()) return bad();
            std::copy(token.begin(), token.end(), f.reset_token.begin());
            return Frame{f};
        }
        if (type_ == retire_connection_id) return ok(RetireConnectionIdFrame{v()});
        if (type_ == path_challenge || type_ == path_response) {
            auto d = r_.bytes(8);
            if (!r_.ok()) return bad();
            std::array<std::uint8_t, 8> data{};
            std::copy(d.begin(), d.end(), data.begin());
            if (type_ == path_challenge) return Frame{PathChallengeFrame{data}};
            return Frame{PathResponseFrame{data}};
        }
        if (type_ == connection_close || type_ == connection_close_app) {
            ConnectionCloseFrame f;
            f.application = type_ == connection_close_app;
            f.error_code = v();
            if (!f.application) f.frame_type = v();
            const std::uint64_t length = v();
            if (!r_.ok()) return bad(Error::bad_varint);
            if (length > r_.remaining()) return bad();
            f.reason = r_.bytes(static_cast<std::size_t>(length));
            return Frame{f};
        }
        if (type_ == handshake_done) return Frame{HandshakeDoneFrame{}};
        if (type_ == datagram || type_ == datagram_with_length) {
            // 0x30 runs to the end of the packet; 0x31 carries its length.
            std::uint64_t length = r_.remaining();
            if (type_ == datagram_with_length) {
                length = v();
                if (!r_.ok()) return bad(Error::bad_varint);
                if (length > r_.remaining()) return bad();
            }
            DatagramFrame f{r_.bytes(static_cast<std::size_t>(length))};
            f.frame_size = r_.position() - type_at;
            return Frame{f};
        }
        return bad(Error::unknown_frame_type);
    }

    template <class F>
    Result<Frame> ok(F f) {
        if (!r_.ok()) return bad(Error::bad_varint);
        return Frame{f};
    }
    ByteView payload_;
    wire::Reader r_;
    std::uint64_t type_ = 0;
    bool failed_ = false;
};

// ---- encoders -------------------------------------------------------------------------------

/// ACK frame for `ranges` (descending, non-overlapping).
inline void write_ack(Bytes& out, const std::vector<AckRange>& ranges, std::uint64_t ack_delay) {
    write_varint(out, frame_type::ack);
    write_varint(out, ranges.front().largest);
    write_varint(out, ack_delay);
    write_varint(out, ranges.size() - 1);
    write_varint(out, ranges.front().largest - ranges.front().smallest);
    for (std::size_t i = 1; i < ranges.size(); ++i) {
        write_varint(out, ranges[i - 1].smallest - ranges[i].largest - 2);
        write_varint(out, ranges[i].largest - ranges[i].smallest);
    }
}

inline void write_crypto(Bytes& out, std::uint64_t offset, ByteView data) {
    write_varint(out, frame_type::crypto);
    write_varint(out, offset);
    write_varint(out, data.size());
    append(out, data);
}

/// A STREAM frame with offset and explicit length (type 0x0e / 0x0f).
inline void write_stream(Bytes& out, std::uint64_t stream_id, std::uint64_t offset, ByteView data, bool fin) {
    write_varint(out, 0x08 | 0x04 | 0x02 | (fin ? 0x01 : 0x00));
    write_varint(out, stream_id);
    write_varint(out, offset);
    write_varint(out, data.size());
    append(out, data);
}
/// Bytes a STREAM frame header takes at most for this stream and offset.
constexpr std::size_t stream_frame_overhead(std::uint64_t stream_id, std::uint64_t offset, std::size_t length) {
    return 1 + varint_size(stream_id) + varint_size(offset) + varint_size(length);
}

/// A DATAGRAM frame with explicit length (0x31), so other frames may follow it.
inline void write_datagram(Bytes& out, ByteView data) {
    write_varint(out, frame_type::datagram_with_length);
    write_varint(out, data.size());
    append(out, data);
}
/// Bytes a DATAGRAM frame of `length` data bytes takes (type, length, data).
constexpr std::size_t datagram_frame_size(std::size_t length) { return 1 + varint_size(length) + length; }

inline void write_varint_frame(Bytes& out, std::uint64_t type, std::uint64_t a) {
    write_varint(out, type);
    write_varint(out, a);
}
inline void write_varint_frame(Bytes& out, std::uint64_t type, std::uint64_t a, std::uint64_t b) {
    write_varint(out, type);
    write_varint(out, a);
    write_varint(out, b);
}
inline void write_varint_frame(Bytes& out, std::uint64_t type, std::uint64_t a, std::uint64_t b, std::uint64_t c) {
    write_varint(out, type);
    write_varint(out, a);
    write_varint(out, b);
    write_varint(out, c);
}

inline void write_connection_close(Bytes& out, bool application, std::uint64_t code, std::uint64_t frame,
                                   std::string_view reason) {
    write_varint(out, application ? frame_type::connection_close_app : frame_type::connection_close);
    write_varint(out, code);
    if (!application) write_varint(out, frame);
    write_varint(out, reason.size());
    append(out, as_bytes(reason));
}

inline void write_new_connection_id(Bytes& out, std::uint64_t sequence, std::uint64_t retire_prior_to,
                                    const ConnectionId& id, ByteView reset_token) {
    write_varint(out, frame_type::new_connection_id);
    write_varint(out, sequence);
    write_varint(out, retire_prior_to);
    out.push_back(id.length);
    append(out, id.view());
    append(out, reset_token);
}

}  // namespace tapsec::quic
