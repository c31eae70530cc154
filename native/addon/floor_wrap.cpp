// floor.noop(), floor.number(x), floor.string(s), floor.stringUtf8(s): each
// reads what a map call would read (nothing, a number, a short string as
// UTF-16 the way the codec does, or as UTF-8 the way it used to) and returns
// undefined. Raw napi_callbacks, like the map functions.
#include "floor_wrap.hpp"

#include <iterator>

namespace threadmap::addon {
namespace {

napi_value noop(napi_env, napi_callback_info) {
  return nullptr;
}

napi_value read_number(napi_env env, napi_callback_info info) {
  std::size_t argc = 1;
  napi_value arg;
  double d;
  if (napi_get_cb_info(env, info, &argc, &arg, nullptr, nullptr) == napi_ok)
    napi_get_value_double(env, arg, &d);
  return nullptr;
}

napi_value read_string(napi_env env, napi_callback_info info) {
  std::size_t argc = 1, n;
  napi_value arg;
  char16_t buf[128];
  if (napi_get_cb_info(env, info, &argc, &arg, nullptr, nullptr) == napi_ok)
    napi_get_value_string_utf16(env, arg, buf, std::size(buf), &n);
  return nullptr;
}

napi_value read_string_utf8(napi_env env, napi_callback_info info) {
  std::size_t argc = 1, n;
  napi_value arg;
  char buf[256];
  if (napi_get_cb_info(env, info, &argc, &arg, nullptr, nullptr) == napi_ok)
    napi_get_value_string_utf8(env, arg, buf, std::size(buf), &n);
  return nullptr;
}

}  // namespace

void export_floor(Napi::Env env, Napi::Object exports) {
  const auto attr =
      static_cast<napi_property_attributes>(napi_writable | napi_configurable | napi_enumerable);
  const napi_property_descriptor fns[] = {
      {"noop", nullptr, noop, nullptr, nullptr, nullptr, attr, nullptr},
      {"number", nullptr, read_number, nullptr, nullptr, nullptr, attr, nullptr},
      {"string", nullptr, read_string, nullptr, nullptr, nullptr, attr, nullptr},
      {"stringUtf8", nullptr, read_string_utf8, nullptr, nullptr, nullptr, attr, nullptr},
  };
  Napi::Object floor = Napi::Object::New(env);
  check(env, napi_define_properties(env, floor, std::size(fns), fns));
  exports.Set("floor", floor);
}

}  // namespace threadmap::addon
