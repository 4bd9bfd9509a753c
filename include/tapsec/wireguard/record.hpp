// Transport data messages (whitepaper section 5.4.6): one session (keypair) seals and
// opens datagrams with ChaCha20-Poly1305, the nonce being 32 zero bits and the 64-bit
// little-endian counter, empty associated data, plaintext zero-padded to a multiple of
// 16 bytes. Received counters go through the shared ReplayWindow after authentication:
// 2112 bits, so each of the newest 2048 counters is accepted once, in any order
// (wireguard-go keeps 1984).
#pragma once

#include <algorithm>
#include <chrono>
#include <cstring>

#include "../core/bytes.hpp"
#include "../core/engine.hpp"
#include "../core/replay_window.hpp"
#include "../crypto/provider.hpp"
#include "errors.hpp"
#include "noise.hpp"
#include "timers.hpp"
#include "wire.hpp"

namespace tapsec::wireguard {

template <class Crypto>
class Session {
public:
    using Aead = typename Crypto::Aead;
    static constexpr std::size_t replay_window_bits = 2112;
    static_assert(ReplayWindow<replay_window_bits>::size >= 2048);

    static Result<Session> create(const TransportKeys& keys, bool initiator, std::uint32_t local_index,
                                  std::uint32_t remote_index, Instant now) {
        auto send = Aead::create(crypto::AeadAlgorithm::chacha20_poly1305, keys.send);
        auto receive = Aead::create(crypto::AeadAlgorithm::chacha20_poly1305, keys.receive);
        if (!send || !receive) return make_error_code(Errc::internal_error);
        return Session(std::move(*send), std::move(*receive), initiator, local_index, remote_index, now);
    }

    /// Seals `plaintext` into a transport message. Returns key_expired when the
    /// session may not send any more (REJECT_AFTER_TIME / REJECT_AFTER_MESSAGES).
    /// `mtu` (0: none) caps the padding as the kernel and wireguard-go do: a packet that
    /// fits the MTU is never padded beyond it.
    std::error_code seal(ByteView plaintext, Bytes& out, Instant now, const TimerSettings& limits, std::size_t mtu = 0) {
        if (!can_send(now, limits)) return make_error_code(Error::key_expired);
        std::size_t padded = (plaintext.size() + padding_multiple - 1) / padding_multiple * padding_multiple;
        if (mtu && plaintext.size() <= mtu) padded = std::min(padded, mtu);
        out.resize(transport_header_size + padded + aead_tag_size);
        const std::uint64_t counter = send_counter_++;
        write_transport_header(out.data(), TransportHeader{remote_index_, counter});
        std::uint8_t* body = out.data() + transport_header_size;
        if (!plaintext.empty()) std::memcpy(body, plaintext.data(), plaintext.size());
        std::memset(body + plaintext.size(), 0, padded - plaintext.size());
        send_.seal_in_place(nonce(counter), {}, MutableByteView(body, padded),
                            MutableByteView(body + padded, aead_tag_size));
        return {};
    }

    /// Opens a transport message addressed to this session. On success `plaintext`
    /// holds the padded inner packet (empty for a keepalive).
    std::error_code open(ByteView message, std::uint64_t counter, Bytes& plaintext, Instant now, const TimerSettings& limits) {
        if (now - created_ >= limits.reject_after_time || counter >= limits.reject_after_messages)
            return make_error_code(Error::key_expired);
        switch (replay_.check(counter)) {
            case ReplayVerdict::replayed: return make_error_code(Error::replayed_counter);
            case ReplayVerdict::too_old: return make_error_code(Error::counter_too_old);
            case ReplayVerdict::fresh: break;
        }
        const std::size_t length = message.size() - transport_min_size;
        plaintext.resize(length);
        if (length) std::memcpy(plaintext.data(), message.data() + transport_header_size, length);
        if (!receive_.open_in_place(nonce(counter), {}, MutableByteView(plaintext.data(), length),
                                    message.subspan(transport_header_size + length, aead_tag_size)))
            return make_error_code(Error::transport_decrypt_failed);
        if (!replay_.commit(counter)) return make_error_code(Error::replayed_counter);
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

}  // namespace tapsec::wireguard
