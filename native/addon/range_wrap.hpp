// range_wrap.hpp — range options of an ordered map's reads.
//
// entries(), keys() and values() of a map with strategy 'ordered' take
// { gte, gt, lte, lt, reverse, limit }. The bounds are keys of the map's key
// type, encoded as keys are and compared in the map's key order
// (threadmap::compare_keys); every check happens before the iterator exists,
// so bad options are a TypeError or RangeError that changes nothing.
//
// NativeMap::Range (map_wrap.cpp) answers one page: the first entries of a
// range, one concurrent_map::range() call (one search, then a walk). The
// TypeScript layer (lib/index.ts) reads a whole range, and every iteration of
// an ordered map, page by page, each resuming strictly after the last key the
// previous one gave: so a key inside the range that is present for the whole
// iteration is given exactly once and in order, whatever other threads write
// meanwhile, and nothing native is held between pages (no cursor object to
// create or collect, which cost more than a short range's read).
#pragma once

#include "common.hpp"  // first: it configures napi.h

#include <cstddef>
#include <string>

#include "codec.hpp"
#include "threadmap/map.hpp"

namespace threadmap::addon {

// A range as parsed: bounds encoded as the map's keys. Filled in place and
// never moved, so the views view() hands the core stay valid.
struct range_request {
  range_request() = default;
  range_request(const range_request&) = delete;
  range_request& operator=(const range_request&) = delete;

  std::string lower, upper;
  bool has_lower = false, has_upper = false;
  bool lower_inclusive = true, upper_inclusive = true;
  bool reverse = false;
  std::size_t limit = static_cast<std::size_t>(-1);
  // Views into this object: valid while it lives.
  key_range view() const noexcept;

 private:
  bytes lower_view_, upper_view_;
  friend void parse_range(Napi::Env, Napi::Value, bool, codec, key_order, const char*,
                          range_request&);
};

/// Reads into `out` the range `arg` asks for (undefined: everything). It may
/// run getters, so it is called outside any epoch guard. A TypeError when the
/// map is not `ordered` (naming 'ordered' and `strategy`), when `arg` is not
/// an object, names an unknown option, has gt with gte or lt with lte, a
/// bound that is not a key of type `keys`, or a reverse that is not a
/// boolean; a RangeError when the lower bound is above the upper one or the
/// limit is not an integer from 0 to 2^53 - 1 (or Infinity).
void parse_range(Napi::Env env, Napi::Value arg, bool ordered, codec keys, key_order order,
                 const char* strategy, range_request& out);

}  // namespace threadmap::addon
