// The `tapsec` command's protocol registry. Each composition registers one entry
// from its own tools/cli/<protocol>.cpp: its name, the survey row it implements, the
// feature set computed from its Secure<> type, and its connect / listen / demo.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <tapsec/core/features.hpp>

namespace tapsec::cli {

/// Parsed command line: `tapsec connect tls12 HOST:PORT --CAfile ca.pem ...`.
class Arguments {
public:
    std::string protocol;
    std::string target;  // HOST:PORT for connect, PORT or ADDR:PORT for listen
    std::map<std::string, std::string> options;
    std::set<std::string> flags;

    /// Takes an option's value (and marks it used); nullopt if absent.
    std::optional<std::string> take(const std::string& name) {
        used_.insert(name);
        auto it = options.find(name);
        if (it == options.end()) return std::nullopt;
        return it->second;
    }
    bool flag(const std::string& name) {
        used_.insert(name);
        return flags.count(name) != 0;
    }
    /// The first option or flag that no protocol code asked for, if any.
    std::optional<std::string> unknown() const {
        for (auto& [k, v] : options)
            if (!used_.count(k)) return k;
        for (auto& f : flags)
            if (!used_.count(f)) return f;
        return std::nullopt;
    }

private:
    std::set<std::string> used_;
};

/// What `tapsec demo` prints for one composition.
struct DemoResult {
    bool ok = false;
    std::string negotiated;  // e.g. "TLS 1.2, ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, x25519"
    double handshake_ms = 0;
    double echo_ms = 0;
    std::string error;  // when !ok
};

struct ProtocolEntry {
    std::string name;         // command-line name: "tls12"
    std::string composition;  // "Secure<Tls12Handshake, Tls12Record, Tcp>"
    std::string survey_row;   // the 5.3 row it implements: "TLS"
    FeatureSet features;      // computed from the Secure<> type
    std::string usage;        // protocol-specific options, for --help
    std::function<int(Arguments&)> connect;
    std::function<int(Arguments&)> listen;
    std::function<DemoResult()> demo;
    bool target_optional = false;  // the protocol's own configuration may supply HOST:PORT / PORT
    /// Why a cell differs from the survey's table: {column code, reason}. `tapsec table`
    /// prints each difference with its reason (or "unexplained").
    std::vector<std::pair<std::string, std::string>> survey_differences;
};

inline std::vector<ProtocolEntry>& registry() {
    static std::vector<ProtocolEntry> entries;
    return entries;
}

struct Registration {
    explicit Registration(ProtocolEntry entry) { registry().push_back(std::move(entry)); }
};

/// Prints "tapsec: <message>" to stderr and returns exit code 1 (one line, as the CLI promises).
int fail(const std::string& message);

}  // namespace tapsec::cli
