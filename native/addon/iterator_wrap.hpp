// iterator_wrap.hpp — NativeIterator: chunked iteration over one NativeMap.
//
// The core scans by units (a stripe, say), each read atomically. The iterator
// copies one unit at a time into native memory and hands out up to `chunk`
// decoded entries per next() call, so a JS iteration costs one boundary
// crossing per chunk, not per entry, and never holds a core lock while JS
// runs. Each key lives in one unit, so every key present for the whole
// iteration is seen exactly once, whatever other threads do meanwhile.
#pragma once

#include "common.hpp"  // first: it configures napi.h

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "codec.hpp"
#include "env_state.hpp"
#include "threadmap/registry.hpp"

namespace threadmap::addon {

struct iterator_init {
  std::shared_ptr<shared_map> map;
  codec keys;
  codec values;
  std::uint32_t mode;
  std::uint32_t chunk;
};

class NativeIterator : public Napi::ObjectWrap<NativeIterator>, public env_resource {
 public:
  static constexpr const char* class_name = "NativeIterator";
  static const napi_type_tag type_tag;

  static Napi::Function define(Napi::Env env);
  static Napi::Object create(Napi::Env env, iterator_init init);

  explicit NativeIterator(const Napi::CallbackInfo& info);
  ~NativeIterator() override;
  void release() noexcept override;

 private:
  // next(): an array of up to `chunk` keys, values or flattened [key, value]
  // pairs; null once the iteration is over.
  Napi::Value Next(const Napi::CallbackInfo& info);
  // return(): ends the iteration early and frees the buffered unit.
  Napi::Value Return(const Napi::CallbackInfo& info);

  bool load_next_unit(napi_env env);
  void finish() noexcept;

  std::shared_ptr<shared_map> map_;
  std::shared_ptr<env_state> env_;
  codec key_type_ = codec::any;
  codec value_type_ = codec::any;
  std::uint32_t mode_ = 0;
  std::uint32_t chunk_ = 1024;
  std::size_t next_unit_ = 0;
  std::string unit_;
  std::optional<scan_reader> reader_;
  std::vector<napi_value> values_;  // one chunk's decoded elements (reused)
  bool done_ = false;
};

}  // namespace threadmap::addon
