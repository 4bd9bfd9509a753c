// Clients for the concurrent `tapsec listen tls13` tests: a running listener on a free
// loopback port with a throwaway certificate, tapsec's blocking TLS 1.3 client for it,
// and raw TCP connections that send nothing (or a given prefix) and notice their close.
#pragma once

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include <tapsec/tapsec.hpp>

#include "support/command_fixture.hpp"
#include "support/process.hpp"

namespace tapsec::test {

struct ListenFixture : CommandPki {
    using Client = Secure<Tls13Handshake, AeadRecord, Tcp>;
    std::uint16_t port = free_port();

    /// `tapsec listen tls13 127.0.0.1:PORT --cert --key EXTRA...`
    std::unique_ptr<Process> listen(std::vector<std::string> extra) {
        std::vector<std::string> argv{TAPSEC_TOOL_PATH, "listen", "tls13", "127.0.0.1:" + std::to_string(port),
                                      "--cert", cert.certificate, "--key", cert.key};
        argv.insert(argv.end(), extra.begin(), extra.end());
        return std::make_unique<Process>(argv, log("listen"));
    }
    std::vector<std::string> connect_command() const {
        return {TAPSEC_TOOL_PATH, "connect", "tls13", "127.0.0.1:" + std::to_string(port), "--servername", "localhost",
                "--CAfile", pki.ca().certificate};
    }
    /// An established TLS 1.3 client (handshake bounded by 10 s).
    Result<Client> client() {
        tls13::Config config;
        config.server_name = "localhost";
        config.trust.ca_certificates_pem = {read_file(pki.ca().certificate)};
        config.handshake_timeout = std::chrono::seconds(10);
        auto tcp = Tcp::connect("127.0.0.1", port);
        if (!tcp) return tcp.error();
        Client c(Role::client, config, std::move(*tcp));
        if (auto ec = c.handshake()) return ec;
        return c;
    }
};

/// One line (without its "\n") from `client`, each read bounded by 10 s.
template <class C>
Result<std::string> read_line(C& client) {
    std::string line;
    std::array<std::uint8_t, 1> byte;
    for (;;) {
        auto got = client.receive(byte, std::chrono::seconds(10));
        if (!got) return got.error();
        if (*got == 0) return make_error_code(Errc::closed);  // the peer's clean close before the line
        if (byte[0] == '\n') return line;
        line.push_back(static_cast<char>(byte[0]));
    }
}

/// A plain TCP connection to the listener that sends `prefix` (maybe nothing), then idles.
class RawConnection {
public:
    explicit RawConnection(std::uint16_t port, const std::string& prefix = {}) {
        fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in address{};
        address.sin_family = AF_INET;
        address.sin_port = htons(port);
        address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
            ::close(fd_);
            fd_ = -1;
            return;
        }
        if (!prefix.empty() && ::send(fd_, prefix.data(), prefix.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(prefix.size())) {
            ::close(fd_);
            fd_ = -1;
        }
    }
    ~RawConnection() {
        if (fd_ >= 0) ::close(fd_);
    }
    RawConnection(const RawConnection&) = delete;
    RawConnection& operator=(const RawConnection&) = delete;
    bool ok() const { return fd_ >= 0; }

    /// True once the server closed the connection (end of stream or reset), within `limit`;
    /// whatever the server sent before (an alert) is read and dropped.
    bool wait_closed(std::chrono::milliseconds limit) {
        const auto deadline = std::chrono::steady_clock::now() + limit;
        char buffer[512];
        while (fd_ >= 0) {
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
            if (left.count() <= 0) return false;
            pollfd p{fd_, POLLIN, 0};
            if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
            const ssize_t n = ::recv(fd_, buffer, sizeof buffer, 0);
            if (n <= 0) return true;
        }
        return false;
    }

private:
    int fd_ = -1;
};

}  // namespace tapsec::test
