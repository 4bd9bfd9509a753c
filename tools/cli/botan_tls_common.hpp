// Command-line pieces shared by the Botan-based protocols (tls12, dtls12,
// dtls-srtp): openssl-like options turned into a botan_tls::Config, a session file
// for --sess-out / --sess-in, and a throwaway PKI for `tapsec demo`.
#pragma once

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <botan/base64.h>
#include <botan/ec_group.h>
#include <botan/ecdsa.h>
#include <botan/pkcs8.h>
#include <botan/system_rng.h>
#include <botan/x509_ca.h>
#include <botan/x509self.h>

#include <tapsec/botan_tls/config.hpp>
#include <tapsec/botan_tls/credentials.hpp>

#include "registry.hpp"

namespace tapsec::cli::botan_common {

inline constexpr const char* client_usage =
    "  --CAfile FILE         trust the CA certificate(s) in FILE (PEM); a self-signed server\n"
    "                        certificate may be its own CA file\n"
    "  --cert FILE --key FILE  client certificate and key (PEM) for mutual authentication\n"
    "  --servername NAME     name to send (SNI) and to check in the certificate (default: HOST)\n"
    "  --alpn P1,P2          offer these application protocols (ALPN)\n"
    "  --groups G1,G2        key-exchange groups (x25519, secp256r1, secp384r1, secp521r1)\n"
    "  --ciphers S1,S2       cipher suites by IANA name (TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256)\n"
    "  --insecure            do not verify the server's certificate (testing only)\n"
    "  --quiet               do not print the negotiated parameters on stderr\n";

inline constexpr const char* server_usage =
    "  --cert FILE --key FILE  server certificate chain and private key (PEM; ECDSA or RSA)\n"
    "  --CAfile FILE         CA certificate(s) for verifying client certificates\n"
    "  --verify [DEPTH]      ask for a client certificate, verify it if one is sent\n"
    "  --require-client-cert (or --Verify [DEPTH]) insist on a valid client certificate\n"
    "  --alpn P1,P2          accept these application protocols, in order of preference\n"
    "  --groups G1,G2, --ciphers S1,S2  as for connect\n"
    "  --naccept N           serve N connections one after another (default 1), sharing a\n"
    "                        session cache so that clients can resume\n"
    "  --quiet               do not print the negotiated parameters on stderr\n";

inline std::vector<std::string> split_list(const std::string& text) {
    std::vector<std::string> out;
    std::stringstream in(text);
    std::string item;
    while (std::getline(in, item, ','))
        if (!item.empty()) out.push_back(item);
    return out;
}

inline bool read_text_file(const std::string& path, std::string& out) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return false;
    std::stringstream s;
    s << in.rdbuf();
    out = s.str();
    return true;
}

/// Reads the options common to client and server into `config`. Returns an error
/// line (empty on success) naming the option and the file.
inline std::string read_common(Arguments& args, botan_tls::Config& config, Role role) {
    if (auto alpn = args.take("--alpn")) config.alpn = split_list(*alpn);
    if (auto groups = args.take("--groups")) config.groups = split_list(*groups);
    if (auto ciphers = args.take("--ciphers")) config.cipher_suites = split_list(*ciphers);
    if (auto ca = args.take("--CAfile")) {
        std::string pem;
        if (!read_text_file(*ca, pem)) return "cannot read --CAfile " + *ca;
        if (!botan_tls::parse_certificates(pem)) return "--CAfile " + *ca + ": no valid PEM certificate in it";
        config.trust.ca_certificates_pem.push_back(pem);
    }
    auto cert = args.take("--cert");
    auto key = args.take("--key");
    const bool key_in_cert = cert && !key;
    if (key_in_cert) key = cert;  // like openssl: the key may sit in the certificate file
    if (key && !cert) return "--key given without --cert";
    if (cert) {
        std::string chain, key_pem;
        if (!read_text_file(*cert, chain)) return "cannot read --cert " + *cert;
        if (!read_text_file(*key, key_pem)) return "cannot read --key " + *key;
        if (!botan_tls::parse_certificates(chain)) return "--cert " + *cert + ": not a PEM certificate";
        if (!botan_tls::parse_private_key(key_pem))
            return key_in_cert ? "no --key given, and --cert " + *cert + " holds no private key" : "--key " + *key + ": not a readable private key (unencrypted PEM PKCS#8 expected)";
        config.identity = Identity(std::move(chain), std::move(key_pem));
    } else if (role == Role::server) {
        return "a server needs --cert FILE and --key FILE";
    }
    return {};
}

/// A single-session file for --sess-out / --sess-in: the cache key on the first
/// line, then the Botan session (which holds the master secret) in PEM armour.
/// Written with mode 0600.
class SessionFile final : public SessionCache {
public:
    SessionFile(std::string in_path, std::string out_path) : in_(std::move(in_path)), out_(std::move(out_path)) {}
    void store(const std::string& key, const Bytes& session) override {
        if (out_.empty()) return;
        const std::string text = key + "\n-----BEGIN TAPSEC TLS SESSION-----\n" +
                                 Botan::base64_encode(session.data(), session.size()) + "\n-----END TAPSEC TLS SESSION-----\n";
        const int fd = ::open(out_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0) return;
        ::fchmod(fd, 0600);  // an existing file keeps its mode otherwise
        [[maybe_unused]] auto written = ::write(fd, text.data(), text.size());
        ::close(fd);
    }
    std::optional<Bytes> load(const std::string& key) override {
        if (in_.empty()) return std::nullopt;
        std::string text;
        if (!read_text_file(in_, text)) return std::nullopt;
        std::stringstream s(text);
        std::string stored_key, begin, body, end;
        std::getline(s, stored_key);
        std::getline(s, begin);
        std::getline(s, body);
        if (stored_key != key) return std::nullopt;
        try {
            auto decoded = Botan::base64_decode(body);
            return Bytes(decoded.begin(), decoded.end());
        } catch (const std::exception&) {
            return std::nullopt;
        }
    }
    void remove(const std::string&) override {}

private:
    std::string in_, out_;
};

/// A CA and a "localhost" leaf (ECDSA P-256), made in memory for `tapsec demo`.
struct DemoPki {
    std::string ca_pem, leaf_pem, leaf_key_pem;

    static DemoPki make() {
        auto& rng = Botan::system_rng();
        const Botan::EC_Group group("secp256r1");
        Botan::ECDSA_PrivateKey ca_key(rng, group);
        Botan::X509_Cert_Options ca_options("tapsec demo CA");
        ca_options.CA_key();
        const auto ca_cert = Botan::X509::create_self_signed_cert(ca_options, ca_key, "SHA-256", rng);
        Botan::X509_CA ca(ca_cert, ca_key, "SHA-256", rng);
        Botan::ECDSA_PrivateKey leaf_key(rng, group);
        Botan::X509_Cert_Options leaf_options("localhost");
        leaf_options.dns = "localhost";
        const auto request = Botan::X509::create_cert_req(leaf_options, leaf_key, "SHA-256", rng);
        const auto now = std::chrono::system_clock::now();
        const auto leaf = ca.sign_request(request, rng, Botan::X509_Time(now - std::chrono::hours(1)),
                                          Botan::X509_Time(now + std::chrono::hours(24)));
        return {ca_cert.PEM_encode(), leaf.PEM_encode(), Botan::PKCS8::PEM_encode(leaf_key)};
    }
};

inline std::string describe(const SessionInfo& info) {
    std::string out = info.protocol + ", " + info.cipher_suite;
    if (!info.group.empty()) out += ", " + info.group;
    if (!info.alpn.empty()) out += ", ALPN " + info.alpn;
    if (info.resumed) out += ", resumed";
    return out;
}

}  // namespace tapsec::cli::botan_common
