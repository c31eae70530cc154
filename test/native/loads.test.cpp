// The load table behind fetch (loads.hpp): claim, settle, abandon, cancel,
// deadlines driven by an injected clock, close, and racing threads.
#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "check.hpp"
#include "threadmap/registry.hpp"

using namespace threadmap;
using namespace std::chrono_literals;
using clock_type = load_table::clock;
using role = load_table::role;

namespace {

// Records every wake; waits for one with a bound (a missing wake is a
// failure, not a hang).
struct recorder : load_waiter {
  std::mutex m;
  std::condition_variable cv;
  std::vector<load_result> got;
  void wake(const std::shared_ptr<const load_result>& r) noexcept override {
    std::lock_guard lock(m);
    got.push_back(*r);
    cv.notify_all();
  }
  std::size_t count() {
    std::lock_guard lock(m);
    return got.size();
  }
  bool wait_one(load_result& out, std::chrono::milliseconds bound = 10s) {
    std::unique_lock lock(m);
    if (!cv.wait_for(lock, bound, [&] { return !got.empty(); })) return false;
    out = got.front();
    return true;
  }
};

const clock_type::time_point t0{};

}  // namespace

TEST_CASE("loads: the first claim owns, the others wait and get the value once") {
  load_table t;
  auto a = std::make_shared<recorder>(), b = std::make_shared<recorder>(),
       c = std::make_shared<recorder>();
  auto own = t.claim("k", t0, 100ms, a);
  CHECK(own.r == role::owner);
  CHECK(own.deadline == t0 + 100ms);
  auto w1 = t.claim("k", t0 + 1ms, 5s, b);
  auto w2 = t.claim("k", t0 + 2ms, 5s, c);
  CHECK(w1.r == role::waiter);
  CHECK(w2.r == role::waiter);
  CHECK_EQ(w1.token, own.token);
  CHECK(w1.deadline == own.deadline);  // the claim's deadline, not the waiter's
  // Another key is independent.
  auto other = t.claim("j", t0, 100ms, nullptr);
  CHECK(other.r == role::owner);
  CHECK(other.token != own.token);
  CHECK(t.settle(own.token, {load_outcome::value, "v1"}, t0 + 10ms));
  CHECK_EQ(b->count(), std::size_t{1});
  CHECK_EQ(c->count(), std::size_t{1});
  CHECK(b->got[0].kind == load_outcome::value);
  CHECK_EQ(b->got[0].bytes, std::string("v1"));
  CHECK_EQ(a->count(), std::size_t{0});  // the owner's watcher hears only close()
  // Ended: settling again changes nothing, and the key can be claimed anew.
  CHECK(!t.settle(own.token, {load_outcome::value, "v2"}, t0 + 11ms));
  CHECK_EQ(b->count(), std::size_t{1});
  auto again = t.claim("k", t0 + 12ms, 100ms, nullptr);
  CHECK(again.r == role::owner);
  CHECK(again.token != own.token);
  const load_stats s = t.stats();
  CHECK_EQ(s.successes, std::uint64_t{1});
  CHECK_EQ(s.waits, std::uint64_t{2});
  CHECK_EQ(s.load_ns, std::uint64_t{10'000'000});
  CHECK_EQ(t.in_flight(), std::size_t{2});
}

TEST_CASE("loads: errors, no value and released reach every waiter; stats count them") {
  load_table t;
  for (load_outcome k : {load_outcome::error, load_outcome::none, load_outcome::released}) {
    auto w = std::make_shared<recorder>();
    auto own = t.claim("k", t0, 1s, nullptr);
    REQUIRE(own.r == role::owner);
    REQUIRE(t.claim("k", t0, 1s, w).r == role::waiter);
    CHECK(t.settle(own.token, {k, k == load_outcome::error ? "boom" : ""}, t0 + 3ms));
    REQUIRE(w->count() == 1);
    CHECK(w->got[0].kind == k);
    CHECK_EQ(w->got[0].bytes, std::string(k == load_outcome::error ? "boom" : ""));
  }
  const load_stats s = t.stats();
  CHECK_EQ(s.failures, std::uint64_t{1});
  CHECK_EQ(s.successes, std::uint64_t{1});  // none counts; released loaded nothing
  CHECK_EQ(s.load_ns, std::uint64_t{6'000'000});
  CHECK_EQ(t.in_flight(), std::size_t{0});
}

TEST_CASE("loads: a claim past its deadline is taken over; its waiters time out") {
  load_table t;
  auto w = std::make_shared<recorder>(), late = std::make_shared<recorder>();
  auto own = t.claim("k", t0, 10ms, nullptr);
  CHECK(t.claim("k", t0 + 9ms, 1s, w).r == role::waiter);
  auto next = t.claim("k", t0 + 10ms, 50ms, late);  // exactly at the deadline: expired
  CHECK(next.r == role::owner);
  CHECK(next.token != own.token);
  CHECK(next.deadline == t0 + 60ms);
  REQUIRE(w->count() == 1);
  CHECK(w->got[0].kind == load_outcome::timed_out);
  // The stuck owner's late result names a claim that ended: nothing happens.
  CHECK(!t.settle(own.token, {load_outcome::value, "late"}, t0 + 20ms));
  CHECK(!t.abandon(own.token));
  CHECK_EQ(t.stats().timeouts, std::uint64_t{1});
  CHECK_EQ(t.stats().successes, std::uint64_t{0});
  // The owner's own timer settles timed_out: counted, waiters told.
  auto w2 = std::make_shared<recorder>();
  CHECK(t.claim("k", t0 + 30ms, 1s, w2).r == role::waiter);
  CHECK(t.settle(next.token, {load_outcome::timed_out, ""}, t0 + 60ms));
  REQUIRE(w2->count() == 1);
  CHECK(w2->got[0].kind == load_outcome::timed_out);
  CHECK_EQ(t.stats().timeouts, std::uint64_t{2});
  CHECK_EQ(late->count(), std::size_t{0});
}

TEST_CASE("loads: abandon wakes the waiters, one of whom owns the next claim") {
  load_table t;
  auto a = std::make_shared<recorder>(), b = std::make_shared<recorder>();
  auto own = t.claim("k", t0, 1s, nullptr);
  REQUIRE(t.claim("k", t0, 1s, a).r == role::waiter);
  REQUIRE(t.claim("k", t0, 1s, b).r == role::waiter);
  CHECK(t.abandon(own.token));
  CHECK(!t.abandon(own.token));
  REQUIRE(a->count() == 1);
  REQUIRE(b->count() == 1);
  CHECK(a->got[0].kind == load_outcome::abandoned);
  // Both claim again: exactly one owns.
  auto ra = t.claim("k", t0 + 1ms, 1s, a);
  auto rb = t.claim("k", t0 + 1ms, 1s, b);
  CHECK(ra.r == role::owner);
  CHECK(rb.r == role::waiter);
  CHECK_EQ(t.stats().abandoned, std::uint64_t{1});
}

TEST_CASE("loads: cancel withdraws one waiter only") {
  load_table t;
  auto a = std::make_shared<recorder>(), b = std::make_shared<recorder>();
  auto own = t.claim("k", t0, 1s, nullptr);
  REQUIRE(t.claim("k", t0, 1s, a).r == role::waiter);
  REQUIRE(t.claim("k", t0, 1s, b).r == role::waiter);
  CHECK(t.cancel(own.token, a.get()));
  CHECK(!t.cancel(own.token, a.get()));
  CHECK(!t.cancel(own.token + 99, b.get()));
  CHECK(t.settle(own.token, {load_outcome::value, "v"}, t0));
  CHECK_EQ(a->count(), std::size_t{0});
  CHECK_EQ(b->count(), std::size_t{1});
  CHECK(!t.cancel(own.token, b.get()));  // ended
}

TEST_CASE("loads: close wakes every waiter and owner closed; later claims are refused") {
  load_table t;
  auto o1 = std::make_shared<recorder>(), o2 = std::make_shared<recorder>(),
       w1 = std::make_shared<recorder>(), w2 = std::make_shared<recorder>();
  auto c1 = t.claim("a", t0, 1s, o1);
  auto c2 = t.claim("b", t0, 1s, o2);
  REQUIRE(t.claim("a", t0, 1s, w1).r == role::waiter);
  REQUIRE(t.claim("b", t0, 1s, w2).r == role::waiter);
  t.close();
  for (auto* r : {o1.get(), o2.get(), w1.get(), w2.get()}) {
    REQUIRE(r->count() == 1);
    CHECK(r->got[0].kind == load_outcome::closed);
  }
  CHECK(!t.settle(c1.token, {load_outcome::value, "v"}, t0));
  CHECK(!t.abandon(c2.token));
  CHECK(t.claim("a", t0, 1s, w1).r == role::closed);
  CHECK_EQ(t.in_flight(), std::size_t{0});
  t.close();  // again: nothing to do
}

TEST_CASE("loads: a wake may call back into the table (no lock is held)") {
  load_table t;
  struct reentrant : load_waiter {
    load_table* t = nullptr;
    role again = role::closed;
    void wake(const std::shared_ptr<const load_result>&) noexcept override {
      again = t->claim("k", t0 + 1ms, 1s, nullptr).r;
    }
  };
  auto w = std::make_shared<reentrant>();
  w->t = &t;
  auto own = t.claim("k", t0, 1s, nullptr);
  REQUIRE(t.claim("k", t0, 1s, w).r == role::waiter);
  CHECK(t.abandon(own.token));
  CHECK(w->again == role::owner);
}

TEST_CASE("loads: the shared map's close() closes its load table") {
  auto m = registry::create(options{}, "string", "any");
  auto w = std::make_shared<recorder>();
  auto own = m->loads().claim("k", clock_type::now(), 1s, nullptr);
  REQUIRE(own.r == role::owner);
  REQUIRE(m->loads().claim("k", clock_type::now(), 1s, w).r == role::waiter);
  CHECK(m->close());
  load_result r;
  REQUIRE(w->wait_one(r));
  CHECK(r.kind == load_outcome::closed);
}

TEST_CASE("loads: racing threads: one owner per key at a time, every waiter woken once") {
  // Threads fetch a few keys over and over: claim; an owner "loads" (checks
  // it is the key's only loader, yields) and settles with a value, an
  // error, or abandons; a waiter blocks until woken and retries on
  // abandoned. Deadlines are far, so no claim expires.
  const int threads = 4;
  const long rounds = tmtest::scaled(2000);
  const int keys = 3;
  load_table t;
  std::atomic<int> loading[keys] = {};
  std::atomic<long> overlaps{0}, bad{0}, loads{0}, woken{0}, registered{0};
  std::vector<std::thread> ts;
  for (int id = 0; id < threads; ++id) {
    ts.emplace_back([&, id] {
      for (long i = 0; i < rounds; ++i) {
        const int k = static_cast<int>((i + id) % keys);
        const std::string key = "key" + std::to_string(k);
        for (;;) {
          auto w = std::make_shared<recorder>();
          auto tk = t.claim(key, clock_type::now(), 1h, w);
          if (tk.r == role::owner) {
            if (loading[k].fetch_add(1) != 0) overlaps.fetch_add(1);
            std::this_thread::yield();
            loading[k].fetch_sub(1);
            loads.fetch_add(1);
            const long pick = (i * 7 + id) % 5;
            if (pick == 0) {
              if (!t.abandon(tk.token)) bad.fetch_add(1);
            } else if (!t.settle(tk.token,
                                 {pick == 1 ? load_outcome::error : load_outcome::value, key},
                                 clock_type::now())) {
              bad.fetch_add(1);
            }
            break;
          }
          if (tk.r != role::waiter) {
            bad.fetch_add(1);
            break;
          }
          registered.fetch_add(1);
          load_result r;
          if (!w->wait_one(r)) {
            bad.fetch_add(1);
            break;
          }
          woken.fetch_add(1);
          if (w->count() != 1) bad.fetch_add(1);
          if (r.kind == load_outcome::abandoned) continue;  // claim again
          if ((r.kind != load_outcome::value && r.kind != load_outcome::error) || r.bytes != key)
            bad.fetch_add(1);
          break;
        }
      }
    });
  }
  for (auto& th : ts) th.join();
  CHECK_EQ(overlaps.load(), 0L);
  CHECK_EQ(bad.load(), 0L);
  CHECK_EQ(woken.load(), registered.load());
  CHECK_EQ(t.in_flight(), std::size_t{0});
  const load_stats s = t.stats();
  CHECK_EQ(static_cast<long>(s.successes + s.failures + s.abandoned), loads.load());
  CHECK_EQ(static_cast<long>(s.waits), registered.load());
  std::printf("  %ld loads, %ld waits over %d threads\n", loads.load(), registered.load(), threads);
}

TEST_CASE("loads: close racing claims and settles leaves no waiter behind") {
  for (int round = 0; round < static_cast<int>(tmtest::scaled(50)); ++round) {
    load_table t;
    std::atomic<bool> go{false};
    std::atomic<long> stuck{0};
    std::vector<std::thread> ts;
    for (int id = 0; id < 3; ++id) {
      ts.emplace_back([&] {
        while (!go.load()) std::this_thread::yield();
        for (int i = 0; i < 200; ++i) {
          auto w = std::make_shared<recorder>();
          auto tk = t.claim("k", clock_type::now(), 1h, w);
          if (tk.r == role::closed) return;
          if (tk.r == role::owner) {
            t.settle(tk.token, {load_outcome::value, "v"}, clock_type::now());
            continue;
          }
          load_result r;
          if (!w->wait_one(r)) stuck.fetch_add(1);
        }
      });
    }
    go.store(true);
    std::this_thread::yield();
    t.close();
    for (auto& th : ts) th.join();
    CHECK_EQ(stuck.load(), 0L);
    CHECK_EQ(t.in_flight(), std::size_t{0});
  }
}

TEST_MAIN
