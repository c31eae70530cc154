#include "threadmap/detail/counter.hpp"

namespace threadmap {

namespace {
// Initial-exec TLS (see epoch.cpp): a %fs-relative load instead of a
// __tls_get_addr call from inside the addon. 0: not assigned yet.
#if defined(__ELF__) && (defined(__GNUC__) || defined(__clang__)) && defined(__GLIBC__)
thread_local unsigned t_ordinal __attribute__((tls_model("initial-exec"))) = 0;
#else
thread_local unsigned t_ordinal = 0;
#endif
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
