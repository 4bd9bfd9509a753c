// CurveCP against NaCl's own programs (Debian nacl-tools 20110221): curvecpserver and
// curvecpclient, each running curvecpmessage, talk to `tapsec listen|connect curvecp`
// on loopback. Keys come from curvecpmakekey; data is compared by SHA-256.
//
// curvecpmessage shares one queue between data and acknowledgments and stops reading
// it while its child has not taken the data already received, so a child that writes
// much before it reads (a full-duplex `cat` echo of megabytes) deadlocks curvecpmessage
// itself. The transfers below therefore use children that read and write concurrently,
// or one after the other; the `cat` echo is kept below curvecpmessage's buffers.
#include <doctest/doctest.h>

#include <fstream>

#include <tapsec/crypto/botan.hpp>

#include "support/process.hpp"

using namespace tapsec::test;

namespace curvecp_nacl_test {

const std::string tapsec_tool = TAPSEC_TOOL_PATH;
const std::string extension = "31415926535897932384626433832795";

std::string random_file(const std::string& path, std::size_t size, std::uint64_t seed) {
    std::string data(size, '\0');
    std::uint64_t x = seed * 0x9e3779b97f4a7c15ull + 1;
    for (auto& c : data) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        c = static_cast<char>(x);
    }
    write_file(path, data);
    return data;
}

std::string sha256(const std::string& data) {
    return tapsec::to_hex(tapsec::crypto::Botan2::hash(tapsec::crypto::HashAlgorithm::sha256, tapsec::as_bytes(data)));
}

/// Whether something listens on UDP `port` (from /proc/net/udp): waiting for an event,
/// not sleeping a fixed time.
bool udp_port_bound(std::uint16_t port) {
    char hex[8];
    std::snprintf(hex, sizeof hex, ":%04X ", port);
    return read_file("/proc/net/udp").find(hex) != std::string::npos;
}

bool wait_for_udp_port(std::uint16_t port) {
    for (int i = 0; i < 500; ++i) {
        if (udp_port_bound(port)) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
}

struct Keys {
    std::string dir, hex;
};
Keys make_keys(const TempDir& tmp, const std::string& name) {
    Keys k{tmp.file(name), {}};
    REQUIRE(run("curvecpmakekey " + k.dir) == 0);
    REQUIRE(run("curvecpprintkey " + k.dir + " > " + k.dir + ".hex") == 0);
    k.hex = read_file(k.dir + ".hex");
    while (!k.hex.empty() && (k.hex.back() == '\n' || k.hex.back() == '\r')) k.hex.pop_back();
    REQUIRE(k.hex.size() == 64);
    return k;
}


TEST_CASE("curvecp interop: curvecpclient + curvecpmessage -> tapsec listen, 10 MB each way at once") {
    REQUIRE_MESSAGE(have_program("curvecpclient"), "nacl-tools (scripts/install-deps.sh) is needed");
    TempDir tmp;
    const Keys server = make_keys(tmp, "server");
    const auto up = random_file(tmp.file("up"), 10'000'000, 1);
    const auto down = random_file(tmp.file("down"), 10'000'000, 2);
    const auto port = free_port(SOCK_DGRAM);
    Process listener({"sh", "-c",
                      "exec " + tapsec_tool + " listen curvecp 127.0.0.1:" + std::to_string(port) + " --key-dir " +
                          server.dir + " --extension " + extension + " --verbose < " + tmp.file("down") + " > " +
                          tmp.file("listener.out")},
                     tmp.file("listener.log"));
    REQUIRE_MESSAGE(listener.wait_for_output("listening on"), listener.output());
    // The client program writes fd 7 and reads fd 6, both at once.
    Process client({"curvecpclient", "localhost", server.hex, "127.0.0.1", std::to_string(port), extension,
                    "curvecpmessage", "-C", "sh", "-c",
                    "cat <&6 > " + tmp.file("client.out") + " & cat " + tmp.file("up") + " >&7; exec 7>&-; wait"},
                   tmp.file("client.log"));
    CHECK_MESSAGE(client.wait(std::chrono::seconds(120)) == 0, client.output());
    CHECK_MESSAGE(listener.wait(std::chrono::seconds(20)) == 0, listener.output());
    const auto got_by_listener = read_file(tmp.file("listener.out"));
    const auto got_by_client = read_file(tmp.file("client.out"));
    CHECK(got_by_listener.size() == up.size());
    CHECK(sha256(got_by_listener) == sha256(up));
    CHECK(got_by_client.size() == down.size());
    CHECK(sha256(got_by_client) == sha256(down));
    MESSAGE(listener.output());
}

TEST_CASE("curvecp interop: tapsec connect -> curvecpserver + curvecpmessage, 10 MB up then 2 MB down") {
    REQUIRE_MESSAGE(have_program("curvecpserver"), "nacl-tools (scripts/install-deps.sh) is needed");
    TempDir tmp;
    const Keys server = make_keys(tmp, "server");
    const Keys client_key = make_keys(tmp, "client");
    const auto up = random_file(tmp.file("up"), 10'000'000, 3);
    const auto down = random_file(tmp.file("down"), 2'000'000, 4);
    const auto port = free_port(SOCK_DGRAM);
    Process peer({"curvecpserver", "localhost", server.dir, "127.0.0.1", std::to_string(port), extension, "curvecpmessage",
                  "sh", "-c", "cat > " + tmp.file("server.out") + "; cat " + tmp.file("down")},
                 tmp.file("server.log"));
    REQUIRE(wait_for_udp_port(port));
    // With the client's own long-term key: curvecpserver checks its vouch.
    Process connect({"sh", "-c",
                     "exec " + tapsec_tool + " connect curvecp 127.0.0.1:" + std::to_string(port) + " --server-key " +
                         server.hex + " --key-dir " + client_key.dir + " --extension " + extension + " --verbose < " +
                         tmp.file("up") + " > " + tmp.file("connect.out")},
                    tmp.file("connect.log"));
    CHECK_MESSAGE(connect.wait(std::chrono::seconds(120)) == 0, connect.output());
    const auto got_by_server = read_file(tmp.file("server.out"));
    const auto got_by_connect = read_file(tmp.file("connect.out"));
    CHECK(got_by_server.size() == up.size());
    CHECK(sha256(got_by_server) == sha256(up));
    CHECK(got_by_connect.size() == down.size());
    CHECK(sha256(got_by_connect) == sha256(down));
    MESSAGE(connect.output());
}

TEST_CASE("curvecp interop: a full-duplex echo through curvecpserver + curvecpmessage cat") {
    REQUIRE_MESSAGE(have_program("curvecpserver"), "nacl-tools (scripts/install-deps.sh) is needed");
    TempDir tmp;
    const Keys server = make_keys(tmp, "server");
    const auto data = random_file(tmp.file("data"), 48'000, 5);
    const auto port = free_port(SOCK_DGRAM);
    Process peer({"curvecpserver", "localhost", server.dir, "127.0.0.1", std::to_string(port), extension, "curvecpmessage",
                  "cat"},
                 tmp.file("server.log"));
    REQUIRE(wait_for_udp_port(port));
    Process connect({"sh", "-c",
                     "exec " + tapsec_tool + " connect curvecp 127.0.0.1:" + std::to_string(port) + " --server-key " +
                         server.hex + " --extension " + extension + " < " + tmp.file("data") + " > " + tmp.file("echo")},
                    tmp.file("connect.log"));
    CHECK_MESSAGE(connect.wait(std::chrono::seconds(60)) == 0, connect.output());
    CHECK(sha256(read_file(tmp.file("echo"))) == sha256(data));
}

TEST_CASE("curvecp interop: a wrong server key gets no answer from curvecpserver and a clear timeout") {
    REQUIRE_MESSAGE(have_program("curvecpserver"), "nacl-tools (scripts/install-deps.sh) is needed");
    TempDir tmp;
    const Keys server = make_keys(tmp, "server");
    const Keys other = make_keys(tmp, "other");
    const auto port = free_port(SOCK_DGRAM);
    Process peer({"curvecpserver", "localhost", server.dir, "127.0.0.1", std::to_string(port), extension, "curvecpmessage",
                  "cat"},
                 tmp.file("server.log"));
    REQUIRE(wait_for_udp_port(port));
    const auto t0 = std::chrono::steady_clock::now();
    Process connect({tapsec_tool, "connect", "curvecp", "127.0.0.1:" + std::to_string(port), "--server-key", other.hex,
                     "--extension", extension, "--hellos", "2"},
                    tmp.file("connect.log"));
    const int status = connect.wait(std::chrono::seconds(30));
    const auto took = std::chrono::steady_clock::now() - t0;
    CHECK(status == 1);
    CHECK_MESSAGE(connect.output().find("no answer from the CurveCP server") != std::string::npos, connect.output());
    CHECK(took < std::chrono::seconds(10));  // two Hellos: 1 s and 1.5 s, each plus up to as much jitter
}

}  // namespace curvecp_nacl_test
