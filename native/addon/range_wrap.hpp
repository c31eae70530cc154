// range_wrap.hpp — range options of an ordered map's iteration, and the
// cursor that pages through a range.
//
// entries(), keys() and values() of a map with strategy 'ordered' take
// { gte, gt, lte, lt, reverse, limit }. The bounds are keys of the map's key
// type, encoded as keys are and compared in the map's key order
// (threadmap::compare_keys); every check happens before the iterator exists,
// so bad options are a TypeError or RangeError that changes nothing.
//
// The cursor reads a range in pages of up to one iterator chunk, each one
// concurrent_map::range() call (one search, then a walk), and resumes strictly
// after the last key a page gave. So a key inside the range that is present
// for the whole iteration is given exactly once and in order, whatever other
// threads write meanwhile, and no native memory or lock is held between
// pages. A plain iteration of an ordered map is a range without bounds.
#pragma once

#include "common.hpp"  // first: it configures napi.h

#include <cstddef>
#include <string>

#include "codec.hpp"
#include "threadmap/map.hpp"

namespace threadmap::addon {

class range_cursor {
 public:
  /// Replaces `out` with the next page of at most `chunk` entries in scan
  /// format. False once the range (or its limit) is exhausted.
  bool next_page(const concurrent_map& m, std::size_t chunk, std::string& out);

 private:
  friend range_cursor parse_range(Napi::Env env, Napi::Value arg, bool ordered, codec keys,
                                  key_order order, const char* strategy);
  std::string lower_, upper_;
  bool has_lower_ = false, has_upper_ = false;
  bool lower_inclusive_ = true, upper_inclusive_ = true;
  bool reverse_ = false;
  std::size_t left_ = static_cast<std::size_t>(-1);  // entries the limit still allows
  bool done_ = false;
};

/// The range `arg` asks for (undefined: everything). It may run getters, so
/// it is called outside any epoch guard. A TypeError when the map is not
/// `ordered` (naming 'ordered' and `strategy`), when `arg` is not an
/// object, names an unknown option, has gt with gte or lt with lte, a bound
/// that is not a key of type `keys`, or a reverse that is not a boolean; a
/// RangeError when the lower bound is above the upper one or the limit is not
/// an integer from 0 to 2^53 - 1 (or Infinity).
range_cursor parse_range(Napi::Env env, Napi::Value arg, bool ordered, codec keys, key_order order,
                         const char* strategy);

}  // namespace threadmap::addon
