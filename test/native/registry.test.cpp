// The process-wide registry: ids, lookups, reference counting and close().
#include <atomic>
#include <thread>
#include <vector>

#include "check.hpp"
#include "threadmap/epoch.hpp"
#include "threadmap/registry.hpp"

using namespace threadmap;

TEST_CASE("registry: create, find, free on last release") {
  const std::size_t base = registry::live();
  auto a = registry::create(options{}, "string", "number");
  auto b = registry::create(options{}, "bytes", "json");
  CHECK(a->id() != b->id());
  CHECK_EQ(registry::live(), base + 2);
  CHECK(registry::find(a->id()) == a);
  CHECK_EQ(registry::find(b->id())->value_type(), std::string("json"));
  const std::uint64_t id = a->id();
  a.reset();
  CHECK(registry::find(id) == nullptr);
  CHECK_EQ(registry::live(), base + 1);
  CHECK(registry::find(0) == nullptr);
  CHECK(registry::find(~std::uint64_t{0}) == nullptr);
  b.reset();
  CHECK_EQ(registry::live(), base);
}

TEST_CASE("registry: close frees at once, later calls see no map") {
  auto m = registry::create(options{}, "string", "string");
  {
    epoch::guard g;
    REQUIRE(m->get() != nullptr);
    m->get()->put("k", "v", nullptr);
  }
  CHECK(m->close());
  CHECK(!m->close());
  CHECK(m->get() == nullptr);
  CHECK(registry::find(m->id()) == m);  // the handle still resolves, to a closed map
}

TEST_CASE("registry: close while other threads are mid-operation") {
  // Threads hammer the map through the guard protocol the addon uses; close()
  // must wait for the calls in flight and every later call must see nullptr.
  for (int round = 0; round < 20; ++round) {
    auto m = registry::create(options{}, "string", "string");
    std::atomic<bool> go{false};
    std::atomic<long> after_close{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 3; ++t) {
      threads.emplace_back([&, t] {
        while (!go.load()) std::this_thread::yield();
        for (int i = 0;; ++i) {
          epoch::guard g;
          concurrent_map* impl = m->get();
          if (!impl) {
            after_close.fetch_add(1);
            return;
          }
          const std::string k = std::to_string((i * 7 + t) % 500);
          impl->put(k, std::string(i % 64, 'x'), nullptr);
          impl->get(k, nullptr);
          if (i % 3 == 0) impl->erase(k, nullptr);
        }
      });
    }
    go = true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    CHECK(m->close());
    for (auto& th : threads) th.join();
    CHECK_EQ(after_close.load(), 3);
  }
}

TEST_MAIN
