// bench/native/flood_keys.hpp — key sets that flood a hash table, for the
// flooding benchmark (flood.cpp) and test/native/hash.test.cpp.
//
// `legacy_hash` is the hash threadmap shipped before it was keyed (public
// constants, no seed). The crafted sets are built against it, from its
// structure alone, the way an attacker would have built them once for every
// deployment:
//   - swap_chain_keys: its block step h ^= mulfold((A ^ k1) * (B ^ h ^ k2)) is
//     symmetric in the two factors, so (A, B) and (B ^ c, A ^ c) with
//     c = h ^ k1 ^ k2 leave the same state. Chaining `bits` such choices gives
//     2^bits keys of one length and one hash; the blocks are drawn so every
//     byte, swapped or not, is printable ASCII (valid string keys too).
//   - zero_block_keys: a block whose first 8 bytes are k1 multiplies by zero
//     and leaves the state as it was, whatever its other 8 bytes: every key of
//     such blocks plus a fixed tail has one hash (bytes keys).
// `prefix_flood_keys` is the generic flood that needs no knowledge of any
// hash: keys sharing a long prefix, differing only in their last bytes, over
// many lengths. `random_like` gives the baseline: random printable keys with
// the same lengths.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "threadmap/detail/hash.hpp"

namespace tmbench {

namespace legacy {

inline constexpr std::uint64_t k0 = 0x9e3779b97f4a7c15ull;
inline constexpr std::uint64_t k1 = 0xbf58476d1ce4e5b9ull;
inline constexpr std::uint64_t k2 = 0x94d049bb133111ebull;
inline constexpr std::uint64_t k3 = 0xd6e8feb86659fd93ull;

// The old hash's arithmetic and loads are the keyed one's (threadmap/detail/hash.hpp).
using threadmap::detail::load32;
using threadmap::detail::load64;
using threadmap::detail::load_tail;
using threadmap::detail::mulfold;

/// The block step of the old hash: the state after one 16-byte block.
inline std::uint64_t step(std::uint64_t h, std::uint64_t a, std::uint64_t b) {
  return h ^ mulfold(a ^ k1, b ^ h ^ k2);
}

inline std::uint64_t hash(const void* data, std::size_t n) {
  const auto* p = static_cast<const unsigned char*>(data);
  std::uint64_t h = k0 ^ (n * k3);
  std::size_t left = n;
  while (left > 16) {
    h = step(h, load64(p), load64(p + 8));
    p += 16;
    left -= 16;
  }
  std::uint64_t a, b;
  load_tail(p, left, a, b);
  h ^= mulfold(a ^ k1, b ^ h ^ k2);
  return mulfold(h ^ k3, (n + 1) * k0);
}
inline std::uint64_t hash(const std::string& s) {
  return hash(s.data(), s.size());
}

}  // namespace legacy

namespace flood_detail {

inline bool printable(unsigned x) {
  return x >= 0x20 && x <= 0x7e;
}

/// A random printable word whose xor with c is printable too; false when some
/// byte of c admits none.
inline bool printable_pair(std::uint64_t c, std::mt19937_64& rng, std::uint64_t& out) {
  out = 0;
  for (int j = 0; j < 8; ++j) {
    const unsigned cj = (c >> (8 * j)) & 0xff;
    unsigned choices[95];
    unsigned n = 0;
    for (unsigned x = 0x20; x <= 0x7e; ++x)
      if (printable(x ^ cj)) choices[n++] = x;
    if (n == 0) return false;
    out |= std::uint64_t{choices[rng() % n]} << (8 * j);
  }
  return true;
}

inline std::uint64_t printable_word(std::mt19937_64& rng) {
  std::uint64_t w = 0;
  for (int j = 0; j < 8; ++j) w |= std::uint64_t{0x20 + rng() % 95} << (8 * j);
  return w;
}

inline void put64(std::string& s, std::uint64_t v) {
  char b[8];
  std::memcpy(b, &v, 8);
  s.append(b, 8);
}

}  // namespace flood_detail

/// 2^bits printable keys of 16 * (bits + steer) + 16 bytes with one
/// legacy_hash (steer is 0, or 1 when the length's first c has a byte no
/// printable pair can absorb: a fixed first block then steers the state).
inline std::vector<std::string> swap_chain_keys(unsigned bits, std::uint64_t seed = 1) {
  using namespace flood_detail;
  if (bits > 24) throw std::invalid_argument("swap_chain_keys: at most 2^24 keys");
  std::mt19937_64 rng(seed);
  std::uint64_t probe = 0;
  for (unsigned steer = 0; steer <= 1; ++steer) {
    const std::size_t n = 16 * (bits + steer) + 16;
    std::string prefix;
    std::uint64_t h = legacy::k0 ^ (n * legacy::k3);
    if (steer) {
      // Some printable first block leaves a state whose c is usable.
      for (;;) {
        const std::uint64_t a = printable_word(rng), b = printable_word(rng);
        const std::uint64_t next = legacy::step(h, a, b);
        if (printable_pair(next ^ legacy::k1 ^ legacy::k2, rng, probe)) {
          put64(prefix, a);
          put64(prefix, b);
          h = next;
          break;
        }
      }
    } else if (!printable_pair(h ^ legacy::k1 ^ legacy::k2, rng, probe)) {
      continue;
    }
    // Block i: its (A, B) is drawn until the state it leaves has a usable c
    // for block i + 1 (about 1 draw in 256).
    std::vector<std::uint64_t> a(bits), b(bits), c(bits);
    for (unsigned i = 0; i < bits; ++i) {
      c[i] = h ^ legacy::k1 ^ legacy::k2;
      for (;;) {
        std::uint64_t x, y;
        printable_pair(c[i], rng, x);
        printable_pair(c[i], rng, y);
        const std::uint64_t next = legacy::step(h, x, y);
        if (i + 1 == bits || printable_pair(next ^ legacy::k1 ^ legacy::k2, rng, probe)) {
          a[i] = x;
          b[i] = y;
          h = next;
          break;
        }
      }
    }
    std::string tail;
    for (int j = 0; j < 16; ++j) tail.push_back(static_cast<char>('a' + j));
    std::vector<std::string> keys;
    keys.reserve(std::size_t{1} << bits);
    for (std::uint64_t m = 0; m < (std::uint64_t{1} << bits); ++m) {
      std::string k = prefix;
      for (unsigned i = 0; i < bits; ++i) {
        if ((m >> i) & 1) {
          put64(k, b[i] ^ c[i]);
          put64(k, a[i] ^ c[i]);
        } else {
          put64(k, a[i]);
          put64(k, b[i]);
        }
      }
      k += tail;
      keys.push_back(std::move(k));
    }
    return keys;
  }
  throw std::logic_error("swap_chain_keys: no steering block found");
}

/// `count` distinct keys of 16 * blocks + 16 bytes with one legacy_hash:
/// every block starts with k1's bytes (bytes keys: k1 is not printable).
inline std::vector<std::string> zero_block_keys(std::size_t count, unsigned blocks = 2,
                                                std::uint64_t seed = 2) {
  std::mt19937_64 rng(seed);
  std::vector<std::string> keys;
  keys.reserve(count);
  for (std::size_t i = 0; i < count; ++i) {
    std::string k;
    for (unsigned b = 0; b < blocks; ++b) {
      flood_detail::put64(k, legacy::k1);
      // The first block's free half carries i, so keys are distinct.
      flood_detail::put64(k, b == 0 ? i : rng());
    }
    k += "0123456789abcdef";
    keys.push_back(std::move(k));
  }
  return keys;
}

/// The generic flood: `count` keys sharing one long prefix, the last 6 bytes
/// a base-64 counter, lengths cycling through 24..279.
inline std::vector<std::string> prefix_flood_keys(std::size_t count) {
  static const char digits[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-_";
  std::string prefix;
  while (prefix.size() < 280) prefix += "https://example.com/api/v1/items?sort=asc&page=";
  std::vector<std::string> keys;
  keys.reserve(count);
  for (std::size_t i = 0; i < count; ++i) {
    const std::size_t len = 24 + (i * 7) % 256;
    std::string k;
    k.reserve(len);  // one exact allocation, as random_like's keys have
    k.append(prefix, 0, len - 6);
    std::size_t v = i;
    for (int d = 0; d < 6; ++d, v >>= 6) k.push_back(digits[v & 63]);
    keys.push_back(std::move(k));
  }
  return keys;
}

/// Random printable keys with the lengths of `like`, in the same order.
inline std::vector<std::string> random_like(const std::vector<std::string>& like,
                                            std::uint64_t seed = 3) {
  std::mt19937_64 rng(seed);
  std::vector<std::string> keys;
  keys.reserve(like.size());
  for (const auto& k : like) {
    std::string r(k.size(), ' ');
    for (auto& ch : r) ch = static_cast<char>(0x20 + rng() % 95);
    keys.push_back(std::move(r));
  }
  return keys;
}

}  // namespace tmbench
