// threadmap/placement.hpp — where a map's table memory goes: the NUMA policy a
// map is created with (options::numa_policy) and what a map reports about
// each table it placed (concurrent_map::placement()).
//
// These are values only. Deciding a placement, asking the kernel for it
// (mbind) and reading it back (get_mempolicy) is the allocator's business
// (threadmap/detail/numa.hpp, whose essay gives the invariants); the machine
// the policies refer to (nodes, CPUs, pinning) is threadmap/topology.hpp. So
// the map interface carries a policy without knowing how it is carried out,
// and a strategy places its arrays without the caller's help.
//
// A policy is a request; a report is what happened. They differ where the
// request could not be carried out (a node this process may not allocate on,
// a simulated topology, memory smaller than a page, no NUMA system calls),
// and the report then says why (outcome, describe()) rather than pretending.
// What a report calls "the node of this memory" is the kernel's answer for the
// array's first page, never the node that was asked for.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace threadmap::numa {

enum class policy_kind : std::uint8_t {
  none,        // the kernel's default: each page where it is first touched
  local,       // the node of the thread that allocates (creates or grows the table)
  interleave,  // page by page over every node with memory
  node,        // a fixed node (policy::node)
};
const char* to_string(policy_kind k) noexcept;

/// Every policy kind, in the order messages list them: the one list of them
/// (parse_policy, policy_forms and the binding's `numa` option read it).
inline constexpr policy_kind all_policy_kinds[] = {policy_kind::local, policy_kind::interleave,
                                                   policy_kind::none, policy_kind::node};

struct policy {
  policy_kind kind = policy_kind::none;
  unsigned node = 0;  // policy_kind::node only
};

/// A policy's text form: "local", "interleave", "none" or "node:N" (N a node
/// id in decimal, at most nine digits). False, and `out` untouched, for
/// anything else. Whether node N exists is topology.hpp's validate().
bool parse_policy(std::string_view text, policy& out) noexcept;
/// The text form parse_policy reads back ("node:3", "interleave", ...).
std::string to_text(const policy& p);
/// "local, interleave, none or node:N (N a node id, e.g. node:0)": the text
/// forms, for messages.
std::string policy_forms();

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

/// The kernel's answer for the page holding an address.
struct page_report {
  int node = -1;                     // node of the page (get_mempolicy MPOL_F_NODE | MPOL_F_ADDR)
  int mode = -1;                     // the policy mode of the range (MPOL_*), -1 unknown
  std::vector<unsigned> mode_nodes;  // the nodes of that policy
  int error = 0;                     // errno of the first failing call
};
/// "default", "preferred", "bind", "interleave", "local", ... for page_report::mode.
const char* mode_name(int mode) noexcept;

/// One table's placement as reported by concurrent_map::placement().
struct table_report {
  std::size_t table = 0;  // stripe index
  std::size_t bytes = 0;  // bytes of the table's array; 0: no array yet
  placement where;        // decided and done at the array's last (re)allocation
  page_report kernel;     // read back from the array's first page
};

}  // namespace threadmap::numa
