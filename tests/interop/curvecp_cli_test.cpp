// `tapsec listen curvecp` and `tapsec connect curvecp` as two processes on loopback,
// keys written by tapsec itself in curvecpmakekey's layout: 1 MB each way at once,
// SHA-256 compared, exit 0 on both sides once both streams ended. Then the usage errors
// a stranger meets first are one line each.
#include <doctest/doctest.h>

#include <tapsec/curvecp.hpp>

#include "support/process.hpp"

using namespace tapsec::test;

namespace {

const std::string tapsec_tool = TAPSEC_TOOL_PATH;

std::string random_bytes(std::size_t n, std::uint8_t seed) {
    std::string s(n, '\0');
    for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>((i * 131 + seed) ^ (i >> 9));
    return s;
}

}  // namespace

TEST_CASE("tapsec curvecp: listen and connect move 1 MB each way and exit 0") {
    TempDir tmp;
    auto key = tapsec::curvecp::generate_key_pair([](tapsec::MutableByteView out) { tapsec::crypto::Botan2::random(out); });
    REQUIRE_FALSE(tapsec::curvecp::write_key_directory(tmp.file("server"), key));
    REQUIRE(tapsec::curvecp::load_key_directory(tmp.file("server")));
    const auto up = random_bytes(1'000'000, 1), down = random_bytes(1'000'000, 2);
    write_file(tmp.file("up"), up);
    write_file(tmp.file("down"), down);
    const auto port = std::to_string(free_port(SOCK_DGRAM));
    Process listener({"sh", "-c",
                      "exec " + tapsec_tool + " listen curvecp 127.0.0.1:" + port + " --key-dir " + tmp.file("server") +
                          " --name test.example < " + tmp.file("down") + " > " + tmp.file("listener.out")},
                     tmp.file("listener.log"));
    REQUIRE_MESSAGE(listener.wait_for_output("listening on"), listener.output());
    Process client({"sh", "-c",
                    "exec " + tapsec_tool + " connect curvecp 127.0.0.1:" + port + " --server-key-dir " +
                        tmp.file("server") + " --name test.example < " + tmp.file("up") + " > " + tmp.file("client.out")},
                   tmp.file("client.log"));
    CHECK_MESSAGE(client.wait(std::chrono::seconds(60)) == 0, client.output());
    CHECK_MESSAGE(listener.wait(std::chrono::seconds(20)) == 0, listener.output());
    CHECK(read_file(tmp.file("listener.out")) == up);
    CHECK(read_file(tmp.file("client.out")) == down);
}

TEST_CASE("tapsec curvecp: usage errors are one line and exit 1") {
    TempDir tmp;
    struct Usage {
        std::vector<std::string> args;
        std::string says;
    };
    const Usage cases[] = {
        {{"connect", "curvecp", "127.0.0.1:9"}, "needs the server's key"},
        {{"connect", "curvecp", "127.0.0.1:9", "--server-key", "00"}, "64 hex digits"},
        {{"connect", "curvecp", "127.0.0.1:9", "--server-key", std::string(64, 'a'), "--extension", "12"}, "32 hex digits"},
        {{"listen", "curvecp", "9"}, "needs the server's key directory"},
        {{"listen", "curvecp", "9", "--key-dir", tmp.file("missing")}, "cannot read a key directory"},
        {{"connect", "curvecp", "127.0.0.1:9", "--bogus"}, "unknown option --bogus"},
    };
    for (const auto& u : cases) {
        std::vector<std::string> argv{tapsec_tool};
        argv.insert(argv.end(), u.args.begin(), u.args.end());
        Process p(argv, tmp.file("usage.log"));
        CHECK(p.wait(std::chrono::seconds(10)) == 2);  // command-line mistakes: exit status 2
        const auto out = p.output();
        CHECK_MESSAGE(out.find(u.says) != std::string::npos, out);
        CHECK(count_of(out, "\n") == 1);
    }
}
