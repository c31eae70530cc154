// threadmap/detail/adaptive_mutex.hpp — the stripe lock: one word that spins
// briefly before it sleeps.
//
// A stripe's critical section is one table operation (a few hundred ns at
// most, a cache miss or two), far shorter than the futex sleep and wake-up a
// plain std::mutex pays on contention (a context switch each way). So a
// waiter first spins a bounded number of times (testing the word between
// pauses) and usually gets the lock while still on its CPU; only then does
// it sleep in the kernel, so a holder descheduled for long (or growing a
// large table) costs its waiters no CPU and burns no one's quantum.
//
// Protocol (Drepper's "Futexes Are Tricky", mutex 3, with a spin phase in
// front). One 32-bit word: 0 free, 1 held, 2 held and a waiter may be asleep.
// lock: CAS 0 -> 1 (acquire); failing that, spin, retrying 0 -> 1 whenever
// the word reads 0; after the spin, exchange in 2 and sleep on the word
// while the exchange returned non-zero, exchanging 2 in again after every
// wake-up (a woken thread cannot know whether others still sleep, so it
// keeps the word at 2 and at worst one unlock wakes nobody). unlock: exchange
// in 0 (release) and, only when it held 2, wake one sleeper. A sleeper that
// has exchanged in 2 cannot miss that wake: the kernel's FUTEX_WAIT compares
// the word with 2 under the futex bucket lock and returns at once if an
// unlock has changed it, so no wake falls between its check and its sleep.
//
// Why not glibc's PTHREAD_MUTEX_ADAPTIVE_NP, which this replaced: the same
// spin-then-futex scheme, but every lock and unlock is a call into libc that
// checks the mutex's kind, records the owner's thread id and keeps a user
// count, work that dominated a stripe write's locking (docs/benchmarks.md,
// issue 16). Here the uncontended lock is one CAS and the unlock one
// exchange, both inline. Instruction count is what changes; both take one
// locked instruction per lock and per unlock.
//
// The word is the only state: 4 bytes where pthread_mutex_t took 40.
// ThreadSanitizer sees the acquire CAS and release exchange as the
// happens-before edge (the futex calls carry none and need none). Where there
// is no futex (not Linux), std::mutex.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>

#if defined(__linux__)
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>
#define THREADMAP_FUTEX_MUTEX 1
#endif

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace threadmap {

#if defined(THREADMAP_FUTEX_MUTEX)
class adaptive_mutex {
 public:
  adaptive_mutex() noexcept = default;
  adaptive_mutex(const adaptive_mutex&) = delete;
  adaptive_mutex& operator=(const adaptive_mutex&) = delete;

  void lock() noexcept {
    std::uint32_t c = unlocked;
    if (__builtin_expect(word_.compare_exchange_strong(c, locked, std::memory_order_acquire,
                                                       std::memory_order_relaxed),
                         1))
      return;
    lock_contended();
  }
  bool try_lock() noexcept {
    std::uint32_t c = unlocked;
    return word_.load(std::memory_order_relaxed) == unlocked &&
           word_.compare_exchange_strong(c, locked, std::memory_order_acquire,
                                         std::memory_order_relaxed);
  }
  void unlock() noexcept {
    if (__builtin_expect(word_.exchange(unlocked, std::memory_order_release) == contended, 0))
      wake();
  }

 private:
  static constexpr std::uint32_t unlocked = 0, locked = 1, contended = 2;
  // Tests of the word before sleeping. A pause is tens of cycles (up to
  // about 140 on recent Intel cores), so the spin lasts a few microseconds at
  // most: longer than a stripe operation, far shorter than a context switch
  // and a wake-up.
  static constexpr unsigned spins = 128;

  [[gnu::noinline]] void lock_contended() noexcept {
    for (unsigned i = 0; i < spins; ++i) {
#if defined(__x86_64__) || defined(__i386__)
      _mm_pause();
#endif
      std::uint32_t c = word_.load(std::memory_order_relaxed);
      if (c == unlocked && word_.compare_exchange_weak(c, locked, std::memory_order_acquire,
                                                       std::memory_order_relaxed))
        return;
    }
    while (word_.exchange(contended, std::memory_order_acquire) != unlocked) {
      // Returns at once (EAGAIN) when the word is no longer 2, on a signal
      // (EINTR) and spuriously; every case loops back to the exchange.
      syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word_), FUTEX_WAIT_PRIVATE, contended,
              nullptr, nullptr, 0);
    }
  }
  [[gnu::noinline]] void wake() noexcept {
    syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word_), FUTEX_WAKE_PRIVATE, 1, nullptr,
            nullptr, 0);
  }

  std::atomic<std::uint32_t> word_{unlocked};
  static_assert(sizeof(std::atomic<std::uint32_t>) == sizeof(std::uint32_t) &&
                std::atomic<std::uint32_t>::is_always_lock_free);
};
#else
using adaptive_mutex = std::mutex;
#endif

}  // namespace threadmap
