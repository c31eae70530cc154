// The eviction policies (threadmap/detail/eviction/*.hpp, whose essays say
// why they are built this way): the node arrays and CLOCK hands, the
// frequency sketch, the read buffers, CLOCK and W-TinyLFU.
#include <algorithm>
#include <bit>
#include <cstdint>
#include <cstdlib>
#include <new>

#include "threadmap/detail/alloc.hpp"
#include "threadmap/detail/counter.hpp"
#include "threadmap/detail/eviction/clock.hpp"
#include "threadmap/detail/eviction/policy.hpp"
#include "threadmap/detail/eviction/read_buffer.hpp"
#include "threadmap/detail/eviction/sketch.hpp"
#include "threadmap/detail/eviction/wtinylfu.hpp"
#include "threadmap/detail/hash.hpp"
#include "threadmap/detail/prefetch.hpp"

namespace threadmap {

const char* to_string(eviction_kind k) noexcept {
  switch (k) {
    case eviction_kind::wtinylfu:
      return "wtinylfu";
    case eviction_kind::clock:
      return "clock";
  }
  return "?";
}

}  // namespace threadmap

namespace threadmap::detail::eviction {

namespace {
constexpr std::uint64_t low32 = 0xFFFFFFFFu;
}  // namespace

std::optional<kind> parse_kind(std::string_view name) noexcept {
  for (kind k : all_kinds)
    if (name == to_string(k)) return k;
  return std::nullopt;
}

// --- nodes and hands ---------------------------------------------------------

node_array::~node_array() {
  std::free(words_);
}

bool node_array::allocate(std::size_t count) noexcept {
  // Zeroed by calloc and never written here: a large bound is reserved,
  // and its pages become resident only as entries take nodes (a zero word
  // is a node never used; std::atomic<std::uint64_t> is one plain word).
  if (detail::fail_allocation()) return false;
  void* p = std::calloc(count, sizeof(std::atomic<std::uint64_t>));
  if (!p) return false;
  words_ = static_cast<std::atomic<std::uint64_t>*>(p);
  count_ = count;
  return true;
}

void clock_region::assign(std::atomic<std::uint64_t>* nodes, handle base, std::size_t count,
                          unsigned max_ref, std::size_t protect) noexcept {
  nodes_ = nodes;
  base_ = base;
  count_ = static_cast<std::uint32_t>(count);
  max_ref_ = max_ref;
  quota_ = static_cast<std::uint32_t>(protect);
  reset();
}

void clock_region::reset() noexcept {
  // Only the nodes ever used are written back to zero: the rest are zero
  // still, and stay untouched (so a large bound costs memory only as it
  // fills). New nodes come in index order, so a cache filling up lays its
  // entries out as the hand will meet them.
  for (std::size_t i = 0; i < fresh_; ++i) nodes_[base_ + i].store(0, std::memory_order_relaxed);
  fresh_ = 0;
  free_ = no_handle;
  live_ = 0;
  hand_ = 0;
  protected_ = 0;
  demote_hand_ = 0;
}

handle clock_region::take(std::uint64_t hash) noexcept {
  handle h = free_;
  if (h != no_handle) {
    free_ = static_cast<handle>(nodes_[h].load(std::memory_order_relaxed) & low32);
  } else if (fresh_ < count_) {
    h = static_cast<handle>(base_ + fresh_++);
  } else {
    return no_handle;
  }
  nodes_[h].store(node::live | (hash & hash_bits), std::memory_order_relaxed);
  ++live_;
  return h;
}

handle clock_region::sweep() noexcept {
  if (live_ == 0) return no_handle;
  if (protected_ == live_) demote();  // the victim comes from probation
  // Terminates: each pass over a live probation node lowers its count, so
  // within max_ref + 1 revolutions some live node has a zero count.
  for (;;) {
    // Over the nodes ever used: beyond them none is live.
    const handle h = static_cast<handle>(base_ + hand_);
    hand_ = hand_ + 1 >= fresh_ ? 0 : hand_ + 1;
    const std::uint64_t w = nodes_[h].load(std::memory_order_relaxed);
    if (!(w & node::live) || (w & node::prot)) continue;
    if (node::ref(w) == 0) return h;
    nodes_[h].fetch_sub(node::ref_one, std::memory_order_relaxed);
  }
}

void clock_region::rebind(handle h, std::uint64_t hash) noexcept {
  forget(nodes_[h].load(std::memory_order_relaxed));
  nodes_[h].store(node::live | (hash & hash_bits), std::memory_order_relaxed);
}

void clock_region::release(handle h) noexcept {
  forget(nodes_[h].load(std::memory_order_relaxed));
  nodes_[h].store(free_, std::memory_order_relaxed);
  free_ = h;
  --live_;
}

void clock_region::touch(handle h) noexcept {
  std::uint64_t w = nodes_[h].load(std::memory_order_relaxed);
  if (quota_ && !(w & node::prot)) {
    // Promotion, with one reference so the demoting hand passes it once.
    nodes_[h].store(w | node::prot | node::ref_one, std::memory_order_relaxed);
    if (++protected_ > quota_) demote();
    return;
  }
  // One attempt: a reader that raced in has already raised the count.
  if (node::ref(w) < max_ref_)
    nodes_[h].compare_exchange_strong(w, w + node::ref_one, std::memory_order_relaxed);
}

void clock_region::demote() noexcept {
  // Terminates: there is a protected node, and each pass lowers its count.
  for (;;) {
    const handle h = static_cast<handle>(base_ + demote_hand_);
    demote_hand_ = demote_hand_ + 1 >= fresh_ ? 0 : demote_hand_ + 1;
    const std::uint64_t w = nodes_[h].load(std::memory_order_relaxed);
    if (!(w & node::live) || !(w & node::prot)) continue;
    if (node::ref(w)) {
      nodes_[h].store(w - node::ref_one, std::memory_order_relaxed);
      continue;
    }
    nodes_[h].store(w & ~node::prot, std::memory_order_relaxed);
    --protected_;
    return;
  }
}

void clock_region::touch_shared(handle h, std::uint64_t hash) const noexcept {
  if (!owns(h)) return;
  std::atomic<std::uint64_t>& n = nodes_[h];
  const std::uint64_t w = n.load(std::memory_order_relaxed);
  if (!node::holds(w, hash) || node::ref(w) != 0) return;
  n.fetch_or(node::ref_one, std::memory_order_relaxed);
}

// --- CLOCK -------------------------------------------------------------------

bool clock_policy::init(std::size_t capacity) noexcept {
  if (!nodes_.allocate(capacity)) return false;
  region_.assign(nodes_.data(), 0, capacity, 1);
  return true;
}

offer clock_policy::record_read(handle h, std::uint64_t hash) noexcept {
  if (h != no_handle) region_.touch_shared(h, hash);
  return offer::recorded;
}

insert_plan clock_policy::on_insert(std::uint64_t hash) noexcept {
  insert_plan plan;
  plan.h = region_.take(hash);
  if (plan.h == no_handle) {
    const handle v = region_.sweep();  // full, so never empty
    plan.victim = eviction{region_.word(v) & hash_bits, v};
    region_.rebind(v, hash);
    plan.h = v;
    evicted_.fetch_add(1, std::memory_order_relaxed);
  }
  publish_size();
  return plan;
}

void clock_policy::on_update(handle h, std::uint64_t hash) noexcept {
  if (region_.owns(h) && node::holds(region_.word(h), hash)) region_.touch(h);
}

void clock_policy::on_erase(handle h) noexcept {
  if (!region_.owns(h) || !(region_.word(h) & node::live)) return;
  region_.release(h);
  publish_size();
}

bool clock_policy::evict(eviction& out) noexcept {
  const handle v = region_.sweep();
  if (v == no_handle) return false;
  out = eviction{region_.word(v) & hash_bits, v};
  region_.release(v);
  evicted_.fetch_add(1, std::memory_order_relaxed);
  publish_size();
  return true;
}

void clock_policy::clear() noexcept {
  region_.reset();
  publish_size();
}

memory_use clock_policy::memory() const noexcept {
  memory_use m;
  m.capacity = nodes_.size();
  m.nodes = nodes_.bytes();
  m.object = sizeof(*this);
  return m;
}

policy_stats clock_policy::stats() const noexcept {
  policy_stats s;
  s.evicted = evicted_.load(std::memory_order_relaxed);
  return s;
}

// --- the frequency sketch ----------------------------------------------------

frequency_sketch::~frequency_sketch() {
  std::free(raw_);
}

bool frequency_sketch::init(std::size_t capacity, std::size_t blocks) noexcept {
  blocks_ = std::max<std::size_t>(1, blocks);
  if (detail::fail_allocation()) return false;
  // Zeroed by calloc, a line more to align the blocks on: a large bound's
  // sketch becomes resident only as keys land in it.
  raw_ = std::calloc(1, bytes());
  if (!raw_) return false;
  const auto at = reinterpret_cast<std::uintptr_t>(raw_);
  words_ = reinterpret_cast<std::uint64_t*>((at + block_bytes - 1) / block_bytes * block_bytes);
  sample_ = 10 * static_cast<std::uint64_t>(std::max<std::size_t>(1, capacity));
  additions_ = 0;
  return true;
}

void frequency_sketch::reset() noexcept {
  std::fill(words_, words_ + 8 * blocks_, std::uint64_t{0});
  additions_ = 0;
}

std::uint32_t frequency_sketch::spread(std::uint32_t h) noexcept {
  return mix32(h);
}

unsigned frequency_sketch::estimate(std::uint32_t hash) const noexcept {
  const std::uint64_t* block = block_of(hash);
  const std::uint32_t g = rows(hash);
  unsigned least = max_count;
  for (unsigned i = 0; i < 4; ++i) {
    const std::uint64_t w = block[2 * i + ((g >> i) & 1)];
    least = std::min(least, static_cast<unsigned>((w >> (((g >> (8 + 6 * i)) & 15) * 4)) & 15));
  }
  return least;
}

void frequency_sketch::halve() noexcept {
  std::uint64_t odd = 0;
  for (std::size_t i = 0; i < 8 * blocks_; ++i) {
    odd += static_cast<std::uint64_t>(std::popcount(words_[i] & 0x1111111111111111u));
    words_[i] = (words_[i] >> 1) & 0x7777777777777777u;
  }
  additions_ = additions_ > odd / 4 ? (additions_ - odd / 4) / 2 : 0;
  ++halvings_;
}

// --- read buffers ------------------------------------------------------------

read_buffer::~read_buffer() {
  delete[] lanes_array_;
}

bool read_buffer::init(unsigned lanes) noexcept {
  if (lanes == 0 || lanes > max_lanes || (lanes & (lanes - 1))) return false;
  if (detail::fail_allocation()) return false;
  lanes_array_ = new (std::nothrow) lane[lanes];
  if (!lanes_array_) return false;
  lanes_ = lanes;
  return true;
}

unsigned read_buffer::own_lane() const noexcept {
  return thread_ordinal() & (lanes_ - 1);
}

offer read_buffer::push_to(unsigned index, std::uint64_t record) noexcept {
  lane& l = lanes_array_[index & (lanes_ - 1)];
  std::uint64_t t = l.tail.load(std::memory_order_relaxed);
  const std::uint64_t h = l.head.load(std::memory_order_acquire);
  if (t - h >= slots) {
    // Full: the record is lost, and the lane stays full until someone
    // drains it, so this reader is asked to try, as the one that filled it
    // was (it may not have got the lock, and there may be no writer).
    l.dropped.fetch_add(1, std::memory_order_relaxed);
    return offer::drain;
  }
  if (!l.tail.compare_exchange_strong(t, t + 1, std::memory_order_relaxed)) {
    l.dropped.fetch_add(1, std::memory_order_relaxed);
    return offer::dropped;
  }
  l.records[t & (slots - 1)].store(record, std::memory_order_release);
  return t + 1 - h >= slots ? offer::drain : offer::recorded;
}

std::uint64_t read_buffer::dropped() const noexcept {
  std::uint64_t n = 0;
  for (unsigned i = 0; i < lanes_; ++i)
    n += lanes_array_[i].dropped.load(std::memory_order_relaxed);
  return n;
}

std::uint64_t read_buffer::offered() const noexcept {
  std::uint64_t n = 0;
  for (unsigned i = 0; i < lanes_; ++i)
    n += lanes_array_[i].tail.load(std::memory_order_relaxed) +
         lanes_array_[i].dropped.load(std::memory_order_relaxed);
  return n;
}

unsigned read_buffer::pending(unsigned index) const noexcept {
  const lane& l = lanes_array_[index & (lanes_ - 1)];
  return static_cast<unsigned>(l.tail.load(std::memory_order_relaxed) -
                               l.head.load(std::memory_order_relaxed));
}

// --- W-TinyLFU ---------------------------------------------------------------

unsigned wtinylfu_policy::lanes_for(std::size_t capacity, unsigned lanes) noexcept {
  while (lanes > 1 && lanes * read_buffer::lane_bytes > capacity) lanes /= 2;
  return lanes;
}

std::size_t wtinylfu_policy::sketch_blocks(std::size_t capacity, unsigned lanes) noexcept {
  const std::size_t whole = (budget_per_entry - fixed_per_entry) * capacity;
  const std::size_t fixed =
      lanes_for(capacity, lanes) * read_buffer::lane_bytes + sizeof(wtinylfu_policy);
  return std::max(frequency_sketch::blocks_for(whole > fixed ? whole - fixed : 0),
                  capacity / floor_entries_per_block);
}

std::size_t wtinylfu_policy::bytes_for(std::size_t capacity, unsigned lanes) noexcept {
  return fixed_per_entry * capacity + lanes_for(capacity, lanes) * read_buffer::lane_bytes +
         sizeof(wtinylfu_policy) +
         (sketch_blocks(capacity, lanes) + 1) * frequency_sketch::block_bytes;
}

std::size_t wtinylfu_policy::min_budget_capacity(unsigned lanes) noexcept {
  // From `c` up, what the budget leaves beyond the floor's blocks pays for
  // the fixed part (all the lanes asked for) and the alignment line, so
  // every capacity fits; lanes_for gives smaller ones fewer lanes, so walk
  // down while the next one still fits.
  const std::size_t spare =
      budget_per_entry - fixed_per_entry - frequency_sketch::block_bytes / floor_entries_per_block;
  std::size_t c = (lanes * read_buffer::lane_bytes + sizeof(wtinylfu_policy) +
                   2 * frequency_sketch::block_bytes + spare - 1) /
                  spare;
  while (c > 1 && bytes_for(c - 1, lanes) <= budget_per_entry * (c - 1)) --c;
  return c;
}

bool wtinylfu_policy::init(std::size_t capacity, unsigned lanes) noexcept {
  if (!nodes_.allocate(capacity) || !sketch_.init(capacity, sketch_blocks(capacity, lanes)) ||
      !buffer_.init(lanes_for(capacity, lanes)))
    return false;
  const std::size_t w = std::max<std::size_t>(1, capacity * window_percent / 100);
  window_.assign(nodes_.data(), 0, w, 1);
  const std::size_t m = capacity - w;
  main_.assign(nodes_.data(), static_cast<handle>(w), m, main_max_ref, m * protected_percent / 100);
  return true;
}

void wtinylfu_policy::publish() noexcept {
  size_.store(window_.size() + main_.size(), std::memory_order_relaxed);
}

void wtinylfu_policy::apply(std::uint64_t record, frequency_sketch::counters c) noexcept {
  sketch_.increment(c);
  const std::uint64_t h = (record >> 32) - 1;
  if (h >= nodes_.size()) return;
  clock_region& r = window_.owns(h) ? window_ : main_;
  const std::uint64_t w = r.word(h);
  if ((w & node::live) && static_cast<std::uint32_t>(w) == static_cast<std::uint32_t>(record))
    r.touch(h);
}

std::size_t wtinylfu_policy::drain_lanes(unsigned first, unsigned count) noexcept {
  // A record costs two lines nobody has touched lately (its sketch block and
  // its node, spread over arrays larger than the caches once the bound is
  // large). Applied one by one, the misses follow one another; a lane's
  // records are taken as a batch, every line asked for first, then applied,
  // so the misses overlap and the lock is held for about one of them. Each
  // record's counters are located once, for the prefetch and the increment.
  std::uint64_t batch[read_buffer::slots];
  frequency_sketch::counters where[read_buffer::slots];
  unsigned k = 0;
  auto flush = [&] {
    for (unsigned i = 0; i < k; ++i) {
      where[i] = sketch_.locate(static_cast<std::uint32_t>(batch[i]));
      threadmap::prefetch(where[i].block);
      const std::uint64_t h = (batch[i] >> 32) - 1;
      if (h < nodes_.size()) threadmap::prefetch(nodes_.data() + h);
    }
    for (unsigned i = 0; i < k; ++i) apply(batch[i], where[i]);
    k = 0;
  };
  const std::size_t n = buffer_.drain_lanes(first, count, [&](std::uint64_t r) {
    batch[k++] = r;
    if (k == read_buffer::slots) flush();
  });
  flush();
  if (n) drained_.fetch_add(n, std::memory_order_relaxed);
  return n;
}

std::size_t wtinylfu_policy::drain() noexcept {
  return drain_lanes(0, buffer_.lanes());
}

std::size_t wtinylfu_policy::drain_own() noexcept {
  return drain_lanes(buffer_.own_lane(), 1);
}

eviction wtinylfu_policy::take_victim(clock_region& region, handle h) noexcept {
  evicted_.fetch_add(1, std::memory_order_relaxed);
  return eviction{region.word(h) & hash_bits, h};
}

insert_plan wtinylfu_policy::on_insert(std::uint64_t hash) noexcept {
  sketch_.increment(static_cast<std::uint32_t>(hash));
  insert_plan plan;
  plan.h = window_.take(hash);
  if (plan.h != no_handle) {
    publish();
    return plan;
  }
  // The window is full: its victim is the candidate for the main region.
  const handle c = window_.sweep();
  const std::uint64_t ch = window_.word(c) & hash_bits;
  if (const handle m = main_.take(ch); m != no_handle) {
    plan.moved = relocation{ch, c, m};  // room in main: no contest
    admitted_.fetch_add(1, std::memory_order_relaxed);
  } else {
    const handle v = main_.sweep();
    if (v != no_handle && sketch_.estimate(static_cast<std::uint32_t>(ch)) >
                              sketch_.estimate(static_cast<std::uint32_t>(main_.word(v)))) {
      plan.victim = take_victim(main_, v);
      main_.rebind(v, ch);
      plan.moved = relocation{ch, c, v};
      admitted_.fetch_add(1, std::memory_order_relaxed);
    } else {
      plan.victim = take_victim(window_, c);
      rejected_.fetch_add(1, std::memory_order_relaxed);
    }
  }
  window_.rebind(c, hash);
  plan.h = c;
  publish();
  return plan;
}

void wtinylfu_policy::on_update(handle h, std::uint64_t hash) noexcept {
  sketch_.increment(static_cast<std::uint32_t>(hash));
  if (h >= nodes_.size()) return;
  clock_region& r = window_.owns(h) ? window_ : main_;
  if (node::holds(r.word(h), hash)) r.touch(h);
}

void wtinylfu_policy::on_erase(handle h) noexcept {
  if (h >= nodes_.size()) return;
  clock_region& r = window_.owns(h) ? window_ : main_;
  if (!(r.word(h) & node::live)) return;
  r.release(h);
  publish();
}

bool wtinylfu_policy::evict(eviction& out) noexcept {
  clock_region& r = main_.size() ? main_ : window_;
  const handle v = r.sweep();
  if (v == no_handle) return false;
  out = take_victim(r, v);
  r.release(v);
  publish();
  return true;
}

void wtinylfu_policy::clear() noexcept {
  // Records still buffered name handles that are about to mean nothing.
  buffer_.drain([](std::uint64_t) {});
  window_.reset();
  main_.reset();
  sketch_.reset();
  publish();
}

memory_use wtinylfu_policy::memory() const noexcept {
  memory_use m;
  m.capacity = nodes_.size();
  m.nodes = nodes_.bytes();
  m.sketch = sketch_.bytes();
  m.buffers = buffer_.bytes();
  m.object = sizeof(*this);
  return m;
}

policy_stats wtinylfu_policy::stats() const noexcept {
  policy_stats s;
  s.evicted = evicted_.load(std::memory_order_relaxed);
  s.admitted = admitted_.load(std::memory_order_relaxed);
  s.rejected = rejected_.load(std::memory_order_relaxed);
  s.drained = drained_.load(std::memory_order_relaxed);
  s.dropped = buffer_.dropped();
  s.reads = buffer_.offered();
  return s;
}

// --- the factory -------------------------------------------------------------

std::unique_ptr<policy> make_policy(kind k, std::size_t capacity, unsigned lanes) noexcept {
  if (capacity == 0 || capacity >= max_capacity) return nullptr;
  if (lanes == 0 || lanes > read_buffer::max_lanes || (lanes & (lanes - 1))) return nullptr;
  if (detail::fail_allocation()) return nullptr;
  switch (k) {
    case kind::clock: {
      std::unique_ptr<clock_policy> p(new (std::nothrow) clock_policy);
      if (!p || !p->init(capacity)) return nullptr;
      return p;
    }
    case kind::wtinylfu: {
      std::unique_ptr<wtinylfu_policy> p(new (std::nothrow) wtinylfu_policy);
      if (!p || !p->init(capacity, lanes)) return nullptr;
      return p;
    }
  }
  return nullptr;
}

}  // namespace threadmap::detail::eviction
