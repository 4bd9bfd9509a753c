// Test support: a throwaway PKI generated at run time with `openssl` (no private key
// is ever checked in). A CA, leaf certificates for "localhost" signed by it (ECDSA
// P-256, Ed25519, RSA), plus the wrong-name, expired and untrusted variants the
// negative tests need.
#pragma once

#include <string>

#include "process.hpp"

namespace tapsec::test {

struct CertificateFiles {
    std::string certificate;  // path, PEM
    std::string key;          // path, PEM (PKCS#8)
    std::string certificate_pem() const { return read_file(certificate); }
    std::string key_pem() const { return read_file(key); }
};

enum class KeyType { ecdsa_p256, ed25519, rsa2048 };

class TestPki {
public:
    TestPki() : TestPki(KeyType::ecdsa_p256) {}
    /// A CA (of the same key type) in a fresh temporary directory.
    explicit TestPki(KeyType ca_type) {
        ca_ = {dir_.file("ca.crt"), dir_.file("ca.key")};
        ok_ = genkey(ca_type, ca_.key) &&
              run("openssl req -x509 -new -key " + ca_.key + " -out " + ca_.certificate +
                  " -days 30 -subj /CN=tapsec-test-CA -addext basicConstraints=critical,CA:TRUE"
                  " -addext keyUsage=critical,keyCertSign,cRLSign >/dev/null 2>&1") == 0;
    }
    bool ok() const { return ok_; }
    const CertificateFiles& ca() const { return ca_; }
    std::string directory() const { return dir_.path().string(); }

    /// A leaf for `name` signed by the CA. `days` < 0 makes it already expired.
    /// `subject_alt_names` replaces the default "DNS:<name>,IP:127.0.0.1" when not empty.
    CertificateFiles issue(const std::string& stem, KeyType type = KeyType::ecdsa_p256,
                           const std::string& name = "localhost", int days = 30,
                           const std::string& subject_alt_names = "") {
        CertificateFiles leaf{dir_.file(stem + ".crt"), dir_.file(stem + ".key")};
        const std::string csr = dir_.file(stem + ".csr"), ext = dir_.file(stem + ".ext");
        const std::string sans = subject_alt_names.empty() ? "DNS:" + name + ",IP:127.0.0.1" : subject_alt_names;
        write_file(ext, "subjectAltName=" + sans + "\nbasicConstraints=CA:FALSE\n"
                        "keyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth,clientAuth\n");
        std::string validity = days >= 0 ? " -days " + std::to_string(days)
                                         : " -not_before 20200101000000Z -not_after 20200201000000Z";
        bool good = genkey(type, leaf.key) &&
                    run("openssl req -new -key " + leaf.key + " -out " + csr + " -subj /CN=" + name + " >/dev/null 2>&1") == 0;
        // `openssl x509 -req` has no -not_before in OpenSSL 3.0; `openssl ca` does, but needs a
        // database: use it for expired certificates only.
        if (good && days >= 0)
            good = run("openssl x509 -req -in " + csr + " -CA " + ca_.certificate + " -CAkey " + ca_.key +
                       " -CAcreateserial -out " + leaf.certificate + validity + " -extfile " + ext + " >/dev/null 2>&1") == 0;
        else if (good)
            good = sign_with_ca_command(csr, leaf.certificate, ext);
        if (!good) leaf = {};
        return leaf;
    }

    static bool genkey(KeyType type, const std::string& path) {
        switch (type) {
            case KeyType::ecdsa_p256:
                return run("openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out " + path + " >/dev/null 2>&1") == 0;
            case KeyType::ed25519: return run("openssl genpkey -algorithm ed25519 -out " + path + " >/dev/null 2>&1") == 0;
            case KeyType::rsa2048:
                return run("openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out " + path + " >/dev/null 2>&1") == 0;
        }
        return false;
    }

private:
    bool sign_with_ca_command(const std::string& csr, const std::string& out, const std::string& ext) {
        const std::string db = dir_.file("ca-db"), conf = dir_.file("ca.cnf");
        run("mkdir -p " + db + " && : > " + db + "/index.txt && echo 01 > " + db + "/serial");
        write_file(conf, "[ca]\ndefault_ca=d\n[d]\ndir=" + db + "\ndatabase=$dir/index.txt\nserial=$dir/serial\n"
                         "new_certs_dir=$dir\ndefault_md=sha256\npolicy=p\ncopy_extensions=copy\n[p]\ncommonName=supplied\n");
        return run("openssl ca -batch -config " + conf + " -cert " + ca_.certificate + " -keyfile " + ca_.key +
                   " -in " + csr + " -out " + out + " -startdate 20200101000000Z -enddate 20200201000000Z -extfile " +
                   ext + " -notext >/dev/null 2>&1") == 0;
    }

    TempDir dir_;
    CertificateFiles ca_;
    bool ok_ = false;
};

}  // namespace tapsec::test
