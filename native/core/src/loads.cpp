#include "threadmap/loads.hpp"

#include <array>
#include <utility>

namespace threadmap {
namespace {

// The results that carry no bytes, made once before main: abandon() and
// close() must not allocate (they run in cleanup hooks and close(), which
// cannot fail).
const std::array<std::shared_ptr<const load_result>, 7> bare_results = [] {
  std::array<std::shared_ptr<const load_result>, 7> a;
  for (std::size_t i = 0; i < a.size(); ++i)
    a[i] = std::make_shared<const load_result>(load_result{static_cast<load_outcome>(i), {}});
  return a;
}();

const std::shared_ptr<const load_result>& bare(load_outcome k) noexcept {
  return bare_results[static_cast<std::size_t>(k)];
}

}  // namespace

load_table::ticket load_table::claim(std::string_view key, clock::time_point now,
                                     clock::duration timeout, std::shared_ptr<load_waiter> w) {
  std::string owned(key);  // every allocation before the first change
  ended expired;
  ticket t;
  {
    std::lock_guard lock(lock_);
    if (closed_) return t;
    auto found = by_key_.find(owned);
    if (found != by_key_.end()) {
      auto old = claims_.find(found->second);
      if (now < old->second.deadline) {
        old->second.waiters.push_back(std::move(w));  // nothing changed if it throws
        ++stats_.waits;
        return {role::waiter, old->first, old->second.deadline};
      }
      // Past its deadline and not settled: the owner cannot run its timer
      // (a thread stuck in a loop). Its waiters' own timers end their waits
      // at that deadline; they are woken here too, so none stays registered.
      claims_.reserve(claims_.size() + 1);  // so the emplace below keeps `old` valid
      const std::uint64_t token = next_token_;
      claims_.emplace(token, claim_state{std::move(owned), now, now + timeout, std::move(w), {}});
      ++next_token_;
      ++stats_.timeouts;
      expired.waiters = std::move(old->second.waiters);
      claims_.erase(old);
      found->second = token;
      t = {role::owner, token, now + timeout};
    } else {
      const std::uint64_t token = next_token_;
      auto made = claims_.emplace(
          token, claim_state{std::move(owned), now, now + timeout, std::move(w), {}});
      try {
        by_key_.emplace(made.first->second.key, token);
      } catch (...) {
        claims_.erase(made.first);
        throw;
      }
      ++next_token_;
      t = {role::owner, token, now + timeout};
    }
  }
  wake(expired, load_outcome::timed_out);
  return t;
}

bool load_table::settle(std::uint64_t token, load_result result, clock::time_point now) {
  // Made before the lock, so a failed allocation changes nothing.
  std::shared_ptr<const load_result> shared =
      result.bytes.empty() ? bare(result.kind)
                           : std::make_shared<const load_result>(std::move(result));
  ended e;
  {
    std::lock_guard lock(lock_);
    auto it = claims_.find(token);
    if (it == claims_.end()) return false;
    const auto took = static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(now - it->second.started).count());
    switch (shared->kind) {
      case load_outcome::value:
      case load_outcome::none:
        ++stats_.successes;
        stats_.load_ns += took;
        break;
      case load_outcome::error:
        ++stats_.failures;
        stats_.load_ns += took;
        break;
      case load_outcome::timed_out:
        ++stats_.timeouts;
        break;
      default:
        break;
    }
    e = end_locked(it);
  }
  for (const auto& w : e.waiters) w->wake(shared);
  return true;
}

bool load_table::abandon(std::uint64_t token) noexcept {
  ended e;
  {
    std::lock_guard lock(lock_);
    auto it = claims_.find(token);
    if (it == claims_.end()) return false;
    ++stats_.abandoned;
    e = end_locked(it);
  }
  wake(e, load_outcome::abandoned);
  return true;
}

bool load_table::cancel(std::uint64_t token, const load_waiter* w) noexcept {
  std::shared_ptr<load_waiter> gone;  // released after the lock
  std::lock_guard lock(lock_);
  auto it = claims_.find(token);
  if (it == claims_.end()) return false;
  auto& ws = it->second.waiters;
  for (auto i = ws.begin(); i != ws.end(); ++i) {
    if (i->get() == w) {
      gone = std::move(*i);
      ws.erase(i);
      return true;
    }
  }
  return false;
}

void load_table::close() noexcept {
  {
    std::lock_guard lock(lock_);
    closed_ = true;  // from here on no claim is added
  }
  // One claim at a time, each woken with the lock released.
  for (;;) {
    ended e;
    {
      std::lock_guard lock(lock_);
      if (claims_.empty()) break;
      e = end_locked(claims_.begin());
    }
    if (e.owner) e.owner->wake(bare(load_outcome::closed));
    wake(e, load_outcome::closed);
  }
}

load_table::ended load_table::end_locked(
    std::unordered_map<std::uint64_t, claim_state>::iterator it) noexcept {
  ended e{std::move(it->second.waiters), std::move(it->second.owner_watch)};
  by_key_.erase(it->second.key);
  claims_.erase(it);
  return e;
}

void load_table::wake(const ended& e, load_outcome kind) noexcept {
  for (const auto& w : e.waiters) w->wake(bare(kind));
}

load_stats load_table::stats() const {
  std::lock_guard lock(lock_);
  return stats_;
}

std::size_t load_table::in_flight() const {
  std::lock_guard lock(lock_);
  return claims_.size();
}

}  // namespace threadmap
