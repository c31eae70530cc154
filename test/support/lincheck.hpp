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

enum class op_kind : std::uint8_t { get, put, put_if_absent, compare_and_set, erase, add };

struct operation {
  op_kind kind = op_kind::get;
  std::string key;
  // Arguments.
  std::optional<std::string> value;  // put, put_if_absent; compare_and_set: desired (none = erase)
  std::optional<std::string> expected;  // compare_and_set: expected (none = must be absent)
  std::int64_t delta = 0;               // add (int64 counter, no prefix)
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
inline bool apply(const operation& op, key_state& s) {
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
      return ok;
    }
    case op_kind::put_if_absent:
      if (present) return op.result == status::exists && out_is_current();
      s = op.value;
      return op.result == status::inserted;
    case op_kind::compare_and_set:
      if (!op.expected) {
        if (present) return failed_as(status::mismatch) && out_is_current();
        if (op.cas_failed) return false;
        s = op.value;
        return op.result == (op.value ? status::inserted : status::ok);
      }
      if (!present) return failed_as(status::not_found);
      if (*s != *op.expected) return failed_as(status::mismatch) && out_is_current();
      if (op.cas_failed) return false;
      s = op.value;
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
      const bool created_ok =
          !op.out_known || op.result == (present ? status::ok : status::inserted);
      return created_ok && op.counter == next;
    }
  }
  return false;
}

/// Checks one key's operations (at most 64), allowing at most `evictions`
/// silent deletes (see "Caches" above). True when linearizable.
inline bool check_key(const std::vector<const operation*>& ops, std::size_t evictions = 0) {
  const std::size_t n = ops.size();
  if (n > 64) return false;
  const std::uint64_t full = n == 64 ? ~std::uint64_t{0} : (std::uint64_t{1} << n) - 1;
  // (done mask, state) -> the most evictions left with which it was reached:
  // a state reached again with no more left can be skipped.
  std::unordered_map<std::string, std::size_t> seen;
  auto memo_key = [](std::uint64_t mask, const key_state& s) {
    std::string k(reinterpret_cast<const char*>(&mask), sizeof mask);
    k.push_back(s ? '\1' : '\0');
    if (s) k += *s;
    return k;
  };
  // Explicit stack: (done mask, state, evictions left, next candidate to
  // try). Candidates 0..n-1 apply operation i to the state; n..2n-1 evict
  // the key first, then apply operation i - n.
  struct frame {
    std::uint64_t mask;
    key_state state;
    std::size_t left;
    std::size_t next;
  };
  std::vector<frame> stack{{0, std::nullopt, evictions, 0}};
  while (!stack.empty()) {
    frame& f = stack.back();
    if (f.mask == full) return true;
    std::uint64_t earliest_response = ~std::uint64_t{0};
    for (std::size_t i = 0; i < n; ++i) {
      if (!(f.mask >> i & 1) && ops[i]->responded < earliest_response) {
        earliest_response = ops[i]->responded;
      }
    }
    const std::size_t candidates = f.state && f.left ? 2 * n : n;
    bool pushed = false;
    for (; f.next < candidates; ++f.next) {
      const bool evict = f.next >= n;
      const std::size_t i = evict ? f.next - n : f.next;
      if ((f.mask >> i & 1) || ops[i]->invoked > earliest_response) continue;
      key_state s = evict ? key_state{} : f.state;
      if (!apply(*ops[i], s)) continue;
      const std::uint64_t mask = f.mask | std::uint64_t{1} << i;
      const std::size_t left = f.left - (evict ? 1 : 0);
      auto [it, fresh] = seen.try_emplace(memo_key(mask, s), left);
      if (!fresh) {
        if (it->second >= left) continue;
        it->second = left;
      }
      ++f.next;
      stack.push_back({mask, std::move(s), left, 0});
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
                                                   std::size_t limit) {
  // More evictions than operations never help: each needs an operation after it.
  limit = std::min(limit, ops.size());
  for (std::size_t b = 0; b <= limit; ++b) {
    if (check_key(ops, b)) return b;
  }
  return std::nullopt;
}

struct verdict {
  bool linearizable = true;
  std::string key;  // the first key whose history is not linearizable
  // With evictions allowed: the fewest the linearization needed, summed over
  // keys (at most the number allowed).
  std::uint64_t evictions = 0;
};

/// `evictions`: none, a map that never evicts (the plain model); a count, a
/// map that evicted that many entries over the history (see "Caches").
inline verdict check(const std::vector<operation>& history,
                     std::optional<std::uint64_t> evictions = std::nullopt) {
  std::map<std::string, std::vector<const operation*>> by_key;
  for (const operation& op : history) by_key[op.key].push_back(&op);
  verdict v;
  for (const auto& [key, ops] : by_key) {
    if (!evictions) {
      if (!check_key(ops)) return {false, key, 0};
      continue;
    }
    const auto need = fewest_evictions(ops, *evictions - v.evictions);
    if (!need) return {false, key, v.evictions};
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
  }
  if (got_out) op.out = std::move(out);
}

}  // namespace threadmap::lincheck
