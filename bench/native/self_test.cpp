// bench/native/self_test.cpp — `threadmap-bench --self-test`: checks the
// bench's own instruments before anyone trusts their figures. The latency
// histogram must place known values within its stated 1/32 resolution; the
// Zipf generator must give rank frequencies close to 1/(r^theta * zeta(n));
// op rings must hold the asked read share and stay inside the key space;
// keys must be unique; the value check must accept a key's own values and
// refuse another's; task-clock (when it can be opened) must count a busy loop;
// --numa and --pin must accept their forms and refuse anything else with the
// reason, the placement summary must count what it is given, and a pinned
// thread must run where it was pinned.
// Ends with the line "N passed, M failed"; exit status 1 on any failure.

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

#include "driver.hpp"
#include "experiments.hpp"
#include "histogram.hpp"
#include "perf_counters.hpp"
#include "placement.hpp"
#include "workload.hpp"

namespace tmbench {

int run_self_test() {
  int passed = 0, failed = 0;
  auto check = [&](bool ok, const std::string& what) {
    (ok ? passed : failed)++;
    std::printf("  %s  %s\n", ok ? "ok  " : "FAIL", what.c_str());
  };
  auto near = [](double got, double want, double rel) {
    return std::fabs(got - want) <= rel * want;
  };

  {  // histogram: uniform values 1..100000
    histogram h;
    for (std::uint64_t v = 1; v <= 100000; ++v) h.record(v);
    check(h.count() == 100000 && h.max() == 100000,
          "histogram counts every value and keeps the max");
    check(near(static_cast<double>(h.quantile(0.5)), 50000, 1.0 / 32),
          "histogram p50 of 1..100000 within 1/32: " + std::to_string(h.quantile(0.5)));
    check(near(static_cast<double>(h.quantile(0.99)), 99000, 1.0 / 32),
          "histogram p99 of 1..100000 within 1/32: " + std::to_string(h.quantile(0.99)));
    check(h.quantile(0.5) >= 50000, "histogram reports a bucket's upper edge (never rounds down)");
    histogram small;
    for (int i = 0; i < 10; ++i) small.record(37);
    check(small.quantile(0.5) == 37 && small.quantile(0.999) == 37,
          "histogram is exact below 64 ns");
  }
  {  // Zipf(0.99) over 1024 ranks
    const std::uint64_t n = 1024;
    const double theta = 0.99;
    zipf z(n, theta);
    rng r(7);
    std::vector<std::uint64_t> count(n, 0);
    const int draws = 2000000;
    bool in_range = true;
    for (int i = 0; i < draws; ++i) {
      const std::uint64_t k = z(r);
      if (k >= n)
        in_range = false;
      else
        ++count[k];
    }
    double zeta = 0;
    for (std::uint64_t i = 1; i <= n; ++i) zeta += 1.0 / std::pow(static_cast<double>(i), theta);
    check(in_range, "zipf ranks stay below n");
    for (std::uint64_t rank : {0u, 1u, 9u}) {
      const double want = 1.0 / (std::pow(static_cast<double>(rank + 1), theta) * zeta);
      const double got = static_cast<double>(count[rank]) / draws;
      check(near(got, want, 0.05), "zipf frequency of rank " + std::to_string(rank) +
                                       " within 5%: " + std::to_string(got) + " vs " +
                                       std::to_string(want));
    }
  }
  {  // op rings
    const std::uint64_t n = 1 << 16;
    zipf z(n, 0.99);
    for (dist d : {dist::uniform, dist::zipf}) {
      for (unsigned reads : {100u, 95u, 50u, 10u}) {
        const auto ring = make_ops(n, d, reads, 3, 1 << 20, &z);
        std::size_t writes = 0;
        bool inside = true;
        for (auto op : ring) {
          writes += (op & write_flag) != 0;
          inside = inside && (op & ~write_flag) < n;
        }
        const double share =
            100.0 * static_cast<double>(ring.size() - writes) / static_cast<double>(ring.size());
        check(inside && std::fabs(share - reads) < 0.5,
              std::string("ring ") + to_string(d) + " holds " + std::to_string(reads) +
                  "% reads inside the key space (" + std::to_string(share) + ")");
      }
    }
    const auto ring = make_ops(1024, dist::uniform, 100, 5, 1 << 16, nullptr);
    std::vector<bool> seen(1024, false);
    for (auto op : ring) seen[op & ~write_flag] = true;
    check(std::all_of(seen.begin(), seen.end(), [](bool b) { return b; }),
          "a uniform ring reaches every key");
  }
  {  // keys and values
    std::unordered_set<std::uint64_t> ints;
    std::unordered_set<std::string> strs;
    for (std::uint64_t i = 0; i < 200000; ++i) {
      ints.insert(int_key::of(i).v);
      strs.insert(std::string(str_key::of(i).bytes()));
    }
    check(ints.size() == 200000 && strs.size() == 200000,
          "200,000 integer and string keys are distinct");
    check(str_key::of(1).bytes().size() == 16, "string keys are 16 bytes");
    check(value_matches(12345, value_for(12345, 99)) && !value_matches(12346, value_for(12345, 99)),
          "the value check accepts a key's own value and refuses another key's");
  }
  {  // task-clock
    const auto& st = probe_events()[static_cast<std::size_t>(event_id::task_clock)];
    if (st.available) {
      thread_counters c;
      c.reset_and_enable();
      volatile std::uint64_t x = 0;
      const std::uint64_t until = now_ns() + 20000000;
      while (now_ns() < until) x = x + 1;
      c.disable();
      const auto v = c.read();
      const int tc = static_cast<int>(event_id::task_clock);
      check(v.valid[tc] && v.value[tc] > 10e6, "task-clock counts a 20 ms busy loop: " +
                                                   std::to_string(static_cast<long>(v.value[tc])) +
                                                   " ns");
    } else {
      std::printf("  skip  task-clock unavailable: %s\n", st.reason.c_str());
    }
  }
  {  // --numa and --pin
    namespace numa = threadmap::numa;
    // The error's text when f throws std::invalid_argument, "" when it does not.
    auto refusal = [](auto f) -> std::string {
      try {
        f();
      } catch (const std::invalid_argument& e) {
        return e.what();
      }
      return {};
    };
    numa::topology two;  // a simulated two-node machine (validate skips the cpuset check)
    two.nodes = {{0, {0}, 1u << 30}, {1, {1}, 1u << 30}};
    two.simulated = true;
    check(parse_numa("none", two).kind == numa::policy_kind::none &&
              parse_numa("local", two).kind == numa::policy_kind::local &&
              parse_numa("interleave", two).kind == numa::policy_kind::interleave,
          "--numa takes none, local and interleave");
    const numa::policy n1 = parse_numa("node:1", two);
    check(n1.kind == numa::policy_kind::node && n1.node == 1 && numa_label(n1) == "node:1",
          "--numa=node:1 is node 1 of a two-node topology, labelled node:1");
    const std::string missing = refusal([&] { parse_numa("node:2", two); });
    check(missing.find("node 2 does not exist; the nodes are 0, 1") != std::string::npos,
          "--numa=node:2 on two nodes is refused naming the nodes: " + missing);
    bool forms = true;
    for (const char* bad : {"", "Local", "node:", "node:-1", "node:1x", "node:0:1", "node 0", "1"})
      forms = forms && refusal([&] {
                         parse_numa(bad, two);
                       }).find("use local, interleave, none or node:N") != std::string::npos;
    check(forms, "malformed --numa values are refused naming the valid forms");
    const auto real = numa::current_topology();
    const unsigned absent = real->nodes.back().id + 1;
    check(parse_numa("node:" + std::to_string(real->nodes.front().id), *real).kind ==
                  numa::policy_kind::node &&
              !refusal([&] { parse_numa("node:" + std::to_string(absent), *real); }).empty(),
          "on this machine's topology its first node is accepted and node " +
              std::to_string(absent) + " refused");

    const std::vector<unsigned> online = {0, 1, 2, 3};
    check(parse_cpu_list("1,0", online) == std::vector<int>{1, 0} &&
              parse_cpu_list("0-3,1", online) == std::vector<int>{0, 1, 2, 3} &&
              parse_cpu_list("2", online) == std::vector<int>{2},
          "--pin lists keep their order, expand ranges and drop repeats");
    bool lists = true;
    for (const char* bad : {"", "a", "0,,1", "0,", "-1", "1-", "0x1"})
      lists = lists && refusal([&] { parse_cpu_list(bad, online); }).find("not a CPU list") !=
                           std::string::npos;
    check(lists, "malformed --pin lists are refused");
    check(refusal([&] {
            parse_cpu_list("4", online);
          }).find("CPU 4 does not exist or is offline") != std::string::npos &&
              refusal([&] { parse_cpu_list("3-1", online); }).find("runs backwards") !=
                  std::string::npos,
          "--pin refuses an offline CPU and a backward range");

    std::vector<numa::table_report> tables(4);
    for (std::size_t i = 0; i < tables.size(); ++i) tables[i].table = i;
    for (std::size_t i : {0u, 1u}) {
      tables[i].bytes = 8192;
      tables[i].where.result = numa::outcome::bound;
      tables[i].kernel = {0, 2, {0}, 0};  // bind over node 0
    }
    tables[2].bytes = 3264;
    tables[2].where.result = numa::outcome::heap;
    tables[2].kernel = {0, 0, {}, 0};  // default
    const std::string summary = placement_summary(tables);
    check(summary ==
              "4 tables: bound x2, empty x1, heap x1; kernel policy bind {0} / default; pages read "
              "back on node {0}",
          "placement summary counts outcomes, policies and read-back nodes: " + summary);

    pin_check ok{1, 0, 1, 1}, moved{1, 0, 1, 0}, refused{1, EINVAL, -1, -1}, unknown{1, 0, -1, -1};
    check(ok.problem().empty() && unknown.problem().empty() && !moved.problem().empty() &&
              !refused.problem().empty(),
          "a pin check fails on a refused pin or another CPU, not on an unknown one");
    const int target = static_cast<int>(numa::thread_affinity().back());
    pin_check mine;
    std::thread([&] {
      mine = pin_self(target);
      mine.seen_end = numa::current_cpu();
    }).join();
    check(mine.problem().empty() && (mine.seen_start == target || mine.seen_start == -1),
          "a thread pinned to CPU " + std::to_string(target) + " runs there (current_cpu " +
              std::to_string(mine.seen_start) + ")");
  }
  std::printf("self-test: %d passed, %d failed\n", passed, failed);
  return failed ? 1 : 0;
}

}  // namespace tmbench
