// cacheSim(policy, capacity, trace, options?): replays `trace` (a Uint32Array
// of keys, each a read that inserts the key when it misses) through
// `options.stripes` instances (default 1) of the named eviction policy
// sharing `capacity` entries, with `options.lanes` read-buffer lanes each.
// Returns the hits, misses and evictions, the policy's own counts and its
// memory (native/lab/index.d.ts, CacheSimResult). evictionPolicies lists the
// names the core knows (eviction::all_kinds).
#include "cachesim_wrap.hpp"

#include <string>

#include "cachesim.hpp"

namespace threadmap::addon {
namespace {

namespace ev = threadmap::detail::eviction;

unsigned uint_option(Napi::Env env, Napi::Object o, const char* name, unsigned fallback,
                     unsigned max) {
  Napi::Value v = o.Get(name);
  if (v.IsUndefined()) return fallback;
  const double d = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : -1;
  if (!(d >= 1 && d <= max) || d != static_cast<double>(static_cast<unsigned>(d)))
    throw_range_error(env, std::string("threadmap lab: cacheSim options.") + name +
                               " must be an integer from 1 to " + std::to_string(max));
  return static_cast<unsigned>(d);
}

Napi::Value CacheSim(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::optional<ev::kind> k;
  if (info[0].IsString()) k = ev::parse_kind(info[0].As<Napi::String>().Utf8Value());
  if (!k) {
    std::string names;
    for (ev::kind x : ev::all_kinds)
      names += std::string(names.empty() ? "" : ", ") + ev::to_string(x);
    throw_type_error(env, "threadmap lab: cacheSim policy must be one of " + names);
  }
  const double cap = info[1].IsNumber() ? info[1].As<Napi::Number>().DoubleValue() : -1;
  if (!(cap >= 1 && cap < static_cast<double>(ev::max_capacity)) ||
      cap != static_cast<double>(static_cast<std::size_t>(cap)))
    throw_range_error(env,
                      "threadmap lab: cacheSim capacity must be an integer from 1 to 2^31 - 1");
  if (!info[2].IsTypedArray() ||
      info[2].As<Napi::TypedArray>().TypedArrayType() != napi_uint32_array)
    throw_type_error(env, "threadmap lab: cacheSim trace must be a Uint32Array");
  Napi::Uint32Array trace = info[2].As<Napi::Uint32Array>();
  Napi::Object opts = info[3].IsObject() ? info[3].As<Napi::Object>() : Napi::Object::New(env);
  const unsigned stripes = uint_option(env, opts, "stripes", 1, 1u << 16);
  const unsigned lanes = uint_option(env, opts, "lanes", ev::default_lanes, 64);
  if (lanes & (lanes - 1))
    throw_range_error(env, "threadmap lab: cacheSim options.lanes must be a power of two");
  if (cap < stripes)
    throw_range_error(env, "threadmap lab: cacheSim capacity must be at least options.stripes");
  const cachesim::result r = cachesim::replay(*k, static_cast<std::size_t>(cap), trace.Data(),
                                              trace.ElementLength(), stripes, lanes);
  if (!r.error.empty()) throw_error(env, "threadmap lab: cacheSim: " + r.error);
  Napi::Object out = Napi::Object::New(env);
  const auto num = [&](const char* name, double v) { out.Set(name, Napi::Number::New(env, v)); };
  num("hits", static_cast<double>(r.hits));
  num("misses", static_cast<double>(r.misses));
  num("evictions", static_cast<double>(r.evictions));
  num("admitted", static_cast<double>(r.stats.admitted));
  num("rejected", static_cast<double>(r.stats.rejected));
  num("drained", static_cast<double>(r.stats.drained));
  num("dropped", static_cast<double>(r.stats.dropped));
  Napi::Object mem = Napi::Object::New(env);
  mem.Set("capacity", Napi::Number::New(env, static_cast<double>(r.memory.capacity)));
  mem.Set("nodes", Napi::Number::New(env, static_cast<double>(r.memory.nodes)));
  mem.Set("sketch", Napi::Number::New(env, static_cast<double>(r.memory.sketch)));
  mem.Set("buffers", Napi::Number::New(env, static_cast<double>(r.memory.buffers)));
  mem.Set("object", Napi::Number::New(env, static_cast<double>(r.memory.object)));
  mem.Set("tablePerEntry", Napi::Number::New(env, static_cast<double>(r.memory.table_per_entry)));
  mem.Set("perEntry", Napi::Number::New(env, r.memory.per_entry()));
  out.Set("memory", mem);
  return out;
}

}  // namespace

void export_cachesim(Napi::Env env, Napi::Object exports) {
  exports.Set("cacheSim", Napi::Function::New<CacheSim>(env, "cacheSim"));
  Napi::Array names = Napi::Array::New(env);
  std::uint32_t i = 0;
  for (ev::kind x : ev::all_kinds) names.Set(i++, Napi::String::New(env, ev::to_string(x)));
  exports.Set("evictionPolicies", names);
}

}  // namespace threadmap::addon
