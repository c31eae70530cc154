// map_wrap.cpp — NativeMap: argument plumbing from JS to threadmap::concurrent_map.
#include "map_wrap.hpp"

#include <cmath>
#include <cstring>
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

// The thunk behind every map function: reads the arguments with one
// napi_get_cb_info (a fixed count, or all of them for a batch), finds the map
// by its reference in this environment's slot table (a stale, forged or
// foreign reference is an Error, never a wild pointer) and hands it the
// environment's scratch. The environment's addon_data arrives as the
// function's data pointer, so no instance-data lookup is needed either.
// (Node-API's own CallbackInfo wrapper plus the lookup cost about 5 ns more
// per call, measured beside this thunk.)
[[noreturn]] void throw_batch_too_long(napi_env env) {
  throw_range_error(env, "threadmap: one batch call takes at most " + std::to_string(max_batch) +
                             " keys (ThreadMap splits longer batches)");
}

template <napi_value (NativeMap::*M)(const call&, scratch&), bool Variadic>
napi_value map_function(napi_env env, napi_callback_info cbinfo) {
  return guarded_call(env, [&]() -> napi_value {
    napi_value argv[call::fixed];
    std::size_t argc = call::fixed;
    void* data = nullptr;
    check(env, napi_get_cb_info(env, cbinfo, &argc, argv, nullptr, &data));
    addon_data& d = *static_cast<addon_data*>(data);
    call c{env, &d, argc, argv, false, false};
    if constexpr (Variadic) {
      if (argc > call::fixed) {
        if (argc > 2 * max_batch + call::fixed) throw_batch_too_long(env);
        d.buffers.args.resize(argc);
        check(env, napi_get_cb_info(env, cbinfo, &argc, d.buffers.args.data(), nullptr, nullptr));
        c.argv = d.buffers.args.data();
      }
    }
    double ref = -1;
    NativeMap* m = nullptr;
    if (argc > 0 && napi_get_value_double(env, argv[0], &ref) == napi_ok)
      m = d.state->find_slot(ref);
    if (m == nullptr) throw_error(env, "threadmap: not a live map reference in this thread");
    return (m->*M)(c, d.buffers);
  });
}

// The thunk behind the io functions: the map reference is in this thread's
// io buffer (see env_state.hpp), written by the TypeScript layer just before
// the call, and so is the key when KeyInIo (ioGet ...); otherwise the key is
// the first argument (ioGetK ...). The JS arguments after the key are the
// operation's other ones: at most `Args` of them are read, into argv[2...],
// so the operation finds them where the plain function has them (only
// operations that read no argument past c[2] are exposed this way); c.argc
// says how many there were.
template <napi_value (NativeMap::*M)(const call&, scratch&), std::size_t Args, bool KeyInIo>
napi_value io_function(napi_env env, napi_callback_info cbinfo) {
  return guarded_call(env, [&]() -> napi_value {
    constexpr std::size_t first = KeyInIo ? 2 : 1;  // where the JS arguments land
    constexpr std::size_t wanted = Args + 2 - first;
    napi_value argv[2 + Args + 1] = {};
    std::size_t argc = wanted;
    void* data = nullptr;
    check(env,
          napi_get_cb_info(env, cbinfo, &argc, wanted ? argv + first : nullptr, nullptr, &data));
    addon_data& d = *static_cast<addon_data*>(data);
    // The io buffer's rules (env_state.hpp): check first unless its memory is
    // ours and not known to be detached, and read the reference once,
    // leaving -1 for a dropped write.
    check_io(env, d, false);
    const double ref = d.io->ref;
    d.io->ref = -1;
    NativeMap* m = d.state->find_slot(ref);
    if (m == nullptr) {
      check_io(env, d, true);
      throw_error(env, "threadmap: not a live map reference in this thread");
    }
    if (argc > wanted) argc = wanted;  // only the first `wanted` were read
    if (!KeyInIo && argc == 0) throw_type_error(env, "threadmap: the key argument is missing");
    const call c{env, &d, argc + first, argv, true, KeyInIo};
    return (m->*M)(c, d.buffers);
  });
}

template <napi_value (NativeMap::*M)(const call&, scratch&), std::size_t Args, bool KeyInIo>
napi_property_descriptor io_fn(const char* name, addon_data* d) {
  return {
      name,
      nullptr,
      io_function<M, Args, KeyInIo>,
      nullptr,
      nullptr,
      nullptr,
      static_cast<napi_property_attributes>(napi_writable | napi_configurable | napi_enumerable),
      d};
}

template <napi_value (NativeMap::*M)(const call&, scratch&), bool Variadic = false>
napi_property_descriptor map_fn(const char* name, addon_data* d) {
  return {
      name,
      nullptr,
      map_function<M, Variadic>,
      nullptr,
      nullptr,
      nullptr,
      static_cast<napi_property_attributes>(napi_writable | napi_configurable | napi_enumerable),
      d};
}

napi_value info_function(napi_env env, napi_callback_info cbinfo) {
  return guarded_call(
      env, [&]() -> napi_value { return NativeMap::Info(Napi::CallbackInfo(env, cbinfo)); });
}

napi_value boolean(napi_env env, bool b) {
  napi_value r;
  check(env, napi_get_boolean(env, b, &r));
  return r;
}

napi_value undefined(napi_env env) {
  napi_value r;
  check(env, napi_get_undefined(env, &r));
  return r;
}

bool is_undefined(napi_env env, napi_value v) {
  napi_valuetype t;
  check(env, napi_typeof(env, v, &t));
  return t == napi_undefined;
}

// A plain Array of `elements`, made by one call to the original Array.of:
// napi_set_element per element goes through a generic property store and
// costs more than the element itself.
napi_value array_of(const call& c, std::vector<napi_value>& elements) {
  napi_value fn = c.data->array_of.Value();
  napi_value result;
  check(c.env,
        napi_call_function(c.env, undefined(c.env), fn, elements.size(), elements.data(), &result));
  elements.clear();
  return result;
}

}  // namespace

void NativeMap::export_functions(Napi::Env env, Napi::Object exports) {
  addon_data* d = &data_of(env);
  const napi_property_descriptor fns[] = {
      {"info", nullptr, info_function, nullptr, nullptr, nullptr,
       static_cast<napi_property_attributes>(napi_writable | napi_configurable | napi_enumerable),
       nullptr},
      map_fn<&NativeMap::Get>("get", d),
      map_fn<&NativeMap::SetIfAbsent>("setIfAbsent", d),
      map_fn<&NativeMap::GetOrSet>("getOrSet", d),
      map_fn<&NativeMap::CompareAndSet>("compareAndSet", d),
      map_fn<&NativeMap::Swap>("swap", d),
      map_fn<&NativeMap::Take>("take", d),
      map_fn<&NativeMap::Size>("size", d),
      map_fn<&NativeMap::Clear>("clear", d),
      map_fn<&NativeMap::Stats>("stats", d),
      map_fn<&NativeMap::Close>("close", d),
      map_fn<&NativeMap::IsClosed>("isClosed", d),
      map_fn<&NativeMap::Iterate>("iterate", d),
      map_fn<&NativeMap::GetMany, true>("getMany", d),
      map_fn<&NativeMap::HasMany, true>("hasMany", d),
      map_fn<&NativeMap::DeleteMany, true>("deleteMany", d),
      map_fn<&NativeMap::SetMany, true>("setMany", d),
      io_fn<&NativeMap::Get, 1, true>("ioGet", d),
      io_fn<&NativeMap::Has, 0, true>("ioHas", d),
      io_fn<&NativeMap::Set, 1, true>("ioSet", d),
      io_fn<&NativeMap::Delete, 0, true>("ioDelete", d),
      io_fn<&NativeMap::Add, 1, true>("ioAdd", d),
      io_fn<&NativeMap::Get, 1, false>("ioGetK", d),
      io_fn<&NativeMap::Has, 0, false>("ioHasK", d),
      io_fn<&NativeMap::Set, 1, false>("ioSetK", d),
      io_fn<&NativeMap::Delete, 0, false>("ioDeleteK", d),
      io_fn<&NativeMap::Add, 1, false>("ioAddK", d),
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

bytes NativeMap::io_key(const call& c, scratch& s) const {
  // The TypeScript layer sends only number keys this way, and only for maps
  // whose keys are numbers or 'any'.
  if (kc_ != key_codec::number && kc_ != key_codec::any)
    throw_error(c.env, "threadmap: an io call needs a map whose keys are numbers or 'any'");
  s.key.clear();
  append_number_key(c.data->io->number, kc_, s.key);
  return s.key.view();
}

napi_value NativeMap::Get(const call& c, scratch& s) {
  napi_env env = c.env;
  const bytes key = key_of(c, s);
  bool found;
  {
    epoch::guard g;
    found = live(env)->get(key, &s.out);
  }
  if (!found) return c[2];  // the caller's "missing" marker, undefined by default
  if (c.io && vc_ == value_codec::number) {
    // The value goes back through the io buffer: returning nothing (undefined)
    // costs no handle and no number allocation.
    c.data->io->value = read_number(env, s.out);
    return nullptr;
  }
  napi_value r = decode_value(env, vc_, s.out);
  s.trim();
  return r;
}

napi_value NativeMap::Has(const call& c, scratch& s) {
  napi_env env = c.env;
  const bytes key = key_of(c, s);
  bool found;
  {
    epoch::guard g;
    found = live(env)->get(key, nullptr);
  }
  return boolean(env, found);
}

napi_value NativeMap::Set(const call& c, scratch& s) {
  napi_env env = c.env;
  // An io call without a value argument on a number-valued map: the value is
  // in the io buffer.
  const bool value_in_io = c.io && c.argc < 3 && vc_ == value_codec::number;
  if (value_in_io) {
    s.value.clear();
    append_double(c.data->io->value, false, s.value);
  }
  const bytes key = key_of(c, s);
  if (!value_in_io) encode_value(env, c[2], vc_, s.value);
  status st;
  {
    epoch::guard g;
    st = live(env)->put(key, s.value.view(), nullptr);
  }
  s.trim();
  if (st != status::ok && st != status::inserted) throw_status(env, st, "set");
  return boolean(env, st == status::inserted);
}

napi_value NativeMap::SetIfAbsent(const call& c, scratch& s) {
  napi_env env = c.env;
  const bytes key = key_of(c, s);
  encode_value(env, c[2], vc_, s.value);
  status st;
  {
    epoch::guard g;
    st = live(env)->put_if_absent(key, s.value.view(), nullptr);
  }
  s.trim();
  if (st != status::inserted && st != status::exists) throw_status(env, st, "setIfAbsent");
  return boolean(env, st == status::inserted);
}

napi_value NativeMap::GetOrSet(const call& c, scratch& s) {
  napi_env env = c.env;
  const bytes key = key_of(c, s);
  encode_value(env, c[2], vc_, s.value);
  status st;
  {
    epoch::guard g;
    st = live(env)->put_if_absent(key, s.value.view(), &s.out);
  }
  if (st == status::inserted) {
    s.trim();
    return c[3];  // "inserted": the caller returns its own value
  }
  if (st != status::exists) throw_status(env, st, "getOrSet");
  napi_value r = decode_value(env, vc_, s.out);
  s.trim();
  return r;
}

napi_value NativeMap::CompareAndSet(const call& c, scratch& s) {
  napi_env env = c.env;
  std::uint32_t flags = 0;
  const Napi::Value flag_arg(env, c[4]);
  if (!flag_arg.IsUndefined()) {
    if (!flag_arg.IsNumber())
      throw_type_error(env, "threadmap: compareAndSet flags must be a number");
    flags = flag_arg.As<Napi::Number>().Uint32Value();
  }
  const bytes key = key_of(c, s);
  const bool expect_absent = flags & cas_expect_absent;
  const bool erase = flags & cas_delete;
  if (!expect_absent) encode_value(env, c[2], vc_, s.expected);
  if (!erase) encode_value(env, c[3], vc_, s.value);
  const bytes expected = s.expected.view();
  const bytes desired = s.value.view();
  status st;
  {
    epoch::guard g;
    st = live(env)->compare_and_set(key, expect_absent ? nullptr : &expected,
                                    erase ? nullptr : &desired, nullptr);
  }
  s.trim();
  switch (st) {
    case status::ok:
    case status::inserted:
      return boolean(env, true);
    case status::mismatch:
    case status::not_found:
      return boolean(env, false);
    default:
      throw_status(env, st, "compareAndSet");
  }
}

napi_value NativeMap::Swap(const call& c, scratch& s) {
  napi_env env = c.env;
  const bytes key = key_of(c, s);
  encode_value(env, c[2], vc_, s.value);
  status st;
  {
    epoch::guard g;
    st = live(env)->swap(key, s.value.view(), &s.out);
  }
  if (st == status::inserted) {
    s.trim();
    return c[3];
  }
  if (st != status::ok) throw_status(env, st, "swap");
  napi_value r = decode_value(env, vc_, s.out);
  s.trim();
  return r;
}

napi_value NativeMap::Take(const call& c, scratch& s) {
  napi_env env = c.env;
  const bytes key = key_of(c, s);
  status st;
  {
    epoch::guard g;
    st = live(env)->take(key, &s.out);
  }
  if (st == status::not_found) return c[2];
  if (st != status::ok) throw_status(env, st, "take");
  napi_value r = decode_value(env, vc_, s.out);
  s.trim();
  return r;
}

napi_value NativeMap::Delete(const call& c, scratch& s) {
  napi_env env = c.env;
  const bytes key = key_of(c, s);
  status st;
  {
    epoch::guard g;
    st = live(env)->erase(key, nullptr);
  }
  if (st != status::ok && st != status::not_found) throw_status(env, st, "delete");
  return boolean(env, st == status::ok);
}

napi_value NativeMap::Add(const call& c, scratch& s) {
  napi_env env = c.env;
  const Napi::Value delta(env, c[2]);
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
  const bytes key = key_of(c, s);
  counter result{};
  status st;
  {
    epoch::guard g;
    st = live(env)->add(key, kind, d, prefix, &result);
  }
  switch (st) {
    case status::ok:
    case status::inserted:
      if (kind == counter_kind::f64) return Napi::Number::New(env, result.f);
      return Napi::BigInt::New(env, static_cast<std::int64_t>(result.i));
    case status::mismatch: {
      // A stored bigint outside int64 (the long form) is the right type out
      // of a counter's range: a RangeError, as an overflow is, not the
      // TypeError of a value of another type. Under 'bigint' values every
      // stored value that is not a counter is one. Under 'any' the entry is
      // read again (add changed nothing): a write between the two reads can
      // only change which class is thrown, and the TypeError's words stay
      // true of the value add saw.
      bool long_bigint = kind == counter_kind::i64 && vc_ == value_codec::bigint;
      if (kind == counter_kind::i64 && vc_ == value_codec::any) {
        epoch::guard g;
        long_bigint = live(env)->get(key, &s.out) && s.out.size() > 9 &&
                      static_cast<std::uint8_t>(s.out[0]) == any_tag::bigint;
      }
      if (long_bigint)
        throw_range_error(env,
                          "threadmap: add: the stored bigint is outside the signed 64-bit range "
                          "of a counter; nothing changed");
      throw_type_error(env,
                       kind == counter_kind::f64
                           ? "threadmap: add: the stored value is not a number; nothing changed"
                           : "threadmap: add: the stored value is not a bigint in the signed "
                             "64-bit range; nothing changed");
    }
    default:
      throw_status(env, st, "add");
  }
}

napi_value NativeMap::Size(const call& c, scratch& s) {
  napi_env env = c.env;
  std::size_t n;
  {
    epoch::guard g;
    n = live(env)->size();
  }
  return Napi::Number::New(env, static_cast<double>(n));
}

napi_value NativeMap::Clear(const call& c, scratch& s) {
  napi_env env = c.env;
  {
    epoch::guard g;
    live(env)->clear();
  }
  return undefined(env);
}

napi_value NativeMap::Stats(const call& c, scratch& s) {
  napi_env env = c.env;
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

napi_value NativeMap::Close(const call& c, scratch& s) {
  // Not inside a guard: close() waits for every guard that may use the map.
  bool closed = shared_ ? shared_->close() : false;
  // This wrapper will never use the map again: let go of the registry entry
  // now rather than at GC, so it is freed once every other holder lets go.
  shared_.reset();
  closed_ = true;
  return boolean(c.env, closed);
}

napi_value NativeMap::IsClosed(const call& c, scratch& s) {
  bool closed;
  {
    epoch::guard g;
    closed = !shared_ || shared_->get() == nullptr;
  }
  return boolean(c.env, closed);
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

napi_value NativeMap::Iterate(const call& c, scratch& s) {
  Napi::Env env(c.env);
  std::uint32_t mode = iter_entries;
  const Napi::Value mode_arg(env, c[1]), chunk_arg(env, c[2]);
  if (!mode_arg.IsUndefined()) {
    if (!mode_arg.IsNumber()) throw_type_error(env, "threadmap: iterate mode must be a number");
    mode = mode_arg.As<Napi::Number>().Uint32Value();
    if (mode > iter_entries) throw_range_error(env, "threadmap: unknown iterate mode");
  }
  std::uint32_t chunk = 1024;
  if (!chunk_arg.IsUndefined()) {
    if (!chunk_arg.IsNumber()) throw_type_error(env, "threadmap: iterate chunk must be a number");
    chunk = chunk_arg.As<Napi::Number>().Uint32Value();
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

// --- batches -----------------------------------------------------------------

namespace {

// c[at]: a typed array, or undefined for spread arguments from c[first] on.
batch_source source_of(const call& c, std::size_t at, std::size_t first) {
  batch_source src;
  if (!is_undefined(c.env, c[at])) {
    if (!typed_elements_of(c.env, c[at], src.elements))
      throw_type_error(c.env,
                       "threadmap: batch keys and values must be arrays, or a Float64Array, "
                       "BigInt64Array or BigUint64Array");
    src.typed = true;
    src.count = src.elements.length;
  } else {
    src.first = first;
    src.count = c.argc > first ? c.argc - first : 0;
  }
  return src;
}

// The index of the batch's first element in the caller's whole batch (the
// TypeScript layer splits long ones), for error messages.
std::size_t batch_base(napi_env env, napi_value v) {
  double d = -1;
  if (napi_get_value_double(env, v, &d) != napi_ok || !(d >= 0) || d > 9007199254740991.0)
    throw_type_error(env, "threadmap: a batch's base index must be a non-negative number");
  return static_cast<std::size_t>(d);
}

bool batch_flag(napi_env env, napi_value v) {
  bool b = false;
  if (napi_get_value_bool(env, v, &b) != napi_ok)
    throw_type_error(env, "threadmap: a batch's dry-run flag must be a boolean");
  return b;
}

// Appends the views of the elements encoded back to back in `buf`.
void append_views(const byte_buffer& buf, const std::vector<std::size_t>& ends,
                  std::vector<bytes>& views) {
  std::size_t from = 0;
  for (std::size_t end : ends) {
    views.emplace_back(buf.data() + from, end - from);
    from = end;
  }
}

// A write that failed part-way through a batch (only maxMemory can: every
// element was encoded and checked before the first write).
[[noreturn]] void throw_batch_status(napi_env env, status st, const char* what, std::size_t index) {
  if (st == status::memory_limit)
    throw_range_error(env, std::string("threadmap: ") + what +
                               ": the map's maxMemory would be exceeded at index " +
                               std::to_string(index) +
                               "; the entries before it were written, none from it on");
  throw_status(env, st, what);
}

}  // namespace

void NativeMap::encode_keys(const call& c, const batch_source& src, std::size_t base,
                            scratch& s) const {
  if (src.count > max_batch) throw_batch_too_long(c.env);
  s.batch_keys.clear();
  s.key_ends.clear();
  if (src.typed) {
    check_typed_keys(c.env, src.elements, kc_);
    for (std::size_t i = 0; i < src.count; ++i) {
      append_typed_key(src.elements, i, kc_, s.batch_keys);
      s.key_ends.push_back(s.batch_keys.size());
    }
  } else {
    for (std::size_t i = 0; i < src.count; ++i) {
      append_key(c.env, c[src.first + i], kc_, s.batch_keys, base + i);
      s.key_ends.push_back(s.batch_keys.size());
    }
  }
  s.views.clear();
  append_views(s.batch_keys, s.key_ends, s.views);
}

void NativeMap::encode_values(const call& c, const batch_source& src, std::size_t base,
                              scratch& s) const {
  if (src.count > max_batch) throw_batch_too_long(c.env);
  s.batch_values.clear();
  s.value_ends.clear();
  if (src.typed) {
    check_typed_values(c.env, src.elements, vc_);
    for (std::size_t i = 0; i < src.count; ++i) {
      append_typed_value(src.elements, i, vc_, s.batch_values);
      s.value_ends.push_back(s.batch_values.size());
    }
  } else {
    for (std::size_t i = 0; i < src.count; ++i) {
      append_value(c.env, c[src.first + i], vc_, s.batch_values, base + i);
      s.value_ends.push_back(s.batch_values.size());
    }
  }
  append_views(s.batch_values, s.value_ends, s.views);  // after the keys' views
}

// getMany(ref, base, missing, typedKeys, ...keys): the values in key order,
// `missing` where a key is absent.
napi_value NativeMap::GetMany(const call& c, scratch& s) {
  napi_env env = c.env;
  const std::size_t base = batch_base(env, c[1]);
  const batch_source keys = source_of(c, 3, 4);
  encode_keys(c, keys, base, s);
  const std::size_t n = keys.count;
  if (s.outs.size() < n) s.outs.resize(n);
  bool* found = s.found_for(n);
  {
    epoch::guard g;
    live(env)->get_many(s.views.data(), n, s.outs.data(), found);
  }
  s.results.resize(n);
  for (std::size_t i = 0; i < n; ++i)
    s.results[i] = found[i] ? decode_value(env, vc_, s.outs[i]) : c[2];
  napi_value r = array_of(c, s.results);
  s.trim_batch();
  return r;
}

// hasMany(ref, base, typedKeys, ...keys): whether each key is present.
napi_value NativeMap::HasMany(const call& c, scratch& s) {
  napi_env env = c.env;
  const std::size_t base = batch_base(env, c[1]);
  const batch_source keys = source_of(c, 2, 3);
  encode_keys(c, keys, base, s);
  const std::size_t n = keys.count;
  bool* found = s.found_for(n);
  {
    epoch::guard g;
    live(env)->get_many(s.views.data(), n, nullptr, found);
  }
  s.results.resize(n);
  for (std::size_t i = 0; i < n; ++i) s.results[i] = boolean(env, found[i]);
  napi_value r = array_of(c, s.results);
  s.trim_batch();
  return r;
}

// deleteMany(ref, base, dryRun, typedKeys, ...keys): whether each key was
// present (and so deleted by this call). A dry run only encodes and checks.
napi_value NativeMap::DeleteMany(const call& c, scratch& s) {
  napi_env env = c.env;
  const std::size_t base = batch_base(env, c[1]);
  const bool dry_run = batch_flag(env, c[2]);
  const batch_source keys = source_of(c, 3, 4);
  encode_keys(c, keys, base, s);
  if (dry_run) {
    s.trim_batch();
    return undefined(env);
  }
  const std::size_t n = keys.count;
  bool* deleted = s.found_for(n);
  std::size_t failed = n;
  status st = status::ok;
  {
    epoch::guard g;
    concurrent_map* m = live(env);
    for (std::size_t i = 0; i < n && failed == n; ++i) {
      st = m->erase(s.views[i], nullptr);
      if (st != status::ok && st != status::not_found) failed = i;
      deleted[i] = st == status::ok;
    }
  }
  if (failed != n) throw_batch_status(env, st, "deleteMany", base + failed);
  s.results.resize(n);
  for (std::size_t i = 0; i < n; ++i) s.results[i] = boolean(env, deleted[i]);
  napi_value r = array_of(c, s.results);
  s.trim_batch();
  return r;
}

// setMany(ref, base, dryRun, typedKeys, typedValues, ...rest): rest holds
// the keys that are not typed, then the values that are not typed.
napi_value NativeMap::SetMany(const call& c, scratch& s) {
  napi_env env = c.env;
  const std::size_t base = batch_base(env, c[1]);
  const bool dry_run = batch_flag(env, c[2]);
  batch_source keys = source_of(c, 3, 5);
  batch_source values = source_of(c, 4, 5);
  const std::size_t rest = c.argc > 5 ? c.argc - 5 : 0;
  std::size_t n;
  if (keys.typed) {
    n = keys.count;
  } else if (values.typed) {
    n = values.count;
  } else {
    if (rest % 2 != 0) throw_range_error(env, "threadmap: setMany needs as many values as keys");
    n = rest / 2;
  }
  if (!keys.typed) keys.count = n;
  if (!values.typed) {
    values.first = 5 + (keys.typed ? 0 : n);
    values.count = n;
  }
  if (keys.count != n || values.count != n || rest != (keys.typed ? 0 : n) + (values.typed ? 0 : n))
    throw_range_error(env, "threadmap: setMany needs as many values as keys");
  encode_keys(c, keys, base, s);
  encode_values(c, values, base, s);
  if (dry_run) {
    s.trim_batch();
    return undefined(env);
  }
  std::size_t failed = n;
  status st = status::ok;
  {
    epoch::guard g;
    concurrent_map* m = live(env);
    for (std::size_t i = 0; i < n; ++i) {
      st = m->put(s.views[i], s.views[n + i], nullptr);
      if (st != status::ok && st != status::inserted) {
        failed = i;
        break;
      }
    }
  }
  s.trim_batch();
  if (failed != n) throw_batch_status(env, st, "setMany", base + failed);
  return undefined(env);
}

}  // namespace threadmap::addon
