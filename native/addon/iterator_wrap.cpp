// iterator_wrap.cpp — NativeIterator: see iterator_wrap.hpp.
#include "iterator_wrap.hpp"

#include <string>

#include "map_wrap.hpp"
#include "threadmap/epoch.hpp"

namespace threadmap::addon {

const napi_type_tag NativeIterator::type_tag = {0x2b6e91d04fa3c785ULL, 0x5f0d7c3ae1b84269ULL};

namespace {
// NativeMap::iterate() passes the iterator's state to the constructor through
// this slot; `new NativeIterator()` from JS finds it empty and is refused.
thread_local iterator_init* t_pending_iterator = nullptr;
}  // namespace

Napi::Function NativeIterator::define(Napi::Env env) {
  static const napi_property_descriptor methods[] = {
      method<NativeIterator, &NativeIterator::Next>("next"),
      method<NativeIterator, &NativeIterator::Return>("return"),
  };
  return define_class<NativeIterator>(env, "NativeIterator", methods);
}

Napi::Object NativeIterator::create(Napi::Env env, iterator_init init) {
  struct reset_pending {
    ~reset_pending() { t_pending_iterator = nullptr; }
  } reset;
  t_pending_iterator = &init;
  return data_of(env).iterator_ctor.New({});
}

NativeIterator::NativeIterator(const Napi::CallbackInfo& info)
    : Napi::ObjectWrap<NativeIterator>(info) {
  Napi::Env env = info.Env();
  if (t_pending_iterator == nullptr)
    throw_type_error(env, "threadmap: a NativeIterator is made by NativeMap.iterate()");
  info.This().As<Napi::Object>().TypeTag(&type_tag);
  iterator_init& init = *t_pending_iterator;
  t_pending_iterator = nullptr;
  map_ = std::move(init.map);
  key_type_ = init.keys;
  value_type_ = init.values;
  mode_ = init.mode;
  chunk_ = init.chunk;
  env_ = data_of(env).state;
  track(env_, this);
}

NativeIterator::~NativeIterator() {
  untrack(env_, this);
}

void NativeIterator::finish() noexcept {
  done_ = true;
  reader_.reset();
  std::string().swap(unit_);
}

void NativeIterator::release() noexcept {
  finish();
  map_.reset();
}

// Copies the next non-empty unit into unit_. Returns false at the end.
bool NativeIterator::load_next_unit(napi_env env) {
  reader_.reset();  // it views unit_, which is about to change
  epoch::guard g;
  concurrent_map* m = map_ ? map_->get() : nullptr;
  if (m == nullptr) {
    finish();
    throw_error(env, "threadmap: the map was closed during iteration");
  }
  const std::size_t units = m->scan_units();
  while (next_unit_ < units) {
    unit_.clear();
    if (m->scan(next_unit_++, unit_) != 0) {
      reader_.emplace(unit_);
      return true;
    }
  }
  return false;
}

Napi::Value NativeIterator::Next(const Napi::CallbackInfo& info) {
  napi_env env = info.Env();
  if (done_) return Napi::Env(env).Null();
  std::vector<napi_value>& out = values_;
  out.clear();
  std::uint32_t entries = 0;
  scan_record rec;
  while (entries < chunk_) {
    if (!reader_ || !reader_->next(rec)) {
      if (!load_next_unit(env)) {
        finish();
        break;
      }
      continue;
    }
    if (mode_ != iter_values) out.push_back(decode(env, key_type_, rec.key));
    if (mode_ != iter_keys) out.push_back(decode(env, value_type_, rec.value));
    ++entries;
  }
  if (entries == 0) return Napi::Env(env).Null();
  // One call to Array.of builds the chunk: napi_set_element per element goes
  // through a generic property store and costs more than decoding the entry.
  napi_value array_of = data_of(env).array_of.Value();
  napi_value receiver, result;  // undefined: Array.of then makes a plain Array
  check(env, napi_get_undefined(env, &receiver));
  check(env, napi_call_function(env, receiver, array_of, out.size(), out.data(), &result));
  out.clear();
  return Napi::Value(env, result);
}

Napi::Value NativeIterator::Return(const Napi::CallbackInfo& info) {
  finish();
  return info.Env().Undefined();
}

}  // namespace threadmap::addon
