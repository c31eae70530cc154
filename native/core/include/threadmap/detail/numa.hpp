// threadmap/detail/numa.hpp — NUMA topology, memory placement and thread
// pinning, from inside the process and without libnuma: the machinery behind
// threadmap/placement.hpp (the policy values and reports) and
// threadmap/topology.hpp (the machine).
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
#include <memory>
#include <string>
#include <vector>

#include "threadmap/placement.hpp"
#include "threadmap/topology.hpp"

namespace threadmap::numa {

/// Allocations at least this large always come from mmap (page-aligned, munmap
/// on free), whatever the policy: they return to the system when freed.
inline constexpr std::size_t huge_bytes = std::size_t{1} << 20;

/// Reads the topology under `sysfs_root` (the directory that stands for /sys:
/// nodes come from <root>/devices/system/node). Never throws for malformed
/// content: see topology::error. `simulated` marks a root other than /sys.
topology read_topology(const std::string& sysfs_root, bool simulated);

/// Reads the topology again (tests that change $THREADMAP_SYSFS_ROOT).
/// Tables keep the placements they were given.
void reload_topology();

/// Nodes the kernel lets this process allocate on (get_mempolicy
/// MPOL_F_MEMS_ALLOWED), ascending; {0} where that is unknown.
const std::vector<unsigned>& allowed_nodes();

/// What to ask for, decided without any syscall.
struct decision {
  policy_kind kind = policy_kind::none;
  int node = -1;  // local and node: the chosen node
};
/// `cpu` is the allocating thread's CPU (-1: unknown). `local` picks the node
/// whose cpulist holds it, or the first node when none does.
decision decide(const policy& p, const topology& t, int cpu) noexcept;

/// Bytes allocate(bytes, p) takes from the system (page-rounded when it maps).
std::size_t footprint(std::size_t bytes, const policy& p) noexcept;

/// Zeroed, 64-byte aligned memory placed per `p` for the calling thread.
/// Throws std::bad_alloc. Free with deallocate(ptr, where).
void* allocate(std::size_t bytes, const policy& p, placement& where);
void deallocate(void* ptr, const placement& where) noexcept;

/// The kernel's answer for the page holding `addr`.
page_report read_back(const void* addr);

namespace testing {
/// Tests only: makes current_cpu() answer `cpu` on the calling thread, so
/// `local` placement can be driven to every node of a simulated topology on a
/// machine with fewer CPUs; -1 restores getcpu.
void set_thread_cpu(int cpu) noexcept;
}  // namespace testing

}  // namespace threadmap::numa

namespace threadmap {

/// Throws std::invalid_argument ("threadmap: numa: <why>") when `p` names a
/// fixed node the current topology does not have or this process may not
/// allocate on. Every strategy's constructor calls it before it allocates
/// anything. Only a fixed node can be invalid, so other policies never read
/// the topology here and maps without NUMA placement never touch sysfs.
void check_numa_policy(const numa::policy& p);

}  // namespace threadmap
