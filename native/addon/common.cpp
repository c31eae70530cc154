// common.cpp — scratch buffers and the mapping from core status to JS errors.
#include "common.hpp"

#include <string>

namespace threadmap::addon {

void throw_type_error(napi_env env, const std::string& msg) {
  throw Napi::TypeError::New(env, msg);
}
void throw_range_error(napi_env env, const std::string& msg) {
  throw Napi::RangeError::New(env, msg);
}
void throw_error(napi_env env, const std::string& msg) {
  throw Napi::Error::New(env, msg);
}

void throw_status(napi_env env, status s, const char* what) {
  std::string op = std::string("threadmap: ") + what + ": ";
  switch (s) {
    case status::too_large:
      throw_range_error(env, op + "key or value exceeds the size limit (keys " +
                                 std::to_string(max_key_bytes) + " bytes, values " +
                                 std::to_string(max_value_bytes) + " bytes); nothing changed");
    case status::memory_limit:
      throw_range_error(env, op + "the map's maxMemory would be exceeded; nothing changed");
    case status::overflow:
      throw_range_error(env, op + "the 64-bit integer counter would overflow; nothing changed");
    case status::mismatch:
      throw_type_error(env, op + "the stored value is not a counter of that type");
    default:
      throw_error(env, op + "unexpected status '" + to_string(s) + "'");
  }
}

}  // namespace threadmap::addon
