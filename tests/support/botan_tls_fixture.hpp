// Test support for the Botan-based compositions (tls12, dtls12, dtls-srtp): one test
// PKI with a server and a client certificate, the client and server configurations
// every test starts from, and the datagram pump the engine tests share.
#pragma once

#include <cctype>
#include <chrono>
#include <string>
#include <vector>

#include <tapsec/tapsec.hpp>

#include "pki.hpp"

namespace tapsec::test {

struct BotanTlsPki {
    TestPki pki;
    CertificateFiles server = pki.issue("server");
    CertificateFiles client = pki.issue("client", KeyType::ecdsa_p256, "alice");

    /// Trusts the test CA and expects "localhost". DTLS retransmits after 100 ms so
    /// that loss tests run quickly.
    botan_tls::Config client_config() const {
        botan_tls::Config c;
        c.trust.ca_certificates_pem = {pki.ca().certificate_pem()};
        c.server_name = "localhost";
        c.initial_retransmit_timeout = std::chrono::milliseconds(100);
        return c;
    }
    /// The server certificate; clients are not asked for one.
    botan_tls::Config server_config() const {
        botan_tls::Config c;
        c.identity = {server.certificate_pem(), server.key_pem()};
        c.verify_peer = false;
        c.initial_retransmit_timeout = std::chrono::milliseconds(100);
        return c;
    }
};

/// The addresses the in-memory engine tests give their two ends.
inline const Endpoint client_address = *Endpoint::parse("127.0.0.1:5000");
inline const Endpoint server_address = *Endpoint::parse("127.0.0.1:4444");

/// Everything a datagram engine wants to send, one datagram per entry.
template <class Engine>
std::vector<Bytes> drain(Engine& e) {
    std::vector<Bytes> out;
    while (auto t = e.poll_transmit()) out.push_back(std::move(t->data));
    return out;
}

/// Hands datagrams to an engine until the first error.
template <class Engine>
std::error_code feed(Engine& to, const std::vector<Bytes>& datagrams, const Endpoint& from, Instant now = Clock::now()) {
    for (const auto& d : datagrams)
        if (auto ec = to.receive(d, from, now)) return ec;
    return {};
}

/// `s` in upper case (OpenSSL and GnuTLS print keying material in upper-case hex).
inline std::string upper(std::string s) {
    for (auto& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return s;
}
inline std::string upper_hex(ByteView b) { return upper(to_hex(b)); }

/// argv for the `tapsec` command built with these tests.
inline std::vector<std::string> tapsec_command(std::vector<std::string> args) {
    args.insert(args.begin(), TAPSEC_TOOL_PATH);
    return args;
}

}  // namespace tapsec::test
