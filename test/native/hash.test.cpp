// Distribution of threadmap::hash_bytes in the three places the tables use it:
// hash_stripe, hash_group and hash_tag7 (threadmap/hash.hpp).
#include <bitset>
#include <cmath>
#include <cstring>
#include <set>
#include <string>
#include <vector>

#include "check.hpp"
#include "threadmap/hash.hpp"

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

TEST_MAIN
