// Entry revisions (threadmap/detail/revision.hpp) over every strategy: which
// writes stamp, what get and revision_of report, and, under concurrent
// writers, uniqueness, per-key order and real-time order checked on the
// recorded history.
#include <algorithm>
#include <atomic>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "check.hpp"
#include "threadmap/factory.hpp"
#include "threadmap/map.hpp"

using namespace threadmap;

namespace {

std::unique_ptr<concurrent_map> make(const tmtest::strategy_config& cfg) {
  return make_map(cfg.opts);
}

// Revision after the call, and whether it moved by exactly one.
struct tracker {
  concurrent_map& m;
  std::uint64_t last = m.revision();
  bool advanced_by_one() {
    const std::uint64_t r = m.revision();
    const bool ok = r == last + 1;
    last = r;
    return ok;
  }
  bool unchanged() const { return m.revision() == last; }
};

}  // namespace

STRATEGY_CASE("revisions: every write that changes the map stamps, others do not") {
  auto m = make(cfg);
  CHECK_EQ(m->revision(), 0u);
  CHECK_EQ(m->revision_of("a"), 0u);
  tracker t{*m};
  const std::string long_value(100, 'L');  // out of line in the flat table
  for (const std::string& v : {std::string("v1"), long_value}) {
    const std::string k = "k" + std::to_string(v.size());
    CHECK_EQ(m->put(k, v, nullptr), status::inserted);
    CHECK(t.advanced_by_one());
    CHECK_EQ(m->revision_of(k), t.last);
    std::string out;
    std::uint64_t r = 0;
    CHECK(m->get(k, &out, &r));
    CHECK_EQ(r, t.last);
    CHECK_EQ(out, v);
    // The caller's version is current: the value is not copied.
    out = "untouched";
    CHECK(m->get(k, &out, &r, t.last));
    CHECK_EQ(out, "untouched");
    CHECK(m->get(k, &out, &r, t.last - 1 ? t.last - 1 : 99));
    CHECK_EQ(out, v);

    CHECK_EQ(m->put(k, v + "2", nullptr), status::ok);
    CHECK(t.advanced_by_one());
    CHECK_EQ(m->revision_of(k), t.last);
    CHECK_EQ(m->put_if_absent(k, "x", nullptr), status::exists);
    CHECK(t.unchanged());
    const std::string now_s = v + "2", next_s = v + "3";
    const bytes wrong = "wrong", now = now_s, next = next_s;
    CHECK_EQ(m->compare_and_set(k, &wrong, &next, nullptr), status::mismatch);
    CHECK(t.unchanged());
    CHECK_EQ(m->compare_and_set(k, &now, &next, nullptr), status::ok);
    CHECK(t.advanced_by_one());
    CHECK_EQ(m->revision_of(k), t.last);
    CHECK_EQ(m->compare_and_set(k, &next, nullptr, nullptr), status::ok);  // to absent
    CHECK(t.advanced_by_one());
    CHECK_EQ(m->revision_of(k), 0u);
    CHECK_EQ(m->compare_and_set(k, nullptr, &next, nullptr), status::inserted);
    CHECK(t.advanced_by_one());
    CHECK_EQ(m->revision_of(k), t.last);
    CHECK_EQ(m->erase(k, nullptr), status::ok);
    CHECK(t.advanced_by_one());
    CHECK_EQ(m->revision_of(k), 0u);
    CHECK_EQ(m->erase(k, nullptr), status::not_found);
    CHECK(t.unchanged());
    CHECK_EQ(m->put_if_absent(k, v, nullptr), status::inserted);
    CHECK(t.advanced_by_one());
    CHECK_EQ(m->revision_of(k), t.last);
  }
  counter d{}, r{};
  d.i = 5;
  CHECK_EQ(m->add("c", counter_kind::i64, d, "", &r), status::inserted);
  CHECK(t.advanced_by_one());
  CHECK_EQ(m->revision_of("c"), t.last);
  CHECK_EQ(m->add("c", counter_kind::i64, d, "", &r), status::ok);
  CHECK(t.advanced_by_one());
  CHECK_EQ(m->revision_of("c"), t.last);
  CHECK_EQ(m->add("k2", counter_kind::i64, d, "", &r), status::mismatch);  // not a counter
  CHECK(t.unchanged());
  // clear() is one revision, whatever it removes; and one on an empty map.
  m->clear();
  CHECK(t.advanced_by_one());
  CHECK_EQ(m->revision_of("c"), 0u);
  m->clear();
  CHECK(t.advanced_by_one());
  CHECK_EQ(m->put("c", "after", nullptr), status::inserted);
  CHECK(t.advanced_by_one());
  CHECK_EQ(m->revision_of("c"), t.last);
  CHECK_EQ(m->get("c", nullptr), true);
}

STRATEGY_CASE("revisions: growth and promotion keep every entry's revision") {
  auto m = make(cfg);
  const int n = 5000;
  std::vector<std::uint64_t> rev(n);
  for (int i = 0; i < n; ++i) {
    const std::string k = "g" + std::to_string(i);
    CHECK_EQ(m->put(k, i % 3 ? "short" : std::string(40, 'x'), nullptr), status::inserted);
    rev[i] = m->revision();
    if (i % 7 == 0) m->get("g0", nullptr);  // readmostly: misses promote
  }
  long bad = 0;
  for (int r = 0; r < 3; ++r)  // readmostly promotes after enough misses
    for (int i = 0; i < n; ++i) bad += m->revision_of("g" + std::to_string(i)) != rev[i];
  CHECK_EQ(bad, 0);
}

namespace {

// One put or compare_and_set whose revision its thread learned by reading
// the key right after (the value is unique to the write, so a read that
// returns it gives that write's revision).
struct learned {
  std::uint64_t start, end;  // ticks of a global clock around the write call
  std::uint64_t rev;
  int key;
};

}  // namespace

STRATEGY_CASE("revisions: concurrent writers: unique, per key increasing, real-time ordered") {
  auto m = make(cfg);
  const int threads = 4, keys = 24;
  const long ops = tmtest::scaled(6000);
  std::atomic<std::uint64_t> ticks{0};
  std::vector<std::vector<learned>> writes(threads);
  std::vector<long> bad(threads, 0);
  std::vector<std::map<std::string, std::uint64_t>> seen(threads);  // value -> revision
  tmtest::run_threads(threads, [&](int t) {
    std::uint64_t last_read[keys] = {};  // per key: the revision this thread last read
    std::uint32_t rng = 0x9E3779B9u * (t + 1);
    std::string out, cur;
    for (long i = 0; i < ops; ++i) {
      rng = rng * 1664525u + 1013904223u;
      const int key = static_cast<int>(rng >> 8) % keys;
      const std::string k = "key" + std::to_string(key);
      const std::string v = std::to_string(t) + ":" + std::to_string(i);
      const int kind = static_cast<int>(rng >> 24) % 8;
      const std::uint64_t start = ticks.fetch_add(1);
      status st;
      if (kind < 4) {
        st = m->put(k, v, nullptr);
      } else if (kind < 6) {
        std::uint64_t r = 0;
        const bool had = m->get(k, &cur, &r);
        const bytes expected = cur, desired = v;
        st = m->compare_and_set(k, had ? &expected : nullptr, &desired, nullptr);
      } else if (kind == 6) {
        st = m->erase(k, nullptr);
      } else {
        st = m->put_if_absent(k, v, nullptr);
      }
      const std::uint64_t end = ticks.fetch_add(1);
      const bool wrote = st == status::ok || st == status::inserted;
      // The map's revision covers every acknowledged write (checked below
      // against the write's own revision when this thread learns it).
      const std::uint64_t map_rev = m->revision();
      std::uint64_t r = 0;
      const bool present = m->get(k, &out, &r);
      if (present) {
        // Per key: a later read never sees an older version.
        if (r < last_read[key]) ++bad[t];
        last_read[key] = r;
        auto [it, fresh] = seen[t].emplace(out, r);
        if (!fresh && it->second != r) ++bad[t];  // one value, one revision
        if (r == 0) ++bad[t];
      }
      if (wrote && kind != 6 && present && out == v) {
        writes[t].push_back({start, end, r, key});
        if (r > map_rev) ++bad[t];
      }
    }
  });
  for (int t = 0; t < threads; ++t) CHECK_EQ(bad[t], 0);
  // Unique: two different values never carry one revision.
  std::map<std::uint64_t, std::string> by_rev;
  long clashes = 0;
  for (const auto& s : seen)
    for (const auto& [v, r] : s) {
      auto [it, fresh] = by_rev.emplace(r, v);
      if (!fresh && it->second != v) ++clashes;
    }
  CHECK_EQ(clashes, 0);
  // Real time: a write that returned before another was called has the
  // smaller revision. Sweep the writes by start, with those that ended
  // before it seen in order of their end.
  std::vector<learned> all;
  for (const auto& w : writes) all.insert(all.end(), w.begin(), w.end());
  CHECK(all.size() > std::size_t(threads * ops / 10));
  std::vector<learned> by_end = all;
  std::sort(all.begin(), all.end(), [](auto& a, auto& b) { return a.start < b.start; });
  std::sort(by_end.begin(), by_end.end(), [](auto& a, auto& b) { return a.end < b.end; });
  std::size_t j = 0;
  std::uint64_t max_before = 0;
  long inversions = 0;
  for (const learned& b : all) {
    while (j < by_end.size() && by_end[j].end < b.start)
      max_before = std::max(max_before, by_end[j++].rev);
    if (max_before >= b.rev) ++inversions;
  }
  CHECK_EQ(inversions, 0);
  // Per key, in one thread's program order: its own writes increase.
  long per_key = 0;
  for (const auto& w : writes) {
    std::uint64_t last[keys] = {};
    for (const learned& x : w) {
      if (x.rev <= last[x.key]) ++per_key;
      last[x.key] = x.rev;
    }
  }
  CHECK_EQ(per_key, 0);
  CHECK(m->revision() >= all.size());
}

// A delete and a clear are revisions too: under concurrent writers, a
// thread's erase or clear moves revision() past every revision it read before.
STRATEGY_CASE("revisions: deletes and clears advance the map's revision under concurrent writes") {
  auto m = make(cfg);
  const long ops = tmtest::scaled(3000);
  std::vector<long> bad(2, 0);
  tmtest::run_threads(2, [&](int t) {
    for (long i = 0; i < ops; ++i) {
      const std::string k = "d" + std::to_string(i % 16);
      if (t == 0) {
        m->put(k, "v" + std::to_string(i), nullptr);
        continue;
      }
      const std::uint64_t seen = m->revision_of(k), before = m->revision();
      if (i % 100 == 99) {
        m->clear();
        if (m->revision() <= before) ++bad[t];
      } else if (m->erase(k, nullptr) == status::ok) {
        if (m->revision() <= std::max(seen, before)) ++bad[t];
      }
    }
  });
  CHECK_EQ(bad[0] + bad[1], 0);
}

// options::revisions false: the flat-table strategies keep none (every
// revision 0, the clock's line never written) and stay a correct map; the
// others, and a read cache, refuse it.
STRATEGY_CASE("revisions: a map made without them stores every write and reports 0") {
  options o = cfg.opts;
  CHECK(make_map(o)->keeps_revisions());
  o.revisions = false;
  const auto refused = [](const options& v) {
    try {
      make_map(v);
    } catch (const std::invalid_argument&) {
      return true;
    }
    return false;
  };
  if (!supports_skipping_revisions(o.strategy)) {
    CHECK(refused(o));
    return;
  }
  options cached = o;
  cached.read_cache = 10;
  CHECK(refused(cached));
  // Unbounded, bounded (evicts) and timed (expires): every write path.
  options bounded = o, timed = o;
  bounded.max_entries = 64;
  timed.ttl = 0;
  for (const options& v : {o, bounded, timed}) {
    auto m = make_map(v);
    CHECK(!m->keeps_revisions());
    std::map<std::string, std::string> model;
    // Narrow (at most 22 bytes), wide (23-24: the last byte shares the
    // revision's word) and out-of-line entries.
    for (int i = 0; i < 40; ++i) {
      const std::string k = "key" + std::to_string(i);
      const std::string val(i % 3 == 0 ? 4 : i % 3 == 1 ? 24 - k.size() : 90, char('a' + i % 26));
      CHECK_EQ(m->put(k, val, nullptr), status::inserted);
      model[k] = val;
    }
    for (int i = 0; i < 40; i += 2) {
      const std::string k = "key" + std::to_string(i);
      const std::string val = model[k] + "!";
      CHECK_EQ(m->put(k, val, nullptr), status::ok);
      model[k] = val;
    }
    const std::string k3 = "key3", was = model[k3], next = "cas";
    const bytes expected = was, desired = next;
    CHECK_EQ(m->compare_and_set(k3, &expected, &desired, nullptr), status::ok);
    model[k3] = next;
    CHECK_EQ(m->erase("key5", nullptr), status::ok);
    model.erase("key5");
    counter d{}, r{};
    d.i = 5;
    CHECK_EQ(m->add("count", counter_kind::i64, d, "", &r), status::inserted);
    CHECK_EQ(m->add("count", counter_kind::i64, d, "", &r), status::ok);
    CHECK_EQ(r.i, 10);
    CHECK_EQ(m->size(), model.size() + 1);
    for (const auto& [k, val] : model) {
      std::string out;
      std::uint64_t rev = 99;
      CHECK(m->get(k, &out, &rev));
      CHECK_EQ(out, val);
      CHECK_EQ(rev, 0u);
      CHECK_EQ(m->revision_of(k), 0u);
    }
    CHECK_EQ(m->revision(), 0u);
    // Past max_entries: the bounded map evicts (its victims draw 0 too).
    for (int i = 0; i < 100; ++i) m->put("more" + std::to_string(i), "v", nullptr);
    if (v.max_entries) CHECK(m->size() <= v.max_entries);
    m->clear();
    CHECK_EQ(m->size(), 0u);
    CHECK_EQ(m->revision(), 0u);
  }
  // Two writers: every write lands, and the clock never moves.
  auto m = make_map(o);
  tmtest::run_threads(2, [&](int t) {
    for (int i = 0; i < 20000; ++i) {
      const std::string k = std::to_string(t) + ":" + std::to_string(i % 500);
      m->put(k, std::to_string(i), nullptr);
    }
  });
  CHECK_EQ(m->size(), 1000u);
  for (int t = 0; t < 2; ++t)
    for (int i = 0; i < 500; ++i) {
      std::string out;
      CHECK(m->get(std::to_string(t) + ":" + std::to_string(i), &out));
      CHECK_EQ(out, std::to_string(19500 + i));
    }
  CHECK_EQ(m->revision(), 0u);
}

int main(int argc, char** argv) {
  return tmtest::run_all(argc, argv);
}
