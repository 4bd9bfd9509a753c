// Interop with Libreswan's pluto, the second IKEv2 peer: IKE_SA_INIT and IKE_AUTH with a
// PSK both ways. pluto comes unpacked into /opt/libreswan (scripts/install-deps.sh; the
// package conflicts with strongSwan in apt) and runs in a private mount namespace that
// puts its helpers at the compiled-in /usr/libexec/ipsec (PEERS.md). Two network
// namespaces of the test's own, joined by a veth pair.
//
// What Libreswan checks here is the IKE SA, not ESP: pluto puts the Child SA into the
// kernel, which has no ESP (errno 38). As responder it then answers TS_UNACCEPTABLE after
// its AUTH; as initiator, once our IKE_AUTH response is in, it deletes the IKE SA without
// a notification and starts over. The checks: pluto logs the IKE SA established with
// tapsec's identity, and our side authenticated pluto (as initiator: its AUTH verified,
// then the TS_UNACCEPTABLE it sent; as responder: the SA up).
#include <doctest/doctest.h>

#include <filesystem>

#include <tapsec/ikev2.hpp>

#include "support/netns.hpp"
#include "support/process.hpp"

using namespace tapsec;
using namespace std::chrono_literals;
using Ikev2 = Secure<Ikev2Handshake, EspRecord, Udp>;

namespace ikev2_libreswan_test {

const std::string libreswan_root = "/opt/libreswan";
const std::string psk_text = "tapsec-libreswan-pre-shared-key-0123";

bool libreswan_unpacked() { return std::filesystem::exists(libreswan_root + "/usr/libexec/ipsec/pluto"); }

struct Pluto {
    test::TempDir dir;
    test::NetworkNamespace ns{"tapsec-lswp"}, tapsec_ns{"tapsec-lswt"};
    std::unique_ptr<test::Process> daemon;

    Pluto() {
        const bool namespaces = ns.ok() && tapsec_ns.ok();
        REQUIRE_MESSAGE(namespaces, "could not create network namespaces (needs root)");
        test::join_by_veth(ns, "vlswp", "10.98.0.1/24", tapsec_ns, "vlswt", "10.98.0.2/24");
        for (const char* sub : {"nss", "lrun", "ipsec.d"}) std::filesystem::create_directories(dir.file(sub));
        REQUIRE_MESSAGE(test::run("IPSEC_EXECDIR=" + libreswan_root + "/usr/libexec/ipsec " + libreswan_root +
                                  "/usr/sbin/ipsec initnss --nssdir " + dir.file("nss") + " > " + dir.file("initnss.log") +
                                  " 2>&1") == 0,
                        test::read_file(dir.file("initnss.log")));
        // One setting per line; pluto reaches tapsec on the NAT-T port (rightikeport).
        test::write_file(dir.file("ipsec.conf"),
                         "config setup\n"
                         "\tprotostack=xfrm\n"
                         "conn c\n"
                         "\tikev2=yes\n"
                         "\tauthby=secret\n"
                         "\tleft=10.98.0.1\n"
                         "\tleftid=@b.test\n"
                         "\tleftsubnet=10.200.1.1/32\n"
                         "\tright=10.98.0.2\n"
                         "\trightid=a@test\n"
                         "\trightsubnet=10.200.2.1/32\n"
                         "\trightikeport=4500\n"
                         "\tike=aes_gcm128-sha2_256-dh31\n"
                         "\tesp=aes_gcm128\n"
                         "\tencapsulation=yes\n"
                         "\tauto=add\n");
        test::write_file(dir.file("ipsec.secrets"), "@b.test a@test : PSK \"" + psk_text + "\"\n");
        std::filesystem::permissions(dir.file("ipsec.secrets"), std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
        daemon = std::make_unique<test::Process>(
            ns.exec({"unshare", "-m", "sh", "-c",
                     "mount -t tmpfs tmpfs /run && mkdir /run/pluto && mount --bind " + libreswan_root +
                         "/usr/libexec /usr/libexec && exec /usr/libexec/ipsec/pluto --nofork --stderrlog --config " +
                         dir.file("ipsec.conf") + " --secretsfile " + dir.file("ipsec.secrets") + " --nssdir " +
                         dir.file("nss") + " --ipsecdir " + dir.file("ipsec.d") + " --rundir " + dir.file("lrun") +
                         " --no-dnssec"}),
            dir.file("pluto.log"));
        REQUIRE_MESSAGE(daemon->wait_for_output("\"c\": added IKEv2 connection", 15s), "pluto did not load the connection:\n" << log());
        REQUIRE_MESSAGE(daemon->wait_until([&](const std::string&) { return std::filesystem::exists(dir.file("lrun/pluto.ctl")); }, 10s),
                        "pluto opened no control socket:\n" << log());
    }
    std::string log() const { return daemon ? daemon->output() : ""; }

    Ikev2 open_tapsec(Role role) {
        Ikev2::Config config;
        config.local_id = *ikev2::Identification::parse("a@test");
        config.remote_id = *ikev2::Identification::parse("b.test");
        config.pre_shared_keys.push_back({"b.test", SecretBytes(psk_text.begin(), psk_text.end())});
        config.local_ts = *ikev2::parse_selector("10.200.2.1/32");
        config.remote_ts = *ikev2::parse_selector("10.200.1.1/32");
        config.handshake_timeout = 20s;
        auto peer = role == Role::client ? *Endpoint::parse("10.98.0.1:4500") : Endpoint{};
        auto udp = test::inside(tapsec_ns, [&] { return Udp::bind("10.98.0.2", 4500, peer); });
        REQUIRE(udp.ok());
        return Ikev2(role, config, std::move(*udp));
    }
};


TEST_CASE("Libreswan interop: tapsec initiates to pluto (PSK, X25519, AES-GCM-16): pluto establishes the IKE SA") {
    if (!libreswan_unpacked()) {
        MESSAGE("skipped: Libreswan is not unpacked in " << libreswan_root << " (run scripts/install-deps.sh)");
        return;
    }
    Pluto pluto;
    Ikev2 conn = pluto.open_tapsec(Role::client);
    auto ec = conn.handshake();
    REQUIRE_MESSAGE(pluto.daemon->wait_for_output("responder established IKE SA; authenticated peer using authby=secret and "
                                                  "ID_USER_FQDN 'a@test'", 5s),
                    pluto.log());
    // Our side verified pluto's AUTH; the Child SA then failed in pluto's kernel.
    CHECK(conn.info().peer.authenticated);
    CHECK(conn.info().peer.psk_identity == "b.test");
    CHECK_MESSAGE(ec == ikev2::Error::ts_unacceptable, ec.message());
    CHECK_MESSAGE(pluto.log().find("Function not implemented (errno 38)") != std::string::npos, pluto.log());
}

TEST_CASE("Libreswan interop: pluto initiates to tapsec (PSK): both sides establish the IKE SA") {
    if (!libreswan_unpacked()) {
        MESSAGE("skipped: Libreswan is not unpacked in " << libreswan_root << " (run scripts/install-deps.sh)");
        return;
    }
    Pluto pluto;
    Ikev2 conn = pluto.open_tapsec(Role::server);
    REQUIRE(test::run("ip netns exec " + pluto.ns.name() + " " + libreswan_root + "/usr/libexec/ipsec/whack --ctlsocket " +
                      pluto.dir.file("lrun/pluto.ctl") + " --initiate --name c --asynchronous > " + pluto.dir.file("whack.log") +
                      " 2>&1") == 0);
    auto ec = conn.handshake();
    REQUIRE_MESSAGE(!ec, ec.message() << "; pluto log:\n" << pluto.log());
    CHECK(conn.info().peer.authenticated);
    CHECK(conn.info().peer.psk_identity == "b.test");
    CHECK_MESSAGE(pluto.daemon->wait_for_output("initiator established IKE SA; authenticated peer using authby=secret and "
                                                "ID_USER_FQDN 'a@test'", 5s),
                  pluto.log());
}

}  // namespace ikev2_libreswan_test
