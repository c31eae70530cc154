// structures_wrap.cpp — argument plumbing for the structure list; the
// protocol is registry.hpp's.
#include "structures_wrap.hpp"

#include <cmath>
#include <cstring>
#include <string>
#include <string_view>

#include "map_wrap.hpp"
#include "threadmap/registry.hpp"

namespace threadmap::addon {
namespace {

structure_list& list_of(Napi::Env env, Napi::Value map) {
  NativeMap* m = unwrap_tagged<NativeMap>(env, map, "threadmap: structures: the map");
  return m->shared(env).structures();
}

// The list said closed: the map was closed by some thread after list_of
// looked. close() detaches the core map before it closes the list, so asking
// again throws the Error every call on a closed map throws.
[[noreturn]] void throw_closed_list(Napi::Env env, Napi::Value map) {
  list_of(env, map);
  throw_error(env, "threadmap: the map is closed");
}

Napi::Value Read(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  structure_list::snapshot s = list_of(env, info[0]).read();
  if (s.closed) throw_closed_list(env, info[0]);
  Napi::Array out = Napi::Array::New(env, 2);
  out.Set(0u, Napi::Number::New(env, static_cast<double>(s.version)));
  Napi::Uint8Array bytes = Napi::Uint8Array::New(env, s.bytes.size());
  if (!s.bytes.empty()) std::memcpy(bytes.Data(), s.bytes.data(), s.bytes.size());
  out.Set(1u, bytes);
  return out;
}

Napi::Value Append(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  structure_list& list = list_of(env, info[0]);
  const Napi::Value v = info[1];
  double d = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : -1;
  if (!(d >= 0) || d != std::floor(d) || d > 9007199254740991.0)
    throw_type_error(env,
                     "threadmap: structuresAppend: the version must be a non-negative integer");
  if (!info[2].IsTypedArray() ||
      info[2].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array)
    throw_type_error(env, "threadmap: structuresAppend: the bytes must be a Uint8Array");
  Napi::Uint8Array bytes = info[2].As<Napi::Uint8Array>();
  const std::string_view tail(reinterpret_cast<const char*>(bytes.Data()), bytes.ByteLength());
  switch (list.compare_and_append(static_cast<std::uint64_t>(d), tail)) {
    case structure_list::append_result::appended:
      return Napi::Boolean::New(env, true);
    case structure_list::append_result::stale:
      return Napi::Boolean::New(env, false);
    case structure_list::append_result::too_large:
      throw_range_error(env, "threadmap: the map's structure list is full (" +
                                 std::to_string(structure_list::max_bytes) + " bytes)");
    case structure_list::append_result::closed:
      break;
  }
  throw_closed_list(env, info[0]);
}

template <Napi::Value (*F)(const Napi::CallbackInfo&)>
napi_value thunk(napi_env env, napi_callback_info cbinfo) {
  return guarded_call(env, [&]() -> napi_value { return F(Napi::CallbackInfo(env, cbinfo)); });
}

}  // namespace

void export_structures(Napi::Env env, Napi::Object exports) {
  const auto attr =
      static_cast<napi_property_attributes>(napi_writable | napi_configurable | napi_enumerable);
  const napi_property_descriptor fns[] = {
      {"structuresRead", nullptr, thunk<Read>, nullptr, nullptr, nullptr, attr, nullptr},
      {"structuresAppend", nullptr, thunk<Append>, nullptr, nullptr, nullptr, attr, nullptr},
  };
  check(env, napi_define_properties(env, exports, std::size(fns), fns));
}

}  // namespace threadmap::addon
