// cachesim_wrap.hpp — the hit-ratio simulator (test/support/cachesim.hpp)
// for the bench (bench/js/suites/hitratio.mjs) and the JS differential test:
// it replays a trace through the very eviction policy code the maps will
// run. Part of the lab addon (native/lab), which the package does not ship.
#pragma once

#include "common.hpp"

namespace threadmap::addon {

void export_cachesim(Napi::Env env, Napi::Object exports);

}  // namespace threadmap::addon
