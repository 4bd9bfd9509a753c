// Heap allocations counted by a global operator new hook (defined once, in
// benchmarks/alloc_counter.cpp). Suites read the counter around a measured loop and
// print allocations per record next to throughput: the Core v2 contract is zero
// allocations per record on the data paths once warmed up.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace tapsec::bench {

/// Every operator new (all forms) since the program started, on any thread.
std::uint64_t allocations() noexcept;

/// Counts the allocations made while it lives.
class AllocationScope {
public:
    AllocationScope() noexcept : start_(allocations()) {}
    std::uint64_t count() const noexcept { return allocations() - start_; }

private:
    std::uint64_t start_;
};

/// Heap allocations per call of `body`, after a warm-up (what "allocs/record" columns print).
template <class Body>
double allocations_per_call(Body&& body, std::size_t calls = 10000) {
    for (int i = 0; i < 64; ++i) body();
    AllocationScope scope;
    for (std::size_t i = 0; i < calls; ++i) body();
    return static_cast<double>(scope.count()) / static_cast<double>(calls);
}

}  // namespace tapsec::bench
