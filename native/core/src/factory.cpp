// The factory (threadmap/factory.hpp): the one file that includes every
// strategy's header.
#include "threadmap/factory.hpp"

#include "threadmap/detail/lockfree.hpp"
#include "threadmap/detail/ordered.hpp"
#include "threadmap/detail/readmostly.hpp"
#include "threadmap/detail/striped.hpp"

namespace threadmap {

std::unique_ptr<concurrent_map> make_map(const options& opts) {
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
