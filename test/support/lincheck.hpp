// lincheck.hpp — a linearizability checker for map histories (test support:
// it is not part of the core, and the package does not ship it).
//
// A history is a set of completed operations, each with the logical time it
// was invoked and the time it responded (from one shared counter, so times are
// totally ordered and consistent with real time). The history is linearizable
// if the operations can be put in one sequential order that (a) respects real
// time: an operation that responded before another was invoked comes first,
// and (b) replayed on a sequential map, gives every operation the result it
// actually returned.
//
// A map is linearizable iff each key's sub-history is (operations on different
// keys commute, and linearizability is local: Herlihy & Wing), so the checker
// splits the history by key and checks each part against a one-key model. For
// each key it runs the Wing & Gong search with Lowe's memoisation: depth-first
// over "which operation takes effect next", where only an operation invoked
// before every pending operation's response may go next, remembering every
// (set of done operations, model state) pair already explored so no state is
// searched twice. Sub-histories of up to 64 operations per key are supported,
// which is ample for the short, high-contention histories the tests record.
//
// Caches. A map that evicts may remove a key at any moment a write of any
// key makes room, so "linearizable" for it means: linearizable against the
// one-key model extended with a silent transition, eviction, that takes the
// key from present to absent. A get may then miss a key that was set (an
// eviction came between), a put may answer `inserted` after a put of the same
// key, an add may start again from zero; but nothing may come back: a read
// still returns only the last value written before it, never one an eviction
// or an overwrite already removed, and a value never written is never read.
// An eviction is invisible, so it may as well have happened just before the
// key's next operation: the search tries each operation from the state as it
// is and, when the key is present, from absent at the cost of one eviction.
// Alone this would accept any lost write as an eviction; the check is given
// the number of evictions the map counted (stats), and the fewest each key's
// linearization needs (iterative deepening: budget 0, 1, ...) must sum to at
// most that, so a write lost without an eviction being counted is still
// caught wherever the map evicted less than the history would need.
//
// Expiry. A map with a ttl gives every write a deadline, its clock plus the
// ttl, and an entry whose deadline is at or before a read's clock reads as
// absent. The clock is the map's test clock, moved by `advance` operations
// (its own kind, no key), recorded with their times like the others, so the
// checker knows when it moved. The model's state gains the entry's deadline
// and the clock `now` (the sum of the advances already taken); an operation
// reads the clock once, somewhere inside its call, so the search lets it
// take any clock value from the one it was invoked at (every advance that
// responded before it was invoked) up to `now` at its linearization point,
// and tries each. Expiry is then part of the model, not an eviction: an
// expired entry that reads as present, or a live one that reads as absent
// without an eviction to explain it, is caught. Locality still splits the
// history by key; each key's part takes the advances that overlap its
// operations (earlier ones only shift every clock value by the same amount,
// which no deadline comparison sees). Checked per key, the clock is shared
// by keys that may each place an advance at a different point, so this is
// a necessary condition for the whole history, not a sufficient one: a
// history it rejects is not linearizable.
//
// Used by the native suite (test/native/lincheck.test.cpp, lockfree.test.cpp),
// the fuzzer's sequential model (test/fuzz/ops.fuzz.cpp) and, through the lab
// addon (native/lab), by the JS suite on histories recorded in worker
// threads. Pure C++, header-only, no dependency but the map interface's types.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "threadmap/map.hpp"

namespace threadmap::lincheck {

enum class op_kind : std::uint8_t { get, put, put_if_absent, compare_and_set, erase, add, advance };

struct operation {
  op_kind kind = op_kind::get;
  std::string key;
  // Arguments.
  std::optional<std::string> value;  // put, put_if_absent; compare_and_set: desired (none = erase)
  std::optional<std::string> expected;  // compare_and_set: expected (none = must be absent)
  std::int64_t delta = 0;               // add (int64 counter, no prefix); advance: ms
  // Result, as the map returned it.
  status result = status::ok;      // get: ok when found, not_found otherwise
  std::optional<std::string> out;  // get: value; put: old; put_if_absent: existing;
                                   // compare_and_set: current on mismatch; erase: old
  std::int64_t counter = 0;        // add: the new value
  // What an API that reports less than the core still lets the checker use:
  // `out_known` false when the caller saw neither the value returned nor, for
  // add, whether the key existed (the model then accepts any); `cas_failed`
  // when a compare_and_set is only known to have failed, not whether the key
  // was absent (not_found) or different (mismatch).
  bool out_known = true;
  bool cas_failed = false;
  // Logical times.
  std::uint64_t invoked = 0;
  std::uint64_t responded = 0;
};

using key_state = std::optional<std::string>;

inline std::string encode_i64(std::int64_t v) {
  return std::string(reinterpret_cast<const char*>(&v), sizeof v);
}

/// Applies `op` to the one-key model state `s`. Returns whether the result
/// the map returned is the one the sequential model gives; updates `s`.
/// `wrote` (if given) says whether the op stored a value (a write, which
/// gives the entry a new deadline in a map with a ttl).
inline bool apply(const operation& op, key_state& s, bool* wrote = nullptr) {
  bool ignored = false;
  bool& w = wrote ? *wrote : ignored;
  w = false;
  const bool present = s.has_value();
  auto out_is_current = [&] { return !op.out_known || (op.out.has_value() && *op.out == *s); };
  auto failed_as = [&](status expected) { return op.cas_failed || op.result == expected; };
  switch (op.kind) {
    case op_kind::get:
      return present ? op.result == status::ok && out_is_current() : op.result == status::not_found;
    case op_kind::put: {
      const bool ok =
          present ? op.result == status::ok && out_is_current() : op.result == status::inserted;
      s = op.value;
      w = true;
      return ok;
    }
    case op_kind::put_if_absent:
      if (present) return op.result == status::exists && out_is_current();
      s = op.value;
      w = true;
      return op.result == status::inserted;
    case op_kind::compare_and_set:
      if (!op.expected) {
        if (present) return failed_as(status::mismatch) && out_is_current();
        if (op.cas_failed) return false;
        s = op.value;
        w = op.value.has_value();
        return op.result == (op.value ? status::inserted : status::ok);
      }
      if (!present) return failed_as(status::not_found);
      if (*s != *op.expected) return failed_as(status::mismatch) && out_is_current();
      if (op.cas_failed) return false;
      s = op.value;
      w = op.value.has_value();
      return op.result == status::ok;
    case op_kind::erase: {
      const bool ok =
          present ? op.result == status::ok && out_is_current() : op.result == status::not_found;
      s.reset();
      return ok;
    }
    case op_kind::add: {
      std::int64_t cur = 0;
      if (present) {
        if (s->size() != 8) return op.result == status::mismatch;
        std::memcpy(&cur, s->data(), 8);
      }
      std::int64_t next;
      if (__builtin_add_overflow(cur, op.delta, &next)) return op.result == status::overflow;
      s = encode_i64(next);
      w = true;
      const bool created_ok =
          !op.out_known || op.result == (present ? status::ok : status::inserted);
      return created_ok && op.counter == next;
    }
    case op_kind::advance:
      return true;  // the clock: check_key keeps it
  }
  return false;
}

/// Expiry (see "Expiry" above): the map's ttl, and for each operation of
/// the key's part the clock it was invoked at (relative to the part's start;
/// ignored for advances).
struct timing {
  std::uint64_t ttl = 0;
  std::vector<std::uint64_t> invoked_clock;
};

// Whether an operation of this kind may store a value (and so, in a map with
// a ttl, give the entry a deadline).
constexpr bool stores(op_kind k) {
  return k == op_kind::put || k == op_kind::put_if_absent || k == op_kind::compare_and_set ||
         k == op_kind::add;
}

// The most search states one key's check visits, over every eviction budget
// it tries, before it gives up (a history that is not linearizable has its
// whole space searched, once per budget).
constexpr std::size_t search_limit = std::size_t{1} << 21;

// A key's search so far: states visited, and whether it gave up.
struct search_effort {
  std::size_t visits = 0;
  bool gave_up = false;
};

/// Checks one key's operations (at most 64, advances included), allowing at
/// most `evictions` silent deletes (see "Caches" above); `t`: the map has a
/// ttl. True when linearizable; false also when the search gave up after
/// search_limit states counted in `effort` (if given), which it then says.
inline bool check_key(const std::vector<const operation*>& ops, std::size_t evictions = 0,
                      const timing* t = nullptr, search_effort* effort = nullptr) {
  const std::size_t n = ops.size();
  if (n > 64) return false;
  search_effort own;
  search_effort& e = effort ? *effort : own;
  const std::uint64_t full = n == 64 ? ~std::uint64_t{0} : (std::uint64_t{1} << n) - 1;
  // (done mask, state, deadline) -> the most evictions left with which it
  // was reached: a state reached again with no more left can be skipped.
  // The clock needs no place in it: the mask says which advances are done.
  std::unordered_map<std::string, std::size_t> seen;
  auto memo_key = [&](std::uint64_t mask, const key_state& s, std::uint64_t deadline) {
    std::string k(reinterpret_cast<const char*>(&mask), sizeof mask);
    k.push_back(s ? '\1' : '\0');
    if (s && t) k.append(reinterpret_cast<const char*>(&deadline), sizeof deadline);
    if (s) k += *s;
    return k;
  };
  // A way to go on from a frame: apply operation `op` (after evicting the
  // key first, if `evict`) with the clock reading `clock`.
  struct step {
    std::size_t op;
    bool evict;
    std::uint64_t clock;
  };
  // Explicit stack: (done mask, state, its deadline, the clock, evictions
  // left, the steps from here, the next one to try). A frame's steps are
  // listed when it is first reached.
  struct frame {
    std::uint64_t mask;
    key_state state;
    std::uint64_t deadline;
    std::uint64_t now;
    std::size_t left;
    std::vector<step> steps;
    std::size_t next;
    bool listed;
  };
  std::vector<frame> stack;
  stack.push_back({0, std::nullopt, 0, 0, evictions, {}, 0, false});
  while (!stack.empty()) {
    frame& f = stack.back();
    if (f.mask == full) return true;
    if (!f.listed) {
      f.listed = true;
      std::uint64_t earliest_response = ~std::uint64_t{0};
      for (std::size_t i = 0; i < n; ++i) {
        if (!(f.mask >> i & 1) && ops[i]->responded < earliest_response) {
          earliest_response = ops[i]->responded;
        }
      }
      for (const bool evict : {false, true}) {
        if (evict && !(f.state && f.left)) break;
        for (std::size_t i = 0; i < n; ++i) {
          if ((f.mask >> i & 1) || ops[i]->invoked > earliest_response) continue;
          if (ops[i]->kind == op_kind::advance) {
            if (!evict) f.steps.push_back({i, false, f.now});
            continue;
          }
          const std::uint64_t from = t ? std::min(t->invoked_clock[i], f.now) : f.now;
          if (stores(ops[i]->kind)) {
            // A write's clock is its entry's deadline: every reading counts.
            for (std::uint64_t c = from; c <= f.now; ++c) f.steps.push_back({i, evict, c});
          } else {
            // A read only asks whether the deadline has passed, which the
            // earliest and the latest reading answer both ways if any does.
            f.steps.push_back({i, evict, from});
            if (from != f.now) f.steps.push_back({i, evict, f.now});
          }
        }
      }
    }
    bool pushed = false;
    while (f.next < f.steps.size()) {
      const step st = f.steps[f.next++];
      const operation& op = *ops[st.op];
      key_state s = st.evict ? key_state{} : f.state;
      std::uint64_t deadline = f.deadline;
      std::uint64_t now = f.now;
      if (op.kind == op_kind::advance) {
        now += static_cast<std::uint64_t>(op.delta);
      } else {
        if (t && s && deadline <= st.clock) s.reset();  // expired at the op's clock
        bool wrote = false;
        if (!apply(op, s, &wrote)) continue;
        if (t && wrote) deadline = st.clock + t->ttl;
      }
      const std::uint64_t mask = f.mask | std::uint64_t{1} << st.op;
      const std::size_t left = f.left - (st.evict ? 1 : 0);
      auto [it, fresh] = seen.try_emplace(memo_key(mask, s, deadline), left);
      if (!fresh) {
        if (it->second >= left) continue;
        it->second = left;
      }
      if (++e.visits > search_limit) {
        e.gave_up = true;
        return false;
      }
      stack.push_back({mask, std::move(s), deadline, now, left, {}, 0, false});
      pushed = true;
      break;
    }
    if (!pushed) stack.pop_back();
  }
  return false;
}

/// The fewest evictions with which one key's operations are linearizable,
/// if at most `limit`.
inline std::optional<std::size_t> fewest_evictions(const std::vector<const operation*>& ops,
                                                   std::size_t limit, const timing* t = nullptr,
                                                   search_effort* effort = nullptr) {
  // More evictions than operations never help: each needs an operation after it.
  limit = std::min(limit, ops.size());
  search_effort own;
  search_effort& e = effort ? *effort : own;
  for (std::size_t b = 0; b <= limit && !e.gave_up; ++b) {
    if (check_key(ops, b, t, &e)) return b;
  }
  return std::nullopt;
}

struct verdict {
  bool linearizable = true;
  std::string key;  // the first key whose history is not linearizable
  // With evictions allowed: the fewest the linearization needed, summed over
  // keys (at most the number allowed).
  std::uint64_t evictions = 0;
  // Set when the key's part was too long to check (more than 64 operations,
  // advances included, or a search over search_limit states): not a
  // finding about the map either way.
  bool too_long = false;
};

/// `evictions`: none, a map that never evicts (the plain model); a count, a
/// map that evicted that many entries over the history (see "Caches").
/// `ttl`: none, a map without expiry (advances are ignored); a number of ms,
/// a map whose every write lives that long on the clock the history's
/// advances move (see "Expiry").
inline verdict check(const std::vector<operation>& history,
                     std::optional<std::uint64_t> evictions = std::nullopt,
                     std::optional<std::uint64_t> ttl = std::nullopt) {
  std::map<std::string, std::vector<const operation*>> by_key;
  std::vector<const operation*> advances;
  for (const operation& op : history) {
    if (op.kind == op_kind::advance) {
      advances.push_back(&op);
    } else {
      by_key[op.key].push_back(&op);
    }
  }
  // The clock every advance that responded before time `at` left.
  auto clock_before = [&](std::uint64_t at) {
    std::uint64_t c = 0;
    for (const operation* a : advances) {
      if (a->responded < at) c += static_cast<std::uint64_t>(a->delta);
    }
    return c;
  };
  verdict v;
  for (auto& [key, ops] : by_key) {
    timing t;
    if (ttl) {
      t.ttl = *ttl;
      std::uint64_t first = ~std::uint64_t{0}, last = 0;
      for (const operation* op : ops) {
        first = std::min(first, op->invoked);
        last = std::max(last, op->responded);
      }
      const std::uint64_t base = clock_before(first);
      for (const operation* op : ops) t.invoked_clock.push_back(clock_before(op->invoked) - base);
      for (const operation* a : advances) {
        if (a->responded >= first && a->invoked <= last) {
          ops.push_back(a);
          t.invoked_clock.push_back(0);
        }
      }
    }
    if (ops.size() > 64) return {false, key, v.evictions, true};
    const timing* timed = ttl ? &t : nullptr;
    search_effort effort;
    if (!evictions) {
      if (!check_key(ops, 0, timed, &effort)) return {false, key, 0, effort.gave_up};
      continue;
    }
    const auto need = fewest_evictions(ops, *evictions - v.evictions, timed, &effort);
    if (!need) return {false, key, v.evictions, effort.gave_up};
    v.evictions += *need;
  }
  return v;
}

/// Runs `op` against `m` and fills in its result (not its times).
inline void execute(concurrent_map& m, operation& op) {
  std::string out;
  bool got_out = false;
  switch (op.kind) {
    case op_kind::get:
      op.result = m.get(op.key, &out) ? status::ok : status::not_found;
      got_out = op.result == status::ok;
      break;
    case op_kind::put:
      op.result = m.put(op.key, *op.value, &out);
      got_out = op.result == status::ok;
      break;
    case op_kind::put_if_absent:
      op.result = m.put_if_absent(op.key, *op.value, &out);
      got_out = op.result == status::exists;
      break;
    case op_kind::compare_and_set: {
      const bytes e = op.expected ? bytes(*op.expected) : bytes();
      const bytes d = op.value ? bytes(*op.value) : bytes();
      op.result =
          m.compare_and_set(op.key, op.expected ? &e : nullptr, op.value ? &d : nullptr, &out);
      got_out = op.result == status::mismatch;
      break;
    }
    case op_kind::erase:
      op.result = m.erase(op.key, &out);
      got_out = op.result == status::ok;
      break;
    case op_kind::add: {
      counter d{}, r{};
      d.i = op.delta;
      op.result = m.add(op.key, counter_kind::i64, d, "", &r);
      op.counter = r.i;
      break;
    }
    case op_kind::advance:
      break;  // the test clock belongs to the caller
  }
  if (got_out) op.out = std::move(out);
}

}  // namespace threadmap::lincheck
