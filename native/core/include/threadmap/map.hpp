// threadmap/map.hpp — the one interface every strategy implements.
//
// Keys and values are byte strings. The binding encodes JavaScript values to
// bytes (see native/addon/codec.*) and the core never interprets them, with one
// exception: `add` treats a value as a little-endian 64-bit counter (int64 or
// double) that may follow a fixed prefix (the type tag of the `any` codec).
//
// Every operation is linearizable: it takes effect atomically at one instant
// between its call and its return. Output strings are assigned (not appended)
// and are left untouched when the operation reports that nothing was found.
//
// Revisions (etcd's mod revision): every write that changes the map (put,
// put_if_absent that inserts, compare_and_set that changes, add, erase that
// removes, clear) draws a revision from the map's one clock
// (threadmap/detail/revision.hpp, whose essay proves what follows). They are
// unique and start at 1; if write A returned before write B was called, in
// any threads, rev(A) < rev(B); the writes of one key have increasing
// revisions in the order they took effect. An entry carries the revision of
// the write that gave it its value; a delete's and a clear's revision only
// advance revision(). On mutex, rwlock and striped the revision order is
// also an order in which the writes took effect; lockfree, ordered and
// readmostly's lock-free updates promise only the above.
//
// Memory safety across threads: every call must run inside an epoch guard
// (threadmap/epoch.hpp); the strategies open one themselves, so callers only
// need their own guard to keep a `concurrent_map*` alive while they use it
// (see threadmap/registry.hpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <iterator>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "threadmap/detail/numa.hpp"

namespace threadmap {

namespace detail {
class cow_units;  // detail/flat_table.hpp: a lazy snapshot's view of the units
}  // namespace detail

using bytes = std::string_view;

/// Largest encoded key and value the maps accept; larger ones are `too_large`.
inline constexpr std::size_t max_key_bytes = 65535;
inline constexpr std::size_t max_value_bytes = std::size_t{256} << 20;

enum class status : std::uint8_t {
  ok,            // done; for put: an existing entry was replaced
  inserted,      // a new entry was created (put, put_if_absent, compare_and_set, add)
  not_found,     // the key is absent (erase, compare_and_set with an expected value)
  exists,        // put_if_absent: the key is present, nothing changed
  mismatch,      // compare_and_set: the current value differs; add: not a counter
  overflow,      // add: the int64 counter would overflow; nothing changed
  too_large,     // key or value longer than the limits above; nothing changed
  memory_limit,  // the map's max_memory would be exceeded; nothing changed
};

const char* to_string(status s) noexcept;

enum class strategy_kind : std::uint8_t { mutex, striped, rwlock, readmostly, lockfree, ordered };

/// Every strategy, in enum order: the one list of them. The factory, the
/// binding (options.strategy, constants.STRATEGIES and its error messages),
/// the typed test suites and the benchmarks all iterate this; a strategy
/// added to the enum must be added here (the assertion below checks the
/// count) and given a name in to_string and a case in the factory.
inline constexpr strategy_kind all_strategies[] = {
    strategy_kind::mutex,      strategy_kind::striped,  strategy_kind::rwlock,
    strategy_kind::readmostly, strategy_kind::lockfree, strategy_kind::ordered};
static_assert(std::size(all_strategies) == std::size_t(strategy_kind::ordered) + 1,
              "all_strategies must list every strategy_kind, in enum order");

/// The strategy's name ("mutex", "striped", ...), as JavaScript spells it.
const char* to_string(strategy_kind s) noexcept;

/// The strategy named `name`, if there is one.
bool parse_strategy(std::string_view name, strategy_kind& out) noexcept;

/// How the `ordered` strategy compares keys: the byte forms of the addon's
/// key codecs (threadmap/wire.hpp, native/addon/codec.hpp), so that key order
/// is the order of the JavaScript values: `bytes` is lexicographic (bytes
/// keys; string keys, whose UTF-8 and WTF-8 order is code point order),
/// `number` numeric on 8-byte doubles (NaN last), `bigint` numeric on the
/// bigint form, `any` by type tag, then as the tagged type. Every order is
/// total on all byte strings (byte forms no codec makes sort after the rest,
/// bytewise), and two keys compare equal only when their bytes are equal.
enum class key_order : std::uint8_t { bytes, number, bigint, any };

/// <0, 0 or >0 as `a` sorts before, with or after `b` under `order`.
int compare_keys(key_order order, bytes a, bytes b) noexcept;

/// The eviction policies a bounded map may use (threadmap/detail/eviction/
/// builds them), in the order the `evict` option lists them: the one list,
/// which detail::eviction names `all_kinds`.
enum class eviction_kind : std::uint8_t { wtinylfu, clock };
inline constexpr eviction_kind all_eviction_kinds[] = {eviction_kind::wtinylfu,
                                                       eviction_kind::clock};
/// What max_entries evicts with when options::evict names none: the policy
/// with the best hit ratios (docs/benchmarks.md, "Hit ratio").
inline constexpr eviction_kind default_eviction = eviction_kind::wtinylfu;
/// "wtinylfu", "clock".
const char* to_string(eviction_kind k) noexcept;

/// Whether a strategy can evict: the flat-table ones, whose stripe locks the
/// policy lives under. The others refuse max_entries and evict.
constexpr bool supports_eviction(strategy_kind s) noexcept {
  return s == strategy_kind::mutex || s == strategy_kind::rwlock || s == strategy_kind::striped;
}

/// Expiry (TTL, issue 15 part 2): the strategies that can evict can expire
/// too (the deadline lives beside the flat table's slots); the others refuse
/// options::ttl.
constexpr bool supports_expiry(strategy_kind s) noexcept {
  return supports_eviction(s);
}
/// The strategies whose maps can be made without revisions
/// (options::revisions false): the flat-table ones, whose writes draw under
/// their stripe lock and whose slots need no revision to stay correct.
/// lockfree, ordered and readmostly keep theirs: their compare-and-swap
/// paths tell deleted states apart by the revision they carry.
constexpr bool supports_skipping_revisions(strategy_kind s) noexcept {
  return supports_eviction(s);
}
/// The longest ttl, in milliseconds (2^53 - 1: every JavaScript integer).
inline constexpr std::uint64_t max_ttl_ms = (std::uint64_t{1} << 53) - 1;
/// remaining_ttl's answer for an entry that never expires.
inline constexpr std::uint64_t no_expiry = ~std::uint64_t{0};
/// A write's ttl argument (put_for and the other *_for writes) that names
/// no ttl of its own: the map's default, as the untimed call gives. Past
/// max_ttl_ms, so no ttl a caller means can be taken for it.
inline constexpr std::uint64_t default_ttl = ~std::uint64_t{0};

struct options {
  strategy_kind strategy = strategy_kind::striped;
  std::size_t capacity = 0;    // entries to size the tables for up front
  std::size_t max_memory = 0;  // bytes of tables and out-of-line entries; 0 = unlimited
  unsigned stripes = 0;        // striped only: 0 = derived from the hardware thread count
  // Where table memory goes (threadmap/placement.hpp). Every strategy applies it
  // to its table arrays (each decided by the thread that allocates the array)
  // and reports them from placement(). What lives outside the arrays (the
  // flat tables' out-of-line entries, lockfree's key and value nodes,
  // readmostly's entries and values) stays on the heap, placed by first touch.
  numa::policy numa_policy{};
  // Values each thread's read cache keeps (0: none). The binding's; the core
  // only carries it with the map, so every thread that attaches uses it.
  std::size_t read_cache = 0;
  // Revisions (the clock of threadmap/detail/revision.hpp). false: the map
  // keeps none (strategies where supports_skipping_revisions): no write
  // touches the clock's shared line, every revision is 0, and watch,
  // snapshots and the read cache refuse the map (the factory refuses
  // read_cache with it).
  bool revisions = true;
  key_order order = key_order::bytes;  // ordered only: how keys sort
  // Eviction (strategies where supports_eviction). A map evicts when
  // max_entries is set (with `evict`, else default_eviction) or when `evict`
  // names a policy (then max_memory alone bounds it, and the policy is sized
  // for max_memory / memory_entry_bytes entries). A map that evicts never
  // holds more than max_entries entries, and a write over max_memory evicts
  // until it fits. Without either, a full map refuses writes (memory_limit).
  std::size_t max_entries = 0;  // 0: no bound on entries
  std::optional<eviction_kind> evict;
  bool evicts() const noexcept { return max_entries != 0 || evict.has_value(); }
  // Expiry (strategies where supports_expiry). Set: the map keeps a deadline
  // per entry (a map without it keeps its slots and speed) and every write
  // that stores a value gives it now + *ttl ms (0: no deadline) unless the
  // write names its own (put_for, put_if_absent_for, compare_and_set_for,
  // add_for). An entry whose deadline has come is
  // absent to every read and write at once; its memory goes when a write's
  // sweep, a write of its key or purge_expired() reaches it.
  std::optional<std::uint64_t> ttl;  // ms, at most max_ttl_ms
  // Overwrites keep the entry's deadline (lru-cache's noUpdateTTL).
  bool no_update_ttl = false;
  // TESTING ONLY: the map's clock starts as a counter that
  // advance_manual_clock() moves (every thread reads it), instead of
  // CLOCK_MONOTONIC_COARSE.
  bool manual_clock = false;
  bool expires() const noexcept { return ttl.has_value(); }
};

/// Entries a policy is sized for per byte of max_memory when only max_memory
/// bounds an evicting map: a slot (32 bytes) and the policy's node and
/// sketch share (12) are the least an entry can cost, rounded up.
inline constexpr std::size_t memory_entry_bytes = 64;

enum class counter_kind : std::uint8_t { i64, f64 };

union counter {
  std::int64_t i;
  double f;
};

struct map_stats {
  std::size_t size = 0;
  strategy_kind strategy = strategy_kind::striped;
  unsigned stripes = 0;       // independent locks/tables (1 for mutex)
  std::size_t capacity = 0;   // slots allocated over all tables
  std::size_t bytes = 0;      // tables + out-of-line entries, as accounted for max_memory
  std::uint64_t resizes = 0;  // table reallocations (growth and tombstone cleanup)
  // Maps that evict (all zero otherwise). hits and misses count get() and
  // get_many() (not peek); the rest are the policies' (policy_stats),
  // summed over stripes.
  std::uint64_t hits = 0, misses = 0;
  std::uint64_t evictions = 0;      // entries removed to make room
  std::uint64_t admissions = 0;     // W-TinyLFU: candidates admitted to the main region
  std::uint64_t rejections = 0;     // W-TinyLFU: candidates evicted instead of a main entry
  std::uint64_t dropped_reads = 0;  // reads the policies' lossy buffers lost
  std::size_t max_entries = 0;      // the bound (sum of the policies' capacities)
  std::size_t policy_bytes = 0;     // the policies' memory, charged to max_memory
  std::uint64_t expirations = 0;    // maps that expire: expired entries reclaimed
};

/// Scan output: a sequence of records [u32 key_len][u32 value_len][key][value],
/// native byte order. `scan_reader` walks it.
struct scan_record {
  bytes key;
  bytes value;
};

/// Appends one record in scan format (the strategies' one writer of it).
void append_scan_record(std::string& out, bytes key, bytes value);

/// The keys an ordered range scan (concurrent_map::range) visits: those above
/// `lower` (at or above when lower_inclusive) and below `upper` (at or below
/// when upper_inclusive), in ascending key order, or descending when
/// `reverse`. A null bound is open.
struct key_range {
  const bytes* lower = nullptr;
  bool lower_inclusive = true;
  const bytes* upper = nullptr;
  bool upper_inclusive = true;
  bool reverse = false;
};

class scan_reader {
 public:
  explicit scan_reader(bytes buffer) noexcept : buf_(buffer) {}
  bool next(scan_record& out) noexcept;
  bool done() const noexcept { return pos_ >= buf_.size(); }

 private:
  bytes buf_;
  std::size_t pos_ = 0;
};

/// Write versions a reader checks without a call (the binding's read cache,
/// issue 14; the protocol and its proof are detail/striped.hpp's essay,
/// "Write versions"). A strategy that keeps them has one 64-bit word per
/// unit of its table (striped: per stripe), each alone on a cache line:
/// even while no write of the unit is running, made odd by every write
/// before it changes anything and even again after, never decreasing. The
/// memory is `owner`'s, not the map's, so a holder of `owner` may read the
/// words after the map is closed and freed (they then never move again).
struct version_words {
  const void* data = nullptr;  // the first word; null: the strategy keeps none
  std::size_t count = 0;       // words
  std::size_t stride = 0;      // bytes from one word to the next
  std::shared_ptr<const void> owner;
};

/// Where get_versioned's read lies: its unit's word (`offset` bytes from
/// version_words::data) and the even version that word held from before the
/// read began until after it ended. `valid` is false when the map keeps no
/// words or a write of the unit ran during the read.
struct version_pin {
  std::size_t offset = 0;
  std::uint64_t version = 0;
  bool valid = false;
};

class concurrent_map {
 public:
  virtual ~concurrent_map() = default;

  /// Copies the value into *out (if out is not null) and returns true when
  /// present; the entry's revision goes to *revision (when not null), read
  /// atomically with the value. When `unless` is not 0 and equals the
  /// entry's revision, *out is left untouched: the caller already holds
  /// that version (the binding's read cache).
  virtual bool get(bytes key, std::string* out, std::uint64_t* revision = nullptr,
                   std::uint64_t unless = 0) const = 0;

  /// The map's write versions (version_words); the default keeps none.
  virtual version_words versions() const { return {}; }

  /// get(), and in *pin where its read lies (version_pin). The default
  /// (strategies without versions) answers an invalid pin.
  virtual bool get_versioned(bytes key, std::string* out, std::uint64_t* revision,
                             std::uint64_t unless, version_pin* pin) const {
    pin->valid = false;
    return get(key, out, revision, unless);
  }

  /// get() that is not a use: a map that evicts records no read, so the
  /// entry's standing with the policy and the hit and miss counts stay as
  /// they were (lru-cache's peek). Elsewhere the same as get().
  virtual bool peek(bytes key, std::string* out, std::uint64_t* revision = nullptr) const {
    return get(key, out, revision);
  }

  /// The entry's revision, or 0 when the key is absent (not a use: peek).
  std::uint64_t revision_of(bytes key) const {
    std::uint64_t r = 0;
    return peek(key, nullptr, &r) ? r : 0;
  }

  /// The last revision drawn: every write that returned before this call
  /// has a revision no larger (0: nothing was ever written, or the map
  /// keeps no revisions).
  virtual std::uint64_t revision() const = 0;
  /// Whether the map keeps revisions (options::revisions): false, every
  /// revision it reports is 0, and watch and snapshots refuse it.
  virtual bool keeps_revisions() const noexcept { return true; }

  /// Batch lookup: found[i] = get(keys[i], out ? &out[i] : nullptr) for
  /// i < n. Each lookup is linearizable on its own (the batch is not one
  /// atomic snapshot). Strategies may overlap the lookups' cache misses; the
  /// default runs them one by one.
  virtual void get_many(const bytes* keys, std::size_t n, std::string* out, bool* found) const;

  /// get_many() that is not a use, as peek() is get() that is not (hasMany).
  /// The default peeks one by one; strategies whose peek is their get
  /// answer with get_many().
  virtual void peek_many(const bytes* keys, std::size_t n, std::string* out, bool* found) const;

  /// Inserts or replaces. Returns inserted, ok (replaced; old value in *old when
  /// old is not null), too_large or memory_limit.
  virtual status put(bytes key, bytes value, std::string* old) = 0;

  /// Inserts only if absent. Returns inserted, or exists with the current value
  /// in *existing (when not null), too_large or memory_limit.
  virtual status put_if_absent(bytes key, bytes value, std::string* existing) = 0;

  /// Atomically: if the current state equals `expected` (null: absent), sets it
  /// to `desired` (null: erase). Returns ok or inserted on success; on failure
  /// mismatch (present, value in *current) or not_found (absent); also
  /// too_large or memory_limit.
  virtual status compare_and_set(bytes key, const bytes* expected, const bytes* desired,
                                 std::string* current) = 0;

  /// Removes. Returns ok (old value in *old when not null) or not_found.
  virtual status erase(bytes key, std::string* old) = 0;

  /// Adds `delta` to a counter stored as prefix + 8 little-endian bytes; a
  /// missing key counts as zero. The new value goes to *result. Returns ok,
  /// inserted, mismatch (the stored value is not such a counter), overflow
  /// (i64), too_large or memory_limit.
  virtual status add(bytes key, counter_kind kind, counter delta, bytes prefix,
                     counter* result) = 0;

  /// Exact when no write is in flight; otherwise some value the size had
  /// during the call.
  virtual std::size_t size() const = 0;

  virtual void clear() = 0;

  /// Iteration is by units: scan(unit, out) appends the entries of one unit,
  /// read atomically, and returns how many it appended. Each key lives in one
  /// unit, so an iteration over all units sees each key that is present from
  /// start to end exactly once, whatever runs concurrently.
  virtual std::size_t scan_units() const = 0;
  virtual std::size_t scan(std::size_t unit, std::string& out) const = 0;
  /// scan() for a snapshot (threadmap/snapshot.hpp): the same unit, read
  /// atomically, but a strategy may read it without holding the unit's lock
  /// across allocation or long work; `scratch` is the caller's, reused from
  /// unit to unit. The default is scan().
  virtual std::size_t copy_unit(std::size_t unit, std::string& out, std::string& scratch) const {
    (void)scratch;
    return scan(unit, out);
  }

  /// The flat-table strategies' units as a lazy (copy-on-write) snapshot
  /// claims them (threadmap/snapshot.hpp); null: snapshots copy the map.
  virtual const detail::cow_units* cow() const noexcept { return nullptr; }

  virtual map_stats stats() const = 0;

  /// True for strategies that keep keys in order (`ordered`): they answer
  /// range() and their scan yields keys in order.
  virtual bool ordered() const noexcept { return false; }

  /// Ordered maps: appends the first `limit` entries of `r` in its order, in
  /// scan format, and returns how many. Each entry is read atomically; the
  /// call as a whole is not one snapshot, but every key inside `r` that is
  /// present from its start to its end is appended (while `limit` lasts),
  /// once, and in order. Other strategies append nothing.
  virtual std::size_t range(const key_range& r, std::size_t limit, std::string& out) const;

  /// Per table (stripe), where its memory is: the placement decided and asked
  /// for, and the node the kernel reports for it. Each strategy's header says
  /// what its table indices stand for; the default (test doubles that place
  /// nothing) is empty. Costs a few system calls per table.
  virtual std::vector<numa::table_report> placement() const { return {}; }

  /// Watch's hook (watch.hpp, EVICTIONS): keys whose hashes answer the same
  /// class share a key lock. A strategy that removes a victim inside another
  /// key's write answers the unit that write locks (striped: the stripe), so
  /// the victim's key lock is the writer's; the others answer the hash.
  virtual std::uint64_t lock_class(std::uint64_t hash) const noexcept { return hash; }

  // --- expiry (maps made with options::ttl; the others answer as below) ---

  // The timed writes: each is its untimed write whose stored value expires
  // `ttl_ms` ms from now (0: never) instead of after the map's ttl; ttl_ms
  // default_ttl is the untimed write itself (a map that expires implements
  // the untimed ones as these, so there is one path), and any other past
  // max_ttl_ms is max_ttl_ms. A write that stores nothing (put_if_absent
  // that finds the key, a compare_and_set that fails or erases, add that
  // refuses) changes no deadline. An overwrite (put_for, compare_and_set_for
  // on a present key) gives the new deadline unless the map keeps deadlines
  // (options::no_update_ttl). Maps that cannot expire: the untimed write.
  // A wrapper of another map (watch's) must forward all four.

  virtual status put_for(bytes key, bytes value, std::string* old, std::uint64_t ttl_ms) {
    (void)ttl_ms;
    return put(key, value, old);
  }
  /// A present key keeps its value and its deadline.
  virtual status put_if_absent_for(bytes key, bytes value, std::string* existing,
                                   std::uint64_t ttl_ms) {
    (void)ttl_ms;
    return put_if_absent(key, value, existing);
  }
  virtual status compare_and_set_for(bytes key, const bytes* expected, const bytes* desired,
                                     std::string* current, std::uint64_t ttl_ms) {
    (void)ttl_ms;
    return compare_and_set(key, expected, desired, current);
  }
  /// The ttl is the counter's window: an add that creates the counter gives
  /// it the deadline, an add with its own ttl to a live counter keeps the
  /// deadline it has (a rate limiter's `add(key, 1, ttl)` counts over one
  /// window from the first add, rather than one that every add moves on).
  /// add_for(default_ttl) is add(): an overwrite by the map's rule.
  virtual status add_for(bytes key, counter_kind kind, counter delta, bytes prefix, counter* result,
                         std::uint64_t ttl_ms) {
    (void)ttl_ms;
    return add(key, kind, delta, prefix, result);
  }

  /// Not a use (peek). False when the key is absent (or expired); else true
  /// with the milliseconds left in *ms (at least 1), or no_expiry.
  virtual bool remaining_ttl(bytes key, std::uint64_t* ms) const {
    if (!peek(key, nullptr)) return false;
    *ms = no_expiry;
    return true;
  }

  /// Reclaims every expired entry now (lru-cache's purgeStale); answers how
  /// many. Maps that cannot expire: 0.
  virtual std::size_t purge_expired() { return 0; }

  /// peek() that also sees an entry whose deadline has passed but which is
  /// not reclaimed yet: watch's read-back of a write whose key lock it holds
  /// (the entry may expire between the write and the read, and its set
  /// event must still be logged). Elsewhere the same as peek().
  virtual bool peek_unexpired_or_not(bytes key, std::string* out, std::uint64_t* revision) const {
    return peek(key, out, revision);
  }

  /// TESTING ONLY: moves the clock of a map that expires `ms` milliseconds
  /// on, for every thread; on a map still on the real clock, first stops it
  /// where it is (options::manual_clock starts it stopped). False on a map
  /// that does not expire.
  virtual bool advance_manual_clock(std::uint64_t ms) {
    (void)ms;
    return false;
  }

  // The design's swap and take are put and erase that report the old value.
  status swap(bytes key, bytes value, std::string* old) { return put(key, value, old); }
  status take(bytes key, std::string* old) { return erase(key, old); }
};

}  // namespace threadmap
