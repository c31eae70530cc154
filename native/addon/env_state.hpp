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
// forged reference fail the lookup instead of reaching another object. A new
// slot's first generation is drawn from a per-environment seed rather than 0,
// so live references are large numbers no stray write is likely to make: the
// io buffer's memory can have a second holder (see io_buffer), and the small
// integers and fractions a scratch buffer holds then name no map.
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
//
// JS can detach the buffer: markAsUntransferable makes postMessage and
// structuredClone copy it, but before Node 24 made the mark a detach key not
// every API honoured it (Node 22's ArrayBuffer.prototype.transfer() does not,
// nor does V8's %ArrayBufferDetach on 20 and 22), and a write through a
// detached view is dropped without an error.
// Three rules keep the io path safe whatever detaches it:
// - The memory is the addon's (an external ArrayBuffer over a block of our
//   own), so a detach never frees what native code reads. Where external
//   buffers are forbidden (napi_no_external_buffers_allowed), the memory is
//   the ArrayBuffer's and leaves with a detach, so every io call first asks
//   whether it is still attached (io_kind::js).
// - Each io call reads `ref` once and sets it to -1: a reference JS failed to
//   write then names no map, and the call throws, never acting on the map of
//   the call before. It is the first thing an io call reads, so a dropped key
//   or value is never used either.
// - Once a call finds the buffer detached, the environment remembers it
//   (io_kind::detached) and no io call reads the memory again: the buffer
//   the detach made still reaches it, and its holder's writes must not drive
//   our calls. Before that first failing call, what such a holder writes is
//   taken for JS's only if it is a live reference, which a stray write is
//   not (see map_slot).
// A detached io buffer stays detached: every later io call in that thread
// throws "the io buffer was detached" and changes nothing (the calls that
// take their arguments as arguments, size, clear, the batches, iteration,
// keep working).
struct io_buffer {
  double ref = -1;    // the map reference
  double number = 0;  // the number key (ioGet, ioHas, ioSet, ioDelete, ioAdd)
  double value = 0;   // a number value: set's argument, get's answer
};

enum class io_kind : std::uint8_t {
  owned,     // the addon's memory, not known to be detached
  js,        // the ArrayBuffer's memory: check before every use
  detached,  // found detached: never read again
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
  // This thread's io buffer and the ArrayBuffer JS sees it through. The
  // memory is the addon's, never freed (module.cpp, make_io, says why),
  // unless io_state is js (see io_buffer above).
  io_buffer* io = nullptr;
  io_kind io_state = io_kind::owned;
  Napi::Reference<Napi::ArrayBuffer> io_ref;
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
