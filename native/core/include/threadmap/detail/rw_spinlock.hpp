// threadmap/detail/rw_spinlock.hpp — a reader-writer spinlock with backoff, for the
// `rwlock` strategy.
//
// One 32-bit word: bit 31 = a writer holds it, bit 30 = a writer is waiting,
// bits 0..29 = readers holding it. A waiting writer stops new readers from
// entering, so a stream of readers cannot starve writers. Waiting spins with
// exponentially growing pause runs and then yields the CPU, so a holder that
// was descheduled (or is rebuilding a large table) does not have its core
// stolen by spinners. Unlike std::shared_mutex it never sleeps in the kernel.
//
// Kept over std::shared_mutex by measurement: the rwlock strategy with each
// lock, ahead in cache-resident mixes and even where cache misses dominate
// (docs/benchmarks.md, "Measurements behind code choices").
//
// Readers do write this shared word (that is the cost this strategy accepts
// and the one `striped` avoids); the owner keeps it on its own cache line.
#pragma once

#include <atomic>
#include <cstdint>
#include <thread>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace threadmap {

class backoff {
 public:
  void pause() noexcept {
    if (spins_ < 64) {
      for (unsigned i = 0; i < spins_; ++i) relax();
      spins_ *= 2;
    } else {
      std::this_thread::yield();
    }
  }
  static void relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
    _mm_pause();
#endif
  }

 private:
  unsigned spins_ = 1;
};

class rw_spinlock {
 public:
  void lock() noexcept {
    backoff b;
    for (;;) {
      std::uint32_t cur = state_.load(std::memory_order_relaxed);
      if ((cur & ~waiting) == 0 &&
          state_.compare_exchange_weak(cur, writer, std::memory_order_acquire)) {
        return;  // clears `waiting`; other waiting writers set it again
      }
      if (!(cur & waiting)) state_.fetch_or(waiting, std::memory_order_relaxed);
      b.pause();
    }
  }
  bool try_lock() noexcept {
    std::uint32_t cur = state_.load(std::memory_order_relaxed);
    return (cur & ~waiting) == 0 &&
           state_.compare_exchange_strong(cur, writer, std::memory_order_acquire);
  }
  void unlock() noexcept { state_.fetch_and(~writer, std::memory_order_release); }

  void lock_shared() noexcept {
    backoff b;
    for (;;) {
      std::uint32_t cur = state_.load(std::memory_order_relaxed);
      if (!(cur & (writer | waiting)) &&
          state_.compare_exchange_weak(cur, cur + 1, std::memory_order_acquire)) {
        return;
      }
      b.pause();
    }
  }
  void unlock_shared() noexcept { state_.fetch_sub(1, std::memory_order_release); }

 private:
  static constexpr std::uint32_t writer = 1u << 31;
  static constexpr std::uint32_t waiting = 1u << 30;
  std::atomic<std::uint32_t> state_{0};
};

}  // namespace threadmap
