// Resumption state (RFC 8446 4.6.1, 8): the server's stateless tickets (everything
// needed to resume, AEAD-sealed under a server ticket key), the client's stored
// session (what goes into CommonConfig::session_cache), and the server's 0-RTT
// anti-replay (each ticket admits early data once).
#pragma once

#include <chrono>
#include <mutex>
#include <optional>
#include <map>
#include <string>

#include "../core/bytes.hpp"
#include "../core/wire.hpp"
#include "cipher_suites.hpp"
#include "key_schedule.hpp"

namespace tapsec::tls13 {

inline std::uint64_t unix_millis(std::chrono::system_clock::time_point t = std::chrono::system_clock::now()) {
    return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count());
}
inline std::uint64_t unix_micros(std::chrono::system_clock::time_point t = std::chrono::system_clock::now()) {
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

    Bytes serialize() const {
        Bytes out;
        wire::Writer w(out);
        w.u8(2);  // format version (2: issue time in microseconds)
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
        return out;
    }
    static std::optional<SessionState> parse(ByteView data) {
        wire::Reader r(data);
        SessionState s;
        if (r.u8() != 2) return std::nullopt;
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
        if (!r.at_end() || !suite || psk.empty()) return std::nullopt;
        s.suite = suite;
        s.psk.assign(psk.begin(), psk.end());
        s.alpn.assign(alpn.begin(), alpn.end());
        s.server_name.assign(name.begin(), name.end());
        s.ticket.assign(ticket.begin(), ticket.end());
        s.unique_id.assign(id.begin(), id.end());
        return s;
    }
    /// Milliseconds since issue, rounded down (the ticket age of RFC 8446 4.2.11).
    std::uint64_t age_ms(std::uint64_t now_us = unix_micros()) const {
        return now_us < issued_us ? 0 : (now_us - issued_us) / 1000;
    }
    std::uint64_t expires_ms() const { return issued_us / 1000 + std::uint64_t{lifetime_s} * 1000; }
    bool expired(std::uint64_t now_us = unix_micros()) const {
        return now_us < issued_us || now_us - issued_us > std::uint64_t{lifetime_s} * 1'000'000;
    }
};

/// The server's ticket-sealing key (AES-256-GCM). Share one between servers that should
/// accept each other's tickets; rotate by replacing it.
class TicketKey {
public:
    template <class Crypto>
    static std::shared_ptr<TicketKey> generate() {
        auto k = std::make_shared<TicketKey>();
        k->key_.resize(32);
        Crypto::random(k->key_);
        k->name_.resize(16);
        Crypto::random(k->name_);
        return k;
    }
    static std::shared_ptr<TicketKey> from_bytes(ByteView key_name16, ByteView key32) {
        auto k = std::make_shared<TicketKey>();
        k->name_.assign(key_name16.begin(), key_name16.end());
        k->key_.assign(key32.begin(), key32.end());
        return k;
    }

    /// ticket = key_name(16) || nonce(12) || AES-256-GCM(state), AAD = key_name.
    template <class Crypto>
    Bytes seal(const SessionState& state) const {
        Bytes out(name_.begin(), name_.end());
        Bytes nonce(12);
        Crypto::random(nonce);
        append(out, nonce);
        const std::size_t at = out.size();
        auto plain = state.serialize();
        append(out, plain);
        secure_zero(plain.data(), plain.size());
        auto aead = Crypto::Aead::create(crypto::AeadAlgorithm::aes_256_gcm, key_);
        aead->seal(nonce, name_, out, at);
        return out;
    }
    template <class Crypto>
    std::optional<SessionState> open(ByteView ticket) const {
        if (ticket.size() < 16 + 12 + 16 || !constant_time_equal(ticket.first(16), name_)) return std::nullopt;
        Bytes buffer(ticket.begin() + 28, ticket.end());
        auto aead = Crypto::Aead::create(crypto::AeadAlgorithm::aes_256_gcm, key_);
        if (!aead->open(ticket.subspan(16, 12), name_, buffer)) return std::nullopt;
        auto s = SessionState::parse(buffer);
        secure_zero(buffer.data(), buffer.size());
        return s;
    }

private:
    Bytes name_;
    SecretBytes key_;
};

/// Server-side 0-RTT anti-replay (RFC 8446 8.1): a ticket admits early data at most once.
/// Entries are forgotten once their ticket has expired, so memory is bounded by the
/// number of tickets used for 0-RTT within one ticket lifetime.
class AntiReplay {
public:
    /// True the first time a ticket id is presented with early data; false after.
    bool first_use(ByteView unique_id, std::uint64_t expires_ms) {
        std::lock_guard lock(mutex_);
        const auto now = unix_millis();
        for (auto it = used_.begin(); it != used_.end();) {
            if (it->second < now) it = used_.erase(it);  // expired tickets cannot come back
            else ++it;
        }
        return used_.emplace(Bytes(unique_id.begin(), unique_id.end()), expires_ms).second;
    }

private:
    std::mutex mutex_;
    std::map<Bytes, std::uint64_t> used_;  // ticket id -> when the ticket expires
};

}  // namespace tapsec::tls13
