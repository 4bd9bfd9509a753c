// Run-time benchmark harness: each protocol adds benchmarks/<protocol>_bench.cpp
// registering a suite. Figures are reported as rates and as ratios against a
// reference measured in the same run (the raw primitive, OpenSSL, libsrtp2), never
// as assertions. `tapsec_bench [suite...]` prints a Markdown table; --csv FILE too.
#pragma once

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace tapsec::bench {

struct Measurement {
    std::uint64_t iterations = 0;
    double seconds = 0;
    double per_second() const { return seconds > 0 ? static_cast<double>(iterations) / seconds : 0; }
};

/// Calls `body` in growing batches until at least `min_time` has passed.
template <class Body>
Measurement measure(Body&& body, std::chrono::milliseconds min_time = std::chrono::milliseconds(700)) {
    using clock = std::chrono::steady_clock;
    for (int i = 0; i < 3; ++i) body();  // warm-up
    Measurement m;
    std::uint64_t batch = 1;
    const auto start = clock::now();
    for (;;) {
        for (std::uint64_t i = 0; i < batch; ++i) body();
        m.iterations += batch;
        m.seconds = std::chrono::duration<double>(clock::now() - start).count();
        if (m.seconds * 1000 >= static_cast<double>(min_time.count())) return m;
        if (batch < (1u << 20)) batch *= 2;
    }
}

/// The machine is shared: measure the candidates in interleaved rounds and keep each
/// one's best rate, so a burst of load elsewhere does not skew one side of a ratio.
template <class... Bodies>
std::array<double, sizeof...(Bodies)> best_of_interleaved(int rounds, Bodies&... bodies) {
    std::array<double, sizeof...(Bodies)> best{};
    for (int r = 0; r < rounds; ++r) {
        std::size_t i = 0;
        ((best[i] = std::max(best[i], measure(bodies, std::chrono::milliseconds(300)).per_second()), ++i), ...);
    }
    return best;
}

struct Row {
    std::string suite, name;
    double value;
    std::string unit;
    std::string note;
};

class Report {
public:
    explicit Report(std::string suite) : suite_(std::move(suite)) {}
    void value(std::string name, double v, std::string unit, std::string note = {}) {
        rows_.push_back({suite_, std::move(name), v, std::move(unit), std::move(note)});
    }
    /// A ratio ours/reference, e.g. record throughput / raw AEAD.
    void ratio(std::string name, double ours, double reference, std::string note = {}) {
        rows_.push_back({suite_, std::move(name), reference > 0 ? ours / reference : 0, "x", std::move(note)});
    }
    const std::vector<Row>& rows() const { return rows_; }

private:
    std::string suite_;
    std::vector<Row> rows_;
};

struct Suite {
    std::string name;
    std::string description;
    std::function<void(Report&)> run;
};

inline std::vector<Suite>& suites() {
    static std::vector<Suite> all;
    return all;
}

struct Registration {
    explicit Registration(Suite s) { suites().push_back(std::move(s)); }
};

}  // namespace tapsec::bench
