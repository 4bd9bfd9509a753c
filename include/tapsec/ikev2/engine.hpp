// The IKEv2 engine (RFC 7296): one IKE SA and the one Child SA created with it, as
// initiator or responder, sans-I/O. Datagrams and the time come in; datagrams and inner
// IPv4 packets go out. It speaks on a NAT-T socket (UDP 4500, RFC 3948): IKE messages
// carry the four-octet non-ESP marker, everything else is ESP, so one socket carries
// both. The exchanges:
//   IKE_SA_INIT  SA, KE, Ni/Nr, NAT-D (and N(COOKIE) when the responder demands it)
//   IKE_AUTH     SK{IDi, [CERT], [CERTREQ], IDr, AUTH, SA (ESP), TSi, TSr}: the Child SA;
//                AUTH is the PSK MIC or a digital signature (RFC 7427, method 14) with
//                the peer's chain validated by the provider's PkiProvider
//   INFORMATIONAL SK{D} for a clean close; an empty one is answered (liveness)
// Requests are retransmitted with exponential back-off (window size 1); a repeated
// request is answered from the cached response, never processed twice.
//
// The record is a policy: the Child SA's keys leave the key schedule only as
// `Record::imported_keys` (esp::ChildSaKeys, the explicit KEYMAT export) into
// `Record::layer<Crypto>::import`. The data path (send, receive of ESP, the caller-
// buffer poll_transmit and poll_plaintext) allocates nothing once warmed up.
#pragma once

#include <array>
#include <cstring>
#include <optional>
#include <variant>
#include <algorithm>
#include <string>
#include <vector>

#include "../core/bounded_queue.hpp"
#include "../core/config.hpp"
#include "../core/datagram_outbox.hpp"
#include "../core/engine.hpp"
#include "../core/errors.hpp"
#include "../esp/record.hpp"
#include "certificates.hpp"
#include "config.hpp"
#include "configuration.hpp"
#include "errors.hpp"
#include "fragments.hpp"
#include "key_schedule.hpp"
#include "protection.hpp"
#include "selectors.hpp"
#include "wire.hpp"

namespace tapsec::ikev2 {

/// Counters for what was refused (each reason also reaches the event queue, coalesced).
struct Statistics {
    std::uint64_t esp_received = 0, esp_sent = 0;
    std::uint64_t dropped = 0;
    std::uint64_t esp_dropped = 0;  // ESP datagrams not delivered (unknown SPI, failed ICV, replay, selectors)
    std::uint64_t retransmissions = 0;
    std::uint64_t responses_resent = 0;  // a repeated request answered from the cache
    std::uint64_t cookies_sent = 0;
    std::uint64_t liveness_checks = 0;  // empty INFORMATIONAL requests sent (Config::dpd_interval)
    std::uint64_t keepalives_sent = 0;  // NAT-T keepalives (Config::nat_keepalive)
    std::uint64_t esp_dummy_sent = 0;      // ESP dummy packets sent (next header 59, Config::dummy_interval)
    std::uint64_t esp_dummy_received = 0;  // authenticated dummy packets discarded, never delivered (RFC 4303 2.6)
    std::uint64_t messages_fragmented = 0;  // IKE messages we sent as SKF fragments (RFC 7383)
    std::uint64_t fragments_sent = 0;       // SKF messages among them (first transmissions)
    std::uint64_t fragments_received = 0;   // authenticated SKF messages received
    std::uint64_t messages_reassembled = 0; // IKE messages put back together from them
};

namespace detail {
/// The provider's private-key type where it has one (PkiProvider), else a placeholder:
/// an engine over a provider without PKI speaks PSK only.
template <class C, bool = crypto::PkiProvider<C>>
struct SigningKey { using type = std::monostate; };
template <class C>
struct SigningKey<C, true> { using type = typename C::PrivateKey; };
}  // namespace detail

template <class Crypto, class Record = EspRecord>
class Engine {
    using Esp = typename Record::template layer<Crypto>;
    static_assert(std::is_same_v<typename Record::imported_keys, esp::ChildSaKeys>,
                  "tapsec: the IKEv2 engine keys records that import esp::ChildSaKeys");
    static_assert(esp::PacketLayer<Esp>, "tapsec: Record::layer<Crypto> lacks the ESP record interface");
    static constexpr std::size_t queue_limit = 1024;
    static constexpr std::size_t nonce_size = 32;

    enum class State { idle, init_sent, auth_sent, init_answered, established, deleting, closed, failed };

    struct IkeSuite {
        IkeCipher cipher = IkeCipher::aes_128_gcm_16;
        Group group = Group::curve25519;
        esp::Integrity integrity = esp::Integrity::none;  // an HMAC with AES-CBC
        Prf prf = Prf::hmac_sha2_256;                     // every key and AUTH of this IKE SA
    };
    struct ChildSuite {
        esp::Algorithm cipher = esp::Algorithm::aes_128_gcm_16;
        bool esn = false;
        esp::Integrity integrity = esp::Integrity::none;
    };

public:
    Engine(Role role, const Config& config)
        : role_(role), config_(config), transmits_(queue_limit), inbound_(queue_limit) {
        ike_initiator_ = role == Role::client;
        if (!config_.parsed_trust) config_.parsed_trust = std::make_shared<ParsedTrustSlot>();  // a Config that cleared it
        if (!config_.parsed_credentials) config_.parsed_credentials = std::make_shared<ParsedCredentialsSlot>();
        // EAP replaces the initiator's AUTH; the responder then signs (RFC 7296 2.16).
        const bool eap_here = role == Role::client ? bool(config.eap_peer) : bool(config.eap_server);
        const bool eap_ready = role == Role::client ? config.peer_signs() : config.signs();
        const bool we_use_psk = !config.signs() && !(role == Role::client && eap_here);
        const bool peer_uses_psk = !config.peer_signs() && !(role == Role::server && eap_here);
        if ((config.local_id.empty() && !config.signs()) || config.groups.empty() || config.ike_ciphers.empty() ||
            config.esp_ciphers.empty() || ((we_use_psk || peer_uses_psk) && config.pre_shared_keys.empty()) ||
            (eap_here && !eap_ready) ||
            config.local_ts.family != config.remote_ts.family)  // one family: a packet's source and destination share it
            setup_error_ = make_error_code(Error::invalid_configuration);
        else
            setup_error_ = load_credentials();
        draw_random<Crypto>(config_, cookie_secret_);
    }

    // ---- SansIoEngine ---------------------------------------------------------------

    std::error_code start(Instant now) {
        if (setup_error_) return setup_error_;
        if (role_ == Role::server || state_ != State::idle) return {};
        spi_i_ = random_spi64();
        ni_.resize(nonce_size);
        draw_random<Crypto>(config_, ni_);
        if (config_.resume_ticket) return start_resumption(now);
        suite_.group = config_.groups.front();
        if (auto ec = new_key_share(suite_.group)) return fail(ec);
        send_init_request(now);
        return {};
    }

    std::error_code receive(ByteView datagram, const Endpoint& from, Instant now) {
        if (setup_error_) return setup_error_;
        if (state_ == State::closed || state_ == State::failed) return {};
        if (datagram.size() == 1 && datagram[0] == 0xff) return {};  // NAT-T keepalive (RFC 3948 2.3)
        std::error_code ec;
        if (datagram.size() >= non_esp_marker_size && datagram[0] == 0 && datagram[1] == 0 && datagram[2] == 0 &&
            datagram[3] == 0)
            ec = on_ike(datagram.subspan(non_esp_marker_size), from, now, true);
        else if (plain_ike(datagram))
            ec = on_ike(datagram, from, now, false);
        else if ((ec = on_esp(datagram, now)))
            ++stats_.esp_dropped;
        if (ec) drop(ec, now);
        return fatal_;
    }

    std::optional<Transmit> poll_transmit() { return transmits_.poll(); }
    std::optional<TransmitInfo> poll_transmit(MutableByteView out) { return transmits_.poll_into(out); }
    std::optional<Bytes> poll_application_data() { return inbound_.poll_copy(); }
    /// The next inner IPv4 or IPv6 packet, a view valid until the next call on the engine.
    std::optional<ByteView> poll_plaintext() { return inbound_.poll_view(); }
    std::optional<Event> poll_event() { return events_.pop(); }

    /// Sends one inner IPv4 or IPv6 packet through the Child SA (ESP next header 4 or 41).
    /// A packet outside the negotiated selectors (of the other family, too) is dropped and
    /// counted, as a kernel's SPD would discard it.
    std::error_code send(ByteView packet, Instant now) {
        if (setup_error_) return setup_error_;
        if (fatal_) return fatal_;
        if (state_ == State::closed || state_ == State::deleting) return make_error_code(Errc::closed);
        if (!esp_) return make_error_code(Errc::not_connected);
        auto ip = inspect_ip(packet);
        if (!ip) return drop(make_error_code(Error::not_an_ip_packet), now), std::error_code{};
        if (!covers(ts_local_, ip->family, ip->source, ip->protocol, ip->source_port) ||
            !covers(ts_remote_, ip->family, ip->destination, ip->protocol, ip->destination_port))
            return drop(make_error_code(Error::inner_packet_rejected), now), std::error_code{};
        const std::uint8_t next_header = ip->family == IpFamily::ipv6 ? esp::next_header_ipv6 : esp::next_header_ipv4;
        if (auto ec = seal_and_queue(packet.first(ip->length), next_header, now)) return ec;
        ++stats_.esp_sent;
        return {};
    }

    /// Sends one ESP dummy packet (RFC 4303 2.6: next header 59, Config::dummy_size random
    /// octets): indistinguishable on the wire from traffic, discarded by the peer.
    std::error_code send_dummy(Instant now) {
        if (setup_error_) return setup_error_;
        if (fatal_) return fatal_;
        if (state_ == State::closed || state_ == State::deleting) return make_error_code(Errc::closed);
        if (!esp_) return make_error_code(Errc::not_connected);
        dummy_payload_.resize(std::min<std::size_t>(config_.dummy_size, 1400));
        draw_random<Crypto>(config_, dummy_payload_);
        // IP version 0: a receiver that parses before it looks at the next header (charon's
        // kernel-libipsec does) cannot take the random octets for an IP packet.
        if (!dummy_payload_.empty()) dummy_payload_[0] &= 0x0f;
        if (auto ec = seal_and_queue(dummy_payload_, esp::next_header_dummy, now)) return ec;
        ++stats_.esp_dummy_sent;
        return {};
    }

    /// The next retransmission, or, with no exchange outstanding, the next Child SA rekey
    /// (Config::child_rekey_after) or liveness check (Config::dpd_interval).
    std::optional<Instant> next_timeout() const {
        if (retransmit_at_) return retransmit_at_;
        if (state_ != State::established || !esp_) return std::nullopt;
        std::optional<Instant> t;
        if (config_.child_rekey_after.count() > 0 && !esp_old_) t = child_keyed_at_ + config_.child_rekey_after;
        if (config_.dpd_interval.count() > 0) {
            const Instant dpd = last_heard_ + config_.dpd_interval;
            if (!t || dpd < *t) t = dpd;
        }
        if (config_.nat_keepalive.count() > 0) {
            const Instant keepalive = last_sent_ + config_.nat_keepalive;
            if (!t || keepalive < *t) t = keepalive;
        }
        if (config_.dummy_interval.count() > 0) {
            const Instant dummy = last_dummy_ + config_.dummy_interval;
            if (!t || dummy < *t) t = dummy;
        }
        return t;
    }

    std::error_code on_timeout(Instant now) {
        if (!retransmit_at_) {
            if (state_ != State::established || !esp_ || fatal_) return {};
            if (config_.dummy_interval.count() > 0 && now >= last_dummy_ + config_.dummy_interval) {
                last_dummy_ = now;  // a full outbox skips this one: dummies are never queued up
                (void)send_dummy(now);
            }
            if (config_.child_rekey_after.count() > 0 && !esp_old_ && now >= child_keyed_at_ + config_.child_rekey_after)
                return rekey_child(now);
            if (config_.dpd_interval.count() > 0 && now >= last_heard_ + config_.dpd_interval) {
                send_request(ExchangeType::informational, {}, now);  // empty: "are you there?" (RFC 7296 1.4)
                ++stats_.liveness_checks;
            } else if (config_.nat_keepalive.count() > 0 && now >= last_sent_ + config_.nat_keepalive) {
                if (DatagramOutbox::Slot* slot = transmits_.reserve()) {  // keeps a NAT mapping open
                    slot->data.assign(1, 0xff);
                    slot->to = peer_;
                    transmits_.commit();
                    ++stats_.keepalives_sent;
                }
                last_sent_ = now;
            }
            return {};
        }
        if (now < *retransmit_at_) return {};
        if (retransmits_done_ >= config_.retransmit_tries) {
            retransmit_at_.reset();
            if (state_ == State::deleting) {  // the peer is gone: the SA is closed anyway
                state_ = State::closed;
                return {};
            }
            return fail(make_error_code(Error::retransmission_timeout));
        }
        ++retransmits_done_;
        ++stats_.retransmissions;
        queue(last_request_);
        retransmit_at_ = now + config_.retransmit_initial * (1u << std::min(retransmits_done_, 16u));
        return {};
    }

    /// Rekeys the Child SA (CREATE_CHILD_SA with N(REKEY_SA), RFC 7296 1.3.3), with a
    /// fresh key exchange when Config::rekey_pfs. When the peer answers, traffic moves to
    /// the new SA and the old one is deleted (INFORMATIONAL D(ESP)); a key_updated event
    /// reports it. Refused (not_ready) while another exchange is outstanding.
    std::error_code rekey_child(Instant now) {
        if (!is_established() || retransmit_at_ || esp_old_ || rekey_ || ike_rekey_) return make_error_code(Errc::not_connected);
        if (outbox_full()) return make_error_code(std::errc::no_buffer_space);
        RekeyState r;
        r.inbound_spi = random_spi32();
        r.nonce.resize(nonce_size);
        draw_random<Crypto>(config_, r.nonce);
        const std::uint32_t current = child_inbound_spi_;
        child_inbound_spi_ = r.inbound_spi;
        SaPayload proposal = esp_proposal();
        child_inbound_spi_ = current;
        std::vector<RawPayload> inner{notify(NotifyType::rekey_sa, {}, ProtocolId::esp, spi_bytes(esp_->inbound_spi()))};
        if (config_.rekey_pfs) {
            r.group = suite_.group;
            if (auto ec = new_key_share(*r.group)) return ec;
            for (auto& p : proposal.proposals)
                p.transforms.push_back({TransformType::dh, static_cast<std::uint16_t>(*r.group), std::nullopt});
        }
        inner.push_back(payload(PayloadType::sa, proposal));
        inner.push_back(nonce_payload(r.nonce));
        if (r.group) inner.push_back(payload(PayloadType::ke, KePayload{static_cast<std::uint16_t>(*r.group), our_public()}));
        inner.push_back(payload(PayloadType::tsi, TsPayload{{ts_local_}}));
        inner.push_back(payload(PayloadType::tsr, TsPayload{{ts_remote_}}));
        add_tfc_refusal(inner);
        rekey_ = std::move(r);
        send_request(ExchangeType::create_child_sa, inner, now);
        return {};
    }

    /// Rekeys the IKE SA (RFC 7296 1.3.2): CREATE_CHILD_SA with an IKE proposal (a new SPI),
    /// a nonce and a KE in the current group. When answered, the Child SA moves to the new
    /// IKE SA (tapsec its initiator) and the old one is deleted with D(IKE) under its keys.
    std::error_code rekey_ike(Instant now) {
        if (!is_established() || retransmit_at_ || esp_old_ || rekey_ || ike_rekey_ || retired_)
            return make_error_code(Errc::not_connected);
        if (outbox_full()) return make_error_code(std::errc::no_buffer_space);
        IkeRekeyState r;
        r.spi_i = random_spi64();
        r.nonce.resize(nonce_size);
        draw_random<Crypto>(config_, r.nonce);
        if (auto ec = new_key_share(suite_.group)) return ec;
        SaPayload proposal = ike_proposal(suite_.prf);
        for (auto& p : proposal.proposals) {
            p.spi.clear();
            put64(p.spi, r.spi_i);
        }
        std::vector<RawPayload> inner{payload(PayloadType::sa, proposal), nonce_payload(r.nonce),
                                      payload(PayloadType::ke, KePayload{static_cast<std::uint16_t>(suite_.group), our_public()})};
        ike_rekey_ = std::move(r);
        send_request(ExchangeType::create_child_sa, inner, now);
        return {};
    }

    /// MOBIKE (RFC 4555 3.5): this side's address changed (the socket, bound to the
    /// wildcard, already sends from the new one): tell the peer with an INFORMATIONAL
    /// N(UPDATE_SA_ADDRESSES) and fresh NAT-D, so it moves the IKE and Child SAs to the
    /// address the request comes from. Only the IKE SA's initiator, only when both sides
    /// announced MOBIKE; refused (not_connected) while another exchange is outstanding.
    std::error_code update_addresses(Instant now) {
        if (!is_established() || !initiator() || !peer_mobike_) return make_error_code(Errc::not_connected);
        if (retransmit_at_ || rekey_ || ike_rekey_ || retired_) return make_error_code(Errc::not_connected);
        if (outbox_full()) return make_error_code(std::errc::no_buffer_space);
        std::vector<RawPayload> inner{notify(NotifyType::update_sa_addresses)};
        add_nat_detection(inner);
        send_request(ExchangeType::informational, inner, now);
        ++address_updates_;
        return {};
    }
    /// Both sides announced MOBIKE in IKE_AUTH.
    bool mobike() const { return peer_mobike_; }
    /// UPDATE_SA_ADDRESSES requests sent (update_addresses()).
    std::uint64_t address_updates() const { return address_updates_; }

    /// Secure<>::update_keys: a Child SA rekey (the peer always answers with new keys).
    std::error_code update_keys(bool /*request_peer_update*/, Instant now) { return rekey_child(now); }

    /// Deletes the IKE SA (and with it the Child SA): INFORMATIONAL SK{D(IKE)}. The
    /// engine is closed when the peer answers, or when the retransmissions run out.
    /// With a full outbox the delete is refused (no_buffer_space; nothing changes): drain
    /// poll_transmit() and close again.
    std::error_code close(Instant now) {
        if (state_ == State::established) {
            if (outbox_full()) return make_error_code(std::errc::no_buffer_space);
            std::vector<RawPayload> inner{payload(PayloadType::del, DeletePayload{ProtocolId::ike, 0, {}})};
            send_request(ExchangeType::informational, inner, now);
            state_ = State::deleting;
        } else if (state_ != State::deleting) {
            state_ = State::closed;
            retransmit_at_.reset();
        }
        return {};
    }

    bool is_established() const { return state_ == State::established && esp_.has_value(); }
    bool is_closed() const { return state_ == State::closed || state_ == State::failed; }

    SessionInfo session_info() const {
        SessionInfo info;
        info.protocol = "IKEv2 + ESP";
        if (esp_) {
            auto integrity = [](esp::Integrity i) { return i == esp::Integrity::none ? std::string() : std::string("/") + esp::name(i); };
            info.cipher_suite = std::string("IKE ") + esp::name(suite_.cipher) + integrity(suite_.integrity) +
                                "/" + name(suite_.prf) + ", ESP " + esp::name(child_.cipher) + integrity(child_.integrity) +
                                (child_.esn ? "/ESN" : "/NO_ESN");
            info.group = name(suite_.group);
        }
        info.peer = peer_identity_;
        return info;
    }

    // ---- beyond the contract: what tests, the CLI and operators read -------------------

    const Statistics& statistics() const { return stats_; }
    std::uint32_t inbound_spi() const { return esp_ ? esp_->inbound_spi() : 0; }
    const TrafficSelector& local_selector() const { return ts_local_; }
    const TrafficSelector& remote_selector() const { return ts_remote_; }
    /// Initiator: the inner IPv4 address the responder assigned (CFG_REPLY); responder:
    /// the one it assigned from Config::address_pool.
    std::optional<std::array<std::uint8_t, 4>> assigned_address() const { return assigned_ip4_; }
    /// Initiator: an INTERNAL_IP6_ADDRESS the responder sent (address | prefix length), if
    /// any; recorded only (an IPv6 tunnel takes its addresses from the configured selectors).
    const std::optional<Bytes>& assigned_address6() const { return assigned_ip6_; }
    /// Initiator: the INTERNAL_IP4_DNS servers of the CFG_REPLY.
    const std::vector<std::array<std::uint8_t, 4>>& assigned_dns() const { return assigned_dns_; }
    /// The error that ended the exchange (set when the engine failed).
    std::error_code failure() const { return fatal_; }
    std::uint64_t spi_initiator() const { return spi_i_; }
    std::uint64_t spi_responder() const { return spi_r_; }
    /// For the strongSwan interop test only, which compares it with charon's `ike 4`
    /// log: SK_d (never logged by tapsec).
    ByteView sk_d_for_interop_tests() const { return keys_.sk_d; }
    /// RFC 5723, initiator: the ticket the responder issued (Config::request_ticket), to
    /// resume with later (Config::resume_ticket). It holds SK_d: keep it as a secret.
    const std::optional<Ticket>& ticket() const { return ticket_; }
    /// This IKE SA was resumed from a ticket (IKE_SESSION_RESUME), not made with IKE_SA_INIT.
    bool resumed() const { return resumption_; }
    /// Responder: tickets issued (N(TICKET_LT_OPAQUE) sent).
    std::uint64_t tickets_issued() const { return tickets_issued_; }
    /// IKE SA rekeys answered (CREATE_CHILD_SA with an IKE proposal).
    std::uint64_t ike_rekeys() const { return ike_rekeys_; }
    /// Child SA rekeys answered (CREATE_CHILD_SA with N(REKEY_SA)).
    std::uint64_t child_rekeys() const { return child_rekeys_; }
    /// TFC padding is added to what send() seals: configured (Config::tfc_padding) and the
    /// peer did not announce ESP_TFC_PADDING_NOT_SUPPORTED for the current Child SA.
    bool tfc_padding_active() const { return config_.tfc_padding.enabled() && !peer_refuses_tfc_; }
    /// Datagrams the outbox had no room for (the caller stopped draining poll_transmit):
    /// ESP refused by send() with no_buffer_space, and IKE messages the engine emitted on
    /// its own (a response, a retransmission, a keepalive), which the retransmission rules
    /// recover (our request is sent again on its timer; the peer's request is answered
    /// from the cache when the peer repeats it).
    std::uint64_t queue_overflows() const { return transmits_.overflows(); }
    bool outbox_full() const { return transmits_.size() >= queue_limit; }
    /// The same, as the batched tunnel loop (tools/cli/tunnel_batch.hpp) asks it.
    std::size_t queued_transmits() const { return transmits_.size(); }
    /// Both sides announced IKEV2_FRAGMENTATION_SUPPORTED (RFC 7383): messages larger than
    /// the limit (Config::fragment_size) go out as SKF fragments.
    bool fragmentation() const { return fragmentation_; }
    /// Copies of fragments already held, ignored (both directions).
    std::uint64_t duplicate_fragments() const { return requests_in_.duplicates() + responses_in_.duplicates(); }
    /// Datagrams waiting for poll_transmit().
    std::size_t outbox_size() const { return transmits_.size(); }

    const Config& config() const { return config_; }
    /// For tests: the Child SA's record layer.
    Esp* child_sa() { return esp_ ? &*esp_ : nullptr; }

private:
    bool initiator() const { return role_ == Role::client; }

    std::uint64_t random_spi64() {
        std::uint64_t v = 0;
        while (v == 0) {
            std::array<std::uint8_t, 8> b;
            draw_random<Crypto>(config_, b);
            for (auto x : b) v = v << 8 | x;
        }
        return v;
    }
    std::uint32_t random_spi32() {
        std::uint32_t v = 0;
        while (v < 256) {  // SPIs 1-255 are reserved (RFC 4303 2.1)
            std::array<std::uint8_t, 4> b;
            draw_random<Crypto>(config_, b);
            for (auto x : b) v = v << 8 | x;
        }
        return v;
    }

    // ---- authentication ------------------------------------------------------------------

    /// Hash algorithms announced in SIGNATURE_HASH_ALGORITHMS: those of the schemes we
    /// verify (RFC 7427 4; Identity for Ed25519, RFC 8420).
    static const std::vector<std::uint16_t>& announced_hashes() {
        static const std::vector<std::uint16_t> ids{signature_hash::sha2_256, signature_hash::sha2_384,
                                                    signature_hash::sha2_512, signature_hash::identity};
        return ids;
    }

    /// Our ID payload, certificate, key and signature scheme, and the CERTREQ hashes of
    /// our trust anchors: parsed and checked once per Config (Config::parsed_credentials).
    std::error_code load_credentials() {
        const auto invalid = make_error_code(Error::invalid_configuration);
        local_id_payload_ = config_.local_id.payload();
        if constexpr (crypto::PkiProvider<Crypto>) {
            if (config_.signs()) {
                auto credentials = parsed_local_credentials<Crypto>(*config_.parsed_credentials, config_.identity);
                if (!credentials) return invalid;
                local_chain_der_ = credentials->chain_der;
                const CertificateFacts& facts = credentials->leaf;
                // An ID the certificate does not name is sent as configured (the command line
                // refuses it up front); the peer answers AUTHENTICATION_FAILED.
                if (config_.local_id.empty()) local_id_payload_ = IdPayload{IdType::der_asn1_dn, facts.subject};
                else if (local_id_payload_.type == IdType::der_asn1_dn && certificate_names(facts, local_id_payload_))
                    local_id_payload_.data = facts.subject;  // as the certificate spells it
                local_scheme_ = credentials->scheme;
                local_key_ = std::shared_ptr<const typename Crypto::PrivateKey>(credentials, &credentials->key);
            }
            if (config_.peer_signs()) {
                auto hashes = parsed_certreq_hashes<Crypto>(*config_.parsed_credentials, config_.trust);
                if (!hashes) return invalid;
                certreq_hashes_ = std::move(*hashes);
            }
        } else if (config_.signs() || config_.peer_signs()) {
            return invalid;  // certificates need a PkiProvider
        }
        if (local_id_payload_.data.empty()) return invalid;
        return {};
    }

    /// CERT payloads (our chain, leaf first) and, when we expect a signature, a CERTREQ
    /// naming our CAs, as IKE_AUTH carries them.
    void add_certificates(std::vector<RawPayload>& out, bool with_request) const {
        for (const auto& der : local_chain_der_) out.push_back(payload(PayloadType::cert, CertPayload{cert_x509_signature, der}));
        if (with_request && config_.peer_signs()) out.push_back(certificate_request());
    }
    RawPayload certificate_request() const {
        return RawPayload{PayloadType::certreq, false, encode(CertPayload{cert_x509_signature, certreq_hashes_})};
    }

    /// Our AUTH payload over <message> | <peer's nonce> | prf(SK_p, our ID): a signature
    /// (method 14) when we have a certificate, else the PSK MIC.
    Result<RawPayload> our_auth(ByteView init_message, ByteView peer_nonce, ByteView sk_p, const std::string& psk_peer) {
        const Bytes id_body = local_id_payload_.body();
        if (resumption_) {
            const SecretBytes mic = resumption_auth(initiator(), id_body);
            return payload(PayloadType::auth, AuthPayload{AuthMethod::shared_key_mic, Bytes(mic.begin(), mic.end())});
        }
        if constexpr (crypto::PkiProvider<Crypto>) {
            if (local_key_) {
                // RFC 7427 4: only a hash the peer announced.
                const std::uint16_t hash = signature_hash_of(local_scheme_);
                if (std::find(peer_hashes_.begin(), peer_hashes_.end(), hash) == peer_hashes_.end())
                    return make_error_code(Error::signature_scheme_unsupported);
                const Bytes octets = signed_octets<Crypto>(suite_.prf, init_message, peer_nonce, sk_p, id_body);
                auto signature = local_key_->sign(local_scheme_, octets, config_.random);
                if (!signature) return signature.error();
                const SignatureAuth data{algorithm_identifier(local_scheme_), std::move(*signature)};
                return payload(PayloadType::auth, AuthPayload{AuthMethod::digital_signature, encode(data)});
            }
        }
        const SecretBytes* psk = config_.psk_for(psk_peer);
        if (!psk) return make_error_code(Error::invalid_configuration);
        const SecretBytes mic = psk_auth<Crypto>(suite_.prf, *psk, init_message, peer_nonce, sk_p, id_body);
        return payload(PayloadType::auth, AuthPayload{AuthMethod::shared_key_mic, Bytes(mic.begin(), mic.end())});
    }

    /// The peer's signature (method 14): its chain validated against our CAs, its ID
    /// named by the leaf, the scheme one we announced, the signature over `octets`.
    std::error_code verify_signature(const std::vector<RawPayload>& inner, const IdPayload& peer_id, ByteView auth_data,
                                     ByteView octets) {
        if constexpr (crypto::PkiProvider<Crypto>) {
            std::vector<Bytes> chain;
            for (const auto& p : inner) {
                if (p.type != PayloadType::cert) continue;
                auto cert = decode_cert(p.body);
                if (!cert) return cert.error();
                if (cert->encoding == cert_x509_signature && chain.size() < 8) chain.push_back(std::move(cert->data));
            }
            if (chain.empty()) return make_error_code(Error::certificate_untrusted);  // no certificate to trust
            auto facts = parse_certificate(chain.front());
            if (!facts) return make_error_code(Error::certificate_untrusted);
            auto anchors = parsed_trust_anchors<Crypto>(*config_.parsed_trust, config_.trust);  // parsed once per Config
            if (!anchors || crypto::validate_der_chain<Crypto>(chain, **anchors, "", wall_now(config_)))
                return make_error_code(Error::certificate_untrusted);
            if (!certificate_names(*facts, peer_id)) return make_error_code(Error::certificate_identity_mismatch);
            auto data = decode_signature_auth(auth_data);
            if (!data) return make_error_code(Error::authentication_failed);
            auto scheme = scheme_of(data->algorithm);
            if (!scheme) return make_error_code(Error::signature_scheme_unsupported);
            const auto& ours = announced_hashes();
            if (std::find(ours.begin(), ours.end(), signature_hash_of(*scheme)) == ours.end())
                return make_error_code(Error::signature_scheme_unsupported);
            auto leaf = Crypto::Certificate::from_der(chain.front());
            if (!leaf || !leaf->verify(*scheme, octets, data->signature)) return make_error_code(Error::authentication_failed);
            auto subject = parse_dn(facts->subject);
            peer_identity_.subject = subject ? ikev2::to_string(*subject) : std::string();
            peer_identity_.certificate_chain_der = std::move(chain);
            return {};
        } else {
            (void)inner, (void)peer_id, (void)auth_data, (void)octets;
            return make_error_code(Error::authentication_failed);
        }
    }

    /// The peer's SIGNATURE_HASH_ALGORITHMS, if it sent one (a malformed one fails the message).
    std::error_code note_peer_hashes(const std::vector<RawPayload>& payloads) {
        auto n = find_notify(payloads, NotifyType::signature_hash_algorithms);
        if (!n) return {};
        auto ids = decode_hash_algorithms(n->data);
        if (!ids) return ids.error();
        peer_hashes_ = std::move(*ids);
        return {};
    }

    static crypto::KeyExchangeGroup provider_group(Group g) {
        return g == Group::curve25519  ? crypto::KeyExchangeGroup::x25519
               : g == Group::modp_2048 ? crypto::KeyExchangeGroup::modp2048
                                       : crypto::KeyExchangeGroup::secp256r1;
    }
    /// KE data octets: the X25519 key, ECP-256 x | y, or the MODP value padded to the prime.
    static std::size_t public_size(Group g) {
        return g == Group::curve25519 ? 32 : g == Group::modp_2048 ? crypto::ffdhe_prime_size(provider_group(g)) : 64;
    }

    std::error_code new_key_share(Group g) {
        // Drawn through the configuration's random source, so injected randomness
        // reproduces a whole exchange.
        Bytes secret(32);
        Result<typename Crypto::KeyShare> share = make_error_code(Errc::internal_error);
        for (int attempt = 0; attempt < 8 && !share; ++attempt) {
            draw_random<Crypto>(config_, secret);
            share = Crypto::KeyShare::from_private(provider_group(g), secret);
        }
        secure_zero(secret.data(), secret.size());
        if (!share) return share.error();
        key_share_.emplace(std::move(*share));
        return {};
    }
    /// Our public value as IKE sends it: X25519's 32 octets; for ECP-256 x | y (RFC 5903 7).
    Bytes our_public() const {
        Bytes p = key_share_->public_key();
        if (suite_.group == Group::ecp_256 && p.size() == 65) p.erase(p.begin());
        return p;
    }
    Result<SecretBytes> agree(ByteView peer) const {
        if (peer.size() != public_size(suite_.group)) return make_error_code(Error::invalid_key_exchange_data);
        Bytes value(peer.begin(), peer.end());
        if (suite_.group == Group::ecp_256) value.insert(value.begin(), 0x04);
        auto shared = key_share_->agree(value);
        if (!shared) return make_error_code(Error::invalid_key_exchange_data);
        return shared;
    }

    // ---- output ----------------------------------------------------------------------

    /// Seals one payload on the current outbound Child SA into the outbox.
    std::error_code seal_and_queue(ByteView inner, std::uint8_t next_header, Instant now) {
        // The caller has let the outbox fill: refused with a named error (and counted in
        // queue_overflows()), never dropped unseen; nothing is sealed, no sequence number used.
        DatagramOutbox::Slot* slot = transmits_.reserve();
        if (!slot) return make_error_code(std::errc::no_buffer_space);
        Esp& sa = esp_old_ && send_on_old_ ? *esp_old_ : *esp_;  // until the rekey is confirmed
        const std::size_t padded = tfc_padding_active() ? config_.tfc_padding.padded_length(inner.size()) : inner.size();
        slot->data.resize(sa.sealed_size(std::max(padded, inner.size())));
        auto n = sa.protect(inner, next_header, slot->data, padded);
        if (!n) return n.error();
        slot->data.resize(*n);
        slot->to = peer_;
        transmits_.commit();
        last_sent_ = now;
        return {};
    }

    void queue(const Bytes& message) {
        DatagramOutbox::Slot* slot = transmits_.reserve();
        if (!slot) return;  // counted in queue_overflows(); recovered by retransmission (above)
        const std::size_t marker = peer_marker_ ? non_esp_marker_size : 0;
        slot->data.resize(marker + message.size());
        std::memset(slot->data.data(), 0, marker);
        std::memcpy(slot->data.data() + marker, message.data(), message.size());
        slot->to = peer_;
        transmits_.commit();
    }
    /// A message as sent: one datagram, or its fragments (each retransmitted with it).
    void queue(const std::vector<Bytes>& datagrams) {
        for (const auto& d : datagrams) queue(d);
    }
    /// The largest IKE message we send unfragmented once fragmentation is negotiated:
    /// Config::fragment_size is the whole IP datagram (charon's meaning), less the IP and
    /// UDP headers and the non-ESP marker.
    std::size_t fragment_limit() const {
        const std::size_t overhead = (peer_ && peer_->family() == AF_INET6 ? 40 : 20) + 8 + (peer_marker_ ? non_esp_marker_size : 0);
        return config_.fragment_size > overhead ? config_.fragment_size - overhead : 0;
    }
    /// Seals a protected message, as SKF fragments when negotiated and it does not fit.
    std::vector<Bytes> seal_message(SkCipher<Crypto>& cipher, const Header& h, const std::vector<RawPayload>& inner) {
        auto out = cipher.seal_message(h, inner, fragmentation_, fragment_limit());
        if (out.size() > 1) {
            ++stats_.messages_fragmented;
            stats_.fragments_sent += out.size();
        }
        return out;
    }
    Header header(ExchangeType exchange, std::uint32_t message_id, bool response) const {
        Header h;
        h.spi_i = spi_i_;
        h.spi_r = spi_r_;
        h.exchange = exchange;
        h.message_id = message_id;
        h.flags = static_cast<std::uint8_t>((ike_initiator_ ? flags::initiator : 0) | (response ? flags::response : 0));
        return h;
    }
    void arm_retransmit(Instant now) {
        retransmits_done_ = 0;
        retransmit_at_ = now + config_.retransmit_initial;
    }
    /// A protected request: sealed, remembered for retransmission, queued.
    void send_request(ExchangeType exchange, const std::vector<RawPayload>& inner, Instant now) {
        last_request_ = seal_message(*out_cipher_, header(exchange, next_request_id_, false), inner);
        pending_request_id_ = next_request_id_++;
        queue(last_request_);
        last_sent_ = now;
        arm_retransmit(now);
    }
    void send_response(ExchangeType exchange, std::uint32_t message_id, const std::vector<RawPayload>& inner) {
        last_response_ = seal_message(*out_cipher_, header(exchange, message_id, true), inner);
        last_response_id_ = message_id;
        queue(last_response_);
    }

    /// NAT_DETECTION_*_IP with values that cannot match: the peer then sees a NAT on
    /// both sides and carries ESP in UDP, which this engine always does (the same
    /// forcing as strongSwan's `encap = yes`). kernel-libipsec peers need it.
    void add_nat_detection(std::vector<RawPayload>& payloads) {
        std::array<std::uint8_t, 20> fake;
        draw_random<Crypto>(config_, fake);
        payloads.push_back(notify(NotifyType::nat_detection_source_ip, fake));
        draw_random<Crypto>(config_, fake);
        payloads.push_back(notify(NotifyType::nat_detection_destination_ip, fake));
    }

    /// One proposal per kind of cipher (AEADs; AES-CBC with its integrity transforms),
    /// each with our PRFs, or with `only_prf` (an IKE SA rekey keeps the SA's PRF).
    SaPayload ike_proposal(std::optional<Prf> only_prf = std::nullopt) const {
        SaPayload sa;
        for (const auto& ciphers : proposal_groups(config_.ike_ciphers)) {
            Proposal p;
            p.number = static_cast<std::uint8_t>(sa.proposals.size() + 1);
            p.protocol = ProtocolId::ike;
            for (auto c : ciphers) p.transforms.push_back(encr_transform(c));
            if (!esp::is_aead(ciphers.front()))
                for (auto i : config_.ike_integrity) p.transforms.push_back(integ_transform(i));
            for (auto f : only_prf ? std::vector<Prf>{*only_prf} : config_.ike_prfs)
                p.transforms.push_back({TransformType::prf, static_cast<std::uint16_t>(f), std::nullopt});
            for (auto g : config_.groups) p.transforms.push_back({TransformType::dh, static_cast<std::uint16_t>(g), std::nullopt});
            sa.proposals.push_back(std::move(p));
        }
        return sa;
    }
    SaPayload esp_proposal() const {
        SaPayload sa;
        for (const auto& ciphers : proposal_groups(config_.esp_ciphers)) {
            Proposal p;
            p.number = static_cast<std::uint8_t>(sa.proposals.size() + 1);
            p.protocol = ProtocolId::esp;
            p.spi = spi_bytes(child_inbound_spi_);
            for (auto c : ciphers) p.transforms.push_back(encr_transform(c));
            if (!esp::is_aead(ciphers.front()))
                for (auto i : config_.esp_integrity) p.transforms.push_back(integ_transform(i));
            p.transforms.push_back({TransformType::esn, esn::no, std::nullopt});
            if (config_.allow_esn) p.transforms.push_back({TransformType::esn, esn::yes, std::nullopt});
            sa.proposals.push_back(std::move(p));
        }
        return sa;
    }
    static Bytes spi_bytes(std::uint32_t spi) {
        return Bytes{static_cast<std::uint8_t>(spi >> 24), static_cast<std::uint8_t>(spi >> 16),
                     static_cast<std::uint8_t>(spi >> 8), static_cast<std::uint8_t>(spi)};
    }
    static std::uint32_t spi_value(ByteView b) {
        return std::uint32_t{b[0]} << 24 | std::uint32_t{b[1]} << 16 | std::uint32_t{b[2]} << 8 | b[3];
    }

    void send_init_request(Instant now) {
        std::vector<RawPayload> payloads;
        if (!cookie_.empty()) payloads.push_back(notify(NotifyType::cookie, cookie_));  // must come first (2.6)
        payloads.push_back(payload(PayloadType::sa, ike_proposal()));
        payloads.push_back(payload(PayloadType::ke, KePayload{static_cast<std::uint16_t>(suite_.group), our_public()}));
        payloads.push_back(nonce_payload(ni_));
        add_nat_detection(payloads);
        if (config_.fragmentation) payloads.push_back(notify(NotifyType::ikev2_fragmentation_supported));
        payloads.push_back(notify(NotifyType::signature_hash_algorithms, encode_hash_algorithms(announced_hashes())));
        send_first_request(ExchangeType::ike_sa_init, payloads, now);
    }
    /// The unprotected first request (IKE_SA_INIT or IKE_SESSION_RESUME), message ID 0,
    /// kept as sent: the initiator's AUTH covers it.
    void send_first_request(ExchangeType exchange, const std::vector<RawPayload>& payloads, Instant now) {
        init_request_ = serialize_message(header(exchange, 0, false), payloads);
        last_request_ = {init_request_};
        pending_request_id_ = 0;
        next_request_id_ = 1;
        queue(init_request_);
        arm_retransmit(now);
        state_ = State::init_sent;
    }

    // ---- session resumption (RFC 5723) -----------------------------------------------------

    ExchangeType first_exchange() const { return resumption_ ? ExchangeType::ike_session_resume : ExchangeType::ike_sa_init; }

    /// Initiator with Config::resume_ticket: IKE_SESSION_RESUME instead of IKE_SA_INIT,
    /// for the identities and algorithms the ticket was issued for.
    std::error_code start_resumption(Instant now) {
        const Ticket& t = *config_.resume_ticket;
        if (t.expired(unix_seconds(config_))) return fail(make_error_code(Error::ticket_expired));
        if (!same_identity(t.local_id, local_id_payload_) ||
            (!config_.remote_id.empty() && !same_identity(config_.remote_id.payload(), t.remote_id)))
            return fail(make_error_code(Error::ticket_identity_mismatch));
        suite_.prf = t.suite.prf;
        suite_.cipher = t.suite.cipher;
        suite_.integrity = t.suite.integrity;
        resumption_ = true;
        resumed_peer_id_ = t.remote_id;
        send_resume_request(now);
        return {};
    }
    /// HDR(SPIi, 0), [N(COOKIE)], Ni, N(TICKET_OPAQUE) (RFC 5723 4.3.1).
    void send_resume_request(Instant now) {
        std::vector<RawPayload> payloads;
        if (!cookie_.empty()) payloads.push_back(notify(NotifyType::cookie, cookie_));  // first, as in IKE_SA_INIT
        payloads.push_back(nonce_payload(ni_));
        payloads.push_back(notify(NotifyType::ticket_opaque, config_.resume_ticket->opaque));
        if (config_.fragmentation) payloads.push_back(notify(NotifyType::ikev2_fragmentation_supported));
        send_first_request(ExchangeType::ike_session_resume, payloads, now);
    }
    /// SKEYSEED = prf(SK_d (old), "Resumption" | Ni | Nr), then the seven keys with the new SPIs (RFC 5723 5.1).
    std::error_code derive_resumed_keys(ByteView old_sk_d) {
        const SecretBytes seed = resumption_skeyseed<Crypto>(suite_.prf, old_sk_d, ni_, nr_);
        return key_ike_sa(seed, ni_, nr_);
    }
    /// RFC 5723's AUTH (4.3.3): RFC 7296 2.15's shared-key MIC keyed with SK_pi (the
    /// initiator's) or SK_pr (the responder's), over the IKE_SESSION_RESUME messages:
    /// what eap_auth_value computes for an EAP method without an MSK.
    SecretBytes resumption_auth(bool for_initiator, ByteView id_body) const { return eap_auth_value(for_initiator, id_body); }

    bool suite_allowed(const TicketSuite& t) const {
        auto has = [](const auto& list, auto v) { return std::find(list.begin(), list.end(), v) != list.end(); };
        return has(config_.ike_ciphers, t.cipher) && has(config_.ike_prfs, t.prf) &&
               (esp::is_aead(t.cipher) ? t.integrity == esp::Integrity::none : has(config_.ike_integrity, t.integrity));
    }

    // Initiator: the answer to IKE_SESSION_RESUME: Nr, or N(TICKET_NACK), or N(COOKIE).
    std::error_code on_resume_response(ByteView raw, const Message& m, Instant now) {
        if (find_notify(m.payloads, NotifyType::ticket_nack)) return fail(make_error_code(Error::ticket_refused));
        auto cookie = took_cookie(m);
        if (!cookie) return cookie.error();
        if (*cookie) {
            send_resume_request(now);
            return {};
        }
        if (auto error = first_error_notify(m.payloads)) return fail(from_notify(error->type));
        const RawPayload* nonce = find(m.payloads, PayloadType::nonce);
        if (!nonce || m.header.spi_r == 0) return make_error_code(Error::invalid_syntax);
        if (nonce->body.size() < 16 || nonce->body.size() > 256) return make_error_code(Error::malformed_message);
        retransmit_at_.reset();
        spi_r_ = m.header.spi_r;
        nr_ = nonce->body;
        init_response_.assign(raw.begin(), raw.end());
        fragmentation_ = config_.fragmentation && find_notify(m.payloads, NotifyType::ikev2_fragmentation_supported);
        if (auto ec = derive_resumed_keys(config_.resume_ticket->sk_d)) return fail(ec);
        send_auth_request(now);
        return {};
    }

    // Responder: IKE_SESSION_RESUME. The ticket is opened and checked (key, integrity,
    // expiry, identities, algorithms still allowed, first use); any refusal is answered
    // N(TICKET_NACK) and keeps no state (the initiator falls back to IKE_SA_INIT).
    std::error_code on_resume_request(ByteView raw, const Message& m, const Endpoint& from, Instant now) {
        const RawPayload* nonce = find(m.payloads, PayloadType::nonce);
        auto presented = find_notify(m.payloads, NotifyType::ticket_opaque);
        if (!nonce || !presented) return make_error_code(Error::invalid_syntax);
        if (nonce->body.size() < 16 || nonce->body.size() > 256) return make_error_code(Error::malformed_message);
        if (auto answered = validate_source(m, nonce->body, from)) return *answered;
        auto refuse = [&](std::error_code ec) {
            answer_unprotected(m.header, {notify(NotifyType::ticket_nack)}, from);
            return ec;
        };
        if (!config_.tickets) return refuse(make_error_code(Error::resumption_unavailable));
        const std::uint64_t now_s = unix_seconds(config_);
        auto state = config_.tickets->template open<Crypto>(presented->data, now_s);
        if (!state) return refuse(state.error());
        if (!same_identity(state->responder_id, local_id_payload_) ||
            (!config_.remote_id.empty() && !same_identity(config_.remote_id.payload(), state->initiator_id)))
            return refuse(make_error_code(Error::ticket_identity_mismatch));
        if (!suite_allowed(state->suite)) return refuse(make_error_code(Error::no_proposal_chosen));
        if (auto ec = config_.tickets->spend(*state, now_s)) return refuse(ec);

        peer_ = from;
        spi_i_ = m.header.spi_i;
        spi_r_ = random_spi64();
        ni_ = nonce->body;
        nr_.resize(nonce_size);
        draw_random<Crypto>(config_, nr_);
        init_request_.assign(raw.begin(), raw.end());
        suite_.prf = state->suite.prf;
        suite_.cipher = state->suite.cipher;
        suite_.integrity = state->suite.integrity;
        resumption_ = true;
        resumed_peer_id_ = state->initiator_id;
        resumed_auth_method_ = state->initiator_auth;
        std::vector<RawPayload> payloads{nonce_payload(nr_)};
        fragmentation_ = config_.fragmentation && find_notify(m.payloads, NotifyType::ikev2_fragmentation_supported);
        if (fragmentation_) payloads.push_back(notify(NotifyType::ikev2_fragmentation_supported));
        init_response_ = serialize_message(header(ExchangeType::ike_session_resume, 0, true), payloads);
        queue(init_response_);
        if (auto ec = derive_resumed_keys(state->sk_d)) return fail(ec);
        expected_peer_id_ = 1;
        state_ = State::init_answered;
        (void)now;
        return {};
    }

    /// Responder: N(TICKET_LT_OPAQUE) = Lifetime | ticket for an initiator that asked
    /// (RFC 5723 4.1), or N(TICKET_NACK) without an issuer. The ticket holds this IKE
    /// SA's SK_d, algorithms, SPIs and the authenticated identities.
    void add_ticket(std::vector<RawPayload>& reply, const IdPayload& initiator_id) {
        if (!config_.tickets) {
            reply.push_back(notify(NotifyType::ticket_nack));
            return;
        }
        TicketState t;
        t.id.resize(TicketState::id_size);
        draw_random<Crypto>(config_, t.id);
        t.initiator_id = initiator_id;
        t.responder_id = local_id_payload_;
        t.initiator_auth = resumption_          ? resumed_auth_method_
                           : config_.peer_signs() ? AuthMethod::digital_signature
                                                  : AuthMethod::shared_key_mic;
        t.suite = {suite_.prf, suite_.cipher, suite_.integrity};
        t.sk_d = keys_.sk_d;
        t.spi_i = spi_i_;
        t.spi_r = spi_r_;
        const auto lifetime = static_cast<std::uint32_t>(std::clamp<std::int64_t>(config_.tickets->lifetime().count(), 1, 0xffffffff));
        t.expires_unix_s = unix_seconds(config_) + lifetime;
        Bytes data;
        wire::Writer(data).u32(lifetime);
        append(data, config_.tickets->template seal<Crypto>(t, config_));
        reply.push_back(notify(NotifyType::ticket_lt_opaque, data));
        ++tickets_issued_;
    }
    /// Initiator: the responder's ticket, kept with what RFC 5723 has the client keep
    /// (its lifetime, SK_d, the algorithms, both IDs). A malformed one is ignored: the
    /// IKE SA stands, only resumption is lost.
    void keep_ticket(const std::vector<RawPayload>& inner, const IdPayload& responder_id) {
        if (!config_.request_ticket) return;
        auto n = find_notify(inner, NotifyType::ticket_lt_opaque);
        if (!n || n->data.size() <= 4 || n->data.size() > 4 + max_ticket_size) return;
        wire::Reader r(n->data);
        const std::uint32_t lifetime = r.u32();
        Ticket t;
        const ByteView opaque = r.rest();
        t.opaque.assign(opaque.begin(), opaque.end());
        t.expires_unix_s = unix_seconds(config_) + lifetime;
        t.suite = {suite_.prf, suite_.cipher, suite_.integrity};
        t.sk_d = keys_.sk_d;
        t.local_id = local_id_payload_;
        t.remote_id = responder_id;
        ticket_ = std::move(t);
    }
    static constexpr std::size_t max_ticket_size = 2048;

    /// N(COOKIE) in the responder's answer (RFC 7296 2.6): true when one was taken (the
    /// first request then goes again with it), at most twice.
    Result<bool> took_cookie(const Message& m) {
        auto cookie = find_notify(m.payloads, NotifyType::cookie);
        if (!cookie) return false;
        if (cookie->data.empty() || cookie->data.size() > 64 || ++cookie_rounds_ > 2) return make_error_code(Error::invalid_cookie);
        cookie_ = cookie->data;
        return true;
    }

    // ---- input -----------------------------------------------------------------------

    /// An IKE message without the non-ESP marker: what a peer sends from port 500 even
    /// to our port 4500 (charon's first message when configured with remote_port 4500).
    /// Told apart from ESP by the SPI (not one of our inbound SAs) and by an IKE header
    /// whose version, exchange type and length all fit the datagram.
    bool plain_ike(ByteView d) const {
        if (d.size() < header_size || d[17] != version_2_0 || d[18] < 34 || d[18] > 38) return false;
        const std::size_t length = std::size_t{d[24]} << 24 | std::size_t{d[25]} << 16 | std::size_t{d[26]} << 8 | d[27];
        if (length != d.size()) return false;
        const auto spi = esp::spi_of(d);  // ESP on the current SA or on the one a rekey replaced
        return !esp_ || (spi != esp_->inbound_spi() && (!esp_old_ || spi != esp_old_->inbound_spi()));
    }

    std::error_code on_ike(ByteView data, const Endpoint& from, Instant now, bool marker) {
        auto parsed = parse_message(data);
        if (!parsed) return parsed.error();
        Message& m = *parsed;
        const Header& h = m.header;
        // An IKE SA a rekey replaced, until the peer deletes it.
        if (retired_ && h.exchange != ExchangeType::ike_sa_init && h.spi_i == retired_->spi_i && h.spi_r == retired_->spi_r)
            return on_retired(data, m, from, now, marker);
        // The I flag names the original initiator: a message from our peer carries the
        // opposite of ours (2.21's first check; a reflected message is dropped here).
        if (h.from_initiator() == ike_initiator_) return make_error_code(Error::unexpected_message);

        // IKE_SA_INIT, or IKE_SESSION_RESUME in its place (RFC 5723 4.3.1): unprotected, message ID 0.
        if (h.exchange == ExchangeType::ike_sa_init || h.exchange == ExchangeType::ike_session_resume) {
            if (m.fragment()) return make_error_code(Error::invalid_fragment);  // RFC 7383 2.5.3: never fragmented
            if (h.message_id != 0) return make_error_code(Error::unexpected_message);
            if (initiator()) {
                if (!h.is_response() || state_ != State::init_sent || h.spi_i != spi_i_ || h.exchange != first_exchange())
                    return make_error_code(Error::unexpected_message);
                return resumption_ ? on_resume_response(data, m, now) : on_init_response(data, m, now);
            }
            if (h.is_response() || h.spi_r != 0) return make_error_code(Error::unexpected_message);
            if (state_ == State::idle) {
                peer_marker_ = marker;  // answer in the framing the request came in
                if (h.exchange == ExchangeType::ike_session_resume) return on_resume_request(data, m, from, now);
                return on_init_request(data, m, from, now);
            }
            if (h.spi_i == spi_i_ && !init_response_.empty() && marker == peer_marker_) {  // a retransmitted request
                ++stats_.responses_resent;
                queue(init_response_);
                return {};
            }
            return make_error_code(Error::unexpected_message);
        }

        if (h.spi_i != spi_i_ || h.spi_r != spi_r_ || !in_cipher_) return make_error_code(Error::unknown_spi);
        if (m.fragment() && !fragmentation_) return make_error_code(Error::invalid_fragment);  // not announced by us both
        if (h.is_response()) {
            if (!retransmit_at_ || h.message_id != pending_request_id_) return make_error_code(Error::unexpected_message);
            auto whole = open_or_reassemble(data, m, responses_in_);
            if (!whole) return whole.error();
            follow_peer(from, marker, now);
            if (!*whole) return {};  // more fragments to come
            auto inner = std::move(**whole);
            retransmit_at_.reset();
            if (h.exchange == ExchangeType::ike_auth && state_ == State::auth_sent) return on_auth_response(inner, now);
            if (h.exchange == ExchangeType::informational && state_ == State::deleting) {
                state_ = State::closed;
                return {};
            }
            if (h.exchange == ExchangeType::create_child_sa && rekey_) return on_rekey_response(inner, now);
            if (h.exchange == ExchangeType::create_child_sa && ike_rekey_) return on_ike_rekey_response(inner, now);
            if (h.exchange == ExchangeType::informational && deleting_old_) {  // our D(ESP) of the rekeyed SA, answered
                deleting_old_ = false;
                esp_old_.reset();
                return {};
            }
            return {};  // the answer to an informational we no longer wait for
        }
        // A request from the peer: the next one in sequence, or the last one again.
        if (h.message_id + 1 == expected_peer_id_ && !last_response_.empty() && h.message_id == last_response_id_) {
            // Only an authentic copy earns the cached answer; of a fragmented request, only
            // its first fragment (RFC 7383 2.6.1: one answer per retransmission, not one per fragment).
            if (m.fragment()) {
                auto piece = in_cipher_->open_fragment(data, m);
                if (!piece) return piece.error();
                secure_zero(piece->part.data(), piece->part.size());
                follow_peer(from, marker, now);
                if (piece->numbers.number != 1) return {};
            } else {
                auto inner = in_cipher_->open(data, m);
                if (!inner) return inner.error();
                follow_peer(from, marker, now);
            }
            ++stats_.responses_resent;
            queue(last_response_);
            return {};
        }
        if (h.message_id != expected_peer_id_) return make_error_code(Error::unexpected_message);
        auto whole = open_or_reassemble(data, m, requests_in_);
        if (!whole) return whole.error();
        follow_peer(from, marker, now);
        if (!*whole) return {};  // more fragments to come
        const auto inner = std::move(**whole);
        ++expected_peer_id_;
        if (h.exchange == ExchangeType::ike_auth && !initiator() && state_ == State::init_answered)
            return on_auth_request(inner, h.message_id, now);
        if (h.exchange == ExchangeType::informational) return on_informational_request(inner, h.message_id, now);
        if (h.exchange == ExchangeType::create_child_sa) return on_create_child_sa_request(inner, h.message_id, now);
        send_response(h.exchange, h.message_id, {notify(NotifyType::invalid_syntax)});
        return make_error_code(Error::unexpected_message);
    }

    /// The inner payloads of an SK message, or of the fragmented message an authentic SKF
    /// completes (nullopt while pieces are missing). A fragment that fails its integrity
    /// check is refused alone (RFC 7383 2.6); the pieces held stay.
    Result<std::optional<std::vector<RawPayload>>> open_or_reassemble(ByteView data, const Message& m, FragmentReassembly& pieces) {
        if (!m.fragment()) {
            auto inner = in_cipher_->open(data, m);
            if (!inner) return inner.error();
            return std::optional<std::vector<RawPayload>>(std::move(*inner));
        }
        auto piece = in_cipher_->open_fragment(data, m);
        if (!piece) return piece.error();
        ++stats_.fragments_received;
        auto whole = pieces.add(m.header.message_id, piece->numbers, piece->next, piece->part, config_.fragment_limits);
        secure_zero(piece->part.data(), piece->part.size());
        if (!whole) return whole.error();
        if (!*whole) return std::optional<std::vector<RawPayload>>{};
        ++stats_.messages_reassembled;
        std::vector<RawPayload> inner;
        const auto ec = parse_chain((*whole)->chain, (*whole)->first_inner, inner);
        secure_zero((*whole)->chain.data(), (*whole)->chain.size());
        if (ec) return ec;
        return std::optional<std::vector<RawPayload>>(std::move(inner));
    }

    /// RFC 7296 2.23: the peer's address and port are those of its latest authenticated
    /// message (it floats from 500 to 4500 once a NAT is detected, as charon does).
    void follow_peer(const Endpoint& from, bool marker, Instant now) {
        last_heard_ = now;
        peer_ = from;
        peer_marker_ = marker;
    }

    // Responder: IKE_SA_INIT request.
    std::error_code on_init_request(ByteView raw, const Message& m, const Endpoint& from, Instant now) {
        const RawPayload* sa = find(m.payloads, PayloadType::sa);
        const RawPayload* ke = find(m.payloads, PayloadType::ke);
        const RawPayload* nonce = find(m.payloads, PayloadType::nonce);
        if (!sa || !ke || !nonce) return make_error_code(Error::invalid_syntax);
        if (nonce->body.size() < 16 || nonce->body.size() > 256) return make_error_code(Error::malformed_message);
        auto offer = decode_sa(sa->body);
        auto their_ke = decode_ke(ke->body);
        if (!offer || !their_ke) return make_error_code(Error::malformed_message);
        if (auto n = find_notify(m.payloads, NotifyType::signature_hash_algorithms); n && !decode_hash_algorithms(n->data))
            return make_error_code(Error::malformed_message);

        // Source validation first: no state, and no key agreement, before the cookie.
        if (auto answered = validate_source(m, nonce->body, from)) return *answered;

        std::optional<Proposal> chosen;
        for (const auto& p : offer->proposals) {
            if (auto s = select_ike(p, their_ke->group)) {
                chosen = p;
                suite_ = *s;
                break;
            }
        }
        if (!chosen) {
            answer_unprotected(m.header, {notify(NotifyType::no_proposal_chosen)}, from);
            return make_error_code(Error::no_proposal_chosen);
        }
        if (their_ke->group != static_cast<std::uint16_t>(suite_.group)) {
            const std::uint16_t g = static_cast<std::uint16_t>(suite_.group);
            const std::array<std::uint8_t, 2> hint{static_cast<std::uint8_t>(g >> 8), static_cast<std::uint8_t>(g)};
            answer_unprotected(m.header, {notify(NotifyType::invalid_ke_payload, hint)}, from);
            return {};  // not an error of the peer's: it retries with the group we named
        }
        if (auto ec = new_key_share(suite_.group)) return ec;
        auto shared = agree(their_ke->data);
        if (!shared) return shared.error();

        peer_ = from;
        (void)note_peer_hashes(m.payloads);  // checked above
        spi_i_ = m.header.spi_i;
        spi_r_ = random_spi64();
        ni_ = nonce->body;
        nr_.resize(nonce_size);
        draw_random<Crypto>(config_, nr_);
        init_request_.assign(raw.begin(), raw.end());

        Proposal reply;
        reply.number = chosen->number;
        reply.protocol = ProtocolId::ike;
        reply.transforms = {encr_transform(suite_.cipher),
                            {TransformType::prf, static_cast<std::uint16_t>(suite_.prf), std::nullopt},
                            {TransformType::dh, static_cast<std::uint16_t>(suite_.group), std::nullopt}};
        if (suite_.integrity != esp::Integrity::none) reply.transforms.push_back(integ_transform(suite_.integrity));
        std::vector<RawPayload> payloads{payload(PayloadType::sa, SaPayload{{reply}}),
                                         payload(PayloadType::ke, KePayload{static_cast<std::uint16_t>(suite_.group), our_public()}),
                                         nonce_payload(nr_)};
        add_nat_detection(payloads);
        // RFC 7383 2.3: announced back only to an initiator that announced it.
        fragmentation_ = config_.fragmentation && find_notify(m.payloads, NotifyType::ikev2_fragmentation_supported);
        if (fragmentation_) payloads.push_back(notify(NotifyType::ikev2_fragmentation_supported));
        payloads.push_back(notify(NotifyType::signature_hash_algorithms, encode_hash_algorithms(announced_hashes())));
        if (config_.peer_signs()) payloads.push_back(certificate_request());  // RFC 7296 1.2: asks for the initiator's CERT
        init_response_ = serialize_message(header(ExchangeType::ike_sa_init, 0, true), payloads);
        queue(init_response_);
        if (auto ec = derive_keys(*shared)) return fail(ec);
        expected_peer_id_ = 1;
        state_ = State::init_answered;
        (void)now;
        return {};
    }

    /// Responder, Config::source_validation: a request without our cookie is answered
    /// N(COOKIE) (nothing kept); one with a wrong cookie is refused; nullopt: go on.
    std::optional<std::error_code> validate_source(const Message& m, ByteView nonce, const Endpoint& from) {
        if (config_.source_validation != CommonConfig::SourceValidation::always) return std::nullopt;
        const Bytes expected = cookie_for(nonce, from, m.header.spi_i);
        auto presented = find_notify(m.payloads, NotifyType::cookie);
        if (!presented) {
            ++stats_.cookies_sent;
            answer_unprotected(m.header, {notify(NotifyType::cookie, expected)}, from);
            return std::error_code{};
        }
        if (!constant_time_equal(presented->data, expected)) return make_error_code(Error::invalid_cookie);
        return std::nullopt;
    }

    /// An unprotected IKE_SA_INIT (or IKE_SESSION_RESUME) answer that keeps no state
    /// (cookie, errors, TICKET_NACK): in the request's exchange.
    void answer_unprotected(const Header& request, const std::vector<RawPayload>& payloads, const Endpoint& to) {
        Header h;
        h.spi_i = request.spi_i;
        h.spi_r = 0;
        h.exchange = request.exchange;
        h.flags = flags::response;
        const Bytes message = serialize_message(h, payloads);
        DatagramOutbox::Slot* slot = transmits_.reserve();
        if (!slot) return;
        slot->data.assign(peer_marker_ ? non_esp_marker_size : 0, 0);
        append(slot->data, message);
        slot->to = to;
        transmits_.commit();
    }

    /// Cookie = 0 | SHA-256(Ni | address | port | SPIi | secret)[0..16) (RFC 7296 2.6's
    /// recipe with a version octet): stateless, and bound to the source address.
    Bytes cookie_for(ByteView ni, const Endpoint& from, std::uint64_t spi_i) const {
        Bytes input(ni.begin(), ni.end());
        append(input, as_bytes(from.to_string()));
        put64(input, spi_i);
        append(input, cookie_secret_);
        const Bytes digest = Crypto::hash(crypto::HashAlgorithm::sha256, input);
        Bytes cookie(17, 0);  // version octet 0, then 16 octets of the digest
        std::copy_n(digest.begin(), 16, cookie.begin() + 1);
        return cookie;
    }

    /// An IKE proposal we accept, with the peer's KE group preferred when we support it
    /// and our first PRF it offers. An IKE SA rekey (spi_size 8) keeps the SA's PRF.
    std::optional<IkeSuite> select_ike(const Proposal& p, std::uint16_t ke_group, std::size_t spi_size = 0) const {
        if (p.protocol != ProtocolId::ike || p.spi.size() != spi_size) return std::nullopt;
        const auto cipher = choose_cipher(p, config_.ike_ciphers, config_.ike_integrity);
        const std::vector<Prf> acceptable = spi_size == 8 ? std::vector<Prf>{suite_.prf} : config_.ike_prfs;
        std::optional<Prf> prf;
        for (auto f : acceptable)
            for (const auto& t : p.transforms)
                if (!prf && t.type == TransformType::prf && t.id == static_cast<std::uint16_t>(f)) prf = f;
        std::vector<Group> groups;
        for (const auto& t : p.transforms) {
            switch (t.type) {
                case TransformType::dh:
                    for (auto g : config_.groups)
                        if (t.id == static_cast<std::uint16_t>(g)) groups.push_back(g);
                    break;
                default: break;
            }
        }
        if (!cipher || !prf || groups.empty()) return std::nullopt;
        IkeSuite s{cipher->cipher, groups.front(), cipher->integrity, *prf};
        for (auto g : groups)
            if (static_cast<std::uint16_t>(g) == ke_group) s.group = g;
        return s;
    }

    std::error_code derive_keys(ByteView shared) {
        const SecretBytes seed = skeyseed<Crypto>(suite_.prf, ni_, nr_, shared);
        return key_ike_sa(seed, ni_, nr_);
    }
    /// The seven keys from SKEYSEED for suite_ and the current SPIs, and the SK ciphers
    /// (IKE_SA_INIT and an IKE SA rekey alike).
    std::error_code key_ike_sa(ByteView seed, ByteView ni, ByteView nr) {
        keys_ = derive_ike_sa_keys<Crypto>(suite_.prf, seed, ni, nr, spi_i_, spi_r_, esp::keymat_length(suite_.cipher),
                                           esp::integrity_key_length(suite_.integrity));
        auto ei = SkCipher<Crypto>::create(suite_.cipher, suite_.integrity, keys_.sk_ei, keys_.sk_ai);
        auto er = SkCipher<Crypto>::create(suite_.cipher, suite_.integrity, keys_.sk_er, keys_.sk_ar);
        if (!ei || !er) return make_error_code(Errc::internal_error);
        out_cipher_.emplace(std::move(ike_initiator_ ? *ei : *er));
        in_cipher_.emplace(std::move(ike_initiator_ ? *er : *ei));
        return {};
    }

    // Initiator: IKE_SA_INIT response (or a cookie / INVALID_KE / error answer).
    std::error_code on_init_response(ByteView raw, const Message& m, Instant now) {
        auto cookie = took_cookie(m);
        if (!cookie) return cookie.error();
        if (*cookie) {
            send_init_request(now);
            return {};
        }
        if (auto hint = find_notify(m.payloads, NotifyType::invalid_ke_payload)) {
            if (hint->data.size() != 2 || ++ke_rounds_ > 1) return fail(make_error_code(Error::invalid_ke_payload));
            const std::uint16_t wanted = static_cast<std::uint16_t>(hint->data[0] << 8 | hint->data[1]);
            bool supported = false;
            for (auto g : config_.groups)
                if (static_cast<std::uint16_t>(g) == wanted) supported = true;
            if (!supported || wanted == static_cast<std::uint16_t>(suite_.group))
                return fail(make_error_code(Error::invalid_ke_payload));
            suite_.group = static_cast<Group>(wanted);
            if (auto ec = new_key_share(suite_.group)) return fail(ec);
            send_init_request(now);
            return {};
        }
        if (auto error = first_error_notify(m.payloads)) return fail(from_notify(error->type));
        const RawPayload* sa = find(m.payloads, PayloadType::sa);
        const RawPayload* ke = find(m.payloads, PayloadType::ke);
        const RawPayload* nonce = find(m.payloads, PayloadType::nonce);
        if (!sa || !ke || !nonce || m.header.spi_r == 0) return make_error_code(Error::invalid_syntax);
        if (nonce->body.size() < 16 || nonce->body.size() > 256) return make_error_code(Error::malformed_message);
        auto accepted = decode_sa(sa->body);
        auto their_ke = decode_ke(ke->body);
        if (!accepted || !their_ke) return make_error_code(Error::malformed_message);
        if (auto ec = note_peer_hashes(m.payloads)) return ec;
        // The answer must be exactly one of the offered transforms of each type.
        if (accepted->proposals.size() != 1) return fail(make_error_code(Error::no_proposal_chosen));
        auto s = select_ike(accepted->proposals.front(), their_ke->group);
        if (!s || s->group != suite_.group || their_ke->group != static_cast<std::uint16_t>(suite_.group) ||
            count_type(accepted->proposals.front(), TransformType::encr) != 1 ||
            count_type(accepted->proposals.front(), TransformType::integ) > 1 ||
            count_type(accepted->proposals.front(), TransformType::prf) != 1 ||
            count_type(accepted->proposals.front(), TransformType::dh) != 1)
            return fail(make_error_code(Error::no_proposal_chosen));
        suite_.cipher = s->cipher;
        suite_.integrity = s->integrity;
        suite_.prf = s->prf;
        auto shared = agree(their_ke->data);
        if (!shared) return fail(shared.error());
        retransmit_at_.reset();
        spi_r_ = m.header.spi_r;
        nr_ = nonce->body;
        init_response_.assign(raw.begin(), raw.end());
        fragmentation_ = config_.fragmentation && find_notify(m.payloads, NotifyType::ikev2_fragmentation_supported);
        if (auto ec = derive_keys(*shared)) return fail(ec);
        key_share_.reset();
        send_auth_request(now);
        return {};
    }
    static std::size_t count_type(const Proposal& p, TransformType t) {
        std::size_t n = 0;
        for (const auto& x : p.transforms) n += x.type == t;
        return n;
    }

    void send_auth_request(Instant now) {
        child_inbound_spi_ = random_spi32();
        std::optional<RawPayload> auth;
        if (config_.eap_peer && !resumption_) {  // no AUTH: the responder starts EAP (RFC 7296 2.16); resumed: no EAP
            auto method = config_.eap_peer();
            if (!method) {
                fail(make_error_code(Error::invalid_configuration));
                return;
            }
            eap_peer_.emplace(std::move(method));
            eap_stage_ = EapStage::awaiting_responder;
        } else {
            auto ours = our_auth(init_request_, nr_, keys_.sk_pi, config_.remote_id.value);  // resumed: RFC 5723's AUTH
            if (!ours) {
                fail(ours.error());
                return;
            }
            auth = std::move(*ours);
        }
        std::vector<RawPayload> inner{payload(PayloadType::idi, local_id_payload_)};
        if (!resumption_) add_certificates(inner, true);  // a resumed SA authenticates with the ticket's keys
        inner.push_back(notify(NotifyType::initial_contact));
        if (config_.mobike) inner.push_back(notify(NotifyType::mobike_supported));
        if (config_.request_ticket) inner.push_back(notify(NotifyType::ticket_request));
        if (resumption_) inner.push_back(payload(PayloadType::idr, config_.resume_ticket->remote_id));
        else if (!config_.remote_id.empty()) inner.push_back(payload(PayloadType::idr, config_.remote_id.payload()));
        if (auth) inner.push_back(std::move(*auth));
        if (config_.request_address)  // RFC 7296 2.19: empty attributes ask for any value
            inner.push_back(payload(PayloadType::cp, address_request()));
        inner.push_back(payload(PayloadType::sa, esp_proposal()));
        inner.push_back(payload(PayloadType::tsi, TsPayload{{config_.local_ts}}));
        inner.push_back(payload(PayloadType::tsr, TsPayload{{config_.remote_ts}}));
        add_tfc_refusal(inner);
        send_request(ExchangeType::ike_auth, inner, now);
        state_ = State::auth_sent;
    }

    /// Checks the peer's AUTH for the identity it claimed: a signature when we expect
    /// one (Config::peer_signs), else the PSK MIC; no other method is accepted.
    std::error_code verify_peer_auth(const std::vector<RawPayload>& inner, PayloadType id_type, IdPayload& id_out) {
        const RawPayload* id = find(inner, id_type);
        const RawPayload* auth = find(inner, PayloadType::auth);
        if (!id || !auth) return make_error_code(Error::invalid_syntax);
        auto peer_id = decode_id(id->body);
        auto peer_auth = decode_auth(auth->body);
        if (!peer_id || !peer_auth) return make_error_code(Error::malformed_message);
        id_out = *peer_id;
        const std::string claimed(peer_id->data.begin(), peer_id->data.end());
        if (!config_.remote_id.empty() && !same_identity(config_.remote_id.payload(), *peer_id))
            return make_error_code(Error::identity_mismatch);
        // The peer signed its own IKE_SA_INIT message, our nonce and its ID payload as sent.
        const ByteView signed_message = initiator() ? ByteView(init_response_) : ByteView(init_request_);
        const ByteView our_nonce = initiator() ? ByteView(ni_) : ByteView(nr_);
        const ByteView sk_p = initiator() ? ByteView(keys_.sk_pr) : ByteView(keys_.sk_pi);
        if (resumption_) {
            // RFC 5723 4.3.3: the IDs are the ticket's, the AUTH a shared-key MIC keyed with SK_pi / SK_pr.
            if (!same_identity(resumed_peer_id_, *peer_id)) return make_error_code(Error::ticket_identity_mismatch);
            if (peer_auth->method != AuthMethod::shared_key_mic) return make_error_code(Error::authentication_failed);
            const SecretBytes expected = resumption_auth(!initiator(), id->body);
            if (!constant_time_equal(expected, peer_auth->data)) return make_error_code(Error::authentication_failed);
            auto text = Identification::from_payload(*peer_id);
            peer_identity_.psk_identity = text ? text->value : claimed;
            peer_identity_.subject = peer_identity_.psk_identity;
            psk_peer_ = peer_identity_.psk_identity;
        } else if (config_.peer_signs()) {
            if (peer_auth->method != AuthMethod::digital_signature) return make_error_code(Error::authentication_failed);
            const Bytes octets = signed_octets<Crypto>(suite_.prf, signed_message, our_nonce, sk_p, id->body);
            if (auto ec = verify_signature(inner, *peer_id, peer_auth->data, octets)) return ec;
            auto text = Identification::from_payload(*peer_id);
            psk_peer_ = text ? text->value : claimed;
        } else {
            const SecretBytes* psk = config_.psk_for(config_.remote_id.empty() ? claimed : config_.remote_id.value);
            if (!psk) return make_error_code(Error::identity_mismatch);
            if (peer_auth->method != AuthMethod::shared_key_mic) return make_error_code(Error::authentication_failed);
            const SecretBytes expected = psk_auth<Crypto>(suite_.prf, *psk, signed_message, our_nonce, sk_p, id->body);
            if (!constant_time_equal(expected, peer_auth->data)) return make_error_code(Error::authentication_failed);
            peer_identity_.psk_identity = config_.remote_id.empty() ? claimed : config_.remote_id.value;
            peer_identity_.subject = peer_identity_.psk_identity;
            psk_peer_ = peer_identity_.psk_identity;
        }
        peer_identity_.authenticated = true;
        if (config_.validate_peer)
            if (auto ec = config_.validate_peer(peer_identity_)) return ec;
        return {};
    }

    /// Failures of the peer's AUTH that keep their own code (the notify sent is always
    /// AUTHENTICATION_FAILED); anything else is reported as authentication_failed.
    static std::error_code auth_failure(std::error_code ec) {
        for (auto e : {Error::identity_mismatch, Error::certificate_untrusted, Error::certificate_identity_mismatch,
                       Error::signature_scheme_unsupported, Error::ticket_identity_mismatch})
            if (ec == e) return ec;
        return make_error_code(Error::authentication_failed);
    }

    struct EspChoice {
        Proposal reply;       // the accepted proposal as we answer it (our SPI)
        ChildSuite suite;
        std::uint32_t peer_spi = 0;
    };
    /// The first ESP proposal of `offer` we accept (initiator's offer, or a responder's
    /// single accepted proposal checked against our preferences).
    std::optional<EspChoice> select_esp(const SaPayload& offer) const {
        for (const auto& p : offer.proposals) {
            if (p.protocol != ProtocolId::esp || p.spi.size() != 4 || spi_value(p.spi) < 256) continue;
            const auto cipher = choose_cipher(p, config_.esp_ciphers, config_.esp_integrity);
            bool esn_no = false, esn_yes = false, any_esn = false;
            std::optional<Transform> dh_choice;
            bool dh_ours = false;
            for (const auto& t : p.transforms) {
                if (t.type == TransformType::esn) {
                    any_esn = true;
                    esn_no = esn_no || t.id == esn::no;
                    esn_yes = esn_yes || t.id == esn::yes;
                } else if (t.type == TransformType::dh) {
                    // NONE when offered, else a group of ours (PFS in CREATE_CHILD_SA; IKE_AUTH
                    // has no key exchange, and a DH transform there is ignored, 1.2).
                    bool ours = t.id == 0;
                    for (auto g : config_.groups) ours = ours || t.id == static_cast<std::uint16_t>(g);
                    if (!dh_choice || t.id == 0 || (ours && !dh_ours && dh_choice->id != 0)) {
                        dh_choice = t;
                        dh_ours = ours;
                    }
                }
            }
            if (!cipher) continue;
            bool esn = false;
            if (any_esn) {
                if (esn_yes && config_.allow_esn && (config_.prefer_esn || !esn_no)) esn = true;
                else if (!esn_no) continue;
            }
            EspChoice choice;
            choice.reply.number = p.number;
            choice.reply.protocol = ProtocolId::esp;
            choice.reply.spi = spi_bytes(child_inbound_spi_);
            choice.reply.transforms.push_back(encr_transform(cipher->cipher));
            if (cipher->integrity != esp::Integrity::none) choice.reply.transforms.push_back(integ_transform(cipher->integrity));
            if (dh_choice) choice.reply.transforms.push_back(*dh_choice);
            if (any_esn) choice.reply.transforms.push_back({TransformType::esn, esn ? esn::yes : esn::no, std::nullopt});
            choice.suite = ChildSuite{cipher->cipher, esn, cipher->integrity};
            choice.peer_spi = spi_value(p.spi);
            return choice;
        }
        return std::nullopt;
    }

    // Responder: IKE_AUTH request.
    std::error_code on_auth_request(const std::vector<RawPayload>& inner, std::uint32_t message_id, Instant now) {
        if (config_.eap_server && !resumption_) return on_eap_auth_request(inner, message_id, now);  // resumed: no EAP
        if (!find(inner, PayloadType::auth) && find(inner, PayloadType::idi)) {  // it wants EAP; we offer none
            send_response(ExchangeType::ike_auth, message_id, {notify(NotifyType::authentication_failed)});
            return fail(make_error_code(Error::eap_required));
        }
        IdPayload idi;
        if (auto ec = verify_peer_auth(inner, PayloadType::idi, idi)) {
            send_response(ExchangeType::ike_auth, message_id, {notify(NotifyType::authentication_failed)});
            return fail(auth_failure(ec));
        }
        if (const RawPayload* idr = find(inner, PayloadType::idr)) {  // the identity the initiator expects of us
            auto wanted = decode_id(idr->body);
            if (!wanted || !same_identity(*wanted, local_id_payload_)) {
                send_response(ExchangeType::ike_auth, message_id, {notify(NotifyType::authentication_failed)});
                return fail(make_error_code(Error::identity_mismatch));
            }
        }
        auto auth = our_auth(init_response_, ni_, keys_.sk_pr, psk_peer_);
        if (!auth) {
            send_response(ExchangeType::ike_auth, message_id, {notify(NotifyType::authentication_failed)});
            return fail(auth.error());
        }
        std::vector<RawPayload> reply{payload(PayloadType::idr, local_id_payload_)};
        if (!resumption_) add_certificates(reply, false);
        reply.push_back(std::move(*auth));
        if (find_notify(inner, NotifyType::ticket_request)) add_ticket(reply, idi);
        return answer_child(inner, std::move(reply), message_id, now);
    }

    /// Responder: the Child SA the (first) IKE_AUTH request asks for, added to `reply`.
    std::error_code answer_child(const std::vector<RawPayload>& inner, std::vector<RawPayload> reply,
                                 std::uint32_t message_id, Instant now) {
        if (config_.mobike && find_notify(inner, NotifyType::mobike_supported)) {  // both announce it (RFC 4555 3.1)
            reply.push_back(notify(NotifyType::mobike_supported));
            peer_mobike_ = true;
        }
        // The Child SA. Failing it leaves an authenticated IKE SA, which this engine,
        // existing for the one tunnel, then deletes.
        const RawPayload* sa = find(inner, PayloadType::sa);
        const RawPayload* tsi = find(inner, PayloadType::tsi);
        const RawPayload* tsr = find(inner, PayloadType::tsr);
        if (!sa || !tsi || !tsr) {
            send_response(ExchangeType::ike_auth, message_id, {notify(NotifyType::invalid_syntax)});
            return fail(make_error_code(Error::invalid_syntax));
        }
        auto offer = decode_sa(sa->body);
        auto their_tsi = decode_ts(tsi->body);
        auto their_tsr = decode_ts(tsr->body);
        if (!offer || !their_tsi || !their_tsr) {
            send_response(ExchangeType::ike_auth, message_id, {notify(NotifyType::invalid_syntax)});
            return fail(!their_tsi ? their_tsi.error() : !their_tsr ? their_tsr.error() : make_error_code(Error::malformed_message));
        }
        // CP(CFG_REQUEST): an address from the pool becomes the initiator's side of the
        // Child SA (RFC 7296 2.19); without a pool the request goes unanswered.
        std::optional<CpPayload> cp_reply;
        auto request = read_cfg_request(inner);
        if (!request) {
            send_response(ExchangeType::ike_auth, message_id, {notify(NotifyType::invalid_syntax)});
            return fail(request.error());
        }
        if (*request) {
            if (config_.address_pool && (*request)->has(cp_attribute::internal_ip4_address)) {
                auto lease = AddressLease::take(config_.address_pool);
                if (!lease) {
                    reply.push_back(notify(NotifyType::internal_address_failure));
                    send_response(ExchangeType::ike_auth, message_id, reply);
                    return fail(make_error_code(Error::internal_address_failure));
                }
                lease_ = std::move(*lease);
                const TrafficSelector assigned = single_address(lease_.address());
                assigned_ip4_ = std::array<std::uint8_t, 4>{assigned.start[0], assigned.start[1], assigned.start[2], assigned.start[3]};
                remote_policy_ = assigned;
                cp_reply.emplace(CpPayload{CfgType::reply, {{cp_attribute::internal_ip4_address, Bytes(assigned.start.begin(), assigned.start.begin() + 4)}}});
                if ((*request)->has(cp_attribute::internal_ip4_dns))
                    for (const auto& dns : config_.pool_dns)
                        cp_reply->attributes.push_back({cp_attribute::internal_ip4_dns, Bytes(dns.begin(), dns.end())});
            }
        }
        child_inbound_spi_ = random_spi32();
        auto chosen = select_esp(*offer);
        if (!chosen) {
            reply.push_back(notify(NotifyType::no_proposal_chosen));
            send_response(ExchangeType::ike_auth, message_id, reply);
            return fail(make_error_code(Error::no_proposal_chosen));
        }
        auto narrowed_i = narrow(their_tsi->selectors, remote_policy_);
        auto narrowed_r = narrow(their_tsr->selectors, local_policy_);
        if (!narrowed_i || !narrowed_r) {
            reply.push_back(notify(NotifyType::ts_unacceptable));
            send_response(ExchangeType::ike_auth, message_id, reply);
            return fail(make_error_code(Error::ts_unacceptable));
        }
        child_ = chosen->suite;
        ts_remote_ = *narrowed_i;
        ts_local_ = *narrowed_r;
        note_peer_tfc(inner);
        if (auto ec = install_child(chosen->peer_spi)) return fail(ec);
        if (cp_reply) reply.push_back(payload(PayloadType::cp, *cp_reply));
        reply.push_back(payload(PayloadType::sa, SaPayload{{chosen->reply}}));
        reply.push_back(payload(PayloadType::tsi, TsPayload{{ts_remote_}}));
        reply.push_back(payload(PayloadType::tsr, TsPayload{{ts_local_}}));
        add_tfc_refusal(reply);
        send_response(ExchangeType::ike_auth, message_id, reply);
        established(now);
        return {};
    }

    // Initiator: IKE_AUTH response.
    std::error_code on_auth_response(const std::vector<RawPayload>& inner, Instant now) {
        if (config_.mobike && find_notify(inner, NotifyType::mobike_supported)) peer_mobike_ = true;
        if (eap_peer_) return on_eap_auth_response(inner, now);
        if (auto n = find_notify(inner, NotifyType::authentication_failed)) return fail(make_error_code(Error::authentication_failed));
        IdPayload idr;
        if (auto ec = verify_peer_auth(inner, PayloadType::idr, idr)) {
            // The IKE SA is not authenticated: nothing to delete; the responder, which
            // believes it is up, learns why in an INFORMATIONAL (RFC 7296 2.21.2), sent once.
            if (ec != Error::malformed_message && ec != Error::invalid_syntax)
                send_request(ExchangeType::informational, {notify(NotifyType::authentication_failed)}, now);
            return fail(ec);
        }
        keep_ticket(inner, idr);
        return accept_child_after_auth(inner, now);
    }

    /// Initiator: the Child SA in the (last) IKE_AUTH response.
    /// Initiator, the peer authenticated: an error notify about the Child SA ends the
    /// (authenticated) IKE SA with a clean delete, else the Child SA is taken.
    std::error_code accept_child_after_auth(const std::vector<RawPayload>& inner, Instant now) {
        if (auto error = first_error_notify(inner)) {
            auto ec = from_notify(error->type);
            state_ = State::established;  // authenticated: delete it cleanly, then report
            close(now);
            fatal_ = ec;
            return {};
        }
        return accept_child(inner, now);
    }

    std::error_code accept_child(const std::vector<RawPayload>& inner, Instant now) {
        const RawPayload* sa = find(inner, PayloadType::sa);
        const RawPayload* tsi = find(inner, PayloadType::tsi);
        const RawPayload* tsr = find(inner, PayloadType::tsr);
        if (!sa || !tsi || !tsr) return fail(make_error_code(Error::invalid_syntax));
        auto accepted = decode_sa(sa->body);
        auto their_tsi = decode_ts(tsi->body);
        auto their_tsr = decode_ts(tsr->body);
        if (!their_tsi || !their_tsr) return fail(!their_tsi ? their_tsi.error() : their_tsr.error());
        if (!accepted || accepted->proposals.size() != 1 || their_tsi->selectors.empty() || their_tsr->selectors.empty())
            return fail(make_error_code(Error::malformed_message));
        const Proposal& p = accepted->proposals.front();
        auto ours = select_esp(SaPayload{{p}});
        if (!ours || count_type(p, TransformType::encr) != 1 || count_type(p, TransformType::integ) > 1 ||
            count_type(p, TransformType::esn) > 1 ||
            (ours->suite.esn && !config_.allow_esn))
            return fail(make_error_code(Error::no_proposal_chosen));
        // Narrowed selectors must lie within what we proposed.
        if (!within(their_tsi->selectors.front(), local_policy_) || !within(their_tsr->selectors.front(), remote_policy_))
            return fail(make_error_code(Error::ts_unacceptable));
        TrafficSelector local = their_tsi->selectors.front();
        auto assigned = accept_cfg_reply(inner, config_.request_address, local);
        if (!assigned) return abandon_authenticated(assigned.error(), now);
        if (*assigned) {
            local = local_policy_ = (*assigned)->local;
            assigned_ip4_ = (*assigned)->ip4;
            assigned_ip6_ = (*assigned)->ip6;
            assigned_dns_ = (*assigned)->dns;
        }
        child_ = ours->suite;
        ts_local_ = local;
        ts_remote_ = their_tsr->selectors.front();
        note_peer_tfc(inner);
        if (auto ec = install_child(ours->peer_spi)) return fail(ec);
        established(now);
        return {};
    }

    /// Initiator, the peer authenticated but the Child SA cannot be used: delete the IKE
    /// SA cleanly (INFORMATIONAL D), and report `ec` as the failure.
    std::error_code abandon_authenticated(std::error_code ec, Instant now) {
        state_ = State::established;
        close(now);
        fatal_ = ec;
        return {};
    }

    // ---- EAP in IKE_AUTH (RFC 7296 2.16) ------------------------------------------------

    /// The AUTH key after EAP: the method's MSK, else SK_pi (initiator's AUTH) or SK_pr
    /// (responder's AUTH).
    SecretBytes eap_auth_key(bool for_initiator) const {
        if (eap_msk_) return *eap_msk_;
        const auto& k = for_initiator ? keys_.sk_pi : keys_.sk_pr;
        return SecretBytes(k.begin(), k.end());
    }
    /// AUTH = prf(prf(key, "Key Pad for IKEv2"), <signed octets>) for one side.
    SecretBytes eap_auth_value(bool for_initiator, ByteView id_body) const {
        const SecretBytes key = eap_auth_key(for_initiator);
        return for_initiator ? psk_auth<Crypto>(suite_.prf, key, init_request_, nr_, keys_.sk_pi, id_body)
                             : psk_auth<Crypto>(suite_.prf, key, init_response_, ni_, keys_.sk_pr, id_body);
    }

    // Initiator: the responder's answers while EAP runs.
    std::error_code on_eap_auth_response(const std::vector<RawPayload>& inner, Instant now) {
        const RawPayload* eap_payload = find(inner, PayloadType::eap);
        if (eap_stage_ == EapStage::awaiting_responder) {
            if (find_notify(inner, NotifyType::authentication_failed) && !eap_payload)
                return fail(make_error_code(Error::authentication_failed));
            // The responder's IDr, certificate and signature come first (2.16, message 4).
            IdPayload idr;
            if (auto ec = verify_peer_auth(inner, PayloadType::idr, idr)) {
                if (ec != Error::malformed_message && ec != Error::invalid_syntax)
                    send_request(ExchangeType::informational, {notify(NotifyType::authentication_failed)}, now);
                return fail(ec);
            }
            if (const RawPayload* id = find(inner, PayloadType::idr)) eap_responder_id_ = id->body;
            if (!eap_payload) {  // it authenticated us without EAP: not what we configured
                send_request(ExchangeType::informational, {notify(NotifyType::authentication_failed)}, now);
                return fail(make_error_code(Error::eap_required));
            }
            eap_stage_ = EapStage::rounds;
        }
        if (eap_stage_ == EapStage::rounds) {
            if (!eap_payload) {
                if (find_notify(inner, NotifyType::authentication_failed)) return fail(make_error_code(Error::eap_failed));
                return fail(make_error_code(Error::invalid_syntax));
            }
            auto step = eap_peer_->on_message(eap_payload->body);
            if (!step) return fail(step.error());
            switch (step->kind) {
                case eap::PeerStep::Kind::failure: return fail(make_error_code(Error::eap_failed));
                case eap::PeerStep::Kind::respond:
                    send_request(ExchangeType::ike_auth, {RawPayload{PayloadType::eap, false, std::move(step->response)}}, now);
                    return {};
                case eap::PeerStep::Kind::success: break;
            }
            eap_msk_ = eap_peer_->msk();
            const SecretBytes auth = eap_auth_value(true, local_id_payload_.body());
            send_request(ExchangeType::ike_auth,
                         {payload(PayloadType::auth, AuthPayload{AuthMethod::shared_key_mic, Bytes(auth.begin(), auth.end())})},
                         now);
            eap_stage_ = EapStage::final_auth;
            return {};
        }
        // The last answer: the responder's AUTH over the EAP key, then the Child SA.
        if (find_notify(inner, NotifyType::authentication_failed)) return fail(make_error_code(Error::authentication_failed));
        const RawPayload* auth = find(inner, PayloadType::auth);
        if (!auth) return fail(make_error_code(Error::invalid_syntax));
        auto theirs = decode_auth(auth->body);
        if (!theirs) return fail(make_error_code(Error::malformed_message));
        const SecretBytes expected = eap_auth_value(false, eap_responder_id_);
        if (theirs->method != AuthMethod::shared_key_mic || !constant_time_equal(expected, theirs->data)) {
            send_request(ExchangeType::informational, {notify(NotifyType::authentication_failed)}, now);
            return fail(make_error_code(Error::authentication_failed));
        }
        eap_stage_ = EapStage::done;
        return accept_child_after_auth(inner, now);
    }

    // Responder: IKE_AUTH requests when we demand EAP of the initiator.
    std::error_code on_eap_auth_request(const std::vector<RawPayload>& inner, std::uint32_t message_id, Instant now) {
        auto refuse = [&](std::error_code ec, std::optional<Bytes> eap_failure = std::nullopt) {
            std::vector<RawPayload> reply;
            if (eap_failure) reply.push_back(RawPayload{PayloadType::eap, false, std::move(*eap_failure)});
            reply.push_back(notify(NotifyType::authentication_failed));
            send_response(ExchangeType::ike_auth, message_id, reply);
            return fail(ec);
        };
        const RawPayload* eap_payload = find(inner, PayloadType::eap);
        if (eap_stage_ == EapStage::none) {
            const RawPayload* id = find(inner, PayloadType::idi);
            if (!id) return refuse(make_error_code(Error::invalid_syntax));
            if (find(inner, PayloadType::auth)) return refuse(make_error_code(Error::eap_required));  // it skipped EAP
            auto idi = decode_id(id->body);
            if (!idi) return refuse(make_error_code(Error::malformed_message));
            if (!config_.remote_id.empty() && !same_identity(config_.remote_id.payload(), *idi))
                return refuse(make_error_code(Error::identity_mismatch));
            if (const RawPayload* idr = find(inner, PayloadType::idr)) {
                auto wanted = decode_id(idr->body);
                if (!wanted || !same_identity(*wanted, local_id_payload_)) return refuse(make_error_code(Error::identity_mismatch));
            }
            auto text = Identification::from_payload(*idi);
            const std::string claimed = text ? text->value : std::string(idi->data.begin(), idi->data.end());
            auto method = config_.eap_server();
            if (!method) return refuse(make_error_code(Error::invalid_configuration));
            eap::Random random = config_.random;  // a copy: the engine may move
            if (!random) random = [](MutableByteView out) { Crypto::random(out); };
            eap_server_.emplace(std::move(method), std::move(random));
            auto first = eap_server_->start(claimed);
            if (!first) return refuse(first.error());
            auto auth = our_auth(init_response_, ni_, keys_.sk_pr, claimed);
            if (!auth) return refuse(auth.error());
            eap_first_request_ = inner;
            eap_initiator_id_ = id->body;
            eap_claimed_identity_ = claimed;
            std::vector<RawPayload> reply{payload(PayloadType::idr, local_id_payload_)};
            add_certificates(reply, false);
            reply.push_back(std::move(*auth));
            reply.push_back(RawPayload{PayloadType::eap, false, std::move(*first)});
            send_response(ExchangeType::ike_auth, message_id, reply);
            eap_stage_ = EapStage::rounds;
            return {};
        }
        if (eap_stage_ == EapStage::rounds) {
            if (!eap_payload) return refuse(make_error_code(Error::invalid_syntax));
            auto step = eap_server_->on_message(eap_payload->body);
            if (!step) {
                auto failure = eap::encode(eap::Packet{eap::Code::failure, 0, 0, {}});
                return refuse(step.error(), std::move(failure));
            }
            if (step->kind == eap::ServerStep::Kind::failure) return refuse(make_error_code(Error::eap_failed), std::move(step->message));
            if (step->kind == eap::ServerStep::Kind::success) {
                eap_msk_ = eap_server_->msk();
                eap_stage_ = EapStage::final_auth;
            }
            send_response(ExchangeType::ike_auth, message_id, {RawPayload{PayloadType::eap, false, std::move(step->message)}});
            return {};
        }
        // final_auth: the initiator's AUTH over the EAP key, then ours and the Child SA.
        const RawPayload* auth = find(inner, PayloadType::auth);
        if (!auth) return refuse(make_error_code(Error::invalid_syntax));
        auto theirs = decode_auth(auth->body);
        if (!theirs) return refuse(make_error_code(Error::malformed_message));
        const SecretBytes expected = eap_auth_value(true, eap_initiator_id_);
        if (theirs->method != AuthMethod::shared_key_mic || !constant_time_equal(expected, theirs->data))
            return refuse(make_error_code(Error::authentication_failed));
        peer_identity_.psk_identity = eap_claimed_identity_;
        peer_identity_.subject = eap_claimed_identity_;
        peer_identity_.authenticated = true;
        psk_peer_ = eap_claimed_identity_;
        if (config_.validate_peer)
            if (auto ec = config_.validate_peer(peer_identity_)) return refuse(ec);
        eap_stage_ = EapStage::done;
        const SecretBytes ours = eap_auth_value(false, local_id_payload_.body());
        std::vector<RawPayload> reply{
            payload(PayloadType::auth, AuthPayload{AuthMethod::shared_key_mic, Bytes(ours.begin(), ours.end())})};
        const std::vector<RawPayload> first = std::move(eap_first_request_);
        return answer_child(first, std::move(reply), message_id, now);
    }

    /// Config::refuse_tfc_padding: ask the peer to send no TFC padding on the Child SA this
    /// message creates (RFC 7296 3.10.1).
    void add_tfc_refusal(std::vector<RawPayload>& payloads) const {
        if (config_.refuse_tfc_padding) payloads.push_back(notify(NotifyType::esp_tfc_padding_not_supported));
    }
    /// RFC 7296 3.10.1: ESP_TFC_PADDING_NOT_SUPPORTED in the exchange that creates a
    /// Child SA means the peer wants no TFC padding on it.
    void note_peer_tfc(const std::vector<RawPayload>& inner) {
        peer_refuses_tfc_ = find_notify(inner, NotifyType::esp_tfc_padding_not_supported).has_value();
    }

    /// The explicit export: KEYMAT into the record's key type, imported by the record.
    std::error_code install_child(std::uint32_t outbound_spi) {
        const esp::ChildSaKeys keys = export_child_sa_keys<Crypto>(suite_.prf, keys_.sk_d, ni_, nr_, child_.cipher, initiator(),
                                                                   child_inbound_spi_, outbound_spi, child_.esn, {},
                                                                   child_.integrity);
        auto layer = Esp::import(keys);
        if (!layer) return layer.error();
        esp_.emplace(std::move(*layer));
        return {};
    }

    void established(Instant now) {
        child_keyed_at_ = last_heard_ = last_sent_ = last_dummy_ = now;
        state_ = State::established;
        retransmit_at_.reset();
        events_.push(EventKind::handshake_complete);
    }

    /// The peer's answer to our rekey: install the new SA, then delete the old one.
    std::error_code on_rekey_response(const std::vector<RawPayload>& inner, Instant now) {
        RekeyState r = std::move(*rekey_);
        rekey_.reset();
        if (auto error = first_error_notify(inner)) {  // the old SA stays; the caller may retry
            key_share_.reset();
            return from_notify(error->type);
        }
        const RawPayload* sa = find(inner, PayloadType::sa);
        const RawPayload* nonce = find(inner, PayloadType::nonce);
        const RawPayload* tsi = find(inner, PayloadType::tsi);
        const RawPayload* tsr = find(inner, PayloadType::tsr);
        if (!sa || !nonce || !tsi || !tsr || nonce->body.size() < 16 || nonce->body.size() > 256)
            return make_error_code(Error::invalid_syntax);
        auto accepted = decode_sa(sa->body);
        auto their_tsi = decode_ts(tsi->body);
        auto their_tsr = decode_ts(tsr->body);
        if (!accepted || !their_tsi || !their_tsr || accepted->proposals.size() != 1 || their_tsi->selectors.empty() ||
            their_tsr->selectors.empty())
            return make_error_code(Error::malformed_message);
        auto ours = select_esp(*accepted);
        if (!ours) return make_error_code(Error::no_proposal_chosen);
        if (!within(their_tsi->selectors.front(), config_.local_ts) || !within(their_tsr->selectors.front(), config_.remote_ts))
            return make_error_code(Error::ts_unacceptable);
        SecretBytes shared;
        if (r.group) {
            const RawPayload* ke = find(inner, PayloadType::ke);
            auto their_ke = ke ? decode_ke(ke->body) : Result<KePayload>(make_error_code(Error::invalid_syntax));
            if (!their_ke || their_ke->group != static_cast<std::uint16_t>(*r.group)) return make_error_code(Error::invalid_ke_payload);
            auto secret = agree(their_ke->data);
            key_share_.reset();
            if (!secret) return secret.error();
            shared = std::move(*secret);
        }
        const esp::ChildSaKeys keys = export_child_sa_keys<Crypto>(suite_.prf, keys_.sk_d, r.nonce, nonce->body, ours->suite.cipher,
                                                                   /*initiator of this exchange*/ true, r.inbound_spi,
                                                                   ours->peer_spi, ours->suite.esn, shared, ours->suite.integrity);
        auto layer = Esp::import(keys);
        if (!layer) return layer.error();
        const std::uint32_t old_inbound = esp_->inbound_spi();
        esp_old_.emplace(std::move(*esp_));
        esp_.emplace(std::move(*layer));
        send_on_old_ = false;  // the responder has installed the new SA before answering
        note_peer_tfc(inner);
        child_inbound_spi_ = r.inbound_spi;
        child_ = ours->suite;
        ts_local_ = their_tsi->selectors.front();
        ts_remote_ = their_tsr->selectors.front();
        ++child_rekeys_;
        child_keyed_at_ = now;
        events_.push(EventKind::key_updated);
        deleting_old_ = true;
        send_request(ExchangeType::informational,
                     {payload(PayloadType::del, DeletePayload{ProtocolId::esp, 4, {spi_bytes(old_inbound)}})}, now);
        return {};
    }

    /// The peer rekeys the IKE SA (RFC 7296 1.3.2, 2.18): new SPIs, a new key exchange,
    /// SKEYSEED = prf(SK_d (old), g^ir (new) | Ni | Nr); the Child SA moves to the new IKE
    /// SA, whose initiator is the peer; the old one answers until the peer deletes it.
    std::error_code on_ike_rekey_request(const std::vector<RawPayload>& inner, const SaPayload& offer, std::uint32_t message_id,
                                         Instant now) {
        const auto refuse = [&](NotifyType why, ByteView data = {}) {
            send_response(ExchangeType::create_child_sa, message_id, {notify(why, data)});
            return std::error_code{};
        };
        if (retired_ || rekey_ || ike_rekey_ || esp_old_ || retransmit_at_) return refuse(NotifyType::temporary_failure);
        const RawPayload* nonce = find(inner, PayloadType::nonce);
        const RawPayload* ke = find(inner, PayloadType::ke);
        if (!nonce || !ke || nonce->body.size() < 16 || nonce->body.size() > 256) return refuse(NotifyType::invalid_syntax);
        auto their_ke = decode_ke(ke->body);
        if (!their_ke) return refuse(NotifyType::invalid_syntax);
        std::optional<IkeSuite> chosen;
        const Proposal* accepted = nullptr;
        for (const auto& p : offer.proposals)
            if (auto s = select_ike(p, their_ke->group, 8)) {
                chosen = s;
                accepted = &p;
                break;
            }
        if (!chosen) return refuse(NotifyType::no_proposal_chosen);
        if (their_ke->group != static_cast<std::uint16_t>(chosen->group)) {
            const std::uint16_t g = static_cast<std::uint16_t>(chosen->group);
            const std::array<std::uint8_t, 2> hint{static_cast<std::uint8_t>(g >> 8), static_cast<std::uint8_t>(g)};
            return refuse(NotifyType::invalid_ke_payload, hint);
        }
        const IkeSuite previous = suite_;
        suite_ = *chosen;  // our_public() and agree() speak the new group
        auto kex = new_key_share(chosen->group);
        auto shared = kex ? Result<SecretBytes>(kex) : agree(their_ke->data);
        const Bytes ours = shared ? our_public() : Bytes{};
        key_share_.reset();
        if (!shared) {
            suite_ = previous;
            return refuse(NotifyType::invalid_syntax);
        }
        std::uint64_t new_spi_i = 0;
        for (auto b : accepted->spi) new_spi_i = new_spi_i << 8 | b;
        const std::uint64_t new_spi_r = random_spi64();
        Bytes nr(nonce_size);
        draw_random<Crypto>(config_, nr);
        Proposal reply;
        reply.number = accepted->number;
        reply.protocol = ProtocolId::ike;
        put64(reply.spi, new_spi_r);
        reply.transforms = {encr_transform(chosen->cipher), {TransformType::prf, static_cast<std::uint16_t>(chosen->prf), std::nullopt},
                            {TransformType::dh, static_cast<std::uint16_t>(chosen->group), std::nullopt}};
        if (chosen->integrity != esp::Integrity::none) reply.transforms.push_back(integ_transform(chosen->integrity));
        suite_ = previous;  // the answer goes out under the old IKE SA
        send_response(ExchangeType::create_child_sa, message_id,
                      {payload(PayloadType::sa, SaPayload{{reply}}), nonce_payload(nr),
                       payload(PayloadType::ke, KePayload{static_cast<std::uint16_t>(chosen->group), ours})});
        // SKEYSEED = prf(SK_d (old), g^ir (new) | Ni | Nr), then the seven keys with the new SPIs.
        Bytes seed_input(shared->begin(), shared->end());
        append(seed_input, nonce->body);
        append(seed_input, nr);
        const SecretBytes seed = prf<Crypto>(suite_.prf, keys_.sk_d, seed_input);
        secure_zero(seed_input.data(), seed_input.size());
        retired_.emplace(Retired{spi_i_, spi_r_, std::move(*in_cipher_), std::move(*out_cipher_), ike_initiator_,
                                 expected_peer_id_, last_response_, last_response_id_});
        suite_ = *chosen;
        spi_i_ = new_spi_i;
        spi_r_ = new_spi_r;
        ike_initiator_ = false;  // the peer initiated the new IKE SA
        if (auto ec = key_ike_sa(seed, nonce->body, nr)) return fail(ec);
        next_request_id_ = pending_request_id_ = expected_peer_id_ = last_response_id_ = 0;
        last_response_.clear();
        last_request_.clear();
        requests_in_.clear();
        responses_in_.clear();
        ++ike_rekeys_;
        events_.push(EventKind::key_updated);
        (void)now;
        return {};
    }

    /// The answer to our IKE SA rekey: switch to the new IKE SA, delete the old one.
    std::error_code on_ike_rekey_response(const std::vector<RawPayload>& inner, Instant now) {
        IkeRekeyState r = std::move(*ike_rekey_);
        ike_rekey_.reset();
        if (auto error = first_error_notify(inner)) {
            key_share_.reset();
            return from_notify(error->type);
        }
        const RawPayload* sa = find(inner, PayloadType::sa);
        const RawPayload* nonce = find(inner, PayloadType::nonce);
        const RawPayload* ke = find(inner, PayloadType::ke);
        if (!sa || !nonce || !ke || nonce->body.size() < 16 || nonce->body.size() > 256) return make_error_code(Error::invalid_syntax);
        auto accepted = decode_sa(sa->body);
        auto their_ke = decode_ke(ke->body);
        if (!accepted || !their_ke || accepted->proposals.size() != 1) return make_error_code(Error::malformed_message);
        auto s = select_ike(accepted->proposals.front(), their_ke->group, 8);
        if (!s || s->group != suite_.group || their_ke->group != static_cast<std::uint16_t>(suite_.group))
            return make_error_code(Error::no_proposal_chosen);
        auto shared = agree(their_ke->data);
        key_share_.reset();
        if (!shared) return shared.error();
        std::uint64_t new_spi_r = 0;
        for (auto b : accepted->proposals.front().spi) new_spi_r = new_spi_r << 8 | b;
        Bytes seed_input(shared->begin(), shared->end());
        append(seed_input, r.nonce);
        append(seed_input, nonce->body);
        const SecretBytes seed = prf<Crypto>(suite_.prf, keys_.sk_d, seed_input);
        secure_zero(seed_input.data(), seed_input.size());
        // Retire the old IKE SA and delete it under its own keys (sent once, not retransmitted).
        Retired old{spi_i_, spi_r_, std::move(*in_cipher_), std::move(*out_cipher_), ike_initiator_, expected_peer_id_,
                    last_response_, last_response_id_};
        const Bytes delete_old = old.out.seal(header(ExchangeType::informational, next_request_id_, false),
                                              {payload(PayloadType::del, DeletePayload{ProtocolId::ike, 0, {}})});
        retired_.emplace(std::move(old));
        suite_.cipher = s->cipher;
        suite_.integrity = s->integrity;
        spi_i_ = r.spi_i;
        spi_r_ = new_spi_r;
        ike_initiator_ = true;
        if (auto ec = key_ike_sa(seed, r.nonce, nonce->body)) return fail(ec);
        next_request_id_ = pending_request_id_ = expected_peer_id_ = last_response_id_ = 0;
        last_response_.clear();
        last_request_.clear();
        requests_in_.clear();
        responses_in_.clear();
        queue(delete_old);
        ++ike_rekeys_;
        events_.push(EventKind::key_updated);
        (void)now;
        return {};
    }

    /// A message on the IKE SA a rekey replaced: the peer's D(IKE) (or another
    /// informational) is answered under the old keys; the tunnel stays up.
    std::error_code on_retired(ByteView data, const Message& m, const Endpoint& from, Instant now, bool marker) {
        Retired& old = *retired_;
        const Header& h = m.header;
        if (h.from_initiator() == old.ike_initiator) return make_error_code(Error::unexpected_message);
        auto inner = old.in.open(data, m);
        if (!inner) return inner.error();
        follow_peer(from, marker, now);
        if (h.is_response()) {  // the answer to our D(IKE) of the old SA
            if (h.exchange == ExchangeType::informational) retired_.reset();
            return {};
        }
        Header reply_header;
        reply_header.spi_i = old.spi_i;
        reply_header.spi_r = old.spi_r;
        reply_header.exchange = h.exchange;
        reply_header.message_id = h.message_id;
        reply_header.flags = static_cast<std::uint8_t>((old.ike_initiator ? flags::initiator : 0) | flags::response);
        if (h.message_id + 1 == old.expected_peer_id && h.message_id == old.last_response_id && !old.last_response.empty()) {
            queue(old.last_response);
            return {};
        }
        if (h.message_id != old.expected_peer_id) return make_error_code(Error::unexpected_message);
        bool delete_ike = false;
        for (const auto& p : *inner)
            if (p.type == PayloadType::del)
                if (auto d = decode_delete(p.body); d && d->protocol == ProtocolId::ike) delete_ike = true;
        std::vector<RawPayload> none;
        if (h.exchange != ExchangeType::informational) none.push_back(notify(NotifyType::temporary_failure));
        old.last_response = {old.out.seal(reply_header, none)};
        old.last_response_id = h.message_id;
        ++old.expected_peer_id;
        queue(old.last_response);
        if (delete_ike) retired_.reset();  // the old IKE SA is gone; the Child SA lives on under the new one
        return {};
    }

    /// CREATE_CHILD_SA from the peer (RFC 7296 1.3.3): rekeying the Child SA, with or
    /// without PFS, is answered; a new Child SA or an IKE SA rekey is refused.
    std::error_code on_create_child_sa_request(const std::vector<RawPayload>& inner, std::uint32_t message_id, Instant now) {
        const auto refuse = [&](NotifyType why, ByteView data = {}) {
            send_response(ExchangeType::create_child_sa, message_id, {notify(why, data)});
            return std::error_code{};
        };
        if (!find_notify(inner, NotifyType::rekey_sa))
            if (const RawPayload* sa = find(inner, PayloadType::sa))
                if (auto offer = decode_sa(sa->body); offer && offer->proposals.front().protocol == ProtocolId::ike)
                    return on_ike_rekey_request(inner, *offer, message_id, now);
        auto rekey = find_notify(inner, NotifyType::rekey_sa);
        if (!esp_ || !rekey || rekey->protocol != ProtocolId::esp || rekey->spi.size() != 4 ||
            spi_value(rekey->spi) != esp_->outbound_spi())
            return refuse(esp_ && rekey ? NotifyType::child_sa_not_found : NotifyType::no_additional_sas);
        if (esp_old_) return refuse(NotifyType::temporary_failure);  // the previous rekey is not finished
        const RawPayload* sa = find(inner, PayloadType::sa);
        const RawPayload* nonce = find(inner, PayloadType::nonce);
        const RawPayload* tsi = find(inner, PayloadType::tsi);
        const RawPayload* tsr = find(inner, PayloadType::tsr);
        if (!sa || !nonce || !tsi || !tsr || nonce->body.size() < 16 || nonce->body.size() > 256)
            return refuse(NotifyType::invalid_syntax);
        auto offer = decode_sa(sa->body);
        auto their_tsi = decode_ts(tsi->body);
        auto their_tsr = decode_ts(tsr->body);
        if (!offer || !their_tsi || !their_tsr) return refuse(NotifyType::invalid_syntax);
        const std::uint32_t previous_inbound = child_inbound_spi_;
        child_inbound_spi_ = random_spi32();
        auto chosen = select_esp(*offer);
        if (!chosen) {
            child_inbound_spi_ = previous_inbound;
            return refuse(NotifyType::no_proposal_chosen);
        }
        auto narrowed_i = narrow(their_tsi->selectors, remote_policy_);
        auto narrowed_r = narrow(their_tsr->selectors, local_policy_);
        if (!narrowed_i || !narrowed_r) {
            child_inbound_spi_ = previous_inbound;
            return refuse(NotifyType::ts_unacceptable);
        }
        // PFS: a DH transform other than NONE in the accepted proposal needs a KE of that group.
        std::vector<RawPayload> reply;
        SecretBytes shared;
        Bytes nr(nonce_size);
        draw_random<Crypto>(config_, nr);
        std::optional<Group> pfs;
        for (const auto& t : chosen->reply.transforms)
            if (t.type == TransformType::dh && t.id != 0) {
                for (auto g : config_.groups)
                    if (static_cast<std::uint16_t>(g) == t.id) pfs = g;
                if (!pfs) {
                    child_inbound_spi_ = previous_inbound;
                    return refuse(NotifyType::no_proposal_chosen);
                }
            }
        if (pfs) {
            const RawPayload* ke = find(inner, PayloadType::ke);
            auto their_ke = ke ? decode_ke(ke->body) : Result<KePayload>(make_error_code(Error::invalid_syntax));
            if (!their_ke || their_ke->group != static_cast<std::uint16_t>(*pfs)) {
                child_inbound_spi_ = previous_inbound;
                const std::uint16_t g = static_cast<std::uint16_t>(*pfs);
                const std::array<std::uint8_t, 2> hint{static_cast<std::uint8_t>(g >> 8), static_cast<std::uint8_t>(g)};
                return refuse(NotifyType::invalid_ke_payload, hint);
            }
            const Group ike_group = suite_.group;
            suite_.group = *pfs;  // our_public() and agree() speak the KE's group
            auto kex = new_key_share(*pfs);
            auto secret = kex ? Result<SecretBytes>(kex) : agree(their_ke->data);
            const Bytes ours = secret ? our_public() : Bytes{};
            suite_.group = ike_group;
            key_share_.reset();
            if (!secret) {
                child_inbound_spi_ = previous_inbound;
                return refuse(NotifyType::invalid_syntax);
            }
            shared = std::move(*secret);
            reply.push_back(payload(PayloadType::sa, SaPayload{{chosen->reply}}));
            reply.push_back(nonce_payload(nr));
            reply.push_back(payload(PayloadType::ke, KePayload{static_cast<std::uint16_t>(*pfs), ours}));
        } else {
            reply.push_back(payload(PayloadType::sa, SaPayload{{chosen->reply}}));
            reply.push_back(nonce_payload(nr));
        }
        const esp::ChildSaKeys keys = export_child_sa_keys<Crypto>(suite_.prf, keys_.sk_d, nonce->body, nr, chosen->suite.cipher,
                                                                   /*initiator of this exchange*/ false, child_inbound_spi_,
                                                                   chosen->peer_spi, chosen->suite.esn, shared, chosen->suite.integrity);
        auto layer = Esp::import(keys);
        if (!layer) {
            child_inbound_spi_ = previous_inbound;
            return refuse(NotifyType::temporary_failure);
        }
        reply.push_back(payload(PayloadType::tsi, TsPayload{{*narrowed_i}}));
        reply.push_back(payload(PayloadType::tsr, TsPayload{{*narrowed_r}}));
        add_tfc_refusal(reply);
        send_response(ExchangeType::create_child_sa, message_id, reply);
        // The old SA keeps receiving, and sending until the peer uses the new one (2.8).
        esp_old_.emplace(std::move(*esp_));
        esp_.emplace(std::move(*layer));
        send_on_old_ = true;
        note_peer_tfc(inner);  // (until the peer uses the new SA, the old one's rule is this one)
        child_ = chosen->suite;
        ts_remote_ = *narrowed_i;
        ts_local_ = *narrowed_r;
        ++child_rekeys_;
        child_keyed_at_ = now;
        events_.push(EventKind::key_updated);
        return {};
    }

    std::error_code on_informational_request(const std::vector<RawPayload>& inner, std::uint32_t message_id, Instant) {
        std::vector<RawPayload> reply;
        bool delete_ike = false;
        for (const auto& p : inner) {
            if (p.type != PayloadType::del) continue;
            auto d = decode_delete(p.body);
            if (!d) {
                send_response(ExchangeType::informational, message_id, {notify(NotifyType::invalid_syntax)});
                return d.error();
            }
            if (d->protocol == ProtocolId::ike) delete_ike = true;
            if (d->protocol == ProtocolId::esp && esp_old_)
                for (const auto& spi : d->spis)
                    if (spi_value(spi) == esp_old_->outbound_spi()) {  // the rekeyed SA: the tunnel stays
                        reply.push_back(payload(PayloadType::del, DeletePayload{ProtocolId::esp, 4, {spi_bytes(esp_old_->inbound_spi())}}));
                        esp_old_.reset();
                        send_on_old_ = false;
                    }
            if (d->protocol == ProtocolId::esp && esp_)
                for (const auto& spi : d->spis)
                    if (spi_value(spi) == esp_->outbound_spi()) {
                        reply.push_back(payload(PayloadType::del, DeletePayload{ProtocolId::esp, 4, {spi_bytes(esp_->inbound_spi())}}));
                        esp_.reset();
                    }
        }
        if (delete_ike) reply.clear();  // the answer to D(IKE) is empty (RFC 7296 1.4.1)
        // MOBIKE: the peer moved (follow_peer() took its new address from this authentic
        // request); answer with NAT-D, and echo a return-routability COOKIE2 (RFC 4555 3.5, 4.4).
        if (!delete_ike && peer_mobike_) {
            if (find_notify(inner, NotifyType::update_sa_addresses)) add_nat_detection(reply);
            if (auto cookie2 = find_notify(inner, NotifyType::cookie2)) reply.push_back(notify(NotifyType::cookie2, cookie2->data));
        }
        send_response(ExchangeType::informational, message_id, reply);
        if (find_notify(inner, NotifyType::authentication_failed))  // the initiator refused our AUTH (2.21.2)
            return fail(make_error_code(Error::authentication_failed));
        if (delete_ike || !esp_) {
            // The tunnel is gone (the IKE SA, or its only Child SA): a clean close.
            state_ = State::closed;
            retransmit_at_.reset();
            events_.push(EventKind::peer_closed, make_error_code(Error::deleted));
        }
        return {};
    }

    std::error_code on_esp(ByteView datagram, Instant now) {
        if (!esp_) return make_error_code(esp::Error::not_keyed);
        const auto spi = esp::spi_of(datagram);
        // SPI demultiplexing: the current Child SA, or the one it rekeyed until deleted.
        Esp* sa = spi && *spi == esp_->inbound_spi() ? &*esp_
                  : spi && esp_old_ && *spi == esp_old_->inbound_spi() ? &*esp_old_
                                                                        : nullptr;
        if (!sa) return make_error_code(esp::Error::unknown_spi);
        // Opened even when the application has let the queue fill, so that the replay
        // window and statistics stay exact; the packet is then dropped as an overflow.
        Bytes* slot = &inbound_.target();
        slot->assign(datagram.begin(), datagram.end());  // capacity reused after warm-up
        auto opened = sa->unprotect(MutableByteView(*slot));
        if (!opened) return opened.error();
        if (sa == &*esp_) send_on_old_ = false;  // the peer uses the new SA: so do we (2.8)
        if (opened->next_header == esp::next_header_dummy) {  // RFC 4303 2.6: discarded, only counted
            ++stats_.esp_dummy_received;
            return {};
        }
        // The next header names the inner packet's version (RFC 4303 2.7: 4 IPv4, 41 IPv6);
        // a packet that is not what it names is refused, never guessed at.
        std::optional<IpPacket> ip;
        if (opened->next_header == esp::next_header_ipv4) ip = inspect_ipv4(opened->payload);
        else if (opened->next_header == esp::next_header_ipv6) ip = inspect_ipv6(opened->payload);
        if (!ip) return make_error_code(Error::not_an_ip_packet);
        // RFC 4301 5.2: the inner packet must match the SA's selectors.
        if (!covers(ts_remote_, ip->family, ip->source, ip->protocol, ip->source_port) ||
            !covers(ts_local_, ip->family, ip->destination, ip->protocol, ip->destination_port))
            return make_error_code(Error::inner_packet_rejected);
        const std::size_t offset = static_cast<std::size_t>(opened->payload.data() - slot->data());
        std::memmove(slot->data(), slot->data() + offset, ip->length);  // drop TFC padding too
        slot->resize(ip->length);
        if (!inbound_.commit()) return make_error_code(Errc::record_overflow);
        ++stats_.esp_received;
        last_heard_ = now;
        (void)now;
        return {};
    }

    static std::error_code from_notify(NotifyType t) {
        switch (t) {
            case NotifyType::no_proposal_chosen: return make_error_code(Error::no_proposal_chosen);
            case NotifyType::invalid_ke_payload: return make_error_code(Error::invalid_ke_payload);
            case NotifyType::authentication_failed: return make_error_code(Error::authentication_failed);
            case NotifyType::ts_unacceptable: return make_error_code(Error::ts_unacceptable);
            case NotifyType::invalid_syntax: return make_error_code(Error::invalid_syntax);
            case NotifyType::unsupported_critical_payload: return make_error_code(Error::unsupported_critical_payload);
            case NotifyType::internal_address_failure: return make_error_code(Error::internal_address_failure);
            default: return make_error_code(Error::peer_error_notify);
        }
    }

    void drop(std::error_code reason, Instant now) {
        ++stats_.dropped;
        events_.note_drop(reason, now);
    }
    std::error_code fail(std::error_code ec) {
        if (!fatal_) fatal_ = ec;
        state_ = State::failed;
        retransmit_at_.reset();
        return ec;
    }

    Role role_;
    Config config_;
    std::error_code setup_error_, fatal_;
    State state_ = State::idle;

    // IKE SA
    std::uint64_t spi_i_ = 0, spi_r_ = 0;
    Bytes ni_, nr_;
    IkeSuite suite_;
    std::optional<typename Crypto::KeyShare> key_share_;
    Bytes init_request_, init_response_;  // the signed octets' messages, as sent
    IkeSaKeys keys_;
    std::optional<SkCipher<Crypto>> out_cipher_, in_cipher_;
    Bytes cookie_;                        // initiator: the responder's cookie
    std::array<std::uint8_t, 32> cookie_secret_{};
    unsigned cookie_rounds_ = 0, ke_rounds_ = 0;
    PeerIdentity peer_identity_;
    // RFC 5723 session resumption
    bool resumption_ = false;    // this IKE SA resumes a ticket's (IKE_SESSION_RESUME)
    IdPayload resumed_peer_id_;  // the peer's ID as the ticket names it
    AuthMethod resumed_auth_method_ = AuthMethod::shared_key_mic;  // responder: the ticket's original method
    std::optional<Ticket> ticket_;  // initiator: the ticket the responder issued
    std::uint64_t tickets_issued_ = 0;
    std::string psk_peer_;  // the peer's identity as a PSK lookup key
    // EAP (one side's session, the MSK, what the final AUTH exchange needs)
    enum class EapStage { none, awaiting_responder, rounds, final_auth, done };
    EapStage eap_stage_ = EapStage::none;
    std::optional<eap::PeerSession> eap_peer_;
    std::optional<eap::ServerSession> eap_server_;
    std::optional<SecretBytes> eap_msk_;
    Bytes eap_responder_id_, eap_initiator_id_;  // ID payload bodies as sent (the AUTHs cover them)
    std::string eap_claimed_identity_;
    std::vector<RawPayload> eap_first_request_;  // its SA and TS are answered after EAP
    // authentication: our ID payload, chain (DER, leaf first), key and scheme; CERTREQ
    // hashes of our CAs; the hash algorithms the peer announced (RFC 7427 4)
    IdPayload local_id_payload_;
    std::vector<Bytes> local_chain_der_;
    std::shared_ptr<const typename detail::SigningKey<Crypto>::type> local_key_;  // in Config::parsed_credentials
    crypto::SignatureScheme local_scheme_{};
    Bytes certreq_hashes_;
    std::vector<std::uint16_t> peer_hashes_;
    std::optional<Endpoint> peer_;
    bool peer_marker_ = true;  // frame IKE messages with the non-ESP marker (the peer's framing)

    // exchanges (window size 1 each way)
    std::uint32_t next_request_id_ = 0, pending_request_id_ = 0, expected_peer_id_ = 0, last_response_id_ = 0;
    std::vector<Bytes> last_request_, last_response_;  // as sent: one datagram or its fragments
    bool fragmentation_ = false;  // both sides sent IKEV2_FRAGMENTATION_SUPPORTED (RFC 7383 2.3)
    FragmentReassembly requests_in_, responses_in_;  // the peer's fragmented request / response
    std::optional<Instant> retransmit_at_;
    unsigned retransmits_done_ = 0;

    // Child SA
    ChildSuite child_;
    std::uint32_t child_inbound_spi_ = 0;
    TrafficSelector ts_local_, ts_remote_;
    // What our selectors must lie within: the configured ones, narrowed by a CP exchange
    // to the initiator's assigned address (RFC 7296 2.19) for later CREATE_CHILD_SAs.
    TrafficSelector local_policy_ = config_.local_ts, remote_policy_ = config_.remote_ts;
    AddressLease lease_;  // responder: the address given from Config::address_pool
    std::optional<std::array<std::uint8_t, 4>> assigned_ip4_;
    std::optional<Bytes> assigned_ip6_;
    std::vector<std::array<std::uint8_t, 4>> assigned_dns_;
    Bytes dummy_payload_;
    Instant last_dummy_{};
    std::optional<Esp> esp_;
    std::optional<Esp> esp_old_;  // the Child SA a rekey replaced, kept for inbound until deleted
    bool ike_initiator_ = false;  // the original initiator of the current IKE SA (flips with a peer's rekey)
    struct Retired {
        std::uint64_t spi_i, spi_r;
        SkCipher<Crypto> in, out;
        bool ike_initiator;
        std::uint32_t expected_peer_id;
        std::vector<Bytes> last_response;
        std::uint32_t last_response_id;
    };
    std::optional<Retired> retired_;  // the IKE SA a rekey replaced, until it is deleted
    struct IkeRekeyState {
        std::uint64_t spi_i = 0;
        Bytes nonce;
    };
    std::optional<IkeRekeyState> ike_rekey_;  // our IKE SA rekey, awaiting its answer
    std::uint64_t ike_rekeys_ = 0;
    bool peer_mobike_ = false;  // both sides announced MOBIKE_SUPPORTED
    bool peer_refuses_tfc_ = false;  // the peer sent ESP_TFC_PADDING_NOT_SUPPORTED for the current Child SA
    std::uint64_t address_updates_ = 0;
    Instant child_keyed_at_{}, last_heard_{}, last_sent_{};  // Child SA lifetime; liveness; NAT keepalives
    struct RekeyState {
        std::uint32_t inbound_spi = 0;
        Bytes nonce;
        std::optional<Group> group;  // PFS
    };
    std::optional<RekeyState> rekey_;  // our CREATE_CHILD_SA, awaiting its answer
    bool deleting_old_ = false;        // our D(ESP) of the rekeyed SA, awaiting its answer
    bool send_on_old_ = false;
    std::uint64_t child_rekeys_ = 0;

    DatagramOutbox transmits_;
    PlaintextInbox inbound_;
    EventQueue events_;
    Statistics stats_;
};

}  // namespace tapsec::ikev2
