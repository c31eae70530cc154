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
//
// The guard's fast path. Every map call enters and leaves a guard, so entering
// and leaving are inline (this header): no call frame, no check that the
// domain exists (the global epoch is a constant-initialised variable, valid
// before any static constructor and after every static destructor), and the
// thread's record reached through one thread-local pointer. On glibc that
// pointer uses initial-exec TLS: one %fs-relative load, where the default
// model for code in a shared object (the addon) calls __tls_get_addr on every
// access; it takes 8 bytes of the static TLS surplus glibc keeps for dlopen'd
// libraries (musl's dlopen refuses such a library, so there it is the default
// model). The pointer is declared constinit, so no TU runs a TLS-wrapper
// initialisation check to read it. Only a thread's first guard (no record
// yet) and a leave that finds `eager_bytes` of garbage call into epoch.cpp.
// A guard keeps the record it entered with, so leaving reads no TLS at all.
//
// Why the announcement is an exchange, and why it cannot be cheaper on x86.
// Entering must order the store of the announcement before the thread's
// later loads (of the global epoch, then of shared pointers): a store
// followed by a load to another address is the one reordering x86-TSO
// allows (the store waits in the store buffer while the load runs), and only
// a locked instruction or MFENCE forbids it. If it were allowed, an advancer
// could read this record as quiescent, advance twice and free an object
// while this thread, having loaded a pointer to it in the meantime, still
// uses it. The options on x86 are therefore: XCHG with memory (implicitly
// locked; what a seq_cst exchange compiles to), MOV + MFENCE (no faster
// than a locked instruction on current AMD and Intel cores, which is why
// Linux's smp_mb() uses a locked add to the stack instead), or MOV + a
// locked no-op on another line (LOCK OR of the stack: the same locked
// operation on a second line, so no cheaper). The record's line is owned by this
// thread (others only read it while advancing), so the XCHG hits L1 in most
// calls; its cost is the store-buffer drain that any of the three pays.
// Dropping the barrier from the reader altogether needs the advancer to
// make up for it (an asymmetric fence: membarrier(2)), which measured no
// faster per call and costs each advance several microseconds here
// (docs/benchmarks.md, architecture.md "Reclamation"). So the exchange stays;
// elsewhere the seq_cst exchange is followed by a seq_cst fence, since there
// (AArch64, say) a later load that is not itself seq_cst may be satisfied
// before the exchange's store is visible.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

// Initial-exec TLS where it is safe in a dlopen'd library (see above).
#if defined(__ELF__) && (defined(__GNUC__) || defined(__clang__)) && defined(__GLIBC__)
#define THREADMAP_INITIAL_EXEC_TLS __attribute__((tls_model("initial-exec")))
#else
#define THREADMAP_INITIAL_EXEC_TLS
#endif

namespace threadmap::epoch {

/// Retired bytes held by one thread past which leaving a guard tries to free.
inline constexpr std::size_t eager_bytes = std::size_t{64} << 10;

namespace detail {

inline constexpr std::uint64_t quiescent = ~std::uint64_t{0};

/// What a guard touches of a thread's record (the rest of the record is
/// epoch.cpp's). Owned by one thread at a time; other threads read only
/// `announced`, while advancing the epoch.
struct slot {
  std::atomic<std::uint64_t> announced{quiescent};
  unsigned depth = 0;
  // Bytes of the thread's retired items not yet freed (see eager_bytes).
  std::size_t garbage_bytes = 0;
};

/// The global epoch E. Constant-initialised, never destroyed (trivially).
extern constinit std::atomic<std::uint64_t> global;

/// The calling thread's record, or null before its first guard or retire.
extern thread_local constinit slot* t_slot THREADMAP_INITIAL_EXEC_TLS;

/// Takes a record for the calling thread (its first guard).
slot& adopt() noexcept;
/// Leaving with eager_bytes of garbage: tries to advance and free.
void leave_eager(slot& s) noexcept;

inline slot& current() noexcept {
  slot* s = t_slot;
  return __builtin_expect(s != nullptr, 1) ? *s : adopt();
}

}  // namespace detail

/// RAII critical section. Nests: only the outermost guard enters and leaves.
class guard {
 public:
  guard() noexcept : s_(detail::current()) {
    if (s_.depth++ != 0) return;
    std::uint64_t e = detail::global.load(std::memory_order_seq_cst);
    for (;;) {
      // A full barrier (see "Why the announcement is an exchange"): the
      // announcement is visible before this thread loads any shared pointer.
      // If the epoch moved meanwhile, announce the new one, so the announced
      // epoch is one that was current after the announcement.
      s_.announced.exchange(e, std::memory_order_seq_cst);
#if !defined(__x86_64__) && !defined(__i386__)
      std::atomic_thread_fence(std::memory_order_seq_cst);
#endif
      const std::uint64_t now = detail::global.load(std::memory_order_seq_cst);
      if (now == e) break;
      e = now;
    }
  }
  ~guard() {
    if (--s_.depth != 0) return;
    s_.announced.store(detail::quiescent, std::memory_order_release);
    // Outside the critical section now, so this thread no longer holds the
    // epoch back: with no other thread inside a guard, the epoch advances
    // there and the garbage is freed on the next exit.
    if (__builtin_expect(s_.garbage_bytes >= eager_bytes, 0)) detail::leave_eager(s_);
  }
  guard(const guard&) = delete;
  guard& operator=(const guard&) = delete;

 private:
  detail::slot& s_;
};
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
inline bool in_critical_section() noexcept {
  const detail::slot* s = detail::t_slot;
  return s != nullptr && s->depth != 0;
}

/// Objects retired and not yet freed, over all threads (tests and stats).
std::size_t pending() noexcept;

/// Retired objects that collection attempts have examined so far, freed or
/// kept, over all threads (tests: reclamation must cost O(1) per retirement).
std::size_t swept() noexcept;

/// Objects retire() could not record because allocation kept failing, and
/// which are therefore never freed (tests; zero unless memory ran out).
std::size_t lost() noexcept;

}  // namespace threadmap::epoch
