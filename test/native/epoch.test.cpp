// The epoch guard's protocol across threads (threadmap/epoch.hpp), through
// its inline enter and leave: an object retired while another thread is
// inside a guard is not freed until that thread leaves, however often this
// thread collects; nested guards leave the critical section only at the
// outermost; a thread's first guard takes a record. The single-thread cases
// (eager freeing, records of exiting threads) are in map.test.cpp.
#include <atomic>
#include <thread>

#include "check.hpp"
#include "threadmap/epoch.hpp"

namespace epoch = threadmap::epoch;

namespace {
std::atomic<int> watched_freed{0};
std::atomic<int> filler_freed{0};
void free_watched(void* p) {
  delete static_cast<int*>(p);
  watched_freed.fetch_add(1);
}
void free_filler(void* p) {
  delete static_cast<int*>(p);
  filler_freed.fetch_add(1);
}
}  // namespace

TEST_CASE("epoch: a guard held on another thread keeps what was retired after it entered") {
  epoch::synchronize();
  watched_freed = 0;
  filler_freed = 0;
  std::atomic<bool> inside{false}, leave{false};
  std::thread reader([&] {
    epoch::guard g;  // this thread's first guard: adopts a record on the way in
    CHECK(epoch::in_critical_section());
    inside = true;
    while (!leave.load()) std::this_thread::yield();
  });
  while (!inside.load()) std::this_thread::yield();
  epoch::retire(new int(1), &free_watched);
  // Drive collection hard: every 64 retirements collects, and every
  // outermost guard here enters and leaves. Without the reader the watched
  // object would be freed within a few of these rounds.
  for (int i = 0; i < 20 * 64; ++i) {
    { epoch::guard g; }
    epoch::retire(new int(i), &free_filler);
  }
  CHECK_EQ(watched_freed.load(), 0);
  leave = true;
  reader.join();
  epoch::synchronize();
  CHECK_EQ(watched_freed.load(), 1);
  CHECK_EQ(filler_freed.load(), 20 * 64);
}

TEST_CASE("epoch: nested guards leave the critical section only at the outermost") {
  CHECK(!epoch::in_critical_section());
  {
    epoch::guard outer;
    {
      epoch::guard inner;
      CHECK(epoch::in_critical_section());
    }
    CHECK(epoch::in_critical_section());
  }
  CHECK(!epoch::in_critical_section());
  // A fresh thread starts outside, and its guards nest the same way.
  bool before = true, during = false, after = true;
  std::thread([&] {
    before = epoch::in_critical_section();
    {
      epoch::guard g;
      epoch::guard h;
      during = epoch::in_critical_section();
    }
    after = epoch::in_critical_section();
  }).join();
  CHECK(!before);
  CHECK(during);
  CHECK(!after);
}

TEST_MAIN
