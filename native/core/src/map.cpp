// The interface's own functions (threadmap/map.hpp): names of statuses and
// strategies, the scan record format, the one-by-one get_many and the
// empty range of strategies that keep no order.
#include <cstring>

#include "threadmap/map.hpp"

namespace threadmap {

const char* to_string(status s) noexcept {
  switch (s) {
    case status::ok:
      return "ok";
    case status::inserted:
      return "inserted";
    case status::not_found:
      return "not_found";
    case status::exists:
      return "exists";
    case status::mismatch:
      return "mismatch";
    case status::overflow:
      return "overflow";
    case status::too_large:
      return "too_large";
    case status::memory_limit:
      return "memory_limit";
  }
  return "unknown";
}

const char* to_string(strategy_kind s) noexcept {
  switch (s) {
    case strategy_kind::mutex:
      return "mutex";
    case strategy_kind::striped:
      return "striped";
    case strategy_kind::rwlock:
      return "rwlock";
    case strategy_kind::readmostly:
      return "readmostly";
    case strategy_kind::lockfree:
      return "lockfree";
    case strategy_kind::ordered:
      return "ordered";
  }
  return "unknown";
}

bool parse_strategy(std::string_view name, strategy_kind& out) noexcept {
  for (strategy_kind k : all_strategies)
    if (name == to_string(k)) {
      out = k;
      return true;
    }
  return false;
}

void append_scan_record(std::string& out, bytes key, bytes value) {
  const std::uint32_t lens[2] = {static_cast<std::uint32_t>(key.size()),
                                 static_cast<std::uint32_t>(value.size())};
  out.append(reinterpret_cast<const char*>(lens), sizeof lens);
  out.append(key.data(), key.size());
  out.append(value.data(), value.size());
}

bool scan_reader::next(scan_record& out) noexcept {
  std::uint32_t lens[2];
  if (buf_.size() - pos_ < sizeof lens) return false;
  std::memcpy(lens, buf_.data() + pos_, sizeof lens);
  const std::size_t body = std::size_t{lens[0]} + lens[1];
  if (buf_.size() - pos_ - sizeof lens < body) return false;
  pos_ += sizeof lens;
  out.key = buf_.substr(pos_, lens[0]);
  out.value = buf_.substr(pos_ + lens[0], lens[1]);
  pos_ += body;
  return true;
}

std::size_t concurrent_map::range(const key_range&, std::size_t, std::string&) const {
  return 0;
}

void concurrent_map::get_many(const bytes* keys, std::size_t n, std::string* out,
                              bool* found) const {
  for (std::size_t i = 0; i < n; ++i) found[i] = get(keys[i], out ? &out[i] : nullptr);
}

void concurrent_map::peek_many(const bytes* keys, std::size_t n, std::string* out,
                               bool* found) const {
  for (std::size_t i = 0; i < n; ++i) found[i] = peek(keys[i], out ? &out[i] : nullptr);
}

}  // namespace threadmap
