// NUMA: topology discovery (the real /sys and generated fake sysfs trees of
// 2, 4 and 8 nodes, and malformed ones), the placement decision, the
// allocator's system calls on this machine's real nodes (read back with
// get_mempolicy), per-table placement of every strategy (the flat-table
// strategies' stripes, lockfree's tables and migration targets, readmostly's
// read and dirty tables), and thread pinning.
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
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "check.hpp"
#include "threadmap/detail/hash.hpp"
#include "threadmap/detail/lockfree.hpp"
#include "threadmap/detail/numa.hpp"
#include "threadmap/detail/readmostly.hpp"
#include "threadmap/epoch.hpp"
#include "threadmap/factory.hpp"
#include "threadmap/map.hpp"

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

// --- maps: per-table placement ------------------------------------------------------

namespace {

// ordered keeps no table arrays (its nodes are placed by first touch), so the
// per-table cases below skip it; "ordered: no tables" checks what it reports.
bool has_tables(strategy_kind kind) {
  return kind != strategy_kind::ordered;
}

std::string case_name(const char* what, strategy_kind kind) {
  return std::string(what) + " [" + to_string(kind) + "]";
}

// The reports of tables that have an array: a flat table allocates its first
// one on its first insert, and readmostly's read table has none before the
// first promotion.
std::vector<numa::table_report> arrays_of(const concurrent_map& m) {
  std::vector<numa::table_report> v;
  for (const numa::table_report& r : m.placement())
    if (r.bytes) v.push_back(r);
  return v;
}

// A map of `kind` under `policy` after one put (a flat table allocates its
// first array there, readmostly its first dirty table): the reports of its
// tables that have an array.
std::vector<numa::table_report> arrays_after_put(strategy_kind kind, std::size_t capacity,
                                                 numa::policy policy) {
  options o;
  o.strategy = kind;
  o.capacity = capacity;
  o.numa_policy = policy;
  auto m = make_map(o);
  m->put("a", "b", nullptr);
  return arrays_of(*m);
}

// What the allocator does with a decided node on this machine: node 0 is real
// and is bound; a node only a simulated topology has is skipped.
numa::outcome outcome_for(int node) {
  return node == 0 ? numa::outcome::bound : numa::outcome::skipped;
}

// Runs f on a new thread that the test seam puts on a CPU of `node`.
template <class F>
void on_node(const numa::topology& t, unsigned node, F&& f) {
  std::thread([&] {
    numa::testing::set_thread_cpu(int(t.nodes[node].cpus[0]));
    CHECK_EQ(numa::current_node(), int(node));
    f();
  }).join();
}

void check_bound_to_node0(const numa::table_report& r) {
  CHECK(r.bytes > 4096);
  CHECK_EQ(r.where.policy, numa::policy_kind::node);
  CHECK_EQ(r.where.result, numa::outcome::bound);
  CHECK_EQ(r.where.node, 0);
  CHECK_EQ(r.kernel.node, 0);
  CHECK_EQ(r.kernel.mode, mode_bind);
}

}  // namespace

TEST_CASE("maps bound to node 0: every table of every strategy is bound and read back on node 0") {
  for (strategy_kind kind : all_strategies) {
    if (!has_tables(kind)) continue;
    tmtest::current() = case_name("maps bound to node 0", kind);
    options o;
    o.strategy = kind;
    o.capacity = 100000;  // every array well past a page
    o.numa_policy = {numa::policy_kind::node, 0};
    auto m = make_map(o);
    for (int i = 0; i < 1000; ++i) m->put(key_of(i), "v", nullptr);
    const std::vector<numa::table_report> rs = m->placement();
    // The indices each strategy's header documents: a stripe each; lockfree's
    // head (no migration runs); readmostly's read table (no array before the
    // first promotion) and dirty table (every key so far).
    const std::size_t tables = kind == strategy_kind::lockfree     ? 1
                               : kind == strategy_kind::readmostly ? 2
                                                                   : m->stats().stripes;
    CHECK_EQ(rs.size(), tables);
    std::size_t array_bytes = 0;
    for (std::size_t i = 0; i < rs.size(); ++i) {
      CHECK_EQ(rs[i].table, i);
      if (kind == strategy_kind::readmostly && i == readmostly_map::read_table) {
        CHECK_EQ(rs[i].bytes, std::size_t(0));
        continue;
      }
      check_bound_to_node0(rs[i]);
      array_bytes += rs[i].bytes;
    }
    // Accounting charges what was mapped (page-rounded).
    CHECK(m->stats().bytes >= array_bytes);
  }

  // readmostly: a promotion publishes the dirty array itself as the read
  // table; the next new key makes a new dirty table, bound as well.
  tmtest::current() = "maps bound to node 0 [readmostly promotion]";
  {
    options o;
    o.strategy = strategy_kind::readmostly;
    o.capacity = 10000;
    o.numa_policy = {numa::policy_kind::node, 0};
    auto m = make_map(o);
    for (int i = 0; i < 1000; ++i) m->put(key_of(i), "v", nullptr);
    const std::size_t dirty_bytes = m->placement().at(readmostly_map::dirty_table).bytes;
    // Reads that miss in `read` count until they reach dirty's size.
    for (int i = 0; i < 100000 && m->placement().size() > 1; ++i) m->get(key_of(i % 1000), nullptr);
    std::vector<numa::table_report> rs = m->placement();
    REQUIRE(rs.size() == 1);
    CHECK_EQ(rs[0].table, readmostly_map::read_table);
    CHECK_EQ(rs[0].bytes, dirty_bytes);
    check_bound_to_node0(rs[0]);
    m->put("new", "v", nullptr);
    rs = m->placement();
    REQUIRE(rs.size() == 2);
    CHECK_EQ(rs[1].table, readmostly_map::dirty_table);
    for (const auto& r : rs) check_bound_to_node0(r);
  }

  // lockfree: every migration target is bound too, reported beside the table
  // it is migrated from while the migration runs, then alone as the head.
  tmtest::current() = "maps bound to node 0 [lockfree migration]";
  {
    options o;
    o.strategy = strategy_kind::lockfree;
    o.numa_policy = {numa::policy_kind::node, 0};
    lockfree_map m(o);
    std::vector<numa::table_report> during;
    for (int i = 0; i < 1000000 && during.empty(); ++i) {
      m.put(key_of(i), "v", nullptr);
      // The put that starts a migration returns with it running; the first
      // tables (under a page) are on the heap and not bound, so wait for one
      // migrated out of a mapped table.
      if (m.chain_length() > 1) {
        std::vector<numa::table_report> rs = m.placement();
        if (rs.size() == 2 && rs[0].bytes > 4096) during = std::move(rs);
      }
    }
    REQUIRE(during.size() == 2);
    for (std::size_t i = 0; i < 2; ++i) {
      CHECK_EQ(during[i].table, i);
      check_bound_to_node0(during[i]);
    }
    CHECK(during[1].bytes > during[0].bytes);
    for (int i = 0; i < 100000 && m.chain_length() > 1; ++i) m.get(key_of(i), nullptr);
    const std::vector<numa::table_report> after = m.placement();
    REQUIRE(after.size() == 1);
    CHECK_EQ(after[0].bytes, during[1].bytes);
    check_bound_to_node0(after[0]);
  }
}

TEST_CASE("maps: a node that does not exist is refused before anything is allocated") {
  for (strategy_kind kind : all_strategies) {
    tmtest::current() = case_name("maps: a node that does not exist is refused", kind);
    options o;
    o.strategy = kind;
    o.numa_policy = {numa::policy_kind::node, 4000};
    // A capacity that max_memory cannot hold: a strategy that allocated its
    // tables before checking the node would throw length_error instead.
    o.capacity = 10000000;
    o.max_memory = 1 << 20;
    bool threw = false;
    try {
      make_map(o);
    } catch (const std::invalid_argument& e) {
      threw = true;
      CHECK(contains(e.what(), "threadmap: numa: node 4000 does not exist; the nodes are "));
      CHECK(contains(e.what(), numa::current_topology()->node_list()));
    }
    CHECK(threw);
  }
}

TEST_CASE("ordered: no tables, placement() reports none under every policy") {
  for (const numa::policy p : {numa::policy{numa::policy_kind::node, 0}, numa::policy{},
                               numa::policy{numa::policy_kind::interleave, 0}}) {
    options o;
    o.strategy = strategy_kind::ordered;
    o.numa_policy = p;
    auto m = make_map(o);
    for (int i = 0; i < 1000; ++i) m->put(key_of(i), "v", nullptr);
    CHECK(m->placement().empty());
    CHECK_EQ(m->size(), std::size_t(1000));
  }
}

TEST_CASE("maps: policy none leaves every strategy's tables to the kernel's default, and says so") {
  for (strategy_kind kind : all_strategies) {
    if (!has_tables(kind)) continue;
    tmtest::current() = case_name("maps: policy none", kind);
    options o;
    o.strategy = kind;
    auto m = make_map(o);
    // Every strategy reports its tables. Flat tables have no array before the
    // first insert; lockfree's constructor makes its first table.
    const std::vector<numa::table_report> empty = m->placement();
    CHECK(!empty.empty());
    for (const auto& r : empty) {
      if (kind == strategy_kind::lockfree) {
        CHECK(r.bytes > 0);
      } else {
        CHECK_EQ(r.bytes, std::size_t(0));
      }
    }
    for (int i = 0; i < 5000; ++i) m->put(key_of(i), "v", nullptr);
    const std::vector<numa::table_report> rs = arrays_of(*m);
    CHECK(!rs.empty());
    for (const auto& r : rs) {
      CHECK_EQ(r.where.policy, numa::policy_kind::none);
      CHECK_EQ(r.where.result, numa::outcome::kernel_default);
      CHECK_EQ(r.where.node, -1);
      CHECK(r.kernel.node >= 0);  // first touch put it somewhere, and the kernel says where
    }
  }
}

namespace {

// lockfree under `local`: the first table goes to the creator's node, each
// migration target to the node of the thread that starts the migration (it
// allocates the target), and clear()'s new table to the clearing thread's.
void lockfree_local(const numa::topology& topo, unsigned nodes) {
  std::unique_ptr<lockfree_map> m;
  const unsigned creator = nodes - 1;
  on_node(topo, creator, [&] {
    options o;
    o.strategy = strategy_kind::lockfree;
    o.capacity = 1000;  // a first table past a page
    o.numa_policy = {numa::policy_kind::local, 0};
    m = std::make_unique<lockfree_map>(o);
  });
  std::vector<numa::table_report> rs = m->placement();
  REQUIRE(rs.size() == 1);
  CHECK(rs[0].bytes > 4096);
  CHECK_EQ(rs[0].where.policy, numa::policy_kind::local);
  CHECK_EQ(rs[0].where.node, int(creator));
  CHECK_EQ(rs[0].where.result, outcome_for(int(creator)));
  CHECK_EQ(rs[0].kernel.node, 0);
  int keys = 0;
  int head_node = int(creator);
  for (unsigned grower : {0u, nodes / 2, nodes - 1}) {
    // The grower inserts until its put starts a migration, and stops there.
    on_node(topo, grower, [&] {
      while (m->chain_length() == 1 && keys < 10000000) m->put(key_of(keys++), "v", nullptr);
    });
    rs = m->placement();
    REQUIRE(rs.size() == 2);
    CHECK_EQ(rs[0].where.node, head_node);  // the table migrated out keeps its placement
    CHECK_EQ(rs[1].table, std::size_t(1));
    CHECK(rs[1].bytes > rs[0].bytes);
    CHECK_EQ(rs[1].where.policy, numa::policy_kind::local);
    CHECK_EQ(rs[1].where.node, int(grower));
    CHECK_EQ(rs[1].where.result, outcome_for(int(grower)));
    CHECK_EQ(rs[1].kernel.node, 0);
    if (grower == 0) CHECK_EQ(rs[1].kernel.mode, mode_preferred);
    // Any thread may finish the migration; the target, now the head, keeps
    // the grower's node.
    for (int i = 0; i < 1000000 && m->chain_length() > 1; ++i) m->get(key_of(i % keys), nullptr);
    rs = m->placement();
    REQUIRE(rs.size() == 1);
    CHECK_EQ(rs[0].where.node, int(grower));
    head_node = int(grower);
  }
  CHECK_EQ(m->size(), std::size_t(keys));
  const unsigned clearer = nodes / 2;
  on_node(topo, clearer, [&] { m->clear(); });
  rs = m->placement();
  REQUIRE(rs.size() == 1);
  CHECK_EQ(rs[0].where.node, int(clearer));
}

// readmostly under `local`: a dirty table goes to the node of the writer that
// creates it (the first new key after a promotion), then of the one that
// grows it; a promotion publishes that same array as the read table.
void readmostly_local(const numa::topology& topo, unsigned nodes) {
  options o;
  o.strategy = strategy_kind::readmostly;
  o.capacity = 1000;  // dirty tables past a page
  o.numa_policy = {numa::policy_kind::local, 0};
  auto m = make_map(o);
  std::vector<numa::table_report> rs = m->placement();
  REQUIRE(rs.size() == 1);
  CHECK_EQ(rs[0].bytes, std::size_t(0));  // the read table has no array yet
  const unsigned creator = nodes - 1, grower = 0, next_creator = nodes / 2;
  const int keys = 3000;
  on_node(topo, creator, [&] { m->put(key_of(0), "v", nullptr); });
  rs = m->placement();
  REQUIRE(rs.size() == 2);
  CHECK_EQ(rs[1].table, readmostly_map::dirty_table);
  CHECK(rs[1].bytes > 4096);
  CHECK_EQ(rs[1].where.policy, numa::policy_kind::local);
  CHECK_EQ(rs[1].where.node, int(creator));
  CHECK_EQ(rs[1].where.result, outcome_for(int(creator)));
  CHECK_EQ(rs[1].kernel.node, 0);
  on_node(topo, grower, [&] {
    for (int i = 1; i < keys; ++i) m->put(key_of(i), "v", nullptr);  // past capacity: grows
  });
  rs = m->placement();
  REQUIRE(rs.size() == 2);
  const std::size_t grown_bytes = rs[1].bytes;
  CHECK_EQ(rs[1].where.node, int(grower));
  CHECK_EQ(rs[1].where.result, outcome_for(int(grower)));
  CHECK_EQ(rs[1].kernel.mode, mode_preferred);
  // Promotion: reads that miss in `read` count until they reach dirty's size.
  for (int i = 0; i < 100000 && m->placement().size() > 1; ++i) m->get(key_of(i % keys), nullptr);
  rs = m->placement();
  REQUIRE(rs.size() == 1);
  CHECK_EQ(rs[0].table, readmostly_map::read_table);
  CHECK_EQ(rs[0].bytes, grown_bytes);
  CHECK_EQ(rs[0].where.node, int(grower));
  on_node(topo, next_creator, [&] { m->put("new", "v", nullptr); });
  rs = m->placement();
  REQUIRE(rs.size() == 2);
  CHECK_EQ(rs[0].where.node, int(grower));
  CHECK_EQ(rs[1].where.node, int(next_creator));
  CHECK_EQ(rs[1].where.result, outcome_for(int(next_creator)));
  CHECK_EQ(m->size(), std::size_t(keys + 1));
}

}  // namespace

// Local placement on simulated topologies: each array is placed on the node
// of the thread that allocated it: a stripe's creator, then its grower; a
// lockfree table's creator, then the thread that started each migration; a
// readmostly dirty table's creator, then its grower. Threads are put on a
// simulated node's CPU with the test seam numa::testing::set_thread_cpu
// (this machine has too few CPUs to pin to one per simulated node); which
// stripe a key lands in is discovered from placement(), not computed from the
// map's internals.
TEST_CASE("simulated 2/4/8 nodes: local places every table on its creator's, then grower's node") {
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
      // Only keys of stripes without a table: a stripe that received more
      // keys could grow, and a grown table lives on its grower's node. (The
      // hash is seeded per process, so which keys those are varies.)
      const std::string key = key_of(i);
      if (expected[hash_stripe(hash_bytes(key), o.stripes)] >= 0) continue;
      const unsigned node = static_cast<unsigned>(created % nodes);
      std::thread([&] {
        numa::testing::set_thread_cpu(int(topo->nodes[node].cpus[1]));
        CHECK_EQ(numa::current_node(), int(node));
        m->put(key, "v", nullptr);
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
        CHECK_EQ(r.where.result, outcome_for(int(grower)));
        CHECK_EQ(r.kernel.node, 0);
        if (grower == 0) CHECK_EQ(r.kernel.mode, mode_preferred);
      }
      m->clear();  // the next grower starts from nothing
    }

    tmtest::current() = "simulated local placement [lockfree], " + std::to_string(nodes) + " nodes";
    lockfree_local(*topo, nodes);
    tmtest::current() =
        "simulated local placement [readmostly], " + std::to_string(nodes) + " nodes";
    readmostly_local(*topo, nodes);
  }
}

TEST_CASE("simulated 2/4/8 nodes: a fixed node and interleave, decided and reported per table") {
  for (unsigned nodes : {2u, 4u, 8u}) {
    fake_sysfs fake;
    fake.make(nodes, [&](unsigned k) { return shuffled_cpus(nodes, k); });
    use_sysfs use(fake.root);
    for (strategy_kind kind : all_strategies) {
      if (!has_tables(kind)) continue;
      tmtest::current() =
          case_name("simulated node/interleave", kind) + ", " + std::to_string(nodes) + " nodes";
      for (unsigned target : {0u, nodes - 1}) {
        const auto rs = arrays_after_put(kind, 50000, {numa::policy_kind::node, target});
        CHECK(!rs.empty());
        for (const auto& r : rs) {
          CHECK_EQ(r.where.node, int(target));
          CHECK_EQ(r.where.result, outcome_for(int(target)));
          CHECK_EQ(r.kernel.node, 0);
        }
      }
      const auto rs = arrays_after_put(kind, 50000, {numa::policy_kind::interleave, 0});
      CHECK(!rs.empty());
      for (const auto& r : rs) {
        CHECK_EQ(r.where.node, -1);
        // Decided over all simulated nodes; the kernel was asked for the real
        // subset only (node 0), which it confirms.
        CHECK_EQ(r.where.result, numa::outcome::partial);
        CHECK_EQ(r.kernel.mode, mode_interleave);
        CHECK_EQ(r.kernel.mode_nodes, std::vector<unsigned>{0});
      }
      options o;
      o.strategy = kind;
      o.capacity = 50000;
      o.numa_policy = {numa::policy_kind::node, nodes};
      bool threw = false;
      try {
        make_map(o);
      } catch (const std::invalid_argument& e) {
        threw = true;
        CHECK(contains(e.what(), "node " + std::to_string(nodes) +
                                     " does not exist; the nodes are " +
                                     numa::current_topology()->node_list()));
      }
      CHECK(threw);
    }
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
  for (strategy_kind kind : all_strategies) {
    if (!has_tables(kind)) continue;
    tmtest::current() = case_name("simulated topology: malformed tree", kind);
    const auto rs = arrays_after_put(kind, 20000, {numa::policy_kind::local, 0});
    CHECK(!rs.empty());
    for (const auto& r : rs) {
      CHECK_EQ(r.where.node, 0);
      CHECK_EQ(r.where.result, numa::outcome::bound);
    }
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
