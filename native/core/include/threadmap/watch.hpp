// threadmap/watch.hpp — watch (a change feed per map) and the log it reads,
// kept as a layer above the strategies (issue 18, part 1).
//
// WHERE IT SITS. A shared_map (registry.hpp) hands callers the map through
// one atomic pointer, read inside an epoch guard. While nobody watches, that
// pointer is the strategy itself and a write pays nothing for watch: not a
// flag, not a branch (the pointer was loaded anyway). The first subscription
// swaps it for a `watched_map`, a concurrent_map that forwards every call to
// the strategy and wraps each write in the log's protocol below, and then
// waits (epoch::synchronize) for every call that may still hold the plain
// pointer: after that, no write can reach the strategy except through the
// wrapper. The last subscription to close swaps the plain pointer back. So
// every strategy, and every write path of the binding (one key, batches,
// clear, fetch's store), is watched by the same code, and no strategy knows.
//
// THE INVARIANT. While the log is active:
//   L1 every write that changes the map appends exactly one event (set,
//      delete, clear, and evict or expire for each entry it removed to make
//      room or because its deadline had passed), or, when it cannot (out of
//      memory), the log forgets every
//      event up to the write's revision, as if compacted: never silently;
//   L2 the events of one key are appended in the order the writes took
//      effect, which is their revision order (revision.hpp, R3);
//   L3 an event carries the write's revision and, for set, the value the
//      write stored (add's result, not its delta).
// The protocol: a wrapped write of key k holds key lock lock_class(hash(k))
// % key_locks (EVICTIONS below says why a class)
// (spin locks, each on its own cache line so writers of different keys
// share none; spin, not mutexes, because clear() and the snapshot barrier
// hold all of them at once beside the strategy's own stripe locks, more
// than ThreadSanitizer's deadlock detector can track as mutexes)
// from before the strategy's write to after its append, so two writes of k
// cannot interleave their write and append (L2). The event's revision is
// revision_clock::last_drawn(), the revision the calling thread drew last,
// which is the write's own (each strategy's write draws last the revision
// it publishes: a failed CAS draws again), and its value the bytes the
// write was given (L3); so a set, like a delete, which stores its revision
// nowhere, costs no second lookup. Two writes are read back under the key
// lock instead (peek with its revision: a get would count as a use in a
// map that evicts): add, whose value the strategy computes, and a write
// that evicted, which may have drawn its victims' revisions after its own. clear() takes every key
// lock, so it has no write in flight beside it: the lockfree and ordered clear exception of
// revision.hpp (a late write into the old generation with a revision above the clear's) cannot
// happen while watched.
//
// EVICTIONS. A write of key J in a map that evicts may remove other keys
// (victims) inside it, under J's stripe lock. A victim K's event must be
// appended under K's key lock, or it could overtake the event of a write of
// K that took effect before it (L2). So the key lock is a function of the
// strategy's lock class of the hash (concurrent_map::lock_class): striped,
// mutex and rwlock maps that evict answer the stripe, so every key of a
// stripe shares one key lock and a same-stripe victim's key lock is the one
// the writer holds. While the strategy runs, the wrapper sets the thread's
// eviction sink (detail/flat_table.hpp): the table hands it each victim's
// key and the revision its removal drew (inside the victim's stripe lock,
// after every earlier write of K: R3), and the wrapper appends them as evict
// events when the strategy returns, before the write's own event, still
// under the key lock. A maxMemory writer that evicts from another stripe
// (striped.cpp) first takes that stripe's key lock through the sink with
// try_lock only (skipping the stripe when busy, as with its stripe lock, so
// there is no lock order), and the sink appends before releasing it. A
// victim that cannot be copied (out of memory) makes the log forget up to
// its revision (L1). Unwatched, the sink is null and an eviction pays one
// thread-local load.
//
// EXPIRATIONS take the same path: a map with a ttl answers the stripe as
// its lock class too, and the table hands each expired entry it reclaims
// (a write's sweep, a write of the expired key, an insert that prefers an
// expired entry to a victim) to the sink as an expiry, logged as an expire
// event before the write's own. purge_expired() holds every key lock, as
// clear() does. The read-back of a write uses peek_unexpired_or_not: a
// short ttl may pass between the write and the read, and the entry cannot
// be reclaimed while the key lock is held (every remover of its stripe
// needs it), so its set event is logged and its expire event follows.
//
// ACTIVATION. Subscribe, with the hub's mutex held: swap the pointer, then
// epoch::synchronize(), then, under the ring's lock, start = revision() and
// active = true. Writes through the plain pointer all ended before start was
// read, so every write with a revision above `start` is logged; events that
// arrive with a revision <= start (a wrapped write between the swap and
// `active`) are dropped, so the log holds exactly the writes above start.
// A dropped write may still be in flight when start is read: on lockfree,
// ordered and readmostly a write draws its revision before the CAS that
// makes it take effect. So activation waits once more (a second
// epoch::synchronize() after `active`): when subscribe returns, every write
// the log dropped has taken effect, and a copy of the map made after it
// (a snapshot's) sees them. Without that wait a snapshot could miss such a
// write for good: its copy read the key before the CAS, and its event was
// dropped.
// Deactivation swaps back and empties the ring; wrapped writes still in
// flight then append to an inactive log, which drops them, and a later
// activation's synchronize waits for them before it reads its start.
// Emptying takes the events out under the ring's lock and frees them after
// every lock is released (as does the map's close): a ring at its bound
// holds millions of events, and writers' appends wait for that lock.
//
// THE RING AND ITS BOUND. One ring per map, bounded in bytes (the largest
// `buffer_bytes` any open subscription asked for, at least min_buffer_bytes;
// when the subscription that asked for most closes, the bound falls and the
// oldest events go at once):
// when an append would pass the bound, the oldest events go, and
// `compacted` rises to the largest revision dropped. Every event with a
// revision above `compacted` is therefore in the ring (or not yet appended):
// a subscription may start from any revision above it (fromRevision) and is
// replayed from the ring; one that asks for less gets `compacted` and the
// oldest revision still available, compacted + 1 (etcd's ErrCompacted).
// Each subscription has its own cursor (a position in the ring, counted
// from the log's first event); one whose cursor falls behind the ring's
// first event gets the same answer on its next read: never silent loss,
// never memory beyond the bound.
//
// ORDER ACROSS KEYS. The ring is in append order: per key that is revision
// order (L2); across keys it is close to revision order but not equal to it
// (two writers append in either order). A subscription delivers in ring
// order. On mutex, rwlock and striped, revision order is a linearization
// order of the map (R4); on lockfree, ordered and readmostly only R1-R3 hold.
//
// WAKING. A subscription that read everything may arm(): the next append it
// matches calls its notify function once (from the writer's thread, with
// the ring's lock held: the binding's notify only posts to a threadsafe
// function, which never blocks nor re-enters the log) and disarms it.
//
// COST. Unwatched: none (see above). Watched: a wrapped write takes a key
// lock, copies key and value into the ring and takes the ring's mutex (and
// reads its entry back when it is an add or evicted); each armed
// subscription's filter is tested once per append. docs/benchmarks.md ("Watch") has the figures
// with 0, 1 and 8 watchers.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "threadmap/map.hpp"

namespace threadmap {

class rw_spinlock;  // detail/rw_spinlock.hpp: the key locks, taken exclusively

enum class event_kind : std::uint8_t { set, erase, clear, evict, expire };

/// The JavaScript name of an event kind ("set", "delete", ...).
const char* to_string(event_kind k) noexcept;

struct watch_event {
  std::uint64_t revision = 0;
  event_kind kind = event_kind::set;
  std::string key;    // empty for clear
  std::string value;  // set only
};

/// Which keys a subscription wants. clear events match every filter.
struct watch_filter {
  enum class mode : std::uint8_t { all, keys, prefix };
  mode m = mode::all;
  std::vector<std::string> keys;  // mode keys: sorted, unique
  std::string prefix;             // mode prefix: a prefix of the key's bytes
  bool matches(const watch_event& e) const noexcept;
};

class change_log;

/// One subscriber's cursor on a map's log. Thread-safe; made by
/// change_log::subscribe and closed by close() or with the map.
class subscription {
 public:
  enum class state : std::uint8_t { ok, compacted, closed };
  struct batch {
    state st = state::ok;
    std::uint64_t oldest = 0;  // compacted: the oldest revision still available
    bool more = false;         // ok: events past `max` are already waiting
  };

  /// Appends up to `max` matching events to `out` (oldest first) and moves
  /// the cursor past them. When none is waiting and `arm` is set, the next
  /// matching append calls the notify function once. Throws std::bad_alloc
  /// with the cursor where it was (the events appended to `out` before the
  /// failure will be read again).
  /// `until`: read no event at or past this ring position (a barrier's end).
  batch read(std::vector<watch_event>& out, std::size_t max, bool arm,
             std::uint64_t until = ~std::uint64_t{0});

  /// Moves the cursor to ring position `until` (a barrier's end) without
  /// reading: a lazy snapshot's copy is already at the cut.
  void skip_to(std::uint64_t until) noexcept;

  /// Stops delivery and lets the log go inactive when it was the last.
  /// Idempotent; the notify function is never called after it returns.
  void close() noexcept;
  bool closed() const noexcept;

  ~subscription();
  subscription(const subscription&) = delete;
  subscription& operator=(const subscription&) = delete;

 private:
  friend class change_log;
  subscription() = default;
  std::shared_ptr<change_log> log_;
  watch_filter filter_;
  std::uint64_t cursor_ = 0;        // position of the next event to read
  std::uint64_t min_revision_ = 0;  // fromRevision: earlier events are skipped
  std::size_t buffer_bytes_ = 0;
  bool armed_ = false;
  bool closed_ = false;
  bool behind_ = false;  // told `compacted` once (counted in the log's stats)
  std::function<void()> notify_;
};

/// The ring, its subscriptions and the key locks of one map. Owned by the
/// shared_map (registry.hpp), which swaps its watched_map in and out.
class change_log : public std::enable_shared_from_this<change_log> {
 public:
  static constexpr std::size_t key_locks = 64;
  static constexpr std::size_t min_buffer_bytes = std::size_t{4} << 10;
  static constexpr std::size_t default_buffer_bytes = std::size_t{8} << 20;
  static constexpr std::size_t max_buffer_bytes = std::size_t{1} << 30;
  /// Bytes an event is charged beside its key and value.
  static constexpr std::size_t event_overhead = sizeof(watch_event);

  /// `map` is the strategy (never the wrapper); `swap(true|false)` installs
  /// or removes the wrapper in the caller's pointer (registry.hpp) and
  /// answers false when the map is closed.
  change_log(concurrent_map* map, std::function<bool(concurrent_map*)> publish);
  ~change_log();

  struct opened {
    std::shared_ptr<subscription> sub;  // null on compacted or closed
    subscription::state st = subscription::state::ok;
    std::uint64_t oldest = 0;    // compacted: the oldest revision available
    std::uint64_t revision = 0;  // the log's position: revision() when opened
  };
  /// A subscription from `from_revision` (0: from now), waking through
  /// `notify`. Must be called outside an epoch guard (activation waits for
  /// the calls in flight). Throws std::bad_alloc and changes nothing then,
  /// and std::invalid_argument for a map without revisions.
  opened subscribe(watch_filter filter, std::uint64_t from_revision, std::size_t buffer_bytes,
                   std::function<void()> notify);

  /// The cache layer's entry point (evict, expire): logs that `key` left the
  /// map with `revision`. The caller must hold what orders it against the
  /// key's other writes (the stripe lock that removed it). A no-op while
  /// nobody watches.
  void record(event_kind kind, bytes key, std::uint64_t revision) noexcept;

  /// Ends every subscription (the map was closed): reads answer closed.
  /// With subscriptions open it first settles every lazy snapshot's
  /// claims on the map (snapshot.hpp, CLOSING THE MAP), which the map must
  /// still be alive for.
  void close() noexcept;

  /// Takes every key lock, so no wrapped write is between its write and its
  /// append, and answers the ring's end and the map's revision() at that
  /// moment: every event before `end` has a revision <= `revision`, every
  /// later one a larger revision (snapshot.hpp proves what rests on it).
  /// `during(ctx)`, when given, runs while every key lock is held, before
  /// the two loads: a lazy snapshot claims the units there (snapshot.hpp).
  struct cut {
    std::uint64_t end = 0;
    std::uint64_t revision = 0;
  };
  cut barrier(void (*during)(void*) = nullptr, void* ctx = nullptr);

  bool active() const noexcept;
  /// The ring position after its newest event (no lock but the ring's).
  std::uint64_t end() const noexcept;
  /// What the log holds and has done (map.stats().watch): one read under
  /// the ring's lock, nothing counted on a write that the append did not
  /// already touch.
  struct counters {
    std::uint64_t appended = 0;   // events appended since the map was made
    std::uint64_t dropped = 0;    // events pushed out by the bound, or forgotten (L1)
    std::uint64_t oldest = 0;     // oldest revision available (0: inactive)
    std::uint64_t compacted = 0;  // compacted answers given: subscribes refused, and
                                  // subscriptions found behind (each counted once)
    std::size_t events = 0;       // events in the ring now
    std::size_t bytes = 0;        // the ring's bytes now
    std::size_t limit = 0;        // its bound now (0: inactive)
    std::size_t subscribers = 0;  // open subscriptions
    std::size_t waking = 0;       // of which have a notify function (the binding's
                                  // watches; a snapshot's has none)
  };
  counters stats() const;

  // The wrapper's side of the protocol (watched_map in watch.cpp).
  rw_spinlock& key_lock(bytes key) noexcept;
  /// The key lock of a lock class (concurrent_map::lock_class).
  rw_spinlock& class_lock(std::uint64_t cls) noexcept;
  void lock_all() noexcept;
  void unlock_all() noexcept;
  void append(event_kind kind, bytes key, bytes value, std::uint64_t revision) noexcept;
  /// An event up to `revision` could not be made: every subscriber gets
  /// compacted (L1).
  void forget(std::uint64_t revision) noexcept;
  concurrent_map* map() const noexcept { return map_; }

 private:
  friend class subscription;
  void unsubscribe(subscription* s) noexcept;
  void push_locked(watch_event&& e);
  void trim_locked() noexcept;
  void forget_locked(std::uint64_t revision) noexcept;

  concurrent_map* const map_;
  const std::function<bool(concurrent_map*)> publish_;
  std::unique_ptr<concurrent_map> wrapper_;

  struct padded_lock;  // one key lock per cache line (watch.cpp)
  std::unique_ptr<padded_lock[]> locks_;

  std::mutex hub_;  // subscribe/unsubscribe: activation is one at a time
  mutable std::mutex ring_;
  std::deque<watch_event> events_;
  std::uint64_t first_ = 0;      // position of events_.front()
  std::uint64_t start_ = 0;      // the revision the log started at
  std::uint64_t compacted_ = 0;  // every event above it is in the ring
  std::size_t bytes_ = 0;
  std::size_t limit_ = default_buffer_bytes;
  std::uint64_t appended_ = 0, dropped_ = 0, compacted_answers_ = 0;
  std::vector<subscription*> subs_;
  bool active_ = false;
  bool closed_ = false;
};

}  // namespace threadmap
