// loads_wrap.cpp — argument plumbing for fetch's load table, and the waker
// (loads_wrap.hpp says how the pieces fit; loads.hpp has the protocol).
#include "loads_wrap.hpp"

#include <chrono>
#include <cmath>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "codec.hpp"
#include "env_state.hpp"
#include "map_wrap.hpp"
#include "threadmap/registry.hpp"

namespace threadmap::addon {
namespace {

using clock_type = load_table::clock;

struct load_env;

struct delivery {
  std::uint64_t wait_id;
  std::shared_ptr<const load_result> result;
};

// The part of an environment's fetch state other threads touch: whoever
// ends a claim posts the end here, from any thread.
struct waker {
  std::mutex m;
  bool alive = true;  // false once the environment or its threadsafe function is going
  napi_threadsafe_function tsfn = nullptr;
  std::vector<delivery> queue;
  load_env* js = nullptr;  // read and written on the environment's thread only

  void post(delivery d) noexcept {
    std::lock_guard lock(m);
    if (!alive) return;
    const bool was_empty = queue.empty();
    try {
      queue.push_back(std::move(d));
    } catch (...) {
      // Out of memory: this wait then ends by its own timeout.
      return;
    }
    // One call drains the whole queue, so only the first post asks for one.
    if (was_empty) napi_call_threadsafe_function(tsfn, nullptr, napi_tsfn_nonblocking);
  }
};

struct env_waiter final : load_waiter {
  env_waiter(std::shared_ptr<waker> w, std::uint64_t id) : to(std::move(w)), wait_id(id) {}
  void wake(const std::shared_ptr<const load_result>& r) noexcept override {
    to->post({wait_id, r});
  }
  const std::shared_ptr<waker> to;
  const std::uint64_t wait_id;
};

// A wait (or an owner's watch) of this environment, on its thread only.
struct pending_wait {
  Napi::FunctionReference on_end;
  std::shared_ptr<shared_map> map;
  std::shared_ptr<env_waiter> waiter;
  std::uint64_t token = 0;
  codec values = codec::any;
};

struct owned_claim {
  std::shared_ptr<shared_map> map;
  std::uint64_t token = 0;
  codec values = codec::any;
};

// An environment's fetch state, on its thread only. Made at module init and
// freed by the environment's cleanup hook.
struct load_env {
  napi_env env = nullptr;
  std::shared_ptr<waker> wk;  // with its threadsafe function, on the first wait
  std::unordered_map<std::uint64_t, pending_wait> waits;
  std::uint64_t next_wait = 1;
  // By the owner's watch id (its entry in `waits`), which JS settles by.
  std::unordered_map<std::uint64_t, owned_claim> owned;
  bool referenced = false;
  bool torn_down = false;

  // The event loop stays alive while something here waits.
  void update_ref() noexcept {
    if (!wk || torn_down) return;
    const bool want = !waits.empty();
    if (want == referenced) return;
    if ((want ? napi_ref_threadsafe_function(env, wk->tsfn)
              : napi_unref_threadsafe_function(env, wk->tsfn)) == napi_ok)
      referenced = want;
  }
};

void deliver(napi_env env, load_env& le, const delivery& d) {
  auto it = le.waits.find(d.wait_id);
  if (it == le.waits.end()) return;  // cancelled meanwhile
  pending_wait w = std::move(it->second);
  le.waits.erase(it);
  Napi::HandleScope scope(env);
  napi_value args[2];
  check(env, napi_create_uint32(env, static_cast<std::uint32_t>(d.result->kind), &args[0]));
  const std::string& bytes = d.result->bytes;
  switch (d.result->kind) {
    case load_outcome::value:
      args[1] = decode(env, w.values, bytes);
      break;
    case load_outcome::error: {
      Napi::Uint8Array a = Napi::Uint8Array::New(env, bytes.size());
      if (!bytes.empty()) std::memcpy(a.Data(), bytes.data(), bytes.size());
      args[1] = a;
      break;
    }
    default:
      check(env, napi_get_undefined(env, &args[1]));
  }
  napi_value recv, ignored;
  check(env, napi_get_undefined(env, &recv));
  // The callback is lib/fetch.ts's own resolver; an exception it throws is
  // left pending, and Node reports it as uncaught.
  napi_call_function(env, recv, w.on_end.Value(), 2, args, &ignored);
}

void call_js(napi_env env, napi_value, void* context, void*) {
  if (env == nullptr) return;  // the function is being torn down
  auto* wk = static_cast<waker*>(context);
  std::vector<delivery> batch;
  {
    std::lock_guard lock(wk->m);
    batch.swap(wk->queue);
  }
  load_env* le = wk->js;
  if (le == nullptr) return;
  for (std::size_t i = 0; i < batch.size(); ++i) {
    try {
      deliver(env, *le, batch[i]);
    } catch (const Napi::Error& e) {
      throw_into_js(e);
    } catch (...) {
    }
    bool pending = false;
    if (napi_is_exception_pending(env, &pending) == napi_ok && pending && i + 1 < batch.size()) {
      // A callback threw (lib/fetch.ts's do not): Node reports it once this
      // call returns, and the deliveries not reached wait for the next call.
      std::lock_guard lock(wk->m);
      try {
        if (wk->alive) {
          wk->queue.insert(wk->queue.begin(), std::make_move_iterator(batch.begin() + i + 1),
                           std::make_move_iterator(batch.end()));
          napi_call_threadsafe_function(wk->tsfn, nullptr, napi_tsfn_nonblocking);
        }
      } catch (...) {
        // Out of memory: those waits end by their own timeouts.
      }
      break;
    }
  }
  if (wk->js != nullptr) wk->js->update_ref();
}

void finalize_waker(napi_env, void* data, void*) {
  auto* hold = static_cast<std::shared_ptr<waker>*>(data);
  {
    std::lock_guard lock((*hold)->m);
    (*hold)->alive = false;
    (*hold)->queue.clear();
  }
  delete hold;
}

waker& waker_of(napi_env env, load_env& le) {
  if (le.wk) return *le.wk;
  auto wk = std::make_shared<waker>();
  auto* hold = new std::shared_ptr<waker>(wk);
  napi_value name;
  check(env, napi_create_string_utf8(env, "threadmap.fetch", NAPI_AUTO_LENGTH, &name));
  napi_threadsafe_function tsfn = nullptr;
  const napi_status st = napi_create_threadsafe_function(env, nullptr, nullptr, name, 0, 1, hold,
                                                         finalize_waker, wk.get(), call_js, &tsfn);
  if (st != napi_ok) {
    delete hold;
    check(env, st);
  }
  wk->tsfn = tsfn;
  wk->js = &le;
  le.wk = std::move(wk);
  le.referenced = true;  // a new threadsafe function is referenced
  return *le.wk;
}

// Registers a wait for `token` (or an owner's watch); returns its id.
std::uint64_t add_wait(load_env& le, Napi::Function on_end, const std::shared_ptr<shared_map>& map,
                       codec values, std::shared_ptr<env_waiter> w) {
  pending_wait p;
  p.on_end = Napi::Persistent(on_end);
  p.map = map;
  p.waiter = std::move(w);
  p.values = values;
  const std::uint64_t id = p.waiter->wait_id;
  le.waits.emplace(id, std::move(p));
  le.update_ref();
  return id;
}

void cleanup_loads(void* arg) {
  auto* le = static_cast<load_env*>(arg);
  le->torn_down = true;
  if (le->wk) {
    std::lock_guard lock(le->wk->m);
    le->wk->alive = false;
    le->wk->queue.clear();
  }
  // Waits first: an abandoned claim must not wake this thread's own waiters.
  for (auto& [id, w] : le->waits) {
    (void)id;
    w.map->loads().cancel(w.token, w.waiter.get());
    w.on_end.Reset();
  }
  le->waits.clear();
  for (auto& [id, c] : le->owned) {
    (void)id;
    c.map->loads().abandon(c.token);
  }
  le->owned.clear();
  if (le->wk) le->wk->js = nullptr;
  delete le;
}

// The thunk of the load functions: N arguments (undefined past argc), the
// environment's load_env (the function's data), exceptions into JS.
template <std::size_t N, napi_value (*F)(napi_env, load_env&, const napi_value*)>
napi_value load_function(napi_env env, napi_callback_info cbinfo) {
  return guarded_call(env, [&]() -> napi_value {
    std::size_t argc = N;
    napi_value argv[N];
    void* data = nullptr;
    check(env, napi_get_cb_info(env, cbinfo, &argc, argv, nullptr, &data));
    auto* le = static_cast<load_env*>(data);
    if (le->torn_down) throw_error(env, "threadmap: this thread is shutting down");
    return F(env, *le, argv);
  });
}

double finite_number(napi_env env, napi_value v, const char* what) {
  double d = NAN;
  if (napi_get_value_double(env, v, &d) != napi_ok || !std::isfinite(d))
    throw_type_error(env, std::string("threadmap: ") + what + " must be a finite number");
  return d;
}

std::uint64_t id_number(napi_env env, napi_value v, const char* what) {
  const double d = finite_number(env, v, what);
  if (!(d >= 0) || d != std::floor(d) || d > 9007199254740991.0)
    throw_type_error(env, std::string("threadmap: ") + what + " must be a non-negative integer");
  return static_cast<std::uint64_t>(d);
}

napi_value Claim(napi_env env, load_env& le, const napi_value* argv) {
  NativeMap* m = unwrap_tagged<NativeMap>(env, argv[0], "threadmap: loadClaim: the map");
  const double ms = finite_number(env, argv[2], "loadClaim: the timeout");
  if (!(ms > 0)) throw_range_error(env, "threadmap: loadClaim: the timeout must be positive");
  napi_valuetype t;
  check(env, napi_typeof(env, argv[3], &t));
  if (t != napi_function) throw_type_error(env, "threadmap: loadClaim: onEnd must be a function");
  shared_map& sm = m->shared(env);  // the Error of a closed map
  scratch& s = data_of(env).buffers;
  encode(env, argv[1], m->keys(), role::key, s.key);
  waker_of(env, le);
  // The registry's own reference: the wait (or claim) keeps the map alive.
  std::shared_ptr<shared_map> hold = registry::find(sm.id());
  if (!hold) throw_error(env, "threadmap: map " + std::to_string(sm.id()) + " is closed");
  auto w = std::make_shared<env_waiter>(le.wk, le.next_wait++);
  const auto now = clock_type::now();
  const auto timeout = std::chrono::duration_cast<clock_type::duration>(
      std::chrono::duration<double, std::milli>(ms));
  // Reserve the wait's place first, so nothing after the claim can fail.
  const std::uint64_t wait_id = add_wait(le, Napi::Function(env, argv[3]), hold, m->values(), w);
  load_table::ticket tk;
  try {
    tk = sm.loads().claim(s.key.view(), now, timeout, w);
    if (tk.r == load_table::role::owner)
      le.owned.emplace(wait_id, owned_claim{hold, tk.token, m->values()});
  } catch (...) {
    if (tk.r == load_table::role::owner) sm.loads().abandon(tk.token);
    le.waits.erase(wait_id);
    le.update_ref();
    throw;
  }
  if (tk.r == load_table::role::closed) {
    le.waits.erase(wait_id);
    le.update_ref();
    throw_error(env, "threadmap: map " + std::to_string(sm.id()) + " is closed");
  }
  le.waits[wait_id].token = tk.token;
  const double left =
      std::chrono::duration<double, std::milli>(tk.deadline - clock_type::now()).count();
  Napi::Array out = Napi::Array::New(env, 3);
  out.Set(0u, Napi::Number::New(env, tk.r == load_table::role::owner ? 0 : 1));
  out.Set(1u, Napi::Number::New(env, static_cast<double>(wait_id)));
  out.Set(2u, Napi::Number::New(env, left > 0 ? left : 0));
  return out;
}

napi_value Settle(napi_env env, load_env& le, const napi_value* argv) {
  const std::uint64_t id = id_number(env, argv[0], "loadSettle: the claim");
  const std::uint64_t kind = id_number(env, argv[1], "loadSettle: the kind");
  auto it = le.owned.find(id);
  if (it == le.owned.end()) throw_error(env, "threadmap: loadSettle: no such claim in this thread");
  load_result r;
  r.kind = static_cast<load_outcome>(kind);
  switch (r.kind) {
    case load_outcome::value: {
      scratch& s = data_of(env).buffers;
      encode(env, argv[2], it->second.values, role::value, s.value);
      r.bytes.assign(s.value.data(), s.value.size());
      s.trim();
      break;
    }
    case load_outcome::error: {
      bool typed = false;
      check(env, napi_is_typedarray(env, argv[2], &typed));
      if (!typed) throw_type_error(env, "threadmap: loadSettle: the error must be a Uint8Array");
      Napi::Uint8Array a(env, argv[2]);
      r.bytes.assign(reinterpret_cast<const char*>(a.Data()), a.ByteLength());
      break;
    }
    case load_outcome::none:
    case load_outcome::released:
    case load_outcome::timed_out:
      break;
    default:
      throw_range_error(env, "threadmap: loadSettle: no such outcome");
  }
  // After close() too: the table is closed, and the answer is false.
  const bool ended =
      it->second.map->loads().settle(it->second.token, std::move(r), clock_type::now());
  le.owned.erase(it);
  le.waits.erase(id);
  le.update_ref();
  return Napi::Boolean::New(env, ended);
}

napi_value Cancel(napi_env env, load_env& le, const napi_value* argv) {
  const std::uint64_t id = id_number(env, argv[0], "loadCancel: the wait");
  auto it = le.waits.find(id);
  if (it == le.waits.end()) return Napi::Boolean::New(env, false);
  it->second.map->loads().cancel(it->second.token, it->second.waiter.get());
  le.waits.erase(it);
  le.update_ref();
  return Napi::Boolean::New(env, true);
}

}  // namespace

Napi::Object load_stats_object(Napi::Env env, const load_stats& s) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("successes", Napi::Number::New(env, static_cast<double>(s.successes)));
  o.Set("failures", Napi::Number::New(env, static_cast<double>(s.failures)));
  o.Set("timeouts", Napi::Number::New(env, static_cast<double>(s.timeouts)));
  o.Set("abandoned", Napi::Number::New(env, static_cast<double>(s.abandoned)));
  o.Set("waits", Napi::Number::New(env, static_cast<double>(s.waits)));
  o.Set("time", Napi::Number::New(env, static_cast<double>(s.load_ns) / 1e6));
  return o;
}

void export_loads(Napi::Env env, Napi::Object exports) {
  auto* le = new load_env();
  le->env = env;
  if (napi_add_env_cleanup_hook(env, cleanup_loads, le) != napi_ok) {
    delete le;
    throw_error(env, "threadmap: cannot register the fetch cleanup hook");
  }
  const napi_property_descriptor fns[] = {
      function_property("loadClaim", load_function<4, Claim>, le),
      function_property("loadSettle", load_function<3, Settle>, le),
      function_property("loadCancel", load_function<1, Cancel>, le),
  };
  check(env, napi_define_properties(env, exports, std::size(fns), fns));
  Napi::Object kinds = Napi::Object::New(env);
  kinds.Set("value", Napi::Number::New(env, static_cast<double>(load_outcome::value)));
  kinds.Set("none", Napi::Number::New(env, static_cast<double>(load_outcome::none)));
  kinds.Set("error", Napi::Number::New(env, static_cast<double>(load_outcome::error)));
  kinds.Set("released", Napi::Number::New(env, static_cast<double>(load_outcome::released)));
  kinds.Set("abandoned", Napi::Number::New(env, static_cast<double>(load_outcome::abandoned)));
  kinds.Set("timedOut", Napi::Number::New(env, static_cast<double>(load_outcome::timed_out)));
  kinds.Set("closed", Napi::Number::New(env, static_cast<double>(load_outcome::closed)));
  kinds.Freeze();
  exports.Set("loadOutcomes", kinds);
}

}  // namespace threadmap::addon
