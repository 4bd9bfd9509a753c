// Every way the IKEv2 engine emits bytes, as one table (the IKEv2/ESP part of issue 16's
// "nothing silently lost"; the other compositions: send_paths_test.cpp,
// dtls_send_paths_test.cpp). Each row sets a pair of engines up, runs one call, and
// states the call's result and how many datagrams it put in the outbox: requests we
// start (IKE_SA_INIT, Child and IKE SA rekeys, MOBIKE's update, the delete),
// responses (fresh, and repeated from the cache), retransmissions (on time, exhausted),
// ESP (in and out of the selectors, before the handshake, after close, after failure),
// NAT-T keepalives, and each of these with an outbox the caller has let fill: ESP and
// every request the application starts are refused with no_buffer_space (nothing
// changes; the same call succeeds once drained), and what the engine emits on its own
// (a response, a retransmission, a keepalive) is counted in queue_overflows() and
// recovered by the retransmission rules, which the rows also show.
#include <doctest/doctest.h>

#include <functional>

#include <tapsec/ikev2.hpp>

#include "support/ikev2_ip.hpp"
#include "support/ikev2_pair.hpp"

using namespace tapsec;
using namespace std::chrono_literals;
using ikev2_test::ipv4;
using ikev2_test::udp_packet;

namespace ikev2_send_paths_test {

using Engine = ikev2::Engine<crypto::Botan2>;

struct Pair : ikev2_test::EnginePair<crypto::Botan2> {
    explicit Pair(const std::function<void(ikev2::Config&, ikev2::Config&)>& adjust = {}) {
        auto i = ikev2_test::psk_config("a@test", "b.test", "10.200.2.1/32", "10.200.1.0/24");
        auto r = ikev2_test::psk_config("b.test", "a@test", "10.200.1.1/32", "10.200.2.0/24");
        i.retransmit_tries = r.retransmit_tries = 2;
        if (adjust) adjust(i, r);
        make(i, r);
    }
    Bytes i_packet(std::string_view text = "data") const {
        return udp_packet(ipv4("10.200.2.1"), ipv4("10.200.1.1"), 5000, 7, as_bytes(text));
    }
    Bytes r_packet(std::string_view text = "data") const {
        return udp_packet(ipv4("10.200.1.1"), ipv4("10.200.2.1"), 7, 5000, as_bytes(text));
    }
};

/// Everything `e` has queued, taken out (not delivered).
std::vector<Bytes> drain(Engine& e) {
    std::vector<Bytes> out;
    while (auto t = e.poll_transmit()) out.push_back(std::move(t->data));
    return out;
}

/// Hands everything the initiator queued to the responder, reading each inner packet
/// as it arrives (the responder's own queue holds 1024): how many arrived.
std::size_t deliver_to_responder(Pair& p) {
    std::size_t delivered = 0;
    while (auto t = p.i->poll_transmit()) {
        (void)p.r->receive(t->data, p.i_ep, p.now);
        while (p.r->poll_plaintext()) ++delivered;
    }
    return delivered;
}

/// Sends ESP until the outbox refuses: returns how many were accepted.
std::size_t fill(Engine& e, const Bytes& packet, Instant now) {
    std::size_t accepted = 0;
    std::error_code ec;
    while (!(ec = e.send(packet, now))) ++accepted;
    CHECK(ec == std::errc::no_buffer_space);
    CHECK(e.outbox_full());
    return accepted;
}

struct Row {
    using Step = std::function<void(Pair&)>;
    using Call = std::function<std::error_code(Pair&)>;
    Row(const char* path_, Step setup_, Call call_, std::error_code expected_, std::size_t emitted_,
        bool on_responder_ = false, Step then_ = {})
        : path(path_), setup(std::move(setup_)), call(std::move(call_)), expected(expected_), emitted(emitted_),
          on_responder(on_responder_), then(std::move(then_)) {}
    const char* path;
    Step setup;                // before the call (may leave datagrams queued)
    Call call;                 // the one call of the row
    std::error_code expected;  // its result
    std::size_t emitted;       // datagrams it added to the caller's engine's outbox
    bool on_responder;         // whose outbox `emitted` counts
    Step then;                 // what the row's result means afterwards
};

void established(Pair& p) {
    REQUIRE(p.connect());
    p.i_to_r.clear();
    p.r_to_i.clear();
}

const std::error_code ok{};
const std::error_code no_space = std::make_error_code(std::errc::no_buffer_space);

std::vector<Row> rows() {
    return {
        // ---- requests we start ------------------------------------------------------------
        {"IKE_SA_INIT request (start)", {}, [](Pair& p) { return p.i->start(p.now); }, ok, 1, false,
         [](Pair& p) { CHECK(p.connect()); }},
        {"start again while IKE_SA_INIT is outstanding", [](Pair& p) { REQUIRE_FALSE(p.i->start(p.now)); drain(*p.i); },
         [](Pair& p) { return p.i->start(p.now); }, ok, 0},
        {"Child SA rekey request", established, [](Pair& p) { return p.i->rekey_child(p.now); }, ok, 1, false,
         [](Pair& p) {
             p.pump();
             CHECK(p.i->child_rekeys() == 1);
             p.ping_pong();
         }},
        {"Child SA rekey while another exchange is outstanding",
         [](Pair& p) { established(p); REQUIRE_FALSE(p.i->rekey_child(p.now)); drain(*p.i); },
         [](Pair& p) { return p.i->rekey_child(p.now); }, make_error_code(Errc::not_connected), 0},
        {"Child SA rekey into a full outbox: refused, nothing changes",
         [](Pair& p) { established(p); fill(*p.i, p.i_packet(), p.now); },
         [](Pair& p) { return p.i->rekey_child(p.now); }, no_space, 0, false,
         [](Pair& p) {
             CHECK(p.i->queue_overflows() == 1);  // the refused ESP packet; the request was never queued
             CHECK(deliver_to_responder(p) == 1024);
             REQUIRE_FALSE(p.i->rekey_child(p.now));  // drained: the same call succeeds (none was outstanding)
             p.pump();
             CHECK(p.i->child_rekeys() == 1);
         }},
        {"IKE SA rekey request", established, [](Pair& p) { return p.i->rekey_ike(p.now); }, ok, 1, false,
         [](Pair& p) {
             p.pump();
             CHECK(p.i->ike_rekeys() == 1);
             p.ping_pong();
         }},
        {"IKE SA rekey into a full outbox", [](Pair& p) { established(p); fill(*p.i, p.i_packet(), p.now); },
         [](Pair& p) { return p.i->rekey_ike(p.now); }, no_space, 0},
        {"MOBIKE UPDATE_SA_ADDRESSES without MOBIKE", established, [](Pair& p) { return p.i->update_addresses(p.now); },
         make_error_code(Errc::not_connected), 0},
        {"MOBIKE UPDATE_SA_ADDRESSES into a full outbox",
         [](Pair& p) {
             established(p);
             REQUIRE(p.i->mobike());
             fill(*p.i, p.i_packet(), p.now);
         },
         [](Pair& p) { return p.i->update_addresses(p.now); }, no_space, 0},
        {"the delete (close)", established, [](Pair& p) { return p.i->close(p.now); }, ok, 1, false,
         [](Pair& p) {
             p.pump();
             CHECK(p.i->is_closed());
             CHECK(p.r->is_closed());
         }},
        {"close again while the delete is outstanding", [](Pair& p) { established(p); REQUIRE_FALSE(p.i->close(p.now)); drain(*p.i); },
         [](Pair& p) { return p.i->close(p.now); }, ok, 0},
        {"close into a full outbox: refused, still established",
         [](Pair& p) { established(p); fill(*p.i, p.i_packet(), p.now); },
         [](Pair& p) { return p.i->close(p.now); }, no_space, 0, false,
         [](Pair& p) {
             CHECK(p.i->is_established());
             drain(*p.i);
             REQUIRE_FALSE(p.i->close(p.now));
             p.pump();
             CHECK(p.r->is_closed());
         }},
        {"close before anything was sent", {}, [](Pair& p) { return p.i->close(p.now); }, ok, 0, false,
         [](Pair& p) { CHECK(p.i->is_closed()); }},

        // ---- responses --------------------------------------------------------------------
        {"response to the peer's request",
         [](Pair& p) { established(p); REQUIRE_FALSE(p.i->rekey_child(p.now)); p.i_to_r = drain(*p.i); },
         [](Pair& p) { return p.r->receive(p.i_to_r.front(), p.i_ep, p.now); }, ok, 1, true},
        {"a repeated request, answered from the cache (not processed again)",
         [](Pair& p) {
             established(p);
             REQUIRE_FALSE(p.i->rekey_child(p.now));
             p.i_to_r = drain(*p.i);
             REQUIRE_FALSE(p.r->receive(p.i_to_r.front(), p.i_ep, p.now));
             p.r_to_i = drain(*p.r);
         },
         [](Pair& p) { return p.r->receive(p.i_to_r.front(), p.i_ep, p.now); }, ok, 1, true,
         [](Pair& p) {
             CHECK(p.r->statistics().responses_resent == 1);
             CHECK(p.r->child_rekeys() == 1);  // once
         }},
        {"a response into the responder's full outbox: counted, recovered from the cache",
         [](Pair& p) {
             established(p);
             REQUIRE_FALSE(p.i->rekey_child(p.now));
             p.i_to_r = drain(*p.i);
             fill(*p.r, p.r_packet(), p.now);
         },
         [](Pair& p) { return p.r->receive(p.i_to_r.front(), p.i_ep, p.now); }, ok, 0, true,
         [](Pair& p) {
             CHECK(p.r->queue_overflows() == 2);  // the refused ESP packet and the response
             drain(*p.r);                         // the caller drains (the ESP is lost here)
             p.now += 500ms;                       // our retransmission ...
             REQUIRE_FALSE(p.i->on_timeout(p.now));
             auto again = drain(*p.i);
             REQUIRE(again.size() == 1);
             CHECK(again.front() == p.i_to_r.front());
             REQUIRE_FALSE(p.r->receive(again.front(), p.i_ep, p.now));  // ... answered from the cache
             CHECK(p.r->statistics().responses_resent == 1);
             p.pump();
             CHECK(p.i->child_rekeys() == 1);
         }},

        // ---- retransmissions --------------------------------------------------------------
        {"a retransmission, on time, the same bytes",
         [](Pair& p) { established(p); REQUIRE_FALSE(p.i->rekey_child(p.now)); p.i_to_r = drain(*p.i); p.now += 500ms; },
         [](Pair& p) { return p.i->on_timeout(p.now); }, ok, 1, false,
         [](Pair& p) {
             CHECK(p.i->statistics().retransmissions == 1);
             auto again = drain(*p.i);
             REQUIRE(again.size() == 1);
             CHECK(again.front() == p.i_to_r.front());
         }},
        {"not yet time: nothing",
         [](Pair& p) { established(p); REQUIRE_FALSE(p.i->rekey_child(p.now)); drain(*p.i); p.now += 499ms; },
         [](Pair& p) { return p.i->on_timeout(p.now); }, ok, 0},
        {"a retransmission into a full outbox: counted, sent on the next timer",
         [](Pair& p) {
             established(p);
             REQUIRE_FALSE(p.i->rekey_child(p.now));
             p.i_to_r = drain(*p.i);
             fill(*p.i, p.i_packet(), p.now);
             p.now += 500ms;
         },
         [](Pair& p) { return p.i->on_timeout(p.now); }, ok, 0, false,
         [](Pair& p) {
             CHECK(p.i->queue_overflows() == 2);
             drain(*p.i);
             p.now += 1s;  // doubled
             REQUIRE_FALSE(p.i->on_timeout(p.now));
             auto again = drain(*p.i);
             REQUIRE(again.size() == 1);
             CHECK(again.front() == p.i_to_r.front());
         }},
        {"retransmissions exhausted: the exchange fails with a named error",
         [](Pair& p) {
             established(p);
             REQUIRE_FALSE(p.i->rekey_child(p.now));
             drain(*p.i);
             for (int k = 0; k < 2; ++k) {
                 p.now = *p.i->next_timeout();
                 REQUIRE_FALSE(p.i->on_timeout(p.now));
                 drain(*p.i);
             }
             p.now = *p.i->next_timeout();
         },
         [](Pair& p) { return p.i->on_timeout(p.now); }, make_error_code(ikev2::Error::retransmission_timeout), 0, false,
         [](Pair& p) {
             CHECK(p.i->is_closed());
             CHECK(p.i->send(p.i_packet(), p.now) == ikev2::Error::retransmission_timeout);
         }},

        // ---- ESP ----------------------------------------------------------------------------
        {"ESP before the handshake", {}, [](Pair& p) { return p.i->send(p.i_packet(), p.now); },
         make_error_code(Errc::not_connected), 0},
        {"ESP before the handshake completes", [](Pair& p) { REQUIRE_FALSE(p.i->start(p.now)); drain(*p.i); },
         [](Pair& p) { return p.i->send(p.i_packet(), p.now); }, make_error_code(Errc::not_connected), 0},
        {"ESP within the selectors", established, [](Pair& p) { return p.i->send(p.i_packet("x"), p.now); }, ok, 1, false,
         [](Pair& p) {
             p.pump();
             auto got = p.r->poll_plaintext();
             REQUIRE(got);
             CHECK(ikev2_test::udp_payload(*got) == "x");
         }},
        {"ESP outside the selectors: discarded as an SPD would, counted and reported", established,
         [](Pair& p) { return p.i->send(udp_packet(ipv4("10.9.9.9"), ipv4("10.200.1.1"), 1, 2, as_bytes("x")), p.now); }, ok, 0,
         false,
         [](Pair& p) {
             CHECK(p.i->statistics().dropped == 1);
             bool reported = false;
             while (auto e = p.i->poll_event()) reported = reported || e->reason == ikev2::Error::inner_packet_rejected;
             CHECK(reported);
         }},
        {"ESP that is not an IPv4 packet: discarded, counted", established,
         [](Pair& p) { return p.i->send(as_bytes("not a packet"), p.now); }, ok, 0, false,
         [](Pair& p) { CHECK(p.i->statistics().dropped == 1); }},
        {"ESP into a full outbox: no_buffer_space, no sequence number used",
         [](Pair& p) {
             established(p);
             CHECK(fill(*p.i, p.i_packet(), p.now) == 1024);
         },
         [](Pair& p) { return p.i->send(p.i_packet(), p.now); }, no_space, 0, false,
         [](Pair& p) {
             CHECK(p.i->queue_overflows() == 2);
             CHECK(p.i->child_sa()->next_sequence() == 1025);  // the refused ones sealed nothing
             CHECK(deliver_to_responder(p) == 1024);            // every accepted packet arrives
             REQUIRE_FALSE(p.i->send(p.i_packet(), p.now));  // drained: accepted again
         }},
        {"ESP after our close", [](Pair& p) { established(p); REQUIRE_FALSE(p.i->close(p.now)); drain(*p.i); },
         [](Pair& p) { return p.i->send(p.i_packet(), p.now); }, make_error_code(Errc::closed), 0},
        {"ESP after the peer deleted the IKE SA",
         [](Pair& p) { established(p); REQUIRE_FALSE(p.r->close(p.now)); p.pump(); REQUIRE(p.i->is_closed()); drain(*p.i); },
         [](Pair& p) { return p.i->send(p.i_packet(), p.now); }, make_error_code(Errc::closed), 0},

        // ---- NAT-T keepalives --------------------------------------------------------------
        {"a NAT-T keepalive after the idle time",
         [](Pair& p) { established(p); p.now += 20s; },
         [](Pair& p) { return p.i->on_timeout(p.now); }, ok, 1, false,
         [](Pair& p) { CHECK(p.i->statistics().keepalives_sent == 1); }},
        {"a NAT-T keepalive into a full outbox: counted, not queued",
         [](Pair& p) { established(p); fill(*p.i, p.i_packet(), p.now); p.now += 20s; },
         [](Pair& p) { return p.i->on_timeout(p.now); }, ok, 0, false,
         [](Pair& p) {
             CHECK(p.i->statistics().keepalives_sent == 0);
             CHECK(p.i->queue_overflows() == 2);
         }},
    };
}


TEST_CASE("ikev2 send paths: every way the engine emits bytes has a defined result (table)") {
    for (const auto& row : rows()) {
        CAPTURE(row.path);
        Pair p([&](ikev2::Config& i, ikev2::Config& r) {
            i.nat_keepalive = 20s;
            i.mobike = r.mobike = std::string_view(row.path).find("UPDATE_SA_ADDRESSES into") != std::string_view::npos;
        });
        if (row.setup) row.setup(p);
        Engine& caller = row.on_responder ? *p.r : *p.i;
        // What this call adds to the outbox (left there for `then`).
        const std::size_t before = caller.outbox_size();
        const std::error_code result = row.call(p);
        CHECK(result == row.expected);
        REQUIRE(caller.outbox_size() >= before);
        CHECK(caller.outbox_size() - before == row.emitted);
        if (row.then) row.then(p);
    }
}

}  // namespace ikev2_send_paths_test
