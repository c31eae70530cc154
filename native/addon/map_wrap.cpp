// map_wrap.cpp — NativeMap: argument plumbing from JS to threadmap::concurrent_map.
#include "map_wrap.hpp"

#include <cmath>
#include <string>
#include <string_view>
#include <vector>

#include "iterator_wrap.hpp"
#include "numa_wrap.hpp"
#include "threadmap/epoch.hpp"

namespace threadmap::addon {

// Random, fixed: identifies objects made by this class of this addon.
const napi_type_tag NativeMap::type_tag = {0x7d3a1c5e9b2f4a61ULL, 0xa4c8e0f2d6b93157ULL};

namespace {

// attach() hands the registry entry to the constructor through this slot: no
// JS runs between setting it and the constructor reading it, and a user who
// calls `new NativeMap(...)` never sees it set.
thread_local std::shared_ptr<shared_map>* t_pending_attach = nullptr;

}  // namespace

const std::vector<strategy_kind>& strategy_kinds() {
  // The core names its strategies; an enum value it has no name for ends the
  // list (its to_string answers "unknown"), so a strategy added to the core
  // is accepted here, and listed in constants.STRATEGIES, without an edit.
  static const std::vector<strategy_kind> kinds = [] {
    std::vector<strategy_kind> v;
    for (unsigned i = 0; i < 64; ++i) {
      const auto k = static_cast<strategy_kind>(i);
      if (std::string_view(to_string(k)) == "unknown") break;
      v.push_back(k);
    }
    return v;
  }();
  return kinds;
}

namespace {

std::string get_string_option(Napi::Env env, Napi::Object o, const char* name, const char* dflt,
                              const char* choices) {
  Napi::Value v = o.Get(name);
  if (v.IsUndefined()) return dflt;
  if (!v.IsString())
    throw_type_error(env, std::string("threadmap: options.") + name + " must be " + choices);
  return v.As<Napi::String>().Utf8Value();
}

std::size_t get_size_option(Napi::Env env, Napi::Object o, const char* name) {
  Napi::Value v = o.Get(name);
  if (v.IsUndefined()) return 0;
  if (!v.IsNumber())
    throw_type_error(
        env, std::string("threadmap: options.") + name + " must be a non-negative integer number");
  double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= 0) || d != std::floor(d) || d > 9007199254740991.0)
    throw_range_error(env, std::string("threadmap: options.") + name +
                               " must be an integer from 0 to 2^53 - 1, got " +
                               v.ToString().Utf8Value());
  return static_cast<std::size_t>(d);
}

struct parsed_options {
  options core;
  key_codec keys = key_codec::any;
  value_codec values = value_codec::any;
};

parsed_options parse_options(Napi::Env env, Napi::Value arg) {
  parsed_options p;
  if (arg.IsUndefined() || arg.IsNull()) return p;
  if (!arg.IsObject()) throw_type_error(env, "threadmap: options must be an object");
  Napi::Object o = arg.As<Napi::Object>();

  std::string keys = get_string_option(env, o, "keys", "any", key_codec_choices());
  auto kc = parse_key_codec(keys);
  if (!kc)
    throw_type_error(env, std::string("threadmap: options.keys must be ") + key_codec_choices() +
                              ", got '" + keys + "'");
  p.keys = *kc;

  std::string values = get_string_option(env, o, "values", "any", value_codec_choices());
  auto vc = parse_value_codec(values);
  if (!vc)
    throw_type_error(env, std::string("threadmap: options.values must be ") +
                              value_codec_choices() + ", got '" + values + "'");
  p.values = *vc;

  const std::vector<strategy_kind>& kinds = strategy_kinds();
  std::string choices;
  for (strategy_kind k : kinds) choices += std::string("'") + to_string(k) + "', ";
  choices += "or 'auto'";
  std::string strategy = get_string_option(env, o, "strategy", "auto", choices.c_str());
  bool known = false;
  if (strategy == "auto") {
    // 'auto' is striped until the benchmark says otherwise (see DESIGN.md).
    p.core.strategy = strategy_kind::striped;
    known = true;
  }
  for (strategy_kind k : kinds) {
    if (strategy == to_string(k)) {
      p.core.strategy = k;
      known = true;
    }
  }
  if (!known)
    throw_type_error(env,
                     "threadmap: options.strategy must be " + choices + ", got '" + strategy + "'");
  p.core.capacity = get_size_option(env, o, "capacity");
  p.core.max_memory = get_size_option(env, o, "maxMemory");
  p.core.numa_policy = parse_numa_option(env, o.Get("numa"));
  return p;
}

}  // namespace

Napi::Function NativeMap::define(Napi::Env env) {
  // No prototype methods: see map_wrap.hpp.
  return DefineClass(env, "NativeMap", {});
}

namespace {

// The thunk behind every map function: finds the map by its reference in
// this environment's slot table (a stale, forged or foreign reference is an
// Error, never a wild pointer) and hands it the environment's scratch.
template <Napi::Value (NativeMap::*M)(const Napi::CallbackInfo&, scratch&)>
napi_value map_function(napi_env env, napi_callback_info cbinfo) {
  return guarded_call(env, [&]() -> napi_value {
    Napi::CallbackInfo info(env, cbinfo);
    addon_data& d = data_of(env);
    double ref = -1;
    NativeMap* m = nullptr;
    if (info.Length() > 0 && napi_get_value_double(env, info[0], &ref) == napi_ok)
      m = d.state->find_slot(ref);
    if (m == nullptr) throw_error(env, "threadmap: not a live map reference in this thread");
    return (m->*M)(info, d.buffers);
  });
}

template <Napi::Value (NativeMap::*M)(const Napi::CallbackInfo&, scratch&)>
napi_property_descriptor map_fn(const char* name) {
  return {
      name,
      nullptr,
      map_function<M>,
      nullptr,
      nullptr,
      nullptr,
      static_cast<napi_property_attributes>(napi_writable | napi_configurable | napi_enumerable),
      nullptr};
}

napi_value info_function(napi_env env, napi_callback_info cbinfo) {
  return guarded_call(
      env, [&]() -> napi_value { return NativeMap::Info(Napi::CallbackInfo(env, cbinfo)); });
}

}  // namespace

void NativeMap::export_functions(Napi::Env env, Napi::Object exports) {
  const napi_property_descriptor fns[] = {
      {"info", nullptr, info_function, nullptr, nullptr, nullptr,
       static_cast<napi_property_attributes>(napi_writable | napi_configurable | napi_enumerable),
       nullptr},
      map_fn<&NativeMap::Get>("get"),
      map_fn<&NativeMap::Has>("has"),
      map_fn<&NativeMap::Set>("set"),
      map_fn<&NativeMap::SetIfAbsent>("setIfAbsent"),
      map_fn<&NativeMap::GetOrSet>("getOrSet"),
      map_fn<&NativeMap::CompareAndSet>("compareAndSet"),
      map_fn<&NativeMap::Swap>("swap"),
      map_fn<&NativeMap::Take>("take"),
      map_fn<&NativeMap::Delete>("delete"),
      map_fn<&NativeMap::Add>("add"),
      map_fn<&NativeMap::Size>("size"),
      map_fn<&NativeMap::Clear>("clear"),
      map_fn<&NativeMap::Stats>("stats"),
      map_fn<&NativeMap::Close>("close"),
      map_fn<&NativeMap::IsClosed>("isClosed"),
      map_fn<&NativeMap::Iterate>("iterate"),
  };
  check(env, napi_define_properties(env, exports, std::size(fns), fns));
}

Napi::Object NativeMap::wrap_existing(Napi::Env env, std::shared_ptr<shared_map> m) {
  struct reset_pending {
    ~reset_pending() { t_pending_attach = nullptr; }
  } reset;
  t_pending_attach = &m;
  return data_of(env).map_ctor.New({});
}

NativeMap::NativeMap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NativeMap>(info) {
  try {
    init(info);
  } catch (const Napi::Error&) {
    throw;
  } catch (const std::exception& e) {
    // node-addon-api's constructor wrapper only converts Napi::Error.
    throw Napi::Error::New(info.Env(), std::string("threadmap: ") + e.what());
  }
}

void NativeMap::init(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  info.This().As<Napi::Object>().TypeTag(&type_tag);
  env_ = data_of(env).state;
  if (t_pending_attach != nullptr) {
    shared_ = std::move(*t_pending_attach);
    t_pending_attach = nullptr;
    auto kc = parse_key_codec(shared_->key_type());
    auto vc = parse_value_codec(shared_->value_type());
    if (!kc || !vc)
      throw_error(env, "threadmap: map " + std::to_string(shared_->id()) +
                           " has types this build does not know ('" + shared_->key_type() + "', '" +
                           shared_->value_type() + "')");
    kc_ = *kc;
    vc_ = *vc;
  } else {
    parsed_options p = parse_options(env, info[0]);
    kc_ = p.keys;
    vc_ = p.values;
    try {
      shared_ = registry::create(p.core, to_string(kc_), to_string(vc_));
    } catch (const std::length_error&) {
      throw_range_error(env, "threadmap: options.capacity does not fit within options.maxMemory");
    } catch (const std::bad_alloc&) {
      throw_range_error(env, "threadmap: cannot allocate a map of that capacity");
    } catch (const std::exception& e) {
      throw_error(env, std::string("threadmap: cannot create the map: ") + e.what());
    }
    bool built;
    {
      epoch::guard g;
      built = shared_->get() != nullptr;
    }
    if (!built)  // make_map had nothing for this strategy
      throw_error(env, std::string("threadmap: this build cannot make a '") +
                           threadmap::to_string(p.core.strategy) + "' map");
  }
  id_ = shared_->id();
  // Last, and all or nothing: if the constructor throws, no destructor runs,
  // so neither the slot table nor the resource set may keep `this`.
  ref_ = env_->add_slot(this);
  try {
    track(env_, this);
  } catch (...) {
    env_->free_slot(ref_);
    throw;
  }
}

NativeMap::~NativeMap() {
  // The reference must stop naming this object before its memory goes.
  if (env_ && ref_ >= 0) env_->free_slot(ref_);
  untrack(env_, this);
}

void NativeMap::release() noexcept {
  shared_.reset();
}

void NativeMap::throw_closed(napi_env env) const {
  if (!shared_ && !closed_)
    throw_error(env, "threadmap: map " + std::to_string(id_) +
                         " was released because its thread is shutting down");
  throw_error(env, "threadmap: map " + std::to_string(id_) + " is closed");
}

concurrent_map* NativeMap::live(napi_env env) const {
  concurrent_map* m = shared_ ? shared_->get() : nullptr;
  if (m == nullptr) throw_closed(env);
  return m;
}

Napi::Value NativeMap::Get(const Napi::CallbackInfo& info, scratch& s) {
  napi_env env = info.Env();
  encode_key(env, info[1], kc_, s.key);
  bool found;
  {
    epoch::guard g;
    found = live(env)->get(s.key.view(), &s.out);
  }
  if (!found) return info[2];  // the caller's "missing" marker, undefined by default
  Napi::Value r(env, decode_value(env, vc_, s.out));
  s.trim();
  return r;
}

Napi::Value NativeMap::Has(const Napi::CallbackInfo& info, scratch& s) {
  napi_env env = info.Env();
  encode_key(env, info[1], kc_, s.key);
  bool found;
  {
    epoch::guard g;
    found = live(env)->get(s.key.view(), nullptr);
  }
  return Napi::Boolean::New(env, found);
}

Napi::Value NativeMap::Set(const Napi::CallbackInfo& info, scratch& s) {
  napi_env env = info.Env();
  encode_key(env, info[1], kc_, s.key);
  encode_value(env, info[2], vc_, s.value);
  status st;
  {
    epoch::guard g;
    st = live(env)->put(s.key.view(), s.value.view(), nullptr);
  }
  s.trim();
  if (st != status::ok && st != status::inserted) throw_status(env, st, "set");
  return Napi::Boolean::New(env, st == status::inserted);
}

Napi::Value NativeMap::SetIfAbsent(const Napi::CallbackInfo& info, scratch& s) {
  napi_env env = info.Env();
  encode_key(env, info[1], kc_, s.key);
  encode_value(env, info[2], vc_, s.value);
  status st;
  {
    epoch::guard g;
    st = live(env)->put_if_absent(s.key.view(), s.value.view(), nullptr);
  }
  s.trim();
  if (st != status::inserted && st != status::exists) throw_status(env, st, "setIfAbsent");
  return Napi::Boolean::New(env, st == status::inserted);
}

Napi::Value NativeMap::GetOrSet(const Napi::CallbackInfo& info, scratch& s) {
  napi_env env = info.Env();
  encode_key(env, info[1], kc_, s.key);
  encode_value(env, info[2], vc_, s.value);
  status st;
  {
    epoch::guard g;
    st = live(env)->put_if_absent(s.key.view(), s.value.view(), &s.out);
  }
  if (st == status::inserted) {
    s.trim();
    return info[3];  // "inserted": the caller returns its own value
  }
  if (st != status::exists) throw_status(env, st, "getOrSet");
  Napi::Value r(env, decode_value(env, vc_, s.out));
  s.trim();
  return r;
}

Napi::Value NativeMap::CompareAndSet(const Napi::CallbackInfo& info, scratch& s) {
  napi_env env = info.Env();
  std::uint32_t flags = 0;
  if (!info[4].IsUndefined()) {
    if (!info[4].IsNumber())
      throw_type_error(env, "threadmap: compareAndSet flags must be a number");
    flags = info[4].As<Napi::Number>().Uint32Value();
  }
  encode_key(env, info[1], kc_, s.key);
  const bool expect_absent = flags & cas_expect_absent;
  const bool erase = flags & cas_delete;
  if (!expect_absent) encode_value(env, info[2], vc_, s.expected);
  if (!erase) encode_value(env, info[3], vc_, s.value);
  const bytes expected = s.expected.view();
  const bytes desired = s.value.view();
  status st;
  {
    epoch::guard g;
    st = live(env)->compare_and_set(s.key.view(), expect_absent ? nullptr : &expected,
                                    erase ? nullptr : &desired, nullptr);
  }
  s.trim();
  switch (st) {
    case status::ok:
    case status::inserted:
      return Napi::Boolean::New(env, true);
    case status::mismatch:
    case status::not_found:
      return Napi::Boolean::New(env, false);
    default:
      throw_status(env, st, "compareAndSet");
  }
}

Napi::Value NativeMap::Swap(const Napi::CallbackInfo& info, scratch& s) {
  napi_env env = info.Env();
  encode_key(env, info[1], kc_, s.key);
  encode_value(env, info[2], vc_, s.value);
  status st;
  {
    epoch::guard g;
    st = live(env)->swap(s.key.view(), s.value.view(), &s.out);
  }
  if (st == status::inserted) {
    s.trim();
    return info[3];
  }
  if (st != status::ok) throw_status(env, st, "swap");
  Napi::Value r(env, decode_value(env, vc_, s.out));
  s.trim();
  return r;
}

Napi::Value NativeMap::Take(const Napi::CallbackInfo& info, scratch& s) {
  napi_env env = info.Env();
  encode_key(env, info[1], kc_, s.key);
  status st;
  {
    epoch::guard g;
    st = live(env)->take(s.key.view(), &s.out);
  }
  if (st == status::not_found) return info[2];
  if (st != status::ok) throw_status(env, st, "take");
  Napi::Value r(env, decode_value(env, vc_, s.out));
  s.trim();
  return r;
}

Napi::Value NativeMap::Delete(const Napi::CallbackInfo& info, scratch& s) {
  napi_env env = info.Env();
  encode_key(env, info[1], kc_, s.key);
  status st;
  {
    epoch::guard g;
    st = live(env)->erase(s.key.view(), nullptr);
  }
  if (st != status::ok && st != status::not_found) throw_status(env, st, "delete");
  return Napi::Boolean::New(env, st == status::ok);
}

Napi::Value NativeMap::Add(const Napi::CallbackInfo& info, scratch& s) {
  napi_env env = info.Env();
  Napi::Value delta = info[2];
  const bool is_number = delta.IsNumber();
  const bool is_bigint = delta.IsBigInt();
  // The counter layout is the value codec's own: 8 bytes of double (number)
  // or int64 (bigint), behind the `any` tag byte when values are `any`.
  static const char number_prefix = static_cast<char>(any_tag::number);
  static const char bigint_prefix = static_cast<char>(any_tag::bigint);
  counter_kind kind;
  counter d{};
  bytes prefix;
  if (vc_ == value_codec::number || (vc_ == value_codec::any && is_number)) {
    if (!is_number)
      throw_type_error(env,
                       "threadmap: add: the delta must be a number (this map's values are "
                       "'number')");
    kind = counter_kind::f64;
    d.f = delta.As<Napi::Number>().DoubleValue();
    if (vc_ == value_codec::any) prefix = bytes(&number_prefix, 1);
  } else if (vc_ == value_codec::bigint || (vc_ == value_codec::any && is_bigint)) {
    if (!is_bigint)
      throw_type_error(env,
                       "threadmap: add: the delta must be a bigint (this map's values are "
                       "'bigint')");
    kind = counter_kind::i64;
    d.i = bigint_to_i64(env, delta);
    if (vc_ == value_codec::any) prefix = bytes(&bigint_prefix, 1);
  } else if (vc_ == value_codec::any) {
    throw_type_error(env, "threadmap: add: the delta must be a number or a bigint");
  } else {
    throw_type_error(env, std::string("threadmap: add needs values 'number', 'bigint' or 'any'; "
                                      "this map's values are '") +
                              to_string(vc_) + "'");
  }
  encode_key(env, info[1], kc_, s.key);
  counter result{};
  status st;
  {
    epoch::guard g;
    st = live(env)->add(s.key.view(), kind, d, prefix, &result);
  }
  switch (st) {
    case status::ok:
    case status::inserted:
      if (kind == counter_kind::f64) return Napi::Number::New(env, result.f);
      return Napi::BigInt::New(env, static_cast<std::int64_t>(result.i));
    case status::mismatch:
      throw_type_error(env, kind == counter_kind::f64
                                ? "threadmap: add: the stored value is not a number"
                                : "threadmap: add: the stored value is not a bigint in the "
                                  "signed 64-bit range");
    default:
      throw_status(env, st, "add");
  }
}

Napi::Value NativeMap::Size(const Napi::CallbackInfo& info, scratch& s) {
  napi_env env = info.Env();
  std::size_t n;
  {
    epoch::guard g;
    n = live(env)->size();
  }
  return Napi::Number::New(env, static_cast<double>(n));
}

Napi::Value NativeMap::Clear(const Napi::CallbackInfo& info, scratch& s) {
  napi_env env = info.Env();
  {
    epoch::guard g;
    live(env)->clear();
  }
  return info.Env().Undefined();
}

Napi::Value NativeMap::Stats(const Napi::CallbackInfo& info, scratch& s) {
  napi_env env = info.Env();
  map_stats st;
  std::vector<numa::table_report> placement;
  {
    epoch::guard g;
    st = live(env)->stats();
    placement = live(env)->placement();
  }
  Napi::Object o = Napi::Object::New(env);
  o.Set("size", Napi::Number::New(env, static_cast<double>(st.size)));
  o.Set("strategy", Napi::String::New(env, to_string(st.strategy)));
  o.Set("stripes", Napi::Number::New(env, st.stripes));
  o.Set("capacity", Napi::Number::New(env, static_cast<double>(st.capacity)));
  o.Set("bytes", Napi::Number::New(env, static_cast<double>(st.bytes)));
  o.Set("resizes", Napi::Number::New(env, static_cast<double>(st.resizes)));
  o.Set("maxMemory", Napi::Number::New(env, static_cast<double>(shared_->opts().max_memory)));
  o.Set("numa", numa_stats(env, shared_->opts().numa_policy, st.strategy, placement));
  return o;
}

Napi::Value NativeMap::Close(const Napi::CallbackInfo& info, scratch& s) {
  // Not inside a guard: close() waits for every guard that may use the map.
  bool closed = shared_ ? shared_->close() : false;
  // This wrapper will never use the map again: let go of the registry entry
  // now rather than at GC, so it is freed once every other holder lets go.
  shared_.reset();
  closed_ = true;
  return Napi::Boolean::New(info.Env(), closed);
}

Napi::Value NativeMap::IsClosed(const Napi::CallbackInfo& info, scratch& s) {
  bool closed;
  {
    epoch::guard g;
    closed = !shared_ || shared_->get() == nullptr;
  }
  return Napi::Boolean::New(info.Env(), closed);
}

Napi::Value NativeMap::Info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  NativeMap* m = unwrap_tagged<NativeMap>(env, info[0], "threadmap: info(): the argument");
  if (!m->shared_) m->throw_closed(env);
  Napi::Object o = Napi::Object::New(env);
  o.Set("id", Napi::Number::New(env, static_cast<double>(m->id_)));
  o.Set("keys", Napi::String::New(env, to_string(m->kc_)));
  o.Set("values", Napi::String::New(env, to_string(m->vc_)));
  o.Set("strategy", Napi::String::New(env, threadmap::to_string(m->shared_->opts().strategy)));
  o.Set("ref", Napi::Number::New(env, m->ref_));
  return o;
}

Napi::Value NativeMap::Iterate(const Napi::CallbackInfo& info, scratch& s) {
  Napi::Env env = info.Env();
  std::uint32_t mode = iter_entries;
  if (!info[1].IsUndefined()) {
    if (!info[1].IsNumber()) throw_type_error(env, "threadmap: iterate mode must be a number");
    mode = info[1].As<Napi::Number>().Uint32Value();
    if (mode > iter_entries) throw_range_error(env, "threadmap: unknown iterate mode");
  }
  std::uint32_t chunk = 1024;
  if (!info[2].IsUndefined()) {
    if (!info[2].IsNumber()) throw_type_error(env, "threadmap: iterate chunk must be a number");
    chunk = info[2].As<Napi::Number>().Uint32Value();
    // Bounded: a chunk becomes the arguments of one Array.of call (two per
    // entry), which must fit on a worker's stack.
    if (chunk == 0 || chunk > 4096)
      throw_range_error(env, "threadmap: iterate chunk must be from 1 to 4096");
  }
  {
    epoch::guard g;
    live(env);  // iterating a closed map is an error at once, not at the first chunk
  }
  return NativeIterator::create(env, iterator_init{shared_, kc_, vc_, mode, chunk});
}

}  // namespace threadmap::addon
