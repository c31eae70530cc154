// threadmap/detail/eviction/sketch.hpp — the frequency sketch behind
// W-TinyLFU's admission: how often each key was seen lately, approximately,
// in 4 bits per counter.
//
// A count-min sketch of depth 4. The counters live in 64-byte blocks (eight
// 64-bit words of sixteen 4-bit counters); a key's four counters all lie in
// one block, so an increment or an estimate touches one cache line. The block
// is the key's spread hash scaled to the block count (a multiply and a shift,
// so any count works); row i uses words 2i and 2i+1 of the block and picks
// one of them and one of its sixteen counters from a second mix of the hash.
// The estimate is the smallest of the four counters (collisions only ever
// add). Counters stop at 15: admission compares small frequencies, and more
// bits would cost memory every entry pays for.
//
// Aging. After `sample` increments (ten per entry of capacity) every counter
// is halved, so the sketch forgets at the rate the cache turns over and a key
// that was hot an hour ago cannot keep a new hot key out. Halving truncates
// odd counters; each key has four counters, so a quarter of the odd ones is
// the number of increments the truncation lost, and the running count is
// corrected by it before it is halved too.
//
// Size: the owner says how many blocks (at least one); W-TinyLFU gives it
// what is left of 4 bytes an entry once its fixed costs are paid
// (wtinylfu.hpp), so a block covers a little more than 16 entries of
// capacity and a key's counters are a little more shared than at 8 per
// entry. The block count need not be a power of two: the block is picked by
// multiply-shift range reduction. bytes() counts the allocation, the line
// spent on aligning the blocks included.
//
// The hash it takes is the low 32 bits of the key's 64-bit hash, which is
// what a read record carries (policy.hpp). Everything is 32-bit arithmetic
// but the block scaling, so the JS reference in
// test/js/eviction.hit-ratio.test.ts can mirror it exactly.
//
// Not thread-safe: the owner's lock guards it (W-TinyLFU changes it only
// while draining reads and on writes).
#pragma once

#include <cstddef>
#include <cstdint>

namespace threadmap::detail::eviction {

class frequency_sketch {
 public:
  static constexpr std::size_t block_bytes = 64;
  static constexpr std::size_t entries_per_block = 16;
  static constexpr unsigned max_count = 15;

  frequency_sketch() = default;
  ~frequency_sketch();
  frequency_sketch(const frequency_sketch&) = delete;
  frequency_sketch& operator=(const frequency_sketch&) = delete;

  /// Where a hash's four counters are: its block and the mix that picks
  /// them in it. A batch of increments locates each once, asks for the
  /// block, and increments through it later.
  struct counters {
    std::uint64_t* block;
    std::uint32_t rows;
  };

  /// The blocks a budget of `bytes` pays for, the alignment line included
  /// (at least one block, whatever the budget).
  static std::size_t blocks_for(std::size_t bytes) noexcept {
    return bytes >= 2 * block_bytes ? bytes / block_bytes - 1 : 1;
  }
  /// `blocks` blocks (at least one), aging after ten increments per entry of
  /// `capacity`; false when memory is refused.
  bool init(std::size_t capacity, std::size_t blocks) noexcept;
  /// One block per 16 entries of `capacity` (tests, and a sketch with no
  /// budget to meet).
  bool init(std::size_t capacity) noexcept { return init(capacity, capacity / entries_per_block); }
  counters locate(std::uint32_t hash) const noexcept { return {block_of(hash), rows(hash)}; }
  void increment(std::uint32_t hash) noexcept { increment(locate(hash)); }
  /// Inline: a drain applies sixteen records in a row.
  void increment(counters c) noexcept {
    // Without a branch per counter: whether a counter is below the cap is
    // 0 or 1, added at its place (a saturated counter gets 0).
    std::uint64_t added = 0;
    for (unsigned i = 0; i < 4; ++i) {
      std::uint64_t& w = c.block[2 * i + ((c.rows >> i) & 1)];
      const unsigned shift = ((c.rows >> (8 + 6 * i)) & 15) * 4;
      const std::uint64_t below = ((w >> shift) & 15) < max_count;
      w += below << shift;
      added |= below;
    }
    if (added && ++additions_ >= sample_) halve();
  }
  unsigned estimate(std::uint32_t hash) const noexcept;
  /// Every counter to zero (the owner's clear()).
  void reset() noexcept;

  /// The allocation: the blocks and the line that aligns them.
  std::size_t bytes() const noexcept { return (blocks_ + 1) * block_bytes; }
  std::size_t blocks() const noexcept { return blocks_; }
  std::uint64_t sample() const noexcept { return sample_; }
  /// Increments since the last halving (corrected for its truncation).
  std::uint64_t additions() const noexcept { return additions_; }
  std::uint64_t halvings() const noexcept { return halvings_; }

  /// The spread hash that picks the block, and the mix that picks counters
  /// (detail::mix32, murmur3's 32-bit finaliser, and the same after adding a
  /// constant).
  static std::uint32_t spread(std::uint32_t h) noexcept;
  static std::uint32_t rows(std::uint32_t h) noexcept { return spread(h + 0x9e3779b9u); }

 private:
  void halve() noexcept;
  std::uint64_t* block_of(std::uint32_t hash) const noexcept {
    return words_ + 8 * ((static_cast<std::uint64_t>(spread(hash)) * blocks_) >> 32);
  }

  void* raw_ = nullptr;  // the allocation (words_ is it aligned to a line)
  std::uint64_t* words_ = nullptr;
  std::size_t blocks_ = 0;
  std::uint64_t sample_ = 0;
  std::uint64_t additions_ = 0;
  std::uint64_t halvings_ = 0;
};

}  // namespace threadmap::detail::eviction
