// threadmap/factory.hpp — makes a map of the strategy options::strategy names.
//
// The one place that knows every strategy's class: a user of the core, the
// registry, the tests and the bench all create maps here and then talk to
// them through concurrent_map (threadmap/map.hpp) alone. The strategies'
// headers are implementation (threadmap/detail/); only src/factory.cpp
// includes them.
#pragma once

#include <memory>

#include "threadmap/map.hpp"

namespace threadmap {

/// Creates a map of the chosen strategy. Throws std::bad_alloc when the
/// initial capacity cannot be allocated, std::length_error when it exceeds
/// max_memory, and std::invalid_argument when options::numa_policy names a
/// node this process cannot use, or when a strategy that cannot evict is
/// asked to (supports_eviction) or eviction has no bound.
std::unique_ptr<concurrent_map> make_map(const options& opts);

}  // namespace threadmap
