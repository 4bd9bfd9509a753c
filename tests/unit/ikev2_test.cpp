// IKEv2 + ESP engine tests: an initiator and a responder joined in memory with a clock
// the test steps. Covers IKE_SA_INIT / IKE_AUTH / the Child SA for each group and
// cipher, cookies, INVALID_KE_PAYLOAD, inner packets both ways, the clean delete,
// retransmission (and the cached answer to a repeated request), and every refusal:
// wrong PSK, proposal and selector mismatches, tampered, truncated, replayed and
// misaddressed input, each a named error code. IKE fragmentation (RFC 7383): IKE_AUTH
// in SKF fragments both ways, out of order, lost, tampered, duplicated and retransmitted,
// and the reassembly's refusals (table-driven).
#include <doctest/doctest.h>

#include <algorithm>
#include <functional>
#include <optional>

#include <tapsec/ikev2.hpp>

#include "support/ikev2_ip.hpp"
#include "support/ikev2_pair.hpp"

using namespace tapsec;
using namespace tapsec::ikev2;
using namespace std::chrono_literals;
using IkeEngine = ikev2::Engine<crypto::Botan2>;
using ikev2_test::ipv4;
using ikev2_test::udp_packet;
using ikev2_test::udp_payload;

namespace ikev2_unit_test {

using ikev2_test::psk_config;

struct Pair : ikev2_test::EnginePair<> {
    Config i_config = psk_config("a@test", "b.test", "10.200.2.1/32", "10.200.1.0/24");
    Config r_config = psk_config("b.test", "a@test", "10.200.1.1/32", "10.200.2.0/24");

    explicit Pair(std::function<void(Config&, Config&)> adjust = {}) {
        if (adjust) adjust(i_config, r_config);
        make(i_config, r_config);
    }
    /// The reason of the first dropped_packet event, if any.
    static std::error_code drop_reason(IkeEngine& e) {
        while (auto ev = e.poll_event())
            if (ev->kind == EventKind::dropped_packet) return ev->reason;
        return {};
    }
};

Bytes marker_stripped(const Bytes& d) { return Bytes(d.begin() + 4, d.end()); }

/// An SKF datagram (after the non-ESP marker, the header's Next Payload is octet 16) and
/// its Fragment Number (after the IKE header and the SKF generic header).
bool is_fragment(const Bytes& d) { return d.size() > 4 + 32 && d[4 + 16] == static_cast<std::uint8_t>(PayloadType::skf); }
unsigned fragment_number(const Bytes& d) { return unsigned{d[4 + 32]} << 8 | d[4 + 33]; }

/// Both sides fragment what exceeds `size` octets of IP datagram (a PSK IKE_AUTH is ~300).
auto fragment_at(std::size_t size, std::optional<IkeCipher> cipher = std::nullopt) {
    return [=](Config& i, Config& r) {
        i.fragment_size = r.fragment_size = size;
        if (cipher) i.ike_ciphers = r.ike_ciphers = {*cipher};
    };
}

}  // namespace ikev2_unit_test

using namespace ikev2_unit_test;

TEST_CASE("ikev2: initiator and responder establish an IKE SA and a Child SA for every group and cipher") {
    for (auto group : {Group::curve25519, Group::ecp_256})
        for (auto cipher : {IkeCipher::aes_128_gcm_16, IkeCipher::aes_256_gcm_16, IkeCipher::chacha20_poly1305})
            for (auto esp_cipher : {esp::Algorithm::aes_128_gcm_16, esp::Algorithm::aes_256_gcm_16, esp::Algorithm::chacha20_poly1305}) {
                CAPTURE(static_cast<int>(group));
                Pair p([&](Config& i, Config& r) {
                    i.groups = r.groups = {group};
                    i.ike_ciphers = r.ike_ciphers = {cipher};
                    i.esp_ciphers = r.esp_ciphers = {esp_cipher};
                });
                REQUIRE(p.connect());
                CHECK(p.i->session_info().group == (group == Group::curve25519 ? "curve25519" : "ecp256"));
                CHECK(p.i->session_info().cipher_suite == p.r->session_info().cipher_suite);
                CHECK(p.r->session_info().peer.psk_identity == "a@test");
                CHECK(p.i->session_info().peer.authenticated);
                // Narrowing: the initiator asked for 10.200.1.0/24, the responder offers one address.
                CHECK(to_string(p.i->remote_selector()) == "10.200.1.1-10.200.1.1");
                CHECK(to_string(p.r->remote_selector()) == "10.200.2.1-10.200.2.1");
                // Inner packets both ways.
                const Bytes out = udp_packet(ipv4("10.200.2.1"), ipv4("10.200.1.1"), 5000, 7, as_bytes("ping"));
                REQUIRE(!p.i->send(out, p.now));
                p.pump();
                auto got = p.r->poll_plaintext();
                REQUIRE(got);
                CHECK(udp_payload(*got) == "ping");
                const Bytes back = udp_packet(ipv4("10.200.1.1"), ipv4("10.200.2.1"), 7, 5000, as_bytes("pong"));
                REQUIRE(!p.r->send(back, p.now));
                p.pump();
                got = p.i->poll_plaintext();
                REQUIRE(got);
                CHECK(udp_payload(*got) == "pong");
                // A clean close: the delete is answered and both sides are closed.
                REQUIRE(!p.i->close(p.now));
                p.pump();
                CHECK(p.i->is_closed());
                CHECK(p.r->is_closed());
                CHECK(!p.i->failure());
                CHECK(!p.r->failure());
            }
}

TEST_CASE("ikev2: either side rekeys the Child SA, with and without PFS, and traffic moves to the new SAs") {
    for (bool pfs : {true, false})
        for (bool initiator_rekeys : {true, false}) {
            CAPTURE(pfs);
            CAPTURE(initiator_rekeys);
            Pair p([&](Config& i, Config& r) { i.rekey_pfs = r.rekey_pfs = pfs; });
            REQUIRE(p.connect());
            IkeEngine& rekeyer = initiator_rekeys ? *p.i : *p.r;
            IkeEngine& other = initiator_rekeys ? *p.r : *p.i;
            const auto old_i = p.i->inbound_spi(), old_r = p.r->inbound_spi();
            // A packet sealed under the old SA, delivered after the rekey (reordering).
            REQUIRE(!p.i->send(udp_packet(ipv4("10.200.2.1"), ipv4("10.200.1.1"), 1, 2, as_bytes("late")), p.now));
            Bytes buffer(max_transmit_size);
            auto t = p.i->poll_transmit(MutableByteView(buffer));
            REQUIRE(t);
            const Bytes late(buffer.begin(), buffer.begin() + static_cast<std::ptrdiff_t>(t->size));
            REQUIRE(!rekeyer.rekey_child(p.now));
            CHECK(rekeyer.rekey_child(p.now));  // one exchange at a time
            p.pump();
            CHECK(rekeyer.child_rekeys() == 1);
            CHECK(other.child_rekeys() == 1);
            CHECK(p.i->inbound_spi() != old_i);
            CHECK(p.r->inbound_spi() != old_r);
            bool updated = false;
            while (auto e = other.poll_event()) updated = updated || e->kind == EventKind::key_updated;
            CHECK(updated);
            // The old SA is deleted on both sides: the late packet is refused by SPI.
            CHECK(!p.r->receive(late, p.i_ep, p.now));
            CHECK(Pair::drop_reason(*p.r) == esp::Error::unknown_spi);
            for (int round = 0; round < 2; ++round) {
                REQUIRE(!p.i->send(udp_packet(ipv4("10.200.2.1"), ipv4("10.200.1.1"), 1, 2, as_bytes("new i")), p.now));
                REQUIRE(!p.r->send(udp_packet(ipv4("10.200.1.1"), ipv4("10.200.2.1"), 2, 1, as_bytes("new r")), p.now));
                p.pump();
                auto at_r = p.r->poll_plaintext();
                REQUIRE(at_r);
                CHECK(udp_payload(*at_r) == "new i");
                auto at_i = p.i->poll_plaintext();
                REQUIRE(at_i);
                CHECK(udp_payload(*at_i) == "new r");
            }
            CHECK(p.i->is_established());
            CHECK(p.r->is_established());
        }
}

TEST_CASE("ikev2: the responder closes cleanly too, and ESN is negotiated when preferred") {
    Pair p([](Config&, Config& r) { r.prefer_esn = true; });
    REQUIRE(p.connect());
    CHECK(p.i->session_info().cipher_suite.find("/ESN") != std::string::npos);
    REQUIRE(!p.r->close(p.now));
    p.pump();
    CHECK(p.r->is_closed());
    CHECK(p.i->is_closed());
    bool peer_closed = false;
    while (auto e = p.i->poll_event()) peer_closed = peer_closed || e->kind == EventKind::peer_closed;
    CHECK(peer_closed);
}

TEST_CASE("ikev2: a responder that demands cookies gets them, and INVALID_KE_PAYLOAD names the group") {
    SUBCASE("cookie") {
        Pair p([](Config&, Config& r) { r.source_validation = CommonConfig::SourceValidation::always; });
        REQUIRE(p.connect());
        CHECK(p.r->statistics().cookies_sent == 1);
        // The first answer carried only N(COOKIE); the retried request echoes it first.
        auto answer = parse_message(marker_stripped(p.r_to_i.front()));
        REQUIRE(answer);
        CHECK(answer->payloads.size() == 1);
        CHECK(find_notify(answer->payloads, NotifyType::cookie));
        auto retry = parse_message(marker_stripped(p.i_to_r.at(1)));
        REQUIRE(retry);
        CHECK(retry->payloads.front().type == PayloadType::notify);
        CHECK(find_notify(retry->payloads, NotifyType::cookie)->data == find_notify(answer->payloads, NotifyType::cookie)->data);
    }
    SUBCASE("a forged cookie is refused") {
        Pair p([](Config&, Config& r) { r.source_validation = CommonConfig::SourceValidation::always; });
        p.on_wire = [](Bytes& d, bool from_i) {
            if (from_i && d.size() > 60) {
                auto m = parse_message(marker_stripped(d));
                if (m && find_notify(m->payloads, NotifyType::cookie)) d[4 + 28 + 8 + 5] ^= 1;  // inside the cookie data
            }
            return true;
        };
        REQUIRE(!p.i->start(p.now));
        p.pump();
        CHECK(!p.r->is_established());
        CHECK(Pair::drop_reason(*p.r) == Error::invalid_cookie);
    }
    SUBCASE("INVALID_KE_PAYLOAD") {
        Pair p([](Config& i, Config& r) {
            i.groups = {Group::ecp_256, Group::curve25519};
            r.groups = {Group::curve25519};
        });
        REQUIRE(p.connect());
        CHECK(p.i->session_info().group == "curve25519");
        auto answer = parse_message(marker_stripped(p.r_to_i.front()));
        REQUIRE(answer);
        auto hint = find_notify(answer->payloads, NotifyType::invalid_ke_payload);
        REQUIRE(hint);
        CHECK(hint->data == Bytes{0, 31});
    }
}

TEST_CASE("ikev2: a lost response is retransmitted with back-off and the repeat answered from the cache") {
    Pair p;
    int lost = 0;
    p.on_wire = [&](Bytes&, bool from_i) {
        // Lose the responder's first IKE_AUTH answer (the second message it sends).
        if (!from_i && p.r_to_i.size() == 2 && lost == 0) return ++lost, false;
        return true;
    };
    REQUIRE(!p.i->start(p.now));
    p.pump();
    CHECK(p.r->is_established());
    CHECK(!p.i->is_established());
    auto t = p.i->next_timeout();
    REQUIRE(t);
    CHECK(*t - p.now == 500ms);
    p.now = *t;
    REQUIRE(!p.i->on_timeout(p.now));
    p.pump();
    CHECK(p.i->is_established());
    CHECK(p.r->statistics().responses_resent == 1);
    CHECK(p.i->statistics().retransmissions == 1);
}

TEST_CASE("ikev2: an unanswered request times out after the configured retransmissions") {
    Pair p([](Config& i, Config&) { i.retransmit_tries = 3; });
    REQUIRE(!p.i->start(p.now));
    std::vector<std::chrono::milliseconds> gaps;
    Instant last = p.now;
    while (auto t = p.i->next_timeout()) {
        gaps.push_back(std::chrono::duration_cast<std::chrono::milliseconds>(*t - last));
        last = p.now = *t;
        (void)p.i->on_timeout(p.now);
    }
    CHECK(gaps == std::vector<std::chrono::milliseconds>{500ms, 1000ms, 2000ms, 4000ms});
    CHECK(p.i->is_closed());
    CHECK(p.i->failure() == Error::retransmission_timeout);
    CHECK(p.i->failure() == condition::timed_out);
}

TEST_CASE("ikev2: refusals are named (table-driven)") {
    struct Case {
        const char* name;
        std::function<void(Config&, Config&)> adjust;
        std::error_code initiator, responder;
    };
    const std::vector<Case> cases{
        {"wrong PSK", [](Config& i, Config&) { i.pre_shared_keys.front().key = SecretBytes(20, 1); },
         make_error_code(Error::authentication_failed), make_error_code(Error::authentication_failed)},
        {"responder's identity not the expected one", [](Config& i, Config&) { i.remote_id = *Identification::parse("c.test"); i.pre_shared_keys.front().identity = "c.test"; },
         make_error_code(Error::authentication_failed), make_error_code(Error::identity_mismatch)},
        {"no common IKE cipher", [](Config& i, Config& r) { i.ike_ciphers = {IkeCipher::aes_128_gcm_16}; r.ike_ciphers = {IkeCipher::aes_256_gcm_16}; },
         make_error_code(Error::no_proposal_chosen), {}},
        {"no common ESP cipher", [](Config& i, Config& r) { i.esp_ciphers = {esp::Algorithm::aes_128_gcm_16}; r.esp_ciphers = {esp::Algorithm::aes_256_gcm_16}; },
         make_error_code(Error::no_proposal_chosen), make_error_code(Error::no_proposal_chosen)},
        {"no common group", [](Config& i, Config& r) { i.groups = {Group::ecp_256}; r.groups = {Group::curve25519}; },
         make_error_code(Error::no_proposal_chosen), {}},
        {"traffic selectors disjoint", [](Config& i, Config&) { i.remote_ts = *parse_selector("10.9.9.0/24"); },
         make_error_code(Error::ts_unacceptable), make_error_code(Error::ts_unacceptable)},
        {"ESN required but refused", [](Config& i, Config& r) { r.allow_esn = false; i.allow_esn = true; i.prefer_esn = true; },
         std::error_code{}, std::error_code{}},
    };
    for (const auto& c : cases) {
        CAPTURE(c.name);
        Pair p(c.adjust);
        const bool up = p.connect();
        if (!c.initiator && !c.responder) {
            CHECK(up);  // a preference, not a requirement: NO_ESN is agreed
            continue;
        }
        CHECK(!p.i->is_established());
        CHECK(p.i->failure() == c.initiator);
        if (c.responder) CHECK(p.r->failure() == c.responder);
        else CHECK(!p.r->is_established());
    }
}

TEST_CASE("ikev2: tampered, truncated, malformed and misaddressed IKE messages are dropped with their reason") {
    Pair p;
    REQUIRE(p.connect());
    // The last request the initiator sent (IKE_AUTH), replayed with modifications.
    const Bytes auth_request = p.i_to_r.at(1);
    struct Mutation {
        const char* name;
        std::function<void(Bytes&)> apply;
        std::error_code expected;
    };
    const std::vector<Mutation> mutations{
        {"one bit of the SK ciphertext (a repeat of the last request)", [](Bytes& d) { d[d.size() - 30] ^= 0x01; }, make_error_code(Error::integrity_check_failed)},
        {"truncated below the header", [](Bytes& d) { d.resize(4 + 20); }, make_error_code(Error::malformed_message)},
        {"length field larger than the datagram", [](Bytes& d) { d[4 + 27] += 1; }, make_error_code(Error::malformed_message)},
        {"payload length past the end", [](Bytes& d) { d[4 + 28 + 2] = 0xff; }, make_error_code(Error::malformed_message)},
        {"major version 3", [](Bytes& d) { d[4 + 17] = 0x30; }, make_error_code(Error::malformed_message)},
        {"unknown responder SPI", [](Bytes& d) { d[4 + 15] ^= 0x55; }, make_error_code(Error::unknown_spi)},
        {"reflected (initiator flag of ours)", [](Bytes& d) { d[4 + 19] ^= flags::initiator; }, make_error_code(Error::unexpected_message)},
        {"unknown critical payload", [](Bytes& d) { d[4 + 16] = 99; d[4 + 28 + 1] = 0x80; }, make_error_code(Error::unsupported_critical_payload)},
    };
    for (const auto& m : mutations) {
        CAPTURE(m.name);
        Bytes d = auth_request;
        m.apply(d);
        while (p.r->poll_event()) {}
        p.now += 2s;  // past the drop-report interval
        CHECK(!p.r->receive(d, p.i_ep, p.now));
        CHECK(Pair::drop_reason(*p.r) == m.expected);
        CHECK(p.r->is_established());
    }
    // The SK payload's integrity, on a fresh request the responder has not seen: an
    // INFORMATIONAL with one flipped ciphertext bit.
    REQUIRE(!p.i->close(p.now));
    Bytes buffer(max_transmit_size);
    auto t = p.i->poll_transmit(MutableByteView(buffer));
    REQUIRE(t);
    Bytes informational(buffer.begin(), buffer.begin() + static_cast<std::ptrdiff_t>(t->size));
    informational[informational.size() - 20] ^= 0x80;
    p.now += 2s;
    CHECK(!p.r->receive(informational, p.i_ep, p.now));
    CHECK(Pair::drop_reason(*p.r) == Error::integrity_check_failed);
    CHECK(Pair::drop_reason(*p.r) != condition::closed);
    CHECK(p.r->is_established());
}

TEST_CASE("esp: replayed, tampered, misaddressed and out-of-selector packets are dropped with their reason") {
    Pair p;
    REQUIRE(p.connect());
    const Bytes packet = udp_packet(ipv4("10.200.2.1"), ipv4("10.200.1.1"), 5000, 7, as_bytes("once"));
    REQUIRE(!p.i->send(packet, p.now));
    Bytes buffer(max_transmit_size);
    auto t = p.i->poll_transmit(MutableByteView(buffer));
    REQUIRE(t);
    const Bytes esp_packet(buffer.begin(), buffer.begin() + static_cast<std::ptrdiff_t>(t->size));
    REQUIRE(!p.r->receive(esp_packet, p.i_ep, p.now));
    REQUIRE(p.r->poll_plaintext());

    struct Mutation {
        const char* name;
        std::function<void(Bytes&)> apply;
        std::error_code expected;
    };
    const std::vector<Mutation> mutations{
        {"replayed", [](Bytes&) {}, make_error_code(esp::Error::replayed)},
        {"tampered ciphertext", [](Bytes& d) { d[8 + 8 + 3] ^= 1; d[7] = 9; }, make_error_code(esp::Error::authentication_failed)},
        {"tampered ICV", [](Bytes& d) { d.back() ^= 1; d[7] = 10; }, make_error_code(esp::Error::authentication_failed)},
        {"unknown SPI", [](Bytes& d) { d[0] ^= 0x10; }, make_error_code(esp::Error::unknown_spi)},
        {"truncated", [](Bytes& d) { d.resize(30); }, make_error_code(esp::Error::malformed_packet)},
        {"sequence number zero", [](Bytes& d) { d[4] = d[5] = d[6] = d[7] = 0; }, make_error_code(esp::Error::too_old)},
    };
    for (const auto& m : mutations) {
        CAPTURE(m.name);
        Bytes d = esp_packet;
        m.apply(d);
        while (p.r->poll_event()) {}
        p.now += 2s;
        CHECK(!p.r->receive(d, p.i_ep, p.now));
        CHECK(Pair::drop_reason(*p.r) == m.expected);
        CHECK(!p.r->poll_plaintext());
    }
    // An inner packet outside the selectors is refused on the way out, and counted.
    const auto dropped = p.i->statistics().dropped;
    REQUIRE(!p.i->send(udp_packet(ipv4("10.200.2.9"), ipv4("10.200.1.1"), 5000, 7, as_bytes("x")), p.now));
    CHECK(p.i->statistics().dropped == dropped + 1);
    CHECK(!p.i->poll_transmit(MutableByteView(buffer)));
    CHECK(!p.i->send(as_bytes("not an IP packet at all"), p.now));
    CHECK(p.i->statistics().dropped == dropped + 2);
}

TEST_CASE("esp: the sequence number runs out without ESN and carries into the high half with it") {
    auto make = [](bool esn) {
        esp::ChildSaKeys a;
        a.inbound_spi = 0x1001;
        a.outbound_spi = 0x2002;
        a.inbound_key = SecretBytes(20, 1);
        a.outbound_key = SecretBytes(20, 2);
        a.extended_sequence_numbers = esn;
        esp::ChildSaKeys b = a;
        std::swap(b.inbound_spi, b.outbound_spi);
        std::swap(b.inbound_key, b.outbound_key);
        return std::pair{esp::SecurityAssociation<crypto::Botan2>::import(a).value(),
                         esp::SecurityAssociation<crypto::Botan2>::import(b).value()};
    };
    Bytes buffer(200);
    const Bytes inner{'p', 'a', 'y', 'l', 'o', 'a', 'd'};
    {
        auto [a, b] = make(false);
        a.set_next_sequence(0xffffffff);
        REQUIRE(a.protect(inner, 4, buffer));
        CHECK(a.protect(inner, 4, buffer).error() == esp::Error::sequence_exhausted);
    }
    {
        auto [a, b] = make(true);
        for (std::uint64_t seq : {0xfffffff0ull, 0xffffffffull, 0x100000000ull, 0x100000005ull}) {
            a.set_next_sequence(seq);
            auto n = a.protect(inner, 4, buffer);
            REQUIRE(n);
            auto opened = b.unprotect(MutableByteView(buffer).first(*n));
            REQUIRE(opened);
            CHECK(opened->sequence == seq);
        }
        // Late packet from before the wrap, still inside the window.
        a.set_next_sequence(0xfffffffaull);
        auto n = a.protect(inner, 4, buffer);
        REQUIRE(n);
        auto late = b.unprotect(MutableByteView(buffer).first(*n));
        REQUIRE(late);
        CHECK(late->sequence == 0xfffffffaull);
    }
}

TEST_CASE("ikev2: a junk flood leaves an established tunnel working and every queue bounded") {
    Pair p([](Config&, Config& r) { r.source_validation = CommonConfig::SourceValidation::always; });
    REQUIRE(p.connect());
    const std::uint32_t spi = p.r->inbound_spi();
    std::uint64_t seed = 12345;
    auto next = [&] {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        return static_cast<std::uint8_t>(seed >> 56);
    };
    Bytes d;
    for (int n = 0; n < 200000; ++n) {
        d.assign(static_cast<std::size_t>(1 + next() % 200), 0);
        for (auto& b : d) b = next();
        switch (n % 4) {
            case 0: break;                                  // random bytes
            case 1: d.insert(d.begin(), 4, 0); break;       // behind a non-ESP marker: IKE-shaped junk
            case 2:                                          // ESP with our SPI: fails the ICV
                d.resize(std::max<std::size_t>(d.size(), 60) / 4 * 4);
                for (int i = 0; i < 4; ++i) d[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(spi >> (24 - 8 * i));
                break;
            case 3: {  // a well-formed IKE_SA_INIT header from a stranger: a stateless answer at most
                d.insert(d.begin(), 4, 0);
                d.resize(std::max<std::size_t>(d.size(), 4 + header_size));
                d[4 + 16] = 0;
                d[4 + 17] = version_2_0;
                d[4 + 18] = 34;
                d[4 + 19] = flags::initiator;
                for (int i = 0; i < 8; ++i) d[static_cast<std::size_t>(4 + 8 + i)] = 0;
                const auto length = static_cast<std::uint32_t>(d.size() - 4);
                for (int i = 0; i < 4; ++i) d[static_cast<std::size_t>(4 + 24 + i)] = static_cast<std::uint8_t>(length >> (24 - 8 * i));
                break;
            }
        }
        CHECK_FALSE(p.r->receive(d, p.i_ep, p.now));
    }
    CHECK(p.r->is_established());
    CHECK(p.r->statistics().dropped > 150000);
    std::size_t events = 0;
    while (p.r->poll_event()) ++events;
    CHECK(events <= EventQueue::default_capacity);
    std::size_t queued = 0;
    Bytes buffer(max_transmit_size);
    while (p.r->poll_transmit(MutableByteView(buffer))) ++queued;
    CHECK(queued == 0);  // an established responder answers no stranger
    // The tunnel still carries traffic.
    REQUIRE(!p.i->send(udp_packet(ipv4("10.200.2.1"), ipv4("10.200.1.1"), 1, 2, as_bytes("after the flood")), p.now));
    p.pump();
    auto got = p.r->poll_plaintext();
    REQUIRE(got);
    CHECK(udp_payload(*got) == "after the flood");
}

TEST_CASE("ikev2: Child SA lifetime and liveness checks run from the engine's timers") {
    SUBCASE("the Child SA is rekeyed when its lifetime ends") {
        Pair p([](Config& i, Config&) { i.child_rekey_after = 60s; });
        REQUIRE(p.connect());
        auto t = p.i->next_timeout();
        REQUIRE(t);
        CHECK(*t - p.now == 60s);
        p.now = *t;
        REQUIRE(!p.i->on_timeout(p.now));
        p.pump();
        CHECK(p.i->child_rekeys() == 1);
        CHECK(p.r->child_rekeys() == 1);
        t = p.i->next_timeout();
        REQUIRE(t);
        CHECK(*t - p.now == 60s);  // the new SA's lifetime
    }
    SUBCASE("a quiet sender keeps the NAT mapping open with keepalives, which the peer ignores") {
        Pair p([](Config& i, Config&) { i.nat_keepalive = 20s; });
        REQUIRE(p.connect());
        auto t = p.i->next_timeout();
        REQUIRE(t);
        CHECK(*t - p.now == 20s);
        p.now = *t;
        REQUIRE(!p.i->on_timeout(p.now));
        const auto dropped = p.r->statistics().dropped;
        p.pump();
        CHECK(p.i->statistics().keepalives_sent == 1);
        CHECK(p.i_to_r.back() == Bytes{0xff});
        CHECK(p.r->statistics().dropped == dropped);  // ignored, not a drop
        CHECK(*p.i->next_timeout() - p.now == 20s);
    }
    SUBCASE("a live peer answers the empty INFORMATIONAL; a dead one is detected") {
        Pair p([](Config& i, Config&) { i.dpd_interval = 10s; i.retransmit_tries = 2; });
        REQUIRE(p.connect());
        auto t = p.i->next_timeout();
        REQUIRE(t);
        CHECK(*t - p.now == 10s);
        p.now = *t;
        REQUIRE(!p.i->on_timeout(p.now));
        p.pump();
        CHECK(p.i->statistics().liveness_checks == 1);
        CHECK(p.r->statistics().responses_resent == 0);
        CHECK(p.i->is_established());
        CHECK(*p.i->next_timeout() - p.now == 10s);  // heard from the peer just now
        // The peer goes silent: the check is retransmitted, then the SA is declared dead.
        p.on_wire = [](Bytes&, bool) { return false; };
        while (auto next = p.i->next_timeout()) {
            p.now = *next;
            (void)p.i->on_timeout(p.now);
            p.pump();
            if (p.i->is_closed()) break;
        }
        CHECK(p.i->failure() == Error::retransmission_timeout);
        CHECK(p.i->statistics().liveness_checks == 2);
    }
}

TEST_CASE("ikev2: either side rekeys the IKE SA; the Child SA moves over and the old IKE SA is deleted") {
    for (bool initiator_rekeys : {true, false}) {
        CAPTURE(initiator_rekeys);
        Pair p;
        REQUIRE(p.connect());
        IkeEngine& rekeyer = initiator_rekeys ? *p.i : *p.r;
        IkeEngine& other = initiator_rekeys ? *p.r : *p.i;
        const auto old_spi_i = p.i->spi_initiator(), old_spi_r = p.i->spi_responder();
        const auto old_sk_d = to_hex(p.i->sk_d_for_interop_tests());
        REQUIRE(!rekeyer.rekey_ike(p.now));
        CHECK(rekeyer.rekey_ike(p.now));  // one exchange at a time
        p.pump();
        CHECK(rekeyer.ike_rekeys() == 1);
        CHECK(other.ike_rekeys() == 1);
        // Both sides agree on the new SPIs and keys; the rekeyer is the new SA's initiator.
        CHECK(p.i->spi_initiator() == p.r->spi_initiator());
        CHECK(p.i->spi_responder() == p.r->spi_responder());
        CHECK(rekeyer.spi_initiator() != old_spi_i);
        CHECK(rekeyer.spi_responder() != old_spi_r);
        CHECK(to_hex(p.i->sk_d_for_interop_tests()) == to_hex(p.r->sk_d_for_interop_tests()));
        CHECK(to_hex(p.i->sk_d_for_interop_tests()) != old_sk_d);
        // The tunnel carries traffic, the Child SA rekeys under the new SK_d, and the new
        // IKE SA closes cleanly.
        REQUIRE(!p.i->send(udp_packet(ipv4("10.200.2.1"), ipv4("10.200.1.1"), 1, 2, as_bytes("after")), p.now));
        p.pump();
        auto got = p.r->poll_plaintext();
        REQUIRE(got);
        CHECK(udp_payload(*got) == "after");
        REQUIRE(!other.rekey_child(p.now));
        p.pump();
        CHECK(other.child_rekeys() == 1);
        CHECK(rekeyer.child_rekeys() == 1);
        REQUIRE(!rekeyer.close(p.now));
        p.pump();
        CHECK(p.i->is_closed());
        CHECK(p.r->is_closed());
        CHECK(!p.i->failure());
        CHECK(!p.r->failure());
    }
}

TEST_CASE("ikev2 fragmentation: IKE_AUTH in SKF fragments both ways, each within the limit (AEAD and AES-CBC)") {
    for (auto cipher : {IkeCipher::aes_128_gcm_16, IkeCipher::chacha20_poly1305, IkeCipher::aes_256_cbc}) {
        CAPTURE(static_cast<int>(cipher));
        Pair p(fragment_at(200, cipher));
        REQUIRE(p.connect());
        CHECK(p.i->fragmentation());
        CHECK(p.r->fragmentation());
        // Both IKE_AUTH messages went out in pieces, and came back together.
        CHECK(p.i->statistics().messages_fragmented == 1);
        CHECK(p.r->statistics().messages_fragmented == 1);
        CHECK(p.i->statistics().fragments_sent > 1);
        CHECK(p.r->statistics().messages_reassembled == 1);
        CHECK(p.i->statistics().messages_reassembled == 1);
        CHECK(p.r->statistics().fragments_received == p.i->statistics().fragments_sent);
        // Every SKF datagram fits the 200-octet IP datagram: 20 (IPv4) + 8 (UDP) + marker + message.
        for (const auto& d : p.i_to_r)
            if (is_fragment(d)) CHECK(20 + 8 + d.size() <= 200);
        // IKE_SA_INIT itself is never fragmented (RFC 7383 2.5.3), and announced the support.
        CHECK(!is_fragment(p.i_to_r.front()));
        p.ping_pong();
    }
}

TEST_CASE("ikev2 fragmentation: not negotiated unless both announce it; then a large message goes whole") {
    for (bool initiator_announces : {false, true}) {
        CAPTURE(initiator_announces);
        Pair p([&](Config& i, Config& r) {
            fragment_at(200)(i, r);
            (initiator_announces ? r : i).fragmentation = false;
        });
        REQUIRE(p.connect());
        CHECK(!p.i->fragmentation());
        CHECK(!p.r->fragmentation());
        for (const auto& d : p.i_to_r) CHECK(!is_fragment(d));
        for (const auto& d : p.r_to_i) CHECK(!is_fragment(d));
        CHECK(p.largest_datagram > 200 - 28);
    }
}

TEST_CASE("ikev2 fragmentation: out of order and duplicated fragments reassemble once") {
    Pair p(fragment_at(150));
    std::vector<Bytes> held;
    p.on_wire = [&](Bytes& d, bool from_i) {
        if (from_i && is_fragment(d)) return held.push_back(d), false;  // kept back, delivered below
        return true;
    };
    REQUIRE(!p.i->start(p.now));
    p.pump();
    REQUIRE(held.size() >= 3);
    p.on_wire = {};
    std::reverse(held.begin(), held.end());
    held.insert(held.begin() + 1, held.front());  // the last fragment twice, at once
    for (std::size_t k = 0; k + 1 < held.size(); ++k) {
        CHECK(!p.r->receive(held[k], p.i_ep, p.now));
        CHECK(!p.r->is_established());  // fragment 1 is the last to arrive
    }
    CHECK(p.r->duplicate_fragments() == 1);
    CHECK(!p.r->receive(held.back(), p.i_ep, p.now));
    p.pump();
    CHECK(p.r->is_established());
    CHECK(p.i->is_established());
    CHECK(p.r->statistics().messages_reassembled == 1);
    p.ping_pong();
}

TEST_CASE("ikev2 fragmentation: a tampered fragment is dropped alone; the retransmission of all fragments completes") {
    Pair p(fragment_at(200));
    bool tampered = false;
    p.on_wire = [&](Bytes& d, bool from_i) {
        if (from_i && is_fragment(d) && fragment_number(d) == 2 && !tampered) {
            d[d.size() - 5] ^= 0x40;  // inside the ICV
            tampered = true;
        }
        return true;
    };
    REQUIRE(!p.i->start(p.now));
    p.pump();
    REQUIRE(tampered);
    CHECK(Pair::drop_reason(*p.r) == Error::integrity_check_failed);
    CHECK(!p.r->is_established());
    CHECK(p.r->failure() == std::error_code{});  // dropped, not fatal (RFC 7383 2.6)
    const auto first_round = p.i_to_r.size();
    p.now += 500ms;
    REQUIRE(!p.i->on_timeout(p.now));
    p.pump();
    CHECK(p.i->statistics().retransmissions == 1);
    // Every fragment went again, and the responder completed the message with the new fragment 2.
    CHECK(p.i_to_r.size() - first_round == p.i->statistics().fragments_sent);
    CHECK(p.r->is_established());
    CHECK(p.i->is_established());
    CHECK(p.r->statistics().messages_reassembled == 1);
    p.ping_pong();
}

TEST_CASE("ikev2 fragmentation: a lost fragmented answer is resent once per retransmitted request, on its fragment 1") {
    Pair p(fragment_at(200));
    bool lose = true;
    p.on_wire = [&](Bytes& d, bool from_i) { return from_i || !is_fragment(d) || !lose; };
    REQUIRE(!p.i->start(p.now));
    p.pump();
    CHECK(p.r->is_established());
    CHECK(!p.i->is_established());
    lose = false;
    p.now += 500ms;
    REQUIRE(!p.i->on_timeout(p.now));
    p.pump();
    CHECK(p.i->is_established());
    CHECK(p.r->statistics().responses_resent == 1);  // not one per request fragment
    CHECK(p.i->statistics().messages_reassembled == 1);
    p.ping_pong();
}

TEST_CASE("ikev2 fragmentation: SKF where it does not belong is refused as invalid_fragment") {
    Pair p([](Config& i, Config& r) {
        fragment_at(200)(i, r);
        r.fragmentation = false;
    });
    // An initiator that fragments although the responder never announced support.
    auto cipher = SkCipher<crypto::Botan2>::create(esp::Algorithm::aes_128_gcm_16, Bytes(20, 0x11));
    REQUIRE(cipher);
    REQUIRE(p.connect());
    Header h;
    h.spi_i = p.i->spi_initiator();
    h.spi_r = p.i->spi_responder();
    h.exchange = ExchangeType::informational;
    h.message_id = 1;
    h.flags = flags::initiator;
    Bytes d(4, 0);
    append(d, cipher->seal_fragment(h, 1, 2, PayloadType::notify, Bytes(40, 0)));
    p.now += 2s;
    CHECK(!p.r->receive(d, p.i_ep, p.now));
    CHECK(Pair::drop_reason(*p.r) == Error::invalid_fragment);
    // IKE_SA_INIT in a fragment: never (RFC 7383 2.5.3).
    Pair fresh;
    h.exchange = ExchangeType::ike_sa_init;
    h.message_id = 0;
    h.spi_r = 0;
    Bytes init(4, 0);
    append(init, cipher->seal_fragment(h, 1, 1, PayloadType::sa, Bytes(40, 0)));
    CHECK(!fresh.r->receive(init, fresh.i_ep, fresh.now));
    CHECK(Pair::drop_reason(*fresh.r) == Error::invalid_fragment);
}

TEST_CASE("ikev2 fragmentation: reassembly refusals and limits (table-driven, through SkCipher)") {
    auto made = SkCipher<crypto::Botan2>::create(esp::Algorithm::aes_128_gcm_16, Bytes(20, 0x5c));
    REQUIRE(made);
    SkCipher<crypto::Botan2>& cipher = *made;
    Header h;
    h.spi_i = 0x0102030405060708;
    h.spi_r = 0x1112131415161718;
    h.exchange = ExchangeType::ike_auth;
    h.message_id = 1;
    h.flags = flags::initiator;
    const std::vector<RawPayload> inner{payload(PayloadType::idi, IdPayload{IdType::fqdn, Bytes(20, 'a')}),
                                        notify(NotifyType::initial_contact, Bytes(300, 0x33)), nonce_payload(Bytes(32, 0x44))};
    Bytes chain;
    wire::Writer w(chain);
    write_chain(w, inner);

    struct Step {
        std::uint16_t number, total;
        bool tamper = false;
        int next = -1;  // the Next Payload field: -1 as the sender sets it
    };
    struct Row {
        const char* name;
        std::vector<Step> steps;
        std::error_code last_error;  // of the last step
        bool completes;
        std::size_t duplicates = 0;
        FragmentLimits limits = {};
    };
    const auto none = std::error_code{};
    const std::vector<Row> rows{
        {"in order", {{1, 3}, {2, 3}, {3, 3}}, none, true},
        {"out of order", {{3, 3}, {1, 3}, {2, 3}}, none, true},
        {"duplicate ignored", {{1, 3}, {2, 3}, {2, 3}, {3, 3}}, none, true, 1},
        {"missing fragment: waits", {{1, 3}, {3, 3}}, none, false},
        {"tampered fragment: integrity, the others kept", {{1, 3}, {2, 3, true}}, make_error_code(Error::integrity_check_failed), false},
        {"tampered, then the genuine copy completes", {{1, 3}, {2, 3, true}, {3, 3}, {2, 3}}, none, true},
        {"Fragment Number 0", {{0, 3}}, make_error_code(Error::invalid_fragment), false},
        {"Fragment Number above Total", {{4, 3}}, make_error_code(Error::invalid_fragment), false},
        {"Total Fragments 0", {{1, 0}}, make_error_code(Error::invalid_fragment), false},
        {"fragment 1 without a Next Payload", {{1, 3, false, 0}}, make_error_code(Error::invalid_fragment), false},
        {"fragment 2 with a Next Payload", {{2, 3, false, 41}}, make_error_code(Error::invalid_fragment), false},
        {"too many fragments", {{1, 65}}, make_error_code(Error::fragment_limit_exceeded), false},
        {"reassembled size over the limit", {{1, 3}, {2, 3}}, make_error_code(Error::fragment_limit_exceeded), false, 0, FragmentLimits{64, 150}},
        {"fewer Total Fragments than held: superseded", {{1, 3}, {2, 2}}, make_error_code(Error::fragment_superseded), false},
        {"more Total Fragments than held: start over", {{1, 2}, {1, 3}, {2, 3}, {3, 3}}, none, true},
        {"more Total Fragments: the old pieces are gone", {{1, 2}, {2, 3}, {3, 3}}, none, false},
    };
    for (const auto& row : rows) {
        CAPTURE(row.name);
        FragmentReassembly reassembly;
        std::error_code last;
        std::optional<FragmentReassembly::Reassembled> whole;
        for (const auto& step : row.steps) {
            const std::size_t pieces = std::max<std::size_t>(step.total, 1);
            const std::size_t size = (chain.size() + pieces - 1) / pieces;
            const std::size_t at = std::min<std::size_t>(std::size_t{step.number > 0 ? step.number - 1u : 0u} * size, chain.size());
            const ByteView part = ByteView(chain).subspan(at, std::min(size, chain.size() - at));
            const PayloadType next = step.next >= 0 ? static_cast<PayloadType>(step.next)
                                     : step.number == 1 ? inner.front().type
                                                        : PayloadType::none;
            Bytes message = cipher.seal_fragment(h, step.number, step.total, next, part);
            if (step.tamper) message[message.size() - 20] ^= 0x01;
            auto parsed = parse_message(message);
            REQUIRE(parsed);
            REQUIRE(parsed->fragment());
            auto opened = cipher.open_fragment(message, *parsed);
            if (!opened) {
                last = opened.error();
                continue;
            }
            auto added = reassembly.add(h.message_id, opened->numbers, opened->next, opened->part, row.limits);
            last = added ? std::error_code{} : added.error();
            if (added && *added) whole = std::move(**added);
        }
        CHECK(last == row.last_error);
        CHECK(whole.has_value() == row.completes);
        CHECK(reassembly.duplicates() == row.duplicates);
        if (whole) {
            CHECK(whole->chain == chain);
            CHECK(whole->first_inner == PayloadType::idi);
            std::vector<RawPayload> back;
            CHECK(!parse_chain(whole->chain, whole->first_inner, back));
            CHECK(back.size() == inner.size());
        }
    }
    // seal_message cuts the same chain into fragments that all fit, and they open back to it.
    const auto fragments = cipher.seal_message(h, inner, true, 150);
    CHECK(fragments.size() == (chain.size() + cipher.fragment_capacity(150) - 1) / cipher.fragment_capacity(150));
    FragmentReassembly again;
    std::optional<FragmentReassembly::Reassembled> whole;
    for (const auto& f : fragments) {
        CHECK(f.size() <= 150);
        auto parsed = parse_message(f);
        REQUIRE(parsed);
        auto opened = cipher.open_fragment(f, *parsed);
        REQUIRE(opened);
        auto added = again.add(1, opened->numbers, opened->next, opened->part, {});
        REQUIRE(added);
        if (*added) whole = std::move(**added);
    }
    REQUIRE(whole);
    CHECK(whole->chain == chain);
    CHECK(cipher.seal_message(h, inner, false, 150).size() == 1);  // not negotiated: whole
}

// ---- IPv6 traffic selectors and inner IPv6 packets (issue 11) -------------------------

namespace ikev2_unit_test {

/// A TS payload body of one selector: type, protocol, the Selector Length as given, then
/// `rest` (ports and addresses), so that lengths and contents can disagree.
Bytes ts_body(std::uint8_t type, std::uint16_t selector_length, const Bytes& rest) {
    Bytes b{1, 0, 0, 0, type, 0, static_cast<std::uint8_t>(selector_length >> 8), static_cast<std::uint8_t>(selector_length)};
    b.insert(b.end(), rest.begin(), rest.end());
    return b;
}
/// Ports 0-65535 and two IPv6 addresses.
Bytes v6_range(const char* first, const char* last) {
    Bytes b{0, 0, 0xff, 0xff};
    const auto a = ikev2_test::ipv6(first), z = ikev2_test::ipv6(last);
    b.insert(b.end(), a.begin(), a.end());
    b.insert(b.end(), z.begin(), z.end());
    return b;
}

/// Both sides with IPv6 selectors: the initiator fd00:2::1 to fd00:1::/64, the responder
/// fd00:1::1 to fd00:2::/64 (narrowed to one address each way, as with IPv4).
void v6_selectors(Config& i, Config& r) {
    i.local_ts = *parse_selector("fd00:2::1");
    i.remote_ts = *parse_selector("fd00:1::/64");
    r.local_ts = *parse_selector("fd00:1::1/128");
    r.remote_ts = *parse_selector("fd00:2::/64");
}

}  // namespace ikev2_unit_test

TEST_CASE("ikev2 ts6: TS_IPV6_ADDR_RANGE is parsed, built and narrowed") {
    // The configuration's spellings.
    auto prefix = parse_selector("fd00:1::5/64");  // host bits dropped, as for IPv4
    REQUIRE(prefix);
    CHECK(prefix->family == IpFamily::ipv6);
    CHECK(to_string(*prefix) == "fd00:1::-fd00:1::ffff:ffff:ffff:ffff");
    CHECK(to_string(*parse_selector("fd00:1::7")) == "fd00:1::7-fd00:1::7");
    CHECK(to_string(*parse_selector("fd00::1-fd00::9")) == "fd00::1-fd00::9");
    CHECK(to_string(*parse_selector("::/0")) == "::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
    CHECK(to_string(*parse_selector("fd00:1::/65")) == "fd00:1::-fd00:1::7fff:ffff:ffff:ffff");
    CHECK(to_string(*parse_selector("10.1.2.3/24")) == "10.1.2.0-10.1.2.255");  // IPv4 unchanged
    for (const char* bad : {"fd00::/129", "fd00::/", "fd00::9-fd00::1", "fd00::1-10.0.0.1", "fd00:::1", "fd00::/64x", "10.0.0.0/33"}) {
        CAPTURE(bad);
        CHECK(!parse_selector(bad));
    }
    CHECK(!AddressPool::parse("fd00::/64"));  // CP hands out IPv4 only

    // The wire form (RFC 7296 3.13.1): type 8, Selector Length 40, ports, 16-octet addresses.
    TrafficSelector ts = *parse_selector("fd00:1::/64");
    ts.ip_protocol = 17;
    ts.start_port = ts.end_port = 53;
    const Bytes wire = encode(TsPayload{{ts, *parse_selector("10.0.0.0/8")}});
    REQUIRE(wire.size() == 4 + 40 + 16);
    CHECK(wire[0] == 2);
    CHECK(wire[4] == ts_ipv6_addr_range);
    CHECK(wire[5] == 17);
    CHECK((wire[6] << 8 | wire[7]) == 40);
    CHECK((wire[8] << 8 | wire[9]) == 53);
    CHECK(Bytes(wire.begin() + 12, wire.begin() + 28) == Bytes(ts.start.begin(), ts.start.end()));
    CHECK(Bytes(wire.begin() + 28, wire.begin() + 44) == Bytes(ts.end.begin(), ts.end.end()));
    CHECK(wire[44] == ts_ipv4_addr_range);
    auto back = decode_ts(wire);
    REQUIRE(back);
    REQUIRE(back->selectors.size() == 2);
    CHECK(back->selectors[0] == ts);
    CHECK(back->selectors[1] == *parse_selector("10.0.0.0/8"));

    // Narrowing: within the family, never across it; the IPv6 one of a mixed proposal.
    const TrafficSelector policy = *parse_selector("fd00:1::100-fd00:1:0:1::");
    auto narrowed = intersect(*parse_selector("fd00:1::/64"), policy);
    REQUIRE(narrowed);
    CHECK(to_string(*narrowed) == "fd00:1::100-fd00:1::ffff:ffff:ffff:ffff");
    CHECK(!intersect(*parse_selector("fd00:2::/64"), policy));
    CHECK(!intersect(*parse_selector("0.0.0.0/0"), *parse_selector("::/0")));  // equal bytes, other family
    auto picked = narrow({*parse_selector("0.0.0.0/0"), *parse_selector("fd00::/16")}, *parse_selector("fd00:1::1"));
    REQUIRE(picked);
    CHECK(to_string(*picked) == "fd00:1::1-fd00:1::1");
    CHECK(within(*parse_selector("fd00:1::1"), *parse_selector("fd00:1::/64")));
    CHECK(!within(*parse_selector("fd00:1::/63"), *parse_selector("fd00:1::/64")));

    // Inner IPv6 packets against selectors: addresses, family, protocol and ports.
    const Bytes packet = ikev2_test::udp6_packet(ikev2_test::ipv6("fd00:2::1"), ikev2_test::ipv6("fd00:1::1"), 5000, 53, as_bytes("q"));
    auto ip = inspect_ip(packet);
    REQUIRE(ip);
    CHECK(ip->family == IpFamily::ipv6);
    CHECK(ip->protocol == 17);
    CHECK(ip->destination_port == 53);
    CHECK(ip->length == packet.size());
    CHECK(covers(ts, ip->family, ip->destination, ip->protocol, ip->destination_port));
    CHECK(!covers(ts, ip->family, ip->source, ip->protocol, ip->source_port));
    CHECK(!covers(*parse_selector("0.0.0.0/0"), ip->family, ip->destination, ip->protocol, ip->destination_port));
    // Behind a Destination Options header the ports are still found; a jumbogram and a
    // cut header are not packets.
    Bytes with_options = packet;
    with_options[6] = 60;
    with_options.insert(with_options.begin() + 40, {17, 0, 1, 4, 0, 0, 0, 0});
    with_options[5] = static_cast<std::uint8_t>(with_options[5] + 8);
    ip = inspect_ip(with_options);
    REQUIRE(ip);
    CHECK(ip->protocol == 17);
    CHECK(ip->destination_port == 53);
    Bytes jumbo = packet;
    jumbo[4] = jumbo[5] = 0;
    CHECK(!inspect_ip(jumbo));
    CHECK(!inspect_ip(ByteView(packet).first(39)));
}

TEST_CASE("ikev2 ts6: malformed IPv6 selectors are each a named error") {
    struct Case {
        const char* name;
        Bytes body;
        std::error_code expected;
    };
    const std::vector<Case> cases{
        {"IPv6 type with the IPv4 length (16)", ts_body(ts_ipv6_addr_range, 16, Bytes(12, 0)), make_error_code(Error::malformed_traffic_selector)},
        {"IPv6 length 41", ts_body(ts_ipv6_addr_range, 41, [] { Bytes b = v6_range("fd00::", "fd00::1"); b.push_back(0); return b; }()),
         make_error_code(Error::malformed_traffic_selector)},
        {"IPv6 selector cut short", ts_body(ts_ipv6_addr_range, 40, Bytes(20, 0)), make_error_code(Error::malformed_traffic_selector)},
        {"IPv4 type with the IPv6 length", ts_body(ts_ipv4_addr_range, 40, v6_range("fd00::", "fd00::1")),
         make_error_code(Error::malformed_traffic_selector)},
        {"IPv6 start above end", ts_body(ts_ipv6_addr_range, 40, v6_range("fd00::9", "fd00::1")), make_error_code(Error::inverted_traffic_selector)},
        {"Selector Length below the header", ts_body(ts_ipv6_addr_range, 4, {}), make_error_code(Error::malformed_traffic_selector)},
    };
    for (const auto& c : cases) {
        CAPTURE(c.name);
        auto r = decode_ts(c.body);
        REQUIRE(!r);
        CHECK(r.error() == c.expected);
        CHECK(!r.error().message().empty());
    }
    // A well-formed one next to them decodes; an unknown type is skipped and counted.
    std::size_t skipped = 0;
    Bytes two = ts_body(9, 12, Bytes(8, 0));
    two[0] = 2;
    const Bytes ok = ts_body(ts_ipv6_addr_range, 40, v6_range("fd00::1", "fd00::9"));
    two.insert(two.end(), ok.begin() + 4, ok.end());
    auto r = decode_ts(two, &skipped);
    REQUIRE(r);
    CHECK(skipped == 1);
    REQUIRE(r->selectors.size() == 1);
    CHECK(to_string(r->selectors[0]) == "fd00::1-fd00::9");
}

TEST_CASE("ikev2 ts6: an IPv6 Child SA carries IPv6 packets both ways (next header 41) and refuses the rest") {
    Pair p(v6_selectors);
    REQUIRE(p.connect());
    CHECK(to_string(p.i->remote_selector()) == "fd00:1::1-fd00:1::1");
    CHECK(to_string(p.r->remote_selector()) == "fd00:2::1-fd00:2::1");
    using ikev2_test::ipv6;
    const Bytes out = ikev2_test::udp6_packet(ipv6("fd00:2::1"), ipv6("fd00:1::1"), 5000, 7, as_bytes("ping6"));
    REQUIRE(!p.i->send(out, p.now));
    p.pump();
    auto got = p.r->poll_plaintext();
    REQUIRE(got);
    CHECK(ikev2_test::udp6_payload(*got) == "ping6");
    CHECK(Bytes(got->begin(), got->end()) == out);
    const Bytes back = ikev2_test::udp6_packet(ipv6("fd00:1::1"), ipv6("fd00:2::1"), 7, 5000, as_bytes("pong6"));
    REQUIRE(!p.r->send(back, p.now));
    p.pump();
    got = p.i->poll_plaintext();
    REQUIRE(got);
    CHECK(ikev2_test::udp6_payload(*got) == "pong6");

    // Refused on the way out: an IPv4 packet, an address outside the selectors.
    const auto dropped = p.i->statistics().dropped;
    REQUIRE(!p.i->send(udp_packet(ipv4("10.200.2.1"), ipv4("10.200.1.1"), 5000, 7, as_bytes("v4")), p.now));
    REQUIRE(!p.i->send(ikev2_test::udp6_packet(ipv6("fd00:2::2"), ipv6("fd00:1::1"), 5000, 7, as_bytes("x")), p.now));
    CHECK(p.i->statistics().dropped == dropped + 2);
    Bytes buffer(max_transmit_size);
    CHECK(!p.i->poll_transmit(MutableByteView(buffer)));

    // Refused on the way in: an IPv6 packet whose ESP next header says IPv4, and the
    // reverse of a well-labelled one outside the selectors.
    auto sealed = [&](ByteView inner, std::uint8_t next_header) {
        auto* sa = p.i->child_sa();
        REQUIRE(sa);
        Bytes d(sa->sealed_size(inner.size()));
        auto n = sa->protect(inner, next_header, d);
        REQUIRE(n);
        d.resize(*n);
        return d;
    };
    while (p.r->poll_event()) {}
    CHECK(!p.r->receive(sealed(out, esp::next_header_ipv4), p.i_ep, p.now));
    CHECK(Pair::drop_reason(*p.r) == Error::not_an_ip_packet);
    p.now += 2s;  // drop events are rate-limited
    CHECK(!p.r->receive(sealed(ikev2_test::udp6_packet(ipv6("fd00:9::1"), ipv6("fd00:1::1"), 1, 7, as_bytes("y")), esp::next_header_ipv6),
                        p.i_ep, p.now));
    CHECK(Pair::drop_reason(*p.r) == Error::inner_packet_rejected);
    CHECK(!p.r->receive(sealed(out, esp::next_header_ipv6), p.i_ep, p.now));  // the same packet, labelled right
    CHECK(p.r->poll_plaintext());
    CHECK(!p.r->poll_plaintext());

    // A Child SA rekey keeps the IPv6 selectors and the traffic.
    REQUIRE(!p.i->rekey_child(p.now));
    p.pump();
    CHECK(to_string(p.i->local_selector()) == "fd00:2::1-fd00:2::1");
    REQUIRE(!p.i->send(out, p.now));
    p.pump();
    CHECK(p.r->poll_plaintext());
}

TEST_CASE("ikev2 ts6: selectors of two families are refused: in one configuration, and between the peers") {
    // One side's configuration mixing IPv4 and IPv6 cannot describe one packet's source and destination.
    Pair mixed([](Config& i, Config&) { i.remote_ts = *parse_selector("fd00:1::/64"); });
    CHECK(mixed.i->start(mixed.now) == Error::invalid_configuration);
    // An IPv6 initiator and an IPv4 responder: TS_UNACCEPTABLE.
    Pair p([](Config& i, Config& r) {
        Config ignored;
        v6_selectors(i, ignored);
        (void)r;
    });
    CHECK(!p.connect());
    CHECK(p.r->failure() == Error::ts_unacceptable);
}

// ---- session resumption (RFC 5723) -------------------------------------------------------

namespace ikev2_unit_test {

/// A wall clock a test moves (tickets expire on the wall clock, not the engine's Instant).
struct ResumeClock {
    std::shared_ptr<std::chrono::system_clock::time_point> at =
        std::make_shared<std::chrono::system_clock::time_point>(std::chrono::sys_days{std::chrono::year{2026} / 12 / 2});
    std::function<std::chrono::system_clock::time_point()> reader() const {
        return [at = at] { return *at; };
    }
};

/// A full IKE_SA_INIT + IKE_AUTH that asks for a ticket from `issuer`; the ticket it got.
Ticket first_ticket(const std::shared_ptr<TicketIssuer>& issuer, const ResumeClock& clock) {
    Pair p([&](Config& i, Config& r) {
        i.request_ticket = true;
        r.tickets = issuer;
        i.wall_clock = r.wall_clock = clock.reader();
    });
    REQUIRE(p.connect());
    CHECK(!p.i->resumed());
    CHECK(p.r->tickets_issued() == 1);
    REQUIRE(p.i->ticket());
    return *p.i->ticket();
}

/// The payload of `type` in an unprotected message as sent (after the non-ESP marker).
Bytes resume_payload(const Bytes& datagram, PayloadType type) {
    auto m = parse_message(marker_stripped(datagram));
    REQUIRE(m);
    const RawPayload* p = find(m->payloads, type);
    REQUIRE(p);
    return p->body;
}

TEST_CASE("ikev2 resumption: a ticket from IKE_AUTH resumes with IKE_SESSION_RESUME, keys per RFC 5723 5.1, ESP flows") {
    ResumeClock clock;
    auto issuer = TicketIssuer::generate<crypto::Botan2>(CommonConfig{}, 1h);
    for (const bool cookies : {false, true}) {
        CAPTURE(cookies);
        const Ticket ticket = first_ticket(issuer, clock);
        CHECK(ticket.expires_unix_s == unix_seconds([&] { CommonConfig c; c.wall_clock = clock.reader(); return c; }()) + 3600);
        // The ticket file round trip keeps every field.
        const SecretBytes file = ticket.serialize();
        auto back = Ticket::parse(file);
        REQUIRE(back);
        CHECK(back->opaque == ticket.opaque);
        CHECK(back->sk_d == ticket.sk_d);
        CHECK(back->expires_unix_s == ticket.expires_unix_s);
        CHECK(back->local_id == ticket.local_id);
        CHECK(back->remote_id == ticket.remote_id);
        CHECK(back->suite.prf == ticket.suite.prf);
        CHECK(back->suite.cipher == ticket.suite.cipher);
        CHECK(!Ticket::parse(ByteView(file).first(file.size() - 1)));

        Pair p([&](Config& i, Config& r) {
            i.resume_ticket = *back;
            i.request_ticket = true;  // and a new ticket for the next time
            r.tickets = issuer;
            i.wall_clock = r.wall_clock = clock.reader();
            if (cookies) r.source_validation = CommonConfig::SourceValidation::always;
        });
        REQUIRE(p.connect());
        CHECK(p.i->resumed());
        CHECK(p.r->resumed());
        CHECK(p.r->session_info().peer.psk_identity == "a@test");
        CHECK(p.i->session_info().peer.psk_identity == "b.test");
        CHECK(p.r->statistics().cookies_sent == (cookies ? 1u : 0u));
        // No IKE_SA_INIT at all: the first exchange is IKE_SESSION_RESUME (38), message ID 0.
        for (const auto& d : p.i_to_r) CHECK(d[4 + 18] != static_cast<std::uint8_t>(ExchangeType::ike_sa_init));
        CHECK(p.i_to_r.front()[4 + 18] == static_cast<std::uint8_t>(ExchangeType::ike_session_resume));
        // SK_d of the resumed SA, recomputed here from the wire: SKEYSEED = prf(SK_d (old),
        // "Resumption" | Ni | Nr), then prf+ over Ni | Nr | SPIi | SPIr (the new SPIs).
        const Bytes ni = resume_payload(p.i_to_r[cookies ? 1 : 0], PayloadType::nonce);
        const Bytes nr = resume_payload(p.r_to_i[cookies ? 1 : 0], PayloadType::nonce);
        const SecretBytes seed = resumption_skeyseed<crypto::Botan2>(ticket.suite.prf, ticket.sk_d, ni, nr);
        const IkeSaKeys keys = derive_ike_sa_keys<crypto::Botan2>(ticket.suite.prf, seed, ni, nr, p.i->spi_initiator(),
                                                                  p.i->spi_responder(), esp::keymat_length(ticket.suite.cipher));
        CHECK(ByteView(keys.sk_d).size() == p.i->sk_d_for_interop_tests().size());
        CHECK(std::equal(keys.sk_d.begin(), keys.sk_d.end(), p.i->sk_d_for_interop_tests().begin()));
        CHECK(std::equal(keys.sk_d.begin(), keys.sk_d.end(), p.r->sk_d_for_interop_tests().begin()));
        CHECK(!std::equal(ticket.sk_d.begin(), ticket.sk_d.end(), p.i->sk_d_for_interop_tests().begin()));
        // Data through the resumed SA's Child SA, and a fresh ticket for the next resumption.
        p.ping_pong();
        REQUIRE(p.i->ticket());
        CHECK(p.i->ticket()->opaque != ticket.opaque);
        REQUIRE(!p.i->close(p.now));
        p.pump();
        CHECK(p.i->is_closed());
        CHECK(p.r->is_closed());
        CHECK(!p.i->failure());
    }
}

TEST_CASE("ikev2 resumption: replayed, expired, tampered, foreign and misdirected tickets are refused (table-driven)") {
    ResumeClock clock;
    auto issuer = TicketIssuer::generate<crypto::Botan2>(CommonConfig{}, 1h);
    struct Case {
        const char* name;
        std::function<void(Ticket&, Config& i, Config& r)> adjust;
        std::error_code initiator, responder;  // the initiator's failure, the responder's refusal
    };
    auto later_clock = [&](Config& c) {
        auto at = clock.at;
        c.wall_clock = [at] { return *at + 2h; };
    };
    const std::vector<Case> cases{
        {"used a second time", [&](Ticket& t, Config&, Config&) {
             Pair first([&](Config& i, Config& r) {
                 i.resume_ticket = t;
                 r.tickets = issuer;
                 i.wall_clock = r.wall_clock = clock.reader();
             });
             REQUIRE(first.connect());
         },
         make_error_code(Error::ticket_refused), make_error_code(Error::ticket_replayed)},
        {"expired at the responder", [&](Ticket&, Config&, Config& r) { later_clock(r); },
         make_error_code(Error::ticket_refused), make_error_code(Error::ticket_expired)},
        {"one octet of the opaque ticket altered", [](Ticket& t, Config&, Config&) { t.opaque[t.opaque.size() / 2] ^= 0x01; },
         make_error_code(Error::ticket_refused), make_error_code(Error::ticket_invalid)},
        {"truncated", [](Ticket& t, Config&, Config&) { t.opaque.resize(20); },
         make_error_code(Error::ticket_refused), make_error_code(Error::ticket_invalid)},
        {"sealed by another responder's key", [](Ticket&, Config&, Config& r) {
             r.tickets = TicketIssuer::generate<crypto::Botan2>(CommonConfig{}, 1h);
         },
         make_error_code(Error::ticket_refused), make_error_code(Error::ticket_invalid)},
        {"issued to another initiator identity", [](Ticket&, Config&, Config& r) {
             r.remote_id = *Identification::parse("c@test");
             r.pre_shared_keys.front().identity = "c@test";
         },
         make_error_code(Error::ticket_refused), make_error_code(Error::ticket_identity_mismatch)},
        {"presented to another responder identity", [](Ticket&, Config&, Config& r) { r.local_id = *Identification::parse("d.test"); },
         make_error_code(Error::ticket_refused), make_error_code(Error::ticket_identity_mismatch)},
        {"responder without a ticket issuer", [](Ticket&, Config&, Config& r) { r.tickets.reset(); },
         make_error_code(Error::ticket_refused), make_error_code(Error::resumption_unavailable)},
        {"the IKE cipher is no longer allowed", [](Ticket& t, Config&, Config& r) {
             r.ike_ciphers = {t.suite.cipher == IkeCipher::aes_256_gcm_16 ? IkeCipher::chacha20_poly1305 : IkeCipher::aes_256_gcm_16};
         },
         make_error_code(Error::ticket_refused), make_error_code(Error::no_proposal_chosen)},
        {"expired at the initiator: never sent", [&](Ticket&, Config& i, Config&) { later_clock(i); },
         make_error_code(Error::ticket_expired), {}},
        {"for another local identity: never sent", [](Ticket& t, Config&, Config&) { t.local_id.data = {'x'}; },
         make_error_code(Error::ticket_identity_mismatch), {}},
    };
    for (const auto& c : cases) {
        const std::string name = c.name;
        CAPTURE(name);
        Ticket ticket = first_ticket(issuer, clock);
        Pair p([&](Config& i, Config& r) {
            r.tickets = issuer;
            i.wall_clock = r.wall_clock = clock.reader();
            c.adjust(ticket, i, r);
            i.resume_ticket = ticket;
        });
        if (!c.responder) {  // refused by the initiator itself: nothing is sent
            CHECK(p.i->start(p.now) == c.initiator);
            p.pump();
            CHECK(p.i->failure() == c.initiator);
            CHECK(p.i_to_r.empty());
            continue;
        }
        CHECK(!p.connect());
        CHECK(p.i->failure() == c.initiator);
        CHECK(Pair::drop_reason(*p.r) == c.responder);
        CHECK(!p.r->is_established());
        // Refused with N(TICKET_NACK) in an IKE_SESSION_RESUME response, nothing kept.
        REQUIRE(p.r_to_i.size() == 1);
        auto m = parse_message(marker_stripped(p.r_to_i.front()));
        REQUIRE(m);
        CHECK(m->header.exchange == ExchangeType::ike_session_resume);
        CHECK(m->header.spi_r == 0);
        CHECK(find_notify(m->payloads, NotifyType::ticket_nack));
    }
}

TEST_CASE("ikev2 resumption: a rotated-out key still opens, not after a second rotation; a wrong SK_d fails IKE_AUTH's integrity; junk never opens") {
    ResumeClock clock;
    auto issuer = TicketIssuer::generate<crypto::Botan2>(CommonConfig{}, 1h);
    {
        const Ticket ticket = first_ticket(issuer, clock);
        issuer->rotate(tls13::TicketKey::generate<crypto::Botan2>());
        Pair p([&](Config& i, Config& r) {
            i.resume_ticket = ticket;
            r.tickets = issuer;
            i.wall_clock = r.wall_clock = clock.reader();
        });
        CHECK(p.connect());
        CHECK(issuer->spent() >= 1);
    }
    {
        const Ticket ticket = first_ticket(issuer, clock);  // sealed under the second key
        issuer->rotate(tls13::TicketKey::generate<crypto::Botan2>());
        issuer->rotate(tls13::TicketKey::generate<crypto::Botan2>());  // its key is gone now
        Pair p([&](Config& i, Config& r) {
            i.resume_ticket = ticket;
            r.tickets = issuer;
            i.wall_clock = r.wall_clock = clock.reader();
        });
        CHECK(!p.connect());
        CHECK(Pair::drop_reason(*p.r) == Error::ticket_invalid);
        CHECK(p.i->failure() == Error::ticket_refused);
    }
    {
        Ticket ticket = first_ticket(issuer, clock);
        ticket.sk_d[0] ^= 0x80;  // the responder opens the ticket; the keys no longer agree
        Pair p([&](Config& i, Config& r) {
            i.resume_ticket = ticket;
            r.tickets = issuer;
            i.wall_clock = r.wall_clock = clock.reader();
        });
        CHECK(!p.connect());
        CHECK(Pair::drop_reason(*p.r) == Error::integrity_check_failed);
        CHECK(!p.r->is_established());
    }
    // The opener on raw input: never a crash, always ticket_invalid.
    Bytes junk(200);
    for (std::size_t n : {0, 1, 16, 28, 44, 45, 200}) {
        CAPTURE(n);
        auto opened = issuer->open<crypto::Botan2>(ByteView(junk).first(n), 0);
        CHECK(opened.error() == Error::ticket_invalid);
    }
    CHECK(!TicketState::parse(junk));
    CHECK(!Ticket::parse(junk));
}

}  // namespace ikev2_unit_test
