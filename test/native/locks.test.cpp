// The stripe locks (threadmap/detail/adaptive_mutex.hpp, rw_spinlock.hpp):
// mutual exclusion under contention, try_lock, and that a waiter behind a
// long-held adaptive_mutex sleeps rather than spins (the reason it exists).
// Plain (non-atomic) fields guarded by the lock make a broken exclusion a
// data race under ThreadSanitizer as well as a wrong count here.
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <thread>

#include "check.hpp"
#include "threadmap/detail/adaptive_mutex.hpp"
#include "threadmap/detail/rw_spinlock.hpp"

using threadmap::adaptive_mutex;
using threadmap::rw_spinlock;

namespace {

// Two plain words always written together under the lock: a reader inside
// the lock that sees them differ saw another holder's half-done update.
struct guarded {
  long a = 0;
  long b = 0;
};

// A read-modify-write of both words with a pause inside, so two holders at
// once lose updates (and tear) at once rather than by rare chance.
inline void update(guarded& g, std::atomic<long>& torn) {
  const long a = g.a;
  if (g.b != a) torn.fetch_add(1, std::memory_order_relaxed);
  for (int k = 0; k < 16; ++k) asm volatile("" ::: "memory");
  g.a = a + 1;
  g.b = a + 1;
}

template <class Lock>
void check_exclusion(int threads, long per_thread) {
  Lock lock;
  guarded g;
  std::atomic<long> torn{0};
  tmtest::run_threads(threads, [&](int) {
    for (long i = 0; i < per_thread; ++i) {
      std::lock_guard l(lock);
      update(g, torn);
    }
  });
  CHECK_EQ(torn.load(), 0);
  CHECK_EQ(g.a, threads * per_thread);
  CHECK_EQ(g.b, threads * per_thread);
}

// The scheduler state of one of this process's threads (R running or
// runnable, S sleeping, ...), the third field of /proc/self/task/TID/stat.
char thread_state(pid_t tid) {
  const std::string path = "/proc/self/task/" + std::to_string(tid) + "/stat";
  std::FILE* f = std::fopen(path.c_str(), "r");
  if (!f) return '?';
  char buf[512] = {};
  const std::size_t n = std::fread(buf, 1, sizeof buf - 1, f);
  std::fclose(f);
  // The command name (field 2) is in parentheses and may hold spaces.
  const char* close = std::strrchr(buf, ')');
  return close && close + 2 < buf + n ? close[2] : '?';
}

}  // namespace

TEST_CASE("adaptive_mutex: mutual exclusion with more threads than CPUs") {
  check_exclusion<adaptive_mutex>(4, tmtest::scaled(200000));
}

TEST_CASE("adaptive_mutex: try_lock fails while another thread holds it, succeeds after") {
  adaptive_mutex m;
  m.lock();
  bool got = true;
  std::thread([&] { got = m.try_lock(); }).join();
  CHECK(!got);
  m.unlock();
  std::thread([&] {
    got = m.try_lock();
    if (got) m.unlock();
  }).join();
  CHECK(got);
}

TEST_CASE("adaptive_mutex: waiters behind a long hold sleep, and every one is woken") {
  // The holder keeps the lock for 300 ms while three waiters queue behind it.
  // A waiter past its bounded spin must be asleep in the kernel (state S in
  // /proc), where a spinner, yielding or not, stays runnable (R) however
  // loaded the machine is. Each waiter then takes the lock in turn and holds
  // it briefly, so a lost wake-up hangs the test (ctest's timeout) instead of
  // passing.
  adaptive_mutex m;
  constexpr int waiters = 3;
  std::atomic<int> started{0}, done{0};
  std::atomic<pid_t> tids[waiters] = {};
  m.lock();
  std::vector<std::thread> ts;
  for (int i = 0; i < waiters; ++i) {
    ts.emplace_back([&, i] {
      tids[i] = static_cast<pid_t>(syscall(SYS_gettid));
      started.fetch_add(1);
      m.lock();
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
      m.unlock();
      done.fetch_add(1);
    });
  }
  while (started.load() < waiters) std::this_thread::yield();
  int asleep = 0, samples = 0;
  for (int k = 0; k < 10; ++k) {
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
    if (k < 2) continue;  // their spins are long over after 60 ms
    for (int i = 0; i < waiters; ++i) {
      ++samples;
      if (thread_state(tids[i]) == 'S') ++asleep;
    }
  }
  CHECK_EQ(done.load(), 0);  // nobody got in while it was held
  CHECK_EQ(asleep, samples);
  m.unlock();
  for (auto& t : ts) t.join();
  CHECK_EQ(done.load(), waiters);
}

TEST_CASE("rw_spinlock: writers exclude writers and readers") {
  check_exclusion<rw_spinlock>(4, tmtest::scaled(100000));
  rw_spinlock lock;
  guarded g;
  std::atomic<long> torn{0};
  const long rounds = tmtest::scaled(50000);
  tmtest::run_threads(4, [&](int t) {
    for (long i = 0; i < rounds; ++i) {
      if (t == 0) {
        std::lock_guard l(lock);
        update(g, torn);
      } else {
        std::shared_lock l(lock);
        if (g.a != g.b) torn.fetch_add(1, std::memory_order_relaxed);
      }
    }
  });
  CHECK_EQ(torn.load(), 0);
  CHECK_EQ(g.a, rounds);
}

TEST_MAIN
