// threadmap/snapshot.hpp — a consistent, read-only copy of a map at one
// revision, refreshed incrementally from the map's change log (issue 18,
// part 2; the Kubernetes scheduler's cache snapshot, on etcd's revisions).
//
// Two ways to take one. LAZY (below; the default on mutex, rwlock and
// striped, whose units are flat tables) copies nothing up front: it claims
// every stripe, and the first write that changes a stripe copies it first.
// EAGER (every other strategy, and copy: 'eager') copies every unit before
// take() returns, as described first.
//
// TAKING ONE EAGERLY. (1) Open a subscription to every key from now (watch.hpp):
// from here on every write is logged. (2) Copy the map unit by unit with
// copy_unit() (each unit read atomically, never the whole map at once; see
// THE COPY below for what writers wait for). (3) Cut the log
// (change_log::barrier: every key lock taken for the time of two loads),
// giving a ring position P and a revision R. (4) Apply the events between
// the subscription's cursor and P, in ring order, to the copy.
//
// CLAIM. Afterwards the copy holds, for every key k, the state the newest
// write of k with a revision <= R left (absent when that was a delete or a
// clear, or when no write of k has a revision <= R), and nothing else.
// PROOF. A logged write holds its key lock from before its revision is
// drawn until after its append (watch.hpp), and the barrier holds every key
// lock while it reads P and R; so a write with revision <= R appended before
// P, and a write appended before P drew before the barrier, so its revision
// is <= R: the events before P are exactly the writes with revisions <= R
// that were logged, which after the subscription (1) are all writes with
// revisions <= R done since (1). Take a key k.
//   (a) Some write of k has its event in [cursor, P). Events of one key are
//       appended in revision order (L2), so the last of them in ring order
//       is k's newest write with revision <= R; every event carries the
//       whole new state of k (set with its value, delete, clear), so
//       applying them in order leaves exactly that state, whatever the copy
//       read for k.
//   (b) None has. Then no write of k took effect between (1) and the
//       barrier (a write of k after (1) is logged; one after the barrier has
//       a revision > R), and the copy read k in that interval, so it read
//       the state k's newest write before (1) left, which is the newest with
//       revision <= R. A clear in [cursor, P) counts as a write of every
//       key: case (a) for all of them.
// WHAT THAT STATE IS. On mutex, rwlock and striped revision order is a
// linearization order (revision.hpp, R4): the snapshot is the map as it was
// at one instant, the one at which revision R was drawn. On lockfree,
// ordered and readmostly (R1-R3 only) it is the state "every write with
// revision <= R applied": per key exact, and closed under real time (R2: a
// write that returned before another was called is in every snapshot that
// holds the later one), but two writes of different keys in flight at once
// may appear in the order of their revisions rather than the order they
// took effect; no instant of the map need have looked like it.
//
// DRAINING. Step (4) also runs after each unit of (2), applying what the
// ring holds so far: then the ring need hold only the writes made while one
// unit is copied, not the whole copy's. The claim stands: every event
// applied early is before P (it was appended before the barrier), events
// are still applied in ring order, and a unit's copy is a full-state write
// of the keys it holds as of its read, which, for a key k, is no newer
// than k's last event before P when k has one (a write the copy saw was
// appended before the barrier) and is k's state at the cut when it has
// none (case (b)). A key the copy did not hold but an early event set is
// erased by a later delete or clear event before P, if its state at the
// cut is absent. A clear applied early empties the units copied before
// it, as the clear emptied those keys.
//
// REFRESH. Cut again (P', R') and apply the events in [P, P'): the same
// claim with R' for the same reasons; the cost is the events since the
// last cut, not the map. When the ring no longer holds P (the writers
// outran the bound: the subscription reads `compacted`), refresh copies the
// map again, and stats() counts it (full_copies). A take whose own copy
// outran the ring retries with twice the bound, up to the ring's maximum.
//
// THE COPY. The proof above asks of a unit's copy only that it be the
// unit's entries at one instant between (1) and the cut. scan() gives that by holding the unit's
// lock while it builds its output, and a writer of that stripe then waited
// for the copier's allocations and page faults too. copy_unit() on the
// flat-table strategies (mutex, rwlock, striped) reads the stripe as
// lock-free readers do: its slot words into a buffer sized and faulted in
// beforehand, kept only when the stripe's seqlock version did not change
// across the read (a validated copy is the stripe at one instant, as a
// validated lookup is one entry at one instant: detail/flat_table.hpp,
// "Copying for a snapshot"). After four spoiled attempts it takes the lock
// for one copy of the words, which allocates nothing and follows no blob;
// either way the records are decoded after, under the epoch guard that
// keeps the copied blob pointers alive. So a writer waits for the copier
// at most for that word copy, and not at all while the copies validate.
// The other strategies' copy_unit() is their scan(), whose essays say how
// each unit is read atomically.
//
// LAZY (copy-on-write per stripe; detail/flat_table.hpp, "Claims of a
// lazy snapshot", has the table's half). (1) Subscribe, as above. (2) Cut
// the log with a barrier that, while it holds every key lock, reads the
// map's clock t (expiring maps) and, for each stripe in turn, under the
// stripe's lock, links a claim of this snapshot into the stripe's table
// (recording the table's size); then reads P and R. (3) Move the cursor to
// P without reading. No entry is copied: the take costs a lock and an
// unlock per stripe inside the barrier. A claim is settled (the stripe's
// entries not expired at t copied into it, and unlinked) by whichever comes
// first: the first write section opened on that table (every change of a
// flat table opens one, under the stripe lock: a write, a sweep or an
// eviction inside it, growth, clear, another stripe's maxMemory steal), or
// this snapshot's first read of the stripe (find, size, iteration, or an
// event applied to it), which settles it under the stripe lock itself.
//
// CLAIM (lazy). A claim's copy, whoever makes it, holds exactly the
// entries its stripe held at R, less those expired at t.
// PROOF. While the barrier holds every key lock, no write that changes a
// stripe is between its change and its append, and none can begin one: a
// wrapped write holds its key's lock across both (watch.hpp); a victim of
// an eviction or expiry is in the writer's stripe, whose class lock it
// holds, or in one whose key lock it try-held (EVICTIONS); clear and
// purge_expired hold every key lock; and since the subscription (1) no
// write reaches a strategy but through the wrapper (ACTIVATION). So each
// stripe, when its claim is linked, holds its state at R (on these
// strategies revision order is a linearization order: R4). Afterwards
// every change of the stripe opens a write section under the stripe's
// lock, and the first one, finding the claim linked (it was linked under
// that lock before), copies the table before it changes anything; until
// then nothing changed the stripe. The snapshot's own settle holds the
// same lock, so it runs either before that first section (nothing changed
// yet) or after it (the claim is then settled and unlinked, and is left
// alone). Either way the copy is the stripe at R.
//
// REFRESH (lazy). As above: cut again (P', R') and apply the events in
// [P, P') to the copy, each to its key's stripe. The eager CLAIM holds for
// the result, with this for the stripes: a stripe that has an event in
// [P, P') was changed after R, so the write that changed it first settled
// the claim before appending (and the cut, reading the ring under its
// lock, sees that settle), and its copy is the stripe at R with the events
// since applied in order: the stripe's keys at R' (case (a) and (b)
// above). A stripe with no event in [P, P') did not change between R and
// R' (every change appends an event, L1), so whether its claim is settled
// before or after the cut, its copy is the stripe at R, which is the
// stripe at R': claims stay pending across any number of refreshes.
// Refresh therefore never copies a stripe; a refresh outrun by the ring
// drops the claims and claims again (a fresh lazy take).
//
// CLOSING A LAZY SNAPSHOT unlinks each claim under its stripe's lock
// before anything is freed: a writer copies into a claim only while the
// claim is linked, under that lock, so none writes into a freed snapshot.
// Several snapshots: a table's claims are a list; a write settles all of
// them; a closing snapshot unlinks only its own. The copy (either way of
// taking) is then freed by a thread of its own (the binding asks for it),
// so a large copy does not hold up the JavaScript thread.
//
// CLOSING THE MAP. The map frees its tables once closed, so no claim may
// be left on them: the map's close closes its log first, and the log,
// having set `closed`, settles every claim on every stripe (if it had
// subscriptions: a claim lives no longer than its snapshot's
// subscription), before the map reads as closed. A take that links its
// claims while that runs then finds its subscription closed (read under
// the ring's lock, after `closed` was set) and settles them itself, inside
// the epoch guard that still keeps the map; if it found it open, the log's
// settling comes after and finds its claims linked. So a snapshot that
// finds the map closed finds every claim of its own settled.
//
// COST TO WRITERS (lazy). The first write section on a claimed stripe
// copies the stripe (allocating, following blobs) under the stripe lock:
// one write per stripe pays for a scan of its stripe, a 1/stripes share of
// the map on striped, and of the whole map on mutex and rwlock (one
// stripe), which a lazy snapshot of a large mutex or rwlock map makes the
// next writer wait for. A table without claims pays one load of a word
// beside its version, which every write section touches anyway, and a
// branch. docs/benchmarks.md has the figures beside the eager copy's.
//
// COST TO WRITERS. An open snapshot keeps its subscription, so the map is
// watched (watch.hpp, COST) until the snapshot is closed. Closing the last
// subscription lets the log's ring go: its events are taken out under the
// ring's lock and freed after it (watch.hpp, ACTIVATION), and the
// snapshot's own table is freed by the closing thread, under no lock.
//
// LOST. Memory can run out where a snapshot allocates: a writer copying a
// claimed stripe (the write goes on: copy_into marks the claim failed), the
// snapshot copying one itself or indexing a copy, and refresh() applying the
// log (a batch of events is taken from the ring before it is applied, so a
// failure part-way leaves the copy between two revisions, and those events
// cannot be read again). A snapshot never answers from such a state: a
// failed claim makes its unit's reads throw bad_alloc; a refresh() or copy
// that throws marks the whole snapshot lost, and every read then throws
// runtime_error. refresh() takes a snapshot with a lost part again (claims
// or copies anew, from a new subscription, as when the ring was outrun), so
// one that succeeds leaves it whole at the map's current revision.
//
// THREADS. A snapshot is one thread's object (the binding's), not shared:
// no lock guards its tables. A lazy one's claims are written by writers
// only while linked, under the stripe lock, and published by their `done`
// flag (release; the snapshot reads it with acquire).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "threadmap/registry.hpp"
#include "threadmap/watch.hpp"

namespace threadmap {

namespace detail {
struct unit_claim;
}  // namespace detail

class snapshot {
 public:
  using table = std::unordered_map<std::string, std::string>;

  struct counters {
    std::uint64_t refreshes = 0;       // refresh() calls that returned
    std::uint64_t full_copies = 0;     // copies (or claims) of the whole map, the first included
    std::uint64_t events_applied = 0;  // log events applied to the copy
    std::uint64_t retries = 0;         // copies redone because the ring was outrun
  };

  /// How the entries are copied (LAZY above): `lazy` claims the units of a
  /// flat-table strategy and copies each when it is first changed or read
  /// (other strategies are copied at once whatever is asked); `eager`
  /// copies them all at once.
  enum class copying : std::uint8_t { lazy, eager };

  /// Takes a snapshot; null when the map is closed. Must be called outside
  /// an epoch guard. Throws std::bad_alloc, and std::runtime_error when
  /// writers outran even the largest ring.
  static std::unique_ptr<snapshot> take(std::shared_ptr<shared_map> map,
                                        std::size_t buffer_bytes = 0, copying how = copying::lazy);
  ~snapshot();

  /// Brings the copy to the map's current revision; false when the map was
  /// closed (the copy is then left as it was). Outside an epoch guard.
  /// Takes the snapshot again when part of it was lost (LOST above).
  /// Throws std::bad_alloc, and then leaves the snapshot lost.
  bool refresh();

  /// The value of `key` at revision(), or null. May copy the key's unit
  /// (outside an epoch guard). Throws std::bad_alloc, also when a writer
  /// could not copy the unit for this snapshot (it is then lost), and
  /// std::runtime_error when the snapshot is lost (LOST above).
  const std::string* find(bytes key);
  /// Entries at revision() (an expiring map's lazy snapshot copies every
  /// unit to count them: its tables still hold entries that had expired).
  std::size_t size();
  /// The units, each a table of its keys (one for an eager copy); unit(u)
  /// copies the unit first if need be (throws as find() does).
  std::size_t units() const noexcept { return units_.size(); }
  const table& unit(std::size_t u);
  bool lazy() const noexcept { return claims_ != nullptr; }
  /// Whether the copy was lost (LOST above) and reads throw until refresh().
  bool lost() const noexcept { return lost_; }

  std::uint64_t revision() const noexcept { return revision_; }
  /// Changes whenever refresh() changed the entries (iterators compare it);
  /// copying a unit does not change it.
  std::uint64_t generation() const noexcept { return generation_; }
  counters stats() const noexcept { return stats_; }
  /// Bytes the copy holds, counted (not the allocator's view): the tables'
  /// nodes, buckets and out-of-line strings, and the copies of settled
  /// claims not yet indexed. Walks every entry.
  std::size_t held_bytes() const noexcept;

  /// Drops the claims and lets the map's log go (the map is then unwatched
  /// if nothing else watches it). The copy is freed by a thread of its own
  /// when `in_background` and one can be started, else here.
  void close(bool in_background = false) noexcept;

 private:
  snapshot() = default;
  bool copy();
  bool claim();
  /// Claims or copies anew from a new subscription: false when the map was closed.
  bool take_again();
  /// Whether a writer failed to copy a claimed unit (LOST above).
  bool unit_lost() const noexcept;
  void check_whole() const;
  void drop_claims() noexcept;
  /// Lazy: makes sure unit u's claim is settled (under the unit's lock
  /// when no writer settled it).
  void settle(std::size_t u);
  /// Makes unit u's table hold its entries (lazy: indexes the claim's copy,
  /// settling it first when no writer has).
  void ready(std::size_t u);
  table& table_of(bytes key);
  enum class applied { ok, compacted, closed };
  applied apply_until(std::uint64_t end);
  applied catch_up();
  bool resubscribe(std::size_t bytes);

  std::shared_ptr<shared_map> map_;
  std::shared_ptr<change_log> log_;
  std::shared_ptr<subscription> sub_;
  std::size_t buffer_bytes_ = 0;
  std::vector<table> units_;
  // Lazy: one claim per unit (address-stable: the tables link them), and
  // which units' tables are built from theirs.
  std::unique_ptr<detail::unit_claim[]> claims_;
  std::vector<bool> ready_;
  std::uint64_t revision_ = 0;
  std::uint64_t generation_ = 0;
  counters stats_;
  copying how_ = copying::eager;  // lazy only where the map has claims to offer
  bool lost_ = false;
};

}  // namespace threadmap
