// The fault-injection hook; see threadmap/detail/alloc.hpp.
#include "threadmap/detail/alloc.hpp"

namespace threadmap {
namespace detail::fault {

std::atomic<unsigned> armed{0};

namespace {
struct thread_state {
  bool armed = false;
  bool failed = false;
  std::uint64_t count = 0;
  std::uint64_t fail_at = fault_injection::never;
};
thread_local thread_state t_state;
}  // namespace

bool fail_armed() noexcept {
  thread_state& s = t_state;
  if (!s.armed) return false;  // another thread is armed, not this one
  const bool fail = s.count++ == s.fail_at;
  if (fail) s.failed = true;
  return fail;
}

}  // namespace detail::fault

namespace fault_injection {

void arm(std::uint64_t fail_at) noexcept {
  detail::fault::thread_state& s = detail::fault::t_state;
  if (!s.armed) detail::fault::armed.fetch_add(1, std::memory_order_relaxed);
  s = {true, false, 0, fail_at};
}

report disarm() noexcept {
  detail::fault::thread_state& s = detail::fault::t_state;
  if (!s.armed) return {};
  detail::fault::armed.fetch_sub(1, std::memory_order_relaxed);
  const report r{s.count, s.failed};
  s = {};
  return r;
}

}  // namespace fault_injection
}  // namespace threadmap
