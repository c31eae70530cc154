// threadmap/detail/numa.hpp — NUMA topology, memory placement and thread pinning,
// from inside the process and without libnuma.
//
// Why. On a server with several NUMA nodes a load from another node's memory
// costs more than a local one (often 1.5-2x the latency, less bandwidth). A
// table that every thread reads should be spread over the nodes
// (`interleave`); a table that the threads of one node use should be on that
// node (`local`, or a fixed node). The kernel already places a page where the
// thread that first touches it runs ("first touch", policy `none` here), which
// is right for thread-private memory and wrong for a shared table grown by
// whichever thread happened to insert the key that filled it.
//
// How. Everything goes through syscall(2): getcpu, mbind, get_mempolicy,
// sched_setaffinity; the topology comes from /sys/devices/system/node. A
// prebuilt binary therefore needs no libnuma at run time, and a kernel
// without NUMA support simply answers ENOSYS, which is reported, not fatal.
// Builds for other systems (or with THREADMAP_NO_NUMA defined) compile to one
// node holding every CPU, where every placement is the allocator's default.
//
// Invariants.
//  - Deciding is separate from doing. decide() is a pure function of a policy,
//    a topology and a CPU number; allocate() asks the kernel for what was
//    decided only for nodes this process may really use (the kernel's
//    mems_allowed). So a simulated topology (THREADMAP_SYSFS_ROOT, the test
//    seam) exercises every decision on a one-node machine, and the syscalls
//    made there target only real nodes; anything skipped is recorded in the
//    placement with its reason, never silently dropped.
//  - A policy is only applied to memory that has pages of its own: mbind acts
//    on whole pages, so binding part of a page shared with other heap objects
//    would move them too. Allocations of at least a page (with a policy) or
//    of `huge_bytes` (always) come from mmap, page-aligned, and go back with
//    munmap; smaller ones come from the heap and are reported as such.
//  - The policy is set before the first touch, so pages are born where they
//    belong (no migration, no MPOL_MF_MOVE).
//  - What a caller reports as "the node of this memory" is read back from the
//    kernel (get_mempolicy with MPOL_F_NODE | MPOL_F_ADDR), never the node
//    that was asked for.
//  - Malformed sysfs content never throws out of topology discovery: the
//    topology records what was wrong and falls back to one node.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace threadmap::numa {

/// Node ids this code handles (the kernel's MAX_NUMNODES on the largest configs).
inline constexpr unsigned max_nodes = 1024;
/// Allocations at least this large always come from mmap (page-aligned, munmap
/// on free), whatever the policy: they return to the system when freed.
inline constexpr std::size_t huge_bytes = std::size_t{1} << 20;

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

/// Reads the topology under `sysfs_root` (the directory that stands for /sys:
/// nodes come from <root>/devices/system/node). Never throws for malformed
/// content: see topology::error. `simulated` marks a root other than /sys.
topology read_topology(const std::string& sysfs_root, bool simulated);

/// The process's topology, read once: from $THREADMAP_SYSFS_ROOT when it is
/// set and non-empty (simulated), else from /sys.
std::shared_ptr<const topology> current_topology();
/// Reads the topology again (tests that change $THREADMAP_SYSFS_ROOT).
/// Tables keep the placements they were given.
void reload_topology();

/// Nodes the kernel lets this process allocate on (get_mempolicy
/// MPOL_F_MEMS_ALLOWED), ascending; {0} where that is unknown.
const std::vector<unsigned>& allowed_nodes();

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

// --- policies and placement ---------------------------------------------

enum class policy_kind : std::uint8_t {
  none,        // the kernel's default: each page where it is first touched
  local,       // the node of the thread that allocates (creates or grows the table)
  interleave,  // page by page over every node with memory
  node,        // a fixed node (policy::node)
};
const char* to_string(policy_kind k) noexcept;

struct policy {
  policy_kind kind = policy_kind::none;
  unsigned node = 0;  // policy_kind::node only
};

/// Empty when `p` can be used with `t`; otherwise why not (a node that is not
/// in the topology, or one this process may not allocate on).
std::string validate(const policy& p, const topology& t);

/// What to ask for, decided without any syscall.
struct decision {
  policy_kind kind = policy_kind::none;
  int node = -1;  // local and node: the chosen node
};
/// `cpu` is the allocating thread's CPU (-1: unknown). `local` picks the node
/// whose cpulist holds it, or the first node when none does.
decision decide(const policy& p, const topology& t, int cpu) noexcept;

/// What happened to one allocation.
enum class outcome : std::uint8_t {
  kernel_default,  // policy none: the kernel's default placement
  bound,           // the kernel accepted the policy for the allocation's pages
  partial,         // interleave: accepted over the real subset of the decided nodes
  heap,            // below a page: on the heap, placed by first touch, not bound
  skipped,         // the decided node is not one this process can allocate on
                   // (a simulated topology, or a cpuset): no syscall made
  unsupported,     // no NUMA system calls here (not Linux, or ENOSYS)
  failed,          // the kernel refused (placement::error is the errno)
};
const char* to_string(outcome o) noexcept;
/// One sentence for a user: why the outcome is what it is.
const char* describe(outcome o) noexcept;

/// Recorded with each allocation (in the table's own header), so the memory
/// can be returned with the matching call and reported later.
struct placement {
  std::size_t mapped = 0;  // bytes mapped with mmap (munmap on free); 0: from the heap
  std::int32_t node = -1;  // the decided node (local and node policies), -1 otherwise
  std::int32_t error = 0;  // errno when result is failed
  policy_kind policy = policy_kind::none;
  outcome result = outcome::kernel_default;
};

/// Bytes allocate(bytes, p) takes from the system (page-rounded when it maps).
std::size_t footprint(std::size_t bytes, const policy& p) noexcept;

/// Zeroed, 64-byte aligned memory placed per `p` for the calling thread.
/// Throws std::bad_alloc. Free with deallocate(ptr, where).
void* allocate(std::size_t bytes, const policy& p, placement& where);
void deallocate(void* ptr, const placement& where) noexcept;

/// The kernel's answer for the page holding `addr`.
struct page_report {
  int node = -1;                     // node of the page (get_mempolicy MPOL_F_NODE | MPOL_F_ADDR)
  int mode = -1;                     // the policy mode of the range (MPOL_*), -1 unknown
  std::vector<unsigned> mode_nodes;  // the nodes of that policy
  int error = 0;                     // errno of the first failing call
};
page_report read_back(const void* addr);
/// "default", "preferred", "bind", "interleave", "local", ... for page_report::mode.
const char* mode_name(int mode) noexcept;

/// One table's placement as reported by concurrent_map::placement().
struct table_report {
  std::size_t table = 0;  // stripe index
  std::size_t bytes = 0;  // bytes of the table's array; 0: no array yet
  placement where;        // decided and done at the array's last (re)allocation
  page_report kernel;     // read back from the array's first page
};

namespace testing {
/// Tests only: makes current_cpu() answer `cpu` on the calling thread, so
/// `local` placement can be driven to every node of a simulated topology on a
/// machine with fewer CPUs; -1 restores getcpu.
void set_thread_cpu(int cpu) noexcept;
}  // namespace testing

}  // namespace threadmap::numa
