// threadmap/detail/adaptive_mutex.hpp — the stripe lock: a mutex that spins briefly
// before it sleeps.
//
// A stripe's critical section is one table operation (a few hundred ns at
// most, a cache miss or two), far shorter than the futex sleep and wake-up a
// plain std::mutex pays on contention (a context switch each way). glibc's
// adaptive mutex spins a bounded number of times (trying the lock between
// pauses) before it sleeps, so a waiter usually gets the lock while still
// on its CPU, and a holder descheduled for long still costs waiters no CPU.
// ThreadSanitizer knows pthread mutexes. Elsewhere than glibc: std::mutex.
#pragma once

#include <mutex>

#if defined(__linux__)
#include <pthread.h>
#endif
// PTHREAD_MUTEX_ADAPTIVE_NP is a GNU extension (g++ defines _GNU_SOURCE).
#if defined(__GLIBC__) && defined(__USE_GNU)
#define THREADMAP_ADAPTIVE_MUTEX 1
#endif

namespace threadmap {

#if defined(THREADMAP_ADAPTIVE_MUTEX)
class adaptive_mutex {
 public:
  adaptive_mutex() noexcept {
    pthread_mutexattr_t a;
    pthread_mutexattr_init(&a);
    pthread_mutexattr_settype(&a, PTHREAD_MUTEX_ADAPTIVE_NP);
    pthread_mutex_init(&m_, &a);
    pthread_mutexattr_destroy(&a);
  }
  ~adaptive_mutex() { pthread_mutex_destroy(&m_); }
  adaptive_mutex(const adaptive_mutex&) = delete;
  adaptive_mutex& operator=(const adaptive_mutex&) = delete;

  void lock() noexcept { pthread_mutex_lock(&m_); }
  bool try_lock() noexcept { return pthread_mutex_trylock(&m_) == 0; }
  void unlock() noexcept { pthread_mutex_unlock(&m_); }

 private:
  pthread_mutex_t m_;
};
#else
using adaptive_mutex = std::mutex;
#endif

}  // namespace threadmap
