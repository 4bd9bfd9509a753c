// The ZRTP engine (RFC 6189, DH mode): discovery (Hello/HelloACK), Commit with its
// hash commitment and contention, DHPart1/DHPart2, Confirm1/Confirm2/Conf2ACK, the
// hash chain that authenticates each message once the next image is revealed, and
// T1/T2 retransmission. It then keys the record policy's SRTP layer with the ZRTP KDF
// outputs and multiplexes ZRTP with SRTP/SRTCP on one flow (RFC 7983).
//
// Sans-I/O: datagrams and the time come in, datagrams go out. A packet that fails a
// check is dropped, counted under its reason and reported (dropped_packet with a
// zrtp::Error); the exchange only fails on the peer's Error message, a Hello we cannot
// work with (our own ZID, nothing in common), a Commit choosing what we did not offer,
// exhausted retransmissions, or the application's validate_peer.
#pragma once

#include <algorithm>
#include <array>
#include <deque>
#include <optional>
#include <string>

#include "../core/config.hpp"
#include "../core/engine.hpp"
#include "../core/errors.hpp"
#include "../crypto/provider.hpp"
#include "../srtp/keys.hpp"
#include "../srtp/profiles.hpp"
#include "../srtp/rtp.hpp"
#include "config.hpp"
#include "errors.hpp"
#include "kdf.hpp"
#include "retained.hpp"
#include "wire.hpp"

namespace tapsec::zrtp {

// ---- the one place this engine touches SRTP --------------------------------------------
// ZRTP reaches the record only through the interface the record declares
// (srtp::MediaLayer: import of srtp::MasterKeys, protect / unprotect in place), the same
// one DTLS-SRTP keys: the record does not know which handshake keyed it.
template <class Record, class Crypto>
using RecordLayer = typename Record::template layer<Crypto>;

/// RFC 6189 5.1.4: the SRTP auth tag type picks the SRTP protection profile (AES1 keys AES-CM-128).
inline srtp::Profile srtp_profile_for(AlgorithmCode auth_tag) {
    return auth_tag == algo::hs32 ? srtp::Profile::aes_cm_128_hmac_sha1_32 : srtp::Profile::aes_cm_128_hmac_sha1_80;
}

/// The algorithms of one exchange (hash S256 and cipher AES1 are implied).
struct Suite {
    AlgorithmCode auth_tag = algo::hs80, key_agreement = algo::x255, sas = algo::b32;
};

/// Which end of the exchange this engine turned out to be (decided by Commit, not by Role).
enum class ZrtpRole { undecided, initiator, responder };

/// Bytes of a key agreement's public value in DHPart (RFC 6189 5.1.5; X25519 32, P-256 x||y 64).
inline std::size_t public_value_size(AlgorithmCode ka) { return ka == algo::ec25 ? 64 : ka == algo::x255 ? 32 : 0; }

/// Relative cost, for RFC 6189 4.1.2's "choose the faster" rule.
inline int key_agreement_cost(AlgorithmCode ka) { return ka == algo::x255 ? 1 : ka == algo::ec25 ? 2 : 9; }

/// What the engine sent, received, repeated and dropped (per reason: Engine::drops(Error)).
struct Statistics {
    std::uint64_t packets_received = 0, packets_sent = 0, retransmissions = 0, dropped = 0;
};

template <class Record, class Crypto>
class Engine {
    using Layer = RecordLayer<Record, Crypto>;
    static_assert(srtp::MediaLayer<Layer>, "tapsec: Record::layer<Crypto> lacks the SRTP record interface");
    using KeyShare = typename Crypto::KeyShare;

public:
    Engine(Role role, const Config& config) : config_(config) {
        if (auto ec = resolve(config_)) {
            failure_ = ec;
            stage_ = Stage::failed;
            return;
        }
        commits_ = config_.commit.value_or(role == Role::client);
        SecretArray<32> h0;
        draw_random<Crypto>(config_, h0);
        chain_ = HashChain::from<Crypto>(h0);
        if (config_.zid) zid_ = *config_.zid;
        else draw_random<Crypto>(config_, zid_);
        std::array<std::uint8_t, 6> r{};
        draw_random<Crypto>(config_, r);
        ssrc_ = config_.ssrc.value_or(std::uint32_t{r[0]} << 24 | std::uint32_t{r[1]} << 16 | std::uint32_t{r[2]} << 8 | r[3]);
        // bzrtp (and the RFC's "incremented for each packet") need room to count up: start low.
        next_sequence_ = static_cast<std::uint16_t>(1 + ((std::uint16_t{r[4]} << 8 | r[5]) & 0x3fff));
        hello_ = build_hello();
    }

    // ---- SansIoEngine --------------------------------------------------------------------

    std::error_code start(Instant now) {
        if (failure_) return failure_;
        if (stage_ != Stage::idle) return {};
        now_ = now;
        stage_ = Stage::discovery;
        transmit(hello_);
        arm(hello_timer_, now, config_.timers.t1_initial);
        return {};
    }

    std::error_code receive(ByteView in, const Endpoint&, Instant now) {
        if (stage_ == Stage::failed) return failure_;
        now_ = now;
        if (looks_like_zrtp(in)) return receive_zrtp(in, now);
        switch (srtp::classify(in)) {
            case srtp::PacketKind::rtp:
            case srtp::PacketKind::rtcp: return receive_media(in);
            default: return drop(Error::not_zrtp);
        }
    }

    std::optional<Transmit> poll_transmit() {
        if (outgoing_.empty()) return std::nullopt;
        Transmit t{std::move(outgoing_.front()), std::nullopt};
        outgoing_.pop_front();
        return t;
    }
    std::optional<TransmitInfo> poll_transmit(MutableByteView out) {
        if (outgoing_.empty() || out.size() < outgoing_.front().size()) return std::nullopt;
        const std::size_t n = outgoing_.front().size();
        std::copy_n(outgoing_.front().begin(), n, out.begin());
        outgoing_.pop_front();
        return TransmitInfo{n, std::nullopt};
    }
    /// Unprotected RTP / RTCP packets from the peer.
    std::optional<Bytes> poll_application_data() {
        if (media_.empty()) return std::nullopt;
        Bytes b = std::move(media_.front());
        media_.pop_front();
        return b;
    }
    /// The same packets as views valid until the next call on the engine (Core v2).
    std::optional<ByteView> poll_plaintext() {
        if (media_.empty()) return std::nullopt;
        plaintext_ = std::move(media_.front());
        media_.pop_front();
        return ByteView(plaintext_);
    }
    std::optional<Event> poll_event() {
        if (events_.empty()) return std::nullopt;
        Event e = std::move(events_.front());
        events_.pop_front();
        return e;
    }

    /// Protects one RTP or RTCP packet (RFC 5761 muxing) and queues it as a datagram.
    [[nodiscard]] std::error_code send(ByteView packet, Instant) {
        if (closed_) return make_error_code(Errc::closed);  // the media stopped with close()
        if (stage_ != Stage::secure || !layer_) return make_error_code(Error::not_keyed);
        const auto kind = srtp::classify(packet);
        if (kind != srtp::PacketKind::rtp && kind != srtp::PacketKind::rtcp) return make_error_code(Error::not_rtp_or_rtcp);
        Bytes out(packet.size() + srtp::max_overhead);
        std::copy(packet.begin(), packet.end(), out.begin());
        auto n = layer_->protect(MutableByteView(out), packet.size());
        if (!n) return n.error();
        out.resize(*n);
        outgoing_.push_back(std::move(out));
        return {};
    }

    std::optional<Instant> next_timeout() const {
        std::optional<Instant> t = hello_timer_.deadline;
        if (message_timer_.deadline && (!t || *message_timer_.deadline < *t)) t = message_timer_.deadline;
        return t;
    }

    std::error_code on_timeout(Instant now) {
        if (stage_ == Stage::failed) return failure_;
        now_ = now;
        if (hello_timer_.deadline && *hello_timer_.deadline <= now) {
            if (hello_timer_.retransmissions >= config_.timers.t1_max_retransmissions) {
                hello_timer_.deadline.reset();
                // No answer to any Hello: the peer does not speak ZRTP (or is unreachable).
                if (!peer_hello_) return fail(Error::handshake_timeout);
            } else {
                ++hello_timer_.retransmissions;
                ++stats_.retransmissions;
                transmit(hello_);
                rearm(hello_timer_, now, config_.timers.t1_cap);
            }
        }
        if (message_timer_.deadline && *message_timer_.deadline <= now) {
            if (message_timer_.retransmissions >= config_.timers.t2_max_retransmissions) {
                message_timer_.deadline.reset();
                send_error(ErrorCode::protocol_timeout);
                return fail(Error::handshake_timeout);
            }
            ++message_timer_.retransmissions;
            ++stats_.retransmissions;
            transmit(pending_message());
            rearm(message_timer_, now, config_.timers.t2_cap);
        }
        return {};
    }

    /// ZRTP has no authenticated close of its own: the media simply stops (RFC 6189 has
    /// GoClear, which this implementation refuses). Closing stops the timers.
    std::error_code close(Instant) {
        closed_ = true;
        hello_timer_.deadline.reset();
        message_timer_.deadline.reset();
        return {};
    }

    bool is_established() const { return stage_ == Stage::secure && layer_.has_value(); }
    bool is_closed() const { return closed_ || stage_ == Stage::failed; }

    SessionInfo session_info() const {
        SessionInfo info;
        info.protocol = "ZRTP";
        if (layer_) info.protocol += " + SRTP " + std::string(srtp::parameters(srtp_profile_for(suite_.auth_tag)).name);
        if (stage_ == Stage::secure || layer_) {
            info.cipher_suite = "S256/AES1/" + algorithm_name(suite_.auth_tag) + "/" + algorithm_name(suite_.sas);
            info.group = algorithm_name(suite_.key_agreement);
        }
        if (peer_hello_) info.peer.subject = "ZID " + to_hex(peer_hello_->zid);
        info.peer.authenticated = sas_verified_;
        return info;
    }

    /// 6.3 keying-material export: KDF(ExportedKey, label, KDF_Context, L) (RFC 6189 4.5.2),
    /// as bzrtp_exportKey computes it. ZRTP's KDF context is fixed, so `context` must be empty.
    Result<SecretBytes> export_keying_material(std::string_view label, ByteView context, std::size_t length) const {
        if (!keys_ || stage_ != Stage::secure) return std::error_code(make_error_code(Error::not_keyed));
        if (!context.empty() || length == 0 || length > hash_length)
            return std::error_code(make_error_code(Error::invalid_configuration));
        return kdf<Crypto>(keys_->exported_key, label, keys_->kdf_context, length);
    }

    // ---- the SAS and what ZRTP negotiated -----------------------------------------------

    /// The SAS, once known. The application shows it; the users compare it aloud.
    const std::optional<Sas>& sas() const { return sas_; }
    /// The users confirmed that the SAS matched: the peer is now authenticated (MA).
    void sas_verified() {
        if (!sas_) return;
        sas_verified_ = true;
        if (stored_) {  // remember it for the next exchange's V flag
            stored_->verified = true;
            config_.session_cache->store(retained_cache_key(zid_, peer_hello_->zid), stored_->encode());
        }
    }
    /// Retained secrets (key continuity): whether this exchange used one the peer also had,
    /// whether we had one that the peer did not match (a possible MiTM: verify the SAS),
    /// and whether both ends had verified the SAS before (both Confirms carried V).
    bool retained_secret_matched() const { return cache_match_; }
    bool cache_mismatch() const { return cache_mismatch_; }
    bool sas_previously_verified() const {
        return cache_match_ && retained_ && retained_->verified && peer_confirm_ && peer_confirm_->sas_verified;
    }
    bool is_sas_verified() const { return sas_verified_; }
    ZrtpRole zrtp_role() const { return zrtp_role_; }
    const Suite& suite() const { return suite_; }
    const Zid& zid() const { return zid_; }
    std::optional<Zid> peer_zid() const { return peer_hello_ ? std::optional<Zid>(peer_hello_->zid) : std::nullopt; }
    /// The keys this exchange exported to SRTP (initiator's = client_write), for tests and tools.
    std::optional<srtp::MasterKeys> exported_keys() const { return keys_ && sas_ ? std::optional(master_keys()) : std::nullopt; }
    std::optional<std::uint32_t> peer_error_code() const { return peer_error_code_; }
    const Statistics& statistics() const { return stats_; }
    std::size_t dropped() const { return stats_.dropped; }
    std::error_code last_drop() const { return last_drop_; }
    std::size_t drops(Error e) const { return drop_counts_[static_cast<std::size_t>(e)]; }
    std::error_code failure() const { return failure_; }
    std::uint32_t ssrc() const { return ssrc_; }

private:
    enum class Stage {
        idle, discovery, commit_sent, responder_dhpart1_sent, initiator_dhpart2_sent, responder_confirm1_sent,
        initiator_confirm2_sent, secure, failed,
    };
    enum class Pending { commit, dh_part2, confirm2 };
    struct Timer {
        std::optional<Instant> deadline;
        std::chrono::milliseconds step{};
        unsigned retransmissions = 0;
    };
    static constexpr std::size_t error_count = static_cast<std::size_t>(Error::invalid_configuration) + 1;

    // ---- building our messages ----------------------------------------------------------

    Bytes build_hello() const {
        Hello h;
        std::fill(h.client_id.begin(), h.client_id.end(), ' ');
        std::copy(config_.client_id.begin(), config_.client_id.end(), h.client_id.begin());
        h.h3 = chain_.h3;
        h.zid = zid_;
        h.hashes.push(algo::s256);
        h.ciphers.push(algo::aes1);
        for (auto a : config_.auth_tags) h.auth_tags.push(a);
        for (auto k : config_.key_agreements) h.key_agreements.push(k);
        for (auto s : config_.sas_types) h.sas_types.push(s);
        Bytes m = encode_hello(h);
        seal_message_mac<Crypto>(m, chain_.h2);
        return m;
    }

    /// Our ephemeral key for `ka` and its public value as DHPart carries it.
    std::error_code make_key_share(AlgorithmCode ka) {
        if (key_share_ && key_share_ka_ == ka) return {};
        Result<KeyShare> share = std::error_code(make_error_code(Errc::unsupported_algorithm));
        if (ka == algo::x255) {
            SecretArray<32> scalar;  // from the injected random source, so tests can fix it
            draw_random<Crypto>(config_, scalar);
            share = KeyShare::from_x25519_private(scalar);
        } else {
            share = KeyShare::generate(crypto::KeyExchangeGroup::secp256r1);
        }
        if (!share) return share.error();
        own_pv_ = share->public_key();
        if (ka == algo::ec25) own_pv_.erase(own_pv_.begin());  // ZRTP sends x || y, without the 0x04 prefix
        key_share_.emplace(std::move(*share));
        key_share_ka_ = ka;
        return {};
    }

    Bytes build_dh_part(MessageType type) {
        DhPart d;
        d.h1 = chain_.h1;
        // Retained secrets are named by their IDs under our role's label; absent ones,
        // and the auxiliary and PBX secrets we never have, by random IDs (RFC 6189 4.3.1).
        const std::string_view label = type == MessageType::dh_part1 ? "Responder" : "Initiator";
        draw_random<Crypto>(config_, d.rs1_id);
        draw_random<Crypto>(config_, d.rs2_id);
        if (retained_ && !retained_->rs1.empty()) d.rs1_id = retained_secret_id<Crypto>(retained_->rs1, label);
        if (retained_ && !retained_->rs2.empty()) d.rs2_id = retained_secret_id<Crypto>(retained_->rs2, label);
        draw_random<Crypto>(config_, d.aux_secret_id);
        draw_random<Crypto>(config_, d.pbx_secret_id);
        d.pv = own_pv_;
        Bytes m = encode_dh_part(type, d);
        seal_message_mac<Crypto>(m, chain_.h0);
        return m;
    }

    Result<Bytes> build_confirm(MessageType type, ByteView zrtp_key, ByteView mac_key) {
        ConfirmBody body;
        std::copy(chain_.h0.begin(), chain_.h0.end(), body.h0.begin());
        // V: the users verified a SAS earlier in this chain of retained secrets.
        body.sas_verified = cache_match_ && retained_ && retained_->verified;
        // Without a cache nothing is retained: 0 asks the peer not to keep rs1 either.
        body.cache_expiration = config_.session_cache ? 0xffffffffu : 0;
        Bytes encrypted = encode_confirm_body(body);
        Confirm c;
        draw_random<Crypto>(config_, c.iv);
        if (auto sealed = aes_cfb<Crypto>(zrtp_key, c.iv, encrypted, true); !sealed) return sealed.error();
        c.confirm_mac = confirm_mac<Crypto>(mac_key, encrypted);
        c.encrypted = encrypted;
        Bytes m = encode_confirm(type, c);
        secure_zero(body.h0.data(), body.h0.size());
        return m;
    }

    // ---- negotiation (RFC 6189 4.1.2, 5.1) --------------------------------------------------

    std::optional<Suite> negotiate(const Hello& peer) const {
        Suite s;
        // Key agreement: each side's first choice among the common ones; if they differ,
        // the faster one, so both ends predict the same Commit.
        std::optional<AlgorithmCode> ours, theirs;
        for (auto k : config_.key_agreements)
            if (peer.key_agreements.contains(k)) { ours = k; break; }
        for (auto k : peer.key_agreements)
            if (std::find(config_.key_agreements.begin(), config_.key_agreements.end(), k) != config_.key_agreements.end()) {
                theirs = k;
                break;
            }
        if (!ours || !theirs) return std::nullopt;
        s.key_agreement = key_agreement_cost(*ours) <= key_agreement_cost(*theirs) ? *ours : *theirs;
        // HS32, HS80 and B32 are mandatory: a Hello may leave them out (RFC 6189 5.1.4, 5.1.6).
        auto pick = [](const std::vector<AlgorithmCode>& mine, const AlgorithmList& peer_list,
                       std::initializer_list<AlgorithmCode> mandatory) -> std::optional<AlgorithmCode> {
            for (auto a : mine)
                if (peer_list.contains(a) || std::find(mandatory.begin(), mandatory.end(), a) != mandatory.end()) return a;
            return std::nullopt;
        };
        auto tag = pick(config_.auth_tags, peer.auth_tags, {algo::hs32, algo::hs80});
        auto sas = pick(config_.sas_types, peer.sas_types, {algo::b32});
        if (!tag || !sas) return std::nullopt;
        s.auth_tag = *tag;
        s.sas = *sas;
        return s;
    }

    // ---- receiving ---------------------------------------------------------------------

    std::error_code receive_zrtp(ByteView in, Instant now) {
        auto packet = parse_packet(in);
        if (!packet) return drop(packet.error());
        if (peer_ssrc_ && packet->ssrc != *peer_ssrc_) return drop(Error::ssrc_changed);
        // Sequence numbers only grow (each retransmission takes a new one): an older or equal
        // number is a replay or a stale duplicate.
        if (last_sequence_ && static_cast<std::uint16_t>(packet->sequence - *last_sequence_) - 1u >= 0x7fffu)
            return drop(Error::replayed_packet);
        ++stats_.packets_received;
        const std::error_code ec = dispatch(*packet, now);
        if (stage_ == Stage::failed) return failure_;
        if (ec) return drop(ec);
        last_sequence_ = packet->sequence;
        peer_ssrc_ = packet->ssrc;
        return {};
    }

    std::error_code dispatch(const Packet& p, Instant now) {
        switch (p.type) {
            case MessageType::hello: return on_hello(p.message);
            case MessageType::hello_ack: return on_hello_ack(p.message);
            case MessageType::commit: return on_commit(p.message, now);
            case MessageType::dh_part1: return on_dh_part1(p.message, now);
            case MessageType::dh_part2: return on_dh_part2(p.message);
            case MessageType::confirm1: return on_confirm1(p.message, now);
            case MessageType::confirm2: return on_confirm2(p.message);
            case MessageType::conf2_ack: return on_conf2_ack(p.message);
            case MessageType::error: return on_error(p.message);
            case MessageType::error_ack: return check_ack(p.message);
            default: return make_error_code(Error::unexpected_message);  // GoClear, SASrelay, Ping...: not implemented
        }
    }

    std::error_code on_hello(ByteView message) {
        auto hello = parse_hello(message);
        if (!hello) return hello.error();
        if (peer_hello_) {
            if (!std::equal(message.begin(), message.end(), peer_hello_message_.begin(), peer_hello_message_.end()))
                return make_error_code(Error::hello_changed);
            if (stage_ == Stage::discovery && !commits_) transmit(encode_ack(MessageType::hello_ack));
            return {};  // a retransmission: the peer missed our answer (our Commit repeats on T2)
        }
        if (stage_ != Stage::discovery) return make_error_code(Error::unexpected_message);
        if (hello->version[0] != '1' || hello->version[1] != '.' || hello->version[2] != '1')
            return make_error_code(Error::unsupported_version);  // 1.1x (RFC 6189 4.1.1)
        if (hello->zid == zid_) {
            send_error(ErrorCode::equal_zids);
            return fail(Error::equal_zids);
        }
        auto suite = negotiate(*hello);
        if (!suite) {
            send_error(ErrorCode::hello_components_mismatch);
            return fail(Error::no_common_algorithm);
        }
        suite_ = *suite;
        peer_hello_ = *hello;
        peer_hello_message_.assign(message.begin(), message.end());
        load_retained(now_);
        if (commits_) return send_commit();  // the Commit acknowledges the Hello
        transmit(encode_ack(MessageType::hello_ack));
        return {};
    }

    std::error_code on_hello_ack(ByteView message) {
        if (auto ec = check_ack(message)) return ec;
        if (stage_ == Stage::discovery || stage_ == Stage::commit_sent) hello_timer_.deadline.reset();
        return {};
    }

    std::error_code send_commit() {
        if (auto ec = make_key_share(suite_.key_agreement)) return fail(ec);
        own_dh_part_ = build_dh_part(MessageType::dh_part2);
        Commit c;
        c.h2 = chain_.h2;
        c.zid = zid_;
        c.hash = algo::s256;
        c.cipher = algo::aes1;
        c.auth_tag = suite_.auth_tag;
        c.key_agreement = suite_.key_agreement;
        c.sas = suite_.sas;
        // hvi = hash(initiator's DHPart2 || responder's Hello): commits to our pv before we
        // see the responder's (RFC 6189 4.4.1.1).
        Bytes committed = own_dh_part_;
        committed.insert(committed.end(), peer_hello_message_.begin(), peer_hello_message_.end());
        c.hvi = sha256_image<Crypto>(committed);
        commit_message_ = encode_commit(c);
        seal_message_mac<Crypto>(commit_message_, chain_.h1);
        own_hvi_ = c.hvi;
        stage_ = Stage::commit_sent;
        zrtp_role_ = ZrtpRole::initiator;
        retransmit(Pending::commit);
        return {};
    }

    std::error_code on_commit(ByteView message, Instant) {
        auto commit = parse_commit(message);
        if (!commit) return commit.error();
        if (peer_commit_) {
            if (!std::equal(message.begin(), message.end(), peer_commit_message_.begin(), peer_commit_message_.end()))
                return make_error_code(Error::commit_changed);
            if (stage_ == Stage::responder_dhpart1_sent) transmit(own_dh_part_);  // our DHPart1 was lost
            return {};
        }
        if (!peer_hello_ || (stage_ != Stage::discovery && stage_ != Stage::commit_sent))
            return make_error_code(Error::unexpected_message);
        // H2 reveals the key of the Hello's MAC: hash(H2) must be the Hello's H3.
        if (sha256_image<Crypto>(commit->h2) != peer_hello_->h3) return make_error_code(Error::bad_hash_chain);
        if (!verify_message_mac<Crypto>(commit->h2, peer_hello_message_)) return make_error_code(Error::bad_hello_mac);
        if (commit->zid != peer_hello_->zid) return make_error_code(Error::malformed_message);
        hello_timer_.deadline.reset();  // the peer has our Hello
        // The initiator may only pick what our Hello offered.
        if (commit->hash != algo::s256) return refuse(ErrorCode::hash_type_not_supported, Error::unsupported_hash);
        if (commit->cipher != algo::aes1) return refuse(ErrorCode::cipher_type_not_supported, Error::unsupported_cipher);
        if (!contains(config_.auth_tags, commit->auth_tag))
            return refuse(ErrorCode::auth_tag_not_supported, Error::unsupported_auth_tag);
        if (!contains(config_.key_agreements, commit->key_agreement))
            return refuse(ErrorCode::key_exchange_not_supported, Error::unsupported_key_agreement);
        if (!contains(config_.sas_types, commit->sas)) return refuse(ErrorCode::sas_scheme_not_supported, Error::unsupported_sas);
        if (stage_ == Stage::commit_sent) {
            // Contention (RFC 6189 4.2): the Commit with the larger hvi proceeds.
            if (std::lexicographical_compare(commit->hvi.begin(), commit->hvi.end(), own_hvi_.begin(), own_hvi_.end()))
                return {};  // ours wins; the peer will answer our Commit with DHPart1
            message_timer_.deadline.reset();
            commit_message_.clear();
        }
        // Responder from here on.
        zrtp_role_ = ZrtpRole::responder;
        suite_ = Suite{commit->auth_tag, commit->key_agreement, commit->sas};
        peer_commit_ = *commit;
        peer_commit_message_.assign(message.begin(), message.end());
        if (auto ec = make_key_share(suite_.key_agreement)) return fail(ec);
        own_dh_part_ = build_dh_part(MessageType::dh_part1);
        stage_ = Stage::responder_dhpart1_sent;
        transmit(own_dh_part_);  // the responder answers; the initiator retransmits
        return {};
    }

    /// The peer's pv as the provider's key agreement wants it.
    Result<SecretBytes> agree(ByteView pv) const {
        if (pv.size() != public_value_size(suite_.key_agreement)) return std::error_code(make_error_code(Error::bad_public_value));
        Bytes peer(pv.begin(), pv.end());
        if (suite_.key_agreement == algo::ec25) peer.insert(peer.begin(), 0x04);
        auto shared = key_share_->agree(peer);
        if (!shared) return std::error_code(make_error_code(Error::bad_public_value));
        return shared;
    }

    /// total_hash = hash(responder's Hello || Commit || DHPart1 || DHPart2), then s0 and its keys.
    void derive(ByteView dh_result, ByteView responder_hello, ByteView commit, ByteView dh_part1, ByteView dh_part2,
                const Zid& zid_i, const Zid& zid_r) {
        Bytes transcript;
        transcript.reserve(responder_hello.size() + commit.size() + dh_part1.size() + dh_part2.size());
        for (ByteView m : {responder_hello, commit, dh_part1, dh_part2}) transcript.insert(transcript.end(), m.begin(), m.end());
        const Bytes total_hash = Crypto::hash(negotiated_hash, transcript);
        keys_ = derive_keys<Crypto>(dh_result, zid_i, zid_r, total_hash, matched_secret_);
        key_share_.reset();  // the ephemeral key is no longer needed (forward secrecy)
    }

    std::error_code on_dh_part1(ByteView message, Instant) {
        if (stage_ != Stage::commit_sent) {
            if (!peer_dh_part_message_.empty() &&
                std::equal(message.begin(), message.end(), peer_dh_part_message_.begin(), peer_dh_part_message_.end()))
                return {};  // a duplicate; our DHPart2 repeats on T2
            return make_error_code(Error::unexpected_message);
        }
        auto part = parse_dh_part(message);
        if (!part) return part.error();
        if (part->pv.size() != public_value_size(suite_.key_agreement)) return make_error_code(Error::bad_public_value);
        // H1 reveals H2, the key of the responder's Hello MAC: check both against its H3.
        const HashImage h2 = sha256_image<Crypto>(part->h1);
        if (sha256_image<Crypto>(h2) != peer_hello_->h3) return make_error_code(Error::bad_hash_chain);
        if (!verify_message_mac<Crypto>(h2, peer_hello_message_)) return make_error_code(Error::bad_hello_mac);
        auto shared = agree(part->pv);
        if (!shared) return shared.error();
        match_retained(part->rs1_id, part->rs2_id, "Responder");
        derive(*shared, peer_hello_message_, commit_message_, message, own_dh_part_, zid_, peer_hello_->zid);
        peer_h1_ = part->h1;
        peer_dh_part_message_.assign(message.begin(), message.end());
        hello_timer_.deadline.reset();
        stage_ = Stage::initiator_dhpart2_sent;
        retransmit(Pending::dh_part2);
        return {};
    }

    std::error_code on_dh_part2(ByteView message) {
        if (stage_ != Stage::responder_dhpart1_sent) {
            if (stage_ == Stage::responder_confirm1_sent &&
                std::equal(message.begin(), message.end(), peer_dh_part_message_.begin(), peer_dh_part_message_.end())) {
                transmit(confirm_message_);  // our Confirm1 was lost
                return {};
            }
            return make_error_code(Error::unexpected_message);
        }
        auto part = parse_dh_part(message);
        if (!part) return part.error();
        if (part->pv.size() != public_value_size(suite_.key_agreement)) return make_error_code(Error::bad_public_value);
        // H1 reveals the key of the Commit's MAC.
        if (sha256_image<Crypto>(part->h1) != peer_commit_->h2) return make_error_code(Error::bad_hash_chain);
        if (!verify_message_mac<Crypto>(part->h1, peer_commit_message_)) return make_error_code(Error::bad_commit_mac);
        // The hash commitment: the initiator committed to this DHPart2 before seeing our pv.
        Bytes committed(message.begin(), message.end());
        committed.insert(committed.end(), hello_.begin(), hello_.end());
        if (!constant_time_equal(sha256_image<Crypto>(committed), peer_commit_->hvi)) return make_error_code(Error::hvi_mismatch);
        auto shared = agree(part->pv);
        if (!shared) return shared.error();
        match_retained(part->rs1_id, part->rs2_id, "Initiator");
        derive(*shared, hello_, peer_commit_message_, own_dh_part_, message, peer_hello_->zid, zid_);
        peer_h1_ = part->h1;
        peer_dh_part_message_.assign(message.begin(), message.end());
        auto confirm1 = build_confirm(MessageType::confirm1, keys_->zrtp_key_r, keys_->mac_key_r);
        if (!confirm1) return confirm1.error();
        confirm_message_ = std::move(*confirm1);
        stage_ = Stage::responder_confirm1_sent;
        transmit(confirm_message_);
        return {};
    }

    /// Verifies a Confirm (MAC over the ciphertext, decryption, H0 against the peer's
    /// DHPart) and returns its body.
    Result<ConfirmBody> open_confirm(ByteView message, ByteView zrtp_key, ByteView mac_key) const {
        auto confirm = parse_confirm(message);
        if (!confirm) return confirm.error();
        if (!constant_time_equal(confirm_mac<Crypto>(mac_key, confirm->encrypted), confirm->confirm_mac))
            return std::error_code(make_error_code(Error::bad_confirm_mac));
        SecretBytes plain(confirm->encrypted.begin(), confirm->encrypted.end());
        if (auto opened = aes_cfb<Crypto>(zrtp_key, confirm->iv, plain, false); !opened) return opened.error();
        auto body = parse_confirm_body(plain);
        if (!body) return body.error();
        // H0 reveals the key of the peer's DHPart MAC.
        if (sha256_image<Crypto>(body->h0) != peer_h1_) return std::error_code(make_error_code(Error::bad_hash_chain));
        if (!verify_message_mac<Crypto>(body->h0, peer_dh_part_message_))
            return std::error_code(make_error_code(Error::bad_dhpart_mac));
        return body;
    }

    std::error_code on_confirm1(ByteView message, Instant) {
        if (stage_ != Stage::initiator_dhpart2_sent) {
            if (stage_ == Stage::initiator_confirm2_sent || stage_ == Stage::secure) return {};  // duplicate
            return make_error_code(Error::unexpected_message);
        }
        auto body = open_confirm(message, keys_->zrtp_key_r, keys_->mac_key_r);
        if (!body) return body.error();
        peer_confirm_ = *body;
        if (auto ec = key_record()) return fail(ec);
        auto confirm2 = build_confirm(MessageType::confirm2, keys_->zrtp_key_i, keys_->mac_key_i);
        if (!confirm2) return fail(confirm2.error());
        confirm_message_ = std::move(*confirm2);
        stage_ = Stage::initiator_confirm2_sent;
        retransmit(Pending::confirm2);
        return {};
    }

    std::error_code on_confirm2(ByteView message) {
        if (stage_ != Stage::responder_confirm1_sent) {
            if (stage_ == Stage::secure && std::equal(message.begin(), message.end(), peer_confirm_message_.begin(),
                                                      peer_confirm_message_.end())) {
                transmit(encode_ack(MessageType::conf2_ack));  // our Conf2ACK was lost
                return {};
            }
            return make_error_code(Error::unexpected_message);
        }
        auto body = open_confirm(message, keys_->zrtp_key_i, keys_->mac_key_i);
        if (!body) return body.error();
        peer_confirm_ = *body;
        peer_confirm_message_.assign(message.begin(), message.end());
        if (auto ec = key_record()) return fail(ec);
        transmit(encode_ack(MessageType::conf2_ack));
        return become_secure();
    }

    std::error_code on_conf2_ack(ByteView message) {
        if (auto ec = check_ack(message)) return ec;
        if (stage_ == Stage::secure) return {};
        if (stage_ != Stage::initiator_confirm2_sent) return make_error_code(Error::unexpected_message);
        return become_secure();
    }

    std::error_code on_error(ByteView message) {
        auto code = parse_error(message);
        if (!code) return code.error();
        peer_error_code_ = *code;
        transmit(encode_ack(MessageType::error_ack));
        return fail(Error::peer_error);
    }

    std::error_code receive_media(ByteView in) {
        if (!layer_) return drop(Error::not_keyed);
        Bytes packet(in.begin(), in.end());
        auto n = layer_->unprotect(MutableByteView(packet));
        if (!n) return drop(n.error());
        packet.resize(*n);
        // Media the responder could only send after verifying our Confirm2: an implicit
        // Conf2ACK (the real one may have been lost).
        if (stage_ == Stage::initiator_confirm2_sent) become_secure();
        media_.push_back(std::move(packet));
        return {};
    }

    // ---- keys into the record ---------------------------------------------------------

    srtp::MasterKeys master_keys() const {
        srtp::MasterKeys k;
        k.profile = srtp_profile_for(suite_.auth_tag);
        k.client_write = {keys_->srtp_key_i, keys_->srtp_salt_i};  // the ZRTP initiator's direction
        k.server_write = {keys_->srtp_key_r, keys_->srtp_salt_r};
        return k;
    }

    std::error_code key_record() {
        auto layer = Layer::import(master_keys(), zrtp_role_ == ZrtpRole::initiator ? Role::client : Role::server);
        if (!layer) return layer.error();
        layer_.emplace(std::move(*layer));
        sas_ = Sas{render_sas_b32(keys_->sas_value), keys_->sas_value, suite_.sas};
        events_.push_back(Event{EventKind::key_updated, {}, {}});
        if (config_.on_sas) config_.on_sas(*sas_);
        return {};
    }

    std::error_code become_secure() {
        stage_ = Stage::secure;
        message_timer_.deadline.reset();
        hello_timer_.deadline.reset();
        store_retained();
        if (config_.validate_peer) {
            PeerIdentity peer = session_info().peer;
            if (auto ec = config_.validate_peer(peer)) return fail(ec);
        }
        events_.push_back(Event{EventKind::handshake_complete, {}, {}});
        return {};
    }

    // ---- retained secrets (RFC 6189 4.3, 4.6.1) ---------------------------------------------

    std::uint64_t wall_seconds() const {
        return static_cast<std::uint64_t>(
            std::chrono::duration_cast<std::chrono::seconds>(wall_now(config_).time_since_epoch()).count());
    }

    void load_retained(Instant) {
        if (!config_.session_cache) return;
        auto entry = config_.session_cache->load(retained_cache_key(zid_, peer_hello_->zid));
        if (!entry) return;
        auto decoded = RetainedSecrets::decode(*entry);
        if (decoded && decoded->expires > wall_seconds()) retained_ = std::move(*decoded);
    }

    /// s1 is our rs1 if it matches either ID the peer sent, else our rs2 if it does.
    void match_retained(const SecretId& peer_rs1_id, const SecretId& peer_rs2_id, std::string_view peer_label) {
        if (!retained_) return;
        for (const SecretBytes* rs : {&retained_->rs1, &retained_->rs2}) {
            if (rs->empty()) continue;
            const SecretId id = retained_secret_id<Crypto>(*rs, peer_label);
            if (constant_time_equal(id, peer_rs1_id) || constant_time_equal(id, peer_rs2_id)) {
                matched_secret_ = *rs;
                cache_match_ = true;
                return;
            }
        }
        cache_mismatch_ = !retained_->rs1.empty() || !retained_->rs2.empty();
    }

    /// After a completed exchange: rs2 = rs1, rs1 = KDF(s0, "retained secret", ...), for
    /// the shorter of both ends' cache expiration intervals (4.9; 0 means do not retain).
    void store_retained() {
        if (!config_.session_cache || !keys_ || !peer_confirm_ || peer_confirm_->cache_expiration == 0) return;
        RetainedSecrets next;
        next.rs1 = keys_->new_rs1;
        if (retained_) next.rs2 = retained_->rs1;
        next.verified = cache_match_ && retained_ && retained_->verified;
        const std::uint32_t interval = peer_confirm_->cache_expiration;
        next.expires = interval == 0xffffffffu ? RetainedSecrets::never : wall_seconds() + interval;
        config_.session_cache->store(retained_cache_key(zid_, peer_hello_->zid), next.encode());
        stored_ = std::move(next);
        secure_zero(matched_secret_.data(), matched_secret_.size());
    }

    // ---- sending, timers, failures ------------------------------------------------------

    void transmit(ByteView message) {
        outgoing_.push_back(frame_packet(next_sequence_++, ssrc_, message));
        ++stats_.packets_sent;
    }
    /// Sends one of the initiator's messages and repeats it on T2 until answered.
    void retransmit(Pending which) {
        pending_ = which;
        transmit(pending_message());
        message_timer_ = Timer{};
        arm(message_timer_, now_, config_.timers.t2_initial);
    }
    const Bytes& pending_message() const {
        return pending_ == Pending::commit ? commit_message_ : pending_ == Pending::dh_part2 ? own_dh_part_ : confirm_message_;
    }
    void arm(Timer& t, Instant now, std::chrono::milliseconds step) {
        t.step = step;
        t.deadline = now + step;
    }
    void rearm(Timer& t, Instant now, std::chrono::milliseconds cap) {
        t.step = std::min(cap, t.step * 2);
        t.deadline = now + t.step;
    }

    void send_error(ErrorCode code) { transmit(encode_error(static_cast<std::uint32_t>(code))); }
    std::error_code refuse(ErrorCode code, Error why) {
        send_error(code);
        return fail(why);
    }
    static bool contains(const std::vector<AlgorithmCode>& v, AlgorithmCode c) { return std::find(v.begin(), v.end(), c) != v.end(); }

    std::error_code fail(std::error_code ec) {
        if (!failure_) failure_ = ec;
        stage_ = Stage::failed;
        hello_timer_.deadline.reset();
        message_timer_.deadline.reset();
        key_share_.reset();
        return failure_;
    }
    std::error_code fail(Error e) { return fail(make_error_code(e)); }

    std::error_code drop(std::error_code why) {
        ++stats_.dropped;
        last_drop_ = why;
        if (why.category() == category()) ++drop_counts_[static_cast<std::size_t>(why.value()) % error_count];
        events_.push_back(Event{EventKind::dropped_packet, {}, why});
        return {};
    }
    std::error_code drop(Error e) { return drop(make_error_code(e)); }

    Config config_;
    bool commits_ = false;
    Stage stage_ = Stage::idle;
    ZrtpRole zrtp_role_ = ZrtpRole::undecided;
    HashChain chain_;
    Zid zid_{};
    std::uint32_t ssrc_ = 0;
    std::uint16_t next_sequence_ = 1;
    Bytes hello_;
    Suite suite_;
    // the peer
    std::optional<Hello> peer_hello_;
    Bytes peer_hello_message_;
    std::optional<std::uint32_t> peer_ssrc_;
    std::optional<std::uint16_t> last_sequence_;
    std::optional<Commit> peer_commit_;
    Bytes peer_commit_message_;
    HashImage peer_h1_{};
    Bytes peer_dh_part_message_;
    std::optional<ConfirmBody> peer_confirm_;
    Bytes peer_confirm_message_;
    std::optional<std::uint32_t> peer_error_code_;
    // ours
    std::optional<KeyShare> key_share_;
    AlgorithmCode key_share_ka_ = 0;
    Bytes own_pv_;
    Bytes own_dh_part_, commit_message_, confirm_message_;
    std::array<std::uint8_t, 32> own_hvi_{};
    std::optional<DerivedKeys> keys_;
    std::optional<Sas> sas_;
    bool sas_verified_ = false;
    // retained secrets
    std::optional<RetainedSecrets> retained_, stored_;
    SecretBytes matched_secret_;
    bool cache_match_ = false, cache_mismatch_ = false;
    // the record
    std::optional<Layer> layer_;
    // timers and queues
    Timer hello_timer_, message_timer_;
    Pending pending_ = Pending::commit;  // what T2 repeats
    Instant now_{};
    std::deque<Bytes> outgoing_, media_;
    Bytes plaintext_;  // what poll_plaintext's view shows
    std::deque<Event> events_;
    std::error_code failure_, last_drop_;
    bool closed_ = false;
    Statistics stats_;
    std::array<std::size_t, error_count> drop_counts_{};
};

}  // namespace tapsec::zrtp
