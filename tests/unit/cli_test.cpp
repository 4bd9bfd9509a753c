// The `tapsec` command as a user meets it: help, bad arguments, the table.
#include <doctest/doctest.h>

#include <botan/version.h>
#include <openssl/crypto.h>

#include <tapsec/tapsec.hpp>

#include "support/pki.hpp"
#include "support/process.hpp"

namespace cli_test {

struct Run {
    int status;
    std::string output;
};

Run tapsec_command(const std::string& args) {
    tapsec::test::TempDir dir;
    const std::string log = dir.file("out");
    std::string command = TAPSEC_TOOL_PATH;  // appended piecewise: GCC 12 warns falsely on a + chain here
    command.append(" ").append(args).append(" </dev/null >").append(log).append(" 2>&1");
    const int raw = tapsec::test::run(command);
    return {WEXITSTATUS(raw), tapsec::test::read_file(log)};
}

std::size_t line_count(const std::string& s) { return static_cast<std::size_t>(std::count(s.begin(), s.end(), '\n')); }


TEST_CASE("tapsec --help and per-command help exit 0") {
    CHECK(tapsec_command("--help").status == 0);
    CHECK(tapsec_command("table --help").status == 0);
    CHECK(tapsec_command("demo --help").status == 0);
    CHECK(tapsec_command("connect --help").status == 0);
}

TEST_CASE("bad arguments give one line on stderr and exit status 2") {
    for (const char* args : {"frobnicate", "connect nosuchprotocol 127.0.0.1:1", "table extra", "demo extra"}) {
        CAPTURE(args);
        auto r = tapsec_command(args);
        CHECK(r.status == 2);
        CHECK(line_count(r.output) == 1);
        CHECK(r.output.rfind("tapsec: ", 0) == 0);
    }
    auto none = tapsec_command("");
    CHECK(none.status == 2);
}

// Issue 9: every command-line mistake is one line naming the option, exit status 2;
// failures at run time (nothing listening, a name that does not resolve) stay 1.
TEST_CASE("option and input errors: one line naming the option, exit 2; runtime failures exit 1") {
    tapsec::test::TestPki pki;
    REQUIRE(pki.ok());
    const auto leaf = pki.issue("leaf");
    tapsec::test::TempDir dir;
    tapsec::test::write_file(dir.file("garbage"), "this is not a session\n");
    tapsec::test::write_file(dir.file("short-key"), std::string(47, 'k'));
    tapsec::test::write_file(dir.file("ok.conf"), "[Interface]\nPrivateKey = dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo=\n\n[Peer]\n"
                                                  "PublicKey = hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo=\nAllowedIPs = 10.0.0.0/8\n");
    const std::string server = " --cert " + leaf.certificate + " --key " + leaf.key;
    const std::string closed_port = std::to_string(tapsec::test::free_port());
    struct Case {
        std::string args;
        int status;
        std::string says;
    };
    const Case cases[] = {
        {"connect tls13", 2, "missing HOST:PORT"},
        {"connect tls13 127.0.0.1", 2, "'127.0.0.1' is not HOST:PORT"},
        {"connect tls13 127.0.0.1:99999", 2, "is not HOST:PORT"},
        {"listen tls13 127.0.0.1:http", 2, "is not [ADDR:]PORT"},
        {"connect tls13 127.0.0.1:1 --CAfile", 2, "--CAfile needs a value"},
        {"connect tls13 127.0.0.1:1 --colour blue", 2, "unknown option --colour"},
        {"connect tls13 127.0.0.1:1 --noverify extra", 2, "unexpected argument 'extra'"},
        {"connect tls13 127.0.0.1:1 --CAfile " + dir.file("missing.pem"), 2, "--CAfile: cannot read"},
        {"connect tls13 127.0.0.1:1 --CAfile " + dir.file("garbage"), 2, "--CAfile: no PEM certificate"},
        {"connect tls13 127.0.0.1:1 --noverify --sess-in " + dir.file("garbage"), 2, "--sess-in"},
        {"connect tls13 127.0.0.1:1 --noverify --sess-in " + dir.file("missing"), 2, "--sess-in: cannot read"},
        {"connect tls13 127.0.0.1:1 --psk 00ff00ff", 2, "--psk needs --psk-identity"},
        {"connect tls13 127.0.0.1:1 --psk-identity me --psk xyz", 2, "--psk: not hex"},
        {"connect tls13 127.0.0.1:1 --record-size-limit 10", 2, "--record-size-limit: '10' is not a number from 64 to 16385"},
        {"connect tls13 127.0.0.1:1 --keyupdate-after lots", 2, "--keyupdate-after: 'lots' is not a number"},
        {"connect tls13 127.0.0.1:1 --ciphers TLS_NOPE", 2, "unknown cipher suite 'TLS_NOPE'"},  // alias of --ciphersuites
        {"listen tls13 127.0.0.1:0" + server + " --naccept -3", 2, "--naccept: '-3' is not a number from 1"},
        {"listen tls13 127.0.0.1:0" + server + " --naccept 0", 2, "--naccept: '0' is not a number from 1"},
        {"listen tls13 127.0.0.1:0" + server + " --max-early-data -1", 2, "--max-early-data: '-1' is not a number from 0"},
        {"listen tls13 127.0.0.1:0" + server + " --ticket-key-file " + dir.file("short-key"), 2,
         "--ticket-key-file: 47 bytes, 48 expected"},
        {"listen tls13 127.0.0.1:0", 2, "needs --cert and --key"},
        {"connect tls12 127.0.0.1:1 --timeout soon", 2, "--handshake-timeout: 'soon' is not a number of seconds"},
        {"connect tls12 127.0.0.1:1 --insecure --sess-in " + dir.file("garbage"), 2, "--sess-in"},
        {"connect wireguard --config " + dir.file("ok.conf") + " --handshake-timeout 0", 2, "--handshake-timeout: '0'"},
        {"connect wireguard --config " + dir.file("missing.conf"), 2, "cannot read configuration"},
        {"show nosuchprotocol", 2, "show: no status view for 'nosuchprotocol'"},
        {"completion fish", 2, "bash or zsh"},
        // --provider: a name not built in, and the compositions that run on Botan only.
        {"connect tls13 127.0.0.1:1 --provider libressl", 2, "--provider: 'libressl' is not built into this tapsec"},
        {"connect wireguard --config " + dir.file("ok.conf") + " --provider nss", 2, "--provider: 'nss' is not built"},
        {"connect tls12 127.0.0.1:1 --provider openssl", 2, "tls12 runs on Botan's own TLS stack"},
        {"listen dtls12 127.0.0.1:0 --provider openssl", 2, "dtls12 runs on Botan's own TLS stack"},
        {"connect curvecp 127.0.0.1:1 --provider openssl", 2, "(only --provider botan)"},
        // Runtime failures: status 1.
        {"connect tls13 no-such-host.invalid:443 --noverify", 1, "cannot resolve no-such-host.invalid: "},
        {"connect tls12 no-such-host.invalid:443 --insecure --quiet", 1, "cannot resolve no-such-host.invalid: "},
        {"connect wireguard no-such-host.invalid:51820 --config " + dir.file("ok.conf"), 1, "cannot resolve no-such-host.invalid: "},
        {"connect tls13 127.0.0.1:" + closed_port + " --noverify", 1, "cannot connect to 127.0.0.1:" + closed_port},
    };
    for (const auto& c : cases) {
        CAPTURE(c.args);
        auto r = tapsec_command(c.args);
        CAPTURE(r.output);
        CHECK(r.status == c.status);
        CHECK(line_count(r.output) == 1);
        CHECK(r.output.rfind("tapsec: ", 0) == 0);
        CHECK(r.output.find(c.says) != std::string::npos);
    }
}

TEST_CASE("tapsec --version names the version, the providers with their library versions, the default") {
    auto r = tapsec_command("--version");
    CAPTURE(r.output);
    CHECK(r.status == 0);
    CHECK(r.output.rfind("tapsec 0.", 0) == 0);
    auto line_with = [&](const std::string& start) {
        const auto at = r.output.find("\n" + start);
        if (at == std::string::npos) return std::string();
        return r.output.substr(at + 1, r.output.find('\n', at + 1) - at - 1);
    };
    // The versions are those of the libraries this process (linked like the command) runs on.
    const std::string botan = line_with("  botan    Botan 2: ");
    CHECK(botan.find("Botan " + Botan::short_version_string()) != std::string::npos);
    const std::string openssl = line_with("  openssl  OpenSSL 3 libcrypto: ");
    if (!openssl.empty()) {
        // Built with libcrypto: it is the commands' default, listed first.
        CHECK(openssl.find(OpenSSL_version(OPENSSL_VERSION)) != std::string::npos);
        CHECK(openssl.find(", the default") != std::string::npos);
        CHECK(botan.find(", the default") == std::string::npos);
        CHECK(r.output.find("  openssl") < r.output.find("  botan"));
    } else {
        CHECK(botan.find(", the default") != std::string::npos);
        CHECK(r.output.find("openssl: not built in") != std::string::npos);
    }
    // Which commands take --provider and which run on Botan only, from the registry.
    const std::string taking = line_with("commands taking --provider: ");
    for (const char* name : {" tls13", " quic", " wireguard", " ikev2", " zrtp", " tcpcrypt"})
        if (line_with("protocols:").find(name) != std::string::npos) CHECK(taking.find(name) != std::string::npos);
    const std::string botan_only = line_with("commands on Botan 2 only: ");
    for (const char* name : {"tls12", "dtls12", "curvecp"})
        if (line_with("protocols:").find(name) != std::string::npos) CHECK(botan_only.find(name) != std::string::npos);
    CHECK(r.output.find("library default (Secure<> without a provider argument): Botan 2") != std::string::npos);
}

TEST_CASE("tapsec completion bash is valid bash that knows the protocols and their options") {
    tapsec::test::TempDir dir;
    const std::string script = dir.file("tapsec.bash");
    std::string command = TAPSEC_TOOL_PATH;  // appended piecewise: GCC 12 warns falsely on a + chain here
    command.append(" completion bash > ").append(script);
    REQUIRE(tapsec::test::run(command) == 0);
    const std::string text = tapsec::test::read_file(script);
    CHECK(text.find("complete -o default -F _tapsec tapsec") != std::string::npos);
    CHECK(text.find("tls13) opts=") != std::string::npos);
    CHECK(text.find("--ciphersuites") != std::string::npos);
    CHECK(text.find("--insecure") != std::string::npos);  // aliases complete too
    // Completing `tapsec connect tls13 --cip` in bash itself.
    const std::string out = dir.file("out");
    std::string complete = "bash -c 'source ";
    complete.append(script).append("; COMP_WORDS=(tapsec connect tls13 --cip); COMP_CWORD=3; _tapsec; echo ${COMPREPLY[@]}' > ").append(out);
    REQUIRE(tapsec::test::run(complete) == 0);
    CHECK(tapsec::test::read_file(out) == "--ciphersuites --cipher --ciphers\n");
}

TEST_CASE("tapsec completion zsh is valid zsh that knows the commands, protocols and options") {
    tapsec::test::TempDir dir;
    const std::string script = dir.file("_tapsec");
    std::string command = TAPSEC_TOOL_PATH;
    command.append(" completion zsh > ").append(script);
    REQUIRE(tapsec::test::run(command) == 0);
    const std::string text = tapsec::test::read_file(script);
    CHECK(text.rfind("#compdef tapsec\n", 0) == 0);
    REQUIRE(tapsec::test::run("zsh -n " + script) == 0);  // parses
    // _tapsec itself, run by zsh with compadd and _files replaced by printers (no compinit):
    // each case prints the candidates zsh would offer.
    const auto complete = [&](const std::string& words, int current, const std::string& prefix) {
        const std::string out = dir.file("out");
        std::string line = "zsh -f -c 'compadd() { if [[ $1 == -a ]]; then print -l -- ${(P)2}; else shift; print -l -- \"$@\"; fi }; "
                           "_files() { print _files $@ }; compdef() { : }; source ";
        line.append(script).append("; words=(").append(words).append("); CURRENT=").append(std::to_string(current));
        line.append("; PREFIX=").append(prefix).append("; _tapsec' > ").append(out);
        CHECK(tapsec::test::run(line) == 0);
        return tapsec::test::read_file(out);
    };
    CHECK(complete("tapsec co", 2, "co").find("connect\n") != std::string::npos);
    CHECK(complete("tapsec connect t", 3, "t").find("tls12\n") != std::string::npos);
    const auto tls13_options = complete("tapsec connect tls13 --cip", 4, "--cip");
    CHECK(tls13_options.find("--ciphersuites\n") != std::string::npos);
    CHECK(tls13_options.find("--insecure\n") != std::string::npos);  // aliases complete too
    CHECK(complete("tapsec connect tls13 --CAfile x", 5, "x") == "_files\n");
    CHECK(complete("tapsec listen curvecp --key-dir x", 5, "x") == "_files -/\n");
    CHECK(complete("tapsec completion z", 3, "z") == "bash\nzsh\n");
}

TEST_CASE("tapsec table prints the survey's columns") {
    auto r = tapsec_command("table");
    CHECK(r.status == 0);
    for (const char* column : {"AN", "AD", "MA", "DM", "CM", "SV", "AFN", "CX", "SC", "LHP", "ED"})
        CHECK(r.output.find(column) != std::string::npos);
}

TEST_CASE("listen tls13 refuses, at startup, a key that is not the certificate's") {
    tapsec::test::TestPki pki;
    REQUIRE(pki.ok());
    const auto leaf = pki.issue("leaf");
    const auto other = pki.issue("other");
    REQUIRE_FALSE(leaf.certificate.empty());
    REQUIRE_FALSE(other.key.empty());
    // Port 0 would listen: the check must come before, so the command ends at once.
    auto r = tapsec_command("listen tls13 127.0.0.1:0 --cert " + leaf.certificate + " --key " + other.key);
    CHECK(r.status != 0);
    CHECK(line_count(r.output) == 1);
    CHECK(r.output.find("does not match the certificate") != std::string::npos);
}

}  // namespace cli_test
