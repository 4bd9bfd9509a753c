// A pre-shared key keys an AEAD datagram record: the smallest composition that
// exercises the whole engine contract. One datagram on the wire:
//   nonce prefix (4) | counter (8) | ciphertext | tag (16)
// The header is the AEAD nonce and its associated data. The prefix is drawn at random
// per connection, so two connections under the same PSK do not reuse a nonce (a real
// protocol would derive fresh keys per connection in a handshake instead).
#pragma once

#include <tapsec/core/config.hpp>
#include <tapsec/core/dependencies.hpp>
#include <tapsec/core/engine.hpp>
#include <tapsec/core/replay_window.hpp>
#include <tapsec/core/wire.hpp>
#include <tapsec/crypto/provider.hpp>

#include <array>
#include <deque>

namespace psk_datagram {

using namespace tapsec;

/// The kind of key that flows from handshake to record (the key interface).
struct Keys {
    SecretBytes send_key, receive_key;
};

enum class Error { malformed = 1, authentication_failed, replayed, no_key };
inline const char* describe(Error e) {
    switch (e) {
        case Error::malformed: return "malformed datagram";
        case Error::authentication_failed: return "datagram failed authentication";
        case Error::replayed: return "replayed datagram";
        case Error::no_key: return "no pre-shared key configured";
    }
    return "unknown psk-datagram error";
}
constexpr condition condition_of(Error e) noexcept {  // the shared vocabulary
    switch (e) {
        case Error::malformed: return condition::peer_misbehaved;
        case Error::authentication_failed: return condition::authentication_failed;
        case Error::replayed: return condition::replayed;
        case Error::no_key: return condition::configuration;
    }
    return condition::internal;
}
inline std::error_code make_error_code(Error e) {
    static const ProtocolErrorCategory<Error> category("psk-datagram");
    return {static_cast<int>(e), category};
}

/// The record policy and its layer: keyed only through import(Keys).
struct Record {
    static constexpr std::string_view name = "PSK datagram record";
    using provides = features<feature::record_protection, feature::replay_protection, feature::out_of_order_receipt>;
    using needs = dependencies<dependency::datagram>;
    static constexpr KeyImport key_import = KeyImport::explicit_import;
    using imported_keys = Keys;

    template <class Crypto>
    class layer {
    public:
        static constexpr std::size_t header = 4 + 8, overhead = header + 16;

        std::error_code import(const Keys& keys) {
            auto seal = Crypto::Aead::create(crypto::AeadAlgorithm::chacha20_poly1305, keys.send_key);
            auto open = Crypto::Aead::create(crypto::AeadAlgorithm::chacha20_poly1305, keys.receive_key);
            if (!seal) return seal.error();
            if (!open) return open.error();
            seal_.emplace(std::move(*seal));
            open_.emplace(std::move(*open));
            return {};
        }
        /// Protects `plaintext` into `out` (the caller's buffer); returns the size.
        std::size_t protect(ByteView prefix, ByteView plaintext, MutableByteView out) {
            const std::uint64_t counter = next_counter_++;
            std::copy(prefix.begin(), prefix.end(), out.begin());
            for (int i = 0; i < 8; ++i) out[4 + i] = static_cast<std::uint8_t>(counter >> (56 - 8 * i));
            std::copy(plaintext.begin(), plaintext.end(), out.begin() + header);
            seal_->seal_in_place(out.first(header), out.first(header), out.subspan(header, plaintext.size()),
                                 out.subspan(header + plaintext.size(), 16));
            return plaintext.size() + overhead;
        }
        /// Opens `datagram` in place; the plaintext is a view into it.
        Result<ByteView> unprotect(MutableByteView datagram) {
            if (datagram.size() < overhead) return make_error_code(Error::malformed);
            std::uint64_t counter = 0;
            for (int i = 0; i < 8; ++i) counter = counter << 8 | datagram[4 + i];
            if (replay_.check(counter) != ReplayVerdict::fresh) return make_error_code(Error::replayed);
            auto text = datagram.subspan(header, datagram.size() - overhead);
            if (!open_->open_in_place(datagram.first(header), datagram.first(header), text, datagram.last(16)))
                return make_error_code(Error::authentication_failed);
            replay_.commit(counter);  // only after the datagram authenticated
            return ByteView(text);
        }

    private:
        std::optional<typename Crypto::Aead> seal_, open_;
        std::uint64_t next_counter_ = 0;
        ReplayWindow<> replay_;
    };
};

/// The engine: the "handshake" imports the configured PSK (survey 6.1) and derives one
/// key per direction with the provider's HKDF; the record does the rest.
template <class R, class Crypto>
class Engine {
public:
    Engine(Role role, const CommonConfig& config) {
        if (config.pre_shared_keys.empty()) {
            failure_ = make_error_code(Error::no_key);
            return;
        }
        const auto& psk = config.pre_shared_keys.front().key;
        const auto prk = Crypto::hkdf_extract(crypto::HashAlgorithm::sha256, {}, psk);
        auto key = [&](std::string_view label) {
            return Crypto::hkdf_expand(crypto::HashAlgorithm::sha256, prk, as_bytes(label), 32);
        };
        const bool client = role == Role::client;
        Keys keys{key(client ? "client" : "server"), key(client ? "server" : "client")};
        failure_ = record_.import(keys);  // the key interface, and nothing else
        draw_random<Crypto>(config, prefix_);  // injected randomness: one mechanism
    }

    std::error_code start(Instant) { return failure_; }
    std::error_code receive(ByteView in, const Endpoint&, Instant) {
        if (failure_) return failure_;
        received_.assign(in.begin(), in.end());  // capacity reused after warm-up
        auto plain = record_.unprotect(received_);
        if (!plain) {  // invalid datagrams are dropped and counted, never fatal
            ++dropped_;
            if (events_.size() < 16) events_.push_back({.kind = EventKind::dropped_packet, .detail = {}, .reason = plain.error()});
            return {};
        }
        plaintext_ = *plain;
        return {};
    }
    std::error_code send(ByteView data, Instant) {
        if (failure_) return failure_;
        if (data.size() + R::template layer<Crypto>::overhead > max_transmit_size) return Errc::invalid_configuration;
        pending_send_.assign(data.begin(), data.end());
        has_send_ = true;
        return {};
    }
    // The allocation-free contract: write into the caller's buffer, lend plaintext.
    std::optional<TransmitInfo> poll_transmit(MutableByteView out) {
        if (!has_send_) return std::nullopt;
        has_send_ = false;
        return TransmitInfo{record_.protect(prefix_, pending_send_, out), std::nullopt};
    }
    std::optional<ByteView> poll_plaintext() {
        auto view = plaintext_;
        plaintext_.reset();
        return view;
    }
    // The owning form, for callers that want it.
    std::optional<Transmit> poll_transmit() {
        Bytes buffer(max_transmit_size);
        auto info = poll_transmit(buffer);
        if (!info) return std::nullopt;
        buffer.resize(info->size);
        return Transmit{std::move(buffer), std::nullopt};
    }
    std::optional<Bytes> poll_application_data() {
        auto view = poll_plaintext();
        if (!view) return std::nullopt;
        return Bytes(view->begin(), view->end());
    }
    std::optional<Event> poll_event() {
        if (events_.empty()) return std::nullopt;
        Event e = events_.front();
        events_.pop_front();
        return e;
    }
    std::optional<Instant> next_timeout() { return std::nullopt; }  // time only ever comes in
    std::error_code on_timeout(Instant) { return {}; }
    std::error_code close(Instant) { return {}; }
    bool is_established() const { return !failure_; }
    bool is_closed() const { return false; }
    SessionInfo session_info() const { return {.protocol = "PSK datagram"}; }
    std::size_t dropped() const { return dropped_; }

private:
    typename R::template layer<Crypto> record_;
    std::array<std::uint8_t, 4> prefix_{};
    Bytes received_, pending_send_;
    bool has_send_ = false;
    std::optional<ByteView> plaintext_;
    std::deque<Event> events_;
    std::size_t dropped_ = 0;
    std::error_code failure_;
};

struct Handshake {
    static constexpr std::string_view name = "PSK import";
    using provides = features<feature::pre_shared_key>;
    using needs = dependencies<dependency::datagram>;
    static constexpr KeyExport key_export = KeyExport::explicit_export;
    using exported_keys = Keys;
    using Config = CommonConfig;
    template <class R, class Crypto>
    using engine = Engine<R, Crypto>;
};

}  // namespace psk_datagram

template <>
struct std::is_error_code_enum<psk_datagram::Error> : std::true_type {};
