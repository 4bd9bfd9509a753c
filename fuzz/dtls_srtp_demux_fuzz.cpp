// libFuzzer target: what a DTLS-SRTP endpoint does with an arbitrary datagram from
// the network: the RFC 7983 demultiplexer, then the engine (DTLS through the Botan
// adapter, or SRTP/SRTCP unprotect). Anything may be refused; nothing may crash,
// hang, or deliver media: the server has no SRTP keys before a handshake, so any
// RTP/RTCP must be dropped and any DTLS goes to Botan through the adapter's filter.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>

#include <tapsec/botan_tls/credentials.hpp>
#include <tapsec/dtls_srtp/dtls_srtp.hpp>

#include <botan/ec_group.h>
#include <botan/ecdsa.h>
#include <botan/pkcs8.h>
#include <botan/system_rng.h>
#include <botan/x509self.h>

namespace {

const tapsec::botan_tls::Config& server_config() {
    static const tapsec::botan_tls::Config config = [] {
        auto& rng = Botan::system_rng();
        Botan::ECDSA_PrivateKey key(rng, Botan::EC_Group("secp256r1"));
        Botan::X509_Cert_Options options("localhost");
        const auto cert = Botan::X509::create_self_signed_cert(options, key, "SHA-256", rng);
        tapsec::botan_tls::Config c;
        c.identity = tapsec::Identity(cert.PEM_encode(), Botan::PKCS8::PEM_encode(key));
        c.verify_peer = false;
        return c;
    }();
    return config;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const tapsec::ByteView input(data, size);
    (void)tapsec::dtls_srtp::route(input);
    const auto from = *tapsec::Endpoint::parse("127.0.0.1:5000");
    tapsec::dtls_srtp::Engine<tapsec::crypto::DefaultProvider> server(tapsec::Role::server, server_config());
    const auto now = tapsec::Clock::now();
    if (server.start(now)) std::abort();
    (void)server.receive(input, from, now);
    // Unkeyed: nothing may come out as media.
    if (server.poll_application_data()) std::abort();
    while (server.poll_transmit()) {
    }
    return 0;
}
