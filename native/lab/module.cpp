// module.cpp — the lab addon (threadmap_lab.node): the benchmark and test
// scaffolding that the package does not ship. The boundary bench's floor
// (floor_wrap.cpp) and the JS suite's linearizability checker
// (lincheck_wrap.cpp) and the hit-ratio simulator over the eviction policies
// (cachesim_wrap.cpp) live here, so the shipped threadmap.node holds only the
// map and nothing in native/addon knows how a table probes. It is built by
// the same `npm run build:native` as the shipped addon, with the same flags
// and the same core library (so the floor hashes with threadmap::hash_bytes,
// as the maps do), and loaded through native/lab/index.js.
#include "common.hpp"  // first: it configures napi.h

#include "cachesim_wrap.hpp"
#include "floor_wrap.hpp"
#include "lincheck_wrap.hpp"

namespace {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  threadmap::addon::export_floor(env, exports);
  threadmap::addon::export_lincheck(env, exports);
  threadmap::addon::export_cachesim(env, exports);
  return exports;
}

}  // namespace

NODE_API_MODULE(threadmap_lab, Init)
