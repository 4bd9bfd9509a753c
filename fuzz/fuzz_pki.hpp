// Shared by the certificate-using engine targets: a CA, a server certificate for
// "localhost" and a client certificate, made once per fuzzer process with the tests'
// PKI helper (openssl, in a temporary directory), and a wall clock fixed at start-up
// (the certificates are valid from "now", and a fixed clock keeps runs repeatable).
#pragma once

#include <chrono>
#include <string>

// The tests' PKI helper keeps a member only GCC does not flag; clang does (-Wunused-private-field).
#pragma clang diagnostic push
#pragma clang diagnostic ignored "-Wunused-private-field"
#include "support/pki.hpp"
#pragma clang diagnostic pop

namespace tapsec::fuzz {

struct Credentials {
    test::TestPki pki;
    test::CertificateFiles server = pki.issue("server");
    test::CertificateFiles client = pki.issue("client", test::KeyType::ed25519, "alice");
    std::string ca_pem = pki.ca().certificate_pem();
    std::string server_pem = server.certificate_pem(), server_key = server.key_pem();
    std::string client_pem = client.certificate_pem(), client_key = client.key_pem();
};

inline const Credentials& credentials() {
    static const Credentials c;
    return c;
}

inline std::chrono::system_clock::time_point start_time() {
    static const auto t = std::chrono::system_clock::now();
    return t;
}

}  // namespace tapsec::fuzz
