// QuicPacketProtection, the record policy, and its layer: what TLS 1.3 sees of QUIC.
//
// To the TLS 1.3 handshake (tls13::Engine) this layer is a record layer like
// AeadRecord's: it meets tls13::TlsRecordLayer. The differences are QUIC's (RFC 9001
// 4): there are no TLS records. install_key(level, direction, secret) derives the QUIC
// packet protection keys of that encryption level (5.1); handshake bytes written at a
// level go out as CRYPTO frames of that level's packets; CRYPTO data received at a level
// comes back through feed/next; a TLS alert becomes a CONNECTION_CLOSE with the
// CRYPTO_ERROR code 0x0100 + alert (4.8). Application data never goes through TLS.
//
// The QUIC connection (connection.hpp) owns a tls13::Engine<QuicPacketProtection,
// Crypto> and reaches this layer through engine.record_layer() to take the keys and
// the handshake bytes it must send.
#pragma once

#include <array>
#include <optional>

#include "../core/dependencies.hpp"
#include "../core/features.hpp"
#include "../tls13/record.hpp"
#include "packet_protection.hpp"

namespace tapsec::quic {

using tls13::Direction;
using Level = tls13::Epoch;

constexpr std::size_t level_index(Level l) noexcept { return static_cast<std::size_t>(l); }

template <class Crypto>
class CryptoLayer {
public:
    struct Options {
        tls13::PaddingPolicy padding{};   // not used: QUIC pads packets, not TLS records
        tls13::KeyUsageLimits limits{};
    };
    explicit CryptoLayer(Options = {}) {}

    // ---- tls13::TlsRecordLayer -------------------------------------------------------------

    std::error_code install_key(Level level, Direction direction, const tls13::TrafficSecret& secret) {
        if (!secret) return make_error_code(Errc::internal_error);
        auto keys = PacketKeys<Crypto>::derive(*secret.suite, secret.secret, true, version_);
        if (!keys) return keys.error();
        auto& slot = direction == Direction::write ? write_[level_index(level)] : read_[level_index(level)];
        slot.emplace(std::move(*keys));
        if (direction == Direction::write) write_level_ = level;
        else read_level_ = level;
        if (level == Level::application) suite_ = secret.suite;
        return {};
    }

    std::error_code write(tls13::ContentType type, ByteView data, Bytes&, std::uint16_t) {
        switch (type) {
            case tls13::ContentType::handshake: append(outgoing_[level_index(write_level_)], data); return {};
            case tls13::ContentType::alert:
                if (data.size() == 2 && !alert_) alert_ = data[1];
                return {};
            case tls13::ContentType::change_cipher_spec: return {};  // never in QUIC (RFC 9001 8.4): not sent
            default: return make_error_code(Error::protocol_violation);
        }
    }

    std::error_code feed(ByteView data) {
        incoming_.assign(data.begin(), data.end());
        has_incoming_ = true;
        return {};
    }
    Result<std::optional<tls13::Plaintext>> next() {
        if (!has_incoming_) return std::optional<tls13::Plaintext>{};
        has_incoming_ = false;
        return std::optional<tls13::Plaintext>{
            tls13::Plaintext{tls13::ContentType::handshake, MutableByteView(incoming_), read_level_ != Level::initial}};
    }
    std::error_code set_send_record_size_limit(std::uint16_t) { return {}; }
    std::error_code set_receive_record_size_limit(std::uint16_t) { return {}; }
    bool take_key_expiring() { return false; }

    // ---- what the QUIC connection takes -------------------------------------------------------

    /// The QUIC version whose constants derive every key installed from now on (v2:
    /// RFC 9369 3.3). Set before the Initial keys; a compatible version negotiation sets
    /// it again before the server's first Initial (its Initial keys installed anew).
    void set_version(std::uint32_t version) noexcept { version_ = version; }
    std::uint32_t version() const noexcept { return version_; }

    /// Initial keys (RFC 9001 5.2) come from the client's first DCID, not from TLS.
    std::error_code install_initial(ByteView client_dcid, bool client) {
        auto [c, s] = initial_secrets<Crypto>(client_dcid, version_);
        auto write = PacketKeys<Crypto>::derive(*c.suite, client ? c.secret : s.secret, true, version_);
        auto read = PacketKeys<Crypto>::derive(*c.suite, client ? s.secret : c.secret, true, version_);
        if (!write) return write.error();
        if (!read) return read.error();
        write_[0].emplace(std::move(*write));
        read_[0].emplace(std::move(*read));
        return {};
    }
    PacketKeys<Crypto>* write_keys(Level l) { return write_[level_index(l)] ? &*write_[level_index(l)] : nullptr; }
    PacketKeys<Crypto>* read_keys(Level l) { return read_[level_index(l)] ? &*read_[level_index(l)] : nullptr; }
    bool has_write_keys(Level l) const noexcept { return write_[level_index(l)].has_value(); }
    void discard(Level l) {
        write_[level_index(l)].reset();
        read_[level_index(l)].reset();
    }
    Level read_level() const noexcept { return read_level_; }
    /// Handshake bytes TLS wrote at `l` since the last call.
    Bytes take_outgoing(Level l) { return std::exchange(outgoing_[level_index(l)], Bytes{}); }
    /// The TLS alert TLS sent when it failed, if any.
    std::optional<std::uint8_t> take_alert() { return std::exchange(alert_, std::nullopt); }
    const tls13::CipherSuite* suite() const noexcept { return suite_; }

private:
    std::array<std::optional<PacketKeys<Crypto>>, 4> write_, read_;
    std::array<Bytes, 4> outgoing_;
    Bytes incoming_;
    bool has_incoming_ = false;
    Level write_level_ = Level::initial, read_level_ = Level::initial;
    std::uint32_t version_ = version_1;
    std::optional<std::uint8_t> alert_;
    const tls13::CipherSuite* suite_ = nullptr;
};

template <class Crypto>
class Connection;

/// QUIC packet protection as a tapsec record policy: keyed by TLS 1.3 traffic secrets
/// per encryption level (the same key kind AeadRecord imports), carried over datagrams.
/// It carries the handshake's bytes itself (CRYPTO frames, reliable and ordered per
/// level), so the handshake's need for a reliable byte stream is met by the record.
struct QuicPacketProtection {
    static constexpr std::string_view name = "QUIC packet protection (RFC 9001)";
    /// DM: a server Retry before any state (RFC 9000 8.1.2); CM: the server follows a
    /// client's migration after path validation (9); SV: address validation is part of
    /// every QUIC connection (the 3x limit until validated, 8.1); LHP: 1-RTT datagrams
    /// padded with PADDING frames to a multiple of Settings::pad_to (RFC 9000 19.1).
    using provides = features<feature::record_protection, feature::replay_protection, feature::rekeying,
                              feature::out_of_order_receipt, feature::DM, feature::CM, feature::SV,
                              feature::length_hiding_padding>;
    using intrinsic = features<feature::SV>;
    using needs = dependencies<dependency::datagram>;
    using carries = dependencies<dependency::reliable_byte_stream>;
    /// ED (0-RTT) is not withheld: the connection carries it (Settings::early_data,
    /// send_early_data: 0-RTT stream data, sent again in 1-RTT when refused), so
    /// Secure<Tls13Handshake, QuicPacketProtection, ...>::send_early_data is offered.
    using imported_keys = tls13::TrafficSecrets;
    static constexpr KeyImport key_import = KeyImport::direct;
    template <class Crypto = crypto::DefaultProvider>
    using layer = CryptoLayer<Crypto>;
    /// The record runs the connection the handshake lives in (packets, streams, recovery).
    template <class Handshake, class Crypto>
    using carrier_engine = Connection<Crypto>;
};

}  // namespace tapsec::quic

namespace tapsec {
using quic::QuicPacketProtection;
}
