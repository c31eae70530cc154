// Parks chosen threads at a test seam of the lockfree map
// (lockfree_test::set_pause_hook): a thread that sets its `role` (1 to
// Roles) parks the first time it reaches the armed site, until its role
// is released, so a test can hold a write inside a window (a CAS, a clear)
// while other threads act. lockfree.test.cpp parks one thread this way,
// watch.test.cpp two.
#pragma once

#include <atomic>
#include <chrono>
#include <thread>

#include "threadmap/detail/lockfree.hpp"

namespace tmtest {

template <int Roles>
struct parking {
  static inline std::atomic<int> site{0};
  static inline std::atomic<bool> parked[Roles + 1];
  static inline std::atomic<bool> released[Roles + 1];
  static inline thread_local int role = 0;  // 0: never parks

  static void hook(int s) {
    const int r = role;
    if (r == 0 || s != site.load() || parked[r].exchange(true)) return;  // once per role
    while (!released[r].load()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  static void arm(int s) {
    site.store(s);
    for (int r = 0; r <= Roles; ++r) {
      parked[r].store(false);
      released[r].store(false);
    }
    threadmap::lockfree_test::set_pause_hook(&hook);
  }
  static void release(int r) { released[r].store(true); }
  /// Releases every role and removes the hook.
  static void disarm() {
    for (int r = 0; r <= Roles; ++r) released[r].store(true);
    threadmap::lockfree_test::set_pause_hook(nullptr);
  }
  static bool is_parked(int r) { return parked[r].load(); }
  /// Waits until role `r` parks; false if it never does (a minute).
  static bool wait_parked(int r) {
    for (int i = 0; i < 60000 && !parked[r].load(); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    return parked[r].load();
  }
};

}  // namespace tmtest
