// structures_wrap.hpp — the object codec's structure list (threadmap::
// structure_list, registry.hpp) as two module functions over a NativeMap:
//
//   structuresRead(map) -> [version, bytes: Uint8Array]
//   structuresAppend(map, expectedVersion, bytes: Uint8Array) -> boolean
//
// The list belongs to the shared map, so every thread's codec (lib/codecs.ts)
// reads and extends the same one. A closed map is the same Error as any other
// call on it; an append past the list's bound is a RangeError.
#pragma once

#include "common.hpp"

namespace threadmap::addon {

void export_structures(Napi::Env env, Napi::Object exports);

}  // namespace threadmap::addon
