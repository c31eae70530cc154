// Linearizability: the checker on hand-made histories, then thousands of
// recorded multi-threaded histories per strategy, then a deliberately broken
// map that the checker must catch.
#include <atomic>
#include <barrier>
#include <cstdlib>
#include <random>
#include <thread>
#include <vector>

#include "../support/lincheck.hpp"
#include "check.hpp"
#include "threadmap/factory.hpp"

using namespace threadmap;
using tmtest::scaled;
using namespace threadmap::lincheck;

namespace {

operation op_at(op_kind k, std::uint64_t inv, std::uint64_t resp, status st,
                std::optional<std::string> value = std::nullopt,
                std::optional<std::string> out = std::nullopt) {
  operation o;
  o.kind = k;
  o.key = "k";
  o.value = std::move(value);
  o.out = std::move(out);
  o.result = st;
  o.invoked = inv;
  o.responded = resp;
  return o;
}

// Records `histories` histories of `threads` threads x `ops` operations on a
// few keys against fresh maps from `make`, and checks each. Returns how many
// were not linearizable.
// With `evicting`, each history is checked as a cache's (lincheck.hpp,
// "Caches"), allowed the evictions its map counted; `needed`, if given, sums
// the evictions the linearizations needed.
template <class Make>
int record_and_check(Make&& make, int histories, int threads, int ops, unsigned seed,
                     bool evicting = false, std::uint64_t* needed = nullptr) {
  std::atomic<std::uint64_t> clock{0};
  std::vector<std::vector<operation>> per_thread(threads);
  std::unique_ptr<concurrent_map> m;
  int failures = 0;
  std::barrier sync(threads + 1);
  std::vector<std::thread> workers;
  std::atomic<bool> done{false};
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      std::mt19937 rng(seed * 131 + t);
      const std::string values[] = {"a", "b", encode_i64(1), encode_i64(INT64_MAX),
                                    std::string(30, 'L')};
      for (;;) {
        sync.arrive_and_wait();  // history starts
        if (done.load()) return;
        auto& log = per_thread[t];
        log.clear();
        for (int i = 0; i < ops; ++i) {
          operation op;
          op.kind = static_cast<op_kind>(rng() % 6);
          op.key = "k" + std::to_string(rng() % 2);
          op.value = values[rng() % 5];
          if (op.kind == op_kind::compare_and_set) {
            if (rng() % 3 == 0)
              op.expected.reset();
            else
              op.expected = values[rng() % 5];
            if (rng() % 4 == 0) op.value.reset();
          }
          op.delta = static_cast<std::int64_t>(rng() % 3) - 1;
          if (rng() % 2) std::this_thread::yield();
          op.invoked = clock.fetch_add(1);
          execute(*m, op);
          op.responded = clock.fetch_add(1);
          log.push_back(std::move(op));
        }
        sync.arrive_and_wait();  // history ends
      }
    });
  }
  for (int h = 0; h < histories; ++h) {
    m = make();
    sync.arrive_and_wait();
    sync.arrive_and_wait();
    std::vector<operation> all;
    for (auto& log : per_thread) all.insert(all.end(), log.begin(), log.end());
    const verdict v = evicting ? check(all, m->stats().evictions) : check(all);
    if (!v.linearizable) ++failures;
    if (needed) *needed += v.evictions;
  }
  done = true;
  sync.arrive_and_wait();
  for (auto& w : workers) w.join();
  return failures;
}

// A map whose put_if_absent is a check-then-act race: get, then put. Every
// other operation forwards to a correct map.
class broken_map final : public concurrent_map {
 public:
  explicit broken_map(std::unique_ptr<concurrent_map> inner) : m_(std::move(inner)) {}
  bool get(bytes k, std::string* out, std::uint64_t* rev = nullptr,
           std::uint64_t unless = 0) const override {
    return m_->get(k, out, rev, unless);
  }
  std::uint64_t revision() const override { return m_->revision(); }
  status put(bytes k, bytes v, std::string* old) override { return m_->put(k, v, old); }
  status put_if_absent(bytes k, bytes v, std::string* existing) override {
    if (m_->get(k, existing)) return status::exists;
    std::this_thread::yield();  // widen the window, as a preemption would
    m_->put(k, v, nullptr);
    return status::inserted;
  }
  status compare_and_set(bytes k, const bytes* e, const bytes* d, std::string* cur) override {
    return m_->compare_and_set(k, e, d, cur);
  }
  status erase(bytes k, std::string* old) override { return m_->erase(k, old); }
  status add(bytes k, counter_kind kind, counter d, bytes p, counter* r) override {
    return m_->add(k, kind, d, p, r);
  }
  std::size_t size() const override { return m_->size(); }
  void clear() override { m_->clear(); }
  std::size_t scan_units() const override { return m_->scan_units(); }
  std::size_t scan(std::size_t u, std::string& out) const override { return m_->scan(u, out); }
  map_stats stats() const override { return m_->stats(); }

 private:
  std::unique_ptr<concurrent_map> m_;
};

}  // namespace

TEST_CASE("lincheck: sequential and overlapping histories are accepted") {
  // put(a) then get -> a, strictly sequential.
  std::vector<operation> h{op_at(op_kind::put, 0, 1, status::inserted, "a"),
                           op_at(op_kind::get, 2, 3, status::ok, std::nullopt, "a")};
  CHECK(check(h).linearizable);
  // A get overlapping a put may see the old state or the new one.
  h = {op_at(op_kind::put, 0, 3, status::inserted, "a"),
       op_at(op_kind::get, 1, 2, status::not_found)};
  CHECK(check(h).linearizable);
  h[1] = op_at(op_kind::get, 1, 2, status::ok, std::nullopt, "a");
  CHECK(check(h).linearizable);
}

TEST_CASE("lincheck: impossible histories are rejected") {
  // A get after a completed put cannot miss it.
  std::vector<operation> h{op_at(op_kind::put, 0, 1, status::inserted, "a"),
                           op_at(op_kind::get, 2, 3, status::not_found)};
  CHECK(!check(h).linearizable);
  // Two overlapping put_if_absent cannot both insert.
  h = {op_at(op_kind::put_if_absent, 0, 3, status::inserted, "a"),
       op_at(op_kind::put_if_absent, 1, 2, status::inserted, "b")};
  CHECK(!check(h).linearizable);
  CHECK_EQ(check(h).key, std::string("k"));
  // A value never written cannot be read.
  h = {op_at(op_kind::put, 0, 3, status::inserted, "a"),
       op_at(op_kind::get, 1, 2, status::ok, std::nullopt, "z")};
  CHECK(!check(h).linearizable);
  // Lost update: two adds of 1 from 0 both answering 1.
  operation a = op_at(op_kind::add, 0, 3, status::inserted),
            b = op_at(op_kind::add, 1, 2, status::ok);
  a.delta = b.delta = 1;
  a.counter = b.counter = 1;
  CHECK(!check({a, b}).linearizable);
  b.counter = 2;
  CHECK(check({a, b}).linearizable);
}

TEST_CASE("lincheck: recorded histories of every strategy are linearizable") {
  for (const auto& cfg : tmtest::strategies()) {
    const int bad = record_and_check([&] { return make_map(cfg.opts); }, scaled(3000), 3, 10, 7);
    if (bad) std::fprintf(stderr, "%s: %d non-linearizable histories\n", cfg.name, bad);
    CHECK_EQ(bad, 0);
  }
}

TEST_CASE("lincheck: a put_if_absent that skips its atomic step is caught") {
  options o;
  o.strategy = strategy_kind::mutex;
  const int bad =
      record_and_check([&] { return std::make_unique<broken_map>(make_map(o)); }, 2000, 3, 8, 11);
  std::printf("broken map: %d of 2000 histories not linearizable\n", bad);
  CHECK(bad > 0);
}

// --- caches: eviction as a silent delete (lincheck.hpp, "Caches") ----------

TEST_CASE("lincheck: with evictions allowed, a miss after a set costs one") {
  // put(a) then get -> not_found: a lost write for a plain map, one eviction
  // for a cache; and no more than the evictions the map counted.
  std::vector<operation> h{op_at(op_kind::put, 0, 1, status::inserted, "a"),
                           op_at(op_kind::get, 2, 3, status::not_found)};
  CHECK(!check(h).linearizable);
  CHECK(!check(h, 0).linearizable);
  verdict v = check(h, 5);
  CHECK(v.linearizable);
  CHECK_EQ(v.evictions, std::uint64_t{1});
  // put answering inserted twice in a row, an add starting again from zero.
  h = {op_at(op_kind::put, 0, 1, status::inserted, "a"),
       op_at(op_kind::put, 2, 3, status::inserted, "b"),
       op_at(op_kind::get, 4, 5, status::ok, std::nullopt, "b")};
  CHECK(!check(h, 0).linearizable);
  CHECK(check(h, 1).linearizable);
  operation a = op_at(op_kind::add, 0, 1, status::inserted),
            b = op_at(op_kind::add, 2, 3, status::inserted);
  a.delta = b.delta = 1;
  a.counter = b.counter = 1;
  CHECK(!check({a, b}, 0).linearizable);
  CHECK_EQ(check({a, b}, 1).evictions, std::uint64_t{1});
  // The fewest are summed over keys: two keys that each need one.
  h = {op_at(op_kind::put, 0, 1, status::inserted, "a"),
       op_at(op_kind::get, 2, 3, status::not_found)};
  std::vector<operation> two = h;
  for (operation o : h) {
    o.key = "j";
    two.push_back(o);
  }
  CHECK(!check(two, 1).linearizable);
  CHECK_EQ(check(two, 2).evictions, std::uint64_t{2});
}

TEST_CASE("lincheck: with evictions allowed, nothing comes back") {
  // An evicted value read again without a write in between.
  std::vector<operation> h{op_at(op_kind::put, 0, 1, status::inserted, "a"),
                           op_at(op_kind::get, 2, 3, status::not_found),
                           op_at(op_kind::get, 4, 5, status::ok, std::nullopt, "a")};
  CHECK(!check(h, 10).linearizable);
  // An overwritten value read after the overwrite completed.
  h = {op_at(op_kind::put, 0, 1, status::inserted, "a"),
       op_at(op_kind::put, 2, 3, status::ok, "b", "a"),
       op_at(op_kind::get, 4, 5, status::ok, std::nullopt, "a")};
  CHECK(!check(h, 10).linearizable);
  // A value never written.
  h = {op_at(op_kind::put, 0, 3, status::inserted, "a"),
       op_at(op_kind::get, 1, 2, status::ok, std::nullopt, "z")};
  CHECK(!check(h, 10).linearizable);
  // An erase that found the old value after an eviction must have been
  // followed by no write: put(a), erase -> ok(a) after a miss is a resurrection.
  h = {op_at(op_kind::put, 0, 1, status::inserted, "a"),
       op_at(op_kind::get, 2, 3, status::not_found),
       op_at(op_kind::erase, 4, 5, status::ok, std::nullopt, "a")};
  CHECK(!check(h, 10).linearizable);
  // Real time still binds: the overlapping get may see either state, the
  // later one only the new value or a miss.
  h = {op_at(op_kind::put, 0, 3, status::inserted, "a"),
       op_at(op_kind::get, 1, 2, status::not_found),
       op_at(op_kind::get, 4, 5, status::ok, std::nullopt, "a")};
  CHECK_EQ(check(h, 10).evictions, std::uint64_t{0});
}

// Two keys, one slot: nearly every insert evicts the other key, so gets miss
// keys that were set and the model's evictions are needed (counted), and the
// histories must fit within the evictions the map reports.
TEST_CASE("lincheck: recorded histories of every evicting map are linearizable as a cache") {
  for (const auto& cfg : tmtest::strategies()) {
    if (!supports_eviction(cfg.opts.strategy)) continue;
    for (eviction_kind k : all_eviction_kinds) {
      options o = cfg.opts;
      o.max_entries = 1;
      o.evict = k;
      std::uint64_t needed = 0;
      const int bad =
          record_and_check([&] { return make_map(o); }, scaled(1000), 3, 10, 5, true, &needed);
      if (bad)
        std::fprintf(stderr, "%s/%s: %d non-linearizable histories\n", cfg.name, to_string(k), bad);
      CHECK_EQ(bad, 0);
      CHECK(needed > 0);
    }
  }
}

TEST_CASE("lincheck: a lost insert is caught in a cache that did not evict") {
  // Room for both keys: the map counts no eviction, so the broken
  // put_if_absent's second `inserted` has none to hide behind.
  options o;
  o.strategy = strategy_kind::mutex;
  o.max_entries = 2;
  const int bad = record_and_check([&] { return std::make_unique<broken_map>(make_map(o)); }, 2000,
                                   3, 8, 11, true);
  std::printf("broken cache: %d of 2000 histories not linearizable\n", bad);
  CHECK(bad > 0);
}

TEST_MAIN
