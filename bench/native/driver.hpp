// bench/native/driver.hpp — running one workload on one contender with N
// threads, and what comes back.
//
// A run: T threads are started; each pins itself (if asked: placement.hpp's
// pin_self, which reads numa::current_cpu() back, read again at the end of the
// run), opens its own perf counters, warms up on its own op ring for
// warmup_ms (or warmup_ops), then all meet the main thread at a barrier. Counters are reset and
// enabled, the clock starts, and each thread executes its ring (wrapping around) until the main
// thread raises `stop` after duration_ms (or until fixed_ops, the mode used under valgrind). Every
// `latency_every`-th operation is timed alone with the monotonic clock into the thread's histogram;
// the timer's own cost is measured at start-up and reported beside the percentiles.
//
// Each thread also reads its run-queue wait (/proc/thread-self/schedstat,
// the time it was runnable but not running) over the window: a share above
// 20% means another process held the CPU it wanted, so the run measured the
// machine's load rather than the map; the driver can run it again. (A thread
// asleep on a lock is not runnable, so blocking designs are not flagged.)
//
// Each read checks that it found the key and that the value belongs to it
// (workload.hpp's value_for); a single failure aborts the benchmark. The values
// read are summed into a checksum that is printed, so no read can be dropped as
// dead code.
#pragma once

#include <atomic>
#include <barrier>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "histogram.hpp"
#include "perf_counters.hpp"
#include "placement.hpp"
#include "workload.hpp"

namespace tmbench {

struct run_params {
  unsigned threads = 1;
  std::vector<const std::vector<std::uint32_t>*> rings;  // one per thread
  double duration_ms = 100;
  double warmup_ms = 20;
  std::uint64_t fixed_ops = 0;   // > 0: each thread runs exactly this many (valgrind mode)
  std::uint64_t warmup_ops = 0;  // with fixed_ops: untimed operations first
  unsigned latency_every = 64;   // power of two; 0 = no latency sampling
  bool counters = true;
  bool pin = false;
  std::vector<int> cpus;  // thread t is pinned to cpus[t % cpus.size()]
};

struct run_result {
  std::uint64_t ops = 0;
  double max_ns = 0;     // the longest thread's timed window
  double thread_ns = 0;  // summed over threads
  histogram latency;
  event_values events;
  std::uint64_t checksum = 0;
  std::uint64_t bad_reads = 0;
  double max_wait_share = 0;    // the worst thread's run-queue wait / its window; -1 unknown
  std::vector<pin_check> pins;  // per thread when pinned: the CPU and what current_cpu() saw
  double mops() const { return max_ns > 0 ? static_cast<double>(ops) / max_ns * 1e3 : 0; }
};

inline std::uint64_t now_ns() noexcept {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                        std::chrono::steady_clock::now().time_since_epoch())
                                        .count());
}

/// Nanoseconds the calling thread has waited on a run queue; -1 if unknown.
inline double run_queue_wait_ns() {
  std::FILE* f = std::fopen("/proc/thread-self/schedstat", "r");
  if (!f) return -1;
  unsigned long long on_cpu = 0, waited = 0;
  const int n = std::fscanf(f, "%llu %llu", &on_cpu, &waited);
  std::fclose(f);
  return n == 2 ? static_cast<double>(waited) : -1;
}

/// Runs the workload on `map` (any adapter of adapters.hpp) with p.threads threads.
template <class K, class A>
run_result run_threads(A& map, const run_params& p) {
  struct alignas(64) per_thread {  // own line(s): threads write only their own
    std::uint64_t ops = 0, ns = 0, checksum = 0, bad = 0;
    double wait_ns = -1;
    histogram latency;
    event_values events;
    pin_check pin;
  };
  std::vector<per_thread> res(p.threads);
  std::barrier sync(static_cast<std::ptrdiff_t>(p.threads) + 1);
  alignas(64) std::atomic<bool> stop{false};

  auto body = [&](unsigned t) {
    const bool pinned = p.pin && !p.cpus.empty();
    if (pinned) res[t].pin = pin_self(p.cpus[t % p.cpus.size()]);
    std::unique_ptr<thread_counters> ctr;
    if (p.counters) ctr = std::make_unique<thread_counters>();
    const std::vector<std::uint32_t>& ring = *p.rings[t];
    const std::size_t mask = ring.size() - 1;
    std::size_t pos = static_cast<std::size_t>(t) * 7919;  // threads start apart in their rings
    std::uint64_t seq = 0, sum = 0, bad = 0;
    histogram& hist = res[t].latency;
    const std::size_t lat_mask = p.latency_every ? p.latency_every - 1 : 0;

    auto one = [&](std::uint32_t op) __attribute__((always_inline)) {
      const std::uint64_t idx = op & ~write_flag;
      const K key = K::of(idx);
      if (op & write_flag) {
        map.update(key, value_for(idx, ++seq));
      } else {
        std::uint64_t v = 0;
        if (!map.read(key, v) || !value_matches(idx, v)) ++bad;
        sum += v;
      }
    };
    auto step = [&](std::uint64_t count, bool sample) {
      for (std::uint64_t i = 0; i < count; ++i) {
        const std::uint32_t op = ring[pos & mask];
        ++pos;
        if (sample && lat_mask != 0 && (pos & lat_mask) == 0) {
          const std::uint64_t a = now_ns();
          one(op);
          hist.record(now_ns() - a);
        } else {
          one(op);
        }
      }
    };

    if (p.fixed_ops) {
      step(p.warmup_ops, false);
    } else {
      const std::uint64_t until = now_ns() + static_cast<std::uint64_t>(p.warmup_ms * 1e6);
      while (now_ns() < until) step(1024, false);
    }
    sync.arrive_and_wait();
    if (ctr) ctr->reset_and_enable();
    const double w0 = run_queue_wait_ns();
    const std::uint64_t t0 = now_ns();
    std::uint64_t ops = 0;
    if (p.fixed_ops) {
      step(p.fixed_ops, p.latency_every != 0);
      ops = p.fixed_ops;
    } else {
      while (!stop.load(std::memory_order_relaxed)) {
        step(256, true);
        ops += 256;
      }
    }
    const std::uint64_t t1 = now_ns();
    const double w1 = run_queue_wait_ns();
    if (ctr) {
      ctr->disable();
      res[t].events = ctr->read();
    }
    if (w0 >= 0 && w1 >= 0) res[t].wait_ns = w1 - w0;
    res[t].ops = ops;
    res[t].ns = t1 - t0;
    res[t].checksum = sum;
    res[t].bad = bad;
    if (pinned) res[t].pin.seen_end = threadmap::numa::current_cpu();
  };

  std::vector<std::thread> pool;
  pool.reserve(p.threads);
  for (unsigned t = 0; t < p.threads; ++t) pool.emplace_back(body, t);
  sync.arrive_and_wait();
  if (!p.fixed_ops) {
    std::this_thread::sleep_for(std::chrono::microseconds(static_cast<long>(p.duration_ms * 1e3)));
    stop.store(true, std::memory_order_relaxed);
  }
  for (auto& th : pool) th.join();

  run_result r;
  for (const auto& x : res) {
    r.ops += x.ops;
    r.max_ns = std::max(r.max_ns, static_cast<double>(x.ns));
    r.thread_ns += static_cast<double>(x.ns);
    r.latency.merge(x.latency);
    r.events.add(x.events);
    r.checksum += x.checksum;
    r.bad_reads += x.bad;
    if (p.pin && !p.cpus.empty()) r.pins.push_back(x.pin);
    r.max_wait_share =
        x.wait_ns < 0 || r.max_wait_share < 0
            ? -1
            : std::max(r.max_wait_share,
                       x.wait_ns / static_cast<double>(std::max<std::uint64_t>(x.ns, 1)));
  }
  return r;
}

}  // namespace tmbench
