// The lock-free strategy; its invariants and protocols are described in
// threadmap/detail/lockfree.hpp. This file adds the ownership rules of nodes and
// tables, which only matter to the code here:
//
// - Value nodes have one owner: the slot holding them unfrozen, or, while a
//   copy is in flight, the newest slot holding them. Writers retire what their
//   CAS unlinked; promotion never frees values; clearing frees each value once
//   (a frozen value also found downstream belongs downstream).
// - Key nodes count references: one per slot that claimed them (plus one an
//   insert holds between allocating a node and placing it, or a copy between
//   taking a reference and placing it). A slot whose value is copied on
//   (MOVED_LIVE) hands its reference over at once: the copy's slot downstream
//   holds one, so the count cannot reach zero there, and the key node is warm
//   in cache then. A slot that drops its key (MOVED_TOMB, MOVED_NULL) keeps
//   its reference until its table is deleted by the epoch domain, because
//   until then a reader may still reach the node through that table. So
//   deleting a promoted table touches only the key nodes it drops (the
//   chunks holding drops are marked), never the live ones.
// - A key node's bytes are charged once (by the insert that allocated it: an
//   insert never places a node twice) and released once, where its key is
//   dropped: MOVED_TOMB, or MOVED_NULL in a slot an insert claimed. A slot a
//   copy claimed that ends MOVED_NULL was only a stop on the copy's way to a
//   later table; the key lives on there.
// - A table holds a reference on its generation, so a deleter that runs after
//   clear() or after the map is gone can still return bytes to the
//   generation's accounting.
// - A table's array comes from numa::allocate and records its placement in
//   its own header (table::where), so every path that frees it (the epoch
//   deleter of a promoted table, destroy_chain, the loser of the `next` CAS)
//   goes through free_table_array, which returns it with the matching
//   numa::deallocate. The header is written before the table is published and
//   never again, so placement() reads it without synchronisation beyond the
//   acquire load that found the table.
#include "threadmap/detail/lockfree.hpp"

#include <algorithm>
#include <bit>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <stdexcept>
#include <thread>

#if defined(__GLIBC__)
#include <malloc.h>  // malloc_trim
#endif

#include "threadmap/detail/alloc.hpp"
#include "threadmap/detail/counter.hpp"
#include "threadmap/detail/counter_value.hpp"
#include "threadmap/detail/flat_table.hpp"  // detail::memory_budget
#include "threadmap/detail/hash.hpp"
#include "threadmap/detail/numa.hpp"
#include "threadmap/detail/prefetch.hpp"
#include "threadmap/epoch.hpp"

#if defined(__SANITIZE_ADDRESS__)
#define THREADMAP_LOCKFREE_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define THREADMAP_LOCKFREE_ASAN 1
#endif
#endif

namespace threadmap {

namespace lockfree_test {
namespace {
detail::test_seam seam;
}  // namespace
void set_pause_hook(pause_hook h) noexcept {
  seam.install(h);
}
}  // namespace lockfree_test

// Internal, but not in an anonymous namespace: the header names
// lockfree_detail::generation. Nothing here is visible outside the library.
namespace lockfree_detail {

inline void pause_at(int site) {
  lockfree_test::seam.at(site);
}

// ---------------------------------------------------------------------------
// Words

using word = std::uint64_t;

constexpr word frozen_bit = 1;
constexpr word v_null = 0;
// Erased: v_tomb | r << 4, r the erase's revision, so no two tombstones of a
// slot are equal and a CAS from a word loaded earlier fails if anything was
// written since (threadmap/detail/revision.hpp). Bit 1 marks it: node
// pointers are at least 8-aligned and the constants below 16 are fixed.
constexpr word v_tomb = 2;
// Final states of a migrated slot. Bit 0 is set in each, so a fetch_or that
// freezes an already-moved word changes nothing.
constexpr word v_moved_null = 5;  // no value was ever set here: the key is dropped
constexpr word v_moved_tomb = 7;  // erased here: the key is dropped
constexpr word v_moved_live = 9;  // the value was copied to the next table
constexpr word k_empty = 0;
constexpr word k_dead = 1;
// Set in a key word claimed by a migration copy (not by an insert): if that
// slot ends MOVED_NULL, the copy landed further on and the key lives on.
constexpr word k_copy_bit = 2;
constexpr unsigned tag_shift = 48;
constexpr word ptr_mask = (word{1} << tag_shift) - 1;
#ifdef THREADMAP_LOCKFREE_ASAN
// LeakSanitizer does not recognise a pointer with bits above 47 set, so at
// exit it would report every key node referenced only from a table still
// waiting in the epoch domain. AddressSanitizer builds store plain pointers
// (tag 0) and keep leak detection exact; everything else is unchanged.
constexpr bool tag_keys = false;
#else
constexpr bool tag_keys = true;
#endif

// The hash bits that tag a key word: the low ones, because neighbouring slots
// hold keys whose hashes share their top bits.
inline word tag_of(std::uint64_t h) noexcept {
  return tag_keys ? (h & 0xFFFF) << tag_shift : 0;
}
// Node pointers come from malloc (aligned to at least 8, so bits 0 and 1 are
// free for FROZEN and the copy bit) and are far above 16, so every word below
// 16 is one of the constants above.
constexpr word min_node = 16;

inline word tomb_word(std::uint64_t revision) noexcept {
  return v_tomb | revision << 4;
}
// v without its frozen bit: a value node, a tombstone, or a constant.
inline bool is_node(word v) noexcept {
  return v >= min_node && !(v & v_tomb);
}
inline bool is_tomb(word v) noexcept {
  return (v & 0xF) == v_tomb;
}

inline bool is_moved(word v) noexcept {
  return v == v_moved_null || v == v_moved_tomb || v == v_moved_live;
}

// All concurrently accessed slot words go through these.
inline word load(const word* p) noexcept {
  return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}
inline bool cas(word* p, word& expected, word desired) noexcept {
  return __atomic_compare_exchange_n(p, &expected, desired, false, __ATOMIC_ACQ_REL,
                                     __ATOMIC_ACQUIRE);
}
inline word freeze(word* p) noexcept {
  return __atomic_fetch_or(p, frozen_bit, __ATOMIC_ACQ_REL) | frozen_bit;
}

// ---------------------------------------------------------------------------
// Nodes

struct key_node {
  std::uint64_t hash;
  std::uint32_t len;
  std::atomic<std::uint32_t> refs;
  const char* data() const noexcept { return reinterpret_cast<const char*>(this + 1); }
  bytes key() const noexcept { return {data(), len}; }
};
static_assert(sizeof(key_node) == 16);

// A 4-byte length (values are at most max_value_bytes) and the 8-byte
// revision of the write that made it, set before the node is published,
// kept as two 4-byte halves so the header is 12 bytes: the smallest node,
// 32 bytes, then holds every value of 20 bytes or less, so the primitives of every value
// type (an 'any' number is a tag byte and 8 bytes) replace one another in
// place of memory, also at max_memory. Bytes are read and written with
// memcpy, so their alignment does not matter.
struct value_node {
  std::uint32_t len;
  std::uint32_t rev_half[2];
  char* data() noexcept { return reinterpret_cast<char*>(this + 1); }
  bytes value() const noexcept { return {reinterpret_cast<const char*>(this + 1), len}; }
  std::uint64_t revision() const noexcept {
    std::uint64_t r;
    std::memcpy(&r, rev_half, sizeof r);
    return r;
  }
  void set_revision(std::uint64_t r) noexcept { std::memcpy(rev_half, &r, sizeof r); }
};
static_assert(sizeof(value_node) == 12);
static_assert(max_value_bytes <= UINT32_MAX);

inline std::size_t round16(std::size_t n) noexcept {
  return (n + 15) & ~std::size_t{15};
}
inline std::size_t key_bytes(std::size_t len) noexcept {
  return round16(sizeof(key_node) + len);
}
// At least 32: every value of 20 bytes or less shares the one smallest size.
inline std::size_t value_bytes(std::size_t len) noexcept {
  return std::max<std::size_t>(32, round16(sizeof(value_node) + len));
}

inline key_node* key_of(word kw) noexcept {
  return reinterpret_cast<key_node*>(kw & ptr_mask & ~k_copy_bit);
}
inline value_node* value_of(word vw) noexcept {
  return reinterpret_cast<value_node*>(vw & ~frozen_bit);
}

void* allocate_node(std::size_t n) {
  void* p = detail::allocate(n);
  if (!p) throw std::bad_alloc();
  // The top 16 bits of a key word carry a hash tag, so node addresses must
  // fit in 48 bits (every x86-64 and arm64 user address does unless a program
  // asks the kernel for more).
  if (reinterpret_cast<std::uintptr_t>(p) >> tag_shift) {
    std::fputs("threadmap: lockfree needs 48-bit heap addresses\n", stderr);
    std::abort();
  }
  return p;
}

void free_node(void* p) noexcept {
  std::free(p);
}

// ---------------------------------------------------------------------------
// Per-thread counter cells

struct cell {
  std::atomic<std::int64_t> size{0};
  std::atomic<std::int64_t> bytes{0};
};

// ---------------------------------------------------------------------------
// Tables and generations

constexpr std::size_t min_capacity = 16;
constexpr std::size_t chunk_slots = 512;  // slots one helper migrates per visit
constexpr unsigned region_log2_min = 12;  // claim counters cover >= 4096 slots
constexpr unsigned max_regions_log2 = 6;  // ... and at most 64 of them per table

struct slot {
  word key;
  word value;
};
static_assert(sizeof(slot) == 16);

struct generation;

struct table {
  // Read by every operation; `next` is written once.
  generation* gen = nullptr;
  std::size_t mask = 0;
  unsigned log2 = 0;
  unsigned region_shift = 0;
  std::size_t threshold = 0;  // claims in a region that start a resize
  std::size_t hard = 0;       // claims in a region past which a new key needs it
  std::size_t bytes = 0;      // charged: numa::footprint of the array
  std::atomic<table*> next{nullptr};
  slot* slots = nullptr;
  padded<std::atomic<std::size_t>>* claims = nullptr;
  std::atomic<std::uint64_t>* drops = nullptr;  // bit per chunk holding a dropped key
  std::atomic<std::uint64_t>* done = nullptr;   // bit per chunk fully migrated
  // Read only to free the array and to report it: how numa::allocate placed
  // it. The table header is the array's first bytes, so read_back(this) asks
  // the kernel about the array's first page.
  numa::placement where;

  // Written only while this table is migrated out (and once at promotion).
  alignas(cache_line) std::atomic<std::size_t> copy_cursor{0};  // in chunks
  std::atomic<std::size_t> sweep_cursor{0};                     // in chunks
  std::atomic<std::size_t> chunks_done{0};
  std::atomic<bool> resize_claimed{false};

  std::size_t capacity() const noexcept { return mask + 1; }
  std::size_t home(std::uint64_t h) const noexcept { return h >> (64 - log2); }
  std::size_t chunk() const noexcept { return std::min(capacity(), chunk_slots); }
  std::size_t chunks() const noexcept { return capacity() / chunk(); }
  bool chunk_done(std::size_t c) const noexcept {
    return done[c / 64].load(std::memory_order_acquire) & (std::uint64_t{1} << (c % 64));
  }
};

struct layout {
  std::size_t regions, bit_words, claims_at, drops_at, done_at, slots_at, total;
};

layout layout_for(std::size_t cap) noexcept {
  const unsigned lg = std::countr_zero(cap);
  const unsigned rs = lg <= region_log2_min ? lg : std::max(region_log2_min, lg - max_regions_log2);
  layout l;
  l.regions = cap >> rs;
  const std::size_t chunks = (cap + chunk_slots - 1) / chunk_slots;
  l.bit_words = (chunks + 63) / 64;
  l.claims_at = (sizeof(table) + cache_line - 1) & ~(cache_line - 1);
  l.drops_at = l.claims_at + l.regions * cache_line;
  l.done_at = l.drops_at + l.bit_words * 8;
  l.slots_at = (l.done_at + l.bit_words * 8 + cache_line - 1) & ~(cache_line - 1);
  l.total = l.slots_at + cap * sizeof(slot);
  return l;
}

// What a table of `cap` slots takes from the system under policy `p`, as
// charged to the budget (page-rounded when numa::allocate maps it).
inline std::size_t table_bytes(std::size_t cap, const numa::policy& p) noexcept {
  return numa::footprint(layout_for(cap).total, p);
}

struct generation {
  generation(std::size_t lim, unsigned ncells, std::atomic<std::uint64_t>* rs,
             const numa::policy& p)
      : cells(new padded<cell>[ncells]),
        cell_mask(ncells - 1),
        limit(lim),
        resizes(rs),
        policy(p),
        budget(lim) {}

  // Read by every operation; `head` is written once per promotion.
  std::atomic<table*> head{nullptr};
  std::unique_ptr<padded<cell>[]> cells;
  const unsigned cell_mask;
  const std::size_t limit;
  std::atomic<std::uint64_t>* const resizes;  // the map's counter (the map outlives every call)
  const numa::policy policy;  // the map's placement, for every table of this generation
  // One reference for being a map's generation, one per table not yet deleted.
  std::atomic<std::size_t> refs{1};
  // Written on every allocation and free when a limit is set.
  alignas(cache_line) detail::memory_budget budget;
  // Written when a table is created or retired.
  alignas(cache_line) std::atomic<std::size_t> table_bytes{0};
  // Table bytes allocated beyond the budget (a rebuild that must happen
  // anyway); paid back from the next table bytes released.
  std::atomic<std::size_t> debt{0};

  // Every table is charged its bytes: reserved, or owed when forced.
  bool charge_table(std::size_t n, bool force) noexcept {
    if (!limit || budget.reserve(n)) return true;
    if (force) debt.fetch_add(n, std::memory_order_relaxed);
    return force;
  }
  void uncharge_table(std::size_t n) noexcept {
    if (!limit) return;
    std::size_t d = debt.load(std::memory_order_relaxed), pay;
    do {
      pay = std::min(d, n);
    } while (pay && !debt.compare_exchange_weak(d, d - pay, std::memory_order_relaxed));
    if (n > pay) budget.release(n - pay);
  }

  cell& mine() noexcept { return *cells[thread_ordinal() & cell_mask]; }

  bool charge(std::size_t n) noexcept {
    if (limit && !budget.reserve(n)) return false;
    mine().bytes.fetch_add(static_cast<std::int64_t>(n), std::memory_order_relaxed);
    return true;
  }
  void uncharge(std::size_t n) noexcept {
    if (limit) budget.release(n);
    mine().bytes.fetch_sub(static_cast<std::int64_t>(n), std::memory_order_relaxed);
  }
  std::int64_t live() const noexcept {
    std::int64_t n = 0;
    for (unsigned i = 0; i <= cell_mask; ++i) n += cells[i]->size.load(std::memory_order_relaxed);
    return n < 0 ? 0 : n;
  }
  std::int64_t node_bytes() const noexcept {
    std::int64_t n = 0;
    for (unsigned i = 0; i <= cell_mask; ++i) n += cells[i]->bytes.load(std::memory_order_relaxed);
    return n < 0 ? 0 : n;
  }
};

void unref_generation(generation* g) noexcept {
  if (g->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) delete g;
}

// Allocates a zeroed table with the generation's placement, decided for the
// calling thread: the one that creates the map, clears it, or starts a
// migration. numa::allocate returns zeroed, 64-byte aligned memory (mapped
// arrays come zeroed from the kernel without being touched, and their policy
// is set before the first touch). The caller has charged
// table_bytes(cap, g->policy) or decided not to.
table* create_table(generation* g, std::size_t cap) {
  const layout l = layout_for(cap);
  numa::placement where;
  char* base = static_cast<char*>(numa::allocate(l.total, g->policy, where));
  auto* t = new (base) table;
  t->where = where;
  t->gen = g;
  t->mask = cap - 1;
  t->log2 = std::countr_zero(cap);
  t->region_shift = t->log2 - std::countr_zero(l.regions);
  const std::size_t region = std::size_t{1} << t->region_shift;
  t->threshold = region * 5 / 8;
  t->hard = region * 7 / 8;
  t->bytes = table_bytes(cap, g->policy);
  t->claims = reinterpret_cast<padded<std::atomic<std::size_t>>*>(base + l.claims_at);
  for (std::size_t r = 0; r < l.regions; ++r)
    new (&t->claims[r]) padded<std::atomic<std::size_t>>();
  t->drops = reinterpret_cast<std::atomic<std::uint64_t>*>(base + l.drops_at);
  t->done = reinterpret_cast<std::atomic<std::uint64_t>*>(base + l.done_at);
  for (std::size_t w = 0; w < l.bit_words; ++w) {
    new (&t->drops[w]) std::atomic<std::uint64_t>(0);
    new (&t->done[w]) std::atomic<std::uint64_t>(0);
  }
  t->slots = reinterpret_cast<slot*>(base + l.slots_at);  // zeroed: all empty
  g->refs.fetch_add(1, std::memory_order_relaxed);
  return t;
}

// The one way a table array is freed (numa::deallocate reads the placement
// before it unmaps the header that holds it).
void free_table_array(table* t) noexcept {
  generation* g = t->gen;
  numa::deallocate(t, t->where);
  unref_generation(g);
}

// Drops one slot's (or a copier's) reference; frees at zero. The bytes were
// released from the budget when the key was dropped (see copy_slot).
void unref_key(key_node* k) noexcept {
  if (k->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) free_node(k);
}

bool try_ref(key_node* k) noexcept {
  std::uint32_t r = k->refs.load(std::memory_order_relaxed);
  while (r != 0) {
    if (k->refs.compare_exchange_weak(r, r + 1, std::memory_order_acq_rel,
                                      std::memory_order_relaxed)) {
      return true;
    }
  }
  return false;
}

// Epoch deleter of a promoted table: every slot is DEAD or MOVED. Live keys
// were handed over when their values moved on; dropped ones (in the chunks
// marked) still hold this table's reference.
void delete_promoted_table(void* p) noexcept {
  auto* t = static_cast<table*>(p);
  const std::size_t chunk = t->chunk();
  for (std::size_t c = 0; c < t->chunks(); ++c) {
    if (!(t->drops[c / 64].load(std::memory_order_relaxed) & (std::uint64_t{1} << (c % 64)))) {
      continue;
    }
    for (std::size_t i = c * chunk; i < (c + 1) * chunk; ++i) {
      const word kw = load(&t->slots[i].key);
      if (kw == k_empty || kw == k_dead) continue;
      const word vw = load(&t->slots[i].value);
      if (vw == v_moved_null || vw == v_moved_tomb) unref_key(key_of(kw));
    }
  }
  free_table_array(t);
}

// Is value node `v` held by key `k`'s slot in table `t` or a later one?
bool held_downstream(table* t, const key_node* k, word v) noexcept {
  const word tag = tag_of(k->hash);
  for (; t; t = t->next.load(std::memory_order_acquire)) {
    std::size_t i = t->home(k->hash);
    for (std::size_t n = 0; n <= t->mask; ++n, i = (i + 1) & t->mask) {
      const word kw = load(&t->slots[i].key);
      if (kw == k_empty || kw == k_dead) break;
      if ((kw & ~ptr_mask) != tag) continue;
      const key_node* o = key_of(kw);
      if (o != k && (o->hash != k->hash || o->key() != k->key())) continue;
      if ((load(&t->slots[i].value) & ~frozen_bit) == v) return true;
      break;
    }
  }
  return false;
}

// Node bytes freed at once past which destroy_chain hands the allocator's
// free pages back to the system.
[[maybe_unused]] constexpr std::size_t trim_bytes = std::size_t{32} << 20;

// glibc keeps freed chunks in its arenas and gives memory back on its own
// only from the top of the main heap, so the nodes of a cleared or destroyed
// map (millions of small chunks spread through every writer's arena) would
// stay resident, ready for reuse but never returned. malloc_trim(0) returns
// every whole free page of every arena (MADV_DONTNEED). Its cost grows with
// the free memory it finds, not with this batch, so only a large batch calls
// it, and a small clear never pays for a big heap. Other C libraries (musl,
// macOS, Windows) have no malloc_trim; there the allocator decides.
void return_free_memory(std::size_t freed) noexcept {
#if defined(__GLIBC__)
  if (freed >= trim_bytes) malloc_trim(0);
#else
  (void)freed;
#endif
}

// Frees a whole chain: clear() (through the epoch domain, once no call can
// still run in it) and the destructor. Nothing runs in it any more, but slots
// may be in any state a stalled migration left them in.
//
// Nodes are freed in address order, not slot (hash) order: freeing millions
// of small chunks at random addresses costs a cache miss or more per chunk in
// free() and again when the allocator merges them (glibc does so lazily, in
// the next large malloc or in malloc_trim), several times the cost of the
// same frees in order (docs/benchmarks.md). A table's slots are read once, in
// order, so its own array holds the list: the nodes found in slot i are
// written over words already read (at most two per slot), sorted, then freed.
void destroy_chain(generation* g) noexcept {
  const std::size_t nodes = static_cast<std::size_t>(g->node_bytes());
  table* head = g->head.load(std::memory_order_acquire);
  for (table* t = head; t; t = t->next.load(std::memory_order_acquire)) {
    table* downstream = t->next.load(std::memory_order_acquire);
    word* dead = reinterpret_cast<word*>(t->slots);
    std::size_t n = 0;
    for (std::size_t i = 0; i <= t->mask; ++i) {
      const word kw = load(&t->slots[i].key);
      if (kw == k_empty || kw == k_dead) continue;
      const word vw = load(&t->slots[i].value);
      if (vw == v_moved_live) continue;  // its key reference moved on
      key_node* k = key_of(kw);
      const word v = vw & ~frozen_bit;
      // A frozen value also held downstream belongs downstream; a key node
      // whose last reference this slot held has no other slot.
      if (is_node(v) && !((vw & frozen_bit) && held_downstream(downstream, k, v))) {
        dead[n++] = v;
      }
      if (k->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) {
        dead[n++] = reinterpret_cast<word>(k);
      }
    }
    std::sort(dead, dead + n);
    for (std::size_t j = 0; j < n; ++j) free_node(reinterpret_cast<void*>(dead[j]));
  }
  for (table* t = head; t;) {
    table* n = t->next.load(std::memory_order_acquire);
    free_table_array(t);
    t = n;
  }
  return_free_memory(nodes);
}

void delete_generation(void* p) noexcept {
  auto* g = static_cast<generation*>(p);
  destroy_chain(g);
  unref_generation(g);
}

// ---------------------------------------------------------------------------
// Resizing and migration

enum class resize_mode {
  soft,    // the load passed the threshold: start one unless another thread is at it
  hard,    // a new key cannot go in without it
  forced,  // a migration copy needs room: allocate even beyond the budget
};

table* start_resize(generation* g, table* t, resize_mode mode);

void count_claim(generation* g, table* t, std::size_t i) {
  const std::size_t c =
      t->claims[i >> t->region_shift]->fetch_add(1, std::memory_order_relaxed) + 1;
  if (c == t->threshold && !t->next.load(std::memory_order_acquire)) {
    start_resize(g, t, resize_mode::soft);
  }
}

enum class where {
  found,      // index is the key's slot (claimed by this call if it was absent)
  absent,     // the key is in no table of the chain (lookup only)
  next,       // continue in t->next
  full,       // no empty slot and no key slot in the whole table
  no_memory,  // a key node or the next table would exceed the budget
  moot,       // copy only: the key node is gone, so the copy already happened
};

enum class mode { lookup, insert, copy };

// An operation's key node: allocated on the first claim attempt and reused
// until a claim succeeds; a later claim (in a next table) allocates anew, so
// an inserted node is never published twice and each one's bytes are charged
// once and released once (when its key is dropped). A copy borrows the node
// of the slot it copies and takes a reference for each claim.
struct claim {
  key_node* node = nullptr;
  bool owned = false;  // holds a node (insert) or a reference (copy) no slot carries yet
};

inline bool same_key(word kw, word tag, const key_node* mine, std::uint64_t h, bytes key) noexcept {
  if ((kw & ~ptr_mask) != tag) return false;
  const key_node* k = key_of(kw);
  if (k == mine) return true;
  return k->hash == h && k->len == key.size() &&
         (key.empty() || std::memcmp(k->data(), key.data(), key.size()) == 0);
}

key_node* new_key(generation* g, std::uint64_t h, bytes key) {
  const std::size_t n = key_bytes(key.size());
  if (!g->charge(n)) return nullptr;
  void* mem;
  try {
    mem = allocate_node(n);
  } catch (...) {
    g->uncharge(n);
    throw;
  }
  auto* k = static_cast<key_node*>(mem);
  k->hash = h;
  k->len = static_cast<std::uint32_t>(key.size());
  new (&k->refs) std::atomic<std::uint32_t>(1);
  if (!key.empty()) std::memcpy(const_cast<char*>(k->data()), key.data(), key.size());
  return k;
}

// The one probe loop. Walks the key's probe sequence in `t` from its home
// slot: a matching key ends it (found), so does an empty slot (absent, or
// claimed for insert/copy; killed instead when t has a next table) or a DEAD
// one (the key can only be in the next table).
where locate(generation* g, table* t, std::uint64_t h, bytes key, mode md, claim* c,
             std::size_t& index) {
  const word tag = tag_of(h);
  std::size_t i = t->home(h);
  for (std::size_t n = 0; n <= t->mask; ++n, i = (i + 1) & t->mask) {
    word* kp = &t->slots[i].key;
    word kw = load(kp);
    for (;;) {
      if (kw == k_dead) return where::next;
      if (kw != k_empty) {
        if (same_key(kw, tag, c ? c->node : nullptr, h, key)) {
          index = i;
          return where::found;
        }
        break;
      }
      if (md == mode::lookup) return where::absent;
      table* nx = t->next.load(std::memory_order_acquire);
      if (!nx && md == mode::insert) {
        const std::size_t claimed =
            t->claims[i >> t->region_shift]->load(std::memory_order_relaxed);
        if (claimed >= t->threshold) {
          const bool hard = claimed >= t->hard;
          nx = start_resize(g, t, hard ? resize_mode::hard : resize_mode::soft);
          if (!nx && hard) return where::no_memory;
        }
      }
      if (nx) {
        // A table with a successor takes no new keys. Killing the slot is its
        // migration, and proves the key is not in this table.
        if (cas(kp, kw, k_dead)) return where::next;
        continue;  // kw holds what won the slot
      }
      if (!c->owned) {
        if (md == mode::copy) {
          if (!try_ref(c->node)) return where::moot;
        } else {
          c->node = new_key(g, h, key);
          if (!c->node) return where::no_memory;
        }
        c->owned = true;
      }
      pause_at(lockfree_test::claim_window);
      const word claimed =
          tag | reinterpret_cast<word>(c->node) | (md == mode::copy ? k_copy_bit : 0);
      if (cas(kp, kw, claimed)) {
        c->owned = false;
        count_claim(g, t, i);
        index = i;
        return where::found;
      }
      // Lost the slot; kw is the winner's word (it may be this very key).
    }
  }
  return where::full;
}

// Installs value word `v` for key `k` in the first table from `t` on where
// the key's slot never held a value; stops (the copy already happened, or
// was overtaken by later writes) at the first where it did.
void copy_value(generation* g, table* t, key_node* k, word v);

// Migrates slot i of t (which has a next table). On return the slot is in a
// final state (DEAD or MOVED), by this call or another.
void copy_slot(generation* g, table* t, std::size_t i) {
  slot& s = t->slots[i];
  word kw = load(&s.key);
  if (kw == k_empty && cas(&s.key, kw, k_dead)) return;
  if (kw == k_dead) return;
  word vw = load(&s.value);
  if (!(vw & frozen_bit)) vw = freeze(&s.value);
  if (is_moved(vw)) return;
  pause_at(lockfree_test::migrate_slot);
  key_node* k = key_of(kw);
  const word v = vw & ~frozen_bit;
  word final_word;
  if (is_node(v)) {
    copy_value(g, t->next.load(std::memory_order_acquire), k, v);
    final_word = v_moved_live;
  } else {
    final_word = is_tomb(v) ? v_moved_tomb : v_moved_null;
  }
  if (!cas(&s.value, vw, final_word)) return;  // another copier finished it
  if (final_word == v_moved_live) {
    // The copy's slot downstream holds a reference, so this never frees.
    k->refs.fetch_sub(1, std::memory_order_acq_rel);
    return;
  }
  // The key is dropped here. Its node stays until this table is deleted (a
  // reader may still reach it through this slot), but its bytes go back to
  // the budget now, unless this slot was only a copy's stop on the way on.
  const std::size_t c = i / t->chunk();
  t->drops[c / 64].fetch_or(std::uint64_t{1} << (c % 64), std::memory_order_relaxed);
  if (final_word == v_moved_tomb || !(kw & k_copy_bit)) g->uncharge(key_bytes(k->len));
}

void copy_value(generation* g, table* t, key_node* k, word v) {
  claim c{k, false};
  struct cleanup {
    claim& c;
    ~cleanup() {
      if (c.owned) unref_key(c.node);
    }
  } on_exit{c};
  const bytes key = k->key();
  for (;;) {
    std::size_t i = 0;
    const where w = locate(g, t, k->hash, key, mode::copy, &c, i);
    if (w == where::moot) break;
    if (w == where::next) {
      t = t->next.load(std::memory_order_acquire);
      continue;
    }
    if (w == where::full) {
      table* nx = t->next.load(std::memory_order_acquire);
      t = nx ? nx : start_resize(g, t, resize_mode::forced);
      continue;
    }
    // found (absent and no_memory cannot happen in copy mode)
    word* vp = &t->slots[i].value;
    word vw = load(vp);
    bool onward = false;
    for (;;) {
      if (vw == v_null) {
        if (cas(vp, vw, v)) break;
        continue;
      }
      if (vw == (v_null | frozen_bit)) {
        copy_slot(g, t, i);
        onward = true;
      } else if (vw == v_moved_null) {
        onward = true;
      }
      break;  // any other state: the key already has its value here
    }
    if (!onward) break;
    t = t->next.load(std::memory_order_acquire);
  }
}

void retire_table(generation* g, table* t) {
  g->table_bytes.fetch_sub(t->bytes, std::memory_order_relaxed);
  g->uncharge_table(t->bytes);
  epoch::retire(t, &delete_promoted_table, t->bytes);
}

// t is fully migrated. If it is the head, its successor becomes the head; a
// successor that finished while t was still the head is promoted in turn.
// (Of two threads finishing consecutive tables at once, the sequentially
// consistent count and head CAS make at least one see the other.)
void promote(generation* g, table* t) {
  for (;;) {
    table* nx = t->next.load(std::memory_order_acquire);
    table* expected = t;
    if (!g->head.compare_exchange_strong(expected, nx, std::memory_order_seq_cst)) return;
    retire_table(g, t);
    t = nx;
    if (t->chunks_done.load(std::memory_order_seq_cst) != t->chunks()) return;
  }
}

// Chunk c of t has every slot in a final state. Counted once, whoever
// noticed first (its owner, or a sweeper if the owner stalled).
void chunk_finished(generation* g, table* t, std::size_t c) {
  const std::uint64_t bit = std::uint64_t{1} << (c % 64);
  if (t->done[c / 64].fetch_or(bit, std::memory_order_acq_rel) & bit) return;
  if (t->chunks_done.fetch_add(1, std::memory_order_seq_cst) + 1 == t->chunks()) promote(g, t);
}

// Migrates one chunk of t (which has a next table): the next unclaimed one,
// or, once all are claimed but not all finished, the next unfinished one of a
// sweep over the table. So a migrator that stalls holding a chunk holds no
// one back: a sweeper redoes its slots (copy_slot is idempotent) and counts
// the chunk.
void help_migrate(generation* g, table* t) {
  const std::size_t chunks = t->chunks(), chunk = t->chunk();
  std::size_t c = chunks;
  if (t->copy_cursor.load(std::memory_order_relaxed) < chunks) {
    c = t->copy_cursor.fetch_add(1, std::memory_order_relaxed);
  }
  if (c >= chunks) {
    if (t->chunks_done.load(std::memory_order_acquire) >= chunks) return;
    c = t->sweep_cursor.fetch_add(1, std::memory_order_relaxed) % chunks;
    for (std::size_t k = 0; k < 64 && t->chunk_done(c); ++k) c = (c + 1) % chunks;
    if (t->chunk_done(c)) return;
  }
  pause_at(lockfree_test::migrate_chunk);
  // Copying a key reads its node (for the hash) and then its slot in the next
  // table: two cache misses per key, on addresses known well in advance. The
  // slots ahead are prefetched in a pipeline so those misses overlap.
  constexpr std::size_t node_ahead = 16, slot_ahead = 8;
  const table* nx = t->next.load(std::memory_order_acquire);
  const std::size_t first = c * chunk, last = first + chunk;
  for (std::size_t i = first; i < last; ++i) {
    if (i + node_ahead < last) {
      const word kw = load(&t->slots[i + node_ahead].key);
      if (kw > k_dead) prefetch(key_of(kw));
    }
    if (i + slot_ahead < last) {
      const word kw = load(&t->slots[i + slot_ahead].key);
      if (kw > k_dead) prefetch(&nx->slots[nx->home(key_of(kw)->hash)]);
    }
    copy_slot(g, t, i);
  }
  chunk_finished(g, t, c);
}

table* start_resize(generation* g, table* t, resize_mode mode) {
  if (table* nx = t->next.load(std::memory_order_acquire)) return nx;
  if (mode == resize_mode::soft && t->resize_claimed.exchange(true, std::memory_order_acq_rel)) {
    return nullptr;  // another thread is allocating; keep inserting below the hard limit
  }
  // Room for the live entries at 3/8 load: twice the size when the table is
  // full of live keys, the same size when most claims are tombstones, smaller
  // (at most 4x per step) after mass erasure.
  const std::size_t cap = t->capacity();
  const std::size_t live = static_cast<std::size_t>(g->live());
  std::size_t want = min_capacity;
  while (want * 3 / 8 < live) want *= 2;
  std::size_t new_cap = std::max(want, std::max(cap / 4, min_capacity));
  if (mode == resize_mode::forced) new_cap = std::max(new_cap, cap);
  const std::size_t n = table_bytes(new_cap, g->policy);
  // A rebuild that does not grow may overdraw the budget: it is the only way
  // to turn tombstones back into room, and the old table it replaces, at
  // least as large, pays the debt back when it is retired.
  const bool cleanup = new_cap <= cap;
  if (!g->charge_table(n, mode == resize_mode::forced || cleanup)) {
    if (mode == resize_mode::soft) t->resize_claimed.store(false, std::memory_order_release);
    return t->next.load(std::memory_order_acquire);
  }
  table* nt;
  try {
    nt = create_table(g, new_cap);
  } catch (...) {
    g->uncharge_table(n);
    if (mode == resize_mode::soft) t->resize_claimed.store(false, std::memory_order_release);
    throw;
  }
  pause_at(lockfree_test::resize_window);
  table* expected = nullptr;
  if (t->next.compare_exchange_strong(expected, nt, std::memory_order_acq_rel,
                                      std::memory_order_acquire)) {
    g->table_bytes.fetch_add(n, std::memory_order_relaxed);
    g->resizes->fetch_add(1, std::memory_order_relaxed);
    return nt;
  }
  g->uncharge_table(n);
  free_table_array(nt);
  return expected;
}

// ---------------------------------------------------------------------------
// Operations

// Allocates a value node of `len` bytes. It is charged value_bytes(len)
// less `credit`, the size of a node the write expects to replace (0: none);
// `held` receives what was charged. The write settles the difference at its
// CAS (settle_value), so a replacement by a node no larger needs no room.
value_node* new_value(generation* g, std::size_t len, std::size_t credit, std::size_t& held) {
  const std::size_t n = value_bytes(len);
  held = n - std::min(n, credit);
  if (held && !g->charge(held)) return nullptr;
  value_node* v;
  try {
    v = static_cast<value_node*>(allocate_node(n));
  } catch (...) {
    if (held) g->uncharge(held);
    throw;
  }
  v->len = static_cast<std::uint32_t>(len);
  return v;
}

value_node* new_value(generation* g, bytes value, std::size_t credit, std::size_t& held) {
  value_node* v = new_value(g, value.size(), credit, held);
  if (v && !value.empty()) std::memcpy(v->data(), value.data(), value.size());
  return v;
}

// Before a CAS that installs `fresh` over `cur` (null: no value): the charge
// it holds must cover what the write adds, value_bytes(fresh) less
// value_bytes(cur). False when the budget cannot give the rest.
bool settle_value(generation* g, const value_node* fresh, const value_node* cur,
                  std::size_t& held) noexcept {
  const std::size_t n = value_bytes(fresh->len);
  const std::size_t need = n - (cur ? std::min(n, value_bytes(cur->len)) : 0);
  if (held >= need) return true;
  if (!g->charge(need - held)) return false;
  held = need;
  return true;
}

void discard_value(generation* g, value_node* v, std::size_t held) noexcept {
  if (held) g->uncharge(held);
  free_node(v);
}

// `v` was unlinked by a CAS that installed a node whose charge lacked `owed`
// bytes (at most value_bytes(v), by settle_value): v's charge pays for it.
void retire_value(generation* g, value_node* v, std::size_t owed) {
  const std::size_t n = value_bytes(v->len);
  if (n > owed) g->uncharge(n - owed);
  epoch::retire(v, &free_node, n);
}

struct found_value {
  table* t = nullptr;
  std::size_t index = 0;
  word vw = v_null;  // a node pointer (maybe frozen) when present
  bool present() const noexcept { return is_node(vw & ~frozen_bit); }
  const value_node* node() const noexcept { return value_of(vw); }
};

// Reads the key's current value word: from the oldest table where its slot
// is not MOVED. Frozen values count: they are current until MOVED.
found_value lookup(generation* g, std::uint64_t h, bytes key) {
  table* t = g->head.load(std::memory_order_acquire);
  for (;;) {
    if (t->next.load(std::memory_order_acquire)) help_migrate(g, t);
    std::size_t i = 0;
    const where w = locate(g, t, h, key, mode::lookup, nullptr, i);
    if (w == where::found) {
      const word vw = load(&t->slots[i].value);
      if (!is_moved(vw)) return {t, i, vw};
    } else if (w == where::absent) {
      return {};
    } else if (w == where::full && !t->next.load(std::memory_order_acquire)) {
      return {};
    }
    t = t->next.load(std::memory_order_acquire);
  }
}

// The value node of a put or add, which may insert or replace: charged in
// full when the budget has room for it. Otherwise (at the limit) the write
// may only replace (`replace_only`): its node is charged what it adds to the
// key's present value, so a replacement by a node no larger needs no room.
// Null: refused (the key is absent, or the growth does not fit).
value_node* value_for_write(generation* g, std::uint64_t h, bytes key, std::size_t len,
                            std::size_t& held, bool& replace_only) {
  if (value_node* v = new_value(g, len, 0, held)) return v;
  const found_value f = lookup(g, h, key);
  if (!f.present()) return nullptr;
  replace_only = true;
  return new_value(g, len, value_bytes(f.node()->len), held);
}

// What an update does with the value it observed (null: absent).
struct decision {
  status st;
  bool write;
  word to;  // v_tomb (update() adds the revision), or a value node pointer
};

// The write loop shared by every mutation: find (or claim) the key's slot,
// ask `plan` what to do with the current value, CAS it in; help and move on
// when a migration froze the slot. `fresh` is the value node a write may
// install (freed here if it was not installed) and `held` the bytes charged
// for it; `old` receives the value a successful write replaced.
template <class Plan>
status update(generation* g, detail::revision_clock& clock, std::uint64_t h, bytes key,
              bool may_insert, value_node*& fresh, std::size_t& held, std::string* old,
              Plan&& plan) {
  claim c;
  // Frees what this call allocated and did not install, also when a table
  // allocation throws halfway (nothing else needs undoing: a claimed key slot
  // with no value is just an absent key).
  struct cleanup {
    generation* g;
    claim& c;
    value_node*& fresh;
    std::size_t& held;
    ~cleanup() {
      if (c.owned) {
        g->uncharge(key_bytes(c.node->len));
        free_node(c.node);
      }
      if (fresh) discard_value(g, fresh, held);
      fresh = nullptr;
      held = 0;
    }
  } on_exit{g, c, fresh, held};
  table* t = g->head.load(std::memory_order_acquire);
  status result;
  for (;;) {
    if (t->next.load(std::memory_order_acquire)) help_migrate(g, t);
    std::size_t i = 0;
    const where w = locate(g, t, h, key, may_insert ? mode::insert : mode::lookup, &c, i);
    if (w == where::next) {
      t = t->next.load(std::memory_order_acquire);
      continue;
    }
    if (w == where::full) {
      table* nx = t->next.load(std::memory_order_acquire);
      if (!nx && may_insert) nx = start_resize(g, t, resize_mode::hard);
      if (nx) {
        t = nx;
        continue;
      }
      result = may_insert ? status::memory_limit : plan(nullptr).st;
      break;
    }
    if (w == where::no_memory) {
      result = status::memory_limit;
      break;
    }
    if (w == where::absent) {
      result = plan(nullptr).st;  // plans never write when the key is absent without a slot
      break;
    }
    word* vp = &t->slots[i].value;
    word vw = load(vp);
    bool moved_on = false;
    for (;;) {
      if (vw & frozen_bit) {
        if (!is_moved(vw)) copy_slot(g, t, i);
        moved_on = true;
        break;
      }
      value_node* cur = is_node(vw) ? value_of(vw) : nullptr;
      const decision d = plan(cur);
      if (!d.write) {
        result = d.st;
        break;
      }
      const bool now_live = is_node(d.to);  // then d.to is fresh
      if (now_live && !settle_value(g, fresh, cur, held)) {
        result = status::memory_limit;
        break;
      }
      // Room for the old value before the CAS: once it succeeds, nothing may fail.
      if (old && cur) old->reserve(cur->len);
      // Drawn after vw was loaded and before the CAS that replaces it; a
      // failed CAS reloads vw and the loop draws again.
      const std::uint64_t r = clock.next();
      word to = d.to;
      if (now_live) {
        fresh->set_revision(r);
      } else {
        to = tomb_word(r);
      }
      pause_at(lockfree_test::cas_window);
      if (cas(vp, vw, to)) {
        std::size_t owed = 0;  // what fresh's charge lacks: cur's pays for it
        if (now_live) {
          owed = value_bytes(fresh->len) - held;
          fresh = nullptr;  // installed, and charged in full from here on
          held = 0;
        }
        const int delta = int(now_live) - int(cur != nullptr);
        if (delta) g->mine().size.fetch_add(delta, std::memory_order_relaxed);
        if (cur) {
          // The guard keeps cur readable after it is retired; the copy fits
          // the room reserved above, so it cannot throw.
          retire_value(g, cur, owed);
          if (old) old->assign(cur->value().data(), cur->len);
        }
        result = d.st;
        break;
      }
    }
    if (moved_on) {
      t = t->next.load(std::memory_order_acquire);
      continue;
    }
    break;
  }
  return result;
}

inline bool equal(const value_node* v, bytes b) noexcept {
  return v->value() == b;
}

inline void copy_out(const value_node* v, std::string* out) {
  if (out) out->assign(v->value().data(), v->len);
}

// ---------------------------------------------------------------------------
// Scan

void region_of(const table* t, std::size_t unit, std::size_t& begin, std::size_t& end) noexcept {
  if (t->log2 >= 8) {
    begin = unit << (t->log2 - 8);
    end = (unit + 1) << (t->log2 - 8);
  } else {
    begin = unit >> (8 - t->log2);
    end = begin + 1;
  }
}

// Moves every key of `unit` out of t (which has a next table): its region and
// the probe overflow after it, up to the first killed empty slot.
void migrate_region(generation* g, table* t, std::size_t unit) {
  std::size_t begin, end;
  region_of(t, unit, begin, end);
  for (std::size_t j = begin; j < begin + t->capacity(); ++j) {
    const std::size_t i = j & t->mask;
    copy_slot(g, t, i);
    if (j >= end && load(&t->slots[i].key) == k_dead) break;
  }
}

// Appends unit's live entries of t to buf. False when a migration overtook
// the walk (a MOVED or DEAD slot): the caller starts again.
bool walk_region(const table* t, std::size_t unit, std::string& buf, std::size_t& count) {
  std::size_t begin, end;
  region_of(t, unit, begin, end);
  for (std::size_t j = begin; j < begin + t->capacity(); ++j) {
    const std::size_t i = j & t->mask;
    const word kw = load(&t->slots[i].key);
    if (kw == k_dead) return false;
    if (kw == k_empty) {
      if (j >= end) break;
      continue;
    }
    const key_node* k = key_of(kw);
    if ((k->hash >> 56) != unit) continue;
    const word vw = load(&t->slots[i].value);
    if (is_moved(vw)) return false;
    if (!is_node(vw & ~frozen_bit)) continue;
    append_scan_record(buf, k->key(), value_of(vw)->value());
    ++count;
  }
  return true;
}

}  // namespace lockfree_detail

// ---------------------------------------------------------------------------
// lockfree_map

using namespace lockfree_detail;

namespace {

unsigned cell_count() noexcept {
  unsigned hw = std::thread::hardware_concurrency();
  if (hw == 0) hw = 4;
  return std::clamp(std::bit_ceil(hw * 2), 2u, 64u);
}

std::size_t capacity_for(std::size_t entries) {
  // Keep the load under the 5/8 resize threshold with room for the spread of
  // keys over the claim regions.
  const std::size_t want = entries + entries / 8;
  std::size_t cap = min_capacity;
  while (cap * 5 / 8 < want) {
    if (cap > (std::size_t{1} << 40)) throw std::length_error("threadmap: capacity too large");
    cap *= 2;
  }
  return cap;
}

}  // namespace

generation* lockfree_map::new_generation(std::size_t entries) const {
  const std::size_t cap = capacity_for(entries);
  auto* g = new generation(opts_.max_memory, cells_, &resizes_, opts_.numa_policy);
  const std::size_t n = table_bytes(cap, opts_.numa_policy);
  if (opts_.max_memory && !g->budget.reserve(n)) {
    delete g;
    throw std::length_error("threadmap: capacity needs more memory than max_memory allows");
  }
  table* t;
  try {
    t = create_table(g, cap);
  } catch (...) {
    delete g;
    throw;
  }
  g->table_bytes.store(n, std::memory_order_relaxed);
  g->head.store(t, std::memory_order_release);
  return g;
}

lockfree_map::lockfree_map(const options& opts) : opts_(opts), cells_(cell_count()) {
  check_numa_policy(opts.numa_policy);  // before anything is allocated
  root_.store(new_generation(opts.capacity), std::memory_order_release);
}

lockfree_map::~lockfree_map() {
  // No call runs any more (the owner guarantees it); tables retired earlier
  // are still in the epoch domain and keep the generation alive until freed.
  generation* g = root_.load(std::memory_order_acquire);
  destroy_chain(g);
  unref_generation(g);
}

bool lockfree_map::get(bytes key, std::string* out, std::uint64_t* revision,
                       std::uint64_t unless) const {
  if (key.size() > max_key_bytes) return false;
  epoch::guard guard;
  generation* g = root_.load(std::memory_order_acquire);
  const found_value f = lookup(g, hash_bytes(key), key);
  if (!f.present()) return false;
  const std::uint64_t r = f.node()->revision();
  if (revision) *revision = r;
  if (unless == 0 || r != unless) copy_out(f.node(), out);
  return true;
}

void lockfree_map::get_many(const bytes* keys, std::size_t n, std::string* out, bool* found) const {
  // The lookups of a batch overlap their cache misses in stages `lag` keys
  // apart: (1) hash, prefetch the key's home slot; (2) read the slot's words
  // and prefetch the key node and value node they point to; (3) the lookup
  // itself, exactly as get() does it (its value-word load is the
  // linearization point), then prefetch the value node it found; (4) copy the
  // value out of that immutable node. Stages 1 and 2 are hints: they read
  // words atomically, follow no pointer and change nothing.
  constexpr std::size_t lag = 8, ring = 3 * lag + 1;
  std::uint64_t hashes[ring];
  found_value values[ring];
  epoch::guard guard;
  generation* hint = root_.load(std::memory_order_acquire);
  for (std::size_t i = 0; i < n + 3 * lag; ++i) {
    if (i < n) {
      const std::uint64_t h = hash_bytes(keys[i]);
      hashes[i % ring] = h;
      const table* t = hint->head.load(std::memory_order_acquire);
      prefetch(&t->slots[t->home(h)]);
    }
    if (i >= lag && i - lag < n) {
      const std::uint64_t h = hashes[(i - lag) % ring];
      table* t = hint->head.load(std::memory_order_acquire);
      slot& s = t->slots[t->home(h)];
      const word kw = load(&s.key);
      if (kw > k_dead) prefetch(key_of(kw));
      const word vw = load(&s.value);
      if (is_node(vw & ~frozen_bit)) prefetch(value_of(vw));
    }
    if (i >= 2 * lag && i - 2 * lag < n) {
      const std::size_t j = i - 2 * lag;
      found_value& f = values[j % ring];
      f = {};
      if (keys[j].size() <= max_key_bytes) {
        f = lookup(root_.load(std::memory_order_acquire), hashes[j % ring], keys[j]);
        if (f.present()) prefetch(f.node());
      }
    }
    if (i >= 3 * lag) {
      const std::size_t j = i - 3 * lag;
      const found_value& f = values[j % ring];
      found[j] = f.present();
      if (found[j]) copy_out(f.node(), out ? &out[j] : nullptr);
    }
  }
}

status lockfree_map::put(bytes key, bytes value, std::string* old) {
  if (key.size() > max_key_bytes || value.size() > max_value_bytes) return status::too_large;
  epoch::guard guard;
  generation* g = root_.load(std::memory_order_acquire);
  const std::uint64_t h = hash_bytes(key);
  std::size_t held = 0;
  bool replace_only = false;
  value_node* fresh = value_for_write(g, h, key, value.size(), held, replace_only);
  if (!fresh) return status::memory_limit;
  if (!value.empty()) std::memcpy(fresh->data(), value.data(), value.size());
  const word to = reinterpret_cast<word>(fresh);
  return update(g, clock_, h, key, !replace_only, fresh, held, old, [&](const value_node* cur) {
    if (!cur && replace_only) return decision{status::memory_limit, false, 0};
    return decision{cur ? status::ok : status::inserted, true, to};
  });
}

status lockfree_map::put_if_absent(bytes key, bytes value, std::string* existing) {
  if (key.size() > max_key_bytes || value.size() > max_value_bytes) return status::too_large;
  epoch::guard guard;
  generation* g = root_.load(std::memory_order_acquire);
  const std::uint64_t h = hash_bytes(key);
  // Present: answer without allocating (the read is this call's linearization point).
  if (const found_value f = lookup(g, h, key); f.present()) {
    copy_out(f.node(), existing);
    return status::exists;
  }
  std::size_t held = 0;
  value_node* fresh = new_value(g, value, 0, held);
  if (!fresh) return status::memory_limit;
  const word to = reinterpret_cast<word>(fresh);
  return update(g, clock_, h, key, true, fresh, held, nullptr, [&](const value_node* cur) {
    if (cur) {
      copy_out(cur, existing);
      return decision{status::exists, false, 0};
    }
    return decision{status::inserted, true, to};
  });
}

status lockfree_map::compare_and_set(bytes key, const bytes* expected, const bytes* desired,
                                     std::string* current) {
  if (key.size() > max_key_bytes || (desired && desired->size() > max_value_bytes)) {
    return status::too_large;
  }
  epoch::guard guard;
  generation* g = root_.load(std::memory_order_acquire);
  const std::uint64_t h = hash_bytes(key);
  value_node* fresh = nullptr;
  std::size_t held = 0;
  if (!expected) {
    // May insert: settle "present" first, so that no key slot is claimed for
    // a call that then fails, and allocate before claiming.
    if (const found_value f = lookup(g, h, key); f.present()) {
      copy_out(f.node(), current);
      return status::mismatch;
    }
    if (!desired) return status::ok;  // absent -> absent
    fresh = new_value(g, *desired, 0, held);
    if (!fresh) return status::memory_limit;
    const word to = reinterpret_cast<word>(fresh);
    return update(g, clock_, h, key, true, fresh, held, nullptr, [&](const value_node* cur) {
      if (cur) {
        copy_out(cur, current);
        return decision{status::mismatch, false, 0};
      }
      return decision{status::inserted, true, to};
    });
  }
  // Never inserts: allocate the new value only once the expected one is seen,
  // charged what it adds to that one.
  return update(g, clock_, h, key, false, fresh, held, nullptr, [&](const value_node* cur) {
    if (!cur) return decision{status::not_found, false, 0};
    if (!equal(cur, *expected)) {
      copy_out(cur, current);
      return decision{status::mismatch, false, 0};
    }
    if (!desired) return decision{status::ok, true, v_tomb};
    if (!fresh && !(fresh = new_value(g, *desired, value_bytes(cur->len), held))) {
      return decision{status::memory_limit, false, 0};
    }
    return decision{status::ok, true, reinterpret_cast<word>(fresh)};
  });
}

status lockfree_map::erase(bytes key, std::string* old) {
  if (key.size() > max_key_bytes) return status::not_found;
  epoch::guard guard;
  generation* g = root_.load(std::memory_order_acquire);
  value_node* none = nullptr;
  std::size_t held = 0;
  return update(g, clock_, hash_bytes(key), key, false, none, held, old,
                [&](const value_node* cur) {
                  if (!cur) return decision{status::not_found, false, 0};
                  return decision{status::ok, true, v_tomb};
                });
}

status lockfree_map::add(bytes key, counter_kind kind, counter delta, bytes prefix,
                         counter* result) {
  if (key.size() > max_key_bytes || prefix.size() > detail::max_counter_prefix) {
    return status::too_large;
  }
  epoch::guard guard;
  generation* g = root_.load(std::memory_order_acquire);
  const std::uint64_t h = hash_bytes(key);
  // One node, rewritten on every attempt: it is private until a CAS installs it.
  std::size_t held = 0;
  bool replace_only = false;
  value_node* fresh = value_for_write(g, h, key, prefix.size() + 8, held, replace_only);
  if (!fresh) return status::memory_limit;
  const word to = reinterpret_cast<word>(fresh);
  counter next{};
  const status st =
      update(g, clock_, h, key, !replace_only, fresh, held, nullptr, [&](const value_node* cur) {
        if (!cur && replace_only) return decision{status::memory_limit, false, 0};
        bytes cur_bytes;
        if (cur) cur_bytes = cur->value();
        const status s = detail::next_counter(cur ? &cur_bytes : nullptr, kind, delta, prefix,
                                              value_of(to)->data(), next);
        if (s != status::ok && s != status::inserted) return decision{s, false, 0};
        return decision{s, true, to};
      });
  if ((st == status::ok || st == status::inserted) && result) *result = next;
  return st;
}

std::size_t lockfree_map::size() const {
  epoch::guard guard;
  return static_cast<std::size_t>(root_.load(std::memory_order_acquire)->live());
}

void lockfree_map::clear() {
  epoch::guard guard;
  generation* fresh = new_generation(0);
  // The clear's revision, before the swap: a write that finds the fresh
  // generation loaded the root after the swap, so it draws after this
  // (the header's REVISIONS says what holds).
  clock_.next();
  lockfree_detail::pause_at(lockfree_test::clear_window);
  generation* old = root_.exchange(fresh, std::memory_order_acq_rel);
  epoch::retire(old, &delete_generation, old->table_bytes.load(std::memory_order_relaxed));
}

std::size_t lockfree_map::scan(std::size_t unit, std::string& out) const {
  if (unit >= units) return 0;
  epoch::guard guard;
  std::string buf;
  std::size_t count = 0;
  for (;;) {
    generation* g = root_.load(std::memory_order_acquire);
    table* t = g->head.load(std::memory_order_acquire);
    while (table* nx = t->next.load(std::memory_order_acquire)) {
      migrate_region(g, t, unit);
      t = nx;
    }
    buf.clear();
    count = 0;
    if (walk_region(t, unit, buf, count)) break;
  }
  out.append(buf);
  return count;
}

std::size_t lockfree_map::chain_length() const {
  epoch::guard guard;
  std::size_t n = 0;
  for (table* t = root_.load(std::memory_order_acquire)->head.load(std::memory_order_acquire); t;
       t = t->next.load(std::memory_order_acquire)) {
    ++n;
  }
  return n;
}

std::vector<numa::table_report> lockfree_map::placement() const {
  // The guard keeps every table of the chain mapped while the kernel is asked
  // about it (a promoted table is retired only after it left the chain).
  epoch::guard guard;
  std::vector<numa::table_report> v;
  const generation* g = root_.load(std::memory_order_acquire);
  for (const table* t = g->head.load(std::memory_order_acquire); t;
       t = t->next.load(std::memory_order_acquire)) {
    numa::table_report r;
    r.table = v.size();
    r.bytes = t->bytes;
    r.where = t->where;
    r.kernel = numa::read_back(t);
    v.push_back(std::move(r));
  }
  return v;
}

map_stats lockfree_map::stats() const {
  epoch::guard guard;
  generation* g = root_.load(std::memory_order_acquire);
  map_stats st;
  st.strategy = strategy_kind::lockfree;
  st.stripes = 1;
  st.size = static_cast<std::size_t>(g->live());
  for (table* t = g->head.load(std::memory_order_acquire); t;
       t = t->next.load(std::memory_order_acquire)) {
    st.capacity += t->capacity();
  }
  st.bytes = static_cast<std::size_t>(g->node_bytes()) +
             g->table_bytes.load(std::memory_order_relaxed) + sizeof(*this) + sizeof(generation) +
             (g->cell_mask + 1) * sizeof(padded<cell>);
  st.resizes = resizes_.load(std::memory_order_relaxed);
  return st;
}

}  // namespace threadmap
