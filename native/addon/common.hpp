// common.hpp — small pieces every binding file uses: the reusable scratch
// buffers, error helpers and the checked method thunk.
#pragma once

// Every addon source includes napi.h through this header, so all of them see
// the same configuration. A worker being terminated can no longer throw into
// JS; node-addon-api then drops the exception instead of rethrowing it as a
// C++ exception out of its callback wrapper (which would call std::terminate).
#ifndef NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS
#define NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS
#endif
#include <napi.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <new>
#include <string>
#include <string_view>
#include <vector>

#include "threadmap/map.hpp"

namespace threadmap::addon {

// A growable byte buffer that never zero-fills: the codecs write straight into
// it, so the common case (a short key) costs no allocation and no memset.
class byte_buffer {
 public:
  char* data() noexcept { return data_.get(); }
  const char* data() const noexcept { return data_.get(); }
  std::size_t size() const noexcept { return size_; }
  std::size_t capacity() const noexcept { return cap_; }
  std::string_view view() const noexcept { return {data_.get(), size_}; }

  void clear() noexcept { size_ = 0; }
  // Makes room for n more bytes past size() and returns where they start.
  char* reserve_more(std::size_t n) {
    if (cap_ - size_ < n) grow(size_ + n);
    return data_.get() + size_;
  }
  void commit(std::size_t n) noexcept { size_ += n; }
  void push(std::uint8_t b) {
    *reserve_more(1) = static_cast<char>(b);
    ++size_;
  }
  void append(const void* p, std::size_t n) {
    if (n == 0) return;
    std::memcpy(reserve_more(n), p, n);
    size_ += n;
  }
  void resize(std::size_t n) {
    if (n > cap_) grow(n);
    size_ = n;
  }
  // A huge value must not stay pinned in a thread-local buffer forever.
  void trim() {
    if (cap_ > kKeep) {
      data_.reset();
      cap_ = size_ = 0;
    }
  }

 private:
  static constexpr std::size_t kKeep = std::size_t{1} << 20;
  void grow(std::size_t need) {
    std::size_t cap = cap_ < 256 ? 256 : cap_;
    while (cap < need) cap = cap * 2 > cap ? cap * 2 : need;
    std::unique_ptr<char[]> next(new char[cap]);
    if (size_ != 0) std::memcpy(next.get(), data_.get(), size_);
    data_ = std::move(next);
    cap_ = cap;
  }
  std::unique_ptr<char[]> data_;
  std::size_t cap_ = 0;
  std::size_t size_ = 0;
};

// Scratch space for encoding arguments and receiving results, so a call
// allocates nothing once the buffers have grown to the working size. One per
// environment (in its instance data): an environment runs on one thread, and
// nothing here outlives a single call.
struct scratch {
  byte_buffer key;
  byte_buffer value;
  byte_buffer expected;
  std::string out;

  // Batches: every key (value) encoded back to back, where each one ends,
  // the views the core reads, its answers, and the JS values made of them.
  byte_buffer batch_keys;
  byte_buffer batch_values;
  std::vector<std::size_t> key_ends;
  std::vector<std::size_t> value_ends;
  std::vector<std::string_view> views;
  std::vector<std::string> outs;
  std::unique_ptr<bool[]> found;
  std::size_t found_capacity = 0;
  std::vector<napi_value> args;     // a batch call's arguments
  std::vector<napi_value> results;  // the elements of a batch's result array

  bool* found_for(std::size_t n) {
    if (n > found_capacity) {
      found.reset(new bool[n]);
      found_capacity = n;
    }
    return found.get();
  }

  // After every call that may have filled value, expected or out: one
  // comparison when none has reached 1 MiB (no capacity has a bit from 20 up).
  void trim() {
    constexpr std::size_t keep = std::size_t{1} << 20;
    if ((value.capacity() | expected.capacity() | out.capacity()) < keep) return;
    value.trim();
    expected.trim();
    if (out.capacity() > keep) std::string().swap(out);
  }
  void trim_batch() {
    batch_keys.trim();
    batch_values.trim();
    for (std::string& o : outs)
      if (o.capacity() > (std::size_t{1} << 16)) std::string().swap(o);
  }
};

// Throws a JS exception for a failed napi call (keeps a pending exception).
inline void check(napi_env env, napi_status st) {
  if (st != napi_ok) throw Napi::Error::New(env);
}

[[noreturn]] void throw_type_error(napi_env env, const std::string& msg);
[[noreturn]] void throw_range_error(napi_env env, const std::string& msg);
[[noreturn]] void throw_error(napi_env env, const std::string& msg);

// Maps a core status that means failure to the JS error the API promises.
// `what` names the operation for the message.
[[noreturn]] void throw_status(napi_env env, status s, const char* what);

// Runs a binding body and turns every C++ exception into a JS exception, so
// nothing ever unwinds into Node: Napi::Error as is, std::bad_alloc as a
// RangeError, other std::exceptions (from the core) as Error. In an
// environment that is shutting down nothing can be thrown, and nothing is.
inline void throw_into_js(const Napi::Error& e) noexcept {
  try {
    e.ThrowAsJavaScriptException();
  } catch (...) {
  }
}

template <typename F>
napi_value guarded_call(napi_env env, F&& body) noexcept {
  try {
    return body();
  } catch (const Napi::Error& e) {
    throw_into_js(e);
  } catch (const std::bad_alloc&) {
    try {
      throw_into_js(Napi::RangeError::New(env, "threadmap: out of memory"));
    } catch (...) {
    }
  } catch (const std::exception& e) {
    try {
      throw_into_js(Napi::Error::New(env, std::string("threadmap: ") + e.what()));
    } catch (...) {
    }
  } catch (...) {
  }
  return nullptr;
}

// Prototype methods go through this thunk instead of ObjectWrap's own: it
// checks the receiver's napi_type_tag before unwrapping, so calling a method
// on a foreign object (another class, another addon) is a TypeError instead
// of a wild pointer.
template <typename T>
T* unwrap_tagged(napi_env env, napi_value obj, const char* what) {
  bool tagged = false;
  napi_valuetype t;
  check(env, napi_typeof(env, obj, &t));
  if (t == napi_object) check(env, napi_check_object_type_tag(env, obj, &T::type_tag, &tagged));
  if (!tagged) throw_type_error(env, std::string(what) + " is not a " + T::class_name);
  void* raw = nullptr;
  check(env, napi_unwrap(env, obj, &raw));
  return static_cast<T*>(raw);
}

template <typename T, Napi::Value (T::*M)(const Napi::CallbackInfo&)>
napi_value raw_method(napi_env env, napi_callback_info cbinfo) {
  return guarded_call(env, [&]() -> napi_value {
    Napi::CallbackInfo info(env, cbinfo);
    T* obj = unwrap_tagged<T>(env, info.This(), "Illegal invocation: the receiver");
    return (obj->*M)(info);
  });
}

// A function-valued property: the callback, its attributes, and the `data`
// it receives (napi_get_cb_info).
inline napi_property_descriptor function_descriptor(const char* name, napi_callback cb,
                                                    napi_property_attributes attributes,
                                                    void* data) {
  return {name, nullptr, cb, nullptr, nullptr, nullptr, attributes, data};
}

// Like a class method: writable, configurable, not enumerable.
template <typename T, Napi::Value (T::*M)(const Napi::CallbackInfo&)>
napi_property_descriptor method(const char* name) {
  return function_descriptor(
      name, raw_method<T, M>,
      static_cast<napi_property_attributes>(napi_writable | napi_configurable), nullptr);
}

// A module function: writable, configurable and enumerable, as an
// assignment to the exports object would make it.
inline napi_property_descriptor function_property(const char* name, napi_callback cb,
                                                  void* data = nullptr) {
  return function_descriptor(
      name, cb,
      static_cast<napi_property_attributes>(napi_writable | napi_configurable | napi_enumerable),
      data);
}

// Defines the class with its methods on the prototype. (napi_define_class
// cannot take our checked thunks as instance methods: it only knows its own
// member-function trampolines.)
template <typename T, std::size_t N>
Napi::Function define_class(Napi::Env env, const char* name,
                            const napi_property_descriptor (&methods)[N]) {
  Napi::Function ctor = T::DefineClass(env, name, {});
  Napi::Object proto = ctor.Get("prototype").template As<Napi::Object>();
  check(env, napi_define_properties(env, proto, N, methods));
  return ctor;
}

}  // namespace threadmap::addon
