// CurveCP configuration: long-term keys (in curvecpmakekey's key-directory format),
// the server's name and the two extensions.
#pragma once

#include <chrono>
#include <fstream>
#include <memory>
#include <optional>
#include <string>

#include "../core/config.hpp"
#include "../crypto/nacl_box.hpp"
#include "wire.hpp"

namespace tapsec::curvecp {

using crypto::nacl::PublicKey;
class MinuteKeys;  // handshake.hpp

/// A long-term Curve25519 key pair.
struct KeyPair {
    PublicKey public_key{};
    SecretArray<32> secret_key;
};

/// Reads a key directory as curvecpmakekey writes it: `publickey` (32 raw bytes) and
/// `.expertsonly/secretkey` (32 raw bytes). The public key must match the secret key.
inline Result<KeyPair> load_key_directory(const std::string& dir) {
    auto read = [](const std::string& path, std::uint8_t* out) {
        std::ifstream in(path, std::ios::binary);
        if (!in) return false;
        in.read(reinterpret_cast<char*>(out), 32);
        return in.gcount() == 32 && in.peek() == std::char_traits<char>::eof();
    };
    KeyPair k;
    if (!read(dir + "/publickey", k.public_key.data()) || !read(dir + "/.expertsonly/secretkey", k.secret_key.data()))
        return make_error_code(Error::invalid_configuration);
    if (crypto::nacl::public_key_of(k.secret_key) != k.public_key) return make_error_code(Error::invalid_configuration);
    return k;
}

/// Writes a key directory in the same layout (mode 0700 for .expertsonly, as
/// curvecpmakekey); for tests and for `tapsec` users without nacl-tools.
inline std::error_code write_key_directory(const std::string& dir, const KeyPair& k);

/// A fresh key pair from `random` (the configuration's injected source or the provider's).
template <class Random>
KeyPair generate_key_pair(Random&& random) {
    KeyPair k;
    random(MutableByteView(k.secret_key));
    k.public_key = crypto::nacl::public_key_of(k.secret_key);
    return k;
}

struct Config : CommonConfig {
    // Server: its long-term key S (required). Client: its long-term key C, vouched for in
    // the Initiate (optional: without one a fresh key is drawn per connection, as
    // curvecpclient does without -c).
    std::optional<KeyPair> long_term_key;
    // Client: the server's long-term public key S (required).
    std::optional<PublicKey> server_public_key;
    // CommonConfig::server_name is the server's name N (both sides; DNS labels, at most
    // 255 bytes). Extensions: 16 bytes each, zero by default.
    wire::Extension server_extension{};
    wire::Extension client_extension{};
    // Server: how long one minute key encrypts cookies (the previous one is still
    // accepted for as long again).
    std::chrono::nanoseconds minute_key_interval = std::chrono::seconds(60);
    // Server: cookie keys shared by every engine of one socket (a concurrent server's: a
    // Cookie from one engine must open in the engine that takes the Initiate). None: the
    // engine's own, drawn at its first Hello.
    std::shared_ptr<MinuteKeys> shared_minute_keys;
    // Client: the Hello retransmission schedule (curvecpclient: 1 s, then x1.5, eight
    // Hellos, each delay plus up to itself of random jitter); after the last, no_answer.
    std::chrono::nanoseconds first_hello_interval = std::chrono::seconds(1);
    unsigned hello_attempts = 8;
    // Client: how long the server may leave the Initiates unanswered after its Cookie
    // before the client gives up (initiate_unanswered).
    std::chrono::nanoseconds initiate_timeout = std::chrono::seconds(10);
};

}  // namespace tapsec::curvecp

#include <sys/stat.h>

inline std::error_code tapsec::curvecp::write_key_directory(const std::string& dir, const KeyPair& k) {
    ::mkdir(dir.c_str(), 0755);
    ::mkdir((dir + "/.expertsonly").c_str(), 0700);
    std::ofstream pub(dir + "/publickey", std::ios::binary | std::ios::trunc);
    std::ofstream sec(dir + "/.expertsonly/secretkey", std::ios::binary | std::ios::trunc);
    if (!pub || !sec) return make_error_code(Error::invalid_configuration);
    pub.write(reinterpret_cast<const char*>(k.public_key.data()), 32);
    sec.write(reinterpret_cast<const char*>(k.secret_key.data()), 32);
    return (pub && sec) ? std::error_code{} : make_error_code(Error::invalid_configuration);
}
