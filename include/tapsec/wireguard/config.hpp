// WireGuard's own key and configuration formats: base64 keys as `wg genkey` /
// `wg pubkey` print them, and the `wg` tool's INI file ([Interface] PrivateKey,
// ListenPort; [Peer] PublicKey, PresharedKey, Endpoint, AllowedIPs,
// PersistentKeepalive). wg-quick's Address and MTU are accepted too (the CLI applies
// them to a TUN device). Every error is one line naming the file and line.
#pragma once

#include <cctype>
#include <charconv>
#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "../core/bytes.hpp"
#include "../core/endpoint.hpp"
#include "allowed_ips.hpp"
#include "wire.hpp"

namespace tapsec::wireguard {

// ---- base64 keys ---------------------------------------------------------------------

inline std::string encode_base64(ByteView data) {
    static constexpr char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    for (std::size_t i = 0; i < data.size(); i += 3) {
        std::uint32_t v = std::uint32_t{data[i]} << 16;
        if (i + 1 < data.size()) v |= std::uint32_t{data[i + 1]} << 8;
        if (i + 2 < data.size()) v |= data[i + 2];
        out.push_back(alphabet[v >> 18 & 63]);
        out.push_back(alphabet[v >> 12 & 63]);
        out.push_back(i + 1 < data.size() ? alphabet[v >> 6 & 63] : '=');
        out.push_back(i + 2 < data.size() ? alphabet[v & 63] : '=');
    }
    return out;
}

/// A 32-byte key in base64: exactly 44 characters ending in '=' (what `wg` prints).
inline std::optional<Key> decode_key(std::string_view text) {
    if (text.size() != 44 || text[43] != '=') return std::nullopt;
    auto value = [](char c) -> int {
        if (c >= 'A' && c <= 'Z') return c - 'A';
        if (c >= 'a' && c <= 'z') return c - 'a' + 26;
        if (c >= '0' && c <= '9') return c - '0' + 52;
        if (c == '+') return 62;
        if (c == '/') return 63;
        return -1;
    };
    Key key{};
    std::size_t out = 0;
    std::uint32_t acc = 0;
    int bits = 0;
    for (std::size_t i = 0; i < 43; ++i) {
        const int v = value(text[i]);
        if (v < 0) return std::nullopt;
        acc = acc << 6 | static_cast<std::uint32_t>(v);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (out < 32) key[out++] = static_cast<std::uint8_t>(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    if (out != 32 || acc != 0) return std::nullopt;  // the 2 spare bits must be zero (canonical)
    return key;
}

inline std::string encode_key(ByteView key) { return encode_base64(key); }

// ---- settings ---------------------------------------------------------------------------

struct PeerSettings {
    Key public_key{};
    std::optional<SecretArray<32>> preshared_key;
    std::optional<Endpoint> endpoint;
    std::vector<IpPrefix> allowed_ips;
    std::chrono::seconds persistent_keepalive{0};  // 0 = off
};

struct InterfaceSettings {
    SecretArray<32> private_key;
    bool has_private_key = false;
    std::uint16_t listen_port = 0;  // 0 = any
    std::vector<IpPrefix> addresses;  // wg-quick's Address (for a TUN device)
    std::optional<unsigned> mtu;      // wg-quick's MTU
    std::vector<PeerSettings> peers;
};

struct ConfigParseResult {
    std::optional<InterfaceSettings> settings;
    std::string error;  // one line: "FILE:LINE: what is wrong"
};

namespace config_detail {
inline std::string_view trim(std::string_view s) {
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
    return s;
}
inline bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) return false;
    return true;
}
template <class F>
void split_list(std::string_view s, F&& each) {
    while (!s.empty()) {
        auto comma = s.find(',');
        each(trim(s.substr(0, comma)));
        if (comma == std::string_view::npos) break;
        s.remove_prefix(comma + 1);
    }
}
inline bool parse_number(std::string_view s, unsigned max, unsigned& out) {
    auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    return !s.empty() && ec == std::errc{} && ptr == s.data() + s.size() && out <= max;
}
}  // namespace config_detail

/// Parses a `wg`-format configuration. `source` names the file in error messages.
inline ConfigParseResult parse_config(std::string_view text, std::string_view source = "config") {
    using namespace config_detail;
    InterfaceSettings settings;
    enum class Section { none, interface, peer } section = Section::none;
    bool seen_interface = false;
    std::vector<bool> peer_has_key;
    std::size_t line_number = 0;
    auto fail = [&](const std::string& message) {
        return ConfigParseResult{std::nullopt, std::string(source) + ":" + std::to_string(line_number) + ": " + message};
    };
    while (!text.empty()) {
        ++line_number;
        auto newline = text.find('\n');
        std::string_view line = text.substr(0, newline);
        text.remove_prefix(newline == std::string_view::npos ? text.size() : newline + 1);
        if (auto hash = line.find('#'); hash != std::string_view::npos) line = line.substr(0, hash);
        line = trim(line);
        if (line.empty()) continue;
        if (line.front() == '[') {
            if (line.back() != ']') return fail("malformed section header '" + std::string(line) + "'");
            auto name = trim(line.substr(1, line.size() - 2));
            if (iequals(name, "Interface")) {
                if (seen_interface) return fail("a second [Interface] section");
                seen_interface = true;
                section = Section::interface;
            } else if (iequals(name, "Peer")) {
                if (!peer_has_key.empty() && !peer_has_key.back())
                    return fail("the previous [Peer] section has no PublicKey");
                section = Section::peer;
                settings.peers.emplace_back();
                peer_has_key.push_back(false);
            } else {
                return fail("unknown section [" + std::string(name) + "] (expected [Interface] or [Peer])");
            }
            continue;
        }
        auto eq = line.find('=');
        if (eq == std::string_view::npos) return fail("expected 'Key = Value', got '" + std::string(line) + "'");
        const auto key = trim(line.substr(0, eq));
        const auto value = trim(line.substr(eq + 1));
        const std::string key_name(key);
        if (section == Section::none) return fail(key_name + " outside a section (start with [Interface])");
        if (section == Section::interface) {
            if (iequals(key, "PrivateKey")) {
                auto k = decode_key(value);
                if (!k) return fail("PrivateKey: not a base64 32-byte key (44 characters, as `wg genkey` prints)");
                std::copy(k->begin(), k->end(), settings.private_key.begin());
                secure_zero(k->data(), k->size());
                settings.has_private_key = true;
            } else if (iequals(key, "ListenPort")) {
                unsigned port = 0;
                if (!parse_number(value, 65535, port)) return fail("ListenPort: not a port number (0-65535)");
                settings.listen_port = static_cast<std::uint16_t>(port);
            } else if (iequals(key, "Address")) {
                bool ok = true;
                std::string bad;
                split_list(value, [&](std::string_view item) {
                    auto slash = item.find('/');
                    auto addr = IpAddress::parse(item.substr(0, slash));
                    auto prefix = IpPrefix::parse(item);
                    if (!addr || !prefix) {
                        ok = false;
                        bad = std::string(item);
                        return;
                    }
                    prefix->address = *addr;  // keep the host address for `ip addr add`
                    settings.addresses.push_back(*prefix);
                });
                if (!ok) return fail("Address: '" + bad + "' is not an address/prefix");
            } else if (iequals(key, "MTU")) {
                unsigned mtu = 0;
                if (!parse_number(value, 65535, mtu) || mtu < 576) return fail("MTU: not a number between 576 and 65535");
                settings.mtu = mtu;
            } else if (iequals(key, "FwMark") || iequals(key, "DNS") || iequals(key, "Table") || iequals(key, "PreUp") ||
                       iequals(key, "PostUp") || iequals(key, "PreDown") || iequals(key, "PostDown") ||
                       iequals(key, "SaveConfig")) {
                return fail(key_name + " is not supported by tapsec (it configures the host, not the tunnel)");
            } else {
                return fail("unknown [Interface] key '" + key_name + "'");
            }
        } else {
            PeerSettings& peer = settings.peers.back();
            if (iequals(key, "PublicKey")) {
                auto k = decode_key(value);
                if (!k) return fail("PublicKey: not a base64 32-byte key (44 characters, as `wg pubkey` prints)");
                peer.public_key = *k;
                peer_has_key.back() = true;
            } else if (iequals(key, "PresharedKey")) {
                auto k = decode_key(value);
                if (!k) return fail("PresharedKey: not a base64 32-byte key (44 characters, as `wg genpsk` prints)");
                SecretArray<32> psk;
                std::copy(k->begin(), k->end(), psk.begin());
                secure_zero(k->data(), k->size());
                peer.preshared_key = psk;
            } else if (iequals(key, "Endpoint")) {
                auto ep = Endpoint::parse(value);
                if (!ep) return fail("Endpoint: '" + std::string(value) + "' is not HOST:PORT (numeric address, [v6]:port, or localhost)");
                peer.endpoint = *ep;
            } else if (iequals(key, "AllowedIPs")) {
                bool ok = true;
                std::string bad;
                split_list(value, [&](std::string_view item) {
                    if (item.empty()) return;
                    auto prefix = IpPrefix::parse(item);
                    if (!prefix) {
                        ok = false;
                        bad = std::string(item);
                        return;
                    }
                    peer.allowed_ips.push_back(*prefix);
                });
                if (!ok) return fail("AllowedIPs: '" + bad + "' is not an IP prefix (e.g. 10.0.0.2/32, fd00::/64)");
            } else if (iequals(key, "PersistentKeepalive")) {
                unsigned seconds = 0;
                if (iequals(value, "off")) seconds = 0;
                else if (!parse_number(value, 65535, seconds)) return fail("PersistentKeepalive: not a number of seconds (1-65535) or 'off'");
                peer.persistent_keepalive = std::chrono::seconds(seconds);
            } else {
                return fail("unknown [Peer] key '" + key_name + "'");
            }
        }
    }
    ++line_number;
    if (!seen_interface) return fail("no [Interface] section");
    if (!settings.has_private_key) return fail("[Interface] has no PrivateKey");
    if (!peer_has_key.empty() && !peer_has_key.back()) return fail("the last [Peer] section has no PublicKey");
    for (std::size_t i = 0; i < settings.peers.size(); ++i)
        for (std::size_t j = 0; j < i; ++j)
            if (settings.peers[i].public_key == settings.peers[j].public_key)
                return fail("two [Peer] sections have the same PublicKey");
    return {std::move(settings), {}};
}

}  // namespace tapsec::wireguard
