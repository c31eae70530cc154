// bench/native/perf_counters.cpp — perf_event_open plumbing (see the header).

#include "perf_counters.hpp"

#include <linux/perf_event.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>

namespace tmbench {

namespace {

struct event_def {
  const char* name;
  std::uint32_t type;
  std::uint64_t config;
};

constexpr std::uint64_t cache_event(std::uint64_t cache, std::uint64_t op, std::uint64_t result) {
  return cache | (op << 8) | (result << 16);
}

const std::array<event_def, event_count> defs = {{
    {"cycles", PERF_TYPE_HARDWARE, PERF_COUNT_HW_CPU_CYCLES},
    {"instructions", PERF_TYPE_HARDWARE, PERF_COUNT_HW_INSTRUCTIONS},
    {"cache-references", PERF_TYPE_HARDWARE, PERF_COUNT_HW_CACHE_REFERENCES},
    {"cache-misses", PERF_TYPE_HARDWARE, PERF_COUNT_HW_CACHE_MISSES},
    {"L1-dcache-load-misses", PERF_TYPE_HW_CACHE,
     cache_event(PERF_COUNT_HW_CACHE_L1D, PERF_COUNT_HW_CACHE_OP_READ,
                 PERF_COUNT_HW_CACHE_RESULT_MISS)},
    {"LLC-load-misses", PERF_TYPE_HW_CACHE,
     cache_event(PERF_COUNT_HW_CACHE_LL, PERF_COUNT_HW_CACHE_OP_READ,
                 PERF_COUNT_HW_CACHE_RESULT_MISS)},
    {"dTLB-load-misses", PERF_TYPE_HW_CACHE,
     cache_event(PERF_COUNT_HW_CACHE_DTLB, PERF_COUNT_HW_CACHE_OP_READ,
                 PERF_COUNT_HW_CACHE_RESULT_MISS)},
    {"branch-misses", PERF_TYPE_HARDWARE, PERF_COUNT_HW_BRANCH_MISSES},
    {"task-clock", PERF_TYPE_SOFTWARE, PERF_COUNT_SW_TASK_CLOCK},
    {"context-switches", PERF_TYPE_SOFTWARE, PERF_COUNT_SW_CONTEXT_SWITCHES},
    {"page-faults", PERF_TYPE_SOFTWARE, PERF_COUNT_SW_PAGE_FAULTS},
}};

int paranoid_level() {
  std::ifstream f("/proc/sys/kernel/perf_event_paranoid");
  int v = 99;
  if (!(f >> v)) v = 99;
  return v;
}

int open_event(const event_def& d, bool exclude_kernel) {
  perf_event_attr attr;
  std::memset(&attr, 0, sizeof attr);
  attr.size = sizeof attr;
  attr.type = d.type;
  attr.config = d.config;
  attr.disabled = 1;
  attr.exclude_kernel = exclude_kernel ? 1 : 0;
  attr.exclude_hv = 1;
  attr.read_format = PERF_FORMAT_TOTAL_TIME_ENABLED | PERF_FORMAT_TOTAL_TIME_RUNNING;
  return static_cast<int>(syscall(SYS_perf_event_open, &attr, 0, -1, -1, PERF_FLAG_FD_CLOEXEC));
}

std::string explain(int err) {
  switch (err) {
    case ENOENT:
    case EOPNOTSUPP:
      return std::string(err == ENOENT ? "ENOENT" : "EOPNOTSUPP") +
             ": no PMU visible for this event (a virtual machine without a virtual PMU, or "
             "an event this CPU does not have)";
    case EACCES:
    case EPERM:
      return std::string(err == EACCES ? "EACCES" : "EPERM") +
             ": not permitted, kernel.perf_event_paranoid=" + std::to_string(paranoid_level()) +
             " (lower it, or run with CAP_PERFMON)";
    case ENODEV:
      return "ENODEV: no such PMU on this machine";
    case ENOSYS:
      return "ENOSYS: perf_event_open is not available (kernel or seccomp)";
    default:
      return std::string(strerror(err)) + " (errno " + std::to_string(err) + ")";
  }
}

}  // namespace

const char* event_name(int e) noexcept {
  return defs[static_cast<std::size_t>(e)].name;
}

const std::array<event_status, event_count>& probe_events() {
  static const std::array<event_status, event_count> status = [] {
    std::array<event_status, event_count> s;
    for (int e = 0; e < event_count; ++e) {
      auto& st = s[static_cast<std::size_t>(e)];
      int fd = open_event(defs[static_cast<std::size_t>(e)], false);
      if (fd < 0 && (errno == EACCES || errno == EPERM)) {
        // With perf_event_paranoid >= 2 an unprivileged user may count user
        // space only.
        fd = open_event(defs[static_cast<std::size_t>(e)], true);
        st.user_only = fd >= 0;
      }
      if (fd >= 0 && st.user_only && e == static_cast<int>(event_id::context_switches)) {
        // Switches happen in the kernel: counted for user space only they
        // would always read 0, a zero that is not a measurement.
        close(fd);
        st.user_only = false;
        st.error = EACCES;
        st.reason = explain(EACCES) + "; counting user space only would read 0";
      } else if (fd >= 0) {
        st.available = true;
        close(fd);
      } else {
        st.error = errno;
        st.reason = explain(errno);
      }
    }
    return s;
  }();
  return status;
}

void event_values::add(const event_values& o) {
  for (int e = 0; e < event_count; ++e) {
    if (!o.valid[e]) continue;
    value[e] += o.value[e];
    valid[e] = true;
    scaled[e] = scaled[e] || o.scaled[e];
  }
}

thread_counters::thread_counters() {
  const auto& st = probe_events();
  for (int e = 0; e < event_count; ++e) {
    const auto& s = st[static_cast<std::size_t>(e)];
    fd_[e] = s.available ? open_event(defs[static_cast<std::size_t>(e)], s.user_only) : -1;
  }
}

thread_counters::~thread_counters() {
  for (int fd : fd_)
    if (fd >= 0) close(fd);
}

void thread_counters::reset_and_enable() noexcept {
  for (int fd : fd_) {
    if (fd < 0) continue;
    ioctl(fd, PERF_EVENT_IOC_RESET, 0);
    ioctl(fd, PERF_EVENT_IOC_ENABLE, 0);
  }
}

void thread_counters::disable() noexcept {
  for (int fd : fd_)
    if (fd >= 0) ioctl(fd, PERF_EVENT_IOC_DISABLE, 0);
}

event_values thread_counters::read() const {
  event_values v;
  for (int e = 0; e < event_count; ++e) {
    if (fd_[e] < 0) continue;
    std::uint64_t buf[3] = {0, 0, 0};  // value, time_enabled, time_running
    if (::read(fd_[e], buf, sizeof buf) != static_cast<ssize_t>(sizeof buf)) continue;
    double x = static_cast<double>(buf[0]);
    if (buf[2] == 0) continue;  // never scheduled on the PMU: no measurement at all
    if (buf[2] < buf[1]) {
      x *= static_cast<double>(buf[1]) / static_cast<double>(buf[2]);
      v.scaled[e] = true;
    }
    v.value[e] = x;
    v.valid[e] = true;
  }
  return v;
}

}  // namespace tmbench
