// map_wrap.hpp — NativeMap: the JS object over one shared native map, and the
// module functions that operate on it.
//
// A NativeMap object owns a std::shared_ptr to a registry entry; several
// NativeMaps (one per thread that attached, or several in one thread) may own
// the same entry. The object itself has no methods: it is the lifetime token
// (its finalizer, or the environment's cleanup hook, lets go of the entry).
// Operations are module functions whose first argument is the map's
// reference (see map_slot in env_state.hpp), obtained once from
// info(nativeMap), which checks the object's napi_type_tag; the io functions
// find the reference, and number keys and values, in the io buffer
// (io_protocol.hpp).
//
// Arguments are encoded by the codecs into the environment's scratch
// buffers, the core call runs inside an epoch guard that keeps the map alive
// against a concurrent close(), and results become JS values only after the
// guard is left, so no JS allocation (and thus no GC) happens inside it.
// map_wrap.cpp runs that skeleton once (keyed<Op>) for every operation.
#pragma once

#include "common.hpp"  // first: it configures napi.h

#include <memory>

#include "codec.hpp"
#include "env_state.hpp"
#include "options.hpp"
#include "threadmap/registry.hpp"

namespace threadmap::addon {

// compareAndSet flags: how "absent" is said, since undefined is a value of
// the `any` and `structured` types and cannot double as "no entry".
inline constexpr std::uint32_t cas_expect_absent = 1;  // expected: the key is absent
inline constexpr std::uint32_t cas_delete = 2;         // next: remove the entry

// Iterator modes.
inline constexpr std::uint32_t iter_keys = 0;
inline constexpr std::uint32_t iter_values = 1;
inline constexpr std::uint32_t iter_entries = 2;

// The largest batch one native call takes (getMany etc.): its results become
// the arguments of one Array.of call, which must fit on a worker's stack. The
// TypeScript layer splits longer batches.
inline constexpr std::uint32_t max_batch = 4096;

// The arguments of one map function call, read with one napi_get_cb_info:
// argv holds at least `fixed` values (undefined past argc), or all of them
// for the batch functions, whose keys arrive as spread arguments.
struct call {
  static constexpr std::size_t fixed = 6;
  napi_env env;
  addon_data* data;
  std::size_t argc;
  const napi_value* argv;
  // An io call (ioGet ..., ioGetK ...): the map reference is in the io
  // buffer, and so may be a number value (io_protocol.hpp).
  bool io;
  // ioGet ...: the key is in the io buffer, not in argv[1].
  bool io_key;
  napi_value operator[](std::size_t i) const noexcept { return argv[i]; }
};

class NativeMap : public Napi::ObjectWrap<NativeMap>, public env_resource {
 public:
  static constexpr const char* class_name = "NativeMap";
  static const napi_type_tag type_tag;

  static Napi::Function define(Napi::Env env);
  // Adds the map functions (get, setIfAbsent, ..., the io functions, the
  // batches) and the io buffer's layout (ioLayout) to the module's exports.
  static void export_functions(Napi::Env env, Napi::Object exports);
  // A new NativeMap over an existing registry entry (attach).
  static Napi::Object wrap_existing(Napi::Env env, std::shared_ptr<shared_map> m);

  explicit NativeMap(const Napi::CallbackInfo& info);
  ~NativeMap() override;
  void release() noexcept override;

  codec keys() const noexcept { return keys_; }
  codec values() const noexcept { return values_; }
  // The live core map; call only inside an epoch guard. Throws a clear Error
  // when the map was closed (by any thread) or released with its environment.
  concurrent_map* live(napi_env env) const;

  // The operations that are about the map rather than one key; c[0] is the
  // map reference, the rest their arguments.
  napi_value Size(const call& c, scratch& s);
  napi_value Revision(const call& c, scratch& s);
  napi_value Clear(const call& c, scratch& s);
  napi_value Stats(const call& c, scratch& s);
  napi_value Close(const call& c, scratch& s);
  napi_value IsClosed(const call& c, scratch& s);
  napi_value Iterate(const call& c, scratch& s);
  // range(ref, mode, max, range): an ordered map's first `max` entries of
  // `range` (range_wrap.cpp).
  napi_value Range(const call& c, scratch& s);

  // info(nativeMap): {id, keys, values, strategy, ref}.
  static Napi::Value Info(const Napi::CallbackInfo& info);

  // The registry entry, for bindings that keep state beside the core map
  // (structures_wrap.cpp); throws the Error of a call on a closed map.
  shared_map& shared(napi_env env) const {
    if (!shared_ || shared_->get() == nullptr) throw_closed(env);
    return *shared_;
  }

  // What reads revisions (revision, revisionOf, watch, snapshot) on a map
  // made with revisions: false: a TypeError naming `what`, before anything
  // is read or opened.
  void need_revisions(napi_env env, const char* what) const;

 private:
  void init(const Napi::CallbackInfo& info);
  [[noreturn]] void throw_closed(napi_env env) const;

  std::shared_ptr<shared_map> shared_;
  std::shared_ptr<env_state> env_;
  double ref_ = -1;  // this object's slot reference; -1 until registered
  std::uint64_t id_ = 0;
  bool closed_ = false;  // close() was called on this wrapper (and shared_ released)
  codec keys_ = codec::any;
  codec values_ = codec::any;
};

}  // namespace threadmap::addon
