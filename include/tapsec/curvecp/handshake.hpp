// CurveCP's handshake (curvecp.org/packets.html): Hello -> Cookie -> Initiate.
//
// The client boxes 64 zero bytes from a fresh short-term key C' to the server's
// long-term key S (Hello). The server answers without keeping any state (DoS
// mitigation): it draws a short-term key S' and returns it with a cookie K, its own
// s' and the client's C' under a minute key only it knows (Cookie). The client then
// sends C', K and, boxed C'->S', its long-term key C, a vouch (C' boxed C->S: the
// long-term key stands behind the short-term one), the server's name and the first
// message (Initiate). The server recovers s' from K (current or previous minute key),
// checks that K names the same C', and from then on both sides box under C'S'.
#pragma once

#include <array>
#include <cstring>
#include <functional>
#include <memory>
#include <optional>

#include "../core/engine.hpp"
#include "../crypto/nacl_box.hpp"
#include "config.hpp"
#include "errors.hpp"
#include "record.hpp"
#include "wire.hpp"

namespace tapsec::curvecp {

namespace nacl = crypto::nacl;
using RandomSource = std::function<void(MutableByteView)>;

/// The server's cookie keys: a fresh random key every interval, and the one before it
/// still accepted, so a cookie is valid for one to two intervals and never longer.
class MinuteKeys {
public:
    MinuteKeys(std::chrono::nanoseconds interval, RandomSource random) : interval_(interval), random_(std::move(random)) {}

    void rotate(Instant now) {
        if (!started_) {
            random_(current_);
            random_(previous_);
            next_ = now + interval_;
            started_ = true;
            return;
        }
        if (now < next_) return;
        if (now >= next_ + interval_) {
            random_(previous_);  // two or more intervals passed: nothing old survives
        } else {
            previous_ = current_;
        }
        random_(current_);
        next_ = now + interval_;
    }
    const SecretArray<32>& current() const noexcept { return current_; }
    const SecretArray<32>& previous() const noexcept { return previous_; }
    Instant next_rotation() const noexcept { return next_; }

private:
    std::chrono::nanoseconds interval_;
    RandomSource random_;
    SecretArray<32> current_, previous_;
    Instant next_{};
    bool started_ = false;
};

/// The client's half.
class ClientHandshake {
public:
    ClientHandshake(const Config& config, RandomSource random) : random_(std::move(random)) {
        if (!config.server_public_key) {
            error_ = make_error_code(Error::invalid_configuration);
            return;
        }
        auto name = wire::encode_name(config.server_name);
        if (!name) {
            error_ = make_error_code(Error::invalid_configuration);
            return;
        }
        name_ = *name;
        server_key_ = *config.server_public_key;
        server_extension_ = config.server_extension;
        client_extension_ = config.client_extension;
        long_term_ = config.long_term_key ? *config.long_term_key : generate_key_pair(random_);
        short_term_ = generate_key_pair(random_);
        // The counter starts at a random point below 2^48, as curvecpclient's does.
        std::array<std::uint8_t, 8> r{};
        random_(r);
        nonce_ = wire::load_le64(r.data()) & ((std::uint64_t{1} << 48) - 1);
        auto short_server = nacl::box_beforenm(server_key_, short_term_.secret_key);
        auto long_server = nacl::box_beforenm(server_key_, long_term_.secret_key);
        if (!short_server || !long_server) {
            error_ = make_error_code(Error::invalid_configuration);
            return;
        }
        short_server_ = *short_server;
        long_server_ = *long_server;
    }
    std::error_code error() const noexcept { return error_; }
    const PublicKey& short_term_public() const noexcept { return short_term_.public_key; }
    const PublicKey& long_term_public() const noexcept { return long_term_.public_key; }

    /// Writes the next Hello (224 bytes) into `out`.
    std::size_t hello(MutableByteView out) {
        std::uint8_t* p = out.data();
        std::uint8_t* at = wire::put_header(p, wire::hello_magic, server_extension_, client_extension_);
        std::memcpy(at, short_term_.public_key.data(), 32);
        std::memset(p + 72, 0, 64 + 8 + 80);
        const std::uint64_t n = ++nonce_;
        wire::store_le64(p + 136, n);
        nacl::SecretBox(short_server_).seal(wire::counter_nonce(wire::hello_nonce, n), ByteView(p + 160, 64), p + 144);
        return wire::hello_size;
    }

    /// Checks a Cookie packet; on success returns the record's keys (the Initiate's
    /// parts included).
    Result<SessionKeys> on_cookie(ByteView packet) {
        wire::Cookie c(packet);
        if (!constant_time_equal(c.client_extension, client_extension_) ||
            !constant_time_equal(c.server_extension, server_extension_))
            return make_error_code(Error::wrong_extension);
        std::array<std::uint8_t, 128> plain{};
        if (!nacl::SecretBox(short_server_).open(wire::long_nonce(wire::cookie_nonce, c.nonce), c.box, plain.data()))
            return make_error_code(Error::box_failed);
        SessionKeys k;
        k.client = true;
        auto shared = nacl::box_beforenm(ByteView(plain.data(), 32), short_term_.secret_key);
        if (!shared) return make_error_code(Error::box_failed);
        k.key = *shared;
        std::memcpy(k.cookie.data(), plain.data() + 32, 96);
        k.client_short_key = short_term_.public_key;
        k.server_extension = server_extension_;
        k.client_extension = client_extension_;
        k.last_nonce = nonce_;
        // C | V | N, V = 16-byte nonce | Box[C'](C->S)
        k.initiate_prefix.resize(wire::initiate_inner_prefix);
        std::uint8_t* v = k.initiate_prefix.data();
        std::memcpy(v, long_term_.public_key.data(), 32);
        random_(MutableByteView(v + 32, 16));
        nacl::SecretBox(long_server_).seal(wire::long_nonce(wire::vouch_nonce, ByteView(v + 32, 16)),
                                           short_term_.public_key, v + 48);
        std::memcpy(v + 96, name_.data(), name_.size());
        secure_zero(plain.data(), plain.size());
        return k;
    }

private:
    RandomSource random_;
    std::error_code error_;
    wire::ServerName name_{};
    PublicKey server_key_{};
    wire::Extension server_extension_{}, client_extension_{};
    KeyPair long_term_, short_term_;
    nacl::Key short_server_, long_server_;
    std::uint64_t nonce_ = 0;
};

/// What a valid Initiate establishes on the server.
struct Accepted {
    SessionKeys keys;
    PublicKey client_long_term_key{};
    ByteView message;  // the Initiate's message, inside the caller's (decrypted) packet
};

/// The server's half: stateless until an Initiate checks out.
class ServerHandshake {
public:
    ServerHandshake(const Config& config, RandomSource random)
        : random_(random),
          minute_keys_(config.shared_minute_keys ? config.shared_minute_keys
                                                 : std::make_shared<MinuteKeys>(config.minute_key_interval, random)) {
        auto name = wire::encode_name(config.server_name);
        if (!config.long_term_key || !name) {
            error_ = make_error_code(Error::invalid_configuration);
            return;
        }
        name_ = *name;
        key_ = *config.long_term_key;
        server_extension_ = config.server_extension;
    }
    std::error_code error() const noexcept { return error_; }
    MinuteKeys& minute_keys() noexcept { return *minute_keys_; }

    /// Answers a Hello with a Cookie written into `out` (200 bytes).
    Result<std::size_t> on_hello(ByteView packet, MutableByteView out, Instant now) {
        wire::Hello h(packet);
        if (!constant_time_equal(h.server_extension, server_extension_)) return make_error_code(Error::wrong_extension);
        auto client_server = nacl::box_beforenm(h.client_short_key, key_.secret_key);
        if (!client_server) return make_error_code(Error::box_failed);
        std::array<std::uint8_t, 64> zeros{};
        nacl::SecretBox hello_box(*client_server);
        if (!hello_box.open(wire::counter_nonce(wire::hello_nonce, h.nonce), h.box, zeros.data()))
            return make_error_code(Error::box_failed);
        minute_keys_->rotate(now);
        // K = nonce | SecretBox[C', s'](minute key)
        KeyPair server_short = generate_key_pair(random_);
        std::array<std::uint8_t, 128 + 16> plain{};  // S' | K, boxed into the packet
        std::memcpy(plain.data(), server_short.public_key.data(), 32);
        std::uint8_t* cookie = plain.data() + 32;
        random_(MutableByteView(cookie, 16));
        SecretArray<64> inner;
        std::memcpy(inner.data(), h.client_short_key.data(), 32);
        std::memcpy(inner.data() + 32, server_short.secret_key.data(), 32);
        nacl::SecretBox(minute_keys_->current()).seal(wire::long_nonce(wire::minute_nonce, ByteView(cookie, 16)), inner, cookie + 16);
        std::uint8_t* p = out.data();
        std::uint8_t* at = wire::put_header(p, wire::cookie_magic, h.client_extension, server_extension_);
        random_(MutableByteView(at, 16));
        hello_box.seal(wire::long_nonce(wire::cookie_nonce, ByteView(at, 16)), ByteView(plain.data(), 128), p + 56);
        secure_zero(plain.data(), plain.size());
        return wire::cookie_size;
    }

    /// Checks an Initiate, decrypting it in place; on success the connection exists.
    Result<Accepted> on_initiate(MutableByteView packet, Instant now) {
        wire::Initiate in{ByteView(packet)};
        if (!constant_time_equal(in.server_extension, server_extension_)) return make_error_code(Error::wrong_extension);
        minute_keys_->rotate(now);
        // The cookie: under the current minute key, else the previous one.
        SecretArray<64> inner;
        const auto minute_n = wire::long_nonce(wire::minute_nonce, in.cookie.first(16));
        const ByteView sealed = in.cookie.subspan(16);
        if (!nacl::SecretBox(minute_keys_->current()).open(minute_n, sealed, inner.data()) &&
            !nacl::SecretBox(minute_keys_->previous()).open(minute_n, sealed, inner.data()))
            return make_error_code(Error::bad_cookie);
        if (!constant_time_equal(ByteView(inner.data(), 32), in.client_short_key)) return make_error_code(Error::bad_cookie);
        auto shared = nacl::box_beforenm(in.client_short_key, ByteView(inner.data() + 32, 32));
        if (!shared) return make_error_code(Error::box_failed);
        std::uint8_t* box_at = packet.data() + 176;
        if (!nacl::SecretBox(*shared).open(wire::counter_nonce(wire::initiate_nonce, in.nonce), in.box, box_at + 16))
            return make_error_code(Error::box_failed);
        const std::uint8_t* plain = box_at + 16;  // C 32 | V 64 | N 256 | M
        if (!constant_time_equal(ByteView(plain + 96, 256), name_)) return make_error_code(Error::wrong_server_name);
        Accepted a;
        std::memcpy(a.client_long_term_key.data(), plain, 32);
        auto long_long = nacl::box_beforenm(a.client_long_term_key, key_.secret_key);
        if (!long_long) return make_error_code(Error::bad_vouch);
        std::array<std::uint8_t, 32> vouched{};
        if (!nacl::SecretBox(*long_long).open(wire::long_nonce(wire::vouch_nonce, ByteView(plain + 32, 16)),
                                               ByteView(plain + 48, 48), vouched.data()) ||
            !constant_time_equal(vouched, in.client_short_key))
            return make_error_code(Error::bad_vouch);
        a.keys.client = false;
        a.keys.key = *shared;
        std::memcpy(a.keys.client_short_key.data(), in.client_short_key.data(), 32);
        a.keys.server_extension = server_extension_;
        std::memcpy(a.keys.client_extension.data(), in.client_extension.data(), 16);
        a.keys.peer_nonce_seen = in.nonce;
        // Our Message counter starts at a random point below 2^48 (as curvecpserver's).
        std::array<std::uint8_t, 8> r{};
        random_(r);
        a.keys.last_nonce = wire::load_le64(r.data()) & ((std::uint64_t{1} << 48) - 1);
        a.message = ByteView(plain + wire::initiate_inner_prefix, packet.size() - wire::initiate_overhead);
        return a;
    }

private:
    RandomSource random_;
    std::shared_ptr<MinuteKeys> minute_keys_;  // the engine's own, or the socket's (Config::shared_minute_keys)
    std::error_code error_;
    wire::ServerName name_{};
    KeyPair key_;
    wire::Extension server_extension_{};
};

}  // namespace tapsec::curvecp
