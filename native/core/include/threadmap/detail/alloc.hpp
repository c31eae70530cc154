// threadmap/detail/alloc.hpp — the core's one door to the heap, and the
// fault-injection hook the allocation-failure tests open it with.
//
// Why. Every operation of every strategy promises that when memory runs out
// it reports failure (memory_limit, or std::bad_alloc from the allocator) and
// changes nothing. Such paths never run in ordinary tests, so they rot: a
// failure part-way through a rebuild can leave a table half built. The fault
// tests (test/native/faults.test.cpp), after Boost.Unordered's exception
// tests, make the k-th allocation of one operation fail, for k = 0, 1, 2, ...
// until the operation completes, and check each time that the map is
// unchanged and consistent.
//
// The door. The core's own raw allocations (flat-table blobs, lockfree key and
// value nodes, readmostly value nodes) call detail::allocate(n) instead of
// std::malloc, and numa::allocate (every table array) asks
// detail::fail_allocation() first, so one hook reaches all of them. Memory
// from operator new (containers, make_shared, epoch bookkeeping) is reached by
// the test executable itself: it replaces the global operator new and asks the
// same hook, so both kinds of allocation share one count. Production code
// never replaces operator new.
//
// Protocol. fault_injection::arm(k) makes the calling thread count its
// allocations from then on and fail the one numbered k (0: the next);
// disarm() stops and reports how many there were and whether one failed.
// Counting is per thread, so a test's own helper threads (none today) and
// sanitizer runtimes cannot shift the count. `armed` is the number of threads
// that are armed: when it is zero (always, outside the fault tests) the hook
// costs one relaxed load of a word that is never written, and one branch
// that is always predicted; the per-thread state is only looked at when it is
// non-zero. A build defining THREADMAP_NO_FAULT_HOOK compiles the hook out
// (docs/architecture.md, "Checking concurrency", compares the two).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdlib>

namespace threadmap {

namespace fault_injection {

/// Arms the calling thread: its allocations are counted from now on, and the
/// one numbered `fail_at` (0: the next) fails. never: count only.
inline constexpr std::uint64_t never = ~std::uint64_t{0};
void arm(std::uint64_t fail_at) noexcept;

struct report {
  std::uint64_t allocations = 0;  // counted since arm(), the failed one included
  bool failed = false;            // the allocation numbered fail_at was reached
};
/// Disarms the calling thread (a no-op when it is not armed).
report disarm() noexcept;

}  // namespace fault_injection

namespace detail {

namespace fault {
// Threads armed right now; written only by arm() and disarm().
extern std::atomic<unsigned> armed;
// The armed thread's count: true when this allocation is the one to fail.
bool fail_armed() noexcept;
}  // namespace fault

/// True when the allocation about to be made must fail (fault tests only).
inline bool fail_allocation() noexcept {
#if defined(THREADMAP_NO_FAULT_HOOK)
  return false;
#else
  return __builtin_expect(fault::armed.load(std::memory_order_relaxed) != 0, 0) &&
         fault::fail_armed();
#endif
}

/// std::malloc through the hook: nullptr when the system or the hook refuses.
/// Free with std::free.
inline void* allocate(std::size_t n) noexcept {
  return fail_allocation() ? nullptr : std::malloc(n);
}

}  // namespace detail
}  // namespace threadmap
