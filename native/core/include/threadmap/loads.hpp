// threadmap/loads.hpp — the loads in flight of one shared map: what makes
// `fetch(key, loader)` run one loader per missing key across every thread.
//
// A load is a claim on a key. The first thread to claim a key that has no
// live claim becomes its owner and runs its loader; a thread that claims a
// key with a live claim registers a waiter instead, and is woken once with
// the claim's result. The table is the map's (it lives in shared_map,
// registry.hpp), so the main thread and every worker holding the map claim
// in the same table.
//
// Invariant: at most one live claim per key, and every waiter registered
// with a claim is woken exactly once (or withdrawn by cancel, or dropped
// with the table), with the result that ended the claim. A claim ends when
//   - its owner settles it (settle: a value, no value, an error, or
//     released: the owner found the key present and loaded nothing);
//   - its owner's thread goes away (abandon: the binding calls it from the
//     environment's cleanup hook); the waiters then claim again, and one of
//     them becomes the new owner;
//   - its deadline passes (the owner's timeout): the owner's own timer
//     settles it timed_out, or, when the owner cannot run its timer (a
//     thread stuck in a loop), the next claim of the key finds it expired,
//     wakes its waiters timed_out and takes the key over;
//   - the table is closed (the map's close()): every waiter, and every
//     owner's watcher, is woken `closed`, and every later claim is refused.
// A claim that ended is gone: its token names nothing, so a late settle of
// an owner that timed out, was abandoned or was closed changes nothing and
// returns false.
//
// Time is the caller's: claim and settle take `now`, so the tests drive
// deadlines without sleeping and the binding reads the clock once per call.
//
// Protocol: one mutex guards the table. A claim is a miss followed by a
// load (a network call, a database query), so the table is touched a few
// times per load, never by a get: a single lock costs nothing measurable
// here, where per-key striping would cost memory in every map. Waiters are
// woken after the mutex is released, so a waiter's wake() may call back
// into the table (the binding's does not, but a test does), and a slow
// wake() (the binding's posts to another thread's event loop) holds no lock.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace threadmap {

// How a claim ended, as its waiters see it.
enum class load_outcome : std::uint8_t {
  value,      // the loader's value was stored; bytes: the stored value
  none,       // the loader returned nothing; nothing was stored
  error,      // the loader failed; bytes: the error, as the binding encoded it
  released,   // the owner found the key present and loaded nothing: read it again
  abandoned,  // the owner's thread went away: claim again
  timed_out,  // the claim's deadline passed
  closed,     // the map was closed
};

struct load_result {
  load_outcome kind = load_outcome::none;
  std::string bytes;
};

// Something to wake: the binding's is a waiting fetch in some thread.
class load_waiter {
 public:
  virtual ~load_waiter() = default;
  // Called at most once per registration, from whichever thread ended the
  // claim, with no lock of the table held. Must not throw.
  virtual void wake(const std::shared_ptr<const load_result>& result) noexcept = 0;
};

struct load_stats {
  std::uint64_t successes = 0;  // claims settled value or none
  std::uint64_t failures = 0;   // claims settled error
  std::uint64_t timeouts = 0;   // claims that ended timed_out
  std::uint64_t abandoned = 0;  // claims whose owner's thread went away
  std::uint64_t waits = 0;      // waiters registered
  std::uint64_t load_ns = 0;    // claim to settle, summed over successes and failures
};

class load_table {
 public:
  using clock = std::chrono::steady_clock;

  enum class role : std::uint8_t { owner, waiter, closed };
  struct ticket {
    role r = role::closed;
    std::uint64_t token = 0;       // the claim's, owner or waiter
    clock::time_point deadline{};  // the claim's
  };

  load_table() = default;
  load_table(const load_table&) = delete;
  load_table& operator=(const load_table&) = delete;

  // Claims `key`. With no live claim (none, or one past its deadline), the
  // caller becomes the owner of a new claim whose deadline is now + timeout;
  // `w`, if any, is then the owner's watcher, woken only if the table is
  // closed. With a live claim, `w` (required) waits for it. Throws only
  // std::bad_alloc, and then changes nothing.
  ticket claim(std::string_view key, clock::time_point now, clock::duration timeout,
               std::shared_ptr<load_waiter> w);

  // Ends claim `token` with `result` (kinds value, none, error, released,
  // timed_out) and wakes its waiters. False, changing nothing, when the
  // claim has already ended.
  bool settle(std::uint64_t token, load_result result, clock::time_point now);

  // Ends claim `token` because its owner's thread went away: its waiters
  // are woken `abandoned`. False when the claim has already ended.
  bool abandon(std::uint64_t token) noexcept;

  // Withdraws `w` from claim `token` (a waiter whose own timeout passed).
  // False when the claim has ended or `w` is not registered with it.
  bool cancel(std::uint64_t token, const load_waiter* w) noexcept;

  // Ends every claim `closed`; later claims return role::closed.
  void close() noexcept;

  load_stats stats() const;
  // Live claims (tests).
  std::size_t in_flight() const;

 private:
  struct claim_state {
    std::string key;
    clock::time_point started;
    clock::time_point deadline;
    std::shared_ptr<load_waiter> owner_watch;
    std::vector<std::shared_ptr<load_waiter>> waiters;
  };
  // What a claim that ended leaves to wake, once the lock is released.
  struct ended {
    std::vector<std::shared_ptr<load_waiter>> waiters;
    std::shared_ptr<load_waiter> owner;  // woken only by close()
  };

  // Removes claim `it`; under lock_. Allocates nothing.
  ended end_locked(std::unordered_map<std::uint64_t, claim_state>::iterator it) noexcept;
  static void wake(const ended& e, load_outcome kind) noexcept;

  mutable std::mutex lock_;
  std::unordered_map<std::uint64_t, claim_state> claims_;  // by token
  std::unordered_map<std::string, std::uint64_t> by_key_;  // key -> token of its live claim
  std::uint64_t next_token_ = 1;
  bool closed_ = false;
  load_stats stats_;
};

}  // namespace threadmap
