// NUMA topology, placement and pinning; the why and the invariants are in
// threadmap/detail/numa.hpp.
#include "threadmap/detail/numa.hpp"

#include "threadmap/detail/alloc.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <mutex>
#include <new>
#include <stdexcept>
#include <thread>

#if defined(__linux__) && !defined(THREADMAP_NO_NUMA)
#define THREADMAP_NUMA_LINUX 1
#include <sched.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <filesystem>

#if defined(__SANITIZE_ADDRESS__)
#define THREADMAP_NUMA_LSAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define THREADMAP_NUMA_LSAN 1
#endif
#endif
#ifdef THREADMAP_NUMA_LSAN
#include <sanitizer/lsan_interface.h>
#endif
#endif

namespace threadmap::numa {

// ---------------------------------------------------------------------------
// Names

const char* to_string(policy_kind k) noexcept {
  switch (k) {
    case policy_kind::none:
      return "none";
    case policy_kind::local:
      return "local";
    case policy_kind::interleave:
      return "interleave";
    case policy_kind::node:
      return "node";
  }
  return "unknown";
}

const char* to_string(outcome o) noexcept {
  switch (o) {
    case outcome::kernel_default:
      return "default";
    case outcome::bound:
      return "bound";
    case outcome::partial:
      return "partial";
    case outcome::heap:
      return "heap";
    case outcome::skipped:
      return "skipped";
    case outcome::unsupported:
      return "unsupported";
    case outcome::failed:
      return "failed";
  }
  return "unknown";
}

bool parse_policy(std::string_view text, policy& out) noexcept {
  for (policy_kind k : all_policy_kinds)
    if (k != policy_kind::node && text == to_string(k)) {
      out = policy{k, 0};
      return true;
    }
  constexpr std::string_view prefix = "node:";
  if (text.substr(0, prefix.size()) != prefix) return false;
  const std::string_view id = text.substr(prefix.size());
  if (id.empty() || id.size() > 9) return false;
  unsigned n = 0;
  for (char c : id) {
    if (c < '0' || c > '9') return false;
    n = n * 10 + static_cast<unsigned>(c - '0');
  }
  out = policy{policy_kind::node, n};
  return true;
}

std::string to_text(const policy& p) {
  if (p.kind == policy_kind::node) return "node:" + std::to_string(p.node);
  return to_string(p.kind);
}

std::string policy_forms() {
  std::string out;
  for (policy_kind k : all_policy_kinds) {
    if (!out.empty()) out += k == policy_kind::node ? " or " : ", ";
    out += k == policy_kind::node ? "node:N (N a node id, e.g. node:0)" : to_string(k);
  }
  return out;
}

const char* describe(outcome o) noexcept {
  switch (o) {
    case outcome::kernel_default:
      return "policy none: the kernel put each page where it was first touched";
    case outcome::bound:
      return "the kernel accepted the policy for the table's pages";
    case outcome::partial:
      return "interleaved over the decided nodes this process can allocate on; the others are "
             "not real nodes here (simulated topology) or are outside its cpuset";
    case outcome::heap:
      return "smaller than a page: allocated on the heap, whose pages other objects share, so "
             "no policy was applied and the page is where it was first touched";
    case outcome::skipped:
      return "the decided node is not one this process can allocate on (a simulated topology, "
             "or a cpuset): no system call was made and the kernel's default applies";
    case outcome::unsupported:
      return "this system has no NUMA memory-policy calls (not Linux, or a kernel without "
             "NUMA): the kernel's default applies";
    case outcome::failed:
      return "the kernel refused the memory policy (errno in error)";
  }
  return "unknown";
}

const char* mode_name(int mode) noexcept {
  switch (mode) {
    case 0:
      return "default";
    case 1:
      return "preferred";
    case 2:
      return "bind";
    case 3:
      return "interleave";
    case 4:
      return "local";
    case 5:
      return "preferred_many";
    case 6:
      return "weighted_interleave";
    default:
      return "unknown";
  }
}

// ---------------------------------------------------------------------------
// Topology: queries

int topology::node_of_cpu(int cpu) const noexcept {
  if (cpu < 0) return -1;
  for (const node& n : nodes) {
    if (std::binary_search(n.cpus.begin(), n.cpus.end(), static_cast<unsigned>(cpu)))
      return static_cast<int>(n.id);
  }
  return -1;
}

bool topology::has_node(unsigned id) const noexcept {
  for (const node& n : nodes)
    if (n.id == id) return true;
  return false;
}

std::string topology::node_list() const {
  std::string s;
  for (const node& n : nodes) {
    if (!s.empty()) s += ", ";
    s += std::to_string(n.id);
  }
  return s;
}

std::vector<unsigned> topology::memory_nodes() const {
  std::vector<unsigned> v;
  for (const node& n : nodes)
    if (n.memory_bytes) v.push_back(n.id);
  if (v.empty())
    for (const node& n : nodes) v.push_back(n.id);
  return v;
}

namespace {

// ---------------------------------------------------------------------------
// sysfs parsing: strict, because a wrong topology silently misplaces memory.

std::string shorten(const std::string& s) {
  std::size_t n = s.size();
  while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == ' ')) --n;
  std::string t;
  for (char c : s.substr(0, std::min<std::size_t>(n, 60))) t += (c == '\n' ? '|' : c);
  if (n > 60) t += "...";
  return t;
}

// Reads a small sysfs file; false when it cannot be opened.
bool read_file(const std::string& path, std::string& out) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return false;
  out.clear();
  char buf[4096];
  while (f.read(buf, sizeof buf) || f.gcount() > 0) {
    out.append(buf, static_cast<std::size_t>(f.gcount()));
    if (out.size() > (1u << 20)) break;  // no sysfs file we read is this large
  }
  return true;
}

// "0-3,8,10-11" (sysfs cpulist / nodelist format); blank is the empty list.
bool parse_list(const std::string& text, unsigned limit, std::vector<unsigned>& out) {
  out.clear();
  std::size_t i = 0, n = text.size();
  while (n > 0 && (text[n - 1] == '\n' || text[n - 1] == ' ')) --n;
  if (n == 0) return true;
  auto number = [&](unsigned& v) {
    if (i >= n || text[i] < '0' || text[i] > '9') return false;
    unsigned long long x = 0;
    while (i < n && text[i] >= '0' && text[i] <= '9') {
      x = x * 10 + static_cast<unsigned>(text[i++] - '0');
      if (x > limit) return false;
    }
    v = static_cast<unsigned>(x);
    return true;
  };
  for (;;) {
    unsigned a, b;
    if (!number(a)) return false;
    b = a;
    if (i < n && text[i] == '-') {
      ++i;
      if (!number(b) || b < a) return false;
    }
    for (unsigned c = a; c <= b; ++c) out.push_back(c);
    if (i == n) break;
    if (text[i] != ',') return false;
    ++i;
  }
  std::sort(out.begin(), out.end());
  return std::adjacent_find(out.begin(), out.end()) == out.end();
}

// "Node 0 MemTotal:   8218844 kB" somewhere in nodeN/meminfo.
bool parse_memtotal(const std::string& text, std::uint64_t& bytes) {
  const std::size_t at = text.find("MemTotal:");
  if (at == std::string::npos) return false;
  std::size_t i = at + 9;
  while (i < text.size() && text[i] == ' ') ++i;
  if (i >= text.size() || text[i] < '0' || text[i] > '9') return false;
  std::uint64_t kb = 0;
  while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
    if (kb > (~std::uint64_t{0} >> 11)) return false;
    kb = kb * 10 + static_cast<unsigned>(text[i++] - '0');
  }
  while (i < text.size() && text[i] == ' ') ++i;
  if (text.compare(i, 2, "kB") != 0) return false;
  bytes = kb * 1024;
  return true;
}

constexpr unsigned max_cpus = 1u << 16;

std::uint64_t physical_memory() noexcept {
#if defined(THREADMAP_NUMA_LINUX)
  const long pages = sysconf(_SC_PHYS_PAGES), size = sysconf(_SC_PAGESIZE);
  if (pages > 0 && size > 0) return std::uint64_t(pages) * std::uint64_t(size);
#endif
  return 0;
}

topology one_node(std::string source, std::string error) {
  topology t;
  node n;
  n.cpus = online_cpus();
  n.memory_bytes = physical_memory();
  t.nodes.push_back(std::move(n));
  t.source = std::move(source);
  t.error = std::move(error);
  return t;
}

}  // namespace

namespace {

topology read_topology_unchecked(const std::string& sysfs_root, bool simulated) {
#if defined(THREADMAP_NUMA_LINUX)
  const std::string dir = sysfs_root + "/devices/system/node";
  auto fail = [&](const std::string& what) {
    topology t = one_node(dir, what + "; using one node (node 0 with every online CPU)");
    t.simulated = simulated;
    return t;
  };
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) {
    if (simulated) return fail(dir + " is not a directory");
    // A kernel built without NUMA has no node directory: one node, no error.
    return one_node(dir + " (absent: a kernel without NUMA)", "");
  }
  std::vector<unsigned> ids;
  std::string text;
  const std::string online = dir + "/online";
  if (read_file(online, text)) {
    if (!parse_list(text, max_nodes - 1, ids))
      return fail(online + ": expected a node list like 0-3, got '" + shorten(text) + "'");
  } else {
    // Older kernels: the node<N> directories are the list.
    for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
      const std::string name = e.path().filename().string();
      if (name.size() > 4 && name.compare(0, 4, "node") == 0 &&
          name.find_first_not_of("0123456789", 4) == std::string::npos) {
        std::vector<unsigned> one;
        if (!parse_list(name.substr(4), max_nodes - 1, one) || one.size() != 1)
          return fail(dir + ": node directory '" + name + "' has an id past " +
                      std::to_string(max_nodes - 1));
        ids.push_back(one[0]);
      }
    }
    std::sort(ids.begin(), ids.end());
  }
  if (ids.empty()) return fail(dir + ": no nodes are listed");

  topology t;
  t.source = dir;
  t.simulated = simulated;
  std::vector<int> owner(max_cpus, -1);  // which node claimed each CPU
  for (unsigned id : ids) {
    node n;
    n.id = id;
    const std::string nd = dir + "/node" + std::to_string(id);
    const std::string cpulist = nd + "/cpulist";
    if (!read_file(cpulist, text))
      return fail(cpulist + " cannot be read (node " + std::to_string(id) +
                  " is listed but has no cpulist)");
    if (!parse_list(text, max_cpus - 1, n.cpus))
      return fail(cpulist + ": expected a CPU list like 0-3,8, got '" + shorten(text) + "'");
    for (unsigned c : n.cpus) {
      if (owner[c] >= 0)
        return fail(cpulist + ": CPU " + std::to_string(c) + " is also in node " +
                    std::to_string(owner[c]));
      owner[c] = static_cast<int>(id);
    }
    const std::string meminfo = nd + "/meminfo";
    if (read_file(meminfo, text) && !parse_memtotal(text, n.memory_bytes))
      return fail(meminfo + ": no 'MemTotal: <number> kB' line in '" + shorten(text) + "'");
    t.nodes.push_back(std::move(n));
  }
  return t;
#else
  (void)sysfs_root;
  topology t = one_node("(no NUMA support in this build: one node)", "");
  t.simulated = simulated;
  return t;
#endif
}

}  // namespace

topology read_topology(const std::string& sysfs_root, bool simulated) {
  try {
    return read_topology_unchecked(sysfs_root, simulated);
  } catch (const std::bad_alloc&) {
    throw;  // not the machine's topology: a fallback read now would be cached for good
  } catch (const std::exception& e) {
    // A directory that vanished mid-walk, and the like: still one node.
    topology t = one_node(sysfs_root, std::string("reading the NUMA topology failed: ") + e.what() +
                                          "; using one node");
    t.simulated = simulated;
    return t;
  }
}

namespace {

std::mutex topology_mutex;
std::shared_ptr<const topology> topology_now;  // guarded by topology_mutex

std::shared_ptr<const topology> load_topology() {
  const char* root = std::getenv("THREADMAP_SYSFS_ROOT");
  if (root && *root) return std::make_shared<const topology>(read_topology(root, true));
  return std::make_shared<const topology>(read_topology("/sys", false));
}

}  // namespace

std::shared_ptr<const topology> current_topology() {
  std::lock_guard lock(topology_mutex);
  if (!topology_now) topology_now = load_topology();
  return topology_now;
}

void reload_topology() {
  auto fresh = load_topology();
  std::lock_guard lock(topology_mutex);
  topology_now = std::move(fresh);
}

// ---------------------------------------------------------------------------
// The kernel's memory-policy calls (linux/mempolicy.h values, so no libnuma
// or numaif.h is needed to build either).

namespace {

#if defined(THREADMAP_NUMA_LINUX)
constexpr int mpol_preferred = 1;
constexpr int mpol_bind = 2;
constexpr int mpol_interleave = 3;
constexpr unsigned long mpol_f_node = 1;
constexpr unsigned long mpol_f_addr = 2;
constexpr unsigned long mpol_f_mems_allowed = 4;
constexpr std::size_t mask_words = max_nodes / (8 * sizeof(unsigned long));
// The kernel reads maxnode - 1 bits (a historical off-by-one every caller,
// libnuma included, compensates for).
constexpr unsigned long mask_maxnode = max_nodes + 1;

std::vector<unsigned> mask_to_list(const unsigned long* mask) {
  std::vector<unsigned> v;
  constexpr unsigned bits = 8 * sizeof(unsigned long);
  for (unsigned i = 0; i < max_nodes; ++i)
    if (mask[i / bits] >> (i % bits) & 1) v.push_back(i);
  return v;
}

std::size_t page_size() noexcept {
  static const std::size_t p = [] {
    const long s = sysconf(_SC_PAGESIZE);
    return s > 0 ? static_cast<std::size_t>(s) : std::size_t{4096};
  }();
  return p;
}
#else
std::size_t page_size() noexcept {
  return 4096;
}
#endif

thread_local int t_cpu_override = -1;
thread_local bool t_cpu_overridden = false;

}  // namespace

const std::vector<unsigned>& allowed_nodes() {
  static const std::vector<unsigned> nodes = [] {
#if defined(THREADMAP_NUMA_LINUX)
    unsigned long mask[mask_words] = {};
    int mode = 0;
    if (syscall(SYS_get_mempolicy, &mode, mask, mask_maxnode, nullptr, mpol_f_mems_allowed) == 0)
      return mask_to_list(mask);
#endif
    return std::vector<unsigned>{};  // unknown: no memory-policy calls here
  }();
  return nodes;
}

// ---------------------------------------------------------------------------
// The calling thread

int current_cpu() noexcept {
  if (t_cpu_overridden) return t_cpu_override;
#if defined(THREADMAP_NUMA_LINUX)
  unsigned cpu = 0, node = 0;
  if (syscall(SYS_getcpu, &cpu, &node, nullptr) == 0) return static_cast<int>(cpu);
#endif
  return -1;
}

int current_node() noexcept {
  try {
    const std::shared_ptr<const topology> t = current_topology();
#if defined(THREADMAP_NUMA_LINUX)
    if (!t_cpu_overridden && !t->simulated && t->error.empty()) {
      unsigned cpu = 0, node = 0;
      if (syscall(SYS_getcpu, &cpu, &node, nullptr) == 0) return static_cast<int>(node);
    }
#endif
    const int n = t->node_of_cpu(current_cpu());
    return n >= 0 ? n : (t->nodes.size() == 1 ? static_cast<int>(t->nodes[0].id) : -1);
  } catch (...) {
    return -1;
  }
}

std::vector<unsigned> online_cpus() {
  std::vector<unsigned> v;
#if defined(THREADMAP_NUMA_LINUX)
  std::string text;
  if (read_file("/sys/devices/system/cpu/online", text) && parse_list(text, max_cpus - 1, v) &&
      !v.empty())
    return v;
  v.clear();
  const long n = sysconf(_SC_NPROCESSORS_CONF);
  for (long i = 0; i < n && i < long(max_cpus); ++i) v.push_back(static_cast<unsigned>(i));
#else
  const unsigned n = std::thread::hardware_concurrency();
  for (unsigned i = 0; i < n; ++i) v.push_back(i);
#endif
  if (v.empty()) v.push_back(0);
  return v;
}

std::vector<unsigned> thread_affinity() {
  std::vector<unsigned> v;
#if defined(THREADMAP_NUMA_LINUX)
  // The kernel's mask may be wider than glibc's fixed cpu_set_t: grow until it fits.
  for (unsigned ncpus = 1024; ncpus <= max_cpus; ncpus *= 2) {
    cpu_set_t* set = CPU_ALLOC(ncpus);
    if (!set) break;
    const std::size_t size = CPU_ALLOC_SIZE(ncpus);
    CPU_ZERO_S(size, set);
    if (sched_getaffinity(0, size, set) == 0) {
      for (unsigned c = 0; c < ncpus; ++c)
        if (CPU_ISSET_S(c, size, set)) v.push_back(c);
      CPU_FREE(set);
      return v;
    }
    const int e = errno;
    CPU_FREE(set);
    if (e != EINVAL) break;
  }
#endif
  return online_cpus();
}

int pin_thread(const std::vector<unsigned>& cpus) {
#if defined(THREADMAP_NUMA_LINUX)
  if (cpus.empty()) return EINVAL;
  const unsigned top = *std::max_element(cpus.begin(), cpus.end());
  if (top >= max_cpus) return EINVAL;
  const unsigned ncpus = std::max(top + 1, 1024u);
  cpu_set_t* set = CPU_ALLOC(ncpus);
  if (!set) return ENOMEM;
  const std::size_t size = CPU_ALLOC_SIZE(ncpus);
  CPU_ZERO_S(size, set);
  for (unsigned c : cpus) CPU_SET_S(c, size, set);
  // pid 0: the calling thread (Linux affinity is per thread).
  const int r = sched_setaffinity(0, size, set);
  const int e = errno;
  CPU_FREE(set);
  return r == 0 ? 0 : e;
#else
  (void)cpus;
  return ENOSYS;
#endif
}

// ---------------------------------------------------------------------------
// Policies and placement

std::string validate(const policy& p, const topology& t) {
  if (p.kind != policy_kind::node) return {};
  if (!t.has_node(p.node))
    return "node " + std::to_string(p.node) + " does not exist; the nodes are " + t.node_list();
  const std::vector<unsigned>& allowed = allowed_nodes();
  // Only a real topology can be held to the kernel's cpuset (a simulated one
  // names nodes this machine does not have; that is its purpose).
  if (!t.simulated && !allowed.empty() &&
      !std::binary_search(allowed.begin(), allowed.end(), p.node)) {
    std::string list;
    for (unsigned n : allowed) list += (list.empty() ? "" : ", ") + std::to_string(n);
    return "node " + std::to_string(p.node) +
           " exists but this process may not allocate on it (its cpuset allows nodes " + list + ")";
  }
  return {};
}

decision decide(const policy& p, const topology& t, int cpu) noexcept {
  decision d;
  d.kind = p.kind;
  switch (p.kind) {
    case policy_kind::none:
    case policy_kind::interleave:
      break;
    case policy_kind::node:
      d.node = static_cast<int>(p.node);
      break;
    case policy_kind::local: {
      const int n = t.node_of_cpu(cpu);
      // A CPU no node lists (unknown, or missing from a simulated topology):
      // the first node, so the decision is still deterministic.
      d.node = n >= 0 ? n : static_cast<int>(t.nodes.front().id);
      break;
    }
  }
  return d;
}

namespace {

bool uses_mmap(std::size_t bytes, const policy& p) noexcept {
  return bytes >= huge_bytes || (p.kind != policy_kind::none && bytes >= page_size());
}

std::size_t round_up(std::size_t n, std::size_t to) noexcept {
  return (n + to - 1) / to * to;
}

#if defined(THREADMAP_NUMA_LINUX)
// Asks the kernel for decision `d` over [mem, mem + len): only for the decided
// nodes this process can really allocate on.
void apply(void* mem, std::size_t len, const decision& d, const topology& t, placement& where) {
  const std::vector<unsigned>& allowed = allowed_nodes();
  if (allowed.empty()) {
    where.result = outcome::unsupported;
    return;
  }
  std::vector<unsigned> wanted;
  if (d.kind == policy_kind::interleave) {
    wanted = t.memory_nodes();
  } else if (d.node >= 0) {
    wanted.push_back(static_cast<unsigned>(d.node));
  }
  unsigned long mask[mask_words] = {};
  std::size_t real = 0;
  constexpr unsigned bits = 8 * sizeof(unsigned long);
  for (unsigned n : wanted) {
    if (n < max_nodes && std::binary_search(allowed.begin(), allowed.end(), n)) {
      mask[n / bits] |= 1ul << (n % bits);
      ++real;
    }
  }
  if (real == 0) {
    where.result = outcome::skipped;
    return;
  }
  // `local` prefers its node and falls back to others when it is full: a
  // table must keep working when one node runs out. A fixed node binds, as
  // `numactl --membind` does: the caller asked for that node and no other.
  const int mode = d.kind == policy_kind::interleave ? mpol_interleave
                   : d.kind == policy_kind::node     ? mpol_bind
                                                     : mpol_preferred;
  if (syscall(SYS_mbind, mem, len, mode, mask, mask_maxnode, 0u) != 0) {
    where.error = errno;
    where.result = where.error == ENOSYS ? outcome::unsupported : outcome::failed;
    return;
  }
  where.result = real < wanted.size() ? outcome::partial : outcome::bound;
}
#endif

}  // namespace

std::size_t footprint(std::size_t bytes, const policy& p) noexcept {
#if defined(THREADMAP_NUMA_LINUX)
  if (uses_mmap(bytes, p)) return round_up(bytes, page_size());
#else
  (void)p;
#endif
  return bytes;
}

void* allocate(std::size_t bytes, const policy& p, placement& where) {
  if (detail::fail_allocation()) throw std::bad_alloc();
  where = placement{};
  where.policy = p.kind;
  if (bytes == 0) bytes = 1;
#if defined(THREADMAP_NUMA_LINUX)
  if (uses_mmap(bytes, p)) {
    const std::size_t len = round_up(bytes, page_size());
    void* mem = mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED) throw std::bad_alloc();
    where.mapped = len;  // anonymous pages are born zeroed: no memset, no early touch
#ifdef THREADMAP_NUMA_LSAN
    // LeakSanitizer scans the heap, stacks and globals, not mmap'd memory:
    // the blob and node pointers a mapped table holds would look unreferenced
    // (at exit, every table still waiting in the epoch domain). Registered as
    // a root region for exactly as long as it is mapped.
    __lsan_register_root_region(mem, len);
#endif
    if (p.kind != policy_kind::none) {
      try {
        const std::shared_ptr<const topology> t = current_topology();
        const decision d = decide(p, *t, current_cpu());
        where.node = d.node;
        apply(mem, len, d, *t, where);
      } catch (...) {
        munmap(mem, len);
        throw;
      }
    }
    return mem;
  }
#endif
  // Loaded before the memory is taken: loading may throw.
  const std::shared_ptr<const topology> topo =
      p.kind == policy_kind::none ? nullptr : current_topology();
  // Aligned operator new, not std::aligned_alloc: MinGW's C runtime (the
  // win32-x64 prebuild) has no aligned_alloc, and every C++ runtime has this.
  void* mem = ::operator new (round_up(bytes, 64), std::align_val_t{64}, std::nothrow);
  if (!mem) throw std::bad_alloc();
  std::memset(mem, 0, bytes);
  if (p.kind != policy_kind::none) {
    // Decided (and reported) even though it cannot be applied to a shared page.
    const decision d = decide(p, *topo, current_cpu());
    where.node = d.node;
#if defined(THREADMAP_NUMA_LINUX)
    where.result = outcome::heap;
#else
    where.result = outcome::unsupported;
#endif
  }
  return mem;
}

void deallocate(void* ptr, const placement& where) noexcept {
  if (!ptr) return;
  // Copied first: `where` usually lives inside the memory being returned.
  const std::size_t mapped = where.mapped;
#if defined(THREADMAP_NUMA_LINUX)
  if (mapped) {
#ifdef THREADMAP_NUMA_LSAN
    __lsan_unregister_root_region(ptr, mapped);
#endif
    munmap(ptr, mapped);
    return;
  }
#else
  (void)mapped;
#endif
  ::operator delete (ptr, std::align_val_t{64});
}

page_report read_back(const void* addr) {
  page_report r;
#if defined(THREADMAP_NUMA_LINUX)
  int node = -1;
  if (syscall(SYS_get_mempolicy, &node, nullptr, 0ul, addr, mpol_f_node | mpol_f_addr) == 0) {
    r.node = node;
  } else {
    r.error = errno;
  }
  int mode = -1;
  unsigned long mask[mask_words] = {};
  if (syscall(SYS_get_mempolicy, &mode, mask, mask_maxnode, addr, mpol_f_addr) == 0) {
    r.mode = mode & 0xFF;  // the high bits are mode flags (static/relative nodes)
    r.mode_nodes = mask_to_list(mask);
  } else if (r.error == 0) {
    r.error = errno;
  }
#else
  (void)addr;
  r.error = ENOSYS;
#endif
  return r;
}

void testing::set_thread_cpu(int cpu) noexcept {
  t_cpu_overridden = cpu >= 0;
  t_cpu_override = cpu;
}

}  // namespace threadmap::numa

namespace threadmap {

void check_numa_policy(const numa::policy& p) {
  if (p.kind != numa::policy_kind::node) return;
  const std::string bad = numa::validate(p, *numa::current_topology());
  if (!bad.empty()) throw std::invalid_argument("threadmap: numa: " + bad);
}

}  // namespace threadmap
