// codec.hpp — JavaScript "wire" values <-> the byte strings the core stores.
//
// Every encoding is a bijection between the JS values a type admits and its
// byte strings, so equal keys (under Map's SameValueZero) have equal bytes and
// different keys never collide:
//   string      UTF-8; a string holding a lone surrogate (which UTF-8 cannot
//               express) is stored as WTF-8 and decoded back exactly.
//   number      8-byte little-endian IEEE double, every NaN the one canonical
//               NaN. As a key -0 becomes 0 (SameValueZero); values keep -0.
//   bigint      8-byte little-endian int64 when it fits; otherwise a sign byte
//               (0 or 1) then the magnitude as little-endian 64-bit words with
//               no zero high word, so 9, 17, 25 ... bytes.
//   boolean     1 byte, 0 or 1.
//   bytes       the bytes of a Uint8Array (Buffer included).
//   json        the JSON text (the TypeScript layer stringifies and parses).
//   structured  v8.serialize output (the TypeScript layer serializes).
//   any         one tag byte (any_tag below), then the payload of the
//               primitive type; objects arrive already v8-serialized as a
//               Uint8Array and get the `structured` tag. Keys admit primitives
//               only.
// Counters (`add`) rely on number being 8 bytes of double and a bigint in
// int64 range being 8 bytes of int64, behind the tag byte for `any`.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "common.hpp"

namespace threadmap::addon {

enum class key_codec : std::uint8_t { string, number, bigint, bytes, any };
enum class value_codec : std::uint8_t {
  string,
  number,
  bigint,
  boolean,
  bytes,
  json,
  structured,
  any
};

namespace any_tag {
inline constexpr std::uint8_t undefined = 0;
inline constexpr std::uint8_t null = 1;
inline constexpr std::uint8_t false_ = 2;
inline constexpr std::uint8_t true_ = 3;
inline constexpr std::uint8_t number = 4;
inline constexpr std::uint8_t string = 5;
inline constexpr std::uint8_t bigint = 6;
inline constexpr std::uint8_t structured = 7;
}  // namespace any_tag

std::optional<key_codec> parse_key_codec(std::string_view name) noexcept;
std::optional<value_codec> parse_value_codec(std::string_view name) noexcept;
const char* to_string(key_codec c) noexcept;
const char* to_string(value_codec c) noexcept;
// The names in the order of the enums, for error messages ("'a', 'b' or 'c'").
const char* key_codec_choices() noexcept;
const char* value_codec_choices() noexcept;

// Encode into `out` (cleared first). A value of the wrong type is a TypeError,
// and so is a Uint8Array whose ArrayBuffer is detached (it is not the empty
// key or value); one past the core's size limits is a RangeError; `out` is
// then unspecified.
void encode_key(napi_env env, napi_value v, key_codec c, byte_buffer& out);
void encode_value(napi_env env, napi_value v, value_codec c, byte_buffer& out);

// Batches: append one element's encoding to `out`. `index` names the element
// in error messages ("key at index 7 must be ...").
void append_key(napi_env env, napi_value v, key_codec c, byte_buffer& out, std::size_t index);
void append_value(napi_env env, napi_value v, value_codec c, byte_buffer& out, std::size_t index);

// The elements of a Float64Array, BigInt64Array or BigUint64Array, read in
// place: a batch of number or bigint keys (or values) in one Node-API call.
struct typed_elements {
  enum kind_t : std::uint8_t { f64, i64, u64 } kind;
  const void* data;
  std::size_t length;
};
// False when v is not one of those three typed arrays; a TypeError when its
// ArrayBuffer is detached (it would read as an empty batch).
bool typed_elements_of(napi_env env, napi_value v, typed_elements& out);
// TypeError unless a map with these key (value) types takes such elements.
void check_typed_keys(napi_env env, const typed_elements& t, key_codec c);
void check_typed_values(napi_env env, const typed_elements& t, value_codec c);
// Appends element i, encoded exactly as the same number or bigint passed
// one by one would be. The caller has checked the codec.
void append_typed_key(const typed_elements& t, std::size_t i, key_codec c, byte_buffer& out);
void append_typed_value(const typed_elements& t, std::size_t i, value_codec c, byte_buffer& out);

// Numbers without a napi_value (the io buffer's): a number key under codec
// `c` (number or any), a number value (every NaN the canonical one; -0 kept
// when !same_value_zero), and a stored number value read back (an Error if
// the bytes are not one).
void append_number_key(double d, key_codec c, byte_buffer& out);
void append_double(double d, bool same_value_zero, byte_buffer& out);
double read_number(napi_env env, std::string_view bytes);

napi_value decode_key(napi_env env, key_codec c, std::string_view bytes);
napi_value decode_value(napi_env env, value_codec c, std::string_view bytes);

// Reading a JS bigint as int64 for counter deltas; RangeError outside int64.
std::int64_t bigint_to_i64(napi_env env, napi_value v);

}  // namespace threadmap::addon
