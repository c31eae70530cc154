// bench/native/flood.cpp — threadmap-bench --flood (flood.hpp).
//
// For each strategy and each key set (flood_keys.hpp): the swap chain
// (printable 272-byte keys, one old hash), the zero-multiplicand blocks
// (48-byte bytes keys, one old hash) and the generic prefix flood (24..279
// bytes), against random printable keys of the same lengths. One run builds a
// fresh map (no capacity hint, so it grows as a real map would), times every
// insert, then one `get` of every key (thread CPU time, so waiting for a CPU
// on a loaded machine is not counted), and reads stats().resizes; flood and
// random runs alternate, the best of --flood-rounds is kept (resizes: the median). A phase that
// passes --flood-budget-ms stops there and says how far it got, so a hash
// that floods shows up as a truncated run instead of a run that never ends.
//
// Then the cost of one hash per key length, for the shipped keyed hash, the
// old unkeyed one and a keyed SipHash-1-3 (the candidate it was measured
// against; written here from the SipHash paper's description).
#include "flood.hpp"

#include <threadmap/detail/hash.hpp>
#include <threadmap/factory.hpp>
#include <threadmap/map.hpp>

#include <time.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <random>

#include "driver.hpp"
#include "experiments.hpp"
#include "flood_keys.hpp"

namespace tmbench {

namespace {

struct run {
  double insert_ns = 0, get_ns = 0;  // per key
  std::size_t inserted = 0, found = 0;
  std::uint64_t resizes = 0;
  bool truncated = false;
};

// CPU time of this thread: a run preempted by another process on a shared
// machine is not charged for the time it waited.
std::uint64_t cpu_ns() noexcept {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1000000000ull +
         static_cast<std::uint64_t>(ts.tv_nsec);
}

run one_run(threadmap::strategy_kind kind, const std::vector<std::string>& keys, double budget_ms) {
  threadmap::options o;
  o.strategy = kind;
  auto map = threadmap::make_map(o);
  const std::uint64_t budget = static_cast<std::uint64_t>(budget_ms * 1e6);
  run r;
  std::uint64_t t0 = cpu_ns(), t = t0;
  for (std::size_t i = 0; i < keys.size(); ++i) {
    const std::uint64_t v = i;
    map->put(keys[i], {reinterpret_cast<const char*>(&v), sizeof v}, nullptr);
    ++r.inserted;
    if ((i & 255) == 255 && (t = cpu_ns()) - t0 > budget) {
      r.truncated = true;
      break;
    }
  }
  t = cpu_ns();
  r.insert_ns = static_cast<double>(t - t0) / static_cast<double>(r.inserted);
  std::string out;
  std::size_t got = 0;
  t0 = cpu_ns();
  for (std::size_t i = 0; i < r.inserted; ++i) {
    std::uint64_t v = ~std::uint64_t{0};
    if (map->get(keys[i], &out) && out.size() == sizeof v) std::memcpy(&v, out.data(), sizeof v);
    r.found += v == i;
    ++got;
    if ((i & 255) == 255 && (t = cpu_ns()) - t0 > budget) {
      r.truncated = true;
      break;
    }
  }
  t = cpu_ns();
  r.get_ns = static_cast<double>(t - t0) / static_cast<double>(got);
  if (r.found == got) r.found = r.inserted;  // every key read back (the pass may stop early)
  r.resizes = map->stats().resizes;
  return r;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

// The least disturbed of the rounds: on a shared machine a run of a few
// milliseconds is often preempted, and a flood's slowdown is a factor that the
// best run shows as well as any.
double best(const std::vector<double>& v) {
  return v.empty() ? 0 : *std::min_element(v.begin(), v.end());
}

// --- keyed SipHash-1-3, the measured alternative ----------------------------
inline std::uint64_t rotl(std::uint64_t x, int b) {
  return (x << b) | (x >> (64 - b));
}

struct sip13 {
  std::uint64_t k0, k1;
  std::uint64_t operator()(const void* data, std::size_t n) const {
    const auto* p = static_cast<const unsigned char*>(data);
    std::uint64_t v0 = k0 ^ 0x736f6d6570736575ull, v1 = k1 ^ 0x646f72616e646f6dull;
    std::uint64_t v2 = k0 ^ 0x6c7967656e657261ull, v3 = k1 ^ 0x7465646279746573ull;
    auto round = [&] {
      v0 += v1;
      v1 = rotl(v1, 13);
      v1 ^= v0;
      v0 = rotl(v0, 32);
      v2 += v3;
      v3 = rotl(v3, 16);
      v3 ^= v2;
      v0 += v3;
      v3 = rotl(v3, 21);
      v3 ^= v0;
      v2 += v1;
      v1 = rotl(v1, 17);
      v1 ^= v2;
      v2 = rotl(v2, 32);
    };
    std::size_t left = n;
    for (; left >= 8; left -= 8, p += 8) {
      const std::uint64_t m = legacy::load64(p);
      v3 ^= m;
      round();
      v0 ^= m;
    }
    std::uint64_t m = static_cast<std::uint64_t>(n) << 56;
    for (std::size_t i = 0; i < left; ++i) m |= std::uint64_t{p[i]} << (8 * i);
    v3 ^= m;
    round();
    v0 ^= m;
    v2 ^= 0xff;
    round();
    round();
    round();
    return v0 ^ v1 ^ v2 ^ v3;
  }
};

template <class F>
double ns_per_hash(F&& f, std::size_t len) {
  constexpr std::size_t count = 1024;
  std::mt19937_64 rng(len);
  std::vector<unsigned char> buf(len * count + 8);
  for (auto& c : buf) c = static_cast<unsigned char>(rng());
  std::vector<double> samples;
  for (int s = 0; s < 7; ++s) {
    std::uint64_t acc = 0;
    const int reps = 64;
    const std::uint64_t t0 = now_ns();
    for (int r = 0; r < reps; ++r)
      for (std::size_t i = 0; i < count; ++i) acc += f(buf.data() + i * len, len);
    const std::uint64_t t1 = now_ns();
    asm volatile("" : : "r"(acc));
    samples.push_back(static_cast<double>(t1 - t0) / (reps * count));
  }
  return median(samples);
}

}  // namespace

int run_flood(const flood_options& o) {
  using threadmap::strategy_kind;
  std::vector<strategy_kind> kinds;
  for (strategy_kind k : threadmap::all_strategies) {
    if (o.strategies.empty() || std::find(o.strategies.begin(), o.strategies.end(),
                                          threadmap::to_string(k)) != o.strategies.end())
      kinds.push_back(k);
  }
  unsigned bits = 0;
  while ((std::size_t{1} << bits) < o.keys) ++bits;
  auto chain = swap_chain_keys(bits);
  chain.resize(o.keys);
  struct key_set {
    const char* name;
    const char* what;
    std::vector<std::string> flood, random;
  };
  std::vector<key_set> sets;
  sets.push_back({"swap-chain", "printable, one old hash", std::move(chain), {}});
  sets.push_back({"zero-block", "bytes, one old hash", zero_block_keys(o.keys), {}});
  sets.push_back({"prefix", "long shared prefix, lengths 24-279", prefix_flood_keys(o.keys), {}});
  for (auto& s : sets) s.random = random_like(s.flood);

  const machine_info m = describe_machine();
  std::printf("threadmap hash-flooding bench\n");
  std::printf("machine   %s, %u hardware threads, %s\n", m.cpu.c_str(), m.hw_threads,
              m.kernel.c_str());
  std::printf("date      %s   load average %.2f %.2f %.2f\n", m.date.c_str(), m.load1, m.load5,
              m.load15);
  std::printf(
      "workload  1 thread; per strategy and key set: a fresh map, %zu inserts then one get of "
      "each, timed in thread CPU time; flood and random keys of the same lengths alternate; best "
      "of %u rounds; a phase "
      "stops after %.0f ms\n",
      o.keys, o.rounds, o.budget_ms);
  std::printf("hash      keyed, seeded from %s\n\n", threadmap::hash_seed_source());
  std::printf("%-11s %-11s %10s %10s %7s %10s %10s %7s %9s\n", "strategy", "keys", "ins flood",
              "ins rand", "ratio", "get flood", "get rand", "ratio", "resizes");
  std::string json = "{\"kind\":\"threadmap-flood-bench\",\"machine\":" + m.json() +
                     ",\"keys\":" + std::to_string(o.keys) +
                     ",\"rounds\":" + std::to_string(o.rounds) +
                     ",\"budgetMs\":" + json_num(o.budget_ms) + ",\"results\":[";
  bool first = true, lost = false;
  for (auto kind : kinds) {
    for (auto& s : sets) {
      std::vector<double> fi, fg, ri, rg;
      std::vector<double> fres, rres;
      std::size_t f_inserted = s.flood.size();
      bool truncated = false;
      for (unsigned round = 0; round < o.rounds; ++round) {
        for (int which = 0; which < 2; ++which) {
          const bool flood = (which + round) % 2 == 0;
          const run r = one_run(kind, flood ? s.flood : s.random, o.budget_ms);
          if (r.found != r.inserted) {
            std::fprintf(stderr, "%s %s: %zu of %zu keys not read back\n",
                         threadmap::to_string(kind), s.name, r.inserted - r.found, r.inserted);
            lost = true;
          }
          (flood ? fi : ri).push_back(r.insert_ns);
          (flood ? fg : rg).push_back(r.get_ns);
          (flood ? fres : rres).push_back(static_cast<double>(r.resizes));
          if (flood) f_inserted = std::min(f_inserted, r.inserted);
          truncated |= r.truncated;
        }
      }
      const double mfi = best(fi), mri = best(ri), mfg = best(fg), mrg = best(rg);
      const double fr = median(fres), rr = median(rres);
      char res[32];
      std::snprintf(res, sizeof res, "%.0f/%.0f", fr, rr);
      std::printf("%-11s %-11s %10.0f %10.0f %6.2fx %10.0f %10.0f %6.2fx %9s%s\n",
                  threadmap::to_string(kind), s.name, mfi, mri, mfi / mri, mfg, mrg, mfg / mrg, res,
                  truncated ? "  (stopped by the budget)" : "");
      if (truncated)
        std::printf("%-23s inserted %zu of %zu flood keys within %.0f ms\n", "", f_inserted,
                    s.flood.size(), o.budget_ms);
      json += std::string(first ? "" : ",") +
              "{\"strategy\":" + json_str(threadmap::to_string(kind)) +
              ",\"keys\":" + json_str(s.name) + ",\"insertNsFlood\":" + json_num(mfi) +
              ",\"insertNsRandom\":" + json_num(mri) + ",\"getNsFlood\":" + json_num(mfg) +
              ",\"getNsRandom\":" + json_num(mrg) + ",\"resizesFlood\":" + json_num(fr) +
              ",\"resizesRandom\":" + json_num(rr) +
              ",\"floodInserted\":" + std::to_string(f_inserted) +
              ",\"truncated\":" + (truncated ? "true" : "false") + "}";
      first = false;
      std::fflush(stdout);
    }
  }
  std::printf(
      "\n(ns per key; ratio = flood / random; resizes = stats().resizes after the inserts, "
      "flood/random)\n");
  std::printf(
      "key sets: swap-chain = %zu printable keys of %zu bytes, zero-block = %zu bytes "
      "keys of %zu bytes, both one hash under the old unkeyed hash; prefix = %s\n",
      sets[0].flood.size(), sets[0].flood[0].size(), sets[1].flood.size(), sets[1].flood[0].size(),
      sets[2].what);

  // The cost of one hash, by key length.
  std::uint64_t secret[8] = {};
  threadmap::detail::os_random(secret, sizeof secret, true, "/dev/urandom", nullptr);
  const sip13 sip{secret[6], secret[7]};
  std::printf(
      "\nhash cost, ns per hash (throughput over 1,024 keys of each length, median of 7)\n");
  std::printf("%6s %10s %10s %12s\n", "bytes", "keyed", "old", "siphash-1-3");
  json += "],\"hashCost\":[";
  first = true;
  for (std::size_t len : {8u, 16u, 32u, 64u, 272u}) {
    const double keyed =
        ns_per_hash([](const void* p, std::size_t n) { return threadmap::hash_bytes(p, n); }, len);
    const double old =
        ns_per_hash([](const void* p, std::size_t n) { return legacy::hash(p, n); }, len);
    const double s = ns_per_hash(sip, len);
    std::printf("%6zu %10.2f %10.2f %12.2f\n", len, keyed, old, s);
    json += std::string(first ? "" : ",") + "{\"bytes\":" + std::to_string(len) +
            ",\"keyed\":" + json_num(keyed) + ",\"old\":" + json_num(old) +
            ",\"siphash13\":" + json_num(s) + "}";
    first = false;
  }
  json += "]}\n";
  if (!o.json.empty()) {
    std::ofstream out(o.json);
    out << json;
    if (!out) {
      std::fprintf(stderr, "cannot write %s\n", o.json.c_str());
      return 1;
    }
    std::printf("wrote %s\n", o.json.c_str());
  }
  return lost ? 1 : 0;
}

}  // namespace tmbench
