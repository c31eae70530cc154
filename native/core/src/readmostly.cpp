// The readmostly strategy; its protocol is described in threadmap/detail/readmostly.hpp.
#include "threadmap/detail/readmostly.hpp"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <stdexcept>
#include <utility>
#include <vector>

#include "threadmap/detail/alloc.hpp"
#include "threadmap/detail/counter_value.hpp"
#include "threadmap/detail/hash.hpp"
#include "threadmap/detail/numa.hpp"
#include "threadmap/detail/prefetch.hpp"
#include "threadmap/epoch.hpp"

namespace threadmap {

struct readmostly_map::value_node {
  std::uint64_t rev;  // the revision of the write that made it; set before it is published
  std::uint32_t len;
  bytes view() const noexcept { return {reinterpret_cast<const char*>(this + 1), len}; }
  static std::size_t size_for(std::size_t len) noexcept { return sizeof(value_node) + len; }
};

struct readmostly_map::entry {
  std::atomic<value_node*> p;
};

namespace {

// An entry's word is a value node (from malloc: at least 8-aligned, so its
// low three bits are 0) or one of two tagged states that carry a revision
// r in the bits above: deleted (r << 3 | 2, r the delete's revision, so no
// two deleted states of an entry are equal and a CAS from one can never
// succeed on another: revision.hpp's argument) and expunged (r << 3 | 4,
// keeping the revision of the deleted state it replaced, so undoing the
// expunging restores exactly that state).
constexpr std::uintptr_t deleted_tag = 2, expunged_tag = 4, tag_mask = 7;

template <class Node>
Node* deleted_state(std::uint64_t r) noexcept {
  return reinterpret_cast<Node*>(static_cast<std::uintptr_t>(r << 3) | deleted_tag);
}
template <class Node>
bool is_live(const Node* p) noexcept {
  return p && (reinterpret_cast<std::uintptr_t>(p) & tag_mask) == 0;
}
template <class Node>
bool is_expunged(const Node* p) noexcept {
  return (reinterpret_cast<std::uintptr_t>(p) & tag_mask) == expunged_tag;
}
template <class Node>
bool is_deleted(const Node* p) noexcept {
  return !is_live(p) && !is_expunged(p);
}
// deleted <-> expunged, keeping the revision.
template <class Node>
Node* expunged_of(const Node* deleted) noexcept {
  return reinterpret_cast<Node*>((reinterpret_cast<std::uintptr_t>(deleted) & ~tag_mask) |
                                 expunged_tag);
}
template <class Node>
Node* deleted_of(const Node* expunged) noexcept {
  return reinterpret_cast<Node*>((reinterpret_cast<std::uintptr_t>(expunged) & ~tag_mask) |
                                 deleted_tag);
}

}  // namespace

readmostly_map::readmostly_map(const options& opts)
    : read_(nullptr),
      capacity_(opts.capacity),
      policy_(opts.numa_policy),
      budget_(opts.max_memory) {
  check_numa_policy(policy_);  // before anything is allocated
  // `capacity` sizes every dirty table (the read tables are former dirty
  // ones). Check up front that one such table fits in max_memory, with the
  // placement it will have (a mapped array is charged page-rounded).
  if (capacity_) {
    entry_table probe;
    probe.set_numa_policy(policy_);
    if (!probe.reserve(capacity_, *budget_)) {
      throw std::length_error("threadmap: capacity needs more memory than max_memory allows");
    }
    budget_->release(probe.bytes_used());
  }
  read_.store(new readonly{new_table(), false}, std::memory_order_relaxed);
}

readmostly_map::entry_table* readmostly_map::new_table() const {
  auto* t = new entry_table;
  t->set_numa_policy(policy_);  // before the table is shared
  return t;
}

readmostly_map::~readmostly_map() {
  // No other thread can be inside a call: free everything directly. Each
  // entry once: with a dirty table, read's entries that are not expunged are
  // in dirty too (read is walked first, while they are all still there).
  readonly* r = read_.load(std::memory_order_relaxed);
  auto drop = [](bytes, entry* e) {
    value_node* p = e->p.load(std::memory_order_relaxed);
    if (is_live(p)) std::free(p);
    delete e;
  };
  r->table->for_each([&](bytes k, entry* e) {
    if (!dirty_ || is_expunged(e->p.load(std::memory_order_relaxed))) drop(k, e);
  });
  if (dirty_) dirty_->for_each(drop);
  delete dirty_;
  delete r->table;
  delete r;
}

readmostly_map::value_node* readmostly_map::make_node(bytes v, std::size_t charge) {
  const std::size_t n = value_node::size_for(v.size());
  if (charge == full_charge) charge = n;
  if (charge && !budget_->reserve(charge)) return nullptr;
  auto* node = static_cast<value_node*>(detail::allocate(n));
  if (!node) {
    budget_->release(charge);
    throw std::bad_alloc();
  }
  node->len = static_cast<std::uint32_t>(v.size());
  if (!v.empty()) std::memcpy(node + 1, v.data(), v.size());
  return node;
}

void readmostly_map::free_unpublished(value_node* n, std::size_t charge) {
  if (!n) return;
  budget_->release(charge == full_charge ? value_node::size_for(n->len) : charge);
  std::free(n);
}

void readmostly_map::retire_node(value_node* n) {
  if (!is_live(n)) return;
  const std::size_t bytes = value_node::size_for(n->len);
  budget_->release(bytes);
  epoch::retire(n, &std::free, bytes);
}

// What a promotion or clear() drops: tables, the readonly cell, entries and
// value nodes, retired as one object. Retiring each item on its own costs a
// fence, shared counter updates and a pending record per item, which a map of
// millions of entries feels (and the records alone outweigh the entries).
// Owns everything it lists, and nothing else (the map may be gone when it is
// freed).
struct readmostly_map::garbage {
  // Each entry with the value it last held (null: none). They were allocated
  // together, and are freed together in address order, so malloc finds the
  // neighbours it coalesces with still in cache: in table (hash) order,
  // freeing all values and then all entries was several times slower.
  std::vector<std::pair<entry*, value_node*>> entries;
  entry_table* tables[2] = {nullptr, nullptr};
  readonly* cell = nullptr;

  static void destroy(void* p) noexcept {
    auto* g = static_cast<garbage*>(p);
    std::sort(g->entries.begin(), g->entries.end());
    for (const auto& [e, n] : g->entries) {
      std::free(n);
      delete e;
    }
    for (entry_table* t : g->tables) delete t;
    delete g->cell;
    delete g;
  }
};

void readmostly_map::retire_garbage(garbage* g) {
  // Released now: the budget counts what the map holds, not what awaits
  // freeing (as for every other retirement).
  std::size_t bytes = g->entries.size() * sizeof(entry);
  for (const auto& item : g->entries)
    bytes += item.second ? value_node::size_for(item.second->len) : 0;
  for (const entry_table* t : g->tables) bytes += t ? t->bytes_used() : 0;
  budget_->release(bytes);
  epoch::retire(g, &garbage::destroy, bytes);
}

template <class Decide>
std::optional<status> readmostly_map::cas_loop(entry* e, Decide& decide) {
  for (;;) {
    value_node* p = e->p.load(std::memory_order_acquire);
    if (is_expunged(p)) return std::nullopt;
    const bool live = is_live(p);
    const decision d = live ? decide(std::optional<bytes>(p->view())) : decide(std::nullopt);
    if (d.kind == decision::keep || (d.kind == decision::erase && !live)) return d.result;
    // A replacement reserves only its growth over p, so at the limit a value
    // no larger than the present one is still accepted; p's bytes leave the
    // budget when the swap succeeds (p is freed once no reader holds it).
    const std::size_t have = live ? value_node::size_for(p->len) : 0;
    const std::size_t need = d.kind == decision::set ? value_node::size_for(d.value.size()) : 0;
    const std::size_t charge = need > have ? need - have : 0;
    value_node* n = nullptr;
    if (d.kind == decision::set && !(n = make_node(d.value, charge))) return status::memory_limit;
    // Drawn after the load of p and before the CAS that replaces it, again
    // on every attempt (threadmap/detail/revision.hpp).
    const std::uint64_t r = clock_.next();
    if (n) n->rev = r;
    value_node* to = n ? n : deleted_state<value_node>(r);
    if (e->p.compare_exchange_strong(p, to, std::memory_order_acq_rel, std::memory_order_acquire)) {
      if (!live && n) size_.add(1);
      if (live && !n) size_.add(-1);
      if (have > need) budget_->release(have - need);
      if (live) epoch::retire(p, &std::free, have);
      return d.result;
    }
    free_unpublished(n, charge);
  }
}

void readmostly_map::miss_locked() const {
  if (!dirty_ || ++misses_ < dirty_->size()) return;
  auto* self = const_cast<readmostly_map*>(this);
  readonly* old = read_.load(std::memory_order_relaxed);
  // What can fail (allocation) comes before the promotion changes anything.
  std::unique_ptr<garbage> g(new garbage);
  g->entries.reserve(old->table->size());
  read_.store(new readonly{dirty_, false}, std::memory_order_release);
  dirty_ = nullptr;
  misses_ = 0;
  // The old read table's expunged entries were never copied to dirty: nothing
  // reaches them any more.
  old->table->for_each([&](bytes, entry* e) {
    if (is_expunged(e->p.load(std::memory_order_relaxed))) g->entries.emplace_back(e, nullptr);
  });
  g->tables[0] = old->table;
  g->cell = old;
  self->retire_garbage(g.release());
}

bool readmostly_map::make_dirty_locked(std::uint64_t hash, bytes key, entry* e) {
  readonly* r = read_.load(std::memory_order_relaxed);
  auto* cell = new readonly{r->table, true};
  entry_table* d = nullptr;
  bool ok = false;
  try {
    d = new_table();
    // Room for the live entries and the new one; `capacity` asks for more
    // when the budget has it (a hint: two tables of that size may not fit).
    const std::size_t live = size() + 1;
    ok = (capacity_ > live && d->reserve(capacity_, *budget_)) || d->reserve(live, *budget_);
    r->table->for_each([&](bytes k, entry* x) {
      if (!ok) return;
      // Deleted entries become expunged and stay out of dirty.
      value_node* p = x->p.load(std::memory_order_acquire);
      while (is_deleted(p)) {
        value_node* const to = expunged_of(p);
        if (x->p.compare_exchange_weak(p, to, std::memory_order_acq_rel)) p = to;
      }
      if (is_expunged(p)) return;
      ok = d->insert(hash_bytes(k), k, x, *budget_) == status::inserted;
    });
    if (ok) ok = d->insert(hash, key, e, *budget_) == status::inserted;
  } catch (...) {
    discard_dirty(*r->table, d);
    delete cell;
    throw;
  }
  if (!ok) {
    discard_dirty(*r->table, d);
    delete cell;
    return false;
  }
  dirty_ = d;
  read_.store(cell, std::memory_order_release);
  epoch::retire(r, [](void* p) { delete static_cast<readonly*>(p); });
  return true;
}

void readmostly_map::discard_dirty(const entry_table& read, entry_table* d) {
  // Every expunged entry of read was expunged by this copy: without a dirty
  // table there is none. Lock-free writers never change an expunged entry, and
  // one that saw it waits for the lock and looks again, so turning it back
  // into a deleted one is invisible.
  read.for_each([](bytes, entry* x) {
    value_node* p = x->p.load(std::memory_order_relaxed);
    if (is_expunged(p)) x->p.store(deleted_of(p), std::memory_order_release);
  });
  if (!d) return;
  budget_->release(d->bytes_used());
  delete d;
}

status readmostly_map::insert_locked(std::uint64_t hash, bytes key, bytes value, status result) {
  if (!budget_->reserve(sizeof(entry))) return status::memory_limit;
  value_node* n = nullptr;
  entry* e = nullptr;
  auto undo = [&] {
    free_unpublished(n);
    delete e;
    budget_->release(sizeof(entry));
  };
  try {
    n = make_node(value);
    if (!n) {
      undo();
      return status::memory_limit;
    }
    e = new entry{{n}};
    // With a dirty table the key goes into it; without one, the new table
    // holds it from the start, so a failure anywhere leaves none.
    const bool ok = dirty_ ? dirty_->insert(hash, key, e, *budget_) == status::inserted
                           : make_dirty_locked(hash, key, e);
    if (!ok) {
      undo();
      return status::memory_limit;
    }
  } catch (...) {
    undo();
    throw;
  }
  // Only lock holders read the dirty table that now holds e, so stamping
  // after the insert (which may fail and must then leave the clock alone) is
  // still before any thread can read it.
  n->rev = clock_.next();
  size_.add(1);
  return result;
}

template <class Decide>
status readmostly_map::modify(bytes key, Decide&& decide) {
  epoch::guard g;
  const std::uint64_t h = hash_bytes(key);
  // Lock-free when the key is in the read table and not expunged.
  if (entry* e = lookup(read_.load(std::memory_order_acquire)->table, h, key)) {
    if (const std::optional<status> st = cas_loop(e, decide)) return *st;
  }
  std::lock_guard lock(lock_);
  readonly* r = read_.load(std::memory_order_relaxed);
  if (entry* e = lookup(r->table, h, key)) {
    value_node* p = e->p.load(std::memory_order_acquire);
    if (!is_expunged(p)) return *cas_loop(e, decide);  // only we expunge
    // Expunged: absent, and not in dirty. A set puts it back into dirty.
    const decision d = decide(std::nullopt);
    if (d.kind != decision::set) return d.result;
    // An expunged entry implies a dirty table: every path that expunges
    // either installs one or undoes the expunging (make_dirty_locked), and
    // only promotion and clear() drop a dirty table, retiring what it left.
    value_node* n = make_node(d.value);
    if (!n) return status::memory_limit;
    status st;
    try {
      st = dirty_->insert(h, key, e, *budget_);
    } catch (...) {
      free_unpublished(n);
      throw;
    }
    if (st != status::inserted) {
      free_unpublished(n);
      return status::memory_limit;
    }
    n->rev = clock_.next();  // under the lock; lock-free writers leave an expunged entry alone
    e->p.store(n, std::memory_order_release);
    size_.add(1);
    return d.result;
  }
  if (r->amended) {
    if (entry* e = lookup(dirty_, h, key)) {
      const status st = *cas_loop(e, decide);  // dirty-only entries are never expunged
      miss_locked();
      return st;
    }
  }
  const decision d = decide(std::nullopt);
  if (d.kind != decision::set) return d.result;
  return insert_locked(h, key, d.value, d.result);
}

bool readmostly_map::get(bytes key, std::string* out, std::uint64_t* revision,
                         std::uint64_t unless) const {
  if (key.size() > max_key_bytes) return false;
  epoch::guard g;
  const std::uint64_t h = hash_bytes(key);
  const readonly* r = read_.load(std::memory_order_acquire);
  entry* e = lookup(r->table, h, key);
  if (!e && r->amended) {
    std::lock_guard lock(lock_);
    r = read_.load(std::memory_order_relaxed);
    e = lookup(r->table, h, key);
    if (!e && r->amended) {
      e = lookup(dirty_, h, key);
      miss_locked();
    }
  }
  if (!e) return false;
  const value_node* p = e->p.load(std::memory_order_acquire);
  if (!is_live(p)) return false;
  if (revision) *revision = p->rev;
  if (out && (unless == 0 || p->rev != unless)) out->assign(p->view().data(), p->view().size());
  return true;
}

void readmostly_map::get_many(const bytes* keys, std::size_t n, std::string* out,
                              bool* found) const {
  // The lookups of a batch overlap their cache misses in stages `lag` keys
  // apart: (1) hash, prefetch the read table's tag group; (2) prefetch the
  // candidate slot; (3) look the key up in the read table, as get() does,
  // and prefetch its entry; (4) load the entry's value pointer (get()'s
  // linearization point) and prefetch the node; (5) copy the value. A key
  // that misses in `read` while it is amended takes get()'s own locked path
  // at stage 5. Stages 1 and 2 are hints on an immutable table.
  constexpr std::size_t lag = 8, ring = 4 * lag + 1;
  struct state {
    std::uint64_t hash = 0;
    entry* e = nullptr;
    const value_node* p = nullptr;
    bool slow = false;
  };
  state st[ring];
  epoch::guard g;
  for (std::size_t i = 0; i < n + 4 * lag; ++i) {
    if (i < n) {
      state& s = st[i % ring];
      s = {};
      s.hash = hash_bytes(keys[i]);
      read_.load(std::memory_order_acquire)->table->prefetch_group(s.hash);
    }
    if (i >= lag && i - lag < n) {
      read_.load(std::memory_order_acquire)->table->prefetch_candidate(st[(i - lag) % ring].hash);
    }
    if (i >= 2 * lag && i - 2 * lag < n) {
      const std::size_t j = i - 2 * lag;
      state& s = st[j % ring];
      if (keys[j].size() <= max_key_bytes) {
        const readonly* r = read_.load(std::memory_order_acquire);
        s.e = lookup(r->table, s.hash, keys[j]);
        if (s.e) prefetch(s.e);
        s.slow = !s.e && r->amended;
      }
    }
    if (i >= 3 * lag && i - 3 * lag < n) {
      state& s = st[(i - 3 * lag) % ring];
      if (s.e) {
        s.p = s.e->p.load(std::memory_order_acquire);
        if (!is_live(s.p)) s.p = nullptr;
        if (s.p) prefetch(s.p);
      }
    }
    if (i >= 4 * lag) {
      const std::size_t j = i - 4 * lag;
      const state& s = st[j % ring];
      std::string* o = out ? &out[j] : nullptr;
      if (s.slow) {
        found[j] = get(keys[j], o);
      } else {
        found[j] = s.p != nullptr;
        if (s.p && o) o->assign(s.p->view().data(), s.p->view().size());
      }
    }
  }
}

status readmostly_map::put(bytes key, bytes value, std::string* old) {
  if (key.size() > max_key_bytes || value.size() > max_value_bytes) return status::too_large;
  return modify(key, [&](std::optional<bytes> cur) {
    if (!cur) return decision{decision::set, value, status::inserted};
    if (old) old->assign(cur->data(), cur->size());
    return decision{decision::set, value, status::ok};
  });
}

status readmostly_map::put_if_absent(bytes key, bytes value, std::string* existing) {
  if (key.size() > max_key_bytes || value.size() > max_value_bytes) return status::too_large;
  return modify(key, [&](std::optional<bytes> cur) {
    if (!cur) return decision{decision::set, value, status::inserted};
    if (existing) existing->assign(cur->data(), cur->size());
    return decision{decision::keep, {}, status::exists};
  });
}

status readmostly_map::compare_and_set(bytes key, const bytes* expected, const bytes* desired,
                                       std::string* current) {
  if (key.size() > max_key_bytes || (desired && desired->size() > max_value_bytes)) {
    return status::too_large;
  }
  return modify(key, [&](std::optional<bytes> cur) {
    if (!expected) {
      if (cur) {
        if (current) current->assign(cur->data(), cur->size());
        return decision{decision::keep, {}, status::mismatch};
      }
      if (!desired) return decision{decision::keep, {}, status::ok};
      return decision{decision::set, *desired, status::inserted};
    }
    if (!cur) return decision{decision::keep, {}, status::not_found};
    if (*cur != *expected) {
      if (current) current->assign(cur->data(), cur->size());
      return decision{decision::keep, {}, status::mismatch};
    }
    if (!desired) return decision{decision::erase, {}, status::ok};
    return decision{decision::set, *desired, status::ok};
  });
}

status readmostly_map::erase(bytes key, std::string* old) {
  if (key.size() > max_key_bytes) return status::not_found;
  return modify(key, [&](std::optional<bytes> cur) {
    if (!cur) return decision{decision::keep, {}, status::not_found};
    if (old) old->assign(cur->data(), cur->size());
    return decision{decision::erase, {}, status::ok};
  });
}

status readmostly_map::add(bytes key, counter_kind kind, counter delta, bytes prefix,
                           counter* result) {
  if (key.size() > max_key_bytes || prefix.size() > detail::max_counter_prefix) {
    return status::too_large;
  }
  char buf[detail::max_counter_prefix + 8];
  return modify(key, [&](std::optional<bytes> cur) {
    counter next;
    const status st = detail::next_counter(cur ? &*cur : nullptr, kind, delta, prefix, buf, next);
    if (st != status::ok && st != status::inserted) return decision{decision::keep, {}, st};
    if (result) *result = next;
    return decision{decision::set, bytes(buf, prefix.size() + 8), st};
  });
}

std::size_t readmostly_map::size() const {
  const std::int64_t n = size_.sum();
  return n < 0 ? 0 : static_cast<std::size_t>(n);
}

void readmostly_map::clear() {
  epoch::guard g;
  std::lock_guard lock(lock_);
  readonly* r = read_.load(std::memory_order_relaxed);
  // What can fail (allocation) comes before anything changes; the garbage
  // lists are sized for every entry of both tables, so filling them cannot.
  std::unique_ptr<garbage> dropped(new garbage);
  const std::size_t most = r->table->size() + (dirty_ ? dirty_->size() : 0);
  dropped->entries.reserve(most);
  std::unique_ptr<entry_table> empty(new_table());
  auto* cell = new readonly{empty.get(), false};
  read_.store(cell, std::memory_order_release);
  empty.release();
  entry_table* dirty = dirty_;
  dirty_ = nullptr;
  misses_ = 0;
  std::int64_t present = 0;
  auto drop = [&](bytes, entry* e) {
    // A thread still holding `e` sees expunged, takes the lock and finds the
    // new, empty tables.
    value_node* p = e->p.exchange(expunged_of<value_node>(nullptr), std::memory_order_acq_rel);
    if (!is_live(p)) p = nullptr;
    if (p) ++present;
    dropped->entries.emplace_back(e, p);
  };
  // Each entry once: with a dirty table, read's entries that are not expunged
  // are in dirty too, so read (walked first) gives only its expunged ones.
  r->table->for_each([&](bytes k, entry* e) {
    if (!dirty || is_expunged(e->p.load(std::memory_order_acquire))) drop(k, e);
  });
  if (dirty) dirty->for_each(drop);
  // After every entry is expunged: an update that beat the expunging drew
  // its revision before this one (threadmap/detail/revision.hpp).
  clock_.next();
  size_.add(-present);
  dropped->tables[0] = r->table;
  dropped->tables[1] = dirty;
  dropped->cell = r;
  retire_garbage(dropped.release());
}

std::size_t readmostly_map::scan(std::size_t unit, std::string& out) const {
  if (unit != 0) return 0;
  epoch::guard g;
  std::lock_guard lock(lock_);
  const readonly* r = read_.load(std::memory_order_relaxed);
  std::size_t n = 0;
  // When amended, dirty holds every live entry; otherwise read does.
  (r->amended ? dirty_ : r->table)->for_each([&](bytes key, entry* e) {
    const value_node* p = e->p.load(std::memory_order_acquire);
    if (!is_live(p)) return;
    append_scan_record(out, key, p->view());
    ++n;
  });
  return n;
}

map_stats readmostly_map::stats() const {
  epoch::guard g;
  std::lock_guard lock(lock_);
  map_stats st;
  st.strategy = strategy_kind::readmostly;
  st.stripes = 1;
  st.size = size();
  const readonly* r = read_.load(std::memory_order_relaxed);
  st.capacity = r->table->capacity() + (dirty_ ? dirty_->capacity() : 0);
  st.resizes = r->table->resizes() + (dirty_ ? dirty_->resizes() : 0);
  st.bytes = budget_->used() + sizeof(*this);
  return st;
}

std::vector<numa::table_report> readmostly_map::placement() const {
  // The lock makes read and dirty one consistent pair (a promotion or clear
  // replaces both under it) and is what guards dirty_; the guard keeps the
  // arrays mapped while the kernel is asked about them.
  epoch::guard g;
  std::lock_guard lock(lock_);
  std::vector<numa::table_report> v;
  v.push_back(read_.load(std::memory_order_relaxed)->table->numa_report());
  v.back().table = read_table;
  if (dirty_) {
    v.push_back(dirty_->numa_report());
    v.back().table = dirty_table;
  }
  return v;
}

}  // namespace threadmap
