// Distribution of threadmap::hash_bytes in the three places the tables use it
// (hash_stripe, hash_group and hash_tag7), and what its per-process secret
// buys (threadmap/detail/hash.hpp): the keys crafted against the old unkeyed hash
// spread, the attacks need the secret, two processes hash differently.
#include <unistd.h>

#include <bitset>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "../../bench/native/flood_keys.hpp"
#include "check.hpp"
#include "threadmap/detail/hash.hpp"

using threadmap::hash_bytes;
using threadmap::hash_group;
using threadmap::hash_stripe;
using threadmap::hash_tag7;

namespace {

// Pearson's chi-square of `hashes` put into `buckets` buckets by `pick`.
template <class Pick>
double chi_square(const std::vector<std::uint64_t>& hashes, std::size_t buckets, Pick pick) {
  std::vector<double> count(buckets, 0);
  for (std::uint64_t h : hashes) count[pick(h) % buckets] += 1;
  const double expected = double(hashes.size()) / buckets;
  double chi = 0;
  for (double c : count) chi += (c - expected) * (c - expected) / expected;
  return chi;
}

// A chi-square with k-1 degrees of freedom has mean k-1 and standard
// deviation sqrt(2(k-1)); a good hash stays within a few deviations, a skewed
// one is off by orders of magnitude.
bool uniform(double chi, std::size_t buckets) {
  const double dof = double(buckets - 1);
  return chi < dof + 6 * std::sqrt(2 * dof);
}

void check_key_set(const char* what, const std::vector<std::string>& keys) {
  std::vector<std::uint64_t> h;
  h.reserve(keys.size());
  for (const auto& k : keys) h.push_back(hash_bytes(k));
  const double stripe = chi_square(h, 1024, [](std::uint64_t x) { return hash_stripe(x, 1024); });
  const double group = chi_square(h, 4096, [](std::uint64_t x) { return hash_group(x, 4096); });
  const double tag = chi_square(h, 128, [](std::uint64_t x) { return hash_tag7(x); });
  if (!uniform(stripe, 1024) || !uniform(group, 4096) || !uniform(tag, 128)) {
    std::fprintf(stderr, "%s: chi-square stripe %.0f group %.0f tag %.0f\n", what, stripe, group,
                 tag);
  }
  CHECK(uniform(stripe, 1024));
  CHECK(uniform(group, 4096));
  CHECK(uniform(tag, 128));
  std::set<std::uint64_t> distinct(h.begin(), h.end());
  CHECK_EQ(distinct.size(), h.size());
}

}  // namespace

TEST_CASE("hash: sequential 8-byte integers spread evenly") {
  std::vector<std::string> keys;
  for (std::uint64_t i = 0; i < (1u << 18); ++i) keys.emplace_back(reinterpret_cast<char*>(&i), 8);
  check_key_set("u64", keys);
}

TEST_CASE("hash: sequential doubles spread evenly") {
  std::vector<std::string> keys;
  for (int i = 0; i < (1 << 18); ++i) {
    const double d = i;
    keys.emplace_back(reinterpret_cast<const char*>(&d), 8);
  }
  check_key_set("f64", keys);
}

TEST_CASE("hash: decimal strings and long common prefixes spread evenly") {
  std::vector<std::string> a, b, c;
  for (int i = 0; i < (1 << 18); ++i) {
    a.push_back("key:" + std::to_string(i));
    b.push_back("https://example.com/a/rather/long/common/prefix/of/many/bytes/" +
                std::to_string(i));
    c.push_back(std::to_string(i) + "/shared-suffix-that-is-longer-than-sixteen-bytes");
  }
  check_key_set("key:i", a);
  check_key_set("prefix", b);
  check_key_set("suffix", c);
}

TEST_CASE("hash: every length from 0 to 64 differs and avalanches") {
  std::set<std::uint64_t> seen;
  std::string zeros(64, '\0');
  for (std::size_t n = 0; n <= 64; ++n) seen.insert(hash_bytes(zeros.data(), n));
  CHECK_EQ(seen.size(), 65u);  // length is part of the hash, even for zero bytes
  // Flipping any one input bit flips about half of the output bits.
  double total = 0;
  int samples = 0;
  for (std::size_t n : {1u, 3u, 8u, 13u, 16u, 17u, 40u}) {
    std::string s(n, 'q');
    for (std::size_t bit = 0; bit < n * 8; ++bit) {
      std::string t = s;
      t[bit / 8] ^= char(1 << (bit % 8));
      total += std::bitset<64>(hash_bytes(s) ^ hash_bytes(t)).count();
      ++samples;
    }
  }
  const double mean = total / samples;
  CHECK(mean > 30 && mean < 34);
}

namespace {

// A fixed, known secret for the cases that run an attack on the construction.
struct known_secret {
  std::uint64_t s[8];
  explicit known_secret(std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    for (auto& w : s) w = rng();
    s[3] |= 1;
    s[5] |= 1ull << 63;
  }
  std::uint64_t operator()(const std::string& k) const {
    return threadmap::detail::keyed_hash(s, k.data(), k.size());
  }
};

std::string words(std::initializer_list<std::uint64_t> ws) {
  std::string k;
  for (std::uint64_t w : ws) tmbench::flood_detail::put64(k, w);
  return k;
}

std::size_t distinct_hashes(const std::vector<std::string>& keys) {
  std::set<std::uint64_t> d;
  for (const auto& k : keys) d.insert(hash_bytes(k));
  return d.size();
}

}  // namespace

TEST_CASE("hash: the process secret is seeded from the OS before main") {
  const std::string source = threadmap::hash_seed_source();
  CHECK(source == "getrandom" || source == "/dev/urandom");
  int zero_words = 0;
  for (int i = 0; i < 6; ++i) zero_words += threadmap::detail::process_hash_secret.s[i] == 0;
  CHECK(zero_words == 0);
}

TEST_CASE("hash: the OS randomness falls back to the file and never to a constant") {
  const char* source = nullptr;
  unsigned char a[64] = {}, b[64] = {};
  CHECK_EQ(threadmap::detail::os_random(a, sizeof a, true, "/dev/urandom", &source), 0);
  CHECK(source != nullptr);
  source = nullptr;
  CHECK_EQ(threadmap::detail::os_random(b, sizeof b, false, "/dev/urandom", &source), 0);
  CHECK(source != nullptr && std::string(source) == "/dev/urandom");
  CHECK(std::memcmp(a, b, sizeof a) != 0);
  // No getrandom and no file: an error, not a quiet constant.
  CHECK_EQ(threadmap::detail::os_random(a, sizeof a, false, "/nonexistent/urandom", nullptr),
           ENOENT);
  // A file that ends early is no source either.
  CHECK_EQ(threadmap::detail::os_random(a, sizeof a, false, "/dev/null", nullptr), EIO);
}

TEST_CASE("hash: the old hash's swap-chain keys collide under it and spread under the keyed hash") {
  const auto keys = tmbench::swap_chain_keys(16);
  REQUIRE(keys.size() == 65536u);
  CHECK_EQ(std::set<std::string>(keys.begin(), keys.end()).size(), keys.size());
  std::set<std::uint64_t> legacy;
  for (const auto& k : keys) {
    legacy.insert(tmbench::legacy::hash(k));
    for (unsigned char ch : k) CHECK(ch >= 0x20 && ch <= 0x7e);
  }
  CHECK_EQ(legacy.size(), 1u);  // the attack as it was: one hash for all
  CHECK_EQ(distinct_hashes(keys), keys.size());
  check_key_set("swap chain", keys);
}

TEST_CASE("hash: the old hash's zero-multiplicand keys collide under it and spread now") {
  const auto keys = tmbench::zero_block_keys(65536);
  std::set<std::uint64_t> legacy;
  for (const auto& k : keys) legacy.insert(tmbench::legacy::hash(k));
  CHECK_EQ(legacy.size(), 1u);
  CHECK_EQ(distinct_hashes(keys), keys.size());
  check_key_set("zero block", keys);
}

TEST_CASE("hash: swapped blocks collide only for someone who knows the secret") {
  const known_secret s(7), other(8);
  std::mt19937_64 rng(9);
  const std::string tail = "0123456789abcdef";
  int known_collisions = 0, other_collisions = 0, process_collisions = 0;
  for (int i = 0; i < 1000; ++i) {
    const std::uint64_t a = rng(), b = rng();
    const std::size_t n = 16 + tail.size();
    // The swap an attacker who knew the secret would use (c = s1 ^ s2 ^ h)...
    const std::uint64_t h = s.s[0] ^ (n * s.s[3]);
    const std::uint64_t c = s.s[1] ^ s.s[2] ^ h;
    const std::string k = words({a, b}) + tail, swapped = words({b ^ c, a ^ c}) + tail;
    known_collisions += s(k) == s(swapped);
    // ...misses under any other secret, and so does the plain swap and the
    // swap with the old public constants under the process's secret.
    other_collisions += other(k) == other(swapped);
    const std::uint64_t old_c = tmbench::legacy::k1 ^ tmbench::legacy::k2 ^
                                (tmbench::legacy::k0 ^ (n * tmbench::legacy::k3));
    process_collisions += hash_bytes(k) == hash_bytes(words({b, a}) + tail);
    process_collisions += hash_bytes(k) == hash_bytes(words({b ^ old_c, a ^ old_c}) + tail);
  }
  CHECK_EQ(known_collisions, 1000);  // the construction is the attack
  CHECK_EQ(other_collisions, 0);
  CHECK_EQ(process_collisions, 0);
}

TEST_CASE("hash: a block equal to the secret erases nothing without the secret") {
  const known_secret s(11), other(12);
  std::mt19937_64 rng(13);
  const std::string tail = "0123456789abcdef";
  std::set<std::uint64_t> under_s, under_other;
  for (int i = 0; i < 1000; ++i) {
    const std::string k = words({s.s[1], rng(), s.s[1], rng()}) + tail;
    under_s.insert(s(k));
    under_other.insert(other(k));
  }
  CHECK_EQ(under_s.size(), 1u);  // a zero factor erases the block, as it did
  CHECK_EQ(under_other.size(), 1000u);
}

TEST_CASE("hash: two processes hash the same keys differently") {
  // The same binary run twice: each child prints the hashes of the same keys.
  char self[4096];
  const ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
  REQUIRE(len > 0);
  self[len] = 0;
  auto run = [&](std::string& out) {
    const std::string cmd = std::string("'") + self + "' --print-hashes";
    FILE* f = popen(cmd.c_str(), "r");
    if (!f) return false;
    char buf[4096];
    std::size_t got;
    while ((got = std::fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, got);
    return pclose(f) == 0;
  };
  std::string first, second;
  REQUIRE(run(first));
  REQUIRE(run(second));
  CHECK(first.size() > 1000);
  CHECK(first != second);
  // Each line differs, not only some: the whole secret changed.
  std::size_t same = 0, lines = 0;
  for (std::size_t i = 0, j = 0; i < first.size() && j < second.size();) {
    const std::size_t ei = first.find('\n', i), ej = second.find('\n', j);
    if (ei == std::string::npos || ej == std::string::npos) break;
    same += first.compare(i, ei - i, second, j, ej - j) == 0;
    ++lines;
    i = ei + 1;
    j = ej + 1;
  }
  CHECK_EQ(lines, 100u);
  CHECK_EQ(same, 0u);
}

int main(int argc, char** argv) {
  if (argc == 2 && std::strcmp(argv[1], "--print-hashes") == 0) {
    for (int i = 0; i < 100; ++i)
      std::printf("%016llx\n",
                  static_cast<unsigned long long>(hash_bytes("key:" + std::to_string(i))));
    return 0;
  }
  return ::tmtest::run_all(argc, argv);
}
