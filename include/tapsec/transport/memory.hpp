// In-process transports for tests and benchmarks: MemoryStream (a pair of
// connected byte pipes) and MemoryDatagram (a pair of datagram queues with seeded
// loss, reordering and duplication). Thread-safe: each end may live on its own thread.
#pragma once

#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <random>
#include <utility>

#include "../core/dependencies.hpp"
#include "../core/features.hpp"

namespace tapsec {

namespace transport_detail {

/// One direction of a pipe: bytes or datagrams, with close.
template <class Item>
struct Channel {
    std::mutex mutex;
    std::condition_variable ready;
    std::deque<Item> items;
    bool closed = false;

    void push(Item item) {
        {
            std::lock_guard lock(mutex);
            if (closed) return;
            items.push_back(std::move(item));
        }
        ready.notify_all();
    }
    void close() {
        {
            std::lock_guard lock(mutex);
            closed = true;
        }
        ready.notify_all();
    }
};

}  // namespace transport_detail

class MemoryStream {
public:
    static constexpr std::string_view name = "MemoryStream";
    using offers = dependencies<dependency::reliable_byte_stream>;
    using provides = features<>;

    /// Two connected ends.
    static std::pair<MemoryStream, MemoryStream> pair() {
        auto a = std::make_shared<transport_detail::Channel<Bytes>>();
        auto b = std::make_shared<transport_detail::Channel<Bytes>>();
        return {MemoryStream(a, b), MemoryStream(b, a)};
    }

    Result<std::size_t> read_some(MutableByteView out, Instant deadline) {
        std::unique_lock lock(in_->mutex);
        if (!in_->ready.wait_until(lock, deadline, [&] { return !in_->items.empty() || in_->closed; }))
            return Errc::timed_out;
        if (in_->items.empty()) return std::size_t{0};  // end of stream
        auto& front = in_->items.front();
        const std::size_t n = std::min(out.size(), front.size() - front_offset_);
        std::copy_n(front.begin() + static_cast<std::ptrdiff_t>(front_offset_), n, out.begin());
        front_offset_ += n;
        if (front_offset_ == front.size()) {
            in_->items.pop_front();
            front_offset_ = 0;
        }
        return n;
    }

    std::error_code write_all(ByteView data) {
        {
            std::lock_guard lock(out_->mutex);
            if (out_->closed) return Errc::connection_reset;
        }
        if (!data.empty()) out_->push(Bytes(data.begin(), data.end()));
        return {};
    }

    void close() {
        if (out_) out_->close();
    }
    Endpoint peer_endpoint() const { return {}; }

private:
    MemoryStream(std::shared_ptr<transport_detail::Channel<Bytes>> in,
                 std::shared_ptr<transport_detail::Channel<Bytes>> out)
        : in_(std::move(in)), out_(std::move(out)) {}
    std::shared_ptr<transport_detail::Channel<Bytes>> in_, out_;
    std::size_t front_offset_ = 0;
};

/// Impairments applied to each datagram sent, drawn from a seeded generator so a
/// failing run can be replayed exactly.
struct NetworkImpairment {
    double loss = 0.0;         // probability a datagram is dropped
    double reorder = 0.0;      // probability it is delivered after the next one
    double duplicate = 0.0;    // probability it is delivered twice
    std::uint64_t seed = 1;
};

class MemoryDatagram {
public:
    static constexpr std::string_view name = "MemoryDatagram";
    using offers = dependencies<dependency::datagram>;
    using provides = features<>;

    static std::pair<MemoryDatagram, MemoryDatagram> pair(NetworkImpairment impairment = {}) {
        auto a = std::make_shared<transport_detail::Channel<Bytes>>();
        auto b = std::make_shared<transport_detail::Channel<Bytes>>();
        NetworkImpairment second = impairment;
        second.seed = impairment.seed * 0x9E3779B97F4A7C15ull + 1;
        return {MemoryDatagram(a, b, impairment, *Endpoint::parse("127.0.0.2:1")),
                MemoryDatagram(b, a, second, *Endpoint::parse("127.0.0.1:1"))};
    }

    Result<std::size_t> receive_from(MutableByteView out, Instant deadline, Endpoint& from) {
        for (;;) {
            std::unique_lock lock(in_->mutex);
            if (!in_->ready.wait_until(lock, deadline, [&] { return !in_->items.empty() || in_->closed; }))
                return Errc::timed_out;
            if (in_->items.empty()) return Errc::connection_reset;
            Bytes d = std::move(in_->items.front());
            in_->items.pop_front();
            if (d.size() > out.size()) continue;  // oversized: dropped, like a real socket with MSG_TRUNC
            std::copy(d.begin(), d.end(), out.begin());
            from = peer_;
            return d.size();
        }
    }

    std::error_code send_to(ByteView data, const Endpoint&) {
        std::uniform_real_distribution<double> coin(0.0, 1.0);
        Bytes d(data.begin(), data.end());
        if (coin(rng_) < impairment_.loss) return {};
        if (held_) {  // a datagram held back for reordering goes out after this one
            out_->push(d);
            out_->push(std::move(*held_));
            held_.reset();
            return {};
        }
        if (coin(rng_) < impairment_.reorder) {
            held_ = std::move(d);
            return {};
        }
        if (coin(rng_) < impairment_.duplicate) out_->push(d);
        out_->push(std::move(d));
        return {};
    }

    void close() {
        if (out_) out_->close();
    }
    Endpoint peer_endpoint() const { return peer_; }
    void set_peer_endpoint(const Endpoint& e) { peer_ = e; }

private:
    MemoryDatagram(std::shared_ptr<transport_detail::Channel<Bytes>> in,
                   std::shared_ptr<transport_detail::Channel<Bytes>> out, NetworkImpairment impairment, Endpoint peer)
        : in_(std::move(in)), out_(std::move(out)), impairment_(impairment), rng_(impairment.seed), peer_(peer) {}
    std::shared_ptr<transport_detail::Channel<Bytes>> in_, out_;
    NetworkImpairment impairment_;
    std::mt19937_64 rng_;
    Endpoint peer_;
    std::optional<Bytes> held_;
};

}  // namespace tapsec
