// threadmap/detail/counter_value.hpp — the arithmetic of concurrent_map::add,
// shared by every strategy so they agree to the bit.
//
// A counter is `prefix` followed by 8 little-endian bytes of an int64 or a
// double. A missing key counts as zero, and the result is computed as
// zero + delta, so adding -0 to a missing key stores +0 (as JavaScript's
// 0 + -0 does).
#pragma once

#include <cstring>

#include "threadmap/map.hpp"

namespace threadmap::detail {

inline constexpr std::size_t max_counter_prefix = 256;

/// Computes the new counter into buf[0 .. prefix.size() + 8) and `next`.
/// `current` is null when the key is absent. Returns inserted (absent), ok,
/// mismatch (not a counter with this prefix), overflow (int64) or too_large
/// (prefix longer than max_counter_prefix); buf is written only on success.
inline status next_counter(const bytes* current, counter_kind kind, counter delta, bytes prefix,
                           char* buf, counter& next) {
  if (prefix.size() > max_counter_prefix) return status::too_large;
  counter cur{};  // zero for both kinds: int64 0 and double +0.0
  if (current) {
    if (current->size() != prefix.size() + 8 || current->substr(0, prefix.size()) != prefix) {
      return status::mismatch;
    }
    std::memcpy(&cur, current->data() + prefix.size(), 8);
  }
  if (kind == counter_kind::i64) {
    if (__builtin_add_overflow(cur.i, delta.i, &next.i)) return status::overflow;
  } else {
    next.f = cur.f + delta.f;
  }
  if (!prefix.empty()) std::memcpy(buf, prefix.data(), prefix.size());  // data() may be null
  std::memcpy(buf + prefix.size(), &next, 8);
  return current ? status::ok : status::inserted;
}

}  // namespace threadmap::detail
