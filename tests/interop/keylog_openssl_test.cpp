// The TLS 1.3 key log (CommonConfig::key_log, `--keylogfile`) against OpenSSL's: for the
// same connection both ends log the same secrets, so every line `openssl s_server` /
// `s_client -keylogfile` writes must appear, byte for byte, in ours. Also: the key-update
// generations (OpenSSL's "_N" lines, and RFC 8446 7.2's derivation), the
// SSLKEYLOGFILE variable, mode 0600, a clear error for an unwritable path, and the
// key log of the library hook itself (no CLI in between).
#include <doctest/doctest.h>

#include <sys/stat.h>

#include <map>
#include <sstream>
#include <thread>

#include <tapsec/tapsec.hpp>

#include "support/pki.hpp"
#include "support/process.hpp"

using namespace tapsec;
using namespace tapsec::test;
using namespace std::chrono_literals;

namespace keylog_openssl_test {

const std::string tool = TAPSEC_TOOL_PATH;
constexpr const char* suite_name = "TLS_AES_128_GCM_SHA256";

/// label -> "client_random secret" (lower-case hex), one entry per label.
using KeyLog = std::map<std::string, std::string>;

KeyLog parse(const std::string& text) {
    KeyLog out;
    std::istringstream lines(text);
    std::string line;
    while (std::getline(lines, line)) {
        if (line.empty() || line[0] == '#') continue;  // OpenSSL starts its file with a comment
        std::istringstream in(line);
        std::string label, random, secret;
        if (!(in >> label >> random >> secret)) continue;
        for (auto* s : {&random, &secret})
            for (auto& c : *s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        out[label] = random + " " + secret;
    }
    return out;
}

Bytes secret_of(const KeyLog& log, const std::string& label) {
    const auto& line = log.at(label);
    return from_hex(line.substr(line.find(' ') + 1));
}

struct Fixture {
    TestPki pki;
    CertificateFiles server;
    TempDir dir;
    Fixture() {
        REQUIRE_MESSAGE(have_program("openssl"), "openssl is not installed (Debian package openssl)");
        REQUIRE(pki.ok());
        server = pki.issue("server");
        REQUIRE(!server.certificate.empty());
    }
};

/// Every line OpenSSL logged is in ours, and ours has the five TLS 1.3 secrets.
void check_same_secrets(const KeyLog& ours, const KeyLog& openssl) {
    for (const std::string label : {"CLIENT_HANDSHAKE_TRAFFIC_SECRET", "SERVER_HANDSHAKE_TRAFFIC_SECRET",
                                    "CLIENT_TRAFFIC_SECRET_0", "SERVER_TRAFFIC_SECRET_0", "EXPORTER_SECRET"}) {
        REQUIRE_MESSAGE(openssl.count(label), "openssl's key log lacks " << label);
        REQUIRE_MESSAGE(ours.count(label), "our key log lacks " << label);
        CHECK_MESSAGE(ours.at(label) == openssl.at(label), label << ": ours " << ours.at(label) << " openssl "
                                                                 << openssl.at(label));
    }
    // OpenSSL 3.0 logs each KeyUpdate under a literal "..._TRAFFIC_SECRET_N"; we number
    // the generations. These tests update keys at most once: its N is our 1.
    for (const auto& [label, line] : openssl) {
        // tapsec offers no early exporter (RFC 8446 7.5's early_exporter_master_secret),
        // so it derives and logs none; decryption does not need it.
        if (label == "EARLY_EXPORTER_SECRET") continue;
        const bool updated = label.size() > 2 && label.substr(label.size() - 2) == "_N";
        const std::string ours_label = updated ? label.substr(0, label.size() - 1) + "1" : label;
        REQUIRE_MESSAGE(ours.count(ours_label), "our key log lacks " << ours_label);
        CHECK_MESSAGE(ours.at(ours_label) == line, ours_label);
    }
}


TEST_CASE("keylog: tapsec connect tls13 --keylogfile logs what openssl s_server -keylogfile logs, key updates too") {
    Fixture f;
    const auto port = free_port();
    const std::string server_keys = f.dir.file("server.keys"), client_keys = f.dir.file("client.keys");
    Process server({"openssl", "s_server", "-accept", "127.0.0.1:" + std::to_string(port), "-cert", f.server.certificate,
                    "-key", f.server.key, "-tls1_3", "-ciphersuites", suite_name, "-keylogfile", server_keys, "-rev",
                    "-naccept", "1"},
                   f.dir.file("s_server.log"));
    REQUIRE_MESSAGE(server.wait_for_output("ACCEPT"), server.output());
    Process client({tool, "connect", "tls13", "localhost:" + std::to_string(port), "--CAfile", f.pki.ca().certificate,
                    "--keylogfile", client_keys, "--keyupdate", "--trace", "--showcerts"},
                   f.dir.file("tapsec.log"));
    client.write_stdin("key log line\n");
    const bool echoed = client.wait_for_output("enil gol yek");
    client.close_stdin();
    CHECK_MESSAGE(client.wait(10s) == 0, client.output());
    server.wait(10s);
    REQUIRE_MESSAGE(echoed, (client.output() + "\n--- s_server:\n" + server.output()));

    const auto ours = parse(read_file(client_keys));
    check_same_secrets(ours, parse(read_file(server_keys)));

    // --trace and --showcerts on stderr: the handshake in order, the KeyUpdates, and the
    // server's certificate exactly as its PEM file holds it.
    const auto out = client.output();
    const auto at = [&out](const std::string& text) { return out.find(text); };
    CHECK_MESSAGE(at("tapsec: trace > ClientHello (") < at("tapsec: trace < ServerHello ("), out);
    CHECK_MESSAGE(at("tapsec: trace < ServerHello (") < at("tapsec: trace < Finished ("), out);
    CHECK_MESSAGE(at("tapsec: trace < Finished (") < at("tapsec: trace > Finished ("), out);
    CHECK_MESSAGE(at("tapsec: trace > Finished (") != std::string::npos, out);
    CHECK_MESSAGE(at("tapsec: trace > KeyUpdate (1 bytes)") != std::string::npos, out);
    CHECK_MESSAGE(at("tapsec: trace < KeyUpdate (1 bytes)") != std::string::npos, out);
    CHECK_MESSAGE(at("tapsec: trace > alert warning close_notify (0)") != std::string::npos, out);
    CHECK_MESSAGE(at("Certificate chain\n 0 s:CN=\"localhost\"") != std::string::npos, out);
    auto pem = read_file(f.server.certificate);
    CHECK_MESSAGE(at(pem) != std::string::npos, out << "\n--- expected:\n" << pem);
    CHECK_MESSAGE(at("tapsec: summary: TLS 1.3, TLS_AES_128_GCM_SHA256, ") != std::string::npos, out);

    // --keyupdate asked the server to update too: generation 1 each way (compared with
    // OpenSSL's "_N" lines above), derived from generation 0 as RFC 8446 7.2 says.
    const auto* suite = tls13::find_cipher_suite(suite_name);
    REQUIRE(suite);
    for (const std::string side : {"CLIENT", "SERVER"}) {
        REQUIRE_MESSAGE(ours.count(side + "_TRAFFIC_SECRET_1"), read_file(client_keys));
        const auto zero = secret_of(ours, side + "_TRAFFIC_SECRET_0");
        const tls13::TrafficSecret generation0{suite, SecretBytes(zero.begin(), zero.end())};
        const auto one = tls13::next_traffic_secret(generation0);
        CHECK(to_hex(one.secret) == to_hex(secret_of(ours, side + "_TRAFFIC_SECRET_1")));
        // The same connection throughout: one client random on every line.
        CHECK(ours.at(side + "_TRAFFIC_SECRET_1").substr(0, 64) == ours.at("CLIENT_HANDSHAKE_TRAFFIC_SECRET").substr(0, 64));
    }

    // Secrets only for the user who asked: the file is created with mode 0600.
    struct stat st {};
    REQUIRE(::stat(client_keys.c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
}

TEST_CASE("keylog: SSLKEYLOGFILE with tapsec listen tls13 logs what openssl s_client -keylogfile logs") {
    Fixture f;
    const auto port = free_port();
    const std::string server_keys = f.dir.file("server.keys"), client_keys = f.dir.file("client.keys");
    Process server({"env", "SSLKEYLOGFILE=" + server_keys, tool, "listen", "tls13", "127.0.0.1:" + std::to_string(port),
                    "--cert", f.server.certificate, "--key", f.server.key},
                   f.dir.file("tapsec.log"));
    REQUIRE_MESSAGE(server.wait_for_output("listening"), server.output());
    Process client({"openssl", "s_client", "-connect", "127.0.0.1:" + std::to_string(port), "-tls1_3", "-keylogfile",
                    client_keys, "-quiet"},
                   f.dir.file("s_client.log"));
    client.write_stdin("from openssl\n");
    const bool got = server.wait_for_output("from openssl");
    client.close_stdin();
    server.close_stdin();
    CHECK_MESSAGE(server.wait(10s) == 0, server.output());
    client.wait(10s);
    REQUIRE_MESSAGE(got, (server.output() + "\n--- s_client:\n" + client.output()));
    check_same_secrets(parse(read_file(server_keys)), parse(read_file(client_keys)));
}

TEST_CASE("keylog: an unwritable key log path is one clear error line, exit 2 (a file option error), before connecting") {
    Fixture f;
    Process client({tool, "connect", "tls13", "127.0.0.1:1", "--keylogfile", f.dir.file("no/such/dir/keys")},
                   f.dir.file("tapsec.log"));
    CHECK(client.wait(10s) == 2);
    const auto out = client.output();
    CHECK_MESSAGE(out.find("cannot open key log file") != std::string::npos, out);
    CHECK_MESSAGE(out.find("No such file or directory") != std::string::npos, out);
    CHECK_MESSAGE(out.find("refused") == std::string::npos, out);  // refused before any connection attempt
}

TEST_CASE("keylog: the library hook sees both ends' secrets equal, early data and exporter included") {
    // Two in-process engines (no CLI, no files): the client's and the server's key_log
    // callbacks must report the same (label, client random, secret) triples.
    TestPki pki;
    REQUIRE(pki.ok());
    const auto leaf = pki.issue("leaf");
    using Entries = std::map<std::string, std::pair<std::string, std::string>>;
    Entries client_log, server_log;
    auto collect = [](Entries& into) {
        return [&into](std::string_view label, ByteView random, ByteView secret) {
            into[std::string(label)] = {to_hex(random), to_hex(secret)};
        };
    };
    tls13::Config client_config, server_config;
    client_config.server_name = "localhost";
    client_config.trust.ca_certificates_pem = {pki.ca().certificate_pem()};
    client_config.key_log = collect(client_log);
    server_config.identity = Identity(leaf.certificate_pem(), leaf.key_pem());
    server_config.key_log = collect(server_log);
    std::vector<TraceRecord> client_trace;
    client_config.trace = [&client_trace](const TraceRecord& r) { client_trace.push_back(r); };

    using Engine = tls13::Engine<AeadRecord, crypto::Botan2>;
    Engine client(Role::client, client_config), server(Role::server, server_config);
    const auto now = Clock::now();
    REQUIRE(!client.start(now));
    for (int round = 0; round < 6; ++round) {
        while (auto t = client.poll_transmit()) REQUIRE(!server.receive(t->data, {}, now));
        while (auto t = server.poll_transmit()) REQUIRE(!client.receive(t->data, {}, now));
    }
    REQUIRE(client.is_established());
    REQUIRE(server.is_established());
    REQUIRE(!client.update_keys(true, now));
    while (auto t = client.poll_transmit()) REQUIRE(!server.receive(t->data, {}, now));
    while (auto t = server.poll_transmit()) REQUIRE(!client.receive(t->data, {}, now));

    for (const std::string label : {"CLIENT_HANDSHAKE_TRAFFIC_SECRET", "SERVER_HANDSHAKE_TRAFFIC_SECRET",
                                    "CLIENT_TRAFFIC_SECRET_0", "SERVER_TRAFFIC_SECRET_0", "EXPORTER_SECRET",
                                    "CLIENT_TRAFFIC_SECRET_1", "SERVER_TRAFFIC_SECRET_1"}) {
        REQUIRE_MESSAGE(client_log.count(label), "client did not log " << label);
        REQUIRE_MESSAGE(server_log.count(label), "server did not log " << label);
        CHECK(client_log.at(label) == server_log.at(label));
        CHECK(client_log.at(label).first.size() == 64);  // the 32-byte ClientHello random
    }
    CHECK(client_log.size() == 7);  // nothing else (no 0-RTT here)
    // The exporter secret logged is the one the exporter uses: the RFC 8446 7.5 exporter
    // computed from the logged secret matches the connection's.
    const auto* suite = tls13::find_cipher_suite(client.session_info().cipher_suite);
    REQUIRE(suite);
    const auto exporter = from_hex(client_log.at("EXPORTER_SECRET").second);
    const auto expected = tls13::export_keying_material(suite->hash, exporter, "EXPERIMENTAL keylog", {}, 32);
    auto actual = client.export_keying_material("EXPERIMENTAL keylog", {}, 32);
    REQUIRE(actual);
    CHECK(to_hex(*actual) == to_hex(expected));

    // The trace saw the client's handshake in order, both directions.
    std::vector<std::string> lines;
    for (const auto& r : client_trace) lines.push_back(format_trace(r).substr(0, format_trace(r).find(" (")));
    const std::vector<std::string> expected_start{"> ClientHello", "< ServerHello", "< EncryptedExtensions", "< Certificate",
                                                  "< CertificateVerify", "< Finished", "> Finished"};
    REQUIRE(lines.size() >= expected_start.size());
    CHECK(std::vector<std::string>(lines.begin(), lines.begin() + expected_start.size()) == expected_start);
    CHECK(std::find(lines.begin(), lines.end(), "> KeyUpdate") != lines.end());
    CHECK(std::find(lines.begin(), lines.end(), "< KeyUpdate") != lines.end());
}

TEST_CASE("keylog: 0-RTT, CLIENT_EARLY_TRAFFIC_SECRET equals OpenSSL's in both roles") {
    Fixture f;
    const std::string early_file = f.dir.file("early.txt");
    write_file(early_file, "zero round trip data\n");
    SUBCASE("tapsec connect --early-data against openssl s_server -early_data") {
        const auto port = free_port();
        const std::string server_keys = f.dir.file("server.keys"), client_keys = f.dir.file("client.keys");
        const std::string session = f.dir.file("tapsec.sess");
        Process server({"openssl", "s_server", "-accept", "127.0.0.1:" + std::to_string(port), "-cert", f.server.certificate,
                        "-key", f.server.key, "-tls1_3", "-early_data", "-naccept", "2", "-keylogfile", server_keys},
                       f.dir.file("s_server.log"));
        REQUIRE_MESSAGE(server.wait_for_output("ACCEPT"), server.output());
        const std::vector<std::string> connect{tool, "connect", "tls13", "localhost:" + std::to_string(port), "--CAfile",
                                               f.pki.ca().certificate};
        {
            auto argv = connect;
            argv.insert(argv.end(), {"--sess-out", session});
            Process first(argv, f.dir.file("tapsec1.log"));
            REQUIRE_MESSAGE(first.wait_for_output("session ticket stored"), first.output());
            first.close_stdin();
            first.wait(10s);
        }
        auto argv = connect;
        argv.insert(argv.end(), {"--sess-in", session, "--early-data", early_file, "--keylogfile", client_keys});
        Process second(argv, f.dir.file("tapsec2.log"));
        const bool delivered = server.wait_for_output("zero round trip data");
        second.close_stdin();
        second.wait(10s);
        REQUIRE_MESSAGE(delivered, (second.output() + "\n--- s_server:\n" + server.output()));
        REQUIRE_MESSAGE(second.output().find("early data accepted") != std::string::npos, second.output());
        const auto ours = parse(read_file(client_keys));
        const auto openssl = parse(read_file(server_keys));  // the last connection's lines win: the 0-RTT one
        REQUIRE_MESSAGE(openssl.count("CLIENT_EARLY_TRAFFIC_SECRET"), read_file(server_keys));
        check_same_secrets(ours, openssl);
    }
    SUBCASE("openssl s_client -early_data against tapsec listen --max-early-data") {
        const auto port = free_port();
        const std::string server_keys = f.dir.file("server.keys"), client_keys = f.dir.file("client.keys");
        const std::string session = f.dir.file("openssl.sess");
        Process server({tool, "listen", "tls13", "127.0.0.1:" + std::to_string(port), "--cert", f.server.certificate,
                        "--key", f.server.key, "--naccept", "2", "--max-early-data", "16384", "--keylogfile", server_keys},
                       f.dir.file("tapsec.log"));
        REQUIRE_MESSAGE(server.wait_for_output("listening"), server.output());
        const std::vector<std::string> s_client{"openssl", "s_client", "-connect", "127.0.0.1:" + std::to_string(port),
                                                "-tls1_3", "-CAfile", f.pki.ca().certificate};
        {
            auto argv = s_client;
            argv.insert(argv.end(), {"-sess_out", session});
            Process first(argv, f.dir.file("s_client1.log"));
            // s_client writes -sess_out when the ticket arrives (its stdout is buffered).
            const auto deadline = std::chrono::steady_clock::now() + 10s;
            while (read_file(session).empty() && std::chrono::steady_clock::now() < deadline && first.running())
                std::this_thread::sleep_for(20ms);
            REQUIRE_MESSAGE(!read_file(session).empty(), first.output());
            first.close_stdin();
            first.wait(10s);
        }
        auto argv = s_client;
        argv.insert(argv.end(), {"-sess_in", session, "-early_data", early_file, "-keylogfile", client_keys});
        Process second(argv, f.dir.file("s_client2.log"));
        const bool delivered = server.wait_for_output("zero round trip data");
        const bool accepted = second.wait_for_output("Early data was accepted");
        second.close_stdin();
        server.close_stdin();
        second.wait(10s);
        server.wait(10s);
        REQUIRE_MESSAGE(delivered, (server.output() + "\n--- s_client:\n" + second.output()));
        REQUIRE_MESSAGE(accepted, second.output());
        const auto ours = parse(read_file(server_keys));  // the last connection's lines win: the 0-RTT one
        const auto openssl = parse(read_file(client_keys));
        REQUIRE_MESSAGE(openssl.count("CLIENT_EARLY_TRAFFIC_SECRET"), read_file(client_keys));
        check_same_secrets(ours, openssl);
    }
}

}  // namespace keylog_openssl_test
