// threadmap/topology.hpp — the machine the NUMA policies refer to: its nodes
// and their CPUs, the CPU and node the calling thread runs on, and pinning a
// thread to CPUs.
//
// The topology is read once per process from /sys/devices/system/node, or
// from the directory $THREADMAP_SYSFS_ROOT names (a simulated machine: the
// test seam that lets a one-node machine exercise every placement decision).
// Reading it never fails: malformed content leaves a one-node topology that
// says what was wrong (topology::error). How it is read, and how a policy is
// carried out on it, is threadmap/detail/numa.hpp. Builds for systems without
// NUMA system calls (or with THREADMAP_NO_NUMA) see one node holding every
// CPU.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "threadmap/placement.hpp"

namespace threadmap::numa {

/// Node ids this code handles (the kernel's MAX_NUMNODES on the largest configs).
inline constexpr unsigned max_nodes = 1024;

struct node {
  unsigned id = 0;
  std::vector<unsigned> cpus;      // ascending
  std::uint64_t memory_bytes = 0;  // MemTotal of the node (0: a CPU-only node, or unknown)
};

struct topology {
  std::vector<node> nodes;  // ascending ids; never empty
  std::string source;       // the directory read, or what stood in for it
  bool simulated = false;   // read from $THREADMAP_SYSFS_ROOT rather than /sys
  std::string error;        // non-empty: what was malformed; `nodes` is then the fallback

  /// The node whose cpulist holds `cpu`, or -1.
  int node_of_cpu(int cpu) const noexcept;
  bool has_node(unsigned id) const noexcept;
  /// "0, 1, 2": the node ids, for messages.
  std::string node_list() const;
  /// Nodes with memory (interleave targets); all nodes if none reports any.
  std::vector<unsigned> memory_nodes() const;
};

/// The process's topology, read once: from $THREADMAP_SYSFS_ROOT when it is
/// set and non-empty (simulated), else from /sys.
std::shared_ptr<const topology> current_topology();

/// Empty when `p` can be used with `t`; otherwise why not (a node that is not
/// in the topology, or one this process may not allocate on).
std::string validate(const policy& p, const topology& t);

// --- the calling thread --------------------------------------------------

/// The CPU the calling thread runs on (getcpu), or -1.
int current_cpu() noexcept;
/// The node of current_cpu() in current_topology(); on a real topology that
/// is the node getcpu reports. -1 when unknown.
int current_node() noexcept;
/// CPUs that exist and are online (/sys/devices/system/cpu/online: always the
/// real machine, since pinning is real).
std::vector<unsigned> online_cpus();
/// The CPUs the calling thread may run on.
std::vector<unsigned> thread_affinity();
/// Restricts the calling thread to `cpus` (sched_setaffinity). Returns 0 or
/// an errno; on failure the affinity is unchanged.
int pin_thread(const std::vector<unsigned>& cpus);

}  // namespace threadmap::numa
