// TcpcryptRecord, the record policy, and its layer: tcpcrypt frames (RFC 8548 4.4-4.5).
//
// The handshake keys this layer through one door, the key interface the record declares:
// `TcpcryptRecord::imported_keys` (TrafficKeys: the AEAD, mk[0] and the local role) goes
// into `layer<Crypto>::import`. The layer owns what follows from mk[0]: k_ab/k_ba of each
// generation and the mk ladder that rekeying climbs, one generation per direction, each
// step erasing the previous master key.
//
// A frame is sealed into the caller's buffer and opened in place: no allocation per frame.
// The nonce carries the frame's byte offset in its direction, so a frame replayed,
// reordered or dropped by an attacker fails authentication: over TCP there is no replay
// window to keep, the stream position is the sequence number.
#pragma once

#include <algorithm>
#include <cstring>
#include <optional>

#include "../core/bytes.hpp"
#include "../core/dependencies.hpp"
#include "../core/features.hpp"
#include "../crypto/provider.hpp"
#include "errors.hpp"
#include "key_schedule.hpp"
#include "wire.hpp"

namespace tapsec::tcpcrypt {

/// The key material a tcpcrypt key exchange (fresh or resumed) hands its record.
struct TrafficKeys {
    std::uint8_t aead = 0;  // the AEAD's registry value (wire.hpp aead_id)
    SecretBytes master_key; // mk[0]
    bool role_a = false;    // this host played role A: it sends with k_ab and receives with k_ba
};

/// One opened frame: its control byte and a view of its data (inside the caller's buffer).
struct OpenedFrame {
    std::uint8_t control = 0;
    ByteView data;
    bool rekey() const { return control & control_rekey; }
};

}  // namespace tapsec::tcpcrypt

namespace tapsec {

struct TcpcryptRecord {
    static constexpr std::string_view name = "tcpcrypt frames (RFC 8548)";
    using provides = features<feature::record_protection, feature::replay_protection, feature::rekeying>;
    using needs = dependencies<dependency::reliable_byte_stream, dependency::tcp_option_negotiation>;
    static constexpr KeyImport key_import = KeyImport::direct;
    using imported_keys = tcpcrypt::TrafficKeys;

    template <class Crypto>
    class layer {
    public:
        using Aead = typename Crypto::Aead;
        using Schedule = tcpcrypt::KeySchedule<Crypto>;

        /// The record's import of its key material (the only way a handshake keys it).
        std::error_code import(const tcpcrypt::TrafficKeys& keys) {
            auto alg = tcpcrypt::aead_algorithm(keys.aead);
            if (!alg || keys.master_key.size() != tcpcrypt::k_len) return tcpcrypt::Error::invalid_configuration;
            algorithm_ = *alg;
            role_a_ = keys.role_a;
            send_.master = receive_.master = keys.master_key;
            send_.generation = receive_.generation = 0;
            send_.offset = receive_.offset = 0;
            if (auto ec = key(send_, true)) return ec;
            return key(receive_, false);
        }
        bool keyed() const noexcept { return send_.aead.has_value(); }

        /// Seals `data` (at most max_frame_payload bytes) as one frame at the front of
        /// `out`; returns the frame's size. With `rekey` the control byte announces that
        /// the frames after this one use the next generation's key.
        Result<std::size_t> seal(ByteView data, bool rekey, MutableByteView out) {
            if (!keyed()) return make_error_code(tcpcrypt::Error::not_established);
            if (data.size() > tcpcrypt::max_frame_payload) return make_error_code(Errc::record_overflow);
            const std::size_t length = 1 + data.size() + tcpcrypt::tag_size;
            const std::size_t total = tcpcrypt::frame_length_size + length;
            if (out.size() < total) return make_error_code(Errc::internal_error);
            out[0] = static_cast<std::uint8_t>(length >> 8);
            out[1] = static_cast<std::uint8_t>(length);
            out[2] = rekey ? tcpcrypt::control_rekey : 0;
            if (!data.empty()) std::memmove(out.data() + 3, data.data(), data.size());
            const auto nonce = tcpcrypt::frame_nonce(send_.offset);
            send_.aead->seal_in_place(nonce, out.first(tcpcrypt::frame_length_size),
                                      out.subspan(tcpcrypt::frame_length_size, 1 + data.size()),
                                      out.subspan(3 + data.size(), tcpcrypt::tag_size));
            send_.offset += total;
            if (rekey) {
                if (auto ec = advance(send_, true)) return ec;
            }
            return total;
        }

        /// Opens the whole frame `frame` (as tcpcrypt::frame_size measured it) in place.
        /// Nothing advances unless it authenticates; a frame with the rekey bit moves
        /// the receive direction to the next generation for the frames after it.
        Result<tcpcrypt::OpenedFrame> open(MutableByteView frame) {
            if (!keyed()) return make_error_code(tcpcrypt::Error::not_established);
            auto size = tcpcrypt::frame_size(frame);
            if (!size) return size.error();
            if (!*size || **size != frame.size()) return make_error_code(tcpcrypt::Error::malformed_frame);
            const auto nonce = tcpcrypt::frame_nonce(receive_.offset);
            auto text = frame.subspan(tcpcrypt::frame_length_size, frame.size() - tcpcrypt::frame_length_size - tcpcrypt::tag_size);
            if (!receive_.aead->open_in_place(nonce, frame.first(tcpcrypt::frame_length_size), text, frame.last(tcpcrypt::tag_size)))
                return make_error_code(tcpcrypt::Error::frame_authentication_failed);
            receive_.offset += frame.size();
            tcpcrypt::OpenedFrame opened{text[0], ByteView(text.data() + 1, text.size() - 1)};
            if (opened.control & ~tcpcrypt::control_rekey) return make_error_code(tcpcrypt::Error::reserved_control_bits);
            if (opened.rekey()) {
                if (auto ec = advance(receive_, false)) return ec;
            }
            return opened;
        }

        std::uint64_t send_generation() const noexcept { return send_.generation; }
        std::uint64_t receive_generation() const noexcept { return receive_.generation; }
        std::uint64_t send_offset() const noexcept { return send_.offset; }
        crypto::AeadAlgorithm algorithm() const noexcept { return algorithm_; }

    private:
        struct Direction {
            SecretBytes master;  // mk[generation]
            std::uint64_t generation = 0;
            std::uint64_t offset = 0;  // bytes of frames so far in this direction
            std::optional<Aead> aead;
        };
        /// Keys a direction from its current master key: A sends with k_ab, B with k_ba.
        std::error_code key(Direction& d, bool sending) {
            const bool ab = sending == role_a_;
            const auto length = crypto::key_size(algorithm_);
            const SecretBytes k = ab ? Schedule::key_ab(d.master, length) : Schedule::key_ba(d.master, length);
            auto aead = Aead::create(algorithm_, k);
            if (!aead) return aead.error();
            d.aead.emplace(std::move(*aead));
            return {};
        }
        std::error_code advance(Direction& d, bool sending) {
            d.master = Schedule::next_master_key(d.master);  // mk[j-1] is overwritten: gone
            ++d.generation;
            return key(d, sending);
        }

        crypto::AeadAlgorithm algorithm_{};
        bool role_a_ = false;
        Direction send_, receive_;
    };
};

}  // namespace tapsec
