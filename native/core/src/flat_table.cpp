// The flat table; its layout and seqlock protocol are described in
// threadmap/detail/flat_table.hpp.
#include "threadmap/detail/flat_table.hpp"
#include "threadmap/detail/flat_table_probe.hpp"

#include <algorithm>
#include <cstdlib>
#include <new>
#include <utility>

#include "threadmap/detail/alloc.hpp"
#include "threadmap/detail/counter_value.hpp"
#include "threadmap/detail/hash.hpp"
#include "threadmap/detail/numa.hpp"
#include "threadmap/detail/prefetch.hpp"
#include "threadmap/epoch.hpp"

namespace threadmap::detail {

// ---------------------------------------------------------------------------
// Memory budget

bool memory_budget::reserve(std::size_t n) noexcept {
  std::size_t cur = used_.load(std::memory_order_relaxed);
  do {
    if (limit_ != 0 && (cur + n < cur || cur + n > limit_)) return false;
  } while (!used_.compare_exchange_weak(cur, cur + n, std::memory_order_relaxed));
  return true;
}

void memory_budget::release(std::size_t n) noexcept {
  used_.fetch_sub(n, std::memory_order_relaxed);
}

// ---------------------------------------------------------------------------
// Array layout (flat_table_probe.hpp): its allocation

using namespace flat_probe;

std::size_t table_array::footprint(std::size_t groups, std::size_t words, bool timed,
                                   const numa::policy& p) noexcept {
  return numa::footprint(bytes_for(groups, words, timed), p);
}

table_array* table_array::create(std::size_t groups, std::size_t words, bool timed,
                                 const numa::policy& p) {
  numa::placement where;
  // Zeroed (numa::allocate's contract): see the declaration.
  void* mem = numa::allocate(bytes_for(groups, words, timed), p, where);
  auto* t = static_cast<table_array*>(mem);
  t->groups = groups;
  t->words = words;
  t->placement = where;
  t->timed = timed;
  t->slots = t->tag_words() + tag_bytes(groups) / 8;
  return t;
}

void table_array::destroy(void* p) noexcept {
  numa::deallocate(p, static_cast<table_array*>(p)->placement);
}

void table_array::destroy_with_blobs(void* p) noexcept {
  auto* t = static_cast<table_array*>(p);
  for (std::size_t g = 0; g < t->groups; ++g) {
    for (std::uint32_t m = t->tags(g).full_slots(); m; m &= m - 1) {
      const std::uint64_t* s = t->slot(g * flat_table::group_size + __builtin_ctz(m));
      if ((s[0] & 0xFF) == blob_marker) std::free(reinterpret_cast<void*>(s[1]));
    }
  }
  destroy(p);
}

namespace {

// An immutable copy of key and value; the caller has charged its size.
// Short ones (a 16-byte key, an 8-byte value) with word copies, not a
// call into the C library.
inline void copy_bytes(unsigned char* dst, bytes src) noexcept {
  if (src.size() <= 24) {
    copy_short(dst, reinterpret_cast<const unsigned char*>(src.data()), src.size());
  } else {
    std::memcpy(dst, src.data(), src.size());
  }
}

blob* new_blob(bytes key, bytes value) {
  auto* bl = static_cast<blob*>(allocate(blob::size_for(key, value)));
  if (!bl) throw std::bad_alloc();
  bl->klen = static_cast<std::uint32_t>(key.size());
  bl->vlen = static_cast<std::uint32_t>(value.size());
  copy_bytes(bl->data(), key);
  copy_bytes(bl->data() + key.size(), value);
  return bl;
}

// Builds the slot words for an entry; allocates the blob when it does not fit
// inline. The caller has charged blob::size_for(key, value) when needed.
// `limit`: the table's inline_limit() (18 bytes where the slot keeps a handle).
slot_view make_slot(std::uint64_t hash, bytes key, bytes value, std::size_t limit) {
  if (key.size() + value.size() <= limit) return pack_inline(key, value);
  slot_view s{};
  s.w[0] = blob_marker;
  s.w[1] = reinterpret_cast<std::uint64_t>(new_blob(key, value));
  s.w[2] = hash;
  return s;
}

inline std::size_t blob_bytes_for(bytes key, bytes value, std::size_t limit) noexcept {
  return key.size() + value.size() <= limit ? 0 : blob::size_for(key, value);
}

constexpr std::size_t evicting_inline_bytes = 18;
static_assert(2 + evicting_inline_bytes <= 20, "an inline entry must end before the handle");

inline std::size_t blob_bytes_of(const slot_view& s) noexcept {
  return s.is_blob() ? sizeof(blob) + s.out_of_line()->klen + s.out_of_line()->vlen : 0;
}

// A pointer_table slot: the key inline (byte 0 its length) or in a blob with
// the hash's low 56 bits above the marker byte; word 2 the pointer.
struct pointer_view : slot_copy<pointer_words> {
  static constexpr std::uint64_t hash_bits = (std::uint64_t{1} << 56) - 1;

  bytes key() const noexcept {
    if (is_blob()) return out_of_line()->key();
    return {reinterpret_cast<const char*>(raw()) + 1, raw()[0]};
  }
  // Bits 0..55 of the key's hash: every bit the tag and the group read.
  std::uint64_t hash() const noexcept { return is_blob() ? w[0] >> 8 : hash_bytes(key()); }
  bool holds(std::uint64_t hash, bytes key) const noexcept {
    if (is_blob()) return (w[0] >> 8) == (hash & hash_bits) && out_of_line()->key() == key;
    return raw()[0] == key.size() &&
           equal_short(raw() + 1, reinterpret_cast<const unsigned char*>(key.data()), key.size());
  }
  void* pointer() const noexcept { return reinterpret_cast<void*>(w[2]); }

  static pointer_view make(std::uint64_t hash, bytes key, void* p) {
    pointer_view s{};
    if (key.size() <= pointer_table_base::inline_key_bytes) {
      auto* b = reinterpret_cast<unsigned char*>(s.w);
      b[0] = static_cast<unsigned char>(key.size());
      if (!key.empty()) std::memcpy(b + 1, key.data(), key.size());
    } else {
      s.w[0] = blob_marker | ((hash & hash_bits) << 8);
      s.w[1] = reinterpret_cast<std::uint64_t>(new_blob(key, {}));
    }
    s.w[2] = reinterpret_cast<std::uint64_t>(p);
    return s;
  }
  static std::size_t blob_bytes_for(bytes key) noexcept {
    return key.size() <= pointer_table_base::inline_key_bytes ? 0 : blob::size_for(key, {});
  }
};
static_assert(pointer_table_base::inline_key_bytes + 1 <= 2 * sizeof(std::uint64_t));

// First free (empty or deleted) slot on the key's probe sequence. The caller
// has made sure one exists.
std::size_t free_slot_for(const table_array* t, std::uint64_t hash) {
  probe_seq seq(hash, t->groups);
  for (;;) {
    const std::uint32_t m = t->tags(seq.pos).free_slots();
    if (m) return seq.pos * flat_table::group_size + __builtin_ctz(m);
    seq.next();
  }
}

// Load factor at most 7/8: 14 entries per group of 16.
constexpr std::size_t max_per_group = 14;

// Whether slot i's deadline (if the array has deadlines) is at or before `now`.
inline bool passed(const table_array* t, std::size_t i, std::uint64_t now) noexcept {
  if (!t->timed) return false;
  return deadline_passed(load_word(t->deadline(i)), now);
}

// How far an insert that would otherwise evict (or is over the memory
// budget) looks for an expired entry first: two groups' slots from the
// sweep cursor, so the search is bounded and the cursor still goes round.
constexpr std::size_t prefer_expired_slots = 32;

std::size_t groups_for(std::size_t entries) noexcept {
  return entries <= max_per_group ? 1 : (entries + max_per_group - 1) / max_per_group;
}

// Growth by half: a table then holds between 7/12 and 7/8 of its slots
// (doubling: 7/16 to 7/8), at the price of moving each entry about twice
// over its growth instead of once.
std::size_t grown(std::size_t groups) noexcept {
  return groups + (groups + 1) / 2;
}

// What follows serves both tables; `View` is the slot format.

// The slot holding `key`, or npos_probe.
template <class View>
std::size_t find_slot(const table_array* t, std::uint64_t hash, bytes key) noexcept {
  if (!t) return npos_probe;
  prefetch_home_slots<View::words>(t, hash);
  return probe(t, hash, [&](std::size_t idx) {
    View s;
    s.load(t, idx);
    return s.holds(hash, key) ? 1 : 0;
  });
}

void prefetch_group_of(const table_array* t, std::uint64_t hash) noexcept {
  if (t) prefetch(t->group(hash_group(hash, t->groups)));
}

void prefetch_candidate_of(const table_array* t, std::uint64_t hash) noexcept {
  if (!t) return;
  const std::size_t g = hash_group(hash, t->groups);
  const std::uint32_t m = t->tags(g).match(tag_of(hash));
  if (m) prefetch(t->slot(g * flat_table::group_size + __builtin_ctz(m)));
}

// A new array of `groups` holding every entry of `old` (null: none), charged
// to the budget (`charged`): nullptr when over budget. `old` is only read, so
// readers may go on using it.
template <class View>
table_array* copy_array(const table_array* old, std::size_t groups, const numa::policy& p,
                        memory_budget& budget, std::size_t& charged, bool timed = false) {
  charged = table_array::footprint(groups, View::words, timed, p);
  if (!budget.reserve(charged)) return nullptr;
  table_array* t;
  try {
    t = table_array::create(groups, View::words, timed, p);
  } catch (...) {
    budget.release(charged);
    throw;
  }
  if (!old) return t;
  for (std::size_t g = 0; g < old->groups; ++g) {
    for (std::uint32_t m = old->tags(g).full_slots(); m; m &= m - 1) {
      const std::size_t i = g * flat_table::group_size + __builtin_ctz(m);
      View s;
      s.load(old, i);
      const std::uint64_t h = s.hash();
      const std::size_t j = free_slot_for(t, h);
      store_slot(t, j, s);
      if (timed) store_word(t->deadline(j), load_word(old->deadline(i)));
      t->set_tag(j, tag_of(h));
    }
  }
  return t;
}

// Retires an array replaced by a copy (its blobs moved to the copy); returns
// the bytes it gave back to the budget.
std::size_t retire_replaced(table_array* old, memory_budget& budget) noexcept {
  if (!old) return 0;
  const std::size_t old_bytes = old->charged();
  budget.release(old_bytes);
  epoch::retire(old, &table_array::destroy, old_bytes);
  return old_bytes;
}

numa::table_report report_of(const table_array* t) {
  numa::table_report r;
  if (!t) return r;
  // The header is immutable once published, and the caller's epoch guard
  // keeps the array mapped while the kernel is asked about its first page.
  r.bytes = t->charged();
  r.where = t->placement;
  r.kernel = numa::read_back(t);
  return r;
}

}  // namespace

// ---------------------------------------------------------------------------
// flat_table

flat_table::~flat_table() {
  // Only destroyed when no reader can reach the table any more (the owning
  // map was retired through the epoch domain or never shared).
  if (table_array* t = array_.load(std::memory_order_relaxed)) table_array::destroy_with_blobs(t);
}

std::size_t flat_table::capacity() const noexcept {
  const table_array* t = array_.load(std::memory_order_acquire);
  return t ? t->capacity() : 0;
}

void flat_table::prefetch_group(std::uint64_t hash) const noexcept {
  prefetch_group_of(array_.load(std::memory_order_acquire), hash);
}

void flat_table::prefetch_candidate(std::uint64_t hash) const noexcept {
  prefetch_candidate_of(array_.load(std::memory_order_acquire), hash);
}

flat_table::found flat_table::find(const table_array* t, std::uint64_t hash, bytes key) const {
  const std::size_t i = find_slot<slot_view>(t, hash, key);
  return {i == npos_probe ? npos : i};
}

void flat_table::read_value(const table_array* t, std::size_t index, std::string* out) const {
  if (!out) return;
  slot_view s;
  s.load(t, index);
  copy_value(*out, s.value());
}

bool flat_table::value_equals(const table_array* t, std::size_t index, bytes value) const {
  slot_view s;
  s.load(t, index);
  return s.value() == value;
}

template <bool Timed>
bool flat_table::get_locked(std::uint64_t hash, bytes key, std::string* out,
                            std::uint64_t* revision, std::uint64_t unless, eviction::handle* handle,
                            std::uint64_t now, std::uint64_t* deadline) const {
  const table_array* t = array_.load(std::memory_order_relaxed);
  const found f = find(t, hash, key);
  if (!f.present()) return false;
  if constexpr (Timed) {
    const std::uint64_t dl = load_word(t->deadline(f.index));
    if (deadline_passed(dl, now)) return false;
    if (deadline) *deadline = dl;
  }
  // One load of the slot for all of it, as the optimistic read (try_get).
  slot_view s;
  s.load(t, f.index);
  if (revision) *revision = s.revision();
  if (handle) *handle = handle_of(s);
  if (out && (unless == 0 || s.revision() != unless)) copy_value(*out, s.value());
  return true;
}
template bool flat_table::get_locked<false>(std::uint64_t, bytes, std::string*, std::uint64_t*,
                                            std::uint64_t, eviction::handle*, std::uint64_t,
                                            std::uint64_t*) const;
template bool flat_table::get_locked<true>(std::uint64_t, bytes, std::string*, std::uint64_t*,
                                           std::uint64_t, eviction::handle*, std::uint64_t,
                                           std::uint64_t*) const;

bool flat_table::rebuild(std::size_t groups, memory_budget& budget) {
  table_array* old = array_.load(std::memory_order_relaxed);
  std::size_t new_bytes;
  // Readers may still use `old`: it is not modified, only copied.
  table_array* t = copy_array<slot_view>(old, groups, policy_, budget, new_bytes, timed_);
  if (!t) return false;
  begin_write();
  array_.store(t, std::memory_order_release);
  end_write();
  used_ = size_.load(std::memory_order_relaxed);
  resizes_.fetch_add(1, std::memory_order_relaxed);
  const std::size_t b = bytes_.load(std::memory_order_relaxed) + new_bytes;
  bytes_.store(b - retire_replaced(old, budget), std::memory_order_relaxed);
  return true;
}

bool flat_table::make_room(memory_budget& budget, std::size_t freeing) {
  const table_array* t = array_.load(std::memory_order_relaxed);
  if (!t) return rebuild(1, budget);
  const std::size_t limit = t->groups * max_per_group;
  if (used_ + 1 <= limit) return true;
  // Grow when live entries fill more than half the limit; otherwise the
  // tombstones are what is full, and a same-size rebuild drops them.
  const std::size_t size = size_.load(std::memory_order_relaxed) - freeing;
  std::size_t groups = size + 1 > limit / 2 ? grown(t->groups) : t->groups;
  // Under a memory budget, a grown array keeps for good bytes that entries
  // need: after a batch of deletes (or expirations) the budget may hold it,
  // and the replacements would then find less room than the deletes made,
  // so the map would refuse entries it held before. While the live entries
  // fit, grow only if the budget could still fill the present table with
  // entries of today's average size after growing; else drop tombstones.
  if (groups != t->groups && size + 1 <= limit && budget.limit() != 0) {
    const std::size_t mine = bytes_.load(std::memory_order_relaxed);
    const std::size_t others = budget.used() - std::min(budget.used(), mine);
    const std::size_t all = size_.load(std::memory_order_relaxed);
    const std::size_t per_entry = all ? blob_bytes() / all : 0;
    const std::size_t after = others + per_entry * limit +
                              table_array::footprint(groups, slot_view::words, timed_, policy_);
    if (after > budget.limit()) groups = t->groups;
  }
  // A table whose budget refuses the rebuild (which needs the new array
  // beside the old for a moment) takes a tombstone rather than fail, while
  // its live entries fit (the essay): what deletes freed stays usable at
  // max_memory. A table that evicts also treats an allocation that fails
  // like a budget that refuses, so that after an eviction for memory
  // nothing can fail any more.
  if (!evict_) return rebuild(groups, budget) || size + 1 <= limit;
  try {
    if (rebuild(groups, budget)) return true;
  } catch (const std::bad_alloc&) {
  }
  return size + 1 <= limit;
}

void flat_table::set_eviction(eviction::policy* p) noexcept {
  evict_ = p;
  inline_limit_ = p ? evicting_inline_bytes : inline_bytes;
}

std::size_t flat_table::find_named(std::uint64_t hash, eviction::handle h) const noexcept {
  const table_array* t = array_.load(std::memory_order_relaxed);
  if (!t) return npos;
  const std::size_t i = probe(t, hash, [&](std::size_t idx) {
    slot_view s;
    s.load(t, idx);
    return handle_of(s) == h ? 1 : 0;
  });
  return i == npos_probe ? npos : i;
}

namespace {
thread_local constinit eviction_sink* t_sink THREADMAP_INITIAL_EXEC_TLS = nullptr;
}  // namespace

eviction_sink* flat_table::sink() noexcept {
  return t_sink;
}

void flat_table::set_sink(eviction_sink* s) noexcept {
  t_sink = s;
}

void flat_table::remove_victim(std::size_t index, memory_budget& budget, revision_clock& clock) {
  slot_view s;
  s.load(array_.load(std::memory_order_relaxed), index);
  const std::uint64_t revision = remove(index, budget, clock);
  // The key is still readable: remove() retires a blob, and the writer's
  // epoch guard keeps it until the sink has copied the key.
  if (eviction_sink* k = t_sink) k->evicted(s.key(), revision);
}

bool flat_table::evict_one(memory_budget& budget, revision_clock& clock) {
  eviction::eviction v;
  if (!evict_ || !evict_->evict(v)) return false;
  const std::size_t i = find_named(v.hash, v.h);
  // The policy names only entries the table stores (the protocol); a miss
  // here would be a bug, and removing nothing is the safe answer to it.
  if (i != npos) remove_victim(i, budget, clock);
  return true;
}

std::size_t flat_table::blob_bytes() const noexcept {
  const table_array* t = array_.load(std::memory_order_acquire);
  const std::size_t b = bytes_.load(std::memory_order_relaxed);
  const std::size_t a = t ? t->charged() : 0;
  return b > a ? b - a : 0;
}

status flat_table::room_for(std::size_t extra, memory_budget& budget, revision_clock& clock) {
  bool checked = false;
  for (;;) {
    const bool full = evict_ && evict_->size() >= evict_->capacity();
    if (!extra || budget.reserve(extra)) {
      bool room;
      try {
        room = make_room(budget, full ? 1 : 0);
      } catch (...) {
        budget.release(extra);
        throw;
      }
      if (room) return status::ok;
      budget.release(extra);
    }
    // Expired entries go first: near the sweep cursor when a policy can name
    // a victim, anywhere in the table before a write is refused.
    if (timed_ && sweep(prefer_expired_slots, budget, clock, 1) != 0) continue;
    if (!evict_) {
      if (timed_ && sweep(capacity(), budget, clock, 1) != 0) continue;
      return status::memory_limit;
    }
    if (!checked) {
      // Evict only if evicting every blob of this table could make the
      // blob fit: otherwise fail now, with nothing changed.
      const std::size_t blobs = blob_bytes();
      const std::size_t limit = budget.limit();
      if (extra > limit || budget.used() - std::min(blobs, budget.used()) + extra > limit)
        return status::memory_limit;
      checked = true;
    }
    if (!evict_one(budget, clock)) return status::memory_limit;
  }
}

void flat_table::remove_entry(std::size_t index, memory_budget& budget, revision_clock& clock) {
  if (evict_) {
    slot_view s;
    s.load(array_.load(std::memory_order_relaxed), index);
    evict_->on_erase(handle_of(s));
  }
  remove(index, budget, clock);
}

// --- expiry ---

void flat_table::set_timed(bool keep_on_overwrite) noexcept {
  timed_ = true;
  keep_deadline_ = keep_on_overwrite;
}

bool flat_table::expired_at(const table_array* t, std::size_t index) const noexcept {
  return passed(t, index, now_);
}

flat_table::found flat_table::find_live(std::uint64_t hash, bytes key, memory_budget& budget,
                                        revision_clock& clock) {
  const table_array* t = array_.load(std::memory_order_relaxed);
  const found f = find(t, hash, key);
  if (!timed_ || !f.present() || !expired_at(t, f.index)) return f;
  reap(f.index, budget, clock);
  return {npos};
}

void flat_table::reap(std::size_t index, memory_budget& budget, revision_clock& clock) {
  slot_view s;
  s.load(array_.load(std::memory_order_relaxed), index);
  if (evict_) evict_->on_erase(handle_of(s));
  const std::uint64_t revision = remove(index, budget, clock);
  expirations_.store(expirations_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  // The key is still readable: remove() retires a blob, and the writer's
  // epoch guard keeps it until the sink has copied the key.
  if (eviction_sink* k = t_sink) k->expired(s.key(), revision);
}

std::size_t flat_table::sweep(std::size_t slots, memory_budget& budget, revision_clock& clock,
                              std::size_t stop_after) {
  const table_array* t = array_.load(std::memory_order_relaxed);
  if (!timed_ || !t) return 0;
  const std::size_t cap = t->capacity();
  if (slots > cap) slots = cap;
  std::size_t reaped = 0;
  // The array does not change under a sweep: remove() only rewrites tags.
  for (std::size_t k = 0; k < slots; ++k) {
    const std::size_t i = sweep_ < cap ? sweep_ : 0;
    sweep_ = i + 1;
    if (!(t->tags(i / group_size).full_slots() & (1u << (i % group_size)))) continue;
    if (!expired_at(t, i)) continue;
    reap(i, budget, clock);
    if (++reaped == stop_after) break;
  }
  return reaped;
}

bool flat_table::reserve(std::size_t entries, memory_budget& budget) {
  const table_array* t = array_.load(std::memory_order_relaxed);
  const std::size_t groups = groups_for(entries);
  if (t && t->groups >= groups) return true;
  return rebuild(groups, budget);
}

status flat_table::insert_new(std::uint64_t hash, bytes key, bytes value, memory_budget& budget,
                              revision_clock& clock) {
  // A full policy would name a live victim: an expired entry near the
  // sweep cursor goes first (the essay, "Expiry").
  if (timed_ && evict_ && evict_->size() >= evict_->capacity())
    sweep(prefer_expired_slots, budget, clock, 1);
  const std::size_t extra = blob_bytes_for(key, value, inline_limit_);
  // The blob first: once room_for has evicted, nothing may fail.
  slot_view s = make_slot(hash, key, value, inline_limit_);
  status st;
  try {
    st = room_for(extra, budget, clock);
  } catch (...) {
    if (s.is_blob()) std::free(s.out_of_line());
    throw;
  }
  if (st != status::ok) {
    if (s.is_blob()) std::free(s.out_of_line());
    return st;
  }
  table_array* t = array_.load(std::memory_order_relaxed);
  // From here nothing fails: the policy's plan, and the victim, the moved
  // entry and the new one in one write section.
  begin_write();
  if (evict_) {
    const eviction::insert_plan plan = evict_->on_insert(hash);
    if (plan.victim) {
      const std::size_t v = find_named(plan.victim->hash, plan.victim->h);
      if (v != npos) remove_victim(v, budget, clock);
    }
    if (plan.moved) {
      const std::size_t m = find_named(plan.moved->hash, plan.moved->from);
      if (m != npos) {
        slot_view moved;
        moved.load(t, m);
        set_handle(moved, plan.moved->to);
        store_slot(t, m, moved);
      }
    }
    set_handle(s, plan.h);
  }
  const std::size_t i = free_slot_for(t, hash);
  const bool was_empty = t->tags(i / group_size).match(tag_empty) & (1u << (i % group_size));
  s.stamp(clock.next());  // inside the section: the write's linearization point
  store_slot(t, i, s);
  if (timed_) store_word(t->deadline(i), deadline_);
  t->set_tag(i, tag_of(hash));
  end_write();
  if (was_empty) ++used_;
  size_.store(size_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  bytes_.store(bytes_.load(std::memory_order_relaxed) + extra, std::memory_order_relaxed);
  return status::inserted;
}

status flat_table::overwrite(std::size_t index, std::uint64_t hash, bytes key, bytes value,
                             memory_budget& budget, revision_clock& clock) {
  table_array* t = array_.load(std::memory_order_relaxed);
  slot_view old;
  old.load(t, index);
  if (inline_over(old, key, value)) {
    overwrite_inline(t, index, old, hash, key, value, clock);
    return status::ok;
  }
  // Only growth over the blob it replaces is reserved, so at the limit a
  // value no longer than the present one is still accepted (the old blob
  // leaves the budget now and is freed once no reader can hold it).
  const std::size_t extra = blob_bytes_for(key, value, inline_limit_);
  const std::size_t freed = blob_bytes_of(old);
  const std::size_t grow = extra > freed ? extra - freed : 0;
  if (grow && !budget.reserve(grow)) return status::memory_limit;
  slot_view s;
  try {
    s = make_slot(hash, key, value, inline_limit_);
  } catch (...) {
    budget.release(grow);
    throw;
  }
  if (evict_) {
    set_handle(s, handle_of(old));
    evict_->on_update(handle_of(old), hash);
  }
  begin_write();
  s.stamp(clock.next());
  store_slot(t, index, s);
  if (timed_ && !keep_write_) store_word(t->deadline(index), deadline_);
  end_write();
  if (freed > extra) budget.release(freed - extra);
  if (old.is_blob()) epoch::retire(old.out_of_line(), &std::free, freed);
  bytes_.store(bytes_.load(std::memory_order_relaxed) + extra - freed, std::memory_order_relaxed);
  return status::ok;
}

std::uint64_t flat_table::remove(std::size_t index, memory_budget& budget, revision_clock& clock) {
  table_array* t = array_.load(std::memory_order_relaxed);
  slot_view old;
  old.load(t, index);
  // If the group still has an empty slot, no probe ever went past it, so this
  // slot can become empty again instead of a tombstone.
  const bool group_has_empty = t->tags(index / group_size).match(tag_empty) != 0;
  begin_write();
  const std::uint64_t revision = clock.next();  // a delete is a revision too
  t->set_tag(index, group_has_empty ? tag_empty : tag_deleted);
  end_write();
  if (group_has_empty) --used_;
  size_.store(size_.load(std::memory_order_relaxed) - 1, std::memory_order_relaxed);
  if (old.is_blob()) {
    const std::size_t freed = blob_bytes_of(old);
    budget.release(freed);
    bytes_.store(bytes_.load(std::memory_order_relaxed) - freed, std::memory_order_relaxed);
    epoch::retire(old.out_of_line(), &std::free, freed);
  }
  return revision;
}

status flat_table::put(std::uint64_t hash, bytes key, bytes value, std::string* old,
                       memory_budget& budget, revision_clock& clock) {
  return put_inline(hash, key, value, old, budget, clock);
}

status flat_table::put_probed(std::uint64_t hash, bytes key, bytes value, std::string* old,
                              memory_budget& budget, revision_clock& clock, std::size_t index) {
  const found f = index == unprobed ? find_live(hash, key, budget, clock) : found{index};
  if (!f.present()) return insert_new(hash, key, value, budget, clock);
  if (!old) return overwrite(f.index, hash, key, value, budget, clock);
  // The old value leaves only if the overwrite happens (memory_limit: nothing changed).
  std::string previous;
  read_value(array_.load(std::memory_order_relaxed), f.index, &previous);
  const status st = overwrite(f.index, hash, key, value, budget, clock);
  if (st == status::ok) old->swap(previous);
  return st;
}

status flat_table::put_if_absent(std::uint64_t hash, bytes key, bytes value, std::string* existing,
                                 memory_budget& budget, revision_clock& clock) {
  const found f = find_live(hash, key, budget, clock);
  const table_array* t = array_.load(std::memory_order_relaxed);
  if (!f.present()) return insert_new(hash, key, value, budget, clock);
  read_value(t, f.index, existing);
  return status::exists;
}

status flat_table::compare_and_set(std::uint64_t hash, bytes key, const bytes* expected,
                                   const bytes* desired, std::string* current,
                                   memory_budget& budget, revision_clock& clock) {
  const found f = find_live(hash, key, budget, clock);
  const table_array* t = array_.load(std::memory_order_relaxed);
  if (!expected) {
    if (f.present()) {
      read_value(t, f.index, current);
      return status::mismatch;
    }
    return desired ? insert_new(hash, key, *desired, budget, clock) : status::ok;
  }
  if (!f.present()) return status::not_found;
  if (!value_equals(t, f.index, *expected)) {
    read_value(t, f.index, current);
    return status::mismatch;
  }
  if (!desired) {
    remove_entry(f.index, budget, clock);
    return status::ok;
  }
  return overwrite(f.index, hash, key, *desired, budget, clock);
}

status flat_table::erase(std::uint64_t hash, bytes key, std::string* old, memory_budget& budget,
                         revision_clock& clock) {
  const found f = find_live(hash, key, budget, clock);
  const table_array* t = array_.load(std::memory_order_relaxed);
  if (!f.present()) return status::not_found;
  read_value(t, f.index, old);
  remove_entry(f.index, budget, clock);
  return status::ok;
}

status flat_table::add(std::uint64_t hash, bytes key, counter_kind kind, counter delta,
                       bytes prefix, counter* result, memory_budget& budget,
                       revision_clock& clock) {
  const found f = find_live(hash, key, budget, clock);
  const table_array* t = array_.load(std::memory_order_relaxed);
  std::string cur;
  if (f.present()) read_value(t, f.index, &cur);
  const bytes cur_view = cur;
  char buf[max_counter_prefix + 8];
  counter next;
  const status computed =
      next_counter(f.present() ? &cur_view : nullptr, kind, delta, prefix, buf, next);
  if (computed != status::ok && computed != status::inserted) return computed;
  const bytes value(buf, prefix.size() + 8);
  const status st = f.present() ? overwrite(f.index, hash, key, value, budget, clock)
                                : insert_new(hash, key, value, budget, clock);
  if ((st == status::ok || st == status::inserted) && result) *result = next;
  return st;
}

void flat_table::clear(memory_budget& budget) {
  if (evict_) evict_->clear();
  table_array* t = array_.load(std::memory_order_relaxed);
  if (!t) return;
  begin_write();
  array_.store(nullptr, std::memory_order_release);
  end_write();
  size_.store(0, std::memory_order_relaxed);
  used_ = 0;
  const std::size_t freed = bytes_.load(std::memory_order_relaxed);
  budget.release(freed);
  bytes_.store(0, std::memory_order_relaxed);
  epoch::retire(t, &table_array::destroy_with_blobs, freed);
}

numa::table_report flat_table::numa_report() const {
  return report_of(array_.load(std::memory_order_acquire));
}

std::size_t flat_table::scan(std::string& out, std::uint64_t now) const {
  const table_array* t = array_.load(std::memory_order_relaxed);
  if (!t) return 0;
  std::size_t n = 0;
  for (std::size_t g = 0; g < t->groups; ++g) {
    for (std::uint32_t m = t->tags(g).full_slots(); m; m &= m - 1) {
      const std::size_t i = g * group_size + __builtin_ctz(m);
      if (now && passed(t, i, now)) continue;
      slot_view s;
      s.load(t, i);
      append_scan_record(out, s.key(), s.value());
      ++n;
    }
  }
  return n;
}

void flat_table::claim(unit_claim& c) noexcept {
  c.entries = size();
  c.next = claims_;
  c.linked = true;
  claims_ = &c;
}

void flat_table::copy_into(unit_claim& c) const noexcept {
  try {
    c.out.clear();
    scan(c.out, c.now);
  } catch (...) {
    // Nothing to copy into: the snapshot is told (it throws on use), and
    // the write goes on.
    std::string().swap(c.out);
    c.failed = true;
  }
  c.linked = false;
  c.next = nullptr;
  c.done.store(true, std::memory_order_release);
}

void flat_table::copy_claims() noexcept {
  for (unit_claim* c = claims_; c;) {
    unit_claim* next = c->next;
    copy_into(*c);
    c = next;
  }
  claims_ = nullptr;
}

void flat_table::unclaim(unit_claim& c) noexcept {
  if (!c.linked) return;
  for (unit_claim** p = &claims_; *p; p = &(*p)->next) {
    if (*p != &c) continue;
    *p = c.next;
    break;
  }
  c.linked = false;
  c.next = nullptr;
}

void flat_table::settle(unit_claim& c) noexcept {
  if (!c.linked) return;
  unclaim(c);
  copy_into(c);
}

namespace flat_table_test {
namespace {
test_seam seam;
}  // namespace
void set_pause_hook(pause_hook h) noexcept {
  seam.install(h);
}
}  // namespace flat_table_test

namespace {
// An unlocked copy re-reads the version this often, so a copy that a
// writer spoiled stops early rather than at the end of a large table.
constexpr std::size_t copy_check_groups = 64;
constexpr std::size_t copied_bytes = flat_words * 8;  // a copied entry: its slot's words
}  // namespace

void flat_table::prepare_copy(std::string& scratch) const {
  const std::size_t n = size();
  const std::size_t want = (n + n / 8 + group_size) * copied_bytes;
  // resize() writes every byte: the pages fault in here, under no lock.
  if (scratch.size() < want) scratch.resize(want);
}

std::optional<std::size_t> flat_table::copy_entries(std::string& scratch, std::uint64_t now,
                                                    bool locked) const {
  const std::uint64_t v = version_.load(std::memory_order_acquire);
  if (!locked && (v & 1)) return std::nullopt;
  const table_array* t = array_.load(std::memory_order_acquire);
  auto still_valid = [&]() noexcept {
    if (locked) return true;
    // Orders the loads above before the version re-check (seqlock reader).
    std::atomic_thread_fence(std::memory_order_acquire);
    return version_.load(std::memory_order_relaxed) == v;
  };
  if (!t) return still_valid() ? std::optional<std::size_t>(0) : std::nullopt;
  const std::size_t room = scratch.size() / copied_bytes;
  char* to = scratch.data();
  std::size_t n = 0;
  for (std::size_t g = 0; g < t->groups; ++g) {
    if (!locked) {
      if (g == t->groups / 2) flat_table_test::seam.at(flat_table_test::copy_window);
      if (g % copy_check_groups == copy_check_groups - 1 && !still_valid()) return std::nullopt;
    }
    for (std::uint32_t m = t->tags(g).full_slots(); m; m &= m - 1) {
      const std::size_t i = g * group_size + __builtin_ctz(m);
      if (now && passed(t, i, now)) continue;
      if (n == room) return std::nullopt;
      slot_view s;
      s.load(t, i);
      std::memcpy(to + n * copied_bytes, s.w, copied_bytes);
      ++n;
    }
  }
  if (!still_valid()) return std::nullopt;
  return n;
}

std::size_t flat_table::append_copied(const std::string& scratch, std::size_t n, std::string& out) {
  for (std::size_t i = 0; i < n; ++i) {
    slot_view s;
    std::memcpy(s.w, scratch.data() + i * copied_bytes, copied_bytes);
    append_scan_record(out, s.key(), s.value());
  }
  return n;
}

// ---------------------------------------------------------------------------
// pointer_table

pointer_table_base::~pointer_table_base() {
  // Only destroyed when no reader can reach the table any more.
  if (table_array* t = array_.load(std::memory_order_relaxed)) table_array::destroy_with_blobs(t);
}

std::size_t pointer_table_base::capacity() const noexcept {
  const table_array* t = array_.load(std::memory_order_relaxed);
  return t ? t->capacity() : 0;
}

void pointer_table_base::prefetch_group(std::uint64_t hash) const noexcept {
  prefetch_group_of(array_.load(std::memory_order_acquire), hash);
}

void pointer_table_base::prefetch_candidate(std::uint64_t hash) const noexcept {
  prefetch_candidate_of(array_.load(std::memory_order_acquire), hash);
}

numa::table_report pointer_table_base::numa_report() const {
  return report_of(array_.load(std::memory_order_acquire));
}

void* pointer_table_base::find_pointer(std::uint64_t hash, bytes key) const noexcept {
  const table_array* t = array_.load(std::memory_order_acquire);
  const std::size_t i = find_slot<pointer_view>(t, hash, key);
  if (i == npos_probe) return nullptr;
  pointer_view s;
  s.load(t, i);
  return s.pointer();
}

bool pointer_table_base::rebuild(std::size_t groups, memory_budget& budget) {
  table_array* old = array_.load(std::memory_order_relaxed);
  std::size_t new_bytes;
  table_array* t = copy_array<pointer_view>(old, groups, policy_, budget, new_bytes);
  if (!t) return false;
  array_.store(t, std::memory_order_release);
  ++resizes_;
  bytes_ += new_bytes;
  bytes_ -= retire_replaced(old, budget);
  return true;
}

bool pointer_table_base::reserve(std::size_t entries, memory_budget& budget) {
  const table_array* t = array_.load(std::memory_order_relaxed);
  const std::size_t groups = groups_for(entries);
  if (t && t->groups >= groups) return true;
  return rebuild(groups, budget);
}

status pointer_table_base::insert_pointer(std::uint64_t hash, bytes key, void* p,
                                          memory_budget& budget) {
  if (find_slot<pointer_view>(array_.load(std::memory_order_relaxed), hash, key) != npos_probe) {
    return status::exists;
  }
  const std::size_t extra = pointer_view::blob_bytes_for(key);
  if (extra && !budget.reserve(extra)) return status::memory_limit;
  pointer_view s;
  try {
    // Keys are never erased, so every used slot holds an entry: the table
    // grows when the entries reach 7/8 of its slots.
    const table_array* t = array_.load(std::memory_order_relaxed);
    const bool room =
        t ? size_ + 1 <= t->groups * max_per_group || rebuild(grown(t->groups), budget)
          : rebuild(1, budget);
    if (!room) {
      budget.release(extra);
      return status::memory_limit;
    }
    s = pointer_view::make(hash, key, p);
  } catch (...) {
    budget.release(extra);
    throw;
  }
  table_array* t = array_.load(std::memory_order_relaxed);
  const std::size_t i = free_slot_for(t, hash);
  store_slot(t, i, s);
  t->set_tag(i, tag_of(hash));
  ++size_;
  bytes_ += extra;
  return status::inserted;
}

std::size_t pointer_table_base::next(std::size_t from, bytes& key, void*& p) const noexcept {
  const table_array* t = array_.load(std::memory_order_relaxed);
  if (!t) return end;
  for (std::size_t g = from / flat_table::group_size; g < t->groups; ++g) {
    std::uint32_t m = t->tags(g).full_slots();
    if (g == from / flat_table::group_size) m &= ~0u << (from % flat_table::group_size);
    if (!m) continue;
    const std::size_t i = g * flat_table::group_size + __builtin_ctz(m);
    // The key is viewed where it lives (the slot, or its blob), not copied.
    const std::uint64_t* w = t->slot(i);
    const auto* raw = reinterpret_cast<const unsigned char*>(w);
    key = raw[0] == blob_marker ? reinterpret_cast<blob*>(load_word(w + 1))->key()
                                : bytes(reinterpret_cast<const char*>(raw) + 1, raw[0]);
    p = reinterpret_cast<void*>(load_word(w + 2));
    return i + 1;
  }
  return end;
}

}  // namespace threadmap::detail
