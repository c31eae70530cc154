// checkLinearizable(history): history is an array of recorded operations on a
// map whose values are bigints (see native/lab/index.d.ts, LincheckOperation);
// values are encoded with the map's own bigint codec (native/addon/codec.cpp,
// compiled into this addon too), so the checker compares the bytes the map
// stored. Returns { linearizable, key } (key: the first key whose history is
// not linearizable). A second argument { evictions: n } checks the history as
// a cache's, allowed n silent deletes (lincheck.hpp, "Caches"); the answer
// then has `evictions`, the fewest the linearization needed. { ttl: ms }
// checks it as a map with that ttl, whose test clock the history's `advance`
// operations (key '', delta: the ms) moved (lincheck.hpp, "Expiry"); the
// answer has `tooLong` when a key's part was over the checker's 64
// operations, which says nothing about the map.
#include "lincheck_wrap.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "codec.hpp"
#include "lincheck.hpp"

namespace threadmap::addon {
namespace {

using lincheck::op_kind;

op_kind parse_kind(Napi::Env env, const std::string& s) {
  if (s == "get") return op_kind::get;
  if (s == "put") return op_kind::put;
  if (s == "put_if_absent") return op_kind::put_if_absent;
  if (s == "compare_and_set") return op_kind::compare_and_set;
  if (s == "erase") return op_kind::erase;
  if (s == "add") return op_kind::add;
  if (s == "advance") return op_kind::advance;
  throw_type_error(env, "threadmap: checkLinearizable: unknown operation kind '" + s + "'");
}

status parse_status(Napi::Env env, const std::string& s) {
  for (status st : {status::ok, status::inserted, status::not_found, status::exists,
                    status::mismatch, status::overflow, status::too_large, status::memory_limit}) {
    if (s == threadmap::to_string(st)) return st;
  }
  throw_type_error(env, "threadmap: checkLinearizable: unknown result '" + s + "'");
}

// A bigint field, encoded as the bigint value codec stores it; undefined: none.
std::optional<std::string> bytes_field(Napi::Env env, Napi::Object o, const char* name) {
  Napi::Value v = o.Get(name);
  if (v.IsUndefined()) return std::nullopt;
  byte_buffer buf;
  encode(env, v, codec::bigint, role::value, buf);
  return std::string(buf.view());
}

std::int64_t i64_field(Napi::Env env, Napi::Object o, const char* name) {
  Napi::Value v = o.Get(name);
  if (v.IsUndefined()) return 0;
  return bigint_to_i64(env, v);
}

// A non-negative integer option; undefined: none.
std::optional<std::uint64_t> count_option(Napi::Env env, Napi::Object options, const char* name) {
  const Napi::Value n = options.Get(name);
  if (n.IsUndefined()) return std::nullopt;
  const double d = n.IsNumber() ? n.As<Napi::Number>().DoubleValue() : -1;
  if (!(d >= 0 && d <= 9007199254740991.0 &&
        d == static_cast<double>(static_cast<std::uint64_t>(d))))
    throw_range_error(env, std::string("threadmap: checkLinearizable: ") + name +
                               " must be a non-negative integer");
  return static_cast<std::uint64_t>(d);
}

Napi::Value CheckLinearizable(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsArray()) throw_type_error(env, "threadmap: checkLinearizable: expected an array");
  Napi::Array arr = info[0].As<Napi::Array>();
  std::vector<lincheck::operation> history;
  history.reserve(arr.Length());
  for (std::uint32_t i = 0; i < arr.Length(); ++i) {
    Napi::Value item = arr.Get(i);
    if (!item.IsObject())
      throw_type_error(env, "threadmap: checkLinearizable: operations are objects");
    Napi::Object o = item.As<Napi::Object>();
    lincheck::operation op;
    op.kind = parse_kind(env, o.Get("kind").ToString().Utf8Value());
    op.key = o.Get("key").ToString().Utf8Value();
    op.value = bytes_field(env, o, "value");
    op.expected = bytes_field(env, o, "expected");
    op.delta = i64_field(env, o, "delta");
    op.result = parse_status(env, o.Get("result").ToString().Utf8Value());
    op.out = bytes_field(env, o, "out");
    op.counter = i64_field(env, o, "counter");
    op.out_known = !o.Get("outUnknown").ToBoolean().Value();
    op.cas_failed = o.Get("casFailed").ToBoolean().Value();
    op.invoked = static_cast<std::uint64_t>(o.Get("invoked").ToNumber().Int64Value());
    op.responded = static_cast<std::uint64_t>(o.Get("responded").ToNumber().Int64Value());
    history.push_back(std::move(op));
  }
  std::optional<std::uint64_t> evictions, ttl;
  if (info.Length() > 1 && !info[1].IsUndefined()) {
    if (!info[1].IsObject())
      throw_type_error(env, "threadmap: checkLinearizable: options must be an object");
    const Napi::Object options = info[1].As<Napi::Object>();
    evictions = count_option(env, options, "evictions");
    ttl = count_option(env, options, "ttl");
  }
  const lincheck::verdict v = lincheck::check(history, evictions, ttl);
  Napi::Object r = Napi::Object::New(env);
  r.Set("linearizable", Napi::Boolean::New(env, v.linearizable));
  if (!v.linearizable) r.Set("key", Napi::String::New(env, v.key));
  if (v.too_long) r.Set("tooLong", Napi::Boolean::New(env, true));
  if (evictions) r.Set("evictions", Napi::Number::New(env, static_cast<double>(v.evictions)));
  return r;
}

}  // namespace

void export_lincheck(Napi::Env env, Napi::Object exports) {
  exports.Set("checkLinearizable",
              Napi::Function::New<CheckLinearizable>(env, "checkLinearizable"));
}

}  // namespace threadmap::addon
