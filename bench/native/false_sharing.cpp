// bench/native/false_sharing.cpp — the false-sharing experiment.
//
// T threads each increment their own 64-bit counter, which never shares data
// with the others. In the `packed` layout the T counters sit next to each
// other on one 64-byte line; in the `padded` layout each has a line of its
// own (threadmap::padded, the helper the core uses for the same reason). The
// increment is a relaxed fetch_add (a locked read-modify-write, which must own
// the line each time; a plain load+store would hide the effect in the store
// buffer), the same instruction in both layouts, so the only thing that
// differs is whether the line must travel between cores on every write. The
// share of the window each thread was on a CPU (task-clock) is printed: on a
// loaded machine threads that do not run at the same time cannot contend. Layouts alternate over
// rounds; ns/op is per thread (median round), and the perf counters of the threads are reported per
// op where the machine has them. (Cachegrind cannot show this effect: it simulates one core's
// caches and no coherence traffic.)

#include <threadmap/detail/padding.hpp>
#include <threadmap/topology.hpp>

#include <algorithm>
#include <atomic>
#include <barrier>
#include <cstdio>
#include <memory>
#include <thread>
#include <vector>

#include "driver.hpp"
#include "experiments.hpp"
#include "placement.hpp"

namespace tmbench {

namespace {

struct alignas(threadmap::cache_line) packed_counters {
  std::atomic<std::uint64_t> c[8];  // up to 8 counters on one line
};
static_assert(sizeof(packed_counters) == threadmap::cache_line);

struct layout_result {
  double ns_per_op = 0;
  double thread_ns = 0;
  std::uint64_t ops = 0;
  event_values events;
};

template <class Slot>
layout_result run_layout(Slot slot, const false_sharing_options& o) {
  std::barrier sync(static_cast<std::ptrdiff_t>(o.threads) + 1);
  alignas(64) std::atomic<bool> stop{false};
  struct alignas(64) out {
    std::uint64_t ops = 0, ns = 0;
    event_values ev;
    pin_check pin;
  };
  const bool pinned = o.pin && !o.cpus.empty();
  std::vector<out> res(o.threads);
  std::vector<std::thread> pool;
  for (unsigned t = 0; t < o.threads; ++t) {
    pool.emplace_back([&, t] {
      if (pinned) res[t].pin = pin_self(o.cpus[t % o.cpus.size()]);
      thread_counters ctr;
      std::atomic<std::uint64_t>& c = slot(t);
      sync.arrive_and_wait();
      ctr.reset_and_enable();
      const std::uint64_t t0 = now_ns();
      std::uint64_t ops = 0;
      while (!stop.load(std::memory_order_relaxed)) {
        for (int i = 0; i < 1024; ++i) c.fetch_add(1, std::memory_order_relaxed);
        ops += 1024;
      }
      const std::uint64_t t1 = now_ns();
      ctr.disable();
      res[t].ev = ctr.read();
      res[t].ops = ops;
      res[t].ns = t1 - t0;
      if (pinned) res[t].pin.seen_end = threadmap::numa::current_cpu();
    });
  }
  sync.arrive_and_wait();
  std::this_thread::sleep_for(std::chrono::microseconds(static_cast<long>(o.duration_ms * 1e3)));
  stop.store(true);
  for (auto& th : pool) th.join();
  layout_result r;
  double per_thread = 0;
  for (unsigned t = 0; t < o.threads; ++t) {
    if (pinned) {
      const std::string problem = res[t].pin.problem();
      if (!problem.empty()) {
        std::fprintf(stderr, "false sharing: thread %u: %s\n", t, problem.c_str());
        std::exit(1);
      }
      if (o.pins) o.pins->add("false-sharing thread " + std::to_string(t), res[t].pin);
    }
    // Every increment must have landed: the counter is exactly the ops done.
    if (slot(t).load() != res[t].ops) {
      std::fprintf(stderr, "false sharing: thread %u counted %llu, did %llu\n", t,
                   static_cast<unsigned long long>(slot(t).load()),
                   static_cast<unsigned long long>(res[t].ops));
      std::exit(1);
    }
    per_thread += static_cast<double>(res[t].ns) / static_cast<double>(res[t].ops);
    r.ops += res[t].ops;
    r.thread_ns += static_cast<double>(res[t].ns);
    r.events.add(res[t].ev);
  }
  r.ns_per_op = per_thread / o.threads;
  return r;
}

}  // namespace

std::string run_false_sharing(const false_sharing_options& o_in) {
  false_sharing_options o = o_in;
  o.threads = std::clamp(o.threads, 2u, 8u);
  std::vector<double> packed_ns, padded_ns;
  event_values packed_ev, padded_ev;
  std::uint64_t packed_ops = 0, padded_ops = 0;
  double packed_tns = 0, padded_tns = 0;
  for (unsigned round = 0; round < o.rounds; ++round) {
    for (int k = 0; k < 2; ++k) {
      const bool packed = ((round + k) % 2) == 0;
      if (packed) {
        auto line = std::make_unique<packed_counters>();
        for (auto& c : line->c) c.store(0);
        auto r =
            run_layout([&](unsigned t) -> std::atomic<std::uint64_t>& { return line->c[t]; }, o);
        packed_ns.push_back(r.ns_per_op);
        packed_ev.add(r.events);
        packed_ops += r.ops;
        packed_tns += r.thread_ns;
      } else {
        auto lines = std::make_unique<threadmap::padded<std::atomic<std::uint64_t>>[]>(o.threads);
        for (unsigned t = 0; t < o.threads; ++t) lines[t]->store(0);
        auto r =
            run_layout([&](unsigned t) -> std::atomic<std::uint64_t>& { return *lines[t]; }, o);
        padded_ns.push_back(r.ns_per_op);
        padded_ev.add(r.events);
        padded_ops += r.ops;
        padded_tns += r.thread_ns;
      }
    }
  }
  auto med = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  };
  const double pk = med(packed_ns), pd = med(padded_ns);
  std::printf(
      "\nFalse sharing: %u threads, each incrementing its own counter (relaxed fetch_add), "
      "median of %u rounds of %.0f ms, layouts alternated\n",
      o.threads, o.rounds, o.duration_ms);
  std::printf("  %-34s %10s %14s\n", "layout", "ns/op", "events per op");
  auto evline = [](const event_values& ev, std::uint64_t ops, double tns) {
    std::string s;
    char buf[96];
    const int tc = static_cast<int>(event_id::task_clock);
    if (ev.valid[tc]) {
      std::snprintf(buf, sizeof buf, "on-cpu %.0f%%  ", 100 * ev.value[tc] / tns);
      s += buf;
    }
    for (int e :
         {static_cast<int>(event_id::cache_misses), static_cast<int>(event_id::l1d_load_misses),
          static_cast<int>(event_id::cycles)}) {
      if (ev.valid[e]) {
        std::snprintf(buf, sizeof buf, "%s %.3f  ", event_name(e),
                      ev.value[e] / static_cast<double>(ops));
      } else {
        std::snprintf(buf, sizeof buf, "%s n/a  ", event_name(e));
      }
      s += buf;
    }
    return s;
  };
  std::printf("  %-34s %10.2f   %s\n", "packed (all on one 64-byte line)", pk,
              evline(packed_ev, packed_ops, packed_tns).c_str());
  std::printf("  %-34s %10.2f   %s\n", "padded (one line each)", pd,
              evline(padded_ev, padded_ops, padded_tns).c_str());
  std::printf("  packed / padded = %.1fx slower per increment\n", pk / pd);
  const int tc = static_cast<int>(event_id::task_clock);
  if (packed_ev.valid[tc] && packed_ev.value[tc] < 0.8 * packed_tns)
    std::printf(
        "  warning: the threads were on a CPU only %.0f%% of the time (a loaded machine), so they\n"
        "  seldom ran at the same moment and the line seldom had to move: the ratio understates\n"
        "  false sharing\n",
        100 * packed_ev.value[tc] / packed_tns);

  auto evjson = [](const event_values& ev, std::uint64_t ops) {
    std::string s = "{";
    for (int e = 0; e < event_count; ++e) {
      if (e) s += ",";
      s += json_str(event_name(e)) + ":";
      if (ev.valid[e]) {
        s += json_num(ev.value[e] / static_cast<double>(ops));
      } else {
        const auto& st = probe_events()[static_cast<std::size_t>(e)];
        s += "{\"unavailable\":" + json_str(st.available ? "not counted" : st.reason) + "}";
      }
    }
    return s + "}";
  };
  std::string j =
      "{\"threads\":" + std::to_string(o.threads) + ",\"rounds\":" + std::to_string(o.rounds) +
      ",\"durationMs\":" + json_num(o.duration_ms) + ",\"packed\":{\"nsPerOp\":" + json_num(pk) +
      ",\"perOp\":" + evjson(packed_ev, packed_ops) + "},\"padded\":{\"nsPerOp\":" + json_num(pd) +
      ",\"perOp\":" + evjson(padded_ev, padded_ops) + "},\"slowdown\":" + json_num(pk / pd) + "}";
  return j;
}

}  // namespace tmbench
