// Expiry (options::ttl, issue 15 part 2): every read hides an expired entry
// at once, writes treat it as absent, remaining_ttl, per-write ttls (put_for
// and the atomic writes' *_for, add_for's window, through a watched map
// too), no_update_ttl, reclamation by sweeps and purge_expired (with the memory
// and the stats that follow), eviction preferring expired entries, the
// strategies that refuse a ttl, concurrent writers and sweepers under a
// moving clock (TSan), and a watched map whose log, expire events
// included, replays to the map. The clock is the map's manual one
// (options::manual_clock): no test sleeps.
#include <algorithm>
#include <atomic>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "check.hpp"
#include "threadmap/epoch.hpp"
#include "threadmap/factory.hpp"
#include "threadmap/registry.hpp"
#include "threadmap/snapshot.hpp"
#include "threadmap/watch.hpp"

using namespace threadmap;

namespace {

std::string num(std::uint64_t i) {
  return std::to_string(i);
}

// The flat-table strategies (the ones that expire), striped also with one stripe.
std::vector<tmtest::strategy_config> timed_configs(std::uint64_t ttl) {
  std::vector<tmtest::strategy_config> v;
  for (const tmtest::strategy_config& c : tmtest::strategies()) {
    if (!supports_expiry(c.opts.strategy)) continue;
    tmtest::strategy_config t = c;
    t.opts.ttl = ttl;
    t.opts.manual_clock = true;
    v.push_back(t);
  }
  return v;
}

template <class F>
void each_timed(std::uint64_t ttl, F&& f) {
  for (const tmtest::strategy_config& c : timed_configs(ttl)) {
    const std::string saved = tmtest::current();
    tmtest::current() = saved + " [" + c.name + "]";
    f(c.opts);
    tmtest::current() = saved;
  }
}

std::map<std::string, std::string> contents(concurrent_map& c) {
  std::map<std::string, std::string> r;
  epoch::guard g;
  std::string buf;
  for (std::size_t u = 0; u < c.scan_units(); ++u) {
    buf.clear();
    c.scan(u, buf);
    scan_reader rd(buf);
    scan_record rec;
    while (rd.next(rec)) r[std::string(rec.key)] = std::string(rec.value);
  }
  return r;
}

// The tests' pseudo-random sequence (xorshift64).
std::uint64_t next(std::uint64_t& x) {
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  return x;
}

std::uint64_t remaining(concurrent_map& m, bytes key) {
  std::uint64_t ms = 12345;
  return m.remaining_ttl(key, &ms) ? ms : 0;
}

}  // namespace

TEST_CASE("ttl: an expired entry is absent to every read and every write at once") {
  each_timed(100, [](const options& o) {
    auto m = make_map(o);
    const std::string big(300, 'b');  // out of line: its blob is freed when reclaimed
    CHECK(m->put("a", "1", nullptr) == status::inserted);
    CHECK(m->put("blob", big, nullptr) == status::inserted);
    CHECK(m->put_for("forever", "f", nullptr, 0) == status::inserted);
    CHECK(m->put_for("long", "l", nullptr, 500) == status::inserted);
    CHECK(m->add("n", counter_kind::i64, counter{.i = 5}, {}, nullptr) == status::inserted);
    CHECK(m->put("b", "2", nullptr) == status::inserted);
    CHECK(m->put("c", "3", nullptr) == status::inserted);
    CHECK_EQ(remaining(*m, "a"), std::uint64_t{100});
    CHECK_EQ(remaining(*m, "forever"), no_expiry);
    CHECK_EQ(remaining(*m, "long"), std::uint64_t{500});
    CHECK_EQ(remaining(*m, "missing"), std::uint64_t{0});
    const std::size_t bytes_before = m->stats().bytes;
    REQUIRE(m->advance_manual_clock(99));
    CHECK(m->get("a", nullptr));
    CHECK_EQ(remaining(*m, "a"), std::uint64_t{1});
    REQUIRE(m->advance_manual_clock(1));  // a's deadline: expired from here on
    std::string out = "untouched";
    std::uint64_t rev = 0;
    CHECK(!m->get("a", &out, &rev));
    CHECK_EQ(out, std::string("untouched"));
    CHECK(!m->peek("a", nullptr));
    CHECK_EQ(m->revision_of("a"), std::uint64_t{0});
    CHECK_EQ(remaining(*m, "a"), std::uint64_t{0});
    CHECK(!m->get("blob", nullptr));
    {
      const bytes keys[] = {"a", "forever", "blob", "long"};
      std::string outs[4];
      bool found[4];
      m->get_many(keys, 4, outs, found);
      CHECK(!found[0]);
      CHECK(found[1]);
      CHECK(!found[2]);
      CHECK(found[3]);
    }
    const auto live = contents(*m);
    CHECK_EQ(live.size(), std::size_t{2});
    CHECK(live.count("forever") == 1);
    CHECK(live.count("long") == 1);
    // size counts what is not reclaimed yet (lru-cache's size does too).
    CHECK_EQ(m->size(), std::size_t{7});
    // Writes: absent, and each reclaims the expired entry of its key.
    CHECK(m->put_if_absent("a", "new", nullptr) == status::inserted);
    CHECK(m->erase("b", nullptr) == status::not_found);
    const bytes expected = "3";
    CHECK(m->compare_and_set("c", &expected, nullptr, nullptr) == status::not_found);
    counter r{};
    CHECK(m->add("n", counter_kind::i64, counter{.i = 2}, {}, &r) == status::inserted);
    CHECK_EQ(r.i, std::int64_t{2});                    // from zero, not from the expired 5
    CHECK_EQ(remaining(*m, "a"), std::uint64_t{100});  // the new entry's own ttl
    // blob is the one expired entry left unless a write's sweep got to it
    // first (one stripe: the sweeps cover it); purge reclaims it and its bytes.
    CHECK(m->purge_expired() <= std::size_t{1});
    CHECK_EQ(m->purge_expired(), std::size_t{0});
    CHECK_EQ(m->size(), std::size_t{4});  // a, n, forever, long
    const map_stats st = m->stats();
    CHECK_EQ(st.expirations, std::uint64_t{5});
    CHECK(st.bytes + big.size() <= bytes_before);
    CHECK(!m->get("blob", nullptr));
    REQUIRE(m->advance_manual_clock(400));  // long's deadline
    CHECK(!m->get("long", nullptr));
    CHECK(m->get("forever", nullptr));
  });
}

TEST_CASE("ttl: ttl 0 prepares a map for per-write ttls; set resets the deadline") {
  each_timed(0, [](const options& o) {
    auto m = make_map(o);
    m->put("plain", "p", nullptr);
    m->put_for("short", "s", nullptr, 10);
    CHECK_EQ(remaining(*m, "plain"), no_expiry);
    m->advance_manual_clock(5);
    m->put_for("short", "s2", nullptr, 10);  // an overwrite sets its own deadline
    CHECK_EQ(remaining(*m, "short"), std::uint64_t{10});
    m->advance_manual_clock(9);
    CHECK(m->get("short", nullptr));
    m->put("short", "s3", nullptr);  // the map's default: no deadline
    CHECK_EQ(remaining(*m, "short"), no_expiry);
    m->advance_manual_clock(1000);
    CHECK(m->get("short", nullptr));
    CHECK(m->get("plain", nullptr));
  });
}

TEST_CASE("ttl: no_update_ttl keeps an entry's deadline across overwrites") {
  for (const tmtest::strategy_config& c : timed_configs(50)) {
    options o = c.opts;
    o.no_update_ttl = true;
    auto m = make_map(o);
    m->put("k", "1", nullptr);
    m->advance_manual_clock(30);
    m->put("k", "2", nullptr);
    counter r{};
    CHECK(m->add("n", counter_kind::i64, counter{.i = 1}, {}, &r) == status::inserted);
    CHECK_EQ(remaining(*m, "k"), std::uint64_t{20});
    m->advance_manual_clock(20);
    CHECK(!m->get("k", nullptr));
    // A new key (the expired one's too) gets a fresh deadline.
    m->put("k", "3", nullptr);
    CHECK_EQ(remaining(*m, "k"), std::uint64_t{50});
    m->add("n", counter_kind::i64, counter{.i = 1}, {}, &r);  // a rate limiter's window
    CHECK_EQ(r.i, std::int64_t{2});
    CHECK_EQ(remaining(*m, "n"), std::uint64_t{30});
  }
}

TEST_CASE("ttl: the atomic writes' own ttls; a write that stores nothing keeps the deadline") {
  each_timed(100, [](const options& o) {
    auto m = make_map(o);
    std::string seen;
    // put_if_absent_for: its ttl when it inserts; a present key keeps both.
    CHECK(m->put_if_absent_for("a", "1", nullptr, 30) == status::inserted);
    CHECK_EQ(remaining(*m, "a"), std::uint64_t{30});
    CHECK(m->put_if_absent_for("a", "2", &seen, 500) == status::exists);
    CHECK_EQ(seen, std::string("1"));
    CHECK(m->put_if_absent("a", "2", nullptr) == status::exists);
    CHECK_EQ(remaining(*m, "a"), std::uint64_t{30});
    // compare_and_set_for: its ttl when it stores, nothing when it fails.
    const bytes one = "1", two = "2", three = "3";
    CHECK(m->compare_and_set_for("c", nullptr, &one, nullptr, 20) == status::inserted);
    CHECK_EQ(remaining(*m, "c"), std::uint64_t{20});
    CHECK(m->compare_and_set_for("c", &two, &three, &seen, 70) == status::mismatch);
    CHECK(m->compare_and_set_for("c", nullptr, &three, &seen, 70) == status::mismatch);
    CHECK_EQ(remaining(*m, "c"), std::uint64_t{20});
    CHECK(m->compare_and_set_for("c", &one, &two, nullptr, 40) == status::ok);
    CHECK_EQ(remaining(*m, "c"), std::uint64_t{40});
    CHECK(m->compare_and_set_for("c", &two, &three, nullptr, default_ttl) == status::ok);
    CHECK_EQ(remaining(*m, "c"), std::uint64_t{100});  // the map's, as compare_and_set
    // add_for: the window from the add that creates the counter.
    counter r{};
    CHECK(m->add_for("n", counter_kind::i64, counter{.i = 1}, {}, &r, 50) == status::inserted);
    CHECK_EQ(remaining(*m, "n"), std::uint64_t{50});
    REQUIRE(m->advance_manual_clock(10));
    CHECK(m->add_for("n", counter_kind::i64, counter{.i = 1}, {}, &r, 500) == status::ok);
    CHECK_EQ(r.i, std::int64_t{2});
    CHECK_EQ(remaining(*m, "n"), std::uint64_t{40});
    CHECK_EQ(remaining(*m, "a"), std::uint64_t{20});
    REQUIRE(m->advance_manual_clock(20));  // a's deadline, exactly
    CHECK(!m->get("a", nullptr));
    CHECK(m->get("n", nullptr));
    REQUIRE(m->advance_manual_clock(20));  // n's
    CHECK(!m->get("n", nullptr));
    CHECK(m->add_for("n", counter_kind::i64, counter{.i = 1}, {}, &r, 5) == status::inserted);
    CHECK_EQ(r.i, std::int64_t{1});  // a new window counts from zero
    CHECK_EQ(remaining(*m, "n"), std::uint64_t{5});
    CHECK(m->add("n", counter_kind::i64, counter{.i = 1}, {}, &r) == status::ok);
    CHECK_EQ(remaining(*m, "n"), std::uint64_t{100});  // add() overwrites by the map's rule
    // 0: never; past the longest: the longest; default_ttl: the map's.
    CHECK(m->put_if_absent_for("never", "x", nullptr, 0) == status::inserted);
    CHECK_EQ(remaining(*m, "never"), no_expiry);
    CHECK(m->put_if_absent_for("long", "x", nullptr, max_ttl_ms + 1) == status::inserted);
    CHECK_EQ(remaining(*m, "long"), max_ttl_ms);
    CHECK(m->put_if_absent_for("default", "x", nullptr, default_ttl) == status::inserted);
    CHECK_EQ(remaining(*m, "default"), std::uint64_t{100});
    CHECK(m->put_for("put", "x", nullptr, default_ttl) == status::inserted);
    CHECK_EQ(remaining(*m, "put"), std::uint64_t{100});
  });
}

TEST_CASE("ttl: no_update_ttl keeps the deadline on timed overwrites; add_for always") {
  for (const tmtest::strategy_config& c : timed_configs(50)) {
    options o = c.opts;
    o.no_update_ttl = true;
    auto m = make_map(o);
    const bytes one = "1", two = "2";
    CHECK(m->compare_and_set_for("k", nullptr, &one, nullptr, 30) == status::inserted);
    m->advance_manual_clock(10);
    CHECK(m->compare_and_set_for("k", &one, &two, nullptr, 5) == status::ok);
    CHECK(m->put_for("k", "3", nullptr, 5) == status::ok);
    CHECK_EQ(remaining(*m, "k"), std::uint64_t{20});
    counter r{};
    CHECK(m->add_for("n", counter_kind::i64, counter{.i = 1}, {}, &r, 30) == status::inserted);
    CHECK(m->add("n", counter_kind::i64, counter{.i = 1}, {}, &r) == status::ok);
    CHECK_EQ(remaining(*m, "n"), std::uint64_t{30});
  }
}

TEST_CASE("ttl: strategies that cannot expire take the timed writes as the untimed ones") {
  for (const tmtest::strategy_config& c : tmtest::strategies()) {
    if (supports_expiry(c.opts.strategy)) continue;
    tmtest::current() = std::string("untimed [") + c.name + "]";
    auto m = make_map(c.opts);
    const bytes one = "1", two = "2";
    CHECK(m->put_if_absent_for("a", "1", nullptr, 5) == status::inserted);
    CHECK(m->compare_and_set_for("c", nullptr, &one, nullptr, 5) == status::inserted);
    CHECK(m->compare_and_set_for("c", &one, &two, nullptr, 5) == status::ok);
    counter r{};
    CHECK(m->add_for("n", counter_kind::i64, counter{.i = 2}, {}, &r, 5) == status::inserted);
    CHECK(m->add_for("n", counter_kind::i64, counter{.i = 2}, {}, &r, 5) == status::ok);
    CHECK_EQ(r.i, std::int64_t{4});
    std::string got;
    CHECK(m->get("c", &got) && got == "2");
    CHECK_EQ(remaining(*m, "a"), no_expiry);
    CHECK(!m->advance_manual_clock(10));
  }
}

TEST_CASE("ttl: strategies that cannot expire refuse a ttl; the others refuse one too long") {
  for (strategy_kind k : all_strategies) {
    options o;
    o.strategy = k;
    o.ttl = 10;
    bool threw = false;
    try {
      make_map(o);
    } catch (const std::invalid_argument&) {
      threw = true;
    }
    CHECK_EQ(threw, !supports_expiry(k));
    if (supports_expiry(k)) {
      o.ttl = max_ttl_ms + 1;
      threw = false;
      try {
        make_map(o);
      } catch (const std::invalid_argument&) {
        threw = true;
      }
      CHECK(threw);
    } else {
      // Their answers without a ttl: no deadline, nothing to purge, no clock.
      o.ttl.reset();
      auto m = make_map(o);
      m->put("k", "v", nullptr);
      CHECK_EQ(remaining(*m, "k"), no_expiry);
      CHECK_EQ(m->purge_expired(), std::size_t{0});
      CHECK(!m->advance_manual_clock(1));
    }
  }
}

TEST_CASE("ttl: a full cache reclaims an expired entry before it evicts a live one") {
  for (strategy_kind k : {strategy_kind::mutex, strategy_kind::rwlock, strategy_kind::striped}) {
    for (eviction_kind e : all_eviction_kinds) {
      options o;
      o.strategy = k;
      o.max_entries = 64;  // striped: one stripe of 64
      o.evict = e;
      o.ttl = 0;
      o.manual_clock = true;
      auto m = make_map(o);
      for (int i = 0; i < 64; ++i)
        m->put_for("k" + num(i), "v", nullptr, i % 8 == 0 ? 10 : 0);  // 8 of them expire
      CHECK_EQ(m->size(), std::size_t{64});
      m->advance_manual_clock(10);
      for (int i = 0; i < 8; ++i) m->put("new" + num(i), "n", nullptr);
      const map_stats st = m->stats();
      CHECK_EQ(st.evictions, std::uint64_t{0});
      CHECK_EQ(st.expirations, std::uint64_t{8});
      int live = 0;
      for (int i = 0; i < 64; ++i) live += m->get("k" + num(i), nullptr) ? 1 : 0;
      CHECK_EQ(live, 56);
      CHECK_EQ(m->size(), std::size_t{64});
    }
  }
}

TEST_CASE("ttl: maxMemory reclaims expired blobs before it evicts or refuses") {
  for (strategy_kind k : {strategy_kind::mutex, strategy_kind::striped}) {
    options o;
    o.strategy = k;
    o.stripes = 1;
    o.max_memory = std::size_t{64} << 10;
    o.ttl = 5;
    o.manual_clock = true;
    auto m = make_map(o);
    const std::string value(1000, 'x');
    int stored = 0;
    for (int i = 0; i < 1000 && m->put("k" + num(i), value, nullptr) == status::inserted; ++i)
      ++stored;
    CHECK(stored > 10);
    CHECK(m->put("one-more", value, nullptr) == status::memory_limit);  // no policy: refuses
    m->advance_manual_clock(5);
    // Everything has expired: the budget is found by reclaiming, not refused.
    for (int i = 0; i < stored; ++i)
      CHECK(m->put("again" + num(i), value, nullptr) == status::inserted);
    CHECK(m->stats().expirations >= static_cast<std::uint64_t>(stored - 1));
  }
}

TEST_CASE("ttl: concurrent writers, readers and a moving clock (TSan)") {
  each_timed(20, [](const options& o) {
    auto m = make_map(o);
    const long per = tmtest::scaled(20000);
    std::atomic<int> done{0};
    std::atomic<long> bad{0};
    tmtest::run_threads(4, [&](int t) {
      std::uint64_t x = 0x9e3779b97f4a7c15ull * static_cast<std::uint64_t>(t + 1);
      if (t == 3) {
        // The clock thread, also a reader: a value it reads is never one
        // whose ttl (the value's first bytes) had passed when it read.
        while (done.load() < 3) {
          m->advance_manual_clock(1);
          for (int i = 0; i < 50; ++i) {
            next(x);
            std::string v;
            std::uint64_t ms = 0;
            if (m->remaining_ttl("k" + num(x % 2000), &ms) && ms != no_expiry && ms > 40)
              bad.fetch_add(1);
            m->get("k" + num(x % 2000), &v);
          }
        }
        return;
      }
      for (long i = 0; i < per; ++i) {
        next(x);
        const std::string key = "k" + num(x % 2000);
        const std::string value((x >> 32) % 4 == 0 ? 100 : 4, 'v');
        switch ((x >> 20) % 6) {
          case 0:
            m->erase(key, nullptr);
            break;
          case 1:
            m->put_for(key, value, nullptr, (x >> 40) % 40 + 1);
            break;
          case 2:
            m->add("c" + num(x % 50), counter_kind::i64, counter{.i = 1}, {}, nullptr);
            break;
          default:
            m->put(key, value, nullptr);
        }
      }
      done.fetch_add(1);
    });
    CHECK_EQ(bad.load(), 0L);
    // Past every deadline: nothing is visible, and purging leaves nothing.
    m->advance_manual_clock(100);
    CHECK(contents(*m).empty());
    const std::size_t before = m->size();
    CHECK_EQ(m->purge_expired(), before);
    CHECK_EQ(m->size(), std::size_t{0});
    CHECK(m->stats().expirations >= before);
  });
}

namespace {

std::vector<watch_event> drain(subscription& s, subscription::batch* last) {
  std::vector<watch_event> out;
  subscription::batch b;
  do {
    b = s.read(out, 1000, false);
  } while (b.st == subscription::state::ok && b.more);
  *last = b;
  return out;
}

}  // namespace

TEST_CASE("ttl: a watched map logs expirations; its log replayed is the map") {
  std::vector<options> configs;
  for (const tmtest::strategy_config& c : timed_configs(15)) configs.push_back(c.opts);
  options bounded = configs.front();  // mutex, evicting too
  bounded.max_entries = 256;
  configs.push_back(bounded);
  for (const options& o : configs) {
    const std::string saved = tmtest::current();
    tmtest::current() = saved + " [" + to_string(o.strategy) + (o.max_entries ? " bounded]" : "]");
    auto m = registry::create(o, "string", "string");
    auto with = [&](auto&& f) {
      epoch::guard g;
      return f(*m->get());
    };
    with([](concurrent_map& c) {
      for (int i = 0; i < 100; ++i) c.put("pre" + num(i), "p", nullptr);
      return 0;
    });
    std::map<std::string, std::string> model = contents(*m->get());
    auto log = m->watch_log();
    auto sub = log->subscribe({}, 0, change_log::max_buffer_bytes, nullptr);
    REQUIRE(sub.sub);
    std::atomic<int> done{0};
    std::atomic<long> changes{0};
    const long per = tmtest::scaled(4000);
    tmtest::run_threads(4, [&](int t) {
      std::uint64_t x = 0x9e3779b97f4a7c15ull * static_cast<std::uint64_t>(t + 7);
      if (t == 3) {
        while (done.load() < 3) with([](concurrent_map& c) { return c.advance_manual_clock(1); });
        return;
      }
      for (long i = 0; i < per; ++i) {
        next(x);
        const std::string key = "k" + num(x % 1000);
        const std::string value = num(static_cast<std::uint64_t>(t)) + ":" + num(i);
        const status st = with([&](concurrent_map& c) {
          switch ((x >> 20) % 5) {
            case 0:
              return c.erase(key, nullptr);
            case 1:
              return c.put_for(key, value, nullptr, (x >> 40) % 30 + 1);
            case 2:
              return c.put_if_absent(key, value, nullptr);
            default:
              return c.put(key, value, nullptr);
          }
        });
        if (st == status::ok || st == status::inserted) changes.fetch_add(1);
      }
      done.fetch_add(1);
    });
    // The rest expire too, and purging reclaims them through the log.
    with([](concurrent_map& c) {
      c.advance_manual_clock(1000);
      return c.purge_expired();
    });
    subscription::batch last;
    const std::vector<watch_event> got = drain(*sub.sub, &last);
    CHECK(last.st == subscription::state::ok);
    std::map<std::string, std::uint64_t> prev;
    std::size_t expired = 0, own = 0, evicted = 0;
    // The log replayed onto the state it started from, as a snapshot does.
    for (const watch_event& e : got) {
      CHECK(e.revision > prev[e.key]);  // per key, in revision order
      prev[e.key] = e.revision;
      expired += e.kind == event_kind::expire;
      evicted += e.kind == event_kind::evict;
      own += e.kind == event_kind::set || e.kind == event_kind::erase;
      if (e.kind == event_kind::set)
        model[e.key] = e.value;
      else
        model.erase(e.key);  // no clear in this history
    }
    const map_stats st = with([](concurrent_map& c) { return c.stats(); });
    CHECK(expired > 0);
    CHECK_EQ(expired, static_cast<std::size_t>(st.expirations));
    CHECK_EQ(evicted, static_cast<std::size_t>(st.evictions));
    CHECK_EQ(own, static_cast<std::size_t>(changes.load()));
    CHECK(model == contents(*m->get()));
    CHECK(model.empty());  // every entry had a deadline, and all have passed
    // A snapshot applies an expiry as a delete.
    with([](concurrent_map& c) {
      c.put_for("soon", "s", nullptr, 5);
      c.put_for("kept", "k", nullptr, 0);
      return 0;
    });
    auto snap = snapshot::take(m);
    REQUIRE(snap);
    CHECK_EQ(snap->size(), std::size_t{2});
    with([](concurrent_map& c) {
      c.advance_manual_clock(5);
      return c.purge_expired();
    });
    REQUIRE(snap->refresh());
    CHECK_EQ(snap->size(), std::size_t{1});
    CHECK((snap->find("kept") != nullptr && snap->find("soon") == nullptr));
    snap->close();
    sub.sub->close();
    tmtest::current() = saved;
  }
}

// The watch wrapper forwards the timed atomic writes: their entries get
// their own deadlines (not the map's) and are logged, set then expire.
TEST_CASE("ttl: a watched map's atomic writes keep their own ttls and log their expiry") {
  for (const tmtest::strategy_config& c : timed_configs(1000)) {
    const std::string saved = tmtest::current();
    tmtest::current() = saved + " [" + c.name + "]";
    auto m = registry::create(c.opts, "string", "string");
    auto with = [&](auto&& f) {
      epoch::guard g;
      return f(*m->get());
    };
    auto log = m->watch_log();
    auto sub = log->subscribe({}, 0, change_log::max_buffer_bytes, nullptr);
    REQUIRE(sub.sub);
    const bytes v = "v";
    with([&](concurrent_map& w) {
      counter r{};
      CHECK(w.put_if_absent_for("pia", v, nullptr, 5) == status::inserted);
      CHECK(w.compare_and_set_for("cas", nullptr, &v, nullptr, 5) == status::inserted);
      CHECK(w.add_for("add", counter_kind::i64, counter{.i = 1}, {}, &r, 5) == status::inserted);
      CHECK(w.put_if_absent("plain", v, nullptr) == status::inserted);
      CHECK_EQ(remaining(w, "pia"), std::uint64_t{5});
      CHECK_EQ(remaining(w, "cas"), std::uint64_t{5});
      CHECK_EQ(remaining(w, "add"), std::uint64_t{5});
      CHECK_EQ(remaining(w, "plain"), std::uint64_t{1000});
      w.advance_manual_clock(5);
      return w.purge_expired();
    });
    subscription::batch last;
    const std::vector<watch_event> got = drain(*sub.sub, &last);
    std::map<std::string, std::vector<event_kind>> kinds;
    for (const watch_event& e : got) kinds[e.key].push_back(e.kind);
    for (const char* k : {"pia", "cas", "add"}) {
      CHECK(kinds[k] == (std::vector<event_kind>{event_kind::set, event_kind::expire}));
    }
    CHECK(kinds["plain"] == std::vector<event_kind>{event_kind::set});
    sub.sub->close();
    tmtest::current() = saved;
  }
}

TEST_MAIN
