// Resumption state (RFC 8446 4.6.1, 8): the server's stateless tickets (everything
// needed to resume, AEAD-sealed under a server ticket key), the client's stored
// session (what goes into CommonConfig::session_cache), and the server's 0-RTT
// anti-replay (each ticket admits early data once).
#pragma once

#include <chrono>
#include <mutex>
#include <optional>
#include <queue>
#include <unordered_set>
#include <vector>
#include <string>
#include <string_view>

#include "../core/bytes.hpp"
#include "../core/config.hpp"
#include "../core/wire.hpp"
#include "cipher_suites.hpp"
#include "key_schedule.hpp"

namespace tapsec::tls13 {

// Times are read from the configuration's wall clock (wall_now) by the caller and passed
// in: nothing here reads a clock.
template <class Duration>
std::uint64_t unix_millis(std::chrono::sys_time<Duration> t) {
    return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count());
}
template <class Duration>
std::uint64_t unix_micros(std::chrono::sys_time<Duration> t) {
    return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count());
}

/// What a ticket (server) or a stored session (client) carries.
struct SessionState {
    const CipherSuite* suite = nullptr;
    SecretBytes psk;                 // the resumption PSK (RFC 8446 4.6.1)
    // Wall clock in microseconds, so the ticket age we report is the true age rounded
    // down: with both ends in whole milliseconds the client could claim 1 ms more than
    // the server has seen, and GnuTLS rejects 0-RTT when the client's age exceeds its own.
    std::uint64_t issued_us = 0;
    std::uint32_t lifetime_s = 0;
    std::uint32_t age_add = 0;
    std::uint32_t max_early_data = 0;
    std::string alpn;
    std::string server_name;
    Bytes ticket;                    // client: the opaque ticket to send back
    Bytes unique_id;                 // server: identifies the ticket for anti-replay
    Bytes application_data;          // Config::session_application_data when issued / received

    Bytes serialize() const {
        Bytes out;
        wire::Writer w(out);
        w.u8(3);  // format version (2: issue time in microseconds; 3: application data)
        w.u16(suite->code());
        w.prefixed(1, psk);
        w.u64(issued_us);
        w.u32(lifetime_s);
        w.u32(age_add);
        w.u32(max_early_data);
        w.prefixed(1, as_bytes(alpn));
        w.prefixed(2, as_bytes(server_name));
        w.prefixed(2, ticket);
        w.prefixed(1, unique_id);
        w.prefixed(2, application_data);
        return out;
    }
    static std::optional<SessionState> parse(ByteView data) {
        wire::Reader r(data);
        SessionState s;
        const auto format = r.u8();
        if (format != 2 && format != 3) return std::nullopt;
        auto suite = find_cipher_suite(r.u16());
        auto psk = r.prefixed(1);
        s.issued_us = r.u64();
        s.lifetime_s = r.u32();
        s.age_add = r.u32();
        s.max_early_data = r.u32();
        auto alpn = r.prefixed(1);
        auto name = r.prefixed(2);
        auto ticket = r.prefixed(2);
        auto id = r.prefixed(1);
        ByteView application_data;
        if (format == 3) application_data = r.prefixed(2);
        if (!r.at_end() || !suite || psk.empty()) return std::nullopt;
        s.suite = suite;
        s.psk.assign(psk.begin(), psk.end());
        s.alpn.assign(alpn.begin(), alpn.end());
        s.server_name.assign(name.begin(), name.end());
        s.ticket.assign(ticket.begin(), ticket.end());
        s.unique_id.assign(id.begin(), id.end());
        s.application_data.assign(application_data.begin(), application_data.end());
        return s;
    }
    /// Milliseconds since issue, rounded down (the ticket age of RFC 8446 4.2.11).
    std::uint64_t age_ms(std::uint64_t now_us) const {
        return now_us < issued_us ? 0 : (now_us - issued_us) / 1000;
    }
    std::uint64_t expires_ms() const { return issued_us / 1000 + std::uint64_t{lifetime_s} * 1000; }
    bool expired(std::uint64_t now_us) const {
        return now_us < issued_us || now_us - issued_us > std::uint64_t{lifetime_s} * 1'000'000;
    }
};

/// The server's ticket-sealing key (AES-256-GCM). Share one between servers that should
/// accept each other's tickets; rotate by replacing it.
class TicketKey {
public:
    /// A fresh key from the configuration's random source (CommonConfig::random, else
    /// the provider's CSPRNG).
    template <class Crypto>
    static std::shared_ptr<TicketKey> generate(const CommonConfig& random_source) {
        auto k = std::make_shared<TicketKey>();
        k->key_.resize(32);
        draw_random<Crypto>(random_source, k->key_);
        k->name_.resize(16);
        draw_random<Crypto>(random_source, k->name_);
        return k;
    }
    /// A fresh key from the provider's CSPRNG.
    template <class Crypto>
    static std::shared_ptr<TicketKey> generate() {
        return generate<Crypto>(CommonConfig{});
    }
    static std::shared_ptr<TicketKey> from_bytes(ByteView key_name16, ByteView key32) {
        auto k = std::make_shared<TicketKey>();
        k->name_.assign(key_name16.begin(), key_name16.end());
        k->key_.assign(key32.begin(), key32.end());
        return k;
    }

    /// ticket = key_name(16) || nonce(12) || AES-256-GCM(state), AAD = key_name.
    /// The nonce is drawn from `random_source` (CommonConfig::random, else the provider).
    template <class Crypto>
    Bytes seal(const SessionState& state, const CommonConfig& random_source) const {
        auto plain = state.serialize();
        Bytes out = seal_bytes<Crypto>(plain, {}, random_source);
        secure_zero(plain.data(), plain.size());
        return out;
    }
    template <class Crypto>
    std::optional<SessionState> open(ByteView ticket) const {
        auto opened = open_bytes<Crypto>(ticket, {});
        if (!opened.plaintext) return std::nullopt;
        return SessionState::parse(*opened.plaintext);
    }

    /// What open_bytes found: the plaintext, or whether the blob was sealed under
    /// another key (its key name differs) rather than altered.
    struct Opened {
        std::optional<SecretBytes> plaintext;
        bool our_key = false;
    };

    /// key_name(16) || nonce(12) || AES-256-GCM(plaintext), AAD = key_name || purpose.
    /// The purpose keeps uses of one key apart: a HelloRetryRequest cookie never opens
    /// as a ticket, nor a ticket as a cookie (tickets use an empty purpose).
    template <class Crypto>
    Bytes seal_bytes(ByteView plaintext, std::string_view purpose, const CommonConfig& random_source) const {
        Bytes out(name_.begin(), name_.end());
        Bytes nonce(12);
        draw_random<Crypto>(random_source, nonce);
        append(out, nonce);
        const std::size_t at = out.size();
        append(out, plaintext);
        auto aead = Crypto::Aead::create(crypto::AeadAlgorithm::aes_256_gcm, key_);
        aead->seal(nonce, associated_data(purpose), out, at);
        return out;
    }
    template <class Crypto>
    Opened open_bytes(ByteView sealed, std::string_view purpose) const {
        Opened result;
        if (sealed.size() < 16 + 12 + 16) return result;
        result.our_key = constant_time_equal(sealed.first(16), name_);
        if (!result.our_key) return result;
        const std::size_t length = sealed.size() - 28 - 16;
        SecretBytes text(sealed.begin() + 28, sealed.end() - 16);
        auto aead = Crypto::Aead::create(crypto::AeadAlgorithm::aes_256_gcm, key_);
        if (!aead->open_in_place(sealed.subspan(16, 12), associated_data(purpose), MutableByteView(text.data(), length),
                                 sealed.last(16)))
            return result;
        result.plaintext = std::move(text);
        return result;
    }

private:
    Bytes associated_data(std::string_view purpose) const {
        Bytes aad(name_.begin(), name_.end());
        append(aad, as_bytes(purpose));
        return aad;
    }

    Bytes name_;
    SecretBytes key_;
};

/// What a stateless HelloRetryRequest cookie (RFC 8446 4.2.2) carries, so that any
/// server holding the cookie key can take the second ClientHello without having kept
/// anything: Hash(ClientHello1) for the synthetic message_hash of the transcript (4.4.1),
/// and what the HelloRetryRequest said, so its exact bytes can be rebuilt.
struct HelloRetryCookie {
    static constexpr std::string_view purpose = "tls13 hello retry cookie";
    std::uint64_t issued_us = 0;       // wall clock, for the cookie lifetime
    std::uint16_t cipher_suite = 0;    // the suite of the HelloRetryRequest
    std::uint16_t group = 0;           // the group the server chose
    bool group_in_retry = false;       // the HelloRetryRequest named it (key_share extension)
    bool change_cipher_spec_sent = false;  // middlebox compatibility CCS already sent
    Bytes session_id;                  // ClientHello1.legacy_session_id (echoed in the HRR)
    Bytes client_hello1_hash;

    Bytes serialize() const {
        Bytes out;
        wire::Writer w(out);
        w.u8(1);  // format version
        w.u64(issued_us);
        w.u16(cipher_suite);
        w.u16(group);
        w.u8(static_cast<std::uint8_t>((group_in_retry ? 1 : 0) | (change_cipher_spec_sent ? 2 : 0)));
        w.prefixed(1, session_id);
        w.prefixed(1, client_hello1_hash);
        return out;
    }
    static std::optional<HelloRetryCookie> parse(ByteView data) {
        wire::Reader r(data);
        HelloRetryCookie c;
        if (r.u8() != 1) return std::nullopt;
        c.issued_us = r.u64();
        c.cipher_suite = r.u16();
        c.group = r.u16();
        const auto flags = r.u8();
        auto id = r.prefixed(1);
        auto hash = r.prefixed(1);
        if (!r.at_end() || flags > 3 || id.size() > 32 || hash.empty()) return std::nullopt;
        c.group_in_retry = flags & 1;
        c.change_cipher_spec_sent = flags & 2;
        c.session_id.assign(id.begin(), id.end());
        c.client_hello1_hash.assign(hash.begin(), hash.end());
        return c;
    }
};

/// 0-RTT freshness (RFC 8446 8.3): the client's view of the ticket age (its reported
/// age, de-obfuscated) and the server's (now - issue time) must agree within `window`.
/// A client that rounds its age down never reports more than the server has seen; one
/// reporting much less (a replay captured long ago) or much more is refused.
inline bool ticket_age_fresh(std::uint64_t issued_us, std::uint32_t client_age_ms, std::uint64_t now_us,
                             std::chrono::milliseconds window) {
    if (now_us < issued_us || window.count() < 0) return false;
    const std::uint64_t server_age_us = now_us - issued_us;
    const std::uint64_t client_age_us = std::uint64_t{client_age_ms} * 1000;
    const std::uint64_t gap = server_age_us > client_age_us ? server_age_us - client_age_us : client_age_us - server_age_us;
    return gap <= static_cast<std::uint64_t>(window.count()) * 1000;
}

/// The ticket age a client reports in obfuscated form (4.2.11.1), de-obfuscated.
inline std::uint32_t client_ticket_age_ms(std::uint32_t obfuscated_age, std::uint32_t age_add) {
    return obfuscated_age - age_add;  // modulo 2^32
}

/// Server-side 0-RTT anti-replay (RFC 8446 8.1): a ticket admits early data at most once.
/// Entries are forgotten once their ticket has expired, so memory is bounded by the
/// number of tickets used for 0-RTT within one ticket lifetime, and by `capacity`: a
/// full store refuses early data (fail closed) rather than forget a live ticket.
/// Expiry runs in time order: a min-heap by expiry time beside a hash set of the ids, so
/// each call costs O(log n) amortised, never a scan of every entry.
class AntiReplay {
public:
    enum class Verdict { first_use, replayed, store_full };

    explicit AntiReplay(std::size_t capacity = 1u << 20) : capacity_(capacity) {}

    /// First presentation of `unique_id` with early data (remembered until `expires_ms`),
    /// a replay, or no room left. `now_ms` is the caller's wall clock (wall_now).
    Verdict check(ByteView unique_id, std::uint64_t expires_ms, std::uint64_t now_ms) {
        std::lock_guard lock(mutex_);
        forget_expired(now_ms);
        std::string id(unique_id.begin(), unique_id.end());
        if (used_.count(id)) return Verdict::replayed;
        if (used_.size() >= capacity_) return Verdict::store_full;
        used_.insert(id);
        by_expiry_.push({expires_ms, std::move(id)});
        return Verdict::first_use;
    }
    /// True the first time a ticket id is presented with early data; false after (or when full).
    bool first_use(ByteView unique_id, std::uint64_t expires_ms, std::uint64_t now_ms) {
        return check(unique_id, expires_ms, now_ms) == Verdict::first_use;
    }
    std::size_t size() const {
        std::lock_guard lock(mutex_);
        return used_.size();
    }

private:
    struct Entry {
        std::uint64_t expires_ms;
        std::string id;
        bool operator>(const Entry& other) const { return expires_ms > other.expires_ms; }
    };
    /// Expired tickets cannot come back (the server refuses them first), so their ids go,
    /// earliest expiry first, stopping at the first live one.
    void forget_expired(std::uint64_t now_ms) {
        while (!by_expiry_.empty() && by_expiry_.top().expires_ms < now_ms) {
            used_.erase(by_expiry_.top().id);
            by_expiry_.pop();
        }
    }

    mutable std::mutex mutex_;
    std::size_t capacity_;
    std::unordered_set<std::string> used_;
    std::priority_queue<Entry, std::vector<Entry>, std::greater<Entry>> by_expiry_;
};

}  // namespace tapsec::tls13
