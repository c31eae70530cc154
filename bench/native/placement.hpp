// bench/native/placement.hpp — where a run's memory and threads were, so the
// report says what it measured.
//
// --numa local|interleave|none|node:N becomes options::numa_policy of every
// threadmap map the bench builds (the peers allocate for themselves and are
// not placed). After each group's runs, concurrent_map::placement() reports
// per table what was decided and what the kernel reads back
// (get_mempolicy); the report prints it per contender, and the JSON keeps
// every table.
//
// --pin[=CPUS]: benchmark thread t is pinned to cpus[t % cpus.size()], where
// cpus is the list given or the CPUs the process may use. Each thread pins
// itself with numa::pin_thread and checks numa::current_cpu() at once and at
// the end of its run; a refused pin or another CPU stops the bench (exit 1),
// and pin_log collects what every thread saw.
#pragma once

#include <threadmap/topology.hpp>

#include <map>
#include <set>
#include <string>
#include <vector>

namespace tmbench {

/// --numa's value. Throws std::invalid_argument naming the valid forms, or,
/// for a node that `t` lacks (or the cpuset excludes), numa::validate's reason.
threadmap::numa::policy parse_numa(const std::string& value, const threadmap::numa::topology& t);
/// "none", "local", "interleave" or "node:N": the policy as --numa spells it.
std::string numa_label(const threadmap::numa::policy& p);

/// --pin's list: "0,1", "0-3,6"; order kept, repeats dropped. Every CPU must be
/// in `online` (numa::online_cpus()); throws std::invalid_argument otherwise.
std::vector<int> parse_cpu_list(const std::string& value, const std::vector<unsigned>& online);

/// "8 tables: bound x7, heap x1; kernel policy bind {0} / default; pages read
/// back on node {0}"; empty `tables` is the caller's to explain.
std::string placement_summary(const std::vector<threadmap::numa::table_report>& tables);
/// The tables as a JSON array.
std::string placement_json(const std::vector<threadmap::numa::table_report>& tables);

/// One pinned thread's check: the CPU it was given, pin_thread's errno (0:
/// done), and numa::current_cpu() right after pinning and at the end of its
/// run (-1: unknown here).
struct pin_check {
  int cpu = -1;
  int error = 0;
  int seen_start = -1, seen_end = -1;
  /// Empty when the thread ran where it was pinned; otherwise what went wrong.
  std::string problem() const;
};
/// Pins the calling thread to `cpu` and reads back where it runs.
pin_check pin_self(int cpu);

/// What every pinned thread of the run saw, by thread name.
struct pin_log {
  std::vector<int> cpus;  // round-robin over these; empty: not pinned
  std::string from;       // "--pin list" or "the CPUs this process may use"

  int cpu_for(unsigned thread) const { return cpus[thread % cpus.size()]; }
  void add(const std::string& who, const pin_check& c);
  /// "threads pinned round-robin over CPUs 0, 1 (...)" or "threads not pinned".
  std::string header() const;
  /// Per thread: the CPU and what current_cpu() said, one line each.
  std::vector<std::string> lines() const;
  std::string json() const;

 private:
  struct seen {
    int cpu = -1;
    std::set<int> cpus;
    unsigned unknown = 0, checks = 0;
  };
  std::map<std::string, seen> threads_;
};

}  // namespace tmbench
