// Nothing lost on a bad path (issue 16, item 4): the datagram compositions that promise
// delivery carry a transfer through MemoryDatagram with 20% loss, 10% reordering and
// 10% duplication, and the receiver gets every byte, in order, exactly once.
// Which compositions promise it: QUIC streams (RFC 9000 retransmits STREAM frames).
// DTLS 1.2, DTLS-SRTP/SRTP and WireGuard do not (each datagram may be lost, by design:
// tests/unit/dtls12_engine_test.cpp checks DTLS only for its handshake on such a path).
#include <doctest/doctest.h>

#include <future>

#include <tapsec/tapsec.hpp>

#include "support/quic_pair.hpp"

using namespace tapsec;
using namespace std::chrono_literals;

TEST_CASE("QUIC over MemoryDatagram at 20% loss, reordering and duplication delivers every byte of 256 KiB in order") {
    using Quic = Secure<Tls13Handshake, QuicPacketProtection, MemoryDatagram>;
    test::TestPki pki;
    REQUIRE(pki.ok());
    auto configs = test::quic_configs(pki);
    configs.client.handshake_timeout = configs.server.handshake_timeout = 60s;
    constexpr std::size_t total = 256 * 1024, chunk = 1000;
    Bytes payload(total);
    for (std::size_t i = 0; i < total; ++i) payload[i] = static_cast<std::uint8_t>(i * 131 + (i >> 8));

    for (std::uint64_t seed : {1u, 2u}) {
        CAPTURE(seed);
        auto [client_end, server_end] = MemoryDatagram::pair({.loss = 0.2, .reorder = 0.1, .duplicate = 0.1, .seed = seed});
        const auto started = Clock::now();
        auto server_done = std::async(std::launch::async, [&, end = std::move(server_end)]() mutable -> Result<Bytes> {
            Quic server(Role::server, configs.server, std::move(end));
            if (auto ec = server.handshake()) return ec;
            Bytes got;
            Bytes buffer(16384);
            while (got.size() < total) {
                auto n = server.receive(buffer, 30s);
                if (!n) return n.error();
                if (*n == 0) break;  // the client closed early: a short transfer
                got.insert(got.end(), buffer.begin(), buffer.begin() + static_cast<std::ptrdiff_t>(*n));
            }
            if (auto ec = server.send(as_bytes("all here"))) return ec;
            // Keep answering (the acknowledgment may need retransmitting) until the client
            // closes: its CONNECTION_CLOSE, or, when the path lost that, the end of the
            // in-memory transport it closes right after.
            auto end_of_stream = server.receive_message(30s);
            if (!end_of_stream && end_of_stream.error() != make_error_code(Errc::connection_reset)) return end_of_stream.error();
            if (end_of_stream && !end_of_stream->empty()) return make_error_code(Errc::internal_error);  // data after the end
            return got;
        });
        Quic client(Role::client, configs.client, std::move(client_end));
        auto ec = client.handshake();
        REQUIRE_MESSAGE(!ec, ec.message());
        for (std::size_t at = 0; at < total; at += chunk) {
            ec = client.send(ByteView(payload).subspan(at, std::min(chunk, total - at)));
            REQUIRE_MESSAGE(!ec, ec.message());
        }
        auto ack = client.receive_message(60s);
        REQUIRE_MESSAGE(ack, ack.error().message());
        CHECK(std::string(ack->begin(), ack->end()) == "all here");
        client.close();
        auto got = server_done.get();
        REQUIRE_MESSAGE(got, got.error().message());
        CHECK(got->size() == total);
        CHECK(*got == payload);
        MESSAGE("seed " << seed << ": " << total << " bytes in "
                        << std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started).count() << " ms");
    }
}
