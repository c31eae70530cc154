// Helpers the snapshot tests share (watch.test.cpp, faults.test.cpp): a map
// made for a strategy, a call on its live pointer, the contents of a map and
// of a snapshot as one ordered map, and the strategies whose units are flat
// tables (whose snapshots are lazy).
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "check.hpp"
#include "threadmap/epoch.hpp"
#include "threadmap/registry.hpp"
#include "threadmap/snapshot.hpp"
#include "threadmap/wire.hpp"

namespace tmtest {

inline std::shared_ptr<threadmap::shared_map> make(const strategy_config& cfg) {
  return threadmap::registry::create(cfg.opts, "string", "string");
}

// One call through the pointer the binding would use.
template <class F>
auto with_map(threadmap::shared_map& m, F&& f) {
  threadmap::epoch::guard g;
  return f(*m.get());
}

inline std::map<std::string, std::string> contents(threadmap::shared_map& m) {
  std::map<std::string, std::string> r;
  threadmap::epoch::guard g;
  threadmap::concurrent_map* c = m.get();
  std::string buf;
  for (std::size_t u = 0; u < c->scan_units(); ++u) {
    buf.clear();
    c->scan(u, buf);
    threadmap::scan_reader rd(buf);
    threadmap::scan_record rec;
    while (rd.next(rec)) r[std::string(rec.key)] = std::string(rec.value);
  }
  return r;
}

inline std::map<std::string, std::string> contents(threadmap::snapshot& s) {
  std::map<std::string, std::string> r;
  for (std::size_t u = 0; u < s.units(); ++u) r.insert(s.unit(u).begin(), s.unit(u).end());
  return r;
}

// mutex, rwlock and striped as tmtest::strategies() has them, and striped
// with four stripes (a unit can then be copied or lost while others are not).
inline std::vector<strategy_config> flat_table_configs() {
  std::vector<strategy_config> v;
  for (const strategy_config& c : strategies())
    if (flat_table_strategy(c.opts.strategy)) v.push_back(c);
  threadmap::options o;
  o.strategy = threadmap::strategy_kind::striped;
  o.stripes = 4;
  v.push_back({"striped-4", o});
  return v;
}

}  // namespace tmtest
