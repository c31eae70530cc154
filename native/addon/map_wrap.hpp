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
  // buffer, and on a map whose values are numbers so is the value that set
  // stores (when no value argument is given) and get finds.
  bool io;
  // ioGet ...: the key is in the io buffer, not in argv[1].
  bool io_key;
  napi_value operator[](std::size_t i) const noexcept { return argv[i]; }
};

// Where a batch's keys (or values) come from: a typed array read in place, or
// `count` spread arguments starting at c[first].
struct batch_source {
  bool typed = false;
  typed_elements elements{};
  std::size_t first = 0;
  std::size_t count = 0;
};

class NativeMap : public Napi::ObjectWrap<NativeMap>, public env_resource {
 public:
  static constexpr const char* class_name = "NativeMap";
  static const napi_type_tag type_tag;

  static Napi::Function define(Napi::Env env);
  // Adds the map functions (get, setIfAbsent, ..., the io functions, the
  // batches) to the module's exports.
  static void export_functions(Napi::Env env, Napi::Object exports);
  // A new NativeMap over an existing registry entry (attach).
  static Napi::Object wrap_existing(Napi::Env env, std::shared_ptr<shared_map> m);

  explicit NativeMap(const Napi::CallbackInfo& info);
  ~NativeMap() override;
  void release() noexcept override;

  // The operations; c[0] is the map reference, the rest their arguments.
  napi_value Get(const call& c, scratch& s);
  napi_value Has(const call& c, scratch& s);
  napi_value Set(const call& c, scratch& s);
  napi_value SetIfAbsent(const call& c, scratch& s);
  napi_value GetOrSet(const call& c, scratch& s);
  napi_value CompareAndSet(const call& c, scratch& s);
  napi_value Swap(const call& c, scratch& s);
  napi_value Take(const call& c, scratch& s);
  napi_value Delete(const call& c, scratch& s);
  napi_value Add(const call& c, scratch& s);
  napi_value Size(const call& c, scratch& s);
  napi_value Clear(const call& c, scratch& s);
  napi_value Stats(const call& c, scratch& s);
  napi_value Close(const call& c, scratch& s);
  napi_value IsClosed(const call& c, scratch& s);
  napi_value Iterate(const call& c, scratch& s);

  // Batches (see lib/native.ts for the argument shapes): every key (and
  // value) is encoded and checked before the map is touched.
  napi_value GetMany(const call& c, scratch& s);
  napi_value HasMany(const call& c, scratch& s);
  napi_value DeleteMany(const call& c, scratch& s);
  napi_value SetMany(const call& c, scratch& s);

  // info(nativeMap): {id, keys, values, strategy, ref}.
  static Napi::Value Info(const Napi::CallbackInfo& info);

  // The registry entry, for bindings that keep state beside the core map
  // (structures_wrap.cpp); throws the Error of a call on a closed map.
  shared_map& shared(napi_env env) const {
    if (!shared_ || shared_->get() == nullptr) throw_closed(env);
    return *shared_;
  }

 private:
  void init(const Napi::CallbackInfo& info);
  // The live core map; call only inside an epoch guard. Throws a clear Error
  // when the map was closed (by any thread) or released with its environment.
  concurrent_map* live(napi_env env) const;
  [[noreturn]] void throw_closed(napi_env env) const;
  // The call's key: encoded from c[1], or read from the io buffer.
  bytes key_of(const call& c, scratch& s) const {
    if (c.io_key) return io_key(c, s);
    encode_key(c.env, c[1], kc_, s.key);
    return s.key.view();
  }
  bytes io_key(const call& c, scratch& s) const;
  // Encode and check every key (value) of a batch; s.views then holds the
  // keys' bytes, followed by the values' after encode_values. `base`: the
  // index of the first element in the caller's batch, for error messages.
  void encode_keys(const call& c, const batch_source& src, std::size_t base, scratch& s) const;
  void encode_values(const call& c, const batch_source& src, std::size_t base, scratch& s) const;

  std::shared_ptr<shared_map> shared_;
  std::shared_ptr<env_state> env_;
  double ref_ = -1;  // this object's slot reference; -1 until registered
  std::uint64_t id_ = 0;
  bool closed_ = false;  // close() was called on this wrapper (and shared_ released)
  key_codec kc_ = key_codec::any;
  value_codec vc_ = value_codec::any;
};

}  // namespace threadmap::addon
