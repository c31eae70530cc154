// Growth at scale: 2 threads concurrently insert 20 million distinct keys
// (THREADMAP_GROWTH_SCALE scales the count; sanitizer runs lower it) into
// each strategy built for large maps; afterwards every key must be found and
// size() must be exact. Prints bytes per entry (the map's own accounting and
// the process's resident-memory growth) — a report, not an assertion.
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "check.hpp"
#include "threadmap/epoch.hpp"
#include "threadmap/factory.hpp"
#include "threadmap/map.hpp"

using namespace threadmap;
using tmtest::scaled;

namespace {

long rss_bytes() {
  std::ifstream f("/proc/self/statm");
  long pages = 0, resident = 0;
  f >> pages >> resident;
  return resident * 4096;
}

// 16-byte keys: "k" + 15 decimal digits. Values: the 8-byte index.
void key_for(long i, char (&buf)[17]) {
  buf[0] = 'k';
  for (int d = 15; d >= 1; --d, i /= 10) buf[d] = char('0' + i % 10);
  buf[16] = 0;
}

void grow(strategy_kind kind, const char* name) {
  const long total = scaled(20'000'000, "THREADMAP_GROWTH_SCALE");
  options o;
  o.strategy = kind;
  const long rss_before = rss_bytes();
  auto m = make_map(o);
  std::vector<std::thread> threads;
  for (int t = 0; t < 2; ++t) {
    threads.emplace_back([&, t] {
      char k[17];
      for (long i = t; i < total; i += 2) {
        key_for(i, k);
        m->put(bytes(k, 16), bytes(reinterpret_cast<const char*>(&i), 8), nullptr);
      }
    });
  }
  for (auto& th : threads) th.join();
  CHECK_EQ(m->size(), std::size_t(total));
  long missing = 0;
  std::string out;
  char k[17];
  for (long i = 0; i < total; ++i) {
    key_for(i, k);
    long v = -1;
    if (!m->get(bytes(k, 16), &out) || out.size() != 8) {
      ++missing;
      continue;
    }
    std::memcpy(&v, out.data(), 8);
    if (v != i) ++missing;
  }
  CHECK_EQ(missing, 0);
  epoch::synchronize();  // retired arrays of past resizes do not count
  const map_stats st = m->stats();
  std::printf(
      "growth %s: %ld keys (16-byte keys, 8-byte values), 2 threads; "
      "%.1f bytes/entry accounted, %.1f bytes/entry RSS growth, %llu resizes\n",
      name, total, double(st.bytes) / total, double(rss_bytes() - rss_before) / total,
      static_cast<unsigned long long>(st.resizes));
}

}  // namespace

TEST_CASE("growth: striped, 2 threads, 20M distinct keys") {
  grow(strategy_kind::striped, "striped");
}

TEST_CASE("growth: lockfree, 2 threads, 20M distinct keys") {
  grow(strategy_kind::lockfree, "lockfree");
}

TEST_MAIN
