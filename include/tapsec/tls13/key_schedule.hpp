// The TLS 1.3 key schedule (RFC 8446 Section 7), on the crypto provider's HKDF.
//
// HOW THE HANDSHAKE USES IT
//   Transcript<Crypto> th;                    // 4.4.1; buffers until the suite is known
//   th.add(client_hello_bytes);               // whole handshake messages, 4-byte header included
//   auto early = EarlySecret<Crypto>::without_psk(suite);           // or ::with_psk(suite, psk)
//     early.psk_binder(PskKind::resumption, th.hash_with(truncated_ch))    // 4.2.11.2 (client)
//     early.verify_psk_binder(kind, th.hash_with(truncated_ch), binder)    // (server, constant time)
//     early.client_early_traffic_secret(th.current_hash())         // after ClientHello (0-RTT)
//     early.early_exporter_master_secret(th.current_hash())
//   th.set_hash(suite.hash);
//   HelloRetryRequest: th.restart_for_hello_retry() (transcript = ClientHello1 only), then
//     th.add(hrr); th.add(client_hello2); (binders of ClientHello2 hash over this prefix)
//   th.add(server_hello_bytes);
//   auto hs = std::move(early).into_handshake(ecdhe_shared_secret); // empty span for psk_ke
//     TrafficSecret chts = hs.client_handshake_traffic_secret(th.current_hash());
//     TrafficSecret shts = hs.server_handshake_traffic_secret(th.current_hash());
//   ... add EncryptedExtensions .. server Finished:
//     finished_verify_data<Crypto>(shts, th.current_hash())   // what the server sends
//     verify_finished<Crypto>(shts, th.current_hash(), received)  // constant time
//   auto ms = std::move(hs).into_master();
//     ms.client_application_traffic_secret(th_through_server_finished) (and server_, exporter_master_secret)
//     ms.resumption_master_secret(th_through_client_finished)
//   traffic_keys<Crypto>(secret) -> {key, iv};  next_traffic_secret<Crypto>(secret) for KeyUpdate;
//   resumption_psk<Crypto>(rms, ticket_nonce);  export_keying_material<Crypto>(ems, label, ctx, len).
//   The record layer takes a TrafficSecret directly (record.hpp: RecordLayer::install_*).
//
// Stages are types: EarlySecret -> HandshakeSecret -> MasterSecret, each moved into
// the next (`std::move(stage).into_...()`), so e.g. an application traffic secret can
// only come from a MasterSecret, and a consumed stage cannot be used again. Every
// secret lives in SecretBytes (wiped on release); all primitives come from `Crypto`.
#pragma once

#include <optional>
#include <stdexcept>
#include <string_view>
#include <utility>

#include "../core/bytes.hpp"
#include "../core/wire.hpp"
#include "../crypto/provider.hpp"
#include "cipher_suites.hpp"

namespace tapsec::tls13 {

/// QUIC-compatible names for the four key epochs of a TLS 1.3 connection.
enum class Epoch : std::uint8_t { initial = 0, early_data = 1, handshake = 2, application = 3 };

/// One direction's traffic secret, tagged with the suite that derived it (the suite
/// decides the hash for KeyUpdate and the AEAD for the record layer).
struct TrafficSecret {
    const CipherSuite* suite = nullptr;
    SecretBytes secret;
    explicit operator bool() const noexcept { return suite != nullptr && !secret.empty(); }
};

/// The key kind a TLS 1.3 handshake exports and `AeadRecord` imports (survey 6.1/6.3):
/// the traffic secrets of one epoch. `client` or `server` is empty where an epoch has
/// only one direction (0-RTT: client only).
struct TrafficSecrets {
    const CipherSuite* suite = nullptr;
    Epoch epoch = Epoch::initial;
    TrafficSecret client;
    TrafficSecret server;
};

struct ExporterMasterSecret {
    const CipherSuite* suite = nullptr;
    SecretBytes secret;
};

struct ResumptionMasterSecret {
    const CipherSuite* suite = nullptr;
    SecretBytes secret;
};

/// Traffic key and IV (7.3).
struct TrafficKeys {
    SecretBytes key;
    SecretBytes iv;
};

enum class PskKind { external, resumption };  // "ext binder" / "res binder"

/// Wipes a secret and gives its memory back (clear() alone would keep the bytes in the
/// vector's capacity until it is destroyed).
inline void wipe(SecretBytes& secret) noexcept {
    secure_zero(secret.data(), secret.size());
    SecretBytes().swap(secret);
}

// ---- HKDF-Expand-Label and Derive-Secret (7.1) ----------------------------------------

/// The HkdfLabel structure: uint16 length, opaque label<7..255> = "tls13 " + label,
/// opaque context<0..255>.
inline Bytes hkdf_label(std::string_view label, ByteView context, std::size_t length) {
    Bytes out;
    out.reserve(2 + 1 + 6 + label.size() + 1 + context.size());
    wire::Writer w(out);
    w.u16(static_cast<std::uint16_t>(length));
    w.u8(static_cast<std::uint8_t>(6 + label.size()));
    w.bytes(as_bytes("tls13 "));
    w.bytes(as_bytes(label));
    w.prefixed(1, context);
    return out;
}

template <class Crypto = crypto::DefaultProvider>
SecretBytes hkdf_expand_label(crypto::HashAlgorithm hash, ByteView secret, std::string_view label, ByteView context,
                              std::size_t length) {
    return Crypto::hkdf_expand(hash, secret, hkdf_label(label, context, length), length);
}

/// Derive-Secret(Secret, Label, Messages), given Transcript-Hash(Messages).
template <class Crypto = crypto::DefaultProvider>
SecretBytes derive_secret(crypto::HashAlgorithm hash, ByteView secret, std::string_view label, ByteView transcript_hash) {
    return hkdf_expand_label<Crypto>(hash, secret, label, transcript_hash, crypto::digest_size(hash));
}

/// Transcript-Hash("") : the context of every "derived" step and of binder keys.
template <class Crypto = crypto::DefaultProvider>
Bytes empty_hash(crypto::HashAlgorithm hash) {
    return Crypto::hash(hash, ByteView{});
}

// ---- the transcript hash (4.4.1) ------------------------------------------------------

/// Transcript-Hash over whole handshake messages (type, length and body). Before the
/// cipher suite is known (a client's ClientHello) messages are buffered and hashed once
/// `set_hash` names the algorithm.
template <class Crypto = crypto::DefaultProvider>
class Transcript {
public:
    Transcript() = default;
    explicit Transcript(crypto::HashAlgorithm hash) { set_hash(hash); }

    bool has_hash() const noexcept { return hash_.has_value(); }
    crypto::HashAlgorithm algorithm() const { return require_hash().algorithm(); }

    void set_hash(crypto::HashAlgorithm alg) {
        if (hash_ && hash_->algorithm() == alg) return;
        hash_.emplace(alg);
        hash_->update(buffered_);
        buffered_.clear();
    }

    void add(ByteView message) {
        if (hash_) hash_->update(message);
        else buffered_.insert(buffered_.end(), message.begin(), message.end());
    }

    /// Transcript-Hash of everything added so far. Asking before set_hash is a
    /// programming error (std::logic_error), not something the network can cause.
    Bytes current_hash() const { return require_hash().peek(); }

    /// Hash of the transcript followed by `extra`, without adding it (PSK binders hash
    /// a ClientHello truncated before its binders, 4.2.11.2).
    Bytes hash_with(ByteView extra) const {
        auto copy = require_hash();
        copy.update(extra);
        return copy.final();
    }

    /// After a HelloRetryRequest (4.4.1): ClientHello1 is replaced by
    /// message_hash(254) || 00 00 Hash.length || Hash(ClientHello1). Call it when the
    /// transcript holds exactly ClientHello1; add the HRR afterwards.
    void restart_for_hello_retry() {
        const Bytes ch1_hash = require_hash().peek();
        Bytes synthetic{254, 0, 0, static_cast<std::uint8_t>(ch1_hash.size())};
        append(synthetic, ch1_hash);
        const auto alg = hash_->algorithm();
        buffered_.clear();
        hash_.reset();
        add(synthetic);
        set_hash(alg);
    }

private:
    const typename Crypto::Hash& require_hash() const {
        if (!hash_) throw std::logic_error("tls13::Transcript: hash algorithm not set yet");
        return *hash_;
    }

    std::optional<typename Crypto::Hash> hash_;
    Bytes buffered_;  // messages added before the hash was known (a client's ClientHello)
};

// ---- per-secret derivations (7.3, 4.4.4, 4.6.1, 4.6.3, 7.5) ----------------------------

/// [sender]_write_key and [sender]_write_iv from a traffic secret (7.3).
template <class Crypto = crypto::DefaultProvider>
TrafficKeys traffic_keys(const CipherSuite& suite, ByteView secret) {
    return {hkdf_expand_label<Crypto>(suite.hash, secret, "key", {}, suite.key_length),
            hkdf_expand_label<Crypto>(suite.hash, secret, "iv", {}, suite.iv_length)};
}
template <class Crypto = crypto::DefaultProvider>
TrafficKeys traffic_keys(const TrafficSecret& s) {
    return traffic_keys<Crypto>(*s.suite, s.secret);
}

/// application_traffic_secret_N+1 (7.2, KeyUpdate).
template <class Crypto = crypto::DefaultProvider>
TrafficSecret next_traffic_secret(const TrafficSecret& s) {
    return {s.suite, hkdf_expand_label<Crypto>(s.suite->hash, s.secret, "traffic upd", {}, s.suite->hash_length)};
}

/// finished_key = HKDF-Expand-Label(BaseKey, "finished", "", Hash.length) (4.4.4).
template <class Crypto = crypto::DefaultProvider>
SecretBytes finished_key(crypto::HashAlgorithm hash, ByteView base_key) {
    return hkdf_expand_label<Crypto>(hash, base_key, "finished", {}, crypto::digest_size(hash));
}

/// verify_data = HMAC(finished_key, Transcript-Hash(...)) (4.4.4). The base key is the
/// sender's handshake traffic secret (or a binder key, 4.2.11.2).
template <class Crypto = crypto::DefaultProvider>
SecretBytes finished_verify_data(crypto::HashAlgorithm hash, ByteView base_key, ByteView transcript_hash) {
    return Crypto::hmac(hash, finished_key<Crypto>(hash, base_key), transcript_hash);
}
template <class Crypto = crypto::DefaultProvider>
SecretBytes finished_verify_data(const TrafficSecret& base_key, ByteView transcript_hash) {
    return finished_verify_data<Crypto>(base_key.suite->hash, base_key.secret, transcript_hash);
}

/// Checks a received Finished in constant time.
template <class Crypto = crypto::DefaultProvider>
bool verify_finished(const TrafficSecret& base_key, ByteView transcript_hash, ByteView received) {
    const auto expected = finished_verify_data<Crypto>(base_key, transcript_hash);
    return constant_time_equal(expected, received);
}

/// The PSK for a ticket: HKDF-Expand-Label(resumption_master_secret, "resumption",
/// ticket_nonce, Hash.length) (4.6.1).
template <class Crypto = crypto::DefaultProvider>
SecretBytes resumption_psk(const ResumptionMasterSecret& rms, ByteView ticket_nonce) {
    return hkdf_expand_label<Crypto>(rms.suite->hash, rms.secret, "resumption", ticket_nonce, rms.suite->hash_length);
}

/// TLS-Exporter(label, context_value, key_length) (7.5):
/// HKDF-Expand-Label(Derive-Secret(Secret, label, ""), "exporter", Hash(context_value), key_length).
/// `secret` is the exporter_master_secret (or early_exporter_master_secret).
template <class Crypto = crypto::DefaultProvider>
SecretBytes export_keying_material(crypto::HashAlgorithm hash, ByteView secret, std::string_view label,
                                   ByteView context, std::size_t length) {
    const auto per_label = derive_secret<Crypto>(hash, secret, label, empty_hash<Crypto>(hash));
    return hkdf_expand_label<Crypto>(hash, per_label, "exporter", Crypto::hash(hash, context), length);
}
template <class Crypto = crypto::DefaultProvider>
SecretBytes export_keying_material(const ExporterMasterSecret& ems, std::string_view label, ByteView context,
                                   std::size_t length) {
    return export_keying_material<Crypto>(ems.suite->hash, ems.secret, label, context, length);
}

// ---- the typed stages (7.1) -----------------------------------------------------------

template <class Crypto>
class HandshakeSecret;
template <class Crypto>
class MasterSecret;

/// Early Secret = HKDF-Extract(0, PSK). Offers what RFC 8446 derives from it: binder
/// keys, client_early_traffic_secret, early_exporter_master_secret.
template <class Crypto = crypto::DefaultProvider>
class EarlySecret {
public:
    /// Full handshake without PSK: PSK = Hash.length zero bytes.
    static EarlySecret without_psk(const CipherSuite& suite) {
        SecretBytes zeros(suite.hash_length, 0);
        return EarlySecret(suite, zeros);
    }
    /// External PSK or resumption PSK (resumption_psk()).
    static EarlySecret with_psk(const CipherSuite& suite, ByteView psk) { return EarlySecret(suite, psk); }

    const CipherSuite& suite() const noexcept { return *suite_; }
    const SecretBytes& secret() const noexcept { return secret_; }

    SecretBytes binder_key(PskKind kind) const {
        return derive_secret<Crypto>(suite_->hash, secret_, kind == PskKind::external ? "ext binder" : "res binder",
                                     empty_hash<Crypto>(suite_->hash));
    }
    /// The binder value over Transcript-Hash(truncated ClientHello [+ HRR prefix]).
    SecretBytes psk_binder(PskKind kind, ByteView truncated_transcript_hash) const {
        return finished_verify_data<Crypto>(suite_->hash, binder_key(kind), truncated_transcript_hash);
    }
    bool verify_psk_binder(PskKind kind, ByteView truncated_transcript_hash, ByteView received) const {
        return constant_time_equal(psk_binder(kind, truncated_transcript_hash), received);
    }
    TrafficSecret client_early_traffic_secret(ByteView client_hello_hash) const {
        return {suite_, derive_secret<Crypto>(suite_->hash, secret_, "c e traffic", client_hello_hash)};
    }
    ExporterMasterSecret early_exporter_master_secret(ByteView client_hello_hash) const {
        return {suite_, derive_secret<Crypto>(suite_->hash, secret_, "e exp master", client_hello_hash)};
    }

    /// Handshake Secret = HKDF-Extract(Derive-Secret(early, "derived", ""), (EC)DHE).
    /// An empty `shared_secret` (psk_ke mode) means Hash.length zero bytes.
    HandshakeSecret<Crypto> into_handshake(ByteView shared_secret) && {
        const auto salt = derive_secret<Crypto>(suite_->hash, secret_, "derived", empty_hash<Crypto>(suite_->hash));
        SecretBytes zeros(suite_->hash_length, 0);
        auto hs = Crypto::hkdf_extract(suite_->hash, salt, shared_secret.empty() ? ByteView(zeros) : shared_secret);
        wipe(secret_);
        return HandshakeSecret<Crypto>(*suite_, std::move(hs));
    }

private:
    EarlySecret(const CipherSuite& suite, ByteView psk)
        : suite_(&suite), secret_(Crypto::hkdf_extract(suite.hash, SecretBytes(suite.hash_length, 0), psk)) {}

    const CipherSuite* suite_;
    SecretBytes secret_;
};

/// Handshake Secret: the handshake traffic secrets, then the master secret.
template <class Crypto = crypto::DefaultProvider>
class HandshakeSecret {
public:
    const CipherSuite& suite() const noexcept { return *suite_; }
    const SecretBytes& secret() const noexcept { return secret_; }

    /// Transcript-Hash(ClientHello...ServerHello).
    TrafficSecret client_handshake_traffic_secret(ByteView transcript_hash) const {
        return {suite_, derive_secret<Crypto>(suite_->hash, secret_, "c hs traffic", transcript_hash)};
    }
    TrafficSecret server_handshake_traffic_secret(ByteView transcript_hash) const {
        return {suite_, derive_secret<Crypto>(suite_->hash, secret_, "s hs traffic", transcript_hash)};
    }

    /// Master Secret = HKDF-Extract(Derive-Secret(handshake, "derived", ""), 0).
    MasterSecret<Crypto> into_master() && {
        const auto salt = derive_secret<Crypto>(suite_->hash, secret_, "derived", empty_hash<Crypto>(suite_->hash));
        SecretBytes zeros(suite_->hash_length, 0);
        auto ms = Crypto::hkdf_extract(suite_->hash, salt, zeros);
        wipe(secret_);
        return MasterSecret<Crypto>(*suite_, std::move(ms));
    }

private:
    friend class EarlySecret<Crypto>;
    HandshakeSecret(const CipherSuite& suite, SecretBytes secret) : suite_(&suite), secret_(std::move(secret)) {}
    const CipherSuite* suite_;
    SecretBytes secret_;
};

/// Master Secret: application traffic secrets, exporter and resumption master secrets.
template <class Crypto = crypto::DefaultProvider>
class MasterSecret {
public:
    const CipherSuite& suite() const noexcept { return *suite_; }
    const SecretBytes& secret() const noexcept { return secret_; }

    /// Transcript-Hash(ClientHello...server Finished).
    TrafficSecret client_application_traffic_secret(ByteView transcript_hash) const {
        return {suite_, derive_secret<Crypto>(suite_->hash, secret_, "c ap traffic", transcript_hash)};
    }
    TrafficSecret server_application_traffic_secret(ByteView transcript_hash) const {
        return {suite_, derive_secret<Crypto>(suite_->hash, secret_, "s ap traffic", transcript_hash)};
    }
    ExporterMasterSecret exporter_master_secret(ByteView transcript_hash) const {
        return {suite_, derive_secret<Crypto>(suite_->hash, secret_, "exp master", transcript_hash)};
    }
    /// Transcript-Hash(ClientHello...client Finished).
    ResumptionMasterSecret resumption_master_secret(ByteView transcript_hash) const {
        return {suite_, derive_secret<Crypto>(suite_->hash, secret_, "res master", transcript_hash)};
    }

private:
    friend class HandshakeSecret<Crypto>;
    MasterSecret(const CipherSuite& suite, SecretBytes secret) : suite_(&suite), secret_(std::move(secret)) {}
    const CipherSuite* suite_;
    SecretBytes secret_;
};

}  // namespace tapsec::tls13
