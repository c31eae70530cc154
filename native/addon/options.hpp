// options.hpp — `new NativeMap(options)`: the map options, checked against one
// table (options.cpp) from which every error message is made.
//
// Each option is one row: its name, its kind (one of a list of names, a
// count, or a check of its own), and where its value goes. A value of the
// wrong JS type is a TypeError naming what the option takes; a number out of
// range a RangeError; an unknown name a TypeError naming the choices. Options
// are read in the table's order, and an absent (undefined) one keeps the
// default. Nothing is created until every option has passed.
#pragma once

#include "common.hpp"  // first: it configures napi.h

#include <vector>

#include "codec.hpp"

namespace threadmap::addon {

struct parsed_options {
  options core;
  codec keys = codec::any;
  codec values = codec::any;
  bool evict_none = false;  // evict: 'none' was given (core.evict stays empty)
};

// A ttl in milliseconds (options.ttl, set's { ttl }): a TypeError unless a
// number, a RangeError unless an integer from 0 to max_ttl_ms. `what` names
// it in the message ("options.ttl").
std::uint64_t read_ttl(Napi::Env env, Napi::Value v, const char* what);

// undefined and null are the defaults; anything but an object is a TypeError.
parsed_options parse_options(Napi::Env env, Napi::Value arg);

}  // namespace threadmap::addon
