// threadmap/detail/revision.hpp — the map's revision clock: the one helper
// every strategy calls to stamp a write (etcd's mod revision).
//
// WHAT REVISIONS PROMISE (threadmap/map.hpp states it for users of the core):
//   R1 unique: no two writes of one map get the same revision; revisions
//      start at 1 (0 means "none").
//   R2 real time: if write A was acknowledged (returned) before write B was
//      called, in any threads, rev(A) < rev(B).
//   R3 per key: the writes of one key (put, inserting put_if_absent,
//      compare_and_set that changes, add, erase, clear) have increasing
//      revisions in the order they took effect, so the newest version of an
//      entry has the largest revision it ever had. One exception, the
//      clear() of lockfree and ordered: it swaps generations in one step
//      while writes may still finish in the old one; such a write, whose
//      value is gone with the old generation, may carry a revision above
//      the clear's. Both draw the clear's revision before the swap, so
//      every write that takes effect in the new generation, and so every
//      value the map holds after the clear, carries a revision above it.
//      (Watch, issue 18, must drop the old generation's late events.)
//   R4 locking strategies (mutex, rwlock, striped): revision order is a
//      linearization order of all writes, i.e. the map passed through the
//      state "every write with revision <= R applied" for every R. The
//      lock-free write paths (lockfree, readmostly's updates of keys in its
//      read table, ordered's CASes and its links under per-node locks) give
//      R1-R3 only: two writes of different keys in flight at once may take
//      effect in the other order than their revisions.
// `revision()` is the last revision drawn: every write acknowledged before
// the call has a revision <= it (R2's argument below, with the call in B's
// place).
//
// THE PROTOCOL. One 64-bit counter per map; next() is a fetch_add, so the
// counter's modification order is a total order of draws that agrees with
// real time (a draw that happens after another returned reads its result).
// Where a strategy draws is what carries R2-R4:
//   - every write draws inside its own call, after it started and before it
//     returns, so R2 follows from the counter's order (A's draw precedes
//     A's return precedes B's call precedes B's draw);
//   - the locking strategies draw inside the write section that publishes
//     the change (the stripe lock held, the flat table's version odd), where
//     no reader or writer of that stripe can act: the draw is the write's
//     linearization point, so R3 and R4 hold (clear() draws with every
//     stripe's section open);
//   - the compare-and-swap strategies draw after loading the word they will
//     replace and before the CAS that replaces it, and draw again whenever
//     the CAS fails. A successful CAS replaced exactly the word loaded (node
//     pointers are never reused while the writer's epoch guard is open,
//     deleted states carry their revision so no two are equal, and the
//     initial empty state never recurs), so the write it replaced was
//     published by a CAS before the load, its revision drawn before that:
//     R3. ordered's marked (erased) word is final, so its erases need no
//     tag; its inserts draw under the locks that validate the key's absence
//     (detail/ordered.hpp, REVISIONS). readmostly's clear() draws after it
//     has expunged every entry (an update that beat the expunging drew
//     before it) and its locked paths draw under the lock.
//
// COST. A write pays one atomic fetch_add on a line shared by every writer
// of the map (docs/benchmarks.md, "Revisions", has the figures with two
// writing threads against a build whose clock is per thread). The counter
// sits alone on its cache line so that the line it bounces is its own.
// LAST DRAWN. next() also leaves its result in a thread-local word, so the
// watch layer (threadmap/watch.hpp) learns the revision of a delete or a
// clear, which no entry keeps, from the thread that made it: every write
// draws last the revision it publishes (a failed CAS draws again). One
// store to initial-exec TLS per write.
// BOUND. Revisions stay below 2^56: the flat table keeps a wide entry's last
// byte in the low byte of the word that holds its revision (flat_table.hpp). At a
// billion writes a second to one map that is more than two years; the
// JavaScript layer, which reads revisions as numbers, is exact only below
// 2^53 anyway.
// A MAP WITHOUT REVISIONS (options::revisions false; mutex, rwlock and
// striped only: supports_skipping_revisions in map.hpp). Its clock is made
// off and next() returns 0 without touching the counter: no write stores to
// the shared line, which then stays in every core's cache, read-only. Such a
// map promises none of R1-R4: every entry and every write carries 0. The
// consumers of revisions refuse it (watch, snapshots, the read cache, the
// binding's revision and revisionOf), and the flat table's use of the word
// (a wide entry's last byte beside it) is unchanged by 0.
// THREADMAP_UNSHARED_REVISIONS (bench builds only) replaces it with a
// per-thread counter: the same instructions without the shared line, which
// breaks R1-R4 and exists only to measure what the shared line costs.
#pragma once

#include <atomic>
#include <cstdint>

#include "threadmap/detail/padding.hpp"

namespace threadmap::detail {

// Initial-exec where the loader serves it to a dlopen()ed library (glibc;
// epoch.cpp says why), so the store is one %fs-relative mov.
#if defined(__ELF__) && (defined(__GNUC__) || defined(__clang__)) && defined(__GLIBC__)
inline thread_local std::uint64_t t_last_drawn __attribute__((tls_model("initial-exec"))) = 0;
#else
inline thread_local std::uint64_t t_last_drawn = 0;
#endif

class alignas(cache_line) revision_clock {
 public:
  /// `on` false: a map that keeps no revisions (every draw is 0).
  explicit revision_clock(bool on = true) noexcept : on_(on) {}

  /// Stamps one write: a revision larger than every one drawn before (0 on
  /// a clock that is off).
  std::uint64_t next() noexcept {
    if (!on_) return 0;
#ifdef THREADMAP_UNSHARED_REVISIONS
    thread_local std::uint64_t own = 0;
    return t_last_drawn = ++own;
#else
    return t_last_drawn = last_.fetch_add(1, std::memory_order_acq_rel) + 1;
#endif
  }
  /// The revision the calling thread drew last, from any map (0: none yet).
  static std::uint64_t last_drawn() noexcept {
    return t_last_drawn;
  }
  /// The last revision drawn (0 before any write, and always when off).
  std::uint64_t latest() const noexcept {
    return last_.load(std::memory_order_acquire);
  }
  /// Whether the map keeps revisions.
  bool on() const noexcept {
    return on_;
  }

 private:
  std::atomic<std::uint64_t> last_{0};
  // Beside the counter: when on, a write takes the line for the fetch_add
  // anyway; when off, nothing writes the line.
  const bool on_;
};

static_assert(sizeof(revision_clock) == cache_line);

}  // namespace threadmap::detail
