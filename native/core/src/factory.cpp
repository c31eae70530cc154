// The factory (threadmap/factory.hpp): the one file that includes every
// strategy's header.
#include "threadmap/factory.hpp"

#include <stdexcept>
#include <string>

#include "threadmap/detail/lockfree.hpp"
#include "threadmap/detail/ordered.hpp"
#include "threadmap/detail/readmostly.hpp"
#include "threadmap/detail/striped.hpp"

namespace threadmap {

std::unique_ptr<concurrent_map> make_map(const options& opts) {
  // The binding says which strategies can evict before it gets here; this
  // keeps every other user of the core from making a map that would ignore
  // its bound.
  if (opts.evicts() && !supports_eviction(opts.strategy))
    throw std::invalid_argument(std::string("threadmap: the '") + to_string(opts.strategy) +
                                "' strategy cannot evict");
  if (opts.expires() && !supports_expiry(opts.strategy))
    throw std::invalid_argument(std::string("threadmap: the '") + to_string(opts.strategy) +
                                "' strategy cannot expire entries");
  if (!opts.revisions && !supports_skipping_revisions(opts.strategy))
    throw std::invalid_argument(std::string("threadmap: the '") + to_string(opts.strategy) +
                                "' strategy keeps revisions");
  if (!opts.revisions && opts.read_cache)
    throw std::invalid_argument("threadmap: the read cache needs revisions");
  if (opts.ttl && *opts.ttl > max_ttl_ms)
    throw std::invalid_argument("threadmap: ttl is longer than max_ttl_ms");
  switch (opts.strategy) {
    case strategy_kind::mutex:
      return std::make_unique<mutex_map>(opts, opts.strategy, 1);
    case strategy_kind::rwlock:
      return std::make_unique<rwlock_map>(opts, opts.strategy, 1);
    case strategy_kind::readmostly:
      return std::make_unique<readmostly_map>(opts);
    case strategy_kind::lockfree:
      return std::make_unique<lockfree_map>(opts);
    case strategy_kind::ordered:
      return std::make_unique<ordered_map>(opts);
    case strategy_kind::striped:
      return std::make_unique<optimistic_striped_map>(opts, opts.strategy, opts.stripes);
  }
  return nullptr;
}

}  // namespace threadmap
