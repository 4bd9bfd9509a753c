// WireGuardRecord, the record policy, and its layer: transport data messages
// (whitepaper section 5.4.6). One session (keypair) seals and opens datagrams with ChaCha20-Poly1305, the nonce being 32 zero bits and the 64-bit
// little-endian counter, empty associated data, plaintext zero-padded to a multiple of
// 16 bytes. Received counters go through the shared ReplayWindow after authentication:
// 2112 bits, so each of the newest 2048 counters is accepted once, in any order
// (wireguard-go keeps 1984).
//
// The handshake reaches this layer through one door, the key interface the record
// declares: `WireGuardRecord::imported_keys` (SessionKeyMaterial) goes into
// `layer<Crypto>::import`. Sealing and opening work on caller buffers and allocate
// nothing.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstring>
#include <string_view>
#include <type_traits>

#include "../core/bytes.hpp"
#include "../core/dependencies.hpp"
#include "../core/engine.hpp"
#include "../core/features.hpp"
#include "../core/replay_window.hpp"
#include "../crypto/provider.hpp"
#include "errors.hpp"
#include "noise.hpp"
#include "timers.hpp"
#include "wire.hpp"

namespace tapsec::wireguard {

/// The key interface between WireGuard's handshake and its record (survey 6.1, direct
/// import): everything the handshake hands the record layer for one session.
struct SessionKeyMaterial {
    TransportKeys keys;  // this side's T_send and T_recv
    bool initiator = false;
    std::uint32_t local_index = 0;   // the index the peer addresses us by
    std::uint32_t remote_index = 0;  // the index we address the peer by
};

template <class Crypto>
class Session {
public:
    using Aead = typename Crypto::Aead;
    static constexpr std::size_t replay_window_bits = 2112;
    static_assert(ReplayWindow<replay_window_bits>::size >= 2048);

    /// The record's import of its key material (the only way a handshake keys it).
    static Result<Session> import(const SessionKeyMaterial& material, Instant now) {
        auto send = Aead::create(crypto::AeadAlgorithm::chacha20_poly1305, material.keys.send);
        auto receive = Aead::create(crypto::AeadAlgorithm::chacha20_poly1305, material.keys.receive);
        if (!send || !receive) return make_error_code(Errc::internal_error);
        return Session(std::move(*send), std::move(*receive), material.initiator, material.local_index,
                       material.remote_index, now);
    }
    static Result<Session> create(const TransportKeys& keys, bool initiator, std::uint32_t local_index,
                                  std::uint32_t remote_index, Instant now) {
        return import(SessionKeyMaterial{keys, initiator, local_index, remote_index}, now);
    }

    /// Bytes a sealed transport message of `plaintext_size` bytes takes (before the MTU cap).
    static constexpr std::size_t sealed_size(std::size_t plaintext_size) noexcept {
        return transport_header_size + (plaintext_size + padding_multiple - 1) / padding_multiple * padding_multiple +
               aead_tag_size;
    }

    /// Seals `plaintext` into a transport message at the front of `out` and returns its
    /// size. Returns key_expired when the session may not send any more
    /// (REJECT_AFTER_TIME / REJECT_AFTER_MESSAGES). `mtu` (0: none) caps the padding as
    /// the kernel and wireguard-go do: a packet that fits the MTU is never padded beyond it.
    Result<std::size_t> seal(ByteView plaintext, MutableByteView out, Instant now, const TimerSettings& limits,
                             std::size_t mtu = 0) {
        if (!can_send(now, limits)) return make_error_code(Error::key_expired);
        std::size_t padded = (plaintext.size() + padding_multiple - 1) / padding_multiple * padding_multiple;
        if (mtu && plaintext.size() <= mtu) padded = std::min(padded, mtu);
        const std::size_t total = transport_header_size + padded + aead_tag_size;
        if (out.size() < total) return make_error_code(Errc::internal_error);
        const std::uint64_t counter = send_counter_++;
        write_transport_header(out.data(), TransportHeader{remote_index_, counter});
        std::uint8_t* body = out.data() + transport_header_size;
        if (!plaintext.empty()) std::memmove(body, plaintext.data(), plaintext.size());
        std::memset(body + plaintext.size(), 0, padded - plaintext.size());
        send_.seal_in_place(nonce(counter), {}, MutableByteView(body, padded), MutableByteView(body + padded, aead_tag_size));
        return total;
    }
    /// The same into a growable buffer (kept for callers that own Bytes).
    std::error_code seal(ByteView plaintext, Bytes& out, Instant now, const TimerSettings& limits, std::size_t mtu = 0) {
        out.resize(sealed_size(plaintext.size()));
        auto n = seal(plaintext, MutableByteView(out), now, limits, mtu);
        if (!n) {
            out.clear();
            return n.error();
        }
        out.resize(*n);
        return {};
    }

    /// Opens a transport message addressed to this session into `plaintext` (which
    /// needs message.size() - transport_min_size bytes) and returns the padded inner
    /// packet's length (0 for a keepalive). Nothing changes unless it authenticates.
    Result<std::size_t> open(ByteView message, std::uint64_t counter, MutableByteView plaintext, Instant now,
                             const TimerSettings& limits) {
        if (now - created_ >= limits.reject_after_time || counter >= limits.reject_after_messages)
            return make_error_code(Error::key_expired);
        switch (replay_.check(counter)) {
            case ReplayVerdict::replayed: return make_error_code(Error::replayed_counter);
            case ReplayVerdict::too_old: return make_error_code(Error::counter_too_old);
            case ReplayVerdict::fresh: break;
        }
        const std::size_t length = message.size() - transport_min_size;
        if (plaintext.size() < length) return make_error_code(Errc::internal_error);
        if (length) std::memcpy(plaintext.data(), message.data() + transport_header_size, length);
        if (!receive_.open_in_place(nonce(counter), {}, MutableByteView(plaintext.data(), length),
                                    message.subspan(transport_header_size + length, aead_tag_size)))
            return make_error_code(Error::transport_decrypt_failed);
        if (!replay_.commit(counter)) return make_error_code(Error::replayed_counter);
        return length;
    }
    /// The same into a growable buffer: on success `plaintext` holds the padded inner packet.
    std::error_code open(ByteView message, std::uint64_t counter, Bytes& plaintext, Instant now, const TimerSettings& limits) {
        plaintext.resize(message.size() - transport_min_size);
        auto n = open(message, counter, MutableByteView(plaintext), now, limits);
        if (!n) return n.error();
        plaintext.resize(*n);
        return {};
    }

    bool can_send(Instant now, const TimerSettings& limits) const {
        return now - created_ < limits.reject_after_time && send_counter_ < limits.reject_after_messages;
    }
    /// Time or message count say this session should be replaced soon.
    bool wants_rekey(Instant now, const TimerSettings& limits) const {
        return send_counter_ >= limits.rekey_after_messages || (initiator_ && now - created_ >= limits.rekey_after_time);
    }

    bool initiator() const noexcept { return initiator_; }
    Instant created() const noexcept { return created_; }
    std::uint32_t local_index() const noexcept { return local_index_; }
    std::uint32_t remote_index() const noexcept { return remote_index_; }
    std::uint64_t send_counter() const noexcept { return send_counter_; }
    /// For tests: jump the send counter (exercises REKEY/REJECT_AFTER_MESSAGES).
    void set_send_counter(std::uint64_t counter) noexcept { send_counter_ = counter; }

private:
    Session(Aead send, Aead receive, bool initiator, std::uint32_t local_index, std::uint32_t remote_index, Instant now)
        : send_(std::move(send)), receive_(std::move(receive)), initiator_(initiator), local_index_(local_index),
          remote_index_(remote_index), created_(now) {}

    static std::array<std::uint8_t, 12> nonce(std::uint64_t counter) {
        std::array<std::uint8_t, 12> n{};
        for (int i = 0; i < 8; ++i) n[static_cast<std::size_t>(4 + i)] = static_cast<std::uint8_t>(counter >> (8 * i));
        return n;
    }

    Aead send_, receive_;
    bool initiator_;
    std::uint32_t local_index_, remote_index_;
    Instant created_;
    std::uint64_t send_counter_ = 0;
    ReplayWindow<replay_window_bits> replay_;
};

/// What the WireGuard engine asks of a record layer: keyed only through import of the
/// record's imported_keys, then sealing and opening on caller buffers, and the session
/// facts the whitepaper's timers need.
template <class L>
concept TransportLayer = std::movable<L> &&
    requires(L l, const L cl, const SessionKeyMaterial& keys, ByteView in, MutableByteView out, Instant now,
             const TimerSettings& limits) {
        { L::import(keys, now) } -> std::same_as<Result<L>>;
        { L::sealed_size(std::size_t{}) } -> std::same_as<std::size_t>;
        { l.seal(in, out, now, limits, std::size_t{}) } -> std::same_as<Result<std::size_t>>;
        { l.open(in, std::uint64_t{}, out, now, limits) } -> std::same_as<Result<std::size_t>>;
        { cl.can_send(now, limits) } -> std::same_as<bool>;
        { cl.wants_rekey(now, limits) } -> std::same_as<bool>;
        { cl.initiator() } -> std::same_as<bool>;
        { cl.created() } -> std::same_as<Instant>;
        { cl.local_index() } -> std::same_as<std::uint32_t>;
    };

}  // namespace tapsec::wireguard

namespace tapsec {

struct WireGuardRecord {
    static constexpr std::string_view name = "WireGuard transport data";
    // LHP: every transport plaintext is zero-padded to a multiple of 16 bytes (the
    // survey's "S+: for transport packets only").
    using provides = features<feature::LHP, feature::record_protection, feature::replay_protection,
                              feature::out_of_order_receipt>;
    using intrinsic = features<feature::record_protection, feature::replay_protection>;
    using needs = dependencies<dependency::datagram>;
    static constexpr KeyImport key_import = KeyImport::direct;
    using imported_keys = wireguard::SessionKeyMaterial;
    /// The record protocol itself, for the provider the composition names.
    template <class Crypto>
    using layer = wireguard::Session<Crypto>;
};

}  // namespace tapsec
