// threadmap/detail/counter.hpp — a striped counter: cheap concurrent increments,
// summed on demand.
//
// One shared atomic counter that every insert and erase increments makes that
// cache line bounce between all writing cores. Here each thread adds to one of
// N cells, picked once per thread, each cell on its own cache line (the
// padding is the point: cells on one line would bounce just the same). Reading
// sums the cells: exact when no update is in flight, otherwise a value the
// count had at some instant during the read or near it. Readers of the map
// never touch it.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>

#include "threadmap/detail/padding.hpp"

namespace threadmap {

/// A small number per thread, handed out round-robin on the thread's first
/// call (0, 1, 2, ...): the first N threads of a process that pick a cell by
/// `thread_ordinal() % N` never share one.
unsigned thread_ordinal() noexcept;

class striped_counter {
 public:
  static constexpr unsigned cells = 16;  // power of two

  void add(std::int64_t d) noexcept { cells_[slot()]->fetch_add(d, std::memory_order_relaxed); }
  std::int64_t sum() const noexcept {
    std::int64_t s = 0;
    for (const auto& c : cells_) s += c->load(std::memory_order_relaxed);
    return s;
  }

 private:
  static unsigned slot() noexcept { return thread_ordinal() % cells; }
  padded<std::atomic<std::int64_t>> cells_[cells];
};

}  // namespace threadmap
