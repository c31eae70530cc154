// threadmap/detail/hash.hpp — a keyed 64-bit hash of byte strings, seeded once per
// process from the OS's randomness.
//
// Why keyed: keys come from users, often straight from requests. A hash whose
// every constant is public lets anyone compute, offline and once for every
// deployment, as many keys as they like that share one hash; each insert of
// such a key then scans every earlier one (a probe becomes a scan, and
// lockfree's growth, which reacts to long probes, runs away). So every value
// the mixing uses, not only the initial state, is a secret drawn from the OS
// (getrandom(2), getentropy(2) or rand_s, else /dev/urandom) when the core is loaded (before main,
// or when dlopen loads the addon): without the secret no one can say which keys collide, and two
// processes place (and iterate) the same keys differently.
//
// Construction: input is consumed 16 bytes at a time; each block (A, B) is
// folded into the state h with one 64x64->128-bit multiply whose halves are
// xor-ed together (a "multiply-fold"): h ^= fold((A ^ s1) * (B ^ h ^ s2)). The
// tail (0..16 bytes) is read with two possibly overlapping loads, so no byte
// loop runs for short keys; the length enters the initial state
// (s0 ^ n * s3, s3 odd, so lengths never alias) and the final fold
// fold((h ^ s4) * (n ^ s5)), s5's top bit set so that factor is never zero.
//
// What the secrets defeat (test/native/hash.test.cpp builds each attack on
// the unkeyed version of this construction and shows it no longer works):
//   - the fold is symmetric in its factors, so for a known state h the blocks
//     (A, B) and (B ^ c, A ^ c), c = s1 ^ s2 ^ h, leave the same state; with
//     public constants a chain of 16 such choices gives 2^16 keys of one hash.
//     Here c hides behind two 64-bit secrets and the secret state.
//   - a factor of zero erases the block: with a public s1, every block
//     starting with s1's bytes left h unchanged, whatever followed (and
//     wyhash's "blinding multiplication" with its public default secret is the
//     same flaw). Here hitting zero means guessing a 64-bit secret.
// Against chosen keys this is a secret-keyed hash, not a proven PRF (keyed
// SipHash-1-3 was measured beside it and cost several times as much per key:
// docs/benchmarks.md, "Hash flooding"). What it guarantees is that the
// constructions above, and any other that needs the secret's value, cannot be
// computed by someone who has not seen the secret. Someone who can read many
// hash-dependent timings of one process over a long time is outside what it
// promises.
//
// Seeding happens in a static initializer of the core (hash.cpp, priority
// 101: before any ordinary static initializer of the module that links the
// core), so the hot path reads the secret words with plain loads and no "is
// it seeded" branch. The secret sits alone on its cache line: it is read by
// every thread on every call and written only while the module loads, so the
// line stays shared in every core's cache. There is deliberately no way to fix
// the seed.
//
// The tables use: the top bits to choose a stripe, bits 7.. to choose a
// group, and the low 7 bits as the 1-byte tag. test/native/hash.test.cpp
// checks the distribution of all three on sequential integers and on keys
// sharing long prefixes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace threadmap {

namespace detail {

/// The process's hash secret (s[0..5] used), written once as the module loads
/// (hash.cpp).
struct alignas(64) hash_secret {
  std::uint64_t s[8];
};
extern hash_secret process_hash_secret;

/// The project's bit mixers, unkeyed, for what needs spread bits and no
/// secret: splitmix64's finaliser (a bijection on 64-bit words: the bench's
/// keys and the hit-ratio replay's stand-in hash) and murmur3's 32-bit
/// finaliser (the frequency sketch's block and counter choice, which its JS
/// mirror in test/js/eviction.hit-ratio.test.ts repeats). Never for keys a
/// user chooses: that is keyed_hash's job.
constexpr std::uint64_t mix64(std::uint64_t x) noexcept {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ull;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebull;
  x ^= x >> 31;
  return x;
}
constexpr std::uint32_t mix32(std::uint32_t h) noexcept {
  h ^= h >> 16;
  h *= 0x85ebca6bu;
  h ^= h >> 13;
  h *= 0xc2b2ae35u;
  h ^= h >> 16;
  return h;
}

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

/// The last 0..16 bytes as two words, with two possibly overlapping loads
/// (no byte loop for short keys); zeros when there are none.
inline void load_tail(const unsigned char* p, std::size_t left, std::uint64_t& a,
                      std::uint64_t& b) noexcept {
  a = 0;
  b = 0;
  if (left >= 8) {
    a = load64(p);
    b = load64(p + left - 8);
  } else if (left >= 4) {
    a = load32(p);
    b = load32(p + left - 4);
  } else if (left > 0) {
    a = (std::uint64_t{p[0]} << 16) | (std::uint64_t{p[left >> 1]} << 8) | p[left - 1];
  }
}

/// The construction above under an explicit secret (hash_bytes passes the
/// process's); tests use it to run the attacks on a known key.
inline std::uint64_t keyed_hash(const std::uint64_t* s, const void* data, std::size_t n) noexcept {
  const auto* p = static_cast<const unsigned char*>(data);
  std::uint64_t h = s[0] ^ (n * s[3]);
  std::size_t left = n;
  while (left > 16) {
    h ^= mulfold(load64(p) ^ s[1], load64(p + 8) ^ h ^ s[2]);
    p += 16;
    left -= 16;
  }
  std::uint64_t a, b;
  load_tail(p, left, a, b);
  h ^= mulfold(a ^ s[1], b ^ h ^ s[2]);
  return mulfold(h ^ s[4], n ^ s[5]);
}

/// Fills `out` with `n` bytes of the OS's randomness: the system's own call
/// (getrandom(2) on Linux, retried on EINTR; getentropy(2) on macOS; rand_s on
/// Windows) when `use_getrandom`, else or when the kernel lacks it the file
/// `fallback` (normally /dev/urandom). Returns 0, or the errno of the last
/// source tried (EIO for a file that ended early); never fills in a constant.
/// `*source` names the source that answered. The seeding uses it with
/// (true, "/dev/urandom"); tests call it to exercise the fallback.
int os_random(void* out, std::size_t n, bool use_getrandom, const char* fallback,
              const char** source) noexcept;

}  // namespace detail

/// Where this process's hash secret came from: "getrandom", "getentropy",
/// "rand_s" or "/dev/urandom".
const char* hash_seed_source() noexcept;

inline std::uint64_t hash_bytes(const void* data, std::size_t n) noexcept {
  return detail::keyed_hash(detail::process_hash_secret.s, data, n);
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
