#include "threadmap/detail/counter.hpp"

#include "threadmap/epoch.hpp"  // THREADMAP_INITIAL_EXEC_TLS

namespace threadmap {

namespace {
// Initial-exec TLS where it is safe (epoch.hpp says when): a %fs-relative
// load instead of a __tls_get_addr call from inside the addon. 0: not
// assigned yet.
thread_local unsigned t_ordinal THREADMAP_INITIAL_EXEC_TLS = 0;
std::atomic<unsigned> next_ordinal{0};
}  // namespace

unsigned thread_ordinal() noexcept {
  unsigned o = t_ordinal;
  if (__builtin_expect(o == 0, 0)) {
    o = next_ordinal.fetch_add(1, std::memory_order_relaxed) + 1;
    if (o == 0) o = next_ordinal.fetch_add(1, std::memory_order_relaxed) + 1;  // wrapped
    t_ordinal = o;
  }
  return o - 1;
}

}  // namespace threadmap
