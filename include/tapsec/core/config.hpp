// Section 6.1 (pre-connection) and 6.2 (connection) interfaces, provider-neutral.
// Every handshake's Config derives from CommonConfig, so the same fields mean the
// same thing in every protocol; protocol-specific knobs live in the derived struct.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include "bytes.hpp"
#include "keylog.hpp"

namespace tapsec {

enum class Role { client, server };  // initiator / responder

inline const char* to_string(Role r) { return r == Role::client ? "client" : "server"; }

/// 6.1 Identity and private keys: a certificate chain (PEM, leaf first) and its key
/// (PEM, PKCS#8). Raw-public-key protocols (WireGuard, CurveCP) use their own key fields.
struct Identity {
    std::string certificate_chain_pem;
    std::string private_key_pem;  // wiped on destruction (see ~Identity)

    Identity() = default;
    Identity(std::string chain, std::string key) : certificate_chain_pem(std::move(chain)), private_key_pem(std::move(key)) {}
    Identity(const Identity&) = default;
    Identity& operator=(const Identity&) = default;
    Identity(Identity&&) = default;
    Identity& operator=(Identity&&) = default;
    ~Identity() { secure_zero(private_key_pem.data(), private_key_pem.size()); }
    bool empty() const { return certificate_chain_pem.empty(); }
};

/// PKI trust anchors (PEM certificates). Empty means "trust nothing": there is no
/// silent fallback to the system store; set use_system_store explicitly.
struct TrustStore {
    std::vector<std::string> ca_certificates_pem;
    bool use_system_store = false;
    bool empty() const { return ca_certificates_pem.empty() && !use_system_store; }
};

/// 6.1 Pre-shared key import.
struct PreSharedKey {
    std::string identity;
    SecretBytes key;
};

/// What the peer proved about itself, handed to the application's validator (6.2).
struct PeerIdentity {
    std::vector<Bytes> certificate_chain_der;  // leaf first, when certificates were used
    Bytes raw_public_key;                      // WireGuard / CurveCP static key
    std::string psk_identity;                  // when a PSK authenticated the peer
    std::string subject;                       // human-readable (certificate subject, key fingerprint)
    bool authenticated = false;
};

/// 6.2 Identity validation: called after the protocol's own checks succeed (or instead
/// of them when the configuration delegates authentication). Return an error to abort.
using IdentityValidator = std::function<std::error_code(const PeerIdentity&)>;

/// 6.1 Session cache management: the application decides where sessions live.
class SessionCache {
public:
    virtual ~SessionCache() = default;
    virtual void store(const std::string& key, const Bytes& session) = 0;
    virtual std::optional<Bytes> load(const std::string& key) = 0;
    virtual void remove(const std::string& key) = 0;
};

/// A thread-safe in-memory session cache, the default.
class InMemorySessionCache final : public SessionCache {
public:
    void store(const std::string& key, const Bytes& session) override {
        std::lock_guard lock(mutex_);
        sessions_[key] = session;
    }
    std::optional<Bytes> load(const std::string& key) override {
        std::lock_guard lock(mutex_);
        auto it = sessions_.find(key);
        if (it == sessions_.end()) return std::nullopt;
        return it->second;
    }
    void remove(const std::string& key) override {
        std::lock_guard lock(mutex_);
        sessions_.erase(key);
    }
    std::size_t size() const {
        std::lock_guard lock(mutex_);
        return sessions_.size();
    }

private:
    mutable std::mutex mutex_;
    std::map<std::string, Bytes> sessions_;
};

/// Fields every protocol understands. A protocol ignores nothing silently: a field it
/// cannot honour makes its engine fail construction with Errc::invalid_configuration.
struct CommonConfig {
    // 6.1 identities and trust
    Identity identity;
    TrustStore trust;
    std::string server_name;  // client: name to request (SNI) and to check in the certificate
    bool verify_peer = true;  // server: false means do not request a client certificate
    bool require_client_certificate = false;  // server: mutual authentication
    // 6.1 supported algorithms, in the protocol's own names (e.g. "TLS_AES_128_GCM_SHA256",
    // "x25519"); empty means the protocol's secure defaults.
    std::vector<std::string> cipher_suites;
    std::vector<std::string> groups;
    std::vector<std::string> signature_schemes;
    // 6.1 session cache and PSK import
    std::shared_ptr<SessionCache> session_cache;
    std::vector<PreSharedKey> pre_shared_keys;
    // 6.2 identity validation; authentication delegation (AD) when delegate_authentication.
    IdentityValidator validate_peer;
    bool delegate_authentication = false;
    // 6.2 source address validation (cookies): `under_load` lets the protocol decide
    // (WireGuard's cookie reply), `always` demands proof of the source address before any
    // state is kept (DTLS HelloVerifyRequest, QUIC Retry), `never` turns it off where the
    // protocol allows.
    enum class SourceValidation { under_load, always, never } source_validation = SourceValidation::always;
    // AFN
    std::vector<std::string> alpn;
    // timing
    std::chrono::milliseconds handshake_timeout{30'000};
    // Injected sources, one mechanism for every protocol: no protocol core reads the
    // system clock or draws randomness behind the caller's back. Null means the system
    // wall clock and the crypto provider's CSPRNG. Tests replay published traces with
    // them (fixed randoms and ephemeral keys, a fixed time). Monotonic time is not here:
    // engines receive it as the `Instant now` argument of every call.
    std::function<std::chrono::system_clock::time_point()> wall_clock;
    std::function<void(MutableByteView)> random;
    // Debugging (docs/debugging.md, core/keylog.hpp): each secret as it is derived, for an
    // NSS key-log file (KeyLogFile::callback); each handshake message and alert, both
    // directions. Null (the default) means none; the engines never print or write files.
    KeyLogCallback key_log;
    TraceCallback trace;
};

/// The configuration's wall clock (certificate validity, ticket ages, timestamps).
inline std::chrono::system_clock::time_point wall_now(const CommonConfig& config) {
    return config.wall_clock ? config.wall_clock() : std::chrono::system_clock::now();
}

/// Fills `out` from the configuration's random source, or the provider's CSPRNG.
template <class Crypto>
void draw_random(const CommonConfig& config, MutableByteView out) {
    if (config.random) config.random(out);
    else Crypto::random(out);
}

}  // namespace tapsec
