// threadmap/snapshot.hpp — a consistent, read-only copy of a map at one
// revision, refreshed incrementally from the map's change log (issue 18,
// part 2; the Kubernetes scheduler's cache snapshot, on etcd's revisions).
//
// TAKING ONE. (1) Open a subscription to every key from now (watch.hpp):
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
// COST TO WRITERS. An open snapshot keeps its subscription, so the map is
// watched (watch.hpp, COST) until the snapshot is closed. Closing the last
// subscription lets the log's ring go: its events are taken out under the
// ring's lock and freed after it (watch.hpp, ACTIVATION), and the
// snapshot's own table is freed by the closing thread, under no lock.
//
// THREADS. A snapshot is one thread's object (the binding's), not shared:
// no lock guards its table.
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
  bool refresh();

  /// The value of `key` at revision(), or null. May copy the key's unit
  /// (outside an epoch guard). Throws std::bad_alloc, also when a writer
  /// could not copy the unit for this snapshot (it is then lost).
  const std::string* find(bytes key);
  /// Entries at revision() (an expiring map's lazy snapshot copies every
  /// unit to count them: its tables still hold entries that had expired).
  std::size_t size();
  /// The units, each a table of its keys (one for an eager copy); unit(u)
  /// copies the unit first if need be (throws as find() does).
  std::size_t units() const noexcept { return units_.size(); }
  const table& unit(std::size_t u);
  bool lazy() const noexcept { return claims_ != nullptr; }

  std::uint64_t revision() const noexcept { return revision_; }
  /// Changes whenever refresh() changed the entries (iterators compare it);
  /// copying a unit does not change it.
  std::uint64_t generation() const noexcept { return generation_; }
  counters stats() const noexcept { return stats_; }

  /// Drops the claims and lets the map's log go (the map is then unwatched
  /// if nothing else watches it). The copy is freed by a thread of its own
  /// when `in_background` and one can be started, else here.
  void close(bool in_background = false) noexcept;

 private:
  snapshot() = default;
  bool copy();
  bool claim();
  void drop_claims() noexcept;
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
};

}  // namespace threadmap
