// bench/native/perf_counters.hpp — per-thread perf_event counters.
//
// Each benchmark thread opens its own counters with perf_event_open(pid = 0,
// cpu = -1): they count that thread only, on whichever CPU it runs. Events are
// opened one by one, not as a group, so one that the machine refuses (a KVM
// guest with no virtual PMU answers ENOENT for every hardware event) does not
// take the others down with it. Each read returns time_enabled and
// time_running; when the kernel multiplexed a counter (more hardware events
// than registers) the count is scaled by enabled/running and marked so.
//
// An event that cannot be opened is carried as `unavailable` with errno and an
// explanation, and the report prints that explanation instead of a number:
// never a zero that looks like a measurement.
#pragma once

#include <array>
#include <cstdint>
#include <string>

namespace tmbench {

enum class event_id : int {
  cycles,
  instructions,
  cache_references,
  cache_misses,
  l1d_load_misses,
  llc_load_misses,
  dtlb_load_misses,
  branch_misses,
  task_clock,
  context_switches,
  page_faults,
  count_
};
inline constexpr int event_count = static_cast<int>(event_id::count_);

const char* event_name(int e) noexcept;

/// Why each event could (not) be opened in this process: probed once.
struct event_status {
  bool available = false;
  int error = 0;           // errno of perf_event_open
  std::string reason;      // human explanation when unavailable
  bool user_only = false;  // had to fall back to exclude_kernel=1
};

/// Probes every event once (opening and closing it on the calling thread).
const std::array<event_status, event_count>& probe_events();

/// Sum of a few threads' readings.
struct event_values {
  std::array<double, event_count> value{};  // scaled counts (task_clock in ns)
  std::array<bool, event_count> valid{};    // false: unavailable
  std::array<bool, event_count> scaled{};   // multiplexed (scaled by enabled/running)
  void add(const event_values& o);
};

/// The counters of one thread. Open on the thread that is measured.
class thread_counters {
 public:
  thread_counters();  // opens every available event, disabled
  ~thread_counters();
  thread_counters(const thread_counters&) = delete;
  thread_counters& operator=(const thread_counters&) = delete;

  void reset_and_enable() noexcept;
  void disable() noexcept;
  event_values read() const;

 private:
  std::array<int, event_count> fd_;
};

}  // namespace tmbench
