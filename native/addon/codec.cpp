// codec.cpp — see codec.hpp for the encodings and why each is a bijection.
#include "codec.hpp"

#include "threadmap/wire.hpp"

#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

namespace threadmap::addon {
namespace {

// One row per codec, in the enum's order: its name, what a JS value must be
// to encode under it (for the TypeError; `any` words its own), whether keys
// may have it, and how the `ordered` strategy compares its key bytes so that
// they sort as the values (threadmap/map.hpp, key_order: UTF-8 and WTF-8
// bytes sort by code point, the number and bigint forms need their own).
struct codec_row {
  std::string_view name;
  const char* wanted;
  bool key;
  key_order order;
};
constexpr codec_row kCodecs[] = {
    {"string", "a string", true, key_order::bytes},
    {"number", "a number", true, key_order::number},
    {"bigint", "a bigint", true, key_order::bigint},
    {"boolean", "a boolean", false, key_order::bytes},
    {"bytes", "a Uint8Array or Buffer", true, key_order::bytes},
    {"json", "JSON text", false, key_order::bytes},
    {"structured", "v8-serialized bytes", false, key_order::bytes},
    {"any", nullptr, true, key_order::any},
};
static_assert(std::size(kCodecs) == static_cast<std::size_t>(codec::any) + 1);

const codec_row& row(codec c) noexcept {
  return kCodecs[static_cast<std::size_t>(c)];
}

const char* type_name(napi_env env, napi_value v) {
  napi_valuetype t = napi_undefined;
  if (napi_typeof(env, v, &t) != napi_ok) return "unknown";
  switch (t) {
    case napi_undefined:
      return "undefined";
    case napi_null:
      return "null";
    case napi_boolean:
      return "boolean";
    case napi_number:
      return "number";
    case napi_string:
      return "string";
    case napi_symbol:
      return "symbol";
    case napi_object: {
      bool is_ta = false;
      napi_is_typedarray(env, v, &is_ta);
      return is_ta ? "a typed array other than Uint8Array" : "object";
    }
    case napi_function:
      return "function";
    case napi_external:
      return "external";
    case napi_bigint:
      return "bigint";
  }
  return "unknown";
}

constexpr std::size_t no_index = ~std::size_t{0};

// The element being encoded: a key or a value, and its index in a batch.
struct item {
  role r;
  std::size_t index;
  const char* label = nullptr;  // names it instead of "key" (a range bound)
  bool key() const noexcept { return r == role::key; }
  std::size_t limit() const noexcept { return key() ? max_key_bytes : max_value_bytes; }
  // "key", "value", or in a batch "key at index 7".
  std::string name() const {
    std::string s = label ? label : key() ? "key" : "value";
    if (index != no_index) s += " at index " + std::to_string(index);
    return s;
  }
};

[[noreturn]] void wrong_type(napi_env env, napi_value v, const item& it, const char* want,
                             const char* codec_name) {
  std::string msg = "threadmap: " + it.name();
  msg += " must be ";
  msg += want;
  msg += it.key() ? " (this map's keys are '" : " (this map's values are '";
  msg += codec_name;
  msg += "'), got ";
  msg += type_name(env, v);
  throw_type_error(env, msg);
}

[[noreturn]] void throw_too_large(napi_env env, std::size_t size, const item& it) {
  throw_range_error(env, "threadmap: " + it.name() + " is " + std::to_string(size) +
                             " bytes once encoded; the limit is " + std::to_string(it.limit()));
}

// Inline: every encoding ends with it.
inline void check_size(napi_env env, std::size_t size, const item& it) {
  if (size > it.limit()) [[unlikely]]
    throw_too_large(env, size, it);
}

// --- strings -----------------------------------------------------------------

// Short strings (keys, mostly) are read as UTF-16 and encoded here: V8
// copies a one-byte string into UTF-16 much faster than it converts it to
// UTF-8 (bench/js/boundary.mjs, floor rows), and the encoding is exact at once: a
// lone surrogate becomes its own WTF-8 sequence (threadmap/wire.hpp), so
// "\uD800" and "\uFFFD" stay different keys.
constexpr std::size_t stack_units = 128;

void append_utf16(byte_buffer& out, const char16_t* u, std::size_t n) {
  // At most 3 bytes per unit (a surrogate pair is 4 bytes for 2 units).
  char* p = out.reserve_more(3 * n);
  std::size_t i = 0;
  for (; i < n && u[i] < 0x80; ++i) p[i] = static_cast<char>(u[i]);
  out.commit(i);
  if (i < n) wire::append_wtf8(out, u + i, n - i);
}

// Node-API's UTF-8 conversion turns a lone surrogate into U+FFFD. Only when
// U+FFFD shows up in a long string is its UTF-16 read, and if it holds a lone
// surrogate the string is re-encoded as WTF-8. Returns false when it had none
// (the UTF-8 already written is exact).
bool rewrite_as_wtf8(napi_env env, napi_value v, byte_buffer& out, std::size_t start) {
  std::size_t len = 0;
  check(env, napi_get_value_string_utf16(env, v, nullptr, 0, &len));
  std::vector<char16_t> u(len + 1);
  check(env, napi_get_value_string_utf16(env, v, u.data(), u.size(), &len));
  if (!wire::has_lone_surrogate(u.data(), len)) return false;
  out.resize(start);
  wire::append_wtf8(out, u.data(), len);
  return true;
}

// Appends the string's bytes. Returns false when v is not a string. Long
// strings (values, mostly) take Node-API's UTF-8 conversion straight into
// `out`, sized exactly: no UTF-16 copy of a large string. Their UTF-8 length
// is their WTF-8 length (a lone surrogate is 3 bytes either way), so one
// past `limit` is refused before anything is copied.
bool append_string(napi_env env, napi_value v, byte_buffer& out, const item& it) {
  char16_t stack[stack_units];
  std::size_t n = 0;
  napi_status st = napi_get_value_string_utf16(env, v, stack, stack_units, &n);
  if (st == napi_string_expected) return false;
  check(env, st);
  if (n + 1 < stack_units) {
    append_utf16(out, stack, n);
    return true;
  }
  const std::size_t start = out.size();
  std::size_t len = 0;
  check(env, napi_get_value_string_utf8(env, v, nullptr, 0, &len));
  check_size(env, len, it);
  char* p = out.reserve_more(len + 1);
  std::size_t copied = 0;
  check(env, napi_get_value_string_utf8(env, v, p, len + 1, &copied));
  const std::string_view written(p, copied);
  if (written.find("\xEF\xBF\xBD") != std::string_view::npos && rewrite_as_wtf8(env, v, out, start))
    return true;
  out.commit(copied);
  return true;
}

// True when every byte is below 0x80: then the UTF-8 bytes are also the
// Latin-1 ones, and V8 copies them into a one-byte string without decoding.
bool all_ascii(std::string_view b) noexcept {
  std::size_t i = 0;
  for (; i + 8 <= b.size(); i += 8) {
    std::uint64_t w;
    std::memcpy(&w, b.data() + i, 8);
    if (w & 0x8080808080808080ull) return false;
  }
  for (; i < b.size(); ++i)
    if (static_cast<unsigned char>(b[i]) & 0x80) return false;
  return true;
}

napi_value make_string(napi_env env, std::string_view b) {
  napi_value r;
  if (all_ascii(b)) {
    check(env, napi_create_string_latin1(env, b.data(), b.size(), &r));
    return r;
  }
  // V8's UTF-8 reader would replace encoded surrogates, so only WTF-8 takes
  // the UTF-16 route.
  if (!wire::has_encoded_surrogate(b)) {
    check(env, napi_create_string_utf8(env, b.data(), b.size(), &r));
    return r;
  }
  const std::u16string u = wire::wtf8_to_utf16(b);
  check(env, napi_create_string_utf16(env, u.data(), u.size(), &r));
  return r;
}

// --- numbers, bigints, booleans, bytes ------------------------------------------

// --- numbers, bigints, booleans, bytes ------------------------------------------

// -0 becomes 0 for keys only (Map's SameValueZero); values keep -0.
void append_double(double d, bool same_value_zero, byte_buffer& out) {
  if (same_value_zero && d == 0) d = 0.0;
  // One NaN: JS cannot tell NaN payloads apart, so neither may keys nor
  // compareAndSet on values.
  if (std::isnan(d)) d = std::numeric_limits<double>::quiet_NaN();
  wire::append_le64(out, std::bit_cast<std::uint64_t>(d));
}

bool append_number_of(napi_env env, napi_value v, const item& it, byte_buffer& out) {
  double d;
  napi_status st = napi_get_value_double(env, v, &d);
  if (st == napi_number_expected) return false;
  check(env, st);
  append_double(d, it.key(), out);
  return true;
}

bool append_bigint(napi_env env, napi_value v, byte_buffer& out) {
  std::int64_t i;
  bool lossless = false;
  napi_status st = napi_get_value_bigint_int64(env, v, &i, &lossless);
  if (st == napi_bigint_expected) return false;
  check(env, st);
  if (lossless) {
    wire::append_le64(out, static_cast<std::uint64_t>(i));
    return true;
  }
  std::size_t count = 0;
  int sign = 0;
  // Both out-pointers null: Node-API only reports the word count.
  check(env, napi_get_value_bigint_words(env, v, nullptr, &count, nullptr));
  std::vector<std::uint64_t> words(count);
  check(env, napi_get_value_bigint_words(env, v, &sign, &count, words.data()));
  wire::append_bigint_words(out, sign != 0, words.data(), count);
  return true;
}

bool append_boolean(napi_env env, napi_value v, byte_buffer& out) {
  bool b;
  napi_status st = napi_get_value_bool(env, v, &b);
  if (st == napi_boolean_expected) return false;
  check(env, st);
  out.push(b ? 1 : 0);
  return true;
}

// A typed array's elements in place, and whether its ArrayBuffer is detached
// (transferred to another thread, or by transfer()): a detached view reads as
// length 0, exactly like an empty one. Every typed array that enters the addon
// is read through typed_view_of, and only a zero-length one is asked whether
// its buffer is gone, so a view with bytes pays nothing for the check.
struct typed_view {
  napi_typedarray_type type;
  const void* data;
  std::size_t length;
  bool detached;
};

bool typed_view_of(napi_env env, napi_value v, typed_view& out) {
  // napi_get_typedarray_info answers napi_invalid_arg for anything but a
  // typed array (its other arguments are valid here), so it is the test
  // too: one call where napi_is_typedarray first made two.
  void* data = nullptr;
  const napi_status st =
      napi_get_typedarray_info(env, v, &out.type, &out.length, &data, nullptr, nullptr);
  if (st == napi_invalid_arg) return false;
  check(env, st);
  out.data = data;
  if (data == nullptr) out.length = 0;
  out.detached = false;
  if (out.length == 0) {
    napi_value buffer;
    check(env, napi_get_typedarray_info(env, v, nullptr, nullptr, nullptr, &buffer, nullptr));
    check(env, napi_is_detached_arraybuffer(env, buffer, &out.detached));
  }
  return true;
}

// The Uint8Array's bytes, or false when v is not a Uint8Array; a detached one
// is a TypeError, never the empty key or value.
bool uint8_view(napi_env env, napi_value v, std::string_view& bytes, const item& it) {
  typed_view t;
  if (!typed_view_of(env, v, t) || t.type != napi_uint8_array) return false;
  if (t.detached)
    throw_type_error(env, "threadmap: " + it.name() +
                              " is a Uint8Array whose ArrayBuffer is detached (transferred); "
                              "nothing changed");
  bytes = std::string_view(static_cast<const char*>(t.data), t.length);
  return true;
}

// A Uint8Array's bytes, refused before they are copied when too long (a
// 256 MiB copy only to throw it away is a waste).
bool append_uint8(napi_env env, napi_value v, const item& it, byte_buffer& out) {
  std::string_view bytes;
  if (!uint8_view(env, v, bytes, it)) return false;
  check_size(env, bytes.size(), it);
  out.append(bytes.data(), bytes.size());
  return true;
}

napi_value make_number(napi_env env, std::string_view b) {
  napi_value r;
  check(env, napi_create_double(env, read_number(env, b), &r));
  return r;
}

napi_value make_bigint(napi_env env, std::string_view b) {
  napi_value r;
  wire::bigint_value v;
  if (!wire::parse_bigint(b, v))
    throw_error(env, "threadmap: stored bytes are not a bigint (corrupt entry)");
  if (v.is_small) {
    check(env, napi_create_bigint_int64(env, v.small, &r));
  } else {
    check(env,
          napi_create_bigint_words(env, v.negative ? 1 : 0, v.words.size(), v.words.data(), &r));
  }
  return r;
}

napi_value make_bytes(napi_env env, std::string_view b) {
  void* data = nullptr;
  napi_value ab, r;
  check(env, napi_create_arraybuffer(env, b.size(), &data, &ab));
  if (!b.empty()) std::memcpy(data, b.data(), b.size());
  check(env, napi_create_typedarray(env, napi_uint8_array, b.size(), ab, 0, &r));
  return r;
}

napi_value make_bool(napi_env env, bool x) {
  napi_value r;
  check(env, napi_get_boolean(env, x, &r));
  return r;
}

// --- any -------------------------------------------------------------------------

void encode_any(napi_env env, napi_value v, const item& it, byte_buffer& out) {
  napi_valuetype t;
  check(env, napi_typeof(env, v, &t));
  switch (t) {
    case napi_undefined:
      out.push(any_tag::undefined);
      return;
    case napi_null:
      out.push(any_tag::null);
      return;
    case napi_boolean: {
      bool b;
      check(env, napi_get_value_bool(env, v, &b));
      out.push(b ? any_tag::true_ : any_tag::false_);
      return;
    }
    case napi_number:
      out.push(any_tag::number);
      append_number_of(env, v, it, out);
      return;
    case napi_string:
      out.push(any_tag::string);
      append_string(env, v, out, it);
      return;
    case napi_bigint:
      out.push(any_tag::bigint);
      append_bigint(env, v, out);
      return;
    case napi_object: {
      std::string_view bytes;
      if (!it.key() && uint8_view(env, v, bytes, it)) {
        out.push(any_tag::structured);
        out.append(bytes.data(), bytes.size());
        return;
      }
      break;
    }
    default:
      break;
  }
  wrong_type(env, v, it,
             it.key() ? "a primitive (string, number, bigint, boolean, null or undefined)"
                      : "a primitive or v8-serialized bytes",
             "any");
}

// The codec of an `any` entry's payload, by its tag; nullopt for the tags
// that are the whole value (undefined, null, false, true) and unknown ones.
std::optional<codec> payload_codec(std::uint8_t tag) noexcept {
  switch (tag) {
    case any_tag::number:
      return codec::number;
    case any_tag::string:
      return codec::string;
    case any_tag::bigint:
      return codec::bigint;
    case any_tag::structured:
      return codec::structured;
    default:
      return std::nullopt;
  }
}

const char* typed_name(const typed_elements& t) {
  return t.kind == typed_elements::f64   ? "a Float64Array"
         : t.kind == typed_elements::i64 ? "a BigInt64Array"
                                         : "a BigUint64Array";
}

}  // namespace

// --- the codecs ------------------------------------------------------------------

std::optional<codec> parse_codec(std::string_view name, role r) noexcept {
  for (std::size_t i = 0; i < std::size(kCodecs); ++i)
    if (kCodecs[i].name == name && (r == role::value || kCodecs[i].key))
      return static_cast<codec>(i);
  return std::nullopt;
}

const char* to_string(codec c) noexcept {
  return row(c).name.data();
}

const std::vector<codec>& codecs(role r) {
  static const auto admitted = [](role which) {
    std::vector<codec> v;
    for (std::size_t i = 0; i < std::size(kCodecs); ++i)
      if (which == role::value || kCodecs[i].key) v.push_back(static_cast<codec>(i));
    return v;
  };
  static const std::vector<codec> keys = admitted(role::key), values = admitted(role::value);
  return r == role::key ? keys : values;
}

namespace {

// One body for keys and values; the role is a template argument so that
// what it decides (the size limit, -0) is a constant on the hot path.
template <role R>
void append_as(napi_env env, napi_value v, codec c, byte_buffer& out, std::size_t index,
               const char* label = nullptr) {
  const item it{R, index, label};
  const std::size_t start = out.size();
  bool ok = true;
  switch (c) {
    case codec::string:
    case codec::json:
      ok = append_string(env, v, out, it);
      break;
    case codec::number:
      ok = append_number_of(env, v, it, out);
      break;
    case codec::bigint:
      ok = append_bigint(env, v, out);
      break;
    case codec::boolean:
      ok = append_boolean(env, v, out);
      break;
    case codec::bytes:
    case codec::structured:
      ok = append_uint8(env, v, it, out);
      break;
    case codec::any:
      encode_any(env, v, it, out);
      break;
  }
  if (!ok) wrong_type(env, v, it, row(c).wanted, to_string(c));
  check_size(env, out.size() - start, it);
}

}  // namespace

void append(napi_env env, napi_value v, codec c, role r, byte_buffer& out, std::size_t index) {
  if (r == role::key)
    append_as<role::key>(env, v, c, out, index);
  else
    append_as<role::value>(env, v, c, out, index);
}

void encode(napi_env env, napi_value v, codec c, role r, byte_buffer& out) {
  out.clear();
  append(env, v, c, r, out, no_index);
}

void encode_object_bytes(napi_env env, std::string_view bytes, codec c, byte_buffer& out) {
  const item it{role::value, no_index};
  out.clear();
  if (c == codec::any)
    out.push(any_tag::structured);
  else if (c != codec::structured)
    throw_type_error(env, std::string("threadmap: encoded objects are stored in maps whose values "
                                      "are 'any' or 'structured'; this map's values are '") +
                              to_string(c) + "'");
  check_size(env, out.size() + bytes.size(), it);
  out.append(bytes.data(), bytes.size());
}

void encode_key(napi_env env, napi_value v, codec c, byte_buffer& out, const char* label) {
  out.clear();
  append_as<role::key>(env, v, c, out, no_index, label);
}

key_order order_of(codec c) noexcept {
  return row(c).order;
}

napi_value decode(napi_env env, codec c, std::string_view b) {
  switch (c) {
    case codec::string:
    case codec::json:
      return make_string(env, b);
    case codec::number:
      return make_number(env, b);
    case codec::bigint:
      return make_bigint(env, b);
    case codec::boolean:
      if (b.size() != 1) throw_error(env, "threadmap: stored bytes are not a boolean (corrupt)");
      return make_bool(env, b[0] != 0);
    case codec::bytes:
    case codec::structured:
      return make_bytes(env, b);
    case codec::any:
      break;
  }
  if (b.empty()) throw_error(env, "threadmap: empty 'any' entry (corrupt)");
  const auto tag = static_cast<std::uint8_t>(b[0]);
  if (const auto payload = payload_codec(tag)) return decode(env, *payload, b.substr(1));
  napi_value r;
  switch (tag) {
    case any_tag::undefined:
      check(env, napi_get_undefined(env, &r));
      return r;
    case any_tag::null:
      check(env, napi_get_null(env, &r));
      return r;
    case any_tag::false_:
    case any_tag::true_:
      return make_bool(env, tag == any_tag::true_);
    default:
      throw_error(env, "threadmap: unknown 'any' tag (corrupt entry)");
  }
}

// --- numbers without a napi_value ------------------------------------------------

void append_number(double d, codec c, role r, byte_buffer& out) {
  if (c == codec::any) out.push(any_tag::number);
  if (r == role::key)
    append_double(d, true, out);
  else
    append_double(d, false, out);
}

double read_number(napi_env env, std::string_view b) {
  if (b.size() != 8) throw_error(env, "threadmap: stored bytes are not a number (corrupt entry)");
  return std::bit_cast<double>(wire::read_le64(b.data()));
}

// --- typed arrays ------------------------------------------------------------------

bool typed_elements_of(napi_env env, napi_value v, typed_elements& out) {
  typed_view t;
  if (!typed_view_of(env, v, t)) return false;
  switch (t.type) {
    case napi_float64_array:
      out.kind = typed_elements::f64;
      break;
    case napi_bigint64_array:
      out.kind = typed_elements::i64;
      break;
    case napi_biguint64_array:
      out.kind = typed_elements::u64;
      break;
    default:
      return false;
  }
  // User code (a value's toJSON, a getter v8.serialize reads) runs after the
  // TypeScript layer looked at the batch and before native code reads it.
  if (t.detached)
    throw_type_error(env, std::string("threadmap: the batch is ") + typed_name(out) +
                              " whose ArrayBuffer is detached (transferred); nothing changed");
  out.data = t.data;
  out.length = t.length;
  return true;
}

void check_typed(napi_env env, const typed_elements& t, codec c, role r) {
  const bool number = t.kind == typed_elements::f64;
  const bool ok =
      number ? (c == codec::number || c == codec::any) : (c == codec::bigint || c == codec::any);
  if (!ok)
    throw_type_error(env, std::string("threadmap: ") + typed_name(t) + " holds " +
                              (number ? "numbers" : "bigints") + "; this map's " +
                              (r == role::key ? "keys" : "values") + " are '" + to_string(c) + "'");
}

// Element i as the number or bigint codec writes it, behind the `any` tag
// when the map's type is `any`.
void append_typed(const typed_elements& t, std::size_t i, codec c, role r, byte_buffer& out) {
  const char* at = static_cast<const char*>(t.data) + 8 * i;
  switch (t.kind) {
    case typed_elements::f64: {
      double d;
      std::memcpy(&d, at, 8);
      append_number(d, c, r, out);
      return;
    }
    case typed_elements::i64:
    case typed_elements::u64: {
      if (c == codec::any) out.push(any_tag::bigint);
      std::uint64_t w;
      std::memcpy(&w, at, 8);
      // An unsigned element past INT64_MAX takes the long form, as the same
      // bigint read through Node-API does.
      if (t.kind == typed_elements::u64 && w > std::uint64_t{INT64_MAX})
        wire::append_bigint_words(out, false, &w, 1);
      else
        wire::append_le64(out, w);
      return;
    }
  }
}

// --- counters ----------------------------------------------------------------------

counter_delta read_delta(napi_env env, napi_value delta, codec values) {
  // The prefix of a counter under `any`: its tag byte.
  static const char number_tag = static_cast<char>(any_tag::number);
  static const char bigint_tag = static_cast<char>(any_tag::bigint);
  napi_valuetype t;
  check(env, napi_typeof(env, delta, &t));
  const bool any = values == codec::any;
  counter_delta d{};
  if (values == codec::number || (any && t == napi_number)) {
    if (t != napi_number)
      throw_type_error(env,
                       "threadmap: add: the delta must be a number (this map's values are "
                       "'number')");
    d.kind = counter_kind::f64;
    check(env, napi_get_value_double(env, delta, &d.value.f));
    if (any) d.prefix = bytes(&number_tag, 1);
  } else if (values == codec::bigint || (any && t == napi_bigint)) {
    if (t != napi_bigint)
      throw_type_error(env,
                       "threadmap: add: the delta must be a bigint (this map's values are "
                       "'bigint')");
    d.kind = counter_kind::i64;
    d.value.i = bigint_to_i64(env, delta);
    if (any) d.prefix = bytes(&bigint_tag, 1);
  } else if (any) {
    throw_type_error(env, "threadmap: add: the delta must be a number or a bigint");
  } else {
    throw_type_error(env, std::string("threadmap: add needs values 'number', 'bigint' or 'any'; "
                                      "this map's values are '") +
                              to_string(values) + "'");
  }
  return d;
}

std::int64_t bigint_to_i64(napi_env env, napi_value v) {
  std::int64_t i;
  bool lossless = false;
  check(env, napi_get_value_bigint_int64(env, v, &i, &lossless));
  if (!lossless)
    throw_range_error(env, "threadmap: a bigint delta must fit in a signed 64-bit integer");
  return i;
}

napi_value make_counter(napi_env env, counter_kind kind, counter value) {
  napi_value r;
  if (kind == counter_kind::f64)
    check(env, napi_create_double(env, value.f, &r));
  else
    check(env, napi_create_bigint_int64(env, value.i, &r));
  return r;
}

}  // namespace threadmap::addon
