// bench/native/placement.cpp — see placement.hpp.
#include "placement.hpp"

#include <algorithm>
#include <cstring>
#include <stdexcept>

#include "experiments.hpp"

namespace tmbench {

namespace numa = threadmap::numa;

namespace {

template <class Set>
std::string set_text(const Set& s) {
  std::string out = "{";
  for (auto v : s) out += (out.size() > 1 ? ", " : "") + std::to_string(v);
  return out + "}";
}

bool all_digits(const std::string& s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

}  // namespace

numa::policy parse_numa(const std::string& value, const numa::topology& t) {
  numa::policy p;
  if (!numa::parse_policy(value, p))
    throw std::invalid_argument("--numa=" + value + ": not a NUMA policy; use " +
                                numa::policy_forms());
  const std::string bad = p.kind == numa::policy_kind::node ? numa::validate(p, t) : "";
  if (!bad.empty()) throw std::invalid_argument("--numa=" + value + ": " + bad);
  return p;
}

std::string numa_label(const numa::policy& p) {
  return numa::to_text(p);
}

std::vector<int> parse_cpu_list(const std::string& value, const std::vector<unsigned>& online) {
  const std::string shape =
      "--pin=" + value + ": not a CPU list; use CPU numbers and ranges, e.g. 0,1 or 0-3";
  std::vector<int> cpus;
  std::size_t start = 0;
  while (start <= value.size()) {
    const std::size_t comma = std::min(value.find(',', start), value.size());
    const std::string part = value.substr(start, comma - start);
    const std::size_t dash = part.find('-');
    const std::string lo_s = part.substr(0, dash);
    const std::string hi_s = dash == std::string::npos ? lo_s : part.substr(dash + 1);
    if (!all_digits(lo_s) || !all_digits(hi_s) || lo_s.size() > 6 || hi_s.size() > 6)
      throw std::invalid_argument(shape);
    const int lo = std::stoi(lo_s), hi = std::stoi(hi_s);
    if (hi < lo)
      throw std::invalid_argument("--pin=" + value + ": range " + part + " runs backwards");
    for (int c = lo; c <= hi; ++c) {
      if (!std::binary_search(online.begin(), online.end(), static_cast<unsigned>(c))) {
        std::string list;
        for (unsigned o : online) list += (list.empty() ? "" : ", ") + std::to_string(o);
        throw std::invalid_argument("--pin=" + value + ": CPU " + std::to_string(c) +
                                    " does not exist or is offline; the online CPUs are " + list);
      }
      if (std::find(cpus.begin(), cpus.end(), c) == cpus.end()) cpus.push_back(c);
    }
    start = comma + 1;
  }
  return cpus;
}

std::string placement_summary(const std::vector<numa::table_report>& tables) {
  std::map<std::string, unsigned> outcomes;  // empty tables count as "empty", as stats().numa says
  std::set<std::string> policies;
  std::set<int> nodes;
  std::set<std::string> errors;
  for (const auto& t : tables) {
    if (t.bytes == 0) {
      ++outcomes["empty"];
      continue;
    }
    ++outcomes[numa::to_string(t.where.result)];
    if (t.kernel.node >= 0) nodes.insert(t.kernel.node);
    if (t.kernel.mode >= 0)
      policies.insert(std::string(numa::mode_name(t.kernel.mode)) +
                      (t.kernel.mode_nodes.empty() ? "" : " " + set_text(t.kernel.mode_nodes)));
    if (t.where.error) errors.insert(std::strerror(t.where.error));
    if (t.kernel.error)
      errors.insert(std::string("get_mempolicy: ") + std::strerror(t.kernel.error));
  }
  std::string s = std::to_string(tables.size()) + (tables.size() == 1 ? " table: " : " tables: ");
  bool first = true;
  for (const auto& [name, n] : outcomes) {
    s += (first ? "" : ", ") + name + " x" + std::to_string(n);
    first = false;
  }
  if (!policies.empty()) {
    s += "; kernel policy ";
    first = true;
    for (const auto& p : policies) {
      s += (first ? "" : " / ") + p;
      first = false;
    }
  }
  s += nodes.empty() ? "; no page read back" : "; pages read back on node " + set_text(nodes);
  for (const auto& e : errors) s += "; error: " + e;
  return s;
}

std::string placement_json(const std::vector<numa::table_report>& tables) {
  std::string j = "[";
  for (std::size_t i = 0; i < tables.size(); ++i) {
    const auto& t = tables[i];
    j += std::string(i ? "," : "") + "{\"table\":" + std::to_string(t.table) +
         ",\"bytes\":" + std::to_string(t.bytes);
    if (t.bytes == 0) {
      j += ",\"placement\":\"empty\"}";
      continue;
    }
    j += ",\"placement\":" + json_str(numa::to_string(t.where.result)) +
         ",\"assignedNode\":" + std::to_string(t.where.node) +
         ",\"node\":" + std::to_string(t.kernel.node) + ",\"kernelPolicy\":" +
         json_str(t.kernel.mode >= 0 ? numa::mode_name(t.kernel.mode) : "unknown") +
         ",\"kernelNodes\":[";
    for (std::size_t k = 0; k < t.kernel.mode_nodes.size(); ++k)
      j += (k ? "," : "") + std::to_string(t.kernel.mode_nodes[k]);
    j += "]";
    if (t.where.error) j += ",\"error\":" + json_str(std::strerror(t.where.error));
    if (t.kernel.error)
      j += ",\"readBackError\":" + json_str(std::string(std::strerror(t.kernel.error)));
    j += "}";
  }
  return j + "]";
}

std::string pin_check::problem() const {
  if (error) return "pinning to CPU " + std::to_string(cpu) + " failed: " + std::strerror(error);
  for (int seen : {seen_start, seen_end})
    if (seen != -1 && seen != cpu)
      return "pinned to CPU " + std::to_string(cpu) + ", but numa::current_cpu() says CPU " +
             std::to_string(seen);
  return {};
}

pin_check pin_self(int cpu) {
  pin_check c;
  c.cpu = cpu;
  c.error = numa::pin_thread({static_cast<unsigned>(cpu)});
  c.seen_start = numa::current_cpu();
  return c;
}

void pin_log::add(const std::string& who, const pin_check& c) {
  seen& s = threads_[who];
  s.cpu = c.cpu;
  for (int cpu : {c.seen_start, c.seen_end}) {
    if (cpu == -1)
      ++s.unknown;
    else
      s.cpus.insert(cpu);
    ++s.checks;
  }
}

std::string pin_log::header() const {
  if (cpus.empty()) return "threads not pinned";
  std::string list;
  for (int c : cpus) list += (list.empty() ? "" : ", ") + std::to_string(c);
  return std::string(cpus.size() == 1 ? "threads pinned to CPU "
                                      : "threads pinned round-robin over CPUs ") +
         list + " (" + from + ")";
}

std::vector<std::string> pin_log::lines() const {
  std::vector<std::string> out;
  std::size_t w = 0;
  for (const auto& [who, s] : threads_) w = std::max(w, who.size());
  for (const auto& [who, s] : threads_) {
    std::string said;
    for (int c : s.cpus) said += (said.empty() ? "" : ", ") + std::to_string(c);
    if (s.unknown)
      said += (said.empty() ? "" : ", ") + std::string("-1 (unknown) ") +
              std::to_string(s.unknown) + "x";
    out.push_back(who + std::string(w - who.size(), ' ') + "  pinned to CPU " +
                  std::to_string(s.cpu) + "; numa::current_cpu() said " + said + " in " +
                  std::to_string(s.checks) + (s.checks == 1 ? " check" : " checks"));
  }
  return out;
}

std::string pin_log::json() const {
  if (cpus.empty()) return "null";
  std::string j = "{\"cpus\":[";
  for (std::size_t i = 0; i < cpus.size(); ++i) j += (i ? "," : "") + std::to_string(cpus[i]);
  j += "],\"from\":" + json_str(from) + ",\"threads\":[";
  bool first = true;
  for (const auto& [who, s] : threads_) {
    j += std::string(first ? "" : ",") + "{\"thread\":" + json_str(who) +
         ",\"cpu\":" + std::to_string(s.cpu) + ",\"seen\":[";
    bool f = true;
    for (int c : s.cpus) {
      j += (f ? "" : ",") + std::to_string(c);
      f = false;
    }
    j += "],\"unknown\":" + std::to_string(s.unknown) + ",\"checks\":" + std::to_string(s.checks) +
         "}";
    first = false;
  }
  return j + "]}";
}

}  // namespace tmbench
