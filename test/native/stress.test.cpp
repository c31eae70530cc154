// Multi-threaded stress over every strategy. Built and run as is, under
// ThreadSanitizer and under AddressSanitizer + UBSan (scripts/test-native.sh);
// THREADMAP_STRESS_SCALE scales the operation counts (sanitizer runs lower it).
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "check.hpp"
#include "threadmap/factory.hpp"
#include "threadmap/map.hpp"

using namespace threadmap;
using tmtest::as_i64;
using tmtest::run_threads;
using tmtest::scaled;

namespace {

// A value that names its key and is self-checking: key, '=', then `len`
// copies of one letter. A torn read (bytes of two different writes) fails
// `well_formed`. Lengths cross the inline/out-of-line boundary.
std::string value_for(const std::string& key, unsigned seed) {
  const std::size_t len = seed % 3 == 0 ? 200 + seed % 300 : seed % 12;
  return key + "=" + std::string(len, char('a' + seed % 26));
}
bool well_formed(const std::string& key, const std::string& v) {
  if (v.size() < key.size() + 1 || v.compare(0, key.size(), key) != 0 || v[key.size()] != '=')
    return false;
  for (std::size_t i = key.size() + 2; i < v.size(); ++i)
    if (v[i] != v[key.size() + 1]) return false;
  return true;
}

// The writers of the torn-read tests: overwrite (inline <-> out of line),
// erase and re-insert self-checking values on `keys` keys.
void write_churn(concurrent_map& m, std::mt19937& rng, int keys, long ops) {
  for (long i = 0; i < ops; ++i) {
    const std::string k = "key" + std::to_string(rng() % keys);
    const unsigned r = rng();
    if (r % 8 == 0) {
      m.erase(k, nullptr);
    } else {
      m.put(k, value_for(k, r), nullptr);
    }
  }
}

}  // namespace

STRATEGY_CASE("stress: concurrent add gives exact totals") {
  auto m = make_map(cfg.opts);
  const int threads = 4, keys = 16;
  const long per_thread = scaled(100000);
  run_threads(threads, [&](int t) {
    counter d{}, r{};
    d.i = 1;
    for (long i = 0; i < per_thread; ++i) {
      m->add("c" + std::to_string((i + t) % keys), counter_kind::i64, d, "", &r);
    }
  });
  std::int64_t total = 0;
  std::string out;
  for (int k = 0; k < keys; ++k) {
    REQUIRE(m->get("c" + std::to_string(k), &out));
    total += as_i64(out);
  }
  CHECK_EQ(total, std::int64_t(threads) * per_thread);
}

STRATEGY_CASE("stress: readers never see a torn or foreign value") {
  auto m = make_map(cfg.opts);
  const int keys = 64;
  const long ops = scaled(150000);
  std::atomic<long> bad{0}, hits{0};
  std::atomic<int> writers_left{2};
  run_threads(4, [&](int t) {
    std::mt19937 rng(t * 7919 + 1);
    std::string out;
    if (t < 2) {
      write_churn(*m, rng, keys, ops);
      writers_left.fetch_sub(1);
      return;
    }
    // Readers run for as long as the writers do (on a loaded machine a fixed
    // count could finish before a writer is first scheduled).
    for (long i = 0; i < ops || writers_left.load(std::memory_order_relaxed) > 0; ++i) {
      const std::string k = "key" + std::to_string(rng() % keys);
      if (m->get(k, &out)) {
        hits.fetch_add(1, std::memory_order_relaxed);
        if (!well_formed(k, out)) bad.fetch_add(1);
      }
    }
  });
  CHECK_EQ(bad.load(), 0);
  CHECK(hits.load() > 0);
}

STRATEGY_CASE("stress: concurrent growth from empty keeps every key and an exact size") {
  auto m = make_map(cfg.opts);
  const int threads = 2;
  const long per = scaled(400000);
  run_threads(threads, [&](int t) {
    for (long i = 0; i < per; ++i) {
      const long k = i * threads + t;
      m->put("g" + std::to_string(k), std::string(reinterpret_cast<const char*>(&k), 8), nullptr);
    }
  });
  CHECK_EQ(m->size(), std::size_t(per * threads));
  long missing = 0;
  std::string out;
  for (long k = 0; k < per * threads; ++k) {
    if (!m->get("g" + std::to_string(k), &out) || as_i64(out) != k) ++missing;
  }
  CHECK_EQ(missing, 0);
}

STRATEGY_CASE("stress: ownership passed by compare_and_set is never held twice") {
  auto m = make_map(cfg.opts);
  m->put("lock", "free", nullptr);
  std::atomic<int> holders{0};
  std::atomic<long> violations{0}, acquired{0};
  const long attempts = scaled(40000);
  run_threads(4, [&](int t) {
    const std::string me = "owner" + std::to_string(t);
    const bytes free_v = "free", me_v = me;
    std::string cur;
    for (long i = 0; i < attempts; ++i) {
      if (m->compare_and_set("lock", &free_v, &me_v, &cur) != status::ok) continue;
      if (holders.fetch_add(1) != 0) violations.fetch_add(1);
      acquired.fetch_add(1);
      std::string who;
      if (!m->get("lock", &who) || who != me) violations.fetch_add(1);
      holders.fetch_sub(1);
      if (m->compare_and_set("lock", &me_v, &free_v, &cur) != status::ok) violations.fetch_add(1);
    }
  });
  CHECK_EQ(violations.load(), 0);
  CHECK(acquired.load() > 0);
}

STRATEGY_CASE("stress: a scan during writes sees each stable key exactly once") {
  auto m = make_map(cfg.opts);
  const int stable = 3000;
  for (int i = 0; i < stable; ++i) m->put("s" + std::to_string(i), "v", nullptr);
  std::atomic<bool> stop{false};
  std::atomic<long> bad{0};
  std::thread writer([&] {
    std::mt19937 rng(5);
    long i = 0;
    while (!stop.load(std::memory_order_relaxed)) {
      // Churn keys grow and shrink the stripes underneath the scans.
      const std::string k = "c" + std::to_string(rng() % 20000);
      if (++i % 3 == 0)
        m->erase(k, nullptr);
      else
        m->put(k, std::string(rng() % 40, 'w'), nullptr);
    }
  });
  const long scans = scaled(40);
  for (long s = 0; s < scans; ++s) {
    std::map<std::string, int> seen;
    for (std::size_t u = 0; u < m->scan_units(); ++u) {
      std::string buf;
      m->scan(u, buf);
      scan_reader r(buf);
      scan_record rec;
      while (r.next(rec)) ++seen[std::string(rec.key)];
    }
    for (const auto& [k, n] : seen)
      if (n != 1) bad.fetch_add(1);
    for (int i = 0; i < stable; ++i)
      if (!seen.count("s" + std::to_string(i))) bad.fetch_add(1);
  }
  stop = true;
  writer.join();
  CHECK_EQ(bad.load(), 0);
}

namespace {
void mixed_ops(const tmtest::strategy_config& cfg, int threads, unsigned keys) {
  auto m = make_map(cfg.opts);
  const long ops = scaled(240000) / threads;
  std::atomic<long> bad{0};
  run_threads(threads, [&](int t) {
    std::mt19937 rng(t + 99);
    std::string out;
    counter d{}, r{};
    d.i = 1;
    for (long i = 0; i < ops; ++i) {
      const std::string k = "k" + std::to_string(rng() % keys);
      const std::string v = value_for(k, rng());
      const bytes vb = v;
      switch (rng() % 10) {
        case 0:
          m->put(k, v, &out);
          break;
        case 1:
          m->put_if_absent(k, v, &out);
          break;
        case 2:
          m->erase(k, &out);
          break;
        case 3: {
          std::string cur;
          if (m->get(k, &cur)) {
            const bytes cb = cur;
            m->compare_and_set(k, &cb, &vb, &out);
          } else {
            m->compare_and_set(k, nullptr, &vb, &out);
          }
          break;
        }
        case 4:
          m->add("n" + std::to_string(rng() % 4), counter_kind::i64, d, "", &r);
          break;
        case 5:
          if (rng() % 50 == 0) m->clear();
          break;
        case 6:
          m->size();
          m->stats();
          break;
        default:
          if (m->get(k, &out) && !well_formed(k, out)) bad.fetch_add(1);
      }
    }
  });
  CHECK_EQ(bad.load(), 0);
  // Quiescent now: size and scan agree.
  std::size_t scanned = 0;
  for (std::size_t u = 0; u < m->scan_units(); ++u) {
    std::string buf;
    scanned += m->scan(u, buf);
  }
  CHECK_EQ(scanned, m->size());
}
}  // namespace

// Thread counts and key spaces: 2 and 8 threads on 32 keys (every key
// contended), 4 threads on 100,000 keys (growth and clears of a large table).
STRATEGY_CASE(
    "stress: every operation mixed, with clears, 2-8 threads, small and large key spaces") {
  struct shape {
    int threads;
    unsigned keys;
  };
  for (const shape sh : {shape{2, 32}, shape{8, 32}, shape{4, 100000}}) {
    mixed_ops(cfg, sh.threads, sh.keys);
  }
}

TEST_MAIN

STRATEGY_CASE("stress: get_many during writes and growth answers each key with its own value") {
  // Batches read while writers overwrite (inline <-> out of line), erase and
  // insert new keys (so tables grow, lockfree migrates, readmostly promotes):
  // every answer must be a whole value written for that very key.
  auto m = make_map(cfg.opts);
  const int keys = 4000;
  const long ops = scaled(60000);
  std::atomic<long> bad{0}, hits{0};
  std::atomic<int> writers_left{2};
  run_threads(4, [&](int t) {
    std::mt19937 rng(t * 104729 + 3);
    if (t < 2) {
      write_churn(*m, rng, keys, ops);
      writers_left.fetch_sub(1);
      return;
    }
    std::vector<std::string> names(48);
    std::vector<bytes> batch(names.size());
    std::vector<std::string> out(names.size());
    std::unique_ptr<bool[]> found(new bool[names.size()]);
    for (long i = 0; i < ops / 16 || writers_left.load(std::memory_order_relaxed) > 0; ++i) {
      for (std::size_t j = 0; j < names.size(); ++j) {
        // A few repeats, so one batch asks for the same key twice.
        names[j] = j % 7 == 6 ? names[j - 1] : "key" + std::to_string(rng() % keys);
        batch[j] = names[j];
      }
      m->get_many(batch.data(), batch.size(), out.data(), found.get());
      for (std::size_t j = 0; j < names.size(); ++j) {
        if (!found[j]) continue;
        hits.fetch_add(1, std::memory_order_relaxed);
        if (!well_formed(names[j], out[j])) bad.fetch_add(1);
      }
    }
  });
  CHECK_EQ(bad.load(), 0);
  CHECK(hits.load() > 0);
}
