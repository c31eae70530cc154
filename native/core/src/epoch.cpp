// Epoch-based reclamation; the protocol is described in threadmap/epoch.hpp.
#include "threadmap/epoch.hpp"

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <new>
#include <thread>
#include <vector>

#include "threadmap/detail/padding.hpp"

namespace threadmap::epoch {

namespace detail {
// Alone on its line: read by every outermost guard, written only when the
// epoch advances, so no other hot word makes those readers miss.
alignas(cache_line) constinit std::atomic<std::uint64_t> global{0};
thread_local constinit slot* t_slot THREADMAP_INITIAL_EXEC_TLS = nullptr;
}  // namespace detail

namespace {

using detail::global;
using detail::quiescent;
using detail::t_slot;
// Try to advance and free after this many retirements by one thread.
constexpr std::size_t collect_every = 64;
// A thread holding eager_bytes tries again on leaving a guard only when the
// epoch has moved since its last try, or after this many exits: while another
// thread holds the epoch back, retrying on every exit would walk the records
// and scan the whole bag on every call for nothing.
constexpr unsigned eager_retry_exits = 64;

struct retired {
  void* p;
  void (*deleter)(void*);
  std::uint64_t epoch;
  std::size_t bytes;
};

// Retired items in the order of their epochs (never decreasing), so the ones
// a given global epoch makes safe are a prefix: freeing examines those and one
// more, however many are still pending behind them. A thread that retires
// many items inside one guard (a clear() of a large map) used to rescan all of
// them every collect_every retirements, while none could be freed.
struct retired_list {
  std::vector<retired> items;
  std::size_t head = 0;  // items[0, head) are freed

  bool empty() const noexcept { return head == items.size(); }
  // Appends without allocating when it can. retire()'s caller has already
  // unlinked what it retires, so an allocation failure here would leave its
  // operation half done: room is made ahead of need (after the push that
  // fills the vector), and only when that failed does a push allocate, and
  // then it may fail (false: the caller keeps the item elsewhere).
  bool push(const retired& r) noexcept {
    if (items.size() == items.capacity()) {
      if (head > 0) {
        items.erase(items.begin(), items.begin() + static_cast<std::ptrdiff_t>(head));
        head = 0;
      }
      if (items.size() == items.capacity() && !grow()) return false;
    }
    items.push_back(r);                            // there is room: no allocation, no throw
    if (items.size() == items.capacity()) grow();  // a failure is retried by the next push
    return true;
  }
  bool grow() noexcept {
    try {
      items.reserve(items.capacity() < 64 ? 64 : items.capacity() * 2);
      return true;
    } catch (const std::bad_alloc&) {
      return false;
    }
  }
  // Drops the freed prefix once it is at least half the vector: each move is
  // paid for by a freed item.
  void compact() {
    if (head == items.size()) {
      items.clear();
      head = 0;
    } else if (head >= 64 && head * 2 >= items.size()) {
      items.erase(items.begin(), items.begin() + static_cast<std::ptrdiff_t>(head));
      head = 0;
    }
  }
  // Moves every pending item of `from` here, keeping the epoch order.
  void take(retired_list& from) {
    compact();
    const std::size_t mid = items.size();
    items.insert(items.end(), from.items.begin() + static_cast<std::ptrdiff_t>(from.head),
                 from.items.end());
    std::inplace_merge(items.begin() + static_cast<std::ptrdiff_t>(head),
                       items.begin() + static_cast<std::ptrdiff_t>(mid), items.end(),
                       [](const retired& a, const retired& b) { return a.epoch < b.epoch; });
    from.items.clear();
    from.items.shrink_to_fit();
    from.head = 0;
  }
};

// One per thread, on its own cache line: the owner writes `announced` (the
// slot, which guards reach from the header) on every guard, and other threads
// read it only while advancing the epoch. The slot's garbage_bytes counts the
// bag's pending bytes (not the spares').
struct alignas(cache_line) record : detail::slot {
  std::atomic<bool> in_use{false};
  record* next = nullptr;  // immutable once the record is published

  // Owner-only state.
  std::size_t since_collect = 0;
  std::uint64_t eager_tried_at = quiescent;  // global epoch at the last eager try
  unsigned exits_since_try = 0;
  retired_list bag;
  // Where retire() keeps what the bag had no room for (its growth failed):
  // freed like the bag's items. Past these, an item is never freed (a leak,
  // only when allocation keeps failing), which is still better than failing
  // an operation that has taken effect. They stay with the record, whose
  // next owner frees them if this thread exits first.
  static constexpr unsigned spare_slots = 16;
  unsigned spares = 0;
  retired spare[spare_slots];
};

// Everything but the global epoch (detail::global), which guards read without
// asking for the domain.
struct domain {
  alignas(cache_line) std::atomic<record*> head{nullptr};
  std::atomic<std::size_t> pending{0};
  std::atomic<std::size_t> swept{0};
  std::atomic<std::size_t> lost{0};
  alignas(cache_line) std::mutex orphans_lock;
  retired_list orphans;  // garbage of threads that exited
};

// Never destroyed: threads may still exit (and hand over garbage) while static
// destructors run at process exit.
[[gnu::always_inline]] inline domain& dom() {
  static domain* d = new domain;
  return *d;
}

record* acquire_record() {
  domain& d = dom();
  for (record* r = d.head.load(std::memory_order_acquire); r; r = r->next) {
    bool expected = false;
    if (!r->in_use.load(std::memory_order_relaxed) &&
        r->in_use.compare_exchange_strong(expected, true, std::memory_order_acquire)) {
      return r;
    }
  }
  auto* r = new record;
  r->in_use.store(true, std::memory_order_relaxed);
  record* head = d.head.load(std::memory_order_relaxed);
  do {
    r->next = head;
  } while (
      !d.head.compare_exchange_weak(head, r, std::memory_order_release, std::memory_order_relaxed));
  return r;
}

// Frees the items that became safe (a prefix of the bag); returns their bytes.
std::size_t free_items(retired_list& b, std::uint64_t epoch) {
  std::size_t freed = 0, bytes = 0;
  while (b.head < b.items.size() && b.items[b.head].epoch + 2 <= epoch) {
    const retired item = b.items[b.head++];  // copied before the deleter runs
    item.deleter(item.p);
    bytes += item.bytes;
    ++freed;
  }
  domain& d = dom();
  d.swept.fetch_add(freed + (b.empty() ? 0 : 1), std::memory_order_relaxed);
  if (freed) d.pending.fetch_sub(freed, std::memory_order_relaxed);
  b.compact();
  return bytes;
}

// Frees what became safe in the thread's own bag.
void free_own(record& r, std::uint64_t epoch) {
  r.garbage_bytes -= free_items(r.bag, epoch);
}

// Advances the global epoch if every active thread has announced it. Returns
// the global epoch as seen after the attempt.
std::uint64_t try_advance() {
  domain& d = dom();
  std::uint64_t g = global.load(std::memory_order_seq_cst);
  for (record* r = d.head.load(std::memory_order_acquire); r; r = r->next) {
    const std::uint64_t a = r->announced.load(std::memory_order_seq_cst);
    if (a != quiescent && a != g) return g;
  }
  if (global.compare_exchange_strong(g, g + 1, std::memory_order_seq_cst)) return g + 1;
  return g;  // someone else advanced; g holds the new value
}

void collect_orphans(std::uint64_t epoch, bool wait) {
  domain& d = dom();
  std::unique_lock lock(d.orphans_lock, std::defer_lock);
  if (wait) {
    lock.lock();
  } else if (!lock.try_lock()) {
    return;
  }
  free_items(d.orphans, epoch);
}

// Frees the record's spare items that became safe (a handful, in any order).
void free_spares(record& r, std::uint64_t epoch) {
  unsigned kept = 0;
  std::size_t freed = 0;
  for (unsigned i = 0; i < r.spares; ++i) {
    const retired item = r.spare[i];
    if (item.epoch + 2 <= epoch) {
      item.deleter(item.p);
      ++freed;
    } else {
      r.spare[kept++] = item;
    }
  }
  r.spares = kept;
  if (freed) dom().pending.fetch_sub(freed, std::memory_order_relaxed);
}

void collect(record& r) {
  const std::uint64_t g = try_advance();
  free_own(r, g);
  if (r.spares) free_spares(r, g);
  collect_orphans(g, false);
}

// Set when the thread's owner (below) has been destroyed. The record pointer
// itself (detail::t_slot, initial-exec and constinit: see epoch.hpp) is
// trivially destructible, so reading it runs no TLS-initialisation check; the
// owner is touched only when a thread first takes a record.
thread_local bool t_exited THREADMAP_INITIAL_EXEC_TLS = false;

struct thread_owner {
  record* rec = nullptr;
  ~thread_owner() {
    t_exited = true;
    t_slot = nullptr;
    if (!rec) return;
    // A thread exits: its garbage goes to the orphans, its record to the next
    // thread that needs one.
    if (!rec->bag.empty()) {
      domain& d = dom();
      std::lock_guard lock(d.orphans_lock);
      try {
        d.orphans.take(rec->bag);
        rec->garbage_bytes = 0;
      } catch (const std::bad_alloc&) {
        // The bag stays with the record: its next owner frees it.
      }
    }
    rec->depth = 0;
    rec->announced.store(quiescent, std::memory_order_release);
    rec->in_use.store(false, std::memory_order_release);
  }
};

thread_local thread_owner t_owner;

record& own() noexcept {
  return static_cast<record&>(detail::current());
}

}  // namespace

detail::slot& detail::adopt() noexcept {
  record* r = acquire_record();
  t_slot = r;
  // Registers the owner's destructor. A thread that reaches here from a
  // thread-exit destructor that runs after the owner's keeps its new record
  // for ever (never reused, so never shared).
  if (!t_exited) t_owner.rec = r;
  return *r;
}

void detail::leave_eager(slot& s) noexcept {
  record& r = static_cast<record&>(s);
  const std::uint64_t g = global.load(std::memory_order_relaxed);
  if (g != r.eager_tried_at || ++r.exits_since_try >= eager_retry_exits) {
    r.eager_tried_at = g;
    r.exits_since_try = 0;
    collect(r);
  }
}

void retire(void* p, void (*deleter)(void*), std::size_t bytes) noexcept {
  domain& d = dom();
  record& r = own();
  // The caller unlinked p before this call; the fence orders that before the
  // epoch read, so a thread that announces a later epoch cannot reach p.
  std::atomic_thread_fence(std::memory_order_seq_cst);
  const std::uint64_t e = global.load(std::memory_order_seq_cst);
  const retired item{p, deleter, e, bytes};
  if (r.bag.push(item)) {
    r.garbage_bytes += bytes;
  } else {
    if (r.spares == record::spare_slots) {  // never freed: see record::spare
      d.lost.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    r.spare[r.spares++] = item;
  }
  d.pending.fetch_add(1, std::memory_order_relaxed);
  if (++r.since_collect >= collect_every) {
    r.since_collect = 0;
    // Collecting inside a guard is fine: this thread's own announcement only
    // holds the epoch back, it never lets anything be freed early.
    collect(r);
  }
}

void synchronize() {
  record& r = own();
  if (r.depth != 0) return;
  std::atomic_thread_fence(std::memory_order_seq_cst);
  const std::uint64_t target = global.load(std::memory_order_seq_cst) + 2;
  unsigned spins = 0;
  while (try_advance() < target) {
    // Guards are held only for the length of one map call, so this waits for
    // at most a few calls on other threads.
    if (++spins > 64) std::this_thread::yield();
  }
  const std::uint64_t g = global.load(std::memory_order_seq_cst);
  free_own(r, g);
  if (r.spares) free_spares(r, g);
  collect_orphans(g, true);
}

std::size_t pending() noexcept {
  return dom().pending.load(std::memory_order_relaxed);
}

std::size_t swept() noexcept {
  return dom().swept.load(std::memory_order_relaxed);
}

std::size_t lost() noexcept {
  return dom().lost.load(std::memory_order_relaxed);
}

}  // namespace threadmap::epoch
