// threadmap/hash.hpp — a 64-bit hash of byte strings, written for speed.
//
// Construction: input is consumed 16 bytes at a time; each block is folded into
// the state with one 64x64->128-bit multiply whose two halves are xor-ed
// together (a "multiply-fold"), which mixes every input bit into every output
// bit in a few cycles. The tail (0..16 bytes) is read with two possibly
// overlapping loads, so no byte loop runs for short keys. The length and a
// final multiply-fold finish it, so both the low bits (group index) and the
// high bits (stripe index) of the result are well mixed.
//
// The tables use: the top bits to choose a stripe, bits 7.. to choose a
// group, and the low 7 bits as the 1-byte tag. test/native/hash.test.cpp checks
// the distribution of all three on sequential integers and on keys sharing long
// prefixes.
//
// Not a cryptographic hash and not seeded per process: maps are not meant to
// face adversarial keys chosen to collide.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace threadmap {

namespace detail {

inline std::uint64_t mulfold(std::uint64_t a, std::uint64_t b) noexcept {
  const unsigned __int128 r = static_cast<unsigned __int128>(a) * b;
  return static_cast<std::uint64_t>(r) ^ static_cast<std::uint64_t>(r >> 64);
}

inline std::uint64_t load64(const unsigned char* p) noexcept {
  std::uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}

inline std::uint64_t load32(const unsigned char* p) noexcept {
  std::uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

// Odd constants with balanced bit patterns (from the golden ratio and other
// irrationals' expansions); any such constants serve.
inline constexpr std::uint64_t k0 = 0x9e3779b97f4a7c15ull;
inline constexpr std::uint64_t k1 = 0xbf58476d1ce4e5b9ull;
inline constexpr std::uint64_t k2 = 0x94d049bb133111ebull;
inline constexpr std::uint64_t k3 = 0xd6e8feb86659fd93ull;

}  // namespace detail

inline std::uint64_t hash_bytes(const void* data, std::size_t n) noexcept {
  using namespace detail;
  const auto* p = static_cast<const unsigned char*>(data);
  std::uint64_t h = k0 ^ (n * k3);
  std::size_t left = n;
  while (left > 16) {
    // The xor with h keeps the state even if one multiplicand is zero.
    h ^= mulfold(load64(p) ^ k1, load64(p + 8) ^ h ^ k2);
    p += 16;
    left -= 16;
  }
  std::uint64_t a = 0, b = 0;
  if (left >= 8) {
    a = load64(p);
    b = load64(p + left - 8);
  } else if (left >= 4) {
    a = load32(p);
    b = load32(p + left - 4);
  } else if (left > 0) {
    a = (std::uint64_t{p[0]} << 16) | (std::uint64_t{p[left >> 1]} << 8) | p[left - 1];
  }
  h ^= mulfold(a ^ k1, b ^ h ^ k2);
  return mulfold(h ^ k3, (n + 1) * k0);
}

inline std::uint64_t hash_bytes(std::string_view s) noexcept {
  return hash_bytes(s.data(), s.size());
}

// The three independent parts of a hash the tables use (test/native/
// hash.test.cpp checks each is uniform): the stripe from the top 32 bits,
// the flat table's home group from bits 7..38, the tag from bits 0..6. The
// first two scale a 32-bit field to the count (multiply and shift), so the
// count need not be a power of two.
inline std::size_t hash_stripe(std::uint64_t h, std::size_t count) noexcept {
  return static_cast<std::size_t>(((h >> 32) * count) >> 32);
}
inline std::size_t hash_group(std::uint64_t h, std::size_t groups) noexcept {
  return static_cast<std::size_t>((((h >> 7) & 0xFFFFFFFFu) * groups) >> 32);
}
inline std::uint8_t hash_tag7(std::uint64_t h) noexcept {
  return static_cast<std::uint8_t>(h & 0x7F);
}

}  // namespace threadmap
