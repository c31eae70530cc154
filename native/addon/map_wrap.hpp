// map_wrap.hpp — NativeMap: the JS object over one shared native map, and the
// module functions that operate on it.
//
// A NativeMap object owns a std::shared_ptr to a registry entry; several
// NativeMaps (one per thread that attached, or several in one thread) may own
// the same entry. The object itself has no methods: it is the lifetime token
// (its finalizer, or the environment's cleanup hook, lets go of the entry).
// Operations are module functions whose first argument is the map's
// reference (see map_slot in env_state.hpp), obtained once from
// info(nativeMap), which checks the object's napi_type_tag.
//
// Arguments are encoded by the codecs into the environment's scratch
// buffers, the core call runs inside an epoch guard that keeps the map alive
// against a concurrent close(), and results become JS values only after the
// guard is left, so no JS allocation (and thus no GC) happens inside it.
#pragma once

#include "common.hpp"  // first: it configures napi.h

#include <memory>
#include <vector>

#include "codec.hpp"
#include "env_state.hpp"
#include "threadmap/registry.hpp"

namespace threadmap::addon {

// compareAndSet flags: how "absent" is said, since undefined is a value of
// the `any` and `structured` types and cannot double as "no entry".
inline constexpr std::uint32_t cas_expect_absent = 1;  // expected: the key is absent
inline constexpr std::uint32_t cas_delete = 2;         // next: remove the entry

// The core's strategies, in enum order (see map_wrap.cpp).
const std::vector<strategy_kind>& strategy_kinds();

// Iterator modes.
inline constexpr std::uint32_t iter_keys = 0;
inline constexpr std::uint32_t iter_values = 1;
inline constexpr std::uint32_t iter_entries = 2;

class NativeMap : public Napi::ObjectWrap<NativeMap>, public env_resource {
 public:
  static constexpr const char* class_name = "NativeMap";
  static const napi_type_tag type_tag;

  static Napi::Function define(Napi::Env env);
  // Adds the map functions (get, set, ...) to the module's exports.
  static void export_functions(Napi::Env env, Napi::Object exports);
  // A new NativeMap over an existing registry entry (attach).
  static Napi::Object wrap_existing(Napi::Env env, std::shared_ptr<shared_map> m);

  explicit NativeMap(const Napi::CallbackInfo& info);
  ~NativeMap() override;
  void release() noexcept override;

  // The operations; info[0] is the map reference, the rest their arguments.
  Napi::Value Get(const Napi::CallbackInfo& info, scratch& s);
  Napi::Value Has(const Napi::CallbackInfo& info, scratch& s);
  Napi::Value Set(const Napi::CallbackInfo& info, scratch& s);
  Napi::Value SetIfAbsent(const Napi::CallbackInfo& info, scratch& s);
  Napi::Value GetOrSet(const Napi::CallbackInfo& info, scratch& s);
  Napi::Value CompareAndSet(const Napi::CallbackInfo& info, scratch& s);
  Napi::Value Swap(const Napi::CallbackInfo& info, scratch& s);
  Napi::Value Take(const Napi::CallbackInfo& info, scratch& s);
  Napi::Value Delete(const Napi::CallbackInfo& info, scratch& s);
  Napi::Value Add(const Napi::CallbackInfo& info, scratch& s);
  Napi::Value Size(const Napi::CallbackInfo& info, scratch& s);
  Napi::Value Clear(const Napi::CallbackInfo& info, scratch& s);
  Napi::Value Stats(const Napi::CallbackInfo& info, scratch& s);
  Napi::Value Close(const Napi::CallbackInfo& info, scratch& s);
  Napi::Value IsClosed(const Napi::CallbackInfo& info, scratch& s);
  Napi::Value Iterate(const Napi::CallbackInfo& info, scratch& s);

  // info(nativeMap): {id, keys, values, strategy, ref}.
  static Napi::Value Info(const Napi::CallbackInfo& info);

 private:
  void init(const Napi::CallbackInfo& info);
  // The live core map; call only inside an epoch guard. Throws a clear Error
  // when the map was closed (by any thread) or released with its environment.
  concurrent_map* live(napi_env env) const;
  [[noreturn]] void throw_closed(napi_env env) const;

  std::shared_ptr<shared_map> shared_;
  std::shared_ptr<env_state> env_;
  double ref_ = -1;  // this object's slot reference; -1 until registered
  std::uint64_t id_ = 0;
  bool closed_ = false;  // close() was called on this wrapper (and shared_ released)
  key_codec kc_ = key_codec::any;
  value_codec vc_ = value_codec::any;
};

}  // namespace threadmap::addon
