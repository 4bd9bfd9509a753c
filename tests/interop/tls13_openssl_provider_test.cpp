// The crypto provider is real: Secure<Tls13Handshake, AeadRecord, Tcp, crypto::OpenSsl3>
// runs a whole connection against `openssl s_server`, and OpenSSL's AEAD does the record
// work. The proof is a counting provider (the test's own: it derives from OpenSsl3 and
// forwards every AEAD call to OpenSsl3::Aead, counting seal and open) and a transport
// that counts the protected records (outer type application_data, RFC 8446 5.2) in each
// direction of the byte stream. Every protected record we sent was sealed by OpenSSL,
// every one we received was opened by it: the counts must match exactly.
#include <doctest/doctest.h>

#include <atomic>

#include <tapsec/crypto/openssl.hpp>
#include <tapsec/tapsec.hpp>
#include <tapsec/transport/tcp.hpp>

#include "support/pki.hpp"
#include "support/process.hpp"

using namespace tapsec;

namespace tls13_openssl_provider_test {

struct AeadCalls {
    std::atomic<std::uint64_t> seal{0}, open{0};
    void reset() { seal = 0, open = 0; }
};
AeadCalls aead_calls;

/// OpenSSL 3 with its AEAD calls counted; everything else is OpenSsl3's.
struct CountingOpenSsl3 : crypto::OpenSsl3 {
    static constexpr std::string_view name = "OpenSSL 3, AEAD calls counted (test)";

    class Aead {
    public:
        static Result<Aead> create(crypto::AeadAlgorithm alg, ByteView key) {
            auto inner = crypto::OpenSsl3::Aead::create(alg, key);
            if (!inner) return inner.error();
            return Aead(std::move(*inner));
        }
        crypto::AeadAlgorithm algorithm() const noexcept { return inner_.algorithm(); }
        void seal_in_place(ByteView nonce, ByteView aad, MutableByteView text, MutableByteView tag) const {
            ++aead_calls.seal;
            inner_.seal_in_place(nonce, aad, text, tag);
        }
        bool open_in_place(ByteView nonce, ByteView aad, MutableByteView text, ByteView tag) const {
            ++aead_calls.open;
            return inner_.open_in_place(nonce, aad, text, tag);
        }
        // Buffer forms (session tickets, cookies): not record work, forwarded uncounted.
        void seal(ByteView nonce, ByteView aad, Bytes& buffer, std::size_t offset = 0) const {
            inner_.seal(nonce, aad, buffer, offset);
        }
        bool open(ByteView nonce, ByteView aad, Bytes& buffer, std::size_t offset = 0) const {
            return inner_.open(nonce, aad, buffer, offset);
        }

    private:
        explicit Aead(crypto::OpenSsl3::Aead inner) : inner_(std::move(inner)) {}
        crypto::OpenSsl3::Aead inner_;
    };
};
static_assert(crypto::PkiProvider<CountingOpenSsl3>);

/// Counts the TLS records of one direction of a byte stream from their 5-byte headers.
class RecordCounter {
public:
    void add(ByteView bytes) {
        for (std::size_t i = 0; i < bytes.size();) {
            if (remaining_ == 0 && have_ < 5) {
                header_[have_++] = bytes[i++];
                if (have_ == 5) {
                    remaining_ = std::size_t{header_[3]} << 8 | header_[4];
                    if (header_[0] == 23) ++protected_records_;
                    if (remaining_ == 0) have_ = 0;
                }
                continue;
            }
            const std::size_t take = std::min(remaining_, bytes.size() - i);
            i += take;
            remaining_ -= take;
            if (remaining_ == 0) have_ = 0;
        }
    }
    std::uint64_t protected_records() const { return protected_records_; }
    bool at_record_boundary() const { return have_ == 0 && remaining_ == 0; }

private:
    std::uint8_t header_[5]{};
    std::size_t have_ = 0, remaining_ = 0;
    std::uint64_t protected_records_ = 0;
};

struct Wire {
    RecordCounter sent, received;
};

/// Tcp, with the records crossing it counted.
class CountingTcp {
public:
    static constexpr std::string_view name = "TCP (records counted)";
    using offers = Tcp::offers;
    using provides = Tcp::provides;

    CountingTcp(Tcp tcp, std::shared_ptr<Wire> wire) : tcp_(std::move(tcp)), wire_(std::move(wire)) {}
    Result<std::size_t> read_some(MutableByteView out, Instant deadline) {
        auto n = tcp_.read_some(out, deadline);
        if (n) wire_->received.add(ByteView(out.data(), *n));
        return n;
    }
    std::error_code write_all(ByteView data) {
        wire_->sent.add(data);
        return tcp_.write_all(data);
    }
    void close() { tcp_.close(); }
    Endpoint peer_endpoint() const { return tcp_.peer_endpoint(); }

private:
    Tcp tcp_;
    std::shared_ptr<Wire> wire_;
};

using OverOpenSsl = Secure<Tls13Handshake, AeadRecord, CountingTcp, CountingOpenSsl3>;

std::string text(const Bytes& b) { return std::string(b.begin(), b.end()); }


TEST_CASE("tls13 over the OpenSSL 3 provider against openssl s_server: OpenSSL's AEAD sealed and opened every record") {
    REQUIRE_MESSAGE(test::have_program("openssl"), "openssl is not installed");
    test::TestPki pki;
    REQUIRE(pki.ok());
    const auto cert = pki.issue("p256", test::KeyType::ecdsa_p256);
    for (const char* suite : {"TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256"}) {
        CAPTURE(suite);
        const auto port = test::free_port();
        test::Process server({"openssl", "s_server", "-accept", "127.0.0.1:" + std::to_string(port), "-cert",
                              cert.certificate, "-key", cert.key, "-tls1_3", "-ciphersuites", suite, "-naccept", "1", "-rev"},
                             pki.directory() + "/s_server-" + std::string(suite) + ".log");
        REQUIRE_MESSAGE(server.wait_for_output("ACCEPT"), server.output());

        tls13::Config config;
        config.trust.ca_certificates_pem = {pki.ca().certificate_pem()};
        config.server_name = "localhost";
        auto tcp = Tcp::connect("127.0.0.1", port);
        REQUIRE(tcp.ok());
        auto wire = std::make_shared<Wire>();
        aead_calls.reset();
        OverOpenSsl client(Role::client, config, CountingTcp(std::move(*tcp), wire));
        const auto handshake = client.handshake();
        REQUIRE_MESSAGE(!handshake, (handshake.message() + "\n" + server.output()));
        CHECK(client.info().cipher_suite == suite);
        CHECK(client.peer().authenticated);

        // A few lines, each coming back reversed (-rev).
        for (const std::string line : {"openssl did this\n", "and this\n", "and this too\n"}) {
            REQUIRE_FALSE(client.send(as_bytes(line)));
            const std::string expected(line.rbegin() + 1, line.rend());
            std::string got;
            while (got.find(expected) == std::string::npos) {
                auto m = client.receive_message(std::chrono::seconds(5));
                REQUIRE_MESSAGE(m.ok(), m.error().message());
                REQUIRE_FALSE(m->empty());
                got += text(*m);
            }
        }
        // Clean close: our close_notify, s_server's answer.
        CHECK_FALSE(client.close());
        auto end = client.receive_message(std::chrono::seconds(5));
        REQUIRE_MESSAGE(end.ok(), end.error().message());
        CHECK(end->empty());

        CHECK(wire->sent.at_record_boundary());
        CHECK(wire->received.at_record_boundary());
        // Sent: Finished, three lines, close_notify; received: EncryptedExtensions ..
        // Finished, tickets, three lines, close_notify (however the peer groups them).
        CHECK(wire->sent.protected_records() >= 5);
        CHECK(wire->received.protected_records() >= 5);
        CHECK(aead_calls.seal.load() == wire->sent.protected_records());
        CHECK(aead_calls.open.load() == wire->received.protected_records());
        server.wait(std::chrono::seconds(5));
    }
}

}  // namespace tls13_openssl_provider_test
