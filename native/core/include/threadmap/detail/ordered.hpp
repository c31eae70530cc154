// threadmap/detail/ordered.hpp — the `ordered` strategy: a concurrent skip
// list with range scans.
//
// GUARANTEE. Reads (get, get_many, scan, range, size, stats) are lock-free:
// they take no lock, write nothing shared and never wait for another thread.
// Writes are fine-grained and blocking: replacing, updating (add,
// compare_and_set) and erasing a present key are one compare-and-swap on the
// key's value word, lock-free among themselves; linking a new node and
// unlinking an erased one lock the node's predecessors (one byte each, spun
// on with backoff), so a writer descheduled while it holds them delays
// writers next to it in key order, and a writer of a key whose erasure is
// half done waits for it. This is the lazy skip list (Herlihy, Lev,
// Luchangco and Shavit) with the erase mark moved into the value word.
//
// ORDER. Keys sort under options::order (threadmap/map.hpp, compare_keys):
// the byte forms of the JavaScript key types compared as the values they
// stand for, so the codecs stay as they are and every thread that attaches
// a map gets its order with it.
//
// NODE. One allocation per key: [value word][lock][linked][height][key
// length][next pointers x height][key bytes]. The key and height never
// change; the height (1 to max_height, each level with probability 1/4) is
// drawn from the key's seeded hash (threadmap/detail/hash.hpp), so it costs
// no per-thread random state and a user who chooses keys cannot choose
// heights. The head node has every level and sorts before every key.
//
// VALUE WORD. A pointer to an immutable value node {revision, length, bytes},
// with bit 0 set once the key is erased (the mark). Every change of a
// present key swaps the whole word, so a reader that loads it reads one
// value, whole, its revision, and whether the entry is still there.
//
// REVISIONS (threadmap/detail/revision.hpp; R1-R3, as lockfree). A value
// node carries the revision of the write that made it, stamped before the
// node is published. A replacement, add or compare_and_set draws after
// loading the value word and before its CAS, and again after every failed
// CAS. An erase draws the same way before the CAS that sets the mark; the
// marked word keeps the old value node and the erase's revision is stored
// nowhere: a marked word is final (no write ever CASes from it; a later
// insert links a new node), so there is no recurring state for a tag to
// tell apart, as lockfree's reusable tombstone slots need, and an absent
// key has no revision to report. A tombstone value node would cost every
// erase an allocation, and erase a failure for memory it now cannot have.
// An insert draws under its predecessors' locks once they are validated,
// just before the store that links the node at level 0: from there until
// the link no other write of the key can take effect (inserters of it need
// the same locked predecessor, and the node is not yet reachable), and the
// last erase of the key finished unlinking before the validation read its
// result, so its draw came first. Drawing earlier, before the search, would
// let an insert that stalled there link after a newer insert and erase of
// the key with a revision below theirs. clear() draws before it swaps the
// generation, so every write in the new generation draws after it; a write
// still finishing in the old generation (its effect gone with it) may carry
// a revision above the clear's, lockfree's exception to R3 (revision.hpp).
//
// LINEARIZATION. A read: its load of the value word (or, for an absent key,
// the step of the search that passed the key's place). A replacement, add,
// compare_and_set or erase: its successful CAS on the value word (erase sets
// the mark, so the entry is gone from that instant, although its node is
// still linked). An insert: the store that links the node at level 0. The
// list holds at most one node per key: a write that finds the key's node
// marked waits until its eraser has unlinked it before it links a new one.
//
// INSERT links bottom-up: it locks the predecessors found by a search in
// descending key order (level 0 first), checks that each is unmarked and
// still points to the successor found and that no successor is marked, links
// every level, sets `linked` and unlocks. A reader that reached the node at
// any level therefore finds it linked at level 0.
//
// ERASE. The thread whose CAS set the mark unlinks: it waits for `linked`
// (the inserter may still be linking upper levels), locks the node (so no
// insert can link after it: inserters lock their predecessor), then its
// predecessors, checks them as an insert does, and makes each point past the
// node, top level first. Locks are always taken in descending key order
// (the node before its predecessors), so no two writers can deadlock. A
// node's next pointers are never changed after it is unlinked, so a reader
// standing on it still walks forward to keys greater than its own.
//
// ITERATION. scan_units() is 1: the one unit walks level 0 in key order.
// range() finds its first key with one search, then walks level 0 (reverse:
// one search per key, for the greatest key below the last one given, as
// nodes have no back pointers). Keys along any walk strictly increase, so no
// key is given twice, and a key present from a walk's start to its end is
// reached (it was linked before the walk began, and a node is unlinked only
// by pointing its predecessor at its successor). Each entry is read
// atomically; the walk as a whole is not a snapshot. The addon pages a long
// scan with range(), resuming strictly after the last key it gave.
//
// MEMORY. Every public call opens an epoch guard (threadmap/epoch.hpp).
// Replaced value nodes are retired by the writer whose CAS replaced them,
// and an erased node (with its last value) by its eraser once unlinked. A
// new entry's node and value are allocated (detail::allocate, the fault
// hook's door) and charged to the budget before the list is touched, so a
// write that fails for memory changes nothing. Charges are the requested
// size rounded up to 16 bytes (malloc's granule); a replacement charges only
// what its value node adds over the one it replaces, so a write that does not
// grow the map is accepted at the limit; an erase gives its bytes back when
// it returns. The head node and the generation are fixed overhead, not
// charged. There are no tables: `capacity` reserves nothing; a capacity
// whose smallest entries could not fit in max_memory is refused as it is by
// the other strategies (std::length_error). NUMA policies place no arrays
// here (nodes are placed by first touch); placement() reports none.
//
// CLEAR publishes a fresh generation (head, counters, budget) with one
// exchange and retires the old one whole; operations still running in the
// old generation linearize before the clear (as in lockfree.hpp). An eraser
// finishes unlinking inside its call, so when the old generation is freed
// every node still linked at level 0 is freed with it, and every other one
// was retired by its eraser.
//
// PADDING. The map's root pointer is alone on its line (read by every call,
// written by clear). In a generation, the budget (written by every write when
// a limit is set) has its own line, apart from the head pointer every call
// reads; the size and byte counters are striped per thread
// (detail/counter.hpp), one line per cell.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>

#include "threadmap/detail/padding.hpp"
#include "threadmap/detail/revision.hpp"
#include "threadmap/detail/test_seam.hpp"
#include "threadmap/map.hpp"

namespace threadmap {

namespace ordered_detail {
struct generation;
struct node;
struct value_node;
}  // namespace ordered_detail

class ordered_map final : public concurrent_map {
 public:
  /// Throws std::length_error when opts.capacity smallest entries exceed
  /// opts.max_memory, std::bad_alloc when the head cannot be allocated.
  explicit ordered_map(const options& opts);
  ~ordered_map() override;
  ordered_map(const ordered_map&) = delete;
  ordered_map& operator=(const ordered_map&) = delete;

  bool get(bytes key, std::string* out, std::uint64_t* revision = nullptr,
           std::uint64_t unless = 0) const override;
  std::uint64_t revision() const override { return clock_.latest(); }
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
  bool ordered() const noexcept override { return true; }
  std::size_t range(const key_range& r, std::size_t limit, std::string& out) const override;

  /// Levels a node may have: with one in four nodes reaching each next level,
  /// enough for 4^20 keys.
  static constexpr unsigned max_height = 20;

  /// The height the list gives `key` (tests check the distribution).
  static unsigned height_of(bytes key) noexcept;

 private:
  // What a write does once it has seen the key's current value (null: absent).
  enum class action : std::uint8_t { none, store, remove };
  struct plan {
    action what;
    status result;
    bytes value;  // store: the new value
  };
  template <class Decide>
  status write(bytes key, Decide&& decide, std::string* copy);

  const options opts_;
  // Read by every call, written only by clear(): alone on its line.
  alignas(cache_line) std::atomic<ordered_detail::generation*> root_{nullptr};
  // Outlives generations: revisions keep increasing across clear().
  detail::revision_clock clock_;
};

/// Test seam (compiled in always; one relaxed load of a function pointer per
/// insert when unset): called with the thread about to link a new key's
/// node, its value and charge ready, before link() searches for its place.
namespace ordered_test {
using detail::pause_hook;  // called with site 0
void set_pause_hook(pause_hook hook) noexcept;
}  // namespace ordered_test

}  // namespace threadmap
