// An IKEv2 initiator and responder joined in memory, for the engine tests
// (ikev2_test, ikev2_suites_test, ikev2_certificates_test, ikev2_eap_test): a clock the
// test steps, every datagram kept, an `on_wire` hook that may rewrite or lose one, and
// the inner ping/pong that proves the Child SA carries traffic.
#pragma once

#include <doctest/doctest.h>

#include <functional>
#include <memory>
#include <vector>

#include <tapsec/ikev2.hpp>

#include "ikev2_ip.hpp"

namespace ikev2_test {

using namespace std::chrono_literals;

/// A PSK configuration between two identities, with its traffic selectors.
inline tapsec::ikev2::Config psk_config(const char* local, const char* remote, const char* local_ts, const char* remote_ts) {
    tapsec::ikev2::Config c;
    c.local_id = *tapsec::ikev2::Identification::parse(local);
    c.remote_id = *tapsec::ikev2::Identification::parse(remote);
    const std::string secret = "a pre-shared key of some length";
    c.pre_shared_keys.push_back({remote, tapsec::SecretBytes(secret.begin(), secret.end())});
    c.local_ts = *tapsec::ikev2::parse_selector(local_ts);
    c.remote_ts = *tapsec::ikev2::parse_selector(remote_ts);
    return c;
}

/// The initiator's selectors (10.200.2.1 to 10.200.1.0/24) and the responder's, mirrored.
inline tapsec::ikev2::Config with_selectors(tapsec::ikev2::Config c, tapsec::Role role) {
    const bool initiator = role == tapsec::Role::client;
    c.local_ts = *tapsec::ikev2::parse_selector(initiator ? "10.200.2.1/32" : "10.200.1.1/32");
    c.remote_ts = *tapsec::ikev2::parse_selector(initiator ? "10.200.1.0/24" : "10.200.2.0/24");
    return c;
}

template <class ICrypto = tapsec::crypto::Botan2, class RCrypto = ICrypto>
struct EnginePair {
    std::unique_ptr<tapsec::ikev2::Engine<ICrypto>> i;
    std::unique_ptr<tapsec::ikev2::Engine<RCrypto>> r;
    tapsec::Endpoint i_ep = *tapsec::Endpoint::parse("192.0.2.1:4500"), r_ep = *tapsec::Endpoint::parse("192.0.2.2:4500");
    tapsec::Instant now = tapsec::Instant{} + 100s;
    std::vector<tapsec::Bytes> i_to_r, r_to_i;  // every datagram sent, before on_wire
    std::size_t largest_datagram = 0;
    std::function<bool(tapsec::Bytes&, bool from_initiator)> on_wire;  // may rewrite; false: lose it
    std::error_code r_refusal;                                          // the responder's first receive() error

    void make(const tapsec::ikev2::Config& initiator, const tapsec::ikev2::Config& responder) {
        i = std::make_unique<tapsec::ikev2::Engine<ICrypto>>(tapsec::Role::client, initiator);
        r = std::make_unique<tapsec::ikev2::Engine<RCrypto>>(tapsec::Role::server, responder);
    }

    /// Moves datagrams until neither side has any to send.
    void pump() {
        tapsec::Bytes buffer(tapsec::max_transmit_size);
        for (int round = 0; round < 50; ++round) {
            bool moved = false;
            while (auto t = i->poll_transmit(tapsec::MutableByteView(buffer))) {
                tapsec::Bytes d = take(buffer, t->size, i_to_r);
                if (!on_wire || on_wire(d, true))
                    if (auto ec = r->receive(d, i_ep, now); ec && !r_refusal) r_refusal = ec;
                moved = true;
            }
            while (auto t = r->poll_transmit(tapsec::MutableByteView(buffer))) {
                tapsec::Bytes d = take(buffer, t->size, r_to_i);
                if (!on_wire || on_wire(d, false)) (void)i->receive(d, r_ep, now);
                moved = true;
            }
            if (!moved) return;
        }
    }
    bool connect() {
        REQUIRE(!i->start(now));
        pump();
        return i->is_established() && r->is_established();
    }
    /// One inner packet each way through the Child SA.
    void ping_pong() {
        REQUIRE(!i->send(udp_packet(ipv4("10.200.2.1"), ipv4("10.200.1.1"), 5000, 7, tapsec::as_bytes("ping")), now));
        pump();
        auto got = r->poll_plaintext();
        REQUIRE(got);
        CHECK(udp_payload(*got) == "ping");
        REQUIRE(!r->send(udp_packet(ipv4("10.200.1.1"), ipv4("10.200.2.1"), 7, 5000, tapsec::as_bytes("pong")), now));
        pump();
        got = i->poll_plaintext();
        REQUIRE(got);
        CHECK(udp_payload(*got) == "pong");
    }
    /// IKE_AUTH requests the initiator sent (after the non-ESP marker, the exchange type is octet 18).
    std::size_t ike_auth_requests() const {
        std::size_t n = 0;
        for (const auto& d : i_to_r)
            if (d.size() > 4 + 18 && d[4 + 18] == static_cast<std::uint8_t>(tapsec::ikev2::ExchangeType::ike_auth)) ++n;
        return n;
    }

private:
    tapsec::Bytes take(const tapsec::Bytes& buffer, std::size_t size, std::vector<tapsec::Bytes>& log) {
        largest_datagram = std::max(largest_datagram, size);
        tapsec::Bytes d(buffer.begin(), buffer.begin() + static_cast<std::ptrdiff_t>(size));
        log.push_back(d);
        return d;
    }
};

}  // namespace ikev2_test
