// core/bounded_queue.hpp: the ring every datagram engine keeps between the network and
// the application (slots keep their storage; nothing beyond the capacity), and the
// event queue on top of it (dropped_packet events coalesced and rate-limited, others
// capped with the oldest discarded).
#include <doctest/doctest.h>

#include <string>

#include <tapsec/core/bounded_queue.hpp>
#include <tapsec/core/errors.hpp>

using namespace tapsec;
using namespace std::chrono_literals;

TEST_CASE("bounded queue: FIFO order across wrap-around and growth, never beyond capacity") {
    BoundedQueue<int> q(10);
    int next_in = 0, next_out = 0;
    // Interleave pushes and pops so the ring wraps while it grows (4 -> 8 -> 10 slots).
    for (int round = 0; round < 50; ++round) {
        for (int i = 0; i < 3; ++i)
            if (q.push_back(next_in)) ++next_in;
        for (int i = 0; i < 2 && !q.empty(); ++i) {
            CHECK(q.front() == next_out++);
            q.pop_front();
        }
        CHECK(q.size() <= q.capacity());
    }
    CHECK(q.size() == 8);  // each round ends after two pops from a full queue
    while (q.push_back(next_in)) ++next_in;
    CHECK(q.size() == 10);
    CHECK(q.full());
    CHECK_FALSE(q.push_back(-1));  // full: refused, nothing overwritten
    CHECK(q.reserve_back() == nullptr);
    while (auto v = q.take_front()) CHECK(*v == next_out++);
    CHECK(next_out == next_in);
    CHECK(q.empty());
}

TEST_CASE("bounded queue: reserved slots are filled in place and keep their storage") {
    BoundedQueue<Bytes> q(4);
    Bytes* slot = q.reserve_back();
    REQUIRE(slot);
    slot->assign(1000, 0xab);
    CHECK(q.empty());  // not an element until committed
    q.commit_back();
    const std::uint8_t* storage = q.front().data();
    q.pop_front();
    // Cycle through every slot: the first slot comes round again with its buffer.
    for (int i = 0; i < 3; ++i) {
        q.reserve_back()->assign(10, 1);
        q.commit_back();
        q.pop_front();
    }
    slot = q.reserve_back();
    CHECK(slot->capacity() >= 1000);
    slot->assign(500, 0xcd);
    CHECK(slot->data() == storage);  // reused, not reallocated
    q.commit_back();
    CHECK(q.front() == Bytes(500, 0xcd));
}

TEST_CASE("event queue: drops coalesce and are rate-limited; other events are capped") {
    EventQueue events(4);
    const Instant t0 = Instant{} + 100s;
    events.note_drop(make_error_code(Errc::bad_record_mac), t0);
    for (int i = 0; i < 1000; ++i) events.note_drop(make_error_code(Errc::decode_error), t0 + std::chrono::microseconds(i));
    CHECK(events.size() == 1);
    CHECK(events.coalesced_drops() == 1000);
    auto e = events.pop();
    REQUIRE(e);
    CHECK(e->kind == EventKind::dropped_packet);
    CHECK(e->reason == Errc::bad_record_mac);  // the first reason of the run
    CHECK(e->detail.empty());
    // Read, but within the interval: still no new event.
    events.note_drop(make_error_code(Errc::decode_error), t0 + 500ms);
    CHECK(events.size() == 0);
    events.note_drop(make_error_code(Errc::decode_error), t0 + EventQueue::drop_report_interval);
    CHECK(events.size() == 1);

    // Five non-drop events into four places: the oldest (the pending drop) makes room.
    for (auto kind : {EventKind::handshake_complete, EventKind::key_updated, EventKind::peer_address_changed,
                      EventKind::key_expiring})
        events.push(kind);
    CHECK(events.size() == 4);
    CHECK(events.discarded() == 1);
    CHECK(events.pop()->kind == EventKind::handshake_complete);
    // With the pending drop gone, the next drop after the interval is reported again.
    events.note_drop(make_error_code(Errc::decode_error), t0 + 3s);
    CHECK(events.size() == 4);
    // An absorbed event keeps its content; an absorbed drop is coalesced like any other.
    EventQueue inner;
    inner.absorb(Event{.kind = EventKind::peer_closed, .detail = "close_notify", .reason = {}}, t0);
    inner.absorb(Event{.kind = EventKind::dropped_packet, .detail = {}, .reason = make_error_code(Errc::bad_record_mac)}, t0);
    inner.absorb(Event{.kind = EventKind::dropped_packet, .detail = {}, .reason = make_error_code(Errc::bad_record_mac)}, t0);
    CHECK(inner.size() == 2);
    CHECK(inner.pop()->detail == "close_notify");
    CHECK(inner.coalesced_drops() == 1);
}

TEST_CASE("PlaintextInbox: opened in place, handed out as view or copy, a full inbox still opens into scratch") {
    PlaintextInbox inbox(2);
    auto fill = [&](std::uint8_t value, std::size_t n) {
        Bytes& target = inbox.target();
        target.assign(n, value);
        return inbox.commit();
    };
    CHECK(fill(1, 3));
    CHECK(fill(2, 4));
    CHECK(inbox.size() == 2);
    // Full: the packet is still written (into scratch), but commit() says it was not queued.
    CHECK_FALSE(fill(3, 5));
    CHECK(inbox.size() == 2);

    auto view = inbox.poll_view();
    REQUIRE(view);
    CHECK(Bytes(view->begin(), view->end()) == Bytes(3, 1));
    auto copy = inbox.poll_copy();
    REQUIRE(copy);
    CHECK(*copy == Bytes(4, 2));
    CHECK(inbox.empty());
    CHECK_FALSE(inbox.poll_view());
    CHECK_FALSE(inbox.poll_copy());

    // A target reserved but never committed (the packet failed to open) is not delivered.
    inbox.target().assign(7, 9);
    CHECK(inbox.empty());
    CHECK(fill(4, 2));
    CHECK(*inbox.poll_copy() == Bytes(2, 4));
}
