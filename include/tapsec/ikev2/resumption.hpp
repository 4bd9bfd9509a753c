// IKEv2 session resumption (RFC 5723): the ticket by value.
//
// Responder: TicketIssuer seals what it needs to resume an IKE SA (TicketState: the
// identities both sides authenticated, SK_d, the IKE SA's algorithms, its SPIs, how the
// initiator authenticated, the expiry, a random ticket id) into an opaque ticket, AEAD-
// sealed under its ticket key (tls13::TicketKey with its own purpose, so a TLS ticket
// never opens as an IKEv2 one). Tickets are single use: the ids of those presented are
// remembered until they expire (tls13::AntiReplay). Rotation keeps the previous key
// for opening only.
// Initiator: Ticket is what the application keeps (RFC 5723 4.1: the ticket and its
// lifetime, plus the state the client side needs: SK_d, the algorithms, both IDs).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string_view>

#include "../core/bytes.hpp"
#include "../core/config.hpp"
#include "../core/wire.hpp"
#include "../esp/keys.hpp"
#include "../tls13/session.hpp"
#include "errors.hpp"
#include "key_schedule.hpp"
#include "wire.hpp"

namespace tapsec::ikev2 {

/// Seconds since the Unix epoch on the configuration's wall clock.
inline std::uint64_t unix_seconds(const CommonConfig& config) {
    const auto t = wall_now(config).time_since_epoch();
    const auto s = std::chrono::duration_cast<std::chrono::seconds>(t).count();
    return s < 0 ? 0 : static_cast<std::uint64_t>(s);
}

namespace detail {
inline void write_id(wire::Writer& w, const IdPayload& id) {
    w.u8(static_cast<std::uint8_t>(id.type));
    w.prefixed(2, id.data);
}
inline IdPayload read_id(wire::Reader& r) {
    IdPayload id;
    id.type = static_cast<IdType>(r.u8());
    const ByteView data = r.prefixed(2);
    id.data.assign(data.begin(), data.end());
    return id;
}
/// The IKE SA algorithms a ticket carries, checked to be ones this library implements.
inline bool known_suite(std::uint16_t prf, std::uint16_t cipher, std::uint16_t integrity) {
    if (!prf_named(prf)) return false;
    bool cipher_ok = false, integrity_ok = integrity == static_cast<std::uint16_t>(esp::Integrity::none);
    for (auto c : {esp::Algorithm::aes_128_gcm_16, esp::Algorithm::aes_256_gcm_16, esp::Algorithm::chacha20_poly1305,
                   esp::Algorithm::aes_128_cbc, esp::Algorithm::aes_256_cbc})
        cipher_ok = cipher_ok || static_cast<std::uint16_t>(c) == cipher;
    for (auto i : {esp::Integrity::hmac_sha2_256_128, esp::Integrity::hmac_sha2_384_192, esp::Integrity::hmac_sha2_512_256})
        integrity_ok = integrity_ok || static_cast<std::uint16_t>(i) == integrity;
    return cipher_ok && integrity_ok;
}
}  // namespace detail

/// The IKE SA's algorithms, kept by both sides for the resumed SA (RFC 5723 5: the
/// resumed IKE SA uses the old one's).
struct TicketSuite {
    Prf prf = Prf::hmac_sha2_256;
    esp::Algorithm cipher = esp::Algorithm::aes_128_gcm_16;
    esp::Integrity integrity = esp::Integrity::none;
};

/// What the responder seals into a ticket (RFC 5723 4.1 and Appendix A's recommended
/// contents, in tapsec's own format).
struct TicketState {
    static constexpr std::uint8_t format = 1;
    static constexpr std::size_t id_size = 16;
    Bytes id;                                 // random: the ticket's identity for single use
    IdPayload initiator_id, responder_id;     // as authenticated in IKE_AUTH
    AuthMethod initiator_auth = AuthMethod::shared_key_mic;  // how the initiator first authenticated
    TicketSuite suite;
    SecretBytes sk_d;                         // of the IKE SA the ticket was issued under
    std::uint64_t spi_i = 0, spi_r = 0;       // that IKE SA's SPIs
    std::uint64_t expires_unix_s = 0;

    SecretBytes serialize() const {
        Bytes out;
        wire::Writer w(out);
        w.u8(format);
        w.bytes(id);
        w.u16(static_cast<std::uint16_t>(suite.prf));
        w.u16(static_cast<std::uint16_t>(suite.cipher));
        w.u16(static_cast<std::uint16_t>(suite.integrity));
        w.u8(static_cast<std::uint8_t>(initiator_auth));
        w.u64(spi_i);
        w.u64(spi_r);
        w.u64(expires_unix_s);
        w.prefixed(1, sk_d);
        detail::write_id(w, initiator_id);
        detail::write_id(w, responder_id);
        SecretBytes secret(out.begin(), out.end());
        secure_zero(out.data(), out.size());
        return secret;
    }
    static std::optional<TicketState> parse(ByteView data) {
        wire::Reader r(data);
        TicketState s;
        if (r.u8() != format) return std::nullopt;
        const ByteView id = r.bytes(id_size);
        s.id.assign(id.begin(), id.end());
        const std::uint16_t prf = r.u16(), cipher = r.u16(), integrity = r.u16();
        s.initiator_auth = static_cast<AuthMethod>(r.u8());
        s.spi_i = r.u64();
        s.spi_r = r.u64();
        s.expires_unix_s = r.u64();
        const ByteView sk_d = r.prefixed(1);
        s.sk_d.assign(sk_d.begin(), sk_d.end());
        s.initiator_id = detail::read_id(r);
        s.responder_id = detail::read_id(r);
        if (!r.at_end() || !detail::known_suite(prf, cipher, integrity)) return std::nullopt;
        s.suite = {static_cast<Prf>(prf), static_cast<esp::Algorithm>(cipher), static_cast<esp::Integrity>(integrity)};
        if (s.sk_d.size() != prf_size(s.suite.prf)) return std::nullopt;
        return s;
    }
};

/// The initiator's side of a ticket (what Engine::ticket() hands the application and
/// Config::resume_ticket takes back): the opaque ticket, its expiry, and the state RFC
/// 5723 has the client keep. It holds SK_d: store it as a secret (the CLI writes it 0600).
struct Ticket {
    static constexpr std::uint8_t format = 1;
    Bytes opaque;                    // TICKET_LT_OPAQUE's ticket, sent back in TICKET_OPAQUE
    std::uint64_t expires_unix_s = 0;  // received lifetime + the wall clock when received
    TicketSuite suite;
    SecretBytes sk_d;
    IdPayload local_id, remote_id;   // our IDi and the responder's IDr, as authenticated

    bool expired(std::uint64_t now_unix_s) const { return now_unix_s >= expires_unix_s; }

    /// The ticket file's content: "IKEv2-RFC5723-ticket" | format | fields.
    SecretBytes serialize() const {
        Bytes out(magic().begin(), magic().end());
        wire::Writer w(out);
        w.u8(format);
        w.u64(expires_unix_s);
        w.u16(static_cast<std::uint16_t>(suite.prf));
        w.u16(static_cast<std::uint16_t>(suite.cipher));
        w.u16(static_cast<std::uint16_t>(suite.integrity));
        w.prefixed(1, sk_d);
        detail::write_id(w, local_id);
        detail::write_id(w, remote_id);
        w.prefixed(2, opaque);
        SecretBytes secret(out.begin(), out.end());
        secure_zero(out.data(), out.size());
        return secret;
    }
    static std::optional<Ticket> parse(ByteView data) {
        if (data.size() < magic().size() || !std::equal(magic().begin(), magic().end(), data.begin())) return std::nullopt;
        wire::Reader r(data.subspan(magic().size()));
        Ticket t;
        if (r.u8() != format) return std::nullopt;
        t.expires_unix_s = r.u64();
        const std::uint16_t prf = r.u16(), cipher = r.u16(), integrity = r.u16();
        const ByteView sk_d = r.prefixed(1);
        t.sk_d.assign(sk_d.begin(), sk_d.end());
        t.local_id = detail::read_id(r);
        t.remote_id = detail::read_id(r);
        const ByteView opaque = r.prefixed(2);
        t.opaque.assign(opaque.begin(), opaque.end());
        if (!r.at_end() || !detail::known_suite(prf, cipher, integrity) || t.opaque.empty()) return std::nullopt;
        t.suite = {static_cast<Prf>(prf), static_cast<esp::Algorithm>(cipher), static_cast<esp::Integrity>(integrity)};
        if (t.sk_d.size() != prf_size(t.suite.prf)) return std::nullopt;
        return t;
    }

private:
    static std::string_view magic() { return "IKEv2-RFC5723-ticket"; }
};

/// The responder's ticket authority: the sealing key (and the one rotated out, which
/// still opens), the lifetime of the tickets it issues, and the used-ticket store.
/// Shared by every engine of one responder (Config::tickets, a shared_ptr); thread-safe.
class TicketIssuer {
public:
    TicketIssuer(std::shared_ptr<tls13::TicketKey> key, std::chrono::seconds lifetime, std::size_t used_capacity = 1u << 16)
        : key_(std::move(key)), lifetime_(lifetime), used_(used_capacity) {}

    /// An issuer with a fresh random key (the configuration's random source).
    template <class Crypto>
    static std::shared_ptr<TicketIssuer> generate(const CommonConfig& random_source,
                                                  std::chrono::seconds lifetime = std::chrono::hours(8)) {
        return std::make_shared<TicketIssuer>(tls13::TicketKey::generate<Crypto>(random_source), lifetime);
    }

    /// Seals new tickets under `next`; tickets sealed under the current key still open
    /// until the next rotation.
    void rotate(std::shared_ptr<tls13::TicketKey> next) {
        std::lock_guard lock(mutex_);
        previous_ = std::move(key_);
        key_ = std::move(next);
    }

    std::chrono::seconds lifetime() const { return lifetime_; }

    template <class Crypto>
    Bytes seal(const TicketState& state, const CommonConfig& random_source) const {
        const SecretBytes plain = state.serialize();
        return current()->template seal_bytes<Crypto>(plain, purpose(), random_source);
    }

    /// The state inside a ticket: refused as ticket_invalid when no key of ours opens it
    /// (another issuer's, altered, truncated) or its contents do not parse, and as
    /// ticket_expired past its expiry.
    template <class Crypto>
    Result<TicketState> open(ByteView ticket, std::uint64_t now_unix_s) const {
        std::shared_ptr<tls13::TicketKey> keys[2];
        {
            std::lock_guard lock(mutex_);
            keys[0] = key_;
            keys[1] = previous_;
        }
        for (const auto& key : keys) {
            if (!key) continue;
            auto opened = key->template open_bytes<Crypto>(ticket, purpose());
            if (!opened.our_key) continue;
            if (!opened.plaintext) return make_error_code(Error::ticket_invalid);
            auto state = TicketState::parse(*opened.plaintext);
            if (!state) return make_error_code(Error::ticket_invalid);
            if (now_unix_s >= state->expires_unix_s) return make_error_code(Error::ticket_expired);
            return std::move(*state);
        }
        return make_error_code(Error::ticket_invalid);
    }

    /// Single use (RFC 5723 4.3.1, 9.x): the first presentation of a ticket id passes;
    /// later ones are ticket_replayed until the ticket expires. A full store refuses
    /// (resumption_unavailable) rather than forget a live ticket.
    std::error_code spend(const TicketState& state, std::uint64_t now_unix_s) {
        switch (used_.check(state.id, state.expires_unix_s * 1000, now_unix_s * 1000)) {
            case tls13::AntiReplay::Verdict::first_use: return {};
            case tls13::AntiReplay::Verdict::replayed: return make_error_code(Error::ticket_replayed);
            case tls13::AntiReplay::Verdict::store_full: return make_error_code(Error::resumption_unavailable);
        }
        return make_error_code(Error::resumption_unavailable);
    }
    std::size_t spent() const { return used_.size(); }

private:
    static std::string_view purpose() { return "IKEv2 RFC 5723 ticket"; }
    std::shared_ptr<tls13::TicketKey> current() const {
        std::lock_guard lock(mutex_);
        return key_;
    }

    mutable std::mutex mutex_;
    std::shared_ptr<tls13::TicketKey> key_, previous_;
    std::chrono::seconds lifetime_;
    tls13::AntiReplay used_;
};

}  // namespace tapsec::ikev2
