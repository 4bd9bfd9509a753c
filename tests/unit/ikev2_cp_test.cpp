// The configuration payload (RFC 7296 2.19, 3.15) and ESP dummy packets (RFC 4303 2.6).
// CP: the codec (round trip, malformed attributes refused), the initiator's and the
// responder's reading of a CP (table-driven refusals: a CFG_REPLY that answers no
// request, the wrong CFG type, malformed attributes, no address, an address outside our
// selector), the address pool, and two engines: the initiator asks, the responder
// assigns from its pool, the initiator's selector is narrowed to the address and
// traffic flows from it; an exhausted pool answers INTERNAL_ADDRESS_FAILURE; a responder
// without a pool leaves the initiator without an address (a clean delete, a named error).
// Dummy packets: sent on demand and on a timer, discarded and counted by the receiver,
// never delivered, the same size on the wire as real packets of that length.
#include <doctest/doctest.h>

#include <functional>

#include <tapsec/ikev2.hpp>

#include "support/ikev2_ip.hpp"
#include "support/ikev2_pair.hpp"

namespace ikev2_cp_test {

using namespace tapsec;
using namespace tapsec::ikev2;
using namespace std::chrono_literals;

Bytes ip4_bytes(const char* text) {
    const std::uint32_t a = ikev2_test::ipv4(text);
    return Bytes{static_cast<std::uint8_t>(a >> 24), static_cast<std::uint8_t>(a >> 16), static_cast<std::uint8_t>(a >> 8),
                 static_cast<std::uint8_t>(a)};
}

std::vector<RawPayload> with_cp(const Bytes& body) { return {RawPayload{PayloadType::cp, false, body}}; }

/// An initiator asking for an address (its selector 0.0.0.0/0) and a responder with `pool`.
struct CpPair : ikev2_test::EnginePair<> {
    Config i_config = ikev2_test::psk_config("a@test", "b.test", "0.0.0.0/0", "10.200.1.0/24");
    Config r_config = ikev2_test::psk_config("b.test", "a@test", "10.200.1.1/32", "10.200.2.0/24");

    explicit CpPair(std::shared_ptr<AddressPool> pool, std::function<void(Config&, Config&)> adjust = {}) {
        i_config.request_address = true;
        r_config.address_pool = std::move(pool);
        r_config.pool_dns = {{10, 200, 1, 53}};
        if (adjust) adjust(i_config, r_config);
        make(i_config, r_config);
    }
    std::string assigned() const {
        auto a = i->assigned_address();
        return a ? to_string(single_address(address_of(*a))) : "";
    }
};


TEST_CASE("ikev2 cp: CFG_REQUEST and CFG_REPLY round-trip; malformed payloads are refused (table)") {
    const CpPayload reply{CfgType::reply,
                          {{cp_attribute::internal_ip4_address, ip4_bytes("10.3.0.7")},
                           {cp_attribute::internal_ip4_dns, ip4_bytes("10.3.0.53")},
                           {cp_attribute::internal_ip6_address, Bytes(17, 0x20)},
                           {0x4000, Bytes{1, 2, 3}}}};  // an attribute we do not know: kept, ignored
    for (const CpPayload& cp : {address_request(), reply}) {
        auto decoded = decode_cp(encode(cp));
        REQUIRE(decoded);
        CHECK(*decoded == cp);
    }
    const Bytes request_body = encode(address_request());
    CHECK(request_body == Bytes{1, 0, 0, 0, 0, 1, 0, 0, 0, 3, 0, 0, 0, 8, 0, 0});  // RFC 7296 3.15 layout

    struct Row {
        const char* name;
        Bytes body;
    };
    const Row malformed[] = {
        {"empty body", {}},
        {"three octets", {1, 0, 0}},
        {"CFG type 0", {0, 0, 0, 0}},
        {"CFG type 5", {5, 0, 0, 0}},
        {"attribute header cut short", {2, 0, 0, 0, 0, 1, 0}},
        {"attribute length past the end", {2, 0, 0, 0, 0, 1, 0, 4, 10, 3}},
        {"INTERNAL_IP4_ADDRESS of 3 octets", {2, 0, 0, 0, 0, 1, 0, 3, 10, 3, 0}},
        {"INTERNAL_IP4_DNS of 5 octets", {2, 0, 0, 0, 0, 3, 0, 5, 10, 3, 0, 1, 1}},
        {"INTERNAL_IP6_ADDRESS of 16 octets", [] { Bytes b{2, 0, 0, 0, 0, 8, 0, 16}; b.resize(24, 0x20); return b; }()},
        {"INTERNAL_IP6_ADDRESS with prefix 129", [] { Bytes b{2, 0, 0, 0, 0, 8, 0, 17}; b.resize(24, 0x20); b.push_back(129); return b; }()},
    };
    for (const auto& row : malformed) {
        CAPTURE(row.name);
        auto decoded = decode_cp(row.body);
        REQUIRE(!decoded);
        CHECK(decoded.error() == Error::malformed_message);
        CHECK(!decoded.error().message().empty());
    }
    // The reserved bit of an attribute type is ignored on receipt (RFC 7296 3.15.1).
    auto reserved = decode_cp(Bytes{2, 0, 0, 0, 0x80, 1, 0, 4, 10, 3, 0, 9});
    REQUIRE(reserved);
    CHECK(reserved->ip4(cp_attribute::internal_ip4_address) == std::array<std::uint8_t, 4>{10, 3, 0, 9});
}

TEST_CASE("ikev2 cp: the initiator's reading of the IKE_AUTH answer (table of refusals)") {
    const TrafficSelector any = *parse_selector("0.0.0.0/0");
    const Bytes good = encode(CpPayload{CfgType::reply,
                                        {{cp_attribute::internal_ip4_address, ip4_bytes("10.3.0.7")},
                                         {cp_attribute::internal_ip4_dns, ip4_bytes("10.3.0.53")}}});
    struct Row {
        const char* name;
        std::vector<RawPayload> inner;
        bool requested;
        TrafficSelector local;
        std::error_code expected;
    };
    const Row rows[] = {
        {"no CP, none asked for", {}, false, any, {}},
        {"CFG_REPLY without a request", with_cp(good), false, any, make_error_code(Error::unexpected_configuration_payload)},
        {"CFG_SET instead of CFG_REPLY", with_cp(encode(CpPayload{CfgType::set, {}})), true, any,
         make_error_code(Error::unexpected_configuration_payload)},
        {"CFG_REQUEST echoed back", with_cp(encode(address_request())), true, any, make_error_code(Error::unexpected_configuration_payload)},
        {"asked, no CP in the answer", {}, true, any, make_error_code(Error::internal_address_failure)},
        {"CFG_REPLY without an address", with_cp(encode(CpPayload{CfgType::reply, {{cp_attribute::internal_ip4_dns, ip4_bytes("10.3.0.53")}}})),
         true, any, make_error_code(Error::internal_address_failure)},
        {"CFG_REPLY with an empty address", with_cp(encode(CpPayload{CfgType::reply, {{cp_attribute::internal_ip4_address, {}}}})), true, any,
         make_error_code(Error::internal_address_failure)},
        {"malformed attribute", with_cp(Bytes{2, 0, 0, 0, 0, 1, 0, 2, 10, 3}), true, any, make_error_code(Error::malformed_message)},
        {"address outside the narrowed TSi", with_cp(good), true, *parse_selector("10.4.0.0/16"), make_error_code(Error::ts_unacceptable)},
    };
    for (const auto& row : rows) {
        CAPTURE(row.name);
        auto got = accept_cfg_reply(row.inner, row.requested, row.local);
        if (row.expected) {
            REQUIRE(!got);
            CHECK(got.error() == row.expected);
        } else {
            REQUIRE(got);
            CHECK(!*got);
        }
    }
    auto taken = accept_cfg_reply(with_cp(good), true, any);
    REQUIRE(taken);
    REQUIRE(*taken);
    CHECK(to_string((*taken)->local) == "10.3.0.7-10.3.0.7");
    REQUIRE((*taken)->dns.size() == 1);
    CHECK((*taken)->dns.front() == std::array<std::uint8_t, 4>{10, 3, 0, 53});

    // The responder's side: only a well-formed CFG_REQUEST is taken.
    CHECK(read_cfg_request({}).value() == std::nullopt);
    CHECK(read_cfg_request(with_cp(encode(address_request()))).value()->has(cp_attribute::internal_ip4_address));
    CHECK(read_cfg_request(with_cp(good)).error() == Error::unexpected_configuration_payload);
    CHECK(read_cfg_request(with_cp(Bytes{1, 0, 0, 0, 0, 1, 0, 1, 0})).error() == Error::malformed_message);
}

TEST_CASE("ikev2 cp: address pools hand out each address once and take it back (table)") {
    struct Row {
        const char* text;
        std::uint64_t size;  // 0: refused
    };
    const Row rows[] = {{"10.3.0.0/24", 254}, {"10.3.0.0/30", 2}, {"10.3.0.4/31", 2}, {"10.3.0.9/32", 1},
                        {"10.3.0.10-10.3.0.12", 3}, {"10.3.0.0/33", 0}, {"pool", 0}, {"", 0}};
    for (const auto& row : rows) {
        CAPTURE(row.text);
        auto pool = AddressPool::parse(row.text);
        CHECK((pool ? pool->size() : 0) == row.size);
    }
    auto pool = AddressPool::parse("10.3.0.0/30");
    auto first = AddressLease::take(pool), second = AddressLease::take(pool);
    REQUIRE(first);
    REQUIRE(second);
    CHECK(first->address() == ikev2_test::ipv4("10.3.0.1"));
    CHECK(second->address() == ikev2_test::ipv4("10.3.0.2"));
    CHECK(!AddressLease::take(pool));
    first.reset();  // the holder goes: its address is free again
    auto again = AddressLease::take(pool);
    REQUIRE(again);
    CHECK(again->address() == ikev2_test::ipv4("10.3.0.1"));
    CHECK(pool->in_use() == 2);
}

TEST_CASE("ikev2 cp: the responder assigns from its pool, TSi narrows to the address, traffic flows from it") {
    auto pool = AddressPool::parse("10.3.0.0/30");  // two addresses: .1 and .2
    CpPair a(pool);
    REQUIRE(a.connect());
    CHECK(a.assigned() == "10.3.0.1-10.3.0.1");
    CHECK(to_string(a.i->local_selector()) == "10.3.0.1-10.3.0.1");
    CHECK(to_string(a.r->remote_selector()) == "10.3.0.1-10.3.0.1");
    CHECK(a.r->assigned_address() == a.i->assigned_address());
    REQUIRE(a.i->assigned_dns().size() == 1);
    CHECK(a.i->assigned_dns().front() == std::array<std::uint8_t, 4>{10, 200, 1, 53});
    CHECK(!a.i->assigned_address6());  // the pool has no IPv6 addresses

    // From the assigned address: delivered. From any other: refused by the selectors.
    const Bytes ping = ikev2_test::udp_packet(ikev2_test::ipv4("10.3.0.1"), ikev2_test::ipv4("10.200.1.1"), 5000, 7, as_bytes("ping"));
    REQUIRE(!a.i->send(ping, a.now));
    a.pump();
    auto got = a.r->poll_plaintext();
    REQUIRE(got);
    CHECK(ikev2_test::udp_payload(*got) == "ping");
    REQUIRE(!a.r->send(ikev2_test::udp_packet(ikev2_test::ipv4("10.200.1.1"), ikev2_test::ipv4("10.3.0.1"), 7, 5000, as_bytes("pong")), a.now));
    a.pump();
    got = a.i->poll_plaintext();
    REQUIRE(got);
    CHECK(ikev2_test::udp_payload(*got) == "pong");
    const auto dropped = a.i->statistics().dropped;
    CHECK(!a.i->send(ikev2_test::udp_packet(ikev2_test::ipv4("10.3.0.2"), ikev2_test::ipv4("10.200.1.1"), 5000, 7, as_bytes("x")), a.now));
    CHECK(a.i->statistics().dropped == dropped + 1);

    // A Child SA rekey keeps the narrowed selectors.
    REQUIRE(!a.i->rekey_child(a.now));
    a.pump();
    CHECK(a.i->child_rekeys() == 1);
    CHECK(to_string(a.i->local_selector()) == "10.3.0.1-10.3.0.1");

    CpPair b(pool);
    REQUIRE(b.connect());
    CHECK(b.assigned() == "10.3.0.2-10.3.0.2");

    // Exhausted: INTERNAL_ADDRESS_FAILURE on the wire, a named error on both sides.
    CpPair c(pool);
    CHECK(!c.connect());
    CHECK(c.i->failure() == Error::internal_address_failure);
    CHECK(c.r->failure() == Error::internal_address_failure);
    CHECK(c.i->failure().message().find("INTERNAL_ADDRESS_FAILURE") != std::string::npos);
    CHECK(!c.i->assigned_address());

    // The first tunnel goes: its address returns to the pool.
    a.r.reset();
    CpPair d(pool);
    REQUIRE(d.connect());
    CHECK(d.assigned() == "10.3.0.1-10.3.0.1");
}

TEST_CASE("ikev2 cp: without a pool the request goes unanswered; the initiator deletes the SA with a named error") {
    CpPair p(nullptr);
    CHECK(!p.connect());
    CHECK(p.i->failure() == Error::internal_address_failure);
    CHECK(p.i->is_closed());  // the delete was answered: the responder's IKE SA is gone too
    CHECK(!p.r->is_established());
    // A responder with a pool and an initiator that does not ask: no CP either way.
    CpPair q(AddressPool::parse("10.3.0.0/30"), [](Config& i, Config&) {
        i.request_address = false;
        i.local_ts = *parse_selector("10.200.2.1/32");
    });
    REQUIRE(q.connect());
    CHECK(!q.i->assigned_address());
    CHECK(!q.r->assigned_address());
    q.ping_pong();
}

TEST_CASE("esp: dummy packets (next header 59) are discarded and counted, never delivered; sent on demand and on a timer") {
    ikev2_test::EnginePair<> p;
    auto i_config = ikev2_test::psk_config("a@test", "b.test", "10.200.2.1/32", "10.200.1.0/24");
    i_config.dummy_interval = 200ms;
    i_config.dummy_size = 40;
    auto r_config = ikev2_test::psk_config("b.test", "a@test", "10.200.1.1/32", "10.200.2.0/24");
    r_config.dummy_size = 40;
    p.make(i_config, r_config);
    REQUIRE(p.connect());
    CHECK(p.r->send_dummy(p.now) == std::error_code{});
    p.pump();
    CHECK(p.r->statistics().esp_dummy_sent == 1);
    CHECK(p.i->statistics().esp_dummy_received == 1);
    CHECK(p.i->statistics().esp_received == 0);
    CHECK(!p.i->poll_plaintext());
    const Bytes dummy = p.r_to_i.back();
    // The same size on the wire as a real packet of that length (40 octets: a UDP ping of 12).
    REQUIRE(!p.r->send(ikev2_test::udp_packet(ikev2_test::ipv4("10.200.1.1"), ikev2_test::ipv4("10.200.2.1"), 7, 5000, as_bytes("twelve bytes")), p.now));
    p.pump();
    CHECK(p.r_to_i.back().size() == dummy.size());
    REQUIRE(p.i->poll_plaintext());
    // A replayed dummy is refused like any replayed packet.
    CHECK(!p.i->receive(dummy, p.r_ep, p.now));
    CHECK(p.i->statistics().esp_dummy_received == 1);
    CHECK(p.i->statistics().esp_dropped == 1);

    // The initiator's timer: one dummy each 200 ms while the Child SA is up.
    for (int step = 0; step < 10; ++step) {
        p.now += 100ms;
        REQUIRE(p.i->next_timeout());
        CHECK(*p.i->next_timeout() <= p.now + 200ms);
        (void)p.i->on_timeout(p.now);
        p.pump();
    }
    CHECK(p.i->statistics().esp_dummy_sent == 5);
    CHECK(p.r->statistics().esp_dummy_received == 5);
    CHECK(!p.r->poll_plaintext());
    p.ping_pong();  // real traffic is untouched
}

}  // namespace ikev2_cp_test
