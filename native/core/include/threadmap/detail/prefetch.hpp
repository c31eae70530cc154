// threadmap/detail/prefetch.hpp — a cache prefetch the optimiser keeps.
//
// GCC 12 silently deletes __builtin_prefetch in some inlined code: the six
// prefetches of flat_table's prefetch_home_slots(), inlined into try_get, were
// all gone from the -O3 object (a small test loses prefetches at -O2 too),
// while the same statements written in try_get itself survived. On x86-64 the
// instruction is emitted through inline asm, which the optimiser must keep; a
// prefetch never faults, whatever the address. Elsewhere the builtin.
#pragma once

namespace threadmap {

/// Asks for the cache line holding `p` (for reading or writing: on x86-64
/// both are prefetcht0, as GCC emits for either without -mprfchw).
inline void prefetch(const void* p) noexcept {
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
  // The address is an address operand ("p", printed with %a), not a memory
  // operand: `*p` as an operand would let the compiler assume p points to
  // an object (and drop a later null check). Unlike a register operand, it
  // lets GCC fold a constant offset into the instruction, so a run of
  // prefetches from one base is one instruction each.
  asm volatile("prefetcht0 %a0" : : "p"(p));
#elif defined(__x86_64__) && defined(__clang__)
  asm volatile("prefetcht0 (%0)" : : "r"(p));
#else
  __builtin_prefetch(p);
#endif
}

}  // namespace threadmap
