// threadmap/detail/test_seam.hpp — a place where a test can park a thread.
//
// The lock-freedom and race tests need a thread stopped at an exact point of
// an operation (between a read and its CAS, before a node is linked) while
// others run. A seam is a function pointer the test installs; production code
// calls the seam at that point, which costs one relaxed load and a
// not-taken branch when nothing is installed. The load is relaxed because
// the test installs the hook before it starts the threads that must see it
// (thread creation orders the store before their loads), and uninstalls it
// after joining them.
#pragma once

#include <atomic>

namespace threadmap::detail {

/// The sites of one seam are small integers its owner names (lockfree.hpp's
/// lockfree_test::site); a seam with one site passes 0.
using pause_hook = void (*)(int site);

class test_seam {
 public:
  void install(pause_hook h) noexcept { hook_.store(h, std::memory_order_release); }
  void at(int site) const noexcept {
    if (const pause_hook h = hook_.load(std::memory_order_relaxed)) h(site);
  }

 private:
  std::atomic<pause_hook> hook_{nullptr};
};

}  // namespace threadmap::detail
