// threadmap/detail/striped.hpp — lock striping over flat tables: the `striped`,
// `mutex` and `rwlock` strategies.
//
// `striped`: 2^k stripes, chosen by the top bits of the key's hash. Each stripe
// is one flat table plus one mutex, aligned to its own cache lines so that two
// stripes never share a line (writers of different stripes never invalidate
// each other's caches). Writers lock their stripe. Readers lock nothing and
// write nothing shared: they run the flat table's seqlock read (see
// threadmap/detail/flat_table.hpp) and, after a few attempts that a writer
// invalidated, take the stripe lock, so a stream of writers cannot starve
// them. Each stripe grows on its own, so no resize ever stops the whole map.
//
// `mutex`: the same with one stripe and readers that always lock — the
// baseline the others are measured against (the Kubernetes scheduler-cache
// pattern). `rwlock`: one stripe whose readers take a shared lock
// (threadmap/detail/rw_spinlock.hpp), so readers run in parallel but all write the
// lock word.
//
// The three differ only in the lock type and the read mode, so they are one
// class template; the probe loops, growth and accounting are the flat table's.
//
// Iteration units are stripes: scan(unit) copies one stripe under its lock.
// A snapshot's copy_unit(unit) reads the stripe as readers do, optimistically,
// and takes the lock only after a few attempts a writer spoiled, then only
// for a copy of the slot words into a buffer sized beforehand: a writer
// never waits for the copier's allocations or page faults.
// clear() locks every stripe and holds every stripe's version odd while it
// empties them, so no reader can see some stripes cleared and others not.
//
// Revisions: one clock for the map (threadmap/detail/revision.hpp); a write
// draws inside its stripe's write section, clear() with every section open,
// so revision order is an order in which the writes took effect.
//
// Eviction (options::evicts(); threadmap/detail/eviction/policy.hpp has the
// protocol, flat_table.hpp the table's half): one policy instance per
// stripe, holding that stripe's share of the bound (max_entries, or
// max_memory / memory_entry_bytes; the remainder one each to the first
// stripes, so the shares add up to the bound exactly, and a bound below the
// stripe count lowers the stripe count). A stripe never holds more than its
// share, so the map never holds more than the bound, although a stripe that
// fills before the others evicts while the map is below it. Writers drain
// the stripe's read records first, under the lock they already hold.
// Under max_memory a writer whose own stripe cannot free enough evicts from
// the others, taking each lock only with try_lock (so no lock order), one
// entry at a time, until it fits; each stripe gets its first array when the
// map is made, so an empty stripe never needs memory it cannot free.
// While the map is watched, the writer's thread carries an eviction sink
// (flat_table.hpp): its victims go to the log, and before it evicts from
// another stripe it try-locks that stripe's key lock through the sink (the
// stripe is skipped when busy), so that no write of a victim's key sits
// between its write and its append while the victim's event is appended.
// Readers record a read after their lookup has validated (the handle comes
// from the validated copy) and never wait: when the policy answers `drain`
// they try_lock the stripe and drain only if they got it. peek() records
// nothing. The policies' memory is charged to the map's budget when the map
// is made. Hits and misses are counted only in maps that evict, in striped
// counters (one cell per thread ordinal), so a reader writes no line another
// thread's reads write; a hit is not counted there when the policy counts
// its reads itself (policy::counts_reads: W-TinyLFU's read buffer, whose
// offers are the hits, so such a hit writes one counter fewer).
//
// Expiry (options::ttl; flat_table.hpp, "Expiry", has the table's half):
// every stripe's table is timed. Each call reads the clock once (now():
// CLOCK_MONOTONIC_COARSE in milliseconds, a vDSO read of a word the kernel
// updates every tick, or, for tests, the map's manual counter) and hands
// it to its lookups (a get_many reads it once for the batch) or, for a
// write, to the table with the write's deadline; a write then sweeps a few
// slots of its stripe (sweep_slots) before it runs, so expired entries are
// reclaimed by the writes that come, a stripe at a time, with no thread
// of their own. Reclaiming removes other keys inside a write, as eviction
// does, so a map that expires answers the stripe as its lock class too.
// The clock is coarse (a tick, 1 to 4 ms on Linux): an entry may outlive
// its deadline by up to a tick, never less than its ttl. Every write that
// stores a value is one of the timed writes (put_for and the other *_for
// of map.hpp) with its own ttl or default_ttl, so a write's deadline is
// decided in one place, write(), under the stripe lock that orders it.
//
// Write versions (issue 14: read-cache hits without a native call;
// concurrent_map::versions). A map made with options::read_cache that
// neither evicts nor expires keeps one more 64-bit word per stripe, each
// alone on a cache line (so writers of two stripes never share one) in a
// block of its own that JavaScript reads through an ArrayBuffer. Why not
// the flat table's own seqlock version: it sits beside the table's array
// pointer and the stripe lock, and a buffer over it would let a stray
// write from JavaScript corrupt them; a stray write to a word of its own
// can at worst make read-cache hits wrong, never reach a pointer (and no
// view of the block is handed to user code). The block is held by
// shared_ptr (version_words::owner), so a view of it outlives close() and
// the map. The map's destructor (close() runs it before it returns)
// leaves every word odd for good, so no cached copy matches once the map
// is gone and the next get learns that it is closed.
//
// The protocol. A writer opens a version section on its stripe after it
// takes the stripe lock and before it changes anything (store v + 1
// relaxed, then a release fence), and closes it after its last change
// (store v + 2, release). Every path that changes a stripe's entries runs
// inside one: write() (put, put_if_absent, compare_and_set, add and their
// *_for, erase, so setMany, deleteMany and the counters too; the sweep of
// expired entries, growth and eviction inside them), the cross-stripe
// eviction under max_memory (the victim's stripe), clear() (every stripe
// odd together) and purge_expired(). Only the constructor's reserve runs
// outside one, before the map is shared. Expiry itself (time passing) is
// not a write: that is why maps with a ttl keep no words, and maps that
// evict none because a hit must record its read with the policy.
//
// get_versioned(key) loads the word (acquire), runs get(), then an acquire
// fence and loads it again; it reports the pair (stripe, v) only when both
// loads gave the same even v. Then the value get() answered is the entry
// in the state S_v the stripe had between the sections that end with v and
// begin with v + 1: the first load read-from the store that closed v's
// section, so every change up to it is visible to the lookup; and had the
// lookup read any store of a later section (made after that section's odd
// store and release fence), the fence pair would make the second load see
// v + 1 or later, not v. (Mutex and rwlock lookups take the stripe lock
// instead of validating; the lock orders them the same way.)
//
// A reader holding (stripe, v) and the value decoded from that read may
// return it again while the word still holds v: if it loads the word and
// finds v, no section began since (the word only grows), so the entry is
// still in state S_v. A write acknowledged before that load began opened
// its section, which happens-before the load, so the load sees v + 1 or
// later and the reader asks the map again. JavaScript loads the word's two
// 32-bit halves (Atomics.load, low first, then high); lib/read-cache.ts
// shows that a torn pair can only fail to match.
//
// NUMA: every stripe's table carries the map's policy (options::numa_policy),
// so under `local` each stripe lands on the node of the thread that creates or
// grows it; placement() reports, per stripe, the node the kernel says its
// array is on.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <shared_mutex>

#include "threadmap/detail/adaptive_mutex.hpp"
#include "threadmap/detail/counter.hpp"
#include "threadmap/detail/eviction/policy.hpp"
#include "threadmap/detail/flat_table.hpp"
#include "threadmap/detail/hash.hpp"
#include "threadmap/detail/padding.hpp"
#include "threadmap/detail/rw_spinlock.hpp"
#include "threadmap/map.hpp"

namespace threadmap {

/// How readers reach a stripe's table.
enum class read_mode {
  optimistic,  // seqlock reads, the stripe lock after a few failed attempts
  shared,      // lock_shared() on the stripe lock
  exclusive,   // lock() on the stripe lock
};

/// Stripe count for `stripes` = 0: 4x the hardware threads (32 to 1024).
unsigned default_stripes() noexcept;

template <class Lock, read_mode Mode>
class striped_map final : public concurrent_map, private detail::cow_units {
 public:
  /// `stripes` is rounded up to a power of two; 0 picks default_stripes().
  striped_map(const options& opts, strategy_kind kind, unsigned stripes);
  ~striped_map() override;

  /// Flattened: the hash, the epoch guard and the whole lookup are one
  /// frame (flat_table_probe.hpp says why); the timed, locked and
  /// eviction paths stay calls.
  [[gnu::flatten]] bool get(bytes key, std::string* out, std::uint64_t* revision = nullptr,
                            std::uint64_t unless = 0) const override;
  bool peek(bytes key, std::string* out, std::uint64_t* revision = nullptr) const override;
  std::uint64_t revision() const override { return clock_.latest(); }
  bool keeps_revisions() const noexcept override { return clock_.on(); }
  void get_many(const bytes* keys, std::size_t n, std::string* out, bool* found) const override {
    lookup_many(keys, n, out, found, true);
  }
  void peek_many(const bytes* keys, std::size_t n, std::string* out, bool* found) const override {
    lookup_many(keys, n, out, found, false);
  }
  /// Flattened as get is: the hash, the epoch guard, the lock and the
  /// version section in one frame; the table's write is the one call.
  [[gnu::flatten]] status put(bytes key, bytes value, std::string* old) override;
  status put_if_absent(bytes key, bytes value, std::string* existing) override;
  status compare_and_set(bytes key, const bytes* expected, const bytes* desired,
                         std::string* current) override;
  status erase(bytes key, std::string* old) override;
  status add(bytes key, counter_kind kind, counter delta, bytes prefix, counter* result) override;
  std::size_t size() const override;
  void clear() override;
  std::size_t scan_units() const override { return count_; }
  std::size_t scan(std::size_t unit, std::string& out) const override;
  /// The stripe's words copied optimistically, or under its lock after a
  /// few spoiled attempts, and decoded after (flat_table.hpp, "Copying for
  /// a snapshot").
  std::size_t copy_unit(std::size_t unit, std::string& out, std::string& scratch) const override;
  map_stats stats() const override;
  std::vector<numa::table_report> placement() const override;
  /// A lazy snapshot's units are the stripes (snapshot.hpp).
  const detail::cow_units* cow() const noexcept override { return this; }
  std::size_t cow_unit_count() const noexcept override { return count_; }
  std::uint64_t cow_clock() const noexcept override { return now(); }
  void cow_locked(std::size_t unit, void (*f)(void*, detail::flat_table&),
                  void* ctx) const override;
  /// Maps that evict: the stripe (a victim is always in the evicting
  /// writer's stripe, or in one it holds; watch.hpp, EVICTIONS).
  std::uint64_t lock_class(std::uint64_t hash) const noexcept override {
    return stripes_[0].policy || opts_.expires() ? hash_stripe(hash, count_) : hash;
  }
  [[gnu::flatten]] status put_for(bytes key, bytes value, std::string* old,
                                  std::uint64_t ttl_ms) override;
  status put_if_absent_for(bytes key, bytes value, std::string* existing,
                           std::uint64_t ttl_ms) override;
  status compare_and_set_for(bytes key, const bytes* expected, const bytes* desired,
                             std::string* current, std::uint64_t ttl_ms) override;
  status add_for(bytes key, counter_kind kind, counter delta, bytes prefix, counter* result,
                 std::uint64_t ttl_ms) override;
  bool remaining_ttl(bytes key, std::uint64_t* ms) const override;
  std::size_t purge_expired() override;
  bool peek_unexpired_or_not(bytes key, std::string* out, std::uint64_t* revision) const override;
  bool advance_manual_clock(std::uint64_t ms) override;
  version_words versions() const override;
  bool get_versioned(bytes key, std::string* out, std::uint64_t* revision, std::uint64_t unless,
                     version_pin* pin) const override;

 private:
  struct stripe;
  // A stripe's write version (the essay, "Write versions"): alone on its
  // line, so a writer invalidates only its own stripe's word in readers'
  // caches.
  struct alignas(cache_line) version_line {
    std::atomic<std::uint64_t> v{0};
  };
  // Holds stripe `s`'s version odd while it lives (nothing on maps without
  // words); writers open it once they hold the stripe lock.
  class version_section {
   public:
    version_section(const striped_map& m, const stripe& s) noexcept;
    ~version_section();
    version_section(const version_section&) = delete;
    version_section& operator=(const version_section&) = delete;

   private:
    std::atomic<std::uint64_t>* w_;
  };

  // One stripe per cache-line-aligned block: the table's version and array
  // pointer (read by every reader of the stripe) and the lock never share a
  // line with another stripe's. The lock comes first, so that it, the
  // version and the write-section depth (flat_table's first members) share
  // one line: a write then takes one line from a thread that last used the
  // stripe, not three (docs/benchmarks.md, "The stripe's hot line").
  struct alignas(cache_line) stripe {
    mutable Lock lock;
    detail::flat_table table;
    // Maps that evict; set when the map is made, then only the pointee changes.
    std::unique_ptr<detail::eviction::policy> policy;
  };
  // Maps that evict: get()'s outcomes, a cell per thread ordinal.
  struct cache_counts {
    striped_counter hits, misses;
  };

  stripe& stripe_for(std::uint64_t hash) const noexcept {
    return stripes_[hash_stripe(hash, count_)];
  }
  /// `use`: a get (records the read with the policy and counts it), not a peek.
  /// Timed (maps that expire): `now` is the call's clock reading. Always
  /// inlined, with the table's lookup (flat_table_probe.hpp): a get is one
  /// frame, its own.
  template <bool Timed = false>
  [[gnu::always_inline]] inline bool get_hashed(std::uint64_t hash, bytes key, std::string* out,
                                                std::uint64_t* revision = nullptr,
                                                std::uint64_t unless = 0, bool use = true,
                                                std::uint64_t now = 0,
                                                std::uint64_t* deadline = nullptr) const;
  /// get and peek (`Use`) of a map that expires: guard, hash and
  /// get_hashed<true> at now() in a frame of their own, so the untimed
  /// lookup inlined into get stays small (and takes its arguments in
  /// registers).
  template <bool Use>
  [[gnu::noinline]] bool get_timed(bytes key, std::string* out, std::uint64_t* revision,
                                   std::uint64_t unless) const;
  /// Maps that expire: the clock in ms (at least 1); 0 elsewhere.
  std::uint64_t now() const noexcept;
  /// Maps that evict: counts a get's outcome and records a hit's read with
  /// the policy. Out of line, as the locked read below: what a get inlines
  /// is only the optimistic lookup.
  [[gnu::noinline]] void record(stripe& s, bool found, detail::eviction::handle h,
                                std::uint64_t hash) const noexcept;
  /// A get's request, as the locked read takes it: by reference, so the
  /// call to it from an inlined optimistic get passes three registers
  /// rather than ten arguments, some on the stack (which cost that get a frame
  /// pointer and spills on every call, taken or not).
  struct read_args {
    std::uint64_t hash;
    bytes key;
    std::string* out;
    std::uint64_t* revision;
    std::uint64_t unless;
    detail::eviction::handle* want;
    std::uint64_t now;
    std::uint64_t* deadline;
  };
  /// The lookup under the stripe lock (shared for rwlock): mutex's and
  /// rwlock's every read, the optimistic reader's last resort.
  template <bool Timed>
  [[gnu::always_inline]] inline bool get_locked(const stripe& s, const read_args& a) const;
  /// The same out of line: the optimistic get's rare path.
  template <bool Timed>
  [[gnu::noinline]] bool get_locked_cold(const stripe& s, const read_args& a) const {
    return get_locked<Timed>(s, a);
  }
  /// get_many (use) and peek_many (not), pipelined over the batch.
  void lookup_many(const bytes* keys, std::size_t n, std::string* out, bool* found, bool use) const;
  void make_policies();
  /// `ttl_ms`: the write's own ttl, or default_ttl (the map's); `keep`: an
  /// overwrite keeps the entry's deadline (add_for's window).
  template <class Op>
  status write(bytes key, std::size_t value_size, Op&& op, std::uint64_t ttl_ms = default_ttl,
               bool keep = false);

  const options opts_;
  const strategy_kind kind_;
  const unsigned count_;
  std::unique_ptr<stripe[]> stripes_;
  // Shared by all stripes, but touched only when memory is allocated or freed.
  mutable padded<detail::memory_budget> budget_;
  // Every write of every stripe draws from it (its own line; see
  // threadmap/detail/revision.hpp for what that costs).
  detail::revision_clock clock_;
  std::unique_ptr<cache_counts> counts_;  // maps that evict
  std::size_t policy_bytes_ = 0;          // charged to budget_ when made
  // Where a writer over max_memory starts evicting from other stripes, so
  // successive writers spread their evictions (relaxed; maps that evict).
  std::atomic<unsigned> steal_{0};
  // options::manual_clock (tests): the clock every thread reads (its own line).
  padded<std::atomic<std::uint64_t>> manual_now_;
  // The write versions, one line per stripe; null on maps that keep none
  // (no read_cache, or a map that evicts or expires).
  std::shared_ptr<version_line[]> versions_;
};

using mutex_map = striped_map<adaptive_mutex, read_mode::exclusive>;
using rwlock_map = striped_map<rw_spinlock, read_mode::shared>;
using optimistic_striped_map = striped_map<adaptive_mutex, read_mode::optimistic>;

extern template class striped_map<adaptive_mutex, read_mode::exclusive>;
extern template class striped_map<rw_spinlock, read_mode::shared>;
extern template class striped_map<adaptive_mutex, read_mode::optimistic>;

}  // namespace threadmap
