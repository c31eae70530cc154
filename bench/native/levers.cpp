// bench/native/levers.cpp — threadmap-bench --levers: the per-operation
// cost of the pieces of a `striped` lookup that issue 16's plan weighs, each
// timed alone on one thread over a cache-resident map, so the figures are
// CPU work rather than misses.
//
// Variants, each a loop over the same 1,024 64-bit keys (key i derived from
// its index as the suite does):
//   loop              key derivation and the sum only: the floor of the rest
//   hash              + threadmap::hash_bytes of the key
//   guard             + an outermost epoch::guard entered and left
//   nested guard      + an epoch::guard inside one held across the loop
//   get virtual       + concurrent_map::get into a std::string (the suite's path)
//   get direct        the same call on the final strategy class: the compiler
//                     calls the member directly (no vtable), nothing more inlines
//   get no copy-out   concurrent_map::get with a null result: the lookup
//                     without the std::string assignment
// Rounds alternate the variants (rotated each round); each figure is the
// median over rounds of ns per operation, with the range. Differences between
// rows are the lever's worth in time; callgrind gives the same in
// instructions (docs/benchmarks.md, issue 16).

#include <threadmap/detail/hash.hpp>
#include <threadmap/detail/striped.hpp>
#include <threadmap/epoch.hpp>
#include <threadmap/factory.hpp>
#include <threadmap/map.hpp>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "driver.hpp"
#include "experiments.hpp"
#include "workload.hpp"

namespace tmbench {

namespace {

constexpr std::uint64_t keys = 1024;

// Runs `body(i)` for i over the keys, `reps` times; ns per call.
template <class F>
double time_loop(std::uint64_t reps, F&& body) {
  const std::uint64_t t0 = now_ns();
  std::uint64_t sum = 0;
  for (std::uint64_t r = 0; r < reps; ++r)
    for (std::uint64_t i = 0; i < keys; ++i) sum += body(i);
  const std::uint64_t t1 = now_ns();
  asm volatile("" : : "r"(sum) : "memory");
  return static_cast<double>(t1 - t0) / static_cast<double>(reps * keys);
}

}  // namespace

int run_levers(unsigned rounds, double round_ms) {
  threadmap::options o;
  o.strategy = threadmap::strategy_kind::striped;
  const std::unique_ptr<threadmap::concurrent_map> map = threadmap::make_map(o);
  auto* direct = dynamic_cast<threadmap::optimistic_striped_map*>(map.get());
  if (!direct) {
    std::fprintf(stderr, "levers: make_map(striped) is not an optimistic_striped_map\n");
    return 1;
  }
  for (std::uint64_t i = 0; i < keys; ++i) {
    const std::uint64_t v = value_for(i, 0);
    map->put(int_key::of(i).bytes(), {reinterpret_cast<const char*>(&v), sizeof v}, nullptr);
  }
  std::string buf;
  auto value_of = [&] {
    std::uint64_t v = 0;
    if (buf.size() == sizeof v) std::memcpy(&v, buf.data(), sizeof v);
    return v;
  };

  struct variant {
    const char* name;
    std::function<double(std::uint64_t)> run;
  };
  std::vector<variant> vs = {
      {"loop",
       [&](std::uint64_t reps) {
         return time_loop(reps, [&](std::uint64_t i) { return int_key::of(i).v; });
       }},
      {"hash",
       [&](std::uint64_t reps) {
         return time_loop(
             reps, [&](std::uint64_t i) { return threadmap::hash_bytes(int_key::of(i).bytes()); });
       }},
      {"guard",
       [&](std::uint64_t reps) {
         return time_loop(reps, [&](std::uint64_t i) {
           threadmap::epoch::guard g;
           return int_key::of(i).v;
         });
       }},
      {"nested guard",
       [&](std::uint64_t reps) {
         threadmap::epoch::guard outer;
         return time_loop(reps, [&](std::uint64_t i) {
           threadmap::epoch::guard g;
           return int_key::of(i).v;
         });
       }},
      {"get virtual",
       [&](std::uint64_t reps) {
         return time_loop(reps, [&](std::uint64_t i) {
           map->get(int_key::of(i).bytes(), &buf);
           return value_of();
         });
       }},
      {"get direct",
       [&](std::uint64_t reps) {
         return time_loop(reps, [&](std::uint64_t i) {
           direct->get(int_key::of(i).bytes(), &buf);
           return value_of();
         });
       }},
      {"get no copy-out",
       [&](std::uint64_t reps) {
         return time_loop(reps, [&](std::uint64_t i) {
           return static_cast<std::uint64_t>(map->get(int_key::of(i).bytes(), nullptr));
         });
       }},
  };

  // Calibrate: repetitions that take about round_ms for the slowest variant.
  std::uint64_t reps = 1;
  for (;;) {
    double worst = 0;
    for (auto& v : vs) worst = std::max(worst, v.run(reps) * static_cast<double>(reps * keys));
    if (worst >= round_ms * 1e6 / 4 || reps > (1u << 20)) break;
    reps *= 2;
  }
  reps *= 4;

  std::vector<std::vector<double>> ns(vs.size());
  for (unsigned r = 0; r < rounds; ++r)
    for (std::size_t k = 0; k < vs.size(); ++k) {
      const std::size_t i = (k + r) % vs.size();
      ns[i].push_back(vs[i].run(reps));
    }

  std::printf(
      "levers: striped, 1,024 64-bit keys (cache-resident), 1 thread; ns per operation, median of "
      "%u alternated rounds of about %.0f ms (min-max)\n",
      rounds, round_ms);
  for (std::size_t i = 0; i < vs.size(); ++i) {
    auto& x = ns[i];
    std::sort(x.begin(), x.end());
    const double med = x.size() % 2 ? x[x.size() / 2] : (x[x.size() / 2 - 1] + x[x.size() / 2]) / 2;
    std::printf("  %-16s %7.2f (%.2f-%.2f)\n", vs[i].name, med, x.front(), x.back());
  }
  return 0;
}

}  // namespace tmbench
