#include "threadmap/striped.hpp"

#include <bit>
#include <stdexcept>
#include <thread>

#include "threadmap/epoch.hpp"
#include "threadmap/hash.hpp"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace threadmap {
namespace {

// Optimistic attempts before a reader takes the stripe lock.
constexpr int optimistic_attempts = 4;

inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  _mm_pause();
#endif
}

unsigned round_stripes(unsigned n) {
  if (n == 0) n = striped_map::default_stripes();
  if (n > 65536) n = 65536;
  return std::bit_ceil(n);
}

}  // namespace

unsigned striped_map::default_stripes() noexcept {
  unsigned hw = std::thread::hardware_concurrency();
  if (hw == 0) hw = 4;
  unsigned n = std::bit_ceil(hw * 4);
  if (n < 8) n = 8;
  if (n > 1024) n = 1024;
  return n;
}

striped_map::striped_map(const options& opts, unsigned stripes, bool optimistic)
    : opts_(opts),
      count_(round_stripes(stripes)),
      optimistic_(optimistic),
      stripes_(new stripe[count_]),
      budget_(opts.max_memory) {
  if (opts.capacity) {
    // Keys spread evenly over stripes; a little slack absorbs the variance.
    const std::size_t per = opts.capacity / count_ + opts.capacity / count_ / 8 + 16;
    for (unsigned i = 0; i < count_; ++i) {
      if (!stripes_[i].table.reserve(per, *budget_)) {
        throw std::length_error("threadmap: capacity needs more memory than max_memory allows");
      }
    }
  }
}

striped_map::~striped_map() = default;

bool striped_map::get(bytes key, std::string* out) const {
  if (key.size() > max_key_bytes) return false;
  epoch::guard g;
  const std::uint64_t h = hash_bytes(key);
  stripe& s = stripe_for(h);
  if (optimistic_) {
    for (int i = 0; i < optimistic_attempts; ++i) {
      if (const std::optional<bool> r = s.table.try_get(h, key, out)) return *r;
      cpu_relax();
    }
  }
  std::lock_guard lock(s.lock);
  return s.table.get_locked(h, key, out);
}

template <class Op>
status striped_map::write(bytes key, std::size_t value_size, Op&& op) {
  if (key.size() > max_key_bytes || value_size > max_value_bytes) return status::too_large;
  epoch::guard g;
  const std::uint64_t h = hash_bytes(key);
  stripe& s = stripe_for(h);
  std::lock_guard lock(s.lock);
  return op(s.table, h);
}

status striped_map::put(bytes key, bytes value, std::string* old) {
  return write(key, value.size(), [&](detail::flat_table& t, std::uint64_t h) {
    return t.put(h, key, value, old, *budget_);
  });
}

status striped_map::put_if_absent(bytes key, bytes value, std::string* existing) {
  return write(key, value.size(), [&](detail::flat_table& t, std::uint64_t h) {
    return t.put_if_absent(h, key, value, existing, *budget_);
  });
}

status striped_map::compare_and_set(bytes key, const bytes* expected, const bytes* desired,
                                    std::string* current) {
  return write(key, desired ? desired->size() : 0, [&](detail::flat_table& t, std::uint64_t h) {
    return t.compare_and_set(h, key, expected, desired, current, *budget_);
  });
}

status striped_map::erase(bytes key, std::string* old) {
  if (key.size() > max_key_bytes) return status::not_found;
  return write(key, 0, [&](detail::flat_table& t, std::uint64_t h) {
    return t.erase(h, key, old, *budget_);
  });
}

status striped_map::add(bytes key, counter_kind kind, counter delta, bytes prefix,
                        counter* result) {
  return write(key, prefix.size() + 8, [&](detail::flat_table& t, std::uint64_t h) {
    return t.add(h, key, kind, delta, prefix, result, *budget_);
  });
}

std::size_t striped_map::size() const {
  std::size_t n = 0;
  for (unsigned i = 0; i < count_; ++i) n += stripes_[i].table.size();
  return n;
}

void striped_map::clear() {
  epoch::guard g;
  // Lock in index order (the only place that holds more than one stripe lock,
  // so no lock-order cycle), hold every version odd, then empty them all.
  std::unique_ptr<std::unique_lock<std::mutex>[]> locks(new std::unique_lock<std::mutex>[count_]);
  for (unsigned i = 0; i < count_; ++i) locks[i] = std::unique_lock(stripes_[i].lock);
  {
    std::unique_ptr<std::optional<detail::flat_table::write_section>[]> sections(
        new std::optional<detail::flat_table::write_section>[count_]);
    for (unsigned i = 0; i < count_; ++i) sections[i].emplace(stripes_[i].table);
    for (unsigned i = 0; i < count_; ++i) stripes_[i].table.clear(*budget_);
  }
}

std::size_t striped_map::scan(std::size_t unit, std::string& out) const {
  if (unit >= count_) return 0;
  epoch::guard g;
  std::lock_guard lock(stripes_[unit].lock);
  return stripes_[unit].table.scan(out);
}

map_stats striped_map::stats() const {
  epoch::guard g;
  map_stats st;
  st.strategy = optimistic_ ? strategy_kind::striped : strategy_kind::mutex;
  st.stripes = count_;
  for (unsigned i = 0; i < count_; ++i) {
    const detail::flat_table& t = stripes_[i].table;
    st.size += t.size();
    st.capacity += t.capacity();
    st.bytes += t.bytes_used();
    st.resizes += t.resizes();
  }
  st.bytes += sizeof(*this) + sizeof(stripe) * count_;
  return st;
}

}  // namespace threadmap
