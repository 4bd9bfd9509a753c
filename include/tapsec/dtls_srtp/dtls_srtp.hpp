// Secure<DtlsSrtpHandshake, SrtpRecord, Udp>: DTLS-SRTP (RFC 5764). DTLS 1.2
// (Botan, through the shared botan_tls adapter) negotiates use_srtp and
// authenticates; the engine then exports 2 * (key + salt) bytes with the label
// "EXTRACTOR-dtls_srtp" (RFC 5705, no context), splits them as RFC 5764 4.2 says into
// srtp::MasterKeys, and hands them to the record's layer (SrtpRecord::layer, this
// project's SRTP) through its import. The keys go from the exporter into the record
// inside the engine: application code never sees them.
// DTLS and SRTP/SRTCP share the UDP flow (RFC 7983, demux.hpp).
#pragma once

#include <cstring>
#include <optional>
#include <string>
#include <type_traits>

#include "../botan_tls/channel.hpp"
#include "../core/bounded_queue.hpp"
#include "../core/dependencies.hpp"
#include "../core/features.hpp"
#include "../srtp/keys.hpp"
#include "../srtp/profiles.hpp"
#include "../srtp/record.hpp"
#include "../srtp/session.hpp"
#include "demux.hpp"
#include "fingerprint.hpp"

namespace tapsec {

namespace dtls_srtp {

enum class DtlsSrtpErrc { no_srtp_profile_negotiated = 1, not_keyed, not_rtp_or_rtcp };

inline const char* describe(DtlsSrtpErrc e) {
    switch (e) {
        case DtlsSrtpErrc::no_srtp_profile_negotiated: return "the peer did not agree to any offered SRTP protection profile (use_srtp)";
        case DtlsSrtpErrc::not_keyed: return "SRTP is not keyed yet: the DTLS handshake has not finished";
        case DtlsSrtpErrc::not_rtp_or_rtcp: return "only RTP or RTCP packets can be sent over DTLS-SRTP";
    }
    return "unknown DTLS-SRTP error";
}

/// The shared vocabulary (core/errors.hpp); no default, so a new value must be mapped.
constexpr condition condition_of(DtlsSrtpErrc e) noexcept {
    switch (e) {
        case DtlsSrtpErrc::no_srtp_profile_negotiated: return condition::peer_incompatible;
        case DtlsSrtpErrc::not_keyed: return condition::not_ready;
        case DtlsSrtpErrc::not_rtp_or_rtcp: return condition::invalid_argument;
    }
    return condition::internal;
}

inline const std::error_category& dtls_srtp_category() noexcept {
    static const ProtocolErrorCategory<DtlsSrtpErrc> category("dtls-srtp");
    return category;
}
inline std::error_code make_error_code(DtlsSrtpErrc e) noexcept { return {static_cast<int>(e), dtls_srtp_category()}; }

/// The RFC 5764 exporter label.
inline constexpr std::string_view exporter_label = "EXTRACTOR-dtls_srtp";

/// How many protected or unprotected media packets the engine holds for the
/// application at most; the newest beyond that is dropped and counted.
inline constexpr std::size_t queue_limit = 4096;

/// The DTLS 1.2 engine plus the record's layer (SRTP for SrtpRecord) keyed from its
/// exporter. The engine knows the record only through its key interface: it builds
/// `Record::imported_keys` (srtp::MasterKeys) from the RFC 5764 exporter and hands them
/// to `Record::layer<Crypto>::import`; after that it only protects and unprotects.
/// The media path (send, receive, poll_transmit(out), poll_plaintext) allocates
/// nothing once warmed up.
template <class Crypto, class Record = SrtpRecord>
class Engine {
    using Media = typename Record::template layer<Crypto>;
    static_assert(std::is_same_v<typename Record::imported_keys, srtp::MasterKeys>,
                  "tapsec: DTLS-SRTP exports srtp::MasterKeys; the record must import them");
    static_assert(srtp::MediaLayer<Media>, "tapsec: Record::layer<Crypto> lacks the SRTP record interface");

public:
    Engine(Role role, const botan_tls::Config& config) : role_(role), dtls_(role, with_profiles(config)) { absorb_dtls_events({}); }

    std::error_code start(Instant now) {
        auto ec = dtls_.start(now);
        absorb_dtls_events(now);
        return ec;
    }

    std::error_code receive(ByteView in, const Endpoint& from, Instant now) {
        switch (route(in)) {
            case Route::dtls: {
                auto ec = dtls_.receive(in, from, now);
                absorb_dtls_events(now);
                if (ec) return ec;
                return key_media_when_ready();
            }
            case Route::srtp:
            case Route::srtcp: {
                if (!media_) return drop(make_error_code(DtlsSrtpErrc::not_keyed), now);
                // Unprotected in place in the queue's slot (its storage is reused); a full
                // queue still verifies (into scratch) so that statistics stay exact.
                Bytes& packet = received_.target();
                packet.assign(in.begin(), in.end());
                auto n = media_->unprotect(MutableByteView(packet));
                if (!n) return drop(n.error(), now);  // counted by the layer too
                packet.resize(*n);
                if (!received_.commit()) return overflow();
                return {};
            }
            case Route::drop: return drop(make_error_code(dtls::DtlsErrc::malformed_record), now);
        }
        return {};
    }

    std::optional<Transmit> poll_transmit() {
        if (!outgoing_.empty()) {
            Transmit t{Bytes(outgoing_.front().begin(), outgoing_.front().end()), dtls_.bound_peer()};  // the slot keeps its buffer
            outgoing_.pop_front();
            return t;
        }
        auto t = dtls_.poll_transmit();
        absorb_dtls_events({});
        return t;
    }
    /// The next datagram into the caller's buffer (at least max_transmit_size bytes).
    std::optional<TransmitInfo> poll_transmit(MutableByteView out) {
        if (!outgoing_.empty()) {
            const Bytes& media = outgoing_.front();
            if (out.size() < media.size()) return std::nullopt;
            std::memcpy(out.data(), media.data(), media.size());
            TransmitInfo info{media.size(), dtls_.bound_peer()};  // a server answers the client it bound, whoever spoke first
            outgoing_.pop_front();
            return info;
        }
        auto t = dtls_.poll_transmit();  // handshake flights: not the media path
        if (!t) return std::nullopt;
        if (out.size() < t->data.size()) return std::nullopt;
        std::memcpy(out.data(), t->data.data(), t->data.size());
        return TransmitInfo{t->data.size(), t->to};
    }
    /// Unprotected RTP / RTCP packets from the peer.
    std::optional<Bytes> poll_application_data() { return received_.poll_copy(); }
    /// The next unprotected RTP / RTCP packet as a view valid until the next call.
    std::optional<ByteView> poll_plaintext() { return received_.poll_view(); }
    std::optional<Event> poll_event() {
        absorb_dtls_events({});
        return events_.pop();
    }

    /// Protects one RTP or RTCP packet (RFC 5761 muxing) and queues it as a datagram.
    std::error_code send(ByteView packet, Instant) {
        if (!media_) return make_error_code(DtlsSrtpErrc::not_keyed);
        if (is_closed()) return make_error_code(Errc::not_connected);  // after either side's close: refused, not sent
        const auto kind = srtp::classify(packet);
        if (kind != srtp::PacketKind::rtp && kind != srtp::PacketKind::rtcp)
            return make_error_code(DtlsSrtpErrc::not_rtp_or_rtcp);
        Bytes* slot = outgoing_.reserve_back();
        if (!slot) return overflow(), std::make_error_code(std::errc::no_buffer_space);  // the application polls nothing
        slot->resize(packet.size() + srtp::max_overhead);  // capacity kept between packets
        std::memcpy(slot->data(), packet.data(), packet.size());
        auto n = media_->protect(MutableByteView(*slot), packet.size());
        if (!n) return n.error();
        slot->resize(*n);
        outgoing_.commit_back();
        return {};
    }

    std::optional<Instant> next_timeout() const { return dtls_.next_timeout(); }
    std::error_code on_timeout(Instant now) {
        auto ec = dtls_.on_timeout(now);
        absorb_dtls_events(now);
        return ec;
    }
    std::error_code close(Instant now) {
        auto ec = dtls_.close(now);
        absorb_dtls_events(now);
        return ec;
    }
    /// Established once SRTP is keyed, not merely when DTLS is.
    bool is_established() const { return dtls_.is_established() && media_.has_value(); }
    bool is_closed() const { return dtls_.is_closed() || static_cast<bool>(failure_); }
    SessionInfo session_info() const {
        SessionInfo info = dtls_.session_info();
        if (media_) info.protocol += " + SRTP " + std::string(srtp::parameters(media_->profile()).name);
        return info;
    }

    Result<SecretBytes> export_keying_material(std::string_view label, ByteView context, std::size_t length) const {
        return dtls_.export_keying_material(label, context, length);
    }

    // ---- introspection for tests, the CLI and the benchmarks --------------------------
    std::optional<srtp::Profile> srtp_profile() const {
        return media_ ? std::optional<srtp::Profile>(media_->profile()) : std::nullopt;
    }
    const srtp::Statistics* srtp_statistics() const
        requires requires(const Media& m) { { m.statistics() } -> std::convertible_to<const srtp::Statistics&>; }
    {
        return media_ ? &media_->statistics() : nullptr;
    }
    std::size_t dropped() const { return dropped_ + dtls_.dropped(); }
    /// Server: the client the DTLS cookie exchange bound this connection to.
    std::optional<Endpoint> bound_peer() const { return dtls_.bound_peer(); }
    std::error_code last_drop() const { return last_drop_; }
    std::string failure_detail() const { return failure_detail_.empty() ? dtls_.failure_detail() : failure_detail_; }
    std::size_t retransmissions() const { return dtls_.retransmissions(); }
    /// Media packets dropped because the application left a queue full.
    std::uint64_t queue_overflows() const { return queue_overflows_; }
    std::size_t queued_transmits() const { return outgoing_.size(); }
    std::size_t queued_plaintexts() const { return received_.size(); }
    std::size_t queued_events() const { return events_.size(); }
    std::uint64_t coalesced_drop_events() const { return events_.coalesced_drops(); }

private:
    /// RFC 5764 4.1.1: offer (or accept) the SRTP profiles this implementation has,
    /// unless the configuration names some.
    static botan_tls::Config with_profiles(botan_tls::Config config) {
        if (config.srtp_profiles.empty())
            for (auto p : srtp::supported_profiles) config.srtp_profiles.push_back(static_cast<std::uint16_t>(p));
        return config;
    }

    /// The handshake's side of the key interface: RFC 5764 4.2 exporter output as
    /// srtp::MasterKeys, imported by the record's layer.
    std::error_code key_media_when_ready() {
        if (media_ || !dtls_.is_established()) return {};
        const auto profile = srtp::profile_from_code(dtls_.srtp_profile());
        if (!profile) return fail(make_error_code(DtlsSrtpErrc::no_srtp_profile_negotiated));
        auto material = dtls_.export_keying_material(exporter_label, {}, srtp::MasterKeys::exporter_length(*profile));
        if (!material) return fail(material.error());
        auto keys = srtp::MasterKeys::from_dtls_srtp_exporter(*profile, *material);
        if (!keys) return fail(keys.error());
        auto media = Media::import(*keys, role_);
        if (!media) return fail(media.error());
        media_.emplace(std::move(*media));
        events_.push(EventKind::key_updated);  // the profile: srtp_profile()
        return {};
    }

    /// The DTLS channel's events go through this engine's bounded, coalescing queue.
    void absorb_dtls_events(Instant now) {
        while (auto e = dtls_.poll_event()) events_.absorb(std::move(*e), now);
    }

    std::error_code fail(std::error_code ec) {
        if (!failure_) {
            failure_ = ec;
            failure_detail_ = ec.message();
        }
        return failure_;
    }

    std::error_code drop(std::error_code why, Instant now) {
        ++dropped_;
        last_drop_ = why;
        events_.note_drop(why, now);
        return {};
    }
    std::error_code overflow() {
        ++queue_overflows_;
        return {};
    }

    Role role_;
    botan_tls::ChannelEngine<botan_tls::Carrier::datagram> dtls_;
    std::optional<Media> media_;
    BoundedQueue<Bytes> outgoing_{queue_limit};
    PlaintextInbox received_{queue_limit};
    EventQueue events_;
    std::error_code failure_;
    std::string failure_detail_;
    std::size_t dropped_ = 0;
    std::uint64_t queue_overflows_ = 0;
    std::error_code last_drop_;
};

}  // namespace dtls_srtp

struct DtlsSrtpHandshake {
    static constexpr std::string_view name = "DTLS-SRTP handshake (Botan DTLS 1.2 + use_srtp)";
    // AN (suites, groups and SRTP profiles), AD (validate_peer + delegate_authentication:
    // RFC 5763 fingerprint binding), MA, DM and SV (DTLS cookie), AFN (ALPN), SC (resumption
    // through the session cache; use_srtp is negotiated again, see botan_tls/channel.hpp).
    using provides = features<feature::AN, feature::AD, feature::MA, feature::DM, feature::SV, feature::AFN, feature::SC,
                              feature::forward_secrecy, feature::public_key_authentication,
                              feature::responder_authentication>;
    // This engine always runs the cookie exchange (the server always has a cookie key).
    using intrinsic = features<feature::SV>;
    using needs = dependencies<dependency::datagram, dependency::pki_trust_store>;
    static constexpr KeyExport key_export = KeyExport::explicit_export;
    using exported_keys = srtp::MasterKeys;
    using Config = botan_tls::Config;
    // Keys whatever record imports srtp::MasterKeys, through the record's layer.
    template <class Record, class Crypto>
    using engine = dtls_srtp::Engine<Crypto, Record>;
    // The DTLS half is Botan's TLS stack whatever the provider: naming another one
    // would run Botan silently (a composition rule, core/composition.hpp).
    template <class Crypto>
    static constexpr bool runs_on = botan_tls::runs_on_botan<Crypto>;
};

}  // namespace tapsec

template <>
struct std::is_error_code_enum<tapsec::dtls_srtp::DtlsSrtpErrc> : std::true_type {};
