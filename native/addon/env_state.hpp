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

#include <memory>
#include <unordered_set>

namespace threadmap::addon {

// A wrapper object that owns native resources of its environment.
class env_resource {
 public:
  virtual ~env_resource() = default;
  // Drops every native reference; later calls on the object report "released".
  virtual void release() noexcept = 0;
};

struct env_state {
  std::unordered_set<env_resource*> resources;
  bool torn_down = false;
};

// Per-environment instance data (napi_set_instance_data). Holds the class
// constructors of this environment; they are napi_refs and so must never be
// used from another thread, which instance data guarantees.
struct addon_data {
  std::shared_ptr<env_state> state = std::make_shared<env_state>();
  Napi::FunctionReference map_ctor;
  Napi::FunctionReference iterator_ctor;
};

addon_data& data_of(napi_env env);

// Registers/unregisters a resource with its environment's state.
void track(const std::shared_ptr<env_state>& st, env_resource* r);
void untrack(const std::shared_ptr<env_state>& st, env_resource* r) noexcept;

}  // namespace threadmap::addon
