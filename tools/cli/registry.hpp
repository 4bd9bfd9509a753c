// The `tapsec` command's protocol registry. Each composition registers one entry
// from its own tools/cli/<protocol>.cpp: its name, the survey row it implements, the
// feature set computed from its Secure<> type, and its connect / listen / demo.
#pragma once

#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstring>
#include <fstream>
#include <functional>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <tapsec/core/bytes.hpp>
#include <tapsec/core/features.hpp>

namespace tapsec::cli {

/// A mistake on the command line (missing or malformed value, unknown option, unreadable
/// or wrong-format input file). main() prints it as one line and exits with status 2;
/// runtime failures (network, handshake) stay status 1.
struct UsageError : std::runtime_error {
    using std::runtime_error::runtime_error;
};
/// A runtime failure found while reading options (a host name that does not resolve):
/// one line, exit status 1.
struct RuntimeFailure : std::runtime_error {
    using std::runtime_error::runtime_error;
};

/// The option vocabulary shared by every protocol (docs/cli.md): openssl s_client /
/// s_server names where openssl has one. Old spellings stay accepted as aliases.
inline const std::map<std::string, std::string>& option_aliases() {
    static const std::map<std::string, std::string> aliases = {
        {"--insecure", "--noverify"},      {"--ciphers", "--ciphersuites"}, {"--cipher", "--ciphersuites"},
        {"--timeout", "--handshake-timeout"}, {"--cafile", "--CAfile"}, {"--h", "--help"},
        {"--curves", "--groups"},          {"--psk_identity", "--psk-identity"}, {"--sess_in", "--sess-in"},
        {"--sess_out", "--sess-out"},      {"--early_data", "--early-data"},  {"--max_early_data", "--max-early-data"},
    };
    return aliases;
}
inline std::string canonical_option(const std::string& name) {
    auto it = option_aliases().find(name);
    return it == option_aliases().end() ? name : it->second;
}

/// Options that never take a value, whichever protocol: the parser does not let them
/// swallow the next word (`connect tls13 --noverify HOST:PORT`).
inline const std::set<std::string>& known_flags() {
    static const std::set<std::string> flags = {
        "--help", "-h", "--noverify", "--quiet", "--verbose", "--keyupdate", "--psk-only", "--no-middlebox", "--hrr",
        "--require-client-cert", "--h3", "--allow-plain", "--no-eno", "--cookies", "--echo", "--www", "--rev",
        "--forever",
        };
    return flags;
}

/// Parsed command line: `tapsec connect tls12 HOST:PORT --CAfile ca.pem ...`.
class Arguments {
public:
    std::string verb;  // "connect" / "listen", for messages
    std::string protocol;
    std::string target;  // HOST:PORT for connect, PORT or ADDR:PORT for listen
    std::map<std::string, std::string> options;
    std::set<std::string> flags;

    /// Takes an option's value (and marks it used); nullopt if absent. An option given
    /// without its value is a usage error.
    std::optional<std::string> take(const std::string& alias) {
        const std::string name = canonical_option(alias);
        used_.insert(name);
        if (flags.count(name)) throw UsageError(name + " needs a value");
        auto it = options.find(name);
        if (it == options.end()) return std::nullopt;
        return it->second;
    }
    bool flag(const std::string& alias) {
        const std::string name = canonical_option(alias);
        used_.insert(name);
        return flags.count(name) != 0;
    }
    /// An unsigned number in [min, max].
    std::optional<std::uint64_t> take_uint(const std::string& name, std::uint64_t min = 0,
                                           std::uint64_t max = std::numeric_limits<std::uint64_t>::max()) {
        auto text = take(name);
        if (!text) return std::nullopt;
        std::uint64_t value = 0;
        auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), value);
        if (text->empty() || ec != std::errc{} || end != text->data() + text->size() || value < min || value > max)
            throw UsageError(canonical_option(name) + ": '" + *text + "' is not a number from " + std::to_string(min) +
                             " to " + std::to_string(max));
        return value;
    }
    /// A positive number of seconds, fractions allowed ("1.5").
    std::optional<std::chrono::milliseconds> take_seconds(const std::string& name) {
        auto text = take(name);
        if (!text) return std::nullopt;
        double seconds = 0;
        auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), seconds);
        if (text->empty() || ec != std::errc{} || end != text->data() + text->size() || !(seconds > 0) || seconds > 86400)
            throw UsageError(canonical_option(name) + ": '" + *text + "' is not a number of seconds (0 < S <= 86400)");
        return std::chrono::milliseconds(static_cast<std::int64_t>(seconds * 1000 + 0.5));
    }
    /// The contents of the file the option names; unreadable is a usage error.
    std::optional<std::string> take_file(const std::string& name) {
        auto path = take(name);
        if (!path) return std::nullopt;
        return read_file_or_throw(canonical_option(name), *path);
    }
    /// Hex digits (whitespace around them ignored); `size` bytes exactly when non-zero.
    std::optional<Bytes> take_hex(const std::string& name, std::size_t size = 0) {
        auto text = take(name);
        if (!text) return std::nullopt;
        return hex_or_throw(canonical_option(name), *text, size);
    }
    /// A list separated by ':' or ',' (openssl uses ':' for ciphers and groups, ',' for ALPN;
    /// both are accepted everywhere).
    std::optional<std::vector<std::string>> take_list(const std::string& name) {
        auto text = take(name);
        if (!text) return std::nullopt;
        std::vector<std::string> items;
        std::string item;
        for (char c : *text + ":") {
            if (c == ':' || c == ',') {
                if (!item.empty()) items.push_back(item);
                item.clear();
            } else {
                item.push_back(c);
            }
        }
        if (items.empty()) throw UsageError(canonical_option(name) + ": empty list");
        return items;
    }

    /// Call once a command has taken every option it knows: an option or flag nobody asked
    /// for is a usage error (exit 2) naming it and the command's --help.
    void refuse_unknown_options() const {
        const std::string help = " (see `tapsec " + (verb.empty() ? std::string("connect") : verb) + " " + protocol + " --help`)";
        for (auto& [k, v] : options)
            if (!used_.count(k)) throw UsageError("unknown option " + k + help);
        for (auto& f : flags)
            if (!used_.count(f)) throw UsageError("unknown option " + f + help);
    }

    static std::string read_file_or_throw(const std::string& option, const std::string& path) {
        std::ifstream in(path, std::ios::binary);
        if (!in) throw UsageError(option + ": cannot read " + path + ": " + std::strerror(errno));
        std::stringstream s;
        s << in.rdbuf();
        if (in.bad()) throw UsageError(option + ": cannot read " + path);
        return s.str();
    }
    static Bytes hex_or_throw(const std::string& what, std::string_view text, std::size_t size) {
        while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.remove_suffix(1);
        while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) text.remove_prefix(1);
        bool ok = false;
        Bytes bytes = from_hex(text, &ok);
        if (!ok || bytes.empty()) throw UsageError(what + ": not hex digits");
        if (size && bytes.size() != size)
            throw UsageError(what + ": " + std::to_string(bytes.size()) + " bytes, " + std::to_string(size) + " expected");
        return bytes;
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

/// `tapsec show <protocol> ...`: a protocol's status view (WireGuard: like `wg show`).
inline std::map<std::string, std::function<int(Arguments&)>>& show_commands() {
    static std::map<std::string, std::function<int(Arguments&)>> commands;
    return commands;
}
struct ShowRegistration {
    ShowRegistration(const std::string& protocol, std::function<int(Arguments&)> show) { show_commands()[protocol] = std::move(show); }
};

/// Prints "tapsec: <message>" to stderr and returns exit code 1 (one line, as the CLI promises).
int fail(const std::string& message);
/// The same for a command-line mistake: exit code 2.
int usage_fail(const std::string& message);

}  // namespace tapsec::cli
