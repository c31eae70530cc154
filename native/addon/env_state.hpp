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
// forged reference fail the lookup instead of reaching another object.
struct map_slot {
  NativeMap* map = nullptr;
  std::uint32_t gen = 0;
};

struct env_state {
  std::unordered_set<env_resource*> resources;
  std::vector<map_slot> slots;
  std::vector<std::uint32_t> free_slots;
  bool torn_down = false;

  // Returns the reference of a new slot holding m.
  double add_slot(NativeMap* m);
  void free_slot(double ref) noexcept;
  // The map behind a reference, or nullptr.
  NativeMap* find_slot(double ref) const noexcept;
};

// The io buffer: memory shared by this thread's JS and native code, so that
// a call carries fewer arguments (the lmdb-js technique): reading a number
// argument through Node-API costs 5 ns of an 11 ns call that reads one (the
// floor group of bench/js/boundary.mjs), and creating a number result about
// as much. The TypeScript layer writes the map's reference (and a number key
// when the key is a number, and a number value when the map's values are
// numbers), then calls an io function (ioGet ..., reading the key from here;
// ioGetK ..., taking it as an argument), which reads them here and, on a map
// whose values are numbers, leaves the value found in `value`. String keys
// stay arguments (a JS copy loop costs what V8's own string read does).
// Nothing in it outlives a call.
struct io_buffer {
  double ref;     // the map reference
  double number;  // the number key (ioGet, ioHas, ioSet, ioDelete, ioAdd)
  double value;   // a number value: set's argument, get's answer
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
  // This thread's io buffer: the backing store of an ArrayBuffer that the
  // reference keeps alive for the environment's lifetime (lib/native.ts marks
  // it untransferable, so it is never detached).
  io_buffer* io = nullptr;
  Napi::Reference<Napi::ArrayBuffer> io_ref;
};

addon_data& data_of(napi_env env);

// Registers/unregisters a resource with its environment's state.
void track(const std::shared_ptr<env_state>& st, env_resource* r);
void untrack(const std::shared_ptr<env_state>& st, env_resource* r) noexcept;

}  // namespace threadmap::addon
