// module.cpp — module init: per-environment state, the cleanup hook, and the
// module-level functions (attach, liveMaps) and constants.
#include "common.hpp"  // first: it configures napi.h

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

#include "env_state.hpp"
#include "iterator_wrap.hpp"
#include "loads_wrap.hpp"
#include "map_wrap.hpp"
#include "numa_wrap.hpp"
#include "structures_wrap.hpp"
#include "threadmap/detail/hash.hpp"
#include "threadmap/epoch.hpp"
#include "threadmap/registry.hpp"
#include "watch_wrap.hpp"

namespace threadmap::addon {

addon_data& data_of(napi_env env) {
  void* p = nullptr;
  check(env, napi_get_instance_data(env, &p));
  if (p == nullptr) throw_error(env, "threadmap: the addon is not initialized in this thread");
  return *static_cast<addon_data*>(p);
}

void track(const std::shared_ptr<env_state>& st, env_resource* r) {
  st->resources.insert(r);
}

void untrack(const std::shared_ptr<env_state>& st, env_resource* r) noexcept {
  if (st) st->resources.erase(r);
}

void check_io_slow(napi_env env, addon_data& d) {
  if (d.io_state != io_kind::detached) {
    bool detached = true;
    check(env, napi_is_detached_arraybuffer(env, d.io_ref.Value(), &detached));
    if (!detached) return;
    d.io_state = io_kind::detached;
  }
  throw_error(env,
              "threadmap: this thread's io buffer was detached (transferred away), so get, set, "
              "has, delete and add cannot run in this thread any more; nothing was changed");
}

namespace {
constexpr double kTwo32 = 4294967296.0;
constexpr std::uint32_t kGenMask = (1u << 21) - 1;  // slot + gen fit in 53 bits

// The core's unkeyed mixer spreads a seed plus a slot number over the bits.
using threadmap::detail::mix64;
}  // namespace

double env_state::add_slot(NativeMap* m) {
  std::uint32_t slot;
  if (!free_slots.empty()) {
    slot = free_slots.back();
    free_slots.pop_back();
  } else {
    slot = static_cast<std::uint32_t>(slots.size());
    slots.emplace_back();
    slots[slot].gen = static_cast<std::uint32_t>(mix64(seed + slot)) & kGenMask;
  }
  slots[slot].map = m;
  return static_cast<double>(slots[slot].gen) * kTwo32 + slot;
}

void env_state::free_slot(double ref) noexcept {
  const auto slot = static_cast<std::uint32_t>(static_cast<std::uint64_t>(ref));
  if (slot >= slots.size()) return;
  slots[slot].map = nullptr;
  slots[slot].gen = (slots[slot].gen + 1) & kGenMask;
  try {
    free_slots.push_back(slot);
  } catch (...) {
    // Out of memory: the slot is simply never reused.
  }
}

NativeMap* env_state::find_slot(double ref) const noexcept {
  // The reference's integer value, decoded from the double's bits with
  // integer operations: every call runs this, and the floating-point round
  // trip (compare, convert, convert back, compare) was a chain of dependent
  // instructions that perf showed in every get. Anything that is not a
  // non-negative integer below 2^53 (NaN, infinities, fractions, -0 aside
  // from +0) is no reference.
  std::uint64_t repr;
  std::memcpy(&repr, &ref, sizeof repr);
  std::uint64_t bits = 0;
  if (repr != 0) {
    const unsigned exponent = static_cast<unsigned>(repr >> 52);  // the sign bit included
    if (exponent < 1023 || exponent > 1023 + 52) return nullptr;  // < 1, >= 2^53, negative
    const unsigned fraction_bits = 52 - (exponent - 1023);
    const std::uint64_t mantissa =
        (repr & ((std::uint64_t{1} << 52) - 1)) | (std::uint64_t{1} << 52);
    if (mantissa & ((std::uint64_t{1} << fraction_bits) - 1)) return nullptr;  // not an integer
    bits = mantissa >> fraction_bits;
  }
  const auto slot = static_cast<std::uint32_t>(bits);
  const auto gen = static_cast<std::uint32_t>(bits >> 32);
  if (slot >= slots.size() || slots[slot].gen != gen) return nullptr;
  return slots[slot].map;
}

namespace {

// Runs when the environment (a worker's, or the main thread's at exit) is torn
// down, before the remaining wrappers are finalized (if they ever are).
// Releasing here is what makes worker.terminate() give back the maps the
// worker held. `arg` owns a reference to the state so the order in which
// Node tears down instance data, finalizers and hooks does not matter.
void cleanup_env(void* arg) {
  auto* hold = static_cast<std::shared_ptr<env_state>*>(arg);
  (*hold)->torn_down = true;
  // release() never untracks, so iterating the set while releasing is safe.
  for (env_resource* r : (*hold)->resources) r->release();
  (*hold)->resources.clear();
  delete hold;
}

// buffer.transfer(): a new ArrayBuffer over the same memory; the buffer
// itself where ArrayBuffer.prototype.transfer does not exist (Node 20, whose
// markAsUntransferable sets no detach key); nullptr (the exception cleared)
// if the transfer failed.
napi_value move_buffer(napi_env env, napi_value buffer) {
  napi_value transfer, result = nullptr;
  napi_valuetype type;
  if (napi_get_named_property(env, buffer, "transfer", &transfer) != napi_ok ||
      napi_typeof(env, transfer, &type) != napi_ok) {
    result = nullptr;
  } else if (type != napi_function) {
    result = buffer;
  } else {
    // A transfer() patched to return its receiver would leave Node's buffer out.
    bool same = true;
    if (napi_call_function(env, buffer, transfer, 0, nullptr, &result) != napi_ok ||
        napi_strict_equals(env, result, buffer, &same) != napi_ok || same)
      result = nullptr;
  }
  bool pending = false;
  if (napi_is_exception_pending(env, &pending) == napi_ok && pending) {
    napi_value ignored;
    napi_get_and_clear_last_exception(env, &ignored);
    result = nullptr;
  }
  return result;
}

// This environment's io buffer: an ArrayBuffer over a block the addon owns,
// or, where the build of Node forbids external buffers (or the tests ask for
// that path with THREADMAP_TEST_IO_FALLBACK=1), a plain one whose memory JS
// owns (see io_protocol.hpp).
//
// The external buffer is not the one handed out: it is moved (transfer()) to
// a new ArrayBuffer first. Node's cleanup for an external buffer detaches
// the buffer it made when the environment ends, without a detach key, and
// aborts the process if the buffer has one, which markAsUntransferable gives
// it from Node 24 on; the moved-to buffer is not Node's to detach, and the
// one Node does detach then is already detached.
//
// The block is never freed, so the finalizer does nothing: a detach hands it
// to yet another ArrayBuffer, possibly in another thread, that may outlive
// this environment, and nothing in Node-API says, when the environment ends,
// whether that happened. That is sizeof(io_buffer) per environment, workers
// included.
Napi::ArrayBuffer make_io(Napi::Env env, addon_data* data) {
  const char* force = std::getenv("THREADMAP_TEST_IO_FALLBACK");
  if (force == nullptr || std::strcmp(force, "1") != 0) {
    auto* block = new io_buffer{};
    napi_value made = nullptr;
    const napi_status st = napi_create_external_arraybuffer(
        env, block, sizeof(io_buffer), [](napi_env, void*, void*) {}, nullptr, &made);
    if (st == napi_ok) {
      napi_value moved = move_buffer(env, made);
      void* p = nullptr;
      std::size_t n = 0;
      if (moved != nullptr && napi_get_arraybuffer_info(env, moved, &p, &n) == napi_ok &&
          p == block && n == sizeof(io_buffer)) {
        data->io = block;
        return Napi::ArrayBuffer(env, moved);
      }
      // Not moved as expected: the block may still be reachable from JS,
      // so it stays allocated, and the plain buffer below serves instead.
    } else {
      delete block;
      if (st != static_cast<napi_status>(Napi::details::napi_no_external_buffers_allowed))
        check(env, st);
    }
  }
  Napi::ArrayBuffer io = Napi::ArrayBuffer::New(env, sizeof(io_buffer));
  data->io = new (io.Data()) io_buffer{};
  data->io_state = io_kind::js;
  return io;
}

Napi::Value Attach(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Value v = info[0];
  if (!v.IsNumber()) throw_type_error(env, "threadmap: attach: the id must be a number");
  double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= 0) || d != std::floor(d) || d > 9007199254740991.0)
    throw_type_error(env, "threadmap: attach: the id must be a non-negative safe integer");
  const auto id = static_cast<std::uint64_t>(d);
  std::shared_ptr<shared_map> m;
  try {
    m = registry::find(id);
  } catch (const std::exception& e) {
    throw_error(env, std::string("threadmap: attach: ") + e.what());
  }
  if (!m)
    throw_error(env, "threadmap: attach: no live map has id " + std::to_string(id) +
                         " (it was closed or freed, or the handle is forged)");
  bool closed;
  {
    epoch::guard g;
    closed = m->get() == nullptr;
  }
  if (closed) throw_error(env, "threadmap: attach: map " + std::to_string(id) + " is closed");
  return NativeMap::wrap_existing(env, std::move(m));
}

Napi::Value LiveMaps(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(registry::live()));
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  auto* data = new addon_data();
  env.SetInstanceData<addon_data>(data);  // deleted by Node when the environment ends
  // Not secret, only different per environment and run (see map_slot).
  data->state->seed = mix64(
      reinterpret_cast<std::uintptr_t>(data) ^
      static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count()));
  auto* hold = new std::shared_ptr<env_state>(data->state);
  if (napi_add_env_cleanup_hook(env, cleanup_env, hold) != napi_ok) {
    delete hold;
    throw_error(env, "threadmap: cannot register the environment cleanup hook");
  }

  Napi::ArrayBuffer io = make_io(env, data);
  data->io_ref = Napi::Persistent(io);

  Napi::Function map_ctor = NativeMap::define(env);
  data->map_ctor = Napi::Persistent(map_ctor);
  Napi::Function iterator_ctor = NativeIterator::define(env);
  data->iterator_ctor = Napi::Persistent(iterator_ctor);
  Napi::Value array_of = env.Global().Get("Array").As<Napi::Object>().Get("of");
  if (!array_of.IsFunction()) throw_error(env, "threadmap: Array.of is missing");
  data->array_of = Napi::Persistent(array_of.As<Napi::Function>());

  exports.Set("NativeMap", map_ctor);
  exports.Set("io", io);
  NativeMap::export_functions(env, exports);
  exports.Set("attach", Napi::Function::New<Attach>(env, "attach"));
  exports.Set("liveMaps", Napi::Function::New<LiveMaps>(env, "liveMaps"));
  export_numa(env, exports);
  export_structures(env, exports);
  export_loads(env, exports);
  export_watch(env, exports);

  Napi::Object c = Napi::Object::New(env);
  c.Set("CAS_EXPECT_ABSENT", Napi::Number::New(env, cas_expect_absent));
  c.Set("CAS_DELETE", Napi::Number::New(env, cas_delete));
  c.Set("ITER_KEYS", Napi::Number::New(env, iter_keys));
  c.Set("ITER_VALUES", Napi::Number::New(env, iter_values));
  c.Set("ITER_ENTRIES", Napi::Number::New(env, iter_entries));
  c.Set("MAX_KEY_BYTES", Napi::Number::New(env, static_cast<double>(max_key_bytes)));
  c.Set("MAX_VALUE_BYTES", Napi::Number::New(env, static_cast<double>(max_value_bytes)));
  c.Set("BATCH_MAX", Napi::Number::New(env, max_batch));
  // The name lists, each from its one source: the core's strategies and the
  // codec table (lib/native.ts mirrors them for the types; a test compares).
  const auto names = [&](const auto& list) {
    Napi::Array a = Napi::Array::New(env);
    for (auto item : list) a.Set(a.Length(), Napi::String::New(env, to_string(item)));
    a.Freeze();
    return a;
  };
  c.Set("STRATEGIES", names(all_strategies));
  c.Set("KEY_TYPES", names(codecs(role::key)));
  c.Set("VALUE_TYPES", names(codecs(role::value)));
  c.Freeze();
  exports.Set("constants", c);
  return exports;
}

}  // namespace
}  // namespace threadmap::addon

Napi::Object ThreadmapInit(Napi::Env env, Napi::Object exports) {
  return threadmap::addon::Init(env, exports);
}

NODE_API_MODULE(threadmap, ThreadmapInit)
