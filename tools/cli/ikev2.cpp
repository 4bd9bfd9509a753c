// `tapsec connect|listen ikev2`: an IKEv2 peer authenticated by a PSK or by an X.509
// certificate (RFC 7427 signatures: ECDSA, RSA-PSS, Ed25519), one IKE SA and one tunnel-
// mode Child SA, on one UDP socket (the NAT-T port framing: IKE with the non-ESP marker,
// ESP in UDP). Three data paths, as for WireGuard:
//   (default)          stdin/stdout carry inner IPv4 or IPv6 packets, each framed as a 2-byte
//                      big-endian length followed by the packet;
//   --tun NAME         a TUN device (Linux, root) with the first local selector address
//                      (or the address the responder assigned, --request-address), IPv4
//                      or IPv6 as the selectors are, routes to the remote selector's range;
//   --udp-to IP:PORT   each stdin line goes as one UDP datagram to IP:PORT inside the
//                      tunnel (from the local selector's first address, same port); the
//                      payload of every UDP datagram out of the tunnel goes to stdout.
// connect deletes the IKE SA (INFORMATIONAL, answered) when stdin ends and the tunnel
// has been quiet for two seconds; listen exits 0 when the peer deletes it.
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>
#include <thread>

#include <tapsec/ikev2.hpp>

#include "address.hpp"
#include "provider_option.hpp"
#include "registry.hpp"
#include "tunnel_batch.hpp"
#include "tunnel_io.hpp"

namespace tapsec::cli {
namespace {

template <class Crypto = crypto::Botan2>
using Ikev2 = Secure<Ikev2Handshake, EspRecord, Udp, Crypto>;
using Config = ikev2::Config;
using namespace std::chrono_literals;

constexpr const char* usage =
    "options:\n"
    "  --config FILE         a swanctl-like file, one `key = value` per line (# comments):\n"
    "                        local.id, remote.id, secret, local_ts, remote_ts, remote_addrs\n"
    "                        (connect: HOST[:PORT]), local_addrs (listen: [ADDR:]PORT),\n"
    "                        proposals (e.g. aes128gcm16-prfsha256-x25519,\n"
    "                        aes256-sha384-prfsha384-ecp256, aes256gcm16-prfsha512-x25519,\n"
    "                        aes256-sha256-modp2048), esp_proposals (e.g. aes128gcm16-esn,\n"
    "                        aes256-sha512; a group, e.g. aes128gcm16-x25519, asks for PFS\n"
    "                        in Child SA rekeys, with the IKE SA's group), cookies = yes,\n"
    "                        dpd_delay, rekey_time (s), vips = 0.0.0.0 (connect: as\n"
    "                        --request-address), pools = CIDR (listen: as --pool),\n"
    "                        local.auth / remote.auth (psk or pubkey), local.certs, local.key,\n"
    "                        remote.cacerts (PEM files), fragmentation = yes|no and\n"
    "                        fragment_size = OCTETS (IKE fragmentation, RFC 7383: on, 1280\n"
    "                        by default); errors name the line; options below\n"
    "                        override the file\n"
    "  --psk-file FILE       the pre-shared key: the file's first line (or --psk), needed when\n"
    "                        either side authenticates with the PSK\n"
    "  --psk TEXT            the pre-shared key on the command line (visible in ps: tests only)\n"
    "  --cert FILE           our certificate chain (PEM, leaf first): we sign (AUTH method 14,\n"
    "                        RFC 7427) with --key (ECDSA P-256/384/521, RSA: RSA-PSS, Ed25519)\n"
    "  --key FILE            the certificate's private key (PEM, PKCS#8)\n"
    "  --CAfile FILE         the CA(s) the peer's certificate must chain to: the peer must sign\n"
    "                        (without it, the peer must prove the PSK)\n"
    "  --id ID, --local-id ID  our identity: user@domain (RFC822), host.domain or @host (FQDN),\n"
    "                        an IPv4 address, C=..,O=..,CN=.. (DER_ASN1_DN) or @#hex (KEY_ID);\n"
    "                        with --cert it must be named in the certificate (default: its subject)\n"
    "  --remote-id ID        the peer's identity (required with a PSK; with --CAfile, optional:\n"
    "                        then any identity its certificate names)\n"
    "  --eap-md5-identity ID connect: authenticate with EAP-MD5 (RFC 7296 2.16) as ID instead\n"
    "                        of AUTH (also our --id unless given); needs --eap-secret-file and\n"
    "                        --CAfile (the responder signs, as RFC 7296 requires with EAP)\n"
    "  --eap-secret-file FILE  connect: the EAP-MD5 password, the file's first line\n"
    "  --eap-md5-users FILE  listen: demand EAP-MD5 of the initiator; FILE holds `identity = secret`\n"
    "                        lines (# comments); needs --cert/--key (we sign)\n"
    "  --local-ts NET        our inner addresses, 10.0.0.1, 10.0.0.0/24, fd00::/64 or a-b (required)\n"
    "  --remote-ts NET       the peer's inner addresses (required)\n"
    "  --request-address     connect: ask for an inner address (CP(CFG_REQUEST), RFC 7296 2.19:\n"
    "                        IPv4 address, IPv4 DNS, IPv6 address); the assigned IPv4 address\n"
    "                        is our side of the tunnel (--local-ts defaults to 0.0.0.0/0)\n"
    "  --pool NET            listen: assign each initiator that asks an address of NET\n"
    "                        (10.3.0.0/24 without .0 and .255, or a-b); its selector narrows\n"
    "                        to it (--remote-ts defaults to NET); exhausted: INTERNAL_ADDRESS_FAILURE\n"
    "  --pool-dns IP         listen: the DNS server sent to initiators asking for one\n"
    "  --dummy-packets RATE  send RATE ESP dummy packets a second (RFC 4303 2.6, next header 59,\n"
    "                        1..1000); the peer discards them; --verbose counts both ways\n"
    "  --group G             x25519, ecp256 or modp2048 first (default: x25519, then ecp256)\n"
    "  --cookies             listen: demand N(COOKIE) before keeping any state\n"
    "  --mobike              announce MOBIKE (RFC 4555; also `mobike = yes`); connect: when the\n"
    "                        route to the peer leaves from another address, send\n"
    "                        UPDATE_SA_ADDRESSES so the peer moves the SAs there\n"
    "  --tfc-padding MODE    TFC padding of the ESP packets we send (RFC 4303 2.4): off (default),\n"
    "                        bucket:N (each inner packet padded up to a multiple of N octets)\n"
    "                        or fixed:N (padded to N octets); none when the peer announces\n"
    "                        ESP_TFC_PADDING_NOT_SUPPORTED\n"
    "  --tun NAME            carry packets of a TUN device NAME (created; needs root), with the\n"
    "                        first local selector address and a route to the remote selector\n"
    "  --udp-to IP:PORT      stdin lines as UDP datagrams to IP:PORT inside the tunnel;\n"
    "                        UDP payloads from the tunnel to stdout\n"
    "  --ticket-out FILE     connect: ask for an RFC 5723 resumption ticket and write it to FILE\n"
    "                        (0600: it holds the IKE SA's SK_d) once the tunnel is up\n"
    "  --resume FILE         connect: resume with the ticket in FILE (IKE_SESSION_RESUME, no\n"
    "                        key exchange); tickets are single use: pair with --ticket-out.\n"
    "                        A ticket the responder refuses (TICKET_NACK): a full IKE_SA_INIT\n"
    "  --ticket-key-file FILE  listen: seal resumption tickets with FILE's 48 octets (16-octet\n"
    "                        name, 32-octet AES-256-GCM key), so another run accepts them;\n"
    "                        without it, a random key per run. listen always answers TICKET_REQUEST\n"
    "  --handshake-timeout S give up after S seconds (default 20 for connect, 600 for listen)\n"
    "  --verbose             report the negotiation, rekeys, drops, the close and the ESP\n"
    "                        counters on stderr\n"
    "  --provider NAME       crypto provider: openssl or botan (default: openssl where\n"
    "                        built with it); --verbose names the one used\n"
    "\n"
    "connect HOST[:PORT] (default port 4500); listen [ADDR:]PORT (default 0.0.0.0:4500).\n"
    "Without --tun or --udp-to, stdin/stdout carry inner IPv4 packets framed as a 2-byte\n"
    "big-endian length and the packet. IKE and ESP share the one UDP socket (RFC 3948).\n"
    "SIGUSR1 rekeys the Child SA, SIGUSR2 the IKE SA (CREATE_CHILD_SA) while traffic flows.\n";

std::atomic<bool> stop_requested{false};
// SIGUSR1 / SIGUSR2: rekey the Child SA / the IKE SA now (swanctl --rekey's counterpart),
// started at the next round of the data path, once no other exchange is outstanding.
std::atomic<bool> child_rekey_requested{false}, ike_rekey_requested{false};

struct Options {
    Config config;
    std::string tun;
    std::optional<Endpoint> udp_to;
    bool verbose = false;
    std::string bind_address = "0.0.0.0";
    std::uint16_t port = 4500;
    Endpoint peer;
    std::string ticket_out, resume_file;  // RFC 5723 (connect)
};

/// The EAP-MD5 options: the peer's identity and password (connect), the server's user
/// table (listen), hashing with the chosen provider. RFC 7296 2.16: the responder of an
/// EAP exchange signs.
template <class Crypto>
std::optional<std::string> read_eap_options(bool is_connect, const std::optional<std::string>& identity,
                                            const std::optional<std::string>& secret_file,
                                            const std::optional<std::string>& users_file, bool we_sign, bool peer_signs,
                                            Config& config) {
    auto first_line = [](const std::string& path, std::string& line) {
        std::ifstream in(path, std::ios::binary);
        if (!in) return false;
        std::getline(in, line);
        if (!line.empty() && line.back() == '\r') line.pop_back();
        return true;
    };
    if (is_connect) {
        if (users_file) return std::string("--eap-md5-users is for listen (the EAP server); connect takes --eap-md5-identity");
        if (!identity && !secret_file) return std::nullopt;
        if (!identity || !secret_file) return std::string("EAP-MD5 needs both --eap-md5-identity ID and --eap-secret-file FILE");
        if (identity->empty()) return std::string("--eap-md5-identity: empty identity");
        if (!peer_signs) return std::string("EAP needs --CAfile: the responder authenticates with its certificate (RFC 7296 2.16)");
        if (we_sign) return std::string("EAP replaces our AUTH: give --eap-md5-identity or --cert/--key, not both");
        std::string password;
        if (!first_line(*secret_file, password)) return "cannot read the EAP secret file " + *secret_file;
        if (password.empty()) return "the EAP secret file " + *secret_file + " has an empty first line";
        auto shared = std::make_shared<const SecretBytes>(password.begin(), password.end());
        secure_zero(password.data(), password.size());
        config.eap_peer = [id = *identity, shared] { return std::make_unique<ikev2::eap::Md5Peer<Crypto>>(id, *shared); };
        return std::nullopt;
    }
    if (identity || secret_file) return std::string("--eap-md5-identity and --eap-secret-file are for connect; listen takes --eap-md5-users FILE");
    if (!users_file) return std::nullopt;
    if (!we_sign) return std::string("--eap-md5-users needs --cert/--key: the EAP responder signs (RFC 7296 2.16)");
    if (peer_signs) return std::string("--eap-md5-users and --CAfile are alternatives: the initiator authenticates with EAP");
    std::ifstream in(*users_file, std::ios::binary);
    if (!in) return "cannot read the EAP users file " + *users_file;
    auto users = std::make_shared<ikev2::eap::Md5Users>();
    std::string line;
    auto trim = [](std::string_view v) {
        while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
        while (!v.empty() && (v.back() == ' ' || v.back() == '\t' || v.back() == '\r')) v.remove_suffix(1);
        return v;
    };
    for (unsigned number = 1; std::getline(in, line); ++number) {
        const std::string_view text = trim(line);
        if (text.empty() || text.front() == '#') continue;
        const auto equals = text.find('=');
        const auto id = equals == std::string_view::npos ? std::string_view() : trim(text.substr(0, equals));
        const auto value = equals == std::string_view::npos ? std::string_view() : trim(text.substr(equals + 1));
        if (id.empty() || value.empty())
            return *users_file + ":" + std::to_string(number) + ": expected `identity = secret`";
        (*users)[std::string(id)] = SecretBytes(value.begin(), value.end());
        secure_zero(line.data(), line.size());
    }
    if (users->empty()) return "the EAP users file " + *users_file + " names no user";
    std::shared_ptr<const ikev2::eap::Md5Users> table = std::move(users);
    config.eap_server = [table] { return std::make_unique<ikev2::eap::Md5Server<Crypto>>(table); };
    return std::nullopt;
}

/// strongSwan's proposal keywords for what tapsec implements: "aes128gcm16-prfsha256-x25519"
/// or "aes256-sha384-prfsha384-ecp256" (IKE, `groups` given), "aes128gcm16-esn" or
/// "aes256-sha512" (ESP, `esn` given); several separated by ','. AES-CBC ("aes128",
/// "aes256") takes the HMAC-SHA-2 integrity named with it (`integrity`). In IKE, as swanctl
/// reads it, "prfsha256/384/512" name the PRF (`prfs`), and without one "sha256/384/512"
/// name it too.
std::optional<std::string> parse_proposals(std::string_view text, std::vector<esp::Algorithm>& ciphers,
                                           std::vector<ikev2::Group>* groups, std::pair<bool, bool>* esn,
                                           std::vector<esp::Integrity>* integrity = nullptr,
                                           std::vector<ikev2::Prf>* prfs = nullptr, bool* pfs = nullptr) {
    std::vector<ikev2::Prf> named_prfs, implied_prfs;
    ciphers.clear();
    if (pfs) *pfs = false;
    if (groups) groups->clear();
    std::vector<esp::Integrity> integrity_seen;
    if (!integrity) integrity = &integrity_seen;
    integrity->clear();
    bool esn_yes = false, esn_no = false;
    auto add = [](auto& list, auto value) {
        if (std::find(list.begin(), list.end(), value) == list.end()) list.push_back(value);
    };
    std::string words(text);
    for (char& c : words)
        if (c == ',' || c == '-') c = ' ';
    std::istringstream in(words);
    for (std::string w; in >> w;) {
        if (w == "aes128gcm16" || w == "aes128gcm128") add(ciphers, esp::Algorithm::aes_128_gcm_16);
        else if (w == "aes256gcm16" || w == "aes256gcm128") add(ciphers, esp::Algorithm::aes_256_gcm_16);
        else if (w == "chacha20poly1305") add(ciphers, esp::Algorithm::chacha20_poly1305);
        else if (w == "aes128" || w == "aes128cbc") add(ciphers, esp::Algorithm::aes_128_cbc);
        else if (w == "aes256" || w == "aes256cbc") add(ciphers, esp::Algorithm::aes_256_cbc);
        else if (w == "sha256" || w == "sha2_256") add(*integrity, esp::Integrity::hmac_sha2_256_128), add(implied_prfs, ikev2::Prf::hmac_sha2_256);
        else if (w == "sha384" || w == "sha2_384") add(*integrity, esp::Integrity::hmac_sha2_384_192), add(implied_prfs, ikev2::Prf::hmac_sha2_384);
        else if (w == "sha512" || w == "sha2_512") add(*integrity, esp::Integrity::hmac_sha2_512_256), add(implied_prfs, ikev2::Prf::hmac_sha2_512);
        else if (groups && (w == "modp2048")) add(*groups, ikev2::Group::modp_2048);
        else if (groups && (w == "prfsha256")) add(named_prfs, ikev2::Prf::hmac_sha2_256);
        else if (groups && (w == "prfsha384")) add(named_prfs, ikev2::Prf::hmac_sha2_384);
        else if (groups && (w == "prfsha512")) add(named_prfs, ikev2::Prf::hmac_sha2_512);
        else if (groups && (w == "x25519" || w == "curve25519")) add(*groups, ikev2::Group::curve25519);
        else if (groups && (w == "ecp256")) add(*groups, ikev2::Group::ecp_256);
        else if (!groups && (w == "x25519" || w == "curve25519" || w == "ecp256" || w == "modp2048")) {
            if (pfs) *pfs = true;  // as swanctl: a group in esp_proposals asks for PFS in Child SA rekeys
        } else if (esn && w == "esn") esn_yes = true;
        else if (esn && w == "noesn") esn_no = true;
        else return "'" + w + "' is not an algorithm tapsec implements here";
    }
    if (ciphers.empty())
        return std::string("no encryption algorithm (aes128gcm16, aes256gcm16, chacha20poly1305, aes128, aes256)");
    const bool cbc = std::any_of(ciphers.begin(), ciphers.end(), [](esp::Algorithm a) { return !esp::is_aead(a); });
    if (cbc && integrity->empty()) return std::string("aes128 / aes256 (CBC) need an integrity algorithm (sha256, sha384, sha512)");
    // (In IKE, "aes128gcm16-sha256" names the PRF, as swanctl reads it.)
    if (!groups && !cbc && !integrity->empty())
        return std::string("an integrity algorithm goes with aes128 / aes256 (CBC), not with an AEAD");
    if (groups && groups->empty()) return std::string("no key-exchange group (x25519, ecp256, modp2048)");
    if (prfs && !(named_prfs.empty() && implied_prfs.empty())) *prfs = named_prfs.empty() ? implied_prfs : named_prfs;
    if (esn) *esn = {esn_yes, esn_no || !esn_yes};
    return std::nullopt;
}

/// The settings a --config file may hold (command-line options win over them).
struct FileSettings {
    std::optional<std::string> local_id, remote_id, secret, local_ts, remote_ts, remote, listen, proposals, esp_proposals;
    std::optional<std::string> local_auth, remote_auth, local_certs, local_key, remote_cacerts;
    bool cookies = false, mobike = false, vips = false;
    std::optional<std::uint32_t> dpd_delay, rekey_time;
    std::optional<std::string> pools;
    std::optional<bool> fragmentation;             // swanctl's `fragmentation` (yes / no)
    std::optional<std::uint32_t> fragment_size;    // strongswan.conf's charon.fragment_size
};

/// A swanctl-like flat file: `key = value` per line, `#` comments, values optionally
/// quoted. Every error names FILE:LINE.
std::optional<std::string> read_config_file(const std::string& path, FileSettings& out) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return "cannot read configuration " + path;
    std::string line;
    for (int number = 1; std::getline(in, line); ++number) {
        const std::string where = path + ":" + std::to_string(number) + ": ";
        if (auto hash = line.find('#'); hash != std::string::npos) line.erase(hash);
        auto trim = [](std::string s) {
            const auto first = s.find_first_not_of(" \t\r");
            if (first == std::string::npos) return std::string();
            return s.substr(first, s.find_last_not_of(" \t\r") - first + 1);
        };
        line = trim(line);
        if (line.empty()) continue;
        const auto eq = line.find('=');
        if (eq == std::string::npos) return where + "expected `key = value`";
        const std::string key = trim(line.substr(0, eq));
        std::string value = trim(line.substr(eq + 1));
        if (value.size() >= 2 && value.front() == '"' && value.back() == '"') value = value.substr(1, value.size() - 2);
        if (value.empty()) return where + key + ": empty value";
        auto seconds = [&](std::optional<std::uint32_t>& field) -> std::optional<std::string> {
            std::uint32_t v = 0;
            auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
            if (ec != std::errc{} || ptr != value.data() + value.size()) return where + key + ": '" + value + "' is not a number of seconds";
            field = v;
            return std::nullopt;
        };
        std::vector<esp::Algorithm> ciphers;
        std::vector<ikev2::Group> groups;
        std::pair<bool, bool> esn;
        if (key == "local.id" || key == "local_id") out.local_id = value;
        else if (key == "remote.id" || key == "remote_id") out.remote_id = value;
        else if (key == "secret") out.secret = value;
        else if (key == "local_ts" || key == "remote_ts") {
            if (!ikev2::parse_selector(value))
                return where + key + ": '" + value + "' is not an IPv4 or IPv6 address, prefix or range";
            (key == "local_ts" ? out.local_ts : out.remote_ts) = value;
        }
        else if (key == "remote_addrs") out.remote = value;
        else if (key == "local.auth" || key == "remote.auth") {
            if (value != "psk" && value != "pubkey") return where + key + ": 'psk' or 'pubkey'";
            (key == "local.auth" ? out.local_auth : out.remote_auth) = value;
        } else if (key == "local.certs") out.local_certs = value;
        else if (key == "local.key") out.local_key = value;
        else if (key == "remote.cacerts") out.remote_cacerts = value;
        else if (key == "local_addrs") out.listen = value;
        else if (key == "proposals") {
            if (auto e = parse_proposals(value, ciphers, &groups, nullptr)) return where + "proposals: " + *e;
            out.proposals = value;
        } else if (key == "esp_proposals") {
            if (auto e = parse_proposals(value, ciphers, nullptr, &esn)) return where + "esp_proposals: " + *e;
            out.esp_proposals = value;
        } else if (key == "cookies") {
            if (value != "yes" && value != "no") return where + "cookies: 'yes' or 'no'";
            out.cookies = value == "yes";
        } else if (key == "mobike") {
            if (value != "yes" && value != "no") return where + "mobike: 'yes' or 'no'";
            out.mobike = value == "yes";
        } else if (key == "vips") {
            if (value != "0.0.0.0") return where + "vips: only '0.0.0.0' (ask for any IPv4 address)";
            out.vips = true;
        } else if (key == "pools") {
            if (!ikev2::AddressPool::parse(value)) return where + "pools: '" + value + "' is not an IPv4 prefix or range";
            out.pools = value;
        } else if (key == "fragmentation") {
            if (value != "yes" && value != "no") return where + "fragmentation: 'yes' or 'no'";
            out.fragmentation = value == "yes";
        } else if (key == "fragment_size") {
            std::uint32_t v = 0;
            auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
            // RFC 7383 2.5.1: at least the 576 octets every IPv4 host takes, at most a UDP datagram.
            if (ec != std::errc{} || ptr != value.data() + value.size() || v < 576 || v > 65535)
                return where + "fragment_size: '" + value + "' is not a number of octets from 576 to 65535";
            out.fragment_size = v;
        } else if (key == "dpd_delay") {
            if (auto e = seconds(out.dpd_delay)) return e;
        } else if (key == "rekey_time") {
            if (auto e = seconds(out.rekey_time)) return e;
        } else {
            return where + "unknown key '" + key + "'";
        }
    }
    return std::nullopt;
}

template <class Crypto>
std::optional<std::string> read_options(Arguments& args, bool is_connect, Options& out) {
    FileSettings file;
    if (auto config_file = args.take("--config"))
        if (auto error = read_config_file(*config_file, file)) return error;
    auto psk_file = args.take("--psk-file");
    auto psk = args.take("--psk");
    auto id_option = args.take("--id");
    auto local_id = args.take("--local-id");
    if (id_option && local_id) return std::string("--id and --local-id are one option; give one");
    if (id_option) local_id = id_option;
    auto cert_file = args.take("--cert");
    auto key_file = args.take("--key");
    auto ca_file = args.take("--CAfile");
    if (!cert_file) cert_file = file.local_certs;
    if (!key_file) key_file = file.local_key;
    if (!ca_file) ca_file = file.remote_cacerts;
    auto remote_id = args.take("--remote-id");
    auto local_ts = args.take("--local-ts");
    auto remote_ts = args.take("--remote-ts");
    if (!local_id) local_id = file.local_id;
    if (!remote_id) remote_id = file.remote_id;
    if (!local_ts) local_ts = file.local_ts;
    if (!remote_ts) remote_ts = file.remote_ts;
    if (!psk && !psk_file) psk = file.secret;
    if (args.target.empty()) args.target = is_connect ? file.remote.value_or("") : file.listen.value_or("");
    if (file.proposals) {
        std::vector<ikev2::Group> groups;
        (void)parse_proposals(*file.proposals, out.config.ike_ciphers, &groups, nullptr, &out.config.ike_integrity,
                              &out.config.ike_prfs);
        out.config.groups = groups;
    }
    if (file.esp_proposals) {
        std::pair<bool, bool> esn;
        (void)parse_proposals(*file.esp_proposals, out.config.esp_ciphers, nullptr, &esn, &out.config.esp_integrity,
                              nullptr, &out.config.rekey_pfs);
        out.config.allow_esn = esn.first;
        out.config.prefer_esn = esn.first && !esn.second;
    } else {
        out.config.rekey_pfs = false;  // swanctl's default esp_proposals name no group: no PFS
    }
    if (file.dpd_delay) out.config.dpd_interval = std::chrono::seconds(*file.dpd_delay);
    if (file.rekey_time) out.config.child_rekey_after = std::chrono::seconds(*file.rekey_time);
    auto eap_identity = args.take("--eap-md5-identity");
    auto eap_secret_file = args.take("--eap-secret-file");
    auto eap_users_file = args.take("--eap-md5-users");
    auto group = args.take("--group");
    const bool request_address = args.flag("--request-address") || file.vips;
    auto pool = args.take("--pool");
    if (!pool) pool = file.pools;
    auto pool_dns = args.take("--pool-dns");
    auto dummy_rate = args.take("--dummy-packets");
    if (request_address && !is_connect) return std::string("--request-address (vips) is for connect; listen assigns with --pool");
    if ((pool || pool_dns) && is_connect) return std::string("--pool and --pool-dns (pools) are for listen; connect asks with --request-address");
    if (pool_dns && !pool) return std::string("--pool-dns needs --pool");
    if (request_address) {
        out.config.request_address = true;
        if (!local_ts) local_ts = "0.0.0.0/0";  // RFC 7296 2.19: any address, narrowed to the assigned one
    }
    if (pool) {
        out.config.address_pool = ikev2::AddressPool::parse(*pool);
        if (!out.config.address_pool) return "--pool: '" + *pool + "' is not an IPv4 prefix or range";
        if (!remote_ts) remote_ts = *pool;
    }
    if (pool_dns) {
        in_addr a{};
        if (inet_pton(AF_INET, pool_dns->c_str(), &a) != 1) return "--pool-dns: '" + *pool_dns + "' is not an IPv4 address";
        const auto* b = reinterpret_cast<const std::uint8_t*>(&a);
        out.config.pool_dns.push_back({b[0], b[1], b[2], b[3]});
    }
    if (dummy_rate) {
        unsigned rate = 0;
        auto [ptr, ec] = std::from_chars(dummy_rate->data(), dummy_rate->data() + dummy_rate->size(), rate);
        if (ec != std::errc{} || ptr != dummy_rate->data() + dummy_rate->size() || rate < 1 || rate > 1000)
            return "--dummy-packets: '" + *dummy_rate + "' is not a rate of 1 to 1000 a second";
        out.config.dummy_interval = std::chrono::milliseconds(1000 / rate);
    }
    out.config.mobike = file.mobike || args.flag("--mobike");
    if (file.fragmentation) out.config.fragmentation = *file.fragmentation;
    if (file.fragment_size) out.config.fragment_size = *file.fragment_size;
    if (auto tfc = args.take("--tfc-padding")) {
        auto parsed = esp::TfcPadding::parse(*tfc);
        if (!parsed) return "--tfc-padding: '" + *tfc + "' is not off, bucket:N or fixed:N (1 <= N <= 65535)";
        out.config.tfc_padding = *parsed;
    }
    auto tun = args.take("--tun");
    auto udp_to = args.take("--udp-to");
    auto timeout = args.take_seconds("--handshake-timeout");
    const bool cookies = args.flag("--cookies") || (file.cookies && !is_connect);
    out.verbose = args.flag("--verbose");
    auto ticket_out = args.take("--ticket-out");
    auto resume_file = args.take("--resume");
    auto ticket_key = args.take_file("--ticket-key-file");
    args.refuse_unknown_options();

    // Session resumption (RFC 5723): connect keeps / presents a ticket, listen issues them.
    if ((ticket_out || resume_file) && !is_connect)
        return std::string("--ticket-out and --resume are for connect; listen issues tickets (--ticket-key-file)");
    if (ticket_key && is_connect) return std::string("--ticket-key-file is for listen; connect takes --resume FILE");
    if (ticket_out) {
        if (ticket_out->empty()) return std::string("--ticket-out: empty file name");
        out.ticket_out = *ticket_out;
        out.config.request_ticket = true;
    }
    if (resume_file) {
        std::string content = Arguments::read_file_or_throw("--resume", *resume_file);
        auto ticket = ikev2::Ticket::parse(as_bytes(content));
        secure_zero(content.data(), content.size());  // the file holds SK_d
        if (!ticket) return "--resume: " + *resume_file + " holds no IKEv2 resumption ticket (written by --ticket-out)";
        if (ticket->expired(ikev2::unix_seconds(out.config)))
            return "--resume: the ticket in " + *resume_file + " has expired; connect without --resume";
        out.config.resume_ticket = std::move(*ticket);
        out.resume_file = *resume_file;
    }
    if (!is_connect) {
        if (ticket_key) {
            if (ticket_key->size() != 48)
                return "--ticket-key-file: " + std::to_string(ticket_key->size()) + " octets, 48 expected (16-octet name, 32-octet key)";
            out.config.tickets = std::make_shared<ikev2::TicketIssuer>(
                tls13::TicketKey::from_bytes(as_bytes(*ticket_key).first(16), as_bytes(*ticket_key).subspan(16, 32)),
                std::chrono::hours(8));
            secure_zero(ticket_key->data(), ticket_key->size());
        } else {
            out.config.tickets = ikev2::TicketIssuer::generate<Crypto>(out.config);
        }
    }

    // Authentication: we sign when given a certificate, the peer must when given a CA;
    // local.auth / remote.auth in the file make the choice explicit.
    const bool we_sign = file.local_auth ? *file.local_auth == "pubkey" : cert_file.has_value();
    const bool peer_signs = file.remote_auth ? *file.remote_auth == "pubkey" : ca_file.has_value();
    if (we_sign && (!cert_file || !key_file)) return std::string("certificate authentication needs --cert FILE and --key FILE");
    if (!we_sign && (cert_file || key_file)) return std::string("--cert and --key are for local.auth = pubkey (the file says psk)");
    if (peer_signs && !ca_file) return std::string("remote.auth = pubkey needs --CAfile FILE (the peer's CA)");
    if (!peer_signs && ca_file) return std::string("--CAfile is for remote.auth = pubkey (the file says psk)");
    std::optional<ikev2::CertificateFacts> own_certificate;
    if (we_sign) {
        std::string chain = Arguments::read_file_or_throw("--cert", *cert_file);
        std::string key = Arguments::read_file_or_throw("--key", *key_file);
        auto parsed = crypto::Botan2::Certificate::chain_from_pem(chain);
        if (!parsed) return "--cert: " + *cert_file + " holds no PEM certificate";
        own_certificate = ikev2::parse_certificate(parsed->front().der());
        if (!own_certificate) return "--cert: " + *cert_file + ": the certificate does not parse";
        auto private_key = crypto::Botan2::PrivateKey::from_pem(key);
        if (!private_key) return "--key: " + *key_file + " holds no PEM (PKCS#8) private key tapsec can read";
        const auto schemes = private_key->schemes();
        static constexpr std::string_view probe = "tapsec: is this the certificate's key?";
        auto signature = schemes.empty() ? Result<Bytes>(make_error_code(Errc::unsupported_algorithm))
                                         : private_key->sign(schemes.front(), as_bytes(probe));
        if (!signature || !parsed->front().verify(schemes.front(), as_bytes(probe), *signature))
            return "--key: " + *key_file + " is not the key of the certificate in " + *cert_file;
        out.config.identity = Identity(std::move(chain), std::move(key));
        secure_zero(key.data(), key.size());
    }
    if (peer_signs) {
        std::string cas = Arguments::read_file_or_throw("--CAfile", *ca_file);
        if (!crypto::Botan2::Certificate::chain_from_pem(cas)) return "--CAfile: " + *ca_file + " holds no PEM certificate";
        out.config.trust.ca_certificates_pem.push_back(std::move(cas));
    }
    if (auto error = read_eap_options<Crypto>(is_connect, eap_identity, eap_secret_file, eap_users_file, we_sign, peer_signs, out.config))
        return error;
    if (eap_identity && !local_id) local_id = eap_identity;
    const bool eap_client = bool(out.config.eap_peer), eap_server = bool(out.config.eap_server);
    const bool psk_needed = (!we_sign && !eap_client) || (!peer_signs && !eap_server);
    std::string secret;
    if (psk_file && psk) return std::string("--psk-file and --psk are alternatives; give one");
    if (!psk_needed) {
        if (psk_file || (psk && !file.secret)) return std::string("no pre-shared key is used: both sides authenticate with certificates");
    } else if (psk_file) {
        std::ifstream in(*psk_file, std::ios::binary);
        if (!in) return "cannot read the PSK file " + *psk_file;
        std::getline(in, secret);
        if (!secret.empty() && secret.back() == '\r') secret.pop_back();
        if (secret.empty()) return "the PSK file " + *psk_file + " has an empty first line";
    } else if (psk) {
        secret = *psk;
    } else {
        return std::string("a pre-shared key is required: --psk-file FILE, `secret = ...` in --config, or --psk TEXT "
                           "(or certificates: --cert/--key and --CAfile)");
    }
    if (!local_id && !we_sign) return std::string("--local-id is required (or local.id in --config)");
    if (!remote_id && !peer_signs && !eap_server) return std::string("--remote-id is required with a PSK (or remote.id in --config)");
    if (local_id) {
        auto lid = ikev2::Identification::parse(*local_id);
        if (!lid) return "--id: '" + *local_id + "' is not an identity";
        if (own_certificate && !ikev2::certificate_names(*own_certificate, lid->payload()))
            return "--id: '" + *local_id + "' is not named in the certificate " + *cert_file +
                   " (an FQDN or address needs a subjectAltName of it, a DN the subject's)";
        out.config.local_id = *lid;
    }
    if (remote_id) {
        auto rid = ikev2::Identification::parse(*remote_id);
        if (!rid) return "--remote-id: '" + *remote_id + "' is not an identity";
        out.config.remote_id = *rid;
    }
    if (psk_needed) out.config.pre_shared_keys.push_back({out.config.remote_id.value, SecretBytes(secret.begin(), secret.end())});
    secure_zero(secret.data(), secret.size());
    if (psk) secure_zero(psk->data(), psk->size());
    if (file.secret) secure_zero(file.secret->data(), file.secret->size());
    if (!local_ts || !remote_ts) return std::string("--local-ts and --remote-ts are required (the tunnel's inner addresses)");
    auto lts = ikev2::parse_selector(*local_ts);
    auto rts = ikev2::parse_selector(*remote_ts);
    if (!lts) return "--local-ts: '" + *local_ts + "' is not an IPv4 or IPv6 address, prefix or range";
    if (!rts) return "--remote-ts: '" + *remote_ts + "' is not an IPv4 or IPv6 address, prefix or range";
    if (lts->family != rts->family)
        return "local_ts '" + *local_ts + "' and remote_ts '" + *remote_ts + "' are of different IP versions (one Child SA carries one)";
    out.config.local_ts = *lts;
    out.config.remote_ts = *rts;
    if (group) {
        if (*group == "x25519") out.config.groups = {ikev2::Group::curve25519, ikev2::Group::ecp_256};
        else if (*group == "ecp256") out.config.groups = {ikev2::Group::ecp_256, ikev2::Group::curve25519};
        else if (*group == "modp2048")
            out.config.groups = {ikev2::Group::modp_2048, ikev2::Group::curve25519, ikev2::Group::ecp_256};
        else return "--group: '" + *group + "' is not x25519, ecp256 or modp2048";
    }
    if (cookies) {
        if (is_connect) return std::string("--cookies applies to listen (the responder demands them)");
        out.config.source_validation = CommonConfig::SourceValidation::always;
    }
    if (tun && udp_to) return std::string("--tun and --udp-to are alternatives; give one");
    if (tun) {
        if (tun->empty() || tun->size() >= IFNAMSIZ) return "--tun: '" + *tun + "' is not an interface name";
        out.tun = *tun;
    }
    if (udp_to) {
        auto ep = Endpoint::parse(*udp_to);
        if (!ep || ep->family() != AF_INET) return "--udp-to: '" + *udp_to + "' is not IPv4:PORT";
        if (out.config.local_ts.family != ikev2::IpFamily::ipv4)
            return std::string("--udp-to builds IPv4 datagrams: it needs IPv4 selectors (use --tun for IPv6)");
        out.udp_to = *ep;
    }
    out.config.handshake_timeout = timeout ? std::chrono::ceil<std::chrono::seconds>(*timeout)
                                           : std::chrono::seconds(is_connect ? 20 : 600);

    if (is_connect) {
        if (args.target.empty()) return std::string("connect needs HOST[:PORT]");
        std::string target = args.target;
        const bool bracketed_only = target.front() == '[' && target.back() == ']';
        if (target.find(':') == std::string::npos || bracketed_only) target += ":4500";
        const HostPort peer = parse_host_port(target);
        out.peer = resolve_or_throw(peer.host, peer.port, SOCK_DGRAM);
        out.port = 0;
    } else if (!args.target.empty()) {
        const HostPort bind_to = parse_listen_address(args.target, out.bind_address);
        out.bind_address = bind_to.host;
        out.port = bind_to.port;
    }
    if (out.tun.empty() && !out.udp_to && ::isatty(0))
        return std::string("stdin is a terminal, but the default data path is framed IP packets: "
                           "give --udp-to IP:PORT to type datagrams, or --tun NAME");
    return std::nullopt;
}

/// The address range of a selector (IPv4 or IPv6) as CIDR blocks, for the routes into
/// the TUN device: the largest aligned block from the start that stays within the range,
/// then the next from just after it.
std::vector<std::string> cidr_blocks(const ikev2::TrafficSelector& ts) {
    const std::size_t size = ts.address_size();
    const unsigned width = static_cast<unsigned>(8 * size);
    const int family = ts.family == ikev2::IpFamily::ipv6 ? AF_INET6 : AF_INET;
    auto bit = [](const std::array<std::uint8_t, 16>& a, unsigned i) { return (a[i / 8] >> (7 - i % 8)) & 1; };
    std::vector<std::string> blocks;
    std::array<std::uint8_t, 16> first = ts.start;
    for (;;) {
        unsigned bits = width;  // shrink the prefix while `first` is aligned to it and the block ends by `end`
        while (bits > 0 && !bit(first, bits - 1)) {
            std::array<std::uint8_t, 16> last = first;
            for (unsigned i = bits - 1; i < width; ++i) last[i / 8] = static_cast<std::uint8_t>(last[i / 8] | (0x80 >> (i % 8)));
            if (ts.end < last) break;
            --bits;
        }
        char text[INET6_ADDRSTRLEN];
        inet_ntop(family, first.data(), text, sizeof text);
        blocks.push_back(std::string(text) + "/" + std::to_string(bits));
        // first = last address of the block + 1; done when it wraps or passes the end
        for (unsigned i = bits; i < width; ++i) first[i / 8] = static_cast<std::uint8_t>(first[i / 8] | (0x80 >> (i % 8)));
        if (first == ts.end) break;
        std::size_t at = size;
        while (at > 0 && ++first[at - 1] == 0) --at;
        if (at == 0) break;
    }
    return blocks;
}

/// The batched TUN path's offloads, each on unless its variable says 0 (to measure each
/// step): TAPSEC_IKEV2_UDP_OFFLOAD (UDP GSO / GRO), TAPSEC_IKEV2_TUN_OFFLOAD (the TUN
/// device's TSO and checksum offload, behind a virtio-net header), and
/// TAPSEC_IKEV2_BATCH=0 for the one-packet-per-poll path of before.
bool switch_enabled(const char* name) {
    const char* value = std::getenv(name);
    return !value || std::string(value) != "0";
}

int open_tun(const std::string& name, const ikev2::TrafficSelector& local, const ikev2::TrafficSelector& remote,
             bool vnet_header, std::string& error) {
    const int fd = ::open("/dev/net/tun", O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        error = std::string("cannot open /dev/net/tun: ") + std::strerror(errno);
        return -1;
    }
    ifreq request{};
    request.ifr_flags = IFF_TUN | IFF_NO_PI | (vnet_header ? IFF_VNET_HDR : 0);
    std::strncpy(request.ifr_name, name.c_str(), IFNAMSIZ - 1);
    if (::ioctl(fd, TUNSETIFF, &request) != 0) {
        error = "cannot create TUN device " + name + ": " + std::strerror(errno);
        ::close(fd);
        return -1;
    }
    // TCP super-packets (TSO) and unfinished checksums come in behind the header; the
    // batched loop cuts and finishes them (tun_offload.hpp), as the WireGuard command does.
    if (vnet_header && ::ioctl(fd, TUNSETOFFLOAD, TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN) != 0)
        (void)::ioctl(fd, TUNSETOFFLOAD, 0);
    // Our inner address (the local selector's first) on the device; IPv6 without duplicate
    // address detection, so that it is usable (as a route's source) at once.
    const bool v6 = local.family == ikev2::IpFamily::ipv6;
    char address[INET6_ADDRSTRLEN];
    inet_ntop(v6 ? AF_INET6 : AF_INET, local.start.data(), address, sizeof address);
    auto run = [&](const std::string& command) { return std::system((command + " >/dev/null 2>&1").c_str()) == 0; };
    const std::string host = std::string(address) + (v6 ? "/128 nodad" : "/32");
    // No link-local address: the kernel's router solicitations and MLD reports from it
    // would fall outside the selectors and only be dropped (best effort: older ip(8)s lack it).
    (void)run("ip link set " + name + " addrgenmode none");
    if (!run("ip link set " + name + " mtu 1400 up") || !run(std::string(v6 ? "ip -6" : "ip") + " addr add " + host + " dev " + name)) {
        error = "cannot configure " + name;
        ::close(fd);
        return -1;
    }
    // The peer's inner addresses go into the tunnel, from our inner address.
    for (const std::string& block : cidr_blocks(remote))
        if (!run(std::string(v6 ? "ip -6" : "ip") + " route replace " + block + " dev " + name + " src " + address)) {
            error = "cannot route " + block + " into " + name;
            ::close(fd);
            return -1;
        }
    return fd;
}

void report_events(auto& conn, bool verbose) {
    while (auto e = conn.next_event()) {
        if (!verbose) continue;
        switch (e->kind) {
            case EventKind::handshake_complete:
                std::fprintf(stderr, "tapsec: IKE SA and Child SA established\n");
                if (conn.engine().config().tfc_padding.enabled())
                    std::fprintf(stderr, "tapsec: TFC padding %s: %s\n", conn.engine().config().tfc_padding.to_string().c_str(),
                                 conn.engine().tfc_padding_active() ? "sent" : "not sent (peer: ESP_TFC_PADDING_NOT_SUPPORTED)");
                break;
            case EventKind::peer_closed: std::fprintf(stderr, "tapsec: the peer deleted the IKE SA\n"); break;
            case EventKind::dropped_packet:
                std::fprintf(stderr, "tapsec: dropped: %s (%llu dropped in all)\n", e->reason.message().c_str(),
                             static_cast<unsigned long long>(conn.engine().statistics().dropped));
                break;
            default: std::fprintf(stderr, "tapsec: event: %s\n", e->reason ? e->reason.message().c_str() : "-"); break;
        }
    }
}

/// Sends what the engine queued outside Secure's own calls (a delete, a rekey request).
void send_queued(auto& conn) {
    thread_local Bytes buffer(max_transmit_size);
    while (auto t = conn.engine().poll_transmit(MutableByteView(buffer)))
        (void)conn.transport().send_to(ByteView(buffer.data(), t->size), t->to ? *t->to : conn.transport().peer_endpoint());
}

/// Deletes the IKE SA and waits (bounded) for the peer's answer: a clean close.
bool delete_and_wait(auto& conn) {
    auto& engine = conn.engine();
    if (engine.close(Clock::now())) return false;
    Bytes in(65536);
    const auto deadline = Clock::now() + 10s;
    while (!engine.is_closed() && Clock::now() < deadline) {
        send_queued(conn);
        Endpoint from;
        const Instant wake = std::min(engine.next_timeout().value_or(deadline), deadline);
        if (auto n = conn.transport().receive_from(in, wake, from)) (void)engine.receive(ByteView(in.data(), *n), from, Clock::now());
        else (void)engine.on_timeout(Clock::now());
    }
    return engine.is_closed() && !engine.failure();
}

/// The source of --udp-to datagrams: the negotiated local selector's first address
/// (the assigned one after --request-address).
std::uint32_t local_address(auto& conn) { return ikev2::address_of(conn.engine().local_selector().start); }

Bytes udp_packet(std::uint32_t src, const Endpoint& to, ByteView payload) {
    const std::size_t total = 28 + payload.size();
    Bytes p(total, 0);
    p[0] = 0x45;
    p[2] = static_cast<std::uint8_t>(total >> 8);
    p[3] = static_cast<std::uint8_t>(total);
    p[6] = 0x40;
    p[8] = 64;
    p[9] = 17;
    in_addr dst{};
    inet_pton(AF_INET, to.address().c_str(), &dst);
    const std::uint32_t d = ntohl(dst.s_addr);
    for (int i = 0; i < 4; ++i) {
        p[static_cast<std::size_t>(12 + i)] = static_cast<std::uint8_t>(src >> (24 - 8 * i));
        p[static_cast<std::size_t>(16 + i)] = static_cast<std::uint8_t>(d >> (24 - 8 * i));
    }
    std::uint32_t sum = 0;
    for (std::size_t i = 0; i < 20; i += 2) sum += std::uint32_t{p[i]} << 8 | p[i + 1];
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    p[10] = static_cast<std::uint8_t>(~sum >> 8);
    p[11] = static_cast<std::uint8_t>(~sum);
    const std::uint16_t port = to.port();
    p[20] = p[22] = static_cast<std::uint8_t>(port >> 8);
    p[21] = p[23] = static_cast<std::uint8_t>(port);
    p[24] = static_cast<std::uint8_t>((8 + payload.size()) >> 8);
    p[25] = static_cast<std::uint8_t>(8 + payload.size());
    std::copy(payload.begin(), payload.end(), p.begin() + 28);
    return p;
}

std::optional<ByteView> udp_payload(ByteView p) {
    if (p.size() < 28 || (p[0] >> 4) != 4 || p[9] != 17) return std::nullopt;
    const std::size_t ihl = std::size_t{p[0] & 0xfu} * 4;
    if (p.size() < ihl + 8) return std::nullopt;
    const std::size_t length = std::size_t{p[ihl + 4]} << 8 | p[ihl + 5];
    if (length < 8 || ihl + length > p.size()) return std::nullopt;
    return p.subspan(ihl + 8, length - 8);
}

/// The address this host would send to `peer` from now (the kernel's route), "" when
/// there is no route; MOBIKE watches it change.
std::string source_address_towards(const Endpoint& peer) {
    transport_detail::FileDescriptor fd(::socket(peer.family(), SOCK_DGRAM | SOCK_CLOEXEC, 0));
    sockaddr_storage local{};
    socklen_t length = sizeof local;
    if (!fd.valid() || ::connect(fd.get(), peer.sockaddr_ptr(), peer.sockaddr_length()) != 0 ||
        ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&local), &length) != 0 || local.ss_family != AF_INET)
        return "";
    char text[INET_ADDRSTRLEN] = {};
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&local)->sin_addr, text, sizeof text);
    return text;
}

/// MOBIKE for connect: every 250 ms, the address the route to the peer leaves from; when
/// it changed, UPDATE_SA_ADDRESSES (retried next round while another exchange runs).
struct AddressWatch {
    std::string current;
    bool update_pending = false;
    Instant next_look{};

    void check(auto& conn, bool verbose) {
        auto& engine = conn.engine();
        if (!engine.mobike()) return;
        const Instant now = Clock::now();
        if (now >= next_look) {
            next_look = now + 250ms;
            const std::string seen = source_address_towards(conn.transport().peer_endpoint());
            if (!seen.empty() && seen != current) {
                if (!current.empty()) {
                    update_pending = true;
                    if (verbose) std::fprintf(stderr, "tapsec: our address moved from %s to %s\n", current.c_str(), seen.c_str());
                }
                current = seen;
            }
        }
        if (update_pending && !engine.update_addresses(now)) {
            update_pending = false;
            send_queued(conn);
            if (verbose) std::fprintf(stderr, "tapsec: UPDATE_SA_ADDRESSES sent (%llu in all)\n",
                                      static_cast<unsigned long long>(engine.address_updates()));
        }
    }
};

/// What the rekeys asked for by signal have done so far (the engine's counters).
struct RekeyProgress {
    std::uint64_t child = 0, ike = 0;
};

/// Starts a rekey asked for by SIGUSR1/SIGUSR2 when the engine can (no exchange
/// outstanding: otherwise it is tried again next round) and reports completed ones.
void start_requested_rekeys(auto& conn, RekeyProgress& done, bool verbose) {
    auto& engine = conn.engine();
    if (child_rekey_requested && !engine.rekey_child(Clock::now())) {
        child_rekey_requested = false;
        send_queued(conn);
    }
    if (ike_rekey_requested && !engine.rekey_ike(Clock::now())) {
        ike_rekey_requested = false;
        send_queued(conn);
    }
    if (verbose && engine.child_rekeys() != done.child)
        std::fprintf(stderr, "tapsec: Child SA rekeyed (%llu in all)\n", static_cast<unsigned long long>(engine.child_rekeys()));
    if (verbose && engine.ike_rekeys() != done.ike)
        std::fprintf(stderr, "tapsec: IKE SA rekeyed (%llu in all)\n", static_cast<unsigned long long>(engine.ike_rekeys()));
    done = {engine.child_rekeys(), engine.ike_rekeys()};
}

/// One line a test or a benchmark can read: what ESP carried and what was dropped.
void report_counters(auto& conn) {
    const auto& engine = conn.engine();
    const auto& s = engine.statistics();
    std::fprintf(stderr,
                 "tapsec: counters: esp_sent=%llu esp_received=%llu esp_dropped=%llu dropped=%llu child_rekeys=%llu "
                 "ike_rekeys=%llu dummy_sent=%llu dummy_received=%llu ike_fragments_sent=%llu "
                 "ike_messages_reassembled=%llu\n",
                 static_cast<unsigned long long>(s.esp_sent), static_cast<unsigned long long>(s.esp_received),
                 static_cast<unsigned long long>(s.esp_dropped), static_cast<unsigned long long>(s.dropped),
                 static_cast<unsigned long long>(engine.child_rekeys()), static_cast<unsigned long long>(engine.ike_rekeys()),
                 static_cast<unsigned long long>(s.esp_dummy_sent), static_cast<unsigned long long>(s.esp_dummy_received),
                 static_cast<unsigned long long>(s.fragments_sent), static_cast<unsigned long long>(s.messages_reassembled));
}

int run_data_path(auto& conn, const Options& options, int tun_fd, bool tun_vnet_header, bool is_connect) {
    TunnelPackets packets(
        tun_fd,
        options.udp_to ? TunnelPackets::MakeUdpPacket(
                             [&](ByteView line) { return udp_packet(local_address(conn), *options.udp_to, line); })
                       : TunnelPackets::MakeUdpPacket{},
        [](ByteView packet) -> std::optional<Bytes> {
            if (auto payload = udp_payload(packet)) return Bytes(payload->begin(), payload->end());
            return std::nullopt;
        });
    auto peer_deleted = [&](ByteView packet) -> std::optional<int> {
        if (!packet.empty()) return std::nullopt;
        if (options.verbose) std::fprintf(stderr, "tapsec: closed by the peer\n");  // it deleted the IKE SA: a clean close
        return 0;
    };
    RekeyProgress rekeys;
    AddressWatch addresses;
    auto check = [&](const TunnelProgress& progress) -> TunnelStep {
        start_requested_rekeys(conn, rekeys, options.verbose);
        if (is_connect) addresses.check(conn, options.verbose);
        if (is_connect && !progress.input_open && Clock::now() - progress.quiet_since > 2s) return {TunnelStep::leave};
        return {};
    };
    std::optional<int> status;
    if (tun_fd >= 0 && switch_enabled("TAPSEC_IKEV2_BATCH")) {
        // The batched path (tunnel_batch.hpp): recvmmsg / GRO in, the TUN device drained,
        // sendmmsg / GSO out, the engine driven directly. IKE messages share the socket
        // (after the non-ESP marker) and reach the engine's IKE side as before.
        auto& engine = conn.engine();
        auto batched_check = [&](const TunnelProgress& progress) -> TunnelStep {
            if (engine.is_closed()) {
                if (engine.failure()) return {TunnelStep::exit_with, cli::fail(engine.failure().message())};
                if (options.verbose) std::fprintf(stderr, "tapsec: closed by the peer\n");
                return {TunnelStep::exit_with, 0};
            }
            return check(progress);
        };
        TunBatchOptions batch;
        batch.udp_offload = switch_enabled("TAPSEC_IKEV2_UDP_OFFLOAD");
        batch.vnet_header = tun_vnet_header;
        status = run_tun_batched(engine, conn.transport().native_handle(), tun_fd, stop_requested,
                                 [&] { report_events(conn, options.verbose); }, batched_check, batch);
    } else {
        status = run_tunnel(conn, packets, stop_requested, [&] { report_events(conn, options.verbose); }, peer_deleted, check);
    }
    if (options.verbose) report_counters(conn);
    if (status) return *status;
    if (!delete_and_wait(conn)) return cli::fail("the peer did not answer the delete (the IKE SA is gone on our side)");
    if (options.verbose) std::fprintf(stderr, "tapsec: IKE SA deleted\n");
    return 0;
}

/// --ticket-out: the ticket the responder issued, written 0600 (it holds SK_d); an error
/// names the file.
std::optional<std::string> write_ticket(const auto& engine, const std::string& path) {
    if (!engine.ticket()) return "--ticket-out: the responder issued no resumption ticket; " + path + " not written";
    const SecretBytes content = engine.ticket()->serialize();
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) return "--ticket-out: cannot write " + path + ": " + std::strerror(errno);
    const bool written = ::write(fd, content.data(), content.size()) == static_cast<ssize_t>(content.size());
    const bool closed = ::close(fd) == 0;
    if (!written || !closed) return "--ticket-out: cannot write " + path;
    return std::nullopt;
}

template <class Crypto>
int run(Arguments& args, bool is_connect) {
    Options options;
    if (auto error = read_options<Crypto>(args, is_connect, options)) return cli::usage_fail(*error);
    ::signal(SIGINT, [](int) { stop_requested = true; });
    ::signal(SIGTERM, [](int) { stop_requested = true; });
    ::signal(SIGPIPE, SIG_IGN);
    ::signal(SIGUSR1, [](int) { child_rekey_requested = true; });
    ::signal(SIGUSR2, [](int) { ike_rekey_requested = true; });
    auto udp = Udp::bind(options.bind_address, options.port, options.peer);
    if (!udp) return cli::fail("cannot bind UDP " + options.bind_address + ":" + std::to_string(options.port) + ": " + udp.error().message());
    // A TCP window of ESP arrives in bursts: queue them rather than drop them while busy.
    udp->set_receive_buffer(8 << 20);
    int tun_fd = -1;
    // A virtio-net header only on the batched path, which reads it.
    const bool tun_vnet_header = switch_enabled("TAPSEC_IKEV2_BATCH") && switch_enabled("TAPSEC_IKEV2_TUN_OFFLOAD");
    // With --request-address our inner address is known only after IKE_AUTH.
    if (!options.tun.empty() && !options.config.request_address) {
        std::string error;
        tun_fd = open_tun(options.tun, options.config.local_ts, options.config.remote_ts, tun_vnet_header, error);
        if (tun_fd < 0) return cli::fail(error);
    }
    auto connection = std::make_unique<Ikev2<Crypto>>(is_connect ? Role::client : Role::server, options.config, std::move(*udp));
    auto ec = connection->handshake();
    if (ec == ikev2::Error::ticket_refused) {
        // RFC 5723 4.3.1: after TICKET_NACK the initiator falls back to a full IKE_SA_INIT.
        std::fprintf(stderr, "tapsec: the responder refused the ticket in %s (TICKET_NACK): falling back to IKE_SA_INIT\n",
                     options.resume_file.c_str());
        options.config.resume_ticket.reset();
        auto again = Udp::bind(options.bind_address, options.port, options.peer);
        if (!again) return cli::fail("cannot bind UDP " + options.bind_address + ": " + again.error().message());
        again->set_receive_buffer(8 << 20);
        connection = std::make_unique<Ikev2<Crypto>>(Role::client, options.config, std::move(*again));
        ec = connection->handshake();
        options.resume_file.clear();
    }
    Ikev2<Crypto>& conn = *connection;
    if (ec) {
        report_events(conn, options.verbose);
        return cli::fail(std::string(is_connect ? "IKEv2 with " + options.peer.to_string() : std::string("IKEv2")) +
                         " failed: " + ec.message() +
                         (options.resume_file.empty() ? std::string() : " (the ticket in " + options.resume_file + ")"));
    }
    report_events(conn, options.verbose);
    if (!options.ticket_out.empty()) {
        if (auto error = write_ticket(conn.engine(), options.ticket_out)) return cli::fail(*error);
        if (options.verbose) std::fprintf(stderr, "tapsec: resumption ticket written to %s\n", options.ticket_out.c_str());
    }
    if (options.verbose)
        std::fprintf(stderr, "tapsec: %s, %s, peer %s (%s), %s === %s\n", conn.info().cipher_suite.c_str(),
                     conn.info().group.c_str(), conn.info().peer.subject.c_str(),
                     conn.engine().resumed()                          ? "resumed from a ticket, RFC 5723"
                     : !conn.info().peer.certificate_chain_der.empty() ? "certificate"
                     : options.config.eap_server                      ? "EAP-MD5"
                                                                      : "PSK",
                     ikev2::to_string(conn.engine().local_selector()).c_str(),
                     ikev2::to_string(conn.engine().remote_selector()).c_str());
    if (auto assigned = conn.engine().assigned_address(); assigned && options.verbose) {
        char text[INET_ADDRSTRLEN];
        inet_ntop(AF_INET, assigned->data(), text, sizeof text);
        std::fprintf(stderr, "tapsec: inner address %s %s (CP, RFC 7296 2.19)\n", is_connect ? "assigned to us:" : "assigned to the peer:", text);
        for (const auto& dns : conn.engine().assigned_dns()) {
            inet_ntop(AF_INET, dns.data(), text, sizeof text);
            std::fprintf(stderr, "tapsec: DNS server %s\n", text);
        }
    }
    if (!options.tun.empty() && options.config.request_address) {
        std::string error;
        tun_fd = open_tun(options.tun, conn.engine().local_selector(), options.config.remote_ts, tun_vnet_header, error);
        if (tun_fd < 0) return cli::fail(error);
    }
    const int status = run_data_path(conn, options, tun_fd, tun_vnet_header, is_connect);
    if (tun_fd >= 0) ::close(tun_fd);
    return status;
}

/// An initiator and a responder over loopback UDP: IKE_SA_INIT, IKE_AUTH, an inner
/// IPv4/UDP datagram echoed back through ESP, and the delete.
DemoResult demo() {
    DemoResult result;
    auto server_udp = Udp::bind("127.0.0.1", 0);
    if (!server_udp) return result.error = "cannot bind loopback UDP", result;
    auto client_udp = Udp::bind("127.0.0.1", 0, *Endpoint::parse("127.0.0.1", server_udp->local_port()));
    if (!client_udp) return result.error = "cannot bind loopback UDP", result;
    const std::string secret = "demo pre-shared key, 32 octets..";
    auto configure = [&](const char* local, const char* remote, const char* lts, const char* rts) {
        Config c;
        c.local_id = *ikev2::Identification::parse(local);
        c.remote_id = *ikev2::Identification::parse(remote);
        c.pre_shared_keys.push_back({c.remote_id.value, SecretBytes(secret.begin(), secret.end())});
        c.local_ts = *ikev2::parse_selector(lts);
        c.remote_ts = *ikev2::parse_selector(rts);
        c.handshake_timeout = 5s;
        return c;
    };
    Config server_config = configure("responder.example", "initiator@example", "10.10.0.2/32", "10.10.0.1/32");
    Config client_config = configure("initiator@example", "responder.example", "10.10.0.1/32", "10.10.0.2/32");
    server_config.source_validation = CommonConfig::SourceValidation::always;

    std::thread server([&] {
        Ikev2<DefaultProvider> conn(Role::server, server_config, std::move(*server_udp));
        if (conn.handshake()) return;
        auto packet = conn.receive_message(5s);
        if (!packet || packet->size() < 28) return;
        Bytes reply = *packet;
        std::swap_ranges(reply.begin() + 12, reply.begin() + 16, reply.begin() + 16);  // addresses
        std::swap_ranges(reply.begin() + 20, reply.begin() + 22, reply.begin() + 22);  // ports
        if (conn.send(reply)) return;
        (void)conn.receive_message(2s);  // answers the delete, then reports the close
    });
    Ikev2<DefaultProvider> client(Role::client, client_config, std::move(*client_udp));
    const auto t0 = Clock::now();
    auto ec = client.handshake();
    const auto t1 = Clock::now();
    const std::string message = "hello through IKEv2 + ESP";
    in_addr a{};
    inet_pton(AF_INET, "10.10.0.1", &a);
    if (!ec) ec = client.send(udp_packet(ntohl(a.s_addr), *Endpoint::parse("10.10.0.2", 7), as_bytes(message)));
    Result<Bytes> echo = ec ? Result<Bytes>(ec) : client.receive_message(5s);
    const auto t2 = Clock::now();
    const bool deleted = echo && delete_and_wait(client);
    server.join();
    if (!echo) return result.error = "IKEv2 demo failed: " + echo.error().message(), result;
    auto payload = udp_payload(*echo);
    if (!payload || std::string(payload->begin(), payload->end()) != message)
        return result.error = "IKEv2 demo: echo did not match", result;
    if (!deleted) return result.error = "IKEv2 demo: the delete was not answered", result;
    result.ok = true;
    result.handshake_ms = std::chrono::duration<double, std::milli>(t1 - t0).count();
    result.echo_ms = std::chrono::duration<double, std::milli>(t2 - t1).count();
    result.negotiated = client.info().cipher_suite + ", " + client.info().group + ", PSK, cookie, tunnel mode" + provider_suffix(client);
    return result;
}

const TakesProvider takes_provider{"ikev2"};
const Registration registration{ProtocolEntry{
    "ikev2",
    "Secure<Ikev2Handshake, EspRecord, Udp>",
    "IKEv2+ESP",
    Ikev2<>::features,
    usage,
    [](Arguments& a) { return with_provider(a, [&]<class Crypto>() { return run<Crypto>(a, true); }); },
    [](Arguments& a) { return with_provider(a, [&]<class Crypto>() { return run<Crypto>(a, false); }); },
    demo,
    /*target_optional=*/true,
    {{"CM", "MOBIKE (RFC 4555) in part: address changes of either side's initiator (UPDATE_SA_ADDRESSES, `--mobike`); "
            "no additional addresses, path probing or return-routability checks of our own (docs/ikev2.md)"},
     {"SV", "N(COOKIE) is demanded when configured (source_validation = always, `listen --cookies`), "
            "not unconditionally: one engine holds one IKE SA and measures no load"},
     {"AFN", "configuration payloads only (RFC 7296 2.19: an inner IPv4 address, DNS; `--request-address`, `--pool`); "
             "no vendor IDs or other feature negotiation"},
     {"CX", "no extension mechanism (vendor IDs, private notifies) is exposed to the application"},
    },
}};

}  // namespace
}  // namespace tapsec::cli
