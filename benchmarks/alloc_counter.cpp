// The global operator new hook behind alloc_counter.hpp. Replacing the throwing and
// aligned forms is enough: the nothrow and array forms call them by default.
#include "alloc_counter.hpp"

#include <cstdlib>
#include <new>

namespace {
std::atomic<std::uint64_t> allocation_count{0};
}

std::uint64_t tapsec::bench::allocations() noexcept { return allocation_count.load(std::memory_order_relaxed); }

void* operator new(std::size_t size) {
    allocation_count.fetch_add(1, std::memory_order_relaxed);
    if (void* p = std::malloc(size ? size : 1)) return p;
    throw std::bad_alloc();
}
void* operator new(std::size_t size, std::align_val_t align) {
    allocation_count.fetch_add(1, std::memory_order_relaxed);
    const auto a = static_cast<std::size_t>(align);
    if (void* p = std::aligned_alloc(a, (size + a - 1) / a * a)) return p;
    throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
