// The `ordered` strategy's own promises (threadmap/detail/ordered.hpp): key
// order for every key order (compare_keys against the values the bytes stand
// for), scans and ranges in order against a sorted model, ranges and scans
// under concurrent inserts and erasures (each key present throughout seen
// exactly once, in order), recorded histories on neighbouring keys
// checked by the linearizability checker, and the revision of an insert
// that stalled behind a newer insert and erase of its key. The typed suites (map, stress,
// faults, lincheck, ...) cover it beside the other strategies.
#include <algorithm>
#include <atomic>
#include <barrier>
#include <cmath>
#include <cstring>
#include <limits>
#include <map>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "../support/lincheck.hpp"
#include "check.hpp"
#include "threadmap/detail/ordered.hpp"
#include "threadmap/factory.hpp"
#include "threadmap/wire.hpp"

using namespace threadmap;
using tmtest::scaled;

namespace {

std::unique_ptr<concurrent_map> make_ordered(key_order order = key_order::bytes) {
  options o;
  o.strategy = strategy_kind::ordered;
  o.order = order;
  return make_map(o);
}

std::string number_key(double d) {
  if (d == 0) d = 0;  // the codec's key form: -0 is 0
  if (std::isnan(d)) d = std::numeric_limits<double>::quiet_NaN();
  std::string s(8, '\0');
  std::memcpy(s.data(), &d, 8);
  return s;
}

// The codec's bigint key for sign * (hi * 2^64 + lo), hi > 0 or lo >= 2^63
// making the long form.
std::string bigint_key(bool negative, std::uint64_t hi, std::uint64_t lo) {
  std::string s;
  const bool fits =
      hi == 0 && (lo < (std::uint64_t{1} << 63) || (negative && lo == (std::uint64_t{1} << 63)));
  if (fits) {
    wire::append_le64(s, negative ? std::uint64_t(0) - lo : lo);
  } else {
    const std::uint64_t words[2] = {lo, hi};
    wire::append_bigint_words(s, negative, words, 2);
  }
  return s;
}

// Everything a scan or range returned: keys and values, in order.
std::vector<std::pair<std::string, std::string>> records(const std::string& buf) {
  std::vector<std::pair<std::string, std::string>> v;
  scan_reader r(buf);
  scan_record rec;
  while (r.next(rec)) v.emplace_back(rec.key, rec.value);
  return v;
}

std::vector<std::pair<std::string, std::string>> scan_all(const concurrent_map& m) {
  std::string buf;
  for (std::size_t u = 0; u < m.scan_units(); ++u) m.scan(u, buf);
  return records(buf);
}

struct key_less {
  key_order order;
  bool operator()(const std::string& a, const std::string& b) const {
    return compare_keys(order, a, b) < 0;
  }
};

}  // namespace

TEST_CASE("compare_keys: numbers sort numerically, NaN last") {
  std::mt19937_64 rng(7);
  std::vector<double> v = {0.0,
                           -0.0,
                           1.0,
                           -1.0,
                           0.5,
                           -0.5,
                           std::numeric_limits<double>::infinity(),
                           -std::numeric_limits<double>::infinity(),
                           std::numeric_limits<double>::denorm_min(),
                           -std::numeric_limits<double>::denorm_min(),
                           std::numeric_limits<double>::max(),
                           std::numeric_limits<double>::lowest(),
                           std::nan("")};
  for (int i = 0; i < 2000; ++i) {
    double d;
    const std::uint64_t bits = rng();
    std::memcpy(&d, &bits, 8);
    if (!std::isnan(d)) v.push_back(d);
  }
  int bad = 0;
  for (double a : v)
    for (double b : {v[0], v[3], v[6], v[12], v[20], v[100]}) {
      const int want = std::isnan(a)   ? (std::isnan(b) ? 0 : 1)
                       : std::isnan(b) ? -1
                                       : (a > b) - (a < b);
      const int got = compare_keys(key_order::number, number_key(a), number_key(b));
      if ((got > 0) - (got < 0) != want) ++bad;
    }
  CHECK_EQ(bad, 0);
  // Other byte lengths sort after every number, and equal only to themselves.
  CHECK(compare_keys(key_order::number, number_key(1e300), "abc") < 0);
  CHECK(compare_keys(key_order::number, "abc", "abd") < 0);
}

TEST_CASE("compare_keys: bigints sort numerically across both byte forms") {
  struct big {
    bool negative;
    std::uint64_t hi, lo;
    long double approx() const {
      const long double m = static_cast<long double>(hi) * 18446744073709551616.0L + lo;
      return negative ? -m : m;
    }
  };
  std::vector<big> v = {{false, 0, 0},
                        {false, 0, 1},
                        {true, 0, 1},
                        {false, 0, (std::uint64_t{1} << 63) - 1},
                        {false, 0, std::uint64_t{1} << 63},
                        {true, 0, std::uint64_t{1} << 63},
                        {true, 0, (std::uint64_t{1} << 63) + 1},
                        {false, 1, 0},
                        {true, 1, 0},
                        {false, 2, 5},
                        {true, 2, 5},
                        {false, 1, ~std::uint64_t{0}}};
  std::mt19937_64 rng(11);
  for (int i = 0; i < 300; ++i)
    v.push_back({rng() % 2 == 0, rng() % 3 == 0 ? rng() % 4 : 0, rng() >> (rng() % 64)});
  int bad = 0;
  for (const big& a : v)
    for (const big& b : v) {
      if (a.negative && a.hi == 0 && a.lo == 0) continue;  // -0n is 0n
      if (b.negative && b.hi == 0 && b.lo == 0) continue;
      const long double x = a.approx(), y = b.approx();
      const bool same = (a.hi == b.hi && a.lo == b.lo && (a.negative == b.negative));
      const int want = same ? 0 : x < y ? -1 : x > y ? 1 : 2;
      const int got = compare_keys(key_order::bigint, bigint_key(a.negative, a.hi, a.lo),
                                   bigint_key(b.negative, b.hi, b.lo));
      const int sign = (got > 0) - (got < 0);
      if (want != 2 && sign != want) ++bad;
      if (want == 2 && sign == 0) ++bad;  // too close for long double: only unequal
    }
  CHECK_EQ(bad, 0);
}

TEST_CASE("compare_keys: any sorts by type tag, then by the tagged type's order") {
  const auto tagged = [](std::uint8_t tag, const std::string& payload) {
    return std::string(1, static_cast<char>(tag)) + payload;
  };
  const std::vector<std::string> want = {
      tagged(4, number_key(-5)),
      tagged(4, number_key(2)),
      tagged(4, number_key(10)),
      tagged(5, ""),
      tagged(5, "a"),
      tagged(5, "b"),
      tagged(6, bigint_key(true, 1, 0)),
      tagged(6, bigint_key(false, 0, 3)),
      tagged(6, bigint_key(false, 1, 0)),
  };
  for (std::size_t i = 0; i + 1 < want.size(); ++i)
    CHECK(compare_keys(key_order::any, want[i], want[i + 1]) < 0);
  // -1 after 1 bytewise (little-endian, the sign in the last byte), before it here
  CHECK(compare_keys(key_order::bytes, number_key(-1), number_key(1)) > 0);
  CHECK(compare_keys(key_order::any, tagged(4, number_key(-1)), tagged(4, number_key(1))) < 0);
}

TEST_CASE("ordered: heights are geometric (a quarter at each next level)") {
  std::vector<int> per(ordered_map::max_height + 1, 0);
  const int n = 100000;
  for (int i = 0; i < n; ++i) {
    const unsigned h = ordered_map::height_of("k" + std::to_string(i));
    CHECK(h >= 1 && h <= ordered_map::max_height);
    ++per[h];
  }
  // Level 1 holds 3/4 of the keys, level 2 3/16: loose bounds, far from chance.
  CHECK(per[1] > n * 70 / 100 && per[1] < n * 80 / 100);
  CHECK(per[2] > n * 16 / 100 && per[2] < n * 21 / 100);
}

TEST_CASE("ordered: scan and range agree with a sorted model under every key order") {
  for (key_order order : {key_order::bytes, key_order::number, key_order::bigint}) {
    auto m = make_ordered(order);
    std::map<std::string, std::string, key_less> model(key_less{order});
    std::mt19937_64 rng(static_cast<unsigned>(order) + 3);
    const auto random_key = [&] {
      switch (order) {
        case key_order::number:
          return number_key(static_cast<double>(static_cast<int>(rng() % 2001) - 1000) / 4);
        case key_order::bigint:
          return bigint_key(rng() % 2 == 0, rng() % 3 == 0 ? rng() % 3 : 0, rng() % 5000);
        default:
          return std::string(1 + rng() % 3, static_cast<char>('a' + rng() % 4));
      }
    };
    int bad = 0;
    for (int step = 0; step < 20000; ++step) {
      const std::string k = random_key();
      if (rng() % 3 == 0) {
        m->erase(k, nullptr);
        model.erase(k);
      } else {
        const std::string v = std::to_string(step);
        m->put(k, v, nullptr);
        model[k] = v;
      }
      if (step % 500 != 0) continue;
      // the whole scan, in order
      const auto all = scan_all(*m);
      if (all != std::vector<std::pair<std::string, std::string>>(model.begin(), model.end()))
        ++bad;
      // random ranges
      for (int q = 0; q < 40; ++q) {
        const std::string lo_key = random_key(), hi_key = random_key();
        const bytes lo = lo_key, hi = hi_key;
        key_range r;
        const bool has_lo = rng() % 4 != 0, has_hi = rng() % 4 != 0;
        r.lower = has_lo ? &lo : nullptr;
        r.upper = has_hi ? &hi : nullptr;
        r.lower_inclusive = rng() % 2;
        r.upper_inclusive = rng() % 2;
        r.reverse = rng() % 2;
        const std::size_t limit = rng() % 3 == 0 ? rng() % 5 : static_cast<std::size_t>(-1);
        std::vector<std::pair<std::string, std::string>> want;
        for (const auto& e : model) {
          const int cl = has_lo ? compare_keys(order, e.first, lo) : 1;
          const int ch = has_hi ? compare_keys(order, e.first, hi) : -1;
          if ((cl > 0 || (cl == 0 && r.lower_inclusive)) &&
              (ch < 0 || (ch == 0 && r.upper_inclusive)))
            want.push_back(e);
        }
        if (r.reverse) std::reverse(want.begin(), want.end());
        if (want.size() > limit) want.resize(limit);
        std::string buf;
        const std::size_t n = m->range(r, limit, buf);
        if (n != want.size() || records(buf) != want) ++bad;
      }
    }
    CHECK_EQ(bad, 0);
    CHECK_EQ(m->size(), model.size());
  }
}

TEST_CASE("ordered: hash strategies answer no range") {
  options o;
  o.strategy = strategy_kind::striped;
  auto m = make_map(o);
  m->put("a", "1", nullptr);
  std::string buf;
  CHECK(!m->ordered());
  CHECK_EQ(m->range(key_range{}, 10, buf), std::size_t(0));
  CHECK(buf.empty());
  CHECK(make_ordered()->ordered());
}

// Writers insert and erase churn keys between the stable ones while readers
// scan forwards and backwards, whole and in pages resumed after the last key
// (as the addon's iterator does): every scan is strictly in order and holds
// every stable key exactly once.
TEST_CASE("ordered: ranges during concurrent inserts and erasures see stable keys once, in order") {
  auto m = make_ordered();
  const int stable = 2000;
  const auto stable_key = [](int i) {
    char b[16];
    std::snprintf(b, sizeof b, "k%05d", i * 2);
    return std::string(b);
  };
  for (int i = 0; i < stable; ++i) m->put(stable_key(i), "s", nullptr);
  std::atomic<bool> stop{false};
  std::atomic<long> bad{0}, scans{0};
  std::vector<std::thread> writers;
  for (int w = 0; w < 2; ++w) {
    writers.emplace_back([&, w] {
      std::mt19937 rng(w + 17);
      while (!stop.load(std::memory_order_relaxed)) {
        char b[16];
        std::snprintf(b, sizeof b, "k%05d", static_cast<int>(rng() % stable) * 2 + 1);
        if (rng() % 2)
          m->erase(b, nullptr);
        else
          m->put(b, std::string(rng() % 30, 'c'), nullptr);
      }
    });
  }
  const long rounds = scaled(60);
  for (long s = 0; s < rounds; ++s) {
    const bool reverse = s % 2 == 1;
    const std::size_t page = s % 3 == 0 ? static_cast<std::size_t>(-1) : 1 + s % 97;
    std::vector<std::string> keys;
    bytes resume;
    bool more = true;
    while (more) {
      key_range r;
      r.reverse = reverse;
      if (!keys.empty()) {
        resume = keys.back();
        (reverse ? r.upper : r.lower) = &resume;
        (reverse ? r.upper_inclusive : r.lower_inclusive) = false;
      }
      std::string buf;
      const std::size_t n = m->range(r, page, buf);
      for (const auto& [k, v] : records(buf)) keys.push_back(k);
      more = n == page;
    }
    for (std::size_t i = 1; i < keys.size(); ++i)
      if (reverse ? !(keys[i] < keys[i - 1]) : !(keys[i - 1] < keys[i])) bad.fetch_add(1);
    std::set<std::string> seen(keys.begin(), keys.end());
    for (int i = 0; i < stable; ++i)
      if (!seen.count(stable_key(i))) bad.fetch_add(1);
    scans.fetch_add(1);
  }
  stop = true;
  for (auto& w : writers) w.join();
  CHECK_EQ(bad.load(), 0);
  CHECK_EQ(scans.load(), rounds);
  // Erasures gave their bytes back: only the stable keys and what churn left.
  const auto all = scan_all(*m);
  CHECK_EQ(all.size(), m->size());
}

// Neighbouring keys: inserts and erasures of one key link and unlink next to
// the others, on shared predecessors. Linearizability is local, so the
// checker judges each key's history on its own.
TEST_CASE("ordered: histories on neighbouring keys are linearizable") {
  using namespace threadmap::lincheck;
  const int threads = 3, ops = 60, histories = static_cast<int>(scaled(150));
  std::atomic<std::uint64_t> clock{0};
  std::vector<std::vector<operation>> logs(threads);
  int failures = 0;
  for (int h = 0; h < histories; ++h) {
    auto m = make_ordered();
    std::barrier start(threads);
    std::vector<std::thread> ts;
    for (int t = 0; t < threads; ++t) {
      ts.emplace_back([&, t] {
        std::mt19937 rng(h * 977 + t);
        const std::string values[] = {"a", "b", encode_i64(1), std::string(30, 'L')};
        logs[t].clear();
        start.arrive_and_wait();
        for (int i = 0; i < ops; ++i) {
          operation op;
          op.kind = static_cast<op_kind>(rng() % 6);
          op.key = std::string(1, static_cast<char>('a' + rng() % 4));
          op.value = values[rng() % 4];
          if (op.kind == op_kind::compare_and_set) {
            if (rng() % 3 == 0)
              op.expected.reset();
            else
              op.expected = values[rng() % 4];
            if (rng() % 4 == 0) op.value.reset();
          }
          op.delta = 1;
          op.invoked = clock.fetch_add(1);
          execute(*m, op);
          op.responded = clock.fetch_add(1);
          logs[t].push_back(std::move(op));
        }
      });
    }
    for (auto& t : ts) t.join();
    std::vector<operation> all;
    for (auto& log : logs) all.insert(all.end(), log.begin(), log.end());
    if (!check(all).linearizable) ++failures;
  }
  CHECK_EQ(failures, 0);
}

// Revisions per key (detail/ordered.hpp, REVISIONS): an insert that stalls
// before linking, while another thread inserts and erases the same key, must
// still get a revision above theirs when it links, since it takes effect
// after them. The stalled thread is parked at the test seam just before
// link() searches for its place.
namespace {
std::atomic<bool> insert_parked{false}, insert_release{false};
thread_local bool insert_victim = false;
void park_insert(int) {
  if (!insert_victim || insert_parked.load()) return;
  insert_parked.store(true);
  while (!insert_release.load()) std::this_thread::yield();
}
}  // namespace

TEST_CASE(
    "ordered: an insert that stalls behind a newer insert and erase of its key links above them") {
  auto m = make_ordered();
  ordered_test::set_pause_hook(&park_insert);
  std::thread stalled([&] {
    insert_victim = true;
    CHECK_EQ(m->put_if_absent("k", "stalled", nullptr), status::inserted);
  });
  while (!insert_parked.load()) std::this_thread::yield();
  CHECK_EQ(m->put_if_absent("k", "newer", nullptr), status::inserted);
  const std::uint64_t newer = m->revision_of("k");
  CHECK_EQ(m->erase("k", nullptr), status::ok);
  const std::uint64_t erased = m->revision();
  CHECK(erased > newer);
  insert_release.store(true);
  stalled.join();
  ordered_test::set_pause_hook(nullptr);
  std::string out;
  std::uint64_t r = 0;
  CHECK(m->get("k", &out, &r));
  CHECK_EQ(out, "stalled");
  CHECK(r > erased);
  CHECK_EQ(r, m->revision());
}

TEST_CASE("ordered: clear during writes and scans loses nothing after it") {
  auto m = make_ordered();
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    std::mt19937 rng(3);
    while (!stop.load(std::memory_order_relaxed)) {
      const std::string k = "w" + std::to_string(rng() % 500);
      if (rng() % 3 == 0)
        m->erase(k, nullptr);
      else
        m->put(k, "v", nullptr);
    }
  });
  for (int i = 0; i < scaled(200); ++i) {
    if (i % 10 == 0) m->clear();
    const auto all = scan_all(*m);
    for (std::size_t j = 1; j < all.size(); ++j) CHECK(all[j - 1].first < all[j].first);
  }
  stop = true;
  writer.join();
  m->clear();
  CHECK_EQ(m->size(), std::size_t(0));
  CHECK(scan_all(*m).empty());
  CHECK_EQ(m->put("after", "1", nullptr), status::inserted);
  CHECK(m->stats().bytes < 4096 * 4);
}

TEST_MAIN
