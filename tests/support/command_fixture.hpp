// For tests that run the `tapsec` command against a peer: a test PKI with one P-256
// certificate, and file names in its directory (numbered ones for logs, so that each
// process of a test case writes its own).
#pragma once

#include <cstdio>
#include <string>

#include <doctest/doctest.h>

#include "pki.hpp"

namespace tapsec::test {

struct CommandPki {
    TestPki pki;
    CertificateFiles cert;
    int logs = 0;

    explicit CommandPki(const std::string& certificate_name = "server") {
        REQUIRE(pki.ok());
        cert = pki.issue(certificate_name, KeyType::ecdsa_p256);
        REQUIRE(!cert.certificate.empty());
    }
    /// `name-N`, a new N each call.
    std::string numbered(const std::string& name) { return pki.directory() + "/" + name + "-" + std::to_string(++logs); }
    std::string log(const std::string& name) { return numbered(name) + ".log"; }
    std::string file(const std::string& name) const { return pki.directory() + "/" + name; }
};

/// `lines` lines of exactly 64 bytes, each starting with `marker` and its number, so a
/// receiver can count exactly which arrived.
inline std::string numbered_lines(const std::string& marker, int lines) {
    std::string text;
    for (int i = 0; i < lines; ++i) {
        char line[65];
        std::snprintf(line, sizeof line, "%s%05d", marker.c_str(), i);
        std::string l(line);
        l.resize(63, '.');
        text += l + "\n";
    }
    return text;
}

}  // namespace tapsec::test
