// A TLS client for either version, written once against the Section 6 API:
//   tls_client 13|12 HOST PORT CA.pem [SERVER-NAME]
// sends one line, prints what comes back until the server closes.
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include <tapsec/tapsec.hpp>

template <class Composition>
int run(const std::string& host, std::uint16_t port, const std::string& ca_file, const std::string& name) {
    using namespace tapsec;
    std::ifstream in(ca_file);
    std::stringstream ca;
    ca << in.rdbuf();
    typename Composition::Config config;
    config.trust.ca_certificates_pem.push_back(ca.str());
    config.server_name = name;
    auto tcp = Tcp::connect(host, port);
    if (!tcp) return std::fprintf(stderr, "connect: %s\n", tcp.error().message().c_str()), 1;
    Composition connection(Role::client, config, std::move(*tcp));
    if (auto ec = connection.handshake()) return std::fprintf(stderr, "handshake: %s\n", ec.message().c_str()), 1;
    const auto info = connection.info();
    std::fprintf(stderr, "%s %s with %s\n", info.protocol.c_str(), info.cipher_suite.c_str(), info.peer.subject.c_str());
    if (auto ec = connection.send(as_bytes("hello from tapsec\n"))) return std::fprintf(stderr, "send: %s\n", ec.message().c_str()), 1;
    for (;;) {
        auto data = connection.receive_message(std::chrono::seconds(5));
        if (!data) return data.error() == make_error_code(Errc::timed_out) ? 0 : (std::fprintf(stderr, "%s\n", data.error().message().c_str()), 1);
        if (data->empty()) return 0;  // authenticated close
        std::fwrite(data->data(), 1, data->size(), stdout);
    }
}

int main(int argc, char** argv) {
    if (argc < 5) return std::fprintf(stderr, "usage: tls_client 13|12 HOST PORT CA.pem [SERVER-NAME]\n"), 2;
    const std::string version = argv[1], host = argv[2], ca = argv[4], name = argc > 5 ? argv[5] : argv[2];
    const auto port = static_cast<std::uint16_t>(std::stoi(argv[3]));
    if (version == "13") return run<tapsec::Secure<tapsec::Tls13Handshake, tapsec::AeadRecord, tapsec::Tcp>>(host, port, ca, name);
    return run<tapsec::Secure<tapsec::Tls12Handshake, tapsec::Tls12Record, tapsec::Tcp>>(host, port, ca, name);
}
