// numa_wrap.cpp — argument plumbing for threadmap/topology.hpp and threadmap/placement.hpp; see
// numa_wrap.hpp.
#include "numa_wrap.hpp"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

namespace threadmap::addon {
namespace {

// "'local', 'interleave', 'none' or { node: <node id> }": the forms the
// `numa` option takes, from the core's one list of policy kinds.
std::string numa_choices() {
  std::string out;
  for (numa::policy_kind k : numa::all_policy_kinds) {
    if (!out.empty()) out += k == numa::policy_kind::node ? " or " : ", ";
    out += k == numa::policy_kind::node ? std::string("{ node: <node id> }")
                                        : std::string("'") + numa::to_string(k) + "'";
  }
  return out;
}

// "0-3, 8": CPU and node lists as sysfs would write them, short on big machines.
std::string format_list(const std::vector<unsigned>& v) {
  std::string s;
  for (std::size_t i = 0; i < v.size();) {
    std::size_t j = i;
    while (j + 1 < v.size() && v[j + 1] == v[j] + 1) ++j;
    if (!s.empty()) s += ", ";
    s += std::to_string(v[i]);
    if (j > i) s += "-" + std::to_string(v[j]);
    i = j + 1;
  }
  return s;
}

Napi::Array to_array(Napi::Env env, const std::vector<unsigned>& v) {
  Napi::Array a = Napi::Array::New(env, v.size());
  for (std::size_t i = 0; i < v.size(); ++i) a.Set(static_cast<uint32_t>(i), v[i]);
  return a;
}

napi_value Topology(napi_env env, napi_callback_info) {
  return guarded_call(env, [&]() -> napi_value {
    const auto t = numa::current_topology();
    Napi::Env e(env);
    Napi::Array nodes = Napi::Array::New(e, t->nodes.size());
    for (std::size_t i = 0; i < t->nodes.size(); ++i) {
      const numa::node& n = t->nodes[i];
      Napi::Object o = Napi::Object::New(e);
      o.Set("id", n.id);
      o.Set("cpus", to_array(e, n.cpus));
      o.Set("memoryBytes", static_cast<double>(n.memory_bytes));
      nodes.Set(static_cast<uint32_t>(i), o);
    }
    Napi::Object r = Napi::Object::New(e);
    r.Set("nodes", nodes);
    r.Set("source", t->source);
    r.Set("simulated", t->simulated);
    if (!t->error.empty()) r.Set("error", t->error);
    return r;
  });
}

napi_value CurrentCpu(napi_env env, napi_callback_info) {
  return guarded_call(env,
                      [&]() -> napi_value { return Napi::Number::New(env, numa::current_cpu()); });
}

napi_value CurrentNode(napi_env env, napi_callback_info) {
  return guarded_call(env,
                      [&]() -> napi_value { return Napi::Number::New(env, numa::current_node()); });
}

// pinThread(cpus: number | number[]): the calling thread's previous CPUs.
napi_value PinThread(napi_env env, napi_callback_info cbinfo) {
  return guarded_call(env, [&]() -> napi_value {
    Napi::CallbackInfo info(env, cbinfo);
    const std::string shape =
        "threadmap: numa.pinThread(cpus): cpus must be a CPU number or a non-empty array of "
        "CPU numbers";
    std::vector<double> raw;
    Napi::Value arg = info[0];
    if (arg.IsNumber()) {
      raw.push_back(arg.As<Napi::Number>().DoubleValue());
    } else if (arg.IsArray()) {
      Napi::Array a = arg.As<Napi::Array>();
      const std::uint32_t n = a.Length();
      if (n == 0 || n > 65536)
        throw_type_error(env, shape + ", got an array of " + std::to_string(n) + " elements");
      for (std::uint32_t i = 0; i < n; ++i) {
        Napi::Value v = a.Get(i);
        if (!v.IsNumber())
          throw_type_error(env, shape + "; element " + std::to_string(i) + " is not a number");
        raw.push_back(v.As<Napi::Number>().DoubleValue());
      }
    } else {
      throw_type_error(env, shape);
    }
    // Every CPU must exist and be online: the kernel would quietly accept a
    // set in which only some do, and pin to fewer CPUs than were named.
    const std::vector<unsigned> online = numa::online_cpus();
    std::vector<unsigned> cpus;
    for (double d : raw) {
      const bool integral = d >= 0 && d == std::floor(d) && d < 4294967296.0;
      const unsigned c = integral ? static_cast<unsigned>(d) : 0;
      if (!integral || !std::binary_search(online.begin(), online.end(), c)) {
        char num[32];
        std::snprintf(num, sizeof num, "%.17g", d);
        throw_range_error(env, std::string("threadmap: numa.pinThread: CPU ") + num +
                                   " does not exist or is offline; the online CPUs are " +
                                   format_list(online) + "; nothing changed");
      }
      cpus.push_back(c);
    }
    const std::vector<unsigned> before = numa::thread_affinity();
    if (const int err = numa::pin_thread(cpus))
      throw_error(env, "threadmap: numa.pinThread: the kernel refused CPUs " + format_list(cpus) +
                           " (" + std::strerror(err) +
                           "; a cpuset may exclude them, this thread may use " +
                           format_list(before) + "); nothing changed");
    return to_array(Napi::Env(env), before);
  });
}

// parsePolicy(text): the `numa` option a text form names ("node:3" ->
// { node: 3 }); whether the node exists is the map's to say.
napi_value ParsePolicy(napi_env env, napi_callback_info cbinfo) {
  return guarded_call(env, [&]() -> napi_value {
    Napi::CallbackInfo info(env, cbinfo);
    numa::policy p;
    const bool text = info[0].IsString();
    const std::string s = text ? info[0].As<Napi::String>().Utf8Value() : "";
    if (!text || !numa::parse_policy(s, p))
      throw_type_error(env, std::string("threadmap: numa.parsePolicy: ") +
                                (text ? "'" + s + "' is" : std::string("the argument is")) +
                                " not a NUMA policy; use " + numa::policy_forms());
    if (p.kind != numa::policy_kind::node) return Napi::String::New(env, numa::to_string(p.kind));
    Napi::Object o = Napi::Object::New(env);
    o.Set("node", p.node);
    return o;
  });
}

}  // namespace

void export_numa(Napi::Env env, Napi::Object exports) {
  Napi::Object o = Napi::Object::New(env);
  const napi_property_descriptor fns[] = {
      function_property("topology", Topology),       function_property("currentCpu", CurrentCpu),
      function_property("currentNode", CurrentNode), function_property("pinThread", PinThread),
      function_property("parsePolicy", ParsePolicy),
  };
  check(env, napi_define_properties(env, o, std::size(fns), fns));
  o.Freeze();
  exports.Set("numa", o);
}

numa::policy parse_numa_option(Napi::Env env, Napi::Value v) {
  numa::policy p;
  if (v.IsUndefined()) return p;
  if (v.IsString()) {
    const std::string s = v.As<Napi::String>().Utf8Value();
    // A node is named by the object form here ("node:N" is the text form
    // of numa.parsePolicy and the benchmarks' flags).
    if (numa::parse_policy(s, p) && p.kind != numa::policy_kind::node) return p;
    throw_type_error(env, std::string("threadmap: options.numa must be ") + numa_choices() +
                              ", got '" + s + "'");
  }
  if (!v.IsObject() || v.IsArray() || v.IsFunction())
    throw_type_error(env, std::string("threadmap: options.numa must be ") + numa_choices());
  Napi::Value node = v.As<Napi::Object>().Get("node");
  if (!node.IsNumber())
    throw_type_error(env, std::string("threadmap: options.numa must be ") + numa_choices() +
                              " (node must be a number)");
  const auto t = numa::current_topology();
  const double d = node.As<Napi::Number>().DoubleValue();
  if (!(d >= 0) || d != std::floor(d) || d >= numa::max_nodes) {
    char num[32];
    std::snprintf(num, sizeof num, "%.17g", d);
    throw_range_error(env, std::string("threadmap: options.numa: node ") + num +
                               " does not exist; the nodes are " + t->node_list());
  }
  p.kind = numa::policy_kind::node;
  p.node = static_cast<unsigned>(d);
  const std::string bad = numa::validate(p, *t);
  if (!bad.empty()) throw_range_error(env, "threadmap: options.numa: " + bad);
  return p;
}

Napi::Object numa_stats(Napi::Env env, const numa::policy& p, strategy_kind strategy,
                        const std::vector<numa::table_report>& tables) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("policy", numa::to_string(p.kind));
  if (p.kind == numa::policy_kind::node) o.Set("node", p.node);
  o.Set("simulated", numa::current_topology()->simulated);
  // Every strategy reports its tables (striped, mutex, rwlock: one per
  // stripe; lockfree: the head table, then any migration target; readmostly:
  // the read table, then the dirty table while there is one). `applied`
  // stays false, with the reason, for a strategy that reports none.
  const bool places = !tables.empty();
  o.Set("applied", places);
  if (!places)
    o.Set("reason", std::string("the '") + to_string(strategy) +
                        "' strategy does not place its memory: the kernel's default (first "
                        "touch) applies whatever the policy");
  Napi::Array a = Napi::Array::New(env, tables.size());
  for (std::size_t i = 0; i < tables.size(); ++i) {
    const numa::table_report& r = tables[i];
    Napi::Object t = Napi::Object::New(env);
    t.Set("table", static_cast<double>(r.table));
    t.Set("bytes", static_cast<double>(r.bytes));
    if (r.bytes == 0) {
      t.Set("node", -1);
      t.Set("assignedNode", -1);
      t.Set("placement", "empty");
      t.Set("reason", "no array yet: nothing has been stored in this table");
    } else {
      t.Set("node", r.kernel.node);
      t.Set("assignedNode", r.where.node);
      t.Set("placement", numa::to_string(r.where.result));
      if (r.where.result != numa::outcome::bound && r.where.result != numa::outcome::kernel_default)
        t.Set("reason", numa::describe(r.where.result));
      t.Set("kernelPolicy", r.kernel.mode >= 0 ? numa::mode_name(r.kernel.mode) : "unknown");
      t.Set("kernelNodes", to_array(env, r.kernel.mode_nodes));
      if (r.where.error)
        t.Set("error", std::strerror(r.where.error));
      else if (r.kernel.error)
        t.Set("error", std::string("get_mempolicy: ") + std::strerror(r.kernel.error));
    }
    a.Set(static_cast<uint32_t>(i), t);
  }
  o.Set("tables", a);
  return o;
}

}  // namespace threadmap::addon
