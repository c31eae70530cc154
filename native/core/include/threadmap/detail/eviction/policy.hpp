// threadmap/detail/eviction/policy.hpp — what an eviction policy promises the
// table that owns it: one instance per stripe of a flat-table strategy
// (mutex, rwlock, striped), driven under the stripe's lock for writes and
// told about reads without it.
//
// Identity. An entry is named by a handle: a 32-bit index into the policy's
// node array, chosen by the policy when the entry is inserted. The table keeps
// the handle in the entry (4 bytes per entry; that is all the table stores for
// the policy), so it moves with the entry when the table grows or rebuilds
// and nothing in the policy has to follow a resize. The node stores the low
// 56 bits of the key's 64-bit hash (threadmap/detail/hash.hpp): the tag
// (bits 0..6) and the group bits (7..38) the table probes with, so when the
// policy names a victim as (hash, handle) the table probes from the hash's
// home group and takes the slot whose tag matches and whose handle is the
// victim's. A hash is never enough on its own (two keys may share one); a
// handle is never enough either (the table cannot find a slot from it); the
// pair is exact.
//
// Protocol (the table's side). Writers hold the stripe lock:
//   - drain() first (applies the reads recorded since the last write);
//   - a new key: plan = on_insert(hash), then remove plan.victim if any, then
//     give plan.moved.to to the entry found by (moved.hash, moved.from) if
//     any (admission moved it from the window into the main region), then
//     store the new entry with handle plan.h. The victim goes first, because
//     the moved entry takes the victim's handle. A new entry never waits for
//     an eviction that failed: on_insert never fails.
//   - an overwrite of a present key: on_update(handle, hash);
//   - an erase: on_erase(handle); clear(): clear();
//   - over a memory budget: evict(out) until under it (false: empty).
// Readers hold nothing: after a validated lookup that found the key they call
// record_read(handle, hash). A miss may be reported as record_read(no_handle,
// hash) and costs nothing: the insert that usually follows counts the key
// once (counting the miss too would count one access twice, and let the
// one-time keys of a scan outweigh residents read once since the last
// aging). An answer of `drain` means the reader's lane is full: the reader
// may try_lock the stripe and drain_own() (its own lane only: the other
// lanes' lines are not in its cache, and their readers or the next writer
// drain them), and must not wait for the lock (every reader that finds the
// lane full is asked, so a lane filled while the lock was busy is drained
// by a later reader of it even when no writer comes). Reads
// are lost when a lane is full or two readers race for one slot: the
// buffers are lossy by design (a policy that misses a few reads under
// contention evicts a little worse; a reader that waits serialises the map).
//
// Memory. memory() says exactly what an instance allocates: its nodes (8
// bytes each, one per entry of capacity), the sketch (with the line that
// aligns it), the read buffers, the object itself, and the table's 4 bytes
// per entry; per_entry() is all of it over the capacity. W-TinyLFU sizes its
// sketch and lanes so that this is at most 16 bytes once an instance holds
// min_budget_capacity entries (wtinylfu.hpp); below that its fixed costs
// alone are more. test/native/policy.test.cpp holds it there.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>

#include "threadmap/map.hpp"

namespace threadmap::detail::eviction {

/// An entry's name inside one policy instance: an index into its nodes.
using handle = std::uint32_t;
inline constexpr handle no_handle = 0xFFFFFFFFu;
/// Handles are below this, so a read record's handle + 1 fits in 32 bits.
inline constexpr std::size_t max_capacity = std::size_t{1} << 31;
/// The hash bits a node keeps (the table's tag and group bits among them).
inline constexpr std::uint64_t hash_bits = (std::uint64_t{1} << 56) - 1;

/// The policies, in the order the option lists them: the public list
/// (threadmap/map.hpp, which options name them by), under this namespace's
/// names. to_string(kind) is threadmap::to_string(eviction_kind).
using kind = eviction_kind;
inline constexpr const auto& all_kinds = all_eviction_kinds;
using threadmap::to_string;
std::optional<kind> parse_kind(std::string_view name) noexcept;

/// An entry the table must remove: probe from `hash`, match `h`.
struct eviction {
  std::uint64_t hash = 0;
  handle h = no_handle;
};

/// An entry whose handle changes from `from` to `to` (window to main).
struct relocation {
  std::uint64_t hash = 0;
  handle from = no_handle;
  handle to = no_handle;
};

/// What on_insert asks of the table, in this order: victim, moved, new entry.
struct insert_plan {
  handle h = no_handle;  // the new entry's handle
  std::optional<eviction> victim;
  std::optional<relocation> moved;
};

/// What a reader's record_read did.
enum class offer : std::uint8_t {
  recorded,  // kept (or applied at once); nothing more to do
  drain,     // the reader's lane is full (this record kept if it filled it,
             // lost otherwise): drain if the lock is free
  dropped,   // lost to another reader that took the same slot
};

/// Bytes held by one instance.
struct memory_use {
  std::size_t capacity = 0;
  std::size_t nodes = 0;                         // 8 per entry of capacity
  std::size_t sketch = 0;                        // W-TinyLFU's frequency sketch
  std::size_t buffers = 0;                       // read buffers: per instance, not per entry
  std::size_t object = 0;                        // the instance itself
  std::size_t table_per_entry = sizeof(handle);  // what the table keeps per entry
  /// Everything the policy costs per entry of capacity: nodes, sketch,
  /// buffers, the object, and the table's handle.
  double per_entry() const noexcept {
    return capacity ? static_cast<double>(nodes + sketch + buffers + object) /
                              static_cast<double>(capacity) +
                          static_cast<double>(table_per_entry)
                    : 0.0;
  }
  /// Sums the instances of a map (table_per_entry stays the table's).
  memory_use& operator+=(const memory_use& o) noexcept {
    capacity += o.capacity;
    nodes += o.nodes;
    sketch += o.sketch;
    buffers += o.buffers;
    object += o.object;
    return *this;
  }
};

/// Counts since construction (writers' counts are exact; `dropped` is summed
/// from the read buffers' lanes).
struct policy_stats {
  std::uint64_t evicted = 0;   // victims named by on_insert and evict()
  std::uint64_t admitted = 0;  // W-TinyLFU: window candidates that won a main node
  std::uint64_t rejected = 0;  // W-TinyLFU: candidates evicted instead of a main entry
  std::uint64_t drained = 0;   // read records applied
  std::uint64_t dropped = 0;   // read records lost
  std::uint64_t reads = 0;     // record_read calls naming an entry, where
                               // counts_reads() (0 otherwise)
  /// Sums the instances of a map.
  policy_stats& operator+=(const policy_stats& o) noexcept {
    evicted += o.evicted;
    admitted += o.admitted;
    rejected += o.rejected;
    drained += o.drained;
    dropped += o.dropped;
    reads += o.reads;
    return *this;
  }
};

class policy {
 public:
  virtual ~policy() = default;

  /// Whether stats().reads counts every record_read that names an entry
  /// (W-TinyLFU's read buffer counts its offers for nothing, so an owner
  /// that counts hits need not write a counter of its own on each one;
  /// CLOCK's reads of a hot entry write nothing, so it cannot count them).
  /// Not virtual: a reader asks on every hit.
  bool counts_reads() const noexcept { return counts_reads_; }

  // --- readers: any thread, no lock ---------------------------------------
  /// A read of the entry `h` (hash `hash`); no_handle (a miss) records nothing.
  virtual offer record_read(handle h, std::uint64_t hash) noexcept = 0;

  // --- writers: under the owner's lock -------------------------------------
  /// Applies the reads recorded so far; returns how many.
  virtual std::size_t drain() noexcept = 0;
  /// What a reader answered `drain` calls once it holds the lock: applies
  /// the reads of the calling thread's lane only.
  virtual std::size_t drain_own() noexcept = 0;
  virtual insert_plan on_insert(std::uint64_t hash) noexcept = 0;
  virtual void on_update(handle h, std::uint64_t hash) noexcept = 0;
  virtual void on_erase(handle h) noexcept = 0;
  /// Names and forgets one victim; false when the policy tracks nothing.
  virtual bool evict(eviction& out) noexcept = 0;
  virtual void clear() noexcept = 0;

  // --- any thread (writers' counts read relaxed) ----------------------------
  virtual kind which() const noexcept = 0;
  virtual std::size_t size() const noexcept = 0;
  virtual std::size_t capacity() const noexcept = 0;
  virtual memory_use memory() const noexcept = 0;
  virtual policy_stats stats() const noexcept = 0;

 protected:
  explicit policy(bool counts_reads) noexcept : counts_reads_(counts_reads) {}

 private:
  const bool counts_reads_;
};

/// Read-buffer lanes per instance when the owner does not say.
inline constexpr unsigned default_lanes = 4;

/// A policy for `capacity` entries (1 .. max_capacity-1) with at most
/// `lanes` read buffer lanes (a power of two, at most 64; W-TinyLFU takes
/// fewer where its memory budget cannot pay for them). Null when the arguments are out
/// of range or memory is refused (through detail::allocate's hook).
std::unique_ptr<policy> make_policy(kind k, std::size_t capacity,
                                    unsigned lanes = default_lanes) noexcept;

}  // namespace threadmap::detail::eviction
