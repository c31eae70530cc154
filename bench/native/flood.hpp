// bench/native/flood.hpp — the hash-flooding benchmark (threadmap-bench
// --flood): every strategy fed keys that collide under the old unkeyed hash
// and a generic flood of keys sharing long prefixes, each against random keys
// of the same lengths, one thread; and the cost of one hash per key length.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace tmbench {

struct flood_options {
  std::size_t keys = 20000;  // keys per set
  double budget_ms = 5000;   // a phase (inserts or gets) stops past this
  unsigned rounds = 5;       // runs per (strategy, set), flood and random alternating; best kept
  std::vector<std::string> strategies;  // empty: every strategy
  std::string json;                     // also write the figures here
};

/// Prints the tables; returns 0, or 1 when a map lost a key.
int run_flood(const flood_options& o);

}  // namespace tmbench
