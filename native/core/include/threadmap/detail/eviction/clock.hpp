// threadmap/detail/eviction/clock.hpp — CLOCK: the LRU approximation, and the
// node arrays and hands that W-TinyLFU's regions are built from.
//
// A node is one 64-bit word: the low 56 bits of the entry's hash, a live bit,
// and a 2-bit reference count. A region is a contiguous run of nodes with a
// hand. A new entry takes a free node; when there is none, the hand sweeps:
// a live node with a zero count is the victim (the hand stops just past it),
// any other count is decremented and the node is passed over. Because the
// new entry usually takes the victim's node, it sits just behind the hand and
// is looked at again only after a whole revolution: CLOCK's approximation of
// "least recently used". A region whose counts stop at 1 is CLOCK; at 3 it is
// GCLOCK, which lets an entry read often survive more revolutions.
//
// A segmented region (W-TinyLFU's main region) splits its live nodes into
// probation and protected (a flag in the word): touching a probation node
// promotes it; past the protected quota a second hand, the demoting hand,
// walks the protected nodes, spending their references, and returns the first
// without one to probation. The victim hand skips protected nodes, so only
// probation is ever evicted.
//
// Free nodes form a stack threaded through their words (the low 32 bits name
// the next free node), so freeing costs no memory. Taking pops the node freed
// last, which is the victim's when a sweep just freed one; with none freed,
// it takes the next node never used. Nodes never used are zero words the
// region has not touched (the array is calloc'd), so a large bound takes
// memory only as it fills, and the hands go round the nodes used so far.
//
// Reads. The CLOCK policy needs no read buffer: a reader that has validated
// its lookup checks the node (live, same hash bits) and, only if its count
// is zero, sets it with one relaxed fetch_or. A read of an entry read since
// the hand last passed writes nothing at all, so hot entries' reads stay
// read-only. Every word is an atomic for that reason; the writer (under the
// owner's lock) decrements with fetch_sub, which cannot underflow because
// readers only ever raise a zero count to one. A reader that raced with a
// reuse of the node may mark the new entry: the price is one extra
// revolution for it, never a wrong answer.
//
// The W-TinyLFU regions are written by the lock holder only (their reads go
// through the read buffer), so for them the atomics are plain words.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "threadmap/detail/eviction/policy.hpp"

namespace threadmap::detail::eviction {

namespace node {
inline constexpr std::uint64_t live = std::uint64_t{1} << 56;
inline constexpr unsigned ref_shift = 57;
inline constexpr std::uint64_t ref_one = std::uint64_t{1} << ref_shift;
inline constexpr std::uint64_t ref_mask = std::uint64_t{3} << ref_shift;
/// In the protected segment of a segmented region.
inline constexpr std::uint64_t prot = std::uint64_t{1} << 59;
inline constexpr unsigned ref(std::uint64_t w) noexcept {
  return static_cast<unsigned>((w & ref_mask) >> ref_shift);
}
/// Whether `w` is the live node of an entry with hash `hash`.
inline constexpr bool holds(std::uint64_t w, std::uint64_t hash) noexcept {
  return (w & (live | hash_bits)) == (live | (hash & hash_bits));
}
}  // namespace node

/// `count` node words from detail::allocate (the fault hook's door), freed
/// with it.
class node_array {
 public:
  node_array() = default;
  ~node_array();
  node_array(const node_array&) = delete;
  node_array& operator=(const node_array&) = delete;
  /// False when memory is refused.
  bool allocate(std::size_t count) noexcept;
  std::atomic<std::uint64_t>* data() const noexcept { return words_; }
  std::size_t size() const noexcept { return count_; }
  std::size_t bytes() const noexcept { return count_ * sizeof(std::uint64_t); }

 private:
  std::atomic<std::uint64_t>* words_ = nullptr;
  std::size_t count_ = 0;
};

static_assert(sizeof(std::atomic<std::uint64_t>) == 8, "a node is one word");

class clock_region {
 public:
  /// Nodes [base, base + count) of `nodes`; counts stop at `max_ref` (1..3).
  /// `protect` > 0 makes it segmented, with at most that many protected.
  void assign(std::atomic<std::uint64_t>* nodes, handle base, std::size_t count, unsigned max_ref,
              std::size_t protect = 0) noexcept;
  /// Every node free, the hand at the start.
  void reset() noexcept;

  std::size_t capacity() const noexcept { return count_; }
  std::size_t size() const noexcept { return live_; }
  bool owns(handle h) const noexcept { return h - base_ < count_; }
  std::uint64_t word(handle h) const noexcept { return nodes_[h].load(std::memory_order_relaxed); }

  /// A free node, now live with `hash` and a zero count; no_handle if none.
  handle take(std::uint64_t hash) noexcept;
  /// The hand's victim: the first live node with a zero count, counts
  /// decremented on the way; the hand stops past it. no_handle when empty.
  /// The victim stays live until release() or rebind().
  handle sweep() noexcept;
  /// Node `h` now holds `hash` with a zero count (an admitted candidate
  /// taking its victim's node).
  void rebind(handle h, std::uint64_t hash) noexcept;
  void release(handle h) noexcept;
  /// One more reference (writer side), up to max_ref; in a segmented
  /// region a probation node is promoted instead.
  void touch(handle h) noexcept;
  std::size_t protected_size() const noexcept { return protected_; }
  /// A reader's reference: sets a zero count to one if `h` is live with
  /// `hash`; writes nothing otherwise. Any thread.
  void touch_shared(handle h, std::uint64_t hash) const noexcept;

 private:
  // Counts and offsets are 32-bit (a region holds fewer than max_capacity
  // nodes): W-TinyLFU's object is a fixed cost every instance pays out of
  // its 16 bytes an entry, and two regions' fields are a good part of it.
  std::atomic<std::uint64_t>* nodes_ = nullptr;
  handle base_ = 0;
  std::uint32_t count_ = 0;
  std::uint32_t live_ = 0;
  std::uint32_t hand_ = 0;   // offset from base_
  handle free_ = no_handle;  // top of the free stack
  std::uint32_t fresh_ = 0;  // nodes [0, fresh_) were used; the rest are zero
  std::uint32_t max_ref_ = 1;
  // Segmented regions only: the protected quota and count, and the hand
  // that demotes protected nodes when a promotion overflows the quota.
  std::uint32_t quota_ = 0;
  std::uint32_t protected_ = 0;
  std::uint32_t demote_hand_ = 0;

  void demote() noexcept;
  void forget(std::uint64_t w) noexcept {
    if (w & node::prot) --protected_;
  }
};

/// CLOCK over `capacity` nodes: 8 bytes a node plus the table's 4.
class clock_policy final : public policy {
 public:
  clock_policy() noexcept : policy(false) {}
  /// Call init() before use; false: no memory.
  bool init(std::size_t capacity) noexcept;

  offer record_read(handle h, std::uint64_t hash) noexcept override;
  std::size_t drain() noexcept override { return 0; }
  std::size_t drain_own() noexcept override { return 0; }
  insert_plan on_insert(std::uint64_t hash) noexcept override;
  void on_update(handle h, std::uint64_t hash) noexcept override;
  void on_erase(handle h) noexcept override;
  bool evict(eviction& out) noexcept override;
  void clear() noexcept override;

  kind which() const noexcept override { return kind::clock; }
  std::size_t size() const noexcept override { return size_.load(std::memory_order_relaxed); }
  std::size_t capacity() const noexcept override { return nodes_.size(); }
  memory_use memory() const noexcept override;
  policy_stats stats() const noexcept override;

 private:
  void publish_size() noexcept { size_.store(region_.size(), std::memory_order_relaxed); }

  node_array nodes_;
  clock_region region_;
  std::atomic<std::size_t> size_{0};
  std::atomic<std::uint64_t> evicted_{0};
};

}  // namespace threadmap::detail::eviction
