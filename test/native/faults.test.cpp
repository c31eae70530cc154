// Allocation-failure injection, after Boost.Unordered's exception tests.
//
// Every strategy (tmtest::strategies()) runs one script of operations that
// visits every operation and every state transition: get, get_many, put,
// put_if_absent, compare_and_set, swap, erase and take, add, clear, scan;
// flat-table growth (mutex, rwlock, striped-1: one table; striped: each
// stripe's first array), readmostly's promotion (reads that miss) and its
// dirty-table building (a new key after a promotion, with erased keys to
// expunge), lockfree's migrations (its tables start at 16 slots). The script
// runs twice: with keys and values short enough to sit inline in a flat-table
// slot, and with keys of more than 14 bytes and values long enough to go out
// of line.
//
// For each step p of the script and k = 0, 1, 2, ... the map is rebuilt by
// steps [0, p) (no injection), the allocation numbered k of step p is made to
// fail (threadmap/detail/alloc.hpp: the core's own allocations and every
// operator new, replaced below for this executable only), and then:
//   - the step must report failure cleanly (std::bad_alloc, or memory_limit)
//     or, if it did not need that allocation after all, succeed exactly;
//   - the map's contents (scan, get of every key, get_many, size) must equal
//     the model before the step (after it, on success);
//   - later operations must work (a probe key is put, read and erased);
//   - after clear(), size, scan and the memory accounting (stats().bytes)
//     must be back to a fresh map's, so no failure leaked a charge;
// until step p completes without reaching allocation k. The AddressSanitizer
// run (npm run test:asan) checks that nothing leaked or was used after free.
//
// known_failures below lists the cases that fail on the code as committed,
// each a bug in a file owned elsewhere; they are printed, not checked, and the
// entry goes once its fix is merged.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <new>
#include <string>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.hpp"
#include "snapshot_support.hpp"
#include "threadmap/detail/alloc.hpp"
#include "threadmap/detail/numa.hpp"
#include "threadmap/epoch.hpp"
#include "threadmap/factory.hpp"
#include "threadmap/map.hpp"
#include "threadmap/watch.hpp"

// ---------------------------------------------------------------------------
// Global operator new for this executable: every allocation of the core's
// containers (and of this test) asks the fault hook first. It is malloc (or
// aligned_alloc) underneath, so free is its delete; GCC, seeing free inlined
// where new was called, would warn of a mismatch that is none.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

namespace {
void* hooked_new(std::size_t n) {
  if (threadmap::detail::fail_allocation()) throw std::bad_alloc();
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void* hooked_new(std::size_t n, std::align_val_t a) {
  if (threadmap::detail::fail_allocation()) throw std::bad_alloc();
  const std::size_t al = static_cast<std::size_t>(a);
  if (void* p = std::aligned_alloc(al, (n + al - 1) / al * al + (n ? 0 : al))) return p;
  throw std::bad_alloc();
}
}  // namespace

void* operator new(std::size_t n) {
  return hooked_new(n);
}
void* operator new[](std::size_t n) {
  return hooked_new(n);
}
void* operator new(std::size_t n, std::align_val_t a) {
  return hooked_new(n, a);
}
void* operator new[](std::size_t n, std::align_val_t a) {
  return hooked_new(n, a);
}
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
  try {
    return hooked_new(n);
  } catch (...) {
    return nullptr;
  }
}
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept {
  try {
    return hooked_new(n);
  } catch (...) {
    return nullptr;
  }
}
// The aligned nothrow forms too, so every operator new the core calls pairs
// with the free() below (numa::allocate takes its table memory this way, and
// AddressSanitizer reported the library's new against this file's delete).
// They do not consult the hook: numa::allocate, their one caller, already
// does, and a second check would make one allocation two failure points.
void* operator new(std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
  const std::size_t al = static_cast<std::size_t>(a);
  return std::aligned_alloc(al, (n + al - 1) / al * al + (n ? 0 : al));
}
void* operator new[](std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
  const std::size_t al = static_cast<std::size_t>(a);
  return std::aligned_alloc(al, (n + al - 1) / al * al + (n ? 0 : al));
}
void operator delete(void* p) noexcept {
  std::free(p);
}
void operator delete[](void* p) noexcept {
  std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
  std::free(p);
}
void operator delete[](void* p, std::size_t) noexcept {
  std::free(p);
}
void operator delete(void* p, std::align_val_t) noexcept {
  std::free(p);
}
void operator delete[](void* p, std::align_val_t) noexcept {
  std::free(p);
}
void operator delete(void* p, std::size_t, std::align_val_t) noexcept {
  std::free(p);
}
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept {
  std::free(p);
}
void operator delete(void* p, const std::nothrow_t&) noexcept {
  std::free(p);
}
void operator delete[](void* p, const std::nothrow_t&) noexcept {
  std::free(p);
}
void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept {
  std::free(p);
}
void operator delete[](void* p, std::align_val_t, const std::nothrow_t&) noexcept {
  std::free(p);
}

using namespace threadmap;

namespace {

// ---------------------------------------------------------------------------
// Known failures: bugs in files this suite's author does not own. Each entry
// names the strategy and the script step (its name up to the first '#'), and
// the bug. Printed on every run; remove an entry once its fix is merged.

struct known_failure {
  const char* strategy;  // "*": every strategy
  const char* variant;   // "inline", "out of line" or "*"
  const char* step;      // a step name, without its '#n' suffix
  const char* bug;
};

// None today: the last ones (readmostly's partial writes, lockfree's copy of
// the old value after its CAS, epoch::retire's allocation after the commit
// point) were fixed, and their steps are checked like every other.
const std::vector<known_failure> known_failures;

const known_failure* known_failure_for(const std::string& strategy, const std::string& variant,
                                       const std::string& step) {
  const std::string base = step.substr(0, step.find('#'));
  auto match = [](const char* pattern, const std::string& s) {
    return std::strcmp(pattern, "*") == 0 || s == pattern;
  };
  for (const known_failure& kf : known_failures) {
    if (match(kf.strategy, strategy) && match(kf.variant, variant) && base == kf.step) return &kf;
  }
  return nullptr;
}

void no_op_deleter(void*) {}

// ---------------------------------------------------------------------------
// The script

using model = std::map<std::string, std::string>;

// The span of one step in which allocations are counted and may fail: the
// operation's call only, not the test's formatting of its answer.
struct window {
  bool active = false;
  std::uint64_t fail_at = fault_injection::never;
  fault_injection::report report;
};

// Arms the window for its lifetime (or until close()); inert when the window is not active.
class armed {
 public:
  explicit armed(window& w) noexcept : w_(w) {
    if (w_.active) fault_injection::arm(w_.fail_at);
  }
  ~armed() { close(); }
  void close() noexcept {
    if (w_.active && !closed_) w_.report = fault_injection::disarm();
    closed_ = true;
  }

 private:
  window& w_;
  bool closed_ = false;
};

struct step {
  std::string name;
  // Runs the operation, arming `w` around its call; returns its answer as text.
  std::function<std::string(concurrent_map&, window&)> run;
  // The model's answer, applying the operation to the model.
  std::function<std::string(model&)> expect;
};

std::string st_text(status s, const std::string* out = nullptr) {
  std::string r = to_string(s);
  if (out) r += " [" + *out + "]";
  return r;
}

struct keys {
  bool long_entries;
  // Inline: key + value at most 22 bytes. Long: keys of more than 14 bytes and
  // values that go out of line in every strategy.
  std::string key(int i) const {
    return long_entries ? "a-long-key-that-goes-out-of-line:" + std::to_string(i)
                        : "k" + std::to_string(i);
  }
  std::string value(int i, int gen) const {
    std::string v = "v" + std::to_string(i) + "." + std::to_string(gen);
    if (long_entries) v += std::string(48, char('a' + (i + gen) % 26));
    return v;
  }
  std::string prefix() const { return long_entries ? std::string(40, 'c') : std::string(); }
};

std::string i64_text(std::int64_t v) {
  return std::string(reinterpret_cast<const char*>(&v), 8);
}

struct script_builder {
  std::vector<step> steps;
  std::map<std::string, int> counts;

  void add(std::string name, std::function<std::string(concurrent_map&, window&)> run,
           std::function<std::string(model&)> expect) {
    name += "#" + std::to_string(counts[name]++);
    steps.push_back({std::move(name), std::move(run), std::move(expect)});
  }

  void put(const std::string& k, const std::string& v, const char* name = "put") {
    add(
        name,
        [=](concurrent_map& m, window& w) {
          std::string old;
          armed a(w);
          const status s = m.put(k, v, &old);
          a.close();
          return st_text(s, s == status::ok ? &old : nullptr);
        },
        [=](model& md) {
          auto it = md.find(k);
          if (it == md.end()) {
            md[k] = v;
            return st_text(status::inserted);
          }
          const std::string old = it->second;
          it->second = v;
          return st_text(status::ok, &old);
        });
  }
  void swap(const std::string& k, const std::string& v) {
    add(
        "swap",
        [=](concurrent_map& m, window& w) {
          std::string old;
          armed a(w);
          const status s = m.swap(k, v, &old);
          a.close();
          return st_text(s, s == status::ok ? &old : nullptr);
        },
        [=](model& md) {
          auto it = md.find(k);
          if (it == md.end()) return md[k] = v, st_text(status::inserted);
          const std::string old = it->second;
          it->second = v;
          return st_text(status::ok, &old);
        });
  }
  void put_if_absent(const std::string& k, const std::string& v) {
    add(
        "put_if_absent",
        [=](concurrent_map& m, window& w) {
          std::string cur;
          armed a(w);
          const status s = m.put_if_absent(k, v, &cur);
          a.close();
          return st_text(s, s == status::exists ? &cur : nullptr);
        },
        [=](model& md) {
          auto it = md.find(k);
          if (it == md.end()) return md[k] = v, st_text(status::inserted);
          return st_text(status::exists, &it->second);
        });
  }
  // expected/desired: nullptr for absent.
  void cas(const std::string& k, const std::string* expected, const std::string* desired,
           const char* name) {
    const bool has_e = expected, has_d = desired;
    const std::string e = expected ? *expected : "", d = desired ? *desired : "";
    add(
        name,
        [=](concurrent_map& m, window& w) {
          std::string cur;
          const bytes eb = e, db = d;
          armed a(w);
          const status s = m.compare_and_set(k, has_e ? &eb : nullptr, has_d ? &db : nullptr, &cur);
          a.close();
          return st_text(s, s == status::mismatch ? &cur : nullptr);
        },
        [=](model& md) {
          auto it = md.find(k);
          if (!has_e) {
            if (it != md.end()) return st_text(status::mismatch, &it->second);
            if (!has_d) return st_text(status::ok);
            md[k] = d;
            return st_text(status::inserted);
          }
          if (it == md.end()) return st_text(status::not_found);
          if (it->second != e) return st_text(status::mismatch, &it->second);
          if (!has_d) {
            md.erase(it);
          } else {
            it->second = d;
          }
          return st_text(status::ok);
        });
  }
  void erase(const std::string& k, bool take) {
    add(
        take ? "take" : "erase",
        [=](concurrent_map& m, window& w) {
          std::string old;
          armed a(w);
          const status s = take ? m.take(k, &old) : m.erase(k, nullptr);
          a.close();
          return st_text(s, take && s == status::ok ? &old : nullptr);
        },
        [=](model& md) {
          auto it = md.find(k);
          if (it == md.end()) return st_text(status::not_found);
          const std::string old = it->second;
          md.erase(it);
          return st_text(status::ok, take ? &old : nullptr);
        });
  }
  void add_counter(const std::string& k, std::int64_t delta, const std::string& prefix) {
    add(
        "add",
        [=](concurrent_map& m, window& w) {
          counter r{};
          counter d{};
          d.i = delta;
          armed a(w);
          const status s = m.add(k, counter_kind::i64, d, prefix, &r);
          a.close();
          std::string text = st_text(s);
          if (s == status::ok || s == status::inserted) text += " " + std::to_string(r.i);
          return text;
        },
        [=](model& md) {
          auto it = md.find(k);
          std::int64_t cur = 0;
          if (it != md.end()) {
            if (it->second.size() != prefix.size() + 8 ||
                it->second.compare(0, prefix.size(), prefix) != 0) {
              return st_text(status::mismatch);
            }
            std::memcpy(&cur, it->second.data() + prefix.size(), 8);
          }
          const status s = it == md.end() ? status::inserted : status::ok;
          md[k] = prefix + i64_text(cur + delta);
          return st_text(s) + " " + std::to_string(cur + delta);
        });
  }
  void get(const std::string& k) {
    add(
        "get",
        [=](concurrent_map& m, window& w) {
          std::string out;
          armed a(w);
          const bool found = m.get(k, &out);
          a.close();
          return found ? "found [" + out + "]" : std::string("absent");
        },
        [=](model& md) {
          auto it = md.find(k);
          return it == md.end() ? std::string("absent") : "found [" + it->second + "]";
        });
  }
  void get_many(const std::vector<std::string>& ks) {
    add(
        "get_many",
        [=](concurrent_map& m, window& w) {
          std::vector<bytes> views(ks.begin(), ks.end());
          std::vector<std::string> out(ks.size());
          std::unique_ptr<bool[]> found(new bool[ks.size()]);
          {
            armed a(w);
            m.get_many(views.data(), views.size(), out.data(), found.get());
          }
          std::string r;
          for (std::size_t i = 0; i < ks.size(); ++i) r += found[i] ? "[" + out[i] + "]" : "-";
          return r;
        },
        [=](model& md) {
          std::string r;
          for (const std::string& k : ks) {
            auto it = md.find(k);
            r += it == md.end() ? std::string("-") : "[" + it->second + "]";
          }
          return r;
        });
  }
  void scan() {
    add(
        "scan",
        [](concurrent_map& m, window& w) {
          std::string all;
          std::size_t n = 0;
          {
            armed a(w);
            for (std::size_t u = 0; u < m.scan_units(); ++u) n += m.scan(u, all);
          }
          model seen;
          scan_reader rd(all);
          scan_record rec;
          while (rd.next(rec)) seen.emplace(rec.key, rec.value);
          std::string r = std::to_string(n) + ":";
          for (const auto& [k, v] : seen) r += k + "=" + v + ";";
          return r;
        },
        [](model& md) {
          std::string r = std::to_string(md.size()) + ":";
          for (const auto& [k, v] : md) r += k + "=" + v + ";";
          return r;
        });
  }
  void clear() {
    add(
        "clear",
        [](concurrent_map& m, window& w) {
          {
            armed a(w);
            m.clear();
          }
          return std::string();
        },
        [](model& md) {
          md.clear();
          return std::string();
        });
  }
};

std::vector<step> make_script(const keys& K) {
  constexpr int n = 40;
  script_builder b;
  std::vector<std::string> all;
  // Fill: every flat table grows (mutex, rwlock, striped-1), every striped
  // stripe gets its first array, lockfree migrates twice; readmostly's new
  // keys all go to its dirty table.
  for (int i = 0; i < n; ++i) {
    b.put(K.key(i), K.value(i, 0));
    all.push_back(K.key(i));
    if (i % 7 == 3) {
      b.put_if_absent(K.key(i), K.value(i, 9));
      b.get(K.key(i / 2));
      b.get(K.key(1000 + i));
    }
  }
  // Reads of dirty keys: readmostly counts misses and promotes dirty to read.
  for (int i = 0; i < n + 2; ++i) b.get(K.key(i % n));
  // Updates of keys now in readmostly's read table (lock-free CAS paths).
  b.swap(K.key(0), K.value(0, 1));
  b.put(K.key(1), K.value(1, 1), "put replace");
  {
    const std::string cur = K.value(2, 0), next = K.value(2, 1), wrong = K.value(2, 7);
    b.cas(K.key(2), &cur, &next, "cas replace");
    b.cas(K.key(2), &wrong, &cur, "cas mismatch");
    b.cas(K.key(3), nullptr, &cur, "cas absent-expected mismatch");
    const std::string v3 = K.value(3, 0);
    b.cas(K.key(3), &v3, nullptr, "cas erase");
    b.cas(K.key(2000), nullptr, &cur, "cas insert");
    b.cas(K.key(2001), &cur, &next, "cas not_found");
    all.push_back(K.key(2000));
  }
  b.put_if_absent(K.key(2002), K.value(2002, 0));
  all.push_back(K.key(2002));
  // Counters, inline or out of line with the prefix.
  b.add_counter(K.key(3000), 5, K.prefix());
  b.add_counter(K.key(3000), 7, K.prefix());
  b.add_counter(K.key(4), 1, K.prefix());  // not a counter: mismatch
  all.push_back(K.key(3000));
  // Erasures, then new keys: readmostly expunges the erased entries while it
  // builds a dirty table, and re-inserting an expunged key puts it back.
  b.erase(K.key(5), true);
  b.erase(K.key(6), false);
  b.erase(K.key(7), true);
  b.erase(K.key(4000), true);
  b.put(K.key(4001), K.value(4001, 0), "put after erase");
  b.put(K.key(5), K.value(5, 2), "put expunged");
  b.get(K.key(6));
  all.push_back(K.key(4001));
  all.push_back(K.key(4002));
  b.get_many(all);
  b.scan();
  // More growth (lockfree's third migration; readmostly promotes again).
  for (int i = n; i < n + 24; ++i) b.put(K.key(i), K.value(i, 0), "put grow");
  for (int i = 0; i < 2 * n; ++i) b.get(K.key(n + i % 24));  // more misses than dirty keys
  b.erase(K.key(n), true);
  b.put(K.key(5000), K.value(5000, 0), "put after erase");
  b.put(K.key(n), K.value(n, 1), "put expunged");
  b.clear();
  b.put(K.key(1), K.value(1, 3), "put after clear");
  b.add_counter(K.key(3000), -2, K.prefix());
  b.get_many(all);
  b.scan();
  b.clear();
  b.clear();
  return std::move(b.steps);
}

// ---------------------------------------------------------------------------
// Checks

std::string show(const std::string& s) {
  std::string r;
  for (unsigned char c : s) {
    if (c >= 32 && c < 127) {
      r += char(c);
    } else {
      char buf[5];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      r += buf;
    }
  }
  return r.size() > 160 ? r.substr(0, 160) + "..." : r;
}

// The map holds exactly `md`: through scan and size, and with `reads`
// through get and get_many as well. (Reads are not neutral: readmostly counts
// the misses and promotes, so right after a failure only scan looks, and the
// state the failure left meets the rest of the script first.)
bool same_contents(concurrent_map& m, const model& md, const std::string& where,
                   bool reads = true) {
  bool ok = true;
  auto bad = [&](const std::string& what) {
    ok = false;
    tmtest::fail(__FILE__, __LINE__, where + ": " + what);
  };
  model seen;
  std::size_t counted = 0;
  for (std::size_t u = 0; u < m.scan_units(); ++u) {
    std::string buf;
    counted += m.scan(u, buf);
    scan_reader rd(buf);
    scan_record rec;
    while (rd.next(rec)) {
      if (!seen.emplace(rec.key, rec.value).second)
        bad("scan saw a key twice: " + show(std::string(rec.key)));
    }
  }
  if (counted != seen.size())
    bad("scan counted " + std::to_string(counted) + " records, wrote " +
        std::to_string(seen.size()));
  if (seen != md) {
    for (const auto& [k, v] : md) {
      auto it = seen.find(k);
      if (it == seen.end())
        bad("scan lacks " + show(k));
      else if (it->second != v)
        bad("scan has " + show(k) + " = " + show(it->second) + ", want " + show(v));
    }
    for (const auto& [k, v] : seen)
      if (!md.count(k)) bad("scan has extra " + show(k) + " = " + show(v));
  }
  if (m.size() != md.size())
    bad("size() " + std::to_string(m.size()) + ", want " + std::to_string(md.size()));
  if (!reads) return ok;
  std::vector<std::string> ks;
  for (const auto& [k, v] : md) {
    std::string out;
    if (!m.get(k, &out))
      bad("get lacks " + show(k));
    else if (out != v)
      bad("get " + show(k) + " = " + show(out) + ", want " + show(v));
    ks.push_back(k);
  }
  ks.push_back("no such key, long enough to be out of line");
  std::vector<bytes> views(ks.begin(), ks.end());
  std::vector<std::string> out(ks.size());
  std::unique_ptr<bool[]> found(new bool[ks.size()]);
  m.get_many(views.data(), views.size(), out.data(), found.get());
  for (std::size_t i = 0; i + 1 < ks.size(); ++i) {
    if (!found[i] || out[i] != md.at(ks[i])) bad("get_many disagrees on " + show(ks[i]));
  }
  if (found[ks.size() - 1]) bad("get_many found an absent key");
  return ok;
}

// Later operations work, and clear() gives back every byte charged.
void later_operations(concurrent_map& m, model md, std::size_t fresh_bytes,
                      const std::string& where) {
  const std::string pk = "probe key, out of line in every strategy", pv(64, 'p');
  std::string out;
  if (m.put(pk, pv, nullptr) != status::inserted || !m.get(pk, &out) || out != pv) {
    tmtest::fail(__FILE__, __LINE__, where + ": a put after the failure did not take");
  }
  md[pk] = pv;
  same_contents(m, md, where + " (after a later put)");
  if (m.erase(pk, nullptr) != status::ok)
    tmtest::fail(__FILE__, __LINE__, where + ": erase failed");
  m.clear();
  same_contents(m, {}, where + " (after clear)");
  const std::size_t b = m.stats().bytes;
  if (b != fresh_bytes) {
    tmtest::fail(__FILE__, __LINE__,
                 where + ": after clear(), stats().bytes is " + std::to_string(b) +
                     ", a fresh map's " + std::to_string(fresh_bytes) +
                     " (a charge leaked or was released twice)");
  }
}

std::unique_ptr<concurrent_map> build(const tmtest::strategy_config& cfg,
                                      const std::vector<step>& script, std::size_t upto) {
  auto m = make_map(cfg.opts);
  window none;
  for (std::size_t i = 0; i < upto; ++i) script[i].run(*m, none);
  return m;
}

struct totals {
  std::size_t steps = 0, injections = 0, known = 0;
};

// After a failure at step p, the rest of the script must still run on the map
// (from the state it was left in) with the model's answers: a failure that
// left an internal state behind (a table half built, an entry in limbo) shows
// up in the operations that meet it later, not only in the next read.
bool run_rest(concurrent_map& m, const std::vector<step>& script, std::size_t p, model& md,
              const std::string& where) {
  window none;
  for (std::size_t i = p + 1; i < script.size(); ++i) {
    const std::string want = script[i].expect(md);
    const std::string got = script[i].run(m, none);
    if (got != want) {
      tmtest::fail(__FILE__, __LINE__,
                   where + ": then step " + std::to_string(i) + " '" + script[i].name +
                       "' answered " + show(got) + ", want " + show(want));
      return false;
    }
  }
  return true;
}

// The k-loop of one step (see the top of the file).
void check_step(const tmtest::strategy_config& cfg, const char* variant,
                const std::vector<step>& script, std::size_t p, const model& before,
                std::size_t fresh_bytes, totals& t) {
  const step& s = script[p];
  model after = before;
  const std::string want = s.expect(after);
  for (std::uint64_t k = 0;; ++k) {
    const std::string where = std::string("[") + cfg.name + "] " + variant + ", step " +
                              std::to_string(p) + " '" + s.name + "', allocation " +
                              std::to_string(k) + " fails";
    auto m = build(cfg, script, p);
    const std::uint64_t revision_before = m->revision();
    std::string got;
    bool threw = false;
    window w{true, k, {}};
    try {
      got = s.run(*m, w);
    } catch (const std::bad_alloc&) {
      threw = true;
    } catch (const std::exception& e) {
      tmtest::fail(__FILE__, __LINE__, where + ": threw " + e.what());
      return;
    }
    const fault_injection::report r = w.report;
    if (r.failed) ++t.injections;
    const bool failed_cleanly = threw || got.rfind(to_string(status::memory_limit), 0) == 0;
    // Failed: nothing may have changed. Completed (with no injected failure,
    // or without needing that allocation): exactly the model's answer.
    if (!(r.failed && failed_cleanly) && (threw || got != want)) {
      tmtest::fail(
          __FILE__, __LINE__,
          where + ": answered " + (threw ? "bad_alloc" : show(got)) + ", want " + show(want));
    }
    // A write that failed changed nothing: it drew no revision either.
    if (r.failed && failed_cleanly && m->revision() != revision_before) {
      tmtest::fail(__FILE__, __LINE__, where + ": failed, but the map's revision moved");
    }
    model md = r.failed && failed_cleanly ? before : after;
    if (same_contents(*m, md, where, false) && run_rest(*m, script, p, md, where) &&
        same_contents(*m, md, where + " (at the end of the script)")) {
      later_operations(*m, md, fresh_bytes, where);
    }
    if (!r.failed) return;
    if (k > 100000) {
      tmtest::fail(__FILE__, __LINE__, where + ": never completes");
      return;
    }
  }
}

// Known failures run in child processes, so that a crash is reported (with
// its signal) instead of ending the suite. One child runs the covered steps
// in order and writes a verdict byte per step to a pipe; if it crashes, the
// next child starts after the step that crashed. Their checks' messages are
// dropped (THREADMAP_FAULTS_VERBOSE=1 keeps them). Returns per step how it
// ended: empty when every check passed.
std::vector<std::string> check_known_failures(const tmtest::strategy_config& cfg,
                                              const char* variant, const std::vector<step>& script,
                                              const std::vector<model>& befores,
                                              const std::vector<std::size_t>& steps,
                                              std::size_t fresh_bytes) {
  std::vector<std::string> verdicts(steps.size());
  for (std::size_t i = 0; i < steps.size();) {
    int fds[2];
    if (pipe(fds) != 0) {
      tmtest::fail(__FILE__, __LINE__, "cannot make a pipe for the known failures");
      return verdicts;
    }
    std::fflush(stdout);
    std::fflush(stderr);
    const pid_t pid = fork();
    if (pid == 0) {
      close(fds[0]);
      if (!std::getenv("THREADMAP_FAULTS_VERBOSE")) {
        const int null = open("/dev/null", O_WRONLY);
        if (null >= 0) dup2(null, 2);
      }
      for (std::size_t j = i; j < steps.size(); ++j) {
        const int failures = tmtest::failures();
        totals t;
        check_step(cfg, variant, script, steps[j], befores[steps[j]], fresh_bytes, t);
        std::fflush(stderr);
        const char verdict = tmtest::failures() == failures ? '0' : '1';
        if (write(fds[1], &verdict, 1) != 1) break;
      }
      _exit(0);  // _exit: LeakSanitizer would report the known leaks
    }
    close(fds[1]);
    std::size_t done = 0;
    char c;
    while (pid > 0 && read(fds[0], &c, 1) == 1) {
      if (c == '1') verdicts[i + done] = "checks failed";
      ++done;
    }
    close(fds[0]);
    int st = 0;
    if (pid < 0 || waitpid(pid, &st, 0) != pid) {
      tmtest::fail(__FILE__, __LINE__, "cannot run the known failures in a child process");
      return verdicts;
    }
    i += done;
    if (i == steps.size()) break;
    // The child died in step i: by a signal, or (under a sanitizer, which
    // reports the SEGV itself) with an exit status.
    verdicts[i++] = WIFSIGNALED(st) ? "crashed with signal " + std::to_string(WTERMSIG(st))
                                    : "died with exit status " + std::to_string(WEXITSTATUS(st));
  }
  return verdicts;
}

void run_script(const tmtest::strategy_config& cfg, const keys& K, totals& t) {
  const std::vector<step> script = make_script(K);
  const std::size_t fresh_bytes = make_map(cfg.opts)->stats().bytes;
  const char* variant = K.long_entries ? "out of line" : "inline";
  // THREADMAP_FAULTS_DISCOVER=1 runs every step as if it were a known
  // failure: how to find what known_failures should list.
  static const bool discover = std::getenv("THREADMAP_FAULTS_DISCOVER") != nullptr;
  static const known_failure discovering{"*", "*", "(any)", "(discovery run)"};
  std::vector<model> befores(1);
  for (const step& s : script) {
    befores.push_back(befores.back());
    s.expect(befores.back());
  }
  std::vector<std::size_t> covered;
  std::vector<const known_failure*> entry_of;
  for (std::size_t p = 0; p < script.size(); ++p) {
    const known_failure* kf = known_failure_for(cfg.name, variant, script[p].name);
    if (discover && !kf) kf = &discovering;
    if (kf) {
      covered.push_back(p);
      entry_of.push_back(kf);
    } else {
      check_step(cfg, variant, script, p, befores[p], fresh_bytes, t);
      ++t.steps;
    }
  }
  const std::vector<std::string> verdicts =
      check_known_failures(cfg, variant, script, befores, covered, fresh_bytes);
  // Per entry: the steps it covered, and how many of them failed.
  std::map<const known_failure*, std::pair<std::size_t, std::size_t>> seen;
  for (std::size_t i = 0; i < covered.size(); ++i) {
    ++seen[entry_of[i]].first;
    if (verdicts[i].empty()) continue;
    ++seen[entry_of[i]].second;
    ++t.known;
    std::printf("  KNOWN FAILURE (%s), not counted: [%s] %s, step %zu '%s'\n", verdicts[i].c_str(),
                cfg.name, variant, covered[i], script[covered[i]].name.c_str());
  }
  for (const auto& [kf, n] : seen) {
    if (kf == &discovering) continue;
    std::printf(
        "  known_failures entry '%s' [%s] %s failed at %zu of the %zu steps it covers: %s\n",
        kf->step, cfg.name, variant, n.second, n.first, kf->bug);
    if (n.second == 0) {
      tmtest::fail(__FILE__, __LINE__,
                   std::string("known_failures entry '") + kf->step + "' for [" + cfg.name + "] " +
                       variant + " no longer fails: remove it");
    }
  }
  epoch::synchronize();
}

}  // namespace

// First in the file, so that it runs before anything has loaded the
// process's NUMA topology: numa::allocate loads it on first use.
TEST_CASE("numa: an allocation failure while the topology loads is reported and forgotten") {
  const numa::topology fresh = numa::read_topology("/sys", false);
  const numa::policy local{numa::policy_kind::local, 0};
  for (std::uint64_t k = 0;; ++k) {
    numa::placement where;
    void* p = nullptr;
    bool threw = false;
    fault_injection::arm(k);
    try {
      p = numa::allocate(256, local, where);  // below a page: the heap path
    } catch (const std::bad_alloc&) {
      threw = true;
    }
    const fault_injection::report r = fault_injection::disarm();
    CHECK(threw == (p == nullptr));
    numa::deallocate(p, where);  // (ASan: an array allocated before the throw must not leak)
    if (!r.failed) break;
  }
  for (std::uint64_t k = 0;; ++k) {
    fault_injection::arm(k);
    try {
      numa::reload_topology();
    } catch (const std::bad_alloc&) {
    }
    const fault_injection::report r = fault_injection::disarm();
    const std::shared_ptr<const numa::topology> now = numa::current_topology();
    if (now->error != fresh.error || now->node_list() != fresh.node_list()) {
      tmtest::fail(__FILE__, __LINE__,
                   "allocation " + std::to_string(k) + " of reload_topology fails: the topology " +
                       "is now '" + now->error + "' (nodes " + now->node_list() + "), want '" +
                       fresh.error + "' (nodes " + fresh.node_list() + ")");
      numa::reload_topology();
    }
    if (!r.failed) break;
  }
}

STRATEGY_CASE("every allocation of every operation fails in turn: inline entries") {
  totals t;
  run_script(cfg, keys{false}, t);
  std::printf("  [%s] inline: %zu steps, %zu injected failures checked, %zu known failures\n",
              cfg.name, t.steps, t.injections, t.known);
}

STRATEGY_CASE("every allocation of every operation fails in turn: out-of-line entries") {
  totals t;
  run_script(cfg, keys{true}, t);
  std::printf("  [%s] out of line: %zu steps, %zu injected failures checked, %zu known failures\n",
              cfg.name, t.steps, t.injections, t.known);
}

STRATEGY_CASE("every allocation of every operation fails in turn: NUMA policy local") {
  // Table arrays then take numa::allocate's placing path (the topology is
  // loaded on first use, and each array's node decided).
  tmtest::strategy_config local = cfg;
  local.opts.numa_policy.kind = numa::policy_kind::local;
  totals t;
  run_script(local, keys{true}, t);
  // The first array allocated loaded the process's topology, with failures
  // injected into that load: a failure must not be remembered as the
  // machine's topology.
  const numa::topology now = *numa::current_topology(), fresh = numa::read_topology("/sys", false);
  CHECK_EQ(now.error, fresh.error);
  CHECK_EQ(now.node_list(), fresh.node_list());
  std::printf("  [%s] numa local: %zu steps, %zu injected failures checked, %zu known failures\n",
              cfg.name, t.steps, t.injections, t.known);
}

namespace {
std::atomic<std::size_t> freed_by_test{0};
void count_free(void*) {
  freed_by_test.fetch_add(1, std::memory_order_relaxed);
}
}  // namespace

// epoch::retire runs after its caller's operation has taken effect, so it
// must not fail it. The bag is filled to every size up to 1,024 (it grows by
// doubling, so each power of two is a full bag once), then a swap of an
// out-of-line value retires the old blob while the k-loop fails each of the
// swap's allocations in turn: a swap that reports bad_alloc must have changed
// nothing, and nothing may be lost (LeakSanitizer checks the blobs).
TEST_CASE("epoch::retire never fails an operation that took effect") {
  const std::size_t lost_before = epoch::lost();
  std::thread([] {
    const std::string key = "a key long enough to go out of line", v1(40, '1'), v2(40, '2');
    options o;
    o.strategy = strategy_kind::mutex;
    for (int j = 0; j < 1024; ++j) {
      for (std::uint64_t k = 0;; ++k) {
        epoch::synchronize();  // empties this thread's bag (its capacity stays)
        epoch::guard g;        // nothing retired from here on is freed before it ends
        static int dummy;
        for (int i = 0; i < j; ++i) epoch::retire(&dummy, &no_op_deleter);
        auto m = make_map(o);
        m->put(key, v1, nullptr);
        bool threw = false;
        fault_injection::arm(k);
        try {
          m->swap(key, v2, nullptr);
        } catch (const std::bad_alloc&) {
          threw = true;
        }
        const fault_injection::report r = fault_injection::disarm();
        std::string now;
        REQUIRE(m->get(key, &now));
        REQUIRE(now == (threw ? v1 : v2));
        if (!r.failed) break;
      }
    }
  }).join();
  CHECK_EQ(epoch::lost(), lost_before);
}

// Allocation that keeps failing: every retire() finds no room to grow its
// list. It must not throw or free early; what it could record (in the list
// while it had room, then in the spare slots) is freed once safe, and only
// the rest is counted lost.
TEST_CASE("epoch::retire under allocation that keeps failing") {
  std::thread([] {
    constexpr std::size_t n = 5000;
    const std::size_t lost_before = epoch::lost(), freed_before = freed_by_test.load();
    static int dummy;
    {
      epoch::guard g;
      for (std::size_t i = 0; i < n; ++i) {
        fault_injection::arm(0);  // this retire's allocation, if any, fails
        epoch::retire(&dummy, &count_free);
        fault_injection::disarm();
        CHECK_EQ(freed_by_test.load(), freed_before);  // nothing freed inside the guard
      }
    }
    epoch::synchronize();
    const std::size_t freed = freed_by_test.load() - freed_before;
    const std::size_t lost = epoch::lost() - lost_before;
    CHECK_EQ(freed + lost, n);
    CHECK(freed >= 16);  // at least the spare slots
    CHECK(lost > 0);     // 5,000 exceeds any list this thread's record had room for
  }).join();
}

TEST_CASE("the hook counts and fails allocations of this thread only") {
  fault_injection::arm(fault_injection::never);
  // Direct calls: a new-expression whose result is unused may be elided.
  void* a = ::operator new(16);
  void* b = detail::allocate(8);
  const fault_injection::report r = fault_injection::disarm();
  CHECK_EQ(r.allocations, 2u);
  CHECK(!r.failed);
  fault_injection::arm(1);
  void* c = detail::allocate(8);
  void* d = detail::allocate(8);
  const fault_injection::report r2 = fault_injection::disarm();
  CHECK(c != nullptr);
  CHECK(d == nullptr);
  CHECK(r2.failed);
  CHECK_EQ(r2.allocations, 2u);
  bool threw = false;
  fault_injection::arm(0);
  try {
    ::operator delete(::operator new(16));
  } catch (const std::bad_alloc&) {
    threw = true;
  }
  fault_injection::disarm();
  CHECK(threw);
  void* e = detail::allocate(8);  // disarmed: allocations succeed
  CHECK(e != nullptr);
  std::free(e);
  ::operator delete(a);
  std::free(b);
  std::free(c);
}

// ---------------------------------------------------------------------------
// Snapshots under allocation failure (snapshot.hpp, LOST). A snapshot must
// never show a mixture of revisions: whatever allocation fails while a
// writer copies a stripe for it, while it copies a stripe itself, or while
// refresh() applies the log, every read afterwards either answers as of one
// revision or throws, until a refresh() takes it again.

namespace {

std::uint64_t map_revision(shared_map& m) {
  return tmtest::with_map(m, [](concurrent_map& c) { return c.revision(); });
}

// Half the values go out of line, so copies and tables allocate per entry.
std::string snap_value(int i, int gen) {
  std::string v = "v" + std::to_string(i) + "." + std::to_string(gen);
  if (i % 2 == 0) v.append(40, 'x');
  return v;
}

std::shared_ptr<shared_map> filled_map(const options& o) {
  auto m = registry::create(o, "string", "string");
  tmtest::with_map(*m, [](concurrent_map& c) {
    for (int i = 0; i < 64; ++i) c.put("k" + std::to_string(i), snap_value(i, 0), nullptr);
    return 0;
  });
  return m;
}

// True when reading the snapshot throws (std::bad_alloc for a lost unit, or
// runtime_error for a snapshot lost whole); otherwise `out` holds it.
bool reads_throw(snapshot& s, model& out) {
  try {
    out = tmtest::contents(s);
    return false;
  } catch (const std::bad_alloc&) {
    return true;
  } catch (const std::runtime_error&) {
    return true;
  }
}

}  // namespace

TEST_CASE(
    "snapshot: a write that cannot copy its stripe for a lazy snapshot goes on; the snapshot loses "
    "that stripe until refresh()") {
  for (const tmtest::strategy_config& cfg : tmtest::flat_table_configs()) {
    tmtest::current() = std::string("snapshot, failing writer copy [") + cfg.name + "]";
    bool lost_a_unit = false;
    for (std::uint64_t k = 0;; ++k) {
      auto m = filled_map(cfg.opts);
      const model before = tmtest::contents(*m);
      auto s = snapshot::take(m);
      REQUIRE(s && s->lazy());
      const std::string key = "k6", fresh = snap_value(6, 1);
      bool threw = false;
      fault_injection::arm(k);
      try {
        tmtest::with_map(*m, [&](concurrent_map& c) { return c.put(key, fresh, nullptr); });
      } catch (const std::bad_alloc&) {
        threw = true;
      }
      const fault_injection::report r = fault_injection::disarm();
      // The write: done exactly when it returned.
      std::string now;
      REQUIRE(tmtest::with_map(*m, [&](concurrent_map& c) { return c.get(key, &now); }));
      CHECK_EQ(now, threw ? before.at(key) : fresh);
      // The snapshot: each unit as taken, or lost (its reads throw bad_alloc).
      std::size_t lost = 0;
      model seen;
      for (std::size_t u = 0; u < s->units(); ++u) {
        try {
          seen.insert(s->unit(u).begin(), s->unit(u).end());
        } catch (const std::bad_alloc&) {
          ++lost;
        }
      }
      CHECK(lost <= 1);  // the one stripe the write changed
      for (const auto& [kk, v] : seen) CHECK_EQ(v, before.at(kk));
      if (lost == 0) {
        CHECK(seen == before);
      } else {
        lost_a_unit = true;
        bool find_threw = false;
        try {
          s->find(key);
        } catch (const std::bad_alloc&) {
          find_threw = true;
        }
        CHECK(find_threw);  // the write's key is in the lost stripe
      }
      // refresh() takes it again.
      REQUIRE(s->refresh());
      CHECK(tmtest::contents(*s) == tmtest::contents(*m));
      CHECK_EQ(s->revision(), map_revision(*m));
      s->close();
      m->close();
      if (!r.failed) break;
    }
    CHECK(lost_a_unit);  // some allocation of the write was the copy's
  }
}

TEST_CASE(
    "snapshot: a read that cannot copy its stripe throws, and a later read or refresh() recovers") {
  for (const tmtest::strategy_config& cfg : tmtest::flat_table_configs()) {
    tmtest::current() = std::string("snapshot, failing reader copy [") + cfg.name + "]";
    bool failed_once = false;
    for (std::uint64_t k = 0;; ++k) {
      auto m = filled_map(cfg.opts);
      const model before = tmtest::contents(*m);
      auto s = snapshot::take(m);
      REQUIRE(s && s->lazy());
      model seen;
      fault_injection::arm(k);
      const bool threw = reads_throw(*s, seen);
      const fault_injection::report r = fault_injection::disarm();
      if (!threw) CHECK(seen == before);
      failed_once = failed_once || threw;
      // Disarmed: a read answers as taken or throws; never anything else.
      model again;
      if (!reads_throw(*s, again)) CHECK(again == before);
      tmtest::with_map(*m, [](concurrent_map& c) { return c.put("k1", "changed", nullptr); });
      REQUIRE(s->refresh());
      CHECK(tmtest::contents(*s) == tmtest::contents(*m));
      s->close();
      m->close();
      if (!r.failed) break;
    }
    CHECK(failed_once);
  }
}

STRATEGY_CASE(
    "snapshot: a refresh() that cannot allocate throws and leaves no mixture of revisions") {
  bool threw_once = false;
  for (std::uint64_t k = 0;; ++k) {
    auto m = filled_map(cfg.opts);
    auto s = snapshot::take(m);
    REQUIRE(s);
    const model at_take = tmtest::contents(*m);
    tmtest::with_map(*m, [](concurrent_map& c) {
      for (int i = 0; i < 10; ++i) c.put("k" + std::to_string(i), snap_value(i, 1), nullptr);
      for (int i = 10; i < 15; ++i) c.erase("k" + std::to_string(i), nullptr);
      c.put("extra", snap_value(100, 1), nullptr);
      return 0;
    });
    const model after = tmtest::contents(*m);
    bool threw = false, ok = false;
    fault_injection::arm(k);
    try {
      ok = s->refresh();
    } catch (const std::bad_alloc&) {
      threw = true;
    }
    const fault_injection::report r = fault_injection::disarm();
    model seen;
    if (!threw) {
      CHECK(ok);
      CHECK(!reads_throw(*s, seen));
      CHECK(seen == after);
      CHECK_EQ(s->revision(), map_revision(*m));
    } else {
      threw_once = true;
      // Neither revision half applied: every read throws, or (when the
      // failure came before anything was applied) the snapshot is as taken.
      if (!reads_throw(*s, seen)) CHECK(seen == at_take);
      REQUIRE(s->refresh());
      CHECK(!reads_throw(*s, seen));
      CHECK(seen == after);
      CHECK_EQ(s->revision(), map_revision(*m));
    }
    s->close();
    m->close();
    if (!r.failed) break;
  }
  CHECK(threw_once);
}

// A watcher's read that cannot allocate must not lose the events it had
// already taken: the cursor stays, and the next read returns them all.
TEST_CASE("watch: a read that cannot allocate loses no event") {
  bool threw_once = false;
  for (std::uint64_t k = 0;; ++k) {
    auto m = registry::create(options{}, "string", "string");
    auto opened = m->watch_log()->subscribe({}, 0, 0, nullptr);
    REQUIRE(opened.sub);
    std::vector<std::uint64_t> written;
    for (int i = 0; i < 40; ++i) {
      tmtest::with_map(*m, [&](concurrent_map& c) {
        return c.put("k" + std::to_string(i % 9), snap_value(i, 1), nullptr);
      });
      written.push_back(tmtest::with_map(*m, [](concurrent_map& c) { return c.revision(); }));
    }
    std::vector<watch_event> got;
    bool threw = false;
    fault_injection::arm(k);
    try {
      opened.sub->read(got, 4096, false);
    } catch (const std::bad_alloc&) {
      threw = true;
    }
    const fault_injection::report r = fault_injection::disarm();
    if (threw) {
      threw_once = true;
      got.clear();
      opened.sub->read(got, 4096, false);
    }
    std::vector<std::uint64_t> revisions;
    for (const watch_event& e : got) revisions.push_back(e.revision);
    CHECK(revisions == written);
    opened.sub->close();
    m->close();
    if (!r.failed) break;
  }
  CHECK(threw_once);
}

TEST_MAIN
