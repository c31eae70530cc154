#include "threadmap/detail/striped.hpp"

#include <time.h>
#include <algorithm>
#include <bit>
#include <chrono>
#include <stdexcept>
#include <string>
#include <thread>

#include "threadmap/detail/flat_table_probe.hpp"
#include "threadmap/detail/hash.hpp"
#include "threadmap/detail/numa.hpp"
#include "threadmap/epoch.hpp"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace threadmap {
namespace {

// Optimistic attempts before a reader takes the stripe lock.
constexpr int optimistic_attempts = 4;

inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  _mm_pause();
#endif
}

// Slots a write of a map that expires examines before it runs: one group,
// so reclaiming keeps pace with a stripe's writes at a bounded cost each.
constexpr std::size_t sweep_slots = 16;

// Milliseconds on the coarse monotonic clock (plus one, so that 0 stays
// "no clock"): a vDSO read of the tick the kernel keeps, no system call.
// Where there is no POSIX monotonic clock (Windows), the standard steady
// clock, which is monotonic too.
std::uint64_t coarse_ms() noexcept {
#if defined(CLOCK_MONOTONIC_COARSE) || defined(CLOCK_MONOTONIC)
#if defined(CLOCK_MONOTONIC_COARSE)
  constexpr clockid_t id = CLOCK_MONOTONIC_COARSE;
#else
  constexpr clockid_t id = CLOCK_MONOTONIC;
#endif
  timespec ts;
  clock_gettime(id, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1000 +
         static_cast<std::uint64_t>(ts.tv_nsec) / 1000000 + 1;
#else
  const auto since = std::chrono::steady_clock::now().time_since_epoch();
  return static_cast<std::uint64_t>(
             std::chrono::duration_cast<std::chrono::milliseconds>(since).count()) +
         1;
#endif
}

unsigned round_stripes(unsigned n) {
  if (n == 0) n = default_stripes();
  if (n > 65536) n = 65536;
  return std::bit_ceil(n);
}

// The entries an evicting map's policies hold between them (0: no eviction).
std::size_t eviction_bound(const options& o) noexcept {
  if (!o.evicts()) return 0;
  if (o.max_entries) return o.max_entries;
  return o.max_memory / memory_entry_bytes;
}

// An evicting stripe's fixed cost is its policy object and read buffers
// (about 1 KiB) and, under max_memory, its first array: stripes are halved
// until each holds min_share entries of the bound and that cost is at most
// an eighth of max_memory, so a small cache is not mostly overhead (and a
// W-TinyLFU share keeps a window and a main region worth the name).
constexpr std::size_t min_share = 64;
constexpr std::size_t memory_per_stripe = 16384;

unsigned stripe_count(const options& o, unsigned n) noexcept {
  unsigned c = round_stripes(n);
  const std::size_t bound = eviction_bound(o);
  while (bound && c > 1 && c * min_share > bound) c /= 2;
  while (bound && o.max_memory && c > 1 && c * memory_per_stripe > o.max_memory) c /= 2;
  return c;
}

}  // namespace

unsigned default_stripes() noexcept {
  unsigned hw = std::thread::hardware_concurrency();
  if (hw == 0) hw = 4;
  unsigned n = std::bit_ceil(hw * 4);
  // At least 32 even on few cores: a stripe grows in one call, so its share
  // of the map bounds the longest set, and more stripes cost single-thread
  // get and set nothing measurable (docs/benchmarks.md, "Measurements behind
  // code choices").
  if (n < 32) n = 32;
  if (n > 1024) n = 1024;
  return n;
}

template <class Lock, read_mode Mode>
striped_map<Lock, Mode>::striped_map(const options& opts, strategy_kind kind, unsigned stripes)
    : opts_(opts),
      kind_(kind),
      count_(stripe_count(opts, stripes)),
      stripes_(new stripe[count_]),
      budget_(opts.max_memory),
      clock_(opts.revisions) {
  check_numa_policy(opts.numa_policy);
  // 0: the real clock (no test has taken it over).
  manual_now_->store(opts.manual_clock ? 1 : 0, std::memory_order_relaxed);
  for (unsigned i = 0; i < count_; ++i) {
    stripes_[i].table.set_numa_policy(opts.numa_policy);
    if (opts.expires()) stripes_[i].table.set_timed(opts.no_update_ttl);
  }
  if (opts.evicts()) make_policies();
  if (opts.read_cache && !opts.evicts() && !opts.expires())
    versions_ = std::shared_ptr<version_line[]>(new version_line[count_]);
  if (opts.capacity) {
    // Keys spread evenly over stripes; a little slack absorbs the variance.
    const std::size_t per = opts.capacity / count_ + opts.capacity / count_ / 8 + 16;
    for (unsigned i = 0; i < count_; ++i) {
      if (!stripes_[i].table.reserve(per, *budget_)) {
        throw std::length_error("threadmap: capacity needs more memory than max_memory allows");
      }
    }
  }
}

template <class Lock, read_mode Mode>
void striped_map<Lock, Mode>::make_policies() {
  const std::size_t bound = eviction_bound(opts_);
  if (bound == 0)
    throw std::invalid_argument(
        "threadmap: eviction needs max_entries, or max_memory of at least " +
        std::to_string(memory_entry_bytes) + " bytes");
  const eviction_kind k = opts_.evict.value_or(default_eviction);
  for (unsigned i = 0; i < count_; ++i) {
    const std::size_t share = bound / count_ + (i < bound % count_ ? 1 : 0);
    if (share >= detail::eviction::max_capacity)
      throw std::length_error("threadmap: more entries per stripe than a policy can hold");
    stripes_[i].policy = detail::eviction::make_policy(k, share);
    if (!stripes_[i].policy) throw std::bad_alloc();
    const detail::eviction::memory_use m = stripes_[i].policy->memory();
    const std::size_t bytes = m.nodes + m.sketch + m.buffers + m.object;
    if (!budget_->reserve(bytes))
      throw std::length_error("threadmap: the eviction policy needs more memory than max_memory");
    policy_bytes_ += bytes;
    stripes_[i].table.set_eviction(stripes_[i].policy.get());
    // Under max_memory every stripe gets its first array now: a stripe
    // with no entries has nothing of its own to evict for one later.
    if (opts_.max_memory && !stripes_[i].table.reserve(1, *budget_))
      throw std::length_error("threadmap: the eviction policy needs more memory than max_memory");
  }
  counts_ = std::make_unique<cache_counts>();
}

template <class Lock, read_mode Mode>
striped_map<Lock, Mode>::~striped_map() {
  // The words outlive the map (a view of them may be held anywhere): leave
  // each one odd for good, so no reader ever matches a version again and
  // every later get asks the map, which then answers that it is closed.
  if (versions_)
    for (unsigned i = 0; i < count_; ++i) versions_[i].v.fetch_or(1, std::memory_order_release);
}

template <class Lock, read_mode Mode>
striped_map<Lock, Mode>::version_section::version_section(const striped_map& m,
                                                          const stripe& s) noexcept
    : w_(m.versions_ ? &m.versions_[&s - m.stripes_.get()].v : nullptr) {
  if (!w_) return;
  w_->store(w_->load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  // Orders the odd version before the section's changes (seqlock writer).
  std::atomic_thread_fence(std::memory_order_release);
}

template <class Lock, read_mode Mode>
striped_map<Lock, Mode>::version_section::~version_section() {
  if (w_) w_->store(w_->load(std::memory_order_relaxed) + 1, std::memory_order_release);
}

template <class Lock, read_mode Mode>
version_words striped_map<Lock, Mode>::versions() const {
  if (!versions_) return {};
  return {&versions_[0].v, count_, sizeof(version_line), versions_};
}

template <class Lock, read_mode Mode>
bool striped_map<Lock, Mode>::get_versioned(bytes key, std::string* out, std::uint64_t* revision,
                                            std::uint64_t unless, version_pin* pin) const {
  pin->valid = false;
  if (!versions_ || key.size() > max_key_bytes) return get(key, out, revision, unless);
  epoch::guard g;
  const std::uint64_t h = hash_bytes(key);
  const unsigned i = hash_stripe(h, count_);
  const std::atomic<std::uint64_t>& w = versions_[i].v;
  // The essay, "Write versions": the same even word before and after.
  const std::uint64_t before = w.load(std::memory_order_acquire);
  const bool found = get_hashed(h, key, out, revision, unless);
  std::atomic_thread_fence(std::memory_order_acquire);
  const std::uint64_t after = w.load(std::memory_order_relaxed);
  if (before == after && (before & 1) == 0) *pin = {i * sizeof(version_line), before, true};
  return found;
}

template <class Lock, read_mode Mode>
void striped_map<Lock, Mode>::record(stripe& s, bool found, detail::eviction::handle h,
                                     std::uint64_t hash) const noexcept {
  // A policy that counts its reads (stats().reads) counts this hit.
  if (!found) {
    counts_->misses.add(1);
    return;
  }
  if (!s.policy->counts_reads()) counts_->hits.add(1);
  // Never wait: a full lane is drained by whoever gets the lock first.
  if (s.policy->record_read(h, hash) != detail::eviction::offer::drain) return;
  if (!s.lock.try_lock()) return;
  s.policy->drain_own();
  s.lock.unlock();
}

template <class Lock, read_mode Mode>
template <bool Timed>
bool striped_map<Lock, Mode>::get_locked(const stripe& s, const read_args& a) const {
  if constexpr (Mode == read_mode::shared) {
    std::shared_lock lock(s.lock);
    return s.table.template get_locked<Timed>(a.hash, a.key, a.out, a.revision, a.unless, a.want,
                                              a.now, a.deadline);
  } else {
    std::lock_guard lock(s.lock);
    return s.table.template get_locked<Timed>(a.hash, a.key, a.out, a.revision, a.unless, a.want,
                                              a.now, a.deadline);
  }
}

template <class Lock, read_mode Mode>
std::uint64_t striped_map<Lock, Mode>::now() const noexcept {
  if (!opts_.expires()) return 0;
  // A line that only a test ever writes: a load that stays in cache.
  const std::uint64_t manual = manual_now_->load(std::memory_order_acquire);
  return manual != 0 ? manual : coarse_ms();
}

template <class Lock, read_mode Mode>
bool striped_map<Lock, Mode>::peek(bytes key, std::string* out, std::uint64_t* revision) const {
  if (key.size() > max_key_bytes) return false;
  if (opts_.expires()) return get_timed<false>(key, out, revision, 0);
  epoch::guard g;
  return get_hashed(hash_bytes(key), key, out, revision, 0, false);
}

template <class Lock, read_mode Mode>
template <bool Use>
bool striped_map<Lock, Mode>::get_timed(bytes key, std::string* out, std::uint64_t* revision,
                                        std::uint64_t unless) const {
  epoch::guard g;
  return get_hashed<true>(hash_bytes(key), key, out, revision, unless, Use, now());
}

template <class Lock, read_mode Mode>
bool striped_map<Lock, Mode>::get(bytes key, std::string* out, std::uint64_t* revision,
                                  std::uint64_t unless) const {
  if (key.size() > max_key_bytes) return false;
  if (opts_.expires()) return get_timed<true>(key, out, revision, unless);
  epoch::guard g;
  return get_hashed(hash_bytes(key), key, out, revision, unless);
}

template <class Lock, read_mode Mode>
bool striped_map<Lock, Mode>::peek_unexpired_or_not(bytes key, std::string* out,
                                                    std::uint64_t* revision) const {
  if (key.size() > max_key_bytes) return false;
  epoch::guard g;
  return get_hashed(hash_bytes(key), key, out, revision, 0, false);  // untimed: no expiry
}

template <class Lock, read_mode Mode>
bool striped_map<Lock, Mode>::remaining_ttl(bytes key, std::uint64_t* ms) const {
  if (key.size() > max_key_bytes) return false;
  epoch::guard g;
  const std::uint64_t t = now();
  std::uint64_t deadline = 0;
  if (!opts_.expires())
    return get_hashed(hash_bytes(key), key, nullptr, nullptr, 0, false) && (*ms = no_expiry, true);
  if (!get_hashed<true>(hash_bytes(key), key, nullptr, nullptr, 0, false, t, &deadline))
    return false;
  // Found and not expired: deadline > t when there is one.
  *ms = deadline == 0 ? no_expiry : deadline - t;
  return true;
}

template <class Lock, read_mode Mode>
bool striped_map<Lock, Mode>::advance_manual_clock(std::uint64_t ms) {
  if (!opts_.expires()) return false;
  // The first call on a map on the real clock stops it where it is.
  std::uint64_t expected = 0;
  manual_now_->compare_exchange_strong(expected, coarse_ms(), std::memory_order_acq_rel);
  manual_now_->fetch_add(ms, std::memory_order_acq_rel);
  return true;
}

template <class Lock, read_mode Mode>
std::size_t striped_map<Lock, Mode>::purge_expired() {
  if (!opts_.expires()) return 0;
  epoch::guard g;
  std::size_t n = 0;
  for (unsigned i = 0; i < count_; ++i) {
    stripe& s = stripes_[i];
    std::lock_guard lock(s.lock);
    const version_section v(*this, s);
    if (s.policy) s.policy->drain();
    s.table.set_write_time(now(), 0);
    n += s.table.sweep(s.table.capacity(), *budget_, clock_);
  }
  return n;
}

template <class Lock, read_mode Mode>
template <bool Timed>
bool striped_map<Lock, Mode>::get_hashed(std::uint64_t h, bytes key, std::string* out,
                                         std::uint64_t* revision, std::uint64_t unless, bool use,
                                         std::uint64_t now, std::uint64_t* deadline) const {
  stripe& s = stripe_for(h);
  detail::eviction::handle handle = detail::eviction::no_handle;
  // Only maps that evict ask for the handle, and only a use records it.
  detail::eviction::handle* want = use && s.policy ? &handle : nullptr;
  // Written without a lambda: GCC kept one as a frame of its own, which
  // is what inlining this function is for (flat_table_probe.hpp).
  bool found;
  if constexpr (Mode == read_mode::optimistic) {
    std::optional<bool> r;
    for (int i = 0; i < optimistic_attempts; ++i) {
      r = s.table.template try_get<Timed>(h, key, out, revision, unless, want, now, deadline);
      if (r) break;
      cpu_relax();
    }
    found =
        r ? *r : get_locked_cold<Timed>(s, {h, key, out, revision, unless, want, now, deadline});
  } else {
    found = get_locked<Timed>(s, {h, key, out, revision, unless, want, now, deadline});
  }
  // After the lookup validated (and after any lock is released).
  if (want) record(s, found, handle, h);
  return found;
}

template <class Lock, read_mode Mode>
void striped_map<Lock, Mode>::lookup_many(const bytes* keys, std::size_t n, std::string* out,
                                          bool* found, bool use) const {
  // A three-stage pipeline `lag` keys apart: prefetch the tag group, then the
  // candidate slot, then look up. With 2 * lag misses in flight instead of
  // one, a batch over a large table runs at memory bandwidth rather than
  // latency.
  constexpr std::size_t lag = 8, ring = 2 * lag + 1;
  std::uint64_t hashes[ring];
  epoch::guard g;
  const std::uint64_t t = now();  // once for the batch
  for (std::size_t i = 0; i < n + 2 * lag; ++i) {
    if (i < n) {
      const std::uint64_t h = hash_bytes(keys[i]);
      hashes[i % ring] = h;
      stripe_for(h).table.prefetch_group(h);
    }
    if (i >= lag && i - lag < n) {
      const std::uint64_t h = hashes[(i - lag) % ring];
      stripe_for(h).table.prefetch_candidate(h);
    }
    if (i >= 2 * lag) {
      const std::size_t j = i - 2 * lag;
      found[j] =
          keys[j].size() <= max_key_bytes &&
          (t ? get_hashed<true>(hashes[j % ring], keys[j], out ? &out[j] : nullptr, nullptr, 0, use,
                                t)
             : get_hashed(hashes[j % ring], keys[j], out ? &out[j] : nullptr, nullptr, 0, use));
    }
  }
}
template <class Lock, read_mode Mode>
template <class Op>
status striped_map<Lock, Mode>::write(bytes key, std::size_t value_size, Op&& op,
                                      std::uint64_t ttl_ms, bool keep) {
  if (key.size() > max_key_bytes || value_size > max_value_bytes) return status::too_large;
  epoch::guard g;
  const std::uint64_t h = hash_bytes(key);
  stripe& s = stripe_for(h);
  std::lock_guard lock(s.lock);
  const version_section v(*this, s);
  // The protocol: reads recorded so far first (before the sweep, too,
  // which tells the policy of the entries it removes).
  if (s.policy) s.policy->drain();
  if (opts_.expires()) {
    // The clock read once for the call, under the lock, so a stripe's
    // writes see it move forward in their order.
    const std::uint64_t t = now();
    const std::uint64_t ttl =
        ttl_ms == default_ttl ? *opts_.ttl : std::min<std::uint64_t>(ttl_ms, max_ttl_ms);
    s.table.set_write_time(t, ttl == 0 ? 0 : t + ttl, keep);
    s.table.sweep(sweep_slots, *budget_, clock_);
  }
  if (!s.policy) return op(s.table, h);
  status st = op(s.table, h);
  if (st != status::memory_limit || !opts_.max_memory) return st;
  // This stripe could not free enough of the shared budget: evict from the
  // others, one entry at a time and only where the lock is free (try_lock,
  // so no lock order), until the write fits. Only where evicting frees
  // bytes (out-of-line entries), and only for a write that could fit in a
  // budget holding nothing but the policies.
  const std::size_t need =
      key.size() + value_size > s.table.inline_limit() ? 8 + key.size() + value_size : 0;
  if (need == 0 || need + policy_bytes_ > opts_.max_memory) return st;
  const unsigned self = static_cast<unsigned>(&s - stripes_.get());
  for (unsigned tried = 0; st == status::memory_limit && tried < count_;) {
    const unsigned j = steal_.fetch_add(1, std::memory_order_relaxed) % count_;
    stripe& o = stripes_[j];
    bool freed = false;
    // Watched: the victim stripe's key lock too, as the stripe's, without
    // waiting (watch.hpp, EVICTIONS).
    detail::eviction_sink* sink = detail::flat_table::sink();
    if (j != self && o.table.blob_bytes() != 0 && (!sink || sink->try_hold(j))) {
      if (o.lock.try_lock()) {
        {
          const version_section ov(*this, o);
          o.policy->drain();
          freed = o.table.evict_one(*budget_, clock_);
        }
        o.lock.unlock();
      }
      if (sink) sink->release(j);
    }
    if (!freed) {
      ++tried;
      continue;
    }
    tried = 0;
    st = op(s.table, h);
  }
  return st;
}

// The untimed writes are the timed ones with the map's ttl (map.hpp).
template <class Lock, read_mode Mode>
status striped_map<Lock, Mode>::put(bytes key, bytes value, std::string* old) {
  return put_for(key, value, old, default_ttl);
}

template <class Lock, read_mode Mode>
status striped_map<Lock, Mode>::put_for(bytes key, bytes value, std::string* old,
                                        std::uint64_t ttl_ms) {
  return write(
      key, value.size(),
      [&](detail::flat_table& t, std::uint64_t h) {
        return t.put_inline(h, key, value, old, *budget_, clock_);
      },
      ttl_ms);
}

template <class Lock, read_mode Mode>
status striped_map<Lock, Mode>::put_if_absent(bytes key, bytes value, std::string* existing) {
  return put_if_absent_for(key, value, existing, default_ttl);
}

template <class Lock, read_mode Mode>
status striped_map<Lock, Mode>::put_if_absent_for(bytes key, bytes value, std::string* existing,
                                                  std::uint64_t ttl_ms) {
  return write(
      key, value.size(),
      [&](detail::flat_table& t, std::uint64_t h) {
        return t.put_if_absent(h, key, value, existing, *budget_, clock_);
      },
      ttl_ms);
}

template <class Lock, read_mode Mode>
status striped_map<Lock, Mode>::compare_and_set(bytes key, const bytes* expected,
                                                const bytes* desired, std::string* current) {
  return compare_and_set_for(key, expected, desired, current, default_ttl);
}

template <class Lock, read_mode Mode>
status striped_map<Lock, Mode>::compare_and_set_for(bytes key, const bytes* expected,
                                                    const bytes* desired, std::string* current,
                                                    std::uint64_t ttl_ms) {
  return write(
      key, desired ? desired->size() : 0,
      [&](detail::flat_table& t, std::uint64_t h) {
        return t.compare_and_set(h, key, expected, desired, current, *budget_, clock_);
      },
      ttl_ms);
}

template <class Lock, read_mode Mode>
status striped_map<Lock, Mode>::erase(bytes key, std::string* old) {
  if (key.size() > max_key_bytes) return status::not_found;
  return write(key, 0, [&](detail::flat_table& t, std::uint64_t h) {
    return t.erase(h, key, old, *budget_, clock_);
  });
}

template <class Lock, read_mode Mode>
status striped_map<Lock, Mode>::add(bytes key, counter_kind kind, counter delta, bytes prefix,
                                    counter* result) {
  return add_for(key, kind, delta, prefix, result, default_ttl);
}

template <class Lock, read_mode Mode>
status striped_map<Lock, Mode>::add_for(bytes key, counter_kind kind, counter delta, bytes prefix,
                                        counter* result, std::uint64_t ttl_ms) {
  // A ttl of its own is the counter's window: a live counter keeps its
  // deadline (map.hpp, add_for).
  return write(
      key, prefix.size() + 8,
      [&](detail::flat_table& t, std::uint64_t h) {
        return t.add(h, key, kind, delta, prefix, result, *budget_, clock_);
      },
      ttl_ms, ttl_ms != default_ttl);
}

template <class Lock, read_mode Mode>
std::size_t striped_map<Lock, Mode>::size() const {
  std::size_t n = 0;
  for (unsigned i = 0; i < count_; ++i) n += stripes_[i].table.size();
  return n;
}

template <class Lock, read_mode Mode>
void striped_map<Lock, Mode>::clear() {
  epoch::guard g;
  // Lock in index order (the only place that holds more than one stripe lock,
  // so no lock-order cycle), hold every version odd, then empty them all.
  std::unique_ptr<std::unique_lock<Lock>[]> locks(new std::unique_lock<Lock>[count_]);
  for (unsigned i = 0; i < count_; ++i) locks[i] = std::unique_lock(stripes_[i].lock);
  {
    std::unique_ptr<std::optional<detail::flat_table::write_section>[]> sections(
        new std::optional<detail::flat_table::write_section>[count_]);
    for (unsigned i = 0; i < count_; ++i) sections[i].emplace(stripes_[i].table);
    // The write versions too (nothing on maps without them): every word
    // odd before the first stripe is emptied, even after the last.
    std::unique_ptr<std::optional<version_section>[]> versions(
        versions_ ? new std::optional<version_section>[count_] : nullptr);
    if (versions)
      for (unsigned i = 0; i < count_; ++i) versions[i].emplace(*this, stripes_[i]);
    clock_.next();  // the clear's one revision, drawn while no stripe can be read
    for (unsigned i = 0; i < count_; ++i) stripes_[i].table.clear(*budget_);
  }
}

template <class Lock, read_mode Mode>
std::size_t striped_map<Lock, Mode>::scan(std::size_t unit, std::string& out) const {
  if (unit >= count_) return 0;
  epoch::guard g;
  if constexpr (Mode == read_mode::shared) {
    std::shared_lock lock(stripes_[unit].lock);
    return stripes_[unit].table.scan(out, now());
  } else {
    std::lock_guard lock(stripes_[unit].lock);
    return stripes_[unit].table.scan(out, now());
  }
}

template <class Lock, read_mode Mode>
std::size_t striped_map<Lock, Mode>::copy_unit(std::size_t unit, std::string& out,
                                               std::string& scratch) const {
  if (unit >= count_) return 0;
  // Held until the copy is decoded: it keeps alive the blobs the copied
  // words point to, even once a writer has replaced them.
  epoch::guard g;
  const detail::flat_table& table = stripes_[unit].table;
  const std::uint64_t t = now();
  std::optional<std::size_t> n;
  for (int i = 0; i < optimistic_attempts && !n; ++i) {
    if (i != 0) cpu_relax();
    table.prepare_copy(scratch);
    n = table.copy_entries(scratch, t, false);
  }
  while (!n) {
    // Sized outside the lock; under it, a table that outgrew the buffer
    // meanwhile answers nullopt and is sized again.
    table.prepare_copy(scratch);
    if constexpr (Mode == read_mode::shared) {
      std::shared_lock lock(stripes_[unit].lock);
      n = table.copy_entries(scratch, t, true);
    } else {
      std::lock_guard lock(stripes_[unit].lock);
      n = table.copy_entries(scratch, t, true);
    }
  }
  return detail::flat_table::append_copied(scratch, *n, out);
}

template <class Lock, read_mode Mode>
void striped_map<Lock, Mode>::cow_locked(std::size_t unit, void (*f)(void*, detail::flat_table&),
                                         void* ctx) const {
  stripe& s = stripes_[unit];
  std::lock_guard lock(s.lock);  // exclusively: a claim is linked or unlinked under it
  f(ctx, s.table);
}

template <class Lock, read_mode Mode>
map_stats striped_map<Lock, Mode>::stats() const {
  epoch::guard g;
  map_stats st;
  st.strategy = kind_;
  st.stripes = count_;
  detail::eviction::policy_stats ps;
  for (unsigned i = 0; i < count_; ++i) {
    const detail::flat_table& t = stripes_[i].table;
    st.size += t.size();
    st.capacity += t.capacity();
    st.bytes += t.bytes_used();
    st.resizes += t.resizes();
    st.expirations += t.expirations();
    if (const detail::eviction::policy* p = stripes_[i].policy.get()) {
      ps += p->stats();
      st.max_entries += p->capacity();
    }
  }
  st.evictions = ps.evicted;
  st.admissions = ps.admitted;
  st.rejections = ps.rejected;
  st.dropped_reads = ps.dropped;
  st.bytes += sizeof(*this) + sizeof(stripe) * count_ + policy_bytes_;
  st.policy_bytes = policy_bytes_;
  if (counts_) {
    st.hits = static_cast<std::uint64_t>(counts_->hits.sum()) + ps.reads;
    st.misses = static_cast<std::uint64_t>(counts_->misses.sum());
  }
  return st;
}

template <class Lock, read_mode Mode>
std::vector<numa::table_report> striped_map<Lock, Mode>::placement() const {
  // No stripe lock: each report reads an immutable array header and asks the
  // kernel about a page the guard keeps mapped.
  epoch::guard g;
  std::vector<numa::table_report> v(count_);
  for (unsigned i = 0; i < count_; ++i) {
    v[i] = stripes_[i].table.numa_report();
    v[i].table = i;
  }
  return v;
}

template class striped_map<adaptive_mutex, read_mode::exclusive>;
template class striped_map<rw_spinlock, read_mode::shared>;
template class striped_map<adaptive_mutex, read_mode::optimistic>;

}  // namespace threadmap
