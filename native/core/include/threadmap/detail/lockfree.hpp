// threadmap/detail/lockfree.hpp — the `lockfree` strategy: no locks at all.
//
// Every operation (get, put, put_if_absent, compare_and_set, erase, add, scan,
// size, clear) is lock-free: a thread that stalls or is descheduled at any
// instruction never stops the others from completing theirs. There is no
// mutex, no spinlock and no "wait until another thread finishes" anywhere on
// these paths; where one thread needs work another started, it does that work
// itself. (Memory reclamation uses epochs, threadmap/epoch.hpp, so a stalled
// thread delays the *freeing* of retired memory, never an operation. Nodes
// come from the system allocator, whose per-thread caches serve the common
// case without a lock; tables from numa::allocate, below, which is that
// allocator or mmap/mbind; the algorithm itself takes no lock.)
//
// TABLE. Open addressing with linear probing over a power-of-two array of
// slots. A key's home slot is given by the TOP bits of its 64-bit hash
// (home = hash >> (64 - log2 capacity)), so slots are ordered by hash prefix:
// keys whose hash starts with the byte u live in one contiguous region of
// every table, whatever its size. Iteration is built on that (below).
//
// SLOT. Two 64-bit words, each only ever accessed atomically:
//   key word    0 = empty; DEAD = killed by a migration (never used again);
//               else a pointer to an immutable key node {hash, len, refs,
//               bytes} with 16 low bits of the hash packed in the unused top
//               16 bits, so most mismatches are rejected without touching the
//               node (AddressSanitizer builds leave the tag out, so that
//               LeakSanitizer recognises the pointers), and bit 1 set when a
//               migration copy, not an insert, claimed the slot.
//   value word  0 = null (key claimed, no value yet); TOMBSTONE; or a pointer
//               to an immutable value node {len, revision, bytes}; or
//               TOMBSTONE | revision << 4; bit 0 is FROZEN (set
//               by a migration); MOVED_NULL / MOVED_TOMB / MOVED_LIVE are the
//               final states of a migrated slot (they have bit 0 set too, so
//               freezing them again is a no-op).
// A key word changes exactly once (empty -> key, or empty -> DEAD) — Cliff
// Click's rule — so a key occupies at most one slot of a table, however many
// threads race to insert it, and a key never moves within a table. Erasing
// stores TOMBSTONE and leaves the key in its slot; migration drops it.
//
// OPERATIONS. Each mutation is one compare-and-swap on the value word: put
// swaps in a new value node; put_if_absent swaps only from null/TOMBSTONE;
// compare_and_set compares the bytes of the node it observed and swaps that
// exact pointer (a racing change of the word fails the CAS and the loop
// re-reads); erase swaps in TOMBSTONE; add computes the next counter from the
// observed node and swaps. A new key first claims an empty slot (CAS on the
// key word), then swaps its value in. Nodes are immutable once published, so
// a reader that loaded a pointer reads a consistent value. The linearization
// point of a write is its successful CAS; of a read, its load of the value
// word (or of the empty key word that proves absence).
//
// REVISIONS (threadmap/detail/revision.hpp). A value node carries the
// revision of the write that made it (a migration copies the node, so the
// revision moves with it); an erase installs a tombstone word carrying its
// revision. A write draws after loading the value word and before its CAS,
// and again after every failed CAS. clear() draws its revision C before it
// swaps the generation (the swap is its linearization point), as ordered's
// does. What then holds: a write that takes effect in the new generation
// loaded the root after the swap, so it drew after C, and every value the
// map holds after the clear carries a revision above C (R3). A write that
// loaded the old root may still draw after C and finish there; its value
// goes with the old generation (only a get that loaded the old root, so one
// running during the clear, can return it), which is revision.hpp's
// exception to R3. R2 holds either way. Drawing after the swap instead let
// a write that found the new generation in between draw first: an entry
// that outlived the clear with a revision below it.
//
// GROWTH: cooperative incremental migration (after Click's NonBlockingHashMap
// and growt). When the keys claimed in a table (tombstones included) pass 5/8
// of a region of it, a thread allocates the next table — twice the size, or
// the same size when most claims are tombstones, or smaller after mass
// erasure — and publishes it with one CAS on `next`. From then on:
//   - every operation that touches the table first migrates one chunk of it
//     (512 slots, claimed with a fetch_add on a cursor);
//   - migrating a slot: an empty slot is killed (key 0 -> DEAD). Otherwise
//     the value word is frozen (fetch_or FROZEN), a live value is copied into
//     the next table with "put if the key's value is still null" semantics,
//     and the word goes FROZEN -> MOVED_x by CAS. Any thread may do any of
//     these steps for any slot; each is idempotent, and on return the slot
//     is final (DEAD or MOVED) whoever finished it;
//   - completion is counted per chunk, not per slot: whoever has seen every
//     slot of a chunk final sets the chunk's done bit (fetch_or: counted
//     once), and the thread that counts the last chunk promotes `next` to
//     head and retires the old array. Once every chunk is claimed, helpers
//     sweep the chunks not yet done, so a migrator that stalls forever in the
//     middle of its chunk holds nothing back: a sweeper finishes its slots
//     (including the one it froze) and counts the chunk;
//   - a write that meets a frozen slot finishes that slot's copy itself and
//     continues in the next table; meeting MOVED or DEAD it just continues
//     there; a new key is never inserted into a table that has a `next` (its
//     empty slot is killed instead), so a key's state lives in exactly one
//     table at any instant: the oldest one in which it is not MOVED;
//   - a read that meets a frozen value returns it (it is the current value
//     until the slot becomes MOVED); meeting MOVED or DEAD it continues in
//     the next table.
// The copy ("put if null") is what makes racing copiers and writers safe: a
// writer reaches the next table only after the old slot is MOVED, i.e. after
// some copier already installed the value, so a late copier never overwrites
// a newer write; and it continues past a table only while the key's slot
// there never held a value (null, or MOVED_NULL, or a DEAD probe path), so a
// copier that stalled and wakes after the key was copied, erased and dropped
// stops at the table that holds the tombstone instead of resurrecting it.
// Tables can chain (the next table may need to grow before the first
// migration ends); everything above works per link.
//
// CLEAR publishes a fresh empty *generation* (its table, counters and memory
// budget) with one exchange on the map's root, and retires the old one with
// everything in it. An operation works inside the one generation it loaded at
// its start, so operations still running in the old one linearize before the
// clear; their effects vanish with it, and they can never leak into the new
// generation's size or budget.
//
// ITERATION. scan_units() is 256 for the map's lifetime; unit u holds the keys
// whose hash starts with the byte u. scan(u) migrates unit u's region out of
// every table that has a `next` (so its keys all live in the newest table),
// then walks that region of the newest table — the home range plus the
// linear-probe overflow up to the first empty slot — into a local buffer. If
// it meets a MOVED or DEAD slot, a newer migration overtook the walk: it
// discards the buffer and starts again in the newest table. Only the final
// buffer is appended to `out`, so each key present for a whole iteration is
// seen exactly once.
//
// BATCHES. get_many runs get()'s lookup for each key, pipelined: the home
// slots and the nodes they point to are prefetched a few keys ahead, which
// reads words atomically and changes nothing, so the protocol above is
// untouched.
//
// MEMORY. Every public call opens an epoch guard. Replaced and erased value
// nodes are retired at once by the thread whose CAS unlinked them. A value
// node copied by a migration is shared by the old slot (frozen) and the new
// one; the old table never frees values. Key nodes are shared the same way
// and carry a reference count, one per slot that claimed them: a slot whose
// value moved on (MOVED_LIVE) hands its reference to the copy at once; a slot
// that drops its key (MOVED_TOMB, MOVED_NULL) keeps it until its table is
// deleted by the epoch domain (a reader may reach the node through it until
// then), so tombstoned keys are freed with the table that dropped them and
// promotion never touches live keys' nodes. Bytes are charged to the
// generation's detail::memory_budget before anything is allocated (a
// replacement at the limit: see below; memory_limit: nothing changed) and
// released when a node is retired or a key dropped, not when the epoch
// domain frees them, so the budget never waits for other threads. One
// exception: a rebuild that does not grow (the
// only way to turn tombstones back into room) may overdraw the budget by its
// own size, repaid when the larger table it replaces is retired.
// stats().bytes sums per-thread counters. A cleared or destroyed
// generation's nodes are freed in address order and, when they held 32 MiB
// or more, handed back to the system (malloc_trim, glibc only), so a large
// map's memory leaves the process, not only the map (lockfree.cpp,
// destroy_chain, says why the order matters).
//
// AT THE LIMIT. The budget holds exactly: the value nodes installed in slots
// (a node shared by a frozen slot and its copy counts once), the key nodes
// not dropped, the tables (less a rebuild's debt), and what writes in flight
// have reserved. A write that installs a value node owes value_bytes(new)
// less value_bytes(the value it replaces). It reserves value_bytes(new) up
// front when the budget has room; when it has not, a put or add looks the
// key up and reserves only the growth over the present value (nothing, for
// a node no larger), and may then only replace, never insert (an absent key
// is refused before a slot is claimed). compare_and_set with an expected
// value reserves the growth over the value it matched. Just before its CAS a
// write settles against the value it is about to replace (reserving the
// rest if that one is smaller than the one it planned against; refused,
// with nothing changed, if that does not fit); at the CAS the replaced
// node's charge is released less what the new node's reservation lacks.
// Copying a value into the next table charges nothing. So a write that does
// not grow the map needs no room and is accepted at the limit, while a
// migration runs too: replacing a present value by one whose node is no
// larger (a node is the value's length plus its 12-byte header, rounded up
// to 16 bytes, at least 32, so every value of 20 bytes or less takes the
// smallest), add on a counter,
// compare_and_set to such a value or to absent, erase. Beyond the budget the
// process holds only retired nodes not yet freed and, per write in flight,
// one private node whose unreserved part is no larger than a value node the
// map held when that write began.
//
// NUMA. Every table array — a generation's first table (created by the map's
// constructor or by clear()) and every migration target — comes from
// numa::allocate with the map's policy (options::numa_policy), decided for
// the thread that allocates it: under `local`, the creator's node, then the
// node of whichever thread starts each migration (start_resize), since that
// thread allocates the next table. The placement is recorded in the table's
// header and the array goes back with the matching numa::deallocate, also
// when the epoch domain frees a promoted table long after the map was
// cleared or destroyed. Accounting charges numa::footprint (page-rounded
// when the array is mapped). Key and value nodes stay on the heap, placed by
// first touch: they are small and allocated by every writer. A fixed node
// that the topology lacks is refused by the constructor before anything is
// allocated (check_numa_policy). placement() reports one table per array in
// the current generation's chain, oldest first: table 0 is the head (the
// table every operation starts in); 1, 2, ... are migration targets, present
// only while a migration runs (chain_length() > 1).
//
// MEMORY ORDERING. Publication is release (CAS on a word, or on `next`, or on
// a head/root pointer) and every load that may be followed by a dereference is
// acquire, so node contents and table initialisation are visible to whoever
// loads the pointer; no standalone fences are needed (ThreadSanitizer sees
// every happens-before edge on the words themselves). Migration accounting
// (the count of finished chunks and the head CAS) is sequentially consistent,
// so of two threads finishing consecutive tables of a chain at once, at least
// one sees the other's completion and promotes both.
//
// PADDING. The map's root pointer sits alone on its line (read by every call,
// written only by clear). In a table, the fields every operation reads (mask,
// shift, `next`, slot pointer) share one line that is written once (`next`);
// the migration cursors and finished-chunk count get their own line, written
// only while a migration runs; each region's claim counter has its own line,
// so inserters in different parts of the table do not bounce one line. A
// generation's size and byte counters are per-thread cells, one line each, so
// writers never share a counter line. Readers write nothing shared, except
// that while a migration runs every call, reads included, helps with it.
//
// TEST HOOK. lockfree_test::set_pause_hook installs a function called at the
// sites listed below (one relaxed load of a function pointer when unset); the
// lock-freedom tests park a thread there and show the others still finish.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "threadmap/detail/padding.hpp"
#include "threadmap/detail/revision.hpp"
#include "threadmap/detail/test_seam.hpp"
#include "threadmap/map.hpp"

namespace threadmap {

namespace lockfree_detail {
struct generation;
}

class lockfree_map final : public concurrent_map {
 public:
  /// Throws std::length_error when opts.capacity needs more than
  /// opts.max_memory, std::bad_alloc when it cannot be allocated.
  explicit lockfree_map(const options& opts);
  ~lockfree_map() override;
  lockfree_map(const lockfree_map&) = delete;
  lockfree_map& operator=(const lockfree_map&) = delete;

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
  std::size_t scan_units() const override { return units; }
  std::size_t scan(std::size_t unit, std::string& out) const override;
  map_stats stats() const override;
  std::vector<numa::table_report> placement() const override;

  /// Iteration units: keys are grouped by the first byte of their hash.
  static constexpr std::size_t units = 256;

  /// Tables in the current generation's chain: 1 when no migration runs
  /// (tests use it to see a migration start and finish).
  std::size_t chain_length() const;

 private:
  lockfree_detail::generation* new_generation(std::size_t entries) const;

  const options opts_;
  const unsigned cells_;  // per-thread counter cells per generation (power of two)
  // Read by every call, written only by clear(): alone on its line so that
  // the resize counter below never invalidates it.
  alignas(cache_line) std::atomic<lockfree_detail::generation*> root_{nullptr};
  alignas(cache_line) mutable std::atomic<std::uint64_t> resizes_{0};
  // Outlives generations: revisions keep increasing across clear().
  detail::revision_clock clock_;
};

/// Test seam for the lock-freedom tests (compiled in always; costs one relaxed
/// load of a function pointer per site when unset).
namespace lockfree_test {

enum site : int {
  claim_window = 1,   // an empty slot was seen, before the CAS that claims it
  cas_window = 2,     // a value word was read and the new one decided, before the CAS
  migrate_chunk = 3,  // a migration chunk was claimed, before any of its slots is copied
  migrate_slot = 4,   // a slot was frozen, before its value is copied to the next table
  resize_window = 5,  // a next table was allocated, before it is published
  clear_window = 6,   // clear() between drawing its revision and swapping the generation
};

using detail::pause_hook;
void set_pause_hook(pause_hook hook) noexcept;

}  // namespace lockfree_test

}  // namespace threadmap
