// Tests specific to the `lockfree` strategy (the typed and stress suites run
// over it too): lock-freedom shown with a thread parked at each pause site,
// growth, migration racing with every kind of write, clear racing with
// migration, and scans across migrations.
#include <algorithm>
#include <atomic>
#include <barrier>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "../support/lincheck.hpp"
#include "check.hpp"
#include "parking.hpp"
#include "threadmap/detail/hash.hpp"
#include "threadmap/detail/lockfree.hpp"
#include "threadmap/epoch.hpp"

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

// The one thread each of these tests parks (role 1).
using parker = tmtest::parking<1>;

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
    parker::role = 1;
    for (long i = 0; i < 1000000 && !parker::is_parked(1); ++i) {
      m.put(key_of("v", i), val_of(i, 0), nullptr);
      victim_keys.store(i + 1);
    }
    parker::role = 0;
  });
  REQUIRE(parker::wait_parked(1));
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
    parker::role = 1;
    victim_status = m.put("k", "victim", &victim_old);
    parker::role = 0;
  });
  REQUIRE(parker::wait_parked(1));
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

TEST_CASE("lockfree: writes while clear() is between its two steps land above it or vanish") {
  // R3 with clear() (threadmap/detail/revision.hpp): an entry that holds a
  // value after the clear was written after it, so its revision is above the
  // clear's. The clearer parks between drawing its revision and swapping the
  // generation; meanwhile this thread writes (lock-free: none of it waits for
  // the clearer) and records each write's revision. Only the two threads
  // draw, so the clear's revision is the one in (before, after] not recorded.
  lockfree_map m(options{});
  for (long i = 0; i < 100; ++i) m.put(key_of("p", i), "old", nullptr);
  const std::uint64_t before = m.revision();
  parker::arm(lockfree_test::clear_window);
  std::thread clearer([&] {
    parker::role = 1;
    m.clear();
    parker::role = 0;
  });
  REQUIRE(parker::wait_parked(1));
  std::vector<std::uint64_t> drawn;
  const long writes = 50;
  {
    watchdog dog("writes while a clear is parked", 120);
    for (long i = 0; i < writes; ++i) {
      const std::string k = key_of(i % 2 ? "p" : "w", i);
      const status s = m.put(k, "during", nullptr);
      CHECK(s == status::ok || s == status::inserted);
      drawn.push_back(m.revision_of(k));
      CHECK_EQ(drawn.back(), m.revision());  // no one else drew since
    }
  }
  parker::disarm();
  clearer.join();
  const std::uint64_t after = m.revision();
  REQUIRE(after == before + writes + 1);
  std::uint64_t clear_rev = 0;
  for (std::uint64_t r = before + 1; r <= after; ++r)
    if (std::find(drawn.begin(), drawn.end(), r) == drawn.end()) clear_rev = r;
  REQUIRE(clear_rev != 0);
  long below = 0, survivors = 0;
  std::string out;
  for (long i = 0; i < writes; ++i) {
    std::uint64_t r = 0;
    if (!m.get(key_of(i % 2 ? "p" : "w", i), &out, &r)) continue;
    ++survivors;
    if (r < clear_rev) ++below;
  }
  CHECK_EQ(below, 0);
  // The preloaded keys nobody rewrote are gone, and a write after the clear
  // returned is above it too.
  CHECK_EQ(m.size(), static_cast<std::size_t>(survivors));
  CHECK_EQ(m.put("later", "x", nullptr), status::inserted);
  CHECK(m.revision_of("later") > clear_rev);
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

// ---------------------------------------------------------------------------
// At max_memory. A write that does not grow the map's memory is accepted at
// the limit: one that replaces a present value with a value whose node is no
// larger (value nodes are the value's length plus 12, rounded up to 16
// bytes, at least 32, so every value of 20 bytes or less, numbers and
// counters included, takes the smallest node), add on an existing counter, compare_and_set to such
// a value or to absent, erase, and putting back a value no larger than one erased. Growing writes
// stay refused with nothing changed.

namespace {

// The keys of one value kind, as the fill below names them.
enum kind : int { k_counter, k_number, k_short, k_long, k_empty, kinds };
const char* const kind_prefix[kinds] = {"c", "n", "s", "l", "e"};

std::string number_bytes(double d) {
  return std::string(reinterpret_cast<const char*>(&d), 8);
}
std::string long_value(long i, char fill) {
  std::string v = std::to_string(i) + ":";
  v.resize(96, fill);  // a 112-byte node
  return v;
}

// A map filled to its max_memory: keys of every kind of value until a new
// key is refused, then ballast values grown by halving steps until not even
// 16 more bytes (one node size class) fit. `model` holds every entry.
struct full_map {
  options opts;
  lockfree_map m;
  std::map<std::string, std::string> model;
  long per_kind = 0;  // keys of each kind: prefix + 0 .. per_kind - 1
  static constexpr int ballast = 24;

  explicit full_map(std::size_t max_memory, std::size_t capacity = 0, bool until_migration = false)
      : opts(make_options(max_memory, capacity)), m(opts) {
    for (int b = 0; b < ballast; ++b) insert(key_of("b", b), "");
    counter d{}, r{};
    d.i = 1;
    for (long i = 0;; ++i) {
      bool refused = false;
      for (int k = 0; k < kinds && !refused; ++k) {
        const std::string key = key_of(kind_prefix[k], i);
        std::string v;
        status st;
        switch (k) {
          case k_counter:
            st = m.add(key, counter_kind::i64, d, "", &r);
            v = std::string(reinterpret_cast<const char*>(&r.i), 8);
            break;
          case k_number:
            st = m.put(key, v = number_bytes(i + 0.5), nullptr);
            break;
          case k_short:
            st = m.put(key, v = "s" + std::to_string(i % 1000), nullptr);
            break;
          case k_long:
            st = m.put(key, v = long_value(i, 'L'), nullptr);
            break;
          default:
            st = m.put(key, v = "", nullptr);
            break;
        }
        if (st == status::memory_limit) {
          refused = true;
        } else {
          CHECK_EQ(st, status::inserted);
          model[key] = v;
        }
      }
      if (refused || (until_migration && m.chain_length() > 1)) {
        // Keys of every kind exist for 0 .. i - 1 (row i may be partial; it
        // stays, as erasing would leave tombstones whose bytes a migration
        // gives back).
        per_kind = i;
        break;
      }
    }
    // Ballast b grows its node by 2^(24 - b) bytes if that fitted: binary
    // steps down to 16, the smallest difference between two node sizes. A
    // value of step + 20 bytes takes a node of step + 32 (12-byte header,
    // rounded up to 16): the empty value's 32-byte node plus the step.
    for (int b = 0; b < ballast; ++b) {
      const std::size_t step = std::size_t{1} << (24 - std::min(b, 20));
      if (step < 16) break;
      const std::string v(step + 20, 'B');
      if (m.put(key_of("b", b), v, nullptr) == status::ok) model[key_of("b", b)] = v;
    }
    for (int b = 0; b < ballast; ++b) model.emplace(key_of("b", b), "");
  }

  static options make_options(std::size_t max_memory, std::size_t capacity) {
    options o;
    o.strategy = strategy_kind::lockfree;
    o.max_memory = max_memory;
    o.capacity = capacity;
    return o;
  }
  void insert(const std::string& k, const std::string& v) {
    CHECK_EQ(m.put(k, v, nullptr), status::inserted);
    model[k] = v;
  }
  std::string key(int k, long i) const { return key_of(kind_prefix[k], i); }
};

// Not even 16 more bytes fit: a new key is refused, and so is growing the
// smallest ballast value by one node size class; neither changes anything.
void check_at_limit(full_map& f) {
  const std::size_t charged = f.m.stats().bytes, size = f.m.size();
  CHECK_EQ(f.m.put("not-there", "", nullptr), status::memory_limit);
  const std::string b = key_of("b", full_map::ballast - 1);
  // 16 bytes more, and past 20 (every value up to 20 bytes takes the
  // smallest node), so the node grows by at least one size class.
  const std::string grown(std::max<std::size_t>(f.model[b].size() + 16, 21), 'G');
  CHECK_EQ(f.m.put(b, grown, nullptr), status::memory_limit);
  CHECK(!f.m.get("not-there", nullptr));
  CHECK_EQ(f.m.stats().bytes, charged);
  CHECK_EQ(f.m.size(), size);
}

// Every growing write is refused and changes nothing.
void growing_writes_refused(full_map& f) {
  lockfree_map& m = f.m;
  const std::size_t charged = m.stats().bytes, size = m.size();
  std::string out;
  counter d{}, r{};
  d.i = 1;
  const std::string big(200, 'g');
  const bytes big_b = big;
  long bad = 0;
  // New keys.
  bad += m.put("new-put", "", nullptr) != status::memory_limit;
  bad += m.put_if_absent("new-pia", "x", &out) != status::memory_limit;
  bad += m.add("new-add", counter_kind::i64, d, "", &r) != status::memory_limit;
  const bytes small = "x";
  bad += m.compare_and_set("new-cas", nullptr, &small, &out) != status::memory_limit;
  for (const char* k : {"new-put", "new-pia", "new-add", "new-cas"}) bad += m.get(k, nullptr);
  // Larger nodes for present keys, of every kind.
  for (int k = 0; k < kinds; ++k) {
    const std::string key = f.key(k, 0);
    bad += m.put(key, big, &out) != status::memory_limit;
    const bytes expected = f.model[key];
    bad += m.compare_and_set(key, &expected, &big_b, &out) != status::memory_limit;
    bad += !m.get(key, &out) || out != f.model[key];
  }
  CHECK_EQ(bad, 0);
  CHECK_EQ(m.stats().bytes, charged);
  CHECK_EQ(m.size(), size);
}

// Every write that does not grow the map, on keys `from` .. `to` - 1 of
// every kind, checked against the model. None of them changes the bytes
// charged; `round` varies the values.
void same_size_writes(full_map& f, long from, long to, int round) {
  lockfree_map& m = f.m;
  std::string out;
  long bad = 0;
  counter d{}, r{};
  d.i = 1;
  for (long i = from; i < to; ++i) {
    // A long value: swapped for another of the same size, then for one 4
    // bytes longer that still fits its 112-byte node.
    const std::string l = f.key(k_long, i);
    const std::string l1 = long_value(i + round, 'M'),
                      l2 = std::string(100, char('a' + round % 26));
    bad += m.put(l, l1, &out) != status::ok || out != f.model[l];
    bad += m.put(l, l2, &out) != status::ok || out != l1;
    f.model[l] = l2;
    // A number replaced by a number, by a tagged one (as values of type
    // 'any' store it), by 12 bytes, and by a boolean-sized value: the
    // smallest node holds them all.
    const std::string n = f.key(k_number, i);
    const std::string n1 = number_bytes(i * 3.25 + round), n2 = "\x02" + n1;
    const std::string n3 = "twelve bytes", n4 = std::string(1, '\x01');
    bad += m.put(n, n1, &out) != status::ok || out != f.model[n];
    bad += m.put(n, n2, &out) != status::ok || out != n1;
    bad += m.put(n, n3, &out) != status::ok || out != n2;
    bad += m.put(n, n4, &out) != status::ok || out != n3;
    f.model[n] = n4;
    // A short string: compare_and_set to another, a failing one, then to
    // absent and back (the erased node's bytes make room for its successor).
    const std::string s = f.key(k_short, i);
    const bytes s_now = f.model[s];
    const std::string s1 = "t" + std::to_string(round);
    const bytes s1_b = s1, wrong = "wrong";
    bad += m.compare_and_set(s, &s_now, &s1_b, &out) != status::ok;
    bad += m.compare_and_set(s, &wrong, &s_now, &out) != status::mismatch || out != s1;
    bad += m.compare_and_set(s, &s1_b, nullptr, &out) != status::ok;
    bad += m.compare_and_set(s, nullptr, &s1_b, &out) != status::inserted;
    bad += m.put_if_absent(s, "other", &out) != status::exists || out != s1;
    f.model[s] = s1;
    // A counter: add, several times.
    const std::string c = f.key(k_counter, i);
    std::int64_t expect = as_i64(f.model[c]);
    for (int j = 0; j < 3; ++j) {
      bad += m.add(c, counter_kind::i64, d, "", &r) != status::ok || r.i != ++expect;
    }
    f.model[c] = std::string(reinterpret_cast<const char*>(&expect), 8);
    // An empty value: set to 8 bytes (the same node), taken, put back.
    const std::string e = f.key(k_empty, i);
    const std::string e1 = "12345678";
    bad += m.put(e, e1, &out) != status::ok || !out.empty();
    bad += m.erase(e, &out) != status::ok || out != e1;
    bad += m.put(e, "", nullptr) != status::inserted;
    f.model[e] = "";
  }
  CHECK_EQ(bad, 0);
}

void check_all(const full_map& f) {
  check_model(f.m, f.model);
  CHECK_EQ(f.m.size(), f.model.size());
  CHECK_EQ(scan_count(f.m), f.model.size());
}

}  // namespace

TEST_CASE("lockfree at max_memory: every write that does not grow the map is accepted") {
  full_map f(256 * 1024);
  REQUIRE(f.per_kind >= 50);
  check_all(f);
  check_at_limit(f);
  growing_writes_refused(f);
  const std::size_t charged = f.m.stats().bytes;
  for (int round = 0; round < 3; ++round) same_size_writes(f, 0, f.per_kind, round);
  // Replacing with same-size nodes charged nothing more and leaked nothing.
  CHECK_EQ(f.m.stats().bytes, charged);
  check_all(f);
  check_at_limit(f);
  growing_writes_refused(f);
  // Smaller values are accepted and give their bytes back.
  std::string out;
  long bad = 0;
  for (long i = 0; i < f.per_kind; ++i) {
    const std::string l = f.key(k_long, i);
    bad += f.m.put(l, "short", &out) != status::ok || out != f.model[l];
    f.model[l] = "short";
  }
  CHECK_EQ(bad, 0);
  // Each long value's 112-byte node became a 32-byte one.
  CHECK_EQ(f.m.stats().bytes, charged - std::size_t(f.per_kind) * 80);
  check_all(f);
}

TEST_CASE("lockfree at max_memory: non-growing writes while a migration runs") {
  // Presized to 2^18 slots (512 migration chunks) and filled until that
  // table starts migrating into the next; ballast then takes the rest of the
  // budget. Each call below helps one chunk, and they are fewer than the
  // chunks left, so all of them run during the migration, on keys in chunks
  // already moved (their home slots come first) and not yet moved (last).
  full_map f(32 << 20, 100000, true);
  REQUIRE(f.m.chain_length() > 1);
  check_at_limit(f);
  std::vector<long> first, last;
  for (long i = 0; i < f.per_kind && (first.size() < 3 || last.size() < 3); ++i) {
    const std::uint64_t top = hash_bytes(f.key(k_long, i)) >> 56;
    if (top == 0 && first.size() < 3) first.push_back(i);
    if (top == 255 && last.size() < 3) last.push_back(i);
  }
  REQUIRE(first.size() == 3 && last.size() == 3);
  const std::size_t charged = f.m.stats().bytes;
  for (const long i : first) same_size_writes(f, i, i + 1, 1);
  for (const long i : last) same_size_writes(f, i, i + 1, 1);
  CHECK(f.m.chain_length() > 1);
  CHECK_EQ(f.m.stats().bytes, charged);
  growing_writes_refused(f);
  CHECK(f.m.chain_length() > 1);
  // Finishing the migration returns the old table's bytes; every entry moved.
  std::string out;
  for (long n = 0; n < 100000 && f.m.chain_length() > 1; ++n) f.m.get("x", &out);
  CHECK_EQ(f.m.chain_length(), 1u);
  CHECK(f.m.stats().bytes < charged);
  check_all(f);
}

namespace {

// Threads writing at the limit: each owns a slice of the long, number and
// short keys and replaces their values with same-size ones (so it knows each
// old value), and all of them add to the same counters. Every write must be
// accepted, no count lost, and nothing charged in the end.
void updaters_at_limit(full_map& f, int threads, long rounds, bool grower) {
  const long slice = std::min<long>(f.per_kind / threads, 40);
  REQUIRE(slice >= 4);
  const int counters = 4;
  std::vector<std::int64_t> start(counters);
  for (int c = 0; c < counters; ++c) start[c] = as_i64(f.model[f.key(k_counter, c)]);
  const std::size_t charged = f.m.stats().bytes, size = f.m.size();
  std::atomic<long> bad{0}, grown{0};
  std::atomic<int> running{threads};
  const bool migrating = f.m.chain_length() > 1;
  std::vector<std::thread> pool;
  if (grower) {
    // Growing writes meanwhile: refused every time (the others never free
    // 4 KiB at once), and they must not disturb the others.
    pool.emplace_back([&] {
      const std::string big(4096, 'G');
      std::string out;
      for (long i = 0; running.load() > 0; ++i) {
        if (f.m.put(key_of("grow", i % 64), big, nullptr) != status::memory_limit)
          grown.fetch_add(1);
        if (f.m.put(f.key(k_number, i % f.per_kind), big, &out) != status::memory_limit) {
          grown.fetch_add(1);
        }
      }
    });
  }
  run_threads(threads, [&](int t) {
    lockfree_map& m = f.m;
    std::string out;
    counter d{}, r{};
    d.i = 1;
    std::vector<std::string> l_now, n_now, s_now;
    for (long i = 0; i < slice; ++i) {
      l_now.push_back(f.model.at(f.key(k_long, t * slice + i)));
      n_now.push_back(f.model.at(f.key(k_number, t * slice + i)));
      s_now.push_back(f.model.at(f.key(k_short, t * slice + i)));
    }
    long my_bad = 0;
    for (long round = 0; round < rounds; ++round) {
      const long i = round % slice, k = t * slice + i;
      if (m.add(f.key(k_counter, round % counters), counter_kind::i64, d, "", &r) != status::ok) {
        ++my_bad;
      }
      const std::string l = long_value(round, char('a' + t));
      my_bad += m.put(f.key(k_long, k), l, &out) != status::ok || out != l_now[i];
      l_now[i] = l;
      const std::string n = number_bytes(double(round));
      my_bad += m.put(f.key(k_number, k), n, &out) != status::ok || out != n_now[i];
      n_now[i] = n;
      const std::string s = "r" + std::to_string(round % 1000);
      const bytes expected = s_now[i], desired = s;
      my_bad += m.compare_and_set(f.key(k_short, k), &expected, &desired, &out) != status::ok;
      s_now[i] = s;
    }
    bad.fetch_add(my_bad);
    running.fetch_sub(1);
    // Only this thread wrote its slice: record the final values.
    static std::mutex model_lock;
    std::lock_guard lock(model_lock);
    for (long i = 0; i < slice; ++i) {
      f.model[f.key(k_long, t * slice + i)] = l_now[i];
      f.model[f.key(k_number, t * slice + i)] = n_now[i];
      f.model[f.key(k_short, t * slice + i)] = s_now[i];
    }
  });
  for (auto& th : pool) th.join();
  CHECK_EQ(bad.load(), 0);
  CHECK_EQ(grown.load(), 0);
  // Every add counted: rounds per thread, spread over the counters.
  std::int64_t added = 0;
  std::string out;
  for (int c = 0; c < counters; ++c) {
    REQUIRE(f.m.get(f.key(k_counter, c), &out));
    added += as_i64(out) - start[c];
    f.model[f.key(k_counter, c)] = out;
  }
  CHECK_EQ(added, std::int64_t(threads) * rounds);
  CHECK_EQ(f.m.size(), size);
  // Nothing more charged; exactly as before unless a migration finished
  // meanwhile and gave its old table's bytes back.
  if (migrating && f.m.chain_length() == 1) {
    CHECK(f.m.stats().bytes < charged);
  } else {
    CHECK_EQ(f.m.stats().bytes, charged);
  }
}

}  // namespace

TEST_CASE("lockfree at max_memory: concurrent updaters are all accepted, growth is not") {
  full_map f(256 * 1024);
  check_at_limit(f);
  updaters_at_limit(f, 3, scaled(20000), true);
  check_at_limit(f);
  check_all(f);
}

TEST_CASE("lockfree at max_memory: concurrent updaters while a migration runs") {
  full_map f(32 << 20, 100000, true);
  REQUIRE(f.m.chain_length() > 1);
  updaters_at_limit(f, 2, scaled(20000), false);
  check_all(f);
}

// ---------------------------------------------------------------------------
// Memory returned after clear() and destruction.

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define LOCKFREE_TEST_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define LOCKFREE_TEST_SANITIZED 1
#endif
#endif
#if defined(__GLIBC__) && !defined(LOCKFREE_TEST_SANITIZED)
// glibc's allocator is the one in use: RSS shows what it gave back. (Under
// a sanitizer its own allocator serves malloc, and keeps what it keeps.)
#define LOCKFREE_TEST_RSS 1
#include <malloc.h>
#endif

namespace {

// Resident bytes of this process (0 where /proc is missing).
std::size_t resident_bytes() {
  std::FILE* f = std::fopen("/proc/self/statm", "r");
  if (!f) return 0;
  unsigned long pages = 0, resident = 0;
  const int got = std::fscanf(f, "%lu %lu", &pages, &resident);
  std::fclose(f);
  return got == 2 ? resident * 4096 : 0;
}

void fill_small(lockfree_map& m, long n) {
  for (long i = 0; i < n; ++i) {
    const long v = i * 7;
    m.put(bytes(reinterpret_cast<const char*>(&i), 8), bytes(reinterpret_cast<const char*>(&v), 8),
          nullptr);
  }
}

}  // namespace

TEST_CASE("lockfree: a large map's nodes go back to the system after clear and destruction") {
  // 1M entries of 8-byte keys and values: 48 MB of nodes, in 2M small heap
  // chunks, beside a mapped table (which munmap returns in any case).
  const long n = 1000000;
  epoch::synchronize();
#ifdef LOCKFREE_TEST_RSS
  malloc_trim(0);  // what earlier cases freed must not hide this one's growth
#endif
  const std::size_t before = resident_bytes();
  auto m = std::make_unique<lockfree_map>(options{});
  fill_small(*m, n);
  const std::size_t full = resident_bytes();
  m->clear();
  epoch::synchronize();  // frees the old generation
  const std::size_t cleared = resident_bytes();
  CHECK_EQ(m->size(), 0u);
  fill_small(*m, n);
  CHECK_EQ(m->size(), std::size_t(n));
  const std::size_t refilled = resident_bytes();
  m.reset();
  epoch::synchronize();
  const std::size_t destroyed = resident_bytes();
  const auto mb = [](std::size_t b) { return double(b) / (1 << 20); };
  std::printf("RSS (MB): before %.0f, full %.0f, cleared %.0f, refilled %.0f, destroyed %.0f\n",
              mb(before), mb(full), mb(cleared), mb(refilled), mb(destroyed));
#ifdef LOCKFREE_TEST_RSS
  REQUIRE(full > before + (std::size_t{64} << 20));
  // Without returning them, the freed nodes stay resident: two thirds of
  // what the fill added.
  const std::size_t added = full - before;
  CHECK(cleared < before + added / 4);
  CHECK(destroyed < before + added / 4);
#else
  std::printf("(not glibc's allocator: RSS not checked)\n");
#endif
}

TEST_CASE("lockfree: an empty map is small") {
  lockfree_map m(options{});
  const map_stats st = m.stats();
  std::printf("empty lockfree map: %zu bytes, %zu slots\n", st.bytes, st.capacity);
  CHECK(st.bytes < 8192);
  CHECK_EQ(st.size, 0u);
}

TEST_MAIN
