// Debugging hooks every protocol can offer (docs/debugging.md): a key log in the NSS
// key-log format that Wireshark, tshark and OpenSSL read (SSLKEYLOGFILE), and a trace of
// handshake messages and alerts. Engines only call the callbacks in CommonConfig; they
// never print or open files. The file writer here is what the CLI (and an application)
// plugs into CommonConfig::key_log.
//
// A key log holds secrets that decrypt the whole connection: it is written only when
// the user asks for it, created with mode 0600, and each line is built in zeroized memory.
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "bytes.hpp"
#include "errors.hpp"

namespace tapsec {

/// Called once per secret as it is derived: an NSS key-log label
/// ("CLIENT_HANDSHAKE_TRAFFIC_SECRET", "CLIENT_RANDOM", ...), the ClientHello random that
/// names the connection, and the secret.
using KeyLogCallback = std::function<void(std::string_view label, ByteView client_random, ByteView secret)>;

/// The NSS key-log labels (https://firefox-source-docs.mozilla.org/security/nss/legacy/key_log_format/).
namespace keylog_label {
inline constexpr std::string_view client_random = "CLIENT_RANDOM";  // TLS 1.2 / DTLS 1.2 master secret
inline constexpr std::string_view client_early_traffic = "CLIENT_EARLY_TRAFFIC_SECRET";
inline constexpr std::string_view client_handshake_traffic = "CLIENT_HANDSHAKE_TRAFFIC_SECRET";
inline constexpr std::string_view server_handshake_traffic = "SERVER_HANDSHAKE_TRAFFIC_SECRET";
inline constexpr std::string_view exporter = "EXPORTER_SECRET";
}  // namespace keylog_label

/// "CLIENT_TRAFFIC_SECRET_<generation>" or "SERVER_TRAFFIC_SECRET_<generation>": the
/// application traffic secret after `generation` key updates.
inline std::string traffic_secret_label(bool client_sends, unsigned generation) {
    return std::string(client_sends ? "CLIENT" : "SERVER") + "_TRAFFIC_SECRET_" + std::to_string(generation);
}

/// One line of the key-log format: LABEL <client random hex> <secret hex>\n, in memory
/// that is wiped when released (it holds the secret in hex).
using KeyLogLine = std::vector<char, ZeroizingAllocator<char>>;
inline KeyLogLine format_key_log_line(std::string_view label, ByteView client_random, ByteView secret) {
    static constexpr char digits[] = "0123456789abcdef";
    KeyLogLine line;
    line.reserve(label.size() + 2 * (client_random.size() + secret.size()) + 3);
    line.insert(line.end(), label.begin(), label.end());
    auto hex = [&line](ByteView bytes) {
        line.push_back(' ');
        for (auto b : bytes) {
            line.push_back(digits[b >> 4]);
            line.push_back(digits[b & 0x0f]);
        }
    };
    hex(client_random);
    hex(secret);
    line.push_back('\n');
    return line;
}

/// A key-log file opened for appending (created with mode 0600; an existing file keeps
/// its mode). Each line goes out in one write(2) with O_APPEND, so it reaches the file
/// at once (Wireshark reads it while capturing) and lines of several connections or
/// processes never interleave. Thread-safe.
class KeyLogFile {
public:
    static Result<std::shared_ptr<KeyLogFile>> open(const std::string& path) {
        const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
        if (fd < 0) return std::error_code(errno, std::system_category());
        return std::shared_ptr<KeyLogFile>(new KeyLogFile(fd, path));
    }
    KeyLogFile(const KeyLogFile&) = delete;
    KeyLogFile& operator=(const KeyLogFile&) = delete;
    ~KeyLogFile() { ::close(fd_); }

    const std::string& path() const { return path_; }
    /// The first write error, if any (a full disk must not stop the connection).
    std::error_code error() const {
        std::lock_guard lock(mutex_);
        return error_;
    }

    void write(std::string_view label, ByteView client_random, ByteView secret) {
        const auto line = format_key_log_line(label, client_random, secret);
        std::lock_guard lock(mutex_);
        std::size_t done = 0;
        while (done < line.size()) {
            const ssize_t n = ::write(fd_, line.data() + done, line.size() - done);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) {
                if (!error_) error_ = std::error_code(n < 0 ? errno : EIO, std::system_category());
                return;
            }
            done += static_cast<std::size_t>(n);
        }
    }

    /// The callback for CommonConfig::key_log; keeps the file open as long as a
    /// configuration holds it.
    static KeyLogCallback callback(std::shared_ptr<KeyLogFile> file) {
        return [file = std::move(file)](std::string_view label, ByteView client_random, ByteView secret) {
            file->write(label, client_random, secret);
        };
    }

private:
    KeyLogFile(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
    int fd_;
    std::string path_;
    mutable std::mutex mutex_;
    std::error_code error_;
};

// ---- trace ------------------------------------------------------------------------------

/// One handshake message or alert, sent or received: what `tapsec --trace` prints. The
/// type codes are the TLS registries' (HandshakeType, AlertDescription), shared by TLS 1.2,
/// TLS 1.3, DTLS 1.2 and the TLS inside QUIC.
struct TraceRecord {
    enum class Direction : std::uint8_t { sent, received };
    enum class Kind : std::uint8_t { handshake_message, alert };
    Direction direction = Direction::sent;
    Kind kind = Kind::handshake_message;
    std::uint8_t type = 0;         // HandshakeType, or AlertDescription
    std::uint8_t alert_level = 0;  // 1 warning, 2 fatal (TLS 1.3 alerts are all fatal but close_notify / user_canceled)
    std::size_t length = 0;        // handshake message body length
    bool length_known = true;      // false where the engine cannot see the wire bytes (Botan's received messages)
};
using TraceCallback = std::function<void(const TraceRecord&)>;

/// The TLS HandshakeType registry's names (RFC 8446 4, RFC 5246 7.4, RFC 6347 4.3.2).
inline const char* tls_handshake_type_name(std::uint8_t type) {
    switch (type) {
        case 0: return "HelloRequest";
        case 1: return "ClientHello";
        case 2: return "ServerHello";
        case 3: return "HelloVerifyRequest";
        case 4: return "NewSessionTicket";
        case 5: return "EndOfEarlyData";
        case 8: return "EncryptedExtensions";
        case 11: return "Certificate";
        case 12: return "ServerKeyExchange";
        case 13: return "CertificateRequest";
        case 14: return "ServerHelloDone";
        case 15: return "CertificateVerify";
        case 16: return "ClientKeyExchange";
        case 20: return "Finished";
        case 22: return "CertificateStatus";
        case 24: return "KeyUpdate";
        case 254: return "message_hash";
        default: return "unknown";
    }
}

/// The TLS AlertDescription registry's names (RFC 8446 6).
inline const char* tls_alert_name(std::uint8_t description) {
    switch (description) {
        case 0: return "close_notify";
        case 10: return "unexpected_message";
        case 20: return "bad_record_mac";
        case 22: return "record_overflow";
        case 40: return "handshake_failure";
        case 42: return "bad_certificate";
        case 43: return "unsupported_certificate";
        case 44: return "certificate_revoked";
        case 45: return "certificate_expired";
        case 46: return "certificate_unknown";
        case 47: return "illegal_parameter";
        case 48: return "unknown_ca";
        case 49: return "access_denied";
        case 50: return "decode_error";
        case 51: return "decrypt_error";
        case 70: return "protocol_version";
        case 71: return "insufficient_security";
        case 80: return "internal_error";
        case 86: return "inappropriate_fallback";
        case 90: return "user_canceled";
        case 100: return "no_renegotiation";
        case 109: return "missing_extension";
        case 110: return "unsupported_extension";
        case 112: return "unrecognized_name";
        case 113: return "bad_certificate_status_response";
        case 115: return "unknown_psk_identity";
        case 116: return "certificate_required";
        case 120: return "no_application_protocol";
        default: return "unknown";
    }
}

/// "> ClientHello (512 bytes)" / "< alert fatal handshake_failure": one line, no newline.
inline std::string format_trace(const TraceRecord& r) {
    std::string line = r.direction == TraceRecord::Direction::sent ? "> " : "< ";
    if (r.kind == TraceRecord::Kind::alert) {
        line += "alert ";
        line += r.alert_level == 1 ? "warning " : "fatal ";
        line += tls_alert_name(r.type);
        line += " (" + std::to_string(r.type) + ")";
    } else {
        line += tls_handshake_type_name(r.type);
        if (std::string_view(tls_handshake_type_name(r.type)) == "unknown") line += "(" + std::to_string(r.type) + ")";
        if (r.length_known) line += " (" + std::to_string(r.length) + " bytes)";
    }
    return line;
}

}  // namespace tapsec
