// Run-time benchmark harness: each protocol adds benchmarks/<protocol>_bench.cpp
// registering a suite. Figures are reported as rates and as ratios against a
// reference measured in the same run (the raw primitive, OpenSSL, libsrtp2), never
// as assertions. `tapsec_bench [suite...]` prints a Markdown table; --csv FILE too.
#pragma once

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <cstdio>
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

/// Pairs of short runs, the sides alternating within each pair (and which goes first
/// alternating between pairs), so that a change of load on the shared machine hits
/// every side alike; one rate per side per pair. Ratios are then taken within a pair.
constexpr int interleaved_pair_count = 7;

template <class... Bodies>
std::array<std::vector<double>, sizeof...(Bodies)> interleaved_pairs(Bodies&... bodies) {
    std::array<std::vector<double>, sizeof...(Bodies)> rates;
    std::array<std::function<double()>, sizeof...(Bodies)> runs{
        std::function<double()>([&bodies] { return measure(bodies, std::chrono::milliseconds(300)).per_second(); })...};
    for (int pair = 0; pair < interleaved_pair_count; ++pair)
        for (std::size_t k = 0; k < runs.size(); ++k) {
            const std::size_t i = pair % 2 ? runs.size() - 1 - k : k;
            rates[i].push_back(runs[i]());
        }
    return rates;
}

struct Spread {
    double median, low, high;
};
inline Spread spread(std::vector<double> v) {
    if (v.empty()) return {0, 0, 0};
    std::sort(v.begin(), v.end());
    return {v[v.size() / 2], v.front(), v.back()};
}
/// Per-pair ratios ours[i] / theirs[i].
inline Spread ratio_spread(const std::vector<double>& ours, const std::vector<double>& theirs) {
    std::vector<double> r;
    for (std::size_t i = 0; i < ours.size() && i < theirs.size(); ++i) r.push_back(theirs[i] > 0 ? ours[i] / theirs[i] : 0);
    return spread(std::move(r));
}
inline std::string range_note(const Spread& s, const char* unit) {
    char text[160];
    std::snprintf(text, sizeof text, "median of %d interleaved pairs, range %.3f-%.3f%s", interleaved_pair_count, s.low,
                  s.high, unit);
    return text;
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
