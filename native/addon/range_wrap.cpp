// range_wrap.cpp — see range_wrap.hpp.
#include "range_wrap.hpp"

#include <algorithm>
#include <cmath>
#include <string_view>

namespace threadmap::addon {

namespace {

constexpr std::string_view option_names[] = {"gte", "gt", "lte", "lt", "reverse", "limit"};

// Encodes the bound named `name` if it is set. At most one of each pair may be.
bool read_bound(Napi::Env env, const Napi::Object& o, const char* inclusive_name,
                const char* exclusive_name, codec keys, std::string& out, bool& inclusive) {
  const Napi::Value in = o.Get(inclusive_name), ex = o.Get(exclusive_name);
  if (!in.IsUndefined() && !ex.IsUndefined())
    throw_type_error(env, std::string("threadmap: range options ") + exclusive_name + " and " +
                              inclusive_name + " cannot be used together");
  if (in.IsUndefined() && ex.IsUndefined()) return false;
  inclusive = !in.IsUndefined();
  const char* name = inclusive ? inclusive_name : exclusive_name;
  const std::string label = std::string("range bound ") + name;
  byte_buffer buf;
  encode_key(env, inclusive ? in : ex, keys, buf, label.c_str());
  out.assign(buf.view());
  return true;
}

}  // namespace

void parse_range(Napi::Env env, Napi::Value arg, bool ordered, codec keys, key_order order,
                 const char* strategy, range_request& c) {
  if (!ordered)
    throw_type_error(env, std::string("threadmap: range options (gte, gt, lte, lt, reverse, "
                                      "limit) need a map with strategy 'ordered'; this map's "
                                      "strategy is '") +
                              strategy + "'");
  if (arg.IsUndefined()) return;
  if (!arg.IsObject() || arg.IsArray())
    throw_type_error(env, "threadmap: range options must be an object like { gte, lt, limit }");
  const Napi::Object o = arg.As<Napi::Object>();
  const Napi::Array names = o.GetPropertyNames();
  for (std::uint32_t i = 0; i < names.Length(); ++i) {
    const std::string name = names.Get(i).ToString().Utf8Value();
    if (std::find(std::begin(option_names), std::end(option_names), name) == std::end(option_names))
      throw_type_error(env, "threadmap: unknown range option '" + name +
                                "'; the options are gte, gt, lte, lt, reverse and limit");
  }
  c.has_lower = read_bound(env, o, "gte", "gt", keys, c.lower, c.lower_inclusive);
  c.has_upper = read_bound(env, o, "lte", "lt", keys, c.upper, c.upper_inclusive);
  const Napi::Value reverse = o.Get("reverse");
  if (!reverse.IsUndefined()) {
    if (!reverse.IsBoolean())
      throw_type_error(env, "threadmap: range option reverse must be a boolean");
    c.reverse = reverse.As<Napi::Boolean>().Value();
  }
  const Napi::Value limit = o.Get("limit");
  if (!limit.IsUndefined()) {
    if (!limit.IsNumber()) throw_type_error(env, "threadmap: range option limit must be a number");
    const double d = limit.As<Napi::Number>().DoubleValue();
    if (d != INFINITY) {
      if (!(d >= 0) || d != std::floor(d) || d > 9007199254740991.0)
        throw_range_error(env,
                          "threadmap: range option limit must be an integer from 0 to "
                          "2^53 - 1 or Infinity, got " +
                              limit.ToString().Utf8Value());
      c.limit = static_cast<std::size_t>(d);
    }
  }
  if (c.has_lower && c.has_upper && compare_keys(order, c.lower, c.upper) > 0)
    throw_range_error(env, "threadmap: the range's lower bound is above its upper bound");
  c.lower_view_ = c.lower;
  c.upper_view_ = c.upper;
}

key_range range_request::view() const noexcept {
  key_range r;
  r.lower = has_lower ? &lower_view_ : nullptr;
  r.upper = has_upper ? &upper_view_ : nullptr;
  r.lower_inclusive = lower_inclusive;
  r.upper_inclusive = upper_inclusive;
  r.reverse = reverse;
  return r;
}

}  // namespace threadmap::addon
