// The process's hash secret (threadmap/detail/hash.hpp): drawn from the OS before
// main, in a static initializer that runs ahead of the module's ordinary ones
// (priority 101), so no other static initializer can hash with a zero key.
// There is no fallback to anything predictable: a process that can neither
// ask the system (getrandom(2), getentropy(2), rand_s) nor read /dev/urandom
// stops here with a message, since continuing would hand every map a hash
// anyone can flood.

// rand_s: RtlGenRandom behind the C runtime, no extra import. Defined before
// every include: stdlib.h declares rand_s only if it sees this first, and
// threadmap/detail/hash.hpp reaches it.
#if defined(_WIN32)
#define _CRT_RAND_S
#endif

#include "threadmap/detail/hash.hpp"

#if !defined(_WIN32)
#include <fcntl.h>
#include <unistd.h>
#endif

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#if defined(__linux__)
#include <sys/syscall.h>
#elif defined(__APPLE__)
#include <sys/random.h>
#endif

namespace threadmap {

namespace detail {

// Zero until seeded; constant-initialized, so it exists before any code runs.
constinit hash_secret process_hash_secret{};

namespace {

const char* seed_source = "unseeded";

// The platform's own call for randomness: getrandom(2) through syscall(2) on
// Linux (so no glibc symbol newer than the floor is needed; ENOSYS, a kernel
// before 3.17, sends the caller to the file), getentropy(2) on macOS (at most
// 256 bytes a call), rand_s on Windows (which has no file to fall back to).
constexpr const char* system_source =
#if defined(__APPLE__)
    "getentropy";
#elif defined(_WIN32)
    "rand_s";
#else
    "getrandom";
#endif

int from_system(unsigned char* out, std::size_t n) noexcept {
#if defined(__linux__) && defined(SYS_getrandom)
  while (n > 0) {
    const long r = syscall(SYS_getrandom, out, n, 0);
    if (r < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    out += r;
    n -= static_cast<std::size_t>(r);
  }
  return 0;
#elif defined(__APPLE__)
  while (n > 0) {
    const std::size_t chunk = n < 256 ? n : 256;
    if (getentropy(out, chunk) != 0) return errno;
    out += chunk;
    n -= chunk;
  }
  return 0;
#elif defined(_WIN32)
  while (n > 0) {
    unsigned int word = 0;
    const int err = rand_s(&word);
    if (err != 0) return err;
    const std::size_t chunk = n < sizeof word ? n : sizeof word;
    std::memcpy(out, &word, chunk);
    out += chunk;
    n -= chunk;
  }
  return 0;
#else
  (void)out;
  (void)n;
  return ENOSYS;
#endif
}

#if defined(_WIN32)
int from_file(const char*, unsigned char*, std::size_t) noexcept {
  return ENOENT;
}
#else
int from_file(const char* path, unsigned char* out, std::size_t n) noexcept {
  const int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno;
  int err = 0;
  while (n > 0) {
    const ssize_t r = ::read(fd, out, n);
    if (r < 0) {
      if (errno == EINTR) continue;
      err = errno;
      break;
    }
    if (r == 0) {  // a file that ends is not a source of randomness
      err = EIO;
      break;
    }
    out += r;
    n -= static_cast<std::size_t>(r);
  }
  ::close(fd);
  return err;
}
#endif

}  // namespace

int os_random(void* out, std::size_t n, bool use_getrandom, const char* fallback,
              const char** source) noexcept {
  auto* p = static_cast<unsigned char*>(out);
  if (use_getrandom) {
    const int err = from_system(p, n);
    if (err == 0) {
      if (source) *source = system_source;
      return 0;
    }
  }
  const int err = from_file(fallback, p, n);
  if (err == 0 && source) *source = fallback;
  return err;
}

namespace {

__attribute__((constructor(101))) void seed_process_hash() {
  hash_secret fresh{};
  const char* source = nullptr;
  const int err = os_random(fresh.s, sizeof fresh.s, true, "/dev/urandom", &source);
  if (err != 0) {
    std::fprintf(
        stderr,
        "threadmap: cannot seed the hash: neither the system's randomness nor /dev/urandom "
        "answered (%s); refusing to run with a hash anyone could flood\n",
        std::strerror(err));
    std::abort();
  }
  fresh.s[3] |= 1;           // n * s3 is injective: lengths never alias
  fresh.s[5] |= 1ull << 63;  // n ^ s5 is never zero (n < 2^63)
  process_hash_secret = fresh;
  seed_source = source;
}

}  // namespace

}  // namespace detail

const char* hash_seed_source() noexcept {
  return detail::seed_source;
}

}  // namespace threadmap
