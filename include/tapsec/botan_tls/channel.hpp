// The one adapter between tapsec's sans-I/O engine contract and Botan 2's TLS
// stack, shared by TLS 1.2 (stream) and DTLS 1.2 (datagram) compositions.
//
// Botan's Channel is already sans-I/O in the sense that matters: bytes go in through
// received_data(), bytes come out through Callbacks::tls_emit_data(). This engine
// supplies the Callbacks, a Policy built from the Config, Credentials from the
// Identity/TrustStore, a Session_Manager over the application's SessionCache, and
// turns Botan's exceptions and alerts into distinct tapsec error codes.
//
// Botan specifics (see docs/tls12.md): the handshake, key schedule and record
// protection all run inside Botan, so tapsec's crypto-provider seam does not apply
// to these compositions; Botan reads the wall clock for certificate validity and
// session lifetimes. DTLS retransmission timing is NOT left to Botan's clock: the
// policy sets Botan's retransmission timeout to zero and this engine decides when
// to retransmit from the time passed in (next_timeout / on_timeout).
#pragma once

#include <algorithm>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <arpa/inet.h>

#include <botan/system_rng.h>
#include <botan/tls_callbacks.h>
#include <botan/tls_client.h>
#include <botan/tls_exceptn.h>
#include <botan/tls_extensions.h>
#include <botan/tls_messages.h>
#include <botan/tls_server.h>
#include <botan/x509path.h>

#include "../core/bounded_queue.hpp"
#include "../core/engine.hpp"
#include "../dtls/wire.hpp"
#include "../core/errors.hpp"
#include "../crypto/botan.hpp"
#include "config.hpp"
#include "credentials.hpp"
#include "errors.hpp"
#include "policy.hpp"
#include "session_bridge.hpp"

namespace tapsec::botan_tls {

/// Which of Botan's two channel flavours an engine drives.
enum class Carrier { stream, datagram };

namespace detail {

inline bool is_ip_literal(const std::string& name) {
    in6_addr v6{};
    in_addr v4{};
    return inet_pton(AF_INET, name.c_str(), &v4) == 1 || inet_pton(AF_INET6, name.c_str(), &v6) == 1;
}

/// A failed certificate path as a tapsec error: the cause, not just "bad certificate".
inline std::error_code path_error(Botan::Certificate_Status_Code code) {
    using C = Botan::Certificate_Status_Code;
    switch (code) {
        case C::CERT_NAME_NOMATCH: return Errc::certificate_name_mismatch;
        case C::CERT_HAS_EXPIRED:
        case C::CERT_NOT_YET_VALID: return Errc::certificate_expired;
        default: return Errc::certificate_untrusted;
    }
}

/// IANA TLS Supported Groups names (Botan does not export its own mapping).
inline std::string group_name(std::uint16_t id) {
    switch (id) {
        case 23: return "secp256r1";
        case 24: return "secp384r1";
        case 25: return "secp521r1";
        case 26: return "brainpoolP256r1";
        case 27: return "brainpoolP384r1";
        case 28: return "brainpoolP512r1";
        case 29: return "x25519";
        default: return "group " + std::to_string(id);
    }
}

/// The alert we send for that cause (RFC 5246 7.2.2).
inline Botan::TLS::Alert::Type alert_for(std::error_code ec) {
    using A = Botan::TLS::Alert;
    if (ec == Errc::certificate_untrusted) return A::UNKNOWN_CA;
    if (ec == Errc::certificate_expired) return A::CERTIFICATE_EXPIRED;
    return A::BAD_CERTIFICATE;
}

}  // namespace detail

template <Carrier carrier>
class ChannelEngine {
    static constexpr bool datagram = carrier == Carrier::datagram;

public:
    ChannelEngine(Role role, const Config& config) : state_(std::make_unique<State>(role, config)) {}
    ChannelEngine(ChannelEngine&&) noexcept = default;
    ChannelEngine& operator=(ChannelEngine&&) noexcept = default;

    // ---- SansIoEngine ----------------------------------------------------------------

    [[nodiscard]] std::error_code start(Instant now) { return state_->start(now); }

    [[nodiscard]] std::error_code receive(ByteView in, const Endpoint& from, Instant now) { return state_->receive(in, from, now); }

    std::optional<Transmit> poll_transmit() {
        if (auto& replies = state_->stateless_replies; !replies.empty()) {
            Transmit t = std::move(replies.front());
            replies.pop_front();
            return t;
        }
        auto& out = state_->outgoing;
        if (out.empty()) return std::nullopt;
        Transmit t{std::move(out.front()), state_->bound_peer};
        if (state_->outgoing_offset) t.data.erase(t.data.begin(), t.data.begin() + static_cast<std::ptrdiff_t>(state_->outgoing_offset));
        state_->outgoing_offset = 0;
        out.pop_front();
        return t;
    }
    /// CallerBufferEngine: the next datagram (DTLS), or the next run of stream bytes
    /// (TLS), copied into the caller's buffer. `out` holds at least max_transmit_size
    /// bytes, more than any DTLS record, so a datagram is never split.
    std::optional<TransmitInfo> poll_transmit(MutableByteView out) {
        if (auto& replies = state_->stateless_replies; !replies.empty()) {
            const Transmit& reply = replies.front();
            if (out.size() < reply.data.size()) return std::nullopt;
            std::copy(reply.data.begin(), reply.data.end(), out.begin());
            TransmitInfo info{reply.data.size(), reply.to};
            replies.pop_front();
            return info;
        }
        auto& queue = state_->outgoing;
        if (queue.empty()) return std::nullopt;
        const Bytes& front = queue.front();
        std::size_t& offset = state_->outgoing_offset;
        const std::size_t n = std::min(out.size(), front.size() - offset);
        std::copy_n(front.begin() + static_cast<std::ptrdiff_t>(offset), n, out.begin());
        offset += n;
        if (offset == front.size()) {
            queue.pop_front();
            offset = 0;
        }
        return TransmitInfo{n, state_->bound_peer};
    }
    std::optional<Bytes> poll_application_data() {
        auto& in = state_->application;
        release_lent_plaintext();
        if (in.empty()) return std::nullopt;
        Bytes b = std::move(in.front());
        in.pop_front();
        return b;
    }
    /// ViewReceiveEngine: the next plaintext record as a view into the engine's queue,
    /// valid until the next poll_plaintext / poll_application_data call.
    std::optional<ByteView> poll_plaintext() {
        auto& in = state_->application;
        release_lent_plaintext();
        if (in.empty()) return std::nullopt;
        state_->plaintext_lent = true;
        return ByteView(in.front());
    }
    std::optional<Event> poll_event() {
        return state_->events.pop();
    }

    [[nodiscard]] std::error_code send(ByteView data, Instant now) { return state_->send(data, now); }
    std::optional<Instant> next_timeout() const { return state_->next_timeout(); }
    [[nodiscard]] std::error_code on_timeout(Instant now) { return state_->on_timeout(now); }
    std::error_code close(Instant now) { return state_->close(now); }  // best effort on teardown, as Secure<>::close
    bool is_established() const { return state_->established && !state_->failure; }
    bool is_closed() const { return state_->is_closed(); }
    SessionInfo session_info() const { return state_->info; }

    // ---- 6.3 keying-material export (RFC 5705) ---------------------------------------

    /// RFC 5705 exporter. An empty context means "no context" (as OpenSSL's
    /// -keymatexport without -keymatexportcontext, and as RFC 5764 uses it).
    Result<SecretBytes> export_keying_material(std::string_view label, ByteView context, std::size_t length) const {
        if (!state_->channel || !state_->established || state_->failure) return Errc::not_connected;
        try {
            const auto key = state_->channel->key_material_export(
                std::string(label), std::string(reinterpret_cast<const char*>(context.data()), context.size()), length);
            return SecretBytes(key.begin(), key.end());
        } catch (const std::exception&) {
            return Errc::internal_error;
        }
    }

    // ---- for compositions built on this engine (DTLS-SRTP) ----------------------------

    /// RFC 5764 protection profile id the handshake agreed on (0 = none).
    std::uint16_t srtp_profile() const { return state_->srtp_profile; }
    /// Why construction or the handshake failed, in words (for the CLI's one line).
    std::string failure_detail() const { return state_->failure_detail; }
    /// Retransmissions this engine triggered (DTLS), for tests and benchmarks.
    std::size_t retransmissions() const { return state_->retransmissions; }
    /// Datagrams or records dropped before Botan saw them (DTLS), and the last reason.
    std::size_t dropped() const { return state_->dropped; }
    std::error_code last_drop() const { return state_->last_drop; }
    /// DTLS server: the client this connection is bound to, once it returned a valid
    /// cookie (every transmit then goes to it, and datagrams from elsewhere are dropped).
    std::optional<Endpoint> bound_peer() const { return state_->bound_peer; }
    /// DTLS server: HelloVerifyRequests sent statelessly before a client was bound.
    std::size_t hello_verify_requests() const { return state_->hello_verify_requests; }
    /// DTLS server: answers to ClientHellos not queued because max_stateless_replies
    /// were waiting unsent (the caller does not poll transmits).
    std::size_t discarded_replies() const { return state_->discarded_replies; }
    static constexpr std::size_t max_stateless_replies = 16;
    /// Events queued for poll_event, and events not queued because the queue was full
    /// (a flood is coalesced into one dropped_packet event per reason; see push_event).
    std::size_t pending_events() const { return state_->events.size(); }
    std::size_t discarded_events() const { return static_cast<std::size_t>(state_->events.discarded()); }

    /// At most this many events wait for poll_event: an attacker's junk cannot grow them.
    static constexpr std::size_t max_pending_events = 64;

private:
    void release_lent_plaintext() {
        if (state_->plaintext_lent && !state_->application.empty()) state_->application.pop_front();
        state_->plaintext_lent = false;
    }

    struct State final : Botan::TLS::Callbacks {
        State(Role r, const Config& config)
            : role(r),
              server_name(config.server_name),
              server_port(config.server_port),
              alpn(config.alpn),
              validate_peer(config.validate_peer),
              delegate_authentication(config.delegate_authentication),
              verify_peer(config.verify_peer),
              key_log(config.key_log),
              trace(config.trace),
              initial_rto(config.initial_retransmit_timeout),
              max_rto(config.maximum_retransmit_timeout),
              accept_timeout(config.accept_handshake_timeout),
              policy(config, r, datagram),
              credentials(config, r),
              sessions(config.session_cache, datagram ? "dtls12/" : "tls12/", [this] {
                  push_event({.kind = EventKind::session_ticket, .detail = {}, .reason = {}});
              }) {
            info.protocol = datagram ? "DTLS 1.2" : "TLS 1.2";
            if (config.dtls_cookie_secret) credentials.use_cookie_secret(*config.dtls_cookie_secret);
            if (credentials.error()) configuration_error(credentials.error(), credentials.error_detail());
            else if (policy.error()) configuration_error(policy.error(), policy.error_detail());
            else if (delegate_authentication && !validate_peer)
                configuration_error(Errc::invalid_configuration, "delegated authentication needs validate_peer");
            else if (r == Role::client && verify_peer && !delegate_authentication && credentials.anchors().size() == 1 &&
                     config.trust.ca_certificates_pem.empty())
                configuration_error(Errc::invalid_configuration,
                                    "no trust anchors: set trust.ca_certificates_pem or trust.use_system_store");
        }

        void configuration_error(std::error_code ec, std::string detail) {
            failure = ec;
            failure_detail = std::move(detail);
        }

        // ---- driving Botan -------------------------------------------------------------

        std::error_code start(Instant t) {
            if (failure) return failure;
            if (channel) return {};
            now = t;
            return guarded([&] {
                if (role == Role::client) {
                    // RFC 6066 3: no IP literals in SNI; Botan keys its session lookup on
                    // Server_Information, so the literal goes in the "service" slot instead.
                    const bool literal = detail::is_ip_literal(server_name);
                    Botan::TLS::Server_Information server(literal ? "" : server_name, literal ? server_name : "",
                                                          server_port);
                    channel = std::make_unique<Botan::TLS::Client>(
                        *this, sessions, credentials, policy, Botan::system_rng(), server,
                        datagram ? Botan::TLS::Protocol_Version::DTLS_V12 : Botan::TLS::Protocol_Version::TLS_V12, alpn);
                    arm_retransmission();
                } else {
                    channel = std::make_unique<Botan::TLS::Server>(*this, sessions, credentials, policy,
                                                                   Botan::system_rng(), datagram);
                }
            });
        }

        std::error_code receive(ByteView in, const Endpoint& from, Instant t) {
            if (failure) return failure;
            if (!channel)
                if (auto ec = start(t)) return ec;
            now = t;
            if (!datagram && in.empty()) return end_of_stream();
            Bytes kept;
            if constexpr (datagram) {
                if (role == Role::server) {
                    if (!bound_peer) {
                        if (!accept_stateless(in, from)) return failure;  // answered or dropped: no state kept
                    } else if (!(from == *bound_peer)) {
                        note_drop(dtls::DtlsErrc::other_peer);
                        return {};
                    }
                }
                peer = from;
                const auto verdict = admit(in, kept);
                if (verdict == Admission::none) return {};
                if (verdict == Admission::some) in = kept;
            }
            const std::size_t sent_before = emitted;
            const bool established_before = established;
            auto ec = guarded([&] { channel->received_data(in.data(), in.size()); });
            if (ec) return ec;
            if (failure) return failure;  // a fatal alert from the peer
            if constexpr (datagram) {
                // A new flight from us restarts the RFC 6347 timer at its initial value.
                if (!established && emitted != sent_before && timers_armed) {
                    rto = initial_rto;
                    arm_retransmission();
                }
                // The flight that completed the handshake on our side (the server's
                // CCS+Finished, or the client's in an abbreviated handshake): kept to
                // answer the peer's retransmissions, see admit().
                if (established && !established_before && emitted != sent_before) {
                    const std::size_t count = std::min(emitted - sent_before, outgoing.size());
                    final_flight.assign(outgoing.end() - static_cast<std::ptrdiff_t>(count), outgoing.end());
                }
                if (retransmit_at && *retransmit_at <= t) return on_timeout(t);
            }
            return {};
        }

        /// RFC 6347 4.1.2.7: invalid records are silently discarded. Botan discards
        /// them without telling anyone; we discard (and count) what we can recognise
        /// first: datagrams that are not DTLS, and records from an epoch this
        /// connection can never reach (0 and 1 only: renegotiation is disabled).
        enum class Admission { none, some, all };
        Admission admit(ByteView datagram_in, Bytes& kept) {
            auto records = dtls::parse_datagram(datagram_in);
            if (!records) {
                note_drop(records.error());
                return Admission::none;
            }
            bool all = true;
            bool peer_retransmitted = false;
            for (const auto& record : *records) {
                if (record.epoch > 1) {
                    note_drop(dtls::DtlsErrc::unknown_epoch);
                    all = false;
                    continue;
                }
                // Handshake records after our side is established can only be the peer
                // retransmitting its last flight because ours was lost (renegotiation is
                // off). Botan 2 neither answers them (its "detect retransmitted flight"
                // is a TODO) nor tolerates an epoch-1 one (it would start a new
                // handshake and fail), so they stop here and we replay our final
                // flight, as RFC 6347 4.2.4 asks.
                // Botan fails the connection on a record whose version differs from the
                // negotiated one ("unexpected record version"); after ServerHello that can
                // only be a stale ClientHello/HelloVerifyRequest (record version DTLS 1.0)
                // delayed or duplicated by the network: drop it.
                if (version_negotiated && record.version != dtls::version_dtls12) {
                    all = false;
                    continue;
                }
                if (established && (record.type == dtls::ContentType::handshake ||
                                    record.type == dtls::ContentType::change_cipher_spec)) {
                    peer_retransmitted = true;
                    all = false;
                    continue;
                }
                kept.insert(kept.end(), record.header_and_fragment.begin(), record.header_and_fragment.end());
            }
            if (peer_retransmitted) replay_final_flight();
            if (all) return Admission::all;
            return kept.empty() ? Admission::none : Admission::some;
        }

        /// Server, until a client returns a valid cookie (RFC 6347 4.2.1): every
        /// ClientHello is answered from its own bytes and its sender's address, and
        /// nothing else is kept, so that no stray datagram, flood or other client can
        /// capture the connection. Returns true when `in` comes with a valid cookie: the
        /// connection is then bound to `from` and Botan's server primed to take `in`.
        bool accept_stateless(ByteView in, const Endpoint& from) {
            auto records = dtls::parse_datagram(in);
            if (!records) return note_drop(records.error()), false;
            const dtls::Record& record = records->front();
            auto hello = record.type == dtls::ContentType::handshake && record.epoch == 0
                             ? dtls::parse_handshake_fragment(record.fragment)
                             : Result<dtls::HandshakeFragment>(make_error_code(dtls::DtlsErrc::no_client_hello));
            // A fragmented ClientHello cannot be checked without keeping state: dropped.
            if (!hello || hello->msg_type != dtls::client_hello_type || !hello->whole() || hello->message_seq > max_hello_rounds)
                return note_drop(dtls::DtlsErrc::no_client_hello), false;
            const Bytes body(hello->body.begin(), hello->body.end());
            std::optional<Botan::TLS::Client_Hello> client_hello;
            try {
                client_hello.emplace(body);
            } catch (const std::exception&) {
                return note_drop(dtls::DtlsErrc::no_client_hello), false;
            }
            // The cookie as Botan's server computes it (HMAC of the hello and the
            // address under this server's secret), so that Botan accepts what we accept.
            const Botan::TLS::Hello_Verify_Request expected(client_hello->cookie_input_data(), from.to_string(),
                                                            credentials.psk("tls-server", "dtls-cookie-secret", ""));
            const auto& cookie = client_hello->cookie();
            if (cookie.empty() || !constant_time_equal(ByteView(cookie), ByteView(expected.cookie()))) {
                send_hello_verify(expected, *hello, from);
                return false;
            }
            bound_peer = from;
            peer = from;
            accept_deadline = now + accept_timeout;
            return prime_server(body, record, *hello);
        }

        /// The HelloVerifyRequest for one ClientHello, addressed to its sender, with the
        /// ClientHello's message_seq. Its record sequence number is that message_seq too:
        /// the number Botan's server gives its own HelloVerifyRequest of that round, so
        /// that the ServerHello it sends later (record k after k rounds) is never taken for
        /// a replay by the client. (RFC 6347 4.2.1 suggests the ClientHello's record
        /// number, which is larger after a retransmission and would hide the ServerHello.)
        void send_hello_verify(const Botan::TLS::Hello_Verify_Request& verify, const dtls::HandshakeFragment& hello,
                               const Endpoint& to) {
            if (stateless_replies.size() >= max_stateless_replies) return void(++discarded_replies);
            const auto body = verify.serialize();
            Bytes datagram_out;
            wire::Writer w(datagram_out);
            w.u8(static_cast<std::uint8_t>(dtls::ContentType::handshake));
            w.u16(dtls::version_dtls12);
            w.u16(0);
            w.uint(hello.message_seq, 6);
            w.u16(static_cast<std::uint16_t>(dtls::handshake_header_size + body.size()));
            w.u8(dtls::hello_verify_request_type);
            w.u24(static_cast<std::uint32_t>(body.size()));
            w.u16(hello.message_seq);
            w.u24(0);
            w.u24(static_cast<std::uint32_t>(body.size()));
            w.bytes(ByteView(body));
            stateless_replies.push_back(Transmit{std::move(datagram_out), to});
            ++hello_verify_requests;
        }

        /// Botan's server keeps its cookie exchange in its handshake state, which we
        /// never let it build from unverified datagrams. Before the ClientHello that
        /// carries the cookie (message_seq k) it gets the k cookie-less ClientHellos the
        /// client sent before (the same hello without the cookie, RFC 6347 4.2.1), so that
        /// its message sequence numbers match the client's; its HelloVerifyRequests to
        /// them are discarded (the client already has ours). The first hello and the
        /// HelloVerifyRequest are not part of the handshake transcript (RFC 6347 4.2.6).
        bool prime_server(const Bytes& body, const dtls::Record& record, const dtls::HandshakeFragment& hello) {
            if (hello.message_seq == 0) return true;
            // ClientHello: version(2) random(32) session_id<0..32> cookie<0..255> ...
            const std::size_t cookie_at = 34 + 1 + body[34];
            Bytes without_cookie(body.begin(), body.begin() + static_cast<std::ptrdiff_t>(cookie_at));
            without_cookie.push_back(0);
            without_cookie.insert(without_cookie.end(), body.begin() + static_cast<std::ptrdiff_t>(cookie_at + 1 + body[cookie_at]),
                                  body.end());
            const std::size_t outgoing_before = outgoing.size();
            const std::size_t emitted_before = emitted;
            for (std::uint16_t seq = 0; seq < hello.message_seq; ++seq) {
                Bytes synthetic;
                wire::Writer w(synthetic);
                w.u8(static_cast<std::uint8_t>(dtls::ContentType::handshake));
                w.u16(record.version);
                w.u16(0);
                w.uint(seq, 6);
                w.u16(static_cast<std::uint16_t>(dtls::handshake_header_size + without_cookie.size()));
                w.u8(dtls::client_hello_type);
                w.u24(static_cast<std::uint32_t>(without_cookie.size()));
                w.u16(seq);
                w.u24(0);
                w.u24(static_cast<std::uint32_t>(without_cookie.size()));
                w.bytes(ByteView(without_cookie));
                if (guarded([&] { channel->received_data(synthetic.data(), synthetic.size()); })) return false;
            }
            outgoing.resize(outgoing_before);
            emitted = emitted_before;
            return true;
        }

        std::optional<Instant> next_timeout() const {
            if (!accept_deadline || established || failure) return retransmit_at;
            return retransmit_at ? std::min(*retransmit_at, *accept_deadline) : *accept_deadline;
        }

        void replay_final_flight() {
            // Once per peer flight: the peer's flight arrives as several datagrams at
            // about the same time, and each would otherwise trigger a full replay.
            if (final_flight.empty() || (last_replay && now - *last_replay < initial_rto / 2)) return;
            last_replay = now;
            ++retransmissions;
            for (const auto& datagram_out : final_flight) outgoing.push_back(datagram_out);
        }

        /// Queues an event for the application in the shared bounded queue
        /// (core/bounded_queue.hpp): drops are coalesced, and an application that never
        /// reads events cannot grow it (dropped() counts every drop).
        void push_event(Event event) {
            if (event.kind == EventKind::dropped_packet) events.note_drop(event.reason, now);
            else events.push(event.kind, event.reason);
        }

        void note_drop(std::error_code why) {
            ++dropped;
            last_drop = why;
            push_event({.kind = EventKind::dropped_packet, .detail = {}, .reason = why});
        }

        std::error_code send(ByteView data, Instant t) {
            if (failure) return failure;
            now = t;
            if (!channel || !established || !channel->is_active()) return Errc::not_connected;
            // One send is one datagram: Botan would split a larger one into several
            // records, each lost or reordered on its own. Refused instead, sending nothing.
            if (datagram && data.size() > dtls::max_plaintext) return Errc::record_overflow;
            return guarded([&] { channel->send(data.data(), data.size()); });
        }

        std::error_code on_timeout(Instant t) {
            if (failure) return failure;
            now = t;
            if (accept_deadline && !established && *accept_deadline <= t)
                return fail(Errc::timed_out, "the client " + peer.to_string() + " returned a cookie but did not finish the handshake within " +
                                                 std::to_string(accept_timeout.count() / 1000) + " s");
            if (!retransmit_at || *retransmit_at > t) return {};
            if (established || !channel) {
                retransmit_at.reset();
                return {};
            }
            // Botan's own retransmission timeout is zero (ConfiguredPolicy), so this
            // retransmits the last complete flight now; Botan declines mid-flight.
            bool retransmitted = false;
            auto ec = guarded([&] { retransmitted = channel->timeout_check(); });
            if (ec) return ec;
            if (retransmitted) ++retransmissions;
            rto = std::min(rto * 2, max_rto);
            arm_retransmission();
            return {};
        }

        std::error_code close(Instant t) {
            now = t;
            if (!channel || close_sent || channel->is_closed()) return {};
            close_sent = true;
            retransmit_at.reset();
            return guarded([&] { channel->close(); });
        }

        bool is_closed() const {
            return close_notify_received || static_cast<bool>(failure) || (channel && channel->is_closed());
        }

        std::error_code end_of_stream() {
            if (close_notify_received) return {};
            if (close_sent) {  // we closed first; the peer may end without answering (RFC 5246 7.2.1)
                close_notify_received = true;
                return {};
            }
            return fail(established ? Errc::truncated : Errc::handshake_failure,
                        established ? "stream ended without close_notify" : "peer closed the connection during the handshake");
        }

        void arm_retransmission() {
            if constexpr (datagram) {
                timers_armed = true;
                retransmit_at = now + rto;
            }
        }

        std::error_code fail(std::error_code ec, std::string detail = {}) {
            if (!failure) {
                failure = ec;
                failure_detail = detail.empty() ? ec.message() : std::move(detail);
            }
            retransmit_at.reset();
            return failure;
        }

        /// Runs a Botan call and turns whatever it throws into one tapsec error. A
        /// cause recorded by a callback (certificate, application veto) wins over the
        /// alert Botan derived from it.
        template <class F>
        std::error_code guarded(F&& call) {
            using Botan::TLS::Alert;
            try {
                call();
                // Without an exception Botan sends only warnings: close_notify (ours, or
                // its answer to the peer's) or no_renegotiation (a renegotiation refused).
                trace_sealed_alerts(close_sent || close_notify_received ? Alert::CLOSE_NOTIFY : Alert::NO_RENEGOTIATION, false);
                return {};
            } catch (const Botan::TLS::TLS_Exception& e) {
                trace_sealed_alerts(e.type(), true);
                if (verify_error) return fail(verify_error, verify_detail);
                return fail(local_alert_error(e.type()), e.what());
            } catch (const Botan::Invalid_Authentication_Tag& e) {  // also Integrity_Failure (an alias in Botan 2.19)
                trace_sealed_alerts(Alert::BAD_RECORD_MAC, true);
                return fail(Errc::bad_record_mac, e.what());
            } catch (const Botan::Decoding_Error& e) {
                trace_sealed_alerts(Alert::DECODE_ERROR, true);
                if (verify_error) return fail(verify_error, verify_detail);
                return fail(Errc::decode_error, e.what());
            } catch (const std::exception& e) {
                trace_sealed_alerts(Alert::INTERNAL_ERROR, true);
                if (verify_error) return fail(verify_error, verify_detail);
                return fail(Errc::handshake_failure, e.what());
            }
        }

        /// Botan 2 reports the alerts it receives (tls_alert) but not those it sends: they
        /// are seen in tls_emit_data, one record per call, as content type 21. Before
        /// encryption the record says which alert; after it, what made Botan send it does
        /// (Botan 2's Channel::received_data answers each exception with one fatal alert:
        /// the TLS_Exception's type, bad_record_mac, decode_error, else internal_error).
        void note_sent_record(const std::uint8_t data[], std::size_t size) {
            constexpr std::uint8_t alert_content_type = 21;
            const std::size_t header = datagram ? 13 : 5;
            if (!trace || size < header || data[0] != alert_content_type) return;
            if (size == header + 2)  // plaintext: level, description
                trace({TraceRecord::Direction::sent, TraceRecord::Kind::alert, data[header + 1], data[header], 0, false});
            else
                ++sealed_alerts_sent;
        }
        void trace_sealed_alerts(Botan::TLS::Alert::Type type, bool fatal) {
            for (; sealed_alerts_sent > 0; --sealed_alerts_sent)
                trace({TraceRecord::Direction::sent, TraceRecord::Kind::alert, static_cast<std::uint8_t>(type),
                       static_cast<std::uint8_t>(fatal ? 2 : 1), 0, false});
        }

        // ---- Botan::TLS::Callbacks -------------------------------------------------------

        void tls_emit_data(const std::uint8_t data[], std::size_t size) override {
            ++emitted;
            note_sent_record(data, size);
            if (!datagram && !outgoing.empty()) outgoing.back().insert(outgoing.back().end(), data, data + size);
            else outgoing.emplace_back(data, data + size);  // one record = one datagram for DTLS
        }

        void tls_record_received(std::uint64_t, const std::uint8_t data[], std::size_t size) override {
            if (size) application.emplace_back(data, data + size);
        }

        void tls_alert(Botan::TLS::Alert alert) override {
            if (trace)
                trace({TraceRecord::Direction::received, TraceRecord::Kind::alert, static_cast<std::uint8_t>(alert.type()),
                       static_cast<std::uint8_t>(alert.is_fatal() ? 2 : 1), 0, false});
            if (alert.type() == Botan::TLS::Alert::CLOSE_NOTIFY) {
                close_notify_received = true;
                retransmit_at.reset();
                push_event({.kind = EventKind::peer_closed, .detail = {}, .reason = make_error_code(Errc::closed)});
            } else if (alert.is_fatal()) {
                fail(peer_alert_error(alert.type()), "peer sent fatal alert: " + alert.type_string());
            }
        }

        bool tls_session_established(const Botan::TLS::Session& session) override {
            info.cipher_suite = "TLS_" + session.ciphersuite().to_string();
            info.resumed = !saw_key_exchange;
            srtp_profile = session.dtls_srtp_profile();
            if (info.resumed && srtp_profile_sent && srtp_profile_sent != srtp_profile)
                throw Botan::TLS::TLS_Exception(Botan::TLS::Alert::HANDSHAKE_FAILURE,
                                                "resumed session's SRTP profile is no longer the one this server prefers");
            fill_peer(session.peer_certs());
            // NSS key log: the master secret under the ClientHello random (RFC 5246 8.1).
            if (key_log && client_random.size() == 32)
                key_log(keylog_label::client_random, client_random, session.master_secret());
            // Resumption skips certificate validation: the application still decides.
            if (info.resumed && validate_peer) {
                if (auto ec = validate_peer(info.peer)) {
                    verify_error = ec;
                    verify_detail = "peer rejected by the application: " + ec.message();
                    throw Botan::TLS::TLS_Exception(Botan::TLS::Alert::ACCESS_DENIED, verify_detail);
                }
            }
            return true;  // let Botan offer it to the session manager (a no-op without a cache)
        }

        void tls_session_activated() override {
            established = true;
            retransmit_at.reset();
            info.alpn = channel ? channel->application_protocol() : std::string{};
            if (role == Role::client) info.server_name = server_name;
            push_event({.kind = EventKind::handshake_complete, .detail = {}, .reason = {}});  // details: session_info()
        }

        void tls_verify_cert_chain(const std::vector<Botan::X509_Certificate>& chain,
                                   const std::vector<std::shared_ptr<const Botan::OCSP::Response>>& ocsp,
                                   const std::vector<Botan::Certificate_Store*>&, Botan::Usage_Type usage,
                                   const std::string&, const Botan::TLS::Policy&) override {
            fill_peer(chain);
            if (!delegate_authentication && (role == Role::server || verify_peer)) {
                if (chain.empty()) reject(Errc::certificate_untrusted, "the peer sent no certificate");
                const auto result = Botan::x509_path_validate(chain, Botan::Path_Validation_Restrictions(false, 110),
                                                              credentials.anchors(), "", usage,
                                                              std::chrono::system_clock::now(),
                                                              std::chrono::milliseconds(0), ocsp);
                if (!result.successful_validation() && !directly_trusted(chain.front()))
                    reject(detail::path_error(result.result()), "certificate verification failed: " + result.result_string());
                if (role == Role::client && !server_name.empty() && !name_matches(chain.front()))
                    reject(Errc::certificate_name_mismatch,
                           "certificate name mismatch: the certificate is not for '" + server_name + "'");
                info.peer.authenticated = true;
            }
            if (validate_peer) {
                if (auto ec = validate_peer(info.peer)) {
                    verify_error = ec;
                    verify_detail = "peer rejected by the application: " + ec.message();
                    throw Botan::TLS::TLS_Exception(Botan::TLS::Alert::BAD_CERTIFICATE, verify_detail);
                }
                info.peer.authenticated = true;
            }
        }

        std::chrono::milliseconds tls_verify_cert_chain_ocsp_timeout() const override {
            return std::chrono::milliseconds(0);  // no network I/O from inside the engine
        }

        std::string tls_server_choose_app_protocol(const std::vector<std::string>& offered) override {
            if (alpn.empty()) return "";
            for (const auto& mine : alpn)
                if (std::find(offered.begin(), offered.end(), mine) != offered.end()) return mine;
            // RFC 7301 3.2: no overlap is fatal.
            throw Botan::TLS::TLS_Exception(Botan::TLS::Alert::NO_APPLICATION_PROTOCOL, "no common ALPN protocol");
        }

        void tls_examine_extensions(const Botan::TLS::Extensions& extensions, Botan::TLS::Connection_Side side) override {
            if (side == Botan::TLS::CLIENT && role == Role::server) {
                if (auto* sni = extensions.get<Botan::TLS::Server_Name_Indicator>()) info.server_name = sni->host_name();
                if (auto* srtp = extensions.get<Botan::TLS::SRTP_Protection_Profiles>()) client_srtp_offer = srtp->profiles();
            }
        }

        // Botan 2 builds the ClientHello and ServerHello of a resumption without use_srtp,
        // so a resumed DTLS-SRTP session would have no profile, although RFC 5764 4.1.1
        // negotiates it on every handshake. We add it: the client offers its list, the
        // server picks as Botan does for a new session (server preference), and
        // tls_session_established checks the pick against the resumed session's profile.
        void tls_modify_extensions(Botan::TLS::Extensions& extensions, Botan::TLS::Connection_Side side) override {
            if constexpr (datagram) {
                if (extensions.has<Botan::TLS::SRTP_Protection_Profiles>() || policy.srtp_profiles().empty()) return;
                if (side == Botan::TLS::CLIENT && role == Role::client) {
                    extensions.add(new Botan::TLS::SRTP_Protection_Profiles(policy.srtp_profiles()));
                    return;
                }
                if (side != Botan::TLS::SERVER || role != Role::server || client_srtp_offer.empty()) return;
                for (auto mine : policy.srtp_profiles())
                    if (std::find(client_srtp_offer.begin(), client_srtp_offer.end(), mine) != client_srtp_offer.end()) {
                        extensions.add(new Botan::TLS::SRTP_Protection_Profiles(mine));
                        srtp_profile_sent = mine;
                        return;
                    }
            }
        }

        void tls_inspect_handshake_msg(const Botan::TLS::Handshake_Message& message) override {
            using namespace Botan::TLS;
            if (message.type() == CLIENT_HELLO) {
                const auto& random = static_cast<const Client_Hello&>(message).random();
                client_random.assign(random.begin(), random.end());
            }
            if (trace) trace_message(message);
            if (message.type() == CLIENT_KEX) saw_key_exchange = true;
            if (message.type() == SERVER_HELLO) version_negotiated = true;
            if (message.type() == SERVER_HELLO && role == Role::server && !timers_armed) {
                // The server's state begins with its ServerHello (after the cookie round
                // trip): from here on it retransmits its flights too.
                arm_retransmission();
            }
            if (message.type() == SERVER_KEX) {
                const auto& params = static_cast<const Server_Key_Exchange&>(message).params();
                if (params.size() >= 3 && params[0] == 3)  // ECParameters: named_curve (RFC 8422 5.4)
                    info.group = detail::group_name(static_cast<std::uint16_t>(params[1] << 8 | params[2]));
            }
        }

        std::string tls_peer_network_identity() override { return peer.to_string(); }

        /// Botan reports sent and received messages through the same callback: who sent
        /// one follows from its type, and for Certificate and Finished (both sides send
        /// one) from the order of the TLS 1.2 handshake (RFC 5246 7.3): the client's
        /// Certificate follows ServerHelloDone; in a full handshake the client's Finished
        /// comes first, in an abbreviated one (no ClientKeyExchange) the server's.
        void trace_message(const Botan::TLS::Handshake_Message& message) {
            using namespace Botan::TLS;
            const auto type = message.type();
            bool client_sent = false;
            switch (type) {
                case CLIENT_HELLO:
                case CLIENT_KEX:
                case CERTIFICATE_VERIFY: client_sent = true; break;
                case CERTIFICATE: client_sent = trace_saw_server_hello_done; break;
                case FINISHED: client_sent = (trace_finished_seen++ % 2 == 0) == saw_key_exchange; break;
                default: client_sent = false; break;
            }
            if (type == SERVER_HELLO_DONE) trace_saw_server_hello_done = true;
            if (type == CLIENT_HELLO) trace_saw_server_hello_done = false;  // a new handshake (or the cookie retry)
            const bool sent = client_sent == (role == Role::client);
            if (type == HANDSHAKE_CCS || type == HANDSHAKE_NONE) return;  // Botan's pseudo-types, not messages
            const auto wire_type = static_cast<std::uint8_t>(type);
            // Botan re-serializes what it parsed, which is not always what arrived (a
            // received ClientKeyExchange comes back empty): lengths only for what we send.
            trace({sent ? TraceRecord::Direction::sent : TraceRecord::Direction::received,
                   TraceRecord::Kind::handshake_message, wire_type, 0, sent ? message.serialize().size() : 0, sent});
        }

        // ---- helpers ---------------------------------------------------------------------

        [[noreturn]] void reject(std::error_code ec, std::string detail) {
            verify_error = ec;
            verify_detail = std::move(detail);
            throw Botan::TLS::TLS_Exception(detail::alert_for(ec), verify_detail);
        }

        /// A self-signed leaf that is itself one of the trust anchors (the usual
        /// `openssl req -x509` test certificate given as its own --CAfile). Botan's path
        /// validation refuses it ("cannot establish trust"); OpenSSL and GnuTLS accept an
        /// exact match with the anchor, and so do we, still checking its validity period
        /// and that its signature verifies with its own key.
        bool directly_trusted(const Botan::X509_Certificate& leaf) {
            if (!crypto::Botan2::is_trust_anchor_itself(leaf, credentials.anchors())) return false;
            // The name is checked by the caller, as for every chain.
            const auto ec = crypto::Botan2::check_anchor_leaf(leaf, {}, std::chrono::system_clock::now());
            if (ec == make_error_code(Errc::certificate_expired)) reject(ec, "certificate expired or not yet valid");
            return !ec;
        }

        bool name_matches(const Botan::X509_Certificate& leaf) const {
            return crypto::Botan2::certificate_matches_name(leaf, server_name);
        }

        void fill_peer(const std::vector<Botan::X509_Certificate>& chain) {
            if (chain.empty()) return;
            info.peer.certificate_chain_der.clear();
            for (const auto& cert : chain) info.peer.certificate_chain_der.push_back(cert.BER_encode());
            info.peer.subject = chain.front().subject_dn().to_string();
        }

        // configuration
        Role role;
        std::string server_name;
        std::uint16_t server_port;
        std::vector<std::string> alpn;
        IdentityValidator validate_peer;
        bool delegate_authentication;
        bool verify_peer;
        KeyLogCallback key_log;  // CommonConfig's debugging hooks (docs/debugging.md)
        TraceCallback trace;
        std::chrono::milliseconds initial_rto, max_rto;
        std::chrono::milliseconds accept_timeout;
        ConfiguredPolicy policy;
        Credentials credentials;
        SessionCacheBridge sessions;
        std::unique_ptr<Botan::TLS::Channel> channel;
        // queues
        std::deque<Bytes> outgoing;
        std::size_t outgoing_offset = 0;  // bytes of outgoing.front() already handed out
        std::deque<Bytes> application;
        bool plaintext_lent = false;      // application.front() is lent out as a view
        EventQueue events{max_pending_events};
        // state
        SessionInfo info;
        Instant now{};
        Endpoint peer;
        std::error_code failure;
        std::string failure_detail;
        std::error_code verify_error;
        std::string verify_detail;
        bool established = false;
        bool close_notify_received = false;
        bool close_sent = false;
        bool saw_key_exchange = false;
        Bytes client_random;  // the ClientHello's, naming the connection in the key log
        bool trace_saw_server_hello_done = false;
        unsigned trace_finished_seen = 0;
        unsigned sealed_alerts_sent = 0;  // encrypted alert records not traced yet (guarded())
        bool version_negotiated = false;
        std::uint16_t srtp_profile = 0;
        std::vector<std::uint16_t> client_srtp_offer;  // server: the client's use_srtp list
        std::uint16_t srtp_profile_sent = 0;           // server: what we added to a resumed ServerHello
        // DTLS retransmission (RFC 6347 4.2.4.1), on the caller's clock
        std::size_t emitted = 0;
        bool timers_armed = false;
        std::chrono::milliseconds rto = initial_rto;
        std::optional<Instant> retransmit_at;
        std::size_t retransmissions = 0;
        std::size_t dropped = 0;
        std::error_code last_drop;
        std::vector<Bytes> final_flight;
        // DTLS server: stateless until a cookie returns, then bound to one peer
        std::optional<Endpoint> bound_peer;
        std::optional<Instant> accept_deadline;
        std::deque<Transmit> stateless_replies;  // HelloVerifyRequests, each with its address
        std::size_t hello_verify_requests = 0;
        std::size_t discarded_replies = 0;
        /// A cookie-carrying ClientHello later than this message_seq is dropped (each
        /// round is a HelloVerifyRequest the client ignored).
        static constexpr std::uint16_t max_hello_rounds = 4;
        std::optional<Instant> last_replay;
    };

    std::unique_ptr<State> state_;
};

}  // namespace tapsec::botan_tls
