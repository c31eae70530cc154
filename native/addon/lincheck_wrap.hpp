// lincheck_wrap.hpp — exposes the core's linearizability checker
// (threadmap/lincheck.hpp) to the JS test suite, which records histories in
// worker threads and checks them with the same code as the native suite.
#pragma once

#include "common.hpp"

namespace threadmap::addon {

void export_lincheck(Napi::Env env, Napi::Object exports);

}  // namespace threadmap::addon
