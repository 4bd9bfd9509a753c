// Two tcpcrypt engines joined in memory: the bytes each writes go to the other, with an
// optional hook that sees (and may rewrite) every chunk on its way, as an on-path
// attacker would. Used by the unit tests and the fuzz-free negative tables.
#pragma once

#include <functional>

#include <tapsec/tcpcrypt.hpp>

namespace test {

using TcpcryptEngine = tapsec::tcpcrypt::Engine<tapsec::TcpcryptRecord, tapsec::crypto::Botan2>;

/// A deterministic random source (a counter through SHA-256), so that tests can know
/// the scalars and nonces an engine draws.
struct SeededRandom {
    std::uint8_t seed;
    std::uint32_t counter = 0;
    void operator()(tapsec::MutableByteView out) {
        std::size_t done = 0;
        while (done < out.size()) {
            tapsec::Bytes input{seed, static_cast<std::uint8_t>(counter >> 24), static_cast<std::uint8_t>(counter >> 16),
                                static_cast<std::uint8_t>(counter >> 8), static_cast<std::uint8_t>(counter)};
            ++counter;
            auto block = tapsec::crypto::Botan2::hash(tapsec::crypto::HashAlgorithm::sha256, input);
            const std::size_t n = std::min(block.size(), out.size() - done);
            std::copy_n(block.begin(), n, out.begin() + static_cast<std::ptrdiff_t>(done));
            done += n;
        }
    }
};

struct TcpcryptPair {
    TcpcryptEngine client, server;
    /// Called on every chunk from `from_client` (true) or the server; may change it.
    std::function<void(bool from_client, tapsec::Bytes& chunk)> on_wire;
    tapsec::Bytes client_to_server, server_to_client;  // everything sent, as sent
    bool byte_at_a_time = false;  // deliver each chunk one byte per receive() (TCP may split anywhere)
    std::error_code client_error, server_error;

    TcpcryptPair(const tapsec::tcpcrypt::Config& c, const tapsec::tcpcrypt::Config& s)
        : client(tapsec::Role::client, c), server(tapsec::Role::server, s) {}

    /// Moves bytes until neither side has anything to send (or one fails).
    void pump() {
        const auto now = tapsec::Clock::now();
        for (int round = 0; round < 64; ++round) {
            bool moved = false;
            moved |= move(client, server, true, now);
            moved |= move(server, client, false, now);
            if (!moved || client_error || server_error) return;
        }
    }
    bool start() {
        client_error = client.start(tapsec::Clock::now());
        server_error = server.start(tapsec::Clock::now());
        pump();
        return !client_error && !server_error && client.is_established() && server.is_established();
    }
    static tapsec::Bytes drain_plaintext(TcpcryptEngine& e) {
        tapsec::Bytes out;
        while (auto v = e.poll_plaintext()) out.insert(out.end(), v->begin(), v->end());
        return out;
    }

private:
    bool move(TcpcryptEngine& from, TcpcryptEngine& to, bool from_client, tapsec::Instant now) {
        bool moved = false;
        tapsec::Bytes buffer(tapsec::max_transmit_size);
        while (auto t = from.poll_transmit(tapsec::MutableByteView(buffer))) {
            tapsec::Bytes chunk(buffer.begin(), buffer.begin() + static_cast<std::ptrdiff_t>(t->size));
            auto& log = from_client ? client_to_server : server_to_client;
            log.insert(log.end(), chunk.begin(), chunk.end());
            if (on_wire) on_wire(from_client, chunk);
            moved = true;
            if (chunk.empty()) continue;
            std::error_code ec;
            if (byte_at_a_time) {
                for (std::size_t i = 0; i < chunk.size() && !ec; ++i)
                    ec = to.receive(tapsec::ByteView(chunk.data() + i, 1), tapsec::Endpoint{}, now);
            } else {
                ec = to.receive(chunk, tapsec::Endpoint{}, now);
            }
            if (ec) (from_client ? server_error : client_error) = ec;
        }
        return moved;
    }
};

}  // namespace test
