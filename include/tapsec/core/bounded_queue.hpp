// Queues an engine keeps between the network and the application, bounded so that
// what a peer (or an attacker) sends can never make an engine hold more than a fixed
// amount, and built so that a warmed-up engine pushes and pops without allocating.
//
// BoundedQueue<T> is a ring whose slots keep their storage: a popped Bytes slot keeps
// its capacity for the next push. EventQueue puts the event policy on top of it
// (WireGuard's receive.c: counters, not messages, on the drop path): dropped_packet
// events coalesce (one pending at a time, at most one per report interval; the engine's
// drop counters hold the exact figures) and other events sit in a capped ring.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <system_error>
#include <utility>
#include <vector>

#include "engine.hpp"

namespace tapsec {

template <class T>
class BoundedQueue {
public:
    explicit BoundedQueue(std::size_t capacity) : capacity_(capacity == 0 ? 1 : capacity) {}

    std::size_t size() const noexcept { return size_; }
    bool empty() const noexcept { return size_ == 0; }
    bool full() const noexcept { return size_ == capacity_; }
    std::size_t capacity() const noexcept { return capacity_; }

    /// The slot behind the last element, to fill in place before commit_back(); null
    /// when the queue is full. Storage grows (up to the capacity) only when every slot
    /// holds an element; a slot keeps whatever the previous element left in it.
    T* reserve_back() {
        if (full()) return nullptr;
        if (size_ == slots_.size()) grow();
        return &slots_[index(size_)];
    }
    /// Makes the slot reserve_back() returned the last element.
    void commit_back() noexcept { ++size_; }

    /// Appends `value`; false (and nothing stored) when the queue is full.
    template <class U>
    bool push_back(U&& value) {
        T* slot = reserve_back();
        if (!slot) return false;
        *slot = std::forward<U>(value);
        commit_back();
        return true;
    }

    T& front() noexcept { return slots_[head_]; }
    const T& front() const noexcept { return slots_[head_]; }
    /// Removes the first element; its slot keeps its storage for a later push.
    void pop_front() noexcept {
        head_ = index(1);
        --size_;
    }
    /// Moves the first element out (the owning convenience form).
    std::optional<T> take_front() {
        if (empty()) return std::nullopt;
        std::optional<T> out(std::move(front()));
        pop_front();
        return out;
    }
    void clear() noexcept { head_ = size_ = 0; }

private:
    std::size_t index(std::size_t offset) const noexcept { return (head_ + offset) % slots_.size(); }
    void grow() {
        const std::size_t wanted = std::min(capacity_, std::max<std::size_t>(4, slots_.size() * 2));
        std::vector<T> bigger;
        bigger.reserve(wanted);
        for (std::size_t i = 0; i < slots_.size(); ++i) bigger.push_back(std::move(slots_[index(i)]));
        bigger.resize(wanted);
        slots_ = std::move(bigger);
        head_ = 0;
    }

    std::size_t capacity_;
    std::vector<T> slots_;
    std::size_t head_ = 0, size_ = 0;
};

/// Received plaintexts waiting for the application (WireGuard's inner packets, SRTP's
/// media): each is opened straight into its queue slot, whose storage is reused, and
/// handed out as a view (poll_view) or a copy (poll_copy). When the queue is full a
/// packet is still opened, into scratch, so that authentication, replay state and
/// statistics stay exact; commit() then reports that it was not queued.
class PlaintextInbox {
public:
    explicit PlaintextInbox(std::size_t capacity) : queue_(capacity) {}

    /// Where to open the next packet: the next queue slot, or scratch when full.
    Bytes& target() {
        slot_ = queue_.reserve_back();
        return slot_ ? *slot_ : scratch_;
    }
    /// Queues what was opened into target(); false when it went to scratch (queue full).
    [[nodiscard]] bool commit() {
        if (!slot_) return false;
        queue_.commit_back();
        slot_ = nullptr;
        return true;
    }
    /// The next plaintext as a view valid until the next call on the inbox.
    std::optional<ByteView> poll_view() {
        if (queue_.empty()) return std::nullopt;
        std::swap(delivered_, queue_.front());  // the slot keeps the old buffer's storage
        queue_.pop_front();
        return ByteView(delivered_);
    }
    /// The next plaintext as an owned copy (the slot keeps its buffer).
    std::optional<Bytes> poll_copy() {
        if (queue_.empty()) return std::nullopt;
        Bytes packet(queue_.front().begin(), queue_.front().end());
        queue_.pop_front();
        return packet;
    }
    std::size_t size() const noexcept { return queue_.size(); }
    bool empty() const noexcept { return queue_.empty(); }

private:
    BoundedQueue<Bytes> queue_;
    Bytes delivered_;        // what poll_view() last handed out
    Bytes scratch_;          // open target when the queue is full
    Bytes* slot_ = nullptr;  // the slot target() reserved
};

/// An engine's events: bounded, and attacker-driven ones coalesced.
class EventQueue {
public:
    static constexpr std::size_t default_capacity = 64;
    /// At most one dropped_packet event per interval: a flood costs one event a second.
    static constexpr std::chrono::milliseconds drop_report_interval{1000};

    explicit EventQueue(std::size_t capacity = default_capacity) : events_(capacity) {}

    /// Queues an event that is not a drop. When the application has let the queue
    /// fill, the oldest event makes room (and is counted in discarded()).
    void push(EventKind kind, std::error_code reason = {}) { store(Event{.kind = kind, .detail = {}, .reason = reason}); }

    /// A datagram was dropped for `reason`. Reported as a dropped_packet event only if
    /// none is pending and none was reported in the last interval; the engine's drop
    /// counters have every one.
    void note_drop(std::error_code reason, Instant now) {
        if (drop_pending_ || (drop_reported_ && now - last_drop_report_ < drop_report_interval)) {
            ++coalesced_drops_;
            return;
        }
        store(Event{.kind = EventKind::dropped_packet, .detail = {}, .reason = reason});
        drop_pending_ = true;
        drop_reported_ = true;
        last_drop_report_ = now;
    }

    /// An event from an engine this one is built on (the DTLS channel under DTLS-SRTP,
    /// any engine under Secure<>): that engine rate-limited its drops already, so a drop
    /// is only folded into one still pending here; the rest keep their content.
    void absorb(Event e, Instant now) {
        if (e.kind != EventKind::dropped_packet) return store(std::move(e));
        if (drop_pending_) {
            ++coalesced_drops_;
            return;
        }
        store(std::move(e));
        drop_pending_ = drop_reported_ = true;
        last_drop_report_ = now;
    }

    std::optional<Event> pop() {
        auto e = events_.take_front();
        if (e && e->kind == EventKind::dropped_packet) drop_pending_ = false;
        return e;
    }

    std::size_t size() const noexcept { return events_.size(); }
    std::size_t capacity() const noexcept { return events_.capacity(); }
    /// Drops that did not get an event of their own (folded into a pending one).
    std::uint64_t coalesced_drops() const noexcept { return coalesced_drops_; }
    /// Events pushed out by newer ones because nobody read the queue.
    std::uint64_t discarded() const noexcept { return discarded_; }

private:
    void store(Event e) {
        if (events_.full()) {
            if (events_.front().kind == EventKind::dropped_packet) drop_pending_ = false;
            events_.pop_front();
            ++discarded_;
        }
        events_.push_back(std::move(e));
    }

    BoundedQueue<Event> events_;
    bool drop_pending_ = false;
    bool drop_reported_ = false;  // (a flag, not an optional: GCC 12 misreads the latter as uninitialized)
    Instant last_drop_report_{};
    std::uint64_t coalesced_drops_ = 0, discarded_ = 0;
};

}  // namespace tapsec
