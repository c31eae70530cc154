// The structure list a map keeps for its object codec (registry.hpp):
// compare-and-append under racing writers, closing, the size bound.
#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "check.hpp"
#include "threadmap/registry.hpp"

using namespace threadmap;
using result = structure_list::append_result;

TEST_CASE("structures: an append at a stale version fails and changes nothing") {
  auto m = registry::create(options{}, "string", "any");
  structure_list& s = m->structures();
  CHECK_EQ(s.read().version, std::uint64_t{0});
  CHECK(s.compare_and_append(0, "a;") == result::appended);
  CHECK(s.compare_and_append(0, "b;") == result::stale);
  CHECK(s.compare_and_append(2, "b;") == result::stale);
  const structure_list::snapshot now = s.read();
  CHECK_EQ(now.version, std::uint64_t{1});
  CHECK_EQ(now.bytes, std::string("a;"));
  CHECK(s.compare_and_append(1, "b;") == result::appended);
  CHECK_EQ(s.read().bytes, std::string("a;b;"));
  CHECK_EQ(s.size_bytes(), std::size_t{4});
}

TEST_CASE("structures: racing writers lose nothing and corrupt nothing") {
  // Each thread appends its own tokens with the codec's protocol: read,
  // compare-and-append at the version read, on failure read again. Every
  // token must end up in the list exactly once, and each successful append
  // must extend exactly the bytes its writer read.
  const int threads = 4;
  const long per_thread = tmtest::scaled(500);
  for (int round = 0; round < 5; ++round) {
    auto m = registry::create(options{}, "string", "any");
    structure_list& s = m->structures();
    std::atomic<bool> go{false};
    std::atomic<long> stale{0}, bad_prefix{0};
    std::vector<std::thread> ts;
    for (int t = 0; t < threads; ++t) {
      ts.emplace_back([&, t] {
        while (!go.load()) std::this_thread::yield();
        for (long i = 0; i < per_thread; ++i) {
          const std::string token = std::to_string(t) + ":" + std::to_string(i) + ";";
          for (;;) {
            const structure_list::snapshot seen = s.read();
            if (s.compare_and_append(seen.version, token) == result::appended) {
              const std::string after = s.read().bytes;
              if (after.compare(0, seen.bytes.size(), seen.bytes) != 0 ||
                  after.compare(seen.bytes.size(), token.size(), token) != 0)
                bad_prefix.fetch_add(1);
              break;
            }
            stale.fetch_add(1);
          }
        }
      });
    }
    go.store(true);
    for (auto& th : ts) th.join();
    const structure_list::snapshot end = s.read();
    CHECK_EQ(end.version, static_cast<std::uint64_t>(threads * per_thread));
    CHECK_EQ(bad_prefix.load(), 0L);
    // Each thread's tokens appear once each, in that thread's order.
    std::vector<long> next(threads, 0);
    std::size_t at = 0;
    bool well_formed = true;
    while (at < end.bytes.size()) {
      const std::size_t colon = end.bytes.find(':', at), semi = end.bytes.find(';', at);
      if (colon == std::string::npos || semi == std::string::npos || colon > semi) {
        well_formed = false;
        break;
      }
      const int t = std::stoi(end.bytes.substr(at, colon - at));
      const long i = std::stol(end.bytes.substr(colon + 1, semi - colon - 1));
      if (t < 0 || t >= threads || i != next[t]) well_formed = false;
      if (t >= 0 && t < threads) next[t] = i + 1;
      at = semi + 1;
    }
    CHECK(well_formed);
    for (int t = 0; t < threads; ++t) CHECK_EQ(next[t], per_thread);
  }
}

TEST_CASE("structures: close frees the list; later calls report closed") {
  auto m = registry::create(options{}, "string", "structured");
  structure_list& s = m->structures();
  CHECK(s.compare_and_append(0, "x") == result::appended);
  CHECK(m->close());
  const structure_list::snapshot after = s.read();
  CHECK(after.closed);
  CHECK(after.bytes.empty());
  CHECK(s.compare_and_append(1, "y") == result::closed);
  CHECK_EQ(s.size_bytes(), std::size_t{0});
}

TEST_CASE("structures: the size bound refuses an append and changes nothing") {
  auto m = registry::create(options{}, "string", "any");
  structure_list& s = m->structures();
  const std::string big(structure_list::max_bytes, 'x');
  CHECK(s.compare_and_append(0, big) == result::appended);
  CHECK(s.compare_and_append(1, "y") == result::too_large);
  CHECK_EQ(s.read().version, std::uint64_t{1});
  CHECK_EQ(s.size_bytes(), structure_list::max_bytes);
}

TEST_MAIN
