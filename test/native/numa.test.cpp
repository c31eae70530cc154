// NUMA: topology discovery (the real /sys and generated fake sysfs trees of
// 2, 4 and 8 nodes, and malformed ones), the placement decision, the
// allocator's system calls on this machine's real nodes (read back with
// get_mempolicy), per-stripe placement of the flat-table strategies, and
// thread pinning.
//
// The fake trees drive decisions for nodes this machine does not have; the
// kernel is only ever asked about real nodes, and what was skipped is checked
// to be reported as skipped.
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "check.hpp"
#include "threadmap/epoch.hpp"
#include "threadmap/map.hpp"
#include "threadmap/numa.hpp"

using namespace threadmap;
namespace fs = std::filesystem;

namespace {

constexpr int mode_preferred = 1, mode_bind = 2, mode_interleave = 3;

// A temporary directory standing for /sys, removed at the end of the scope.
struct fake_sysfs {
  fs::path root;
  fake_sysfs() {
    std::string tmpl = (fs::temp_directory_path() / "threadmap-numa-XXXXXX").string();
    if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
    root = tmpl;
    fs::create_directories(dir());
  }
  ~fake_sysfs() {
    std::error_code ec;
    fs::remove_all(root, ec);
  }
  fs::path dir() const { return root / "devices/system/node"; }
  void write(const std::string& rel, const std::string& text) const {
    fs::create_directories((dir() / rel).parent_path());
    std::ofstream(dir() / rel) << text;
  }
  /// `nodes` nodes, 1 GiB each, node k holding the CPUs cpus_of(k).
  void make(unsigned nodes, const std::function<std::string(unsigned)>& cpus_of) const {
    write("online", nodes == 1 ? "0\n" : "0-" + std::to_string(nodes - 1) + "\n");
    write("possible", "0-" + std::to_string(nodes - 1) + "\n");
    for (unsigned k = 0; k < nodes; ++k) {
      const std::string n = "node" + std::to_string(k);
      write(n + "/cpulist", cpus_of(k) + "\n");
      write(n + "/meminfo", "Node " + std::to_string(k) + " MemTotal:        1048576 kB\nNode " +
                                std::to_string(k) + " MemFree:          524288 kB\n");
    }
  }
};

// Node k holds CPUs k+1 and k+1+n (mod n): the machine's real CPU 0 is on the
// last node and CPU 1 on node 0, so placement must follow the cpulists, not
// assume that CPU c is on node c.
std::string shuffled_cpus(unsigned nodes, unsigned k) {
  const unsigned a = (k + 1) % nodes;
  return std::to_string(a) + "," + std::to_string(a + nodes);
}

// Points current_topology() at `root` (empty: the real /sys) for a scope.
struct use_sysfs {
  explicit use_sysfs(const fs::path& root) {
    if (root.empty()) {
      unsetenv("THREADMAP_SYSFS_ROOT");
    } else {
      setenv("THREADMAP_SYSFS_ROOT", root.c_str(), 1);
    }
    numa::reload_topology();
  }
  ~use_sysfs() {
    unsetenv("THREADMAP_SYSFS_ROOT");
    numa::reload_topology();
  }
};

std::string key_of(int i) {
  return "key:" + std::to_string(i);
}

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

bool real_single_node() {
  const numa::topology t = numa::read_topology("/sys", false);
  return t.error.empty() && t.nodes.size() == 1 && t.nodes[0].id == 0;
}

}  // namespace

// --- topology -----------------------------------------------------------------

TEST_CASE("real topology: every online CPU is on exactly one node") {
  const numa::topology t = numa::read_topology("/sys", false);
  CHECK(t.error.empty());
  CHECK(!t.simulated);
  REQUIRE(!t.nodes.empty());
  for (unsigned cpu : numa::online_cpus()) CHECK(t.node_of_cpu(static_cast<int>(cpu)) >= 0);
  std::printf("  real topology (%s): %zu node(s):", t.source.c_str(), t.nodes.size());
  for (const auto& n : t.nodes)
    std::printf(" node %u [%zu cpus, %llu MiB]", n.id, n.cpus.size(),
                static_cast<unsigned long long>(n.memory_bytes >> 20));
  std::printf("\n");
  const std::vector<unsigned>& allowed = numa::allowed_nodes();
  CHECK(!allowed.empty());  // Linux with NUMA calls: the kernel answered
  for (unsigned n : allowed) CHECK(t.has_node(n));
}

TEST_CASE("fake sysfs: 2, 4 and 8 nodes are read as written") {
  for (unsigned nodes : {2u, 4u, 8u}) {
    fake_sysfs fake;
    fake.make(nodes, [&](unsigned k) { return shuffled_cpus(nodes, k); });
    const numa::topology t = numa::read_topology(fake.root.string(), true);
    CHECK(t.error.empty());
    CHECK(t.simulated);
    REQUIRE(t.nodes.size() == nodes);
    for (unsigned k = 0; k < nodes; ++k) {
      CHECK_EQ(t.nodes[k].id, k);
      CHECK_EQ(t.nodes[k].cpus.size(), std::size_t(2));
      CHECK_EQ(t.nodes[k].memory_bytes, std::uint64_t(1) << 30);
    }
    CHECK_EQ(t.node_of_cpu(0), int(nodes - 1));
    CHECK_EQ(t.node_of_cpu(1), 0);
    CHECK_EQ(t.node_of_cpu(int(2 * nodes)), -1);
    CHECK_EQ(t.memory_nodes().size(), std::size_t(nodes));
  }
}

TEST_CASE("fake sysfs: without an online file the node directories are the list") {
  fake_sysfs fake;
  fake.write("node0/cpulist", "0-1\n");
  fake.write("node3/cpulist", "2-3\n");
  fake.write("node3/meminfo", "Node 3 MemTotal: 0 kB\n");  // a CPU-only node
  fake.write("power/uevent", "");
  const numa::topology t = numa::read_topology(fake.root.string(), true);
  CHECK(t.error.empty());
  REQUIRE(t.nodes.size() == 2);
  CHECK_EQ(t.nodes[1].id, 3u);
  CHECK_EQ(t.node_list(), std::string("0, 3"));
  CHECK_EQ(t.nodes[1].memory_bytes, std::uint64_t(0));
  // Interleave only over nodes with memory (node 0 has no meminfo: unknown,
  // node 3 reports none) falls back to every node when none reports memory.
  CHECK_EQ(t.memory_nodes().size(), std::size_t(2));
}

TEST_CASE("fake sysfs: malformed content is reported clearly and falls back to one node") {
  struct bad_case {
    const char* what;
    std::function<void(const fake_sysfs&)> write;
    const char* file;     // the file the error must name
    const char* message;  // and what it must say
  };
  const std::vector<bad_case> cases = {
      {"online not a list", [](const fake_sysfs& f) { f.write("online", "zero-one\n"); }, "online",
       "expected a node list"},
      {"reversed range", [](const fake_sysfs& f) { f.write("online", "3-1\n"); }, "online",
       "expected a node list"},
      {"node id too large", [](const fake_sysfs& f) { f.write("online", "0,4096\n"); }, "online",
       "expected a node list"},
      {"listed node missing",
       [](const fake_sysfs& f) {
         f.make(2, [](unsigned k) { return std::to_string(k); });
         f.write("online", "0-2\n");
       },
       "node2/cpulist", "cannot be read"},
      {"cpulist garbage",
       [](const fake_sysfs& f) {
         f.make(2, [](unsigned k) { return std::to_string(k); });
         f.write("node1/cpulist", "1-\n");
       },
       "node1/cpulist", "expected a CPU list"},
      {"cpu on two nodes",
       [](const fake_sysfs& f) { f.make(2, [](unsigned) { return std::string("0-1"); }); },
       "node1/cpulist", "CPU 0 is also in node 0"},
      {"meminfo without MemTotal",
       [](const fake_sysfs& f) {
         f.make(2, [](unsigned k) { return std::to_string(k); });
         f.write("node1/meminfo", "Node 1 MemFree: 12 kB\n");
       },
       "node1/meminfo", "MemTotal"},
      {"meminfo total not a number",
       [](const fake_sysfs& f) {
         f.make(2, [](unsigned k) { return std::to_string(k); });
         f.write("node0/meminfo", "Node 0 MemTotal: lots kB\n");
       },
       "node0/meminfo", "MemTotal"},
      {"empty online", [](const fake_sysfs& f) { f.write("online", "\n"); }, "node",
       "no nodes are listed"},
  };
  for (const bad_case& c : cases) {
    fake_sysfs fake;
    c.write(fake);
    const numa::topology t = numa::read_topology(fake.root.string(), true);
    tmtest::current() = std::string("malformed sysfs: ") + c.what;
    CHECK(!t.error.empty());
    CHECK(contains(t.error, c.file));
    CHECK(contains(t.error, c.message));
    CHECK(contains(t.error, "using one node"));
    REQUIRE(t.nodes.size() == 1);
    CHECK_EQ(t.nodes[0].id, 0u);
    CHECK_EQ(t.nodes[0].cpus, numa::online_cpus());
    std::printf("  %-28s -> %s\n", c.what, t.error.c_str());
  }
  tmtest::current() = "malformed sysfs";
  // A root without devices/system/node at all.
  const numa::topology t = numa::read_topology("/nonexistent-threadmap-root", true);
  CHECK(contains(t.error, "is not a directory"));
  CHECK_EQ(t.nodes.size(), std::size_t(1));
}

TEST_CASE("THREADMAP_SYSFS_ROOT points current_topology at a fake tree, and is reported") {
  fake_sysfs fake;
  fake.make(4, [](unsigned k) { return shuffled_cpus(4, k); });
  {
    use_sysfs use(fake.root);
    const auto t = numa::current_topology();
    CHECK(t->simulated);
    CHECK_EQ(t->nodes.size(), std::size_t(4));
    CHECK(contains(t->source, fake.root.string()));
  }
  const auto real = numa::current_topology();
  CHECK(!real->simulated);
}

// --- the decision -------------------------------------------------------------

TEST_CASE("decide: local follows the cpulists, node is fixed, interleave and none pick none") {
  for (unsigned nodes : {2u, 4u, 8u}) {
    fake_sysfs fake;
    fake.make(nodes, [&](unsigned k) { return shuffled_cpus(nodes, k); });
    const numa::topology t = numa::read_topology(fake.root.string(), true);
    for (unsigned k = 0; k < nodes; ++k) {
      for (unsigned cpu : t.nodes[k].cpus) {
        const numa::decision d = numa::decide({numa::policy_kind::local, 0}, t, int(cpu));
        CHECK_EQ(d.node, int(k));
      }
      CHECK_EQ(numa::decide({numa::policy_kind::node, k}, t, 0).node, int(k));
    }
    CHECK_EQ(numa::decide({numa::policy_kind::local, 0}, t, -1).node, 0);    // unknown CPU
    CHECK_EQ(numa::decide({numa::policy_kind::local, 0}, t, 4096).node, 0);  // unlisted CPU
    CHECK_EQ(numa::decide({numa::policy_kind::interleave, 0}, t, 0).node, -1);
    CHECK_EQ(numa::decide({numa::policy_kind::none, 0}, t, 0).node, -1);
  }
}

TEST_CASE("validate: a node that does not exist is refused, naming the nodes that do") {
  fake_sysfs fake;
  fake.make(8, [](unsigned k) { return shuffled_cpus(8, k); });
  const numa::topology t = numa::read_topology(fake.root.string(), true);
  CHECK(numa::validate({numa::policy_kind::node, 7}, t).empty());
  const std::string e = numa::validate({numa::policy_kind::node, 8}, t);
  CHECK_EQ(e, std::string("node 8 does not exist; the nodes are 0, 1, 2, 3, 4, 5, 6, 7"));
  CHECK(numa::validate({numa::policy_kind::local, 99}, t).empty());  // node ignored
  if (real_single_node()) {
    const numa::topology real = numa::read_topology("/sys", false);
    CHECK(numa::validate({numa::policy_kind::node, 0}, real).empty());
    CHECK_EQ(numa::validate({numa::policy_kind::node, 1}, real),
             std::string("node 1 does not exist; the nodes are 0"));
  }
}

// --- the allocator on this machine's real nodes ----------------------------------

TEST_CASE("allocate: bind to node 0 succeeds and get_mempolicy confirms it") {
  REQUIRE(numa::allowed_nodes().size() >= 1);
  numa::placement where;
  const std::size_t n = 3 * 4096 + 100;
  void* p = numa::allocate(n, {numa::policy_kind::node, 0}, where);
  REQUIRE(p != nullptr);
  CHECK_EQ(reinterpret_cast<std::uintptr_t>(p) % 4096, std::uintptr_t(0));
  CHECK_EQ(where.mapped, std::size_t(4 * 4096));
  CHECK_EQ(where.mapped, numa::footprint(n, {numa::policy_kind::node, 0}));
  CHECK_EQ(where.result, numa::outcome::bound);
  CHECK_EQ(where.node, 0);
  static_cast<char*>(p)[n - 1] = 1;  // zeroed and writable to the end
  CHECK_EQ(static_cast<char*>(p)[0], 0);
  const numa::page_report r = numa::read_back(static_cast<char*>(p) + 2 * 4096);
  CHECK_EQ(r.error, 0);
  CHECK_EQ(r.node, 0);
  CHECK_EQ(r.mode, mode_bind);
  CHECK_EQ(r.mode_nodes, std::vector<unsigned>{0});
  numa::deallocate(p, where);
}

TEST_CASE("allocate: local prefers the thread's node, interleave spreads, none is the default") {
  const int here = numa::current_node();
  CHECK(here >= 0);
  numa::placement where;
  void* p = numa::allocate(64 * 1024, {numa::policy_kind::local, 0}, where);
  CHECK_EQ(where.result, numa::outcome::bound);
  numa::page_report r = numa::read_back(p);
  CHECK_EQ(r.mode, mode_preferred);
  CHECK_EQ(r.mode_nodes, std::vector<unsigned>{unsigned(where.node)});
  CHECK(r.node >= 0);
  numa::deallocate(p, where);

  p = numa::allocate(64 * 1024, {numa::policy_kind::interleave, 0}, where);
  CHECK_EQ(where.result, numa::outcome::bound);
  r = numa::read_back(p);
  CHECK_EQ(r.mode, mode_interleave);
  CHECK_EQ(r.mode_nodes, numa::allowed_nodes());
  numa::deallocate(p, where);

  // Policy none: small from the heap, huge mapped, neither bound.
  p = numa::allocate(1000, {}, where);
  CHECK_EQ(where.mapped, std::size_t(0));
  CHECK_EQ(where.result, numa::outcome::kernel_default);
  CHECK_EQ(reinterpret_cast<std::uintptr_t>(p) % 64, std::uintptr_t(0));
  numa::deallocate(p, where);
  p = numa::allocate(numa::huge_bytes + 1, {}, where);
  CHECK(where.mapped >= numa::huge_bytes + 1);
  CHECK_EQ(where.result, numa::outcome::kernel_default);
  CHECK_EQ(numa::read_back(p).mode, 0);
  numa::deallocate(p, where);

  // Below a page with a policy: the heap, and said so.
  p = numa::allocate(512, {numa::policy_kind::node, 0}, where);
  CHECK_EQ(where.mapped, std::size_t(0));
  CHECK_EQ(where.result, numa::outcome::heap);
  CHECK_EQ(where.node, 0);
  numa::deallocate(p, where);
}

// --- maps: per-stripe placement ----------------------------------------------------

TEST_CASE("maps bound to node 0: every stripe is bound and read back on node 0") {
  for (strategy_kind kind : {strategy_kind::striped, strategy_kind::mutex, strategy_kind::rwlock}) {
    tmtest::current() = std::string("maps bound to node 0 [") + to_string(kind) + "]";
    options o;
    o.strategy = kind;
    o.capacity = 100000;  // every stripe's array well past a page
    o.numa_policy = {numa::policy_kind::node, 0};
    auto m = make_map(o);
    for (int i = 0; i < 1000; ++i) m->put(key_of(i), "v", nullptr);
    const std::vector<numa::table_report> rs = m->placement();
    CHECK_EQ(rs.size(), std::size_t(m->stats().stripes));
    std::size_t array_bytes = 0;
    for (std::size_t i = 0; i < rs.size(); ++i) {
      CHECK_EQ(rs[i].table, i);
      CHECK(rs[i].bytes > 4096);
      CHECK_EQ(rs[i].where.policy, numa::policy_kind::node);
      CHECK_EQ(rs[i].where.result, numa::outcome::bound);
      CHECK_EQ(rs[i].where.node, 0);
      CHECK_EQ(rs[i].kernel.node, 0);
      CHECK_EQ(rs[i].kernel.mode, mode_bind);
      array_bytes += rs[i].bytes;
    }
    // Accounting charges what was mapped (page-rounded).
    CHECK(m->stats().bytes >= array_bytes);
  }
}

TEST_CASE("maps: a node that does not exist is refused before anything is allocated") {
  options o;
  o.numa_policy = {numa::policy_kind::node, 4000};
  bool threw = false;
  try {
    make_map(o);
  } catch (const std::invalid_argument& e) {
    threw = true;
    CHECK(contains(e.what(), "node 4000 does not exist; the nodes are "));
    CHECK(contains(e.what(), numa::current_topology()->node_list()));
  }
  CHECK(threw);
}

TEST_CASE("maps: policy none and strategies without placement") {
  options o;
  auto m = make_map(o);
  for (const auto& r : m->placement()) CHECK_EQ(r.bytes, std::size_t(0));  // no arrays yet
  for (int i = 0; i < 5000; ++i) m->put(key_of(i), "v", nullptr);
  for (const auto& r : m->placement()) {
    CHECK(r.bytes > 0);
    CHECK_EQ(r.where.result, numa::outcome::kernel_default);
    CHECK(r.kernel.node >= 0);  // first touch put it somewhere, and the kernel says where
  }
  for (strategy_kind kind : {strategy_kind::readmostly, strategy_kind::lockfree}) {
    o.strategy = kind;
    o.numa_policy = {numa::policy_kind::local, 0};
    auto other = make_map(o);
    other->put("a", "b", nullptr);
    CHECK(other->placement().empty());
  }
}

// Local placement on simulated topologies: each stripe's array is placed on
// the node of the thread that created it, and again of the thread that grew
// it. Threads are put on a simulated node's CPU with the test seam
// numa::testing::set_thread_cpu (this machine has too few CPUs to pin to
// one per simulated node); which stripe a key lands in is discovered from
// placement(), not computed from the map's internals.
TEST_CASE("simulated 2/4/8 nodes: local places every stripe on its creator's, then grower's node") {
  for (unsigned nodes : {2u, 4u, 8u}) {
    tmtest::current() = "simulated local placement, " + std::to_string(nodes) + " nodes";
    fake_sysfs fake;
    fake.make(nodes, [&](unsigned k) { return shuffled_cpus(nodes, k); });
    use_sysfs use(fake.root);
    const auto topo = numa::current_topology();
    REQUIRE(topo->nodes.size() == nodes);
    options o;
    o.strategy = strategy_kind::striped;
    o.stripes = 2 * nodes;
    o.numa_policy = {numa::policy_kind::local, 0};
    auto m = make_map(o);

    // Creation: the next new stripe is created from node (created % nodes).
    std::vector<int> expected(o.stripes, -1);
    std::size_t created = 0;
    for (int i = 0; created < o.stripes && i < 100000; ++i) {
      const unsigned node = static_cast<unsigned>(created % nodes);
      std::thread([&] {
        numa::testing::set_thread_cpu(int(topo->nodes[node].cpus[1]));
        CHECK_EQ(numa::current_node(), int(node));
        m->put(key_of(i), "v", nullptr);
      }).join();
      const auto rs = m->placement();
      for (std::size_t s = 0; s < rs.size(); ++s) {
        if (rs[s].bytes && expected[s] < 0) {
          expected[s] = int(node);
          ++created;
        }
      }
    }
    REQUIRE(created == o.stripes);
    std::vector<unsigned> per_node(nodes, 0);
    for (const auto& r : m->placement()) {
      CHECK_EQ(r.where.policy, numa::policy_kind::local);
      CHECK_EQ(r.where.node, expected[r.table]);
      // One-group arrays are below a page: decided, but on the heap.
      CHECK_EQ(r.where.result, numa::outcome::heap);
      ++per_node[unsigned(r.where.node)];
    }
    for (unsigned k = 0; k < nodes; ++k) CHECK_EQ(per_node[k], 2u);

    // Growth: every stripe grown past a page by threads of one node each.
    for (unsigned grower : {nodes - 1, 0u}) {
      std::thread([&] {
        numa::testing::set_thread_cpu(int(topo->nodes[grower].cpus[0]));
        const int base = 1000000 * int(grower + 1);
        for (int i = 0; i < 400 * int(o.stripes); ++i) m->put(key_of(base + i), "v", nullptr);
      }).join();
      for (const auto& r : m->placement()) {
        CHECK(r.bytes > 4096);
        CHECK_EQ(r.where.node, int(grower));
        // Node 0 is real here and is bound; a simulated node is skipped, and
        // the kernel's read-back still names a real node.
        CHECK_EQ(r.where.result, grower == 0 ? numa::outcome::bound : numa::outcome::skipped);
        CHECK_EQ(r.kernel.node, 0);
        if (grower == 0) CHECK_EQ(r.kernel.mode, mode_preferred);
      }
      m->clear();  // the next grower starts from nothing
    }
  }
}

TEST_CASE("simulated 2/4/8 nodes: a fixed node and interleave, decided and reported per stripe") {
  for (unsigned nodes : {2u, 4u, 8u}) {
    tmtest::current() = "simulated node/interleave, " + std::to_string(nodes) + " nodes";
    fake_sysfs fake;
    fake.make(nodes, [&](unsigned k) { return shuffled_cpus(nodes, k); });
    use_sysfs use(fake.root);
    for (unsigned target : {0u, nodes - 1}) {
      options o;
      o.capacity = 50000;
      o.numa_policy = {numa::policy_kind::node, target};
      auto m = make_map(o);
      for (const auto& r : m->placement()) {
        CHECK_EQ(r.where.node, int(target));
        CHECK_EQ(r.where.result, target == 0 ? numa::outcome::bound : numa::outcome::skipped);
        CHECK_EQ(r.kernel.node, 0);
      }
    }
    options o;
    o.capacity = 50000;
    o.numa_policy = {numa::policy_kind::interleave, 0};
    auto m = make_map(o);
    for (const auto& r : m->placement()) {
      CHECK_EQ(r.where.node, -1);
      // Decided over all simulated nodes; the kernel was asked for the real
      // subset only (node 0), which it confirms.
      CHECK_EQ(r.where.result, numa::outcome::partial);
      CHECK_EQ(r.kernel.mode, mode_interleave);
      CHECK_EQ(r.kernel.mode_nodes, std::vector<unsigned>{0});
    }
    o.numa_policy = {numa::policy_kind::node, nodes};
    bool threw = false;
    try {
      make_map(o);
    } catch (const std::invalid_argument& e) {
      threw = true;
      CHECK(contains(e.what(), "the nodes are " + numa::current_topology()->node_list()));
    }
    CHECK(threw);
  }
}

TEST_CASE("simulated topology: a malformed tree is a one-node topology the maps still use") {
  fake_sysfs fake;
  fake.write("online", "0-1\n");
  fake.write("node0/cpulist", "0-1\n");
  fake.write("node1/cpulist", "what\n");
  use_sysfs use(fake.root);
  const auto t = numa::current_topology();
  CHECK(contains(t->error, "node1/cpulist"));
  CHECK_EQ(t->nodes.size(), std::size_t(1));
  options o;
  o.capacity = 20000;
  o.numa_policy = {numa::policy_kind::local, 0};
  auto m = make_map(o);
  for (const auto& r : m->placement()) {
    CHECK_EQ(r.where.node, 0);
    CHECK_EQ(r.where.result, numa::outcome::bound);
  }
}

// --- pinning ------------------------------------------------------------------------

TEST_CASE("pin_thread: a thread pinned to CPU 1 runs on CPU 1; bad sets change nothing") {
  const std::vector<unsigned> online = numa::online_cpus();
  if (online.size() < 2 || online[1] != 1) {
    std::printf("  skipped: CPU 1 is not online here\n");
    return;
  }
  std::thread([&] {
    const std::vector<unsigned> before = numa::thread_affinity();
    CHECK_EQ(numa::pin_thread({1}), 0);
    CHECK_EQ(numa::thread_affinity(), std::vector<unsigned>{1});
    for (int i = 0; i < 100; ++i) CHECK_EQ(numa::current_cpu(), 1);
    CHECK_EQ(numa::pin_thread({60000}), EINVAL);  // no such CPU: refused
    CHECK_EQ(numa::pin_thread({}), EINVAL);
    CHECK_EQ(numa::thread_affinity(), std::vector<unsigned>{1});
    CHECK_EQ(numa::pin_thread({0}), 0);
    for (int i = 0; i < 100; ++i) CHECK_EQ(numa::current_cpu(), 0);
    CHECK_EQ(numa::pin_thread(before), 0);
    CHECK_EQ(numa::thread_affinity(), before);
  }).join();
}

TEST_MAIN
