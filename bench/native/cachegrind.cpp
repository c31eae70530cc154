// bench/native/cachegrind.cpp — simulated cache misses per operation.
//
// Where no PMU is visible (KVM guests like the ones this project runs on),
// `valgrind --tool=cachegrind --cache-sim=yes` still gives deterministic
// counts of D1 and LL misses by simulating the caches. Cachegrind counts the
// whole process (start-up, key generation, filling the map), so this runs the
// driver twice on the same workload, one thread, fixed operation counts:
//
//   run A: fill + warm-up W ops + N measured ops
//   run B: fill + warm-up W ops + 2N measured ops
//
// and reports (B - A) / N: the cost of exactly the N measured operations, with
// everything else cancelled out. Valgrind serialises threads, so this mode is
// single-threaded by design; it compares how many cache lines each contender
// touches per operation, not contention.

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>

#include "experiments.hpp"

namespace tmbench {

namespace {

struct cg_counts {
  std::map<std::string, double> ev;
  std::string desc;
};

bool run_once(const cachegrind_job& job, std::uint64_t ops, cg_counts& out, std::string& err) {
  char tmpl[] = "/tmp/threadmap-cg-XXXXXX";
  const int fd = mkstemp(tmpl);
  if (fd < 0) {
    err = "mkstemp failed";
    return false;
  }
  close(fd);
  const std::string file = tmpl;
  std::vector<std::string> args = {"valgrind",
                                   "--tool=cachegrind",
                                   "--cache-sim=yes",
                                   "--cachegrind-out-file=" + file,
                                   job.self,
                                   "--internal-fixed-run",
                                   "--strategies=" + job.contender,
                                   "--threads=1",
                                   "--fixed-ops=" + std::to_string(ops),
                                   "--warmup-ops=" + std::to_string(job.warmup_ops)};
  if (!job.ll.empty()) args.insert(args.begin() + 3, "--LL=" + job.ll);
  args.insert(args.end(), job.workload_args.begin(), job.workload_args.end());
  // Flush first: a child would otherwise write our buffered output again.
  std::fflush(stdout);
  std::fflush(stderr);
  const pid_t pid = fork();
  if (pid == 0) {
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    // valgrind's own chatter goes to /dev/null; the driver's stdout too.
    std::freopen("/dev/null", "w", stderr);
    std::freopen("/dev/null", "w", stdout);
    execvp("valgrind", argv.data());
    _exit(127);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    err = WIFEXITED(status) && WEXITSTATUS(status) == 127
              ? "valgrind not found (apt-get install valgrind)"
              : "valgrind run failed (exit " + std::to_string(WEXITSTATUS(status)) + ")";
    std::remove(file.c_str());
    return false;
  }
  std::ifstream f(file);
  std::string line, events;
  while (std::getline(f, line)) {
    if (line.rfind("desc:", 0) == 0) out.desc += line.substr(6) + "; ";
    if (line.rfind("events:", 0) == 0) events = line.substr(8);
    if (line.rfind("summary:", 0) == 0) {
      std::istringstream names(events), values(line.substr(9));
      std::string name;
      double v;
      while (names >> name && values >> v) out.ev[name] = v;
    }
  }
  std::remove(file.c_str());
  if (out.ev.empty()) {
    err = "no summary line in the cachegrind output";
    return false;
  }
  return true;
}

}  // namespace

cachegrind_result run_cachegrind(const cachegrind_job& job) {
  cachegrind_result r;
  cg_counts a, b;
  if (!run_once(job, job.ops, a, r.error) || !run_once(job, 2 * job.ops, b, r.error)) return r;
  const double n = static_cast<double>(job.ops);
  auto per_op = [&](std::initializer_list<const char*> names) {
    double d = 0;
    for (const char* k : names) d += b.ev[k] - a.ev[k];
    return d / n;
  };
  r.ok = true;
  r.cache_desc = b.desc;
  r.ir_per_op = per_op({"Ir"});
  r.d_refs_per_op = per_op({"Dr", "Dw"});
  r.d1_miss_per_op = per_op({"D1mr", "D1mw"});
  r.ll_miss_per_op = per_op({"DLmr", "DLmw"});
  return r;
}

}  // namespace tmbench
