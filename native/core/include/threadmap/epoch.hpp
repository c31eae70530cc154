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
// happens inside calls (every few retirements, and when a guard is left with
// garbage pending), never through a function users must remember to call.
// Threads that exit hand their pending garbage to a global orphan list.
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

/// Frees `p` with `deleter(p)` once no guard that was active at the call can
/// still be running. The deleter must not touch any object but `p` (it may run
/// on another thread, after the map that retired it is gone).
void retire(void* p, void (*deleter)(void*));

/// Waits until every guard active at the call has ended, then frees all
/// garbage that became safe, this thread's and orphaned. Must not be called
/// inside a guard (it would wait for itself); returns at once if it is.
void synchronize();

/// True when the calling thread is inside a guard.
bool in_critical_section() noexcept;

/// Objects retired and not yet freed, over all threads (tests and stats).
std::size_t pending() noexcept;

}  // namespace threadmap::epoch
