// env_state.hpp — what one Node-API environment (the main thread or one
// worker) holds, and how it lets go when the environment ends.
//
// Why a cleanup hook: when a worker is terminated, V8 does not promise to run
// the finalizers of the objects it still holds, yet the native maps they own
// must be released, or a map shared with that worker would never be freed.
// Every wrapper that owns a std::shared_ptr into the core registers here; the
// environment's cleanup hook releases them all. The wrappers and the hook
// share the state by shared_ptr, so whichever of "finalizer" and "cleanup hook"
// runs last, nobody touches freed memory. Nothing here is shared across
// threads: an environment runs on one thread only.
#pragma once

#include "common.hpp"  // first: it configures napi.h

#include <cstdint>
#include <memory>
#include <unordered_set>
#include <vector>

#include "io_protocol.hpp"

namespace threadmap::addon {

// A wrapper object that owns native resources of its environment.
class env_resource {
 public:
  virtual ~env_resource() = default;
  // Drops every native reference; later calls on the object report "released".
  virtual void release() noexcept = 0;
};

class NativeMap;

// Hot calls name their map by a small number instead of by `this`: finding
// the C++ object behind a JS object costs two private-symbol lookups (type
// tag, then unwrap), about a third of a whole get(). A reference is
// slot | generation << 32, exact in a double; the slot indexes this table
// and the generation, bumped whenever a slot is freed, makes a stale or
// forged reference fail the lookup instead of reaching another object. A new
// slot's first generation is drawn from a per-environment seed rather than 0,
// so live references are large numbers no stray write is likely to make: the
// io buffer's memory can have a second holder (io_protocol.hpp), and the
// small integers and fractions a scratch buffer holds then name no map.
struct map_slot {
  NativeMap* map = nullptr;
  std::uint32_t gen = 0;
};

struct env_state {
  std::unordered_set<env_resource*> resources;
  std::vector<map_slot> slots;
  std::vector<std::uint32_t> free_slots;
  bool torn_down = false;
  std::uint64_t seed = 0;  // the first generations' seed (module.cpp)

  // Returns the reference of a new slot holding m.
  double add_slot(NativeMap* m);
  void free_slot(double ref) noexcept;
  // The map behind a reference, or nullptr.
  NativeMap* find_slot(double ref) const noexcept;
};

// Per-environment instance data (napi_set_instance_data): the class
// constructors (napi_refs, which must never be used from another thread) and
// the scratch buffers of the environment's one thread.
struct addon_data {
  std::shared_ptr<env_state> state = std::make_shared<env_state>();
  Napi::FunctionReference map_ctor;
  Napi::FunctionReference iterator_ctor;
  // Array.of as it was when the addon loaded, to build iteration chunks.
  Napi::FunctionReference array_of;
  scratch buffers;
  // This thread's io buffer (io_protocol.hpp) and the ArrayBuffer JS sees it
  // through. The memory is the addon's, never freed (module.cpp, make_io,
  // says why), unless io_state is js.
  io_buffer* io = nullptr;
  io_kind io_state = io_kind::owned;
  Napi::Reference<Napi::ArrayBuffer> io_ref;
  // This thread's object buffer (io_protocol.hpp, "objects out"), made on
  // the first objectOut() call; empty until then. Its memory is the
  // ArrayBuffer's, so every use first asks whether it is still attached.
  Napi::Reference<Napi::ArrayBuffer> object_out;
};

// Throws if this environment's io buffer is detached or must be assumed so
// (io_state js: asks V8 each time; owned: only when `ask`, after a call found
// no map; a detach found is remembered).
void check_io_slow(napi_env env, addon_data& d);
inline void check_io(napi_env env, addon_data& d, bool ask) {
  if (d.io_state != io_kind::owned || ask) check_io_slow(env, d);
}

addon_data& data_of(napi_env env);

// Registers/unregisters a resource with its environment's state.
void track(const std::shared_ptr<env_state>& st, env_resource* r);
void untrack(const std::shared_ptr<env_state>& st, env_resource* r) noexcept;

}  // namespace threadmap::addon
