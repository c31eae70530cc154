// The `ordered` strategy: see threadmap/detail/ordered.hpp for the protocol.
#include "threadmap/detail/ordered.hpp"

#include <algorithm>
#include <bit>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>
#include <stdexcept>

#include "threadmap/detail/alloc.hpp"
#include "threadmap/detail/counter.hpp"
#include "threadmap/detail/counter_value.hpp"
#include "threadmap/detail/flat_table.hpp"  // detail::memory_budget
#include "threadmap/detail/hash.hpp"
#include "threadmap/detail/numa.hpp"
#include "threadmap/detail/rw_spinlock.hpp"  // backoff
#include "threadmap/epoch.hpp"

namespace threadmap {

// ---------------------------------------------------------------------------
// Key order

namespace {

int sign_of(int c) noexcept {
  return (c > 0) - (c < 0);
}

int compare_bytes(bytes a, bytes b) noexcept {
  const std::size_t n = std::min(a.size(), b.size());
  if (n != 0)
    if (const int c = std::memcmp(a.data(), b.data(), n)) return sign_of(c);
  return (a.size() > b.size()) - (a.size() < b.size());
}

template <class T>
int compare_values(T a, T b) noexcept {
  return (a > b) - (a < b);
}

std::uint64_t load_u64(const char* p) noexcept {
  std::uint64_t u;
  std::memcpy(&u, p, 8);
  return u;
}

// A double's bits made into an unsigned integer that sorts as the double:
// negatives (sign set) reversed below the positives. -0 sorts just below +0
// and NaNs beyond the infinities; the codec stores neither -0 keys nor any
// NaN but the positive canonical one, which sorts last.
std::uint64_t double_rank(const char* p) noexcept {
  const std::uint64_t u = load_u64(p);
  return (u >> 63) ? ~u : u | (std::uint64_t{1} << 63);
}

int compare_number(bytes a, bytes b) noexcept {
  const bool da = a.size() == 8, db = b.size() == 8;
  if (da && db) return compare_values(double_rank(a.data()), double_rank(b.data()));
  if (da != db) return da ? -1 : 1;
  return compare_bytes(a, b);
}

// The bigint forms (threadmap/wire.hpp): 8 bytes of int64, or a sign byte and
// a magnitude beyond int64 in little-endian words. Ranks: 0 a long negative,
// 1 an int64, 2 a long positive, 3 bytes no bigint encodes to.
int bigint_rank(bytes k) noexcept {
  if (k.size() == 8) return 1;
  if (k.size() >= 9 && (k.size() - 1) % 8 == 0 && static_cast<std::uint8_t>(k[0]) <= 1)
    return k[0] == 1 ? 0 : 2;
  return 3;
}

int compare_bigint(bytes a, bytes b) noexcept {
  const int ra = bigint_rank(a), rb = bigint_rank(b);
  if (ra != rb) return ra < rb ? -1 : 1;
  if (ra == 1)
    return compare_values(static_cast<std::int64_t>(load_u64(a.data())),
                          static_cast<std::int64_t>(load_u64(b.data())));
  if (ra == 3) return compare_bytes(a, b);
  // Two magnitudes: more words is larger; else the highest differing word.
  int c = compare_values(a.size(), b.size());
  for (std::size_t i = a.size(); c == 0 && i > 1; i -= 8)
    c = compare_values(load_u64(a.data() + i - 8), load_u64(b.data() + i - 8));
  return ra == 0 ? -c : c;
}

// `any` keys: one tag byte (native/addon/codec.hpp, any_tag), then the payload.
constexpr std::uint8_t any_number = 4, any_bigint = 6;

int compare_any(bytes a, bytes b) noexcept {
  if (a.empty() || b.empty() || a[0] != b[0]) return compare_bytes(a.substr(0, 1), b.substr(0, 1));
  switch (static_cast<std::uint8_t>(a[0])) {
    case any_number:
      return compare_number(a.substr(1), b.substr(1));
    case any_bigint:
      return compare_bigint(a.substr(1), b.substr(1));
    default:
      return compare_bytes(a.substr(1), b.substr(1));
  }
}

}  // namespace

int compare_keys(key_order order, bytes a, bytes b) noexcept {
  switch (order) {
    case key_order::number:
      return compare_number(a, b);
    case key_order::bigint:
      return compare_bigint(a, b);
    case key_order::any:
      return compare_any(a, b);
    case key_order::bytes:
      break;
  }
  return compare_bytes(a, b);
}

namespace ordered_test {
namespace {
detail::test_seam seam;
}  // namespace
void set_pause_hook(pause_hook h) noexcept {
  seam.install(h);
}
}  // namespace ordered_test

// ---------------------------------------------------------------------------
// Nodes and generations

namespace ordered_detail {

constexpr std::uintptr_t erased = 1;  // the mark, bit 0 of a value word
constexpr unsigned levels = ordered_map::max_height;

// What a node or value node of `n` requested bytes is charged (malloc's granule).
constexpr std::size_t charged(std::size_t n) noexcept {
  return (n + 15) & ~std::size_t{15};
}

struct value_node {
  std::uint64_t revision;  // of the write that made it, set before it is published
  std::uint32_t len;
  std::uint32_t spare;
  char* data() noexcept { return reinterpret_cast<char*>(this + 1); }
  const char* data() const noexcept { return reinterpret_cast<const char*>(this + 1); }
  bytes view() const noexcept { return {data(), len}; }
  std::size_t cost() const noexcept { return charged(sizeof(value_node) + len); }
};
static_assert(sizeof(value_node) == 16);

struct node {
  std::atomic<std::uintptr_t> value{0};  // value_node*, | erased
  std::atomic<std::uint8_t> lock{0};
  std::atomic<std::uint8_t> linked{0};  // 1 once linked at every level
  std::uint8_t height = 0;
  std::uint32_t key_len = 0;

  std::atomic<node*>* next() noexcept { return reinterpret_cast<std::atomic<node*>*>(this + 1); }
  const std::atomic<node*>* next() const noexcept {
    return reinterpret_cast<const std::atomic<node*>*>(this + 1);
  }
  const char* key_data() const noexcept {
    return reinterpret_cast<const char*>(this + 1) + height * sizeof(std::atomic<node*>);
  }
  bytes key() const noexcept { return {key_data(), key_len}; }
  std::size_t cost() const noexcept { return charged(request(height, key_len)); }

  static std::size_t request(unsigned height, std::size_t key_len) noexcept {
    return sizeof(node) + height * sizeof(std::atomic<node*>) + key_len;
  }

  void acquire() noexcept {
    backoff b;
    while (lock.exchange(1, std::memory_order_acquire) != 0) b.pause();
  }
  void release() noexcept { lock.store(0, std::memory_order_release); }
};
static_assert(sizeof(node) == 16);
static_assert(alignof(std::atomic<node*>) <= alignof(node));

value_node* as_value(std::uintptr_t w) noexcept {
  return reinterpret_cast<value_node*>(w & ~erased);
}

bool marked(const node* n) noexcept {
  return (n->value.load(std::memory_order_acquire) & erased) != 0;
}

// Throws std::bad_alloc (nothing was changed yet when they are called).
value_node* new_value(bytes v) {
  auto* n = static_cast<value_node*>(detail::allocate(sizeof(value_node) + v.size()));
  if (n == nullptr) throw std::bad_alloc();
  n->revision = 0;
  n->len = static_cast<std::uint32_t>(v.size());
  n->spare = 0;
  if (!v.empty()) std::memcpy(n->data(), v.data(), v.size());
  return n;
}

node* new_node(bytes key, unsigned height) {
  void* p = detail::allocate(node::request(height, key.size()));
  if (p == nullptr) throw std::bad_alloc();
  node* n = new (p) node;
  n->height = static_cast<std::uint8_t>(height);
  n->key_len = static_cast<std::uint32_t>(key.size());
  for (unsigned l = 0; l < height; ++l) new (&n->next()[l]) std::atomic<node*>(nullptr);
  if (!key.empty()) std::memcpy(const_cast<char*>(n->key_data()), key.data(), key.size());
  return n;
}

// An unlinked node and its last value (the epoch domain's deleter: it
// touches nothing else).
void free_node(void* p) noexcept {
  node* n = static_cast<node*>(p);
  std::free(as_value(n->value.load(std::memory_order_relaxed)));
  std::free(n);
}

struct generation {
  explicit generation(std::size_t limit) : budget(limit), limit(limit) {}

  node* head = nullptr;  // every level; never marked, never compared
  alignas(cache_line) detail::memory_budget budget;
  const std::size_t limit;
  striped_counter entries;
  striped_counter bytes;

  bool charge(std::size_t n) noexcept {
    if (limit && !budget.reserve(n)) return false;
    bytes.add(static_cast<std::int64_t>(n));
    return true;
  }
  void uncharge(std::size_t n) noexcept {
    if (limit) budget.release(n);
    bytes.add(-static_cast<std::int64_t>(n));
  }
  std::size_t fixed_bytes() const noexcept { return sizeof(generation) + node::request(levels, 0); }
};

generation* new_generation(std::size_t limit) {
  auto* g = new generation(limit);
  void* p = detail::allocate(node::request(levels, 0));
  if (p == nullptr) {
    delete g;
    throw std::bad_alloc();
  }
  g->head = new (p) node;
  g->head->height = levels;
  for (unsigned l = 0; l < levels; ++l) new (&g->head->next()[l]) std::atomic<node*>(nullptr);
  return g;
}

// Frees a generation and every node still linked in it (no call can reach it).
void destroy_generation(void* p) noexcept {
  auto* g = static_cast<generation*>(p);
  for (node* n = g->head->next()[0].load(std::memory_order_acquire); n != nullptr;) {
    node* next = n->next()[0].load(std::memory_order_relaxed);
    free_node(n);
    n = next;
  }
  std::free(g->head);
  delete g;
}

// The searches. `less` says whether a node's key sorts before the target.

// The node holding `key` (marked or not), or null.
node* find(const generation& g, key_order order, bytes key) noexcept {
  node* pred = g.head;
  for (unsigned l = levels; l-- > 0;) {
    for (node* cur = pred->next()[l].load(std::memory_order_acquire); cur != nullptr;
         cur = cur->next()[l].load(std::memory_order_acquire)) {
      const int c = compare_keys(order, cur->key(), key);
      if (c == 0) return cur;
      if (c > 0) break;
      pred = cur;
    }
  }
  return nullptr;
}

// Fills preds/succs at every level: preds[l] is the last node at level l
// whose key sorts before `key`, succs[l] the node after it.
void find_neighbours(const generation& g, key_order order, bytes key, node** preds,
                     node** succs) noexcept {
  node* pred = g.head;
  for (unsigned l = levels; l-- > 0;) {
    node* cur = pred->next()[l].load(std::memory_order_acquire);
    while (cur != nullptr && compare_keys(order, cur->key(), key) < 0) {
      pred = cur;
      cur = cur->next()[l].load(std::memory_order_acquire);
    }
    preds[l] = pred;
    succs[l] = cur;
  }
}

// Locks preds[0 .. height) in descending key order, each node once.
void lock_preds(node* const* preds, unsigned height) noexcept {
  for (unsigned l = 0; l < height; ++l)
    if (l == 0 || preds[l] != preds[l - 1]) preds[l]->acquire();
}
void unlock_preds(node* const* preds, unsigned height) noexcept {
  for (unsigned l = 0; l < height; ++l)
    if (l == 0 || preds[l] != preds[l - 1]) preds[l]->release();
}

// Links `fresh` (its key absent from the list), its value stamped with a
// revision drawn once the predecessors are locked and validated (the header
// says why there). False when a node with its key is in the way (the caller
// looks again).
bool link(const generation& g, key_order order, detail::revision_clock& clock,
          node* fresh) noexcept {
  node* preds[levels];
  node* succs[levels];
  const unsigned h = fresh->height;
  const bytes key = fresh->key();
  backoff b;
  for (;;) {
    find_neighbours(g, order, key, preds, succs);
    if (succs[0] != nullptr && compare_keys(order, succs[0]->key(), key) == 0) return false;
    lock_preds(preds, h);
    bool valid = true;
    for (unsigned l = 0; valid && l < h; ++l) {
      valid = !marked(preds[l]) && (succs[l] == nullptr || !marked(succs[l])) &&
              preds[l]->next()[l].load(std::memory_order_acquire) == succs[l];
    }
    if (valid) {
      as_value(fresh->value.load(std::memory_order_relaxed))->revision = clock.next();
      for (unsigned l = 0; l < h; ++l) fresh->next()[l].store(succs[l], std::memory_order_relaxed);
      for (unsigned l = 0; l < h; ++l) preds[l]->next()[l].store(fresh, std::memory_order_release);
      fresh->linked.store(1, std::memory_order_release);
    }
    unlock_preds(preds, h);
    if (valid) return true;
    b.pause();
  }
}

// Unlinks `victim`, which the caller's CAS marked.
void unlink(const generation& g, key_order order, node* victim) noexcept {
  backoff wait;
  while (victim->linked.load(std::memory_order_acquire) == 0) wait.pause();
  node* preds[levels];
  node* succs[levels];
  const unsigned h = victim->height;
  victim->acquire();
  backoff b;
  for (;;) {
    find_neighbours(g, order, victim->key(), preds, succs);
    lock_preds(preds, h);
    bool valid = true;
    for (unsigned l = 0; valid && l < h; ++l) {
      valid = !marked(preds[l]) && preds[l]->next()[l].load(std::memory_order_acquire) == victim;
    }
    if (valid) {
      for (unsigned l = h; l-- > 0;) {
        preds[l]->next()[l].store(victim->next()[l].load(std::memory_order_relaxed),
                                  std::memory_order_release);
      }
    }
    unlock_preds(preds, h);
    if (valid) break;
    b.pause();
  }
  victim->release();
}

// Frees what a write allocated and did not publish.
struct owned_nodes {
  value_node* value = nullptr;
  node* key = nullptr;
  ~owned_nodes() {
    std::free(value);
    std::free(key);
  }
};

}  // namespace ordered_detail

using namespace ordered_detail;

unsigned ordered_map::height_of(bytes key) noexcept {
  // Two hash bits per level: each level holds a quarter of the one below.
  const std::uint64_t h = hash_bytes(key) | (std::uint64_t{1} << (2 * (max_height - 1)));
  return 1 + static_cast<unsigned>(std::countr_zero(h)) / 2;
}

ordered_map::ordered_map(const options& opts) : opts_(opts) {
  check_numa_policy(opts.numa_policy);  // refused as by every strategy, though nothing is placed
  const std::size_t smallest = charged(node::request(1, 0)) + charged(sizeof(value_node));
  if (opts.max_memory != 0 && opts.capacity > opts.max_memory / smallest)
    throw std::length_error("threadmap: capacity exceeds max_memory");
  root_.store(new_generation(opts.max_memory), std::memory_order_release);
}

ordered_map::~ordered_map() {
  destroy_generation(root_.load(std::memory_order_acquire));
}

bool ordered_map::get(bytes key, std::string* out, std::uint64_t* revision,
                      std::uint64_t unless) const {
  if (key.size() > max_key_bytes) return false;
  epoch::guard guard;
  const generation& g = *root_.load(std::memory_order_acquire);
  const node* n = find(g, opts_.order, key);
  if (n == nullptr) return false;
  const std::uintptr_t w = n->value.load(std::memory_order_acquire);
  if (w & erased) return false;
  const value_node* v = as_value(w);
  if (revision) *revision = v->revision;
  if (out && (unless == 0 || v->revision != unless)) out->assign(v->view());
  return true;
}

// The one write loop. Each round finds the key's node and loads its value
// word, asks `decide` what to do with the value seen (null: absent), and
// does it with one CAS on the word (store over a present value, remove) or
// one link (store when absent). Interference (the word changed, another
// thread linked the key, the key's node is being unlinked) starts a new round.
// When `copy` is not null, the value the deciding round saw is copied there
// before anything changes (the copy may allocate, and a write that fails for
// memory must change nothing); callers move it to their output.
template <class Decide>
status ordered_map::write(bytes key, Decide&& decide, std::string* copy) {
  epoch::guard guard;
  generation& g = *root_.load(std::memory_order_acquire);
  owned_nodes own;
  backoff b;
  for (;;) {
    node* n = find(g, opts_.order, key);
    std::uintptr_t w = n ? n->value.load(std::memory_order_acquire) : erased;
    const value_node* cur = (w & erased) ? nullptr : as_value(w);
    const bytes cur_bytes = cur ? cur->view() : bytes{};
    const plan p = decide(cur ? &cur_bytes : nullptr);
    if (copy && cur) copy->assign(cur_bytes);
    if (p.what == action::none) return p.result;

    if (p.what == action::remove) {
      // Drawn after w was loaded and before the CAS that marks it; a failed
      // CAS starts a new round, which draws again.
      clock_.next();
      if (!n->value.compare_exchange_strong(w, w | erased, std::memory_order_acq_rel,
                                            std::memory_order_relaxed))
        continue;
      g.entries.add(-1);
      unlink(g, opts_.order, n);
      g.uncharge(n->cost() + cur->cost());
      epoch::retire(n, &free_node);
      return p.result;
    }

    if (own.value == nullptr || own.value->view() != p.value) {
      std::free(own.value);
      own.value = nullptr;
      own.value = new_value(p.value);
    }
    value_node* fresh = own.value;

    if (cur) {
      // Charge only what the new node adds over the one it replaces.
      const std::size_t grow = fresh->cost() > cur->cost() ? fresh->cost() - cur->cost() : 0;
      if (g.limit && !g.budget.reserve(grow)) return status::memory_limit;
      fresh->revision = clock_.next();  // after w was loaded, before the CAS (as erase)
      if (n->value.compare_exchange_strong(w, reinterpret_cast<std::uintptr_t>(fresh),
                                           std::memory_order_acq_rel, std::memory_order_relaxed)) {
        own.value = nullptr;
        if (g.limit) g.budget.release(cur->cost() + grow - fresh->cost());
        g.bytes.add(static_cast<std::int64_t>(fresh->cost()) -
                    static_cast<std::int64_t>(cur->cost()));
        epoch::retire(const_cast<value_node*>(cur), &std::free);
        return p.result;
      }
      if (g.limit) g.budget.release(grow);
      continue;
    }

    if (n != nullptr) {  // marked: its eraser is unlinking it
      b.pause();
      continue;
    }
    if (own.key == nullptr) own.key = new_node(key, height_of(key));
    node* fresh_node = own.key;
    const std::size_t cost = fresh_node->cost() + fresh->cost();
    if (!g.charge(cost)) return status::memory_limit;
    fresh_node->value.store(reinterpret_cast<std::uintptr_t>(fresh), std::memory_order_relaxed);
    ordered_test::seam.at(0);
    if (link(g, opts_.order, clock_, fresh_node)) {
      own.value = nullptr;
      own.key = nullptr;
      g.entries.add(1);
      return p.result;
    }
    fresh_node->value.store(0, std::memory_order_relaxed);
    g.uncharge(cost);
  }
}

status ordered_map::put(bytes key, bytes value, std::string* old) {
  if (key.size() > max_key_bytes || value.size() > max_value_bytes) return status::too_large;
  std::string seen;
  const status s = write(
      key,
      [&](const bytes* cur) {
        return plan{action::store, cur ? status::ok : status::inserted, value};
      },
      old ? &seen : nullptr);
  if (s == status::ok && old) old->swap(seen);
  return s;
}

status ordered_map::put_if_absent(bytes key, bytes value, std::string* existing) {
  if (key.size() > max_key_bytes || value.size() > max_value_bytes) return status::too_large;
  std::string seen;
  const status s = write(
      key,
      [&](const bytes* cur) {
        return cur ? plan{action::none, status::exists, {}}
                   : plan{action::store, status::inserted, value};
      },
      existing ? &seen : nullptr);
  if (s == status::exists && existing) existing->swap(seen);
  return s;
}

status ordered_map::compare_and_set(bytes key, const bytes* expected, const bytes* desired,
                                    std::string* current) {
  if (key.size() > max_key_bytes || (desired && desired->size() > max_value_bytes))
    return status::too_large;
  std::string seen;
  const status s = write(
      key,
      [&](const bytes* cur) {
        if (!expected) {
          if (cur) return plan{action::none, status::mismatch, {}};
          return desired ? plan{action::store, status::inserted, *desired}
                         : plan{action::none, status::ok, {}};
        }
        if (!cur) return plan{action::none, status::not_found, {}};
        if (*cur != *expected) return plan{action::none, status::mismatch, {}};
        return desired ? plan{action::store, status::ok, *desired}
                       : plan{action::remove, status::ok, {}};
      },
      current ? &seen : nullptr);
  if (s == status::mismatch && current) current->swap(seen);
  return s;
}

status ordered_map::erase(bytes key, std::string* old) {
  if (key.size() > max_key_bytes) return status::not_found;
  std::string seen;
  const status s = write(
      key,
      [&](const bytes* cur) {
        return cur ? plan{action::remove, status::ok, {}}
                   : plan{action::none, status::not_found, {}};
      },
      old ? &seen : nullptr);
  if (s == status::ok && old) old->swap(seen);
  return s;
}

status ordered_map::add(bytes key, counter_kind kind, counter delta, bytes prefix,
                        counter* result) {
  if (key.size() > max_key_bytes || prefix.size() > detail::max_counter_prefix)
    return status::too_large;
  char buf[detail::max_counter_prefix + 8];
  counter next{};
  const status s = write(
      key,
      [&](const bytes* cur) {
        const status st = detail::next_counter(cur, kind, delta, prefix, buf, next);
        if (st != status::ok && st != status::inserted) return plan{action::none, st, {}};
        return plan{action::store, st, bytes(buf, prefix.size() + 8)};
      },
      nullptr);
  if ((s == status::ok || s == status::inserted) && result) *result = next;
  return s;
}

std::size_t ordered_map::size() const {
  epoch::guard guard;
  const std::int64_t n = root_.load(std::memory_order_acquire)->entries.sum();
  return n < 0 ? 0 : static_cast<std::size_t>(n);
}

void ordered_map::clear() {
  generation* fresh = new_generation(opts_.max_memory);
  epoch::guard guard;
  clock_.next();  // the clear's revision, before the swap (the header says why)
  generation* old = root_.exchange(fresh, std::memory_order_acq_rel);
  const std::int64_t held = old->bytes.sum();
  epoch::retire(old, &destroy_generation, held > 0 ? static_cast<std::size_t>(held) : 0);
}

std::size_t ordered_map::scan(std::size_t unit, std::string& out) const {
  if (unit != 0) return 0;
  return range(key_range{}, static_cast<std::size_t>(-1), out);
}

std::size_t ordered_map::range(const key_range& r, std::size_t limit, std::string& out) const {
  epoch::guard guard;
  const generation& g = *root_.load(std::memory_order_acquire);
  const key_order order = opts_.order;
  // Where the keys of `r` end, seen from the side the walk moves towards.
  const auto past_end = [&](bytes key) {
    const bytes* end = r.reverse ? r.lower : r.upper;
    if (end == nullptr) return false;
    const int c = compare_keys(order, key, *end);
    const int sign = r.reverse ? -c : c;
    return sign > 0 || (sign == 0 && !(r.reverse ? r.lower_inclusive : r.upper_inclusive));
  };
  // Appends the node's entry unless it is erased.
  const auto emit = [&](const node* n) {
    const std::uintptr_t w = n->value.load(std::memory_order_acquire);
    if (w & erased) return false;
    append_scan_record(out, n->key(), as_value(w)->view());
    return true;
  };
  std::size_t given = 0;
  if (!r.reverse) {
    const node* n;
    if (r.lower == nullptr) {
      n = g.head->next()[0].load(std::memory_order_acquire);
    } else {
      node* preds[levels];
      node* succs[levels];
      find_neighbours(g, order, *r.lower, preds, succs);
      n = succs[0];
      if (n != nullptr && !r.lower_inclusive && compare_keys(order, n->key(), *r.lower) == 0)
        n = n->next()[0].load(std::memory_order_acquire);
    }
    for (; n != nullptr && given < limit && !past_end(n->key());
         n = n->next()[0].load(std::memory_order_acquire))
      given += emit(n) ? 1 : 0;
    return given;
  }
  // Reverse: the greatest key below the bound, one search each.
  bytes bound = r.upper ? *r.upper : bytes{};
  bool open = r.upper == nullptr, inclusive = r.upper_inclusive;
  while (given < limit) {
    const node* pred = g.head;
    for (unsigned l = levels; l-- > 0;) {
      for (const node* cur = pred->next()[l].load(std::memory_order_acquire); cur != nullptr;
           cur = cur->next()[l].load(std::memory_order_acquire)) {
        const int c = open ? -1 : compare_keys(order, cur->key(), bound);
        if (c > 0 || (c == 0 && !inclusive)) break;
        pred = cur;
      }
    }
    if (pred == g.head || past_end(pred->key())) break;
    given += emit(pred) ? 1 : 0;
    bound = pred->key();
    open = inclusive = false;
  }
  return given;
}

map_stats ordered_map::stats() const {
  epoch::guard guard;
  const generation& g = *root_.load(std::memory_order_acquire);
  map_stats st;
  st.strategy = strategy_kind::ordered;
  st.stripes = 1;
  const std::int64_t n = g.entries.sum();
  st.size = n < 0 ? 0 : static_cast<std::size_t>(n);
  st.capacity = st.size;  // no slots: one node per entry
  const std::int64_t b = g.bytes.sum();
  st.bytes = (b < 0 ? 0 : static_cast<std::size_t>(b)) + g.fixed_bytes() + sizeof(*this);
  return st;
}

}  // namespace threadmap
