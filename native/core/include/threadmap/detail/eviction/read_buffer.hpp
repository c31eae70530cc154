// threadmap/detail/eviction/read_buffer.hpp — lossy striped buffers that
// carry readers' accesses to the lock holder (Caffeine's read buffers).
//
// Why. A policy that reorders or counts on every read would make each get
// write the stripe's shared state under its lock, which serialises readers.
// Instead a reader appends a 64-bit record to a buffer and goes; whoever
// holds the stripe lock next (a writer, or a reader whose buffer filled and
// whose try_lock succeeded) applies the records.
//
// Lanes. An instance has a power-of-two number of lanes (its owner's choice:
// W-TinyLFU gives a small instance fewer, wtinylfu.hpp), each 16 records,
// aligned to cache lines; a thread uses lane thread_ordinal() % lanes
// (threadmap/detail/counter.hpp), so as long as there are no more threads
// than lanes each lane has one writer and a reader's append writes only
// lines no other reader writes. The lock holder reads the records and moves
// `head`, once per drain: a writer drains every lane, a reader whose lane
// filled only its own (drain_lanes).
//
// Lossy on purpose. A full lane drops the record (and answers `drain`, so
// the reader tries to empty it); an append that loses its lane's slot to
// another thread (lanes shared by threads) is dropped too. The policy sees a
// sample of the reads, biased towards none; a reader never waits and never
// retries.
//
// Protocol. `tail` counts slots claimed (producers, compare-and-swap), `head`
// slots consumed (the lock holder only). A producer claims slot t if
// t - head < 16, then stores its record with release. The consumer reads from
// head to tail with acquire; a zero record is a slot claimed but not yet
// stored, so it stops there and takes it next time (no record is zero, see
// policy.hpp's encoding), and it zeroes each slot it consumes. A producer
// cannot lap the consumer: it claims only slots below head + 16.
//
// Counting. Every push moves its lane's tail or its dropped count by one,
// so their sum over the lanes (offered()) is the number of pushes, exactly:
// W-TinyLFU's owner takes it as its hit count instead of writing a counter
// of its own on every hit. Tail and head are 64-bit so the sum never wraps.
//
// Layout: each lane is three cache lines: the first holds tail, head and the
// lane's dropped count (all written by the lane's readers except head,
// written once per drain), the next two the sixteen records.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "threadmap/detail/alloc.hpp"
#include "threadmap/detail/eviction/policy.hpp"
#include "threadmap/detail/padding.hpp"

namespace threadmap::detail::eviction {

class read_buffer {
 public:
  static constexpr unsigned slots = 16;  // power of two
  static constexpr unsigned max_lanes = 64;
  /// What a lane costs (its layout is below).
  static constexpr std::size_t lane_bytes = 3 * cache_line;

  read_buffer() = default;
  ~read_buffer();
  read_buffer(const read_buffer&) = delete;
  read_buffer& operator=(const read_buffer&) = delete;

  /// `lanes`: a power of two, 1..max_lanes. False when memory is refused.
  bool init(unsigned lanes) noexcept;

  /// Appends `record` (never zero) to the calling thread's lane. Any thread.
  offer push(std::uint64_t record) noexcept { return push_to(own_lane(), record); }
  /// The same into a named lane (tests drive lanes directly).
  offer push_to(unsigned lane, std::uint64_t record) noexcept;

  /// f(record) for every stored record, oldest first per lane; returns how
  /// many. The owner's lock only.
  template <class F>
  std::size_t drain(F&& f) noexcept {
    return drain_lanes(0, lanes_, f);
  }
  /// The same for lanes [first, first + count) only (a reader whose lane
  /// filled drains its own, own_lane(): the other lanes' first lines are not
  /// in its cache, and their own readers or the next writer drain them).
  template <class F>
  std::size_t drain_lanes(unsigned first, unsigned count, F&& f) noexcept {
    std::size_t n = 0;
    for (unsigned i = first; i < first + count; ++i) {
      lane& l = lanes_array_[i];
      std::uint64_t h = l.head.load(std::memory_order_relaxed);
      const std::uint64_t t = l.tail.load(std::memory_order_acquire);
      for (; h != t; ++h) {
        std::atomic<std::uint64_t>& slot = l.records[h & (slots - 1)];
        const std::uint64_t r = slot.load(std::memory_order_acquire);
        if (r == 0) break;  // claimed, not yet stored: next drain
        slot.store(0, std::memory_order_relaxed);
        f(r);
        ++n;
      }
      l.head.store(h, std::memory_order_release);
    }
    return n;
  }
  /// The calling thread's lane.
  unsigned own_lane() const noexcept;

  unsigned lanes() const noexcept { return lanes_; }
  std::size_t bytes() const noexcept { return lanes_ * sizeof(lane); }
  /// Records dropped so far (all lanes; relaxed).
  std::uint64_t dropped() const noexcept;
  /// Records offered so far, kept or dropped (all lanes; relaxed): every
  /// push moves its lane's tail or its dropped count by one, never both,
  /// so this is exact, and the owner need not count reads itself.
  std::uint64_t offered() const noexcept;
  /// Records waiting in `lane` (relaxed; tests).
  unsigned pending(unsigned lane) const noexcept;

 private:
  struct alignas(cache_line) lane {
    // 64-bit, so a lane's tail never wraps and offered() stays exact.
    std::atomic<std::uint64_t> tail{0};
    std::atomic<std::uint64_t> head{0};
    std::atomic<std::uint64_t> dropped{0};
    // The records start on their own line, so the consumer's head store and
    // the producers' tail updates do not share a line with the records the
    // consumer is reading.
    alignas(cache_line) std::atomic<std::uint64_t> records[slots];
  };
  static_assert(sizeof(lane) == lane_bytes);

  lane* lanes_array_ = nullptr;
  unsigned lanes_ = 0;
};

}  // namespace threadmap::detail::eviction
