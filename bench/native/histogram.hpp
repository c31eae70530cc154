// bench/native/histogram.hpp — latency histogram of sampled operations.
//
// Log-linear buckets, in nanoseconds: values below 64 get one bucket each;
// above, every power of two is split into 32 equal sub-buckets, so a recorded
// value is known to within 1/32 (about 3%) of itself, up to 2^40 ns. A
// percentile is reported as the upper edge of the bucket that holds it (never
// rounded down). One histogram per thread, written only by that thread and
// merged after the run, so recording costs one increment and shares nothing.
#pragma once

#include <algorithm>
#include <array>
#include <bit>
#include <cstdint>

namespace tmbench {

class histogram {
 public:
  static constexpr int sub_bits = 5;  // 32 sub-buckets per power of two
  static constexpr int linear = 64;   // values below this: exact buckets
  static constexpr int max_exp = 40;
  static constexpr int buckets = linear + (max_exp - 6) * (1 << sub_bits);

  void record(std::uint64_t ns) noexcept {
    ++counts_[index(ns)];
    ++total_;
    max_ = std::max(max_, ns);
  }

  void merge(const histogram& o) noexcept {
    for (int i = 0; i < buckets; ++i) counts_[i] += o.counts_[i];
    total_ += o.total_;
    max_ = std::max(max_, o.max_);
  }

  std::uint64_t count() const noexcept { return total_; }
  std::uint64_t max() const noexcept { return max_; }

  /// The value at quantile q (0..1): the upper edge of its bucket, capped at max.
  std::uint64_t quantile(double q) const noexcept {
    if (total_ == 0) return 0;
    auto rank = static_cast<std::uint64_t>(q * static_cast<double>(total_));
    if (rank >= total_) rank = total_ - 1;
    std::uint64_t seen = 0;
    for (int i = 0; i < buckets; ++i) {
      seen += counts_[i];
      if (seen > rank) return std::min(upper_edge(i), max_);
    }
    return max_;
  }

 private:
  static int index(std::uint64_t v) noexcept {
    if (v < linear) return static_cast<int>(v);
    int e = 63 - std::countl_zero(v);  // 6..63
    if (e >= max_exp) return buckets - 1;
    const int sub = static_cast<int>((v >> (e - sub_bits)) & ((1 << sub_bits) - 1));
    return linear + (e - 6) * (1 << sub_bits) + sub;
  }

  static std::uint64_t upper_edge(int i) noexcept {
    if (i < linear) return static_cast<std::uint64_t>(i);
    const int e = (i - linear) / (1 << sub_bits) + 6;
    const int sub = (i - linear) % (1 << sub_bits);
    const std::uint64_t base = std::uint64_t{1} << e;
    const std::uint64_t step = base >> sub_bits;
    return base + step * static_cast<std::uint64_t>(sub + 1) - 1;
  }

  std::array<std::uint64_t, buckets> counts_{};
  std::uint64_t total_ = 0;
  std::uint64_t max_ = 0;
};

}  // namespace tmbench
