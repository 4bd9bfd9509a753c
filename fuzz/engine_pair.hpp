// Shared by the whole-engine fuzz targets: a client engine and a server engine joined by
// a network the fuzzer controls. Short inputs still complete a real handshake (every
// byte of the input is an instruction to the network, and when the input runs out the
// network turns honest), so the fuzzer starts from the established state and from every
// state on the way, on both sides, instead of having to guess a valid ClientHello.
//
// Each instruction delivers, drops, corrupts, truncates, splits, replays, reorders or
// injects a unit (stream bytes or one datagram) in either direction, or makes one side
// send application data, close, or see time pass. Alerts and closes produced by the
// corrupted exchanges travel the same way, so both sides' alert handling is reached.
//
// An engine that returned an error is not fed again (Secure<> stops there too), but
// what it queued (its alert) is still delivered. Nothing may crash, hang, trip a
// sanitizer or throw; a finding is the only thing that stops a run.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <deque>
#include <fstream>
#include <string>
#include <vector>

#include <fuzzer/FuzzedDataProvider.h>

#include <tapsec/core/engine.hpp>

namespace tapsec::fuzz {

/// A reproducible stand-in for a CSPRNG (config.random): the same input takes the same
/// path on every run, so a finding replays exactly. Reset at the start of each input.
class DeterministicRandom {
public:
    void reset(std::uint64_t seed) { state_ = seed | 1; }
    void fill(MutableByteView out) {
        for (auto& b : out) {
            state_ ^= state_ << 13;
            state_ ^= state_ >> 7;
            state_ ^= state_ << 17;
            b = static_cast<std::uint8_t>(state_ >> 24);
        }
    }

private:
    std::uint64_t state_ = 1;
};

inline DeterministicRandom& deterministic_random() {
    static DeterministicRandom r;
    return r;
}

/// The wall clock the targets give their configurations: fixed, so ticket ages and
/// cookie lifetimes do not depend on when the fuzzer runs.
inline std::chrono::system_clock::time_point fixed_wall_clock() {
    return std::chrono::system_clock::time_point(std::chrono::seconds(1'700'000'000));
}

enum class Carrier { stream, datagram };

/// Seed generator (scripts/fuzz-seeds.sh): with TAPSEC_FUZZ_DUMP_DIR set, every unit
/// the network delivers is also written there as to-server-<n> / to-client-<n>: real
/// datagrams and stream flights for the single-parser targets' seed corpora.
inline void dump_unit(const Bytes& unit, bool to_server) {
    static const char* dir = std::getenv("TAPSEC_FUZZ_DUMP_DIR");
    static unsigned counter = 0;
    if (!dir) return;
    const std::string path = std::string(dir) + (to_server ? "/to-server-" : "/to-client-") + std::to_string(counter++);
    std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(unit.data()), static_cast<std::streamsize>(unit.size()));
}

template <class Client, class Server>
class EnginePair {
public:
    EnginePair(Client& client, Server& server, Carrier carrier)
        : client_(client), server_(server), carrier_(carrier) {}

    /// Application data the protocol accepts (an IP packet for a tunnel): sent by the
    /// "application data" instruction when it asks for it, and once at the end. Without
    /// probes, a few bytes of text (what a stream or TLS carries).
    void set_probes(Bytes client_to_server, Bytes server_to_client) {
        probe_to_server_ = std::move(client_to_server);
        probe_to_client_ = std::move(server_to_client);
    }

    static const Endpoint& client_address() {
        static const Endpoint e = *Endpoint::parse("127.0.0.1:40001");
        return e;
    }
    static const Endpoint& server_address() {
        static const Endpoint e = *Endpoint::parse("127.0.0.1:40002");
        return e;
    }

    /// Runs the instructions in `input`, then lets the honest network finish.
    void run(FuzzedDataProvider& input, std::size_t max_steps = 200) {
        if (client_.start(now_)) return;
        collect();
        for (std::size_t step = 0; step < max_steps && input.remaining_bytes() > 0; ++step) {
            instruct(input);
            collect();
        }
        // Honest network: deliver until both are established or nothing moves; a timer
        // fires only when the network is quiet and a side still waits (a lost flight).
        drain(16, [this] { return client_.is_established() && server_.is_established(); });
        // The established data path, once, on whatever state was reached.
        if (!client_failed_ && client_.is_established()) (void)client_.send(probe_to_server_, now_);
        if (!server_failed_ && server_.is_established()) (void)server_.send(probe_to_client_, now_);
        collect();
        drain(4, [] { return true; });
        // Then the timers (retransmission, keepalive, rekey, idle), a few rounds.
        drain(4, [] { return false; });
    }

private:
    void instruct(FuzzedDataProvider& input) {
        const auto op = input.ConsumeIntegral<std::uint8_t>();
        const bool to_server = op & 0x80;
        auto& queue = to_server ? to_server_ : to_client_;
        switch (op & 0x0f) {
            case 0:
            case 1:
            case 2:  // the common case: the network is honest
                if (!queue.empty()) deliver_front(queue, to_server);
                break;
            case 3:  // lose it
                if (!queue.empty()) queue.pop_front();
                break;
            case 4: {  // overwrite one byte
                if (queue.empty() || queue.front().empty()) break;
                auto& unit = queue.front();
                unit[input.ConsumeIntegralInRange<std::size_t>(0, unit.size() - 1)] = input.ConsumeIntegral<std::uint8_t>();
                deliver_front(queue, to_server);
                break;
            }
            case 5: {  // flip one bit (lengths, flags and types stay near valid values)
                if (queue.empty() || queue.front().empty()) break;
                auto& unit = queue.front();
                const auto bit = input.ConsumeIntegralInRange<std::size_t>(0, unit.size() * 8 - 1);
                unit[bit / 8] ^= static_cast<std::uint8_t>(1u << (bit % 8));
                deliver_front(queue, to_server);
                break;
            }
            case 6: {  // truncate
                if (queue.empty()) break;
                auto& unit = queue.front();
                unit.resize(input.ConsumeIntegralInRange<std::size_t>(0, unit.size()));
                deliver_front(queue, to_server);
                break;
            }
            case 7: {  // a stream arrives in two pieces; a datagram is cut in two datagrams
                if (queue.empty() || queue.front().size() < 2) break;
                Bytes unit = std::move(queue.front());
                queue.pop_front();
                const auto cut = input.ConsumeIntegralInRange<std::size_t>(1, unit.size() - 1);
                receive(Bytes(unit.begin(), unit.begin() + static_cast<std::ptrdiff_t>(cut)), to_server);
                receive(Bytes(unit.begin() + static_cast<std::ptrdiff_t>(cut), unit.end()), to_server);
                break;
            }
            case 8: {  // replay something seen earlier in that direction
                const auto& seen = to_server ? seen_by_server_ : seen_by_client_;
                if (seen.empty()) break;
                receive(seen[input.ConsumeIntegralInRange<std::size_t>(0, seen.size() - 1)], to_server);
                break;
            }
            case 9:  // reorder: the second unit overtakes the first
                if (queue.size() >= 2) {
                    std::swap(queue[0], queue[1]);
                    deliver_front(queue, to_server);
                }
                break;
            case 10: {  // bytes from nowhere (or spliced before the next unit on a stream)
                Bytes injected = input.ConsumeBytes<std::uint8_t>(input.ConsumeIntegralInRange<std::size_t>(0, 1500));
                receive(injected, to_server);
                break;
            }
            case 11: {  // application data (before, during or after the handshake)
                Bytes data = input.ConsumeBool()
                                 ? (to_server ? probe_to_server_ : probe_to_client_)
                                 : input.ConsumeBytes<std::uint8_t>(input.ConsumeIntegralInRange<std::size_t>(0, 20000));
                if (to_server) {
                    if (!client_failed_) (void)client_.send(data, now_);
                } else if (!server_failed_) {
                    (void)server_.send(data, now_);
                }
                break;
            }
            case 12:  // an orderly close from one side
                if (to_server) {
                    if (!client_failed_) (void)client_.close(now_);
                } else if (!server_failed_) {
                    (void)server_.close(now_);
                }
                break;
            case 13:  // time passes: retransmissions, timeouts, key and ticket ages
                now_ += std::chrono::milliseconds(input.ConsumeIntegralInRange<int>(1, 120'000));
                (void)advance_timers(false);
                break;
            default:  // duplicate the next unit (datagram duplication; a stream sees the bytes twice)
                if (!queue.empty()) {
                    Bytes copy = queue.front();
                    deliver_front(queue, to_server);
                    receive(copy, to_server);
                }
                break;
        }
    }

    /// Delivers everything queued, both ways, for up to `rounds` rounds; when the network
    /// is quiet, stops if `done()` and otherwise lets the next timer fire.
    template <class Done>
    void drain(int rounds, Done done) {
        for (int round = 0; round < rounds; ++round) {
            if (to_server_.empty() && to_client_.empty()) {
                if (done() || !advance_timers()) return;
                continue;
            }
            while (!to_server_.empty()) deliver_front(to_server_, true);
            while (!to_client_.empty()) deliver_front(to_client_, false);
            collect();
        }
    }

    /// Fires every timer that is due (or, with `jump`, the earliest one).
    bool advance_timers(bool jump = true) {
        auto next = client_.next_timeout();
        if (auto s = server_.next_timeout(); s && (!next || *s < *next)) next = s;
        if (!next) return false;
        if (jump && *next > now_) now_ = *next;
        if (auto t = client_.next_timeout(); t && *t <= now_ && !client_failed_) client_failed_ = bool(client_.on_timeout(now_));
        if (auto t = server_.next_timeout(); t && *t <= now_ && !server_failed_) server_failed_ = bool(server_.on_timeout(now_));
        collect();
        return true;
    }

    void deliver_front(std::deque<Bytes>& queue, bool to_server) {
        Bytes unit = std::move(queue.front());
        queue.pop_front();
        receive(unit, to_server);
    }

    void receive(const Bytes& unit, bool to_server) {
        dump_unit(unit, to_server);
        if (to_server) {
            seen_by_server_.push_back(unit);
            if (!server_failed_) server_failed_ = bool(server_.receive(unit, client_address(), now_));
        } else {
            seen_by_client_.push_back(unit);
            if (!client_failed_) client_failed_ = bool(client_.receive(unit, server_address(), now_));
        }
        if (seen_by_server_.size() > 64) seen_by_server_.pop_front();
        if (seen_by_client_.size() > 64) seen_by_client_.pop_front();
    }

    /// Everything both sides want to send goes into the network; what they hand the
    /// application and report is taken (and must be well-formed enough to copy).
    void collect() {
        while (auto t = client_.poll_transmit()) to_server_.push_back(std::move(t->data));
        while (auto t = server_.poll_transmit()) to_client_.push_back(std::move(t->data));
        while (client_.poll_application_data()) {
        }
        while (server_.poll_application_data()) {
        }
        while (client_.poll_event()) {
        }
        while (server_.poll_event()) {
        }
        (void)client_.session_info();
        (void)server_.session_info();
        if (carrier_ == Carrier::stream) {
            // A stream delivers in order: the queue is one run of bytes per flight.
            coalesce(to_server_);
            coalesce(to_client_);
        }
    }

    static void coalesce(std::deque<Bytes>& queue) {
        while (queue.size() > 8) {
            Bytes last = std::move(queue.back());
            queue.pop_back();
            queue.back().insert(queue.back().end(), last.begin(), last.end());
        }
    }

    Client& client_;
    Server& server_;
    Carrier carrier_;
    Instant now_ = Instant{} + std::chrono::seconds(1000);
    std::deque<Bytes> to_server_, to_client_;
    std::deque<Bytes> seen_by_server_, seen_by_client_;
    bool client_failed_ = false, server_failed_ = false;
    Bytes probe_to_server_{'p', 'i', 'n', 'g'}, probe_to_client_{'p', 'o', 'n', 'g'};
};

}  // namespace tapsec::fuzz
