// floor.noop(), floor.number(x), floor.string(s), floor.stringUtf8(s): each
// reads what a map call would read (nothing, a number, a short string as
// UTF-16 the way the codec does, or as UTF-8 the way it used to) and returns
// undefined. Raw napi_callbacks, like the map functions.
//
// floor.lookupLoad(keys, out) and floor.lookup(key): the cheapest get any
// native table reached through Node-API can have. lookupLoad builds a
// single-threaded open-addressing table of the string keys (key i maps to i);
// lookup reads its key as UTF-16 (as the codec does), narrows it to bytes
// when it is all ASCII (keeps the units as bytes otherwise), hashes them,
// probes, and writes the value into out[0] (NaN when missing), so the caller
// reads it back without a result handle. No lock, no guard, no codec, no map
// reference: what is left is the call, the key read and one lookup.
#include "floor_wrap.hpp"

#include <cmath>
#include <cstring>
#include <iterator>
#include <string>
#include <vector>

#include "threadmap/detail/hash.hpp"

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

// Reads a short string the way `Get` converts it (UTF-16, as the codecs do,
// or UTF-8) into a 256-byte buffer.
template <typename Char, napi_status (*Get)(napi_env, napi_value, Char*, std::size_t, std::size_t*)>
napi_value read_string(napi_env env, napi_callback_info info) {
  std::size_t argc = 1, n;
  napi_value arg;
  Char buf[256 / sizeof(Char)];
  if (napi_get_cb_info(env, info, &argc, &arg, nullptr, nullptr) == napi_ok)
    Get(env, arg, buf, std::size(buf), &n);
  return nullptr;
}

// The key as the floor stores it: its bytes when every unit is ASCII, else
// its UTF-16 units as bytes (flagged, so the two never compare equal).
struct floor_key {
  char bytes[256];
  std::size_t size = 0;
  bool wide = false;
};

// False when `v` is not a string of at most 126 units (the floor's keys are
// short).
bool read_key(napi_env env, napi_value v, floor_key& k) {
  char16_t units[128];
  std::size_t n = 0;
  if (napi_get_value_string_utf16(env, v, units, std::size(units), &n) != napi_ok) return false;
  if (n + 1 >= std::size(units)) return false;
  char16_t any = 0;
  for (std::size_t i = 0; i < n; ++i) {
    any |= units[i];
    k.bytes[i] = static_cast<char>(units[i]);
  }
  k.wide = any >= 0x80;
  k.size = n;
  if (k.wide) {
    std::memcpy(k.bytes, units, 2 * n);
    k.size = 2 * n;
  }
  return true;
}

// One per environment (the functions' data pointer), freed with it. A
// compact open-addressing table: one 32-byte entry per key, the key inline
// when it has at most 15 bytes, so a lookup touches one cache line of the
// table (when it is in memory, one miss).
struct lookup_floor {
  static constexpr std::uint8_t used = 0x80, wide = 0x40, long_key = 0x3F;
  struct alignas(32) entry {
    std::uint64_t hash;
    double value;
    std::uint8_t flags;  // used | wide | length (long_key: in `long_keys`)
    char key[15];        // the bytes, or the index of the long key
  };
  static_assert(sizeof(entry) == 32);
  std::vector<entry> slots;
  std::vector<std::string> long_keys;
  std::size_t mask = 0;
  double* out = nullptr;       // out[0]: the value a lookup found
  napi_ref out_ref = nullptr;  // keeps `out`'s array alive

  static std::uint8_t flags_of(const floor_key& k) {
    return static_cast<std::uint8_t>(used | (k.wide ? wide : 0) |
                                     (k.size <= sizeof(entry::key) ? k.size : long_key));
  }
  bool matches(const entry& e, std::uint64_t h, const floor_key& k) const {
    if (e.hash != h || e.flags != flags_of(k)) return false;
    if ((e.flags & long_key) != long_key) return std::memcmp(e.key, k.bytes, k.size) == 0;
    std::uint32_t index;
    std::memcpy(&index, e.key, sizeof index);
    return long_keys[index] == std::string_view(k.bytes, k.size);
  }
  void release(napi_env env) {
    if (out_ref) napi_delete_reference(env, out_ref);
    out_ref = nullptr;
    out = nullptr;
  }
};

napi_value lookup_load(napi_env env, napi_callback_info info) {
  std::size_t argc = 2;
  napi_value args[2];
  void* data = nullptr;
  if (napi_get_cb_info(env, info, &argc, args, nullptr, &data) != napi_ok) return nullptr;
  auto& f = *static_cast<lookup_floor*>(data);
  bool is_array = false, is_typed = false;
  napi_is_array(env, args[0], &is_array);
  napi_is_typedarray(env, args[1], &is_typed);
  napi_typedarray_type type = napi_int8_array;
  std::size_t length = 0, offset = 0;
  void* out = nullptr;
  if (is_typed) napi_get_typedarray_info(env, args[1], &type, &length, &out, nullptr, &offset);
  if (argc < 2 || !is_array || !is_typed || type != napi_float64_array || length < 1) {
    napi_throw_type_error(env, nullptr,
                          "threadmap: floor.lookupLoad(keys, out) takes an array of strings and a "
                          "Float64Array");
    return nullptr;
  }
  std::uint32_t len = 0;
  napi_get_array_length(env, args[0], &len);
  std::size_t cap = 16;
  while (cap < 2 * static_cast<std::size_t>(len)) cap *= 2;  // at most half full
  std::vector<lookup_floor::entry> slots(cap, lookup_floor::entry{});
  std::vector<std::string> long_keys;
  for (std::uint32_t i = 0; i < len; ++i) {
    napi_value v;
    floor_key k;
    if (napi_get_element(env, args[0], i, &v) != napi_ok || !read_key(env, v, k)) {
      napi_throw_type_error(env, nullptr, "threadmap: floor.lookupLoad keys must be short strings");
      return nullptr;
    }
    const std::uint64_t h = hash_bytes(k.bytes, k.size);
    std::size_t j = h & (cap - 1);
    while (slots[j].flags & lookup_floor::used) j = (j + 1) & (cap - 1);
    lookup_floor::entry& e = slots[j];
    e.hash = h;
    e.value = static_cast<double>(i);
    e.flags = lookup_floor::flags_of(k);
    if (k.size <= sizeof e.key) {
      std::memcpy(e.key, k.bytes, k.size);
    } else {
      const auto index = static_cast<std::uint32_t>(long_keys.size());
      long_keys.emplace_back(k.bytes, k.size);
      std::memcpy(e.key, &index, sizeof index);
    }
  }
  f.release(env);
  f.slots = std::move(slots);
  f.long_keys = std::move(long_keys);
  f.mask = cap - 1;
  f.out = static_cast<double*>(out);
  napi_create_reference(env, args[1], 1, &f.out_ref);
  return nullptr;
}

napi_value lookup(napi_env env, napi_callback_info info) {
  std::size_t argc = 1;
  napi_value arg;
  void* data = nullptr;
  if (napi_get_cb_info(env, info, &argc, &arg, nullptr, &data) != napi_ok) return nullptr;
  auto& f = *static_cast<lookup_floor*>(data);
  floor_key k;
  if (!f.out || argc < 1 || !read_key(env, arg, k)) {
    napi_throw_type_error(env, nullptr,
                          "threadmap: floor.lookup(key) takes a short string, after lookupLoad");
    return nullptr;
  }
  const std::uint64_t h = hash_bytes(k.bytes, k.size);
  double found = NAN;
  for (std::size_t j = h & f.mask;; j = (j + 1) & f.mask) {
    const lookup_floor::entry& e = f.slots[j];
    if (!(e.flags & lookup_floor::used)) break;
    if (f.matches(e, h, k)) {
      found = e.value;
      break;
    }
  }
  f.out[0] = found;
  return nullptr;
}

}  // namespace

void export_floor(Napi::Env env, Napi::Object exports) {
  const auto attr =
      static_cast<napi_property_attributes>(napi_writable | napi_configurable | napi_enumerable);
  auto* lf = new lookup_floor;
  // Runs when the environment is torn down (main thread exit, worker end).
  check(env, napi_add_env_cleanup_hook(
                 env, [](void* p) { delete static_cast<lookup_floor*>(p); }, lf));
  const napi_property_descriptor fns[] = {
      {"noop", nullptr, noop, nullptr, nullptr, nullptr, attr, nullptr},
      {"number", nullptr, read_number, nullptr, nullptr, nullptr, attr, nullptr},
      {"string", nullptr, read_string<char16_t, napi_get_value_string_utf16>, nullptr, nullptr,
       nullptr, attr, nullptr},
      {"stringUtf8", nullptr, read_string<char, napi_get_value_string_utf8>, nullptr, nullptr,
       nullptr, attr, nullptr},
      {"lookupLoad", nullptr, lookup_load, nullptr, nullptr, nullptr, attr, lf},
      {"lookup", nullptr, lookup, nullptr, nullptr, nullptr, attr, lf},
  };
  Napi::Object floor = Napi::Object::New(env);
  check(env, napi_define_properties(env, floor, std::size(fns), fns));
  exports.Set("floor", floor);
}

}  // namespace threadmap::addon
