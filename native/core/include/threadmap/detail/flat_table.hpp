// threadmap/detail/flat_table.hpp — the flat open-addressing table every locking
// strategy is built from: one writer at a time, any number of optimistic
// readers.
//
// Layout. One allocation holds a header, the tag bytes and the slots. Slots
// come in groups of 16; each group has 16 one-byte tags. The tags of all
// groups come first, so the tag array (1/33 of the table) mostly stays in
// cache, padded to whole cache lines so each group's slots are exactly eight
// lines; a lookup in a large table prefetches those eight lines as it reads the
// tags, so the miss on the slot overlaps the one on the tags. Tags: 0x00
// empty, 0x01 deleted, 0x80 | the low 7 bits of the key's hash when full;
// empty being zero means a freshly mapped array needs no initialisation and
// its untouched pages cost no memory (a large `capacity` is reserved, not
// resident until entries land on it). A lookup compares
// all 16 tags of a group at once (SSE2 where available, a scalar loop
// elsewhere), so it touches the key bytes only on a tag match (1 in 128 for a
// wrong key). The home group is hash bits 7..38 scaled to the group count,
// which can be any number; probing continues linearly to the next group.
// Tables hold at most 14 entries a group (7/8) and grow by half, so a table
// is 7/12 to 7/8 full (doubling would leave it 7/16 to 7/8 full).
//
// A slot is four 64-bit words, 32 bytes, so a slot never straddles a cache
// line. Short entries (key and value together at most 22 bytes: 8-byte
// numbers, short strings) live inline in words 0-2, narrow: byte 0 the key
// length, byte 1 the value length, then the bytes. Entries of 23 or 24
// bytes (a 16-byte key with an 8-byte value) live inline too, wide: byte 0
// says so (0xC0 and up, with the key length) and the bytes run from byte 1
// into the low byte of word 3 (flat_table_probe.hpp, wide_marker). Longer
// ones live in an immutable
// out-of-line blob: byte 0 is 0x80, word 1 the blob pointer, word 2 the full
// hash (so rehashing and most mismatches never touch the blob). Word 3 above
// its low byte is the
// entry's revision (threadmap/detail/revision.hpp), drawn inside the write
// section that stores the slot, so a reader that validates its copy has the
// value and its revision from one instant; an 8-byte key with an 8-byte value
// has key, value and revision on one line, and so has a 16-byte key with
// one.
//
// Concurrency protocol (a seqlock). The writer, holding the owner's lock,
// makes the version odd, mutates, and makes it even again; every word it
// stores is an atomic store. A reader loads the version, reads the table with
// atomic loads, and trusts what it read only if the version is unchanged
// afterwards, so readers write no shared memory at all. A reader validates
// before it follows a blob pointer; the blob it then reads is immutable, and
// neither blobs nor table arrays are freed while a reader may hold them: they
// are retired to the epoch domain (threadmap/epoch.hpp), and every call runs
// inside an epoch guard.
//
// Growth builds the new array while the version stays even (readers keep
// using the old, unchanged array), then publishes it in one short write
// section, so a resize never blocks readers. The old array is retired; its
// blobs move to the new one.
//
// Deletion leaves a tombstone (0x01) unless the group still has an empty slot,
// in which case no probe ever continued past this group and the slot can go
// back to empty. Tombstones are dropped when the table is rebuilt.
//
// Memory accounting (for stats and max_memory) counts the array and every
// live blob, and is charged before anything is allocated or changed, so an
// operation that would exceed the limit fails with nothing changed.
//
// Eviction (issue 15; threadmap/detail/eviction/policy.hpp has the protocol).
// A table whose owner evicts is given the owner's policy (set_eviction) and
// keeps each entry's 32-bit policy handle in its slot: in the upper half of
// word 2 of an inline slot, whose key and value then get 18 bytes instead
// of 24, never the wide form (so the handle costs no word: the 4 bytes per entry the policy's
// memory figures count), and in the upper half of word 0 of a blob slot,
// above the marker byte. Tables that do not evict keep 22 inline bytes and
// never read those bits. The handle is copied with the slot, so growth
// moves it. A victim is found by (hash, handle): the probe from the hash's
// home group, matching the tag, and the slot whose handle is the victim's
// (handles are unique within one policy, so the pair is exact).
//
// A new key asks the policy for its plan (on_insert) only once nothing can
// fail any more (budget charged, room made, blob allocated), then removes
// the victim, renames the moved entry and stores the new one in one write
// section, so readers see the eviction and the insert at once; the victim's
// removal draws a revision of its own, as any delete does. Room is made for
// one entry more than the table holds unless a victim will free one (the
// policy is full), so a full cache does not grow its table. Over the memory
// budget, an insert evicts (evict()) until its blob and any growth fit; it
// first checks that evicting this table's blobs could free enough, so a
// write that can never fit fails with nothing changed. A rebuild refused by
// the budget (growth, or the same-size rebuild that drops tombstones, which
// needs the new array beside the old for a moment) is not a failure while
// the live entries fit under 7/8, in any table: the new entry takes a
// tombstone or, if its probe meets an empty slot first, that slot (probes
// stay bounded by the group count, and the next rebuild that fits clears
// them), so what deletes and expirations freed stays usable at the budget.
// Nor does a table whose live entries fit grow into what the budget holds
// for entries: a batch of deletes can free enough for a grown array, which
// would then keep for good bytes the replacements need. While the live
// entries fit, it grows only if the budget could still fill the present
// table (entries of today's average size) beside the grown array; else it
// drops its tombstones with a same-size rebuild. An overwrite
// keeps the entry's handle and tells the policy (on_update); an erase
// forgets it (on_erase); clear() clears the policy. Readers get the handle
// from their validated copy of the slot, so the owner can record the read
// without the lock.
//
// Expiry (issue 15 part 2). A table made timed (set_timed, maps with a
// ttl) has one more 8-byte word per slot, in a deadline array after the
// slots (slot i's deadline is word i of it): the absolute deadline in the
// owner's milliseconds, 0 for none. It is not in the slot because every
// word of a slot is taken (word 2 holds the handle of a table that evicts,
// or a blob's hash, word 3 the revision): a 4-byte deadline there would cost
// inline bytes again, and a coarse one would wrap; the revision's top bits
// would bound the revisions. A table that is not timed has no deadline
// array, and its owner reads it with the untimed instance of the lookup
// (try_get<false>, get_locked<false>), which has no expiry code at all.
// Timed readers load the deadline with the slot, before validating,
// and treat an entry whose deadline is at or before `now` as absent. A
// writer that finds its key expired reclaims it first (a delete with its
// own revision, handed to the sink as an expiry, so a watched map logs it
// before the write's own event), then writes as if the key were absent.
// Writers store the deadline in the write section that stores the slot;
// growth copies it with the slot. Reclamation is incremental: the owner
// calls sweep() in its writes (a few slots from a cursor that goes round
// the table), purge_expired() sweeps everything, and an insert into a full
// policy, or one over the memory budget, first looks for an expired entry
// near the cursor before it asks the policy for a victim, so expired
// entries go before live ones without the policy knowing about time.
//
// Copying for a snapshot (issue 18; threadmap/snapshot.hpp). scan() runs
// under the owner's lock and builds its output there, allocating as it
// grows; a snapshot's copy must not keep writers waiting for an allocator
// or a page fault. copy_entries() reads like a lookup: the version, the
// array, the tags and every full slot's four words into a caller's buffer
// sized and faulted in beforehand (prepare_copy), then the version again;
// a copy whose version changed is thrown away (it is checked every 64
// groups, so a copy a writer spoiled stops early). A validated copy is the
// table at one instant, as a validated lookup is one entry at one instant.
// After a few spoiled attempts the owner takes its lock for one copy of
// the words, which allocates nothing and follows no blob pointer, and
// decodes (append_copied: blob bytes into scan records) after releasing
// it. Blob pointers copied either way stay valid while the caller's epoch
// guard is held: an overwritten or erased blob is retired, not freed.
//
// Claims of a lazy snapshot (issue 18; threadmap/snapshot.hpp, COPY ON
// WRITE). A snapshot taken of a flat-table strategy copies no entry up
// front: it links one unit_claim per table into the table's list (under
// the owner's lock) and leaves it there. Every change of the table opens a
// write section first, so begin_write is where the claims are honoured: a
// write section that opens on a table with claims (depth 0 to 1, before
// the version goes odd) first scans the table into each claim, as it is
// before the change, publishes it (`done`) and empties the list. So every
// path that changes entries (each write, growth, a sweep's or an
// eviction's removal, clear) copies first, without knowing about
// snapshots, and a table without claims pays one load of a word on the
// line its version is on and a branch that is not taken. A claim's owner
// may settle it itself (settle(), under the lock: the same copy) or drop
// it (unclaim()). The copy allocates under the owner's lock: that is the
// one stripe critical section a lazy snapshot costs a writer.
//
// NUMA placement. Arrays come from numa::allocate with the table's policy
// (threadmap/detail/numa.hpp), decided by the thread that creates or grows the table,
// and record in their header how they were placed, so they are returned with
// the matching call (free or munmap) and stats can report where they are.
// Accounting charges numa::footprint (page-rounded when the array is mapped).
//
// The pointer table (pointer_table<T>) is the same array, tags and probe
// loop holding a T* per key instead of a value: readmostly's read and dirty
// tables, which map keys to entries. Its slot is three words, 24 bytes (the
// array header records the slot size; readmostly keeps revisions in the
// value nodes its entries point to): an inline key of up to 15
// bytes (byte 0 its length, then the bytes) or, beyond, byte 0 0x80, the low
// 56 bits of the key's hash in the rest of word 0 (all that probing and
// growth read: the tag is bits 0..6, the group bits 7..38) and the key's
// blob in word 1; word 2 the pointer. Its keys are only ever added, never
// replaced or erased (readmostly deletes by clearing the entry it points
// to), so there are no tombstones. It has one writer and no seqlock: its
// owner never lets a thread read it while another writes it (readmostly
// reads its dirty table under the lock that guards every write, and
// publishes a table to lock-free readers only once it will never change
// again), so a lookup is the probe alone.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>

#include "threadmap/detail/eviction/policy.hpp"
#include "threadmap/detail/revision.hpp"
#include "threadmap/detail/test_seam.hpp"
#include "threadmap/map.hpp"
#include "threadmap/placement.hpp"

namespace threadmap::detail {

/// Bytes charged against a map's max_memory, shared by all its tables.
class memory_budget {
 public:
  explicit memory_budget(std::size_t limit) noexcept : limit_(limit) {}
  bool reserve(std::size_t n) noexcept;
  void release(std::size_t n) noexcept;
  std::size_t limit() const noexcept { return limit_; }
  std::size_t used() const noexcept { return used_.load(std::memory_order_relaxed); }

 private:
  const std::size_t limit_;  // 0: unlimited
  std::atomic<std::size_t> used_{0};
};

/// Where a watched write's victims go (watch.cpp implements it; watch.hpp,
/// EVICTIONS, has the protocol). Set per thread only around a watched write,
/// so an unwatched eviction costs one thread-local load.
class eviction_sink {
 public:
  /// A victim `key` left the table with `revision`, inside the calling
  /// thread's write (under the lock of the victim's table).
  virtual void evicted(bytes key, std::uint64_t revision) noexcept = 0;
  /// The same for an entry reclaimed because its deadline came (expire).
  virtual void expired(bytes key, std::uint64_t revision) noexcept = 0;
  /// Before evicting from another unit of the map (lock class `cls`, see
  /// concurrent_map::lock_class): take that class's key lock without
  /// waiting. False: leave that unit alone.
  virtual bool try_hold(std::uint64_t cls) noexcept = 0;
  /// After it: log the victims so far, then let go of what try_hold took.
  virtual void release(std::uint64_t cls) noexcept = 0;

 protected:
  ~eviction_sink() = default;
};

/// One snapshot's claim on one table (see "Claims of a lazy snapshot"):
/// the table's entries as they are, copied by whoever first changes or
/// reads them. `next` and `linked` change only under the owner's lock;
/// `out`, `entries` and `failed` are written only while the claim is
/// linked, under that lock, and published by `done` (release).
struct unit_claim {
  unit_claim* next = nullptr;
  bool linked = false;
  std::uint64_t now = 0;    // entries whose deadline is at or before it are left out (0: none)
  std::size_t entries = 0;  // the table's size when claimed
  std::string out;          // scan records, once done
  bool failed = false;      // out of memory while copying: the claim's snapshot is lost
  std::atomic<bool> done{false};
};

class flat_table;

/// The units of a flat-table strategy as a lazy snapshot sees them
/// (threadmap/snapshot.hpp): `count` tables, key k in table
/// hash_stripe(hash_bytes(k), count).
class cow_units {
 public:
  virtual std::size_t cow_unit_count() const noexcept = 0;
  /// The clock reading an expiring map's reads would use now (0: no expiry).
  virtual std::uint64_t cow_clock() const noexcept = 0;
  /// f(ctx, table) with the unit's lock held exclusively. Inside an epoch
  /// guard; f must not throw.
  virtual void cow_locked(std::size_t unit, void (*f)(void*, flat_table&), void* ctx) const = 0;

 protected:
  ~cow_units() = default;
};

/// The array behind a flat_table: header, tags, slots in one allocation.
struct table_array;
namespace flat_probe {
struct slot_view;  // a copy of one slot's words (flat_table_probe.hpp)
}  // namespace flat_probe

class flat_table {
 public:
  static constexpr std::size_t group_size = 16;
  static constexpr std::size_t inline_bytes = 24;  // key + value kept inline, at most

  flat_table() = default;
  ~flat_table();
  flat_table(const flat_table&) = delete;
  flat_table& operator=(const flat_table&) = delete;

  // --- readers (no lock) --------------------------------------------------
  /// One optimistic attempt: the answer, or nullopt when a write interfered
  /// (the caller retries, and after a few failures takes the lock). The
  /// revision and `unless` are concurrent_map::get's; `handle` gets the
  /// entry's policy handle (tables that evict) from the validated copy.
  /// Timed (timed tables only; the untimed instance is the lookup of every
  /// other table, with nothing of expiry in it): an entry whose deadline is
  /// at or before `now` is absent; `deadline` gets the entry's (0: none).
  /// Defined in threadmap/detail/flat_table_probe.hpp and always inlined:
  /// a strategy's get compiles it into its own body (that header's essay).
  template <bool Timed = false>
  [[gnu::always_inline]] inline std::optional<bool> try_get(
      std::uint64_t hash, bytes key, std::string* out, std::uint64_t* revision = nullptr,
      std::uint64_t unless = 0, eviction::handle* handle = nullptr, std::uint64_t now = 0,
      std::uint64_t* deadline = nullptr) const;

  /// Batch lookups overlap their cache misses in stages: first the key's
  /// tag group is prefetched, a few keys later the slot its tag points to,
  /// and a few keys after that the lookup runs with both lines in cache.
  /// Hints only: they read without validation and change nothing.
  void prefetch_group(std::uint64_t hash) const noexcept;
  void prefetch_candidate(std::uint64_t hash) const noexcept;

  // --- writers (caller holds the owner's lock) ----------------------------
  // Every write that changes the table draws its revision from `clock`
  // inside its write section.
  template <bool Timed = false>
  bool get_locked(std::uint64_t hash, bytes key, std::string* out,
                  std::uint64_t* revision = nullptr, std::uint64_t unless = 0,
                  eviction::handle* handle = nullptr, std::uint64_t now = 0,
                  std::uint64_t* deadline = nullptr) const;
  status put(std::uint64_t hash, bytes key, bytes value, std::string* old, memory_budget& budget,
             revision_clock& clock);
  /// put() compiled into the caller (defined in flat_table_probe.hpp, which
  /// the caller includes; put() is this, out of line): the probe and the
  /// overwrite of an inline entry by an inline one (a number by a number)
  /// become part of the owner's write; everything else is put_probed.
  [[gnu::always_inline]] inline status put_inline(std::uint64_t hash, bytes key, bytes value,
                                                  std::string* old, memory_budget& budget,
                                                  revision_clock& clock);
  status put_if_absent(std::uint64_t hash, bytes key, bytes value, std::string* existing,
                       memory_budget& budget, revision_clock& clock);
  status compare_and_set(std::uint64_t hash, bytes key, const bytes* expected, const bytes* desired,
                         std::string* current, memory_budget& budget, revision_clock& clock);
  status erase(std::uint64_t hash, bytes key, std::string* old, memory_budget& budget,
               revision_clock& clock);
  status add(std::uint64_t hash, bytes key, counter_kind kind, counter delta, bytes prefix,
             counter* result, memory_budget& budget, revision_clock& clock);
  /// Empties the table. Nests inside an owner's write_section, so an owner of
  /// several tables can clear them all in one atomic step for readers; the
  /// owner draws the clear's one revision inside that section.
  void clear(memory_budget& budget);
  /// Makes room for `entries` without further growth. False: over budget.
  bool reserve(std::size_t entries, memory_budget& budget);
  /// Appends every entry (not expired at `now`) in scan format; returns how many.
  std::size_t scan(std::string& out, std::uint64_t now = 0) const;

  // --- a snapshot's copy (see "Copying for a snapshot" above) ---------------
  /// Sizes `scratch` for the entries the table holds now, with slack, and
  /// touches its pages. Call it holding no lock.
  void prepare_copy(std::string& scratch) const;
  /// Copies the slot words of every entry (not expired at `now`) into
  /// `scratch`, allocating nothing, and answers how many. `locked` false:
  /// one seqlock attempt with no lock, nullopt when a writer interfered;
  /// `locked` true (the owner's lock held): nullopt only when `scratch` is
  /// too small. Either way nullopt also when `scratch` is too small.
  std::optional<std::size_t> copy_entries(std::string& scratch, std::uint64_t now,
                                          bool locked) const;
  /// Appends the first `n` entries copy_entries left in `scratch`, in scan
  /// format; inside the epoch guard the copy was made in (blobs).
  static std::size_t append_copied(const std::string& scratch, std::size_t n, std::string& out);

  // --- a lazy snapshot's claims (owner's lock held; see the essay) ----------
  /// Links `c` and records the table's size in it.
  void claim(unit_claim& c) noexcept;
  /// Copies the table into `c` and unlinks it, if it is still linked.
  void settle(unit_claim& c) noexcept;
  /// Unlinks `c` without copying, if it is still linked.
  void unclaim(unit_claim& c) noexcept;
  /// Copies the table into every claim and unlinks them (what a write
  /// section does first; the map's close too).
  void settle_all() noexcept {
    if (claims_) copy_claims();
  }

  // --- expiry (see the essay) -------------------------------------------------
  /// Gives the table its deadline array; set before it holds an entry or is
  /// shared.
  void set_timed(bool keep_on_overwrite) noexcept;
  bool timed() const noexcept { return timed_; }
  /// Writers: the clock reading and the deadline (0: none) of the write
  /// about to run; every write of a timed table is preceded by one. `keep`:
  /// an overwrite keeps the entry's deadline, as no_update_ttl makes every
  /// overwrite do (a counter's window, concurrent_map::add_for).
  void set_write_time(std::uint64_t now, std::uint64_t deadline, bool keep = false) noexcept {
    now_ = now;
    deadline_ = deadline;
    keep_write_ = keep || keep_deadline_;
  }
  /// Writers: examines the next `slots` slots from the sweep cursor and
  /// reclaims the expired ones; stops after `stop_after` reclaimed (0: never).
  /// Answers how many it reclaimed.
  std::size_t sweep(std::size_t slots, memory_budget& budget, revision_clock& clock,
                    std::size_t stop_after = 0);
  /// Entries reclaimed because they expired (relaxed; any thread).
  std::uint64_t expirations() const noexcept {
    return expirations_.load(std::memory_order_relaxed);
  }

  // --- eviction -------------------------------------------------------------
  /// The owner's policy for this table (one per stripe), set before the
  /// table holds an entry or is shared; null (the default): no eviction.
  void set_eviction(eviction::policy* p) noexcept;
  eviction::policy* eviction_policy() const noexcept { return evict_; }
  /// Largest key + value kept inline: inline_bytes, or 18 when evicting
  /// (the handle takes word 2's upper half, so no wide entries).
  std::size_t inline_limit() const noexcept { return inline_limit_; }
  /// Removes the policy's chosen victim (evict()); false when it has none.
  /// Writers: the owner evicts from another stripe's table this way when
  /// its own cannot free enough of a shared max_memory.
  bool evict_one(memory_budget& budget, revision_clock& clock);
  /// Bytes of out-of-line entries: what evicting everything would free
  /// (relaxed; any thread).
  std::size_t blob_bytes() const noexcept;
  /// The calling thread's eviction sink (watch's wrapper sets it around a
  /// watched write; null otherwise): every victim this thread removes is
  /// handed to it with the revision its removal drew.
  static eviction_sink* sink() noexcept;
  static void set_sink(eviction_sink* s) noexcept;

  // --- NUMA placement -----------------------------------------------------
  /// Policy for arrays allocated from now on. Set by the owner before the
  /// table is shared (it is read by writers only, under the owner's lock).
  void set_numa_policy(const numa::policy& p) noexcept { policy_ = p; }
  /// Where the current array is: its recorded placement, and the kernel's
  /// answer for its first page. Any thread, inside an epoch guard.
  numa::table_report numa_report() const;

  // --- statistics (any thread; relaxed) -----------------------------------
  std::size_t size() const noexcept { return size_.load(std::memory_order_relaxed); }
  std::size_t capacity() const noexcept;
  std::size_t bytes_used() const noexcept { return bytes_.load(std::memory_order_relaxed); }
  std::uint64_t resizes() const noexcept { return resizes_.load(std::memory_order_relaxed); }

 private:
  struct found {
    std::size_t index;  // slot index, or npos
    bool present() const noexcept { return index != npos; }
  };
  static constexpr std::size_t npos = ~std::size_t{0};

  found find(const table_array* t, std::uint64_t hash, bytes key) const;
  /// find() for writers: an expired entry is reclaimed and reported absent.
  found find_live(std::uint64_t hash, bytes key, memory_budget& budget, revision_clock& clock);
  bool expired_at(const table_array* t, std::size_t index) const noexcept;
  /// Removes an expired entry: the policy forgets it, the sink hears of it.
  void reap(std::size_t index, memory_budget& budget, revision_clock& clock);
  void read_value(const table_array* t, std::size_t index, std::string* out) const;
  bool value_equals(const table_array* t, std::size_t index, bytes value) const;
  /// Ensures one more entry fits; may rebuild the array. False: over budget.
  /// `freeing`: entries a victim will free first (1 when the policy is full),
  /// so a full cache does not grow for them.
  bool make_room(memory_budget& budget, std::size_t freeing = 0);
  /// An insert's budget and room; evicts while over budget (see the essay).
  status room_for(std::size_t extra, memory_budget& budget, revision_clock& clock);
  /// The slot of the entry named (hash, handle) by the policy, or npos.
  std::size_t find_named(std::uint64_t hash, eviction::handle h) const noexcept;
  /// remove() of an entry the policy still tracks: forgets it there first.
  void remove_entry(std::size_t index, memory_budget& budget, revision_clock& clock);
  status insert_new(std::uint64_t hash, bytes key, bytes value, memory_budget& budget,
                    revision_clock& clock);
  status overwrite(std::size_t index, std::uint64_t hash, bytes key, bytes value,
                   memory_budget& budget, revision_clock& clock);
  /// Whether `key` -> `value` replaces the entry `old` inline (both fit the
  /// slot): then overwrite_inline. Defined in flat_table_probe.hpp.
  [[gnu::always_inline]] inline bool inline_over(const flat_probe::slot_view& old, bytes key,
                                                 bytes value) const noexcept;
  /// overwrite() of the inline entry `old` (slot `index` of `t`) by an inline
  /// one: nothing to charge, allocate or retire, and nothing can fail.
  /// Defined in flat_table_probe.hpp (put inlines it).
  [[gnu::always_inline]] inline void overwrite_inline(table_array* t, std::size_t index,
                                                      const flat_probe::slot_view& old,
                                                      std::uint64_t hash, bytes key, bytes value,
                                                      revision_clock& clock);
  /// put's general path: `index` the key's slot, npos (absent) or unprobed
  /// (put has not looked: find_live, which also reaps an expired entry).
  static constexpr std::size_t unprobed = npos - 1;
  status put_probed(std::uint64_t hash, bytes key, bytes value, std::string* old,
                    memory_budget& budget, revision_clock& clock, std::size_t index);
  /// Answers the revision the removal drew.
  std::uint64_t remove(std::size_t index, memory_budget& budget, revision_clock& clock);
  /// remove() of the policy's victim, handed to the thread's sink if any.
  void remove_victim(std::size_t index, memory_budget& budget, revision_clock& clock);
  bool rebuild(std::size_t groups, memory_budget& budget);

  // Inline: every write opens one, and the call was a tenth of an overwrite's
  // instructions (docs/benchmarks.md, "The write path").
  void begin_write() noexcept {
    if (write_depth_ == 0) settle_all();  // before anything changes (the essay)
    if (write_depth_++ != 0) return;
    version_.store(version_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    // Orders the odd version before the data stores that follow (seqlock writer).
    std::atomic_thread_fence(std::memory_order_release);
  }
  void end_write() noexcept {
    if (--write_depth_ != 0) return;
    version_.store(version_.load(std::memory_order_relaxed) + 1, std::memory_order_release);
  }
  /// begin_write's copy for the claims (rare: out of line).
  void copy_claims() noexcept;
  void copy_into(unit_claim& c) const noexcept;

 public:
  /// Holds the version odd: readers of this table retry (or wait for the lock)
  /// until it ends. Nests with the table's own write sections.
  class write_section {
   public:
    explicit write_section(flat_table& t) noexcept : t_(t) { t_.begin_write(); }
    ~write_section() { t_.end_write(); }
    write_section(const write_section&) = delete;
    write_section& operator=(const write_section&) = delete;

   private:
    flat_table& t_;
  };

 private:
  // Read by every reader: the version and the array pointer. The owner
  // (striped stripe or mutex map) puts this object on its own cache line.
  std::atomic<std::uint64_t> version_{0};
  std::atomic<table_array*> array_{nullptr};
  // A lazy snapshot's claims (owner's lock) and the depth of write
  // sections: beside the version, which every write section touches anyway.
  unit_claim* claims_ = nullptr;
  unsigned write_depth_ = 0;  // nesting of write sections (writer only; every write)
  // Written by the writer only; read relaxed by size() and stats().
  std::atomic<std::size_t> size_{0};
  std::atomic<std::size_t> bytes_{0};
  std::atomic<std::uint64_t> resizes_{0};
  std::size_t used_ = 0;   // full + deleted slots (writer only)
  numa::policy policy_{};  // placement of new arrays (writer only)
  // Set before the table is shared, then read-only.
  eviction::policy* evict_ = nullptr;
  std::size_t inline_limit_ = inline_bytes;
  bool timed_ = false;
  bool keep_deadline_ = false;  // no_update_ttl
  // Expiry, writer only: the running write's clock reading, deadline and
  // whether its overwrite keeps the entry's, and where the next sweep starts.
  std::uint64_t now_ = 0, deadline_ = 0;
  bool keep_write_ = false;
  std::size_t sweep_ = 0;
  std::atomic<std::uint64_t> expirations_{0};
};

/// Keys (byte strings) to pointers: the flat table's array and probe loop,
/// untyped; pointer_table<T> gives it its type. One writer, and no reader
/// while it writes (see the essay above).
class pointer_table_base {
 public:
  static constexpr std::size_t inline_key_bytes = 15;

  pointer_table_base() = default;
  ~pointer_table_base();
  pointer_table_base(const pointer_table_base&) = delete;
  pointer_table_base& operator=(const pointer_table_base&) = delete;

  /// Makes room for `entries` without further growth. False: over budget.
  bool reserve(std::size_t entries, memory_budget& budget);
  void prefetch_group(std::uint64_t hash) const noexcept;
  void prefetch_candidate(std::uint64_t hash) const noexcept;
  void set_numa_policy(const numa::policy& p) noexcept { policy_ = p; }
  numa::table_report numa_report() const;

  std::size_t size() const noexcept { return size_; }
  std::size_t capacity() const noexcept;
  std::size_t bytes_used() const noexcept { return bytes_; }
  std::uint64_t resizes() const noexcept { return resizes_; }

 protected:
  static constexpr std::size_t end = ~std::size_t{0};
  void* find_pointer(std::uint64_t hash, bytes key) const noexcept;
  /// inserted, exists (nothing changed), or memory_limit (nothing changed).
  /// Throws std::bad_alloc, also with nothing changed.
  status insert_pointer(std::uint64_t hash, bytes key, void* p, memory_budget& budget);
  /// The first entry at slot index `from` or later: its key and pointer, and
  /// the index to continue from; `end` when there is none.
  std::size_t next(std::size_t from, bytes& key, void*& p) const noexcept;

 private:
  bool rebuild(std::size_t groups, memory_budget& budget);

  // Loaded by every lookup of a published table; replaced only by growth.
  std::atomic<table_array*> array_{nullptr};
  std::size_t size_ = 0;
  std::size_t bytes_ = 0;
  std::uint64_t resizes_ = 0;
  numa::policy policy_{};
};

template <class T>
class pointer_table final : public pointer_table_base {
 public:
  /// The pointer stored for `key`, or null.
  T* find(std::uint64_t hash, bytes key) const noexcept {
    return static_cast<T*>(find_pointer(hash, key));
  }
  /// Adds `key` -> `p`: inserted, exists or memory_limit (nothing changed).
  status insert(std::uint64_t hash, bytes key, T* p, memory_budget& budget) {
    return insert_pointer(hash, key, p, budget);
  }
  /// f(key, pointer) for every entry; the key's bytes live in the table.
  template <class F>
  void for_each(F&& f) const {
    bytes key;
    void* p;
    for (std::size_t i = next(0, key, p); i != end; i = next(i, key, p)) f(key, static_cast<T*>(p));
  }
};

/// Test seam of the snapshot copy (the copy tests): copy_entries without the
/// lock calls it once an attempt, halfway through the groups.
namespace flat_table_test {
enum site : int {
  copy_window = 1,  // an unlocked copy_entries attempt, halfway through the groups
};
void set_pause_hook(pause_hook hook) noexcept;
}  // namespace flat_table_test

}  // namespace threadmap::detail
