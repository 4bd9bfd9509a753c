// Datagrams an engine has produced and its driver has not sent yet. One mechanism for
// every datagram engine that addresses peers itself (WireGuard, IKEv2+ESP): a bounded
// queue whose slots keep their buffers, filled in place (a packet is sealed straight
// into its slot) and drained through both poll_transmit forms of core/engine.hpp.
#pragma once

#include <cstring>
#include <optional>

#include "bounded_queue.hpp"
#include "engine.hpp"

namespace tapsec {

class DatagramOutbox {
public:
    struct Slot {
        Bytes data;
        std::optional<Endpoint> to;
    };

    explicit DatagramOutbox(std::size_t capacity) : queue_(capacity) {}

    /// The slot to fill in place before commit(), or null when the driver has let the
    /// queue fill (counted in overflows(): the datagram is lost, as on a full socket).
    Slot* reserve() {
        Slot* slot = queue_.reserve_back();
        if (!slot) ++overflows_;
        return slot;
    }
    /// Makes the slot reserve() returned the next datagram to send.
    void commit() { queue_.commit_back(); }

    /// Queues a copy of `datagram` for `to`; false when the queue is full.
    bool push(ByteView datagram, std::optional<Endpoint> to) {
        Slot* slot = reserve();
        if (!slot) return false;
        slot->data.assign(datagram.begin(), datagram.end());
        slot->to = std::move(to);
        commit();
        return true;
    }

    /// The owning form of poll_transmit: a copy (the slot keeps its buffer).
    std::optional<Transmit> poll() {
        if (queue_.empty()) return std::nullopt;
        const Slot& front = queue_.front();
        Transmit t{Bytes(front.data.begin(), front.data.end()), front.to};
        queue_.pop_front();
        return t;
    }
    /// The caller-buffer form: copied into `out`, which must hold max_transmit_size
    /// bytes (a smaller one receives nothing).
    std::optional<TransmitInfo> poll_into(MutableByteView out) {
        if (queue_.empty() || out.size() < queue_.front().data.size()) return std::nullopt;
        const Slot& front = queue_.front();
        std::memcpy(out.data(), front.data.data(), front.data.size());
        TransmitInfo info{front.data.size(), front.to};
        queue_.pop_front();
        return info;
    }

    std::size_t size() const noexcept { return queue_.size(); }
    bool empty() const noexcept { return queue_.empty(); }
    /// Datagrams lost because the queue was full.
    std::uint64_t overflows() const noexcept { return overflows_; }

private:
    BoundedQueue<Slot> queue_;
    std::uint64_t overflows_ = 0;
};

}  // namespace tapsec
