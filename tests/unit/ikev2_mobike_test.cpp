// MOBIKE (RFC 4555) between two engines: MOBIKE_SUPPORTED is negotiated only when both
// sides announce it; the initiator's update_addresses() after its address changed makes
// the responder send to the new address (it follows the authentic UPDATE_SA_ADDRESSES),
// and traffic continues. Against charon: tests/interop/ikev2_tunnel_test.cpp.
#include <doctest/doctest.h>

#include <tapsec/ikev2.hpp>

#include "support/ikev2_pair.hpp"

using namespace tapsec;
using ikev2_test::ipv4;
using ikev2_test::psk_config;
using ikev2_test::udp_packet;

namespace ikev2_mobike_test {

struct MobikePair : ikev2_test::EnginePair<> {
    MobikePair(bool initiator_mobike, bool responder_mobike) {
        auto i_config = psk_config("a@test", "b.test", "10.200.2.1/32", "10.200.1.0/24");
        auto r_config = psk_config("b.test", "a@test", "10.200.1.1/32", "10.200.2.0/24");
        i_config.mobike = initiator_mobike;
        r_config.mobike = responder_mobike;
        make(i_config, r_config);
    }
    /// Where the responder's next ESP packet goes.
    std::optional<Endpoint> responder_sends_to() {
        REQUIRE(!r->send(udp_packet(ipv4("10.200.1.1"), ipv4("10.200.2.1"), 7, 5000, as_bytes("where")), now));
        Bytes buffer(max_transmit_size);
        auto t = r->poll_transmit(MutableByteView(buffer));
        REQUIRE(t);
        return t->to;
    }
};


TEST_CASE("ikev2 MOBIKE: negotiated only when both sides announce it; otherwise update_addresses() is refused") {
    struct Row {
        bool initiator, responder;
    };
    for (const Row row : {Row{true, true}, Row{true, false}, Row{false, true}, Row{false, false}}) {
        CAPTURE(row.initiator);
        CAPTURE(row.responder);
        MobikePair pair(row.initiator, row.responder);
        REQUIRE(pair.connect());
        const bool both = row.initiator && row.responder;
        CHECK(pair.i->mobike() == both);
        CHECK(pair.r->mobike() == both);
        CHECK(static_cast<bool>(pair.i->update_addresses(pair.now)) == !both);
        CHECK(pair.r->update_addresses(pair.now) == make_error_code(Errc::not_connected));  // the responder never moves
        pair.pump();
        pair.ping_pong();
    }
}

TEST_CASE("ikev2 MOBIKE: the initiator moves, UPDATE_SA_ADDRESSES, the responder follows and traffic continues") {
    MobikePair pair(true, true);
    REQUIRE(pair.connect());
    CHECK(pair.responder_sends_to() == pair.i_ep);
    pair.pump();
    (void)pair.i->poll_plaintext();

    pair.i_ep = *Endpoint::parse("198.51.100.7:4500");  // the initiator's new address
    REQUIRE(!pair.i->update_addresses(pair.now));
    CHECK(pair.i->update_addresses(pair.now) == make_error_code(Errc::not_connected));  // one exchange at a time
    pair.pump();
    CHECK(pair.i->address_updates() == 1);
    CHECK(pair.i->is_established());
    CHECK(pair.r->is_established());
    CHECK(pair.responder_sends_to() == pair.i_ep);
    pair.pump();
    (void)pair.i->poll_plaintext();
    pair.ping_pong();
    // And again (a second move is a second request).
    pair.i_ep = *Endpoint::parse("203.0.113.9:4501");
    REQUIRE(!pair.i->update_addresses(pair.now));
    pair.pump();
    CHECK(pair.responder_sends_to() == pair.i_ep);
    CHECK(pair.i->statistics().dropped == 0);
    CHECK(pair.r->statistics().dropped == 0);
}

}  // namespace ikev2_mobike_test
