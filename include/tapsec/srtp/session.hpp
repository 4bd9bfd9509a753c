// srtp::Session: one SRTP session between two endpoints (RFC 3711 3.2). It holds the
// four cryptographic contexts (SRTP and SRTCP, each direction) derived from
// srtp::MasterKeys, and per SSRC the rollover counter, the replay lists and the
// SRTCP index. protect_* / unprotect_* work in place on the caller's buffer and
// allocate nothing per packet (only the first packet of a new SSRC adds a stream).
//
// Every refused packet returns a distinct srtp::Error and is counted in
// statistics(); no refused packet changes any state.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "../core/bytes.hpp"
#include "../core/config.hpp"
#include "../core/errors.hpp"
#include "../core/replay_window.hpp"
#include "../crypto/botan.hpp"  // the default provider
#include "../crypto/provider.hpp"
#include "context.hpp"
#include "errors.hpp"
#include "keys.hpp"
#include "profiles.hpp"
#include "rollover.hpp"
#include "rtp.hpp"

namespace tapsec::srtp {

struct SessionOptions {
    /// Set the E flag: encrypt outbound SRTCP (RFC 3711 3.4). SRTCP is always authenticated.
    bool encrypt_rtcp = true;
    /// SSRCs tracked per direction; packets of further SSRCs are refused (too_many_streams).
    std::size_t max_streams = 64;
};

/// What happened to every packet, by outcome.
struct Statistics {
    std::uint64_t rtp_protected = 0, rtp_unprotected = 0;
    std::uint64_t rtcp_protected = 0, rtcp_unprotected = 0;
    std::uint64_t malformed = 0;              // malformed RTP/RTCP header
    std::uint64_t truncated = 0;              // too short for header + tag (+ index)
    std::uint64_t authentication_failures = 0;
    std::uint64_t replayed = 0;
    std::uint64_t too_old = 0;
    std::uint64_t other_refusals = 0;         // key reuse/exhaustion, buffer, stream limit
    std::uint64_t refused() const { return malformed + truncated + authentication_failures + replayed + too_old + other_refusals; }
};

/// The replay list (RFC 3711 3.3.2) is the shared core window; 1024 bits tolerate
/// 960 packets of reordering (the RFC's minimum is 64).
using SrtpReplayWindow = ReplayWindow<1024>;

template <class Crypto = crypto::DefaultProvider>
class Session {
public:
    /// The record's import of its key material (SrtpRecord::imported_keys), the one way
    /// any keying (DTLS-SRTP, ZRTP, keys the application holds) reaches SRTP. `local_role`
    /// picks the direction: the client side sends with client_write and receives with
    /// server_write (RFC 5764 4.2 names; a ZRTP initiator is the client side).
    static Result<Session> import(const MasterKeys& keys, Role local_role, SessionOptions options = {}) {
        return create(keys, local_role, options);
    }

    /// Keys a session (import() under its older name).
    static Result<Session> create(const MasterKeys& keys, Role local_role, SessionOptions options = {}) {
        if (auto ec = keys.validate()) return ec;
        const MasterKey& out = local_role == Role::client ? keys.client_write : keys.server_write;
        const MasterKey& in = local_role == Role::client ? keys.server_write : keys.client_write;
        auto out_rtp = CryptoContext<Crypto>::derive(keys.profile, Stream::rtp, out.key, out.salt);
        if (!out_rtp) return out_rtp.error();
        auto out_rtcp = CryptoContext<Crypto>::derive(keys.profile, Stream::rtcp, out.key, out.salt);
        if (!out_rtcp) return out_rtcp.error();
        auto in_rtp = CryptoContext<Crypto>::derive(keys.profile, Stream::rtp, in.key, in.salt);
        if (!in_rtp) return in_rtp.error();
        auto in_rtcp = CryptoContext<Crypto>::derive(keys.profile, Stream::rtcp, in.key, in.salt);
        if (!in_rtcp) return in_rtcp.error();
        return Session(keys.profile, options, std::move(*out_rtp), std::move(*out_rtcp), std::move(*in_rtp),
                       std::move(*in_rtcp));
    }

    // Move-only: two copies would protect the same indexes with the same keystream.
    Session(Session&&) noexcept = default;
    Session& operator=(Session&&) noexcept = default;
    Session(const Session&) = delete;
    Session& operator=(const Session&) = delete;

    Profile profile() const noexcept { return profile_; }
    const Statistics& statistics() const noexcept { return stats_; }
    /// Bytes protect_rtp / protect_rtcp add to a packet.
    std::size_t rtp_overhead() const noexcept { return out_rtp_.tag_length(); }
    std::size_t rtcp_overhead() const noexcept { return out_rtcp_.rtcp_overhead(); }

    // ---- SRTP ----------------------------------------------------------------------

    /// Protects the RTP packet buffer[0, length) in place; buffer must have
    /// rtp_overhead() bytes of room after it. Returns the SRTP packet's length.
    Result<std::size_t> protect_rtp(MutableByteView buffer, std::size_t length) {
        if (length > buffer.size()) return refuse(Error::buffer_too_small);
        if (length > max_packet_size) return refuse(Error::packet_too_large);
        auto header = parse_rtp_header(ByteView(buffer.data(), length));
        if (!header) return refuse(Error::malformed_rtp_header);
        if (buffer.size() - length < out_rtp_.tag_length()) return refuse(Error::buffer_too_small);
        OutboundStream* s = outbound(header->ssrc);
        if (!s) return refuse(Error::too_many_streams);
        const IndexEstimate e = s->rollover.estimate(header->sequence);
        if (!e.valid) return refuse(e.exhausted ? Error::key_exhausted : Error::key_reuse);
        if (s->sent.check(e.index) != ReplayVerdict::fresh) return refuse(Error::key_reuse);
        s->sent.commit(e.index);
        s->rollover.update(e);
        ++stats_.rtp_protected;
        return out_rtp_.protect_rtp(buffer.data(), header->length, length, header->ssrc, e.roc, header->sequence);
    }

    /// Verifies, replay-checks and decrypts an SRTP packet in place. Returns the
    /// length of the RTP packet now at packet[0, n).
    Result<std::size_t> unprotect_rtp(MutableByteView packet) {
        if (packet.size() > max_packet_size) return refuse(Error::packet_too_large);
        auto header = parse_rtp_header(packet);
        if (!header) return refuse(Error::malformed_rtp_header);
        if (packet.size() < header->length + in_rtp_.tag_length()) return refuse(Error::truncated_packet);
        InboundStream* existing = find(inbound_, header->ssrc);
        // A new SSRC joins only once a packet authenticated: until then it lives in
        // candidate_ (a member, so the hot path of a known SSRC zeroes no 300-byte local).
        InboundStream& s = existing ? *existing : (candidate_ = InboundStream{header->ssrc});
        const IndexEstimate e = s.rollover.estimate(header->sequence);
        if (!e.valid) return refuse(e.exhausted ? Error::key_exhausted : Error::too_old);
        switch (s.rtp_replay.check(e.index)) {
            case ReplayVerdict::replayed: return refuse(Error::replayed);
            case ReplayVerdict::too_old: return refuse(Error::too_old);
            case ReplayVerdict::fresh: break;
        }
        if (!existing && inbound_.size() >= options_.max_streams) return refuse(Error::too_many_streams);
        if (!in_rtp_.unprotect_rtp(packet.data(), header->length, packet.size(), header->ssrc, e.roc, header->sequence))
            return refuse(Error::authentication_failed);
        // Authenticated: only now may the packet move the rollover counter and the window.
        s.rtp_replay.commit(e.index);
        s.rollover.update(e);
        if (!existing) inbound_.push_back(candidate_);
        ++stats_.rtp_unprotected;
        return packet.size() - in_rtp_.tag_length();
    }

    // ---- SRTCP ---------------------------------------------------------------------

    /// Protects the RTCP compound packet buffer[0, length) in place; buffer must have
    /// rtcp_overhead() bytes of room after it. Returns the SRTCP packet's length.
    Result<std::size_t> protect_rtcp(MutableByteView buffer, std::size_t length) {
        if (length > buffer.size()) return refuse(Error::buffer_too_small);
        if (length > max_packet_size) return refuse(Error::packet_too_large);
        auto header = parse_rtcp_header(ByteView(buffer.data(), length));
        if (!header) return refuse(Error::malformed_rtcp_header);
        if (buffer.size() - length < out_rtcp_.rtcp_overhead()) return refuse(Error::buffer_too_small);
        OutboundStream* s = outbound(header->ssrc);
        if (!s) return refuse(Error::too_many_streams);
        if (s->srtcp_index > 0x7fffffffu) return refuse(Error::key_exhausted);
        const std::uint32_t index = s->srtcp_index++;
        ++stats_.rtcp_protected;
        return out_rtcp_.protect_rtcp(buffer.data(), length, header->ssrc, index, options_.encrypt_rtcp);
    }

    /// Verifies, replay-checks and (if the E flag is set) decrypts an SRTCP packet in
    /// place. Returns the length of the RTCP compound packet now at packet[0, n).
    Result<std::size_t> unprotect_rtcp(MutableByteView packet) {
        if (packet.size() > max_packet_size) return refuse(Error::packet_too_large);
        auto header = parse_rtcp_header(packet);
        if (!header) return refuse(Error::malformed_rtcp_header);
        auto trailer = in_rtcp_.parse_rtcp_trailer(packet.data(), packet.size());
        if (!trailer) return refuse(Error::truncated_packet);
        InboundStream* existing = find(inbound_, header->ssrc);
        // A new SSRC joins only once a packet authenticated: until then it lives in
        // candidate_ (a member, so the hot path of a known SSRC zeroes no 300-byte local).
        InboundStream& s = existing ? *existing : (candidate_ = InboundStream{header->ssrc});
        switch (s.rtcp_replay.check(trailer->index)) {
            case ReplayVerdict::replayed: return refuse(Error::replayed);
            case ReplayVerdict::too_old: return refuse(Error::too_old);
            case ReplayVerdict::fresh: break;
        }
        if (!existing && inbound_.size() >= options_.max_streams) return refuse(Error::too_many_streams);
        if (!in_rtcp_.unprotect_rtcp(packet.data(), packet.size(), *trailer, header->ssrc))
            return refuse(Error::authentication_failed);
        s.rtcp_replay.commit(trailer->index);
        if (!existing) inbound_.push_back(candidate_);
        ++stats_.rtcp_unprotected;
        return trailer->body_length;
    }

    // ---- conveniences on growable buffers ------------------------------------------

    std::error_code protect_rtp(Bytes& packet) { return grow_and(packet, rtp_overhead(), &Session::protect_rtp); }
    std::error_code protect_rtcp(Bytes& packet) { return grow_and(packet, rtcp_overhead(), &Session::protect_rtcp); }
    std::error_code unprotect_rtp(Bytes& packet) { return shrink_after(packet, unprotect_rtp(MutableByteView(packet))); }
    std::error_code unprotect_rtcp(Bytes& packet) { return shrink_after(packet, unprotect_rtcp(MutableByteView(packet))); }

    /// RTP and RTCP multiplexed on one flow (RFC 5761): picks SRTP or SRTCP by the
    /// packet's first two octets (srtp::classify), so an engine can pass its
    /// application's packets and its peer's datagrams straight through.
    std::error_code protect(Bytes& packet) {
        switch (classify(packet)) {
            case PacketKind::rtp: return protect_rtp(packet);
            case PacketKind::rtcp: return protect_rtcp(packet);
            default: return refuse(Error::not_rtp_or_rtcp);
        }
    }
    std::error_code unprotect(Bytes& packet) {
        switch (classify(packet)) {
            case PacketKind::rtp: return unprotect_rtp(packet);
            case PacketKind::rtcp: return unprotect_rtcp(packet);
            default: return refuse(Error::not_rtp_or_rtcp);
        }
    }
    /// The multiplexed forms on caller buffers (in place, no allocation): protect
    /// buffer[0, length), which needs max_overhead bytes of room after it.
    Result<std::size_t> protect(MutableByteView buffer, std::size_t length) {
        switch (classify(ByteView(buffer.data(), std::min(length, buffer.size())))) {
            case PacketKind::rtp: return protect_rtp(buffer, length);
            case PacketKind::rtcp: return protect_rtcp(buffer, length);
            default: return refuse(Error::not_rtp_or_rtcp);
        }
    }
    Result<std::size_t> unprotect(MutableByteView packet) {
        switch (classify(packet)) {
            case PacketKind::rtp: return unprotect_rtp(packet);
            case PacketKind::rtcp: return unprotect_rtcp(packet);
            default: return refuse(Error::not_rtp_or_rtcp);
        }
    }

    // ---- introspection ---------------------------------------------------------------

    /// The rollover counter of an SSRC (outbound or inbound), if the SSRC was seen.
    std::optional<std::uint32_t> rollover_counter(std::uint32_t ssrc, bool outbound_direction) const {
        if (outbound_direction) {
            for (const auto& s : outbound_)
                if (s.ssrc == ssrc) return s.rollover.roc();
        } else {
            for (const auto& s : inbound_)
                if (s.ssrc == ssrc) return s.rollover.roc();
        }
        return std::nullopt;
    }

private:
    struct OutboundStream {
        std::uint32_t ssrc = 0;
        RolloverTracker rollover{};
        SrtpReplayWindow sent{};  // refuses to protect one index twice (keystream reuse)
        std::uint32_t srtcp_index = 0;
    };
    struct InboundStream {
        std::uint32_t ssrc = 0;
        RolloverTracker rollover{};
        SrtpReplayWindow rtp_replay{};
        SrtpReplayWindow rtcp_replay{};
    };

    Session(Profile profile, SessionOptions options, CryptoContext<Crypto> out_rtp, CryptoContext<Crypto> out_rtcp,
            CryptoContext<Crypto> in_rtp, CryptoContext<Crypto> in_rtcp)
        : profile_(profile), options_(options), out_rtp_(std::move(out_rtp)), out_rtcp_(std::move(out_rtcp)),
          in_rtp_(std::move(in_rtp)), in_rtcp_(std::move(in_rtcp)) {
        outbound_.reserve(4);
        inbound_.reserve(4);
    }

    template <class S>
    static S* find(std::vector<S>& streams, std::uint32_t ssrc) {
        for (auto& s : streams)
            if (s.ssrc == ssrc) return &s;
        return nullptr;
    }

    OutboundStream* outbound(std::uint32_t ssrc) {
        if (auto* s = find(outbound_, ssrc)) return s;
        if (outbound_.size() >= options_.max_streams) return nullptr;
        outbound_.push_back(OutboundStream{ssrc});
        return &outbound_.back();
    }

    std::error_code refuse(Error e) {
        switch (e) {
            case Error::malformed_rtp_header:
            case Error::malformed_rtcp_header: ++stats_.malformed; break;
            case Error::truncated_packet: ++stats_.truncated; break;
            case Error::authentication_failed: ++stats_.authentication_failures; break;
            case Error::replayed: ++stats_.replayed; break;
            case Error::too_old: ++stats_.too_old; break;
            default: ++stats_.other_refusals; break;
        }
        return make_error_code(e);
    }

    std::error_code grow_and(Bytes& packet, std::size_t overhead,
                             Result<std::size_t> (Session::*protect)(MutableByteView, std::size_t)) {
        const std::size_t length = packet.size();
        packet.resize(length + overhead);
        auto n = (this->*protect)(MutableByteView(packet), length);
        if (!n) {
            packet.resize(length);
            return n.error();
        }
        packet.resize(*n);
        return {};
    }
    static std::error_code shrink_after(Bytes& packet, Result<std::size_t> n) {
        if (!n) return n.error();
        packet.resize(*n);
        return {};
    }

    Profile profile_;
    SessionOptions options_;
    CryptoContext<Crypto> out_rtp_, out_rtcp_, in_rtp_, in_rtcp_;
    std::vector<OutboundStream> outbound_;
    std::vector<InboundStream> inbound_;
    InboundStream candidate_;  // an SSRC not yet authenticated (see unprotect_rtp)
    Statistics stats_;
};

}  // namespace tapsec::srtp
