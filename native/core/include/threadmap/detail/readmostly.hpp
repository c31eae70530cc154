// threadmap/detail/readmostly.hpp — the `readmostly` strategy: Go's sync.Map without
// a garbage collector.
//
// Two tables map keys to entries, where an entry is a heap cell holding one
// atomic pointer to an immutable value node (the tables are pointer tables,
// threadmap/detail/flat_table.hpp, typed on the entry):
//   - `read`, published through an atomic pointer to an immutable `readonly`
//     {table, amended}. Its table never changes once published, so readers
//     probe it with no lock and no shared write, and an update of a key that is
//     in it is a CAS on the entry's value pointer: also no lock.
//   - `dirty`, under a mutex, holding every live entry once `amended` is set:
//     all of read's entries that are not expunged, plus the keys added since.
// A lookup that misses in `read` while `amended` is set takes the lock and
// looks in `dirty`, counting a miss; when the misses reach the size of
// `dirty`, `dirty` is promoted to be the new `read` (amended = false) and the
// old read table is retired. The first new key after a promotion copies read
// into a fresh dirty table and sets `amended`.
//
// Entry value states: a value node (present), deleted (still in both
// tables) and `expunged` (deleted and known to be absent from dirty, which is
// why a store to it must take the lock and put the entry back into dirty).
//
// Revisions (threadmap/detail/revision.hpp): a value node carries the
// revision of the write that made it; deleted and expunged are tagged words
// that carry the delete's revision, so no deleted state ever recurs and a
// CAS from a state loaded earlier fails if anything was written since. A
// lock-free update draws after loading the entry's word and before its CAS;
// the locked paths draw under the lock before they publish; clear() draws
// last, after it has expunged every entry.
// Only lock holders move an entry into or out of `expunged`; everything else
// is a CAS loop on the pointer, so any read-modify-write (put, put_if_absent,
// compare_and_set, erase, add) on a key in `read` is lock-free.
//
// Invariants, under the lock: `amended` iff a dirty table exists; an expunged
// entry of read implies a dirty table (so a store to it has a table to go
// back into), and while amended, an entry of read is in dirty iff it is not
// expunged. The first new key after a promotion builds the dirty table with
// itself already in it, all or nothing: if memory runs out part-way (each
// copied key longer than a slot allocates), the entries the copy expunged are
// turned back into deleted ones and the table is freed, so a write that fails
// with memory_limit leaves the map as it was. Lock-free writers never touch
// an expunged entry, and one that saw it waits for the lock and looks again,
// so undoing the expunging is invisible to them. Promotion and clear() make
// what they allocate (the list of what they drop, the new cell or table)
// before they change anything; walking a table allocates nothing.
//
// Memory. The dirty table is sized for read's live entries plus the new key
// (erased keys cost it nothing), or for `capacity` when the budget has room
// for a table that large beside the read table. Under max_memory, a new key
// after a promotion therefore needs room for a copy of the live keys' slots
// (and of their out-of-line keys, beyond 15 bytes): the map holds two tables
// until the next promotion. Keys already in read need no room but their value.
//
// Reclamation: value nodes, entries, read tables and readonly cells are
// retired to the epoch domain, never freed while a reader may hold them.
// Entries are retired when they can no longer be reached from any table: at
// promotion (the expunged ones, which dirty never got) and by clear(), which
// first sets every entry to `expunged` so a thread still holding one retries
// under the lock and finds the new tables. Both retire what they drop as one
// object (`garbage`), so each costs one walk of the tables and one
// retirement, and freeing it happens inside a later call.
//
// Batches: get_many runs get()'s steps for each key, pipelined (the read
// table's tag group, slot, entry and value node prefetched a few keys ahead);
// a key that misses in `read` while it is amended takes get()'s locked path.
//
// Size is a striped counter updated on every absent <-> present transition.
// Iteration has one unit: the table that holds every live entry (dirty when
// amended, else read) is walked under the lock; values are read atomically
// per entry, and each key present throughout is seen exactly once.
//
// NUMA. Both tables carry the map's policy
// (options::numa_policy), set by new_table(), the one place a table is made:
// the first read table, every dirty table (made by the writer that adds the
// first key after a promotion) and the read table clear() installs. So under
// `local` a dirty table's array lands on the node of the writer that creates
// or grows it, and keeps that placement when it is promoted to `read` (a
// promotion publishes the same table, it copies nothing). The entries and
// value nodes the tables point to stay on the heap, placed by first touch. A
// fixed node that the topology lacks is refused by the constructor before
// anything is allocated (check_numa_policy). placement() reports, under the
// lock so that both come from one instant: table 0 = the read table (bytes 0
// while it has no array yet, e.g. before the first promotion), table 1 = the
// dirty table, present only while one exists (`amended`).
//
// Where it wins: stable key sets read far more than written (caches, config,
// interned ids). Where it loses: many new keys, which all go through the lock
// and repeatedly copy the read table into dirty.
#pragma once

#include <atomic>
#include <mutex>
#include <optional>
#include <string>

#include "threadmap/detail/adaptive_mutex.hpp"
#include "threadmap/detail/counter.hpp"
#include "threadmap/detail/flat_table.hpp"
#include "threadmap/detail/padding.hpp"
#include "threadmap/detail/revision.hpp"
#include "threadmap/map.hpp"

namespace threadmap {

class readmostly_map final : public concurrent_map {
 public:
  explicit readmostly_map(const options& opts);
  ~readmostly_map() override;

  bool get(bytes key, std::string* out, std::uint64_t* revision = nullptr,
           std::uint64_t unless = 0) const override;
  std::uint64_t revision() const override { return clock_.latest(); }
  void get_many(const bytes* keys, std::size_t n, std::string* out, bool* found) const override;
  // Nothing here is a use: peek is get.
  void peek_many(const bytes* keys, std::size_t n, std::string* out, bool* found) const override {
    get_many(keys, n, out, found);
  }
  status put(bytes key, bytes value, std::string* old) override;
  status put_if_absent(bytes key, bytes value, std::string* existing) override;
  status compare_and_set(bytes key, const bytes* expected, const bytes* desired,
                         std::string* current) override;
  status erase(bytes key, std::string* old) override;
  status add(bytes key, counter_kind kind, counter delta, bytes prefix, counter* result) override;
  std::size_t size() const override;
  void clear() override;
  std::size_t scan_units() const override { return 1; }
  std::size_t scan(std::size_t unit, std::string& out) const override;
  map_stats stats() const override;
  std::vector<numa::table_report> placement() const override;

  /// placement()'s table indices.
  static constexpr std::size_t read_table = 0, dirty_table = 1;

 private:
  struct value_node;
  struct entry;
  // Both tables map keys to entries.
  using entry_table = detail::pointer_table<entry>;
  struct readonly {
    entry_table* table;
    bool amended;
  };
  // What a read-modify-write decides, given the current value (or none).
  struct decision {
    enum kind_t { keep, set, erase } kind;
    bytes value;    // for set
    status result;  // returned when this decision is applied
  };

  template <class Decide>
  status modify(bytes key, Decide&& decide);
  template <class Decide>
  std::optional<status> cas_loop(entry* e, Decide& decide);

  static entry* lookup(const entry_table* t, std::uint64_t hash, bytes key) noexcept {
    return t ? t->find(hash, key) : nullptr;
  }
  void miss_locked() const;
  // A new key while read is not amended: builds dirty from read's live
  // entries plus (key -> e) and publishes read as amended, or, when memory
  // runs out, changes nothing and returns false.
  bool make_dirty_locked(std::uint64_t hash, bytes key, entry* e);
  // Undoes a make_dirty_locked that failed: the expunged entries of `read`
  // become deleted again, and `d` (never published) is freed.
  void discard_dirty(const entry_table& read, entry_table* d);
  // Stores a key absent from both tables, under the lock; all or nothing.
  status insert_locked(std::uint64_t hash, bytes key, bytes value, status result);
  // `charge`: what to reserve from the budget (default: the node's size; a
  // replacement reserves only its growth over the value it replaces).
  static constexpr std::size_t full_charge = ~std::size_t{0};
  value_node* make_node(bytes v, std::size_t charge = full_charge);
  void free_unpublished(value_node* n, std::size_t charge = full_charge);
  void retire_node(value_node* n);
  struct garbage;
  void retire_garbage(garbage* g);
  // Every table of this map is made here, so each carries the map's policy.
  entry_table* new_table() const;

  // Loaded by every reader; written on promotion, amendment and clear only.
  alignas(cache_line) mutable std::atomic<readonly*> read_;
  // Writers' state, on other lines.
  alignas(cache_line) mutable adaptive_mutex lock_;
  mutable entry_table* dirty_ = nullptr;  // guarded by lock_
  mutable std::size_t misses_ = 0;        // guarded by lock_
  const std::size_t capacity_;            // entries each dirty table is sized for
  const numa::policy policy_;             // placement of every table's array
  striped_counter size_;
  mutable padded<detail::memory_budget> budget_;
  detail::revision_clock clock_;
};

}  // namespace threadmap
