// readmostly under max_memory: every write that fails for memory leaves the
// map as it was (the entries it holds, and the invariant that an expunged
// entry has a dirty table to go back into), and the map-wide operations that
// walk every entry (clear, promotion) cost time linear in the map's size.
//
// Keys here are 60 bytes, so each entry of a table lives out of line: copying
// the read table into a new dirty table allocates per entry and can run out
// of max_memory part-way, which short keys (inline) never do.
#include <algorithm>
#include <atomic>
#include <cstring>
#include <functional>
#include <map>
#include <string>

#include "check.hpp"
#include "threadmap/detail/readmostly.hpp"
#include "threadmap/epoch.hpp"
#include "threadmap/factory.hpp"
#include "threadmap/map.hpp"

using namespace threadmap;

namespace {

std::string long_key(int i) {
  std::string k = std::to_string(i);
  return std::string(60 - k.size(), 'k') + k;
}

std::string short_key(int i) {
  return "s" + std::to_string(i);
}

std::string i64_bytes(std::int64_t v) {
  return std::string(reinterpret_cast<char*>(&v), 8);
}

std::unique_ptr<concurrent_map> make_readmostly(std::size_t max_memory, std::size_t capacity = 0) {
  options o;
  o.strategy = strategy_kind::readmostly;
  o.max_memory = max_memory;
  o.capacity = capacity;
  return make_map(o);
}

// The read table is the only table: nothing amended, no dirty table.
bool promoted(const concurrent_map& m) {
  return m.placement().size() == 1;
}

// Misses on a key that is only in the dirty table until dirty is promoted.
bool promote(const concurrent_map& m, const std::string& dirty_key) {
  for (int i = 0; i < 1000000 && !promoted(m); ++i) m.get(dirty_key, nullptr);
  return promoted(m);
}

std::map<std::string, std::string> contents(const concurrent_map& m) {
  std::map<std::string, std::string> all;
  std::string buf;
  m.scan(0, buf);
  scan_reader r(buf);
  scan_record rec;
  while (r.next(rec)) all.emplace(std::string(rec.key), std::string(rec.value));
  return all;
}

// The map holds exactly `model`, seen by scan, get and size.
bool same(const concurrent_map& m, const std::map<std::string, std::string>& model) {
  if (m.size() != model.size() || contents(m) != model) return false;
  std::string out;
  for (const auto& [k, v] : model) {
    if (!m.get(k, &out) || out != v) return false;
  }
  return true;
}

// One kind of write that creates a key, and what it stores.
struct writer {
  const char* name;
  std::function<status(concurrent_map&, const std::string&)> write;
};

std::vector<writer> writers() {
  const std::string v = i64_bytes(7);
  return {
      {"put", [v](concurrent_map& m, const std::string& k) { return m.put(k, v, nullptr); }},
      {"put_if_absent",
       [v](concurrent_map& m, const std::string& k) { return m.put_if_absent(k, v, nullptr); }},
      {"compare_and_set",
       [v](concurrent_map& m, const std::string& k) {
         const bytes desired = v;
         return m.compare_and_set(k, nullptr, &desired, nullptr);
       }},
      {"add",
       [](concurrent_map& m, const std::string& k) {
         counter d;
         d.i = 7;
         // An empty prefix with a non-null pointer: next_counter copies the
         // prefix with memcpy, which UBSan flags for a null source even at
         // length 0 (threadmap/detail/counter_value.hpp).
         return m.add(k, counter_kind::i64, d, bytes("", 0), nullptr);
       }},
  };
}

}  // namespace

// The issue 12 crash: fill until memory_limit, erase every other key,
// promote, add a new key (its copy of the read table runs out of memory
// part-way, after it expunged some erased entries), then write an erased
// key. The sweep of max_memory puts the failure at many points of the copy.
TEST_CASE(
    "readmostly: a write that runs out of memory while copying the read table changes nothing") {
  int copies_failed = 0, runs = 0;
  // Every 5,000 bytes; the sanitizer runs (scale 0.25) take every 20,000.
  const std::size_t step = 20000 / static_cast<std::size_t>(tmtest::scaled(4));
  for (const writer& trigger : writers()) {
    for (const writer& revive : writers()) {
      for (std::size_t mm = 10000; mm <= 200000; mm += step) {
        tmtest::current() = std::string("readmostly copy failure [") + trigger.name + " then " +
                            revive.name + ", max_memory " + std::to_string(mm) + "]";
        auto m = make_readmostly(mm);
        std::map<std::string, std::string> model;
        int n = 0;
        for (;; ++n) {
          const status st = m->put(long_key(n), i64_bytes(n), nullptr);
          if (st != status::inserted) {
            REQUIRE(st == status::memory_limit);
            break;
          }
          model[long_key(n)] = i64_bytes(n);
        }
        REQUIRE(n > 10);
        for (int i = 0; i < n; i += 2) {
          REQUIRE(m->erase(long_key(i), nullptr) == status::ok);
          model.erase(long_key(i));
        }
        REQUIRE(promote(*m, long_key(1)));
        ++runs;
        const status st = trigger.write(*m, long_key(n + 1));
        REQUIRE(st == status::inserted || st == status::memory_limit);
        if (st == status::inserted) {
          model[long_key(n + 1)] = i64_bytes(7);
        } else {
          ++copies_failed;
        }
        CHECK(same(*m, model));
        for (int i = 0; i < n; i += 2) {
          const status s = revive.write(*m, long_key(i));
          CHECK(s == status::inserted || s == status::memory_limit);
          if (s == status::inserted) model[long_key(i)] = i64_bytes(7);
        }
        CHECK(same(*m, model));
        // Still usable: erasing makes room, and the erased key can come back.
        REQUIRE(m->erase(long_key(1), nullptr) == status::ok);
        model.erase(long_key(1));
        CHECK_EQ(revive.write(*m, long_key(1)), status::inserted);
        model[long_key(1)] = i64_bytes(7);
        CHECK(same(*m, model));
      }
    }
  }
  tmtest::current() = "readmostly copy failure";
  // The sweep reached the failing copy (most of its runs run out of memory there).
  CHECK(copies_failed > runs / 2);
}

// Stores a value under `key` (already in the map) that leaves exactly `room`
// bytes of max_memory free.
void leave_room(concurrent_map& m, std::size_t max_memory, const std::string& key,
                std::size_t room) {
  std::string old;
  REQUIRE(m.get(key, &old));
  // stats().bytes is the budget's count plus the map object; a value costs
  // a fixed header plus its length, and the old one is released.
  const std::size_t used = m.stats().bytes - sizeof(readmostly_map);
  const std::size_t len = max_memory - used + old.size() - room;
  REQUIRE(m.put(key, std::string(len, 'b'), nullptr) == status::ok);
  REQUIRE(m.stats().bytes - sizeof(readmostly_map) + room == max_memory);
}

// After a promotion, the first new key copies the read table. The copy
// holds the live entries only, so erased keys cost it nothing: with room for
// half a read table, a map that kept a twentieth of its keys takes new ones.
TEST_CASE("readmostly: the dirty table is sized for the live entries, not the erased ones") {
  const std::size_t mm = 400000;
  auto m = make_readmostly(mm);
  const int n = 4000, kept = n / 20;
  for (int i = 0; i < n; ++i)
    REQUIRE(m->put(short_key(i), i64_bytes(i), nullptr) == status::inserted);
  REQUIRE(promote(*m, short_key(1)));
  for (int i = kept; i < n; ++i) REQUIRE(m->erase(short_key(i), nullptr) == status::ok);
  leave_room(*m, mm, short_key(0), m->placement().at(0).bytes / 2);
  CHECK_EQ(m->put("new", i64_bytes(1), nullptr), status::inserted);
  CHECK_EQ(m->size(), std::size_t(kept) + 1);
  for (int i = n; i < n + 50; ++i) CHECK_EQ(m->put(short_key(i), "v", nullptr), status::inserted);
}

// `capacity` sizes each dirty table, but when a second table of that size
// does not fit beside the read table, a dirty table sized for the live
// entries does the job.
TEST_CASE("readmostly: capacity is a hint once the read table holds the budget") {
  auto m = make_readmostly(450000, 10000);
  for (int i = 0; i < 1000; ++i)
    REQUIRE(m->put(short_key(i), i64_bytes(i), nullptr) == status::inserted);
  REQUIRE(promote(*m, short_key(1)));
  CHECK_EQ(m->put("new", i64_bytes(1), nullptr), status::inserted);
  for (int i = 1000; i < 1100; ++i) CHECK_EQ(m->put(short_key(i), "v", nullptr), status::inserted);
  CHECK_EQ(m->size(), 1101u);
}

// clear() and promotion retire every entry they drop; the epoch domain must
// handle that in time linear in the count. epoch::swept() counts the retired
// items collection attempts examined: with a rescan of the whole pending
// list every 64 retirements it grew with the square of the map's size.
TEST_CASE("readmostly: clear and promotion examine each retired item a bounded number of times") {
  for (const int n : {20000, 80000}) {
    tmtest::current() = "readmostly linear clear [" + std::to_string(n) + "]";
    auto m = make_readmostly(0);
    for (int i = 0; i < n; ++i)
      REQUIRE(m->put(short_key(i), i64_bytes(i), nullptr) == status::inserted);
    REQUIRE(promote(*m, short_key(1)));
    // Erase every key, copy the read table (expunging them all), promote.
    for (int i = 0; i < n; ++i) REQUIRE(m->erase(short_key(i), nullptr) == status::ok);
    REQUIRE(m->put("new", "v", nullptr) == status::inserted);
    // Each retired item is examined once when it is freed, plus once per
    // collection attempt that finds it still pending (promotion retires one
    // entry per erased key; clear one entry and one value per key).
    epoch::synchronize();
    std::size_t before = epoch::swept();
    REQUIRE(promote(*m, "new"));
    epoch::synchronize();
    CHECK(epoch::swept() - before <= 2 * std::size_t(n) + 1000);

    for (int i = 0; i < n; ++i) REQUIRE(m->put(short_key(i), "v", nullptr) == status::inserted);
    epoch::synchronize();
    before = epoch::swept();
    m->clear();
    epoch::synchronize();
    CHECK(epoch::swept() - before <= 4 * std::size_t(n) + 1000);
    CHECK_EQ(m->size(), 0u);
    CHECK(contents(*m).empty());
    CHECK_EQ(m->put(short_key(1), "v", nullptr), status::inserted);
    CHECK_EQ(m->size(), 1u);
  }
}

// The failing copy and its undoing, while other threads write the keys it
// expunges and restores: each thread owns its keys, so it knows what each
// must hold at the end, whatever ran out of memory on the way.
TEST_CASE("readmostly: failed copies under concurrent writes keep every acknowledged write") {
  constexpr int threads = 3, owned = 300;
  const int rounds = static_cast<int>(tmtest::scaled(2000));
  int limited = 0, promotions = 0;
  for (std::size_t mm = 30000; mm <= 90000; mm += 15000) {
    tmtest::current() =
        "readmostly concurrent copy failure [max_memory " + std::to_string(mm) + "]";
    auto m = make_readmostly(mm);
    std::vector<std::map<std::string, std::string>> models(threads);
    // Owned keys of threads 1 and 2, until memory runs out; then every other
    // one erased and the table promoted, as in the single-thread case.
    for (int i = 0; i < owned; ++i) {
      const int t = 1 + i % 2;
      const std::string k = long_key(t * 100000 + i);
      if (m->put(k, i64_bytes(i), nullptr) != status::inserted) break;
      if (i % 4 < 2) {
        models[t][k] = i64_bytes(i);
      } else {
        REQUIRE(m->erase(k, nullptr) == status::ok);
      }
    }
    REQUIRE(promote(*m, long_key(100000)));
    std::atomic<int> run_limited{0}, run_promotions{0};
    tmtest::run_threads(threads, [&](int t) {
      auto& model = models[t];
      std::string out;
      for (int r = 0; r < rounds; ++r) {
        if (t == 0) {
          // New keys (each may start a copy of the read table that runs
          // out), misses that promote, and erases that make room.
          const std::string k = long_key(r % 16);
          if (r % 3 == 2) {
            if (m->erase(k, nullptr) == status::ok) model.erase(k);
          } else {
            const status st = m->put(k, i64_bytes(r), nullptr);
            if (st == status::inserted || st == status::ok) model[k] = i64_bytes(r);
            if (st == status::memory_limit) ++run_limited;
          }
          const bool amended = !promoted(*m);
          for (int j = 0; j < 16; ++j) m->get(long_key(1000000 + j), &out);
          if (amended && promoted(*m)) ++run_promotions;
        } else {
          // Erase and set owned keys: read's entries, which the copies
          // above expunge and undo.
          const std::string k = long_key(t * 100000 + (r * 2 + t - 1) % owned);
          if (r % 2) {
            if (m->erase(k, nullptr) == status::ok) model.erase(k);
          } else {
            const status st = m->put(k, i64_bytes(r), nullptr);
            if (st == status::inserted || st == status::ok) model[k] = i64_bytes(r);
          }
        }
      }
    });
    std::map<std::string, std::string> all;
    for (const auto& mod : models) all.insert(mod.begin(), mod.end());
    CHECK(same(*m, all));
    limited += run_limited.load();
    promotions += run_promotions.load();
  }
  tmtest::current() = "readmostly concurrent copy failure";
  // The runs went through both: new keys refused for memory, and promotions.
  CHECK(limited > 0);
  CHECK(promotions > 0);
}

TEST_MAIN

// The tables keep keys of up to 15 bytes in the slot and longer ones in a
// blob, with part of the hash beside it that growth re-places them by. Keys
// on both sides of that limit must stay reachable as the dirty table grows
// (every key re-placed), is promoted, is rebuilt from the read table and is
// cleared.
TEST_CASE("readmostly: keys on both sides of the inline limit survive growth, promotion, clear") {
  auto m = make_readmostly(0);
  std::map<std::string, std::string> model;
  auto key = [](int i) {
    const std::string digits = std::to_string(i);
    const std::size_t len = std::max<std::size_t>(digits.size(), i % 41);
    return std::string(len - digits.size(), 'k') + digits;
  };
  for (int i = 0; i < 3000; ++i) {
    REQUIRE(m->put(key(i), i64_bytes(i), nullptr) == status::inserted);
    model[key(i)] = i64_bytes(i);
  }
  CHECK(m->stats().resizes > 1);
  CHECK(same(*m, model));
  REQUIRE(promote(*m, key(2999)));
  CHECK(same(*m, model));
  // Erased keys are expunged when the next new key rebuilds dirty from read.
  for (int i = 0; i < 3000; i += 3) {
    REQUIRE(m->erase(key(i), nullptr) == status::ok);
    model.erase(key(i));
  }
  for (int i = 3000; i < 4000; ++i) {
    REQUIRE(m->put(key(i), i64_bytes(i), nullptr) == status::inserted);
    model[key(i)] = i64_bytes(i);
  }
  CHECK(same(*m, model));
  REQUIRE(promote(*m, key(3999)));
  CHECK(same(*m, model));
  for (int i = 0; i < 3000; i += 3) {
    CHECK_EQ(m->put_if_absent(key(i), i64_bytes(-i), nullptr), status::inserted);
    model[key(i)] = i64_bytes(-i);
  }
  CHECK(same(*m, model));
  m->clear();
  CHECK(same(*m, {}));
  CHECK_EQ(m->put(key(40), i64_bytes(40), nullptr), status::inserted);
  CHECK(same(*m, {{key(40), i64_bytes(40)}}));
}
