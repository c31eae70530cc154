// bench/native/main.cpp — threadmap-bench: every strategy (through
// threadmap::make_map and the concurrent_map interface) and the peer maps that
// were found at build time, driven by 1..N threads over the same workloads.
//
// What it measures, for each key space x key type x read share x key
// distribution x thread count x contender:
//   - throughput (Mops/s, all threads together over the longest thread's
//     window), the median of --rounds runs; contenders and workloads are
//     interleaved within each round (the order of contenders rotates every
//     round), so drift in machine load is spread over all of them;
//   - latency percentiles p50/p99/p99.9 of sampled single operations;
//   - perf_event counters per operation, or the reason each is unavailable.
// Then the false-sharing experiment, and with --cachegrind the first selected
// workload rerun under cachegrind for every contender.
//
// The map is filled with every key of the key space before the first timed
// operation and writes are updates, so every run of a group sees the same
// key set; a group's maps are checked (size, a sample of keys, an erase and
// re-insert) after its runs. See driver.hpp for one run and workload.hpp for
// the workloads. `threadmap-bench --help` lists the flags.
//
// Placement (placement.hpp): --numa sets the NUMA policy of every threadmap
// map, --pin pins every benchmark thread; the header says what was asked, each
// group's report what the kernel reads back per table, and the end of the run
// what numa::current_cpu() said in every pinned thread.

#include <threadmap/factory.hpp>
#include <threadmap/map.hpp>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "adapters.hpp"
#include "driver.hpp"
#include "experiments.hpp"
#include "flood.hpp"
#include "placement.hpp"

using namespace tmbench;

namespace {

const char* usage = R"(usage: threadmap-bench [flags]   (npm run bench:native -- [flags])

  --strategies=LIST   contenders: STRATEGIES,tbb,cuckoo,boost,parlay
                      (default: every strategy and every peer built in)
                      Peers built into this binary: PEERS_BUILT.
                      tbb and cuckoo: Debian's libtbb-dev, libcuckoo-dev
                      (scripts/bench-native.sh --install-peers). boost is
                      boost::concurrent_flat_map from Boost 1.83 or later,
                      header-only, which Debian 12 does not ship (1.81 lacks
                      it): point the build at newer headers with
                        bash scripts/bench-native.sh --boost=DIR
                      (cmake -DTHREADMAP_BOOST_INCLUDE=DIR), DIR holding
                      boost/unordered/concurrent_flat_map.hpp and the rest of
                      Boost: an unpacked release such as boost_1_87_0/, or
                      the include/ trees of boostorg/unordered, core, config,
                      container_hash, describe, mp11, predef, static_assert,
                      throw_exception, type_traits and assert copied into one
                      directory. parlay is ParlayHash: --parlayhash=DIR
                      (-DTHREADMAP_PARLAYHASH_INCLUDE=DIR), the include/ of
                      github.com/cmuparlay/parlayhash
  --reads=100,95,50,10  read shares in percent (the rest are updates)
  --dist=uniform,zipf   key choice: uniform or Zipf(0.99)
  --sizes=1K,64K,1M     key spaces (K = 1024, M = 1048576; powers of two)
  --huge                add the 16M key space
  --keys=int,str        64-bit integer keys and/or 16-byte string keys
  --threads=1,2         thread counts (default 1..hardware threads)
  --duration-ms=100     timed window of one run
  --warmup-ms=20        untimed warm-up of each thread before each run
  --rounds=3            runs per configuration (median reported)
  --latency-every=64    time one operation in every N (power of two; 0 = off)
  --numa=POLICY         options.numa_policy of every threadmap map: local,
                      interleave, none (default: the kernel's first touch) or
                      node:N (checked with numa::validate before anything runs);
                      the peers allocate for themselves, unplaced.
                      Each group prints per table what the kernel reads back
  --pin[=CPUS]          pin thread i to CPUS[i % n] (0,1 or 0-3; default: the
                      CPUs this process may use) with numa::pin_thread, checked
                      with numa::current_cpu() after pinning and after each run;
                      the main thread, which fills the maps, to CPUS[0]
  --no-counters         do not open perf_event counters
  --no-false-sharing    skip the false-sharing experiment
  --no-revisions        make the maps of the strategies that can skip them
                        (mutex, rwlock, striped) with options::revisions false:
                        no write steps the map's shared revision counter, as
                        the peers keep none; the others keep theirs
  --retry-starved=2     rerun a run up to N times when a thread waited for a CPU
                        (run queue, /proc/thread-self/schedstat) over 20% of the
                        window: another process had the CPU; keep the attempt
                        that waited least
  --cachegrind          rerun the first workload under valgrind --tool=cachegrind
                        for every selected contender (simulated D1/LL misses per op)
  --cg-ops=200000       measured operations of each cachegrind run
  --cg-ll=S,A,L         simulated last-level cache (bytes,ways,line) instead of
                        the one valgrind derives from cpuid
  --levers              time the pieces of a striped lookup alone (epoch guard,
                        hash, virtual call, copy-out into std::string) on a
                        cache-resident map, alternated rounds (--rounds, default
                        15; --duration-ms per round), and exit
  --self-test           check the bench's own instruments (histogram, Zipf,
                        op rings, keys, task-clock) and exit
  --quick               sizes 1K,64K, int keys, reads 95,50, 40 ms x 2 rounds
  --json=FILE           write every figure as JSON
  --help
)";

struct options {
  std::vector<std::string> contenders;
  std::vector<unsigned> reads = {100, 95, 50, 10};
  std::vector<dist> dists = {dist::uniform, dist::zipf};
  std::vector<std::uint64_t> sizes = {1u << 10, 1u << 16, 1u << 20};
  std::vector<key_kind> keys = {key_kind::int64, key_kind::str16};
  std::vector<unsigned> threads;
  double duration_ms = 100, warmup_ms = 20;
  unsigned rounds = 3, latency_every = 64, retry_starved = 2;
  bool pin = false, counters = true, false_sharing = true, cachegrind = false;
  std::uint64_t cg_ops = 200000;
  std::string cg_ll;
  std::string json;
  // internal: one fixed-count run for cachegrind
  bool fixed_run = false;
  std::uint64_t fixed_ops = 0, warmup_ops = 0;
  std::vector<std::string> workload_args;  // as given, for the cachegrind reruns
  threadmap::numa::policy numa;            // --numa
  bool revisions = true;                   // --no-revisions: threadmap maps without them
  bool flood = false;                      // --flood: flood.cpp instead of the suite
  bool levers = false;                     // --levers: levers.cpp instead of the suite
  flood_options flood_opts;
  std::vector<int> pin_cpus;  // --pin=CPUS; empty: the CPUs the process may use
};

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ','))
    if (!item.empty()) out.push_back(item);
  return out;
}

std::uint64_t parse_size(const std::string& s) {
  std::size_t end = 0;
  const std::uint64_t v = std::stoull(s, &end);
  std::uint64_t mul = 1;
  if (end < s.size()) {
    const char c = static_cast<char>(std::toupper(static_cast<unsigned char>(s[end])));
    mul = c == 'K' ? 1024 : c == 'M' ? 1024 * 1024 : 0;
    if (mul == 0 || end + 1 != s.size()) throw std::invalid_argument("bad size " + s);
  }
  const std::uint64_t n = v * mul;
  if (n < 16 || (n & (n - 1)) != 0 || n > (1ull << 30))
    throw std::invalid_argument("key spaces are powers of two from 16 to 1G: " + s);
  return n;
}

const std::vector<std::string>& strategy_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> v;
    for (threadmap::strategy_kind k : threadmap::all_strategies)
      v.push_back(threadmap::to_string(k));
    return v;
  }();
  return names;
}

const std::vector<std::string> peer_names = {"tbb", "cuckoo", "boost", "parlay"};

bool peer_built(const std::string& name) {
  if (name == "tbb") return THREADMAP_BENCH_HAVE_TBB != 0;
  if (name == "cuckoo") return THREADMAP_BENCH_HAVE_CUCKOO != 0;
  if (name == "boost") return THREADMAP_BENCH_HAVE_BOOST != 0;
  if (name == "parlay") return THREADMAP_BENCH_HAVE_PARLAY != 0;
  return false;
}

const char* peer_missing(const std::string& name) {
  if (name == "tbb")
    return "tbb: skipped, tbb::concurrent_hash_map was not found when this bench was built "
           "(bash scripts/bench-native.sh --install-peers installs Debian's libtbb-dev)";
  if (name == "boost")
    return "boost: skipped, boost::concurrent_flat_map (Boost 1.83+) was not found when this "
           "bench was built (bash scripts/bench-native.sh --boost=DIR; --help says what DIR holds)";
  if (name == "parlay")
    return "parlay: skipped, ParlayHash was not found when this bench was built (bash "
           "scripts/bench-native.sh --parlayhash=DIR, the include/ of cmuparlay/parlayhash)";
  return "cuckoo: skipped, libcuckoo was not found when this bench was built "
         "(bash scripts/bench-native.sh --install-peers installs Debian's libcuckoo-dev)";
}

// The help text, with the strategy list filled in from the core's.
std::string usage_text() {
  std::string names;
  for (const auto& n : strategy_names()) names += (names.empty() ? "" : ",") + n;
  std::string built;
  for (const auto& p : peer_names)
    if (peer_built(p)) built += (built.empty() ? "" : ",") + p;
  std::string u = usage;
  u.replace(u.find("STRATEGIES"), std::strlen("STRATEGIES"), names);
  u.replace(u.find("PEERS_BUILT"), std::strlen("PEERS_BUILT"), built.empty() ? "none" : built);
  return u;
}

options parse(int argc, char** argv) {
  options o;
  bool quick = false, huge = false, sizes_given = false, keys_given = false, reads_given = false;
  bool duration_given = false, rounds_given = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--help" || a == "-h") {
      std::fputs(usage_text().c_str(), stdout);
      std::exit(0);
    }
    const auto eq = a.find('=');
    const std::string key = a.substr(0, eq);
    const std::string val = eq == std::string::npos ? "" : a.substr(eq + 1);
    auto is_workload = [&] { o.workload_args.push_back(a); };
    if (key == "--strategies") {
      o.contenders = split(val);
    } else if (key == "--reads") {
      o.reads.clear();
      for (auto& s : split(val)) {
        const unsigned r = static_cast<unsigned>(std::stoul(s));
        if (r > 100) throw std::invalid_argument("read shares are 0..100");
        o.reads.push_back(r);
      }
      reads_given = true;
      is_workload();
    } else if (key == "--dist") {
      o.dists.clear();
      for (auto& s : split(val)) {
        if (s == "uniform")
          o.dists.push_back(dist::uniform);
        else if (s == "zipf")
          o.dists.push_back(dist::zipf);
        else
          throw std::invalid_argument("--dist is uniform,zipf");
      }
      is_workload();
    } else if (key == "--sizes") {
      o.sizes.clear();
      for (auto& s : split(val)) o.sizes.push_back(parse_size(s));
      sizes_given = true;
      is_workload();
    } else if (key == "--keys") {
      o.keys.clear();
      for (auto& s : split(val)) {
        if (s == "int")
          o.keys.push_back(key_kind::int64);
        else if (s == "str")
          o.keys.push_back(key_kind::str16);
        else
          throw std::invalid_argument("--keys is int,str");
      }
      keys_given = true;
      is_workload();
    } else if (key == "--threads") {
      o.threads.clear();
      for (auto& s : split(val)) o.threads.push_back(static_cast<unsigned>(std::stoul(s)));
    } else if (key == "--duration-ms") {
      o.duration_ms = std::stod(val);
      duration_given = true;
    } else if (key == "--warmup-ms") {
      o.warmup_ms = std::stod(val);
    } else if (key == "--rounds") {
      o.rounds = static_cast<unsigned>(std::stoul(val));
      rounds_given = true;
    } else if (key == "--latency-every") {
      o.latency_every = static_cast<unsigned>(std::stoul(val));
      if (o.latency_every & (o.latency_every - 1))
        throw std::invalid_argument("--latency-every is a power of two");
    } else if (key == "--retry-starved") {
      o.retry_starved = static_cast<unsigned>(std::stoul(val));
    } else if (key == "--numa") {
      o.numa = parse_numa(val, *threadmap::numa::current_topology());
    } else if (key == "--pin") {
      o.pin = true;
      if (eq != std::string::npos) o.pin_cpus = parse_cpu_list(val, threadmap::numa::online_cpus());
    } else if (a == "--no-counters") {
      o.counters = false;
    } else if (a == "--no-false-sharing") {
      o.false_sharing = false;
    } else if (a == "--no-revisions") {
      o.revisions = false;
    } else if (a == "--cachegrind") {
      o.cachegrind = true;
    } else if (key == "--cg-ops") {
      o.cg_ops = std::stoull(val);
    } else if (key == "--cg-ll") {
      o.cg_ll = val;
    } else if (a == "--quick") {
      quick = true;
    } else if (a == "--flood") {
      o.flood = true;
    } else if (key == "--flood-keys") {
      o.flood_opts.keys = std::stoull(val);
      if (o.flood_opts.keys < 16 || o.flood_opts.keys > (1u << 24))
        throw std::invalid_argument("--flood-keys is 16..16M");
    } else if (key == "--flood-rounds") {
      o.flood_opts.rounds = std::max(1u, static_cast<unsigned>(std::stoul(val)));
    } else if (key == "--flood-budget-ms") {
      o.flood_opts.budget_ms = std::stod(val);
    } else if (a == "--levers") {
      o.levers = true;
    } else if (a == "--self-test") {
      std::exit(run_self_test());
    } else if (a == "--huge") {
      huge = true;
    } else if (key == "--json") {
      o.json = val;
    } else if (a == "--internal-fixed-run") {
      o.fixed_run = true;
    } else if (key == "--fixed-ops") {
      o.fixed_ops = std::stoull(val);
    } else if (key == "--warmup-ops") {
      o.warmup_ops = std::stoull(val);
    } else {
      throw std::invalid_argument("unknown flag " + a + "\n\n" + usage_text());
    }
  }
  if (quick) {
    if (!sizes_given) o.sizes = {1u << 10, 1u << 16};
    if (!keys_given) o.keys = {key_kind::int64};
    if (!reads_given) o.reads = {95, 50};
    if (!duration_given) o.duration_ms = 40;
    if (!rounds_given) o.rounds = 2;
  }
  if (o.levers) {
    if (!rounds_given) o.rounds = 15;
    if (!duration_given) o.duration_ms = 20;
  }
  if (huge && std::find(o.sizes.begin(), o.sizes.end(), 1u << 24) == o.sizes.end())
    o.sizes.push_back(1u << 24);
  if (o.threads.empty()) {
    const unsigned hw = std::max(1u, std::thread::hardware_concurrency());
    for (unsigned t = 1; t <= hw; ++t) o.threads.push_back(t);
  }
  if (o.contenders.empty()) {
    o.contenders = strategy_names();
    for (auto& p : peer_names) o.contenders.push_back(p);
  }
  if (o.rounds == 0) o.rounds = 1;
  return o;
}

// --- contenders ------------------------------------------------------------

struct contender {
  std::string name;
  bool peer = false;
  virtual ~contender() = default;
  virtual void fill(std::uint64_t n) = 0;
  virtual run_result run(const run_params& p) = 0;
  virtual std::string check(std::uint64_t n) = 0;  // empty when the map is as expected
  /// Per table, where its memory is; empty for peers and unplaced strategies.
  virtual std::vector<threadmap::numa::table_report> placement() const { return {}; }
};

template <class K, class A>
struct contender_of final : contender {
  A map;
  template <class... X>
  explicit contender_of(X&&... x) : map(std::forward<X>(x)...) {}
  void fill(std::uint64_t n) override {
    for (std::uint64_t i = 0; i < n; ++i) map.insert(K::of(i), value_for(i, 0));
  }
  run_result run(const run_params& p) override { return run_threads<K>(map, p); }
  std::string check(std::uint64_t n) override {
    if (map.size() != n)
      return name + ": size " + std::to_string(map.size()) + ", expected " + std::to_string(n);
    for (std::uint64_t i = 0; i < n; i += 1 + n / 1000) {
      std::uint64_t v = 0;
      if (!map.read(K::of(i), v) || !value_matches(i, v))
        return name + ": key " + std::to_string(i) + " lost";
    }
    const K k0 = K::of(0);
    std::uint64_t v = 0;
    if (!map.erase(k0) || map.read(k0, v)) return name + ": erase of a present key failed";
    map.insert(k0, value_for(0, 0));
    return {};
  }
  std::vector<threadmap::numa::table_report> placement() const override {
    if constexpr (requires { map.placement(); })
      return map.placement();
    else
      return {};
  }
};

// The options every threadmap contender's map starts from.
threadmap::options map_options(const options& o) {
  threadmap::options m;
  m.numa_policy = o.numa;
  m.revisions = o.revisions;
  return m;
}

template <class K>
std::unique_ptr<contender> make_contender_k(const std::string& name,
                                            const threadmap::options& base) {
  std::unique_ptr<contender> c;
  threadmap::strategy_kind k;
  if (threadmap::parse_strategy(name, k))
    c = std::make_unique<contender_of<K, threadmap_adapter<K>>>(k, base);
#if THREADMAP_BENCH_HAVE_TBB
  if (name == "tbb") c = std::make_unique<contender_of<K, tbb_adapter<K>>>();
#endif
#if THREADMAP_BENCH_HAVE_CUCKOO
  if (name == "cuckoo") c = std::make_unique<contender_of<K, cuckoo_adapter<K>>>();
#endif
#if THREADMAP_BENCH_HAVE_BOOST
  if (name == "boost") c = std::make_unique<contender_of<K, boost_adapter<K>>>();
#endif
#if THREADMAP_BENCH_HAVE_PARLAY
  if (name == "parlay") c = std::make_unique<contender_of<K, parlay_adapter<K>>>();
#endif
  if (c) {
    c->name = name;
    c->peer = std::find(peer_names.begin(), peer_names.end(), name) != peer_names.end();
  }
  return c;
}

std::unique_ptr<contender> make_contender(const std::string& name, key_kind k,
                                          const threadmap::options& base) {
  return k == key_kind::int64 ? make_contender_k<int_key>(name, base)
                              : make_contender_k<str_key>(name, base);
}

// --- aggregation and report -------------------------------------------------

struct figure {
  std::uint64_t size;
  key_kind keys;
  unsigned read;
  dist d;
  unsigned threads;
  std::string contender;
  bool peer;
  std::vector<run_result> runs;
  unsigned retries = 0;  // starved runs that were run again

  // The rounds the figure is made of: those in which no thread waited for a
  // CPU over 20% of the window, or every round when none qualifies (then the
  // figure is marked starved).
  std::vector<const run_result*> used() const {
    std::vector<const run_result*> ok, all;
    for (auto& r : runs) {
      all.push_back(&r);
      if (r.max_wait_share <= 0.2) ok.push_back(&r);
    }
    return ok.empty() ? all : ok;
  }
  bool all_starved() const {
    for (auto& r : runs)
      if (r.max_wait_share <= 0.2) return false;
    return !runs.empty();
  }
  double wait_share() const {  // the worst over the rounds used; -1 unknown
    double w = 0;
    for (auto* r : used()) w = r->max_wait_share < 0 ? -1 : std::max(w, r->max_wait_share);
    return w;
  }
  double median_mops() const {
    std::vector<double> m;
    for (auto* r : used()) m.push_back(r->mops());
    std::sort(m.begin(), m.end());
    return m.size() % 2 ? m[m.size() / 2] : (m[m.size() / 2 - 1] + m[m.size() / 2]) / 2;
  }
  double min_mops() const {
    double x = 1e300;
    for (auto* r : used()) x = std::min(x, r->mops());
    return x;
  }
  double max_mops() const {
    double x = 0;
    for (auto* r : used()) x = std::max(x, r->mops());
    return x;
  }
  std::uint64_t total_ops() const {
    std::uint64_t n = 0;
    for (auto* r : used()) n += r->ops;
    return n;
  }
  histogram latency() const {
    histogram h;
    for (auto* r : used()) h.merge(r->latency);
    return h;
  }
  event_values events() const {
    event_values e;
    for (auto* r : used()) e.add(r->events);
    return e;
  }
  double thread_ns() const {
    double n = 0;
    for (auto* r : used()) n += r->thread_ns;
    return n;
  }
};

std::string size_label(std::uint64_t n) {
  if (n >= (1u << 20) && n % (1u << 20) == 0) return std::to_string(n >> 20) + "M";
  if (n >= 1024 && n % 1024 == 0) return std::to_string(n >> 10) + "K";
  return std::to_string(n);
}

bool any_hw(const event_values& e) {
  return e.valid[static_cast<int>(event_id::cycles)] ||
         e.valid[static_cast<int>(event_id::instructions)] ||
         e.valid[static_cast<int>(event_id::cache_misses)];
}

std::string cell(const event_values& e, event_id id, double ops, double scale, const char* fmt) {
  const int i = static_cast<int>(id);
  if (!e.valid[i]) return "n/a";
  char buf[32];
  std::snprintf(buf, sizeof buf, fmt, e.value[i] / ops * scale);
  return std::string(buf) + (e.scaled[i] ? "*" : "");
}

void print_group(const std::vector<figure>& figs, std::uint64_t size, key_kind keys) {
  std::printf("\n== %s keys (%s), %s ==\n", size_label(size).c_str(), to_string(keys),
              keys == key_kind::int64 ? "64-bit integer keys" : "16-byte string keys");
  bool hw = false;
  for (auto& f : figs) hw = hw || any_hw(f.events());
  std::printf("%-5s %-8s %3s %-11s %19s %7s %6s %6s %7s %7s %5s %5s %6s", "reads", "dist", "thr",
              "contender", "Mops/s (min-max)", "vs best", "scale", "p50", "p99", "p99.9", "cpu%",
              "wait%", "cs/s");
  if (hw)
    std::printf(" %9s %5s %8s %8s %8s %8s", "cycles/op", "IPC", "L1d-m/op", "LLC-m/op", "dTLB/op",
                "br-m/op");
  std::printf("\n");
  for (const auto& f : figs) {
    double best = 0;
    const figure* one = nullptr;
    for (const auto& g : figs) {
      if (g.read == f.read && g.d == f.d && g.threads == f.threads)
        best = std::max(best, g.median_mops());
      if (g.read == f.read && g.d == f.d && g.threads == 1 && g.contender == f.contender) one = &g;
    }
    const histogram h = f.latency();
    const event_values e = f.events();
    const double ops = static_cast<double>(f.total_ops());
    char range[48];
    std::snprintf(range, sizeof range, "%.2f (%.2f-%.2f)", f.median_mops(), f.min_mops(),
                  f.max_mops());
    char scale[16] = "-";
    if (one && f.threads > 1)
      std::snprintf(scale, sizeof scale, "%.2fx", f.median_mops() / one->median_mops());
    const int tc = static_cast<int>(event_id::task_clock),
              cs = static_cast<int>(event_id::context_switches);
    const std::string cpu =
        e.valid[tc] ? std::to_string(static_cast<int>(100 * e.value[tc] / f.thread_ns())) : "n/a";
    char csr[16] = "n/a";
    if (e.valid[cs])
      std::snprintf(csr, sizeof csr, "%.0f", e.value[cs] / (f.thread_ns() / 1e9) * f.threads);
    const double ws = f.wait_share();
    const std::string wait = ws < 0 ? "n/a" : std::to_string(static_cast<int>(100 * ws));
    std::printf("%4u%% %-8s %3u %-11s %18s%s %6.2fx %6s %6llu %7llu %7llu %5s %5s %6s", f.read,
                to_string(f.d), f.threads, f.contender.c_str(), range, f.all_starved() ? "!" : " ",
                f.median_mops() / best, scale, static_cast<unsigned long long>(h.quantile(0.5)),
                static_cast<unsigned long long>(h.quantile(0.99)),
                static_cast<unsigned long long>(h.quantile(0.999)), cpu.c_str(), wait.c_str(), csr);
    if (hw) {
      const int cyc = static_cast<int>(event_id::cycles),
                ins = static_cast<int>(event_id::instructions);
      std::string ipc = "n/a";
      if (e.valid[cyc] && e.valid[ins]) {
        char b[16];
        std::snprintf(b, sizeof b, "%.2f", e.value[ins] / e.value[cyc]);
        ipc = b;
      }
      std::printf(" %9s %5s %8s %8s %8s %8s", cell(e, event_id::cycles, ops, 1, "%.0f").c_str(),
                  ipc.c_str(), cell(e, event_id::l1d_load_misses, ops, 1, "%.2f").c_str(),
                  cell(e, event_id::llc_load_misses, ops, 1, "%.3f").c_str(),
                  cell(e, event_id::dtlb_load_misses, ops, 1, "%.3f").c_str(),
                  cell(e, event_id::branch_misses, ops, 1, "%.3f").c_str());
    }
    std::printf("\n");
  }
}

std::string figure_json(const figure& f) {
  const histogram h = f.latency();
  const event_values e = f.events();
  const double ops = static_cast<double>(f.total_ops());
  std::string s =
      "{\"size\":" + std::to_string(f.size) + ",\"keys\":" + json_str(to_string(f.keys)) +
      ",\"readPercent\":" + std::to_string(f.read) + ",\"dist\":" + json_str(to_string(f.d)) +
      ",\"threads\":" + std::to_string(f.threads) + ",\"contender\":" + json_str(f.contender) +
      ",\"peer\":" + (f.peer ? "true" : "false") + ",\"retries\":" + std::to_string(f.retries) +
      ",\"mops\":" + json_num(f.median_mops()) + ",\"minMops\":" + json_num(f.min_mops()) +
      ",\"maxMops\":" + json_num(f.max_mops()) + ",\"roundsMops\":[";
  for (std::size_t i = 0; i < f.runs.size(); ++i) s += (i ? "," : "") + json_num(f.runs[i].mops());
  // Per round, the worst thread's run-queue wait share (-1: unknown), so runs
  // of several processes can be pooled with the same rule as used().
  s += "],\"roundsWait\":[";
  for (std::size_t i = 0; i < f.runs.size(); ++i)
    s += (i ? "," : "") + json_num(f.runs[i].max_wait_share);
  s += "],\"latencyNs\":{\"p50\":" + std::to_string(h.quantile(0.5)) +
       ",\"p99\":" + std::to_string(h.quantile(0.99)) +
       ",\"p999\":" + std::to_string(h.quantile(0.999)) + ",\"max\":" + std::to_string(h.max()) +
       ",\"samples\":" + std::to_string(h.count()) + "},\"perOp\":{";
  for (int i = 0; i < event_count; ++i) {
    if (i) s += ",";
    s += json_str(event_name(i)) + ":";
    if (e.valid[i]) {
      s += "{\"value\":" + json_num(e.value[i] / ops) +
           ",\"scaled\":" + (e.scaled[i] ? "true" : "false") + "}";
    } else {
      const auto& st = probe_events()[static_cast<std::size_t>(i)];
      s += "{\"unavailable\":" +
           json_str(!st.available ? st.reason : "not counted (never scheduled)") + "}";
    }
  }
  s += "},\"waitShare\":" + json_num(f.wait_share()) +
       ",\"starved\":" + (f.all_starved() ? "true" : "false") +
       ",\"roundsUsed\":" + std::to_string(f.used().size()) + ",\"cpuShare\":" +
       (e.valid[static_cast<int>(event_id::task_clock)]
            ? json_num(e.value[static_cast<int>(event_id::task_clock)] / f.thread_ns())
            : std::string("null")) +
       "}";
  return s;
}

// A run in which some thread waited for a CPU over 20% of its window.
bool starved(const run_result& r) {
  return r.max_wait_share > 0.2;
}

double timer_overhead_ns() {
  std::vector<std::uint64_t> d(10000);
  for (auto& x : d) {
    const std::uint64_t a = now_ns();
    x = now_ns() - a;
  }
  std::sort(d.begin(), d.end());
  return static_cast<double>(d[d.size() / 2]);
}

// What a contender's memory placement was, one line: per table for threadmap
// strategies that place their tables, otherwise why nothing was placed.
std::string placement_line(const contender& c,
                           const std::vector<threadmap::numa::table_report>& t) {
  if (c.peer) return "not placed by threadmap (a peer: its own allocator, the kernel's default)";
  if (t.empty())
    return "not placed (the '" + c.name +
           "' strategy does not place its memory: the kernel's default (first touch) applies "
           "whatever the policy)";
  return placement_summary(t);
}

std::size_t ring_length(std::uint64_t n) {
  // Long enough to spread over the key space, short enough that the ring
  // itself does not crowd a small map out of the caches.
  return static_cast<std::size_t>(std::clamp<std::uint64_t>(2 * n, 8192, 1u << 20));
}

// The one run of the cachegrind mode: fill, warm up, fixed count, no output.
int fixed_run(const options& o) {
  const auto c = make_contender(o.contenders.at(0), o.keys.at(0), map_options(o));
  if (!c) return 3;
  const std::uint64_t n = o.sizes.at(0);
  c->fill(n);
  std::unique_ptr<zipf> z;
  if (o.dists.at(0) == dist::zipf) z = std::make_unique<zipf>(n, 0.99);
  const auto ring = make_ops(n, o.dists.at(0), o.reads.at(0), 1, ring_length(n), z.get());
  run_params p;
  p.threads = 1;
  p.rings = {&ring};
  p.fixed_ops = o.fixed_ops;
  p.warmup_ops = o.warmup_ops;
  p.latency_every = 0;
  p.counters = false;
  const run_result r = c->run(p);
  if (r.bad_reads) return 4;
  std::printf("%llu\n", static_cast<unsigned long long>(r.checksum));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  options o;
  try {
    o = parse(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 2;
  }
  if (o.fixed_run) return fixed_run(o);
  if (o.levers) return run_levers(o.rounds, o.duration_ms);
  if (o.flood) {
    // The strategies only: the flood bench is about threadmap's tables.
    for (const auto& c : o.contenders)
      if (std::find(strategy_names().begin(), strategy_names().end(), c) != strategy_names().end())
        o.flood_opts.strategies.push_back(c);
    o.flood_opts.json = o.json;
    return run_flood(o.flood_opts);
  }

  const machine_info m = describe_machine();
  pin_log pins;
  if (o.pin) {
    pins.cpus = o.pin_cpus;
    pins.from = "--pin list";
    if (pins.cpus.empty()) {
      for (unsigned c : threadmap::numa::thread_affinity())
        pins.cpus.push_back(static_cast<int>(c));
      pins.from = "the CPUs this process may use";
    }
  }
  // The main thread fills the maps (under numa local, its node is where the
  // tables go): with --pin it is thread 0's CPU too, before anything runs.
  pin_check main_pin;
  if (o.pin) {
    main_pin = pin_self(pins.cpu_for(0));
    if (const std::string problem = main_pin.problem(); !problem.empty()) {
      std::fprintf(stderr, "--pin: main thread: %s\n", problem.c_str());
      return 2;
    }
  }
  // Every run, kept or rerun, must have run where it was pinned.
  auto ran_where_pinned = [&](const run_result& r, const std::string& name) {
    for (std::size_t t = 0; t < r.pins.size(); ++t) {
      const std::string problem = r.pins[t].problem();
      if (!problem.empty()) {
        std::fprintf(stderr, "%s, thread %zu: %s\n", name.c_str(), t, problem.c_str());
        return false;
      }
      pins.add("thread " + std::to_string(t), r.pins[t]);
    }
    return true;
  };
  const std::string numa_text =
      o.numa.kind == threadmap::numa::policy_kind::none
          ? std::string("numa: none (kernel default)")
          : "numa: " + numa_label(o.numa) +
                " on every threadmap map (the peers are not placed by threadmap)";
  const double timer = timer_overhead_ns();
  std::printf("threadmap native bench\n");
  std::printf("machine   %s, %u hardware threads, %s\n", m.cpu.c_str(), m.hw_threads,
              m.kernel.c_str());
  std::printf("compiler  %s\n", m.compiler.c_str());
  std::printf("date      %s   load average %.2f %.2f %.2f\n", m.date.c_str(), m.load1, m.load5,
              m.load15);
  std::printf(
      "timing    median of %u rounds of %.0f ms after %.0f ms warm-up per thread; threads start on "
      "a barrier; contenders interleaved, order rotated each round\n",
      o.rounds, o.duration_ms, o.warmup_ms);
  std::printf("placement %s, %s\n", numa_text.c_str(), pins.header().c_str());
  std::printf("revisions %s\n", o.revisions
                                    ? "kept by every threadmap map (the default)"
                                    : "off where a strategy can skip them (--no-revisions)");
  std::printf(
      "latency   1 op in %u timed alone (monotonic clock, median overhead %.0f ns, included in the "
      "percentiles)\n",
      o.latency_every, timer);

  // Which contenders exist here.
  std::vector<std::string> names;
  std::string skipped_json;
  for (const auto& c : o.contenders) {
    const bool is_peer = std::find(peer_names.begin(), peer_names.end(), c) != peer_names.end();
    const bool is_strategy =
        std::find(strategy_names().begin(), strategy_names().end(), c) != strategy_names().end();
    if (!is_peer && !is_strategy) {
      std::fprintf(stderr, "unknown contender %s\n", c.c_str());
      return 2;
    }
    if (is_peer && !peer_built(c)) {
      std::printf("peers     %s\n", peer_missing(c));
      skipped_json += (skipped_json.empty() ? "" : ",") + std::string("{\"name\":") + json_str(c) +
                      ",\"reason\":" + json_str(peer_missing(c)) + "}";
      continue;
    }
    try {
      make_contender(c, key_kind::int64, map_options(o));
    } catch (const std::exception& e) {
      std::printf("strategy  %s: skipped, make_map failed: %s\n", c.c_str(), e.what());
      continue;
    }
    names.push_back(c);
  }
  std::printf("contenders %s  (peers hash with threadmap::hash_bytes too)\n",
              [&] {
                std::string s;
                for (auto& n : names) s += n + " ";
                return s;
              }()
                  .c_str());

  // Which perf events work here, and why not.
  std::string events_json;
  if (o.counters) {
    std::printf("counters  perf_event_open per thread, kernel.perf_event_paranoid=%d:\n",
                m.paranoid);
    const auto& st = probe_events();
    std::string ok_list;
    for (int e = 0; e < event_count; ++e) {
      const auto& s = st[static_cast<std::size_t>(e)];
      events_json += std::string(e ? "," : "") + "{\"name\":" + json_str(event_name(e)) +
                     ",\"available\":" + (s.available ? "true" : "false") +
                     (s.available ? ",\"userOnly\":" + std::string(s.user_only ? "true" : "false")
                                  : ",\"reason\":" + json_str(s.reason)) +
                     "}";
      if (s.available)
        ok_list += std::string(event_name(e)) + (s.user_only ? " (user space only) " : " ");
      else
        std::printf("          %-22s unavailable: %s\n", event_name(e), s.reason.c_str());
    }
    std::printf("          working: %s\n", ok_list.empty() ? "none" : ok_list.c_str());
    std::printf(
        "          columns: cpu%% = task-clock / wall time of the threads; wait%% = the worst "
        "thread's run-queue wait / window; cs/s = context switches per second per thread;\n"
        "          * = scaled for multiplexing; ! = every round starved (a thread waited for a CPU "
        "over 20%% of the window: the machine's load, not the map)\n");
  }
  std::fflush(stdout);

  std::vector<figure> all;
  std::string fill_json, placement_json_all;
  const unsigned max_threads = *std::max_element(o.threads.begin(), o.threads.end());
  const std::size_t groups = o.sizes.size() * o.keys.size();
  std::size_t group_no = 0;
  for (const std::uint64_t n : o.sizes) {
    for (const key_kind kk : o.keys) {
      ++group_no;
      std::fprintf(stderr, "[%zu/%zu] %s %s keys: filling %zu maps\n", group_no, groups,
                   size_label(n).c_str(), to_string(kk), names.size());
      std::vector<std::unique_ptr<contender>> cs;
      for (const auto& name : names) {
        auto c = make_contender(name, kk, map_options(o));
        const std::uint64_t t0 = now_ns();
        c->fill(n);
        const double ns = static_cast<double>(now_ns() - t0);
        fill_json += std::string(fill_json.empty() ? "" : ",") + "{\"size\":" + std::to_string(n) +
                     ",\"keys\":" + json_str(to_string(kk)) + ",\"contender\":" + json_str(name) +
                     ",\"nsPerInsert\":" + json_num(ns / static_cast<double>(n)) + "}";
        cs.push_back(std::move(c));
      }
      std::unique_ptr<zipf> z;
      if (std::find(o.dists.begin(), o.dists.end(), dist::zipf) != o.dists.end())
        z = std::make_unique<zipf>(n, 0.99);

      // One ring per (read share, distribution, thread), shared by all contenders.
      struct workload {
        unsigned read;
        dist d;
        std::vector<std::vector<std::uint32_t>> rings;
      };
      std::vector<workload> wls;
      for (unsigned r : o.reads) {
        for (dist d : o.dists) {
          workload w{r, d, {}};
          for (unsigned t = 0; t < max_threads; ++t)
            w.rings.push_back(make_ops(n, d, r,
                                       1000003ull * (t + 1) + r * 31 + static_cast<unsigned>(d),
                                       ring_length(n), z.get()));
          wls.push_back(std::move(w));
        }
      }
      std::vector<figure> figs;
      for (auto& w : wls)
        for (unsigned t : o.threads)
          for (auto& c : cs) figs.push_back({n, kk, w.read, w.d, t, c->name, c->peer, {}});

      for (unsigned round = 0; round < o.rounds; ++round) {
        std::fprintf(stderr, "[%zu/%zu] %s %s keys: round %u/%u (%zu runs)\n", group_no, groups,
                     size_label(n).c_str(), to_string(kk), round + 1, o.rounds, figs.size());
        std::size_t fi = 0;
        for (auto& w : wls) {
          for (unsigned t : o.threads) {
            run_params p;
            p.threads = t;
            for (unsigned i = 0; i < t; ++i) p.rings.push_back(&w.rings[i]);
            p.duration_ms = o.duration_ms;
            p.warmup_ms = o.warmup_ms;
            p.latency_every = o.latency_every;
            p.counters = o.counters;
            p.pin = o.pin;
            p.cpus = pins.cpus;
            for (std::size_t k = 0; k < cs.size(); ++k) {
              const std::size_t i = (k + round) % cs.size();
              run_result r = cs[i]->run(p);
              if (!ran_where_pinned(r, cs[i]->name)) return 1;
              // A run whose threads waited for a CPU (other processes on a
              // shared machine) measures the machine, not the map: run it
              // again and keep the attempt that got the most CPU.
              for (unsigned k = 0; k < o.retry_starved && starved(r); ++k) {
                run_result again = cs[i]->run(p);
                if (!ran_where_pinned(again, cs[i]->name)) return 1;
                ++figs[fi + i].retries;
                if (again.max_wait_share < r.max_wait_share) r = std::move(again);
              }
              if (r.bad_reads) {
                std::fprintf(stderr, "%s: %llu reads missed or returned another key's value\n",
                             cs[i]->name.c_str(), static_cast<unsigned long long>(r.bad_reads));
                return 1;
              }
              figs[fi + i].runs.push_back(std::move(r));
            }
            fi += cs.size();
          }
        }
      }
      for (auto& c : cs) {
        const std::string err = c->check(n);
        if (!err.empty()) {
          std::fprintf(stderr, "validation failed: %s\n", err.c_str());
          return 1;
        }
      }
      print_group(figs, n, kk);
      std::printf("placement (numa %s), read after the runs:\n", numa_label(o.numa).c_str());
      for (auto& c : cs) {
        const auto tables = c->placement();
        std::printf("  %-11s %s\n", c->name.c_str(), placement_line(*c, tables).c_str());
        placement_json_all +=
            std::string(placement_json_all.empty() ? "" : ",") + "{\"size\":" + std::to_string(n) +
            ",\"keys\":" + json_str(to_string(kk)) + ",\"contender\":" + json_str(c->name) +
            ",\"peer\":" + (c->peer ? "true" : "false") +
            ",\"summary\":" + json_str(placement_line(*c, tables)) +
            ",\"tables\":" + placement_json(tables) + "}";
      }
      std::fflush(stdout);
      for (auto& f : figs) all.push_back(std::move(f));
    }
  }

  std::string fs_json = "null";
  if (o.false_sharing) {
    false_sharing_options fo;
    fo.threads = std::max(2u, max_threads);
    fo.pin = o.pin;
    fo.cpus = pins.cpus;
    fo.pins = &pins;
    fo.duration_ms = std::max(50.0, o.duration_ms * 2);
    fo.rounds = std::max(3u, o.rounds);
    fs_json = run_false_sharing(fo);
  }

  std::string cg_json = "null";
  if (o.cachegrind) {
    cg_json = "{\"workload\":" +
              json_str(std::to_string(o.reads[0]) + "% reads, " + to_string(o.dists[0]) + ", " +
                       size_label(o.sizes[0]) + " " + to_string(o.keys[0]) + " keys, 1 thread") +
              ",\"ops\":" + std::to_string(o.cg_ops) + ",\"results\":[";
    std::printf(
        "\nCachegrind (simulated caches, deterministic): %u%% reads, %s, %s %s keys, 1 thread; "
        "per op = (run with 2N ops - run with N ops) / N, N = %llu\n",
        o.reads[0], to_string(o.dists[0]), size_label(o.sizes[0]).c_str(), to_string(o.keys[0]),
        static_cast<unsigned long long>(o.cg_ops));
    std::printf("  %-11s %10s %10s %12s %12s\n", "contender", "instr/op", "D refs/op", "D1 miss/op",
                "LL miss/op");
    bool first = true;
    std::string desc;
    for (const auto& name : names) {
      cachegrind_job job;
      job.contender = name;
      job.self = "/proc/self/exe";
      char buf[4096];
      const ssize_t len = readlink("/proc/self/exe", buf, sizeof buf - 1);
      if (len > 0) job.self.assign(buf, static_cast<std::size_t>(len));
      job.workload_args = {
          "--reads=" + std::to_string(o.reads[0]),
          std::string("--dist=") + (o.dists[0] == dist::uniform ? "uniform" : "zipf"),
          "--sizes=" + std::to_string(o.sizes[0]),
          std::string("--keys=") + (o.keys[0] == key_kind::int64 ? "int" : "str"),
          "--numa=" + numa_label(o.numa)};
      if (!o.revisions) job.workload_args.emplace_back("--no-revisions");
      job.ops = o.cg_ops;
      job.ll = o.cg_ll;
      job.warmup_ops = std::max<std::uint64_t>(o.cg_ops / 2, 10000);
      std::fprintf(stderr, "cachegrind: %s\n", name.c_str());
      const auto r = run_cachegrind(job);
      if (!r.ok) {
        std::printf("  %-11s unavailable: %s\n", name.c_str(), r.error.c_str());
        cg_json += std::string(first ? "" : ",") + "{\"contender\":" + json_str(name) +
                   ",\"unavailable\":" + json_str(r.error) + "}";
      } else {
        // Differences of two runs can come out a hair below zero: show 0.
        auto nz = [](double x) { return x < 0 && x > -0.0005 ? 0.0 : x; };
        std::printf("  %-11s %10.1f %10.1f %12.3f %12.3f\n", name.c_str(), r.ir_per_op,
                    r.d_refs_per_op, nz(r.d1_miss_per_op), nz(r.ll_miss_per_op));
        desc = r.cache_desc;
        cg_json += std::string(first ? "" : ",") + "{\"contender\":" + json_str(name) +
                   ",\"instrPerOp\":" + json_num(r.ir_per_op) +
                   ",\"dataRefsPerOp\":" + json_num(r.d_refs_per_op) +
                   ",\"d1MissPerOp\":" + json_num(r.d1_miss_per_op) +
                   ",\"llMissPerOp\":" + json_num(r.ll_miss_per_op) + "}";
      }
      first = false;
    }
    if (!desc.empty()) std::printf("  simulated: %s\n", desc.c_str());
    cg_json += "],\"simulatedCaches\":" + json_str(desc) + "}";
  }

  unsigned retried = 0;
  for (auto& f : all) retried += f.retries;
  if (retried)
    std::printf(
        "\n%u runs were starved of CPU (a thread waited on the run queue > 20%% of the window) and "
        "run again (--retry-starved=%u)\n",
        retried, o.retry_starved);
  std::uint64_t checksum = 0;
  for (auto& f : all)
    for (auto& r : f.runs) checksum += r.checksum;
  if (o.pin) {
    main_pin.seen_end = threadmap::numa::current_cpu();
    if (const std::string problem = main_pin.problem(); !problem.empty()) {
      std::fprintf(stderr, "main thread: %s\n", problem.c_str());
      return 1;
    }
    pins.add("main thread (fills)", main_pin);
    std::printf("\npinning   %s\n", pins.header().c_str());
    for (const auto& line : pins.lines()) std::printf("          %s\n", line.c_str());
  } else {
    std::printf("\npinning   threads not pinned (the kernel chose their CPUs)\n");
  }
  const std::string load_end = loadavg_now();
  std::printf("\nload average at the end %s; checksum of all values read %llu\n", load_end.c_str(),
              static_cast<unsigned long long>(checksum));

  if (!o.json.empty()) {
    std::string j =
        "{\"kind\":\"threadmap-native-bench\",\"machine\":" + m.json() +
        ",\"loadavgAtEnd\":" + json_str(load_end) + ",\"timerOverheadNs\":" + json_num(timer) +
        ",\"options\":{\"durationMs\":" + json_num(o.duration_ms) +
        ",\"warmupMs\":" + json_num(o.warmup_ms) + ",\"rounds\":" + std::to_string(o.rounds) +
        ",\"latencyEvery\":" + std::to_string(o.latency_every) +
        ",\"retryStarved\":" + std::to_string(o.retry_starved) +
        ",\"pin\":" + (o.pin ? "true" : "false") + ",\"numa\":" + json_str(numa_label(o.numa)) +
        ",\"revisions\":" + (o.revisions ? "true" : "false") + "},\"pinning\":" + pins.json() +
        ",\"placement\":[" + placement_json_all + "],\"events\":[" + events_json +
        "],\"skipped\":[" + skipped_json + "],\"fill\":[" + fill_json + "],\"results\":[";
    for (std::size_t i = 0; i < all.size(); ++i) j += (i ? "," : "") + figure_json(all[i]);
    j += "],\"falseSharing\":" + fs_json + ",\"cachegrind\":" + cg_json + "}\n";
    std::ofstream out(o.json);
    out << j;
    if (!out) {
      std::fprintf(stderr, "cannot write %s\n", o.json.c_str());
      return 1;
    }
    std::printf("wrote %s\n", o.json.c_str());
  }
  return 0;
}
