// lincheck_wrap.hpp — exposes the linearizability checker
// (test/support/lincheck.hpp) to the JS test suite, which records histories in
// worker threads and checks them with the same code as the native suite. Part
// of the lab addon (native/lab), which the package does not ship.
#pragma once

#include "common.hpp"

namespace threadmap::addon {

void export_lincheck(Napi::Env env, Napi::Object exports);

}  // namespace threadmap::addon
