// The CLI's debugging aids, shared by every protocol that can offer them
// (docs/debugging.md): `--keylogfile FILE` (else the SSLKEYLOGFILE environment
// variable) writes an NSS key log Wireshark reads; `--trace` prints each handshake
// message and alert on stderr; `--showcerts` prints the peer's certificate chain in PEM
// on stderr (stdout carries the application data); and a summary of each connection
// goes to stderr when it ends (unless --quiet).
//
// One process runs one protocol, so the options live in one object, debug_options().
// A protocol file calls, in this order:
//   debug_options().take(args, config)         while reading options (returns an error line or "")
//   debug_options().handshake_starting()       just before connection.handshake()
//   debug_options().handshake_done(info)       after it succeeded (prints --showcerts)
//   pump_options.count = debug_options().counter()   so the pump counts the bytes
//   debug_options().connection_ended(info, quiet)  the exit summary
#pragma once

#include <botan/pem.h>
#include <botan/x509cert.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include <tapsec/core/config.hpp>
#include <tapsec/core/engine.hpp>
#include <tapsec/core/keylog.hpp>

#include "registry.hpp"
#include "stdio.hpp"

namespace tapsec::cli {

constexpr const char* debug_usage =
    "debugging options:\n"
    "  --keylogfile FILE       append the session secrets to FILE in the NSS key-log format\n"
    "                          (Wireshark: tls.keylog_file); default: $SSLKEYLOGFILE if set\n"
    "  --trace                 print each handshake message and alert, both directions, on stderr\n"
    "  --showcerts             print the peer's certificate chain (PEM) on stderr\n";

class DebugOptions {
public:
    /// Reads --keylogfile / SSLKEYLOGFILE, --trace and --showcerts into `config`.
    /// Returns an error line, or "".
    std::string take(Arguments& args, CommonConfig& config) {
        auto path = args.take("--keylogfile");
        const bool from_environment = !path;
        if (!path)
            if (const char* env = std::getenv("SSLKEYLOGFILE"); env && *env) path = env;
        if (path) {
            auto file = KeyLogFile::open(*path);
            if (!file)
                return std::string("cannot open key log file ") + *path + (from_environment ? " (from SSLKEYLOGFILE)" : "") +
                       ": " + file.error().message();
            key_log_ = *file;
            config.key_log = KeyLogFile::callback(key_log_);
        }
        if (args.flag("--trace"))
            config.trace = [](const TraceRecord& record) {
                std::fprintf(stderr, "tapsec: trace %s\n", format_trace(record).c_str());
            };
        showcerts_ = args.flag("--showcerts");
        return {};
    }

    void handshake_starting() {
        handshake_start_ = Clock::now();
        handshake_end_.reset();
        count_ = {};
    }

    /// After a successful handshake: --showcerts, and the handshake time for the summary.
    void handshake_done(const SessionInfo& info) {
        handshake_end_ = Clock::now();
        if (showcerts_) print_chain(info.peer);
        if (key_log_ && key_log_->error())
            std::fprintf(stderr, "tapsec: warning: writing key log %s failed: %s\n", key_log_->path().c_str(),
                         key_log_->error().message().c_str());
    }

    /// Where the pump counts the bytes for the summary (PumpOptions::count).
    TrafficCount* counter() { return &count_; }

    /// The exit summary on stderr: what was negotiated, bytes each way, handshake time
    /// and the connection's duration.
    void connection_ended(const SessionInfo& info, bool quiet) const {
        if (quiet) return;
        const auto now = Clock::now();
        auto ms = [](Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); };
        std::string line = "tapsec: summary: " + info.protocol;
        if (!info.cipher_suite.empty()) line += ", " + info.cipher_suite;
        if (!info.group.empty()) line += ", " + info.group;
        line += ", sent " + std::to_string(count_.sent) + " bytes, received " + std::to_string(count_.received) + " bytes";
        char times[96];
        if (handshake_end_)
            std::snprintf(times, sizeof times, ", handshake %.1f ms, duration %.1f ms", ms(*handshake_end_ - handshake_start_),
                          ms(now - handshake_start_));
        else
            std::snprintf(times, sizeof times, ", duration %.1f ms", ms(now - handshake_start_));
        line += times;
        std::fprintf(stderr, "%s\n", line.c_str());
    }

    /// For data loops of their own (QUIC's streams), instead of counter().
    void add_sent(std::size_t bytes) { count_.sent += bytes; }
    void add_received(std::size_t bytes) { count_.received += bytes; }
    const TrafficCount& traffic() const { return count_; }

private:
    /// Like `openssl s_client -showcerts`: index, subject and issuer, then the PEM.
    static void print_chain(const PeerIdentity& peer) {
        if (peer.certificate_chain_der.empty()) {
            std::fprintf(stderr, "tapsec: the peer sent no certificate\n");
            return;
        }
        std::fprintf(stderr, "---\nCertificate chain\n");
        for (std::size_t i = 0; i < peer.certificate_chain_der.size(); ++i) {
            const auto& der = peer.certificate_chain_der[i];
            try {
                Botan::X509_Certificate cert(der.data(), der.size());
                std::fprintf(stderr, " %zu s:%s\n   i:%s\n", i, cert.subject_dn().to_string().c_str(),
                             cert.issuer_dn().to_string().c_str());
            } catch (const std::exception& e) {
                std::fprintf(stderr, " %zu (cannot parse: %s)\n", i, e.what());
            }
            std::fprintf(stderr, "%s", Botan::PEM_Code::encode(der.data(), der.size(), "CERTIFICATE").c_str());
        }
        std::fprintf(stderr, "---\n");
    }

    std::shared_ptr<KeyLogFile> key_log_;
    bool showcerts_ = false;
    Clock::time_point handshake_start_ = Clock::now();
    std::optional<Clock::time_point> handshake_end_;
    TrafficCount count_;
};

/// The process's debugging options (one protocol per run).
inline DebugOptions& debug_options() {
    static DebugOptions options;
    return options;
}

}  // namespace tapsec::cli
