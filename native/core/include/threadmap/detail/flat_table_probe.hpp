// threadmap/detail/flat_table_probe.hpp — the flat table's array layout and
// its one probe loop, in a header so that a reader's whole lookup compiles
// into its caller.
//
// Why a header. A get on a striped map is a hash, an epoch guard, a stripe
// choice, a few optimistic attempts and the probe. Written as separate
// functions in separate files, the calls between them (the strategy's
// per-mode helper, the table's try_get, the value's copy into a string)
// were frames and argument plumbing that the work itself did not need
// (docs/benchmarks.md, "The inlined read path", has the figures). Here the
// array layout (table_array), the slot formats' reading half (slot_copy,
// slot_view), the probe loop (probe) and the reader's lookup
// (flat_table::try_get) are visible to the strategy, which inlines all of
// it into its get. Writers, growth and everything that changes the array
// stay in flat_table.cpp: they run under a lock and are not the read path.
//
// What is inlined is chosen, not left to the compiler: once the lookup is
// inlined, GCC's growth limits stop it inlining the smaller helpers around
// it (the hash, the epoch guard, the probe loop, the value copy), each of
// which then costs a frame. So try_get, probe, prefetch_home_slots and
// copy_value are always_inline, striped_map::get is flattened, and the
// paths a get seldom takes (the locked read after spoiled attempts, a
// timed or evicting map's extra work, a value of a new width) are calls
// marked noinline, which keeps the inlined body, and its register
// pressure, to the common path.
//
// The invariants are the flat table's (threadmap/detail/flat_table.hpp, the
// essay there has the layout and the seqlock protocol); what this header
// keeps of them:
// - Every word a reader reads concurrently with a writer is read with an
//   atomic load (load_word), and a reader interprets nothing it read before
//   the version check that validates it: a torn slot may hold any bytes,
//   and a blob pointer is followed only once the slot is known to have been
//   the entry at one instant (the blob it names is immutable and retired
//   through the epoch domain, so the caller's guard keeps it alive).
// - The array header (groups, words, placement, timed, slots) is written
//   once, before the array is published by a release store, and never
//   again; a reader that acquired the array pointer reads it without more
//   synchronisation.
// - One probe loop (probe) serves lookups, writers' finds and growth, for
//   both slot formats (flat_table's four words, pointer_table's three):
//   there is no second copy of it.
//
// try_get is the one lookup of an optimistic reader, whether it is inlined
// into a strategy or called by a test; flat_table.hpp declares it
// always-inline, so a caller must include this header (the compiler says so
// otherwise).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <utility>

#include "threadmap/detail/eviction/policy.hpp"
#include "threadmap/detail/flat_table.hpp"
#include "threadmap/detail/hash.hpp"
#include "threadmap/detail/prefetch.hpp"
#include "threadmap/placement.hpp"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace threadmap::detail {

namespace flat_probe {

// Tags: zero is empty, so a freshly mapped (zero) array needs no
// initialisation and its pages stay unfaulted until an entry lands on them.
inline constexpr std::uint8_t tag_empty = 0x00;
inline constexpr std::uint8_t tag_deleted = 0x01;
inline constexpr std::uint8_t tag_full = 0x80;     // full tags: 0x80 | the low 7 hash bits
inline constexpr std::uint8_t blob_marker = 0x80;  // byte 0 of an out-of-line slot
inline constexpr std::size_t header_bytes = 64;    // keeps the tags on a line boundary
// Words per slot. A flat_table slot is four (word 3 its revision): 32 bytes,
// so one slot never straddles a line and key, value and revision of a short
// entry come in one miss. A pointer_table slot is three (readmostly keeps
// revisions in its value nodes). Each array records its own.
inline constexpr std::size_t flat_words = 4;
inline constexpr std::size_t pointer_words = 3;
inline constexpr std::size_t rev_word = 3;
// Byte 0 of a flat_table slot says its form. Below 0x80: a narrow inline
// entry, byte 0 the key length, byte 1 the value length, then at most 22
// bytes. 0x80: a blob. 0xC0 and above: a wide inline entry, key and value
// together 23 or 24 bytes (a 16-byte key with an 8-byte value) from byte 1
// on, the 24th in byte 24, the low byte of word 3; byte 0 is 0xC0 | 0x20
// when they are 23 | the key length. Word 3 above its low byte is the
// revision, so revisions stay below 2^56 (threadmap/detail/revision.hpp,
// BOUND).
inline constexpr std::uint8_t wide_marker = 0xC0;
inline constexpr std::uint8_t wide_short = 0x20;  // 23 bytes, not 24
inline constexpr unsigned rev_shift = 8;
inline constexpr std::size_t narrow_bytes = 22;
// The wide form is the longest inline entry.
inline constexpr std::size_t wide_bytes = flat_table::inline_bytes;

struct blob {
  std::uint32_t klen;
  std::uint32_t vlen;
  unsigned char* data() noexcept { return reinterpret_cast<unsigned char*>(this + 1); }
  bytes key() noexcept { return {reinterpret_cast<const char*>(data()), klen}; }
  bytes value() noexcept { return {reinterpret_cast<const char*>(data()) + klen, vlen}; }
  static std::size_t size_for(bytes k, bytes v) noexcept {
    return sizeof(blob) + k.size() + v.size();
  }
};

// All concurrently accessed words go through these. Acquire/release costs
// nothing extra on x86; it is what makes a blob's contents visible to a reader
// that loaded its pointer.
inline std::uint64_t load_word(const std::uint64_t* p) noexcept {
  return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}
inline void store_word(std::uint64_t* p, std::uint64_t v) noexcept {
  __atomic_store_n(p, v, __ATOMIC_RELEASE);
}

inline std::uint8_t tag_of(std::uint64_t hash) noexcept {
  return tag_full | hash_tag7(hash);
}

// A bit per slot of a group, from its 16 tag bytes held in two words.
struct group_tags {
  std::uint64_t lo, hi;

  std::uint32_t match(std::uint8_t b) const noexcept {
#if defined(__SSE2__)
    const __m128i g = _mm_set_epi64x(static_cast<long long>(hi), static_cast<long long>(lo));
    return static_cast<std::uint32_t>(
        _mm_movemask_epi8(_mm_cmpeq_epi8(g, _mm_set1_epi8(static_cast<char>(b)))));
#else
    std::uint32_t m = 0;
    for (unsigned i = 0; i < 16; ++i) {
      const std::uint64_t w = i < 8 ? lo : hi;
      if (static_cast<std::uint8_t>(w >> ((i & 7) * 8)) == b) m |= 1u << i;
    }
    return m;
#endif
  }
  // Full tags have the top bit set; empty and deleted never do.
  std::uint32_t full_slots() const noexcept {
#if defined(__SSE2__)
    const __m128i g = _mm_set_epi64x(static_cast<long long>(hi), static_cast<long long>(lo));
    return static_cast<std::uint32_t>(_mm_movemask_epi8(g));
#else
    std::uint32_t m = 0;
    for (unsigned i = 0; i < 16; ++i) {
      const std::uint64_t w = i < 8 ? lo : hi;
      if ((w >> ((i & 7) * 8)) & 0x80) m |= 1u << i;
    }
    return m;
#endif
  }
  std::uint32_t free_slots() const noexcept {
    return ~full_slots() & 0xFFFF;
  }
};

// Linear probing over groups, from the home group (hash_group): visits each group once in
// `groups` steps. With 16 slots a group and at most 14 entries a group on
// average, probes rarely leave the home group.
struct probe_seq {
  std::size_t groups, pos;
  probe_seq(std::uint64_t hash, std::size_t groups_)
      : groups(groups_), pos(hash_group(hash, groups_)) {}
  void next() noexcept { pos = pos + 1 == groups ? 0 : pos + 1; }
};

}  // namespace flat_probe

struct table_array {
  std::size_t groups;         // at least 1
  std::size_t words;          // per slot: flat_words or pointer_words
  numa::placement placement;  // how numa::allocate placed this array (free with the same)
  bool timed;                 // a deadline word per slot after the slots (flat_table.hpp)
  // Slot 0, fixed at creation: every slot read addresses from it rather
  // than recomputing the tag array's padded size each time.
  std::uint64_t* slots;

  // All tags first (16 bytes a group), then all slots: a lookup's first
  // access lands in the tag array, which is 1/25 of the table and mostly
  // stays in cache. (Each group's tags beside its own slots measured slower
  // at 1M keys: the tag read then missed too.)
  std::uint64_t* tag_words() noexcept {
    return reinterpret_cast<std::uint64_t*>(reinterpret_cast<char*>(this) +
                                            flat_probe::header_bytes);
  }
  const std::uint64_t* tag_words() const noexcept {
    return const_cast<table_array*>(this)->tag_words();
  }
  std::uint64_t* group(std::size_t g) noexcept { return tag_words() + g * 2; }
  const std::uint64_t* group(std::size_t g) const noexcept {
    return const_cast<table_array*>(this)->group(g);
  }
  // The slots start on a cache line (the tag array is padded to whole lines),
  // so each group's 512 bytes of slots are exactly eight lines.
  static std::size_t tag_bytes(std::size_t groups) noexcept { return (groups * 16 + 63) / 64 * 64; }
  std::uint64_t* slot(std::size_t i) noexcept { return slots + i * words; }
  const std::uint64_t* slot(std::size_t i) const noexcept { return slots + i * words; }
  // The same for a caller that knows the slot format (Words == words), so
  // the address is a shift rather than a multiply by a loaded word count.
  template <std::size_t Words>
  const std::uint64_t* slot_of(std::size_t i) const noexcept {
    return slots + i * Words;
  }
  flat_probe::group_tags tags(std::size_t g) const noexcept {
    const std::uint64_t* w = group(g);
    return {flat_probe::load_word(w), flat_probe::load_word(w + 1)};
  }
  void set_tag(std::size_t i, std::uint8_t tag) noexcept {
    std::uint64_t* w = tag_words() + i / 8;
    const unsigned shift = (i % 8) * 8;
    const std::uint64_t old = flat_probe::load_word(w);
    flat_probe::store_word(w,
                           (old & ~(std::uint64_t{0xFF} << shift)) | (std::uint64_t{tag} << shift));
  }
  std::size_t capacity() const noexcept { return groups * flat_table::group_size; }
  // Slot i's deadline (timed arrays only): word i after the last slot.
  std::uint64_t* deadline(std::size_t i) noexcept { return slot(capacity()) + i; }
  const std::uint64_t* deadline(std::size_t i) const noexcept {
    return const_cast<table_array*>(this)->deadline(i);
  }

  static std::size_t bytes_for(std::size_t groups, std::size_t words, bool timed) noexcept {
    return flat_probe::header_bytes + tag_bytes(groups) +
           groups * flat_table::group_size * (words + (timed ? 1 : 0)) * 8;
  }
  // What an array of `groups` takes from the system under policy `p`, as
  // charged to the budget (page-rounded when numa::allocate maps it).
  static std::size_t footprint(std::size_t groups, std::size_t words, bool timed,
                               const numa::policy& p) noexcept;
  std::size_t charged() const noexcept {
    return placement.mapped ? placement.mapped : bytes_for(groups, words, timed);
  }
  // Zeroed, so every slot word a reader may load is defined and every tag
  // is empty; placed by the calling thread (the one that creates or grows
  // the table). Throws std::bad_alloc.
  static table_array* create(std::size_t groups, std::size_t words, bool timed,
                             const numa::policy& p);
  static void destroy(void* p) noexcept;
  // For arrays whose blobs did not move to a successor (clear, destruction).
  static void destroy_with_blobs(void* p) noexcept;
};

static_assert(sizeof(table_array) <= flat_probe::header_bytes,
              "the array header must fit before the tags");

namespace flat_probe {

// a[0..n) == b[0..n) for the n <= 24 bytes of an inline key, without a call
// into the C library's memcmp (a call that perf showed in every short get).
// Overlapping fixed-size loads cover every length; none reads past n.
inline bool equal_short(const unsigned char* a, const unsigned char* b, std::size_t n) noexcept {
  // An 8-byte key (a number's encoding) is one word; below, its two
  // overlapping words would be the same word compared twice.
  if (n == 8) return load64(a) == load64(b);
  if (n >= 8) {
    if (load64(a) != load64(b) || load64(a + n - 8) != load64(b + n - 8)) return false;
    return n <= 16 || load64(a + 8) == load64(b + 8);
  }
  if (n >= 4) return load32(a) == load32(b) && load32(a + n - 4) == load32(b + n - 4);
  for (std::size_t i = 0; i < n; ++i)
    if (a[i] != b[i]) return false;
  return true;
}

// A consistent copy of one slot's words. Both slot formats mark a blob the
// same way (byte 0 is 0x80, word 1 the blob), so destroy_with_blobs frees
// either.
template <std::size_t Words>
struct slot_copy {
  static constexpr std::size_t words = Words;
  std::uint64_t w[Words];

  // Unrolled by hand: GCC 12 kept the copy as a loop, with its counter and
  // branch on every candidate a lookup examines (docs/benchmarks.md, "The
  // flat table's read path").
  void load(const table_array* t, std::size_t i) noexcept {
    load_words(t->template slot_of<Words>(i), std::make_index_sequence<Words>{});
  }
  template <std::size_t... K>
  void load_words(const std::uint64_t* s, std::index_sequence<K...>) noexcept {
    ((w[K] = load_word(s + K)), ...);
  }
  const unsigned char* raw() const noexcept { return reinterpret_cast<const unsigned char*>(w); }
  bool is_blob() const noexcept { return raw()[0] == blob_marker; }
  blob* out_of_line() const noexcept { return reinterpret_cast<blob*>(w[1]); }
};

// A flat_table slot: key and value inline (narrow or wide), or both in a
// blob with the hash in word 2.
struct slot_view : slot_copy<flat_words> {
  bool is_narrow() const noexcept { return raw()[0] < blob_marker; }
  bool is_wide() const noexcept { return raw()[0] >= wide_marker; }
  std::size_t wide_key_size() const noexcept { return raw()[0] & 0x1F; }
  std::size_t wide_size() const noexcept { return raw()[0] & wide_short ? 23 : wide_bytes; }
  std::uint64_t revision() const noexcept { return w[rev_word] >> rev_shift; }
  // Sets the revision; keeps word 3's low byte (a wide entry's last byte).
  void stamp(std::uint64_t revision) noexcept {
    w[rev_word] = (revision << rev_shift) | (w[rev_word] & 0xFF);
  }
  bytes key() const noexcept {
    if (is_narrow()) return {reinterpret_cast<const char*>(raw()) + 2, raw()[0]};
    if (is_blob()) return out_of_line()->key();
    return {reinterpret_cast<const char*>(raw()) + 1, wide_key_size()};
  }
  bytes value() const noexcept {
    if (is_narrow()) return {reinterpret_cast<const char*>(raw()) + 2 + raw()[0], raw()[1]};
    if (is_blob()) return out_of_line()->value();
    const std::size_t k = wide_key_size();
    return {reinterpret_cast<const char*>(raw()) + 1 + k, wide_size() - k};
  }
  std::uint64_t hash() const noexcept { return is_blob() ? w[2] : hash_bytes(key()); }
  // May the key be `key`? Decides without following the blob pointer when it
  // can. A narrow key's length (at most 22) is never a blob's or a wide
  // entry's byte 0, so the narrow test comes first and alone; a longer key
  // (128 would be the blob marker) is compared with a length no byte has.
  bool may_hold(std::uint64_t hash, bytes key) const noexcept {
    const auto* k = reinterpret_cast<const unsigned char*>(key.data());
    const std::size_t narrow = key.size() <= narrow_bytes ? key.size() : 0x100;
    if (raw()[0] == narrow) return equal_short(raw() + 2, k, key.size());
    if (raw()[0] == blob_marker) return w[2] == hash;
    return is_wide() && wide_key_size() == key.size() && equal_short(raw() + 1, k, key.size());
  }
  bool holds(std::uint64_t hash, bytes key) const noexcept {
    if (!may_hold(hash, key)) return false;
    return !is_blob() || out_of_line()->key() == key;
  }
};

// The policy handle of a table that evicts (flat_table.hpp, "Eviction"): the
// upper half of word 2 of an inline slot (whose bytes then end at 20), of
// word 0 of a blob slot (above the marker byte).
inline eviction::handle handle_of(const slot_view& s) noexcept {
  return static_cast<eviction::handle>(s.w[s.is_blob() ? 0 : 2] >> 32);
}

// The one probe loop. `visit(slot_index)` is called for each slot whose tag
// matches; it returns 1 (found), 0 (keep probing) or -1 (abort). Returns the
// slot index found, npos_probe when an empty slot ends the probe, or
// abort_probe.
inline constexpr std::size_t npos_probe = ~std::size_t{0};
inline constexpr std::size_t abort_probe = ~std::size_t{0} - 1;

template <class Visit>
[[gnu::always_inline]] inline std::size_t probe(const table_array* t, std::uint64_t hash,
                                                Visit&& visit) {
  const std::uint8_t tag = tag_of(hash);
  probe_seq seq(hash, t->groups);
  for (std::size_t n = 0; n < t->groups; ++n, seq.next()) {
    const group_tags g = t->tags(seq.pos);
    for (std::uint32_t m = g.match(tag); m; m &= m - 1) {
      const std::size_t i = seq.pos * flat_table::group_size + __builtin_ctz(m);
      const int r = visit(i);
      if (r > 0) return i;
      if (r < 0) return abort_probe;
    }
    if (g.match(tag_empty)) return npos_probe;
  }
  return npos_probe;
}

// A lookup reads the key's tag group, then the slot a tag points to: two
// cache misses one after the other once the table is past the caches. The
// slots of the home group (16 x 32 bytes: exactly eight cache lines, six for
// a pointer table's 24-byte slots, since the
// slots start on a line) are fetched at the same time as the tags, so the
// second miss overlaps the first (find() prefetches too; the figures are in
// docs/benchmarks.md, "Measurements behind code choices"). Tables that fit in L1 (fewer than 64
// groups, ~25 KB) skip it: there it only costs instructions.
inline constexpr std::size_t prefetch_min_groups = 64;

template <std::size_t... Line>
inline void prefetch_lines(const char* g, std::index_sequence<Line...>) noexcept {
  (prefetch(g + Line * 64), ...);
}

// `Words`: the slot format's word count, known where the lookup is, so the
// prefetches are straight-line code; a loop over the array's run-time word
// count cost more than the prefetches themselves (docs/benchmarks.md, "The
// flat table's read path").
template <std::size_t Words>
[[gnu::always_inline]] inline void prefetch_home_slots(const table_array* t,
                                                       std::uint64_t hash) noexcept {
  if (t->groups < prefetch_min_groups) return;
  const char* g = reinterpret_cast<const char*>(
      t->slot_of<Words>(hash_group(hash, t->groups) * flat_table::group_size));
  // A group's slots are 16 x Words x 8 bytes: 2 x Words whole lines.
  prefetch_lines(g, std::make_index_sequence<2 * Words>{});
}

// A found value into the caller's string. A caller that reuses one buffer
// for values of one width (a thread's buffer for numbers: the usual get)
// has it overwritten in place, and a short value (at most inline_bytes, as
// every inline one is) with overlapping word copies, as equal_short
// compares: neither the library's string code nor memcpy is called, and
// none of the copies reads or writes past n. Anything else is an assign.
[[gnu::noinline]] inline void assign_value(std::string& out, bytes v) {
  out.assign(v.data(), v.size());
}
// dst[0..n) = src[0..n) for n <= 24 with overlapping word copies: no call
// into the C library's memcpy for the short lengths of an inline entry
// (the copy-out below; a writer packing an inline slot, flat_table.cpp).
[[gnu::always_inline]] inline void copy_short(unsigned char* dst, const unsigned char* src,
                                              std::size_t n) noexcept {
  if (n >= 8) {
    const std::uint64_t a = load64(src), b = load64(src + n - 8), c = n > 16 ? load64(src + 8) : 0;
    std::memcpy(dst, &a, 8);
    std::memcpy(dst + n - 8, &b, 8);
    if (n > 16) std::memcpy(dst + 8, &c, 8);
  } else if (n >= 4) {
    const std::uint32_t a = static_cast<std::uint32_t>(load32(src)),
                        b = static_cast<std::uint32_t>(load32(src + n - 4));
    std::memcpy(dst, &a, 4);
    std::memcpy(dst + n - 4, &b, 4);
  } else {
    for (std::size_t i = 0; i < n; ++i) dst[i] = src[i];
  }
}
[[gnu::always_inline]] inline void copy_value(std::string& out, bytes v) {
  const std::size_t n = v.size();
  if (n != out.size() || n > flat_table::inline_bytes) return assign_value(out, v);
  copy_short(reinterpret_cast<unsigned char*>(out.data()),
             reinterpret_cast<const unsigned char*>(v.data()), n);
}

// The writers' slot helpers (flat_table.cpp, and the inline put below).

// The inline slot words of an entry that fits (key.size() + value.size() <=
// the inline limit): narrow up to 22 bytes (byte 0 the key length, byte 1 the
// value length, then the bytes, the rest zero), wide above (byte 0 the form,
// then the bytes). The revision is the caller's (stamp).
inline slot_view pack_inline(bytes key, bytes value) noexcept {
  slot_view s{};
  auto* b = reinterpret_cast<unsigned char*>(s.w);
  const std::size_t n = key.size() + value.size();
  if (__builtin_expect(n > narrow_bytes, 0)) {
    b[0] = static_cast<unsigned char>(wide_marker | (n == 23 ? wide_short : 0) | key.size());
    b += 1;
  } else {
    b[0] = static_cast<unsigned char>(key.size());
    b[1] = static_cast<unsigned char>(value.size());
    b += 2;
  }
  copy_short(b, reinterpret_cast<const unsigned char*>(key.data()), key.size());
  copy_short(b + key.size(), reinterpret_cast<const unsigned char*>(value.data()), value.size());
  return s;
}

// The setter of handle_of.
inline void set_handle(slot_view& s, eviction::handle h) noexcept {
  std::uint64_t& w = s.w[s.is_blob() ? 0 : 2];
  w = (w & 0xFFFFFFFFu) | (std::uint64_t{h} << 32);
}

// Unrolled (as slot_copy::load): GCC kept the loop, with its counter and
// branch, in every write.
template <std::size_t Words, std::size_t... K>
inline void store_words(std::uint64_t* d, const slot_copy<Words>& s,
                        std::index_sequence<K...>) noexcept {
  (store_word(d + K, s.w[K]), ...);
}
template <std::size_t Words>
inline void store_slot(table_array* t, std::size_t i, const slot_copy<Words>& s) noexcept {
  store_words(t->slot(i), s, std::make_index_sequence<Words>{});
}

// Whether a deadline word (0: none) is at or before `now`: the one test of
// expiry every path uses.
constexpr bool deadline_passed(std::uint64_t dl, std::uint64_t now) noexcept {
  return dl != 0 && dl <= now;
}

}  // namespace flat_probe

template <bool Timed>
std::optional<bool> flat_table::try_get(std::uint64_t hash, bytes key, std::string* out,
                                        std::uint64_t* revision, std::uint64_t unless,
                                        eviction::handle* handle, std::uint64_t now,
                                        std::uint64_t* deadline) const {
  using namespace flat_probe;
  const std::uint64_t v = version_.load(std::memory_order_acquire);
  if (v & 1) return std::nullopt;
  const table_array* t = array_.load(std::memory_order_acquire);
  if (!t) return false;
  auto still_valid = [&]() noexcept {
    // Orders the loads above before the version re-check (seqlock reader).
    std::atomic_thread_fence(std::memory_order_acquire);
    return version_.load(std::memory_order_relaxed) == v;
  };
  // The probe only finds the key's slot and keeps its validated copy; the
  // outputs are filled once, after it. Written inside the probe's visitor,
  // they held the pointers to them in registers (or spilled them) across
  // the whole probe loop.
  slot_view s;
  std::uint64_t dl = 0;
  bool ok = true;
  prefetch_home_slots<slot_view::words>(t, hash);
  const std::size_t i = probe(t, hash, [&](std::size_t idx) {
    s.load(t, idx);
    // Timed tables: the deadline is read with the slot, before validation.
    if constexpr (Timed) dl = load_word(t->deadline(idx));
    // Validate before interpreting: a torn slot could hold any bytes, and the
    // blob pointer is only safe to follow if it was current at some instant.
    if (!still_valid()) return ok = false, -1;
    return s.holds(hash, key) ? 1 : 0;
  });
  if (!ok) return std::nullopt;
  if (i == npos_probe) {
    if (!still_valid()) return std::nullopt;
    return false;
  }
  // `s` was validated, so its words (and the immutable blob they name) are
  // the entry at one instant: no further check is needed to read them.
  if constexpr (Timed) {
    if (deadline_passed(dl, now)) return false;
    if (deadline) *deadline = dl;
  }
  // A plain get (no revision, handle or `unless`) tests one word for all
  // three, instead of three arguments that live on the stack by now.
  if (__builtin_expect((reinterpret_cast<std::uintptr_t>(revision) |
                        reinterpret_cast<std::uintptr_t>(handle) | unless) == 0,
                       1)) {
    if (out) copy_value(*out, s.value());
    return true;
  }
  if (revision) *revision = s.revision();
  if (handle) *handle = handle_of(s);
  if (out && (unless == 0 || s.revision() != unless)) copy_value(*out, s.value());
  return true;
}

// The write path's common case compiled into the owner's write, as try_get
// is into its get: a writer holding the lock probes for the key and, when it
// finds an inline entry that an inline one replaces (a number over a
// number), overwrites it here. Everything else (an absent key, a blob on
// either side, a timed table, a caller that wants the old value) goes to
// put_probed with what the probe found, so no key is probed twice.
status flat_table::put_inline(std::uint64_t hash, bytes key, bytes value, std::string* old,
                              memory_budget& budget, revision_clock& clock) {
  using namespace flat_probe;
  table_array* t = array_.load(std::memory_order_relaxed);
  // Timed: find_live reaps an expired entry first; `old`: a copy that only
  // an overwrite that happens hands over. Both in put_probed.
  if (!t || timed_ || old) return put_probed(hash, key, value, old, budget, clock, unprobed);
  prefetch_home_slots<slot_view::words>(t, hash);
  slot_view s;
  const std::size_t i = probe(t, hash, [&](std::size_t idx) {
    s.load(t, idx);
    return s.holds(hash, key) ? 1 : 0;
  });
  if (i == npos_probe) return put_probed(hash, key, value, old, budget, clock, npos);
  if (!inline_over(s, key, value)) return put_probed(hash, key, value, old, budget, clock, i);
  overwrite_inline(t, i, s, hash, key, value, clock);
  return status::ok;
}

bool flat_table::inline_over(const flat_probe::slot_view& old, bytes key,
                             bytes value) const noexcept {
  return !old.is_blob() && key.size() + value.size() <= inline_limit_;
}

void flat_table::overwrite_inline(table_array* t, std::size_t index,
                                  const flat_probe::slot_view& old, std::uint64_t hash, bytes key,
                                  bytes value, revision_clock& clock) {
  using namespace flat_probe;
  // A value of the old one's width (the usual overwrite) is written over it
  // in the old words, where old.value() points: the key, the lengths (and
  // so the form), the zero tail and the handle stay.
  slot_view s = old;
  const bytes was = s.value();
  if (was.size() == value.size()) {
    copy_short(reinterpret_cast<unsigned char*>(const_cast<char*>(was.data())),
               reinterpret_cast<const unsigned char*>(value.data()), value.size());
  } else {
    s = pack_inline(key, value);
    if (evict_) set_handle(s, handle_of(old));
  }
  if (evict_) evict_->on_update(handle_of(old), hash);
  begin_write();
  s.stamp(clock.next());  // inside the section: the write's linearization point
  store_slot(t, index, s);
  if (timed_ && !keep_write_) store_word(t->deadline(index), deadline_);
  end_write();
}

}  // namespace threadmap::detail
