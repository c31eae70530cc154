// threadmap/detail/eviction/wtinylfu.hpp — W-TinyLFU (Einziger, Friedman and
// Manes, "TinyLFU: A Highly Efficient Cache Admission Policy", 2017; the
// policy of Caffeine and Otter) in 16 bytes an entry.
//
// Shape. A small admission window (1% of the capacity) in front of a main
// region (the rest). New entries enter the window. When the window is full
// its victim (the candidate) competes with the main region's victim: the
// frequency sketch (sketch.hpp) estimates how often each was seen lately, and
// the candidate takes the main victim's place only if it was seen more
// often; otherwise the candidate is evicted. Ties keep the incumbent, so a
// scan of keys seen once cannot flush the main region, and a loop a little
// larger than the cache keeps most of its keys resident instead of missing
// on all of them (LRU's fate). The window gives new keys a short life in
// which to earn their frequency, which is what keeps recency-heavy traces
// near LRU's ratio.
//
// Regions. Caffeine keeps an LRU list for the window and a segmented LRU
// (probation and protected) for the main region: doubly linked nodes with a
// key reference each, far beyond 16 bytes an entry. Here both regions are
// CLOCK arrays (clock.hpp). The window is CLOCK with one reference bit. The
// main region is a segmented CLOCK: admitted entries start in probation; a
// read of a probation entry promotes it to protected (with one reference);
// when a promotion takes protected past 80% of the main region, a second hand
// demotes the first protected entry it finds without references (spending
// references, up to 3, on the way). Victims come only from probation, in the
// main hand's order, so the entries read since they were admitted are out of
// a scan's reach, as in SLRU. The window holds nodes [0, w), the main region
// [w, capacity), so a candidate that is admitted changes node: the plan
// returned by on_insert tells the table (policy.hpp: victim, moved, new
// entry), and the new entry takes the candidate's window node.
//
// Reads are records in a read buffer (read_buffer.hpp): (handle + 1) << 32 |
// the hash's low 32 bits, never zero. Draining increments
// the sketch and, when the node still holds the same low hash bits, touches
// the node (a reference in the window or protected, a promotion in
// probation); a record whose entry has since moved or gone is only counted.
// Those are two lines no one has touched lately per record, so a drain
// takes a lane's records as a batch and prefetches all their lines before
// applying any: the misses overlap instead of following one another.
// Misses are not recorded (policy.hpp says why): inserts count new keys.
//
// Memory for capacity C: at most 16 bytes an entry in all once C is at
// least min_budget_capacity. Per entry the nodes take 8 and the table's
// handle 4; per instance the read buffers take 192 bytes a lane and the
// object its size. The sketch gets what is left of 16 x C (sketch_blocks):
// a little under 4 bytes an entry when C is large, less when it is small,
// since the fixed part is the same for every instance. The lanes are the
// owner's number, halved while they would cost more than a byte an entry
// (lanes_for): a small instance, one stripe of a small striped cache, has
// few readers at a time, and a lane it cannot pay for comes out of its
// sketch. The sketch never falls below 2 bytes an entry, where hit ratios
// start to fall fast (docs/benchmarks.md): below min_budget_capacity that
// floor and the fixed part are more than the budget, by at most a few
// hundred bytes an instance.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "threadmap/detail/eviction/clock.hpp"
#include "threadmap/detail/eviction/policy.hpp"
#include "threadmap/detail/eviction/read_buffer.hpp"
#include "threadmap/detail/eviction/sketch.hpp"

namespace threadmap::detail::eviction {

class wtinylfu_policy final : public policy {
 public:
  /// The window's share of the capacity, in percent (at least one node).
  static constexpr std::size_t window_percent = 1;
  /// The main region's protected share, in percent (Caffeine's 80).
  static constexpr std::size_t protected_percent = 80;
  static constexpr unsigned main_max_ref = 3;
  /// Everything the policy may cost per entry of capacity (policy.hpp's
  /// per_entry(), the table's handle included).
  static constexpr std::size_t budget_per_entry = 16;
  /// What is spent per entry before the sketch: a node and the handle.
  static constexpr std::size_t fixed_per_entry = 8 + sizeof(handle);

  /// The lanes an instance of `capacity` gets when asked for `lanes`.
  static unsigned lanes_for(std::size_t capacity, unsigned lanes) noexcept;
  /// The sketch never gets fewer blocks than one per this many entries
  /// (half the counters of 4 bytes an entry), budget or not.
  static constexpr std::size_t floor_entries_per_block = 2 * frequency_sketch::entries_per_block;
  /// The sketch's blocks for `capacity` entries and `lanes` lanes asked for.
  static std::size_t sketch_blocks(std::size_t capacity, unsigned lanes) noexcept;
  /// What an instance of `capacity` with `lanes` asked for allocates: the
  /// figure memory() reports, object and handles included.
  static std::size_t bytes_for(std::size_t capacity, unsigned lanes) noexcept;
  /// The capacity from which on bytes_for is at most budget_per_entry an
  /// entry, with `lanes` asked for.
  static std::size_t min_budget_capacity(unsigned lanes) noexcept;

  wtinylfu_policy() noexcept : policy(true) {}

  /// Call init() before use; false: no memory.
  bool init(std::size_t capacity, unsigned lanes) noexcept;

  /// The read record of entry `h` (not no_handle) with hash `hash`.
  static std::uint64_t encode(handle h, std::uint64_t hash) noexcept {
    return (std::uint64_t{h} + 1) << 32 | static_cast<std::uint32_t>(hash);
  }

  offer record_read(handle h, std::uint64_t hash) noexcept override {
    return h == no_handle ? offer::recorded : buffer_.push(encode(h, hash));
  }
  std::size_t drain() noexcept override;
  std::size_t drain_own() noexcept override;
  insert_plan on_insert(std::uint64_t hash) noexcept override;
  void on_update(handle h, std::uint64_t hash) noexcept override;
  void on_erase(handle h) noexcept override;
  bool evict(eviction& out) noexcept override;
  void clear() noexcept override;

  kind which() const noexcept override { return kind::wtinylfu; }
  std::size_t size() const noexcept override { return size_.load(std::memory_order_relaxed); }
  std::size_t capacity() const noexcept override { return nodes_.size(); }
  memory_use memory() const noexcept override;
  policy_stats stats() const noexcept override;

  // For tests: the parts, read under the owner's lock.
  const frequency_sketch& sketch() const noexcept { return sketch_; }
  read_buffer& buffer() noexcept { return buffer_; }
  const clock_region& window() const noexcept { return window_; }
  const clock_region& main() const noexcept { return main_; }

 private:
  void apply(std::uint64_t record, frequency_sketch::counters c) noexcept;
  /// Applies the records of lanes [first, first + count); returns how many.
  std::size_t drain_lanes(unsigned first, unsigned count) noexcept;
  /// Names `h` of `region` as evicted, forgets it.
  eviction take_victim(clock_region& region, handle h) noexcept;
  void publish() noexcept;

  node_array nodes_;
  clock_region window_;
  clock_region main_;
  frequency_sketch sketch_;
  read_buffer buffer_;
  // Written under the owner's lock, read relaxed by size() and stats().
  std::atomic<std::size_t> size_{0};
  std::atomic<std::uint64_t> evicted_{0};
  std::atomic<std::uint64_t> admitted_{0};
  std::atomic<std::uint64_t> rejected_{0};
  std::atomic<std::uint64_t> drained_{0};
};

}  // namespace threadmap::detail::eviction
