// threadmap/detail/padding.hpp — cache-line size and padding helpers.
//
// Two threads writing different variables on one 64-byte line make the line
// bounce between their caches (false sharing); every hot per-stripe or
// per-thread field in threadmap is aligned to its own line with these, and the
// place that uses them says why.
#pragma once

#include <cstddef>
#include <new>

namespace threadmap {

// 64 bytes on every x86-64 and most ARM64 parts. (std::hardware_destructive_
// interference_size varies with compiler flags, which would make the layout of
// a shared object depend on them, so it is not used.)
inline constexpr std::size_t cache_line = 64;

/// A value alone on its cache line(s).
template <class T>
struct alignas(cache_line) padded {
  T value{};
  padded() = default;
  template <class... A>
  explicit padded(A&&... a) : value(static_cast<A&&>(a)...) {}
  T& operator*() noexcept { return value; }
  const T& operator*() const noexcept { return value; }
  T* operator->() noexcept { return &value; }
  const T* operator->() const noexcept { return &value; }
};

static_assert(sizeof(padded<char>) == cache_line);

}  // namespace threadmap
