#include "threadmap/counter.hpp"

namespace threadmap {

unsigned striped_counter::slot() noexcept {
  // Threads take cells round-robin on first use: the first `cells` threads
  // never share one.
  static std::atomic<unsigned> next{0};
  thread_local const unsigned mine = next.fetch_add(1, std::memory_order_relaxed) % cells;
  return mine;
}

}  // namespace threadmap
