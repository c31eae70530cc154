// The eviction policies (threadmap/detail/eviction/): the frequency sketch's
// counts and aging, W-TinyLFU's admission decisions on constructed cases,
// CLOCK's victim order, memory per entry, the read buffers' draining and
// overflow (also from several threads at once), allocation failure, and the
// replay protocol the hit-ratio bench relies on (test/support/cachesim.hpp).
#include <algorithm>
#include <cmath>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "../support/cachesim.hpp"
#include "check.hpp"
#include "threadmap/detail/alloc.hpp"
#include "threadmap/detail/eviction/clock.hpp"
#include "threadmap/detail/eviction/policy.hpp"
#include "threadmap/detail/eviction/read_buffer.hpp"
#include "threadmap/detail/eviction/sketch.hpp"
#include "threadmap/detail/eviction/wtinylfu.hpp"

namespace ev = threadmap::detail::eviction;
using threadmap::cachesim::key_hash;

namespace {

std::unique_ptr<ev::wtinylfu_policy> make_wtinylfu(std::size_t capacity, unsigned lanes = 1) {
  std::unique_ptr<ev::policy> p = ev::make_policy(ev::kind::wtinylfu, capacity, lanes);
  if (!p || p->which() != ev::kind::wtinylfu) return nullptr;
  return std::unique_ptr<ev::wtinylfu_policy>(static_cast<ev::wtinylfu_policy*>(p.release()));
}

std::uint32_t lo(std::uint64_t h) {
  return static_cast<std::uint32_t>(h);
}

}  // namespace

TEST_CASE("sketch: counts one key exactly, saturates at 15, never underestimates") {
  ev::frequency_sketch s;
  CHECK(s.init(1 << 16));
  const std::uint32_t a = lo(key_hash(1));
  CHECK_EQ(s.estimate(a), 0u);
  for (unsigned i = 1; i <= 20; ++i) {
    s.increment(a);
    const unsigned expected = i < 15 ? i : 15;
    CHECK_EQ(s.estimate(a), expected);
  }
  // A small sketch, many keys: collisions only ever add.
  ev::frequency_sketch small;
  CHECK(small.init(64));  // 4 blocks, sample 640
  std::vector<unsigned> truth(200);
  unsigned added = 0;
  for (std::uint32_t k = 0; k < 200 && added + 3 < small.sample(); ++k) {
    truth[k] = 1 + k % 3;
    for (unsigned i = 0; i < truth[k]; ++i) small.increment(lo(key_hash(k)));
    added += truth[k];
  }
  CHECK_EQ(small.halvings(), 0u);
  for (std::uint32_t k = 0; k < 200; ++k)
    if (truth[k]) CHECK(small.estimate(lo(key_hash(k))) >= truth[k]);
}

TEST_CASE("sketch: halves every counter after ten increments per entry of capacity") {
  ev::frequency_sketch s;
  CHECK(s.init(16));  // one block, sample 160
  CHECK_EQ(s.blocks(), 1u);
  CHECK_EQ(s.sample(), 160u);
  const std::uint32_t hot = lo(key_hash(7));
  for (int i = 0; i < 14; ++i) s.increment(hot);
  CHECK_EQ(s.estimate(hot), 14u);
  // Distinct other keys until one increment short of the sample.
  std::uint32_t k = 1000;
  while (s.additions() < s.sample() - 1) s.increment(lo(key_hash(k++)));
  const unsigned before = s.estimate(hot);
  CHECK(before >= 14u);
  CHECK_EQ(s.halvings(), 0u);
  s.increment(lo(key_hash(k++)));  // the sample-th increment: aging
  CHECK_EQ(s.halvings(), 1u);
  const unsigned after = s.estimate(hot);
  // The last key may share a counter with `hot` (one more before halving).
  CHECK(after >= before / 2 && after <= (before + 1) / 2);
  // The running count is halved too, less the truncation it corrected for.
  CHECK(s.additions() <= s.sample() / 2);
  s.reset();
  CHECK_EQ(s.estimate(hot), 0u);
}

TEST_CASE("read buffer: drains in order, full lane answers drain then drops") {
  ev::read_buffer b;
  CHECK(!b.init(3));  // not a power of two
  CHECK(b.init(2));
  CHECK_EQ(b.bytes(), 2 * 3 * threadmap::cache_line);
  for (std::uint64_t r = 1; r <= 10; ++r) CHECK(b.push_to(0, r) == ev::offer::recorded);
  CHECK_EQ(b.pending(0), 10u);
  std::vector<std::uint64_t> got;
  CHECK_EQ(b.drain([&](std::uint64_t r) { got.push_back(r); }), 10u);
  CHECK_EQ(got.size(), 10u);
  for (std::size_t i = 0; i < got.size(); ++i) CHECK_EQ(got[i], i + 1);
  CHECK_EQ(b.pending(0), 0u);
  // Fill lane 1: the 16th push reports a full lane; later ones are dropped
  // and ask for a drain too (the one that filled it may not have had the lock).
  for (std::uint64_t r = 1; r < ev::read_buffer::slots; ++r)
    CHECK(b.push_to(1, 100 + r) == ev::offer::recorded);
  CHECK(b.push_to(1, 200) == ev::offer::drain);
  CHECK_EQ(b.dropped(), 0u);
  CHECK(b.push_to(1, 201) == ev::offer::drain);
  CHECK(b.push_to(1, 202) == ev::offer::drain);
  CHECK_EQ(b.dropped(), 2u);
  CHECK_EQ(b.pending(1), ev::read_buffer::slots);
  // Every push so far is offered once, kept or dropped: 10 + 16 + 2.
  CHECK_EQ(b.offered(), 28u);
  CHECK(b.push_to(0, 5) == ev::offer::recorded);  // the other lane is unaffected
  got.clear();
  CHECK_EQ(b.drain([&](std::uint64_t r) { got.push_back(r); }), 17u);
  CHECK(std::find(got.begin(), got.end(), 200u) != got.end());
  CHECK(std::find(got.begin(), got.end(), 201u) == got.end());
  // Wrapped around: the lane takes records again.
  for (std::uint64_t r = 1; r <= 20; ++r) b.push_to(1, 300 + r);
  got.clear();
  b.drain([&](std::uint64_t r) { got.push_back(r); });
  CHECK_EQ(got.size(), ev::read_buffer::slots);
  CHECK_EQ(got.front(), 301u);
}

TEST_CASE("read buffer: concurrent producers and a draining lock holder lose or repeat nothing") {
  ev::read_buffer b;
  CHECK(b.init(2));  // fewer lanes than threads: lanes are shared
  constexpr int threads = 4;
  const long per = tmtest::scaled(20000);
  std::atomic<int> done{0};
  std::mutex lock;
  std::vector<std::uint64_t> drained;
  std::thread drainer([&] {
    while (done.load() < threads) {
      std::lock_guard<std::mutex> g(lock);
      b.drain([&](std::uint64_t r) { drained.push_back(r); });
    }
  });
  tmtest::run_threads(threads, [&](int t) {
    for (long i = 0; i < per; ++i) {
      const std::uint64_t r =
          (static_cast<std::uint64_t>(t + 1) << 32) | static_cast<std::uint64_t>(i);
      const ev::offer o = b.push_to(static_cast<unsigned>(i + t), r);
      if (o == ev::offer::drain && lock.try_lock()) {
        b.drain([&](std::uint64_t x) { drained.push_back(x); });
        lock.unlock();
      }
    }
    done.fetch_add(1);
  });
  drainer.join();
  b.drain([&](std::uint64_t r) { drained.push_back(r); });
  // Every push is either drained once or counted as dropped, and offered()
  // counts each exactly once (a map's hit count is made from it).
  CHECK_EQ(static_cast<long>(drained.size() + b.dropped()), threads * per);
  CHECK_EQ(static_cast<long>(b.offered()), threads * per);
  const std::set<std::uint64_t> unique(drained.begin(), drained.end());
  CHECK_EQ(unique.size(), drained.size());
  for (std::uint64_t r : drained)
    CHECK((r >> 32) >= 1 && (r >> 32) <= threads &&
          (r & 0xFFFFFFFFu) < static_cast<std::uint64_t>(per));
  CHECK(!drained.empty());
}

TEST_CASE("CLOCK: victims in hand order, a read spares an entry once") {
  auto p = ev::make_policy(ev::kind::clock, 4);
  CHECK(p);
  std::uint64_t h[8];
  for (int i = 0; i < 8; ++i) h[i] = key_hash(static_cast<std::uint32_t>(i));
  ev::handle at[8];
  for (int i = 0; i < 4; ++i) {
    const ev::insert_plan plan = p->on_insert(h[i]);
    CHECK(!plan.victim && !plan.moved);
    at[i] = plan.h;
  }
  CHECK_EQ(p->size(), 4u);
  CHECK(p->record_read(at[1], h[1]) == ev::offer::recorded);  // B
  CHECK(p->record_read(at[3], h[3]) == ev::offer::recorded);  // D
  p->record_read(at[0], h[5]);  // a stale handle (another hash) marks nothing
  // E: A is first and unread.
  ev::insert_plan e = p->on_insert(h[4]);
  CHECK(e.victim && e.victim->hash == (h[0] & ev::hash_bits) && e.victim->h == at[0]);
  CHECK_EQ(e.h, at[0]);
  // F: B was read (spared, its bit cleared), C goes.
  ev::insert_plan f = p->on_insert(h[5]);
  CHECK(f.victim && f.victim->hash == (h[2] & ev::hash_bits));
  // G: D was read (spared), then E (in A's node, unread) goes.
  ev::insert_plan g = p->on_insert(h[6]);
  CHECK(g.victim && g.victim->hash == (h[4] & ev::hash_bits) && g.victim->h == e.h);
  // Next: B, whose bit the hand cleared on its first pass.
  ev::eviction out;
  CHECK(p->evict(out));
  CHECK_EQ(out.hash, h[1] & ev::hash_bits);
  CHECK_EQ(p->size(), 3u);
  // An erased node is reused with no eviction.
  p->on_erase(f.h);
  CHECK_EQ(p->size(), 2u);
  ev::insert_plan r = p->on_insert(h[7]);
  CHECK(!r.victim);
  p->clear();
  CHECK_EQ(p->size(), 0u);
  CHECK(!p->evict(out));
  CHECK_EQ(p->stats().evicted, 4u);
}

TEST_CASE("W-TinyLFU: a frequent candidate is admitted over the probation victim") {
  auto p = make_wtinylfu(100);  // window 1 node, main 99 (79 protected at most)
  CHECK(p);
  CHECK_EQ(p->window().capacity(), 1u);
  CHECK_EQ(p->main().capacity(), 99u);
  std::vector<ev::handle> at(100);
  for (std::uint32_t k = 0; k < 100; ++k) {
    const ev::insert_plan plan = p->on_insert(key_hash(k));
    CHECK(!plan.victim);  // free nodes: no contest
    at[k] = plan.h;
    if (k > 0) {
      // The previous key left the window for a free main node.
      CHECK(plan.moved && plan.moved->hash == (key_hash(k - 1) & ev::hash_bits));
      at[k - 1] = plan.moved->to;
    }
  }
  CHECK_EQ(p->size(), 100u);
  // Key 100 enters the window (key 99, seen once, is the candidate; the
  // probation victim, key 0, was seen once too: the tie keeps key 0).
  const std::uint64_t x = key_hash(100);
  CHECK_EQ(p->sketch().estimate(lo(key_hash(0))), 1u);
  CHECK_EQ(p->sketch().estimate(lo(key_hash(99))), 1u);
  ev::insert_plan ix = p->on_insert(x);
  CHECK(ix.victim && ix.victim->hash == (key_hash(99) & ev::hash_bits) && !ix.moved);
  CHECK_EQ(ix.h, at[99]);
  CHECK_EQ(p->stats().rejected, 1u);
  // Key 100 is read five times while in the window: buffered, then drained.
  for (int i = 0; i < 5; ++i) CHECK(p->record_read(ix.h, x) == ev::offer::recorded);
  CHECK_EQ(p->drain(), 5u);
  CHECK_EQ(p->sketch().estimate(lo(x)), 6u);
  // Key 101 arrives: candidate key 100 (6) beats the probation victim, key 1
  // (seen once), the main hand's next node (it stopped past key 0 above).
  CHECK_EQ(p->sketch().estimate(lo(key_hash(1))), 1u);
  ev::insert_plan iy = p->on_insert(key_hash(101));
  CHECK(iy.victim && iy.moved);
  CHECK_EQ(iy.victim->hash, key_hash(1) & ev::hash_bits);
  CHECK_EQ(iy.victim->h, at[1]);
  CHECK_EQ(iy.moved->hash, x & ev::hash_bits);
  CHECK_EQ(iy.moved->from, ix.h);
  CHECK_EQ(iy.moved->to, at[1]);        // the admitted key takes the victim's node
  CHECK_EQ(iy.h, ix.h);                 // the new key takes the candidate's window node
  CHECK_EQ(p->stats().admitted, 100u);  // 99 moves into free nodes, then key 100
  CHECK_EQ(p->size(), 100u);
}

TEST_CASE("W-TinyLFU: protected entries are out of a scan's reach") {
  auto p = make_wtinylfu(100);
  CHECK(p);
  std::vector<ev::handle> at(100);
  for (std::uint32_t k = 0; k < 100; ++k) {
    const ev::insert_plan plan = p->on_insert(key_hash(k));
    at[k] = plan.h;
    if (plan.moved) at[k - 1] = plan.moved->to;
  }
  // Keys 0..49 are read twice each (promoted to protected, frequency 3).
  for (int round = 0; round < 2; ++round) {
    for (std::uint32_t k = 0; k < 50; ++k) {
      if (p->record_read(at[k], key_hash(k)) == ev::offer::drain) p->drain();
    }
    p->drain();
  }
  CHECK_EQ(p->main().protected_size(), 50u);
  // A scan of 1,000 new keys: whatever it evicts, no read key goes.
  std::set<std::uint64_t> read;
  for (std::uint32_t k = 0; k < 50; ++k) read.insert(key_hash(k) & ev::hash_bits);
  for (std::uint32_t k = 1000; k < 2000; ++k) {
    const ev::insert_plan plan = p->on_insert(key_hash(k));
    if (plan.victim) CHECK(!read.count(plan.victim->hash));
  }
  CHECK_EQ(p->size(), 100u);
  // Erase frees; evict() takes from main first; clear() forgets everything.
  ev::eviction out;
  CHECK(p->evict(out));
  CHECK_EQ(p->size(), 99u);
  CHECK(!read.count(out.hash));
  p->clear();
  CHECK_EQ(p->size(), 0u);
  CHECK(!p->evict(out));
}

TEST_CASE("W-TinyLFU: a reader drains its own lane, a writer every lane") {
  auto p = make_wtinylfu(1000, 4);
  CHECK(p);
  const std::uint64_t a = key_hash(1), b = key_hash(2);
  const ev::handle ha = p->on_insert(a).h, hb = p->on_insert(b).h;
  ev::read_buffer& buf = p->buffer();
  const unsigned own = buf.own_lane(), other = (own + 1) % buf.lanes();
  for (int i = 0; i < 3; ++i)
    CHECK(buf.push_to(own, ev::wtinylfu_policy::encode(ha, a)) == ev::offer::recorded);
  for (int i = 0; i < 5; ++i)
    CHECK(buf.push_to(other, ev::wtinylfu_policy::encode(hb, b)) == ev::offer::recorded);
  // The reader's drain: its lane's three records, the other lane untouched.
  CHECK_EQ(p->drain_own(), 3u);
  CHECK_EQ(buf.pending(own), 0u);
  CHECK_EQ(buf.pending(other), 5u);
  CHECK_EQ(p->sketch().estimate(lo(a)), 4u);  // the insert and three reads
  CHECK_EQ(p->sketch().estimate(lo(b)), 1u);  // the insert only, so far
  // The writer's drain takes the rest: nothing recorded is lost.
  CHECK_EQ(p->drain(), 5u);
  CHECK_EQ(buf.pending(other), 0u);
  CHECK_EQ(p->sketch().estimate(lo(b)), 6u);
  CHECK_EQ(p->stats().drained, 8u);
}

TEST_CASE("W-TinyLFU: reads beyond the buffer are dropped, counted, and cost nothing") {
  auto p = make_wtinylfu(1000, 1);
  CHECK(p);
  const std::uint64_t h = key_hash(1);
  const ev::insert_plan plan = p->on_insert(h);
  int drains = 0, drops = 0;
  for (int i = 0; i < 20; ++i) {
    const ev::offer o = p->record_read(plan.h, h);
    drains += o == ev::offer::drain;
    drops += o == ev::offer::dropped;
  }
  CHECK_EQ(drains, 5);  // the read that filled the lane, then every one it turned away
  CHECK_EQ(drops, 0);   // no other reader raced for a slot
  CHECK_EQ(p->stats().dropped, 4u);
  CHECK_EQ(p->sketch().estimate(lo(h)), 1u);  // nothing applied before the drain
  CHECK_EQ(p->drain(), 16u);
  CHECK_EQ(p->sketch().estimate(lo(h)), 15u);  // 1 + 16, saturated
  CHECK_EQ(p->stats().drained, 16u);
  // A miss records nothing; a record of a node that moved is only counted.
  CHECK(p->record_read(ev::no_handle, key_hash(2)) == ev::offer::recorded);
  CHECK_EQ(p->buffer().pending(0), 0u);
}

TEST_CASE("both policies: readers record while the lock holder inserts, erases and drains") {
  // The protocol of policy.hpp under threads (what the TSan run checks):
  // readers call record_read with handles that may be stale and drain only
  // through try_lock; the writer holds the lock for every other call.
  for (ev::kind k : ev::all_kinds) {
    auto p = ev::make_policy(k, 512, 2);
    CHECK(p);
    std::mutex lock;
    std::vector<std::uint64_t> hash_at(512, 0);  // written under `lock`
    std::atomic<bool> stop{false};
    std::atomic<int> readers{0};
    std::atomic<long> drains{0};
    const long writes = tmtest::scaled(60000);
    std::thread writer([&] {
      while (readers.load() < 2) std::this_thread::yield();
      for (long i = 0; i < writes; ++i) {
        std::lock_guard<std::mutex> g(lock);
        p->drain();
        const std::uint64_t h = key_hash(static_cast<std::uint32_t>(i % 3000));
        if (i % 7 == 0 && p->size() > 0) {
          ev::eviction out;
          CHECK(p->evict(out));
        } else {
          const ev::insert_plan plan = p->on_insert(h);
          if (plan.moved) hash_at[plan.moved->to] = plan.moved->hash;
          hash_at[plan.h] = h;
        }
        if (i % 11 == 0) p->on_erase(static_cast<ev::handle>(i % 512));
        CHECK(p->size() <= p->capacity());
      }
      stop.store(true);
    });
    tmtest::run_threads(2, [&](int t) {
      std::uint32_t x = 17u + static_cast<std::uint32_t>(t);
      readers.fetch_add(1);
      while (!stop.load(std::memory_order_relaxed)) {
        x = x * 1664525u + 1013904223u;
        const auto h = static_cast<ev::handle>(x % 512);
        // A reader's (handle, hash) may be stale: the policy must cope.
        if (p->record_read(h, key_hash(x % 3000)) == ev::offer::drain && lock.try_lock()) {
          p->drain();
          drains.fetch_add(1);
          lock.unlock();
        }
      }
    });
    writer.join();
    std::lock_guard<std::mutex> g(lock);
    p->drain();
    CHECK(p->size() <= p->capacity());
    if (k == ev::kind::wtinylfu) CHECK(p->stats().drained > 0);
  }
}

TEST_CASE(
    "memory: W-TinyLFU at most 16 bytes an entry in all from min_budget_capacity, CLOCK 12 + its "
    "object, counted exactly") {
  using W = ev::wtinylfu_policy;
  for (unsigned lanes : {1u, 4u, 64u}) {
    const std::size_t from = W::min_budget_capacity(lanes);
    CHECK(from > 1);
    for (std::size_t cap : {std::size_t{1}, std::size_t{16}, std::size_t{100}, from - 1, from,
                            from + 1, std::size_t{312}, std::size_t{1000}, std::size_t{3125},
                            std::size_t{10000}, std::size_t{65536}, std::size_t{1000003}}) {
      auto w = ev::make_policy(ev::kind::wtinylfu, cap, lanes);
      REQUIRE(w);
      const ev::memory_use m = w->memory();
      CHECK_EQ(m.capacity, cap);
      CHECK_EQ(m.nodes, 8 * cap);
      CHECK_EQ(m.object, sizeof(W));
      const unsigned got_lanes = W::lanes_for(cap, lanes);
      CHECK_EQ(m.buffers, got_lanes * ev::read_buffer::lane_bytes);
      CHECK_EQ(static_cast<W*>(w.get())->buffer().lanes(), got_lanes);
      // A byte an entry at most for the lanes, never fewer than one.
      CHECK(got_lanes >= 1);
      CHECK(got_lanes <= lanes);
      if (got_lanes > 1) CHECK(got_lanes * ev::read_buffer::lane_bytes <= cap);
      if (got_lanes < lanes) CHECK(2 * got_lanes * ev::read_buffer::lane_bytes > cap);
      // The sketch: its blocks and the line that aligns them, never fewer
      // than the floor, never more than 4 bytes an entry.
      const std::size_t blocks = static_cast<W*>(w.get())->sketch().blocks();
      CHECK_EQ(blocks, W::sketch_blocks(cap, lanes));
      CHECK_EQ(m.sketch, 64 * (blocks + 1));
      CHECK(blocks >= std::max<std::size_t>(1, cap / W::floor_entries_per_block));
      CHECK(blocks <= std::max<std::size_t>(1, cap / 16));
      CHECK_EQ(m.table_per_entry, sizeof(ev::handle));
      const std::size_t total = m.nodes + m.sketch + m.buffers + m.object + 4 * cap;
      CHECK_EQ(total, W::bytes_for(cap, lanes));
      CHECK(std::abs(m.per_entry() - static_cast<double>(total) / static_cast<double>(cap)) < 1e-9);
      if (cap >= from) {
        CHECK(total <= 16 * cap);
        // The budget goes to the sketch: less than a block and its share of
        // rounding is left over.
        if (blocks > cap / W::floor_entries_per_block) CHECK(16 * cap - total < 2 * 64);
      } else {
        CHECK(total > 16 * cap);
      }
    }
  }
  for (std::size_t cap :
       {std::size_t{16}, std::size_t{100}, std::size_t{1000}, std::size_t{65536}}) {
    auto c = ev::make_policy(ev::kind::clock, cap);
    REQUIRE(c);
    CHECK_EQ(c->memory().buffers, 0u);
    CHECK_EQ(c->memory().sketch, 0u);
    CHECK(std::abs(c->memory().per_entry() - 12.0 -
                   static_cast<double>(c->memory().object) / static_cast<double>(cap)) < 1e-9);
  }
}

TEST_CASE("make_policy: bad arguments and refused memory give null, never a half policy") {
  CHECK(!ev::make_policy(ev::kind::wtinylfu, 0));
  CHECK(!ev::make_policy(ev::kind::clock, ev::max_capacity));
  CHECK(!ev::make_policy(ev::kind::wtinylfu, 10, 3));
  CHECK(!ev::make_policy(ev::kind::wtinylfu, 10, 128));
  CHECK(ev::parse_kind("wtinylfu") == ev::kind::wtinylfu);
  CHECK(ev::parse_kind("clock") == ev::kind::clock);
  CHECK(!ev::parse_kind("lru"));
  for (ev::kind k : ev::all_kinds) {
    bool made = false;
    for (std::uint64_t fail_at = 0; fail_at < 16 && !made; ++fail_at) {
      threadmap::fault_injection::arm(fail_at);
      auto p = ev::make_policy(k, 1000);
      const auto report = threadmap::fault_injection::disarm();
      if (report.failed) {
        CHECK(!p);
      } else {
        CHECK(p);
        CHECK_EQ(p->size(), 0u);
        made = true;
      }
    }
    CHECK(made);
  }
}

TEST_CASE("replay: the protocol holds, and W-TinyLFU keeps a loop CLOCK cannot") {
  // A loop over 110 keys with room for 100: CLOCK, like LRU, always evicts
  // the key needed next; W-TinyLFU keeps most of the loop resident.
  std::vector<std::uint32_t> loop(20000);
  for (std::size_t i = 0; i < loop.size(); ++i) loop[i] = static_cast<std::uint32_t>(i % 110);
  const auto c = threadmap::cachesim::replay(ev::kind::clock, 100, loop.data(), loop.size());
  CHECK(c.error.empty());
  CHECK_EQ(c.hits, 0u);
  const auto w = threadmap::cachesim::replay(ev::kind::wtinylfu, 100, loop.data(), loop.size());
  CHECK(w.error.empty());
  CHECK(w.hits > loop.size() / 2);
  CHECK_EQ(w.hits + w.misses, loop.size());
  // Random keys through 1 and 7 instances: every victim and move is found
  // where the policy says, and no part outgrows its share.
  std::vector<std::uint32_t> mixed(50000);
  std::uint64_t s = 1;
  for (auto& k : mixed) {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    k = static_cast<std::uint32_t>((s >> 33) % ((s >> 20) % 4 ? 300 : 5000));
  }
  for (ev::kind k : ev::all_kinds) {
    for (unsigned stripes : {1u, 7u}) {
      const auto r = threadmap::cachesim::replay(k, 200, mixed.data(), mixed.size(), stripes, 2);
      CHECK(r.error.empty());
      CHECK_EQ(r.hits + r.misses, mixed.size());
      CHECK(r.evictions > 0);
      CHECK_EQ(r.memory.capacity, 200u);
    }
  }
}

int main(int argc, char** argv) {
  return tmtest::run_all(argc, argv);
}
