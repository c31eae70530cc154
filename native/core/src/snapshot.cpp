#include "threadmap/snapshot.hpp"

#include <algorithm>
#include <new>
#include <stdexcept>
#include <thread>
#include <vector>

#include "threadmap/detail/flat_table.hpp"
#include "threadmap/detail/hash.hpp"
#include "threadmap/epoch.hpp"

namespace threadmap {

namespace {

using detail::flat_table;
using detail::unit_claim;

void link_claim(void* c, flat_table& t) {
  t.claim(*static_cast<unit_claim*>(c));
}
void settle_claim(void* c, flat_table& t) {
  t.settle(*static_cast<unit_claim*>(c));
}
void drop_claim(void* c, flat_table& t) {
  t.unclaim(*static_cast<unit_claim*>(c));
}

}  // namespace

std::unique_ptr<snapshot> snapshot::take(std::shared_ptr<shared_map> map, std::size_t buffer_bytes,
                                         copying how) {
  std::unique_ptr<snapshot> s(new snapshot);
  s->map_ = std::move(map);
  s->log_ = s->map_->watch_log();
  s->buffer_bytes_ = buffer_bytes ? buffer_bytes : change_log::default_buffer_bytes;
  if (!s->resubscribe(s->buffer_bytes_)) return nullptr;
  bool lazy = false;
  if (how == copying::lazy) {
    epoch::guard g;
    const concurrent_map* m = s->map_->get();
    if (m == nullptr) return nullptr;
    lazy = m->cow() != nullptr;
  }
  s->how_ = lazy ? copying::lazy : copying::eager;
  if (lazy ? !s->claim() : !s->copy()) return nullptr;
  return s;
}

snapshot::~snapshot() {
  close();
}

bool snapshot::resubscribe(std::size_t bytes) {
  // The new one first: the log stays active across the swap, so its ring
  // survives for other subscribers.
  change_log::opened o = log_->subscribe(watch_filter{}, 0, bytes, nullptr);
  if (!o.sub) return false;
  if (sub_) sub_->close();
  sub_ = std::move(o.sub);
  return true;
}

// LAZY of snapshot.hpp: a claim on every unit, linked while the barrier
// holds every key lock, and the cursor moved to the cut.
bool snapshot::claim() {
  const std::uint64_t ok_generation = generation_ + 1;
  epoch::guard g;
  const concurrent_map* m = map_->get();
  if (m == nullptr) return false;
  const detail::cow_units* cu = m->cow();
  const std::size_t n = cu->cow_unit_count();
  // Everything allocated before the barrier: nothing allocates under it.
  std::unique_ptr<unit_claim[]> claims(new unit_claim[n]);
  std::vector<table> units(n);
  std::vector<bool> ready(n, false);
  struct during {
    const detail::cow_units* cu;
    unit_claim* claims;
    std::size_t n;
  } d{cu, claims.get(), n};
  const change_log::cut c = log_->barrier(
      [](void* p) {
        const during& d = *static_cast<const during*>(p);
        // The clock of the cut: an entry expired at it is not in the copy.
        const std::uint64_t now = d.cu->cow_clock();
        for (std::size_t u = 0; u < d.n; ++u) {
          d.claims[u].now = now;
          d.cu->cow_locked(u, link_claim, &d.claims[u]);
        }
      },
      &d);
  sub_->skip_to(c.end);
  claims_ = std::move(claims);
  units_ = std::move(units);
  ready_ = std::move(ready);
  revision_ = c.revision;
  generation_ = ok_generation;
  ++stats_.full_copies;
  // The map is being closed and its log's close may have settled the
  // claims before ours were linked (CLOSING THE MAP): settle them here,
  // where the guard still keeps the map.
  if (sub_->closed())
    for (std::size_t u = 0; u < n; ++u) cu->cow_locked(u, settle_claim, &claims_[u]);
  return true;
}

void snapshot::drop_claims() noexcept {
  if (!claims_) return;
  {
    epoch::guard g;
    // A closed map's log settled every claim before the map was let go
    // (CLOSING THE MAP): none is linked any more.
    if (const concurrent_map* m = map_->get()) {
      const detail::cow_units* cu = m->cow();
      for (std::size_t u = 0; u < units_.size(); ++u) cu->cow_locked(u, drop_claim, &claims_[u]);
    }
  }
  claims_.reset();
  ready_.clear();
}

void snapshot::settle(std::size_t u) {
  unit_claim& c = claims_[u];
  if (!c.done.load(std::memory_order_acquire)) {
    epoch::guard g;
    if (const concurrent_map* m = map_->get()) m->cow()->cow_locked(u, settle_claim, &c);
  }
  // Settled by us, a writer, or the map's close (which does so before the
  // map can read as closed).
  if (!c.done.load(std::memory_order_acquire))
    throw std::logic_error("threadmap: snapshot: a claim was left unsettled");
}

void snapshot::ready(std::size_t u) {
  if (ready_[u]) return;
  settle(u);
  unit_claim& c = claims_[u];
  if (c.failed) throw std::bad_alloc();  // a writer had no memory to copy the unit
  table& t = units_[u];
  t.clear();
  t.reserve(c.entries);
  scan_reader r(c.out);
  scan_record rec;
  while (r.next(rec)) t.emplace(std::string(rec.key), std::string(rec.value));
  std::string().swap(c.out);
  ready_[u] = true;
}

snapshot::table& snapshot::table_of(bytes key) {
  if (!claims_) return units_[0];
  const std::size_t u = hash_stripe(hash_bytes(key), units_.size());
  ready(u);
  return units_[u];
}

void snapshot::check_whole() const {
  if (lost_)
    throw std::runtime_error(
        "snapshot: an allocation failed while it was being brought up to date, so it holds no "
        "one revision; refresh() takes it again");
}

bool snapshot::unit_lost() const noexcept {
  if (!claims_) return false;
  for (std::size_t u = 0; u < units_.size(); ++u)
    if (!ready_[u] && claims_[u].done.load(std::memory_order_acquire) && claims_[u].failed)
      return true;
  return false;
}

const std::string* snapshot::find(bytes key) {
  check_whole();
  if (units_.empty()) return nullptr;
  const table& t = table_of(key);
  auto it = t.find(std::string(key));
  return it == t.end() ? nullptr : &it->second;
}

std::size_t snapshot::size() {
  check_whole();
  std::size_t n = 0;
  for (std::size_t u = 0; u < units_.size(); ++u) {
    // An expiring map's claim counted entries that had expired: copy it.
    if (claims_ && !ready_[u] && claims_[u].now != 0) ready(u);
    n += !claims_ || ready_[u] ? units_[u].size() : claims_[u].entries;
  }
  return n;
}

std::size_t snapshot::held_bytes() const noexcept {
  // A node of the table: its link and cached hash beside the two strings.
  constexpr std::size_t node = sizeof(table::value_type) + 2 * sizeof(void*);
  const auto heap = [](const std::string& x) { return x.capacity() > 15 ? x.capacity() + 1 : 0; };
  std::size_t n = 0;
  for (std::size_t u = 0; u < units_.size(); ++u) {
    const table& t = units_[u];
    n += t.bucket_count() * sizeof(void*) + t.size() * node;
    for (const auto& [k, v] : t) n += heap(k) + heap(v);
    if (claims_ && !ready_[u] && claims_[u].done.load(std::memory_order_acquire))
      n += claims_[u].out.capacity();
  }
  return n;
}

const snapshot::table& snapshot::unit(std::size_t u) {
  check_whole();
  if (claims_) ready(u);
  return units_[u];
}

// (2)-(4) of snapshot.hpp, again with a larger ring while the writers
// outrun it. The events logged so far are applied after each unit, not
// only after the whole copy, so the ring must hold one unit's worth of
// writes rather than the whole copy's (snapshot.hpp, DRAINING, says why
// that leaves the claim intact).
bool snapshot::copy() {
  for (;;) {
    units_.assign(1, table());
    ++generation_;
    std::string buf, scratch;
    applied drained = applied::ok;
    for (std::size_t u = 0, units = 1; u < units && drained == applied::ok; ++u) {
      {
        epoch::guard g;
        concurrent_map* m = map_->get();
        if (m == nullptr) return false;
        units = m->scan_units();
        buf.clear();
        if (u < units) m->copy_unit(u, buf, scratch);
      }
      scan_reader r(buf);
      scan_record rec;
      while (r.next(rec)) units_[0].insert_or_assign(std::string(rec.key), std::string(rec.value));
      drained = apply_until(log_->end());  // not past it: writers may outpace the drain
    }
    ++stats_.full_copies;
    if (drained == applied::closed) return false;
    const applied a = drained == applied::ok ? catch_up() : drained;
    if (a != applied::compacted) return a == applied::ok;
    if (buffer_bytes_ >= change_log::max_buffer_bytes)
      throw std::runtime_error("writes outran the snapshot's largest event buffer");
    buffer_bytes_ = std::min(buffer_bytes_ * 2, change_log::max_buffer_bytes);
    ++stats_.retries;
    if (!resubscribe(buffer_bytes_)) return false;
  }
}

snapshot::applied snapshot::apply_until(std::uint64_t end) {
  std::vector<watch_event> batch;
  for (;;) {
    batch.clear();
    const subscription::batch b = sub_->read(batch, 4096, false, end);
    if (b.st == subscription::state::closed) return applied::closed;
    if (b.st == subscription::state::compacted) return applied::compacted;
    if (!batch.empty()) ++generation_;
    for (watch_event& e : batch) {
      switch (e.kind) {
        case event_kind::set:
          table_of(e.key).insert_or_assign(std::move(e.key), std::move(e.value));
          break;
        case event_kind::clear:
          // The clear settled every claim (it changed every unit), so
          // each unit is built, then emptied.
          for (std::size_t u = 0; u < units_.size(); ++u) {
            if (claims_ && !ready_[u]) {
              settle(u);  // by the clear itself, which changed every stripe
              std::string().swap(claims_[u].out);
              ready_[u] = true;
            }
            units_[u].clear();
          }
          break;
        default:  // delete, evict, expire: the key is gone
          table_of(e.key).erase(e.key);
      }
    }
    stats_.events_applied += batch.size();
    if (!b.more) return applied::ok;
  }
}

// (3) and (4) of snapshot.hpp: cut the log, apply up to the cut.
snapshot::applied snapshot::catch_up() {
  change_log::cut c;
  {
    epoch::guard g;
    if (map_->get() == nullptr) return applied::closed;
    c = log_->barrier();
  }
  const applied a = apply_until(c.end);
  if (a == applied::ok) revision_ = c.revision;
  return a;
}

bool snapshot::refresh() {
  if (!sub_) return false;
  try {
    // A lost part cannot be brought forward (its events were consumed, or
    // its copy never made): take it again (LOST).
    bool again = lost_ || unit_lost();
    if (!again) {
      switch (catch_up()) {
        case applied::ok:
          break;
        case applied::closed:
          return false;
        case applied::compacted:
          // The ring no longer holds our position: copy (or claim) again,
          // from a fresh subscription (the old cursor can never catch up).
          again = true;
      }
    }
    if (again) {
      // Lost from here until the new copy is whole: a failure half-way
      // through leaves a copy of no one revision.
      lost_ = true;
      ++generation_;
      if (!take_again()) return false;
      lost_ = false;
    }
  } catch (...) {
    lost_ = true;
    ++generation_;  // iterations of the copy stop (the binding compares it)
    throw;
  }
  ++stats_.refreshes;
  return true;
}

bool snapshot::take_again() {
  drop_claims();
  if (!resubscribe(buffer_bytes_)) return false;
  return how_ == copying::lazy ? claim() : copy();
}

void snapshot::close(bool in_background) noexcept {
  drop_claims();
  if (sub_) sub_->close();
  sub_.reset();
  ++generation_;
  if (units_.empty()) return;
  // A copy of a large map takes as long to free as to make: off this
  // thread when asked and a thread can be had, else here.
  if (!in_background) {
    std::vector<table>().swap(units_);
    return;
  }
  std::unique_ptr<std::vector<table>> gone(new (std::nothrow) std::vector<table>());
  if (!gone) {
    std::vector<table>().swap(units_);
    return;
  }
  gone->swap(units_);
  try {
    std::thread([g = std::move(gone)]() mutable { g.reset(); }).detach();
  } catch (...) {
    // No thread: the failed attempt's state, which held the copy, freed it.
  }
}

}  // namespace threadmap
