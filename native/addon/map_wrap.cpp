// map_wrap.cpp — NativeMap: argument plumbing from JS to threadmap::concurrent_map.
//
// Read in this order: the object's lifetime; how a JS call reaches an
// operation (the thunks); the operations on one key, each a short declaration
// run by one skeleton (keyed<Op>); the operations on the whole map; the
// batches; and the list of exported functions.
#include "map_wrap.hpp"

#include <bit>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "iterator_wrap.hpp"
#include "loads_wrap.hpp"
#include "numa_wrap.hpp"
#include "range_wrap.hpp"
#include "threadmap/epoch.hpp"
#include "watch_wrap.hpp"

namespace threadmap::addon {

// Random, fixed: identifies objects made by this class of this addon.
const napi_type_tag NativeMap::type_tag = {0x7d3a1c5e9b2f4a61ULL, 0xa4c8e0f2d6b93157ULL};

// --- lifetime -------------------------------------------------------------------

namespace {

// attach() hands the registry entry to the constructor through this slot: no
// JS runs between setting it and the constructor reading it, and a user who
// calls `new NativeMap(...)` never sees it set.
thread_local std::shared_ptr<shared_map>* t_pending_attach = nullptr;

}  // namespace

Napi::Function NativeMap::define(Napi::Env env) {
  // No prototype methods: see map_wrap.hpp.
  return DefineClass(env, "NativeMap", {});
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
    auto keys = parse_codec(shared_->key_type(), role::key);
    auto values = parse_codec(shared_->value_type(), role::value);
    if (!keys || !values)
      throw_error(env, "threadmap: map " + std::to_string(shared_->id()) +
                           " has types this build does not know ('" + shared_->key_type() + "', '" +
                           shared_->value_type() + "')");
    keys_ = *keys;
    values_ = *values;
  } else {
    parsed_options p = parse_options(env, info[0]);
    keys_ = p.keys;
    values_ = p.values;
    try {
      shared_ = registry::create(p.core, to_string(keys_), to_string(values_));
    } catch (const std::length_error&) {
      throw_range_error(env,
                        p.core.evicts()
                            ? "threadmap: the eviction policy (maxEntries, or maxMemory / 64 "
                              "entries) does not fit within options.maxMemory"
                            : "threadmap: options.capacity does not fit within options.maxMemory");
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

void NativeMap::need_revisions(napi_env env, const char* what) const {
  if (!shared(env).opts().revisions)
    throw_type_error(env, std::string("threadmap: ") + what +
                              " needs revisions, and this map was made with revisions: false");
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

// --- how a JS call reaches an operation -------------------------------------------

namespace {

[[noreturn]] void throw_batch_too_long(napi_env env) {
  throw_range_error(env, "threadmap: one batch call takes at most " + std::to_string(max_batch) +
                             " keys (ThreadMap splits longer batches)");
}

// The thunk behind every map function: reads the arguments with one
// napi_get_cb_info (a fixed count, or all of them for a batch), finds the map
// by its reference in this environment's slot table (a stale, forged or
// foreign reference is an Error, never a wild pointer) and hands it the
// environment's scratch. The environment's addon_data arrives as the
// function's data pointer, so no instance-data lookup is needed either.
// (Node-API's own CallbackInfo wrapper plus the lookup measured slower per
// call beside this thunk.) Op: a NativeMap member or a function taking the
// NativeMap first.
template <auto Op, bool Variadic>
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
    return std::invoke(Op, *m, c, d.buffers);
  });
}

// The thunk behind the io functions (io_protocol.hpp): the map reference is
// in the io buffer, and so is the key when KeyInIo (ioGet ...); otherwise the
// key is the first argument (ioGetK ...). The JS arguments after the key are
// the operation's other ones: at most `Args` of them are read, into
// argv[2...], so the operation finds them where the plain function has them
// (only operations that read no argument past c[Args + 1] are exposed this way);
// c.argc says how many there were.
template <auto Op, std::size_t Args, bool KeyInIo>
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
    // io_protocol.hpp's rules: check first unless the memory is ours and not
    // known to be detached, and read the reference once, leaving no_ref.
    check_io(env, d, false);
    const double ref = d.io->ref;
    d.io->ref = io::no_ref;
    NativeMap* m = d.state->find_slot(ref);
    if (m == nullptr) {
      check_io(env, d, true);
      throw_error(env, "threadmap: not a live map reference in this thread");
    }
    if (argc > wanted) argc = wanted;  // only the first `wanted` were read
    if (!KeyInIo && argc == 0) throw_type_error(env, "threadmap: the key argument is missing");
    const call c{env, &d, argc + first, argv, true, KeyInIo};
    return std::invoke(Op, *m, c, d.buffers);
  });
}

template <auto Op, bool Variadic = false>
napi_property_descriptor map_fn(const char* name, addon_data* d) {
  return function_property(name, map_function<Op, Variadic>, d);
}

template <auto Op, std::size_t Args, bool KeyInIo>
napi_property_descriptor io_fn(const char* name, addon_data* d) {
  return function_property(name, io_function<Op, Args, KeyInIo>, d);
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

// A write's own ttl (read_ttl's TypeError and RangeError), on a map made
// with options.ttl (a TypeError on any other). `call` names the call, as
// "set(key, value, { ttl })".
std::uint64_t write_ttl(const NativeMap& m, Napi::Env env, Napi::Value v, const std::string& call) {
  const std::uint64_t ttl = read_ttl(env, v, (call + ": ttl").c_str());
  if (!m.shared(env).opts().expires())
    throw_type_error(
        env, "threadmap: " + call + " needs a map made with options.ttl (0: no default ttl)");
  return ttl;
}

// The atomic writes' last argument c[i]: undefined (or left out) is the
// map's ttl (default_ttl), anything else a ttl as write_ttl reads it.
std::uint64_t ttl_arg(const NativeMap& m, const call& c, std::size_t i, const char* call) {
  if (i >= c.argc) return default_ttl;
  const Napi::Value v(c.env, c[i]);
  return v.IsUndefined() ? default_ttl : write_ttl(m, c.env, v, call);
}

// --- operations on one key ----------------------------------------------------------
//
// An operation declares only what is its own; keyed<Op> runs the rest:
//   1. Op::read_args      the arguments checked before the key (a flag, a delta)
//   2.                    the key: c[1], or the io buffer's key slot
//   3. Op::encode_values  the values, after the key (a bad key is reported first)
//   4. Op::apply          the core call, inside an epoch guard
//   5. Op::answer         the status as the JS result or error, after the guard
// The bases give the common parts: `op` reads and encodes nothing,
// `stores_value` encodes the value c[2]; `answers_flag` and `answers_value`
// make a status into a boolean, or into the value found or the caller's
// `missing` marker.

// ioGet ...: the number in the io buffer's key slot.
inline bytes io_key(const NativeMap& m, const call& c, scratch& s) {
  if (!io::number_keys(m.keys()))
    throw_error(c.env, "threadmap: an io call needs a map whose keys are numbers or 'any'");
  s.key.clear();
  append_number(c.data->io->key, m.keys(), role::key, s.key);
  return s.key.view();
}

// The key: c[1], or on an io call of the ioGet form the io buffer's.
inline bytes key_of(const NativeMap& m, const call& c, scratch& s) {
  if (c.io_key) return io_key(m, c, s);
  encode(c.env, c[1], m.keys(), role::key, s.key);
  return s.key.view();
}

// The value c[2] into s.value; on an io call without it, the number in the
// value slot (maps whose values travel there).
void value_of(const NativeMap& m, const call& c, scratch& s) {
  if (c.io && c.argc < 3 && io::number_values(m.values())) {
    s.value.clear();
    append_number(c.data->io->value, m.values(), role::value, s.value);
    return;
  }
  encode(c.env, c[2], m.values(), role::value, s.value);
}

// ioSetWritten's value (io_protocol.hpp, "Objects in"): the bytes of the
// ArrayBuffer c[2] that the io buffer's value_offset_slot and value_slot name.
void written_value(const NativeMap& m, const call& c, scratch& s) {
  void* data = nullptr;
  std::size_t n = 0;
  // napi_get_arraybuffer_info alone would take a SharedArrayBuffer on Node
  // 22 and later (and refuse it on 20): ask first, so every version refuses.
  bool is_buffer = false;
  check(c.env, napi_is_arraybuffer(c.env, c[2], &is_buffer));
  if (!is_buffer) throw_type_error(c.env, "threadmap: ioSetWritten needs an ArrayBuffer");
  check(c.env, napi_get_arraybuffer_info(c.env, c[2], &data, &n));
  const double at = c.data->io->value_offset, length = c.data->io->value;
  // Whole numbers inside the buffer (NaN fails every comparison; a detached
  // buffer's length is 0).
  if (!(at >= 0 && length >= 1 && at + length <= static_cast<double>(n)) || at != std::floor(at) ||
      length != std::floor(length))
    throw_range_error(c.env, "threadmap: ioSetWritten: the io buffer names no bytes of the buffer");
  encode_object_bytes(c.env,
                      bytes(static_cast<const char*>(data) + static_cast<std::size_t>(at),
                            static_cast<std::size_t>(length)),
                      m.values(), s.value);
}

// The value the core copied into s.out. An io call on a map whose values
// travel in the io buffer leaves it in the value slot and returns undefined:
// no handle, no number allocation.
napi_value found_value(const NativeMap& m, const call& c, scratch& s) {
  if (c.io && io::number_values(m.values())) {
    c.data->io->value = read_number(c.env, s.out);
    return nullptr;
  }
  return decode(c.env, m.values(), s.out);
}

// io_protocol.hpp, "objects out": on an io call that passed the marker
// c[out], an object msgpackr wrote goes to this thread's object buffer, its
// length to the value slot, and the marker is the answer; nullptr when the
// value takes the ordinary way.
napi_value object_out(const NativeMap& m, const call& c, const scratch& s, std::size_t out) {
  constexpr std::uint8_t v8_version_tag = 0xFF;
  if (!c.io || c.argc <= out || c.data->object_out.IsEmpty()) return nullptr;
  std::string_view b = s.out;
  if (m.values() == codec::any) {
    if (b.empty() || static_cast<std::uint8_t>(b[0]) != any_tag::structured) return nullptr;
    b.remove_prefix(1);
  } else if (m.values() != codec::structured) {
    return nullptr;
  }
  if (b.empty() || static_cast<std::uint8_t>(b[0]) == v8_version_tag ||
      b.size() > io::object_out_bytes)
    return nullptr;
  napi_value buffer = c.data->object_out.Value();
  bool detached = true;
  check(c.env, napi_is_detached_arraybuffer(c.env, buffer, &detached));
  if (detached) return nullptr;
  void* p = nullptr;
  std::size_t n = 0;
  check(c.env, napi_get_arraybuffer_info(c.env, buffer, &p, &n));
  if (n < b.size()) return nullptr;
  std::memcpy(p, b.data(), b.size());
  c.data->io->value = static_cast<double>(b.size());
  return c[out];
}

// objectOut(): this thread's object buffer, made on the first call.
napi_value object_out_buffer(napi_env env, napi_callback_info cbinfo) {
  return guarded_call(env, [&]() -> napi_value {
    void* data = nullptr;
    check(env, napi_get_cb_info(env, cbinfo, nullptr, nullptr, nullptr, &data));
    addon_data& d = *static_cast<addon_data*>(data);
    if (d.object_out.IsEmpty())
      d.object_out = Napi::Persistent(Napi::ArrayBuffer::New(env, io::object_out_bytes));
    return d.object_out.Value();
  });
}

// A set of statuses, for the answers below. A set of one is tested with one
// comparison, which the compiler folds where the status is a constant.
template <class... S>
constexpr std::uint32_t statuses(S... s) {
  return ((std::uint32_t{1} << static_cast<unsigned>(s)) | ...);
}
constexpr bool in(std::uint32_t set, status st) {
  if (std::has_single_bit(set)) return static_cast<int>(st) == std::countr_zero(set);
  return ((set >> static_cast<unsigned>(st)) & 1u) != 0;
}

struct op {
  // Whether the operation may fill s.value, s.expected or s.out, which
  // keyed<Op> then trims (scratch::trim) after the call.
  static constexpr bool copies_values = true;
  void read_args(const NativeMap&, const call&) {}
  void encode_values(const NativeMap&, const call&, scratch&) {}
};

struct stores_value : op {
  void encode_values(const NativeMap& m, const call& c, scratch& s) { value_of(m, c, s); }
};

// true on a status in Yes, false on one in No; any other is thrown.
template <std::uint32_t Yes, std::uint32_t No>
struct answers_flag {
  napi_value answer(const NativeMap&, const call& c, scratch&, status st, bytes, const char* what) {
    const bool yes = in(Yes, st);
    if (!yes && !in(No, st)) throw_status(c.env, st, what);
    return boolean(c.env, yes);
  }
};

// The value found (s.out) on status Found, c[Missing] (the caller's marker
// for "no entry") on status Absent; any other is thrown. Out, when not 0:
// where the marker of "objects out" may be (object_out).
template <status Found, status Absent, std::size_t Missing, std::size_t Out = 0>
struct answers_value {
  napi_value answer(const NativeMap& m, const call& c, scratch& s, status st, bytes,
                    const char* what) {
    if (st == Absent) return c[Missing];
    if (st != Found) throw_status(c.env, st, what);
    if constexpr (Out != 0) {
      if (napi_value r = object_out(m, c, s, Out)) return r;
    }
    return found_value(m, c, s);
  }
};

// Big scratch buffers are let go after the call, thrown or not.
template <bool Trim>
struct trim_after {
  scratch& s;
  ~trim_after() {
    if constexpr (Trim) s.trim();
  }
};

template <class Op>
napi_value keyed(NativeMap& m, const call& c, scratch& s) {
  const trim_after<Op::copies_values> trim{s};
  Op o;
  o.read_args(m, c);
  const bytes key = key_of(m, c, s);
  o.encode_values(m, c, s);
  status st;
  {
    epoch::guard g;
    st = o.apply(*m.live(c.env), key, s);
  }
  return o.answer(m, c, s, st, key, Op::name);
}

// get(ref, key, missing): the value, or `missing` when the key is absent.
// Out: where an io call's "objects out" marker is (0: none). ioGetObject
// (missing, out), the get of maps whose values may be objects, may answer
// `out` (object_out); ioGet, which every other map uses, has no such
// argument, so reading its arguments costs what it did before objects out.
template <std::size_t Out>
struct get_op_out : op, answers_value<status::ok, status::not_found, 2, Out> {
  static constexpr const char* name = "get";
  status apply(concurrent_map& m, bytes key, scratch& s) {
    return m.get(key, &s.out) ? status::ok : status::not_found;
  }
};
using get_op = get_op_out<0>;
using get_object_op = get_op_out<3>;

// The read cache's get (io_protocol.hpp, "Read cache"): get_object_op's
// answers, plus c[4] (`unchanged`) when the entry is at the revision the io
// buffer names, in which case nothing was copied; and, in every answer,
// where the read lies ("Write versions").
struct get_cached_op : op, answers_value<status::ok, status::not_found, 2, 3> {
  static constexpr const char* name = "get";
  std::uint64_t known = 0, rev = 0;
  version_pin pin;
  void read_args(const NativeMap&, const call& c) {
    const double d = c.data->io->revision;
    known = d >= 1 && d <= 9007199254740992.0 ? static_cast<std::uint64_t>(d) : 0;
  }
  status apply(concurrent_map& m, bytes key, scratch& s) {
    return m.get_versioned(key, &s.out, &rev, known, &pin) ? status::ok : status::not_found;
  }
  napi_value answer(const NativeMap& m, const call& c, scratch& s, status st, bytes key,
                    const char* what) {
    io_buffer& io = *c.data->io;
    if (pin.valid) {
      io.version_index = static_cast<double>(pin.offset / sizeof(std::int32_t));
      io.version_low = static_cast<std::int32_t>(static_cast<std::uint32_t>(pin.version));
      io.version_high = static_cast<std::int32_t>(static_cast<std::uint32_t>(pin.version >> 32));
    } else {
      io.version_index = 0;
      io.version_low = io::no_version_low;
      io.version_high = io::no_version_high;
    }
    if (st == status::ok) {
      c.data->io->revision = static_cast<double>(rev);
      if (rev == known) return c[4];
    }
    return answers_value::answer(m, c, s, st, key, what);
  }
};

// readVersions(ref): an ArrayBuffer over the map's write versions
// (io_protocol.hpp, "Write versions"), or undefined: the map keeps none, the
// host is big-endian (JavaScript reads each word as two 32-bit halves, low
// first), or this build of Node forbids external buffers (then, as when the
// tests set THREADMAP_TEST_VERSIONS_FALLBACK=1, every get makes its call).
// The buffer holds a reference to the words (version_words::owner), which
// its finalizer lets go, so the memory lives as long as the buffer even
// after the map is closed and freed; the map's destructor leaves them odd.
napi_value read_versions(NativeMap& m, const call& c, scratch&) {
  if constexpr (std::endian::native != std::endian::little) return undefined(c.env);
  version_words w;
  {
    epoch::guard g;
    w = m.live(c.env)->versions();
  }
  if (w.data == nullptr) return undefined(c.env);
  auto* hold = new std::shared_ptr<const void>(std::move(w.owner));
  const char* force = std::getenv("THREADMAP_TEST_VERSIONS_FALLBACK");
  napi_value buffer = nullptr;
  const napi_status st =
      force != nullptr && std::strcmp(force, "1") == 0
          ? static_cast<napi_status>(Napi::details::napi_no_external_buffers_allowed)
          : napi_create_external_arraybuffer(
                c.env, const_cast<void*>(w.data), w.count * w.stride,
                [](napi_env, void*, void* hint) {
                  delete static_cast<std::shared_ptr<const void>*>(hint);
                },
                hold, &buffer);
  if (st == napi_ok) return buffer;
  delete hold;
  if (st != static_cast<napi_status>(Napi::details::napi_no_external_buffers_allowed))
    check(c.env, st);
  return undefined(c.env);
}

// revisionOf(ref, key): the entry's revision, or undefined when absent.
struct revision_of_op : op {
  static constexpr const char* name = "revisionOf";
  static constexpr bool copies_values = false;
  std::uint64_t rev = 0;
  void read_args(const NativeMap& m, const call& c) { m.need_revisions(c.env, "revisionOf()"); }
  status apply(concurrent_map& m, bytes key, scratch&) {
    return m.peek(key, nullptr, &rev) ? status::ok : status::not_found;  // not a use
  }
  napi_value answer(const NativeMap&, const call& c, scratch&, status st, bytes, const char*) {
    if (st != status::ok) return undefined(c.env);
    return Napi::Number::New(c.env, static_cast<double>(rev));
  }
};

// has(ref, key)
struct has_op : op, answers_flag<statuses(status::ok), statuses(status::not_found)> {
  static constexpr const char* name = "has";
  static constexpr bool copies_values = false;
  // Not a use (lru-cache's has): a map that evicts keeps the entry's
  // standing and its hit and miss counts; elsewhere peek is get.
  status apply(concurrent_map& m, bytes key, scratch&) {
    return m.peek(key, nullptr) ? status::ok : status::not_found;
  }
};

// set(ref, key, value): whether the entry is new.
struct set_op : stores_value, answers_flag<statuses(status::inserted), statuses(status::ok)> {
  static constexpr const char* name = "set";
  status apply(concurrent_map& m, bytes key, scratch& s) {
    return m.put(key, s.value.view(), nullptr);
  }
};

// ioSetWritten(buffer), ioSetWrittenK(key, buffer): set_op with the value
// read in place (written_value).
struct set_written_op : set_op {
  void encode_values(const NativeMap& m, const call& c, scratch& s) { written_value(m, c, s); }
};

// The atomic writes take a ttl as their last argument (ttl_arg), so each
// calls the core's timed write: with default_ttl that is the untimed one.

// setIfAbsent(ref, key, value, ttl): whether it inserted.
struct set_if_absent_op : stores_value,
                          answers_flag<statuses(status::inserted), statuses(status::exists)> {
  static constexpr const char* name = "setIfAbsent";
  std::uint64_t ttl = default_ttl;
  void read_args(const NativeMap& m, const call& c) {
    ttl = ttl_arg(m, c, 3, "setIfAbsent(key, value, { ttl })");
  }
  status apply(concurrent_map& m, bytes key, scratch& s) {
    return m.put_if_absent_for(key, s.value.view(), nullptr, ttl);
  }
};

// getOrSet(ref, key, value, missing, ttl): the current value, or `missing`
// when `value` was inserted (the caller then returns its own value).
struct get_or_set_op : stores_value, answers_value<status::exists, status::inserted, 3> {
  static constexpr const char* name = "getOrSet";
  std::uint64_t ttl = default_ttl;
  void read_args(const NativeMap& m, const call& c) {
    ttl = ttl_arg(m, c, 4, "getOrSet(key, value, { ttl })");
  }
  status apply(concurrent_map& m, bytes key, scratch& s) {
    return m.put_if_absent_for(key, s.value.view(), &s.out, ttl);
  }
};

// swap(ref, key, value, missing, ttl): the previous value, or `missing`.
struct swap_op : stores_value, answers_value<status::ok, status::inserted, 3> {
  static constexpr const char* name = "swap";
  std::uint64_t ttl = default_ttl;
  void read_args(const NativeMap& m, const call& c) {
    ttl = ttl_arg(m, c, 4, "swap(key, value, { ttl })");
  }
  status apply(concurrent_map& m, bytes key, scratch& s) {
    return m.put_for(key, s.value.view(), &s.out, ttl);
  }
};

// take(ref, key, missing): the removed value, or `missing`.
struct take_op : op, answers_value<status::ok, status::not_found, 2> {
  static constexpr const char* name = "take";
  status apply(concurrent_map& m, bytes key, scratch& s) { return m.take(key, &s.out); }
};

// delete(ref, key): whether the key was present.
struct delete_op : op, answers_flag<statuses(status::ok), statuses(status::not_found)> {
  static constexpr const char* name = "delete";
  static constexpr bool copies_values = false;
  status apply(concurrent_map& m, bytes key, scratch&) { return m.erase(key, nullptr); }
};

// compareAndSet(ref, key, expected, next, flags, ttl): whether it matched
// and wrote. flags: cas_expect_absent ignores `expected`, cas_delete `next`.
// lib's update() is this too, so its ttl is checked under update's name
// (checkTTL) before its function runs.
struct compare_and_set_op : op,
                            answers_flag<statuses(status::ok, status::inserted),
                                         statuses(status::mismatch, status::not_found)> {
  static constexpr const char* name = "compareAndSet";
  std::uint32_t flags = 0;
  std::uint64_t ttl = default_ttl;
  void read_args(const NativeMap& m, const call& c) {
    ttl = ttl_arg(m, c, 5, "compareAndSet(key, expected, next, { ttl })");
    const Napi::Value arg(c.env, c[4]);
    if (arg.IsUndefined()) return;
    if (!arg.IsNumber()) throw_type_error(c.env, "threadmap: compareAndSet flags must be a number");
    flags = arg.As<Napi::Number>().Uint32Value();
  }
  void encode_values(const NativeMap& m, const call& c, scratch& s) {
    if (!(flags & cas_expect_absent)) encode(c.env, c[2], m.values(), role::value, s.expected);
    if (!(flags & cas_delete)) encode(c.env, c[3], m.values(), role::value, s.value);
  }
  status apply(concurrent_map& m, bytes key, scratch& s) {
    const bytes expected = s.expected.view();
    const bytes desired = s.value.view();
    return m.compare_and_set_for(key, flags & cas_expect_absent ? nullptr : &expected,
                                 flags & cas_delete ? nullptr : &desired, nullptr, ttl);
  }
};

// add(ref, key, delta, ttl): the counter's new value; the delta's type
// picks the counter, laid out as the value codec stores that type
// (codec.hpp). ioAdd and ioAddK, which carry no ttl, are add with the map's.
struct add_op : op {
  static constexpr const char* name = "add";
  counter_delta delta{};
  counter result{};
  std::uint64_t ttl = default_ttl;
  void read_args(const NativeMap& m, const call& c) {
    if (!c.io) ttl = ttl_arg(m, c, 3, "add(key, delta, { ttl })");
    delta = read_delta(c.env, c[2], m.values());
  }
  status apply(concurrent_map& m, bytes key, scratch&) {
    return m.add_for(key, delta.kind, delta.value, delta.prefix, &result, ttl);
  }
  napi_value answer(const NativeMap& m, const call& c, scratch& s, status st, bytes key,
                    const char* what) {
    if (st == status::ok || st == status::inserted) return make_counter(c.env, delta.kind, result);
    if (st != status::mismatch) throw_status(c.env, st, what);
    // add changed nothing, so the entry may be read again: a write between
    // the two reads can only change which class is thrown, and the
    // TypeError's words stay true of the value add saw.
    const bool long_bigint =
        stored_bigint_is_long(m.values(), delta.kind, s.out, [&](std::string& out) {
          epoch::guard g;
          return m.live(c.env)->get(key, &out);
        });
    if (long_bigint)
      throw_range_error(c.env,
                        "threadmap: add: the stored bigint is outside the signed 64-bit range "
                        "of a counter; nothing changed");
    throw_type_error(c.env,
                     delta.kind == counter_kind::f64
                         ? "threadmap: add: the stored value is not a number; nothing changed"
                         : "threadmap: add: the stored value is not a bigint in the signed "
                           "64-bit range; nothing changed");
  }
};

// --- the cache's operations (issue 15) ---

// peek(ref, key, missing): get() that is not a use (concurrent_map::peek).
struct peek_op : op, answers_value<status::ok, status::not_found, 2> {
  static constexpr const char* name = "peek";
  status apply(concurrent_map& m, bytes key, scratch& s) {
    return m.peek(key, &s.out) ? status::ok : status::not_found;
  }
};

// setTTL(ref, key, value, ttl): set() whose entry expires `ttl` ms from now
// (0: never), on a map made with options.ttl.
struct set_ttl_op : stores_value, answers_flag<statuses(status::inserted), statuses(status::ok)> {
  static constexpr const char* name = "set";
  std::uint64_t ttl = 0;
  void read_args(const NativeMap& m, const call& c) {
    ttl = write_ttl(m, c.env, Napi::Value(c.env, c[3]), "set(key, value, { ttl })");
  }
  status apply(concurrent_map& m, bytes key, scratch& s) {
    return m.put_for(key, s.value.view(), nullptr, ttl);
  }
};

// remainingTTL(ref, key): lru-cache's getRemainingTTL: the milliseconds
// left, 0 when the key is absent or expired, Infinity when it never expires.
struct remaining_ttl_op : op {
  static constexpr const char* name = "getRemainingTTL";
  static constexpr bool copies_values = false;
  std::uint64_t ms = 0;
  status apply(concurrent_map& m, bytes key, scratch&) {
    return m.remaining_ttl(key, &ms) ? status::ok : status::not_found;
  }
  napi_value answer(const NativeMap&, const call& c, scratch&, status st, bytes, const char*) {
    if (st != status::ok) return Napi::Number::New(c.env, 0);
    if (ms == no_expiry) return Napi::Number::New(c.env, std::numeric_limits<double>::infinity());
    return Napi::Number::New(c.env, static_cast<double>(ms));
  }
};

// checkTTL(ref, ttl, call): throws what setTTL would for this ttl (call
// names the caller's API, as "fetch(key, loader, { ttl })"): fetch checks
// its ttl before it claims the key or runs a loader.
napi_value check_ttl(NativeMap& m, const call& c, scratch&) {
  const Napi::Value what(c.env, c[2]);
  if (!what.IsString())
    throw_type_error(c.env, "threadmap: checkTTL(ref, ttl, call): call must be a string");
  write_ttl(m, c.env, Napi::Value(c.env, c[1]), what.As<Napi::String>().Utf8Value());
  return undefined(c.env);
}

// purgeStale(ref): reclaims every expired entry now; how many.
napi_value purge_stale(NativeMap& m, const call& c, scratch&) {
  std::size_t n;
  {
    epoch::guard g;
    n = m.live(c.env)->purge_expired();
  }
  return Napi::Number::New(c.env, static_cast<double>(n));
}

// testAdvanceClock(id, ms): TESTING ONLY (the JS tests' manual clock; not in
// lib/'s API): stops the clock of map `id` (a map with options.ttl) on its
// first call and moves it `ms` milliseconds on, for every thread.
napi_value test_advance_clock(napi_env env, napi_callback_info cbinfo) {
  return guarded_call(env, [&]() -> napi_value {
    Napi::CallbackInfo info(env, cbinfo);
    if (!info[0].IsNumber() || !info[1].IsNumber())
      throw_type_error(env, "threadmap: testAdvanceClock(id, ms) takes two numbers");
    const double ms = info[1].As<Napi::Number>().DoubleValue();
    if (!(ms >= 0) || ms != std::floor(ms) || ms > static_cast<double>(max_ttl_ms))
      throw_range_error(env, "threadmap: testAdvanceClock: ms must be a non-negative integer");
    std::shared_ptr<shared_map> sm =
        registry::find(static_cast<std::uint64_t>(info[0].As<Napi::Number>().DoubleValue()));
    bool moved = false;
    if (sm) {
      epoch::guard g;
      if (concurrent_map* cm = sm->get())
        moved = cm->advance_manual_clock(static_cast<std::uint64_t>(ms));
    }
    if (!moved)
      throw_type_error(env, "threadmap: testAdvanceClock: not a live map with options.ttl");
    return undefined(env);
  });
}

}  // namespace

// --- operations on the whole map ----------------------------------------------------

napi_value NativeMap::Size(const call& c, scratch&) {
  std::size_t n;
  {
    epoch::guard g;
    n = live(c.env)->size();
  }
  return Napi::Number::New(c.env, static_cast<double>(n));
}

napi_value NativeMap::Revision(const call& c, scratch&) {
  need_revisions(c.env, "revision");
  std::uint64_t r;
  {
    epoch::guard g;
    r = live(c.env)->revision();
  }
  return Napi::Number::New(c.env, static_cast<double>(r));
}

napi_value NativeMap::Clear(const call& c, scratch&) {
  {
    epoch::guard g;
    live(c.env)->clear();
  }
  return undefined(c.env);
}

napi_value NativeMap::Stats(const call& c, scratch&) {
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
  o.Set("loads", load_stats_object(env, shared_->loads().stats()));
  o.Set("watch", watch_stats_object(env, *shared_));
  // The cache (issue 15): zero, and policy 'none', in maps that do not evict.
  const auto num = [&](double v) { return Napi::Number::New(env, v); };
  o.Set("hits", num(static_cast<double>(st.hits)));
  o.Set("misses", num(static_cast<double>(st.misses)));
  o.Set("evictions", num(static_cast<double>(st.evictions)));
  o.Set("expirations", num(static_cast<double>(st.expirations)));
  Napi::Object ev = Napi::Object::New(env);
  const options& opts = shared_->opts();
  ev.Set("policy", opts.evicts() ? to_string(opts.evict.value_or(default_eviction)) : "none");
  ev.Set("maxEntries", num(static_cast<double>(st.max_entries)));
  ev.Set("admissions", num(static_cast<double>(st.admissions)));
  ev.Set("rejections", num(static_cast<double>(st.rejections)));
  ev.Set("droppedReads", num(static_cast<double>(st.dropped_reads)));
  ev.Set("bytes", num(static_cast<double>(st.policy_bytes)));
  o.Set("eviction", ev);
  return o;
}

napi_value NativeMap::Close(const call& c, scratch&) {
  // Not inside a guard: close() waits for every guard that may use the map.
  bool closed = shared_ ? shared_->close() : false;
  // This wrapper will never use the map again: let go of the registry entry
  // now rather than at GC, so it is freed once every other holder lets go.
  shared_.reset();
  closed_ = true;
  return boolean(c.env, closed);
}

napi_value NativeMap::IsClosed(const call& c, scratch&) {
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
  o.Set("keys", Napi::String::New(env, to_string(m->keys_)));
  o.Set("values", Napi::String::New(env, to_string(m->values_)));
  o.Set("strategy", Napi::String::New(env, threadmap::to_string(m->shared_->opts().strategy)));
  o.Set("ref", Napi::Number::New(env, m->ref_));
  o.Set("readCache", Napi::Number::New(env, static_cast<double>(m->shared_->opts().read_cache)));
  o.Set("revisions", Napi::Boolean::New(env, m->shared_->opts().revisions));
  return o;
}

namespace {

// iterate's and range's mode and chunk (entries per answer).
void read_mode_and_chunk(Napi::Env env, const call& c, std::uint32_t& mode, std::uint32_t& chunk) {
  mode = iter_entries;
  const Napi::Value mode_arg(env, c[1]), chunk_arg(env, c[2]);
  if (!mode_arg.IsUndefined()) {
    if (!mode_arg.IsNumber()) throw_type_error(env, "threadmap: iterate mode must be a number");
    mode = mode_arg.As<Napi::Number>().Uint32Value();
    if (mode > iter_entries) throw_range_error(env, "threadmap: unknown iterate mode");
  }
  chunk = 1024;
  if (!chunk_arg.IsUndefined()) {
    if (!chunk_arg.IsNumber()) throw_type_error(env, "threadmap: iterate chunk must be a number");
    chunk = chunk_arg.As<Napi::Number>().Uint32Value();
    // Bounded: a chunk becomes the arguments of one Array.of call (two per
    // entry), which must fit on a worker's stack.
    if (chunk == 0 || chunk > 4096)
      throw_range_error(env, "threadmap: iterate chunk must be from 1 to 4096");
  }
}

}  // namespace

napi_value NativeMap::Iterate(const call& c, scratch&) {
  Napi::Env env(c.env);
  std::uint32_t mode, chunk;
  read_mode_and_chunk(env, c, mode, chunk);
  {
    epoch::guard g;
    live(env);  // iterating a closed map is an error at once, not at the first chunk
  }
  return NativeIterator::create(env, iterator_init{shared_, keys_, values_, mode, chunk});
}

// --- batches -----------------------------------------------------------------------
//
// Argument shapes: lib/native.ts. Every key (and value) is encoded and checked
// before the map is touched; the answers become one Array.

namespace {

// Where a batch's keys (or values) come from: a typed array read in place, or
// `count` spread arguments starting at c[first].
struct batch_source {
  bool typed = false;
  typed_elements elements{};
  std::size_t first = 0;
  std::size_t count = 0;
};

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

// Encodes and checks every key (r: key) or value of a batch back to back,
// then appends their views to s.views: the keys' (which start it afresh),
// then the values'.
void encode_batch(const NativeMap& m, const call& c, const batch_source& src, role r,
                  std::size_t base, scratch& s) {
  if (src.count > max_batch) throw_batch_too_long(c.env);
  const bool keys = r == role::key;
  const codec type = keys ? m.keys() : m.values();
  byte_buffer& buf = keys ? s.batch_keys : s.batch_values;
  std::vector<std::size_t>& ends = keys ? s.key_ends : s.value_ends;
  buf.clear();
  ends.clear();
  if (src.typed) check_typed(c.env, src.elements, type, r);
  for (std::size_t i = 0; i < src.count; ++i) {
    if (src.typed)
      append_typed(src.elements, i, type, r, buf);
    else
      append(c.env, c[src.first + i], type, r, buf, base + i);
    ends.push_back(buf.size());
  }
  if (keys) s.views.clear();
  std::size_t from = 0;
  for (std::size_t end : ends) {
    s.views.emplace_back(buf.data() + from, end - from);
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

// The batch's answers, element(i) for i < n, as a plain Array made by one
// call to the original Array.of (napi_set_element per element goes through
// a generic property store and costs more than the element itself).
template <class Element>
napi_value batch_answers(const call& c, scratch& s, std::size_t n, Element&& element) {
  s.results.resize(n);
  for (std::size_t i = 0; i < n; ++i) s.results[i] = element(i);
  napi_value result;
  check(c.env, napi_call_function(c.env, undefined(c.env), c.data->array_of.Value(), n,
                                  s.results.data(), &result));
  s.results.clear();
  s.trim_batch();
  return result;
}

// getMany(ref, base, missing, typedKeys, ...keys): the values in key order,
// `missing` where a key is absent.
napi_value get_many(NativeMap& m, const call& c, scratch& s) {
  const std::size_t base = batch_base(c.env, c[1]);
  const batch_source keys = source_of(c, 3, 4);
  encode_batch(m, c, keys, role::key, base, s);
  const std::size_t n = keys.count;
  if (s.outs.size() < n) s.outs.resize(n);
  bool* found = s.found_for(n);
  {
    epoch::guard g;
    m.live(c.env)->get_many(s.views.data(), n, s.outs.data(), found);
  }
  return batch_answers(c, s, n, [&](std::size_t i) {
    return found[i] ? decode(c.env, m.values(), s.outs[i]) : c[2];
  });
}

// hasMany(ref, base, typedKeys, ...keys): whether each key is present.
napi_value has_many(NativeMap& m, const call& c, scratch& s) {
  const std::size_t base = batch_base(c.env, c[1]);
  const batch_source keys = source_of(c, 2, 3);
  encode_batch(m, c, keys, role::key, base, s);
  const std::size_t n = keys.count;
  bool* found = s.found_for(n);
  {
    epoch::guard g;
    m.live(c.env)->peek_many(s.views.data(), n, nullptr, found);  // not a use, as has
  }
  return batch_answers(c, s, n, [&](std::size_t i) { return boolean(c.env, found[i]); });
}

// deleteMany(ref, base, dryRun, typedKeys, ...keys): whether each key was
// present (and so deleted by this call). A dry run only encodes and checks.
napi_value delete_many(NativeMap& m, const call& c, scratch& s) {
  const std::size_t base = batch_base(c.env, c[1]);
  const bool dry_run = batch_flag(c.env, c[2]);
  const batch_source keys = source_of(c, 3, 4);
  encode_batch(m, c, keys, role::key, base, s);
  if (dry_run) {
    s.trim_batch();
    return undefined(c.env);
  }
  const std::size_t n = keys.count;
  bool* deleted = s.found_for(n);
  std::size_t failed = n;
  status st = status::ok;
  {
    epoch::guard g;
    concurrent_map* map = m.live(c.env);
    for (std::size_t i = 0; i < n && failed == n; ++i) {
      st = map->erase(s.views[i], nullptr);
      if (st != status::ok && st != status::not_found) failed = i;
      deleted[i] = st == status::ok;
    }
  }
  if (failed != n) throw_batch_status(c.env, st, "deleteMany", base + failed);
  return batch_answers(c, s, n, [&](std::size_t i) { return boolean(c.env, deleted[i]); });
}

// setMany(ref, base, dryRun, ttl, typedKeys, typedValues, ...rest): rest
// holds the keys that are not typed, then the values that are not typed;
// ttl undefined: the map's own, else every entry's (as setTTL's).
napi_value set_many(NativeMap& m, const call& c, scratch& s) {
  napi_env env = c.env;
  constexpr std::size_t spread = 6;  // where rest begins
  const std::size_t base = batch_base(env, c[1]);
  const bool dry_run = batch_flag(env, c[2]);
  std::optional<std::uint64_t> ttl;
  if (!is_undefined(env, c[3]))
    ttl = write_ttl(m, env, Napi::Value(env, c[3]), "setMany(..., { ttl })");
  batch_source keys = source_of(c, 4, spread);
  batch_source values = source_of(c, 5, spread);
  const std::size_t rest = c.argc > spread ? c.argc - spread : 0;
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
    values.first = spread + (keys.typed ? 0 : n);
    values.count = n;
  }
  if (keys.count != n || values.count != n || rest != (keys.typed ? 0 : n) + (values.typed ? 0 : n))
    throw_range_error(env, "threadmap: setMany needs as many values as keys");
  encode_batch(m, c, keys, role::key, base, s);
  encode_batch(m, c, values, role::value, base, s);
  if (dry_run) {
    s.trim_batch();
    return undefined(env);
  }
  std::size_t failed = n;
  status st = status::ok;
  {
    epoch::guard g;
    concurrent_map* map = m.live(env);
    for (std::size_t i = 0; i < n; ++i) {
      st = ttl ? map->put_for(s.views[i], s.views[n + i], nullptr, *ttl)
               : map->put(s.views[i], s.views[n + i], nullptr);
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

// exports.ioLayout: io_protocol.hpp's constants, which lib/native.ts mirrors
// (test/js/io-protocol.test.ts compares them), and the type names whose
// numbers travel in the buffer, which the TypeScript layer reads from here.
Napi::Object io_layout(Napi::Env env) {
  const auto names = [&](role r, bool (*travels)(codec)) {
    Napi::Array a = Napi::Array::New(env);
    for (codec c : codecs(r))
      if (travels(c)) a.Set(a.Length(), Napi::String::New(env, to_string(c)));
    a.Freeze();
    return a;
  };
  Napi::Object o = Napi::Object::New(env);
  for (const io::slot_name& n : io::slot_names) o.Set(n.name, Napi::Number::New(env, n.slot));
  o.Set("slots", Napi::Number::New(env, io::slots));
  o.Set("noRef", Napi::Number::New(env, io::no_ref));
  o.Set("numberKeys", names(role::key, [](codec c) { return io::number_keys(c); }));
  o.Set("numberValues", names(role::value, [](codec c) { return io::number_values(c); }));
  o.Freeze();
  return o;
}

}  // namespace

// --- the exported functions ------------------------------------------------------------

// --- ranges (strategy 'ordered'; the options: range_wrap.hpp) -----------------

// range(ref, mode, max, range): the first `max` entries of `range`, one page;
// the TypeScript layer pages on from the last key.
napi_value NativeMap::Range(const call& c, scratch& s) {
  Napi::Env env(c.env);
  std::uint32_t mode, chunk;
  read_mode_and_chunk(env, c, mode, chunk);
  bool ordered;
  key_order order;
  const char* strategy;
  {
    epoch::guard g;
    ordered = live(env)->ordered();
    order = shared_->opts().order;
    strategy = threadmap::to_string(shared_->opts().strategy);
  }
  // Outside the guard: reading the options may run getters (which may even
  // close the map: live() below then says so).
  range_request r;
  parse_range(env, Napi::Value(env, c[3]), ordered, keys_, order, strategy, r);
  s.out.clear();
  if (r.limit != 0) {
    epoch::guard g;
    live(env)->range(r.view(), std::min<std::size_t>(chunk, r.limit), s.out);
  }
  // Flattened as iterate's chunks are: keys, values, or key, value pairs.
  s.views.clear();
  scan_reader reader(s.out);
  scan_record rec;
  while (reader.next(rec)) {
    if (mode != iter_values) s.views.push_back(rec.key);
    if (mode != iter_keys) s.views.push_back(rec.value);
  }
  const bool pairs = mode == iter_entries;
  return batch_answers(c, s, s.views.size(), [&](std::size_t i) {
    const bool key = pairs ? i % 2 == 0 : mode == iter_keys;
    return decode(env, key ? keys_ : values_, s.views[i]);
  });
}

void NativeMap::export_functions(Napi::Env env, Napi::Object exports) {
  addon_data* d = &data_of(env);
  const napi_property_descriptor fns[] = {
      function_property("info", info_function),
      function_property("objectOut", object_out_buffer, d),
      map_fn<keyed<get_op>>("get", d),
      map_fn<keyed<set_if_absent_op>>("setIfAbsent", d),
      map_fn<keyed<get_or_set_op>>("getOrSet", d),
      map_fn<keyed<compare_and_set_op>>("compareAndSet", d),
      map_fn<keyed<swap_op>>("swap", d),
      map_fn<keyed<add_op>>("add", d),
      map_fn<keyed<take_op>>("take", d),
      map_fn<&NativeMap::Size>("size", d),
      map_fn<&NativeMap::Revision>("revision", d),
      map_fn<keyed<revision_of_op>>("revisionOf", d),
      map_fn<read_versions>("readVersions", d),
      map_fn<&NativeMap::Clear>("clear", d),
      map_fn<&NativeMap::Stats>("stats", d),
      map_fn<keyed<peek_op>>("peek", d),
      map_fn<keyed<set_ttl_op>>("setTTL", d),
      map_fn<keyed<remaining_ttl_op>>("remainingTTL", d),
      map_fn<purge_stale>("purgeStale", d),
      map_fn<check_ttl>("checkTTL", d),
      function_property("testAdvanceClock", test_advance_clock),
      map_fn<&NativeMap::Close>("close", d),
      map_fn<&NativeMap::IsClosed>("isClosed", d),
      map_fn<&NativeMap::Iterate>("iterate", d),
      map_fn<&NativeMap::Range>("range", d),
      map_fn<get_many, true>("getMany", d),
      map_fn<has_many, true>("hasMany", d),
      map_fn<delete_many, true>("deleteMany", d),
      map_fn<set_many, true>("setMany", d),
      // The io functions: Args is how many JS arguments follow the key.
      io_fn<keyed<get_op>, 1, true>("ioGet", d),
      io_fn<keyed<get_object_op>, 2, true>("ioGetObject", d),
      io_fn<keyed<get_cached_op>, 3, true>("ioGetCached", d),
      io_fn<keyed<has_op>, 0, true>("ioHas", d),
      io_fn<keyed<set_op>, 1, true>("ioSet", d),
      io_fn<keyed<set_written_op>, 1, true>("ioSetWritten", d),
      io_fn<keyed<delete_op>, 0, true>("ioDelete", d),
      io_fn<keyed<add_op>, 1, true>("ioAdd", d),
      io_fn<keyed<get_op>, 1, false>("ioGetK", d),
      io_fn<keyed<get_object_op>, 2, false>("ioGetObjectK", d),
      io_fn<keyed<get_cached_op>, 3, false>("ioGetCachedK", d),
      io_fn<keyed<has_op>, 0, false>("ioHasK", d),
      io_fn<keyed<set_op>, 1, false>("ioSetK", d),
      io_fn<keyed<set_written_op>, 1, false>("ioSetWrittenK", d),
      io_fn<keyed<delete_op>, 0, false>("ioDeleteK", d),
      io_fn<keyed<add_op>, 1, false>("ioAddK", d),
  };
  check(env, napi_define_properties(env, exports, std::size(fns), fns));
  exports.Set("ioLayout", io_layout(env));
}

}  // namespace threadmap::addon
