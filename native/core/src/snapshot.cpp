#include "threadmap/snapshot.hpp"

#include <algorithm>
#include <stdexcept>
#include <vector>

#include "threadmap/epoch.hpp"

namespace threadmap {

std::unique_ptr<snapshot> snapshot::take(std::shared_ptr<shared_map> map,
                                         std::size_t buffer_bytes) {
  std::unique_ptr<snapshot> s(new snapshot);
  s->map_ = std::move(map);
  s->log_ = s->map_->watch_log();
  s->buffer_bytes_ = buffer_bytes ? buffer_bytes : change_log::default_buffer_bytes;
  if (!s->resubscribe(s->buffer_bytes_)) return nullptr;
  if (!s->copy()) return nullptr;
  return s;
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

// (2)-(4) of snapshot.hpp, again with a larger ring while the writers
// outrun it. The events logged so far are applied after each unit, not
// only after the whole copy, so the ring must hold one unit's worth of
// writes rather than the whole copy's (snapshot.hpp, DRAINING, says why
// that leaves the claim intact).
bool snapshot::copy() {
  for (;;) {
    table_.clear();
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
      while (r.next(rec)) table_.insert_or_assign(std::string(rec.key), std::string(rec.value));
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
          table_.insert_or_assign(std::move(e.key), std::move(e.value));
          break;
        case event_kind::clear:
          table_.clear();
          break;
        default:  // delete, evict, expire: the key is gone
          table_.erase(e.key);
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
  switch (catch_up()) {
    case applied::ok:
      break;
    case applied::closed:
      return false;
    case applied::compacted:
      // The ring no longer holds our position: copy again, from a fresh
      // subscription (the old cursor can never catch up).
      if (!resubscribe(buffer_bytes_) || !copy()) return false;
  }
  ++stats_.refreshes;
  return true;
}

void snapshot::close() noexcept {
  if (sub_) sub_->close();
  sub_.reset();
  table().swap(table_);
  ++generation_;
}

}  // namespace threadmap
