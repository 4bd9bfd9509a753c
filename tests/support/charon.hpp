// strongSwan's charon as an interop peer (ikev2_strongswan_test.cpp, ikev2_eap_test.cpp):
// two namespaces of the test's own joined by a veth pair, charon with ESP in user space
// (kernel-libipsec, the kernel here has none) and its vici socket in a temporary
// directory, swanctl pointed at that socket. Recipes and traps: ../shared/PEERS.md.
#pragma once

#include <cctype>
#include <filesystem>
#include <memory>
#include <sstream>
#include <string>

#include "netns.hpp"
#include "process.hpp"

namespace tapsec::test::charon {

using namespace std::chrono_literals;

/// charon's side 10.99.0.1 with its inner address 10.200.1.1 on lo (charon answers
/// TS_UNACCEPTABLE unless its local selector is one of its addresses), tapsec's side
/// 10.99.0.2; the veth ends are `<stem>c` and `<stem>t`.
inline void join(const NetworkNamespace& charon_ns, const NetworkNamespace& tapsec_ns, const std::string& stem) {
    REQUIRE_MESSAGE(std::filesystem::exists("/usr/lib/ipsec/charon"), "strongSwan is not installed (strongswan-charon)");
    REQUIRE_MESSAGE(have_program("swanctl"), "swanctl is not installed (strongswan-swanctl)");
    const bool namespaces = charon_ns.ok() && tapsec_ns.ok();
    REQUIRE_MESSAGE(namespaces, "could not create network namespaces (needs root)");
    join_by_veth(charon_ns, stem + "c", "10.99.0.1/24", tapsec_ns, stem + "t", "10.99.0.2/24");
    REQUIRE(run("ip netns exec " + charon_ns.name() + " ip addr add 10.200.1.1/32 dev lo") == 0);
}

/// strongswan.conf for `dir`: kernel-libipsec, vici in `dir`, the stderr log levels
/// `log` (one "name = level" line each), `extra` more top-level charon settings. One
/// setting per line: strongSwan's parser takes no ';' separators.
inline void write_conf(const TempDir& dir, const std::string& log, const std::string& extra = "") {
    write_file(dir.file("strongswan.conf"),
               "charon {\n"
               "  load_modular = yes\n" + extra +
               "  install_routes = yes\n"
               "  filelog {\n"
               "    stderr {\n" + log +
               "    }\n"
               "  }\n"
               "  plugins {\n"
               "    include /etc/strongswan.d/charon/*.conf\n"
               "    kernel-libipsec {\n"
               "      load = yes\n"
               "    }\n"
               "    vici {\n"
               "      socket = unix://" + dir.file("charon.vici") + "\n"
               "    }\n"
               "  }\n"
               "}\n");
}

/// swanctl against the charon of `dir`, its output appended to dir/swanctl.log.
inline int swanctl(const NetworkNamespace& ns, const TempDir& dir, const std::string& arguments) {
    return run("ip netns exec " + ns.name() + " swanctl " + arguments + " --uri unix://" + dir.file("charon.vici") +
               " >> " + dir.file("swanctl.log") + " 2>&1");
}

/// Starts charon in `ns` with dir/strongswan.conf (a private /run), waits for its vici
/// socket and loads dir/swanctl.conf (credentials from x509/, x509ca/, private/ beside it).
inline std::unique_ptr<Process> start(const NetworkNamespace& ns, const TempDir& dir) {
    auto daemon = std::make_unique<Process>(
        ns.exec({"sh", "-c", "mount -t tmpfs tmpfs /run && STRONGSWAN_CONF=" + dir.file("strongswan.conf") +
                                 " exec /usr/lib/ipsec/charon"}),
        dir.file("charon.log"));
    REQUIRE_MESSAGE(daemon->wait_until([&](const std::string&) { return std::filesystem::exists(dir.file("charon.vici")); }, 15s),
                    "charon did not open its vici socket:\n" << daemon->output());
    REQUIRE_MESSAGE(swanctl(ns, dir, "--load-all --file " + dir.file("swanctl.conf")) == 0,
                    "swanctl --load-all failed:\n" << read_file(dir.file("swanctl.log")) << daemon->output());
    return daemon;
}

/// The hex octets of a hex dump charon logs after `label` ("Sk_d secret => 32 bytes @ ...",
/// at `ike 4`): the first such dump, or the last (`last`: after a rekey, the newest keys).
inline std::string logged_hex(const std::string& log, const std::string& label, bool last = false) {
    auto at = last ? log.rfind(label + " => ") : log.find(label + " => ");
    if (at == std::string::npos) return {};
    std::istringstream lines(log.substr(at));
    std::string line, hex;
    std::getline(lines, line);
    const std::size_t bytes = std::stoul(line.substr(line.find("=> ") + 3));
    while (hex.size() < 2 * bytes && std::getline(lines, line)) {
        auto colon = line.find(": ");
        if (colon == std::string::npos) break;
        std::istringstream octets(line.substr(colon + 2));
        std::string octet;
        while (hex.size() < 2 * bytes && octets >> octet && octet.size() == 2 && std::isxdigit(octet[0]))
            hex += static_cast<char>(std::tolower(octet[0])), hex += static_cast<char>(std::tolower(octet[1]));
    }
    return hex;
}

}  // namespace tapsec::test::charon
