// The process's hash secret (threadmap/hash.hpp): drawn from the OS before
// main, in a static initializer that runs ahead of the module's ordinary ones
// (priority 101), so no other static initializer can hash with a zero key.
// There is no fallback to anything predictable: a process that can neither
// call getrandom(2) nor read /dev/urandom stops here with a message, since
// continuing would hand every map a hash anyone can flood.
#include "threadmap/hash.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#if defined(__linux__)
#include <sys/syscall.h>
#endif

namespace threadmap {

namespace detail {

// Zero until seeded; constant-initialized, so it exists before any code runs.
constinit hash_secret process_hash_secret{};

namespace {

const char* seed_source = "unseeded";

// getrandom(2) through syscall(2), so no glibc symbol newer than the floor is
// needed; ENOSYS (kernel before 3.17) sends the caller to the file.
int from_getrandom(unsigned char* out, std::size_t n) noexcept {
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
#else
  (void)out;
  (void)n;
  return ENOSYS;
#endif
}

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

}  // namespace

int os_random(void* out, std::size_t n, bool use_getrandom, const char* fallback,
              const char** source) noexcept {
  auto* p = static_cast<unsigned char*>(out);
  if (use_getrandom) {
    const int err = from_getrandom(p, n);
    if (err == 0) {
      if (source) *source = "getrandom";
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
    std::fprintf(stderr,
                 "threadmap: cannot seed the hash: neither getrandom(2) nor /dev/urandom "
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
