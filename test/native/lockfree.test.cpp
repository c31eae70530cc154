// Tests specific to the `lockfree` strategy (the typed and stress suites run
// over it too): lock-freedom shown with a thread parked at each pause site,
// growth, migration racing with every kind of write, clear racing with
// migration, and scans across migrations.
#include <atomic>
#include <barrier>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "check.hpp"
#include "threadmap/epoch.hpp"
#include "threadmap/lincheck.hpp"
#include "threadmap/lockfree.hpp"

using namespace threadmap;
using tmtest::as_i64;
using tmtest::run_threads;
using tmtest::scaled;
using namespace std::chrono_literals;

namespace {

std::size_t scan_count(const concurrent_map& m, std::map<std::string, int>* seen = nullptr) {
  std::size_t n = 0;
  for (std::size_t u = 0; u < m.scan_units(); ++u) {
    std::string buf;
    const std::size_t got = m.scan(u, buf);
    n += got;
    if (!seen) continue;
    scan_reader r(buf);
    scan_record rec;
    std::size_t records = 0;
    while (r.next(rec)) {
      ++(*seen)[std::string(rec.key)];
      ++records;
    }
    CHECK_EQ(records, got);
  }
  return n;
}

// Aborts the process if a phase that must not block has not finished in time:
// a blocked lock-free operation would otherwise hang the suite forever.
class watchdog {
 public:
  watchdog(const char* what, int seconds) : what_(what) {
    thread_ = std::thread([this, seconds] {
      for (int i = 0; i < seconds * 20 && !done_.load(); ++i) std::this_thread::sleep_for(50ms);
      if (!done_.load()) {
        std::fprintf(stderr, "watchdog: %s did not finish in %d s: an operation blocked\n", what_,
                     seconds);
        std::abort();
      }
    });
  }
  ~watchdog() {
    done_.store(true);
    thread_.join();
  }

 private:
  const char* what_;
  std::atomic<bool> done_{false};
  std::thread thread_;
};

// Parks the victim thread the first time it reaches `site`, until released.
struct parker {
  static inline std::atomic<int> site{0};
  static inline std::atomic<bool> parked{false};
  static inline std::atomic<bool> release{false};
  static inline thread_local bool victim = false;

  static void hook(int s) {
    if (!victim || s != site.load() || parked.load()) return;
    parked.store(true);
    while (!release.load()) std::this_thread::sleep_for(1ms);
  }
  static void arm(int s) {
    site.store(s);
    parked.store(false);
    release.store(false);
    lockfree_test::set_pause_hook(&hook);
  }
  static void disarm() {
    release.store(true);
    lockfree_test::set_pause_hook(nullptr);
  }
  // Waits until the victim parks; false if it never does.
  static bool wait_parked() {
    for (int i = 0; i < 60000 && !parked.load(); ++i) std::this_thread::sleep_for(1ms);
    return parked.load();
  }
};

std::string key_of(const char* p, long i) {
  return p + std::to_string(i);
}
std::string val_of(long i, int gen) {
  return "v" + std::to_string(i) + "." + std::to_string(gen);
}

// Every kind of operation, on the preloaded keys (whatever state a parked
// thread left them in) and on new keys that force further resizes, checked
// against a model. Runs on one thread, so the answers are exact.
void every_operation(lockfree_map& m, std::map<std::string, std::string>& model, long preload,
                     long fresh, bool erase_preloaded) {
  std::string out;
  long bad = 0;
  for (long i = 0; i < preload; ++i) {
    const std::string k = key_of("p", i);
    auto it = model.find(k);
    // get (a frozen slot still answers)
    const bool present = m.get(k, &out);
    if (present != (it != model.end()) || (present && out != it->second)) ++bad;
    if (erase_preloaded) {
      // erase / take
      if (m.erase(k, &out) != (present ? status::ok : status::not_found)) ++bad;
      model.erase(k);
    } else if (present) {
      // compare_and_set, then put (swap), then add on a counter
      const bytes expected = it->second;
      const std::string next = val_of(i, 2);
      const bytes desired = next;
      if (m.compare_and_set(k, &expected, &desired, &out) != status::ok) ++bad;
      if (m.put(k, val_of(i, 3), &out) != status::ok || out != next) ++bad;
      model[k] = val_of(i, 3);
    }
  }
  counter d{}, r{};
  d.i = 1;
  for (long i = 0; i < fresh; ++i) {
    const std::string k = key_of("f", i);
    switch (i % 4) {
      case 0:
        if (m.put(k, val_of(i, 0), nullptr) != status::inserted) ++bad;
        model[k] = val_of(i, 0);
        break;
      case 1:
        if (m.put_if_absent(k, val_of(i, 0), &out) != status::inserted) ++bad;
        if (m.put_if_absent(k, "other", &out) != status::exists || out != val_of(i, 0)) ++bad;
        model[k] = val_of(i, 0);
        break;
      case 2: {
        const bytes desired = "x";
        if (m.compare_and_set(k, nullptr, &desired, &out) != status::inserted) ++bad;
        if (m.erase(k, nullptr) != status::ok) ++bad;
        break;
      }
      default:
        if (m.add(k, counter_kind::i64, d, "", &r) != status::inserted || r.i != 1) ++bad;
        if (m.add(k, counter_kind::i64, d, "", &r) != status::ok || r.i != 2) ++bad;
        model[k] = std::string(reinterpret_cast<const char*>(&r.i), 8);
    }
  }
  CHECK_EQ(bad, 0);
  CHECK_EQ(m.size(), model.size());
  std::map<std::string, int> seen;
  CHECK_EQ(scan_count(m, &seen), model.size());
  long twice = 0;
  for (const auto& [k, n] : seen) twice += n != 1;
  CHECK_EQ(twice, 0);
}

void check_model(const lockfree_map& m, const std::map<std::string, std::string>& model) {
  long bad = 0;
  std::string out;
  for (const auto& [k, v] : model) {
    if (!m.get(k, &out) || out != v) ++bad;
  }
  CHECK_EQ(bad, 0);
}

// The victim inserts its own keys until it parks at `site` (during the
// migration its inserts set off, or in the window named), then the main
// thread completes a bounded batch of every operation, including ones that
// need the parked thread's migration, and drives the migration to its end.
// Released, the victim finishes, and nothing it does late may undo a newer
// write (a stale copy must not resurrect or overwrite anything).
void parked_victim(int site, bool erase_preloaded) {
  lockfree_map m(options{});
  std::map<std::string, std::string> model;
  const long preload = 5000;  // just under a resize: the victim sets one off within a few inserts
  for (long i = 0; i < preload; ++i) {
    m.put(key_of("p", i), val_of(i, 1), nullptr);
    model[key_of("p", i)] = val_of(i, 1);
  }
  parker::arm(site);
  std::atomic<long> victim_keys{0};
  std::thread victim([&] {
    parker::victim = true;
    for (long i = 0; i < 1000000 && !parker::parked.load(); ++i) {
      m.put(key_of("v", i), val_of(i, 0), nullptr);
      victim_keys.store(i + 1);
    }
    parker::victim = false;
  });
  REQUIRE(parker::wait_parked());
  // The victim's completed puts; the parked one is not visible yet.
  for (long i = 0; i < victim_keys.load(); ++i) model[key_of("v", i)] = val_of(i, 0);
  {
    watchdog dog("operations while another thread is parked", 300);
    every_operation(m, model, preload, scaled(60000), erase_preloaded);
    // Drive every migration to its end: gets help one chunk each (and sweep
    // the chunk the victim holds, once all chunks are claimed).
    std::string out;
    long ops = 0;
    while (m.chain_length() > 1 && ops < 1000000) {
      m.get(key_of("f", ops % 1000), &out);
      ++ops;
    }
    CHECK_EQ(m.chain_length(), 1u);
    check_model(m, model);
  }
  parker::disarm();
  victim.join();
  // The victim's put that was parked completed too.
  for (long i = 0; i < victim_keys.load(); ++i) model[key_of("v", i)] = val_of(i, 0);
  check_model(m, model);
  CHECK_EQ(m.size(), model.size());
  CHECK_EQ(scan_count(m), model.size());
}

}  // namespace

TEST_CASE("lockfree: parked in a CAS window, others complete every operation") {
  parked_victim(lockfree_test::cas_window, false);
}

TEST_CASE("lockfree: parked before claiming a slot, others complete every operation") {
  parked_victim(lockfree_test::claim_window, true);
}

TEST_CASE("lockfree: parked holding a migration chunk, the migration still completes") {
  parked_victim(lockfree_test::migrate_chunk, false);
}

TEST_CASE("lockfree: parked with a frozen slot; a late copy does not undo newer writes") {
  parked_victim(lockfree_test::migrate_slot, false);
}

TEST_CASE("lockfree: parked with a frozen slot; a late copy does not resurrect erased keys") {
  parked_victim(lockfree_test::migrate_slot, true);
}

TEST_CASE("lockfree: parked before publishing the next table, others resize without it") {
  parked_victim(lockfree_test::resize_window, false);
}

TEST_CASE("lockfree: a CAS on the very slot a parked thread is writing") {
  // The victim parks between reading k's value and its CAS; the others change
  // k many times (and migrate it away); the victim's CAS then fails, it
  // re-reads, and its put lands last.
  lockfree_map m(options{});
  m.put("k", "0", nullptr);
  parker::arm(lockfree_test::cas_window);
  status victim_status{};
  std::string victim_old;
  std::thread victim([&] {
    parker::victim = true;
    victim_status = m.put("k", "victim", &victim_old);
    parker::victim = false;
  });
  REQUIRE(parker::wait_parked());
  {
    watchdog dog("writes to a key a parked thread is writing", 120);
    std::string out;
    for (int i = 1; i <= 1000; ++i) CHECK_EQ(m.put("k", std::to_string(i), nullptr), status::ok);
    for (int i = 0; i < scaled(20000); ++i) m.put(key_of("g", i), "x", nullptr);  // migrate k away
    CHECK(m.get("k", &out));
    CHECK_EQ(out, std::string("1000"));
  }
  parker::disarm();
  victim.join();
  CHECK_EQ(victim_status, status::ok);
  CHECK_EQ(victim_old, std::string("1000"));
  std::string out;
  CHECK(m.get("k", &out));
  CHECK_EQ(out, std::string("victim"));
}

TEST_CASE("lockfree: 2 threads grow from empty; every key found, size exact, chain settles") {
  lockfree_map m(options{});
  const long per = scaled(1000000);
  run_threads(2, [&](int t) {
    for (long i = 0; i < per; ++i) {
      const long k = i * 2 + t;
      m.put(key_of("g", k), bytes(reinterpret_cast<const char*>(&k), 8), nullptr);
    }
  });
  CHECK_EQ(m.size(), std::size_t(per * 2));
  long missing = 0;
  std::string out;
  for (long k = 0; k < per * 2; ++k) {
    if (!m.get(key_of("g", k), &out) || as_i64(out) != k) ++missing;
  }
  CHECK_EQ(missing, 0);
  CHECK_EQ(m.chain_length(), 1u);  // the gets above finished any migration left running
  const map_stats st = m.stats();
  CHECK_EQ(st.size, std::size_t(per * 2));
  CHECK(st.resizes >= 10);
  CHECK(st.capacity >= st.size);
  epoch::synchronize();
  std::printf("lockfree growth: %ld keys, %llu resizes, capacity %zu, %.1f bytes/entry\n", per * 2,
              static_cast<unsigned long long>(st.resizes), st.capacity,
              double(m.stats().bytes) / double(per * 2));
}

TEST_CASE("lockfree: migrations racing with put, erase, CAS and add on the same keys") {
  lockfree_map m(options{});
  const int counters = 8;
  const long ops = scaled(150000);
  m.put("token", "free", nullptr);
  std::atomic<int> holders{0};
  std::atomic<long> violations{0}, churn_id{0};
  const std::uint64_t resizes_before = m.stats().resizes;
  // Threads 0-1: add on shared counters, CAS a token, put/erase own keys.
  // Thread 2: inserts and erases unique keys, so the table keeps migrating
  // (growing, then same-size rebuilds that drop the tombstones).
  run_threads(3, [&](int t) {
    std::string out;
    counter d{}, r{};
    d.i = 1;
    if (t == 2) {
      for (long i = 0; i < ops * 2; ++i) {
        const long id = churn_id.fetch_add(1);
        m.put(key_of("c", id), "churn", nullptr);
        if (id >= 2000) m.erase(key_of("c", id - 2000), nullptr);
      }
      return;
    }
    const std::string me = "owner" + std::to_string(t);
    const bytes free_v = "free", me_v = me;
    for (long i = 0; i < ops; ++i) {
      m.add(key_of("n", i % counters), counter_kind::i64, d, "", &r);
      if (m.compare_and_set("token", &free_v, &me_v, &out) == status::ok) {
        if (holders.fetch_add(1) != 0) violations.fetch_add(1);
        if (!m.get("token", &out) || out != me) violations.fetch_add(1);
        holders.fetch_sub(1);
        if (m.compare_and_set("token", &me_v, &free_v, &out) != status::ok) violations.fetch_add(1);
      }
      const std::string k = key_of(t ? "b" : "a", i % 500);
      if (i % 3 == 2) {
        if (m.erase(k, &out) == status::ok && out != val_of(i % 500, t)) violations.fetch_add(1);
      } else {
        m.put(k, val_of(i % 500, t), nullptr);
      }
    }
  });
  CHECK_EQ(violations.load(), 0);
  std::int64_t total = 0;
  std::string out;
  for (int c = 0; c < counters; ++c) {
    REQUIRE(m.get(key_of("n", c), &out));
    total += as_i64(out);
  }
  CHECK_EQ(total, 2 * ops);
  CHECK(m.stats().resizes - resizes_before >= 5);
  CHECK_EQ(scan_count(m), m.size());
}

TEST_CASE("lockfree: clear racing with migration loses nothing it should keep") {
  lockfree_map m(options{});
  std::atomic<bool> stop{false};
  std::atomic<long> clears_started{0}, clears_done{0}, lost{0}, checked{0};
  const long per = scaled(200000);
  std::thread clearer([&] {
    while (!stop.load()) {
      std::this_thread::sleep_for(2ms);
      clears_started.fetch_add(1);
      m.clear();
      clears_done.fetch_add(1);
    }
  });
  run_threads(2, [&](int t) {
    std::string out;
    for (long i = 0; i < per; ++i) {
      const std::string k = key_of(t ? "x" : "y", i);
      const long done_before = clears_done.load();
      m.put(k, k, nullptr);
      if (!m.get(k, &out)) {
        // Only a clear that ran between the put and the get may hide it.
        if (clears_started.load() <= done_before) lost.fetch_add(1);
      } else if (out != k) {
        lost.fetch_add(1);
      }
      checked.fetch_add(1);
      if (i % 64 == 0) m.erase(key_of(t ? "x" : "y", i / 2), nullptr);
    }
  });
  stop.store(true);
  clearer.join();
  CHECK_EQ(lost.load(), 0);
  CHECK(clears_done.load() > 0);
  // Quiescent: size and scan agree, and the map still works.
  CHECK_EQ(scan_count(m), m.size());
  m.clear();
  CHECK_EQ(m.size(), 0u);
  CHECK_EQ(m.put("after", "1", nullptr), status::inserted);
  CHECK_EQ(scan_count(m), 1u);
}

TEST_CASE("lockfree: scans during migrations see each stable key exactly once") {
  lockfree_map m(options{});
  const int stable = 5000;
  for (int i = 0; i < stable; ++i) m.put(key_of("s", i), "stable", nullptr);
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    // Unique keys grow the table, erasures fill it with tombstones: one
    // migration follows another underneath the scans.
    long i = 0;
    while (!stop.load(std::memory_order_relaxed)) {
      m.put(key_of("w", i), std::string(i % 30, 'w'), nullptr);
      if (i >= 20000) m.erase(key_of("w", i - 20000), nullptr);
      ++i;
    }
  });
  const long scans = scaled(60);
  long bad = 0, during_migration = 0;
  const std::uint64_t resizes_before = m.stats().resizes;
  for (long s = 0; s < scans; ++s) {
    std::map<std::string, int> seen;
    std::size_t chain_max = 1;
    for (std::size_t u = 0; u < m.scan_units(); ++u) {
      chain_max = std::max(chain_max, m.chain_length());
      std::string buf;
      m.scan(u, buf);
      scan_reader r(buf);
      scan_record rec;
      while (r.next(rec)) ++seen[std::string(rec.key)];
    }
    during_migration += chain_max > 1;
    for (const auto& [k, n] : seen) bad += n != 1;
    for (int i = 0; i < stable; ++i) bad += !seen.count(key_of("s", i));
  }
  stop.store(true);
  writer.join();
  CHECK_EQ(bad, 0);
  CHECK(m.stats().resizes > resizes_before);
  std::printf("scans: %ld of %ld overlapped a migration\n", during_migration, scans);
}

TEST_CASE("lockfree: histories recorded while the table migrates are linearizable") {
  // The typed lincheck run uses fresh two-key maps, which never migrate. Here
  // one map serves every history (each on its own two keys), and between
  // recorded operations the same threads insert and erase unique keys, so
  // rebuilds start and run (helped by everyone) inside the histories.
  using namespace threadmap::lincheck;
  lockfree_map m(options{});
  const int threads = 3, ops = 12;
  const long histories = scaled(4000);
  std::atomic<long> churn_id{0};
  std::atomic<std::uint64_t> clock{0};
  std::vector<std::vector<operation>> logs(threads);
  std::barrier sync(threads + 1);
  std::atomic<long> history{0};
  std::atomic<bool> done{false};
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      std::mt19937 rng(1000 + t);
      const std::string values[] = {"a", "b", encode_i64(1), std::string(30, 'L')};
      for (;;) {
        sync.arrive_and_wait();
        if (done.load()) return;
        const std::string prefix = "h" + std::to_string(history.load()) + ":";
        auto& log = logs[t];
        log.clear();
        for (int i = 0; i < ops; ++i) {
          for (int j = 0; j < 8; ++j) {  // churn: a few hundred live keys, many tombstones
            const long id = churn_id.fetch_add(1);
            m.put(key_of("c", id), "churn", nullptr);
            if (id >= 300) m.erase(key_of("c", id - 300), nullptr);
          }
          operation op;
          op.kind = static_cast<op_kind>(rng() % 6);
          op.key = prefix + std::to_string(rng() % 2);
          op.value = values[rng() % 4];
          if (op.kind == op_kind::compare_and_set) {
            if (rng() % 3 == 0)
              op.expected.reset();
            else
              op.expected = values[rng() % 4];
            if (rng() % 4 == 0) op.value.reset();
          }
          op.delta = static_cast<std::int64_t>(rng() % 3) - 1;
          op.invoked = clock.fetch_add(1);
          execute(m, op);
          op.responded = clock.fetch_add(1);
          log.push_back(std::move(op));
        }
        sync.arrive_and_wait();
      }
    });
  }
  long bad = 0, overlapped = 0;
  for (long h = 0; h < histories; ++h) {
    history.store(h);
    const std::uint64_t before = m.stats().resizes;
    sync.arrive_and_wait();
    sync.arrive_and_wait();
    overlapped += m.stats().resizes != before;
    std::vector<operation> all;
    for (auto& log : logs) all.insert(all.end(), log.begin(), log.end());
    bad += !check(all).linearizable;
    for (int k = 0; k < 2; ++k) m.erase("h" + std::to_string(h) + ":" + std::to_string(k), nullptr);
  }
  done.store(true);
  sync.arrive_and_wait();
  for (auto& w : workers) w.join();
  std::printf("lincheck under migration: %ld histories, %ld started a rebuild, %ld bad\n",
              histories, overlapped, bad);
  CHECK_EQ(bad, 0);
  CHECK(overlapped > histories / 4);
}

TEST_CASE("lockfree: max_memory holds across migrations and clear") {
  options o;
  o.max_memory = 256 * 1024;
  lockfree_map m(o);
  long stored = 0;
  for (long i = 0; i < 100000; ++i) {
    if (m.put(key_of("m", i), std::string(24, 'v'), nullptr) != status::inserted) break;
    ++stored;
  }
  CHECK(stored > 1000);
  CHECK(m.stats().bytes <= o.max_memory + 64 * 1024);
  CHECK_EQ(m.size(), std::size_t(stored));
  // Tombstones are dropped by migration and their bytes come back.
  for (long i = 0; i < stored; ++i) CHECK_EQ(m.erase(key_of("m", i), nullptr), status::ok);
  long again = 0;
  for (long i = 0; i < stored; ++i) {
    if (m.put(key_of("n", i), std::string(24, 'v'), nullptr) == status::inserted) ++again;
  }
  std::printf("max_memory: %ld stored, %ld again after erasing all\n", stored, again);
  CHECK(again > stored * 3 / 4);
  m.clear();
  CHECK_EQ(m.put("after", std::string(24, 'v'), nullptr), status::inserted);
}

TEST_CASE("lockfree: an empty map is small") {
  lockfree_map m(options{});
  const map_stats st = m.stats();
  std::printf("empty lockfree map: %zu bytes, %zu slots\n", st.bytes, st.capacity);
  CHECK(st.bytes < 8192);
  CHECK_EQ(st.size, 0u);
}

TEST_MAIN
