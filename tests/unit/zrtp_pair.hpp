// Two ZRTP engines relaying datagrams in memory, with a hook that may drop, alter or
// record each datagram in flight. Shared by the ZRTP unit and negative tests.
#pragma once

#include <functional>
#include <optional>

#include <tapsec/zrtp.hpp>

namespace tapsec::test {

using ZrtpEngine = zrtp::Engine<SrtpRecord, crypto::DefaultProvider>;

/// An RTP packet (version 2, PT 0) with the given SSRC, sequence number and payload.
inline Bytes rtp_packet(std::uint32_t ssrc, std::uint16_t sequence, std::string_view payload) {
    Bytes p = {0x80, 0x00, static_cast<std::uint8_t>(sequence >> 8), static_cast<std::uint8_t>(sequence), 0, 0, 0, 160,
               static_cast<std::uint8_t>(ssrc >> 24), static_cast<std::uint8_t>(ssrc >> 16), static_cast<std::uint8_t>(ssrc >> 8),
               static_cast<std::uint8_t>(ssrc)};
    p.insert(p.end(), payload.begin(), payload.end());
    return p;
}

struct ZrtpPair {
    /// Called for each datagram from `from_a` (true: a -> b); return false to drop it.
    using Hook = std::function<bool(bool from_a, Bytes& datagram)>;

    ZrtpEngine a, b;
    Instant now{};
    Hook hook;
    const Endpoint a_ep = *Endpoint::parse("127.0.0.1:5004"), b_ep = *Endpoint::parse("127.0.0.1:5006");

    ZrtpPair(zrtp::Config ca, zrtp::Config cb) : a(Role::client, ca), b(Role::server, cb) {}
    ZrtpPair() : ZrtpPair(zrtp::Config{}, zrtp::Config{}) {}

    void start() {
        (void)a.start(now);
        (void)b.start(now);
    }

    /// Moves every queued datagram across until both sides are quiet.
    void pump(int rounds = 20) {
        for (int i = 0; i < rounds; ++i) {
            bool moved = false;
            while (auto t = a.poll_transmit()) {
                moved = true;
                if (!hook || hook(true, t->data)) (void)b.receive(t->data, a_ep, now);
            }
            while (auto t = b.poll_transmit()) {
                moved = true;
                if (!hook || hook(false, t->data)) (void)a.receive(t->data, b_ep, now);
            }
            if (!moved) return;
        }
    }

    /// Advances time to the next timer of either side and fires it; false when none is set.
    bool tick() {
        std::optional<Instant> t = a.next_timeout();
        if (auto tb = b.next_timeout(); tb && (!t || *tb < *t)) t = tb;
        if (!t) return false;
        now = *t;
        (void)a.on_timeout(now);
        (void)b.on_timeout(now);
        return true;
    }

    /// Pumps and fires timers until both are established (or `max_ticks` timers fired).
    bool run(int max_ticks = 200) {
        pump();
        for (int i = 0; i < max_ticks && !(a.is_established() && b.is_established()); ++i) {
            if (a.is_closed() || b.is_closed()) break;
            if (!tick()) break;
            pump();
        }
        return a.is_established() && b.is_established();
    }
};

}  // namespace tapsec::test
