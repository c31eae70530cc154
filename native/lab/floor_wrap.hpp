// floor_wrap.hpp — the boundary floor: Node-API functions that do nothing but
// cross into native code and read their argument, so the benchmark can show
// what a map call costs beyond the cheapest possible call (bench/js). Part of
// the lab addon (native/lab), which the package does not ship.
#pragma once

#include "common.hpp"

namespace threadmap::addon {

void export_floor(Napi::Env env, Napi::Object exports);

}  // namespace threadmap::addon
