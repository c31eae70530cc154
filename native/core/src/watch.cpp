#include "threadmap/watch.hpp"

#include <algorithm>
#include <optional>
#include <stdexcept>

#include "threadmap/detail/flat_table.hpp"
#include "threadmap/detail/hash.hpp"
#include "threadmap/detail/padding.hpp"
#include "threadmap/detail/revision.hpp"
#include "threadmap/detail/rw_spinlock.hpp"
#include "threadmap/epoch.hpp"

namespace threadmap {

struct alignas(cache_line) change_log::padded_lock {
  rw_spinlock lock;
};

const char* to_string(event_kind k) noexcept {
  switch (k) {
    case event_kind::set:
      return "set";
    case event_kind::erase:
      return "delete";
    case event_kind::clear:
      return "clear";
    case event_kind::evict:
      return "evict";
    case event_kind::expire:
      return "expire";
  }
  return "?";
}

bool watch_filter::matches(const watch_event& e) const noexcept {
  if (e.kind == event_kind::clear || m == mode::all) return true;
  if (m == mode::prefix) return std::string_view(e.key).substr(0, prefix.size()) == prefix;
  return std::binary_search(keys.begin(), keys.end(), e.key);
}

namespace {

bool changed(status st) noexcept {
  return st == status::ok || st == status::inserted;
}

// A watched write's victims (watch.hpp, EVICTIONS): kept while the
// strategy runs, appended before the write's own event under the key lock
// the write holds, or, for another stripe's, under the lock try_hold took.
class victim_log final : public detail::eviction_sink {
 public:
  victim_log(change_log& log, rw_spinlock& own) noexcept : log_(log), own_(own) {
    detail::flat_table::set_sink(this);
  }
  ~victim_log() {
    detail::flat_table::set_sink(nullptr);
    flush();
  }
  victim_log(const victim_log&) = delete;
  victim_log& operator=(const victim_log&) = delete;

  /// Whether the write removed any victim (then it drew more revisions
  /// than its own).
  bool any() const noexcept { return any_; }

  void evicted(bytes key, std::uint64_t revision) noexcept override {
    keep(event_kind::evict, key, revision);
  }
  void expired(bytes key, std::uint64_t revision) noexcept override {
    keep(event_kind::expire, key, revision);
  }
  bool try_hold(std::uint64_t cls) noexcept override {
    rw_spinlock& l = log_.class_lock(cls);
    return &l == &own_ || l.try_lock();
  }
  void release(std::uint64_t cls) noexcept override {
    flush();
    rw_spinlock& l = log_.class_lock(cls);
    if (&l != &own_) l.unlock();
  }

 private:
  struct victim {
    event_kind kind;
    std::string key;
    std::uint64_t revision;
  };
  void keep(event_kind kind, bytes key, std::uint64_t revision) noexcept {
    any_ = true;
    try {
      pending_.push_back({kind, std::string(key), revision});
    } catch (...) {
      lost_ = std::max(lost_, revision);  // L1: forgotten at the flush
    }
  }
  void flush() noexcept {
    if (lost_) log_.forget(lost_);
    lost_ = 0;
    for (const victim& v : pending_) log_.append(v.kind, v.key, {}, v.revision);
    pending_.clear();
  }

  change_log& log_;
  rw_spinlock& own_;
  std::vector<victim> pending_;
  std::uint64_t lost_ = 0;
  bool any_ = false;
};

// The wrapper the shared_map hands out while the map is watched: forwards
// reads, and runs each write under its key lock followed by its append
// (watch.hpp, THE INVARIANT).
class watched_map final : public concurrent_map {
 public:
  explicit watched_map(change_log& log) : log_(log), m_(*log.map()) {}

  bool get(bytes key, std::string* out, std::uint64_t* revision,
           std::uint64_t unless) const override {
    return m_.get(key, out, revision, unless);
  }
  bool peek(bytes key, std::string* out, std::uint64_t* revision) const override {
    return m_.peek(key, out, revision);
  }
  // The words are the map's own: its writes (all of which reach it through
  // here) keep them, watched or not.
  version_words versions() const override { return m_.versions(); }
  bool get_versioned(bytes key, std::string* out, std::uint64_t* revision, std::uint64_t unless,
                     version_pin* pin) const override {
    return m_.get_versioned(key, out, revision, unless, pin);
  }
  std::uint64_t revision() const override { return m_.revision(); }
  bool keeps_revisions() const noexcept override { return m_.keeps_revisions(); }
  void get_many(const bytes* keys, std::size_t n, std::string* out, bool* found) const override {
    m_.get_many(keys, n, out, found);
  }
  void peek_many(const bytes* keys, std::size_t n, std::string* out, bool* found) const override {
    m_.peek_many(keys, n, out, found);
  }
  std::size_t size() const override { return m_.size(); }
  std::size_t scan_units() const override { return m_.scan_units(); }
  std::size_t scan(std::size_t unit, std::string& out) const override { return m_.scan(unit, out); }
  std::size_t copy_unit(std::size_t unit, std::string& out, std::string& scratch) const override {
    return m_.copy_unit(unit, out, scratch);
  }
  map_stats stats() const override { return m_.stats(); }
  const detail::cow_units* cow() const noexcept override { return m_.cow(); }
  bool ordered() const noexcept override { return m_.ordered(); }
  std::size_t range(const key_range& r, std::size_t limit, std::string& out) const override {
    return m_.range(r, limit, out);
  }
  std::vector<numa::table_report> placement() const override { return m_.placement(); }

  status put(bytes key, bytes value, std::string* old) override {
    rw_spinlock& held = log_.key_lock(key);
    std::lock_guard lock(held);
    bool victims = false;
    const status st = evicting(held, victims, [&] { return m_.put(key, value, old); });
    if (changed(st)) logged_set(key, &value, victims);
    return st;
  }
  status put_for(bytes key, bytes value, std::string* old, std::uint64_t ttl_ms) override {
    rw_spinlock& held = log_.key_lock(key);
    std::lock_guard lock(held);
    bool victims = false;
    const status st = evicting(held, victims, [&] { return m_.put_for(key, value, old, ttl_ms); });
    if (changed(st)) logged_set(key, &value, victims);
    return st;
  }
  bool peek_unexpired_or_not(bytes key, std::string* out, std::uint64_t* revision) const override {
    return m_.peek_unexpired_or_not(key, out, revision);
  }
  bool remaining_ttl(bytes key, std::uint64_t* ms) const override {
    return m_.remaining_ttl(key, ms);
  }
  bool advance_manual_clock(std::uint64_t ms) override { return m_.advance_manual_clock(ms); }
  // Reclaims in every stripe: every key lock is held, as for clear().
  std::size_t purge_expired() override {
    log_.lock_all();
    struct unlock {
      change_log& l;
      ~unlock() { l.unlock_all(); }
    } u{log_};
    victim_log victims(log_, log_.class_lock(0));
    return m_.purge_expired();
  }
  status put_if_absent(bytes key, bytes value, std::string* existing) override {
    return put_if_absent_for(key, value, existing, default_ttl);
  }
  status put_if_absent_for(bytes key, bytes value, std::string* existing,
                           std::uint64_t ttl_ms) override {
    rw_spinlock& held = log_.key_lock(key);
    std::lock_guard lock(held);
    bool victims = false;
    const status st =
        evicting(held, victims, [&] { return m_.put_if_absent_for(key, value, existing, ttl_ms); });
    if (st == status::inserted) logged_set(key, &value, victims);
    return st;
  }
  status compare_and_set(bytes key, const bytes* expected, const bytes* desired,
                         std::string* current) override {
    return compare_and_set_for(key, expected, desired, current, default_ttl);
  }
  status compare_and_set_for(bytes key, const bytes* expected, const bytes* desired,
                             std::string* current, std::uint64_t ttl_ms) override {
    rw_spinlock& held = log_.key_lock(key);
    std::lock_guard lock(held);
    bool victims = false;
    const status st = evicting(held, victims, [&] {
      return m_.compare_and_set_for(key, expected, desired, current, ttl_ms);
    });
    if (changed(st)) {
      if (desired)
        logged_set(key, desired, victims);
      else
        log_.append(event_kind::erase, key, {}, detail::revision_clock::last_drawn());
    }
    return st;
  }
  status erase(bytes key, std::string* old) override {
    rw_spinlock& held = log_.key_lock(key);
    std::lock_guard lock(held);
    bool victims = false;
    const status st = evicting(held, victims, [&] { return m_.erase(key, old); });
    if (st == status::ok)
      log_.append(event_kind::erase, key, {}, detail::revision_clock::last_drawn());
    return st;
  }
  status add(bytes key, counter_kind kind, counter delta, bytes prefix, counter* result) override {
    return add_for(key, kind, delta, prefix, result, default_ttl);
  }
  status add_for(bytes key, counter_kind kind, counter delta, bytes prefix, counter* result,
                 std::uint64_t ttl_ms) override {
    rw_spinlock& held = log_.key_lock(key);
    std::lock_guard lock(held);
    bool victims = false;
    const status st = evicting(
        held, victims, [&] { return m_.add_for(key, kind, delta, prefix, result, ttl_ms); });
    if (changed(st)) logged_set(key, nullptr, victims);
    return st;
  }
  void clear() override {
    log_.lock_all();
    struct unlock {
      change_log& l;
      ~unlock() { l.unlock_all(); }
    } u{log_};
    m_.clear();
    log_.append(event_kind::clear, {}, {}, detail::revision_clock::last_drawn());
  }

 private:
  // Runs the strategy's write with this thread's victims going to the log;
  // they are appended when it returns (or throws), before its own event.
  template <class Write>
  status evicting(rw_spinlock& held, bool& any, Write&& write) {
    victim_log victims(log_, held);
    const status st = write();
    any = victims.any();
    return st;
  }

  // The entry as the write left it: no other write of the key can run while
  // its lock is held. `value` is the bytes the write stored when known (add
  // computes its own). Its revision is the last this thread drew (each
  // strategy's write draws last the revision it publishes, as for deletes)
  // unless the write evicted: then it may have drawn victims' revisions
  // after its own, and the entry is read back (peek: no use counted), as it
  // is for add's value. The read-back is a second lookup and stripe
  // section per write, which the common case does without.
  void logged_set(bytes key, const bytes* value, bool victims) {
    if (value && !victims) {
      log_.append(event_kind::set, key, *value, detail::revision_clock::last_drawn());
      return;
    }
    std::uint64_t rev = 0;
    std::string stored;
    bool found;
    try {
      // Expired or not: a short ttl may pass before the read-back, and
      // the entry stays until a write of its stripe (which waits for this
      // key lock) reclaims it, logging its expiry after this event.
      found = m_.peek_unexpired_or_not(key, value ? nullptr : &stored, &rev);
    } catch (...) {
      // Out of memory copying add's value: the event cannot be kept, so
      // the log forgets up to it (L1).
      log_.forget(m_.revision());
      return;
    }
    // Not found: the write's own entry was evicted inside the write (a
    // rejected admission), and victim_log has logged that.
    if (found) log_.append(event_kind::set, key, value ? *value : bytes(stored), rev);
  }

  change_log& log_;
  concurrent_map& m_;
};

}  // namespace

// --- subscription ----------------------------------------------------------------

subscription::~subscription() {
  close();
}

void subscription::close() noexcept {
  std::shared_ptr<change_log> log;
  {
    if (!log_) return;
    std::lock_guard lock(log_->ring_);
    if (closed_) return;
    closed_ = true;
    log = log_;
  }
  log->unsubscribe(this);
}

void subscription::skip_to(std::uint64_t until) noexcept {
  std::lock_guard lock(log_->ring_);
  cursor_ = std::max(cursor_, until);
}

bool subscription::closed() const noexcept {
  std::lock_guard lock(log_->ring_);
  return closed_ || log_->closed_;
}

subscription::batch subscription::read(std::vector<watch_event>& out, std::size_t max, bool arm,
                                       std::uint64_t until) {
  change_log& l = *log_;
  std::lock_guard lock(l.ring_);
  batch b;
  if (closed_ || l.closed_) {
    b.st = state::closed;
    return b;
  }
  if (cursor_ < l.first_) {
    b.st = state::compacted;
    b.oldest = l.compacted_ + 1;
    if (!behind_) ++l.compacted_answers_;
    behind_ = true;
    return b;
  }
  const std::uint64_t end = std::min(l.first_ + l.events_.size(), until);
  std::size_t taken = 0;
  // The cursor moves once every event is in `out`: a push_back that throws
  // bad_alloc leaves it before the first, so nothing is lost to the reader.
  std::uint64_t at = cursor_;
  for (; at < end; ++at) {
    const watch_event& e = l.events_[at - l.first_];
    if (e.revision >= min_revision_ && filter_.matches(e)) {
      if (taken == max) {
        b.more = true;
        break;
      }
      out.push_back(e);
      ++taken;
    }
  }
  cursor_ = at;
  if (!b.more) armed_ = arm && taken == 0;
  return b;
}

// --- change_log ----------------------------------------------------------------------

change_log::change_log(concurrent_map* map, std::function<bool(concurrent_map*)> publish)
    : map_(map), publish_(std::move(publish)) {
  locks_.reset(new padded_lock[key_locks]);
  wrapper_ = std::make_unique<watched_map>(*this);
}

change_log::~change_log() = default;

rw_spinlock& change_log::key_lock(bytes key) noexcept {
  return class_lock(map_->lock_class(hash_bytes(key)));
}

rw_spinlock& change_log::class_lock(std::uint64_t cls) noexcept {
  return locks_[cls % key_locks].lock;
}

void change_log::lock_all() noexcept {
  for (std::size_t i = 0; i < key_locks; ++i) locks_[i].lock.lock();
}

void change_log::unlock_all() noexcept {
  for (std::size_t i = key_locks; i-- > 0;) locks_[i].lock.unlock();
}

bool change_log::active() const noexcept {
  std::lock_guard lock(ring_);
  return active_;
}

change_log::opened change_log::subscribe(watch_filter filter, std::uint64_t from_revision,
                                         std::size_t buffer_bytes, std::function<void()> notify) {
  std::lock_guard hub(hub_);
  // Events are ordered and resumed by revision (watch.hpp): a map that keeps
  // none cannot be watched. Before the subscription is made, whose
  // destructor would take hub_; close() sets closed_ under hub_, and a map
  // not closed is alive.
  if (!closed_ && !map_->keeps_revisions())
    throw std::invalid_argument("threadmap: a map made without revisions cannot be watched");
  opened o;
  // Made before anything changes, so bad_alloc leaves the log as it was.
  std::shared_ptr<subscription> s(new subscription);
  s->log_ = shared_from_this();
  s->filter_ = std::move(filter);
  s->notify_ = std::move(notify);
  s->buffer_bytes_ = std::clamp(buffer_bytes ? buffer_bytes : default_buffer_bytes,
                                min_buffer_bytes, max_buffer_bytes);
  {
    // Under the ring's lock: append() walks subs_ under it, and reserve may
    // move the array.
    std::lock_guard lock(ring_);
    subs_.reserve(subs_.size() + 1);
    if (closed_) {
      o.st = subscription::state::closed;
      s->closed_ = true;
      return o;
    }
  }
  if (subs_.empty()) {
    // Activation (watch.hpp, ACTIVATION): the wrapper first, then wait for
    // every call that may hold the plain pointer, then the start.
    if (!publish_(wrapper_.get())) {
      o.st = subscription::state::closed;
      s->closed_ = true;
      return o;
    }
    epoch::synchronize();
    {
      std::lock_guard lock(ring_);
      events_.clear();
      bytes_ = 0;
      start_ = compacted_ = map_->revision();
      limit_ = s->buffer_bytes_;
      active_ = true;
    }
    // And wait once more, for the wrapped writes that drew a revision at or
    // below the start (their events are dropped) but may not have taken
    // effect yet: on lockfree, ordered and readmostly a write draws before
    // the CAS that publishes it. Once they have, nothing the log leaves out
    // is still to happen when subscribe returns (watch.hpp, ACTIVATION).
    epoch::synchronize();
  }
  std::lock_guard lock(ring_);
  o.revision = map_->revision();
  if (from_revision != 0 && from_revision <= compacted_) {
    o.st = subscription::state::compacted;
    o.oldest = compacted_ + 1;
    ++compacted_answers_;
    s->closed_ = true;
    if (subs_.empty()) {
      active_ = false;
      events_.clear();
      bytes_ = 0;
      publish_(map_);
    }
    return o;
  }
  limit_ = std::max(limit_, s->buffer_bytes_);
  s->min_revision_ = from_revision;
  s->cursor_ = from_revision != 0 ? first_ : first_ + events_.size();
  subs_.push_back(s.get());
  o.sub = std::move(s);
  return o;
}

namespace {

// Where a ring's events go when the log lets them all go at once (the last
// subscription closed, or the map did): taken out under the ring's lock in
// O(1) and freed after every lock is released (declared before the locks).
// A ring at its bound holds up to millions of events, and freeing them
// under the ring's lock held every writer's append for as long (watch.hpp,
// ACTIVATION). Without the memory for the empty deque it leaves behind,
// the events are freed in place, under the lock, as before.
class discarded_ring {
 public:
  discarded_ring() noexcept {
    try {
      gone_.emplace();
    } catch (...) {
    }
  }
  void take(std::deque<watch_event>& events) noexcept {
    if (gone_)
      gone_->swap(events);
    else
      events.clear();
  }

 private:
  std::optional<std::deque<watch_event>> gone_;
};

}  // namespace

void change_log::unsubscribe(subscription* s) noexcept {
  discarded_ring gone;
  std::lock_guard hub(hub_);
  std::lock_guard lock(ring_);
  auto it = std::find(subs_.begin(), subs_.end(), s);
  if (it == subs_.end()) return;
  subs_.erase(it);
  if (closed_) return;
  if (!subs_.empty()) {
    // The bound is the largest an open subscription asked for: it may
    // shrink, and the ring with it.
    limit_ = min_buffer_bytes;
    for (const subscription* o : subs_) limit_ = std::max(limit_, o->buffer_bytes_);
    trim_locked();
    return;
  }
  // The last one: swap the plain pointer back and forget the ring; wrapped
  // writes still in flight append to an inactive log, which drops them.
  active_ = false;
  first_ += events_.size();
  gone.take(events_);
  bytes_ = 0;
  limit_ = default_buffer_bytes;
  publish_(map_);
}

void change_log::close() noexcept {
  bool subscribed = false;
  {
    discarded_ring gone;
    std::lock_guard hub(hub_);
    std::lock_guard lock(ring_);
    subscribed = !closed_ && !subs_.empty();
    closed_ = true;
    active_ = false;
    first_ += events_.size();
    gone.take(events_);
    bytes_ = 0;
    for (subscription* s : subs_) {
      if (s->armed_ && s->notify_) s->notify_();
      s->armed_ = false;
    }
    subs_.clear();
  }
  // A lazy snapshot's unsettled claims would outlive the tables they
  // point into: copy them now, after `closed_` (snapshot.hpp, CLOSING THE
  // MAP, says why in that order). Only a log that had subscriptions: a
  // snapshot's claims live no longer than its subscription, and a log made
  // for a map already closed has a freed map and no subscription.
  if (!subscribed) return;
  if (const detail::cow_units* u = map_->cow())
    for (std::size_t i = 0, n = u->cow_unit_count(); i < n; ++i)
      u->cow_locked(
          i, [](void*, detail::flat_table& t) { t.settle_all(); }, nullptr);
}

change_log::cut change_log::barrier(void (*during)(void*), void* ctx) {
  lock_all();
  if (during) during(ctx);
  cut c;
  {
    std::lock_guard lock(ring_);
    c.end = first_ + events_.size();
    c.revision = map_->revision();
  }
  unlock_all();
  return c;
}

std::uint64_t change_log::end() const noexcept {
  std::lock_guard lock(ring_);
  return first_ + events_.size();
}

change_log::counters change_log::stats() const {
  std::lock_guard lock(ring_);
  counters c;
  c.appended = appended_;
  c.dropped = dropped_;
  c.oldest = active_ ? compacted_ + 1 : 0;
  c.compacted = compacted_answers_;
  c.events = events_.size();
  c.bytes = bytes_;
  c.limit = active_ ? limit_ : 0;
  c.subscribers = subs_.size();
  for (const subscription* s : subs_) c.waking += s->notify_ != nullptr;
  return c;
}

void change_log::forget(std::uint64_t revision) noexcept {
  std::lock_guard lock(ring_);
  if (active_) forget_locked(revision);
}

void change_log::record(event_kind kind, bytes key, std::uint64_t revision) noexcept {
  append(kind, key, {}, revision);
}

void change_log::append(event_kind kind, bytes key, bytes value, std::uint64_t revision) noexcept {
  std::lock_guard lock(ring_);
  if (!active_ || revision <= start_) return;
  try {
    watch_event e;
    e.revision = revision;
    e.kind = kind;
    e.key.assign(key);
    e.value.assign(value);
    push_locked(std::move(e));
  } catch (...) {
    // L1: an event that cannot be kept takes every earlier one with it, so
    // each subscriber is told (compacted) rather than left with a gap.
    forget_locked(revision);
    return;
  }
  const watch_event& e = events_.back();
  for (subscription* s : subs_) {
    if (!s->armed_ || !s->filter_.matches(e) || e.revision < s->min_revision_) continue;
    s->armed_ = false;
    if (s->notify_) s->notify_();
  }
}

void change_log::push_locked(watch_event&& e) {
  const std::size_t cost = event_overhead + e.key.size() + e.value.size();
  events_.push_back(std::move(e));
  bytes_ += cost;
  ++appended_;
  trim_locked();
}

void change_log::trim_locked() noexcept {
  // Keep the newest event even when it alone passes the bound: a reader
  // that keeps up must be able to see it.
  while (bytes_ > limit_ && events_.size() > 1) {
    const watch_event& f = events_.front();
    bytes_ -= event_overhead + f.key.size() + f.value.size();
    compacted_ = std::max(compacted_, f.revision);
    events_.pop_front();
    ++first_;
    ++dropped_;
  }
}

void change_log::forget_locked(std::uint64_t revision) noexcept {
  dropped_ += events_.size() + 1;
  // One position past the lost event too, so that a subscriber that had
  // read everything is behind as well.
  first_ += events_.size() + 1;
  for (const watch_event& e : events_) compacted_ = std::max(compacted_, e.revision);
  events_.clear();
  bytes_ = 0;
  compacted_ = std::max(compacted_, revision);
  // Everyone is behind now: wake the armed ones so they read `compacted`.
  for (subscription* s : subs_) {
    if (!s->armed_) continue;
    s->armed_ = false;
    if (s->notify_) s->notify_();
  }
}

}  // namespace threadmap
