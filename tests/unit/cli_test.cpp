// The `tapsec` command as a user meets it: help, bad arguments, the table.
#include <doctest/doctest.h>

#include <tapsec/tapsec.hpp>

#include "support/pki.hpp"
#include "support/process.hpp"

namespace {

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

}  // namespace

TEST_CASE("tapsec --help and per-command help exit 0") {
    CHECK(tapsec_command("--help").status == 0);
    CHECK(tapsec_command("table --help").status == 0);
    CHECK(tapsec_command("demo --help").status == 0);
    CHECK(tapsec_command("connect --help").status == 0);
}

TEST_CASE("bad arguments give one line on stderr and a non-zero exit") {
    for (const char* args : {"frobnicate", "connect nosuchprotocol 127.0.0.1:1", "table extra", "demo extra"}) {
        CAPTURE(args);
        auto r = tapsec_command(args);
        CHECK(r.status != 0);
        CHECK(line_count(r.output) == 1);
        CHECK(r.output.rfind("tapsec: ", 0) == 0);
    }
    auto none = tapsec_command("");
    CHECK(none.status != 0);
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
