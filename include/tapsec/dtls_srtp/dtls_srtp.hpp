// Secure<DtlsSrtpHandshake, SrtpRecord, Udp>: DTLS-SRTP (RFC 5764). DTLS 1.2
// (Botan, through the shared botan_tls adapter) negotiates use_srtp and
// authenticates; the engine then exports 2 * (key + salt) bytes with the label
// "EXTRACTOR-dtls_srtp" (RFC 5705, no context), splits them as RFC 5764 4.2 says, and
// keys this project's own SRTP (srtp::Session) with them. The keys go from the
// exporter into the SRTP session inside the engine: application code never sees them.
// DTLS and SRTP/SRTCP share the UDP flow (RFC 7983, demux.hpp).
#pragma once

#include <deque>
#include <optional>
#include <string>

#include "../botan_tls/channel.hpp"
#include "../core/dependencies.hpp"
#include "../core/features.hpp"
#include "../srtp/keys.hpp"
#include "../srtp/profiles.hpp"
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

/// The DTLS 1.2 engine plus an SRTP session keyed from its exporter.
template <class Crypto>
class Engine {
public:
    Engine(Role role, const botan_tls::Config& config) : role_(role), dtls_(role, with_profiles(config)) {}

    std::error_code start(Instant now) { return dtls_.start(now); }

    std::error_code receive(ByteView in, const Endpoint& from, Instant now) {
        switch (route(in)) {
            case Route::dtls: {
                if (auto ec = dtls_.receive(in, from, now)) return ec;
                return key_srtp_when_ready();
            }
            case Route::srtp:
            case Route::srtcp: {
                if (!session_) return drop(make_error_code(DtlsSrtpErrc::not_keyed));
                Bytes packet(in.begin(), in.end());
                if (auto ec = session_->unprotect(packet)) return drop(ec);  // counted by the session too
                media_.push_back(std::move(packet));
                return {};
            }
            case Route::drop: return drop(make_error_code(dtls::DtlsErrc::malformed_record));
        }
        return {};
    }

    std::optional<Transmit> poll_transmit() {
        if (!outgoing_.empty()) {
            Transmit t{std::move(outgoing_.front()), std::nullopt};
            outgoing_.pop_front();
            return t;
        }
        return dtls_.poll_transmit();
    }
    /// Unprotected RTP / RTCP packets from the peer.
    std::optional<Bytes> poll_application_data() {
        if (media_.empty()) return std::nullopt;
        Bytes b = std::move(media_.front());
        media_.pop_front();
        return b;
    }
    std::optional<Event> poll_event() {
        if (!events_.empty()) {
            Event e = std::move(events_.front());
            events_.pop_front();
            return e;
        }
        return dtls_.poll_event();
    }

    /// Protects one RTP or RTCP packet (RFC 5761 muxing) and queues it as a datagram.
    std::error_code send(ByteView packet, Instant) {
        if (!session_) return make_error_code(DtlsSrtpErrc::not_keyed);
        Bytes out(packet.begin(), packet.end());
        if (srtp::classify(out) != srtp::PacketKind::rtp && srtp::classify(out) != srtp::PacketKind::rtcp)
            return make_error_code(DtlsSrtpErrc::not_rtp_or_rtcp);
        if (auto ec = session_->protect(out)) return ec;
        outgoing_.push_back(std::move(out));
        return {};
    }

    std::optional<Instant> next_timeout() const { return dtls_.next_timeout(); }
    std::error_code on_timeout(Instant now) { return dtls_.on_timeout(now); }
    std::error_code close(Instant now) { return dtls_.close(now); }
    /// Established once SRTP is keyed, not merely when DTLS is.
    bool is_established() const { return dtls_.is_established() && session_.has_value(); }
    bool is_closed() const { return dtls_.is_closed() || static_cast<bool>(failure_); }
    SessionInfo session_info() const {
        SessionInfo info = dtls_.session_info();
        if (session_) info.protocol += " + SRTP " + std::string(srtp::parameters(session_->profile()).name);
        return info;
    }

    Result<SecretBytes> export_keying_material(std::string_view label, ByteView context, std::size_t length) const {
        return dtls_.export_keying_material(label, context, length);
    }

    // ---- introspection for tests, the CLI and the benchmarks --------------------------
    std::optional<srtp::Profile> srtp_profile() const {
        return session_ ? std::optional<srtp::Profile>(session_->profile()) : std::nullopt;
    }
    const srtp::Statistics* srtp_statistics() const { return session_ ? &session_->statistics() : nullptr; }
    std::size_t dropped() const { return dropped_ + dtls_.dropped(); }
    std::error_code last_drop() const { return last_drop_; }
    std::string failure_detail() const { return failure_detail_.empty() ? dtls_.failure_detail() : failure_detail_; }
    std::size_t retransmissions() const { return dtls_.retransmissions(); }

private:
    /// RFC 5764 4.1.1: offer (or accept) the SRTP profiles this implementation has,
    /// unless the configuration names some.
    static botan_tls::Config with_profiles(botan_tls::Config config) {
        if (config.srtp_profiles.empty())
            for (auto p : srtp::supported_profiles) config.srtp_profiles.push_back(static_cast<std::uint16_t>(p));
        return config;
    }

    std::error_code key_srtp_when_ready() {
        if (session_ || !dtls_.is_established()) return {};
        const auto profile = srtp::profile_from_code(dtls_.srtp_profile());
        if (!profile) return fail(make_error_code(DtlsSrtpErrc::no_srtp_profile_negotiated));
        auto material = dtls_.export_keying_material(exporter_label, {}, srtp::MasterKeys::exporter_length(*profile));
        if (!material) return fail(material.error());
        auto keys = srtp::MasterKeys::from_dtls_srtp_exporter(*profile, *material);
        if (!keys) return fail(keys.error());
        auto session = srtp::Session<Crypto>::create(*keys, role_);
        if (!session) return fail(session.error());
        session_.emplace(std::move(*session));
        events_.push_back({EventKind::key_updated, std::string("SRTP keyed: ") + std::string(srtp::parameters(*profile).name)});
        return {};
    }

    std::error_code fail(std::error_code ec) {
        if (!failure_) {
            failure_ = ec;
            failure_detail_ = ec.message();
        }
        return failure_;
    }

    std::error_code drop(std::error_code why) {
        ++dropped_;
        last_drop_ = why;
        events_.push_back(Event{.kind = EventKind::dropped_packet, .detail = {}, .reason = why});
        return {};
    }

    Role role_;
    botan_tls::ChannelEngine<botan_tls::Carrier::datagram> dtls_;
    std::optional<srtp::Session<Crypto>> session_;
    std::deque<Bytes> outgoing_, media_;
    std::deque<Event> events_;
    std::error_code failure_;
    std::string failure_detail_;
    std::size_t dropped_ = 0;
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
    template <class Record, class Crypto>
    using engine = dtls_srtp::Engine<Crypto>;
    // The DTLS half is Botan's TLS stack whatever the provider: naming another one
    // would run Botan silently (a composition rule, core/composition.hpp).
    template <class Crypto>
    static constexpr bool runs_on = botan_tls::runs_on_botan<Crypto>;
};

}  // namespace tapsec

template <>
struct std::is_error_code_enum<tapsec::dtls_srtp::DtlsSrtpErrc> : std::true_type {};
