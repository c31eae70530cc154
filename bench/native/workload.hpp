// bench/native/workload.hpp — what a benchmark thread asks of a map.
//
// A workload is: a key space of n keys (all present: the map is filled before
// any timed operation), a key distribution (uniform, or Zipf with skew theta
// over popularity ranks), a read share, and a key type (64-bit integers or
// 16-byte strings). Writes are updates (put of a key that is present), so the
// map's key set, and therefore every later workload's conditions, stay fixed.
//
// Nothing random or costly happens inside the timed loop: each thread gets a
// precomputed ring of operations (4 bytes each: a key index in the low 31 bits
// and a write flag in the top bit), generated from its own seed. The key
// itself is derived from the index on the fly (a bijective mix for integer
// keys, that mix written as 16 hex digits for string keys): a few ns that
// every contender pays alike, and no array of keys whose cache misses would
// be charged to the map.
//
// Zipf ranks come from the rejection-free method of Gray et al. ("Quickly
// generating billion-record synthetic databases", SIGMOD 1994), as YCSB uses;
// rank r is then moved to index (r * a + b) mod n with a odd, a bijection on
// power-of-two key spaces, so the hot keys are not the first ones inserted.
#pragma once

#include <array>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "threadmap/detail/hash.hpp"

namespace tmbench {

// A bijection on 64-bit integers (xor-shift and odd multiply are invertible),
// so distinct indexes give distinct keys: the core's one copy of it.
using threadmap::detail::mix64;

/// A small, fast generator for building op rings (not used while timing).
class rng {
 public:
  explicit rng(std::uint64_t seed) : s_(seed * 0x9e3779b97f4a7c15ull + 1) {}
  std::uint64_t next() noexcept { return mix64(s_ += 0x9e3779b97f4a7c15ull); }
  double unit() noexcept { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
  std::uint64_t below(std::uint64_t n) noexcept {
    return static_cast<std::uint64_t>((static_cast<unsigned __int128>(next()) * n) >> 64);
  }

 private:
  std::uint64_t s_;
};

/// Zipf(theta) over ranks 0..n-1, rank 0 the most popular.
class zipf {
 public:
  zipf(std::uint64_t n, double theta) : n_(n), theta_(theta) {
    // zeta(n, theta) = sum 1/i^theta: computed once, O(n) (16M terms: ~0.1 s).
    double z = 0;
    for (std::uint64_t i = 1; i <= n; ++i) z += 1.0 / std::pow(static_cast<double>(i), theta);
    zetan_ = z;
    const double zeta2 = 1.0 + 1.0 / std::pow(2.0, theta);
    alpha_ = 1.0 / (1.0 - theta);
    eta_ = (1.0 - std::pow(2.0 / static_cast<double>(n), 1.0 - theta)) / (1.0 - zeta2 / zetan_);
    half_pow_ = 1.0 + std::pow(0.5, theta);
  }

  std::uint64_t operator()(rng& r) const noexcept {
    const double u = r.unit();
    const double uz = u * zetan_;
    if (uz < 1.0) return 0;
    if (uz < half_pow_) return 1;
    auto rank = static_cast<std::uint64_t>(static_cast<double>(n_) *
                                           std::pow(eta_ * u - eta_ + 1.0, alpha_));
    return rank < n_ ? rank : n_ - 1;
  }

 private:
  std::uint64_t n_;
  double theta_, zetan_ = 0, alpha_ = 0, eta_ = 0, half_pow_ = 0;
};

enum class dist { uniform, zipf };
enum class key_kind { int64, str16 };

inline const char* to_string(dist d) {
  return d == dist::uniform ? "uniform" : "zipf0.99";
}
inline const char* to_string(key_kind k) {
  return k == key_kind::int64 ? "int64" : "str16";
}

inline constexpr std::uint32_t write_flag = 0x80000000u;

/// Builds one thread's ring of operations: `length` entries (a power of two).
inline std::vector<std::uint32_t> make_ops(std::uint64_t n, dist d, unsigned read_percent,
                                           std::uint64_t seed, std::size_t length, const zipf* z) {
  std::vector<std::uint32_t> ops(length);
  rng r(seed);
  // Scatter ranks over the key space with a bijection (n is a power of two).
  const std::uint64_t a = 0x9e3779b1u | 1u, b = mix64(seed) & (n - 1);
  for (auto& op : ops) {
    std::uint64_t idx;
    if (d == dist::uniform) {
      idx = r.below(n);
    } else {
      idx = ((*z)(r)*a + b) & (n - 1);
    }
    const bool write = r.below(100) >= read_percent;
    op = static_cast<std::uint32_t>(idx) | (write ? write_flag : 0u);
  }
  return ops;
}

/// Integer keys: the 8 bytes of a 64-bit integer.
struct int_key {
  std::uint64_t v;
  bool operator==(const int_key&) const = default;
  static int_key of(std::uint64_t index) noexcept { return {mix64(index)}; }
  std::string_view bytes() const noexcept { return {reinterpret_cast<const char*>(&v), sizeof v}; }
};

/// String keys: 16 characters, the integer key in hex (printable, unique).
struct str_key {
  std::array<char, 16> c;
  bool operator==(const str_key&) const = default;
  static str_key of(std::uint64_t index) noexcept {
    static constexpr char hex[] = "0123456789abcdef";
    str_key k;
    std::uint64_t v = mix64(index);
    for (int i = 15; i >= 0; --i, v >>= 4) k.c[static_cast<std::size_t>(i)] = hex[v & 15];
    return k;
  }
  std::string_view bytes() const noexcept { return {c.data(), c.size()}; }
};

/// Values written for key `index`: the index in the high bits (so a reader can
/// check it got the value of the key it asked for) and a writer sequence below.
inline std::uint64_t value_for(std::uint64_t index, std::uint64_t seq) noexcept {
  return (index << 24) | (seq & 0xffffff);
}
inline bool value_matches(std::uint64_t index, std::uint64_t value) noexcept {
  return (value >> 24) == index;
}

}  // namespace tmbench
