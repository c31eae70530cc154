// options.cpp — the map options as one table; see options.hpp.
#include "options.hpp"

#include <cmath>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "numa_wrap.hpp"

namespace threadmap::addon {

namespace {

// The names a one-of option accepts, each with the enum value it stands for,
// and the list as its error messages write it.
struct choices {
  std::vector<std::pair<std::string, unsigned>> names;
  std::string text;

  // "'a', 'b' or 'c'"; `last` ", or " makes "'a', 'b', or 'c'".
  choices(std::vector<std::pair<std::string, unsigned>> n, const char* last) : names(std::move(n)) {
    for (std::size_t i = 0; i < names.size(); ++i) {
      if (i > 0) text += i + 1 == names.size() ? last : ", ";
      text += "'" + names[i].first + "'";
    }
  }
};

choices codec_choices(role r) {
  std::vector<std::pair<std::string, unsigned>> names;
  for (codec c : codecs(r)) names.emplace_back(to_string(c), static_cast<unsigned>(c));
  return {std::move(names), " or "};
}

choices strategy_choices() {
  std::vector<std::pair<std::string, unsigned>> names;
  for (strategy_kind k : all_strategies) names.emplace_back(to_string(k), static_cast<unsigned>(k));
  // 'auto' is striped until the benchmark says otherwise (see DESIGN.md).
  names.emplace_back("auto", static_cast<unsigned>(strategy_kind::striped));
  return {std::move(names), ", or "};
}

// evict: the policies (threadmap::all_eviction_kinds) and 'none', which
// stands for no policy.
constexpr unsigned evict_none = 0xFF;
choices evict_choices() {
  std::vector<std::pair<std::string, unsigned>> names;
  for (eviction_kind k : all_eviction_kinds)
    names.emplace_back(to_string(k), static_cast<unsigned>(k));
  names.emplace_back("none", evict_none);
  return {std::move(names), " or "};
}

// The strategies that can evict (or expire), as messages name them.
std::string strategies_where(bool (*can)(strategy_kind) noexcept) {
  std::string t;
  std::vector<const char*> names;
  for (strategy_kind k : all_strategies)
    if (can(k)) names.push_back(to_string(k));
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (i > 0) t += i + 1 == names.size() ? " or " : ", ";
    t += std::string("'") + names[i] + "'";
  }
  return t;
}

// A policy's handles are 31-bit: no stripe holds more entries, and no map
// is meant to (16 bytes of policy an entry is 32 GiB there).
constexpr double max_entries_limit = 2147483647.0;

enum class kind : std::uint8_t {
  one_of,  // a string among `choices`; `set` gets the enum value it names
  count,   // an integer from 0 to 2^53 - 1; `set` gets it
  own,     // `parse` checks it (the numa option: numa_wrap.cpp)
};

struct option_row {
  const char* name;
  kind k;
  std::optional<choices> list;
  void (*set)(parsed_options&, std::size_t) = nullptr;
  void (*parse)(Napi::Env, Napi::Value, parsed_options&) = nullptr;
};

// Read in this order: which error a map with several bad options throws
// depends on it.
const std::vector<option_row>& option_table() {
  static const std::vector<option_row> table = [] {
    std::vector<option_row> t;
    t.push_back({"keys", kind::one_of, codec_choices(role::key),
                 [](parsed_options& p, std::size_t v) { p.keys = static_cast<codec>(v); }});
    t.push_back({"values", kind::one_of, codec_choices(role::value),
                 [](parsed_options& p, std::size_t v) { p.values = static_cast<codec>(v); }});
    t.push_back(
        {"strategy", kind::one_of, strategy_choices(), [](parsed_options& p, std::size_t v) {
           p.core.strategy = static_cast<strategy_kind>(v);
         }});
    t.push_back({"capacity", kind::count, std::nullopt,
                 [](parsed_options& p, std::size_t n) { p.core.capacity = n; }});
    t.push_back({"maxMemory", kind::count, std::nullopt,
                 [](parsed_options& p, std::size_t n) { p.core.max_memory = n; }});
    t.push_back({"maxEntries", kind::own, std::nullopt, nullptr,
                 [](Napi::Env env, Napi::Value v, parsed_options& p) {
                   const std::string name = "threadmap: options.maxEntries";
                   if (!v.IsNumber())
                     throw_type_error(env, name + " must be a positive integer number");
                   const double d = v.As<Napi::Number>().DoubleValue();
                   if (!(d >= 1) || d != std::floor(d) || d > max_entries_limit)
                     throw_range_error(env, name + " must be an integer from 1 to 2^31 - 1, got " +
                                                v.ToString().Utf8Value());
                   p.core.max_entries = static_cast<std::size_t>(d);
                 }});
    t.push_back({"evict", kind::one_of, evict_choices(), [](parsed_options& p, std::size_t v) {
                   if (v == evict_none)
                     p.evict_none = true;
                   else
                     p.core.evict = static_cast<eviction_kind>(v);
                 }});
    t.push_back({"ttl", kind::own, std::nullopt, nullptr,
                 [](Napi::Env env, Napi::Value v, parsed_options& p) {
                   p.core.ttl = read_ttl(env, v, "options.ttl");
                 }});
    t.push_back({"noUpdateTTL", kind::own, std::nullopt, nullptr,
                 [](Napi::Env env, Napi::Value v, parsed_options& p) {
                   if (!v.IsBoolean())
                     throw_type_error(env, "threadmap: options.noUpdateTTL must be a boolean");
                   p.core.no_update_ttl = v.As<Napi::Boolean>().Value();
                 }});
    t.push_back({"revisions", kind::own, std::nullopt, nullptr,
                 [](Napi::Env env, Napi::Value v, parsed_options& p) {
                   if (!v.IsBoolean())
                     throw_type_error(env, "threadmap: options.revisions must be a boolean");
                   p.core.revisions = v.As<Napi::Boolean>().Value();
                 }});
    t.push_back({"readCache", kind::count, std::nullopt,
                 [](parsed_options& p, std::size_t n) { p.core.read_cache = n; }});
    t.push_back({"numa", kind::own, std::nullopt, nullptr,
                 [](Napi::Env env, Napi::Value v, parsed_options& p) {
                   p.core.numa_policy = parse_numa_option(env, v);
                 }});
    return t;
  }();
  return table;
}

unsigned read_one_of(Napi::Env env, const option_row& o, Napi::Value v) {
  const std::string must = std::string("threadmap: options.") + o.name + " must be " + o.list->text;
  if (!v.IsString()) throw_type_error(env, must);
  const std::string s = v.As<Napi::String>().Utf8Value();
  for (const auto& [name, value] : o.list->names)
    if (name == s) return value;
  throw_type_error(env, must + ", got '" + s + "'");
}

std::size_t read_count(Napi::Env env, const option_row& o, Napi::Value v) {
  const std::string name = std::string("threadmap: options.") + o.name;
  if (!v.IsNumber()) throw_type_error(env, name + " must be a non-negative integer number");
  const double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= 0) || d != std::floor(d) || d > 9007199254740991.0)
    throw_range_error(
        env, name + " must be an integer from 0 to 2^53 - 1, got " + v.ToString().Utf8Value());
  return static_cast<std::size_t>(d);
}

void read_options(Napi::Env env, Napi::Value arg, parsed_options& p) {
  if (!arg.IsObject()) throw_type_error(env, "threadmap: options must be an object");
  const Napi::Object o = arg.As<Napi::Object>();
  for (const option_row& row : option_table()) {
    const Napi::Value v = o.Get(row.name);
    if (v.IsUndefined()) continue;
    switch (row.k) {
      case kind::one_of:
        row.set(p, read_one_of(env, row, v));
        break;
      case kind::count:
        row.set(p, read_count(env, row, v));
        break;
      case kind::own:
        row.parse(env, v, p);
        break;
    }
  }
  // Eviction: a bound to evict to, a strategy that can, and no bound that
  // 'none' would leave unenforced.
  if (p.evict_none && p.core.max_entries)
    throw_type_error(env,
                     "threadmap: options.maxEntries evicts, so it cannot be used with evict 'none' "
                     "(maxMemory without a policy refuses writes instead)");
  if (p.core.evict && !p.core.max_entries && !p.core.max_memory)
    throw_type_error(env, std::string("threadmap: options.evict '") + to_string(*p.core.evict) +
                              "' needs maxEntries or maxMemory to bound the map");
  if (p.core.evicts() && !p.core.max_entries && p.core.max_memory < memory_entry_bytes)
    throw_range_error(env, "threadmap: options.maxMemory must be at least " +
                               std::to_string(memory_entry_bytes) + " bytes for a map that evicts");
  if (p.core.evicts() && !supports_eviction(p.core.strategy))
    throw_type_error(env, std::string("threadmap: options.maxEntries and options.evict need the ") +
                              strategies_where(supports_eviction) + " strategy (or 'auto'), not '" +
                              to_string(p.core.strategy) + "'");
  // Expiry: a strategy whose tables keep deadlines.
  if (p.core.expires() && !supports_expiry(p.core.strategy))
    throw_type_error(env, std::string("threadmap: options.ttl needs the ") +
                              strategies_where(supports_expiry) + " strategy (or 'auto'), not '" +
                              to_string(p.core.strategy) + "'");
  if (p.core.no_update_ttl && !p.core.expires())
    throw_type_error(env, "threadmap: options.noUpdateTTL needs options.ttl (0: no default ttl)");
  // A map without revisions: a strategy whose writes can skip the clock, and
  // nothing that reads revisions.
  if (!p.core.revisions && !supports_skipping_revisions(p.core.strategy))
    throw_type_error(env, std::string("threadmap: options.revisions false needs the ") +
                              strategies_where(supports_skipping_revisions) +
                              " strategy (or 'auto'), not '" + to_string(p.core.strategy) + "'");
  if (!p.core.revisions && p.core.read_cache != 0)
    throw_type_error(env,
                     "threadmap: options.readCache needs revisions (it checks them), so it cannot "
                     "be used with revisions false");
  // The read cache (lib/read-cache.ts) keys a JS Map by the key itself, and
  // bytes keys compare by content, not identity.
  if (p.core.read_cache != 0 && p.keys == codec::bytes)
    throw_type_error(env, "threadmap: options.readCache needs keys other than 'bytes'");
}

}  // namespace

std::uint64_t read_ttl(Napi::Env env, Napi::Value v, const char* what) {
  const std::string name = std::string("threadmap: ") + what;
  if (!v.IsNumber())
    throw_type_error(env, name + " must be a number of milliseconds (0: no expiry)");
  const double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= 0) || d != std::floor(d) || d > static_cast<double>(max_ttl_ms))
    throw_range_error(env, name + " must be an integer from 0 to 2^53 - 1 milliseconds, got " +
                               v.ToString().Utf8Value());
  return static_cast<std::uint64_t>(d);
}

parsed_options parse_options(Napi::Env env, Napi::Value arg) {
  parsed_options p;
  if (!arg.IsUndefined() && !arg.IsNull()) read_options(env, arg, p);
  p.core.order = order_of(p.keys);  // the key type's order; `ordered` alone uses it
  return p;
}

}  // namespace threadmap::addon
