// threadmap/epoch.hpp — epoch-based reclamation (EBR), one domain per process.
//
// Why: readers of the striped and (later) lock-free tables dereference table
// arrays and out-of-line entries without taking a lock, so a writer that
// replaces one cannot free it at once. It retires it instead, and the memory is
// freed when every thread that could still hold a pointer to it has left the
// critical section it was in.
//
// Protocol. A global epoch E. Each thread owns a record on its own cache line
// holding the epoch it entered at, or "quiescent". Entering stores E into the
// record with a sequentially consistent store (so the store is ordered before
// the thread's later loads of shared pointers); leaving stores quiescent with
// release. A retired pointer is tagged with E at retirement. E may advance to
// E+1 only when every active record shows E. An object retired in epoch e is
// unreachable for all readers once E >= e + 2: any reader that could have seen
// it entered at e or e + 1 ... and must have left for E to pass e + 1.
//
// Readers write only their own record (no shared cache line). Reclamation
// happens inside calls, never through a function users must remember to call:
// every few retirements, and when the outermost guard is left while the
// thread holds at least `eager_bytes` of retired memory (a table array
// replaced by growth, say). Without the second rule a thread that grows a
// table and then only reads or writes inline entries would keep every old
// array until 64 more retirements: a map grown from empty to 1M entries held
// its old arrays beside the live one (117.5 against 66 B/entry RSS). Only
// threads with that much garbage pay for the attempt, and only when the epoch
// has moved since their last one (or every 64 calls), so a thread held back
// by another's long call does not retry on every call; two calls suffice on
// a quiet map (one advances the epoch past the retirement, the next frees).
// Threads that exit hand their pending garbage to a global orphan list.
//
// Cost. A thread's garbage is kept in retirement order, in which epochs never
// decrease (the orphan list is merged in that order too), so what a global
// epoch makes safe is a prefix: an attempt to free examines the items it
// frees and one more. A call that retires many items inside one guard (a
// clear() of a large map, none of whose items can be freed before the guard
// ends) therefore pays O(1) per retirement, not a rescan of everything still
// pending every few retirements.
#pragma once

#include <cstddef>

namespace threadmap::epoch {

/// RAII critical section. Nests: only the outermost guard enters and leaves.
class guard {
 public:
  guard() noexcept;
  ~guard();
  guard(const guard&) = delete;
  guard& operator=(const guard&) = delete;
};

/// Retired bytes held by one thread past which leaving a guard tries to free.
inline constexpr std::size_t eager_bytes = std::size_t{64} << 10;

/// Frees `p` with `deleter(p)` once no guard that was active at the call can
/// still be running. The deleter must not touch any object but `p` (it may run
/// on another thread, after the map that retired it is gone). `bytes` is what
/// freeing `p` returns (0 when small or unknown): it decides how soon the
/// thread tries to free (see eager_bytes), never whether it is safe to.
/// Never throws: callers retire after their operation has taken effect. It
/// allocates only ahead of need (growing the thread's list after the push
/// that fills it); when that growth failed, the item waits in one of a few
/// spare slots, and only when those are full too is it never freed.
void retire(void* p, void (*deleter)(void*), std::size_t bytes = 0) noexcept;

/// Waits until every guard active at the call has ended, then frees all
/// garbage that became safe, this thread's and orphaned. Must not be called
/// inside a guard (it would wait for itself); returns at once if it is.
void synchronize();

/// True when the calling thread is inside a guard.
bool in_critical_section() noexcept;

/// Objects retired and not yet freed, over all threads (tests and stats).
std::size_t pending() noexcept;

/// Retired objects that collection attempts have examined so far, freed or
/// kept, over all threads (tests: reclamation must cost O(1) per retirement).
std::size_t swept() noexcept;

/// Objects retire() could not record because allocation kept failing, and
/// which are therefore never freed (tests; zero unless memory ran out).
std::size_t lost() noexcept;

}  // namespace threadmap::epoch
