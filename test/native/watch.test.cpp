// The change log (threadmap/watch.hpp) and snapshots (threadmap/snapshot.hpp):
// events and their revisions, per-key order under concurrent writers, the
// ring's bound and the compacted answer, fromRevision, activation and
// deactivation of the wrapper, close, and snapshot consistency.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <functional>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "check.hpp"
#include "parking.hpp"
#include "snapshot_support.hpp"
#include "threadmap/detail/flat_table.hpp"
#include "threadmap/detail/lockfree.hpp"
#include "threadmap/epoch.hpp"
#include "threadmap/registry.hpp"
#include "threadmap/snapshot.hpp"
#include "threadmap/watch.hpp"

using namespace threadmap;
using tmtest::contents;
using tmtest::flat_table_configs;
using tmtest::make;
using tmtest::with_map;

namespace {

std::vector<watch_event> drain(subscription& s, subscription::batch* last = nullptr) {
  std::vector<watch_event> out;
  subscription::batch b;
  do {
    b = s.read(out, 1000, false);
  } while (b.st == subscription::state::ok && b.more);
  if (last) *last = b;
  return out;
}

std::string num(std::uint64_t i) {
  return std::to_string(i);
}

}  // namespace

STRATEGY_CASE(
    "watch: a map made without revisions refuses watch and snapshots, and changes nothing") {
  if (!supports_skipping_revisions(cfg.opts.strategy)) return;  // revisions.test.cpp: refused
  tmtest::strategy_config off = cfg;
  off.opts.revisions = false;
  auto m = make(off);
  concurrent_map* plain = with_map(*m, [](concurrent_map& c) { return &c; });
  with_map(*m, [](concurrent_map& c) { return c.put("a", "1", nullptr); });
  auto log = m->watch_log();
  bool refused = false;
  try {
    log->subscribe({}, 0, 0, nullptr);
  } catch (const std::invalid_argument&) {
    refused = true;
  }
  CHECK(refused);
  refused = false;
  try {
    snapshot::take(m);
  } catch (const std::invalid_argument&) {
    refused = true;
  }
  CHECK(refused);
  // Nothing was wrapped or activated, and the map still works.
  CHECK(!log->active());
  CHECK(with_map(*m, [](concurrent_map& c) { return &c; }) == plain);
  CHECK_EQ(with_map(*m, [](concurrent_map& c) { return c.put("b", "2", nullptr); }),
           status::inserted);
  CHECK_EQ(with_map(*m, [](concurrent_map& c) { return c.size(); }), 2u);
}

STRATEGY_CASE("watch: no wrapper until watched, and none after the last watcher") {
  auto m = make(cfg);
  concurrent_map* plain = with_map(*m, [](concurrent_map& c) { return &c; });
  auto log = m->watch_log();
  CHECK(with_map(*m, [](concurrent_map& c) { return &c; }) == plain);
  auto o = log->subscribe({}, 0, 0, nullptr);
  REQUIRE(o.sub);
  CHECK(with_map(*m, [](concurrent_map& c) { return &c; }) != plain);
  CHECK(log->active());
  o.sub->close();
  CHECK(!log->active());
  CHECK(with_map(*m, [](concurrent_map& c) { return &c; }) == plain);
}

STRATEGY_CASE("watch: every write kind is one event with its revision and value") {
  auto m = make(cfg);
  auto log = m->watch_log();
  with_map(*m, [](concurrent_map& c) { return c.put("before", "x", nullptr); });
  auto o = log->subscribe({}, 0, 0, nullptr);
  REQUIRE(o.sub);
  std::vector<std::uint64_t> revs;
  with_map(*m, [&](concurrent_map& c) {
    c.put("a", "1", nullptr);
    revs.push_back(c.revision_of("a"));
    CHECK(c.put_if_absent("a", "no", nullptr) == status::exists);  // no event
    c.put_if_absent("b", "2", nullptr);
    revs.push_back(c.revision_of("b"));
    const bytes two = "2", three = "3";
    c.compare_and_set("b", &two, &three, nullptr);
    revs.push_back(c.revision_of("b"));
    c.compare_and_set("b", &three, nullptr, nullptr);  // a delete
    revs.push_back(c.revision());
    counter d{};
    d.i = 5;
    counter r{};
    c.add("n", counter_kind::i64, d, {}, &r);
    revs.push_back(c.revision_of("n"));
    c.erase("a", nullptr);
    revs.push_back(c.revision());
    CHECK(c.erase("a", nullptr) == status::not_found);  // no event
    c.clear();
    revs.push_back(c.revision());
    return 0;
  });
  const auto ev = drain(*o.sub);
  REQUIRE(ev.size() == 7);
  const event_kind kinds[] = {event_kind::set,   event_kind::set, event_kind::set,
                              event_kind::erase, event_kind::set, event_kind::erase,
                              event_kind::clear};
  const char* keys[] = {"a", "b", "b", "b", "n", "a", ""};
  for (std::size_t i = 0; i < ev.size(); ++i) {
    CHECK(ev[i].kind == kinds[i]);
    CHECK_EQ(ev[i].key, std::string(keys[i]));
    CHECK_EQ(ev[i].revision, revs[i]);
  }
  CHECK_EQ(ev[0].value, std::string("1"));
  CHECK_EQ(ev[2].value, std::string("3"));
  CHECK_EQ(tmtest::as_i64(ev[4].value), 5);  // add's result, not its delta
  for (std::size_t i = 1; i < ev.size(); ++i) CHECK(ev[i].revision > ev[i - 1].revision);
}

STRATEGY_CASE("watch: filters by key list and by prefix; clear reaches all") {
  auto m = make(cfg);
  auto log = m->watch_log();
  watch_filter keys;
  keys.m = watch_filter::mode::keys;
  keys.keys = {"k1", "k3"};
  watch_filter pre;
  pre.m = watch_filter::mode::prefix;
  pre.prefix = "user:";
  auto a = log->subscribe(keys, 0, 0, nullptr);
  auto b = log->subscribe(pre, 0, 0, nullptr);
  REQUIRE(a.sub && b.sub);
  with_map(*m, [](concurrent_map& c) {
    for (const char* k : {"k1", "k2", "k3", "user:1", "user", "users:2", "user:"})
      c.put(k, "v", nullptr);
    c.clear();
    return 0;
  });
  const auto ea = drain(*a.sub), eb = drain(*b.sub);
  REQUIRE(ea.size() == 3);
  CHECK_EQ(ea[0].key, std::string("k1"));
  CHECK_EQ(ea[1].key, std::string("k3"));
  CHECK(ea[2].kind == event_kind::clear);
  REQUIRE(eb.size() == 3);
  CHECK_EQ(eb[0].key, std::string("user:1"));
  CHECK_EQ(eb[1].key, std::string("user:"));
  CHECK(eb[2].kind == event_kind::clear);
}

STRATEGY_CASE("watch: concurrent writers of shared keys: per-key revision order, nothing lost") {
  auto m = make(cfg);
  auto log = m->watch_log();
  auto o = log->subscribe({}, 0, change_log::max_buffer_bytes, nullptr);
  REQUIRE(o.sub);
  const int threads = 4;
  const long per = tmtest::scaled(4000);
  std::atomic<long> changes{0};
  std::vector<watch_event> got;
  tmtest::run_threads(threads, [&](int t) {
    for (long i = 0; i < per; ++i) {
      const std::string key = "k" + num(static_cast<std::uint64_t>(i % 16));
      const status st = with_map(*m, [&](concurrent_map& c) {
        if ((i + t) % 5 == 0) return c.erase(key, nullptr);
        return c.put(key,
                     num(static_cast<std::uint64_t>(t)) + ":" + num(static_cast<std::uint64_t>(i)),
                     nullptr);
      });
      if (st == status::ok || st == status::inserted) changes.fetch_add(1);
    }
  });
  subscription::batch last;
  got = drain(*o.sub, &last);
  CHECK(last.st == subscription::state::ok);
  // Per key, revisions strictly increase in delivery order, and the last
  // event of each key is the map's state.
  std::map<std::string, watch_event> newest;
  std::map<std::string, std::uint64_t> prev;
  std::vector<std::uint64_t> all;
  for (const watch_event& e : got) {
    CHECK(e.revision > prev[e.key]);
    prev[e.key] = e.revision;
    newest[e.key] = e;
    all.push_back(e.revision);
  }
  std::sort(all.begin(), all.end());
  CHECK(std::adjacent_find(all.begin(), all.end()) == all.end());  // unique
  for (const auto& [k, e] : newest) {
    std::string v;
    std::uint64_t r = 0;
    const bool found = with_map(*m, [&](concurrent_map& c) { return c.get(k, &v, &r); });
    CHECK_EQ(found, e.kind == event_kind::set);
    if (found) {
      CHECK_EQ(v, e.value);
      CHECK_EQ(r, e.revision);
    }
  }
  // Every acknowledged write that changed the map is there, once.
  CHECK_EQ(got.size(), static_cast<std::size_t>(changes.load()));
}

TEST_CASE("watch: the ring's bound compacts; a reader behind gets the oldest revision") {
  auto m = registry::create(options{}, "string", "string");
  auto log = m->watch_log();
  auto slow = log->subscribe({}, 0, change_log::min_buffer_bytes, nullptr);
  REQUIRE(slow.sub);
  const std::string value(200, 'v');
  std::uint64_t first_rev = 0;
  for (int i = 0; i < 200; ++i) {
    with_map(*m, [&](concurrent_map& c) { return c.put("k" + num(i % 7), value, nullptr); });
    if (i == 0) first_rev = with_map(*m, [](concurrent_map& c) { return c.revision(); });
  }
  const auto st = log->stats();
  CHECK(st.bytes <= change_log::min_buffer_bytes);
  CHECK(st.dropped > 0);
  CHECK(st.oldest > first_rev);
  // The counters add up: every write appended one event; those not dropped
  // are in the ring, whose bytes are theirs; nothing was refused yet.
  CHECK_EQ(st.appended, std::uint64_t{200});
  CHECK_EQ(st.events + st.dropped, std::uint64_t{200});
  CHECK_EQ(st.bytes, st.events * (change_log::event_overhead + 2 + value.size()));
  CHECK_EQ(st.limit, change_log::min_buffer_bytes);
  CHECK_EQ(st.oldest, with_map(*m, [](concurrent_map& c) { return c.revision(); }) + 1 - st.events);
  CHECK_EQ(st.compacted, std::uint64_t{0});
  CHECK_EQ(st.subscribers, std::size_t{1});
  CHECK_EQ(st.waking, std::size_t{0});
  std::vector<watch_event> out;
  const auto b = slow.sub->read(out, 10, false);
  CHECK(b.st == subscription::state::compacted);
  CHECK_EQ(b.oldest, st.oldest);
  CHECK(out.empty());
  slow.sub->read(out, 10, false);  // told again: still one subscriber behind
  CHECK_EQ(log->stats().compacted, std::uint64_t{1});
  // fromRevision: below the oldest is compacted; at it, every later event
  // is replayed.
  auto too_old = log->subscribe({}, st.oldest - 1, 0, nullptr);
  CHECK(!too_old.sub);
  CHECK(too_old.st == subscription::state::compacted);
  CHECK_EQ(too_old.oldest, st.oldest);
  CHECK_EQ(log->stats().compacted, std::uint64_t{2});
  auto replay = log->subscribe({}, st.oldest, 0, nullptr);
  REQUIRE(replay.sub);
  const auto ev = drain(*replay.sub);
  REQUIRE(!ev.empty());
  CHECK_EQ(ev.front().revision, st.oldest);
  CHECK_EQ(ev.back().revision, with_map(*m, [](concurrent_map& c) { return c.revision(); }));
  CHECK_EQ(ev.size(), static_cast<std::size_t>(ev.back().revision - st.oldest + 1));
}

TEST_CASE("watch: fromRevision is compacted before the log started and after it stopped") {
  auto m = registry::create(options{}, "string", "string");
  auto log = m->watch_log();
  with_map(*m, [](concurrent_map& c) { return c.put("a", "1", nullptr); });
  auto early = log->subscribe({}, 1, 0, nullptr);  // nothing was logged then
  CHECK(early.st == subscription::state::compacted);
  CHECK_EQ(early.oldest, std::uint64_t{2});
  CHECK(!log->active());  // the failed subscribe left no wrapper behind
  auto keep = log->subscribe({}, 0, 0, [] {});
  REQUIRE(keep.sub);
  CHECK_EQ(log->stats().waking, std::size_t{1});  // one with a notify function
  CHECK_EQ(log->stats().limit, change_log::default_buffer_bytes);
  with_map(*m, [](concurrent_map& c) { return c.put("b", "2", nullptr); });
  auto from2 = log->subscribe({}, 2, 0, nullptr);
  REQUIRE(from2.sub);
  const auto ev = drain(*from2.sub);
  REQUIRE(ev.size() == 1);
  CHECK_EQ(ev[0].key, std::string("b"));
  keep.sub->close();
  from2.sub->close();
  with_map(*m, [](concurrent_map& c) { return c.put("c", "3", nullptr); });  // unwatched
  auto later = log->subscribe({}, 2, 0, nullptr);
  CHECK(later.st == subscription::state::compacted);
  CHECK_EQ(later.oldest, std::uint64_t{4});
  // Inactive again: nothing held, no bound, no oldest; the totals stay.
  const auto st = log->stats();
  CHECK_EQ(st.subscribers, std::size_t{0});
  CHECK_EQ(st.events, std::size_t{0});
  CHECK_EQ(st.bytes, std::size_t{0});
  CHECK_EQ(st.limit, std::size_t{0});
  CHECK_EQ(st.oldest, std::uint64_t{0});
  CHECK_EQ(st.appended, std::uint64_t{1});
  CHECK_EQ(st.compacted, std::uint64_t{2});
}

TEST_CASE("watch: arm wakes once on a matching append; close wakes and ends") {
  auto m = registry::create(options{}, "string", "string");
  auto log = m->watch_log();
  std::atomic<int> wakes{0};
  watch_filter f;
  f.m = watch_filter::mode::keys;
  f.keys = {"x"};
  auto o = log->subscribe(f, 0, 0, [&] { wakes.fetch_add(1); });
  REQUIRE(o.sub);
  std::vector<watch_event> out;
  CHECK(o.sub->read(out, 10, true).st == subscription::state::ok);
  with_map(*m, [](concurrent_map& c) { return c.put("y", "1", nullptr); });  // not matched
  CHECK_EQ(wakes.load(), 0);
  with_map(*m, [](concurrent_map& c) { return c.put("x", "1", nullptr); });
  with_map(*m, [](concurrent_map& c) { return c.put("x", "2", nullptr); });
  CHECK_EQ(wakes.load(), 1);  // disarmed by the first
  CHECK(o.sub->read(out, 10, true).st == subscription::state::ok);
  CHECK_EQ(out.size(), std::size_t{2});                             // events were read: not armed
  CHECK(o.sub->read(out, 10, true).st == subscription::state::ok);  // nothing: armed
  CHECK(m->close());
  CHECK_EQ(wakes.load(), 2);  // the armed reader learns of the close
  CHECK(o.sub->read(out, 10, true).st == subscription::state::closed);
  auto after = log->subscribe({}, 0, 0, nullptr);
  CHECK(after.st == subscription::state::closed);
}

TEST_CASE("watch: record() is the cache layer's entry point for evict and expire") {
  auto m = registry::create(options{}, "string", "string");
  auto log = m->watch_log();
  log->record(event_kind::evict, "gone", 99);  // not watched: dropped
  auto o = log->subscribe({}, 0, 0, nullptr);
  REQUIRE(o.sub);
  const std::uint64_t r = with_map(*m, [](concurrent_map& c) { return c.revision(); });
  log->record(event_kind::evict, "a", r + 1);
  log->record(event_kind::expire, "b", r + 2);
  const auto ev = drain(*o.sub);
  REQUIRE(ev.size() == 2);
  CHECK(ev[0].kind == event_kind::evict);
  CHECK_EQ(ev[0].key, std::string("a"));
  CHECK(ev[1].kind == event_kind::expire);
  CHECK_EQ(ev[1].revision, r + 2);
  CHECK_EQ(std::string(to_string(ev[0].kind)), std::string("evict"));
}

TEST_CASE("watch: close while writers write through the wrapper") {
  for (int round = 0; round < 10; ++round) {
    auto m = registry::create(options{}, "string", "string");
    auto log = m->watch_log();
    auto o = log->subscribe({}, 0, 0, nullptr);
    REQUIRE(o.sub);
    std::atomic<bool> go{false};
    std::vector<std::thread> th;
    for (int t = 0; t < 2; ++t)
      th.emplace_back([&, t] {
        while (!go.load()) std::this_thread::yield();
        for (int i = 0;; ++i) {
          epoch::guard g;
          concurrent_map* c = m->get();
          if (!c) return;
          c->put(num(static_cast<std::uint64_t>(i % 50 + t)), "v", nullptr);
          if (i % 97 == 0) c->clear();
        }
      });
    go.store(true);
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
    CHECK(m->close());
    for (auto& x : th) x.join();
    std::vector<watch_event> out;
    CHECK(o.sub->read(out, 10, false).st == subscription::state::closed);
  }
}

// --- snapshots ---------------------------------------------------------------------

STRATEGY_CASE("snapshot: equals the map when quiet; refresh applies only changes") {
  auto m = make(cfg);
  with_map(*m, [](concurrent_map& c) {
    for (int i = 0; i < 500; ++i) c.put("k" + num(i), "v" + num(i), nullptr);
    return 0;
  });
  auto s = snapshot::take(m);
  REQUIRE(s);
  CHECK(contents(*s) == contents(*m));
  CHECK_EQ(s->revision(), with_map(*m, [](concurrent_map& c) { return c.revision(); }));
  with_map(*m, [](concurrent_map& c) {
    for (int i = 0; i < 10; ++i) c.put("k" + num(i), "new", nullptr);
    for (int i = 10; i < 15; ++i) c.erase("k" + num(i), nullptr);
    c.put("extra", "e", nullptr);
    return 0;
  });
  CHECK(contents(*s) != contents(*m));  // a snapshot does not move by itself
  REQUIRE(s->refresh());
  CHECK(contents(*s) == contents(*m));
  CHECK_EQ(s->stats().events_applied, std::uint64_t{16});
  CHECK_EQ(s->stats().full_copies, std::uint64_t{1});
  with_map(*m, [](concurrent_map& c) {
    c.clear();
    c.put("after", "clear", nullptr);
    return 0;
  });
  REQUIRE(s->refresh());
  CHECK(contents(*s) == contents(*m));
  CHECK_EQ(s->size(), std::size_t{1});
  s->close();
  CHECK(!m->watch_log()->active());
}

STRATEGY_CASE("snapshot: under concurrent writers every snapshot keeps their invariant") {
  // Each writer moves one unit between two of its own keys with a single
  // write at a time, in a fixed order (a then b), so any state in which b
  // holds n has a >= n: a snapshot shows it, and shows a <= b + 1.
  auto m = make(cfg);
  const int writers = 2;
  with_map(*m, [&](concurrent_map& c) {
    for (int t = 0; t < writers; ++t) {
      c.put("a" + num(t), "0", nullptr);
      c.put("b" + num(t), "0", nullptr);
    }
    for (int i = 0; i < 2000; ++i) c.put("fill" + num(i), "x", nullptr);
    return 0;
  });
  std::atomic<bool> stop{false};
  std::vector<std::thread> th;
  for (int t = 0; t < writers; ++t)
    th.emplace_back([&, t] {
      for (std::uint64_t n = 1; !stop.load(); ++n) {
        with_map(*m, [&](concurrent_map& c) {
          c.put("a" + num(t), num(n), nullptr);
          c.put("fill" + num(n % 2000), num(n), nullptr);
          c.put("b" + num(t), num(n), nullptr);
          return 0;
        });
      }
    });
  auto check_inv = [&](snapshot& s) {
    for (int t = 0; t < writers; ++t) {
      const std::string* a = s.find("a" + num(t));
      const std::string* b = s.find("b" + num(t));
      REQUIRE((a && b));
      CHECK((std::stoull(*a) == std::stoull(*b) || std::stoull(*a) == std::stoull(*b) + 1));
    }
    CHECK_EQ(s.size(), std::size_t(2000 + 2 * writers));
  };
  auto s = snapshot::take(m);
  REQUIRE(s);
  check_inv(*s);
  for (int i = 0; i < 30; ++i) {
    REQUIRE(s->refresh());
    check_inv(*s);
    auto fresh = snapshot::take(m);
    REQUIRE(fresh);
    check_inv(*fresh);
  }
  stop.store(true);
  for (auto& x : th) x.join();
  REQUIRE(s->refresh());
  CHECK(contents(*s) == contents(*m));
}

TEST_CASE("snapshot: a refresh outrun by the ring copies again and says so") {
  auto m = registry::create(options{}, "string", "string");
  auto s = snapshot::take(m, change_log::min_buffer_bytes);
  REQUIRE(s);
  const std::string value(300, 'v');
  with_map(*m, [&](concurrent_map& c) {
    for (int i = 0; i < 100; ++i) c.put("k" + num(i), value, nullptr);
    return 0;
  });
  REQUIRE(s->refresh());
  CHECK_EQ(s->stats().full_copies, std::uint64_t{2});
  CHECK(contents(*s) == contents(*m));
}

TEST_CASE("snapshot: closed maps") {
  auto m = registry::create(options{}, "string", "string");
  auto s = snapshot::take(m);
  REQUIRE(s);
  CHECK(m->close());
  CHECK(!s->refresh());
  CHECK(!snapshot::take(m));
}

// --- maps that evict ----------------------------------------------------------------

namespace {

struct evicting_config {
  const char* name;
  options opts;
  std::size_t value_bytes;  // past the inline limit: maxMemory evicts blobs
};

std::vector<evicting_config> evicting_configs() {
  std::vector<evicting_config> v;
  for (strategy_kind k : {strategy_kind::mutex, strategy_kind::rwlock, strategy_kind::striped}) {
    for (eviction_kind e : all_eviction_kinds) {
      options o;
      o.strategy = k;
      o.max_entries = 512;  // striped: 8 stripes of 64
      o.evict = e;
      v.push_back({"maxEntries", o, 4});
    }
    // maxMemory alone: a write may evict from other stripes (the steal).
    options o;
    o.strategy = k;
    o.evict = eviction_kind::clock;
    o.max_memory = std::size_t{256} << 10;
    v.push_back({"maxMemory", o, 200});
  }
  return v;
}

// The log applied in order, as a snapshot applies it.
void replay(const std::vector<watch_event>& ev, std::map<std::string, std::string>& m) {
  for (const watch_event& e : ev) {
    if (e.kind == event_kind::set)
      m[e.key] = e.value;
    else if (e.kind == event_kind::clear)
      m.clear();
    else
      m.erase(e.key);
  }
}

}  // namespace

TEST_CASE("watch: a map that evicts logs its victims; the log replayed is the map") {
  for (const evicting_config& ec : evicting_configs()) {
    const std::string saved = tmtest::current();
    tmtest::current() = saved + " [" + to_string(ec.opts.strategy) + " " + ec.name + " " +
                        to_string(ec.opts.evict.value_or(default_eviction)) + "]";
    auto m = registry::create(ec.opts, "string", "string");
    with_map(*m, [&](concurrent_map& c) {
      for (int i = 0; i < 100; ++i)
        c.put("pre" + num(i), std::string(ec.value_bytes, 'p'), nullptr);
      return 0;
    });
    std::map<std::string, std::string> model = contents(*m);  // the state the log starts from
    auto log = m->watch_log();
    auto o = log->subscribe({}, 0, change_log::max_buffer_bytes, nullptr);
    REQUIRE(o.sub);
    const int threads = 4;
    const long per = tmtest::scaled(3000);
    std::atomic<long> changes{0};
    tmtest::run_threads(threads, [&](int t) {
      std::uint64_t x = 0x9e3779b97f4a7c15ull * static_cast<std::uint64_t>(t + 1);
      for (long i = 0; i < per; ++i) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        const std::string key = "k" + num(x % 4000);
        std::string value =
            num(static_cast<std::uint64_t>(t)) + ":" + num(static_cast<std::uint64_t>(i));
        // Now and then, under maxMemory, a value larger than a stripe's
        // share of the budget: its stripe cannot free enough, so the write
        // evicts from the others (striped's cross-stripe path).
        const bool big = ec.opts.max_memory && (x >> 40) % 16 == 0;
        value.resize(std::max(value.size(), big ? std::size_t{24} << 10 : ec.value_bytes), 'v');
        const status st = with_map(*m, [&](concurrent_map& c) {
          switch ((x >> 20) % 8) {
            case 0:
              return c.erase(key, nullptr);
            case 1:
              return c.put_if_absent(key, value, nullptr);
            default:
              return c.put(key, value, nullptr);
          }
        });
        if (st == status::ok || st == status::inserted) changes.fetch_add(1);
      }
    });
    subscription::batch last;
    const std::vector<watch_event> got = drain(*o.sub, &last);
    CHECK(last.st == subscription::state::ok);
    std::map<std::string, std::uint64_t> prev;
    std::size_t evictions = 0, own = 0;
    for (const watch_event& e : got) {
      CHECK(e.revision > prev[e.key]);  // per key, in revision order (L2)
      prev[e.key] = e.revision;
      if (e.kind == event_kind::evict)
        ++evictions;
      else
        ++own;
    }
    CHECK(evictions > 0);  // the writes did evict, so the test tests something
    CHECK_EQ(own, static_cast<std::size_t>(changes.load()));  // one event per changing write
    const map_stats st = with_map(*m, [](concurrent_map& c) { return c.stats(); });
    CHECK(evictions <= st.evictions);  // the ones before subscribe are not in the log
    replay(got, model);
    CHECK(model == contents(*m));
    // A snapshot of the full cache is the map, and so is its refresh after
    // more evicting writes.
    auto s = snapshot::take(m);
    REQUIRE(s);
    CHECK(contents(*s) == contents(*m));
    with_map(*m, [&](concurrent_map& c) {
      for (int i = 0; i < 2000; ++i)
        c.put("more" + num(i), std::string(ec.value_bytes, 'm'), nullptr);
      return 0;
    });
    REQUIRE(s->refresh());
    CHECK(contents(*s) == contents(*m));
    s->close();
    o.sub->close();
    tmtest::current() = saved;
  }
}

// The claim of snapshot.hpp checked against an oracle: a subscription opened
// on the empty map, before any write, whose log replayed up to a revision R
// is the map at R. Every snapshot, as taken and after each refresh, must
// equal that replay at its own revision, while two writers set and delete
// keys in every unit of the map. The invariant test above cannot see a cut
// in the wrong place (a single writer's writes stay in order in any prefix
// of the log); this one can: a snapshot that misses a write at or below its
// revision, or holds one above it, differs from the replay.
STRATEGY_CASE("snapshot: each cut holds exactly the logged writes up to its revision") {
  auto m = make(cfg);
  auto log = m->watch_log();
  auto oracle = log->subscribe({}, 0, std::size_t{256} << 20, nullptr);
  REQUIRE(oracle.sub);
  std::map<std::string, std::string> model;  // the replay, up to `applied`
  std::vector<watch_event> pending;          // logged, above `applied`
  std::uint64_t applied = 0;
  // Brings the model to revision r (not below the last: cuts only move on).
  // Per key the log is in revision order and every event of a revision <= r
  // is logged before the cut returns, so applying those in log order and
  // keeping the rest is the replay up to r.
  auto model_at = [&](std::uint64_t r) -> const std::map<std::string, std::string>& {
    CHECK(r >= applied);
    subscription::batch last;
    std::vector<watch_event> got = drain(*oracle.sub, &last);
    CHECK(last.st == subscription::state::ok);  // the oracle kept up
    pending.insert(pending.end(), std::make_move_iterator(got.begin()),
                   std::make_move_iterator(got.end()));
    std::vector<watch_event> now, later;
    for (watch_event& e : pending) (e.revision <= r ? now : later).push_back(std::move(e));
    replay(now, model);
    pending = std::move(later);
    applied = r;
    return model;
  };
  std::atomic<bool> stop{false};
  std::atomic<long> writes{0};
  std::vector<std::thread> th;
  struct joiner {  // a REQUIRE that returns early still stops the writers
    std::atomic<bool>& stop;
    std::vector<std::thread>& th;
    ~joiner() {
      stop.store(true);
      for (auto& x : th)
        if (x.joinable()) x.join();
    }
  } join_writers{stop, th};
  for (int t = 0; t < 2; ++t)
    th.emplace_back([&, t] {
      std::uint64_t x = 0x9e3779b97f4a7c15ull * static_cast<std::uint64_t>(t + 1);
      for (std::uint64_t i = 0; !stop.load(std::memory_order_relaxed); ++i) {
        // Paced, so the oracle's replay keeps up (unpaced, two writers log
        // millions of events while one round replays the last round's).
        const auto next = std::chrono::steady_clock::now() + std::chrono::microseconds(1);
        while (std::chrono::steady_clock::now() < next) {
        }
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        const std::string key = "k" + num(x % 1000);
        with_map(*m, [&](concurrent_map& c) {
          return (x >> 32) % 4 == 0
                     ? c.erase(key, nullptr)
                     : c.put(key, num(static_cast<std::uint64_t>(t)) + ":" + num(i), nullptr);
        });
        writes.fetch_add(1, std::memory_order_relaxed);
      }
    });
  while (writes.load() < 2000) std::this_thread::yield();
  auto s = snapshot::take(m);
  REQUIRE(s);
  CHECK(contents(*s) == model_at(s->revision()));
  const long rounds = tmtest::scaled(200);
  const auto revision = [&] {
    return with_map(*m, [](concurrent_map& c) { return c.revision(); });
  };
  for (long i = 0; i < rounds; ++i) {
    // Until the writers wrote since the last cut, so every cut races them.
    while (revision() == s->revision()) std::this_thread::yield();
    REQUIRE(s->refresh());
    CHECK(contents(*s) == model_at(s->revision()));
    auto fresh = snapshot::take(m);
    REQUIRE(fresh);
    CHECK(contents(*fresh) == model_at(fresh->revision()));
  }
  stop.store(true);
  for (auto& x : th) x.join();
  CHECK(s->stats().events_applied >= std::uint64_t(rounds));
  REQUIRE(s->refresh());
  CHECK(contents(*s) == model_at(s->revision()));
  CHECK(contents(*s) == contents(*m));
  s->close();
  oracle.sub->close();
}

// --- the snapshot's copy (flat_table.hpp, "Copying for a snapshot") ---------------

namespace {

// What the copy hook runs on the copier's thread, halfway through an
// unlocked copy, and how often it was called.
std::function<void()> copy_interference;
std::atomic<int> copy_hook_calls{0};
void copy_hook(int site) {
  CHECK_EQ(site, int(detail::flat_table_test::copy_window));
  ++copy_hook_calls;
  if (copy_interference) copy_interference();
}

// Every value these tests write starts with its key and ':' (a torn copy
// would pair a key with another entry's bytes). Some are past the inline
// limit, so their slots hold blobs.
std::string value_for(const std::string& key, std::uint64_t n) {
  std::string v = key + ":" + num(n);
  if (n % 3 == 0) v.append(40, 'x');
  return v;
}

bool values_name_their_keys(const std::map<std::string, std::string>& m) {
  for (const auto& [k, v] : m)
    if (v.compare(0, k.size() + 1, k + ":") != 0) return false;
  return true;
}

std::uint64_t resizes(shared_map& m) {
  return with_map(m, [](concurrent_map& c) { return c.stats().resizes; });
}

}  // namespace

// Writes made halfway through an unlocked copy (inserts that grow and
// rebuild the stripe being copied, erasures, overwrites that move values
// between inline and blob slots) spoil it; the copy is retried, and after
// four spoiled attempts made once under the stripe lock. Either way the
// snapshot is the oracle's replay at its revision, and the hook's count
// shows which path ran: four calls for the first unit and one for each
// other when only the first three attempts are spoiled, four for every
// unit when all are.
TEST_CASE("snapshot: writes that grow and rebuild a stripe during its optimistic copy") {
  for (const tmtest::strategy_config& cfg : flat_table_configs()) {
    for (const bool always : {false, true}) {
      tmtest::current() = std::string(cfg.name) + (always ? ", every attempt spoiled" : "");
      auto m = make(cfg);
      auto log = m->watch_log();
      auto oracle = log->subscribe({}, 0, std::size_t{256} << 20, nullptr);
      REQUIRE(oracle.sub);
      with_map(*m, [](concurrent_map& c) {
        for (std::uint64_t i = 0; i < 3000; ++i)
          c.put("k" + num(i), value_for("k" + num(i), i), nullptr);
        return 0;
      });
      const std::size_t units = with_map(*m, [](concurrent_map& c) { return c.scan_units(); });
      std::uint64_t round = 0;
      copy_interference = [&] {
        if (!always && copy_hook_calls.load() > 3) return;
        ++round;
        with_map(*m, [&](concurrent_map& c) {
          for (std::uint64_t j = 0; j < 2000; ++j) {
            const std::string k = "n" + num(round) + "_" + num(j);
            c.put(k, value_for(k, j), nullptr);
          }
          for (std::uint64_t j = 0; j < 100; ++j) c.erase("k" + num(round * 100 + j), nullptr);
          for (std::uint64_t j = 0; j < 100; ++j) {
            const std::string k = "k" + num(2000 + (round * 37 + j) % 1000);
            c.put(k, value_for(k, round + j), nullptr);
          }
          return 0;
        });
      };
      const std::uint64_t grown = resizes(*m);
      copy_hook_calls = 0;
      detail::flat_table_test::set_pause_hook(&copy_hook);
      auto s = snapshot::take(m, 0, snapshot::copying::eager);  // the eager copy is under test
      detail::flat_table_test::set_pause_hook(nullptr);
      copy_interference = nullptr;
      REQUIRE(s);
      CHECK(resizes(*m) > grown);  // a stripe was rebuilt while it was being copied
      CHECK_EQ(copy_hook_calls.load(), always ? int(4 * units) : int(units + 3));
      CHECK_EQ(s->stats().retries, std::uint64_t{0});
      std::map<std::string, std::string> model;
      replay(drain(*oracle.sub), model);
      CHECK(contents(*s) == model);
      CHECK(contents(*s) == contents(*m));
      CHECK(values_name_their_keys(contents(*s)));
      s->close();
      oracle.sub->close();
    }
  }
}

// Writers that erase keys and insert others, so slots are emptied and
// refilled with other keys of other lengths, inline and in blobs, while
// snapshots are taken: an optimistic copy that used a slot a writer was
// changing would pair a key with bytes of another entry.
TEST_CASE("snapshot: optimistic copies under writers that reuse slots show no torn entry") {
  for (const tmtest::strategy_config& cfg : flat_table_configs()) {
    tmtest::current() = cfg.name;
    auto m = make(cfg);
    std::atomic<bool> stop{false};
    std::vector<std::thread> th;
    for (int t = 0; t < 2; ++t)
      th.emplace_back([&, t] {
        for (std::uint64_t i = 0; !stop.load(std::memory_order_relaxed); ++i) {
          const std::string gone = "w" + num(t) + "-" + num((i + 150) % 300);
          const std::string key = "w" + num(t) + "-" + num(i % 300) + std::string(i % 7, 'k');
          with_map(*m, [&](concurrent_map& c) {
            c.erase(gone, nullptr);
            for (std::uint64_t pad = 0; pad < 7; ++pad)
              c.erase(gone + std::string(pad, 'k'), nullptr);
            return c.put(key, value_for(key, i), nullptr);
          });
        }
      });
    const long takes = tmtest::scaled(40);
    for (long i = 0; i < takes; ++i) {
      auto s = snapshot::take(m, 0, snapshot::copying::eager);
      REQUIRE(s);
      CHECK(values_name_their_keys(contents(*s)));
      s->close();
    }
    stop.store(true);
    for (auto& x : th) x.join();
  }
}

// Closing a snapshot while writers write through the wrapper: as the last
// subscription it unwatches the map (the ring is let go after the log's
// locks); beside a watch with a larger buffer it leaves that watch's log
// whole; beside one with the smallest buffer the ring shrinks to it at
// once and the watch, which read nothing, is told it fell behind. Every write is in the map,
// the whole watch replays to the map, and a subscription opened after sees
// exactly the writes after.
TEST_CASE("snapshot: closing one under writers leaves the map and the log right") {
  enum { alone, big_watch, small_watch };
  for (const int mode : {alone, big_watch, small_watch}) {
    const bool watched = mode != alone;
    tmtest::current() = mode == alone       ? "the last subscription"
                        : mode == big_watch ? "beside a watch"
                                            : "beside a watch with a small buffer";
    options o;
    o.strategy = strategy_kind::striped;
    auto m = registry::create(o, "string", "string");
    auto log = m->watch_log();
    std::shared_ptr<subscription> watch;
    if (watched) {
      watch =
          log->subscribe({}, 0,
                         mode == big_watch ? std::size_t{256} << 20 : change_log::min_buffer_bytes,
                         nullptr)
              .sub;
      REQUIRE(watch);
    }
    constexpr std::uint64_t keys = 500;
    std::atomic<bool> stop{false};
    std::uint64_t written[2] = {0, 0};
    std::vector<std::thread> th;
    for (int t = 0; t < 2; ++t)
      th.emplace_back([&, t] {
        std::uint64_t i = 0;
        for (; !stop.load(std::memory_order_relaxed); ++i) {
          const std::string key = num(static_cast<std::uint64_t>(t)) + ":" + num(i % keys);
          with_map(*m, [&](concurrent_map& c) { return c.put(key, num(i), nullptr); });
        }
        written[t] = i;
      });
    while (with_map(*m, [](concurrent_map& c) { return c.size(); }) < 2 * keys)
      std::this_thread::yield();
    auto s = snapshot::take(m, std::size_t{64} << 20);
    REQUIRE(s);
    std::this_thread::sleep_for(std::chrono::milliseconds(30));  // the ring fills
    s->close();
    const change_log::counters closed = log->stats();
    CHECK_EQ(log->active(), watched);
    CHECK_EQ(closed.subscribers, std::size_t(watched ? 1 : 0));
    if (!watched) CHECK_EQ(closed.events, std::size_t{0});
    if (mode == small_watch) {
      CHECK_EQ(closed.limit, change_log::min_buffer_bytes);
      CHECK(closed.bytes <= change_log::min_buffer_bytes);
      CHECK(closed.dropped > std::uint64_t{100});  // the ring had grown for the snapshot
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    stop.store(true);
    for (auto& x : th) x.join();
    std::map<std::string, std::string> expected;
    for (std::uint64_t t = 0; t < 2; ++t)
      for (std::uint64_t i = written[t] > keys ? written[t] - keys : 0; i < written[t]; ++i)
        expected[num(t) + ":" + num(i % keys)] = num(i);
    CHECK(contents(*m) == expected);
    if (mode == big_watch) {
      subscription::batch last;
      std::map<std::string, std::string> replayed;
      replay(drain(*watch, &last), replayed);
      CHECK(last.st == subscription::state::ok);
      CHECK(replayed == expected);
    }
    if (mode == small_watch) {
      std::vector<watch_event> out;
      const subscription::batch b = watch->read(out, 10, false);
      CHECK(b.st == subscription::state::compacted);
      CHECK_EQ(b.oldest, log->stats().oldest);
    }
    if (watch) watch->close();
    auto after = log->subscribe({}, 0, 0, nullptr);
    REQUIRE(after.sub);
    with_map(*m, [](concurrent_map& c) { return c.put("after", "1", nullptr); });
    const std::vector<watch_event> ev = drain(*after.sub);
    REQUIRE(ev.size() == 1);
    CHECK_EQ(ev[0].key, std::string("after"));
    after.sub->close();
    CHECK(!log->active());
  }
}

TEST_MAIN

// --- lazy snapshots (snapshot.hpp, LAZY) ------------------------------------------

// The log's activation against a write in flight (watch.hpp, ACTIVATION): a
// lockfree write draws its revision before the CAS that makes it take
// effect. Writer A parks in its CAS window holding the plain pointer, so the
// first subscription's swap waits for it; writer B starts after the swap
// (through the wrapper) and parks in its CAS window too, its revision drawn;
// then A is let go and the log starts, at a revision at or above B's, so
// B's event will be dropped. The snapshot taken by that subscription must
// then hold B's write: before activation waited for B, take() returned
// while B was parked, its copy read the old value, and the snapshot said
// "every write up to revision R" without B's, for good.
using two_parkers = tmtest::parking<2>;  // role 1: writer A, 2: writer B

TEST_CASE("snapshot: a lockfree write in flight while the log starts is in the snapshot") {
  threadmap::options o;
  o.strategy = threadmap::strategy_kind::lockfree;
  auto m = threadmap::registry::create(o, "string", "string");
  with_map(*m, [](concurrent_map& c) {
    c.put("a", "a0", nullptr);
    return c.put("b", "b0", nullptr);
  });
  const concurrent_map* plain = with_map(*m, [](concurrent_map& c) { return &c; });
  two_parkers::arm(threadmap::lockfree_test::cas_window);
  std::thread a([&] {
    two_parkers::role = 1;
    with_map(*m, [](concurrent_map& c) { return c.put("a", "a1", nullptr); });
  });
  REQUIRE(two_parkers::wait_parked(1));
  std::unique_ptr<snapshot> s;
  std::atomic<bool> taken{false};
  std::thread taker([&] {
    s = snapshot::take(m, 0, snapshot::copying::eager);
    taken.store(true);
  });
  // The swap to the wrapper is published before take() waits for A.
  bool swapped = false;
  for (int i = 0; i < 60000 && !swapped; ++i) {
    swapped = with_map(*m, [&](concurrent_map& c) { return &c != plain; });
    if (!swapped) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  REQUIRE(swapped);
  std::thread b([&] {
    two_parkers::role = 2;
    with_map(*m, [](concurrent_map& c) { return c.put("b", "b1", nullptr); });
  });
  REQUIRE(two_parkers::wait_parked(2));
  two_parkers::release(1);
  a.join();
  // take() returns now only if it does not wait for B: give it the time.
  for (int i = 0; i < 300 && !taken.load(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  two_parkers::release(2);
  b.join();
  taker.join();
  two_parkers::disarm();
  REQUIRE(s);
  std::string now;
  std::uint64_t b_revision = 0;
  REQUIRE(with_map(*m, [&](concurrent_map& c) { return c.peek("b", &now, &b_revision); }));
  CHECK_EQ(now, std::string("b1"));
  const std::string* in_snapshot = s->find("b");
  REQUIRE(in_snapshot);
  // The snapshot is every write up to its revision: B's is one of them.
  CHECK(s->revision() >= b_revision);
  CHECK_EQ(*in_snapshot, std::string("b1"));
  CHECK_EQ(*s->find("a"), std::string("a1"));
  s->close();
}

// Snapshots taken, read and closed in two threads while two writers write,
// then one left open across the map's close: each one holds the writers'
// invariant and its own size, claims on the same stripes come and go from
// several snapshots at once, and the one open when the map closes is
// settled by the close and stays readable. Lazy where the strategy allows,
// eager elsewhere (the same checks).
STRATEGY_CASE(
    "snapshot: lazy ones taken and closed in several threads under writers, then the map closed") {
  auto m = make(cfg);
  constexpr std::uint64_t fill = 3000;
  with_map(*m, [&](concurrent_map& c) {
    for (std::uint64_t t = 0; t < 2; ++t) {
      c.put("a" + num(t), "0", nullptr);
      c.put("b" + num(t), "0", nullptr);
    }
    for (std::uint64_t i = 0; i < fill; ++i) c.put("f" + num(i), "x", nullptr);
    return 0;
  });
  std::atomic<bool> stop{false};
  std::vector<std::thread> th;
  for (std::uint64_t t = 0; t < 2; ++t)
    th.emplace_back([&, t] {
      for (std::uint64_t n = 1; !stop.load(std::memory_order_relaxed); ++n)
        with_map(*m, [&](concurrent_map& c) {
          c.put("a" + num(t), num(n), nullptr);
          c.put("f" + num(n % fill), num(n), nullptr);
          return c.put("b" + num(t), num(n), nullptr);
        });
    });
  std::atomic<int> bad{0};
  // What the first wrong observation was, printed if there was one.
  std::mutex first_mu;
  std::string first;
  const auto wrong = [&](const std::string& what) {
    if (bad.fetch_add(1) != 0) return;
    const std::lock_guard<std::mutex> l(first_mu);
    first = what;
  };
  std::vector<std::thread> readers;
  for (int r = 0; r < 2; ++r)
    readers.emplace_back([&, r] {
      for (int i = 0; i < 40; ++i) {
        auto s = snapshot::take(m);
        if (!s) {
          wrong("take() returned no snapshot");
          continue;
        }
        if ((i + r) % 3 != 0) {  // else closed with every claim still pending
          for (std::uint64_t t = 0; t < 2; ++t) {
            const std::string* a = s->find("a" + num(t));
            const std::string* b = s->find("b" + num(t));
            if (!a || !b) {
              wrong(std::string("writer ") + num(t) + (a ? "" : ": a missing") +
                    (b ? "" : ": b missing"));
              continue;
            }
            const std::uint64_t x = std::stoull(*a), y = std::stoull(*b);
            if (x != y && x != y + 1)
              wrong("writer " + num(t) + ": a " + *a + ", b " + *b + " at revision " +
                    std::to_string(s->revision()));
          }
          const std::size_t size = s->size(), listed = contents(*s).size();
          if (size != fill + 4 || listed != fill + 4)
            wrong("size() " + std::to_string(size) + ", entries " + std::to_string(listed));
        }
        s->close();
      }
    });
  for (auto& x : readers) x.join();
  if (bad.load() != 0)
    std::fprintf(stderr, "  %d wrong, the first: %s\n", bad.load(), first.c_str());
  CHECK_EQ(bad.load(), 0);
  auto kept = snapshot::take(m);  // taken under the writers, read after the map closed
  REQUIRE(kept);
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  stop.store(true);
  for (auto& x : th) x.join();
  const std::map<std::string, std::string> now = contents(*m);
  auto pending = snapshot::take(m);  // nothing written since: every claim stays pending
  REQUIRE(pending);
  CHECK(m->close());
  CHECK(!pending->refresh());
  CHECK_EQ(pending->size(), std::size_t(fill + 4));
  CHECK(contents(*pending) == now);
  const std::map<std::string, std::string> k = contents(*kept);
  CHECK_EQ(k.size(), std::size_t(fill + 4));
  for (std::uint64_t t = 0; t < 2; ++t) {
    const std::uint64_t x = std::stoull(k.at("a" + num(t))), y = std::stoull(k.at("b" + num(t)));
    CHECK((x == y || x == y + 1));
  }
  pending->close();
  kept->close();
}
