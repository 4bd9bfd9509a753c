// The TLS 1.3 crypto layer against OpenSSL and GnuTLS, with no handshake of ours
// involved: `openssl s_client` or `gnutls-cli` talks to an `openssl s_server` through a
// relay in this test, which records both directions (OpenSSL pads its records with
// -record_padding, so padding removal is exercised too). From the secrets the client logs
// (-keylogfile / SSLKEYLOGFILE), tapsec's record layer decrypts every protected record
// both ways (handshake epoch, application epoch, KeyUpdate in both directions,
// NewSessionTicket, close_notify), tapsec's Transcript and verify_finished check both
// Finished messages, and tapsec's exporter reproduces the client's keying-material
// export. Each cipher suite, each client.
#include <doctest/doctest.h>

#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <sstream>
#include <thread>

#include <tapsec/tls13/key_schedule.hpp>
#include <tapsec/tls13/record.hpp>

#include "support/process.hpp"

using namespace tapsec;
using namespace tapsec::tls13;
using namespace std::chrono_literals;

namespace tls13_record_peers_test {

using Crypto = crypto::DefaultProvider;

struct Capture {
    Bytes client_to_server, server_to_client;
    bool accepted = false;
};

int listen_on(std::uint16_t port) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd, 1) != 0) {
        ::close(fd);
        return -1;
    }
    return fd;
}

int connect_to(std::uint16_t port) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
        ::close(fd);
        return -1;
    }
    return fd;
}

/// Accepts one client, connects it to the server, forwards both ways and records
/// everything until both sides have closed or the deadline passes.
void relay(int listener, std::uint16_t server_port, Capture& capture, std::chrono::steady_clock::time_point deadline) {
    pollfd lp{listener, POLLIN, 0};
    if (::poll(&lp, 1, 10000) != 1) return;
    int client = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
    int server = connect_to(server_port);
    if (client < 0 || server < 0) {
        if (client >= 0) ::close(client);
        if (server >= 0) ::close(server);
        return;
    }
    capture.accepted = true;
    bool client_open = true, server_open = true;
    std::uint8_t buffer[65536];
    while ((client_open || server_open) && std::chrono::steady_clock::now() < deadline) {
        pollfd fds[2] = {{client, static_cast<short>(client_open ? POLLIN : 0), 0},
                         {server, static_cast<short>(server_open ? POLLIN : 0), 0}};
        if (::poll(fds, 2, 100) <= 0) continue;
        for (int i = 0; i < 2; ++i) {
            if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
            const int from = i == 0 ? client : server, to = i == 0 ? server : client;
            const ssize_t n = ::read(from, buffer, sizeof buffer);
            if (n <= 0) {
                (i == 0 ? client_open : server_open) = false;
                ::shutdown(to, SHUT_WR);
                continue;
            }
            Bytes& log = i == 0 ? capture.client_to_server : capture.server_to_client;
            log.insert(log.end(), buffer, buffer + n);
            for (ssize_t sent = 0; sent < n;) {
                const ssize_t m = ::write(to, buffer + sent, static_cast<std::size_t>(n - sent));
                if (m <= 0) break;
                sent += m;
            }
        }
    }
    ::close(client);
    ::close(server);
}

/// NSS key log lines: LABEL <client_random> <secret>.
std::map<std::string, Bytes> parse_keylog(const std::string& text) {
    std::map<std::string, Bytes> out;
    std::istringstream in(text);
    std::string label, random, secret;
    while (in >> label) {
        if (label[0] == '#') {
            std::getline(in, label);
            continue;
        }
        in >> random >> secret;
        out[label] = from_hex(secret);
    }
    return out;
}

TrafficSecret secret_of(const CipherSuite& suite, const Bytes& b) { return {&suite, SecretBytes(b.begin(), b.end())}; }

/// One direction of the connection, decrypted with the logged secrets: plaintext hello,
/// then the handshake key, then (after Finished) the application key, then KeyUpdates.
struct Decrypted {
    std::vector<Bytes> handshake_messages;
    Bytes application_data;
    std::vector<AlertDescription> alerts;
    int key_updates = 0;
    int change_cipher_spec = 0;
    int protected_records = 0;
    std::error_code error;
};

Decrypted decrypt(ByteView wire, const TrafficSecret& handshake_secret,
                  const TrafficSecret& application_secret, std::uint8_t last_plaintext_message) {
    Decrypted d;
    RecordLayer<Crypto> layer;
    if ((d.error = layer.feed(wire))) return d;
    Bytes pending;  // handshake bytes not yet a whole message
    for (;;) {
        auto r = layer.next();
        if (!r) {
            d.error = r.error();
            return d;
        }
        if (!*r) break;
        const Plaintext& p = **r;
        if (p.protected_record) ++d.protected_records;
        switch (p.type) {
            case ContentType::change_cipher_spec: ++d.change_cipher_spec; break;
            case ContentType::alert: {
                auto a = parse_alert(p.data);
                if (a) d.alerts.push_back(a->description);
                break;
            }
            case ContentType::application_data: d.application_data.insert(d.application_data.end(), p.data.begin(), p.data.end()); break;
            case ContentType::handshake: {
                pending.insert(pending.end(), p.data.begin(), p.data.end());
                while (pending.size() >= 4) {
                    const std::size_t length = std::size_t{pending[1]} << 16 | std::size_t{pending[2]} << 8 | pending[3];
                    if (pending.size() < 4 + length) break;
                    Bytes message(pending.begin(), pending.begin() + static_cast<std::ptrdiff_t>(4 + length));
                    pending.erase(pending.begin(), pending.begin() + static_cast<std::ptrdiff_t>(4 + length));
                    const std::uint8_t type = message[0];
                    d.handshake_messages.push_back(std::move(message));
                    std::error_code ec;
                    if (type == last_plaintext_message) ec = layer.install_read(handshake_secret);
                    else if (type == 20) ec = layer.install_read(application_secret);  // Finished
                    else if (type == 24) {                                             // KeyUpdate
                        ++d.key_updates;
                        ec = layer.update_read_key();
                    }
                    if (ec) {
                        d.error = ec;
                        return d;
                    }
                }
                break;
            }
            default: break;
        }
    }
    return d;
}

/// Lengths of the protected records (outer type application_data) on a recorded stream.
std::vector<std::size_t> protected_lengths(ByteView wire) {
    std::vector<std::size_t> out;
    for (std::size_t at = 0; at + 5 <= wire.size();) {
        const std::size_t length = std::size_t{wire[at + 3]} << 8 | wire[at + 4];
        if (wire[at] == 23) out.push_back(length);
        at += 5 + length;
    }
    return out;
}

const Bytes* find_message(const std::vector<Bytes>& messages, std::uint8_t type) {
    for (const auto& m : messages)
        if (m[0] == type) return &m;
    return nullptr;
}

enum class Client { openssl, gnutls };

/// One connection: `client` -> relay -> `openssl s_server -rev`, with `suite` forced by
/// the server; then everything above is checked from the client's key log.
void check_connection(const test::TempDir& dir, const std::string& key, const std::string& cert, const CipherSuite& suite,
                      Client kind) {
    const std::string name(suite.name);
    const std::string tag = name + (kind == Client::openssl ? "-openssl" : "-gnutls");
    const std::string label = "EXPERIMENTAL tapsec exporter";
    const std::uint16_t server_port = test::free_port();
    const std::uint16_t relay_port = test::free_port();
    const std::string client_keys = dir.file(tag + ".keys");
    test::Process server({"openssl", "s_server", "-accept", "127.0.0.1:" + std::to_string(server_port), "-cert", cert, "-key",
                          key, "-tls1_3", "-ciphersuites", name, "-naccept", "1", "-rev", "-record_padding", "256"},
                         dir.file(tag + "-server.log"));
    REQUIRE_MESSAGE(server.wait_for_output("ACCEPT", 10s), server.output());

    const int listener = listen_on(relay_port);
    REQUIRE(listener >= 0);
    Capture capture;
    std::thread relay_thread(relay, listener, server_port, std::ref(capture), std::chrono::steady_clock::now() + 20s);
    const std::string port = std::to_string(relay_port);
    std::vector<std::string> argv;
    std::string key_update_line, first = kind == Client::openssl ? "hello from s_client\n" : "hello from gnutls-cli\n";
    if (kind == Client::openssl) {
        // s_client treats a line "K" as "send KeyUpdate, ask the peer to update too".
        argv = {"openssl", "s_client", "-connect", "127.0.0.1:" + port, "-tls1_3", "-keylogfile", client_keys,
                "-keymatexport", label, "-keymatexportlen", "40", "-record_padding", "64"};
        key_update_line = "K\n";
    } else {
        argv = {"env", "SSLKEYLOGFILE=" + client_keys, "gnutls-cli", "--insecure", "--port", port, "127.0.0.1", "--priority",
                "NORMAL:-VERS-ALL:+VERS-TLS1.3", "--inline-commands", "--keymatexport", label, "--keymatexportsize", "40"};
        key_update_line = "^rekey^\n";
    }
    test::Process client(argv, dir.file(tag + "-client.log"));
    const bool connected = client.wait_for_output(kind == Client::openssl ? "Verify return code" : "Handshake was completed", 10s);
    // Each line must arrive in its own read for the client to act on it.
    for (const auto& line : {first, key_update_line, std::string("after the key update\n")}) {
        client.write_stdin(line);
        std::this_thread::sleep_for(400ms);
    }
    client.close_stdin();  // end of input: the client closes (close_notify)
    client.wait(10s);
    server.wait(10s);
    relay_thread.join();
    ::close(listener);
    REQUIRE_MESSAGE(connected, client.output());
    REQUIRE(capture.accepted);

    const auto keys = parse_keylog(test::read_file(client_keys));
    for (const char* needed : {"CLIENT_HANDSHAKE_TRAFFIC_SECRET", "SERVER_HANDSHAKE_TRAFFIC_SECRET", "CLIENT_TRAFFIC_SECRET_0",
                               "SERVER_TRAFFIC_SECRET_0", "EXPORTER_SECRET"})
        REQUIRE_MESSAGE(keys.count(needed), "key log lacks " << needed);
    const auto chts = secret_of(suite, keys.at("CLIENT_HANDSHAKE_TRAFFIC_SECRET"));
    const auto shts = secret_of(suite, keys.at("SERVER_HANDSHAKE_TRAFFIC_SECRET"));
    const auto cats = secret_of(suite, keys.at("CLIENT_TRAFFIC_SECRET_0"));
    const auto sats = secret_of(suite, keys.at("SERVER_TRAFFIC_SECRET_0"));

    // Both directions decrypt completely, KeyUpdate included.
    const auto from_client = decrypt(capture.client_to_server, chts, cats, /*ClientHello*/ 1);
    const auto from_server = decrypt(capture.server_to_client, shts, sats, /*ServerHello*/ 2);
    CHECK_MESSAGE(!from_client.error, from_client.error.message());
    CHECK_MESSAGE(!from_server.error, from_server.error.message());
    const std::string client_text(from_client.application_data.begin(), from_client.application_data.end());
    CHECK(client_text == first + "after the key update\n");
    const std::string server_text(from_server.application_data.begin(), from_server.application_data.end());
    std::string reversed_first(first.begin(), first.end() - 1);
    std::reverse(reversed_first.begin(), reversed_first.end());
    CHECK(server_text.find(reversed_first) != std::string::npos);          // -rev echoes reversed lines
    CHECK(server_text.find("etadpu yek eht retfa") != std::string::npos);  // ...also after the KeyUpdate
    CHECK(from_client.key_updates == 1);
    CHECK(from_server.key_updates == 1);  // both clients ask the server to update too
    CHECK(from_client.alerts == std::vector<AlertDescription>{AlertDescription::close_notify});
    CHECK(from_client.protected_records >= 4);
    // OpenSSL padded its records (-record_padding): TLSInnerPlaintext lengths are
    // multiples of the block, so the padding removal above really ran.
    for (std::size_t length : protected_lengths(capture.server_to_client)) CHECK((length - 16) % 256 == 0);
    if (kind == Client::openssl)
        for (std::size_t length : protected_lengths(capture.client_to_server)) CHECK((length - 16) % 64 == 0);

    // The transcript and both Finished messages.
    const Bytes* client_hello = find_message(from_client.handshake_messages, 1);
    const Bytes* client_finished = find_message(from_client.handshake_messages, 20);
    REQUIRE(client_hello);
    REQUIRE(client_finished);
    REQUIRE(from_server.handshake_messages.size() >= 5);
    Transcript<Crypto> transcript(suite.hash);
    transcript.add(*client_hello);
    std::size_t i = 0;
    for (; i < from_server.handshake_messages.size() && from_server.handshake_messages[i][0] != 20; ++i)
        transcript.add(from_server.handshake_messages[i]);  // ServerHello .. CertificateVerify
    REQUIRE(i < from_server.handshake_messages.size());
    const Bytes& server_finished = from_server.handshake_messages[i];
    CHECK(verify_finished<Crypto>(shts, transcript.current_hash(), ByteView(server_finished).subspan(4)));
    Bytes corrupted = server_finished;
    corrupted.back() ^= 1;
    CHECK_FALSE(verify_finished<Crypto>(shts, transcript.current_hash(), ByteView(corrupted).subspan(4)));
    transcript.add(server_finished);
    CHECK(verify_finished<Crypto>(chts, transcript.current_hash(), ByteView(*client_finished).subspan(4)));

    // The exporter: what the client printed for its keying-material export.
    const std::string log = client.output();
    const std::string marker = kind == Client::openssl ? "Keying material: " : "Key material: ";
    const auto at = log.find(marker);
    REQUIRE_MESSAGE(at != std::string::npos, log);
    const std::string printed = log.substr(at + marker.size(), 80);
    const Bytes& exporter_secret = keys.at("EXPORTER_SECRET");
    const ExporterMasterSecret ems{&suite, SecretBytes(exporter_secret.begin(), exporter_secret.end())};
    CHECK(to_hex(export_keying_material<Crypto>(ems, label, {}, 40)) == to_hex(from_hex(printed)));
}


TEST_CASE("tls13 crypto layer decrypts and verifies OpenSSL and GnuTLS TLS 1.3 connections") {
    REQUIRE_MESSAGE(test::have_program("openssl"), "openssl (Debian package openssl) is not installed: cannot run this interop test");
    REQUIRE_MESSAGE(test::have_program("gnutls-cli"), "gnutls-cli (Debian package gnutls-bin) is not installed: cannot run this interop test");
    test::TempDir dir;
    const std::string key = dir.file("server.key"), cert = dir.file("server.crt");
    REQUIRE(test::run("openssl genpkey -algorithm ed25519 -out " + key + " >/dev/null 2>&1") == 0);
    REQUIRE(test::run("openssl req -new -x509 -key " + key + " -out " + cert + " -days 30 -subj /CN=localhost >/dev/null 2>&1") == 0);
    for (const CipherSuite* suite : all_cipher_suites) {
        for (Client kind : {Client::openssl, Client::gnutls}) {
            CAPTURE(suite->name);
            CAPTURE(kind == Client::openssl ? "openssl s_client" : "gnutls-cli");
            check_connection(dir, key, cert, *suite, kind);
        }
    }
}

}  // namespace tls13_record_peers_test
