// bench/native/experiments.hpp — the experiments that are not a map
// workload (false sharing, cachegrind reruns, levers), and the small JSON and machine
// helpers the driver's report shares with them.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace tmbench {

struct pin_log;  // placement.hpp

// --- JSON: just enough to write the report ----------------------------------
std::string json_str(const std::string& s);
std::string json_num(double v);  // finite numbers; NaN/inf become null

// --- machine ----------------------------------------------------------------
struct machine_info {
  std::string cpu, kernel, compiler, date;
  unsigned hw_threads = 0;
  int paranoid = 0;
  double load1 = 0, load5 = 0, load15 = 0;
  std::string json() const;
};
machine_info describe_machine();
std::string loadavg_now();

// --- false sharing ----------------------------------------------------------
struct false_sharing_options {
  unsigned threads = 2;
  double duration_ms = 200;
  unsigned rounds = 3;
  bool pin = false;
  std::vector<int> cpus;
  pin_log* pins = nullptr;  // when pinned: what each thread's current_cpu() said
};
/// Prints the table and returns the JSON of the experiment.
std::string run_false_sharing(const false_sharing_options& o);

// --- cachegrind -------------------------------------------------------------
struct cachegrind_job {
  std::string contender;                   // strategy or peer name
  std::string self;                        // path of this executable
  std::vector<std::string> workload_args;  // --reads=.. --dist=.. --sizes=.. --keys=..
  std::uint64_t ops = 200000;
  std::uint64_t warmup_ops = 100000;
  std::string ll;  // valgrind --LL=size,assoc,line; empty: what valgrind reads from cpuid
};
struct cachegrind_result {
  bool ok = false;
  std::string error;
  std::string cache_desc;  // D1/LL configuration valgrind simulated
  double ir_per_op = 0, d1_miss_per_op = 0, ll_miss_per_op = 0, d_refs_per_op = 0;
};
cachegrind_result run_cachegrind(const cachegrind_job& job);

// --- levers (levers.cpp) -----------------------------------------------------
/// Times the pieces of a striped lookup alone (guard, hash, virtual call,
/// copy-out) in alternated rounds; prints the table. Returns the exit code.
int run_levers(unsigned rounds, double round_ms);

// --- self-test of the instruments (self_test.cpp) ---------------------------
int run_self_test();

}  // namespace tmbench
