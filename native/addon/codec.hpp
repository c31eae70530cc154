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
// int64 range being 8 bytes of int64, behind the tag byte for `any`
// (read_delta below).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common.hpp"

namespace threadmap::addon {

// One enum for keys and values: a key type encodes exactly as the value type
// of the same name does, except where the role says otherwise (a number key
// makes -0 into 0; an `any` key admits primitives only; the size limits).
// Keys admit string, number, bigint, bytes and any.
enum class codec : std::uint8_t { string, number, bigint, boolean, bytes, json, structured, any };
enum class role : std::uint8_t { key, value };

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

// The codec named `name` if the role admits it.
std::optional<codec> parse_codec(std::string_view name, role r) noexcept;
const char* to_string(codec c) noexcept;
// Every codec the role admits, in the enum's order.
const std::vector<codec>& codecs(role r);

// Encode into `out` (cleared first). A value of the wrong type is a TypeError,
// and so is a Uint8Array whose ArrayBuffer is detached (it is not the empty
// key or value); one past the core's size limits is a RangeError; `out` is
// then unspecified.
void encode(napi_env env, napi_value v, codec c, role r, byte_buffer& out);
// Bytes the TypeScript layer encoded an object to (lib/records.ts), into
// `out` (cleared first) as encode() puts a Uint8Array of them: under
// 'structured' as they are, under 'any' behind its tag; a TypeError on a map
// of any other value type, a RangeError past the size limit.
void encode_object_bytes(napi_env env, std::string_view bytes, codec c, byte_buffer& out);
// Batches: append one element's encoding to `out`. `index` names the element
// in error messages ("key at index 7 must be ...").
void append(napi_env env, napi_value v, codec c, role r, byte_buffer& out, std::size_t index);
napi_value decode(napi_env env, codec c, std::string_view bytes);
// A key that names no entry (a range bound): encoded as keys are, its errors
// calling it `label` ("range bound 'gte'") instead of "key".
void encode_key(napi_env env, napi_value v, codec c, byte_buffer& out, const char* label);
// How the `ordered` strategy sorts keys of codec `c` (the codec table's column).
key_order order_of(codec c) noexcept;

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
// TypeError unless a map whose keys (values) are `c` takes such elements.
void check_typed(napi_env env, const typed_elements& t, codec c, role r);
// Appends element i, encoded exactly as the same number or bigint passed
// one by one would be. The caller has checked the codec.
void append_typed(const typed_elements& t, std::size_t i, codec c, role r, byte_buffer& out);

// Numbers without a napi_value (the io buffer's): a number under codec `c`
// (number, or any behind its tag), and a stored number value read back (an
// Error if the bytes are not one).
void append_number(double d, codec c, role r, byte_buffer& out);
double read_number(napi_env env, std::string_view bytes);

// Counters (`add`): the delta's type picks the counter, stored as the value
// codec stores that type (prefix: the `any` tag byte, or nothing). A delta
// the map's values cannot hold is a TypeError, a bigint outside int64 a
// RangeError.
struct counter_delta {
  counter_kind kind;
  counter value;
  bytes prefix;
};
counter_delta read_delta(napi_env env, napi_value delta, codec values);
// A JS bigint as int64; a RangeError outside it.
std::int64_t bigint_to_i64(napi_env env, napi_value v);
napi_value make_counter(napi_env env, counter_kind kind, counter value);

// add found the stored value is no counter of `kind`: is it a bigint outside
// int64 (a RangeError, as an overflow is) rather than a value of another type
// (a TypeError)? Under `bigint` values it always is; under `any` the entry's
// bytes tell, read again by `read(buffer)` (false: the entry is gone).
template <class Read>
bool stored_bigint_is_long(codec values, counter_kind kind, std::string& buffer, Read&& read) {
  if (kind != counter_kind::i64) return false;
  if (values == codec::bigint) return true;
  return values == codec::any && read(buffer) && buffer.size() > 9 &&
         static_cast<std::uint8_t>(buffer[0]) == any_tag::bigint;
}

}  // namespace threadmap::addon
