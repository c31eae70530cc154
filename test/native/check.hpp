// A minimal test harness for the native suite: named cases, CHECK macros that
// report file:line and keep going, a typed-suite helper that runs one case
// body over every strategy, and a summary line ctest and CI can read.
#pragma once

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "threadmap/map.hpp"

namespace tmtest {

struct test_case {
  std::string name;
  std::function<void()> body;
};

inline std::vector<test_case>& registry() {
  static std::vector<test_case> r;
  return r;
}
inline int& failures() {
  static int f = 0;
  return f;
}
inline std::string& current() {
  static std::string c;
  return c;
}

struct registrar {
  registrar(const char* name, std::function<void()> body) {
    registry().push_back({name, std::move(body)});
  }
};

inline void fail(const char* file, int line, const std::string& what) {
  ++failures();
  std::fprintf(stderr, "FAIL %s (%s:%d): %s\n", current().c_str(), file, line, what.c_str());
}

/// The strategies every typed case runs over; "striped-1" is striped with one
/// stripe, so stripe selection and the seqlock path are both exercised.
struct strategy_config {
  const char* name;
  threadmap::options opts;
};
inline std::vector<strategy_config> strategies() {
  std::vector<strategy_config> v;
  for (threadmap::strategy_kind k : threadmap::all_strategies) {
    threadmap::options o;
    o.strategy = k;
    v.push_back({threadmap::to_string(k), o});
    if (k == threadmap::strategy_kind::striped) {
      o.stripes = 1;
      v.push_back({"striped-1", o});
    }
  }
  return v;
}

/// The strategies whose units are flat tables (threadmap/detail/flat_table.hpp).
inline bool flat_table_strategy(threadmap::strategy_kind k) {
  return k == threadmap::strategy_kind::mutex || k == threadmap::strategy_kind::rwlock ||
         k == threadmap::strategy_kind::striped;
}

/// `n` scaled by the environment variable `var` (a factor; default 1): the
/// sanitizer runs lower the stress and growth sizes this way
/// (scripts/test-native.sh). Never less than 1.
inline long scaled(long n, const char* var = "THREADMAP_STRESS_SCALE") {
  const char* s = std::getenv(var);
  const long v = static_cast<long>(n * (s ? std::atof(s) : 1.0));
  return v < 1 ? 1 : v;
}

/// Runs body(thread_index) on n threads released together.
template <class F>
void run_threads(int n, F&& body) {
  std::atomic<int> ready{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < n; ++t) {
    threads.emplace_back([&, t] {
      ready.fetch_add(1);
      while (ready.load() < n) std::this_thread::yield();
      body(t);
    });
  }
  for (auto& th : threads) th.join();
}

/// An 8-byte little-endian int64 value (0 when the size is not 8).
inline std::int64_t as_i64(const std::string& s) {
  std::int64_t v = 0;
  if (s.size() == 8) std::memcpy(&v, s.data(), 8);
  return v;
}

inline int run_all(int argc, char** argv) {
  const char* filter = argc > 1 ? argv[1] : nullptr;
  int ran = 0, failed_cases = 0;
  for (const test_case& t : registry()) {
    if (filter && t.name.find(filter) == std::string::npos) continue;
    current() = t.name;
    const int before = failures();
    try {
      t.body();
    } catch (const std::exception& e) {
      fail(__FILE__, __LINE__, std::string("uncaught exception: ") + e.what());
    }
    ++ran;
    const bool ok = failures() == before;
    if (!ok) ++failed_cases;
    std::printf("%s %s\n", ok ? "ok  " : "FAIL", t.name.c_str());
    std::fflush(stdout);
  }
  std::printf("%d passed, %d failed\n", ran - failed_cases, failed_cases);
  if (ran == 0) {
    std::fprintf(stderr, "no test case matched\n");
    return 1;
  }
  return failed_cases ? 1 : 0;
}

}  // namespace tmtest

#define TM_CONCAT2(a, b) a##b
#define TM_CONCAT(a, b) TM_CONCAT2(a, b)

/// A plain case.
#define TEST_CASE(title)                                                                          \
  static void TM_CONCAT(tm_case_, __LINE__)();                                                    \
  static ::tmtest::registrar TM_CONCAT(tm_reg_, __LINE__)(title, &TM_CONCAT(tm_case_, __LINE__)); \
  static void TM_CONCAT(tm_case_, __LINE__)()

/// A case run once per strategy; the body sees `cfg` (a strategy_config).
#define STRATEGY_CASE(title)                                                       \
  static void TM_CONCAT(tm_case_, __LINE__)(const ::tmtest::strategy_config& cfg); \
  static ::tmtest::registrar TM_CONCAT(tm_reg_, __LINE__)(title, [] {              \
    for (const auto& c : ::tmtest::strategies()) {                                 \
      const std::string saved = ::tmtest::current();                               \
      ::tmtest::current() = saved + " [" + c.name + "]";                           \
      TM_CONCAT(tm_case_, __LINE__)(c);                                            \
      ::tmtest::current() = saved;                                                 \
    }                                                                              \
  });                                                                              \
  static void TM_CONCAT(tm_case_, __LINE__)(const ::tmtest::strategy_config& cfg)

#define CHECK(cond)                                                      \
  do {                                                                   \
    if (!(cond)) ::tmtest::fail(__FILE__, __LINE__, "CHECK(" #cond ")"); \
  } while (0)

#define CHECK_EQ(a, b)                                                                   \
  do {                                                                                   \
    const auto& tm_a = (a);                                                              \
    const auto& tm_b = (b);                                                              \
    if (!(tm_a == tm_b)) ::tmtest::fail(__FILE__, __LINE__, "CHECK_EQ(" #a ", " #b ")"); \
  } while (0)

#define REQUIRE(cond)                                           \
  do {                                                          \
    if (!(cond)) {                                              \
      ::tmtest::fail(__FILE__, __LINE__, "REQUIRE(" #cond ")"); \
      return;                                                   \
    }                                                           \
  } while (0)

#define TEST_MAIN                         \
  int main(int argc, char** argv) {       \
    return ::tmtest::run_all(argc, argv); \
  }
