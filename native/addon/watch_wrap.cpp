// watch_wrap.cpp — argument plumbing for watch and snapshots; the protocol
// and the functions' shapes are in watch_wrap.hpp.
#include "watch_wrap.hpp"

#include <algorithm>
#include <cmath>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "codec.hpp"
#include "map_wrap.hpp"
#include "threadmap/epoch.hpp"
#include "threadmap/snapshot.hpp"
#include "threadmap/watch.hpp"

namespace threadmap::addon {
namespace {

// What a writer's thread calls to wake a watch's thread (watch_wrap.hpp).
struct notifier {
  std::mutex m;
  bool alive = true;
  napi_threadsafe_function tsfn = nullptr;
  void post() noexcept {
    std::lock_guard lock(m);
    if (alive) napi_call_threadsafe_function(tsfn, nullptr, napi_tsfn_nonblocking);
  }
  void kill() noexcept {
    std::lock_guard lock(m);
    alive = false;
  }
};

struct watch_entry {
  std::shared_ptr<shared_map> map;  // keeps the log's owner alive while we hold it
  std::shared_ptr<subscription> sub;
  std::shared_ptr<notifier> wake;
  codec keys = codec::any, values = codec::any;
  bool referenced = false;  // watchRef: the threadsafe function keeps the loop alive
};

struct snapshot_entry {
  std::unique_ptr<snapshot> snap;
  codec keys = codec::any, values = codec::any;
};

// An environment's watches and snapshots, on its thread only; freed by its
// cleanup hook.
struct watch_env {
  napi_env env = nullptr;
  std::unordered_map<std::uint64_t, watch_entry> watches;
  std::unordered_map<std::uint64_t, snapshot_entry> snapshots;
  std::uint64_t next_id = 1;
  bool torn_down = false;
  byte_buffer key;  // scratch

  void set_ref(watch_entry& w, bool want) noexcept {
    if (torn_down || want == w.referenced || !w.wake->tsfn) return;
    if ((want ? napi_ref_threadsafe_function(env, w.wake->tsfn)
              : napi_unref_threadsafe_function(env, w.wake->tsfn)) == napi_ok)
      w.referenced = want;
  }
  void close_watch(watch_entry& w) noexcept {
    if (w.sub) w.sub->close();  // after it returns, no writer calls post()
    w.wake->kill();
    if (!torn_down && w.wake->tsfn) napi_release_threadsafe_function(w.wake->tsfn, napi_tsfn_abort);
  }
};

void cleanup_watch(void* arg) {
  auto* we = static_cast<watch_env*>(arg);
  we->torn_down = true;
  // Node finalizes the threadsafe functions itself as the environment goes;
  // closing the subscriptions is what lets the map's log go inactive.
  for (auto& [id, w] : we->watches) {
    (void)id;
    we->close_watch(w);
  }
  we->watches.clear();
  for (auto& [id, s] : we->snapshots) {
    (void)id;
    s.snap->close();
  }
  we->snapshots.clear();
  delete we;
}

// The threadsafe function's call: drop the reference the wait held, then
// onReady().
void call_ready(napi_env env, napi_value fn, void* context, void*) {
  if (env == nullptr) return;
  auto* we = static_cast<watch_env*>(context);
  (void)we;
  napi_value recv, ignored;
  if (napi_get_undefined(env, &recv) != napi_ok) return;
  napi_call_function(env, recv, fn, 0, nullptr, &ignored);
}

void finalize_notifier(napi_env, void* data, void*) {
  auto* hold = static_cast<std::shared_ptr<notifier>*>(data);
  (*hold)->kill();
  delete hold;
}

double number_arg(Napi::Env env, Napi::Value v, const char* what) {
  if (!v.IsNumber()) throw_type_error(env, std::string("threadmap: ") + what + " must be a number");
  return v.As<Napi::Number>().DoubleValue();
}

std::uint64_t id_arg(Napi::Env env, Napi::Value v) {
  const double d = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : -1;
  if (!(d >= 1) || d != std::floor(d) || d > 9007199254740991.0)
    throw_type_error(env, "threadmap: not a watch or snapshot id");
  return static_cast<std::uint64_t>(d);
}

// 0 (default), or an integer number of bytes within the ring's limits.
std::size_t buffer_arg(Napi::Env env, Napi::Value v) {
  if (v.IsUndefined()) return 0;
  const double d = number_arg(env, v, "bufferBytes");
  if (!(d >= double(change_log::min_buffer_bytes)) || d != std::floor(d) ||
      d > double(change_log::max_buffer_bytes))
    throw_range_error(env, "threadmap: bufferBytes must be an integer from " +
                               std::to_string(change_log::min_buffer_bytes) + " to " +
                               std::to_string(change_log::max_buffer_bytes));
  return static_cast<std::size_t>(d);
}

watch_env& env_of(const Napi::CallbackInfo& info) {
  return *static_cast<watch_env*>(info.Data());
}

watch_entry& watch_of(const Napi::CallbackInfo& info) {
  watch_env& we = env_of(info);
  auto it = we.watches.find(id_arg(info.Env(), info[0]));
  if (it == we.watches.end()) throw_error(info.Env(), "threadmap: this watch is closed");
  return it->second;
}

snapshot_entry& snapshot_of(const Napi::CallbackInfo& info) {
  watch_env& we = env_of(info);
  auto it = we.snapshots.find(id_arg(info.Env(), info[0]));
  if (it == we.snapshots.end()) throw_error(info.Env(), "threadmap: this snapshot is closed");
  return it->second;
}

// --- watch ----------------------------------------------------------------------------

watch_filter filter_arg(Napi::Env env, const NativeMap& m, Napi::Value mode_v, Napi::Value arg,
                        byte_buffer& scratch) {
  watch_filter f;
  const double mode = number_arg(env, mode_v, "the watch filter's mode");
  if (mode == 0) return f;
  if (mode == 1) {
    if (!arg.IsArray()) throw_type_error(env, "threadmap: watch: keys must be an array");
    Napi::Array a = arg.As<Napi::Array>();
    f.m = watch_filter::mode::keys;
    for (std::uint32_t i = 0; i < a.Length(); ++i) {
      encode_key(env, a.Get(i), m.keys(), scratch, "watch: keys[i]");
      f.keys.emplace_back(scratch.view());
    }
    std::sort(f.keys.begin(), f.keys.end());
    f.keys.erase(std::unique(f.keys.begin(), f.keys.end()), f.keys.end());
    return f;
  }
  if (mode == 2) {
    // A prefix of the key's bytes is a prefix of the key only where the
    // codec writes the key's own units in order with nothing before them.
    if (m.keys() != codec::string && m.keys() != codec::bytes)
      throw_type_error(env, "threadmap: watch: prefix needs a map with 'string' or 'bytes' keys");
    encode_key(env, arg, m.keys(), scratch, "watch: prefix");
    f.m = watch_filter::mode::prefix;
    f.prefix.assign(scratch.view());
    return f;
  }
  throw_range_error(env, "threadmap: unknown watch filter mode");
}

Napi::Value WatchOpen(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  watch_env& we = env_of(info);
  NativeMap* m = unwrap_tagged<NativeMap>(env, info[0], "threadmap: watch: the map");
  m->need_revisions(env, "watch()");
  watch_filter filter = filter_arg(env, *m, info[1], info[2], we.key);
  std::uint64_t from = 0;
  if (!info[3].IsUndefined()) {
    const double d = number_arg(env, info[3], "fromRevision");
    if (!(d >= 1) || d != std::floor(d) || d > 9007199254740992.0)
      throw_range_error(env, "threadmap: fromRevision must be an integer from 1 to 2^53");
    from = static_cast<std::uint64_t>(d);
  }
  const std::size_t buffer = buffer_arg(env, info[4]);
  if (!info[5].IsFunction()) throw_type_error(env, "threadmap: watch: onReady must be a function");
  shared_map& sm = m->shared(env);
  std::shared_ptr<shared_map> owner = registry::find(sm.id());
  if (!owner) throw_error(env, "threadmap: the map is closed");

  auto wake = std::make_shared<notifier>();
  auto* hold = new std::shared_ptr<notifier>(wake);
  napi_value name;
  check(env, napi_create_string_utf8(env, "threadmap.watch", NAPI_AUTO_LENGTH, &name));
  napi_threadsafe_function tsfn = nullptr;
  napi_status st = napi_create_threadsafe_function(env, info[5], nullptr, name, 0, 1, hold,
                                                   finalize_notifier, &we, call_ready, &tsfn);
  if (st != napi_ok) {
    delete hold;
    check(env, st);
  }
  wake->tsfn = tsfn;
  napi_unref_threadsafe_function(env, tsfn);  // a watch keeps no process alive unless asked
  change_log::opened o;
  try {
    o = owner->watch_log()->subscribe(std::move(filter), from, buffer, [wake] { wake->post(); });
  } catch (...) {
    wake->kill();
    napi_release_threadsafe_function(tsfn, napi_tsfn_abort);
    throw;
  }
  Napi::Array out = Napi::Array::New(env, 2);
  if (!o.sub) {
    wake->kill();
    napi_release_threadsafe_function(tsfn, napi_tsfn_abort);
    if (o.st == subscription::state::closed) throw_error(env, "threadmap: the map is closed");
    out.Set(0u, Napi::Number::New(env, -1));
    out.Set(1u, Napi::Number::New(env, static_cast<double>(o.oldest)));
    return out;
  }
  const std::uint64_t id = we.next_id++;
  watch_entry w;
  w.map = std::move(owner);
  w.sub = std::move(o.sub);
  w.wake = std::move(wake);
  w.keys = m->keys();
  w.values = m->values();
  we.watches.emplace(id, std::move(w));
  out.Set(0u, Napi::Number::New(env, static_cast<double>(id)));
  out.Set(1u, Napi::Number::New(env, static_cast<double>(o.revision)));
  return out;
}

Napi::Value WatchRead(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  watch_entry& w = watch_of(info);
  const double max_d = number_arg(env, info[1], "watchRead's max");
  const std::size_t max = max_d >= 1 && max_d <= 4096 ? static_cast<std::size_t>(max_d) : 256;
  std::vector<watch_event> events;
  const subscription::batch b = w.sub->read(events, max, true);
  if (b.st == subscription::state::closed) return env.Null();
  if (b.st == subscription::state::compacted)
    return Napi::Number::New(env, static_cast<double>(b.oldest));
  Napi::Array out = Napi::Array::New(env, events.size() * 4);
  std::uint32_t i = 0;
  for (const watch_event& e : events) {
    out.Set(i++, Napi::Number::New(env, static_cast<double>(e.kind)));
    out.Set(i++, e.kind == event_kind::clear ? env.Undefined()
                                             : Napi::Value(env, decode(env, w.keys, e.key)));
    out.Set(i++, e.kind == event_kind::set ? Napi::Value(env, decode(env, w.values, e.value))
                                           : env.Undefined());
    out.Set(i++, Napi::Number::New(env, static_cast<double>(e.revision)));
  }
  return out;
}

Napi::Value WatchRef(const Napi::CallbackInfo& info) {
  env_of(info).set_ref(watch_of(info), info[1].ToBoolean());
  return info.Env().Undefined();
}

Napi::Value WatchClose(const Napi::CallbackInfo& info) {
  watch_env& we = env_of(info);
  auto it = we.watches.find(id_arg(info.Env(), info[0]));
  if (it == we.watches.end()) return Napi::Boolean::New(info.Env(), false);
  we.close_watch(it->second);
  we.watches.erase(it);
  return Napi::Boolean::New(info.Env(), true);
}

// --- snapshots ----------------------------------------------------------------------------

Napi::Value SnapshotOpen(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  watch_env& we = env_of(info);
  NativeMap* m = unwrap_tagged<NativeMap>(env, info[0], "threadmap: snapshot: the map");
  m->need_revisions(env, "snapshot()");
  const std::size_t buffer = buffer_arg(env, info[1]);
  if (!info[2].IsUndefined() && !info[2].IsBoolean())
    throw_type_error(env, "threadmap: snapshot: eager must be a boolean");
  const bool eager = info[2].IsBoolean() && info[2].As<Napi::Boolean>().Value();
  std::shared_ptr<shared_map> owner = registry::find(m->shared(env).id());
  if (!owner) throw_error(env, "threadmap: the map is closed");
  std::unique_ptr<snapshot> s = snapshot::take(
      std::move(owner), buffer, eager ? snapshot::copying::eager : snapshot::copying::lazy);
  if (!s) throw_error(env, "threadmap: the map is closed");
  const std::uint64_t id = we.next_id++;
  we.snapshots.emplace(id, snapshot_entry{std::move(s), m->keys(), m->values()});
  return Napi::Number::New(env, static_cast<double>(id));
}

Napi::Value SnapshotGet(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  snapshot_entry& s = snapshot_of(info);
  watch_env& we = env_of(info);
  encode(env, info[1], s.keys, role::key, we.key);
  const std::string* v = s.snap->find(we.key.view());
  if (v == nullptr) return info[2];
  return Napi::Value(env, decode(env, s.values, *v));
}

Napi::Value SnapshotHas(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  snapshot_entry& s = snapshot_of(info);
  watch_env& we = env_of(info);
  encode(env, info[1], s.keys, role::key, we.key);
  return Napi::Boolean::New(env, s.snap->find(we.key.view()) != nullptr);
}

Napi::Value SnapshotSize(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(snapshot_of(info).snap->size()));
}

Napi::Value SnapshotRevision(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(snapshot_of(info).snap->revision()));
}

Napi::Value SnapshotRefresh(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), snapshot_of(info).snap->refresh());
}

Napi::Value SnapshotStats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  snapshot_entry& s = snapshot_of(info);
  const snapshot::counters c = s.snap->stats();
  Napi::Object o = Napi::Object::New(env);
  o.Set("refreshes", Napi::Number::New(env, static_cast<double>(c.refreshes)));
  o.Set("fullCopies", Napi::Number::New(env, static_cast<double>(c.full_copies)));
  o.Set("eventsApplied", Napi::Number::New(env, static_cast<double>(c.events_applied)));
  o.Set("retries", Napi::Number::New(env, static_cast<double>(c.retries)));
  o.Set("revision", Napi::Number::New(env, static_cast<double>(s.snap->revision())));
  o.Set("size", Napi::Number::New(env, static_cast<double>(s.snap->size())));
  o.Set("lazy", Napi::Boolean::New(env, s.snap->lazy()));
  o.Set("bytes", Napi::Number::New(env, static_cast<double>(s.snap->held_bytes())));
  return o;
}

Napi::Value SnapshotChunk(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  snapshot_entry& s = snapshot_of(info);
  const double mode = number_arg(env, info[1], "the iteration mode");
  if (mode != iter_keys && mode != iter_values && mode != iter_entries)
    throw_range_error(env, "threadmap: unknown iterate mode");
  const double pos_d = number_arg(env, info[2], "the iteration position");
  const double max_d = number_arg(env, info[3], "the iteration chunk");
  // A position is unit * 2^32 + a bucket index of that unit's table, which
  // stays valid until the snapshot changes (the generation says when);
  // whole buckets at a time. Negative: done.
  constexpr double unit_span = 4294967296.0;
  const bool valid =
      pos_d >= 0 && pos_d == std::floor(pos_d) && pos_d < double(s.snap->units()) * unit_span;
  std::size_t unit = valid ? static_cast<std::size_t>(pos_d / unit_span) : s.snap->units();
  std::size_t bucket = valid ? static_cast<std::size_t>(pos_d - double(unit) * unit_span) : 0;
  const std::size_t max = max_d >= 1 && max_d <= 4096 ? static_cast<std::size_t>(max_d) : 1024;
  Napi::Array out = Napi::Array::New(env);
  std::uint32_t i = 2, n = 0;
  for (; unit < s.snap->units() && n < max; ++unit, bucket = 0) {
    const snapshot::table& t = s.snap->unit(unit);  // copies the unit first if need be
    for (; bucket < t.bucket_count() && n < max; ++bucket) {
      for (auto it = t.begin(bucket); it != t.end(bucket); ++it, ++n) {
        if (mode != iter_values) out.Set(i++, Napi::Value(env, decode(env, s.keys, it->first)));
        if (mode != iter_keys) out.Set(i++, Napi::Value(env, decode(env, s.values, it->second)));
      }
    }
    if (bucket < t.bucket_count()) break;
  }
  const double next = unit < s.snap->units() ? double(unit) * unit_span + double(bucket) : -1.0;
  out.Set(0u, Napi::Number::New(env, next));
  out.Set(1u, Napi::Number::New(env, static_cast<double>(s.snap->generation())));
  return out;
}

Napi::Value SnapshotClose(const Napi::CallbackInfo& info) {
  watch_env& we = env_of(info);
  auto it = we.snapshots.find(id_arg(info.Env(), info[0]));
  if (it == we.snapshots.end()) return Napi::Boolean::New(info.Env(), false);
  it->second.snap->close(true);  // the copy is freed off this thread
  we.snapshots.erase(it);
  return Napi::Boolean::New(info.Env(), true);
}

template <Napi::Value (*F)(const Napi::CallbackInfo&)>
napi_value thunk(napi_env env, napi_callback_info cbinfo) {
  return guarded_call(env, [&]() -> napi_value { return F(Napi::CallbackInfo(env, cbinfo)); });
}

}  // namespace

Napi::Object watch_stats_object(Napi::Env env, const shared_map& m) {
  change_log::counters c;
  if (std::shared_ptr<change_log> log = m.watch_log_if_made()) c = log->stats();
  const auto num = [&](auto v) { return Napi::Number::New(env, static_cast<double>(v)); };
  Napi::Object o = Napi::Object::New(env);
  o.Set("watchers", num(c.waking));
  o.Set("snapshots", num(c.subscribers - c.waking));
  o.Set("bufferBytes", num(c.limit));
  o.Set("bytes", num(c.bytes));
  o.Set("events", num(c.events));
  o.Set("oldestRevision", num(c.oldest));
  o.Set("appended", num(c.appended));
  o.Set("dropped", num(c.dropped));
  o.Set("compactedErrors", num(c.compacted));
  return o;
}

void export_watch(Napi::Env env, Napi::Object exports) {
  auto* we = new watch_env;
  we->env = env;
  if (napi_add_env_cleanup_hook(env, cleanup_watch, we) != napi_ok) {
    delete we;
    throw_error(env, "threadmap: cannot register the watch cleanup hook");
  }
  const napi_property_descriptor fns[] = {
      function_property("watchOpen", thunk<WatchOpen>, we),
      function_property("watchRead", thunk<WatchRead>, we),
      function_property("watchRef", thunk<WatchRef>, we),
      function_property("watchClose", thunk<WatchClose>, we),
      function_property("snapshotOpen", thunk<SnapshotOpen>, we),
      function_property("snapshotGet", thunk<SnapshotGet>, we),
      function_property("snapshotHas", thunk<SnapshotHas>, we),
      function_property("snapshotSize", thunk<SnapshotSize>, we),
      function_property("snapshotRevision", thunk<SnapshotRevision>, we),
      function_property("snapshotRefresh", thunk<SnapshotRefresh>, we),
      function_property("snapshotStats", thunk<SnapshotStats>, we),
      function_property("snapshotChunk", thunk<SnapshotChunk>, we),
      function_property("snapshotClose", thunk<SnapshotClose>, we),
  };
  check(env, napi_define_properties(env, exports, std::size(fns), fns));
  // The event kinds' names in the core's order (lib/watch.ts mirrors them).
  Napi::Array kinds = Napi::Array::New(env);
  for (event_kind k : {event_kind::set, event_kind::erase, event_kind::clear, event_kind::evict,
                       event_kind::expire})
    kinds.Set(kinds.Length(), Napi::String::New(env, to_string(k)));
  kinds.Freeze();
  exports.Set("watchEvents", kinds);
}

}  // namespace threadmap::addon
